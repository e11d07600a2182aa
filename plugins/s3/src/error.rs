//! S3's error answers as the contract's errors: a kind, whether to retry, and a message that
//! says what to do, naming the access key id but never a secret.

use std::time::Duration;

use reqwest::StatusCode;
use sortie_sdk::retry::Retryable;
use sortie_sdk::{Error, ErrorKind};

use crate::client::Request;

/// An S3 error answer, kept whole so that callers can tell a missing configuration
/// (`NoSuchCORSConfiguration`) from a missing bucket.
#[derive(Debug)]
pub struct Failure {
    /// `None` when no answer came (connection refused, reset, timed out).
    pub status: Option<StatusCode>,
    pub code: String,
    pub error: Error,
}

impl From<Error> for Failure {
    /// An error met after the answer's status (its body broke off or does not parse).
    fn from(error: Error) -> Self {
        Self { status: None, code: String::new(), error }
    }
}

impl Retryable for Failure {
    fn retry_hint(&self) -> Option<Option<Duration>> {
        self.error.retry_hint()
    }
}

/// What `request` asked for, in words.
pub fn describe(request: &Request<'_>) -> String {
    let sub = request.query.iter().find(|(_, v)| v.is_empty()).map(|(k, _)| *k);
    match (request.bucket, request.key, sub) {
        (Some(bucket), Some(key), _) => format!("s3://{bucket}/{}", String::from_utf8_lossy(key)),
        (Some(bucket), None, Some(sub)) => format!("the {sub} configuration of bucket {bucket}"),
        (Some(bucket), None, None) => format!("bucket {bucket}"),
        (None, _, _) => "the list of buckets".to_owned(),
    }
}

/// A failed answer, as read by the client.
pub struct Answer {
    pub status: StatusCode,
    /// S3's error code (`NoSuchBucket`), or the status's reason without spaces.
    pub code: String,
    /// `: ` and the server's message, or nothing.
    pub detail: String,
    /// `Retry-After`, when the server sent one.
    pub retry_after: Option<Duration>,
    /// The region the server says the bucket is in, when not the one signed for.
    pub other_region: Option<String>,
}

/// The request that failed, and how it was sent, for messages.
pub struct Asked<'a> {
    pub request: &'a Request<'a>,
    /// The region it was signed for.
    pub region: &'a str,
    /// The access key id in use and where it came from.
    pub key_id: String,
    /// The endpoint as shown to the user.
    pub endpoint: String,
    /// What was asked for, in words.
    pub what: String,
}

/// Maps a failed answer: throttling and server errors are temporary, the rest permanent.
pub fn failure(answer: Answer, asked: &Asked<'_>) -> Failure {
    let Answer { status, code, detail, retry_after, other_region } = answer;
    let Asked { request, region, key_id, endpoint, what } = asked;
    let (kind, message) = match (status.as_u16(), code.as_str()) {
        (_, "ExpiredToken" | "TokenRefreshRequired") => (
            ErrorKind::Unauthenticated,
            format!("the session token of {key_id} has expired ({code}): get new temporary credentials and run again"),
        ),
        (_, "InvalidAccessKeyId") => (
            ErrorKind::Unauthenticated,
            format!(
                "{endpoint} does not know {key_id} (InvalidAccessKeyId): check AWS_ACCESS_KEY_ID or the profile, and the endpoint"
            ),
        ),
        // On one object (the same keys having signed the listing), a refused signature
        // says the server canonicalizes that key differently: not a reason to stop
        // asking for the others, as a refused credential is.
        (_, "SignatureDoesNotMatch") if request.key.is_some() => (
            ErrorKind::Other,
            format!(
                "{endpoint} refused the signature of the request for {what} (SignatureDoesNotMatch): the server encodes this key differently from AWS"
            ),
        ),
        (_, "SignatureDoesNotMatch") => (
            ErrorKind::Unauthenticated,
            format!(
                "{endpoint} refused the signature made with {key_id} (SignatureDoesNotMatch): its secret access key is wrong"
            ),
        ),
        (_, "RequestTimeTooSkewed") => (
            ErrorKind::Unauthenticated,
            format!(
                "{endpoint} refused the request because this machine's clock is more than 15 minutes off its own (RequestTimeTooSkewed): set the clock (NTP) and run again"
            ),
        ),
        (_, "InvalidObjectState") => (
            ErrorKind::Unsupported,
            format!(
                "{what} is archived (InvalidObjectState): restore it first (aws s3api restore-object), or pass --skip-archived to leave archived objects out"
            ),
        ),
        (_, "NoSuchBucket") => (
            ErrorKind::NotFound,
            format!("bucket '{}' does not exist at {endpoint} (NoSuchBucket)", request.bucket.unwrap_or_default()),
        ),
        (_, "AccessDenied" | "AllAccessDisabled") | (403, _) => {
            (ErrorKind::PermissionDenied, format!("{what}: access denied to {key_id} ({code}{detail})"))
        }
        (301 | 307, _) | (400, "AuthorizationHeaderMalformed" | "IllegalLocationConstraintException") => (
            ErrorKind::InvalidInput,
            match &other_region {
                Some(other) => {
                    format!("{what}: the bucket is in region {other}, not {region}: pass --s3-region {other}")
                }
                None => format!(
                    "{what}: the server redirects elsewhere ({code}{detail}); set the bucket's region with --s3-region or AWS_REGION"
                ),
            },
        ),
        (404, _) => (ErrorKind::NotFound, format!("{what}: not found ({code}{detail})")),
        (429, _) | (503, "SlowDown") => {
            (ErrorKind::RateLimited, format!("{what}: the server asks to slow down ({code})"))
        }
        (501, _) | (_, "NotImplemented") => {
            (ErrorKind::Unsupported, format!("{what}: not implemented by {endpoint} ({code})"))
        }
        (500..=599, _) => {
            (ErrorKind::Unavailable, format!("{what}: server error {} ({code}{detail})", status.as_u16()))
        }
        _ => (ErrorKind::Other, format!("{what}: {} ({code}{detail})", status.as_u16())),
    };
    let mut error = Error::new(kind, message);
    if matches!(kind, ErrorKind::RateLimited | ErrorKind::Unavailable) {
        error = error.temporary();
        if let Some(after) = retry_after {
            error = error.with_retry_after(after);
        }
    }
    Failure { status: Some(status), code, error }
}
