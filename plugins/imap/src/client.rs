//! One logged-in IMAP session: TCP, TLS (implicit on `imaps://`, STARTTLS on `imap://`),
//! the login, and the capability check.

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use async_imap::types::{Capabilities, Capability};
use sortie_sdk::{Error, ErrorKind, Result};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

use crate::auth::{self, Mechanism, Sasl};
use crate::error::{imap_error, timed_out, transport};
use crate::settings::{ImapSettings, Secret};
use crate::url::ImapUrl;

/// A logged-in session.
pub type Session = async_imap::Session<Stream>;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// The longest wait for one answer: a 20 MiB message arrives well within it.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(300);

/// Runs `future` within `limit`, or fails with a temporary error naming `what`.
pub async fn within<T>(
    what: &str,
    address: &str,
    limit: Duration,
    future: impl Future<Output = Result<T>>,
) -> Result<T> {
    tokio::time::timeout(limit, future).await.unwrap_or_else(|_| Err(timed_out(what, address)))
}

/// The TCP connection, in clear or in TLS.
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl fmt::Debug for Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Plain(_) => "Stream::Plain",
            Self::Tls(_) => "Stream::Tls",
        })
    }
}

impl AsyncRead for Stream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Self::Tls(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Self::Tls(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_flush(cx),
            Self::Tls(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Self::Tls(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

/// How to reach and log in to one account; makes sessions.
#[derive(Clone)]
pub struct Connector {
    pub url: ImapUrl,
    user: String,
    credential: Credential,
    mechanism: Option<Mechanism>,
    starttls: bool,
    tls: Arc<ClientConfig>,
}

#[derive(Clone)]
enum Credential {
    Password(Secret),
    Token(Secret),
}

impl Credential {
    /// `text` with the secret, as given or as quoted on the wire, replaced by `***`.
    fn hide_in(&self, text: &str) -> String {
        let (Self::Password(secret) | Self::Token(secret)) = self;
        let plain = secret.expose();
        if plain.is_empty() {
            return text.to_owned();
        }
        // As quoted in the command, and each as the library's rendering escapes it.
        let quoted = plain.replace('\\', "\\\\").replace('"', "\\\"");
        let escaped = |s: &str| format!("{s:?}").trim_matches('"').to_owned();
        let mut forms = [escaped(&quoted), quoted.clone(), escaped(plain), plain.to_owned()];
        forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
        forms.iter().fold(text.to_owned(), |text, form| text.replace(form.as_str(), "***"))
    }
}

impl fmt::Debug for Connector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connector").field("url", &self.url).field("user", &self.user).finish_non_exhaustive()
    }
}

impl Connector {
    /// `user alice`, the account the restitution report names.
    pub fn account(&self) -> String {
        format!("user {}", self.user)
    }

    /// Checks the settings and reads the CA bundle; connects to nothing yet.
    pub fn new(url: ImapUrl, settings: &ImapSettings) -> Result<Self> {
        let user = settings.user.clone().or_else(|| url.user.clone()).ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidInput,
                format!("no IMAP user for {}: write it in the URL (imaps://USER@HOST) or set 'user'", url.address()),
            )
        })?;
        let wants_token = settings.mechanism.is_some_and(Mechanism::uses_token);
        let credential = match (&settings.password, &settings.oauth2_token) {
            (_, Some(token)) if wants_token || settings.mechanism.is_none() => Credential::Token(token.clone()),
            (Some(password), _) if !wants_token => Credential::Password(password.clone()),
            _ => {
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    format!(
                        "no {} for {user} at {}: give it with --set {} or {}",
                        if wants_token { "OAuth2 token" } else { "password" },
                        url.address(),
                        if wants_token { "oauth2_token=…" } else { "password=…" },
                        if wants_token { "SORTIE_IMAP_OAUTH2_TOKEN" } else { "SORTIE_IMAP_PASSWORD" },
                    ),
                ));
            }
        };
        let tls = Arc::new(tls_config(settings)?);
        Ok(Self { url, user, credential, mechanism: settings.mechanism, starttls: settings.starttls, tls })
    }

    /// A new logged-in session.
    pub async fn connect(&self) -> Result<Session> {
        let address = self.url.address();
        let client = within("connect", &address, CONNECT_TIMEOUT, self.open_stream()).await?;
        let session = within("log in", &address, COMMAND_TIMEOUT, self.login(client)).await?;
        Ok(session)
    }

    async fn open_stream(&self) -> Result<async_imap::Client<Stream>> {
        let address = self.url.address();
        let tcp = TcpStream::connect((self.url.host.as_str(), self.url.port))
            .await
            .map_err(|e| transport("cannot connect", &address, &e))?;
        tcp.set_nodelay(true).map_err(|e| transport("cannot connect", &address, &e))?;
        let stream =
            if self.url.implicit_tls { Stream::Tls(Box::new(self.handshake(tcp).await?)) } else { Stream::Plain(tcp) };
        let mut client = async_imap::Client::new(stream);
        client
            .read_response()
            .await
            .map_err(|e| transport("no IMAP greeting", &address, &e))?
            .ok_or_else(|| imap_error("no IMAP greeting", &address, async_imap::error::Error::ConnectionLost))?;
        if self.url.implicit_tls || !self.starttls {
            return Ok(client);
        }
        client.run_command_and_check_ok("STARTTLS", None).await.map_err(|e| {
            let error = imap_error("STARTTLS", &address, e);
            Error::new(error.kind(), format!("{error} (set no_starttls to connect in clear on a trusted network)"))
        })?;
        let Stream::Plain(tcp) = client.into_inner() else { unreachable!("STARTTLS runs on a plain stream") };
        Ok(async_imap::Client::new(Stream::Tls(Box::new(self.handshake(tcp).await?))))
    }

    async fn handshake(&self, tcp: TcpStream) -> Result<TlsStream<TcpStream>> {
        let address = self.url.address();
        let name = rustls_pki_types::ServerName::try_from(self.url.host.clone()).map_err(|_| {
            Error::new(ErrorKind::InvalidInput, format!("'{}' is not a host name TLS can check", self.url.host))
        })?;
        TlsConnector::from(self.tls.clone())
            .connect(name, tcp)
            .await
            .map_err(|e| transport("TLS handshake failed", &address, &e))
    }

    async fn login(&self, client: async_imap::Client<Stream>) -> Result<Session> {
        let address = self.url.address();
        let refused = |error: async_imap::error::Error, how: &str| {
            let error = imap_error("login", &address, error);
            // A server may repeat the command it refuses, the password in it.
            let words = self.credential.hide_in(&error.to_string());
            if error.is_temporary() {
                return Error::new(error.kind(), words).temporary();
            }
            Error::new(
                ErrorKind::Unauthenticated,
                format!("the IMAP server {address} refused the {how} of user {} ({words})", self.user),
            )
        };
        let mut session = match &self.credential {
            Credential::Password(password) if self.mechanism == Some(Mechanism::Plain) => {
                let response =
                    auth::initial_response(Mechanism::Plain, &self.user, password, &self.url.host, self.url.port);
                client.authenticate("PLAIN", Sasl::new(response)).await.map_err(|(e, _)| refused(e, "password"))?
            }
            Credential::Password(password) => {
                client.login(&self.user, password.expose()).await.map_err(|(e, _)| refused(e, "password"))?
            }
            Credential::Token(token) => {
                let mechanism = self.mechanism.unwrap_or(Mechanism::XOAuth2);
                let response = auth::initial_response(mechanism, &self.user, token, &self.url.host, self.url.port);
                client
                    .authenticate(mechanism.sasl_name(), Sasl::new(response))
                    .await
                    .map_err(|(e, _)| refused(e, "OAuth2 token"))?
            }
        };
        let not_rev1 = |listed: &str| {
            Error::new(
                ErrorKind::Unsupported,
                format!("{address} is not an IMAP4rev1 server (its capabilities: {listed})"),
            )
        };
        let capabilities = session.capabilities().await.map_err(|e| match e {
            // The parser refuses a CAPABILITY answer without IMAP4rev1 (RFC 3501 requires it).
            async_imap::error::Error::Io(io) if io.to_string().contains("during parsing of \"* CAPABILITY") => {
                let text = io.to_string();
                let line = text.split("* CAPABILITY").nth(1).and_then(|l| l.split("\\r\\n").next()).unwrap_or("");
                not_rev1(line.trim())
            }
            other => imap_error("CAPABILITY", &address, other),
        })?;
        if !capabilities.has_str("IMAP4rev1") && !capabilities.has_str("IMAP4rev2") {
            return Err(not_rev1(&names(&capabilities).join(" ")));
        }
        Ok(session)
    }
}

