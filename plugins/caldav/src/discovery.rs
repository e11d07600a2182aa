//! Finding the collections, as RFC 6764 and clients do: the well-known URL when the server
//! root is given, then `current-user-principal`, then the principal's home set, then the
//! calendars or address books in it; or the one collection the URL names.

use serde_json::{Map, Value, json};
use sortie_sdk::{Error, ErrorKind, Result};

use crate::client::Client;
use crate::flavor::Flavor;
use crate::names;
use sortie_http::dav::{DAV, PropName, Response};

use crate::props::{self, APPLE, CALDAV, CALSERVER, CARDDAV, is};

/// One calendar or address book.
#[derive(Debug, Clone, PartialEq)]
pub struct Collection {
    /// Its path on the server, as served.
    pub href: String,
    /// Its directory in the archive: the last segment of its path, decoded.
    pub name: String,
    /// Its properties, as the archive records them.
    pub properties: Value,
}

/// What discovery found.
#[derive(Debug, Clone, PartialEq)]
pub struct Discovery {
    /// Where discovery started, after the well-known redirect.
    pub context: String,
    pub principal: Option<String>,
    pub homes: Vec<String>,
    /// Sorted by href.
    pub collections: Vec<Collection>,
}

impl Discovery {
    /// The account's description (`_config/account.json`).
    pub fn description(&self, flavor: Flavor) -> Value {
        json!({
            "protocol": flavor.scheme(),
            "context_path": self.context,
            "current_user_principal": self.principal,
            flavor.home_set(): self.homes,
            "collections": self.collections.iter().map(|c| &c.href).collect::<Vec<_>>(),
        })
    }
}

/// The properties asked of a collection, and of what discovery visits.
fn propfind_body(flavor: Flavor) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:" xmlns:C="{CALDAV}" xmlns:A="{CARDDAV}" xmlns:I="{APPLE}" xmlns:S="{CALSERVER}"><D:prop><D:resourcetype/><D:current-user-principal/><{home}/><D:displayname/><I:calendar-color/><I:calendar-order/><C:calendar-description/><A:addressbook-description/><C:calendar-timezone/><C:supported-calendar-component-set/><C:supported-calendar-data/><A:supported-address-data/><C:max-resource-size/><A:max-resource-size/><D:sync-token/><S:getctag/><D:owner/><D:acl/><D:current-user-privilege-set/></D:prop></D:propfind>"#,
        home = match flavor {
            Flavor::Calendars => "C:calendar-home-set",
            Flavor::AddressBooks => "A:addressbook-home-set",
        }
    )
}

/// Finds the collections from `path` (the URL's).
pub async fn discover(client: &Client, flavor: Flavor, path: &str) -> Result<Discovery> {
    let context = if path == "/" { well_known(client, flavor).await? } else { path.to_owned() };
    let here = propfind_one(client, flavor, &context).await?;
    let (ns, collection_type) = (flavor.ns(), flavor.collection_type());
    if is(&here, ns, collection_type) {
        // The path asked for, whatever href the answer gives itself.
        let collections = named(vec![Collection { href: context.clone(), ..collection_of(&here, flavor) }]);
        return Ok(Discovery { context, principal: None, homes: Vec::new(), collections });
    }
    let principal = here.get(PropName::new(DAV, "current-user-principal")).and_then(|p| p.hrefs().into_iter().next());
    let mut homes = home_sets(client, &here, flavor);
    if homes.is_empty()
        && let Some(principal) = principal.as_deref().and_then(|p| client.path_of(p))
    {
        let principal = propfind_one(client, flavor, &principal).await?;
        homes = home_sets(client, &principal, flavor);
    }
    let is_collection = is(&here, DAV, "collection");
    if homes.is_empty() && is_collection {
        homes.push(context.clone());
    }
    if homes.is_empty() || (context != "/" && !is_collection && !is(&here, DAV, "principal")) {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!(
                "{} is not a {} collection, principal or home set, and names no {}: give the server root, a \
                 principal or a {}'s URL",
                client.url(&context),
                flavor.noun(),
                flavor.home_set(),
                flavor.noun()
            ),
        ));
    }
    let mut collections = Vec::new();
    for home in &homes {
        let body = propfind_body(flavor);
        for response in client.multistatus("PROPFIND", home, "1", body).await? {
            if !is(&response, ns, collection_type) {
                continue;
            }
            // Glued after the origin, an href such as `@evil.example/` would send the
            // credentials to another host.
            let Some(href) = client.path_of_response(&response.href, &response.url) else {
                return Err(Error::new(
                    ErrorKind::Other,
                    format!(
                        "{} lists the {} '{}' in {home}, which is not on this server: Sortie sends no request there",
                        client.who(),
                        flavor.noun(),
                        response.href
                    ),
                ));
            };
            if !collections.iter().any(|c: &Collection| same(&c.href, &href)) {
                collections.push(Collection { href, ..collection_of(&response, flavor) });
            }
        }
    }
    collections.sort_by(|a, b| a.href.cmp(&b.href));
    Ok(Discovery { context, principal, homes, collections: named(collections) })
}

/// `collections` with distinct names: two home sets may each hold a `work`, and a
/// collection called `account` would share `_config/account.json` with the account's
/// description; each gets a directory and a description of its own.
fn named(mut collections: Vec<Collection>) -> Vec<Collection> {
    let names = collections.iter().map(|c| c.name.clone().into_bytes()).collect();
    for (collection, name) in collections.iter_mut().zip(names::distinct(names, b"", &[b"account"])) {
        collection.name = String::from_utf8(name).expect("a UTF-8 name with ASCII added");
    }
    collections
}

