//! The plugin host: providers loaded at run time from shared libraries through the C ABI of
//! `sortie-plugin-abi` (`sortie_plugin.h`), wrapped into the same [`ProviderFactory`] and
//! [`Provider`](sortie_sdk::Provider) traits the built-in providers implement, so that the
//! engine cannot tell them apart.
//!
//! A plugin runs in the process: what the host can do is check what it loads (ownership and
//! permissions, as ssh's StrictModes; magic and ABI version), never block the async
//! workers on it (every call runs on a blocking thread, under a timeout), and distrust what
//! it answers (JSON checked, sizes bounded, lengths checked by the engine as for any
//! provider). A plugin is never unloaded: a call that timed out may still be running in it.

mod call;
mod factory;
mod guard;
mod load;
mod provider;
mod search;

pub use load::{LoadError, Plugin};
pub use search::{PLUGIN_PATH_ENV, plugin_files};
