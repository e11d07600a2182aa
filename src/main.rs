//! `sortie`: get a complete data set out of a provider into an archive anyone can verify.

mod cli;
mod commands;
mod exit;
mod logging;
mod progress;
mod providers;

use clap::Parser;

fn main() {
    limit_allocator_arenas();
    let cli = cli::Cli::parse();
    let color = logging::colored(cli.color);
    // indicatif's styles ask console's switch for stdout: it is set for the bars on stderr.
    console::set_colors_enabled(color);
    if let Err(error) = logging::init(cli.verbose, cli.quiet, color) {
        eprintln!("sortie: error: {error:#}");
        std::process::exit(exit::code_for(&error));
    }
    progress::configure(cli.quiet);
    providers::configure(cli.plugins.clone(), std::time::Duration::from_secs_f64(cli.plugin_timeout));
    let code = match commands::run(cli) {
        Ok(code) => code,
        Err(error) if is_broken_pipe(&error) => exit::OK,
        Err(error) => {
            eprintln!("sortie: error: {error:#}");
            exit::code_for(&error)
        }
    };
    std::process::exit(code);
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
