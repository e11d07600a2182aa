//! The commands that read an archive: `verify`, `ls`, `extract`.
//!
//! One rule for all three: an archive file that cannot be opened is bad input (exit 2,
//! nothing created); an archive whose content is damaged, truncated or not a Sortie archive
//! is a failed verification (exit 4, naming where); a failure of the local disk is exit 1.

use std::path::Path;

use anyhow::{Context, Result};
use serde_json::json;
use sortie_formats::shown::shown;
use sortie_formats::verify::{Problem, Sidecar, Verification};
use sortie_formats::{extract as extraction, reader, verify as verification};

use super::print_json;
use crate::cli::{ArchiveArgs, ExtractArgs};
use crate::exit;

pub fn verify(args: &ArchiveArgs) -> Result<i32> {
    openable(&args.archive)?;
    let result = verification::verify(&args.archive).with_context(|| damaged(&args.archive))?;
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
    Ok(exit::OK)
}

pub fn extract(args: &ExtractArgs) -> Result<i32> {
    openable(&args.archive)?;
    let done = extraction::extract(&args.archive, &args.target)
        .with_context(|| format!("extraction of {} into {} failed", args.archive.display(), args.target.display()))?;
    let code = if done.whole() { verdict(&done.verification) } else { exit::VERIFY_FAILED };
    if args.json {
        print_json(&done)?;
    } else {
        print_problems("REFUSED", &done.refused)?;
        print_verification(&done.verification, verdict(&done.verification))?;
        out!("extracted {} files ({} bytes) into {}", done.files, done.bytes, args.target.display())?;
    }
    Ok(code)
}

/// An archive that cannot be opened at all is bad input: said before anything is created.
fn openable(archive: &Path) -> Result<()> {
    std::fs::File::open(archive).map(drop).map_err(|error| {
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
