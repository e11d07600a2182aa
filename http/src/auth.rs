//! How a request to a service that takes a user's password or a bearer token authenticates
//! (the DAV providers): one type, so that every provider sends a secret the same way —
//! its header marked sensitive, never logged — and knows which strings to keep out of its
//! messages.

use reqwest::RequestBuilder;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use sortie_sdk::settings::Secret;

/// A login to an HTTP service.
#[derive(Debug, Clone)]
pub enum Auth {
    /// No credentials: the server lets anyone read.
    Anonymous,
    /// HTTP Basic.
    Basic { user: String, password: Secret },
    /// `Authorization: Bearer`.
    Bearer(Secret),
}

impl Auth {
    /// The secrets this login holds, to keep out of every message.
    pub fn secrets(&self) -> Vec<&str> {
        match self {
            Auth::Anonymous => Vec::new(),
            Auth::Basic { password, .. } => vec![password.expose()],
            Auth::Bearer(token) => vec![token.expose()],
        }
    }

    /// False for a token a header cannot carry (a line break in it): sent without it, every
    /// request would be refused as if the token were wrong, so a provider refuses such a
    /// login before its first request.
    pub fn sendable(&self) -> bool {
        match self {
            Auth::Bearer(token) => bearer(token).is_some(),
            _ => true,
        }
    }

    /// `request` with this login (without it when not [`Auth::sendable`]).
    pub fn apply(&self, request: RequestBuilder) -> RequestBuilder {
        match self {
            Auth::Anonymous => request,
            Auth::Basic { user, password } => request.basic_auth(user, Some(password.expose())),
            Auth::Bearer(token) => match bearer(token) {
                Some(value) => request.header(AUTHORIZATION, value),
                None => request,
            },
        }
    }
}

fn bearer(token: &Secret) -> Option<HeaderValue> {
    let mut value = HeaderValue::from_str(&format!("Bearer {}", token.expose())).ok()?;
    value.set_sensitive(true);
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn authorization(auth: &Auth) -> Option<HeaderValue> {
        let request = auth.apply(crate::client(None).unwrap().get("http://127.0.0.1:9/")).build().unwrap();
        request.headers().get(AUTHORIZATION).cloned()
    }

    #[test]
    fn each_login_sends_its_header_marked_sensitive_and_names_its_secrets() {
        let basic = Auth::Basic { user: "alice".into(), password: Secret::new("pw") };
        let header = authorization(&basic).unwrap();
        assert_eq!(header, "Basic YWxpY2U6cHc=");
        assert!(header.is_sensitive());
        assert_eq!(basic.secrets(), ["pw"]);
        let bearer = Auth::Bearer(Secret::new("t1"));
        assert!(bearer.sendable() && authorization(&bearer).unwrap().is_sensitive());
        assert_eq!(authorization(&bearer).unwrap(), "Bearer t1");
        assert!(authorization(&Auth::Anonymous).is_none() && Auth::Anonymous.secrets().is_empty());
    }

    #[test]
    fn a_token_a_header_cannot_carry_is_not_sendable_and_never_sent() {
        let broken = Auth::Bearer(Secret::new("t1\nX-Injected: yes"));
        assert!(!broken.sendable());
        assert!(authorization(&broken).is_none());
    }
}
