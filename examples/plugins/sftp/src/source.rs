//! The factory: `sftp://user@host[:port]/path` sources.

use std::sync::Arc;

use sortie_sdk::Result;
use sortie_sdk::provider::Provider;
use sortie_sdk::registry::{Context, ProviderFactory, ProviderInfo};
use sortie_sdk::settings::Settings;
use sortie_sdk::source::{SourceSpec, slug};

use crate::provider::SftpProvider;
use crate::settings::{SftpSettings, Target, specs};

/// Opens `sftp://` sources.
#[derive(Debug)]
pub struct SftpFactory;

impl ProviderFactory for SftpFactory {
    fn info(&self) -> ProviderInfo {
        ProviderInfo::new(
            "sftp",
            "a directory tree on an SFTP server (files, empty directories; symlinks recorded, not followed; host key checked against known_hosts)",
            "sftp://alice@files.example.org/srv/export",
            specs(),
        )
    }

    fn source(&self, url: &str, settings: Settings) -> Result<SourceSpec> {
        let target = Target::parse(url)?;
        let name = target.path.rsplit(|&b| b == b'/').find(|s| !s.is_empty()).unwrap_or_default();
        let name = slug(&String::from_utf8_lossy(name));
        let host = slug(&target.host);
        let id = if name.is_empty() { format!("sftp-{host}") } else { format!("sftp-{host}-{name}") };
        Ok(SourceSpec::new("sftp", target.url(), id, settings))
    }

    fn open(&self, source: &SourceSpec, _context: &Context) -> Result<Arc<dyn Provider>> {
        Ok(Arc::new(SftpProvider::new(SftpSettings::of(source)?)))
    }
}
