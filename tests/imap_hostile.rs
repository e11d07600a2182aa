//! `imap://` against a hostile server on 127.0.0.1 (canned answers): mailbox names that
//! decode or split to the same path, or that would land on a message file of their parent,
//! and answers for a UID twice or for a UID that was not asked, never put two entries at
//! one path in the archive; a server that echoes the LOGIN line in its refusal never gets
//! the password into the error; a body that never ends is refused after the size listed,
//! a `LIST` that never ends fails the export instead of filling memory, an untagged BYE
//! during a fetch leaves no message in the archive.

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Output;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{all_text, code, gnu_extract, sortie, tool};

/// The password the hostile server is given, looked for where it must never be.
const PASSWORD: &str = "hostile-imap-pw";

/// The mailboxes the server lists (wire names, delimiter `/`): `&AGE-` decodes to `a`,
/// `a//b` has an empty level, `a/1.eml` and `a/mailbox.json` are named like the files of
/// `a`, `..` and `_config` are hostile as paths.
const MAILBOXES: [&str; 8] = ["a", "&AGE-", "a/b", "a//b", "a/1.eml", "a/mailbox.json", "..", "_config"];

/// How the server misbehaves beside its names and stray answers.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Plain,
    /// LOGIN gets a NO that repeats the command line, the password in it.
    Refuse,
    /// One mailbox of one message listed a byte over 4 MiB, whose every partial fetch gets
    /// 4 MiB whatever the offset asked: a body without end.
    Endless,
    /// LIST answers without end.
    EndlessList,
    /// CAPABILITY without IMAP4rev1, and a parse error of a huge answer.
    NoRev1,
    /// One mailbox of [`LIARS`] messages listed at 10 bytes each, whose bodies are 2 MiB.
    Liar,
    /// One mailbox of one message, whose body fetch gets an untagged BYE and the end.
    Bye,
}

/// How many messages the lying server holds.
const LIARS: u32 = 150;

/// The lying server's connections open now, and the most at once.
static LIAR_CONNECTIONS: [AtomicUsize; 2] = [AtomicUsize::new(0), AtomicUsize::new(0)];

/// A full chunk of the provider's partial fetches.
const CHUNK: usize = 4 << 20;

/// Starts the server on a free port.
fn start(mode: Mode) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || serve(stream, mode));
        }
    });
    port
}

fn serve(stream: TcpStream, mode: Mode) {
    if mode == Mode::Liar {
        let open = LIAR_CONNECTIONS[0].fetch_add(1, Ordering::SeqCst) + 1;
        LIAR_CONNECTIONS[1].fetch_max(open, Ordering::SeqCst);
    }
    converse(stream, mode);
    if mode == Mode::Liar {
        LIAR_CONNECTIONS[0].fetch_sub(1, Ordering::SeqCst);
    }
}

