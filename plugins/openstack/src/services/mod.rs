//! `openstack://`: the project beyond its objects. Glance images owned by the project
//! (their description and their data, checked against `checksum` and `os_hash_value`), and
//! a JSON record of every resource of Nova (servers with flavor, metadata, security groups
//! and attached volumes; key pairs with their public keys), Cinder (volumes, snapshots),
//! Neutron (networks, subnets, routers, ports, security groups, floating IPs) and Designate
//! (zones, and each zone's BIND file from a zone export), each as the API serves it:
//! whichever the catalog offers. A service the catalog does not offer is reported as
//! excluded ("not offered"), not as a failure.
//!
//! Here: the table of what is listed (each service's collections, in its own file), the
//! paging through them, and the routing of `open`. A record is read by the listing and
//! travels inline with its item; an item with bytes of its own (an image's data, a zone's
//! BIND file, a volume's data) carries in its locator where they are, so that it can be
//! opened any number of times, by any process.

mod cinder;
mod designate;
mod glance;
mod neutron;
mod nova;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sortie_sdk::error::{Error, ErrorKind, Result};
use sortie_sdk::item::{Item, Kind, RawName, Skip};
use sortie_sdk::provider::{Body, Page};

use crate::client::Client;

/// One kind of resource of one service.
struct Collection {
    /// The service, as the report names it.
    service: &'static str,
    /// Catalog service types, the current name first.
    kinds: &'static [&'static str],
    /// The API version path an endpoint without one needs (`/v2` for Glance).
    root: &'static str,
    /// The listing, under the endpoint.
    list: &'static str,
    /// The array in the listing's answer.
    key: &'static str,
    /// The object inside each entry that holds the resource (`keypair`), if any.
    inner: Option<&'static str>,
    /// The field naming a resource.
    id: &'static str,
    /// The query parameter that restricts a listing to the project's own resources.
    owner: Option<&'static str>,
    /// Where its records go, under the source.
    dir: &'static str,
}

/// Every collection, service by service, in listing order (a listing cursor counts them).
const SERVICES: &[&[Collection]] =
    &[glance::COLLECTIONS, nova::COLLECTIONS, cinder::COLLECTIONS, neutron::COLLECTIONS, designate::COLLECTIONS];

fn collections() -> impl Iterator<Item = &'static Collection> {
    SERVICES.iter().flat_map(|service| service.iter())
}

/// Resources asked for per listing request.
const PAGE: u32 = 200;
/// How often a long task (a volume's copy, a zone's export) is asked about meanwhile.
const POLL: Duration = Duration::from_secs(2);

/// Where a listing stands: the collection, and the next page's path and query from the root
/// of the service's endpoint (never a whole URL: a cursor is data handed back by a journal
/// or another process, and the token goes where it says).
#[derive(Debug, Serialize, Deserialize)]
struct Cursor {
    collection: usize,
    next: Option<String>,
}

/// Where an item's bytes are, for `open`: the item's locator, as JSON. It holds ids only,
/// each rebuilt into a URL under the service's endpoint from the catalog, so that a locator
/// (data kept in a journal, handed to another process) cannot send the token elsewhere.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "open", rename_all = "kebab-case")]
enum Locator {
    /// An image's data.
    ImageData { image_id: String },
    /// A zone's BIND file, from a zone export.
    ZoneExport { zone_id: String },
    /// A volume's data, through a temporary image.
    VolumeData { volume_id: String },
}

impl Locator {
    fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a locator serializes")
    }

    /// Where `item`'s bytes are. An item without a locator is none this source lists with
    /// bytes of their own: not found.
    fn from_item(item: &Item) -> Result<Self> {
        let Some(text) = item.locator.as_deref() else {
            return Err(Error::new(
                ErrorKind::NotFound,
                format!("the project's services list no item {} with data of its own", item.id.display()),
            ));
        };
        serde_json::from_str(text).map_err(|e| {
            Error::new(ErrorKind::Other, format!("{} cannot be opened: its locator is damaged: {e}", item.id.display()))
        })
    }
}

/// The project's services, listed as one source (`data/openstack/…`).
pub struct Services {
    client: Arc<Client>,
    include_volume_data: bool,
}

impl Services {
    pub fn new(client: Arc<Client>, include_volume_data: bool) -> Self {
        Self { client, include_volume_data }
    }

    /// Authenticates, scoped to the project.
    pub async fn check(&self) -> Result<()> {
        self.client.project_id().await.map(|_| ())
    }

