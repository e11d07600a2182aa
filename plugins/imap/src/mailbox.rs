//! The account's mailboxes: `LIST` and `LSUB`, names decoded from modified UTF-7, and each
//! mailbox's state (`STATUS`) as a configuration document.

use std::collections::BTreeSet;

use async_imap::types::NameAttribute;
use bytes::Bytes;
use futures_util::TryStreamExt;
use serde_json::{Value, json};
use sortie_sdk::item::{Area, Item, Kind, RawName};
use sortie_sdk::{Error, ErrorKind, Result};

use crate::client::{COMMAND_TIMEOUT, within};
use crate::error::imap_error;
use crate::mutf7;
use crate::pool::Lease;

/// One mailbox as `LIST` gives it.
#[derive(Debug, Clone)]
pub struct MailboxInfo {
    /// The name on the wire (modified UTF-7), which commands take.
    pub raw: String,
    /// The name as text.
    pub name: String,
    pub delimiter: Option<String>,
    pub attributes: Vec<String>,
    pub subscribed: bool,
}

impl MailboxInfo {
    /// Whether it holds messages: not `\Noselect`, not `\NonExistent` (a parent only).
    pub fn selectable(&self) -> bool {
        !self.attributes.iter().any(|a| a.eq_ignore_ascii_case("\\Noselect") || a.eq_ignore_ascii_case("\\NonExistent"))
    }

    /// Its path in the archive: one segment per level of the hierarchy.
    pub fn segments(&self) -> Vec<RawName> {
        let levels: Vec<&str> = match self.delimiter.as_deref() {
            Some(delimiter) if !delimiter.is_empty() => self.name.split(delimiter).collect(),
            _ => vec![self.name.as_str()],
        };
        levels.into_iter().filter(|l| !l.is_empty()).map(RawName::text).collect()
    }
}

/// Every mailbox of the account (or `folder` and the mailboxes under it), sorted by wire name.
pub async fn list(lease: &mut Lease, folder: Option<&str>) -> Result<Vec<MailboxInfo>> {
    let address = lease.address();
    let session = &mut lease.conn.session;
    let (names, subscribed) = within("LIST", &address, COMMAND_TIMEOUT, async {
        let names: Vec<_> = session
            .list(Some(""), Some("*"))
            .await
            .map_err(|e| imap_error("LIST", &address, e))?
            .try_collect()
            .await
            .map_err(|e| imap_error("LIST", &address, e))?;
        let subscribed: BTreeSet<String> = session
            .lsub(Some(""), Some("*"))
            .await
            .map_err(|e| imap_error("LSUB", &address, e))?
            .map_ok(|n| n.name().to_owned())
            .try_collect()
            .await
            .map_err(|e| imap_error("LSUB", &address, e))?;
        Ok((names, subscribed))
    })
    .await?;
    let mut mailboxes: Vec<MailboxInfo> = names
        .iter()
        .map(|n| MailboxInfo {
            raw: n.name().to_owned(),
            name: mutf7::decode(n.name()).unwrap_or_else(|| n.name().to_owned()),
            delimiter: n.delimiter().map(str::to_owned),
            attributes: n.attributes().iter().map(attribute).collect(),
            subscribed: subscribed.contains(n.name()),
        })
        .collect();
    if let Some(folder) = folder {
        let wire = mutf7::encode(folder);
        mailboxes.retain(|m| {
            m.raw == wire || m.delimiter.as_deref().is_some_and(|d| m.raw.starts_with(&format!("{wire}{d}")))
        });
        if mailboxes.is_empty() {
            return Err(Error::new(ErrorKind::NotFound, format!("no mailbox '{folder}' at {address}")));
        }
    }
    mailboxes.sort_by(|a, b| a.raw.cmp(&b.raw));
    Ok(mailboxes)
}

