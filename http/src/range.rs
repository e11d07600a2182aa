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
    let content_range = response.headers().get("content-range").map_or(&b""[..], |v| v.as_bytes());
    let served = std::str::from_utf8(content_range).ok().and_then(|r| r.strip_prefix("bytes ")?.split('/').next());
    if served != Some(&asked["bytes=".len()..]) {
        // The server's header is shown as an excerpt: bounded, printable.
        let shown = crate::excerpt(content_range, &[]);
        return Err(Error::new(
            ErrorKind::Integrity,
            format!("{what}: asked for `Range: {asked}`, the server sent `Content-Range: {shown}`"),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, content_range: &[u8]) -> reqwest::Response {
        let response = http::Response::builder()
            .status(status)
            .header("content-range", http::HeaderValue::from_bytes(content_range).unwrap())
            .body("0123456789")
            .unwrap();
        reqwest::Response::from(response)
    }

    #[test]
    fn only_a_206_of_the_very_range_asked_is_taken_and_a_hostile_header_is_shown_bounded() {
        let range = 10..20;
        assert_eq!(range_header(&range), "bytes=10-19");
        assert!(ranged_body(answer(206, b"bytes 10-19/100"), &range, "object 'a'").is_ok());
        let whole = ranged_body(answer(200, b""), &range, "object 'a'").err().unwrap();
        assert_eq!(whole.kind(), ErrorKind::Unsupported);
        assert!(whole.to_string().contains("--range-streams 1"), "{whole}");
        let other = ranged_body(answer(206, b"bytes 0-9/100"), &range, "object 'a'").err().unwrap();
        assert!(other.is_temporary() && other.to_string().contains("`Content-Range: bytes 0-9/100`"), "{other}");
        let hostile = [b"bytes <script>\xff\xfe".as_slice(), &[b'x'; 8000], b"/9"].concat();
        let shown = ranged_body(answer(206, &hostile), &range, "object 'a'").err().unwrap().to_string();
        assert!(shown.len() < 1000 && !shown.contains("<script>"), "{shown}");
    }
}
