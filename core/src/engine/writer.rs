//! The writer thread: the only owner of the archive. It takes finished or streaming bodies
//! from the fetchers through a bounded channel, writes members in the order they arrive,
//! and keeps the inventory, failure and exclusion spools.

use sortie_formats::spool::Spool;
use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Seek, Write};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::{Buf, Bytes};
use sortie_formats::inventory::{Listed, Record};
use sortie_formats::report::{ChangedAfterArchived, Exclusion, Failure, KindCounts, ListedState};
use sortie_formats::writer::{AddError, ArchiveWriter};
use tokio::sync::{OwnedSemaphorePermit, mpsc, oneshot};

use crate::error::{Error, ErrorKind, Result};
use crate::item::{Item, Kind};
use crate::progress::{Event, ProgressSink};

use super::Stop;
use super::cursors::{Cursors, PageTag};
use super::journal::{Checkpoint, DURABLE_BYTES, DoneLine, Journal, listed_state};
use super::spool::spool_line;

/// One item on its way to the archive.
#[derive(Debug, Clone)]
pub(crate) struct Job {
    pub(crate) source: usize,
    /// The listing page it came in: handling it may make the page's end a safe cursor.
    pub(crate) page: PageTag,
    pub(crate) item: Item,
    pub(crate) path: String,
    /// What the listing said, once a response has replaced it on `item`.
    pub(crate) listed: Option<AsListed>,
    /// Set by the fetch when the provider read the bytes but not all the item's metadata:
    /// the item is archived and also reported as a failure.
    pub(crate) incomplete: Option<String>,
    /// Held until the item is written: its inline bytes' share of the listing's budget.
    pub(crate) _inline_budget: Option<std::sync::Arc<tokio::sync::OwnedSemaphorePermit>>,
}

/// An item's size, modification time and checksum as its listing announced them.
#[derive(Debug, Clone)]
pub(crate) struct AsListed {
    size: Option<u64>,
    modified: Option<SystemTime>,
    etag: Option<String>,
}

impl AsListed {
    pub(crate) fn of(item: &Item) -> Self {
        Self { size: item.size, modified: item.modified, etag: item.checksum.as_ref().map(|c| c.served.clone()) }
    }

    /// Whether the item as fetched (`archived` bytes, and the response's checksum and
    /// modification time now on `item`, the latter only when not the [`same_time`] as
    /// listed) differs from the listing. Only values both sides know are compared.
    fn differs(&self, archived: Option<u64>, item: &Item) -> bool {
        let size = matches!((self.size, archived), (Some(listed), Some(archived)) if listed != archived);
        let etag = match (&self.etag, &item.checksum) {
            (Some(listed), Some(fetched)) => !same_etag(listed, &fetched.served),
            _ => false,
        };
        let modified = matches!((self.modified, item.modified), (Some(listed), Some(fetched)) if listed != fetched);
        size || etag || modified
    }

    /// The listing's state of `item` as the journal keeps it.
    fn state(&self, item: &Item) -> ListedState {
        listed_state(self.size, self.modified, self.etag.as_deref(), item)
    }

    fn record(&self) -> Listed {
        Listed { size: self.size, modified: self.modified.map(rfc3339), etag: self.etag.clone() }
    }
}

/// Modification times less than a second apart are the same: HTTP dates have whole
/// seconds, and Swift rounds its `Last-Modified` up while its listing has microseconds.
pub(crate) fn same_time(listed: SystemTime, fetched: SystemTime) -> bool {
    listed.duration_since(fetched).unwrap_or_else(|e| e.duration()) < Duration::from_secs(1)
}

/// ETags as served by a listing and by a response: quoted or not, in either case. Lists of
/// checksums are the same when every algorithm both name agrees: Nextcloud lists
/// `SHA1:… MD5:… ADLER32:…` and its response's `OC-Checksum` names one of them.
pub(crate) fn same_etag(a: &str, b: &str) -> bool {
    let (a, b) = (a.trim_matches('"'), b.trim_matches('"'));
    if a.eq_ignore_ascii_case(b) {
        return true;
    }
    let (Some(a), Some(b)) = (checksums(a), checksums(b)) else { return false };
    let shared: Vec<bool> = a
        .iter()
        .filter_map(|(algorithm, value)| {
            let other = b.iter().find(|(named, _)| named.eq_ignore_ascii_case(algorithm))?;
            Some(other.1.eq_ignore_ascii_case(value))
        })
        .collect();
    !shared.is_empty() && shared.iter().all(|same| *same)
}

/// The `ALGORITHM:VALUE` pairs of `text`, when it is only such pairs.
fn checksums(text: &str) -> Option<Vec<(&str, &str)>> {
    text.split_whitespace()
        .map(|pair| {
            pair.split_once(':').filter(|(algorithm, value)| {
                !algorithm.is_empty() && !value.is_empty() && algorithm.bytes().all(|b| b.is_ascii_alphanumeric())
            })
        })
        .collect()
}

