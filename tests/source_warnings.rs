//! Sources that overlap or list nothing: a source given twice is exported once, one inside another
//! is exported with a warning, and one whose listing finds nothing is warned about (a typo
//! in a prefix would otherwise say "complete"), on stderr and in the JSON.

mod common;

use common::s3_server::S3Server;
use common::*;
use serde_json::Value;

fn warnings(output: &std::process::Output) -> Vec<(String, String)> {
    let value = json_outcome(output);
    let kinds = value["warnings"].as_array().unwrap().iter();
    kinds.map(|w| (w["kind"].as_str().unwrap().to_owned(), w["message"].as_str().unwrap().to_owned())).collect()
}

#[test]
fn the_same_source_twice_is_exported_once() {
    let work = open_tempdir();
    let source = work.path().join("src");
    write_tree(&source, &[("a.txt", b"a")]);
    let written = format!("file://{}", source.display());
    let (archive, output) = export(work.path(), "out", &[&source], &[&written, "--json"]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    let expected = format!("source file://{} is given twice: it is exported once", source.display());
    assert!(stderr(&output).contains(&expected), "{}", stderr(&output));
    assert_eq!(warnings(&output), [("duplicate_source".to_owned(), expected.clone())]);
    let summary = json_outcome(&output);
    assert_eq!(summary["sources"].as_array().unwrap().len(), 1, "{summary}");
    assert_eq!(summary["archived"], 1);
    let bag = gnu_extract(&archive, "out");
    assert_eq!(std::fs::read_dir(bag.join("data")).unwrap().count(), 1, "one source under data/");

    let output = run(&["plan", source.to_str().unwrap(), &written, "--json"]);
    let plan: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(plan["sources"].as_array().unwrap().len(), 1, "{plan}");
    assert!(stderr(&output).contains(&expected), "{}", stderr(&output));
}

#[test]
fn a_source_inside_another_is_exported_with_a_warning() {
    let work = open_tempdir();
    let source = work.path().join("src");
    write_tree(&source, &[("a.txt", b"a"), ("sub/b.txt", b"b")]);
    let inner = source.join("sub");
    let (_, output) = export(work.path(), "out", &[&source, &inner], &["--json"]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    let expected = format!("source file://{} is inside source file://{}", inner.display(), source.display());
    assert!(stderr(&output).contains(&expected), "{}", stderr(&output));
    let found = warnings(&output);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "overlapping_sources");
    assert!(found[0].1.starts_with(&expected));

    let output = run(&["inventory", inner.to_str().unwrap(), source.to_str().unwrap(), "--json"]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    assert_eq!(warnings(&output).len(), 1, "the order sources are given in does not matter");
    let output = run(&["plan", source.to_str().unwrap(), inner.to_str().unwrap()]);
    assert!(stderr(&output).contains(&expected), "{}", all_text(&output));
}

#[test]
fn an_empty_directory_is_warned_about() {
    let work = open_tempdir();
    let empty = work.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let (_, output) = export(work.path(), "out", &[&empty], &["--json"]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    let expected = "source fs-empty";
    assert!(stderr(&output).contains(&format!("warning: {expected}")), "{}", stderr(&output));
    let found = warnings(&output);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "empty_source");
    assert!(found[0].1.contains("is empty: check the prefix or path"), "{found:?}");
    let output = run(&["inventory", empty.to_str().unwrap(), "--json"]);
    assert_eq!(warnings(&output)[0].0, "empty_source");

    // --quiet silences logs, not what says the command may not do what was meant.
    let odd_name = work.path().join("quiet.zip");
    let output = run(&["-q", "export", empty.to_str().unwrap(), "-o", odd_name.to_str().unwrap()]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    let said = stderr(&output);
    assert!(said.contains("warning: source fs-empty") && said.contains("does not end in .tar.zst"), "{said}");
}

#[test]
fn an_s3_prefix_that_matches_nothing_is_warned_about() {
    let server = S3Server::start("moto");
    let objects = [(b"photos/a.jpg".to_vec(), b"jpeg".to_vec())].into_iter().collect();
    server.put_objects("sortie-prefixes", &objects);
    let work = open_tempdir();
    let archive = work.path().join("typo.tar.zst");
    let typo = "s3://sortie-prefixes/fotos/";
    let output = server.sortie(&["export", typo, "-o", archive.to_str().unwrap(), "--json"]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    assert!(stderr(&output).contains("sortie-prefixes/fotos/"), "{}", stderr(&output));
    assert!(stderr(&output).contains("is empty: check the prefix"), "{}", stderr(&output));
    assert_eq!(warnings(&output)[0].0, "empty_source");
    let output = server.sortie(&["inventory", typo, "--json"]);
    assert_eq!(warnings(&output)[0].0, "empty_source", "{}", all_text(&output));

    let output = server.sortie(&["inventory", "s3://sortie-prefixes/photos/", "--json"]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    assert_eq!(warnings(&output), [], "a prefix that matches is not empty");
}
