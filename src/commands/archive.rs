//! The commands that read an archive: `verify`, `ls`, `extract`.
//!
//! One rule for all three: an archive file that cannot be opened is bad input (exit 2,
//! nothing created); an archive whose content is damaged, truncated or not a Sortie archive
//! is a failed verification (exit 4, naming where); a failure of the local disk is exit 1.

use std::path::Path;

use anyhow::{Context, Result};
use serde_json::json;
use sortie_formats::reader::ArchiveError;
use sortie_formats::shown::shown;
use sortie_formats::verify::{Problem, Sidecar, Verification};
use sortie_formats::{extract as extraction, reader, verify as verification};

use super::{print_json, runtime};
use crate::cli::{ArchiveArgs, ExtractArgs};
use crate::exit;

pub fn verify(args: &ArchiveArgs) -> Result<i32> {
    openable(&args.archive)?;
    let reading = crate::progress::reading(&args.archive, "verify");
    let result = verification::verify(&args.archive);
    drop(reading);
    let result = result.with_context(|| damaged(&args.archive))?;
    let code = verdict(&result);
    if args.json {
        print_json(&json!({"archive": args.archive, "intact": result.intact(), "result": result}))?;
        return Ok(code);
    }
    print_verification(&result, code)?;
    Ok(code)
}

/// 0 intact and complete, 3 intact but incomplete, 4 damaged.
fn verdict(result: &Verification) -> i32 {
    match (result.intact(), result.complete) {
        (false, _) => exit::VERIFY_FAILED,
        (true, Some(true)) => exit::OK,
        (true, _) => exit::INCOMPLETE,
    }
}

fn print_problems(label: &str, problems: &[Problem]) -> std::io::Result<()> {
    for problem in problems {
        match &problem.member {
            Some(member) => out!("{label}  {member}: {}", problem.message)?,
            None => out!("{label}  {}", problem.message)?,
        }
    }
    Ok(())
}

fn print_verification(result: &Verification, code: i32) -> std::io::Result<()> {
    print_problems("FAILED", &result.problems)?;
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
    }
    out!("payload   {} files, {} bytes, {} members read", result.payload_files, result.payload_bytes, result.members)?;
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
    let reading = crate::progress::reading(&args.archive, "extract");
    let done = runtime()?.block_on(async {
        let (archive, target) = (args.archive.clone(), args.target.clone());
        let extraction = tokio::task::spawn_blocking(move || extraction::extract(&archive, &target));
        tokio::select! {
            done = extraction => Ok(done.map_err(std::io::Error::other).and_then(|done| done)),
            (name, code) = super::stop_signal() => {
                // What was staged is unverified: it goes; what was already placed was checked.
                extraction::remove_staging(&args.target);
                eprintln!("sortie: interrupted by {name}; unverified files were removed");
                Err(code)
            }
        }
    });
    drop(reading);
    let done = match done {
        Ok(done) => done,
        Err(code) => return Ok(code),
    };
    let done = done
        .with_context(|| format!("extraction of {} into {} failed", args.archive.display(), args.target.display()))?;
    let code = if done.whole() { verdict(&done.verification) } else { exit::VERIFY_FAILED };
    if args.json {
        print_json(&done)?;
    } else {
        print_problems("REFUSED", &done.refused)?;
        if done.more_refused > 0 {
            out!("REFUSED  … and {} more members", done.more_refused)?;
        }
        print_verification(&done.verification, verdict(&done.verification))?;
        out!("extracted {} files ({} bytes) into {}", done.files, done.bytes, args.target.display())?;
    }
    Ok(code)
}

/// An archive that cannot be opened at all is bad input: said before anything is created.
fn openable(archive: &Path) -> Result<()> {
    let opened = std::fs::File::open(archive).and_then(|file| file.metadata()).and_then(|meta| {
        if meta.is_dir() { Err(std::io::Error::from(std::io::ErrorKind::IsADirectory)) } else { Ok(()) }
    });
    opened.map_err(|error| {
        sortie_core::Error::new(
            sortie_core::ErrorKind::InvalidInput,
            format!("cannot read the archive {}: {error}; check the archive path", archive.display()),
        )
        .into()
    })
}

fn damaged(archive: &Path) -> String {
    format!("{} is not a readable Sortie archive", archive.display())
}
