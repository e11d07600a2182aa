//! The HTTP client Sortie's network providers share: rustls on ring, the timeouts an export
//! of millions of objects needs, extra trusted certificates, and transport failures mapped
//! to Sortie's error kinds. Each provider keeps its own protocol; only the plumbing is here.

use std::path::Path;
use std::time::Duration;

use sortie_core::error::{Error, ErrorKind, Result};

/// A client that follows no redirect (providers decide what a redirect means) and trusts,
/// besides the system's roots, the PEM certificates of `ca_bundle`.
pub fn client(ca_bundle: Option<&Path>) -> Result<reqwest::Client> {
    // reqwest is built without a default TLS crypto provider, so that ring (quick to build)
    // serves instead of aws-lc-rs; the first client installs it for the process.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("sortie/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(10))
        .read_timeout(Duration::from_secs(120))
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
pub fn transport_error(what: &str, error: &reqwest::Error) -> Error {
    let mut message = format!("cannot reach {what}: {error}");
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        message.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    let permanent = message.contains("certificate") || message.contains("builder error");
    let error = Error::new(ErrorKind::Unavailable, message);
    if permanent { error } else { error.temporary() }
}
