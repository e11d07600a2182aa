//! Signed and timestamped archives, checked with the standard tools exactly as the README
//! writes the commands (minisign, sha256sum, openssl ts, bagit.py), against a real
//! time-stamping authority on loopback (tests/servers/tsa/server.py, `openssl ts -reply`);
//! and every bad input: wrong key or password, tampered archive, sidecar, signature or token,
//! a TSA that does not answer.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use common::tsa::{Tsa, free_port};
use common::{all_text, assert_tool_ok, code, stdout, tool};

const PASSWORD: &str = "correct horse battery staple";

/// `sortie ARGS` in `dir`, with `env`, no terminal on stdin.
fn sortie_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    common::sortie()
        .args(args)
        .current_dir(dir)
        .env_remove("SORTIE_SIGN_PASSWORD")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn with_password() -> [(&'static str, &'static str); 1] {
    [("SORTIE_SIGN_PASSWORD", PASSWORD)]
}

/// A work directory with a small source tree `src/` and a password-protected key pair
/// `key` / `key.pub` made by `sortie keygen`.
fn workspace() -> tempfile::TempDir {
    let dir = common::open_tempdir();
    common::write_tree(&dir.path().join("src"), &[("a.txt", b"alpha\n"), ("sub/b.bin", &common::noise(70_000, 3))]);
    let made = sortie_in(dir.path(), &["keygen", "key"], &with_password());
    expect(&made, 0, "");
    assert!(fs::read_to_string(dir.path().join("key")).unwrap().contains("sortie secret key"));
    dir
}

fn export(dir: &Path, name: &str, extra: &[&str], env: &[(&str, &str)]) -> Output {
    let archive = format!("{name}.tar.zst");
    let mut args = vec!["export", "src", "-o", &archive];
    args.extend(extra);
    sortie_in(dir, &args, env)
}

fn extract_with_tar(dir: &Path, name: &str) -> PathBuf {
    let into = dir.join(format!("{name}-x"));
    fs::create_dir_all(&into).unwrap();
    assert_tool_ok("tar", &["--zstd", "-xf", dir.join(format!("{name}.tar.zst")).to_str().unwrap()], &into);
    into.join(name)
}

fn assert_fails(tool_name: &str, args: &[&str], dir: &Path) -> String {
    let output = tool(tool_name, args, dir);
    assert!(!output.status.success(), "{tool_name} {args:?} should have failed:\n{}", all_text(&output));
    all_text(&output)
}

/// Asserts the exit code, and that `text` is in the output (stdout or stderr).
fn expect(output: &Output, exit: i32, text: &str) {
    assert_eq!(code(output), exit, "{}", all_text(output));
    assert!(all_text(output).contains(text), "{text:?} missing from:\n{}", all_text(output));
}

fn verify(dir: &Path, target: &str, key: &str) -> Output {
    sortie_in(dir, &["verify", target, "--key", key], &[])
}

