//! Reconciliation after the fact (`sortie verify ARCHIVE --against SOURCE…`): the sources
//! are listed again, without fetching any body, and every item is compared with the
//! archive's inventory — the check a customer runs before the provider erases the data.
//!
//! Both sides can hold millions of items: each is spilled to disk and sorted there
//! ([`spill`]), then the two sorted streams are walked together, so memory stays bounded
//! whatever the counts. An item is matched by its source, its area (configuration or not),
//! its identifier byte for byte and its version id; then its size, content digest (for
//! documents the listing carries inline), checksum (ETag), modification time, kind and link
//! target are compared where both sides know them.

mod spill;

use std::collections::BTreeSet;
use std::io::{self, BufRead, Read};
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sortie_formats::bagit::INVENTORY;
use sortie_formats::input::Input;
use sortie_formats::inventory::Record;
use sortie_formats::report::SourceReport;
use sortie_formats::report_reader::{self, ArchiveReport};
use sortie_formats::shown::shown;
use sortie_formats::verify::Problem;

use crate::engine::{ItemSink, list_source, same_etag, unique_ids};
use crate::error::{Error, ErrorKind, Result};
use crate::item::{Item, Kind, Skip};
use crate::plan::Source;
use crate::progress::ProgressSink;
use crate::retry::RetryPolicy;

use spill::{Keyed, Spill};

/// Differences kept in full; the rest are counted.
pub const MAX_DIFFERENCES: usize = 1000;
/// The longest inventory line read; Sortie writes lines of a few kilobytes.
const MAX_LINE: u64 = 4 << 20;

/// One item as one side knows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    /// Source id, area, identifier in hex and version: the order both sides are walked in.
    key: String,
    id: String,
    kind: String,
    size: Option<u64>,
    sha256: Option<String>,
    etag: Option<String>,
    modified: Option<String>,
    target: Option<String>,
    /// Why the item cannot be read now, when the listing says so (a folder without
    /// permission): it is then not compared, nor what is below it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    unreadable: Option<String>,
}

impl Keyed for Entry {
    fn key(&self) -> &str {
        &self.key
    }

    fn weight(&self) -> usize {
        let text = |s: &Option<String>| s.as_ref().map_or(0, String::len);
        128 + self.key.len()
            + self.id.len()
            + self.kind.len()
            + text(&self.sha256)
            + text(&self.etag)
            + text(&self.modified)
            + text(&self.target)
            + text(&self.unreadable)
    }
}

fn key(source: &str, config: bool, id: &[u8], version: Option<&str>) -> String {
    format!("{source}\0{}\0{}\0{}", if config { 'c' } else { 'd' }, hex::encode(id), version.unwrap_or(""))
}

fn text(value: Option<&serde_json::Value>) -> Option<&str> {
    value.and_then(serde_json::Value::as_str)
}

impl Entry {
    fn archived(record: Record) -> std::result::Result<Self, String> {
        let id = match &record.id_hex {
            Some(hex) => hex::decode(hex).map_err(|_| format!("id_hex {hex:?} is not hex"))?,
            None => record.id.as_bytes().to_vec(),
        };
        Ok(Self {
            key: key(&record.source, record.kind == "config", &id, text(record.meta.get("version_id"))),
            target: text(record.meta.get("target")).map(str::to_owned),
            id: record.id,
            kind: record.kind,
            size: record.size,
            sha256: record.sha256,
            etag: record.etag,
            modified: record.modified,
            unreadable: None,
        })
    }

    fn listed(source: &str, item: Item) -> Self {
        Self {
            key: key(source, item.kind == Kind::Config, &item.id.0, text(item.meta.get("version_id"))),
            id: item.id.display(),
            kind: item.kind.as_str().to_owned(),
            size: if item.has_body || item.inline.is_some() { item.size } else { None },
            sha256: item.inline.as_ref().map(|bytes| hex::encode(Sha256::digest(bytes))),
            etag: item.checksum.map(|c| c.served),
            modified: item.modified.map(|t| humantime::format_rfc3339_seconds(t).to_string()),
            target: text(item.meta.get("target")).map(str::to_owned),
            unreadable: match item.skip {
                Some(Skip::Failed(why)) => Some(why),
                _ => None,
            },
        }
    }

    fn source(&self) -> &str {
        self.key.split('\0').next().unwrap_or_default()
    }

