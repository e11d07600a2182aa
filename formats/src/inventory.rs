//! One line of `sortie/inventory.jsonl`: what an item was at the source and where it is.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// An exported item. Records that carry no bytes (a directory, a symlink, a delete marker)
/// have no `sha256` and, unless they are a tar member, no `path`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Payload path relative to the bag root (`data/…`).
    pub path: Option<String>,
    /// Bytes archived.
    pub size: Option<u64>,
    /// Lower-case hex sha256 of the archived bytes.
    pub sha256: Option<String>,
    /// Source id, the first segment under `data/`.
    pub source: String,
    /// The provider's identifier (key, object name, relative path…), as text.
    pub id: String,
    /// The identifier's exact bytes in hex, present only when they are not valid UTF-8
    /// (then `id` is a lossy rendering).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_hex: Option<String>,
    /// What the item is: object, object-version, delete-marker, config, file, directory,
    /// symlink, message, event, contact, image, record…
    pub kind: String,
    /// Last modification at the source, RFC 3339 UTC.
    pub modified: Option<String>,
    /// MIME type announced by the source.
    pub content_type: Option<String>,
    /// The provider's own checksum of the body (e.g. an S3 or Swift ETag), as served.
    pub etag: Option<String>,
    /// Whether `etag` was checked against the bytes while they streamed.
    pub etag_verified: Option<bool>,
    /// Why `etag` could not be checked, when it could not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag_note: Option<String>,
    /// The checksums announced by the provider that the bytes were checked against while they
    /// streamed (`md5`, `multipart-md5`, `sha256`, `sha512`, `crc32`, `crc32c`, `crc64nvme`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checksums_verified: Vec<String>,
    /// Provider metadata: user metadata, tags, ACL, version id, flags, link targets…
    pub meta: Map<String, Value>,
    /// What the listing announced, present only when the bytes fetched afterwards differ
    /// from it (the item changed at the source between the listing and the download): the
    /// record's own `size`, `sha256`, `etag` and `modified` then describe the archived bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listed: Option<Listed>,
}

/// An item as its listing announced it, kept when the download found it changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Listed {
    /// Size in bytes, when the listing gave one.
    pub size: Option<u64>,
    /// Last modification, RFC 3339 UTC, when the listing gave one.
    pub modified: Option<String>,
    /// The provider's checksum (ETag) as listed, when the listing gave one.
    pub etag: Option<String>,
}

impl Record {
    /// Sets `id` (and `id_hex` when needed) from the identifier's raw bytes.
    pub fn set_id(&mut self, id: &[u8]) {
        match std::str::from_utf8(id) {
            Ok(text) => {
                self.id = text.to_owned();
                self.id_hex = None;
            }
            Err(_) => {
                self.id = String::from_utf8_lossy(id).into_owned();
                self.id_hex = Some(hex::encode(id));
            }
        }
    }
}
