//! `export --json`: JSON Lines events on stdout while the export runs, as restic's `--json`
//! prints them, so that a scheduler can follow a run of hours: `start` first, a `source` for
//! each source opened, a `status` every interval (counts, bytes, rate, time left), a
//! `failure` for each of the first failures, `resumed` when the export continues an
//! interrupted one; the command's `summary` object comes last (`commands::print_summary`).
//! docs/EVENTS.md describes each event, docs/events.schema.json is their JSON Schema.
//!
//! The engine's threads only count (atomics) or queue a line; one printer thread writes
//! stdout, so that a slow reader of stdout never holds the archive writer, and a status is
//! one line per interval however many items pass meanwhile.

use std::collections::VecDeque;
use std::io::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;
use sortie_core::progress::{Event, ProgressSink};

/// The failures printed as events, as many as the summary lists: the archive's report names
/// them all, and a status counts them all.
const FAILURES_SHOWN: u64 = 1000;

/// The span over which the rate is measured: long enough to smooth out one large object,
/// short enough that the time left follows a change of pace.
const RATE_WINDOW: Duration = Duration::from_secs(10);

/// The events of one export, printed until the value is finished or dropped.
pub struct JsonEvents {
    shared: Arc<Shared>,
    printer: Option<std::thread::JoinHandle<()>>,
}

struct Shared {
    started: Instant,
    interval: Duration,
    counts: Counts,
    /// Whether anything was listed or received: the export proper has begun.
    begun: AtomicBool,
    state: Mutex<State>,
    /// Wakes the printer when a line is queued or the export ends.
    wake: Condvar,
}

/// What events on any thread count, without a lock.
#[derive(Default)]
struct Counts {
    received_bytes: AtomicU64,
    fetched: AtomicU64,
    archived: AtomicU64,
    archived_bytes: AtomicU64,
    failed: AtomicU64,
    excluded: AtomicU64,
}

#[derive(Default)]
struct State {
    /// Lines waiting for the printer, in the order their events came.
    queue: VecDeque<String>,
    /// The source being listed, and its running totals.
    listing: Option<(String, u64, u64)>,
    /// Items and bytes listed in the sources listed before it.
    listed_before: (u64, u64),
    /// Items and bytes to fetch, once every listing is done.
    to_fetch: Option<(u64, u64)>,
    finishing: bool,
    finished: bool,
}

impl JsonEvents {
    /// Prints the `start` event of an export into `output`, then a status every `interval`
    /// from a thread of its own.
    pub fn start(output: &Path, interval: Duration) -> anyhow::Result<Self> {
        let start = Start {
            event: "start",
            sortie_version: env!("CARGO_PKG_VERSION"),
            started_at: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
            output,
            status_interval_seconds: interval.as_secs_f64(),
        };
        // As for every event, a reader gone away does not stop the export.
        let _ = writeln!(std::io::stdout().lock(), "{}", serde_json::to_string(&start)?);
        let shared = Arc::new(Shared::new(interval));
        let printer = std::thread::Builder::new().name("json-events".into()).spawn({
            let shared = shared.clone();
            move || shared.print_until_finished()
        })?;
        Ok(Self { shared, printer: Some(printer) })
    }

    /// A sink that records the events for the JSON lines, then hands them on to `inner`.
    pub fn sink(&self, inner: ProgressSink) -> ProgressSink {
        let shared = self.shared.clone();
        Arc::new(move |event| {
            shared.record(&event);
            inner(event);
        })
    }

    /// Prints what is queued and stops: the caller's summary is then the last line.
    pub fn finish(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(printer) = self.printer.take() {
            self.shared.state().finished = true;
            self.shared.wake.notify_one();
            let _ = printer.join();
        }
    }
}

impl Drop for JsonEvents {
    /// An export that fails or is stopped ends its events too, before its summary.
    fn drop(&mut self) {
        self.stop();
    }
}

