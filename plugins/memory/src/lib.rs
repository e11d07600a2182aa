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
//! The test kit: a [`Scripted`] store lists its [`Object`]s two a page, each with a
//! [`Fault`] of its own, and can fail its first checks or its second listing page; its
//! [`MemoryProvider`] counts opens per object, checks, listing requests and the peak of
//! opens under way; a [`HeldFactory`] hands that very provider to the engine's registry,
//! so that the source is opened and checked as any planned source is.
//!
//! ```no_run
//! # async fn example() {
//! use sortie_plugin_memory::{Fault, HeldFactory, Object, Scripted};
//!
//! let provider = Scripted::new("test", vec![
//!     Object::new("a", &b"leaf a"[..]).with_md5(),
//!     Object::new("big", vec![7u8; 3 << 20]).fault(Fault::BreakOnce),
//! ])
//! .open();
//! let factory = HeldFactory::new(provider.clone());
//! // … register `factory`, open and export `provider.spec()` (archived under
//! // `data/mem-test/`), then:
//! assert_eq!(provider.opens("big"), 2, "the broken body was opened again");
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
pub use scripted::{Fault, HeldFactory, Object, Scripted, changed, replaced};
pub use source::MemoryFactory;
