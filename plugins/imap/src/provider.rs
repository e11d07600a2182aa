//! One IMAP account (or one folder of it) as a [`Provider`].

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::json;
use sortie_sdk::Result;
use sortie_sdk::item::{Item, RawName};
use sortie_sdk::provider::{Body, Capabilities, Page, Provider};

use crate::client::names;
use crate::error::imap_error;
use crate::lister::{self, Cursor, Extensions};
use crate::mailbox::{self, MailboxInfo, document_item};
use crate::pool::{Lease, Pool};
use crate::reader;

/// An account, opened by [`crate::ImapFactory`].
pub struct ImapProvider {
    pool: Arc<Pool>,
    folder: Option<String>,
    max_connections: usize,
}

impl ImapProvider {
    pub fn new(pool: Pool, folder: Option<String>, max_connections: usize) -> Self {
        Self { pool: Arc::new(pool), folder, max_connections }
    }

    /// The mailboxes, and what the server offers.
    async fn survey(&self, lease: &mut Lease) -> Result<(Vec<MailboxInfo>, Extensions, Vec<String>)> {
        let address = lease.address();
        let capabilities =
            lease.conn.session.capabilities().await.map_err(|e| imap_error("CAPABILITY", &address, e))?;
        let extensions =
            Extensions { modseq: capabilities.has_str("CONDSTORE"), gmail: capabilities.has_str("X-GM-EXT-1") };
        let mailboxes = mailbox::list(lease, self.folder.as_deref()).await?;
        Ok((mailboxes, extensions, names(&capabilities)))
    }
}

#[async_trait]
impl Provider for ImapProvider {
    fn capabilities(&self) -> Capabilities {
        Capabilities::default().with_max_concurrency(self.max_connections)
    }

    fn account(&self) -> Option<String> {
        Some(self.pool.connector.account())
    }

    async fn check(&self) -> Result<()> {
        let mut lease = self.pool.get().await?;
        self.survey(&mut lease).await?;
        lease.done();
        Ok(())
    }

    async fn list_page(&self, cursor: Option<String>) -> Result<Page> {
        let mut lease = self.pool.get().await?;
        let (mailboxes, extensions, capabilities) = self.survey(&mut lease).await?;
        let selectable = || mailboxes.iter().filter(|m| m.selectable());
        let page = match cursor.as_deref().map(Cursor::decode).transpose()? {
            None => {
                let account = json!({
                    "server": lease.address(),
                    "capabilities": capabilities,
                    "mailboxes": mailboxes.iter().map(|m| &m.name).collect::<Vec<_>>(),
                });
                let mut items: Vec<Item> =
                    vec![document_item("account".into(), vec![RawName::text("account.json")], &account)];
                items.extend(mailbox::config_items(&mut lease, &mailboxes, extensions.modseq).await?);
                Page::new(items, selectable().next().map(|m| Cursor::start(m).encode()))
            }
            Some(cursor) => {
                let current = selectable().find(|m| m.raw == cursor.mailbox).cloned().unwrap_or_else(|| {
                    let mut gone = MailboxInfo {
                        name: crate::mutf7::decode(&cursor.mailbox).unwrap_or_else(|| cursor.mailbox.clone()),
                        raw: cursor.mailbox.clone(),
                        delimiter: mailboxes.first().and_then(|m| m.delimiter.clone()),
                        attributes: Vec::new(),
                        subscribed: false,
                        path: Vec::new(),
                    };
                    gone.path = gone.natural_path();
                    gone
                });
                let (items, next) = lister::messages(&mut lease, &current, &cursor, extensions).await?;
                let next = next.or_else(|| selectable().find(|m| m.raw > cursor.mailbox).map(Cursor::start));
                Page::new(items, next.map(|c| c.encode()))
            }
        };
        lease.done();
        Ok(page)
    }

    async fn open(&self, item: &Item) -> Result<Body> {
        reader::open(&self.pool, item).await
    }
}
