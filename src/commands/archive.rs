//! The commands that read an archive: `verify`, `ls`, `extract`.

use anyhow::{Context, Result};
use serde_json::json;
use sortie_formats::verify::Sidecar;
use sortie_formats::{extract as extraction, reader, verify as verification};

use super::print_json;
use crate::cli::{ArchiveArgs, ExtractArgs};
use crate::exit;

fn open_error(archive: &std::path::Path) -> String {
    format!("cannot read the archive {}", archive.display())
}

pub fn verify(args: &ArchiveArgs) -> Result<i32> {
    let result = verification::verify(&args.archive).map_err(|e| usage(&args.archive, &e))?;
    let code = match (result.intact(), result.complete) {
        (false, _) => exit::VERIFY_FAILED,
        (true, Some(true)) => exit::OK,
        (true, _) => exit::INCOMPLETE,
    };
    if args.json {
        print_json(&json!({"archive": args.archive, "intact": result.intact(), "result": result}))?;
        return Ok(code);
    }
    for problem in &result.problems {
        match &problem.member {
            Some(member) => out!("FAILED  {member}: {}", problem.message)?,
            None => out!("FAILED  {}", problem.message)?,
        }
    }
    if result.more_problems > 0 {
        out!("FAILED  … and {} more problems", result.more_problems)?;
    }
    match &result.sidecar {
        Sidecar::Matched => out!("sidecar   matches")?,
        Sidecar::Missing => out!("sidecar   none beside the archive (transport not checked)")?,
        Sidecar::Mismatch { expected, actual } => {
            out!("FAILED  sidecar: archive sha256 is {actual}, the .sha256 file says {expected}")?
        }
        Sidecar::Unreadable { error } => out!("FAILED  sidecar: {error}")?,
    }
    out!("payload   {} files, {} bytes, {} members read", result.payload_files, result.payload_bytes, result.members)?;
    match code {
        exit::OK => out!("intact    yes: every member matches the manifests")?,
        exit::INCOMPLETE => {
            out!("intact    yes, but the export was incomplete (Sortie-Complete is not true): see sortie/report.json")?
        }
        _ => out!("intact    NO")?,
    }
    Ok(code)
}

pub fn ls(args: &ArchiveArgs) -> Result<i32> {
    let mut stream = reader::open(&args.archive).map_err(|e| usage(&args.archive, &e))?;
    for entry in stream.entries().with_context(|| open_error(&args.archive))? {
        let entry = entry.with_context(|| format!("{} is corrupt", args.archive.display()))?;
        let (path, _) = reader::member_path(&entry);
        let size = entry.header().size().unwrap_or(0);
        let kind = if entry.header().entry_type().is_dir() { "dir" } else { "file" };
        if args.json {
            print_json(&json!({"path": path, "size": size, "type": kind}))?;
        } else {
            out!("{size:>12}  {path}")?;
        }
    }
    Ok(exit::OK)
}

pub fn extract(args: &ExtractArgs) -> Result<i32> {
    let done = extraction::extract(&args.archive, &args.target)
        .with_context(|| format!("extraction of {} into {} failed", args.archive.display(), args.target.display()))?;
    if args.json {
        print_json(&done)?;
    } else {
        for refused in &done.refused {
            out!("REFUSED  {}: {}", refused.member.as_deref().unwrap_or("?"), refused.message)?;
        }
        out!("extracted {} files ({} bytes) into {}", done.files, done.bytes, args.target.display())?;
    }
    Ok(if done.refused.is_empty() { exit::OK } else { exit::VERIFY_FAILED })
}

/// An archive that cannot be opened at all is bad input.
fn usage(archive: &std::path::Path, error: &std::io::Error) -> sortie_core::Error {
    sortie_core::Error::new(
        sortie_core::ErrorKind::InvalidInput,
        format!("{}: {error}; check the archive path", open_error(archive)),
    )
}
