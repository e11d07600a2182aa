//! The JSON shapes that cross the plugin C ABI (`sortie_plugin.h`) beside the contract's own
//! serialized types (an [`Item`](crate::Item), a [`Page`](crate::Page), an
//! [`Error`](crate::Error), a [`ProviderInfo`](crate::ProviderInfo)). Both sides use these:
//! the host in `sortie-core`, a Rust plugin through [`crate::export_plugin!`]. They hold
//! secret setting values, which a plugin needs to log in: they are passed in memory, never
//! written anywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::item::ProviderChecksum;
use crate::provider::Body;
use crate::registry::{Context, ProviderInfo};
use crate::retry::RetryPolicy;
use crate::settings::Settings;
use crate::source::SourceSpec;

/// What `describe` returns: every provider of the plugin.
#[derive(Debug, Serialize, Deserialize)]
pub struct Describe {
    /// One per scheme.
    pub providers: Vec<ProviderInfo>,
}

/// Settings with their secret values, and the names of the secret ones.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct SettingsWire {
    /// Every value given, secrets included.
    #[serde(default)]
    pub values: BTreeMap<String, Value>,
    /// The names of the secret values.
    #[serde(default)]
    pub secret: BTreeSet<String>,
}

impl From<&Settings> for SettingsWire {
    fn from(settings: &Settings) -> Self {
        let mut wire = Self::default();
        for (name, value) in settings.public() {
            wire.values.insert(name.to_owned(), value.clone());
        }
        let secrets = settings.secrets();
        for (name, value) in secrets.values() {
            wire.secret.insert(name.to_owned());
            wire.values.insert(name.to_owned(), value.clone());
        }
        wire
    }
}

impl From<SettingsWire> for Settings {
    fn from(wire: SettingsWire) -> Self {
        Settings::from_values(wire.values, wire.secret)
    }
}

/// A source with its secret settings: [`SourceSpec`]'s JSON plus `"secret"`.
#[derive(Debug, Serialize, Deserialize)]
pub struct SourceWire {
    /// See [`SourceSpec::scheme`].
    pub scheme: String,
    /// See [`SourceSpec::url`].
    pub url: String,
    /// See [`SourceSpec::id`].
    pub id: String,
    /// Every setting value, secrets included.
    #[serde(default)]
    pub settings: BTreeMap<String, Value>,
    /// The names of the secret settings.
    #[serde(default)]
    pub secret: BTreeSet<String>,
}

impl From<&SourceSpec> for SourceWire {
    fn from(spec: &SourceSpec) -> Self {
        let settings = SettingsWire::from(&spec.settings);
        Self {
            scheme: spec.scheme.clone(),
            url: spec.url.clone(),
            id: spec.id.clone(),
            settings: settings.values,
            secret: settings.secret,
        }
    }
}

impl From<SourceWire> for SourceSpec {
    fn from(wire: SourceWire) -> Self {
        let settings = Settings::from(SettingsWire { values: wire.settings, secret: wire.secret });
        SourceSpec::new(&wire.scheme, wire.url, wire.id, settings)
    }
}

/// The run's [`Context`]: the retry policy as plain numbers, and the local files to leave out.
#[derive(Debug, Serialize, Deserialize)]
pub struct ContextWire {
    /// Retries after the first attempt.
    pub retries: u32,
    /// The first backoff ceiling, in milliseconds.
    pub retry_base_ms: u64,
    /// The largest backoff ceiling, in milliseconds.
    pub retry_max_ms: u64,
    /// Local files no source may export.
    #[serde(default)]
    pub exclude: Vec<PathBuf>,
}

impl From<&Context> for ContextWire {
    fn from(context: &Context) -> Self {
        Self {
            retries: context.retry.retries,
            retry_base_ms: context.retry.base.as_millis() as u64,
            retry_max_ms: context.retry.max.as_millis() as u64,
            exclude: context.exclude.clone(),
        }
    }
}

impl From<ContextWire> for Context {
    fn from(wire: ContextWire) -> Self {
        let retry = RetryPolicy::new(
            wire.retries,
            Duration::from_millis(wire.retry_base_ms),
            Duration::from_millis(wire.retry_max_ms),
        );
        Context::new(retry, wire.exclude)
    }
}

/// What a response announced about a body ([`Body`] without its bytes).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct BodyHead {
    /// See [`Body::size`].
    #[serde(default)]
    pub size: Option<u64>,
    /// See [`Body::checksum`].
    #[serde(default)]
    pub checksum: Option<ProviderChecksum>,
    /// See [`Body::content_type`].
    #[serde(default)]
    pub content_type: Option<String>,
    /// See [`Body::meta`].
    #[serde(default)]
    pub meta: Map<String, Value>,
    /// See [`Body::modified`].
    #[serde(default)]
    pub modified: Option<SystemTime>,
    /// See [`Body::incomplete`].
    #[serde(default)]
    pub incomplete: Option<String>,
}

impl BodyHead {
    /// The head of `body`, leaving its stream.
    pub fn of(body: &Body) -> Self {
        Self {
            size: body.size,
            checksum: body.checksum.clone(),
            content_type: body.content_type.clone(),
            meta: body.meta.clone(),
            modified: body.modified,
            incomplete: body.incomplete.clone(),
        }
    }

    /// Puts this head on a body made of its stream.
    pub fn onto(self, mut body: Body) -> Body {
        body.size = self.size;
        body.checksum = self.checksum;
        body.content_type = self.content_type;
        body.meta = self.meta;
        body.modified = self.modified;
        body.incomplete = self.incomplete;
        body
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::SettingSpec;

    #[test]
    fn a_source_keeps_its_secrets_across_the_wire_and_only_there() {
        let mut settings = Settings::new();
        settings.set(&SettingSpec::text("user", "User."), "ada").unwrap();
        settings.set(&SettingSpec::text("password", "Password.").secret(), "hunter2").unwrap();
        let spec = SourceSpec::new("sftp", "sftp://ada@localhost/srv", "sftp-srv", settings);
        let json = serde_json::to_string(&SourceWire::from(&spec)).unwrap();
        assert!(json.contains("hunter2") && json.contains(r#""secret":["password"]"#), "{json}");
        let back = SourceSpec::from(serde_json::from_str::<SourceWire>(&json).unwrap());
        assert_eq!(back.settings.text("password"), Some("hunter2"));
        assert!(!serde_json::to_string(&back).unwrap().contains("hunter2"), "secret stays secret after the wire");
        assert_eq!(back, spec);
    }
}
