//! Warnings: what deserves the user's attention without stopping the command (a source
//! inside another, a source whose listing found nothing, an odd output name). Commands
//! print them on stderr and in the `warnings` array of their JSON.

use serde::Serialize;
use sortie_sdk::item::Kind;

/// One warning.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    /// What it is about, for scripts: `overlapping_sources`, `empty_source`, `output_name`.
    pub kind: &'static str,
    /// The sentence a person reads.
    pub message: String,
}

impl Warning {
    /// A warning of `kind` saying `message`.
    pub fn new(kind: &'static str, message: impl Into<String>) -> Self {
        Self { kind, message: message.into() }
    }
}

/// Warns when the listing of `url` found nothing to archive but configuration documents
/// and directories: an S3 or Swift prefix that matches no name is most often a typo, and
/// an export of it would otherwise say `complete` without a word. `listed` gives the items
/// listed per kind name.
pub fn empty_source<'a>(source: &str, url: &str, listed: impl IntoIterator<Item = (&'a str, u64)>) -> Option<Warning> {
    let containers = [Kind::Config.as_str(), Kind::Directory.as_str()];
    let content: u64 = listed.into_iter().filter(|(kind, _)| !containers.contains(kind)).map(|(_, n)| n).sum();
    (content == 0)
        .then(|| Warning::new("empty_source", format!("source {source} ({url}) is empty: check the prefix or path")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_with_only_configuration_and_directories_is_empty() {
        assert!(empty_source("s3-b", "s3://b/typo", [("config", 3), ("directory", 1)]).is_some());
        assert!(empty_source("fs-x", "file:///x", []).is_some());
        assert!(empty_source("s3-b", "s3://b", [("config", 3), ("object", 1)]).is_none());
    }
}
