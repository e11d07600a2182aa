//! The walk through a section's routes, depth first. Every answer is archived as served
//! (its item's id is the route as called, its path the route's segments with `.json`), and
//! an id list leads to each id's record and the routes under it. A route the account does
//! not have (404), may not call (403 `NOT_GRANTED_CALL`) or that is suspended (460) is
//! listed as an exclusion naming the route, the reason and the `X-Ovh-QueryID`; one that
//! still fails after its retries is listed as a failure, and the walk goes on.
//!
//! The cursor is the stack of routes still to walk, with the ids an id list answered and
//! not yet walked: data any process can resume from, whose same value gives the same page.

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sortie_sdk::item::{Item, Kind, ProviderChecksum, RawName, Skip};
use sortie_sdk::provider::Page;
use sortie_sdk::{Error, ErrorKind, Result};

use crate::client::Client;
use crate::error::exclusion;
use crate::sections::{Export, Node, Section, Shape, node};

/// Requests per page at most: a page is retried whole, and at one request per second a
/// page takes this many seconds.
const PAGE_REQUESTS: usize = 20;

/// One route to walk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Task {
    /// The node, as child indices from the section's roots.
    node: Vec<usize>,
    /// The route as sent (ids percent-encoded), e.g. `/domain/a.com/nameServer`.
    route: String,
    /// The route's segments as the archive names them (ids as they are).
    segments: Vec<String>,
    /// For an id list already read: the ids not walked yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ids: Option<Vec<String>>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Cursor {
    stack: Vec<Task>,
}

/// Where an item's bytes are, for `open`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "open", rename_all = "kebab-case")]
pub enum Locator {
    /// A document a record links to (a bill's `pdfUrl`), fetched without credentials: the
    /// link carries its own token, as OVH serves it. Kept in the locator rather than read
    /// again from the record, which would double the API requests of an account's bills.
    Linked { url: String },
    /// A fresh dump of the database at `database` (a route), started when opened: a POST
    /// `…/dump`, its task polled under `service`'s `/tasks`, the new dump's `url` downloaded.
    Dump { service: String, database: String },
    /// The PST file of the Exchange mailbox at `account`, exported for the occasion (tasks
    /// under `service`'s `/task`).
    Pst { service: String, account: String },
    /// A document whose URL a POST to `route` answers (a logs archive's `…/url`).
    Posted { route: String },
}

/// What `ovh://SECTION` lists, with its client.
pub struct Lister<'a> {
    pub client: &'a Client,
    pub section: &'static Section,
    pub transfer_codes: bool,
    pub fresh_dumps: bool,
}

