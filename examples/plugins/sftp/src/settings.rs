//! What the `sftp` provider takes: the source URL (`sftp://user@host[:port]/path`) and the
//! settings beside it, read once into [`SftpSettings`].

use std::path::PathBuf;

use sortie_sdk::settings::{Secret, SettingSpec};
use sortie_sdk::source::SourceSpec;
use sortie_sdk::{Error, ErrorKind, Result};

/// Sessions per source when `connections` is not given: enough to hide the round trips of
/// small files, few enough for a server's `MaxSessions`/`MaxStartups` defaults (10).
pub(crate) const DEFAULT_CONNECTIONS: u64 = 8;

/// The private keys tried, in ssh's order, when no `key_file` is given.
const DEFAULT_KEYS: [&str; 3] = ["id_ed25519", "id_ecdsa", "id_rsa"];

/// The settings schema.
pub(crate) fn specs() -> Vec<SettingSpec> {
    vec![
        SettingSpec::text("password", "The user's password (never written anywhere).")
            .secret()
            .env(&["SORTIE_SFTP_PASSWORD"]),
        SettingSpec::text(
            "key_file",
            "A private key to log in with; without it, ~/.ssh/id_ed25519, id_ecdsa and id_rsa are tried, as ssh does.",
        )
        .env(&["SORTIE_SFTP_KEY_FILE"]),
        SettingSpec::text("key_passphrase", "The passphrase of the private key, when it has one.")
            .secret()
            .env(&["SORTIE_SFTP_KEY_PASSPHRASE"]),
        SettingSpec::text(
            "known_hosts",
            "The known_hosts file the server's host key must be in (default ~/.ssh/known_hosts); an unknown or changed key is refused.",
        )
        .env(&["SORTIE_SFTP_KNOWN_HOSTS"]),
        SettingSpec::integer("connections", "SSH sessions opened to the server at most, each reading one file at a time.")
            .default_value(DEFAULT_CONNECTIONS),
    ]
}

/// Where the source is: parsed from its URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    pub(crate) user: String,
    /// As written, without the brackets of an IPv6 address.
    pub(crate) host: String,
    pub(crate) port: u16,
    /// The directory on the server, absolute, percent-decoded.
    pub(crate) path: Vec<u8>,
}

impl Target {
    /// Parses `sftp://user@host[:port]/path`. A password in the URL is refused: the URL is
    /// shown in reports and written into the archive.
    pub(crate) fn parse(url: &str) -> Result<Self> {
        let invalid = |why: &str| {
            Error::new(
                ErrorKind::InvalidInput,
                format!("'{}' is not an sftp://user@host[:port]/path source: {why}", shown(url)),
            )
        };
        let rest = url.strip_prefix("sftp://").ok_or_else(|| invalid("it does not start with sftp://"))?;
        let (authority, path) = match rest.find('/') {
            Some(slash) => rest.split_at(slash),
            None => (rest, "/"),
        };
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((userinfo, hostport)) => (Some(userinfo), hostport),
            None => (None, authority),
        };
        if userinfo.is_some_and(|u| u.contains(':')) {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "an sftp:// source takes no password in its URL, which reports show: give it in SORTIE_SFTP_PASSWORD or with --set password=…",
            ));
        }
        let user = match userinfo {
            Some(user) => String::from_utf8(decode(user)).map_err(|_| invalid("the user name is not UTF-8"))?,
            None => std::env::var("USER").map_err(|_| invalid("it names no user (user@host) and $USER is not set"))?,
        };
        let (host, port) = if let Some(bracketed) = hostport.strip_prefix('[') {
            let (host, after) = bracketed.split_once(']').ok_or_else(|| invalid("an IPv6 address lacks its ']'"))?;
            (host, after.strip_prefix(':'))
        } else {
            match hostport.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (hostport, None),
            }
        };
        if host.is_empty() || user.is_empty() {
            return Err(invalid("it names no host or no user"));
        }
        let port = match port {
            None | Some("") => 22,
            Some(port) => port.parse().map_err(|_| invalid("the port is not a number from 1 to 65535"))?,
        };
        let mut path = decode(path);
        while path.len() > 1 && path.ends_with(b"/") {
            path.pop();
        }
        Ok(Self { user, host: host.to_owned(), port, path })
    }

    /// `host:port`, `[v6]:port`, for messages.
    pub(crate) fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// How known_hosts names this host: `host`, or `[host]:port` off port 22.
    pub(crate) fn known_hosts_name(&self) -> String {
        if self.port == 22 { self.host.clone() } else { format!("[{}]:{}", self.host, self.port) }
    }

    /// The URL again, canonical: what a plan and the report show.
    pub(crate) fn url(&self) -> String {
        let host = if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        let port = if self.port == 22 { String::new() } else { format!(":{}", self.port) };
        format!("sftp://{}@{host}{port}{}", encode(self.user.as_bytes()), encode(&self.path))
    }
}

