//! Numbers out of range are refused when the command line is read, naming the valid range,
//! before any source is touched.

mod common;

use common::*;

#[test]
fn numbers_out_of_range_are_refused_with_the_valid_range() {
    let work = open_tempdir();
    write_tree(&work.path().join("src"), &[("a.txt", b"a")]);
    let source = work.path().join("src");
    let archive = work.path().join("out.tar.zst");
    let export = ["export", source.to_str().unwrap(), "-o", archive.to_str().unwrap()];
    for (flag, value, range) in [
        ("--list-page-size", "0", "1..=10000"),
        ("--list-page-size", "10001", "1..=10000"),
        ("--zstd-threads", "0", "1..=200"),
        ("--concurrency", "0", "1..=1024"),
        ("--retries", "101", "0..=100"),
        ("--retries", "-1", "'-1'"),
        ("--zstd-level", "20", "1..=19"),
    ] {
        let given = format!("{flag}={value}");
        let output = run(&[&export[..], &[&given]].concat());
        assert_eq!(code(&output), 2, "{flag} {value}: {}", all_text(&output));
        let text = stderr(&output);
        assert!(text.contains(flag) && text.contains(range), "{flag} {value}: {text}");
        assert!(!archive.exists());
    }
    let output = run(&["inventory", source.to_str().unwrap(), "--list-page-size", "0"]);
    assert_eq!(code(&output), 2, "{}", all_text(&output));
    for (flag, value) in [("--list-page-size", "10000"), ("--zstd-threads", "1"), ("--retries", "0")] {
        let output = run(&[&export[..], &[flag, value, "--force"]].concat());
        assert_eq!(code(&output), 0, "{flag} {value} is in range: {}", all_text(&output));
    }
}