impl Lister<'_> {
    pub async fn page(&self, cursor: Option<String>) -> Result<Page> {
        let mut stack = match cursor {
            None => self.section.roots.iter().enumerate().rev().map(|(i, root)| root_task(i, root)).collect(),
            Some(text) => {
                serde_json::from_str::<Cursor>(&text)
                    .map_err(|e| Error::new(ErrorKind::Other, format!("a listing cursor is damaged: {e}")))?
                    .stack
            }
        };
        let mut items = Vec::new();
        let mut requests = 0;
        while requests < PAGE_REQUESTS {
            let Some(mut task) = stack.pop() else { break };
            let Some(node) = node(self.section, &task.node) else {
                return Err(Error::new(ErrorKind::Other, "a listing cursor names a route this version does not know"));
            };
            match (&node.shape, task.ids.take()) {
                (Shape::Ids | Shape::Names | Shape::Records(_), Some(mut ids)) => {
                    if ids.is_empty() {
                        continue;
                    }
                    let id = ids.remove(0);
                    stack.push(Task { ids: Some(ids), ..task.clone() });
                    let route = format!("{}/{}", task.route, encode(&id));
                    let mut segments = task.segments.clone();
                    segments.push(id);
                    if node.shape == Shape::Names {
                        push_children(&mut stack, node, &task.node, &route, &segments);
                        continue;
                    }
                    requests += 1;
                    if let Some(record) = self.record(&route, &segments, &mut items).await? {
                        self.linked(node, &route, &segments, &record, &mut items);
                        match node.export {
                            Some(Export::Dump) => items.push(self.fresh_dump(&task.route, &route, &segments)),
                            Some(Export::Pst) => items.push(self.pst(&task.route, &route, &segments)),
                            None => {}
                        }
                        push_children(&mut stack, node, &task.node, &route, &segments);
                    }
                }
                (Shape::Secret, _) if !self.transfer_codes => {
                    items.push(excluded(
                        &task.route,
                        &task.segments,
                        "left out: a domain's transfer code lets anyone move the domain away; export the codes with \
                         --set ovh.transfer_codes=true and keep the archive as a secret"
                            .to_owned(),
                    ));
                }
                (Shape::Text(ext), _) => {
                    requests += 1;
                    let mut segments = task.segments.clone();
                    segments.pop();
                    if let Some(last) = segments.last_mut() {
                        last.push('.');
                        last.push_str(ext);
                    }
                    match self.client.get(&task.route).await {
                        Ok((_, Value::String(text))) => {
                            let mut item = record_item(&task.route, &segments, Bytes::from(text));
                            item.content_type = Some("text/dns".into());
                            items.push(item);
                        }
                        Ok(_) => items.push(failed(
                            &task.route,
                            &segments,
                            format!("the API's answer to GET {} is not a JSON string", task.route),
                        )),
                        Err(error) => items.push(self.refused(&task.route, &segments, error)?),
                    }
                }
                (shape, _) => {
                    requests += 1;
                    let Some(answer) = self.record(&task.route, &task.segments, &mut items).await? else { continue };
                    if let Shape::Ids | Shape::Names | Shape::Records(_) = shape {
                        let ids = id_list(&answer, shape).ok_or_else(|| {
                            Error::new(
                                ErrorKind::Other,
                                format!("the API's answer to GET {} is not a list of ids", task.route),
                            )
                        });
                        match ids {
                            Ok(ids) => stack.push(Task { ids: Some(ids), ..task }),
                            Err(error) => {
                                items.pop();
                                items.push(failed(&task.route, &task.segments, error.to_string()));
                            }
                        }
                    } else {
                        self.linked(node, &task.route, &task.segments, &answer, &mut items);
                        push_children(&mut stack, node, &task.node, &task.route, &task.segments);
                    }
                }
            }
        }
        let next = (!stack.is_empty()).then(|| serde_json::to_string(&Cursor { stack }).expect("a cursor serializes"));
        Ok(Page::new(items, next))
    }

    /// `GET route`, its answer archived at `segments` + `.json`; `None` when there is none
    /// (excluded or failed, listed as such).
    async fn record(&self, route: &str, segments: &[String], items: &mut Vec<Item>) -> Result<Option<Value>> {
        match self.client.get(route).await {
            Ok((bytes, json)) => {
                let mut item = record_item(route, &json_segments(segments), bytes);
                item.content_type = Some("application/json".into());
                items.push(item);
                Ok(Some(json))
            }
            Err(error) => {
                items.push(self.refused(route, &json_segments(segments), error)?);
                Ok(None)
            }
        }
    }

    /// A route that failed: an exclusion, a failure, or, when the credentials themselves
    /// are refused, the end of the listing.
    fn refused(&self, route: &str, segments: &[String], error: Error) -> Result<Item> {
        if let Some(reason) = exclusion(&error) {
            return Ok(excluded(route, segments, reason));
        }
        if error.kind() == ErrorKind::Unauthenticated {
            return Err(error);
        }
        Ok(failed(route, segments, error.to_string()))
    }

    /// The document a record links to (a bill's PDF, an uploaded document, a VPS snapshot),
    /// opened later through its locator.
    fn linked(&self, node: &Node, route: &str, segments: &[String], record: &Value, items: &mut Vec<Item>) {
        let Some((field, suffix)) = node.link else { return };
        let mut segments = segments.to_vec();
        if let Some(last) = segments.last_mut() {
            last.push_str(suffix);
        }
        let id = format!("{route}#{field}");
        let mut item = Item::new(RawName::text(&id), raw(&segments), Kind::File);
        item.meta = route_meta(route);
        item.meta.insert("field".into(), field.into());
        if let Some(under) = field.strip_prefix("POST ") {
            // The record announces the file's size and sha256 (a logs archive's).
            let posted = format!("{route}/{under}");
            item.meta = route_meta(&posted);
            item.meta.insert("field".into(), "url".into());
            item.meta.insert("method".into(), "POST".into());
            item.size = record["size"].as_u64();
            if let Some(sha256) = record["sha256"].as_str().filter(|d| d.len() == 64).map(str::to_lowercase) {
                let mut checksum = ProviderChecksum::unchecked(sha256.clone(), None);
                checksum.sha256 = Some(sha256);
                item.checksum = Some(checksum);
            }
            let locator = Locator::Posted { route: posted };
            item.locator = Some(serde_json::to_string(&locator).expect("a locator serializes"));
            items.push(item);
            return;
        }
        match record.get(field) {
            Some(Value::String(url)) if !url.is_empty() => {
                if suffix == ".pdf" {
                    item.content_type = Some("application/pdf".into());
                }
                let locator = Locator::Linked { url: url.clone() };
                item.locator = Some(serde_json::to_string(&locator).expect("a locator serializes"));
            }
            _ => {
                item.has_body = false;
                item.skip = Some(Skip::Excluded(format!("no document: the record {route} has no {field}")));
            }
        }
        items.push(item);
    }
}

