//! Opening an archive for reading, whatever its layout: one file (`NAME.tar.zst`), a volume
//! set (given by its first volume `NAME.tar.zst.001` or by the set's name), encrypted with
//! age (`NAME.tar.zst.age`, opened with the identities given by `-i`), or both.
//!
//! The sidecar gives the volumes' order and digests: a volume missing is named before
//! anything is read; each volume is hashed as it is read, and one that does not hold the
//! bytes the sidecar lists for its place is named (another volume's bytes: renamed or out of
//! order; nobody's: damaged or replaced) as soon as a reader above it fails or it ends.

use std::cell::{Cell, RefCell};
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use sha2::{Digest, Sha256};

use crate::reader::ArchiveError;
use crate::sink::volumes::MAX_VOLUMES;
use crate::verify::Sidecar;

/// The first bytes of every age file.
const AGE_MAGIC: &[u8] = b"age-encryption.org/v1\n";
/// A sidecar lists at most [`MAX_VOLUMES`] files; more than this is not one.
const MAX_SIDECAR: u64 = 256 << 10;
/// An identity file holds a few keys; more than this is not one.
const MAX_IDENTITY_FILE: u64 = 1 << 20;
/// An age header holds a stanza of a few hundred bytes per recipient; the `age` crate reads
/// a header whole, so a longer one is refused rather than read into memory.
const MAX_AGE_HEADER: u64 = 1 << 20;

/// An archive to read and the identities that may open it.
#[derive(Debug, Clone)]
pub struct Input {
    path: PathBuf,
    identities: Vec<PathBuf>,
}

/// The files of an archive, in order, and what its sidecar says of them.
struct Layout {
    files: Vec<PathBuf>,
    volumes: bool,
    /// The sidecar's lines (digest, file name), or why there is none to compare.
    sidecar: Result<Vec<(String, String)>, Sidecar>,
}

