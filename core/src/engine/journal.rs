//! The journal that makes an export resumable. Beside `NAME.tar.zst.partial` an export
//! keeps `NAME.tar.zst.journal` and its spools (`NAME.tar.zst.journal-manifest`, `-inventory`,
//! `-failures`, `-exclusions`, `-done`, `-changes`), all named so that a later run finds
//! them. At a frame boundary, at most once a [`DURABLE_EVERY`], the writer syncs the archive,
//! then the spools, then appends one line to the journal saying how long each file was:
//! everything up to those lengths survives a kill -9, a full disk or a power cut.
//!
//! `--resume` reads the last whole line, checks the partial against the sha256 it records
//! (a partial that is not the one the journal describes is refused), cuts every file back
//! to its recorded length and goes on. Listings start over: the `-done` spool (one line per
//! item already archived, excluded or failed) is turned into a sorted index of fixed-size
//! entries on disk that the dispatcher searches for each listed item, so that resuming an
//! export of millions of items needs no more memory than exporting them.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sortie_formats::FORMAT_VERSION;
use sortie_formats::report::{KindCounts, ListedState, Run};
use sortie_formats::writer::DurablePoint;
use sortie_sdk::source::SourceSpec;

use crate::error::{Error, ErrorKind, Result};
use crate::item::Item;

use super::cursors::SafePoint;

/// How often the writer makes its work durable by default, at the next frame boundary. Each time
/// costs an `fsync` of the archive and of the spools; what a kill loses is at most this
/// much work plus the items in flight (benches/README.md measures the overhead).
pub const DURABLE_EVERY: Duration = Duration::from_secs(1);

/// Payload bytes after which the writer makes its work durable even within a second, so
/// that what a kill loses stays bounded on a fast disk too.
pub const DURABLE_BYTES: u64 = 64 << 20;

/// The journal format this build writes and reads.
const JOURNAL_VERSION: u32 = 1;

/// A journal line longer than this is not one Sortie wrote.
const LINE_MAX: usize = 16 << 20;

/// Entries sorted in memory at once while the index is built (32 bytes each: 8 MiB).
const SORT_RUN: usize = 256 * 1024;

/// The spools kept beside the partial, by suffix.
pub(crate) const SPOOLS: [&str; 6] = ["manifest", "inventory", "failures", "exclusions", "done", "changes"];

/// The journal's first line: what export this is.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Header {
    sortie_journal: u32,
    format_version: u32,
    sortie: String,
    /// The archive's file name (not its directory: moving the pair elsewhere is fine).
    archive: String,
    /// The planned sources, as `sortie plan --json` prints them (no secrets).
    sources: Vec<SourceSpec>,
}

/// One line of the journal.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Entry {
    Header(Header),
    RunStarted {
        started: String,
    },
    RunEnded {
        ended: String,
        outcome: String,
    },
    Durable(Box<Checkpoint>),
    /// Every item is durable; the tag files are being written (what follows in the partial
    /// is cut off by a resume, which writes them again).
    Finishing,
}

/// Everything a later run needs to continue from a durable point.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Checkpoint {
    pub(crate) archive: DurablePoint,
    /// Lengths of the spools, in [`SPOOLS`] order but the manifest (in `archive`).
    pub(crate) spools: [u64; 5],
    /// Failure records so far.
    pub(crate) failed: u64,
    /// Counts per source and kind of what the writer handled.
    pub(crate) counts: Vec<BTreeMap<String, KindCounts>>,
    /// Per source, where its listing continues (absent in journals of sortie 0.1.0 without
    /// it, and for providers whose cursors do not outlive the process: listed again).
    #[serde(default)]
    pub(crate) cursors: Vec<Option<SafePoint>>,
}

/// The journal's file and spools' names for an archive.
pub(crate) fn journal_path(archive: &Path) -> PathBuf {
    with_suffix(archive, ".journal")
}

