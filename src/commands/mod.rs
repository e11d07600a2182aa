//! One module per subcommand; each returns the exit code.

/// Writes one line to stdout and returns the write's result, so that a closed pipe
/// (`sortie ls … | head`) ends the command quietly instead of panicking (see `main`).
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)
    }};
}

mod archive;
mod export;
mod inventory;
mod providers;

use anyhow::Result;

use crate::cli::{Cli, Command};
use export::stop_signal;

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<i32> {
    match cli.command {
        Command::Export(args) => runtime()?.block_on(export::run(args)),
        Command::Inventory(args) => runtime()?.block_on(inventory::run(args)),
        Command::Verify(args) => archive::verify(&args),
        Command::Ls(args) => archive::ls(&args),
        Command::Extract(args) => archive::extract(&args),
        Command::Providers(args) => providers::run(&args),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}

/// Prints a value as one line of JSON on stdout.
fn print_json(value: &impl serde::Serialize) -> Result<()> {
    out!("{}", serde_json::to_string(value)?)?;
    Ok(())
}

/// Opens every source, failing on the first one that cannot be opened. `exclude` names
/// local files no source may export (the archive being written); `allow_missing_metadata`
/// is export's `--allow-missing-metadata`.
fn open_sources(
    args: &crate::cli::SourceArgs,
    exclude: Vec<std::path::PathBuf>,
    allow_missing_metadata: bool,
) -> Result<Vec<std::sync::Arc<dyn sortie_core::provider::Provider>>> {
    let registry = crate::providers::registry();
    let options = sortie_core::registry::SourceOptions {
        follow_symlinks: args.follow_symlinks,
        exclude,
        current_only: args.current_only,
        skip_archived: args.skip_archived,
        profile: args.s3.profile.clone(),
        endpoint: args.s3.s3_endpoint.clone(),
        region: args.s3.s3_region.clone(),
        path_style: args.s3.s3_path_style,
        anonymous: args.s3.no_sign_request,
        cloud: args.openstack.os_cloud.clone(),
        openstack_region: args.openstack.os_region.clone(),
        interface: args.openstack.os_interface.clone(),
        include_segments: args.openstack.include_segments,
        include_volume_data: args.openstack.include_volume_data,
        page_size: args.list_page_size,
        retry: retry_policy(args),
        allow_missing_metadata,
    };
    args.sources.iter().map(|source| Ok(registry.open(source, &options)?)).collect()
}

fn retry_policy(args: &crate::cli::SourceArgs) -> sortie_core::retry::RetryPolicy {
    sortie_core::retry::RetryPolicy { retries: args.retries, ..Default::default() }
}
