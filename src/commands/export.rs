//! `sortie export`.

use anyhow::{Context, Result};
use indicatif::HumanBytes;
use sortie_core::engine::{self, ExportOptions, Layout, Operator, OutputFiles, RangedReads, Stop};
use sortie_formats::sink::seal::Recipients;

use super::signals::StopSignals;
use super::{context, open_sources, print_summary, warn};
use crate::cli::ExportArgs;
use crate::events::JsonEvents;
use crate::exit::{self, Stopped};

pub async fn run(args: ExportArgs) -> Result<i32> {
    let mut signals = StopSignals::listen();
    // Printed until the summary, on every path: dropped when this returns.
    let events = args.json.then(|| JsonEvents::start(&args.output, args.status_interval())).transpose()?;
    let layout = layout(&args)?;
    let resumable = layout.resumable();
    let files = OutputFiles::for_export(&args.output, &layout);
    let mut warnings: Vec<_> = OutputFiles::check_name(&args.output)?.into_iter().collect();
    let evidence_files = crate::evidence::outputs(&files.sidecar);
    if let Some(existing) = evidence_files.iter().find(|p| !args.force && p.symlink_metadata().is_ok()) {
        return Err(crate::evidence::bad_input(format!(
            "output {} already exists: pass --force to overwrite it",
            existing.display()
        )));
    }
    // Before any transfer: a wrong key or password stops here, exit 2.
    let request = crate::evidence::Request::open(args.sign.as_deref(), args.timestamp.as_deref())?;
    let context = context(&args.source, files.all().into_iter().chain(evidence_files.clone()).collect());
    let (progress, bar) = crate::progress::sink(!args.json);
    let progress = match &events {
        Some(events) => events.sink(progress),
        None => progress,
    };
    warn(&bar, &warnings);
    // Work first: a stage that is over wins over a signal that arrives with its end.
    let sources = tokio::select! {
        biased;
        sources = open_sources(&args.source, &context, &progress) => sources,
        stop = signals.next() => {
            bar.finish_and_clear();
            return Err(stopped(stop));
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
    let seal = request.as_ref().map(crate::evidence::Request::bag_seal);
    let options = ExportOptions {
        concurrency: args.concurrency.map_or_else(|| default_concurrency(&sources), usize::from),
        retry: context.retry,
        ranges: RangedReads {
            streams: usize::from(args.range_streams),
            cutoff: args.range_cutoff,
            chunk: args.range_chunk,
        },
        all_checksums: args.all_checksums,
        zstd_level: args.zstd_level,
        zstd_workers: args
            .zstd_threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| u32::try_from(n.get()).unwrap_or(1))),
        force: args.force,
        seal: seal.clone().map(|seal| seal as _),
        layout,
        resume: args.resume,
        durable_every: durable_every()?,
        stop: Stop::default(),
        operator: Operator {
            organization: args.operator.organization.clone(),
            contact_name: args.operator.contact.as_ref().and_then(|c| c.name.clone()),
            contact_email: args.operator.contact.as_ref().and_then(|c| c.email.clone()),
            ran_as: Some(sortie_sdk::local::user_at_host()),
        },
    };
    // A first signal asks the export to stop at the next safe point, with everything done
    // so far durable; a second one stops at once (the journal's last durable point stays).
    let export = engine::export(&sources, &args.output, &options, progress);
    tokio::pin!(export);
    let summary = tokio::select! {
        biased;
        summary = &mut export => summary,
        stop = signals.next() => {
            if resumable {
                bar.suspend(|| eprintln!(
                    "sortie: {stop}: stopping at the next safe point (signal again to stop at once); run the same \
                     command with --resume to continue"
                ));
            } else {
                bar.suspend(|| eprintln!(
                    "sortie: {stop}: stopping at the next safe point (signal again to stop at once); an encrypted \
                     or split export cannot be resumed: nothing is kept"
                ));
            }
            options.stop.request(&format!("stopped by {}", stop.signal));
            let finished = tokio::select! {
                biased;
                summary = &mut export => summary.ok(),
                _ = signals.next() => None,
            };
            match finished {
                // It finished just as the signal came: the archive is complete.
                Some(summary) => Ok(summary),
                None if resumable => {
                    bar.finish_and_clear();
                    let _ = std::fs::remove_file(&files.sidecar_partial);
                    return Err(stopped_resumable(stop, &files));
                }
                None => {
                    bar.finish_and_clear();
                    files.remove_partials();
                    return Err(stopped(stop));
                }
            }
        }
    };
    bar.finish_and_clear();
    let mut summary =
        summary.with_context(|| format!("export to {} failed; no archive was written", args.output.display()))?;
    warn(&bar, &summary.warnings);
    summary.warnings.splice(0..0, warnings);
    // An earlier export's evidence would not match this archive.
    for stale in &evidence_files {
        let _ = std::fs::remove_file(stale);
    }
    let evidence = match (&request, &seal) {
        (Some(request), Some(seal)) => Some(tokio::select! {
            biased;
            evidence = crate::evidence::seal_sidecar(request, seal, &summary.sidecar) => evidence?,
            // A stop while the TSA is asked: as for any stop, no archive is left behind.
            stop = signals.next() => {
                for file in files.all().iter().chain(&evidence_files) {
                    let _ = std::fs::remove_file(file);
                }
                return Err(stopped(stop));
            }
        }),
        _ => None,
    };
    let unsealed = evidence.as_ref().and_then(|e| e.timestamp_error.as_ref());
    let code = match (summary.complete, unsealed) {
        (false, _) => exit::INCOMPLETE,
        (true, Some(_)) => exit::UNSEALED,
        (true, None) => exit::OK,
    };
    if let Some(events) = events {
        events.finish();
        #[derive(serde::Serialize)]
        struct Exported<'a> {
            #[serde(flatten)]
            summary: &'a sortie_core::engine::ExportSummary,
            #[serde(skip_serializing_if = "Option::is_none")]
            evidence: Option<&'a crate::evidence::Evidence>,
        }
        print_summary(code, &Exported { summary: &summary, evidence: evidence.as_ref() })?;
    } else {
        match summary.volumes.as_slice() {
            [] => out!("archive   {} ({})", summary.archive.display(), HumanBytes(summary.archive_bytes))?,
            [first, .., last] => out!(
                "archive   {} volumes, {} to {} ({} in all)",
                summary.volumes.len(),
                first.display(),
                last.display(),
                HumanBytes(summary.archive_bytes)
            )?,
            [only] => out!("archive   1 volume, {} ({})", only.display(), HumanBytes(summary.archive_bytes))?,
        }
        out!("sha256    {}  (in {})", summary.archive_sha256, summary.sidecar.display())?;
        if let Some(page) = &summary.report_page {
            out!("report    {} (the restitution page, printable)", page.display())?;
        }
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
        if let Some(signer) = evidence.as_ref().and_then(|e| e.signer.as_ref()) {
            out!("signed    key {} ({})", signer.key_id, signer.signature.display())?;
        }
        if let Some(stamp) = evidence.as_ref().and_then(|e| e.timestamp.as_ref()) {
            out!("timestamp {} by {} ({})", stamp.time, stamp.tsa, stamp.token.display())?;
        }
        if let Some(error) = unsealed {
            out!("timestamp NONE: {error}; the archive is kept but is not timestamped")?;
        }
        if summary.complete {
            out!("complete  yes")?;
        } else {
            out!("complete  NO: see sortie/report.json in the archive for every failure")?;
        }
    }
    Ok(code)
}

