//! Reading one object: its bytes (GET, streamed) and what the response says about them.

use futures_util::StreamExt;
use reqwest::header::HeaderMap;
use serde_json::{Map, Value, json};
use sortie_core::error::Result;
use sortie_core::error::{Error, ErrorKind};
use sortie_core::item::{Item, ProviderChecksum};
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
    let response = client.send(&request).await?;
    let headers = response.headers();
    let size = response.content_length();
    let content_type = header(headers, "content-type");
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
            parts_md5: None,
        })
    };
    let meta = if manifest { Map::new() } else { object_meta(headers) };
    let name = item.id.display();
    let stream = response
        .bytes_stream()
        .map(move |chunk| {
            chunk.map_err(|e| {
                Error::new(ErrorKind::Unavailable, format!("reading object '{name}' broke off: {e}")).temporary()
            })
        })
        .boxed();
    Ok(Body { size, checksum, content_type, meta, stream })
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
