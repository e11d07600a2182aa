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
use crate::scripted::{Fault, Object, changed};

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
    let data = match object.fault {
        Fault::Changed => Bytes::from(changed(&object.data)),
        _ => object.data.clone(),
    };
    let chunks: Vec<Result<Bytes>> = match object.fault {
        Fault::BreakOnce if attempt == 0 => vec![
            Ok(data.slice(..data.len() / 2)),
            Err(Error::new(ErrorKind::Unavailable, "connection reset").temporary()),
        ],
        Fault::Short => vec![Ok(data.slice(..data.len() - 1))],
        _ => (0..data.len()).step_by(CHUNK).map(|at| Ok(data.slice(at..data.len().min(at + CHUNK)))).collect(),
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
    Ok(body)
}
