//! The Sortie archive format, version 1 (docs/FORMAT.md): a pax tar compressed into
//! independent zstd frames, laid out as a BagIt 1.0 bag with sha256 manifests, a JSON Lines
//! inventory and a reconciliation report. Everything here can be checked with GNU tar,
//! `zstd`, `sha256sum` and bagit-python; this crate is how Sortie writes and re-checks it.
#![deny(missing_docs)]

pub mod bagit;
pub mod extract;
pub mod framed_zstd;
pub mod inventory;
pub mod payload_path;
pub mod reader;
mod recorded_modes;
pub mod report;
pub mod report_html;
pub mod report_reader;
pub mod shown;
pub mod tar_member;
pub mod verify;
pub mod verify_dir;
pub mod writer;

/// The version of the archive format this crate writes (`Sortie-Format-Version`).
pub const FORMAT_VERSION: u32 = 1;
/// The version of a sealed archive: its signature and time stamp follow the tag manifest,
/// where a version 1 reader allows no member (docs/FORMAT.md §10). An archive without seals
/// stays version 1, byte for byte as before.
pub const SEALED_FORMAT_VERSION: u32 = 2;
