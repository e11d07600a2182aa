//! A real WebDAV server on 127.0.0.1 for the webdav provider's tests: WsgiDAV with the
//! Nextcloud conventions of `tests/servers/webdav/nextcloud.py`, over HTTP and HTTPS (a
//! certificate of a test authority), one per test binary, exiting with the test process. Its tree is
//! written on its folder (WsgiDAV's file system provider serves a folder as it is: that is
//! what a PUT would have written), then what only the protocol sets (checksums announced at
//! upload, favourites, dead properties) through WebDAV by `dav_client.py seed`.

use std::collections::BTreeMap;
use std::fs;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::all_text;

pub const USER: &str = "alice";
pub const PASSWORD: &str = "webdav-test-pw-5f3a";
pub const TOKEN: &str = "webdav-test-token-9b1e";

pub struct WebDav {
    /// The folder served.
    pub files: PathBuf,
    pub http: u16,
    pub https: u16,
    /// The PEM certificate of the authority that signed the HTTPS port's.
    pub ca: PathBuf,
    _server: Child,
    _state: tempfile::TempDir,
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The Python with WsgiDAV, installed by tests/servers/install.
pub fn python() -> PathBuf {
    let python = repo().join("target/test-tools/wsgidav/bin/python");
    assert!(python.exists(), "WsgiDAV is not installed: run `bash tests/servers/install` (tests/run does)");
    python
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The hard-names tree under `tree/`: path (relative to `tree/`) → bytes.
pub fn tree() -> BTreeMap<Vec<u8>, Vec<u8>> {
    let long = "l".repeat(200);
    let mut files: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    let mut add = |path: String, body: Vec<u8>| files.insert(path.into_bytes(), body);
    add("readme.txt".into(), b"hello\n".to_vec());
    add("empty.txt".into(), Vec::new());
    add("properties.txt".into(), b"a file with dead properties\n".to_vec());
    add("café ☕/naïve résumé.txt".into(), "é\n".as_bytes().to_vec());
    add("a b/c d.txt".into(), b"spaces\n".to_vec());
    add("100%/50% off.txt".into(), b"percent\n".to_vec());
    add("hash#tag/what?.txt".into(), b"hash and question mark\n".to_vec());
    add("plus+and&ampersand=/x;y,z.txt".into(), b"sub-delims\n".to_vec());
    add(format!("{long}/{long}.txt"), b"long names\n".to_vec());
    add("nested/deeper/deepest/leaf.txt".into(), b"deep\n".to_vec());
    add("big.bin".into(), super::noise(6 << 20, 7));
    files
}

/// A directory of more members than a listing page, under `many/`.
pub fn many() -> BTreeMap<Vec<u8>, Vec<u8>> {
    let mut files: BTreeMap<Vec<u8>, Vec<u8>> =
        (0..1050).map(|i| (format!("f{i:04}.txt").into_bytes(), format!("file {i}\n").into_bytes())).collect();
    files.insert(b"sub/inner.txt".to_vec(), b"inner\n".to_vec());
    files
}

/// Directories of `tree/` that hold nothing.
pub const EMPTY_DIRS: &[&str] = &["empty dir", "nested/empty", "nested/deeper/also empty"];

impl WebDav {
    /// The server shared by the tests of this binary, seeded.
    pub fn shared() -> &'static WebDav {
        static SHARED: OnceLock<WebDav> = OnceLock::new();
        SHARED.get_or_init(|| {
            let server = Self::start();
            server.seed();
            server
        })
    }

    fn start() -> Self {
        let state = tempfile::tempdir().unwrap();
        let files = state.path().join("files");
        fs::create_dir_all(&files).unwrap();
        let made =
            Command::new("bash").arg(repo().join("tests/servers/webdav/certs")).arg(state.path()).output().unwrap();
        assert!(made.status.success(), "tests/servers/webdav/certs: {}", all_text(&made));
        let (cert, key) = (state.path().join("cert.pem"), state.path().join("key.pem"));
        let (http, https) = (free_port(), free_port());
        let log = fs::File::create(state.path().join("server.log")).unwrap();
        let server = Command::new(python())
            .arg(repo().join("tests/servers/webdav/server.py"))
            .arg(&files)
            .args([http.to_string(), https.to_string()])
            .args([&cert, &key])
            .arg(std::process::id().to_string())
            .env("WEBDAV_TEST_USER", USER)
            .env("WEBDAV_TEST_PASSWORD", PASSWORD)
            .env("WEBDAV_TEST_TOKEN", TOKEN)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("python runs");
        let started = Instant::now();
        while [http, https].iter().any(|port| TcpStream::connect(("127.0.0.1", *port)).is_err()) {
            let log = fs::read_to_string(state.path().join("server.log")).unwrap_or_default();
            assert!(started.elapsed() < Duration::from_secs(20), "WsgiDAV did not start in 20 s: {log}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { files, http, https, ca: state.path().join("ca.pem"), _server: server, _state: state }
    }

    fn seed(&self) {
        let root = self.files.join("tree");
        for (path, body) in tree() {
            let path = root.join(String::from_utf8(path).unwrap());
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, body).unwrap();
        }
        for dir in EMPTY_DIRS {
            fs::create_dir_all(root.join(dir)).unwrap();
        }
        fs::write(self.files.join("file.txt"), b"not a collection\n").unwrap();
        for (path, body) in many() {
            let path = self.files.join("many").join(String::from_utf8(path).unwrap());
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, body).unwrap();
        }
        let base = format!("http://127.0.0.1:{}", self.http);
        self.client(&["seed", &base, USER, PASSWORD]);
    }

    fn client(&self, args: &[&str]) -> String {
        let output =
            Command::new(python()).arg(repo().join("tests/servers/webdav/dav_client.py")).args(args).output().unwrap();
        assert!(output.status.success(), "dav_client.py {args:?}: {}", all_text(&output));
        String::from_utf8(output.stdout).unwrap()
    }

    /// `webdav://alice@127.0.0.1:PORT/dav/PATH`.
    pub fn webdav_url(&self, path: &str) -> String {
        format!("webdav://{USER}@127.0.0.1:{}/dav/{path}", self.http)
    }

    /// `nextcloud://alice@127.0.0.1:PORT/PATH`, over HTTPS.
    pub fn nextcloud_url(&self, path: &str) -> String {
        format!("nextcloud://{USER}@127.0.0.1:{}/{path}", self.https)
    }

    /// Downloads the collection at `url` (http or https) with an independent client into
    /// `out`; returns (files, directories).
    pub fn mirror(&self, url: &str, out: &Path) -> (u64, u64) {
        let printed = self.client(&["mirror", url, USER, PASSWORD, out.to_str().unwrap()]);
        let counts: serde_json::Value = serde_json::from_str(printed.trim()).unwrap();
        (counts["files"].as_u64().unwrap(), counts["dirs"].as_u64().unwrap())
    }
}