    /// One page: the first says whether the object store is part of the project (it is
    /// exported as `swift://` beside this source), the next ones go through the collections.
    pub async fn page(&self, cursor: Option<String>) -> Result<Page> {
        let Some(cursor) = cursor else {
            let mut items = Vec::new();
            match self.client.storage_url().await {
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::Unsupported => {
                    let mut item = Item::new(RawName::text("swift"), vec![RawName::text("swift")], Kind::Record);
                    item.has_body = false;
                    item.skip = Some(Skip::Excluded(format!("not offered: {e}")));
                    items.push(item);
                }
                Err(e) => return Err(e),
            }
            let next = serde_json::to_string(&Cursor { collection: 0, next: None }).expect("serializes");
            return Ok(Page::new(items, Some(next)));
        };
        let cursor: Cursor = serde_json::from_str(&cursor)
            .map_err(|e| Error::new(ErrorKind::Other, format!("a listing cursor is damaged: {e}")))?;
        self.page_of(cursor).await
    }

    async fn page_of(&self, cursor: Cursor) -> Result<Page> {
        let Some(collection) = collections().nth(cursor.collection) else {
            return Ok(Page::default());
        };
        let next_collection =
            || serde_json::to_string(&Cursor { collection: cursor.collection + 1, next: None }).expect("serializes");
        let Some(endpoint) = self.client.service_url(collection.kinds).await? else {
            // Said once per service, at its first collection.
            let first = collections().position(|c| c.service == collection.service) == Some(cursor.collection);
            let items = if first { vec![not_offered(collection)] } else { Vec::new() };
            return Ok(Page::new(items, Some(next_collection())));
        };
        let base = api_base(&endpoint, collection.root);
        let url = match &cursor.next {
            Some(next) => on_origin(&base, next)?.to_string(),
            None => {
                let mut url = format!("{base}{}?limit={PAGE}", collection.list);
                if let (Some(owner), Some(project)) = (collection.owner, self.client.project_id().await?) {
                    url.push_str(&format!("&{owner}={project}"));
                }
                url
            }
        };
        let what = format!("the {} listing of {}", collection.key, collection.service);
        let response = self.client.get(&url, &[("OpenStack-API-Version", nova::COMPUTE_VERSION)], &what).await?;
        let answer = read_json(response, &what).await?;
        let entries = answer[collection.key].as_array().cloned().unwrap_or_default();
        let mut items = Vec::new();
        for entry in &entries {
            let resource = collection.inner.map_or(entry, |inner| &entry[inner]);
            let Some(id) = resource[collection.id].as_str() else {
                return Err(Error::new(ErrorKind::Other, format!("{what} has an entry without {}", collection.id)));
            };
            items.push(record_item(collection, id, resource));
            match collection.key {
                "images" => items.push(glance::data_item(id, resource)),
                "zones" => items.push(designate::zone_file_item(id, resource)),
                "volumes" if self.include_volume_data => items.push(cinder::data_item(id, resource)),
                _ => {}
            }
        }
        let next = match next_link(&answer, collection.key).filter(|_| !entries.is_empty()) {
            Some(link) => {
                let link = on_origin(&base, &link)?;
                let path = link.query().map_or_else(|| link.path().to_owned(), |q| format!("{}?{q}", link.path()));
                serde_json::to_string(&Cursor { collection: cursor.collection, next: Some(path) }).ok()
            }
            None => Some(next_collection()),
        };
        Ok(Page::new(items, next))
    }

    /// Opens an item with bytes of its own, where its locator says (records are inline),
    /// under the service's endpoint as the catalog gives it now.
    pub async fn open(&self, item: &Item) -> Result<Body> {
        let client = &self.client;
        match Locator::from_item(item)? {
            Locator::ImageData { image_id } => {
                let base = self.endpoint(&glance::COLLECTIONS[0]).await?;
                glance::open_data(client, item, &glance::data_url(&base, &image_id)).await
            }
            Locator::ZoneExport { zone_id } => {
                let base = self.endpoint(&designate::COLLECTIONS[0]).await?;
                designate::open_zone(client, item, &base, &zone_id).await
            }
            Locator::VolumeData { volume_id } => {
                let base = self.endpoint(&cinder::COLLECTIONS[0]).await?;
                cinder::open_data(client, item, &base, &volume_id).await
            }
        }
    }

