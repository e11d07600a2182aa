//! `report`: the reconciliation an archive carries (`sortie/report.json`, `bag-info.txt`),
//! read in one pass over the archive without extracting anything.
//!
//! The archive is read as hostile, like `verify` reads it (the same reader: bounded
//! extension headers, zstd frame checksums). `report.json` can be long (one entry per
//! failure and exclusion): its header (counts per source and kind) is read whole, the first
//! [`MAX_LISTED`] failures and exclusions are kept and the rest counted, and nothing past
//! [`MAX_REPORT_BYTES`] is parsed (the lists then say they are cut). The two tag files are
//! checked against `tagmanifest-sha256.txt`, so an edited or damaged report is said to be
//! one; the payload is not read (that is `verify`'s job, which checks everything).

use std::collections::BTreeSet;
use std::fmt;
use std::io::{self, BufRead, BufReader, Read};

use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::bagit::{self, BAG_INFO, INVENTORY, REPORT, TAG_MANIFEST};
use crate::input::Input;
use crate::reader::{self, ArchiveError};
use crate::report::{Exclusion, Failure, SourceReport};
use crate::shown::shown;
use crate::verify::{MAX_SMALL_TAG, Problem};

/// Failures and exclusions kept in full; the rest are counted.
pub const MAX_LISTED: usize = 1000;
/// Bytes of `report.json` parsed; the rest is only hashed.
pub const MAX_REPORT_BYTES: u64 = 64 << 20;

/// One export run, as `bag-info.txt` records it.
#[derive(Debug, Default, Serialize)]
pub struct Run {
    /// `Bag-Software-Agent`: the tool and its version.
    pub agent: Option<String>,
    /// `Sortie-Started`.
    pub started: Option<String>,
    /// `Sortie-Finished`.
    pub finished: Option<String>,
    /// Who ran it.
    pub operator: Operator,
}

/// Who ran an export, as `bag-info.txt` records it: the organization and contact the
/// operator gave (RFC 8493's reserved `Source-Organization`, `Contact-Name`,
/// `Contact-Email`), and the local user and host the export ran as (`Sortie-Operator`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Operator {
    /// `Source-Organization`.
    pub organization: Option<String>,
    /// `Contact-Name`.
    pub contact_name: Option<String>,
    /// `Contact-Email`.
    pub contact_email: Option<String>,
    /// `Sortie-Operator`: `user@host` of the process that ran the export.
    pub ran_as: Option<String>,
}

impl Operator {
    /// The bag-info.txt fields, in the order written.
    pub fn bag_info(&self) -> Vec<(String, String)> {
        let fields = [
            ("Source-Organization", &self.organization),
            ("Contact-Name", &self.contact_name),
            ("Contact-Email", &self.contact_email),
            ("Sortie-Operator", &self.ran_as),
        ];
        fields.into_iter().filter_map(|(label, value)| Some((label.to_owned(), value.clone()?))).collect()
    }

    /// True when the operator named neither an organization nor a contact.
    pub fn anonymous(&self) -> bool {
        self.organization.is_none() && self.contact_name.is_none() && self.contact_email.is_none()
    }
}

/// What an archive says about its export.
#[derive(Debug, Default, Serialize)]
pub struct ArchiveReport {
    /// The bag's top directory.
    pub bag: Option<String>,
    /// `Sortie-Complete` from bag-info.txt.
    pub complete: Option<bool>,
    /// The runs that made the archive (one in format version 1).
    pub runs: Vec<Run>,
    /// `Sortie-Format-Version`.
    pub format_version: Option<String>,
    /// Per source and kind: listed, archived, excluded, failed.
    pub sources: Vec<SourceReport>,
    /// The first failures.
    pub failures: Vec<Failure>,
    /// Failures beyond those kept.
    pub more_failures: u64,
    /// The first exclusions.
    pub exclusions: Vec<Exclusion>,
    /// Exclusions beyond those kept.
    pub more_exclusions: u64,
    /// True when report.json was longer than what is parsed: the lists are cut.
    pub cut: bool,
    /// The sha256 of the archive file, computed while it was read (none when the report
    /// was read from `report.json` alone).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archive_sha256: Option<String>,
    /// What is wrong with the tag files read (missing, not matching the tag manifest,
    /// unreadable): the report cannot be trusted when this is not empty.
    pub problems: Vec<Problem>,
}

impl ArchiveReport {
    /// Reads a `report.json` on its own (the one an export has just written), as
    /// [`read_report`] reads it from an archive: the counts whole, the lists capped, at most
    /// [`MAX_REPORT_BYTES`] parsed. `complete` and `format_version` come from the report
    /// itself; the run's tool version is not in it.
    pub fn from_json(json: impl Read) -> Self {
        let mut report = ArchiveReport::default();
        read_report_json(&mut report, json, MAX_REPORT_BYTES);
        report
    }

