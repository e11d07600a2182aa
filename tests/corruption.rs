//! `sortie verify` must catch every kind of damage, exit 4 and name what is damaged.

mod common;

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use common::*;

/// A fresh complete archive of a small tree, with its sidecar.
fn fresh(work: &Path) -> PathBuf {
    let source = work.join("src");
    write_tree(
        &source,
        &[("alpha.txt", b"alpha alpha alpha\n"), ("beta/beta.bin", &noise(200_000, 7)), ("gamma.txt", b"gamma\n")],
    );
    let (archive, output) = export(work, "bag", &[&source], &[]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    archive
}

/// Rewrites the archive's tar stream, letting `edit` change or drop members, and removes
/// the sidecar (which could only say the file changed) so the check under test is the
/// one that speaks.
fn rewrite(archive: &Path, edit: impl FnMut(&str, &mut Vec<u8>) -> bool) {
    rewrite_adding(archive, edit, &[]);
}

/// [`rewrite`], then `extra` members appended after the last one.
fn rewrite_adding(archive: &Path, mut edit: impl FnMut(&str, &mut Vec<u8>) -> bool, extra: &[(&str, &[u8])]) {
    let mut tar_bytes = Vec::new();
    zstd::stream::read::Decoder::new(fs::File::open(archive).unwrap()).unwrap().read_to_end(&mut tar_bytes).unwrap();
    let mut input = tar::Archive::new(&tar_bytes[..]);
    let mut builder = tar::Builder::new(Vec::new());
    for entry in input.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        let mut header = entry.header().clone();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        if edit(&path, &mut data) {
            header.set_size(data.len() as u64);
            builder.append_data(&mut header, &path, &data[..]).unwrap();
        }
    }
    for (path, data) in extra {
        // The name written byte for byte, as an attacker would, past the `tar` crate's checks.
        let mut header = tar::Header::new_old();
        header.as_old_mut().name[..path.len()].copy_from_slice(path.as_bytes());
        header.set_entry_type(tar::EntryType::Regular);
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append(&header, *data).unwrap();
    }
    let tar_bytes = builder.into_inner().unwrap();
    let mut encoder = zstd::stream::write::Encoder::new(fs::File::create(archive).unwrap(), 3).unwrap();
    encoder.write_all(&tar_bytes).unwrap();
    encoder.finish().unwrap();
    fs::remove_file(sidecar(archive)).unwrap();
}

fn sidecar(archive: &Path) -> PathBuf {
    PathBuf::from(format!("{}.sha256", archive.display()))
}

/// Damages one bit in the middle of the compressed file, inside a zstd frame.
fn flip_middle_byte(archive: &Path) {
    let mut bytes = fs::read(archive).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    fs::write(archive, bytes).unwrap();
}

fn verify_fails_naming(archive: &Path, needles: &[&str]) {
    let output = run(&["verify", archive.to_str().unwrap()]);
    let text = all_text(&output);
    assert_eq!(code(&output), 4, "{text}");
    for needle in needles {
        assert!(text.contains(needle), "expected {needle:?} in:\n{text}");
    }
    let json = run(&["verify", archive.to_str().unwrap(), "--json"]);
    let value: serde_json::Value = serde_json::from_str(stdout(&json).trim()).unwrap();
    assert_eq!(value["intact"], false);
}

#[test]
fn a_flipped_byte_in_a_payload_member_is_named() {
    let work = open_tempdir();
    let archive = fresh(work.path());
    rewrite(&archive, |path, data| {
        if path.ends_with("beta/beta.bin") {
            data[100_000] ^= 0x01;
        }
        true
    });
    verify_fails_naming(&archive, &["data/fs-src/beta/beta.bin", "sha256 mismatch"]);
}

#[test]
fn a_flipped_byte_in_the_compressed_file_is_caught() {
    let work = open_tempdir();
    let archive = fresh(work.path());
    flip_middle_byte(&archive);
    verify_fails_naming(&archive, &["FAILED  sidecar: archive sha256 is"]);
    // Without the sidecar, the zstd frame checksums still catch it, inside a named member.
    fs::remove_file(sidecar(&archive)).unwrap();
    verify_fails_naming(&archive, &["truncated or corrupt", "FAILED  data/fs-src/beta/beta.bin"]);
}

#[test]
fn a_removed_member_is_named() {
    let work = open_tempdir();
    let archive = fresh(work.path());
    rewrite(&archive, |path, _| !path.ends_with("gamma.txt"));
    verify_fails_naming(&archive, &["data/fs-src/gamma.txt", "missing from the archive", "Payload-Oxum"]);
}

#[test]
fn an_added_member_is_named() {
    let work = open_tempdir();
    let archive = fresh(work.path());
    rewrite_adding(&archive, |_, _| true, &[("bag/data/fs-src/stray.txt", b"stray")]);
    verify_fails_naming(&archive, &["data/fs-src/stray.txt", "not listed in the manifest"]);
}

