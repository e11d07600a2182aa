//! SSH sessions to the server: connecting, checking the host key against known_hosts,
//! logging in, and a small pool, since the host calls the plugin from many threads at once
//! and one libssh2 session serves one request at a time.

use std::net::{TcpStream, ToSocketAddrs};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use sortie_sdk::{Error, ErrorKind, Result};
use ssh2::{CheckResult, HashType, HostKeyType, KnownHostFileKind, MethodType, Session, Sftp};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error;
use crate::settings::SftpSettings;

/// How long connecting, and then any one request, may take before the session is given up.
const TIMEOUT: Duration = Duration::from_secs(60);

/// The host key types asked for, most wanted first: the types known_hosts files hold most,
/// so that the key the server shows is the one recorded for it.
const HOST_KEY_TYPES: &str =
    "ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,rsa-sha2-512,rsa-sha2-256,ssh-rsa";

/// One logged-in session and its SFTP channel.
pub(crate) struct Connection {
    pub(crate) sftp: Sftp,
    /// Kept for as long as the channel: the channel lives in it.
    _session: Session,
}

/// At most `connections` sessions, opened when first needed and kept for the next request.
pub(crate) struct Pool {
    settings: Arc<SftpSettings>,
    idle: Mutex<Vec<Connection>>,
    permits: Arc<Semaphore>,
    /// The type of the host key the first session accepted, asked for alone by the next
    /// sessions: the search among the server's keys is done once.
    host_key_type: Mutex<Option<String>>,
}

/// The right to use one session, and the session once [`Lease::connection`] opened it.
/// Dropped, it gives the session back to the pool, unless a request broke it.
pub(crate) struct Lease {
    pool: Arc<Pool>,
    connection: Option<Connection>,
    broken: bool,
    _permit: OwnedSemaphorePermit,
}

impl Pool {
    pub(crate) fn new(settings: Arc<SftpSettings>) -> Arc<Self> {
        let permits = Arc::new(Semaphore::new(settings.connections));
        Arc::new(Self { settings, idle: Mutex::new(Vec::new()), permits, host_key_type: Mutex::new(None) })
    }

    /// Waits for a free session (without blocking a thread).
    pub(crate) async fn lease(self: &Arc<Self>) -> Lease {
        let permit = self.permits.clone().acquire_owned().await.expect("the pool's semaphore is never closed");
        Lease { pool: self.clone(), connection: None, broken: false, _permit: permit }
    }

    /// Runs blocking `work` on a leased session, on a thread of its own.
    pub(crate) async fn run<T: Send + 'static>(
        self: &Arc<Self>,
        work: impl FnOnce(&Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let mut lease = self.lease().await;
        tokio::task::spawn_blocking(move || {
            let result = lease.connection().and_then(work);
            lease.note(result)
        })
        .await
        .map_err(|e| Error::new(ErrorKind::Other, format!("an sftp task failed: {e}")))?
    }
}

impl Lease {
    /// The session, opened now if the pool had none idle. Blocks.
    pub(crate) fn connection(&mut self) -> Result<&Connection> {
        if self.connection.is_none() {
            let idle = self.pool.idle.lock().expect("pool lock").pop();
            self.connection = Some(match idle {
                Some(connection) => connection,
                None => connect(&self.pool)?,
            });
        }
        Ok(self.connection.as_ref().expect("just set"))
    }

    /// Passes a request's result on, noting whether it broke the session.
    pub(crate) fn note<T>(&mut self, result: Result<T>) -> Result<T> {
        if let Err(e) = &result {
            self.broken |= error::breaks_session(e);
        }
        result
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(connection) = self.connection.take()
            && !self.broken
        {
            self.pool.idle.lock().expect("pool lock").push(connection);
        }
    }
}

/// Opens a session: TCP, SSH handshake, host key check, login, SFTP channel.
fn connect(pool: &Pool) -> Result<Connection> {
    let settings = &pool.settings;
    let address = settings.target.address();
    let known_type = pool.host_key_type.lock().expect("host key type lock").clone();
    let session = match known_type {
        Some(kind) => {
            let session = handshake(settings, &kind)?;
            check_host_key(&session, settings).map_err(HostKey::into_error)?;
            session
        }
        None => {
            let session = handshake(settings, HOST_KEY_TYPES)?;
            let session = match check_host_key(&session, settings) {
                Ok(()) => session,
                Err(HostKey::Unmatched(refusal)) => other_known_key(settings, &session).ok_or(refusal)?,
                Err(HostKey::Unchecked(refusal)) => return Err(refusal),
            };
            let negotiated = session.methods(MethodType::HostKey).map(str::to_owned);
            *pool.host_key_type.lock().expect("host key type lock") = negotiated;
            session
        }
    };
    log_in(&session, settings)?;
    let sftp = session.sftp().map_err(|e| match error::ssh("", &e).kind() {
        ErrorKind::Unavailable => error::ssh(format!("cannot open the sftp channel on {address}"), &e),
        _ => Error::new(
            ErrorKind::Unsupported,
            format!("{address} refused the sftp subsystem ({}): is sftp enabled on the server?", e.message()),
        ),
    })?;
    Ok(Connection { sftp, _session: session })
}

