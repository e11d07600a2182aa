//! One resource's bytes by GET, for what a multiget did not bring (too large to travel
//! inline, or a server without REPORT): streamed, with the length the server announces,
//! which the engine checks, so that a body cut short is retried, never archived.

use futures_util::StreamExt;
use reqwest::StatusCode;
use sortie_sdk::item::Item;
use sortie_sdk::provider::Body;
use sortie_sdk::{Error, ErrorKind, Result};

use crate::client::Client;

pub async fn open(client: &Client, item: &Item) -> Result<Body> {
    let href = item.locator.as_deref().ok_or_else(|| {
        Error::new(ErrorKind::InvalidInput, format!("{} has no locator: list it again", item.id.display()))
    })?;
    let answer = client.send("GET", href, None, None).await?;
    if answer.status == StatusCode::NOT_FOUND || answer.status == StatusCode::GONE {
        return Err(Error::new(
            ErrorKind::NotFound,
            format!("{} no longer exists at the server ({})", client.url(href), answer.status),
        ));
    }
    if answer.status != StatusCode::OK {
        return Err(client.refused(&format!("GET {href}"), answer).await);
    }
    let response = answer.response;
    let headers = response.headers();
    let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let modified = sortie_http::last_modified(headers);
    let url = client.url(href);
    let size = response.content_length();
    let stream =
        response.bytes_stream().map(move |chunk| chunk.map_err(|e| sortie_http::transport_error(&url, &e))).boxed();
    let mut body = Body::streaming(size, stream);
    body.content_type = content_type;
    body.modified = modified;
    Ok(body)
}
