//! libssh2's errors as the contract's: a kind, whether to retry, and the message with what
//! was being done. libssh2's messages never hold a password or a passphrase.

use sortie_sdk::{Error, ErrorKind};
use ssh2::ErrorCode;

// SFTP status codes (draft-ietf-secsh-filexfer-02, the version OpenSSH speaks).
const FX_NO_SUCH_FILE: i32 = 2;
const FX_PERMISSION_DENIED: i32 = 3;
const FX_NO_CONNECTION: i32 = 6;
const FX_CONNECTION_LOST: i32 = 7;
const FX_NO_SUCH_PATH: i32 = 10;

/// libssh2 session errors that mean the connection, not the request, failed: socket,
/// banner, key exchange, MAC, channel and time-out errors.
const TRANSPORT: [i32; 25] = [
    -1, -2, -3, -4, -5, -7, -8, -9, -12, -13, -14, -20, -21, -22, -23, -24, -25, -26, -27, -30, -37, -43, -44, -45, -47,
];
/// libssh2 session errors that mean the credentials were refused.
const CREDENTIALS: [i32; 4] = [-15, -18, -19, -48];

/// Maps an error of libssh2 met while doing `context`.
pub(crate) fn ssh(context: impl std::fmt::Display, error: &ssh2::Error) -> Error {
    let message = format!("{context}: {}", error.message());
    match error.code() {
        ErrorCode::SFTP(FX_NO_SUCH_FILE | FX_NO_SUCH_PATH) => Error::new(ErrorKind::NotFound, message),
        ErrorCode::SFTP(FX_PERMISSION_DENIED) => Error::new(ErrorKind::PermissionDenied, message),
        ErrorCode::SFTP(FX_NO_CONNECTION | FX_CONNECTION_LOST) => lost(message),
        ErrorCode::Session(code) if TRANSPORT.contains(&code) => lost(message),
        ErrorCode::Session(code) if CREDENTIALS.contains(&code) => Error::new(ErrorKind::Unauthenticated, message),
        _ => Error::new(ErrorKind::Other, message),
    }
}

/// Maps an error of a body read (ssh2's `Read` turns its errors into `io::Error`s).
pub(crate) fn read(context: impl std::fmt::Display, error: &std::io::Error) -> Error {
    match error.kind() {
        std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied => Error::io(context, error),
        _ => lost(format!("{context}: {error}")),
    }
}

/// The connection failed: the server may be back on the next try, over a new session.
pub(crate) fn lost(message: String) -> Error {
    Error::new(ErrorKind::Unavailable, message).temporary()
}

/// Whether an error leaves its session unusable, so that the pool drops it.
pub(crate) fn breaks_session(error: &Error) -> bool {
    error.kind() == ErrorKind::Unavailable
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_follow_the_codes() {
        let kind = |code| ssh("reading /x", &ssh2::Error::new(code, "m")).kind();
        assert_eq!(kind(ErrorCode::SFTP(FX_NO_SUCH_FILE)), ErrorKind::NotFound);
        assert_eq!(kind(ErrorCode::SFTP(FX_PERMISSION_DENIED)), ErrorKind::PermissionDenied);
        assert_eq!(kind(ErrorCode::Session(-18)), ErrorKind::Unauthenticated);
        let lost = ssh("reading /x", &ssh2::Error::new(ErrorCode::Session(-43), "recv"));
        assert!(lost.kind() == ErrorKind::Unavailable && lost.is_temporary() && breaks_session(&lost));
        assert_eq!(lost.to_string(), "reading /x: recv");
    }
}
