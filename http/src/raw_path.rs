//! Requests whose path must reach the server as written. S3 keys and Swift object names may
//! be `.` or `..`, or hold such segments (`a/../b`); reqwest parses every URL with the
//! WHATWG rules, which resolve those segments (and their `%2E` spellings), so the request
//! would name another object, the bucket or the account. These requests go through hyper
//! directly, whose URIs are sent byte for byte, as boto3 and curl `--path-as-is` send them,
//! with the same TLS verification, extra roots and timeouts as [`client`](crate::client),
//! but without the proxies reqwest reads from the environment (`HTTPS_PROXY`…): these
//! requests connect directly.

use std::path::Path;
use std::sync::Arc;

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::Empty;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use sortie_sdk::error::{Error, ErrorKind, Result};

use crate::{CONNECT_TIMEOUT, READ_TIMEOUT, USER_AGENT};

/// Whether a URL's path has a segment that URL parsing would resolve away: `.` or `..`,
/// in any mix of `.` and `%2E`. Only such URLs need [`RawPathClient`].
pub fn has_dot_segment(url: &str) -> bool {
    let path = url.split_once("://").map_or(url, |(_, rest)| rest.find('/').map_or("", |slash| &rest[slash..]));
    let path = path.split(['?', '#']).next().unwrap_or_default();
    path.split('/').any(|segment| {
        let plain = segment.to_ascii_lowercase().replace("%2e", ".");
        plain == "." || plain == ".."
    })
}

/// An HTTP/1.1 client that sends the request target exactly as given.
pub struct RawPathClient {
    client: Client<HttpsConnector<HttpConnector>, Empty<Bytes>>,
}

impl RawPathClient {
    /// A client trusting, besides the system's roots, the PEM certificates of `ca_bundle`.
    pub fn new(ca_bundle: Option<&Path>) -> Result<Self> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let extra: Vec<CertificateDer<'static>> = match ca_bundle {
            Some(path) => {
                let pem = std::fs::read(path)
                    .map_err(|e| Error::io(format!("cannot read the CA certificates {}", path.display()), &e))?;
                CertificateDer::pem_slice_iter(&pem).collect::<Result<_, _>>().map_err(|e| {
                    Error::new(
                        ErrorKind::InvalidInput,
                        format!("{} is not a PEM certificate bundle: {e}", path.display()),
                    )
                })?
            }
            None => Vec::new(),
        };
        let setup = |e: &dyn std::fmt::Display| {
            Error::new(ErrorKind::Other, format!("cannot set up the HTTP client for raw paths: {e}"))
        };
        let verifier =
            rustls_platform_verifier::Verifier::new_with_extra_roots(extra, provider.clone()).map_err(|e| setup(&e))?;
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| setup(&e))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(CONNECT_TIMEOUT));
        http.set_nodelay(true);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        Ok(Self { client: Client::builder(TokioExecutor::new()).build(https) })
    }

    /// Sends a request without a body. `url` is already percent-encoded; its path is sent
    /// as it is. Transport failures are mapped as [`transport_error`](crate::transport_error)
    /// maps reqwest's, naming `what`.
    pub async fn send(
        &self,
        method: reqwest::Method,
        url: &str,
        headers: &[(&str, &str)],
        what: &str,
    ) -> Result<reqwest::Response> {
        let failed = |e: &(dyn std::error::Error + 'static)| crate::transport_error(what, e);
        let mut request = http::Request::builder().method(method).uri(url).header("user-agent", USER_AGENT);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(Empty::new()).map_err(|e| failed(&e))?;
        let response = tokio::time::timeout(READ_TIMEOUT, self.client.request(request))
            .await
            .map_err(|_| timed_out(what))?
            .map_err(|e| failed(&e))?;
        let response = response.map(|body| TimedBody {
            inner: body,
            deadline: Box::pin(tokio::time::sleep(READ_TIMEOUT)),
            what: what.to_owned(),
        });
        Ok(reqwest::Response::from(response.map(reqwest::Body::wrap)))
    }
}

/// A response body whose every frame must come within the read timeout, as with reqwest,
/// and that keeps the exact size the response announced (`content_length()` reads it).
struct TimedBody<B> {
    inner: B,
    deadline: Pin<Box<tokio::time::Sleep>>,
    what: String,
}

impl<B> http_body::Body for TimedBody<B>
where
    B: http_body::Body<Data = Bytes> + Unpin,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                this.deadline.as_mut().reset(tokio::time::Instant::now() + READ_TIMEOUT);
                Poll::Ready(frame.map(|f| f.map_err(Into::into)))
            }
            Poll::Pending => match this.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(timed_out(&this.what).into()))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

fn timed_out(what: &str) -> Error {
    Error::new(ErrorKind::Unavailable, format!("cannot reach {what}: no answer within {} s", READ_TIMEOUT.as_secs()))
        .temporary()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn dot_segments_are_found_in_any_spelling() {
        for url in ["http://h/b/.", "http://h/b/..", "http://h/b/a/./c?x", "http://h/b/%2E%2e", "http://h/b/.%2E/x"] {
            assert!(has_dot_segment(url), "{url}");
        }
        for url in ["http://h/b/...", "http://h/b/.a", "http://h/b/a.?x=/..", "http://h/b/a#/.", "http://h.example/b"] {
            assert!(!has_dot_segment(url), "{url}");
        }
    }

    #[tokio::test]
    async fn the_path_reaches_the_server_as_written() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = socket.read(&mut buf).await.unwrap();
                head.extend_from_slice(&buf[..n]);
            }
            socket.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello").await.unwrap();
            String::from_utf8(head).unwrap()
        });
        let client = RawPathClient::new(None).unwrap();
        let url = format!("http://{address}/bucket/a/../b/./..");
        let response = client.send(reqwest::Method::GET, &url, &[("x-test", "1")], "a test server").await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.content_length(), Some(5), "the announced size is kept");
        assert_eq!(response.text().await.unwrap(), "hello");
        let head = server.await.unwrap();
        assert!(head.starts_with("GET /bucket/a/../b/./.. HTTP/1.1\r\n"), "{head}");
        assert!(head.contains(&format!("host: {address}\r\n")) && head.contains("x-test: 1\r\n"), "{head}");
    }

    #[tokio::test]
    async fn an_unreachable_server_is_a_temporary_transport_error() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let client = RawPathClient::new(None).unwrap();
        let url = format!("http://u:hunter2@127.0.0.1:{port}/b/..");
        let error = client.send(reqwest::Method::GET, &url, &[], "the endpoint").await.unwrap_err();
        assert!(error.is_temporary() && error.to_string().starts_with("cannot reach the endpoint"), "{error}");
        assert!(!error.to_string().contains("hunter2"), "{error}");
    }
}
