//! Reading one object: its tag set, ACL and part sizes (separate requests, each retried on
//! its own), then its bytes (GET, streamed, retried by the engine) and what the response
//! says about them.

use std::sync::atomic::{AtomicBool, Ordering};

use base64::Engine;
use futures_util::{StreamExt, TryStreamExt};
use reqwest::header::HeaderMap;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use sortie_sdk::item::{Item, PartsMd5};
use sortie_sdk::provider::Body;
use sortie_sdk::{Error, ErrorKind, Result};

use crate::client::{Client, Request, read_capped};
use crate::lister::{checksum_of_etag, version_of};
use crate::xml;

/// Response headers copied into the inventory, under these names.
const HEADERS: &[(&str, &str)] = &[
    ("cache-control", "cache_control"),
    ("content-encoding", "content_encoding"),
    ("content-disposition", "content_disposition"),
    ("content-language", "content_language"),
    ("expires", "expires"),
    ("last-modified", "last_modified"),
    ("x-amz-version-id", "version_id"),
    ("x-amz-storage-class", "storage_class"),
    ("x-amz-server-side-encryption", "server_side_encryption"),
    ("x-amz-server-side-encryption-aws-kms-key-id", "sse_kms_key_id"),
    ("x-amz-server-side-encryption-customer-algorithm", "sse_customer_algorithm"),
    ("x-amz-website-redirect-location", "website_redirect_location"),
    ("x-amz-object-lock-mode", "object_lock_mode"),
    ("x-amz-object-lock-retain-until-date", "object_lock_retain_until_date"),
    ("x-amz-object-lock-legal-hold", "object_lock_legal_hold"),
    ("x-amz-replication-status", "replication_status"),
    ("x-amz-restore", "restore"),
    ("x-amz-missing-meta", "missing_meta"),
    ("x-amz-mp-parts-count", "parts_count"),
    ("x-amz-checksum-crc32", "checksum_crc32"),
    ("x-amz-checksum-crc32c", "checksum_crc32c"),
    ("x-amz-checksum-crc64nvme", "checksum_crc64nvme"),
    ("x-amz-checksum-sha1", "checksum_sha1"),
    ("x-amz-checksum-sha256", "checksum_sha256"),
    ("x-amz-checksum-type", "checksum_type"),
];

/// Tag sets have at most 10 tags and ACLs 100 grants: anything longer is not one.
const MAX_EXTRA: usize = 256 * 1024;

/// Which per-object sub-resources the server implements: after one definite "not
/// implemented" answer (501, `NotImplemented`, 405, or the object itself instead of the
/// sub-resource) they are not asked for again. A fact about the server, not about an item:
/// an `open` without it (another process) asks once more and comes to the same answer. A
/// damaged answer is never taken for "not implemented".
#[derive(Debug)]
pub struct Support {
    tags: AtomicBool,
    acl: AtomicBool,
}

impl Default for Support {
    /// Every sub-resource presumed implemented until the server says otherwise.
    fn default() -> Self {
        Self { tags: AtomicBool::new(true), acl: AtomicBool::new(true) }
    }
}

