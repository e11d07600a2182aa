//! `sortie extract` writes nothing outside the target, whatever the archive holds.

mod common;

use std::fs;
use std::io::Write;
use std::path::Path;

use common::*;

/// A tar header whose name is written byte for byte, bypassing the checks of the `tar`
/// crate, as an attacker would.
fn raw_header(name: &str, kind: tar::EntryType, size: u64, link: Option<&str>) -> tar::Header {
    let mut header = tar::Header::new_old();
    header.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
    if let Some(link) = link {
        header.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
    }
    header.set_entry_type(kind);
    header.set_size(size);
    header.set_mode(0o644);
    header.set_cksum();
    header
}

fn malicious_archive(path: &Path, outside: &Path) {
    let outside = outside.to_str().unwrap();
    let mut builder = tar::Builder::new(Vec::new());
    let mut add = |name: &str, kind, data: &[u8], link: Option<&str>| {
        builder.append(&raw_header(name, kind, data.len() as u64, link), data).unwrap();
    };
    add("good/ok.txt", tar::EntryType::Regular, b"fine", None);
    add("../escape.txt", tar::EntryType::Regular, b"evil", None);
    add(&format!("{outside}/absolute.txt"), tar::EntryType::Regular, b"evil", None);
    add("good/link", tar::EntryType::Symlink, b"", Some(outside));
    add("good/link/through.txt", tar::EntryType::Regular, b"evil", None);
    add("good/hard", tar::EntryType::Link, b"", Some("/etc/passwd"));
    add("good/./dot/../../../up.txt", tar::EntryType::Regular, b"evil", None);
    let mut encoder = zstd::stream::write::Encoder::new(fs::File::create(path).unwrap(), 3).unwrap();
    encoder.write_all(&builder.into_inner().unwrap()).unwrap();
    encoder.finish().unwrap();
}

#[test]
fn malicious_members_are_refused_and_nothing_lands_outside() {
    let work = open_tempdir();
    let outside = work.path().join("outside");
    fs::create_dir(&outside).unwrap();
    let target = work.path().join("target");
    let archive = work.path().join("evil.tar.zst");
    malicious_archive(&archive, &outside);

    let output = run(&["extract", archive.to_str().unwrap(), target.to_str().unwrap()]);
    let text = all_text(&output);
    assert_eq!(code(&output), 4, "{text}");
    assert_eq!(text.matches("REFUSED").count(), 1, "{text}");
    for member in [
        "good/link/through.txt: lies under good/link, which is a file member",
        "../escape.txt",
        "/outside/absolute.txt",
        "link: unexpected member type Symlink",
        "hard: unexpected member type Link",
        "good/./dot/../../../up.txt",
    ] {
        assert!(text.contains(member), "{member} not named: {text}");
    }
    // Not a bag: no manifest confirms even the harmless members, so none is written.
    assert!(text.contains("good/ok.txt: not written: its content is not confirmed"), "{text}");
    assert!(!target.join("good/ok.txt").exists());
    assert_eq!(fs::read_dir(&outside).unwrap().count(), 0, "nothing written outside");
    assert!(!work.path().join("escape.txt").exists());
    assert!(!work.path().join("up.txt").exists());
    assert!(fs::symlink_metadata(target.join("good/link")).is_err(), "no link created");
    assert!(!target.join("good/link/through.txt").exists());
    assert!(!target.join("good/hard").exists());
    let left: Vec<_> = fs::read_dir(&target).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left, ["good"], "no staging directory left behind");
}

#[test]
fn a_symlink_already_in_the_target_is_not_followed() {
    let work = open_tempdir();
    let outside = work.path().join("outside");
    fs::create_dir(&outside).unwrap();
    let source = work.path().join("src");
    write_tree(&source, &[("f.txt", b"x")]);
    let (archive, output) = export(work.path(), "bag", &[&source], &[]);
    assert_eq!(code(&output), 0);
    let target = work.path().join("target");
    fs::create_dir_all(target.join("bag")).unwrap();
    std::os::unix::fs::symlink(&outside, target.join("bag/data")).unwrap();

    let output = run(&["extract", archive.to_str().unwrap(), target.to_str().unwrap()]);
    assert_eq!(code(&output), 4, "{}", all_text(&output));
    assert!(all_text(&output).contains("crosses a symlink"));
    assert_eq!(fs::read_dir(&outside).unwrap().count(), 0, "nothing written through the link");
}

/// Someone who can write into the target swaps a directory that `extract` already made for a
/// link to a directory outside, while the (long) verification pass runs: the file meant for
/// that directory is refused, nothing lands outside.
#[test]
fn a_directory_swapped_for_a_link_during_extraction_is_never_followed() {
    let work = open_tempdir();
    let outside = work.path().join("outside");
    fs::create_dir(&outside).unwrap();
    let source = work.path().join("src");
    // Both large, so that a/ is staged while z/ is still read; one at a time, so that the
    // archive holds them in this order (fetched at once, the smaller may finish second).
    write_tree(&source, &[("a/a.bin", &noise(2 << 20, 8)), ("z/big.bin", &noise(48 << 20, 9))]);
    let (archive, output) = export(work.path(), "bag", &[&source], &["--zstd-level", "1", "--concurrency", "1"]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    let target = work.path().join("target");
    let child = sortie()
        .args(["extract", archive.to_str().unwrap(), target.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let made = target.join("bag/data/fs-src/a");
    let started = std::time::Instant::now();
    let staged = || {
        let staging =
            fs::read_dir(&target).ok()?.flatten().find(|e| e.file_name().to_string_lossy().starts_with(".sortie"))?;
        Some(fs::read_dir(staging.path()).ok()?.count())
    };
    while staged().unwrap_or(0) < 2 {
        assert!(started.elapsed() < std::time::Duration::from_secs(60), "extract never reached z/");
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    fs::rename(&made, target.join("moved-away")).unwrap();
    std::os::unix::fs::symlink(&outside, &made).unwrap();
    let output = child.wait_with_output().unwrap();
    let text = all_text(&output);
    assert_eq!(fs::read_dir(&outside).unwrap().count(), 0, "written through the link: {text}");
    assert_eq!(code(&output), 4, "{text}");
    assert!(
        text.contains("bag/data/fs-src/a/a.bin: not written: a symlink or a file now stands on its path"),
        "{text}"
    );
    assert!(fs::read(target.join("bag/data/fs-src/z/big.bin")).is_ok_and(|data| data.len() == 48 << 20));
}
