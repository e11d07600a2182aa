//! `export --json` as a scheduler reads it: JSON Lines events on stdout, every line valid
//! against docs/events.schema.json (checked by the reference Python validator, not by
//! Sortie's own types), `start` first, a `source` per source, `status` lines at the pace
//! asked for while a paced export runs, a `failure` per failure (a file no one may read, an
//! S3 ACL refused and a configuration document that keeps failing behind a fault proxy in
//! front of a real moto), and the `summary` last on every exit path: complete, incomplete,
//! refused, stopped by a signal.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::s3_server::S3Server;
use common::*;
use serde_json::Value;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every line of stdout, each checked against the schema by `tests/servers/check_events.py`.
fn events(output: &Output) -> Vec<Value> {
    events_in(&stdout(output))
}

fn events_in(text: &str) -> Vec<Value> {
    let python = repo().join("target/test-tools/jsonschema/bin/python");
    assert!(python.exists(), "jsonschema is not installed: run `bash tests/servers/install` (tests/run does)");
    let mut checker = Command::new(python)
        .arg(repo().join("tests/servers/check_events.py"))
        .arg(repo().join("docs/events.schema.json"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut checker.stdin.take().unwrap(), text.as_bytes()).unwrap();
    let checked = checker.wait_with_output().unwrap();
    assert!(checked.status.success(), "{}\n{text}", all_text(&checked));
    text.lines().map(|line| serde_json::from_str(line).unwrap()).collect()
}

/// The events' types in order, with runs of `status` as one `status…`, for readable asserts.
fn sequence(events: &[Value]) -> Vec<String> {
    let mut types: Vec<String> = Vec::new();
    for event in events {
        let kind = event["type"].as_str().unwrap().to_owned();
        match types.last() {
            Some(last) if kind == "status" && last == "status…" => {}
            _ => types.push(if kind == "status" { "status…".into() } else { kind }),
        }
    }
    types
}

fn of_type<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|event| event["type"] == kind).collect()
}

/// Start first, the summary last and once, time never going back in between.
fn assert_framed(events: &[Value]) {
    assert_eq!(events[0]["type"], "start", "{events:?}");
    assert_eq!(events.last().unwrap()["type"], "summary", "{events:?}");
    assert_eq!(of_type(events, "summary").len(), 1);
    assert_eq!(of_type(events, "start").len(), 1);
    let times: Vec<f64> = events.iter().filter_map(|event| event["seconds_elapsed"].as_f64()).collect();
    assert!(times.windows(2).all(|pair| pair[0] <= pair[1]), "time goes back: {times:?}");
}

/// `sortie export ARGS -o ARCHIVE --json` (ARGS split at spaces), and how long it took.
fn export_json(archive: &Path, args: &str) -> (Output, f64) {
    let started = Instant::now();
    let mut all: Vec<&str> = std::iter::once("export").chain(args.split(' ')).collect();
    all.extend(["-o", archive.to_str().unwrap(), "--json"]);
    let output = run(&all);
    (output, started.elapsed().as_secs_f64())
}

fn count(event: &Value, field: &str) -> u64 {
    event[field].as_u64().unwrap_or_else(|| panic!("{field} in {event}"))
}

