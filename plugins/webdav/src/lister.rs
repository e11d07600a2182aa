//! The listing, level by level: one `PROPFIND Depth: 1` per directory (or a single
//! `Depth: infinity` when asked), depth first, in the server's order. The cursor holds the
//! directories still to list (as URLs) and how many members of the first one were already
//! returned, so any process can resume it; a directory with more members than a page is
//! returned in several pages read from the same spooled answer.

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sortie_http::dav::{DAV, PropName, Response};
use sortie_sdk::item::{Area, Item, Kind, RawName, Skip};
use sortie_sdk::{Error, ErrorKind, Result};

use crate::checksum::Checksums;

/// Members per page.
pub const PAGE: usize = 1000;

/// The deepest directory listed, in levels below the root: a server that makes up a new
/// level at each listing would otherwise keep the walk going forever.
pub const MAX_LEVELS: usize = 256;

/// The ownCloud/Nextcloud namespace.
pub const OC: &str = "http://owncloud.org/ns";
/// Nextcloud's own namespace.
pub const NC: &str = "http://nextcloud.org/ns";

/// The properties asked for besides `allprop`: those Nextcloud serves only when named.
pub const NEXTCLOUD_PROPERTIES: &[PropName<'static>] = &[
    PropName::new(OC, "checksums"),
    PropName::new(OC, "fileid"),
    PropName::new(OC, "favorite"),
    PropName::new(OC, "permissions"),
    PropName::new(OC, "share-types"),
    PropName::new(OC, "owner-id"),
    PropName::new(NC, "has-preview"),
];

/// Live DAV properties the item's own fields carry, or that describe the server rather
/// than the file (locks, quotas).
const LIVE: &[&str] = &[
    "resourcetype",
    "getcontentlength",
    "getcontenttype",
    "getlastmodified",
    "getetag",
    "lockdiscovery",
    "supportedlock",
    "quota-used-bytes",
    "quota-available-bytes",
];

/// Where a listing is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// Directories still to list, the next last, as URLs.
    pub dirs: Vec<String>,
    /// Members of the next directory already returned.
    pub skip: usize,
}

impl Cursor {
    pub fn encode(&self) -> String {
        serde_json::to_string(self).expect("a cursor serializes")
    }

    pub fn decode(text: &str) -> Result<Self> {
        serde_json::from_str(text).map_err(|_| {
            Error::new(ErrorKind::InvalidInput, format!("'{text}' is not a cursor of the webdav provider"))
        })
    }
}

/// One page of one directory's listing.
#[derive(Debug, Default)]
pub struct DirPage {
    pub items: Vec<Item>,
    /// Every subdirectory of the directory (all its members, not only this page's).
    pub subdirs: Vec<String>,
    /// How many members the directory has.
    pub members: usize,
}

/// The members `skip..skip + PAGE` of the multistatus `parse` reads, the directory `dir`
/// itself left out; paths are made relative to `root`. Subdirectories are collected only
/// when `descend` (a `Depth: 1` listing, whose subdirectories are listed next).
///
/// A server's hrefs are not trusted: an absolute href keeps only its path, on the root's
/// scheme, host and port (credentials never go to another host, and a proxy that writes
/// its backend's address in hrefs still works); a member must lie under `dir` (a direct
/// child when `descend`, so that the walk only goes down and ends) with no `.` or `..`
/// segment (an encoded `/` decoded), and a path listed again is left out. What breaks these
/// rules is no member of `dir`: it is not listed, and a warning names it (once, on the
/// directory's first page).
pub fn dir_page(
    parse: impl FnOnce(&mut dyn FnMut(Response) -> Result<()>) -> Result<()>,
    root: &reqwest::Url,
    dir: &reqwest::Url,
    skip: usize,
    descend: bool,
) -> Result<DirPage> {
    let mut page = DirPage::default();
    let root_path = sortie_http::dav::decoded_path(root);
    let root_path = trim_slashes(&root_path);
    let dir_path = sortie_http::dav::decoded_path(dir);
    let dir_path = trim_slashes(&dir_path);
    let mut seen = HashSet::new();
    parse(&mut |mut response: Response| {
        if response.url.origin() != root.origin() {
            let mut url = root.clone();
            url.set_path(response.url.path());
            response.url = url;
        }
        let path = response.decoded_path();
        let path = trim_slashes(&path);
        let left_out = |why: &str| {
            if skip == 0 {
                tracing::warn!("{dir}: the server listed {} as a member, {why}: left out", response.url);
            }
            Ok(())
        };
        if path == dir_path {
            return Ok(());
        }
        let Some(below) = under(path, dir_path) else {
            return left_out("outside this directory");
        };
        let odd = below.split(|b| *b == b'/').any(|s| s.is_empty() || s == b"." || s == b"..");
        if odd || (descend && below.contains(&b'/')) {
            return left_out("not directly inside this directory");
        }
        if !seen.insert(hash(path)) {
            return left_out("a second time");
        }
        let Some(relative) = under(path, root_path).filter(|r| !r.is_empty()) else {
            return Ok(());
        };
        let too_deep = relative.split(|b| *b == b'/').count() >= MAX_LEVELS;
        if descend && response.is_collection() && !too_deep {
            page.subdirs.push(response.url.to_string());
        }
        if (skip..skip + PAGE).contains(&page.members) {
            let mut item = item_of(&response, relative);
            if descend && response.is_collection() && too_deep && item.skip.is_none() {
                let problem = format!("a directory {MAX_LEVELS} levels deep: what it holds is not listed");
                item.skip = Some(Skip::Failed(problem));
            }
            page.items.push(item);
        }
        page.members += 1;
        Ok(())
    })?;
    Ok(page)
}

