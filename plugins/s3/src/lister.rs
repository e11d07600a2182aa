//! A bucket's listing, page by page: its configuration first, then its objects (ListObjectsV2)
//! or, for a bucket with versioning, every version and delete marker (ListObjectVersions).
//! The cursor between pages says which listing and where in it.

use futures_util::future::join_all;
use percent_encoding::percent_decode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sortie_sdk::item::{Area, Item, Kind, ProviderChecksum, RawName, Skip};
use sortie_sdk::provider::Page;
use sortie_sdk::{Error, ErrorKind, Result};

use crate::client::{Client, Request};
use crate::xml::{ListBucketResult, ListVersionsResult, VersionsChild};

/// Storage classes whose objects cannot be read before a restore.
const ARCHIVED_CLASSES: &[&str] = &["GLACIER", "DEEP_ARCHIVE"];

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "kebab-case")]
pub enum Cursor {
    Objects { token: Option<String> },
    Versions { key_marker: Option<String>, version_marker: Option<String> },
}

impl Cursor {
    pub fn encode(&self) -> String {
        serde_json::to_string(self).expect("a cursor serializes")
    }

    pub fn decode(text: &str) -> Result<Self> {
        serde_json::from_str(text)
            .map_err(|e| Error::new(ErrorKind::InvalidInput, format!("not an S3 listing cursor: {e}")))
    }
}

pub struct Lister<'a> {
    pub client: &'a Client,
    pub bucket: &'a str,
    pub prefix: &'a str,
    pub skip_archived: bool,
}

