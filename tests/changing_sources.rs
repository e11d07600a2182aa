//! A tree that changes under a running export, driven through the real binary: a file
//! swapped for a link to a file outside the tree once the export has started (the attack: a
//! root-run export must never copy `/etc/shadow`), and a file rewritten again and again
//! while it is read (it must never be archived torn).

mod common;

use std::fs;
use std::io::Read;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::*;

/// Every member of the archive: (path, bytes).
fn members(archive: &Path) -> Vec<(String, Vec<u8>)> {
    let tar_bytes = zstd::decode_all(fs::File::open(archive).unwrap()).unwrap();
    let mut tar = tar::Archive::new(&tar_bytes[..]);
    let mut out = Vec::new();
    for entry in tar.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        out.push((path, data));
    }
    out
}

/// Waits until the export has listed and started writing.
fn wait_for_partial(archive: &Path) {
    let partial = archive.with_extension("zst.partial");
    let started = Instant::now();
    while fs::metadata(&partial).map(|m| m.len()).unwrap_or(0) == 0 {
        assert!(started.elapsed() < Duration::from_secs(60), "the export never started writing");
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn a_file_swapped_for_a_link_during_the_export_is_never_followed() {
    let work = open_tempdir();
    let source = work.path().join("tree");
    let secret = b"root:$6$secret-hash-never-to-be-archived:19000:0:99999:7:::\n";
    fs::write(work.path().join("shadow"), secret).unwrap();
    let big: Vec<(String, Vec<u8>)> = (0..6).map(|i| (format!("f{i}.bin"), noise(24 << 20, i))).collect();
    let mut files: Vec<(&str, &[u8])> = big.iter().map(|(name, data)| (name.as_str(), &data[..])).collect();
    files.push(("z_swap.bin", b"harmless"));
    write_tree(&source, &files);
    let archive = work.path().join("swap.tar.zst");
    let child = sortie()
        .args(["export", source.to_str().unwrap(), "-o", archive.to_str().unwrap(), "--concurrency", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_partial(&archive);
    fs::remove_file(source.join("z_swap.bin")).unwrap();
    std::os::unix::fs::symlink(work.path().join("shadow"), source.join("z_swap.bin")).unwrap();
    let output = child.wait_with_output().unwrap();
    let text = all_text(&output);
    let archived = members(&archive);
    assert!(
        archived.iter().all(|(_, data)| !data.windows(20).any(|w| w == &secret[..20])),
        "the file outside the tree was archived: {text}"
    );
    match archived.iter().find(|(path, _)| path.ends_with("data/fs-tree/z_swap.bin")) {
        // Read before the swap: the listed file, as it was.
        // Read before the swap: the listed file, as it was.
        Some((_, data)) => assert_eq!(data, b"harmless"),
        None => {
            assert_eq!(code(&output), 3, "{text}");
            let report = members(&archive).into_iter().find(|(path, _)| path.ends_with("sortie/report.json")).unwrap();
            let report = String::from_utf8(report.1).unwrap();
            assert!(report.contains("z_swap.bin") && report.contains("changed during the export"), "{report}");
        }
    }
}

#[test]
fn a_file_rewritten_during_the_export_is_never_archived_torn() {
    let work = open_tempdir();
    let source = work.path().join("tree");
    let size = 16 << 20;
    write_tree(&source, &[("churn.bin", &vec![b'A'; size]), ("steady.txt", b"steady\n")]);
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (stop, path) = (stop.clone(), source.join("churn.bin"));
        std::thread::spawn(move || {
            let mut rounds = 0u32;
            while !stop.load(Ordering::Relaxed) && rounds < 100_000 {
                // Rewritten in place, one 1 MiB stripe at a time, alternating versions.
                let byte = if rounds.is_multiple_of(2) { b'B' } else { b'A' };
                let file = fs::OpenOptions::new().write(true).open(&path).unwrap();
                for stripe in 0..16u64 {
                    std::os::unix::fs::FileExt::write_all_at(&file, &vec![byte; 1 << 20], stripe << 20).unwrap();
                }
                rounds += 1;
            }
        })
    };
    let (archive, output) = export(work.path(), "churn", &[&source], &["--retries", "2"]);
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    let text = all_text(&output);
    let archived = members(&archive);
    match archived.iter().find(|(path, _)| path.ends_with("data/fs-tree/churn.bin")) {
        Some((_, data)) => {
            assert_eq!(data.len(), size);
            assert!(data.iter().all(|b| *b == data[0]), "archived torn: stripes of two versions ({text})");
        }
        None => {
            assert_eq!(code(&output), 3, "{text}");
            assert!(text.contains("churn.bin") && text.contains("changed during the export"), "{text}");
        }
    }
    assert!(archived.iter().any(|(path, data)| path.ends_with("steady.txt") && data == b"steady\n"));
}
