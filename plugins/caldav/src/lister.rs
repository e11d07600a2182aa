//! The listing, page by page: first the account's and every collection's description
//! (configuration), then each collection's resources, a batch per page, their bodies
//! fetched by one multiget REPORT and handed over inline. A resource larger than an inline
//! body may be, or a server without REPORT, leaves the bytes to `open` (a GET).
//!
//! The cursor names a collection by its place in the discovered list and a resource by
//! its place in the collection's sorted membership: both lists are read again from the
//! server by a process that did not list before.

use std::time::SystemTime;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sortie_sdk::item::{Area, Item, Kind, ProviderChecksum, RawName, Skip};
use sortie_sdk::provider::Page;
use sortie_sdk::{Error, ErrorKind, Result};

use crate::client::Client;
use crate::discovery::{Collection, Discovery, decoded_path, last_segment, same};
use crate::flavor::Flavor;
use crate::names;
use crate::props::{is, text};
use sortie_http::dav::{DAV, ParseOptions, PropName, Response};

/// The most bytes (by the sizes the server announces) one page asks a multiget for.
const PAGE_BYTES: u64 = 32 << 20;

/// The largest resource body a multiget answer may carry (one whose size the PROPFIND did
/// not announce); one above the inline cap is dropped and read by GET.
const MULTIGET_PROPERTY_BYTES: usize = 4 * Item::INLINE_MAX;

/// Where the next page starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// The collection's index in the discovered list.
    pub collection: usize,
    /// The first resource's index in the collection's sorted membership.
    pub offset: usize,
}

impl Cursor {
    pub fn encode(self) -> String {
        serde_json::to_string(&self).expect("a cursor serializes")
    }

    pub fn decode(text: &str) -> Result<Self> {
        serde_json::from_str(text)
            .map_err(|_| Error::new(ErrorKind::InvalidInput, format!("'{text}' is not a cursor of a DAV listing")))
    }
}

/// One resource of a collection, as its PROPFIND lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub href: String,
    /// Its file in the collection's directory: the href's last segment, decoded, with the
    /// extension, distinct from its neighbours' (see `names`).
    pub file: Vec<u8>,
    pub etag: Option<String>,
    pub size: Option<u64>,
    pub content_type: Option<String>,
    pub modified: Option<SystemTime>,
}

/// The first page: the descriptions.
pub fn descriptions(discovery: &Discovery, flavor: Flavor) -> Page {
    let mut items = vec![config_item("account.json", &discovery.description(flavor))];
    items.extend(discovery.collections.iter().map(|c| config_item(&format!("{}.json", c.name), &c.properties)));
    let next = (!discovery.collections.is_empty()).then(|| Cursor { collection: 0, offset: 0 }.encode());
    Page::new(items, next)
}

fn config_item(name: &str, document: &Value) -> Item {
    let mut item = Item::new(RawName::text(&format!("_config/{name}")), vec![RawName::text(name)], Kind::Config);
    item.area = Area::Config;
    item.content_type = Some("application/json".into());
    let mut bytes = serde_json::to_vec_pretty(document).expect("JSON serializes");
    bytes.push(b'\n');
    item.set_inline(Bytes::from(bytes));
    item
}

