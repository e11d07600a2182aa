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
        Ok(Arc::new(open(source, context, &process_env)?))
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
    if split(&source.url)?.0.bucket.is_some() {
        return Ok(vec![source.clone()]);
    }
    let (_, client) = connect(source, context, env)?;
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

fn open(source: &SourceSpec, context: &Context, env: Env<'_>) -> Result<S3Provider> {
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
    Ok(S3Provider::new(client, bucket, url.prefix, &S3Settings::of(&source.settings)))
}

/// The source's URL and a client for it, refused when the settings and environment now
/// point at another endpoint than the one the URL names.
fn connect(source: &SourceSpec, context: &Context, env: Env<'_>) -> Result<(S3Url, Client)> {
    let (url, described_at) = split(&source.url)?;
    let connection = settings::resolve(&S3Settings::of(&source.settings), env)?;
    if let Some(described_at) = described_at
        && described_at != connection.endpoint_shown()
    {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!(
                "the source was described for the endpoint {described_at}, but the settings and environment now \
                 give {}: pass --s3-endpoint {described_at}, or describe the source again",
                connection.endpoint_shown()
            ),
        ));
    }
    Ok((url, Client::new(connection)?.with_retry(context.retry)))
}

/// A source's URL and the endpoint it names, if it names one (a hand-written plan may not).
fn split(url: &str) -> Result<(S3Url, Option<&str>)> {
    match url.rsplit_once(" at ") {
        Some((written, endpoint)) => Ok((parse(written)?, Some(endpoint))),
        None => Ok((parse(url)?, None)),
    }
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
    use crate::test_server::{Answer, TestServer};
    use futures_util::StreamExt;
    use sortie_sdk::item::{Area, Item, Kind, RawName};

    const SECRET: &str = "wJalr-test-secret-never-shown";
    const TOKEN: &str = "session-token-never-shown";

    fn settings(values: &[(&str, &str)]) -> Settings {
        let info = S3Factory.info();
        let mut settings = Settings::new();
        for (name, value) in values {
            settings.set(info.setting(name).unwrap(), value).unwrap();
        }
        settings
    }

    /// An environment with the server's endpoint and an empty home (no profile).
    fn environment(endpoint: &str) -> (tempfile::TempDir, impl Fn(&str) -> Option<String> + Sync) {
        let home = tempfile::tempdir().unwrap();
        let (path, endpoint) = (home.path().display().to_string(), endpoint.to_owned());
        let env = move |name: &str| match name {
            "HOME" => Some(path.clone()),
            "AWS_ENDPOINT_URL" => Some(endpoint.clone()),
            _ => None,
        };
        (home, env)
    }

    /// The given credentials, as `--set` gives them.
    fn credentials() -> Vec<(&'static str, &'static str)> {
        vec![("access_key_id", "AKIATEST"), ("secret_access_key", SECRET), ("session_token", TOKEN)]
    }

    async fn read(body: sortie_sdk::provider::Body) -> Vec<u8> {
        let mut bytes = Vec::new();
        let mut stream = body.stream;
        while let Some(chunk) = stream.next().await {
            bytes.extend_from_slice(&chunk.unwrap());
        }
        bytes
    }

    fn shows_no_secret(text: &str) {
        assert!(!text.contains(SECRET) && !text.contains(TOKEN), "a secret shows: {text}");
    }

    #[tokio::test]
    async fn every_bucket_resolves_into_sources_that_open_alone_after_a_plan() {
        let buckets = "<ListAllMyBucketsResult><Buckets><Bucket><Name>alpha</Name></Bucket>\
                       <Bucket><Name>Beta_legacy</Name></Bucket></Buckets></ListAllMyBucketsResult>";
        let empty = "<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>";
        let server = TestServer::start(vec![
            ("GET /", Answer::ok(buckets)),
            ("GET /alpha/?list-type=2&max-keys=1", Answer::ok(empty)),
            ("GET /Beta_legacy/?list-type=2&max-keys=1", Answer::ok(empty)),
        ])
        .await;
        let (_home, env) = environment(&server.endpoint);
        let context = Context::default();
        let mut given = credentials();
        given.push(("current_only", "true"));
        let every = describe("s3://", settings(&given), &env).unwrap();
        assert_eq!((every.url.as_str(), every.id.as_str()), (format!("s3:// at {}", server.endpoint).as_str(), "s3"));
        let resolved = resolve(&every, &context, &env).await.unwrap();
        let described: Vec<(&str, &str)> = resolved.iter().map(|s| (s.url.as_str(), s.id.as_str())).collect();
        let alpha = format!("s3://alpha at {}", server.endpoint);
        let beta = format!("s3://Beta_legacy at {}", server.endpoint);
        assert_eq!(described, [(alpha.as_str(), "s3-alpha"), (beta.as_str(), "s3-Beta_legacy")]);
        for spec in &resolved {
            let json = serde_json::to_string(spec).unwrap();
            shows_no_secret(&json);
            shows_no_secret(&format!("{spec:?}"));
            let mut planned: SourceSpec = serde_json::from_str(&json).unwrap();
            assert_eq!(serde_json::to_value(&planned).unwrap(), serde_json::to_value(spec).unwrap());
            assert!(planned.settings.is_on("current_only"), "{json}");
            // Secrets are given again by the run that exports the plan.
            let error = open(&planned, &context, &env).unwrap_err();
            assert!(error.to_string().contains("secret_access_key is not"), "{error}");
            planned.settings = planned.settings.overridden_by(&settings(&credentials()));
            let provider = open(&planned, &context, &env).unwrap();
            provider.check().await.unwrap();
            shows_no_secret(&format!("{provider:?}"));
        }
        assert_eq!(server.count("GET /"), 1);
        // A bucket resolves to itself, without a request.
        let one = describe("s3://alpha/photos/", settings(&credentials()), &env).unwrap();
        assert_eq!(one.url, format!("s3://alpha/photos/ at {}", server.endpoint));
        assert_eq!(resolve(&one, &context, &env).await.unwrap(), std::slice::from_ref(&one));
        assert_eq!(server.count("GET /"), 1);
        shows_no_secret(&format!("{:?} {:?} {:?}", S3Factory, one.settings, S3Settings::of(&one.settings)));
    }

    #[tokio::test]
    async fn a_source_opens_only_at_the_endpoint_its_url_names() {
        let (_home, env) = environment("http://127.0.0.1:9000");
        let spec = describe("s3://bucket", settings(&credentials()), &env).unwrap();
        let (_other, elsewhere) = environment("http://127.0.0.1:9001");
        let error = open(&spec, &Context::default(), &elsewhere).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidInput);
        assert!(error.to_string().contains("--s3-endpoint http://127.0.0.1:9000"), "{error}");
        let every = describe("s3://", settings(&credentials()), &env).unwrap();
        assert!(open(&every, &Context::default(), &env).unwrap_err().to_string().contains("every bucket"));
    }

    #[tokio::test]
    async fn objects_and_configuration_documents_give_the_same_bytes_every_time() {
        let policy = r#"{"Version":"2012-10-17","Statement":[]}"#;
        let listing = "<ListBucketResult><IsTruncated>false</IsTruncated><EncodingType>url</EncodingType>\
                       <Contents><Key>k</Key><ETag>\"5d41402abc4b2a76b9719d911017c592\"</ETag><Size>5</Size>\
                       </Contents></ListBucketResult>";
        let etag = "\"5d41402abc4b2a76b9719d911017c592\"";
        let tags = "<Tagging><TagSet><Tag><Key>class</Key><Value>secret</Value></Tag></TagSet></Tagging>";
        let acl = "<AccessControlPolicy><Owner><ID>o</ID></Owner><AccessControlList/></AccessControlPolicy>";
        let server = TestServer::start(vec![
            ("GET /bkt/?policy", Answer::ok(policy)),
            ("GET /bkt/?encoding-type=url&list-type=2", Answer::ok(listing)),
            ("GET /bkt/k", Answer::ok("hello").header("etag", etag)),
            ("GET /bkt/k?tagging", Answer::ok(tags)),
            ("GET /bkt/k?acl", Answer::ok(acl)),
            ("GET /bkt/k?versionId=v1", Answer::ok("older").header("etag", "\"e\"")),
            ("GET /bkt/k?tagging&versionId=v1", Answer::ok(tags)),
            ("GET /bkt/k?acl&versionId=v1", Answer::ok(acl)),
        ])
        .await;
        let (_home, env) = environment(&server.endpoint);
        let spec = describe("s3://bkt", settings(&credentials()), &env).unwrap();
        let provider = open(&spec, &Context::default(), &env).unwrap();

        let first = provider.list_page(None).await.unwrap();
        let document = first.items.iter().find(|i| i.id == RawName::text("?policy")).unwrap();
        assert_eq!((document.area, document.has_body), (Area::Config, true));
        assert_eq!(document.inline.as_deref(), Some(policy.as_bytes()), "listed with its bytes");
        assert_eq!(document.size, Some(policy.len() as u64));
        assert!(first.items.iter().filter(|i| i.id != document.id).all(|i| i.inline.is_none() && i.skip.is_some()));
        for _ in 0..2 {
            assert_eq!(read(provider.open(document).await.unwrap()).await, policy.as_bytes(), "read again");
        }

        let second = provider.list_page(first.next).await.unwrap();
        let object = &second.items[0];
        assert_eq!((object.id.display(), object.locator.as_deref()), ("k".to_owned(), None));
        for _ in 0..2 {
            let body = provider.open(object).await.unwrap();
            assert_eq!(body.meta["tags"]["class"], "secret");
            assert!(body.incomplete.is_none());
            assert_eq!(read(body).await, b"hello");
        }
        // Nothing is kept between two opens: each asks for the tag set and ACL again.
        assert_eq!((server.count("GET /bkt/k?tagging"), server.count("GET /bkt/k?acl")), (2, 2));

        // A version is opened by its locator, never by what the inventory shows in `meta`.
        let mut version = Item::new(RawName::text("k"), vec![RawName::text("k")], Kind::Object);
        version.locator = Some("v1".into());
        version.meta.insert("version_id".into(), "not-this-one".into());
        assert_eq!(read(provider.open(&version).await.unwrap()).await, b"older");
        version.locator = None;
        version.version = Some(RawName::text("v1"));
        assert_eq!(read(provider.open(&version).await.unwrap()).await, b"older");
    }

    #[tokio::test]
    async fn errors_never_show_a_secret_the_server_echoes() {
        let echo = format!("<Error><Code>AccessDenied</Code><Message>token {TOKEN} refused</Message></Error>");
        let server =
            TestServer::start(vec![("GET /bkt/?list-type=2&max-keys=1", Answer::status("403 Forbidden", echo))]).await;
        let (_home, env) = environment(&server.endpoint);
        let spec = describe("s3://bkt", settings(&credentials()), &env).unwrap();
        let provider = open(&spec, &Context::default(), &env).unwrap();
        let error = provider.check().await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::PermissionDenied);
        assert!(error.to_string().contains("AKIATEST"), "{error}");
        shows_no_secret(&error.to_string());
        shows_no_secret(&serde_json::to_string(&error).unwrap());
    }

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
