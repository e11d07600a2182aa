//! What the `caldav` and `carddav` providers take (the settings schema), and the connection
//! it makes: the server's origin, the user and the password or token, read from the
//! settings first and then from `SORTIE_DAV_*` variables.

use std::path::PathBuf;

pub use sortie_sdk::settings::Secret;
use sortie_sdk::settings::{SettingSpec, Settings};
use sortie_sdk::{Error, ErrorKind, Result};

pub use sortie_http::Auth;

use crate::url::DavUrl;

/// Resources asked for in one multiget when no `batch` is given.
pub const DEFAULT_BATCH: u64 = 100;

/// The settings schema (the same for both schemes).
pub fn specs() -> Vec<SettingSpec> {
    vec![
        SettingSpec::text("user", "The user name, when the URL does not give one (caldav://USER@HOST).")
            .env(&["SORTIE_DAV_USER"]),
        SettingSpec::text("password", "The user's password (or a Nextcloud app password), sent with Basic auth.")
            .secret()
            .env(&["SORTIE_DAV_PASSWORD"]),
        SettingSpec::text("token", "An OAuth2 bearer token, sent instead of a password.")
            .secret()
            .env(&["SORTIE_DAV_TOKEN"]),
        SettingSpec::text(
            "ca_bundle",
            "A PEM file of CA certificates to trust besides the system's (a server with its own CA).",
        )
        .env(&["SORTIE_DAV_CA_BUNDLE"]),
        SettingSpec::bool("plain_http", "Talk plain http:// instead of https:// (a server on the local machine)."),
        SettingSpec::integer("batch", "Resources fetched by one multiget REPORT.").default_value(DEFAULT_BATCH),
    ]
}

/// Where to connect and as whom.
#[derive(Debug, Clone)]
pub struct Connection {
    /// `https://HOST[:PORT]` (or `http://`).
    pub origin: String,
    /// The user, for messages (`user 'alice' at HOST`).
    pub user: Option<String>,
    pub auth: Auth,
    pub ca_bundle: Option<PathBuf>,
    pub batch: usize,
}

impl Connection {
    /// The connection a source's URL and settings describe; `env` reads the environment.
    pub fn of(url: &DavUrl, settings: &Settings, env: &dyn Fn(&str) -> Option<String>) -> Result<Self> {
        let value = |name: &str, var: &str| settings.text(name).map(str::to_owned).or_else(|| env(var));
        let user = url.user.clone().or_else(|| value("user", "SORTIE_DAV_USER")).filter(|u| !u.is_empty());
        let password = value("password", "SORTIE_DAV_PASSWORD");
        let token = value("token", "SORTIE_DAV_TOKEN");
        let auth = match (token, password, &user) {
            (Some(token), _, _) => Auth::Bearer(Secret::new(token)),
            (None, Some(password), Some(user)) => Auth::Basic { user: user.clone(), password: Secret::new(password) },
            (None, Some(_), None) => {
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    format!(
                        "a password is given but no user name: write {}://USER@{}/… or set `user`",
                        url.scheme, url.host
                    ),
                ));
            }
            (None, None, _) => Auth::Anonymous,
        };
        if !auth.sendable() {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "the token holds characters an HTTP header cannot carry (a line break?): give the token alone",
            ));
        }
        let http = if settings.is_on("plain_http") { "http" } else { "https" };
        let batch = settings.integer("batch").unwrap_or(DEFAULT_BATCH).clamp(1, 1000) as usize;
        let ca_bundle = value("ca_bundle", "SORTIE_DAV_CA_BUNDLE").map(PathBuf::from);
        Ok(Self { origin: format!("{http}://{}", url.host), user, auth, ca_bundle, batch })
    }

    /// `user 'alice' at https://HOST` (or `the server at …`), for messages.
    pub fn who(&self) -> String {
        match &self.user {
            Some(user) => format!("the server at {} (user '{user}')", self.origin),
            None => format!("the server at {}", self.origin),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connection(url: &str, given: &[(&str, &str)], env: &[(&str, &str)]) -> Result<Connection> {
        let specs = specs();
        let mut settings = Settings::new();
        for (name, value) in given {
            settings.set(specs.iter().find(|s| s.name == *name).unwrap(), value).unwrap();
        }
        let env = |name: &str| env.iter().find(|(n, _)| *n == name).map(|(_, v)| (*v).to_owned());
        Connection::of(&DavUrl::parse("caldav", url).unwrap(), &settings, &env)
    }

    #[test]
    fn a_token_wins_over_a_password_and_settings_over_the_environment() {
        let basic = connection("caldav://alice@h", &[], &[("SORTIE_DAV_PASSWORD", "pw")]).unwrap();
        assert!(matches!(&basic.auth, Auth::Basic { user, password } if user == "alice" && password.expose() == "pw"));
        assert_eq!(basic.origin, "https://h");
        let bearer =
            connection("caldav://h", &[("token", "t1"), ("plain_http", "yes")], &[("SORTIE_DAV_PASSWORD", "pw")]);
        let bearer = bearer.unwrap();
        assert!(matches!(&bearer.auth, Auth::Bearer(token) if token.expose() == "t1"));
        assert_eq!(bearer.origin, "http://h");
        let given = connection("caldav://h", &[("user", "bob"), ("password", "a")], &[("SORTIE_DAV_PASSWORD", "b")]);
        assert!(matches!(given.unwrap().auth, Auth::Basic { password, .. } if password.expose() == "a"));
        let refused = connection("caldav://h", &[("password", "secret-pw")], &[]).unwrap_err();
        assert!(refused.to_string().contains("no user name") && !refused.to_string().contains("secret-pw"));
        assert!(format!("{basic:?}").contains("<secret>") && !format!("{basic:?}").contains("\"pw\""));
    }
}
