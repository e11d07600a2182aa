//! Plugins loaded at run time: a provider written in C against `sortie_plugin.h` alone
//! exports, conforms and is listed; every way a plugin can be broken or hostile gives a clear
//! error (exit 5 before anything is written, or a failed page or item in a valid, incomplete
//! archive), never a crash and never a wrong archive.
//!
//! The plugins are built here: `tests/plugins/c/minimal.c` with `cc`, one `-D` macro per
//! misbehaviour, and the `sortie-plugin-faulty` crate (Rust panics, lying bodies) with a
//! nested `cargo build`. Every plugin is copied into a directory of its own that only its
//! owner can write to: the host refuses a plugin others could replace.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::*;
use sortie_core::plugin::Plugin;
use sortie_sdk::{Context, ErrorKind, Item, Kind, RawName, Settings};

const C_SOURCE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/plugins/c/minimal.c");
const ABI_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/sdk/abi");

/// Compiles `minimal.c` with `defines` into `DIR/libsortie_plugin_NAME.so`.
fn c_plugin(dir: &Path, name: &str, defines: &[&str]) -> PathBuf {
    let flags = [&["-std=c11", "-Wall", "-Wextra", "-Werror"], defines].concat();
    compile_c(dir, name, C_SOURCE, &flags)
}

/// Compiles the C plugin `source` with `flags` against `sortie_plugin.h` into
/// `DIR/libsortie_plugin_NAME.so`, mode 0755 (the host refuses what others can write).
fn compile_c(dir: &Path, name: &str, source: &str, flags: &[&str]) -> PathBuf {
    let library = dir.join(format!("libsortie_plugin_{name}.so"));
    let compiled = Command::new("cc")
        .args(flags)
        .args(["-shared", "-fPIC", "-I", ABI_DIR, "-o"])
        .arg(&library)
        .arg(source)
        .output()
        .expect("a C compiler (cc) builds the C plugins");
    assert!(compiled.status.success(), "{source} {flags:?} does not compile:\n{}", all_text(&compiled));
    set_mode(&library, 0o755);
    library
}

/// The faulty Rust plugin, built once per test process by the cargo running the tests, into
/// the same target directory, then copied into `dir`.
fn faulty_plugin(dir: &Path) -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    let built = BUILT.get_or_init(|| {
        // target/PROFILE/deps/plugins-HASH
        let exe = std::env::current_exe().unwrap();
        let profile = exe.parent().and_then(Path::parent).expect("the test runs from target/PROFILE/deps");
        let target = profile.parent().expect("target/PROFILE");
        let mut cargo = Command::new(option_env!("CARGO").unwrap_or("cargo"));
        cargo.args(["build", "--quiet", "-p", "sortie-plugin-faulty", "--target-dir"]).arg(target);
        if profile.file_name().is_some_and(|name| name == "release") {
            cargo.arg("--release");
        }
        let output = cargo.current_dir(env!("CARGO_MANIFEST_DIR")).output().expect("cargo runs");
        assert!(output.status.success(), "cargo build -p sortie-plugin-faulty:\n{}", all_text(&output));
        profile.join("libsortie_plugin_faulty.so")
    });
    let copy = dir.join("libsortie_plugin_faulty.so");
    fs::copy(built, &copy).unwrap();
    set_mode(&copy, 0o755);
    copy
}

/// A directory for plugins and archives: the temporary directory's sticky `/tmp` parent is
/// accepted, the directory itself is writable by its owner only.
fn plugin_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    set_mode(dir.path(), 0o755);
    dir
}

/// `sortie --plugin P… ARGS` with no plugin directory from the environment.
fn sortie_with(plugins: &[&Path], args: &[&str]) -> Command {
    let mut command = sortie();
    command.env_remove("SORTIE_PLUGIN_PATH");
    for plugin in plugins {
        command.arg("--plugin").arg(plugin);
    }
    command.args(args);
    command
}

/// Runs a command, failing the test if it has not finished within `limit` (a plugin call
/// that never returns must not hang the host).
fn finish_within(mut command: Command, limit: Duration) -> Output {
    let mut child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("sortie runs");
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            child.kill().unwrap();
            let output = child.wait_with_output().unwrap();
            panic!("sortie still ran after {limit:?}:\n{}", all_text(&output));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child.wait_with_output().unwrap()
}

