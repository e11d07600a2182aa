//! The example sftp plugin (examples/plugins/sftp), built out of tree and loaded at run
//! time, against a real OpenSSH server: its export of a tree holds the payload the built-in
//! file provider's export of the same tree holds, it refuses unknown and changed host keys
//! and wrong passwords, and it passes the conformance suite through the plugin host.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use common::sshd::{PASSWORD, Sshd, USER, plugin};
use common::*;
use serde_json::Value;

/// A tree with every kind of item, owned by the server's user, with whole-second times
/// (SFTP version 3 has no finer ones).
fn seed(root: &Path) {
    let big = noise(3 * 1024 * 1024 + 17, 11);
    let medium = noise(300 * 1024, 12);
    write_tree(
        root,
        &[
            ("readme.txt", b"hello\n"),
            ("secret.key", b"only the owner\n"),
            ("bin/run.sh", b"#!/bin/sh\necho run\n"),
            ("media/big.bin", &big),
            ("media/medium.bin", &medium),
            ("media/empty.bin", b""),
            ("deep/a/b/c/leaf.txt", b"leaf"),
            ("odd names/caf\u{e9} & #1; (x).txt", b"odd"),
            ("odd names/ leading space", b"spaces"),
        ],
    );
    std::fs::create_dir_all(root.join("empty/inner")).unwrap();
    std::os::unix::fs::symlink("../readme.txt", root.join("bin/readme-link")).unwrap();
    std::os::unix::fs::symlink("/nowhere/at/all", root.join("dangling")).unwrap();
    set_mode(&root.join("secret.key"), 0o600);
    set_mode(&root.join("bin/run.sh"), 0o755);
    set_mode(&root.join("deep/a"), 0o700);
    let ran = |cmd: &mut Command| assert!(cmd.status().unwrap().success(), "{cmd:?}");
    ran(Command::new("chown").args(["-R", &format!("{USER}:")]).arg(root));
    ran(Command::new("find").arg(root).args(["-exec", "touch", "-h", "-d", "@1700000000", "{}", "+"]));
}

/// `sortie --plugin SO ARGS` with the password in the environment.
fn sortie_sftp(args: &[&str], password: &str) -> Output {
    sortie().arg("--plugin").arg(plugin()).args(args).env("SORTIE_SFTP_PASSWORD", password).output().unwrap()
}

/// What a bag holds under `data/SOURCE/`, by relative path: the manifest's sha256 of each
/// file, and every member (directories included).
fn payload(bag: &Path, source: &str) -> (BTreeMap<String, String>, Vec<String>) {
    let prefix = format!("data/{source}/");
    let manifest = std::fs::read_to_string(bag.join("manifest-sha256.txt")).unwrap();
    let sums = manifest
        .lines()
        .map(|line| {
            let (sum, path) = line.split_once("  ").unwrap();
            let relative = path.strip_prefix(&prefix).unwrap_or_else(|| panic!("{path} is not under {prefix}"));
            (relative.to_owned(), sum.to_owned())
        })
        .collect();
    let output = tool("find", &["-mindepth", "1", "-printf", "%P\n"], &bag.join(&prefix));
    let mut members: Vec<String> = stdout(&output).lines().map(str::to_owned).collect();
    members.sort();
    (sums, members)
}

/// The inventory by id: kind, size, time, metadata (mode, link target) and payload path
/// relative to the source's directory.
fn described(bag: &Path, source: &str) -> BTreeMap<Vec<u8>, Value> {
    inventory(bag)
        .iter()
        .filter(|r| r["source"] == source)
        .map(|r| {
            let path = r["path"].as_str().map(|p| p.strip_prefix(&format!("data/{source}/")).unwrap().to_owned());
            let record = serde_json::json!({
                "kind": r["kind"], "size": r["size"], "modified": r["modified"], "meta": r["meta"], "path": path,
            });
            (record_id(r), record)
        })
        .collect()
}

fn exported(work: &Path, name: &str, output: &Output) -> std::path::PathBuf {
    assert_eq!(code(output), 0, "{}", all_text(output));
    let archive = work.join(format!("{name}.tar.zst"));
    let verify = run(&["verify", archive.to_str().unwrap()]);
    assert_eq!(code(&verify), 0, "{}", all_text(&verify));
    let bag = gnu_extract(&archive, name);
    assert_standard_tools_accept(&archive, &bag);
    assert_eq!(bag_info(&bag, "Sortie-Complete").as_deref(), Some("true"));
    bag
}

