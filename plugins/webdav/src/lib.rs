//! WebDAV file servers (`webdav://`, `webdavs://`) and Nextcloud/ownCloud (`nextcloud://`):
//! every file with its bytes exactly as served, every directory (empty ones too), and what
//! the server says about each (ETag, size, dates, type, dead properties, and Nextcloud's
//! checksums, favourites and share attributes) in the inventory.
#![deny(missing_docs)]

mod checksum;
mod client;
mod error;
mod lister;
mod provider;
mod reader;
mod settings;
mod source;

pub use source::{NextcloudFactory, WebDavFactory, WebDavsFactory};
