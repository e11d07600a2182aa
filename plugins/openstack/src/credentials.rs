//! Where the credentials come from, the way the OpenStack tools read them: a `clouds.yaml`
//! cloud (`--os-cloud`, `OS_CLOUD`; the files and search paths of openstacksdk, with
//! `secure.yaml` merged over it), the `OS_*` variables of an openrc file, or Swift's own v1
//! authentication from the `ST_*` variables of python-swiftclient.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde_yaml_ng::Value;
use sortie_sdk::error::{Error, ErrorKind, Result};
pub use sortie_sdk::settings::Secret;

use crate::settings::SourceSettings;

/// Something Keystone knows by id, or by name within a domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Named {
    Id(String),
    Name { name: String, domain: Option<Domain> },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Domain {
    Id(String),
    Name(String),
}

/// How to obtain a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Method {
    /// Keystone v3 `password`, scoped to a project.
    Password { user: Named, password: Secret, project: Named },
    /// Keystone v3 `application_credential` (its project is part of it); one given by name
    /// needs its user.
    ApplicationCredential { credential: Named, user: Option<Named>, secret: Secret },
    /// An existing Keystone token, re-scoped to the project to get a catalog; it cannot be
    /// renewed once it expires.
    Token { token: Secret, project: Option<Named> },
    /// Swift's v1 authentication (tempauth, swauth): `ST_AUTH`, `ST_USER`, `ST_KEY`.
    TempAuth { user: String, key: Secret },
}

/// Everything needed to reach the object store. `Debug` shows the auth URL without the user
/// info it may carry.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// Keystone's URL (ending in `/v3`), or the v1 auth URL for tempauth.
    pub auth_url: String,
    pub method: Method,
    /// `OS_REGION_NAME`: the catalog region to take endpoints from.
    pub region: Option<String>,
    /// `OS_INTERFACE`: public (default), internal or admin.
    pub interface: String,
    /// `OS_CACERT`: extra trusted certificates.
    pub ca_cert: Option<PathBuf>,
    /// Where the settings were read, for messages.
    pub origin: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("auth_url", &self.auth_url_display())
            .field("method", &self.method)
            .field("region", &self.region)
            .field("interface", &self.interface)
            .field("ca_cert", &self.ca_cert)
            .field("origin", &self.origin)
            .finish()
    }
}

impl Credentials {
    /// Who is authenticating, for messages: never a password, secret or token.
    pub fn identity_label(&self) -> String {
        let named = |n: &Named, what: &str| match n {
            Named::Id(id) => format!("{what} id {id}"),
            Named::Name { name, domain: None } => format!("{what} '{name}'"),
            Named::Name { name, domain: Some(Domain::Name(d)) } => format!("{what} '{name}' (domain '{d}')"),
            Named::Name { name, domain: Some(Domain::Id(d)) } => format!("{what} '{name}' (domain id {d})"),
        };
        let who = match &self.method {
            Method::Password { user, project, .. } => {
                format!("{} for {}", named(user, "user"), named(project, "project"))
            }
            Method::ApplicationCredential { credential, .. } => named(credential, "application credential"),
            Method::Token { project: Some(project), .. } => format!("a token for {}", named(project, "project")),
            Method::Token { project: None, .. } => "a token".to_owned(),
            Method::TempAuth { user, .. } => format!("user '{user}'"),
        };
        format!("{who} at {} (from {})", self.auth_url_display(), self.origin)
    }

    /// The auth URL as shown in messages: without the user info it may carry.
    pub fn auth_url_display(&self) -> String {
        sortie_http::redact_userinfo(&self.auth_url)
    }

    /// Every secret these settings send (password, application credential secret, token,
    /// tempauth key), to be removed from any server answer quoted in a message.
    pub fn secrets(&self) -> Vec<&str> {
        let secret = match &self.method {
            Method::Password { password, .. } => password,
            Method::ApplicationCredential { secret, .. } => secret,
            Method::Token { token, .. } => token,
            Method::TempAuth { key, .. } => key,
        };
        let userinfo = self.auth_url.split_once("://").and_then(|(_, rest)| {
            let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
            authority.rsplit_once('@').map(|(userinfo, _)| userinfo)
        });
        let password = userinfo.and_then(|u| u.split_once(':')).map(|(_, password)| password);
        [Some(secret.expose()), userinfo, password].into_iter().flatten().filter(|s| !s.is_empty()).collect()
    }
}

