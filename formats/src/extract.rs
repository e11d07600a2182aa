//! `extract`: writes an archive's files under one directory and nothing anywhere else, and
//! only files whose content matches the archive's manifests.
//!
//! Every member is refused, not repaired, when it could land outside the target: absolute
//! paths, `..`, links of any kind, special files, and paths crossing a symlink or a file that
//! is already in the target. Existing files are overwritten only when asked (`force`), by
//! renaming over them, which replaces a link itself and never writes through it. The
//! manifests come after the payload in the archive, so each file is first written into a
//! staging directory inside the target while the verification pass hashes it, and put under
//! its own name only once its digest is confirmed; what is not confirmed is deleted and
//! named. No file under its final name is ever partly written, whenever the process stops.
//!
//! A file gets the modification time of its tar header, as GNU tar gives it, and the
//! permission bits the inventory recorded at the source (`meta.mode`, which the tar header's
//! fixed 0644 does not carry), exactly, whatever the umask, as `tar --same-permissions`;
//! setuid, setgid and sticky bits are never restored. Files without a recorded mode (objects
//! of a store) are created 0644 less the umask. Directories are created 0755 less the umask
//! and get their time and recorded mode once every file is in place, as GNU tar does.
//!
//! Someone else may write into the target while an extraction runs (a shared directory):
//! every directory is therefore walked from a handle on the target, one segment at a time,
//! never through a symbolic link (`openat` with `O_NOFOLLOW`), and files are linked into
//! place from a handle on the staging directory, so a directory swapped for a link in the
//! meantime is refused instead of followed.

use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, BufWriter, Seek, SeekFrom, Write};
use std::os::fd::OwnedFd;
use std::path::{Component, Path, PathBuf};

use rustix::fs::{AtFlags, Mode, OFlags, RenameFlags};
use rustix::io::Errno;
use serde::Serialize;

use crate::bagit::INVENTORY;
use crate::input::Input;
use crate::reader;
use crate::recorded_modes::RecordedModes;
use crate::shown::shown;
use crate::spool::{self, Spool};
use crate::verify::{self, Problem, Staging, Verification};

/// Refusals kept in full; the rest are only counted.
const MAX_REFUSED: usize = 1000;
/// The staging directory's name starts with this and the process id, so that whoever stops
/// the process (a signal) can find and remove it: [`remove_staging`].
const STAGING_PREFIX: &str = ".sortie-unverified-";
/// The index of a directory in the spool of final names: directories are not staged.
const DIRECTORY: &str = "d";

/// What an extraction did.
#[derive(Debug, Serialize)]
pub struct Extraction {
    /// Files written under their final names (every one checked against a manifest).
    pub files: u64,
    /// Bytes in those files.
    pub bytes: u64,
    /// Members not written, with the reason (at most a thousand; see `more_refused`).
    pub refused: Vec<Problem>,
    /// Refusals beyond those listed.
    pub more_refused: u64,
    /// The verification of the archive made while extracting it.
    pub verification: Verification,
}

impl Extraction {
    /// True when every member was written and the archive is intact.
    pub fn whole(&self) -> bool {
        self.refused.is_empty() && self.verification.intact()
    }

    fn refuse(&mut self, member: &str, message: &str) {
        if self.refused.len() < MAX_REFUSED {
            self.refused.push(Problem { member: Some(shown(member)), message: message.to_owned() });
        } else {
            self.more_refused += 1;
        }
    }
}

