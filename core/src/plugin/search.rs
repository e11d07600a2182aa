//! Which plugin files a run loads: those given with `--plugin`, then those found in the
//! directories of `SORTIE_PLUGIN_PATH` — never the current directory unless named.

use std::path::{Path, PathBuf};

use super::LoadError;

/// Directories searched for plugins, separated by `:` as `PATH` is.
pub const PLUGIN_PATH_ENV: &str = "SORTIE_PLUGIN_PATH";

/// The plugin files to load: `given` first, then every `libsortie_plugin_*.so` in the
/// directories of `search_path` (each directory's files in name order). An empty entry of
/// the search path is skipped, not taken as the current directory, as it would be in `PATH`.
pub fn plugin_files(given: &[PathBuf], search_path: Option<&str>) -> Result<Vec<PathBuf>, LoadError> {
    let mut files = given.to_vec();
    for dir in search_path.unwrap_or_default().split(':').filter(|d| !d.is_empty()).map(Path::new) {
        if !dir.is_absolute() {
            return Err(LoadError::new(
                dir,
                format!(
                    "{PLUGIN_PATH_ENV} names a relative directory: plugins are searched only in absolute directories"
                ),
            ));
        }
        // A directory that does not exist is skipped, as PATH's are: a package may list
        // its plugin directory before anything is installed in it.
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(LoadError::new(dir, format!("the {PLUGIN_PATH_ENV} directory cannot be read: {e}"))),
        };
        let mut found: Vec<PathBuf> = entries
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| {
                let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
                name.starts_with("libsortie_plugin_") && name.ends_with(".so")
            })
            .collect();
        found.sort();
        files.extend(found);
    }
    // The same file named twice (given and found, or found in a directory listed twice)
    // is loaded once: dlopen would give the same library, whose schemes would clash.
    let mut seen = std::collections::HashSet::new();
    files.retain(|file| seen.insert(std::fs::canonicalize(file).unwrap_or_else(|_| file.clone())));
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plugin_files_of_absolute_directories_are_found() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["libsortie_plugin_b.so", "libsortie_plugin_a.so", "libother.so", "libsortie_plugin_c.so.txt"] {
            std::fs::write(dir.path().join(name), b"").unwrap();
        }
        let path = format!("::{}:/nonexistent/sortie-plugins", dir.path().display());
        let files = plugin_files(&[PathBuf::from("given.so")], Some(&path)).unwrap();
        let names: Vec<_> = files.iter().map(|f| f.file_name().unwrap().to_str().unwrap()).collect();
        assert_eq!(names, ["given.so", "libsortie_plugin_a.so", "libsortie_plugin_b.so"]);
        let error = plugin_files(&[], Some("plugins")).unwrap_err();
        assert!(error.to_string().contains("relative directory"), "{error}");
    }
}
