//! The item model: what a provider lists, independent of any protocol.

use std::time::SystemTime;

use bytes::Bytes;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

/// Where an item goes in its source's part of the archive. Exhaustive on purpose: a new
/// area is a new part of the archive format, which the engine must place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Area {
    /// The data itself (`data/SOURCE/…`).
    #[default]
    Content,
    /// The provider's configuration of the source (`data/SOURCE/_config/…`): policies,
    /// ACLs, manifests, descriptions.
    Config,
    /// Earlier versions of objects (`data/SOURCE/_versions/…`), named with their version.
    Versions,
}

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
#[non_exhaustive]
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
    /// Cyclic checksums of the whole body (S3's full-object `x-amz-checksum-crc32`,
    /// `-crc32c` and `-crc64nvme`), lower-case hex of their big-endian bytes. Checked like
    /// `md5` at a fraction of its cost: when one is announced, the engine checks it instead
    /// of recomputing an MD5, as the AWS SDKs do (`export --all-checksums` checks both).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crc32: Option<String>,
    /// See `crc32`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crc32c: Option<String>,
    /// See `crc32`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crc64nvme: Option<String>,
}

impl ProviderChecksum {
    /// A checksum served as `served` that is the body's MD5 (`md5`, lower-case hex).
    pub fn md5(served: impl Into<String>, md5: impl Into<String>) -> Self {
        Self { md5: Some(md5.into()), ..Self::unchecked(served, None) }
    }

    /// A checksum served as `served` that the engine cannot check as such (`note` says
    /// why); set `sha256`, `sha512` or `parts_md5` when something else is known.
    pub fn unchecked(served: impl Into<String>, note: Option<String>) -> Self {
        Self {
            served: served.into(),
            md5: None,
            note,
            sha256: None,
            sha512: None,
            parts_md5: None,
            crc32: None,
            crc32c: None,
            crc64nvme: None,
        }
    }

    /// The names of the checksums the engine can check against the bytes, cheapest first.
    pub fn checkable(&self) -> Vec<&'static str> {
        [
            ("crc64nvme", self.crc64nvme.is_some()),
            ("crc32c", self.crc32c.is_some()),
            ("crc32", self.crc32.is_some()),
            ("sha256", self.sha256.is_some()),
            ("md5", self.md5.is_some()),
            ("multipart-md5", self.parts_md5.is_some()),
            ("sha512", self.sha512.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, announced)| announced.then_some(name))
        .collect()
    }

    /// Leaves out the MD5-based checks (an ETag, a multipart ETag) when a full-object CRC or
    /// sha256 is announced: the same bytes are then checked against the provider's record
    /// for a fraction of the CPU (per GiB, on the benchmark machine: an MD5 ~1.5 CPU-seconds,
    /// a sha256 ~0.5, a CRC ~0.05). `served` stays as it was.
    pub fn without_redundant_md5(mut self) -> Self {
        if self.crc64nvme.is_some() || self.crc32c.is_some() || self.crc32.is_some() || self.sha256.is_some() {
            self.md5 = None;
            self.parts_md5 = None;
        }
        self
    }
}

/// A body made of parts whose boundaries the provider names: an S3 multipart upload, whose
/// ETag is the MD5 of the concatenated binary MD5s of the parts (served with `-N` after it),
/// or a Swift large object, whose manifest gives every segment's size and MD5.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
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

impl PartsMd5 {
    /// Parts of the given sizes whose combined digest is `digest` (when announced); set
    /// `part_md5s` and `part_names` when the provider knows them.
    pub fn new(digest: Option<String>, part_sizes: Vec<u64>) -> Self {
        Self { digest, part_sizes, part_md5s: Vec::new(), part_names: Vec::new() }
    }
}

/// Why a listed item will not be fetched. Exhaustive on purpose: the engine must decide
/// what each reason means for the archive's completeness.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Skip {
    /// Left out on purpose; the reason goes to the report and the export stays complete.
    Excluded(String),
    /// Known to be unreadable already at listing time; the export is incomplete.
    Failed(String),
}

/// One listed item. Build it with [`Item::new`], then set the public fields.
///
/// An item is data: everything the provider needs to open it again is in it (its `id`,
/// `version` and `locator`), so that `open` can be called any number of times, in any
/// order, by any process holding the item (a retry, a resumed export, another worker).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Item {
    /// The provider's identifier, byte for byte.
    pub id: RawName,
    /// Where the item goes under its source's area, one raw segment per level.
    pub segments: Vec<RawName>,
    /// Content, configuration or an earlier version.
    #[serde(default)]
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
    /// Provider metadata, copied to the inventory as is: what a reader of the archive should
    /// know about the item. Never a routing key of the provider's own (an API URL, an
    /// internal id needed to open the item): that belongs in `locator`.
    #[serde(default)]
    pub meta: Map<String, Value>,
    /// Set when the item is listed but will not be fetched.
    #[serde(default)]
    pub skip: Option<Skip>,
    /// What the provider needs to open this very item again (a file's device and inode, an
    /// object's version id, a record's API URL), opaque to the engine: kept with the item,
    /// handed back to `open`, stored in the resume journal, never written into the archive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locator: Option<String>,
    /// The item's bytes, when the listing already read them (a configuration document, an
    /// API record, a manifest): the engine archives them without calling `open`. Meant for
    /// small documents; the engine fails an item whose inline bytes exceed
    /// [`Item::INLINE_MAX`] (a defect of the provider), and holds at most a budget of
    /// inline bytes in memory at once, waiting for room before it takes more. Set with [`Item::set_inline`].
    #[serde(default, skip_serializing_if = "Option::is_none", with = "inline_hex")]
    pub inline: Option<Bytes>,
}

impl Item {
    /// The largest inline body the engine accepts: listings are held in memory, a
    /// thousand items ahead of the fetches.
    pub const INLINE_MAX: usize = 4 << 20;

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
            inline: None,
        }
    }

    /// Gives the item its bytes, read by the listing: it then has a body of exactly that
    /// size, which the engine archives without calling `open`.
    pub fn set_inline(&mut self, bytes: Bytes) {
        self.has_body = true;
        self.size = Some(bytes.len() as u64);
        self.inline = Some(bytes);
    }
}

/// Inline bytes as lower-case hex in JSON (a resume journal, a plugin's listing).
mod inline_hex {
    use bytes::Bytes;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &Option<Bytes>, serializer: S) -> Result<S::Ok, S::Error> {
        match bytes {
            Some(bytes) => serializer.serialize_str(&hex::encode(bytes)),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Bytes>, D::Error> {
        Option::<String>::deserialize(deserializer)?
            .map(|text| hex::decode(text).map(Bytes::from).map_err(serde::de::Error::custom))
            .transpose()
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

    #[test]
    fn items_with_locators_and_inline_bytes_survive_serialization() {
        let mut item = Item::new(RawName::text("a/b"), vec![RawName::text("a"), RawName::text("b")], Kind::Record);
        item.area = Area::Config;
        item.locator = Some("https://api.example/v1/records/7".into());
        item.set_inline(Bytes::from_static(b"{\"id\": 7}\n"));
        let json = serde_json::to_string(&item).unwrap();
        let back: Item = serde_json::from_str(&json).unwrap();
        assert_eq!(back, item);
        assert_eq!(back.size, Some(10));
    }
}
