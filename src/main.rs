//! `sortie`: get a complete data set out of a provider into an archive anyone can verify.

mod cli;
mod commands;
mod exit;
mod progress;
mod providers;

use std::io::IsTerminal;

use clap::Parser;

fn main() {
    let cli = cli::Cli::parse();
    let level = match cli.verbose {
        0 => tracing::Level::WARN,
        1 => tracing::Level::INFO,
        _ => tracing::Level::DEBUG,
    };
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .without_time()
        .with_target(false)
        .init();
    let code = match commands::run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("sortie: error: {error:#}");
            exit::code_for(&error)
        }
    };
    std::process::exit(code);
}
