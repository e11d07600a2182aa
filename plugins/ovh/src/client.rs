//! Requests to the OVH API as one set of credentials: signed (or with a bearer token),
//! rate-limited, each answer read within a bound and mapped to errors that name the route
//! and its `X-Ovh-QueryID`.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures_util::StreamExt;
use reqwest::header::{CONTENT_TYPE, HeaderValue};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use sortie_sdk::retry::{RetryPolicy, retry};
use sortie_sdk::settings::Secret;
use sortie_sdk::{Error, ErrorKind, Result};

use crate::auth::{Token, signature};
use crate::error::from_answer;
use crate::limit::{Limiter, limiter};
use crate::settings::{Credentials, OvhSettings};

/// The largest API answer read into memory: an answer is archived inline (see
/// `Item::INLINE_MAX`).
pub const MAX_ANSWER: usize = 4 << 20;

/// One endpoint, one set of credentials.
#[derive(Debug)]
pub struct Client {
    http: reqwest::Client,
    pub settings: OvhSettings,
    limiter: Arc<Limiter>,
    /// The API's clock minus this machine's, in seconds, read from `/auth/time` once, and
    /// again when the API refuses a timestamp (this machine's clock stepped).
    delta: tokio::sync::Mutex<Option<i64>>,
    token: tokio::sync::Mutex<Option<Token>>,
    retry: RetryPolicy,
    /// Set once `GET /me` answered (see the provider's `check`).
    pub checked: tokio::sync::OnceCell<Option<String>>,
    /// `application key 'ak' at ovh-eu`, for messages.
    pub who: String,
    /// The paths of the `POST` access rules of the consumer key, read once from
    /// `/auth/currentCredential`; `None` when they are not known (an OAuth2 service account,
    /// or the call failed): then every POST is tried.
    post_rules: tokio::sync::OnceCell<Option<Vec<String>>>,
    /// What `resolve` could not hand over (a project's object storage), as report entries
    /// the `cloud` section lists on its first page: never a silent gap.
    pub notes: std::sync::Mutex<Vec<sortie_sdk::item::Item>>,
}

impl Client {
    pub fn new(settings: OvhSettings, retry: RetryPolicy) -> Result<Self> {
        let public = match &settings.credentials {
            Credentials::Signed { application_key, consumer_key, .. } => {
                // The limit is per consumer key; a digest of it tells keys apart without holding it.
                let ck = hex::encode(&<sha1::Sha1 as sha1::Digest>::digest(consumer_key.expose().as_bytes())[..8]);
                format!("{application_key}/{ck}")
            }
            Credentials::OAuth2 { client_id, .. } => client_id.clone(),
        };
        let limiter = limiter(&format!("{} {public}", settings.base), settings.rate);
        let who = settings.who();
        Ok(Self {
            http: sortie_http::client(None)?,
            settings,
            limiter,
            delta: tokio::sync::Mutex::new(None),
            token: tokio::sync::Mutex::new(None),
            retry,
            checked: tokio::sync::OnceCell::new(),
            who,
            notes: std::sync::Mutex::default(),
            post_rules: tokio::sync::OnceCell::new(),
        })
    }

    /// The secrets sent, to keep out of quoted answers.
    fn secrets(&self) -> Vec<&str> {
        match &self.settings.credentials {
            Credentials::Signed { application_secret, consumer_key, .. } => {
                vec![application_secret.expose(), consumer_key.expose()]
            }
            Credentials::OAuth2 { client_secret, .. } => vec![client_secret.expose()],
        }
    }

    /// `GET route` as JSON, each attempt retried alone on a temporary error: the answer's
    /// bytes as served, and their JSON.
    pub async fn get(&self, route: &str) -> Result<(Bytes, Value)> {
        let (result, attempts) = retry(
            &self.retry,
            |_, e: &Error| tracing::info!("retrying GET {route}: {e}"),
            || self.call(Method::GET, route, None),
        )
        .await;
        let bytes = result.map_err(|e| e.gave_up_after(attempts))?;
        let json = serde_json::from_slice(&bytes)
            .map_err(|e| Error::new(ErrorKind::Other, format!("the API's answer to GET {route} is not JSON: {e}")))?;
        Ok((bytes, json))
    }