/// The resources of `collection`, sorted by decoded href, each once; `None` when it no
/// longer exists. A listing that names a resource on another server or outside the
/// collection (`../`, another path) is refused: following it would send the credentials
/// elsewhere or archive what is not the collection's.
pub async fn members(client: &Client, flavor: Flavor, collection: &Collection) -> Result<Option<Vec<Member>>> {
    let body = r#"<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/><D:getetag/><D:getcontentlength/><D:getcontenttype/><D:getlastmodified/></D:prop></D:propfind>"#;
    let answer = client.send("PROPFIND", &collection.href, Some("1"), Some(body.to_owned())).await?;
    if matches!(answer.status.as_u16(), 404 | 410) {
        return Ok(None);
    }
    let collection_url = reqwest::Url::parse(&client.url(&collection.href)).map_err(|e| {
        Error::new(ErrorKind::InvalidInput, format!("{} is not a URL: {e}", client.url(&collection.href)))
    })?;
    let (mut members, mut gone, mut stray) = (Vec::new(), false, None);
    let add = |r: Response| {
        if same(&r.href, &collection.href) {
            // Xandikos answers a missing collection with a 207 whose one response is a 404.
            gone |= r.status == Some(404);
        } else if !is(&r, DAV, "collection") && r.status.is_none_or(|s| s == 200) {
            let path = client.path_of_response(&r.href, &r.url).filter(|_| directly_inside(&collection_url, &r.url));
            let Some(href) = path else {
                stray.get_or_insert(r.href);
                return;
            };
            members.push(Member {
                etag: text(&r, DAV, "getetag").map(str::to_owned),
                size: text(&r, DAV, "getcontentlength").and_then(|t| t.parse().ok()),
                content_type: text(&r, DAV, "getcontenttype").map(str::to_owned),
                modified: text(&r, DAV, "getlastmodified").and_then(sortie_http::http_date),
                file: Vec::new(),
                href,
            });
        }
    };
    client.each_response("PROPFIND", &collection.href, answer, ParseOptions::default(), add).await?;
    if gone {
        return Ok(None);
    }
    if let Some(href) = stray {
        return Err(Error::new(
            ErrorKind::Other,
            format!(
                "{} listed '{href}' as a member of the {} {}, but it is not a resource directly inside it on this \
                 server: Sortie does not follow it",
                client.who(),
                flavor.noun(),
                collection.href
            ),
        ));
    }
    members.sort_by_cached_key(|m| decoded_path(&m.href));
    members.dedup_by(|a, b| same(&a.href, &b.href));
    let files = names::distinct(
        members.iter().map(|m| file_name(flavor, &m.href)).collect(),
        flavor.extension().as_bytes(),
        &[],
    );
    for (member, file) in members.iter_mut().zip(files) {
        member.file = file;
    }
    Ok(Some(members))
}

/// Whether `url` is a resource directly inside the collection at `collection`: the same
/// path segments, decoded, and one more.
fn directly_inside(collection: &reqwest::Url, url: &reqwest::Url) -> bool {
    let segments = |u: &reqwest::Url| -> Vec<Vec<u8>> {
        let all = u.path_segments().into_iter().flatten().filter(|s| !s.is_empty());
        all.map(|s| percent_encoding::percent_decode_str(s).collect()).collect()
    };
    let (outer, inner) = (segments(collection), segments(url));
    inner.len() == outer.len() + 1 && inner.starts_with(&outer)
}

/// A resource's file name: its href's last segment, decoded, with the extension.
fn file_name(flavor: Flavor, href: &str) -> Vec<u8> {
    let mut file = last_segment(href);
    if !String::from_utf8_lossy(&file).to_ascii_lowercase().ends_with(flavor.extension()) {
        file.extend_from_slice(flavor.extension().as_bytes());
    }
    file
}

/// The page of `collection` (the `index`th) starting at `offset` of its `members`.
pub async fn page(
    client: &Client,
    flavor: Flavor,
    collection: &Collection,
    index: usize,
    members: &[Member],
    offset: usize,
    last_collection: bool,
) -> Result<Page> {
    let mut end = offset;
    let mut bytes = 0;
    while end < members.len() && end - offset < client.batch() && (end == offset || bytes <= PAGE_BYTES) {
        bytes += members[end].size.filter(|s| *s <= Item::INLINE_MAX as u64).unwrap_or(0);
        end += 1;
    }
    let batch = &members[offset.min(end)..end];
    let small: Vec<&Member> = batch.iter().filter(|m| m.size.is_none_or(|s| s <= Item::INLINE_MAX as u64)).collect();
    let after_collection = (!last_collection).then_some(Cursor { collection: index + 1, offset: 0 });
    let fetched = match multiget(client, flavor, collection, &small).await {
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(deleted(flavor, collection, after_collection)),
        other => other?,
    };
    let items = batch.iter().map(|member| item(flavor, collection, member, fetched.as_deref())).collect();
    let next = if end < members.len() { Some(Cursor { collection: index, offset: end }) } else { after_collection };
    Ok(Page::new(items, next.map(Cursor::encode)))
}

/// What a multiget returned for one href.
enum Fetched {
    Body { etag: Option<String>, bytes: Bytes },
    Gone,
}

