//! `sortie report ARCHIVE`: the reconciliation read straight from the archive's tag files,
//! without extracting, checked against the tag manifest; exit codes as `verify`.

mod common;

use std::fs;
use std::path::Path;

use common::*;

fn report_of(archive: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["report", archive.to_str().unwrap()];
    args.extend(extra);
    run(&args)
}

/// An incomplete export: one unreadable file (a failure) and fifos (exclusions).
fn incomplete_archive(work: &Path, fifos: usize) -> std::path::PathBuf {
    let source = work.join("locked");
    write_tree(&source, &[("ok.txt", b"fine"), ("secret.txt", b"no access")]);
    set_mode(&source.join("secret.txt"), 0o000);
    let names: Vec<_> = (0..fifos).map(|i| source.join(format!("pipe-{i:04}"))).collect();
    assert!(std::process::Command::new("mkfifo").args(&names).status().unwrap().success());
    set_mode(&source, 0o755);
    let archive = work.join("locked.tar.zst");
    let output =
        run_unprivileged(&["export", source.to_str().unwrap(), "-o", archive.to_str().unwrap(), "--retries", "0"]);
    assert_eq!(code(&output), 3, "{}", all_text(&output));
    archive
}

#[test]
fn a_complete_archive_reports_its_sources_kinds_and_run() {
    let work = open_tempdir();
    let source = work.path().join("src");
    write_tree(&source, &[("a.txt", b"alpha"), ("sub/b.txt", b"bravo!")]);
    let (archive, output) = export(work.path(), "done", &[&source], &[]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));

    let output = report_of(&archive, &[]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    let text = stdout(&output);
    assert!(text.contains("run       sortie "), "{text}");
    assert!(text.contains(&format!("source    fs-src file://{}", source.display())), "{text}");
    assert!(text.contains("file           2 listed (11 B), 2 archived (11 B), 0 excluded, 0 failed"), "{text}");
    assert!(text.contains("directory      1 listed (0 B), 1 archived"), "{text}");
    assert!(text.contains("complete  yes"), "{text}");

    let output = report_of(&archive, &["--json"]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    let json: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    let bag = gnu_extract(&archive, "done");
    let inside = report(&bag);
    assert_eq!(json["report"]["sources"], inside["sources"], "the counts are the archive's own");
    assert_eq!(json["report"]["complete"], true);
    assert_eq!(json["trusted"], true);
    assert_eq!(json["report"]["runs"][0]["started"].as_str(), bag_info(&bag, "Sortie-Started").as_deref());
    assert!(json["report"]["runs"][0]["agent"].as_str().unwrap().starts_with("sortie "));
}

#[test]
fn an_incomplete_archive_lists_failures_and_exclusions_and_caps_long_lists() {
    let work = open_tempdir();
    let archive = incomplete_archive(work.path(), 1001);
    let output = report_of(&archive, &[]);
    assert_eq!(code(&output), 3, "{}", all_text(&output));
    let text = stdout(&output);
    assert!(text.contains("failed    fs-locked secret.txt (file, 1 attempts): "), "{text}");
    assert!(text.contains("ermission denied"), "{text}");
    assert!(text.contains("excluded  fs-locked pipe-0000 (special): not a regular file (fifo)"), "{text}");
    assert!(text.contains("special        1001 listed (0 B), 0 archived (0 B), 1001 excluded, 0 failed"), "{text}");
    assert!(text.contains("excluded  … and 1 more (the first 1000 are shown)"), "{text}");
    assert!(text.contains("complete  NO"), "{text}");

    let json: serde_json::Value = serde_json::from_str(&stdout(&report_of(&archive, &["--json"]))).unwrap();
    assert_eq!(json["report"]["complete"], false);
    assert_eq!(json["report"]["failures"][0]["id"], "secret.txt");
    assert_eq!(json["report"]["exclusions"].as_array().unwrap().len(), 1000);
    assert_eq!(json["report"]["more_exclusions"], 1);
}

#[test]
fn an_edited_report_a_damaged_or_a_missing_archive_is_said_so() {
    let work = open_tempdir();
    let source = work.path().join("src");
    write_tree(&source, &[("a.txt", b"alpha")]);
    let (archive, output) = export(work.path(), "edit", &[&source], &[]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));

    // The report claims one more file than was listed: same length, same tar layout.
    let tar = zstd::decode_all(fs::File::open(&archive).unwrap()).unwrap();
    let text = String::from_utf8_lossy(&tar).into_owned();
    let at = text.find("\"listed\": 1,").expect("the report counts one file");
    let mut edited = tar.clone();
    edited[at + "\"listed\": ".len()] = b'2';
    let forged = work.path().join("forged.tar.zst");
    fs::write(&forged, zstd::encode_all(&edited[..], 3).unwrap()).unwrap();
    let output = report_of(&forged, &[]);
    assert_eq!(code(&output), 4, "{}", all_text(&output));
    assert!(stdout(&output).contains("FAILED  sortie/report.json: sha256 mismatch"), "{}", stdout(&output));
    assert!(stdout(&output).contains("complete  UNKNOWN"), "{}", stdout(&output));

    let bytes = fs::read(&archive).unwrap();
    let cut = work.path().join("cut.tar.zst");
    fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let output = report_of(&cut, &[]);
    assert_eq!(code(&output), 4, "{}", all_text(&output));
    assert!(stderr(&output).contains("is not a readable Sortie archive"), "{}", stderr(&output));

    let output = report_of(&work.path().join("missing.tar.zst"), &[]);
    assert_eq!(code(&output), 2, "{}", all_text(&output));
    assert!(stderr(&output).contains("cannot read the archive"), "{}", stderr(&output));
}