/// Reads the credentials from the source's settings and the environment (`env`, so that
/// tests and embedding programs need not touch the process environment). A secret given as
/// a setting (`--set password=…`) takes precedence over the one found in the environment or
/// the cloud's files.
pub fn resolve(options: &SourceSettings, env: &dyn Fn(&str) -> Option<String>) -> Result<Credentials> {
    let var = |name: &str| env(name).filter(|v| !v.is_empty());
    let (keys, origin) = if let Some(cloud) = options.cloud.clone().or_else(|| var("OS_CLOUD")) {
        from_cloud(&cloud, env)?
    } else if let Some(auth_url) = var("ST_AUTH") {
        return tempauth(auth_url, options, env);
    } else if var("OS_AUTH_URL").is_some() {
        let keys: BTreeMap<String, String> = ENV_KEYS
            .iter()
            .filter_map(|(key, names)| names.iter().find_map(|n| var(n)).map(|v| ((*key).to_owned(), v)))
            .collect();
        (keys, "the OS_* environment variables".to_owned())
    } else {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            "no OpenStack credentials: name a clouds.yaml cloud (--os-cloud or OS_CLOUD), source your \
             project's openrc file (OS_AUTH_URL, OS_USERNAME, OS_PASSWORD, OS_PROJECT_NAME…), or set \
             ST_AUTH, ST_USER and ST_KEY for a Swift cluster with its own authentication",
        ));
    };
    let mut keys = keys;
    for (key, given) in [
        ("password", &options.password),
        ("application_credential_secret", &options.application_credential_secret),
        ("token", &options.token),
    ] {
        if let Some(given) = given {
            keys.insert(key.to_owned(), given.expose().to_owned());
        }
    }
    let credentials = from_keys(&keys, &origin)?;
    with_endpoint_choice(credentials, options)
}

/// The region and interface given as settings, over those read with the credentials.
fn with_endpoint_choice(mut credentials: Credentials, options: &SourceSettings) -> Result<Credentials> {
    if let Some(region) = options.region.clone() {
        credentials.region = Some(region);
    }
    if let Some(interface) = options.interface.clone() {
        credentials.interface = interface;
    }
    credentials.interface = normalize_interface(&credentials.interface)?;
    Ok(credentials)
}

/// The `OS_*` variables, under the `clouds.yaml` key each one stands for (first one set wins).
const ENV_KEYS: &[(&str, &[&str])] = &[
    ("auth_url", &["OS_AUTH_URL"]),
    ("auth_type", &["OS_AUTH_TYPE"]),
    ("identity_api_version", &["OS_IDENTITY_API_VERSION"]),
    ("username", &["OS_USERNAME"]),
    ("user_id", &["OS_USER_ID"]),
    ("password", &["OS_PASSWORD"]),
    ("project_name", &["OS_PROJECT_NAME", "OS_TENANT_NAME"]),
    ("project_id", &["OS_PROJECT_ID", "OS_TENANT_ID"]),
    ("user_domain_name", &["OS_USER_DOMAIN_NAME"]),
    ("user_domain_id", &["OS_USER_DOMAIN_ID"]),
    ("project_domain_name", &["OS_PROJECT_DOMAIN_NAME"]),
    ("project_domain_id", &["OS_PROJECT_DOMAIN_ID"]),
    ("domain_name", &["OS_DOMAIN_NAME"]),
    ("domain_id", &["OS_DOMAIN_ID"]),
    ("application_credential_id", &["OS_APPLICATION_CREDENTIAL_ID"]),
    ("application_credential_name", &["OS_APPLICATION_CREDENTIAL_NAME"]),
    ("application_credential_secret", &["OS_APPLICATION_CREDENTIAL_SECRET"]),
    ("token", &["OS_TOKEN", "OS_AUTH_TOKEN"]),
    ("region_name", &["OS_REGION_NAME"]),
    ("interface", &["OS_INTERFACE", "OS_ENDPOINT_TYPE"]),
    ("cacert", &["OS_CACERT"]),
];

