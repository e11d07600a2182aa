//! Loading a plugin: the file's permissions, the library, its entry point and table.

use std::ffi::CStr;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sortie_plugin_abi::{self as abi, SortieBuf, SortiePlugin, SortieStr};
use sortie_sdk::registry::{ProviderFactory, ProviderInfo};
use sortie_sdk::wire::Describe;

use super::call;
use super::factory::PluginFactory;

/// Why a plugin could not be loaded: the CLI's own exit code (5), so that a script tells a
/// broken installation from a failed export.
#[derive(Debug, thiserror::Error)]
#[error("plugin {}: {problem}", path.display())]
pub struct LoadError {
    /// The file given or found.
    pub path: PathBuf,
    /// What is wrong with it, and what to do.
    pub problem: String,
}

impl LoadError {
    pub(crate) fn new(path: &Path, problem: impl Into<String>) -> Self {
        Self { path: path.to_owned(), problem: problem.into() }
    }
}

/// A loaded plugin: its table, valid for the life of the process.
pub struct Plugin {
    pub(super) path: PathBuf,
    pub(super) table: Table,
    name: String,
    version: String,
    abi: (u16, u16),
    infos: Vec<ProviderInfo>,
    pub(super) timeout: Duration,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("path", &self.path)
            .field("name", &self.name)
            .field("version", &self.version)
            .finish()
    }
}

impl Plugin {
    /// Loads the plugin at `path` after checking that no other user could have replaced it;
    /// every call into it then fails after `timeout`.
    pub fn load(path: &Path, timeout: Duration) -> Result<Arc<Plugin>, LoadError> {
        let real = std::fs::canonicalize(path).map_err(|e| LoadError::new(path, format!("cannot be read: {e}")))?;
        check_ownership(path, &real)?;
        // SAFETY: loading a library runs its initializers: that is what loading a plugin
        // means, and why only files no other user can write are loaded.
        let library = unsafe { libloading::Library::new(&real) }.map_err(|e| {
            LoadError::new(path, format!("is not a shared library this system can load ({e}); a plugin is a .so built as a cdylib or with `cc -shared`"))
        })?;
        // SAFETY: the symbol's type is the ABI's entry point type; a library exporting the
        // name with another type is not a plugin and cannot be told apart.
        let entry: abi::EntryFn = unsafe {
            *library.get::<abi::EntryFn>(abi::ENTRY_SYMBOL).map_err(|_| {
                LoadError::new(
                    path,
                    "exports no `sortie_plugin_entry` function: it is not a Sortie plugin (docs/PLUGINS.md)",
                )
            })?
        };
        // Never unloaded: a call that timed out may still run in it, and its strings are
        // borrowed for the life of the process.
        std::mem::forget(library);
        let table = call::blocking(timeout, move || TablePtr(unsafe { entry() }))
            .map_err(|_| {
                LoadError::new(path, format!("its entry point did not return within {} s", timeout.as_secs_f64()))
            })?
            .0;
        // SAFETY: a non-null table is read only as far as its head, then as far as its size says.
        let table = unsafe { check_table(path, table)? };
        let text = |ptr: *const std::ffi::c_char| {
            // SAFETY: the ABI's name and version are NUL-terminated static strings.
            if ptr.is_null() { String::new() } else { unsafe { CStr::from_ptr(ptr) }.to_string_lossy().into_owned() }
        };
        let mut plugin = Plugin {
            path: path.to_owned(),
            table: Table(table),
            name: text(table.name),
            version: text(table.version),
            abi: (table.abi_major, table.abi_minor),
            infos: Vec::new(),
            timeout,
        };
        plugin.infos = plugin.describe()?;
        Ok(Arc::new(plugin))
    }

    /// The file it was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The plugin's name, as it says.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The plugin's version, as it says.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The ABI version it was built with (major, minor).
    pub fn abi(&self) -> (u16, u16) {
        self.abi
    }

    /// Its providers' descriptions.
    pub fn infos(&self) -> &[ProviderInfo] {
        &self.infos
    }

    /// A factory per provider of the plugin, for the registry.
    pub fn factories(self: &Arc<Self>) -> Vec<Box<dyn ProviderFactory>> {
        self.infos
            .iter()
            .map(|info| Box::new(PluginFactory::new(self.clone(), info.clone())) as Box<dyn ProviderFactory>)
            .collect()
    }

    /// How messages name this plugin.
    pub(super) fn label(&self) -> String {
        format!("plugin {} ({})", self.name, self.path.display())
    }

