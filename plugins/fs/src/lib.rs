//! The `file` provider: exports a local directory tree (`file:///path` or a plain path).
//!
//! Symbolic links are recorded with their target and not followed unless asked, so an
//! export never leaves the tree it was given. Special files (fifos, sockets, devices) are
//! listed and excluded: reading a fifo would block forever. Files are opened beneath the
//! source directory without following links, checked to be the very files listed, and
//! read again (or failed) when they change while being read: see `reader`.
#![deny(missing_docs)]

mod lister;
mod provider;
mod reader;
mod settings;
mod source;

pub use provider::FsProvider;
pub use source::FsFactory;