/// Opens one object: the version the item names (its locator, or its version), else the
/// current one. Its tag set, ACL and part sizes are asked at every open, each request
/// retried on its own: nothing is kept between two opens of the same item.
/// `allow_missing` (`--allow-missing-metadata`) keeps an object whose tags or ACL could not
/// be read counted complete.
pub async fn open(client: &Client, bucket: &str, item: &Item, support: &Support, allow_missing: bool) -> Result<Body> {
    let version = version_of(item);
    let version = version.as_deref();
    let query = |sub: Option<&'static str>| {
        let mut query: Vec<(&'static str, String)> = sub.map(|s| (s, String::new())).into_iter().collect();
        if let Some(version) = version {
            query.push(("versionId", version.to_owned()));
        }
        query
    };
    let sub_requests = async {
        let (tags, acl, part_sizes) = tokio::join!(
            sub_resource(client, bucket, item, query(Some("tagging")), "Tagging", &support.tags),
            sub_resource(client, bucket, item, query(Some("acl")), "AccessControlPolicy", &support.acl),
            part_sizes(client, bucket, item, version),
        );
        Ok::<_, Error>((tags, acl, part_sizes?))
    };
    let get = Request {
        bucket: Some(bucket),
        key: Some(&item.id.0),
        query: query(None),
        headers: vec![("x-amz-checksum-mode", "ENABLED".to_owned())],
        ..Default::default()
    };
    let multipart = item.checksum.as_ref().and_then(|c| multipart_count(&c.served)).is_some();
    let ((tags, acl, part_sizes), response) = if multipart {
        // Before the GET, not beside it: an answer left unread while thousands of part
        // sizes are asked would hold a connection and risk its read timeout.
        let found = sub_requests.await?;
        (found, client.send(&get).await?)
    } else {
        // Beside it: a tag set and an ACL take a round trip each, the GET need not wait.
        let (found, response) = tokio::join!(sub_requests, client.send(&get));
        (found?, response?)
    };
    let headers = response.headers();
    let mut meta = response_meta(headers);
    let mut missing = Vec::new();
    for (extra, name, what) in [(tags, "tags", "tag set"), (acl, "acl", "ACL")] {
        match extra {
            Extra::Read(value) => _ = meta.insert(name.into(), value),
            Extra::Unreadable(why) => {
                meta.insert(format!("{name}_error"), json!(why));
                missing.push(format!("its {what} could not be read ({why})"));
            }
            Extra::Unsupported => {}
        }
    }
    let incomplete = (!missing.is_empty() && !allow_missing)
        .then(|| format!("{}; --allow-missing-metadata accepts this", missing.join("; ")));
    let header = |name: &str| headers.get(name).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let mut checksum = header("etag").map(|etag| checksum_of_etag(&etag));
    if let Some(checksum) = checksum.as_mut() {
        if checksum.md5.is_some() && encrypted(&header) {
            checksum.md5 = None;
            checksum.note =
                Some("ETag of a KMS or customer-key encrypted object is not an MD5 of the body; size checked".into());
        } else if let Some(part_sizes) = part_sizes.filter(|_| same_etag(item, &checksum.served) && !encrypted(&header))
        {
            let digest = checksum.served.trim_matches('"').split('-').next().unwrap_or_default().to_ascii_lowercase();
            checksum.parts_md5 = Some(PartsMd5::new(Some(digest), part_sizes));
            checksum.note = None;
        }
        checksum.sha256 = full_object_checksum(headers, "sha256", 32);
        checksum.crc32 = full_object_checksum(headers, "crc32", 4);
        checksum.crc32c = full_object_checksum(headers, "crc32c", 4);
        checksum.crc64nvme = full_object_checksum(headers, "crc64nvme", 8);
    }
    let size = response.content_length();
    let validator = header("etag");
    let content_type = header("content-type");
    let modified = sortie_http::last_modified(headers);
    let url = format!("s3://{bucket}/{}", item.id.display());
    let stream = response
        .bytes_stream()
        .map(move |chunk| {
            chunk.map_err(|e| Error::new(ErrorKind::Unavailable, format!("reading {url}: {e}")).temporary())
        })
        .boxed();
    let mut body = Body::streaming(size, stream);
    body.checksum = checksum;
    body.content_type = content_type;
    body.meta = meta;
    body.modified = modified;
    body.incomplete = incomplete;
    body.validator = validator;
    Ok(body)
}

/// Bytes `range` of the version of an object an [`open`] read: the same version id, and
/// `If-Match` its ETag, so that an object overwritten meanwhile answers 412 instead of
/// another version's bytes.
pub async fn open_range(
    client: &Client,
    bucket: &str,
    item: &Item,
    range: std::ops::Range<u64>,
    validator: Option<&str>,
) -> Result<Body> {
    let mut query = Vec::new();
    if let Some(version) = version_of(item) {
        query.push(("versionId", version));
    }
    let mut headers = vec![("range", sortie_http::range_header(&range))];
    if let Some(etag) = validator {
        headers.push(("if-match", etag.to_owned()));
    }
    let get = Request { bucket: Some(bucket), key: Some(&item.id.0), query, headers, ..Default::default() };
    let url = format!("s3://{bucket}/{}", item.id.display());
    match client.send_checked(&get).await {
        Ok(response) => sortie_http::ranged_body(response, &range, &url),
        Err(failure) if failure.status == Some(reqwest::StatusCode::PRECONDITION_FAILED) => {
            Err(sortie_http::changed_while_read(&url))
        }
        Err(failure) => Err(failure.error),
    }
}

