//! `report`: an archive's reconciliation, read from its tag files without extracting it.
//!
//! Exit codes as `verify`: 0 complete, 3 incomplete, 4 when the archive is damaged or its
//! report or bag-info.txt do not match the tag manifest (edited or damaged), 2 when the
//! file cannot be opened.

use std::path::Path;

use anyhow::{Context, Result};
use indicatif::HumanBytes;
use serde::Serialize;
use std::io::Write;

use sortie_formats::report_html::{self, Copy, Evidence};
use sortie_formats::report_reader::{self, ArchiveReport, MAX_LISTED, MAX_REPORT_BYTES};
use sortie_formats::shown::shown;

use super::archive::{damaged, openable, print_problems};
use super::print_outcome;
use crate::cli::ReportArgs;
use crate::exit;

pub fn run(args: &ReportArgs) -> Result<i32> {
    openable(&args.archive)?;
    let report = report_reader::read_report(&args.archive).with_context(|| damaged(&args.archive))?;
    let code = match (report.trusted(), report.complete) {
        (false, _) => exit::VERIFY_FAILED,
        (true, Some(true)) => exit::OK,
        (true, _) => exit::INCOMPLETE,
    };
    if args.html {
        print_page(&args.archive, &report)?;
    } else if args.json {
        // Serialized straight from the report: a `serde_json::Value` of a crafted report.json
        // of 64 MiB (a million sources) took 1.1 GiB.
        print_outcome(code, &Printed { archive: &args.archive, trusted: report.trusted(), report: &report })?;
    } else {
        print_report(&report)?;
    }
    Ok(code)
}

/// The restitution page, as the export writes it beside the archive: the archive's sha256
/// is the one of the bytes just read.
fn print_page(archive: &Path, report: &ArchiveReport) -> std::io::Result<()> {
    let copy = Copy::Beside {
        archive_name: archive.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        sha256: report.archive_sha256.clone().unwrap_or_default(),
        bytes: std::fs::metadata(archive).ok().map(|meta| meta.len()),
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    report_html::render(&mut out, report, &copy, &Evidence::default())?;
    out.flush()
}

/// What `report --json` prints.
#[derive(Serialize)]
struct Printed<'a> {
    archive: &'a Path,
    trusted: bool,
    report: &'a ArchiveReport,
}

fn print_report(report: &ArchiveReport) -> std::io::Result<()> {
    print_problems(&mut std::io::stdout().lock(), "FAILED", &report.problems)?;
    let unknown = || "?".to_owned();
    for run in &report.runs {
        out!(
            "run       {} from {} to {}",
            run.agent.clone().unwrap_or_else(unknown),
            run.started.clone().unwrap_or_else(unknown),
            run.finished.clone().unwrap_or_else(unknown)
        )?;
    }
    for source in &report.sources {
        out!("source    {} {}", shown(&source.source), shown(&source.url))?;
        for (kind, n) in &source.kinds {
            out!(
                "  {:<14} {} listed ({}), {} archived ({}), {} excluded, {} failed{}",
                shown(kind),
                n.listed,
                HumanBytes(n.listed_bytes),
                n.archived,
                HumanBytes(n.archived_bytes),
                n.excluded,
                n.failed,
                match n.changed_since_listing {
                    0 => String::new(),
                    changed => format!(", {changed} changed since listed"),
                }
            )?;
        }
    }
    for failure in &report.failures {
        out!(
            "failed    {} {} ({}, {} attempts): {}",
            shown(&failure.source),
            shown(&failure.id),
            shown(&failure.kind),
            failure.attempts,
            shown(&failure.error)
        )?;
    }
    if report.more_failures > 0 {
        out!("failed    … and {} more (the first {MAX_LISTED} are shown)", report.more_failures)?;
    }
    for exclusion in &report.exclusions {
        out!(
            "excluded  {} {} ({}): {}",
            shown(&exclusion.source),
            shown(&exclusion.id),
            shown(&exclusion.kind),
            shown(&exclusion.reason)
        )?;
    }
    if report.more_exclusions > 0 {
        out!("excluded  … and {} more (the first {MAX_LISTED} are shown)", report.more_exclusions)?;
    }
    if report.cut {
        out!(
            "cut       sortie/report.json is longer than the {} read: failures and exclusions past that are not shown (extract it to read it all)",
            HumanBytes(MAX_REPORT_BYTES)
        )?;
    }
    match (report.trusted(), report.complete) {
        (false, _) => out!("complete  UNKNOWN: the report does not match the archive's tag manifest"),
        (true, Some(true)) => {
            out!("complete  yes (report checked against the tag manifest; `sortie verify` checks the payload)")
        }
        (true, _) => out!("complete  NO: see the failures above"),
    }
}