/// The bodies of `members` by one multiget, keyed by decoded path; `None` when the server
/// has no multiget or one body was too large for it (then every resource is read by GET).
async fn multiget(
    client: &Client,
    flavor: Flavor,
    collection: &Collection,
    members: &[&Member],
) -> Result<Option<Vec<(Vec<u8>, Fetched)>>> {
    if members.is_empty() {
        return Ok(Some(Vec::new()));
    }
    let (report, data) = flavor.multiget();
    let mut body = format!(
        r#"<?xml version="1.0" encoding="utf-8"?><X:{report} xmlns:D="DAV:" xmlns:X="{}"><D:prop><D:getetag/><X:{data}/></D:prop>"#,
        flavor.ns()
    );
    for member in members {
        body.push_str("<D:href>");
        body.push_str(&quick_xml::escape::escape(member.href.as_str()));
        body.push_str("</D:href>");
    }
    body.push_str(&format!("</X:{report}>"));
    let answer = client.send("REPORT", &collection.href, Some("1"), Some(body)).await?;
    // A server that does not know the report: 405 or 501, or 400/415 from some.
    if matches!(answer.status.as_u16(), 400 | 405 | 415 | 501) {
        return Ok(None);
    }
    // Whole resources travel in it, line ends as served; a larger one than an inline body
    // may be is read by GET instead (see `item`).
    let options = ParseOptions { keep_line_ends: true, max_property_bytes: MULTIGET_PROPERTY_BYTES };
    let responses = match client.read_multistatus("REPORT", &collection.href, answer, options).await {
        // A body above what a multistatus property may hold, or bodies above what a
        // multistatus may (a listing that announced no sizes): this page's resources are
        // read by GET.
        Err(e) if e.kind() == ErrorKind::Unsupported => return Ok(None),
        other => other?,
    };
    let fetched = responses
        .into_iter()
        .filter_map(|r| {
            let key = decoded_path(&r.href);
            if r.status == Some(404) || r.properties.iter().any(|p| p.status == 404 && p.name == data) {
                return Some((key, Fetched::Gone));
            }
            let bytes = Bytes::from(r.get(PropName::new(flavor.ns(), data))?.text.clone().into_bytes());
            let etag = text(&r, DAV, "getetag").map(str::to_owned);
            Some((key, Fetched::Body { etag, bytes }))
        })
        .collect();
    Ok(Some(fetched))
}

/// The item of one resource, with its body when the multiget brought one small enough.
fn item(flavor: Flavor, collection: &Collection, member: &Member, fetched: Option<&[(Vec<u8>, Fetched)]>) -> Item {
    let segments = vec![RawName::text(&collection.name), RawName(member.file.clone())];
    let mut item = Item::new(RawName::text(&member.href), segments, flavor.kind());
    item.size = member.size;
    item.modified = member.modified;
    item.content_type = member.content_type.clone();
    item.locator = Some(member.href.clone());
    let mut meta = Map::new();
    meta.insert("href".into(), Value::from(member.href.clone()));
    let key = decoded_path(&member.href);
    let mut etag = member.etag.clone();
    match fetched.and_then(|all| all.iter().find(|(k, _)| *k == key)).map(|(_, f)| f) {
        Some(Fetched::Body { etag: fetched_etag, bytes }) if bytes.len() <= Item::INLINE_MAX => {
            etag = fetched_etag.clone().or(etag);
            item.set_inline(bytes.clone());
        }
        Some(Fetched::Body { .. }) => item.size = None,
        Some(Fetched::Gone) => {
            item.skip = Some(Skip::Excluded(format!(
                "deleted from the {} {} during the export (404)",
                flavor.noun(),
                collection.href
            )));
        }
        None => {}
    }
    item.meta = meta;
    item.checksum = etag.map(|etag| {
        ProviderChecksum::unchecked(etag, Some("a DAV ETag names a version of the resource, not a digest".into()))
    });
    item
}

/// The page standing for a collection that no longer exists: one item that says so, which
/// makes the export incomplete and names the collection.
pub fn deleted(flavor: Flavor, collection: &Collection, next: Option<Cursor>) -> Page {
    let mut item = Item::new(RawName::text(&collection.href), vec![RawName::text(&collection.name)], Kind::Directory);
    item.has_body = false;
    item.skip = Some(Skip::Failed(format!(
        "the {} {} was deleted during the export (404): its resources are missing",
        flavor.noun(),
        collection.href
    )));
    Page::new(vec![item], next.map(Cursor::encode))
}
