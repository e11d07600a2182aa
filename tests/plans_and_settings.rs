//! Sources as data through the binary: `sortie plan`, `export --plan`, `--set`, named
//! sources, and `sortie providers` printing every provider's settings schema.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use common::*;

/// Every member's sha256 in the payload manifest, and every inventory record without its
/// dates: what must be equal between two exports of the same data.
fn contents(archive: &Path, name: &str) -> (Vec<String>, BTreeMap<Vec<u8>, serde_json::Value>) {
    let bag = gnu_extract(archive, name);
    // Members are written as their reads finish: the manifest compared as a set of lines.
    let mut manifest: Vec<String> =
        fs::read_to_string(bag.join("manifest-sha256.txt")).unwrap().lines().map(str::to_owned).collect();
    manifest.sort();
    let records = inventory(&bag).into_iter().map(|record| (record_id(&record), record)).collect();
    (manifest, records)
}

#[test]
fn exporting_a_printed_plan_gives_the_archive_the_sources_give() {
    let work = open_tempdir();
    let source = work.path().join("tenant");
    write_tree(&source, &[("a.txt", b"alpha\n"), ("dir/b.bin", &noise(300_000, 4)), ("link-target", b"t")]);
    std::os::unix::fs::symlink("link-target", source.join("link")).unwrap();

    let planned = run(&["plan", source.to_str().unwrap(), "--follow-symlinks", "--json"]);
    assert_eq!(code(&planned), 0, "{}", all_text(&planned));
    let plan: serde_json::Value = serde_json::from_str(stdout(&planned).trim()).unwrap();
    assert_eq!(plan["sortie_plan"], 1);
    let sources = plan["sources"].as_array().unwrap();
    assert_eq!(sources.len(), 1);
    assert_eq!(sources[0]["scheme"], "file");
    assert_eq!(sources[0]["id"], "fs-tenant");
    assert_eq!(sources[0]["settings"]["follow_symlinks"], true, "the flag is a spelling of the setting");
    let plan_file = work.path().join("plan.json");
    fs::write(&plan_file, stdout(&planned)).unwrap();

    let (direct, output) = export(work.path(), "direct", &[&source], &["--follow-symlinks"]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    let from_plan = work.path().join("from-plan.tar.zst");
    let output = run(&["export", "--plan", plan_file.to_str().unwrap(), "-o", from_plan.to_str().unwrap()]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    let (manifest, records) = contents(&direct, "direct");
    let (planned_manifest, planned_records) = contents(&from_plan, "from-plan");
    assert_eq!(planned_manifest, manifest);
    assert_eq!(planned_records.keys().collect::<Vec<_>>(), records.keys().collect::<Vec<_>>());
    let link = &planned_records[b"link".as_slice()];
    assert_eq!(link["kind"], "file", "the plan kept --follow-symlinks: {link}");
}

#[test]
fn a_plan_that_is_not_one_is_refused_with_what_to_do() {
    let work = open_tempdir();
    let broken = work.path().join("plan.json");
    fs::write(&broken, r#"{"sources": 3}"#).unwrap();
    let output = run(&["export", "--plan", broken.to_str().unwrap(), "-o", "/tmp/never.tar.zst"]);
    assert_eq!(code(&output), 2, "{}", all_text(&output));
    assert!(stderr(&output).contains("not a plan printed by `sortie plan --json`"), "{}", stderr(&output));

    let edited = work.path().join("edited.json");
    fs::write(
        &edited,
        r#"{"sortie_plan":1,"sources":[{"scheme":"file","url":"file:///tmp","id":"fs-tmp","settings":{"follow_links":true}}]}"#,
    )
    .unwrap();
    let output = run(&["plan", "--plan", edited.to_str().unwrap()]);
    assert_eq!(code(&output), 2, "{}", all_text(&output));
    assert!(stderr(&output).contains("file sources take no setting 'follow_links'"), "{}", stderr(&output));
    assert!(stderr(&output).contains("follow_symlinks"), "the message lists the settings: {}", stderr(&output));

    let refusals = [
        (
            r#"{"sortie_plan":1,"sources":[{"scheme":"file","url":"s3://bucket","id":"fs-x"}]}"#,
            "its URL is not a file URL",
        ),
        (
            r#"{"sortie_plan":1,"sources":[{"scheme":"file","url":"file://relative/dir","id":"fs-x"}]}"#,
            "is not a file:///absolute/path source",
        ),
        (
            r#"{"sortie_plan":1,"sources":[{"scheme":"s3","url":"s3://b at http://127.0.0.1:9","id":"s3-b","settings":{"secret_access_key":"in-the-plan-9"}}]}"#,
            "holds the secret setting 'secret_access_key', which a plan never holds",
        ),
        (r#"{"sortie_plan":2,"sources":[]}"#, "plan format 2 is not one this sortie reads"),
    ];
    for (plan, expected) in refusals {
        fs::write(&edited, plan).unwrap();
        let output = run(&["plan", "--plan", edited.to_str().unwrap()]);
        assert_eq!(code(&output), 2, "{plan}: {}", all_text(&output));
        assert!(stderr(&output).contains(expected), "{plan}: {}", stderr(&output));
        assert!(!all_text(&output).contains("in-the-plan-9"), "{}", all_text(&output));
    }

    let source = work.path().join("tree");
    write_tree(&source, &[("a", b"a")]);
    let planned = run(&["plan", source.to_str().unwrap(), "--json"]);
    fs::write(&edited, stdout(&planned)).unwrap();
    let output = run(&["plan", "--plan", edited.to_str().unwrap(), "--set", "endpoint=http://x"]);
    assert_eq!(code(&output), 2, "{}", all_text(&output));
    assert!(stderr(&output).contains("no source of this command takes the setting 'endpoint'"), "{}", stderr(&output));
    let output =
        run(&["export", "--plan", work.path().join("absent.json").to_str().unwrap(), "-o", "/tmp/never.tar.zst"]);
    assert_eq!(code(&output), 2, "{}", all_text(&output));
    assert!(stderr(&output).contains("cannot read the plan"), "{}", stderr(&output));
    // A wrong path that never ends is refused at its bound, not read into memory.
    let output = run(&["export", "--plan", "/dev/zero", "-o", "/tmp/never.tar.zst"]);
    assert_eq!(code(&output), 2, "{}", all_text(&output));
    assert!(stderr(&output).contains("the plan /dev/zero is larger than 64 MiB"), "{}", stderr(&output));
}

#[test]
fn set_gives_settings_by_name_and_refuses_what_no_source_takes() {
    let work = open_tempdir();
    let source = work.path().join("tree");
    write_tree(&source, &[("target", b"t")]);
    std::os::unix::fs::symlink("target", source.join("link")).unwrap();

    let (archive, output) = export(work.path(), "set", &[&source], &["--set", "file.follow_symlinks=yes"]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    let (_, records) = contents(&archive, "set");
    assert_eq!(records[b"link".as_slice()]["kind"], "file");

    let out = work.path().join("x.tar.zst");
    for (set, expected) in [
        ("nope=1", "no source of this command takes the setting 'nope'"),
        ("file.nope=1", "file sources take no setting 'nope'"),
        ("follow_symlinks=perhaps", "setting 'follow_symlinks' takes true or false, not 'perhaps'"),
    ] {
        let output = run(&["export", source.to_str().unwrap(), "-o", out.to_str().unwrap(), "--set", set]);
        assert_eq!(code(&output), 2, "{set}: {}", all_text(&output));
        assert!(stderr(&output).contains(expected), "{set}: {}", stderr(&output));
        assert!(!out.exists() && !work.path().join("x.tar.zst.partial").exists());
    }
    let output = run(&["export", source.to_str().unwrap(), "-o", out.to_str().unwrap(), "--set", "novalue"]);
    assert_eq!(code(&output), 2, "{}", all_text(&output));
    assert!(stderr(&output).contains("'novalue' is not KEY=VALUE"), "{}", stderr(&output));
}

#[test]
fn named_sources_come_from_the_sources_file() {
    let work = open_tempdir();
    let source = work.path().join("named tree");
    write_tree(&source, &[("target", b"t"), ("plain.txt", b"plain\n")]);
    std::os::unix::fs::symlink("target", source.join("link")).unwrap();
    let file = work.path().join("sources.yaml");
    fs::write(&file, format!("tenant:\n  source: {}\n  settings:\n    follow_symlinks: true\n", source.display()))
        .unwrap();

    let archive = work.path().join("named.tar.zst");
    let output = sortie()
        .args(["export", "@tenant", "-o", archive.to_str().unwrap()])
        .env("SORTIE_SOURCES", &file)
        .output()
        .unwrap();
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    let (_, records) = contents(&archive, "named");
    assert_eq!(records[b"link".as_slice()]["kind"], "file", "the file's settings apply");
    assert!(records.contains_key(b"plain.txt".as_slice()));

    let output = run(&["plan", "@other", "--sources-file", file.to_str().unwrap()]);
    assert_eq!(code(&output), 2, "{}", all_text(&output));
    assert!(stderr(&output).contains("no source named 'other'"), "{}", stderr(&output));
    assert!(stderr(&output).contains("it names tenant"), "{}", stderr(&output));

    let output = sortie()
        .args(["plan", "@tenant"])
        .env_remove("SORTIE_SOURCES")
        .env("HOME", work.path())
        .env_remove("XDG_CONFIG_HOME")
        .output()
        .unwrap();
    assert_eq!(code(&output), 2, "{}", all_text(&output));
    assert!(stderr(&output).contains("cannot read the sources file"), "{}", stderr(&output));
    assert!(stderr(&output).contains(".config/sortie/sources.yaml"), "{}", stderr(&output));

    let output = run(&["plan", "@tenant", "--sources-file", "/dev/zero"]);
    assert_eq!(code(&output), 2, "{}", all_text(&output));
    assert!(stderr(&output).contains("the sources file /dev/zero is larger than 1 MiB"), "{}", stderr(&output));

    // Aliases that would expand into billions of nodes are refused, not expanded.
    let mut bomb =
        format!("tenant:\n  source: {}\n  settings:\n    a: &a [x, x, x, x, x, x, x, x, x, x]\n", source.display());
    for level in 1..=9u8 {
        let (name, previous) = ((b'a' + level) as char, (b'a' + level - 1) as char);
        let refs = vec![format!("*{previous}"); 10].join(", ");
        bomb.push_str(&format!("    {name}: &{name} [{refs}]\n"));
    }
    fs::write(&file, &bomb).unwrap();
    let output = run(&["plan", "@tenant", "--sources-file", file.to_str().unwrap()]);
    assert_eq!(code(&output), 2, "{}", all_text(&output));
    assert!(stderr(&output).contains("is not a map of NAME"), "{}", stderr(&output));

    fs::write(&file, "tenant: [not, a, map]\n").unwrap();
    let output = run(&["plan", "@tenant", "--sources-file", file.to_str().unwrap()]);
    assert_eq!(code(&output), 2, "{}", all_text(&output));
    assert!(stderr(&output).contains("is not a map of NAME"), "{}", stderr(&output));
}

#[test]
fn providers_print_every_settings_schema() {
    let output = run(&["providers", "--json"]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    let providers: Vec<serde_json::Value> = serde_json::from_str(stdout(&output).trim()).unwrap();
    let schemes: Vec<&str> = providers.iter().map(|p| p["scheme"].as_str().unwrap()).collect();
    for scheme in ["file", "s3", "swift", "openstack", "memory"] {
        assert!(schemes.contains(&scheme), "{scheme} missing from {schemes:?}");
    }
    for provider in &providers {
        for setting in provider["settings"].as_array().unwrap() {
            assert!(setting["name"].as_str().is_some_and(|n| !n.is_empty()), "{setting}");
            assert!(["bool", "integer", "text"].contains(&setting["type"].as_str().unwrap()), "{setting}");
            assert!(setting["help"].as_str().is_some_and(|h| !h.is_empty()), "{setting}");
        }
    }
    // Every documented flag of the command line is the spelling of a declared setting.
    let flags: Vec<&str> =
        providers.iter().flat_map(|p| p["settings"].as_array().unwrap()).filter_map(|s| s["flag"].as_str()).collect();
    for flag in [
        "--follow-symlinks",
        "--profile",
        "--s3-endpoint",
        "--s3-region",
        "--s3-path-style",
        "--no-sign-request",
        "--os-cloud",
        "--os-region",
        "--os-interface",
        "--include-segments",
        "--include-volume-data",
        "--list-page-size",
        "--current-only",
        "--skip-archived",
        "--allow-missing-metadata",
    ] {
        assert!(flags.contains(&flag), "{flag} is no setting's spelling: {flags:?}");
    }

    let output = run(&["providers", "s3"]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    let text = stdout(&output);
    assert!(text.contains("endpoint") && text.contains("--s3-endpoint") && text.contains("AWS_ENDPOINT_URL"), "{text}");
    let output = run(&["providers", "ftp"]);
    assert_ne!(code(&output), 0);
    assert!(stderr(&output).contains("no provider for the scheme 'ftp'"), "{}", stderr(&output));
}
