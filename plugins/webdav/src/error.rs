//! A DAV server's answers as Sortie errors: which kind, whether trying again may help, and
//! what to do. Messages name the user and the host, never a password or token (the caller
//! removes those from any quoted answer).

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use sortie_sdk::error::{Error, ErrorKind};

/// What a request was for and on whose behalf, for messages.
pub struct Target<'a> {
    /// `the collection /dav/a/`, `file 'a/b.txt'`.
    pub what: &'a str,
    /// `user 'alice' at host:port`, `a bearer token at host`, `anonymous access to host`.
    pub who: &'a str,
    /// `PROPFIND` or `GET`.
    pub method: &'a str,
}

/// A request answered with `status`; `body` is the answer's excerpt (`: …`, or empty).
pub fn from_status(status: StatusCode, target: &Target<'_>, body: &str, headers: &HeaderMap) -> Error {
    let Target { what, who, method } = target;
    let error = match status {
        StatusCode::UNAUTHORIZED => Error::new(
            ErrorKind::Unauthenticated,
            format!(
                "the server refused {who} (401){body}: check the user name and password (WEBDAV_USER or --set user=…, \
                 WEBDAV_PASSWORD; for Nextcloud with two-factor authentication, an app password) or the token \
                 (WEBDAV_TOKEN)"
            ),
        ),
        StatusCode::FORBIDDEN => {
            Error::new(ErrorKind::PermissionDenied, format!("{who} may not read {what} (403){body}"))
        }
        StatusCode::NOT_FOUND | StatusCode::GONE => {
            Error::new(ErrorKind::NotFound, format!("{what} does not exist at the server ({status})"))
        }
        StatusCode::METHOD_NOT_ALLOWED | StatusCode::NOT_IMPLEMENTED if *method == "PROPFIND" => Error::new(
            ErrorKind::InvalidInput,
            format!("{what} does not answer PROPFIND ({status}): it is not a WebDAV collection URL{body}"),
        ),
        s if s == StatusCode::TOO_MANY_REQUESTS => {
            Error::new(ErrorKind::RateLimited, format!("the server asks to slow down (429) on {what}")).temporary()
        }
        s if s.is_server_error() => {
            Error::new(ErrorKind::Unavailable, format!("the server failed on {method} {what} with {s}{body}"))
                .temporary()
        }
        s => Error::new(ErrorKind::Other, format!("the server answered {method} {what} with {s}{body}")),
    };
    match retry_after(headers) {
        Some(after) if error.is_temporary() => error.with_retry_after(after),
        _ => error,
    }
}

/// The delay a `Retry-After` header asks for, in whole seconds.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers.get("retry-after")?.to_str().ok()?.trim().parse().ok().map(Duration::from_secs)
}

/// A request that got no answer; a certificate problem says which setting trusts a CA.
pub fn transport_error(url: &str, error: &reqwest::Error) -> Error {
    let error = sortie_http::transport_error(url, error);
    if error.to_string().contains("certificate") {
        let message = format!(
            "{error}: the server's certificate is not trusted; give the certificate authority that signed it \
             with --set ca_bundle=FILE (or WEBDAV_CA_BUNDLE=FILE)"
        );
        return Error::new(error.kind(), message);
    }
    error
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_kinds_and_only_server_trouble_is_retried() {
        let target = Target { what: "the collection /dav/", who: "user 'alice' at h:1", method: "PROPFIND" };
        let kind = |status: u16| {
            let error = from_status(StatusCode::from_u16(status).unwrap(), &target, "", &HeaderMap::new());
            (error.kind(), error.is_temporary())
        };
        assert_eq!(kind(401), (ErrorKind::Unauthenticated, false));
        assert_eq!(kind(403), (ErrorKind::PermissionDenied, false));
        assert_eq!(kind(404), (ErrorKind::NotFound, false));
        assert_eq!(kind(405), (ErrorKind::InvalidInput, false));
        assert_eq!(kind(429), (ErrorKind::RateLimited, true));
        assert_eq!(kind(503), (ErrorKind::Unavailable, true));
        let refused = from_status(StatusCode::UNAUTHORIZED, &target, "", &HeaderMap::new()).to_string();
        assert!(refused.starts_with("the server refused user 'alice' at h:1 (401)"), "{refused}");
    }
}
