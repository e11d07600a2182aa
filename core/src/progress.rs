//! Progress events, for a progress bar or a log; the engine never prints.

use std::sync::Arc;

/// Something that happened during an export.
#[derive(Debug, Clone)]
pub enum Event {
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
    /// An item went into the archive.
    Archived {
        /// Its bytes.
        bytes: u64,
    },
    /// An item could not be archived.
    Failed {
        /// The identifier, readable.
        id: String,
        /// Why.
        error: String,
    },
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
}

/// Where events go.
pub type ProgressSink = Arc<dyn Fn(Event) + Send + Sync>;

/// A sink that drops everything.
pub fn silent() -> ProgressSink {
    Arc::new(|_| {})
}
