//! `sortie man DIR`: the manual pages, made from the same clap definitions as `--help`.

use std::path::Path;

use anyhow::Result;
use clap::CommandFactory;
use clap_mangen::Man;
use clap_mangen::roff::{Roff, roman};
use sortie_sdk::{Error, ErrorKind};

use crate::cli::{Cli, ManArgs};
use crate::exit;

pub fn run(args: &ManArgs) -> Result<i32> {
    // Built with the help subcommand off: built first, clap would add a `help` page per
    // command.
    let mut root = Cli::command().disable_help_subcommand(true);
    root.build();
    std::fs::create_dir_all(&args.dir).map_err(|e| unwritable(&args.dir, &e))?;
    for command in with_subcommands(root) {
        let (name, page) = render(command)?;
        let path = args.dir.join(name);
        std::fs::write(&path, page).map_err(|e| unwritable(&args.dir, &e))?;
        out!("{}", path.display())?;
    }
    Ok(exit::OK)
}

/// A command and every visible command under it, each of which gets a page.
fn with_subcommands(command: clap::Command) -> Vec<clap::Command> {
    let mut all = vec![command.clone()];
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        all.extend(with_subcommands(sub.clone()));
    }
    all
}

/// A command's file name and page: clap_mangen's, with the exit codes under the usual EXIT
/// STATUS heading instead of the `after_help` text under "EXTRA", and Sortie's version in
/// every page's footer (subcommands have none of their own).
fn render(command: clap::Command) -> std::io::Result<(String, Vec<u8>)> {
    let has_subcommands = command.get_subcommands().any(|s| !s.is_hide_set());
    let has_version = command.get_version().is_some();
    let page = Man::new(command).source(concat!("sortie ", env!("CARGO_PKG_VERSION")));
    let mut roff = Vec::new();
    page.render_title(&mut roff)?;
    page.render_name_section(&mut roff)?;
    page.render_synopsis_section(&mut roff)?;
    page.render_description_section(&mut roff)?;
    page.render_options_section(&mut roff)?;
    if has_subcommands {
        page.render_subcommands_section(&mut roff)?;
    }
    exit_status().to_writer(&mut roff)?;
    if has_version {
        page.render_version_section(&mut roff)?;
    }
    Ok((page.get_filename(), roff))
}

/// The table of `--help`, one tagged paragraph per code, which `man` fills to the terminal's
/// width: a line that starts with a number starts a code, the others continue it.
fn exit_status() -> Roff {
    let mut section = Roff::new();
    section.control("SH", ["EXIT STATUS"]);
    for line in exit::TABLE.lines().skip(1).map(str::trim) {
        match line.split_once(' ') {
            Some((code, meaning)) if code.chars().all(|c| c.is_ascii_digit()) => {
                section.control("TP", None::<&str>).text([roman(code)]).text([roman(meaning.trim_start())]);
            }
            _ => {
                section.text([roman(line)]);
            }
        }
    }
    section
}

fn unwritable(dir: &Path, error: &std::io::Error) -> Error {
    let message = format!("cannot write the man pages into {}: {error}; choose a writable directory", dir.display());
    Error::new(ErrorKind::InvalidInput, message)
}
