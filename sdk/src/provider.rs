//! The provider surface: list items page by page, open one item's bytes.
//!
//! It is object safe and free of generics so that a C ABI adapter can wrap it: a page is a
//! plain `Vec`, a cursor an opaque string, an item plain data, a body a stream of byte
//! chunks. A provider knows its protocol only; hashing, retries and the archive are the
//! engine's.

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::time::SystemTime;

use crate::error::Result;
use crate::item::{Item, ProviderChecksum};

/// What the engine may rely on, per source. A field missing from its JSON (an older
/// plugin's) takes its default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Capabilities {
    /// Keys form a flat namespace (S3, Swift) in which `a` and `a/b` can both exist, and
    /// the listing is sorted by key bytes; the engine then finds leaves that are also
    /// directories and gives them the format's leaf suffix.
    pub flat_namespace: bool,
    /// Opening and reading a small item takes microseconds and never waits on a network (a
    /// local file system). The engine then fetches small items one after the other on its
    /// dispatching task and hands them to the writer in batches: a thread hand-off per item
    /// would cost more than the read.
    pub local: bool,
    /// The most `open`s (and body reads) of this source the engine runs at once, whatever
    /// `--concurrency` says: an IMAP server caps connections per user, an API rate-limits
    /// per account. `None`: only the global limit applies.
    pub max_concurrency: Option<usize>,
    /// A cursor this provider returned stays valid in another process (it holds the
    /// listing's position, not a handle on a server-side session): a resumed export then
    /// continues the listing from the cursor its journal kept instead of listing again from
    /// the start.
    pub resumable_cursors: bool,
    /// [`Provider::open_range`] reads any byte range of a body the provider opened: the
    /// engine then reads a large body as several ranges at once, because one stream is bound
    /// by what the server gives one connection.
    pub ranged_reads: bool,
}

impl Capabilities {
    /// A flat, byte-ordered namespace (see the field).
    pub fn with_flat_namespace(mut self) -> Self {
        self.flat_namespace = true;
        self
    }

    /// A local source (see the field).
    pub fn with_local(mut self) -> Self {
        self.local = true;
        self
    }

    /// Cursors valid in another process (see the field).
    pub fn with_resumable_cursors(mut self) -> Self {
        self.resumable_cursors = true;
        self
    }

    /// Byte ranges of a body read on their own (see the field).
    pub fn with_ranged_reads(mut self) -> Self {
        self.ranged_reads = true;
        self
    }

    /// At most `limit` items of this source fetched at once (at least one).
    pub fn with_max_concurrency(mut self, limit: usize) -> Self {
        self.max_concurrency = Some(limit.max(1));
        self
    }
}

/// One page of a listing.
#[derive(Debug, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Page {
    /// The items, in the provider's listing order.
    pub items: Vec<Item>,
    /// Where the next page starts, or `None` after the last page. Opaque to the engine,
    /// which stores it to resume a listing: it must stay valid in another process.
    pub next: Option<String>,
}

impl Page {
    /// A page followed by the one at `next` (`None`: the last page).
    pub fn new(items: Vec<Item>, next: Option<String>) -> Self {
        Self { items, next }
    }
}

/// The bytes of one item. Build it with [`Body::streaming`] or [`Body::from_bytes`], then
/// set what the response announced.
#[non_exhaustive]
pub struct Body {
    /// The exact length the provider announces for this response, when it does.
    pub size: Option<u64>,
    /// A checksum from the response itself, which takes precedence over the listing's.
    pub checksum: Option<ProviderChecksum>,
    /// The MIME type the response announces, which takes precedence over the listing's.
    pub content_type: Option<String>,
    /// Metadata only the response carries (an S3 GET's user metadata and headers), merged
    /// into the item's inventory metadata.
    pub meta: Map<String, Value>,
    /// The last modification the response announces (HTTP `Last-Modified`), when it does:
    /// compared with the listing's to tell an item that changed since it was listed.
    pub modified: Option<SystemTime>,
    /// The bytes, in order.
    pub stream: BoxStream<'static, Result<Bytes>>,
    /// Why the item is not complete although its bytes are good: metadata that belongs to
    /// it (an S3 tag set or ACL) could not be read. The bytes are archived and the item is
    /// also reported as a failure, so that the archive does not say complete.
    pub incomplete: Option<String>,
    /// What pins the version of the item this response came from (an ETag, as the response
    /// wrote it): [`Provider::open_range`] sends it back so that a range of another version
    /// is refused instead of stitched to this one. `None`: the provider pins nothing beyond
    /// the item (its `version`), and the engine's checksums are the only guard.
    pub validator: Option<String>,
    /// These bytes can be read only as this one stream, never in ranges, whatever the
    /// provider's capabilities: a temporary copy made for this response and deleted once
    /// read (a Cinder volume's data).
    pub single_stream: bool,
}

impl Body {
    /// A stream of `size` bytes (when known) and nothing else announced: no checksum, type,
    /// metadata or time from the response.
    pub fn streaming(size: Option<u64>, stream: BoxStream<'static, Result<Bytes>>) -> Self {
        Self {
            size,
            checksum: None,
            content_type: None,
            meta: Map::new(),
            modified: None,
            stream,
            incomplete: None,
            validator: None,
            single_stream: false,
        }
    }

    /// A body already in memory, announced exactly.
    pub fn from_bytes(bytes: Bytes, content_type: Option<&str>) -> Self {
        let size = Some(bytes.len() as u64);
        let mut body = Self::streaming(size, futures_util::stream::once(async move { Ok(bytes) }).boxed());
        body.content_type = content_type.map(str::to_owned);
        body
    }
}

/// One source of items: one bucket, one directory tree, one mailbox… opened by its
/// factory from a [`crate::SourceSpec`].
#[async_trait]
pub trait Provider: Send + Sync {
    /// What the engine may rely on.
    fn capabilities(&self) -> Capabilities;

    /// Checks that the source exists and the credentials work, before anything is written.
    async fn check(&self) -> Result<()>;

    /// Returns one page of the listing: the first when `cursor` is `None`, else the page
    /// starting at a cursor this provider returned earlier. Asking for the same cursor again
    /// (after a temporary error) must return the same page.
    async fn list_page(&self, cursor: Option<String>) -> Result<Page>;

    /// Opens one listed item's bytes (never called for an item listed with inline bytes).
    /// Called again for every retry, and possibly by another process that holds only the
    /// item: everything needed must be in the item (`id`, `version`, `locator`), nothing
    /// in a cache filled while listing.
    async fn open(&self, item: &Item) -> Result<Body>;

    /// Opens bytes `range` of an item [`Provider::open`] opened, for providers declaring
    /// [`Capabilities::ranged_reads`]: the body holds exactly those bytes (its other fields
    /// are ignored). `validator` is the one the opening response gave; a range of another
    /// version of the item (the object was replaced meanwhile) must fail with
    /// [`crate::ErrorKind::Integrity`], never return the other version's bytes.
    async fn open_range(&self, item: &Item, range: std::ops::Range<u64>, validator: Option<&str>) -> Result<Body> {
        let _ = (item, range, validator);
        Err(crate::error::Error::new(crate::error::ErrorKind::Unsupported, "this provider does not read byte ranges"))
    }

    /// The account the source is read as, once [`Provider::check`] passed, as the provider
    /// knows it without extra privileges (a user name, a project, a shortened key id): the
    /// restitution report says from which account the data came. Never a secret. `None`:
    /// the provider cannot tell.
    fn account(&self) -> Option<String> {
        None
    }
}