impl Lister<'_> {
    /// `DATABASE.sql.gz` beside the database's record: a dump made for this export.
    fn fresh_dump(&self, databases: &str, database: &str, segments: &[String]) -> Item {
        let service = databases.trim_end_matches("/database").to_owned();
        let locator = Locator::Dump { service, database: database.to_owned() };
        self.made(&format!("{database}#dump"), segments, ".sql.gz", "application/gzip", locator)
    }

    /// `EMAIL.pst` beside an Exchange mailbox's record: its contents, exported for this export.
    fn pst(&self, accounts: &str, account: &str, segments: &[String]) -> Item {
        let service = accounts.trim_end_matches("/account").to_owned();
        let locator = Locator::Pst { service, account: account.to_owned() };
        self.made(&format!("{account}#pst"), segments, ".pst", "application/vnd.ms-outlook", locator)
    }

    /// A file the API makes when the item is opened, unless `dumps=false`.
    fn made(&self, id: &str, segments: &[String], suffix: &str, content_type: &str, locator: Locator) -> Item {
        let mut segments = segments.to_vec();
        if let Some(last) = segments.last_mut() {
            last.push_str(suffix);
        }
        let mut item = Item::new(RawName::text(id), raw(&segments), Kind::File);
        item.content_type = Some(content_type.into());
        if self.fresh_dumps {
            item.locator = Some(serde_json::to_string(&locator).expect("a locator serializes"));
        } else {
            item.has_body = false;
            item.skip = Some(Skip::Excluded(
                "left out: no fresh dump or PST export made (--set ovh.dumps=false); the dumps already there are \
                 archived"
                    .into(),
            ));
        }
        item
    }
}

fn root_task(index: usize, root: &Node) -> Task {
    Task {
        node: vec![index],
        route: root.name.to_owned(),
        segments: root.name.trim_start_matches('/').split('/').map(str::to_owned).collect(),
        ids: None,
    }
}

/// The routes under a record, the first on top.
fn push_children(stack: &mut Vec<Task>, node: &Node, path: &[usize], route: &str, segments: &[String]) {
    for (index, child) in node.children.iter().enumerate().rev() {
        let mut child_path = path.to_vec();
        child_path.push(index);
        let mut child_segments = segments.to_vec();
        child_segments.extend(child.name.split('/').map(str::to_owned));
        stack.push(Task {
            node: child_path,
            route: format!("{route}/{}", child.name),
            segments: child_segments,
            ids: None,
        });
    }
}

