//! Progress on stderr: a bar on a terminal, nothing when piped or with `--quiet` (failures
//! are logged all the same, see `logging`). Every line fits the terminal's width: the
//! variable part (a source's name, the bar itself) takes what the rest leaves.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::time::Duration;

use indicatif::{HumanBytes, ProgressBar, ProgressStyle};
use sortie_core::progress::{Event, ProgressSink};

/// Whether bars are drawn: set once by `main`.
static DRAWN: OnceLock<bool> = OnceLock::new();

/// How often a spinner turns, and an archive's reading is looked at.
const TICK: Duration = Duration::from_millis(120);

/// Draws bars from now on when stderr is a terminal, unless `quiet`.
pub fn configure(quiet: bool) {
    let _ = DRAWN.set(!quiet && std::io::stderr().is_terminal());
}

fn drawn() -> bool {
    DRAWN.get().copied().unwrap_or(false)
}

/// `bar` drawn from now on, its spinner turning even while nothing arrives.
fn started(bar: ProgressBar) -> ProgressBar {
    bar.enable_steady_tick(TICK);
    bar
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template).expect("valid template").progress_chars("=> ")
}

/// A bar of bytes done out of a known total, with the rate and the time left.
const BAR: &str =
    "{spinner:.green} {prefix}[{wide_bar:.cyan/blue}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta} {msg}";

/// What an export's bar shows: the listing alone, then the bytes arriving while the
/// listing goes on, then, once the listing is done, a bar out of the bytes listed.
#[derive(PartialEq)]
enum Phase {
    Listing,
    Receiving,
    Fetching,
}

/// A sink that draws an export's (or an inventory's) progress when `enabled` and bars are
/// drawn: the listing's running count, and bytes as they arrive; once the listing is done,
/// a bar out of the bytes listed, the time left, and items done out of items to fetch.
pub fn sink(enabled: bool) -> (ProgressSink, ProgressBar) {
    let bar = if enabled && drawn() {
        started(ProgressBar::new_spinner().with_style(style("{spinner:.green} [{elapsed_precise}] {wide_msg}")))
    } else {
        ProgressBar::hidden()
    };
    let shown = bar.clone();
    let phase = Mutex::new(Phase::Listing);
    let fetched = AtomicU64::new(0);
    let to_fetch = AtomicU64::new(0);
    let items = move |done: u64, total: u64| format!("{done}/{total} items");
    let sink: ProgressSink = Arc::new(move |event| match event {
        Event::Listed { source, items, bytes } => {
            shown.set_message(format!("listing {source}: {items} items, {}", HumanBytes(bytes)));
        }
        Event::ListingDone { items: total, bytes } => {
            to_fetch.store(total, Ordering::SeqCst);
            shown.set_message(items(fetched.load(Ordering::SeqCst), total));
            shown.set_length(bytes);
            let mut phase = phase.lock().expect("phase");
            *phase = Phase::Fetching;
            shown.set_style(style(BAR));
        }
        Event::Received { bytes } => {
            let mut phase = phase.lock().expect("phase");
            if *phase == Phase::Listing {
                *phase = Phase::Receiving;
                shown.set_style(style("{spinner:.green} {bytes} {binary_bytes_per_sec} {wide_msg}"));
            }
            shown.inc(bytes);
        }
        Event::Discarded { bytes } => shown.dec(bytes),
        Event::Fetched => {
            let done = fetched.fetch_add(1, Ordering::SeqCst) + 1;
            let total = to_fetch.load(Ordering::SeqCst);
            if total > 0 {
                shown.set_message(items(done, total));
            }
        }
        // Bytes are counted as they arrive (`Received`), items once fetched.
        Event::Archived { .. } => {}
        Event::Failed { id, error, .. } if id.is_empty() => shown.suspend(|| tracing::warn!("failed: {error}")),
        Event::Failed { id, error, .. } => shown.suspend(|| tracing::warn!("failed: {id}: {error}")),
        Event::Retrying { id, retry, error } => tracing::info!("retry {retry} of {id}: {error}"),
        Event::Finishing => shown.set_message("writing manifests"),
        // The log says which sources are opened; the bar counts bytes, not exclusions; a
        // resumed export's bar counts what this run fetches.
        Event::SourceOpened { .. } | Event::Excluded | Event::Resumed { .. } => {}
    });
    (sink, bar)
}

/// The progress of a command reading `archive` (`verify`, `extract`, named by `verb`):
/// bytes of the file read out of its size, until the value is dropped.
///
/// The archive readers take a path and read the file themselves; the position the kernel
/// keeps for the open file (`/proc/self/fdinfo`, Linux) says how far they are without a
/// progress parameter through every layer of the readers. Elsewhere the bar stays at 0.
pub struct Reading {
    bar: ProgressBar,
    /// Ends the thread that follows the reading (by being dropped), and that thread.
    follower: Option<(mpsc::Sender<()>, std::thread::JoinHandle<()>)>,
}

pub fn reading(archive: &Path, verb: &str) -> Reading {
    let meta = match std::fs::metadata(archive) {
        Ok(meta) if drawn() => meta,
        _ => return Reading { bar: ProgressBar::hidden(), follower: None },
    };
    let bar = started(ProgressBar::new(meta.len()).with_style(style(BAR)).with_prefix(format!("{verb} ")));
    let (stop, stopped) = mpsc::channel::<()>();
    let shown = bar.clone();
    let file = {
        use std::os::unix::fs::MetadataExt;
        (meta.dev(), meta.ino())
    };
    let follower = std::thread::spawn(move || {
        let mut fd = None;
        while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(TICK) {
            fd = fd.filter(|&fd| is_open_file(fd, file)).or_else(|| find_open_file(file));
            if let Some(position) = fd.and_then(position) {
                shown.set_position(position);
            }
        }
    });
    Reading { bar, follower: Some((stop, follower)) }
}

impl Drop for Reading {
    /// The follower stops first, so that it cannot draw the bar again once cleared.
    fn drop(&mut self) {
        if let Some((stop, follower)) = self.follower.take() {
            drop(stop);
            let _ = follower.join();
        }
        self.bar.finish_and_clear();
    }
}

/// The descriptor of this process that has the file `(device, inode)` open.
fn find_open_file(file: (u64, u64)) -> Option<u32> {
    std::fs::read_dir("/proc/self/fd")
        .ok()?
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .find(|&fd| is_open_file(fd, file))
}

fn is_open_file(fd: u32, file: (u64, u64)) -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(format!("/proc/self/fd/{fd}")).is_ok_and(|meta| (meta.dev(), meta.ino()) == file)
}

/// The offset of descriptor `fd`, from its `pos:` line in `/proc/self/fdinfo/FD`.
fn position(fd: u32) -> Option<u64> {
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")).ok()?;
    info.lines().find_map(|line| line.strip_prefix("pos:")).and_then(|pos| pos.trim().parse().ok())
}