    /// Why `POST route` is not granted to the consumer key (its access rules, as the API
    /// answers them), so that a file the export would ask the API to make is left out
    /// with a reason rather than failed; `None` when it is, or when the rules are unknown.
    pub async fn post_refused(&self, route: &str) -> Option<String> {
        let rules = self
            .post_rules
            .get_or_init(|| async {
                if !matches!(self.settings.credentials, Credentials::Signed { .. }) {
                    return None;
                }
                let (_, credential) = self.get("/auth/currentCredential").await.ok()?;
                let rules = credential["rules"].as_array()?.iter();
                let post = rules.filter(|rule| rule["method"] == "POST");
                Some(post.filter_map(|rule| rule["path"].as_str().map(str::to_owned)).collect())
            })
            .await
            .as_ref()?;
        if rules.iter().any(|rule| rule_matches(rule, route)) {
            return None;
        }
        Some(format!(
            "not granted: the consumer key of {} may not call POST {route} (its access rules): ask for a key with \
             the rights an export needs: `sortie ovh credential`",
            self.who
        ))
    }

    /// One request to `route` (a path under the API root, its segments already encoded),
    /// authenticated, after its turn under the rate limit; the answer's bytes.
    pub async fn call(&self, method: Method, route: &str, body: Option<&Value>) -> Result<Bytes> {
        if route.split('/').any(|segment| segment == "." || segment == "..") {
            // A URL resolves such a segment: the request would go to another route, whose
            // answer would be archived under this one, or be refused as badly signed.
            return Err(Error::new(
                ErrorKind::Other,
                format!("{method} {route}: the API named an id '.' or '..', which no URL can name: not read"),
            ));
        }
        let url = format!("{}{route}", self.settings.base);
        let body = body.map(Value::to_string).unwrap_or_default();
        let (mut renewed, mut resynced) = (false, false);
        loop {
            self.limiter.wait().await;
            let mut request = self.http.request(method.clone(), &url);
            if !body.is_empty() {
                request = request.header(CONTENT_TYPE, "application/json").body(body.clone());
            }
            request = self.authenticate(request, method.as_str(), &url, &body, renewed).await?;
            let sent =
                async { request.send().await.map_err(|e| sortie_http::transport_error(&self.settings.base, &e)) };
            let response = sortie_http::logged(&method, &url, sent).await?;
            let status = response.status();
            let headers = response.headers().clone();
            let bytes = read_bounded(response, &format!("{method} {route}")).await?;
            if status.is_success() {
                return Ok(bytes);
            }
            if status == StatusCode::UNAUTHORIZED
                && !renewed
                && matches!(self.settings.credentials, Credentials::OAuth2 { .. })
            {
                // A token that expired early: one new token, one more try.
                renewed = true;
                continue;
            }
            let timed_out =
                || serde_json::from_slice::<Value>(&bytes).is_ok_and(|a| a["errorCode"] == "QUERY_TIME_OUT");
            if status == StatusCode::BAD_REQUEST && !resynced && timed_out() {
                // This machine's clock stepped since the API's was read: read it again, one more try.
                resynced = true;
                *self.delta.lock().await = None;
                continue;
            }
            let error = from_answer(status, &headers, &bytes, method.as_str(), route, &self.who);
            if let (true, Some(after)) = (status == StatusCode::TOO_MANY_REQUESTS, error.retry_after()) {
                self.limiter.hold(after).await;
            }
            let secrets = self.secrets();
            return Err(scrub(error, &secrets));
        }
    }

