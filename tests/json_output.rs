//! `--json` on every exit path: a command that fails still prints exactly one JSON object
//! on stdout (`ok`, `exit_code`, `error.kind`, `error.message`), its message on stderr —
//! `export`'s last, typed `summary`, after its events (tests/json_events.rs); an incomplete
//! export's JSON names its failures; providers JSON gives examples as a list.

mod common;

use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

/// The outcome on stdout, checked against the exit code and the error kind: the one JSON
/// object of a command, or the `summary` that ends `export`'s events.
fn failure(output: &Output, exit_code: i32, kind: &str) -> Value {
    let text = stdout(output);
    let value = json_outcome(output);
    if value.get("type").is_some() {
        assert_eq!(value["type"], "summary", "{value}");
        let lines: Vec<Value> = text.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
        assert!(lines.len() == 1 || lines[0]["type"] == "start", "start first: {text}");
        assert_eq!(lines.iter().filter(|line| line["type"] == "summary").count(), 1, "one summary: {text}");
    } else {
        assert_eq!(text.lines().count(), 1, "one line of JSON expected on stdout: {}", all_text(output));
    }
    assert_eq!(code(output), exit_code, "{}", all_text(output));
    assert_eq!(value["ok"], false, "{value}");
    assert_eq!(value["exit_code"], exit_code, "{value}");
    assert_eq!(value["error"]["kind"], kind, "{value}");
    let message = value["error"]["message"].as_str().unwrap();
    assert!(stderr(output).contains(message), "the message is on stderr too: {}", stderr(output));
    value
}

fn message(value: &Value) -> &str {
    value["error"]["message"].as_str().unwrap()
}

#[test]
fn bad_input_is_a_usage_failure_for_every_source_command() {
    let work = open_tempdir();
    let missing = work.path().join("missing");
    let missing = missing.to_str().unwrap();
    let archive = work.path().join("out.tar.zst");
    for args in [
        vec!["export", missing, "-o", archive.to_str().unwrap(), "--json"],
        vec!["inventory", missing, "--json"],
        vec!["plan", missing, "--json"],
        vec!["plan", "nope://x", "--json"],
    ] {
        let value = failure(&run(&args), 2, "usage");
        assert!(message(&value).contains("missing") || message(&value).contains("nope"), "{args:?}: {value}");
    }
    assert!(!archive.exists());
}

#[test]
fn archive_and_provider_commands_fail_in_json_too() {
    let work = open_tempdir();
    let missing = work.path().join("missing.tar.zst");
    let missing = missing.to_str().unwrap();
    for args in [
        vec!["verify", missing, "--json"],
        vec!["ls", missing, "--json"],
        vec!["extract", missing, work.path().join("x").to_str().unwrap(), "--json"],
    ] {
        let value = failure(&run(&args), 2, "usage");
        assert!(message(&value).contains("missing.tar.zst"), "{args:?}: {value}");
    }
    let value = failure(&run(&["providers", "nope", "--json"]), 2, "usage");
    assert!(message(&value).contains("'nope'"), "{value}");
}

#[test]
fn a_refused_command_line_is_a_usage_failure() {
    let output = run(&["export", "x", "-o", "x.tar.zst", "--concurrency", "0", "--json"]);
    let value = failure(&output, 2, "usage");
    assert!(message(&value).contains("--concurrency"), "{value}");
    // Without --json, stdout stays empty.
    let output = run(&["export", "x", "-o", "x.tar.zst", "--concurrency", "0"]);
    assert_eq!((code(&output), stdout(&output)), (2, String::new()));
}

