//! docs/PLUGINS.md walks from an empty folder to an export, in Rust and in C: this builds
//! both plugins exactly as the page gives them (its files, its commands) and exports through
//! each, so that the guide cannot rot. The two serve the same files, so their archives must
//! hold the same payload.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

const GUIDE: &str = include_str!("../docs/PLUGINS.md");

/// The fenced block that follows `<!-- guide: NAME -->` in the guide.
fn guide_file(name: &str) -> String {
    let marker = format!("<!-- guide: {name} -->\n");
    let start = GUIDE.find(&marker).unwrap_or_else(|| panic!("the guide has no {name}")) + marker.len();
    let block = &GUIDE[start..];
    let body = &block[block.find('\n').unwrap() + 1..];
    body[..body.find("```").unwrap()].to_owned()
}

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| repo().join("target"), PathBuf::from)
}

fn export_and_check(plugin: &Path, dir: &Path, name: &str) -> String {
    let archive = dir.join(format!("{name}.tar.zst"));
    let output =
        run(&["--plugin", plugin.to_str().unwrap(), "export", "hello://world", "-o", archive.to_str().unwrap()]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    let verified = run(&["verify", archive.to_str().unwrap()]);
    assert_eq!(code(&verified), 0, "{}", all_text(&verified));
    let bag = gnu_extract(&archive, name);
    assert_standard_tools_accept(&archive, &bag);
    assert_eq!(std::fs::read_to_string(bag.join("data/hello/hello.txt")).unwrap(), "Hello from a plugin!\n");
    let mut lines: Vec<String> =
        std::fs::read_to_string(bag.join("manifest-sha256.txt")).unwrap().lines().map(str::to_owned).collect();
    // Members are written in fetch order.
    lines.sort();
    lines.join("\n")
}

#[test]
fn the_rust_and_c_plugins_of_the_guide_build_and_export_the_same_payload() {
    let dir = tempfile::tempdir().unwrap();

    let c_dir = dir.path().join("hello-c");
    std::fs::create_dir(&c_dir).unwrap();
    std::fs::write(c_dir.join("hello.c"), guide_file("hello.c")).unwrap();
    std::fs::copy(repo().join("sdk/abi/sortie_plugin.h"), c_dir.join("sortie_plugin.h")).unwrap();
    let compiled = Command::new("cc")
        .args([
            "-std=c11",
            "-D_GNU_SOURCE",
            "-Wall",
            "-Werror",
            "-shared",
            "-fPIC",
            "-o",
            "libsortie_plugin_hello.so",
            "hello.c",
        ])
        .current_dir(&c_dir)
        .output()
        .expect("a C compiler (cc)");
    assert!(compiled.status.success(), "hello.c: {}", String::from_utf8_lossy(&compiled.stderr));
    let from_c = export_and_check(&c_dir.join("libsortie_plugin_hello.so"), dir.path(), "from-c");

    let rust_dir = dir.path().join("hello-rust");
    std::fs::create_dir_all(rust_dir.join("src")).unwrap();
    let manifest = guide_file("Cargo.toml").replace("../sortie/sdk", repo().join("sdk").to_str().unwrap());
    std::fs::write(rust_dir.join("Cargo.toml"), manifest).unwrap();
    std::fs::write(rust_dir.join("src/lib.rs"), guide_file("src/lib.rs")).unwrap();
    // The workspace's versions, so that the build reuses what is already compiled.
    std::fs::copy(repo().join("Cargo.lock"), rust_dir.join("Cargo.lock")).unwrap();
    let built = Command::new(option_env!("CARGO").unwrap_or("cargo"))
        .args(["build", "--offline", "--quiet"])
        .env("CARGO_TARGET_DIR", target_dir())
        .current_dir(&rust_dir)
        .output()
        .unwrap();
    assert!(built.status.success(), "the Rust plugin: {}", String::from_utf8_lossy(&built.stderr));
    let from_rust = export_and_check(&target_dir().join("debug/libsortie_plugin_hello.so"), dir.path(), "from-rust");

    assert_eq!(from_c, from_rust, "both plugins serve the same two files");
    assert_eq!(from_c.lines().count(), 2, "{from_c}");
}