    /// True when the report and bag-info.txt were read and match the tag manifest.
    pub fn trusted(&self) -> bool {
        self.problems.is_empty()
    }

    fn problem(&mut self, member: &str, message: impl Into<String>) {
        self.problems.push(Problem { member: Some(member.to_owned()), message: shown(&message.into()) });
    }
}

/// Reads the report of the archive at `path`. An `Err` is an archive that cannot be opened,
/// or one whose stream is damaged ([`ArchiveError`]).
pub fn read_report(input: &Input) -> io::Result<ArchiveReport> {
    read_report_and_inventory(input, None)
}

/// What reads `sortie/inventory.jsonl` for [`read_report_and_inventory`].
pub type InventoryReader<'a> = dyn FnMut(&mut dyn BufRead) -> io::Result<()> + 'a;

/// [`read_report`], in the same pass handing `sortie/inventory.jsonl` to `inventory` (which
/// reads what it needs) and checking the inventory against the tag manifest too: a problem
/// of the report then says when it does not match.
pub fn read_report_and_inventory(
    input: &Input,
    mut inventory: Option<&mut InventoryReader<'_>>,
) -> io::Result<ArchiveReport> {
    let mut archive = reader::open(input)?;
    let mut report = ArchiveReport::default();
    let mut digests: Vec<(String, String)> = Vec::new();
    let mut bag_info = None;
    let mut tag_manifest = None;
    let (mut seen, mut twice) = (BTreeSet::new(), BTreeSet::new());
    for member in archive.members()? {
        let member = member?;
        let (full, _) = member.path();
        let (bag, rel) = full.split_once('/').unwrap_or((full.as_str(), ""));
        if report.bag.is_none() {
            report.bag = Some(shown(bag));
        }
        let mut hashing = Hashing { inner: member, hasher: Sha256::new() };
        // A tag file seen again (a copy appended, or under a second top folder): the tag
        // manifest checks the first copy only, so neither may be shown as checked.
        // Said once per name, however many copies there are.
        if [REPORT, BAG_INFO, TAG_MANIFEST, INVENTORY].contains(&rel) && !seen.insert(rel.to_owned()) {
            if twice.insert(rel.to_owned()) {
                report.problem(rel, "appears twice in the archive: which copy the tag manifest checks cannot be told");
            }
            io::copy(&mut hashing, &mut io::sink())?;
            continue;
        }
        match rel {
            REPORT => read_report_json(&mut report, &mut hashing, MAX_REPORT_BYTES),
            INVENTORY if inventory.is_some() => {
                if let Some(read) = inventory.as_deref_mut() {
                    read(&mut BufReader::with_capacity(1 << 16, &mut hashing))?;
                }
            }
            BAG_INFO | TAG_MANIFEST => {
                let mut content = Vec::new();
                (&mut hashing).take(MAX_SMALL_TAG).read_to_end(&mut content)?;
                let text = String::from_utf8_lossy(&content).into_owned();
                if rel == BAG_INFO { bag_info = Some(text) } else { tag_manifest = Some(text) }
            }
            _ => {}
        }
        io::copy(&mut hashing, &mut io::sink())?;
        if [REPORT, BAG_INFO].contains(&rel) || (rel == INVENTORY && inventory.is_some()) {
            digests.push((rel.to_owned(), hex::encode(hashing.hasher.finalize())));
        }
    }
    let (trailing, sha256) = archive.finish(false)?;
    match trailing {
        Ok(0) => {}
        Ok(n) => return Err(fault(format!("{n} non-zero bytes follow the end of the tar archive"))),
        Err(e) => return Err(e),
    }
    report.archive_sha256 = Some(sha256);
    match &bag_info {
        Some(text) => read_bag_info(&mut report, text),
        None => report.problem(BAG_INFO, "missing: this is not a Sortie archive"),
    }
    let checked: &[&str] = if inventory.is_some() { &[REPORT, BAG_INFO, INVENTORY] } else { &[REPORT, BAG_INFO] };
    check_tags(&mut report, tag_manifest.as_deref(), &digests, checked);
    Ok(report)
}

/// Parses at most `cap` bytes of `report.json` into `report`; what was read before a cut or
/// an error stays.
fn read_report_json(report: &mut ArchiveReport, json: impl Read, cap: u64) {
    let mut limited = BufReader::new(json.take(cap));
    let mut de = serde_json::Deserializer::from_reader(&mut limited);
    if let Err(error) = (&mut *report).deserialize(&mut de) {
        if limited.into_inner().limit() == 0 {
            report.cut = true;
        } else {
            report.problem(REPORT, format!("not a valid report: {error}"));
        }
    }
}

fn fault(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, ArchiveError::new(message))
}

