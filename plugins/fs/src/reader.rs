//! Opening and reading one listed file, safely and honestly.
//!
//! Safely: anyone who can write into the exported tree can swap a listed file, or one of
//! its parent directories, for a symbolic link to `/etc/shadow` between the listing and the
//! read. Files are therefore opened relative to a handle on the source directory, never
//! through a symbolic link (`openat2` with `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`, or one
//! `openat(O_NOFOLLOW)` per path segment where `openat2` is not available), and the opened
//! file must be the very one listed: a regular file with the same device and inode.
//!
//! Honestly: a file rewritten while it is read would be archived torn (stripes of two
//! versions that never existed together), so its size, mtime and ctime are compared before
//! and after the read; a change makes the read fail as temporary, and the engine reads it
//! again (within `--retries`) or records it as changed during the export.

use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use rustix::fs::{FileType, Mode, OFlags};
use sortie_sdk::{Error, ErrorKind, Result};

/// Read size for file bodies.
const CHUNK: usize = 256 * 1024;

/// How old a file's last change must be before its times can tell a write during the read:
/// the kernel stamps files from a coarse clock (one tick, 1 to 10 ms), so a read overlapping
/// writes made within the tick of the last change before it would see the same times before
/// and after, and pass a torn file as unchanged.
const SETTLE: Duration = Duration::from_millis(50);

