//! Swift's, Keystone's and the other services' answers as Sortie errors: which kind, and
//! whether trying again may help. Messages name the identity and the target, never a
//! password, secret or token (the caller removes those from any quoted answer).

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use sortie_sdk::error::{Error, ErrorKind};

/// The delay a `Retry-After` header asks for, in whole seconds.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

/// A request of `identity` on `target` answered with `status`; `body` is the answer's
/// excerpt (`: …`, or empty).
pub fn from_status(
    status: StatusCode,
    target: &str,
    identity: &str,
    body: &str,
    retry_after: Option<Duration>,
) -> Error {
    let error = match status {
        StatusCode::NOT_FOUND => Error::new(ErrorKind::NotFound, format!("{target} does not exist (404)")),
        StatusCode::UNAUTHORIZED => Error::new(
            ErrorKind::Unauthenticated,
            format!("the object store refused a fresh token of {identity} (401){body}"),
        ),
        StatusCode::FORBIDDEN => Error::new(
            ErrorKind::PermissionDenied,
            format!(
                "{identity} may not read {target} (403): the project role or the container's ACL does not allow it{body}"
            ),
        ),
        // 498 is Swift's ratelimit middleware's answer.
        s if s == StatusCode::TOO_MANY_REQUESTS || s.as_u16() == 498 => {
            Error::new(ErrorKind::RateLimited, format!("the object store asks to slow down ({s}) on {target}"))
                .temporary()
        }
        s if s.is_server_error() => {
            Error::new(ErrorKind::Unavailable, format!("the object store failed on {target} with {s}{body}"))
                .temporary()
        }
        s => Error::new(ErrorKind::Other, format!("the object store refused {target} with {s}{body}")),
    };
    match retry_after {
        Some(after) if error.is_temporary() => error.with_retry_after(after),
        _ => error,
    }
}

/// An authentication of `who` answered with an error status; `reason` is the server's
/// message, `hint` what to check after a 401.
pub fn login_refused(status: StatusCode, who: &str, auth_url: &str, reason: &str, hint: &str) -> Error {
    match status {
        StatusCode::UNAUTHORIZED => {
            Error::new(ErrorKind::Unauthenticated, format!("authentication refused for {who}: {reason}; {hint}"))
        }
        StatusCode::NOT_FOUND => Error::new(
            ErrorKind::InvalidInput,
            format!("no authentication service answers at {auth_url} (404): check the auth URL"),
        ),
        s if s.is_server_error() || s == StatusCode::TOO_MANY_REQUESTS => {
            Error::new(ErrorKind::Unavailable, format!("authentication for {who} failed with {s}: {reason}"))
                .temporary()
        }
        s => Error::new(ErrorKind::InvalidInput, format!("authentication for {who} failed with {s}: {reason}")),
    }
}

/// `cannot reach URL` (without its query).
pub fn transport_error(url: &str, error: &reqwest::Error) -> Error {
    sortie_http::transport_error(url.split('?').next().unwrap_or(url), error)
}

/// The authentication service at `url` cannot be reached.
pub fn unreachable(url: &str, error: &reqwest::Error) -> Error {
    sortie_http::transport_error(&format!("the authentication service at {url}"), error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_kinds_and_only_server_trouble_is_retried() {
        let kind = |status: u16| {
            let error = from_status(StatusCode::from_u16(status).unwrap(), "container 'c'", "user 'u'", "", None);
            (error.kind(), error.is_temporary())
        };
        assert_eq!(kind(404), (ErrorKind::NotFound, false));
        assert_eq!(kind(403), (ErrorKind::PermissionDenied, false));
        assert_eq!(kind(498), (ErrorKind::RateLimited, true));
        assert_eq!(kind(503), (ErrorKind::Unavailable, true));
        assert_eq!(kind(409), (ErrorKind::Other, false));
        let slow = from_status(StatusCode::TOO_MANY_REQUESTS, "t", "u", "", Some(Duration::from_secs(3)));
        assert_eq!(slow.retry_after(), Some(Duration::from_secs(3)));
        let refused = login_refused(StatusCode::UNAUTHORIZED, "user 'u'", "http://k", "bad", "check it");
        assert_eq!(refused.to_string(), "authentication refused for user 'u': bad; check it");
        assert!(login_refused(StatusCode::BAD_GATEWAY, "u", "k", "r", "h").is_temporary());
    }
}