/// What of `path` lies below `dir` (both without leading or trailing `/`), when it does.
fn under<'a>(path: &'a [u8], dir: &[u8]) -> Option<&'a [u8]> {
    if dir.is_empty() {
        return Some(path);
    }
    path.strip_prefix(dir)?.strip_prefix(b"/")
}

/// Eight bytes per member path instead of the path: the set of a listing of a million
/// members stays small.
fn hash(path: &[u8]) -> u64 {
    let mut hasher = DefaultHasher::new();
    path.hash(&mut hasher);
    hasher.finish()
}

fn trim_slashes(path: &[u8]) -> &[u8] {
    let start = path.iter().position(|b| *b != b'/').unwrap_or(path.len());
    let end = path.iter().rposition(|b| *b != b'/').map_or(start, |i| i + 1);
    &path[start..end.max(start)]
}

/// The item a member's response describes; `relative` is its decoded path under the root.
pub fn item_of(response: &Response, relative: &[u8]) -> Item {
    let segments: Vec<RawName> = relative.split(|b| *b == b'/').map(|s| RawName(s.to_vec())).collect();
    let directory = response.is_collection();
    let mut item =
        Item::new(RawName(relative.to_vec()), segments, if directory { Kind::Directory } else { Kind::File });
    item.locator = Some(response.url.to_string());
    if let Some(status) = response.status.filter(|s| !(200..300).contains(s)) {
        item.has_body = false;
        item.skip = Some(Skip::Failed(format!("the server could not describe it ({status})")));
        return item;
    }
    item.has_body = !directory;
    item.modified = response.text(PropName::new(DAV, "getlastmodified")).and_then(sortie_http::http_date);
    if !directory {
        item.size = response.text(PropName::new(DAV, "getcontentlength")).and_then(|s| s.trim().parse().ok());
        item.content_type = response.text(PropName::new(DAV, "getcontenttype")).map(str::to_owned);
    }
    item.meta = meta(response, relative);
    if let Some(served) = response.text(PropName::new(OC, "checksums")) {
        let sums = Checksums::parse(served);
        if !directory && !sums.is_empty() {
            item.checksum = Some(sums.provider_checksum(served.trim()));
        }
    }
    item
}

/// A record of a directory listed in its parent but gone when its own turn came (deleted
/// during the export): a failure naming it, under `_config/vanished/` so that it takes no
/// directory's place; the listing goes on with the rest of the tree.
pub fn vanished(root: &reqwest::Url, dir: &reqwest::Url) -> Item {
    let root_path = sortie_http::dav::decoded_path(root);
    let path = sortie_http::dav::decoded_path(dir);
    let relative = trim_slashes(path.strip_prefix(root_path.as_slice()).unwrap_or(&path)).to_vec();
    let name = String::from_utf8_lossy(&relative).into_owned();
    let mut segments = vec![RawName::text("vanished")];
    segments.extend(relative.split(|b| *b == b'/').map(|s| RawName(s.to_vec())));
    let mut item = Item::new(RawName(relative), segments, Kind::Record);
    item.area = Area::Config;
    item.has_body = false;
    item.skip =
        Some(Skip::Failed(format!("directory '{name}' was deleted during the export: what it held is not archived")));
    item
}

