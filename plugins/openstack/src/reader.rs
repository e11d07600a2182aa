//! Reading one object: its bytes (GET, streamed) and what the response says about them.
//! Everything needed is in the item: its name, and the version the listing saw in its
//! locator (see `lister`).

use futures_util::StreamExt;
use reqwest::header::HeaderMap;
use sortie_sdk::error::{Error, ErrorKind, Result};
use sortie_sdk::item::{Item, PartsMd5, ProviderChecksum};
use sortie_sdk::provider::Body;

use crate::client::{Client, Request};
use crate::headers::object_meta;

/// Opens an object of `container`: the very version listed, when the listing named one.
pub async fn open(client: &Client, container: &str, item: &Item) -> Result<Body> {
    let mut query = Vec::new();
    if let Some(version) = &item.locator {
        query.push(("version-id", version.clone()));
    }
    let request = Request { head: false, container: Some(container), object: Some(&item.id.0), query };
    let parts = item.checksum.as_ref().and_then(|c| c.parts_md5.clone());
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
    let modified = sortie_http::last_modified(headers);
    let large = headers.contains_key("x-static-large-object") || headers.contains_key("x-object-manifest");
    let listed_large = item.checksum.as_ref().is_some_and(|c| c.parts_md5.is_some());
    let etag = header(headers, "etag").unwrap_or_default();
    // A DLO's ETag is computed from its segments as they are listed at each request and is
    // not something Swift's If-Match compares against: its segments' MD5s (the listing's
    // parts) guard it instead.
    let validator = (!headers.contains_key("x-object-manifest") && !etag.is_empty()).then(|| etag.clone());
    let checksum = if listed_large {
        // The listing's parts stand.
        None
    } else if large {
        Some(ProviderChecksum::unchecked(
            etag,
            Some("became a large object after the listing: its segments were not checked".into()),
        ))
    } else {
        let md5 = etag.trim_matches('"').to_ascii_lowercase();
        let is_md5 = md5.len() == 32 && md5.bytes().all(|b| b.is_ascii_hexdigit());
        Some(if is_md5 {
            ProviderChecksum::md5(etag, md5)
        } else {
            ProviderChecksum::unchecked(etag, Some("the ETag is not an MD5".to_owned()))
        })
    };
    let meta = object_meta(headers);
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
    let mut body = Body::streaming(size, stream);
    body.checksum = checksum;
    body.content_type = content_type;
    body.meta = meta;
    body.modified = modified;
    body.validator = validator;
    Ok(body)
}

/// Bytes `range` of the object [`open`] read: the same version, and `If-Match` its ETag
/// (for a static large object, the ETag of the assembled object, which Swift compares).
pub async fn open_range(
    client: &Client,
    container: &str,
    item: &Item,
    range: std::ops::Range<u64>,
    validator: Option<&str>,
) -> Result<Body> {
    let mut query = Vec::new();
    if let Some(version) = &item.locator {
        query.push(("version-id", version.clone()));
    }
    let request = Request { head: false, container: Some(container), object: Some(&item.id.0), query };
    let asked = sortie_http::range_header(&range);
    let mut headers = vec![("Range", asked.as_str())];
    if let Some(etag) = validator {
        headers.push(("If-Match", etag));
    }
    let response = client.send_with(&request, &headers).await?;
    sortie_http::ranged_body(response, &range, &format!("object '{}'", item.id.display()))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broken_large_object_names_the_segment_it_stopped_at() {
        let mut parts = PartsMd5::new(None, vec![10, 10, 5]);
        parts.part_names = vec!["/s/0".into(), "/s/1".into(), "/s/2".into()];
        assert!(segment_at(10, &parts).contains("at the start of segment 2 of 3 (/s/1)"));
        assert!(segment_at(0, &parts).contains("at the start of segment 1 of 3 (/s/0)"));
        assert!(segment_at(23, &parts).contains("3 bytes into segment 3 of 3"));
        assert!(segment_at(25, &parts).contains("the end of its 3 segments"));
    }
}
