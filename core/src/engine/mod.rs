//! The export pipeline: list every source to a spool (phase one), then fetch with bounded
//! concurrency into the single writer thread (phase two), then write the tag files and
//! move the archive into place.

mod conflicts;
mod fetch;
pub mod listing;
mod output;
mod writer;

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::{BufReader, BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use sortie_formats::FORMAT_VERSION;
use sortie_formats::bagit::{INVENTORY, REPORT};
use sortie_formats::payload_path::{self, payload_path};
use sortie_formats::report::{self, Failure, KindCounts, ReportHeader, SourceReport};
use sortie_formats::writer::{ArchiveWriter, WriterOptions, bag_name};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::JoinSet;

use crate::error::{Error, ErrorKind, Result};
use crate::item::Skip;
use crate::progress::{Event, ProgressSink};
use crate::provider::Provider;
use crate::retry::RetryPolicy;

use fetch::{Fetcher, MEMORY_BUDGET_KIB};
use listing::{ItemSink, Listed, SourceListing, list_source};
use output::Output;
use writer::{Job, ToWriter, WriterThread, Written, now_rfc3339, spool_line};

/// How to export.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// Items fetched at once.
    pub concurrency: usize,
    /// Retries of temporary errors.
    pub retry: RetryPolicy,
    /// zstd level.
    pub zstd_level: i32,
    /// zstd worker threads.
    pub zstd_workers: u32,
    /// Overwrite an existing output.
    pub force: bool,
}

impl Default for ExportOptions {
    fn default() -> Self {
        Self { concurrency: 8, retry: RetryPolicy::default(), zstd_level: 3, zstd_workers: 2, force: false }
    }
}

/// What an export produced.
#[derive(Debug, Clone, Serialize)]
pub struct ExportSummary {
    /// The archive.
    pub archive: PathBuf,
    /// Its `.sha256` sidecar.
    pub sidecar: PathBuf,
    /// Whether everything listed is archived (or excluded on purpose).
    pub complete: bool,
    /// Items archived, with or without bytes.
    pub archived: u64,
    /// Payload bytes archived.
    pub archived_bytes: u64,
    /// Items that could not be archived.
    pub failed: u64,
    /// Items left out on purpose.
    pub excluded: u64,
    /// Size of the archive file.
    pub archive_bytes: u64,
    /// sha256 of the archive file.
    pub archive_sha256: String,
    /// Wall time.
    pub seconds: f64,
    /// Per source.
    pub sources: Vec<SourceReport>,
}

/// One source as the listing alone sees it.
#[derive(Debug, Clone, Serialize)]
pub struct SourceInventory {
    /// Counts: only `listed` and `listed_bytes` are filled.
    #[serde(flatten)]
    pub report: SourceReport,
    /// Why the listing stopped early, if it did.
    pub error: Option<String>,
}

/// Lists the sources without transferring bodies.
pub async fn inventory(
    providers: &[Arc<dyn Provider>],
    policy: &RetryPolicy,
    progress: ProgressSink,
) -> Result<Vec<SourceInventory>> {
    let ids = unique_ids(providers);
    let mut out = Vec::new();
    for (provider, id) in providers.iter().zip(&ids) {
        provider.check().await.map_err(|e| e.context(format!("source {}", provider.display_url())))?;
        let listing = list_source(id, provider.as_ref(), policy, &progress, ItemSink::Count).await?;
        out.push(SourceInventory {
            report: SourceReport {
                source: id.clone(),
                url: provider.display_url(),
                kinds: listing.kinds,
                listing_seconds: listing.seconds,
            },
            error: listing.error.map(|e| e.to_string()),
        });
    }
    Ok(out)
}

/// Exports `providers` into the archive `output`. An `Err` means no archive was written;
/// an incomplete export still writes one, with `complete: false`.
pub async fn export(
    providers: &[Arc<dyn Provider>],
    output: &Path,
    options: &ExportOptions,
    progress: ProgressSink,
) -> Result<ExportSummary> {
    let (out, file) = Output::prepare(output, options.force)?;
    let result = run(providers, &out, file, options, progress).await;
    if result.is_err() {
        out.abandon();
    }
    result
}

