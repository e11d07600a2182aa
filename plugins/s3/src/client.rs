//! Signed S3 requests over HTTP (their failed answers mapped in [`crate::error`]).
//!
//! [`Client::send`] does not retry (the engine retries listing pages and object bodies,
//! reading each error's temporary flag), with one exception: a bucket in another region
//! than the one signed for is retried at once in the region the server names, which is then
//! remembered for that bucket. The requests the engine does not see one by one (an object's
//! tag set, ACL and part sizes, a bucket's configuration documents) go through
//! [`Client::retried`], so that each is retried on its own.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials as AwsCredentials;
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings, UriPathNormalizationMode,
    sign,
};
use aws_sigv4::sign::v4;
use bytes::{Bytes, BytesMut};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_encode};
use reqwest::{Method, Response};
use serde::de::DeserializeOwned;
use sortie_sdk::retry::{RetryPolicy, retry};
use sortie_sdk::{Error, ErrorKind, Result};

use crate::error::{self, Answer, Asked, Failure, describe};
use crate::settings::Connection;
use crate::xml::{self, ErrorBody};

/// What RFC 3986 leaves unreserved stays; everything else is encoded, as SigV4 requires.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');
/// A key in the path keeps its `/`.
const KEY: &AsciiSet = &COMPONENT.remove(b'/');
/// Error bodies longer than this are not read: they are not S3 errors.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// One request: a bucket (or the service), an optional key, sub-resources and headers.
#[derive(Debug, Clone, Default)]
pub struct Request<'a> {
    pub head: bool,
    pub bucket: Option<&'a str>,
    pub key: Option<&'a [u8]>,
    /// Query parameters, unencoded; a sub-resource such as `?tagging` has an empty value.
    pub query: Vec<(&'static str, String)>,
    pub headers: Vec<(&'static str, String)>,
}

pub struct Client {
    http: reqwest::Client,
    /// For keys with `.` or `..` segments, which `http` would resolve away.
    raw: sortie_http::RawPathClient,
    connection: Connection,
    /// Buckets found to live in another region than `connection.region`: a request to one
    /// of them is redirected once per client, not once per request.
    regions: Mutex<HashMap<String, String>>,
    /// The user's retry policy (`--retries`), for [`retried`](Self::retried).
    policy: RetryPolicy,
}

impl std::fmt::Debug for Client {
    /// Where it connects and as whom: the secret and session token show as `<secret>`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("connection", &self.connection).finish_non_exhaustive()
    }
}

impl Client {
    pub fn new(connection: Connection) -> Result<Self> {
        let http = sortie_http::client(connection.ca_bundle.as_deref())?;
        let raw = sortie_http::RawPathClient::new(connection.ca_bundle.as_deref())?;
        Ok(Self { http, raw, connection, regions: Mutex::new(HashMap::new()), policy: RetryPolicy::default() })
    }

