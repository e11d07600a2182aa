//! Walks the tree in a fixed order (depth first, names sorted by bytes), one page at a
//! time. The order makes a cursor (the last path returned) enough to resume the walk in a
//! new process, and it makes two exports of the same tree list the same way.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use serde_json::{Map, Value, json};
use sortie_sdk::item::{Item, Kind, RawName, Skip};
use sortie_sdk::provider::Page;
use sortie_sdk::{Error, ErrorKind, Result};
use walkdir::{DirEntry, WalkDir};

/// Items per page.
const PAGE: usize = 1000;

pub(crate) struct Lister {
    root: PathBuf,
    /// The root resolved, and the files under it never to export.
    canonical_root: PathBuf,
    exclude: Arc<HashSet<PathBuf>>,
    walker: walkdir::IntoIter,
    skip_through: Option<Vec<Vec<u8>>>,
    issued: Option<String>,
}

impl Lister {
    /// Starts a walk, positioned after `cursor` when one is given.
    pub(crate) fn start(
        root: PathBuf,
        follow_symlinks: bool,
        exclude: Arc<HashSet<PathBuf>>,
        cursor: Option<&str>,
    ) -> Result<Self> {
        let skip_through = match cursor {
            None => None,
            Some(cursor) => Some(decode_cursor(cursor).ok_or_else(|| {
                Error::new(ErrorKind::InvalidInput, format!("'{cursor}' is not a cursor of the fs provider"))
            })?),
        };
        let walker = WalkDir::new(&root).follow_links(follow_symlinks).sort_by_file_name().min_depth(1).into_iter();
        let canonical_root = root.canonicalize().unwrap_or_else(|_| root.clone());
        Ok(Self { root, canonical_root, exclude, walker, skip_through, issued: None })
    }

    /// Whether this walk is exactly where `cursor` points.
    pub(crate) fn resumes(&self, cursor: Option<&str>) -> bool {
        cursor.is_some() && cursor == self.issued.as_deref()
    }

    pub(crate) fn next_page(&mut self) -> Page {
        let mut items = Vec::new();
        let mut last: Option<Vec<Vec<u8>>> = None;
        while items.len() < PAGE {
            let Some(next) = self.walker.next() else {
                self.issued = None;
                return Page::new(items, None);
            };
            let item = match next {
                Ok(entry) => {
                    let segments = relative_segments(&self.root, entry.path());
                    if self.skipped(&entry, &segments) {
                        continue;
                    }
                    last = Some(segments.clone());
                    let mut item = item_of(&entry, segments);
                    if self.excluded(entry.path()) {
                        item.has_body = false;
                        item.skip = Some(Skip::Excluded("the archive being written by this export".into()));
                    }
                    item
                }
                Err(error) => {
                    let Some(path) = error.path().map(Path::to_path_buf) else {
                        continue;
                    };
                    let segments = relative_segments(&self.root, &path);
                    last = Some(segments.clone());
                    let mut item = Item::new(joined(&segments), raw(segments), Kind::File);
                    item.has_body = false;
                    item.skip = Some(Skip::Failed(format!("cannot read {}: {}", path.display(), io_message(&error))));
                    item
                }
            };
            items.push(item);
        }
        let next = last.map(|segments| encode_cursor(&segments));
        self.issued = next.clone();
        Page::new(items, next)
    }

    fn excluded(&self, path: &Path) -> bool {
        !self.exclude.is_empty()
            && path.strip_prefix(&self.root).is_ok_and(|rel| self.exclude.contains(&self.canonical_root.join(rel)))
    }

    /// Skips what a resumed walk already returned, without descending into directories
    /// that lie wholly before the cursor.
    fn skipped(&mut self, entry: &DirEntry, segments: &[Vec<u8>]) -> bool {
        let Some(through) = &self.skip_through else {
            return false;
        };
        // Component-wise byte order is the order of a depth-first walk with sorted names.
        if segments > through.as_slice() {
            self.skip_through = None;
            return false;
        }
        if entry.file_type().is_dir() && !through.starts_with(segments) {
            self.walker.skip_current_dir();
        }
        true
    }
}

