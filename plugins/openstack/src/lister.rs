//! Listing one container, page by page: `format=json` with `limit`/`marker` (and the
//! `versions` listing of a container with object versioning), each entry turned into an
//! item; the large objects of a page are resolved there and then (their manifests read,
//! their segments listed) so that the engine can check their parts while they stream.
//!
//! Every item is data: an SLO's manifest and the container's description travel inline
//! with their items, and an object listed with a version id carries it as its locator, so
//! that `open` fetches that very version, in any process.

use std::time::SystemTime;

use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sortie_sdk::error::{Error, ErrorKind, Result};
use sortie_sdk::item::{Area, Item, Kind, ProviderChecksum, RawName, Skip};
use sortie_sdk::provider::Page;

use crate::client::{Client, Request};
use crate::large_objects::{
    LARGE_OBJECTS_AT_ONCE, Parts, SegmentRefs, dlo_manifest, dlo_parts, slo_manifest, slo_parts,
};

/// The first segment of the configuration path under which SLO manifests are kept.
const MANIFESTS: &str = "slo-manifests";
/// The configuration item describing the container itself.
const CONTAINER_DOC: &str = "container.json";
/// The account's description, in the account's own source.
const ACCOUNT_DOC: &str = "account.json";
/// What Swift's delete markers are typed as.
pub const DELETE_MARKER: &str = "application/x-deleted;swift_versions_deleted=1";

/// One entry of a container listing.
#[derive(Debug, Clone, Deserialize)]
pub struct Entry {
    pub name: String,
    #[serde(default)]
    pub bytes: u64,
    #[serde(default)]
    pub hash: String,
    #[serde(default)]
    pub content_type: String,
    pub last_modified: Option<String>,
    /// Set for static large objects (`bytes` is then the assembled size).
    pub slo_etag: Option<String>,
    pub symlink_path: Option<String>,
    pub version_id: Option<String>,
    pub is_latest: Option<bool>,
}

/// Where the next page starts.
#[derive(Debug, Serialize, Deserialize)]
struct Cursor {
    marker: String,
    version_marker: Option<String>,
}

/// A container listing request.
pub fn list_request<'a>(
    container: &'a str,
    prefix: &str,
    marker: &str,
    version_marker: Option<&str>,
    limit: u32,
    versions: bool,
) -> Request<'a> {
    let mut query = vec![("format", "json".to_owned()), ("limit", limit.to_string())];
    if !prefix.is_empty() {
        query.push(("prefix", prefix.to_owned()));
    }
    if !marker.is_empty() {
        query.push(("marker", marker.to_owned()));
    }
    if versions {
        query.push(("versions", String::new()));
        if let Some(version) = version_marker {
            query.push(("version_marker", version.to_owned()));
        }
    }
    Request { container: Some(container), query, ..Request::default() }
}

/// Sends a listing request and parses its JSON answer.
pub async fn list_json(client: &Client, request: &Request<'_>) -> Result<Vec<Entry>> {
    let response = client.send(request).await?;
    let bytes = response.bytes().await.map_err(|e| {
        Error::new(
            ErrorKind::Unavailable,
            format!("reading a listing of container '{}': {e}", request.container.unwrap_or("")),
        )
        .temporary()
    })?;
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    serde_json::from_slice(&bytes).map_err(|e| {
        Error::new(
            ErrorKind::Other,
            format!("the listing of container '{}' is not Swift's JSON: {e}", request.container.unwrap_or("")),
        )
    })
}

/// Lists one container.
pub struct Lister<'a> {
    pub client: &'a Client,
    pub container: &'a str,
    pub prefix: &'a str,
    pub page_size: u32,
    /// List every version (`?versions`) rather than the current objects.
    pub versions: bool,
    /// The container's description, the first item.
    pub description: &'a Bytes,
    /// The objects of this container that its owner's large objects use, left out (none
    /// unless it is exported as a segment container, without `--include-segments`).
    pub owned: Option<&'a SegmentRefs>,
}