#[test]
fn a_signed_archive_and_its_bag_check_with_minisign_sha256sum_and_bagit() {
    let work = workspace();
    let dir = work.path();
    let done = export(dir, "signed", &["--sign", "key", "--json"], &with_password());
    expect(&done, 0, "");
    let summary: serde_json::Value = serde_json::from_str(stdout(&done).lines().last().unwrap()).unwrap();
    let key_id = summary["evidence"]["signer"]["key_id"].as_str().unwrap().to_owned();
    assert_eq!(key_id.len(), 16);
    assert!(fs::read_to_string(dir.join("key.pub")).unwrap().contains(&key_id), "minisign names the key by its id");

    // README: the archive, with minisign and sha256sum alone.
    assert_tool_ok("minisign", &["-Vm", "signed.tar.zst.sha256", "-p", "key.pub"], dir);
    assert_tool_ok("sha256sum", &["-c", "signed.tar.zst.sha256"], dir);
    // README: the extracted bag, with minisign, sha256sum and bagit.py.
    let bag = extract_with_tar(dir, "signed");
    let key = dir.join("key.pub");
    assert_tool_ok("minisign", &["-Vm", "tagmanifest-sha256.txt", "-p", key.to_str().unwrap()], &bag);
    assert_tool_ok("sha256sum", &["-c", "tagmanifest-sha256.txt"], &bag);
    assert_tool_ok("bagit.py", &["--validate", bag.to_str().unwrap()], dir);
    let tag_manifest = fs::read_to_string(bag.join("tagmanifest-sha256.txt")).unwrap();
    assert!(tag_manifest.contains("  sortie/signer.pub\n"), "the signer's key is a tag file: {tag_manifest}");
    assert_eq!(fs::read(bag.join("sortie/signer.pub")).unwrap(), fs::read(&key).unwrap());
    assert_eq!(common::bag_info(&bag, "Sortie-Format-Version").as_deref(), Some("2"));

    // Sortie itself: the archive, the bag GNU tar extracted, and the bag `extract` wrote.
    let checked = verify(dir, "signed.tar.zst", "key.pub");
    expect(&checked, 0, "archive signature  ok");
    assert!(stdout(&checked).contains("bag signature      ok"), "{}", stdout(&checked));
    let checked = verify(dir, "signed-x", "key.pub");
    expect(&checked, 0, "bag signature      ok");
    let extracted = sortie_in(dir, &["extract", "signed.tar.zst", "by-sortie"], &[]);
    expect(&extracted, 0, "");
    let checked = verify(dir, "by-sortie", "key.pub");
    expect(&checked, 0, "");

    // Without --key, the signatures are shown as present, not checked; the archive is intact.
    let plain = sortie_in(dir, &["verify", "signed.tar.zst"], &[]);
    expect(&plain, 0, "unchecked: present, not checked: pass --key");
}

/// A user who already has a minisign key keeps it: `minisign -G`'s keys, protected by a
/// password or not (`-W`), sign as Sortie's do.
#[test]
fn a_key_made_by_the_minisign_tool_signs_protected_or_not() {
    let work = workspace();
    let dir = work.path();
    // minisign reads the password twice from stdin when it is not a terminal.
    let mut generate = std::process::Command::new("minisign")
        .args(["-G", "-p", "m.pub", "-s", "m.key"])
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("minisign is installed (tests/servers/install)");
    use std::io::Write;
    generate.stdin.take().unwrap().write_all(format!("{PASSWORD}\n{PASSWORD}\n").as_bytes()).unwrap();
    assert!(generate.wait().unwrap().success());
    assert_tool_ok("minisign", &["-G", "-W", "-p", "w.pub", "-s", "w.key"], dir);

    for (name, key, public) in [("protected", "m.key", "m.pub"), ("unprotected", "w.key", "w.pub")] {
        let done = export(dir, name, &["--sign", key], &with_password());
        assert_eq!(code(&done), 0, "{name}: {}", all_text(&done));
        assert_tool_ok("minisign", &["-Vm", &format!("{name}.tar.zst.sha256"), "-p", public], dir);
        let checked = verify(dir, &format!("{name}.tar.zst"), public);
        assert_eq!(code(&checked), 0, "{name}: {}", all_text(&checked));
    }
}

#[test]
fn a_wrong_password_a_missing_one_or_a_public_key_given_to_sign_stop_before_any_transfer() {
    let work = workspace();
    let dir = work.path();
    let wrong = export(dir, "wrong", &["--sign", "key"], &[("SORTIE_SIGN_PASSWORD", "not it")]);
    expect(&wrong, 2, "wrong password for that key");
    assert!(!all_text(&wrong).contains("not it"), "the password is never shown");

    let missing = export(dir, "missing", &["--sign", "key"], &[]);
    expect(&missing, 2, "protected by a password: set SORTIE_SIGN_PASSWORD");

    let public = export(dir, "public", &["--sign", "key.pub"], &[]);
    expect(&public, 2, "is not a minisign secret key");

    let absent = export(dir, "absent", &["--sign", "no-such.key"], &[]);
    expect(&absent, 2, "cannot read the signing key no-such.key");

    for name in ["wrong", "missing", "public", "absent"] {
        assert!(!dir.join(format!("{name}.tar.zst")).exists(), "{name}: no archive is written");
    }

    // keygen never overwrites a key without --force.
    expect(&sortie_in(dir, &["keygen", "key"], &with_password()), 2, "key already exists: pass --force");
    // Without a password nor a terminal, keygen refuses, naming the way out.
    expect(&sortie_in(dir, &["keygen", "other"], &[]), 2, "--unprotected");
}

