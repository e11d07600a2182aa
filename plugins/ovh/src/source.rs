//! The factory: `ovh://` (every section, one source each) or `ovh://SECTION`; settings read
//! as the official clients read them; one client per set of credentials in the process, so
//! that the sources of a run share its clock correction, its token and its rate limit.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use async_trait::async_trait;
use sha1::{Digest, Sha1};
use sortie_sdk::provider::Provider;
use sortie_sdk::registry::{Context, ProviderFactory, ProviderInfo};
use sortie_sdk::settings::Settings;
use sortie_sdk::source::SourceSpec;
use sortie_sdk::{Error, ErrorKind, Result};

use crate::client::Client;
use crate::provider::OvhProvider;
use crate::sections::{SECTIONS, Section, section};
use crate::settings::{Conf, Credentials, Env, OvhSettings, conf_files, specs};
use crate::storage;

/// Opens `ovh://` sources: the OVHcloud API.
#[derive(Debug)]
pub struct OvhFactory;

fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

#[async_trait]
impl ProviderFactory for OvhFactory {
    fn info(&self) -> ProviderInfo {
        ProviderInfo::new(
            "ovh",
            "The OVHcloud API: domains (transfer codes on request), DNS zones as BIND files, bills and contracts \
             with their PDFs, services, hosting, mail, Public Cloud, IPs, VPS, dedicated servers, logs",
            "ovh://",
            specs(),
        )
        .with_example("ovh://domains")
    }

    fn source(&self, url: &str, settings: Settings) -> Result<SourceSpec> {
        match parse(url)? {
            None => Ok(SourceSpec::new("ovh", "ovh://", "ovh", settings)),
            Some(section) => Ok(spec(section, settings)),
        }
    }

    /// `ovh://` is every section; it and `ovh://cloud` bring the Public Cloud projects'
    /// object storage as `s3://` sources (see `storage`) unless `object_storage=false`.
    async fn resolve(&self, source: &SourceSpec, context: &Context) -> Result<Vec<SourceSpec>> {
        let mut sources = match parse(&source.url)? {
            None => SECTIONS.iter().map(|section| spec(section, source.settings.clone())).collect(),
            Some(section) if section.name == "cloud" => vec![source.clone()],
            Some(_) => return Ok(vec![source.clone()]),
        };
        let client = client(&source.settings, &process_env, context)?;
        if client.settings.object_storage {
            sources.extend(storage::sources(&client).await?);
        }
        Ok(sources)
    }

    fn open(&self, source: &SourceSpec, context: &Context) -> Result<Arc<dyn Provider>> {
        let Some(section) = parse(&source.url)? else {
            return Err(Error::new(ErrorKind::InvalidInput, "ovh:// is opened one section at a time, once resolved"));
        };
        let client = client(&source.settings, &process_env, context)?;
        Ok(Arc::new(OvhProvider { client, section }))
    }
}

fn spec(section: &Section, settings: Settings) -> SourceSpec {
    SourceSpec::new("ovh", format!("ovh://{}", section.name), format!("ovh-{}", section.name), settings)
}

/// `None` for the whole account, else the section named.
fn parse(url: &str) -> Result<Option<&'static Section>> {
    let rest = url.strip_prefix("ovh://").or_else(|| url.strip_prefix("ovh:")).unwrap_or(url);
    let name = rest.trim_matches('/');
    if name.is_empty() {
        return Ok(None);
    }
    section(name).map(Some).ok_or_else(|| {
        let names: Vec<&str> = SECTIONS.iter().map(|s| s.name).collect();
        Error::new(
            ErrorKind::InvalidInput,
            format!(
                "'{url}' names no part of the OVH API: write ovh:// (everything) or ovh://SECTION, one of {}",
                names.join(", ")
            ),
        )
    })
}

/// The client of these settings' credentials, made once per process.
fn client(settings: &Settings, env: Env<'_>, context: &Context) -> Result<Arc<Client>> {
    let conf = Conf::read(&conf_files(env))?;
    let settings = OvhSettings::read(settings, env, &conf)?;
    let mut key = Sha1::new();
    key.update(format!("{} {:?} {} {}\n", settings.base, settings.rate, settings.transfer_codes, settings.fresh_dumps));
    match &settings.credentials {
        Credentials::Signed { application_key, application_secret, consumer_key } => {
            for part in [application_key.as_str(), application_secret.expose(), consumer_key.expose()] {
                key.update(part);
                key.update("\n");
            }
        }
        Credentials::OAuth2 { client_id, client_secret, token_url } => {
            for part in [client_id.as_str(), client_secret.expose(), token_url.as_str()] {
                key.update(part);
                key.update("\n");
            }
        }
    }
    let key = hex::encode(key.finalize());
    static CLIENTS: OnceLock<Mutex<HashMap<String, Arc<Client>>>> = OnceLock::new();
    let mut clients = CLIENTS.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
    if let Some(client) = clients.get(&key) {
        return Ok(client.clone());
    }
    let client = Arc::new(Client::new(settings, context.retry)?);
    clients.insert(key, client.clone());
    Ok(client)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_account_resolves_into_one_source_per_section() {
        let mut settings = Settings::new();
        settings.set(OvhFactory.info().setting("object_storage").unwrap(), "false").unwrap();
        for (name, value) in [
            ("endpoint", "http://127.0.0.1:9/1.0"),
            ("application_key", "ak"),
            ("application_secret", "as"),
            ("consumer_key", "ck"),
        ] {
            settings.set(OvhFactory.info().setting(name).unwrap(), value).unwrap();
        }
        let all = OvhFactory.source("ovh://", settings).unwrap();
        assert_eq!((all.url.as_str(), all.id.as_str()), ("ovh://", "ovh"));
        let sources = OvhFactory.resolve(&all, &Context::default()).await.unwrap();
        let ids: Vec<&str> = sources.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(&ids[..3], ["ovh-domains", "ovh-dns", "ovh-billing"]);
        assert_eq!(sources.len(), SECTIONS.len());
        let dns = OvhFactory.source("ovh://dns/", Settings::new()).unwrap();
        assert_eq!((dns.url.as_str(), dns.id.as_str()), ("ovh://dns", "ovh-dns"));
        assert_eq!(OvhFactory.resolve(&dns, &Context::default()).await.unwrap(), [dns]);
        let error = OvhFactory.source("ovh://bils", Settings::new()).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidInput);
        assert!(error.to_string().contains("one of domains, dns, billing"), "{error}");
    }
}
