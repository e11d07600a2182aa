//! What the `s3` provider takes (its settings schema, read into [`S3Settings`]), and where
//! to connect and as whom, found the way the AWS CLI and SDKs find it ([`resolve`]): the
//! settings (from flags, `--set` or a sources file), then `AWS_*` variables, then the shared
//! `~/.aws/credentials` and `~/.aws/config` files (profile `default`, or `--profile` /
//! `AWS_PROFILE`).

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

pub use sortie_sdk::settings::Secret;
use sortie_sdk::settings::{SettingSpec, Settings};
use sortie_sdk::{Error, ErrorKind, Result};

/// The settings schema.
pub fn specs() -> Vec<SettingSpec> {
    vec![
        SettingSpec::text("profile", "The AWS profile of ~/.aws/config and ~/.aws/credentials to use.")
            .flag("--profile")
            .env(&["AWS_PROFILE"]),
        SettingSpec::text(
            "endpoint",
            "The S3 endpoint, http(s)://HOST[:PORT], for an S3-compatible store (AWS itself when not given).",
        )
        .flag("--s3-endpoint")
        .env(&["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]),
        SettingSpec::text("region", "The region requests are signed for (else the profile's, else us-east-1).")
            .flag("--s3-region")
            .env(&["AWS_REGION", "AWS_DEFAULT_REGION"]),
        SettingSpec::bool("path_style", "Address buckets in the path (ENDPOINT/BUCKET) instead of the host name.")
            .flag("--s3-path-style"),
        SettingSpec::bool("anonymous", "Send unsigned requests (public buckets): no credentials are looked for.")
            .flag("--no-sign-request"),
        SettingSpec::bool("current_only", "Export only the current version of each object of a versioned bucket.")
            .flag("--current-only"),
        SettingSpec::bool(
            "skip_archived",
            "Leave out objects in an archive storage class (GLACIER, DEEP_ARCHIVE) that are not restored.",
        )
        .flag("--skip-archived"),
        SettingSpec::bool(
            "allow_missing_metadata",
            "Count an object complete when its tag set or ACL cannot be read (the error is kept in the inventory).",
        )
        .flag("--allow-missing-metadata"),
        SettingSpec::text("access_key_id", "The access key id, over the environment and the profile.")
            .env(&["AWS_ACCESS_KEY_ID"]),
        SettingSpec::text("secret_access_key", "The secret access key that goes with access_key_id.")
            .secret()
            .env(&["AWS_SECRET_ACCESS_KEY"]),
        SettingSpec::text("session_token", "The session token of temporary credentials given with access_key_id.")
            .secret()
            .env(&["AWS_SESSION_TOKEN"]),
    ]
}

/// One source's settings, typed.
#[derive(Debug, Clone, Default)]
pub struct S3Settings {
    pub profile: Option<String>,
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub path_style: bool,
    pub anonymous: bool,
    pub current_only: bool,
    pub skip_archived: bool,
    pub allow_missing_metadata: bool,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<Secret>,
    pub session_token: Option<Secret>,
}

impl S3Settings {
    /// Reads the values given to a source (checked against [`specs`] by the host).
    pub fn of(settings: &Settings) -> Self {
        let text = |name: &str| settings.text(name).filter(|v| !v.is_empty()).map(str::to_owned);
        Self {
            profile: text("profile"),
            endpoint: text("endpoint"),
            region: text("region"),
            path_style: settings.is_on("path_style"),
            anonymous: settings.is_on("anonymous"),
            current_only: settings.is_on("current_only"),
            skip_archived: settings.is_on("skip_archived"),
            allow_missing_metadata: settings.is_on("allow_missing_metadata"),
            access_key_id: text("access_key_id"),
            secret_access_key: text("secret_access_key").map(Secret::new),
            session_token: text("session_token").map(Secret::new),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Credentials {
    /// Not a secret: messages name it so that the user knows which key was refused.
    pub access_key_id: String,
    pub secret_access_key: Secret,
    pub session_token: Option<Secret>,
    /// Where they came from, for messages (`AWS_ACCESS_KEY_ID`, `profile prod in …`).
    pub origin: String,
}

/// Where requests go and how they are signed, resolved.
#[derive(Debug, Clone)]
pub struct Connection {
    /// `None`: anonymous requests (public buckets).
    pub credentials: Option<Credentials>,
    pub region: String,
    /// Scheme and authority, no trailing slash; `None` for AWS itself, whose host depends
    /// on the bucket's region.
    pub endpoint: Option<String>,
    /// `Some(true)` forces path-style addressing, `Some(false)` virtual-hosted; `None`
    /// decides per bucket and endpoint.
    pub path_style: Option<bool>,
    /// PEM bundle of extra trusted certificate authorities (`AWS_CA_BUNDLE`).
    pub ca_bundle: Option<PathBuf>,
}

impl Connection {
    /// The configured endpoint, or AWS's for `region`.
    pub fn endpoint_for(&self, region: &str) -> String {
        self.endpoint.clone().unwrap_or_else(|| format!("https://s3.{region}.amazonaws.com"))
    }

    /// The endpoint as shown to the user (in a source's URL, in messages).
    pub fn endpoint_shown(&self) -> String {
        self.endpoint_for(&self.region)
    }
}

/// Resolves where to connect and as whom, reading the environment through `env` so that
/// tests need not change the process's.
pub fn resolve(settings: &S3Settings, env: &dyn Fn(&str) -> Option<String>) -> Result<Connection> {
    resolve_with(settings, env, true)
}

/// The endpoint requests will go to, as shown to the user, found without looking for
/// credentials: a source's URL names it before anything is signed.
pub fn endpoint_shown(settings: &S3Settings, env: &dyn Fn(&str) -> Option<String>) -> Result<String> {
    Ok(resolve_with(settings, env, false)?.endpoint_shown())
}

fn resolve_with(
    settings: &S3Settings,
    env: &dyn Fn(&str) -> Option<String>,
    with_credentials: bool,
) -> Result<Connection> {
    let var = |name: &str| env(name).filter(|v| !v.is_empty());
    let explicit_profile = settings.profile.clone().map(|p| (p, "--profile"));
    let (profile_name, profile_origin) =
        explicit_profile.or_else(|| var("AWS_PROFILE").map(|p| (p, "AWS_PROFILE"))).unwrap_or(("default".into(), ""));
    let home = var("HOME").map(PathBuf::from).unwrap_or_default();
    let config_file = var("AWS_CONFIG_FILE").map(PathBuf::from).unwrap_or_else(|| home.join(".aws/config"));
    let credentials_file =
        var("AWS_SHARED_CREDENTIALS_FILE").map(PathBuf::from).unwrap_or_else(|| home.join(".aws/credentials"));
    let profile = Profile::load(&profile_name, &config_file, &credentials_file)?;
    if !profile_origin.is_empty() && profile.is_none() {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!(
                "AWS profile '{profile_name}' (from {profile_origin}) is in neither {} nor {}: check its name, or \
                 run `aws configure --profile {profile_name}`",
                config_file.display(),
                credentials_file.display()
            ),
        ));
    }
    let profile = profile.unwrap_or_default();

    let credentials = if settings.anonymous || !with_credentials {
        None
    } else if let Some(given) = given_credentials(settings)? {
        Some(given)
    } else {
        let from_env = settings.profile.is_none() && var("AWS_ACCESS_KEY_ID").is_some();
        Some(if from_env {
            let secret = var("AWS_SECRET_ACCESS_KEY").ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidInput,
                    "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not: set both, or neither to use a profile",
                )
            })?;
            Credentials {
                access_key_id: var("AWS_ACCESS_KEY_ID").unwrap_or_default(),
                secret_access_key: Secret::new(secret),
                session_token: var("AWS_SESSION_TOKEN").map(Secret::new),
                origin: "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY".into(),
            }
        } else {
            profile.credentials(&profile_name, &config_file, &credentials_file)?
        })
    };

    let region = settings
        .region
        .clone()
        .or_else(|| var("AWS_REGION"))
        .or_else(|| var("AWS_DEFAULT_REGION"))
        .or_else(|| profile.get("region"))
        .unwrap_or_else(|| "us-east-1".into());
    let configured_endpoints = var("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS").is_none_or(|v| v != "true");
    let endpoint = match settings.endpoint.clone() {
        Some(endpoint) => Some(endpoint),
        None if configured_endpoints => var("AWS_ENDPOINT_URL_S3")
            .or_else(|| var("AWS_ENDPOINT_URL"))
            .or_else(|| profile.get("s3.endpoint_url"))
            .or_else(|| profile.get("endpoint_url")),
        None => None,
    };
    let endpoint = endpoint.map(|e| check_endpoint(&e)).transpose()?;
    let path_style = if settings.path_style {
        Some(true)
    } else {
        profile.get("s3.addressing_style").and_then(|style| match style.as_str() {
            "path" => Some(true),
            "virtual" => Some(false),
            _ => None,
        })
    };
    let ca_bundle = var("AWS_CA_BUNDLE").or_else(|| profile.get("ca_bundle")).map(PathBuf::from);
    Ok(Connection { credentials, region, endpoint, path_style, ca_bundle })
}

