//! The Sortie provider contract: what a provider author depends on, alone.
//!
//! A provider lists items page by page and opens one item's bytes ([`provider::Provider`]);
//! a factory declares the provider's settings as data, turns what the user wrote into
//! source descriptions and opens them ([`registry::ProviderFactory`]). Nothing here knows
//! about the engine, hashing or the archive format: the engine (`sortie-core`) checks,
//! hashes and archives what a provider hands it.
//!
//! The public structs and enums are `#[non_exhaustive]`, so that a field added later does
//! not break a provider written today: build values with their constructors, then set the
//! public fields. `Area` and `Skip` are exhaustive on purpose (a new variant changes what
//! the engine must do), and `RawName` is plain bytes. `docs/PROVIDERS.md` walks through a
//! complete provider.
#![deny(missing_docs)]

pub mod error;
#[cfg(feature = "plugin")]
pub mod export;
pub mod item;
pub mod local;
pub mod provider;
pub mod registry;
pub mod retry;
pub mod settings;
pub mod source;
pub mod wire;

/// `docs/PROVIDERS.md`, whose worked example `cargo test` compiles and runs.
#[cfg(doctest)]
#[doc = include_str!("../../docs/PROVIDERS.md")]
pub struct ProvidersGuide;

pub use error::{Error, ErrorKind, Result};
pub use item::{Area, Item, Kind, RawName};
pub use provider::{Body, Capabilities, Page, Provider};
pub use registry::{Context, ProviderFactory, ProviderInfo};
pub use settings::{SettingSpec, SettingType, Settings};
pub use source::SourceSpec;