/// A multipart ETag (`"…-N"`) is the MD5 of its N parts' MD5s: with the size of every part
/// (HEAD `?partNumber=i`) the engine can recompute it while the bytes stream. `None` when
/// the ETag is not a multipart one, or the server does not tell the part sizes (it then
/// answers with the whole object, whose sizes do not add up to the listed size).
async fn part_sizes(client: &Client, bucket: &str, item: &Item, version: Option<&str>) -> Result<Option<Vec<u64>>> {
    let Some(parts) = item.checksum.as_ref().and_then(|c| multipart_count(&c.served)) else { return Ok(None) };
    let Some(size) = item.size else { return Ok(None) };
    let mut sizes: Vec<(usize, Option<u64>)> = futures_util::stream::iter(1..=parts)
        .map(|part| async move {
            let mut query = vec![("partNumber", part.to_string())];
            if let Some(version) = version {
                query.push(("versionId", version.to_owned()));
            }
            let request =
                Request { head: true, bucket: Some(bucket), key: Some(&item.id.0), query, ..Default::default() };
            let what = format!("the size of part {part} of s3://{bucket}/{}", item.id.display());
            match client.retried(&what, || client.send_checked(&request)).await {
                // The header, not `content_length()`: a HEAD response's body is empty.
                Ok(response) => Ok((
                    part,
                    response.headers().get("content-length").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok()),
                )),
                // Still busy or failing after every retry: the object cannot be checked.
                Err(failure) if matches!(failure.error.kind(), ErrorKind::RateLimited | ErrorKind::Unavailable) => {
                    Err(failure.error.context(&what))
                }
                // A definite refusal: the server does not tell part sizes.
                Err(_) => Ok((part, None)),
            }
        })
        // Unordered: one part waiting out a Retry-After must not hold up the others.
        .buffer_unordered(PART_HEADS_AT_ONCE)
        .try_collect()
        .await?;
    sizes.sort_unstable_by_key(|(part, _)| *part);
    let sizes: Option<Vec<u64>> = sizes.into_iter().map(|(_, size)| size).collect();
    Ok(sizes.filter(|sizes| sizes.iter().sum::<u64>() == size))
}

/// Parts asked for at once for one object.
const PART_HEADS_AT_ONCE: usize = 16;

/// N of a multipart ETag `"…-N"`, within S3's limit of 10,000 parts.
fn multipart_count(etag: &str) -> Option<usize> {
    let (digest, parts) = etag.trim_matches('"').rsplit_once('-')?;
    let parts: usize = parts.parse().ok()?;
    (digest.len() == 32 && digest.bytes().all(|b| b.is_ascii_hexdigit()) && (1..=10_000).contains(&parts))
        .then_some(parts)
}

/// The GET served the version the part sizes were asked for.
fn same_etag(item: &Item, served: &str) -> bool {
    item.checksum.as_ref().is_some_and(|c| c.served.trim_matches('"') == served.trim_matches('"'))
}

/// KMS and customer-key encryption make ETags that are not MD5-based.
fn encrypted(header: &dyn Fn(&str) -> Option<String>) -> bool {
    header("x-amz-server-side-encryption").is_some_and(|v| v.starts_with("aws:kms"))
        || header("x-amz-server-side-encryption-customer-algorithm").is_some()
}

/// `x-amz-checksum-<algorithm>` in lower-case hex when it is a checksum of the whole body
/// (`len` bytes); a composite checksum of a multipart upload (`…-N`, type COMPOSITE) is
/// one of its parts' checksums, not checkable on the object's bytes.
fn full_object_checksum(headers: &HeaderMap, algorithm: &str, len: usize) -> Option<String> {
    let value = headers.get(format!("x-amz-checksum-{algorithm}"))?.to_str().ok()?;
    let composite = headers.get("x-amz-checksum-type").is_some_and(|t| t.as_bytes().eq_ignore_ascii_case(b"COMPOSITE"));
    if composite || value.contains('-') {
        return None;
    }
    let digest = base64::engine::general_purpose::STANDARD.decode(value).ok()?;
    (digest.len() == len).then(|| hex::encode(digest))
}

