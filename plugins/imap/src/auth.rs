//! How the session logs in: `LOGIN` or SASL `PLAIN` with a password, `XOAUTH2` (Gmail,
//! Microsoft 365) or `OAUTHBEARER` (RFC 7628) with an OAuth2 access token.

use sortie_sdk::settings::Secret;

/// A login mechanism.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    /// The `LOGIN` command (every IMAP4rev1 server).
    Login,
    /// `AUTHENTICATE PLAIN` (RFC 4616).
    Plain,
    /// `AUTHENTICATE XOAUTH2` (Google's and Microsoft's form).
    XOAuth2,
    /// `AUTHENTICATE OAUTHBEARER` (RFC 7628).
    OAuthBearer,
}

impl Mechanism {
    /// Parses the `auth` setting (`None`: chosen from the credentials and capabilities).
    pub fn parse(text: &str) -> Option<Option<Self>> {
        match text.to_ascii_lowercase().as_str() {
            "" | "auto" => Some(None),
            "login" => Some(Some(Self::Login)),
            "plain" => Some(Some(Self::Plain)),
            "xoauth2" => Some(Some(Self::XOAuth2)),
            "oauthbearer" => Some(Some(Self::OAuthBearer)),
            _ => None,
        }
    }

    /// The SASL name sent with `AUTHENTICATE`.
    pub fn sasl_name(self) -> &'static str {
        match self {
            Self::Login => "LOGIN",
            Self::Plain => "PLAIN",
            Self::XOAuth2 => "XOAUTH2",
            Self::OAuthBearer => "OAUTHBEARER",
        }
    }

    /// Whether it takes a token rather than a password.
    pub fn uses_token(self) -> bool {
        matches!(self, Self::XOAuth2 | Self::OAuthBearer)
    }
}

/// The SASL initial response of `mechanism` (never `Login`), before base64.
pub fn initial_response(mechanism: Mechanism, user: &str, secret: &Secret, host: &str, port: u16) -> Vec<u8> {
    let secret = secret.expose();
    match mechanism {
        Mechanism::Login | Mechanism::Plain => format!("\0{user}\0{secret}").into_bytes(),
        Mechanism::XOAuth2 => format!("user={user}\x01auth=Bearer {secret}\x01\x01").into_bytes(),
        Mechanism::OAuthBearer => {
            format!("n,a={},\x01host={host}\x01port={port}\x01auth=Bearer {secret}\x01\x01", saslname(user))
                .into_bytes()
        }
    }
}

/// RFC 5801's `saslname`: `,` and `=` escaped in the GS2 header.
fn saslname(user: &str) -> String {
    user.replace('=', "=3D").replace(',', "=2C")
}

/// Answers the server's challenges: the initial response first, then an empty line to the
/// error challenge a refused token gets (RFC 7628 section 3.2.3), so that the server ends
/// the exchange with a tagged `NO`.
pub struct Sasl {
    response: Option<Vec<u8>>,
}

impl Sasl {
    /// Sends `response` at the first challenge.
    pub fn new(response: Vec<u8>) -> Self {
        Self { response: Some(response) }
    }
}

impl async_imap::Authenticator for Sasl {
    type Response = Vec<u8>;

    fn process(&mut self, _challenge: &[u8]) -> Vec<u8> {
        self.response.take().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initial_responses_match_the_published_examples() {
        // Google's XOAUTH2 documentation.
        let token = Secret::new("vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg==");
        assert_eq!(
            initial_response(Mechanism::XOAuth2, "someuser@example.com", &token, "imap.gmail.com", 993),
            b"user=someuser@example.com\x01auth=Bearer vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg==\x01\x01"
        );
        // RFC 7628 section 4.1.
        let token = Secret::new("vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==");
        assert_eq!(
            initial_response(Mechanism::OAuthBearer, "user@example.com", &token, "server.example.com", 143),
            b"n,a=user@example.com,\x01host=server.example.com\x01port=143\x01auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01"
        );
        assert_eq!(initial_response(Mechanism::Plain, "u", &Secret::new("p"), "h", 1), b"\0u\0p");
        assert_eq!(saslname("a,b=c"), "a=2Cb=3Dc");
    }

    #[test]
    fn the_setting_names_every_mechanism() {
        assert_eq!(Mechanism::parse("XOAUTH2"), Some(Some(Mechanism::XOAuth2)));
        assert_eq!(Mechanism::parse("auto"), Some(None));
        assert_eq!(Mechanism::parse("gssapi"), None);
    }
}
