//! Phase one: every source is listed page by page, each item counted and handed on (to
//! the dispatcher by the export, nowhere by `inventory`), so that a listing of any length
//! never sits in memory.

use std::collections::BTreeMap;
use std::time::Instant;

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

use sortie_formats::report::KindCounts;

use crate::error::{Error, ErrorKind, Result};
use crate::item::{Area, Item, STORAGE_CLASS};
use crate::progress::{Event, ProgressSink};
use crate::provider::Provider;
use crate::retry::{RetryPolicy, retry};

use super::conflicts::LeafConflicts;
use super::cursors::{Cursors, PageTag, SafePoint};

/// What listing one source found.
#[derive(Debug, Default)]
pub struct SourceListing {
    /// Counts per kind; only `listed` and `listed_bytes` are filled at this stage.
    pub kinds: BTreeMap<String, KindCounts>,
    /// Items and bytes per storage class, for items whose provider names one.
    pub storage_classes: BTreeMap<String, ClassCounts>,
    /// Items with bytes to fetch.
    pub to_fetch: u64,
    /// Bytes announced for them.
    pub to_fetch_bytes: u64,
    /// Seconds spent listing.
    pub seconds: f64,
    /// Set when the listing stopped before its end.
    pub error: Option<Error>,
}

/// Items and bytes in one storage class.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ClassCounts {
    /// Items listed in the class.
    pub items: u64,
    /// Their announced bytes.
    pub bytes: u64,
}

/// One listed item on its way to the dispatcher.
pub(crate) struct Listed {
    /// Its source, and the page it was handed on in, for the writer to say when the page
    /// is handled whole.
    pub(crate) page: PageTag,
    pub(crate) item: Item,
    /// The item is a leaf whose name is also a directory (flat namespaces only).
    pub(crate) leaf_conflict: bool,
    /// The share of the inline budget the item's inline bytes hold until it is written.
    pub(crate) inline_budget: Option<Arc<OwnedSemaphorePermit>>,
}

/// Inline bytes all listed items on their way to the archive may hold together, in KiB.
const INLINE_BUDGET_KIB: u32 = 16 * 1024;

/// The way from the listing to the dispatcher: a bounded channel, and a budget for the bytes
/// items carry inline, so that the items listed ahead of the fetches cannot hold a thousand
/// documents of up to `Item::INLINE_MAX` each.
pub(crate) struct Handoff {
    tx: mpsc::Sender<Listed>,
    inline_budget: Arc<Semaphore>,
    /// The pages under way, for the journal's safe cursors.
    cursors: Arc<Cursors>,
}

impl Handoff {
    pub(crate) fn new(tx: mpsc::Sender<Listed>, cursors: Arc<Cursors>) -> Self {
        Self { tx, inline_budget: Arc::new(Semaphore::new(INLINE_BUDGET_KIB as usize)), cursors }
    }

    /// Hands an item on once its inline bytes fit in the budget; false when the dispatcher
    /// is gone.
    async fn send(&self, page: PageTag, item: Item, leaf_conflict: bool) -> bool {
        // Counted before it leaves, so that the writer never handles an item of a page
        // that does not count it.
        self.cursors.listed(page);
        let inline_budget = match &item.inline {
            Some(bytes) => {
                let kib = u32::try_from(bytes.len().div_ceil(1024)).unwrap_or(u32::MAX).clamp(1, INLINE_BUDGET_KIB);
                let permit = self.inline_budget.clone().acquire_many_owned(kib).await.expect("never closed");
                Some(Arc::new(permit))
            }
            None => None,
        };
        self.tx.send(Listed { page, item, leaf_conflict, inline_budget }).await.is_ok()
    }
}

