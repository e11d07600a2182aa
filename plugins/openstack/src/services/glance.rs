//! Glance: the images the project owns, each as its record and its data, the data checked
//! against Glance's `checksum` (MD5) and `os_hash_value`.

use futures_util::StreamExt;
use serde_json::Value;
use sortie_sdk::error::{Error, ErrorKind, Result};
use sortie_sdk::item::{Item, Kind, ProviderChecksum, RawName, Skip};
use sortie_sdk::provider::Body;

use super::{Collection, Locator};
use crate::client::{Client, segment};

/// What it lists.
pub(super) const COLLECTIONS: &[Collection] = &[Collection {
    service: "Glance",
    kinds: &["image"],
    root: "/v2",
    list: "/images",
    key: "images",
    inner: None,
    id: "id",
    owner: Some("owner"),
    dir: "glance/images",
}];

/// An image's data, `glance/images/ID.DISK_FORMAT`, checked against Glance's checksums.
pub(super) fn data_item(id: &str, image: &Value) -> Item {
    let format = image["disk_format"].as_str().unwrap_or("data");
    let segments = vec![RawName::text("glance"), RawName::text("images"), RawName::text(&format!("{id}.{format}"))];
    let mut item = Item::new(RawName::text(&format!("glance/images/{id}/file")), segments, Kind::Image);
    item.size = image["size"].as_u64();
    item.content_type = Some("application/octet-stream".into());
    item.locator = Some(Locator::ImageData { image_id: id.to_owned() }.to_json());
    item.checksum = checksum(image);
    match image["status"].as_str().unwrap_or("unknown") {
        "active" => {}
        "deactivated" => {
            item.skip = Some(Skip::Failed(
                "the image is deactivated: Glance refuses to give its data until an administrator reactivates it"
                    .into(),
            ));
        }
        status => {
            item.skip = Some(Skip::Excluded(format!("the image is {status}: it has no data to download")));
        }
    }
    item
}

/// What Glance says of an image's data: its MD5 `checksum`, and `os_hash_value` in the
/// algorithm `os_hash_algo` names.
pub(super) fn checksum(image: &Value) -> Option<ProviderChecksum> {
    let text = |field: &str| image[field].as_str().map(str::to_ascii_lowercase);
    let (algorithm, value) = (text("os_hash_algo"), text("os_hash_value"));
    text("checksum").map(|md5| {
        let mut checksum = ProviderChecksum::md5(md5.clone(), md5);
        checksum.sha256 = value.clone().filter(|_| algorithm.as_deref() == Some("sha256"));
        checksum.sha512 = value.clone().filter(|_| algorithm.as_deref() == Some("sha512"));
        checksum
    })
}

/// Where an image's data is, under Glance's endpoint `base`.
pub(super) fn data_url(base: &str, id: &str) -> String {
    format!("{base}/images/{}/file", segment(id))
}

/// Streams an image's data from `url` (its `/file`).
pub(super) async fn open_data(client: &Client, item: &Item, url: &str) -> Result<Body> {
    let response = client.get(url, &[], &format!("the data of image {}", item.id.display())).await?;
    let size = response.content_length();
    let name = item.id.display();
    let stream = response
        .bytes_stream()
        .map(move |chunk| {
            chunk.map_err(|e| Error::new(ErrorKind::Unavailable, format!("reading {name} broke off: {e}")).temporary())
        })
        .boxed();
    Ok(Body::streaming(size, stream))
}

/// Bytes `range` of an image's data. An active image's data never changes (Glance refuses
/// to upload over it), and its MD5 and sha512 are checked over the reassembled bytes: no
/// validator is needed.
pub(super) async fn open_data_range(
    client: &Client,
    item: &Item,
    url: &str,
    range: std::ops::Range<u64>,
) -> Result<Body> {
    let what = format!("the data of image {}", item.id.display());
    let asked = sortie_http::range_header(&range);
    let response = client.get(url, &[("Range", &asked)], &what).await?;
    sortie_http::ranged_body(response, &range, &what)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn image_data_is_checked_against_glance_checksums_and_status() {
        let image = json!({"id": "i1", "status": "active", "disk_format": "qcow2", "size": 5, "checksum": "ABC",
                           "os_hash_algo": "sha512", "os_hash_value": "DEF"});
        let item = data_item("i1", &image);
        assert_eq!(item.segments.last().unwrap().display(), "i1.qcow2");
        assert_eq!(Locator::from_item(&item).unwrap(), Locator::ImageData { image_id: "i1".into() });
        assert_eq!(data_url("http://g/v2", "../../x"), "http://g/v2/images/..%2F..%2Fx/file", "an id stays an id");
        assert!(item.meta.is_empty(), "no routing key in the inventory: {:?}", item.meta);
        let checksum = item.checksum.unwrap();
        assert_eq!((checksum.md5.as_deref(), checksum.sha512.as_deref()), (Some("abc"), Some("def")));
        assert!(item.skip.is_none());
        let queued = data_item("i2", &json!({"id": "i2", "status": "queued"}));
        assert!(matches!(queued.skip, Some(Skip::Excluded(_))));
        let deactivated = data_item("i3", &json!({"id": "i3", "status": "deactivated"}));
        assert!(matches!(deactivated.skip, Some(Skip::Failed(_))));
    }
}
