//! The HTTP client Sortie's network providers share: rustls on ring, the timeouts an export
//! of millions of objects needs, extra trusted certificates, and transport failures mapped
//! to Sortie's error kinds. Each provider keeps its own protocol; only the plumbing is here.

use std::path::Path;
use std::time::{Duration, SystemTime};

use sortie_sdk::error::{Error, ErrorKind, Result};

mod auth;
pub mod dav;
mod range;
mod raw_path;
mod request_log;

pub use auth::Auth;
pub use range::{changed_while_read, range_header, ranged_body};
pub use raw_path::{RawPathClient, has_dot_segment};
pub use request_log::{logged, shown_url};

const USER_AGENT: &str = concat!("sortie/", env!("CARGO_PKG_VERSION"));
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const READ_TIMEOUT: Duration = Duration::from_secs(120);

/// A client that follows no redirect (providers decide what a redirect means) and trusts,
/// besides the system's roots, the PEM certificates of `ca_bundle`.
pub fn client(ca_bundle: Option<&Path>) -> Result<reqwest::Client> {
    // reqwest is built without a default TLS crypto provider, so that ring (quick to build)
    // serves instead of aws-lc-rs; the first client installs it for the process.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut builder = reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .connect_timeout(CONNECT_TIMEOUT)
        .read_timeout(READ_TIMEOUT)
        .tcp_nodelay(true)
        .pool_max_idle_per_host(64)
        .redirect(reqwest::redirect::Policy::none());
    if let Some(path) = ca_bundle {
        let pem = std::fs::read(path)
            .map_err(|e| Error::io(format!("cannot read the CA certificates {}", path.display()), &e))?;
        let certificates = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
            Error::new(ErrorKind::InvalidInput, format!("{} is not a PEM certificate bundle: {e}", path.display()))
        })?;
        for certificate in certificates {
            builder = builder.add_root_certificate(certificate);
        }
    }
    builder.build().map_err(|e| Error::new(ErrorKind::Other, format!("cannot set up the HTTP client: {e}")))
}

/// A request that got no answer: `cannot reach WHAT: …` with every cause, temporary unless
/// it is a TLS or URL problem, which no retry heals.
pub fn transport_error(what: &str, error: &(dyn std::error::Error + 'static)) -> Error {
    let mut message = format!("cannot reach {what}: {error}");
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        message.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    // reqwest names the URL, user info included.
    let message = redact_userinfo(&message);
    let permanent = message.contains("certificate") || message.contains("builder error");
    let error = Error::new(ErrorKind::Unavailable, message);
    if permanent { error } else { error.temporary() }
}

/// The time of a `Last-Modified` header in the IMF-fixdate form every server sends
/// (`Sun, 06 Nov 1994 08:49:37 GMT`); `None` when absent or in an obsolete form.
pub fn last_modified(headers: &reqwest::header::HeaderMap) -> Option<SystemTime> {
    http_date(headers.get(reqwest::header::LAST_MODIFIED)?.to_str().ok()?)
}

/// An HTTP date in the IMF-fixdate form (`Sun, 06 Nov 1994 08:49:37 GMT`), as in
/// `Last-Modified` and WebDAV's `getlastmodified`; `None` in an obsolete form.
pub fn http_date(value: &str) -> Option<SystemTime> {
    let (_, date) = value.trim().split_once(", ")?;
    let mut parts = date.split(' ');
    let (day, month, year, time, zone) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let month = MONTHS.iter().position(|m| *m == month)? + 1;
    if zone != "GMT" || parts.next().is_some() || day.len() != 2 || year.len() != 4 {
        return None;
    }
    humantime::parse_rfc3339(&format!("{year}-{month:02}-{day}T{time}Z")).ok()
}

/// Header names whose values are secrets: a line of a response body that names one (a server
/// echoing the request's headers) is left out of any excerpt.
const SECRET_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-auth-key",
    "x-auth-token",
    "x-storage-token",
    "x-subject-token",
    "x-service-token",
    "x-amz-security-token",
    "x-amz-server-side-encryption-customer-key",
];

/// The longest excerpt of a response body put into a message, in characters.
pub const EXCERPT_CHARS: usize = 300;

