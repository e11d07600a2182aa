//! Swift's large objects: a static large object (SLO) is a manifest naming its segments with
//! their sizes and MD5s; a dynamic one (DLO) is every object under a prefix, in name order.
//! Both are archived as their assembled content, checked segment by segment while it
//! streams. Their segments, in a segment container exported beside its owner container
//! (setting `segments_of`), are listed but not archived a second time: that container's
//! source finds which of its objects the owner's large objects use by reading the owner's
//! manifests itself ([`owner_refs`]), so that the decision depends on neither the order in
//! which sources are listed nor which other sources are exported. A manifest in any other
//! container leaves the segments it uses archived: nothing is lost, some bytes are twice.
//!
//! The owner and its segment container are listed at different times, in either order, and
//! the owner changes meanwhile: a large object uploaded or replaced after the owner was
//! listed is not in the archive, so its segments must be. Resolution therefore stamps the
//! segment container's source with the time it was made (`resolved_at`), before either is
//! listed, and a segment is left out only when both it and the manifest that uses it were
//! last modified before that time: such a manifest was there before the owner's listing,
//! which archives it (a manifest deleted or replaced since then no longer needs those
//! segments). Anything newer keeps its segments archived: nothing is lost. Without
//! `resolved_at` nothing is left out. This assumes that this machine's clock and the object
//! store's agree (as NTP keeps them); the times compared are Swift's, to the microsecond.

use std::collections::HashMap;
use std::time::SystemTime;

use base64::Engine;
use bytes::Bytes;
use futures_util::StreamExt;
use md5::{Digest, Md5};
use serde::Deserialize;
use sortie_sdk::error::{Error, ErrorKind, Result};
use sortie_sdk::item::PartsMd5;

use crate::client::{Client, Request};
use crate::lister::{DELETE_MARKER, Entry, list_json, list_request, parse_time};

/// Large objects of one listing page resolved at once.
pub const LARGE_OBJECTS_AT_ONCE: usize = 16;

/// One entry of an SLO manifest as `?multipart-manifest=get` returns it.
#[derive(Debug, Deserialize)]
struct Segment {
    /// `/container/object`.
    name: Option<String>,
    bytes: Option<u64>,
    hash: Option<String>,
    /// `first-last`, `first-` or `-suffix` bytes of the segment.
    range: Option<String>,
    #[serde(default)]
    sub_slo: bool,
    /// Inline bytes (base64), which newer Swift allows between segments.
    data: Option<String>,
}

/// The parts of a large object, as the engine checks them.
#[derive(Debug)]
pub struct Parts {
    pub check: PartsMd5,
    pub total: u64,
    /// The ETag Swift serves for a DLO: the MD5 of its segments' listed ETags, in order.
    pub dlo_etag: Option<String>,
    /// `(container, object)` of every segment that is an object of its own.
    pub segments: Vec<(String, String)>,
}

/// Reads an SLO manifest. A part whose MD5 cannot be known (a byte range of a segment, or a
/// nested SLO) is still checked for its size.
pub fn slo_parts(manifest: &[u8]) -> Result<Parts> {
    let invalid = |why: String| Error::new(ErrorKind::Other, format!("the SLO manifest cannot be read: {why}"));
    let entries: Vec<Segment> = serde_json::from_slice(manifest).map_err(|e| invalid(e.to_string()))?;
    let mut parts = Parts { check: PartsMd5::new(None, Vec::new()), total: 0, dlo_etag: None, segments: Vec::new() };
    for entry in entries {
        let (size, md5, name) = if let Some(data) = &entry.data {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(data)
                .map_err(|e| invalid(format!("an inline data segment is not base64: {e}")))?;
            (bytes.len() as u64, hex::encode(Md5::digest(&bytes)), "(inline data)".to_owned())
        } else {
            let name = entry.name.ok_or_else(|| invalid("a segment has no name".into()))?;
            let bytes = entry.bytes.ok_or_else(|| invalid(format!("segment {name} has no size")))?;
            let size = match &entry.range {
                Some(range) => range_length(range, bytes).ok_or_else(|| {
                    invalid(format!("segment {name} has the range '{range}' outside its {bytes} bytes"))
                })?,
                None => bytes,
            };
            let md5 = match (&entry.range, entry.sub_slo, &entry.hash) {
                (None, false, Some(hash)) => hash.trim_matches('"').to_ascii_lowercase(),
                _ => String::new(),
            };
            if let Some((container, object)) = name.trim_start_matches('/').split_once('/') {
                parts.segments.push((container.to_owned(), object.to_owned()));
            }
            (size, md5, name)
        };
        parts.total += size;
        parts.check.part_sizes.push(size);
        parts.check.part_md5s.push(md5);
        parts.check.part_names.push(name);
    }
    Ok(parts)
}

