//! A real OpenSSH server on 127.0.0.1 for the sftp plugin's tests (`tests/servers/sshd`),
//! stopped when dropped, and the example plugin built as a shared library.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The password `tests/servers/sshd` gives its user.
pub const PASSWORD: &str = "sftp-test-pw-7c21";
/// The user sshd lets in.
pub const USER: &str = "sortie-sftp";

pub struct Sshd {
    state: tempfile::TempDir,
    pub port: u16,
}

impl Sshd {
    pub fn start() -> Self {
        let state = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let status = Command::new("bash")
            .arg(repo().join("tests/servers/sshd"))
            .args(["start", state.path().to_str().unwrap(), &port.to_string()])
            .env("SFTP_TEST_PASSWORD", PASSWORD)
            .status()
            .expect("bash runs");
        assert!(status.success(), "tests/servers/sshd start failed (it needs root and tests/servers/install)");
        Self { state, port }
    }

    /// A file `tests/servers/sshd` made: `known_hosts`, `client_ed25519`, `host_ed25519.pub`…
    pub fn file(&self, name: &str) -> PathBuf {
        self.state.path().join(name)
    }

    /// The host key's fingerprint as `ssh-keygen -l` prints it (`SHA256:…`).
    pub fn fingerprint(&self) -> String {
        let out = Command::new("ssh-keygen").arg("-lf").arg(self.file("host_ed25519.pub")).output().unwrap();
        String::from_utf8(out.stdout).unwrap().split_whitespace().nth(1).unwrap().to_owned()
    }

    /// `sftp://USER@127.0.0.1:PORT/dir`.
    pub fn url(&self, dir: &Path) -> String {
        format!("sftp://{USER}@127.0.0.1:{}{}", self.port, dir.display())
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let script = repo().join("tests/servers/sshd");
        let _ = Command::new("bash").arg(script).args(["stop", self.state.path().to_str().unwrap()]).status();
    }
}

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `examples/plugins/sftp` built (once per test binary) with its own lock file into the
/// repository's `target/`, as a user would build it; the path of the shared library.
pub fn plugin() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let target = repo().join("target");
        let output = Command::new(env!("CARGO"))
            .args(["build", "--locked", "--manifest-path"])
            .arg(repo().join("examples/plugins/sftp/Cargo.toml"))
            .env("CARGO_TARGET_DIR", &target)
            .output()
            .expect("cargo runs");
        assert!(
            output.status.success(),
            "building the sftp plugin failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        target.join("debug/libsortie_plugin_sftp.so")
    })
}
