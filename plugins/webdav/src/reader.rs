//! Reading one file: a GET of the URL the listing gave, streamed, with the checksum the
//! response (`OC-Checksum`) or the listing (`oc:checksums`) announced checked.

use futures_util::StreamExt;
use reqwest::Url;
use sortie_sdk::item::Item;
use sortie_sdk::provider::Body;
use sortie_sdk::{Error, ErrorKind, Result};

use crate::checksum::{self, Checksums};
use crate::client::Client;
use crate::source::SEGMENT;

/// Opens a listed file.
pub async fn open(client: &Client, item: &Item) -> Result<Body> {
    let name = item.id.display();
    let url = url_of(client, item)?;
    let what = format!("file '{name}'");
    let response = client.get(&url, &what).await.map_err(|error| match error.kind() {
        ErrorKind::NotFound => Error::new(
            ErrorKind::NotFound,
            format!("{what} no longer exists at the server: deleted since it was listed"),
        ),
        _ => error,
    })?;
    let headers = response.headers();
    let served = headers.get("oc-checksum").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let (served, sums) = match served.map(|s| (Checksums::parse(&s), s)) {
        Some((sums, served)) if !sums.is_empty() => (served, sums),
        _ => match &item.checksum {
            Some(listed) => (listed.served.clone(), Checksums::parse(&listed.served)),
            None => (String::new(), Checksums::default()),
        },
    };
    let size = response.content_length();
    // If-Match compares strongly: a weak ETag (`W/"…"`) would refuse every range.
    let validator =
        headers.get("etag").and_then(|v| v.to_str().ok()).filter(|etag| !etag.starts_with("W/")).map(str::to_owned);
    let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let modified = sortie_http::last_modified(headers);
    let mut offset = 0u64;
    let broken = name.clone();
    let stream = response
        .bytes_stream()
        .map(move |chunk| match chunk {
            Ok(bytes) => {
                offset += bytes.len() as u64;
                Ok(bytes)
            }
            Err(e) => Err(Error::new(
                ErrorKind::Unavailable,
                format!("reading file '{broken}' broke off after {offset} bytes: {e}"),
            )
            .temporary()),
        })
        .boxed();
    let mut body = Body::streaming(size, checksum::verified(stream, &sums, name));
    if !sums.is_empty() {
        body.checksum = Some(sums.provider_checksum(&served));
    }
    if let Some(algorithm) = sums.checked_here() {
        // Archived only when it matched: a mismatch fails the body at its end. Checked here
        // on this one stream, which must then be read whole, not in ranges.
        body.meta.insert("checksum_verified".into(), algorithm.into());
        body.single_stream = true;
    }
    body.content_type = content_type;
    body.modified = modified;
    body.validator = validator;
    Ok(body)
}

/// Bytes `range` of a listed file that [`open`] opened, its ETag as `validator`.
pub async fn open_range(
    client: &Client,
    item: &Item,
    range: std::ops::Range<u64>,
    validator: Option<&str>,
) -> Result<Body> {
    let url = url_of(client, item)?;
    client.get_range(&url, &range, validator, &format!("file '{}'", item.id.display())).await
}

/// The URL the listing gave, or, for an item built without one, its path under the root.
fn url_of(client: &Client, item: &Item) -> Result<Url> {
    if let Some(locator) = &item.locator {
        let url = Url::parse(locator).map_err(|e| {
            Error::new(ErrorKind::InvalidInput, format!("'{locator}' is not a locator of the webdav provider: {e}"))
        })?;
        // The credentials go with the request: never to another host than the root's.
        if url.origin() != client.root.origin() {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!("'{locator}' is not on the server of {}: not fetched", client.root),
            ));
        }
        return Ok(url);
    }
    let encoded: Vec<String> =
        item.segments.iter().map(|s| percent_encoding::percent_encode(&s.0, SEGMENT).to_string()).collect();
    client.root.join(&encoded.join("/")).map_err(|e| {
        Error::new(ErrorKind::InvalidInput, format!("file '{}' has no URL under the root: {e}", item.id.display()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::Auth;
    use sortie_sdk::item::{Kind, RawName};
    use sortie_sdk::settings::Secret;

    #[tokio::test]
    async fn a_locator_on_another_host_is_never_fetched() {
        let auth = Auth::Basic { user: "alice".into(), password: Secret::new("hunter2") };
        let root = Url::parse("http://127.0.0.1:9/dav/").unwrap();
        let client = Client::new(root, auth, Some("alice".into()), None).unwrap();
        let mut item = Item::new(RawName::text("x"), vec![RawName::text("x")], Kind::File);
        item.locator = Some("http://127.0.0.2:9/dav/x".into());
        let error = open(&client, &item).await.err().expect("refused").to_string();
        assert!(error.contains("is not on the server of http://127.0.0.1:9/dav/"), "{error}");
    }
}