/// Whatever was changed after the export — the sidecar, a signature, the archive, the key a
/// bag names — and whatever key is used to check, `verify --key` says so (exit 4), as
/// minisign and sha256sum do.
#[test]
fn tampered_sidecars_signatures_archives_and_bags_and_another_key_fail_verification() {
    let work = workspace();
    let dir = work.path();
    assert_eq!(code(&export(dir, "good", &["--sign", "key"], &with_password())), 0);
    let other = sortie_in(dir, &["keygen", "other", "--unprotected"], &[]);
    expect(&other, 0, "");

    // Another key than the signer's.
    let checked = verify(dir, "good.tar.zst", "other.pub");
    expect(&checked, 4, "the bag names another signer");
    assert!(stdout(&checked).contains("is different from public key"), "{}", stdout(&checked));
    assert_fails("minisign", &["-Vm", "good.tar.zst.sha256", "-p", "other.pub"], dir);

    // Each file beside the archive tampered with in turn, in a copy of the set.
    let copy = |name: &str| {
        for suffix in [".tar.zst", ".tar.zst.sha256", ".tar.zst.sha256.minisig"] {
            fs::copy(dir.join(format!("good{suffix}")), dir.join(format!("{name}{suffix}"))).unwrap();
        }
    };
    // A sidecar naming another digest (and the archive still matching its signature's).
    copy("sidecar");
    let sidecar = dir.join("sidecar.tar.zst.sha256");
    let text = fs::read_to_string(&sidecar).unwrap();
    fs::write(&sidecar, format!("{}{}", if text.starts_with('0') { "1" } else { "0" }, &text[1..])).unwrap();
    assert_fails("minisign", &["-Vm", "sidecar.tar.zst.sha256", "-p", "key.pub"], dir);
    let checked = verify(dir, "sidecar.tar.zst", "key.pub");
    expect(&checked, 4, "archive signature  FAILED: signature verification failed");

    // A signature with one byte of its base64 changed.
    copy("signature");
    let signature = dir.join("signature.tar.zst.sha256.minisig");
    let mut lines: Vec<String> = fs::read_to_string(&signature).unwrap().lines().map(str::to_owned).collect();
    // Inside the ed25519 signature's R (the key id is in the first 14 characters).
    let keep = 40;
    let flipped = if lines[1].as_bytes()[keep] == b'A' { 'B' } else { 'A' };
    lines[1] = format!("{}{flipped}{}", &lines[1][..keep], &lines[1][keep + 1..]);
    fs::write(&signature, lines.join("\n") + "\n").unwrap();
    assert_fails("minisign", &["-Vm", "signature.tar.zst.sha256", "-p", "key.pub"], dir);
    let checked = verify(dir, "signature.tar.zst", "key.pub");
    expect(&checked, 4, "archive signature  FAILED");

    // A signature missing: with --key, both signatures must be there.
    copy("unsigned");
    fs::remove_file(dir.join("unsigned.tar.zst.sha256.minisig")).unwrap();
    let checked = verify(dir, "unsigned.tar.zst", "key.pub");
    expect(&checked, 4, "missing beside the archive");

    // An extracted bag whose signer key was swapped, its tag manifest line rewritten to
    // match: the tag manifest's signature no longer holds, with either key.
    let bag = extract_with_tar(dir, "good");
    fs::copy(dir.join("other.pub"), bag.join("sortie/signer.pub")).unwrap();
    assert_tool_ok(
        "sh",
        &["-c", "sed -i \"s|^.*  sortie/signer.pub$|$(sha256sum sortie/signer.pub)|\" tagmanifest-sha256.txt"],
        &bag,
    );
    assert_tool_ok("sha256sum", &["-c", "tagmanifest-sha256.txt"], &bag);
    assert_fails("minisign", &["-Vm", "tagmanifest-sha256.txt", "-p", "../../key.pub"], &bag);
    let checked = verify(dir, "good-x", "key.pub");
    expect(&checked, 4, "bag signature      FAILED");
    let checked = verify(dir, "good-x", "other.pub");
    expect(&checked, 4, "bag signature      FAILED: signature key id: ");

    // A bag whose data changed: its manifests say so before any signature is read.
    let bag = dir.join("good-x/good");
    let file = fs::read_dir(bag.join("data")).unwrap().next().unwrap().unwrap().path().join("a.txt");
    fs::write(file, b"changed\n").unwrap();
    assert_eq!(code(&verify(dir, "good-x", "key.pub")), 4);

    // A public key file that is not one.
    let checked = verify(dir, "good.tar.zst", "key");
    expect(&checked, 2, "is not a minisign public key");

    // The archive changed (its sidecar and signature as they were): sha256sum -c catches it.
    let archive = dir.join("good.tar.zst");
    let mut bytes = fs::read(&archive).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x55;
    fs::write(&archive, bytes).unwrap();
    assert_fails("sha256sum", &["-c", "good.tar.zst.sha256"], dir);
    let checked = verify(dir, "good.tar.zst", "key.pub");
    expect(&checked, 4, "");
}