impl Lister<'_> {
    pub async fn objects(&self, token: Option<String>) -> Result<Page> {
        let mut query = vec![("list-type", "2".to_owned()), ("encoding-type", "url".to_owned())];
        if !self.prefix.is_empty() {
            query.push(("prefix", self.prefix.to_owned()));
        }
        if let Some(token) = token {
            query.push(("continuation-token", token));
        }
        let result: ListBucketResult = self.get(query, "ListObjectsV2").await?;
        let encoded = result.encoding_type.as_deref() == Some("url");
        let mut items = Vec::with_capacity(result.contents.len());
        for entry in result.contents {
            let key = decode_key(&entry.key, encoded)?;
            let mut item =
                object_item(key, Kind::Object, entry.size, entry.last_modified.as_deref(), entry.etag.as_deref());
            if let Some(class) = entry.storage_class {
                item.meta.insert("storage_class".into(), Value::String(class));
            }
            items.push(item);
        }
        let next = match (result.is_truncated, result.next_continuation_token) {
            (false, _) => None,
            (true, Some(token)) => Some(Cursor::Objects { token: Some(token) }.encode()),
            (true, None) => return Err(truncated_without_marker("ListObjectsV2")),
        };
        self.mark_archived(&mut items).await?;
        Ok(Page::new(items, next))
    }

    pub async fn versions(&self, key_marker: Option<String>, version_marker: Option<String>) -> Result<Page> {
        let mut query = vec![("versions", String::new()), ("encoding-type", "url".to_owned())];
        if !self.prefix.is_empty() {
            query.push(("prefix", self.prefix.to_owned()));
        }
        if let Some(marker) = key_marker {
            query.push(("key-marker", marker));
        }
        if let Some(marker) = version_marker {
            query.push(("version-id-marker", marker));
        }
        let result: ListVersionsResult = self.get(query, "ListObjectVersions").await?;
        let encoded = result.children.iter().any(|c| matches!(c, VersionsChild::EncodingType(e) if e == "url"));
        let (mut truncated, mut next_key, mut next_version) = (false, None, None);
        let mut items = Vec::new();
        for child in result.children {
            match child {
                VersionsChild::Version(v) => {
                    let key = decode_key(&v.key, encoded)?;
                    let version_id = v.version_id.unwrap_or_else(|| "null".to_owned());
                    let kind = if v.is_latest { Kind::Object } else { Kind::ObjectVersion };
                    let mut item = object_item(key, kind, v.size, v.last_modified.as_deref(), v.etag.as_deref());
                    if !v.is_latest {
                        item.area = Area::Versions;
                        item.version = Some(RawName::text(&version_id));
                    }
                    if let Some(class) = v.storage_class {
                        item.meta.insert("storage_class".into(), Value::String(class));
                    }
                    item.locator = Some(version_id.clone());
                    item.meta.insert("version_id".into(), Value::String(version_id));
                    item.meta.insert("is_latest".into(), Value::Bool(v.is_latest));
                    items.push(item);
                }
                VersionsChild::DeleteMarker(d) => {
                    let key = decode_key(&d.key, encoded)?;
                    let version_id = d.version_id.unwrap_or_else(|| "null".to_owned());
                    let mut item = object_item(key, Kind::DeleteMarker, 0, d.last_modified.as_deref(), None);
                    item.has_body = false;
                    item.size = None;
                    item.area = Area::Versions;
                    item.version = Some(RawName::text(&version_id));
                    item.meta.insert("version_id".into(), Value::String(version_id));
                    item.meta.insert("is_latest".into(), Value::Bool(d.is_latest));
                    items.push(item);
                }
                VersionsChild::IsTruncated(t) => truncated = t,
                VersionsChild::NextKeyMarker(k) => next_key = Some(k),
                VersionsChild::NextVersionIdMarker(v) => next_version = Some(v),
                VersionsChild::EncodingType(_) | VersionsChild::Other => {}
            }
        }
        let next = match (truncated, next_key) {
            (false, _) => None,
            (true, Some(key)) => {
                let key = String::from_utf8(decode_key(&key, encoded)?.0)
                    .map_err(|_| Error::new(ErrorKind::Other, "the server returned a key marker that is not UTF-8"))?;
                Some(Cursor::Versions { key_marker: Some(key), version_marker: next_version }.encode())
            }
            (true, None) => return Err(truncated_without_marker("ListObjectVersions")),
        };
        self.mark_archived(&mut items).await?;
        Ok(Page::new(items, next))
    }

    async fn get<T: serde::de::DeserializeOwned>(&self, query: Vec<(&'static str, String)>, call: &str) -> Result<T> {
        let request = Request { bucket: Some(self.bucket), query, ..Default::default() };
        self.client.get_document(&request, &format!("{call} of bucket {}", self.bucket)).await
    }

    /// With `--skip-archived`, objects in an archive class are asked whether they have
    /// been restored (HEAD, `x-amz-restore`); those that have not are left out on purpose.
    /// Without it they are fetched like the rest and fail with a hint.
    async fn mark_archived(&self, items: &mut [Item]) -> Result<()> {
        if !self.skip_archived {
            return Ok(());
        }
        let archived: Vec<usize> = (0..items.len())
            .filter(|&i| {
                items[i].has_body
                    && items[i]
                        .meta
                        .get("storage_class")
                        .and_then(Value::as_str)
                        .is_some_and(|c| ARCHIVED_CLASSES.contains(&c))
            })
            .collect();
        let restored = join_all(archived.iter().map(|&i| self.is_restored(&items[i]))).await;
        for (&i, restored) in archived.iter().zip(restored) {
            if !restored? {
                let class = items[i].meta.get("storage_class").and_then(Value::as_str).unwrap_or_default().to_owned();
                items[i].skip = Some(Skip::Excluded(format!(
                    "archived in storage class {class} and not restored; --skip-archived left it out"
                )));
            }
        }
        Ok(())
    }

    async fn is_restored(&self, item: &Item) -> Result<bool> {
        let mut query = Vec::new();
        if let Some(version) = version_of(item) {
            query.push(("versionId", version));
        }
        let request =
            Request { head: true, bucket: Some(self.bucket), key: Some(&item.id.0), query, ..Default::default() };
        // One of many HEADs of a listing page: retried alone, not with the page.
        let what = format!("whether s3://{}/{} is restored", self.bucket, item.id.display());
        let response = self.client.retried(&what, || self.client.send_checked(&request)).await.map_err(|f| f.error)?;
        let restore = response.headers().get("x-amz-restore").and_then(|v| v.to_str().ok()).unwrap_or_default();
        Ok(restore.contains("ongoing-request=\"false\""))
    }
}

