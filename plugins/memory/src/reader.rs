//! Opening an item's bytes: generated ones as they are read, scripted ones with their
//! fault.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures_util::StreamExt;
use md5::{Digest, Md5};
use sortie_sdk::provider::Body;
use sortie_sdk::{Error, ErrorKind, Result};

use crate::generated::Generated;
use crate::lister::etag;
use crate::scripted::{Fault, Object, changed, replaced};

/// The size of the chunks a scripted body is served in.
const CHUNK: usize = 64 << 10;

/// When every item was last modified, as a response announces it: an HTTP date, whole
/// seconds, rounded up from the listed time as Swift does.
fn served_time() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_001)
}

/// The MD5 of `data`, lower-case hex.
pub(crate) fn md5_hex(data: &[u8]) -> String {
    hex::encode(Md5::digest(data))
}

/// Generated item `index`, streamed as it is generated.
pub(crate) fn generated(generated: &Generated, index: u64) -> Body {
    let mut body = Body::streaming(Some(generated.size), generated.stream(index));
    body.modified = Some(served_time());
    body
}

/// A scripted object, on its `attempt`-th open (from 0).
pub(crate) fn scripted(object: &Object, attempt: u32) -> Result<Body> {
    if object.fault == Fault::Refused {
        return Err(Error::new(ErrorKind::Unauthenticated, "the session token has expired"));
    }
    let replaced_since = matches!(object.fault, Fault::ReplacedWhileRead | Fault::ReplacedUnpinned) && attempt > 0;
    let data = match object.fault {
        Fault::Changed => Bytes::from(changed(&object.data)),
        _ if replaced_since => Bytes::from(replaced(&object.data)),
        _ => object.data.clone(),
    };
    let chunks: Vec<Result<Bytes>> = match object.fault {
        Fault::BreakOnce if attempt == 0 => broken_half(&data),
        Fault::Short => vec![Ok(data.slice(..data.len() - 1))],
        _ => in_chunks(&data),
    };
    let size = (object.fault != Fault::UnknownSize).then_some(data.len() as u64);
    let mut body = Body::streaming(size, futures_util::stream::iter(chunks).boxed());
    body.modified = Some(served_time());
    if object.fault == Fault::Changed {
        body.checksum = Some(etag(md5_hex(&data)));
        body.modified = Some(served_time() + Duration::from_secs(3600));
    }
    if object.fault == Fault::MetadataMissing {
        body.incomplete = Some("its tag set could not be read".to_owned());
    }
    if matches!(object.fault, Fault::ReplacedWhileRead | Fault::ReplacedUnpinned) {
        body.checksum = Some(etag(md5_hex(&data)));
    }
    if object.fault != Fault::ReplacedUnpinned {
        body.validator = Some(validator(attempt));
    }
    Ok(body)
}

/// The version of a scripted object an open served, as an ETag.
fn validator(attempt: u32) -> String {
    format!("\"open-{attempt}\"")
}

/// Bytes `range` of a scripted object read in ranges, on the `attempt`-th range open (from
/// 0), after `opens` opens of the object, asked with `asked` as validator.
pub(crate) fn scripted_range(
    object: &Object,
    range: std::ops::Range<u64>,
    asked: Option<&str>,
    opens: u32,
    attempt: u32,
) -> Result<Body> {
    let current = match object.fault {
        Fault::ReplacedWhileRead | Fault::ReplacedUnpinned => Bytes::from(replaced(&object.data)),
        _ => object.data.clone(),
    };
    let stale = object.fault != Fault::ReplacedUnpinned && asked != Some(validator(opens.saturating_sub(1)).as_str());
    if stale || (object.fault == Fault::ReplacedWhileRead && opens == 1) {
        return Err(Error::new(ErrorKind::Integrity, "412 Precondition Failed: the object changed").temporary());
    }
    let end = usize::try_from(range.end).unwrap_or(usize::MAX).min(current.len());
    let start = usize::try_from(range.start).unwrap_or(usize::MAX).min(end);
    let data = current.slice(start..end);
    let chunks =
        if object.fault == Fault::RangeBreaksOnce && attempt == 0 { broken_half(&data) } else { in_chunks(&data) };
    Ok(Body::streaming(Some(data.len() as u64), futures_util::stream::iter(chunks).boxed()))
}

/// `data` served in chunks of [`CHUNK`].
fn in_chunks(data: &Bytes) -> Vec<Result<Bytes>> {
    (0..data.len()).step_by(CHUNK).map(|at| Ok(data.slice(at..data.len().min(at + CHUNK)))).collect()
}

/// The first half of `data`, then the connection reset.
fn broken_half(data: &Bytes) -> Vec<Result<Bytes>> {
    vec![Ok(data.slice(..data.len() / 2)), Err(Error::new(ErrorKind::Unavailable, "connection reset").temporary())]
}