impl Input {
    /// The archive at `path`: a file, a volume set's name, or its first volume.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into(), identities: Vec::new() }
    }

    /// With age identity files or SSH private keys, for an encrypted archive.
    pub fn with_identities(mut self, identities: Vec<PathBuf>) -> Self {
        self.identities = identities;
        self
    }

    /// Checks, before any pass, what would make the archive unopenable: its files (a volume
    /// missing is an [`ArchiveError`]), the identity files, and whether they open an
    /// encrypted archive (both `InvalidInput`: the command line is wrong).
    pub fn preflight(&self) -> io::Result<()> {
        let layout = self.layout()?;
        let identities = load_identities(&self.identities)?;
        if starts_encrypted(&layout.files[0])? {
            self.decryptor(BufReader::new(File::open(&layout.files[0])?), &identities)?;
        }
        Ok(())
    }

    /// Opens the archive for one pass: the plaintext stream, and the transport checks
    /// (sidecar, volumes) known once the stream is read to its end.
    pub(crate) fn open(&self) -> io::Result<(Box<dyn Read>, Transport)> {
        let layout = self.layout()?;
        let encrypted = starts_encrypted(&layout.files[0])?;
        // The sidecar covers the bytes on disk: the archive reader hashes what it reads,
        // which is those bytes only for one unencrypted file.
        let hashed = layout.volumes || encrypted;
        let pieces = Rc::new(RefCell::new(Pieces {
            files: layout.files.clone(),
            next: 0,
            current: None,
            hasher: Sha256::new(),
            hashed,
            volumes: layout.volumes,
            digests: Vec::new(),
            expected: layout.sidecar.as_ref().ok().cloned(),
            failure: None,
        }));
        let raw = BufReader::with_capacity(1 << 16, SharedPieces(pieces.clone()));
        let transport = Transport { pieces: pieces.clone(), layout, encrypted };
        if !encrypted {
            return Ok((Box::new(raw), transport));
        }
        let identities = load_identities(&self.identities)?;
        let plain = self.decryptor(raw, &identities)?;
        Ok((Box::new(Decrypted { plain, pieces, failed: false }), transport))
    }

    fn decryptor<R: Read>(
        &self,
        raw: R,
        identities: &[Box<dyn age::Identity>],
    ) -> io::Result<age::stream::StreamReader<HeaderBound<R>>> {
        let shown = self.path.display();
        if identities.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{shown} is encrypted with age: give the identity that opens it with -i KEY"),
            ));
        }
        let left = Rc::new(Cell::new(Some(MAX_AGE_HEADER)));
        let decryptor = age::Decryptor::new(HeaderBound { inner: raw, left: left.clone() })
            .map_err(|e| header_fault(&shown, &e))?;
        left.set(None);
        decryptor.decrypt(identities.iter().map(|i| i.as_ref() as &dyn age::Identity)).map_err(|e| match e {
            age::DecryptError::NoMatchingKeys => io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "no identity given with -i opens {shown}: it is encrypted to other keys; give the private key \
                     matching one of the recipients of the export"
                ),
            ),
            other => header_fault(&shown, &other),
        })
    }

    fn layout(&self) -> io::Result<Layout> {
        let name = self.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let set = if let Some(set) = name.strip_suffix(".001") {
            Some(self.path.with_file_name(set))
        } else if !self.path.exists() && with_suffix(&self.path, ".001").exists() {
            Some(self.path.clone())
        } else {
            None
        };
        let Some(set) = set else {
            let sidecar = read_sidecar(&with_suffix(&self.path, ".sha256"));
            return Ok(Layout { files: vec![self.path.clone()], volumes: false, sidecar });
        };
        let sidecar = read_sidecar(&with_suffix(&set, ".sha256"));
        let shown = set.display();
        let files: Vec<PathBuf> = match &sidecar {
            Ok(lines) => {
                // Only names of this set, beside it: a sidecar never points elsewhere.
                let volume = |n: usize| with_suffix(&set, &format!(".{n:03}"));
                let mut files = Vec::new();
                for (n, (_, listed)) in (1..).zip(lines) {
                    let expected = volume(n);
                    if expected.file_name().is_none_or(|f| f.to_string_lossy() != *listed) {
                        return Err(fault(format!(
                            "the sidecar {shown}.sha256 lists {listed:?} in place {n}, not {}: it is not this \
                             volume set's sidecar",
                            expected.display()
                        )));
                    }
                    files.push(expected);
                }
                files
            }
            Err(_) => {
                let mut files = Vec::new();
                for n in 1..=MAX_VOLUMES {
                    let volume = with_suffix(&set, &format!(".{n:03}"));
                    if !volume.exists() {
                        break;
                    }
                    files.push(volume);
                }
                files
            }
        };
        let listed = files.len();
        if let Some(missing) = files.iter().find(|f| !f.exists()) {
            return Err(fault(format!(
                "volume {} is missing: the sidecar {shown}.sha256 lists {listed} volumes; put it back beside the others",
                missing.display()
            )));
        }
        let after = with_suffix(&set, &format!(".{:03}", listed + 1));
        if sidecar.is_err()
            && (listed + 2..=MAX_VOLUMES as usize).any(|n| with_suffix(&set, &format!(".{n:03}")).exists())
        {
            return Err(fault(format!(
                "volume {} is missing: later volumes of {shown} are there; put it back beside the others",
                after.display()
            )));
        }
        if files.is_empty() {
            return Err(io::Error::new(io::ErrorKind::NotFound, format!("no volume {shown}.001")));
        }
        Ok(Layout { files, volumes: true, sidecar })
    }
}

/// What the transport checks found, once the stream was read to its end.
pub(crate) struct Transport {
    pieces: Rc<RefCell<Pieces>>,
    layout: Layout,
    encrypted: bool,
}

impl Transport {
    /// Whether the files are hashed as they are read (encrypted or cut into volumes): the
    /// archive reader's own digest is then of no use.
    pub(crate) fn hashes_files(&self) -> bool {
        self.pieces.borrow().hashed
    }

    /// The sidecar's verdict and the problems of named volumes. `plain_digest` is the
    /// digest of the stream the archive reader hashed itself: the file's own when it is one
    /// unencrypted file.
    pub(crate) fn verdict(&self, plain_digest: &str) -> (Sidecar, Vec<String>) {
        let pieces = self.pieces.borrow();
        let lines = match &self.layout.sidecar {
            Ok(lines) => lines,
            Err(sidecar) => return (sidecar.clone(), Vec::new()),
        };
        if !self.layout.volumes {
            let actual = if self.encrypted {
                pieces.digests.first().cloned().unwrap_or_default()
            } else {
                plain_digest.to_owned()
            };
            let expected = &lines[0].0;
            return if expected.eq_ignore_ascii_case(&actual) {
                (Sidecar::Matched, Vec::new())
            } else {
                (Sidecar::Mismatch { expected: expected.clone(), actual }, Vec::new())
            };
        }
        let mut problems = Vec::new();
        let mut sidecar = Sidecar::Matched;
        for (n, (expected, _)) in lines.iter().enumerate() {
            let actual = pieces.digests.get(n).cloned().unwrap_or_default();
            if !expected.eq_ignore_ascii_case(&actual) {
                problems.push(misplaced(&pieces.files, lines, n, &actual));
                if matches!(sidecar, Sidecar::Matched) {
                    sidecar = Sidecar::Mismatch { expected: expected.clone(), actual };
                }
            }
        }
        (sidecar, problems)
    }

