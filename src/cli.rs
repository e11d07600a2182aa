//! The command line.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::exit;

/// Export a complete data set out of a provider into a verifiable archive: a BagIt bag in a
/// tar.zst, checkable with GNU tar, sha256sum and bagit.py alone.
#[derive(Debug, Parser)]
#[command(name = "sortie", version, after_help = exit::TABLE)]
#[command(next_help_heading = "Global options")]
pub struct Cli {
    /// More log output on stderr (-v info, -vv debug, every HTTP request included);
    /// SORTIE_LOG (else RUST_LOG) filters by target, e.g. SORTIE_LOG=sortie_http=debug.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// No progress bar and no log below errors; the results are still printed.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Colour logs and progress bars: auto (on a terminal, unless NO_COLOR is set), always,
    /// never.
    #[arg(long, global = true, value_name = "WHEN", default_value = "auto")]
    pub color: clap::ColorChoice,
    /// Load a provider plugin (a shared library, docs/PLUGINS.md) besides those found in
    /// the directories of SORTIE_PLUGIN_PATH (repeatable). Only files no other user can
    /// write are loaded.
    #[arg(long = "plugin", global = true, value_name = "FILE")]
    pub plugins: Vec<PathBuf>,
    /// How long one call into a plugin may take before the page or item it serves fails.
    #[arg(long, global = true, value_name = "SECONDS", default_value_t = 120.0, value_parser = positive_seconds)]
    pub plugin_timeout: f64,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Export one or more sources into one archive.
    #[command(after_help = exit::TABLE)]
    Export(ExportArgs),
    /// Show what an export would take (counts and bytes per source and kind), without
    /// transferring any body.
    #[command(after_help = exit::TABLE)]
    Inventory(InventoryArgs),
    /// Check an archive, or a bag directory extracted from one: structure, every member's
    /// sha256, manifests, Payload-Oxum, sidecar.
    #[command(after_help = exit::TABLE)]
    Verify(VerifyArgs),
    /// List an archive's members.
    #[command(after_help = exit::TABLE)]
    Ls(ArchiveArgs),
    /// Extract an archive into a directory, refusing anything that would land outside it.
    #[command(after_help = exit::TABLE)]
    Extract(ExtractArgs),
    /// Show an archive's reconciliation (per source and kind, failures, exclusions, run)
    /// from its report, without extracting it.
    #[command(after_help = exit::TABLE)]
    Report(ReportArgs),
    /// Resolve sources into the plan an export would follow (`s3://` becomes one source per
    /// bucket), checking each, without listing anything; `export --plan` exports a plan.
    #[command(after_help = exit::TABLE)]
    Plan(PlanArgs),
    /// List the available source schemes, or one provider's settings.
    #[command(after_help = exit::TABLE)]
    Providers(ProvidersArgs),
    /// Print the shell completion script for SHELL on stdout.
    #[command(after_help = exit::TABLE)]
    Completions(CompletionsArgs),
    /// Write the manual pages, sortie.1 and one per command (sortie-export.1…), into a
    /// directory.
    #[command(after_help = exit::TABLE)]
    Man(ManArgs),
    /// Make a minisign key pair for `export --sign`: KEY (secret, mode 0600) and KEY.pub.
    #[command(after_help = exit::TABLE)]
    Keygen(KeygenArgs),
    /// OVHcloud tools: `sortie ovh credential` asks the API for a consumer key an export
    /// can use.
    #[command(after_help = exit::TABLE)]
    Ovh(OvhArgs),
}

#[derive(Debug, Args)]
pub struct OvhArgs {
    #[command(subcommand)]
    pub command: OvhCommand,
}

/// `sortie ovh …`.
#[derive(Debug, Subcommand)]
pub enum OvhCommand {
    /// Ask the OVHcloud API for a consumer key limited to what an export needs (every GET,
    /// and the POSTs that start a server-side export: database dumps, Exchange PST exports,
    /// logs archive URLs, Public Cloud S3 secrets), print the URL where the account
    /// validates it, and how to store it.
    #[command(after_help = exit::TABLE)]
    Credential(OvhCredentialArgs),
}