pub(crate) fn spool_path(archive: &Path, spool: &str) -> PathBuf {
    with_suffix(archive, &format!(".journal-{spool}"))
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Every file of the journal, the index included, for cleaning up and for sources that
/// contain the output.
pub(crate) fn all_paths(archive: &Path) -> Vec<PathBuf> {
    let mut paths = vec![journal_path(archive), spool_path(archive, "index")];
    paths.extend(SPOOLS.iter().map(|spool| spool_path(archive, spool)));
    paths
}

/// Removes the journal and its spools (after a commit, or to start over).
pub(crate) fn remove(archive: &Path) {
    for path in all_paths(archive) {
        let _ = fs::remove_file(path);
    }
}

/// The journal being appended to.
pub(crate) struct Journal {
    /// None for an export that cannot be resumed (encrypted or split): nothing is journaled.
    file: Option<File>,
}

impl Journal {
    /// Starts the journal of a new export.
    pub(crate) fn create(archive: &Path, sources: &[SourceSpec], runs: &[Run]) -> Result<Self> {
        let path = journal_path(archive);
        let file =
            super::output::create_private(&path).map_err(|e| io_error("cannot create the journal", &path, &e))?;
        let mut journal = Self { file: Some(file) };
        let name = archive.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        journal.append(&Entry::Header(Header {
            sortie_journal: JOURNAL_VERSION,
            format_version: FORMAT_VERSION,
            sortie: env!("CARGO_PKG_VERSION").to_owned(),
            archive: name,
            sources: sources.to_vec(),
        }))?;
        for run in runs {
            journal.run_started(&run.started)?;
            if let Some(ended) = &run.ended {
                journal.run_ended(ended, &run.outcome)?;
            }
        }
        Ok(journal)
    }

    /// The journal of an export that cannot be resumed: it writes nothing.
    pub(crate) fn none() -> Self {
        Self { file: None }
    }

    pub(crate) fn run_started(&mut self, started: &str) -> Result<()> {
        self.append(&Entry::RunStarted { started: started.to_owned() })
    }

    pub(crate) fn run_ended(&mut self, ended: &str, outcome: &str) -> Result<()> {
        self.append(&Entry::RunEnded { ended: ended.to_owned(), outcome: outcome.to_owned() })
    }

    pub(crate) fn finishing(&mut self) -> Result<()> {
        self.append(&Entry::Finishing)
    }

    pub(crate) fn durable(&mut self, checkpoint: Checkpoint) -> Result<()> {
        self.append(&Entry::Durable(Box::new(checkpoint)))
    }

    /// Appends one line, `JSON SHA256-PREFIX`, and syncs it: a line cut by a crash fails
    /// its checksum and is ignored when it is the last one.
    fn append(&mut self, entry: &Entry) -> Result<()> {
        let Some(file) = &mut self.file else {
            return Ok(());
        };
        let json = serde_json::to_string(entry).map_err(|e| Error::new(ErrorKind::Other, e.to_string()))?;
        let line = format!("{json} {}\n", line_sum(&json));
        file.write_all(line.as_bytes())
            .and_then(|()| file.sync_data())
            .map_err(|e| Error::io("cannot write the journal", &e))
    }
}

fn line_sum(json: &str) -> String {
    hex::encode(&Sha256::digest(json.as_bytes())[..8])
}

/// Records how the current run ended, in the journal of `archive`, when it stops before
/// its end; a journal that cannot be written only loses this line of history.
pub(crate) fn run_ended(archive: &Path, ended: &str, outcome: &str) {
    if let Ok(file) = fs::OpenOptions::new().append(true).open(journal_path(archive)) {
        let _ = Journal { file: Some(file) }.run_ended(ended, outcome);
    }
}

/// What a journal says, read back.
pub(crate) struct Found {
    header: Header,
    /// The runs so far; the last one may have no end (killed).
    pub(crate) runs: Vec<Run>,
    /// The last durable point, if the export reached one.
    pub(crate) last: Option<Checkpoint>,
    file: File,
}

/// Reads the journal of `archive`, refusing one that Sortie did not write whole.
pub(crate) fn read(archive: &Path) -> Result<Found> {
    let path = journal_path(archive);
    let refuse = |why: String| {
        Error::new(
            ErrorKind::InvalidInput,
            format!(
                "journal {} {why}: it cannot be resumed; run without --resume and with --force to start over",
                path.display()
            ),
        )
    };
    let file = fs::OpenOptions::new().read(true).append(true).open(&path).map_err(|e| {
        Error::new(
            ErrorKind::InvalidInput,
            format!(
                "nothing to resume: cannot open the journal {} ({e}); an export leaves one only when it was stopped \
                 before its end — run without --resume",
                path.display()
            ),
        )
    })?;
    let mut reader = BufReader::new(file.try_clone().map_err(|e| Error::io("cannot read the journal", &e))?);
    let (mut header, mut runs, mut last) = (None, Vec::<Run>::new(), None);
    let mut line = Vec::new();
    let mut number = 0;
    let mut valid_end = 0u64;
    let mut torn = false;
    loop {
        line.clear();
        let n = (&mut reader)
            .take(LINE_MAX as u64 + 1)
            .read_until(b'\n', &mut line)
            .map_err(|e| Error::io("cannot read the journal", &e))?;
        if n == 0 {
            break;
        }
        number += 1;
        if torn {
            return Err(refuse(format!("is damaged at line {}", number - 1)));
        }
        let entry = std::str::from_utf8(&line).ok().and_then(|text| {
            let text = text.strip_suffix('\n')?;
            let (json, sum) = text.rsplit_once(' ')?;
            (line_sum(json) == sum).then(|| serde_json::from_str::<Entry>(json).ok())?
        });
        let Some(entry) = entry else {
            // Only the last line may be cut: the crash that stopped the export cut it.
            torn = true;
            continue;
        };
        valid_end += n as u64;
        match (entry, number) {
            (Entry::Header(h), 1) => header = Some(h),
            (_, 1) | (Entry::Header(_), _) => return Err(refuse("does not begin with its header".into())),
            (Entry::RunStarted { started }, _) => {
                runs.push(Run { started, ended: None, outcome: "killed or crashed".into() })
            }
            (Entry::RunEnded { ended, outcome }, _) => {
                if let Some(run) = runs.last_mut() {
                    run.ended = Some(ended);
                    run.outcome = outcome;
                }
            }
            (Entry::Durable(checkpoint), _) => last = Some(*checkpoint),
            (Entry::Finishing, _) => {}
        }
    }
    let header = header.ok_or_else(|| refuse("has no header".into()))?;
    if header.sortie_journal != JOURNAL_VERSION || header.format_version != FORMAT_VERSION {
        return Err(refuse(format!(
            "was written by sortie {} for archive format {} (journal {}); this sortie writes format {FORMAT_VERSION} \
             (journal {JOURNAL_VERSION})",
            header.sortie, header.format_version, header.sortie_journal
        )));
    }
    // The cut line goes, so that this run's lines follow whole ones.
    file.set_len(valid_end).map_err(|e| Error::io("cannot repair the journal", &e))?;
    Ok(Found { header, runs, last, file })
}

impl Found {
    /// Refuses to resume with other sources or into another archive, naming the difference.
    pub(crate) fn check(&self, archive: &Path, sources: &[SourceSpec]) -> Result<()> {
        let refuse = |why: String| {
            Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "cannot resume: {why}; give the same sources as the interrupted export, or --force to start over"
                ),
            )
        };
        let name = archive.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if name != self.header.archive {
            return Err(refuse(format!("the journal is for archive {}, not {name}", self.header.archive)));
        }
        let urls = |specs: &[SourceSpec]| specs.iter().map(|s| s.url.clone()).collect::<Vec<_>>().join(", ");
        if self.header.sources.len() != sources.len() {
            return Err(refuse(format!(
                "the interrupted export had {} source(s) ({}), this one has {} ({})",
                self.header.sources.len(),
                urls(&self.header.sources),
                sources.len(),
                urls(sources)
            )));
        }
        for (n, (was, now)) in self.header.sources.iter().zip(sources).enumerate() {
            if was.url != now.url {
                return Err(refuse(format!("source {} was {}, it is now {}", n + 1, was.url, now.url)));
            }
            if was != now {
                return Err(refuse(format!("source {} ({}) has other settings than it had", n + 1, now.url)));
            }
        }
        Ok(())
    }

    /// The journal, to go on appending to.
    pub(crate) fn into_journal(self) -> Journal {
        Journal { file: Some(self.file) }
    }
}

