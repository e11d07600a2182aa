//! `sortie`: get a complete data set out of a provider into an archive anyone can verify.

mod cli;
mod commands;
mod events;
mod evidence;
mod exit;
mod logging;
mod progress;
mod providers;

use clap::Parser as _;

fn main() {
    limit_allocator_arenas();
    let cli = cli::Cli::try_parse().unwrap_or_else(|error| refuse_arguments(&error));
    let json = cli.command.json().then_some(cli.command.prints_events());
    let color = logging::colored(cli.color);
    // indicatif's styles ask console's switch for stdout: it is set for the bars on stderr.
    console::set_colors_enabled(color);
    if let Err(error) = logging::init(cli.verbose, cli.quiet, color) {
        std::process::exit(fail(&error, json));
    }
    progress::configure(cli.quiet);
    providers::configure(cli.plugins.clone(), std::time::Duration::from_secs_f64(cli.plugin_timeout));
    let code = match commands::run(cli) {
        Ok(code) => code,
        Err(error) if is_broken_pipe(&error) => exit::OK,
        Err(error) => fail(&error, json),
    };
    std::process::exit(code);
}

/// Says why a command failed, on stderr and, with `--json` (`Some`, whether the command
/// prints events), as JSON on stdout; its exit code.
fn fail(error: &anyhow::Error, json: Option<bool>) -> i32 {
    let message = format!("{error:#}");
    eprintln!("sortie: error: {message}");
    let code = exit::code_for(error);
    if let Some(events) = json {
        let _ = commands::print_failure(code, &message, events);
    }
    code
}

/// Ends the process on a command line clap refuses (after `--help` and `--version` too, as
/// clap does), with the refusal as JSON on stdout when `--json` was asked for.
fn refuse_arguments(error: &clap::Error) -> ! {
    let json = std::env::args_os().skip(1).take_while(|arg| arg != "--").any(|arg| arg == "--json");
    if error.use_stderr() && json {
        // clap's message may go on over lines (the arguments missing) up to a blank line.
        let rendered = error.render().to_string();
        let lines: Vec<&str> = rendered.lines().take_while(|line| !line.trim().is_empty()).map(str::trim).collect();
        let message = lines.join(" ");
        let _ = commands::print_failure(exit::USAGE, message.trim_start_matches("error: "), asks_for_export());
    }
    error.exit()
}

/// Whether a command line clap refused names `export`, whose JSON outcome is typed: read
/// again, leniently, for its subcommand alone.
fn asks_for_export() -> bool {
    use clap::CommandFactory as _;
    let matches = cli::Cli::command().ignore_errors(true).try_get_matches();
    matches.is_ok_and(|matches| matches.subcommand_name() == Some("export"))
}

/// Whoever read the output has seen enough: as for any Unix filter, that is not a failure.
fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error
        .chain()
        .any(|cause| cause.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe))
}

/// glibc gives each thread that allocates an arena of its own (up to eight per core) and
/// keeps freed memory in each. An export hands buffers from thread to thread (readers,
/// writer, compressors), and with one arena per thread the process kept 20–30 MiB more than
/// it ever used at once; two arenas keep the peak flat at a cost of a few percent of speed
/// (figures in benches/README.md).
fn limit_allocator_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: called first thing in main, before any other thread exists; mallopt only
    // changes a tunable of the allocator.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}
