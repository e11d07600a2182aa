//! Helpers shared by the integration tests: run the real binary, build fixture trees,
//! call the standard tools (GNU tar, zstd, sha256sum, bagit.py) that must accept every
//! archive Sortie calls complete.
#![allow(dead_code)]

pub mod dav;
pub mod dovecot;
pub mod fault_proxy;
pub mod openstack;
pub mod ovh;
pub mod s3_server;
pub mod sshd;
pub mod tcp_proxy;
pub mod tsa;
pub mod webdav;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `sortie` binary under test.
pub fn sortie() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sortie"))
}

/// Runs `sortie ARGS` and returns its output.
pub fn run(args: &[&str]) -> Output {
    sortie().args(args).output().expect("sortie runs")
}

/// Runs `sortie ARGS` as an unprivileged user when the tests run as root, so that file
/// permissions mean something (root reads a mode-000 file).
pub fn run_unprivileged(args: &[&str]) -> Output {
    run_unprivileged_with(args, &[])
}

/// [`run_unprivileged`] with `env` added to the environment.
pub fn run_unprivileged_with(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = if is_root() {
        let mut setpriv = Command::new("setpriv");
        setpriv.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"]).arg(env!("CARGO_BIN_EXE_sortie"));
        setpriv
    } else {
        sortie()
    };
    command.args(args).envs(env.iter().copied()).output().expect("sortie runs (through setpriv, util-linux, as root)")
}

pub fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| o.stdout.starts_with(b"0\n")).unwrap_or(false)
}