/// Interrupted exports of exactly `sources` whose journals are in `dir`: the archives they
/// were writing, for `inventory` to say that `export --resume` would continue them. Only
/// each journal's first line is read.
pub fn interrupted_exports(dir: &Path, sources: &[SourceSpec]) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else { return Vec::new() };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(archive) = name.strip_suffix(".journal") else { continue };
        let Ok(file) = File::open(entry.path()) else { continue };
        let mut first = Vec::new();
        if BufReader::new(file).take(LINE_MAX as u64).read_until(b'\n', &mut first).is_err() {
            continue;
        }
        let header = std::str::from_utf8(&first)
            .ok()
            .and_then(|line| line.trim_end().rsplit_once(' '))
            .and_then(|(json, _)| serde_json::from_str::<Entry>(json).ok());
        if let Some(Entry::Header(header)) = header
            && header.sources == sources
        {
            found.push(dir.join(archive));
        }
    }
    found.sort();
    found
}

/// Reads the first `len` bytes of `partial` into a sha256 state, and checks them against
/// the digest the journal recorded: the partial must be the one the journal describes.
pub(crate) fn check_prefix(partial: &mut File, point: &DurablePoint) -> Result<Sha256> {
    let refuse = |why: String| {
        Error::new(
            ErrorKind::InvalidInput,
            format!("cannot resume: {why}; the journal does not match its partial archive — use --force to start over"),
        )
    };
    let len = partial.metadata().map_err(|e| Error::io("cannot read the partial archive", &e))?.len();
    if len < point.archive_bytes {
        return Err(refuse(format!(
            "the partial archive has {len} bytes, the journal says {} were written",
            point.archive_bytes
        )));
    }
    partial.seek(SeekFrom::Start(0)).map_err(|e| Error::io("cannot read the partial archive", &e))?;
    let mut hasher = Sha256::new();
    let mut reader = BufReader::with_capacity(1 << 20, (&*partial).take(point.archive_bytes));
    loop {
        let chunk = reader.fill_buf().map_err(|e| Error::io("cannot read the partial archive", &e))?;
        if chunk.is_empty() {
            break;
        }
        hasher.update(chunk);
        let n = chunk.len();
        reader.consume(n);
    }
    if hex::encode(hasher.clone().finalize()) != point.archive_sha256 {
        return Err(refuse(format!(
            "the first {} bytes of the partial archive are not those the journal recorded",
            point.archive_bytes
        )));
    }
    Ok(hasher)
}