    /// What differs between the archived item (`self`) and the item listed now.
    fn differences(&self, now: &Entry) -> Vec<String> {
        let mut what = Vec::new();
        let versions = ["object", "object-version"];
        if self.kind != now.kind && !(versions.contains(&self.kind.as_str()) && versions.contains(&now.kind.as_str())) {
            what.push(format!("kind {} → {}", self.kind, now.kind));
        }
        if let (Some(then), Some(size)) = (self.size, now.size)
            && then != size
        {
            what.push(format!("size {then} → {size} bytes"));
        }
        if let (Some(then), Some(digest)) = (&self.sha256, &now.sha256)
            && then != digest
        {
            what.push("content (sha256) differs".to_owned());
        }
        if let (Some(then), Some(etag)) = (&self.etag, &now.etag)
            && !same_etag(then, etag)
        {
            what.push(format!("checksum {then} → {etag}"));
        }
        // A folder's date moves whenever an entry comes or goes, which the entries report.
        if self.kind != "directory"
            && let (Some(then), Some(modified)) = (&self.modified, &now.modified)
            && !same_time(then, modified)
        {
            what.push(format!("modified {then} → {modified}"));
        }
        if let (Some(then), Some(target)) = (&self.target, &now.target)
            && then != target
        {
            what.push(format!("link target {then} → {target}"));
        }
        what
    }
}

/// Times less than a second apart are the same, as the export judges them (HTTP dates have
/// whole seconds); text that is not a date is compared as text.
fn same_time(a: &str, b: &str) -> bool {
    match (humantime::parse_rfc3339(a), humantime::parse_rfc3339(b)) {
        (Ok(a), Ok(b)) => a.duration_since(b).unwrap_or_else(|e| e.duration()) < Duration::from_secs(1),
        _ => a == b,
    }
}

/// One source compared.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SourceComparison {
    /// Source id, as under `data/`.
    pub source: String,
    /// The source as given, without credentials.
    pub url: String,
    /// Items the same on both sides.
    pub unchanged: u64,
    /// Items on both sides that differ.
    pub changed: u64,
    /// Items listed now that the archive does not hold (new since the export, or not
    /// archived by it: see its report's failures).
    pub new: u64,
    /// Items the archive holds that the source no longer lists.
    pub gone: u64,
    /// Items not compared: listed now and left out as an export would (excluded, or
    /// unreadable already at listing time), or held by the archive below a folder
    /// unreadable now.
    pub skipped: u64,
    /// Why the listing stopped early, or the first item the archive holds that it could not
    /// read now, when so: the comparison is then partial.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listing_error: Option<String>,
}

/// How an item differs from the archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// On both sides, not the same.
    Changed,
    /// Listed now, not in the archive.
    New,
    /// In the archive, not listed now.
    Gone,
}

impl State {
    /// The word `--json` and the text output use.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Changed => "changed",
            State::New => "new",
            State::Gone => "gone",
        }
    }
}

/// One item that is not as archived.
#[derive(Debug, Clone, Serialize)]
pub struct Difference {
    /// Source id.
    pub source: String,
    /// Changed, new or gone.
    pub state: State,
    /// The provider's identifier.
    pub id: String,
    /// Item kind (as listed now, or as archived when gone).
    pub kind: String,
    /// What differs, for a changed item.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub what: Vec<String>,
}

/// The archive against its sources, listed again.
#[derive(Debug, Default, Serialize)]
pub struct Reconciliation {
    /// Per source given.
    pub sources: Vec<SourceComparison>,
    /// Whether the export was complete, as the archive says: when it was not, its failures
    /// are listed now as `new` though the sources did not change.
    pub archive_complete: Option<bool>,
    /// Sources of the archive that were not given again, hence not compared.
    pub not_compared: Vec<String>,
    /// The first [`MAX_DIFFERENCES`] differences, in key order.
    pub differences: Vec<Difference>,
    /// Differences beyond those kept.
    pub more_differences: u64,
    /// What is wrong with the archive's inventory or report (not matching the tag manifest,
    /// unreadable): nothing was compared when this is not empty.
    pub problems: Vec<Problem>,
}

impl Reconciliation {
    /// True when every item of every source compared is as archived.
    pub fn matches(&self) -> bool {
        self.problems.is_empty()
            && self.sources.iter().all(|s| s.changed + s.new + s.gone == 0 && s.listing_error.is_none())
    }

    /// True when a listing stopped early or could not read an item the archive holds: the
    /// comparison could not be made in full.
    pub fn partial(&self) -> bool {
        self.sources.iter().any(|s| s.listing_error.is_some())
    }

    /// Counts `entry` as `state` in its source, and keeps it among the first differences.
    fn differ(&mut self, state: State, entry: Entry, what: Vec<String>) {
        let counts = source_of(self, entry.source());
        match state {
            State::Changed => counts.changed += 1,
            State::New => counts.new += 1,
            State::Gone => counts.gone += 1,
        }
        if self.differences.len() < MAX_DIFFERENCES {
            let source = entry.source().to_owned();
            self.differences.push(Difference { source, state, id: entry.id, kind: entry.kind, what });
        } else {
            self.more_differences += 1;
        }
    }
}

