//! A time-stamping authority (RFC 3161) on 127.0.0.1, `tests/servers/tsa/server.py`: a test
//! CA, a TSA certificate it signed, and `openssl ts -reply` answering each request. One per
//! test binary, exiting with the test process.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub struct Tsa {
    /// The URL to give `--timestamp`.
    pub url: String,
    /// The test CA's certificate: `openssl ts -verify -CAfile`.
    pub ca: PathBuf,
    _server: Child,
    _state: tempfile::TempDir,
}

impl Tsa {
    pub fn shared() -> &'static Tsa {
        static SHARED: OnceLock<Tsa> = OnceLock::new();
        SHARED.get_or_init(Self::start)
    }

    fn start() -> Self {
        let state = tempfile::tempdir().unwrap();
        let port = free_port();
        let log = std::fs::File::create(state.path().join("server.log")).unwrap();
        let server = Command::new("python3")
            .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/servers/tsa/server.py"))
            .arg(state.path().join("authority"))
            .arg(port.to_string())
            .arg(std::process::id().to_string())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("python3 runs");
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            let log = std::fs::read_to_string(state.path().join("server.log")).unwrap_or_default();
            assert!(started.elapsed() < Duration::from_secs(20), "the test TSA did not start in 20 s: {log}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self {
            url: format!("http://127.0.0.1:{port}/tsa"),
            ca: state.path().join("authority/ca.pem"),
            _server: server,
            _state: state,
        }
    }
}

/// A port nothing listens on: a TSA that does not answer.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}