pub fn code(output: &Output) -> i32 {
    output.status.code().expect("exited normally")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The outcome a command given `--json` prints last on stdout: `export --json` prints its
/// events before it (docs/EVENTS.md), every other command prints it alone.
pub fn json_outcome(output: &Output) -> serde_json::Value {
    let text = stdout(output);
    let last = text.lines().last().unwrap_or_else(|| panic!("nothing on stdout: {}", all_text(output)));
    serde_json::from_str(last).unwrap_or_else(|e| panic!("the last line is not JSON ({e}): {}", all_text(output)))
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Both streams, for assertions that do not care where a message went.
pub fn all_text(output: &Output) -> String {
    format!("{}{}", stdout(output), stderr(output))
}

/// Runs a standard tool; the test fails with an install hint when it is missing.
pub fn tool(name: &str, args: &[&str], dir: &Path) -> Output {
    Command::new(name).args(args).current_dir(dir).output().unwrap_or_else(|e| {
        panic!("{name} is needed by the tests ({e}): run `bash .ci/run` once, or install it (zstd, tar, `pip install bagit`)")
    })
}

/// Asserts a tool succeeded, showing its output otherwise.
pub fn assert_tool_ok(name: &str, args: &[&str], dir: &Path) {
    let output = tool(name, args, dir);
    assert!(output.status.success(), "{name} {args:?} failed:\n{}", all_text(&output));
}

/// A temporary directory every user can enter (tests may run sortie unprivileged).
pub fn open_tempdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    set_mode(dir.path(), 0o777);
    dir
}

pub fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

/// Writes `files` (relative path → content) under `root`, creating directories.
pub fn write_tree(root: &Path, files: &[(&str, &[u8])]) {
    for (path, content) in files {
        let full = root.join(path);
        fs::create_dir_all(full.parent().unwrap()).unwrap();
        fs::write(full, content).unwrap();
    }
}

/// A tree of `ok.txt` and `count` files no one but root may read (`secret-NNNN.txt`, whose
/// names it returns): each a failure of an export run by [`run_unprivileged`].
pub fn unreadable_tree(root: &Path, count: usize) -> Vec<String> {
    let names: Vec<String> = (0..count).map(|n| format!("secret-{n:04}.txt")).collect();
    let files: Vec<(&str, &[u8])> =
        std::iter::once(("ok.txt", &b"fine"[..])).chain(names.iter().map(|n| (n.as_str(), &b"no"[..]))).collect();
    write_tree(root, &files);
    for name in &names {
        set_mode(&root.join(name), 0o000);
    }
    set_mode(root, 0o755);
    names
}

/// Deterministic incompressible bytes.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// Exports `sources` to `DIR/NAME.tar.zst` and returns (archive path, output).
pub fn export(dir: &Path, name: &str, sources: &[&Path], extra: &[&str]) -> (PathBuf, Output) {
    let archive = dir.join(format!("{name}.tar.zst"));
    let mut args: Vec<String> = vec!["export".into()];
    args.extend(sources.iter().map(|s| s.to_string_lossy().into_owned()));
    args.extend(["-o".into(), archive.to_string_lossy().into_owned()]);
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    (archive.clone(), run(&args))
}

/// Extracts with GNU tar into a new directory `DIR/NAME-x` and returns the bag root.
pub fn gnu_extract(archive: &Path, name: &str) -> PathBuf {
    let dir = archive.parent().unwrap().join(format!("{name}-x"));
    fs::create_dir_all(&dir).unwrap();
    assert_tool_ok("tar", &["--zstd", "-xf", archive.to_str().unwrap()], &dir);
    dir.join(name)
}

/// The inventory records of an extracted bag.
pub fn inventory(bag: &Path) -> Vec<serde_json::Value> {
    fs::read_to_string(bag.join("sortie/inventory.jsonl"))
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// The report of an extracted bag.
pub fn report(bag: &Path) -> serde_json::Value {
    serde_json::from_str(&fs::read_to_string(bag.join("sortie/report.json")).unwrap()).unwrap()
}

/// A field of bag-info.txt.
pub fn bag_info(bag: &Path, label: &str) -> Option<String> {
    fs::read_to_string(bag.join("bag-info.txt"))
        .unwrap()
        .lines()
        .find_map(|line| line.strip_prefix(&format!("{label}: ")).map(str::to_owned))
}

/// Raw bytes of the original id of a record (honouring `id_hex`).
pub fn record_id(record: &serde_json::Value) -> Vec<u8> {
    match record["id_hex"].as_str() {
        Some(hex) => hex::decode(hex).unwrap(),
        None => record["id"].as_str().unwrap().as_bytes().to_vec(),
    }
}

/// Checks the standard tools accept the bag: bagit.py and `sha256sum -c`, plus `zstd -t`
/// and `sha256sum -c` of the sidecar on the archive.
pub fn assert_standard_tools_accept(archive: &Path, bag: &Path) {
    let dir = archive.parent().unwrap();
    let name = archive.file_name().unwrap().to_str().unwrap();
    assert_tool_ok("zstd", &["-q", "-t", name], dir);
    assert_tool_ok("sha256sum", &["-c", &format!("{name}.sha256")], dir);
    assert_tool_ok("sha256sum", &["--quiet", "-c", "manifest-sha256.txt"], bag);
    assert_tool_ok("sha256sum", &["--quiet", "-c", "tagmanifest-sha256.txt"], bag);
    assert_tool_ok("bagit.py", &["--validate", bag.to_str().unwrap()], dir);
}

/// Every regular file of a source tree must be in the bag, byte for byte, at the path the
/// inventory gives for its id.
pub fn assert_files_identical(source: &Path, bag: &Path, source_id: &str) {
    use std::os::unix::ffi::OsStrExt;
    let records = inventory(bag);
    let mut checked = 0;
    for entry in walkdir(source) {
        let meta = fs::symlink_metadata(&entry).unwrap();
        if !meta.is_file() {
            continue;
        }
        let id = entry.strip_prefix(source).unwrap().as_os_str().as_bytes().to_vec();
        let record = records
            .iter()
            .find(|r| r["source"] == source_id && record_id(r) == id)
            .unwrap_or_else(|| panic!("no inventory record for {}", entry.display()));
        let path = record["path"].as_str().expect("archived files have a path");
        assert_eq!(fs::read(bag.join(path)).unwrap(), fs::read(&entry).unwrap(), "{}", entry.display());
        checked += 1;
    }
    assert!(checked > 0, "the fixture has files");
}

fn walkdir(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if fs::symlink_metadata(&path).unwrap().is_dir() {
                stack.push(path.clone());
            }
            out.push(path);
        }
    }
    out
}
