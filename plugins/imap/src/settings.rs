//! What the `imap` provider takes (its settings schema), read into [`ImapSettings`]: the
//! settings given for the source, then the `SORTIE_IMAP_*` variables.

use std::path::PathBuf;

pub use sortie_sdk::settings::Secret;
use sortie_sdk::settings::{SettingSpec, Settings};
use sortie_sdk::{Error, ErrorKind, Result};

use crate::auth::Mechanism;

/// Connections per account when `max_connections` is not given: Gmail allows 15, Dovecot
/// 10 per user and IP by default, Exchange Online fewer; 4 leaves room for the user's client.
pub const DEFAULT_CONNECTIONS: u64 = 4;

/// The settings schema.
pub fn specs() -> Vec<SettingSpec> {
    vec![
        SettingSpec::text("user", "The login name, over the one in the URL.").env(&["SORTIE_IMAP_USER"]),
        SettingSpec::text("password", "The password, sent with LOGIN or AUTHENTICATE PLAIN.")
            .secret()
            .env(&["SORTIE_IMAP_PASSWORD"]),
        SettingSpec::text(
            "oauth2_token",
            "An OAuth2 access token (Gmail, Microsoft 365), sent with XOAUTH2 or OAUTHBEARER instead of a password.",
        )
        .secret()
        .env(&["SORTIE_IMAP_OAUTH2_TOKEN"]),
        SettingSpec::text(
            "auth",
            "How to log in: auto (a token with XOAUTH2, a password with LOGIN), \
             login, plain, xoauth2 or oauthbearer.",
        )
        .default_value("auto"),
        SettingSpec::text("ca_bundle", "A PEM file of certificate authorities to trust besides the system's.")
            .env(&["SORTIE_IMAP_CA_BUNDLE"]),
        SettingSpec::bool(
            "no_starttls",
            "Do not upgrade imap:// to TLS with STARTTLS: the password and mail then cross the network in clear.",
        ),
        SettingSpec::integer("max_connections", "The most connections to the account at once.")
            .default_value(DEFAULT_CONNECTIONS),
    ]
}

/// One source's settings, typed.
#[derive(Debug, Clone)]
pub struct ImapSettings {
    pub user: Option<String>,
    pub password: Option<Secret>,
    pub oauth2_token: Option<Secret>,
    pub mechanism: Option<Mechanism>,
    pub ca_bundle: Option<PathBuf>,
    pub starttls: bool,
    pub max_connections: usize,
}

impl ImapSettings {
    /// Reads the values given to a source, then the variables `env` gives.
    pub fn of(settings: &Settings, env: &dyn Fn(&str) -> Option<String>) -> Result<Self> {
        let text = |name: &str, var: &str| {
            settings.text(name).map(str::to_owned).or_else(|| env(var)).filter(|v| !v.is_empty())
        };
        let auth = settings.text("auth").unwrap_or("auto");
        let mechanism = Mechanism::parse(auth).ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidInput,
                format!("setting 'auth' takes auto, login, plain, xoauth2 or oauthbearer, not '{auth}'"),
            )
        })?;
        Ok(Self {
            user: text("user", "SORTIE_IMAP_USER"),
            password: text("password", "SORTIE_IMAP_PASSWORD").map(Secret::new),
            oauth2_token: text("oauth2_token", "SORTIE_IMAP_OAUTH2_TOKEN").map(Secret::new),
            mechanism,
            ca_bundle: text("ca_bundle", "SORTIE_IMAP_CA_BUNDLE").map(PathBuf::from),
            starttls: !settings.is_on("no_starttls"),
            max_connections: settings.integer("max_connections").unwrap_or(DEFAULT_CONNECTIONS).clamp(1, 64) as usize,
        })
    }
}
