//! A real OpenStack on 127.0.0.1 (Keystone, Swift, Swift with tempauth, Glance; recorded
//! answers for Nova, Cinder and Neutron), started by `tests/servers/openstack`. One stack serves every test of a test binary
//! (starting one takes ~15 s) and stops when the binary exits; each test works in a project
//! of its own. Sortie runs against it with a clean environment.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use serde_json::Value;

use super::all_text;

pub struct OpenStack {
    dir: PathBuf,
    pub keystone: String,
    /// The Swift proxy that authenticates through tempauth (account `test:tester`).
    pub tempauth: String,
    /// Stop the stack when dropped (a stack of one test); the shared one stops with the binary.
    owned: bool,
}

/// A project with a member user and an application credential of that user.
pub struct Tenant {
    pub keystone: String,
    /// The tempauth proxy, whose reseller admin can write to this project's account.
    tempauth: String,
    pub project: String,
    pub project_id: String,
    pub user: String,
    pub password: String,
    pub credential_id: String,
    pub credential_secret: String,
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The Python with python-swiftclient, installed by tests/servers/install.
pub fn python() -> PathBuf {
    let python = repo().join("target/test-tools/swift/bin/python");
    assert!(python.exists(), "OpenStack is not installed: run `bash tests/servers/install` (tests/run does)");
    python
}

/// Nine consecutive free ports below Linux's ephemeral range, so that no port handed out
/// to another test's client meanwhile can take one of them.
fn free_base_port() -> u16 {
    loop {
        let base = 10_000 + fastrand::u16(0..20_000);
        if (base..base + 9).all(|port| TcpListener::bind(("127.0.0.1", port)).is_ok()) {
            return base;
        }
    }
}

impl OpenStack {
    /// The stack shared by the tests of this binary.
    pub fn shared() -> &'static OpenStack {
        static SHARED: OnceLock<OpenStack> = OnceLock::new();
        SHARED.get_or_init(|| Self::start(&[], false))
    }

    /// A stack for one test, with extra environment for the start script
    /// (`KEYSTONE_TOKEN_SECONDS`).
    pub fn dedicated(env: &[(&str, &str)]) -> Self {
        Self::start(env, true)
    }

    fn start(env: &[(&str, &str)], owned: bool) -> Self {
        let dir = tempfile::tempdir().unwrap().keep();
        let base = free_base_port();
        let output = Command::new("bash")
            .arg(repo().join("tests/servers/openstack"))
            .args(["start", dir.to_str().unwrap(), &base.to_string(), &std::process::id().to_string()])
            .envs(env.iter().copied())
            .output()
            .unwrap();
        assert!(output.status.success(), "cannot start OpenStack: {}", all_text(&output));
        Self {
            dir,
            keystone: format!("http://127.0.0.1:{base}"),
            tempauth: format!("http://127.0.0.1:{}/auth/v1.0", base + 2),
            owned,
        }
    }

    /// A new project `name` with its user and application credential.
    pub fn tenant(&self, name: &str) -> Tenant {
        let output = Command::new(python())
            .arg(repo().join("tests/servers/openstack_identity.py"))
            .args(["tenant", &self.keystone, name])
            .output()
            .unwrap();
        assert!(output.status.success(), "cannot create project {name}: {}", all_text(&output));
        let made: Value = serde_json::from_slice(&output.stdout).unwrap();
        let text = |v: &Value| v.as_str().unwrap().to_owned();
        Tenant {
            keystone: self.keystone.clone(),
            tempauth: self.tempauth.clone(),
            project: text(&made["project"]),
            project_id: text(&made["project_id"]),
            user: text(&made["user"]),
            password: text(&made["password"]),
            credential_id: text(&made["application_credential"]["id"]),
            credential_secret: text(&made["application_credential"]["secret"]),
        }
    }

