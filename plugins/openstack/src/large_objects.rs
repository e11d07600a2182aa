//! Swift's large objects: a static large object (SLO) is a manifest naming its segments with
//! their sizes and MD5s; a dynamic one (DLO) is every object under a prefix, in name order.
//! Both are archived as their assembled content, checked segment by segment while it
//! streams; their segments, when the same export meets them later, are listed but not
//! archived a second time.

use std::collections::HashMap;

use base64::Engine;
use md5::{Digest, Md5};
use serde::Deserialize;
use sortie_core::error::{Error, ErrorKind, Result};
use sortie_core::item::PartsMd5;

use crate::client::Client;
use crate::listing::{Entry, list_json, list_request};

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
    let mut parts = Parts {
        check: PartsMd5 { digest: None, part_sizes: Vec::new(), part_md5s: Vec::new(), part_names: Vec::new() },
        total: 0,
        dlo_etag: None,
        segments: Vec::new(),
    };
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

/// Lists a DLO's segments: every object under its prefix, in name order.
pub async fn dlo_parts(client: &Client, container: &str, prefix: &str) -> Result<Parts> {
    let mut parts = Parts {
        check: PartsMd5 { digest: None, part_sizes: Vec::new(), part_md5s: Vec::new(), part_names: Vec::new() },
        total: 0,
        dlo_etag: None,
        segments: Vec::new(),
    };
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

/// The segments met so far in this export, so that the containers holding them need not
/// archive them a second time. Memory grows with the number of segments (names only).
#[derive(Debug, Default)]
pub struct SegmentRefs {
    objects: HashMap<(String, String), String>,
    /// DLO prefixes: container, prefix, the large object.
    prefixes: Vec<(String, String, String)>,
}

impl SegmentRefs {
    pub fn add_objects(&mut self, segments: &[(String, String)], large_object: &str) {
        for segment in segments {
            self.objects.insert(segment.clone(), large_object.to_owned());
        }
    }

    pub fn add_prefix(&mut self, container: &str, prefix: &str, large_object: &str) {
        self.prefixes.push((container.to_owned(), prefix.to_owned(), large_object.to_owned()));
    }

    /// The large object that `container/object` is a segment of, if one was met.
    pub fn large_object_of(&self, container: &str, object: &str) -> Option<&str> {
        if let Some(found) = self.objects.get(&(container.to_owned(), object.to_owned())) {
            return Some(found);
        }
        self.prefixes
            .iter()
            .find(|(c, p, _)| c == container && object.starts_with(p.as_str()))
            .map(|(_, _, l)| l.as_str())
    }
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
        let mut refs = SegmentRefs::default();
        refs.add_objects(&[("s".into(), "slo/1".into())], "c/big");
        refs.add_prefix("s", "dlo/", "c/dyn");
        assert_eq!(refs.large_object_of("s", "slo/1"), Some("c/big"));
        assert_eq!(refs.large_object_of("s", "dlo/00"), Some("c/dyn"));
        assert_eq!(refs.large_object_of("s", "other"), None);
        assert_eq!(refs.large_object_of("c", "dlo/00"), None);
    }
}
