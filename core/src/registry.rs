//! The plugin host's table of providers: maps a source the user wrote to its factory, and
//! applies the settings given on the command line to it. The binary builds the list of
//! built-in providers explicitly, in one place, so that what is compiled in is obvious.

use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;
use sortie_sdk::registry::{ProviderFactory, ProviderInfo};
use sortie_sdk::settings::Settings;
use sortie_sdk::source::SourceSpec;

use crate::error::{Error, ErrorKind, Result};
use crate::plugin::{LoadError, Plugin};

/// Settings given to every source of a command: documented flags (`--s3-endpoint URL`)
/// and `--set KEY=VALUE` pairs, where `KEY` may be `SCHEME.KEY` to aim at one provider.
/// Its `Debug` shows the keys only: a value may be a secret.
#[derive(Clone, Default)]
pub struct Given {
    /// `(flag, value)`: a flag a setting's spec names, with its value as text (`true` for a
    /// flag without value).
    pub flags: Vec<(String, String)>,
    /// `(key, value)` from `--set`.
    pub sets: Vec<(String, String)>,
}

impl std::fmt::Debug for Given {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys = |pairs: &[(String, String)]| pairs.iter().map(|(key, _)| key.clone()).collect::<Vec<_>>();
        f.debug_struct("Given").field("flags", &keys(&self.flags)).field("sets", &keys(&self.sets)).finish()
    }
}

/// Where a provider comes from: `sortie providers` shows it, and a scheme provided twice is
/// refused naming both.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "origin", rename_all = "kebab-case")]
pub enum Origin {
    /// Compiled into this binary.
    BuiltIn,
    /// Loaded at run time.
    Plugin {
        /// The file it was loaded from.
        path: PathBuf,
        /// The plugin's name.
        plugin: String,
        /// The plugin's version.
        version: String,
        /// The plugin ABI it was built with, `MAJOR.MINOR`.
        abi: String,
    },
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::BuiltIn => f.write_str("built in"),
            Origin::Plugin { path, plugin, version, abi } => {
                write!(f, "plugin {plugin} {version} (ABI {abi}), {}", path.display())
            }
        }
    }
}

/// The available providers.
#[derive(Default)]
pub struct Registry {
    factories: Vec<(Box<dyn ProviderFactory>, Origin)>,
}

impl Registry {
    /// Adds a built-in provider.
    pub fn register(&mut self, factory: Box<dyn ProviderFactory>) {
        self.factories.push((factory, Origin::BuiltIn));
    }

    /// Adds every provider of a loaded plugin; a scheme already provided (built in, or by
    /// another plugin) is refused, naming both origins.
    pub fn register_plugin(&mut self, plugin: &Arc<Plugin>) -> std::result::Result<(), LoadError> {
        let (major, minor) = plugin.abi();
        let origin = Origin::Plugin {
            path: plugin.path().to_owned(),
            plugin: plugin.name().to_owned(),
            version: plugin.version().to_owned(),
            abi: format!("{major}.{minor}"),
        };
        for factory in plugin.factories() {
            let scheme = factory.info().scheme;
            if let Some((_, first)) = self.factories.iter().find(|(f, _)| f.info().scheme == scheme) {
                let problem = format!(
                    "provides the scheme '{scheme}', which is already provided ({first}): remove one of them from --plugin and {}",
                    crate::plugin::PLUGIN_PATH_ENV
                );
                return Err(LoadError { path: plugin.path().to_owned(), problem });
            }
            self.factories.push((factory, origin.clone()));
        }
        Ok(())
    }

    /// The registered providers' descriptions, in registration order.
    pub fn infos(&self) -> Vec<ProviderInfo> {
        self.factories.iter().map(|(f, _)| f.info()).collect()
    }

    /// The registered providers' descriptions with their origins, in registration order.
    pub fn entries(&self) -> Vec<(ProviderInfo, Origin)> {
        self.factories.iter().map(|(f, origin)| (f.info(), origin.clone())).collect()
    }

    /// The factory of `scheme`, or an error listing the schemes there are.
    pub fn factory(&self, scheme: &str, source: &str) -> Result<&dyn ProviderFactory> {
        let infos = self.infos();
        match infos.iter().position(|info| info.scheme == scheme) {
            Some(index) => Ok(self.factories[index].0.as_ref()),
            None => {
                let known: Vec<&str> = infos.iter().map(|i| i.scheme.as_str()).collect();
                Err(Error::new(
                    ErrorKind::InvalidInput,
                    format!(
                        "unknown scheme '{scheme}' in source '{source}': available schemes are {} (see `sortie providers`)",
                        known.join(", ")
                    ),
                ))
            }
        }
    }