/// The length of an SLO segment range (HTTP byte-range syntax, inclusive) within `size`.
fn range_length(range: &str, size: u64) -> Option<u64> {
    let (first, last) = range.split_once('-')?;
    let number = |s: &str| s.trim().parse::<u64>().ok();
    let (first, last) = match (first.trim().is_empty(), last.trim().is_empty()) {
        (true, false) => (size.checked_sub(number(last)?)?, size.checked_sub(1)?),
        (false, true) => (number(first)?, size.checked_sub(1)?),
        (false, false) => (number(first)?, number(last)?.min(size.checked_sub(1)?)),
        (true, true) => return None,
    };
    (first <= last).then(|| last - first + 1)
}

/// `X-Object-Manifest: container/prefix` (each half percent-encoded, as Swift reads it).
pub fn parse_dlo_manifest(value: &str) -> Option<(String, String)> {
    let (container, prefix) = value.split_once('/')?;
    let decode = |s: &str| percent_encoding::percent_decode_str(s).decode_utf8().ok().map(|s| s.into_owned());
    Some((decode(container)?, decode(prefix)?))
}

/// The request for a listed object: the very version listed, when `versions` is on.
pub fn object_request<'a>(container: &'a str, entry: &'a Entry, versions: bool, head: bool) -> Request<'a> {
    let mut query = Vec::new();
    if let Some(version) = entry.version_id.as_ref().filter(|_| versions) {
        query.push(("version-id", version.clone()));
    }
    Request { head, container: Some(container), object: Some(entry.name.as_bytes()), query }
}

/// An SLO's manifest (`?multipart-manifest=get`).
pub async fn slo_manifest(client: &Client, container: &str, entry: &Entry, versions: bool) -> Result<Bytes> {
    let mut request = object_request(container, entry, versions, false);
    request.query.push(("multipart-manifest", "get".into()));
    let what = format!("the manifest of '{}'", entry.name);
    client
        .retried(&what, || async {
            let response = client.send(&request).await?;
            response.bytes().await.map_err(|e| {
                Error::new(ErrorKind::Unavailable, format!("reading the manifest of '{}': {e}", entry.name)).temporary()
            })
        })
        .await
}

/// A zero-byte entry is a DLO when its HEAD names a manifest prefix: that container and
/// prefix.
pub async fn dlo_manifest(
    client: &Client,
    container: &str,
    entry: &Entry,
    versions: bool,
) -> Result<Option<(String, String)>> {
    // The manifest object itself: a DLO whose segments are gone would answer 404.
    let mut request = object_request(container, entry, versions, true);
    request.query.push(("multipart-manifest", "get".into()));
    let what = format!("the HEAD of '{}'", entry.name);
    let response = match client.retried(&what, || client.send(&request)).await {
        Ok(response) => response,
        // Deleted since the listing: the fetch will say so.
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok());
    let Some(value) = header("x-object-manifest") else { return Ok(None) };
    parse_dlo_manifest(value).map(Some).ok_or_else(|| {
        Error::new(ErrorKind::Other, format!("object '{}' has an unreadable X-Object-Manifest: {value}", entry.name))
    })
}

