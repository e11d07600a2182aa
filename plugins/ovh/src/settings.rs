//! What `ovh://` takes: the settings schema, and one source's settings read into
//! [`OvhSettings`] the way the official clients (python-ovh, go-ovh) find them — the
//! setting given to the source, else the `OVH_*` environment variable, else `ovh.conf`
//! (`./ovh.conf` over `~/.ovh.conf` over `/etc/ovh.conf`, `[default] endpoint=` and one
//! section per endpoint holding its keys).

use std::collections::BTreeMap;
use std::path::PathBuf;

use sortie_sdk::settings::{Secret, SettingSpec, Settings};
use sortie_sdk::{Error, ErrorKind, Result};

/// The environment, read through a function so that tests need not change the process's.
pub type Env<'a> = &'a (dyn Fn(&str) -> Option<String> + Sync);

/// The endpoints the official clients know by name: API base URL, OAuth2 token URL.
pub const ENDPOINTS: &[(&str, &str, Option<&str>)] = &[
    ("ovh-eu", "https://eu.api.ovh.com/1.0", Some("https://www.ovh.com/auth/oauth2/token")),
    ("ovh-ca", "https://ca.api.ovh.com/1.0", Some("https://ca.ovh.com/auth/oauth2/token")),
    ("ovh-us", "https://api.us.ovhcloud.com/1.0", Some("https://us.ovhcloud.com/auth/oauth2/token")),
    ("kimsufi-eu", "https://eu.api.kimsufi.com/1.0", None),
    ("kimsufi-ca", "https://ca.api.kimsufi.com/1.0", None),
    ("soyoustart-eu", "https://eu.api.soyoustart.com/1.0", None),
    ("soyoustart-ca", "https://ca.api.soyoustart.com/1.0", None),
];

/// The settings schema.
pub fn specs() -> Vec<SettingSpec> {
    vec![
        SettingSpec::text(
            "endpoint",
            "The API: ovh-eu, ovh-ca, ovh-us, kimsufi-eu, kimsufi-ca, soyoustart-eu, soyoustart-ca, or the URL of \
             an API root (https://eu.api.ovh.com/1.0); else ovh.conf's [default] endpoint.",
        )
        .env(&["OVH_ENDPOINT"]),
        SettingSpec::text("application_key", "The application key of signed requests (else ovh.conf).")
            .env(&["OVH_APPLICATION_KEY"]),
        SettingSpec::text("application_secret", "The application secret of signed requests (else ovh.conf).")
            .secret()
            .env(&["OVH_APPLICATION_SECRET"]),
        SettingSpec::text(
            "consumer_key",
            "The consumer key of signed requests, validated by the account (`sortie ovh credential` asks for one).",
        )
        .secret()
        .env(&["OVH_CONSUMER_KEY"]),
        SettingSpec::text("client_id", "An OAuth2 service account's client id, instead of signed keys.")
            .env(&["OVH_CLIENT_ID"]),
        SettingSpec::text("client_secret", "The OAuth2 service account's client secret.")
            .secret()
            .env(&["OVH_CLIENT_SECRET"]),
        SettingSpec::text(
            "token_url",
            "The OAuth2 token URL (default: the endpoint's, e.g. https://www.ovh.com/auth/oauth2/token; for an \
             endpoint given as a URL, /auth/oauth2/token on its host).",
        ),
        SettingSpec::integer(
            "rate",
            "The most API requests per second, shared by every ovh:// source with the same keys (0: no limit). \
             429 and 5xx answers are retried with backoff besides.",
        )
        .default_value(1),
        SettingSpec::bool(
            "transfer_codes",
            "Also export each domain's transfer code (/domain/{d}/authInfo), a secret that lets anyone move the \
             domain away: the archive must then be kept as such. Without it the codes are excluded, and the \
             report says so.",
        ),
        SettingSpec::bool(
            "dumps",
            "Make a fresh dump of every database (web hostings' and private SQL servers') and a PST export of \
             every Exchange mailbox, and archive them: the export starts each (POST …/dump, …/export), waits \
             for its task and downloads it. false: only the dumps already there are archived.",
        )
        .default_value(true),
        SettingSpec::bool(
            "object_storage",
            "Also export the object storage of every Public Cloud project (ovh:// and ovh://cloud): its S3 \
             credentials are read through the API (the secret by POST …/s3Credentials/{access}/secret) and \
             handed in memory to s3:// sources, one per container. false: only the projects' records.",
        )
        .default_value(true),
    ]
}

