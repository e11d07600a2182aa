//! `imap://[USER@]HOST[:PORT][/FOLDER]` and `imaps://…`, parsed and shown again without
//! anything secret.

use sortie_sdk::{Error, ErrorKind, Result};

/// A parsed source URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImapUrl {
    /// `imaps://`: TLS from the first byte (port 993); else `imap://` (port 143, STARTTLS).
    pub implicit_tls: bool,
    pub host: String,
    pub port: u16,
    /// The login name, percent-decoded (`user%40example.com` for an address).
    pub user: Option<String>,
    /// One folder (with its subfolders) instead of the whole account, as text.
    pub folder: Option<String>,
}

impl ImapUrl {
    pub fn parse(url: &str) -> Result<Self> {
        let bad = |why: &str| {
            Error::new(
                ErrorKind::InvalidInput,
                format!("'{url}' is not an IMAP source: {why} (expected imaps://USER@HOST[:PORT][/FOLDER])"),
            )
        };
        let (implicit_tls, rest) = if let Some(rest) = url.strip_prefix("imaps://") {
            (true, rest)
        } else if let Some(rest) = url.strip_prefix("imap://") {
            (false, rest)
        } else {
            return Err(bad("it does not start with imap:// or imaps://"));
        };
        let (authority, folder) = rest.split_once('/').unwrap_or((rest, ""));
        let (user, hostport) = match authority.rsplit_once('@') {
            Some((user, hostport)) => (Some(user), hostport),
            None => (None, authority),
        };
        if user.is_some_and(|u| u.contains(':')) {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "an IMAP source URL takes no password: give it with --set password=… or SORTIE_IMAP_PASSWORD",
            ));
        }
        let (host, port) = match hostport.rsplit_once(':') {
            Some((host, port)) if !host.ends_with(']') || host.starts_with('[') => {
                (host, port.parse::<u16>().map_err(|_| bad(&format!("'{port}' is not a port number")))?)
            }
            _ => (hostport, if implicit_tls { 993 } else { 143 }),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(bad("it names no host"));
        }
        let user = user.map(percent_decode).transpose().map_err(|_| bad("the user name is not UTF-8"))?;
        let folder = percent_decode(folder.trim_end_matches('/')).map_err(|_| bad("the folder is not UTF-8"))?;
        Ok(Self {
            implicit_tls,
            host: host.to_owned(),
            port,
            user: user.filter(|u| !u.is_empty()),
            folder: Some(folder).filter(|f| !f.is_empty()),
        })
    }

    /// `HOST:PORT`, for messages.
    pub fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

fn percent_decode(text: &str) -> std::result::Result<String, std::string::FromUtf8Error> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_forms() {
        let url = ImapUrl::parse("imaps://jane%40example.com@mail.example.com/Archives/2024").unwrap();
        assert_eq!(
            url,
            ImapUrl {
                implicit_tls: true,
                host: "mail.example.com".into(),
                port: 993,
                user: Some("jane@example.com".into()),
                folder: Some("Archives/2024".into()),
            }
        );
        let url = ImapUrl::parse("imap://bob@127.0.0.1:1143").unwrap();
        assert_eq!(
            (url.implicit_tls, url.port, url.folder.clone(), url.address()),
            (false, 1143, None, "127.0.0.1:1143".into())
        );
        assert_eq!(ImapUrl::parse("imap://[::1]:1143").unwrap().address(), "[::1]:1143");
        assert_eq!(ImapUrl::parse("imaps://a@b@host").unwrap().user.as_deref(), Some("a@b"));
    }

    #[test]
    fn bad_urls_say_what_is_wrong() {
        let error = ImapUrl::parse("imaps://bob:hunter2@host").unwrap_err();
        assert!(!error.to_string().contains("hunter2"), "{error}");
        assert!(error.to_string().contains("--set password"), "{error}");
        assert!(ImapUrl::parse("imaps://host:99999").unwrap_err().to_string().contains("port"));
        assert!(ImapUrl::parse("pop3://host").is_err());
    }
}