/// Lists a DLO's segments: every object under its prefix, in name order.
pub async fn dlo_parts(client: &Client, container: &str, prefix: &str) -> Result<Parts> {
    let mut parts = Parts { check: PartsMd5::new(None, Vec::new()), total: 0, dlo_etag: None, segments: Vec::new() };
    let mut etag = Md5::new();
    let mut marker = String::new();
    loop {
        let request = list_request(container, prefix, &marker, None, 10_000, false);
        let what = format!("a listing of the segments {container}/{prefix}");
        let entries: Vec<Entry> = client.retried(&what, || list_json(client, &request)).await?;
        let Some(last) = entries.last() else { break };
        marker = last.name.clone();
        for entry in entries {
            parts.total += entry.bytes;
            parts.check.part_sizes.push(entry.bytes);
            etag.update(entry.hash.as_bytes());
            // A segment that is itself a large object has no MD5 of its bytes to compare.
            let plain = entry.slo_etag.is_none();
            parts.check.part_md5s.push(if plain { entry.hash.to_ascii_lowercase() } else { String::new() });
            parts.check.part_names.push(format!("/{container}/{}", entry.name));
            parts.segments.push((container.to_owned(), entry.name));
        }
    }
    parts.dlo_etag = Some(format!("\"{}\"", hex::encode(etag.finalize())));
    Ok(parts)
}

/// The objects of one segment container that the large objects of its owner container use,
/// so that it need not archive them a second time. Memory grows with the number of those
/// segments (names only).
#[derive(Debug)]
pub struct SegmentRefs {
    objects: HashMap<(String, String), String>,
    /// DLO prefixes: container, prefix, the large object.
    prefixes: Vec<(String, String, String)>,
    /// Only what was last modified before this (`resolved_at`) counts.
    before: SystemTime,
}

impl SegmentRefs {
    /// No reference yet, counting those of manifests last modified before `before`.
    pub fn new(before: SystemTime) -> Self {
        Self { objects: HashMap::new(), prefixes: Vec::new(), before }
    }

    pub fn add_objects(&mut self, segments: &[(String, String)], large_object: &str) {
        for segment in segments {
            self.objects.insert(segment.clone(), large_object.to_owned());
        }
    }

    pub fn add_prefix(&mut self, container: &str, prefix: &str, large_object: &str) {
        self.prefixes.push((container.to_owned(), prefix.to_owned(), large_object.to_owned()));
    }

    /// The large object that `container/object` (last modified at `modified`) is a segment
    /// of, if one was met and the segment is older than the cut-off.
    pub fn large_object_of(&self, container: &str, object: &str, modified: Option<SystemTime>) -> Option<&str> {
        if modified.is_none_or(|modified| modified >= self.before) {
            return None;
        }
        if let Some(found) = self.objects.get(&(container.to_owned(), object.to_owned())) {
            return Some(found);
        }
        self.prefixes
            .iter()
            .find(|(c, p, _)| c == container && object.starts_with(p.as_str()))
            .map(|(_, _, l)| l.as_str())
    }
}

/// Which objects of `segments` the large objects of `owner` last modified before `before`
/// use: every such SLO manifest of the owner (of its earlier versions too, unless
/// `current_only`) and every such DLO prefix. An owner that does not exist uses none; a large
/// object whose manifest cannot be read is left out, so that its segments stay archived.
pub async fn owner_refs(
    client: &Client,
    owner: &str,
    segments: &str,
    current_only: bool,
    page_size: u32,
    before: SystemTime,
) -> Result<SegmentRefs> {
    let head = Request { head: true, container: Some(owner), ..Request::default() };
    let versions = match client.send(&head).await {
        Ok(response) => {
            !current_only
                && response
                    .headers()
                    .get("x-versions-enabled")
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.eq_ignore_ascii_case("true"))
        }
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(SegmentRefs::new(before)),
        Err(e) => return Err(e),
    };
    let mut refs = SegmentRefs::new(before);
    let (mut marker, mut version_marker) = (String::new(), None::<String>);
    loop {
        let request = list_request(owner, "", &marker, version_marker.as_deref(), page_size, versions);
        let entries = match list_json(client, &request).await {
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(SegmentRefs::new(before)),
            listed => listed?,
        };
        let Some(last) = entries.last() else { return Ok(refs) };
        marker = last.name.clone();
        version_marker = last.version_id.clone().filter(|_| versions);
        let older = |entry: &&Entry| entry.last_modified.as_deref().and_then(parse_time).is_some_and(|t| t < before);
        let entries: Vec<&Entry> = entries.iter().filter(older).collect();
        let lookups: Vec<_> = entries.iter().map(|entry| used_by(client, owner, entry, versions)).collect();
        let found: Vec<Option<Used>> =
            futures_util::stream::iter(lookups).buffered(LARGE_OBJECTS_AT_ONCE).collect().await;
        for (entry, used) in entries.iter().zip(found) {
            let large_object = format!("{owner}/{}", entry.name);
            match used {
                Some(Used::Objects(objects)) => {
                    let here: Vec<(String, String)> = objects.into_iter().filter(|(c, _)| c == segments).collect();
                    refs.add_objects(&here, &large_object);
                }
                Some(Used::Prefix(container, prefix)) if container == segments => {
                    refs.add_prefix(&container, &prefix, &large_object);
                }
                _ => {}
            }
        }
    }
}