    /// Retries [`retried`](Self::retried) requests with `policy` instead of the default.
    pub fn with_retry(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Runs `op` (one request and the reading of its answer) until it succeeds, fails for
    /// good, or the retries are spent, honouring `Retry-After`. An error still temporary
    /// after the last attempt is returned as permanent, so that no outer layer (the
    /// engine's retry of the object) multiplies the attempts.
    pub async fn retried<T, Fut>(&self, what: &str, op: impl FnMut() -> Fut) -> Result<T, Failure>
    where
        Fut: Future<Output = Result<T, Failure>>,
    {
        let on_retry = |attempt: u32, failure: &Failure| {
            tracing::debug!(what, attempt, error = %failure.error, "retrying");
        };
        let (result, attempts) = retry(&self.policy, on_retry, op).await;
        result.map_err(|failure| Failure { error: failure.error.gave_up_after(attempts), ..failure })
    }

    /// The endpoint as shown to the user.
    pub fn endpoint_display(&self) -> String {
        self.connection.endpoint_shown()
    }

    /// The configured endpoint, or AWS's for `region`.
    fn endpoint(&self, region: &str) -> String {
        self.connection.endpoint_for(region)
    }

    /// A server's error message as put into ours: bounded, without the secrets the
    /// requests carry (the session token is sent; a server may echo it).
    fn excerpt(&self, message: &str) -> String {
        let secrets: Vec<&str> = self
            .connection
            .credentials
            .iter()
            .flat_map(|c| {
                [Some(c.secret_access_key.expose()), c.session_token.as_ref().map(|t| t.expose())].into_iter().flatten()
            })
            .collect();
        sortie_http::excerpt(message.as_bytes(), &secrets)
    }

    /// The access key id in use and where it came from, for messages; never the secret.
    fn credentials_label(&self) -> String {
        match &self.connection.credentials {
            Some(c) => format!("access key id {} (from {})", c.access_key_id, c.origin),
            None => "anonymous requests (--no-sign-request)".to_owned(),
        }
    }

    /// The account as the restitution report names it: the access key id shortened to its
    /// last four characters (the whole id is not secret, but with a leaked secret it is
    /// half a credential, and a report travels further than a log).
    pub fn account(&self) -> String {
        match &self.connection.credentials {
            Some(c) => {
                let id = &c.access_key_id;
                let tail = id.char_indices().rev().nth(3).map_or(id.as_str(), |(at, _)| &id[at..]);
                format!("access key id …{tail}")
            }
            None => "anonymous requests (--no-sign-request)".to_owned(),
        }
    }

    /// Sends `request` and parses its answer, the XML document `what` (for messages).
    pub async fn get_document<T: DeserializeOwned>(&self, request: &Request<'_>, what: &str) -> Result<T> {
        let response = self.send(request).await?;
        let text = response.text().await.map_err(|e| {
            Error::new(ErrorKind::Unavailable, format!("reading the answer to {what}: {e}")).temporary()
        })?;
        xml::parse(what, &text)
    }

    /// Sends `request` and returns the response when its status is a success.
    pub async fn send(&self, request: &Request<'_>) -> Result<Response> {
        self.send_checked(request).await.map_err(|f| f.error)
    }

    /// Like [`send`](Self::send), keeping the S3 error code of a failure.
    pub async fn send_checked(&self, request: &Request<'_>) -> Result<Response, Failure> {
        let mut redirected = false;
        loop {
            let region = self.region_of(request.bucket);
            let response = self.send_once(request, &region).await.map_err(|error| Failure {
                status: None,
                code: String::new(),
                error,
            })?;
            if response.status().is_success() {
                return Ok(response);
            }
            let failure = self.failure(request, &region, response).await;
            if let (false, Some(bucket), Some(other)) = (redirected, request.bucket, failure.1.as_deref()) {
                tracing::info!(bucket, region = other, "bucket lives in another region; following");
                self.regions.lock().expect("region map").insert(bucket.to_owned(), other.to_owned());
                redirected = true;
                continue;
            }
            return Err(failure.0);
        }
    }

    fn region_of(&self, bucket: Option<&str>) -> String {
        bucket
            .and_then(|b| self.regions.lock().expect("region map").get(b).cloned())
            .unwrap_or_else(|| self.connection.region.clone())
    }

    async fn send_once(&self, request: &Request<'_>, region: &str) -> Result<Response> {
        let url = self.url(request, region);
        let method = if request.head { Method::HEAD } else { Method::GET };
        let mut headers: Vec<(&str, String)> = request.headers.iter().map(|(k, v)| (*k, v.clone())).collect();
        if let Some(credentials) = &self.connection.credentials {
            let cannot_sign =
                |e: &dyn std::fmt::Display| Error::new(ErrorKind::Other, format!("cannot sign the request: {e}"));
            let identity = AwsCredentials::new(
                &credentials.access_key_id,
                credentials.secret_access_key.expose(),
                credentials.session_token.as_ref().map(|t| t.expose().to_owned()),
                None,
                "sortie",
            )
            .into();
            let mut settings = SigningSettings::default();
            settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
            settings.percent_encoding_mode = PercentEncodingMode::Single;
            settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
            let params = v4::SigningParams::builder()
                .identity(&identity)
                .region(region)
                .name("s3")
                .time(SystemTime::now())
                .settings(settings)
                .build()
                .map_err(|e| cannot_sign(&e))?
                .into();
            let signable = SignableRequest::new(
                method.as_str(),
                url.as_str(),
                headers.iter().map(|(k, v)| (*k, v.as_str())),
                SignableBody::Bytes(&[]),
            )
            .map_err(|e| cannot_sign(&e))?;
            let (instructions, _signature) = sign(signable, &params).map_err(|e| cannot_sign(&e))?.into_parts();
            let (signed, _) = instructions.into_parts();
            headers.extend(signed.iter().map(|h| (h.name(), h.value().to_owned())));
        }
        if sortie_http::has_dot_segment(&url) {
            let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let what = format!("the S3 endpoint {}", self.endpoint_display());
            return sortie_http::logged(&method, &url, self.raw.send(method.clone(), &url, &headers, &what)).await;
        }
        let mut builder = self.http.request(method.clone(), &url);
        for (name, value) in &headers {
            builder = builder.header(*name, value.as_str());
        }
        sortie_http::logged(&method, &url, async { builder.send().await.map_err(|e| self.transport_error(&e)) }).await
    }

    /// Path-style `ENDPOINT/BUCKET/KEY` or virtual-hosted `BUCKET.HOST/KEY`.
    fn url(&self, request: &Request<'_>, region: &str) -> String {
        let endpoint = self.endpoint(region);
        let mut url = String::with_capacity(128);
        match request.bucket {
            Some(bucket) if !self.path_style(bucket, &endpoint) => {
                let (scheme, host) = endpoint.split_once("://").expect("checked endpoint");
                url.push_str(&format!("{scheme}://{bucket}.{host}/"));
            }
            Some(bucket) => url.push_str(&format!("{endpoint}/{bucket}/")),
            None => url.push_str(&format!("{endpoint}/")),
        }
        if let Some(key) = request.key {
            url.extend(percent_encode(key, KEY));
        }
        let mut query: Vec<String> = request
            .query
            .iter()
            .map(|(k, v)| {
                if v.is_empty() { (*k).to_owned() } else { format!("{k}={}", percent_encode(v.as_bytes(), COMPONENT)) }
            })
            .collect();
        query.sort();
        if !query.is_empty() {
            url.push('?');
            url.push_str(&query.join("&"));
        }
        url
    }

    fn path_style(&self, bucket: &str, endpoint: &str) -> bool {
        if let Some(forced) = self.connection.path_style {
            return forced;
        }
        let host = endpoint.split_once("://").map_or(endpoint, |(_, h)| h);
        let host =
            host.rsplit_once(':').filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit())).map_or(host, |(h, _)| h);
        let ip_or_local = host == "localhost" || host.parse::<std::net::IpAddr>().is_ok() || host.starts_with('[');
        // A name that cannot be a DNS label, or one with dots under TLS (the certificate's
        // wildcard covers one level), only works in the path.
        let dns_unsafe = bucket.bytes().any(|b| b.is_ascii_uppercase() || b == b'_')
            || (bucket.contains('.') && endpoint.starts_with("https://"));
        ip_or_local || dns_unsafe
    }

    fn transport_error(&self, error: &reqwest::Error) -> Error {
        sortie_http::transport_error(&format!("the S3 endpoint {}", self.endpoint_display()), error)
    }

    /// Maps a failed response; the second value is the region the server says the bucket
    /// is in, when it says so and the request was signed for another.
    async fn failure(&self, request: &Request<'_>, region: &str, response: Response) -> (Failure, Option<String>) {
        let status = response.status();
        let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let bucket_region = header("x-amz-bucket-region");
        let retry_after = header("retry-after").and_then(|v| v.trim().parse::<u64>().ok()).map(Duration::from_secs);
        let body = if request.head { ErrorBody::default() } else { read_error_body(response).await };
        let other_region = body.region.clone().or(bucket_region).filter(|r| r != region);
        let code = if body.code.is_empty() {
            status.canonical_reason().unwrap_or("").replace(' ', "")
        } else {
            self.excerpt(&body.code)
        };
        let detail = match self.excerpt(&body.message) {
            message if message.is_empty() => message,
            message => format!(": {message}"),
        };
        let answer = Answer { status, code, detail, retry_after, other_region };
        let asked = Asked {
            request,
            region,
            key_id: self.credentials_label(),
            endpoint: self.endpoint_display(),
            what: describe(request),
        };
        let other_region = answer.other_region.clone();
        (error::failure(answer, &asked), other_region)
    }
}