#[test]
fn a_paced_export_prints_start_sources_statuses_and_its_summary_last() {
    let work = open_tempdir();
    let archive = work.path().join("paced.tar.zst");
    // 80 items of 100 kB, each read at 1 MB/s, two at a time: about 4 s.
    let paced = "memory://first memory://second --set items=40 --set size=100000 --set bytes_per_sec=1000000";
    let (output, wall) = export_json(&archive, &format!("{paced} --concurrency 2 --status-interval 0.25"));
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    let events = events(&output);
    assert_framed(&events);
    assert_eq!(sequence(&events), ["start", "source", "source", "status…", "summary"]);

    let start = &events[0];
    assert_eq!((start["output"].as_str(), start["status_interval_seconds"].as_f64()), (archive.to_str(), Some(0.25)));
    assert_eq!(start["sortie_version"], env!("CARGO_PKG_VERSION"));
    let sources: Vec<(&str, &str, &str)> = of_type(&events, "source")
        .iter()
        .map(|s| (s["source"].as_str().unwrap(), s["url"].as_str().unwrap(), s["scheme"].as_str().unwrap()))
        .collect();
    assert_eq!(sources, [("mem-first", "memory://first", "memory"), ("mem-second", "memory://second", "memory")]);

    let statuses = of_type(&events, "status");
    // One status per interval, never more: a few of the ~16 intervals may be lost to a
    // loaded machine, none added.
    assert!(statuses.len() >= 4, "{} statuses in {wall:.1} s", statuses.len());
    assert!(statuses.len() as f64 <= wall / 0.25 + 1.0, "{} statuses in {wall:.1} s", statuses.len());
    let gaps: Vec<f64> = statuses
        .windows(2)
        .map(|p| p[1]["seconds_elapsed"].as_f64().unwrap() - p[0]["seconds_elapsed"].as_f64().unwrap())
        .collect();
    assert!(gaps.iter().all(|gap| *gap >= 0.249), "statuses closer than the interval: {gaps:?}");
    for field in ["listed", "fetched", "archived", "archived_bytes", "received_bytes"] {
        let values: Vec<u64> = statuses.iter().map(|s| count(s, field)).collect();
        assert!(values.windows(2).all(|p| p[0] <= p[1]), "{field} goes down: {values:?}");
    }
    // Once the listing is done: the totals, the part done, a rate and the time left.
    let fetching: Vec<&&Value> = statuses.iter().filter(|s| s["phase"] == "fetching").collect();
    assert!(fetching.len() >= 2, "{statuses:?}");
    for status in &fetching {
        assert_eq!((count(status, "to_fetch"), count(status, "total_bytes")), (80, 8_000_000), "{status}");
        assert_eq!((count(status, "listed"), status["listing_done"].as_bool()), (80, Some(true)), "{status}");
        assert!(status["source"].is_null(), "no source is being listed: {status}");
        assert_eq!(count(status, "failed") + count(status, "excluded"), 0);
    }
    let middle =
        fetching.iter().find(|s| count(s, "archived") > 0 && count(s, "archived") < 80).expect("a status mid-way");
    let rate = middle["bytes_per_second"].as_f64().unwrap();
    // Two bodies at 1 MB/s each: a rate near 2 MB/s, and a time left that says so.
    assert!((500_000.0..4_000_000.0).contains(&rate), "{middle}");
    let left = 8_000_000 - count(middle, "received_bytes");
    let remaining = middle["seconds_remaining"].as_f64().unwrap();
    assert!((remaining - left as f64 / rate).abs() < 0.01, "{middle}");
    let fraction = middle["fraction_done"].as_f64().unwrap();
    assert!((fraction - count(middle, "received_bytes") as f64 / 8e6).abs() < 0.001, "{middle}");

    let summary = events.last().unwrap();
    assert_eq!((summary["ok"].as_bool(), summary["exit_code"].as_i64()), (Some(true), Some(0)), "{summary}");
    assert_eq!((count(summary, "archived"), count(summary, "archived_bytes")), (80, 8_000_000));
    assert!(statuses.iter().all(|s| count(s, "archived") <= 80));
    assert_eq!(code(&run(&["verify", archive.to_str().unwrap()])), 0);
}

#[test]
fn a_hundred_thousand_tiny_items_make_one_status_a_second() {
    let work = open_tempdir();
    let archive = work.path().join("tiny.tar.zst");
    let (output, wall) = export_json(&archive, "memory://tiny --set items=100000 --set size=1");
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    let events = events(&output);
    assert_framed(&events);
    let statuses = of_type(&events, "status").len();
    // start, source, summary, and one status per whole second at most.
    assert_eq!(events.len(), 3 + statuses, "{:?}", sequence(&events));
    assert!(statuses as f64 <= wall.floor() + 1.0, "{statuses} statuses in {wall:.1} s");
    assert!(stdout(&output).len() < 2_000 + 600 * statuses, "{} bytes on stdout", stdout(&output).len());
    assert_eq!(count(events.last().unwrap(), "archived"), 100_000);
}