fn rfc3339(time: SystemTime) -> String {
    humantime::format_rfc3339_seconds(time).to_string()
}

/// A body as handed to the writer.
pub(crate) enum Held {
    /// Small and complete; the permit returns its bytes to the memory budget once written.
    Memory { data: Bytes, _budget: OwnedSemaphorePermit },
    /// Complete, in a temporary file (removed when dropped).
    Spooled { file: Spool, len: u64 },
    /// Still arriving; the writer reports the outcome on `done`, since a failure half-way
    /// is undone in the archive and the fetcher decides whether to try again.
    Live {
        size: u64,
        chunks: mpsc::Receiver<Result<Bytes>>,
        done: oneshot::Sender<Result<()>>,
        _slot: OwnedSemaphorePermit,
    },
}

pub(crate) enum ToWriter {
    /// Several messages at once, so that many small items cost the writer one wake-up.
    Batch(Vec<ToWriter>),
    Payload {
        job: Job,
        body: Held,
    },
    NoBytes {
        job: Job,
    },
    Excluded {
        job: Job,
        reason: String,
    },
    /// A listing that stopped before its end.
    ListingFailed(Failure),
    /// An item an earlier run of a resumed export is done with, listed again unchanged.
    Seen {
        page: PageTag,
        kind: String,
    },
    /// An item an earlier run archived, listed again with another size, date, ETag or
    /// version: reported, not fetched again.
    Changed {
        page: PageTag,
        kind: String,
        change: ChangedAfterArchived,
    },
    Failed {
        job: Job,
        error: String,
        attempts: u32,
    },
}

/// Everything the writer accumulated, handed back when the channel closes.
pub(crate) struct Written {
    pub(crate) archive: ArchiveWriter,
    pub(crate) counts: Vec<BTreeMap<String, KindCounts>>,
    pub(crate) inventory: BufWriter<Spool>,
    pub(crate) failures: BufWriter<Spool>,
    pub(crate) exclusions: BufWriter<Spool>,
    /// One [`DoneLine`] per item handled, for a resumed run to skip.
    pub(crate) done: BufWriter<Spool>,
    /// Items found changed after an earlier run archived them.
    pub(crate) changes: BufWriter<Spool>,
    pub(crate) journal: Journal,
    /// Failure records in `failures`.
    pub(crate) failed: u64,
    /// Listings that stopped early, reported at the end (never journaled: a resumed run
    /// lists again).
    pub(crate) listing_failures: Vec<Failure>,
    /// Per source and kind, items of earlier runs this run listed again (or that the
    /// listing did not reach again: those before the safe cursor it continued from).
    pub(crate) seen_again: Vec<BTreeMap<String, u64>>,
    /// The listing pages under way, whose safe cursors each durable point records.
    pub(crate) cursors: Arc<Cursors>,
}

impl Written {
    /// Makes everything handled so far durable: the archive to its last frame, the
    /// spools, then one journal line recording their lengths.
    pub(crate) fn durable(&mut self) -> Result<()> {
        let io = |e: io::Error| Error::io("cannot make the archive durable", &e);
        let archive = self.archive.durable().map_err(io)?;
        let mut spools = [0u64; 5];
        let files = [&mut self.inventory, &mut self.failures, &mut self.exclusions, &mut self.done, &mut self.changes];
        for (length, spool) in spools.iter_mut().zip(files) {
            spool.flush().map_err(io)?;
            spool.get_ref().sync_data().map_err(io)?;
            *length = spool.get_mut().stream_position().map_err(io)?;
        }
        self.journal.durable(Checkpoint {
            archive,
            spools,
            failed: self.failed,
            counts: self.counts.clone(),
            cursors: self.cursors.snapshot(),
        })
    }

    fn done_line(&mut self, job: &Job, state: ListedState) -> Result<()> {
        let line = DoneLine { s: job.source, k: job.item.kind.as_str().to_owned(), p: job.path.clone(), l: state };
        spool_line(&mut self.done, &line)?;
        // Written before the next durable point, which then records the cursor it allows.
        self.cursors.handled(job.page);
        Ok(())
    }
}

/// The listing's state of a job's item.
fn job_state(job: &Job) -> ListedState {
    match &job.listed {
        Some(listed) => listed.state(&job.item),
        None => {
            let etag = job.item.checksum.as_ref().map(|c| c.served.as_str());
            listed_state(job.item.size, job.item.modified, etag, &job.item)
        }
    }
}