impl Lister<'_> {
    /// One page; the first also carries the container's description.
    pub async fn page(&self, cursor: Option<String>) -> Result<Page> {
        let cursor: Cursor = match &cursor {
            Some(text) => serde_json::from_str(text)
                .map_err(|e| Error::new(ErrorKind::Other, format!("a listing cursor is damaged: {e}")))?,
            None => Cursor { marker: String::new(), version_marker: None },
        };
        let request = list_request(
            self.container,
            self.prefix,
            &cursor.marker,
            cursor.version_marker.as_deref(),
            self.page_size,
            self.versions,
        );
        let entries = list_json(self.client, &request).await.map_err(|e| match e.kind() {
            ErrorKind::NotFound => Error::new(
                ErrorKind::NotFound,
                format!("container '{}' no longer exists (deleted during the export?)", self.container),
            ),
            _ => e,
        })?;
        // Swift says nothing of a next page: only an empty page ends the listing, since a
        // server may return fewer entries than asked for before the end.
        let next = entries.last().map(|last| {
            serde_json::to_string(&Cursor {
                marker: last.name.clone(),
                version_marker: last.version_id.clone().filter(|_| self.versions),
            })
            .expect("a cursor serializes")
        });
        let items: Vec<Vec<Item>> = futures_util::stream::iter(entries.into_iter().map(|entry| self.items(entry)))
            .buffered(LARGE_OBJECTS_AT_ONCE)
            .try_collect()
            .await?;
        let mut items: Vec<Item> = items.into_iter().flatten().collect();
        if cursor.marker.is_empty() {
            items.insert(0, description_item(CONTAINER_DOC, self.description));
        }
        Ok(Page::new(items, next))
    }

    /// The items for one listing entry: the object, and an SLO's manifest.
    async fn items(&self, entry: Entry) -> Result<Vec<Item>> {
        let mut item = base_item(&entry);
        let latest = entry.is_latest.unwrap_or(true);
        if !latest {
            item.area = Area::Versions;
            item.version = entry.version_id.as_deref().map(RawName::text);
            item.kind = Kind::ObjectVersion;
        }
        if let Some(version) = &entry.version_id {
            item.meta.insert("version_id".into(), json!(version));
            item.locator = Some(version.clone()).filter(|_| self.versions);
        }
        if entry.content_type == DELETE_MARKER {
            item.kind = Kind::DeleteMarker;
            item.has_body = false;
            item.size = Some(0);
            item.checksum = None;
            return Ok(vec![item]);
        }
        if let Some(target) = &entry.symlink_path {
            item.kind = Kind::Symlink;
            item.has_body = false;
            item.checksum = None;
            item.meta.insert("symlink_target".into(), json!(target));
            return Ok(vec![item]);
        }
        let mut items = Vec::new();
        if let Some(slo_etag) = &entry.slo_etag {
            let manifest = slo_manifest(self.client, self.container, &entry, self.versions).await;
            let (manifest, parts) = match manifest.and_then(|m| Ok((slo_parts(&m)?, m))) {
                Ok((parts, manifest)) => (manifest, parts),
                Err(e) => return failed(item, e.context("reading its SLO manifest")),
            };
            item.meta.insert("static_large_object".into(), json!(true));
            item.meta.insert("manifest_etag".into(), json!(entry.hash));
            apply_parts(&mut item, slo_etag, parts);
            let mut manifest_item = item.clone();
            manifest_item.segments.insert(0, RawName::text(MANIFESTS));
            manifest_item.area = Area::Config;
            manifest_item.kind = Kind::Config;
            manifest_item.checksum = None;
            manifest_item.content_type = Some("application/json".into());
            manifest_item.meta.retain(|k, _| k == "version_id");
            manifest_item.meta.insert("manifest_of".into(), json!(entry.name));
            manifest_item.locator = None;
            // Archived as read here, the very manifest the segments are checked against.
            manifest_item.set_inline(manifest);
            items.push(item);
            items.push(manifest_item);
            return Ok(items);
        }
        let manifest = match entry.bytes {
            0 => match dlo_manifest(self.client, self.container, &entry, self.versions).await {
                Ok(manifest) => manifest,
                Err(e) => return failed(item, e.context("asking whether it is a DLO")),
            },
            _ => None,
        };
        if let Some((container, prefix)) = manifest {
            let parts = match dlo_parts(self.client, &container, &prefix).await {
                Ok(parts) => parts,
                Err(e) => return failed(item, e.context(format!("listing its DLO segments ({container}/{prefix})"))),
            };
            item.meta.insert("object_manifest".into(), json!(format!("{container}/{prefix}")));
            let etag = parts.dlo_etag.clone().unwrap_or_default();
            apply_parts(&mut item, &etag, parts);
        }
        let owned = self.owned.and_then(|refs| refs.large_object_of(self.container, &entry.name, item.modified));
        if let Some(large_object) = owned {
            item.skip = Some(Skip::Excluded(format!(
                "a segment of the large object {large_object}, archived there assembled (--include-segments \
                 archives segments too)"
            )));
        }
        items.push(item);
        Ok(items)
    }
}

