//! The provider plugin surface: list items page by page, open one item's bytes.
//!
//! It is object safe and free of generics so that a C ABI adapter can wrap it later:
//! a page is a plain `Vec`, a cursor an opaque string, a body a stream of byte chunks.
//! A provider knows its protocol only; hashing, retries and the archive are the engine's.

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use serde_json::{Map, Value};
use std::sync::Arc;
use std::time::SystemTime;

use crate::error::Result;
use crate::item::{Item, ProviderChecksum};

/// What the engine may rely on.
#[derive(Debug, Clone, Copy, Default)]
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
}

/// One page of a listing.
#[derive(Debug, Default)]
pub struct Page {
    /// The items, in the provider's listing order.
    pub items: Vec<Item>,
    /// Where the next page starts, or `None` after the last page.
    pub next: Option<String>,
}

/// The bytes of one item.
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
}

impl Body {
    /// A stream of `size` bytes (when known) and nothing else announced: no checksum, type,
    /// metadata or time from the response.
    pub fn streaming(size: Option<u64>, stream: BoxStream<'static, Result<Bytes>>) -> Self {
        Self { size, checksum: None, content_type: None, meta: Map::new(), modified: None, stream, incomplete: None }
    }

    /// A body already in memory (a configuration document, a record), announced exactly.
    pub fn from_bytes(bytes: Bytes, content_type: Option<&str>) -> Self {
        let size = Some(bytes.len() as u64);
        let body = Self::streaming(size, futures_util::stream::once(async move { Ok(bytes) }).boxed());
        Self { content_type: content_type.map(str::to_owned), ..body }
    }
}

/// A source of items: one bucket, one directory tree, one mailbox…
#[async_trait]
pub trait Provider: Send + Sync {
    /// A plain identifier for the source's subtree under `data/` (e.g. `fs-sample`).
    fn source_id(&self) -> String;

    /// The source as the user would write it, never with credentials.
    fn display_url(&self) -> String;

    /// What the engine may rely on.
    fn capabilities(&self) -> Capabilities;

    /// Checks that the source exists and the credentials work, before anything is written.
    async fn check(&self) -> Result<()>;

    /// The sources this one stands for, when it stands for several (`s3://`: every bucket
    /// of the account), each then exported as a source of its own; `None` for itself.
    /// Called after `check`.
    async fn expand(&self) -> Result<Option<Vec<Arc<dyn Provider>>>> {
        Ok(None)
    }

    /// Returns one page of the listing: the first when `cursor` is `None`, else the page
    /// starting at a cursor this provider returned earlier. Asking for the same cursor again
    /// (after a temporary error) must return the same page.
    async fn list_page(&self, cursor: Option<String>) -> Result<Page>;

    /// Opens one listed item's bytes. Called again for every retry.
    async fn open(&self, item: &Item) -> Result<Body>;
}