#[test]
fn a_timestamped_archive_and_its_bag_check_with_openssl_ts() {
    let tsa = Tsa::shared();
    let work = workspace();
    let dir = work.path();
    let done = export(dir, "stamped", &["--sign", "key", "--timestamp", &tsa.url, "--json"], &with_password());
    expect(&done, 0, "");
    let summary: serde_json::Value = serde_json::from_str(stdout(&done).lines().last().unwrap()).unwrap();
    let stamp = &summary["evidence"]["timestamp"];
    assert_eq!(stamp["tsa"], "CN=Sortie Test TSA,O=Sortie tests", "{summary}");
    assert!(stamp["time"].as_str().unwrap().ends_with('Z'), "{summary}");
    assert!(summary["evidence"]["timestamp_error"].is_null());
    // The restitution pages name the key, and the one beside the archive the bag's time stamp.
    let key_id = summary["evidence"]["signer"]["key_id"].as_str().unwrap();
    let beside = fs::read_to_string(dir.join("stamped.tar.zst.report.html")).unwrap();
    assert!(beside.contains(key_id), "{beside}");
    let bag_time = summary["evidence"]["timestamp"]["bag_time"].as_str().unwrap();
    assert!(beside.contains(&format!("{bag_time} by CN=Sortie Test TSA,O=Sortie tests")), "{beside}");

    // README: the exact commands.
    let ca = tsa.ca.to_str().unwrap();
    let args = ["ts", "-verify", "-data", "stamped.tar.zst.sha256", "-in", "stamped.tar.zst.sha256.tsr", "-CAfile", ca];
    assert_tool_ok("openssl", &args, dir);
    let bag = extract_with_tar(dir, "stamped");
    let args = ["ts", "-verify", "-data", "tagmanifest-sha256.txt", "-in", "tagmanifest-sha256.txt.tsr", "-CAfile", ca];
    assert_tool_ok("openssl", &args, &bag);
    assert_tool_ok("bagit.py", &["--validate", bag.to_str().unwrap()], dir);
    let inside = fs::read_to_string(bag.join("sortie/report.html")).unwrap();
    assert!(inside.contains(key_id), "{inside}");

    let checked = verify(dir, "stamped.tar.zst", "key.pub");
    expect(&checked, 0, "archive timestamp  ok: covers this sha256, dated");
    assert!(stdout(&checked).contains("bag timestamp      ok"), "{}", stdout(&checked));
    let checked = verify(dir, "stamped-x", "key.pub");
    expect(&checked, 0, "bag timestamp      ok");

    // A token of another archive put in place of this one's: openssl and Sortie refuse it.
    assert_eq!(code(&export(dir, "other", &["--timestamp", &tsa.url], &[])), 0);
    fs::copy(dir.join("other.tar.zst.sha256.tsr"), dir.join("stamped.tar.zst.sha256.tsr")).unwrap();
    let args = ["ts", "-verify", "-data", "stamped.tar.zst.sha256", "-in", "stamped.tar.zst.sha256.tsr", "-CAfile", ca];
    assert_fails("openssl", &args, dir);
    let checked = verify(dir, "stamped.tar.zst", "key.pub");
    expect(&checked, 4, "archive timestamp  FAILED: the token covers sha256");

    // A token whose signature was altered still names the right digest: openssl catches it.
    let token = bag.join("tagmanifest-sha256.txt.tsr");
    let mut bytes = fs::read(&token).unwrap();
    let last = bytes.len() - 5;
    bytes[last] ^= 0x01;
    fs::write(&token, bytes).unwrap();
    let args = ["ts", "-verify", "-data", "tagmanifest-sha256.txt", "-in", "tagmanifest-sha256.txt.tsr", "-CAfile", ca];
    assert_fails("openssl", &args, &bag);
}

