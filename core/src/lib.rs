//! The Sortie engine: the registry of providers and the sources file (the plugin host),
//! resolution of sources into a plan, and the streaming export pipeline (listing →
//! bounded-concurrency fetch → one writer thread → tar + zstd archive). Providers know
//! their protocol only, through the contract of `sortie-sdk` (re-exported here for the
//! engine's users); this crate does the hashing, checking and archiving, through
//! `sortie-formats`.
#![deny(missing_docs)]

pub mod engine;
mod input;
pub mod plan;
pub mod plugin;
pub mod progress;
pub mod reconcile;
pub mod registry;
pub mod sources_file;
pub mod warning;

pub use sortie_sdk::{Error, ErrorKind, Result};
pub use sortie_sdk::{error, item, provider, retry, settings, source};
