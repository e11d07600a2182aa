//! What the `file` provider takes.

use std::path::PathBuf;

use sortie_sdk::settings::SettingSpec;
use sortie_sdk::source::SourceSpec;

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
    /// Reads a source description made by [`crate::FsFactory`].
    pub(crate) fn of(spec: &SourceSpec) -> Self {
        let path = spec.url.strip_prefix("file://").unwrap_or(&spec.url);
        Self { root: PathBuf::from(path), follow_symlinks: spec.settings.is_on("follow_symlinks") }
    }
}
