//! One message's bytes: `UID FETCH uid BODY.PEEK[]` in its mailbox, checked against the
//! UIDVALIDITY it was listed with. A message up to [`CHUNK`] bytes is read whole before it is
//! handed on; a larger one streams in partial fetches of that size (`BODY.PEEK[]<offset.
//! length>`), each on a session of the pool, so that memory stays bounded whatever the
//! attachment. A connection dropped mid-message fails the attempt (the engine tries again
//! from the start), never leaving a truncated message in the archive.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;
use sortie_sdk::item::Item;
use sortie_sdk::provider::Body;
use sortie_sdk::{Error, ErrorKind, Result};

use crate::lister::Locator;
use crate::pool::Pool;

/// The most bytes of a message held at once.
pub const CHUNK: u64 = 4 << 20;

pub async fn open(pool: &Arc<Pool>, item: &Item) -> Result<Body> {
    let locator: Locator = item.locator.as_deref().and_then(|l| serde_json::from_str(l).ok()).ok_or_else(|| {
        Error::new(ErrorKind::InvalidInput, format!("{} has no locator of the imap provider", item.id.display()))
    })?;
    let shown = item.id.display();
    let size = item.size.unwrap_or(0);
    if size <= CHUNK {
        let body = fetch(pool, &locator, &shown, None).await?;
        return Ok(Body::from_bytes(body, Some("message/rfc822")));
    }
    let first = fetch(pool, &locator, &shown, Some(0)).await?;
    // The offset of the next chunk; none after a short one (the end of the message).
    let start = (first.len() as u64 == CHUNK).then_some(CHUNK);
    let pool = pool.clone();
    let rest = futures_util::stream::try_unfold(start, move |next| {
        let (pool, locator, shown) = (pool.clone(), locator.clone(), shown.clone());
        async move {
            let Some(offset) = next else { return Ok(None) };
            let chunk = fetch(&pool, &locator, &shown, Some(offset)).await?;
            if chunk.is_empty() {
                return Ok(None);
            }
            let next = (chunk.len() as u64 == CHUNK).then_some(offset + CHUNK);
            Ok(Some((chunk, next)))
        }
    });
    let stream = futures_util::stream::once(async move { Ok(first) }).chain(rest).boxed();
    let mut body = Body::streaming(Some(size), stream);
    body.content_type = Some("message/rfc822".to_owned());
    Ok(body)
}

/// The whole message (`offset` `None`), or [`CHUNK`] bytes of it from `offset`.
async fn fetch(pool: &Arc<Pool>, locator: &Locator, shown: &str, offset: Option<u64>) -> Result<Bytes> {
    let mut lease = pool.get().await?;
    let validity = lease.select(&locator.mailbox).await.map_err(|e| {
        if e.is_temporary() {
            return e;
        }
        Error::new(
            ErrorKind::NotFound,
            format!("{shown}: its mailbox can no longer be read (deleted during the export?): {e}"),
        )
    })?;
    if validity != Some(locator.uidvalidity) {
        lease.done();
        return Err(Error::new(
            ErrorKind::NotFound,
            format!(
                "{shown}: the mailbox's UIDVALIDITY changed since it was listed, so this UID names no message any more"
            ),
        ));
    }
    let query = match offset {
        None => "(UID BODY.PEEK[])".to_owned(),
        Some(offset) => format!("(UID BODY.PEEK[]<{offset}.{CHUNK}>)"),
    };
    let fetches = lease
        .uid_fetch(&format!("fetching {shown}"), &locator.uid.to_string(), &query, |uid, _| uid == locator.uid)
        .await?;
    let body = fetches.iter().find(|f| f.uid == Some(locator.uid)).and_then(|f| f.body()).map(Bytes::copy_from_slice);
    lease.done();
    body.ok_or_else(|| Error::new(ErrorKind::NotFound, format!("{shown}: the message was deleted after it was listed")))
}
