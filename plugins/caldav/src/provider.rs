//! One account's calendars or address books (or one collection) as a [`Provider`]:
//! discovery at `check`, then the listing of `lister` and the GETs of `reader`.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use sortie_sdk::item::Item;
use sortie_sdk::provider::{Body, Capabilities, Page, Provider};
use sortie_sdk::{Error, ErrorKind, Result};
use tokio::sync::OnceCell;

use crate::client::Client;
use crate::discovery::{self, Discovery};
use crate::flavor::Flavor;
use crate::lister::{self, Cursor, Member};
use crate::reader;

/// At most this many requests to one DAV server at once: small servers (Radicale) serve
/// one user's requests one by one anyway.
const MAX_CONCURRENCY: usize = 4;

/// The collections found from one URL.
pub struct DavProvider {
    client: Client,
    flavor: Flavor,
    /// The URL's path, where discovery starts.
    path: String,
    discovery: OnceCell<Arc<Discovery>>,
    /// The membership of the collection being listed, so that its pages do not each read it
    /// again (a page asked for by another process reads it itself).
    members: Mutex<Option<(String, Arc<Vec<Member>>)>>,
}

impl DavProvider {
    pub fn new(client: Client, flavor: Flavor, path: String) -> Self {
        Self { client, flavor, path, discovery: OnceCell::new(), members: Mutex::new(None) }
    }

    async fn discovery(&self) -> Result<&Arc<Discovery>> {
        self.discovery
            .get_or_try_init(|| async {
                discovery::discover(&self.client, self.flavor, &self.path).await.map(Arc::new)
            })
            .await
    }

    /// The members of the collection at `href`, from the cache or the server.
    async fn members(&self, collection: &discovery::Collection) -> Result<Option<Arc<Vec<Member>>>> {
        if let Some((href, members)) = self.members.lock().expect("not poisoned").as_ref()
            && *href == collection.href
        {
            return Ok(Some(members.clone()));
        }
        let Some(members) = lister::members(&self.client, self.flavor, collection).await?.map(Arc::new) else {
            return Ok(None);
        };
        *self.members.lock().expect("not poisoned") = Some((collection.href.clone(), members.clone()));
        Ok(Some(members))
    }
}

#[async_trait]
impl Provider for DavProvider {
    fn capabilities(&self) -> Capabilities {
        Capabilities::default().with_max_concurrency(MAX_CONCURRENCY)
    }

    fn account(&self) -> Option<String> {
        Some(self.client.account())
    }

    async fn check(&self) -> Result<()> {
        self.discovery().await.map(drop)
    }

    async fn list_page(&self, cursor: Option<String>) -> Result<Page> {
        let discovery = self.discovery().await?;
        let Some(cursor) = cursor.as_deref().map(Cursor::decode).transpose()? else {
            return Ok(lister::descriptions(discovery, self.flavor));
        };
        let collections = &discovery.collections;
        let collection = collections.get(cursor.collection).ok_or_else(|| {
            Error::new(ErrorKind::InvalidInput, "the cursor names a collection the server no longer lists")
        })?;
        let last = cursor.collection + 1 == collections.len();
        let Some(members) = self.members(collection).await? else {
            let next = (!last).then_some(Cursor { collection: cursor.collection + 1, offset: 0 });
            return Ok(lister::deleted(self.flavor, collection, next));
        };
        lister::page(&self.client, self.flavor, collection, cursor.collection, &members, cursor.offset, last).await
    }

    async fn open(&self, item: &Item) -> Result<Body> {
        reader::open(&self.client, item).await
    }
}