impl Shared {
    fn new(interval: Duration) -> Self {
        Self {
            started: Instant::now(),
            interval,
            counts: Counts::default(),
            begun: AtomicBool::new(false),
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn seconds_elapsed(&self) -> f64 {
        rounded(self.started.elapsed().as_secs_f64())
    }

    fn record(&self, event: &Event) {
        let counts = &self.counts;
        match event {
            Event::Received { bytes } => {
                counts.received_bytes.fetch_add(*bytes, Ordering::Relaxed);
                self.begun.store(true, Ordering::Relaxed);
            }
            Event::Discarded { bytes } => {
                counts.received_bytes.fetch_sub(*bytes, Ordering::Relaxed);
            }
            Event::Fetched => {
                counts.fetched.fetch_add(1, Ordering::Relaxed);
            }
            Event::Archived { bytes } => {
                counts.archived.fetch_add(1, Ordering::Relaxed);
                counts.archived_bytes.fetch_add(*bytes, Ordering::Relaxed);
            }
            Event::Excluded => {
                counts.excluded.fetch_add(1, Ordering::Relaxed);
            }
            Event::Failed { source, id, kind, error, attempts } => {
                if counts.failed.fetch_add(1, Ordering::Relaxed) < FAILURES_SHOWN {
                    self.queue(|seconds_elapsed| Failure {
                        event: "failure",
                        seconds_elapsed,
                        source,
                        id,
                        kind,
                        error,
                        attempts,
                    });
                }
            }
            Event::SourceOpened { source, url, scheme } => {
                let url = &sortie_http::shown_url(url);
                self.queue(|seconds_elapsed| SourceOpened { event: "source", seconds_elapsed, source, url, scheme });
            }
            Event::Resumed { archived, archived_bytes, runs } => {
                counts.archived.fetch_add(*archived, Ordering::Relaxed);
                counts.archived_bytes.fetch_add(*archived_bytes, Ordering::Relaxed);
                let (archived, archived_bytes, runs) = (*archived, *archived_bytes, *runs);
                self.queue(|seconds_elapsed| Resumed {
                    event: "resumed",
                    seconds_elapsed,
                    archived,
                    archived_bytes,
                    runs,
                });
            }
            Event::Listed { source, items, bytes } => {
                self.begun.store(true, Ordering::Relaxed);
                let mut state = self.state();
                match &mut state.listing {
                    Some((current, listed, listed_bytes)) if current == source => {
                        (*listed, *listed_bytes) = (*items, *bytes);
                    }
                    listing => {
                        if let Some((_, items, bytes)) = listing.replace((source.clone(), *items, *bytes)) {
                            state.listed_before.0 += items;
                            state.listed_before.1 += bytes;
                        }
                    }
                }
            }
            Event::ListingDone { items, bytes } => {
                self.state().to_fetch = Some((*items, *bytes));
            }
            Event::Finishing => self.state().finishing = true,
            Event::Retrying { .. } => {}
        }
    }

    /// Queues the line of the event `at` makes of the time elapsed, and wakes the printer.
    /// The time is taken under the lock that orders the lines, so that it never goes back
    /// from one line to the next.
    fn queue<T: Serialize>(&self, at: impl FnOnce(f64) -> T) {
        let mut state = self.state();
        let Ok(line) = serde_json::to_string(&at(self.seconds_elapsed())) else { return };
        state.queue.push_back(line);
        drop(state);
        self.wake.notify_one();
    }

    /// The printer: queued lines as they come, a status every interval, until finished.
    fn print_until_finished(&self) {
        let mut rate = Rate { samples: VecDeque::from([(self.started, 0)]) };
        let mut next_status = self.started + self.interval;
        loop {
            let mut state = self.state();
            while state.queue.is_empty() && !state.finished && Instant::now() < next_status {
                let wait = next_status.saturating_duration_since(Instant::now());
                state = self.wake.wait_timeout(state, wait).unwrap_or_else(std::sync::PoisonError::into_inner).0;
            }
            let mut lines: Vec<String> = state.queue.drain(..).collect();
            let finished = state.finished;
            let now = Instant::now();
            if !finished && now >= next_status {
                let status = self.status(&state, &mut rate, now);
                lines.extend(serde_json::to_string(&status).ok());
                // At most one status an interval, even after a late one (a stalled stdout).
                next_status = now + self.interval;
            }
            drop(state);
            // A reader that went away loses the events; the export goes on, and its
            // summary's write ends the command quietly (a broken pipe is success).
            let mut stdout = std::io::stdout().lock();
            for line in &lines {
                let _ = writeln!(stdout, "{line}");
            }
            let _ = stdout.flush();
            if finished {
                return;
            }
        }
    }

    fn status<'a>(&self, state: &'a State, rate: &mut Rate, now: Instant) -> Status<'a> {
        let counts = &self.counts;
        let received_bytes = counts.received_bytes.load(Ordering::Relaxed);
        let bytes_per_second = rate.observe(now, received_bytes);
        let current = state.listing.as_ref();
        let (listed, listed_bytes) = current.map_or(state.listed_before, |(_, items, bytes)| {
            (state.listed_before.0 + items, state.listed_before.1 + bytes)
        });
        let phase = match (state.finishing, state.to_fetch.is_some(), self.begun.load(Ordering::Relaxed)) {
            (true, ..) => "finishing",
            (_, true, _) => "fetching",
            (_, _, true) => "listing",
            _ => "starting",
        };
        let total_bytes = state.to_fetch.map(|(_, bytes)| bytes);
        let remaining = total_bytes.map(|total| total.saturating_sub(received_bytes));
        Status {
            event: "status",
            seconds_elapsed: rounded(now.duration_since(self.started).as_secs_f64()),
            phase,
            source: current.filter(|_| state.to_fetch.is_none()).map(|(source, ..)| source.as_str()),
            listed,
            listed_bytes,
            listing_done: state.to_fetch.is_some(),
            to_fetch: state.to_fetch.map(|(items, _)| items),
            total_bytes,
            fetched: counts.fetched.load(Ordering::Relaxed),
            archived: counts.archived.load(Ordering::Relaxed),
            archived_bytes: counts.archived_bytes.load(Ordering::Relaxed),
            failed: counts.failed.load(Ordering::Relaxed),
            excluded: counts.excluded.load(Ordering::Relaxed),
            received_bytes,
            bytes_per_second: rounded(bytes_per_second),
            fraction_done: total_bytes
                .map(|total| if total == 0 { 1.0 } else { rounded((received_bytes.min(total) as f64) / total as f64) }),
            seconds_remaining: match remaining {
                Some(0) => Some(0.0),
                Some(left) if bytes_per_second > 0.0 => Some(rounded(left as f64 / bytes_per_second)),
                _ => None,
            },
        }
    }
}