    /// Describes the sources the user wrote: `SCHEME://…` or a plain path (the `file`
    /// scheme), each with `base` settings under the given ones (a named source's settings
    /// from the sources file; none otherwise). A `--set` key no source takes is refused.
    pub fn sources(&self, written: &[(String, Settings)], given: &Given) -> Result<Vec<SourceSpec>> {
        let mut used = vec![false; given.sets.len()];
        let mut specs = Vec::with_capacity(written.len());
        for (source, base) in written {
            let scheme = scheme_of(source);
            let factory = self.factory(&scheme, source)?;
            let settings = apply(&factory.info(), base.clone(), given, &mut used)?;
            specs.push(factory.source(source, settings)?);
        }
        all_used(given, &used, &specs)?;
        Ok(specs)
    }

    /// Checks the sources of a plan read back from a file (anyone may have edited it)
    /// against their providers' settings, and gives them the settings given now (secret
    /// ones among them, which a plan never holds).
    pub fn planned(&self, specs: &[SourceSpec], given: &Given) -> Result<Vec<SourceSpec>> {
        let mut used = vec![false; given.sets.len()];
        let mut planned = Vec::with_capacity(specs.len());
        for spec in specs {
            let in_plan = |e: Error| e.context(format!("source {} of the plan", spec.url));
            if scheme_of(&spec.url) != spec.scheme {
                let message = format!("its URL is not a {} URL: print the plan again with `sortie plan`", spec.scheme);
                return Err(in_plan(Error::new(ErrorKind::InvalidInput, message)));
            }
            let factory = self.factory(&spec.scheme, &spec.url)?;
            let info = factory.info();
            let mut checked = Settings::new();
            for (name, value) in spec.settings.public() {
                let setting = info.setting(name).map_err(in_plan)?;
                if setting.secret {
                    let message = format!(
                        "it holds the secret setting '{name}', which a plan never holds: remove it from the file and give it with --set {name}=… or the provider's environment variables"
                    );
                    return Err(in_plan(Error::new(ErrorKind::InvalidInput, message)));
                }
                checked.set_value(setting, value.clone()).map_err(in_plan)?;
            }
            let mut source = spec.clone();
            source.settings = apply(&info, checked, given, &mut used)?;
            planned.push(source);
        }
        all_used(given, &used, &planned)?;
        Ok(planned)
    }
}

/// Refuses a `--set` key that no source took: a typo must not pass silently.
fn all_used(given: &Given, used: &[bool], specs: &[SourceSpec]) -> Result<()> {
    match given.sets.iter().zip(used).find(|(_, used)| !**used) {
        Some(((key, _), _)) => {
            let schemes: Vec<&str> = specs.iter().map(|s| s.scheme.as_str()).collect();
            Err(Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "no source of this command takes the setting '{key}' (sources: {}); `sortie providers SCHEME` lists each provider's settings",
                    schemes.join(", ")
                ),
            ))
        }
        None => Ok(()),
    }
}

/// `base` with the given flags and `--set` values that `info`'s provider takes over it;
/// marks the `--set` pairs used.
fn apply(info: &ProviderInfo, base: Settings, given: &Given, used: &mut [bool]) -> Result<Settings> {
    let mut settings = base;
    for (flag, value) in &given.flags {
        if let Some(spec) = info.settings.iter().find(|s| s.flag.as_deref() == Some(flag.as_str())) {
            settings.set(spec, value).map_err(|e| e.context(flag))?;
        }
    }
    for ((key, value), used) in given.sets.iter().zip(used.iter_mut()) {
        let (scheme, name) = match key.split_once('.') {
            Some((scheme, name)) => (Some(scheme), name),
            None => (None, key.as_str()),
        };
        let spec = match scheme {
            Some(scheme) if scheme != info.scheme => continue,
            Some(_) => Some(info.setting(name)?),
            None => info.settings.iter().find(|s| s.name == name),
        };
        if let Some(spec) = spec {
            settings.set(spec, value).map_err(|e| e.context(format!("--set {key}")))?;
            *used = true;
        }
    }
    Ok(settings)
}

/// The scheme of a source: what precedes `://`, or `file` for a plain path.
pub fn scheme_of(source: &str) -> String {
    match source.split_once("://") {
        Some((scheme, _))
            if !scheme.is_empty() && scheme.bytes().all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b)) =>
        {
            scheme.to_ascii_lowercase()
        }
        _ => "file".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_and_plain_paths() {
        assert_eq!(scheme_of("s3://bucket/prefix"), "s3");
        assert_eq!(scheme_of("FILE:///srv"), "file");
        assert_eq!(scheme_of("./data"), "file");
        assert_eq!(scheme_of("/odd/path/with://inside"), "file");
        let error = Registry::default().sources(&[("ftp://x".into(), Settings::new())], &Given::default()).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidInput);
        assert!(error.to_string().contains("unknown scheme 'ftp'"));
    }
}