    /// Bytes `range` of an image's data (the only item read in ranges: a volume's data is
    /// a temporary image read as one stream).
    pub async fn open_range(&self, item: &Item, range: std::ops::Range<u64>) -> Result<Body> {
        match Locator::from_item(item)? {
            Locator::ImageData { image_id } => {
                let base = self.endpoint(&glance::COLLECTIONS[0]).await?;
                glance::open_data_range(&self.client, item, &glance::data_url(&base, &image_id), range).await
            }
            _ => Err(Error::new(ErrorKind::Unsupported, format!("{} is read as one stream", item.id.display()))),
        }
    }

    /// The endpoint of `collection`'s service, with its API version.
    async fn endpoint(&self, collection: &Collection) -> Result<String> {
        match self.client.service_url(collection.kinds).await? {
            Some(endpoint) => Ok(api_base(&endpoint, collection.root)),
            None => Err(Error::new(
                ErrorKind::Unsupported,
                format!("the catalog no longer offers {} ({})", collection.service, collection.kinds.join(" / ")),
            )),
        }
    }
}

/// A service the catalog does not have.
fn not_offered(collection: &Collection) -> Item {
    let name = collection.dir.split('/').next().unwrap_or(collection.dir);
    let mut item = Item::new(RawName::text(name), vec![RawName::text(name)], Kind::Record);
    item.has_body = false;
    item.skip = Some(Skip::Excluded(format!(
        "not offered: the catalog has no {} service ({}) for this region and interface, so there is nothing \
         of it to export",
        collection.service,
        collection.kinds.join(" / ")
    )));
    item
}

/// `dir/ID.json`, the resource as the API served it, read by the listing.
fn record_item(collection: &Collection, id: &str, resource: &Value) -> Item {
    let mut segments: Vec<RawName> = collection.dir.split('/').map(RawName::text).collect();
    segments.push(RawName::text(&format!("{id}.json")));
    let mut item = Item::new(RawName::text(&format!("{}/{id}", collection.dir)), segments, Kind::Record);
    item.content_type = Some("application/json".into());
    for field in ["name", "status", "created_at", "updated_at"] {
        if let Some(value) = resource.get(field).filter(|v| !v.is_null()) {
            item.meta.insert(field.into(), value.clone());
        }
    }
    item.set_inline(serde_json::to_vec_pretty(resource).expect("JSON serializes").into());
    item
}

pub(super) async fn read(response: reqwest::Response, what: &str) -> Result<Bytes> {
    response.bytes().await.map_err(|e| Error::new(ErrorKind::Unavailable, format!("reading {what}: {e}")).temporary())
}

/// A service's JSON answer; `what` names the request in messages.
pub(super) async fn read_json(response: reqwest::Response, what: &str) -> Result<Value> {
    serde_json::from_slice(&read(response, what).await?)
        .map_err(|e| Error::new(ErrorKind::Other, format!("{what}: the answer is not JSON: {e}")))
}

/// The endpoint with its API version: catalogs give Glance and Neutron without one.
pub(super) fn api_base(endpoint: &str, root: &str) -> String {
    let endpoint = endpoint.trim_end_matches('/');
    if root.is_empty() || endpoint.ends_with(root) { endpoint.to_owned() } else { format!("{endpoint}{root}") }
}

/// A next link (Glance gives a path from the server's root, `/v2/images?marker=…`, the
/// others a whole URL), or a cursor's path, made whole on `base`'s origin. A link to another
/// origin is refused: the token would follow it there.
fn on_origin(base: &str, link: &str) -> Result<reqwest::Url> {
    // The link is the server's text: quoted bounded, printable and without user info.
    let shown = sortie_http::excerpt(link.as_bytes(), &[]);
    let refused = |why: String| Error::new(ErrorKind::Other, format!("the paging link '{shown}' is refused: {why}"));
    let base = reqwest::Url::parse(base).map_err(|e| refused(format!("the endpoint {base} is not a URL: {e}")))?;
    let url = base.join(link).map_err(|e| refused(e.to_string()))?;
    if url.origin() != base.origin() {
        return Err(refused(format!(
            "it leads to {}, not to the service's endpoint {}",
            url.origin().ascii_serialization(),
            base.origin().ascii_serialization()
        )));
    }
    Ok(url)
}

