//! One section of the API as a source (`ovh://domains`…), delegating to `lister` and
//! `reader`.

use std::sync::Arc;

use async_trait::async_trait;
use sortie_sdk::item::Item;
use sortie_sdk::provider::{Body, Capabilities, Page, Provider};
use sortie_sdk::{Error, ErrorKind, Result};

use crate::client::Client;
use crate::lister::Lister;
use crate::reader;
use crate::sections::Section;

pub struct OvhProvider {
    pub client: Arc<Client>,
    pub section: &'static Section,
}

#[async_trait]
impl Provider for OvhProvider {
    fn capabilities(&self) -> Capabilities {
        // Records come inline with the listing; only linked documents are opened, and a
        // few at once are plenty for an account's PDFs.
        Capabilities::default().with_max_concurrency(4)
    }

    /// The credentials work and may read the account (`GET /me`): without it nothing an
    /// export needs is granted. Asked once per set of credentials and process.
    async fn check(&self) -> Result<()> {
        self.client
            .checked
            .get_or_try_init(|| async {
                let me = self.client.get("/me").await;
                me.map(|(_, me)| me["nichandle"].as_str().map(str::to_owned)).map_err(|error| match error.kind() {
                    ErrorKind::PermissionDenied => Error::new(
                        ErrorKind::PermissionDenied,
                        format!(
                            "{error}: nothing can be exported without reading the account (/me); ask for a consumer \
                             key with the rights an export needs: `sortie ovh credential`"
                        ),
                    ),
                    _ => error,
                })
            })
            .await
            .map(drop)
    }

    /// The account's NIC handle, as `/me` gave it to `check`.
    fn account(&self) -> Option<String> {
        self.client.checked.get().cloned().flatten().map(|nic| format!("nichandle {nic}"))
    }

    async fn list_page(&self, cursor: Option<String>) -> Result<Page> {
        let (transfer_codes, fresh_dumps) = (self.client.settings.transfer_codes, self.client.settings.fresh_dumps);
        Lister { client: &self.client, section: self.section, transfer_codes, fresh_dumps }.page(cursor).await
    }

    async fn open(&self, item: &Item) -> Result<Body> {
        reader::open(&self.client, item).await
    }
}
