//! Where each source's listing can continue in another process: the cursor after the last
//! page whose items (and every earlier page's) the writer has handled. The listing
//! registers pages and their items; the writer marks items handled; each durable point
//! records the safe point of every source whose provider's cursors outlive the process.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use sortie_formats::report::KindCounts;

use crate::item::Item;

use super::conflicts::LeafConflicts;
use super::listing::{ClassCounts, SourceListing};

/// A position a resumed listing starts from, with what the listing had counted before it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct SafePoint {
    /// The cursor to list from; `None`: the listing ended and every item was handled.
    pub(crate) cursor: Option<String>,
    /// Counts per kind of the items listed before it (`listed` and `listed_bytes`).
    pub(crate) kinds: BTreeMap<String, KindCounts>,
    /// Items and bytes per storage class listed before it.
    pub(crate) storage_classes: BTreeMap<String, ClassCounts>,
    /// Items with bytes to fetch listed before it, and their bytes.
    pub(crate) to_fetch: u64,
    pub(crate) to_fetch_bytes: u64,
    /// Items listed before it and not yet handed on, in a flat namespace: their answer
    /// (leaf or also a directory) waits for keys after the cursor. A resumed listing holds
    /// them again.
    #[serde(default, skip_serializing_if = "LeafConflicts::is_empty")]
    pub(crate) content: LeafConflicts<Item>,
    #[serde(default, skip_serializing_if = "LeafConflicts::is_empty")]
    pub(crate) config: LeafConflicts<Item>,
}

impl SafePoint {
    /// The point after the page just listed: `next` to continue from, and what the listing
    /// counted and holds.
    pub(crate) fn after(
        next: Option<String>,
        listing: &SourceListing,
        content: &LeafConflicts<Item>,
        config: &LeafConflicts<Item>,
    ) -> Self {
        Self {
            cursor: next,
            kinds: listing.kinds.clone(),
            storage_classes: listing.storage_classes.clone(),
            to_fetch: listing.to_fetch,
            to_fetch_bytes: listing.to_fetch_bytes,
            content: content.clone(),
            config: config.clone(),
        }
    }

    /// Items counted before the point but still held, per kind: not handled by any run
    /// that reached it.
    pub(crate) fn held(&self) -> BTreeMap<String, u64> {
        let mut held = BTreeMap::new();
        for item in self.content.items().chain(self.config.items()) {
            *held.entry(item.kind.as_str().to_owned()).or_default() += 1;
        }
        held
    }
}

/// The page an item was listed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PageTag {
    pub(crate) source: usize,
    pub(crate) page: u64,
}

#[derive(Debug, Default)]
struct Page {
    /// Items listed in the page and not yet handled.
    outstanding: u64,
    /// Set once the page is listed whole: where a listing continues after it.
    end: Option<SafePoint>,
}

#[derive(Debug, Default)]
struct SourcePages {
    /// The provider's cursors are valid in another process.
    resumable: bool,
    /// The number of the first page in `pages`.
    first: u64,
    pages: VecDeque<Page>,
    safe: Option<SafePoint>,
}

/// The pages of every source still under way (at most those of the items in flight).
#[derive(Debug, Default)]
pub(crate) struct Cursors {
    sources: Mutex<Vec<SourcePages>>,
}

impl Cursors {
    /// Tracks the sources, each starting from the safe point an earlier run reached (kept
    /// only when the provider's cursors are valid in another process).
    pub(crate) fn new(resumable: &[bool], starts: &[Option<SafePoint>]) -> Self {
        let sources = resumable
            .iter()
            .enumerate()
            .map(|(n, &resumable)| SourcePages {
                resumable,
                safe: starts.get(n).cloned().flatten().filter(|_| resumable),
                ..SourcePages::default()
            })
            .collect();
        Self { sources: Mutex::new(sources) }
    }

    /// A new page of `source` is being listed.
    pub(crate) fn begin_page(&self, source: usize) -> PageTag {
        let mut sources = self.lock();
        let pages = &mut sources[source];
        pages.pages.push_back(Page::default());
        PageTag { source, page: pages.first + pages.pages.len() as u64 - 1 }
    }

    /// One more item of the page, on its way to the writer.
    pub(crate) fn listed(&self, tag: PageTag) {
        let mut sources = self.lock();
        if let Some(page) = sources[tag.source].page(tag.page) {
            page.outstanding += 1;
        }
    }

    /// The page is listed whole; `end` is where a listing continues after it.
    pub(crate) fn page_listed(&self, tag: PageTag, end: SafePoint) {
        let mut sources = self.lock();
        let pages = &mut sources[tag.source];
        if let Some(page) = pages.page(tag.page) {
            page.end = Some(end);
        }
        pages.advance();
    }

    /// The writer handled (archived, excluded, failed, or found done) an item of the page.
    pub(crate) fn handled(&self, tag: PageTag) {
        let mut sources = self.lock();
        let pages = &mut sources[tag.source];
        if let Some(page) = pages.page(tag.page) {
            page.outstanding = page.outstanding.saturating_sub(1);
        }
        pages.advance();
    }

    /// Every source's safe point, `None` for sources that have none or whose cursors do not
    /// outlive the process.
    pub(crate) fn snapshot(&self) -> Vec<Option<SafePoint>> {
        self.lock().iter().map(|s| s.safe.clone().filter(|_| s.resumable)).collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<SourcePages>> {
        // A panic elsewhere cannot leave the counts half-updated: each update is one field.
        self.sources.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl SourcePages {
    fn page(&mut self, page: u64) -> Option<&mut Page> {
        let index = usize::try_from(page.checked_sub(self.first)?).ok()?;
        self.pages.get_mut(index)
    }

    /// Moves the safe point past every leading page listed whole and handled.
    fn advance(&mut self) {
        while self.pages.front().is_some_and(|p| p.end.is_some() && p.outstanding == 0) {
            let page = self.pages.pop_front().expect("a front page");
            self.safe = page.end;
            self.first += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(cursor: &str) -> SafePoint {
        SafePoint { cursor: Some(cursor.to_owned()), ..SafePoint::default() }
    }

    #[test]
    fn the_safe_point_follows_the_first_page_not_yet_handled_whole() {
        let cursors = Cursors::new(&[true, false], &[None, Some(at("ignored"))]);
        assert_eq!(cursors.snapshot(), vec![None, None]);
        let first = cursors.begin_page(0);
        cursors.listed(first);
        cursors.listed(first);
        cursors.page_listed(first, at("after-1"));
        let second = cursors.begin_page(0);
        cursors.listed(second);
        cursors.page_listed(second, at("after-2"));
        // The second page is handled before the first: nothing is safe yet.
        cursors.handled(second);
        cursors.handled(first);
        assert_eq!(cursors.snapshot()[0], None);
        cursors.handled(first);
        assert_eq!(cursors.snapshot()[0], Some(at("after-2")));
        // A page with an item handled but not yet listed whole holds the point.
        let third = cursors.begin_page(0);
        cursors.listed(third);
        cursors.handled(third);
        assert_eq!(cursors.snapshot()[0], Some(at("after-2")));
        cursors.page_listed(third, SafePoint::default());
        assert_eq!(cursors.snapshot()[0], Some(SafePoint::default()));
        // A source whose cursors do not outlive the process never has one.
        let other = cursors.begin_page(1);
        cursors.page_listed(other, at("x"));
        assert_eq!(cursors.snapshot()[1], None);
    }
}
