//! The factories: `webdav://[USER@]HOST[:PORT][/PATH]` (plain HTTP), `webdavs://…` (TLS),
//! and `nextcloud://USER@HOST[:PORT][/PATH]`, whose files live under the user's
//! `remote.php/dav/files/USER/` root (Nextcloud and ownCloud), over TLS.

use std::sync::Arc;

use async_trait::async_trait;
use reqwest::Url;
use sortie_sdk::provider::Provider;
use sortie_sdk::registry::{Context, ProviderFactory, ProviderInfo};
use sortie_sdk::settings::Settings;
use sortie_sdk::source::{SourceSpec, slug};
use sortie_sdk::{Error, ErrorKind, Result};

use crate::client::{Auth, Client};
use crate::provider::DavProvider;
use crate::settings::{DavSettings, Env, specs};

/// Opens `webdav://` sources: a WebDAV server over plain HTTP.
#[derive(Debug)]
pub struct WebDavFactory;

/// Opens `webdavs://` sources: a WebDAV server over HTTPS.
#[derive(Debug)]
pub struct WebDavsFactory;

/// Opens `nextcloud://` sources: a Nextcloud or ownCloud user's files.
#[derive(Debug)]
pub struct NextcloudFactory;

/// Which of the three schemes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    WebDav,
    WebDavs,
    Nextcloud,
}

impl Flavor {
    fn scheme(self) -> &'static str {
        match self {
            Flavor::WebDav => "webdav",
            Flavor::WebDavs => "webdavs",
            Flavor::Nextcloud => "nextcloud",
        }
    }

    fn info(self) -> ProviderInfo {
        match self {
            Flavor::WebDav => ProviderInfo::new(
                "webdav",
                "A WebDAV server over plain HTTP: every file and directory, with ETags, dates and dead properties",
                "webdav://alice@files.example.net:8080/Documents",
                specs(),
            ),
            Flavor::WebDavs => ProviderInfo::new(
                "webdavs",
                "A WebDAV server over HTTPS: every file and directory, with ETags, dates and dead properties",
                "webdavs://alice@files.example.net/dav/Documents",
                specs(),
            ),
            Flavor::Nextcloud => ProviderInfo::new(
                "nextcloud",
                "A Nextcloud or ownCloud user's files, checksums checked, favourites and shares recorded",
                "nextcloud://alice@cloud.example.net/Photos",
                specs(),
            )
            .with_example("nextcloud://alice@cloud.example.net"),
        }
    }
}

fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

macro_rules! factory {
    ($name:ident, $flavor:expr) => {
        #[async_trait]
        impl ProviderFactory for $name {
            fn info(&self) -> ProviderInfo {
                $flavor.info()
            }

            fn source(&self, url: &str, settings: Settings) -> Result<SourceSpec> {
                describe($flavor, url, settings)
            }

            fn open(&self, source: &SourceSpec, _context: &Context) -> Result<Arc<dyn Provider>> {
                Ok(Arc::new(open($flavor, source, &process_env)?))
            }
        }
    };
}

factory!(WebDavFactory, Flavor::WebDav);
factory!(WebDavsFactory, Flavor::WebDavs);
factory!(NextcloudFactory, Flavor::Nextcloud);

/// What a source URL names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DavUrl {
    pub flavor: Flavor,
    pub user: Option<String>,
    /// `HOST[:PORT]`.
    pub authority: String,
    /// The path under the root, percent-encoded, without leading or trailing `/`.
    pub path: String,
}

impl DavUrl {
    /// As the user would write it.
    fn shown(&self) -> String {
        let user = self.user.as_ref().map_or(String::new(), |u| format!("{u}@"));
        let path = if self.path.is_empty() { String::new() } else { format!("/{}", self.path) };
        format!("{}://{user}{}{path}", self.flavor.scheme(), self.authority)
    }

    /// The collection to export, with a trailing `/`: for Nextcloud, under the files root of
    /// `user`.
    pub fn root(&self, user: Option<&str>) -> Result<Url> {
        let scheme = if self.flavor == Flavor::WebDav { "http" } else { "https" };
        let mut text = format!("{scheme}://{}/", self.authority);
        if self.flavor == Flavor::Nextcloud {
            let Some(user) = user else {
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    format!(
                        "{} names no user: write nextcloud://USER@{}/…, or --set user=USER",
                        self.shown(),
                        self.authority
                    ),
                ));
            };
            let user: String = percent_encoding::utf8_percent_encode(user, SEGMENT).collect();
            text.push_str(&format!("remote.php/dav/files/{user}/"));
        }
        if !self.path.is_empty() {
            text.push_str(&self.path);
            text.push('/');
        }
        Url::parse(&text)
            .map_err(|e| Error::new(ErrorKind::InvalidInput, format!("{} is not a valid URL: {e}", self.shown())))
    }
}

/// What a path segment must have encoded.
pub const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'!')
    .remove(b'$')
    .remove(b'&')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b'+')
    .remove(b',')
    .remove(b';')
    .remove(b'=')
    .remove(b':')
    .remove(b'@');

fn describe(flavor: Flavor, url: &str, settings: Settings) -> Result<SourceSpec> {
    let parsed = parse(flavor, url)?;
    let place = format!("{}/{}", parsed.authority, parsed.path);
    let id = match (flavor, &parsed.user) {
        (Flavor::Nextcloud, Some(user)) => format!("nextcloud-{}", slug(&format!("{user}-{}", parsed.path))),
        _ => format!("{}-{}", flavor.scheme(), slug(&place)),
    };
    Ok(SourceSpec::new(flavor.scheme(), parsed.shown(), id.trim_end_matches('-'), settings))
}