/// Credentials given as settings (`--set`), which win over the environment and profiles;
/// `None` when none are given.
fn given_credentials(settings: &S3Settings) -> Result<Option<Credentials>> {
    match (&settings.access_key_id, &settings.secret_access_key) {
        (Some(id), Some(secret)) => Ok(Some(Credentials {
            access_key_id: id.clone(),
            secret_access_key: secret.clone(),
            session_token: settings.session_token.clone(),
            origin: "the access_key_id setting".into(),
        })),
        (None, None) if settings.session_token.is_none() => Ok(None),
        (Some(_), None) => Err(Error::new(
            ErrorKind::InvalidInput,
            "the setting access_key_id is given but secret_access_key is not: give it with \
             --set secret_access_key=… (secrets are never saved in a plan)",
        )),
        (None, _) => Err(Error::new(
            ErrorKind::InvalidInput,
            "the setting secret_access_key or session_token is given but access_key_id is not: give both keys",
        )),
    }
}

/// An endpoint is a scheme and an authority: no path, no credentials, no white space (a
/// source's URL names it after ` at `).
fn check_endpoint(endpoint: &str) -> Result<String> {
    let trimmed = endpoint.trim_end_matches('/');
    let authority = trimmed.strip_prefix("http://").or_else(|| trimmed.strip_prefix("https://"));
    match authority {
        Some(authority)
            if !authority.is_empty()
                && !authority.contains(['/', '?', '#', '@'])
                && !authority.contains(char::is_whitespace) =>
        {
            Ok(trimmed.to_owned())
        }
        _ => Err(Error::new(
            ErrorKind::InvalidInput,
            format!(
                "S3 endpoint '{}' is not of the form http(s)://HOST[:PORT] (no path, no credentials: S3 \
                 signs with the access keys), e.g. https://s3.gra.io.cloud.ovh.net",
                sortie_http::redact_userinfo(endpoint)
            ),
        )),
    }
}