/// A session whose host key is of another type than `first`'s and is one known_hosts
/// records: a server has several host keys, and known_hosts may hold one that libssh2
/// asks for after the one it got (ssh orders its requests by what known_hosts holds). A
/// changed key is refused all the same: no key of the server matches.
fn other_known_key(settings: &SftpSettings, first: &Session) -> Option<Session> {
    let first_type = first.methods(MethodType::HostKey).unwrap_or_default();
    HOST_KEY_TYPES.split(',').filter(|kind| *kind != first_type).find_map(|kind| {
        // A type the server does not have fails the handshake: try the next.
        let session = handshake(settings, kind).ok()?;
        check_host_key(&session, settings).is_ok().then_some(session)
    })
}

/// TCP and the SSH handshake, asking for host keys of `key_types` (comma-separated).
fn handshake(settings: &SftpSettings, key_types: &str) -> Result<Session> {
    let target = &settings.target;
    let address = target.address();
    let unreachable = |e: &dyn std::fmt::Display| error::lost(format!("cannot reach the sftp server {address}: {e}"));
    let addresses = (target.host.as_str(), target.port).to_socket_addrs().map_err(|e| unreachable(&e))?;
    let mut last = None;
    let tcp = addresses
        .into_iter()
        .find_map(|a| TcpStream::connect_timeout(&a, TIMEOUT).map_err(|e| last = Some(e)).ok())
        .ok_or_else(|| match last {
            Some(e) => unreachable(&e),
            None => unreachable(&"the name resolves to no address"),
        })?;
    // Small requests one after the other: waiting to fill packets only adds latency.
    let _ = tcp.set_nodelay(true);
    let mut session = Session::new().map_err(|e| error::ssh("cannot start an ssh session", &e))?;
    session.set_tcp_stream(tcp);
    session.set_timeout(u32::try_from(TIMEOUT.as_millis()).unwrap_or(u32::MAX));
    session.method_pref(MethodType::HostKey, key_types).map_err(|e| error::ssh("cannot set the host key types", &e))?;
    session.handshake().map_err(|e| error::ssh(format!("the ssh handshake with {address} failed"), &e))?;
    Ok(session)
}

/// Why a host key was not accepted.
enum HostKey {
    /// known_hosts has no key for the host (unknown), or another one: changed, or of
    /// another type, which libssh2 does not tell apart (ssh2 checks without the key type).
    Unmatched(Error),
    /// The check could not be made.
    Unchecked(Error),
}

impl HostKey {
    fn into_error(self) -> Error {
        match self {
            HostKey::Unmatched(error) | HostKey::Unchecked(error) => error,
        }
    }
}

/// Refuses a server whose host key is not the one known_hosts records for it, as ssh's
/// `StrictHostKeyChecking yes` does, saying how to accept it after checking.
fn check_host_key(session: &Session, settings: &SftpSettings) -> Result<(), HostKey> {
    let target = &settings.target;
    let file = &settings.known_hosts;
    let (key, kind) =
        session.host_key().ok_or_else(|| HostKey::Unchecked(error::lost("the server showed no host key".into())))?;
    let shown = format!(
        "{} key {}",
        key_type_name(kind),
        fingerprint(session.host_key_hash(HashType::Sha256).unwrap_or_default())
    );
    let mut known =
        session.known_hosts().map_err(|e| HostKey::Unchecked(error::ssh("cannot check the host key", &e)))?;
    // Line by line, so that one line libssh2 cannot read (a key type it does not know, a
    // marker) leaves the others in force.
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => {
            return Err(HostKey::Unchecked(Error::io(
                format!("cannot read the known_hosts file {}", file.display()),
                &e,
            )));
        }
    };
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let _ = known.read_str(line, KnownHostFileKind::OpenSSH);
    }
    let name = target.known_hosts_name();
    let keyscan = match target.port {
        22 => format!("ssh-keyscan {} >> {}", target.host, file.display()),
        port => format!("ssh-keyscan -p {port} {} >> {}", target.host, file.display()),
    };
    match known.check_port(&target.host, target.port, key) {
        CheckResult::Match => Ok(()),
        CheckResult::NotFound => Err(HostKey::Unmatched(Error::new(
            ErrorKind::Unauthenticated,
            format!(
                "the host key of {name} is not in {}: the server shows the {shown}; if that is its key \
                 (ask its administrator), add it with `{keyscan}` or name another file with --set known_hosts=FILE",
                file.display()
            ),
        ))),
        CheckResult::Mismatch => Err(HostKey::Unmatched(Error::new(
            ErrorKind::Unauthenticated,
            format!(
                "the host key of {name} changed: the server shows the {shown}, which is not the key {} records \
                 for it; someone may be intercepting the connection, or the server was reinstalled: check with \
                 its administrator, and only then replace the old key with `ssh-keygen -R '{name}' -f {}` and `{keyscan}`",
                file.display(),
                file.display()
            ),
        ))),
        CheckResult::Failure => Err(HostKey::Unchecked(Error::new(
            ErrorKind::Unauthenticated,
            format!("cannot check the host key of {name} ({shown}) against {}", file.display()),
        ))),
    }
}

