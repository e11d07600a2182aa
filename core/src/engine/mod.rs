//! The export pipeline: list every source (`listing`) while dispatching what is listed to
//! fetchers with bounded concurrency (`dispatch`, `fetch`), into the one thread that owns
//! the archive (`writer`); then write the tag files (`finish`) and move the archive into
//! place (`output`).

mod conflicts;
mod cursors;
mod dispatch;
mod fetch;
mod finish;
mod journal;
mod listing;
mod output;
mod ranges;
mod received;

pub use listing::ClassCounts;
pub(crate) use listing::{ItemSink, list_source};
pub use output::{Layout, OutputFiles};
mod spool;
mod writer;
pub(crate) use writer::same_etag;

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use serde::Serialize;
use sortie_formats::payload_path;
use sortie_formats::report::{Failure, KindCounts, Run, SourceReport};
use sortie_formats::report_html::{Copy, Evidence, render};
pub use sortie_formats::report_reader::Operator;
use sortie_formats::writer::{ArchiveWriter, Seal, WriterOptions, bag_name};
use tokio::sync::{Semaphore, mpsc, watch};

use crate::error::{Error, ErrorKind, Result};
use crate::plan::Source;
use crate::progress::{Event, ProgressSink};
use crate::provider::Provider;
use crate::retry::RetryPolicy;
use crate::source::slug;
use crate::warning::Warning;

use dispatch::{LISTED_AHEAD, dispatch, list_all};
use fetch::{Fetcher, MEMORY_BUDGET_KIB};
use finish::{Closed, History, finish, merge_counts};
use finish::{file_name, now_rfc3339};
use output::{Output, VolumePaths};
use sortie_formats::sink::Sink;
use sortie_formats::sink::volumes::VolumeFiles;
use sortie_formats::spool::Spool;
use writer::{ToWriter, WriterThread, Written};

pub use journal::{DURABLE_BYTES, DURABLE_EVERY, interrupted_exports};
pub use ranges::RangedReads;

/// How to export.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// Items fetched at once.
    pub concurrency: usize,
    /// Retries of temporary errors.
    pub retry: RetryPolicy,
    /// How bodies above a cutoff are read as several byte ranges at once.
    pub ranges: RangedReads,
    /// Check every checksum a provider announces, an MD5 ETag too when a full-object CRC or
    /// sha256 is checked (`export --all-checksums`).
    pub all_checksums: bool,
    /// zstd level.
    pub zstd_level: i32,
    /// zstd worker threads.
    pub zstd_workers: u32,
    /// Overwrite an existing output, and start over an interrupted export to it.
    pub force: bool,
    /// Continue the interrupted export to the output, from its journal.
    pub resume: bool,
    /// How often the work is made durable (at the next frame boundary): what a kill loses
    /// at most, besides the items in flight and [`DURABLE_BYTES`] of payload.
    pub durable_every: std::time::Duration,
    /// Asked from outside (a signal) to stop at the next safe point, leaving a resumable
    /// partial archive.
    pub stop: Stop,
    /// Signs and time-stamps the bag's tag manifest (`export --sign`, `--timestamp`).
    pub seal: Option<Arc<dyn Seal>>,
    /// Encryption and volumes.
    pub layout: Layout,
    /// Who runs the export, written into bag-info.txt and shown on the restitution page.
    pub operator: Operator,
}

impl Default for ExportOptions {
    fn default() -> Self {
        Self {
            concurrency: 8,
            retry: RetryPolicy::default(),
            ranges: RangedReads::default(),
            all_checksums: false,
            zstd_level: 3,
            zstd_workers: 2,
            force: false,
            resume: false,
            durable_every: DURABLE_EVERY,
            stop: Stop::default(),
            seal: None,
            layout: Layout::default(),
            operator: Operator::default(),
        }
    }
}

/// A request to stop an export at the next safe point: the writer finishes the member it
/// is writing, makes everything durable and returns; the journal records why.
#[derive(Clone)]
pub struct Stop(Arc<watch::Sender<Option<String>>>);

impl Default for Stop {
    fn default() -> Self {
        Self(Arc::new(watch::channel(None).0))
    }
}

