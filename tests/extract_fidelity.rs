//! `sortie extract` gives back the files as they were at the source (permission bits,
//! modification times), replaces existing files only with `--force`, and refuses a bad
//! target or archive before creating anything.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, SystemTime};

use common::*;

fn set_mtime(path: &Path, seconds: u64) {
    let file = if path.is_dir() { fs::File::open(path) } else { fs::File::options().write(true).open(path) }.unwrap();
    file.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(seconds)).unwrap();
}

fn mode(path: &Path) -> u32 {
    fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
}

fn mtime(path: &Path) -> SystemTime {
    fs::symlink_metadata(path).unwrap().modified().unwrap()
}

fn extract(archive: &Path, target: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["extract", archive.to_str().unwrap(), target.to_str().unwrap()];
    args.extend(extra);
    run(&args)
}

#[test]
fn modes_and_mtimes_of_files_and_directories_come_back_without_setuid() {
    let work = open_tempdir();
    let source = work.path().join("src");
    write_tree(
        &source,
        &[("secret.txt", b"only me"), ("bin/tool.sh", b"#!/bin/sh\n"), ("suid", b"x"), ("plain", b"p")],
    );
    for (name, mode) in [("secret.txt", 0o600), ("bin/tool.sh", 0o755), ("suid", 0o4755), ("plain", 0o644)] {
        fs::set_permissions(source.join(name), fs::Permissions::from_mode(mode)).unwrap();
    }
    set_mtime(&source.join("secret.txt"), 1_500_000_000);
    set_mtime(&source.join("bin/tool.sh"), 1_600_000_123);
    fs::set_permissions(source.join("bin"), fs::Permissions::from_mode(0o700)).unwrap();
    set_mtime(&source.join("bin"), 1_400_000_000);
    let (archive, output) = export(work.path(), "modes", &[&source], &[]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));

    let target = work.path().join("out");
    let output = extract(&archive, &target, &[]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    assert!(stdout(&output).contains("payload   4 files (19 B) and 1 directories"), "{}", stdout(&output));
    assert!(stdout(&output).contains(" files (") && stdout(&output).contains(" KiB) into "), "{}", stdout(&output));
    let data = target.join("modes/data/fs-src");
    assert_eq!(mode(&data.join("secret.txt")), 0o600, "a 0600 file must not come back readable by others");
    assert_eq!(mode(&data.join("bin/tool.sh")), 0o755);
    assert_eq!(mode(&data.join("suid")), 0o755, "setuid is never restored");
    assert_eq!(mode(&data.join("plain")), 0o644);
    for name in ["secret.txt", "bin/tool.sh", "suid", "plain"] {
        let source_time = mtime(&source.join(name)).duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
        let extracted = mtime(&data.join(name)).duration_since(SystemTime::UNIX_EPOCH).unwrap();
        assert_eq!(extracted.as_secs(), source_time, "{name}: mtime to the second");
    }
    assert_eq!(mtime(&data.join("secret.txt")), SystemTime::UNIX_EPOCH + Duration::from_secs(1_500_000_000));
    assert_eq!(mode(&data.join("bin")), 0o700, "directories get their mode too");
    assert_eq!(mtime(&data.join("bin")), SystemTime::UNIX_EPOCH + Duration::from_secs(1_400_000_000));
}

#[test]
fn existing_files_are_refused_with_a_hint_and_replaced_with_force() {
    let work = open_tempdir();
    let source = work.path().join("src");
    write_tree(&source, &[("a.txt", b"original"), ("b.txt", b"bee")]);
    let (archive, output) = export(work.path(), "again", &[&source], &[]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    let target = work.path().join("out");
    assert_eq!(code(&extract(&archive, &target, &[])), 0);
    let a = target.join("again/data/fs-src/a.txt");
    let b = target.join("again/data/fs-src/b.txt");
    fs::write(&a, b"edited").unwrap();
    // A link where a file was: replaced itself with --force, never written through.
    let outside = work.path().join("outside.txt");
    fs::write(&outside, b"keep me").unwrap();
    fs::remove_file(&b).unwrap();
    std::os::unix::fs::symlink(&outside, &b).unwrap();

    let output = extract(&archive, &target, &[]);
    assert_eq!(code(&output), 4, "{}", all_text(&output));
    let refused = stderr(&output);
    assert!(
        refused.contains("REFUSED") && refused.contains("a.txt: already exists") && refused.contains("--force"),
        "{refused}"
    );
    assert!(!stdout(&output).contains("REFUSED"), "refusals go to stderr: {}", stdout(&output));
    assert!(stdout(&output).contains("extracted"), "the summary stays on stdout: {}", stdout(&output));
    assert_eq!(fs::read(&a).unwrap(), b"edited", "not overwritten without --force");

    let output = extract(&archive, &target, &["--force"]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    // Two payload files (as `verify` counts them, printed just above) and the tag files.
    let printed = stdout(&output);
    assert!(printed.contains("payload   2 files"), "{printed}");
    assert!(
        printed.contains("into") && printed.contains("the payload and the bag's tag files"),
        "the count above 2 is explained: {printed}"
    );
    assert_eq!(fs::read(&a).unwrap(), b"original");
    assert!(fs::symlink_metadata(&b).unwrap().is_file(), "the link itself was replaced");
    assert_eq!(fs::read(&b).unwrap(), b"bee");
    assert_eq!(fs::read(&outside).unwrap(), b"keep me", "nothing written through the link");
}

#[test]
fn a_target_that_is_a_file_or_a_missing_archive_is_refused_before_anything_is_created() {
    let work = open_tempdir();
    let source = work.path().join("src");
    write_tree(&source, &[("a.txt", b"a")]);
    let (archive, output) = export(work.path(), "t", &[&source], &[]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));

    let file = work.path().join("a-file");
    fs::write(&file, b"mine").unwrap();
    let output = extract(&archive, &file, &[]);
    assert_eq!(code(&output), 2, "{}", all_text(&output));
    assert!(stderr(&output).contains("is not a directory"), "{}", stderr(&output));
    assert_eq!(fs::read(&file).unwrap(), b"mine");
    // A link to nothing is no directory either: not followed to create its target.
    let dangling = work.path().join("dangling");
    std::os::unix::fs::symlink(work.path().join("nowhere"), &dangling).unwrap();
    let output = extract(&archive, &dangling, &[]);
    assert_eq!(code(&output), 2, "{}", all_text(&output));
    assert!(stderr(&output).contains("is not a directory"), "{}", stderr(&output));
    assert!(!work.path().join("nowhere").exists());

    let target = work.path().join("never");
    let output = extract(&work.path().join("missing.tar.zst"), &target, &[]);
    let verify = run(&["verify", work.path().join("missing.tar.zst").to_str().unwrap()]);
    assert_eq!(code(&output), 2, "{}", all_text(&output));
    assert_eq!(code(&output), code(&verify), "the same exit code as verify");
    assert!(stderr(&output).contains("cannot read the archive"), "{}", stderr(&output));
    assert!(!target.exists(), "nothing created");
}

#[test]
fn extract_and_report_help_show_the_exit_codes() {
    for command in ["extract", "report", "verify"] {
        let output = run(&[command, "--help"]);
        assert_eq!(code(&output), 0);
        assert!(stdout(&output).contains("Exit codes:\n  0    complete"), "{command}: {}", stdout(&output));
    }
    assert!(stdout(&run(&["extract", "--help"])).contains("--force"));
}
