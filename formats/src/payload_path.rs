//! Mapping of provider identifiers to payload paths (docs/FORMAT.md, "Payload paths").
//!
//! The mapping works on one path segment at a time so that it stays deterministic and needs
//! no knowledge of the other items, except for the one case a per-item rule cannot decide:
//! a flat key space holding both `a` and `a/b`, where the caller says that the leaf `a`
//! conflicts with a directory and the leaf gets the [`LEAF_SUFFIX`].
//!
//! Every byte a segment may not carry verbatim is written `^XX` (upper-case hex). `^` was
//! chosen because it is legal on every common file system, means nothing to shells inside
//! quotes, and is not `%`, which BagIt manifests would percent-encode.

use sha2::{Digest, Sha256};
use unicode_normalization::{IsNormalized, is_nfc_quick};

/// The escape character of payload paths.
pub const ESCAPE: char = '^';
/// The whole segment that stands for an empty segment (`x//y` in Swift or S3).
pub const EMPTY_SEGMENT: &str = "^";
/// Appended to a leaf whose name is also a directory in the same source (`a` beside `a/b`).
pub const LEAF_SUFFIX: &str = "^!";
/// Marks a segment shortened to fit [`MAX_SEGMENT_BYTES`]; 16 hex digits of the sha256 of
/// the original segment follow it, so two long names sharing a prefix stay distinct.
pub const TRUNCATION_MARK: &str = "^~";
/// The longest segment written, in bytes: `NAME_MAX` of ext4, XFS, btrfs and APFS.
pub const MAX_SEGMENT_BYTES: usize = 255;
/// The subtree of a source that holds provider configuration, beside its content.
pub const CONFIG_DIR: &str = "_config";
/// The subtree of a source that holds the non-current versions of its objects, so that the
/// content area is the source as it is now and the history sits beside it.
pub const VERSIONS_DIR: &str = "_versions";
/// Between a versioned object's name and its escaped version id (`report.pdf^@3HL4kq`).
pub const VERSION_MARK: &str = "^@";
/// Escaped version ids longer than this are replaced by a digest, so that the name before
/// them keeps most of its 255 bytes.
const MAX_VERSION_BYTES: usize = 96;

/// Where in a source's subtree an item belongs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Area {
    /// The customer's data: objects, files, messages…
    Content,
    /// Provider configuration describing the data (bucket policy, ACLs, …).
    Config,
    /// Earlier versions of the content, each named after its object and version id.
    Versions,
}

/// The payload path (relative to the bag root, starting with `data/`) of one item.
///
/// `source_id` must already be a plain segment (see [`is_plain_source_id`]). A content
/// path's first segment never starts with `_` verbatim, which keeps `_config` and
/// `_versions` free. `version` names an earlier version of the object (area `Versions`);
/// it ends the last segment after [`VERSION_MARK`].
pub fn payload_path(
    source_id: &str,
    area: Area,
    segments: &[impl AsRef<[u8]>],
    leaf_conflict: bool,
    version: Option<&[u8]>,
) -> String {
    let mut path = String::with_capacity(64);
    path.push_str("data/");
    path.push_str(source_id);
    match area {
        Area::Content => {}
        Area::Config => {
            path.push('/');
            path.push_str(CONFIG_DIR);
        }
        Area::Versions => {
            path.push('/');
            path.push_str(VERSIONS_DIR);
        }
    }
    let suffix = match version {
        Some(version) => version_suffix(version),
        None if leaf_conflict => LEAF_SUFFIX.to_owned(),
        None => String::new(),
    };
    let last = segments.len().saturating_sub(1);
    for (index, segment) in segments.iter().enumerate() {
        path.push('/');
        let reserve_underscore = area == Area::Content && index == 0;
        let suffix = if index == last { suffix.as_str() } else { "" };
        path.push_str(&escape_segment_with(segment.as_ref(), reserve_underscore, suffix));
    }
    path
}

/// `^@` and the escaped version id, or its digest when that is too long. A version never
/// gets the leaf suffix: `a^@v1` cannot be mistaken for the directory `a`.
fn version_suffix(version: &[u8]) -> String {
    let escaped = escape_bytes(version, true);
    if escaped.len() <= MAX_VERSION_BYTES && !version.is_empty() {
        format!("{VERSION_MARK}{escaped}")
    } else {
        format!("{VERSION_MARK}{TRUNCATION_MARK}{}", hex::encode(&Sha256::digest(version)[..8]))
    }
}

/// Escapes one segment: the result is valid UTF-8 in NFC, has no control character, `%`,
/// `\`, `/` or lone `^`, is never `.` or `..`, and is at most [`MAX_SEGMENT_BYTES`] long.
pub fn escape_segment(segment: &[u8]) -> String {
    escape_segment_with(segment, false, "")
}

