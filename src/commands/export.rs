//! `sortie export`.

use anyhow::{Context, Result};
use indicatif::HumanBytes;
use sortie_core::engine::{self, ExportOptions, OutputFiles, Stop};

use super::signals::StopSignals;
use super::{context, open_sources, print_outcome, warn};
use crate::cli::ExportArgs;
use crate::exit::{self, Stopped};
use sortie_core::warning::Warning;

pub async fn run(args: ExportArgs) -> Result<i32> {
    let mut signals = StopSignals::listen();
    let files = OutputFiles::for_archive(&args.output);
    let mut warnings: Vec<_> = OutputFiles::check_name(&args.output)?.into_iter().collect();
    let context = context(&args.source, files.all());
    let (progress, bar) = crate::progress::sink(!args.json);
    warn(&bar, &warnings);
    // Work first: a stage that is over wins over a signal that arrives with its end.
    let sources = tokio::select! {
        biased;
        sources = open_sources(&args.source, &context, &progress) => sources,
        stop = signals.next() => {
            bar.finish_and_clear();
            return Err(stopped_early(stop));
        }
    };
    let sources = match sources {
        Ok((sources, overlaps)) => {
            warn(&bar, &overlaps);
            warnings.extend(overlaps);
            sources
        }
        Err(error) => {
            bar.finish_and_clear();
            return Err(error.context(format!("export to {} failed; no archive was written", args.output.display())));
        }
    };
    let options = ExportOptions {
        concurrency: args.concurrency.map_or_else(|| default_concurrency(&sources), usize::from),
        retry: context.retry,
        zstd_level: args.zstd_level,
        zstd_workers: args
            .zstd_threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| u32::try_from(n.get()).unwrap_or(1))),
        force: args.force,
        resume: args.resume,
        durable_every: durable_every()?,
        stop: Stop::default(),
    };
    // A first signal asks the export to stop at the next safe point, with everything done
    // so far durable; a second one stops at once (the journal's last durable point stays).
    let export = engine::export(&sources, &args.output, &options, progress);
    tokio::pin!(export);
    let summary = tokio::select! {
        biased;
        summary = &mut export => summary,
        stop = signals.next() => {
            bar.suspend(|| eprintln!(
                "sortie: {stop}: stopping at the next safe point (signal again to stop at once); run the same \
                 command with --resume to continue"
            ));
            options.stop.request(&format!("stopped by {}", stop.signal));
            tokio::select! {
                biased;
                summary = &mut export => {
                    bar.finish_and_clear();
                    if let Ok(summary) = summary {
                        // It finished just as the signal came: the archive is complete.
                        return report_summary(&args, &bar, warnings, summary);
                    }
                }
                _ = signals.next() => bar.finish_and_clear(),
            }
            let _ = std::fs::remove_file(&files.sidecar_partial);
            return Err(stopped(stop, &files));
        }
    };
    bar.finish_and_clear();
    let summary =
        summary.with_context(|| format!("export to {} failed; no archive was written", args.output.display()))?;
    report_summary(&args, &bar, warnings, summary)
}

/// Prints the summary of a finished export; the exit code says whether it is complete.
fn report_summary(
    args: &ExportArgs,
    bar: &indicatif::ProgressBar,
    warnings: Vec<Warning>,
    mut summary: engine::ExportSummary,
) -> Result<i32> {
    warn(bar, &summary.warnings);
    summary.warnings.splice(0..0, warnings);
    let code = if summary.complete { exit::OK } else { exit::INCOMPLETE };
    if args.json {
        print_outcome(code, &summary)?;
    } else {
        out!("archive   {} ({})", summary.archive.display(), HumanBytes(summary.archive_bytes))?;
        out!("sha256    {}  (in {})", summary.archive_sha256, summary.sidecar.display())?;
        out!(
            "items     {} archived ({}), {} excluded, {} failed, in {:.1} s",
            summary.archived,
            HumanBytes(summary.archived_bytes),
            summary.excluded,
            summary.failed,
            summary.seconds
        )?;
        if summary.changed_since_listing > 0 {
            out!(
                "changed   {} item(s) changed at the source between listing and download: archived as fetched; \
                 their inventory records keep the listing's size, date and ETag under \"listed\"",
                summary.changed_since_listing
            )?;
        }
        if let Some(resumed) = &summary.resumed {
            out!(
                "resumed   after {} run(s): {} item(s) ({}) were archived before, not fetched again",
                summary.runs.len().saturating_sub(1),
                resumed.items,
                HumanBytes(resumed.bytes)
            )?;
        }
        if summary.changed_after_archived > 0 {
            out!(
                "changed   {} item(s) changed at the source after an earlier run archived them: the archive keeps \
                 what it archived; sortie/report.json names them under \"changed_after_archived\"",
                summary.changed_after_archived
            )?;
        }
        if summary.complete {
            out!("complete  yes")?;
        } else {
            out!("complete  NO: see sortie/report.json in the archive for every failure")?;
        }
    }
    Ok(code)
}

/// The error of an export a signal stopped before its sources were open: nothing written.
fn stopped_early(stop: Stopped) -> anyhow::Error {
    anyhow::Error::new(stop).context("no archive was written")
}

/// The error of an export a signal stopped: what it did is kept for `--resume` when any of
/// it was durable.
fn stopped(stop: Stopped, files: &OutputFiles) -> anyhow::Error {
    if files.journal().exists() {
        anyhow::Error::new(stop).context(format!(
            "the partial archive {} and its journal are kept: run the same command with --resume to continue",
            files.partial.display()
        ))
    } else {
        anyhow::Error::new(stop).context("no archive was written")
    }
}

/// `SORTIE_DURABLE_INTERVAL_MS`: how often the export makes its work durable (default 1000):
/// shorter loses less to a kill and costs more `fsync`s (docs/RESUME.md).
fn durable_every() -> Result<std::time::Duration> {
    match std::env::var("SORTIE_DURABLE_INTERVAL_MS") {
        Err(_) => Ok(engine::DURABLE_EVERY),
        Ok(text) => match text.parse::<u64>() {
            Ok(ms) if (10..=3_600_000).contains(&ms) => Ok(std::time::Duration::from_millis(ms)),
            _ => Err(anyhow::Error::new(sortie_core::Error::new(
                sortie_core::ErrorKind::InvalidInput,
                format!("SORTIE_DURABLE_INTERVAL_MS={text:?} is not a number of milliseconds from 10 to 3600000"),
            ))),
        },
    }
}

/// Local reads take microseconds, remote ones wait on a round trip each: small objects from
/// a network store need many in flight (8 → 32 is 3.8× the objects per second against a
/// local S3 server, benches/README.md).
fn default_concurrency(sources: &[sortie_core::plan::Source]) -> usize {
    if sources.iter().all(|s| s.provider.capabilities().local) { 8 } else { 32 }
}
