//! The listing, page by page: the mailboxes' documents first, then each selectable mailbox
//! in windows of UIDs, so that a mailbox of a million messages is never held in memory.
//!
//! The cursor names the mailbox, the UIDVALIDITY its earlier pages saw, and the last UID
//! listed; a UIDVALIDITY that changed restarts the mailbox from its first UID. Messages up
//! to [`INLINE_MESSAGE`] bytes arrive with the listing (one `UID FETCH` for the window, the
//! bodies of a page at most [`INLINE_PAGE`] bytes), larger ones are fetched one by one.

use std::collections::BTreeMap;

use async_imap::types::Flag;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sortie_sdk::item::{Item, Kind, RawName, Skip};
use sortie_sdk::{Error, ErrorKind, Result};

use crate::client::{COMMAND_TIMEOUT, within};
use crate::error::imap_error;
use crate::mailbox::MailboxInfo;
use crate::pool::Lease;

/// UIDs asked for per `UID FETCH` of metadata.
const WINDOW: u32 = 1000;
/// Messages this small arrive inside the listing.
pub const INLINE_MESSAGE: u64 = 256 << 10;
/// The most inline bytes one page holds.
pub const INLINE_PAGE: u64 = 8 << 20;

/// Where the listing of messages goes on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// The mailbox's wire name.
    pub mailbox: String,
    /// What its earlier pages saw (0: none yet).
    pub uidvalidity: u32,
    /// The last UID listed (0: none yet).
    pub after: u32,
    /// The mailbox's UIDVALIDITY changed during the listing: its messages are named with
    /// their UIDVALIDITY too (`7-1234.eml`), since those listed before it may already be in
    /// the archive under the same UIDs.
    #[serde(default)]
    pub restarted: bool,
}

impl Cursor {
    pub fn start(mailbox: &MailboxInfo) -> Self {
        Self { mailbox: mailbox.raw.clone(), uidvalidity: 0, after: 0, restarted: false }
    }

    pub fn encode(&self) -> String {
        serde_json::to_string(self).expect("cursors serialize")
    }

    pub fn decode(text: &str) -> Result<Self> {
        serde_json::from_str(text)
            .map_err(|e| Error::new(ErrorKind::InvalidInput, format!("not a cursor of the imap provider: {e}")))
    }
}

/// What `open` needs to fetch one message again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Locator {
    pub mailbox: String,
    pub uidvalidity: u32,
    pub uid: u32,
}

/// What the server offers beside IMAP4rev1.
#[derive(Debug, Clone, Copy, Default)]
pub struct Extensions {
    /// CONDSTORE: `MODSEQ` per message.
    pub modseq: bool,
    /// Gmail's `X-GM-EXT-1`: `X-GM-LABELS`.
    pub gmail: bool,
}

