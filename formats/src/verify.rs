//! `verify`: one sequential pass that re-hashes every member and checks the bag the way
//! bagit-python's validator and `sha256sum -c` would, plus the archive-level checks only
//! Sortie's format promises (zstd frame checksums, the sidecar, tag manifest last).
//!
//! Memory stays bounded: payload digests and the manifest are spooled to temporary files
//! and compared line by line, which works because the writer puts manifest lines in member
//! order; an archive in another order falls back to an in-memory comparison.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::hash::BuildHasher;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;

use serde::Serialize;
use sha2::{Digest, Sha256};
use tar::EntryType;

use crate::bagit::{self, BAG_INFO, BAGIT, MANIFEST, MAX_SEAL, SEALS, SIGNER_KEY, TAG_MANIFEST};
use crate::reader::{self, ArchiveError};
use crate::shown::shown;

/// Problems kept in full; the rest are only counted.
const MAX_PROBLEMS: usize = 1000;
/// Tag files (outside `data/`) tracked; Sortie writes six.
pub(crate) const MAX_TAG_FILES: usize = 1000;
/// Paths compared in memory when the manifest is not in member order (Sortie writes it in
/// order; only a rewritten archive lands here), in bytes of path.
const MAX_UNORDERED_BYTES: usize = 64 << 20;
/// Paths and directories remembered to find duplicates and file/directory clashes: about
/// 10 bytes each.
const MAX_TREE_ENTRIES: usize = 32_000_000;
/// Tag files read into memory: anything larger is not one of ours.
pub(crate) const MAX_SMALL_TAG: u64 = 1 << 20;

/// One thing found wrong.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    /// The member concerned, relative to the bag root, when one is.
    pub member: Option<String>,
    /// What is wrong.
    pub message: String,
}

/// What the `.sha256` sidecar said.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Sidecar {
    /// It matched the file.
    Matched,
    /// There is none beside the archive.
    Missing,
    /// It names another digest.
    Mismatch {
        /// Digest in the sidecar.
        expected: String,
        /// Digest of the file.
        actual: String,
    },
    /// It could not be read or parsed.
    Unreadable {
        /// Why.
        error: String,
    },
    /// What was verified is an extracted bag directory, not an archive file.
    NotApplicable,
}

/// The result of verifying one archive.
#[derive(Debug, Clone, Serialize)]
pub struct Verification {
    /// The bag's top directory.
    pub bag: Option<String>,
    /// Tar members read.
    pub members: u64,
    /// Payload files read.
    pub payload_files: u64,
    /// Payload bytes read.
    pub payload_bytes: u64,
    /// Directories under `data/`: with the files, the items an export counts as archived
    /// (symbolic links and other items without a member aside).
    pub payload_directories: u64,
    /// `Sortie-Complete` from bag-info.txt.
    pub complete: Option<bool>,
    /// Sidecar check.
    pub sidecar: Sidecar,
    /// Everything found wrong (at most a thousand; see `more_problems`).
    pub problems: Vec<Problem>,
    /// Problems beyond those listed.
    pub more_problems: u64,
    /// What a signature check needs from the bag (`sortie verify --key`); not printed.
    #[serde(skip)]
    pub evidence: Evidence,
}

/// The bag's evidence as read: the signed bytes and the seals over them. Nothing here is
/// trusted until a signature check with a key the reader chose says so.
#[derive(Debug, Clone, Default)]
pub struct Evidence {
    /// The tag manifest's bytes (what the seals cover), when it was small enough to keep.
    pub tag_manifest: Option<Vec<u8>>,
    /// `sortie/signer.pub`, the public key the bag names as its signer's.
    pub signer_key: Option<Vec<u8>>,
    /// `tagmanifest-sha256.txt.minisig`.
    pub signature: Option<Vec<u8>>,
    /// `tagmanifest-sha256.txt.tsr`.
    pub timestamp: Option<Vec<u8>>,
}

impl Evidence {
    /// Takes the small tag files and seals read by a verification pass.
    pub(crate) fn of(small_tags: &mut HashMap<String, Vec<u8>>) -> Self {
        Self {
            tag_manifest: small_tags.get(TAG_MANIFEST).cloned(),
            signer_key: small_tags.remove(SIGNER_KEY),
            signature: small_tags.remove(SEALS[0]),
            timestamp: small_tags.remove(SEALS[1]),
        }
    }
}