#[test]
fn each_failure_is_an_event_with_the_reports_fields_up_to_a_thousand() {
    let work = open_tempdir();
    let source = work.path().join("locked");
    let names = unreadable_tree(&source, 1003);
    let archive = work.path().join("locked.tar.zst");
    let args = ["export", source.to_str().unwrap(), "-o", archive.to_str().unwrap(), "--retries", "0", "--json"];
    let output = run_unprivileged(&args);
    assert_eq!(code(&output), 3, "{}", all_text(&output));
    let events = events(&output);
    assert_framed(&events);
    let sequence = sequence(&events);
    assert_eq!(&sequence[..2], ["start", "source"], "{sequence:?}");
    let failures = of_type(&events, "failure");
    assert_eq!(failures.len(), 1000, "as many as the summary lists");
    let summary = events.last().unwrap();
    assert_eq!((count(summary, "failed"), count(summary, "more_failures")), (1003, 3));
    let mut ids: Vec<&str> = failures.iter().map(|f| f["id"].as_str().unwrap()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 1000, "each failure once");
    assert!(ids.iter().all(|id| names.iter().any(|n| n == id)), "{ids:?}");
    for failure in &failures {
        assert_eq!(
            (failure["source"].as_str(), failure["kind"].as_str()),
            (Some("fs-locked"), Some("file")),
            "{failure}"
        );
        assert!(failure["error"].as_str().unwrap().contains("ermission denied"), "{failure}");
        assert_eq!(count(failure, "attempts"), 1, "{failure}");
    }
    // The summary's first failures are the same records.
    let listed = summary["failures"].as_array().unwrap();
    let first = listed.iter().find(|f| f["id"] == failures[0]["id"]).expect("in the summary too");
    for field in ["source", "id", "kind", "error", "attempts"] {
        assert_eq!(first[field], failures[0][field], "{field}");
    }
}

/// What no retry cures, behind a fault proxy in front of a real moto: a configuration
/// document that keeps answering 500 and an ACL refused, each a failure event as it happens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_failures_behind_a_fault_proxy_are_events() {
    use common::fault_proxy::{Fault, FaultProxy};

    let server = S3Server::start("moto");
    let objects = (0..30u32).map(|i| (format!("k/{i:02}").into_bytes(), format!("item {i}\n").into_bytes())).collect();
    server.put_objects("sortie-events", &objects);
    let proxy = FaultProxy::start(
        &server.endpoint,
        vec![
            ("/sortie-events/?policyStatus", Fault::Always(500, "InternalError")),
            ("/sortie-events/k/07?acl", Fault::Always(403, "AccessDenied")),
        ],
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("faults.tar.zst");
    let env = [
        ("AWS_ACCESS_KEY_ID", server.access_key.as_str()),
        ("AWS_SECRET_ACCESS_KEY", server.secret_key.as_str()),
        ("AWS_ENDPOINT_URL", proxy.endpoint.as_str()),
    ];
    let args = ["export", "s3://sortie-events", "--retries", "2", "-o", archive.to_str().unwrap(), "--json"];
    let output = tokio::task::block_in_place(|| server.sortie_with(&args, &env));
    assert_eq!(code(&output), 3, "{}", all_text(&output));
    let events = events(&output);
    assert_framed(&events);
    let source = of_type(&events, "source");
    assert_eq!(source.len(), 1);
    assert_eq!((source[0]["source"].as_str(), source[0]["scheme"].as_str()), (Some("s3-sortie-events"), Some("s3")));
    let mut failures: Vec<&Value> = of_type(&events, "failure");
    failures.sort_by_key(|f| f["id"].as_str().unwrap().to_owned());
    let ids: Vec<&str> = failures.iter().map(|f| f["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["?policyStatus", "k/07"], "{failures:?}");
    assert!(failures[0]["error"].as_str().unwrap().contains("gave up after 3 attempts"), "{}", failures[0]);
    assert!(failures[1]["error"].as_str().unwrap().contains("archived without all its metadata"), "{}", failures[1]);
    assert!(failures[1]["error"].as_str().unwrap().contains("AccessDenied"), "{}", failures[1]);
    assert!(failures.iter().all(|f| f["source"] == "s3-sortie-events"));
    let summary = events.last().unwrap();
    assert_eq!((summary["ok"].as_bool(), count(summary, "failed")), (Some(false), 2), "{summary}");
    assert!(!stdout(&output).contains(&server.secret_key), "no secret on stdout");
}

#[test]
fn a_refused_export_still_starts_and_ends_with_its_summary() {
    let work = open_tempdir();
    let missing = work.path().join("missing");
    let archive = work.path().join("out.tar.zst");
    let output = run(&["export", missing.to_str().unwrap(), "-o", archive.to_str().unwrap(), "--json"]);
    assert_eq!(code(&output), 2, "{}", all_text(&output));
    let refused = events(&output);
    assert_eq!(sequence(&refused), ["start", "summary"]);
    let summary = &refused[1];
    assert_eq!((summary["ok"].as_bool(), summary["exit_code"].as_i64()), (Some(false), Some(2)));
    assert_eq!(summary["error"]["kind"], "usage");
    assert!(summary["error"]["message"].as_str().unwrap().contains("missing"), "{summary}");

    // Refused by the command line: nothing started, the summary alone.
    let output = run(&["export", "x", "-o", "x.tar.zst", "--status-interval", "0", "--json"]);
    assert_eq!(code(&output), 2, "{}", all_text(&output));
    let refused = events(&output);
    assert_eq!(sequence(&refused), ["summary"]);
    assert!(refused[0]["error"]["message"].as_str().unwrap().contains("--status-interval"), "{:?}", refused[0]);
    // The interval is of the events: without them, it is refused, not ignored.
    let output = run(&["export", "x", "-o", "x.tar.zst", "--status-interval", "2"]);
    assert_eq!(code(&output), 2, "{}", all_text(&output));
    assert!(stderr(&output).contains("--json"), "{}", stderr(&output));
}

#[test]
fn an_export_stopped_by_sigterm_ends_its_events_with_the_summary() {
    let work = open_tempdir();
    let archive = work.path().join("slow.tar.zst");
    let mut child = sortie()
        .args(["export", "memory://slow", "--set", "items=2000", "--set", "latency_ms=20", "--concurrency", "1"])
        .args(["--status-interval", "0.1", "-o", archive.to_str().unwrap(), "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read as a scheduler would, line by line, and stop the export once a status says items
    // are being archived.
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(child.stdout.take().unwrap()));
    let mut text = String::new();
    let started = Instant::now();
    loop {
        let line = lines.next().expect("the export goes on").unwrap();
        text.push_str(&line);
        text.push('\n');
        let event: Value = serde_json::from_str(&line).unwrap();
        if event["type"] == "status" && count(&event, "archived") > 0 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "never archiving: {text}");
    }
    // SAFETY: kill sends a signal to the child we started.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    lines.for_each(|line| {
        text.push_str(&line.unwrap());
        text.push('\n');
    });
    let output = child.wait_with_output().unwrap();
    assert_eq!(code(&output), 143, "{}\n{text}", all_text(&output));
    let events = events_in(&text);
    assert_framed(&events);
    assert_eq!(sequence(&events), ["start", "source", "status…", "summary"]);
    let statuses = of_type(&events, "status");
    assert!(count(statuses.last().unwrap(), "archived") > 0, "it was exporting: {:?}", statuses.last());
    let summary = events.last().unwrap();
    assert_eq!((summary["exit_code"].as_i64(), summary["error"]["kind"].as_str()), (Some(143), Some("interrupted")));
    assert!(!archive.exists());
}