fn converse(stream: TcpStream, mode: Mode) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut out = stream;
    let greeting =
        if mode == Mode::NoRev1 { "* OK ready\r\n" } else { "* OK [CAPABILITY IMAP4rev1] hostile ready\r\n" };
    let _ = out.write_all(greeting.as_bytes());
    let mut line = String::new();
    while reader.read_line(&mut line).unwrap_or(0) > 0 {
        let command = line.trim_end().to_owned();
        line.clear();
        let (tag, rest) = command.split_once(' ').unwrap_or((&command, ""));
        let verb = rest.split(' ').next().unwrap_or("").to_ascii_uppercase();
        let answer = match verb.as_str() {
            "CAPABILITY" if mode == Mode::NoRev1 => format!("* CAPABILITY POP3 SMTP\r\n{tag} OK done\r\n"),
            "CAPABILITY" => format!("* CAPABILITY IMAP4rev1\r\n{tag} OK done\r\n"),
            "LOGIN" if mode == Mode::Refuse => format!("{tag} NO [AUTHENTICATIONFAILED] {rest} refused\r\n"),
            "LOGIN" | "NOOP" | "LSUB" => format!("{tag} OK done\r\n"),
            "LIST" if mode == Mode::EndlessList => {
                let mut written = Ok(());
                for i in 0.. {
                    written = out.write_all(format!("* LIST () \"/\" \"m{i}\"\r\n").as_bytes());
                    if written.is_err() {
                        break;
                    }
                }
                return drop(written);
            }
            "LIST" if matches!(mode, Mode::Endless | Mode::Liar | Mode::Bye) => {
                format!("* LIST () \"/\" \"m\"\r\n{tag} OK done\r\n")
            }
            "LIST" => {
                let lines: String = MAILBOXES.iter().map(|m| format!("* LIST () \"/\" \"{m}\"\r\n")).collect();
                format!("{lines}{tag} OK done\r\n")
            }
            "STATUS" => {
                let name = rest.split(' ').nth(1).unwrap_or("x");
                format!("* STATUS {name} (MESSAGES 2 UIDNEXT 3 UIDVALIDITY 7 UNSEEN 0)\r\n{tag} OK done\r\n")
            }
            "EXAMINE" if mode == Mode::Liar => format!(
                "* {LIARS} EXISTS\r\n* OK [UIDVALIDITY 7] v\r\n* OK [UIDNEXT {}] n\r\n{tag} OK [READ-ONLY] done\r\n",
                LIARS + 1
            ),
            "UID" if mode == Mode::Liar => {
                let set = rest.split(' ').nth(2).unwrap_or("");
                let uids: Vec<u32> = set
                    .split(',')
                    .flat_map(|run| {
                        let (low, high) = run.split_once(':').unwrap_or((run, run));
                        low.parse().unwrap_or(1)..=high.parse::<u32>().unwrap_or(0).min(LIARS)
                    })
                    .collect();
                let body = "x".repeat(2 << 20);
                let mut written = Ok(());
                for uid in uids {
                    let answer = if rest.contains("BODY.PEEK[]") {
                        format!("* {uid} FETCH (UID {uid} BODY[] {{{}}}\r\n{body})\r\n", body.len())
                    } else {
                        format!(
                            "* {uid} FETCH (UID {uid} FLAGS () INTERNALDATE \"01-Jan-2024 00:00:00 +0000\" RFC822.SIZE 10)\r\n"
                        )
                    };
                    written = written.and_then(|()| out.write_all(answer.as_bytes()));
                }
                if written.is_err() {
                    return;
                }
                format!("{tag} OK done\r\n")
            }
            "EXAMINE" => format!(
                "* 2 EXISTS\r\n* 0 RECENT\r\n* OK [UIDVALIDITY 7] v\r\n* OK [UIDNEXT 3] n\r\n{tag} OK [READ-ONLY] done\r\n"
            ),
            "UID" if mode == Mode::Endless && rest.contains("BODY.PEEK[]<") => {
                let origin = rest.split("BODY.PEEK[]<").nth(1).and_then(|r| r.split('.').next()).unwrap_or("0");
                format!("* 1 FETCH (UID 1 BODY[]<{origin}> {{{CHUNK}}}\r\n{})\r\n{tag} OK done\r\n", "x".repeat(CHUNK))
            }
            "UID" if mode == Mode::Endless => format!(
                "* 1 FETCH (UID 1 FLAGS () INTERNALDATE \"01-Jan-2024 00:00:00 +0000\" RFC822.SIZE {})\r\n{tag} OK done\r\n",
                CHUNK + 1
            ),
            "UID" if mode == Mode::Bye && rest.contains("BODY.PEEK[]") => {
                let _ = out.write_all(b"* 1 FETCH (UID 1 FLAGS ())\r\n* BYE going away\r\n");
                return;
            }
            "UID" if rest.contains("BODY.PEEK[]") => {
                let body = |seq: u32, uid: u32, text: &str| {
                    format!("* {seq} FETCH (UID {uid} BODY[] {{{}}}\r\n{text})\r\n", text.len())
                };
                format!(
                    "{}{}{}{}{tag} OK done\r\n",
                    body(1, 1, "one\r\n"),
                    body(1, 1, "ONE, again\r\n"),
                    body(2, 2, "two\r\n"),
                    body(3, 99, "not asked\r\n"),
                )
            }
            "UID" => {
                let meta = |seq: u32, uid: u32| {
                    format!(
                        "* {seq} FETCH (UID {uid} FLAGS () INTERNALDATE \"01-Jan-2024 00:00:00 +0000\" RFC822.SIZE 5)\r\n"
                    )
                };
                format!("{}{}{}{}{tag} OK done\r\n", meta(1, 1), meta(1, 1), meta(2, 2), meta(3, 99))
            }
            "LOGOUT" => format!("* BYE bye\r\n{tag} OK done\r\n"),
            _ => format!("{tag} BAD unknown\r\n"),
        };
        if out.write_all(answer.as_bytes()).is_err() || verb == "LOGOUT" {
            return;
        }
    }
}

fn sortie_at(port: u16, args: &[&str]) -> Output {
    let url = format!("imap://victim@127.0.0.1:{port}");
    let mut command = sortie();
    command.args(args).arg(&url).args(["--set", "no_starttls=true"]).env("SORTIE_IMAP_PASSWORD", PASSWORD);
    command.output().expect("sortie runs")
}

