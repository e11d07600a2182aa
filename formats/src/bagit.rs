//! BagIt 1.0 (RFC 8493) tag files and manifest lines.

/// The fixed content of `bagit.txt`.
pub const BAGIT_TXT: &str = "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n";
/// Tag file names, relative to the bag root.
pub const BAGIT: &str = "bagit.txt";
/// The payload manifest.
pub const MANIFEST: &str = "manifest-sha256.txt";
/// The bag's metadata.
pub const BAG_INFO: &str = "bag-info.txt";
/// Sortie's per-item inventory.
pub const INVENTORY: &str = "sortie/inventory.jsonl";
/// Sortie's reconciliation of listed against archived.
pub const REPORT: &str = "sortie/report.json";
/// The restitution report, the same numbers as [`REPORT`] for a human reader.
pub const REPORT_HTML: &str = "sortie/report.html";
/// The tag manifest: the last member, but for the seals below.
pub const TAG_MANIFEST: &str = "tagmanifest-sha256.txt";
/// The public key of whoever signed the bag, in minisign's format: a tag file like the
/// others, so that the tag manifest (and its signature) covers it.
pub const SIGNER_KEY: &str = "sortie/signer.pub";
/// A minisign signature of the tag manifest. It cannot be listed in the manifest it signs:
/// it follows it, as the last members of a signed bag.
pub const TAG_MANIFEST_SIGNATURE: &str = "tagmanifest-sha256.txt.minisig";
/// An RFC 3161 time-stamp token over the tag manifest's sha256, after it for the same reason.
pub const TAG_MANIFEST_TIMESTAMP: &str = "tagmanifest-sha256.txt.tsr";
/// The members allowed after the tag manifest, in this order.
pub const SEALS: [&str; 2] = [TAG_MANIFEST_SIGNATURE, TAG_MANIFEST_TIMESTAMP];
/// A seal larger than this is not one of ours (a signature is some 300 bytes, a token a
/// few kilobytes with its certificates).
pub const MAX_SEAL: u64 = 64 << 10;

/// One manifest line, with RFC 8493's percent-encoding of `%`, CR and LF in the path.
/// Payload paths never hold those (see `payload_path`), so for them the line is verbatim.
pub fn manifest_line(sha256_hex: &str, path: &str) -> String {
    let mut line = String::with_capacity(sha256_hex.len() + path.len() + 3);
    line.push_str(sha256_hex);
    line.push_str("  ");
    for ch in path.chars() {
        match ch {
            '%' => line.push_str("%25"),
            '\r' => line.push_str("%0D"),
            '\n' => line.push_str("%0A"),
            other => line.push(other),
        }
    }
    line.push('\n');
    line
}

/// Splits a manifest line into digest and decoded path.
pub fn parse_manifest_line(line: &str) -> Option<(&str, String)> {
    let (digest, path) = line.split_once(char::is_whitespace)?;
    let path = path.trim_start();
    if digest.len() != 64 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) || path.is_empty() {
        return None;
    }
    Some((digest, path.replace("%0A", "\n").replace("%0D", "\r").replace("%25", "%")))
}

/// Renders `bag-info.txt`: one `Label: value` per line, in the given order. Line breaks
/// inside a value would start a new label, so they become spaces.
pub fn bag_info_text(fields: &[(String, String)]) -> String {
    let mut text = String::new();
    for (label, value) in fields {
        text.push_str(label);
        text.push_str(": ");
        text.push_str(&value.replace(['\r', '\n'], " "));
        text.push('\n');
    }
    text
}

/// Reads `bag-info.txt`, joining RFC 8493 continuation lines (those starting with blanks).
pub fn parse_bag_info(text: &str) -> Vec<(String, String)> {
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = fields.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
        } else if let Some((label, value)) = line.split_once(':') {
            fields.push((label.trim().to_owned(), value.trim().to_owned()));
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_lines_round_trip() {
        let digest = "a".repeat(64);
        let line = manifest_line(&digest, "data/x%y\nz");
        assert_eq!(line, format!("{digest}  data/x%25y%0Az\n"));
        assert_eq!(parse_manifest_line(line.trim_end()), Some((digest.as_str(), "data/x%y\nz".to_owned())));
        assert_eq!(parse_manifest_line("nothex  data/x"), None);
    }

    #[test]
    fn bag_info_round_trips_and_folds() {
        let fields = vec![("Payload-Oxum".to_owned(), "12.3".to_owned()), ("Note".to_owned(), "a\nb".to_owned())];
        let text = bag_info_text(&fields);
        assert_eq!(text, "Payload-Oxum: 12.3\nNote: a b\n");
        assert_eq!(parse_bag_info("A: 1\n  more\nB: 2\n")[0].1, "1 more");
    }
}