/// An archive's side of the comparison: its report, and its inventory spilled in sorted
/// runs. Made by [`read_archive`].
pub struct Archived {
    report: ArchiveReport,
    spill: Spill<Entry>,
    dir: PathBuf,
}

/// Compares the archive read by [`read_archive`] with `sources`, listed again. An `Err` is
/// a source the archive does not hold (bad input), or a local failure.
pub async fn reconcile(
    archived: Archived,
    sources: &[Source],
    policy: &RetryPolicy,
    progress: ProgressSink,
) -> Result<Reconciliation> {
    let Archived { report, spill: archived, dir } = archived;
    let mut result =
        Reconciliation { problems: report.problems.clone(), archive_complete: report.complete, ..Default::default() };
    if !result.problems.is_empty() {
        return Ok(result);
    }
    let ids = ids_in_archive(sources, &report.sources)?;
    let held: BTreeSet<&str> = report.sources.iter().map(|s| s.source.as_str()).collect();
    if let Some((id, source)) = ids.iter().zip(sources).find(|(id, _)| !held.contains(id.as_str())) {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!(
                "source {id} ({}) is not in the archive, which holds {}: give the sources as they were exported",
                source.spec.url,
                held.iter().copied().collect::<Vec<_>>().join(", ")
            ),
        ));
    }
    result.not_compared =
        held.iter().filter(|held| !ids.iter().any(|id| id == *held)).map(|held| held.to_string()).collect();

    let mut listed = Spill::new(dir);
    for (id, source) in ids.iter().zip(sources) {
        let mut comparison =
            SourceComparison { source: id.clone(), url: source.spec.url.clone(), ..Default::default() };
        let mut failed: Option<io::Error> = None;
        let mut each = |item: Item| {
            if matches!(item.skip, Some(Skip::Excluded(_))) {
                comparison.skipped += 1;
            } else if failed.is_none()
                && let Err(error) = listed.push(Entry::listed(id, item))
            {
                failed = Some(error);
            }
        };
        let listing =
            list_source(id, source.provider.as_ref(), policy, &progress, ItemSink::Each(&mut each), None).await?;
        if let Some(error) = failed {
            return Err(Error::io("cannot write a temporary file", &error));
        }
        comparison.listing_error = listing.error.map(|e| format!("{e}; items past it count as gone"));
        result.sources.push(comparison);
    }
    tokio::task::spawn_blocking(move || compare(result, archived, listed))
        .await
        .map_err(|e| Error::new(ErrorKind::Other, format!("the comparison crashed: {e}")))?
}

/// The id each source has in the archive: that of the archived source with the same
/// address, whatever the order or the subset of sources given again (an export numbers
/// repeated ids by their order: `fs-data`, `fs-data-2`); else the id an export would give it.
/// Two sources taking one id is bad input: one of them would be compared with the other's
/// items.
fn ids_in_archive(sources: &[Source], held: &[SourceReport]) -> Result<Vec<String>> {
    let ids: Vec<String> = sources
        .iter()
        .zip(unique_ids(sources))
        .map(|(source, id)| {
            let mut same = held.iter().filter(|h| h.url == source.spec.url);
            match (same.next(), same.next()) {
                (Some(archived), None) => archived.source.clone(),
                _ => id,
            }
        })
        .collect();
    for (index, id) in ids.iter().enumerate() {
        if let Some(other) = ids[..index].iter().position(|earlier| earlier == id) {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "sources {} and {} would both be compared with the archive's source {id}: give the sources \
                     as they were exported",
                    sources[other].spec.url, sources[index].spec.url
                ),
            ));
        }
    }
    Ok(ids)
}