    fn describe(&self) -> Result<Vec<ProviderInfo>, LoadError> {
        let table = self.table;
        let answer = call::blocking(self.timeout, move || call::answer(&table, |out| unsafe { (table.describe)(out) }))
            .map_err(|_| {
                LoadError::new(&self.path, format!("describe did not return within {} s", self.timeout.as_secs_f64()))
            })?;
        let bytes = call::outcome(self, "describe", answer).map_err(|e| LoadError::new(&self.path, e.to_string()))?;
        let described: Describe = serde_json::from_slice(&bytes)
            .map_err(|e| LoadError::new(&self.path, format!("describe returned invalid JSON: {e}")))?;
        if described.providers.is_empty() {
            return Err(LoadError::new(&self.path, "provides no scheme"));
        }
        for info in &described.providers {
            let plain = !info.scheme.is_empty()
                && info.scheme.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+-.".contains(&b));
            if !plain {
                return Err(LoadError::new(
                    &self.path,
                    format!("provides the scheme {:?}, which is not a URL scheme", info.scheme),
                ));
            }
        }
        Ok(described.providers)
    }
}

/// A plugin's table, shared by the threads that call into it.
#[derive(Clone, Copy)]
pub struct Table(&'static SortiePlugin);

// SAFETY: the table is immutable and static; the ABI requires its functions to be callable
// from any thread.
unsafe impl Send for Table {}
unsafe impl Sync for Table {}

impl std::ops::Deref for Table {
    type Target = SortiePlugin;

    fn deref(&self) -> &SortiePlugin {
        self.0
    }
}

/// A table pointer, sent back from the thread that called the entry point.
struct TablePtr(*const SortiePlugin);
// SAFETY: the table is immutable and lives as long as the process.
unsafe impl Send for TablePtr {}

/// Checks the table's head (magic, major version, sizes) before anything else is read.
///
/// # Safety
/// `table` is null or points to at least the head of a table.
unsafe fn check_table(path: &Path, table: *const SortiePlugin) -> Result<&'static SortiePlugin, LoadError> {
    if table.is_null() {
        return Err(LoadError::new(path, "its entry point returned no table: the plugin failed to start"));
    }
    // SAFETY: every table version starts with these fields.
    let (magic, major, minor, size) =
        unsafe { ((*table).magic, (*table).abi_major, (*table).abi_minor, (*table).size) };
    if magic != abi::MAGIC {
        return Err(LoadError::new(
            path,
            format!(
                "its table starts with {magic:#010x}, not the magic number {:#010x}: it is not a Sortie plugin, or a damaged one",
                abi::MAGIC
            ),
        ));
    }
    if major != abi::ABI_MAJOR {
        let advice = if major > abi::ABI_MAJOR { "use a newer Sortie" } else { "rebuild it against this Sortie's SDK" };
        return Err(LoadError::new(
            path,
            format!(
                "it was built for plugin ABI {major}.{minor} and this Sortie speaks ABI {}.{} (any {}.x plugin loads): {advice}",
                abi::ABI_MAJOR,
                abi::ABI_MINOR,
                abi::ABI_MAJOR
            ),
        ));
    }
    // SAFETY: the same head.
    let (str_size, buf_size) = unsafe { ((*table).str_size, (*table).buf_size) };
    if (size as usize) < size_of::<SortiePlugin>()
        || str_size as usize != size_of::<SortieStr>()
        || buf_size as usize != size_of::<SortieBuf>()
    {
        return Err(LoadError::new(
            path,
            format!(
                "its table is {size} bytes with strings of {str_size} and buffers of {buf_size}, where ABI {major}.{minor} needs at least {} and exactly {} and {}: it was built for another platform or a damaged header",
                size_of::<SortiePlugin>(),
                size_of::<SortieStr>(),
                size_of::<SortieBuf>()
            ),
        ));
    }
    // A C plugin may leave a function NULL; the Rust table's function pointers cannot be
    // null, so they are read as raw words before the table is trusted as a `SortiePlugin`.
    let functions: [(&str, usize); 12] = [
        ("describe", std::mem::offset_of!(SortiePlugin, describe)),
        ("source", std::mem::offset_of!(SortiePlugin, source)),
        ("resolve", std::mem::offset_of!(SortiePlugin, resolve)),
        ("check_plan", std::mem::offset_of!(SortiePlugin, check_plan)),
        ("open", std::mem::offset_of!(SortiePlugin, open)),
        ("check", std::mem::offset_of!(SortiePlugin, check)),
        ("list_page", std::mem::offset_of!(SortiePlugin, list_page)),
        ("open_item", std::mem::offset_of!(SortiePlugin, open_item)),
        ("read", std::mem::offset_of!(SortiePlugin, read)),
        ("close_body", std::mem::offset_of!(SortiePlugin, close_body)),
        ("close_source", std::mem::offset_of!(SortiePlugin, close_source)),
        ("free_buf", std::mem::offset_of!(SortiePlugin, free_buf)),
    ];
    for (name, offset) in functions {
        // SAFETY: within the table's size, checked above; a pointer-sized, aligned field.
        let function = unsafe { table.cast::<u8>().add(offset).cast::<*const std::ffi::c_void>().read() };
        if function.is_null() {
            return Err(LoadError::new(
                path,
                format!("its table has no `{name}` function (NULL): every function of ABI {major}.0 is required"),
            ));
        }
    }
    // SAFETY: the table is at least as large as this version's, static, and its functions
    // are not null.
    Ok(unsafe { &*table })
}

