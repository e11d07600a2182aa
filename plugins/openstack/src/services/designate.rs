//! Designate: the zones, each as its JSON record and as a BIND file from a zone export.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
use sortie_sdk::error::{Error, ErrorKind, Result};
use sortie_sdk::item::{Item, Kind, RawName};
use sortie_sdk::provider::Body;

use super::{Collection, Locator, POLL, read, read_json};
use crate::client::{Client, segment};

/// What it lists.
pub(super) const COLLECTIONS: &[Collection] = &[Collection {
    service: "Designate",
    kinds: &["dns"],
    root: "/v2",
    list: "/zones",
    key: "zones",
    inner: None,
    id: "id",
    owner: None,
    dir: "designate/zones",
}];

/// A zone's BIND file, `designate/zones/ID.zone`, from Designate's zone export.
pub(super) fn zone_file_item(id: &str, zone: &Value) -> Item {
    let segments = vec![RawName::text("designate"), RawName::text("zones"), RawName::text(&format!("{id}.zone"))];
    let mut item = Item::new(RawName::text(&format!("designate/zones/{id}/export")), segments, Kind::Record);
    item.content_type = Some("text/dns".into());
    item.locator = Some(Locator::ZoneExport { zone_id: id.to_owned() }.to_json());
    if let Some(name) = zone["name"].as_str() {
        item.meta.insert("name".into(), json!(name));
    }
    item
}

/// How long Designate may take to export a zone.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(600);

/// Asks Designate (at `base`) to export a zone as a BIND file, waits for the export, reads
/// it, and deletes the export task.
pub(super) async fn open_zone(client: &Client, item: &Item, base: &str, zone: &str) -> Result<Body> {
    let name = item.meta.get("name").and_then(Value::as_str).unwrap_or_default();
    let what = format!("the export of zone {name}");
    let export = format!("{base}/zones/{}/tasks/export", segment(zone));
    let answer = client.call(Method::POST, &export, Some(&json!({})), &[], &what).await?;
    let task = read_json(answer, &what).await?;
    let id = task["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| Error::new(ErrorKind::Other, format!("{what}: Designate's answer names no export id")))?;
    let task_url = format!("{base}/zones/tasks/exports/{}", segment(&id));
    let started = Instant::now();
    let mut status = task["status"].as_str().unwrap_or_default().to_owned();
    while status != "COMPLETE" {
        if status == "ERROR" || started.elapsed() > EXPORT_TIMEOUT {
            return Err(Error::new(ErrorKind::Unavailable, format!("{what} did not complete (status {status})")));
        }
        tokio::time::sleep(POLL).await;
        let response = client.get(&task_url, &[], &what).await?;
        let task = read_json(response, &what).await?;
        status = task["status"].as_str().unwrap_or_default().to_owned();
    }
    let zone = client.get(&format!("{task_url}/export"), &[("Accept", "text/dns")], &what).await?;
    let bytes = read(zone, &what).await?;
    if let Err(e) = client.call(Method::DELETE, &task_url, None, &[], &what).await {
        tracing::warn!("could not delete {what}'s task: {e}");
    }
    Ok(Body::from_bytes(bytes, Some("text/dns")))
}