#[test]
fn an_sftp_export_holds_what_a_file_export_of_the_same_tree_holds() {
    let server = Sshd::start();
    let work = open_tempdir();
    let tree = work.path().join("tree");
    seed(&tree);
    let known_hosts = format!("known_hosts={}", server.file("known_hosts").display());
    let url = server.url(&tree);

    let by_file = run(&["export", tree.to_str().unwrap(), "-o", work.path().join("b.tar.zst").to_str().unwrap()]);
    let file_bag = exported(work.path(), "b", &by_file);
    let file_payload = payload(&file_bag, "fs-tree");
    let file_inventory = described(&file_bag, "fs-tree");
    assert!(file_payload.0.len() >= 9 && file_inventory.len() >= 20, "{file_payload:?}");

    let sftp_id = "sftp-127.0.0.1-tree";
    let out = work.path().join("a.tar.zst");
    let by_password = sortie_sftp(&["export", &url, "-o", out.to_str().unwrap(), "--set", &known_hosts], PASSWORD);
    let key = format!("key_file={}", server.file("client_ed25519").display());
    let out = work.path().join("k.tar.zst");
    let by_key = sortie_sftp(&["export", &url, "-o", out.to_str().unwrap(), "--set", &known_hosts, "--set", &key], "");
    for (name, output) in [("a", &by_password), ("k", &by_key)] {
        let bag = exported(work.path(), name, output);
        assert_eq!(payload(&bag, sftp_id), file_payload, "{name}: the same files, bytes and directories");
        assert_eq!(described(&bag, sftp_id), file_inventory, "{name}: the same kinds, modes, times and link targets");
        assert!(bag.join(format!("data/{sftp_id}/empty/inner")).is_dir(), "empty directories survive");
        let text = std::fs::read_to_string(bag.join("sortie/report.json")).unwrap();
        assert!(!text.contains(PASSWORD));
    }
    let link = &described(&file_bag, "fs-tree")[b"bin/readme-link".as_slice()];
    assert_eq!((link["kind"].as_str(), link["meta"]["target"].as_str()), (Some("symlink"), Some("../readme.txt")));
    assert_eq!(file_inventory[b"secret.key".as_slice()]["meta"]["mode"], "0600");
}

#[test]
fn unknown_and_changed_host_keys_and_wrong_passwords_are_refused() {
    let server = Sshd::start();
    let work = open_tempdir();
    let tree = work.path().join("tree");
    seed(&tree);
    let url = server.url(&tree);
    let fingerprint = server.fingerprint();
    let archive = work.path().join("refused.tar.zst");
    let refused = |known_hosts: &Path, password: &str| {
        let known_hosts = format!("known_hosts={}", known_hosts.display());
        let output = sortie_sftp(&["export", &url, "-o", archive.to_str().unwrap(), "--set", &known_hosts], password);
        assert_eq!(code(&output), 1, "{}", all_text(&output));
        assert!(!archive.exists() && !work.path().join("refused.tar.zst.partial").exists(), "no archive is left");
        let text = all_text(&output);
        assert!(!text.contains(PASSWORD), "{text}");
        text
    };

    let empty = work.path().join("empty_known_hosts");
    std::fs::write(&empty, "").unwrap();
    let text = refused(&empty, PASSWORD);
    assert!(text.contains(&fingerprint) && text.contains("is not in") && text.contains("ssh-keyscan -p"), "{text}");

    let other = work.path().join("other_host_key");
    assert_tool_ok("ssh-keygen", &["-q", "-t", "ed25519", "-N", "", "-f", other.to_str().unwrap()], work.path());
    let other_key = std::fs::read_to_string(other.with_extension("pub")).unwrap();
    let key: Vec<&str> = other_key.split_whitespace().take(2).collect();
    let changed = work.path().join("changed_known_hosts");
    std::fs::write(&changed, format!("[127.0.0.1]:{} {}\n", server.port, key.join(" "))).unwrap();
    let text = refused(&changed, PASSWORD);
    assert!(text.contains(&fingerprint) && text.contains("changed") && text.contains("ssh-keygen -R"), "{text}");

    let text = refused(&server.file("known_hosts"), "not-the-password-5");
    assert!(text.contains(&format!("refused the login of {USER}")), "{text}");
    assert!(!text.contains("not-the-password-5"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plugin_loaded_by_the_host_conforms() {
    use sortie_sdk::{Item, Kind, RawName, Settings};
    let server = Sshd::start();
    let work = open_tempdir();
    let tree = work.path().join("tree");
    seed(&tree);
    let plugin = sortie_core::plugin::Plugin::load(plugin(), Duration::from_secs(60)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(plugin.name(), "sortie-plugin-sftp");
    let factory = plugin.factories().into_iter().find(|f| f.info().scheme == "sftp").expect("an sftp provider");
    let info = factory.info();
    let mut settings = Settings::new();
    settings.set(info.setting("password").unwrap(), PASSWORD).unwrap();
    settings.set(info.setting("known_hosts").unwrap(), server.file("known_hosts").to_str().unwrap()).unwrap();
    let source = factory.source(&server.url(&tree), settings).unwrap();

    let mut bodies = BTreeMap::new();
    let listing = tool("find", &["-type", "f", "-printf", "%P\n"], &tree);
    for relative in stdout(&listing).lines() {
        bodies.insert(relative.as_bytes().to_vec(), std::fs::read(tree.join(relative)).unwrap());
    }
    let files = bodies.len();
    let missing = Item::new(RawName::text("no/such"), vec![RawName::text("no"), RawName::text("such")], Kind::File);
    let expected = sortie_conformance::Expected { bodies, secrets: &[PASSWORD], missing };
    let items = sortie_conformance::check(factory.as_ref(), source, expected).await;
    assert_eq!(items.iter().filter(|i| i.kind == Kind::File).count(), files);
}
