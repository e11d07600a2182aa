//! Phase one: every source is listed page by page, each item counted and handed on
//! (spooled to disk by the export, only counted by `inventory`), so that a listing of any
//! length never sits in memory.

use std::collections::{BTreeMap, HashSet};
use std::time::Instant;

use sortie_formats::report::KindCounts;

use crate::error::{Error, Result};
use crate::item::{Area, Item};
use crate::progress::{Event, ProgressSink};
use crate::provider::Provider;
use crate::retry::{RetryPolicy, retry};

use super::conflicts::LeafConflicts;

/// What listing one source found.
#[derive(Debug, Default)]
pub struct SourceListing {
    /// Counts per kind; only `listed` and `listed_bytes` are filled at this stage.
    pub kinds: BTreeMap<String, KindCounts>,
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

/// Lists `provider` to the end (or to an error that retries did not cure), calling
/// `on_item` for every item in listing order.
pub(crate) async fn list_source(
    source: &str,
    provider: &dyn Provider,
    policy: &RetryPolicy,
    progress: &ProgressSink,
    on_item: &mut (dyn FnMut(&Item) -> Result<()> + Send),
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
            |retry, error| {
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
        for item in &page.items {
            let counts = listing.kinds.entry(item.kind.as_str().to_owned()).or_default();
            counts.listed += 1;
            counts.listed_bytes += item.size.unwrap_or(0);
            if item.skip.is_none() && item.has_body {
                listing.to_fetch += 1;
                listing.to_fetch_bytes += item.size.unwrap_or(0);
            }
            if flat && item.area == Area::Content {
                detector.observe(&joined(item));
            }
            items += 1;
            bytes += item.size.unwrap_or(0);
            on_item(item)?;
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