/// Exports `source` through `plugins` into `DIR/NAME.tar.zst`.
fn export_through(dir: &Path, name: &str, plugins: &[&Path], source: &str, extra: &[&str]) -> (PathBuf, Output) {
    let archive = dir.join(format!("{name}.tar.zst"));
    let mut args = vec!["export", source, "-o", archive.to_str().unwrap()];
    args.extend(extra);
    let output = finish_within(sortie_with(plugins, &args), Duration::from_secs(120));
    (archive, output)
}

/// What `cdemo://` serves with `items` bulk items, by id: the C plugin's documented bytes,
/// built here independently.
fn cdemo_bodies(items: u32) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let mut bodies = BTreeMap::new();
    bodies.insert(b"readme.txt".to_vec(), b"hello from a C plugin\n".to_vec());
    bodies.insert(b"docs/guide/intro.md".to_vec(), b"# intro\nnested two levels down\n".to_vec());
    bodies.insert(b"empty.txt".to_vec(), Vec::new());
    bodies.insert(b"docs/pattern.bin".to_vec(), (0..300_000usize).map(|i| (i * 7 % 251) as u8).collect());
    for i in 0..items {
        bodies.insert(format!("bulk/{i:03}.txt").into_bytes(), format!("item {i}\n").into_bytes());
    }
    bodies
}

/// The payload files of source `source` in an extracted bag, by path under its directory.
fn payload(bag: &Path, source: &str) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let root = bag.join("data").join(source);
    let mut files = BTreeMap::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let id = path.strip_prefix(&root).unwrap().to_str().unwrap().as_bytes().to_vec();
                files.insert(id, fs::read(&path).unwrap());
            }
        }
    }
    files
}

/// A valid archive that says it is incomplete: the standard tools read it, `sortie verify`
/// finds it intact but incomplete (3). Returns the extracted bag.
fn assert_valid_but_incomplete(archive: &Path, name: &str) -> PathBuf {
    let bag = gnu_extract(archive, name);
    assert_standard_tools_accept(archive, &bag);
    assert_eq!(bag_info(&bag, "Sortie-Complete").as_deref(), Some("false"));
    let verify = run(&["verify", archive.to_str().unwrap()]);
    assert_eq!(code(&verify), 3, "intact but incomplete: {}", all_text(&verify));
    bag
}

/// The report's failures, as (id, error) pairs.
fn failures(bag: &Path) -> Vec<(String, String)> {
    report(bag)["failures"]
        .as_array()
        .expect("the report lists failures")
        .iter()
        .map(|f| (f["id"].as_str().unwrap_or_default().to_owned(), f["error"].as_str().unwrap_or_default().to_owned()))
        .collect()
}

/// The one failure whose id or error mentions `needle`.
fn failure_about(bag: &Path, needle: &str) -> String {
    let failures = failures(bag);
    let matching: Vec<&(String, String)> =
        failures.iter().filter(|(id, e)| id.contains(needle) || e.contains(needle)).collect();
    assert_eq!(matching.len(), 1, "one failure about {needle}: {failures:?}");
    format!("{} {}", matching[0].0, matching[0].1)
}

/// Whether `text` names the plugin, by its name or its file.
fn names_plugin(text: &str, name: &str, library: &Path) -> bool {
    text.contains(name) || text.contains(library.file_name().unwrap().to_str().unwrap())
}