/// What identifies a file and tells whether it changed: compared between the listing, the
/// opening and the end of the read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Identity {
    device: u64,
    inode: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Identity {
    /// The identity the listing saw.
    pub(crate) fn of_metadata(meta: &std::fs::Metadata) -> Self {
        use std::os::unix::fs::MetadataExt;
        Self {
            device: meta.dev(),
            inode: meta.ino(),
            size: meta.len(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        }
    }

    /// The identity of an open file, and whether it is a regular file.
    fn of_open(file: impl AsFd) -> std::io::Result<(Self, bool)> {
        let stat = rustix::fs::fstat(file)?;
        let identity = Self {
            device: stat.st_dev,
            inode: stat.st_ino,
            size: u64::try_from(stat.st_size).unwrap_or(0),
            mtime: (stat.st_mtime, stat.st_mtime_nsec as i64),
            ctime: (stat.st_ctime, stat.st_ctime_nsec as i64),
        };
        Ok((identity, FileType::from_raw_mode(stat.st_mode) == FileType::RegularFile))
    }

    /// The item's locator: enough to recognise the file when it is opened.
    pub(crate) fn encode(&self) -> String {
        let Self { device, inode, size, mtime, ctime } = self;
        format!("{device}:{inode}:{size}:{}.{}:{}.{}", mtime.0, mtime.1, ctime.0, ctime.1)
    }

    pub(crate) fn decode(text: &str) -> Option<Self> {
        let mut parts = text.split(':');
        let mut number = || parts.next()?.parse::<u64>().ok();
        let (device, inode, size) = (number()?, number()?, number()?);
        let mut time = || {
            let (seconds, nanos) = parts.next()?.split_once('.')?;
            Some((seconds.parse().ok()?, nanos.parse().ok()?))
        };
        let (mtime, ctime) = (time()?, time()?);
        parts.next().is_none().then_some(Self { device, inode, size, mtime, ctime })
    }

    fn same_file(&self, other: &Self) -> bool {
        (self.device, self.inode) == (other.device, other.inode)
    }
}

/// The source directory, held open for the whole export so that every file is opened
/// beneath it, whatever happens to the path that named it.
pub(crate) struct Root {
    dir: OwnedFd,
    follow_symlinks: bool,
}

/// A listed file, opened and checked against the listing.
pub(crate) struct Opened {
    file: File,
    identity: Identity,
    shown: String,
}

impl Root {
    pub(crate) fn open(path: &Path, follow_symlinks: bool) -> std::io::Result<Self> {
        let dir = rustix::fs::open(path, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?;
        Ok(Self { dir, follow_symlinks })
    }

    /// Opens the file at `relative` (the listing's segments) and checks it is the one the
    /// listing saw (`listed`, from the item's locator).
    pub(crate) fn open_file(&self, relative: &Path, listed: Option<&Identity>, shown: &str) -> Result<Opened> {
        let file = if self.follow_symlinks {
            // Links are followed on request: the user vouches for where they lead.
            rustix::fs::openat(&self.dir, relative, read_flags(), Mode::empty())
        } else {
            open_beneath(&self.dir, relative)
        }
        .map_err(|e| match e {
            rustix::io::Errno::LOOP | rustix::io::Errno::XDEV | rustix::io::Errno::NOTDIR => {
                changed(shown, "a symbolic link now stands at its path or on the way to it; links are not followed")
            }
            e => Error::io(format!("cannot read {shown}"), &e.into()),
        })?;
        let (identity, regular) =
            Identity::of_open(&file).map_err(|e| Error::io(format!("cannot read {shown}"), &e))?;
        if !regular {
            return Err(changed(shown, "it is no longer a regular file"));
        }
        if listed.is_some_and(|listed| !listed.same_file(&identity)) {
            return Err(changed(shown, "another file was put in its place"));
        }
        Ok(Opened { file: File::from(file), identity, shown: shown.to_owned() })
    }
}

fn read_flags() -> OFlags {
    // Non-blocking, so that a fifo swapped in is refused by the type check instead of
    // blocking the open forever; it changes nothing for a regular file.
    OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NONBLOCK
}

/// Opens `relative` beneath `dir` without following any symbolic link on the way.
fn open_beneath(dir: &OwnedFd, relative: &Path) -> rustix::io::Result<OwnedFd> {
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::ResolveFlags;
        let resolve = ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
        match rustix::fs::openat2(dir, relative, read_flags() | OFlags::NOFOLLOW, Mode::empty(), resolve) {
            // Kernels before 5.6, and sandboxes that filter the call.
            Err(rustix::io::Errno::NOSYS | rustix::io::Errno::PERM) => {}
            other => return other,
        }
    }
    open_segment_by_segment(dir, relative)
}

/// `openat(O_NOFOLLOW)` one segment after the other: no step can pass through a link.
fn open_segment_by_segment(dir: &OwnedFd, relative: &Path) -> rustix::io::Result<OwnedFd> {
    use std::path::Component;
    let segments: Vec<_> = relative.components().collect();
    let Some((last, parents)) = segments.split_last() else { return Err(rustix::io::Errno::INVAL) };
    let mut current: Option<OwnedFd> = None;
    for segment in parents {
        let &Component::Normal(name) = segment else { return Err(rustix::io::Errno::XDEV) };
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let next = rustix::fs::openat(current.as_ref().unwrap_or(dir), name, flags, Mode::empty())?;
        current = Some(next);
    }
    let &Component::Normal(name) = last else { return Err(rustix::io::Errno::XDEV) };
    rustix::fs::openat(current.as_ref().unwrap_or(dir), name, read_flags() | OFlags::NOFOLLOW, Mode::empty())
}

fn changed(shown: &str, why: &str) -> Error {
    Error::new(ErrorKind::Integrity, format!("{shown} changed during the export: {why}"))
}

impl Opened {
    /// The size measured at opening, which the body announces.
    pub(crate) fn size(&self) -> u64 {
        self.identity.size
    }

    /// How long to wait before the file's times can tell a write during the read: zero when
    /// its last change is at least [`SETTLE`] old.
    pub(crate) fn unsettled_for(&self) -> Duration {
        let (seconds, nanos) = self.identity.ctime;
        let (Ok(seconds), Ok(nanos)) = (u64::try_from(seconds), u32::try_from(nanos)) else {
            return Duration::ZERO;
        };
        match SystemTime::now().duration_since(UNIX_EPOCH + Duration::new(seconds, nanos)) {
            Ok(age) => SETTLE.saturating_sub(age),
            // Changed "in the future" (a clock set back): wait one period, then trust it.
            Err(_) => SETTLE,
        }
    }

    /// After waiting [`Opened::unsettled_for`]: fails, as temporary, when the file changed
    /// meanwhile (it is being written: the engine reads it again later).
    pub(crate) fn settled(self) -> Result<Self> {
        self.unchanged().map_err(|_| {
            changed(&self.shown, "it was being written when its read was to begin (its change time kept moving)")
                .temporary()
        })?;
        Ok(self)
    }

    /// Fails when the file changed since it was opened.
    fn unchanged(&self) -> Result<()> {
        let (now, _) =
            Identity::of_open(&self.file).map_err(|e| Error::io(format!("cannot read {}", self.shown), &e))?;
        if now == self.identity {
            return Ok(());
        }
        Err(changed(&self.shown, "it was written to while it was read (size, modification or change time moved)")
            .temporary())
    }

    /// Reads the whole (small) file at once, and one byte more if it grew, which is enough
    /// for the engine's length check to notice; then checks it did not change meanwhile.
    pub(crate) fn read_whole(self) -> Result<Bytes> {
        let mut data = Vec::with_capacity(usize::try_from(self.identity.size).unwrap_or(0) + 1);
        (&self.file)
            .take(self.identity.size + 1)
            .read_to_end(&mut data)
            .map_err(|e| Error::io(format!("cannot read {}", self.shown), &e))?;
        self.unchanged()?;
        Ok(Bytes::from(data))
    }

    /// Streams a large file read by one blocking thread, chunk after chunk, through a short
    /// channel: one thread for the whole file instead of a thread hop per read. The last
    /// chunk is only sent once the file is known not to have changed during the read.
    pub(crate) fn stream(self) -> BoxStream<'static, Result<Bytes>> {
        let (chunks, receiver) = tokio::sync::mpsc::channel::<Result<Bytes>>(4);
        tokio::task::spawn_blocking(move || {
            let mut held: Option<Bytes> = None;
            loop {
                let mut chunk = Vec::with_capacity(CHUNK);
                match (&self.file).take(CHUNK as u64).read_to_end(&mut chunk) {
                    Ok(0) => break,
                    Ok(_) => {
                        if let Some(previous) = held.replace(Bytes::from(chunk))
                            && chunks.blocking_send(Ok(previous)).is_err()
                        {
                            return;
                        }
                    }
                    Err(e) => {
                        let _ = chunks.blocking_send(Err(Error::io(format!("cannot read {}", self.shown), &e)));
                        return;
                    }
                }
            }
            let last = self.unchanged().and(Ok(held));
            match last {
                Ok(Some(chunk)) => _ = chunks.blocking_send(Ok(chunk)),
                Ok(None) => {}
                Err(e) => _ = chunks.blocking_send(Err(e)),
            }
        });
        futures_util::stream::unfold(receiver, |mut receiver| async move {
            receiver.recv().await.map(|chunk| (chunk, receiver))
        })
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file written moments ago is read only once its change time is old enough to move on
    /// the next write; waiting settles it, and a write during the wait is refused.
    #[test]
    fn a_file_just_written_waits_to_settle_and_a_write_meanwhile_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f"), b"abc").unwrap();
        let root = Root::open(dir.path(), false).unwrap();
        let opened = root.open_file(Path::new("f"), None, "f").unwrap();
        let wait = opened.unsettled_for();
        assert!(wait <= SETTLE, "{wait:?}");
        std::thread::sleep(wait);
        let opened = opened.settled().unwrap();
        assert!(opened.unsettled_for().is_zero());

        let opened = root.open_file(Path::new("f"), None, "f").unwrap();
        std::thread::sleep(SETTLE);
        std::fs::write(dir.path().join("f"), b"abcd").unwrap();
        let error = opened.settled().err().unwrap();
        assert!(error.to_string().contains("being written when its read was to begin"), "{error}");
    }

    #[test]
    fn identities_round_trip_through_the_locator() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f"), b"abc").unwrap();
        let identity = Identity::of_metadata(&std::fs::metadata(dir.path().join("f")).unwrap());
        assert_eq!(Identity::decode(&identity.encode()), Some(identity));
        assert_eq!(Identity::decode("1:2:3"), None);
    }

    #[test]
    fn no_segment_of_the_path_may_be_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), b"secret").unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/ok"), b"ok").unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), dir.path().join("sub/link")).unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("dirlink")).unwrap();
        let root = Root::open(dir.path(), false).unwrap();
        for open in [open_beneath, open_segment_by_segment] {
            assert!(open(&root.dir, Path::new("sub/ok")).is_ok());
            assert!(open(&root.dir, Path::new("sub/link")).is_err());
            assert!(open(&root.dir, Path::new("dirlink/secret")).is_err());
            assert!(open(&root.dir, Path::new("../escape")).is_err());
        }
        let error = root.open_file(Path::new("sub/link"), None, "sub/link").err().unwrap();
        assert!(error.to_string().contains("changed during the export"), "{error}");
    }
}