/// What the inventory records: the ETag, Nextcloud's attributes typed, and every other
/// property (dead ones included) by its `{namespace}name`, as text or, when structured,
/// as XML.
fn meta(response: &Response, relative: &[u8]) -> Map<String, Value> {
    let mut meta = Map::new();
    let mut others = Map::new();
    for property in response.properties.iter().filter(|p| (200..300).contains(&p.status)) {
        let text = property.text.trim();
        let value = if property.children.is_empty() { text.to_owned() } else { property.inner_xml.trim().to_owned() };
        match (property.namespace.as_str(), property.name.as_str()) {
            (DAV, "getetag") => {
                meta.insert("etag".into(), text.into());
            }
            (DAV, "creationdate") => {
                meta.insert("created".into(), text.into());
            }
            (DAV, "displayname") => {
                let name = relative.rsplit(|b| *b == b'/').next().unwrap_or_default();
                if text.as_bytes() != name {
                    meta.insert("display_name".into(), text.into());
                }
            }
            (DAV, name) if LIVE.contains(&name) => {}
            (OC, "checksums") => {
                meta.insert("checksums".into(), text.into());
            }
            (OC, "favorite") => {
                meta.insert("favorite".into(), Value::Bool(text == "1"));
            }
            (OC, "share-types") => {
                meta.insert("share_types".into(), share_types(&property.inner_xml).into());
            }
            (OC, "permissions") => {
                meta.insert("permissions".into(), text.into());
            }
            (OC, "fileid") => {
                meta.insert("fileid".into(), text.into());
            }
            (namespace, name) => {
                others.insert(format!("{{{namespace}}}{name}"), value.into());
            }
        }
    }
    if !others.is_empty() {
        meta.insert("properties".into(), Value::Object(others));
    }
    meta
}