fn escape_segment_with(segment: &[u8], reserve_underscore: bool, suffix: &str) -> String {
    let mut out = if segment.is_empty() {
        EMPTY_SEGMENT.to_owned()
    } else if segment == b"." || segment == b".." {
        hex_escape_all(segment)
    } else {
        let plain = escape_bytes(segment, false);
        if is_nfc_quick(plain.chars()) == IsNormalized::Yes || unicode_normalization::is_nfc(&plain) {
            plain
        } else {
            escape_bytes(segment, true)
        }
    };
    if reserve_underscore && out.starts_with('_') {
        out.replace_range(..1, "^5F");
    }
    let limit = MAX_SEGMENT_BYTES - suffix.len();
    if out.len() > limit {
        out = truncate_with_digest(&out, segment, limit);
    }
    out.push_str(suffix);
    out
}

/// Escapes what may not stand verbatim; with `ascii_only`, every non-ASCII byte too (used
/// for names not in NFC, so that no two escaped names differ only by normalization).
fn escape_bytes(segment: &[u8], ascii_only: bool) -> String {
    let mut out = String::with_capacity(segment.len());
    for chunk in segment.utf8_chunks() {
        for ch in chunk.valid().chars() {
            if needs_escape(ch) || (ascii_only && !ch.is_ascii()) {
                let mut buf = [0u8; 4];
                for byte in ch.encode_utf8(&mut buf).bytes() {
                    push_hex(&mut out, byte);
                }
            } else {
                out.push(ch);
            }
        }
        for &byte in chunk.invalid() {
            push_hex(&mut out, byte);
        }
    }
    out
}

fn needs_escape(ch: char) -> bool {
    ch.is_control() || matches!(ch, '%' | '\\' | '/' | ESCAPE)
}

fn hex_escape_all(segment: &[u8]) -> String {
    let mut out = String::with_capacity(segment.len() * 3);
    for &byte in segment {
        push_hex(&mut out, byte);
    }
    out
}

fn push_hex(out: &mut String, byte: u8) {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    out.push(ESCAPE);
    out.push(DIGITS[usize::from(byte >> 4)] as char);
    out.push(DIGITS[usize::from(byte & 0xF)] as char);
}

/// Keeps the longest prefix that fits without splitting a character or an `^XX` escape.
fn truncate_with_digest(escaped: &str, original: &[u8], limit: usize) -> String {
    let digest = hex::encode(&Sha256::digest(original)[..8]);
    let budget = limit - TRUNCATION_MARK.len() - digest.len();
    let mut cut = 0;
    let mut chars = escaped.char_indices().peekable();
    while let Some((index, ch)) = chars.next() {
        let width = if ch == ESCAPE { 3 } else { ch.len_utf8() };
        if index + width > budget {
            break;
        }
        cut = index + width;
        if ch == ESCAPE {
            chars.next();
            chars.next();
        }
    }
    format!("{}{TRUNCATION_MARK}{digest}", &escaped[..cut])
}

/// Reverses [`escape_segment`], dropping a leaf suffix or version id. Returns `None` for a truncated segment, whose original is
/// only in the inventory, and for text that no segment escapes to.
pub fn unescape_segment(escaped: &str) -> Option<Vec<u8>> {
    let escaped = escaped.strip_suffix(LEAF_SUFFIX).unwrap_or(escaped);
    let escaped = escaped.split_once(VERSION_MARK).map_or(escaped, |(name, _version)| name);
    if escaped == EMPTY_SEGMENT {
        return Some(Vec::new());
    }
    let bytes = escaped.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == ESCAPE as u8 {
            let hex = escaped.get(index + 1..index + 3)?;
            if !hex.bytes().all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b)) {
                return None;
            }
            out.push(u8::from_str_radix(hex, 16).ok()?);
            index += 3;
        } else {
            out.push(bytes[index]);
            index += 1;
        }
    }
    Some(out)
}