/// The capabilities as the server wrote them (`IMAP4rev1`, `AUTH=PLAIN`, `IDLE`…), sorted.
pub fn names(capabilities: &Capabilities) -> Vec<String> {
    let mut names: Vec<String> = capabilities
        .iter()
        .map(|c| match c {
            Capability::Imap4rev1 => "IMAP4rev1".to_owned(),
            Capability::Auth(mechanism) => format!("AUTH={mechanism}"),
            Capability::Atom(atom) => atom.clone(),
        })
        .collect();
    names.sort();
    names
}

/// The system's certificate authorities and those of the `ca_bundle` setting.
fn tls_config(settings: &ImapSettings) -> Result<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for certificate in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(certificate);
    }
    if let Some(path) = &settings.ca_bundle {
        use rustls_pki_types::pem::PemObject;
        let certificates = rustls_pki_types::CertificateDer::pem_file_iter(path)
            .map_err(|e| {
                Error::new(ErrorKind::InvalidInput, format!("cannot read the CA bundle {}: {e}", path.display()))
            })?
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| {
                Error::new(ErrorKind::InvalidInput, format!("{} is not a PEM certificate bundle: {e}", path.display()))
            })?;
        for certificate in certificates {
            roots.add(certificate).map_err(|e| {
                Error::new(ErrorKind::InvalidInput, format!("a certificate of {} is not usable: {e}", path.display()))
            })?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::new(ErrorKind::Other, format!("cannot set up TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_secret_is_hidden_however_the_server_repeats_it() {
        let credential = Credential::Password(Secret::new(r#"pa"ss\word"#));
        let wire = r#"NO LOGIN "victim" "pa\"ss\\word" refused"#;
        assert_eq!(credential.hide_in(wire), r#"NO LOGIN "victim" "***" refused"#);
        let rendered = format!("{wire:?}");
        assert!(!credential.hide_in(&rendered).contains("ss"), "{rendered}");
        assert_eq!(credential.hide_in(r#"bad pa"ss\word"#), "bad ***");
    }
}
