//! Authenticated Swift requests, and the mapping of Swift's answers to Sortie's error kinds.
//!
//! [`Client::send`] does not retry (the engine retries checks, listing pages and bodies,
//! reading each error's temporary flag), with one exception: a request refused with 401 is
//! sent once more after a fresh authentication, so that a token expiring in the middle of a
//! long export is renewed. The requests a listing page makes besides its own (an SLO's
//! manifest, a zero-byte object's HEAD, a DLO's segment listing) go through
//! [`Client::retried`], so that each is retried on its own rather than with the whole page.

use std::future::Future;
use std::sync::{Arc, Mutex};

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_encode};
use reqwest::{Method, Response, StatusCode};
use sortie_sdk::error::{Error, ErrorKind, Result};
use sortie_sdk::retry::{RetryPolicy, retry};

use crate::auth::{self, Session};
use crate::credentials::Credentials;
use crate::error;

/// What RFC 3986 leaves unreserved stays in a path segment; the rest is encoded.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');
/// An object name keeps its `/`.
const OBJECT: &AsciiSet = &SEGMENT.remove(b'/');
/// Error bodies longer than this are not read whole.
const MAX_ERROR_BODY: usize = 4096;

/// One request: the account, a container or an object, with query parameters.
#[derive(Debug, Clone, Default)]
pub struct Request<'a> {
    pub head: bool,
    pub container: Option<&'a str>,
    pub object: Option<&'a [u8]>,
    /// Query parameters, unencoded; a flag such as `versions` has an empty value.
    pub query: Vec<(&'static str, String)>,
}

impl Request<'_> {
    /// What is asked for, for messages.
    fn target(&self) -> String {
        match (self.container, self.object) {
            (Some(c), Some(o)) => format!("object '{}' of container '{c}'", String::from_utf8_lossy(o)),
            (Some(c), None) => format!("container '{c}'"),
            _ => "the account".to_owned(),
        }
    }
}

pub struct Client {
    http: reqwest::Client,
    /// For object names with `.` or `..` segments, which `http` would resolve away.
    raw: sortie_http::RawPathClient,
    credentials: Credentials,
    /// The current session and its generation (bumped at every renewal).
    session: Mutex<Option<(u64, Arc<Session>)>>,
    /// Held while authenticating, so that concurrent 401s lead to one renewal.
    login: tokio::sync::Mutex<()>,
    /// The user's retry policy (`--retries`), for [`retried`](Self::retried).
    policy: RetryPolicy,
}

impl Client {
    pub fn new(credentials: Credentials) -> Result<Self> {
        let http = sortie_http::client(credentials.ca_cert.as_deref())?;
        let raw = sortie_http::RawPathClient::new(credentials.ca_cert.as_deref())?;
        Ok(Self {
            http,
            raw,
            credentials,
            session: Mutex::new(None),
            login: tokio::sync::Mutex::new(()),
            policy: RetryPolicy::default(),
        })
    }

