//! What a user sees on a terminal: the binary runs under a pseudo-terminal of 80 columns
//! (util-linux `script`), and what it drew is read back frame by frame.

mod common;

use std::path::Path;
use std::process::Command;

use common::{code, stderr, stdout};

/// `sortie ARGS` with stderr on a pseudo-terminal of 80 columns and 24 rows (stdout goes
/// to a file, its lines being results, not drawings), with `env` added: what it drew on
/// the terminal, what it printed on stdout, and its exit code.
fn in_terminal(args: &[&str], env: &[(&str, &str)]) -> (String, String, i32) {
    let printed = tempfile::NamedTempFile::new().unwrap();
    let quoted: Vec<String> = args.iter().map(|arg| format!("'{arg}'")).collect();
    let command = format!(
        "stty cols 80 rows 24; exec '{}' {} > '{}'",
        env!("CARGO_BIN_EXE_sortie"),
        quoted.join(" "),
        printed.path().display()
    );
    let output = Command::new("script")
        .args(["-qfec", &command, "/dev/null"])
        .env_remove("NO_COLOR")
        .env_remove("SORTIE_LOG")
        .env_remove("RUST_LOG")
        .envs(env.iter().copied())
        .output()
        .expect("script runs (util-linux)");
    let drawn = String::from_utf8_lossy(&output.stdout).into_owned();
    (drawn, std::fs::read_to_string(printed.path()).unwrap(), code(&output))
}

/// Every line drawn, as the terminal shows it: split where the cursor goes back to the
/// start of a line, escape sequences removed.
fn lines_drawn(drawn: &str) -> Vec<String> {
    drawn.split(['\r', '\n']).map(without_escapes).filter(|frame| !frame.trim().is_empty()).collect()
}

fn without_escapes(text: &str) -> String {
    let mut plain = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            // CSI: ESC [ parameters, ended by a byte from @ to ~.
            if chars.next() == Some('[') {
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
        } else {
            plain.push(c);
        }
    }
    plain
}

/// Whether `text` holds a colour or style (SGR: ESC [ … m); cursor movements are not colour.
fn has_colour(text: &str) -> bool {
    text.match_indices("\x1b[").any(|(at, _)| {
        let rest = &text[at + 2..];
        let end = rest.find(|c: char| !(c.is_ascii_digit() || c == ';')).unwrap_or(rest.len());
        rest[end..].starts_with('m')
    })
}

/// The bytes done in a bar frame `… DONE/TOTAL …`, as drawn.
fn done_of<'a>(frame: &'a str, total: &str) -> Option<&'a str> {
    let at = frame.find(&format!("/{total} "))?;
    let words: Vec<&str> = frame[..at].rsplitn(3, ' ').collect();
    let (unit, number) = (words.first()?, words.get(1)?);
    Some(&frame[at - unit.len() - number.len() - 1..at])
}

fn assert_fits(frames: &[String]) {
    for frame in frames {
        assert!(frame.chars().count() <= 80, "a line wider than the terminal:\n{frame:?}");
    }
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn a_large_object_moves_the_bar_with_an_eta_and_verify_and_extract_show_their_reading() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("big.tar.zst");
    // A name longer than the terminal: the listing line is cut, never wrapped.
    let source = format!("memory://{}", "long-source-name-".repeat(6));
    let args = ["export", &source, "--set", "items=1", "--set", "size=4000000", "--set", "bytes_per_sec=2000000"];
    let (drawn, printed, exit) = in_terminal(&[&args[..], &["-o", path(&archive)]].concat(), &[]);
    assert_eq!(exit, 0, "{drawn}");
    let frames = lines_drawn(&drawn);
    assert_fits(&frames);
    assert!(frames.iter().any(|f| f.contains("listing mem-long-source-name-")), "no listing line: {frames:#?}");
    let midway: Vec<&String> = frames
        .iter()
        .filter(|f| done_of(f, "3.81 MiB").is_some_and(|done| done != "0 B" && done != "3.81 MiB"))
        .collect();
    assert!(!midway.is_empty(), "no frame while the object streamed: {frames:#?}");
    assert!(midway.iter().all(|f| f.contains("ETA ") && f.contains("0/1 items")), "{midway:#?}");
    assert!(printed.contains("complete  yes"), "{printed}");

    for command in [vec!["verify", path(&archive)], vec!["extract", path(&archive), path(&dir.path().join("x"))]] {
        let (drawn, printed, exit) = in_terminal(&command, &[]);
        assert_eq!(exit, 0, "{drawn}");
        let frames = lines_drawn(&drawn);
        assert_fits(&frames);
        let size = indicatif_bytes(std::fs::metadata(&archive).unwrap().len());
        let bar = frames.iter().find(|f| f.contains(&format!("{} [", command[0])) && done_of(f, &size).is_some());
        assert!(bar.is_some_and(|f| f.contains("ETA ")), "no progress of {}: {frames:#?}", command[0]);
        assert!(printed.contains("intact    yes"), "{printed}");
    }

    // Piped, the same commands draw nothing.
    let piped = common::run(&["export", "memory://small", "-o", path(&dir.path().join("small.tar.zst"))]);
    assert_eq!(code(&piped), 0);
    assert_eq!(stderr(&piped), "", "progress on a pipe");
    let piped = common::run(&["verify", path(&archive)]);
    assert_eq!((code(&piped), stderr(&piped)), (0, String::new()), "progress on a pipe");
}

