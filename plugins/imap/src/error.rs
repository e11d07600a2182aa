//! IMAP failures mapped to Sortie's error kinds, in one place: a dropped connection or a
//! timeout is temporary (the engine tries again on a new connection), a `NO` or `BAD` is not.

use async_imap::error::Error as ImapError;
use sortie_sdk::{Error, ErrorKind};

/// `what` failed on the server at `address`.
pub fn imap_error(what: &str, address: &str, error: ImapError) -> Error {
    match error {
        ImapError::Io(e) => transport(what, address, &e),
        ImapError::ConnectionLost => {
            Error::new(ErrorKind::Unavailable, format!("{what}: {address} closed the connection")).temporary()
        }
        ImapError::No(text) => {
            Error::new(ErrorKind::Other, format!("{what}: {address} answered NO: {}", answer(&text)))
        }
        ImapError::Bad(text) => {
            Error::new(ErrorKind::Unsupported, format!("{what}: {address} answered BAD: {}", answer(&text)))
        }
        other => Error::new(ErrorKind::Other, format!("{what}: unexpected answer from {address}: {other}")),
    }
}

/// The server's own words from the library's rendering of a tagged answer
/// (`code: None, info: Some("[AUTHENTICATIONFAILED] Authentication failed.")`).
fn answer(text: &str) -> &str {
    text.split_once("info: Some(\"").and_then(|(_, rest)| rest.rsplit_once("\")")).map_or(text.trim(), |(info, _)| info)
}

/// The most characters of a library's error text shown: a parse error quotes everything
/// the server sent since the last answer, which may be megabytes of a message.
const MAX_ERROR_TEXT: usize = 300;

/// A connection-level failure: temporary unless it is a TLS certificate problem.
pub fn transport(what: &str, address: &str, error: &std::io::Error) -> Error {
    let text = error.to_string();
    let shown = match text.char_indices().nth(MAX_ERROR_TEXT) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    };
    let mut message = format!("{what}: {address}: {shown}");
    if let Some(inner) = error.get_ref().and_then(|e| e.source()) {
        message.push_str(&format!(": {inner}"));
    }
    if message.contains("certificate") || message.contains("UnknownIssuer") {
        return Error::new(
            ErrorKind::InvalidInput,
            format!(
                "{message}: the TLS certificate of {address} is not trusted; give its certificate authority \
                 with --set ca_bundle=FILE.pem (or SORTIE_IMAP_CA_BUNDLE)"
            ),
        );
    }
    Error::new(ErrorKind::Unavailable, message).temporary()
}

/// An operation that took longer than the timeout: temporary.
pub fn timed_out(what: &str, address: &str) -> Error {
    Error::new(ErrorKind::Unavailable, format!("{what}: {address} did not answer in time")).temporary()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_server_words_are_kept() {
        let text = r#"code: None, info: Some("[AUTHENTICATIONFAILED] Authentication failed.")"#;
        assert_eq!(super::answer(text), "[AUTHENTICATIONFAILED] Authentication failed.");
        assert_eq!(super::answer(" plain "), "plain");
    }

    #[test]
    fn a_parse_error_does_not_quote_a_whole_message() {
        let huge = std::io::Error::other(format!("Error during parsing of {:?}", "é".repeat(1 << 20)));
        let shown = super::transport("listing", "h:993", &huge).to_string();
        assert!(shown.len() < 1000, "{} bytes", shown.len());
        assert!(shown.contains("listing: h:993: Error during parsing of"));
    }
}
