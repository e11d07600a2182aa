//! The providers of a run: the built-in ones, in one explicit list, then the plugins given
//! with `--plugin` and found in `SORTIE_PLUGIN_PATH`, loaded once per process.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use sortie_core::plugin::{LoadError, PLUGIN_PATH_ENV, Plugin, plugin_files};
use sortie_core::registry::Registry;

/// Which plugins to load, from the command line (set once by `main`).
static PLUGINS: OnceLock<(Vec<PathBuf>, Duration)> = OnceLock::new();
/// The plugins, loaded by the first command that needs providers.
static LOADED: OnceLock<Result<Vec<Arc<Plugin>>, Arc<LoadError>>> = OnceLock::new();

/// Records the plugins the command line names, and how long a call into one may take.
pub fn configure(files: Vec<PathBuf>, timeout: Duration) {
    let _ = PLUGINS.set((files, timeout));
}

/// Every provider compiled into this binary, then every plugin's (a plugin that cannot be
/// loaded, or provides a scheme twice, fails the command).
pub fn registry() -> Result<Registry, LoadError> {
    let mut registry = Registry::default();
    registry.register(Box::new(sortie_plugin_fs::FsFactory));
    registry.register(Box::new(sortie_plugin_memory::MemoryFactory));
    registry.register(Box::new(sortie_plugin_s3::S3Factory));
    registry.register(Box::new(sortie_plugin_openstack::SwiftFactory));
    registry.register(Box::new(sortie_plugin_openstack::OpenStackFactory));
    registry.register(Box::new(sortie_plugin_caldav::CalDavFactory));
    registry.register(Box::new(sortie_plugin_caldav::CardDavFactory));
    registry.register(Box::new(sortie_plugin_webdav::WebDavFactory));
    registry.register(Box::new(sortie_plugin_webdav::WebDavsFactory));
    registry.register(Box::new(sortie_plugin_webdav::NextcloudFactory));
    registry.register(Box::new(sortie_plugin_imap::ImapsFactory));
    registry.register(Box::new(sortie_plugin_imap::ImapFactory));
    registry.register(Box::new(sortie_plugin_ovh::OvhFactory));
    let loaded = LOADED.get_or_init(|| load().map_err(Arc::new));
    for plugin in loaded.as_ref().map_err(|e| LoadError { path: e.path.clone(), problem: e.problem.clone() })? {
        registry.register_plugin(plugin)?;
    }
    Ok(registry)
}

fn load() -> Result<Vec<Arc<Plugin>>, LoadError> {
    let (given, timeout) = PLUGINS.get().cloned().unwrap_or_default();
    let search = std::env::var(PLUGIN_PATH_ENV).ok();
    let files = plugin_files(&given, search.as_deref())?;
    files.iter().map(|file| Plugin::load(file, timeout)).collect()
}
