//! The sessions of one account, at most `max_connections` at once, kept open between
//! requests with the mailbox they have selected.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use async_imap::types::{Fetch, Mailbox};
use futures_util::TryStreamExt;
use sortie_sdk::Result;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::client::{COMMAND_TIMEOUT, Connector, Session, within};
use crate::error::imap_error;

/// An idle session and the mailbox it has open (read-only, with `EXAMINE`).
pub struct Conn {
    pub session: Session,
    selected: Option<(String, Option<u32>)>,
}

/// The account's sessions.
pub struct Pool {
    pub connector: Connector,
    permits: Arc<Semaphore>,
    idle: Mutex<Vec<Conn>>,
}

/// A session lent out: handed back with [`Lease::done`] after a request that went well;
/// dropped otherwise, which closes it (its state after a failure is not known).
pub struct Lease {
    pub conn: Conn,
    pool: Arc<Pool>,
    _permit: OwnedSemaphorePermit,
}

impl Pool {
    pub fn new(connector: Connector, max_connections: usize) -> Self {
        Self { connector, permits: Arc::new(Semaphore::new(max_connections)), idle: Mutex::new(Vec::new()) }
    }

    /// A session: an idle one, or a new one once fewer than the maximum are open.
    pub async fn get(self: &Arc<Self>) -> Result<Lease> {
        let permit = self.permits.clone().acquire_owned().await.expect("the pool's semaphore is never closed");
        let idle = self.idle.lock().expect("idle sessions").pop();
        let conn = match idle {
            Some(conn) => conn,
            None => Conn { session: self.connector.connect().await?, selected: None },
        };
        Ok(Lease { conn, pool: self.clone(), _permit: permit })
    }
}

impl Lease {
    /// Hands the session back for the next request.
    pub fn done(self) {
        self.pool.idle.lock().expect("idle sessions").push(self.conn);
    }

    /// Opens `mailbox` read-only (`EXAMINE`, which changes no flag), even if it is open
    /// already, so that its UIDVALIDITY and UIDNEXT are current.
    pub async fn examine(&mut self, mailbox: &str) -> Result<Mailbox> {
        let address = self.pool.connector.url.address();
        self.conn.selected = None;
        let session = &mut self.conn.session;
        let status = within("EXAMINE", &address, COMMAND_TIMEOUT, async {
            session
                .examine(mailbox)
                .await
                .map_err(|e| imap_error(&format!("cannot open mailbox '{mailbox}'"), &address, e))
        })
        .await?;
        self.conn.selected = Some((mailbox.to_owned(), status.uid_validity));
        Ok(status)
    }

    /// Opens `mailbox` unless it is the open one; its UIDVALIDITY.
    pub async fn select(&mut self, mailbox: &str) -> Result<Option<u32>> {
        if let Some((name, validity)) = &self.conn.selected
            && name == mailbox
        {
            return Ok(*validity);
        }
        Ok(self.examine(mailbox).await?.uid_validity)
    }

    /// The server's address, for messages.
    pub fn address(&self) -> String {
        self.pool.connector.url.address()
    }
}

impl Lease {
    /// `UID FETCH set query`, the answers `wanted` accepts (given their UID) collected, each
    /// UID once: a server that answers for UIDs it was not asked, twice for one, or with
    /// more bytes than it announced, never puts two items at one path nor grows memory
    /// beyond what was asked, as the answers left out are dropped while they stream. The library ends the
    /// answers at the tagged reply or at a clean end of the connection alike, so an empty or
    /// short answer is confirmed with a `NOOP`: a connection that is gone fails it
    /// (temporary), instead of passing for messages that do not exist.
    pub async fn uid_fetch(
        &mut self,
        what: &str,
        set: &str,
        query: &str,
        wanted: impl Fn(u32, &Fetch) -> bool,
    ) -> Result<Vec<Fetch>> {
        let address = self.address();
        let session = &mut self.conn.session;
        within(what, &address, COMMAND_TIMEOUT, async {
            let mut seen = BTreeSet::new();
            let fetches: Vec<Fetch> = session
                .uid_fetch(set, query)
                .await
                .map_err(|e| imap_error(what, &address, e))?
                .try_filter(|f| {
                    let keep = f.uid.is_some_and(|uid| wanted(uid, f) && seen.insert(uid));
                    std::future::ready(keep)
                })
                .try_collect()
                .await
                .map_err(|e| imap_error(what, &address, e))?;
            session.noop().await.map_err(|e| imap_error(what, &address, e))?;
            Ok(fetches)
        })
        .await
    }
}
