//! Authenticating a request, the OVH way: a signature over the request with the application
//! secret and the consumer key, timed by the API's own clock; or an OAuth2 service account's
//! bearer token, asked for with the client credentials grant and asked for again before it
//! expires.

use std::time::{Duration, Instant};

use sha1::{Digest, Sha1};
use sortie_sdk::settings::Secret;

/// `X-Ovh-Signature`: `$1$` and the hex SHA-1 of the application secret, the consumer key,
/// the method, the whole URL with its query, the body and the timestamp, joined by `+`.
pub fn signature(secret: &str, consumer_key: &str, method: &str, url: &str, body: &str, timestamp: i64) -> String {
    let text = format!("{secret}+{consumer_key}+{method}+{url}+{body}+{timestamp}");
    format!("$1${}", hex::encode(Sha1::digest(text.as_bytes())))
}

/// A bearer token and when to ask for a new one.
#[derive(Debug, Clone)]
pub struct Token {
    pub value: Secret,
    /// A little before the server's expiry: a token never goes out about to expire.
    pub renew_at: Instant,
}

impl Token {
    /// A token that the server says lasts `expires_in` seconds (an hour when it says not).
    pub fn new(value: String, expires_in: Option<u64>) -> Self {
        let lasts = Duration::from_secs(expires_in.unwrap_or(3600));
        // Renew at 90% of its life, at most 60 s before its end.
        let margin = (lasts / 10).min(Duration::from_secs(60));
        Self { value: Secret::new(value), renew_at: Instant::now() + lasts - margin }
    }

    pub fn fresh(&self) -> bool {
        Instant::now() < self.renew_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_of_the_official_clients_test_vector() {
        // python-ovh tests/test_client.py and go-ovh ovh/ovh_test.go.
        let signed = signature(
            "9ufkBmLaTQ9nz5yMUlg79taH0GNnzDjk",
            "5mBuy6SUQcRw2ZUxg0cG68BoDKpED4KY",
            "GET",
            "https://eu.api.ovh.com/1.0/auth",
            "",
            1457018875,
        );
        assert_eq!(signed, "$1$e9556054b6309771395efa467c22e627407461ad");
    }

    #[test]
    fn tokens_are_renewed_before_they_expire() {
        assert!(Token::new("t".into(), Some(3600)).fresh());
        assert!(!Token::new("t".into(), Some(0)).fresh());
        let short = Token::new("t".into(), Some(10));
        assert!(short.renew_at > Instant::now() + Duration::from_secs(8));
    }
}
