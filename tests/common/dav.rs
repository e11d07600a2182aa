//! Real CalDAV/CardDAV servers on 127.0.0.1 (`tests/servers/dav`): Radicale over plain HTTP
//! and Xandikos over HTTPS with a test CA, one of each shared by the tests of a binary,
//! seeded once by `tests/servers/seed_dav.py` and stopped when the test process is gone.
//! `tests/servers/dav_fetch.py` reads them back as an independent client.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use serde_json::Value;

use super::all_text;

pub const USER: &str = "alice";
/// Never to be seen in an archive, a message or a log.
pub const PASSWORD: &str = "dav-test-pw-4e1b9c";

/// Which server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Radicale,
    Xandikos,
}

pub struct DavServer {
    pub kind: Kind,
    pub port: u16,
    dir: PathBuf,
    /// The calendar and address book collections the seed made, with their resource counts.
    pub seeded: Value,
    /// Stopped when dropped (a shared server is stopped once the test process is gone).
    owned: bool,
}

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

impl DavServer {
    /// The server of `kind` shared by this binary's tests, started and seeded on first use.
    pub fn shared(kind: Kind) -> &'static DavServer {
        static RADICALE: OnceLock<DavServer> = OnceLock::new();
        static XANDIKOS: OnceLock<DavServer> = OnceLock::new();
        let cell = match kind {
            Kind::Radicale => &RADICALE,
            Kind::Xandikos => &XANDIKOS,
        };
        cell.get_or_init(|| Self::start(kind, kind == Kind::Xandikos))
    }

    /// A server of `kind` for one test, seeded (without the large resource), stopped when
    /// dropped.
    pub fn dedicated(kind: Kind) -> Self {
        let mut server = Self::start(kind, false);
        server.owned = true;
        server
    }

    /// Starts and seeds a server; `big`: with the resource above the inline cap.
    fn start(kind: Kind, big: bool) -> Self {
        let dir = tempfile::tempdir().unwrap().keep();
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let name = match kind {
            Kind::Radicale => "radicale",
            Kind::Xandikos => "xandikos",
        };
        let output = Command::new("bash")
            .arg(repo().join("tests/servers/dav"))
            .args(["start", name, dir.to_str().unwrap(), &port.to_string(), &std::process::id().to_string()])
            .env("DAV_TEST_USER", USER)
            .env("DAV_TEST_PASSWORD", PASSWORD)
            .output()
            .unwrap();
        assert!(output.status.success(), "cannot start {name} (run tests/servers/install): {}", all_text(&output));
        let mut server = Self { kind, port, dir, seeded: Value::Null, owned: false };
        let (cal_home, card_home) = server.homes();
        let mut seed = server.python_script("seed_dav.py");
        seed.args([cal_home, card_home]);
        if big {
            seed.arg("--big");
        }
        server.seeded = serde_json::from_slice(&checked(seed.output().unwrap(), "seeding")).unwrap();
        server
    }

    /// Where the seed puts calendars and address books.
    pub fn homes(&self) -> (&'static str, &'static str) {
        match self.kind {
            Kind::Radicale => ("/alice/", "/alice/"),
            Kind::Xandikos => ("/alice/calendars/", "/alice/contacts/"),
        }
    }

    /// `http://127.0.0.1:PORT` or `https://…`.
    pub fn base(&self) -> String {
        match self.kind {
            Kind::Radicale => format!("http://127.0.0.1:{}", self.port),
            Kind::Xandikos => format!("https://127.0.0.1:{}", self.port),
        }
    }

    /// The test CA that signed Xandikos's certificate.
    pub fn ca(&self) -> Option<PathBuf> {
        (self.kind == Kind::Xandikos).then(|| self.dir.join("ca.crt"))
    }

    /// `SCHEME://alice@127.0.0.1:PORT{path}`.
    pub fn url(&self, scheme: &str, path: &str) -> String {
        format!("{scheme}://{USER}@127.0.0.1:{}{path}", self.port)
    }

    /// The settings a source of this server needs besides the password, as `--set` values.
    pub fn settings(&self) -> Vec<(&'static str, String)> {
        match self.ca() {
            Some(ca) => vec![("ca_bundle", ca.display().to_string())],
            None => vec![("plain_http", "yes".to_owned())],
        }
    }

    /// The seeded collections of `scheme` with their resource counts.
    pub fn collections(&self, scheme: &str) -> BTreeMap<String, u64> {
        let key = if scheme == "caldav" { "calendars" } else { "addressbooks" };
        let map = self.seeded[key].as_object().unwrap();
        map.iter().map(|(href, count)| (href.clone(), count.as_u64().unwrap())).collect()
    }

    /// Every resource of `collections`, by href, as a plain HTTP GET returns it.
    pub fn fetch(&self, collections: &[&str]) -> BTreeMap<String, BTreeMap<String, Vec<u8>>> {
        let mut fetch = self.python_script("dav_fetch.py");
        fetch.args(collections);
        let read: BTreeMap<String, BTreeMap<String, String>> =
            serde_json::from_slice(&checked(fetch.output().unwrap(), "reading back")).unwrap();
        let decode = |text: String| hex::decode(text).unwrap();
        read.into_iter().map(|(c, members)| (c, members.into_iter().map(|(h, b)| (h, decode(b))).collect())).collect()
    }

    /// Sends `method` to `path` as the user with Python (a DELETE, a MKCALENDAR…).
    pub fn send(&self, method: &str, path: &str) {
        let script = "import base64, ssl, sys, urllib.request
base, ca, method, path, auth = sys.argv[1:6]
context = ssl.create_default_context(cafile=None if ca == '-' else ca)
body = b'<C:mkcalendar xmlns:C=\"urn:ietf:params:xml:ns:caldav\"/>' if method == 'MKCALENDAR' else b''
request = urllib.request.Request(base + path, data=body, method=method)
request.add_header('Authorization', 'Basic ' + base64.b64encode(auth.encode()).decode())
request.add_header('Content-Type', 'application/xml')
urllib.request.urlopen(request, context=context).read()";
        let output = Command::new(self.python())
            .args(["-c", script, &self.base(), &self.ca_arg(), method, path, &format!("{USER}:{PASSWORD}")])
            .output()
            .unwrap();
        checked(output, &format!("{method} {path}"));
    }

    fn python(&self) -> PathBuf {
        let venv = match self.kind {
            Kind::Radicale => "radicale",
            Kind::Xandikos => "xandikos",
        };
        repo().join("target/test-tools").join(venv).join("bin/python")
    }

    fn ca_arg(&self) -> String {
        self.ca().map(|c| c.display().to_string()).unwrap_or_else(|| "-".into())
    }

    fn python_script(&self, script: &str) -> Command {
        let mut command = Command::new(self.python());
        command.arg(repo().join("tests/servers").join(script)).args([
            self.base(),
            USER.into(),
            PASSWORD.into(),
            self.ca_arg(),
        ]);
        command
    }
}

impl Drop for DavServer {
    fn drop(&mut self) {
        if self.owned {
            let script = repo().join("tests/servers/dav");
            let _ = Command::new("bash").arg(script).args(["stop", self.dir.to_str().unwrap()]).output();
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn checked(output: Output, what: &str) -> Vec<u8> {
    assert!(output.status.success(), "{what} failed: {}", all_text(&output));
    output.stdout
}
