//! Logs on stderr: how much (`-q`, `-v`, `-vv`, or `SORTIE_LOG`/`RUST_LOG` directives) and
//! whether in colour (`--color`, `NO_COLOR`).
//!
//! The command line wins over the environment: `-q`, `-v` or `-vv` decide alone; without
//! them, `SORTIE_LOG` (else `RUST_LOG`) is read as `LEVEL` and `TARGET=LEVEL` directives
//! separated by commas (RUST_LOG's syntax without span and field filters, which need a
//! regex engine); without either, warnings and errors are logged.

use std::io::IsTerminal;
use std::str::FromStr;

use anyhow::{Context, Result};
use clap::ColorChoice;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// The variables read for directives, the first one set wins.
const VARIABLES: [&str; 2] = ["SORTIE_LOG", "RUST_LOG"];

/// The prefix of every target of Sortie's own crates (`sortie`, `sortie_core`,
/// `sortie_http`, `sortie_plugin_s3`…): `-v` and `-vv` open these, not the libraries'.
const OWN_TARGETS: &str = "sortie";

/// Installs the logger. An unreadable `SORTIE_LOG` is bad input: said before anything runs.
pub fn init(verbose: u8, quiet: bool, color: bool) -> Result<()> {
    let from_flags = match (quiet, verbose) {
        (true, _) => Some("error".to_owned()),
        (false, 0) => None,
        (false, 1) => Some(format!("warn,{OWN_TARGETS}=info")),
        (false, _) => Some(format!("warn,{OWN_TARGETS}=debug")),
    };
    let from_env = VARIABLES.iter().find_map(|name| {
        let value = std::env::var(name).ok().filter(|v| !v.trim().is_empty())?;
        Some((*name, value))
    });
    let filter = match (from_flags, from_env) {
        (Some(directives), _) => Targets::from_str(&directives).expect("valid directives"),
        (None, Some((name, directives))) => Targets::from_str(&directives)
            .map_err(|e| {
                sortie_core::Error::new(
                    sortie_core::ErrorKind::InvalidInput,
                    format!(
                        "{name}={directives:?} is not a log filter ({e}): write LEVEL or TARGET=LEVEL separated by \
                         commas, e.g. {name}=warn,sortie_http=debug"
                    ),
                )
            })
            .context("reading the log filter")?,
        (None, None) => Targets::new().with_default(tracing::Level::WARN),
    };
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(color)
        .without_time()
        .with_target(verbose >= 2 || filter.iter().next().is_some());
    tracing_subscriber::registry().with(layer).with(filter).init();
    Ok(())
}

/// Whether stderr gets colours: `--color always` or `never`, else only on a terminal and
/// when `NO_COLOR` is unset or empty (no-color.org).
pub fn colored(choice: ColorChoice) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty())
        }
    }
}
