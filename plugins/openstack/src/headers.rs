//! What Swift's response headers say: an object's metadata (from its GET), and the JSON
//! description of an account or container (from its HEAD), secrets left out.

use reqwest::header::HeaderMap;
use serde_json::{Map, Value, json};

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

/// What a GET says about an object: its user metadata under `metadata`, the other
/// describing headers (Content-Disposition, X-Delete-At, X-Timestamp…) under `headers`.
pub fn object_meta(headers: &HeaderMap) -> Map<String, Value> {
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
