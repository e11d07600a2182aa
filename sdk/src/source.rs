//! Sources as data: what a factory makes of what the user wrote, and what resolution
//! (`s3://` → one source per bucket) returns. A [`SourceSpec`] can be printed
//! (`sortie plan`), saved, handed to another process and opened there.

use serde::{Deserialize, Serialize};

use crate::settings::Settings;

/// One source, described.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SourceSpec {
    /// The scheme of the factory that opens it.
    pub scheme: String,
    /// The source as the user would write it, never with credentials: shown in messages
    /// and the report, and parsed again by the factory to open it.
    pub url: String,
    /// A plain identifier for the source's subtree under `data/` (e.g. `s3-my-bucket`);
    /// the engine numbers repeats.
    pub id: String,
    /// The source's settings (secrets left out when serialized).
    #[serde(default)]
    pub settings: Settings,
}

impl SourceSpec {
    /// A source of `scheme` at `url`, archived under `id`.
    pub fn new(scheme: &str, url: impl Into<String>, id: impl Into<String>, settings: Settings) -> Self {
        Self { scheme: scheme.to_owned(), url: url.into(), id: id.into(), settings }
    }
}

/// Turns any text into a plain source id fragment: lower-case ASCII letters, digits, `.`
/// and `_`, other runs folded into one `-`, at most 48 characters (`fs-{slug(name)}`).
pub fn slug(text: &str) -> String {
    let mut out = String::new();
    for ch in text.chars() {
        if ch.is_ascii_alphanumeric() || ch == '.' || ch == '_' {
            out.push(ch.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let trimmed = out.trim_matches(|c| c == '-' || c == '.' || c == '_');
    trimmed.chars().take(48).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_plain() {
        assert_eq!(slug("Sample Tenant (prod)"), "sample-tenant-prod");
        assert_eq!(slug("été 2024"), "t-2024");
        assert_eq!(slug("---"), "");
    }
}
