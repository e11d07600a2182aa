//! `extract`: writes an archive's files under one directory and nothing anywhere else.
//!
//! Every member is refused, not repaired, when it could land outside the target: absolute
//! paths, `..`, links of any kind, special files, and paths crossing a symlink that is
//! already in the target. Existing files are never overwritten.

use std::fs::{self, OpenOptions};
use std::io;
use std::path::{Component, Path, PathBuf};

use serde::Serialize;
use tar::EntryType;

use crate::reader;
use crate::verify::Problem;

/// What an extraction did.
#[derive(Debug, Default, Serialize)]
pub struct Extraction {
    /// Files written.
    pub files: u64,
    /// Bytes written.
    pub bytes: u64,
    /// Members not written, with the reason.
    pub refused: Vec<Problem>,
}

/// Extracts `archive` into `target`, creating it if needed. An `Err` is a broken archive
/// or an I/O failure on the target; refusals are in the result.
pub fn extract(archive: &Path, target: &Path) -> io::Result<Extraction> {
    fs::create_dir_all(target)?;
    let target = target.canonicalize()?;
    let mut stream = reader::open(archive)?;
    let mut done = Extraction::default();
    for entry in stream.entries()? {
        let mut entry = entry?;
        let (name, _) = reader::member_path(&entry);
        let refuse = |reason: &str| Problem { member: Some(name.clone()), message: reason.to_owned() };
        let kind = entry.header().entry_type();
        if kind != EntryType::Regular && kind != EntryType::Directory {
            done.refused.push(refuse("links and special files are never extracted"));
            continue;
        }
        let Some(relative) = safe_relative(&entry.path_bytes()) else {
            done.refused.push(refuse("path is absolute or leaves the target directory"));
            continue;
        };
        let Some(parent) = prepare_parents(&target, &relative, kind == EntryType::Directory)? else {
            done.refused.push(refuse("path crosses a symlink or a file in the target directory"));
            continue;
        };
        if kind == EntryType::Directory {
            continue;
        }
        let file_name = relative.file_name().expect("a normal last component");
        let mut file = match OpenOptions::new().write(true).create_new(true).open(parent.join(file_name)) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                done.refused.push(refuse("already exists in the target directory; not overwritten"));
                continue;
            }
            Err(e) => return Err(e),
        };
        done.bytes += io::copy(&mut entry, &mut file)?;
        done.files += 1;
    }
    Ok(done)
}

/// A relative path made only of normal components, or `None`.
fn safe_relative(bytes: &[u8]) -> Option<PathBuf> {
    let text = std::str::from_utf8(bytes).ok()?;
    let path = Path::new(text);
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            _ => return None,
        }
    }
    (!out.as_os_str().is_empty()).then_some(out)
}

/// Creates the directories leading to `relative` (and `relative` itself when it is a
/// directory), refusing to pass through anything that is not a real directory. Returns the
/// directory that will hold the member.
fn prepare_parents(target: &Path, relative: &Path, is_dir: bool) -> io::Result<Option<PathBuf>> {
    let components: Vec<_> = relative.components().collect();
    let dirs = if is_dir { &components[..] } else { &components[..components.len() - 1] };
    let mut current = target.to_path_buf();
    for component in dirs {
        current.push(component);
        match fs::symlink_metadata(&current) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::NotFound => fs::create_dir(&current)?,
            Err(e) => return Err(e),
        }
    }
    Ok(Some(current))
}