/// Opens a spool of an earlier run and cuts it back to `len` bytes, the length the
/// journal recorded; a shorter one is refused.
pub(crate) fn reopen_spool(archive: &Path, spool: &str, len: u64) -> Result<File> {
    let path = spool_path(archive, spool);
    let mut file = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .map_err(|e| io_error("cannot open the journal's spool", &path, &e))?;
    let actual = file.metadata().map_err(|e| io_error("cannot read the journal's spool", &path, &e))?.len();
    if actual < len {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!(
                "cannot resume: {} has {actual} bytes, the journal says {len} were written; use --force to start over",
                path.display()
            ),
        ));
    }
    file.set_len(len)
        .and_then(|()| file.seek(SeekFrom::Start(len)).map(drop))
        .map_err(|e| io_error("cannot cut the journal's spool", &path, &e))?;
    Ok(file)
}

/// Creates an empty spool of a new export.
pub(crate) fn create_spool(archive: &Path, spool: &str) -> Result<File> {
    let path = spool_path(archive, spool);
    super::output::create_private(&path).map_err(|e| io_error("cannot create a spool", &path, &e))
}

fn io_error(what: &str, path: &Path, error: &io::Error) -> Error {
    Error::io(format!("{what} {}", path.display()), error)
}

/// One line of the `-done` spool: an item an earlier run is done with.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct DoneLine {
    /// Source index in the plan.
    pub(crate) s: usize,
    /// Kind.
    pub(crate) k: String,
    /// Payload path (`data/…`): unique in the archive.
    pub(crate) p: String,
    /// What the listing said of it.
    pub(crate) l: ListedState,
}

/// What the listing says of `item`, as kept in the `-done` spool and compared on resume.
pub(crate) fn listed_state(
    size: Option<u64>,
    modified: Option<std::time::SystemTime>,
    etag: Option<&str>,
    item: &Item,
) -> ListedState {
    ListedState {
        size,
        modified: modified.map(|t| humantime::format_rfc3339_nanos(t).to_string()),
        etag: etag.map(str::to_owned),
        version: item.version.as_ref().map(|v| hex::encode(&v.0)),
    }
}

const ENTRY: usize = 32;

fn key(source: usize, path: &str) -> [u8; 16] {
    let mut hasher = Sha256::new();
    hasher.update((source as u64).to_le_bytes());
    hasher.update(path.as_bytes());
    hasher.finalize()[..16].try_into().expect("16 bytes")
}

fn state_sum(state: &ListedState) -> [u8; 8] {
    let json = serde_json::to_vec(state).unwrap_or_default();
    Sha256::digest(&json)[..8].try_into().expect("8 bytes")
}

