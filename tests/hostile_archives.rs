//! Archives built by an attacker, or damaged on the way: `verify`, `ls` and `extract` run
//! under a memory and time bound, agree on the exit code (4 for a bad archive, 2 for one
//! that cannot be opened), name where the problem is, and print no raw bytes of it.
//!
//! The same archives, and mutants of a real one, are the seed corpus of the reader's fuzz
//! target (`fuzz/`): `SORTIE_WRITE_CORPUS=1 cargo test --test hostile_archives` rewrites
//! `fuzz/corpus/archive_reader/`, and every file there is run here under the same bounds.

mod common;

use std::fs;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// Address space allowed to one `sortie` run: an honest reader needs a few tens of MiB
/// (plus a zstd window of at most 128 MiB); one that allocates what a header declares dies.
const MEMORY_LIMIT: u64 = 768 << 20;
/// Time allowed to one run on any of these small archives.
const TIME_LIMIT: Duration = Duration::from_secs(60);

/// Runs `sortie ARGS` with its address space capped and a deadline.
fn run_bounded(args: &[&str]) -> Output {
    let mut command = sortie();
    command.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
    // SAFETY: setrlimit is async-signal-safe and touches nothing of the parent.
    unsafe {
        command.pre_exec(|| {
            let limit = libc::rlimit { rlim_cur: MEMORY_LIMIT, rlim_max: MEMORY_LIMIT };
            if libc::setrlimit(libc::RLIMIT_AS, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = command.spawn().expect("sortie runs");
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > TIME_LIMIT {
            child.kill().unwrap();
            panic!("sortie {args:?} ran for more than {TIME_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let output = child.wait_with_output().unwrap();
    assert!(output.status.code().is_some(), "sortie {args:?} was killed: {:?}\n{}", output.status, all_text(&output));
    assert!(!all_text(&output).contains("panicked"), "sortie {args:?} panicked: {}", all_text(&output));
    output
}

/// `verify`, `ls` and `extract` of `archive`: (exit code, output) each. Extraction goes to
/// a fresh directory beside the archive, which must stay free of unverified files.
fn three_commands(archive: &Path) -> [(i32, String); 3] {
    let target = archive.with_extension("x");
    let results = three_commands_keeping(archive, &target);
    if target.exists() {
        fs::remove_dir_all(&target).unwrap();
    }
    results
}

/// [`three_commands`], extracting into `target` and leaving it there.
fn three_commands_keeping(archive: &Path, target: &Path) -> [(i32, String); 3] {
    let results = [
        run_bounded(&["verify", archive.to_str().unwrap()]),
        run_bounded(&["ls", archive.to_str().unwrap()]),
        run_bounded(&["extract", archive.to_str().unwrap(), target.to_str().unwrap()]),
    ]
    .map(|output| (code(&output), all_text(&output)));
    if target.exists() {
        for entry in walk(target) {
            let name = entry.file_name().unwrap().to_string_lossy().into_owned();
            assert!(!name.starts_with(".sortie-unverified"), "staging left behind in {}", target.display());
        }
    }
    results
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() && !path.is_symlink() {
            out.extend(walk(&path));
        }
        out.push(path);
    }
    out
}

/// Asserts the three commands refuse `archive` with exit 4 and say `needle`.
fn assert_refused(archive: &Path, needle: &str) {
    let report = run_bounded(&["report", archive.to_str().unwrap()]);
    let report = (code(&report), all_text(&report));
    for (command, (code, text)) in
        ["verify", "ls", "extract", "report"].iter().zip(three_commands(archive).into_iter().chain([report]))
    {
        assert_eq!(code, 4, "{command} of {}: {text}", archive.display());
        assert!(text.contains(needle), "{command} of {} does not say {needle:?}: {text}", archive.display());
    }
}

fn tar_header(kind: tar::EntryType, name: &str, size: u64) -> tar::Header {
    let mut header = tar::Header::new_ustar();
    header.set_entry_type(kind);
    header.set_path(name).unwrap();
    header.set_size(size);
    header.set_mode(0o644);
    header.set_cksum();
    header
}

/// A tar member: header, body, padding.
fn member(kind: tar::EntryType, name: &str, body: &[u8]) -> Vec<u8> {
    let mut out = tar_header(kind, name, body.len() as u64).as_bytes().to_vec();
    out.extend_from_slice(body);
    out.resize(out.len().div_ceil(512) * 512, 0);
    out
}

/// A finished tar stream of these members (with the end-of-archive blocks).
fn tar_of(members: &[(tar::EntryType, &str, &[u8])]) -> Vec<u8> {
    let mut tar: Vec<u8> = members.iter().flat_map(|(kind, name, body)| member(*kind, name, body)).collect();
    tar.extend([0; 1024]);
    tar
}

fn compress(tar: &[u8]) -> Vec<u8> {
    zstd::encode_all(tar, 3).unwrap()
}

/// A header declaring `declared` bytes, followed by that many zeros, compressed as the
/// stream goes (4 GiB of zeros make about 130 KiB of zstd).
fn extension_bomb(kind: tar::EntryType, declared: u64) -> Vec<u8> {
    let mut encoder = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
    encoder.write_all(tar_header(kind, "././@PaxHeader", declared).as_bytes()).unwrap();
    let zeros = vec![0u8; 1 << 20];
    let mut left = declared;
    while left > 0 {
        let n = left.min(zeros.len() as u64) as usize;
        encoder.write_all(&zeros[..n]).unwrap();
        left -= n as u64;
    }
    encoder.write_all(&member(tar::EntryType::Regular, "bag/bagit.txt", b"x")).unwrap();
    encoder.write_all(&[0; 1024]).unwrap();
    encoder.finish().unwrap()
}

/// The hostile archives of the corpus, by name, with what the commands must say.
fn hostile() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    use tar::EntryType::{Regular, XHeader};
    let malformed_pax = tar_of(&[(XHeader, "pax", b"99 path=bag/x\n"), (Regular, "bag/x", b"x")]);
    let lying_size = tar_of(&[(XHeader, "pax", b"9 size=1\n"), (Regular, "bag/x", b"abc")]);
    let two_pax = tar_of(&[
        (XHeader, "pax", b"16 path=bag/one\n"),
        (XHeader, "pax", b"16 path=bag/two\n"),
        (Regular, "bag/x", b"abc"),
    ]);
    let global = tar_of(&[(tar::EntryType::XGlobalHeader, "g", b"20 path=bag/data/f\n"), (Regular, "bag/x", b"x")]);
    let sparse = tar_of(&[(XHeader, "pax", b"22 GNU.sparse.major=1\n"), (Regular, "bag/x", b"x")]);
    let long_path = format!("{} path=bag/{}\n", 65_560 + 6, "a".repeat(65_550));
    assert_eq!(long_path.len(), 65_566);
    let long_path = tar_of(&[(XHeader, "pax", long_path.as_bytes()), (Regular, "bag/x", b"x")]);
    let mut old_prefix = tar_header(Regular, "bag/x", 1);
    old_prefix.as_mut_bytes()[263..265].copy_from_slice(b"\0\0");
    old_prefix.as_mut_bytes()[345..353].copy_from_slice(b"bag/data");
    old_prefix.set_cksum();
    let mut old_prefix = old_prefix.as_bytes().to_vec();
    old_prefix.extend(member(Regular, "x", b"x")[512..].iter().copied().chain([0; 1024]));
    let dangling = tar_of(&[(Regular, "bag/bagit.txt", b"x"), (XHeader, "pax", b"16 path=bag/one\n")]);
    let mut unfinished = member(tar::EntryType::Regular, "bag/bagit.txt", b"BagIt-Version: 1.0\n");
    unfinished.extend(member(tar::EntryType::Regular, "bag/data/x", &[b'x'; 5000]));
    let cut_body = unfinished[..unfinished.len() - 1024].to_vec();
    let mut wide_window = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
    wide_window.set_parameter(zstd::zstd_safe::CParameter::WindowLog(31)).unwrap();
    wide_window.write_all(&unfinished).unwrap();
    vec![
        ("pax-4gib.tar.zst", extension_bomb(tar::EntryType::XHeader, 4 << 30), "declares 4294967296 bytes"),
        ("gnu-longname-4gib.tar.zst", extension_bomb(tar::EntryType::GNULongName, 4 << 30), "GNU long name"),
        ("malformed-pax.tar.zst", compress(&malformed_pax), "malformed pax record"),
        ("pax-size-disagrees.tar.zst", compress(&lying_size), "gives the member 1 bytes but its tar header 3"),
        ("two-pax-headers.tar.zst", compress(&two_pax), "two pax extended headers"),
        ("pax-global-path.tar.zst", compress(&global), "pax global header"),
        ("pax-gnu-sparse.tar.zst", compress(&sparse), "GNU.sparse.major"),
        ("path-64kib.tar.zst", compress(&long_path), "a member path of 65554 bytes"),
        ("ustar-version-prefix.tar.zst", compress(&old_prefix), "version other than 00"),
        ("dangling-extension.tar.zst", compress(&dangling), "not followed by the member they describe"),
        ("no-end-blocks.tar.zst", compress(&unfinished), "truncated"),
        ("cut-body.tar.zst", compress(&cut_body), "truncated"),
        ("zstd-window-2gib.tar.zst", wide_window.finish().unwrap(), "zstd"),
        ("text-file.tar.zst", b"secret-looking text\x1b[31m, not an archive\n".to_vec(), "not zstd"),
        ("empty.tar.zst", Vec::new(), "empty"),
    ]
}

#[test]
fn hostile_archives_are_refused_alike_by_every_command_in_bounded_memory() {
    let work = open_tempdir();
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/archive_reader");
    let write_corpus = std::env::var_os("SORTIE_WRITE_CORPUS").is_some();
    for (name, bytes, needle) in hostile() {
        let archive = work.path().join(name);
        fs::write(&archive, &bytes).unwrap();
        assert_refused(&archive, needle);
        if write_corpus {
            fs::create_dir_all(&corpus).unwrap();
            fs::write(corpus.join(name), &bytes).unwrap();
        }
    }
    let [(_, verify), (_, ls), (_, extract)] = three_commands(&work.path().join("text-file.tar.zst"));
    for text in [verify, ls, extract] {
        assert!(!text.contains("secret-looking") && !text.contains('\u{1b}'), "raw bytes printed: {text}");
    }
}

#[test]
fn an_archive_that_cannot_be_opened_is_bad_input_and_creates_nothing() {
    let work = open_tempdir();
    let missing = work.path().join("missing.tar.zst");
    let target = work.path().join("target");
    for args in [
        vec!["verify", missing.to_str().unwrap()],
        vec!["ls", missing.to_str().unwrap()],
        vec!["extract", missing.to_str().unwrap(), target.to_str().unwrap()],
    ] {
        let output = run_bounded(&args);
        assert_eq!(code(&output), 2, "{args:?}: {}", all_text(&output));
        assert!(all_text(&output).contains("check the archive path"), "{}", all_text(&output));
    }
    assert!(!target.exists(), "extract created its target before opening the archive");
}

#[test]
fn a_directory_is_no_archive_and_junk_after_the_end_fails_every_command() {
    let work = open_tempdir();
    let target = work.path().join("target");
    for args in [
        vec!["verify", work.path().to_str().unwrap()],
        vec!["ls", work.path().to_str().unwrap()],
        vec!["extract", work.path().to_str().unwrap(), target.to_str().unwrap()],
    ] {
        let output = run_bounded(&args);
        assert_eq!(code(&output), 2, "{args:?}: {}", all_text(&output));
    }
    assert!(!target.exists());

    let source = work.path().join("src");
    write_tree(&source, &[("a.txt", b"alpha")]);
    let (archive, output) = export(work.path(), "bag", &[&source], &[]);
    assert_eq!(code(&output), 0);
    let mut bytes = fs::read(&archive).unwrap();
    bytes.extend(compress(b"junk after the end of the tar stream"));
    fs::write(&archive, bytes).unwrap();
    fs::remove_file(work.path().join("bag.tar.zst.sha256")).unwrap();
    for (command, (code, text)) in ["verify", "ls", "extract"].iter().zip(three_commands(&archive)) {
        assert_eq!(code, 4, "{command}: {text}");
        assert!(text.contains("non-zero bytes follow the end"), "{command}: {text}");
    }
}

/// Archives whose members clash: a file twice (the second tag manifest of an attacker), a
/// file that is also a directory, a file named like a directory. `verify` fails them; what
/// `extract` writes is only ever the checked copy.
#[test]
fn clashing_members_fail_verification_and_only_checked_copies_are_written() {
    let work = open_tempdir();
    let source = work.path().join("src");
    write_tree(&source, &[("a.txt", b"alpha")]);
    let (archive, output) = export(work.path(), "bag", &[&source], &[]);
    assert_eq!(code(&output), 0);
    let tar = zstd::decode_all(&fs::read(&archive).unwrap()[..]).unwrap();
    let end = tar.len() - 1024;
    let (body, _) = tar.split_at(end);
    let tag_manifest_at = body.windows(22).rposition(|w| w == b"tagmanifest-sha256.txt").unwrap() / 512 * 512;
    // The exported tar with one more member at `at`, finished again.
    let with_member = |at: usize, name: &str, data: &[u8]| {
        let mut tar = body[..at].to_vec();
        tar.extend(member(tar::EntryType::Regular, name, data));
        tar.extend(&body[at..]);
        tar.extend([0; 1024]);
        tar
    };
    let cases = [
        (
            "tag manifest first twice",
            with_member(tag_manifest_at, "bag/tagmanifest-sha256.txt", b"#!/bin/sh\nrm -rf ~\n"),
            "tagmanifest-sha256.txt: appears twice",
        ),
        (
            "file then directory",
            with_member(body.len(), "bag/data/fs-src/a.txt/inner", b"x"),
            "lies under bag/data/fs-src/a.txt, which is a file member",
        ),
        ("file with a trailing slash", with_member(body.len(), "bag/data/fs-src/b/", b"x"), "named like a directory"),
    ];
    for (name, tar, needle) in cases {
        let path = work.path().join("clash.tar.zst");
        fs::write(&path, compress(&tar)).unwrap();
        let target = work.path().join("clash.x");
        let [(verify, verify_text), _, (extract, extract_text)] = three_commands_keeping(&path, &target);
        assert_eq!(verify, 4, "{name}: {verify_text}");
        assert!(verify_text.contains(needle), "{name}: {verify_text}");
        assert_eq!(extract, 4, "{name}: {extract_text}");
        if let Ok(written) = fs::read(target.join("bag/tagmanifest-sha256.txt")) {
            assert!(!written.starts_with(b"#!"), "{name}: the unchecked tag manifest was written");
        }
        fs::remove_dir_all(&target).unwrap();
    }
}

#[test]
fn member_names_cannot_drive_the_terminal() {
    let work = open_tempdir();
    let mut tar = member(tar::EntryType::Regular, "bag/data/\u{1b}]0;owned\u{7}\u{1b}[2Jred\rname", b"x");
    tar.extend([0; 1024]);
    let archive = work.path().join("escapes.tar.zst");
    fs::write(&archive, compress(&tar)).unwrap();
    let output = run_bounded(&["ls", archive.to_str().unwrap()]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    let text = all_text(&output);
    assert!(text.contains("\\u{1b}[2Jred\\rname") && !text.contains('\u{1b}') && !text.contains('\r'), "{text}");
    let output = run_bounded(&["verify", archive.to_str().unwrap()]);
    assert_eq!(code(&output), 4);
    assert!(!all_text(&output).contains('\u{1b}'), "{}", all_text(&output));
}

/// A small tar-level mutation fuzzer on stable Rust: every mutant of a real archive (bytes
/// flipped, blocks dropped or repeated in the tar stream, then recompressed; or bytes
/// flipped in the compressed file) and every corpus file must end with exit 0, 3 or 4 —
/// never a crash, a hang, an allocation beyond the bound or a write outside the target.
#[test]
fn the_reader_survives_the_corpus_and_mutants_of_a_real_archive() {
    let work = open_tempdir();
    let source = work.path().join("src");
    write_tree(&source, &[("a.txt", b"alpha\n"), ("dir/b.bin", &noise(70_000, 3)), ("dir/c", b"")]);
    let (archive, output) = export(work.path(), "seed", &[&source], &[]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    let compressed = fs::read(&archive).unwrap();
    let tar = zstd::decode_all(&compressed[..]).unwrap();

    let mut inputs: Vec<(String, Vec<u8>)> = Vec::new();
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/archive_reader");
    for entry in fs::read_dir(&corpus).expect("the committed seed corpus") {
        let path = entry.unwrap().path();
        inputs.push((path.display().to_string(), fs::read(&path).unwrap()));
    }
    let mut state = 0x5eed_u64;
    let mut next = move |below: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % below as u64) as usize
    };
    for round in 0..60 {
        let mut mutant = tar.clone();
        match round % 3 {
            0 => {
                for _ in 0..1 + next(4) {
                    let at = next(mutant.len());
                    mutant[at] ^= 1 << next(8);
                }
            }
            1 => {
                let block = next(mutant.len() / 512) * 512;
                mutant.drain(block..block + 512);
            }
            _ => {
                let block = next(mutant.len() / 512) * 512;
                let copy = mutant[block..block + 512].to_vec();
                mutant.splice(block..block, copy);
            }
        }
        inputs.push((format!("tar mutant {round}"), compress(&mutant)));
        let mut flipped = compressed.clone();
        let at = next(flipped.len());
        flipped[at] ^= 1 << next(8);
        inputs.push((format!("zstd mutant {round}"), flipped));
    }
    for (index, (name, bytes)) in inputs.iter().enumerate() {
        let path = work.path().join(format!("input-{index}.tar.zst"));
        fs::write(&path, bytes).unwrap();
        for (command, (code, text)) in ["verify", "ls", "extract"].iter().zip(three_commands(&path)) {
            assert!([0, 3, 4].contains(&code), "{command} of {name}: exit {code}: {text}");
        }
        fs::remove_file(&path).unwrap();
    }
    let mut left: Vec<_> = fs::read_dir(work.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    left.sort();
    let exported = ["seed.tar.zst", "seed.tar.zst.report.html", "seed.tar.zst.sha256", "src"];
    assert_eq!(left, exported, "something was written beside the targets");
}
