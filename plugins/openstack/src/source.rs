//! The factories: `swift://` and `openstack://` sources described, resolved into the
//! sources they stand for, and opened.
//!
//! Resolution gives data only. `swift://CONTAINER` gives itself (and, when its earlier
//! versions live in another container, that one too); `swift://` gives the account's
//! description and one source per container; `openstack://` gives the project's services,
//! then what `swift://` gives. Every resolved source carries the object store's account
//! URL after its own (as the report shows it; a project without object store, its Keystone
//! URL), which `check` compares with where the credentials lead, and `open` refuses a
//! `swift://` or `openstack://` not resolved; each segment container whose owner is
//! exported too says so (`segments_of`, with the time of the resolution, `resolved_at`): any
//! one of them can then be opened alone, in any order, by another process. A plan is checked
//! as a whole first: a segment container whose owner it does not export is refused.
//!
//! Sources opened by one process with the same credentials share one login (the token and
//! its renewal), so that an account of a thousand containers does not log in a thousand
//! times; nothing else is shared.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use async_trait::async_trait;
use sortie_sdk::error::{Error, ErrorKind, Result};
use sortie_sdk::provider::Provider;
use sortie_sdk::registry::{Context, ProviderFactory, ProviderInfo};
use sortie_sdk::retry::RetryPolicy;
use sortie_sdk::settings::{SettingSpec, Settings};
use sortie_sdk::source::SourceSpec;

use crate::client::Client;
use crate::credentials::{self, Credentials};
use crate::lister;
use crate::provider::{AccountProvider, ContainerProvider, ServicesProvider, head};
use crate::settings::{SourceSettings, for_swift, openstack_specs, swift_specs};
use crate::url::{self, SwiftUrl};

/// Registers `swift://`.
#[derive(Debug, Clone, Copy)]
pub struct SwiftFactory;

/// Registers `openstack://`, the whole project: Swift as `swift://`, Glance images and the
/// records of the other services.
#[derive(Debug, Clone, Copy)]
pub struct OpenStackFactory;

impl SwiftFactory {
    /// This factory reading `OS_*`/`ST_*` variables (and `HOME`) through `env` instead of
    /// the process environment, for programs that embed Sortie and for tests.
    pub fn with_env(self, env: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> EnvFactory {
        EnvFactory { scheme: Scheme::Swift, env: Arc::new(env), clients: Clients::default() }
    }
}

impl OpenStackFactory {
    /// This factory reading `OS_*`/`ST_*` variables (and `HOME`) through `env` instead of
    /// the process environment, for programs that embed Sortie and for tests.
    pub fn with_env(self, env: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> EnvFactory {
        EnvFactory { scheme: Scheme::OpenStack, env: Arc::new(env), clients: Clients::default() }
    }
}

/// How a factory reads an environment variable.
type Env = dyn Fn(&str) -> Option<String> + Send + Sync;

/// A factory whose environment is a function (see `SwiftFactory::with_env`).
pub struct EnvFactory {
    scheme: Scheme,
    env: Arc<Env>,
    clients: Clients,
}

impl fmt::Debug for EnvFactory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnvFactory").field("scheme", &self.scheme).finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheme {
    Swift,
    OpenStack,
}

/// The clients of one process (or one embedding factory), one per set of credentials and
/// retry policy.
#[derive(Default)]
struct Clients(Mutex<Vec<(Credentials, RetryPolicy, Arc<Client>)>>);

/// The clients of the factories that read the process environment.
static PROCESS_CLIENTS: Clients = Clients(Mutex::new(Vec::new()));

impl Clients {
    fn get(&self, credentials: Credentials, policy: RetryPolicy) -> Result<Arc<Client>> {
        let mut clients = self.0.lock().expect("clients");
        if let Some((_, _, client)) = clients.iter().find(|(c, p, _)| *c == credentials && *p == policy) {
            return Ok(client.clone());
        }
        let client = Arc::new(Client::new(credentials.clone())?.with_retry(policy));
        clients.push((credentials, policy, client.clone()));
        Ok(client)
    }
}

/// What every factory does, given the environment and its clients: a source's URL says
/// what kind of source it is.
struct Factory<'a> {
    env: &'a (dyn Fn(&str) -> Option<String> + Sync),
    clients: &'a Clients,
}

