//! Requests to one DAV server, as one user: PROPFIND with a spooled multistatus, GET, and
//! the answers mapped to errors.

use std::io::{BufReader, Seek};
use std::path::Path;

use futures_util::StreamExt;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use sortie_http::dav;
use sortie_sdk::settings::Secret;
use sortie_sdk::{Error, ErrorKind, Result};
use tokio::io::AsyncWriteExt;

use crate::error::{self, Target};

/// How requests authenticate.
#[derive(Debug, Clone)]
pub enum Auth {
    Anonymous,
    Basic { user: String, password: Secret },
    Bearer(Secret),
}

/// One server, one user, one root collection.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    /// The collection exported, with a trailing `/`.
    pub root: Url,
    auth: Auth,
    /// `user 'alice' at host:port`, for messages.
    pub who: String,
}

/// A multistatus answer spooled to a temporary file: a listing of any size costs disk, not
/// memory, and can be read again for the next page of the same directory.
#[derive(Debug)]
pub struct Spool {
    file: std::fs::File,
    /// The URL it answers.
    pub url: Url,
}

impl Spool {
    /// Parses the whole multistatus again, each response handed to `on_response`.
    pub fn parse(&self, on_response: impl FnMut(dav::Response) -> Result<()>) -> Result<()> {
        let mut file = self.file.try_clone().map_err(|e| Error::io("cannot reopen a spooled listing", &e))?;
        file.rewind().map_err(|e| Error::io("cannot rewind a spooled listing", &e))?;
        dav::parse_multistatus(BufReader::with_capacity(64 * 1024, file), &self.url, on_response)
    }
}

impl Client {
    pub fn new(root: Url, auth: Auth, user: Option<String>, ca_bundle: Option<&Path>) -> Result<Self> {
        let host = match root.port() {
            Some(port) => format!("{}:{port}", root.host_str().unwrap_or_default()),
            None => root.host_str().unwrap_or_default().to_owned(),
        };
        let who = match (&auth, user) {
            (Auth::Bearer(_), Some(user)) => format!("the bearer token of user '{user}' at {host}"),
            (Auth::Bearer(_), None) => format!("the bearer token given for {host}"),
            (_, Some(user)) => format!("user '{user}' at {host}"),
            (_, None) => format!("anonymous access to {host}"),
        };
        Ok(Self { http: sortie_http::client(ca_bundle)?, root, auth, who })
    }

    fn secrets(&self) -> Vec<&str> {
        match &self.auth {
            Auth::Anonymous => Vec::new(),
            Auth::Basic { password, .. } => vec![password.expose()],
            Auth::Bearer(token) => vec![token.expose()],
        }
    }

    fn request(&self, method: Method, url: &Url) -> reqwest::RequestBuilder {
        let builder = self.http.request(method, url.clone());
        match &self.auth {
            Auth::Anonymous => builder,
            Auth::Basic { user, password } => builder.basic_auth(user, Some(password.expose())),
            Auth::Bearer(token) => match HeaderValue::from_str(&format!("Bearer {}", token.expose())) {
                Ok(mut value) => {
                    value.set_sensitive(true);
                    builder.header(AUTHORIZATION, value)
                }
                Err(_) => builder,
            },
        }
    }

    /// Sends `builder`; an answer other than `expected` is an error about `what`.
    async fn send(
        &self,
        builder: reqwest::RequestBuilder,
        url: &Url,
        method: &str,
        what: &str,
        expected: StatusCode,
    ) -> Result<reqwest::Response> {
        let response = builder.send().await.map_err(|e| error::transport_error(url.as_str(), &e))?;
        let status = response.status();
        if status == expected {
            return Ok(response);
        }
        let headers = response.headers().clone();
        let body = response.bytes().await.unwrap_or_default();
        let excerpt = sortie_http::excerpt(&body, &self.secrets());
        let excerpt = if excerpt.is_empty() { String::new() } else { format!(": {excerpt}") };
        if status.is_success() && method == "PROPFIND" {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!("{what} answered PROPFIND with {status}, not 207 Multi-Status: it is not a WebDAV collection"),
            ));
        }
        Err(error::from_status(status, &Target { what, who: &self.who, method }, &excerpt, &headers))
    }

    /// `PROPFIND` of `url` at `depth` (`0`, `1` or `infinity`) with `body`, its multistatus
    /// spooled to a temporary file.
    pub async fn propfind(&self, url: &Url, depth: &str, body: String, what: &str) -> Result<Spool> {
        let method = Method::from_bytes(b"PROPFIND").expect("a valid method");
        let builder = self
            .request(method, url)
            .header("Depth", depth)
            .header(CONTENT_TYPE, "application/xml; charset=utf-8")
            .body(body);
        let response = self.send(builder, url, "PROPFIND", what, StatusCode::MULTI_STATUS).await?;
        let file = tempfile::tempfile().map_err(|e| Error::io("cannot create a temporary file for a listing", &e))?;
        let mut spool = tokio::fs::File::from_std(file);
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| {
                Error::new(ErrorKind::Unavailable, format!("the listing of {what} broke off: {e}")).temporary()
            })?;
            spool.write_all(&chunk).await.map_err(|e| Error::io("cannot spool a listing to a temporary file", &e))?;
        }
        spool.flush().await.map_err(|e| Error::io("cannot spool a listing to a temporary file", &e))?;
        let file = spool.into_std().await;
        Ok(Spool { file, url: url.clone() })
    }

    /// `GET` of `url`, answered 200.
    pub async fn get(&self, url: &Url, what: &str) -> Result<reqwest::Response> {
        self.send(self.request(Method::GET, url), url, "GET", what, StatusCode::OK).await
    }
}
