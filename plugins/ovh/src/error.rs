//! The API's refusals as Sortie errors: which kind, whether trying again may help, what to
//! do, and the `X-Ovh-QueryID` OVH's support asks for. Three answers mean "nothing of this
//! to export" rather than a failure — 404 (the account has none), 403 `NOT_GRANTED_CALL` (the
//! consumer key may not call the route) and 460 (the service is suspended) — and become
//! exclusions with their reason ([`exclusion`]).

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use sortie_sdk::error::{Error, ErrorKind};

/// The status OVH answers for a suspended service.
pub const SUSPENDED: u16 = 460;

/// An answer other than 2xx to `method route`, made as `who`; `body` is the answer.
pub fn from_answer(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    method: &str,
    route: &str,
    who: &str,
) -> Error {
    let json: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let code = json["errorCode"].as_str().unwrap_or_default();
    let said = match json["message"].as_str() {
        Some(message) => sortie_http::excerpt(message.as_bytes(), &[]),
        None => sortie_http::excerpt(body, &[]),
    };
    let said = if said.is_empty() { String::new() } else { format!(": \"{said}\"") };
    let query = query_id(headers).map_or(String::new(), |id| format!(" (X-Ovh-QueryID {id})"));
    let at = format!("{method} {route}");
    let error = match (status.as_u16(), code) {
        (403, "NOT_GRANTED_CALL") => Error::new(
            ErrorKind::PermissionDenied,
            format!("not granted: {who} may not call {at} (403 NOT_GRANTED_CALL){said}{query}"),
        ),
        (403, "INVALID_KEY") => Error::new(
            ErrorKind::Unauthenticated,
            format!(
                "{who} is refused as an unknown application key{said}{query}: check OVH_APPLICATION_KEY and the endpoint"
            ),
        ),
        (403, "INVALID_CREDENTIAL" | "NOT_CREDENTIAL") => Error::new(
            ErrorKind::Unauthenticated,
            format!(
                "the consumer key of {who} is refused{said}{query}: it does not exist, still waits for its \
                 validation (open the validation URL `sortie ovh credential` printed), or has expired or been \
                 revoked: check OVH_CONSUMER_KEY, or ask for a new one with `sortie ovh credential`"
            ),
        ),
        (401, _) => Error::new(
            ErrorKind::Unauthenticated,
            format!("the API refused {who} on {at} (401){said}{query}: check the credentials"),
        ),
        (400, "INVALID_SIGNATURE") => Error::new(
            ErrorKind::Unauthenticated,
            format!(
                "the API refused the signature of {who} on {at}{said}{query}: check OVH_APPLICATION_SECRET and \
                 OVH_CONSUMER_KEY (they belong together with the application key)"
            ),
        ),
        (400, "QUERY_TIME_OUT") => Error::new(
            ErrorKind::Unauthenticated,
            format!(
                "the API refused the timestamp of {who} on {at}{said}{query}: the clock of this machine is too far \
                 from the API's (Sortie corrects by /auth/time; check that nothing changes the clock during the export)"
            ),
        ),
        (403, _) => Error::new(ErrorKind::PermissionDenied, format!("{who} may not call {at} (403){said}{query}")),
        (404, _) => Error::new(ErrorKind::NotFound, format!("not found: {at} (404){said}{query}")),
        (SUSPENDED, _) => Error::new(
            ErrorKind::Unsupported,
            format!("suspended: the service behind {at} is suspended (460){said}{query}"),
        ),
        (429, _) => Error::new(ErrorKind::RateLimited, format!("the API asks to slow down (429) on {at}{said}{query}"))
            .temporary(),
        (s, _) if s >= 500 => {
            Error::new(ErrorKind::Unavailable, format!("the API failed on {at} with {status}{said}{query}")).temporary()
        }
        _ => Error::new(ErrorKind::Other, format!("the API answered {at} with {status}{said}{query}")),
    };
    match retry_after(headers) {
        Some(after) if error.is_temporary() => error.with_retry_after(after),
        _ => error,
    }
}

/// The `X-Ovh-QueryID` of an answer, printable and bounded.
pub fn query_id(headers: &HeaderMap) -> Option<String> {
    let id = headers.get("x-ovh-queryid")?.to_str().ok()?;
    Some(id.chars().filter(|c| c.is_ascii_graphic()).take(128).collect())
}

/// Why an error means "nothing of this to export" (404, 403 `NOT_GRANTED_CALL`, 460), as the
/// report's reason; `None` for a failure.
pub fn exclusion(error: &Error) -> Option<String> {
    matches!(error.kind(), ErrorKind::NotFound | ErrorKind::Unsupported)
        .then(|| error.to_string())
        .or_else(|| error.to_string().starts_with("not granted:").then(|| error.to_string()))
}

/// The delay a `Retry-After` header asks for, in whole seconds.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers.get("retry-after")?.to_str().ok()?.trim().parse().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> Error {
        let mut headers = HeaderMap::new();
        headers.insert("x-ovh-queryid", "EU.ext-1.abc".parse().unwrap());
        headers.insert("retry-after", "3".parse().unwrap());
        let status = StatusCode::from_u16(status).unwrap();
        from_answer(status, &headers, body.as_bytes(), "GET", "/domain/a.fr", "application key 'ak' at ovh-eu")
    }

    #[test]
    fn answers_map_to_kinds_exclusions_and_retries_with_the_query_id() {
        let granted = answer(403, r#"{"errorCode":"NOT_GRANTED_CALL","message":"This call has not been granted"}"#);
        assert_eq!(granted.kind(), ErrorKind::PermissionDenied);
        assert!(exclusion(&granted).unwrap().contains("X-Ovh-QueryID EU.ext-1.abc"), "{granted}");
        assert!(exclusion(&answer(404, r#"{"message":"The requested object (a.fr) does not exist"}"#)).is_some());
        assert!(exclusion(&answer(460, r#"{"message":"Service is suspended"}"#)).unwrap().starts_with("suspended"));
        let pending = answer(403, r#"{"errorCode":"INVALID_CREDENTIAL","message":"This credential is not valid"}"#);
        assert_eq!((pending.kind(), exclusion(&pending)), (ErrorKind::Unauthenticated, None));
        assert!(pending.to_string().contains("waits for its validation"), "{pending}");
        let signature = answer(
            400,
            r#"{"class":"Client::BadRequest","errorCode":"INVALID_SIGNATURE","message":"Invalid signature"}"#,
        );
        assert_eq!(signature.kind(), ErrorKind::Unauthenticated);
        let busy = answer(429, "{}");
        assert_eq!((busy.is_temporary(), busy.retry_after()), (true, Some(Duration::from_secs(3))));
        assert!(answer(503, "").is_temporary());
        assert!(!answer(403, r#"{"errorCode":"INVALID_KEY"}"#).is_temporary());
    }
}