#[test]
fn a_time_stamping_authority_that_does_not_answer_keeps_the_archive_but_not_as_timestamped() {
    let work = workspace();
    let dir = work.path();
    let url = format!("http://127.0.0.1:{}/", free_port());
    let done = export(dir, "down", &["--sign", "key", "--timestamp", &url], &with_password());
    expect(&done, 7, "timestamp NONE: cannot reach the time-stamping authority");
    assert!(stdout(&done).contains("is not timestamped"), "{}", stdout(&done));
    assert!(!dir.join("down.tar.zst.sha256.tsr").exists());
    // The archive is kept, whole and signed.
    let checked = verify(dir, "down.tar.zst", "key.pub");
    expect(&checked, 0, "");
    assert!(!stdout(&checked).contains("archive timestamp"), "{}", stdout(&checked));
    assert!(!stdout(&checked).contains("bag timestamp"), "{}", stdout(&checked));

    let json = export(dir, "down-json", &["--timestamp", &url, "--json"], &[]);
    expect(&json, 7, "");
    let summary: serde_json::Value = serde_json::from_str(stdout(&json).lines().last().unwrap()).unwrap();
    assert_eq!(summary["ok"], false);
    assert!(summary["evidence"]["timestamp"].is_null());
    assert!(summary["evidence"]["timestamp_error"].as_str().unwrap().contains("cannot reach"), "{summary}");

    let bad = export(dir, "bad-url", &["--timestamp", "tsa.example"], &[]);
    expect(&bad, 2, "http:// or https:// URL");
}

/// `COMMAND` run in `dir` under a pseudo-terminal (util-linux `script`), `typed` on its
/// keyboard: what it printed, and its exit code.
fn on_a_terminal(dir: &Path, command: &str, typed: &str) -> (String, i32) {
    use std::io::Write;
    let command = format!("exec '{}' {command}", env!("CARGO_BIN_EXE_sortie"));
    let mut script = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .current_dir(dir)
        .env_remove("SORTIE_SIGN_PASSWORD")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("script runs (util-linux)");
    script.stdin.take().unwrap().write_all(typed.as_bytes()).unwrap();
    let output = script.wait_with_output().unwrap();
    (String::from_utf8_lossy(&output.stdout).into_owned(), code(&output))
}