/// The next page's link, however the service spells it: Glance's `next`, Nova, Cinder and
/// Neutron's `KEY_links` with `rel: next`, Designate's `links.next`.
fn next_link(answer: &Value, key: &str) -> Option<String> {
    if let Some(next) = answer["next"].as_str() {
        return Some(next.to_owned());
    }
    if let Some(links) = answer[format!("{key}_links")].as_array() {
        return links.iter().find(|l| l["rel"] == "next").and_then(|l| l["href"].as_str()).map(str::to_owned);
    }
    answer["links"]["next"].as_str().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn records_travel_inline_and_routing_keys_in_locators() {
        let collection = collections().find(|c| c.key == "servers").unwrap();
        let server = json!({"id": "s1", "name": "web", "status": "ACTIVE", "flavor": {"original_name": "b2-7"}});
        let record = record_item(collection, "s1", &server);
        assert_eq!(record.segments.last().unwrap().display(), "s1.json");
        let inline: Value = serde_json::from_slice(record.inline.as_ref().unwrap()).unwrap();
        assert_eq!(inline, server, "the record's bytes are the document as served");
        assert_eq!(record.size, Some(record.inline.as_ref().unwrap().len() as u64));
        assert_eq!((record.meta["name"].as_str(), record.locator.as_deref()), (Some("web"), None));

        let zone = designate::zone_file_item("z1", &json!({"id": "z1", "name": "example.org."}));
        assert_eq!(Locator::from_item(&zone).unwrap(), Locator::ZoneExport { zone_id: "z1".into() });
        assert_eq!(zone.meta.keys().collect::<Vec<_>>(), ["name"], "no routing key in the inventory");
        let volume = cinder::data_item("v1", &json!({"id": "v1", "status": "available"}));
        assert_eq!(Locator::from_item(&volume).unwrap(), Locator::VolumeData { volume_id: "v1".into() });
        assert!(volume.meta.is_empty() && volume.skip.is_none());
        // A locator survives the item's serialization (a resume journal, another worker).
        let back: Item = serde_json::from_str(&serde_json::to_string(&volume).unwrap()).unwrap();
        assert_eq!(Locator::from_item(&back).unwrap(), Locator::from_item(&volume).unwrap());
        // A locator naming a URL (as they once did) is not one: the token follows no URL it holds.
        let mut forged = volume.clone();
        forged.locator = Some(r#"{"open":"image-data","url":"http://evil.example/x"}"#.into());
        assert!(Locator::from_item(&forged).unwrap_err().to_string().contains("damaged"));
    }

    #[test]
    fn the_collections_keep_their_order() {
        let dirs: Vec<&str> = collections().map(|c| c.dir).collect();
        assert_eq!(
            dirs,
            [
                "glance/images",
                "nova/servers",
                "nova/keypairs",
                "cinder/volumes",
                "cinder/snapshots",
                "neutron/networks",
                "neutron/subnets",
                "neutron/routers",
                "neutron/ports",
                "neutron/security-groups",
                "neutron/floatingips",
                "designate/zones"
            ]
        );
    }

    #[test]
    fn endpoints_links_and_versions() {
        assert_eq!(api_base("http://g:9292/", "/v2"), "http://g:9292/v2");
        assert_eq!(api_base("http://g:9292/v2", "/v2"), "http://g:9292/v2");
        assert_eq!(api_base("http://n:8774/v2.1/p1", ""), "http://n:8774/v2.1/p1");
        let link = |link| on_origin("http://g:9292/v2", link).map(|url| url.to_string());
        assert_eq!(link("/v2/images?marker=x").unwrap(), "http://g:9292/v2/images?marker=x");
        assert_eq!(link("http://g:9292/v2/images?marker=y").unwrap(), "http://g:9292/v2/images?marker=y");
        for elsewhere in ["https://other/x", "http://g:9293/v2/images", "https://g:9292/v2", "//other/x"] {
            let refused = link(elsewhere).unwrap_err().to_string();
            assert!(refused.contains("not to the service's endpoint http://g:9292"), "{elsewhere}: {refused}");
        }
        // The server's link is quoted bounded, printable, and without its user info.
        let hostile = format!("https://user:link-password@other/\u{1b}[31m{}", "a".repeat(5000));
        let refused = link(&hostile).unwrap_err().to_string();
        assert!(!refused.contains("link-password") && !refused.contains('\u{1b}'), "{refused}");
        assert!(refused.len() < 1000, "{} characters", refused.len());
        let nova =
            json!({"servers": [], "servers_links": [{"rel": "next", "href": "http://n/servers/detail?marker=a"}]});
        assert_eq!(next_link(&nova, "servers").as_deref(), Some("http://n/servers/detail?marker=a"));
        let designate = json!({"zones": [], "links": {"self": "x", "next": "http://d/v2/zones?marker=z"}});
        assert_eq!(next_link(&designate, "zones").as_deref(), Some("http://d/v2/zones?marker=z"));
        assert_eq!(next_link(&json!({"images": []}), "images"), None);
    }
}
