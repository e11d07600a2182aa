//! The `memory` provider: synthetic, deterministic data generated on demand
//! (`memory://NAME`), so that anyone can try sortie or measure the engine without a server
//! or a disk; and the test kit built on it, scripted stores whose objects misbehave on
//! demand ([`Scripted`]), for the engine's own tests.
//!
//! A `memory://` source holds no data: item `i`'s key and bytes are functions of `i` and
//! the `seed` setting, generated when the item is listed or opened, so a source of a
//! million items of a gigabyte each costs nothing until it is read. Two sources with the
//! same settings hold the same bytes, in any process.
//!
//! ```no_run
//! # async fn example() -> sortie_sdk::Result<()> {
//! use sortie_plugin_memory::{Fault, Object, Scripted};
//!
//! // Two objects a page; the second object breaks once mid-body, as a reset connection.
//! let provider = Scripted::new("test", vec![
//!     Object::new("a", &b"leaf a"[..]).with_md5(),
//!     Object::new("big", vec![7u8; 3 << 20]).fault(Fault::BreakOnce),
//! ])
//! .open();
//! // … export `provider.spec()` with `provider` through the engine, then:
//! assert_eq!(provider.opens("big"), 2);
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

mod generated;
mod lister;
mod provider;
mod reader;
mod scripted;
mod settings;
mod source;

pub use provider::MemoryProvider;
pub use scripted::{Fault, HeldFactory, Object, Scripted, changed};
pub use source::MemoryFactory;