#[test]
fn a_truncated_archive_is_caught() {
    let work = open_tempdir();
    let archive = fresh(work.path());
    let len = fs::metadata(&archive).unwrap().len();
    fs::OpenOptions::new().write(true).open(&archive).unwrap().set_len(len * 2 / 3).unwrap();
    fs::remove_file(sidecar(&archive)).unwrap();
    verify_fails_naming(&archive, &["truncated or corrupt"]);
}

#[test]
fn an_edited_manifest_line_is_named() {
    let work = open_tempdir();
    let archive = fresh(work.path());
    rewrite(&archive, |path, data| {
        if path.ends_with("/manifest-sha256.txt") {
            let text = String::from_utf8(data.clone()).unwrap();
            let edited: String = text
                .lines()
                .map(|line| {
                    if line.ends_with("alpha.txt") {
                        format!("{}{}\n", "0".repeat(64), &line[64..])
                    } else {
                        format!("{line}\n")
                    }
                })
                .collect();
            *data = edited.into_bytes();
        }
        true
    });
    verify_fails_naming(&archive, &["data/fs-src/alpha.txt", "sha256 mismatch", "manifest-sha256.txt"]);
}

#[test]
fn a_mismatching_sidecar_is_named() {
    let work = open_tempdir();
    let archive = fresh(work.path());
    let name = archive.file_name().unwrap().to_str().unwrap();
    fs::write(sidecar(&archive), format!("{}  {name}\n", "ab".repeat(32))).unwrap();
    verify_fails_naming(&archive, &["sidecar", "abababab"]);
}

#[test]
fn verify_of_a_missing_file_is_a_usage_error() {
    let output = run(&["verify", "/nonexistent/x.tar.zst"]);
    assert_eq!(code(&output), 2, "{}", all_text(&output));
    assert!(stderr(&output).contains("cannot read the archive /nonexistent/x.tar.zst"));
}

/// Every regular file under `dir`.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[test]
fn extract_writes_only_what_the_manifest_confirms() {
    let work = open_tempdir();
    let archive = fresh(work.path());
    rewrite(&archive, |path, data| {
        if path.ends_with("gamma.txt") {
            *data = b"GAMMA\n".to_vec();
        }
        true
    });
    let target = work.path().join("out");
    let output = run(&["extract", archive.to_str().unwrap(), target.to_str().unwrap()]);
    let text = all_text(&output);
    assert_eq!(code(&output), 4, "{text}");
    assert!(text.contains("REFUSED  bag/data/fs-src/gamma.txt: not written"), "{text}");
    assert!(text.contains("data/fs-src/gamma.txt: sha256 mismatch"), "{text}");
    assert!(!target.join("bag/data/fs-src/gamma.txt").exists(), "a file that fails its manifest was written");
    assert_eq!(fs::read(target.join("bag/data/fs-src/alpha.txt")).unwrap(), b"alpha alpha alpha\n");
    assert!(target.join("bag/manifest-sha256.txt").exists());
    assert_eq!(fs::read_dir(&target).unwrap().count(), 1, "only the bag, no staging directory");
}

#[test]
fn extract_of_a_damaged_zstd_frame_names_the_member_and_writes_no_unverified_file() {
    let work = open_tempdir();
    let archive = fresh(work.path());
    flip_middle_byte(&archive);
    fs::remove_file(sidecar(&archive)).unwrap();
    let target = work.path().join("out");
    let output = run(&["extract", archive.to_str().unwrap(), target.to_str().unwrap()]);
    let text = all_text(&output);
    assert_eq!(code(&output), 4, "{text}");
    assert!(text.contains("data/fs-src/beta/beta.bin") && text.contains("corrupt"), "{text}");
    assert_eq!(files_under(&target), Vec::<PathBuf>::new(), "no file confirmed, none written: {text}");
}

#[test]
fn verify_refuses_every_path_extract_refuses() {
    let work = open_tempdir();
    let archive = fresh(work.path());
    let escaped: &[u8] = b"escaped\n";
    let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(escaped));
    rewrite_adding(
        &archive,
        |path, data| {
            if path.ends_with("/manifest-sha256.txt") {
                data.extend(format!("{digest}  data/../../escaped.txt\n").into_bytes());
            }
            true
        },
        &[("bag/data/../../escaped.txt", escaped)],
    );
    verify_fails_naming(&archive, &["bag/data/../../escaped.txt", "extract refuses it"]);
    let target = work.path().join("out");
    let output = run(&["extract", archive.to_str().unwrap(), target.to_str().unwrap()]);
    assert_eq!(code(&output), 4, "{}", all_text(&output));
    assert!(!work.path().join("escaped.txt").exists() && !target.join("escaped.txt").exists());
}
