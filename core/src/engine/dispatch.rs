//! Phase two: every listed item is sent on its way to the writer. Small items of local
//! providers are read in runs on blocking threads and batched; everything else is fetched by
//! a task of its own, at most `--concurrency` at a time. Listing runs at the same time and
//! feeds the dispatcher through a bounded channel.

use std::sync::Arc;

use sortie_formats::payload_path::{self, payload_path};
use sortie_formats::report::ChangedAfterArchived;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::JoinSet;

use crate::error::{Error, ErrorKind, Result};
use crate::item::{Area, Item, Skip};
use crate::progress::{Event, ProgressSink};
use crate::provider::Provider;

use super::ExportOptions;
use super::cursors::Cursors;
use super::fetch::{self, Fetcher};
use super::journal::{Decision, DoneIndex, listed_state};
use super::listing::{Handoff, ItemSink, Listed, SourceListing, list_source};
use super::writer::{Job, ToWriter};

/// Items gathered before one hand-off: one wake-up of the writer, or one thread hop for a
/// run of small local reads, instead of one per item. Small enough to stay far below the
/// memory budget.
const BATCH_ITEMS: usize = 256;
const BATCH_BYTES: u64 = 1 << 20;
/// Listed items waiting for the dispatcher.
pub(crate) const LISTED_AHEAD: usize = 1024;

type Task = std::result::Result<(), fetch::WriterGone>;

/// Lists every source, one after the other, straight to the dispatcher; a resumed export's
/// from the safe points its journal kept.
pub(crate) async fn list_all(
    providers: &[Arc<dyn Provider>],
    ids: &[String],
    options: &ExportOptions,
    progress: &ProgressSink,
    dispatcher: mpsc::Sender<Listed>,
    cursors: Arc<Cursors>,
) -> Result<Vec<SourceListing>> {
    let starts = cursors.snapshot();
    let handoff = Handoff::new(dispatcher, cursors);
    let mut listings = Vec::new();
    for (index, ((provider, id), from)) in providers.iter().zip(ids).zip(starts).enumerate() {
        let sink = ItemSink::Dispatch(index, &handoff);
        listings.push(list_source(id, provider.as_ref(), &options.retry, progress, sink, from).await?);
    }
    progress(Event::ListingDone {
        items: listings.iter().map(|l| l.to_fetch).sum(),
        bytes: listings.iter().map(|l| l.to_fetch_bytes).sum(),
    });
    Ok(listings)
}

