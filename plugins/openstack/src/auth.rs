//! Getting a token and the object store's URL: Keystone v3 (and its catalog) or Swift's v1
//! authentication.

use reqwest::{Response, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use sortie_sdk::error::{Error, ErrorKind, Result};

use crate::credentials::{Credentials, Domain, Method, Named, Secret};
use crate::error::{self, unreachable};

/// What one authentication gives.
#[derive(Debug)]
pub struct Session {
    pub token: Secret,
    /// The account's URL (`…/v1/AUTH_<project id>`) as Swift's v1 authentication gives it;
    /// with Keystone it comes from the catalog.
    storage_url: Option<String>,
    catalog: Vec<Service>,
    /// The project the token is scoped to (Keystone), id and a name for messages.
    pub project_id: Option<String>,
    project: String,
    /// Who the token speaks for, as the restitution report names the account: Keystone's
    /// user and project (names and ids), or TempAuth's user. Never the token.
    pub account: String,
}

impl Session {
    /// The account's URL, without a trailing slash.
    pub fn storage_url(&self, credentials: &Credentials) -> Result<String> {
        if let Some(url) = &self.storage_url {
            return Ok(url.clone());
        }
        match endpoint(&self.catalog, &["object-store"], credentials)? {
            Some(url) => Ok(url.trim_end_matches('/').to_owned()),
            None => {
                let mut offered: Vec<&str> = self.catalog.iter().map(|s| s.kind.as_str()).collect();
                offered.sort();
                Err(Error::new(
                    ErrorKind::Unsupported,
                    format!(
                        "the catalog of project {} offers no object-store service (it offers: {}); this cloud has \
                         no Swift, or this project cannot use it",
                        self.project,
                        if offered.is_empty() { "nothing".to_owned() } else { offered.join(", ") }
                    ),
                ))
            }
        }
    }

    /// Whether `url` is on an origin (scheme, host, port) the token is meant for: the object
    /// store's, or one of the catalog's endpoints. Locators, cursors and paging links are
    /// data a journal or another process hands back; the token must follow none of them
    /// elsewhere.
    pub fn allows(&self, url: &str) -> bool {
        let Some(origin) = reqwest::Url::parse(url).ok().map(|u| u.origin()) else { return false };
        let catalog = self.catalog.iter().flat_map(|s| s.endpoints.iter().map(|e| e.url.as_str()));
        self.storage_url
            .iter()
            .map(String::as_str)
            .chain(catalog)
            .any(|known| reqwest::Url::parse(known).is_ok_and(|known| known.origin() == origin))
    }

    /// The URL of the first of `kinds` (service types, newest name first) the catalog
    /// offers for the configured region and interface, or `None` when it offers none of
    /// them there (and Swift's v1 authentication has no catalog). A service offered in
    /// several regions when none was chosen is an error.
    pub fn service_url(&self, kinds: &[&str], credentials: &Credentials) -> Result<Option<String>> {
        match endpoint(&self.catalog, kinds, credentials) {
            Ok(url) => Ok(url.map(|u| u.trim_end_matches('/').to_owned())),
            Err(_) if credentials.region.is_some() => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// Authenticates once. Failures name the identity, the URL and the server's reason, never
/// the password, secret or token.
pub async fn login(http: &reqwest::Client, credentials: &Credentials) -> Result<Session> {
    match &credentials.method {
        Method::TempAuth { user, key } => tempauth(http, credentials, user, key).await,
        _ => keystone(http, credentials).await,
    }
}

async fn tempauth(http: &reqwest::Client, credentials: &Credentials, user: &str, key: &Secret) -> Result<Session> {
    let request = http.get(&credentials.auth_url).header("X-Auth-User", user).header("X-Auth-Key", key.expose());
    let response = sortie_http::logged(&reqwest::Method::GET, &credentials.auth_url, async {
        request.send().await.map_err(|e| unreachable(&credentials.auth_url_display(), &e))
    })
    .await?;
    let status = response.status();
    if !status.is_success() {
        return Err(refusal(credentials, status, response).await);
    }
    let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    match (header("x-storage-url"), header("x-auth-token")) {
        (Some(url), Some(token)) => Ok(Session {
            token: Secret::new(token),
            storage_url: Some(url.trim_end_matches('/').to_owned()),
            catalog: Vec::new(),
            project_id: None,
            project: user.to_owned(),
            account: format!("user {user}"),
        }),
        _ => Err(Error::new(
            ErrorKind::Other,
            format!(
                "{} answered without X-Storage-Url and X-Auth-Token: is ST_AUTH a Swift v1 auth URL?",
                credentials.auth_url_display()
            ),
        )),
    }
}

#[derive(Deserialize)]
struct TokenAnswer {
    token: TokenBody,
}

#[derive(Deserialize)]
struct TokenBody {
    #[serde(default)]
    catalog: Vec<Service>,
    project: Option<Project>,
    user: Option<Project>,
}

/// A project or user in a token: an id and, mostly, a name.
#[derive(Deserialize)]
struct Project {
    id: String,
    name: Option<String>,
}

impl Project {
    /// `name (id)`, or the id alone.
    fn label(&self) -> String {
        match &self.name {
            Some(name) => format!("{name} ({})", self.id),
            None => self.id.clone(),
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct Service {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    endpoints: Vec<Endpoint>,
}

#[derive(Debug, Deserialize)]
struct Endpoint {
    interface: String,
    region_id: Option<String>,
    region: Option<String>,
    url: String,
}

async fn keystone(http: &reqwest::Client, credentials: &Credentials) -> Result<Session> {
    let response = request_token(http, credentials, true).await?;
    let status = response.status();
    if !status.is_success() {
        let mut error = refusal(credentials, status, response).await;
        // Keystone answers an unknown project exactly as a wrong password: asking again
        // without the project tells the two apart.
        if status == StatusCode::UNAUTHORIZED
            && matches!(credentials.method, Method::Password { .. })
            && let Ok(unscoped) = request_token(http, credentials, false).await
            && unscoped.status().is_success()
        {
            error = Error::new(
                ErrorKind::PermissionDenied,
                format!(
                    "Keystone accepted the password of {}, but not the project: it does not exist, or the user has \
                     no role on it (check OS_PROJECT_NAME/OS_PROJECT_ID and the project's domain)",
                    credentials.identity_label()
                ),
            );
        }
        return Err(error);
    }
    let token = response
        .headers()
        .get("x-subject-token")
        .and_then(|v| v.to_str().ok())
        .map(|t| Secret::new(t.to_owned()))
        .ok_or_else(|| {
            Error::new(
                ErrorKind::Other,
                format!("Keystone at {} answered without X-Subject-Token", credentials.auth_url_display()),
            )
        })?;
    let bytes = response.bytes().await.map_err(|e| {
        Error::new(
            ErrorKind::Unavailable,
            format!("reading Keystone's token at {}: {e}", credentials.auth_url_display()),
        )
        .temporary()
    })?;
    let body: TokenAnswer = serde_json::from_slice(&bytes).map_err(|e| {
        Error::new(
            ErrorKind::Other,
            format!("Keystone's token at {} cannot be read: {e}", credentials.auth_url_display()),
        )
    })?;
    let project_id = body.token.project.as_ref().map(|p| p.id.clone());
    let account = [("user", &body.token.user), ("project", &body.token.project)]
        .into_iter()
        .filter_map(|(what, named)| Some(format!("{what} {}", named.as_ref()?.label())))
        .collect::<Vec<_>>()
        .join(", ");
    let project = body.token.project.map(|p| p.name.unwrap_or(p.id)).unwrap_or_else(|| "(none)".into());
    Ok(Session { token, storage_url: None, catalog: body.token.catalog, project_id, project, account })
}

async fn request_token(http: &reqwest::Client, credentials: &Credentials, scoped: bool) -> Result<Response> {
    let url = format!("{}/auth/tokens", credentials.auth_url);
    let body = serde_json::to_vec(&token_request(&credentials.method, scoped)).expect("JSON serializes");
    let request = http.post(&url).header("Content-Type", "application/json").body(body);
    sortie_http::logged(&reqwest::Method::POST, &url, async {
        request.send().await.map_err(|e| unreachable(&credentials.auth_url_display(), &e))
    })
    .await
}

/// The body of `POST /v3/auth/tokens`.
fn token_request(method: &Method, scoped: bool) -> Value {
    let named = |n: &Named| match n {
        Named::Id(id) => json!({ "id": id }),
        Named::Name { name, domain } => {
            let domain = match domain {
                Some(Domain::Id(id)) => json!({ "id": id }),
                Some(Domain::Name(name)) => json!({ "name": name }),
                // Keystone requires a domain with a name; "default" is the one every
                // deployment has, as openstacksdk assumes.
                None => json!({ "id": "default" }),
            };
            json!({ "name": name, "domain": domain })
        }
    };
    let (identity, project) = match method {
        Method::Password { user, password, project } => {
            let mut user = named(user);
            user["password"] = json!(password.expose());
            (json!({ "methods": ["password"], "password": { "user": user } }), Some(project))
        }
        Method::ApplicationCredential { credential, user, secret } => {
            let mut credential = match credential {
                Named::Id(id) => json!({ "id": id }),
                Named::Name { name, .. } => json!({ "name": name }),
            };
            credential["secret"] = json!(secret.expose());
            if let Some(user) = user {
                credential["user"] = named(user);
            }
            (json!({ "methods": ["application_credential"], "application_credential": credential }), None)
        }
        Method::Token { token, project } => {
            (json!({ "methods": ["token"], "token": { "id": token.expose() } }), project.as_ref())
        }
        Method::TempAuth { .. } => unreachable!("tempauth does not use Keystone"),
    };
    match project.filter(|_| scoped) {
        Some(project) => json!({ "auth": { "identity": identity, "scope": { "project": named(project) } } }),
        None => json!({ "auth": { "identity": identity } }),
    }
}

/// The URL of the first of `kinds` the catalog has, for the configured interface and
/// region; `None` when the catalog has none of them.
fn endpoint(catalog: &[Service], kinds: &[&str], credentials: &Credentials) -> Result<Option<String>> {
    let Some(found) = kinds.iter().find_map(|kind| catalog.iter().find(|s| s.kind == *kind)) else {
        return Ok(None);
    };
    let service = &found.kind;
    let region_of = |e: &Endpoint| e.region_id.clone().or_else(|| e.region.clone()).unwrap_or_default();
    let on_interface: Vec<&Endpoint> =
        found.endpoints.iter().filter(|e| e.interface == credentials.interface).collect();
    let mut regions: Vec<String> = on_interface.iter().map(|e| region_of(e)).collect();
    regions.sort();
    regions.dedup();
    let listed = if regions.is_empty() { "none".to_owned() } else { regions.join(", ") };
    let chosen: Vec<&&Endpoint> = match &credentials.region {
        Some(region) => on_interface.iter().filter(|e| &region_of(e) == region).collect(),
        None if regions.len() > 1 => {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "{service} is offered in several regions ({listed}): choose one with OS_REGION_NAME or --os-region"
                ),
            ));
        }
        None => on_interface.iter().collect(),
    };
    match chosen.first() {
        Some(endpoint) => Ok(Some(endpoint.url.clone())),
        None => Err(Error::new(
            ErrorKind::InvalidInput,
            match &credentials.region {
                Some(region) => format!(
                    "no {} {service} endpoint in region '{region}'; regions offering it: {listed} (OS_REGION_NAME, \
                     --os-region)",
                    credentials.interface
                ),
                None => format!(
                    "the catalog has no {} {service} endpoint (OS_INTERFACE, --os-interface)",
                    credentials.interface
                ),
            },
        )),
    }
}

/// An authentication answered with an error status. Its reason is Keystone's JSON message,
/// else the page's text, either as a bounded excerpt without what the request sent (a
/// server may echo the request's headers, `X-Auth-Key` included).
async fn refusal(credentials: &Credentials, status: StatusCode, response: Response) -> Error {
    let bytes = response.bytes().await.unwrap_or_default();
    let message = serde_json::from_slice::<Value>(&bytes)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(|m| m.as_bytes().to_vec()));
    let reason = sortie_http::excerpt(message.as_deref().unwrap_or(&bytes), &credentials.secrets());
    let hint = match credentials.method {
        Method::Token { .. } => "the token is wrong or has expired: give a fresh one (OS_TOKEN)",
        Method::TempAuth { .. } => "check ST_USER and ST_KEY",
        _ => "check the password or secret, the user's and project's domains, and the auth URL",
    };
    error::login_refused(status, &credentials.identity_label(), &credentials.auth_url_display(), &reason, hint)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Vec<Service> {
        serde_json::from_value(json!([
            {"type": "identity", "endpoints": [{"interface": "public", "region_id": "GRA", "url": "https://k"}]},
            {"type": "object-store", "endpoints": [
                {"interface": "public", "region_id": "GRA", "url": "https://s.gra/v1/AUTH_p/"},
                {"interface": "internal", "region_id": "GRA", "url": "http://10.0.0.1/v1/AUTH_p"},
                {"interface": "public", "region": "SBG", "url": "https://s.sbg/v1/AUTH_p"}
            ]}
        ]))
        .unwrap()
    }

    fn credentials(region: Option<&str>, interface: &str) -> Credentials {
        Credentials {
            auth_url: "https://k/v3".into(),
            method: Method::Token { token: Secret::new("t"), project: None },
            region: region.map(str::to_owned),
            interface: interface.into(),
            ca_cert: None,
            origin: "test".into(),
        }
    }

    #[test]
    fn the_endpoint_is_chosen_by_interface_and_region() {
        let pick = |region, interface, service| endpoint(&catalog(), &[service], &credentials(region, interface));
        assert_eq!(pick(Some("SBG"), "public", "object-store").unwrap().unwrap(), "https://s.sbg/v1/AUTH_p");
        assert_eq!(pick(Some("GRA"), "internal", "object-store").unwrap().unwrap(), "http://10.0.0.1/v1/AUTH_p");
        let ambiguous = pick(None, "public", "object-store").unwrap_err().to_string();
        assert!(ambiguous.contains("several regions (GRA, SBG)"), "{ambiguous}");
        let unknown = pick(Some("BHS"), "public", "object-store").unwrap_err().to_string();
        assert!(unknown.contains("region 'BHS'; regions offering it: GRA, SBG"), "{unknown}");
        assert_eq!(pick(Some("GRA"), "public", "image").unwrap(), None);
        let session = Session {
            token: Secret::new("t"),
            storage_url: None,
            catalog: catalog().into_iter().filter(|s| s.kind != "object-store").collect(),
            project_id: None,
            project: "p".into(),
            account: "user u".into(),
        };
        // Another service: absent from the chosen region means "not offered" there, but a
        // service in several regions needs a choice.
        assert_eq!(session.service_url(&["identity"], &credentials(Some("SBG"), "public")).unwrap(), None);
        let whole = Session { catalog: catalog(), ..session };
        assert!(whole.service_url(&["object-store"], &credentials(None, "public")).is_err());
        let session =
            Session { catalog: whole.catalog.into_iter().filter(|s| s.kind != "object-store").collect(), ..whole };
        let absent = session.storage_url(&credentials(None, "public")).unwrap_err();
        assert_eq!(absent.kind(), ErrorKind::Unsupported);
        assert!(absent.to_string().contains("offers no object-store service (it offers: identity)"), "{absent}");
    }

    #[test]
    fn token_requests_follow_keystone_v3() {
        let password = Method::Password {
            user: Named::Name { name: "u".into(), domain: Some(Domain::Name("Default".into())) },
            password: Secret::new("pw"),
            project: Named::Id("p1".into()),
        };
        let body = token_request(&password, true);
        assert_eq!(body["auth"]["identity"]["password"]["user"]["domain"]["name"], "Default");
        assert_eq!(body["auth"]["identity"]["password"]["user"]["password"], "pw");
        assert_eq!(body["auth"]["scope"]["project"]["id"], "p1");
        assert!(token_request(&password, false)["auth"].get("scope").is_none());
        let credential = Method::ApplicationCredential {
            credential: Named::Name { name: "backup".into(), domain: None },
            user: Some(Named::Id("u1".into())),
            secret: Secret::new("s"),
        };
        let body = token_request(&credential, true);
        assert_eq!(body["auth"]["identity"]["methods"][0], "application_credential");
        assert_eq!(body["auth"]["identity"]["application_credential"]["user"]["id"], "u1");
        assert!(body["auth"].get("scope").is_none(), "an application credential carries its project");
    }
}
