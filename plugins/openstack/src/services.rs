//! `openstack://`: the project beyond its objects. Glance images owned by the project
//! (their description and their data, checked against `checksum` and `os_hash_value`), and
//! a JSON record of every resource of Nova (servers with flavor, metadata, security groups
//! and attached volumes; key pairs with their public keys), Cinder (volumes, snapshots),
//! Neutron (networks, subnets, routers, ports, security groups, floating IPs) and Designate
//! (zones, and each zone's BIND file from a zone export), each as the API serves it: whichever the catalog offers. A service the catalog
//! does not offer is reported as excluded ("not offered"), not as a failure.
//!
//! With `--include-volume-data`, every available or attached volume's data too: Cinder
//! copies it into a temporary Glance image (`os-volume_upload_image`), whose data is then
//! downloaded and checked like any image's, and the temporary image deleted.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::StreamExt;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sortie_core::error::{Error, ErrorKind, Result};
use sortie_core::item::{Item, Kind, ProviderChecksum, RawName, Skip};
use sortie_core::provider::{Body, Capabilities, Page, Provider};

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

const COLLECTIONS: &[Collection] = &[
    Collection {
        service: "Glance",
        kinds: &["image"],
        root: "/v2",
        list: "/images",
        key: "images",
        inner: None,
        id: "id",
        owner: Some("owner"),
        dir: "glance/images",
    },
    Collection {
        service: "Nova",
        kinds: &["compute"],
        root: "",
        list: "/servers/detail",
        key: "servers",
        inner: None,
        id: "id",
        owner: None,
        dir: "nova/servers",
    },
    Collection {
        service: "Nova",
        kinds: &["compute"],
        root: "",
        list: "/os-keypairs",
        key: "keypairs",
        inner: Some("keypair"),
        id: "name",
        owner: None,
        dir: "nova/keypairs",
    },
    Collection {
        service: "Cinder",
        kinds: &["block-storage", "volumev3", "volumev2", "volume"],
        root: "",
        list: "/volumes/detail",
        key: "volumes",
        inner: None,
        id: "id",
        owner: None,
        dir: "cinder/volumes",
    },
    Collection {
        service: "Cinder",
        kinds: &["block-storage", "volumev3", "volumev2", "volume"],
        root: "",
        list: "/snapshots/detail",
        key: "snapshots",
        inner: None,
        id: "id",
        owner: None,
        dir: "cinder/snapshots",
    },
    Collection {
        service: "Neutron",
        kinds: &["network"],
        root: "/v2.0",
        list: "/networks",
        key: "networks",
        inner: None,
        id: "id",
        owner: Some("project_id"),
        dir: "neutron/networks",
    },
    Collection {
        service: "Neutron",
        kinds: &["network"],
        root: "/v2.0",
        list: "/subnets",
        key: "subnets",
        inner: None,
        id: "id",
        owner: Some("project_id"),
        dir: "neutron/subnets",
    },
    Collection {
        service: "Neutron",
        kinds: &["network"],
        root: "/v2.0",
        list: "/routers",
        key: "routers",
        inner: None,
        id: "id",
        owner: Some("project_id"),
        dir: "neutron/routers",
    },
    Collection {
        service: "Neutron",
        kinds: &["network"],
        root: "/v2.0",
        list: "/ports",
        key: "ports",
        inner: None,
        id: "id",
        owner: Some("project_id"),
        dir: "neutron/ports",
    },
    Collection {
        service: "Neutron",
        kinds: &["network"],
        root: "/v2.0",
        list: "/security-groups",
        key: "security_groups",
        inner: None,
        id: "id",
        owner: Some("project_id"),
        dir: "neutron/security-groups",
    },
    Collection {
        service: "Neutron",
        kinds: &["network"],
        root: "/v2.0",
        list: "/floatingips",
        key: "floatingips",
        inner: None,
        id: "id",
        owner: Some("project_id"),
        dir: "neutron/floatingips",
    },
    Collection {
        service: "Designate",
        kinds: &["dns"],
        root: "/v2",
        list: "/zones",
        key: "zones",
        inner: None,
        id: "id",
        owner: None,
        dir: "designate/zones",
    },
];

/// Resources asked for per listing request.
const PAGE: u32 = 200;
/// Nova's microversion whose server records embed their flavor's details.
const COMPUTE_VERSION: &str = "compute 2.47";

#[derive(Debug, Serialize, Deserialize)]
struct Cursor {
    collection: usize,
    next: Option<String>,
}