/// The sorted on-disk index of the items earlier runs are done with: entries of a 16-byte
/// key (sha256 of source and path), an 8-byte sum of the listed state and the 8-byte offset
/// of the item's line in the `-done` spool, searched by binary search with `pread`.
pub(crate) struct DoneIndex {
    index: File,
    entries: u64,
    done: File,
}

/// What the dispatcher does with a listed item.
pub(crate) enum Decision {
    /// Not archived yet: fetch it.
    Fetch,
    /// Archived (or excluded, or failed) by an earlier run, unchanged since.
    Done,
    /// Archived by an earlier run and listed differently now.
    Changed(Box<DoneLine>),
}

impl DoneIndex {
    /// Builds the index of the first `len` bytes of the `-done` spool: sorted runs of
    /// [`SORT_RUN`] entries, merged into one file.
    pub(crate) fn build(archive: &Path, len: u64) -> Result<Self> {
        Self::build_in_runs(archive, len, SORT_RUN)
    }

    fn build_in_runs(archive: &Path, len: u64, sort_run: usize) -> Result<Self> {
        let io = |e: io::Error| Error::io("cannot build the index of archived items", &e);
        let done_path = spool_path(archive, "done");
        let done = File::open(&done_path).map_err(io)?;
        let mut reader = BufReader::with_capacity(1 << 20, (&done).take(len));
        let mut runs: Vec<File> = Vec::new();
        let mut batch: Vec<[u8; ENTRY]> = Vec::with_capacity(sort_run.min(1024));
        let mut offset = 0u64;
        let mut line = String::new();
        let spill = |batch: &mut Vec<[u8; ENTRY]>, runs: &mut Vec<File>| -> io::Result<()> {
            batch.sort_unstable();
            let mut run = tempfile::tempfile_in(archive.parent().unwrap_or(Path::new(".")))?;
            {
                let mut out = BufWriter::new(&mut run);
                for entry in batch.iter() {
                    out.write_all(entry)?;
                }
                out.flush()?;
            }
            run.seek(SeekFrom::Start(0))?;
            runs.push(run);
            batch.clear();
            Ok(())
        };
        loop {
            line.clear();
            let n = reader.read_line(&mut line).map_err(io)?;
            if n == 0 {
                break;
            }
            let parsed: DoneLine = serde_json::from_str(line.trim_end()).map_err(|e| {
                Error::new(
                    ErrorKind::InvalidInput,
                    format!(
                        "cannot resume: {} is damaged at byte {offset} ({e}); use --force to start over",
                        done_path.display()
                    ),
                )
            })?;
            let mut entry = [0u8; ENTRY];
            entry[..16].copy_from_slice(&key(parsed.s, &parsed.p));
            entry[16..24].copy_from_slice(&state_sum(&parsed.l));
            entry[24..].copy_from_slice(&offset.to_be_bytes());
            batch.push(entry);
            if batch.len() >= sort_run {
                spill(&mut batch, &mut runs).map_err(io)?;
            }
            offset += n as u64;
        }
        spill(&mut batch, &mut runs).map_err(io)?;
        let index_path = spool_path(archive, "index");
        let mut index = super::output::create_private(&index_path).map_err(io)?;
        let mut entries = 0u64;
        {
            let mut readers: Vec<BufReader<File>> =
                runs.into_iter().map(|r| BufReader::with_capacity(1 << 16, r)).collect();
            let mut heap = BinaryHeap::new();
            let next = |reader: &mut BufReader<File>| -> io::Result<Option<[u8; ENTRY]>> {
                let mut entry = [0u8; ENTRY];
                match reader.read_exact(&mut entry) {
                    Ok(()) => Ok(Some(entry)),
                    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(None),
                    Err(e) => Err(e),
                }
            };
            for (n, reader) in readers.iter_mut().enumerate() {
                if let Some(entry) = next(reader).map_err(io)? {
                    heap.push(Reverse((entry, n)));
                }
            }
            let mut out = BufWriter::new(&mut index);
            while let Some(Reverse((entry, n))) = heap.pop() {
                out.write_all(&entry).map_err(io)?;
                entries += 1;
                if let Some(entry) = next(&mut readers[n]).map_err(io)? {
                    heap.push(Reverse((entry, n)));
                }
            }
            out.flush().map_err(io)?;
        }
        Ok(Self { index, entries, done })
    }