#[async_trait]
impl ProviderFactory for SwiftFactory {
    fn info(&self) -> ProviderInfo {
        info(Scheme::Swift)
    }

    fn source(&self, url: &str, settings: Settings) -> Result<SourceSpec> {
        source(Scheme::Swift, url, settings)
    }

    async fn resolve(&self, source: &SourceSpec, context: &Context) -> Result<Vec<SourceSpec>> {
        process().resolve(source, context).await
    }

    fn check_plan(&self, plan: &[SourceSpec]) -> Result<()> {
        check_plan(plan)
    }

    fn open(&self, source: &SourceSpec, context: &Context) -> Result<Arc<dyn Provider>> {
        process().open(source, context)
    }
}

#[async_trait]
impl ProviderFactory for OpenStackFactory {
    fn info(&self) -> ProviderInfo {
        info(Scheme::OpenStack)
    }

    fn source(&self, url: &str, settings: Settings) -> Result<SourceSpec> {
        source(Scheme::OpenStack, url, settings)
    }

    async fn resolve(&self, source: &SourceSpec, context: &Context) -> Result<Vec<SourceSpec>> {
        process().resolve(source, context).await
    }

    fn check_plan(&self, plan: &[SourceSpec]) -> Result<()> {
        check_plan(plan)
    }

    fn open(&self, source: &SourceSpec, context: &Context) -> Result<Arc<dyn Provider>> {
        process().open(source, context)
    }
}

#[async_trait]
impl ProviderFactory for EnvFactory {
    fn info(&self) -> ProviderInfo {
        info(self.scheme)
    }

    fn source(&self, url: &str, settings: Settings) -> Result<SourceSpec> {
        source(self.scheme, url, settings)
    }

    async fn resolve(&self, source: &SourceSpec, context: &Context) -> Result<Vec<SourceSpec>> {
        self.factory().resolve(source, context).await
    }

    fn check_plan(&self, plan: &[SourceSpec]) -> Result<()> {
        check_plan(plan)
    }

    fn open(&self, source: &SourceSpec, context: &Context) -> Result<Arc<dyn Provider>> {
        self.factory().open(source, context)
    }
}

impl EnvFactory {
    fn factory(&self) -> Factory<'_> {
        Factory { env: self.env.as_ref(), clients: &self.clients }
    }
}

fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

fn process() -> Factory<'static> {
    Factory { env: &process_env, clients: &PROCESS_CLIENTS }
}

fn info(scheme: Scheme) -> ProviderInfo {
    match scheme {
        Scheme::Swift => ProviderInfo::new(
            "swift",
            "OpenStack Swift (Keystone v3 or tempauth): objects, large objects checked per segment, versions, \
             container and account metadata",
            "swift://my-container/prefix",
            swift_specs(),
        ),
        Scheme::OpenStack => ProviderInfo::new(
            "openstack",
            "a whole OpenStack project: Swift as swift://, Glance images with their data, and JSON records of \
             Nova, Cinder, Neutron and Designate resources",
            "openstack://",
            openstack_specs(),
        ),
    }
}

/// Describes a source: its URL parsed and its settings checked, without I/O.
fn source(scheme: Scheme, written: &str, settings: Settings) -> Result<SourceSpec> {
    let url = url::parse(written)?;
    SourceSettings::read(&settings)?;
    let name = if scheme == Scheme::Swift { "swift" } else { "openstack" };
    Ok(SourceSpec::new(name, url.shown(), source_id(&url), settings))
}