impl std::fmt::Debug for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Stop({:?})", *self.0.borrow())
    }
}

impl Stop {
    /// Asks the export to stop; `why` (`stopped by SIGTERM`) goes into the run history.
    pub fn request(&self, why: &str) {
        self.0.send_replace(Some(why.to_owned()));
    }

    /// Whether a stop was asked.
    pub fn requested(&self) -> bool {
        self.0.borrow().is_some()
    }

    fn why(&self) -> Option<String> {
        self.0.borrow().clone()
    }

    async fn wait(&self) {
        let mut rx = self.0.subscribe();
        let _ = rx.wait_for(Option::is_some).await;
    }
}

/// What earlier runs of a resumed export had done.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Resumed {
    /// Items earlier runs archived, excluded or failed, which this run skipped.
    pub items: u64,
    /// Payload bytes earlier runs archived.
    pub bytes: u64,
    /// Compressed bytes of the partial archive kept (re-read to restore its checksum).
    pub archive_bytes: u64,
    /// Seconds spent re-reading them and indexing the items done.
    pub seconds: f64,
}

/// What an export produced.
#[derive(Debug, Clone, Serialize)]
pub struct ExportSummary {
    /// The archive (when cut into volumes, the name the volumes' names extend).
    pub archive: PathBuf,
    /// The volumes, in order, when the archive is cut into volumes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<PathBuf>,
    /// Its `.sha256` sidecar.
    pub sidecar: PathBuf,
    /// The restitution page beside it (`NAME.tar.zst.report.html`); none beside an
    /// encrypted archive.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report_page: Option<PathBuf>,
    /// Whether everything listed is archived (or excluded on purpose).
    pub complete: bool,
    /// Items archived, with or without bytes.
    pub archived: u64,
    /// Payload bytes archived.
    pub archived_bytes: u64,
    /// Failure records in the report: items that could not be archived, items archived
    /// without all their metadata, listings that stopped early.
    pub failed: u64,
    /// Items left out on purpose.
    pub excluded: u64,
    /// Archived items that changed at the source between the listing and their download,
    /// archived as fetched; their inventory records say what the listing announced.
    pub changed_since_listing: u64,
    /// Size of the archive file.
    pub archive_bytes: u64,
    /// sha256 of the archive file.
    pub archive_sha256: String,
    /// Wall time.
    pub seconds: f64,
    /// Per source.
    pub sources: Vec<SourceReport>,
    /// The first failures (at most 1000), so that a script sees what failed without
    /// opening the archive, whose report names them all.
    pub failures: Vec<Failure>,
    /// Failures not in `failures`.
    pub more_failures: u64,
    /// Sources whose listing found nothing to archive.
    pub warnings: Vec<Warning>,
    /// Items an earlier run archived and this run's listing found changed (a resumed
    /// export): the archive keeps what was archived, the report names them.
    pub changed_after_archived: u64,
    /// What earlier runs had done, when this run resumed an interrupted export.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resumed: Option<Resumed>,
    /// Every run of the export, this one last.
    pub runs: Vec<Run>,
}

/// One source as the listing alone sees it.
#[derive(Debug, Clone, Serialize)]
pub struct SourceInventory {
    /// Source id, as an export would put it under `data/`.
    pub source: String,
    /// The source, without credentials.
    pub url: String,
    /// Items and bytes listed per kind.
    pub kinds: BTreeMap<String, ClassCounts>,
    /// Items and bytes per storage class, where the provider names classes.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub storage_classes: BTreeMap<String, ClassCounts>,
    /// Time spent listing, in seconds.
    pub listing_seconds: f64,
    /// Why the listing stopped early, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl SourceInventory {
    /// A warning when the listing found nothing to archive.
    pub fn empty_warning(&self) -> Option<Warning> {
        crate::warning::empty_source(&self.source, &self.url, self.kinds.iter().map(|(k, c)| (k.as_str(), c.items)))
    }
}

