//! What a user reads before running anything: `--help` laid out by purpose, with the exit
//! codes on every command; shell completion scripts a shell accepts; man pages that render.

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;

use common::*;

/// The commands `sortie --help` lists (`help` aside): every one must be documented alike.
fn commands() -> Vec<String> {
    let help = stdout(&run(&["--help"]));
    // A command's line starts two spaces in; the lines that continue its description, further.
    let names: Vec<String> = section(&help, "Commands")
        .lines()
        .filter(|line| !line.starts_with("   "))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect();
    for expected in ["export", "inventory", "verify", "ls", "extract", "plan", "providers", "completions", "man"] {
        assert!(names.iter().any(|n| n == expected), "`sortie --help` does not list {expected}:\n{help}");
    }
    names
}

/// The lines under `HEADING:` in a clap help text, up to the next heading.
fn section<'a>(help: &'a str, heading: &str) -> &'a str {
    let title = format!("\n{heading}:\n");
    let start = help.find(&title).unwrap_or_else(|| panic!("no '{heading}:' heading in:\n{help}")) + title.len();
    let rest = &help[start..];
    let end = rest.find("\n\n").unwrap_or(rest.len());
    &rest[..end]
}

fn position(help: &str, text: &str) -> usize {
    help.find(text).unwrap_or_else(|| panic!("'{text}' missing from:\n{help}"))
}

#[test]
fn export_help_shows_the_output_first_and_the_source_options_under_headings() {
    let output = run(&["export", "--help"]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    let help = stdout(&output);
    let own = section(&help, "Options");
    assert!(own.lines().next().unwrap().contains("-o, --output <FILE>"), "-o is not the first option:\n{help}");
    for option in ["--force", "--concurrency", "--zstd-level", "--json"] {
        assert!(own.contains(option), "{option} is not among export's own options:\n{help}");
    }
    let groups = [
        ("Source options", &["--plan", "--set", "--sources-file", "--retries", "--list-page-size"][..]),
        ("S3 options", &["--profile", "--s3-endpoint", "--s3-region", "--no-sign-request"][..]),
        ("OpenStack options", &["--os-cloud", "--os-region", "--include-volume-data"][..]),
        ("Global options", &["--verbose", "--plugin <FILE>", "--plugin-timeout"][..]),
    ];
    for (heading, options) in groups {
        let body = section(&help, heading);
        for option in options {
            assert!(body.contains(option), "{option} is not under '{heading}':\n{help}");
        }
        assert!(position(&help, "--output") < position(&help, &format!("\n{heading}:")), "{heading} before -o");
    }
    for command in ["inventory", "plan"] {
        let help = stdout(&run(&[command, "--help"]));
        for heading in ["Source options", "S3 options", "OpenStack options", "Global options"] {
            section(&help, heading);
        }
    }
}

#[test]
fn every_command_shows_the_exit_codes() {
    let root = stdout(&run(&["--help"]));
    assert!(root.contains("Exit codes:"), "{root}");
    for command in commands() {
        let output = run(&[&command, "--help"]);
        assert_eq!(code(&output), 0, "{command}: {}", all_text(&output));
        let help = stdout(&output);
        assert!(
            help.contains("Exit codes:") && help.contains("130"),
            "`{command} --help` lacks the exit codes:\n{help}"
        );
    }
}

fn completions(shell: &str) -> String {
    let output = run(&["completions", shell]);
    assert_eq!(code(&output), 0, "{shell}: {}", all_text(&output));
    assert!(output.stderr.is_empty(), "{shell}: {}", stderr(&output));
    stdout(&output)
}

/// Runs `SHELL -n` on a script: true when checked, false when the shell is not installed.
fn syntax_check(shell: &str, script: &str, dir: &Path) -> bool {
    let file = dir.join(format!("sortie.{shell}"));
    fs::write(&file, script).unwrap();
    match Command::new(shell).arg("-n").arg(&file).output() {
        Ok(output) => {
            assert!(output.status.success(), "{shell} -n refuses the script:\n{}", all_text(&output));
            true
        }
        Err(_) => false,
    }
}

#[test]
fn the_bash_script_parses_and_completes_every_command_and_option() {
    let work = tempfile::tempdir().unwrap();
    let script = completions("bash");
    assert!(syntax_check("bash", &script, work.path()), "bash is needed by the tests");
    for word in commands().iter().map(String::as_str).chain(["--output", "--s3-endpoint", "--os-cloud", "--plugin"]) {
        assert!(script.contains(word), "the bash script does not know {word}");
    }
    // The script registers itself for the command name, as bash-completion loads it.
    assert!(script.contains("complete -F _sortie") && script.contains(" sortie"), "{script}");
}

#[test]
fn the_other_shells_get_scripts_naming_the_commands() {
    let work = tempfile::tempdir().unwrap();
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let script = completions(shell);
        for word in ["export", "extract", "output", "s3-endpoint"] {
            assert!(script.contains(word), "the {shell} script does not know {word}:\n{script}");
        }
        if ["zsh", "fish"].contains(&shell) && !syntax_check(shell, &script, work.path()) {
            eprintln!("note: {shell} is not installed, its script's syntax was not checked");
        }
    }
}