fn tempauth(auth_url: String, options: &SourceSettings, env: &dyn Fn(&str) -> Option<String>) -> Result<Credentials> {
    let missing = |name: &str| {
        Error::new(ErrorKind::InvalidInput, format!("ST_AUTH is set but {name} is not: set ST_USER and ST_KEY too"))
    };
    let user = env("ST_USER").filter(|v| !v.is_empty()).ok_or_else(|| missing("ST_USER"))?;
    let key = match &options.password {
        Some(given) => given.clone(),
        None => Secret::new(env("ST_KEY").filter(|v| !v.is_empty()).ok_or_else(|| missing("ST_KEY"))?),
    };
    let credentials = Credentials {
        auth_url,
        method: Method::TempAuth { user, key },
        region: None,
        interface: "public".into(),
        ca_cert: env("OS_CACERT").filter(|v| !v.is_empty()).map(PathBuf::from),
        origin: "the ST_* environment variables".into(),
    };
    with_endpoint_choice(credentials, options)
}

/// The keys of one `clouds.yaml` cloud, `secure.yaml` merged over it, and where they were
/// read.
fn from_cloud(cloud: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<(BTreeMap<String, String>, String)> {
    let candidates = config_candidates("clouds", env);
    let Some(path) = candidates.iter().find(|p| p.is_file()) else {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!(
                "cloud '{cloud}' was asked for, but no clouds.yaml exists (looked for {})",
                candidates.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
            ),
        ));
    };
    let clouds = read_clouds(path)?;
    let Some(entry) = clouds.get(cloud) else {
        let known: Vec<&str> = clouds.keys().map(String::as_str).collect();
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!(
                "{} has no cloud '{cloud}' (it defines: {}); check --os-cloud / OS_CLOUD",
                path.display(),
                if known.is_empty() { "none".to_owned() } else { known.join(", ") }
            ),
        ));
    };
    let mut keys = flatten(entry);
    let mut origin = format!("cloud '{cloud}' of {}", path.display());
    if let Some(secure) = config_candidates("secure", env).into_iter().find(|p| p.is_file())
        && let Some(entry) = read_clouds(&secure)?.get(cloud)
    {
        keys.extend(flatten(entry));
        origin.push_str(&format!(" and {}", secure.display()));
    }
    Ok((keys, origin))
}

/// openstacksdk's search order: `OS_CLIENT_CONFIG_FILE` (clouds only), the current
/// directory, the user's configuration directory, `/etc/openstack`.
fn config_candidates(stem: &str, env: &dyn Fn(&str) -> Option<String>) -> Vec<PathBuf> {
    let mut candidates = Vec::new();
    if stem == "clouds"
        && let Some(file) = env("OS_CLIENT_CONFIG_FILE").filter(|v| !v.is_empty())
    {
        candidates.push(PathBuf::from(file));
    }
    candidates.push(PathBuf::from(format!("{stem}.yaml")));
    let config_home = env("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| env("HOME").filter(|v| !v.is_empty()).map(|home| Path::new(&home).join(".config")));
    if let Some(config_home) = config_home {
        candidates.push(config_home.join("openstack").join(format!("{stem}.yaml")));
    }
    candidates.push(PathBuf::from(format!("/etc/openstack/{stem}.yaml")));
    candidates
}

fn read_clouds(path: &Path) -> Result<BTreeMap<String, Value>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(format!("cannot read {}", path.display()), &e))?;
    let invalid = |why: String| Error::new(ErrorKind::InvalidInput, format!("{} is not valid: {why}", path.display()));
    let document: Value = serde_yaml_ng::from_str(&text).map_err(|e| invalid(e.to_string()))?;
    let Some(clouds) = document.get("clouds").and_then(Value::as_mapping) else {
        return Err(invalid("it has no `clouds:` mapping".into()));
    };
    Ok(clouds.iter().filter_map(|(name, entry)| Some((name.as_str()?.to_owned(), entry.clone()))).collect())
}

/// A cloud's settings as one flat map: its `auth:` keys beside the top-level ones.
fn flatten(entry: &Value) -> BTreeMap<String, String> {
    let mut keys = BTreeMap::new();
    let scalar = |value: &Value| match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    for section in [Some(entry), entry.get("auth")].into_iter().flatten() {
        for (key, value) in section.as_mapping().into_iter().flatten() {
            if let (Some(key), Some(value)) = (key.as_str(), scalar(value)) {
                keys.insert(key.to_owned(), value);
            }
        }
    }
    keys
}