/// A source whose URL carries credentials (the synthetic provider keeps what it is given)
/// is shown in its event as logs show URLs: user info and secret query values as `***`.
#[test]
fn source_events_never_show_credentials() {
    let work = open_tempdir();
    let archive = work.path().join("hidden.tar.zst");
    let hidden = "memory://user:hunter2@tenant memory://other?X-Amz-Signature=s3cr3t&page=2 --set items=3";
    let (output, _) = export_json(&archive, hidden);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    let events = events(&output);
    let urls: Vec<&str> = of_type(&events, "source").iter().map(|s| s["url"].as_str().unwrap()).collect();
    assert_eq!(urls, ["memory://***@tenant", "memory://other?X-Amz-Signature=***&page=2"]);
}

/// The schema file is the one the docs point to, and it knows every event type the docs
/// describe.
#[test]
fn the_schema_and_its_page_describe_the_same_events() {
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(repo().join("docs/events.schema.json")).unwrap()).unwrap();
    let page = std::fs::read_to_string(repo().join("docs/EVENTS.md")).unwrap();
    let types: Vec<&str> = schema["$defs"]
        .as_object()
        .unwrap()
        .values()
        .filter_map(|definition| definition["properties"]["type"]["const"].as_str())
        .collect();
    for kind in ["start", "source", "status", "failure", "resumed", "summary"] {
        assert!(types.contains(&kind), "{kind} in the schema: {types:?}");
        assert!(page.contains(&format!("### `{kind}`")), "{kind} described in docs/EVENTS.md");
    }
    assert!(std::fs::read_to_string(repo().join("README.md")).unwrap().contains("docs/EVENTS.md"));
}