    /// The error to report for a pass that failed with `error`: a volume out of place or
    /// damaged explains it better, and the rest of the files is read to find one.
    pub(crate) fn explain(&self, error: io::Error) -> io::Error {
        if !self.layout.volumes {
            return error;
        }
        match drain(&self.pieces) {
            Ok(Some(problem)) => fault(problem),
            _ => error,
        }
    }
}

/// The files read one after the other, each hashed (when `hashed`) and checked against the
/// sidecar at its end.
struct Pieces {
    files: Vec<PathBuf>,
    next: usize,
    current: Option<File>,
    hasher: Sha256,
    hashed: bool,
    volumes: bool,
    digests: Vec<String>,
    expected: Option<Vec<(String, String)>>,
    /// The first volume found out of place or damaged.
    failure: Option<String>,
}

impl Read for Pieces {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.current.is_none() {
                let Some(path) = self.files.get(self.next) else { return Ok(0) };
                self.current = Some(File::open(path)?);
            }
            let n = self.current.as_mut().expect("open").read(buf)?;
            if n > 0 || buf.is_empty() {
                if self.hashed {
                    self.hasher.update(&buf[..n]);
                }
                return Ok(n);
            }
            self.current = None;
            let digest = hex::encode(self.hasher.finalize_reset());
            self.digests.push(digest.clone());
            let place = self.next;
            self.next += 1;
            let expected = self.expected.as_ref().filter(|_| self.volumes && self.failure.is_none());
            if let Some((listed, _)) = expected.and_then(|lines| lines.get(place))
                && !listed.eq_ignore_ascii_case(&digest)
            {
                let lines = self.expected.as_ref().expect("checked");
                self.failure = Some(misplaced(&self.files, lines, place, &digest));
            }
        }
    }
}

/// What a volume whose digest is not the one its place lists holds.
fn misplaced(files: &[PathBuf], lines: &[(String, String)], place: usize, actual: &str) -> String {
    let shown = |n: usize| files.get(n).map_or_else(|| format!("volume {}", n + 1), |f| f.display().to_string());
    match lines.iter().position(|(digest, _)| digest.eq_ignore_ascii_case(actual)) {
        Some(other) => format!(
            "{} holds the bytes the sidecar lists for {}: the volumes were renamed or put out of order; rename them \
             as the sidecar lists them",
            shown(place),
            shown(other)
        ),
        None => format!(
            "{} does not match its sha256 in the sidecar (sha256 {actual}): it is damaged or replaced",
            shown(place)
        ),
    }
}

/// Reads what is left of the files, hashing each volume; returns the first volume found
/// out of place or damaged, if one is.
fn drain(pieces: &RefCell<Pieces>) -> io::Result<Option<String>> {
    let mut pieces = pieces.borrow_mut();
    let mut scratch = vec![0u8; 1 << 16];
    while pieces.failure.is_none() && pieces.read(&mut scratch)? > 0 {}
    Ok(pieces.failure.clone())
}

/// [`Pieces`] shared between the decryptor reading it and the reader that, when decryption
/// fails, reads the rest to name a volume out of place.
struct SharedPieces(Rc<RefCell<Pieces>>);

impl Read for SharedPieces {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.borrow_mut().read(buf)
    }
}

/// The plaintext of an encrypted archive: a failure of age's authentication is an archive
/// fault, named after the volume that caused it when one is out of place.
struct Decrypted {
    plain: age::stream::StreamReader<HeaderBound<BufReader<SharedPieces>>>,
    pieces: Rc<RefCell<Pieces>>,
    /// Whether a read failed: the failure was reported, and the files read to their end
    /// (to hash them for the sidecar), so every later read is the end of the stream, which
    /// lets a verification that recorded the failure finish its pass.
    failed: bool,
}

impl Read for Decrypted {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.failed {
            return Ok(0);
        }
        self.plain.read(buf).map_err(|error| {
            if ArchiveError::is_archive_fault(&error) {
                return error;
            }
            let message = match drain(&self.pieces) {
                Err(e) => return e,
                Ok(Some(problem)) => problem,
                Ok(None) => format!(
                    "the encrypted stream is damaged or was tampered with ({error}): age authenticates every 64 KiB, \
                     and this part does not match"
                ),
            };
            self.failed = true;
            fault(message)
        })
    }
}

