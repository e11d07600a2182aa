//! Reading one object: its bytes (GET, streamed) and what the response says about them.

use futures_util::StreamExt;
use reqwest::header::HeaderMap;
use serde_json::{Map, Value, json};
use sortie_core::error::Result;
use sortie_core::error::{Error, ErrorKind};
use sortie_core::item::{Item, PartsMd5, ProviderChecksum};
use sortie_core::provider::Body;

use crate::client::{Client, Request};

/// Response headers that describe the transfer, not the object.
const TRANSPORT: &[&str] = &[
    "accept-ranges",
    "connection",
    "content-length",
    "date",
    "keep-alive",
    "transfer-encoding",
    "vary",
    "x-openstack-request-id",
    "x-trans-id",
];
/// Headers whose values are secrets (temporary URL and container sync keys): their
/// presence is recorded, their value is not.
const SECRET: &[&str] = &[
    "x-account-meta-temp-url-key",
    "x-account-meta-temp-url-key-2",
    "x-container-meta-temp-url-key",
    "x-container-meta-temp-url-key-2",
    "x-container-sync-key",
];

/// Opens an object (or, with `manifest`, an SLO's manifest) of `container`.
pub async fn open(client: &Client, container: &str, item: &Item, manifest: bool) -> Result<Body> {
    let mut query = Vec::new();
    if let Some(version) = item.meta.get("version_id").and_then(Value::as_str) {
        query.push(("version-id", version.to_owned()));
    }
    if manifest {
        query.push(("multipart-manifest", "get".to_owned()));
    }
    let request = Request { head: false, container: Some(container), object: Some(&item.id.0), query };
    let parts = item.checksum.as_ref().and_then(|c| c.parts_md5.clone()).filter(|_| !manifest);
    let response = match (client.send(&request).await, &parts) {
        (Ok(response), _) => response,
        // Swift answers 409 when it cannot assemble a large object: say which segment.
        (Err(error), Some(parts)) if error.to_string().contains("409") => {
            return Err(match broken_segment(client, parts).await {
                Some(why) => Error::new(ErrorKind::Integrity, format!("large object '{}': {why}", item.id.display())),
                None => error,
            });
        }
        (Err(error), _) => return Err(error),
    };
    let headers = response.headers();
    let size = response.content_length();
    let content_type = header(headers, "content-type");
    let modified = if manifest { None } else { sortie_http::last_modified(headers) };
    let large = headers.contains_key("x-static-large-object") || headers.contains_key("x-object-manifest");
    let listed_large = item.checksum.as_ref().is_some_and(|c| c.parts_md5.is_some());
    let etag = header(headers, "etag").unwrap_or_default();
    let checksum = if manifest || listed_large {
        // The listing's parts stand; a manifest's answer has no checksum of its own.
        None
    } else if large {
        Some(ProviderChecksum {
            served: etag,
            md5: None,
            note: Some("became a large object after the listing: its segments were not checked".into()),
            sha256: None,
            sha512: None,
            parts_md5: None,
        })
    } else {
        let md5 = etag.trim_matches('"').to_ascii_lowercase();
        let is_md5 = md5.len() == 32 && md5.bytes().all(|b| b.is_ascii_hexdigit());
        Some(ProviderChecksum {
            served: etag.clone(),
            md5: is_md5.then_some(md5),
            note: (!is_md5).then(|| "the ETag is not an MD5".to_owned()),
            sha256: None,
            sha512: None,
            parts_md5: None,
        })
    };
    let meta = if manifest { Map::new() } else { object_meta(headers) };
    let name = item.id.display();
    let mut offset = 0u64;
    let stream = response
        .bytes_stream()
        .map(move |chunk| match chunk {
            Ok(bytes) => {
                offset += bytes.len() as u64;
                Ok(bytes)
            }
            Err(e) => {
                let place = parts.as_ref().map_or(String::new(), |p| segment_at(offset, p));
                Err(Error::new(ErrorKind::Unavailable, format!("reading object '{name}' broke off{place}: {e}"))
                    .temporary())
            }
        })
        .boxed();
    Ok(Body { size, checksum, content_type, meta, modified, stream, incomplete: None })
}

/// The first segment of a large object that is missing or differs from its manifest.
async fn broken_segment(client: &Client, parts: &PartsMd5) -> Option<String> {
    let count = parts.part_names.len();
    for (index, name) in parts.part_names.iter().enumerate() {
        let Some((container, object)) = name.strip_prefix('/').and_then(|n| n.split_once('/')) else { continue };
        let request =
            Request { head: true, container: Some(container), object: Some(object.as_bytes()), query: Vec::new() };
        let expected = parts.part_md5s.get(index).filter(|m| !m.is_empty());
        match client.send(&request).await {
            Err(e) if e.kind() == ErrorKind::NotFound => {
                return Some(format!("segment {} of {count} ({name}) is missing", index + 1));
            }
            Ok(response) => {
                let etag =
                    header(response.headers(), "etag").unwrap_or_default().trim_matches('"').to_ascii_lowercase();
                if let Some(expected) = expected.filter(|m| **m != etag) {
                    return Some(format!(
                        "segment {} of {count} ({name}) no longer matches the manifest (MD5 {etag}, the manifest says \
                         {expected})",
                        index + 1
                    ));
                }
            }
            Err(_) => {}
        }
    }
    None
}