#[test]
fn colliding_names_and_stray_answers_never_share_a_path() {
    let port = start(Mode::Plain);
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("mail.tar.zst");
    let output = sortie_at(port, &["-vv", "export", "-o", archive.to_str().unwrap()]);
    let text = all_text(&output);
    assert_eq!(code(&output), 0, "{text}");
    assert!(!text.contains(PASSWORD), "the password is in the -vv log: {text}");
    let listing = tool("tar", &["--zstd", "-tf", archive.to_str().unwrap()], dir.path());
    let entries: Vec<String> = String::from_utf8(listing.stdout).unwrap().lines().map(str::to_owned).collect();
    let unique: BTreeSet<&String> = entries.iter().collect();
    assert_eq!(unique.len(), entries.len(), "two entries at one path: {entries:#?}");
    assert!(!entries.iter().any(|e| e.ends_with("/99.eml")), "a UID that was not asked is archived: {entries:#?}");
    let emls = entries.iter().filter(|e| e.ends_with(".eml")).count();
    assert_eq!(emls, 2 * MAILBOXES.len(), "{entries:#?}");
    let bag = gnu_extract(&archive, "mail");
    let all = std::fs::read_to_string(bag.join("sortie/inventory.jsonl")).unwrap();
    assert!(!all.contains(PASSWORD));
}

/// Runs `sortie inventory` against a server misbehaving as `mode`; what it said, once it
/// has failed.
fn failure(mode: Mode) -> String {
    let output = sortie_at(start(mode), &["inventory"]);
    let text = all_text(&output);
    assert_ne!(code(&output), 0, "{text}");
    text
}

#[test]
fn a_refusal_that_echoes_the_login_line_never_shows_the_password() {
    let text = failure(Mode::Refuse);
    assert!(text.contains("victim"), "the error names the user: {text}");
    assert!(!text.contains(PASSWORD), "the password is in the error: {text}");
}

/// Runs `sortie export` against a server misbehaving as `mode`; what it said, once it has
/// failed, and the entries of the archive it wrote.
fn failed_export(mode: Mode) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("failed.tar.zst");
    let output = sortie_at(start(mode), &["export", "-o", archive.to_str().unwrap()]);
    let text = all_text(&output);
    assert_ne!(code(&output), 0, "{text}");
    let listing = tool("tar", &["--zstd", "-tf", archive.to_str().unwrap()], dir.path());
    (text, String::from_utf8(listing.stdout).unwrap())
}

#[test]
fn a_body_without_end_is_refused_not_read_forever() {
    let (text, entries) = failed_export(Mode::Endless);
    assert!(text.contains("longer than the announced"), "{text}");
    assert!(!entries.contains(".eml"), "{entries}");
}

#[test]
fn a_listing_without_end_fails_instead_of_filling_memory() {
    let text = failure(Mode::EndlessList);
    assert!(text.contains("more than 100000 mailboxes"), "{text}");
}

#[test]
fn a_server_without_imap4rev1_is_named_so_at_once() {
    let text = failure(Mode::NoRev1);
    assert!(text.contains("is not an IMAP4rev1 server (its capabilities: POP3 SMTP)"), "{text}");
    assert!(!text.contains("retry") && !text.contains("during parsing"), "{text}");
}

/// The highest resident memory of `command` while it runs, in KiB (Linux `VmHWM`).
fn peak_memory(command: &mut std::process::Command) -> (Output, u64) {
    let child = command.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let status = format!("/proc/{}/status", child.id());
    let watcher = std::thread::spawn(move || {
        let mut peak = 0;
        while let Ok(text) = std::fs::read_to_string(&status) {
            let hwm = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().split(' ').next()?.parse().ok());
            peak = hwm.unwrap_or(peak).max(peak);
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        peak
    });
    let output = child.wait_with_output().unwrap();
    (output, watcher.join().unwrap())
}

#[test]
fn bodies_longer_than_announced_never_pile_up_in_memory_nor_open_over_4_connections() {
    let port = start(Mode::Liar);
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("liar.tar.zst");
    let url = format!("imap://victim@127.0.0.1:{port}");
    let mut command = sortie();
    command
        .args(["export", &url, "-o", archive.to_str().unwrap(), "--set", "no_starttls=true"])
        .env("SORTIE_IMAP_PASSWORD", PASSWORD);
    let (output, peak) = peak_memory(&mut command);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    // 150 bodies of 2 MiB are 300 MiB: a page holding them all would show here.
    assert!(peak < 150 << 10, "sortie held {} MiB at its peak", peak >> 10);
    let connections = LIAR_CONNECTIONS[1].load(Ordering::SeqCst);
    assert!((1..=4).contains(&connections), "{connections} connections at once, over the default cap of 4");
}

#[test]
fn a_bye_in_the_middle_of_a_body_leaves_no_message_cut() {
    let (text, entries) = failed_export(Mode::Bye);
    assert!(text.contains("1 failed"), "{text}");
    assert!(!entries.contains(".eml"), "{entries}");
}