/// The URL with anything between `//` and `@` that looks like a password cut out.
fn shown(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(start), Some(at)) if at > start && url[start + 3..at].contains(':') => {
            format!("{}://…{}", &url[..start], &url[at..])
        }
        _ => url.to_owned(),
    }
}

/// Percent-decoding; a `%` not followed by two hex digits stays as it is.
fn decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
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
    out
}

/// Percent-encodes what a URL path cannot hold as is.
fn encode(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// One source's settings, typed, secrets held as [`Secret`]s so that `Debug` hides them.
#[derive(Debug, Clone)]
pub(crate) struct SftpSettings {
    pub(crate) target: Target,
    pub(crate) password: Option<Secret>,
    /// The keys to try: the one given, or the default ones that exist.
    pub(crate) key_files: Vec<PathBuf>,
    /// Whether `key_files` was given (a missing one is then an error, not skipped).
    pub(crate) key_given: bool,
    pub(crate) key_passphrase: Option<Secret>,
    pub(crate) known_hosts: PathBuf,
    pub(crate) connections: usize,
}

impl SftpSettings {
    /// Reads a source description made by [`crate::SftpFactory`], and the environment for
    /// what the settings do not give.
    pub(crate) fn of(spec: &SourceSpec) -> Result<Self> {
        let target = Target::parse(&spec.url)?;
        let given = |name: &str, env: &str| {
            spec.settings.text(name).map(str::to_owned).or_else(|| std::env::var(env).ok().filter(|v| !v.is_empty()))
        };
        let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
        let expand = |path: String| match path.strip_prefix("~/") {
            Some(rest) => home.join(rest),
            None => PathBuf::from(path),
        };
        let key_file = given("key_file", "SORTIE_SFTP_KEY_FILE").map(expand);
        let key_given = key_file.is_some();
        let key_files = match key_file {
            Some(key) => vec![key],
            None => DEFAULT_KEYS.iter().map(|name| home.join(".ssh").join(name)).filter(|p| p.is_file()).collect(),
        };
        let connections = spec.settings.integer("connections").unwrap_or(DEFAULT_CONNECTIONS);
        if connections == 0 {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "setting 'connections' takes a whole number of at least 1",
            ));
        }
        Ok(Self {
            target,
            password: given("password", "SORTIE_SFTP_PASSWORD").map(Secret::new),
            key_files,
            key_given,
            key_passphrase: given("key_passphrase", "SORTIE_SFTP_KEY_PASSPHRASE").map(Secret::new),
            known_hosts: given("known_hosts", "SORTIE_SFTP_KNOWN_HOSTS")
                .map(expand)
                .unwrap_or_else(|| home.join(".ssh/known_hosts")),
            connections: usize::try_from(connections).unwrap_or(usize::MAX),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_and_print_back() {
        let target = Target::parse("sftp://alice@127.0.0.1:2222/srv/data%20set/").unwrap();
        assert_eq!(target.user, "alice");
        assert_eq!((target.host.as_str(), target.port), ("127.0.0.1", 2222));
        assert_eq!(target.path, b"/srv/data set");
        assert_eq!(target.url(), "sftp://alice@127.0.0.1:2222/srv/data%20set");
        assert_eq!(target.known_hosts_name(), "[127.0.0.1]:2222");
        let v6 = Target::parse("sftp://bob@[::1]/").unwrap();
        assert_eq!((v6.host.as_str(), v6.port, v6.path.as_slice()), ("::1", 22, b"/".as_slice()));
        assert_eq!(v6.known_hosts_name(), "::1");
        assert!(Target::parse("sftp://bob@host:99999/x").is_err());
        assert!(Target::parse("ftp://bob@host/x").is_err());
    }

    #[test]
    fn a_password_in_the_url_is_refused_and_never_repeated() {
        let error = Target::parse("sftp://alice:hunter2@host/x").unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidInput);
        assert!(!error.to_string().contains("hunter2"), "{error}");
        assert!(error.to_string().contains("SORTIE_SFTP_PASSWORD"), "{error}");
        assert!(!shown("sftp://alice:hunter2@host:x/").contains("hunter2"));
    }
}
