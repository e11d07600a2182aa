//! The factory: `s3://BUCKET[/PREFIX]`, and `s3://` (every bucket the credentials can list),
//! which resolves into one source per bucket.
//!
//! A source's URL names the endpoint it was described for (`s3://photos at
//! https://s3.gra.io.cloud.ovh.net`): the report says where each bucket came from, and a
//! source read back from a plan is opened only where that URL says.

use std::sync::Arc;

use async_trait::async_trait;
use sortie_sdk::provider::Provider;
use sortie_sdk::registry::{Context, ProviderFactory, ProviderInfo};
use sortie_sdk::settings::Settings;
use sortie_sdk::source::SourceSpec;
use sortie_sdk::{Error, ErrorKind, Result};

use crate::client::{Client, Request};
use crate::provider::S3Provider;
use crate::settings::{self, S3Settings, specs};
use crate::xml::ListAllMyBucketsResult;

/// Opens `s3://` sources: Amazon S3 and S3-compatible stores.
#[derive(Debug)]
pub struct S3Factory;

/// The environment, read through a function so that tests need not change the process's.
type Env<'a> = &'a (dyn Fn(&str) -> Option<String> + Sync);

fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

#[async_trait]
impl ProviderFactory for S3Factory {
    fn info(&self) -> ProviderInfo {
        ProviderInfo::new(
            "s3",
            "Amazon S3 and S3-compatible stores: every object, version, delete marker, and the bucket configuration",
            "s3://my-bucket/prefix",
            specs(),
        )
    }

    fn source(&self, url: &str, settings: Settings) -> Result<SourceSpec> {
        describe(url, settings, &process_env)
    }

    async fn resolve(&self, source: &SourceSpec, context: &Context) -> Result<Vec<SourceSpec>> {
        resolve(source, context, &process_env).await
    }

    fn open(&self, source: &SourceSpec, context: &Context) -> Result<Arc<dyn Provider>> {
        open(source, context, &process_env)
    }
}

/// `s3://BUCKET[/PREFIX] at ENDPOINT`, archived as `s3-BUCKET` (`s3` for every bucket).
fn describe(url: &str, settings: Settings, env: Env<'_>) -> Result<SourceSpec> {
    let url = parse(url)?;
    let endpoint = settings::endpoint_shown(&S3Settings::of(&settings), env)?;
    let id = match &url.bucket {
        Some(bucket) => format!("s3-{bucket}"),
        None => "s3".to_owned(),
    };
    Ok(SourceSpec::new("s3", format!("{} at {endpoint}", url.shown()), id, settings))
}

/// A bucket is itself; `s3://` is every bucket the credentials can list, each with the
/// same settings.
async fn resolve(source: &SourceSpec, context: &Context, env: Env<'_>) -> Result<Vec<SourceSpec>> {
    let (url, client) = connect(source, context, env)?;
    if url.bucket.is_some() {
        return Ok(vec![source.clone()]);
    }
    let endpoint = client.endpoint_display();
    let buckets = list_buckets(&client).await?;
    Ok(buckets
        .into_iter()
        .map(|bucket| {
            let url = format!("s3://{bucket} at {endpoint}");
            SourceSpec::new("s3", url, format!("s3-{bucket}"), source.settings.clone())
        })
        .collect())
}

fn open(source: &SourceSpec, context: &Context, env: Env<'_>) -> Result<Arc<dyn Provider>> {
    let (url, client) = connect(source, context, env)?;
    let Some(bucket) = url.bucket else {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!(
                "{} stands for every bucket: it is resolved into one source per bucket, which are opened",
                source.url
            ),
        ));
    };
    Ok(Arc::new(S3Provider::new(client, bucket, url.prefix, &S3Settings::of(&source.settings))))
}

/// The source's URL and a client for it, refused when the settings and environment now
/// point at another endpoint than the one the URL names.
fn connect(source: &SourceSpec, context: &Context, env: Env<'_>) -> Result<(S3Url, Client)> {
    let (written, described_at) = match source.url.rsplit_once(" at ") {
        Some((written, endpoint)) => (written, Some(endpoint)),
        None => (source.url.as_str(), None),
    };
    let url = parse(written)?;
    let connection = settings::resolve(&S3Settings::of(&source.settings), env)?;
    if let Some(described_at) = described_at
        && described_at != connection.endpoint_shown()
    {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!(
                "{} was described for the endpoint {described_at}, but the settings and environment now give {}: \
                 pass --s3-endpoint {described_at}, or describe the source again",
                source.url,
                connection.endpoint_shown()
            ),
        ));
    }
    Ok((url, Client::new(connection)?.with_retry(context.retry)))
}

/// Every bucket the credentials can list (ListBuckets, page by page).
async fn list_buckets(client: &Client) -> Result<Vec<String>> {
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let query = token.take().map(|t| ("continuation-token", t)).into_iter().collect();
        let request = Request { query, ..Default::default() };
        let result: ListAllMyBucketsResult = client.get_document(&request, "ListBuckets").await?;
        names.extend(result.buckets.bucket.into_iter().map(|b| b.name));
        match result.continuation_token {
            Some(next) if !next.is_empty() => token = Some(next),
            _ => return Ok(names),
        }
    }
}

/// What a source URL asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Url {
    /// `None` for every bucket of the account.
    pub bucket: Option<String>,
    /// Only keys starting with this (may be empty).
    pub prefix: String,
}

impl S3Url {
    /// As the user would write it.
    fn shown(&self) -> String {
        match &self.bucket {
            Some(bucket) if self.prefix.is_empty() => format!("s3://{bucket}"),
            Some(bucket) => format!("s3://{bucket}/{}", self.prefix),
            None => "s3://".to_owned(),
        }
    }
}

const EXAMPLES: &str = "write s3://BUCKET, s3://BUCKET/PREFIX or s3:// for every bucket";

/// Parses a source. Credentials never belong in the URL: one that carries some is refused
/// without being repeated, so that the secret does not reach a terminal or a log.
fn parse(source: &str) -> Result<S3Url> {
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
