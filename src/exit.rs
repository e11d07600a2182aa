//! Exit codes, one table for every command (README, `sortie --help`).

use sortie_core::ErrorKind;

/// The export is complete, the archive is intact, the command did what was asked.
pub const OK: i32 = 0;
/// Nothing usable was produced: a runtime failure (I/O, disk full, unreachable source).
pub const FAILED: i32 = 1;
/// The command line or an input is wrong; nothing was transferred.
pub const USAGE: i32 = 2;
/// The archive was written but is incomplete (`Sortie-Complete: false`); see its report.
pub const INCOMPLETE: i32 = 3;
/// Verification found a problem (the archive is damaged, truncated or not a Sortie
/// archive), or extraction refused a member.
pub const VERIFY_FAILED: i32 = 4;
/// A plugin could not be loaded (not a plugin, another ABI, writable by others, a scheme
/// provided twice); nothing was transferred.
pub const PLUGIN: i32 = 5;
/// `verify --against`: the sources no longer hold what the archive holds (an item changed,
/// appeared or disappeared since the export).
pub const SOURCE_CHANGED: i32 = 6;
/// The archive is written and complete, but evidence asked for could not be had (a
/// time-stamping authority that did not answer): it is not called timestamped.
pub const UNSEALED: i32 = 7;
/// Interrupted (Ctrl-C, SIGINT); an export keeps its partial archive for `--resume`.
pub const INTERRUPTED: i32 = 130;
/// Stopped by SIGTERM; an export keeps its partial archive for `--resume`.
pub const TERMINATED: i32 = 143;
/// Stopped by SIGHUP; an export keeps its partial archive for `--resume`.
pub const HUNG_UP: i32 = 129;

/// The table shown by `--help`.
pub const TABLE: &str = "Exit codes:
  0    complete: the export is complete / the archive is intact
  1    failed: nothing usable was written (I/O error, disk full, unreachable source)
  2    usage: bad arguments or input (missing source, unknown scheme, output exists)
  3    incomplete: an archive was written with Sortie-Complete: false (see sortie/report.json)
  4    verification failed: the archive is damaged, truncated, not a Sortie archive, a
       signature or time stamp does not hold, or extraction refused a member
  5    plugin: a plugin could not be loaded (not a plugin, another ABI major, writable by
       other users, a scheme provided twice); nothing was transferred
  6    source changed: `verify --against` found items changed, new or gone since the export
  7    unsealed: the archive is complete and kept (and signed, if asked), but a time stamp
       asked for with --timestamp could not be had; it is not timestamped
  129  stopped by SIGHUP, 130 by Ctrl-C (SIGINT), 143 by SIGTERM: no archive under its final
       name; an export keeps its partial and journal: run it again with --resume";

/// A command stopped by a signal: what was not finished is removed (an export keeps its
/// partial archive and journal for `--resume`), and the exit code is
/// 128 + the signal's number, as a shell reports a process the signal killed.
#[derive(Debug)]
pub struct Stopped {
    /// SIGINT, SIGTERM or SIGHUP.
    pub signal: &'static str,
    /// [`INTERRUPTED`], [`TERMINATED`] or [`HUNG_UP`].
    pub code: i32,
}

impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "interrupted by {}", self.signal)
    }
}

impl std::error::Error for Stopped {}

/// What an exit code means, in one word: `error.kind` of the JSON a failed command prints.
pub fn kind(code: i32) -> &'static str {
    match code {
        OK => "ok",
        USAGE => "usage",
        INCOMPLETE => "incomplete",
        VERIFY_FAILED => "verify_failed",
        PLUGIN => "plugin",
        SOURCE_CHANGED => "source_changed",
        UNSEALED => "unsealed",
        INTERRUPTED | TERMINATED | HUNG_UP => "interrupted",
        _ => "failed",
    }
}

/// Maps an error that stopped a command to its exit code.
pub fn code_for(error: &anyhow::Error) -> i32 {
    if let Some(stopped) = error.chain().find_map(|cause| cause.downcast_ref::<Stopped>()) {
        return stopped.code;
    }
    let archive_fault = |cause: &(dyn std::error::Error + 'static)| {
        cause.downcast_ref::<std::io::Error>().is_some_and(sortie_formats::reader::ArchiveError::is_archive_fault)
    };
    if error.chain().any(archive_fault) {
        return VERIFY_FAILED;
    }
    if error.chain().any(|cause| cause.is::<sortie_core::plugin::LoadError>()) {
        return PLUGIN;
    }
    match error.chain().find_map(|cause| cause.downcast_ref::<sortie_core::Error>()).map(|e| e.kind()) {
        Some(ErrorKind::InvalidInput) => USAGE,
        _ => FAILED,
    }
}
