//! `s3://BUCKET[/PREFIX]` and `s3://` (every bucket the credentials can list).

use sortie_core::error::{Error, ErrorKind, Result};

/// What a source URL asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Url {
    /// `None` for every bucket of the account.
    pub bucket: Option<String>,
    /// Only keys starting with this (may be empty).
    pub prefix: String,
}

const EXAMPLES: &str = "write s3://BUCKET, s3://BUCKET/PREFIX or s3:// for every bucket";

/// Parses a source. Credentials never belong in the URL: one that carries some is refused
/// without being repeated, so that the secret does not reach a terminal or a log.
pub fn parse(source: &str) -> Result<S3Url> {
    let invalid = |why: String| Error::new(ErrorKind::InvalidInput, why);
    let Some(rest) = source
        .strip_prefix("s3://")
        .or_else(|| source.get(..5).filter(|s| s.eq_ignore_ascii_case("s3://")).map(|_| &source[5..]))
    else {
        return Err(invalid(format!("'{source}' is not an s3:// URL: {EXAMPLES}")));
    };
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.contains('@') {
        return Err(invalid(
            "an s3:// URL must not carry credentials (it contains '@'): use AWS_ACCESS_KEY_ID and \
             AWS_SECRET_ACCESS_KEY, a profile (--profile, AWS_PROFILE) or --no-sign-request"
                .into(),
        ));
    }
    if bucket.is_empty() {
        if !prefix.is_empty() {
            return Err(invalid(format!("'{source}' has a prefix but no bucket: {EXAMPLES}")));
        }
        return Ok(S3Url { bucket: None, prefix: String::new() });
    }
    check_bucket_name(bucket)
        .map_err(|why| invalid(format!("'{bucket}' is not a valid bucket name ({why}): {EXAMPLES}")))?;
    if prefix.contains(['?', '#']) {
        return Err(invalid(format!(
            "'{source}': a prefix cannot hold '?' or '#' here; to export keys containing them, export the \
             bucket or a shorter prefix"
        )));
    }
    Ok(S3Url { bucket: Some(bucket.to_owned()), prefix: prefix.to_owned() })
}

/// The rules every S3 implementation accepts, loosened as the compatible stores loosen
/// them (upper case and `_` from legacy buckets): 3 to 255 characters of letters, digits,
/// `.`, `-` and `_`, starting and ending with a letter or digit.
fn check_bucket_name(bucket: &str) -> Result<(), &'static str> {
    if !(3..=255).contains(&bucket.len()) {
        return Err("a bucket name has 3 to 63 characters");
    }
    if !bucket.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)) {
        return Err("only letters, digits, '.', '-' and '_' are allowed");
    }
    let edge = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_alphanumeric());
    if !edge(bucket.as_bytes().first()) || !edge(bucket.as_bytes().last()) {
        return Err("it must start and end with a letter or digit");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_prefixes_and_the_whole_account() {
        assert_eq!(parse("s3://").unwrap(), S3Url { bucket: None, prefix: String::new() });
        assert_eq!(parse("s3://my-bucket").unwrap(), S3Url { bucket: Some("my-bucket".into()), prefix: String::new() });
        assert_eq!(parse("S3://b.x_1/photos/2024/").unwrap().prefix, "photos/2024/");
        assert_eq!(parse("s3://bucket/").unwrap().prefix, "");
    }

    #[test]
    fn malformed_urls_say_what_is_wrong_without_echoing_secrets() {
        let message = |s: &str| parse(s).unwrap_err().to_string();
        assert!(message("s3://ab").contains("3 to 63"));
        assert!(message("s3://bad bucket/x").contains("only letters"));
        assert!(message("s3:///prefix").contains("no bucket"));
        assert!(message("s3://-bucket").contains("start and end"));
        let secret = message("s3://AKIAEXAMPLE:wJalrXUtnFEMI@bucket/x");
        assert!(secret.contains("must not carry credentials") && !secret.contains("wJalr"), "{secret}");
        assert_eq!(parse("s3://b/x?y").unwrap_err().kind(), ErrorKind::InvalidInput);
    }
}