#[test]
fn an_unknown_shell_is_a_usage_error_naming_the_known_ones() {
    let output = run(&["completions", "tcsh"]);
    assert_eq!(code(&output), 2);
    assert!(output.stdout.is_empty());
    assert!(stderr(&output).contains("bash") && stderr(&output).contains("zsh"), "{}", stderr(&output));
}

/// A page as `man` shows it (UTF-8 input through preconv), as plain text without hyphenation,
/// so that no option is broken in two, and its words one space apart.
fn render(page: &Path) -> String {
    let output = Command::new("groff")
        .args(["-k", "-man", "-Tutf8", "-P-cbou", "-ww", "-rHY=0"])
        .arg(page)
        .output()
        .expect("groff is needed by the tests (Debian: groff-base; `bash tests/run` installs it)");
    assert!(output.status.success(), "groff fails on {}: {}", page.display(), all_text(&output));
    assert!(output.stderr.is_empty(), "groff warns on {}: {}", page.display(), stderr(&output));
    // Justified lines have runs of spaces.
    stdout(&output).split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn man_writes_a_page_per_command_that_renders_with_the_exit_codes() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("share/man/man1");
    let output = run(&["man", dir.to_str().unwrap()]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    let commands = commands();
    let mut written: Vec<String> =
        fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    let mut expected: Vec<String> = commands.iter().map(|c| format!("sortie-{c}.1")).collect();
    expected.push("sortie.1".into());
    // A command with commands of its own (`sortie ovh credential`) has a page for each.
    for command in &commands {
        let help = stdout(&run(&[command, "--help"]));
        if help.contains("\nCommands:") {
            let subcommands = section(&help, "Commands");
            let names =
                subcommands.lines().filter(|line| !line.starts_with("   ")).filter_map(|l| l.split_whitespace().next());
            expected.extend(names.filter(|name| *name != "help").map(|name| format!("sortie-{command}-{name}.1")));
        }
    }
    written.sort();
    expected.sort();
    assert_eq!(written, expected);
    for name in &written {
        assert!(stdout(&output).contains(name), "the written page {name} is not named on stdout: {}", stdout(&output));
    }

    let root = render(&dir.join("sortie.1"));
    for command in &commands {
        assert!(root.contains(&format!("sortie-{command}(1)")), "sortie(1) does not list {command}:\n{root}");
    }
    for name in &written {
        let page = render(&dir.join(name));
        assert!(page.contains("EXIT STATUS") && page.contains("130"), "{name} lacks the exit codes:\n{page}");
    }
    let export = render(&dir.join("sortie-export.1"));
    for text in ["sortie export", "--output", "S3 OPTIONS", "--s3-endpoint", "GLOBAL OPTIONS", "--plugin-timeout"] {
        assert!(export.contains(text), "sortie-export(1) lacks {text}:\n{export}");
    }

    // Run again after an upgrade, the pages are replaced.
    fs::write(dir.join("sortie.1"), "stale").unwrap();
    assert_eq!(code(&run(&["man", dir.to_str().unwrap()])), 0);
    assert!(render(&dir.join("sortie.1")).contains("EXIT STATUS"));
}

#[test]
fn man_into_an_unwritable_place_is_a_usage_error() {
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("a-file");
    fs::write(&file, "").unwrap();
    let output = run(&["man", file.join("man1").to_str().unwrap()]);
    assert_eq!(code(&output), 2, "{}", all_text(&output));
    assert!(stderr(&output).contains("cannot write the man pages into"), "{}", stderr(&output));
}
