//! `swift://CONTAINER[/PREFIX]` and `swift://` (every container of the project).

use sortie_core::error::{Error, ErrorKind, Result};

/// What a source URL asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwiftUrl {
    /// `openstack://`: the whole project, not only its object store.
    pub project: bool,
    /// `None` for every container of the account.
    pub container: Option<String>,
    /// Only objects whose names start with this (may be empty).
    pub prefix: String,
}

const EXAMPLES: &str = "write swift://CONTAINER, swift://CONTAINER/PREFIX or swift:// for every container";

/// Parses a source. Credentials never belong in the URL: one that carries some is refused
/// without being repeated.
pub fn parse(source: &str) -> Result<SwiftUrl> {
    let invalid = |why: String| Error::new(ErrorKind::InvalidInput, why);
    let rest = match source.split_once("://") {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("swift") => rest,
        Some((scheme, "")) if scheme.eq_ignore_ascii_case("openstack") => {
            return Ok(SwiftUrl { project: true, container: None, prefix: String::new() });
        }
        Some((scheme, _)) if scheme.eq_ignore_ascii_case("openstack") => {
            return Err(invalid(format!(
                "'{source}': openstack:// stands for the whole project and takes nothing after it; for one \
                 container write swift://CONTAINER"
            )));
        }
        _ => return Err(invalid(format!("'{source}' is not a swift:// URL: {EXAMPLES}"))),
    };
    let (container, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if container.contains('@') {
        return Err(invalid(
            "a swift:// URL must not carry credentials (it contains '@'): use the OS_* variables, a \
             clouds.yaml cloud (--os-cloud, OS_CLOUD) or the ST_* variables"
                .into(),
        ));
    }
    if container.is_empty() {
        if !prefix.is_empty() {
            return Err(invalid(format!("'{source}' has a prefix but no container: {EXAMPLES}")));
        }
        return Ok(SwiftUrl { project: false, container: None, prefix: String::new() });
    }
    // Swift's own limit; a longer name could only come from a typing mistake.
    if container.len() > 256 {
        return Err(invalid(format!("'{container}' is longer than a Swift container name (256 bytes): {EXAMPLES}")));
    }
    if container.contains(['?', '#']) || prefix.contains(['?', '#']) {
        return Err(invalid(format!(
            "'{source}': '?' and '#' cannot be given here; to export names containing them, export the \
             container or a shorter prefix"
        )));
    }
    Ok(SwiftUrl { project: false, container: Some(container.to_owned()), prefix: prefix.to_owned() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containers_prefixes_and_the_whole_account() {
        assert_eq!(parse("swift://").unwrap(), SwiftUrl { project: false, container: None, prefix: String::new() });
        assert!(parse("openstack://").unwrap().project);
        assert!(parse("openstack://x").unwrap_err().to_string().contains("takes nothing after it"));
        assert_eq!(parse("swift://photos").unwrap().container.as_deref(), Some("photos"));
        assert_eq!(parse("SWIFT://my container/2024/").unwrap().prefix, "2024/");
        assert_eq!(parse("swift://c/").unwrap().prefix, "");
    }

    #[test]
    fn malformed_urls_say_what_is_wrong_without_echoing_secrets() {
        let message = |s: &str| parse(s).unwrap_err().to_string();
        assert!(message("swift:///x").contains("no container"));
        assert!(message("s3://x").contains("not a swift:// URL"));
        let secret = message("swift://user:hunter2@container/x");
        assert!(secret.contains("must not carry credentials") && !secret.contains("hunter2"), "{secret}");
        assert!(message(&format!("swift://{}", "c".repeat(300))).contains("256 bytes"));
        assert!(message("swift://c/x?y").contains("'?' and '#'"));
    }
}
