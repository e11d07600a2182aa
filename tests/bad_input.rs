//! Bad input gets a clear message, a non-zero exit, and never a file that looks like a
//! complete archive.

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;

use common::*;

fn no_archive_in(dir: &Path) {
    for entry in fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            !name.ends_with(".tar.zst")
                && !name.ends_with(".partial")
                && !name.ends_with(".sha256")
                && !name.ends_with(".report.html"),
            "left behind: {name}"
        );
    }
}

#[test]
fn a_missing_source_is_a_usage_error_before_anything_is_written() {
    let work = open_tempdir();
    let (_, output) = export(work.path(), "x", &[&work.path().join("nope")], &[]);
    assert_eq!(code(&output), 2, "{}", all_text(&output));
    assert!(stderr(&output).contains("does not exist"), "{}", stderr(&output));
    no_archive_in(work.path());
}

#[test]
fn an_unknown_scheme_lists_the_known_ones() {
    let work = open_tempdir();
    let archive = work.path().join("x.tar.zst");
    let output = run(&["export", "gopher://host/x", "-o", archive.to_str().unwrap()]);
    assert_eq!(code(&output), 2);
    assert!(stderr(&output).contains("unknown scheme 'gopher'"), "{}", stderr(&output));
    assert!(stderr(&output).contains("file"));
    let output = run(&["export", "file://relative/path", "-o", archive.to_str().unwrap()]);
    assert_eq!(code(&output), 2);
    assert!(stderr(&output).contains("file:///absolute/path"), "{}", stderr(&output));
    no_archive_in(work.path());
}

#[test]
fn an_existing_output_needs_force() {
    let work = open_tempdir();
    let source = work.path().join("src");
    write_tree(&source, &[("a.txt", b"a")]);
    let archive = work.path().join("out.tar.zst");
    fs::write(&archive, b"precious").unwrap();
    let (_, output) = export(work.path(), "out", &[&source], &[]);
    assert_eq!(code(&output), 2);
    assert!(stderr(&output).contains("already exists: pass --force"), "{}", stderr(&output));
    assert_eq!(fs::read(&archive).unwrap(), b"precious");

    let (_, output) = export(work.path(), "out", &[&source], &["--force"]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    assert_eq!(code(&run(&["verify", archive.to_str().unwrap()])), 0);
}

#[test]
fn an_unwritable_or_missing_output_directory_fails_before_any_transfer() {
    let work = open_tempdir();
    let source = work.path().join("src");
    write_tree(&source, &[("a.txt", b"a")]);
    let locked = work.path().join("locked");
    fs::create_dir(&locked).unwrap();
    set_mode(&locked, 0o555);
    let target = locked.join("out.tar.zst");
    let output = run_unprivileged(&["export", source.to_str().unwrap(), "-o", target.to_str().unwrap()]);
    assert_eq!(code(&output), 2, "{}", all_text(&output));
    assert!(stderr(&output).contains("cannot write in the output directory"), "{}", stderr(&output));
    no_archive_in(&locked);

    let missing = work.path().join("missing/out.tar.zst");
    let output = run(&["export", source.to_str().unwrap(), "-o", missing.to_str().unwrap()]);
    assert_eq!(code(&output), 2);
    assert!(stderr(&output).contains("does not exist: create it first"), "{}", stderr(&output));
}

#[test]
fn a_full_disk_fails_cleanly_with_no_archive_left() {
    if !is_root() {
        eprintln!("skipped: mounting a small tmpfs needs root (CI runs as root)");
        return;
    }
    let work = open_tempdir();
    let source = work.path().join("src");
    write_tree(&source, &[("big.bin", &noise(2 << 20, 3)), ("small.txt", b"small")]);
    let disk = work.path().join("disk");
    fs::create_dir(&disk).unwrap();
    let mounted = Command::new("mount").args(["-t", "tmpfs", "-o", "size=512k", "tmpfs"]).arg(&disk).status().unwrap();
    assert!(mounted.success(), "mount a 512 KiB tmpfs");
    let (_, output) = export(&disk, "full", &[&source], &["--json"]);
    let text = all_text(&output);
    let listing: Vec<String> =
        fs::read_dir(&disk).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert!(Command::new("umount").arg(&disk).status().unwrap().success());
    assert_eq!(code(&output), 1, "{text}");
    assert!(text.contains("No space left on device"), "{text}");
    assert!(text.contains("no archive was written"), "{text}");
    assert!(listing.is_empty(), "left behind on the full disk: {listing:?}");
    let failure = json_outcome(&output);
    assert_eq!(failure["type"], "summary", "{failure}");
    assert_eq!((failure["ok"].as_bool(), failure["exit_code"].as_i64()), (Some(false), Some(1)), "{failure}");
    assert_eq!(failure["error"]["kind"], "failed");
    assert!(failure["error"]["message"].as_str().unwrap().contains("No space left on device"), "{failure}");
}

#[test]
fn bad_arguments_are_usage_errors() {
    let output = run(&["export", "-o", "/tmp/x.tar.zst"]);
    assert_eq!(code(&output), 2, "a source is required");
    let output = run(&["export", ".", "-o", "/tmp/x.tar.zst", "--zstd-level", "40"]);
    assert_eq!(code(&output), 2);
    let help = run(&["export", "--help"]);
    assert!(stdout(&help).contains("3    incomplete"), "exit codes are in --help");
}