impl Verification {
    /// True when nothing is wrong. A missing sidecar is not a fault of the archive.
    pub fn intact(&self) -> bool {
        self.problems.is_empty() && !matches!(self.sidecar, Sidecar::Mismatch { .. } | Sidecar::Unreadable { .. })
    }

    /// Nothing read yet.
    pub(crate) fn new(sidecar: Sidecar) -> Self {
        Self {
            bag: None,
            members: 0,
            payload_files: 0,
            payload_bytes: 0,
            payload_directories: 0,
            complete: None,
            sidecar,
            problems: Vec::new(),
            more_problems: 0,
            evidence: Evidence::default(),
        }
    }

    pub(crate) fn problem(&mut self, member: Option<&str>, message: impl Into<String>) {
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(Problem { member: member.map(shown), message: shown(&message.into()) });
        } else {
            self.more_problems += 1;
        }
    }
}

/// Where `extract` puts the regular members the pass reads, before their digests are
/// known to match the manifests (which come after them in the archive).
pub(crate) trait Staging {
    /// Member number `index` (counting regular files only), at bag-relative `rel` under the
    /// bag `bag`, last modified at `mtime` (seconds since the epoch), is about to be read:
    /// where its bytes go, or `None` when it will not be written (the staging records why).
    fn stage(&mut self, index: usize, bag: &str, rel: &str, mtime: u64) -> io::Result<Option<Box<dyn Write>>>;

    /// A directory member at bag-relative `rel`, last modified at `mtime`.
    fn directory(&mut self, bag: &str, rel: &str, mtime: u64) -> io::Result<()>;
}

/// Verifies the archive at `path`. An `Err` means it could not be opened at all, or a local
/// input/output failure stopped the pass.
pub fn verify(path: &Path) -> io::Result<Verification> {
    Ok(verify_staging(path, None)?.0)
}

/// Verifies an archive read from any reader, without a sidecar to compare: the entry point
/// of the fuzz target (`fuzz/`) and of tests that hold an archive in memory.
pub fn verify_reader(reader: Box<dyn Read>) -> io::Result<Verification> {
    Ok(verify_archive(reader::from_reader(reader)?, None, None)?.0)
}

/// The verification pass; with `staging`, every regular member's bytes are also written
/// where it says. Returns which regular members (by index) match their manifest.
pub(crate) fn verify_staging(path: &Path, staging: Option<&mut dyn Staging>) -> io::Result<(Verification, Vec<bool>)> {
    verify_archive(reader::open(path)?, Some(path), staging)
}