/// Where in a large object a body that broke off stopped. Swift checks each segment's
/// ETag against the manifest before sending it, and ends the body there when the segment is
/// missing or changed: a body cut at a segment boundary points at the next segment.
fn segment_at(offset: u64, parts: &PartsMd5) -> String {
    let count = parts.part_sizes.len();
    let mut start = 0u64;
    for (index, size) in parts.part_sizes.iter().enumerate() {
        if offset < start + size {
            let name = parts.part_names.get(index).map_or(String::new(), |n| format!(" ({n})"));
            let position =
                if offset == start { "at the start of".to_owned() } else { format!("{} bytes into", offset - start) };
            return format!(
                " after {offset} bytes, {position} segment {} of {count}{name}: Swift stops a large object whose \
                 segment is missing or no longer matches its manifest",
                index + 1
            );
        }
        start += size;
    }
    format!(" after {offset} bytes, the end of its {count} segments")
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// What a GET says about an object: its user metadata under `metadata`, the other
/// describing headers (Content-Disposition, X-Delete-At, X-Timestamp…) under `headers`.
fn object_meta(headers: &HeaderMap) -> Map<String, Value> {
    let mut metadata = Map::new();
    let mut described = Map::new();
    for (name, value) in headers {
        let name = name.as_str();
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        if let Some(key) = name.strip_prefix("x-object-meta-") {
            metadata.insert(key.to_owned(), json!(value));
        } else if !TRANSPORT.contains(&name) && name != "content-type" {
            described.insert(name.to_owned(), json!(value));
        }
    }
    let mut meta = Map::new();
    if !metadata.is_empty() {
        meta.insert("metadata".into(), Value::Object(metadata));
    }
    meta.insert("headers".into(), Value::Object(described));
    meta
}

/// The JSON document describing an account or container: every header of its HEAD but the
/// transport ones, secrets replaced by a note.
pub fn description(headers: &HeaderMap, what: &str, name: &str) -> Vec<u8> {
    let mut described = std::collections::BTreeMap::new();
    for (header, value) in headers {
        let header = header.as_str();
        if TRANSPORT.contains(&header) {
            continue;
        }
        let value = if SECRET.contains(&header) {
            "(set; not archived, being a secret)".to_owned()
        } else {
            String::from_utf8_lossy(value.as_bytes()).into_owned()
        };
        described.insert(header.to_owned(), value);
    }
    let document = json!({ what: name, "headers": described });
    serde_json::to_vec_pretty(&document).expect("JSON serializes")
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderName, HeaderValue};

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        pairs.iter().map(|(k, v)| (HeaderName::from_static(k), HeaderValue::from_str(v).unwrap())).collect()
    }

    #[test]
    fn user_metadata_and_describing_headers_are_kept_apart() {
        let meta = object_meta(&headers(&[
            ("x-object-meta-color", "blue"),
            ("content-disposition", "attachment"),
            ("x-delete-at", "1900000000"),
            ("x-trans-id", "tx1"),
        ]));
        assert_eq!(meta["metadata"]["color"], "blue");
        assert_eq!(meta["headers"]["x-delete-at"], "1900000000");
        assert!(meta["headers"].get("x-trans-id").is_none());
    }

    #[test]
    fn a_broken_large_object_names_the_segment_it_stopped_at() {
        let parts = PartsMd5 {
            digest: None,
            part_sizes: vec![10, 10, 5],
            part_md5s: Vec::new(),
            part_names: vec!["/s/0".into(), "/s/1".into(), "/s/2".into()],
        };
        assert!(segment_at(10, &parts).contains("at the start of segment 2 of 3 (/s/1)"));
        assert!(segment_at(0, &parts).contains("at the start of segment 1 of 3 (/s/0)"));
        assert!(segment_at(23, &parts).contains("3 bytes into segment 3 of 3"));
        assert!(segment_at(25, &parts).contains("the end of its 3 segments"));
    }

    #[test]
    fn descriptions_never_hold_secrets() {
        let doc = description(
            &headers(&[("x-container-read", ".r:*"), ("x-container-meta-temp-url-key", "hunter2")]),
            "container",
            "c",
        );
        let text = String::from_utf8(doc).unwrap();
        assert!(text.contains(".r:*") && !text.contains("hunter2"), "{text}");
    }
}
