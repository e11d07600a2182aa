//! The output name: `-o -` is refused (the archive is renamed into place and has a sidecar,
//! which stdout cannot give), a name not ending in `.tar.zst` is written with a warning,
//! and a sidecar left without its archive is not overwritten without `--force`.

mod common;

use std::fs;

use common::*;

#[test]
fn stdout_as_the_output_is_refused_before_anything_is_written() {
    let work = open_tempdir();
    write_tree(&work.path().join("src"), &[("a.txt", b"a")]);
    let output = sortie().current_dir(work.path()).args(["export", "src", "-o", "-"]).output().unwrap();
    assert_eq!(code(&output), 2, "{}", all_text(&output));
    assert!(stderr(&output).contains("cannot be written to stdout (-o -)"), "{}", stderr(&output));
    assert!(stdout(&output).is_empty(), "no archive bytes on stdout");
    let left: Vec<_> = fs::read_dir(work.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left, ["src"]);
}

#[test]
fn a_name_without_the_tar_zst_suffix_is_written_with_a_warning() {
    let work = open_tempdir();
    let source = work.path().join("src");
    write_tree(&source, &[("a.txt", b"a")]);
    for name in ["backup.zip", "backup"] {
        let archive = work.path().join(name);
        let output = run(&["export", source.to_str().unwrap(), "-o", archive.to_str().unwrap(), "--json"]);
        assert_eq!(code(&output), 0, "{}", all_text(&output));
        assert!(stderr(&output).contains(&format!("warning: output {} does not end in .tar.zst", archive.display())));
        let summary = json_outcome(&output);
        assert_eq!(summary["warnings"][0]["kind"], "output_name", "{summary}");
        assert_eq!(code(&run(&["verify", archive.to_str().unwrap()])), 0, "{name} is a complete archive");
    }
    let archive = work.path().join("fine.tar.zst");
    let output = run(&["export", source.to_str().unwrap(), "-o", archive.to_str().unwrap()]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    assert!(!stderr(&output).contains("warning"), "{}", stderr(&output));
}

#[test]
fn a_sidecar_without_its_archive_is_not_overwritten_without_force() {
    let work = open_tempdir();
    let source = work.path().join("src");
    write_tree(&source, &[("a.txt", b"a")]);
    let archive = work.path().join("out.tar.zst");
    let sidecar = work.path().join("out.tar.zst.sha256");
    fs::write(&sidecar, b"someone's checksum\n").unwrap();
    let output = run(&["export", source.to_str().unwrap(), "-o", archive.to_str().unwrap()]);
    assert_eq!(code(&output), 2, "{}", all_text(&output));
    assert!(stderr(&output).contains(&format!("output {} already exists: pass --force", sidecar.display())));
    assert_eq!(fs::read(&sidecar).unwrap(), b"someone's checksum\n");
    assert!(!archive.exists());

    let output = run(&["export", source.to_str().unwrap(), "-o", archive.to_str().unwrap(), "--force"]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    assert_eq!(code(&run(&["verify", archive.to_str().unwrap()])), 0);
}
