//! The one error type providers and the engine share.
//!
//! Every provider maps its wire errors to a [`ErrorKind`] and says whether trying again
//! may help; the retry layer reads only that flag, so no provider retries on its own.

use std::fmt;
use std::io;
use std::time::Duration;

use serde::Serialize;

/// What went wrong, coarsely: enough to pick an exit code and a hint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
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
    /// Anything else.
    Other,
}

/// An error with a kind, a message meant for the user, and whether to retry.
#[derive(Debug, Clone, thiserror::Error)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    temporary: bool,
    retry_after: Option<Duration>,
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