/// A source id is plain when it can stand as one payload segment verbatim.
pub fn is_plain_source_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && !id.starts_with(['_', '.', '-'])
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use unicode_normalization::UnicodeNormalization;

    fn roundtrip(segment: &[u8]) {
        let escaped = escape_segment(segment);
        assert!(unicode_normalization::is_nfc(&escaped), "{escaped:?} is not NFC");
        assert!(!escaped.contains(['%', '/', '\\', '\r', '\n', '\0']), "{escaped:?}");
        assert_ne!(escaped, ".");
        assert_ne!(escaped, "..");
        assert!(escaped.len() <= MAX_SEGMENT_BYTES);
        assert_eq!(unescape_segment(&escaped).as_deref(), Some(segment), "{escaped:?}");
    }

    #[test]
    fn plain_names_stay_verbatim() {
        assert_eq!(escape_segment(b"report 2024.pdf"), "report 2024.pdf");
        assert_eq!(escape_segment("été.txt".as_bytes()), "été.txt");
        assert_eq!(escape_segment("東京".as_bytes()), "東京");
    }

    #[test]
    fn forbidden_characters_are_escaped_and_reversible() {
        assert_eq!(escape_segment(b"100%"), "100^25");
        assert_eq!(escape_segment(b"a\nb\rc"), "a^0Ab^0Dc");
        assert_eq!(escape_segment(b"x^y"), "x^5Ey");
        assert_eq!(escape_segment(b"."), "^2E");
        assert_eq!(escape_segment(b".."), "^2E^2E");
        assert_eq!(escape_segment(b""), "^");
        assert_eq!(escape_segment(b"bad\xffutf8"), "bad^FFutf8");
        for sample in [&b"100%"[..], b"a\nb", b"x^y", b".", b"..", b"", b"\xff\xfe", b"a\\b", b"\x00", b"^"] {
            roundtrip(sample);
        }
    }

    #[test]
    fn nfc_and_nfd_variants_map_to_distinct_plain_paths() {
        let nfc: String = "caf\u{e9}".nfc().collect();
        let nfd: String = "caf\u{e9}".nfd().collect();
        let a = escape_segment(nfc.as_bytes());
        let b = escape_segment(nfd.as_bytes());
        assert_eq!(a, nfc);
        assert_eq!(b, "cafe^CC^81");
        assert_ne!(a.nfc().collect::<String>(), b.nfc().collect::<String>());
        roundtrip(nfd.as_bytes());
    }

    #[test]
    fn escaping_cannot_produce_a_composable_sequence() {
        // ^1A followed by a combining acute would compose to "Á" if left as is.
        roundtrip("x\u{1A}\u{301}".as_bytes());
    }

    #[test]
    fn long_segments_are_truncated_with_a_digest() {
        let long = "é".repeat(200);
        let escaped = escape_segment(long.as_bytes());
        assert!(escaped.len() <= MAX_SEGMENT_BYTES);
        assert!(escaped.contains(TRUNCATION_MARK));
        let other = format!("{}x", "é".repeat(199));
        assert_ne!(escaped, escape_segment(other.as_bytes()));
        assert_eq!(unescape_segment(&escaped), None);
        let escapes = "%".repeat(100);
        let escaped = escape_segment(escapes.as_bytes());
        assert!(escaped.len() <= MAX_SEGMENT_BYTES);
        assert!(escaped.split(TRUNCATION_MARK).next().unwrap().ends_with("^25"));
        // 200 ASCII bytes fit as they are.
        assert_eq!(escape_segment(&[b'a'; 200]), "a".repeat(200));
    }

    #[test]
    fn paths_keep_config_and_content_apart() {
        let segs = |s: &[&str]| s.iter().map(|x| x.as_bytes().to_vec()).collect::<Vec<_>>();
        assert_eq!(payload_path("s3-b", Area::Content, &segs(&["_config", "x"]), false, None), "data/s3-b/^5Fconfig/x");
        assert_eq!(
            payload_path("s3-b", Area::Config, &segs(&["policy.json"]), false, None),
            "data/s3-b/_config/policy.json"
        );
        assert_eq!(payload_path("s3-b", Area::Content, &segs(&["a"]), true, None), "data/s3-b/a^!");
        assert_eq!(payload_path("s3-b", Area::Content, &segs(&["a", "b"]), false, None), "data/s3-b/a/b");
        assert_eq!(payload_path("sw-p", Area::Content, &segs(&["x", "", "y"]), false, None), "data/sw-p/x/^/y");
        assert_eq!(unescape_segment("a^!").as_deref(), Some(&b"a"[..]));
    }

    #[test]
    fn versions_sit_beside_content_named_after_object_and_version() {
        let segs = |s: &[&str]| s.iter().map(|x| x.as_bytes().to_vec()).collect::<Vec<_>>();
        let path = |key: &[&str], version: &[u8]| payload_path("s3-b", Area::Versions, &segs(key), true, Some(version));
        assert_eq!(path(&["a", "b.txt"], b"3HL4kq.Jl+c="), "data/s3-b/_versions/a/b.txt^@3HL4kq.Jl+c=");
        // A version never gets the leaf suffix and escapes whatever a file name may not hold.
        assert_eq!(path(&["a"], b"v/1^\xe9"), "data/s3-b/_versions/a^@v^2F1^5E^E9");
        assert_eq!(path(&[""], b"null"), "data/s3-b/_versions/^^@null");
        let long = path(&[&"k".repeat(300)], &[b'v'; 200]);
        let leaf = long.rsplit('/').next().unwrap();
        assert!(leaf.len() <= MAX_SEGMENT_BYTES && leaf.contains("^~") && leaf.contains("^@^~"), "{leaf}");
        assert_eq!(unescape_segment("b.txt^@3HL4kq").as_deref(), Some(&b"b.txt"[..]));
        assert_eq!(unescape_segment("^^@null").as_deref(), Some(&b""[..]));
    }

    #[test]
    fn plain_source_ids() {
        assert!(is_plain_source_id("fs-sample-tenant-prod"));
        assert!(!is_plain_source_id("_config"));
        assert!(!is_plain_source_id("a/b"));
    }
}