async fn read_error_body(response: Response) -> ErrorBody {
    match read_capped(response, MAX_ERROR_BODY).await {
        Ok(Some(body)) => std::str::from_utf8(&body).ok().and_then(|text| xml::parse("an error", text).ok()),
        _ => None,
    }
    .unwrap_or_default()
}

/// Reads a small document whole; `None` when it is longer than `cap` (then it is not the
/// document asked for: a server that ignored a sub-resource may be sending an object).
pub async fn read_capped(mut response: Response, cap: usize) -> Result<Option<Bytes>> {
    if response.content_length().is_some_and(|length| length > cap as u64) {
        return Ok(None);
    }
    let mut body = BytesMut::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| Error::new(ErrorKind::Unavailable, format!("reading an answer: {e}")).temporary())?
    {
        body.extend_from_slice(&chunk);
        if body.len() > cap {
            return Ok(None);
        }
    }
    Ok(Some(body.freeze()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::{Connection, Credentials, Secret};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn client(endpoint: Option<&str>, path_style: Option<bool>) -> Client {
        Client::new(Connection {
            credentials: Some(Credentials {
                access_key_id: "AKIATEST".into(),
                secret_access_key: Secret::new("test-secret"),
                session_token: None,
                origin: "a test".into(),
            }),
            region: "eu-west-3".into(),
            endpoint: endpoint.map(str::to_owned),
            path_style,
            ca_bundle: None,
        })
        .unwrap()
    }

    fn get<'a>(bucket: &'a str, key: &'a str) -> Request<'a> {
        Request { bucket: Some(bucket), key: Some(key.as_bytes()), ..Default::default() }
    }

    #[test]
    fn addressing_follows_endpoint_and_bucket_name() {
        let aws = client(None, None);
        assert_eq!(
            aws.url(&get("photos", "a b/c+d"), "eu-west-3"),
            "https://photos.s3.eu-west-3.amazonaws.com/a%20b/c%2Bd"
        );
        assert_eq!(aws.url(&get("my.photos", "k"), "eu-west-3"), "https://s3.eu-west-3.amazonaws.com/my.photos/k");
        let local = client(Some("http://127.0.0.1:9000"), None);
        assert_eq!(local.url(&get("b", "x//y"), "r"), "http://127.0.0.1:9000/b/x//y");
        // Sent as written, by the raw-path client: `..` is a key segment, not a step up.
        assert_eq!(local.url(&get("b", "../escape"), "r"), "http://127.0.0.1:9000/b/../escape");
        assert_eq!(local.url(&get("b", "."), "r"), "http://127.0.0.1:9000/b/.");
        let ovh = client(Some("https://s3.gra.io.cloud.ovh.net"), None);
        assert_eq!(ovh.url(&get("b", "k"), "gra"), "https://b.s3.gra.io.cloud.ovh.net/k");
        let forced = client(Some("https://s3.gra.io.cloud.ovh.net"), Some(true));
        assert_eq!(forced.url(&get("b", "k"), "gra"), "https://s3.gra.io.cloud.ovh.net/b/k");
        let list = Request {
            bucket: Some("b"),
            query: vec![("prefix", "a/é".into()), ("list-type", "2".into()), ("versions", String::new())],
            ..Default::default()
        };
        assert_eq!(local.url(&list, "r"), "http://127.0.0.1:9000/b/?list-type=2&prefix=a%2F%C3%A9&versions");
    }

    /// Answers that no local S3 server gives on demand (a redirect to another region,
    /// throttling, an expired session) come from this loopback responder, one scripted
    /// answer per connection; it returns the request heads it saw.
    async fn responder(answers: Vec<String>) -> (String, tokio::task::JoinHandle<Vec<String>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let mut seen = Vec::new();
            for answer in answers {
                let (mut socket, _) = listener.accept().await.unwrap();
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    let n = socket.read(&mut buf).await.unwrap();
                    head.extend_from_slice(&buf[..n]);
                }
                seen.push(String::from_utf8_lossy(&head).into_owned());
                socket.write_all(answer.as_bytes()).await.unwrap();
                socket.shutdown().await.unwrap();
            }
            seen
        });
        (endpoint, task)
    }

    fn answer(status: &str, headers: &str, body: &str) -> String {
        format!("HTTP/1.1 {status}\r\n{headers}content-length: {}\r\nconnection: close\r\n\r\n{body}", body.len())
    }

    #[tokio::test]
    async fn a_bucket_in_another_region_is_followed_once_and_remembered() {
        let redirect = answer(
            "301 Moved Permanently",
            "x-amz-bucket-region: eu-west-3\r\n",
            "<Error><Code>PermanentRedirect</Code><Message>use the right endpoint</Message></Error>",
        );
        let ok = answer("200 OK", "", "ok");
        let (endpoint, seen) = responder(vec![redirect, ok.clone(), ok]).await;
        let client = Client::new(Connection {
            region: "us-east-1".into(),
            endpoint: Some(endpoint),
            ..client(None, Some(true)).connection.clone()
        })
        .unwrap();
        let request = get("b", "k");
        assert_eq!(client.send(&request).await.unwrap().text().await.unwrap(), "ok");
        client.send(&request).await.unwrap();
        let seen = seen.await.unwrap();
        assert!(seen[0].contains("/us-east-1/s3/aws4_request"), "{}", seen[0]);
        assert!(seen[1].contains("/eu-west-3/s3/aws4_request"), "{}", seen[1]);
        assert!(seen[2].contains("/eu-west-3/s3/aws4_request"), "{}", seen[2]);
        assert!(seen.iter().all(|head| !head.contains("test-secret")));
    }

    #[tokio::test]
    async fn throttling_server_errors_and_expired_sessions_get_their_kinds() {
        let answers = vec![
            answer("503 Service Unavailable", "retry-after: 7\r\n", "<Error><Code>SlowDown</Code></Error>"),
            answer("429 Too Many Requests", "", ""),
            answer("500 Internal Server Error", "", "<Error><Code>InternalError</Code></Error>"),
            answer("400 Bad Request", "", "<Error><Code>ExpiredToken</Code><Message>expired</Message></Error>"),
            answer("501 Not Implemented", "", "<Error><Code>NotImplemented</Code></Error>"),
            answer("403 Forbidden", "", "<Error><Code>InvalidObjectState</Code></Error>"),
            answer("403 Forbidden", "", "<Error><Code>RequestTimeTooSkewed</Code></Error>"),
            answer("403 Forbidden", "", "<Error><Code>SignatureDoesNotMatch</Code></Error>"),
            answer("403 Forbidden", "", "<Error><Code>SignatureDoesNotMatch</Code></Error>"),
        ];
        let (endpoint, _seen) = responder(answers).await;
        let client =
            Client::new(Connection { endpoint: Some(endpoint), ..client(None, Some(true)).connection.clone() })
                .unwrap();
        let request = get("b", "k");
        let mut errors = Vec::new();
        for _ in 0..8 {
            errors.push(client.send(&request).await.unwrap_err());
        }
        let bucket_only = Request { bucket: Some("b"), ..Default::default() };
        errors.push(client.send(&bucket_only).await.unwrap_err());
        assert_eq!(errors[0].kind(), ErrorKind::RateLimited);
        assert!(errors[0].is_temporary());
        assert_eq!(errors[0].retry_after(), Some(Duration::from_secs(7)));
        assert_eq!((errors[1].kind(), errors[1].is_temporary()), (ErrorKind::RateLimited, true));
        assert_eq!((errors[2].kind(), errors[2].is_temporary()), (ErrorKind::Unavailable, true));
        assert_eq!((errors[3].kind(), errors[3].is_temporary()), (ErrorKind::Unauthenticated, false));
        assert!(errors[3].to_string().contains("session token of access key id AKIATEST (from a test) has expired"));
        assert_eq!(errors[4].kind(), ErrorKind::Unsupported);
        assert!(errors[5].to_string().contains("restore it first"), "{}", errors[5]);
        assert_eq!(errors[6].kind(), ErrorKind::Unauthenticated);
        assert!(errors[6].to_string().contains("clock"), "{}", errors[6]);
        // A signature refused for one key is that key's problem; for the bucket, the secret's.
        assert_eq!(errors[7].kind(), ErrorKind::Other);
        assert_eq!(errors[8].kind(), ErrorKind::Unauthenticated);
        assert!(errors[8].to_string().contains("secret access key is wrong"), "{}", errors[8]);
    }

    #[tokio::test]
    async fn each_side_request_is_retried_alone_and_gives_up_permanently() {
        let slow = answer("503 Service Unavailable", "", "<Error><Code>SlowDown</Code></Error>");
        let ok = answer("200 OK", "", "<Tagging><TagSet/></Tagging>");
        let (endpoint, seen) = responder(vec![slow.clone(), slow.clone(), ok, slow.clone(), slow]).await;
        let policy = RetryPolicy::new(2, Duration::from_millis(1), Duration::from_millis(2));
        let client =
            Client::new(Connection { endpoint: Some(endpoint), ..client(None, Some(true)).connection.clone() })
                .unwrap()
                .with_retry(policy);
        let request = get("b", "k");
        let read =
            client.retried("a tag set", || async { Ok(client.send_checked(&request).await?.text().await.unwrap()) });
        assert_eq!(read.await.unwrap(), "<Tagging><TagSet/></Tagging>");
        let policy = RetryPolicy::new(1, policy.base, policy.max);
        let client = client.with_retry(policy);
        let failure = client.retried("a tag set", || client.send_checked(&request)).await.unwrap_err();
        assert_eq!(failure.error.kind(), ErrorKind::RateLimited);
        assert!(!failure.error.is_temporary(), "no outer layer retries it again");
        assert!(failure.error.to_string().contains("gave up after 2 attempts"), "{}", failure.error);
        assert_eq!(seen.await.unwrap().len(), 5);
    }
}