#[derive(Debug, Args)]
pub struct OvhCredentialArgs {
    /// The API: ovh-eu, ovh-ca, ovh-us, kimsufi-eu, kimsufi-ca, soyoustart-eu,
    /// soyoustart-ca, or an API URL (default: OVH_ENDPOINT, else ovh.conf's [default]
    /// endpoint).
    #[arg(long, value_name = "ENDPOINT")]
    pub endpoint: Option<String>,
    /// The application key the consumer key is for (default: OVH_APPLICATION_KEY, else
    /// ovh.conf).
    #[arg(long, value_name = "KEY")]
    pub application_key: Option<String>,
    /// Where the validation page sends the account's owner once the key is validated.
    #[arg(long, value_name = "URL")]
    pub redirection: Option<String>,
    /// Print JSON on stdout: {"endpoint", "application_key", "consumer_key",
    /// "validation_url", "state"}.
    #[arg(long)]
    pub json: bool,
}

impl Command {
    /// Whether the command was asked for JSON: then even its failure is one JSON object on
    /// stdout.
    pub fn json(&self) -> bool {
        match self {
            Command::Export(args) => args.json,
            Command::Inventory(args) => args.json,
            Command::Verify(args) => args.json || args.against.iter().any(|arg| arg == "--json"),
            Command::Ls(args) => args.json,
            Command::Keygen(args) => args.json,
            Command::Extract(args) => args.json,
            Command::Report(args) => args.json,
            Command::Plan(args) => args.json,
            Command::Providers(args) => args.json,
            Command::Ovh(OvhArgs { command: OvhCommand::Credential(args) }) => args.json,
            Command::Completions(_) | Command::Man(_) => false,
        }
    }

    /// Whether the command prints JSON Lines events (`export --json`), whose last object,
    /// the outcome, is typed `summary`.
    pub fn prints_events(&self) -> bool {
        matches!(self, Command::Export(args) if args.json)
    }
}

#[derive(Debug, Args)]
#[command(next_help_heading = "Source options")]
pub struct SourceArgs {
    /// Sources: a directory path, file:///path, s3://BUCKET[/PREFIX], s3:// (every bucket),
    /// swift://CONTAINER[/PREFIX], swift:// (every container)… (see `sortie providers`), or
    /// @NAME, a source of the sources file.
    #[arg(required_unless_present = "plan", conflicts_with = "plan", value_name = "SOURCE", help_heading = None::<&str>)]
    pub sources: Vec<String>,
    /// Export the sources of a plan printed by `sortie plan --json` instead of resolving
    /// sources again; gives the same archive as the sources the plan was made from.
    #[arg(long, value_name = "FILE")]
    pub plan: Option<PathBuf>,
    /// A provider setting, KEY=VALUE or SCHEME.KEY=VALUE (repeatable): given to every source
    /// whose provider takes KEY (`sortie providers SCHEME` lists them).
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = key_value)]
    pub set: Vec<Setting>,
    /// The sources file that @NAME sources come from (default: SORTIE_SOURCES, then
    /// ~/.config/sortie/sources.yaml).
    #[arg(long, value_name = "FILE")]
    pub sources_file: Option<PathBuf>,
    /// Follow symbolic links instead of recording them.
    #[arg(long)]
    pub follow_symlinks: bool,
    /// Take only the current version of each object, not earlier versions and delete
    /// markers.
    #[arg(long)]
    pub current_only: bool,
    /// Leave out objects in archive storage classes (S3 GLACIER, DEEP_ARCHIVE) that were not
    /// restored, instead of counting them as failures.
    #[arg(long)]
    pub skip_archived: bool,
    /// Objects asked for per listing request, 1 to 10000 (Swift: 10000, the default), for
    /// servers with a lower limit.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub list_page_size: Option<u32>,
    /// Count an object whose bytes were archived but whose tags or ACL could not be read
    /// (access denied, a server error after every retry) as complete; the reason is still
    /// recorded with it (`tags_error`, `acl_error`).
    #[arg(long)]
    pub allow_missing_metadata: bool,
    /// Retries of a temporary error, with exponential backoff and jitter (0 to 100).
    #[arg(long, default_value_t = 5, value_name = "N", value_parser = clap::value_parser!(u32).range(0..=100))]
    pub retries: u32,
    #[command(flatten)]
    pub s3: S3Args,
    #[command(flatten)]
    pub openstack: OpenStackArgs,
}

