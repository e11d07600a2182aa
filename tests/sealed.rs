//! Archives encrypted to the customer's key (`--encrypt-to`, `-R`) and cut into volumes
//! (`--volume-size`), opened exactly as the README says, with the real `age`, `cat`, `tar`
//! and `sha256sum`, and by `sortie verify/ls/extract -i`; and what a wrong key, a missing
//! identity, a tampered file, a missing or reordered volume get.

mod common;

use std::fs;
use std::path::Path;

use common::*;

/// A source with a large member (a streamed frame of its own) and small ones, one of them
/// holding a word that must never be readable in the encrypted file.
fn source(dir: &Path) -> std::path::PathBuf {
    let source = dir.join("src");
    let large = noise(300_000, 7);
    write_tree(
        &source,
        &[("notes/secret.txt", b"PLAINTEXT-CANARY the customer's words\n"), ("big.bin", &large), ("a/b.txt", b"b")],
    );
    source
}

fn sh(script: &str, dir: &Path) -> std::process::Output {
    tool("sh", &["-c", script], dir)
}

fn assert_sh(script: &str, dir: &Path) {
    let output = sh(script, dir);
    assert!(output.status.success(), "{script} failed:\n{}", all_text(&output));
}

/// `age-keygen -o key.txt`; returns the recipient (`age1…`).
fn age_key(dir: &Path, name: &str) -> String {
    assert_tool_ok("age-keygen", &["-o", name], dir);
    let output = tool("age-keygen", &["-y", name], dir);
    stdout(&output).trim().to_owned()
}

fn ssh_key(dir: &Path, name: &str, kind: &str) -> String {
    assert_tool_ok("ssh-keygen", &["-q", "-t", kind, "-N", "", "-f", name], dir);
    fs::read_to_string(dir.join(format!("{name}.pub"))).unwrap().trim().to_owned()
}

fn in_dir(dir: &Path, args: &[&str]) -> std::process::Output {
    sortie().args(args).current_dir(dir).output().unwrap()
}

/// Exports [`source`] to `DIR/out.tar.zst` with `options`, which must succeed; returns the
/// source and the output.
fn exported(dir: &Path, options: &[&str]) -> (std::path::PathBuf, std::process::Output) {
    let source = source(dir);
    let output = in_dir(dir, &[&["export", source.to_str().unwrap(), "-o", "out.tar.zst"], options].concat());
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    (source, output)
}

#[test]
fn an_encrypted_archive_opens_with_age_and_tar_and_its_sidecar_covers_the_encrypted_file() {
    let work = open_tempdir();
    let dir = work.path();
    let recipient = age_key(dir, "key.txt");
    let (source, output) = exported(dir, &["--encrypt-to", &recipient]);
    assert!(stdout(&output).contains("out.tar.zst.age"), "{}", stdout(&output));
    assert!(!dir.join("out.tar.zst").exists(), "no unencrypted archive is written");
    let sealed = fs::read(dir.join("out.tar.zst.age")).unwrap();
    assert!(sealed.starts_with(b"age-encryption.org/v1\n"));
    assert!(!sealed.windows(17).any(|w| w == b"PLAINTEXT-CANARY "), "plaintext in the encrypted file");
    // A carrier checks the file without the key.
    assert_sh("sha256sum -c out.tar.zst.age.sha256", dir);
    // The customer opens it without Sortie, as the README writes it.
    assert_sh("age -d -i key.txt out.tar.zst.age | tar --zstd -x", dir);
    assert_files_identical(&source, &dir.join("out"), "fs-src");
    assert_tool_ok("bagit.py", &["--validate", "out"], dir);

    let verified = in_dir(dir, &["verify", "out.tar.zst.age", "-i", "key.txt"]);
    assert_eq!(code(&verified), 0, "{}", all_text(&verified));
    assert!(stdout(&verified).contains("sidecar   matches"), "{}", stdout(&verified));
    let listed = in_dir(dir, &["ls", "out.tar.zst.age", "-i", "key.txt"]);
    assert_eq!(code(&listed), 0, "{}", all_text(&listed));
    assert!(stdout(&listed).contains("out/data/fs-src/notes/secret.txt"));
    let extracted = in_dir(dir, &["extract", "out.tar.zst.age", "-i", "key.txt", "x"]);
    assert_eq!(code(&extracted), 0, "{}", all_text(&extracted));
    assert_files_identical(&source, &dir.join("x/out"), "fs-src");
    let report = in_dir(dir, &["report", "out.tar.zst.age", "--identity", "key.txt"]);
    assert_eq!(code(&report), 0, "{}", all_text(&report));
}