async fn run(
    providers: &[Arc<dyn Provider>],
    out: &Output,
    file: File,
    options: &ExportOptions,
    progress: ProgressSink,
) -> Result<ExportSummary> {
    let started = Instant::now();
    let started_at = now_rfc3339();
    for provider in providers {
        provider.check().await.map_err(|e| e.context(format!("source {}", provider.display_url())))?;
    }
    let ids = unique_ids(providers);
    let temp = |what: &str| {
        tempfile::tempfile_in(&out.dir).map_err(|e| Error::io(format!("cannot create {what} beside the output"), &e))
    };
    let archive = ArchiveWriter::create(
        file,
        &bag_name(&out.path),
        &out.dir,
        WriterOptions { level: options.zstd_level, workers: options.zstd_workers },
    )
    .map_err(|e| Error::io("cannot write the archive", &e))?;
    let state = Written {
        archive,
        counts: vec![BTreeMap::new(); providers.len()],
        inventory: BufWriter::new(temp("the inventory spool")?),
        failures: BufWriter::new(temp("the failure spool")?),
        exclusions: BufWriter::new(temp("the exclusion spool")?),
        failed: 0,
    };
    let (tx, rx) = mpsc::channel(options.concurrency.max(1) * 2);
    let writer = WriterThread { state, sources: ids.clone(), progress: progress.clone() };
    let writer = tokio::task::spawn_blocking(move || writer.run(rx));
    let fetcher = Arc::new(Fetcher {
        tx: tx.clone(),
        live: Arc::new(Semaphore::new(1)),
        budget: Arc::new(Semaphore::new(MEMORY_BUDGET_KIB)),
        policy: options.retry,
        progress: progress.clone(),
        spool_dir: out.dir.clone(),
    });

    // Listing and fetching run together; the channel between them bounds the memory.
    let (listed_tx, listed_rx) = mpsc::channel(LISTED_AHEAD);
    let listing = list_all(providers, &ids, options, &progress, &out.dir, listed_tx);
    let dispatching = dispatch(providers, &ids, listed_rx, tx.clone(), fetcher, options.concurrency.max(1));
    let (listings, dispatched) = tokio::join!(listing, dispatching);
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

    // Tag files.
    progress(Event::Finishing);
    let reports: Vec<SourceReport> = providers
        .iter()
        .zip(&ids)
        .zip(listings)
        .zip(&written.counts)
        .map(|(((provider, id), listing), counts)| SourceReport {
            source: id.clone(),
            url: provider.display_url(),
            kinds: merge_counts(listing.kinds, counts),
            listing_seconds: listing.seconds,
        })
        .collect();
    let finished_summary = tokio::task::spawn_blocking({
        let reports = reports.clone();
        let dir = out.dir.clone();
        move || finish(written, reports, started_at, &dir)
    })
    .await
    .map_err(|e| Error::new(ErrorKind::Other, format!("the archive writer crashed: {e}")))??;
    let (finished, complete) = finished_summary;
    let sidecar = out.commit(&finished.sha256)?;

    let total = |f: fn(&KindCounts) -> u64| reports.iter().flat_map(|r| r.kinds.values()).map(f).sum::<u64>();
    Ok(ExportSummary {
        archive: out.path.clone(),
        sidecar,
        complete,
        archived: total(|c| c.archived),
        archived_bytes: total(|c| c.archived_bytes),
        failed: total(|c| c.failed),
        excluded: total(|c| c.excluded),
        archive_bytes: finished.bytes,
        archive_sha256: finished.sha256,
        seconds: started.elapsed().as_secs_f64(),
        sources: reports,
    })
}

