//! Cinder: volumes and snapshots, one JSON record each; with `include_volume_data`, every
//! available or attached volume's data too. Cinder copies it into a temporary Glance image
//! (`os-volume_upload_image`), whose data is then downloaded and checked like any image's,
//! and the temporary image deleted.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use reqwest::Method;
use serde_json::{Value, json};
use sortie_sdk::error::{Error, ErrorKind, Result};
use sortie_sdk::item::{Item, Kind, RawName, Skip};
use sortie_sdk::provider::Body;

use super::{Collection, Locator, POLL, api_base, glance, read_json};
use crate::client::{Client, segment};

/// What it lists, in this order.
pub(super) const COLLECTIONS: &[Collection] = &[
    Collection {
        service: "Cinder",
        kinds: &["block-storage", "volumev3", "volumev2", "volume"],
        root: "",
        list: "/volumes/detail",
        key: "volumes",
        inner: None,
        id: "id",
        owner: None,
        dir: "cinder/volumes",
    },
    Collection {
        service: "Cinder",
        kinds: &["block-storage", "volumev3", "volumev2", "volume"],
        root: "",
        list: "/snapshots/detail",
        key: "snapshots",
        inner: None,
        id: "id",
        owner: None,
        dir: "cinder/snapshots",
    },
];

/// A volume's data, `cinder/volumes/ID.raw`, read through a temporary Glance image.
pub(super) fn data_item(id: &str, volume: &Value) -> Item {
    let segments = vec![RawName::text("cinder"), RawName::text("volumes"), RawName::text(&format!("{id}.raw"))];
    let mut item = Item::new(RawName::text(&format!("cinder/volumes/{id}/data")), segments, Kind::Image);
    item.content_type = Some("application/octet-stream".into());
    item.locator = Some(Locator::VolumeData { volume_id: id.to_owned() }.to_json());
    match volume["status"].as_str().unwrap_or("unknown") {
        "available" | "in-use" => {}
        status => {
            item.skip = Some(Skip::Failed(format!(
                "the volume is {status}: Cinder copies the data of available or attached volumes only"
            )));
        }
    }
    item
}

/// How long Cinder may take to copy a volume into an image.
const UPLOAD_TIMEOUT: Duration = Duration::from_secs(6 * 3600);

/// A temporary image made from a volume: deleted once read, or when dropped unread.
struct TempImage {
    client: Arc<Client>,
    url: String,
    armed: bool,
}

impl TempImage {
    async fn delete(mut self) {
        self.armed = false;
        if let Err(e) = self.client.call(Method::DELETE, &self.url, None, &[], "the temporary image").await {
            tracing::warn!("could not delete the temporary image {}: {e}", self.url);
        }
    }
}

impl Drop for TempImage {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let (client, url) = (self.client.clone(), self.url.clone());
            runtime.spawn(async move {
                let _ = client.call(Method::DELETE, &url, None, &[], "the temporary image").await;
            });
        }
    }
}

/// Has Cinder (at `base`) copy a volume into a temporary image, waits for it, and streams
/// its data.
pub(super) async fn open_data(client: &Arc<Client>, item: &Item, base: &str, volume: &str) -> Result<Body> {
    let glance = client.service_url(&["image"]).await?.ok_or_else(|| {
        Error::new(ErrorKind::Unsupported, "reading a volume's data needs Glance, which this catalog does not offer")
    })?;
    let glance = api_base(&glance, "/v2");
    let what = format!("the copy of volume {volume} into an image");
    let request = json!({ "os-volume_upload_image": {
        "image_name": format!("sortie-export-{volume}"), "force": true,
        "disk_format": "raw", "container_format": "bare" } });
    let action = format!("{base}/volumes/{}/action", segment(volume));
    let answer = client.call(Method::POST, &action, Some(&request), &[], &what).await?;
    let answer = read_json(answer, &what).await?;
    let image = answer["os-volume_upload_image"]["image_id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| Error::new(ErrorKind::Other, format!("{what}: Cinder's answer names no image_id")))?;
    let temp = TempImage { client: client.clone(), url: format!("{glance}/images/{}", segment(&image)), armed: true };
    let started = Instant::now();
    let described = loop {
        let response = client.get(&temp.url, &[], &what).await?;
        let described = read_json(response, &what).await?;
        match described["status"].as_str().unwrap_or_default() {
            "active" => break described,
            "killed" | "deleted" | "pending_delete" | "deactivated" => {
                return Err(Error::new(
                    ErrorKind::Other,
                    format!("{what} failed: the image is {}", described["status"]),
                ));
            }
            _ if started.elapsed() > UPLOAD_TIMEOUT => {
                return Err(Error::new(ErrorKind::Unavailable, format!("{what} did not finish in 6 hours")));
            }
            _ => tokio::time::sleep(POLL).await,
        }
    };
    let checksum = glance::checksum(&described);
    let response = client.get(&format!("{}/file", temp.url), &[], &what).await?;
    let size = response.content_length();
    let name = item.id.display();
    // The image goes once its last byte has been read.
    let cleanup = futures_util::stream::once(temp.delete()).filter_map(|()| async { None });
    let stream = response
        .bytes_stream()
        .map(move |chunk| {
            chunk.map_err(|e| Error::new(ErrorKind::Unavailable, format!("reading {name} broke off: {e}")).temporary())
        })
        .chain(cleanup)
        .boxed();
    let mut body = Body::streaming(size, stream);
    body.checksum = checksum;
    // The image exists for this stream only.
    body.single_stream = true;
    Ok(body)
}