fn verify_archive(
    mut archive: reader::Archive,
    path: Option<&Path>,
    mut staging: Option<&mut dyn Staging>,
) -> io::Result<(Verification, Vec<bool>)> {
    let frames = archive.frames();
    let mut v = Verification::new(Sidecar::Missing);
    let mut payload = BufWriter::new(tempfile::tempfile()?);
    // Which regular member each payload line and tag file came from.
    let mut payload_members: Vec<u32> = Vec::new();
    let mut accepted: Vec<bool> = Vec::new();
    let mut manifest: Option<(File, usize)> = None;
    let mut small_tags: HashMap<String, Vec<u8>> = HashMap::new();
    let mut tag_digests: Vec<(String, String, usize)> = Vec::new();
    let mut last: Option<String> = None;
    let mut after_tag_manifest = false;
    let mut broken = false;
    let mut tree = Tree::default();
    // Members read since the last frame that passed its checksum: the ones a damaged frame
    // may hold.
    let mut unchecked = FrameMembers::default();

    for member in archive.members()? {
        let mut member = match member {
            Ok(member) => member,
            Err(e) if ArchiveError::is_archive_fault(&e) => {
                v.problem(last.as_deref(), format!("the archive is truncated or corrupt after this member: {e}"));
                unchecked.report(&mut v, &e);
                broken = true;
                break;
            }
            Err(e) => return Err(e),
        };
        unchecked.frames_now(frames.get());
        v.members += 1;
        let (full, utf8) = member.path();
        let (bag, rel) = full.split_once('/').unwrap_or((full.as_str(), ""));
        let rel = rel.trim_end_matches('/').to_owned();
        let kind = member.kind();
        last = Some(rel.clone());
        unchecked.push(&rel);
        if !utf8 {
            v.problem(Some(&full), "member path is not valid UTF-8");
            continue;
        }
        if reader::safe_relative(member.path_bytes()).is_none() {
            v.problem(
                Some(&full),
                "member path is absolute, leaves the bag or has empty, '.' or '..' segments: extract refuses it",
            );
            continue;
        }
        if full.chars().any(char::is_control) {
            v.problem(Some(&full), "member path holds a control character, which Sortie never writes");
            continue;
        }
        match &v.bag {
            None => v.bag = Some(bag.to_owned()),
            Some(first) if first != bag => {
                v.problem(Some(&full), format!("member is outside the bag directory {first}/"));
                continue;
            }
            Some(_) => {}
        }
        let seal = after_tag_manifest
            && kind == EntryType::Regular
            && SEALS.contains(&rel.as_str())
            && member.size() <= MAX_SEAL;
        if after_tag_manifest && !seal {
            v.problem(
                Some(&rel),
                format!("member follows {TAG_MANIFEST}, which must be last but for its signature and time stamp"),
            );
        }
        if kind == EntryType::Regular && full.ends_with('/') {
            v.problem(Some(&full), "a file member named like a directory (a trailing '/'): tools disagree on it");
            continue;
        }
        if let Err(conflict) = tree.add(&full, kind == EntryType::Directory) {
            v.problem(Some(&full), conflict);
            continue;
        }
        if kind == EntryType::Directory {
            if rel.starts_with("data/") {
                v.payload_directories += 1;
            }
            if let Some(staging) = staging.as_deref_mut() {
                staging.directory(bag, &rel, member.mtime())?;
            }
            continue;
        }
        if kind != EntryType::Regular {
            v.problem(
                Some(&rel),
                format!("unexpected member type {kind:?}: a Sortie archive holds only files and directories"),
            );
            continue;
        }
        let index = accepted.len();
        accepted.push(false);
        let mut staged: Box<dyn Write> = match staging.as_deref_mut() {
            Some(staging) => staging.stage(index, bag, &rel, member.mtime())?.unwrap_or_else(|| Box::new(io::sink())),
            None => Box::new(io::sink()),
        };
        let size = member.size();
        let mut hasher = Sha256::new();
        let read = if rel.starts_with("data/") {
            copy_hashing(&mut member, &mut hasher, &mut staged)
        } else if rel == MANIFEST {
            let mut spool = tempfile::tempfile()?;
            let read = copy_hashing(&mut member, &mut hasher, &mut Tee(&mut spool, &mut staged));
            manifest = Some((spool, index));
            read
        } else if seal || (size <= MAX_SMALL_TAG && [BAGIT, BAG_INFO, TAG_MANIFEST, SIGNER_KEY].contains(&rel.as_str()))
        {
            let mut content = Vec::new();
            let read = copy_hashing(&mut member, &mut hasher, &mut Tee(&mut content, &mut staged));
            small_tags.insert(rel.clone(), content);
            read
        } else {
            copy_hashing(&mut member, &mut hasher, &mut staged)
        };
        let read = read.and_then(|()| staged.flush());
        drop(staged);
        if let Err(e) = read {
            if !ArchiveError::is_archive_fault(&e) {
                return Err(e);
            }
            v.problem(Some(&rel), format!("the archive is truncated or corrupt inside this member: {e}"));
            unchecked.report(&mut v, &e);
            broken = true;
            break;
        }
        let digest = hex::encode(hasher.finalize());
        if rel.starts_with("data/") {
            writeln!(payload, "{digest}  {rel}")?;
            payload_members.push(index as u32);
            v.payload_files += 1;
            v.payload_bytes += size;
        } else if seal {
            // Not covered by the tag manifest: only a signature check can vouch for it.
            accepted[index] = true;
        } else if tag_digests.len() >= MAX_TAG_FILES {
            v.problem(Some(&rel), format!("more than {MAX_TAG_FILES} tag files: not a Sortie archive"));
        } else if rel == TAG_MANIFEST {
            after_tag_manifest = true;
            tag_digests.push((rel, String::new(), index));
        } else {
            tag_digests.push((rel, digest, index));
        }
    }
    let (trailing, file_digest) = archive.finish(broken)?;
    match trailing {
        Ok(0) => {}
        Ok(n) => v.problem(None, format!("{n} non-zero bytes follow the end of the tar archive")),
        Err(e) => {
            if v.problems.is_empty() {
                v.problem(last.as_deref(), format!("the archive is truncated or corrupt after this member: {e}"));
            }
        }
    }
    if let Some(path) = path {
        v.sidecar = check_sidecar(path, &file_digest);
    }

    check_bagit_txt(&mut v, small_tags.get(BAGIT));
    let tags_ok = check_tag_manifest(&mut v, small_tags.get(TAG_MANIFEST), &tag_digests, &mut accepted);
    let payload = payload.into_inner().map_err(|e| e.into_error())?;
    match manifest {
        Some((manifest, index)) => {
            let trusted = accepted[index];
            compare_manifest(&mut v, payload, manifest, |line| {
                if trusted {
                    accepted[payload_members[line] as usize] = true;
                }
            })?
        }
        None => v.problem(Some(MANIFEST), "the payload manifest is missing"),
    }
    if let Some((_, _, index)) = tag_digests.iter().find(|(rel, ..)| rel == TAG_MANIFEST) {
        accepted[*index] = tags_ok;
    }
    check_bag_info(&mut v, small_tags.get(BAG_INFO));
    v.evidence = Evidence::of(&mut small_tags);
    Ok((v, accepted))
}

