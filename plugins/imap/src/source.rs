//! The factories of `imap://` and `imaps://`: a source described from its URL and opened.

use std::sync::Arc;

use async_trait::async_trait;
use sortie_sdk::provider::Provider;
use sortie_sdk::registry::{Context, ProviderFactory, ProviderInfo};
use sortie_sdk::settings::Settings;
use sortie_sdk::source::{SourceSpec, slug};
use sortie_sdk::{Error, ErrorKind, Result};

use crate::client::Connector;
use crate::pool::Pool;
use crate::provider::ImapProvider;
use crate::settings::{ImapSettings, specs};
use crate::url::ImapUrl;

/// Registers `imaps://` (TLS from the first byte).
#[derive(Debug, Clone, Copy)]
pub struct ImapsFactory;

/// Registers `imap://` (upgraded with STARTTLS unless `no_starttls`).
#[derive(Debug, Clone, Copy)]
pub struct ImapFactory;

fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

fn info(scheme: &str, example: &str, extra: &str) -> ProviderInfo {
    ProviderInfo::new(
        scheme,
        &format!(
            "IMAP mail{extra}: every mailbox and every message byte for byte (.eml), with flags, dates and UIDs; \
             never marks anything read"
        ),
        example,
        specs(),
    )
    .with_example(&format!("{scheme}://jane%40example.com@mail.example.com/Archives"))
}

/// `imaps://USER@HOST[/FOLDER]`, archived as `imap-USER-HOST`.
fn describe(scheme: &str, url: &str, settings: Settings) -> Result<SourceSpec> {
    let parsed = ImapUrl::parse(url)?;
    if parsed.implicit_tls != (scheme == "imaps") {
        return Err(Error::new(ErrorKind::InvalidInput, format!("'{url}' is not an {scheme}:// source")));
    }
    ImapSettings::of(&settings, &process_env)?;
    let user = settings.text("user").map(str::to_owned).or(parsed.user.clone()).unwrap_or_default();
    let mut id = format!("imap-{}", slug(&format!("{user} {}", parsed.host)));
    if let Some(folder) = &parsed.folder {
        id = format!("{id}-{}", slug(folder));
    }
    Ok(SourceSpec::new(scheme, url, id, settings))
}

fn open(source: &SourceSpec) -> Result<Arc<dyn Provider>> {
    let url = ImapUrl::parse(&source.url)?;
    let settings = ImapSettings::of(&source.settings, &process_env)?;
    let folder = url.folder.clone();
    let connector = Connector::new(url, &settings)?;
    let pool = Pool::new(connector, settings.max_connections);
    Ok(Arc::new(ImapProvider::new(pool, folder, settings.max_connections)))
}

#[async_trait]
impl ProviderFactory for ImapsFactory {
    fn info(&self) -> ProviderInfo {
        info("imaps", "imaps://jane@mail.example.com", "")
    }

    fn source(&self, url: &str, settings: Settings) -> Result<SourceSpec> {
        describe("imaps", url, settings)
    }

    fn open(&self, source: &SourceSpec, _context: &Context) -> Result<Arc<dyn Provider>> {
        open(source)
    }
}

#[async_trait]
impl ProviderFactory for ImapFactory {
    fn info(&self) -> ProviderInfo {
        info("imap", "imap://jane@mail.example.com", " (STARTTLS)")
    }

    fn source(&self, url: &str, settings: Settings) -> Result<SourceSpec> {
        describe("imap", url, settings)
    }

    fn open(&self, source: &SourceSpec, _context: &Context) -> Result<Arc<dyn Provider>> {
        open(source)
    }
}
