//! One module per subcommand; each returns the exit code.

/// Writes one line to stdout and returns the write's result, so that a closed pipe
/// (`sortie ls … | head`) ends the command quietly instead of panicking (see `main`).
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)
    }};
}

mod against;
mod archive;
mod completions;
mod export;
mod inventory;
mod keygen;
mod man;
mod ovh;
mod plan;
mod providers;
mod report;
mod signals;

use anyhow::Result;
use sortie_core::plan::{Plan, Source};
use sortie_core::progress::ProgressSink;
use sortie_core::registry::Given;
use sortie_core::retry::RetryPolicy;
use sortie_core::warning::Warning;
use sortie_sdk::registry::Context;

use crate::cli::{Cli, Command, SourceArgs};

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<i32> {
    match cli.command {
        Command::Export(args) => block_on(export::run(args)),
        Command::Inventory(args) => block_on(until_stopped(inventory::run(args))),
        Command::Verify(args) => archive::verify(&args),
        Command::Ls(args) => blocking_until_stopped(move || archive::ls(&args))?,
        Command::Extract(args) => archive::extract(&args),
        Command::Report(args) => blocking_until_stopped(move || report::run(&args))?,
        Command::Plan(args) => block_on(until_stopped(plan::run(args))),
        Command::Providers(args) => providers::run(&args),
        Command::Completions(args) => completions::run(&args),
        Command::Man(args) => man::run(&args),
        Command::Ovh(crate::cli::OvhArgs { command: crate::cli::OvhCommand::Credential(args) }) => {
            block_on(until_stopped(ovh::credential(args)))
        }
        Command::Keygen(args) => keygen::run(&args),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}

/// Runs a command on a runtime that is left behind when the command returns rather than
/// waited for: a plugin call that timed out may still hold one of its blocking threads, and
/// no C call can be interrupted. Everything a command starts is finished when it returns.
fn block_on<F: std::future::Future<Output = Result<i32>>>(command: F) -> Result<i32> {
    let runtime = runtime()?;
    let code = runtime.block_on(command);
    runtime.shutdown_background();
    code
}

/// A command that leaves nothing behind (it reads, lists, prints) run until it ends or a
/// stopping signal arrives: then it fails as stopped (exit 130, 143 or 129), so that
/// `--json` still prints its one object saying so, as for `export` and `extract`. The
/// command runs as a task of its own, so that one that never yields (a listing answered at
/// once, page after page) cannot keep the signal from being seen.
async fn until_stopped(command: impl std::future::Future<Output = Result<i32>> + Send + 'static) -> Result<i32> {
    let mut signals = signals::StopSignals::listen();
    tokio::select! {
        // A command that has printed its result and ended wins over a signal that came after.
        biased;
        done = tokio::spawn(command) => done.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic())),
        stop = signals.next() => Err(stop.into()),
    }
}

/// [`until_stopped`] for work that blocks (reading an archive), on a thread of its own
/// that is left behind when a signal arrives.
fn blocking_until_stopped<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    let runtime = runtime()?;
    let done = runtime.block_on(async {
        let mut signals = signals::StopSignals::listen();
        tokio::select! {
            biased;
            done = tokio::task::spawn_blocking(work) => Ok(done.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))),
            stop = signals.next() => Err(stop.into()),
        }
    });
    runtime.shutdown_background();
    done
}

/// Prints a value as one line of JSON on stdout.
fn print_json(value: &impl serde::Serialize) -> Result<()> {
    out!("{}", serde_json::to_string(value)?)?;
    Ok(())
}

/// Prints the outcome of a command as one JSON object on stdout: `ok` (exit code 0),
/// `exit_code`, then the fields of `value`, a struct or map. Serialized straight from
/// `value`, never through a `serde_json::Value` copy: a crafted archive's report can be
/// large.
fn print_outcome<T: serde::Serialize>(code: i32, value: &T) -> Result<()> {
    print_typed_outcome(None, code, value)
}

/// [`print_outcome`] as the last line of `export --json`'s events (`crate::events`), typed
/// `summary` among them.
fn print_summary<T: serde::Serialize>(code: i32, value: &T) -> Result<()> {
    print_typed_outcome(Some("summary"), code, value)
}

