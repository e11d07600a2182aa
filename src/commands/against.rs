//! `verify ARCHIVE --against SOURCE…`: the sources listed again and compared with the
//! archive's inventory, item by item.
//!
//! Exit codes: 0 when every item of every source given is as archived, 6 when one changed,
//! appeared or disappeared since, 4 when the archive's inventory or report does not match
//! its tag manifest (nothing compared), 1 when a listing stopped early (the comparison is
//! partial), 2 for bad input (a source the archive does not hold, an archive that cannot be
//! opened).

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Parser;
use serde::Serialize;
use sortie_core::reconcile::{self, MAX_DIFFERENCES, Reconciliation};
use sortie_formats::shown::shown;

use super::archive::{bad_input, damaged, openable, print_problems};
use super::{block_on, context, open_sources, print_outcome, until_stopped, warn};
use crate::cli::{AgainstArgs, VerifyArgs};
use crate::exit;

pub fn run(args: &VerifyArgs) -> Result<i32> {
    let against = match AgainstArgs::try_parse_from(&args.against) {
        Ok(against) => against,
        Err(help) if !help.use_stderr() => {
            help.print()?;
            return Ok(exit::OK);
        }
        Err(error) => return Err(bad_input(error.render().to_string().trim_start_matches("error: ").to_owned())),
    };
    if args.archive.is_dir() {
        return Err(bad_input(format!(
            "{} is a directory: --against compares an archive file (NAME.tar.zst) with its sources",
            args.archive.display()
        )));
    }
    openable(&args.archive)?;
    let json = args.json || against.json;
    block_on(until_stopped(compare(args.archive.clone(), against, json)))
}

async fn compare(archive: PathBuf, args: AgainstArgs, json: bool) -> Result<i32> {
    let context = context(&args.source, Vec::new());
    let (progress, bar) = crate::progress::sink(!json);
    let (sources, warnings) = match open_sources(&args.source, &context, &progress).await {
        Ok(opened) => opened,
        Err(error) => {
            bar.finish_and_clear();
            return Err(error);
        }
    };
    warn(&bar, &warnings);
    // The sorted spills of both sides go to the temporary directory (TMPDIR).
    let reading = archive.clone();
    let archived = tokio::task::spawn_blocking(move || reconcile::read_archive(&reading, std::env::temp_dir())).await?;
    let archived = match archived {
        Ok(archived) => archived,
        Err(error) => {
            bar.finish_and_clear();
            return Err(anyhow::Error::new(error).context(damaged(&archive)));
        }
    };
    let result = reconcile::reconcile(archived, &sources, &context.retry, progress).await;
    bar.finish_and_clear();
    let result = result.with_context(|| format!("cannot compare {} with its sources", archive.display()))?;
    let code = if !result.problems.is_empty() {
        exit::VERIFY_FAILED
    } else if result.partial() {
        exit::FAILED
    } else if result.matches() {
        exit::OK
    } else {
        exit::SOURCE_CHANGED
    };
    if json {
        print_outcome(code, &Printed { archive: &archive, matches: result.matches(), result: &result })?;
    } else {
        print_comparison(&result, code)?;
    }
    Ok(code)
}

/// What `verify --against --json` prints.
#[derive(Serialize)]
struct Printed<'a> {
    archive: &'a std::path::Path,
    matches: bool,
    result: &'a Reconciliation,
}

fn print_comparison(result: &Reconciliation, code: i32) -> std::io::Result<()> {
    print_problems(&mut std::io::stdout().lock(), "FAILED", &result.problems)?;
    for difference in &result.differences {
        let what = if difference.what.is_empty() { String::new() } else { format!(": {}", difference.what.join("; ")) };
        out!(
            "{:<9} {} {} ({}){}",
            difference.state.as_str(),
            shown(&difference.source),
            shown(&difference.id),
            shown(&difference.kind),
            shown(&what)
        )?;
    }
    if result.more_differences > 0 {
        out!("…         and {} more differences (the first {MAX_DIFFERENCES} are shown)", result.more_differences)?;
    }
    for source in &result.sources {
        out!(
            "source    {} {}: {} unchanged, {} changed, {} new, {} gone{}",
            shown(&source.source),
            shown(&source.url),
            source.unchanged,
            source.changed,
            source.new,
            source.gone,
            match source.skipped {
                0 => String::new(),
                skipped => format!(", {skipped} left out as an export would (not compared)"),
            }
        )?;
        if let Some(error) = &source.listing_error {
            out!("FAILED    {}: {}; items past it count as gone", shown(&source.source), shown(error))?;
        }
    }
    for source in &result.not_compared {
        out!("skipped   {}: in the archive, not given again: not compared", shown(source))?;
    }
    match code {
        exit::OK => out!("matches   yes: every item the sources list now is as archived"),
        exit::VERIFY_FAILED => out!("matches   UNKNOWN: the archive's inventory cannot be trusted"),
        exit::FAILED => out!("matches   UNKNOWN: a listing stopped early"),
        _ => out!("matches   NO: the sources changed since the export"),
    }
}
