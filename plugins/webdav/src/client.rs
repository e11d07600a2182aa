//! Requests to one DAV server, as one user: PROPFIND with a spooled multistatus, GET, and
//! the answers mapped to errors.

use std::io::{BufReader, Seek};
use std::ops::Range;
use std::path::Path;

use futures_util::StreamExt;
use reqwest::header::CONTENT_TYPE;
use reqwest::{Method, StatusCode, Url};
pub use sortie_http::Auth;
use sortie_http::dav;
use sortie_sdk::provider::Body;
use sortie_sdk::{Error, ErrorKind, Result};
use tokio::io::AsyncWriteExt;

use crate::error::{self, Target};

/// The largest multistatus spooled, in bytes: millions of members, while a server that
/// never ends its answer does not fill the disk.
pub const MAX_LISTING_BYTES: u64 = 4 << 30;

/// One server, one user, one root collection.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    /// The collection exported, with a trailing `/`.
    pub root: Url,
    auth: Auth,
    /// `user 'alice' at host:port`, for messages.
    pub who: String,
    /// `user alice`, the account the restitution report names.
    pub account: String,
    /// [`MAX_LISTING_BYTES`], lowered by tests.
    max_listing_bytes: u64,
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
        let who = match (&auth, user.as_deref()) {
            (Auth::Bearer(_), Some(user)) => format!("the bearer token of user '{user}' at {host}"),
            (Auth::Bearer(_), None) => format!("the bearer token given for {host}"),
            (_, Some(user)) => format!("user '{user}' at {host}"),
            (_, None) => format!("anonymous access to {host}"),
        };
        let account = match (&auth, &user) {
            (_, Some(user)) => format!("user {user}"),
            (Auth::Bearer(_), None) => "a bearer token's user".to_owned(),
            (_, None) => "anonymous".to_owned(),
        };
        if !auth.sendable() {
            // Sent without it, every request would be refused as if the token were wrong.
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!("{who} has characters an HTTP header cannot carry (a line break?): give the token alone"),
            ));
        }
        Ok(Self {
            http: sortie_http::client(ca_bundle)?,
            root,
            auth,
            who,
            account,
            max_listing_bytes: MAX_LISTING_BYTES,
        })
    }

    fn secrets(&self) -> Vec<&str> {
        self.auth.secrets()
    }

    fn request(&self, method: Method, url: &Url) -> reqwest::RequestBuilder {
        self.auth.apply(self.http.request(method, url.clone()))
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
        let verb = Method::from_bytes(method.as_bytes()).expect("a valid method");
        let sent = async { builder.send().await.map_err(|e| error::transport_error(url.as_str(), &e)) };
        let response = sortie_http::logged(&verb, url.as_str(), sent).await?;
        if response.status() == expected {
            return Ok(response);
        }
        Err(self.refusal(response, method, what).await)
    }

    /// The error for an answer that is not the one expected.
    async fn refusal(&self, response: reqwest::Response, method: &str, what: &str) -> Error {
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await.unwrap_or_default();
        let excerpt = sortie_http::excerpt(&body, &self.secrets());
        let excerpt = if excerpt.is_empty() { String::new() } else { format!(": {excerpt}") };
        if status.is_success() && method == "PROPFIND" {
            return Error::new(
                ErrorKind::InvalidInput,
                format!("{what} answered PROPFIND with {status}, not 207 Multi-Status: it is not a WebDAV collection"),
            );
        }
        error::from_status(status, &Target { what, who: &self.who, method }, &excerpt, &headers)
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
        let mut spooled = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| {
                Error::new(ErrorKind::Unavailable, format!("the listing of {what} broke off: {e}")).temporary()
            })?;
            spooled += chunk.len() as u64;
            if spooled > self.max_listing_bytes {
                return Err(Error::new(
                    ErrorKind::Other,
                    format!("the listing of {what} is over {} bytes: not read further", self.max_listing_bytes),
                ));
            }
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

    /// `GET` of bytes `range` of `url`, with `If-Match: validator` when given: the answer
    /// with its bytes (checked by [`sortie_http::ranged_body`]), a 412 as the file changed.
    pub async fn get_range(&self, url: &Url, range: &Range<u64>, validator: Option<&str>, what: &str) -> Result<Body> {
        let mut builder = self.request(Method::GET, url).header("Range", sortie_http::range_header(range));
        if let Some(etag) = validator {
            builder = builder.header("If-Match", etag);
        }
        let sent = async { builder.send().await.map_err(|e| error::transport_error(url.as_str(), &e)) };
        let response = sortie_http::logged(&Method::GET, url.as_str(), sent).await?;
        match response.status() {
            // A 200 is refused by ranged_body without its body being read.
            StatusCode::PARTIAL_CONTENT | StatusCode::OK => sortie_http::ranged_body(response, range, what),
            StatusCode::PRECONDITION_FAILED => Err(sortie_http::changed_while_read(what)),
            _ => Err(self.refusal(response, "GET", what).await),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sortie_sdk::settings::Secret;

    #[test]
    fn a_token_no_header_can_carry_is_refused_without_being_shown() {
        let root = Url::parse("http://127.0.0.1:9/dav/").unwrap();
        let auth = Auth::Bearer(Secret::new("tok-3141\nen"));
        let error = Client::new(root, auth, None, None).unwrap_err().to_string();
        assert!(error.contains("the bearer token given for 127.0.0.1:9 has characters"), "{error}");
        assert!(!error.contains("tok-3141"), "{error}");
    }

    #[tokio::test]
    async fn a_listing_that_never_ends_stops_at_the_bound() {
        use tokio::io::AsyncReadExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let _ = stream.read(&mut [0; 4096]).await;
            let head = "HTTP/1.1 207 Multi-Status\r\nTransfer-Encoding: chunked\r\n\r\n";
            let _ = stream.write_all(head.as_bytes()).await;
            let chunk = format!("10000\r\n{}\r\n", "x".repeat(0x10000));
            while stream.write_all(chunk.as_bytes()).await.is_ok() {}
        });
        let root = Url::parse(&format!("http://127.0.0.1:{port}/dav/")).unwrap();
        let mut client = Client::new(root.clone(), Auth::Anonymous, None, None).unwrap();
        client.max_listing_bytes = 1 << 20;
        let error = client.propfind(&root, "1", String::new(), "the collection /dav/").await.unwrap_err();
        assert!(error.to_string().contains("is over 1048576 bytes"), "{error}");
    }
}
