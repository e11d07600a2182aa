//! Settings as data: a provider declares what it takes ([`SettingSpec`]) and receives the
//! values ([`Settings`]), whatever they came from: the source URL, `--set KEY=VALUE`, a
//! documented flag (`--s3-endpoint`), a named source of the sources file. The provider's
//! own ecosystem (AWS variables and profiles, `clouds.yaml`, `OS_*`) it reads itself, and
//! names the variables it honours in `env`, so that `sortie providers` documents them.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::error::{Error, ErrorKind, Result};

/// The type of a setting's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum SettingType {
    /// `true` or `false` (also `yes`/`no`, `on`/`off`, `1`/`0`); a flag given alone is true.
    Bool,
    /// A whole number, zero or more.
    Integer,
    /// Any text.
    Text,
}

/// One setting a provider takes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SettingSpec {
    /// The key, in `snake_case`: `--set endpoint=…`.
    pub name: String,
    /// The type of its value.
    #[serde(rename = "type")]
    pub kind: SettingType,
    /// One or two sentences for `sortie providers SCHEME`.
    pub help: String,
    /// The value when none is given, when there is a fixed one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
    /// A password, key or token: never shown in `Debug`, plans, logs or errors.
    #[serde(default)]
    pub secret: bool,
    /// The environment variables the provider reads for it, in precedence order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<String>,
    /// The command-line flag that is a documented spelling of it (`--s3-endpoint`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flag: Option<String>,
}

impl SettingSpec {
    /// A setting of the given type.
    pub fn new(name: &str, kind: SettingType, help: &str) -> Self {
        Self {
            name: name.to_owned(),
            kind,
            help: help.to_owned(),
            default: None,
            secret: false,
            env: Vec::new(),
            flag: None,
        }
    }

    /// A yes/no setting, false unless given.
    pub fn bool(name: &str, help: &str) -> Self {
        Self::new(name, SettingType::Bool, help).default_value(false)
    }

    /// A whole-number setting.
    pub fn integer(name: &str, help: &str) -> Self {
        Self::new(name, SettingType::Integer, help)
    }

    /// A text setting.
    pub fn text(name: &str, help: &str) -> Self {
        Self::new(name, SettingType::Text, help)
    }

    /// With a fixed default value.
    pub fn default_value(mut self, value: impl Into<Value>) -> Self {
        self.default = Some(value.into());
        self
    }

    /// Marks it secret.
    pub fn secret(mut self) -> Self {
        self.secret = true;
        self
    }

    /// Names the environment variables the provider reads for it.
    pub fn env(mut self, names: &[&str]) -> Self {
        self.env = names.iter().map(|n| (*n).to_owned()).collect();
        self
    }

    /// Names the command-line flag that spells it.
    pub fn flag(mut self, flag: &str) -> Self {
        self.flag = Some(flag.to_owned());
        self
    }

    /// Parses a value written as text. The error names the setting and the expected form,
    /// never a secret's value.
    pub fn parse(&self, text: &str) -> Result<Value> {
        let shown = if self.secret { String::new() } else { format!(", not '{text}'") };
        let invalid = |expected: &str| {
            Error::new(ErrorKind::InvalidInput, format!("setting '{}' takes {expected}{shown}", self.name))
        };
        match self.kind {
            SettingType::Bool => match text.to_ascii_lowercase().as_str() {
                "true" | "yes" | "on" | "1" | "" => Ok(Value::Bool(true)),
                "false" | "no" | "off" | "0" => Ok(Value::Bool(false)),
                _ => Err(invalid("true or false")),
            },
            SettingType::Integer => text.trim().parse::<u64>().map(Value::from).map_err(|_| invalid("a whole number")),
            SettingType::Text => Ok(Value::String(text.to_owned())),
        }
    }

    /// Checks a value given as data (a sources file, a plan) against the type.
    pub fn accept(&self, value: Value) -> Result<Value> {
        match (&self.kind, value) {
            (SettingType::Bool, value @ Value::Bool(_)) => Ok(value),
            (SettingType::Integer, Value::Number(n)) if n.is_u64() => Ok(Value::Number(n)),
            (SettingType::Text, value @ Value::String(_)) => Ok(value),
            (_, Value::String(text)) => self.parse(&text),
            (kind, _) => Err(Error::new(
                ErrorKind::InvalidInput,
                format!("setting '{}' takes a value of type {kind:?}", self.name).to_lowercase(),
            )),
        }
    }
}

/// The values given to one source, checked against its provider's [`SettingSpec`]s.
///
/// Secret values are kept for the provider to use, but never rendered: `Debug` shows
/// `<secret>`, and serialization (a plan, a resume journal) leaves them out, so that they
/// are given again (from the environment or `--set`) by the run that uses the plan.
#[derive(Clone, Default, PartialEq)]
pub struct Settings {
    values: BTreeMap<String, Value>,
    secrets: BTreeSet<String>,
}

impl Settings {
    /// No values.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `spec` from text (replacing an earlier value).
    pub fn set(&mut self, spec: &SettingSpec, text: &str) -> Result<()> {
        let value = spec.parse(text)?;
        self.put(spec, value);
        Ok(())
    }

    /// Sets `spec` from a value given as data (replacing an earlier value).
    pub fn set_value(&mut self, spec: &SettingSpec, value: Value) -> Result<()> {
        let value = spec.accept(value)?;
        self.put(spec, value);
        Ok(())
    }

