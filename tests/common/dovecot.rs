//! A real Dovecot on 127.0.0.1 for the IMAP tests (`tests/servers/dovecot/server`), shared
//! by the tests of a binary and stopped once the test process is gone. User `sortie` holds
//! the messy corpus of `tests/servers/dovecot/seed.py`, which no test changes; user `other`
//! is for tests that change mail, each under a folder of its own.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use super::all_text;

pub const PASSWORD: &str = "imap-test-pw-5e0b";
/// The OAuth2 access token user `sortie` may also log in with (XOAUTH2, OAUTHBEARER).
pub const TOKEN: &str = "ya29.imap-test-token-3c8d";

pub struct Dovecot {
    dir: PathBuf,
    /// Plain IMAP with STARTTLS.
    pub port: u16,
    /// IMAP over TLS.
    pub tls_port: u16,
}

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Dovecot {
    /// The server of this test binary, started and seeded on first use.
    pub fn shared() -> &'static Dovecot {
        static SHARED: OnceLock<Dovecot> = OnceLock::new();
        SHARED.get_or_init(|| {
            let dir = tempfile::tempdir().unwrap().keep();
            let (port, tls_port) = (free_port(), free_port());
            let output = Command::new("bash")
                .arg(repo().join("tests/servers/dovecot/server"))
                .args(["start", dir.to_str().unwrap(), &port.to_string(), &tls_port.to_string()])
                .arg(std::process::id().to_string())
                .env("IMAP_TEST_PASSWORD", PASSWORD)
                .env("IMAP_TEST_TOKEN", TOKEN)
                .env("IMAP_TEST_TOKEN_PORT", free_port().to_string())
                .output()
                .unwrap();
            assert!(output.status.success(), "cannot start dovecot: {}", all_text(&output));
            let server = Dovecot { dir, port, tls_port };
            let seeded = server.python(&[
                &repo().join("tests/servers/dovecot/seed.py").to_string_lossy(),
                &port.to_string(),
                "sortie",
                PASSWORD,
                "messy",
            ]);
            assert!(seeded.status.success(), "seeding failed: {}", all_text(&seeded));
            server
        })
    }

    /// The CA that signed the server's certificate (what `ca_bundle` trusts).
    pub fn ca(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    fn python(&self, args: &[&str]) -> Output {
        Command::new("python3").args(args).output().expect("python3 runs")
    }

    /// Runs Python `code` with `c`, an imaplib client logged in as `user`.
    pub fn imaplib(&self, user: &str, code: &str) {
        let script = format!(
            "import imaplib\nc = imaplib.IMAP4('127.0.0.1', {})\nc.login('{user}', '{PASSWORD}')\n{code}\n",
            self.port
        );
        let mut child = Command::new("python3")
            .arg("-")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("python3 runs");
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), script.as_bytes()).unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "imaplib failed: {}", all_text(&output));
    }

    /// What imaplib reads from `user`'s account, written under `out` by
    /// `tests/servers/dovecot/snapshot.py`: the index, and each message's bytes.
    pub fn snapshot(&self, user: &str, out: &Path) -> Vec<serde_json::Value> {
        let script = repo().join("tests/servers/dovecot/snapshot.py");
        let output =
            self.python(&[&script.to_string_lossy(), &self.port.to_string(), user, PASSWORD, out.to_str().unwrap()]);
        assert!(output.status.success(), "snapshot failed: {}", all_text(&output));
        serde_json::from_slice(&std::fs::read(out.join("index.json")).unwrap()).unwrap()
    }
}