/// Lists the sources without transferring bodies.
pub async fn inventory(
    sources: &[Source],
    policy: &RetryPolicy,
    progress: ProgressSink,
) -> Result<Vec<SourceInventory>> {
    let ids = unique_ids(sources);
    let mut out = Vec::new();
    for (source, id) in sources.iter().zip(&ids) {
        let listing = list_source(id, source.provider.as_ref(), policy, &progress, ItemSink::Count, None).await?;
        let kinds = listing
            .kinds
            .iter()
            .map(|(kind, c)| (kind.clone(), ClassCounts { items: c.listed, bytes: c.listed_bytes }));
        out.push(SourceInventory {
            source: id.clone(),
            url: source.spec.url.clone(),
            kinds: kinds.collect(),
            storage_classes: listing.storage_classes,
            listing_seconds: listing.seconds,
            error: listing.error.map(|e| e.to_string()),
        });
    }
    Ok(out)
}

/// Exports the opened `sources` (see [`crate::plan`]) into the archive `output`. An `Err`
/// means no archive was written; an incomplete export still writes one, with
/// `complete: false`. Once some of the work is durable, an `Err` (a stop, a full disk)
/// leaves the partial archive and its journal for `--resume`; the error says so.
pub async fn export(
    sources: &[Source],
    output: &Path,
    options: &ExportOptions,
    progress: ProgressSink,
) -> Result<ExportSummary> {
    let (out, file) = Output::prepare(output, &options.layout, options.force, options.resume)?;
    let started_at = now_rfc3339();
    let begun = match Begun::open(sources, &out, file, options, &started_at) {
        Ok(begun) => begun,
        Err(error) => {
            if !options.resume {
                out.abandon();
            }
            return Err(error);
        }
    };
    if let Some(resumed) = &begun.resumed {
        // Where the resume is known: what earlier runs archived, which this run skips.
        let archived = begun.before.iter().flat_map(|kinds| kinds.values()).map(|c| c.archived).sum();
        let runs = u32::try_from(begun.runs.len()).unwrap_or(u32::MAX);
        progress(Event::Resumed { archived, archived_bytes: resumed.bytes, runs });
    }
    let result = run(sources, &out, begun, options, progress, started_at).await;
    if let Err(error) = &result {
        if journal::read(&out.files.archive).is_ok_and(|found| found.last.is_some()) {
            let outcome = options.stop.why().unwrap_or_else(|| format!("failed: {error}"));
            journal::run_ended(&out.files.archive, &now_rfc3339(), &outcome);
            return Err(Error::new(
                if options.stop.requested() { ErrorKind::Other } else { error.kind() },
                format!(
                    "{error}; the partial archive {} and its journal are kept: run the same command with --resume \
                     to continue",
                    out.files.partial.display()
                ),
            ));
        }
        out.abandon();
    }
    result
}

/// An export ready to run: new, or resumed from its journal.
struct Begun {
    written: Written,
    done: Option<journal::DoneIndex>,
    runs: Vec<Run>,
    resumed: Option<Resumed>,
    /// What earlier runs had handled, per source and kind.
    before: Vec<BTreeMap<String, KindCounts>>,
}

