//! A bucket's configuration, one document per sub-resource, archived under the source's
//! `_config/` area as served (XML, or JSON for the policy).

use bytes::Bytes;
use futures_util::future::join_all;
use reqwest::StatusCode;
use sortie_sdk::item::{Area, Item, Kind, RawName, Skip};
use sortie_sdk::provider::Body;
use sortie_sdk::{Error, ErrorKind, Result};

use crate::client::{Client, Request, read_capped};
use crate::error::Failure;
use crate::xml::{self, VersioningConfiguration};

/// One configuration document: its sub-resource, file name, and what it is in words.
type Document = (&'static str, &'static str, &'static str);

/// Every document read, in the order of the `_config/` listing.
const DOCUMENTS: &[Document] = &[
    ("location", "location.xml", "location (region)"),
    ("versioning", "versioning.xml", "versioning configuration"),
    ("policy", "policy.json", "bucket policy"),
    ("policyStatus", "policy-status.xml", "policy status"),
    ("acl", "acl.xml", "access control list"),
    ("cors", "cors.xml", "CORS configuration"),
    ("lifecycle", "lifecycle.xml", "lifecycle configuration"),
    ("tagging", "tagging.xml", "tag set"),
    ("encryption", "encryption.xml", "default encryption"),
    ("object-lock", "object-lock.xml", "object lock configuration"),
    ("website", "website.xml", "website configuration"),
    ("notification", "notification.xml", "notification configuration"),
    ("ownershipControls", "ownership-controls.xml", "ownership controls"),
    ("publicAccessBlock", "public-access-block.xml", "public access block"),
    ("replication", "replication.xml", "replication configuration"),
    ("logging", "logging.xml", "logging configuration"),
    ("accelerate", "accelerate.xml", "transfer acceleration"),
    ("requestPayment", "request-payment.xml", "request payment configuration"),
    ("analytics", "analytics.xml", "analytics configurations"),
    ("metrics", "metrics.xml", "metrics configurations"),
    ("inventory", "inventory.xml", "inventory configurations"),
    ("intelligent-tiering", "intelligent-tiering.xml", "Intelligent-Tiering configurations"),
];

/// Configuration documents are small (a policy is at most 20 KiB, a lifecycle 1,000
/// rules); a longer answer is not one and is treated as not implemented. Every document
/// read thus fits inline in its item.
const MAX_DOCUMENT: usize = Item::INLINE_MAX;

/// The configuration documents, as items: those present with their bytes inline (the engine
/// archives them as listed), absent ones excluded with the reason, those that could not be
/// read failed alone.
pub struct BucketConfig {
    pub items: Vec<Item>,
    /// Versioning is or was enabled: the bucket may hold earlier versions.
    pub versioned: bool,
}

/// What one configuration request brought.
#[derive(Debug)]
enum Answer {
    /// The document, well-formed.
    Document(Bytes),
    /// Another document than the one asked for: the server ignored the sub-resource.
    Other,
}

/// Reads every configuration document, each request retried on its own: a document that
/// fails for good is a failed item alone, and never takes the bucket's objects with it. Only
/// a bucket that does not exist (any more) fails the whole page.
pub async fn fetch(client: &Client, bucket: &str) -> Result<BucketConfig> {
    let answers = join_all(DOCUMENTS.iter().map(|document| ask(client, bucket, document))).await;
    let mut config = BucketConfig { items: Vec::new(), versioned: false };
    for ((sub, file, what), answer) in DOCUMENTS.iter().zip(answers) {
        let mut item = Item::new(RawName::text(&format!("?{sub}")), vec![RawName::text(file)], Kind::Config);
        item.area = Area::Config;
        item.content_type = Some(content_type(file).into());
        match answer {
            Ok(Answer::Other) => {
                item.has_body = false;
                item.skip = Some(Skip::Excluded(format!(
                    "the server does not implement the {what} (it answered {sub} with another document)"
                )));
            }
            Ok(Answer::Document(bytes)) => {
                if *sub == "versioning" {
                    config.versioned = versioning_enabled(&bytes)?;
                }
                item.set_inline(bytes);
            }
            Err(failure) if failure.code == "NoSuchBucket" => return Err(failure.error),
            Err(failure) => {
                item.has_body = false;
                item.skip = Some(absent_or_failed(what, failure.status, &failure.code, failure.error));
            }
        }
        config.items.push(item);
    }
    Ok(config)
}

/// Reads the document of a configuration item again. The engine archives the bytes listed
/// with it and does not open it; this serves any other holder of the item.
pub async fn read(client: &Client, bucket: &str, item: &Item) -> Result<Body> {
    let sub = item.id.display();
    let Some(document) = DOCUMENTS.iter().find(|(name, _, _)| sub.strip_prefix('?') == Some(name)) else {
        return Err(Error::new(
            ErrorKind::NotFound,
            format!("{sub} is not a configuration document of bucket {bucket}"),
        ));
    };
    let (_, file, what) = document;
    match ask(client, bucket, document).await.map_err(|failure| failure.error)? {
        Answer::Document(bytes) => Ok(Body::from_bytes(bytes, Some(content_type(file)))),
        Answer::Other => Err(Error::new(
            ErrorKind::Unsupported,
            format!(
                "the server does not implement the {what} of bucket {bucket} (it answered {sub} with another document)"
            ),
        )),
    }
}

/// Asks for one document, retried on its own.
async fn ask(client: &Client, bucket: &str, document: &'static Document) -> Result<Answer, Failure> {
    let (sub, file, what) = document;
    let request = Request { bucket: Some(bucket), query: vec![(*sub, String::new())], ..Default::default() };
    let described = format!("the {what} of bucket {bucket}");
    client
        .retried(&described, || async {
            let response = client.send_checked(&request).await?;
            let bytes = read_capped(response, MAX_DOCUMENT).await.map_err(|e| e.context(&described))?;
            Ok(classify(bytes, sub, file, &described)?)
        })
        .await
}

/// The policy is JSON, every other document XML.
fn content_type(file: &str) -> &'static str {
    if file.ends_with(".json") { "application/json" } else { "application/xml" }
}

