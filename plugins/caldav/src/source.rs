//! The factories: `caldav://[USER@]HOST[:PORT][/PATH]` and `carddav://…`, one source per
//! URL, archived as a vdir: `data/SOURCE/COLLECTION/RESOURCE.ics` (or `.vcf`).

use std::sync::Arc;

use sortie_sdk::provider::Provider;
use sortie_sdk::registry::{Context, ProviderFactory, ProviderInfo};
use sortie_sdk::settings::Settings;
use sortie_sdk::source::{SourceSpec, slug};
use sortie_sdk::{Error, ErrorKind, Result};

use crate::client::Client;
use crate::flavor::Flavor;
use crate::provider::DavProvider;
use crate::settings::{Connection, specs};
use crate::url::DavUrl;

/// Opens `caldav://` sources: every calendar (events, tasks) of an account.
#[derive(Debug)]
pub struct CalDavFactory;

/// Opens `carddav://` sources: every address book of an account.
#[derive(Debug)]
pub struct CardDavFactory;

fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

impl ProviderFactory for CalDavFactory {
    fn info(&self) -> ProviderInfo {
        ProviderInfo::new(
            "caldav",
            "CalDAV calendars (Radicale, Nextcloud, Xandikos…): every calendar and task list, one .ics file per \
             resource as served, and each calendar's properties",
            "caldav://alice@dav.example.com",
            specs(),
        )
        .with_example("caldav://alice@cloud.example.com/remote.php/dav/calendars/alice/personal/")
    }

    fn source(&self, url: &str, settings: Settings) -> Result<SourceSpec> {
        describe(Flavor::Calendars, url, settings)
    }

    fn open(&self, source: &SourceSpec, _context: &Context) -> Result<Arc<dyn Provider>> {
        open(Flavor::Calendars, source)
    }
}

impl ProviderFactory for CardDavFactory {
    fn info(&self) -> ProviderInfo {
        ProviderInfo::new(
            "carddav",
            "CardDAV address books (Radicale, Nextcloud, Xandikos…): every address book, one .vcf file per \
             contact as served, and each address book's properties",
            "carddav://alice@dav.example.com",
            specs(),
        )
        .with_example("carddav://alice@cloud.example.com/remote.php/dav")
    }

    fn source(&self, url: &str, settings: Settings) -> Result<SourceSpec> {
        describe(Flavor::AddressBooks, url, settings)
    }

    fn open(&self, source: &SourceSpec, _context: &Context) -> Result<Arc<dyn Provider>> {
        open(Flavor::AddressBooks, source)
    }
}

/// `caldav://USER@HOST/PATH`, archived as `caldav-USER-HOST-PATH`.
fn describe(flavor: Flavor, url: &str, settings: Settings) -> Result<SourceSpec> {
    let url = DavUrl::parse(flavor.scheme(), url)?;
    Connection::of(&url, &settings, &process_env)?;
    let shown = url.shown();
    let id = format!("{}-{}", flavor.scheme(), slug(&shown[flavor.scheme().len() + 3..]));
    let id = if id.ends_with('-') { flavor.scheme().to_owned() } else { id };
    Ok(SourceSpec::new(flavor.scheme(), shown, id, settings))
}

fn open(flavor: Flavor, source: &SourceSpec) -> Result<Arc<dyn Provider>> {
    if source.scheme != flavor.scheme() {
        return Err(Error::new(ErrorKind::InvalidInput, format!("{} is not a {} source", source.url, flavor.scheme())));
    }
    let url = DavUrl::parse(flavor.scheme(), &source.url)?;
    let client = Client::new(Connection::of(&url, &source.settings, &process_env)?)?;
    Ok(Arc::new(DavProvider::new(client, flavor, url.path)))
}