/// `swift-CONTAINER`, `swift` for the account, `openstack` for the project's services.
fn source_id(url: &SwiftUrl) -> String {
    match &url.container {
        _ if url.project => "openstack".into(),
        Some(container) => format!("swift-{container}"),
        None => "swift".into(),
    }
}

/// Segment containers as python-swiftclient and rclone name them: the owner's name, then
/// `_segments` or `+segments`.
fn owner_of(container: &str) -> Option<&str> {
    container.strip_suffix("_segments").or_else(|| container.strip_suffix("+segments"))
}

impl Factory<'_> {
    fn client(&self, settings: &SourceSettings, context: &Context) -> Result<Arc<Client>> {
        self.clients.get(credentials::resolve(settings, self.env)?, context.retry)
    }

    async fn resolve(&self, source: &SourceSpec, context: &Context) -> Result<Vec<SourceSpec>> {
        let url = url::parse(&source.url)?;
        if url.at.is_some() {
            return Ok(vec![source.clone()]);
        }
        let settings = SourceSettings::read(&source.settings)?;
        let client = self.client(&settings, context)?;
        if url.project {
            client.project_id().await?;
            let storage = match client.storage_url().await {
                Ok(storage) => Some(sortie_http::redact_userinfo(&storage)),
                Err(e) if e.kind() == ErrorKind::Unsupported => None,
                Err(e) => return Err(e),
            };
            let services = SwiftUrl { at: Some(client.account().await?), ..url };
            let mut specs = vec![SourceSpec::new("openstack", services.shown(), "openstack", source.settings.clone())];
            if let Some(storage) = storage {
                specs.extend(account(&client, &settings, &for_swift(&source.settings)?, storage).await?);
            }
            return Ok(specs);
        }
        let storage = sortie_http::redact_userinfo(&client.storage_url().await?);
        let Some(container) = &url.container else {
            return account(&client, &settings, &source.settings, storage).await;
        };
        let headers = head(&client, Some(container)).await?;
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let versions_container = header("x-versions-location")
            .or_else(|| header("x-history-location"))
            .map(|v| percent_encoding::percent_decode_str(&v).decode_utf8_lossy().into_owned());
        let at = |url: SwiftUrl| SwiftUrl { at: Some(storage.clone()), ..url };
        let itself = at(url.clone());
        let mut stamped = source.settings.clone();
        if settings.segments_of.is_some() {
            stamped.set(&setting("resolved_at"), &now())?;
        }
        let mut specs = vec![SourceSpec::new("swift", itself.shown(), source_id(&itself), stamped)];
        // A container whose earlier versions live in another container (X-Versions-Location,
        // X-History-Location) brings that container along, unless only current objects are
        // asked for. A versions container that was never created holds no version:
        // container.json records the setting, and there is nothing more to take.
        if let Some(versions) = versions_container.filter(|v| !settings.current_only && v != container) {
            match head(&client, Some(&versions)).await {
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(e),
                Ok(_) => {
                    let other = at(SwiftUrl { container: Some(versions), prefix: String::new(), ..url });
                    specs.push(SourceSpec::new("swift", other.shown(), source_id(&other), source.settings.clone()));
                }
            }
        }
        Ok(specs)
    }

    fn open(&self, source: &SourceSpec, context: &Context) -> Result<Arc<dyn Provider>> {
        let url = url::parse(&source.url)?;
        if url.at.is_none() && (url.project || url.container.is_none()) {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "{} is not resolved: it stands for every container (or the whole project), and is resolved into \
                     one source per part, which are opened; resolve it with `sortie plan`",
                    source.url
                ),
            ));
        }
        let settings = SourceSettings::read(&source.settings)?;
        let client = self.client(&settings, context)?;
        Ok(match url {
            SwiftUrl { project: true, at, .. } => {
                Arc::new(ServicesProvider::new(client, at, settings.include_volume_data))
            }
            SwiftUrl { container: Some(container), prefix, at, .. } => {
                Arc::new(ContainerProvider::new(client, at, container, prefix, settings))
            }
            SwiftUrl { container: None, at, .. } => Arc::new(AccountProvider::new(client, at)),
        })
    }
}

