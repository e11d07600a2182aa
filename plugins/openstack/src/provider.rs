//! The `swift` scheme: one provider per container; `swift://` stands for the whole account
//! and expands into its description and one source per container.

use std::sync::{Arc, Mutex, OnceLock};

use async_trait::async_trait;
use bytes::Bytes;
use reqwest::header::HeaderMap;
use serde::Deserialize;
use sortie_core::error::{Error, ErrorKind, Result};
use sortie_core::item::{Area, Item, Kind, RawName};
use sortie_core::provider::{Body, Capabilities, Page, Provider};
use sortie_core::registry::{ProviderFactory, SourceOptions};

use crate::client::{Client, Request};
use crate::large_objects::SegmentRefs;
use crate::listing::{Lister, MANIFESTS, Manifests, manifest_key};
use crate::object;
use crate::services::ServicesSource;
use crate::settings;
use crate::source::{self, SwiftUrl};

/// Swift's own maximum for `limit`.
const MAX_PAGE: u32 = 10_000;
/// The account's description, in the account's own source.
const ACCOUNT_DOC: &str = "account.json";

/// Registers `swift://`.
pub struct SwiftFactory;

/// Registers `openstack://`, the whole project: Swift as `swift://`, Glance images and the
/// records of the other services.
pub struct OpenStackFactory;

impl ProviderFactory for OpenStackFactory {
    fn scheme(&self) -> &'static str {
        "openstack"
    }

    fn description(&self) -> &'static str {
        "a whole OpenStack project: Swift as swift://, Glance images with their data, and JSON records of Nova, \
         Cinder, Neutron and Designate resources"
    }

    fn example(&self) -> &'static str {
        "openstack://"
    }

    fn open(&self, source: &str, options: &SourceOptions) -> Result<Arc<dyn Provider>> {
        SwiftFactory.open_with_env(source, options, &|name| std::env::var(name).ok())
    }
}

impl ProviderFactory for SwiftFactory {
    fn scheme(&self) -> &'static str {
        "swift"
    }

    fn description(&self) -> &'static str {
        "OpenStack Swift (Keystone v3 or tempauth): objects, large objects checked per segment, versions, \
         container and account metadata"
    }

    fn example(&self) -> &'static str {
        "swift://my-container/prefix"
    }

    fn open(&self, source: &str, options: &SourceOptions) -> Result<Arc<dyn Provider>> {
        self.open_with_env(source, options, &|name| std::env::var(name).ok())
    }
}

impl SwiftFactory {
    /// Like `open`, reading `OS_*`/`ST_*` variables (and `HOME`) through `env` instead of
    /// the process environment, for programs that embed Sortie and for tests.
    pub fn open_with_env(
        &self,
        source: &str,
        options: &SourceOptions,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Arc<dyn Provider>> {
        let url = source::parse(source)?;
        let page_size = options.page_size.unwrap_or(MAX_PAGE);
        if !(1..=MAX_PAGE).contains(&page_size) {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!("--list-page-size {page_size} is out of Swift's range (1 to {MAX_PAGE})"),
            ));
        }
        let shared = Arc::new(Shared {
            client: Arc::new(Client::new(settings::resolve(options, env)?)?.with_retry(options.retry)),
            page_size,
            current_only: options.current_only,
            include_segments: options.include_segments,
            include_volume_data: options.include_volume_data,
            refs: Mutex::new(SegmentRefs::default()),
        });
        Ok(match url {
            SwiftUrl { project: true, .. } => Arc::new(ProjectSource { shared }),
            SwiftUrl { container: Some(container), prefix, .. } => {
                Arc::new(ContainerSource::new(shared, container, prefix))
            }
            SwiftUrl { container: None, .. } => Arc::new(AccountSource { shared, doc: OnceLock::new() }),
        })
    }
}

/// What the sources of one `swift://` URL share.
struct Shared {
    client: Arc<Client>,
    page_size: u32,
    current_only: bool,
    include_segments: bool,
    include_volume_data: bool,
    /// Large object segments met so far, across the containers of one account.
    refs: Mutex<SegmentRefs>,
}

impl Shared {
    async fn head(&self, container: Option<&str>) -> Result<HeaderMap> {
        let request = Request { head: true, container, ..Request::default() };
        Ok(self.client.send(&request).await?.headers().clone())
    }

    async fn display(&self, what: &str) -> String {
        match self.client.storage_url().await {
            Ok(url) => format!("{what} at {}", sortie_http::redact_userinfo(&url)),
            Err(_) => what.to_owned(),
        }
    }
}

/// One container.
pub struct ContainerSource {
    shared: Arc<Shared>,
    container: String,
    prefix: String,
    /// Read by `check`.
    state: OnceLock<ContainerState>,
    /// SLO manifests read while listing, taken when their items are archived, so that
    /// memory holds only those listed ahead of the fetchers.
    manifests: Manifests,
}