/// Whether the file starts as an age file does. Only a regular file is looked at: reading
/// the start of a pipe would take those bytes from the pass (a pipe is read as a plain
/// archive).
fn starts_encrypted(first: &Path) -> io::Result<bool> {
    if !std::fs::metadata(first)?.is_file() {
        return Ok(false);
    }
    let mut start = Vec::with_capacity(AGE_MAGIC.len());
    File::open(first)?.take(AGE_MAGIC.len() as u64).read_to_end(&mut start)?;
    Ok(start == AGE_MAGIC)
}

/// Reads at most [`MAX_AGE_HEADER`] bytes while `left` is set (the header being parsed),
/// then without a bound (the payload, read chunk by chunk).
struct HeaderBound<R> {
    inner: R,
    left: Rc<Cell<Option<u64>>>,
}

impl<R: Read> Read for HeaderBound<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(left) = self.left.get() else { return self.inner.read(buf) };
        if left == 0 {
            return Err(fault(format!(
                "the age header is longer than {MAX_AGE_HEADER} bytes: not an archive Sortie wrote"
            )));
        }
        let room = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..room])?;
        self.left.set(Some(left - n as u64));
        Ok(n)
    }
}

fn header_fault(shown: &dyn std::fmt::Display, error: &age::DecryptError) -> io::Error {
    fault(format!("the age header of {shown} is damaged or not age's ({error})"))
}

fn fault(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, ArchiveError::new(message))
}

/// The sidecar's lines, `DIGEST  NAME` (or `DIGEST *NAME`), read no further than
/// [`MAX_SIDECAR`].
fn read_sidecar(path: &Path) -> Result<Vec<(String, String)>, Sidecar> {
    let mut text = String::new();
    match File::open(path).and_then(|file| file.take(MAX_SIDECAR).read_to_string(&mut text)) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(Sidecar::Missing),
        Err(e) => return Err(Sidecar::Unreadable { error: e.to_string() }),
        Ok(_) => {}
    }
    let mut lines = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let (digest, name) = line.split_once(' ').unwrap_or((line, ""));
        let name = name.trim_start_matches(' ').trim_start_matches('*');
        if digest.len() != 64 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Sidecar::Unreadable { error: "not in sha256sum format".to_owned() });
        }
        lines.push((digest.to_owned(), name.to_owned()));
    }
    if lines.is_empty() {
        return Err(Sidecar::Unreadable { error: "not in sha256sum format".to_owned() });
    }
    Ok(lines)
}

/// Reads age identity files (age-keygen's) and SSH private keys.
fn load_identities(files: &[PathBuf]) -> io::Result<Vec<Box<dyn age::Identity>>> {
    let mut identities: Vec<Box<dyn age::Identity>> = Vec::new();
    for file in files {
        let shown = file.display();
        let bad = |why: String| io::Error::new(io::ErrorKind::InvalidInput, format!("identity {shown}: {why}"));
        let mut text = String::new();
        File::open(file)
            .and_then(|f| f.take(MAX_IDENTITY_FILE).read_to_string(&mut text))
            .map_err(|e| bad(format!("cannot be read ({e}); check the path")))?;
        let native = age::IdentityFile::from_buffer(text.as_bytes())
            .and_then(|f| f.into_identities().map_err(|e| io::Error::other(e.to_string())));
        if let Ok(found) = native
            && !found.is_empty()
        {
            identities.extend(found);
            continue;
        }
        match age::ssh::Identity::from_buffer(text.as_bytes(), Some(shown.to_string())) {
            Ok(age::ssh::Identity::Unencrypted(key)) => identities.push(Box::new(age::ssh::Identity::Unencrypted(key))),
            Ok(age::ssh::Identity::Encrypted(_)) => {
                return Err(bad(
                    "a passphrase-protected SSH key is not supported here: decrypt with `age -d -i KEY` and give \
                     Sortie the .tar.zst"
                        .to_owned(),
                ));
            }
            Ok(age::ssh::Identity::Unsupported(_)) => {
                return Err(bad("this SSH key type is not supported by age".to_owned()));
            }
            Err(_) => {
                return Err(bad(
                    "not an age identity file (AGE-SECRET-KEY-1…) or an SSH private key (ssh-ed25519, ssh-rsa)"
                        .to_owned(),
                ));
            }
        }
    }
    Ok(identities)
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}