/// Sizes as the bars print them (1024-based, two decimals).
fn indicatif_bytes(bytes: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < units.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} B") } else { format!("{value:.2} {}", units[unit]) }
}

#[test]
fn colour_follows_color_and_no_color_and_quiet_draws_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let output = |name: &str| dir.path().join(format!("{name}.tar.zst")).to_str().unwrap().to_owned();
    let export = |name: &str, flags: &[&str], env: &[(&str, &str)]| {
        let archive = output(name);
        let args = [&["-v", "export", "memory://c", "--set", "items=3", "-o", &archive][..], flags].concat();
        let (drawn, _, exit) = in_terminal(&args, env);
        assert_eq!(exit, 0, "{drawn}");
        drawn
    };
    // On a terminal, logs and bars are coloured by default; not with --color never, nor with
    // NO_COLOR set, unless --color always says otherwise.
    assert!(has_colour(&export("auto", &[], &[])), "no colour on a terminal");
    let never = export("never", &["--color", "never"], &[]);
    assert!(!has_colour(&never) && never.contains("INFO"), "{never:?}");
    let no_color = export("no-color", &[], &[("NO_COLOR", "1")]);
    assert!(!has_colour(&no_color) && no_color.contains("INFO"), "{no_color:?}");
    assert!(has_colour(&export("always", &["--color", "always"], &[("NO_COLOR", "1")])));
    // no-color.org: an empty NO_COLOR does not disable colour.
    assert!(has_colour(&export("empty-no-color", &[], &[("NO_COLOR", "")])), "NO_COLOR= disabled colour");

    // Piped, colour only when asked for.
    let piped = common::run(&["-v", "--color", "always", "export", "memory://c", "-o", &output("piped")]);
    assert_eq!(code(&piped), 0, "{}", stderr(&piped));
    assert!(has_colour(&stderr(&piped)), "{:?}", stderr(&piped));
    let plain = common::run(&["-v", "export", "memory://c", "-o", &output("plain")]);
    assert!(!has_colour(&stderr(&plain)) && stderr(&plain).contains("INFO"), "{:?}", stderr(&plain));

    // --quiet: no bar, no log, the summary all the same.
    let archive = output("quiet");
    let args =
        ["-q", "export", "memory://q", "--set", "items=1", "--set", "size=2000000", "--set", "bytes_per_sec=4000000"];
    let (drawn, printed, exit) = in_terminal(&[&args[..], &["-o", &archive]].concat(), &[]);
    assert_eq!(exit, 0, "{drawn}");
    assert!(printed.contains("complete  yes"), "{printed}");
    assert_eq!(drawn, "", "drawn with --quiet");
    let (drawn, printed, _) = in_terminal(&["--quiet", "verify", &archive], &[]);
    assert!(printed.contains("intact    yes"), "{printed}");
    assert_eq!(drawn, "", "drawn with --quiet");
    let both = common::run(&["-q", "-v", "verify", &archive]);
    assert_eq!(code(&both), 2, "-q and -v together are refused: {}", stderr(&both));
    assert!(stdout(&both).is_empty());
}