    async fn authenticate(
        &self,
        request: reqwest::RequestBuilder,
        method: &str,
        url: &str,
        body: &str,
        renew: bool,
    ) -> Result<reqwest::RequestBuilder> {
        match &self.settings.credentials {
            Credentials::Signed { application_key, application_secret, consumer_key } => {
                let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
                let timestamp = now + self.time_delta().await?;
                let signed =
                    signature(application_secret.expose(), consumer_key.expose(), method, url, body, timestamp);
                Ok(request
                    .header("X-Ovh-Application", header(application_key, "the application key")?)
                    .header("X-Ovh-Consumer", sensitive(consumer_key.expose(), "the consumer key")?)
                    .header("X-Ovh-Timestamp", timestamp.to_string())
                    .header("X-Ovh-Signature", signed))
            }
            Credentials::OAuth2 { .. } => {
                let token = self.bearer(renew).await?;
                Ok(request.header("Authorization", sensitive(&format!("Bearer {}", token.expose()), "the token")?))
            }
        }
    }

    /// The API's clock minus this machine's (`GET /auth/time`, unsigned), asked when not known.
    async fn time_delta(&self) -> Result<i64> {
        let mut known = self.delta.lock().await;
        if let Some(delta) = *known {
            return Ok(delta);
        }
        let delta = async {
            let url = format!("{}/auth/time", self.settings.base);
            let (result, attempts) = retry(
                &self.retry,
                |_, _: &Error| {},
                || async {
                    self.limiter.wait().await;
                    let sent =
                        async { self.http.get(&url).send().await.map_err(|e| sortie_http::transport_error(&url, &e)) };
                    let response = sortie_http::logged(&Method::GET, &url, sent).await?;
                    let (status, headers) = (response.status(), response.headers().clone());
                    let bytes = read_bounded(response, "GET /auth/time").await?;
                    if !status.is_success() {
                        return Err(from_answer(status, &headers, &bytes, "GET", "/auth/time", &self.who));
                    }
                    let text = String::from_utf8_lossy(&bytes);
                    text.trim().parse::<i64>().map_err(|_| {
                        Error::new(
                            ErrorKind::InvalidInput,
                            format!(
                                "{}/auth/time answered no time ('{}'): is {} an OVH API root?",
                                self.settings.base,
                                sortie_http::excerpt(&bytes, &[]),
                                self.settings.endpoint_name
                            ),
                        )
                    })
                },
            )
            .await;
            let server = result.map_err(|e| e.gave_up_after(attempts))?;
            let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
            Ok::<i64, Error>(server - now)
        }
        .await?;
        *known = Some(delta);
        Ok(delta)
    }

    /// A bearer token of the OAuth2 service account, asked for when there is none, when it
    /// is about to expire, or when `renew` (the API refused it).
    async fn bearer(&self, renew: bool) -> Result<Secret> {
        let Credentials::OAuth2 { client_id, client_secret, token_url } = &self.settings.credentials else {
            return Err(Error::new(ErrorKind::Other, "no OAuth2 client to ask a token for"));
        };
        let mut token = self.token.lock().await;
        if let Some(current) = token.as_ref().filter(|t| t.fresh() && !renew) {
            return Ok(current.value.clone());
        }
        let what = format!("the OAuth2 token URL {token_url}");
        let (result, attempts) = retry(&self.retry, |_, _: &Error| {}, || async {
            let request = self
                .http
                .post(token_url)
                .basic_auth(client_id, Some(client_secret.expose()))
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body("grant_type=client_credentials&scope=all");
            let sent = async { request.send().await.map_err(|e| sortie_http::transport_error(&what, &e)) };
            let response = sortie_http::logged(&Method::POST, token_url, sent).await?;
            let status = response.status();
            let bytes = read_bounded(response, &what).await?;
            if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
                return Err(Error::new(ErrorKind::Unavailable, format!("{what} failed with {status}")).temporary());
            }
            if !status.is_success() {
                let said = sortie_http::excerpt(&bytes, &[client_secret.expose()]);
                return Err(Error::new(
                    ErrorKind::Unauthenticated,
                    format!(
                        "{what} refused OAuth2 client '{client_id}' ({status}): \"{said}\": check OVH_CLIENT_ID and \
                         OVH_CLIENT_SECRET"
                    ),
                ));
            }
            let json: Value = serde_json::from_slice(&bytes).unwrap_or_default();
            let Some(access) = json["access_token"].as_str() else {
                return Err(Error::new(ErrorKind::Other, format!("{what} answered without an access_token")));
            };
            Ok(Token::new(access.to_owned(), json["expires_in"].as_u64()))
        })
        .await;
        let fresh = result.map_err(|e| e.gave_up_after(attempts))?;
        let value = fresh.value.clone();
        *token = Some(fresh);
        Ok(value)
    }

    /// `GET url` outside the API (a bill's PDF), unsigned: such links carry their own token,
    /// and are not API calls the rate limit counts.
    pub async fn download(&self, url: &str, what: &str) -> Result<reqwest::Response> {
        let sent = async { self.http.get(url).send().await.map_err(|e| sortie_http::transport_error(what, &e)) };
        let response = sortie_http::logged(&Method::GET, url, sent).await?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let error = match status.as_u16() {
            404 | 410 => Error::new(ErrorKind::NotFound, format!("{what} is gone ({status})")),
            429 => Error::new(ErrorKind::RateLimited, format!("{what}: asked to slow down (429)")).temporary(),
            s if s >= 500 => Error::new(ErrorKind::Unavailable, format!("{what} failed with {status}")).temporary(),
            _ => Error::new(ErrorKind::Other, format!("{what} answered {status}")),
        };
        Err(error)
    }
}