/// The project's services, as one source (`data/openstack/…`).
pub struct ServicesSource {
    client: Arc<Client>,
    include_volume_data: bool,
    display: String,
    /// Why the object store is not part of the export, when the catalog has none.
    swift_absent: Option<String>,
    /// Records read while listing, served by `open` (taken, so that memory only holds
    /// those listed and not yet archived).
    records: Mutex<HashMap<Vec<u8>, Bytes>>,
}

impl ServicesSource {
    pub fn new(client: Arc<Client>, display: String, swift_absent: Option<String>, include_volume_data: bool) -> Self {
        Self { client, include_volume_data, display, swift_absent, records: Mutex::new(HashMap::new()) }
    }

    async fn page_of(&self, cursor: Cursor) -> Result<Page> {
        let Some(collection) = COLLECTIONS.get(cursor.collection) else {
            return Ok(Page::default());
        };
        let next_collection =
            || serde_json::to_string(&Cursor { collection: cursor.collection + 1, next: None }).expect("serializes");
        let Some(endpoint) = self.client.service_url(collection.kinds).await? else {
            // Said once per service, at its first collection.
            let first = COLLECTIONS.iter().position(|c| c.service == collection.service) == Some(cursor.collection);
            let items = if first { vec![not_offered(collection)] } else { Vec::new() };
            return Ok(Page { items, next: Some(next_collection()) });
        };
        let base = api_base(&endpoint, collection.root);
        let url = match &cursor.next {
            Some(next) => absolute(&base, next),
            None => {
                let mut url = format!("{base}{}?limit={PAGE}", collection.list);
                if let (Some(owner), Some(project)) = (collection.owner, self.client.project_id().await?) {
                    url.push_str(&format!("&{owner}={project}"));
                }
                url
            }
        };
        let what = format!("the {} listing of {}", collection.key, collection.service);
        let response = self.client.get(&url, &[("OpenStack-API-Version", COMPUTE_VERSION)], &what).await?;
        let answer = read_json(response, &what).await?;
        let entries = answer[collection.key].as_array().cloned().unwrap_or_default();
        let mut items = Vec::new();
        for entry in &entries {
            let resource = collection.inner.map_or(entry, |inner| &entry[inner]);
            let Some(id) = resource[collection.id].as_str() else {
                return Err(Error::new(ErrorKind::Other, format!("{what} has an entry without {}", collection.id)));
            };
            let record = record_item(collection, id, resource);
            let body = serde_json::to_vec_pretty(resource).expect("JSON serializes");
            self.records.lock().expect("records").insert(record.id.0.clone(), body.into());
            items.push(record);
            if collection.key == "images" {
                items.push(image_data_item(&base, id, resource));
            }
            if collection.key == "zones" {
                items.push(zone_file_item(&base, id, resource));
            }
            if collection.key == "volumes" && self.include_volume_data {
                items.push(volume_data_item(&base, id, resource));
            }
        }
        let next = match next_link(&answer, collection.key).filter(|_| !entries.is_empty()) {
            Some(link) => serde_json::to_string(&Cursor { collection: cursor.collection, next: Some(link) }).ok(),
            None => Some(next_collection()),
        };
        Ok(Page { items, next })
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

/// `dir/ID.json`, the resource as the API served it.
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
    item
}

/// An image's data, `glance/images/ID.DISK_FORMAT`, checked against Glance's checksums.
fn image_data_item(base: &str, id: &str, image: &Value) -> Item {
    let format = image["disk_format"].as_str().unwrap_or("data");
    let segments = vec![RawName::text("glance"), RawName::text("images"), RawName::text(&format!("{id}.{format}"))];
    let mut item = Item::new(RawName::text(&format!("glance/images/{id}/file")), segments, Kind::Image);
    item.size = image["size"].as_u64();
    item.content_type = Some("application/octet-stream".into());
    item.meta.insert("url".into(), json!(format!("{base}/images/{id}/file")));
    item.checksum = glance_checksum(image);
    match image["status"].as_str().unwrap_or("unknown") {
        "active" => {}
        "deactivated" => {
            item.skip = Some(Skip::Failed(
                "the image is deactivated: Glance refuses to give its data until an administrator reactivates it"
                    .into(),
            ));
        }
        status => {
            item.skip = Some(Skip::Excluded(format!("the image is {status}: it has no data to download")));
        }
    }
    item
}

/// What Glance says of an image's data: its MD5 `checksum`, and `os_hash_value` in the
/// algorithm `os_hash_algo` names.
fn glance_checksum(image: &Value) -> Option<ProviderChecksum> {
    let text = |field: &str| image[field].as_str().map(str::to_ascii_lowercase);
    let (algorithm, value) = (text("os_hash_algo"), text("os_hash_value"));
    text("checksum").map(|md5| ProviderChecksum {
        served: md5.clone(),
        md5: Some(md5),
        note: None,
        sha256: value.clone().filter(|_| algorithm.as_deref() == Some("sha256")),
        sha512: value.clone().filter(|_| algorithm.as_deref() == Some("sha512")),
        parts_md5: None,
    })
}

/// A zone's BIND file, `designate/zones/ID.zone`, from Designate's zone export.
fn zone_file_item(base: &str, id: &str, zone: &Value) -> Item {
    let segments = vec![RawName::text("designate"), RawName::text("zones"), RawName::text(&format!("{id}.zone"))];
    let mut item = Item::new(RawName::text(&format!("designate/zones/{id}/export")), segments, Kind::Record);
    item.content_type = Some("text/dns".into());
    item.meta.insert("zone_export".into(), json!(format!("{base}/zones/{id}/tasks/export")));
    item.meta.insert("exports".into(), json!(format!("{base}/zones/tasks/exports")));
    if let Some(name) = zone["name"].as_str() {
        item.meta.insert("name".into(), json!(name));
    }
    item
}

/// A volume's data, `cinder/volumes/ID.raw`, read through a temporary Glance image.
fn volume_data_item(base: &str, id: &str, volume: &Value) -> Item {
    let segments = vec![RawName::text("cinder"), RawName::text("volumes"), RawName::text(&format!("{id}.raw"))];
    let mut item = Item::new(RawName::text(&format!("cinder/volumes/{id}/data")), segments, Kind::Image);
    item.content_type = Some("application/octet-stream".into());
    item.meta.insert("volume_id".into(), json!(id));
    item.meta.insert("action".into(), json!(format!("{base}/volumes/{id}/action")));
    match volume["status"].as_str().unwrap_or("unknown") {
        "available" | "in-use" => {}
        status => {
            item.skip = Some(Skip::Failed(format!(
                "the volume is {status}: Cinder copies the data of available or attached volumes only"
            )));
        }
    }
    item
}

/// How long Cinder may take to copy a volume into an image.
const UPLOAD_TIMEOUT: Duration = Duration::from_secs(6 * 3600);
/// How often the temporary image's status is asked for meanwhile.
const UPLOAD_POLL: Duration = Duration::from_secs(2);

/// A temporary image made from a volume: deleted once read, or when dropped unread.
struct TempImage {
    client: Arc<Client>,
    url: String,
    armed: bool,
}

impl TempImage {
    async fn delete(mut self) {
        self.armed = false;
        if let Err(e) = self.client.call(Method::DELETE, &self.url, None, &[], "the temporary image").await {
            tracing::warn!("could not delete the temporary image {}: {e}", self.url);
        }
    }
}

impl Drop for TempImage {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let (client, url) = (self.client.clone(), self.url.clone());
            runtime.spawn(async move {
                let _ = client.call(Method::DELETE, &url, None, &[], "the temporary image").await;
            });
        }
    }
}