/// What one large object uses.
enum Used {
    /// An SLO's segments, `(container, object)`.
    Objects(Vec<(String, String)>),
    /// A DLO's container and prefix.
    Prefix(String, String),
}

/// What `entry` of `container` uses, if it is a large object whose manifest can be read.
async fn used_by(client: &Client, container: &str, entry: &Entry, versions: bool) -> Option<Used> {
    if entry.content_type == DELETE_MARKER || entry.symlink_path.is_some() {
        return None;
    }
    if entry.slo_etag.is_some() {
        let manifest = slo_manifest(client, container, entry, versions).await.ok()?;
        return slo_parts(&manifest).ok().map(|parts| Used::Objects(parts.segments));
    }
    if entry.bytes != 0 {
        return None;
    }
    let (container, prefix) = dlo_manifest(client, container, entry, versions).await.ok()??;
    Some(Used::Prefix(container, prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slo_manifests_give_sizes_md5s_and_segment_names() {
        let manifest = br#"[
            {"name": "/seg/a", "bytes": 10, "hash": "0123456789abcdef0123456789ABCDEF"},
            {"name": "/seg/b", "bytes": 100, "hash": "ffffffffffffffffffffffffffffffff", "range": "10-19"},
            {"data": "aGVsbG8="},
            {"name": "/seg/nested/slo", "bytes": 7, "hash": "x", "sub_slo": true}
        ]"#;
        let parts = slo_parts(manifest).unwrap();
        assert_eq!(parts.check.part_sizes, [10, 10, 5, 7]);
        assert_eq!(parts.total, 32);
        assert_eq!(parts.check.part_md5s[0], "0123456789abcdef0123456789abcdef");
        assert_eq!(parts.check.part_md5s[1], "", "a range has no MD5 of its own");
        assert_eq!(parts.check.part_md5s[2], "5d41402abc4b2a76b9719d911017c592", "md5 of 'hello'");
        assert_eq!(parts.check.part_md5s[3], "");
        assert_eq!(parts.segments[2], ("seg".to_owned(), "nested/slo".to_owned()));
        assert!(slo_parts(b"{}").unwrap_err().to_string().contains("SLO manifest"));
    }

    #[test]
    fn ranges_follow_http_byte_range_syntax() {
        assert_eq!(range_length("0-9", 100), Some(10));
        assert_eq!(range_length("90-", 100), Some(10));
        assert_eq!(range_length("-5", 100), Some(5));
        assert_eq!(range_length("95-200", 100), Some(5));
        assert_eq!(range_length("20-10", 100), None);
        assert_eq!(range_length("-", 100), None);
    }

    #[test]
    fn dlo_manifests_and_segment_references() {
        assert_eq!(parse_dlo_manifest("c_segments/big%20file/1/"), Some(("c_segments".into(), "big file/1/".into())));
        assert_eq!(parse_dlo_manifest("no-slash"), None);
        let resolved = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_800_000_000);
        let (old, new) = (Some(resolved - std::time::Duration::from_micros(1)), Some(resolved));
        let mut refs = SegmentRefs::new(resolved);
        refs.add_objects(&[("s".into(), "slo/1".into())], "c/big");
        refs.add_prefix("s", "dlo/", "c/dyn");
        assert_eq!(refs.large_object_of("s", "slo/1", old), Some("c/big"));
        assert_eq!(refs.large_object_of("s", "dlo/00", old), Some("c/dyn"));
        assert_eq!(refs.large_object_of("s", "other", old), None);
        assert_eq!(refs.large_object_of("c", "dlo/00", old), None);
        // A segment written since the resolution (a DLO's new one) is kept, as is one of unknown age.
        assert_eq!(refs.large_object_of("s", "dlo/00", new), None);
        assert_eq!(refs.large_object_of("s", "slo/1", None), None);
    }
}
