//! The provider against a real OpenSSH server on 127.0.0.1 (`tests/servers/sshd` of the
//! Sortie repository), used directly as a library: listing, bodies, paging across
//! processes, both logins, and the refusals (unknown or changed host key, wrong password).
//! Needs root (sshd logs a throwaway user in) and openssh-server (`tests/servers/install`).

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use futures_util::StreamExt;
use sortie_conformance::Expected;
use sortie_plugin_sftp::SftpFactory;
use sortie_sdk::{Context, ErrorKind, Item, Kind, Provider, ProviderFactory, RawName, Settings};

const PASSWORD: &str = "sftp-test-pw-7c21";

struct Sshd {
    state: tempfile::TempDir,
    port: u16,
}

impl Sshd {
    fn start() -> Self {
        let state = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let status = Command::new("bash")
            .arg(script())
            .args(["start", state.path().to_str().unwrap(), &port.to_string()])
            .env("SFTP_TEST_PASSWORD", PASSWORD)
            .status()
            .expect("bash runs");
        assert!(status.success(), "tests/servers/sshd start failed (run tests/servers/install, as root)");
        Self { state, port }
    }

    fn file(&self, name: &str) -> PathBuf {
        self.state.path().join(name)
    }

    fn fingerprint(&self) -> String {
        let out = Command::new("ssh-keygen").arg("-lf").arg(self.file("host_ed25519.pub")).output().unwrap();
        String::from_utf8(out.stdout).unwrap().split_whitespace().nth(1).unwrap().to_owned()
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = Command::new("bash").arg(script()).args(["stop", self.state.path().to_str().unwrap()]).status();
    }
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../tests/servers/sshd")
}