/// One of the settings `swift://` takes.
fn setting(name: &str) -> SettingSpec {
    swift_specs().into_iter().find(|s| s.name == name).expect("declared")
}

/// The time of a resolution, as `resolved_at` holds it: before the sources it gives are
/// listed (see `large_objects`).
fn now() -> String {
    humantime::format_rfc3339_micros(SystemTime::now()).to_string()
}

/// Refuses a plan in which a segment container leaves out the segments of an owner
/// (`segments_of`) that the plan does not export whole at the same account, or without the
/// time of its resolution: those segments would be in no archive.
fn check_plan(plan: &[SourceSpec]) -> Result<()> {
    let swift: Vec<(SwiftUrl, &SourceSpec)> =
        plan.iter().filter(|s| s.scheme == "swift").filter_map(|s| Some((url::parse(&s.url).ok()?, s))).collect();
    for (url, spec) in &swift {
        let settings = SourceSettings::read(&spec.settings)?;
        let Some(owner) = settings.segments_of.as_deref().filter(|_| !settings.include_segments) else { continue };
        let container = url.container.as_deref().unwrap_or_default();
        let exported = swift.iter().any(|(other, _)| {
            other.container.as_deref() == Some(owner) && other.prefix.is_empty() && other.at == url.at
        });
        let refused = |why: String| Err(Error::new(ErrorKind::InvalidInput, why));
        if !exported {
            return refused(format!(
                "the plan leaves out the segments of container '{container}' that the large objects of container \
                 '{owner}' use (segments_of={owner}), but does not export container '{owner}' whole at the same \
                 account: add swift://{owner} to the plan (`sortie plan swift://` gives both), or remove segments_of \
                 from the settings of '{container}'"
            ));
        }
        if settings.resolved_at.is_none() {
            return refused(format!(
                "container '{container}' leaves out the segments of the large objects of '{owner}' (segments_of) \
                 but has no resolved_at, the time before which they are known to be archived there: make the plan \
                 again with `sortie plan`, which sets both"
            ));
        }
    }
    Ok(())
}

