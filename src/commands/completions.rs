//! `sortie completions SHELL`: the completion script, made from the same clap definitions as
//! `--help` so that it never lags behind an option.

use std::io::Write as _;

use anyhow::Result;
use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs};
use crate::exit;

pub fn run(args: &CompletionsArgs) -> Result<i32> {
    // clap_complete panics on a failed write: the script is built in memory, so that a
    // closed pipe (`sortie completions bash | head`) is an ordinary error (see `main`).
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "sortie", &mut script);
    std::io::stdout().lock().write_all(&script)?;
    Ok(exit::OK)
}