    fn put(&mut self, spec: &SettingSpec, value: Value) {
        if spec.secret {
            self.secrets.insert(spec.name.clone());
        }
        self.values.insert(spec.name.clone(), value);
    }

    /// The text value of `name`, if given.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.values.get(name).and_then(Value::as_str)
    }

    /// Whether the yes/no setting `name` was given as yes.
    pub fn is_on(&self, name: &str) -> bool {
        self.values.get(name).and_then(Value::as_bool).unwrap_or(false)
    }

    /// The whole-number value of `name`, if given.
    pub fn integer(&self, name: &str) -> Option<u64> {
        self.values.get(name).and_then(Value::as_u64)
    }

    /// Whether `name` was given at all.
    pub fn contains(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    /// The names and values of what was given, secrets left out.
    pub fn public(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.values.iter().filter(|(name, _)| !self.secrets.contains(*name)).map(|(name, value)| (name.as_str(), value))
    }

    /// Only the secret values: what a source read back from a plan must be given again.
    pub fn secrets(&self) -> Settings {
        let values = self.values.iter().filter(|(name, _)| self.secrets.contains(*name));
        Self { values: values.map(|(n, v)| (n.clone(), v.clone())).collect(), secrets: self.secrets.clone() }
    }

    /// Every value given, secrets included: for [`crate::wire`] only.
    pub(crate) fn values(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.values.iter().map(|(name, value)| (name.as_str(), value))
    }

    /// Settings read back from [`crate::wire`]: unchecked, as [`Deserialize`] gives them.
    pub(crate) fn from_values(values: BTreeMap<String, Value>, secrets: BTreeSet<String>) -> Self {
        Self { values, secrets }
    }

    /// These settings with `other`'s values over them.
    pub fn overridden_by(mut self, other: &Settings) -> Self {
        for (name, value) in &other.values {
            self.values.insert(name.clone(), value.clone());
            if other.secrets.contains(name) {
                self.secrets.insert(name.clone());
            }
        }
        self
    }
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for (name, value) in &self.values {
            if self.secrets.contains(name) {
                map.entry(name, &format_args!("<secret>"));
            } else {
                map.entry(name, value);
            }
        }
        map.finish()
    }
}

impl Serialize for Settings {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_map(self.public())
    }
}

impl<'de> Deserialize<'de> for Settings {
    /// Values read back are unchecked until the provider's schema checks them (the host
    /// does, with [`Settings::set_value`], before opening a source from a plan).
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        Ok(Self { values: BTreeMap::deserialize(deserializer)?, secrets: BTreeSet::new() })
    }
}

/// A secret a provider holds (a key, a password, a token): usable with [`Secret::expose`],
/// never rendered — `Debug` shows `<secret>`, so that a provider's structs can derive
/// `Debug` safely.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value, for the request that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<secret>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> Vec<SettingSpec> {
        vec![
            SettingSpec::text("endpoint", "The API endpoint.").env(&["EXAMPLE_ENDPOINT"]),
            SettingSpec::text("password", "The password.").secret(),
            SettingSpec::bool("current_only", "Only current versions.").flag("--current-only"),
            SettingSpec::integer("page_size", "Items per page."),
        ]
    }

    #[test]
    fn values_are_typed_and_secrets_never_rendered() {
        let schema = schema();
        let mut settings = Settings::new();
        settings.set(&schema[0], "https://api.example").unwrap();
        settings.set(&schema[1], "hunter2-secret").unwrap();
        settings.set(&schema[2], "yes").unwrap();
        settings.set(&schema[3], "500").unwrap();
        assert_eq!(settings.text("endpoint"), Some("https://api.example"));
        assert_eq!(settings.text("password"), Some("hunter2-secret"));
        assert!(settings.is_on("current_only"));
        assert_eq!(settings.integer("page_size"), Some(500));
        let json = serde_json::to_string(&settings).unwrap();
        let debug = format!("{settings:?}");
        for rendering in [&json, &debug] {
            assert!(!rendering.contains("hunter2"), "{rendering}");
            assert!(rendering.contains("https://api.example"), "{rendering}");
        }
        let back: Settings = serde_json::from_str(&json).unwrap();
        assert_eq!(back.text("password"), None);
        let given_again = back.clone().overridden_by(&settings.secrets());
        assert_eq!(given_again, settings);
        assert_eq!(back.integer("page_size"), Some(500));
    }

    #[test]
    fn a_secret_never_renders() {
        let secret = Secret::new("hunter2-secret");
        assert_eq!(format!("{secret:?}"), "<secret>");
        assert_eq!(secret.expose(), "hunter2-secret");
    }

    #[test]
    fn bad_values_are_refused_naming_the_setting_but_not_a_secret() {
        let schema = schema();
        let error = Settings::new().set(&schema[3], "many").unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidInput);
        assert_eq!(error.to_string(), "setting 'page_size' takes a whole number, not 'many'");
        let mut secret_number = SettingSpec::integer("pin", "A PIN.").secret();
        secret_number.help.clear();
        let error = Settings::new().set(&secret_number, "12ab-secret").unwrap_err();
        assert!(!error.to_string().contains("12ab"), "{error}");
        assert!(Settings::new().set_value(&schema[2], Value::from(3)).is_err());
        assert!(Settings::new().set_value(&schema[2], Value::from("off")).is_ok());
    }
}