/// Refuses a plugin another user could have replaced, as ssh's StrictModes refuses keys:
/// the file and every directory above it must belong to root or to us, and must not be
/// writable by group or others — except a sticky directory (`/tmp`), in which others cannot
/// rename or remove what is ours.
fn check_ownership(given: &Path, real: &Path) -> Result<(), LoadError> {
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    let file = std::fs::metadata(real).map_err(|e| LoadError::new(given, format!("cannot be read: {e}")))?;
    if !file.is_file() {
        return Err(LoadError::new(given, "is not a regular file"));
    }
    let refuse = |what: &Path, why: String| {
        let shown = if what == real { String::from("the file") } else { format!("its directory {}", what.display()) };
        LoadError::new(
            given,
            format!("refused: {shown} {why}; anyone who can write there could make Sortie run their code"),
        )
    };
    let mut current = Some(real);
    while let Some(path) = current {
        let meta = if path == real {
            file.clone()
        } else {
            std::fs::metadata(path).map_err(|e| LoadError::new(given, e.to_string()))?
        };
        let mode = meta.permissions().mode();
        if meta.uid() != 0 && meta.uid() != me {
            return Err(refuse(path, format!("belongs to user {}, neither root nor you", meta.uid())));
        }
        let sticky_dir = meta.is_dir() && mode & 0o1000 != 0;
        if mode & 0o022 != 0 && !sticky_dir {
            return Err(refuse(
                path,
                format!("is writable by group or others (mode {:o}): chmod go-w it", mode & 0o7777),
            ));
        }
        current = path.parent();
    }
    // The links on the way to the file: a link another user made (in a sticky directory,
    // where anyone may create entries) chooses what is loaded as surely as the file would.
    let absolute = std::path::absolute(given).map_err(|e| LoadError::new(given, e.to_string()))?;
    let mut link = Some(absolute.as_path());
    while let Some(path) = link {
        if let Ok(meta) = std::fs::symlink_metadata(path)
            && meta.file_type().is_symlink()
            && meta.uid() != 0
            && meta.uid() != me
        {
            let why = format!("is a symbolic link that belongs to user {}, neither root nor you", meta.uid());
            return Err(LoadError::new(
                given,
                format!(
                    "refused: {} {why}; anyone who can make links there could make Sortie run their code",
                    path.display()
                ),
            ));
        }
        link = path.parent();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set_mode(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    fn problem(path: &Path) -> String {
        Plugin::load(path, Duration::from_secs(5)).unwrap_err().problem
    }

    #[test]
    fn files_and_directories_others_can_write_are_refused_but_sticky_ones_are_not() {
        let outer = tempfile::tempdir().unwrap();
        let dir = outer.path().join("plugins");
        std::fs::create_dir(&dir).unwrap();
        set_mode(outer.path(), 0o700);
        set_mode(&dir, 0o755);
        let file = dir.join("libsortie_plugin_x.so");
        std::fs::write(&file, b"not a library").unwrap();
        set_mode(&file, 0o666);
        assert!(
            problem(&file).contains("refused: the file is writable by group or others (mode 666)"),
            "{}",
            problem(&file)
        );
        set_mode(&file, 0o644);
        set_mode(&dir, 0o777);
        assert!(
            problem(&file).contains(&format!("refused: its directory {} is writable", dir.display())),
            "{}",
            problem(&file)
        );
        set_mode(&dir, 0o1777);
        assert!(problem(&file).contains("is not a shared library"), "{}", problem(&file));
        let link = outer.path().join("link.so");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        set_mode(&dir, 0o777);
        assert!(
            problem(&link).contains("is writable by group or others"),
            "a link is judged by what it points to: {}",
            problem(&link)
        );
    }
}
