//! The `fs` provider: exports a local directory tree (`file:///path` or a plain path).
//!
//! Symbolic links are recorded with their target and not followed unless asked, so an
//! export never leaves the tree it was given. Special files (fifos, sockets, devices) are
//! listed and excluded: reading a fifo would block forever.
#![deny(missing_docs)]

mod backend;
mod lister;

pub use backend::{FsFactory, FsProvider};
