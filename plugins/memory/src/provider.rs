//! The provider: lists and opens generated or scripted contents, simulating a remote
//! store's latency and concurrency cap, and counting what the engine asked of it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt;
use sortie_sdk::item::Item;
use sortie_sdk::provider::{Body, Capabilities, Page, Provider};
use sortie_sdk::source::SourceSpec;
use sortie_sdk::{Error, ErrorKind, Result};

use crate::generated::Generated;
use crate::lister;
use crate::reader;
use crate::scripted::Stored;
use crate::settings::MemorySettings;

/// What a source holds.
pub(crate) enum Contents {
    /// A `memory://` source's data, generated on demand.
    Generated(Generated),
    /// A test's objects.
    Scripted(Vec<Stored>),
}

impl Contents {
    pub(crate) fn len(&self) -> u64 {
        match self {
            Contents::Generated(generated) => generated.items,
            Contents::Scripted(objects) => objects.len() as u64,
        }
    }

    /// The key of item `index` (below [`Contents::len`]).
    pub(crate) fn key(&self, index: u64) -> String {
        match self {
            Contents::Generated(generated) => generated.key(index),
            Contents::Scripted(objects) => objects[index as usize].object.key.clone(),
        }
    }
}

/// How the simulated store behaves.
pub(crate) struct Behaviour {
    pub(crate) page_size: u64,
    /// A wait before every open, as a network round trip.
    pub(crate) latency: Duration,
    /// Bodies are served at most this fast, in bytes a second, as over a slow link.
    pub(crate) bytes_per_sec: Option<u64>,
    pub(crate) capabilities: Capabilities,
    /// Temporary failures of the second listing page before it is served.
    pub(crate) listing_hiccups: u32,
    /// The second listing page names itself as the next one.
    pub(crate) stuck: bool,
    /// Checks that fail temporarily before one succeeds.
    pub(crate) failing_checks: u32,
}

/// What the engine asked of the provider.
#[derive(Default)]
struct Counters {
    checks: AtomicU32,
    second_page_requests: AtomicU32,
    /// Opens whose body is not yet read to its end or dropped.
    in_flight: AtomicUsize,
    peak: AtomicUsize,
}

/// One open under way, until its body is read or dropped.
struct InFlight(Arc<Counters>);

