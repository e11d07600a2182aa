//! Logs on stderr: what `-v` and `-vv` show against a real S3 server, that no secret ever
//! appears in them, and how `SORTIE_LOG`/`RUST_LOG` filter them.

mod common;

use std::collections::BTreeMap;
use std::process::Output;

use common::s3_server::S3Server;
use common::{all_text, code, open_tempdir, run_unprivileged_with, set_mode, sortie, stderr, write_tree};

const SESSION_TOKEN: &str = "sortie-session-token-do-not-print";

#[test]
fn debug_logs_every_request_without_a_secret_and_filters_select_targets() {
    let server = S3Server::start("s3s-fs");
    let objects: BTreeMap<Vec<u8>, Vec<u8>> =
        [(b"a.txt".to_vec(), b"alpha".to_vec()), (b"dir/b.bin".to_vec(), vec![7u8; 3000])].into();
    server.put_objects("sortie-logs", &objects);
    let dir = tempfile::tempdir().unwrap();
    let export = |name: &str, flags: &[&str], env: &[(&str, &str)]| -> Output {
        let archive = dir.path().join(format!("{name}.tar.zst"));
        let args = [flags, &["export", "s3://sortie-logs", "-o", archive.to_str().unwrap()]].concat();
        let mut variables = vec![
            ("AWS_ACCESS_KEY_ID", server.access_key.as_str()),
            ("AWS_SECRET_ACCESS_KEY", server.secret_key.as_str()),
            ("AWS_SESSION_TOKEN", SESSION_TOKEN),
        ];
        variables.extend_from_slice(env);
        let output = server.sortie_with(&args, &variables);
        assert_eq!(code(&output), 0, "{}", all_text(&output));
        output
    };

    let debug = stderr(&export("debug", &["-vv"], &[]));
    let bucket = format!("{}/sortie-logs/", server.endpoint);
    for wanted in [
        format!("GET {bucket}a.txt status=200 elapsed="),
        format!("GET {bucket}dir/b.bin status=200 elapsed="),
        format!("GET {bucket}?list-type=2&max-keys=1 status=200 elapsed="),
        format!("GET {bucket}?encoding-type=url&list-type=2 status=200 elapsed="),
        format!("GET {bucket}?tagging status=501 elapsed="),
        "source opened and checked source=s3://sortie-logs".to_owned(),
        "listing done source=\"s3-sortie-logs\" items=".to_owned(),
    ] {
        assert!(debug.contains(&wanted), "no {wanted:?} in:\n{debug}");
    }
    assert!(!debug.contains(&server.secret_key), "the secret key leaked:\n{debug}");
    assert!(!debug.contains(SESSION_TOKEN), "the session token leaked:\n{debug}");
    assert!(!debug.to_ascii_lowercase().contains("authorization"), "a header leaked:\n{debug}");

    let info = stderr(&export("info", &["-v"], &[]));
    assert!(info.contains("listing done") && !info.contains("GET "), "{info}");

    // Filters: the requests alone, or the engine alone; the command line wins over them.
    let requests = stderr(&export("requests", &[], &[("SORTIE_LOG", "sortie_http=debug")]));
    assert!(requests.contains(&format!("GET {bucket}a.txt")) && !requests.contains("listing done"), "{requests}");
    let engine = stderr(&export("engine", &[], &[("RUST_LOG", "sortie_core=info")]));
    assert!(engine.contains("listing done") && !engine.contains("GET "), "{engine}");
    let both = [("SORTIE_LOG", "sortie_core=info"), ("RUST_LOG", "sortie_http=debug")];
    let sortie_log_first = stderr(&export("first", &[], &both));
    assert!(sortie_log_first.contains("listing done") && !sortie_log_first.contains("GET "), "{sortie_log_first}");
    let flags_win = stderr(&export("flags", &["-v"], &[("SORTIE_LOG", "off")]));
    assert!(flags_win.contains("listing done"), "{flags_win}");

    let refused = server.sortie_with(&["providers"], &[("SORTIE_LOG", "sortie_http=loud")]);
    assert_eq!(code(&refused), 2, "{}", all_text(&refused));
    assert!(stderr(&refused).contains("SORTIE_LOG=\"sortie_http=loud\" is not a log filter"), "{}", stderr(&refused));
}

#[test]
fn a_failure_is_a_warning_that_off_and_quiet_silence() {
    let work = open_tempdir();
    let source = work.path().join("src");
    write_tree(&source, &[("ok.txt", b"ok"), ("locked.txt", b"secret")]);
    set_mode(&source.join("locked.txt"), 0o000);
    let export = |name: &str, flags: &[&str], env: &[(&str, &str)]| {
        let archive = work.path().join(format!("{name}.tar.zst"));
        let args = [flags, &["export", source.to_str().unwrap(), "-o", archive.to_str().unwrap(), "--retries", "0"]];
        // Unset: no filter but the flags'.
        let env = [&[("SORTIE_LOG", ""), ("RUST_LOG", "")], env].concat();
        let output = run_unprivileged_with(&args.concat(), &env);
        assert_eq!(code(&output), 3, "{}", all_text(&output));
        stderr(&output)
    };
    let warned = export("default", &[], &[]);
    assert!(warned.contains("WARN") && warned.contains("failed: locked.txt"), "{warned}");
    assert_eq!(export("off", &[], &[("SORTIE_LOG", "off")]), "");
    assert_eq!(export("quiet", &["-q"], &[]), "");
}

#[test]
fn each_retry_is_logged_with_its_reason_at_info() {
    let work = open_tempdir();
    let archive = work.path().join("never.tar.zst");
    // A closed port: the bucket check fails temporarily, and is retried twice.
    let args = ["-v", "export", "s3://some-bucket", "--s3-endpoint", "http://127.0.0.1:9", "--retries", "2"];
    let output = sortie()
        .args(args)
        .args(["-o", archive.to_str().unwrap()])
        .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
        .env("AWS_SECRET_ACCESS_KEY", "retry-secret")
        .env_remove("SORTIE_LOG")
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert_eq!(code(&output), 1, "{}", all_text(&output));
    let logged = stderr(&output);
    for retry in ["retry 1 of s3://some-bucket", "retry 2 of s3://some-bucket"] {
        let line =
            logged.lines().find(|line| line.contains(retry)).unwrap_or_else(|| panic!("no {retry:?}:\n{logged}"));
        assert!(line.contains("INFO") && line.contains("cannot reach the S3 endpoint"), "the reason: {line}");
    }
    assert!(!logged.contains("retry 3"), "{logged}");
    assert!(!logged.contains("retry-secret"), "{logged}");
}
