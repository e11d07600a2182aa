//! One message's bytes: `UID FETCH uid BODY.PEEK[]` in its mailbox, checked against the
//! UIDVALIDITY it was listed with. The whole message is read before it is handed on, so
//! that a connection dropped mid-message fails the attempt (the engine tries again) and
//! never leaves a truncated message in the archive.

use bytes::Bytes;
use sortie_sdk::item::Item;
use sortie_sdk::provider::Body;
use sortie_sdk::{Error, ErrorKind, Result};

use crate::lister::Locator;
use crate::pool::Pool;

pub async fn open(pool: &Pool, item: &Item) -> Result<Body> {
    let locator: Locator = item.locator.as_deref().and_then(|l| serde_json::from_str(l).ok()).ok_or_else(|| {
        Error::new(ErrorKind::InvalidInput, format!("{} has no locator of the imap provider", item.id.display()))
    })?;
    let shown = item.id.display();
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
    let what = format!("fetching {shown}");
    let fetches = lease.uid_fetch(&what, &locator.uid.to_string(), "(UID BODY.PEEK[])").await?;
    let body = fetches.iter().find(|f| f.uid == Some(locator.uid)).and_then(|f| f.body()).map(Bytes::copy_from_slice);
    lease.done();
    let body = body.ok_or_else(|| {
        Error::new(ErrorKind::NotFound, format!("{shown}: the message was deleted after it was listed"))
    })?;
    Ok(Body::from_bytes(body, Some("message/rfc822")))
}
