//! The end of an export: the reconciliation report, `bag-info.txt`, and the tag files that
//! close the archive.

use std::collections::BTreeMap;

use std::io::{BufRead, BufReader, BufWriter, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::SystemTime;

use sortie_formats::bagit::{INVENTORY, REPORT, REPORT_HTML};
use sortie_formats::framed_zstd::Finished;
use sortie_formats::report::{self, ChangedAfterArchived, Failure, KindCounts, ReportHeader, SourceReport};
use sortie_formats::report_html::{self, Copy};
use sortie_formats::report_reader::{ArchiveReport, Operator, Run};
use sortie_formats::spool::Spool;
use sortie_formats::writer::{Seal, bag_name};
use sortie_formats::{FORMAT_VERSION, SEALED_FORMAT_VERSION};

use crate::error::{Error, Result};

use super::spool::spool_line;
use super::writer::Written;

/// How many failures the summary names; the report in the archive has them all.
pub(crate) const SUMMARY_FAILURES_MAX: usize = 1000;

/// What [`finish`] found and wrote.
pub(crate) struct Closed {
    /// The archive's size and digest.
    pub(crate) archive: Finished,
    /// The number of failure records (zero: the export is complete).
    pub(crate) failed: u64,
    /// The first [`SUMMARY_FAILURES_MAX`] of them.
    pub(crate) first_failures: Vec<Failure>,
    /// Every run, the last one ended now.
    pub(crate) runs: Vec<report::Run>,
    /// The report as the restitution page shows it, for the copy beside the archive.
    pub(crate) report: ArchiveReport,
}

/// Who ran the export, and when: this run and the earlier ones a resumed export continues.
pub(crate) struct History<'a> {
    /// This run's start.
    pub(crate) started_at: String,
    /// Every run so far, this one last.
    pub(crate) runs: Vec<report::Run>,
    /// The operator, as `export --organization`/`--contact` and the local user name them.
    pub(crate) operator: &'a Operator,
}