/// The paths met so far, by a keyed hash (so no archive can aim at collisions), to find a
/// member that appears twice, or a path that is a file to one member and a directory to
/// another: tools extract such archives differently.
#[derive(Default)]
struct Tree {
    files: HashSet<u64>,
    dirs: HashSet<u64>,
    hasher: std::hash::RandomState,
    full: bool,
}

impl Tree {
    fn add(&mut self, path: &str, is_dir: bool) -> Result<(), String> {
        if self.files.len() + self.dirs.len() > MAX_TREE_ENTRIES {
            if !std::mem::replace(&mut self.full, true) {
                return Err(format!(
                    "more than {MAX_TREE_ENTRIES} paths and directories: verify cannot check the rest for duplicates"
                ));
            }
            return Ok(());
        }
        let path = path.trim_end_matches('/');
        let key = self.hasher.hash_one(path);
        for (at, _) in path.match_indices('/') {
            let ancestor = self.hasher.hash_one(&path[..at]);
            if self.files.contains(&ancestor) {
                return Err(format!("lies under {}, which is a file member", &path[..at]));
            }
            self.dirs.insert(ancestor);
        }
        if self.files.contains(&key) {
            return Err("appears twice in the archive".to_owned());
        }
        if is_dir {
            self.dirs.insert(key);
        } else if self.dirs.contains(&key) {
            return Err("is a file member and also a directory of other members".to_owned());
        } else {
            self.files.insert(key);
        }
        Ok(())
    }
}

/// Writes to two writers.
struct Tee<'a, A, B: ?Sized>(&'a mut A, &'a mut B);

impl<A: Write, B: Write + ?Sized> Write for Tee<'_, A, B> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write_all(buf)?;
        self.1.write_all(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()?;
        self.1.flush()
    }
}

/// The members of the zstd frame being read.
#[derive(Default)]
struct FrameMembers {
    frames: u64,
    names: Vec<String>,
    more: u64,
}

impl FrameMembers {
    /// Forgets the members of frames that completed (and so passed their checksum).
    fn frames_now(&mut self, frames: u64) {
        if frames != self.frames {
            self.frames = frames;
            self.names.clear();
            self.more = 0;
        }
    }

    fn push(&mut self, name: &str) {
        if self.names.len() < 100 {
            self.names.push(shown(name));
        } else {
            self.more += 1;
        }
    }

    /// Names every member whose bytes came from the frame that failed.
    fn report(&self, v: &mut Verification, error: &io::Error) {
        let [.., last] = self.names.as_slice() else { return };
        for name in &self.names {
            if name != last {
                v.problem(
                    Some(name),
                    format!("read from a damaged zstd frame: its content cannot be trusted ({error})"),
                );
            }
        }
        if self.more > 0 {
            v.problem(None, format!("… and {} more members read from the damaged zstd frame", self.more));
        }
    }
}

pub(crate) fn copy_hashing(from: &mut impl Read, hasher: &mut Sha256, to: &mut impl Write) -> io::Result<()> {
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = from.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        hasher.update(&buf[..n]);
        to.write_all(&buf[..n])?;
    }
}