/// One page of `mailbox`'s messages from `cursor`, and the cursor after it (`None`: the
/// mailbox is done).
pub async fn messages(
    lease: &mut Lease,
    mailbox: &MailboxInfo,
    cursor: &Cursor,
    extensions: Extensions,
) -> Result<(Vec<Item>, Option<Cursor>)> {
    let address = lease.address();
    let status = match lease.examine(&mailbox.raw).await {
        Ok(status) => status,
        Err(e) if e.is_temporary() => return Err(e),
        // Gone since the listing began: recorded as a failure, and the other mailboxes go on.
        Err(e) => return Ok((vec![vanished(mailbox, &e)], None)),
    };
    let uidvalidity = status.uid_validity.unwrap_or(0);
    let changed = cursor.uidvalidity != 0 && cursor.uidvalidity != uidvalidity;
    let restarted = cursor.restarted || changed;
    let mut after = if changed {
        tracing::warn!(mailbox = %mailbox.name, "UIDVALIDITY changed from {} to {uidvalidity}: listing the mailbox again", cursor.uidvalidity);
        0
    } else {
        cursor.after
    };
    let last = match status.uid_next {
        Some(next) => next.saturating_sub(1),
        None => last_uid(lease, &address).await?,
    };
    let mut query = String::from("(UID FLAGS INTERNALDATE RFC822.SIZE");
    if extensions.modseq {
        query.push_str(" MODSEQ");
    }
    if extensions.gmail {
        query.push_str(" X-GM-LABELS");
    }
    query.push(')');
    let mut items = Vec::new();
    while items.is_empty() && after < last {
        let high = after.saturating_add(WINDOW).min(last);
        let what = format!("listing mailbox '{}'", mailbox.name);
        let low = after + 1;
        let fetches =
            lease.uid_fetch(&what, &format!("{low}:{high}"), &query, |uid, _| (low..=high).contains(&uid)).await?;
        items.extend(fetches.iter().filter_map(|f| message_item(mailbox, uidvalidity, restarted, f)));
        after = high;
    }
    inline_small(lease, mailbox, &mut items).await?;
    let next = (after < last).then(|| Cursor { mailbox: mailbox.raw.clone(), uidvalidity, after, restarted });
    Ok((items, next))
}

/// The record of a mailbox that could not be opened any more (deleted during the export).
fn vanished(mailbox: &MailboxInfo, error: &Error) -> Item {
    let mut item =
        Item::new(RawName(format!("mailbox:{}", mailbox.name).into_bytes()), mailbox.segments(), Kind::Directory);
    item.has_body = false;
    item.skip = Some(Skip::Failed(format!(
        "mailbox '{}' can no longer be read (deleted during the export?): {error}",
        mailbox.name
    )));
    item
}

/// The highest UID, for a server that gives no UIDNEXT.
async fn last_uid(lease: &mut Lease, address: &str) -> Result<u32> {
    let session = &mut lease.conn.session;
    within("UID SEARCH", address, COMMAND_TIMEOUT, async {
        let uids = session.uid_search("ALL").await.map_err(|e| imap_error("UID SEARCH", address, e))?;
        Ok(uids.into_iter().max().unwrap_or(0))
    })
    .await
}

/// The listing's item of one message, with everything the server said about it; named
/// `UID.eml`, or `UIDVALIDITY-UID.eml` in a mailbox whose listing `restarted`.
fn message_item(
    mailbox: &MailboxInfo,
    uidvalidity: u32,
    restarted: bool,
    fetch: &async_imap::types::Fetch,
) -> Option<Item> {
    let uid = fetch.uid?;
    let id = format!("{};UIDVALIDITY={uidvalidity}/;UID={uid}", mailbox.name);
    let mut segments = mailbox.segments();
    let file = if restarted { format!("{uidvalidity}-{uid}.eml") } else { format!("{uid}.eml") };
    segments.push(RawName::text(&file));
    let mut item = Item::new(RawName(id.into_bytes()), segments, Kind::Message);
    item.size = fetch.size.map(u64::from);
    item.content_type = Some("message/rfc822".to_owned());
    // \Recent belongs to the session that saw the message first, not to the message.
    let flags: Vec<String> = fetch.flags().filter(|f| *f != Flag::Recent).map(|f| flag(&f)).collect();
    let mut meta = Map::new();
    meta.insert("mailbox".into(), json!(mailbox.name));
    meta.insert("uid".into(), json!(uid));
    meta.insert("uidvalidity".into(), json!(uidvalidity));
    meta.insert("flags".into(), json!(flags));
    meta.insert("rfc822_size".into(), json!(fetch.size));
    if let Some(date) = fetch.internal_date() {
        meta.insert("internaldate".into(), json!(date.to_rfc3339()));
        let seconds = date.timestamp();
        item.modified = u64::try_from(seconds).ok().map(|s| std::time::UNIX_EPOCH + std::time::Duration::from_secs(s));
    }
    if let Some(modseq) = fetch.modseq {
        meta.insert("modseq".into(), json!(modseq));
    }
    if let Some(labels) = fetch.gmail_labels() {
        meta.insert("gmail_labels".into(), Value::from(labels.iter().map(|l| l.to_string()).collect::<Vec<_>>()));
    }
    item.meta = meta;
    let locator = Locator { mailbox: mailbox.raw.clone(), uidvalidity, uid };
    item.locator = Some(serde_json::to_string(&locator).expect("locators serialize"));
    Some(item)
}