/// The rate of bytes received over the last [`RATE_WINDOW`], from samples of the bytes
/// received so far (the first one at the start).
struct Rate {
    samples: VecDeque<(Instant, u64)>,
}

impl Rate {
    fn observe(&mut self, now: Instant, bytes: u64) -> f64 {
        self.samples.push_back((now, bytes));
        while self.samples.len() > 2 && now.duration_since(self.samples[1].0) >= RATE_WINDOW {
            self.samples.pop_front();
        }
        let (since, before) = self.samples[0];
        let seconds = now.duration_since(since).as_secs_f64();
        if seconds > 0.0 { bytes.saturating_sub(before) as f64 / seconds } else { 0.0 }
    }
}

/// Three decimals are enough for seconds and rates, and keep the lines short.
fn rounded(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

#[derive(Serialize)]
struct Start<'a> {
    #[serde(rename = "type")]
    event: &'static str,
    sortie_version: &'static str,
    started_at: String,
    output: &'a Path,
    status_interval_seconds: f64,
}

#[derive(Serialize)]
struct SourceOpened<'a> {
    #[serde(rename = "type")]
    event: &'static str,
    seconds_elapsed: f64,
    source: &'a str,
    url: &'a str,
    scheme: &'a str,
}

#[derive(Serialize)]
struct Failure<'a> {
    #[serde(rename = "type")]
    event: &'static str,
    seconds_elapsed: f64,
    source: &'a str,
    id: &'a str,
    /// The item's kind, or "listing", as in the report.
    kind: &'a str,
    error: &'a str,
    attempts: &'a u32,
}

#[derive(Serialize)]
struct Resumed {
    #[serde(rename = "type")]
    event: &'static str,
    seconds_elapsed: f64,
    archived: u64,
    archived_bytes: u64,
    runs: u32,
}