/// `swift://` resolved: the account's description, then its containers in name order,
/// except that segment containers (`…_segments`, as python-swiftclient and rclone name
/// them) come last, as they always did, so that archives keep their order. A segment
/// container whose owner is among them is told so (`segments_of`).
async fn account(
    client: &Client,
    settings: &SourceSettings,
    base: &Settings,
    storage: String,
) -> Result<Vec<SourceSpec>> {
    let mut names = lister::containers(client, settings.page_size).await?;
    let owners: std::collections::HashSet<String> = names.iter().cloned().collect();
    names.sort_by_key(|name| (owner_of(name).is_some(), name.clone()));
    let account = SwiftUrl { project: false, container: None, prefix: String::new(), at: Some(storage) };
    let mut specs = vec![SourceSpec::new("swift", account.shown(), "swift", base.clone())];
    let resolved_at = now();
    for name in names {
        let mut settings = base.clone();
        if let Some(owner) = owner_of(&name).filter(|owner| owners.contains(*owner)) {
            settings.set(&setting("segments_of"), owner)?;
            settings.set(&setting("resolved_at"), &resolved_at)?;
        }
        let url = SwiftUrl { container: Some(name), ..account.clone() };
        specs.push(SourceSpec::new("swift", url.shown(), source_id(&url), settings));
    }
    Ok(specs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str) -> SettingSpec {
        openstack_specs().into_iter().find(|s| s.name == name).expect("declared")
    }

    #[test]
    fn sources_are_described_without_io_and_keep_their_ids() {
        let container = SwiftFactory.source("swift://photos/2024/", Settings::new()).unwrap();
        assert_eq!((container.url.as_str(), container.id.as_str()), ("swift://photos/2024/", "swift-photos"));
        assert_eq!(SwiftFactory.source("swift://", Settings::new()).unwrap().id, "swift");
        let project = OpenStackFactory.source("openstack://", Settings::new()).unwrap();
        assert_eq!((project.scheme.as_str(), project.id.as_str()), ("openstack", "openstack"));
        let mut settings = Settings::new();
        settings.set(&spec("page_size"), "0").unwrap();
        let error = SwiftFactory.source("swift://c", settings).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidInput);
        assert!(SwiftFactory.source("swift://user:pw@c", Settings::new()).is_err());
    }

    #[test]
    fn only_swift_factories_take_no_volume_data_setting() {
        assert!(SwiftFactory.info().setting("include_volume_data").is_err());
        assert!(OpenStackFactory.info().setting("include_volume_data").is_ok());
        assert_eq!(owner_of("docs_segments"), Some("docs"));
        assert_eq!(owner_of("docs+segments"), Some("docs"));
        assert_eq!(owner_of("segments"), None);
    }

    use std::collections::BTreeMap;

    use sortie_sdk::item::{Area, Item, Skip};
    use sortie_sdk::provider::Body;

    use crate::fake::{Fake, IMAGE, SECRETS};

    fn env(pairs: Vec<(String, String)>) -> impl Fn(&str) -> Option<String> + Send + Sync + 'static {
        move |name| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }

    /// Every item of a source, by id (manifests under `config:`).
    async fn list_all(provider: &dyn Provider) -> BTreeMap<String, Item> {
        provider.check().await.unwrap();
        let (mut items, mut cursor) = (BTreeMap::new(), None);
        loop {
            let page = provider.list_page(cursor).await.unwrap();
            for item in page.items {
                let key = match item.area {
                    Area::Config => format!("config:{}", item.id.display()),
                    _ => item.id.display(),
                };
                items.insert(key, item);
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => return items,
            }
        }
    }

    async fn bytes(body: Body) -> Vec<u8> {
        use futures_util::StreamExt;
        let mut stream = body.stream;
        let mut bytes = Vec::new();
        while let Some(chunk) = stream.next().await {
            bytes.extend_from_slice(&chunk.unwrap());
        }
        bytes
    }

    /// Opens every item with a body twice: the same bytes, the listed size. An item listed
    /// with its bytes is never opened (the engine archives those): their size is the listed.
    async fn open_twice(provider: &dyn Provider, items: &BTreeMap<String, Item>) {
        for (key, item) in items.iter().filter(|(_, i)| i.has_body && i.skip.is_none()) {
            if let Some(inline) = &item.inline {
                assert_eq!(Some(inline.len() as u64), item.size, "{key}");
                continue;
            }
            let first = bytes(provider.open(item).await.unwrap()).await;
            let second = bytes(provider.open(item).await.unwrap()).await;
            assert_eq!(first, second, "{key}");
            assert_eq!(Some(first.len() as u64), item.size, "{key}");
        }
    }

    fn excluded(item: &Item) -> Option<&str> {
        match &item.skip {
            Some(Skip::Excluded(why)) => Some(why),
            _ => None,
        }
    }

    #[tokio::test]
    async fn an_account_resolves_into_specs_each_opened_alone_in_any_order() {
        let fake = Fake::start().await;
        let context = Context::default();
        let factory = SwiftFactory.with_env(env(fake.tempauth_env()));
        let written = factory.source("swift://", Settings::new()).unwrap();
        let specs = factory.resolve(&written, &context).await.unwrap();
        let at = format!(" at {}/v1/AUTH_test", fake.url);
        let described: Vec<(String, String)> = specs.iter().map(|s| (s.url.clone(), s.id.clone())).collect();
        let expected = [("", "swift"), ("c", "swift-c"), ("other", "swift-other"), ("c_segments", "swift-c_segments")];
        let expected: Vec<(String, String)> =
            expected.iter().map(|(c, id)| (format!("swift://{c}{at}"), (*id).to_owned())).collect();
        assert_eq!(described, expected, "segment containers last, as always");
        assert_eq!(specs[3].settings.text("segments_of"), Some("c"));
        assert!(specs[3].settings.text("resolved_at").is_some_and(|at| at.starts_with("20")));
        assert!(specs[..3].iter().all(|s| !s.settings.contains("segments_of") && !s.settings.contains("resolved_at")));
        // Resolved specs are data: they survive JSON, and resolve to themselves.
        let back: Vec<SourceSpec> = serde_json::from_str(&serde_json::to_string(&specs).unwrap()).unwrap();
        assert_eq!(back, specs);
        assert_eq!(factory.resolve(&back[1], &context).await.unwrap(), [back[1].clone()]);

        // Each opened by a factory of its own, as another process would, segments first.
        let mut listed = BTreeMap::new();
        for spec in back.iter().rev() {
            let provider = SwiftFactory.with_env(env(fake.tempauth_env())).open(spec, &context).unwrap();
            let items = list_all(provider.as_ref()).await;
            open_twice(provider.as_ref(), &items).await;
            listed.insert(spec.id.clone(), items);
        }
        let segments = &listed["swift-c_segments"];
        for (id, large) in
            [("slo/0", "c/big.slo"), ("slo/1", "c/big.slo"), ("dlo/0", "c/big.dlo"), ("dlo/1", "c/big.dlo")]
        {
            let why = excluded(&segments[id]).unwrap_or_else(|| panic!("{id} is archived twice"));
            assert!(why.contains(&format!("a segment of the large object {large}")), "{why}");
        }
        assert_eq!(excluded(&segments["loose"]), None);
        assert_eq!(excluded(&segments["shared/0"]), None, "used from another container: archived, not lost");
        let c = &listed["swift-c"];
        assert_eq!(c["big.slo"].size, Some(1500));
        assert_eq!(c["big.dlo"].size, Some(500));
        let manifest: serde_json::Value = serde_json::from_slice(c["config:big.slo"].inline.as_ref().unwrap()).unwrap();
        assert_eq!(manifest[1]["name"], "/c_segments/slo/1", "the manifest as served travels with its item");
        let container: serde_json::Value =
            serde_json::from_slice(c["config:container.json"].inline.as_ref().unwrap()).unwrap();
        assert_eq!(container["container"], "c");
        assert!(listed["swift"]["config:account.json"].inline.is_some());
        assert!(c.values().all(|item| item.locator.is_none() && !item.meta.contains_key("url")));

        // A large object uploaded or replaced after the resolution (here: every one, the plan
        // being older) may be missing from its owner's listing: its segments stay archived.
        let mut older = back[3].clone();
        older.settings.set(&spec("resolved_at"), "2026-11-01T00:00:00Z").unwrap();
        let provider = factory.open(&older, &context).unwrap();
        assert!(list_all(provider.as_ref()).await.values().all(|item| item.skip.is_none()));

        // Every segment, when asked for.
        let mut all = back[3].clone();
        all.settings.set(&spec("include_segments"), "true").unwrap();
        let provider = factory.open(&all, &context).unwrap();
        assert!(list_all(provider.as_ref()).await.values().all(|item| item.skip.is_none()));
        // The container exported alone (as the user writes it) keeps every segment too.
        let alone = factory.source("swift://c_segments", Settings::new()).unwrap();
        let resolved = factory.resolve(&alone, &context).await.unwrap();
        assert_eq!(resolved.len(), 1);
        let provider = factory.open(&resolved[0], &context).unwrap();
        assert!(list_all(provider.as_ref()).await.values().all(|item| item.skip.is_none()));
    }

    #[tokio::test]
    async fn a_project_resolves_into_its_services_and_swift_with_records_inline() {
        let fake = Fake::start().await;
        let context = Context::default();
        let factory = OpenStackFactory.with_env(env(fake.openrc_env()));
        let mut secret = Settings::new();
        secret.set(&spec("password"), SECRETS[1]).unwrap();
        let mut given = Settings::new();
        given.set(&spec("include_volume_data"), "true").unwrap();
        let written = factory.source("openstack://", given.overridden_by(&secret)).unwrap();
        let specs = factory.resolve(&written, &context).await.unwrap();
        let schemes: Vec<&str> = specs.iter().map(|s| s.scheme.as_str()).collect();
        assert_eq!(schemes, ["openstack", "swift", "swift", "swift", "swift"]);
        assert_eq!(specs[0].url, format!("openstack:// at {}/v1/AUTH_p1", fake.url));
        assert!(specs[1..].iter().all(|s| !s.settings.contains("include_volume_data")), "not a swift setting");
        let json = serde_json::to_string(&specs).unwrap();
        let debug = format!("{specs:?}{factory:?}");
        for rendering in [&json, &debug] {
            assert!(SECRETS.iter().all(|s| !rendering.contains(s)), "{rendering}");
        }
        // A plan read back has no secret: it is given again, as the host does.
        let back: Vec<SourceSpec> = serde_json::from_str(&json).unwrap();
        let mut services = back[0].clone();
        services.settings = services.settings.overridden_by(&secret);
        let provider = OpenStackFactory.with_env(env(fake.openrc_env())).open(&services, &context).unwrap();
        let items = list_all(provider.as_ref()).await;
        let record: serde_json::Value =
            serde_json::from_slice(items["glance/images/i1"].inline.as_ref().unwrap()).unwrap();
        assert_eq!((record["id"].as_str(), record["name"].as_str()), (Some("i1"), Some("disk")));
        assert!(items["glance/images/i1/file"].locator.is_some());
        open_twice(provider.as_ref(), &items).await;
        let image = bytes(provider.open(&items["glance/images/i1/file"]).await.unwrap()).await;
        assert_eq!(image, IMAGE);
        let not_offered: Vec<&str> = items
            .values()
            .filter(|i| excluded(i).is_some_and(|w| w.starts_with("not offered")))
            .map(|i| std::str::from_utf8(&i.id.0).unwrap())
            .collect();
        assert_eq!(not_offered, ["cinder", "designate", "neutron", "nova"]);
        let mut missing = items["glance/images/i1/file"].clone();
        missing.locator = missing.locator.map(|l| l.replace("\"i1\"", "\"i-gone\""));
        let error = provider.open(&missing).await.err().unwrap();
        assert_eq!(error.kind(), ErrorKind::NotFound, "{error}");
    }

    #[test]
    fn a_plan_leaving_out_segments_exports_their_owner_whole() {
        let at = " at http://s/v1/AUTH_p";
        let swift = |url: &str, settings: &[(&str, &str)]| {
            let mut given = Settings::new();
            for (name, value) in settings {
                given.set(&spec(name), value).unwrap();
            }
            SourceSpec::new("swift", format!("{url}{at}"), "swift-x", given)
        };
        let segments = swift("swift://c_segments", &[("segments_of", "c"), ("resolved_at", "2026-12-01T08:00:00Z")]);
        let owner = swift("swift://c", &[]);
        assert!(SwiftFactory.check_plan(&[owner.clone(), segments.clone()]).is_ok());
        assert!(OpenStackFactory.check_plan(&[segments.clone(), owner]).is_ok(), "in any order");
        let elsewhere = SourceSpec::new("swift", "swift://c at http://s/v1/AUTH_q", "swift-c", Settings::new());
        for plan in [
            vec![segments.clone()],
            vec![swift("swift://c/some/", &[]), segments.clone()],
            vec![elsewhere, segments.clone()],
        ] {
            let error = SwiftFactory.check_plan(&plan).unwrap_err();
            assert_eq!(error.kind(), ErrorKind::InvalidInput);
            assert!(error.to_string().contains("segments of container 'c_segments'"), "{error}");
            assert!(error.to_string().contains("does not export container 'c' whole"), "{error}");
        }
        let by_hand = swift("swift://c_segments", &[("segments_of", "c")]);
        let error = SwiftFactory.check_plan(&[swift("swift://c", &[]), by_hand]).unwrap_err();
        assert!(error.to_string().contains("has no resolved_at"), "{error}");
        let all = swift("swift://c_segments", &[("segments_of", "c"), ("include_segments", "true")]);
        assert!(SwiftFactory.check_plan(&[all]).is_ok(), "nothing left out");
    }

    #[tokio::test]
    async fn sources_open_only_resolved_and_for_the_account_they_were_resolved_for() {
        let fake = Fake::start().await;
        let context = Context::default();
        let tempauth = SwiftFactory.with_env(env(fake.tempauth_env()));
        for unresolved in ["swift://", "openstack://"] {
            let spec = OpenStackFactory.source(unresolved, Settings::new()).unwrap();
            let error = tempauth.open(&spec, &context).err().unwrap();
            assert_eq!(error.kind(), ErrorKind::InvalidInput, "{error}");
            assert!(error.to_string().contains("resolve it with `sortie plan`"), "{error}");
        }
        let written = tempauth.source("swift://", Settings::new()).unwrap();
        let specs = tempauth.resolve(&written, &context).await.unwrap();
        // The same plan, exported with the credentials of another project (AUTH_p1).
        let mut password = Settings::new();
        password.set(&spec("password"), SECRETS[1]).unwrap();
        let other = SwiftFactory.with_env(env(fake.openrc_env()));
        for planned in &specs {
            let mut planned = planned.clone();
            planned.settings = planned.settings.overridden_by(&password);
            let error = other.open(&planned, &context).unwrap().check().await.unwrap_err();
            assert_eq!(error.kind(), ErrorKind::InvalidInput, "{error}");
            let (was, now) = (format!("{}/v1/AUTH_test", fake.url), format!("{}/v1/AUTH_p1", fake.url));
            assert!(error.to_string().contains(&format!("resolved for the account {was}, but")), "{error}");
            assert!(error.to_string().contains(&format!("now lead to {now}:")), "{error}");
        }
        let project = OpenStackFactory.with_env(env(fake.openrc_env()));
        let mut services = project.resolve(&project.source("openstack://", password).unwrap(), &context).await.unwrap();
        services[0].url = services[0].url.replace("AUTH_p1", "AUTH_p2");
        let error = project.open(&services[0], &context).unwrap().check().await.unwrap_err();
        assert!(error.to_string().contains("AUTH_p2, but the credentials"), "{error}");
    }

    #[tokio::test]
    async fn refusals_are_reported_without_the_secrets_the_server_echoes() {
        let fake = Fake::start().await;
        let context = Context::default();
        let mut wrong = fake.tempauth_env();
        wrong[2].1 = "wrong-key-4".into();
        let factory = SwiftFactory.with_env(env(wrong));
        let written = factory.source("swift://c", Settings::new()).unwrap();
        let error = factory.resolve(&written, &context).await.unwrap_err();
        let shown = format!("{error} {error:?} {}", serde_json::to_string(&error).unwrap());
        assert!(shown.contains("authentication refused for user 'test:tester'"), "{shown}");
        assert!(!shown.contains("wrong-key-4"), "{shown}");

        let mut secret = Settings::new();
        secret.set(&spec("password"), "wrong-password-5").unwrap();
        let factory = OpenStackFactory.with_env(env(fake.openrc_env()));
        let written = factory.source("openstack://", secret).unwrap();
        assert!(!format!("{written:?}").contains("wrong-password-5"));
        let error = factory.resolve(&written, &context).await.unwrap_err();
        let shown = format!("{error} {error:?}");
        assert!(shown.contains("cannot accept") && !shown.contains("wrong-password-5"), "{shown}");
    }
}