/// Reads a live body from its chunk channel, keeping the provider's error if one comes.
struct ChannelReader {
    chunks: mpsc::Receiver<Result<Bytes>>,
    current: Bytes,
    failure: Option<Error>,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = buf.len().min(available.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for ChannelReader {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        while self.current.is_empty() {
            match self.chunks.blocking_recv() {
                None => return Ok(&[]),
                Some(Ok(chunk)) => self.current = chunk,
                Some(Err(error)) => {
                    let message = error.to_string();
                    self.failure = Some(error);
                    return Err(io::Error::other(message));
                }
            }
        }
        Ok(&self.current)
    }

    fn consume(&mut self, n: usize) {
        self.current.advance(n);
    }
}

pub(crate) struct WriterThread {
    pub(crate) state: Written,
    pub(crate) sources: Vec<String>,
    pub(crate) progress: ProgressSink,
    pub(crate) stop: Stop,
    pub(crate) durable_every: Duration,
}

impl WriterThread {
    /// Runs until every sender is gone, or a stop is asked (then what is under way is
    /// dropped). Makes the work durable at a frame boundary every `durable_every` or
    /// [`DURABLE_BYTES`]. An `Err` means the archive itself failed.
    pub(crate) fn run(mut self, mut rx: mpsc::Receiver<ToWriter>) -> Result<Written> {
        let mut durable_at = (Instant::now(), self.state.archive.payload_bytes());
        while let Some(message) = rx.blocking_recv() {
            if self.stop.requested() {
                break;
            }
            self.handle(message)?;
            let payload = self.state.archive.payload_bytes();
            if durable_at.0.elapsed() >= self.durable_every || payload - durable_at.1 >= DURABLE_BYTES {
                self.state.durable()?;
                durable_at = (Instant::now(), payload);
            }
        }
        Ok(self.state)
    }

    fn handle(&mut self, message: ToWriter) -> Result<()> {
        match message {
            ToWriter::ListingFailed(failure) => {
                (self.progress)(failed_event(&failure));
                self.state.listing_failures.push(failure);
            }
            ToWriter::Seen { page, kind } => {
                *self.state.seen_again[page.source].entry(kind).or_default() += 1;
                self.state.cursors.handled(page);
            }
            ToWriter::Changed { page, kind, change } => {
                let source = page.source;
                tracing::warn!(
                    path = %change.path,
                    "changed at the source after an earlier run archived it; the archive keeps what it archived"
                );
                *self.state.seen_again[source].entry(kind.clone()).or_default() += 1;
                self.state.counts[source].entry(kind).or_default().changed_after_archived += 1;
                spool_line(&mut self.state.changes, &change)?;
                self.state.cursors.handled(page);
            }
            ToWriter::Batch(messages) => {
                for message in messages {
                    self.handle(message)?;
                }
            }
            ToWriter::Payload { job, body } => self.payload(job, body)?,
            ToWriter::NoBytes { job } => {
                let member = job.item.kind == Kind::Directory;
                if member {
                    self.state
                        .archive
                        .add_directory(&job.path, mtime(&job.item))
                        .map_err(|e| Error::io("cannot write the archive", &e))?;
                }
                self.archived(job, member, None)?;
            }
            ToWriter::Excluded { job, reason } => {
                self.state.done_line(&job, job_state(&job))?;
                self.state.counts[job.source].entry(job.item.kind.as_str().to_owned()).or_default().excluded += 1;
                let exclusion = Exclusion {
                    source: self.sources[job.source].clone(),
                    id: job.item.id.display(),
                    kind: job.item.kind.as_str().to_owned(),
                    reason,
                };
                spool_line(&mut self.state.exclusions, &exclusion)?;
                (self.progress)(Event::Excluded);
            }
            ToWriter::Failed { job, error, attempts } => self.failed(&job, error, attempts)?,
        }
        Ok(())
    }

    fn payload(&mut self, job: Job, body: Held) -> Result<()> {
        let mtime = mtime(&job.item);
        let archive = &mut self.state.archive;
        let written = match body {
            Held::Memory { data, _budget } => {
                Some(archive.add_payload(&job.path, data.len() as u64, mtime, &mut &data[..], false).map_err(fatal)?)
            }
            Held::Spooled { file, len } => {
                let mut body = BufReader::with_capacity(1 << 18, file);
                Some(archive.add_payload(&job.path, len, mtime, &mut body, false).map_err(fatal)?)
            }
            Held::Live { size, chunks, done, _slot } => {
                let mut reader = ChannelReader { chunks, current: Bytes::new(), failure: None };
                let added = archive.add_payload(&job.path, size, mtime, &mut reader, true);
                drop(reader.chunks);
                match added {
                    Ok(written) => {
                        let _ = done.send(Ok(()));
                        Some(written)
                    }
                    Err(AddError::Body(io)) => {
                        let error = reader
                            .failure
                            .unwrap_or_else(|| Error::new(ErrorKind::Integrity, io.to_string()).temporary());
                        let _ = done.send(Err(error));
                        None
                    }
                    Err(archive_error) => return Err(fatal(archive_error)),
                }
            }
        };
        match written {
            Some(written) => {
                if let Some(why) = &job.incomplete {
                    self.archived_incomplete(&job, why.clone())?;
                }
                self.archived(job, true, Some(written))
            }
            None => Ok(()),
        }
    }

