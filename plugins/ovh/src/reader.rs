//! Opening an item with bytes of its own: a document a record links to (a bill's PDF).

use futures_util::StreamExt;
use sortie_sdk::item::Item;
use sortie_sdk::provider::Body;
use sortie_sdk::{Error, ErrorKind, Result};

use crate::client::Client;
use crate::lister::Locator;

pub async fn open(client: &Client, item: &Item) -> Result<Body> {
    let name = item.id.display();
    let Some(text) = item.locator.as_deref() else {
        return Err(Error::new(ErrorKind::NotFound, format!("{name} has no document of its own to download")));
    };
    let locator: Locator = serde_json::from_str(text)
        .map_err(|e| Error::new(ErrorKind::Other, format!("{name} cannot be opened: its locator is damaged: {e}")))?;
    let Locator::Linked { url } = locator;
    let what = format!("the document of {name}");
    let response = client.download(&url, &what).await?;
    let size = response.content_length();
    let content_type =
        response.headers().get(reqwest::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let stream = response
        .bytes_stream()
        .map(move |chunk| {
            chunk.map_err(|e| Error::new(ErrorKind::Unavailable, format!("{what} broke off: {e}")).temporary())
        })
        .boxed();
    let mut body = Body::streaming(size, stream);
    body.content_type = content_type;
    Ok(body)
}