#[test]
fn ssh_keys_and_a_recipients_file_each_open_the_archive() {
    let work = open_tempdir();
    let dir = work.path();
    let ed25519 = ssh_key(dir, "id_ed25519", "ed25519");
    let rsa = ssh_key(dir, "id_rsa", "rsa");
    let age = age_key(dir, "key.txt");
    fs::write(dir.join("recipients.txt"), format!("# the escrow agent\n{rsa}\n\n{age}\n")).unwrap();
    let (source, _) = exported(dir, &["--encrypt-to", &ed25519, "-R", "recipients.txt"]);
    for key in ["id_ed25519", "id_rsa", "key.txt"] {
        let bag = format!("with-{key}");
        assert_sh(&format!("mkdir {bag} && age -d -i {key} out.tar.zst.age | tar --zstd -x -C {bag}"), dir);
        assert_files_identical(&source, &dir.join(&bag).join("out"), "fs-src");
        let verified = in_dir(dir, &["verify", "out.tar.zst.age", "-i", key]);
        assert_eq!(code(&verified), 0, "{key}: {}", all_text(&verified));
    }
}

#[test]
fn a_recipient_that_is_not_one_is_refused_before_any_work() {
    let work = open_tempdir();
    let dir = work.path();
    let source = source(dir);
    let output = in_dir(dir, &["export", source.to_str().unwrap(), "-o", "out.tar.zst", "--encrypt-to", "age1nope"]);
    assert_eq!(code(&output), 2, "{}", all_text(&output));
    assert!(stderr(&output).contains("is not a recipient"), "{}", stderr(&output));
    fs::write(dir.join("r.txt"), "ssh-dss AAAAB3NzaC1kc3MAAACBAP\n").unwrap();
    let output = in_dir(dir, &["export", source.to_str().unwrap(), "-o", "out.tar.zst", "-R", "r.txt"]);
    assert_eq!(code(&output), 2, "{}", all_text(&output));
    assert!(stderr(&output).contains("r.txt, line 1"), "{}", stderr(&output));
    assert!(fs::read_dir(dir).unwrap().all(|e| !e.unwrap().file_name().to_string_lossy().starts_with("out")));
}

#[test]
fn a_missing_or_wrong_identity_is_refused_and_nothing_is_extracted() {
    let work = open_tempdir();
    let dir = work.path();
    let recipient = age_key(dir, "key.txt");
    age_key(dir, "other.txt");
    fs::write(dir.join("junk.txt"), "not a key\n").unwrap();
    exported(dir, &["--encrypt-to", &recipient]);

    let none = in_dir(dir, &["verify", "out.tar.zst.age"]);
    assert_eq!(code(&none), 2, "{}", all_text(&none));
    assert!(stderr(&none).contains("is encrypted with age: give the identity that opens it with -i KEY"));
    let wrong = in_dir(dir, &["verify", "out.tar.zst.age", "-i", "other.txt"]);
    assert_eq!(code(&wrong), 2, "{}", all_text(&wrong));
    assert!(stderr(&wrong).contains("no identity given with -i opens out.tar.zst.age"), "{}", stderr(&wrong));
    let junk = in_dir(dir, &["ls", "out.tar.zst.age", "-i", "junk.txt"]);
    assert_eq!(code(&junk), 2, "{}", all_text(&junk));
    assert!(stderr(&junk).contains("identity junk.txt: not an age identity file"), "{}", stderr(&junk));
    let extract = in_dir(dir, &["extract", "out.tar.zst.age", "-i", "other.txt", "target"]);
    assert_eq!(code(&extract), 2, "{}", all_text(&extract));
    assert!(!dir.join("target").exists(), "extract created its target for an archive it cannot open");
    // The age tool agrees.
    assert!(!sh("age -d -i other.txt out.tar.zst.age > /dev/null", dir).status.success());
}