/// Connection to S3 and compatible stores; credentials come from AWS_ACCESS_KEY_ID /
/// AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN or ~/.aws/credentials and ~/.aws/config.
#[derive(Debug, Args)]
#[command(next_help_heading = "S3 options")]
pub struct S3Args {
    /// AWS profile of ~/.aws/config and ~/.aws/credentials (default: AWS_PROFILE, then
    /// `default`).
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// S3 endpoint of a compatible store, e.g. https://s3.gra.io.cloud.ovh.net (default:
    /// AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, the profile, then AWS).
    #[arg(long, value_name = "URL")]
    pub s3_endpoint: Option<String>,
    /// Region to sign for (default: AWS_REGION, AWS_DEFAULT_REGION, the profile, us-east-1).
    #[arg(long, value_name = "REGION")]
    pub s3_region: Option<String>,
    /// Put the bucket in the URL path, not the host name (automatic for IP endpoints).
    #[arg(long)]
    pub s3_path_style: bool,
    /// Send unsigned requests, for public buckets; reads no credentials.
    #[arg(long)]
    pub no_sign_request: bool,
}

/// Connection to OpenStack; credentials come from a clouds.yaml cloud, the OS_* variables of
/// an openrc file, or ST_AUTH / ST_USER / ST_KEY for Swift's own authentication.
#[derive(Debug, Args)]
#[command(next_help_heading = "OpenStack options")]
pub struct OpenStackArgs {
    /// Cloud of clouds.yaml (default: OS_CLOUD; without either, the OS_* or ST_* variables).
    #[arg(long, value_name = "NAME")]
    pub os_cloud: Option<String>,
    /// Region whose endpoints to use (default: OS_REGION_NAME, or the cloud's region).
    #[arg(long, value_name = "REGION")]
    pub os_region: Option<String>,
    /// Catalog interface: public, internal or admin (default: OS_INTERFACE, or public).
    #[arg(long, value_name = "INTERFACE")]
    pub os_interface: Option<String>,
    /// Also archive the segments of Swift large objects, which are archived assembled anyway.
    #[arg(long)]
    pub include_segments: bool,
    /// With openstack://, also archive the data of every available or attached Cinder volume:
    /// Cinder copies each into a temporary Glance image (force-copying attached ones, which
    /// may catch a running server's disk mid-write), read and then deleted. Slow, and it
    /// uses image quota meanwhile.
    #[arg(long)]
    pub include_volume_data: bool,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The archive to write (NAME.tar.zst); NAME.tar.zst.sha256 is written beside it.
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// Overwrite the output if it exists, and start over an interrupted export to it.
    #[arg(long)]
    pub force: bool,
    /// Continue the interrupted export to the output (same sources), from the journal beside
    /// its partial archive: nothing archived is fetched again.
    #[arg(long, conflicts_with_all = ["force", "encrypt_to", "encrypt_to_file", "volume_size"])]
    pub resume: bool,
    /// Items fetched at once (default: 8 from local sources, 32 when a source is remote,
    /// where each small object waits mostly on the network).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub concurrency: Option<u16>,
    /// Byte ranges read at once from one large object (S3, Swift, Glance, WebDAV), as
    /// rclone's multi-thread streams: one connection rarely carries a server's full speed.
    /// 1 reads every object as one stream. Memory: up to N × --range-chunk per export.
    #[arg(long, default_value_t = 6, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=32))]
    pub range_streams: u16,
    /// Objects of at least SIZE bytes are read in ranges (K, M, G: powers of 1024).
    #[arg(long, default_value = "32M", value_name = "SIZE", value_parser = size)]
    pub range_cutoff: u64,
    /// The bytes of one range, 64K to 256M.
    #[arg(long, default_value = "3M", value_name = "SIZE", value_parser = range_chunk)]
    pub range_chunk: u64,
    /// Check every checksum a provider announces. By default an object whose provider
    /// records a full-object CRC32, CRC32C, CRC64NVME or sha256 (S3's `x-amz-checksum-*`)
    /// is checked against that, not also against its MD5 ETag, which costs ~1.5
    /// CPU-seconds per GiB.
    #[arg(long)]
    pub all_checksums: bool,
    /// zstd compression level.
    #[arg(long, default_value_t = 3, value_name = "LEVEL", value_parser = clap::value_parser!(i32).range(1..=19))]
    pub zstd_level: i32,
    /// zstd worker threads, 1 to 200 (default: one per core).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=200))]
    pub zstd_threads: Option<u32>,
    /// Print JSON Lines events on stdout: start, each source, a status every
    /// --status-interval, each failure, and the summary last (docs/EVENTS.md).
    #[arg(long)]
    pub json: bool,
    /// Sign with this minisign secret key (`sortie keygen`, or `minisign -G`'s): writes
    /// NAME.tar.zst.sha256.minisig over the sidecar, and puts the public key and a signature of the
    /// tag manifest in the bag. A password-protected key reads SORTIE_SIGN_PASSWORD, else
    /// asks on the terminal.
    #[arg(long, value_name = "KEY")]
    pub sign: Option<PathBuf>,
    /// Get RFC 3161 time stamps from this time-stamping authority over the sidecar
    /// (NAME.tar.zst.sha256.tsr) and over the bag's tag manifest (in the bag).
    #[arg(long, value_name = "URL")]
    pub timestamp: Option<String>,
    /// Seconds between two status events of --json (which it needs), 0.1 to 3600.
    #[arg(long, value_name = "SECONDS", default_value_t = 1.0, value_parser = status_interval, requires = "json")]
    pub status_interval: f64,
    /// Encrypt the archive with age to RECIPIENT (repeatable): an age1… public key, or an
    /// ssh-ed25519 or ssh-rsa public key line; the archive is then NAME.tar.zst.age, opened
    /// by `age -d -i KEY`, and the sidecar covers the encrypted file.
    #[arg(long, value_name = "RECIPIENT")]
    pub encrypt_to: Vec<String>,
    /// Encrypt to every recipient of FILE (repeatable), one a line as `age -R` reads them.
    #[arg(short = 'R', long, value_name = "FILE")]
    pub encrypt_to_file: Vec<PathBuf>,
    /// Cut the archive into volumes of at most SIZE bytes (K, M, G, T: powers of 1024; at
    /// least 1K): NAME.tar.zst.001, .002…, joined back by `cat`.
    #[arg(long, value_name = "SIZE", value_parser = volume_size)]
    pub volume_size: Option<u64>,
    /// Who runs the export (boxed: `Command`'s variants stay of a size).
    #[command(flatten)]
    pub operator: Box<OperatorArgs>,
    #[command(flatten)]
    pub source: SourceArgs,
}

