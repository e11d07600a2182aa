//! `sortie verify ARCHIVE --against SOURCE…`: the sources listed again after the export and
//! compared with the archive's inventory — a local tree, and real S3 servers (moto and
//! s3s-fs) whose objects are changed, added and deleted after the export.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Output;

use common::s3_server::S3Server;
use common::*;

fn against(archive: &Path, sources: &[&str], extra: &[&str]) -> Output {
    let mut args = vec!["verify", archive.to_str().unwrap(), "--against"];
    args.extend(sources);
    args.extend(extra);
    run(&args)
}

/// The differences of `--json` as (state, id) → what differs.
fn differences(json: &serde_json::Value) -> BTreeMap<(String, String), Vec<String>> {
    json["result"]["differences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let what =
                d["what"].as_array().map_or(Vec::new(), |w| w.iter().map(|s| s.as_str().unwrap().into()).collect());
            ((d["state"].as_str().unwrap().into(), d["id"].as_str().unwrap().into()), what)
        })
        .collect()
}

fn json_of(output: &Output) -> serde_json::Value {
    serde_json::from_str(&stdout(output)).unwrap_or_else(|e| panic!("{e}: {}", all_text(output)))
}

#[test]
fn a_tree_changed_after_the_export_is_reported_item_by_item() {
    let work = open_tempdir();
    let source = work.path().join("tree");
    write_tree(
        &source,
        &[("keep.txt", b"same"), ("grow.txt", b"short"), ("drop.txt", b"bye"), ("sub/touch.txt", b"t")],
    );
    let (archive, output) = export(work.path(), "tree", &[&source], &[]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    let tree = source.to_str().unwrap();

    let output = against(&archive, &[tree], &[]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    assert!(stdout(&output).contains("matches   yes"), "{}", all_text(&output));

    fs::write(source.join("grow.txt"), b"much longer now").unwrap();
    fs::remove_file(source.join("drop.txt")).unwrap();
    fs::write(source.join("sub/new.txt"), b"new").unwrap();
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(3600);
    fs::File::options().write(true).open(source.join("sub/touch.txt")).unwrap().set_modified(later).unwrap();

    let output = against(&archive, &[tree], &["--json"]);
    assert_eq!(code(&output), 6, "{}", all_text(&output));
    let json = json_of(&output);
    assert_eq!(json["ok"], false);
    assert_eq!(json["matches"], false);
    let found = differences(&json);
    assert_eq!(found.len(), 4, "{found:?}");
    assert_eq!(found[&("changed".into(), "grow.txt".into())][0], "size 5 → 15 bytes");
    assert!(found[&("changed".into(), "sub/touch.txt".into())][0].starts_with("modified "), "{found:?}");
    assert!(found.contains_key(&("gone".into(), "drop.txt".into())));
    assert!(found.contains_key(&("new".into(), "sub/new.txt".into())));
    let counts = &json["result"]["sources"][0];
    assert_eq!((counts["unchanged"].as_u64(), counts["changed"].as_u64()), (Some(2), Some(2)), "{counts}");
    assert_eq!((counts["new"].as_u64(), counts["gone"].as_u64()), (Some(1), Some(1)), "{counts}");

    let text = stdout(&against(&archive, &[tree], &[]));
    assert!(text.contains("changed   fs-tree grow.txt (file): size 5 → 15 bytes"), "{text}");
    assert!(text.contains("gone      fs-tree drop.txt (file)"), "{text}");
    assert!(text.contains("new       fs-tree sub/new.txt (file)"), "{text}");
    assert!(text.contains("matches   NO"), "{text}");
}

#[test]
fn a_source_the_archive_does_not_hold_and_a_tampered_inventory_are_refused() {
    let work = open_tempdir();
    let source = work.path().join("docs");
    write_tree(&source, &[("a.txt", b"alpha")]);
    let (archive, output) = export(work.path(), "docs", &[&source], &[]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));

    let other = work.path().join("other");
    write_tree(&other, &[("b.txt", b"bravo")]);
    let output = against(&archive, &[other.to_str().unwrap()], &[]);
    assert_eq!(code(&output), 2, "{}", all_text(&output));
    assert!(stderr(&output).contains("source fs-other") && stderr(&output).contains("which holds fs-docs"));

    // The inventory edited (an item's size), the archive rebuilt by GNU tar: not trusted.
    let bag = gnu_extract(&archive, "docs");
    let inventory = fs::read_to_string(bag.join("sortie/inventory.jsonl")).unwrap();
    fs::write(bag.join("sortie/inventory.jsonl"), inventory.replace("\"size\":5", "\"size\":6")).unwrap();
    let forged = work.path().join("forged.tar.zst");
    assert_tool_ok("tar", &["--zstd", "--format=pax", "-cf", forged.to_str().unwrap(), "docs"], bag.parent().unwrap());
    let output = against(&forged, &[source.to_str().unwrap()], &[]);
    assert_eq!(code(&output), 4, "{}", all_text(&output));
    assert!(stdout(&output).contains("sortie/inventory.jsonl: sha256 mismatch"), "{}", all_text(&output));
}

/// Objects of one bucket, exported, then changed on the server: one rewritten with other
/// bytes of the same size (only its ETag tells), one grown, one deleted, one added.
fn changed_bucket_is_reported(kind: &'static str) {
    let server = S3Server::start(kind);
    let objects: BTreeMap<Vec<u8>, Vec<u8>> = [
        ("same.txt", &b"unchanged"[..]),
        ("rewritten.txt", b"aaaaaaaa"),
        ("grown.txt", b"small"),
        ("deleted.txt", b"going away"),
        ("dir/<script>.txt", b"hostile name"),
    ]
    .into_iter()
    .map(|(k, v)| (k.as_bytes().to_vec(), v.to_vec()))
    .collect();
    server.put_objects("sortie-later", &objects);
    let dir = open_tempdir();
    let archive = dir.path().join("later.tar.zst");
    let output = server.sortie(&["export", "s3://sortie-later", "-o", archive.to_str().unwrap()]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    let verify = |extra: &[&str]| {
        let mut args = vec!["verify", archive.to_str().unwrap(), "--against", "s3://sortie-later"];
        args.extend(extra);
        server.sortie(&args)
    };

    let output = verify(&[]);
    assert_eq!(code(&output), 0, "{kind}: {}", all_text(&output));

    let script = "import sys, boto3\n\
                  s3 = boto3.client('s3', endpoint_url=sys.argv[1], region_name='us-east-1')\n\
                  b = 'sortie-later'\n\
                  s3.put_object(Bucket=b, Key='rewritten.txt', Body=b'bbbbbbbb')\n\
                  s3.put_object(Bucket=b, Key='grown.txt', Body=b'much bigger now')\n\
                  s3.delete_object(Bucket=b, Key='deleted.txt')\n\
                  s3.put_object(Bucket=b, Key='added.txt', Body=b'new')\n";
    server.python(&["-c", script, &server.endpoint]);

    let output = verify(&["--json"]);
    assert_eq!(code(&output), 6, "{kind}: {}", all_text(&output));
    let found = differences(&json_of(&output));
    let keys: Vec<_> = found.keys().map(|(state, id)| format!("{state} {id}")).collect();
    assert_eq!(
        keys,
        ["changed grown.txt", "changed rewritten.txt", "gone deleted.txt", "new added.txt"],
        "{kind}: {found:?}"
    );
    // moto lists ETags, which tell the new bytes; s3s-fs lists none, and the date tells.
    let rewritten = &found[&("changed".into(), "rewritten.txt".into())];
    let told_by = if kind == "moto" { "checksum " } else { "modified " };
    assert!(rewritten.iter().any(|w| w.starts_with(told_by)), "{kind}: {rewritten:?}");
    assert!(!rewritten.iter().any(|w| w.starts_with("size ")), "{kind}: {rewritten:?}");
    let grown = &found[&("changed".into(), "grown.txt".into())];
    assert!(grown.iter().any(|w| w == "size 5 → 15 bytes"), "{kind}: {grown:?}");
}

#[test]
fn moto_objects_changed_added_and_deleted_after_the_export() {
    changed_bucket_is_reported("moto");
}

#[test]
fn s3s_fs_objects_changed_added_and_deleted_after_the_export() {
    changed_bucket_is_reported("s3s-fs");
}

/// In a versioned bucket an object rewritten after the export keeps its archived version
/// (now an earlier one, unchanged) beside the new one (new since); a delete adds a marker.
#[test]
fn moto_versions_written_after_the_export_are_new_and_the_archived_ones_unchanged() {
    let server = S3Server::start("moto");
    let script = "import sys, boto3\n\
                  s3 = boto3.client('s3', endpoint_url=sys.argv[1], region_name='us-east-1')\n\
                  b = 'sortie-kept'\n\
                  if sys.argv[2] == 'before':\n\
                  \x20   s3.create_bucket(Bucket=b)\n\
                  \x20   s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={'Status': 'Enabled'})\n\
                  \x20   s3.put_object(Bucket=b, Key='doc.txt', Body=b'first')\n\
                  \x20   s3.put_object(Bucket=b, Key='other.txt', Body=b'other')\n\
                  else:\n\
                  \x20   s3.put_object(Bucket=b, Key='doc.txt', Body=b'second')\n\
                  \x20   s3.delete_object(Bucket=b, Key='other.txt')\n";
    server.python(&["-c", script, &server.endpoint, "before"]);
    let dir = open_tempdir();
    let archive = dir.path().join("kept.tar.zst");
    let output = server.sortie(&["export", "s3://sortie-kept", "-o", archive.to_str().unwrap()]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    let verify = || server.sortie(&["verify", archive.to_str().unwrap(), "--against", "s3://sortie-kept", "--json"]);
    assert_eq!(code(&verify()), 0, "{}", all_text(&verify()));

    server.python(&["-c", script, &server.endpoint, "after"]);
    let output = verify();
    assert_eq!(code(&output), 6, "{}", all_text(&output));
    let json = json_of(&output);
    let found = differences(&json);
    let states: Vec<_> = found.keys().map(|(state, id)| format!("{state} {id}")).collect();
    assert_eq!(states, ["new doc.txt", "new other.txt"], "{found:?}");
    let counts = &json["result"]["sources"][0];
    assert_eq!((counts["gone"].as_u64(), counts["changed"].as_u64()), (Some(0), Some(0)), "{counts}");
    let kinds: Vec<_> = json["result"]["differences"].as_array().unwrap().iter().map(|d| d["kind"].clone()).collect();
    assert!(kinds.contains(&"delete-marker".into()) && kinds.contains(&"object".into()), "{kinds:?}");
}
