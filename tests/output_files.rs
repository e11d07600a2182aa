//! What an export leaves on disk: an archive and sidecar only its owner can read, and a
//! resumable partial archive, never one under the final name, when SIGINT, SIGTERM or
//! SIGHUP stops it (`timeout`, systemd, Kubernetes).

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn the_archive_and_its_sidecar_are_readable_by_their_owner_only() {
    let work = open_tempdir();
    let source = work.path().join("src");
    write_tree(&source, &[("a.txt", b"private")]);
    let archive = work.path().join("out.tar.zst");
    // A leftover partial file from an earlier crash, world-readable.
    fs::write(work.path().join("out.tar.zst.partial"), b"old").unwrap();
    set_mode(&work.path().join("out.tar.zst.partial"), 0o644);
    let mut command = sortie();
    command.args(["export", source.to_str().unwrap(), "-o", archive.to_str().unwrap()]);
    // SAFETY: umask is async-signal-safe and only changes the child's mask.
    unsafe {
        command.pre_exec(|| {
            libc::umask(0);
            Ok(())
        });
    }
    let output = command.output().unwrap();
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    assert_eq!(mode(&archive), 0o600);
    assert_eq!(mode(&work.path().join("out.tar.zst.sha256")), 0o600);
}

#[test]
fn a_link_planted_where_the_partial_files_go_is_never_followed() {
    let work = open_tempdir();
    let source = work.path().join("src");
    write_tree(&source, &[("a.txt", b"private")]);
    fs::write(work.path().join("victim"), b"precious").unwrap();
    let archive = work.path().join("out.tar.zst");
    std::os::unix::fs::symlink(work.path().join("victim"), work.path().join("out.tar.zst.partial")).unwrap();
    std::os::unix::fs::symlink(work.path().join("victim2"), work.path().join("out.tar.zst.sha256.partial")).unwrap();
    let output = run(&["export", source.to_str().unwrap(), "-o", archive.to_str().unwrap()]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    assert_eq!(fs::read(work.path().join("victim")).unwrap(), b"precious");
    assert_eq!(mode(&work.path().join("victim")), 0o644);
    assert!(!work.path().join("victim2").exists());
    for file in ["out.tar.zst", "out.tar.zst.sha256"] {
        assert!(fs::symlink_metadata(work.path().join(file)).unwrap().is_file(), "{file} is not a plain file");
    }
}

/// Stopped mid-way (SIGTERM, or Ctrl-C while the large file is being written), `extract`
/// leaves no file under a final name, partial or unverified, and running it again works.
#[test]
fn a_stopped_extraction_leaves_no_unverified_file_and_a_rerun_succeeds() {
    let work = open_tempdir();
    let source = work.path().join("src");
    write_tree(&source, &[("a.txt", b"first"), ("z.bin", &noise(64 << 20, 5))]);
    let (archive, output) = export(work.path(), "bag", &[&source], &["--zstd-level", "1"]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    for (signal, expected) in [(libc::SIGTERM, 143), (libc::SIGINT, 130)] {
        let target = work.path().join(format!("target-{signal}"));
        let child = sortie()
            .args(["extract", archive.to_str().unwrap(), target.to_str().unwrap()])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let started = Instant::now();
        let staged = || {
            fs::read_dir(&target)
                .into_iter()
                .flatten()
                .flatten()
                .find(|e| e.file_name().to_string_lossy().starts_with(".sortie-unverified-"))
        };
        let staged_bytes = || {
            let files = staged().and_then(|dir| fs::read_dir(dir.path()).ok());
            files.into_iter().flatten().flatten().map(|e| e.metadata().map_or(0, |m| m.len())).max().unwrap_or(0)
        };
        while staged_bytes() < 1 << 20 {
            assert!(started.elapsed() < Duration::from_secs(60), "the extraction never staged the large file");
            std::thread::sleep(Duration::from_millis(1));
        }
        // SAFETY: kill sends a signal to the child we started.
        assert_eq!(unsafe { libc::kill(child.id() as i32, signal) }, 0);
        let output = child.wait_with_output().unwrap();
        assert_eq!(code(&output), expected, "{}", all_text(&output));
        assert!(staged().is_none(), "the staging directory was left behind");
        let mut dirs = vec![target.clone()];
        while let Some(dir) = dirs.pop() {
            for entry in fs::read_dir(dir).unwrap().flatten() {
                assert!(entry.file_type().unwrap().is_dir(), "left under its final name: {}", entry.path().display());
                dirs.push(entry.path());
            }
        }

        let output = run(&["extract", archive.to_str().unwrap(), target.to_str().unwrap()]);
        assert_eq!(code(&output), 0, "the re-run: {}", all_text(&output));
        assert_files_identical(&source, &target.join("bag"), "fs-src");
    }
}

#[test]
fn a_stopping_signal_leaves_a_resumable_partial_archive_and_no_archive() {
    let work = open_tempdir();
    let source = work.path().join("src");
    let files: Vec<(String, Vec<u8>)> = (0..4).map(|i| (format!("f{i}.bin"), noise(8 << 20, i))).collect();
    let files: Vec<(&str, &[u8])> = files.iter().map(|(name, data)| (name.as_str(), &data[..])).collect();
    write_tree(&source, &files);
    for (signal, expected) in [(libc::SIGTERM, 143), (libc::SIGHUP, 129), (libc::SIGINT, 130)] {
        let archive = work.path().join(format!("stopped-{signal}.tar.zst"));
        let partial = work.path().join(format!("stopped-{signal}.tar.zst.partial"));
        let child = sortie()
            .args(["export", source.to_str().unwrap(), "-o", archive.to_str().unwrap()])
            .args(["--concurrency", "1", "--zstd-level", "19", "--zstd-threads", "1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let started = Instant::now();
        while fs::metadata(&partial).map(|m| m.len()).unwrap_or(0) == 0 {
            assert!(started.elapsed() < Duration::from_secs(60), "the export never started writing");
            std::thread::sleep(Duration::from_millis(5));
        }
        // SAFETY: kill sends a signal to the child we started.
        assert_eq!(unsafe { libc::kill(child.id() as i32, signal) }, 0);
        let output = child.wait_with_output().unwrap();
        let text = all_text(&output);
        assert_eq!(code(&output), expected, "signal {signal}: {text}");
        assert!(text.contains("--resume"), "{text}");
        assert!(partial.exists() && !archive.exists(), "signal {signal}: a partial, never an archive");
        let sidecar = work.path().join(format!("stopped-{signal}.tar.zst.sha256"));
        assert!(!sidecar.exists(), "signal {signal} left a sidecar");
    }
}
