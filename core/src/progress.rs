//! Progress events, for a progress bar or a log; the engine never prints.

use std::sync::Arc;

/// Something that happened during an export.
#[derive(Debug, Clone)]
pub enum Event {
    /// A planned source is opened and checked: it will be exported under `data/<source>/`.
    SourceOpened {
        /// Source id, as the archive and the other events name it.
        source: String,
        /// The source, as the user would write it, without credentials.
        url: String,
        /// Its provider's scheme.
        scheme: String,
    },
    /// A listing page arrived: running totals for the source.
    Listed {
        /// Source id.
        source: String,
        /// Items listed so far in this source.
        items: u64,
        /// Bytes announced so far in this source.
        bytes: u64,
    },
    /// Listing is over: what the export will transfer.
    ListingDone {
        /// Items with bytes to fetch, all sources.
        items: u64,
        /// Bytes announced, all sources.
        bytes: u64,
    },
    /// Bytes of a body arrived, counted while it streams: sent every
    /// [`RECEIVED_STEP`] bytes of a body and at its end, so that a large object moves a
    /// progress bar without an event per chunk.
    Received {
        /// Bytes since the body's previous `Received`.
        bytes: u64,
    },
    /// An attempt at a body failed after some of its bytes were counted as `Received`: they
    /// are taken back, so that a body fetched again is not counted twice (a bar steps back).
    Discarded {
        /// The bytes the failed attempt had counted.
        bytes: u64,
    },
    /// One item with bytes to fetch is done with, archived or failed: `ListingDone.items`
    /// of these end the fetching.
    Fetched,
    /// An item went into the archive.
    Archived {
        /// Its bytes.
        bytes: u64,
    },
    /// An item could not be archived (or was archived without all its metadata), or a
    /// listing stopped early (`kind` "listing", `id` empty): one record of the report's
    /// failures.
    Failed {
        /// Source id.
        source: String,
        /// The identifier, readable.
        id: String,
        /// The item's kind, or "listing".
        kind: String,
        /// Why.
        error: String,
        /// Attempts made (0 for a listing).
        attempts: u32,
    },
    /// An item was left out on purpose (the report's exclusions).
    Excluded,
    /// An attempt failed and will be retried.
    Retrying {
        /// The identifier, readable.
        id: String,
        /// The retry about to be made, from 1.
        retry: u32,
        /// Why the attempt failed.
        error: String,
    },
    /// Every item is handled; the tag files are being written.
    Finishing,
    /// The export continues an interrupted one (`--resume`): what earlier runs archived,
    /// which this run skips. Counted as archived by whoever follows the progress.
    Resumed {
        /// Items already archived.
        archived: u64,
        /// Their payload bytes.
        archived_bytes: u64,
        /// Runs of this export so far, this one included.
        runs: u32,
    },
}

/// How many bytes of a body arrive between two [`Event::Received`].
pub const RECEIVED_STEP: u64 = 1 << 20;

/// Where events go.
pub type ProgressSink = Arc<dyn Fn(Event) + Send + Sync>;

/// A sink that drops everything.
pub fn silent() -> ProgressSink {
    Arc::new(|_| {})
}