/// Where listed items go.
pub(crate) enum ItemSink<'a> {
    /// Nowhere: they are only counted (`sortie inventory`).
    Count,
    /// To a function, in listing order (`sortie verify --against` compares them with an
    /// archive's inventory).
    Each(&'a mut (dyn FnMut(Item) + Send)),
    /// To the dispatcher, which fetches while the listing goes on; in a flat namespace an
    /// item waits until the listing has passed every key that could make it a directory.
    Dispatch(usize, &'a Handoff),
}

/// Lists `provider` to the end (or to an error that retries did not cure), handing every
/// item to `sink` in listing order; from the safe point `from` an earlier run of a resumed
/// export reached, with what it had counted before it, when given.
pub(crate) async fn list_source(
    source: &str,
    provider: &dyn Provider,
    policy: &RetryPolicy,
    progress: &ProgressSink,
    mut sink: ItemSink<'_>,
    from: Option<SafePoint>,
) -> Result<SourceListing> {
    let started = Instant::now();
    let flat = provider.capabilities().flat_namespace;
    // Content and configuration are two namespaces (a Swift container's objects, and the
    // manifests of its large objects named after them), each listed in key order.
    let (mut content, mut config): (LeafConflicts<Item>, LeafConflicts<Item>) = Default::default();
    let mut listing = SourceListing::default();
    let mut cursor: Option<String> = None;
    // The page items were last handed on with: a listing that stops early still hands on,
    // with it, the items it held back (their leaf-conflict answer is as known as it gets).
    let mut last_tag = None;
    if let Some(from) = from {
        let Some(next) = from.cursor else {
            // Listed whole and handled by earlier runs.
            return Ok(SourceListing {
                kinds: from.kinds,
                storage_classes: from.storage_classes,
                to_fetch: from.to_fetch,
                to_fetch_bytes: from.to_fetch_bytes,
                ..SourceListing::default()
            });
        };
        tracing::info!(source, cursor = %next, "the listing continues from the journal's cursor");
        cursor = Some(next);
        listing.kinds = from.kinds;
        listing.storage_classes = from.storage_classes;
        listing.to_fetch = from.to_fetch;
        listing.to_fetch_bytes = from.to_fetch_bytes;
        // Items listed before the cursor whose leaf-conflict answer was not known yet.
        (content, config) = (from.content, from.config);
    }
    let mut items: u64 = listing.kinds.values().map(|c| c.listed).sum();
    let mut bytes: u64 = listing.kinds.values().map(|c| c.listed_bytes).sum();
    loop {
        let (page, _) = retry(
            policy,
            |retry, error: &Error| {
                progress(Event::Retrying { id: format!("{source} listing"), retry, error: error.to_string() })
            },
            || provider.list_page(cursor.clone()),
        )
        .await;
        let page = match page {
            Ok(page) => page,
            Err(error) => {
                listing.error = Some(error.context(format!("listing of {source} stopped after {items} items")));
                break;
            }
        };
        let tag = match &sink {
            ItemSink::Dispatch(index, handoff) => Some((handoff.cursors.begin_page(*index), *handoff)),
            _ => None,
        };
        last_tag = tag.or(last_tag);
        for item in page.items {
            let counts = listing.kinds.entry(item.kind.as_str().to_owned()).or_default();
            counts.listed += 1;
            counts.listed_bytes += item.size.unwrap_or(0);
            if item.skip.is_none() && item.has_body {
                listing.to_fetch += 1;
                listing.to_fetch_bytes += item.size.unwrap_or(0);
            }
            if let Some(class) = item.meta.get(STORAGE_CLASS).and_then(|c| c.as_str()) {
                let counts = listing.storage_classes.entry(class.to_owned()).or_default();
                counts.items += 1;
                counts.bytes += item.size.unwrap_or(0);
            }
            items += 1;
            bytes += item.size.unwrap_or(0);
            let (page_tag, dispatcher) = match (&mut sink, tag) {
                (ItemSink::Dispatch(..), Some((page_tag, dispatcher))) => (page_tag, dispatcher),
                (ItemSink::Each(each), _) => {
                    each(item);
                    continue;
                }
                _ => continue,
            };
            let detector = match item.area {
                Area::Content => Some(&mut content),
                Area::Config => Some(&mut config),
                Area::Versions => None,
            };
            let delivered = if let (true, Some(detector)) = (flat, detector) {
                hand_on(dispatcher, page_tag, detector.observe(joined(&item), item)).await
            } else {
                dispatcher.send(page_tag, item, false).await
            };
            if !delivered {
                // The export is failing; the writer reports why.
                listing.seconds = started.elapsed().as_secs_f64();
                return Ok(listing);
            }
        }
        progress(Event::Listed { source: source.to_owned(), items, bytes });
        match page.next {
            // A server that hands back the cursor it was given would be listed forever.
            Some(next) if cursor.as_ref() == Some(&next) => {
                let error = Error::new(ErrorKind::Other, format!("the provider answered cursor {next:?} with itself"));
                listing.error = Some(error.context(format!("listing of {source} stopped after {items} items")));
                break;
            }
            Some(next) => {
                if let Some((page_tag, handoff)) = tag {
                    let end = SafePoint::after(Some(next.clone()), &listing, &content, &config);
                    handoff.cursors.page_listed(page_tag, end);
                }
                cursor = Some(next);
            }
            None => {
                if let Some((page_tag, handoff)) = tag {
                    // The items still held go with the last page, which is then done.
                    for detector in [std::mem::take(&mut content), std::mem::take(&mut config)] {
                        hand_on(handoff, page_tag, detector.finish()).await;
                    }
                    handoff.cursors.page_listed(page_tag, SafePoint::after(None, &listing, &content, &config));
                }
                break;
            }
        }
    }
    if let (Some(_), Some((page_tag, handoff))) = (&listing.error, last_tag) {
        for detector in [std::mem::take(&mut content), std::mem::take(&mut config)] {
            hand_on(handoff, page_tag, detector.finish()).await;
        }
    }
    listing.seconds = started.elapsed().as_secs_f64();
    match &listing.error {
        None => tracing::info!(source, items, bytes, seconds = listing.seconds, "listing done"),
        Some(error) => tracing::info!(source, items, bytes, seconds = listing.seconds, %error, "listing stopped early"),
    }
    Ok(listing)
}

/// Sends items whose leaf-conflict answer is known; false when the dispatcher is gone.
async fn hand_on(dispatcher: &Handoff, page: PageTag, decided: Vec<(Item, bool)>) -> bool {
    for (item, leaf_conflict) in decided {
        if !dispatcher.send(page, item, leaf_conflict).await {
            return false;
        }
    }
    true
}

/// The item's segments joined with `/`, the form in which leaf conflicts are kept.
pub(crate) fn joined(item: &Item) -> Vec<u8> {
    let mut key = Vec::new();
    for (index, segment) in item.segments.iter().enumerate() {
        if index > 0 {
            key.push(b'/');
        }
        key.extend_from_slice(&segment.0);
    }
    key
}
