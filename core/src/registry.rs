//! Maps source URLs to providers. The binary builds the list of built-in providers
//! explicitly, in one place, so that what is compiled in is obvious.

use std::path::PathBuf;
use std::sync::Arc;

use crate::error::{Error, ErrorKind, Result};
use crate::provider::Provider;
use crate::retry::RetryPolicy;

/// Options a source may take from the command line.
#[derive(Debug, Clone, Default)]
pub struct SourceOptions {
    /// Follow symbolic links instead of recording them.
    pub follow_symlinks: bool,
    /// Local files never to export: the archive being written and its companions, which a
    /// source directory may contain (`sortie export . -o backup.tar.zst`).
    pub exclude: Vec<PathBuf>,
    /// Take only the current version of versioned objects, not their history.
    pub current_only: bool,
    /// Leave out objects in archive tiers that cannot be read without a restore (S3 Glacier
    /// classes) instead of counting them as failures.
    pub skip_archived: bool,
    /// A named profile of the provider's own configuration files (`~/.aws/config`).
    pub profile: Option<String>,
    /// The provider's API endpoint, for compatible services (`https://s3.gra.io.cloud.ovh.net`).
    pub endpoint: Option<String>,
    /// The provider's region.
    pub region: Option<String>,
    /// Address buckets in the URL path rather than in the host name.
    pub path_style: bool,
    /// Send unsigned requests (public data), reading no credentials.
    pub anonymous: bool,
    /// A named cloud of the provider's configuration files (OpenStack's `clouds.yaml`).
    pub cloud: Option<String>,
    /// The OpenStack region to take endpoints from.
    pub openstack_region: Option<String>,
    /// The catalog interface to take endpoints from (public, internal, admin).
    pub interface: Option<String>,
    /// Also archive the segments of large objects, already archived assembled.
    pub include_segments: bool,
    /// Also archive the data of block storage volumes (copied into temporary images).
    pub include_volume_data: bool,
    /// Items asked for per listing request, for servers with a lower limit.
    pub page_size: Option<u32>,
    /// How to retry a temporary error of one request that the engine does not retry on its
    /// own: a provider's sub-requests (an S3 object's tag set, ACL and part sizes, a
    /// bucket's configuration documents), each retried alone so that one fault never costs
    /// the requests that already succeeded.
    pub retry: RetryPolicy,
    /// An item whose bytes were read but whose metadata (S3 tags, ACL) could not be is
    /// archived and counted complete, the reason recorded with it, instead of making the
    /// export incomplete.
    pub allow_missing_metadata: bool,
}

/// Creates providers for one URL scheme.
pub trait ProviderFactory: Send + Sync {
    /// The URL scheme, e.g. `file`.
    fn scheme(&self) -> &'static str;
    /// One line saying what it exports.
    fn description(&self) -> &'static str;
    /// An example source.
    fn example(&self) -> &'static str;
    /// Builds the provider for `source` (the whole text the user gave).
    fn open(&self, source: &str, options: &SourceOptions) -> Result<Arc<dyn Provider>>;
}

/// The available providers.
#[derive(Default)]
pub struct Registry {
    factories: Vec<Box<dyn ProviderFactory>>,
}

impl Registry {
    /// Adds a provider; the first one registered for a scheme wins.
    pub fn register(&mut self, factory: Box<dyn ProviderFactory>) {
        self.factories.push(factory);
    }

    /// The registered providers, in registration order.
    pub fn factories(&self) -> impl Iterator<Item = &dyn ProviderFactory> {
        self.factories.iter().map(|f| f.as_ref())
    }

    /// Opens `source`: `SCHEME://…`, or a plain path for the `file` scheme.
    pub fn open(&self, source: &str, options: &SourceOptions) -> Result<Arc<dyn Provider>> {
        let scheme = scheme_of(source);
        let factory = self.factories.iter().find(|f| f.scheme() == scheme).ok_or_else(|| {
            let known: Vec<&str> = self.factories.iter().map(|f| f.scheme()).collect();
            Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "unknown scheme '{scheme}' in source '{source}': available schemes are {} (see `sortie providers`)",
                    known.join(", ")
                ),
            )
        })?;
        factory.open(source, options)
    }
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
        let error = Registry::default().open("ftp://x", &SourceOptions::default()).err().unwrap();
        assert_eq!(error.kind(), ErrorKind::InvalidInput);
        assert!(error.to_string().contains("unknown scheme 'ftp'"));
    }
}