fn check_sidecar(archive: &Path, actual: &str) -> Sidecar {
    let mut name = archive.as_os_str().to_owned();
    name.push(".sha256");
    // A sidecar is one line; a larger one (or a link to /dev/zero) is read no further.
    let mut text = String::new();
    let read = File::open(&name).and_then(|file| file.take(4096).read_to_string(&mut text));
    match read {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Sidecar::Missing,
        Err(e) => Sidecar::Unreadable { error: e.to_string() },
        Ok(_) => match text.split_whitespace().next() {
            Some(expected) if expected.len() == 64 => {
                if expected.eq_ignore_ascii_case(actual) {
                    Sidecar::Matched
                } else {
                    Sidecar::Mismatch { expected: expected.to_owned(), actual: actual.to_owned() }
                }
            }
            _ => Sidecar::Unreadable { error: "not in sha256sum format".to_owned() },
        },
    }
}

pub(crate) fn check_bagit_txt(v: &mut Verification, content: Option<&Vec<u8>>) {
    match content {
        None => v.problem(Some(BAGIT), "bagit.txt is missing: this is not a BagIt bag"),
        Some(text) => {
            let fields = bagit::parse_bag_info(&String::from_utf8_lossy(text));
            if !fields.iter().any(|(k, val)| k == "BagIt-Version" && (val == "1.0" || val == "0.97")) {
                v.problem(Some(BAGIT), "bagit.txt does not declare BagIt-Version 1.0");
            }
        }
    }
}

/// The longest manifest line read: a digest and a path, which the reader bounds already
/// (escaping can triple it); anything longer is reported, not read into memory.
const MAX_LINE: usize = 3 * reader::MAX_EXTENSION as usize + 128;

/// The lines of a spooled file, each read with at most [`MAX_LINE`] bytes kept: a longer
/// line comes as `Err` with its length and is skipped.
pub(crate) struct Lines {
    file: BufReader<File>,
}

impl Lines {
    pub(crate) fn of(mut file: File) -> io::Result<Self> {
        file.seek(SeekFrom::Start(0))?;
        Ok(Self { file: BufReader::new(file) })
    }

    fn next_line(&mut self) -> io::Result<Option<Result<String, u64>>> {
        let mut line = Vec::new();
        let mut length = 0u64;
        loop {
            let buf = self.file.fill_buf()?;
            if buf.is_empty() {
                if length == 0 {
                    return Ok(None);
                }
                break;
            }
            let (chunk, ended) = match buf.iter().position(|b| *b == b'\n') {
                Some(at) => (&buf[..at], at + 1),
                None => (buf, 0),
            };
            length += chunk.len() as u64;
            if line.len() + chunk.len() <= MAX_LINE {
                line.extend_from_slice(chunk);
            }
            let consumed = if ended > 0 { ended } else { chunk.len() };
            self.file.consume(consumed);
            if ended > 0 {
                break;
            }
        }
        if length > MAX_LINE as u64 {
            return Ok(Some(Err(length)));
        }
        Ok(Some(Ok(String::from_utf8_lossy(&line).trim_end_matches('\r').to_owned())))
    }
}

impl Iterator for Lines {
    type Item = io::Result<Result<String, u64>>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_line().transpose()
    }
}