/// Who runs an export, named on the restitution page and in bag-info.txt.
#[derive(Debug, Args)]
pub struct OperatorArgs {
    /// The organization that runs the export, named on the restitution page and in
    /// bag-info.txt (`Source-Organization`).
    #[arg(long, value_name = "NAME", value_parser = operator_text)]
    pub organization: Option<String>,
    /// Who to contact about the export, as "NAME <EMAIL>", NAME or EMAIL (bag-info.txt's
    /// `Contact-Name` and `Contact-Email`).
    #[arg(long, value_name = "\"NAME <EMAIL>\"", value_parser = contact)]
    pub contact: Option<Contact>,
}

/// A contact given with `--contact`: a name, an email address, or both.
#[derive(Debug, Clone, PartialEq)]
pub struct Contact {
    pub name: Option<String>,
    pub email: Option<String>,
}

impl ExportArgs {
    /// The time between two status events of `--json`.
    pub fn status_interval(&self) -> std::time::Duration {
        std::time::Duration::from_secs_f64(self.status_interval)
    }
}

#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// The secret key to write; the public key goes to KEY.pub.
    #[arg(value_name = "KEY")]
    pub key: PathBuf,
    /// Write the secret key without a password (as `minisign -W`); otherwise the password
    /// comes from SORTIE_SIGN_PASSWORD, else is asked twice on the terminal.
    #[arg(long)]
    pub unprotected: bool,
    /// Overwrite KEY and KEY.pub if they exist.
    #[arg(long)]
    pub force: bool,
    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct InventoryArgs {
    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub source: SourceArgs,
}