/// How the requests are authenticated.
#[derive(Debug, Clone, PartialEq)]
pub enum Credentials {
    /// Signed requests: application key and secret, consumer key.
    Signed { application_key: String, application_secret: Secret, consumer_key: Secret },
    /// An OAuth2 service account (client credentials grant).
    OAuth2 { client_id: String, client_secret: Secret, token_url: String },
}

/// One source's settings, typed, the environment and `ovh.conf` applied.
#[derive(Debug, Clone)]
pub struct OvhSettings {
    /// As the user named it (`ovh-eu`, or the URL), for messages.
    pub endpoint_name: String,
    /// The API root, without a trailing `/` (`https://eu.api.ovh.com/1.0`).
    pub base: String,
    pub credentials: Credentials,
    /// Requests per second, `None` for no limit.
    pub rate: Option<u32>,
    pub transfer_codes: bool,
    pub fresh_dumps: bool,
    pub object_storage: bool,
}

/// The `ovh.conf` files, lowest precedence first, as python-ovh reads them.
pub fn conf_files(env: Env<'_>) -> Vec<PathBuf> {
    let mut files = vec![PathBuf::from("/etc/ovh.conf")];
    if let Some(home) = env("HOME").filter(|h| !h.is_empty()) {
        files.push(PathBuf::from(home).join(".ovh.conf"));
    }
    files.push(PathBuf::from("ovh.conf"));
    files
}

/// `ovh.conf` read: section → key → value, later files over earlier ones.
#[derive(Debug, Default)]
pub struct Conf(BTreeMap<String, BTreeMap<String, String>>);

impl Conf {
    /// Reads every file that exists; one that exists but cannot be read is an error.
    pub fn read(files: &[PathBuf]) -> Result<Self> {
        let mut conf = Conf::default();
        for file in files {
            match std::fs::read_to_string(file) {
                Ok(text) => conf.merge(&text),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io(format!("cannot read {}", file.display()), &e)),
            }
        }
        Ok(conf)
    }

    /// Adds an INI text as Python's `RawConfigParser` reads it: `[section]`, `key = value`
    /// or `key: value`, `;` and `#` comment lines, keys case-insensitive.
    pub fn merge(&mut self, text: &str) {
        let mut section: Option<String> = None;
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with(';') || line.starts_with('#') {
                continue;
            }
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                section = Some(name.trim().to_owned());
                continue;
            }
            let (Some(section), Some(at)) = (&section, line.find(['=', ':'])) else { continue };
            let (key, value) = (line[..at].trim().to_ascii_lowercase(), line[at + 1..].trim().to_owned());
            self.0.entry(section.clone()).or_default().insert(key, value);
        }
    }

    /// The value of `key` in `section`, when given and not empty.
    pub fn value(&self, section: &str, key: &str) -> Option<String> {
        self.0.get(section)?.get(key).filter(|v| !v.is_empty()).cloned()
    }
}