fn response_meta(headers: &HeaderMap) -> Map<String, Value> {
    let mut meta = Map::new();
    for (header, name) in HEADERS {
        if let Some(value) = headers.get(*header) {
            meta.insert((*name).into(), Value::String(String::from_utf8_lossy(value.as_bytes()).into_owned()));
        }
    }
    let mut user = Map::new();
    for (name, value) in headers {
        if let Some(key) = name.as_str().strip_prefix("x-amz-meta-") {
            user.insert(key.to_owned(), Value::String(String::from_utf8_lossy(value.as_bytes()).into_owned()));
        }
    }
    if !user.is_empty() {
        meta.insert("user_metadata".into(), Value::Object(user));
    }
    meta
}

/// A per-object sub-resource (tag set, ACL).
enum Extra {
    /// Read, as it goes into the inventory.
    Read(Value),
    /// The server said definitely that it does not implement it.
    Unsupported,
    /// Refused (access denied) or still failing after every retry (moto answers 500 to the
    /// ACL of a multipart upload completed without one): recorded with the object, whose
    /// bytes are archived, and making it incomplete unless `--allow-missing-metadata`.
    Unreadable(String),
}

/// What one answer to a sub-resource request was.
enum Answered {
    Read(Value),
    /// The object itself (its ETag), or more than any tag set or ACL: the server ignored the
    /// sub-resource.
    Ignored,
}

