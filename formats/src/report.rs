//! `sortie/report.json`: the reconciliation of what each source listed against what the
//! archive holds, with every exclusion and failure named.

use std::collections::BTreeMap;
use std::io::{self, BufRead, Write};

use serde::{Deserialize, Serialize};

/// Counts for one kind of item in one source.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KindCounts {
    /// Items the listing returned.
    pub listed: u64,
    /// Bytes the listing announced.
    pub listed_bytes: u64,
    /// Items in the archive (with or without bytes).
    pub archived: u64,
    /// Bytes in the archive.
    pub archived_bytes: u64,
    /// Items left out on purpose, each with a reason in `exclusions`.
    pub excluded: u64,
    /// Items that could not be archived, each with an error in `failures`.
    pub failed: u64,
    /// Archived items whose fetched bytes differ from what the listing announced (size,
    /// checksum or modification time): changed at the source between the listing and the
    /// download. Each one's inventory record carries the listing's values under `listed`,
    /// which explains `listed_bytes` ≠ `archived_bytes`. Absent from archives written before
    /// it existed, hence the default.
    #[serde(default)]
    pub changed_since_listing: u64,
    /// Items archived by an earlier run of a resumed export and found different when the
    /// listing went over them again (size, ETag, version or modification time): the archive
    /// keeps what it archived; `changed_after_archived` in the report names them.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub changed_after_archived: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// One run of an export. An export resumed after an interruption has several, the last
/// one the run that finished it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    /// When it started, RFC 3339 UTC.
    pub started: String,
    /// When it ended, RFC 3339 UTC, when that is known (a process killed outright leaves
    /// no record of its end).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended: Option<String>,
    /// How it ended: `completed`, `stopped by SIGINT` (or SIGTERM, SIGHUP), `failed: …`,
    /// or `killed or crashed` when it left no record.
    pub outcome: String,
}

/// What the listing said of an item, as compared between the runs of a resumed export.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListedState {
    /// Size in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Modification time, RFC 3339 UTC with nanoseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified: Option<String>,
    /// ETag or checksum as the provider serves it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// Version id, hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// An item an earlier run archived that the listing of a later run found changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangedAfterArchived {
    /// Source id.
    pub source: String,
    /// Its member path under the bag, `data/…`, as archived.
    pub path: String,
    /// What the listing said when it was archived.
    pub archived: ListedState,
    /// What the later listing says.
    pub now: ListedState,
}

/// One source's part of the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceReport {
    /// Source id, as under `data/`.
    pub source: String,
    /// The source as given on the command line, without credentials.
    pub url: String,
    /// Per kind.
    pub kinds: BTreeMap<String, KindCounts>,
    /// Time spent listing, in seconds.
    pub listing_seconds: f64,
    /// The account the source was read as (a user name, a project, a shortened key id),
    /// when the provider tells; never a secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
}

/// An item that could not be archived.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    /// Source id.
    pub source: String,
    /// The provider's identifier.
    pub id: String,
    /// Item kind.
    pub kind: String,
    /// What went wrong, last attempt.
    pub error: String,
    /// How many attempts were made.
    pub attempts: u32,
}

/// An item left out on purpose.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Exclusion {
    /// Source id.
    pub source: String,
    /// The provider's identifier.
    pub id: String,
    /// Item kind.
    pub kind: String,
    /// Why it was left out.
    pub reason: String,
}

/// Everything in the report but the two lists, which can be long and are spooled.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReportHeader {
    /// The archive format version (docs/FORMAT.md).
    pub format_version: u32,
    /// True when every listed item is archived or excluded on purpose.
    pub complete: bool,
    /// Start of the export, RFC 3339 UTC.
    pub started: String,
    /// End of the export, RFC 3339 UTC.
    pub finished: String,
    /// Per source.
    pub sources: Vec<SourceReport>,
    /// Every run of the export, first to last (one unless it was resumed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub runs: Vec<Run>,
    /// The first 1,000 items found changed after being archived (their count per kind is
    /// `changed_after_archived`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changed_after_archived: Vec<ChangedAfterArchived>,
}

/// Writes the report: the header's fields, then `failures` and `exclusions` copied from
/// spools holding one JSON object per line, so the report never sits whole in memory.
pub fn write_report(
    out: &mut dyn Write,
    header: &ReportHeader,
    failures: &mut dyn BufRead,
    exclusions: &mut dyn BufRead,
) -> io::Result<()> {
    let head = serde_json::to_string_pretty(header)?;
    let head = head.trim_end().strip_suffix('}').ok_or_else(|| io::Error::other("report header is not an object"))?;
    out.write_all(head.trim_end().as_bytes())?;
    let spools: [(&str, &mut dyn BufRead); 2] = [("failures", failures), ("exclusions", exclusions)];
    for (name, spool) in spools {
        write!(out, ",\n  \"{name}\": [")?;
        let mut first = true;
        for line in spool.lines() {
            let line = line?;
            if line.is_empty() {
                continue;
            }
            out.write_all(if first { b"\n    " } else { b",\n    " })?;
            out.write_all(line.as_bytes())?;
            first = false;
        }
        out.write_all(if first { b"]" } else { b"\n  ]" })?;
    }
    out.write_all(b"\n}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_with_spooled_lists_is_valid_json() {
        let header = ReportHeader {
            format_version: 1,
            complete: false,
            started: "s".into(),
            finished: "f".into(),
            sources: vec![],
            runs: vec![],
            changed_after_archived: vec![],
        };
        let failure = serde_json::to_string(&Failure {
            source: "fs-x".into(),
            id: "a".into(),
            kind: "file".into(),
            error: "denied".into(),
            attempts: 1,
        })
        .unwrap();
        let mut out = Vec::new();
        write_report(&mut out, &header, &mut format!("{failure}\n{failure}\n").as_bytes(), &mut &b""[..]).unwrap();
        let value: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(value["failures"].as_array().unwrap().len(), 2);
        assert_eq!(value["exclusions"].as_array().unwrap().len(), 0);
        assert_eq!(value["complete"], false);
    }
}
