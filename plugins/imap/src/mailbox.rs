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
    /// Its path in the archive, unique among the account's mailboxes ([`assign_paths`]).
    pub path: Vec<RawName>,
}

impl MailboxInfo {
    /// Whether it holds messages: not `\Noselect`, not `\NonExistent` (a parent only).
    pub fn selectable(&self) -> bool {
        !self.attributes.iter().any(|a| a.eq_ignore_ascii_case("\\Noselect") || a.eq_ignore_ascii_case("\\NonExistent"))
    }

    /// Its path in the archive.
    pub fn segments(&self) -> Vec<RawName> {
        self.path.clone()
    }

    /// One segment per level of the hierarchy, empty levels kept (`a//b` is not `a/b`); a
    /// level below the top named like what a mailbox's directory holds (`7.eml`,
    /// `mailbox.json`) gets `.d` appended, so that it never lands on a file of its parent.
    pub fn natural_path(&self) -> Vec<RawName> {
        let levels: Vec<&str> = match self.delimiter.as_deref() {
            Some(delimiter) if !delimiter.is_empty() => self.name.split(delimiter).collect(),
            _ => vec![self.name.as_str()],
        };
        levels
            .into_iter()
            .enumerate()
            .map(|(depth, level)| {
                if depth > 0 && (level == "mailbox.json" || level.ends_with(".eml") || level.ends_with(".eml.d")) {
                    RawName::text(&format!("{level}.d"))
                } else {
                    RawName::text(level)
                }
            })
            .collect()
    }
}

/// Gives each mailbox a path no other one has: a hostile or odd server may list two names
/// that decode to the same text (`&AGE-` and `a`), or that differ only in empty levels, and
/// two mailboxes at one path would put two messages at one path in the archive. The later
/// one (in wire-name order) gets ` (2)`, ` (3)`… after its last level.
fn assign_paths(mailboxes: &mut [MailboxInfo]) {
    let mut taken = BTreeSet::new();
    for mailbox in mailboxes {
        let natural = mailbox.natural_path();
        let mut path = natural.clone();
        let mut n = 1;
        while !taken.insert(path.clone()) {
            n += 1;
            path = natural.clone();
            let last = path.pop().map(|l| l.display()).unwrap_or_default();
            path.push(RawName::text(&format!("{last} ({n})")));
        }
        mailbox.path = path;
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
            .map_err(|e| imap_error("LIST", &address, e))
            .and_then(at_most("LIST", &address))
            .try_collect()
            .await?;
        let subscribed: BTreeSet<String> = session
            .lsub(Some(""), Some("*"))
            .await
            .map_err(|e| imap_error("LSUB", &address, e))?
            .map_err(|e| imap_error("LSUB", &address, e))
            .and_then(at_most("LSUB", &address))
            .map_ok(|n| n.name().to_owned())
            .try_collect()
            .await?;
        Ok((names, subscribed))
    })
    .await?;
    let mut mailboxes: Vec<MailboxInfo> = names
        .iter()
        .map(|n| MailboxInfo {
            raw: n.name().to_owned(),
            name: mutf7::decode(n.name()).unwrap_or_else(|| n.name().to_owned()),
            delimiter: n.delimiter().map(str::to_owned),
            attributes: n.attributes().iter().map(attribute).filter(|a| !volatile(a)).collect(),
            subscribed: subscribed.contains(n.name()),
            path: Vec::new(),
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
    mailboxes.dedup_by(|a, b| a.raw == b.raw);
    assign_paths(&mut mailboxes);
    Ok(mailboxes)
}

/// The most mailboxes an account may list: far more than any real one, few enough to hold.
const MAX_MAILBOXES: usize = 100_000;

/// Counts the answers of a `LIST` as they stream, failing past [`MAX_MAILBOXES`], so that
/// a server listing without end fails the export instead of filling memory.
fn at_most<T>(what: &'static str, address: &str) -> impl FnMut(T) -> std::future::Ready<Result<T>> {
    let (mut count, address) = (0usize, address.to_owned());
    move |answer| {
        count += 1;
        std::future::ready(if count > MAX_MAILBOXES {
            Err(Error::new(
                ErrorKind::Other,
                format!("{what}: {address} listed more than {MAX_MAILBOXES} mailboxes (a listing without end?)"),
            ))
        } else {
            Ok(answer)
        })
    }
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

/// `\Marked` and `\Unmarked` (RFC 3501 §7.2.2) say whether messages arrived since some
/// client last selected the folder: a hint that flips as other sessions read the account,
/// not part of the folder. Archived, they made an unchanged account look changed to
/// `verify --against`.
fn volatile(attribute: &str) -> bool {
    attribute.eq_ignore_ascii_case("\\Marked") || attribute.eq_ignore_ascii_case("\\Unmarked")
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
            path: Vec::new(),
        };
        assert_eq!(mailbox.natural_path(), [RawName::text("Archives"), RawName::text("Été")]);
        assert!(mailbox.selectable());
        let parent = MailboxInfo { attributes: vec!["\\NonExistent".into()], ..mailbox };
        assert!(!parent.selectable());
    }

    #[test]
    fn no_two_mailboxes_share_a_path_or_land_on_a_file() {
        let make = |raw: &str, name: &str| MailboxInfo {
            raw: raw.into(),
            name: name.into(),
            delimiter: Some("/".into()),
            attributes: Vec::new(),
            subscribed: false,
            path: Vec::new(),
        };
        let mut mailboxes = vec![
            make("&AGE-", "a"),
            make("a", "a"),
            make("a/", "a/"),
            make("a/1.eml", "a/1.eml"),
            make("a/mailbox.json", "a/mailbox.json"),
            make("a//b", "a//b"),
            make("a/b", "a/b"),
        ];
        assign_paths(&mut mailboxes);
        let paths: Vec<String> =
            mailboxes.iter().map(|m| m.path.iter().map(RawName::display).collect::<Vec<_>>().join("/")).collect();
        assert_eq!(paths, ["a", "a (2)", "a/", "a/1.eml.d", "a/mailbox.json.d", "a//b", "a/b"]);
    }
}