    /// Records an archived item; `member` says whether `job.path` is a member of the archive.
    fn archived(&mut self, job: Job, member: bool, written: Option<sortie_formats::writer::Written>) -> Result<()> {
        self.state.done_line(&job, job_state(&job))?;
        let Job { source, item, path, listed, .. } = job;
        let path = member.then_some(path);
        let size = written.as_ref().map(|w| w.size);
        let listed = listed.filter(|listed| listed.differs(size, &item)).map(|listed| listed.record());
        let counts = self.state.counts[source].entry(item.kind.as_str().to_owned()).or_default();
        counts.archived += 1;
        counts.archived_bytes += size.unwrap_or(0);
        if listed.is_some() {
            counts.changed_since_listing += 1;
            tracing::info!(id = %item.id.display(), "changed at the source since it was listed; archived as fetched");
        }
        // Bytes were written only after every checksum checked on them matched.
        let checked = item.checksum.as_ref().filter(|_| written.is_some()).map(|c| c.checkable());
        let etag_verified = checked.as_ref().map(|checked| !checked.is_empty());
        let checksums_verified = checked.unwrap_or_default().into_iter().map(str::to_owned).collect();
        let (etag, etag_note) = item.checksum.map_or((None, None), |c| (Some(c.served), c.note));
        let mut record = Record {
            path,
            size,
            sha256: written.map(|w| w.sha256),
            source: self.sources[source].clone(),
            id: String::new(),
            id_hex: None,
            kind: item.kind.as_str().to_owned(),
            modified: item.modified.map(rfc3339),
            content_type: item.content_type,
            etag,
            etag_verified,
            etag_note,
            checksums_verified,
            meta: item.meta,
            listed,
        };
        record.set_id(&item.id.0);
        spool_line(&mut self.state.inventory, &record)?;
        (self.progress)(Event::Archived { bytes: size.unwrap_or(0) });
        Ok(())
    }

    /// An item archived without all its metadata: a failure record of its own, which makes
    /// the export incomplete, while the kind counts keep it as archived (it is, and each
    /// listed item is counted once).
    fn archived_incomplete(&mut self, job: &Job, why: String) -> Result<()> {
        self.failure(job, format!("archived without all its metadata: {why}"), 1)
    }

    fn failed(&mut self, job: &Job, error: String, attempts: u32) -> Result<()> {
        self.state.done_line(job, job_state(job))?;
        let counts = self.state.counts[job.source].entry(job.item.kind.as_str().to_owned()).or_default();
        counts.failed += 1;
        self.failure(job, error, attempts)
    }

    /// Counts a failure, says so, and records it for the report.
    fn failure(&mut self, job: &Job, error: String, attempts: u32) -> Result<()> {
        self.state.failed += 1;
        let failure = Failure {
            source: self.sources[job.source].clone(),
            id: job.item.id.display(),
            kind: job.item.kind.as_str().to_owned(),
            error,
            attempts,
        };
        (self.progress)(failed_event(&failure));
        spool_line(&mut self.state.failures, &failure)
    }
}

/// The event that says a failure record was made: the same fields as the report's.
fn failed_event(failure: &Failure) -> Event {
    Event::Failed {
        source: failure.source.clone(),
        id: failure.id.clone(),
        kind: failure.kind.clone(),
        error: failure.error.clone(),
        attempts: failure.attempts,
    }
}

/// A body held in full cannot fail on its own: any error is the archive's.
fn fatal(error: AddError) -> Error {
    match error {
        AddError::Body(io) | AddError::Archive(io) => Error::io("cannot write the archive", &io),
    }
}

/// Seconds since the epoch for the tar header; 0 when unknown or before 1970.
fn mtime(item: &Item) -> u64 {
    item.modified.and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::same_etag;

    #[test]
    fn checksum_lists_agree_on_the_algorithms_both_name() {
        assert!(same_etag("\"abc\"", "ABC"));
        assert!(same_etag("SHA1:aa MD5:bb ADLER32:cc", "SHA1:AA"));
        assert!(!same_etag("SHA1:aa MD5:bb", "SHA1:ab"));
        assert!(!same_etag("SHA1:aa MD5:bb", "MD5:bb SHA1:ab"));
        assert!(!same_etag("SHA1:aa", "MD5:aa"), "no algorithm in common");
        assert!(!same_etag("abc", "abd"));
    }
}
