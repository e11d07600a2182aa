//! The requests a DAV export sends (PROPFIND, REPORT, GET), authenticated, with their
//! answers mapped to Sortie's errors in one place.

use futures_util::StreamExt;
use reqwest::header::CONTENT_TYPE;
use reqwest::{Method, StatusCode};
use sortie_sdk::{Error, ErrorKind, Result};

use crate::error;
use crate::settings::Connection;
use sortie_http::dav::{self, ParseOptions, Response};

/// The largest multistatus body read: a collection's listing (a few hundred bytes per
/// resource, so more than half a million resources) or a multiget's bodies (a page asks for
/// about 32 MiB by the sizes the listing announced). Memory stays within about twice this
/// per request (the body and what is parsed out of it), whatever a server sends: endless,
/// deeply nested or repeated responses.
pub const MAX_MULTISTATUS_BYTES: usize = 256 << 20;

/// A client of one server, as one user.
#[derive(Debug)]
pub struct Client {
    http: reqwest::Client,
    connection: Connection,
}

/// A request's answer: its status, where it redirects, and its body.
pub struct Answer {
    pub status: StatusCode,
    pub location: Option<String>,
    pub response: reqwest::Response,
}

impl Client {
    pub fn new(connection: Connection) -> Result<Self> {
        let http = sortie_http::client(connection.ca_bundle.as_deref()).map_err(|e| match &connection.ca_bundle {
            Some(path) => e.context(format!("the ca_bundle setting ({})", path.display())),
            None => e,
        })?;
        Ok(Self { http, connection })
    }

    /// The user and server, for messages.
    /// `user alice` (or `anonymous`), the account the restitution report names.
    pub fn account(&self) -> String {
        self.connection.user.as_ref().map_or_else(|| "anonymous".to_owned(), |user| format!("user {user}"))
    }

    pub fn who(&self) -> String {
        self.connection.who()
    }

    /// Resources per multiget.
    pub fn batch(&self) -> usize {
        self.connection.batch
    }

    /// The absolute URL of a path on the server.
    pub fn url(&self, href: &str) -> String {
        format!("{}{href}", self.connection.origin)
    }

    /// The path of `href` when it is on this server (an absolute path, or a URL of the
    /// same origin), else `None`: credentials are never sent elsewhere.
    pub fn path_of(&self, href: &str) -> Option<String> {
        if href.starts_with('/') {
            return Some(href.to_owned());
        }
        let rest = href.strip_prefix(&self.connection.origin)?;
        match rest {
            "" => Some("/".to_owned()),
            _ if rest.starts_with('/') => Some(rest.to_owned()),
            _ => None,
        }
    }

    /// How to ask this server for the resource a multistatus names (`href` as served,
    /// `url` as resolved against the request): its href when it is an absolute path, the
    /// path of a URL of this server's origin, else `None`. Glued after the origin, an href
    /// like `@evil.example/x` or `evil.example/x` would change the host the request (and
    /// the password) goes to.
    pub fn path_of_response(&self, href: &str, url: &reqwest::Url) -> Option<String> {
        let origin = reqwest::Url::parse(&self.connection.origin).ok()?;
        if url.origin() != origin.origin() {
            return None;
        }
        if href.starts_with('/') && !href.starts_with("//") {
            return Some(href.to_owned());
        }
        Some(url.path().to_owned())
    }