#[derive(Debug, Args)]
pub struct ArchiveArgs {
    /// The archive (NAME.tar.zst, NAME.tar.zst.age, a volume set's name or its first
    /// volume NAME.tar.zst.001); `verify` also takes a bag directory extracted from one.
    pub archive: PathBuf,
    /// An age identity file (age-keygen's) or SSH private key, to open an encrypted
    /// archive (repeatable).
    #[arg(short, long, value_name = "IDENTITY")]
    pub identity: Vec<PathBuf>,
    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The archive (NAME.tar.zst, NAME.tar.zst.age, a volume set's name or its first
    /// volume NAME.tar.zst.001), or a bag directory extracted from one.
    pub archive: PathBuf,
    /// An age identity file (age-keygen's) or SSH private key, to open an encrypted
    /// archive (repeatable).
    #[arg(short, long, value_name = "IDENTITY")]
    pub identity: Vec<PathBuf>,
    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Check the signatures with this minisign public key (KEY.pub): the archive's
    /// NAME.tar.zst.sha256.minisig over its sidecar and the bag's over its tag manifest;
    /// both must be there and hold.
    #[arg(long, value_name = "KEY.pub")]
    pub key: Option<PathBuf>,
    /// List these sources again (no bodies) and compare every item with the archive's
    /// inventory: unchanged, changed since, new since, gone since. Everything after
    /// --against is sources and source options, as `inventory` takes them (`--against
    /// --help` lists them); global options (-v, --plugin…) go before it.
    #[arg(long, num_args = 1.., allow_hyphen_values = true, value_name = "SOURCE")]
    pub against: Vec<String>,
}

/// The sources `verify ARCHIVE --against` lists again, and their options.
#[derive(Debug, Parser)]
#[command(name = "sortie verify ARCHIVE --against", no_binary_name = true)]
pub struct AgainstArgs {
    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub source: SourceArgs,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The archive (NAME.tar.zst, NAME.tar.zst.age, a volume set's name or its first
    /// volume NAME.tar.zst.001).
    pub archive: PathBuf,
    /// An age identity file (age-keygen's) or SSH private key, to open an encrypted
    /// archive (repeatable).
    #[arg(short, long, value_name = "IDENTITY")]
    pub identity: Vec<PathBuf>,
    /// Print JSON on stdout.
    #[arg(long, conflicts_with = "html")]
    pub json: bool,
    /// Print the restitution page (the printable HTML of NAME.tar.zst.report.html, with the
    /// archive's sha256 computed while reading) on stdout.
    #[arg(long)]
    pub html: bool,
}

#[derive(Debug, Args)]
pub struct ExtractArgs {
    /// The archive (NAME.tar.zst, NAME.tar.zst.age, a volume set's name or its first
    /// volume NAME.tar.zst.001).
    pub archive: PathBuf,
    /// An age identity file (age-keygen's) or SSH private key, to open an encrypted
    /// archive (repeatable).
    #[arg(short, long, value_name = "IDENTITY")]
    pub identity: Vec<PathBuf>,
    /// Target directory (created if missing).
    pub target: PathBuf,
    /// Replace files that already exist in the target (each by a rename, in one step).
    #[arg(long)]
    pub force: bool,
    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Print the plan as JSON on stdout (what `--plan FILE` reads).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub source: SourceArgs,
}

#[derive(Debug, Args)]
pub struct ProvidersArgs {
    /// Show this provider's settings, with their flags and environment variables.
    #[arg(value_name = "SCHEME")]
    pub scheme: Option<String>,
    /// Print JSON on stdout: every provider with its settings schema.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell: bash, zsh, fish, elvish or powershell.
    #[arg(value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// The directory, e.g. ~/.local/share/man/man1 (created if missing; pages already there
    /// are replaced).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

/// One `--set KEY=VALUE`. Its `Debug` shows the key only: the value may be a secret.
#[derive(Clone)]
pub struct Setting {
    pub key: String,
    pub value: String,
}

impl std::fmt::Debug for Setting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}=…", self.key)
    }
}

/// `KEY=VALUE` of `--set`.
fn key_value(text: &str) -> Result<Setting, String> {
    match text.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => {
            Ok(Setting { key: key.trim().to_owned(), value: value.to_owned() })
        }
        _ => Err(format!("'{text}' is not KEY=VALUE")),
    }
}

/// Seconds between two status events: a tenth of a second at least (a status a second is
/// restic's pace), an hour at most (a scheduler's heartbeat).
fn status_interval(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(seconds) if (0.1..=3600.0).contains(&seconds) => Ok(seconds),
        _ => Err(format!("'{text}' is not a number of seconds from 0.1 to 3600")),
    }
}

/// One line of text for bag-info.txt and the page: no control character (a line break
/// would forge a bag-info field), at most 256 characters.
fn operator_text(text: &str) -> Result<String, String> {
    let text = text.trim();
    if let Some(c) = text.chars().find(|c| c.is_control()) {
        return Err(format!("holds the control character {c:?}: give one line of plain text"));
    }
    match text.chars().count() {
        0 => Err("is empty: give a name, or leave the option out".to_owned()),
        257.. => Err("is longer than 256 characters".to_owned()),
        _ => Ok(text.to_owned()),
    }
}