impl Begun {
    fn open(sources: &[Source], out: &Output, file: File, options: &ExportOptions, started_at: &str) -> Result<Self> {
        let specs: Vec<_> = sources.iter().map(|s| s.spec.clone()).collect();
        let archive = &out.files.archive;
        let writer_options = WriterOptions { level: options.zstd_level, workers: options.zstd_workers };
        let bag = bag_name(archive);
        let io = |e: std::io::Error| Error::io("cannot write the archive", &e);
        let empty = || vec![BTreeMap::<String, KindCounts>::new(); sources.len()];
        let unseen = || vec![BTreeMap::<String, u64>::new(); sources.len()];
        let resumable_cursors: Vec<bool> =
            sources.iter().map(|s| s.provider.capabilities().resumable_cursors).collect();
        let mut runs = Vec::new();
        if options.resume {
            let found = journal::read(archive)?;
            found.check(archive, &specs)?;
            runs.clone_from(&found.runs);
            if let Some(last) = found.last.clone() {
                let clock = Instant::now();
                let mut file = file;
                let prefix = journal::check_prefix(&mut file, &last.archive)?;
                let [inventory, failures, exclusions, done, changes] = last.spools;
                let manifest = Spool::plain(journal::reopen_spool(archive, "manifest", last.archive.manifest_bytes)?);
                let reopen = |spool: &str, len: u64| {
                    journal::reopen_spool(archive, spool, len).map(|file| BufWriter::new(Spool::plain(file)))
                };
                let cursors = Arc::new(cursors::Cursors::new(&resumable_cursors, &last.cursors));
                // The items before a source's safe cursor are not listed again: each counts
                // as seen, as if the listing had found it unchanged.
                let seen_again = cursors
                    .snapshot()
                    .into_iter()
                    .map(|safe| {
                        safe.map(|safe| {
                            let held = safe.held();
                            safe.kinds
                                .into_iter()
                                .map(|(kind, c)| {
                                    let held = held.get(&kind).copied().unwrap_or(0);
                                    (kind, c.listed - held)
                                })
                                .collect()
                        })
                        .unwrap_or_default()
                    })
                    .collect();
                let written = Written {
                    archive: ArchiveWriter::resume(file, &bag, manifest, &last.archive, prefix, writer_options)
                        .map_err(io)?,
                    counts: last.counts.clone(),
                    inventory: reopen("inventory", inventory)?,
                    failures: reopen("failures", failures)?,
                    exclusions: reopen("exclusions", exclusions)?,
                    done: reopen("done", done)?,
                    changes: reopen("changes", changes)?,
                    journal: found.into_journal(),
                    failed: last.failed,
                    listing_failures: Vec::new(),
                    seen_again,
                    cursors,
                };
                let index = journal::DoneIndex::build(archive, done)?;
                let resumed = Resumed {
                    items: index.len(),
                    bytes: last.archive.payload_bytes,
                    archive_bytes: last.archive.archive_bytes,
                    seconds: clock.elapsed().as_secs_f64(),
                };
                tracing::info!(
                    items = resumed.items,
                    archive_bytes = resumed.archive_bytes,
                    seconds = resumed.seconds,
                    "resuming"
                );
                let mut begun = Self { written, done: Some(index), runs, resumed: Some(resumed), before: last.counts };
                begun.written.journal.run_started(started_at)?;
                begun.runs.push(Run { started: started_at.to_owned(), ended: None, outcome: String::new() });
                return Ok(begun);
            }
            // Killed before anything was durable: start over, keeping the run history.
            tracing::info!("the interrupted export had made nothing durable: starting over");
            file.set_len(0).map_err(io)?;
        } else {
            journal::remove(archive);
        }
        let resumable = options.layout.resumable();
        let mut journal =
            if resumable { journal::Journal::create(archive, &specs, &runs)? } else { journal::Journal::none() };
        journal.run_started(started_at)?;
        runs.push(Run { started: started_at.to_owned(), ended: None, outcome: String::new() });
        // A resumable export's spools are named and in clear beside its partial, for a later
        // process; an encrypted or split one's are unnamed and encrypted under a key in memory.
        let spool = |name: &str| -> Result<Spool> {
            if resumable {
                journal::create_spool(archive, name).map(Spool::plain)
            } else {
                sortie_formats::spool::tempfile_in(&out.dir)
                    .map_err(|e| Error::io(format!("cannot create the {name} spool beside the output"), &e))
            }
        };
        let volumes = options.layout.volume_size.map(|size| {
            let files: Box<dyn VolumeFiles> = Box::new(VolumePaths(out.files.clone()));
            (size, files)
        });
        let sink = Sink::new(file, options.layout.recipients.as_ref(), volumes).map_err(io)?;
        let written = Written {
            archive: ArchiveWriter::create(sink, &bag, spool("manifest")?, writer_options).map_err(io)?,
            counts: empty(),
            inventory: BufWriter::new(spool("inventory")?),
            failures: BufWriter::new(spool("failures")?),
            exclusions: BufWriter::new(spool("exclusions")?),
            done: BufWriter::new(spool("done")?),
            changes: BufWriter::new(spool("changes")?),
            journal,
            failed: 0,
            listing_failures: Vec::new(),
            seen_again: unseen(),
            cursors: Arc::new(cursors::Cursors::new(&resumable_cursors, &[])),
        };
        Ok(Self { written, done: None, runs, resumed: None, before: empty() })
    }
}

