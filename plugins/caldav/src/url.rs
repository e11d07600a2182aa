//! A source's URL: `caldav://[USER@]HOST[:PORT][/PATH]` (or `carddav://`), where PATH is the
//! server root (discovery), a principal, a home set or one collection.

use sortie_sdk::{Error, ErrorKind, Result};

/// What a source URL says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DavUrl {
    /// `caldav` or `carddav`.
    pub scheme: &'static str,
    /// The user name, when the URL gives one.
    pub user: Option<String>,
    /// `HOST[:PORT]`.
    pub host: String,
    /// The path, always starting with `/` (`/` when none was written).
    pub path: String,
}

impl DavUrl {
    /// Parses `url` of `scheme`. Credentials never belong in the URL: one that carries a
    /// password is refused without being repeated.
    pub fn parse(scheme: &'static str, url: &str) -> Result<Self> {
        let invalid = |why: String| Error::new(ErrorKind::InvalidInput, why);
        let examples = format!(
            "write {scheme}://[USER@]HOST[:PORT][/PATH], e.g. {scheme}://alice@dav.example.com or \
             {scheme}://alice@cloud.example.com/remote.php/dav"
        );
        let rest = url
            .get(..scheme.len() + 3)
            .filter(|prefix| prefix.eq_ignore_ascii_case(&format!("{scheme}://")))
            .map(|_| &url[scheme.len() + 3..])
            .ok_or_else(|| invalid(format!("'{url}' is not a {scheme}:// URL: {examples}")))?;
        let (authority, path) = match rest.find('/') {
            Some(at) => (&rest[..at], &rest[at..]),
            None => (rest, "/"),
        };
        let (user, host) = match authority.rsplit_once('@') {
            Some((userinfo, _)) if userinfo.contains(':') => {
                return Err(invalid(format!(
                    "a {scheme}:// URL must not carry a password: give it with --set password=… or \
                     SORTIE_DAV_PASSWORD"
                )));
            }
            Some((user, host)) => (Some(percent_decode(user)), host),
            None => (None, authority),
        };
        if host.is_empty() || host.contains(['?', '#', ' ']) {
            return Err(invalid(format!("'{url}' names no server: {examples}")));
        }
        if path.contains(['?', '#']) {
            return Err(invalid(format!("'{url}': a DAV path cannot hold '?' or '#' here")));
        }
        Ok(Self { scheme, user, host: host.to_owned(), path: path.to_owned() })
    }

    /// As the user would write it (without any secret).
    pub fn shown(&self) -> String {
        let user = self.user.as_ref().map(|u| format!("{u}@")).unwrap_or_default();
        format!("{}://{user}{}{}", self.scheme, self.host, self.path)
    }
}

fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text).decode_utf8_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_give_user_host_and_path_and_never_take_a_password() {
        let url = DavUrl::parse("caldav", "caldav://alice@cloud.example:8443/remote.php/dav").unwrap();
        assert_eq!(url.user.as_deref(), Some("alice"));
        assert_eq!((url.host.as_str(), url.path.as_str()), ("cloud.example:8443", "/remote.php/dav"));
        assert_eq!(url.shown(), "caldav://alice@cloud.example:8443/remote.php/dav");
        let root = DavUrl::parse("carddav", "CardDAV://dav.example").unwrap();
        assert_eq!((root.user, root.path.as_str()), (None, "/"));
        let refused = DavUrl::parse("caldav", "caldav://alice:hunter2@h/").unwrap_err();
        assert!(!refused.to_string().contains("hunter2"), "{refused}");
        assert!(DavUrl::parse("caldav", "carddav://h/").is_err());
        assert!(DavUrl::parse("caldav", "caldav:///x").is_err());
    }
}
