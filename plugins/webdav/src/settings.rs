//! What the `webdav`, `webdavs` and `nextcloud` providers take: the settings schema, and one
//! source's settings read into [`DavSettings`], the environment filling what the settings
//! leave out.

use std::path::PathBuf;

use sortie_sdk::settings::{Secret, SettingSpec, Settings};
use sortie_sdk::{Error, ErrorKind, Result};

/// The environment, read through a function so that tests need not change the process's.
pub type Env<'a> = &'a (dyn Fn(&str) -> Option<String> + Sync);

/// The settings schema, the same for the three schemes.
pub fn specs() -> Vec<SettingSpec> {
    vec![
        SettingSpec::text("user", "The user name, over the one in the URL (USER@HOST).")
            .env(&["WEBDAV_USER", "NEXTCLOUD_USER"]),
        SettingSpec::text(
            "password",
            "The password (for Nextcloud, preferably an app password), sent with HTTP Basic authentication.",
        )
        .secret()
        .env(&["WEBDAV_PASSWORD", "NEXTCLOUD_PASSWORD"]),
        SettingSpec::text("token", "An OAuth2 bearer token, sent instead of a user name and password.")
            .secret()
            .env(&["WEBDAV_TOKEN", "NEXTCLOUD_TOKEN"]),
        SettingSpec::text(
            "ca_bundle",
            "A PEM file of certificate authorities to trust besides the system's (a self-signed server).",
        )
        .env(&["WEBDAV_CA_BUNDLE"]),
        SettingSpec::bool(
            "depth_infinity",
            "List the whole tree with one PROPFIND Depth: infinity instead of one Depth: 1 request per \
             directory (many servers refuse it; its answer is spooled to a temporary file).",
        ),
        SettingSpec::integer(
            "connections",
            "The most requests sent to this server at once, below --concurrency (a Nextcloud host may throttle more).",
        ),
    ]
}

/// One source's settings, typed, with the environment applied.
#[derive(Debug, Clone, Default)]
pub struct DavSettings {
    pub user: Option<String>,
    pub password: Option<Secret>,
    pub token: Option<Secret>,
    pub ca_bundle: Option<PathBuf>,
    pub depth_infinity: bool,
    pub connections: Option<usize>,
}

impl DavSettings {
    /// Reads the values given to a source (checked against [`specs`] by the host), then the
    /// environment for what they leave out.
    pub fn read(settings: &Settings, env: Env<'_>) -> Result<Self> {
        let given = |name: &str, vars: &[&str]| {
            settings
                .text(name)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
                .or_else(|| vars.iter().find_map(|var| env(var).filter(|v| !v.is_empty())))
        };
        let connections = match settings.integer("connections") {
            Some(0) => {
                return Err(Error::new(ErrorKind::InvalidInput, "the setting connections must be at least 1"));
            }
            Some(n) => Some(usize::try_from(n).unwrap_or(usize::MAX)),
            None => None,
        };
        Ok(Self {
            user: given("user", &["WEBDAV_USER", "NEXTCLOUD_USER"]),
            password: given("password", &["WEBDAV_PASSWORD", "NEXTCLOUD_PASSWORD"]).map(Secret::new),
            token: given("token", &["WEBDAV_TOKEN", "NEXTCLOUD_TOKEN"]).map(Secret::new),
            ca_bundle: given("ca_bundle", &["WEBDAV_CA_BUNDLE"]).map(PathBuf::from),
            depth_infinity: settings.is_on("depth_infinity"),
            connections,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_take_precedence_over_the_environment() {
        let spec = |name: &str| specs().into_iter().find(|s| s.name == name).unwrap();
        let mut settings = Settings::new();
        settings.set(&spec("user"), "alice").unwrap();
        let env = |name: &str| match name {
            "WEBDAV_USER" => Some("bob".to_owned()),
            "NEXTCLOUD_PASSWORD" => Some("pw".to_owned()),
            _ => None,
        };
        let read = DavSettings::read(&settings, &env).unwrap();
        assert_eq!(read.user.as_deref(), Some("alice"));
        assert_eq!(read.password.as_ref().map(Secret::expose), Some("pw"));
        assert!(read.token.is_none());
        assert!(format!("{read:?}").contains("<secret>") && !format!("{read:?}").contains("pw\""));
        settings.set(&spec("connections"), "0").unwrap();
        assert!(DavSettings::read(&settings, &env).is_err());
    }
}
