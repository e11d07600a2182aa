//! The item model: what a provider lists, independent of any protocol.

use std::time::SystemTime;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

pub use sortie_formats::payload_path::{Area, slug};

/// Raw identifier bytes (S3 keys, file names and Swift names need not be UTF-8), kept
/// exactly and serialized as text when they are UTF-8, as `{"hex": …}` otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct RawName(pub Vec<u8>);

impl RawName {
    /// The name from text.
    pub fn text(text: &str) -> Self {
        Self(text.as_bytes().to_vec())
    }

    /// A readable rendering (lossy where not UTF-8), for messages.
    pub fn display(&self) -> String {
        String::from_utf8_lossy(&self.0).into_owned()
    }
}

impl AsRef<[u8]> for RawName {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum RawNameRepr {
    Text(String),
    Hex { hex: String },
}

impl Serialize for RawName {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match std::str::from_utf8(&self.0) {
            Ok(text) => RawNameRepr::Text(text.to_owned()),
            Err(_) => RawNameRepr::Hex { hex: hex::encode(&self.0) },
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for RawName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match RawNameRepr::deserialize(deserializer)? {
            RawNameRepr::Text(text) => Ok(Self(text.into_bytes())),
            RawNameRepr::Hex { hex } => hex::decode(hex).map(Self).map_err(serde::de::Error::custom),
        }
    }
}

/// The `meta` key under which providers with storage tiers name an item's tier (S3's
/// `STANDARD`, `GLACIER`…); `sortie inventory` counts items and bytes per tier.
pub const STORAGE_CLASS: &str = "storage_class";

/// What an item is. The list is shared by all providers so that reports compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Kind {
    /// A file of a file system.
    File,
    /// A directory (no bytes; kept so that empty ones survive).
    Directory,
    /// A symbolic link, recorded with its target, not followed.
    Symlink,
    /// An object of an object store (current version).
    Object,
    /// A non-current version of an object.
    ObjectVersion,
    /// A delete marker of a versioned store (no bytes).
    DeleteMarker,
    /// Provider configuration (policies, ACLs, settings…).
    Config,
    /// A mail message.
    Message,
    /// A calendar event.
    Event,
    /// An address book entry.
    Contact,
    /// A machine image.
    Image,
    /// A record of a service's API (a description without bytes of its own).
    Record,
    /// A special file (fifo, socket, device), never read.
    Special,
}

impl Kind {
    /// The name used in the inventory and report.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::File => "file",
            Kind::Directory => "directory",
            Kind::Symlink => "symlink",
            Kind::Object => "object",
            Kind::ObjectVersion => "object-version",
            Kind::DeleteMarker => "delete-marker",
            Kind::Config => "config",
            Kind::Message => "message",
            Kind::Event => "event",
            Kind::Contact => "contact",
            Kind::Image => "image",
            Kind::Record => "record",
            Kind::Special => "special",
        }
    }
}

/// A checksum the provider announces for a body (an ETag, usually).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderChecksum {
    /// As served, quotes included.
    pub served: String,
    /// The MD5 of the body in lower-case hex, when `served` is one; the engine checks it
    /// while the bytes stream.
    pub md5: Option<String>,
    /// Why it cannot be checked, when `md5` is `None` (e.g. a multipart ETag).
    pub note: Option<String>,
    /// The sha256 of the whole body in lower-case hex, when the provider announces one (S3's
    /// `x-amz-checksum-sha256` of a full object); checked like `md5`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// The sha512 of the whole body in lower-case hex, when the provider announces one
    /// (Glance's `os_hash_value`); checked like `md5`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha512: Option<String>,
    /// A multipart upload's ETag, checkable once the sizes of its parts are known; the
    /// engine recomputes it while the bytes stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parts_md5: Option<PartsMd5>,
}

/// A body made of parts whose boundaries the provider names: an S3 multipart upload, whose
/// ETag is the MD5 of the concatenated binary MD5s of the parts (served with `-N` after it),
/// or a Swift large object, whose manifest gives every segment's size and MD5.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartsMd5 {
    /// The MD5 of the parts' binary MD5s, lower-case hex (an S3 ETag without quotes and
    /// `-N`), when the provider announces one.
    pub digest: Option<String>,
    /// The size of every part, in order.
    pub part_sizes: Vec<u64>,
    /// Every part's own MD5, lower-case hex, when the provider announces them (a Swift
    /// manifest): a damaged part is then named, not only detected. Empty for a part whose
    /// MD5 is not known.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub part_md5s: Vec<String>,
    /// Every part's name at the provider (a Swift segment's `/container/object`), for
    /// messages.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub part_names: Vec<String>,
}

/// Why a listed item will not be fetched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Skip {
    /// Left out on purpose; the reason goes to the report and the export stays complete.
    Excluded(String),
    /// Known to be unreadable already at listing time; the export is incomplete.
    Failed(String),
}

/// One listed item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    /// The provider's identifier, byte for byte.
    pub id: RawName,
    /// Where the item goes under its source's area, one raw segment per level.
    pub segments: Vec<RawName>,
    /// Content, configuration or an earlier version.
    #[serde(with = "area_serde")]
    pub area: Area,
    /// The version id of an earlier version (area `Versions`), which ends its payload name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<RawName>,
    /// What it is.
    pub kind: Kind,
    /// Whether it has bytes to fetch.
    pub has_body: bool,
    /// Size announced by the listing.
    pub size: Option<u64>,
    /// Last modification.
    pub modified: Option<SystemTime>,
    /// MIME type.
    pub content_type: Option<String>,
    /// The provider's checksum, if the listing gives one.
    pub checksum: Option<ProviderChecksum>,
    /// Provider metadata, copied to the inventory.
    pub meta: Map<String, Value>,
    /// Set when the item is listed but will not be fetched.
    pub skip: Option<Skip>,
    /// What the provider needs to open this very item again (a file's device and inode):
    /// kept with the item and handed back to `open`, never written into the archive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locator: Option<String>,
}

impl Item {
    /// An item with a body and nothing else known yet.
    pub fn new(id: RawName, segments: Vec<RawName>, kind: Kind) -> Self {
        Self {
            id,
            segments,
            area: Area::Content,
            version: None,
            kind,
            has_body: true,
            size: None,
            modified: None,
            content_type: None,
            checksum: None,
            meta: Map::new(),
            skip: None,
            locator: None,
        }
    }
}

mod area_serde {
    use super::Area;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(area: &Area, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(match area {
            Area::Content => "content",
            Area::Config => "config",
            Area::Versions => "versions",
        })
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Area, D::Error> {
        Ok(match String::deserialize(deserializer)?.as_str() {
            "config" => Area::Config,
            "versions" => Area::Versions,
            _ => Area::Content,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_names_survive_serialization_byte_for_byte() {
        for bytes in [b"plain/name".to_vec(), b"bad\xff\xfe".to_vec(), Vec::new()] {
            let name = RawName(bytes);
            let json = serde_json::to_string(&name).unwrap();
            assert_eq!(serde_json::from_str::<RawName>(&json).unwrap(), name);
        }
        assert_eq!(serde_json::to_string(&RawName(b"\xff".to_vec())).unwrap(), r#"{"hex":"ff"}"#);
    }
}