/// `NAME <EMAIL>`, `NAME` or `EMAIL` (a word holding `@`).
fn contact(text: &str) -> Result<Contact, String> {
    let text = operator_text(text)?;
    if let Some((name, rest)) = text.split_once('<') {
        let email = rest.strip_suffix('>').map(str::trim).filter(|e| e.contains('@') && !e.contains(['<', '>', ' ']));
        let Some(email) = email else {
            return Err(format!("{text:?} is not \"NAME <EMAIL>\": the address between < and > must hold an @"));
        };
        let name = Some(name.trim()).filter(|n| !n.is_empty()).map(str::to_owned);
        return Ok(Contact { name, email: Some(email.to_owned()) });
    }
    if text.contains('@') && !text.contains(' ') {
        return Ok(Contact { name: None, email: Some(text) });
    }
    Ok(Contact { name: Some(text), email: None })
}

/// A number of seconds above zero.
/// A size such as `500M` or `4G` (powers of 1024), at least 1 KiB.
/// A size with an optional binary unit: `4G`, `500M`, `64KiB`, `1024`.
fn size(text: &str) -> Result<u64, String> {
    let digits = text.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = match text[digits.len()..].to_ascii_uppercase().trim_end_matches("IB").trim_end_matches('B') {
        "" => 1u64,
        "K" => 1 << 10,
        "M" => 1 << 20,
        "G" => 1 << 30,
        "T" => 1 << 40,
        _ => return Err(format!("{text:?} is not a size: give a number with K, M, G or T, such as 500M or 4G")),
    };
    let number: u64 =
        digits.parse().map_err(|_| format!("{text:?} is not a size: give a number such as 500M or 4G"))?;
    number.checked_mul(unit).ok_or_else(|| format!("{text:?} is too large"))
}

fn volume_size(text: &str) -> Result<u64, String> {
    match size(text)? {
        size if size >= 1024 => Ok(size),
        _ => Err(format!("{text:?} is too small: a volume holds at least 1K")),
    }
}

/// A range holds 64K to 256M: smaller ones cost a request each for little, larger ones
/// multiply the memory held (`--range-streams` of them).
fn range_chunk(text: &str) -> Result<u64, String> {
    match size(text)? {
        size if (64 << 10..=256 << 20).contains(&size) => Ok(size),
        _ => Err(format!("{text:?} is out of range: a range holds 64K to 256M")),
    }
}

fn positive_seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(seconds) if seconds > 0.0 && seconds.is_finite() => Ok(seconds),
        _ => Err(format!("'{text}' is not a number of seconds above zero")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_contact_is_a_name_an_address_or_both() {
        let both = contact(" Jane Doe <jane@example.com> ").unwrap();
        assert_eq!((both.name.as_deref(), both.email.as_deref()), (Some("Jane Doe"), Some("jane@example.com")));
        assert_eq!(contact("jane@example.com").unwrap().email.as_deref(), Some("jane@example.com"));
        assert_eq!(contact("Data Protection Office").unwrap().name.as_deref(), Some("Data Protection Office"));
        assert!(contact("Jane <no address>").is_err() && contact("Jane <a@b").is_err());
        assert!(operator_text("ACME\u{2028}").is_ok(), "a Unicode line separator is no bag-info line break");
        assert!(operator_text("ACME\tCorp").is_err() && operator_text("   ").is_err());
        assert!(operator_text(&"x".repeat(257)).is_err());
    }

    /// The help shows the ranged-read defaults as sizes ("3M"), so they are written in the
    /// arguments above as well as in the engine's `RangedReads::default()`, which library
    /// callers get: the two must stay the same.
    #[test]
    fn the_ranged_read_defaults_are_the_engines() {
        let Command::Export(args) =
            Cli::try_parse_from(["sortie", "export", "src", "-o", "out.tar.zst"]).unwrap().command
        else {
            panic!("not an export");
        };
        let engine = sortie_core::engine::RangedReads::default();
        assert_eq!(
            (usize::from(args.range_streams), args.range_cutoff, args.range_chunk),
            (engine.streams, engine.cutoff, engine.chunk)
        );
    }
}