/// Builds the settings from `clouds.yaml`-style keys, wherever they were read.
fn from_keys(keys: &BTreeMap<String, String>, origin: &str) -> Result<Credentials> {
    let get = |key: &str| keys.get(key).filter(|v| !v.is_empty()).cloned();
    let invalid = |why: String| Error::new(ErrorKind::InvalidInput, format!("{why} (settings from {origin})"));
    let auth_url = get("auth_url").ok_or_else(|| invalid("no auth_url (OS_AUTH_URL) is given".into()))?;
    if let Some(version) = get("identity_api_version").filter(|v| !v.starts_with('3')) {
        return Err(invalid(format!(
            "identity API version {version} is asked for; only Keystone v3 is supported (v2 was removed from \
             OpenStack in 2020)"
        )));
    }
    let domain = |name_key: &str, id_key: &str| {
        get(id_key)
            .map(Domain::Id)
            .or_else(|| get(name_key).map(Domain::Name))
            .or_else(|| get("domain_id").map(Domain::Id))
            .or_else(|| get("domain_name").map(Domain::Name))
    };
    let user = || -> Option<Named> {
        get("user_id").map(Named::Id).or_else(|| {
            get("username").map(|name| Named::Name { name, domain: domain("user_domain_name", "user_domain_id") })
        })
    };
    let project = || -> Option<Named> {
        get("project_id").map(Named::Id).or_else(|| {
            get("project_name")
                .map(|name| Named::Name { name, domain: domain("project_domain_name", "project_domain_id") })
        })
    };
    let kind = get("auth_type").unwrap_or_else(|| {
        if get("application_credential_secret").is_some() {
            "v3applicationcredential".into()
        } else if get("token").is_some() && get("password").is_none() {
            "v3token".into()
        } else {
            "password".into()
        }
    });
    let method = match kind.as_str() {
        "password" | "v3password" => Method::Password {
            user: user().ok_or_else(|| invalid("no user is given (OS_USERNAME or OS_USER_ID)".into()))?,
            password: Secret::new(get("password").ok_or_else(|| invalid("no password is given (OS_PASSWORD)".into()))?),
            project: project()
                .ok_or_else(|| invalid("no project is given (OS_PROJECT_NAME or OS_PROJECT_ID)".into()))?,
        },
        "v3applicationcredential" | "applicationcredential" => {
            let credential = match (get("application_credential_id"), get("application_credential_name")) {
                (Some(id), _) => Named::Id(id),
                (None, Some(name)) if user().is_some() => Named::Name { name, domain: None },
                (None, Some(_)) => {
                    return Err(invalid(
                        "an application credential given by name needs its user (OS_USERNAME or OS_USER_ID)".into(),
                    ));
                }
                (None, None) => {
                    return Err(invalid(
                        "no application credential is given (OS_APPLICATION_CREDENTIAL_ID or _NAME)".into(),
                    ));
                }
            };
            let secret = get("application_credential_secret").ok_or_else(|| {
                invalid("no application credential secret is given (OS_APPLICATION_CREDENTIAL_SECRET)".into())
            })?;
            Method::ApplicationCredential { credential, user: user(), secret: Secret::new(secret) }
        }
        "token" | "v3token" => Method::Token {
            token: Secret::new(get("token").ok_or_else(|| invalid("no token is given (OS_TOKEN)".into()))?),
            project: project(),
        },
        other => {
            return Err(invalid(format!(
                "auth type '{other}' is not supported: use password, v3applicationcredential or v3token"
            )));
        }
    };
    Ok(Credentials {
        auth_url: keystone_v3(&auth_url),
        method,
        region: get("region_name"),
        interface: get("interface").unwrap_or_else(|| "public".into()),
        ca_cert: get("cacert").map(PathBuf::from),
        origin: origin.to_owned(),
    })
}

/// Keystone's v3 root: clouds.yaml often gives the bare service URL.
fn keystone_v3(auth_url: &str) -> String {
    let trimmed = auth_url.trim_end_matches('/');
    if trimmed.ends_with("/v3") { trimmed.to_owned() } else { format!("{trimmed}/v3") }
}

