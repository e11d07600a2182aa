//! The Sortie engine: the provider plugin trait and item model, the registry of providers,
//! retries, and the streaming export pipeline (listing → bounded-concurrency fetch → one
//! writer thread → tar + zstd archive). Providers know their protocol only; this crate does
//! the hashing, checking and archiving, through `sortie-formats`.
#![deny(missing_docs)]

pub mod engine;
pub use sortie_sdk::error;
pub mod item;
pub mod progress;
pub mod provider;
pub mod registry;
pub mod retry;

pub use error::{Error, ErrorKind, Result};