/// Reads the archive's report and, in the same pass, spills its inventory into sorted runs
/// in `dir` (temporary files, removed when dropped). Blocking: one pass over the archive.
/// An `Err` is an archive that cannot be opened, or one whose stream is damaged; an
/// inventory or report that does not match the tag manifest, or an inventory line that
/// cannot be read, is a problem of the result instead, and nothing is compared.
pub fn read_archive(archive: &Input, dir: PathBuf) -> io::Result<Archived> {
    let mut spill = Spill::new(dir.clone());
    let mut broken: Option<String> = None;
    let mut each = |inventory: &mut dyn BufRead| -> io::Result<()> {
        let mut line = Vec::new();
        let mut number = 0u64;
        loop {
            line.clear();
            let read = inventory.take(MAX_LINE + 1).read_until(b'\n', &mut line)?;
            if read == 0 {
                return Ok(());
            }
            number += 1;
            if line.len() as u64 > MAX_LINE {
                broken = Some(format!("line {number} is over 4 MiB: not written by Sortie"));
                return Ok(());
            }
            if line.trim_ascii().is_empty() {
                continue;
            }
            let entry = serde_json::from_slice::<Record>(&line)
                .map_err(|e| format!("line {number} is not an inventory record: {e}"))
                .and_then(|record| Entry::archived(record).map_err(|e| format!("line {number}: {e}")));
            match entry {
                Ok(entry) => spill.push(entry)?,
                Err(error) => {
                    broken = Some(error);
                    return Ok(());
                }
            }
        }
    };
    let mut report = report_reader::read_report_and_inventory(archive, Some(&mut each))?;
    if let Some(message) = broken {
        report.problems.push(Problem { member: Some(INVENTORY.to_owned()), message: shown(&message) });
    }
    Ok(Archived { report, spill, dir })
}

/// Folders unreadable now kept per comparison, to leave what the archive holds below them
/// uncompared; past this many, what is below the others counts as gone.
const MAX_UNREADABLE: usize = 1000;

/// Walks both sorted sides together.
fn compare(mut result: Reconciliation, archived: Spill<Entry>, listed: Spill<Entry>) -> Result<Reconciliation> {
    let io = |e: io::Error| Error::io("cannot read a temporary file", &e);
    let given: BTreeSet<String> = result.sources.iter().map(|s| s.source.clone()).collect();
    let mut archived = archived.sorted().map_err(io)?.filter(|entry| match entry {
        Ok(entry) => given.contains(entry.source()),
        Err(_) => true,
    });
    let mut listed = listed.sorted().map_err(io)?.peekable();
    // A listing may name an item twice, as itself and as unreadable (a folder listed, then
    // failing to open): one entry, unreadable if either says so.
    let mut next_listed = move || -> io::Result<Option<Entry>> {
        let Some(mut entry) = listed.next().transpose()? else { return Ok(None) };
        while let Some(Ok(next)) = listed.peek()
            && next.key == entry.key
        {
            let next = listed.next().expect("peeked")?;
            entry = match (entry.unreadable.is_some(), next.unreadable) {
                (true, None) => Entry { unreadable: entry.unreadable, ..next },
                (_, unreadable) => Entry { unreadable: entry.unreadable.or(unreadable), ..entry },
            };
        }
        Ok(Some(entry))
    };
    // (source, id + "/") of the folders unreadable now.
    let mut unreadable: Vec<(String, String)> = Vec::new();
    let (mut then, mut now) = (archived.next().transpose().map_err(io)?, next_listed().map_err(io)?);
    loop {
        let order = match (&then, &now) {
            (None, None) => break,
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (Some(a), Some(l)) => a.key.cmp(&l.key),
        };
        match order {
            std::cmp::Ordering::Equal => {
                let (a, l) = (then.take().expect("present"), now.take().expect("present"));
                if let Some(why) = &l.unreadable {
                    let counts = source_of(&mut result, l.source());
                    counts.skipped += 1;
                    counts.listing_error.get_or_insert_with(|| {
                        format!("{} cannot be read now ({why}): it and what is below it are not compared", l.id)
                    });
                    if unreadable.len() < MAX_UNREADABLE {
                        unreadable.push((l.source().to_owned(), format!("{}/", l.id)));
                    }
                } else {
                    let what = a.differences(&l);
                    if what.is_empty() {
                        source_of(&mut result, l.source()).unchanged += 1;
                    } else {
                        result.differ(State::Changed, l, what);
                    }
                }
                then = archived.next().transpose().map_err(io)?;
                now = next_listed().map_err(io)?;
            }
            std::cmp::Ordering::Less => {
                let gone = then.take().expect("present");
                if unreadable.iter().any(|(source, folder)| source == gone.source() && gone.id.starts_with(folder)) {
                    source_of(&mut result, gone.source()).skipped += 1;
                } else {
                    result.differ(State::Gone, gone, Vec::new());
                }
                then = archived.next().transpose().map_err(io)?;
            }
            std::cmp::Ordering::Greater => {
                let new = now.take().expect("present");
                if new.unreadable.is_some() {
                    source_of(&mut result, new.source()).skipped += 1;
                } else {
                    result.differ(State::New, new, Vec::new());
                }
                now = next_listed().map_err(io)?;
            }
        }
    }
    Ok(result)
}

fn source_of<'a>(result: &'a mut Reconciliation, source: &str) -> &'a mut SourceComparison {
    let index = result.sources.iter().position(|s| s.source == source).expect("only given sources are compared");
    &mut result.sources[index]
}