/// Sends every listed item on its way, keeping at most `concurrency` fetches (or runs of
/// small local reads) under way.
pub(crate) async fn dispatch(
    providers: &[Arc<dyn Provider>],
    ids: &[String],
    mut listed: mpsc::Receiver<Listed>,
    tx: mpsc::Sender<ToWriter>,
    fetcher: Arc<Fetcher>,
    concurrency: usize,
    done: Option<&DoneIndex>,
) -> Result<()> {
    let local: Vec<bool> = providers.iter().map(|p| p.capabilities().local).collect();
    // A source's own cap (connections per IMAP user, an API's rate limit) within the global
    // one: the dispatcher waits for a slot of the item's source before it takes a global one.
    let source_slots: Vec<Option<Arc<Semaphore>>> = providers
        .iter()
        // A plugin may answer any number: tokio's semaphores hold at most MAX_PERMITS.
        .map(|p| p.capabilities().max_concurrency.map(|n| Arc::new(Semaphore::new(n.clamp(1, Semaphore::MAX_PERMITS)))))
        .collect();
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
    while let Some(Listed { page, item, leaf_conflict, inline_budget }) = listed.recv().await {
        let source = page.source;
        let path = payload_path(
            &ids[source],
            area(item.area),
            &item.segments,
            leaf_conflict,
            item.version.as_ref().map(|v| v.0.as_slice()),
        );
        // Where the export decides what a listed item needs: fetched, or already done by an
        // earlier run (and whether it changed since). An incremental export's "unchanged
        // since the previous archive" would be one more decision here.
        let earlier = match done {
            Some(done) => {
                let etag = item.checksum.as_ref().map(|c| c.served.as_str());
                done.decide(source, &path, &listed_state(item.size, item.modified, etag, &item))?
            }
            None => Decision::Fetch,
        };
        let skip = oversized_inline(&item).or_else(|| item.skip.clone());
        let size = item.size;
        let has_body = item.has_body;
        let kind = item.kind.as_str().to_owned();
        let fetch = match earlier {
            Decision::Fetch => true,
            Decision::Done => {
                records.push(ToWriter::Seen { page, kind });
                false
            }
            Decision::Changed(line) => {
                let etag = item.checksum.as_ref().map(|c| c.served.as_str());
                let change = ChangedAfterArchived {
                    source: ids[source].clone(),
                    path: path.clone(),
                    archived: line.l,
                    now: listed_state(item.size, item.modified, etag, &item),
                };
                records.push(ToWriter::Changed { page, kind, change });
                false
            }
        };
        let job = Job { source, page, item, path, listed: None, incomplete: None, _inline_budget: inline_budget };
        match skip {
            _ if !fetch => {}
            Some(Skip::Excluded(reason)) => records.push(ToWriter::Excluded { job, reason }),
            Some(Skip::Failed(error)) => records.push(ToWriter::Failed { job, error, attempts: 1 }),
            None if !has_body => records.push(ToWriter::NoBytes { job }),
            None if local[source] && source_slots[source].is_none() && size.is_some_and(|s| s <= fetch::SMALL) => {
                reads_bytes += size.unwrap_or(0);
                reads.push((providers[source].clone(), job));
                if reads.len() >= BATCH_ITEMS || reads_bytes >= BATCH_BYTES {
                    reads_bytes = 0;
                    lanes.read_locally(&fetcher, std::mem::take(&mut reads)).await;
                }
            }
            None => {
                // The records gathered so far go before the dispatcher may wait for a fetch
                // slot: held back, they would hold their listing page's safe cursor too.
                if !records.is_empty() && tx.send(ToWriter::Batch(std::mem::take(&mut records))).await.is_err() {
                    break;
                }
                let provider = providers[source].clone();
                let fetcher = fetcher.clone();
                let source_slot = match &source_slots[source] {
                    Some(slots) => Some(slots.clone().acquire_owned().await.expect("never closed")),
                    None => None,
                };
                lanes
                    .spawn(async move {
                        let _source_slot = source_slot;
                        match fetcher.fetch(&provider, job).await? {
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

/// The archive's area for the contract's.
fn area(area: Area) -> payload_path::Area {
    match area {
        Area::Content => payload_path::Area::Content,
        Area::Config => payload_path::Area::Config,
        Area::Versions => payload_path::Area::Versions,
    }
}

/// A listing that carries more bytes inline than the contract allows breaks the memory
/// bound the engine promises: the item fails, naming the cause, instead of being archived.
fn oversized_inline(item: &Item) -> Option<Skip> {
    let inline = item.inline.as_ref()?;
    (inline.len() > Item::INLINE_MAX).then(|| {
        Skip::Failed(format!(
            "the provider listed {} bytes inline, more than the {} a listing may carry (a defect of the provider)",
            inline.len(),
            Item::INLINE_MAX
        ))
    })
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
                        messages.extend(fetcher.fetch(&provider, job).await?);
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
fn reap(done: std::result::Result<Task, tokio::task::JoinError>) -> Result<bool> {
    match done {
        Ok(Ok(())) => Ok(false),
        Ok(Err(fetch::WriterGone)) => Ok(true),
        Err(e) if e.is_cancelled() => Ok(false),
        Err(e) => Err(Error::new(ErrorKind::Other, format!("a fetch task crashed: {e}"))),
    }
}
