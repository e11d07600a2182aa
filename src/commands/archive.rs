//! The commands that read an archive: `verify`, `ls`, `extract` (and `report`, in its own
//! module).
//!
//! One rule for all: an archive file that cannot be opened is bad input (exit 2, nothing
//! created); an archive whose content is damaged, truncated or not a Sortie archive is a
//! failed verification (exit 4, naming where); a failure of the local disk is exit 1.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use indicatif::HumanBytes;
use serde_json::json;
use sortie_formats::reader::ArchiveError;
use sortie_formats::shown::shown;
use sortie_formats::verify::{Problem, Sidecar, Verification};
use sortie_formats::{extract as extraction, reader, verify as verification, verify_dir};

use super::signals::StopSignals;
use super::{blocking_until_stopped, print_json, print_outcome, runtime};
use crate::cli::{ArchiveArgs, ExtractArgs, VerifyArgs};
use crate::exit;

pub fn verify(args: &VerifyArgs) -> Result<i32> {
    if !args.against.is_empty() {
        return super::against::run(args);
    }
    let key = args.key.as_deref().map(crate::evidence::sign::open_public_key).transpose()?;
    let sidecar =
        (!args.archive.is_dir()).then(|| sortie_core::engine::OutputFiles::for_archive(&args.archive).sidecar);
    let archive = args.archive.clone();
    let mut result = if args.archive.is_dir() {
        blocking_until_stopped(move || verify_dir::verify_dir(&archive))?
            .map_err(|error| unreadable(&args.archive, "bag directory", &error))?
    } else {
        openable(&args.archive)?;
        let reading = crate::progress::reading(&args.archive, "verify");
        let result = blocking_until_stopped(move || verification::verify(&archive));
        drop(reading);
        result?.with_context(|| damaged(&args.archive))?
    };
    let evidence = crate::evidence::check(&mut result, sidecar.as_deref(), key.as_ref());
    let code = verdict(&result);
    if args.json {
        print_outcome(
            code,
            &json!({"archive": args.archive, "intact": result.intact(), "result": result, "evidence": evidence}),
        )?;
        return Ok(code);
    }
    for check in &evidence {
        let status = match check.ok {
            Some(true) => "ok",
            Some(false) => "FAILED",
            None => "unchecked",
        };
        out!("{:<18} {status}: {} ({})", check.what, shown(&check.detail), shown(&check.file))?;
    }
    print_verification(&result, code)?;
    Ok(code)
}

/// 0 intact and complete, 3 intact but incomplete, 4 damaged.
pub(super) fn verdict(result: &Verification) -> i32 {
    match (result.intact(), result.complete) {
        (false, _) => exit::VERIFY_FAILED,
        (true, Some(true)) => exit::OK,
        (true, _) => exit::INCOMPLETE,
    }
}

/// One line per problem on `to` (stdout, or stderr for extraction's refusals).
pub(super) fn print_problems(to: &mut dyn Write, label: &str, problems: &[Problem]) -> std::io::Result<()> {
    for problem in problems {
        match &problem.member {
            Some(member) => writeln!(to, "{label}  {member}: {}", problem.message)?,
            None => writeln!(to, "{label}  {}", problem.message)?,
        }
    }
    Ok(())
}

fn print_verification(result: &Verification, code: i32) -> std::io::Result<()> {
    print_problems(&mut std::io::stdout().lock(), "FAILED", &result.problems)?;
    if result.more_problems > 0 {
        out!("FAILED  … and {} more problems", result.more_problems)?;
    }
    match &result.sidecar {
        Sidecar::Matched => out!("sidecar   matches")?,
        Sidecar::Missing => out!("sidecar   none beside the archive (transport not checked)")?,
        Sidecar::Mismatch { expected, actual } => {
            out!("FAILED  sidecar: archive sha256 is {actual}, the .sha256 file says {}", shown(expected))?
        }
        Sidecar::Unreadable { error } => out!("FAILED  sidecar: {}", shown(error))?,
        Sidecar::NotApplicable => out!("sidecar   not applicable: a directory, not an archive file")?,
    }
    out!(
        "payload   {} files ({}) and {} directories, {} members read",
        result.payload_files,
        HumanBytes(result.payload_bytes),
        result.payload_directories,
        result.members
    )?;
    match code {
        exit::OK => out!("intact    yes: every member matches the manifests"),
        exit::INCOMPLETE => {
            out!("intact    yes, but the export was incomplete (Sortie-Complete is not true): see sortie/report.json")
        }
        _ => out!("intact    NO"),
    }
}