    /// Retries [`retried`](Self::retried) requests with `policy` instead of the default.
    pub fn with_retry(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Runs `op` (one request and the reading of its answer) until it succeeds, fails for
    /// good, or the retries are spent, honouring `Retry-After`. An error still temporary
    /// after the last attempt is returned as permanent, so that the engine's retry of the
    /// page does not multiply the attempts, and the object concerned fails alone.
    pub async fn retried<T, Fut>(&self, what: &str, op: impl FnMut() -> Fut) -> Result<T>
    where
        Fut: Future<Output = Result<T>>,
    {
        let on_retry = |attempt: u32, error: &Error| tracing::debug!(what, attempt, %error, "retrying");
        let (result, attempts) = retry(&self.policy, on_retry, op).await;
        result.map_err(|error| error.gave_up_after(attempts))
    }

    /// The account's URL, authenticating first if needed.
    pub async fn storage_url(&self) -> Result<String> {
        self.session().await?.1.storage_url(&self.credentials)
    }

    /// Where the credentials lead, as resolution writes it after each source (` at …`): the
    /// object store's account URL without user info, or, for a project whose catalog offers
    /// no object store, the project's Keystone URL (`…/v3/projects/ID`).
    pub async fn account(&self) -> Result<String> {
        let session = self.session().await?.1;
        match session.storage_url(&self.credentials) {
            Ok(url) => Ok(sortie_http::redact_userinfo(&url)),
            Err(e) if e.kind() == ErrorKind::Unsupported => match &session.project_id {
                Some(id) => Ok(format!("{}/projects/{}", self.credentials.auth_url_display(), segment(id))),
                None => Err(e),
            },
            Err(e) => Err(e),
        }
    }

    /// Refuses a source resolved for the account `described` when the credentials now lead
    /// to another: a plan made for one project, exported with another's credentials, would
    /// export the other's containers under the first one's names.
    pub async fn check_account(&self, described: Option<&str>) -> Result<()> {
        let Some(described) = described else { return Ok(()) };
        let current = self.account().await?;
        if described == current {
            return Ok(());
        }
        Err(Error::new(
            ErrorKind::InvalidInput,
            format!(
                "the source was resolved for the account {described}, but the credentials and settings now lead to \
                 {current}: give that project's credentials (OS_*, --os-cloud, --os-region), or resolve the source \
                 again with `sortie plan`"
            ),
        ))
    }

    /// The URL of the first of `kinds` the catalog offers; `None` when it offers none.
    pub async fn service_url(&self, kinds: &[&str]) -> Result<Option<String>> {
        self.session().await?.1.service_url(kinds, &self.credentials)
    }

    /// The id of the project the token is scoped to (Keystone only).
    pub async fn project_id(&self) -> Result<Option<String>> {
        Ok(self.session().await?.1.project_id.clone())
    }

    /// Who the current token speaks for (see [`Session::account`]); `None` before the
    /// first login.
    pub fn identity(&self) -> Option<String> {
        let session = self.session.lock().expect("session");
        session.as_ref().map(|(_, session)| session.account.clone()).filter(|a| !a.is_empty())
    }

    async fn session(&self) -> Result<(u64, Arc<Session>)> {
        if let Some(current) = self.session.lock().expect("session").clone() {
            return Ok(current);
        }
        self.renew(None).await
    }

    /// Authenticates, unless another task already did since generation `seen`.
    async fn renew(&self, seen: Option<u64>) -> Result<(u64, Arc<Session>)> {
        let _login = self.login.lock().await;
        let current = self.session.lock().expect("session").clone();
        if let Some(current) = current
            && Some(current.0) != seen
        {
            return Ok(current);
        }
        let session = Arc::new(auth::login(&self.http, &self.credentials).await?);
        let generation = seen.map_or(0, |g| g + 1);
        if seen.is_some() {
            tracing::info!("the object store refused the token (expired or revoked): authenticated again");
        }
        *self.session.lock().expect("session") = Some((generation, session.clone()));
        Ok((generation, session))
    }

    /// Sends `request` and returns the response when its status is a success.
    pub async fn send(&self, request: &Request<'_>) -> Result<Response> {
        self.send_with(request, &[]).await
    }

    /// Sends `request` with extra headers (`Range`, `If-Match`); a `412 Precondition
    /// Failed` is the object changed while it was read in ranges.
    pub async fn send_with(&self, request: &Request<'_>, headers: &[(&str, &str)]) -> Result<Response> {
        let method = if request.head { Method::HEAD } else { Method::GET };
        let response = self
            .send_to(method, &|session| Ok(url(&session.storage_url(&self.credentials)?, request)), None, headers)
            .await?;
        if response.status().is_success() {
            return Ok(response);
        }
        if response.status() == StatusCode::PRECONDITION_FAILED {
            return Err(sortie_http::changed_while_read(&request.target()));
        }
        Err(self.failure(&request.target(), response).await)
    }

    /// GETs a URL of another OpenStack service with the token; `what` names it in messages.
    pub async fn get(&self, url: &str, headers: &[(&str, &str)], what: &str) -> Result<Response> {
        self.call(Method::GET, url, None, headers, what).await
    }

    /// Sends a request (with a JSON body, for an action) to a URL of another OpenStack
    /// service with the token; `what` names it in messages.
    pub async fn call(
        &self,
        method: Method,
        url: &str,
        json: Option<&serde_json::Value>,
        headers: &[(&str, &str)],
        what: &str,
    ) -> Result<Response> {
        let body = json.map(|v| serde_json::to_vec(v).expect("JSON serializes"));
        let response = self.send_to(method, &|_| Ok(url.to_owned()), body.as_deref(), headers).await?;
        if response.status().is_success() {
            return Ok(response);
        }
        Err(self.failure(what, response).await)
    }

    /// Sends with the current token, and once more with a fresh one after a 401.
    async fn send_to(
        &self,
        method: Method,
        url: &(dyn Fn(&Session) -> Result<String> + Sync),
        body: Option<&[u8]>,
        headers: &[(&str, &str)],
    ) -> Result<Response> {
        let (generation, session) = self.session().await?;
        let mut response = self.send_once(&session, method.clone(), &allowed(&session, url)?, body, headers).await?;
        if response.status() == StatusCode::UNAUTHORIZED {
            let (_, session) = self.renew(Some(generation)).await?;
            response = self.send_once(&session, method, &allowed(&session, url)?, body, headers).await?;
        }
        Ok(response)
    }

    async fn send_once(
        &self,
        session: &Session,
        method: Method,
        url: &str,
        body: Option<&[u8]>,
        headers: &[(&str, &str)],
    ) -> Result<Response> {
        if body.is_none() && sortie_http::has_dot_segment(url) {
            let mut all = vec![("X-Auth-Token", session.token.expose())];
            all.extend_from_slice(headers);
            let target = url.split('?').next().unwrap_or(url);
            let what = sortie_http::redact_userinfo(target);
            return sortie_http::logged(&method, url, self.raw.send(method.clone(), url, &all, &what)).await;
        }
        let mut builder = self.http.request(method.clone(), url).header("X-Auth-Token", session.token.expose());
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        if let Some(body) = body {
            builder = builder.header("Content-Type", "application/json").body(body.to_vec());
        }
        sortie_http::logged(&method, url, async { builder.send().await.map_err(|e| error::transport_error(url, &e)) })
            .await
    }

    async fn failure(&self, target: &str, response: Response) -> Error {
        let status = response.status();
        let retry_after = error::retry_after(response.headers());
        let token =
            self.session.lock().expect("session").as_ref().map(|(_, session)| session.token.expose().to_owned());
        let mut secrets = self.credentials.secrets();
        secrets.extend(token.as_deref());
        let body = read_error_body(response, &secrets).await;
        error::from_status(status, target, &self.credentials.identity_label(), &body, retry_after)
    }
}

/// The request's URL, when its origin is one the session's token is meant for; anything else
/// is refused before a byte is sent.
fn allowed(session: &Session, url: &(dyn Fn(&Session) -> Result<String> + Sync)) -> Result<String> {
    let url = url(session)?;
    if session.allows(&url) {
        return Ok(url);
    }
    let origin =
        reqwest::Url::parse(&url).map_or_else(|_| "an unreadable URL".to_owned(), |u| u.origin().ascii_serialization());
    Err(Error::new(
        ErrorKind::PermissionDenied,
        format!(
            "refused to send the project's token to {origin}: it is neither the object store nor an endpoint of \
             the catalog (a damaged locator or cursor, or a service linking elsewhere)"
        ),
    ))
}

/// A path segment (an id, a container's name) encoded: it cannot climb out of its place.
pub fn segment(text: &str) -> String {
    percent_encode(text.as_bytes(), SEGMENT).to_string()
}

/// `STORAGE_URL/CONTAINER/OBJECT?QUERY`, every part encoded.
fn url(storage_url: &str, request: &Request<'_>) -> String {
    let mut url = String::with_capacity(128);
    url.push_str(storage_url);
    if let Some(container) = request.container {
        url.push('/');
        url.extend(percent_encode(container.as_bytes(), SEGMENT));
        if let Some(object) = request.object {
            url.push('/');
            url.extend(percent_encode(object, OBJECT));
        }
    }
    let query: Vec<String> = request
        .query
        .iter()
        .map(
            |(k, v)| {
                if v.is_empty() { (*k).to_owned() } else { format!("{k}={}", percent_encode(v.as_bytes(), SEGMENT)) }
            },
        )
        .collect();
    if !query.is_empty() {
        url.push('?');
        url.push_str(&query.join("&"));
    }
    url
}

/// Swift's error pages are short HTML; their text is worth showing, as a bounded excerpt
/// without `secrets` (what the request sent), since a server may echo the request.
async fn read_error_body(response: Response, secrets: &[&str]) -> String {
    let bytes = response.bytes().await.unwrap_or_default();
    let plain = sortie_http::excerpt(&bytes[..bytes.len().min(MAX_ERROR_BODY)], secrets);
    if plain.is_empty() { String::new() } else { format!(": {plain}") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    use crate::credentials::{Method, Secret};
    use crate::fake::{Fake, SECRETS};

    #[tokio::test]
    async fn the_token_goes_to_the_object_store_and_the_catalog_only() {
        let fake = Fake::start().await;
        let elsewhere = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let other = format!("http://{}", elsewhere.local_addr().unwrap());
        let client = Client::new(Credentials {
            auth_url: format!("{}/auth/v1.0", fake.url),
            method: Method::TempAuth { user: "test:tester".into(), key: Secret::new(SECRETS[0]) },
            region: None,
            interface: "public".into(),
            ca_cert: None,
            origin: "test".into(),
        })
        .unwrap();
        let storage = client.storage_url().await.unwrap();
        assert!(client.get(&format!("{storage}/c"), &[], "container c").await.is_ok());
        let client = &client;
        let refused = |url: String| async move {
            let sent = tokio::time::timeout(Duration::from_secs(5), client.get(&url, &[], "a forged locator"));
            sent.await.expect("refused at once").unwrap_err()
        };
        for url in [format!("{other}/v1/AUTH_test/c"), "https://127.0.0.1/x".to_owned(), "not a url".to_owned()] {
            let error = refused(url).await;
            assert_eq!(error.kind(), ErrorKind::PermissionDenied, "{error}");
            assert!(error.to_string().contains("refused to send the project's token to"), "{error}");
        }
        let error = refused(format!("{other}/x")).await;
        assert!(error.to_string().contains(&format!("token to {other}:")), "{error}");
        let reached = tokio::time::timeout(Duration::from_millis(200), elsewhere.accept()).await;
        assert!(reached.is_err(), "a request reached the other origin");
    }

    #[test]
    fn names_are_encoded_but_keep_their_slashes() {
        let request = Request {
            container: Some("my photos"),
            object: Some("2024/été #1?.jpg".as_bytes()),
            query: vec![("multipart-manifest", "get".into()), ("versions", String::new())],
            ..Request::default()
        };
        assert_eq!(
            url("http://h/v1/AUTH_p", &request),
            "http://h/v1/AUTH_p/my%20photos/2024/%C3%A9t%C3%A9%20%231%3F.jpg?multipart-manifest=get&versions"
        );
    }
}
