//! Ranged GETs (RFC 9110 §14): the request headers and the checks on the answer that every
//! provider reading byte ranges needs, so that a server ignoring `Range` or answering
//! another range can never have its bytes taken for the range asked.

use std::ops::Range;

use futures_util::StreamExt;
use reqwest::StatusCode;
use sortie_sdk::error::{Error, ErrorKind, Result};
use sortie_sdk::provider::Body;

/// The `Range` header asking for `range` (not empty).
pub fn range_header(range: &Range<u64>) -> String {
    format!("bytes={}-{}", range.start, range.end - 1)
}

/// The error for a `412 Precondition Failed` to a ranged GET sent with `If-Match`: the
/// object changed since it was opened. Temporary: opening it again reads the new version.
pub fn changed_while_read(what: &str) -> Error {
    Error::new(
        ErrorKind::Integrity,
        format!("{what} changed while it was read in ranges (412 to If-Match): read again from the start"),
    )
    .temporary()
}

/// The bytes of a successful answer to a ranged GET: a 206 whose `Content-Range` is
/// exactly `range`; any other answer (a 200 with the whole object, another range) is an
/// error naming what came.
pub fn ranged_body(response: reqwest::Response, range: &Range<u64>, what: &str) -> Result<Body> {
    let asked = range_header(range);
    if response.status() != StatusCode::PARTIAL_CONTENT {
        return Err(Error::new(
            ErrorKind::Unsupported,
            format!(
                "{what}: the server answered {} to `Range: {asked}` instead of 206 Partial Content; export with \
                 --range-streams 1 to read each object as one stream",
                response.status()
            ),
        ));
    }
    let content_range = response.headers().get("content-range").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let served = content_range.strip_prefix("bytes ").and_then(|r| r.split('/').next());
    if served != Some(&asked["bytes=".len()..]) {
        return Err(Error::new(
            ErrorKind::Integrity,
            format!("{what}: asked for `Range: {asked}`, the server sent `Content-Range: {content_range}`"),
        )
        .temporary());
    }
    let what = what.to_owned();
    let stream = response
        .bytes_stream()
        .map(move |chunk| {
            chunk.map_err(|e| Error::new(ErrorKind::Unavailable, format!("reading {what}: {e}")).temporary())
        })
        .boxed();
    Ok(Body::streaming(Some(range.end - range.start), stream))
}
