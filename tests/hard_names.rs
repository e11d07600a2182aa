//! Names that break naive exporters: every one must come out plain, distinct, verifiable
//! by the standard tools, and traceable to its original bytes through the inventory.

mod common;

use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use common::*;

fn hard_tree(root: &Path) {
    let deep: String = (0..40).map(|i| format!("level{i:02}/")).collect();
    let long_segment = "s".repeat(200);
    write_tree(
        root,
        &[
            ("with space.txt", b"space"),
            ("100%.txt", b"percent"),
            ("caret^name.txt", b"caret"),
            ("line\nfeed.txt", b"lf"),
            ("carriage\rreturn.txt", b"cr"),
            ("caf\u{e9}.txt", b"nfc"),   // NFC
            ("cafe\u{301}.txt", b"nfd"), // NFD of the same name
            (&format!("{long_segment}/{long_segment}.txt"), b"long"),
            (&format!("{deep}bottom.txt"), b"deep"),
            ("empty.txt", b""),
        ],
    );
    let raw = std::ffi::OsStr::from_bytes(b"latin1-\xe9t\xe9.txt");
    fs::write(root.join(raw), b"not utf-8").unwrap();
    fs::create_dir_all(root.join("empty dir")).unwrap();
    std::os::unix::fs::symlink("with space.txt", root.join("link-to-file")).unwrap();
    std::os::unix::fs::symlink("/etc", root.join("link-outside")).unwrap();
}

#[test]
fn hard_names_come_out_plain_distinct_and_verifiable() {
    let work = open_tempdir();
    let source = work.path().join("hard");
    hard_tree(&source);
    let (archive, output) = export(work.path(), "hard", &[&source], &[]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));

    let bag = gnu_extract(&archive, "hard");
    assert_standard_tools_accept(&archive, &bag);
    assert_files_identical(&source, &bag, "fs-hard");
    let verify = run(&["verify", archive.to_str().unwrap()]);
    assert_eq!(code(&verify), 0, "{}", all_text(&verify));

    let records = inventory(&bag);
    let path_of =
        |id: &[u8]| records.iter().find(|r| record_id(r) == id).and_then(|r| r["path"].as_str()).map(str::to_owned);
    assert_eq!(path_of(b"100%.txt").as_deref(), Some("data/fs-hard/100^25.txt"));
    assert_eq!(path_of(b"line\nfeed.txt").as_deref(), Some("data/fs-hard/line^0Afeed.txt"));
    assert_eq!(path_of(b"caret^name.txt").as_deref(), Some("data/fs-hard/caret^5Ename.txt"));
    let nfc = path_of("caf\u{e9}.txt".as_bytes()).unwrap();
    let nfd = path_of("cafe\u{301}.txt".as_bytes()).unwrap();
    assert_eq!(nfc, "data/fs-hard/caf\u{e9}.txt");
    assert_eq!(nfd, "data/fs-hard/cafe^CC^81.txt");
    let latin1 = records.iter().find(|r| r["id_hex"].is_string()).expect("the non-UTF-8 name keeps its bytes");
    assert_eq!(record_id(latin1), b"latin1-\xe9t\xe9.txt");
    assert_eq!(latin1["path"], "data/fs-hard/latin1-^E9t^E9.txt");
    let manifest = fs::read_to_string(bag.join("manifest-sha256.txt")).unwrap();
    assert!(!manifest.contains('%'), "payload paths are plain, so the manifest needs no escapes");

    let link = records.iter().find(|r| r["id"] == "link-to-file").unwrap();
    assert_eq!((link["kind"].as_str(), link["meta"]["target"].as_str()), (Some("symlink"), Some("with space.txt")));
    assert!(link["path"].is_null(), "a symlink is recorded, not archived as a member");
    assert!(!bag.join("data/fs-hard/link-outside").exists());
    assert!(bag.join("data/fs-hard/empty dir").is_dir());
    assert_eq!(fs::read(bag.join("data/fs-hard/empty.txt")).unwrap(), b"");
}

#[test]
fn follow_symlinks_archives_the_target_content() {
    let work = open_tempdir();
    let source = work.path().join("links");
    write_tree(&source, &[("real.txt", b"target bytes")]);
    std::os::unix::fs::symlink("real.txt", source.join("alias.txt")).unwrap();
    let (archive, output) = export(work.path(), "links", &[&source], &["--follow-symlinks"]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    let bag = gnu_extract(&archive, "links");
    assert_eq!(fs::read(bag.join("data/fs-links/alias.txt")).unwrap(), b"target bytes");
    assert_standard_tools_accept(&archive, &bag);
}

#[test]
fn an_unreadable_file_is_recorded_and_the_archive_stays_valid_but_incomplete() {
    let work = open_tempdir();
    let source = work.path().join("locked");
    write_tree(&source, &[("ok.txt", b"fine"), ("secret.txt", b"no access")]);
    set_mode(&source.join("secret.txt"), 0o000);
    let fifo = source.join("pipe");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    set_mode(&source, 0o755);

    let archive = work.path().join("locked.tar.zst");
    let output =
        run_unprivileged(&["export", source.to_str().unwrap(), "-o", archive.to_str().unwrap(), "--retries", "0"]);
    assert_eq!(code(&output), 3, "{}", all_text(&output));
    assert!(all_text(&output).contains("secret.txt"), "the failure is named: {}", all_text(&output));

    let bag = gnu_extract(&archive, "locked");
    assert_standard_tools_accept(&archive, &bag);
    assert_eq!(bag_info(&bag, "Sortie-Complete").as_deref(), Some("false"));
    let report = report(&bag);
    assert_eq!(report["complete"], false);
    let failure = &report["failures"][0];
    assert_eq!(failure["id"], "secret.txt");
    assert!(failure["error"].as_str().unwrap().contains("ermission denied"), "{failure}");
    let exclusion = &report["exclusions"][0];
    assert_eq!(
        (exclusion["id"].as_str(), exclusion["reason"].as_str()),
        (Some("pipe"), Some("not a regular file (fifo)"))
    );
    assert_eq!(fs::read(bag.join("data/fs-locked/ok.txt")).unwrap(), b"fine");

    let verify = run(&["verify", archive.to_str().unwrap()]);
    assert_eq!(code(&verify), 3, "intact but incomplete: {}", all_text(&verify));
}