fn print_typed_outcome<T: serde::Serialize>(event: Option<&str>, code: i32, value: &T) -> Result<()> {
    #[derive(serde::Serialize)]
    struct Outcome<'a, T> {
        #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
        event: Option<&'a str>,
        ok: bool,
        exit_code: i32,
        #[serde(flatten)]
        value: &'a T,
    }
    print_json(&Outcome { event, ok: code == crate::exit::OK, exit_code: code, value })
}

/// What a command given `--json` prints when it fails, beside the message on stderr: one
/// object saying so, for a script that reads stdout only; typed `summary` when it ends the
/// events of `export --json` (`events`).
pub fn print_failure(code: i32, message: &str, events: bool) -> Result<()> {
    let error = serde_json::json!({"error": {"kind": crate::exit::kind(code), "message": message}});
    if events { print_summary(code, &error) } else { print_outcome(code, &error) }
}

/// Prints warnings on stderr, above a progress bar if one is drawn.
fn warn(bar: &indicatif::ProgressBar, warnings: &[Warning]) {
    bar.suspend(|| warnings.iter().for_each(|warning| eprintln!("sortie: warning: {}", warning.message)));
}

/// What the sources of a command need besides their own settings. `exclude` names local
/// files no source may export (the archive being written).
fn context(args: &SourceArgs, exclude: Vec<std::path::PathBuf>) -> Context {
    Context::new(RetryPolicy::with_retries(args.retries), exclude)
}

/// The plan of a command: the sources it names resolved (`s3://` → one source per
/// bucket), or the plan file it names, each source once; fails on the first source that
/// cannot be resolved. The warnings name sources given twice, and sources inside others.
async fn plan_of(args: &SourceArgs, context: &Context, progress: &ProgressSink) -> Result<(Plan, Vec<Warning>)> {
    let registry = crate::providers::registry()?;
    let given = given(args);
    let mut plan = if let Some(path) = &args.plan {
        let mut plan = Plan::read(path)?;
        plan.sources = registry.planned(&plan.sources, &given)?;
        plan
    } else {
        let file = sortie_core::sources_file::locate(args.sources_file.as_deref());
        let written = sortie_core::sources_file::expand(&registry, &args.sources, file.as_deref())?;
        let specs = registry.sources(&written, &given)?;
        sortie_core::plan::resolve(&registry, &specs, context, progress).await?
    };
    let warnings = sortie_core::plan::check_overlaps(&mut plan.sources);
    Ok((plan, warnings))
}

/// Resolves and opens every source of a command, checking each before anything is written.
async fn open_sources(
    args: &SourceArgs,
    context: &Context,
    progress: &ProgressSink,
) -> Result<(Vec<Source>, Vec<Warning>)> {
    let (plan, warnings) = plan_of(args, context, progress).await?;
    Ok((sortie_core::plan::open(&crate::providers::registry()?, &plan, context, progress).await?, warnings))
}

/// The documented flags, as the settings they spell, and `--set`.
fn given(args: &SourceArgs) -> Given {
    let flags: Vec<(&str, Option<String>)> = vec![
        ("--follow-symlinks", args.follow_symlinks.then(|| "true".into())),
        ("--current-only", args.current_only.then(|| "true".into())),
        ("--skip-archived", args.skip_archived.then(|| "true".into())),
        ("--profile", args.s3.profile.clone()),
        ("--s3-endpoint", args.s3.s3_endpoint.clone()),
        ("--s3-region", args.s3.s3_region.clone()),
        ("--s3-path-style", args.s3.s3_path_style.then(|| "true".into())),
        ("--no-sign-request", args.s3.no_sign_request.then(|| "true".into())),
        ("--os-cloud", args.openstack.os_cloud.clone()),
        ("--os-region", args.openstack.os_region.clone()),
        ("--os-interface", args.openstack.os_interface.clone()),
        ("--include-segments", args.openstack.include_segments.then(|| "true".into())),
        ("--include-volume-data", args.openstack.include_volume_data.then(|| "true".into())),
        ("--list-page-size", args.list_page_size.map(|n| n.to_string())),
        ("--allow-missing-metadata", args.allow_missing_metadata.then(|| "true".into())),
    ];
    Given {
        flags: flags.into_iter().filter_map(|(flag, value)| Some((flag.to_owned(), value?))).collect(),
        sets: args.set.iter().map(|s| (s.key.clone(), s.value.clone())).collect(),
    }
}