impl ServicesSource {
    /// Has Cinder copy a volume into a temporary image, waits for it, and streams its data.
    async fn open_volume(&self, item: &Item) -> Result<Body> {
        let text = |key: &str| item.meta.get(key).and_then(Value::as_str).unwrap_or_default().to_owned();
        let volume = text("volume_id");
        let glance = self.client.service_url(&["image"]).await?.ok_or_else(|| {
            Error::new(
                ErrorKind::Unsupported,
                "reading a volume's data needs Glance, which this catalog does not offer",
            )
        })?;
        let glance = api_base(&glance, "/v2");
        let what = format!("the copy of volume {volume} into an image");
        let request = json!({ "os-volume_upload_image": {
            "image_name": format!("sortie-export-{volume}"), "force": true,
            "disk_format": "raw", "container_format": "bare" } });
        let answer = self.client.call(Method::POST, &text("action"), Some(&request), &[], &what).await?;
        let answer = read_json(answer, &what).await?;
        let image = answer["os-volume_upload_image"]["image_id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| Error::new(ErrorKind::Other, format!("{what}: Cinder's answer names no image_id")))?;
        let temp = TempImage { client: self.client.clone(), url: format!("{glance}/images/{image}"), armed: true };
        let started = Instant::now();
        let described = loop {
            let response = self.client.get(&temp.url, &[], &what).await?;
            let described = read_json(response, &what).await?;
            match described["status"].as_str().unwrap_or_default() {
                "active" => break described,
                "killed" | "deleted" | "pending_delete" | "deactivated" => {
                    return Err(Error::new(
                        ErrorKind::Other,
                        format!("{what} failed: the image is {}", described["status"]),
                    ));
                }
                _ if started.elapsed() > UPLOAD_TIMEOUT => {
                    return Err(Error::new(ErrorKind::Unavailable, format!("{what} did not finish in 6 hours")));
                }
                _ => tokio::time::sleep(UPLOAD_POLL).await,
            }
        };
        let checksum = glance_checksum(&described);
        let response = self.client.get(&format!("{}/file", temp.url), &[], &what).await?;
        let size = response.content_length();
        let name = item.id.display();
        // The image goes once its last byte has been read.
        let cleanup = futures_util::stream::once(temp.delete()).filter_map(|()| async { None });
        let stream = response
            .bytes_stream()
            .map(move |chunk| {
                chunk.map_err(|e| {
                    Error::new(ErrorKind::Unavailable, format!("reading {name} broke off: {e}")).temporary()
                })
            })
            .chain(cleanup)
            .boxed();
        Ok(Body { checksum, ..Body::streaming(size, stream) })
    }
}

impl ServicesSource {
    /// Asks Designate to export a zone as a BIND file, waits for the export, reads it, and
    /// deletes the export task.
    async fn open_zone(&self, item: &Item) -> Result<Body> {
        let text = |key: &str| item.meta.get(key).and_then(Value::as_str).unwrap_or_default().to_owned();
        let what = format!("the export of zone {}", text("name"));
        let answer = self.client.call(Method::POST, &text("zone_export"), Some(&json!({})), &[], &what).await?;
        let task = read_json(answer, &what).await?;
        let id = task["id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| Error::new(ErrorKind::Other, format!("{what}: Designate's answer names no export id")))?;
        let task_url = format!("{}/{id}", text("exports"));
        let started = Instant::now();
        let mut status = task["status"].as_str().unwrap_or_default().to_owned();
        while status != "COMPLETE" {
            if status == "ERROR" || started.elapsed() > EXPORT_TIMEOUT {
                return Err(Error::new(ErrorKind::Unavailable, format!("{what} did not complete (status {status})")));
            }
            tokio::time::sleep(UPLOAD_POLL).await;
            let response = self.client.get(&task_url, &[], &what).await?;
            let task = read_json(response, &what).await?;
            status = task["status"].as_str().unwrap_or_default().to_owned();
        }
        let zone = self.client.get(&format!("{task_url}/export"), &[("Accept", "text/dns")], &what).await?;
        let bytes = read(zone, &what).await?;
        if let Err(e) = self.client.call(Method::DELETE, &task_url, None, &[], &what).await {
            tracing::warn!("could not delete {what}'s task: {e}");
        }
        Ok(Body::from_bytes(bytes, Some("text/dns")))
    }
}

/// How long Designate may take to export a zone.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(600);

async fn read(response: reqwest::Response, what: &str) -> Result<Bytes> {
    response.bytes().await.map_err(|e| Error::new(ErrorKind::Unavailable, format!("reading {what}: {e}")).temporary())
}

/// A service's JSON answer; `what` names the request in messages.
async fn read_json(response: reqwest::Response, what: &str) -> Result<Value> {
    serde_json::from_slice(&read(response, what).await?)
        .map_err(|e| Error::new(ErrorKind::Other, format!("{what}: the answer is not JSON: {e}")))
}

/// The endpoint with its API version: catalogs give Glance and Neutron without one.
fn api_base(endpoint: &str, root: &str) -> String {
    let endpoint = endpoint.trim_end_matches('/');
    if root.is_empty() || endpoint.ends_with(root) { endpoint.to_owned() } else { format!("{endpoint}{root}") }
}

/// Resolves a next link: Glance gives a path from the server's root (`/v2/images?marker=…`),
/// the others a whole URL.
fn absolute(base: &str, link: &str) -> String {
    if link.starts_with("http://") || link.starts_with("https://") {
        return link.to_owned();
    }
    let origin_end = base.find("://").map_or(0, |i| i + 3);
    let origin = base[origin_end..].find('/').map_or(base, |i| &base[..origin_end + i]);
    format!("{origin}{link}")
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

#[async_trait]
impl Provider for ServicesSource {
    fn source_id(&self) -> String {
        "openstack".into()
    }

    fn display_url(&self) -> String {
        self.display.clone()
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
    }

    async fn check(&self) -> Result<()> {
        self.client.project_id().await.map(|_| ())
    }

    async fn list_page(&self, cursor: Option<String>) -> Result<Page> {
        let Some(cursor) = cursor else {
            // The first page says whether the object store is part of the export.
            let mut items = Vec::new();
            if let Some(why) = &self.swift_absent {
                let mut item = Item::new(RawName::text("swift"), vec![RawName::text("swift")], Kind::Record);
                item.has_body = false;
                item.skip = Some(Skip::Excluded(format!("not offered: {why}")));
                items.push(item);
            }
            let next = serde_json::to_string(&Cursor { collection: 0, next: None }).expect("serializes");
            return Ok(Page { items, next: Some(next) });
        };
        let cursor: Cursor = serde_json::from_str(&cursor)
            .map_err(|e| Error::new(ErrorKind::Other, format!("a listing cursor is damaged: {e}")))?;
        self.page_of(cursor).await
    }

    async fn open(&self, item: &Item) -> Result<Body> {
        if item.meta.contains_key("volume_id") {
            return self.open_volume(item).await;
        }
        if item.meta.contains_key("zone_export") {
            return self.open_zone(item).await;
        }
        if item.kind == Kind::Image {
            let url = item.meta.get("url").and_then(Value::as_str).unwrap_or_default();
            let response = self.client.get(url, &[], &format!("the data of image {}", item.id.display())).await?;
            let size = response.content_length();
            let name = item.id.display();
            let stream = response
                .bytes_stream()
                .map(move |chunk| {
                    chunk.map_err(|e| {
                        Error::new(ErrorKind::Unavailable, format!("reading {name} broke off: {e}")).temporary()
                    })
                })
                .boxed();
            return Ok(Body::streaming(size, stream));
        }
        let taken = self.records.lock().expect("records").remove(&item.id.0);
        let Some(bytes) = taken else {
            return Err(Error::new(
                ErrorKind::Other,
                format!("the record of {} was already read once and is not kept for a second try", item.id.display()),
            ));
        };
        Ok(Body::from_bytes(bytes, Some("application/json")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_links_and_versions() {
        assert_eq!(api_base("http://g:9292/", "/v2"), "http://g:9292/v2");
        assert_eq!(api_base("http://g:9292/v2", "/v2"), "http://g:9292/v2");
        assert_eq!(api_base("http://n:8774/v2.1/p1", ""), "http://n:8774/v2.1/p1");
        assert_eq!(absolute("http://g:9292/v2", "/v2/images?marker=x"), "http://g:9292/v2/images?marker=x");
        assert_eq!(absolute("http://g:9292/v2", "https://other/x"), "https://other/x");
        let nova =
            json!({"servers": [], "servers_links": [{"rel": "next", "href": "http://n/servers/detail?marker=a"}]});
        assert_eq!(next_link(&nova, "servers").as_deref(), Some("http://n/servers/detail?marker=a"));
        let designate = json!({"zones": [], "links": {"self": "x", "next": "http://d/v2/zones?marker=z"}});
        assert_eq!(next_link(&designate, "zones").as_deref(), Some("http://d/v2/zones?marker=z"));
        assert_eq!(next_link(&json!({"images": []}), "images"), None);
    }

    #[test]
    fn image_data_is_checked_against_glance_checksums_and_status() {
        let image = json!({"id": "i1", "status": "active", "disk_format": "qcow2", "size": 5, "checksum": "ABC",
                           "os_hash_algo": "sha512", "os_hash_value": "DEF"});
        let item = image_data_item("http://g/v2", "i1", &image);
        assert_eq!(item.segments.last().unwrap().display(), "i1.qcow2");
        let checksum = item.checksum.unwrap();
        assert_eq!((checksum.md5.as_deref(), checksum.sha512.as_deref()), (Some("abc"), Some("def")));
        assert!(item.skip.is_none());
        let queued = image_data_item("http://g/v2", "i2", &json!({"id": "i2", "status": "queued"}));
        assert!(matches!(queued.skip, Some(Skip::Excluded(_))));
        let deactivated = image_data_item("http://g/v2", "i3", &json!({"id": "i3", "status": "deactivated"}));
        assert!(matches!(deactivated.skip, Some(Skip::Failed(_))));
    }
}