/// `SHA256:` and the unpadded base64 of the key's hash, as ssh prints it.
pub(crate) fn fingerprint(sha256: &[u8]) -> String {
    format!("SHA256:{}", base64::engine::general_purpose::STANDARD_NO_PAD.encode(sha256))
}

fn key_type_name(kind: HostKeyType) -> &'static str {
    match kind {
        HostKeyType::Rsa => "ssh-rsa",
        HostKeyType::Dss => "ssh-dss",
        HostKeyType::Ecdsa256 => "ecdsa-sha2-nistp256",
        HostKeyType::Ecdsa384 => "ecdsa-sha2-nistp384",
        HostKeyType::Ecdsa521 => "ecdsa-sha2-nistp521",
        HostKeyType::Ed25519 => "ssh-ed25519",
        HostKeyType::Unknown => "unknown",
    }
}

/// Logs in with the keys, then the password. The message names what was tried, never a
/// secret.
fn log_in(session: &Session, settings: &SftpSettings) -> Result<()> {
    let target = &settings.target;
    let user = target.user.as_str();
    let mut tried = Vec::new();
    let passphrase = settings.key_passphrase.as_ref().map(|p| p.expose());
    for key in &settings.key_files {
        if settings.key_given && !key.is_file() {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!("the key file {} does not exist: check --set key_file", key.display()),
            ));
        }
        match session.userauth_pubkey_file(user, None, key, passphrase) {
            Ok(()) if session.authenticated() => return Ok(()),
            Ok(()) => {}
            Err(e) if error::ssh("", &e).kind() == ErrorKind::Unavailable => {
                return Err(error::ssh(format!("the connection to {} broke while logging in", target.address()), &e));
            }
            Err(e) if settings.key_given && unreadable_key(&e) => {
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    format!(
                        "cannot use the key file {} ({}): is it a private key, and is its passphrase given with SORTIE_SFTP_KEY_PASSPHRASE?",
                        key.display(),
                        e.message()
                    ),
                ));
            }
            Err(_) => {}
        }
        tried.push(format!("key {}", key.display()));
    }
    if let Some(password) = &settings.password {
        match session.userauth_password(user, password.expose()) {
            Ok(()) if session.authenticated() => return Ok(()),
            Err(e) if error::ssh("", &e).kind() == ErrorKind::Unavailable => {
                return Err(error::ssh(format!("the connection to {} broke while logging in", target.address()), &e));
            }
            _ => tried.push("password".to_owned()),
        }
    }
    if tried.is_empty() {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!(
                "no credentials for {user}@{}: give a password in SORTIE_SFTP_PASSWORD or a key with --set key_file=FILE \
                 (none of ~/.ssh/id_ed25519, id_ecdsa, id_rsa exists)",
                target.address()
            ),
        ));
    }
    Err(Error::new(
        ErrorKind::Unauthenticated,
        format!(
            "{} refused the login of {user} ({} tried): check the user name, the password or the key",
            target.address(),
            tried.join(", ")
        ),
    ))
}

/// Whether libssh2 could not load the private key itself (unreadable, not a key, wrong
/// passphrase), as opposed to the server refusing it.
fn unreadable_key(error: &ssh2::Error) -> bool {
    error.code() == ssh2::ErrorCode::Session(-16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_written_as_ssh_writes_them() {
        // `ssh-keygen -lf` of the all-zero hash prints 43 base64 characters, no padding.
        assert_eq!(fingerprint(&[0; 32]), format!("SHA256:{}", "A".repeat(43)));
    }
}
