//! The `s3` scheme: one provider per bucket; `s3://` stands for every bucket the
//! credentials can list and expands into one source per bucket.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use sortie_core::error::{Error, ErrorKind, Result};
use sortie_core::item::{Area, Item};
use sortie_core::provider::{Body, Capabilities, Page, Provider};
use sortie_core::registry::{ProviderFactory, SourceOptions};

use crate::bucket_config;
use crate::client::{Client, Request};
use crate::listing::{Cursor, Lister};
use crate::object::{self, Extras};
use crate::settings;
use crate::source::{self, S3Url};
use crate::xml::ListAllMyBucketsResult;

/// Registers `s3://`.
pub struct S3Factory;

impl ProviderFactory for S3Factory {
    fn scheme(&self) -> &'static str {
        "s3"
    }

    fn description(&self) -> &'static str {
        "Amazon S3 and S3-compatible stores: every object, version, delete marker, and the bucket configuration"
    }

    fn example(&self) -> &'static str {
        "s3://my-bucket/prefix"
    }

    fn open(&self, source: &str, options: &SourceOptions) -> Result<Arc<dyn Provider>> {
        self.open_with_env(source, options, &|name| std::env::var(name).ok())
    }
}

impl S3Factory {
    /// Like `open`, reading `AWS_*` variables (and `HOME`) through `env` instead of the
    /// process environment, for programs that embed Sortie and for tests.
    pub fn open_with_env(
        &self,
        source: &str,
        options: &SourceOptions,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Arc<dyn Provider>> {
        let url = source::parse(source)?;
        let settings = settings::resolve(options, env)?;
        let client = Arc::new(Client::new(settings)?.with_retry(options.retry));
        Ok(Arc::new(S3Provider::new(client, url, options)))
    }
}

pub struct S3Provider {
    client: Arc<Client>,
    url: S3Url,
    current_only: bool,
    skip_archived: bool,
    allow_missing_metadata: bool,
    /// Configuration documents read while listing, served by `open` without a second
    /// request (a few kilobytes per bucket).
    configs: Mutex<HashMap<String, Bytes>>,
    extras: Extras,
}

impl S3Provider {
    fn new(client: Arc<Client>, url: S3Url, options: &SourceOptions) -> Self {
        Self {
            client,
            url,
            current_only: options.current_only,
            skip_archived: options.skip_archived,
            allow_missing_metadata: options.allow_missing_metadata,
            configs: Mutex::new(HashMap::new()),
            extras: Extras::new(options.allow_missing_metadata),
        }
    }

    fn bucket(&self) -> Result<&str> {
        self.url.bucket.as_deref().ok_or_else(|| {
            Error::new(ErrorKind::Other, "s3:// stands for every bucket and is listed through its buckets")
        })
    }

    async fn list_buckets(&self) -> Result<Vec<String>> {
        let mut names = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let query = token.take().map(|t| ("continuation-token", t)).into_iter().collect();
            let request = Request { query, ..Default::default() };
            let result: ListAllMyBucketsResult = self.client.get_document(&request, "ListBuckets").await?;
            names.extend(result.buckets.bucket.into_iter().map(|b| b.name));
            match result.continuation_token {
                Some(next) if !next.is_empty() => token = Some(next),
                _ => return Ok(names),
            }
        }
    }
}

#[async_trait]
impl Provider for S3Provider {
    fn source_id(&self) -> String {
        match &self.url.bucket {
            Some(bucket) => format!("s3-{bucket}"),
            None => "s3".to_owned(),
        }
    }

    /// With the endpoint, so that an archive says which provider its buckets came from.
    fn display_url(&self) -> String {
        let url = match &self.url.bucket {
            Some(bucket) if self.url.prefix.is_empty() => format!("s3://{bucket}"),
            Some(bucket) => format!("s3://{bucket}/{}", self.url.prefix),
            None => "s3://".to_owned(),
        };
        format!("{url} at {}", self.client.endpoint_display())
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities { flat_namespace: true, local: false }
    }

    async fn check(&self) -> Result<()> {
        match &self.url.bucket {
            None => self.client.send(&Request::default()).await.map(drop),
            Some(bucket) => {
                let query = vec![("list-type", "2".to_owned()), ("max-keys", "1".to_owned())];
                self.client.send(&Request { bucket: Some(bucket), query, ..Default::default() }).await.map(drop)
            }
        }
    }

    async fn expand(&self) -> Result<Option<Vec<Arc<dyn Provider>>>> {
        if self.url.bucket.is_some() {
            return Ok(None);
        }
        let buckets = self.list_buckets().await?;
        Ok(Some(
            buckets
                .into_iter()
                .map(|bucket| {
                    let url = S3Url { bucket: Some(bucket), prefix: String::new() };
                    let options = SourceOptions {
                        current_only: self.current_only,
                        skip_archived: self.skip_archived,
                        allow_missing_metadata: self.allow_missing_metadata,
                        ..SourceOptions::default()
                    };
                    Arc::new(S3Provider::new(self.client.clone(), url, &options)) as Arc<dyn Provider>
                })
                .collect(),
        ))
    }

    async fn list_page(&self, cursor: Option<String>) -> Result<Page> {
        let bucket = self.bucket()?;
        let lister =
            Lister { client: &self.client, bucket, prefix: &self.url.prefix, skip_archived: self.skip_archived };
        match cursor.as_deref().map(Cursor::decode).transpose()? {
            None => {
                let config = bucket_config::fetch(&self.client, bucket).await?;
                self.configs.lock().expect("config cache").extend(config.bodies);
                let next = if config.versioned && !self.current_only {
                    Cursor::Versions { key_marker: None, version_marker: None }
                } else {
                    Cursor::Objects { token: None }
                };
                Ok(Page { items: config.items, next: Some(next.encode()) })
            }
            Some(Cursor::Objects { token }) => lister.objects(token).await,
            Some(Cursor::Versions { key_marker, version_marker }) => lister.versions(key_marker, version_marker).await,
        }
    }

    async fn open(&self, item: &Item) -> Result<Body> {
        if item.area == Area::Config {
            let file = item.segments.first().map(|s| s.display()).unwrap_or_default();
            let bytes = self.configs.lock().expect("config cache").get(&file).cloned().ok_or_else(|| {
                Error::new(ErrorKind::Other, format!("configuration document {file} was not read while listing"))
            })?;
            return Ok(Body::from_bytes(bytes, None));
        }
        object::open(&self.client, self.bucket()?, item, &self.extras).await
    }
}