/// One profile, merged from the config file (`[profile NAME]`, or `[default]`) and the
/// credentials file (`[NAME]`), the latter winning as in the AWS CLI. Nested sections
/// (`s3 =` followed by indented lines) become `s3.KEY`. `Debug` names its keys only: their
/// values include the secret access key.
#[derive(Default)]
struct Profile {
    values: HashMap<String, String>,
}

impl fmt::Debug for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut keys: Vec<&str> = self.values.keys().map(String::as_str).collect();
        keys.sort_unstable();
        f.debug_struct("Profile").field("keys", &keys).finish()
    }
}

impl Profile {
    fn load(name: &str, config_file: &Path, credentials_file: &Path) -> Result<Option<Self>> {
        let config_section = if name == "default" { "default".to_owned() } else { format!("profile {name}") };
        let mut values = HashMap::new();
        let mut found = false;
        for (file, section) in [(config_file, config_section.as_str()), (credentials_file, name)] {
            let text = match std::fs::read_to_string(file) {
                Ok(text) => text,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::io(format!("cannot read {}", file.display()), &e)),
            };
            if let Some(section) = ini_section(&text, section) {
                found = true;
                values.extend(section);
            }
        }
        Ok(found.then_some(Self { values }))
    }

    fn get(&self, key: &str) -> Option<String> {
        self.values.get(key).filter(|v| !v.is_empty()).cloned()
    }

    fn credentials(&self, name: &str, config_file: &Path, credentials_file: &Path) -> Result<Credentials> {
        if let (Some(id), Some(secret)) = (self.get("aws_access_key_id"), self.get("aws_secret_access_key")) {
            return Ok(Credentials {
                access_key_id: id,
                secret_access_key: Secret::new(secret),
                session_token: self.get("aws_session_token").map(Secret::new),
                origin: format!("profile '{name}'"),
            });
        }
        let unsupported = ["role_arn", "credential_process", "sso_session", "sso_start_url", "web_identity_token_file"];
        if let Some(key) = unsupported.iter().find(|k| self.get(k).is_some()) {
            return Err(Error::new(
                ErrorKind::Unsupported,
                format!(
                    "AWS profile '{name}' gets its credentials through '{key}', which Sortie does not support yet: \
                     export temporary ones with `eval \"$(aws configure export-credentials --profile {name} \
                     --format env)\"` and run again"
                ),
            ));
        }
        Err(Error::new(
            ErrorKind::InvalidInput,
            format!(
                "no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, put a profile in {} or \
                 {} (choose it with --profile or AWS_PROFILE), or pass --no-sign-request for a public bucket",
                credentials_file.display(),
                config_file.display()
            ),
        ))
    }
}