/// Tells a document from another answer and from a damaged one. A server that ignores a
/// sub-resource it does not know answers with something else (moto: the bucket's object
/// listing; nothing at all; more than any configuration), which must not be archived as
/// configuration; an answer that is neither (cut, or damaged in its markup) is a temporary
/// error, asked again, and never taken to mean "not implemented". Root element names are
/// not compared otherwise: implementations differ (moto answers
/// `GetBucketVersioningResponse` where AWS answers `VersioningConfiguration`).
fn classify(bytes: Option<Bytes>, sub: &str, file: &str, described: &str) -> Result<Answer> {
    let Some(bytes) = bytes.filter(|b| !b.trim_ascii().is_empty()) else { return Ok(Answer::Other) };
    let text = String::from_utf8_lossy(&bytes);
    let xml = xml::root_element(&text).filter(|_| xml::well_formed(&text));
    let answer = match (file.ends_with(".json"), xml) {
        (true, _) if serde_json::from_slice::<serde_json::Value>(&bytes).is_ok_and(|v| v.is_object()) => {
            Some(Answer::Document(bytes))
        }
        (true, Some(_)) | (false, Some("ListBucketResult" | "ListVersionsResult")) => Some(Answer::Other),
        (false, Some(_)) if sub != "versioning" || versioning_enabled(&bytes).is_ok() => Some(Answer::Document(bytes)),
        _ => None,
    };
    answer.ok_or_else(|| {
        Error::new(ErrorKind::Unavailable, format!("{described}: the answer is damaged (not a well-formed document)"))
            .temporary()
    })
}

fn versioning_enabled(bytes: &[u8]) -> Result<bool> {
    let text = String::from_utf8_lossy(bytes);
    let versioning: VersioningConfiguration = xml::parse("the versioning configuration", &text)?;
    Ok(versioning.status.is_some_and(|s| s == "Enabled" || s == "Suspended"))
}

/// A configuration the bucket does not have, or the server does not implement, is a fact
/// about the bucket, not a failure; anything else (access denied) leaves the export
/// incomplete.
fn absent_or_failed(what: &str, status: Option<StatusCode>, code: &str, error: Error) -> Skip {
    match status.map_or(0, |s| s.as_u16()) {
        404 => Skip::Excluded(format!("the bucket has no {what} ({code})")),
        501 | 405 => Skip::Excluded(format!("the server does not implement the {what} ({code})")),
        _ if code == "NotImplemented" => Skip::Excluded(format!("the server does not implement the {what} ({code})")),
        _ => Skip::Failed(error.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(body: &str, sub: &str, file: &str) -> Result<Answer> {
        classify(Some(Bytes::from(body.to_owned())), sub, file, "the test document")
    }

    #[test]
    fn documents_other_answers_and_damaged_ones_are_told_apart() {
        let cors = "<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin></CORSRule></CORSConfiguration>";
        assert!(matches!(answer(cors, "cors", "cors.xml"), Ok(Answer::Document(_))));
        assert!(matches!(
            answer("<ListBucketResult><Name>b</Name></ListBucketResult>", "website", "website.xml"),
            Ok(Answer::Other)
        ));
        assert!(matches!(classify(None, "cors", "cors.xml", "x"), Ok(Answer::Other)), "longer than any document");
        assert!(matches!(answer("", "cors", "cors.xml"), Ok(Answer::Other)));
        assert!(matches!(answer(r#"{"Version":"2012-10-17"}"#, "policy", "policy.json"), Ok(Answer::Document(_))));
        // Damaged on the way: temporary, never "not implemented".
        for damaged in [&cors[..40], &cors.replacen('<', "=", 1), &cors.replacen("</CORSRule>", "</CORSRulf>", 1)] {
            let error = answer(damaged, "cors", "cors.xml").expect_err(damaged);
            assert!(error.is_temporary() && error.to_string().contains("damaged"), "{error}");
        }
        assert!(answer(r#"z"Version":1}"#, "policy", "policy.json").unwrap_err().is_temporary());
        let versioning = "<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>";
        assert!(versioning_enabled(versioning.as_bytes()).unwrap());
    }
}