    /// Items in the index.
    pub(crate) fn len(&self) -> u64 {
        self.entries
    }

    /// Whether the item at `path` of source `source`, listed as `state`, is done with.
    pub(crate) fn decide(&self, source: usize, path: &str, state: &ListedState) -> Result<Decision> {
        let io = |e: io::Error| Error::io("cannot read the index of archived items", &e);
        let wanted = key(source, path);
        let (mut low, mut high) = (0u64, self.entries);
        let mut entry = [0u8; ENTRY];
        while low < high {
            let middle = low + (high - low) / 2;
            self.index.read_exact_at(&mut entry, middle * ENTRY as u64).map_err(io)?;
            match entry[..16].cmp(&wanted) {
                std::cmp::Ordering::Less => low = middle + 1,
                std::cmp::Ordering::Greater => high = middle,
                std::cmp::Ordering::Equal => {
                    if entry[16..24] == state_sum(state) {
                        return Ok(Decision::Done);
                    }
                    let offset = u64::from_be_bytes(entry[24..].try_into().expect("8 bytes"));
                    let line = self.line_at(offset).map_err(io)?;
                    return Ok(Decision::Changed(Box::new(line)));
                }
            }
        }
        Ok(Decision::Fetch)
    }

    fn line_at(&self, offset: u64) -> io::Result<DoneLine> {
        let mut reader = BufReader::new((&self.done).take(LINE_MAX as u64));
        (&self.done).seek(SeekFrom::Start(offset))?;
        let mut line = String::new();
        reader.read_line(&mut line)?;
        serde_json::from_str(line.trim_end()).map_err(io::Error::other)
    }
}

#[cfg(test)]
mod tests {
    use sortie_formats::spool::Spool;

    use super::*;

    fn state(size: u64) -> ListedState {
        ListedState { size: Some(size), modified: None, etag: Some(format!("\"{size}\"")), version: None }
    }

    #[test]
    fn the_index_merged_from_many_runs_finds_every_item_and_tells_changes() {
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("a.tar.zst");
        let mut done = BufWriter::new(Spool::plain(create_spool(&archive, "done").unwrap()));
        for n in 0..1000u64 {
            let line = DoneLine { s: (n % 3) as usize, k: "file".into(), p: format!("data/s/{n}"), l: state(n) };
            super::super::spool::spool_line(&mut done, &line).unwrap();
        }
        done.flush().unwrap();
        let len = done.get_mut().stream_position().unwrap();
        drop(done);
        let index = DoneIndex::build_in_runs(&archive, len, 64).unwrap();
        assert_eq!(index.len(), 1000);
        for n in 0..1000u64 {
            let source = (n % 3) as usize;
            assert!(matches!(index.decide(source, &format!("data/s/{n}"), &state(n)).unwrap(), Decision::Done));
        }
        assert!(matches!(index.decide(1, "data/s/0", &state(0)).unwrap(), Decision::Fetch), "another source");
        assert!(matches!(index.decide(0, "data/s/1000", &state(0)).unwrap(), Decision::Fetch));
        match index.decide(2, "data/s/500", &state(7)).unwrap() {
            Decision::Changed(line) => assert_eq!(line.l, state(500)),
            _ => panic!("a changed state is a change"),
        }
    }

    #[test]
    fn a_cut_last_line_is_dropped_and_a_damaged_earlier_one_refused() {
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("a.tar.zst");
        let mut journal = Journal::create(&archive, &[], &[]).unwrap();
        journal.run_started("2026-01-01T00:00:00Z").unwrap();
        journal.durable(Checkpoint::default()).unwrap();
        let path = journal_path(&archive);
        let whole = fs::read(&path).unwrap();
        fs::write(&path, &whole[..whole.len() - 5]).unwrap();
        let found = read(&archive).unwrap();
        assert!(found.last.is_none(), "the cut durable line is not trusted");
        assert_eq!(found.runs.len(), 1);
        assert!(fs::metadata(&path).unwrap().len() < whole.len() as u64 - 5, "the cut line is removed");

        let mut damaged = whole.clone();
        let second = whole.iter().position(|b| *b == b'\n').unwrap() + 5;
        damaged[second] ^= 1;
        fs::write(&path, &damaged).unwrap();
        let error = read(&archive).err().expect("refused").to_string();
        assert!(error.contains("damaged at line 2"), "{error}");
    }
}