/// The key/value pairs of `[section]` in an AWS INI file, or `None` if it has no such
/// section.
fn ini_section(text: &str, wanted: &str) -> Option<HashMap<String, String>> {
    let mut values = HashMap::new();
    let mut inside = false;
    let mut found = false;
    let mut parent: Option<String> = None;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with(['#', ';']) {
            continue;
        }
        if let Some(header) = trimmed.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            inside = header.split_whitespace().collect::<Vec<_>>().join(" ") == wanted;
            found |= inside;
            parent = None;
            continue;
        }
        if !inside {
            continue;
        }
        let Some((key, value)) = trimmed.split_once('=') else { continue };
        let (key, value) = (key.trim().to_ascii_lowercase(), value.trim().to_owned());
        let indented = line.starts_with([' ', '\t']);
        match (&parent, indented) {
            (Some(parent), true) => {
                values.insert(format!("{parent}.{key}"), value);
            }
            _ if value.is_empty() => parent = Some(key),
            _ => {
                parent = None;
                values.insert(key, value);
            }
        }
    }
    found.then_some(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Home(tempfile::TempDir);

    impl Home {
        fn new(config: &str, credentials: &str) -> Self {
            let dir = tempfile::tempdir().unwrap();
            std::fs::create_dir_all(dir.path().join(".aws")).unwrap();
            std::fs::write(dir.path().join(".aws/config"), config).unwrap();
            std::fs::write(dir.path().join(".aws/credentials"), credentials).unwrap();
            Self(dir)
        }

        fn resolve(&self, settings: &S3Settings, vars: &[(&str, &str)]) -> Result<Connection> {
            let home = self.0.path().display().to_string();
            resolve(settings, &|name| {
                if name == "HOME" {
                    return Some(home.clone());
                }
                vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
            })
        }
    }

    const CONFIG: &str = "[default]\nregion = eu-west-3\n\n[profile ovh]\nregion = gra\nendpoint_url = https://s3.gra.io.cloud.ovh.net/\ns3 =\n  addressing_style = path\n\n[profile sso]\nsso_session = corp\n";
    const CREDENTIALS: &str = "[default]\naws_access_key_id = AKIADEFAULT\naws_secret_access_key = default-secret\n\n[ovh]\naws_access_key_id = OVHKEY\naws_secret_access_key = ovh-secret\naws_session_token = tok\n";

    #[test]
    fn a_profile_renders_its_keys_not_its_values() {
        let values = HashMap::from([
            ("aws_access_key_id".to_owned(), "AKIDEXAMPLE".to_owned()),
            ("aws_secret_access_key".to_owned(), "profile-secret".to_owned()),
        ]);
        let shown = format!("{:?}", Profile { values });
        assert!(!shown.contains("profile-secret"), "{shown}");
        assert!(shown.contains("aws_secret_access_key"), "{shown}");
    }

    #[test]
    fn environment_wins_over_the_default_profile_and_an_explicit_profile_wins_over_both() {
        let home = Home::new(CONFIG, CREDENTIALS);
        let vars = [("AWS_ACCESS_KEY_ID", "AKIAENV"), ("AWS_SECRET_ACCESS_KEY", "env-secret")];
        let settings = home.resolve(&S3Settings::default(), &vars).unwrap();
        let credentials = settings.credentials.unwrap();
        assert_eq!((credentials.access_key_id.as_str(), settings.region.as_str()), ("AKIAENV", "eu-west-3"));
        assert_eq!(settings.endpoint, None);

        let options = S3Settings { profile: Some("ovh".into()), ..Default::default() };
        let settings = home.resolve(&options, &vars).unwrap();
        let credentials = settings.credentials.unwrap();
        assert_eq!(credentials.access_key_id, "OVHKEY");
        assert_eq!(credentials.session_token.unwrap().expose(), "tok");
        assert_eq!(settings.region, "gra");
        assert_eq!(settings.endpoint.as_deref(), Some("https://s3.gra.io.cloud.ovh.net"));
        assert_eq!(settings.path_style, Some(true));

        let settings = home.resolve(&S3Settings::default(), &[("AWS_PROFILE", "ovh"), ("AWS_REGION", "sbg")]).unwrap();
        assert_eq!((settings.region.as_str(), settings.credentials.unwrap().access_key_id.as_str()), ("sbg", "OVHKEY"));
        let settings = home.resolve(&S3Settings::default(), &[("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9000")]);
        assert_eq!(settings.unwrap().endpoint.as_deref(), Some("http://127.0.0.1:9000"));
    }

    #[test]
    fn missing_or_unusable_credentials_say_what_to_do() {
        let home = Home::new("", "");
        let error = home.resolve(&S3Settings::default(), &[]).unwrap_err().to_string();
        assert!(error.contains("no AWS credentials found") && error.contains("--no-sign-request"), "{error}");
        let anonymous = S3Settings { anonymous: true, ..Default::default() };
        assert!(home.resolve(&anonymous, &[]).unwrap().credentials.is_none());
        let error = home.resolve(&S3Settings::default(), &[("AWS_ACCESS_KEY_ID", "AKIA")]).unwrap_err();
        assert!(error.to_string().contains("AWS_SECRET_ACCESS_KEY is not"));

        let home = Home::new(CONFIG, CREDENTIALS);
        let error = home.resolve(&S3Settings::default(), &[("AWS_PROFILE", "nope")]).unwrap_err().to_string();
        assert!(error.contains("profile 'nope' (from AWS_PROFILE)"), "{error}");
        let error = home.resolve(&S3Settings::default(), &[("AWS_PROFILE", "sso")]).unwrap_err().to_string();
        assert!(error.contains("sso_session") && error.contains("export-credentials"), "{error}");
        let bad = S3Settings { endpoint: Some("s3.example.com".into()), ..Default::default() };
        assert!(home.resolve(&bad, &[]).unwrap_err().to_string().contains("http(s)://HOST"));
        let with_password = S3Settings { endpoint: Some("http://user:hunter2@h:9000".into()), ..Default::default() };
        let error = home.resolve(&with_password, &[]).unwrap_err().to_string();
        assert!(error.contains("'http://***@h:9000'") && !error.contains("hunter2"), "{error}");
    }

    #[test]
    fn credentials_given_as_settings_win_over_the_environment_and_profiles() {
        let home = Home::new(CONFIG, CREDENTIALS);
        let vars = [("AWS_ACCESS_KEY_ID", "AKIAENV"), ("AWS_SECRET_ACCESS_KEY", "env-secret"), ("AWS_PROFILE", "ovh")];
        let given = S3Settings {
            access_key_id: Some("AKIAGIVEN".into()),
            secret_access_key: Some(Secret::new("given-secret")),
            ..Default::default()
        };
        let connection = home.resolve(&given, &vars).unwrap();
        assert_eq!(connection.region, "gra", "the profile still gives the region");
        let credentials = connection.credentials.unwrap();
        assert_eq!(
            (credentials.access_key_id.as_str(), credentials.secret_access_key.expose()),
            ("AKIAGIVEN", "given-secret")
        );
        assert!(credentials.session_token.is_none(), "not the environment's or the profile's");
        let with_profile = S3Settings { profile: Some("ovh".into()), ..given.clone() };
        assert_eq!(home.resolve(&with_profile, &[]).unwrap().credentials.unwrap().access_key_id, "AKIAGIVEN");
        let anonymous = S3Settings { anonymous: true, ..given.clone() };
        assert!(home.resolve(&anonymous, &vars).unwrap().credentials.is_none());
        assert!(!format!("{given:?}").contains("given-secret"), "{given:?}");

        let half = S3Settings { access_key_id: Some("AKIAGIVEN".into()), ..Default::default() };
        let error = home.resolve(&half, &vars).unwrap_err().to_string();
        assert!(error.contains("secret_access_key is not") && error.contains("--set"), "{error}");
        let orphan = S3Settings { session_token: Some(Secret::new("orphan-token")), ..Default::default() };
        let error = home.resolve(&orphan, &vars).unwrap_err().to_string();
        assert!(error.contains("access_key_id is not") && !error.contains("orphan-token"), "{error}");
    }

    #[test]
    fn every_option_is_a_setting_spelled_by_its_flag() {
        let specs = specs();
        let flag = |name: &str| specs.iter().find(|s| s.name == name).and_then(|s| s.flag.clone());
        for (name, expected) in [
            ("profile", "--profile"),
            ("endpoint", "--s3-endpoint"),
            ("region", "--s3-region"),
            ("path_style", "--s3-path-style"),
            ("anonymous", "--no-sign-request"),
            ("current_only", "--current-only"),
            ("skip_archived", "--skip-archived"),
            ("allow_missing_metadata", "--allow-missing-metadata"),
        ] {
            assert_eq!(flag(name).as_deref(), Some(expected), "{name}");
        }
        let secret: Vec<&str> = specs.iter().filter(|s| s.secret).map(|s| s.name.as_str()).collect();
        assert_eq!(secret, ["secret_access_key", "session_token"]);
        let mut given = Settings::new();
        for (name, value) in [("region", "gra"), ("skip_archived", "yes"), ("secret_access_key", "s")] {
            given.set(specs.iter().find(|s| s.name == name).unwrap(), value).unwrap();
        }
        let read = S3Settings::of(&given);
        assert_eq!(read.region.as_deref(), Some("gra"));
        assert!(read.skip_archived && !read.current_only);
        assert_eq!(read.secret_access_key.as_ref().map(Secret::expose), Some("s"));
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        let home = Home::new(CONFIG, CREDENTIALS);
        let settings = home.resolve(&S3Settings::default(), &[]).unwrap();
        let debug = format!("{settings:?}");
        assert!(debug.contains("AKIADEFAULT") && !debug.contains("default-secret"), "{debug}");
    }
}