#[test]
fn a_missing_required_argument_is_named_in_json() {
    // clap says which argument is missing on the line after its message.
    let output = run(&["export", "x", "--json"]);
    assert_eq!(code(&output), 2, "{}", all_text(&output));
    let value: Value = serde_json::from_str(&stdout(&output)).unwrap_or_else(|e| panic!("not JSON ({e})"));
    assert_eq!((&value["ok"], &value["error"]["kind"]), (&Value::from(false), &Value::from("usage")), "{value}");
    assert_eq!(value["type"], "summary", "export's outcome is typed even when clap refuses: {value}");
    let message = message(&value);
    assert!(message.contains("not provided") && message.contains("--output <FILE>"), "{value}");
    assert!(!message.contains("Usage:"), "the usage lines stay on stderr: {value}");
}

#[test]
fn a_plugin_that_cannot_be_loaded_is_a_plugin_failure() {
    let work = open_tempdir();
    let plugin = work.path().join("libsortie_plugin_text.so");
    std::fs::write(&plugin, b"not a library").unwrap();
    let output = run(&["--plugin", plugin.to_str().unwrap(), "inventory", work.path().to_str().unwrap(), "--json"]);
    let value = failure(&output, 5, "plugin");
    assert!(message(&value).contains("libsortie_plugin_text.so"), "{value}");
}

#[test]
fn an_unreachable_source_is_a_runtime_failure() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let output = sortie()
        .args(["inventory", "s3://bucket", "--s3-endpoint", &endpoint, "--retries", "0", "--json"])
        .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
        .env("AWS_SECRET_ACCESS_KEY", "not-a-real-secret")
        .output()
        .unwrap();
    let value = failure(&output, 1, "failed");
    assert!(message(&value).contains(&endpoint), "{value}");
}

#[test]
fn an_interrupted_export_says_so_in_json() {
    let work = open_tempdir();
    let archive = work.path().join("slow.tar.zst");
    let partial = work.path().join("slow.tar.zst.partial");
    let child = sortie()
        .args(["export", "memory://slow", "--set", "items=2000", "--set", "latency_ms=20", "--concurrency", "1"])
        .args(["-o", archive.to_str().unwrap(), "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !partial.exists() {
        assert!(started.elapsed() < Duration::from_secs(60), "the export never started writing");
        std::thread::sleep(Duration::from_millis(5));
    }
    // SAFETY: kill sends a signal to the child we started.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    let output = child.wait_with_output().unwrap();
    let value = failure(&output, 143, "interrupted");
    assert!(message(&value).contains("SIGTERM") && message(&value).contains("--resume"), "{value}");
    assert!(!archive.exists() && partial.exists());
}

/// Waits until process `pid` catches SIGTERM (its handler is installed, `SigCgt` in
/// /proc/PID/status), then sends it.
fn terminate_once_caught(pid: u32) {
    let started = Instant::now();
    loop {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let caught = status.lines().find_map(|line| line.strip_prefix("SigCgt:")).unwrap().trim();
        if u64::from_str_radix(caught, 16).unwrap() & (1 << (libc::SIGTERM - 1)) != 0 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "sortie never listened to SIGTERM");
        std::thread::sleep(Duration::from_millis(5));
    }
    // SAFETY: kill sends a signal to a child the caller started.
    assert_eq!(unsafe { libc::kill(pid as i32, libc::SIGTERM) }, 0);
}