/// Compares the payload members' digests with the manifest; `matched` is called with the
/// number of every payload line whose digest the manifest confirms.
fn compare_manifest(
    v: &mut Verification,
    payload: File,
    manifest: File,
    mut matched: impl FnMut(usize),
) -> io::Result<()> {
    let mut found = Lines::of(payload)?.enumerate().peekable();
    let mut listed = Lines::of(manifest)?.peekable();
    // Ordered walk: both sides in member order, as Sortie writes them.
    while let (Some((line_no, Ok(Ok(have)))), Some(Ok(want))) = (found.peek(), listed.peek()) {
        let want = match want {
            Ok(want) => want,
            Err(length) => {
                v.problem(Some(MANIFEST), format!("a manifest line of {length} bytes is refused as malformed"));
                listed.next();
                continue;
            }
        };
        let Some((want_digest, want_path)) = bagit::parse_manifest_line(want) else {
            v.problem(Some(MANIFEST), format!("malformed manifest line: {:?}", shown(want)));
            listed.next();
            continue;
        };
        let (have_digest, have_path) = have.split_once("  ").unwrap_or_default();
        if have_path != want_path {
            break;
        }
        if have_digest.eq_ignore_ascii_case(want_digest) {
            matched(*line_no);
        } else {
            v.problem(
                Some(&want_path),
                format!("sha256 mismatch: manifest says {want_digest}, content is {have_digest}"),
            );
        }
        found.next();
        listed.next();
    }
    // Whatever remains is compared by path.
    let mut have: HashMap<String, (String, usize)> = HashMap::new();
    let mut held = 0;
    for (line_no, line) in found {
        let Ok(line) = line? else { continue };
        let (digest, path) = line.split_once("  ").unwrap_or_default();
        held += path.len();
        if held > MAX_UNORDERED_BYTES {
            v.problem(
                Some(MANIFEST),
                "the manifest is not in member order (as Sortie writes it) for more paths than verify compares in memory: check the bag with sha256sum -c or bagit.py",
            );
            return Ok(());
        }
        if have.insert(path.to_owned(), (digest.to_owned(), line_no)).is_some() {
            v.problem(Some(path), "payload member appears twice");
        }
    }
    for line in listed {
        let line = match line? {
            Ok(line) => line,
            Err(length) => {
                v.problem(Some(MANIFEST), format!("a manifest line of {length} bytes is refused as malformed"));
                continue;
            }
        };
        let Some((want_digest, want_path)) = bagit::parse_manifest_line(&line) else {
            v.problem(Some(MANIFEST), format!("malformed manifest line: {:?}", shown(&line)));
            continue;
        };
        match have.remove(&want_path) {
            None => v.problem(Some(&want_path), "listed in the manifest but missing from the archive"),
            Some((digest, _)) if !digest.eq_ignore_ascii_case(want_digest) => v.problem(
                Some(&want_path),
                format!("sha256 mismatch: manifest says {want_digest}, content is {digest}"),
            ),
            Some((_, line_no)) => matched(line_no),
        }
    }
    let mut extra: Vec<String> = have.into_keys().collect();
    extra.sort();
    for path in extra {
        v.problem(Some(&path), "payload member is not listed in the manifest");
    }
    Ok(())
}

/// Checks the tag files against the tag manifest, marking those that match as accepted;
/// true when the tag manifest itself is sound (every line parsed and matched).
pub(crate) fn check_tag_manifest(
    v: &mut Verification,
    content: Option<&Vec<u8>>,
    computed: &[(String, String, usize)],
    accepted: &mut [bool],
) -> bool {
    let Some(content) = content else {
        v.problem(Some(TAG_MANIFEST), "the tag manifest is missing");
        return false;
    };
    let before = v.problems.len() as u64 + v.more_problems;
    let mut computed: HashMap<&str, (&str, usize)> = computed
        .iter()
        .filter(|(rel, ..)| rel != TAG_MANIFEST)
        .map(|(k, d, index)| (k.as_str(), (d.as_str(), *index)))
        .collect();
    for line in String::from_utf8_lossy(content).lines() {
        let Some((digest, name)) = bagit::parse_manifest_line(line) else {
            v.problem(Some(TAG_MANIFEST), format!("malformed tag manifest line: {:?}", shown(line)));
            continue;
        };
        match computed.remove(name.as_str()) {
            None => v.problem(Some(&name), "listed in the tag manifest but missing from the archive"),
            Some((actual, _)) if !actual.eq_ignore_ascii_case(digest) => {
                v.problem(Some(&name), format!("sha256 mismatch: tag manifest says {digest}, content is {actual}"))
            }
            Some((_, index)) => accepted[index] = true,
        }
    }
    let mut unlisted: Vec<&str> = computed.into_keys().collect();
    unlisted.sort();
    for name in unlisted {
        v.problem(Some(name), "tag file is not listed in the tag manifest");
    }
    v.problems.len() as u64 + v.more_problems == before
}

pub(crate) fn check_bag_info(v: &mut Verification, content: Option<&Vec<u8>>) {
    let Some(content) = content else {
        v.problem(Some(BAG_INFO), "bag-info.txt is missing");
        return;
    };
    let fields = bagit::parse_bag_info(&String::from_utf8_lossy(content));
    let get = |label: &str| fields.iter().find(|(k, _)| k.eq_ignore_ascii_case(label)).map(|(_, val)| val.as_str());
    let actual = format!("{}.{}", v.payload_bytes, v.payload_files);
    match get("Payload-Oxum") {
        Some(oxum) if oxum == actual => {}
        Some(oxum) => v.problem(Some(BAG_INFO), format!("Payload-Oxum says {oxum}, the payload is {actual}")),
        None => v.problem(Some(BAG_INFO), "Payload-Oxum is missing"),
    }
    v.complete = get("Sortie-Complete").map(|value| value == "true");
}