struct ContainerState {
    doc: Bytes,
    display: String,
    /// The container keeps versions (`X-Versions-Enabled`): list them with `?versions`.
    versioned: bool,
    /// The container where an older-style versioning keeps earlier versions.
    versions_container: Option<String>,
}

impl ContainerSource {
    fn new(shared: Arc<Shared>, container: String, prefix: String) -> Self {
        Self { shared, container, prefix, state: OnceLock::new(), manifests: Manifests::default() }
    }

    fn state(&self) -> Result<&ContainerState> {
        self.state.get().ok_or_else(|| Error::new(ErrorKind::Other, "the container was not checked before use"))
    }

    fn lister(&self) -> Result<Lister<'_>> {
        let state = self.state()?;
        Ok(Lister {
            client: &self.shared.client,
            container: &self.container,
            prefix: &self.prefix,
            page_size: self.shared.page_size,
            versions: state.versioned && !self.shared.current_only,
            include_segments: self.shared.include_segments,
            refs: &self.shared.refs,
            manifests: &self.manifests,
        })
    }
}

#[async_trait]
impl Provider for ContainerSource {
    fn source_id(&self) -> String {
        format!("swift-{}", self.container)
    }

    fn display_url(&self) -> String {
        match self.state.get() {
            Some(state) => state.display.clone(),
            None => format!("swift://{}", self.container),
        }
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities { flat_namespace: true, local: false }
    }

    async fn check(&self) -> Result<()> {
        if self.state.get().is_some() {
            return Ok(());
        }
        let headers = self.shared.head(Some(&self.container)).await.map_err(|e| match e.kind() {
            ErrorKind::NotFound => Error::new(
                ErrorKind::NotFound,
                format!(
                    "container '{}' does not exist in this project (`sortie inventory swift://` lists them)",
                    self.container
                ),
            ),
            _ => e,
        })?;
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let versions_container = header("x-versions-location")
            .or_else(|| header("x-history-location"))
            .map(|v| percent_encoding::percent_decode_str(&v).decode_utf8_lossy().into_owned());
        let url = match self.prefix.as_str() {
            "" => format!("swift://{}", self.container),
            prefix => format!("swift://{}/{prefix}", self.container),
        };
        let display = self.shared.display(&url).await;
        let _ = self.state.set(ContainerState {
            doc: object::description(&headers, "container", &self.container).into(),
            display,
            versioned: header("x-versions-enabled").is_some_and(|v| v.eq_ignore_ascii_case("true")),
            versions_container,
        });
        Ok(())
    }

    /// A container whose earlier versions live in another container (`X-Versions-Location`,
    /// `X-History-Location`) brings that container along, unless only current objects are
    /// asked for.
    async fn expand(&self) -> Result<Option<Vec<Arc<dyn Provider>>>> {
        let state = self.state()?;
        let Some(versions) =
            state.versions_container.as_ref().filter(|v| !self.shared.current_only && **v != self.container)
        else {
            return Ok(None);
        };
        // A versions container that was never created holds no version: container.json
        // records the setting, and there is nothing more to take.
        match self.shared.head(Some(versions)).await {
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
            Ok(_) => {}
        }
        Ok(Some(vec![
            Arc::new(ContainerSource::new(self.shared.clone(), self.container.clone(), self.prefix.clone())),
            Arc::new(ContainerSource::new(self.shared.clone(), versions.clone(), String::new())),
        ]))
    }

    async fn list_page(&self, cursor: Option<String>) -> Result<Page> {
        self.lister()?.page(cursor).await
    }

    async fn open(&self, item: &Item) -> Result<Body> {
        if item.area == Area::Config {
            if item.segments.first().is_some_and(|s| s.0 == MANIFESTS.as_bytes()) {
                let read = self.manifests.lock().expect("manifests").remove(&manifest_key(item));
                return match read {
                    Some(manifest) => Ok(Body::from_bytes(manifest, Some("application/json"))),
                    // A second attempt reads it again.
                    None => object::open(&self.shared.client, &self.container, item, true).await,
                };
            }
            return Ok(Body::from_bytes(self.state()?.doc.clone(), Some("application/json")));
        }
        object::open(&self.shared.client, &self.container, item, false).await
    }
}

/// `swift://`: the account's description, then every container.
pub struct AccountSource {
    shared: Arc<Shared>,
    doc: OnceLock<(Bytes, String)>,
}

#[derive(Deserialize)]
struct ContainerEntry {
    name: String,
}

#[async_trait]
impl Provider for AccountSource {
    fn source_id(&self) -> String {
        "swift".into()
    }

    fn display_url(&self) -> String {
        self.doc.get().map_or_else(|| "swift://".to_owned(), |(_, display)| display.clone())
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities { flat_namespace: true, local: false }
    }