/// A short, printable excerpt of a response body (an error page), safe to put in a
/// message: lines naming a secret header are dropped, every value in `secrets` (what the
/// request sent: a token, a key, a password) and any user info of a URL are replaced by
/// `***`, HTML tags and control characters become spaces, runs of white space one space,
/// and the result is cut at [`EXCERPT_CHARS`] characters (with `…`). Secrets are removed
/// before the cut, so that no part of one survives it.
pub fn excerpt(body: &[u8], secrets: &[&str]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(64 * 1024)]);
    let mut kept = String::with_capacity(text.len().min(4096));
    for line in text.lines() {
        if !names_secret_header(line) {
            kept.push_str(line);
            kept.push('\n');
        }
    }
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        kept = kept.replace(secret, "***");
    }
    let kept = redact_userinfo(&kept);
    let mut plain = String::with_capacity(kept.len());
    let mut in_tag = false;
    for c in kept.chars() {
        match c {
            '<' => {
                in_tag = true;
                plain.push(' ');
            }
            '>' if in_tag => in_tag = false,
            _ if in_tag => {}
            c if c.is_control() => plain.push(' '),
            c => plain.push(c),
        }
    }
    let words: Vec<&str> = plain.split_whitespace().collect();
    let joined = words.join(" ");
    if joined.chars().count() <= EXCERPT_CHARS {
        return joined;
    }
    let mut cut: String = joined.chars().take(EXCERPT_CHARS).collect();
    cut.push('…');
    cut
}

/// Whether a line gives a secret header a value (`X-Auth-Key: …`, `"x-auth-token": "…"`,
/// `authorization=…`), as opposed to merely naming it ("the authorization header is
/// malformed").
fn names_secret_header(line: &str) -> bool {
    let lower = line.to_ascii_lowercase();
    SECRET_HEADERS.iter().any(|header| {
        lower.match_indices(header).any(|(at, _)| {
            let after = lower[at + header.len()..].trim_start_matches(['"', '\'', ' ']);
            after.starts_with(':') || after.starts_with('=')
        })
    })
}

/// `text` with the user info of every URL in it (`http://user:password@host`) replaced by
/// `***`: an endpoint or auth URL given with credentials is shown without them, in
/// messages, logs and the archive.
pub fn redact_userinfo(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (before, after) = rest.split_at(at + 3);
        out.push_str(before);
        // The authority ends at the path, query or fragment, or where the URL does.
        let end = after
            .find(|c: char| {
                matches!(c, '/' | '?' | '#') || c.is_whitespace() || c == '\'' || c == '"' || c == ')' || c == '>'
            })
            .unwrap_or(after.len());
        let authority = &after[..end];
        match authority.rfind('@') {
            Some(userinfo_end) => {
                out.push_str("***");
                out.push_str(&authority[userinfo_end..]);
            }
            None => out.push_str(authority),
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_info_is_redacted_wherever_a_url_appears() {
        assert_eq!(redact_userinfo("http://user:pa%40ss@127.0.0.1:9000/b?x=1"), "http://***@127.0.0.1:9000/b?x=1");
        assert_eq!(
            redact_userinfo("cannot reach https://k:s@h/v3 (for url (https://k:s@h/v3/auth/tokens))"),
            "cannot reach https://***@h/v3 (for url (https://***@h/v3/auth/tokens))"
        );
        assert_eq!(redact_userinfo("http://h/a@b and s3://bucket/k"), "http://h/a@b and s3://bucket/k");
        assert_eq!(redact_userinfo("no url"), "no url");
    }

    #[test]
    fn excerpts_are_short_printable_and_free_of_what_the_request_sent() {
        let echo = b"<html><h1>401 Unauthorized</h1>\r\nX-Auth-User: test:tester\r\nX-Auth-Key: hunter2\r\n\
                     Host: 127.0.0.1\r\nx-extra: token tok-123 again\x07\r\nfrom http://u:pw@h/</html>";
        let text = excerpt(echo, &["tok-123", "hunter2"]);
        assert_eq!(
            text,
            "401 Unauthorized X-Auth-User: test:tester Host: 127.0.0.1 x-extra: token *** again from http://***@h/"
        );
        let long = excerpt(&[b'a'; 10_000], &[]);
        assert_eq!(long.chars().count(), EXCERPT_CHARS + 1);
        assert!(long.ends_with('…'));
        // A secret straddling the cut is removed before it.
        let straddling = format!("{}SECRETVALUE", "b ".repeat(148));
        assert!(!excerpt(straddling.as_bytes(), &["SECRETVALUE"]).contains("SECRET"));
        let json_echo = b"{\"message\": \"no\",\n \"X-Auth-Token\": \"tok\"}";
        assert_eq!(excerpt(json_echo, &[]), "{\"message\": \"no\",");
        let s3 = b"The authorization header is malformed; the region 'us-east-1' is wrong";
        assert_eq!(excerpt(s3, &[]), String::from_utf8_lossy(s3), "a header merely named stays");
        assert_eq!(
            excerpt(b"{\"error\": {\"message\": \"The request you have made requires authentication.\"}}", &[]),
            "{\"error\": {\"message\": \"The request you have made requires authentication.\"}}"
        );
    }

    #[test]
    fn last_modified_dates_are_read() {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("last-modified", "Sun, 06 Nov 1994 08:49:37 GMT".parse().unwrap());
        let time = last_modified(&headers).unwrap();
        assert_eq!(time.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs(), 784_111_777);
        headers.insert("last-modified", "Sunday, 06-Nov-94 08:49:37 GMT".parse().unwrap());
        assert_eq!(last_modified(&headers), None);
    }
}
