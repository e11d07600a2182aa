//! The OVH API test server (tests/servers/ovh/server.py) on 127.0.0.1 for the ovh provider's
//! tests: started with the options a test needs, exiting with the test process; its
//! test-only admin routes (faults, live configuration, requests seen, key validation) driven
//! over plain HTTP; and the cross-check that reads the same server with the official `ovh`
//! Python client.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const APPLICATION_KEY: &str = "SortieTestAppKey";
pub const APPLICATION_SECRET: &str = "SortieTestAppSecret0000000000000";
/// Validated, with the rights `sortie ovh credential` asks for.
pub const CK_FULL: &str = "SortieTestCkFullAccess0000000000";
/// Validated, `GET /domain`, `GET /domain/*` and `GET /me` only.
pub const CK_DOMAINS_ONLY: &str = "SortieTestCkDomainsOnly000000000";
/// Validated, every GET but `/me`.
pub const CK_NO_ME: &str = "SortieTestCkNoMe0000000000000000";
/// Still waiting for its validation.
pub const CK_PENDING: &str = "SortieTestCkPending0000000000000";
pub const CLIENT_ID: &str = "sortie-test-client";
pub const CLIENT_SECRET: &str = "SortieTestClientSecret000000000";

pub struct OvhServer {
    pub port: u16,
    server: Child,
    pub dir: tempfile::TempDir,
}

impl Drop for OvhServer {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The Python with the official `ovh` client, installed by tests/servers/install.
pub fn python() -> PathBuf {
    let python = repo().join("target/test-tools/ovh/bin/python");
    assert!(python.exists(), "the ovh client is not installed: run `bash tests/servers/install` (tests/run does)");
    python
}

impl OvhServer {
    /// A server of its own, started with `options` (`--domains 5`, `--token-ttl 2`…).
    pub fn start(options: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port_file = dir.path().join("port");
        let log = std::fs::File::create(dir.path().join("server.log")).unwrap();
        let server = Command::new(python())
            .arg(repo().join("tests/servers/ovh/server.py"))
            .args(["--port", "0", "--port-file"])
            .arg(&port_file)
            .args(["--parent-pid", &std::process::id().to_string()])
            .args(options)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("python runs");
        let started = Instant::now();
        let port = loop {
            if let Some(port) = std::fs::read_to_string(&port_file).ok().and_then(|p| p.trim().parse().ok()) {
                break port;
            }
            let log = std::fs::read_to_string(dir.path().join("server.log")).unwrap_or_default();
            assert!(started.elapsed() < Duration::from_secs(30), "the OVH test server did not start in 30 s: {log}");
            std::thread::sleep(Duration::from_millis(50));
        };
        Self { port, server, dir }
    }

    /// The API root, as `OVH_ENDPOINT` takes it.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}/1.0", self.port)
    }

    /// `sortie ARGS` with signed keys (`consumer_key`) for this server, and no other OVH
    /// variable of the environment.
    pub fn sortie(&self, consumer_key: &str, args: &[&str]) -> Output {
        self.sortie_with(
            &[
                ("OVH_ENDPOINT", &self.endpoint()),
                ("OVH_APPLICATION_KEY", APPLICATION_KEY),
                ("OVH_APPLICATION_SECRET", APPLICATION_SECRET),
                ("OVH_CONSUMER_KEY", consumer_key),
            ],
            args,
        )
    }

    /// `sortie ARGS` with exactly the OVH variables given, in the server's directory (no
    /// `ovh.conf` there unless a test writes one), `HOME` there too.
    pub fn sortie_with(&self, env: &[(&str, &str)], args: &[&str]) -> Output {
        let mut command = super::sortie();
        for var in [
            "OVH_ENDPOINT",
            "OVH_APPLICATION_KEY",
            "OVH_APPLICATION_SECRET",
            "OVH_CONSUMER_KEY",
            "OVH_CLIENT_ID",
            "OVH_CLIENT_SECRET",
        ] {
            command.env_remove(var);
        }
        command.current_dir(self.dir.path()).env("HOME", self.dir.path());
        command.args(args).envs(env.iter().copied()).output().expect("sortie runs")
    }

    /// An admin route: `METHOD PATH` with a JSON body; the answer's JSON.
    pub fn admin(&self, method: &str, path: &str, body: &str) -> serde_json::Value {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        let request = format!(
            "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).unwrap();
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).unwrap();
        let answer = String::from_utf8_lossy(&answer);
        let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
        assert!(head.starts_with("HTTP/1.0 2") || head.starts_with("HTTP/1.1 2"), "{method} {path}: {head}\n{body}");
        serde_json::from_str(body).unwrap_or(serde_json::Value::Null)
    }

    /// The next `count` requests whose `METHOD PATH?QUERY` matches `pattern` fail as `kind`
    /// (`503`, `429`, `460`, `cut`, `reset`…).
    pub fn fault(&self, kind: &str, count: u32, pattern: &str) {
        let body = serde_json::json!({"pattern": pattern, "count": count, "kind": kind}).to_string();
        self.admin("POST", "/_admin/faults", &body);
    }

    /// The requests the server received, as it logged them.
    pub fn requests(&self) -> Vec<serde_json::Value> {
        self.admin("GET", "/_admin/requests?since=0", "").as_array().cloned().unwrap_or_default()
    }

    /// Reads every record of the extracted bag with the official `ovh` client and compares;
    /// the summary, and whether it found nothing missing or different.
    pub fn crosscheck(&self, bag: &Path, credentials: &[&str], allow_missing: &[&str]) -> (serde_json::Value, Output) {
        let mut command = Command::new(python());
        command.arg(repo().join("tests/servers/ovh/crosscheck.py")).arg(self.endpoint()).arg(bag).args(credentials);
        for pattern in allow_missing {
            command.args(["--allow-missing", pattern]);
        }
        let output = command.output().expect("python runs");
        let summary = serde_json::from_slice(&output.stdout).unwrap_or(serde_json::Value::Null);
        (summary, output)
    }
}
