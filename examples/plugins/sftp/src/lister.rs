//! Walks the remote tree as the `file` provider walks a local one: depth first, names
//! sorted by bytes, each directory listed before its content. The order makes a cursor
//! (the last path returned) enough to resume the walk in a new process, over a new
//! session, and makes an sftp export and a file export of the same tree list alike.
//!
//! Memory is bounded by the directories on the current path: the names left to visit in
//! each, never the whole tree.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde_json::{Map, Value, json};
use sortie_sdk::item::{Item, Kind, RawName, Skip};
use sortie_sdk::provider::Page;
use sortie_sdk::{Error, ErrorKind, Result};
use ssh2::FileStat;

use crate::client::Connection;
use crate::error;

/// Items per page.
const PAGE: usize = 1000;

// File types in an SFTP mode (POSIX `st_mode`).
const S_IFMT: u32 = 0o170000;
const S_IFDIR: u32 = 0o040000;
const S_IFREG: u32 = 0o100000;
const S_IFLNK: u32 = 0o120000;
const S_IFIFO: u32 = 0o010000;
const S_IFSOCK: u32 = 0o140000;

pub(crate) struct Lister {
    root: Vec<u8>,
    /// The directories being walked, outermost first, with the names left in each.
    stack: Vec<Level>,
    started: bool,
    skip_through: Option<Vec<Vec<u8>>>,
    issued: Option<String>,
}

struct Level {
    segments: Vec<Vec<u8>>,
    left: VecDeque<(Vec<u8>, FileStat)>,
}

impl Lister {
    /// A walk of `root`, positioned after `cursor` when one is given.
    pub(crate) fn start(root: Vec<u8>, cursor: Option<&str>) -> Result<Self> {
        let skip_through = match cursor {
            None => None,
            Some(cursor) => Some(decode_cursor(cursor).ok_or_else(|| {
                Error::new(ErrorKind::InvalidInput, format!("'{cursor}' is not a cursor of the sftp provider"))
            })?),
        };
        Ok(Self { root, stack: Vec::new(), started: false, skip_through, issued: None })
    }

    /// Whether this walk is exactly where `cursor` points.
    pub(crate) fn resumes(&self, cursor: Option<&str>) -> bool {
        cursor.is_some() && cursor == self.issued.as_deref()
    }

    /// The next page. An error leaves the walk unusable: the caller starts a new one from
    /// the last cursor.
    pub(crate) fn next_page(&mut self, connection: &Connection) -> Result<Page> {
        if !self.started {
            let root = self.root.clone();
            let left = read_dir(connection, &path_of(&root, &[])).map_err(|e| e.context("cannot list the source"))?;
            self.stack.push(Level { segments: Vec::new(), left });
            self.started = true;
        }
        let mut items = Vec::new();
        while items.len() < PAGE {
            let Some(level) = self.stack.last_mut() else {
                self.issued = None;
                return Ok(Page::new(items, None));
            };
            let Some((name, stat)) = level.left.pop_front() else {
                self.stack.pop();
                continue;
            };
            let mut segments = level.segments.clone();
            segments.push(name);
            let is_dir = stat.perm.unwrap_or(0) & S_IFMT == S_IFDIR;
            if let Some(through) = &self.skip_through {
                // Component-wise byte order is the order of this walk.
                if segments.as_slice() <= through.as_slice() {
                    if is_dir && through.starts_with(&segments) {
                        self.descend(connection, segments)?;
                    }
                    continue;
                }
                self.skip_through = None;
            }
            let mut item = self.item_of(connection, &segments, &stat)?;
            if is_dir
                && item.skip.is_none()
                && let Err(e) = self.descend(connection, segments.clone())
            {
                if error::breaks_session(&e) {
                    return Err(e);
                }
                item.skip = Some(Skip::Failed(e.to_string()));
            }
            items.push(item);
            self.issued = Some(encode_cursor(&segments));
        }
        // A full page: the next one starts after its last item, even if nothing is left.
        Ok(Page::new(items, self.issued.clone()))
    }

    fn descend(&mut self, connection: &Connection, segments: Vec<Vec<u8>>) -> Result<()> {
        let left = read_dir(connection, &path_of(&self.root, &segments))?;
        self.stack.push(Level { segments, left });
        Ok(())
    }