/// `public`, `internal` or `admin`, also from the old `publicURL` spellings.
fn normalize_interface(interface: &str) -> Result<String> {
    let lower = interface.to_ascii_lowercase();
    let plain = lower.strip_suffix("url").unwrap_or(&lower);
    match plain {
        "public" | "internal" | "admin" => Ok(plain.to_owned()),
        _ => Err(Error::new(
            ErrorKind::InvalidInput,
            format!("interface '{interface}' is not one of public, internal, admin (OS_INTERFACE, --os-interface)"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn resolve_with(vars: &[(&str, &str)], options: &SourceSettings) -> Result<Credentials> {
        let vars: HashMap<String, String> = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        resolve(options, &|name| vars.get(name).cloned())
    }

    #[test]
    fn debug_renders_neither_secrets_nor_the_auth_urls_user_info() {
        let credentials = Credentials {
            auth_url: "https://admin:url-secret@keystone.example/v3".into(),
            method: Method::Password {
                user: Named::Id("u1".into()),
                password: Secret::new("password-secret"),
                project: Named::Id("p1".into()),
            },
            region: None,
            interface: "public".into(),
            ca_cert: None,
            origin: "test".into(),
        };
        let shown = format!("{credentials:?}");
        assert!(!shown.contains("url-secret") && !shown.contains("password-secret"), "{shown}");
        assert!(shown.contains("keystone.example/v3") && shown.contains("u1"), "{shown}");
    }

    #[test]
    fn openrc_variables_give_a_scoped_password_login() {
        let settings = resolve_with(
            &[
                ("OS_AUTH_URL", "https://auth.cloud.ovh.net/v3/"),
                ("OS_USERNAME", "user-x"),
                ("OS_PASSWORD", "hunter2"),
                ("OS_TENANT_NAME", "1234"),
                ("OS_USER_DOMAIN_NAME", "Default"),
                ("OS_REGION_NAME", "GRA"),
                ("OS_INTERFACE", "publicURL"),
            ],
            &SourceSettings::default(),
        )
        .unwrap();
        assert_eq!(settings.auth_url, "https://auth.cloud.ovh.net/v3");
        assert_eq!(settings.region.as_deref(), Some("GRA"));
        assert_eq!(settings.interface, "public");
        let Method::Password { user, password, project } = &settings.method else { panic!("{settings:?}") };
        assert_eq!(user, &Named::Name { name: "user-x".into(), domain: Some(Domain::Name("Default".into())) });
        assert_eq!(password.expose(), "hunter2");
        assert_eq!(project, &Named::Name { name: "1234".into(), domain: None });
        let label = settings.identity_label();
        assert!(label.contains("user 'user-x' (domain 'Default')") && !label.contains("hunter2"), "{label}");
        assert!(!format!("{settings:?}").contains("hunter2"));
    }

    #[test]
    fn application_credentials_tokens_and_tempauth() {
        let settings = resolve_with(
            &[
                ("OS_AUTH_URL", "http://k:5000"),
                ("OS_APPLICATION_CREDENTIAL_ID", "abc"),
                ("OS_APPLICATION_CREDENTIAL_SECRET", "s3cr3t"),
            ],
            &SourceSettings::default(),
        )
        .unwrap();
        assert_eq!(settings.auth_url, "http://k:5000/v3");
        assert!(matches!(settings.method, Method::ApplicationCredential { credential: Named::Id(_), .. }));
        let by_name = resolve_with(
            &[
                ("OS_AUTH_URL", "http://k/v3"),
                ("OS_AUTH_TYPE", "v3applicationcredential"),
                ("OS_APPLICATION_CREDENTIAL_NAME", "backup"),
                ("OS_APPLICATION_CREDENTIAL_SECRET", "s3cr3t"),
            ],
            &SourceSettings::default(),
        );
        assert!(by_name.unwrap_err().to_string().contains("needs its user"));
        let token = resolve_with(
            &[("OS_AUTH_URL", "http://k/v3"), ("OS_TOKEN", "gAAAA"), ("OS_PROJECT_ID", "p1")],
            &Default::default(),
        )
        .unwrap();
        assert!(matches!(token.method, Method::Token { project: Some(Named::Id(_)), .. }));
        // ST_AUTH wins over OS_AUTH_URL, as in python-swiftclient.
        let swift = resolve_with(
            &[
                ("ST_AUTH", "http://s/auth/v1.0"),
                ("ST_USER", "test:tester"),
                ("ST_KEY", "k"),
                ("OS_AUTH_URL", "http://k"),
            ],
            &Default::default(),
        )
        .unwrap();
        assert!(matches!(swift.method, Method::TempAuth { .. }));
        assert!(
            resolve_with(&[("ST_AUTH", "http://s")], &Default::default()).unwrap_err().to_string().contains("ST_USER")
        );
    }

    #[test]
    fn missing_or_unsupported_settings_say_what_to_set() {
        let message = |vars: &[(&str, &str)]| resolve_with(vars, &SourceSettings::default()).unwrap_err().to_string();
        assert!(message(&[]).contains("no OpenStack credentials"));
        assert!(message(&[("OS_AUTH_URL", "http://k"), ("OS_USERNAME", "u")]).contains("no password"));
        assert!(
            message(&[("OS_AUTH_URL", "http://k"), ("OS_USERNAME", "u"), ("OS_PASSWORD", "p")]).contains("no project")
        );
        assert!(message(&[("OS_AUTH_URL", "http://k"), ("OS_IDENTITY_API_VERSION", "2")]).contains("only Keystone v3"));
        assert!(message(&[("OS_AUTH_URL", "http://k"), ("OS_AUTH_TYPE", "saml2")]).contains("not supported"));
        let options = SourceSettings { interface: Some("private".into()), ..Default::default() };
        let error = resolve_with(&[("ST_AUTH", "http://s"), ("ST_USER", "u"), ("ST_KEY", "k")], &options).unwrap_err();
        assert!(error.to_string().contains("not one of public"));
    }

    #[test]
    fn clouds_yaml_is_found_like_openstacksdk_and_secure_yaml_merged() {
        let home = tempfile::tempdir().unwrap();
        let dir = home.path().join(".config/openstack");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("clouds.yaml"),
            "clouds:\n  ovh:\n    auth:\n      auth_url: https://auth.cloud.ovh.net/\n      username: u\n      \
             project_name: p\n      user_domain_name: Default\n      project_domain_id: default\n    region_name: SBG\n",
        )
        .unwrap();
        std::fs::write(dir.join("secure.yaml"), "clouds:\n  ovh:\n    auth:\n      password: from-secure\n").unwrap();
        let home_text = home.path().to_str().unwrap();
        let options = SourceSettings { cloud: Some("ovh".into()), region: Some("GRA".into()), ..Default::default() };
        let settings = resolve_with(&[("HOME", home_text)], &options).unwrap();
        assert_eq!(settings.auth_url, "https://auth.cloud.ovh.net/v3");
        assert_eq!(settings.region.as_deref(), Some("GRA"), "--os-region wins over the cloud's region");
        let Method::Password { password, project, .. } = &settings.method else { panic!() };
        assert_eq!(password.expose(), "from-secure");
        assert_eq!(project, &Named::Name { name: "p".into(), domain: Some(Domain::Id("default".into())) });
        assert!(settings.origin.contains("cloud 'ovh'") && settings.origin.contains("secure.yaml"));
        let unknown = resolve_with(&[("HOME", home_text), ("OS_CLOUD", "nope")], &SourceSettings::default());
        assert!(unknown.unwrap_err().to_string().contains("has no cloud 'nope' (it defines: ovh)"));
        let nowhere = resolve_with(&[("HOME", "/nonexistent"), ("OS_CLOUD", "x")], &SourceSettings::default());
        assert!(nowhere.unwrap_err().to_string().contains("no clouds.yaml exists"));
    }

    #[test]
    fn secrets_given_as_settings_win_over_the_environment() {
        let options = SourceSettings {
            password: Some(Secret::new("from-setting")),
            token: Some(Secret::new("token-setting")),
            ..Default::default()
        };
        let openrc = [
            ("OS_AUTH_URL", "http://k/v3"),
            ("OS_USERNAME", "u"),
            ("OS_PASSWORD", "from-env"),
            ("OS_PROJECT_ID", "p1"),
        ];
        let settings = resolve_with(&openrc, &options).unwrap();
        let Method::Password { password, .. } = &settings.method else { panic!("{settings:?}") };
        assert_eq!(password.expose(), "from-setting");
        let without_env_password = resolve_with(&openrc[..2], &options);
        assert!(without_env_password.unwrap_err().to_string().contains("no project"), "the password was given");
        let swift = resolve_with(&[("ST_AUTH", "http://s"), ("ST_USER", "u")], &options).unwrap();
        assert!(matches!(swift.method, Method::TempAuth { ref key, .. } if key.expose() == "from-setting"));
        let secret =
            SourceSettings { application_credential_secret: Some(Secret::new("s3cr3t")), ..Default::default() };
        let credential = resolve_with(&[("OS_AUTH_URL", "http://k"), ("OS_APPLICATION_CREDENTIAL_ID", "abc")], &secret);
        assert!(matches!(credential.unwrap().method, Method::ApplicationCredential { .. }));
    }
}