    /// The tempauth account's variables, as python-swiftclient reads them.
    pub fn tempauth_env(&self) -> Vec<(String, String)> {
        [("ST_AUTH", self.tempauth.as_str()), ("ST_USER", "test:tester"), ("ST_KEY", "testing")]
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    /// Glance's URL.
    pub fn glance(&self) -> String {
        let port: u16 = self.keystone.rsplit(':').next().unwrap().parse().unwrap();
        format!("http://127.0.0.1:{}", port + 7)
    }

    /// Where Glance's file store keeps an image's data.
    pub fn glance_file(&self, image: &str) -> PathBuf {
        self.dir.join("glance/images").join(image)
    }
}

impl Drop for OpenStack {
    fn drop(&mut self) {
        if self.owned {
            let _ = Command::new("bash")
                .arg(repo().join("tests/servers/openstack"))
                .args(["stop", self.dir.to_str().unwrap()])
                .output();
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

impl Tenant {
    /// The variables of the project's openrc file (Keystone v3 password).
    pub fn password_env(&self) -> Vec<(String, String)> {
        [
            ("OS_AUTH_URL", format!("{}/v3", self.keystone)),
            ("OS_USERNAME", self.user.clone()),
            ("OS_PASSWORD", self.password.clone()),
            ("OS_PROJECT_NAME", self.project.clone()),
            ("OS_USER_DOMAIN_NAME", "Default".into()),
            ("OS_PROJECT_DOMAIN_NAME", "Default".into()),
            ("OS_REGION_NAME", "RegionOne".into()),
            ("OS_IDENTITY_API_VERSION", "3".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// A fresh Keystone token of this project's user.
    pub fn token(&self) -> String {
        let output = self.identity(&["token", &self.keystone, &self.user, &self.password, &self.project]);
        String::from_utf8(output.stdout).unwrap().trim().to_owned()
    }

    /// Restricts the project's catalog to these service types.
    pub fn restrict_catalog(&self, kinds: &[&str]) {
        let mut args = vec!["catalog", &self.keystone, &self.project_id];
        args.extend(kinds);
        self.identity(&args);
    }

    fn identity(&self, args: &[&str]) -> Output {
        let output =
            Command::new(python()).arg(repo().join("tests/servers/openstack_identity.py")).args(args).output().unwrap();
        assert!(output.status.success(), "openstack_identity.py {args:?}: {}", all_text(&output));
        output
    }

    /// Runs tests/servers/swift_tools.py as this project's user; fails the test if it fails.
    pub fn tools(&self, args: &[&str]) -> Output {
        run_tools(&self.password_env(), args)
    }

    /// Runs tests/servers/swift_tools.py in this project's account as tempauth's reseller
    /// admin, through the tempauth proxy: independent of Keystone's token lifetime.
    pub fn tools_as_reseller(&self, args: &[&str]) -> Output {
        let base = self.tempauth.trim_end_matches("/auth/v1.0");
        let env: Vec<(String, String)> = [
            ("ST_AUTH", self.tempauth.clone()),
            ("ST_USER", "admin:admin".to_owned()),
            ("ST_KEY", "admin".to_owned()),
            ("SWIFT_ACCOUNT_URL", format!("{base}/v1/AUTH_{}", self.project_id)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        run_tools(&env, args)
    }
}

/// Runs tests/servers/swift_tools.py with `env`; fails the test if it fails.
pub fn run_tools(env: &[(String, String)], args: &[&str]) -> Output {
    let output = Command::new(python())
        .arg(repo().join("tests/servers/swift_tools.py"))
        .args(args)
        .env_remove("ST_AUTH")
        .env_remove("OS_AUTH_URL")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap();
    assert!(output.status.success(), "swift_tools.py {args:?} failed: {}", all_text(&output));
    output
}

/// Runs sortie with only `env` (and PATH, and a HOME of its own in `home`).
pub fn sortie_with(home: &Path, env: &[(String, String)], args: &[&str]) -> Output {
    super::sortie()
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .args(args)
        .output()
        .unwrap()
}