/// Writes report.json, bag-info.txt and the restitution page made from them, and closes the
/// archive (to be named `archive`), sealed by `seal` if given.
pub(crate) fn finish(
    written: Written,
    reports: Vec<SourceReport>,
    history: History<'_>,
    dir: &Path,
    archive_path: &Path,
    seal: Option<&dyn Seal>,
) -> Result<Closed> {
    let History { started_at, mut runs, operator } = history;
    let format_version = if seal.is_some() { SEALED_FORMAT_VERSION } else { FORMAT_VERSION };
    let io = |e: std::io::Error| Error::io("cannot write the archive", &e);
    let Written { archive, inventory, mut failures, exclusions, failed, listing_failures, changes, .. } = written;
    let failed = failed + listing_failures.len() as u64;
    for failure in &listing_failures {
        spool_line(&mut failures, failure)?;
    }
    let mut unaccounted = 0;
    for report in &reports {
        for (kind, counts) in &report.kinds {
            let accounted = counts.archived + counts.excluded + counts.failed;
            if accounted != counts.listed {
                let failure = Failure {
                    source: report.source.clone(),
                    id: String::new(),
                    kind: kind.clone(),
                    error: format!("{} items listed but {accounted} archived, excluded or failed", counts.listed),
                    attempts: 0,
                };
                spool_line(&mut failures, &failure)?;
                unaccounted += 1;
            }
        }
    }
    let complete = failed == 0 && unaccounted == 0;
    let finished_at = now_rfc3339();
    if let Some(run) = runs.last_mut() {
        run.ended = Some(finished_at.clone());
    }
    let reopen = |spool: BufWriter<Spool>| -> std::io::Result<BufReader<Spool>> {
        let mut file = spool.into_inner().map_err(|e| e.into_error())?;
        file.seek(SeekFrom::Start(0))?;
        Ok(BufReader::new(file))
    };
    let changed_after_archived = first_lines::<ChangedAfterArchived>(reopen(changes).map_err(io)?).map_err(io)?;
    let header = ReportHeader {
        format_version,
        complete,
        started: runs.first().map_or_else(|| started_at.clone(), |run| run.started.clone()),
        finished: finished_at.clone(),
        sources: reports.clone(),
        runs: runs.clone(),
        changed_after_archived,
    };
    let mut report_file = sortie_formats::spool::tempfile_in(dir).map_err(io)?;
    let mut failures = reopen(failures).map_err(io)?;
    {
        let mut out = BufWriter::new(&mut report_file);
        report::write_report(&mut out, &header, &mut failures, &mut reopen(exclusions).map_err(io)?).map_err(io)?;
        out.flush().map_err(io)?;
    }
    failures.seek(SeekFrom::Start(0)).map_err(io)?;
    let first_failures = first_lines(failures).map_err(io)?;
    let inventory = inventory.into_inner().map_err(|e| io(e.into_error()))?;

    let mut bag_info = vec![
        ("Bag-Software-Agent".to_owned(), format!("sortie {}", env!("CARGO_PKG_VERSION"))),
        ("Bagging-Date".to_owned(), finished_at[..10].to_owned()),
        ("External-Identifier".to_owned(), format!("urn:uuid:{}", uuid::Uuid::new_v4())),
        ("Sortie-Format-Version".to_owned(), format_version.to_string()),
    ];
    bag_info.extend(operator.bag_info());
    for report in &reports {
        bag_info.push(("Sortie-Source".to_owned(), format!("{} {}", report.source, report.url)));
    }
    bag_info.push(("Sortie-Started".to_owned(), header.started.clone()));
    bag_info.push(("Sortie-Finished".to_owned(), finished_at.clone()));
    bag_info.push(("Sortie-Complete".to_owned(), complete.to_string()));
    for run in &runs {
        let ended = run.ended.as_deref().unwrap_or("unknown");
        bag_info.push(("Sortie-Run".to_owned(), format!("{} {ended} {}", run.started, run.outcome)));
    }

    // The page is made from the report just written, read back as `sortie report` reads it
    // from the archive: the same numbers, the same caps.
    report_file.seek(SeekFrom::Start(0)).map_err(io)?;
    let mut shown = ArchiveReport::from_json(BufReader::new(&mut report_file));
    shown.bag = Some(bag_name(archive_path));
    shown.runs.push(Run {
        agent: bag_info.first().map(|(_, agent)| agent.clone()),
        started: Some(header.started.clone()),
        finished: Some(finished_at),
        operator: operator.clone(),
    });
    shown.format_version = Some(format_version.to_string());
    shown.complete = Some(complete);
    let mut html = sortie_formats::spool::tempfile_in(dir).map_err(io)?;
    {
        let copy = Copy::InsideBag { archive_name: file_name(archive_path) };
        let mut out = BufWriter::new(&mut html);
        // Inside the bag, the signer is known, the time stamps are not yet.
        let evidence = seal.map(Seal::evidence).unwrap_or_default();
        report_html::render(&mut out, &shown, &copy, &evidence).map_err(io)?;
        out.flush().map_err(io)?;
    }
    let tags = vec![(INVENTORY, inventory), (REPORT, report_file), (REPORT_HTML, html)];
    let finished = archive.finish_sealed(&bag_info, tags, seal).map_err(io)?;
    Ok(Closed { archive: finished, failed: failed + unaccounted, first_failures, runs, report: shown })
}

/// The archive's file name, as the page names it.
pub(crate) fn file_name(archive: &Path) -> String {
    archive.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// The first [`SUMMARY_FAILURES_MAX`] records of a spool (one JSON object a line).
fn first_lines<T: serde::de::DeserializeOwned>(spool: impl BufRead) -> std::io::Result<Vec<T>> {
    let lines = spool.lines().filter(|line| line.as_ref().map_or(true, |l| !l.is_empty()));
    lines.take(SUMMARY_FAILURES_MAX).map(|line| Ok(serde_json::from_str(&line?)?)).collect()
}

/// The listing's counts with the writer's. Items earlier runs of a resumed export handled
/// (`before`) and this run's listing did not find again (fewer than `seen`) are counted as
/// listed too: the run that archived them listed them, and the archive keeps them.
pub(crate) fn merge_counts(
    mut listed: BTreeMap<String, KindCounts>,
    written: &BTreeMap<String, KindCounts>,
    before: &BTreeMap<String, KindCounts>,
    seen: &BTreeMap<String, u64>,
) -> BTreeMap<String, KindCounts> {
    for (kind, counts) in before {
        let handled = counts.archived + counts.excluded + counts.failed;
        let gone = handled.saturating_sub(seen.get(kind).copied().unwrap_or(0));
        if gone > 0 {
            listed.entry(kind.clone()).or_default().listed += gone;
        }
    }
    for (kind, counts) in written {
        let entry = listed.entry(kind.clone()).or_default();
        entry.archived = counts.archived;
        entry.archived_bytes = counts.archived_bytes;
        entry.excluded = counts.excluded;
        entry.failed = counts.failed;
        entry.changed_since_listing = counts.changed_since_listing;
        entry.changed_after_archived = counts.changed_after_archived;
    }
    listed
}

/// The current time, RFC 3339 UTC to the second.
pub(crate) fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}