/// A `LIST` attribute as the server wrote it.
fn attribute(attribute: &NameAttribute<'_>) -> String {
    match attribute {
        NameAttribute::NoInferiors => "\\Noinferiors".to_owned(),
        NameAttribute::NoSelect => "\\Noselect".to_owned(),
        NameAttribute::Marked => "\\Marked".to_owned(),
        NameAttribute::Unmarked => "\\Unmarked".to_owned(),
        NameAttribute::All => "\\All".to_owned(),
        NameAttribute::Archive => "\\Archive".to_owned(),
        NameAttribute::Drafts => "\\Drafts".to_owned(),
        NameAttribute::Flagged => "\\Flagged".to_owned(),
        NameAttribute::Junk => "\\Junk".to_owned(),
        NameAttribute::Sent => "\\Sent".to_owned(),
        NameAttribute::Trash => "\\Trash".to_owned(),
        NameAttribute::Extension(name) => name.to_string(),
        other => format!("{other:?}"),
    }
}

/// The special-use attributes (RFC 6154) among `attributes`.
fn special_use(attributes: &[String]) -> Vec<&String> {
    const SPECIAL: [&str; 7] = ["\\All", "\\Archive", "\\Drafts", "\\Flagged", "\\Junk", "\\Sent", "\\Trash"];
    attributes.iter().filter(|a| SPECIAL.iter().any(|s| s.eq_ignore_ascii_case(a))).collect()
}

/// The configuration document of each mailbox (`_config/mailboxes/PATH/mailbox.json`):
/// its names, attributes, subscription and, for one that holds messages, its `STATUS`.
pub async fn config_items(lease: &mut Lease, mailboxes: &[MailboxInfo], modseq: bool) -> Result<Vec<Item>> {
    let address = lease.address();
    let items = if modseq {
        "(MESSAGES UIDNEXT UIDVALIDITY UNSEEN HIGHESTMODSEQ)"
    } else {
        "(MESSAGES UIDNEXT UIDVALIDITY UNSEEN)"
    };
    let mut out = Vec::with_capacity(mailboxes.len());
    for mailbox in mailboxes {
        let mut document = json!({
            "name": mailbox.name,
            "wire_name": mailbox.raw,
            "delimiter": mailbox.delimiter,
            "attributes": mailbox.attributes,
            "special_use": special_use(&mailbox.attributes),
            "subscribed": mailbox.subscribed,
            "selectable": mailbox.selectable(),
        });
        if mailbox.selectable() {
            let session = &mut lease.conn.session;
            let what = format!("STATUS of mailbox '{}'", mailbox.name);
            let status = within(&what, &address, COMMAND_TIMEOUT, async {
                session.status(&mailbox.raw, items).await.map_err(|e| imap_error(&what, &address, e))
            })
            .await?;
            document["status"] = json!({
                "messages": status.exists,
                "uidnext": status.uid_next,
                "uidvalidity": status.uid_validity,
                "unseen": status.unseen,
                "highestmodseq": status.highest_modseq,
            });
        }
        let mut segments = vec![RawName::text("mailboxes")];
        segments.extend(mailbox.segments());
        segments.push(RawName::text("mailbox.json"));
        out.push(document_item(format!("mailbox:{}", mailbox.name), segments, &document));
    }
    Ok(out)
}

/// A configuration document of the listing, as pretty JSON.
pub fn document_item(id: String, segments: Vec<RawName>, document: &Value) -> Item {
    let mut item = Item::new(RawName(id.into_bytes()), segments, Kind::Config);
    item.area = Area::Config;
    item.content_type = Some("application/json".to_owned());
    let mut bytes = serde_json::to_vec_pretty(document).expect("JSON values serialize");
    bytes.push(b'\n');
    item.set_inline(Bytes::from(bytes));
    item
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_follow_the_hierarchy_and_parents_are_not_selectable() {
        let mailbox = MailboxInfo {
            raw: "Archives/&AMk-t&AOk-".into(),
            name: "Archives/Été".into(),
            delimiter: Some("/".into()),
            attributes: vec!["\\HasNoChildren".into()],
            subscribed: true,
        };
        assert_eq!(mailbox.segments(), [RawName::text("Archives"), RawName::text("Été")]);
        assert!(mailbox.selectable());
        let parent = MailboxInfo { attributes: vec!["\\NonExistent".into()], ..mailbox };
        assert!(!parent.selectable());
    }
}