/// Address space allowed to `report --json` of a 16 MiB report.json: a reader that builds
/// the printed JSON as a `serde_json::Value` tree needs well over 384 MiB. (192 MiB failed one
/// run in two once the sources gained their account and the binary its age and signing code:
/// address space, not heap, is what the limit counts.)
const REPORT_MEMORY_LIMIT: u64 = 256 << 20;

#[test]
fn a_crafted_report_of_many_sources_is_printed_as_json_without_a_copy_as_a_tree() {
    use sha2::{Digest, Sha256};
    use std::os::unix::process::CommandExt;

    let work = open_tempdir();
    let source = work.path().join("src");
    write_tree(&source, &[("a.txt", b"alpha")]);
    let (archive, output) = export(work.path(), "many", &[&source], &[]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));

    // The same archive, its report.json replaced by 16 MiB of sources, the tag manifest
    // updated to match: what anyone can forge.
    let one = r#"{"source":"","url":"","kinds":{},"listing_seconds":0}"#;
    let count = (16 << 20) / (one.len() + 1);
    let forged_report = format!(r#"{{"sources":[{}],"failures":[],"exclusions":[]}}"#, vec![one; count].join(","));
    let digest = hex::encode(Sha256::digest(forged_report.as_bytes()));
    let tar = zstd::decode_all(fs::File::open(&archive).unwrap()).unwrap();
    let mut builder = tar::Builder::new(Vec::new());
    for entry in tar::Archive::new(&tar[..]).entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().into_owned();
        let mut content = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut content).unwrap();
        let mut header = entry.header().clone();
        if path.ends_with("sortie/report.json") {
            content = forged_report.clone().into_bytes();
        } else if path.ends_with("tagmanifest-sha256.txt") {
            let lines = String::from_utf8(content).unwrap();
            let lines = lines.lines().map(|line| match line.split_once("  ") {
                Some((_, "sortie/report.json")) => format!("{digest}  sortie/report.json\n"),
                _ => format!("{line}\n"),
            });
            content = lines.collect::<String>().into_bytes();
        }
        header.set_size(content.len() as u64);
        header.set_cksum();
        builder.append(&header, &content[..]).unwrap();
    }
    let forged = work.path().join("forged.tar.zst");
    fs::write(&forged, zstd::encode_all(&builder.into_inner().unwrap()[..], 3).unwrap()).unwrap();

    let mut command = sortie();
    command.args(["report", forged.to_str().unwrap(), "--json"]);
    // SAFETY: setrlimit is async-signal-safe and touches nothing of the parent.
    unsafe {
        command.pre_exec(|| {
            let limit = libc::rlimit { rlim_cur: REPORT_MEMORY_LIMIT, rlim_max: REPORT_MEMORY_LIMIT };
            if libc::setrlimit(libc::RLIMIT_AS, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let output = command.output().unwrap();
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["trusted"], true, "the forged report matches its tag manifest");
    assert_eq!(json["report"]["sources"].as_array().unwrap().len(), count);
}

/// A second `sortie/report.json` (or `bag-info.txt`, or inventory) appended after the
/// genuine one: the tag manifest checks one copy, and the other must not be shown as
/// checked. `report`, its page and `verify --against` say the archive cannot be trusted.
#[test]
fn a_tag_file_that_appears_twice_is_not_trusted() {
    let work = open_tempdir();
    let source = work.path().join("src");
    write_tree(&source, &[("a.txt", b"alpha")]);
    let (archive, output) = export(work.path(), "twice", &[&source], &[]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));

    let bag = gnu_extract(&archive, "twice");
    let report = fs::read_to_string(bag.join("sortie/report.json")).unwrap();
    let forged_dir = work.path().join("forged-dir/twice/sortie");
    fs::create_dir_all(&forged_dir).unwrap();
    fs::write(forged_dir.join("report.json"), report.replace("\"listed\": 1,", "\"listed\": 777,")).unwrap();
    let tar = work.path().join("twice.tar");
    let parent = bag.parent().unwrap();
    assert_tool_ok("tar", &["--format=pax", "-cf", tar.to_str().unwrap(), "twice"], parent);
    let forged_root = work.path().join("forged-dir");
    assert_tool_ok("tar", &["--format=pax", "-rf", tar.to_str().unwrap(), "twice/sortie/report.json"], &forged_root);
    let forged = work.path().join("forged.tar.zst");
    fs::write(&forged, zstd::encode_all(&fs::read(&tar).unwrap()[..], 3).unwrap()).unwrap();

    let output = report_of(&forged, &[]);
    assert_eq!(code(&output), 4, "{}", all_text(&output));
    assert!(stdout(&output).contains("sortie/report.json: appears twice"), "{}", stdout(&output));
    assert!(stdout(&output).contains("complete  UNKNOWN"), "{}", stdout(&output));
    let page = report_of(&forged, &["--html"]);
    assert!(stdout(&page).contains("data-complete=\"unknown\""), "{}", stdout(&page));
    let output = run(&["verify", forged.to_str().unwrap(), "--against", source.to_str().unwrap()]);
    assert_eq!(code(&output), 4, "{}", all_text(&output));
}