/// The numbers of `<oc:share-type>` elements: 0 user, 1 group, 3 public link, 4 email…
fn share_types(inner_xml: &str) -> Vec<u64> {
    inner_xml.split('<').filter_map(|part| part.split_once('>')?.1.trim().parse().ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::Url;
    use sortie_http::dav;

    const LISTING: &str = r#"<?xml version="1.0"?>
<d:multistatus xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns" xmlns:x="urn:example">
 <d:response><d:href>/dav/top/</d:href><d:propstat><d:prop><d:resourcetype><d:collection/></d:resourcetype></d:prop>
  <d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>
 <d:response><d:href>/dav/top/empty%20dir/</d:href><d:propstat><d:prop><d:resourcetype><d:collection/></d:resourcetype>
  <oc:favorite>1</oc:favorite></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>
 <d:response><d:href>/dav/top/caf%C3%A9%23.txt</d:href><d:propstat><d:prop><d:resourcetype/>
  <d:getcontentlength>11</d:getcontentlength><d:getcontenttype>text/plain</d:getcontenttype>
  <d:getetag>"abc"</d:getetag><d:getlastmodified>Sun, 06 Nov 1994 08:49:37 GMT</d:getlastmodified>
  <oc:checksums><oc:checksum>SHA1:2aae6c35c94fcfb415dbe95f408b9ce91ee846ed MD5:5eb63bbbe01eeed093cb22bb8f5acdc3</oc:checksum></oc:checksums>
  <oc:share-types><oc:share-type>0</oc:share-type><oc:share-type>3</oc:share-type></oc:share-types>
  <oc:permissions>RGDNVW</oc:permissions><x:colour>blue</x:colour></d:prop>
  <d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>
</d:multistatus>"#;

    fn page(skip: usize) -> DirPage {
        let url = Url::parse("http://h/dav/top/").unwrap();
        let parse = |f: &mut dyn FnMut(Response) -> Result<()>| dav::parse_multistatus(LISTING.as_bytes(), &url, f);
        dir_page(parse, &Url::parse("http://h/dav/").unwrap(), &url, skip, true).unwrap()
    }

    #[test]
    fn members_become_items_with_their_properties() {
        let page = page(0);
        assert_eq!(page.members, 2);
        assert_eq!(page.subdirs, ["http://h/dav/top/empty%20dir/"]);
        let dir = &page.items[0];
        assert_eq!((dir.kind, dir.has_body), (Kind::Directory, false));
        assert_eq!(dir.segments, [RawName::text("top"), RawName::text("empty dir")]);
        assert_eq!(dir.meta["favorite"], Value::Bool(true));
        let file = &page.items[1];
        assert_eq!(file.id, RawName::text("top/café#.txt"));
        assert_eq!((file.size, file.content_type.as_deref()), (Some(11), Some("text/plain")));
        assert_eq!(file.locator.as_deref(), Some("http://h/dav/top/caf%C3%A9%23.txt"));
        assert_eq!(file.checksum.as_ref().unwrap().md5.as_deref(), Some("5eb63bbbe01eeed093cb22bb8f5acdc3"));
        assert_eq!(file.meta["etag"], "\"abc\"");
        assert_eq!(file.meta["share_types"], serde_json::json!([0, 3]));
        assert_eq!(file.meta["permissions"], "RGDNVW");
        assert_eq!(file.meta["properties"]["{urn:example}colour"], "blue");
        assert!(file.modified.is_some());
    }

    /// A hostile server's listing of `/dav/top/a/`: only `x` and `sub/` are its members.
    const HOSTILE: &str = r#"<d:multistatus xmlns:d="DAV:">
 <d:response><d:href>http://evil:9/dav/top/a/x</d:href></d:response>
 <d:response><d:href>/dav/top/a/x</d:href></d:response>
 <d:response><d:href>/dav/top/a/%78</d:href></d:response>
 <d:response><d:href>https://h/dav/top/a/sub/</d:href><d:propstat><d:prop><d:resourcetype><d:collection/></d:resourcetype></d:prop></d:propstat></d:response>
 <d:response><d:href>/dav/top/</d:href><d:propstat><d:prop><d:resourcetype><d:collection/></d:resourcetype></d:prop></d:propstat></d:response>
 <d:response><d:href>/dav/</d:href><d:propstat><d:prop><d:resourcetype><d:collection/></d:resourcetype></d:prop></d:propstat></d:response>
 <d:response><d:href>/dav/top/b/</d:href><d:propstat><d:prop><d:resourcetype><d:collection/></d:resourcetype></d:prop></d:propstat></d:response>
 <d:response><d:href>/dav/top/a/%2e%2e/%2e%2e/%2e%2e/etc/passwd</d:href></d:response>
 <d:response><d:href>/dav/top/a/y%2f..%2f..%2fz</d:href></d:response>
 <d:response><d:href>/dav/top/a/deeper/still</d:href></d:response>
</d:multistatus>"#;

    #[test]
    fn hostile_hrefs_stay_on_the_root_host_under_the_directory_listed_once() {
        let root = Url::parse("http://h/dav/").unwrap();
        let dir = Url::parse("http://h/dav/top/a/").unwrap();
        let parse = |f: &mut dyn FnMut(Response) -> Result<()>| dav::parse_multistatus(HOSTILE.as_bytes(), &dir, f);
        let page = dir_page(parse, &root, &dir, 0, true).unwrap();
        let ids: Vec<String> = page.items.iter().map(|i| i.id.display()).collect();
        assert_eq!(ids, ["top/a/x", "top/a/sub"], "{:#?}", page.items);
        assert_eq!(page.items[0].locator.as_deref(), Some("http://h/dav/top/a/x"), "never another host");
        assert_eq!(page.subdirs, ["http://h/dav/top/a/sub/"], "no ancestor, sibling or other scheme: the walk ends");
        let parse = |f: &mut dyn FnMut(Response) -> Result<()>| dav::parse_multistatus(HOSTILE.as_bytes(), &dir, f);
        let all = dir_page(parse, &root, &dir, 0, false).unwrap();
        assert_eq!(all.members, 3, "Depth infinity keeps what lies below: {:#?}", all.items);
        assert!(all.items.iter().all(|i| i.locator.as_deref().unwrap().starts_with("http://h/dav/top/a/")));
    }

    #[test]
    fn a_directory_too_deep_is_a_failure_not_listed_further() {
        let root = Url::parse("http://h/").unwrap();
        let deep = "d/".repeat(MAX_LEVELS - 1);
        let dir = Url::parse(&format!("http://h/{deep}")).unwrap();
        let body = format!(
            "<d:multistatus xmlns:d=\"DAV:\"><d:response><d:href>/{deep}d/</d:href><d:propstat><d:prop>\
             <d:resourcetype><d:collection/></d:resourcetype></d:prop></d:propstat></d:response></d:multistatus>"
        );
        let parse = |f: &mut dyn FnMut(Response) -> Result<()>| dav::parse_multistatus(body.as_bytes(), &dir, f);
        let page = dir_page(parse, &root, &dir, 0, true).unwrap();
        assert!(page.subdirs.is_empty(), "the walk ends");
        assert!(matches!(&page.items[0].skip, Some(Skip::Failed(why)) if why.contains("levels deep")));
    }

    #[test]
    fn later_pages_skip_what_earlier_ones_returned() {
        let page = page(1);
        assert_eq!(page.items.len(), 1);
        assert_eq!(page.items[0].id, RawName::text("top/café#.txt"));
        assert_eq!(page.subdirs.len(), 1, "subdirectories are known whatever the page");
        let cursor = Cursor { dirs: vec!["http://h/a%20b/".into()], skip: 1000 };
        assert_eq!(Cursor::decode(&cursor.encode()).unwrap(), cursor);
        assert!(Cursor::decode("nonsense").is_err());
    }
}
