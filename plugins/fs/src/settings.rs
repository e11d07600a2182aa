//! What the `file` provider takes.

use std::path::PathBuf;

use sortie_sdk::settings::SettingSpec;
use sortie_sdk::source::SourceSpec;
use sortie_sdk::{Error, ErrorKind, Result};

/// The settings schema.
pub(crate) fn specs() -> Vec<SettingSpec> {
    vec![
        SettingSpec::bool("follow_symlinks", "Follow symbolic links instead of recording them with their target.")
            .flag("--follow-symlinks"),
    ]
}

/// One source's settings, typed.
pub(crate) struct FsSettings {
    /// The directory, as written or canonical.
    pub(crate) root: PathBuf,
    pub(crate) follow_symlinks: bool,
}

impl FsSettings {
    /// Reads a source description made by [`crate::FsFactory`]: `file://` and an absolute
    /// path (a plan may have been edited).
    pub(crate) fn of(spec: &SourceSpec) -> Result<Self> {
        match spec.url.strip_prefix("file://") {
            Some(path) if path.starts_with('/') => {
                Ok(Self { root: PathBuf::from(path), follow_symlinks: spec.settings.is_on("follow_symlinks") })
            }
            _ => Err(Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "'{}' is not a file:///absolute/path source: print the plan again with `sortie plan`",
                    spec.url
                ),
            )),
        }
    }
}