impl OvhSettings {
    /// Reads the values given to a source, then the environment, then `conf`.
    pub fn read(settings: &Settings, env: Env<'_>, conf: &Conf) -> Result<Self> {
        let given = |name: &str| {
            settings
                .text(name)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
                .or_else(|| env(&format!("OVH_{}", name.to_ascii_uppercase())).filter(|v| !v.is_empty()))
        };
        let endpoint_name = given("endpoint").or_else(|| conf.value("default", "endpoint")).ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "no OVH endpoint given: set OVH_ENDPOINT (or --set ovh.endpoint=…, or [default] endpoint= in \
                     ovh.conf) to one of {} or to an API URL",
                    names()
                ),
            )
        })?;
        let (base, default_token_url) = endpoint(&endpoint_name)?;
        let key = |name: &str| given(name).or_else(|| conf.value(&endpoint_name, name));
        let credentials = match (key("client_id"), key("application_key")) {
            (Some(client_id), _) => {
                let client_secret = key("client_secret").ok_or_else(|| {
                    missing(&format!("the client secret of OAuth2 client '{client_id}'"), "client_secret")
                })?;
                let token_url = given("token_url").or(default_token_url).ok_or_else(|| {
                    Error::new(
                        ErrorKind::InvalidInput,
                        format!(
                            "endpoint {endpoint_name} has no OAuth2 token URL: give it with --set ovh.token_url=URL"
                        ),
                    )
                })?;
                Credentials::OAuth2 { client_id, client_secret: Secret::new(client_secret), token_url }
            }
            (None, Some(application_key)) => {
                let secret = key("application_secret").ok_or_else(|| {
                    missing(
                        &format!("the application secret of application key '{application_key}'"),
                        "application_secret",
                    )
                })?;
                let consumer = key("consumer_key").ok_or_else(|| {
                    Error::new(
                        ErrorKind::InvalidInput,
                        format!(
                            "no consumer key given for application key '{application_key}': ask for one with \
                             `sortie ovh credential`, have the account validate it, then set OVH_CONSUMER_KEY \
                             (or consumer_key= in the [{endpoint_name}] section of ovh.conf)"
                        ),
                    )
                })?;
                Credentials::Signed {
                    application_key,
                    application_secret: Secret::new(secret),
                    consumer_key: Secret::new(consumer),
                }
            }
            (None, None) => {
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    format!(
                        "no OVH credentials given for {endpoint_name}: set OVH_APPLICATION_KEY, \
                         OVH_APPLICATION_SECRET and OVH_CONSUMER_KEY (signed keys), or OVH_CLIENT_ID and \
                         OVH_CLIENT_SECRET (an OAuth2 service account), or write them in the [{endpoint_name}] \
                         section of ovh.conf"
                    ),
                ));
            }
        };
        let rate = settings.integer("rate").unwrap_or(1);
        Ok(Self {
            endpoint_name,
            base,
            credentials,
            rate: (rate > 0).then(|| u32::try_from(rate).unwrap_or(u32::MAX)),
            transfer_codes: settings.is_on("transfer_codes"),
            fresh_dumps: !settings.contains("dumps") || settings.is_on("dumps"),
            object_storage: !settings.contains("object_storage") || settings.is_on("object_storage"),
        })
    }

    /// Who the requests are made as, for messages: never a secret.
    pub fn who(&self) -> String {
        match &self.credentials {
            Credentials::Signed { application_key, .. } => {
                format!("application key '{application_key}' at {}", self.endpoint_name)
            }
            Credentials::OAuth2 { client_id, .. } => format!("OAuth2 client '{client_id}' at {}", self.endpoint_name),
        }
    }
}

fn missing(what: &str, key: &str) -> Error {
    Error::new(
        ErrorKind::InvalidInput,
        format!("{what} is not given: set OVH_{} (or {key}= in ovh.conf)", key.to_ascii_uppercase()),
    )
}

fn names() -> String {
    ENDPOINTS.iter().map(|(name, _, _)| *name).collect::<Vec<_>>().join(", ")
}