fn item_of(entry: &DirEntry, segments: Vec<Vec<u8>>) -> Item {
    let id = joined(&segments);
    let file_type = entry.file_type();
    let kind = if file_type.is_dir() {
        Kind::Directory
    } else if file_type.is_file() {
        Kind::File
    } else if file_type.is_symlink() {
        Kind::Symlink
    } else {
        Kind::Special
    };
    let mut item = Item::new(id, raw(segments), kind);
    item.has_body = kind == Kind::File;
    let meta = match entry.metadata() {
        Ok(meta) => meta,
        Err(error) => {
            item.has_body = false;
            item.skip = Some(Skip::Failed(format!("cannot read {}: {}", entry.path().display(), io_message(&error))));
            return item;
        }
    };
    item.modified = meta.modified().ok().filter(|t| *t >= SystemTime::UNIX_EPOCH);
    let mut extra = Map::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        extra.insert("mode".into(), Value::String(format!("{:04o}", meta.permissions().mode() & 0o7777)));
    }
    match kind {
        Kind::File => {
            item.size = Some(meta.len());
            item.locator = Some(crate::reader::Identity::of_metadata(&meta).encode());
        }
        Kind::Symlink => match std::fs::read_link(entry.path()) {
            Ok(target) => {
                let bytes = bytes_of(target.as_os_str());
                extra.insert("target".into(), Value::String(String::from_utf8_lossy(&bytes).into_owned()));
                if std::str::from_utf8(&bytes).is_err() {
                    extra.insert(
                        "target_hex".into(),
                        json!(bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()),
                    );
                }
            }
            Err(error) => {
                item.skip = Some(Skip::Failed(format!("cannot read link {}: {error}", entry.path().display())))
            }
        },
        Kind::Special => item.skip = Some(Skip::Excluded(format!("not a regular file ({})", special_name(&meta)))),
        _ => {}
    }
    item.meta = extra;
    item
}

#[cfg(unix)]
fn special_name(meta: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let kind = meta.file_type();
    if kind.is_fifo() {
        "fifo"
    } else if kind.is_socket() {
        "socket"
    } else if kind.is_block_device() || kind.is_char_device() {
        "device"
    } else {
        "special file"
    }
}

fn io_message(error: &walkdir::Error) -> String {
    match error.io_error() {
        Some(io) => io.to_string(),
        None => error.to_string(),
    }
}

#[cfg(unix)]
fn bytes_of(name: &std::ffi::OsStr) -> Vec<u8> {
    std::os::unix::ffi::OsStrExt::as_bytes(name).to_vec()
}

fn relative_segments(root: &Path, path: &Path) -> Vec<Vec<u8>> {
    path.strip_prefix(root).unwrap_or(path).components().map(|c| bytes_of(c.as_os_str())).collect()
}

fn raw(segments: Vec<Vec<u8>>) -> Vec<RawName> {
    segments.into_iter().map(RawName).collect()
}

fn joined(segments: &[Vec<u8>]) -> RawName {
    RawName(segments.join(&b'/'))
}

fn encode_cursor(segments: &[Vec<u8>]) -> String {
    segments.iter().map(|s| s.iter().map(|b| format!("{b:02x}")).collect::<String>()).collect::<Vec<_>>().join("/")
}

fn decode_cursor(cursor: &str) -> Option<Vec<Vec<u8>>> {
    cursor
        .split('/')
        .map(|part| {
            (part.len() % 2 == 0)
                .then(|| (0..part.len()).step_by(2).map(|i| u8::from_str_radix(&part[i..i + 2], 16).ok()).collect())
                .flatten()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(page: &Page) -> Vec<String> {
        page.items.iter().map(|i| i.id.display()).collect()
    }

    #[test]
    fn a_cursor_resumes_the_walk_in_a_new_lister() {
        let dir = tempfile::tempdir().unwrap();
        for path in ["a/x", "a/y", "b", "c/d/e"] {
            let full = dir.path().join(path);
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::fs::write(full, path).unwrap();
        }
        let mut whole = Lister::start(dir.path().into(), false, Arc::default(), None).unwrap();
        let all = ids(&whole.next_page());
        assert_eq!(all, ["a", "a/x", "a/y", "b", "c", "c/d", "c/d/e"]);

        for cut in 1..all.len() {
            let segments: Vec<Vec<u8>> = all[cut - 1].split('/').map(|s| s.as_bytes().to_vec()).collect();
            let mut resumed =
                Lister::start(dir.path().into(), false, Arc::default(), Some(&encode_cursor(&segments))).unwrap();
            assert_eq!(ids(&resumed.next_page()), all[cut..], "after {}", all[cut - 1]);
        }
        assert!(Lister::start(dir.path().into(), false, Arc::default(), Some("zz")).is_err());
    }
}
