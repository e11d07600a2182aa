//! `sortie verify DIR`: a bag already extracted (by `extract` or GNU tar) is checked like an
//! archive: every payload file against the manifest, nothing missing or extra, the tag
//! manifest, Payload-Oxum; links are refused, never followed.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::*;

/// An archive of a small tree, extracted by `sortie extract` into `DIR/out`: (out, bag).
fn extracted(work: &Path) -> (PathBuf, PathBuf) {
    let source = work.join("src");
    write_tree(&source, &[("a.txt", b"alpha"), ("sub/b.txt", b"bravo"), ("sub/c.txt", b"charlie")]);
    let (archive, output) = export(work, "dirbag", &[&source], &[]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    let out = work.join("out");
    let output = run(&["extract", archive.to_str().unwrap(), out.to_str().unwrap()]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    let bag = out.join("dirbag");
    (out, bag)
}

fn verify(path: &Path) -> std::process::Output {
    run(&["verify", path.to_str().unwrap()])
}

#[test]
fn an_intact_extracted_bag_verifies_from_its_directory_or_the_one_above() {
    let work = open_tempdir();
    let (out, bag) = extracted(work.path());
    for dir in [&out, &bag] {
        let output = verify(dir);
        assert_eq!(code(&output), 0, "{}", all_text(&output));
        let text = stdout(&output);
        assert!(text.contains("sidecar   not applicable"), "{text}");
        assert!(text.contains("payload   3 files (17 B) and 1 directories"), "{text}");
    }
    let json: serde_json::Value =
        serde_json::from_str(&stdout(&run(&["verify", bag.to_str().unwrap(), "--json"]))).unwrap();
    assert_eq!(json["intact"], true);
    assert_eq!(json["result"]["sidecar"], "not_applicable");
}

#[test]
fn a_changed_byte_an_extra_file_a_missing_file_or_a_link_is_found() {
    let work = open_tempdir();
    let (_, bag) = extracted(work.path());
    let data = bag.join("data/fs-src");
    let check = |what: &str, needle: &str| {
        let output = verify(&bag);
        assert_eq!(code(&output), 4, "{what}: {}", all_text(&output));
        assert!(stdout(&output).contains(needle), "{what}: {}", stdout(&output));
        assert!(stdout(&output).contains("intact    NO"), "{what}: {}", stdout(&output));
    };

    let original = fs::read(data.join("a.txt")).unwrap();
    fs::write(data.join("a.txt"), b"alphA").unwrap();
    check("corrupt byte", "data/fs-src/a.txt: sha256 mismatch");
    fs::write(data.join("a.txt"), &original).unwrap();
    assert_eq!(code(&verify(&bag)), 0);

    fs::write(data.join("sub/extra.txt"), b"x").unwrap();
    check("extra file", "data/fs-src/sub/extra.txt: payload file is not listed in the manifest");
    fs::remove_file(data.join("sub/extra.txt")).unwrap();

    fs::remove_file(data.join("sub/b.txt")).unwrap();
    check("deleted file", "data/fs-src/sub/b.txt: listed in the manifest but missing");

    // The file put back as a link to an identical file outside: refused, not followed.
    let outside = work.path().join("b.txt");
    fs::write(&outside, b"bravo").unwrap();
    std::os::unix::fs::symlink(&outside, data.join("sub/b.txt")).unwrap();
    check("symlink", "data/fs-src/sub/b.txt: is a symbolic link");
}

#[test]
fn an_edited_tag_file_is_damage_and_a_directory_without_a_bag_bad_input() {
    let work = open_tempdir();
    let (_, bag) = extracted(work.path());
    let info = fs::read_to_string(bag.join("bag-info.txt")).unwrap();
    fs::write(bag.join("bag-info.txt"), info.replace("Sortie-Complete: true", "Sortie-Complete: fals")).unwrap();
    let output = verify(&bag);
    assert_eq!(code(&output), 4, "{}", all_text(&output));
    assert!(stdout(&output).contains("bag-info.txt: sha256 mismatch: tag manifest says"), "{}", stdout(&output));

    let empty = work.path().join("empty");
    fs::create_dir(&empty).unwrap();
    let output = verify(&empty);
    assert_eq!(code(&output), 2, "a wrong path, as for an archive that cannot be opened: {}", all_text(&output));
    assert!(stderr(&output).contains("not a BagIt bag"), "{}", stderr(&output));
}

#[test]
fn files_and_directories_this_user_cannot_read_are_named_and_the_rest_checked() {
    let work = open_tempdir();
    let (_, bag) = extracted(work.path());
    // As a 0600 file `extract` restored for its owner is to anyone else.
    set_mode(&bag.join("data/fs-src/a.txt"), 0o000);
    set_mode(&bag.join("data/fs-src/sub"), 0o000);
    set_mode(&bag.join("sortie/report.json"), 0o000);
    let output = run_unprivileged(&["verify", bag.to_str().unwrap()]);
    assert_eq!(code(&output), 4, "not verified, not a wrong path: {}", all_text(&output));
    let text = stdout(&output);
    for unread in ["data/fs-src/a.txt: cannot be read", "data/fs-src/sub: directory cannot be read"] {
        assert!(text.contains(&format!("FAILED  {unread}: ")), "{unread}: {text}");
    }
    assert!(text.contains("FAILED  sortie/report.json: cannot be read: "), "{text}");
    assert!(!text.contains("bag-info.txt: sha256 mismatch"), "the readable tag files are still checked: {text}");
}
