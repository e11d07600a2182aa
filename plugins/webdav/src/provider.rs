//! One collection of a DAV server as a [`Provider`]: its tree listed level by level, each
//! file read with a GET.

use std::sync::Arc;

use async_trait::async_trait;
use reqwest::Url;
use sortie_http::dav::{self, DAV, PropName};
use sortie_sdk::item::Item;
use sortie_sdk::provider::{Body, Capabilities, Page, Provider};
use sortie_sdk::{Error, ErrorKind, Result};
use tokio::sync::Mutex;

use crate::client::{Client, Spool};
use crate::lister::{self, Cursor, NEXTCLOUD_PROPERTIES, PAGE};
use crate::reader;
use crate::settings::DavSettings;
use crate::source::Flavor;

/// One collection, opened by a factory of [`crate::source`].
#[derive(Debug)]
pub struct DavProvider {
    client: Client,
    flavor: Flavor,
    depth_infinity: bool,
    connections: Option<usize>,
    /// The last directory listing, kept for the next page of a directory larger than a page.
    last: Mutex<Option<Arc<Spool>>>,
}

impl DavProvider {
    pub fn new(client: Client, flavor: Flavor, settings: &DavSettings) -> Self {
        Self {
            client,
            flavor,
            depth_infinity: settings.depth_infinity,
            connections: settings.connections,
            last: Mutex::new(None),
        }
    }

    fn propfind_body(&self) -> String {
        match self.flavor {
            Flavor::Nextcloud => dav::propfind_allprop_body(NEXTCLOUD_PROPERTIES),
            Flavor::WebDav | Flavor::WebDavs => dav::propfind_allprop_body(&[]),
        }
    }

    /// The listing of `dir`: the one kept when `skip` says it is being read page by page.
    async fn listing(&self, dir: &Url, skip: usize) -> Result<Arc<Spool>> {
        let mut last = self.last.lock().await;
        if let Some(spool) = last.as_ref().filter(|s| skip > 0 && s.url == *dir) {
            return Ok(spool.clone());
        }
        let depth = if self.depth_infinity { "infinity" } else { "1" };
        let what = format!("the collection {}", dir.path());
        let spool = Arc::new(self.client.propfind(dir, depth, self.propfind_body(), &what).await?);
        *last = Some(spool.clone());
        Ok(spool)
    }
}

#[async_trait]
impl Provider for DavProvider {
    fn capabilities(&self) -> Capabilities {
        let capabilities = Capabilities::default().with_ranged_reads();
        match self.connections {
            Some(limit) => capabilities.with_max_concurrency(limit),
            None => capabilities,
        }
    }

    fn account(&self) -> Option<String> {
        Some(self.client.account.clone())
    }

    async fn check(&self) -> Result<()> {
        let root = &self.client.root;
        let what = format!("the collection {}", root.path());
        let body = dav::propfind_body(&[PropName::new(DAV, "resourcetype")]);
        let spool = self.client.propfind(root, "0", body, &what).await?;
        let collection = tokio::task::spawn_blocking(move || {
            let mut first = None;
            spool.parse(|response| {
                first.get_or_insert(response.is_collection());
                Ok(())
            })?;
            Ok::<_, Error>(first)
        })
        .await
        .map_err(|e| Error::new(ErrorKind::Other, format!("the check of a listing failed: {e}")))??;
        match collection {
            Some(true) => Ok(()),
            _ => Err(Error::new(
                ErrorKind::InvalidInput,
                format!("{root} is a file, not a collection: give the URL of the folder that holds what to export"),
            )),
        }
    }

    async fn list_page(&self, cursor: Option<String>) -> Result<Page> {
        let mut cursor = match cursor {
            None => Cursor { dirs: vec![self.client.root.to_string()], skip: 0 },
            Some(text) => Cursor::decode(&text)?,
        };
        let Some(dir) = cursor.dirs.last() else {
            return Ok(Page::new(Vec::new(), None));
        };
        let dir = Url::parse(dir).map_err(|e| Error::new(ErrorKind::InvalidInput, format!("a bad cursor URL: {e}")))?;
        let spool = match self.listing(&dir, cursor.skip).await {
            Ok(spool) => spool,
            Err(error) if error.kind() == ErrorKind::NotFound && dir != self.client.root => {
                cursor.dirs.pop();
                cursor.skip = 0;
                let next = (!cursor.dirs.is_empty()).then(|| cursor.encode());
                return Ok(Page::new(vec![lister::vanished(&self.client.root, &dir)], next));
            }
            Err(error) => return Err(error),
        };
        let root = self.client.root.clone();
        let (skip, descend) = (cursor.skip, !self.depth_infinity);
        let page = tokio::task::spawn_blocking(move || {
            lister::dir_page(|on_response| spool.parse(on_response), &root, &dir, skip, descend)
        })
        .await
        .map_err(|e| Error::new(ErrorKind::Other, format!("the parse of a listing failed: {e}")))??;
        if page.members > skip + PAGE {
            cursor.skip += PAGE;
        } else {
            cursor.dirs.pop();
            cursor.skip = 0;
            cursor.dirs.extend(page.subdirs.into_iter().rev());
        }
        let next = (!cursor.dirs.is_empty()).then(|| cursor.encode());
        Ok(Page::new(page.items, next))
    }

    async fn open(&self, item: &Item) -> Result<Body> {
        reader::open(&self.client, item).await
    }

    async fn open_range(&self, item: &Item, range: std::ops::Range<u64>, validator: Option<&str>) -> Result<Body> {
        reader::open_range(&self.client, item, range, validator).await
    }
}