    /// Sends `method` to `href` with an XML `body`, answering with whatever status came.
    pub async fn send(&self, method: &str, href: &str, depth: Option<&str>, body: Option<String>) -> Result<Answer> {
        let method = Method::from_bytes(method.as_bytes()).map_err(|e| Error::new(ErrorKind::Other, e.to_string()))?;
        let url = self.url(href);
        let mut request = self.connection.auth.apply(self.http.request(method.clone(), &url));
        if let Some(depth) = depth {
            request = request.header("Depth", depth);
        }
        if let Some(body) = body {
            request = request.header(CONTENT_TYPE, "application/xml; charset=utf-8").body(body);
        }
        let sent = async { request.send().await.map_err(|e| self.transport_error(&url, &e)) };
        let response = sortie_http::logged(&method, &url, sent).await?;
        let location = response.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_owned);
        Ok(Answer { status: response.status(), location, response })
    }

    /// `cannot reach URL`, with a hint when the certificate is not trusted.
    pub fn transport_error(&self, url: &str, error: &reqwest::Error) -> Error {
        let error = sortie_http::transport_error(url, error);
        if error.to_string().contains("certificate") {
            return error.context(
                "the server's TLS certificate is not trusted (set ca_bundle to a PEM file of the CA that signed it, \
                 --set ca_bundle=FILE or SORTIE_DAV_CA_BUNDLE)",
            );
        }
        error
    }

    /// The error for an answer that is not what was asked, quoting its body (secret-free).
    pub async fn refused(&self, what: &str, answer: Answer) -> Error {
        let status = answer.status;
        let body = answer.response.bytes().await.unwrap_or_default();
        let excerpt = sortie_http::excerpt(&body, &self.secrets());
        error::from_status(status, what, &self.who(), &excerpt)
    }

    fn secrets(&self) -> Vec<&str> {
        self.connection.auth.secrets()
    }

    /// PROPFIND or REPORT answered with a multistatus; another status is an error.
    pub async fn multistatus(&self, method: &str, href: &str, depth: &str, body: String) -> Result<Vec<Response>> {
        let answer = self.send(method, href, Some(depth), Some(body)).await?;
        self.read_multistatus(method, href, answer, ParseOptions::default()).await
    }

    /// A multistatus body, read whole (the parser needs it in one piece) but never beyond
    /// [`MAX_MULTISTATUS_BYTES`], whatever `Content-Length` says or however long a chunked
    /// answer goes on.
    async fn bounded_body(&self, what: &str, response: reqwest::Response) -> Result<Vec<u8>> {
        // Unsupported, so that a multiget too large is replaced by GETs.
        let too_large = || {
            Error::new(
                ErrorKind::Unsupported,
                format!(
                    "{} answered {what} with a multistatus over {} MiB, more than Sortie holds in memory",
                    self.who(),
                    MAX_MULTISTATUS_BYTES >> 20
                ),
            )
        };
        if response.content_length().is_some_and(|n| n > MAX_MULTISTATUS_BYTES as u64) {
            return Err(too_large());
        }
        let url = response.url().to_string();
        let mut stream = response.bytes_stream();
        let mut body = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| self.transport_error(&url, &e))?;
            if body.len() + chunk.len() > MAX_MULTISTATUS_BYTES {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    /// The multistatus `answer` to `method` on `href`; another status is an error.
    pub async fn read_multistatus(
        &self,
        method: &str,
        href: &str,
        answer: Answer,
        options: ParseOptions,
    ) -> Result<Vec<Response>> {
        let mut responses = Vec::new();
        self.each_response(method, href, answer, options, |response| responses.push(response)).await?;
        Ok(responses)
    }

    /// Hands each response of the multistatus `answer` to `method` on `href` to
    /// `on_response` as it is parsed, so that a large listing is never held as a whole
    /// (only its body is); another status is an error.
    pub async fn each_response(
        &self,
        method: &str,
        href: &str,
        answer: Answer,
        options: ParseOptions,
        mut on_response: impl FnMut(Response),
    ) -> Result<()> {
        let what = format!("{method} {href}");
        if answer.status != StatusCode::MULTI_STATUS {
            return Err(self.refused(&what, answer).await);
        }
        let url = self.url(href);
        let bytes = self.bounded_body(&what, answer.response).await?;
        let request_url = reqwest::Url::parse(&url)
            .map_err(|e| Error::new(ErrorKind::InvalidInput, format!("{url} is not a URL: {e}")))?;
        dav::parse_multistatus_with(&bytes[..], &request_url, options, |response| {
            on_response(response);
            Ok(())
        })
        // A multistatus cut short by a dropped connection is malformed too: worth another try.
        .map_err(|e| e.context(format!("{} answered {what}", self.who())).temporary())
    }
}