/// A flag as IMAP writes it (`\Seen`, `$Forwarded`, any keyword).
fn flag(flag: &Flag<'_>) -> String {
    match flag {
        Flag::Seen => "\\Seen".to_owned(),
        Flag::Answered => "\\Answered".to_owned(),
        Flag::Flagged => "\\Flagged".to_owned(),
        Flag::Deleted => "\\Deleted".to_owned(),
        Flag::Draft => "\\Draft".to_owned(),
        Flag::Recent => "\\Recent".to_owned(),
        Flag::MayCreate => "\\*".to_owned(),
        Flag::Custom(name) => name.to_string(),
    }
}

/// Fetches the bodies of the page's small messages in one `UID FETCH` and puts them in
/// the items; a message expunged meanwhile keeps no body and is fetched (and found gone)
/// by `open`.
async fn inline_small(lease: &mut Lease, mailbox: &MailboxInfo, items: &mut [Item]) -> Result<()> {
    let mut budget = INLINE_PAGE;
    let mut uids = Vec::new();
    let mut sizes = BTreeMap::new();
    for item in items.iter() {
        let size = item.size.unwrap_or(u64::MAX);
        if size <= INLINE_MESSAGE && size <= budget {
            budget -= size;
            let uid = item.meta["uid"].as_u64().unwrap_or_default();
            uids.push(uid);
            sizes.insert(uid, size);
        }
    }
    if uids.is_empty() {
        return Ok(());
    }
    let set = uid_set(&uids);
    let what = format!("fetching messages of mailbox '{}'", mailbox.name);
    // A body longer than its RFC822.SIZE is not held here (the page's bodies would exceed
    // the page's budget): the item is fetched by `open`, one at a time.
    let fits = |uid: u32, fetch: &async_imap::types::Fetch| {
        let length = fetch.body().map_or(0, |b| b.len() as u64);
        sizes.get(&u64::from(uid)).is_some_and(|size| length <= *size)
    };
    let fetches = lease.uid_fetch(&what, &set, "(UID BODY.PEEK[])", fits).await?;
    for fetch in &fetches {
        let (Some(uid), Some(body)) = (fetch.uid, fetch.body()) else { continue };
        if let Some(item) = items.iter_mut().find(|i| i.meta["uid"].as_u64() == Some(u64::from(uid))) {
            item.set_inline(Bytes::copy_from_slice(body));
        }
    }
    Ok(())
}

/// UIDs in ascending order as an IMAP set, runs folded (`1:4,7,9:10`).
fn uid_set(uids: &[u64]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < uids.len() {
        let start = uids[i];
        while i + 1 < uids.len() && uids[i + 1] == uids[i] + 1 {
            i += 1;
        }
        if !out.is_empty() {
            out.push(',');
        }
        out.push_str(&if uids[i] == start { start.to_string() } else { format!("{start}:{}", uids[i]) });
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_sets_fold_runs() {
        assert_eq!(uid_set(&[1, 2, 3, 4, 7, 9, 10]), "1:4,7,9:10");
        assert_eq!(uid_set(&[5]), "5");
    }

    #[test]
    fn cursors_survive_a_round_trip() {
        let cursor = Cursor { mailbox: "INBOX".into(), uidvalidity: 7, after: 1000, restarted: true };
        assert_eq!(Cursor::decode(&cursor.encode()).unwrap(), cursor);
        assert!(Cursor::decode("garbage").is_err());
    }
}