/// Items gathered before one hand-off: one wake-up of the writer, or one thread hop for a
/// run of small local reads, instead of one per item. Small enough to stay far below the
/// memory budget.
const BATCH_ITEMS: usize = 256;
const BATCH_BYTES: u64 = 1 << 20;
/// Listed items waiting for the dispatcher.
const LISTED_AHEAD: usize = 1024;

type Task = std::result::Result<(), fetch::WriterGone>;

/// Lists every source, one after the other. A source whose keys are a flat namespace is
/// spooled to disk whole first, because which of its leaves are also directories is only
/// known at the end; the others go straight to the dispatcher.
async fn list_all(
    providers: &[Arc<dyn Provider>],
    ids: &[String],
    options: &ExportOptions,
    progress: &ProgressSink,
    spool_dir: &Path,
    dispatcher: mpsc::Sender<Listed>,
) -> Result<Vec<SourceListing>> {
    let mut listings = Vec::new();
    for (index, (provider, id)) in providers.iter().zip(ids).enumerate() {
        let listing = if provider.capabilities().flat_namespace {
            let spool = tempfile::tempfile_in(spool_dir)
                .map_err(|e| Error::io("cannot create the listing spool beside the output", &e))?;
            let mut spool = BufWriter::new(spool);
            let listing =
                list_source(id, provider.as_ref(), &options.retry, progress, ItemSink::Spool(&mut spool)).await?;
            listing::replay(index, spool, &listing.leaf_conflicts, &dispatcher).await?;
            listing
        } else {
            let sink = ItemSink::Dispatch(index, &dispatcher);
            list_source(id, provider.as_ref(), &options.retry, progress, sink).await?
        };
        listings.push(listing);
    }
    progress(Event::ListingDone {
        items: listings.iter().map(|l| l.to_fetch).sum(),
        bytes: listings.iter().map(|l| l.to_fetch_bytes).sum(),
    });
    Ok(listings)
}

/// Sends every listed item on its way, keeping at most `concurrency` fetches (or runs of
/// small local reads) under way.
async fn dispatch(
    providers: &[Arc<dyn Provider>],
    ids: &[String],
    mut listed: mpsc::Receiver<Listed>,
    tx: mpsc::Sender<ToWriter>,
    fetcher: Arc<Fetcher>,
    concurrency: usize,
) -> Result<()> {
    let local: Vec<bool> = providers.iter().map(|p| p.capabilities().local).collect();
    // Local reads are bound by the processor, not by latency: more lanes than cores would
    // only hold more bodies in memory.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut lanes = Lanes {
        slots: Arc::new(Semaphore::new(concurrency)),
        local_slots: Arc::new(Semaphore::new(concurrency.min(cores))),
        tasks: JoinSet::new(),
    };
    let mut records: Vec<ToWriter> = Vec::new();
    let mut reads: Vec<(Arc<dyn Provider>, Job)> = Vec::new();
    let mut reads_bytes = 0u64;
    while let Some(Listed { source, item, leaf_conflict }) = listed.recv().await {
        let segments: Vec<Vec<u8>> = item.segments.iter().map(|s| s.0.clone()).collect();
        let path = payload_path(&ids[source], item.area, &segments, leaf_conflict);
        let skip = item.skip.clone();
        let size = item.size;
        let has_body = item.has_body;
        let job = Job { source, item, path };
        match skip {
            Some(Skip::Excluded(reason)) => records.push(ToWriter::Excluded { job, reason }),
            Some(Skip::Failed(error)) => records.push(ToWriter::Failed { job, error, attempts: 1 }),
            None if !has_body => records.push(ToWriter::NoBytes { job }),
            None if local[source] && size.is_some_and(|s| s <= fetch::SMALL) => {
                reads_bytes += size.unwrap_or(0);
                reads.push((providers[source].clone(), job));
                if reads.len() >= BATCH_ITEMS || reads_bytes >= BATCH_BYTES {
                    reads_bytes = 0;
                    lanes.read_locally(&fetcher, std::mem::take(&mut reads)).await;
                }
            }
            None => {
                let provider = providers[source].clone();
                let fetcher = fetcher.clone();
                lanes
                    .spawn(async move {
                        match fetcher.fetch(provider.as_ref(), job).await? {
                            Some(message) => fetcher.tx.send(message).await.map_err(|_| fetch::WriterGone),
                            None => Ok(()),
                        }
                    })
                    .await;
            }
        }
        if records.len() >= BATCH_ITEMS && tx.send(ToWriter::Batch(std::mem::take(&mut records))).await.is_err() {
            break;
        }
        if lanes.writer_gone()? {
            return Ok(());
        }
    }
    if !records.is_empty() {
        let _ = tx.send(ToWriter::Batch(records)).await;
    }
    if !reads.is_empty() {
        lanes.read_locally(&fetcher, reads).await;
    }
    lanes.wait().await
}