async fn run(
    sources: &[Source],
    out: &Output,
    begun: Begun,
    options: &ExportOptions,
    progress: ProgressSink,
    started_at: String,
) -> Result<ExportSummary> {
    let started = Instant::now();
    let providers: &[Arc<dyn Provider>] = &sources.iter().map(|s| s.provider.clone()).collect::<Vec<_>>();
    let ids = unique_ids(sources);
    let Begun { written: state, done, mut runs, resumed, before } = begun;
    let cursors = state.cursors.clone();
    let (tx, rx) = mpsc::channel(options.concurrency.max(1) * 2);
    let writer = WriterThread {
        state,
        sources: ids.clone(),
        progress: progress.clone(),
        stop: options.stop.clone(),
        durable_every: options.durable_every,
    };
    let writer = tokio::task::spawn_blocking(move || {
        let stop = writer.stop.clone();
        let mut written = writer.run(rx)?;
        // Everything handled is made durable before the tag files, so that a kill while
        // they are written, or before the rename, loses none of it.
        written.durable()?;
        if !stop.requested() {
            written.journal.finishing()?;
        }
        Ok::<_, Error>(written)
    });
    let fetcher = Arc::new(Fetcher {
        tx: tx.clone(),
        live: Arc::new(Semaphore::new(1)),
        budget: Arc::new(Semaphore::new(MEMORY_BUDGET_KIB)),
        policy: options.retry,
        progress: progress.clone(),
        spool_dir: out.dir.clone(),
        refused: providers.iter().map(|_| OnceLock::new()).collect(),
        ranges: options.ranges,
        all_checksums: options.all_checksums,
    });

    // Listing and fetching run together; the channel between them bounds the memory.
    let (listed_tx, listed_rx) = mpsc::channel(LISTED_AHEAD);
    let listing = list_all(providers, &ids, options, &progress, listed_tx, cursors);
    let dispatching =
        dispatch(providers, &ids, listed_rx, tx.clone(), fetcher, options.concurrency.max(1), done.as_ref());
    let work = async { tokio::join!(listing, dispatching) };
    let finished_work = tokio::select! {
        biased;
        () = options.stop.wait() => None,
        finished = work => Some(finished),
    };
    let Some((listings, dispatched)) = finished_work else {
        drop(tx);
        writer.await.map_err(|e| Error::new(ErrorKind::Other, format!("the archive writer crashed: {e}")))??;
        let why = options.stop.why().unwrap_or_default();
        return Err(Error::new(ErrorKind::Other, why));
    };
    let listings = listings?;
    dispatched?;
    for (id, listing) in ids.iter().zip(&listings) {
        if let Some(error) = &listing.error {
            let failure = Failure {
                source: id.clone(),
                id: String::new(),
                kind: "listing".into(),
                error: error.to_string(),
                attempts: 0,
            };
            // A closed channel means the writer failed; its error is the one reported.
            let _ = tx.send(ToWriter::ListingFailed(failure)).await;
        }
    }
    drop(tx);
    let written =
        writer.await.map_err(|e| Error::new(ErrorKind::Other, format!("the archive writer crashed: {e}")))??;
    if let Some(why) = options.stop.why() {
        return Err(Error::new(ErrorKind::Other, why));
    }

    // Tag files.
    progress(Event::Finishing);
    let reports: Vec<SourceReport> = sources
        .iter()
        .zip(&ids)
        .zip(listings)
        .zip(&written.counts)
        .zip(before.iter().zip(&written.seen_again))
        .map(|((((source, id), listing), counts), (before, seen))| SourceReport {
            source: id.clone(),
            url: source.spec.url.clone(),
            kinds: merge_counts(listing.kinds, counts, before, seen),
            listing_seconds: listing.seconds,
            account: source.provider.account(),
        })
        .collect();
    if let Some(run) = runs.last_mut() {
        run.outcome = "completed".to_owned();
    }
    let finished_summary = tokio::task::spawn_blocking({
        let reports = reports.clone();
        let dir = out.dir.clone();
        let runs = runs.clone();
        let archive = out.files.archive.clone();
        let seal = options.seal.clone();
        let operator = options.operator.clone();
        move || {
            let history = History { started_at, runs, operator: &operator };
            finish(written, reports, history, &dir, &archive, seal.as_deref())
        }
    })
    .await
    .map_err(|e| Error::new(ErrorKind::Other, format!("the archive writer crashed: {e}")))??;
    let Closed { archive: finished, failed, first_failures, runs, report } = finished_summary;
    // An encrypted export leaves nothing in clear beside it: its page is the one in the bag,
    // which `sortie report -i IDENTITY --html` prints again.
    let page = if options.layout.recipients.is_some() {
        None
    } else {
        let page = out.report_page()?;
        let copy = Copy::Beside {
            archive_name: file_name(&out.files.archive),
            sha256: finished.sha256.clone(),
            bytes: Some(finished.bytes),
        };
        let mut writer = BufWriter::new(page.as_file());
        // The signer, and the time stamp of the bag's tag manifest once the seal got it.
        let evidence = options.seal.as_deref().map_or_else(Evidence::default, Seal::evidence);
        render(&mut writer, &report, &copy, &evidence)
            .and_then(|()| writer.flush())
            .map_err(|e| Error::io("cannot write the restitution page beside the output", &e))?;
        drop(writer);
        Some(page)
    };
    let report_page = page.as_ref().map(|_| out.files.report.clone());
    out.commit(&finished, page)?;

    let total = |f: fn(&KindCounts) -> u64| reports.iter().flat_map(|r| r.kinds.values()).map(f).sum::<u64>();
    Ok(ExportSummary {
        archive: out.files.archive.clone(),
        volumes: if out.files.volumes {
            (1..).take(finished.volumes.len()).map(|n| out.files.volume(n)).collect()
        } else {
            Vec::new()
        },
        sidecar: out.files.sidecar.clone(),
        report_page,
        complete: failed == 0,
        archived: total(|c| c.archived),
        archived_bytes: total(|c| c.archived_bytes),
        failed,
        excluded: total(|c| c.excluded),
        changed_since_listing: total(|c| c.changed_since_listing),
        changed_after_archived: total(|c| c.changed_after_archived),
        archive_bytes: finished.bytes,
        archive_sha256: finished.sha256,
        seconds: started.elapsed().as_secs_f64(),
        warnings: reports.iter().filter_map(empty_warning).collect(),
        sources: reports,
        more_failures: failed.saturating_sub(first_failures.len() as u64),
        failures: first_failures,
        resumed,
        runs,
    })
}

fn empty_warning(report: &SourceReport) -> Option<Warning> {
    crate::warning::empty_source(&report.source, &report.url, report.kinds.iter().map(|(k, c)| (k.as_str(), c.listed)))
}

/// Source ids, made unique within one archive by numbering repeats.
pub(crate) fn unique_ids(sources: &[Source]) -> Vec<String> {
    let mut ids = SourceIds::default();
    sources.iter().map(|source| ids.next(&source.spec.id)).collect()
}

/// Gives the sources of one archive, in their order, the ids they have under `data/`:
/// plain, and unique by numbering repeats. Shared by the export and by the opening of the
/// sources, so that a source is named the same way before and during the export.
#[derive(Default)]
pub(crate) struct SourceIds {
    seen: HashSet<String>,
}

impl SourceIds {
    /// The id of the next source, whose provider named it `wanted`.
    pub(crate) fn next(&mut self, wanted: &str) -> String {
        let mut base = wanted.to_owned();
        if !payload_path::is_plain_source_id(&base) {
            base = format!("source-{}", slug(&base));
        }
        let mut id = base.clone();
        let mut n = 2;
        while !self.seen.insert(id.clone()) {
            id = format!("{base}-{n}");
            n += 1;
        }
        id
    }
}