#[test]
fn an_export_through_the_c_plugin_archives_exactly_what_it_serves() {
    let dir = plugin_dir();
    let plugin = c_plugin(dir.path(), "cdemo", &[]);
    let (archive, output) = export_through(dir.path(), "cdemo", &[&plugin], "cdemo://anything", &["--set", "items=5"]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    let bag = gnu_extract(&archive, "cdemo");
    assert_standard_tools_accept(&archive, &bag);
    assert_eq!(bag_info(&bag, "Sortie-Complete").as_deref(), Some("true"));
    let archived = payload(&bag, "cdemo-anything");
    assert_eq!(archived.len(), 9, "four fixed items and five bulk ones: {:?}", archived.keys());
    assert!(archived == cdemo_bodies(5), "the archive holds other bytes than the plugin serves");
    let verify = run(&["verify", archive.to_str().unwrap()]);
    assert_eq!(code(&verify), 0, "{}", all_text(&verify));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_c_plugin_conforms() {
    let dir = plugin_dir();
    let library = c_plugin(dir.path(), "cdemo", &[]);
    let plugin = Plugin::load(&library, Duration::from_secs(30)).unwrap_or_else(|e| panic!("load: {e}"));
    assert_eq!((plugin.name(), plugin.version(), plugin.abi()), ("minimal-c", "0.3.1", (1, 0)));
    assert_eq!(plugin.path(), library.as_path());
    let factories = plugin.factories();
    assert_eq!(factories.len(), 1);
    let factory = factories[0].as_ref();
    let info = factory.info();
    assert_eq!(info.scheme, "cdemo");
    let mut settings = Settings::new();
    settings.set(info.setting("items").unwrap(), "7").unwrap();
    let source = factory.source("cdemo://anything", settings).unwrap();
    let missing =
        Item::new(RawName::text("bulk/999.txt"), vec![RawName::text("bulk"), RawName::text("999.txt")], Kind::File);
    let expected = sortie_conformance::Expected { bodies: cdemo_bodies(7), secrets: &[], missing };
    let items = sortie_conformance::check(factory, source, expected).await;
    assert_eq!(items.len(), 11, "listed over four pages of three");
}

#[test]
fn providers_lists_a_plugin_with_its_file_version_and_abi() {
    let dir = plugin_dir();
    let plugin = c_plugin(dir.path(), "cdemo", &[]);
    let path = plugin.to_str().unwrap();

    let text = sortie_with(&[&plugin], &["providers"]).output().unwrap();
    assert_eq!(code(&text), 0, "{}", all_text(&text));
    let line = stdout(&text).lines().skip_while(|l| !l.starts_with("cdemo ")).take(3).collect::<Vec<_>>().join("\n");
    for needle in ["cdemo", path, "minimal-c 0.3.1", "ABI 1.0"] {
        assert!(line.contains(needle), "`providers` shows {needle}: {}", stdout(&text));
    }

    let json = sortie_with(&[&plugin], &["providers", "--json"]).output().unwrap();
    assert_eq!(code(&json), 0, "{}", all_text(&json));
    let providers: serde_json::Value = serde_json::from_str(stdout(&json).trim()).unwrap();
    let providers = providers.as_array().unwrap();
    assert!(providers.iter().filter(|p| p["scheme"] != "cdemo").all(|p| p["origin"] == "built-in"), "{providers:?}");
    let cdemo = providers.iter().find(|p| p["scheme"] == "cdemo").expect("cdemo is listed");
    let origin = (&cdemo["origin"], &cdemo["path"], &cdemo["plugin"], &cdemo["version"], &cdemo["abi"]);
    assert_eq!(origin, (&"plugin".into(), &path.into(), &"minimal-c".into(), &"0.3.1".into(), &"1.0".into()));
    assert_eq!(cdemo["settings"][0]["name"], "items", "the plugin's settings schema: {cdemo}");

    let settings = sortie_with(&[&plugin], &["providers", "cdemo"]).output().unwrap();
    assert!(stdout(&settings).contains("items (integer, default 3)"), "{}", all_text(&settings));
}

/// Every plugin that cannot be loaded stops the command with exit 5 before anything is
/// written, naming the file and the problem (`needles`, any of each group).
#[test]
fn a_plugin_that_cannot_be_loaded_is_refused_naming_the_file_and_the_problem() {
    let dir = plugin_dir();
    let text_file = dir.path().join("libsortie_plugin_text.so");
    fs::write(&text_file, "this is not a shared library\n").unwrap();
    set_mode(&text_file, 0o644);
    let cases: Vec<(PathBuf, &[&[&str]])> = vec![
        (text_file, &[&["shared library"]]),
        (c_plugin(dir.path(), "magic", &["-DBAD_MAGIC"]), &[&["magic"]]),
        (c_plugin(dir.path(), "major2", &["-DABI_MAJOR_IS=2"]), &[&["ABI 2.0"], &["ABI 1.0"]]),
        (c_plugin(dir.path(), "major0", &["-DABI_MAJOR_IS=0"]), &[&["ABI 0.0"], &["ABI 1.0"]]),
        (c_plugin(dir.path(), "noentry", &["-DNO_ENTRY"]), &[&["sortie_plugin_entry"]]),
        (c_plugin(dir.path(), "nullentry", &["-DNULL_ENTRY"]), &[&["no table", "failed to start"]]),
        (c_plugin(dir.path(), "describe", &["-DBAD_JSON_DESCRIBE"]), &[&["describe"], &["JSON", "json"]]),
    ];
    for (plugin, needles) in cases {
        let archive = dir.path().join("never.tar.zst");
        let output =
            sortie_with(&[&plugin], &["export", "cdemo://anything", "-o", archive.to_str().unwrap()]).output().unwrap();
        let text = stderr(&output);
        assert_eq!(code(&output), 5, "{}: {}", plugin.display(), all_text(&output));
        assert!(text.contains(plugin.to_str().unwrap()), "the message names the file: {text}");
        // What the message says about the file, the path taken out (it holds digits).
        let said = text.replace(plugin.to_str().unwrap(), "PLUGIN");
        for group in needles {
            assert!(
                group.iter().any(|needle| said.contains(needle)),
                "{}: one of {group:?} in: {said}",
                plugin.display()
            );
        }
        assert!(!said.contains("panicked"), "{said}");
        let written: Vec<_> = fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert!(
            written.iter().all(|name| !name.to_string_lossy().starts_with("never")),
            "nothing written: {written:?}"
        );
    }
}

#[test]
fn a_plugin_of_a_newer_minor_abi_loads_and_exports() {
    let dir = plugin_dir();
    let library = c_plugin(dir.path(), "newer", &["-DNEWER_MINOR"]);
    let plugin = Plugin::load(&library, Duration::from_secs(30)).unwrap_or_else(|e| panic!("load: {e}"));
    assert_eq!(plugin.abi(), (1, 1));
    let (archive, output) = export_through(dir.path(), "newer", &[&library], "cdemo://anything", &[]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    let bag = gnu_extract(&archive, "newer");
    assert!(payload(&bag, "cdemo-anything") == cdemo_bodies(3));
}

#[test]
fn plugins_from_the_plugin_path_are_the_libsortie_plugin_files_of_its_directories() {
    let dir = plugin_dir();
    let plugins = dir.path().join("plugins");
    fs::create_dir(&plugins).unwrap();
    set_mode(&plugins, 0o755);
    c_plugin(&plugins, "cdemo", &[]);
    // Not named libsortie_plugin_*.so: never opened, although it is no library.
    fs::write(plugins.join("libother.so"), "not a library").unwrap();
    fs::write(plugins.join("README"), "not a library").unwrap();
    let archive = dir.path().join("path.tar.zst");
    let path = format!(":{}:", plugins.display());
    let output = sortie()
        .env("SORTIE_PLUGIN_PATH", &path)
        .args(["export", "cdemo://anything", "-o", archive.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(code(&output), 0, "{}", all_text(&output));

    // A file of the path that is not a library is refused like a --plugin one.
    let broken = plugins.join("libsortie_plugin_broken.so");
    fs::write(&broken, "not a library").unwrap();
    let output = sortie().env("SORTIE_PLUGIN_PATH", &path).args(["providers"]).output().unwrap();
    assert_eq!(code(&output), 5, "{}", all_text(&output));
    assert!(stderr(&output).contains(broken.to_str().unwrap()), "{}", stderr(&output));
}

#[test]
fn no_plugin_is_loaded_from_the_current_directory_implicitly() {
    let dir = plugin_dir();
    c_plugin(dir.path(), "cdemo", &[]);
    for path in [None, Some(""), Some(":"), Some("::")] {
        let mut command = sortie();
        command.current_dir(dir.path()).env_remove("SORTIE_PLUGIN_PATH").arg("providers");
        if let Some(path) = path {
            command.env("SORTIE_PLUGIN_PATH", path);
        }
        let output = command.output().unwrap();
        assert_eq!(code(&output), 0, "SORTIE_PLUGIN_PATH={path:?}: {}", all_text(&output));
        assert!(!stdout(&output).contains("cdemo"), "SORTIE_PLUGIN_PATH={path:?} loaded ./: {}", stdout(&output));
    }
}

/// Like ssh's StrictModes: a plugin file or directory that others can write to may have been
/// replaced by anyone, and runs with the user's credentials: refused.
#[test]
fn a_plugin_others_can_write_to_is_refused() {
    let dir = plugin_dir();
    let writable_file = c_plugin(dir.path(), "cdemo", &[]);
    for mode in [0o775, 0o757] {
        set_mode(&writable_file, mode);
        let output = sortie_with(&[&writable_file], &["providers"]).output().unwrap();
        assert_eq!(code(&output), 5, "mode {mode:o}: {}", all_text(&output));
        let text = stderr(&output);
        assert!(text.contains(writable_file.to_str().unwrap()) && text.contains("writable"), "{text}");
    }

    let open_dir = dir.path().join("open");
    fs::create_dir(&open_dir).unwrap();
    let in_open_dir = c_plugin(&open_dir, "cdemo", &[]);
    for mode in [0o777, 0o775] {
        set_mode(&open_dir, mode);
        let output = sortie_with(&[&in_open_dir], &["providers"]).output().unwrap();
        assert_eq!(code(&output), 5, "directory mode {mode:o}: {}", all_text(&output));
        let text = stderr(&output);
        assert!(text.contains(open_dir.to_str().unwrap()) && text.contains("writable"), "{text}");
        let output = sortie().env("SORTIE_PLUGIN_PATH", &open_dir).args(["providers"]).output().unwrap();
        assert_eq!(code(&output), 5, "the same from SORTIE_PLUGIN_PATH: {}", all_text(&output));
    }
    set_mode(&open_dir, 0o755);
    let output = sortie_with(&[&in_open_dir], &["providers"]).output().unwrap();
    assert_eq!(code(&output), 0, "the same plugin once only its owner can write: {}", all_text(&output));
}

#[test]
fn a_scheme_provided_twice_is_refused_naming_both_origins() {
    let dir = plugin_dir();
    let first = c_plugin(dir.path(), "first", &[]);
    let second = c_plugin(dir.path(), "second", &[]);
    let output = sortie_with(&[&first, &second], &["providers"]).output().unwrap();
    assert_eq!(code(&output), 5, "{}", all_text(&output));
    let text = stderr(&output);
    for needle in ["cdemo", first.to_str().unwrap(), second.to_str().unwrap()] {
        assert!(text.contains(needle), "{needle} in: {text}");
    }

    let file = c_plugin(dir.path(), "file", &["-DSCHEME=\"file\""]);
    let output = sortie_with(&[&file], &["providers"]).output().unwrap();
    assert_eq!(code(&output), 5, "{}", all_text(&output));
    let text = stderr(&output);
    for needle in ["'file'", file.to_str().unwrap()] {
        assert!(text.contains(needle), "{needle} in: {text}");
    }
    assert!(text.contains("built in") || text.contains("built-in"), "the other origin is named: {text}");
}

#[test]
fn a_page_that_is_not_json_fails_naming_the_plugin_in_a_valid_archive() {
    let dir = plugin_dir();
    let plugin = c_plugin(dir.path(), "badjson", &["-DBAD_JSON_LIST"]);
    let (archive, output) = export_through(dir.path(), "badjson", &[&plugin], "cdemo://anything", &["--retries", "0"]);
    assert_eq!(code(&output), 3, "{}", all_text(&output));
    let bag = assert_valid_but_incomplete(&archive, "badjson");
    let failure = failure_about(&bag, "listing");
    assert!(names_plugin(&failure, "minimal-c", &plugin), "{failure}");
    assert!(failure.to_lowercase().contains("json"), "{failure}");
    let archived = payload(&bag, "cdemo-anything");
    let first_page: BTreeMap<_, _> = cdemo_bodies(0).into_iter().filter(|(id, _)| id != b"docs/pattern.bin").collect();
    assert!(archived == first_page, "the first page is archived, whole: {:?}", archived.keys());
}

#[test]
fn a_plugin_call_that_never_returns_times_out_naming_the_plugin() {
    let dir = plugin_dir();
    let first_page = [&b"readme.txt"[..], b"docs/guide/intro.md", b"empty.txt"];
    for (name, define, needle) in
        [("hangread", "-DHANG_IN_READ", "readme.txt"), ("hanglist", "-DHANG_IN_LIST", "listing")]
    {
        let plugin = c_plugin(dir.path(), name, &[define]);
        let archive = dir.path().join(format!("{name}.tar.zst"));
        let command = sortie_with(
            &[&plugin],
            &["--plugin-timeout", "2", "export", "cdemo://anything", "-o", archive.to_str().unwrap(), "--retries", "0"],
        );
        let output = finish_within(command, Duration::from_secs(60));
        assert_eq!(code(&output), 3, "{name}: {}", all_text(&output));
        let bag = assert_valid_but_incomplete(&archive, name);
        let failure = failure_about(&bag, needle);
        assert!(names_plugin(&failure, "minimal-c", &plugin), "{failure}");
        assert!(failure.contains("timed out") || failure.contains("timeout"), "{failure}");
        assert!(failure.contains('2'), "the timeout is said: {failure}");
        let expected: BTreeMap<_, _> = cdemo_bodies(3)
            .into_iter()
            .filter(
                |(id, _)| if name == "hangread" { id != b"readme.txt" } else { first_page.contains(&id.as_slice()) },
            )
            .collect();
        assert!(payload(&bag, "cdemo-anything") == expected, "{name}: everything else is archived");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_kind_crosses_the_abi() {
    let dir = plugin_dir();
    let kinds = [
        ("not-found", ErrorKind::NotFound),
        ("permission-denied", ErrorKind::PermissionDenied),
        ("unauthenticated", ErrorKind::Unauthenticated),
        ("rate-limited", ErrorKind::RateLimited),
        ("unavailable", ErrorKind::Unavailable),
        ("invalid-input", ErrorKind::InvalidInput),
        ("unsupported", ErrorKind::Unsupported),
        ("integrity", ErrorKind::Integrity),
        ("io", ErrorKind::Io),
        ("other", ErrorKind::Other),
        ("a-kind-of-abi-1.7", ErrorKind::Other),
    ];
    for (wire, kind) in kinds {
        for temporary in [false, true] {
            let name = format!("{}{}", wire.replace(['-', '.'], "_"), if temporary { "_temporary" } else { "" });
            let define = format!("-DFAIL_KIND=\"{wire}\"");
            let mut defines = vec![define.as_str()];
            if temporary {
                defines.push("-DFAIL_TEMPORARY");
            }
            let library = c_plugin(dir.path(), &name, &defines);
            let plugin = Plugin::load(&library, Duration::from_secs(30)).unwrap_or_else(|e| panic!("load: {e}"));
            let factory = plugin.factories().pop().unwrap();
            let source = factory.source("cdemo://anything", Settings::new()).unwrap();
            let provider = factory.open(&source, &Context::default()).unwrap();
            let page = provider.list_page(None).await.unwrap();
            let readme = page.items.iter().find(|i| i.id == RawName::text("readme.txt")).unwrap();
            let error = match provider.open(readme).await {
                Ok(_) => panic!("{name}: opening readme.txt succeeded"),
                Err(error) => error,
            };
            assert_eq!(error.kind(), kind, "{name}: {error}");
            assert_eq!(error.is_temporary(), temporary, "{name}: {error}");
            assert_eq!(error.retry_after(), temporary.then_some(Duration::from_millis(10)), "{name}");
            assert!(error.to_string().contains(&format!("cdemo was told to fail opening readme.txt with {wire}")));
            let other = page.items.iter().find(|i| i.id == RawName::text("empty.txt")).unwrap();
            assert!(provider.open(other).await.is_ok(), "{name}: the other items still open");
        }
    }
}

#[test]
fn an_item_error_of_the_plugin_is_a_failed_item_of_a_valid_archive() {
    let dir = plugin_dir();
    let plugin = c_plugin(dir.path(), "denied", &["-DFAIL_KIND=\"permission-denied\""]);
    let (archive, output) = export_through(dir.path(), "denied", &[&plugin], "cdemo://anything", &[]);
    assert_eq!(code(&output), 3, "{}", all_text(&output));
    assert!(all_text(&output).contains("readme.txt"), "{}", all_text(&output));
    let bag = assert_valid_but_incomplete(&archive, "denied");
    let failure = failure_about(&bag, "readme.txt");
    assert!(failure.contains("cdemo was told to fail opening readme.txt with permission-denied"), "{failure}");
    let mut expected = cdemo_bodies(3);
    expected.remove(&b"readme.txt"[..]);
    assert!(payload(&bag, "cdemo-anything") == expected);
}

#[test]
fn a_temporary_error_of_the_plugin_is_retried_to_a_complete_archive() {
    let dir = plugin_dir();
    for (name, at) in [("flakyopen", None), ("flakylist", Some("-DFAIL_IN_LIST"))] {
        let mut defines = vec!["-DFAIL_KIND=\"unavailable\"", "-DFAIL_TEMPORARY", "-DFAIL_TIMES=2"];
        defines.extend(at);
        let plugin = c_plugin(dir.path(), name, &defines);
        let (archive, output) = export_through(dir.path(), name, &[&plugin], "cdemo://anything", &["--retries", "3"]);
        assert_eq!(code(&output), 0, "{name}: {}", all_text(&output));
        let bag = gnu_extract(&archive, name);
        assert!(payload(&bag, "cdemo-anything") == cdemo_bodies(3), "{name}");
    }
    // Retries spent: the item fails, saying so.
    let plugin =
        c_plugin(dir.path(), "stubborn", &["-DFAIL_KIND=\"unavailable\"", "-DFAIL_TEMPORARY", "-DFAIL_TIMES=5"]);
    let (archive, output) = export_through(dir.path(), "stubborn", &[&plugin], "cdemo://anything", &["--retries", "2"]);
    assert_eq!(code(&output), 3, "{}", all_text(&output));
    let bag = assert_valid_but_incomplete(&archive, "stubborn");
    let failure = &report(&bag)["failures"][0];
    assert_eq!((&failure["id"], &failure["attempts"]), (&"readme.txt".into(), &3.into()), "{failure}");
}

#[test]
fn a_panic_in_a_rust_plugin_fails_its_page_or_item_only() {
    let dir = plugin_dir();
    let plugin = faulty_plugin(dir.path());
    let fine = (b"ok.txt".to_vec(), b"fine\n".to_vec());
    let later = (b"later.txt".to_vec(), b"after the bad one\n".to_vec());
    for (mode, needle, survivors) in [
        ("panic-in-list", "listing", vec![fine.clone()]),
        ("panic-in-open", "bad.bin", vec![fine.clone(), later.clone()]),
        ("panic-in-read", "bad.bin", vec![fine.clone(), later.clone()]),
    ] {
        let setting = format!("mode={mode}");
        let (archive, output) =
            export_through(dir.path(), mode, &[&plugin], "faulty://x", &["--set", &setting, "--retries", "0"]);
        assert_eq!(code(&output), 3, "{mode}: {}", all_text(&output));
        assert!(!stderr(&output).contains("SIGSEGV") && !stderr(&output).contains("abort"), "{}", stderr(&output));
        let bag = assert_valid_but_incomplete(&archive, mode);
        let failure = failure_about(&bag, needle);
        assert!(names_plugin(&failure, "sortie-plugin-faulty", &plugin), "{mode}: {failure}");
        assert!(failure.contains("panic") && failure.contains("faulty was told to panic"), "{mode}: {failure}");
        assert!(payload(&bag, "faulty-x") == survivors.into_iter().collect(), "{mode}");
    }
}

#[test]
fn a_body_longer_or_shorter_than_announced_fails_its_item() {
    let dir = plugin_dir();
    let plugin = faulty_plugin(dir.path());
    for (mode, served) in [("short-body", "5"), ("long-body", "20")] {
        let setting = format!("mode={mode}");
        let (archive, output) =
            export_through(dir.path(), mode, &[&plugin], "faulty://x", &["--set", &setting, "--retries", "0"]);
        assert_eq!(code(&output), 3, "{mode}: {}", all_text(&output));
        let bag = assert_valid_but_incomplete(&archive, mode);
        let failure = failure_about(&bag, "bad.bin");
        assert!(failure.contains("10"), "{mode}: the announced length is said: {failure}");
        assert!(failure.contains(served) || failure.contains("more than"), "{mode}: {failure}");
        let archived = payload(&bag, "faulty-x");
        assert!(!archived.contains_key(&b"bad.bin"[..]), "{mode}: no wrong bytes are archived");
        assert_eq!(archived.len(), 2, "{mode}: {:?}", archived.keys());
    }
}

/// `hostile.c`, compiled into `DIR/libsortie_plugin_evil.so`.
fn hostile_plugin(dir: &Path) -> PathBuf {
    compile_c(dir, "evil", concat!(env!("CARGO_MANIFEST_DIR"), "/tests/plugins/c/hostile.c"), &["-std=gnu11"])
}

/// Runs `sortie --plugin hostile ARGS` with `EVIL=mode`.
fn hostile(plugin: &Path, mode: &str, args: &[&str]) -> Output {
    let mut command = sortie_with(&[plugin], args);
    command.env("EVIL", mode);
    finish_within(command, Duration::from_secs(60))
}

#[test]
fn a_hostile_plugin_gets_no_broken_archive_called_complete_no_secret_and_no_crash() {
    let dir = plugin_dir();
    let plugin = hostile_plugin(dir.path());
    let archive = |name: &str| dir.path().join(format!("{name}.tar.zst")).to_str().unwrap().to_owned();

    // A file under a file, the same path twice: those items fail, the rest is a valid bag.
    let output = hostile(&plugin, "conflict", &["export", "evil://x", "-o", &archive("conflict")]);
    assert_eq!(code(&output), 3, "{}", all_text(&output));
    let bag = assert_valid_but_incomplete(Path::new(&archive("conflict")), "conflict");
    assert!(failure_about(&bag, "under a, which it listed as a file").starts_with("a/b"));
    assert!(failure_about(&bag, "listed d twice").starts_with('d'));

    // Cursors that come back (A, B, A…) end the listing instead of running forever.
    let output = hostile(&plugin, "cycle", &["export", "evil://x", "-o", &archive("cycle")]);
    assert_eq!(code(&output), 3, "{}", all_text(&output));
    assert_eq!(code(&run(&["verify", &archive("cycle")])), 3, "intact but incomplete");
    let bag = gnu_extract(Path::new(&archive("cycle")), "cycle");
    assert!(names_plugin(&failure_about(&bag, "a second time"), "evil", &plugin));

    // A secret the plugin writes into an error, or declares public, goes nowhere.
    let output = hostile(
        &plugin,
        "secret-read",
        &["export", "evil://x", "-o", &archive("secret"), "--set", "password=hunter22"],
    );
    assert_eq!(code(&output), 3, "{}", all_text(&output));
    assert!(!all_text(&output).contains("hunter22"), "{}", all_text(&output));
    let bag = gnu_extract(Path::new(&archive("secret")), "secret");
    assert!(!fs::read_to_string(bag.join("sortie/report.json")).unwrap().contains("hunter22"));
    let output = hostile(&plugin, "leak-secret-public", &["plan", "--json", "evil://x", "--set", "password=hunter22"]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    assert!(!all_text(&output).contains("hunter22"), "{}", all_text(&output));

    // An answer over the host's bound is refused unread, naming the plugin.
    let output = hostile(&plugin, "huge-page", &["export", "evil://x", "-o", &archive("huge")]);
    assert_eq!(code(&output), 3, "{}", all_text(&output));
    assert_eq!(code(&run(&["verify", &archive("huge")])), 3, "intact but incomplete");
    let bag = gnu_extract(Path::new(&archive("huge")), "huge");
    assert!(names_plugin(&failure_about(&bag, "more than the 64 MiB"), "evil", &plugin));

    // A NULL function is refused at load, not called.
    let output = hostile(&plugin, "null-describe", &["providers"]);
    assert_eq!(code(&output), 5, "{}", all_text(&output));
    assert!(stderr(&output).contains("describe"), "{}", all_text(&output));

    // Absurd capabilities and a body trickling one byte per call still export.
    let output = hostile(&plugin, "maxconc", &["export", "evil://x", "-o", &archive("maxconc")]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    let output =
        hostile(&plugin, "trickle", &["--plugin-timeout", "2", "export", "evil://x", "-o", &archive("trickle")]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
}
