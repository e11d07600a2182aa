//! DAV answers as Sortie errors: which kind, and whether trying again may help. Messages
//! name the user and the server, never a password or token.

use reqwest::StatusCode;
use sortie_sdk::error::{Error, ErrorKind};

/// `what` (a method and URL) answered with `status`; `who` names the user and server,
/// `excerpt` is the answer's secret-free excerpt.
pub fn from_status(status: StatusCode, what: &str, who: &str, excerpt: &str) -> Error {
    let body = if excerpt.is_empty() { String::new() } else { format!(": {excerpt}") };
    match status {
        StatusCode::UNAUTHORIZED => Error::new(
            ErrorKind::Unauthenticated,
            format!(
                "{who} refused the credentials (401) on {what}: check the user name and the password (setting \
                 `password`, SORTIE_DAV_PASSWORD) or token (`token`, SORTIE_DAV_TOKEN)"
            ),
        ),
        StatusCode::FORBIDDEN => {
            Error::new(ErrorKind::PermissionDenied, format!("{who} may not read {what} (403){body}"))
        }
        StatusCode::NOT_FOUND | StatusCode::GONE => {
            Error::new(ErrorKind::NotFound, format!("{what} does not exist ({status})"))
        }
        StatusCode::TOO_MANY_REQUESTS => {
            Error::new(ErrorKind::RateLimited, format!("{who} asks to slow down ({status}) on {what}")).temporary()
        }
        s if s.is_server_error() => {
            Error::new(ErrorKind::Unavailable, format!("{who} failed on {what} with {s}{body}")).temporary()
        }
        s => Error::new(ErrorKind::Other, format!("{who} refused {what} with {s}{body}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_kinds_and_only_server_trouble_is_retried() {
        let kind = |status: u16| {
            let error = from_status(StatusCode::from_u16(status).unwrap(), "GET /a", "user 'u' at h", "");
            (error.kind(), error.is_temporary())
        };
        assert_eq!(kind(401), (ErrorKind::Unauthenticated, false));
        assert_eq!(kind(404), (ErrorKind::NotFound, false));
        assert_eq!(kind(503), (ErrorKind::Unavailable, true));
        assert_eq!(kind(409), (ErrorKind::Other, false));
    }
}