/// One entry of the account's container list.
#[derive(Deserialize)]
struct ContainerEntry {
    name: String,
}

/// Every container of the account, in Swift's order (by name).
pub async fn containers(client: &Client, page_size: u32) -> Result<Vec<String>> {
    let mut names: Vec<String> = Vec::new();
    let mut marker = String::new();
    loop {
        let mut query = vec![("format", "json".to_owned()), ("limit", page_size.to_string())];
        if !marker.is_empty() {
            query.push(("marker", marker.clone()));
        }
        let response = client.send(&Request { query, ..Request::default() }).await?;
        let bytes = response.bytes().await.map_err(|e| {
            Error::new(ErrorKind::Unavailable, format!("reading the account's container list: {e}")).temporary()
        })?;
        let page: Vec<ContainerEntry> = serde_json::from_slice(&bytes).map_err(|e| {
            Error::new(ErrorKind::Other, format!("the account's container list is not Swift's JSON: {e}"))
        })?;
        let Some(last) = page.last() else { return Ok(names) };
        marker = last.name.clone();
        names.extend(page.into_iter().map(|c| c.name));
    }
}

/// A large object whose parts cannot be known: a temporary error retries the page, any other
/// fails this object alone, the listing going on.
fn failed(mut item: Item, error: Error) -> Result<Vec<Item>> {
    if error.is_temporary() {
        return Err(error);
    }
    item.skip = Some(Skip::Failed(error.to_string()));
    Ok(vec![item])
}

/// The item of a listing entry, before large objects and versions are looked at.
fn base_item(entry: &Entry) -> Item {
    let segments = entry.name.split('/').map(RawName::text).collect();
    let mut item = Item::new(RawName::text(&entry.name), segments, Kind::Object);
    item.size = Some(entry.bytes);
    item.modified = entry.last_modified.as_deref().and_then(parse_time);
    item.content_type = Some(entry.content_type.clone()).filter(|t| !t.is_empty());
    let hash = entry.hash.to_ascii_lowercase();
    let is_md5 = hash.len() == 32 && hash.bytes().all(|b| b.is_ascii_hexdigit());
    item.checksum = Some(if is_md5 {
        ProviderChecksum::md5(entry.hash.clone(), hash)
    } else {
        ProviderChecksum::unchecked(entry.hash.clone(), Some("the listing's hash is not an MD5".to_owned()))
    });
    item
}

/// Replaces an item's checksum and size by its large object parts.
fn apply_parts(item: &mut Item, served: &str, parts: Parts) {
    item.size = Some(parts.total);
    item.meta.insert("segments".into(), Value::from(parts.check.part_sizes.len()));
    let mut checksum = ProviderChecksum::unchecked(
        served,
        Some("a large object: each segment's size and MD5 is checked against its manifest".into()),
    );
    checksum.parts_md5 = Some(parts.check);
    item.checksum = Some(checksum);
}

/// A container's or account's description (`_config/container.json`, `account.json`),
/// with its bytes.
fn description_item(name: &str, description: &Bytes) -> Item {
    let mut item = Item::new(RawName::text(name), vec![RawName::text(name)], Kind::Config);
    item.area = Area::Config;
    item.content_type = Some("application/json".into());
    item.set_inline(description.clone());
    item
}

/// The only page of an account's own source: its description.
pub fn account_page(description: &Bytes) -> Page {
    Page::new(vec![description_item(ACCOUNT_DOC, description)], None)
}

/// Swift's `2026-11-22T13:06:31.008410` (UTC, no zone).
pub fn parse_time(text: &str) -> Option<SystemTime> {
    humantime::parse_rfc3339_weak(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_become_items_with_their_md5() {
        let entry: Entry = serde_json::from_str(
            r#"{"bytes": 3, "hash": "764EFA883DDA1E11DB47671C4A3BBD9E", "name": "a/b//c", "content_type": "text/plain",
                "last_modified": "2026-11-22T13:06:33.579360"}"#,
        )
        .unwrap();
        let item = base_item(&entry);
        assert_eq!(item.segments.len(), 4);
        assert_eq!(item.checksum.unwrap().md5.as_deref(), Some("764efa883dda1e11db47671c4a3bbd9e"));
        assert_eq!(item.modified.unwrap().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs(), 1_795_352_793);
    }
}