/// The ids of an id list (`string[]`, `long[]`…), or of a list of records (their `field`),
/// as text.
fn id_list(answer: &Value, shape: &Shape) -> Option<Vec<String>> {
    answer
        .as_array()?
        .iter()
        .map(|entry| match shape {
            Shape::Records(field) => entry.get(field),
            _ => Some(entry),
        })
        .map(|id| match id? {
            Value::String(text) => Some(text.clone()),
            Value::Number(number) => Some(number.to_string()),
            _ => None,
        })
        .collect()
}

/// An id as one path segment of a route: `/` and everything not plain encoded (an IP block
/// `1.2.3.0/24` is `1.2.3.0%2F24`).
pub fn encode(id: &str) -> String {
    const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~')
        .remove(b'@')
        .remove(b':');
    percent_encoding::utf8_percent_encode(id, SEGMENT).collect()
}

fn json_segments(segments: &[String]) -> Vec<String> {
    let mut segments = segments.to_vec();
    if let Some(last) = segments.last_mut() {
        last.push_str(".json");
    }
    segments
}

fn raw(segments: &[String]) -> Vec<RawName> {
    segments.iter().map(|s| RawName::text(s)).collect()
}

fn route_meta(route: &str) -> Map<String, Value> {
    let mut meta = Map::new();
    meta.insert("route".into(), route.into());
    meta
}

/// The answer to `GET route`, as served, inline.
fn record_item(route: &str, segments: &[String], bytes: Bytes) -> Item {
    let mut item = Item::new(RawName::text(route), raw(segments), Kind::Record);
    item.meta = route_meta(route);
    item.set_inline(bytes);
    item
}

fn excluded(route: &str, segments: &[String], reason: String) -> Item {
    skipped(route, segments, Skip::Excluded(reason))
}

fn failed(route: &str, segments: &[String], reason: String) -> Item {
    skipped(route, segments, Skip::Failed(reason))
}

/// A route listed without its answer: left out on purpose, or refused.
fn skipped(route: &str, segments: &[String], skip: Skip) -> Item {
    let mut item = Item::new(RawName::text(route), raw(segments), Kind::Record);
    item.has_body = false;
    item.meta = route_meta(route);
    item.skip = Some(skip);
    item
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_are_read_as_text_and_encoded_as_one_segment() {
        assert_eq!(id_list(&json!(["a.com", 12]), &Shape::Ids).unwrap(), ["a.com", "12"]);
        assert!(id_list(&json!({"a": 1}), &Shape::Ids).is_none() && id_list(&json!([{"a": 1}]), &Shape::Ids).is_none());
        let records = json!([{"id": "i-1", "name": "web"}, {"id": 7}]);
        assert_eq!(id_list(&records, &Shape::Records("id")).unwrap(), ["i-1", "7"]);
        assert!(id_list(&json!([{"name": "no id"}]), &Shape::Records("id")).is_none());
        assert_eq!(encode("1.2.3.0/24"), "1.2.3.0%2F24");
        assert_eq!(encode("xx1111-ovh"), "xx1111-ovh");
        assert_eq!(encode("a b?#"), "a%20b%3F%23");
    }

    #[test]
    fn children_are_walked_first_to_last_under_their_record() {
        let section = crate::sections::section("dns").unwrap();
        let zone = node(section, &[0]).unwrap();
        let mut stack = Vec::new();
        push_children(&mut stack, zone, &[0], "/domain/zone/a.com", &["domain".into(), "zone".into(), "a.com".into()]);
        let next = stack.pop().unwrap();
        assert_eq!((next.route.as_str(), next.node.as_slice()), ("/domain/zone/a.com/export", &[0, 0][..]));
        assert_eq!(next.segments, ["domain", "zone", "a.com", "export"]);
        let dyn_host = &stack[stack.len() - 3];
        assert_eq!(dyn_host.segments, ["domain", "zone", "a.com", "dynHost", "record"]);
    }
}