/// The version of an object to ask for: the one listed (ListObjectVersions), kept in the
/// item's locator, or its version for an item built without one; `None` for the current
/// one (ListObjectsV2).
pub fn version_of(item: &Item) -> Option<String> {
    item.locator.clone().or_else(|| item.version.as_ref().map(RawName::display))
}

fn object_item(key: RawName, kind: Kind, size: u64, modified: Option<&str>, etag: Option<&str>) -> Item {
    let segments = key.0.split(|&b| b == b'/').map(|s| RawName(s.to_vec())).collect();
    let mut item = Item::new(key, segments, kind);
    item.size = Some(size);
    item.modified = modified.and_then(|m| humantime::parse_rfc3339_weak(m.trim_end_matches('Z')).ok());
    item.checksum = etag.map(checksum_of_etag);
    item
}

/// An ETag is the body's MD5 only for objects uploaded in one part without KMS or
/// customer-key encryption; a multipart ETag (`"…-N"`) is an MD5 of the parts' MD5s.
pub fn checksum_of_etag(etag: &str) -> ProviderChecksum {
    let bare = etag.trim_matches('"');
    let is_md5 = bare.len() == 32 && bare.bytes().all(|b| b.is_ascii_hexdigit());
    if is_md5 {
        ProviderChecksum::md5(etag, bare.to_ascii_lowercase())
    } else if let Some((_, parts)) = bare.rsplit_once('-') {
        ProviderChecksum::unchecked(
            etag,
            Some(format!("multipart ETag ({parts} parts) is not an MD5 of the body; size checked")),
        )
    } else {
        ProviderChecksum::unchecked(etag, Some("ETag is not an MD5 of the body; size checked".to_owned()))
    }
}

/// Keys come URL-encoded (`encoding-type=url`) so that any byte survives XML 1.0, with
/// `+` for a space as AWS writes it.
fn decode_key(key: &str, encoded: bool) -> Result<RawName> {
    if !encoded {
        return Ok(RawName::text(key));
    }
    let plus_as_space = key.replace('+', " ");
    Ok(RawName(percent_decode(plus_as_space.as_bytes()).collect()))
}

fn truncated_without_marker(call: &str) -> Error {
    Error::new(ErrorKind::Other, format!("the server said its {call} page was truncated but gave no marker to go on"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_say_whether_they_are_md5s() {
        let single = checksum_of_etag("\"9E107D9D372BB6826BD81D3542A419D6\"");
        assert_eq!(single.md5.as_deref(), Some("9e107d9d372bb6826bd81d3542a419d6"));
        let multi = checksum_of_etag("\"d41d8cd98f00b204e9800998ecf8427e-7\"");
        assert_eq!(multi.md5, None);
        assert!(multi.note.unwrap().contains("7 parts"));
        assert_eq!(checksum_of_etag("W/\"x\"").md5, None);
    }

    #[test]
    fn keys_decode_to_their_exact_bytes() {
        assert_eq!(decode_key("a+b%2Bc%0A%E2%82%AC", true).unwrap().0, "a b+c\n€".as_bytes());
        assert_eq!(decode_key("a+b%2B", false).unwrap().0, b"a+b%2B");
        let cursor = Cursor::Versions { key_marker: Some("k".into()), version_marker: None };
        assert!(matches!(Cursor::decode(&cursor.encode()).unwrap(), Cursor::Versions { .. }));
    }
}