impl InFlight {
    fn enter(counters: &Arc<Counters>) -> Self {
        let now = counters.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        counters.peak.fetch_max(now, Ordering::SeqCst);
        Self(counters.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A source held in memory: a `memory://` source's generated data, or a test's
/// [`crate::Scripted`] store. Its counters tell a test what the engine did.
pub struct MemoryProvider {
    spec: SourceSpec,
    contents: Contents,
    behaviour: Behaviour,
    counters: Arc<Counters>,
}

impl MemoryProvider {
    /// The provider of a `memory://` source described by [`crate::MemoryFactory`] (what the
    /// factory opens; a test calls it to keep the provider's counters at hand).
    pub fn from_spec(spec: &SourceSpec) -> Result<Self> {
        let settings = MemorySettings::of(spec)?;
        // A cursor is a position in the generated listing, valid in any process.
        let mut capabilities = Capabilities::default().with_resumable_cursors();
        if settings.flat {
            capabilities = capabilities.with_flat_namespace();
        }
        if let Some(limit) = settings.max_concurrency {
            capabilities = capabilities.with_max_concurrency(limit);
        }
        let contents =
            Generated { items: settings.items, size: settings.size, seed: settings.seed, with_md5: settings.with_md5 };
        let behaviour = Behaviour {
            page_size: settings.page_size,
            latency: settings.latency,
            bytes_per_sec: settings.bytes_per_sec,
            capabilities,
            listing_hiccups: 0,
            stuck: false,
            failing_checks: 0,
        };
        Ok(Self::new(spec.clone(), Contents::Generated(contents), behaviour))
    }

    pub(crate) fn new(spec: SourceSpec, contents: Contents, behaviour: Behaviour) -> Self {
        Self { spec, contents, behaviour, counters: Arc::default() }
    }

    /// The source's description, for the engine's list of sources.
    pub fn spec(&self) -> &SourceSpec {
        &self.spec
    }

    /// How often the scripted object `key` was opened. Panics for a key the store does not
    /// hold, or a generated source.
    pub fn opens(&self, key: &str) -> u32 {
        self.stored(key).opens.load(Ordering::SeqCst)
    }

    /// How often byte ranges of the scripted object `key` were asked for (panics as
    /// [`MemoryProvider::opens`] does).
    pub fn range_opens(&self, key: &str) -> u32 {
        self.stored(key).range_opens.load(Ordering::SeqCst)
    }

    /// The scripted object `key` and its counters.
    fn stored(&self, key: &str) -> &Stored {
        let Contents::Scripted(objects) = &self.contents else { panic!("only a scripted store counts opens by key") };
        objects.iter().find(|s| s.object.key == key).unwrap_or_else(|| panic!("no object {key}"))
    }

    /// How many checks were made (failed ones included).
    pub fn checks(&self) -> u32 {
        self.counters.checks.load(Ordering::SeqCst)
    }

    /// How often the second listing page was asked for (failed requests included).
    pub fn second_page_requests(&self) -> u32 {
        self.counters.second_page_requests.load(Ordering::SeqCst)
    }

    /// The most opens under way at once so far, from the call to `open` until the body
    /// was read to its end or dropped.
    pub fn peak_concurrency(&self) -> usize {
        self.counters.peak.load(Ordering::SeqCst)
    }

    /// The index of a listed item, from its locator, checked against its id.
    fn index_of(&self, item: &Item) -> Result<u64> {
        item.locator
            .as_deref()
            .and_then(lister::index)
            .filter(|&index| index < self.contents.len() && self.contents.key(index).as_bytes() == item.id.0)
            .ok_or_else(|| {
                Error::new(ErrorKind::NotFound, format!("{}: no such item in {}", item.id.display(), self.spec.url))
            })
    }
}

#[async_trait]
impl Provider for MemoryProvider {
    fn capabilities(&self) -> Capabilities {
        self.behaviour.capabilities
    }

    async fn check(&self) -> Result<()> {
        if self.counters.checks.fetch_add(1, Ordering::SeqCst) < self.behaviour.failing_checks {
            return Err(Error::new(ErrorKind::RateLimited, "slow down").temporary());
        }
        Ok(())
    }

    async fn list_page(&self, cursor: Option<String>) -> Result<Page> {
        let start = match cursor {
            Some(cursor) => lister::start(&cursor)?,
            None => 0,
        };
        let page_size = self.behaviour.page_size;
        if start == page_size {
            let request = self.counters.second_page_requests.fetch_add(1, Ordering::SeqCst);
            if request < self.behaviour.listing_hiccups {
                return Err(Error::new(ErrorKind::Unavailable, "listing hiccup").temporary());
            }
            if self.behaviour.stuck {
                return Ok(Page::new(Vec::new(), Some(lister::cursor(start))));
            }
        }
        Ok(lister::page(&self.contents, start, page_size))
    }

    async fn open(&self, item: &Item) -> Result<Body> {
        let index = self.index_of(item)?;
        let in_flight = InFlight::enter(&self.counters);
        if !self.behaviour.latency.is_zero() {
            tokio::time::sleep(self.behaviour.latency).await;
        }
        let mut body = match &self.contents {
            Contents::Generated(generated) => reader::generated(generated, index),
            Contents::Scripted(objects) => {
                let stored = &objects[index as usize];
                let attempt = stored.opens.fetch_add(1, Ordering::SeqCst);
                reader::scripted(&stored.object, attempt)?
            }
        };
        if let Some(rate) = self.behaviour.bytes_per_sec {
            body.stream = body
                .stream
                .then(move |chunk| async move {
                    let len = chunk.as_ref().map_or(0, |bytes| bytes.len());
                    tokio::time::sleep(Duration::from_secs_f64(len as f64 / rate as f64)).await;
                    chunk
                })
                .boxed();
        }
        body.stream = body
            .stream
            .map(move |chunk| {
                let _open = &in_flight;
                chunk
            })
            .boxed();
        Ok(body)
    }

    async fn open_range(&self, item: &Item, range: std::ops::Range<u64>, validator: Option<&str>) -> Result<Body> {
        let index = self.index_of(item)?;
        let Contents::Scripted(objects) = &self.contents else {
            return Err(Error::new(ErrorKind::Unsupported, "generated items are read whole"));
        };
        let stored = &objects[index as usize];
        let attempt = stored.range_opens.fetch_add(1, Ordering::SeqCst);
        reader::scripted_range(&stored.object, range, validator, stored.opens.load(Ordering::SeqCst), attempt)
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::scripted::{Fault, Object, Scripted};

    async fn read(provider: &MemoryProvider, item: &Item) -> Result<Vec<u8>> {
        let mut stream = provider.open(item).await?.stream;
        let mut bytes = Vec::new();
        while let Some(chunk) = stream.next().await {
            bytes.extend_from_slice(&chunk?);
        }
        Ok(bytes)
    }

    #[tokio::test]
    async fn items_open_again_from_their_locator_alone() {
        let provider = Scripted::new("t", vec![Object::new("a", &b"one"[..]), Object::new("b/c", &b"two"[..])]).open();
        let items = provider.list_page(None).await.unwrap().items;
        let reopened: Item = serde_json::from_str(&serde_json::to_string(&items[1]).unwrap()).unwrap();
        assert_eq!(read(&provider, &reopened).await.unwrap(), b"two");
        assert_eq!(read(&provider, &items[1]).await.unwrap(), b"two");
        assert_eq!(provider.opens("b/c"), 2);
        assert_eq!(provider.peak_concurrency(), 1, "a body read to its end is no open under way");

        let mut wrong = items[0].clone();
        wrong.locator = items[1].locator.clone();
        let mut unlocated = items[0].clone();
        unlocated.locator = None;
        for item in [wrong, unlocated] {
            let error = read(&provider, &item).await.unwrap_err();
            assert_eq!(error.kind(), ErrorKind::NotFound, "{error}");
        }
    }

    #[tokio::test]
    async fn listing_faults_and_inline_bytes_are_as_scripted() {
        let objects = ["a", "b", "c", "d", "e"].map(|key| Object::new(key, Bytes::from(key))).to_vec();
        let mut objects = objects;
        objects[0] = Object::new("a", &b"{}"[..]).inline().fault(Fault::UnknownSize);
        let provider = Scripted::new("t", objects).listing_hiccups(1).failing_checks(1).open();
        assert!(provider.check().await.unwrap_err().is_temporary());
        provider.check().await.unwrap();
        assert_eq!(provider.checks(), 2);
        let first = provider.list_page(None).await.unwrap();
        assert_eq!(first.items[0].inline.as_deref(), Some(&b"{}"[..]));
        assert_eq!(first.items[0].size, Some(2), "inline bytes have their size");
        let next = first.next.unwrap();
        assert!(provider.list_page(Some(next.clone())).await.unwrap_err().is_temporary());
        let second = provider.list_page(Some(next)).await.unwrap();
        assert_eq!(second.items.len(), 2);
        assert_eq!(provider.second_page_requests(), 2);

        let stuck = Scripted::new("t", vec![Object::new("a", Bytes::new()); 3]).stuck().open();
        let next = stuck.list_page(None).await.unwrap().next;
        assert_eq!(stuck.list_page(next.clone()).await.unwrap().next, next, "the second page names itself");
    }

    #[tokio::test]
    async fn opens_under_way_are_counted_until_their_body_is_dropped() {
        let provider = Scripted::new("t", vec![Object::new("a", &b"x"[..]), Object::new("b", &b"y"[..])]).open();
        let items = provider.list_page(None).await.unwrap().items;
        let first = provider.open(&items[0]).await.unwrap();
        let second = provider.open(&items[1]).await.unwrap();
        drop(first);
        let third = provider.open(&items[0]).await.unwrap();
        assert_eq!(provider.peak_concurrency(), 2);
        drop((second, third));
        assert_eq!(provider.counters.in_flight.load(Ordering::SeqCst), 0);
    }
}