/// The fetches under way.
struct Lanes {
    slots: Arc<Semaphore>,
    local_slots: Arc<Semaphore>,
    tasks: JoinSet<Task>,
}

impl Lanes {
    /// Starts `task` once a slot is free.
    async fn spawn(&mut self, task: impl std::future::Future<Output = Task> + Send + 'static) {
        let slot = self.slots.clone().acquire_owned().await.expect("never closed");
        self.start(slot, task);
    }

    fn start(&mut self, slot: OwnedSemaphorePermit, task: impl std::future::Future<Output = Task> + Send + 'static) {
        self.tasks.spawn(async move {
            let _slot = slot;
            task.await
        });
    }

    /// Fetches a run of small items of local providers one after the other on a blocking
    /// thread (their reads block, briefly), and hands the results to the writer at once.
    async fn read_locally(&mut self, fetcher: &Arc<Fetcher>, reads: Vec<(Arc<dyn Provider>, Job)>) {
        let fetcher = fetcher.clone();
        let runtime = tokio::runtime::Handle::current();
        let slot = self.local_slots.clone().acquire_owned().await.expect("never closed");
        self.start(slot, async move {
            let blocking = tokio::task::spawn_blocking(move || {
                runtime.block_on(async {
                    let mut messages = Vec::with_capacity(reads.len());
                    for (provider, job) in reads {
                        messages.extend(fetcher.fetch(provider.as_ref(), job).await?);
                    }
                    fetcher.tx.send(ToWriter::Batch(messages)).await.map_err(|_| fetch::WriterGone)
                })
            });
            match blocking.await {
                Ok(done) => done,
                Err(crash) => std::panic::resume_unwind(crash.into_panic()),
            }
        });
    }

    /// Reaps finished fetches; true when the writer is gone (its error ends the export).
    fn writer_gone(&mut self) -> Result<bool> {
        while let Some(done) = self.tasks.try_join_next() {
            if reap(done)? {
                self.tasks.abort_all();
                return Ok(true);
            }
        }
        Ok(false)
    }

    async fn wait(mut self) -> Result<()> {
        while let Some(done) = self.tasks.join_next().await {
            if reap(done)? {
                self.tasks.abort_all();
            }
        }
        Ok(())
    }
}

/// Returns true when the writer is gone (the export is failing; its error comes from the
/// writer), and turns a panicked fetch into an error.
fn reap(done: std::result::Result<std::result::Result<(), fetch::WriterGone>, tokio::task::JoinError>) -> Result<bool> {
    match done {
        Ok(Ok(())) => Ok(false),
        Ok(Err(fetch::WriterGone)) => Ok(true),
        Err(e) if e.is_cancelled() => Ok(false),
        Err(e) => Err(Error::new(ErrorKind::Other, format!("a fetch task crashed: {e}"))),
    }
}