/// An endpoint's API root and default token URL, from its name or its URL.
pub fn endpoint(name: &str) -> Result<(String, Option<String>)> {
    if let Some((_, base, token)) = ENDPOINTS.iter().find(|(n, _, _)| *n == name) {
        return Ok(((*base).to_owned(), token.map(str::to_owned)));
    }
    if name.starts_with("https://") || name.starts_with("http://") {
        let url = reqwest::Url::parse(name).map_err(|e| {
            Error::new(
                ErrorKind::InvalidInput,
                format!("endpoint '{}' is not a URL: {e}", sortie_http::redact_userinfo(name)),
            )
        })?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "endpoint {} has user info: give the keys in OVH_APPLICATION_KEY… or ovh.conf, not in the URL",
                    sortie_http::redact_userinfo(name)
                ),
            ));
        }
        let token = format!("{}/auth/oauth2/token", url.origin().ascii_serialization());
        return Ok((name.trim_end_matches('/').to_owned(), Some(token)));
    }
    Err(Error::new(
        ErrorKind::InvalidInput,
        format!("'{name}' is no OVH endpoint: use one of {}, or the URL of an API root", names()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str) -> SettingSpec {
        specs().into_iter().find(|s| s.name == name).unwrap()
    }

    #[test]
    fn settings_then_environment_then_conf_as_the_official_clients() {
        let mut conf = Conf::default();
        conf.merge("[default]\nendpoint = ovh-ca\n; a comment\n[ovh-ca]\napplication_key=conf-ak\napplication_secret: conf-as\nconsumer_key=conf-ck\n");
        let env = |name: &str| (name == "OVH_CONSUMER_KEY").then(|| "env-ck".to_owned());
        let read = OvhSettings::read(&Settings::new(), &env, &conf).unwrap();
        assert_eq!(read.base, "https://ca.api.ovh.com/1.0");
        assert_eq!(
            read.credentials,
            Credentials::Signed {
                application_key: "conf-ak".into(),
                application_secret: Secret::new("conf-as"),
                consumer_key: Secret::new("env-ck")
            }
        );
        assert_eq!(read.rate, Some(1));
        let mut settings = Settings::new();
        settings.set(&spec("endpoint"), "ovh-eu").unwrap();
        settings.set(&spec("rate"), "0").unwrap();
        // The [ovh-eu] section has no keys: the ones of [ovh-ca] are not taken.
        let error = OvhSettings::read(&settings, &env, &conf).unwrap_err().to_string();
        assert!(error.starts_with("no OVH credentials given for ovh-eu"), "{error}");
        settings.set(&spec("application_key"), "ak").unwrap();
        settings.set(&spec("application_secret"), "as-secret").unwrap();
        let read = OvhSettings::read(&settings, &env, &conf).unwrap();
        assert_eq!((read.rate, read.who()), (None, "application key 'ak' at ovh-eu".to_owned()));
        assert!(!format!("{read:?}").contains("as-secret"));
    }

    #[test]
    fn bad_endpoints_and_missing_keys_are_named_without_secrets() {
        assert!(endpoint("ovh-mars").unwrap_err().to_string().contains("use one of ovh-eu, ovh-ca, ovh-us"));
        let error = endpoint("https://ak:sekrit@eu.api.ovh.com/1.0").unwrap_err().to_string();
        assert!(!error.contains("sekrit"), "{error}");
        assert_eq!(
            endpoint("http://127.0.0.1:9/1.0/").unwrap(),
            ("http://127.0.0.1:9/1.0".to_owned(), Some("http://127.0.0.1:9/auth/oauth2/token".to_owned()))
        );
        let env = |name: &str| match name {
            "OVH_ENDPOINT" => Some("ovh-eu".to_owned()),
            "OVH_APPLICATION_KEY" => Some("my-ak".to_owned()),
            "OVH_APPLICATION_SECRET" => Some("my-secret".to_owned()),
            _ => None,
        };
        let error = OvhSettings::read(&Settings::new(), &env, &Conf::default()).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidInput);
        assert!(error.to_string().contains("no consumer key given for application key 'my-ak'"), "{error}");
        assert!(!error.to_string().contains("my-secret"));
        let none = |_: &str| None;
        let error = OvhSettings::read(&Settings::new(), &none, &Conf::default()).unwrap_err().to_string();
        assert!(error.starts_with("no OVH endpoint given"), "{error}");
    }
}