#[test]
fn a_tampered_encrypted_file_fails_the_sidecar_age_and_verify() {
    let work = open_tempdir();
    let dir = work.path();
    let recipient = age_key(dir, "key.txt");
    exported(dir, &["--encrypt-to", &recipient]);
    let path = dir.join("out.tar.zst.age");
    let mut bytes = fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    fs::write(&path, bytes).unwrap();

    assert!(!sh("sha256sum -c out.tar.zst.age.sha256", dir).status.success());
    assert!(!sh("age -d -i key.txt out.tar.zst.age > /dev/null", dir).status.success());
    let verified = in_dir(dir, &["verify", "out.tar.zst.age", "-i", "key.txt"]);
    assert_eq!(code(&verified), 4, "{}", all_text(&verified));
    assert!(all_text(&verified).contains("damaged or was tampered with"), "{}", all_text(&verified));
    assert!(stdout(&verified).contains("FAILED  sidecar"), "{}", stdout(&verified));
    let extracted = in_dir(dir, &["extract", "out.tar.zst.age", "-i", "key.txt", "x"]);
    assert_eq!(code(&extracted), 4, "{}", all_text(&extracted));
    assert!(all_text(&extracted).contains("damaged or was tampered with"), "{}", all_text(&extracted));
}

#[test]
fn volumes_join_with_cat_and_are_each_listed_in_the_sidecar() {
    let work = open_tempdir();
    let dir = work.path();
    let (source, _) = exported(dir, &["--volume-size", "64K"]);
    assert!(!dir.join("out.tar.zst").exists());
    let volumes: Vec<_> = (1..).map(|n| dir.join(format!("out.tar.zst.{n:03}"))).take_while(|p| p.exists()).collect();
    assert!(volumes.len() >= 5, "300 KB of noise in 64 KiB volumes: {} volumes", volumes.len());
    for volume in &volumes {
        assert!(fs::metadata(volume).unwrap().len() <= 64 * 1024, "{} is larger than 64K", volume.display());
    }
    let sidecar = fs::read_to_string(dir.join("out.tar.zst.sha256")).unwrap();
    assert_eq!(sidecar.lines().count(), volumes.len(), "{sidecar}");
    assert!(sidecar.lines().next().unwrap().ends_with("  out.tar.zst.001"));
    assert_sh("sha256sum -c out.tar.zst.sha256", dir);
    assert_sh("cat out.tar.zst.[0-9]* | tar --zstd -x", dir);
    assert_files_identical(&source, &dir.join("out"), "fs-src");

    for given in ["out.tar.zst.001", "out.tar.zst"] {
        let verified = in_dir(dir, &["verify", given]);
        assert_eq!(code(&verified), 0, "{given}: {}", all_text(&verified));
        assert!(stdout(&verified).contains("sidecar   matches"));
    }
    let extracted = in_dir(dir, &["extract", "out.tar.zst.001", "x"]);
    assert_eq!(code(&extracted), 0, "{}", all_text(&extracted));
    assert_files_identical(&source, &dir.join("x/out"), "fs-src");
}

#[test]
fn encrypted_volumes_join_with_cat_and_open_with_age() {
    let work = open_tempdir();
    let dir = work.path();
    let recipient = age_key(dir, "key.txt");
    let (source, _) = exported(dir, &["--encrypt-to", &recipient, "--volume-size", "100K"]);
    assert!(dir.join("out.tar.zst.age.003").exists());
    assert_sh("sha256sum -c out.tar.zst.age.sha256", dir);
    assert_sh("cat out.tar.zst.age.[0-9]* | age -d -i key.txt | tar --zstd -x", dir);
    assert_files_identical(&source, &dir.join("out"), "fs-src");
    let verified = in_dir(dir, &["verify", "out.tar.zst.age.001", "-i", "key.txt"]);
    assert_eq!(code(&verified), 0, "{}", all_text(&verified));
}

