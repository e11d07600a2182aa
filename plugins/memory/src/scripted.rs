//! The test kit: a store of scripted objects, each of which may misbehave in one way a
//! real server cannot be made to on demand (break mid-body, lie about a length or a
//! checksum, change between listing and download), served by a [`MemoryProvider`] that
//! counts what the engine asked of it.

use std::sync::Arc;
use std::sync::atomic::AtomicU32;

use bytes::Bytes;
use sortie_sdk::provider::{Capabilities, Provider};
use sortie_sdk::registry::{Context, ProviderFactory, ProviderInfo};
use sortie_sdk::settings::Settings;
use sortie_sdk::source::SourceSpec;
use sortie_sdk::{Error, ErrorKind, Result};

use crate::provider::{Behaviour, Contents, MemoryProvider};
use crate::settings::source_id;

/// How a scripted object misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fault {
    /// It does not.
    #[default]
    None,
    /// The first attempt breaks after half the bytes, with a temporary error.
    BreakOnce,
    /// Every attempt delivers one byte less than announced.
    Short,
    /// The announced MD5 is wrong.
    BadMd5,
    /// The size is unknown to the listing and the response.
    UnknownSize,
    /// The provider refuses the credentials (an expired session token).
    Refused,
    /// Overwritten between the listing and the download: the response serves other bytes
    /// ([`changed`]), with their own MD5 and a modification time an hour later.
    Changed,
    /// The bytes are served, but metadata that belongs to them could not be read.
    MetadataMissing,
    /// Read in ranges ([`Scripted::ranged`]), the first range asked for breaks after half
    /// its bytes, once.
    RangeBreaksOnce,
    /// Replaced once its first open answered: the ranges asked with that open's validator
    /// are refused (as a 412 to `If-Match`); the next open serves the [`replaced`] bytes.
    ReplacedWhileRead,
    /// As [`Fault::ReplacedWhileRead`], but the store pins no version (no validator): the
    /// ranges after the first open serve the [`replaced`] bytes, which only a checksum can
    /// tell from the bytes the first open served.
    ReplacedUnpinned,
}

/// The bytes a [`Fault::Changed`] object has by the time it is downloaded: the first byte
/// flipped (same size) for one over a MiB, two more bytes (`v2`) for a smaller one.
pub fn changed(data: &[u8]) -> Vec<u8> {
    let mut changed = data.to_vec();
    if changed.len() > 1 << 20 {
        changed[0] ^= 0xff;
    } else {
        changed.extend_from_slice(b"v2");
    }
    changed
}

/// The bytes a [`Fault::ReplacedWhileRead`] or [`Fault::ReplacedUnpinned`] object has once
/// replaced: its first and last bytes flipped, so that no range of it equals the original's
/// at either end.
pub fn replaced(data: &[u8]) -> Vec<u8> {
    let mut replaced = data.to_vec();
    if let Some(first) = replaced.first_mut() {
        *first ^= 0xff;
    }
    if let Some(last) = replaced.last_mut() {
        *last ^= 0xff;
    }
    replaced
}

/// One object of a scripted store.
#[derive(Debug, Clone)]
pub struct Object {
    pub(crate) key: String,
    pub(crate) data: Bytes,
    pub(crate) fault: Fault,
    pub(crate) with_md5: bool,
    pub(crate) inline: bool,
}

impl Object {
    /// An object at `key` (segments split at `/`) holding `data`, that behaves.
    pub fn new(key: &str, data: impl Into<Bytes>) -> Self {
        Self { key: key.to_owned(), data: data.into(), fault: Fault::None, with_md5: false, inline: false }
    }

    /// Misbehaving as `fault` says.
    pub fn fault(mut self, fault: Fault) -> Self {
        self.fault = fault;
        self
    }

    /// With its MD5 announced by the listing (a wrong one for [`Fault::BadMd5`]).
    pub fn with_md5(mut self) -> Self {
        self.with_md5 = true;
        self
    }

    /// With its bytes listed inline ([`sortie_sdk::Item::set_inline`]), as a configuration
    /// document is: the engine must archive them without opening the object.
    pub fn inline(mut self) -> Self {
        self.inline = true;
        self
    }
}

