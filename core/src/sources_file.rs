//! Named sources, like rclone's remotes: `sortie export @prod-bucket` takes the source and
//! its settings from a YAML file the user keeps, so that a scheduled job's command line stays
//! short and the same everywhere.
//!
//! ```yaml
//! prod-bucket:
//!   source: s3://my-bucket/exports
//!   settings:
//!     endpoint: https://s3.gra.io.cloud.ovh.net
//!     profile: prod
//! ```
//!
//! The file is `--sources-file FILE`, else `$SORTIE_SOURCES`, else
//! `$XDG_CONFIG_HOME/sortie/sources.yaml` (`~/.config/sortie/sources.yaml`).

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;
use sortie_sdk::settings::Settings;

use crate::error::{Error, ErrorKind, Result};
use crate::registry::{Registry, scheme_of};

/// One named source of the file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    source: String,
    #[serde(default)]
    settings: BTreeMap<String, Value>,
}

/// Where the sources file is: `explicit`, else `$SORTIE_SOURCES`, else the user's
/// configuration directory.
pub fn locate(explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(path) = explicit {
        return Some(path.to_owned());
    }
    if let Some(path) = std::env::var_os("SORTIE_SOURCES").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config")))?;
    Some(config.join("sortie").join("sources.yaml"))
}

/// The sources as written, with the settings of those named `@NAME` from the sources file at
/// `file` (read only when a name is used), checked against their providers' settings.
pub fn expand(registry: &Registry, written: &[String], file: Option<&Path>) -> Result<Vec<(String, Settings)>> {
    let mut entries: Option<BTreeMap<String, Entry>> = None;
    let mut out = Vec::with_capacity(written.len());
    for source in written {
        let Some(name) = source.strip_prefix('@') else {
            out.push((source.clone(), Settings::new()));
            continue;
        };
        let path = file.ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidInput,
                format!("source '{source}' names a source of the sources file, but no file was given: use --sources-file FILE or SORTIE_SOURCES"),
            )
        })?;
        if entries.is_none() {
            entries = Some(load(path)?);
        }
        let entries = entries.as_ref().expect("loaded above");
        let entry = entries.get(name).ok_or_else(|| {
            let names: Vec<&str> = entries.keys().map(String::as_str).collect();
            Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "no source named '{name}' in {}: it names {}",
                    path.display(),
                    if names.is_empty() { "none".to_owned() } else { names.join(", ") }
                ),
            )
        })?;
        let scheme = scheme_of(&entry.source);
        let info = registry.factory(&scheme, &entry.source)?.info();
        let mut settings = Settings::new();
        for (key, value) in &entry.settings {
            let in_entry = |e: Error| e.context(format!("source '{name}' of {}", path.display()));
            let spec = info.setting(key).map_err(in_entry)?;
            if spec.secret {
                refuse_if_shared(path, key)?;
            }
            settings.set_value(spec, value.clone()).map_err(in_entry)?;
        }
        out.push((entry.source.clone(), settings));
    }
    Ok(out)
}

/// A sources file names a few hundred sources at most.
const SOURCES_FILE_MAX: u64 = 1 << 20;

fn load(path: &Path) -> Result<BTreeMap<String, Entry>> {
    let fix = "write the named sources there, or name the file with --sources-file FILE or SORTIE_SOURCES";
    let text = crate::input::read_text(path, SOURCES_FILE_MAX, "the sources file", fix)?;
    serde_yaml_ng::from_str(&text).map_err(|e| {
        Error::new(
            ErrorKind::InvalidInput,
            format!(
                "the sources file {} is not a map of NAME: {{source: URL, settings: {{KEY: VALUE}}}}: {e}",
                path.display()
            ),
        )
    })
}

/// A password in a file others can read is a leak waiting to happen: refused, with the fix.
fn refuse_if_shared(path: &Path, key: &str) -> Result<()> {
    let mode = std::fs::metadata(path).map_err(|e| Error::io(format!("cannot read {}", path.display()), &e))?;
    let mode = mode.permissions().mode();
    if mode & 0o077 != 0 {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!(
                "the sources file {} holds the secret setting '{key}' but others may read it (mode {:o}): run `chmod 600 {}`",
                path.display(),
                mode & 0o777,
                path.display()
            ),
        ));
    }
    Ok(())
}
