//! One bucket (or the keys under a prefix of it) as a [`Provider`]: its configuration
//! documents first, then its objects, or every version and delete marker of a versioned
//! bucket.

use async_trait::async_trait;
use sortie_sdk::item::{Area, Item};
use sortie_sdk::provider::{Body, Capabilities, Page, Provider};
use sortie_sdk::{Error, ErrorKind, Result};

use crate::bucket_config;
use crate::client::{Client, Request};
use crate::lister::{Cursor, Lister};
use crate::reader::{self, Support};
use crate::settings::S3Settings;

/// One bucket, opened by [`crate::S3Factory`].
#[derive(Debug)]
pub struct S3Provider {
    client: Client,
    bucket: String,
    /// Only keys starting with this (may be empty).
    prefix: String,
    current_only: bool,
    skip_archived: bool,
    allow_missing_metadata: bool,
    support: Support,
}

impl S3Provider {
    pub fn new(client: Client, bucket: String, prefix: String, settings: &S3Settings) -> Self {
        Self {
            client,
            bucket,
            prefix,
            current_only: settings.current_only,
            skip_archived: settings.skip_archived,
            allow_missing_metadata: settings.allow_missing_metadata,
            support: Support::default(),
        }
    }
}

#[async_trait]
impl Provider for S3Provider {
    fn capabilities(&self) -> Capabilities {
        // Continuation tokens and markers are the server's and the keys': any process may
        // send them again.
        Capabilities::default().with_flat_namespace().with_resumable_cursors().with_ranged_reads()
    }

    fn account(&self) -> Option<String> {
        Some(self.client.account())
    }

    async fn check(&self) -> Result<()> {
        let query = vec![("list-type", "2".to_owned()), ("max-keys", "1".to_owned())];
        self.client.send(&Request { bucket: Some(&self.bucket), query, ..Default::default() }).await.map(drop)
    }

    async fn list_page(&self, cursor: Option<String>) -> Result<Page> {
        let lister = Lister {
            client: &self.client,
            bucket: &self.bucket,
            prefix: &self.prefix,
            skip_archived: self.skip_archived,
        };
        match cursor.as_deref().map(Cursor::decode).transpose()? {
            None => {
                let config = bucket_config::fetch(&self.client, &self.bucket).await?;
                let next = if config.versioned && !self.current_only {
                    Cursor::Versions { key_marker: None, version_marker: None }
                } else {
                    Cursor::Objects { token: None }
                };
                Ok(Page::new(config.items, Some(next.encode())))
            }
            Some(Cursor::Objects { token }) => lister.objects(token).await,
            Some(Cursor::Versions { key_marker, version_marker }) => lister.versions(key_marker, version_marker).await,
        }
    }

    async fn open(&self, item: &Item) -> Result<Body> {
        if item.area == Area::Config {
            return bucket_config::read(&self.client, &self.bucket, item).await;
        }
        reader::open(&self.client, &self.bucket, item, &self.support, self.allow_missing_metadata).await
    }

    async fn open_range(&self, item: &Item, range: std::ops::Range<u64>, validator: Option<&str>) -> Result<Body> {
        if item.area == Area::Config {
            return Err(Error::new(ErrorKind::Unsupported, "a bucket's configuration document is read whole"));
        }
        reader::open_range(&self.client, &self.bucket, item, range, validator).await
    }
}
