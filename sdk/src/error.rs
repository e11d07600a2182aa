//! The one error type providers and the engine share.
//!
//! Every provider maps its wire errors to a [`ErrorKind`] and says whether trying again
//! may help; the retry layer reads only that flag, so no provider retries on its own.

use std::fmt;
use std::io;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What went wrong, coarsely: enough to pick an exit code and a hint. It serializes
/// (`not-found`, `rate-limited`…) so that an error can cross a process or a C ABI as data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// The source, or an item in it, does not exist.
    NotFound,
    /// The credentials do not allow it.
    PermissionDenied,
    /// The credentials were refused.
    Unauthenticated,
    /// The provider asked to slow down.
    RateLimited,
    /// The provider could not be reached or answered with a server error.
    Unavailable,
    /// The command line or configuration is wrong.
    InvalidInput,
    /// The provider or item does not support what was asked.
    Unsupported,
    /// Bytes did not match their announced length or checksum.
    Integrity,
    /// A local input/output error.
    Io,
    /// Anything else, and any kind this version does not know (from a newer plugin).
    #[serde(other)]
    Other,
}

/// An error with a kind, a message meant for the user, and whether to retry. It serializes
/// as `{"kind", "message", "temporary", "retry_after_ms"}`, the shape a plugin loaded at run
/// time returns its errors in. The message must never hold a secret: it is logged, printed
/// and written into the archive's report.
#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize, Deserialize)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    #[serde(default)]
    temporary: bool,
    #[serde(default, rename = "retry_after_ms", with = "millis", skip_serializing_if = "Option::is_none")]
    retry_after: Option<Duration>,
}

/// `retry_after` as whole milliseconds, a plain number in any language.
mod millis {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(after: &Option<Duration>, serializer: S) -> Result<S::Ok, S::Error> {
        match after {
            Some(after) => serializer.serialize_u64(u64::try_from(after.as_millis()).unwrap_or(u64::MAX)),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Duration>, D::Error> {
        Ok(Option::<u64>::deserialize(deserializer)?.map(Duration::from_millis))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl Error {
    /// A permanent error.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into(), temporary: false, retry_after: None }
    }

    /// Marks the error as worth retrying.
    pub fn temporary(mut self) -> Self {
        self.temporary = true;
        self
    }

    /// The provider said when to come back (`Retry-After`).
    pub fn with_retry_after(mut self, after: Duration) -> Self {
        self.retry_after = Some(after);
        self
    }

    /// Maps a local I/O error, prefixing what was being done.
    pub fn io(context: impl fmt::Display, error: &io::Error) -> Self {
        use io::ErrorKind as K;
        let kind = match error.kind() {
            K::NotFound => ErrorKind::NotFound,
            K::PermissionDenied | K::ReadOnlyFilesystem => ErrorKind::PermissionDenied,
            K::InvalidData | K::UnexpectedEof => ErrorKind::Integrity,
            _ => ErrorKind::Io,
        };
        let temporary = matches!(error.kind(), K::Interrupted | K::WouldBlock | K::TimedOut);
        Self { kind, message: format!("{context}: {error}"), temporary, retry_after: None }
    }

    /// The kind.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Whether trying again may help.
    pub fn is_temporary(&self) -> bool {
        self.temporary
    }

    /// The delay the provider asked for, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// What a retry layer returns once its retries are spent: a still temporary error
    /// becomes permanent, saying how often it was tried, so that no outer layer (the
    /// engine's retry of the item or page) multiplies the attempts.
    pub fn gave_up_after(self, attempts: u32) -> Self {
        if !self.temporary {
            return self;
        }
        Self::new(self.kind, format!("{} (gave up after {attempts} attempts)", self.message))
    }

    /// The same error with `context: ` before its message.
    pub fn context(mut self, context: impl fmt::Display) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }
}

/// Results with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_cross_as_json() {
        let error =
            Error::new(ErrorKind::RateLimited, "slow down").temporary().with_retry_after(Duration::from_secs(2));
        let json = serde_json::to_value(&error).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"kind": "rate-limited", "message": "slow down", "temporary": true, "retry_after_ms": 2000})
        );
        assert_eq!(serde_json::from_value::<Error>(json).unwrap(), error);
        let plain: Error = serde_json::from_str(r#"{"kind":"not-found","message":"gone"}"#).unwrap();
        assert_eq!((plain.kind(), plain.is_temporary(), plain.retry_after()), (ErrorKind::NotFound, false, None));
    }
}
