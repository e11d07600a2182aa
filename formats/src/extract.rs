//! `extract`: writes an archive's files under one directory and nothing anywhere else, and
//! only files whose content matches the archive's manifests.
//!
//! Every member is refused, not repaired, when it could land outside the target: absolute
//! paths, `..`, links of any kind, special files, and paths crossing a symlink that is
//! already in the target. Existing files are never overwritten. The manifests come after
//! the payload in the archive, so each file is first written under a staging directory
//! inside the target while the verification pass hashes it, and put under its own name
//! only once its digest is confirmed; what is not confirmed is deleted and named.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::reader;
use crate::verify::{self, Problem, Staging, Verification};

/// What an extraction did.
#[derive(Debug, Serialize)]
pub struct Extraction {
    /// Files written under their final names (every one checked against a manifest).
    pub files: u64,
    /// Bytes in those files.
    pub bytes: u64,
    /// Members not written, with the reason.
    pub refused: Vec<Problem>,
    /// The verification of the archive made while extracting it.
    pub verification: Verification,
}

impl Extraction {
    /// True when every member was written and the archive is intact.
    pub fn whole(&self) -> bool {
        self.refused.is_empty() && self.verification.intact()
    }
}

/// Extracts `archive` into `target`, creating it if needed (only once the archive opened).
/// An `Err` is an archive that cannot be opened or an I/O failure on the target; refusals and
/// damage are in the result.
pub fn extract(archive: &Path, target: &Path) -> io::Result<Extraction> {
    std::fs::File::open(archive)?;
    fs::create_dir_all(target)?;
    let target = target.canonicalize()?;
    let staging_dir = tempfile::Builder::new().prefix(".sortie-unverified-").tempdir_in(&target)?;
    let mut stage = Stage { target: target.clone(), dir: staging_dir.path().to_path_buf(), finals: Vec::new() };
    let (verification, accepted) = verify::verify_staging(archive, Some(&mut stage))?;
    let mut done = Extraction { files: 0, bytes: 0, refused: Vec::new(), verification };
    for (index, destination) in stage.finals.iter().enumerate() {
        let Some((rel, destination)) = destination else { continue };
        let staged = stage.dir.join(index.to_string());
        if !accepted.get(index).copied().unwrap_or(false) {
            done.refused.push(Problem {
                member: Some(crate::shown::shown(rel)),
                message: "not written: its content is not confirmed by the archive's manifests".into(),
            });
            continue;
        }
        match place(&staged, destination) {
            Ok(()) => {
                done.files += 1;
                done.bytes += fs::metadata(destination)?.len();
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => done.refused.push(Problem {
                member: Some(crate::shown::shown(rel)),
                message: "already exists in the target directory (or twice in the archive); not overwritten".into(),
            }),
            Err(e) => return Err(e),
        }
    }
    staging_dir.close()?;
    Ok(done)
}

/// Puts a staged file under its final name. A hard link never replaces an existing file,
/// unlike a rename; on a file system without hard links (FAT, some network and FUSE file
/// systems) the file is renamed, once its name is known to be free.
fn place(staged: &Path, destination: &Path) -> io::Result<()> {
    match fs::hard_link(staged, destination) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => {
            if fs::symlink_metadata(destination).is_ok() {
                return Err(io::Error::from(io::ErrorKind::AlreadyExists));
            }
            fs::rename(staged, destination)
        }
        linked => linked,
    }
}

/// Prepares each regular member's destination and gives the pass a staging file for it.
struct Stage {
    target: PathBuf,
    dir: PathBuf,
    /// Per regular member: its name and final path, when it may be written at all.
    finals: Vec<Option<(String, PathBuf)>>,
}

impl Staging for Stage {
    fn stage(&mut self, index: usize, bag: &str, rel: &str) -> io::Result<Result<Box<dyn Write>, String>> {
        debug_assert_eq!(index, self.finals.len());
        self.finals.push(None);
        let name = format!("{bag}/{rel}");
        let Some(relative) = reader::safe_relative(name.as_bytes()) else {
            return Ok(Err("path is absolute or leaves the target directory".into()));
        };
        let Some(parent) = prepare_parents(&self.target, &relative)? else {
            return Ok(Err("path crosses a symlink or a file in the target directory".into()));
        };
        let destination = parent.join(relative.file_name().expect("a normal last component"));
        if fs::symlink_metadata(&destination).is_ok() {
            return Ok(Err("already exists in the target directory; not overwritten".into()));
        }
        let file = OpenOptions::new().write(true).create_new(true).open(self.dir.join(index.to_string()))?;
        self.finals[index] = Some((name, destination));
        Ok(Ok(Box::new(io::BufWriter::with_capacity(1 << 16, file))))
    }

    fn directory(&mut self, bag: &str, rel: &str) -> io::Result<Result<(), String>> {
        let name = if rel.is_empty() { bag.to_owned() } else { format!("{bag}/{rel}") };
        let Some(relative) = reader::safe_relative(name.as_bytes()) else {
            return Ok(Err("path is absolute or leaves the target directory".into()));
        };
        Ok(match prepare_parents(&self.target, &relative.join("x"))? {
            Some(_) => Ok(()),
            None => Err("path crosses a symlink or a file in the target directory".into()),
        })
    }
}

/// Creates the directories leading to `relative`, refusing to pass through anything that
/// is not a real directory. Returns the directory that will hold the member.
fn prepare_parents(target: &Path, relative: &Path) -> io::Result<Option<PathBuf>> {
    let mut current = target.to_path_buf();
    if let Some(parent) = relative.parent() {
        for component in parent.components() {
            current.push(component);
            match fs::symlink_metadata(&current) {
                Ok(meta) if meta.is_dir() => {}
                Ok(_) => return Ok(None),
                Err(e) if e.kind() == io::ErrorKind::NotFound => fs::create_dir(&current)?,
                Err(e) => return Err(e),
            }
        }
    }
    Ok(Some(current))
}
