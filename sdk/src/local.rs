//! Who the process runs as on this machine: what the restitution report names when the
//! operator gives no organization, and the account of a local source.

/// The name of the user this process runs as, if the system knows one.
pub fn user() -> Option<String> {
    whoami::fallible::username().ok().filter(|name| !name.is_empty())
}

/// `user@host`, each part as the system knows it (`?` when it does not).
pub fn user_at_host() -> String {
    let host = whoami::fallible::hostname().ok().filter(|name| !name.is_empty());
    format!("{}@{}", user().as_deref().unwrap_or("?"), host.as_deref().unwrap_or("?"))
}