    async fn check(&self) -> Result<()> {
        let headers = self.shared.head(None).await?;
        let url = sortie_http::redact_userinfo(&self.shared.client.storage_url().await?);
        let doc = object::description(&headers, "account", &url);
        let _ = self.doc.set((doc.into(), self.shared.display("swift://").await));
        Ok(())
    }

    /// The account itself (its description), then its containers in name order, except
    /// that containers named like segment containers (`…_segments`, as python-swiftclient
    /// and rclone name them) come last: by then the large objects that use their segments
    /// have been listed, and the segments need not be archived twice.
    async fn expand(&self) -> Result<Option<Vec<Arc<dyn Provider>>>> {
        let mut names: Vec<String> = Vec::new();
        let mut marker = String::new();
        loop {
            let mut query = vec![("format", "json".to_owned()), ("limit", self.shared.page_size.to_string())];
            if !marker.is_empty() {
                query.push(("marker", marker.clone()));
            }
            let response = self.shared.client.send(&Request { query, ..Request::default() }).await?;
            let bytes = response.bytes().await.map_err(|e| {
                Error::new(ErrorKind::Unavailable, format!("reading the account's container list: {e}")).temporary()
            })?;
            let page: Vec<ContainerEntry> = serde_json::from_slice(&bytes).map_err(|e| {
                Error::new(ErrorKind::Other, format!("the account's container list is not Swift's JSON: {e}"))
            })?;
            let Some(last) = page.last() else { break };
            marker = last.name.clone();
            names.extend(page.into_iter().map(|c| c.name));
        }
        names.sort_by_key(|name| (is_segment_container(name), name.clone()));
        let mut sources: Vec<Arc<dyn Provider>> = vec![Arc::new(AccountDoc {
            doc: self.doc.get().cloned().ok_or_else(|| Error::new(ErrorKind::Other, "the account was not checked"))?,
        })];
        for name in names {
            sources.push(Arc::new(ContainerSource::new(self.shared.clone(), name, String::new())));
        }
        Ok(Some(sources))
    }

    async fn list_page(&self, _cursor: Option<String>) -> Result<Page> {
        Err(Error::new(ErrorKind::Other, "swift:// is listed through its containers"))
    }

    async fn open(&self, _item: &Item) -> Result<Body> {
        Err(Error::new(ErrorKind::Other, "swift:// is read through its containers"))
    }
}

/// `openstack://`: the project's services, then its object store.
pub struct ProjectSource {
    shared: Arc<Shared>,
}

#[async_trait]
impl Provider for ProjectSource {
    fn source_id(&self) -> String {
        "openstack".into()
    }

    fn display_url(&self) -> String {
        "openstack://".into()
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
    }

    async fn check(&self) -> Result<()> {
        self.shared.client.project_id().await.map(|_| ())
    }

    async fn expand(&self) -> Result<Option<Vec<Arc<dyn Provider>>>> {
        let account = AccountSource { shared: self.shared.clone(), doc: OnceLock::new() };
        let (swift, swift_absent) = match account.check().await {
            Ok(()) => (account.expand().await?.unwrap_or_default(), None),
            Err(e) if e.kind() == ErrorKind::Unsupported => (Vec::new(), Some(e.to_string())),
            Err(e) => return Err(e),
        };
        let display = self.shared.display("openstack://").await;
        let mut sources: Vec<Arc<dyn Provider>> = vec![Arc::new(ServicesSource::new(
            self.shared.client.clone(),
            display,
            swift_absent,
            self.shared.include_volume_data,
        ))];
        sources.extend(swift);
        Ok(Some(sources))
    }

    async fn list_page(&self, _cursor: Option<String>) -> Result<Page> {
        Err(Error::new(ErrorKind::Other, "openstack:// is listed through its services"))
    }

    async fn open(&self, _item: &Item) -> Result<Body> {
        Err(Error::new(ErrorKind::Other, "openstack:// is read through its services"))
    }
}

fn is_segment_container(name: &str) -> bool {
    name.ends_with("_segments") || name.ends_with("+segments")
}

/// The account's description as a source of its own (`data/swift/_config/account.json`).
struct AccountDoc {
    doc: (Bytes, String),
}

#[async_trait]
impl Provider for AccountDoc {
    fn source_id(&self) -> String {
        "swift".into()
    }

    fn display_url(&self) -> String {
        self.doc.1.clone()
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
    }

    async fn check(&self) -> Result<()> {
        Ok(())
    }

    async fn list_page(&self, _cursor: Option<String>) -> Result<Page> {
        let mut item = Item::new(RawName::text(ACCOUNT_DOC), vec![RawName::text(ACCOUNT_DOC)], Kind::Config);
        item.area = Area::Config;
        item.size = Some(self.doc.0.len() as u64);
        item.content_type = Some("application/json".into());
        Ok(Page { items: vec![item], next: None })
    }

    async fn open(&self, _item: &Item) -> Result<Body> {
        Ok(Body::from_bytes(self.doc.0.clone(), Some("application/json")))
    }
}
