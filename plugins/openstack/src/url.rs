//! Source URLs: `swift://CONTAINER[/PREFIX]`, `swift://` (every container of the project)
//! and `openstack://` (the whole project). Resolution writes the object store's account URL
//! after them (`swift://photos at https://…/v1/AUTH_…`), as the report shows a source: a URL
//! that carries it is resolved already, and is parsed back without it.

use sortie_sdk::error::{Error, ErrorKind, Result};

/// What a source URL asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwiftUrl {
    /// `openstack://`: the whole project, not only its object store.
    pub project: bool,
    /// `None` for every container of the account.
    pub container: Option<String>,
    /// Only objects whose names start with this (may be empty).
    pub prefix: String,
    /// The account URL resolution wrote after the source (without user info).
    pub at: Option<String>,
}

impl SwiftUrl {
    /// The source as the user writes it.
    pub fn written(&self) -> String {
        match (&self.container, self.prefix.as_str()) {
            _ if self.project => "openstack://".to_owned(),
            (None, _) => "swift://".to_owned(),
            (Some(container), "") => format!("swift://{container}"),
            (Some(container), prefix) => format!("swift://{container}/{prefix}"),
        }
    }

    /// The source as the report shows it: with the account URL, once resolved.
    pub fn shown(&self) -> String {
        match &self.at {
            Some(at) => format!("{} at {at}", self.written()),
            None => self.written(),
        }
    }
}

const EXAMPLES: &str = "write swift://CONTAINER, swift://CONTAINER/PREFIX or swift:// for every container";

/// Parses a source. Credentials never belong in the URL: one that carries some is refused
/// without being repeated.
pub fn parse(source: &str) -> Result<SwiftUrl> {
    let (source, at) = match source.rsplit_once(" at ") {
        Some((source, at)) if at.starts_with("http://") || at.starts_with("https://") => (source, Some(at.to_owned())),
        _ => (source, None),
    };
    let mut url = parse_written(source)?;
    url.at = at;
    Ok(url)
}

fn parse_written(source: &str) -> Result<SwiftUrl> {
    let invalid = |why: String| Error::new(ErrorKind::InvalidInput, why);
    let rest = match source.split_once("://") {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("swift") => rest,
        Some((scheme, "")) if scheme.eq_ignore_ascii_case("openstack") => {
            return Ok(SwiftUrl { project: true, container: None, prefix: String::new(), at: None });
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
        return Ok(SwiftUrl { project: false, container: None, prefix: String::new(), at: None });
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
    Ok(SwiftUrl { project: false, container: Some(container.to_owned()), prefix: prefix.to_owned(), at: None })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containers_prefixes_and_the_whole_account() {
        assert_eq!(
            parse("swift://").unwrap(),
            SwiftUrl { project: false, container: None, prefix: String::new(), at: None }
        );
        assert!(parse("openstack://").unwrap().project);
        assert!(parse("openstack://x").unwrap_err().to_string().contains("takes nothing after it"));
        assert_eq!(parse("swift://photos").unwrap().container.as_deref(), Some("photos"));
        assert_eq!(parse("SWIFT://my container/2024/").unwrap().prefix, "2024/");
        assert_eq!(parse("swift://c/").unwrap().prefix, "");
    }

    #[test]
    fn resolved_urls_carry_the_account_url_and_read_back() {
        let resolved = parse("swift://c/a at b/ at https://s.example/v1/AUTH_p").unwrap();
        assert_eq!((resolved.container.as_deref(), resolved.prefix.as_str()), (Some("c"), "a at b/"));
        assert_eq!(resolved.at.as_deref(), Some("https://s.example/v1/AUTH_p"));
        assert_eq!(resolved.shown(), "swift://c/a at b/ at https://s.example/v1/AUTH_p");
        assert_eq!(parse(&resolved.shown()).unwrap(), resolved);
        let project = parse("openstack:// at http://s/v1/AUTH_p").unwrap();
        assert!(project.project && project.at.is_some());
        assert_eq!(parse("swift://").unwrap().shown(), "swift://");
        assert_eq!(parse("swift://c/x at y").unwrap().prefix, "x at y");
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