fn read_bag_info(report: &mut ArchiveReport, text: &str) {
    let fields = bagit::parse_bag_info(text);
    let get = |label: &str| fields.iter().find(|(k, _)| k.eq_ignore_ascii_case(label)).map(|(_, value)| shown(value));
    report.complete = get("Sortie-Complete").map(|value| value == "true");
    report.format_version = get("Sortie-Format-Version");
    report.runs.push(Run {
        agent: get("Bag-Software-Agent"),
        started: get("Sortie-Started"),
        finished: get("Sortie-Finished"),
        operator: Operator {
            organization: get("Source-Organization"),
            contact_name: get("Contact-Name"),
            contact_email: get("Contact-Email"),
            ran_as: get("Sortie-Operator"),
        },
    });
}

/// The report and bag-info.txt must be listed in the tag manifest with their digests.
fn check_tags(report: &mut ArchiveReport, tag_manifest: Option<&str>, digests: &[(String, String)], checked: &[&str]) {
    let Some(tag_manifest) = tag_manifest else {
        report.problem(TAG_MANIFEST, "missing: the report cannot be checked");
        return;
    };
    for &name in checked {
        let Some((_, actual)) = digests.iter().find(|(rel, _)| rel == name) else {
            if name != BAG_INFO {
                report.problem(name, "missing from the archive");
            }
            continue;
        };
        let listed = tag_manifest.lines().filter_map(bagit::parse_manifest_line).find(|(_, path)| path == name);
        match listed {
            Some((digest, _)) if digest.eq_ignore_ascii_case(actual) => {}
            Some((digest, _)) => report.problem(
                name,
                format!("sha256 mismatch: the tag manifest says {digest}, content is {actual}: edited or damaged"),
            ),
            None => report.problem(name, "not listed in the tag manifest"),
        }
    }
}

/// A member's bytes, hashed as they are read.
struct Hashing<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// Fills the report field by field, so that what was read before an error (the cut) stays.
impl<'de> DeserializeSeed<'de> for &mut ArchiveReport {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for &mut ArchiveReport {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("the report object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "sources" => self.sources = map.next_value()?,
                // bag-info.txt's say wins when the report is read from an archive.
                "complete" => self.complete = map.next_value()?,
                "format_version" => self.format_version = map.next_value::<Option<u32>>()?.map(|v| v.to_string()),
                "failures" => {
                    map.next_value_seed(Capped { kept: &mut self.failures, more: &mut self.more_failures })?
                }
                "exclusions" => {
                    map.next_value_seed(Capped { kept: &mut self.exclusions, more: &mut self.more_exclusions })?
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// A list of which the first [`MAX_LISTED`] entries are kept and the rest counted.
struct Capped<'a, T> {
    kept: &'a mut Vec<T>,
    more: &'a mut u64,
}

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for Capped<'_, T> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for Capped<'_, T> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        loop {
            if self.kept.len() < MAX_LISTED {
                match seq.next_element()? {
                    Some(entry) => self.kept.push(entry),
                    None => return Ok(()),
                }
            } else {
                match seq.next_element::<IgnoredAny>()? {
                    Some(_) => *self.more += 1,
                    None => return Ok(()),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT_JSON: &str = r#"{"format_version": 1, "complete": false, "sources": [
        {"source": "fs-x", "url": "file:///x", "listing_seconds": 0.1,
         "kinds": {"file": {"listed": 3, "listed_bytes": 9, "archived": 1, "archived_bytes": 3,
                            "excluded": 0, "failed": 2}}}],
      "failures": [
        {"source": "fs-x", "id": "a", "kind": "file", "error": "denied", "attempts": 1},
        {"source": "fs-x", "id": "b", "kind": "file", "error": "denied", "attempts": 1}],
      "exclusions": []}"#;

    #[test]
    fn a_whole_report_is_read_and_a_cut_one_keeps_what_came_before() {
        let mut whole = ArchiveReport::default();
        read_report_json(&mut whole, REPORT_JSON.as_bytes(), MAX_REPORT_BYTES);
        assert!(!whole.cut && whole.trusted(), "{:?}", whole.problems);
        assert_eq!((whole.sources[0].kinds["file"].failed, whole.failures.len()), (2, 2));

        let second = REPORT_JSON.find(r#""id": "b""#).unwrap() as u64;
        let mut cut = ArchiveReport::default();
        read_report_json(&mut cut, REPORT_JSON.as_bytes(), second);
        assert!(cut.cut && cut.trusted(), "{:?}", cut.problems);
        assert_eq!(cut.sources[0].kinds["file"].listed, 3, "the counts come first, whole");
        assert_eq!(cut.failures.len(), 1);

        let mut broken = ArchiveReport::default();
        read_report_json(&mut broken, &b"{\"sources\": 7}"[..], MAX_REPORT_BYTES);
        assert!(!broken.cut && !broken.trusted());
    }
}
