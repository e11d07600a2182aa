//! The three kinds of source, each opened from its description alone: one container
//! (`swift://CONTAINER`), an account's description (the `swift://` part that holds
//! `account.json`) and a project's services (the `openstack://` part). They delegate to
//! `lister`, `reader` and `services`.

use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use bytes::Bytes;
use reqwest::header::HeaderMap;
use sortie_sdk::error::{Error, ErrorKind, Result};
use sortie_sdk::item::Item;
use sortie_sdk::provider::{Body, Capabilities, Page, Provider};

use crate::client::{Client, Request};
use crate::headers::description;
use crate::large_objects::{SegmentRefs, owner_refs};
use crate::lister::{self, Lister};
use crate::reader;
use crate::services::Services;
use crate::settings::SourceSettings;

/// The HEAD of a container, or of the account (`None`).
pub async fn head(client: &Client, container: Option<&str>) -> Result<HeaderMap> {
    let request = Request { head: true, container, ..Request::default() };
    let headers = client.send(&request).await.map(|response| response.headers().clone());
    headers.map_err(|e| match (e.kind(), container) {
        (ErrorKind::NotFound, Some(container)) => Error::new(
            ErrorKind::NotFound,
            format!("container '{container}' does not exist in this project (`sortie inventory swift://` lists them)"),
        ),
        _ => e,
    })
}

/// One container.
pub struct ContainerProvider {
    client: Arc<Client>,
    /// The account URL the source was resolved for (` at …`), checked by `check`.
    account: Option<String>,
    container: String,
    prefix: String,
    settings: SourceSettings,
    /// Read by `check`.
    state: OnceLock<ContainerState>,
    /// The objects of this container its owner's large objects use, found at the first
    /// listing page that needs them (`segments_of`).
    owned: tokio::sync::OnceCell<SegmentRefs>,
}

struct ContainerState {
    description: Bytes,
    /// The container keeps versions (`X-Versions-Enabled`): list them with `?versions`.
    versioned: bool,
}

impl ContainerProvider {
    pub fn new(
        client: Arc<Client>,
        account: Option<String>,
        container: String,
        prefix: String,
        settings: SourceSettings,
    ) -> Self {
        let (state, owned) = (OnceLock::new(), tokio::sync::OnceCell::new());
        Self { client, account, container, prefix, settings, state, owned }
    }

    fn state(&self) -> Result<&ContainerState> {
        self.state.get().ok_or_else(|| Error::new(ErrorKind::Other, "the container was not checked before use"))
    }

    /// The segments to leave out: those of `segments_of`'s large objects older than the
    /// resolution (see `large_objects`), unless every segment is asked for.
    async fn owned(&self) -> Result<Option<&SegmentRefs>> {
        let settings = &self.settings;
        let (Some(owner), Some(before), false) =
            (&settings.segments_of, settings.resolved_at, settings.include_segments)
        else {
            return Ok(None);
        };
        let refs = self.owned.get_or_try_init(|| {
            owner_refs(&self.client, owner, &self.container, settings.current_only, settings.page_size, before)
        });
        refs.await.map(Some)
    }
}

#[async_trait]
impl Provider for ContainerProvider {
    fn capabilities(&self) -> Capabilities {
        // A cursor is a marker (an object name): any process may list from it again.
        Capabilities::default().with_flat_namespace().with_resumable_cursors().with_ranged_reads()
    }

    fn account(&self) -> Option<String> {
        self.client.identity()
    }

    async fn check(&self) -> Result<()> {
        if self.state.get().is_some() {
            return Ok(());
        }
        self.client.check_account(self.account.as_deref()).await?;
        let headers = head(&self.client, Some(&self.container)).await?;
        let versioned = headers
            .get("x-versions-enabled")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let description = description(&headers, "container", &self.container).into();
        let _ = self.state.set(ContainerState { description, versioned });
        Ok(())
    }

    async fn list_page(&self, cursor: Option<String>) -> Result<Page> {
        let state = self.state()?;
        let lister = Lister {
            client: &self.client,
            container: &self.container,
            prefix: &self.prefix,
            page_size: self.settings.page_size,
            versions: state.versioned && !self.settings.current_only,
            description: &state.description,
            owned: self.owned().await?,
        };
        lister.page(cursor).await
    }

    async fn open(&self, item: &Item) -> Result<Body> {
        reader::open(&self.client, &self.container, item).await
    }

    async fn open_range(&self, item: &Item, range: std::ops::Range<u64>, validator: Option<&str>) -> Result<Body> {
        reader::open_range(&self.client, &self.container, item, range, validator).await
    }
}

/// The account's description as a source of its own (`data/swift/_config/account.json`).
pub struct AccountProvider {
    client: Arc<Client>,
    /// The account URL the source was resolved for, checked by `check`.
    account: Option<String>,
    /// Read by `check`.
    description: OnceLock<Bytes>,
}

impl AccountProvider {
    pub fn new(client: Arc<Client>, account: Option<String>) -> Self {
        Self { client, account, description: OnceLock::new() }
    }
}

#[async_trait]
impl Provider for AccountProvider {
    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
    }

    fn account(&self) -> Option<String> {
        self.client.identity()
    }

    async fn check(&self) -> Result<()> {
        self.client.check_account(self.account.as_deref()).await?;
        let headers = head(&self.client, None).await?;
        let url = sortie_http::redact_userinfo(&self.client.storage_url().await?);
        let _ = self.description.set(description(&headers, "account", &url).into());
        Ok(())
    }

    async fn list_page(&self, _cursor: Option<String>) -> Result<Page> {
        let description =
            self.description.get().ok_or_else(|| Error::new(ErrorKind::Other, "the account was not checked"))?;
        Ok(lister::account_page(description))
    }

    /// Its one item, the account's description, is listed with its bytes.
    async fn open(&self, item: &Item) -> Result<Body> {
        Err(Error::new(ErrorKind::NotFound, format!("the account has no item {} to open", item.id.display())))
    }
}

/// The project's services (`data/openstack/…`).
pub struct ServicesProvider {
    services: Services,
    client: Arc<Client>,
    /// The account (or project) URL the source was resolved for, checked by `check`.
    account: Option<String>,
}

impl ServicesProvider {
    pub fn new(client: Arc<Client>, account: Option<String>, include_volume_data: bool) -> Self {
        Self { services: Services::new(client.clone(), include_volume_data), client, account }
    }
}

#[async_trait]
impl Provider for ServicesProvider {
    fn capabilities(&self) -> Capabilities {
        // Image data is read in ranges; a volume's data says it is read whole.
        Capabilities::default().with_ranged_reads()
    }

    fn account(&self) -> Option<String> {
        self.client.identity()
    }

    async fn check(&self) -> Result<()> {
        self.services.check().await?;
        self.client.check_account(self.account.as_deref()).await
    }

    async fn list_page(&self, cursor: Option<String>) -> Result<Page> {
        self.services.page(cursor).await
    }

    async fn open(&self, item: &Item) -> Result<Body> {
        self.services.open(item).await
    }

    async fn open_range(&self, item: &Item, range: std::ops::Range<u64>, _validator: Option<&str>) -> Result<Body> {
        self.services.open_range(item, range).await
    }
}