    fn item_of(&self, connection: &Connection, segments: &[Vec<u8>], stat: &FileStat) -> Result<Item> {
        let path = path_of(&self.root, segments);
        let mode = stat.perm.unwrap_or(0);
        let kind = match mode & S_IFMT {
            S_IFDIR => Kind::Directory,
            S_IFREG => Kind::File,
            S_IFLNK => Kind::Symlink,
            _ => Kind::Special,
        };
        let mut item = Item::new(RawName(segments.join(&b'/')), segments.iter().cloned().map(RawName).collect(), kind);
        item.has_body = kind == Kind::File;
        item.modified = stat.mtime.map(|secs| SystemTime::UNIX_EPOCH + Duration::from_secs(secs));
        let mut meta = Map::new();
        meta.insert("mode".into(), Value::String(format!("{:04o}", mode & 0o7777)));
        match kind {
            Kind::File => item.size = stat.size,
            Kind::Symlink => match connection.sftp.readlink(&path) {
                Ok(target) => {
                    let bytes = bytes_of(&target);
                    meta.insert("target".into(), Value::String(String::from_utf8_lossy(bytes).into_owned()));
                    if std::str::from_utf8(bytes).is_err() {
                        meta.insert(
                            "target_hex".into(),
                            json!(bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()),
                        );
                    }
                }
                Err(e) => {
                    let e = error::ssh(format!("cannot read link {}", path.display()), &e);
                    if error::breaks_session(&e) {
                        return Err(e);
                    }
                    item.skip = Some(Skip::Failed(e.to_string()));
                }
            },
            Kind::Special => item.skip = Some(Skip::Excluded(format!("not a regular file ({})", special_name(mode)))),
            _ => {}
        }
        item.meta = meta;
        Ok(item)
    }
}

/// A directory's entries, sorted by name bytes.
fn read_dir(connection: &Connection, path: &Path) -> Result<VecDeque<(Vec<u8>, FileStat)>> {
    let entries =
        connection.sftp.readdir(path).map_err(|e| error::ssh(format!("cannot list {}", path.display()), &e))?;
    let mut named: Vec<(Vec<u8>, FileStat)> = entries
        .into_iter()
        .filter_map(|(full, stat)| Some((bytes_of(Path::new(full.file_name()?)).to_vec(), stat)))
        .collect();
    named.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(named.into())
}

fn special_name(mode: u32) -> &'static str {
    match mode & S_IFMT {
        S_IFIFO => "fifo",
        S_IFSOCK => "socket",
        _ => "device",
    }
}

/// The server path of the item at `segments` under `root`.
pub(crate) fn path_of(root: &[u8], segments: &[Vec<u8>]) -> PathBuf {
    let mut path = PathBuf::from(os_str(root));
    for segment in segments {
        path.push(os_str(segment));
    }
    path
}

fn os_str(bytes: &[u8]) -> &std::ffi::OsStr {
    std::os::unix::ffi::OsStrExt::from_bytes(bytes)
}

fn bytes_of(path: &Path) -> &[u8] {
    std::os::unix::ffi::OsStrExt::as_bytes(path.as_os_str())
}

fn encode_cursor(segments: &[Vec<u8>]) -> String {
    segments.iter().map(|s| hex(s)).collect::<Vec<_>>().join("/")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn decode_cursor(cursor: &str) -> Option<Vec<Vec<u8>>> {
    cursor
        .split('/')
        .map(|part| {
            (part.len() % 2 == 0 && part.is_ascii())
                .then(|| (0..part.len()).step_by(2).map(|i| u8::from_str_radix(&part[i..i + 2], 16).ok()).collect())
                .flatten()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_any_bytes() {
        let segments = vec![b"a b".to_vec(), b"\xff/\x00".to_vec()];
        assert_eq!(decode_cursor(&encode_cursor(&segments)), Some(segments));
        assert_eq!(decode_cursor("zz"), None);
        assert_eq!(decode_cursor("é0"), None);
    }

    #[test]
    fn paths_join_raw_segments() {
        assert_eq!(path_of(b"/srv", &[b"a".to_vec(), b"b c".to_vec()]), PathBuf::from("/srv/a/b c"));
    }
}
