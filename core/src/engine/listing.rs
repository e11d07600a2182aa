//! Phase one: every source is listed page by page, each item counted and handed on
//! (spooled to disk by the export, only counted by `inventory`), so that a listing of any
//! length never sits in memory.

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom};
use std::time::Instant;

use tokio::io::AsyncBufReadExt;
use tokio::sync::mpsc;

use sortie_formats::report::KindCounts;

use crate::error::{Error, ErrorKind, Result};
use crate::item::{Area, Item, STORAGE_CLASS};
use crate::progress::{Event, ProgressSink};
use crate::provider::Provider;
use crate::retry::{RetryPolicy, retry};

use super::conflicts::LeafConflicts;
use super::spool::spool_line;

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
    /// Leaves that are also directories (flat namespaces only), by joined segments.
    pub(crate) leaf_conflicts: HashSet<Vec<u8>>,
}

/// Items and bytes in one storage class.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct ClassCounts {
    /// Items listed in the class.
    pub items: u64,
    /// Their announced bytes.
    pub bytes: u64,
}

/// One listed item on its way to the dispatcher.
pub(crate) struct Listed {
    pub(crate) source: usize,
    pub(crate) item: Item,
    /// The item is a leaf whose name is also a directory (flat namespaces only).
    pub(crate) leaf_conflict: bool,
}

/// Where listed items go.
pub(crate) enum ItemSink<'a> {
    /// Nowhere: they are only counted (`sortie inventory`).
    Count,
    /// To a spool file, replayed once the whole source is listed (flat namespaces, whose
    /// leaf conflicts are only known at the end).
    Spool(&'a mut BufWriter<File>),
    /// Straight to the dispatcher, which fetches while the listing goes on.
    Dispatch(usize, &'a mpsc::Sender<Listed>),
}

/// Lists `provider` to the end (or to an error that retries did not cure), handing every
/// item to `sink` in listing order.
pub(crate) async fn list_source(
    source: &str,
    provider: &dyn Provider,
    policy: &RetryPolicy,
    progress: &ProgressSink,
    mut sink: ItemSink<'_>,
) -> Result<SourceListing> {
    let started = Instant::now();
    let flat = provider.capabilities().flat_namespace;
    let mut detector = LeafConflicts::default();
    let mut listing = SourceListing::default();
    let (mut items, mut bytes) = (0u64, 0u64);
    let mut cursor: Option<String> = None;
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
            if flat && item.area == Area::Content {
                detector.observe(&joined(&item));
            }
            items += 1;
            bytes += item.size.unwrap_or(0);
            match &mut sink {
                ItemSink::Count => {}
                ItemSink::Spool(spool) => spool_line(spool, &item)?,
                ItemSink::Dispatch(index, dispatcher) => {
                    let listed = Listed { source: *index, item, leaf_conflict: false };
                    if dispatcher.send(listed).await.is_err() {
                        // The export is failing; the writer reports why.
                        listing.seconds = started.elapsed().as_secs_f64();
                        return Ok(listing);
                    }
                }
            }
        }
        progress(Event::Listed { source: source.to_owned(), items, bytes });
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    listing.leaf_conflicts = detector.into_set();
    listing.seconds = started.elapsed().as_secs_f64();
    Ok(listing)
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

/// Sends a spooled source to the dispatcher, marking the leaves that are also directories.
pub(crate) async fn replay(
    index: usize,
    spool: BufWriter<File>,
    conflicts: &HashSet<Vec<u8>>,
    dispatcher: &mpsc::Sender<Listed>,
) -> Result<()> {
    let io = |e: std::io::Error| Error::io("cannot read the listing spool", &e);
    let mut file = spool.into_inner().map_err(|e| io(e.into_error()))?;
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    let mut lines = tokio::io::BufReader::new(tokio::fs::File::from_std(file)).lines();
    while let Some(line) = lines.next_line().await.map_err(io)? {
        let item: Item =
            serde_json::from_str(&line).map_err(|e| Error::new(ErrorKind::Other, format!("listing spool: {e}")))?;
        let leaf_conflict = !conflicts.is_empty() && conflicts.contains(&joined(&item));
        if dispatcher.send(Listed { source: index, item, leaf_conflict }).await.is_err() {
            break;
        }
    }
    Ok(())
}