/// An object and how often it was opened.
pub(crate) struct Stored {
    pub(crate) object: Object,
    pub(crate) opens: AtomicU32,
    pub(crate) range_opens: AtomicU32,
}

/// A store of scripted objects, listed in the order given, two a page (so that a handful of
/// objects make several pages), served by a [`MemoryProvider`].
///
/// Its source is `memory://NAME`, archived under `data/mem-NAME/`. That description names
/// the store for the archive only: the store lives in the test's process, and the
/// [`crate::MemoryFactory`] opening the description would generate data instead.
#[derive(Debug, Clone)]
pub struct Scripted {
    name: String,
    objects: Vec<Object>,
    listing_hiccups: u32,
    stuck: bool,
    failing_checks: u32,
    capabilities: Capabilities,
}

impl Scripted {
    /// A store named `name` holding `objects`, whose listing and check never fail.
    pub fn new(name: &str, objects: Vec<Object>) -> Self {
        Self {
            name: name.to_owned(),
            objects,
            listing_hiccups: 0,
            stuck: false,
            failing_checks: 0,
            capabilities: Capabilities::default(),
        }
    }

    /// The second listing page fails `times` times, temporarily, before it is served
    /// (`u32::MAX`: for good).
    pub fn listing_hiccups(mut self, times: u32) -> Self {
        self.listing_hiccups = times;
        self
    }

    /// The second listing page is empty and names itself as the next one, as a broken
    /// server might.
    pub fn stuck(mut self) -> Self {
        self.stuck = true;
        self
    }

    /// The first `times` checks fail temporarily, as a 503 on an export's first request.
    pub fn failing_checks(mut self, times: u32) -> Self {
        self.failing_checks = times;
        self
    }

    /// Announces a flat namespace (keys in byte order; a key may also be a folder).
    pub fn flat(mut self) -> Self {
        self.capabilities = self.capabilities.with_flat_namespace();
        self
    }

    /// Announces a local source (the engine then reads small objects on its dispatching
    /// task, one after the other).
    pub fn local(mut self) -> Self {
        self.capabilities = self.capabilities.with_local();
        self
    }

    /// Reads byte ranges of a body ([`Capabilities::ranged_reads`]).
    pub fn ranged(mut self) -> Self {
        self.capabilities = self.capabilities.with_ranged_reads();
        self
    }

    /// The provider serving the store; keep it to read its counters after an export.
    pub fn open(self) -> Arc<MemoryProvider> {
        let spec = SourceSpec::new("memory", format!("memory://{}", self.name), source_id(&self.name), Settings::new());
        let behaviour = Behaviour {
            page_size: 2,
            latency: std::time::Duration::ZERO,
            bytes_per_sec: None,
            capabilities: self.capabilities,
            listing_hiccups: self.listing_hiccups,
            stuck: self.stuck,
            failing_checks: self.failing_checks,
        };
        let stored = self
            .objects
            .into_iter()
            .map(|object| Stored { object, opens: AtomicU32::new(0), range_opens: AtomicU32::new(0) })
            .collect();
        Arc::new(MemoryProvider::new(spec, Contents::Scripted(stored), behaviour))
    }
}

/// A factory of one source: a provider a test holds (to read its counters), registered in
/// the test's registry so that its source is opened and checked as any planned source is.
pub struct HeldFactory(Arc<MemoryProvider>);

impl HeldFactory {
    /// The factory of `provider`'s source.
    pub fn new(provider: Arc<MemoryProvider>) -> Self {
        Self(provider)
    }
}

impl ProviderFactory for HeldFactory {
    fn info(&self) -> ProviderInfo {
        ProviderInfo::new("memory", "a memory source a test holds", &self.0.spec().url, Vec::new())
    }

    fn source(&self, url: &str, _settings: Settings) -> Result<SourceSpec> {
        let spec = self.0.spec();
        if url != spec.url {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!("this factory opens {} only, not {url}", spec.url),
            ));
        }
        Ok(spec.clone())
    }

    fn open(&self, _source: &SourceSpec, _context: &Context) -> Result<Arc<dyn Provider>> {
        Ok(self.0.clone())
    }
}