pub fn ls(args: &ArchiveArgs) -> Result<i32> {
    openable(&args.archive)?;
    let mut archive = reader::open(&args.archive).with_context(|| damaged(&args.archive))?;
    for member in archive.members().with_context(|| damaged(&args.archive))? {
        let member = member.with_context(|| damaged(&args.archive))?;
        let (path, _) = member.path();
        let size = member.size();
        let kind = if member.kind().is_dir() { "dir" } else { "file" };
        if args.json {
            print_json(&json!({"path": path, "size": size, "type": kind}))?;
        } else {
            out!("{size:>12}  {}", shown(&path))?;
        }
    }
    // The rest of the stream too: the last frames' checksums, nothing after the tar's end.
    match archive.finish(false).with_context(|| damaged(&args.archive))?.0 {
        Ok(0) => Ok(exit::OK),
        Ok(n) => Err(archive_fault(&args.archive, format!("{n} non-zero bytes follow the end of the tar archive"))),
        Err(e) => Err(anyhow::Error::new(e).context(damaged(&args.archive))),
    }
}

fn archive_fault(archive: &Path, message: String) -> anyhow::Error {
    anyhow::Error::new(std::io::Error::new(std::io::ErrorKind::InvalidData, ArchiveError::new(message)))
        .context(damaged(archive))
}

pub fn extract(args: &ExtractArgs) -> Result<i32> {
    openable(&args.archive)?;
    // Something there that is not a directory: a file, or a symbolic link to nothing.
    let directory = std::fs::metadata(&args.target).map(|meta| meta.is_dir());
    if matches!(directory, Ok(false)) || (directory.is_err() && std::fs::symlink_metadata(&args.target).is_ok()) {
        return Err(bad_input(format!(
            "the target {} exists and is not a directory; give a new or existing directory",
            args.target.display()
        )));
    }
    let reading = crate::progress::reading(&args.archive, "extract");
    let done = runtime()?.block_on(async {
        let mut signals = StopSignals::listen();
        let (archive, target, force) = (args.archive.clone(), args.target.clone(), args.force);
        let extraction = tokio::task::spawn_blocking(move || extraction::extract(&archive, &target, force));
        tokio::select! {
            done = extraction => Ok(done.map_err(std::io::Error::other).and_then(|done| done)),
            stop = signals.next() => {
                // What was staged is unverified: it goes; what was already placed was checked.
                extraction::remove_staging(&args.target);
                Err(stop)
            }
        }
    });
    drop(reading);
    let done = done.map_err(|stop| anyhow::Error::new(stop).context("unverified files were removed"))?;
    let done = done
        .with_context(|| format!("extraction of {} into {} failed", args.archive.display(), args.target.display()))?;
    let code = if done.whole() { verdict(&done.verification) } else { exit::VERIFY_FAILED };
    if args.json {
        print_outcome(code, &done)?;
    } else {
        let mut stderr = std::io::stderr().lock();
        print_problems(&mut stderr, "REFUSED", &done.refused)?;
        if done.more_refused > 0 {
            writeln!(stderr, "REFUSED  … and {} more members", done.more_refused)?;
        }
        drop(stderr);
        print_verification(&done.verification, verdict(&done.verification))?;
        out!(
            "extracted {} files ({}) into {}: the payload and the bag's tag files",
            done.files,
            HumanBytes(done.bytes),
            args.target.display()
        )?;
    }
    Ok(code)
}

/// An archive that cannot be opened at all is bad input: said before anything is created.
pub(super) fn openable(archive: &Path) -> Result<()> {
    let opened = std::fs::File::open(archive).and_then(|file| file.metadata()).and_then(|meta| {
        if meta.is_dir() { Err(std::io::Error::from(std::io::ErrorKind::IsADirectory)) } else { Ok(()) }
    });
    opened.map_err(|error| unreadable(archive, "archive", &error))
}

fn unreadable(path: &Path, what: &str, error: &std::io::Error) -> anyhow::Error {
    bad_input(format!("cannot read the {what} {}: {error}; check the {what} path", path.display()))
}

/// Bad input: exit 2.
pub(super) fn bad_input(message: String) -> anyhow::Error {
    sortie_core::Error::new(sortie_core::ErrorKind::InvalidInput, message).into()
}

pub(super) fn damaged(archive: &Path) -> String {
    format!("{} is not a readable Sortie archive", archive.display())
}