fn open(flavor: Flavor, source: &SourceSpec, env: Env<'_>) -> Result<DavProvider> {
    let url = parse(flavor, &source.url)?;
    let settings = DavSettings::read(&source.settings, env)?;
    let user = settings.user.clone().or_else(|| url.user.clone());
    let root = url.root(user.as_deref())?;
    let auth = match (&settings.token, &user, &settings.password) {
        (Some(token), _, _) => Auth::Bearer(token.clone()),
        (None, Some(user), Some(password)) => Auth::Basic { user: user.clone(), password: password.clone() },
        (None, Some(user), None) => {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "no password for user '{user}' at {}: set WEBDAV_PASSWORD (or NEXTCLOUD_PASSWORD), or give a \
                     bearer token with WEBDAV_TOKEN",
                    url.authority
                ),
            ));
        }
        (None, None, _) => Auth::Anonymous,
    };
    let client = Client::new(root, auth, user, settings.ca_bundle.as_deref())?;
    Ok(DavProvider::new(client, flavor, &settings))
}

const EXAMPLES: &str = "write SCHEME://[USER@]HOST[:PORT][/PATH], e.g. webdav://alice@127.0.0.1:8080/dav, \
                        webdavs://files.example.net/Documents or nextcloud://alice@cloud.example.net/Photos";

/// Parses a source. A password never belongs in the URL: one that carries some is refused
/// without being repeated.
fn parse(flavor: Flavor, source: &str) -> Result<DavUrl> {
    let invalid = |why: String| Error::new(ErrorKind::InvalidInput, why);
    let prefix = format!("{}://", flavor.scheme());
    let rest = source
        .get(..prefix.len())
        .filter(|s| s.eq_ignore_ascii_case(&prefix))
        .map(|_| &source[prefix.len()..])
        .ok_or_else(|| invalid(format!("'{source}' is not a {prefix} URL: {EXAMPLES}")))?;
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let (user, host) = match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            if userinfo.contains(':') {
                return Err(invalid(format!(
                    "a {prefix} URL must not carry a password: give it with WEBDAV_PASSWORD or --set password=… \
                     (the URL is shown in reports and logs)"
                )));
            }
            let user = percent_encoding::percent_decode_str(userinfo).decode_utf8_lossy().into_owned();
            (Some(user), host)
        }
        None => (None, authority),
    };
    if host.is_empty() || host.contains(['?', '#', ' ']) {
        return Err(invalid(format!("'{source}' names no valid host: {EXAMPLES}")));
    }
    if path.contains(['?', '#']) {
        return Err(invalid(format!(
            "'{source}': write '?' as %3F and '#' as %23 in a path (the URL's path is percent-encoded)"
        )));
    }
    if flavor == Flavor::Nextcloud && user.is_none() {
        return Err(invalid(format!("'{source}' names no user: write nextcloud://USER@HOST[/PATH]")));
    }
    let path: String = path.trim_matches('/').to_owned();
    let url = DavUrl { flavor, user, authority: host.to_ascii_lowercase(), path };
    url.root(url.user.as_deref())?;
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_the_collection_to_export() {
        let url = parse(Flavor::WebDav, "webdav://alice@127.0.0.1:8080/dav/a%20b/").unwrap();
        assert_eq!(url.shown(), "webdav://alice@127.0.0.1:8080/dav/a%20b");
        assert_eq!(url.root(Some("alice")).unwrap().as_str(), "http://127.0.0.1:8080/dav/a%20b/");
        let url = parse(Flavor::WebDavs, "WEBDAVS://Files.Example.net").unwrap();
        assert_eq!(url.root(None).unwrap().as_str(), "https://files.example.net/");
        let cloud = parse(Flavor::Nextcloud, "nextcloud://al%20ice@cloud.example.net/Photos/été").unwrap();
        assert_eq!(
            cloud.root(Some("al ice")).unwrap().as_str(),
            "https://cloud.example.net/remote.php/dav/files/al%20ice/Photos/%C3%A9t%C3%A9/"
        );
        let spec = describe(Flavor::Nextcloud, "nextcloud://alice@cloud.example.net/Photos", Settings::new()).unwrap();
        assert_eq!(
            (spec.url.as_str(), spec.id.as_str()),
            ("nextcloud://alice@cloud.example.net/Photos", "nextcloud-alice-photos")
        );
        let spec = describe(Flavor::WebDav, "webdav://127.0.0.1:8080", Settings::new()).unwrap();
        assert_eq!(spec.id, "webdav-127.0.0.1-8080");
    }

    #[test]
    fn bad_urls_are_refused_with_the_way_to_write_them() {
        let error = parse(Flavor::WebDav, "webdav://alice:hunter2@h/dav").unwrap_err().to_string();
        assert!(error.contains("must not carry a password") && !error.contains("hunter2"), "{error}");
        assert!(parse(Flavor::WebDav, "s3://bucket").unwrap_err().to_string().contains("is not a webdav:// URL"));
        assert!(
            parse(Flavor::Nextcloud, "nextcloud://cloud.example.net")
                .unwrap_err()
                .to_string()
                .contains("names no user")
        );
        assert!(parse(Flavor::WebDav, "webdav://h/a?b").unwrap_err().to_string().contains("%3F"));
        assert!(parse(Flavor::WebDav, "webdav:///dav").is_err());
    }
}
