//! What a provider registers: a factory that describes the provider and its settings, makes
//! source descriptions of what the user wrote, resolves them, and opens them.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};
use crate::provider::Provider;
use crate::retry::RetryPolicy;
use crate::settings::{SettingSpec, Settings};
use crate::source::SourceSpec;

/// A provider, described: `sortie providers` prints this.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "InfoJson", into = "InfoJson")]
#[non_exhaustive]
pub struct ProviderInfo {
    /// The URL scheme, e.g. `s3`.
    pub scheme: String,
    /// One line saying what it exports.
    pub description: String,
    /// Example sources, at least one.
    pub examples: Vec<String>,
    /// Every setting it takes.
    pub settings: Vec<SettingSpec>,
}

/// [`ProviderInfo`] as JSON (`sortie providers --json`, a plugin's `describe`): `examples`,
/// and `example`, the first of them, which is all that plugins and hosts written before
/// `examples` existed give and read.
#[derive(Serialize, Deserialize)]
struct InfoJson {
    scheme: String,
    description: String,
    #[serde(default)]
    example: Option<String>,
    #[serde(default)]
    examples: Vec<String>,
    settings: Vec<SettingSpec>,
}

impl From<InfoJson> for ProviderInfo {
    fn from(json: InfoJson) -> Self {
        let examples = if json.examples.is_empty() { json.example.into_iter().collect() } else { json.examples };
        Self { scheme: json.scheme, description: json.description, examples, settings: json.settings }
    }
}

impl From<ProviderInfo> for InfoJson {
    fn from(info: ProviderInfo) -> Self {
        Self {
            scheme: info.scheme,
            description: info.description,
            example: info.examples.first().cloned(),
            examples: info.examples,
            settings: info.settings,
        }
    }
}

impl ProviderInfo {
    /// A provider of `scheme` with its settings, and one example source.
    pub fn new(scheme: &str, description: &str, example: &str, settings: Vec<SettingSpec>) -> Self {
        Self {
            scheme: scheme.to_owned(),
            description: description.to_owned(),
            examples: vec![example.to_owned()],
            settings,
        }
    }

    /// Adds another example source.
    pub fn with_example(mut self, example: &str) -> Self {
        self.examples.push(example.to_owned());
        self
    }

    /// The setting called `name`, or an error listing the ones there are.
    pub fn setting(&self, name: &str) -> Result<&SettingSpec> {
        self.settings.iter().find(|s| s.name == name).ok_or_else(|| {
            let known: Vec<&str> = self.settings.iter().map(|s| s.name.as_str()).collect();
            Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "{} sources take no setting '{name}'; they take {} (see `sortie providers {}`)",
                    self.scheme,
                    if known.is_empty() { "none".to_owned() } else { known.join(", ") },
                    self.scheme
                ),
            )
        })
    }
}

/// What every source of one run shares, beside its own settings.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Context {
    /// How to retry a temporary error of a sub-request the engine does not retry on its
    /// own (see [`crate::retry`]).
    pub retry: RetryPolicy,
    /// Local files no source may export: the archive being written and its companions,
    /// which a source directory may contain (`sortie export . -o backup.tar.zst`).
    pub exclude: Vec<PathBuf>,
}

impl Context {
    /// A context with the given retry policy and local files to leave out.
    pub fn new(retry: RetryPolicy, exclude: Vec<PathBuf>) -> Self {
        Self { retry, exclude }
    }
}

/// Makes sources of one scheme. Registered once per provider (`src/providers.rs` of the
/// binary, or a plugin's entry point).
#[async_trait]
pub trait ProviderFactory: Send + Sync {
    /// The scheme, what the provider does, and its settings.
    fn info(&self) -> ProviderInfo;

    /// Describes the source the user wrote (`url`, with the settings given for it): parses
    /// and checks, reads no network and no credentials. A plain path is given to the
    /// `file` provider as is.
    fn source(&self, url: &str, settings: Settings) -> Result<SourceSpec>;

    /// The sources `source` stands for: itself (the default), or, for a source that stands
    /// for several (`s3://`: every bucket of the account), those, each then exported as a
    /// source of its own. May read the network (and then checks the credentials); retried
    /// by the engine on a temporary error. The result must not depend on anything but the
    /// source and what the provider holds: any one of them can be opened alone, in any
    /// order, by another process.
    async fn resolve(&self, source: &SourceSpec, context: &Context) -> Result<Vec<SourceSpec>> {
        let _ = context;
        Ok(vec![source.clone()])
    }

    /// Checks a plan as a whole before any of its sources is opened (it may have been
    /// edited, or be exported in parts): a source that relies on another being exported
    /// with it (a Swift segment container, whose segments are archived inside its owner's
    /// large objects) refuses a plan without that one. Called once per scheme present in
    /// the plan, with every source of the plan; the default accepts.
    fn check_plan(&self, plan: &[SourceSpec]) -> Result<()> {
        let _ = plan;
        Ok(())
    }

    /// Opens a resolved source; its `check` is called next, before anything is written.
    fn open(&self, source: &SourceSpec, context: &Context) -> Result<Arc<dyn Provider>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn examples_are_a_list_and_a_lone_example_is_still_read() {
        let info = ProviderInfo::new("x", "d", "x://a", vec![]).with_example("x://b");
        let json = serde_json::to_value(&info).unwrap();
        assert_eq!(json["examples"], serde_json::json!(["x://a", "x://b"]));
        assert_eq!(json["example"], "x://a");
        assert_eq!(serde_json::from_value::<ProviderInfo>(json).unwrap(), info);
        let older = r#"{"scheme":"x","description":"d","example":"x://a","settings":[]}"#;
        assert_eq!(serde_json::from_str::<ProviderInfo>(older).unwrap().examples, ["x://a"]);
    }
}
