//! A bucket's configuration, one document per sub-resource, archived under the source's
//! `_config/` area as served (XML, or JSON for the policy).

use bytes::Bytes;
use futures_util::future::join_all;
use reqwest::StatusCode;
use sortie_core::error::{Error, Result};
use sortie_core::item::{Area, Item, Kind, RawName, Skip};

use crate::client::{Client, Request, read_capped};
use crate::xml::{self, VersioningConfiguration};

/// Sub-resource, file name, and what it is in words.
const DOCUMENTS: &[(&str, &str, &str)] = &[
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
/// rules); a longer answer is not one and is treated as not implemented.
const MAX_DOCUMENT: usize = 4 * 1024 * 1024;

/// The configuration documents, as items (absent ones excluded with the reason) and the
/// bodies of those present, which `open` serves without asking again.
pub struct BucketConfig {
    pub items: Vec<Item>,
    pub bodies: Vec<(String, Bytes)>,
    /// Versioning is or was enabled: the bucket may hold earlier versions.
    pub versioned: bool,
}

pub async fn fetch(client: &Client, bucket: &str) -> Result<BucketConfig> {
    let answers = join_all(DOCUMENTS.iter().map(|(sub, _, _)| async move {
        let request = Request { bucket: Some(bucket), query: vec![(*sub, String::new())], ..Default::default() };
        match client.send_checked(&request).await {
            Ok(response) => {
                let bytes = read_capped(response, MAX_DOCUMENT)
                    .await
                    .map_err(|e| e.context(format!("the {sub} configuration of bucket {bucket}")))?;
                Ok(Ok(bytes.unwrap_or_default()))
            }
            Err(failure) if failure.error.is_temporary() || failure.code == "NoSuchBucket" => Err(failure.error),
            Err(failure) => Ok(Err(failure)),
        }
    }))
    .await;

    let mut config = BucketConfig { items: Vec::new(), bodies: Vec::new(), versioned: false };
    for ((sub, file, what), answer) in DOCUMENTS.iter().zip(answers) {
        let mut item = Item::new(RawName::text(&format!("?{sub}")), vec![RawName::text(file)], Kind::Config);
        item.area = Area::Config;
        item.content_type = Some(if file.ends_with(".json") { "application/json" } else { "application/xml" }.into());
        match answer? {
            Ok(bytes) if !is_document(&bytes, file) => {
                item.has_body = false;
                item.skip = Some(Skip::Excluded(format!(
                    "the server does not implement the {what} (it answered {sub} with another document)"
                )));
            }
            Ok(bytes) => {
                if *sub == "versioning" {
                    let text = String::from_utf8_lossy(&bytes);
                    let versioning: VersioningConfiguration = xml::parse("the versioning configuration", &text)?;
                    config.versioned = versioning.status.is_some_and(|s| s == "Enabled" || s == "Suspended");
                }
                item.size = Some(bytes.len() as u64);
                config.bodies.push((file.to_string(), bytes));
            }
            Err(failure) => {
                item.has_body = false;
                item.skip = Some(absent_or_failed(what, failure.status, &failure.code, failure.error));
            }
        }
        config.items.push(item);
    }
    Ok(config)
}

/// A server that ignores a sub-resource it does not know answers with something else
/// (moto: the bucket's object listing), which must not be archived as configuration. Root
/// element names are not compared otherwise: implementations differ (moto answers
/// `GetBucketVersioningResponse` where AWS answers `VersioningConfiguration`).
fn is_document(bytes: &[u8], file: &str) -> bool {
    let text = String::from_utf8_lossy(bytes);
    if file.ends_with(".json") {
        return text.trim_start().starts_with('{');
    }
    xml::root_element(&text).is_some_and(|root| root != "ListBucketResult" && root != "ListVersionsResult")
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