/// OVH's access rules: `*` stands for any characters, `/` included.
fn rule_matches(rule: &str, path: &str) -> bool {
    let mut parts = rule.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = path.strip_prefix(first) else { return false };
    let middle: Vec<&str> = parts.collect();
    let Some((last, middle)) = middle.split_last() else { return rest.is_empty() };
    for part in middle {
        let Some(at) = rest.find(part) else { return false };
        rest = &rest[at + part.len()..];
    }
    rest.ends_with(last)
}

/// The secrets removed from an error's message (an answer that echoed the request).
fn scrub(error: Error, secrets: &[&str]) -> Error {
    let message = error.to_string();
    if !secrets.iter().any(|s| !s.is_empty() && message.contains(s)) {
        return error;
    }
    let mut clean = message;
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        clean = clean.replace(secret, "***");
    }
    let mut scrubbed = Error::new(error.kind(), clean);
    if error.is_temporary() {
        scrubbed = scrubbed.temporary();
    }
    match error.retry_after() {
        Some(after) => scrubbed.with_retry_after(after),
        None => scrubbed,
    }
}

fn header(value: &str, what: &str) -> Result<HeaderValue> {
    HeaderValue::from_str(value).map_err(|_| {
        Error::new(
            ErrorKind::InvalidInput,
            format!("{what} has characters an HTTP header cannot carry (a line break?)"),
        )
    })
}

fn sensitive(value: &str, what: &str) -> Result<HeaderValue> {
    let mut value = header(value, what)?;
    value.set_sensitive(true);
    Ok(value)
}

/// An answer's bytes, at most [`MAX_ANSWER`]; a cut answer is a temporary error.
pub async fn read_bounded(response: reqwest::Response, what: &str) -> Result<Bytes> {
    let mut stream = response.bytes_stream();
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            Error::new(ErrorKind::Unavailable, format!("the answer to {what} broke off: {e}")).temporary()
        })?;
        if bytes.len() + chunk.len() > MAX_ANSWER {
            return Err(Error::new(
                ErrorKind::Other,
                format!("the answer to {what} is over {MAX_ANSWER} bytes: not read further"),
            ));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes.into())
}

#[cfg(test)]
mod tests {
    use super::rule_matches;

    #[test]
    fn access_rules_match_as_ovh_matches_them() {
        assert!(rule_matches("/*/dump", "/hosting/web/a/database/b/dump"));
        assert!(rule_matches("/*", "/"));
        assert!(rule_matches("/me", "/me"));
        assert!(!rule_matches("/me", "/me/bill"));
        assert!(!rule_matches("/*/dump", "/hosting/web/a/database/b/dump/1/restore"));
        assert!(rule_matches("/hosting/*/dump*", "/hosting/x/dump/1"));
        assert!(!rule_matches("/a*b*c", "/acb"));
        assert!(!rule_matches("/*/url", "/url"));
    }
}
