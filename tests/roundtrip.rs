//! Export → standard tools → byte-identical files: the archive is readable without Sortie.

mod common;

use std::fs;

use common::*;

#[test]
fn export_round_trips_through_gnu_tar_bagit_and_sha256sum() {
    let work = open_tempdir();
    let source = work.path().join("tenant");
    let big = noise(3 * 1024 * 1024 + 17, 1); // above the in-memory threshold: streamed live
    let medium = noise(700 * 1024, 2);
    write_tree(
        &source,
        &[
            ("readme.txt", b"hello\n"),
            ("docs/2024/report.csv", b"a,b\n1,2\n"),
            ("docs/empty.txt", b""),
            ("media/big.bin", &big),
            ("media/medium.bin", &medium),
            ("unicode/été/日本.txt", "texte accentué\n".as_bytes()),
        ],
    );
    fs::create_dir_all(source.join("empty-dir")).unwrap();

    let (archive, output) = export(work.path(), "roundtrip", &[&source], &["--json", "--concurrency", "3"]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    let summary = json_outcome(&output);
    assert_eq!(summary["complete"], true);
    assert_eq!(summary["failed"], 0);
    assert_eq!(summary["archived_bytes"], (6 + 8 + big.len() + medium.len() + "texte accentué\n".len()) as u64);
    assert!(!work.path().join("roundtrip.tar.zst.partial").exists());

    let bag = gnu_extract(&archive, "roundtrip");
    assert_standard_tools_accept(&archive, &bag);
    assert_files_identical(&source, &bag, "fs-tenant");
    assert!(bag.join("data/fs-tenant/empty-dir").is_dir(), "empty directories survive");
    assert_eq!(bag_info(&bag, "Sortie-Complete").as_deref(), Some("true"));
    assert_eq!(bag_info(&bag, "Payload-Oxum"), Some(format!("{}.6", summary["archived_bytes"])));
    let report = report(&bag);
    let files = &report["sources"][0]["kinds"]["file"];
    assert_eq!((files["listed"].as_u64(), files["archived"].as_u64()), (Some(6), Some(6)));

    let verify = run(&["verify", archive.to_str().unwrap()]);
    assert_eq!(code(&verify), 0, "{}", all_text(&verify));
    assert!(stdout(&verify).contains("sidecar   matches"));

    let target = work.path().join("extracted");
    let extract = run(&["extract", archive.to_str().unwrap(), target.to_str().unwrap()]);
    assert_eq!(code(&extract), 0, "{}", all_text(&extract));
    assert_files_identical(&source, &target.join("roundtrip"), "fs-tenant");

    let ls = run(&["ls", archive.to_str().unwrap()]);
    assert!(stdout(&ls).contains(&format!("{:>12}  roundtrip/data/fs-tenant/media/big.bin", big.len())));
}

#[test]
fn several_sources_share_one_archive_with_distinct_ids() {
    let work = open_tempdir();
    let first = work.path().join("a/data");
    let second = work.path().join("b/data");
    write_tree(&first, &[("same.txt", b"first")]);
    write_tree(&second, &[("same.txt", b"second")]);
    let (archive, output) = export(work.path(), "multi", &[&first, &second], &[]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    let bag = gnu_extract(&archive, "multi");
    assert_eq!(fs::read(bag.join("data/fs-data/same.txt")).unwrap(), b"first");
    assert_eq!(fs::read(bag.join("data/fs-data-2/same.txt")).unwrap(), b"second");
    assert_eq!(fs::read_to_string(bag.join("bag-info.txt")).unwrap().matches("Sortie-Source: ").count(), 2);
    assert_standard_tools_accept(&archive, &bag);
}

#[test]
fn inventory_counts_without_transferring() {
    let work = open_tempdir();
    write_tree(work.path(), &[("x/a.txt", b"12345"), ("x/b/c.txt", b"678")]);
    let output = run(&["inventory", work.path().join("x").to_str().unwrap(), "--json"]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    let inventory: serde_json::Value = serde_json::from_str(stdout(&output).trim()).unwrap();
    let sources = &inventory["sources"];
    assert_eq!(sources[0]["source"], "fs-x");
    assert_eq!(sources[0]["kinds"]["file"]["items"], 2);
    assert_eq!(sources[0]["kinds"]["file"]["bytes"], 8);
    assert_eq!(sources[0]["kinds"]["directory"]["items"], 1);
    assert_eq!((inventory["ok"].as_bool(), inventory["exit_code"].as_i64()), (Some(true), Some(0)));
    let mut keys: Vec<&String> = sources[0].as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["kinds", "listing_seconds", "source", "url"], "no archived, failed or null error: {inventory}");
    assert!(fs::read_dir(work.path()).unwrap().all(|e| !e.unwrap().file_name().to_string_lossy().ends_with(".zst")));
}

#[test]
fn the_bundled_sample_exports_and_verifies() {
    let work = open_tempdir();
    let sample = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/sample-tenant");
    let (archive, output) = export(work.path(), "sample", &[&sample], &[]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    let bag = gnu_extract(&archive, "sample");
    assert_standard_tools_accept(&archive, &bag);
    assert_files_identical(&sample, &bag, "fs-sample-tenant");
    let providers = run(&["providers"]);
    assert!(stdout(&providers).starts_with("file "));
}

#[test]
fn exporting_a_directory_into_itself_leaves_the_archive_out() {
    let work = open_tempdir();
    let source = work.path().join("home");
    write_tree(&source, &[("notes.txt", b"keep me"), ("big.bin", &noise(2 << 20, 5))]);
    let (archive, output) = export(&source, "backup", &[&source], &["--json"]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    let summary = json_outcome(&output);
    // The partial archive, its journal and the journal's six spools (docs/RESUME.md).
    assert_eq!(summary["excluded"], 8, "the partial archive and journal are listed and excluded: {summary}");

    let bag = gnu_extract(&archive, "backup");
    assert_standard_tools_accept(&archive, &bag);
    assert_eq!(fs::read(bag.join("data/fs-home/notes.txt")).unwrap(), b"keep me");
    let exclusions = report(&bag)["exclusions"].as_array().unwrap().clone();
    let ids: Vec<&str> = exclusions.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert!(ids.contains(&"backup.tar.zst.partial") && ids.contains(&"backup.tar.zst.journal"), "{ids:?}");
    assert!(ids.iter().all(|id| id.starts_with("backup.tar.zst.")), "{ids:?}");
    assert!(exclusions.iter().all(|e| e["reason"] == "the archive being written by this export"), "{exclusions:?}");
}

#[test]
fn a_closed_pipe_ends_ls_quietly() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let work = open_tempdir();
    let source = work.path().join("many");
    let files: Vec<(String, Vec<u8>)> = (0..2000).map(|i| (format!("f{i:05}.txt"), b"x".to_vec())).collect();
    let files: Vec<(&str, &[u8])> = files.iter().map(|(n, c)| (n.as_str(), c.as_slice())).collect();
    write_tree(&source, &files);
    let (archive, output) = export(work.path(), "many", &[&source], &[]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));

    // More output than a pipe holds, and a reader that stops after one line (`| head -1`).
    let mut child =
        sortie().args(["ls", archive.to_str().unwrap()]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    let done = child.wait_with_output().unwrap();
    assert!(first.contains("many/bagit.txt"), "{first}");
    assert_eq!(done.status.code(), Some(0), "{}", String::from_utf8_lossy(&done.stderr));
    assert!(done.stderr.is_empty(), "{}", String::from_utf8_lossy(&done.stderr));
}

#[test]
fn ls_json_prints_one_object_per_member() {
    let work = open_tempdir();
    let source = work.path().join("src");
    write_tree(&source, &[("a.txt", b"alpha"), ("sub/b.txt", b"bravo!")]);
    let (archive, output) = export(work.path(), "lines", &[&source], &[]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    let output = run(&["ls", archive.to_str().unwrap(), "--json"]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    let members: Vec<serde_json::Value> =
        stdout(&output).lines().map(|line| serde_json::from_str(line).expect("each line is one JSON object")).collect();
    let plain = stdout(&run(&["ls", archive.to_str().unwrap()]));
    assert_eq!(members.len(), plain.lines().count(), "one line per member");
    let b = members.iter().find(|m| m["path"] == "lines/data/fs-src/sub/b.txt").expect("b.txt listed");
    assert_eq!((b["size"].as_u64(), b["type"].as_str()), (Some(6), Some("file")));
    assert!(members.iter().any(|m| m["path"] == "lines/data/fs-src/sub/" && m["type"] == "dir"), "{members:?}");
}