/// Extracts `archive` into `target`, creating it if needed (only once the archive opened);
/// with `force`, files already in the target are replaced. An `Err` is an archive that
/// cannot be opened, a target that is not a directory (`NotADirectory`, before anything is
/// created) or an I/O failure on the target; refusals and damage are in the result.
pub fn extract(archive: &Input, target: &Path, force: bool) -> io::Result<Extraction> {
    archive.preflight()?;
    if fs::metadata(target).is_ok_and(|meta| !meta.is_dir()) {
        return Err(io::Error::new(io::ErrorKind::NotADirectory, format!("{} is not a directory", target.display())));
    }
    fs::create_dir_all(target)?;
    // The target itself is the user's choice, followed if it is a link; nothing under it is.
    let target_dir = rustix::fs::open(target, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?;
    let staging = StagingDir::create(&target_dir, target)?;
    let mut stage = Stage {
        target: target_dir,
        staging: &staging,
        finals: BufWriter::new(spool::tempfile()?),
        force,
        inventory: None,
    };
    let (verification, accepted) = verify::verify_staging(archive, Some(&mut stage))?;
    let Stage { target: target_dir, finals, inventory, .. } = stage;
    // Modes come from the inventory only when the tag manifest confirms it.
    let mut modes = match inventory.filter(|index| accepted.get(*index).copied().unwrap_or(false)) {
        Some(index) => RecordedModes::of(File::from(rustix::fs::openat(
            &staging.dir,
            index.to_string(),
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )?)),
        None => RecordedModes::none(),
    };
    let mut done = Extraction { files: 0, bytes: 0, refused: Vec::new(), more_refused: 0, verification };
    for refusal in staging.refused.take() {
        done.refuse(&refusal.0, &refusal.1);
    }
    done.more_refused += staging.more_refused.get();

    let mut finals = finals.into_inner().map_err(|e| e.into_error())?;
    finals.seek(SeekFrom::Start(0))?;
    // Directories get their time and mode once their files are in: `MTIME MODE NAME`.
    let mut directories = BufWriter::new(spool::tempfile()?);
    for line in BufReader::new(finals).lines() {
        let line = line?;
        let mut fields = line.splitn(3, ' ');
        let (Some(index), Some(mtime), Some(name)) = (fields.next(), fields.next(), fields.next()) else {
            unreachable!("written as INDEX MTIME NAME")
        };
        let mode =
            name.split_once('/').filter(|(_, rel)| rel.starts_with("data/")).and_then(|(_, rel)| modes.mode_of(rel));
        if index == DIRECTORY {
            writeln!(directories, "{mtime} {} {name}", mode.map_or("-".to_owned(), |mode| format!("{mode:o}")))?;
            continue;
        }
        if !index.parse::<usize>().ok().and_then(|i| accepted.get(i).copied()).unwrap_or(false) {
            done.refuse(name, "not written: its content is not confirmed by the archive's manifests");
            continue;
        }
        let relative = Path::new(name);
        let Some(parent) = walk(&target_dir, relative.parent().unwrap_or(Path::new("")), false)? else {
            done.refuse(name, "not written: a symlink or a file now stands on its path in the target directory");
            continue;
        };
        let file_name = relative.file_name().expect("a normal last component");
        let size = set_attributes(&staging.dir, index, mtime.parse().unwrap_or(0), mode)?;
        match place(&staging.dir, OsStr::new(index), &parent, file_name, force) {
            Ok(()) => {
                done.files += 1;
                done.bytes += size;
            }
            Err(Errno::EXIST) => done.refuse(
                name,
                "already exists in the target directory (or twice in the archive); not overwritten: use --force to replace it",
            ),
            Err(Errno::ISDIR | Errno::NOTEMPTY) => {
                done.refuse(name, "a directory stands at this path in the target directory; not replaced")
            }
            Err(e) => return Err(e.into()),
        }
    }
    let mut directories = directories.into_inner().map_err(|e| e.into_error())?;
    directories.seek(SeekFrom::Start(0))?;
    for line in BufReader::new(directories).lines() {
        let line = line?;
        let mut fields = line.splitn(3, ' ');
        let (Some(mtime), Some(mode), Some(name)) = (fields.next(), fields.next(), fields.next()) else {
            unreachable!("written as MTIME MODE NAME")
        };
        let mode = u32::from_str_radix(mode, 8).ok();
        let restored = walk(&target_dir, Path::new(name), false)
            .and_then(|dir| dir.map_or(Ok(()), |dir| set_time_and_mode(&dir, mtime.parse().unwrap_or(0), mode)));
        if let Err(error) = restored {
            done.refuse(name, &format!("the directory's time and mode could not be restored: {error}"));
        }
    }
    Ok(done)
}

/// Removes the staging directories this process left in `target`: called when a signal
/// stops an extraction, so that no unverified data is left behind.
pub fn remove_staging(target: &Path) {
    let mine = format!("{STAGING_PREFIX}{}-", std::process::id());
    let Ok(entries) = fs::read_dir(target) else { return };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(&mine) {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

/// Gives a staged file its modification time and recorded permission bits, before it gets
/// its final name; returns its size.
fn set_attributes(staging: &OwnedFd, staged: &str, mtime: i64, mode: Option<u32>) -> io::Result<u64> {
    let file = rustix::fs::openat(staging, staged, OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC, Mode::empty())?;
    set_time_and_mode(&file, mtime, mode)?;
    Ok(rustix::fs::fstat(&file)?.st_size as u64)
}

/// Sets the modification time (the access time to now, as GNU tar) and the permission bits
/// of `mode`, never setuid, setgid or sticky.
fn set_time_and_mode(opened: &OwnedFd, mtime: i64, mode: Option<u32>) -> io::Result<()> {
    if let Some(mode) = mode {
        rustix::fs::fchmod(opened, Mode::from_raw_mode(mode & 0o777))?;
    }
    let times = rustix::fs::Timestamps {
        last_access: rustix::fs::Timespec { tv_sec: 0, tv_nsec: rustix::fs::UTIME_NOW },
        last_modification: rustix::fs::Timespec { tv_sec: mtime, tv_nsec: 0 },
    };
    Ok(rustix::fs::futimens(opened, &times)?)
}

/// Puts a staged file under its final name. Without `force`, a hard link never replaces an
/// existing file, unlike a plain rename; on a file system without hard links (FAT, some
/// network and FUSE file systems) the file is renamed with `RENAME_NOREPLACE`, which never
/// replaces either. With `force`, a rename replaces whatever file or link has the name, in
/// one step: the name never points at a partial file, and a link there is not followed.
fn place(staging: &OwnedFd, staged: &OsStr, parent: &OwnedFd, name: &OsStr, force: bool) -> Result<(), Errno> {
    if force {
        return rustix::fs::renameat(staging, staged, parent, name);
    }
    match rustix::fs::linkat(staging, staged, parent, name, AtFlags::empty()) {
        Err(Errno::PERM | Errno::OPNOTSUPP | Errno::MLINK) => {
            rustix::fs::renameat_with(staging, staged, parent, name, RenameFlags::NOREPLACE)
        }
        linked => linked,
    }
}

/// Opens (and with `create`, makes) each directory of `relative` under `dir`, one segment
/// at a time and never through a symbolic link. `None` when a segment is a link, a file, or
/// a name the file system cannot hold.
pub(crate) fn walk(dir: &OwnedFd, relative: &Path, create: bool) -> io::Result<Option<OwnedFd>> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let mut current = rustix::fs::openat(dir, ".", flags, Mode::empty())?;
    for component in relative.components() {
        let Component::Normal(name) = component else { return Ok(None) };
        let opened = match rustix::fs::openat(&current, name, flags, Mode::empty()) {
            Err(Errno::NOENT) if create => match rustix::fs::mkdirat(&current, name, Mode::from_raw_mode(0o755)) {
                Ok(()) | Err(Errno::EXIST) => rustix::fs::openat(&current, name, flags, Mode::empty()),
                Err(e) => Err(e),
            },
            other => other,
        };
        current = match opened {
            Ok(next) => next,
            Err(Errno::LOOP | Errno::NOTDIR | Errno::NAMETOOLONG | Errno::NOENT) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
    }
    Ok(Some(current))
}

/// The staging directory inside the target, removed with everything in it when dropped.
struct StagingDir {
    dir: OwnedFd,
    path: PathBuf,
    /// Members refused while staging: (name, reason), at most [`MAX_REFUSED`].
    refused: std::cell::RefCell<Vec<(String, String)>>,
    more_refused: std::cell::Cell<u64>,
}

impl StagingDir {
    fn create(target_dir: &OwnedFd, target: &Path) -> io::Result<Self> {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
        let name = format!("{STAGING_PREFIX}{}-{nanos}", std::process::id());
        rustix::fs::mkdirat(target_dir, name.as_str(), Mode::from_raw_mode(0o700))?;
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let dir = rustix::fs::openat(target_dir, name.as_str(), flags, Mode::empty())?;
        Ok(Self { dir, path: target.join(name), refused: Default::default(), more_refused: Default::default() })
    }

    fn refuse(&self, name: String, reason: &str) {
        let mut refused = self.refused.borrow_mut();
        if refused.len() < MAX_REFUSED {
            refused.push((name, reason.to_owned()));
        } else {
            self.more_refused.set(self.more_refused.get() + 1);
        }
    }
}

impl Drop for StagingDir {
    fn drop(&mut self) {
        // `remove_dir_all` does not follow a link put in the directory's place.
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// Prepares each regular member's destination and gives the pass a staging file for it;
/// the final names wait in a spool file (memory stays bounded whatever the member count).
struct Stage<'a> {
    target: OwnedFd,
    staging: &'a StagingDir,
    /// `INDEX MTIME NAME` per staged member (`d MTIME NAME` per directory), in member order.
    finals: BufWriter<Spool>,
    force: bool,
    /// The staged inventory's index, whose records give the files' modes.
    inventory: Option<usize>,
}

impl Stage<'_> {
    /// The member's path under the target when it is safe, else `None` (refusal recorded).
    fn safe(&self, bag: &str, rel: &str) -> Option<PathBuf> {
        let name = if rel.is_empty() { bag.to_owned() } else { format!("{bag}/{rel}") };
        let safe = reader::safe_relative(name.as_bytes());
        if safe.is_none() {
            self.staging.refuse(name, "path is absolute or leaves the target directory");
        }
        safe
    }
}

impl Staging for Stage<'_> {
    fn stage(&mut self, index: usize, bag: &str, rel: &str, mtime: u64) -> io::Result<Option<Box<dyn Write>>> {
        let Some(relative) = self.safe(bag, rel) else { return Ok(None) };
        let name = relative.to_string_lossy().into_owned();
        let Some(parent) = walk(&self.target, relative.parent().unwrap_or(Path::new("")), true)? else {
            self.staging
                .refuse(name, "path crosses a symlink or a file in the target directory, or is too long for it");
            return Ok(None);
        };
        let file_name = relative.file_name().expect("a normal last component");
        match rustix::fs::statat(&parent, file_name, AtFlags::SYMLINK_NOFOLLOW) {
            Err(Errno::NOENT) => {}
            Ok(stat) if rustix::fs::FileType::from_raw_mode(stat.st_mode).is_dir() => {
                self.staging.refuse(name, "a directory stands at this path in the target directory; not replaced");
                return Ok(None);
            }
            Ok(_) if self.force => {}
            Ok(_) => {
                self.staging
                    .refuse(name, "already exists in the target directory; not overwritten: use --force to replace it");
                return Ok(None);
            }
            Err(Errno::NAMETOOLONG) => {
                self.staging.refuse(name, "the name is too long for the target file system");
                return Ok(None);
            }
            Err(e) => return Err(e.into()),
        }
        let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let staged = rustix::fs::openat(&self.staging.dir, index.to_string(), flags, Mode::from_raw_mode(0o644))?;
        writeln!(self.finals, "{index} {mtime} {name}")?;
        if rel == INVENTORY {
            self.inventory = Some(index);
        }
        Ok(Some(Box::new(BufWriter::with_capacity(1 << 16, File::from(staged)))))
    }

    fn directory(&mut self, bag: &str, rel: &str, mtime: u64) -> io::Result<()> {
        let Some(relative) = self.safe(bag, rel) else { return Ok(()) };
        let name = relative.to_string_lossy().into_owned();
        if walk(&self.target, &relative, true)?.is_none() {
            self.staging
                .refuse(name, "path crosses a symlink or a file in the target directory, or is too long for it");
        } else {
            writeln!(self.finals, "{DIRECTORY} {mtime} {name}")?;
        }
        Ok(())
    }
}