/// Writes report.json and bag-info.txt and closes the archive. Returns the archive's size
/// and digest, and whether the export is complete.
fn finish(
    written: Written,
    reports: Vec<SourceReport>,
    started_at: String,
    dir: &Path,
) -> Result<(sortie_formats::framed_zstd::Finished, bool)> {
    let io = |e: std::io::Error| Error::io("cannot write the archive", &e);
    let Written { archive, inventory, mut failures, exclusions, failed, .. } = written;
    let mut unaccounted = 0;
    for report in &reports {
        for (kind, counts) in &report.kinds {
            let accounted = counts.archived + counts.excluded + counts.failed;
            if accounted != counts.listed {
                let failure = Failure {
                    source: report.source.clone(),
                    id: String::new(),
                    kind: kind.clone(),
                    error: format!("{} items listed but {accounted} archived, excluded or failed", counts.listed),
                    attempts: 0,
                };
                spool_line(&mut failures, &failure)?;
                unaccounted += 1;
            }
        }
    }
    let complete = failed == 0 && unaccounted == 0;
    let finished_at = now_rfc3339();
    let header = ReportHeader {
        format_version: FORMAT_VERSION,
        complete,
        started: started_at.clone(),
        finished: finished_at.clone(),
        sources: reports.clone(),
    };
    let reopen = |spool: BufWriter<File>| -> std::io::Result<BufReader<File>> {
        let mut file = spool.into_inner().map_err(|e| e.into_error())?;
        file.seek(SeekFrom::Start(0))?;
        Ok(BufReader::new(file))
    };
    let mut report_file = tempfile::tempfile_in(dir).map_err(io)?;
    {
        let mut out = BufWriter::new(&mut report_file);
        report::write_report(
            &mut out,
            &header,
            &mut reopen(failures).map_err(io)?,
            &mut reopen(exclusions).map_err(io)?,
        )
        .map_err(io)?;
        out.flush().map_err(io)?;
    }
    let inventory = inventory.into_inner().map_err(|e| io(e.into_error()))?;

    let mut bag_info = vec![
        (
            "Bag-Software-Agent".to_owned(),
            format!("sortie {} (https://github.com/sortie-project/sortie)", env!("CARGO_PKG_VERSION")),
        ),
        ("Bagging-Date".to_owned(), finished_at[..10].to_owned()),
        ("External-Identifier".to_owned(), format!("urn:uuid:{}", uuid::Uuid::new_v4())),
        ("Sortie-Format-Version".to_owned(), FORMAT_VERSION.to_string()),
    ];
    for report in &reports {
        bag_info.push(("Sortie-Source".to_owned(), format!("{} {}", report.source, report.url)));
    }
    bag_info.push(("Sortie-Started".to_owned(), started_at));
    bag_info.push(("Sortie-Finished".to_owned(), finished_at));
    bag_info.push(("Sortie-Complete".to_owned(), complete.to_string()));
    let finished = archive.finish(&bag_info, vec![(INVENTORY, inventory), (REPORT, report_file)]).map_err(io)?;
    Ok((finished, complete))
}

fn merge_counts(
    mut listed: BTreeMap<String, KindCounts>,
    written: &BTreeMap<String, KindCounts>,
) -> BTreeMap<String, KindCounts> {
    for (kind, counts) in written {
        let entry = listed.entry(kind.clone()).or_default();
        entry.archived = counts.archived;
        entry.archived_bytes = counts.archived_bytes;
        entry.excluded = counts.excluded;
        entry.failed = counts.failed;
    }
    listed
}

/// Source ids, made unique within one archive by numbering repeats.
fn unique_ids(providers: &[Arc<dyn Provider>]) -> Vec<String> {
    let mut seen: HashSet<String> = HashSet::new();
    providers
        .iter()
        .map(|provider| {
            let mut base = provider.source_id();
            if !payload_path::is_plain_source_id(&base) {
                base = format!("source-{}", payload_path::slug(&base));
            }
            let mut id = base.clone();
            let mut n = 2;
            while !seen.insert(id.clone()) {
                id = format!("{base}-{n}");
                n += 1;
            }
            id
        })
        .collect()
}