#[test]
fn reading_and_listing_commands_stopped_by_a_signal_say_so_in_json() {
    let work = open_tempdir();
    // An archive that never ends: a fifo nobody writes to, held open.
    let fifo = work.path().join("endless.tar.zst");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    for command in ["verify", "report"] {
        let child = sortie()
            .args([command, fifo.to_str().unwrap(), "--json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let writer = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
        terminate_once_caught(child.id());
        let output = child.wait_with_output().unwrap();
        drop(writer);
        let value = failure(&output, 143, "interrupted");
        assert!(message(&value).contains("SIGTERM"), "{command}: {value}");
    }
    // A listing that would go on for seconds, answered at once page after page.
    let child = sortie()
        .args(["inventory", "memory://long", "--set", "items=3000000", "--list-page-size", "1", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    terminate_once_caught(child.id());
    let value = failure(&child.wait_with_output().unwrap(), 143, "interrupted");
    assert!(message(&value).contains("SIGTERM"), "{value}");
}

#[test]
fn an_incomplete_export_lists_its_failures_up_to_a_bound() {
    let work = open_tempdir();
    let source = work.path().join("locked");
    let names = unreadable_tree(&source, 1003);
    let archive = work.path().join("locked.tar.zst");
    let output = run_unprivileged(&[
        "export",
        source.to_str().unwrap(),
        "-o",
        archive.to_str().unwrap(),
        "--retries",
        "0",
        "--json",
    ]);
    assert_eq!(code(&output), 3, "{}", all_text(&output));
    let summary = json_outcome(&output);
    assert_eq!((summary["ok"].clone(), summary["exit_code"].clone()), (false.into(), 3.into()), "{summary}");
    assert_eq!(summary["complete"], false);
    assert_eq!(summary["failed"], 1003);
    let failures = summary["failures"].as_array().unwrap();
    assert_eq!((failures.len(), summary["more_failures"].as_u64()), (1000, Some(3)));
    let mut ids: Vec<&str> = failures.iter().map(|f| f["id"].as_str().unwrap()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 1000, "each failure once");
    assert!(ids.iter().all(|id| names.iter().any(|n| n == id)), "{ids:?}");
    assert!(failures[0]["error"].as_str().unwrap().contains("ermission denied"), "{}", failures[0]);
    assert_eq!(failures[0]["source"], "fs-locked");
}

#[test]
fn a_complete_export_says_ok() {
    let work = open_tempdir();
    write_tree(&work.path().join("src"), &[("a.txt", b"a")]);
    let (_, output) = export(work.path(), "out", &[&work.path().join("src")], &["--json"]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    let summary = json_outcome(&output);
    assert_eq!((summary["ok"].clone(), summary["exit_code"].clone()), (true.into(), 0.into()));
    assert_eq!(summary["type"], "summary");
    assert_eq!((summary["failures"].clone(), summary["more_failures"].clone()), (Value::Array(vec![]), 0.into()));
    assert_eq!(summary["warnings"], Value::Array(vec![]));
}

#[test]
fn providers_json_gives_examples_as_a_list() {
    let output = run(&["providers", "--json"]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    let providers: Value = serde_json::from_str(&stdout(&output)).unwrap();
    let file = providers.as_array().unwrap().iter().find(|p| p["scheme"] == "file").unwrap();
    assert_eq!(file["examples"], serde_json::json!(["examples/sample-tenant", "file:///srv/export"]));
    for provider in providers.as_array().unwrap() {
        let examples = provider["examples"].as_array().unwrap();
        assert!(!examples.is_empty() && examples.iter().all(|e| !e.as_str().unwrap().contains(" or ")), "{provider}");
    }
}

#[test]
fn verify_extract_and_report_say_ok_and_exit_code_like_export() {
    let work = open_tempdir();
    let source = work.path().join("src");
    write_tree(&source, &[("a.txt", b"alpha"), ("d/b.txt", b"beta")]);
    let (archive, output) = export(work.path(), "bag", &[&source], &[]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    let archive = archive.to_str().unwrap();
    let target = work.path().join("out");
    let outcome = |args: &[&str], expected: i32| {
        let output = run(args);
        assert_eq!(code(&output), expected, "{args:?}: {}", all_text(&output));
        let value: Value = serde_json::from_str(&stdout(&output)).unwrap_or_else(|e| panic!("{args:?}: {e}"));
        assert_eq!((value["ok"].clone(), value["exit_code"].clone()), ((expected == 0).into(), expected.into()));
    };
    outcome(&["verify", archive, "--json"], 0);
    outcome(&["report", archive, "--json"], 0);
    outcome(&["extract", archive, target.to_str().unwrap(), "--json"], 0);
    let mut bytes = std::fs::read(archive).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x55;
    std::fs::write(archive, bytes).unwrap();
    outcome(&["verify", archive, "--json"], 4);
}