async fn sub_resource(
    client: &Client,
    bucket: &str,
    item: &Item,
    query: Vec<(&'static str, String)>,
    root: &'static str,
    supported: &AtomicBool,
) -> Extra {
    if !supported.load(Ordering::Relaxed) {
        return Extra::Unsupported;
    }
    let request = Request { bucket: Some(bucket), key: Some(&item.id.0), query, ..Default::default() };
    let what = format!("the {root} of s3://{bucket}/{}", item.id.display());
    let listed_etag = item.checksum.as_ref().map(|c| c.served.trim_matches('"').to_owned());
    let answer = client
        .retried(&what, || async {
            let response = client.send_checked(&request).await?;
            let etag =
                response.headers().get("etag").and_then(|v| v.to_str().ok()).map(|v| v.trim_matches('"').to_owned());
            let Some(body) = read_capped(response, MAX_EXTRA).await.map_err(|e| e.context(&what))? else {
                return Ok(Answered::Ignored);
            };
            let text = String::from_utf8_lossy(&body);
            if xml::root_element(&text) == Some(root) {
                if let Ok(value) = extra_json(root, &text) {
                    return Ok(Answered::Read(value));
                }
            } else if etag.is_some() && etag == listed_etag {
                return Ok(Answered::Ignored);
            }
            // Cut or damaged on the way: asked again, and never taken for "not implemented".
            Err(Error::new(ErrorKind::Unavailable, format!("{what}: the answer is damaged (not a {root} document)"))
                .temporary()
                .into())
        })
        .await;
    match answer {
        Ok(Answered::Read(value)) => Extra::Read(value),
        Ok(Answered::Ignored) => {
            supported.store(false, Ordering::Relaxed);
            Extra::Unsupported
        }
        Err(failure)
            if failure.error.kind() == ErrorKind::Unsupported || failure.status.is_some_and(|s| s.as_u16() == 405) =>
        {
            supported.store(false, Ordering::Relaxed);
            Extra::Unsupported
        }
        Err(failure) => {
            tracing::warn!(error = %failure.error, "object metadata not readable; recorded in the inventory");
            Extra::Unreadable(failure.error.to_string())
        }
    }
}

/// A tag set as `{key: value}`, an ACL as plain JSON.
fn extra_json(root: &str, text: &str) -> Result<Value> {
    if root == "Tagging" {
        let tagging: xml::Tagging = xml::parse("GetObjectTagging", text)?;
        Ok(tagging.tag_set.tag.iter().map(|t| (t.key.clone(), json!(t.value))).collect())
    } else {
        acl_json(text)
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AccessControlPolicy {
    owner: Option<Grantee>,
    #[serde(default)]
    access_control_list: AccessControlList,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AccessControlList {
    #[serde(default)]
    grant: Vec<Grant>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Grant {
    grantee: Grantee,
    permission: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Grantee {
    #[serde(rename = "ID")]
    id: Option<String>,
    display_name: Option<String>,
    #[serde(rename = "URI")]
    uri: Option<String>,
    email_address: Option<String>,
}

impl Grantee {
    fn to_json(&self) -> Value {
        let mut out = Map::new();
        for (name, value) in
            [("id", &self.id), ("display_name", &self.display_name), ("uri", &self.uri), ("email", &self.email_address)]
        {
            if let Some(value) = value {
                out.insert(name.into(), json!(value));
            }
        }
        Value::Object(out)
    }
}

fn acl_json(text: &str) -> Result<Value> {
    let policy: AccessControlPolicy = xml::parse("GetObjectAcl", text)?;
    let grants: Vec<Value> = policy
        .access_control_list
        .grant
        .iter()
        .map(|g| json!({ "grantee": g.grantee.to_json(), "permission": g.permission }))
        .collect();
    Ok(json!({ "owner": policy.owner.as_ref().map(Grantee::to_json), "grants": grants }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acls_become_plain_json() {
        let xml = r#"<AccessControlPolicy xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Owner><ID>o1</ID><DisplayName>me</DisplayName></Owner>
<AccessControlList><Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser"><ID>o1</ID></Grantee><Permission>FULL_CONTROL</Permission></Grant>
<Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="Group"><URI>http://acs.amazonaws.com/groups/global/AllUsers</URI></Grantee><Permission>READ</Permission></Grant></AccessControlList></AccessControlPolicy>"#;
        let acl = acl_json(xml).unwrap();
        assert_eq!(acl["owner"]["id"], "o1");
        assert_eq!(acl["grants"][1]["grantee"]["uri"], "http://acs.amazonaws.com/groups/global/AllUsers");
        assert_eq!(acl["grants"][1]["permission"], "READ");
    }

    #[test]
    fn multipart_etags_name_their_part_count() {
        assert_eq!(multipart_count("\"d41d8cd98f00b204e9800998ecf8427e-7\""), Some(7));
        assert_eq!(multipart_count("\"d41d8cd98f00b204e9800998ecf8427e\""), None);
        assert_eq!(multipart_count("\"d41d8cd98f00b204e9800998ecf8427e-0\""), None);
        assert_eq!(multipart_count("\"not-an-md5-3\""), None);
    }

    #[test]
    fn only_full_object_checksums_are_checked() {
        let mut headers = HeaderMap::new();
        headers.insert("x-amz-checksum-sha256", "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=".parse().unwrap());
        headers.insert("x-amz-checksum-crc32", "yk/JSg==".parse().unwrap());
        headers.insert("x-amz-checksum-crc64nvme", "AAAAAAAAAAA=".parse().unwrap());
        assert_eq!(
            full_object_checksum(&headers, "sha256", 32).as_deref(),
            Some("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        );
        assert_eq!(full_object_checksum(&headers, "crc32", 4).as_deref(), Some("ca4fc94a"));
        assert_eq!(full_object_checksum(&headers, "crc64nvme", 8).as_deref(), Some("0000000000000000"));
        assert_eq!(full_object_checksum(&headers, "crc32c", 4), None, "not announced");
        assert_eq!(full_object_checksum(&headers, "crc32", 8), None, "not a CRC64");
        headers.insert("x-amz-checksum-crc32c", "yk/JSg==-3".parse().unwrap());
        assert_eq!(full_object_checksum(&headers, "crc32c", 4), None, "a multipart upload's composite checksum");
        headers.insert("x-amz-checksum-type", "COMPOSITE".parse().unwrap());
        assert_eq!(full_object_checksum(&headers, "sha256", 32), None);
    }
}