#[test]
fn a_missing_or_reordered_volume_is_named() {
    let work = open_tempdir();
    let dir = work.path();
    let source = source(dir);
    let recipient = age_key(dir, "key.txt");
    for (name, extra) in [("plain", vec![]), ("sealed", vec!["--encrypt-to", recipient.as_str()])] {
        let mut args = vec!["export", source.to_str().unwrap(), "-o"];
        let output_name = format!("{name}.tar.zst");
        args.push(&output_name);
        args.extend(["--volume-size", "64K"]);
        args.extend(extra.iter().copied());
        let output = in_dir(dir, &args);
        assert_eq!(code(&output), 0, "{}", all_text(&output));
        let set = if name == "sealed" { "sealed.tar.zst.age" } else { "plain.tar.zst" };
        let volume = |n: u32| dir.join(format!("{set}.{n:03}"));

        fs::rename(volume(2), dir.join("aside")).unwrap();
        fs::rename(volume(3), volume(2)).unwrap();
        fs::rename(dir.join("aside"), volume(3)).unwrap();
        let named = format!("{set}.002 holds the bytes the sidecar lists for {set}.003");
        for command in ["verify", "ls"] {
            let checked = in_dir(dir, &[command, &format!("{set}.001"), "-i", "key.txt"]);
            assert_eq!(code(&checked), 4, "{command} {set}: {}", all_text(&checked));
            assert!(all_text(&checked).contains(&named), "{command} {set}: {}", all_text(&checked));
        }

        fs::remove_file(volume(3)).unwrap();
        let missing = format!("volume {set}.003 is missing");
        for command in ["verify", "ls", "extract"] {
            let mut args = vec![command, set, "-i", "key.txt"];
            if command == "extract" {
                args.push("x");
            }
            let checked = in_dir(dir, &args);
            assert_eq!(code(&checked), 4, "{command} {set}: {}", all_text(&checked));
            assert!(stderr(&checked).contains(&missing), "{command} {set}: {}", all_text(&checked));
        }
        assert!(!dir.join("x").exists());
        // Without the sidecar, the gap is still seen.
        fs::remove_file(dir.join(format!("{set}.sha256"))).unwrap();
        let checked = in_dir(dir, &["verify", set, "-i", "key.txt"]);
        assert_eq!(code(&checked), 4, "{}", all_text(&checked));
        assert!(stderr(&checked).contains(&missing), "{}", all_text(&checked));
    }
}

#[test]
fn a_stopped_export_leaves_no_volume_behind() {
    use std::process::Stdio;
    use std::time::{Duration, Instant};
    let work = open_tempdir();
    let dir = work.path();
    let source = dir.join("src");
    let files: Vec<(String, Vec<u8>)> = (0..4).map(|i| (format!("f{i}.bin"), noise(8 << 20, i))).collect();
    let files: Vec<(&str, &[u8])> = files.iter().map(|(name, data)| (name.as_str(), &data[..])).collect();
    write_tree(&source, &files);
    let recipient = age_key(dir, "key.txt");
    let child = sortie()
        .args(["export", source.to_str().unwrap(), "-o", "stopped.tar.zst", "--encrypt-to", &recipient])
        .args(["--volume-size", "1M", "--concurrency", "1", "--zstd-level", "19", "--zstd-threads", "1"])
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !dir.join("stopped.tar.zst.age.003.partial").exists() {
        assert!(started.elapsed() < Duration::from_secs(120), "the export never reached its third volume");
        std::thread::sleep(Duration::from_millis(5));
    }
    // SAFETY: kill sends a signal to the child we started.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    let output = child.wait_with_output().unwrap();
    assert_eq!(code(&output), 143, "{}", all_text(&output));
    let left: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("stopped"))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    assert!(all_text(&output).contains("cannot be resumed"), "{}", all_text(&output));

    // Nothing was kept, and --resume says why it does not apply.
    let again = sortie()
        .args(["export", source.to_str().unwrap(), "-o", "stopped.tar.zst", "--encrypt-to", &recipient, "--resume"])
        .current_dir(dir)
        .output()
        .unwrap();
    assert_eq!(code(&again), 2, "{}", all_text(&again));
    assert!(all_text(&again).contains("--encrypt-to"), "{}", all_text(&again));
}

#[test]
fn an_endless_age_header_is_refused_without_being_read_whole() {
    let work = open_tempdir();
    let dir = work.path();
    age_key(dir, "key.txt");
    let stanza = format!("-> X25519 {}\n{}\n", "A".repeat(43), "B".repeat(43));
    fs::write(dir.join("huge.tar.zst.age"), format!("age-encryption.org/v1\n{}", stanza.repeat(100_000))).unwrap();
    let verified = in_dir(dir, &["verify", "huge.tar.zst.age", "-i", "key.txt"]);
    assert_eq!(code(&verified), 4, "{}", all_text(&verified));
    assert!(stderr(&verified).contains("the age header of huge.tar.zst.age"), "{}", all_text(&verified));
}