#[derive(Serialize)]
struct Status<'a> {
    #[serde(rename = "type")]
    event: &'static str,
    seconds_elapsed: f64,
    phase: &'static str,
    source: Option<&'a str>,
    listed: u64,
    listed_bytes: u64,
    listing_done: bool,
    to_fetch: Option<u64>,
    total_bytes: Option<u64>,
    fetched: u64,
    archived: u64,
    archived_bytes: u64,
    failed: u64,
    excluded: u64,
    received_bytes: u64,
    bytes_per_second: f64,
    fraction_done: Option<f64>,
    seconds_remaining: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status_of(shared: &Shared) -> serde_json::Value {
        let mut rate = Rate { samples: VecDeque::from([(shared.started, 0)]) };
        let state = shared.state();
        serde_json::to_value(shared.status(&state, &mut rate, Instant::now())).unwrap()
    }

    fn queued(shared: &Shared) -> Vec<serde_json::Value> {
        shared.state().queue.drain(..).map(|line| serde_json::from_str(&line).unwrap()).collect()
    }

    /// What `--resume` reports (helper code in `export` sends it once the journal is read):
    /// one `resumed` line, and earlier runs' items counted as archived from then on.
    #[test]
    fn a_resumed_export_is_one_line_and_counts_what_earlier_runs_archived() {
        let shared = Shared::new(Duration::from_secs(1));
        shared.record(&Event::Resumed { archived: 7, archived_bytes: 700, runs: 2 });
        shared.record(&Event::Archived { bytes: 5 });
        let lines = queued(&shared);
        assert_eq!(lines.len(), 1);
        assert_eq!(
            (&lines[0]["type"], &lines[0]["archived"], &lines[0]["archived_bytes"], &lines[0]["runs"]),
            (&"resumed".into(), &7.into(), &700.into(), &2.into())
        );
        let status = status_of(&shared);
        assert_eq!((&status["archived"], &status["archived_bytes"]), (&8.into(), &705.into()));
    }

    /// The `resumed` line no export of this version makes yet is checked here, with the
    /// other lines the sink makes, against the schema by the validator tests/json_events.rs
    /// uses.
    #[test]
    fn every_line_the_sink_makes_matches_the_schema() {
        let shared = Shared::new(Duration::from_secs(1));
        let (source, url, scheme) = ("s3-b".into(), "s3://b at http://u:p@h".into(), "s3".into());
        shared.record(&Event::SourceOpened { source, url, scheme });
        shared.record(&Event::Resumed { archived: 7, archived_bytes: 700, runs: 2 });
        let (source, id, kind, error) = ("s3-b".into(), "k".into(), "object".into(), "refused".into());
        shared.record(&Event::Failed { source, id, kind, error, attempts: 3 });
        let mut lines: Vec<String> = shared.state().queue.drain(..).collect();
        lines.push(serde_json::to_string(&status_of(&shared)).unwrap());
        assert!(lines[0].contains(r#""url":"s3://b at http://***@h""#), "{}", lines[0]);
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let python = root.join("target/test-tools/jsonschema/bin/python");
        assert!(python.exists(), "jsonschema is not installed: run `bash tests/servers/install`");
        let mut checker = std::process::Command::new(python)
            .arg(root.join("tests/servers/check_events.py"))
            .arg(root.join("docs/events.schema.json"))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        checker.stdin.take().unwrap().write_all(lines.join("\n").as_bytes()).unwrap();
        let checked = checker.wait_with_output().unwrap();
        assert!(checked.status.success(), "{}", String::from_utf8_lossy(&checked.stdout));
    }

    #[test]
    fn listing_totals_add_up_over_the_sources_listed_one_after_the_other() {
        let shared = Shared::new(Duration::from_secs(1));
        assert_eq!(status_of(&shared)["phase"], "starting");
        for (source, items, bytes) in [("a", 10, 100), ("a", 20, 200), ("b", 5, 50)] {
            shared.record(&Event::Listed { source: source.into(), items, bytes });
        }
        let status = status_of(&shared);
        assert_eq!((&status["listed"], &status["listed_bytes"]), (&25.into(), &250.into()));
        assert_eq!(
            (&status["phase"], &status["source"], &status["total_bytes"]),
            (&"listing".into(), &"b".into(), &None::<u64>.into())
        );
        shared.record(&Event::ListingDone { items: 25, bytes: 250 });
        shared.record(&Event::Received { bytes: 100 });
        shared.record(&Event::Received { bytes: 60 });
        shared.record(&Event::Discarded { bytes: 60 });
        let status = status_of(&shared);
        assert_eq!((&status["phase"], &status["source"]), (&"fetching".into(), &serde_json::Value::Null));
        assert_eq!((&status["received_bytes"], &status["fraction_done"]), (&100.into(), &0.4.into()));
        shared.record(&Event::Finishing);
        assert_eq!(status_of(&shared)["phase"], "finishing");
    }

    #[test]
    fn failures_beyond_the_first_thousand_are_counted_not_printed() {
        let shared = Shared::new(Duration::from_secs(1));
        for n in 0..FAILURES_SHOWN + 5 {
            let (source, id, kind, error) = ("s".into(), n.to_string(), "object".into(), "refused".into());
            shared.record(&Event::Failed { source, id, kind, error, attempts: 1 });
        }
        assert_eq!(queued(&shared).len() as u64, FAILURES_SHOWN);
        assert_eq!(status_of(&shared)["failed"], FAILURES_SHOWN + 5);
    }

    #[test]
    fn the_rate_is_measured_over_the_last_ten_seconds() {
        let start = Instant::now();
        let mut rate = Rate { samples: VecDeque::from([(start, 0)]) };
        let at = |seconds: u64| start + Duration::from_secs(seconds);
        assert_eq!(rate.observe(at(1), 1_000), 1_000.0);
        for second in 2..=20 {
            rate.observe(at(second), 1_000 * second.min(10));
        }
        // Nothing arrived during the last ten seconds.
        assert_eq!(rate.observe(at(21), 10_000), 0.0);
    }
}