/// The encryption and volumes asked for; a recipient that cannot be read is bad input.
fn layout(args: &ExportArgs) -> Result<Layout> {
    let bad =
        |message: String| anyhow::Error::new(sortie_core::Error::new(sortie_core::ErrorKind::InvalidInput, message));
    let mut texts = Vec::new();
    for file in &args.encrypt_to_file {
        let text = std::fs::read_to_string(file)
            .map_err(|e| bad(format!("cannot read the recipients file {}: {e}; check its path", file.display())))?;
        texts.push((file, text));
    }
    let given = args.encrypt_to.iter().map(|r| (r.as_str(), "--encrypt-to".to_owned()));
    let from_files = texts.iter().flat_map(|(file, text)| {
        Recipients::lines_of_file(text).map(move |(n, line)| (line, format!("{}, line {n}", file.display())))
    });
    let recipients = if args.encrypt_to.is_empty() && args.encrypt_to_file.is_empty() {
        None
    } else {
        Some(Recipients::parse(given.chain(from_files)).map_err(bad)?)
    };
    Ok(Layout { recipients, volume_size: args.volume_size })
}

/// The error of an export a signal stopped before it wrote anything, or while its sidecar
/// was sealed, or an encrypted or split one (not resumable), after what was not finished is
/// removed.
fn stopped(stop: Stopped) -> anyhow::Error {
    anyhow::Error::new(stop).context("no archive was written")
}

/// The error of an export a signal stopped while it ran: what it did is kept for
/// `--resume` when any of it was durable.
fn stopped_resumable(stop: Stopped, files: &OutputFiles) -> anyhow::Error {
    if files.journal().exists() {
        anyhow::Error::new(stop).context(format!(
            "the partial archive {} and its journal are kept: run the same command with --resume to continue",
            files.partial.display()
        ))
    } else {
        stopped(stop)
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
