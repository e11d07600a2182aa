//! The provider: checks, lists and opens one remote directory tree.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use sortie_sdk::item::Item;
use sortie_sdk::provider::{Body, Capabilities, Page, Provider};
use sortie_sdk::{Error, ErrorKind, Result};

use crate::client::Pool;
use crate::lister::{Lister, path_of};
use crate::settings::SftpSettings;

/// A directory tree on an SFTP server.
pub struct SftpProvider {
    settings: Arc<SftpSettings>,
    pool: Arc<Pool>,
    /// The walk of the last page, kept so that the next page does not walk again from
    /// the root (another process resumes from the cursor alone).
    lister: Mutex<Option<Lister>>,
}

impl SftpProvider {
    pub(crate) fn new(settings: SftpSettings) -> Self {
        let settings = Arc::new(settings);
        Self { pool: Pool::new(settings.clone()), settings, lister: Mutex::new(None) }
    }

    fn shown(&self) -> String {
        self.settings.target.url()
    }
}

#[async_trait]
impl Provider for SftpProvider {
    fn capabilities(&self) -> Capabilities {
        Capabilities::default().with_max_concurrency(self.settings.connections)
    }

    async fn check(&self) -> Result<()> {
        let root = path_of(&self.settings.target.path, &[]);
        let shown = self.shown();
        self.pool
            .run(move |connection| {
                let stat = connection.sftp.stat(&root).map_err(|e| match crate::error::ssh("", &e).kind() {
                    ErrorKind::NotFound => {
                        Error::new(ErrorKind::NotFound, format!("{shown} does not exist on the server: check the path"))
                    }
                    _ => crate::error::ssh(format!("cannot read {shown}"), &e),
                })?;
                if !stat.is_dir() {
                    return Err(Error::new(
                        ErrorKind::InvalidInput,
                        format!("{shown} is not a directory: give the directory that holds the files"),
                    ));
                }
                Ok(())
            })
            .await
    }

    async fn list_page(&self, cursor: Option<String>) -> Result<Page> {
        let held = self.lister.lock().expect("lister lock").take();
        let mut lister = match held {
            Some(lister) if lister.resumes(cursor.as_deref()) => lister,
            _ => Lister::start(self.settings.target.path.clone(), cursor.as_deref())?,
        };
        let (lister, page) = self
            .pool
            .run(move |connection| {
                let page = lister.next_page(connection)?;
                Ok((lister, page))
            })
            .await?;
        if page.next.is_some() {
            *self.lister.lock().expect("lister lock") = Some(lister);
        }
        Ok(page)
    }

    async fn open(&self, item: &Item) -> Result<Body> {
        let segments: Vec<Vec<u8>> = item.segments.iter().map(|s| s.0.clone()).collect();
        crate::reader::open(&self.pool, path_of(&self.settings.target.path, &segments)).await
    }
}