/// A tree of every kind of item, owned by the test user, with whole-second times (SFTP's).
fn seed() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let write = |path: &str, bytes: &[u8], mode: u32| {
        let full = root.join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(&full, bytes).unwrap();
        std::fs::set_permissions(&full, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    write("small.txt", b"hello\n", 0o644);
    write("secret.key", b"only me\n", 0o600);
    write("bin/run.sh", b"#!/bin/sh\necho run\n", 0o755);
    write("deep/a/b/c/leaf", b"leaf", 0o644);
    write("odd names/caf\u{e9} & #1;.txt", b"odd", 0o644);
    write("big.bin", &(0..3 * 1024 * 1024 + 17).map(|i| (i * 7 % 251) as u8).collect::<Vec<_>>(), 0o644);
    // More than a page, to page across listers.
    for i in 0..1100 {
        write(&format!("many/f{i:04}"), i.to_string().as_bytes(), 0o644);
    }
    std::fs::create_dir_all(root.join("empty/inner")).unwrap();
    std::os::unix::fs::symlink("../small.txt", root.join("bin/link")).unwrap();
    let ran = |cmd: &mut Command| assert!(cmd.status().unwrap().success(), "{cmd:?}");
    ran(Command::new("chown").args(["-R", "sortie-sftp:"]).arg(root));
    ran(Command::new("chmod").arg("755").arg(root));
    ran(Command::new("find").arg(root).args(["-exec", "touch", "-h", "-d", "@1700000000", "{}", "+"]));
    dir
}

fn settings(values: &[(&str, &str)]) -> Settings {
    let info = SftpFactory.info();
    let mut settings = Settings::new();
    for (name, value) in values {
        settings.set(info.setting(name).unwrap(), value).unwrap();
    }
    settings
}

fn open(server: &Sshd, tree: &Path, values: &[(&str, &str)]) -> Arc<dyn Provider> {
    let url = format!("sftp://sortie-sftp@127.0.0.1:{}{}", server.port, tree.display());
    let spec = SftpFactory.source(&url, settings(values)).unwrap();
    assert_eq!(spec.url, url);
    SftpFactory.open(&spec, &Context::default()).unwrap()
}

fn password(server: &Sshd) -> Vec<(&'static str, String)> {
    vec![("password", PASSWORD.to_owned()), ("known_hosts", server.file("known_hosts").display().to_string())]
}

fn pairs<'a>(values: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    values.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

async fn list_all(provider: &dyn Provider, mut cursor: Option<String>) -> (Vec<Item>, Vec<String>) {
    let (mut items, mut cursors) = (Vec::new(), Vec::new());
    loop {
        let page = provider.list_page(cursor).await.unwrap();
        items.extend(page.items);
        match page.next {
            Some(next) => {
                cursors.push(next.clone());
                cursor = Some(next);
            }
            None => return (items, cursors),
        }
    }
}

async fn body(provider: &dyn Provider, item: &Item) -> Vec<u8> {
    let body = provider.open(item).await.unwrap();
    let mut stream = body.stream;
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        bytes.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(body.size, Some(bytes.len() as u64));
    bytes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tree_lists_and_reads_as_it_is_on_disk() {
    let server = Sshd::start();
    let tree = seed();
    let values = password(&server);
    let provider = open(&server, tree.path(), &pairs(&values));
    assert_eq!(provider.capabilities().max_concurrency, Some(8));
    provider.check().await.unwrap();
    let (items, cursors) = list_all(provider.as_ref(), None).await;
    assert_eq!(cursors.len(), 1, "1100 files and more make two pages");

    let by_id: BTreeMap<String, &Item> = items.iter().map(|i| (i.id.display(), i)).collect();
    assert_eq!(by_id.len(), items.len(), "no item twice");
    let ids: Vec<String> = items.iter().map(|i| i.id.display()).collect();
    let mut sorted = ids.clone();
    sorted.sort_by(|a, b| a.split('/').cmp(b.split('/')));
    assert_eq!(ids, sorted, "depth first, names sorted");
    // 6 files, 9 directories, a link, and the 1100.
    assert_eq!(items.len(), 1100 + 16);
    let kind = |id: &str| by_id[id].kind;
    assert_eq!(kind("empty/inner"), Kind::Directory);
    assert_eq!(kind("bin/link"), Kind::Symlink);
    assert_eq!(by_id["bin/link"].meta["target"], "../small.txt");
    assert!(!by_id["bin/link"].has_body && !by_id["empty"].has_body);
    assert_eq!(by_id["secret.key"].meta["mode"], "0600");
    assert_eq!(by_id["bin/run.sh"].meta["mode"], "0755");
    assert_eq!(by_id["empty"].meta["mode"], "0755");
    let epoch = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
    assert!(items.iter().all(|i| i.modified == Some(epoch)), "every time is the one set");

    for item in items.iter().filter(|i| i.kind == Kind::File) {
        let local = std::fs::read(tree.path().join(item.id.display())).unwrap();
        assert_eq!(item.size, Some(local.len() as u64));
        let id = item.id.display();
        if !id.starts_with("many/") || id.ends_with('7') {
            assert!(body(provider.as_ref(), item).await == local, "{}", item.id.display());
        }
    }

    // Another provider (another process) resumes from the cursor alone.
    let fresh = open(&server, tree.path(), &pairs(&values));
    let (rest, _) = list_all(fresh.as_ref(), Some(cursors[0].clone())).await;
    assert_eq!(rest, items[1000..]);

    // Bodies read at once share the sessions without mixing them up.
    let files: Vec<Item> = items.iter().filter(|i| i.id.display().starts_with("many/")).take(64).cloned().collect();
    let reads = files.iter().map(|item| {
        let provider = provider.clone();
        let item = item.clone();
        tokio::spawn(async move { (body(provider.as_ref(), &item).await, item) })
    });
    for read in futures_util::future::join_all(reads).await {
        let (bytes, item) = read.unwrap();
        assert_eq!(bytes, std::fs::read(tree.path().join(item.id.display())).unwrap());
    }

    let missing = Item::new(RawName::text("gone"), vec![RawName::text("gone")], Kind::File);
    assert_eq!(provider.open(&missing).await.err().unwrap().kind(), ErrorKind::NotFound);
    let nowhere = open(&server, &tree.path().join("nowhere"), &pairs(&values));
    assert_eq!(nowhere.check().await.unwrap_err().kind(), ErrorKind::NotFound);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_login_works_and_refusals_say_what_to_do() {
    let server = Sshd::start();
    let tree = seed();
    let known = server.file("known_hosts").display().to_string();
    let key = server.file("client_ed25519").display().to_string();
    let by_key = open(&server, tree.path(), &[("key_file", &key), ("known_hosts", &known)]);
    by_key.check().await.unwrap();
    assert!(!list_all(by_key.as_ref(), None).await.0.is_empty());

    // known_hosts may hold another of the server's keys than the one asked for first.
    let ecdsa = std::fs::read_to_string(server.file("host_ecdsa.pub")).unwrap();
    let ecdsa_only = server.file("ecdsa_known_hosts");
    let line =
        format!("[127.0.0.1]:{} {}\n", server.port, ecdsa.split_whitespace().take(2).collect::<Vec<_>>().join(" "));
    std::fs::write(&ecdsa_only, line).unwrap();
    let by_ecdsa = open(&server, tree.path(), &[("password", PASSWORD), ("known_hosts", ecdsa_only.to_str().unwrap())]);
    by_ecdsa.check().await.unwrap();
    assert!(!list_all(by_ecdsa.as_ref(), None).await.0.is_empty());

    let wrong = open(&server, tree.path(), &[("password", "not-the-password-9"), ("known_hosts", &known)]);
    let error = wrong.check().await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unauthenticated, "{error}");
    assert!(error.to_string().contains("refused the login of sortie-sftp"), "{error}");
    assert!(!error.to_string().contains("not-the-password"), "{error}");

    let fingerprint = server.fingerprint();
    assert!(fingerprint.starts_with("SHA256:"));
    let empty = server.file("empty_known_hosts");
    std::fs::write(&empty, "").unwrap();
    let unknown = open(&server, tree.path(), &[("password", PASSWORD), ("known_hosts", empty.to_str().unwrap())]);
    let error = unknown.check().await.unwrap_err().to_string();
    assert!(error.contains(&fingerprint) && error.contains("ssh-keyscan -p"), "{error}");
    assert!(error.contains("is not in"), "{error}");

    let other = server.file("other");
    let keygen = Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-f"]).arg(&other).status();
    assert!(keygen.unwrap().success());
    let other_key = std::fs::read_to_string(other.with_extension("pub")).unwrap();
    let changed = server.file("changed_known_hosts");
    let line =
        format!("[127.0.0.1]:{} {}\n", server.port, other_key.split_whitespace().take(2).collect::<Vec<_>>().join(" "));
    std::fs::write(&changed, line).unwrap();
    let intercepted = open(&server, tree.path(), &[("password", PASSWORD), ("known_hosts", changed.to_str().unwrap())]);
    let error = intercepted.check().await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unauthenticated);
    let error = error.to_string();
    assert!(error.contains(&fingerprint) && error.contains("changed") && error.contains("ssh-keygen -R"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sftp_provider_conforms() {
    let server = Sshd::start();
    let tree = seed();
    let mut bodies = BTreeMap::new();
    for entry in walk(tree.path()) {
        if entry.is_file() && !entry.is_symlink() {
            let id = entry.strip_prefix(tree.path()).unwrap().to_str().unwrap().as_bytes().to_vec();
            bodies.insert(id, std::fs::read(&entry).unwrap());
        }
    }
    let values = password(&server);
    let url = format!("sftp://sortie-sftp@127.0.0.1:{}{}", server.port, tree.path().display());
    let source = SftpFactory.source(&url, settings(&pairs(&values))).unwrap();
    let missing = Item::new(RawName::text("no/such"), vec![RawName::text("no"), RawName::text("such")], Kind::File);
    let expected = Expected { bodies, secrets: &[PASSWORD], missing };
    let items = sortie_conformance::check(&SftpFactory, source, expected).await;
    assert_eq!(items.iter().filter(|i| i.kind == Kind::File).count(), 1106);
}

/// Every path under `root`, links not followed.
fn walk(root: &Path) -> Vec<PathBuf> {
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(root).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() && !path.is_symlink() {
            paths.extend(walk(&path));
        }
        paths.push(path);
    }
    paths
}

/// A file swapped for a link after the listing (to a file outside the tree, which the server
/// would follow) is never read in its place: SFTP has no inode to check, so the path is
/// looked at without following links and must be the file just opened.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_swapped_for_a_link_after_the_listing_is_not_read_through_it() {
    let server = Sshd::start();
    let tree = seed();
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("elsewhere.txt");
    std::fs::write(&secret, b"not part of the export\n").unwrap();
    assert!(Command::new("chown").args(["-R", "sortie-sftp:"]).arg(outside.path()).status().unwrap().success());
    assert!(Command::new("chmod").arg("755").arg(outside.path()).status().unwrap().success());
    let values = password(&server);
    let provider = open(&server, tree.path(), &pairs(&values));
    let (items, _) = list_all(provider.as_ref(), None).await;
    let small = items.iter().find(|i| i.id == RawName::text("small.txt")).unwrap();
    assert_eq!(body(provider.as_ref(), small).await, b"hello\n");
    let opened = provider.open(small).await.unwrap();
    assert_eq!(
        opened.modified.map(|m| m.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()),
        Some(1_700_000_000),
        "the body announces the file's time, for the engine to compare with the listing's"
    );
    std::fs::remove_file(tree.path().join("small.txt")).unwrap();
    std::os::unix::fs::symlink(&secret, tree.path().join("small.txt")).unwrap();
    let error = provider.open(small).await.err().expect("a link in the file's place is refused");
    assert_eq!(error.kind(), ErrorKind::Integrity, "{error}");
    assert!(error.to_string().contains("changed during the export"), "{error}");
}