/// The context path the well-known URL redirects to (followed on this server only), or
/// the root when the server has none.
async fn well_known(client: &Client, flavor: Flavor) -> Result<String> {
    let mut path = flavor.well_known().to_owned();
    for _ in 0..5 {
        let answer = client.send("PROPFIND", &path, Some("0"), Some(propfind_body(flavor))).await?;
        match answer.status.as_u16() {
            301 | 302 | 303 | 307 | 308 => {
                let Some(next) = answer.location.as_deref().and_then(|l| client.path_of(&absolute(&path, l))) else {
                    return Ok("/".to_owned());
                };
                path = next;
            }
            207 => return Ok(path),
            401 => return Err(client.refused(&format!("PROPFIND {path}"), answer).await),
            _ => return Ok("/".to_owned()),
        }
    }
    Ok("/".to_owned())
}

/// A relative `Location` resolved against the path it answered.
fn absolute(path: &str, location: &str) -> String {
    if location.contains("://") || location.starts_with('/') {
        return strip_userinfo(location);
    }
    let base = &path[..path.rfind('/').map_or(0, |at| at + 1)];
    format!("{base}{location}")
}

/// A `Location` that repeats the credentials (`http://user:pw@host/`) without them.
fn strip_userinfo(location: &str) -> String {
    let Some((scheme, rest)) = location.split_once("://") else { return location.to_owned() };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
        None => location.to_owned(),
    }
}

/// PROPFIND Depth 0 of `path`, its own response.
/// A path that does not exist: a 404, or (Xandikos) a multistatus whose one response is.
async fn propfind_one(client: &Client, flavor: Flavor, path: &str) -> Result<Response> {
    let not_found = || Error::new(ErrorKind::NotFound, format!("{} does not exist (404)", client.url(path)));
    let responses = client
        .multistatus("PROPFIND", path, "0", propfind_body(flavor))
        .await
        .map_err(|e| if e.kind() == ErrorKind::NotFound { not_found() } else { e })?;
    let own = responses.iter().position(|r| same(&r.href, path)).unwrap_or(0);
    match responses.into_iter().nth(own) {
        Some(response) if response.status == Some(404) => Err(not_found()),
        Some(response) => Ok(response),
        None => {
            Err(Error::new(ErrorKind::Other, format!("{} answered PROPFIND {path} without a response", client.who())))
        }
    }
}

fn home_sets(client: &Client, response: &Response, flavor: Flavor) -> Vec<String> {
    let hrefs = response.get(PropName::new(flavor.ns(), flavor.home_set())).map(|p| p.hrefs()).unwrap_or_default();
    hrefs.iter().filter_map(|h| client.path_of(h)).collect()
}

/// Two hrefs that name the same resource (one percent-encoded or with a trailing slash).
pub fn same(a: &str, b: &str) -> bool {
    let (a, b) = (decoded_path(a), decoded_path(b));
    a.strip_suffix(b"/").unwrap_or(&a) == b.strip_suffix(b"/").unwrap_or(&b)
}

/// The path of an href (absolute URLs lose their origin), percent-decoded.
pub fn decoded_path(href: &str) -> Vec<u8> {
    let path = match href.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/", |at| &rest[at..]),
        None => href,
    };
    percent_encoding::percent_decode_str(path).collect()
}

/// The last non-empty segment of an href, decoded.
pub fn last_segment(href: &str) -> Vec<u8> {
    let path = decoded_path(href);
    let trimmed: &[u8] = path.strip_suffix(b"/").unwrap_or(&path);
    let start = trimmed.iter().rposition(|b| *b == b'/').map_or(0, |at| at + 1);
    trimmed[start..].to_vec()
}

fn collection_of(response: &Response, flavor: Flavor) -> Collection {
    let mut properties = Map::new();
    let mut unavailable = Map::new();
    for prop in &response.properties {
        if matches!(prop.name.as_str(), "current-user-principal" | "calendar-home-set" | "addressbook-home-set") {
            continue;
        }
        if prop.status != 200 {
            unavailable.insert(prop.name.clone(), Value::from(prop.status));
            continue;
        }
        let hrefs = prop.hrefs();
        let value = if prop.children.is_empty() {
            Value::from(prop.text.clone())
        } else if let Some(names) = props::names(prop) {
            names.into_iter().collect()
        } else if prop.name == "resourcetype" {
            prop.children.iter().map(|c| c.rsplit('}').next().unwrap_or(c)).collect()
        } else if hrefs.len() == prop.children.len() {
            hrefs.into_iter().collect()
        } else {
            json!({ "xml": prop.inner_xml })
        };
        properties.insert(prop.name.clone(), value);
    }
    // A property both namespaces define (max-resource-size) is unavailable only if neither has it.
    unavailable.retain(|name, _| !properties.contains_key(name));
    let name = String::from_utf8_lossy(&last_segment(&response.href)).into_owned();
    let properties = json!({
        "href": response.href,
        "kind": flavor.noun(),
        "properties": properties,
        "unavailable_properties": unavailable,
    });
    Collection { href: response.href.clone(), name, properties }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hrefs_compare_decoded_and_locations_lose_credentials() {
        assert!(same("/a/f%C3%AAte/", "/a/fête"));
        assert!(same("https://h:1/a/b/", "/a/b"));
        assert_eq!(last_segment("/alice/caf%C3%A9%20x.ics"), "café x.ics".as_bytes());
        assert_eq!(last_segment("/alice/work/"), b"work");
        assert_eq!(absolute("/.well-known/caldav", "http://u:p@h:1/dav/"), "http://h:1/dav/");
        assert_eq!(absolute("/.well-known/caldav", "/remote.php/dav/"), "/remote.php/dav/");
    }
}