#[test]
fn on_a_terminal_the_password_is_asked_for() {
    let dir = common::open_tempdir();
    let dir = dir.path();
    common::write_tree(&dir.join("src"), &[("a.txt", b"alpha\n")]);
    let (shown, exit) = on_a_terminal(dir, "keygen typed", &format!("{PASSWORD}\n{PASSWORD}\n"));
    assert_eq!(exit, 0, "{shown}");
    assert!(
        shown.contains("Password to protect the secret key") && shown.contains("protected by a password"),
        "{shown}"
    );

    let (shown, exit) = on_a_terminal(dir, "export src -o typed.tar.zst --sign typed", &format!("{PASSWORD}\n"));
    assert_eq!(exit, 0, "{shown}");
    assert!(shown.contains("Password of the signing key typed"), "{shown}");
    assert_tool_ok("minisign", &["-Vm", "typed.tar.zst.sha256", "-p", "typed.pub"], dir);

    let (shown, exit) = on_a_terminal(dir, "export src -o mistyped.tar.zst --sign typed", "not it\n");
    assert_eq!(exit, 2, "{shown}");
    assert!(shown.contains("wrong password for that key"), "{shown}");
    assert!(!dir.join("mistyped.tar.zst").exists());

    let (shown, exit) = on_a_terminal(dir, "keygen differ", "one\nanother\n");
    assert_eq!(exit, 2, "{shown}");
    assert!(shown.contains("the two passwords differ"), "{shown}");
    assert!(!dir.join("differ").exists());
}

/// Reads one HTTP request (headers, then a `Content-Length` body) from `stream`; `None` at
/// the end of the connection.
fn read_request(stream: &mut std::net::TcpStream) -> Option<Vec<u8>> {
    use std::io::Read;
    let mut request = Vec::new();
    let mut byte = [0u8; 1];
    while !request.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).ok()? == 0 {
            return None;
        }
        request.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&request).to_lowercase();
    let length = head.lines().find_map(|l| l.strip_prefix("content-length:")).map_or(0, |n| n.trim().parse().unwrap());
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).ok()?;
    Some(body)
}

#[test]
fn a_stop_while_the_time_stamping_authority_is_asked_leaves_no_archive() {
    use std::io::{Read, Write};
    let tsa = Tsa::shared();
    let tsa_port: u16 = tsa.url.trim_start_matches("http://127.0.0.1:").trim_end_matches("/tsa").parse().unwrap();
    let work = workspace();
    let dir = work.path();
    // In front of the TSA: the first request (the bag's tag manifest, while the archive is
    // closed) is answered by the TSA, the second (the sidecar's, once the archive is in
    // place) never: the export is stopped while it waits for it.
    let front = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://127.0.0.1:{}/tsa", front.local_addr().unwrap().port());
    let export = common::sortie()
        .args(["export", "src", "-o", "stopped.tar.zst", "--sign", "key", "--timestamp", &url])
        .current_dir(dir)
        .env("SORTIE_SIGN_PASSWORD", PASSWORD)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = export.id().to_string();
    let mut answered = 0;
    let mut waiting = Vec::new();
    'serve: for client in front.incoming() {
        let mut client = client.unwrap();
        while let Some(body) = read_request(&mut client) {
            if answered == 1 {
                assert!(dir.join("stopped.tar.zst").exists(), "the archive is in place when the sidecar is stamped");
                assert_tool_ok("kill", &["-INT", &pid], dir);
                waiting.push(client);
                break 'serve;
            }
            let mut upstream = std::net::TcpStream::connect(("127.0.0.1", tsa_port)).unwrap();
            let head = format!(
                "POST /tsa HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/timestamp-query\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            upstream.write_all(head.as_bytes()).unwrap();
            upstream.write_all(&body).unwrap();
            let mut answer = Vec::new();
            upstream.read_to_end(&mut answer).unwrap();
            client.write_all(&answer).unwrap();
            answered += 1;
        }
    }
    let output = export.wait_with_output().unwrap();
    drop(waiting);
    expect(&output, 130, "no archive was written");
    for suffix in ["", ".partial", ".sha256", ".sha256.partial", ".sha256.minisig", ".sha256.tsr"] {
        assert!(!dir.join(format!("stopped.tar.zst{suffix}")).exists(), "stopped.tar.zst{suffix} is left behind");
    }
}
