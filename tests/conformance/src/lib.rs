//! The conformance suite every provider runs against a source its test seeded (as rclone's
//! `fstest` does for every backend): the engine relies on these properties, so a provider
//! that breaks one produces archives that cannot be trusted.
//!
//! A provider's test calls [`check`] with the provider and what the source holds; each
//! violated property panics with a message naming the item.
#![deny(missing_docs)]

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use futures_util::StreamExt;
use md5::{Digest, Md5};
use sortie_core::ErrorKind;
use sortie_core::item::{Area, Item, Kind, RawName};
use sortie_core::provider::Provider;

/// What the seeded source holds, for the suite to compare with.
pub struct Expected<'a> {
    /// The bytes of every item with a body, by identifier (of an unversioned source: versions
    /// share their object's identifier).
    pub bodies: BTreeMap<Vec<u8>, Vec<u8>>,
    /// Strings that must never appear in what the provider shows (secrets, tokens).
    pub secrets: &'a [&'a str],
    /// An item that does not exist at the source, built as the provider would list it;
    /// opening it must fail with [`ErrorKind::NotFound`].
    pub missing: Item,
}

/// Runs every check. Returns the listed items for provider-specific assertions.
pub async fn check(provider: Arc<dyn Provider>, expected: Expected<'_>) -> Vec<Item> {
    provider.check().await.unwrap_or_else(|e| panic!("check() failed on a reachable source: {e}"));
    for secret in expected.secrets {
        assert!(!provider.display_url().contains(secret), "display_url shows a secret");
        assert!(!provider.source_id().contains(secret), "source_id shows a secret");
    }
    let items = list_everything(provider.as_ref()).await;
    paths_are_unique(&items);
    bodies_match(provider.as_ref(), &items, &expected).await;
    every_body_was_listed(&items, &expected);
    missing_item_is_not_found(provider.as_ref(), &expected.missing).await;
    items
}

/// Lists to the end, checking that asking for a cursor again returns the same page.
async fn list_everything(provider: &dyn Provider) -> Vec<Item> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    let mut seen_cursors = HashSet::new();
    loop {
        let page = provider.list_page(cursor.clone()).await.unwrap_or_else(|e| panic!("list_page({cursor:?}): {e}"));
        if cursor.is_some() {
            let again = provider.list_page(cursor.clone()).await.unwrap_or_else(|e| panic!("list_page again: {e}"));
            let ids = |items: &[Item]| items.iter().map(|i| i.id.clone()).collect::<Vec<_>>();
            assert_eq!(ids(&again.items), ids(&page.items), "the same cursor gave another page: {cursor:?}");
        }
        items.extend(page.items);
        match page.next {
            Some(next) => {
                assert!(seen_cursors.insert(next.clone()), "the listing loops: cursor {next:?} came twice");
                cursor = Some(next);
            }
            None => return items,
        }
    }
}

/// Two items never share a place in the archive.
fn paths_are_unique(items: &[Item]) {
    let mut seen = HashSet::new();
    for item in items {
        if item.area == Area::Content {
            assert!(!item.segments.is_empty(), "{}: content item without a path", item.id.display());
        }
        let area = match item.area {
            Area::Content => 0,
            Area::Config => 1,
            Area::Versions => 2,
        };
        let place = (area, item.segments.clone(), item.version.clone());
        assert!(seen.insert(place), "{}: two items at the same path", item.id.display());
    }
}

/// Every body has exactly the listed and announced length, the seeded bytes, and the
/// announced MD5 when there is one.
async fn bodies_match(provider: &dyn Provider, items: &[Item], expected: &Expected<'_>) {
    for item in items.iter().filter(|i| i.has_body && i.skip.is_none()) {
        let name = item.id.display();
        let body = provider.open(item).await.unwrap_or_else(|e| panic!("{name}: open: {e}"));
        let announced = body.size;
        let checksum = body.checksum.clone().or_else(|| item.checksum.clone());
        let mut bytes = Vec::new();
        let mut stream = body.stream;
        while let Some(chunk) = stream.next().await {
            bytes.extend_from_slice(&chunk.unwrap_or_else(|e| panic!("{name}: body: {e}")));
        }
        if let Some(size) = announced {
            assert_eq!(bytes.len() as u64, size, "{name}: body length differs from the announced size");
        }
        if let Some(size) = item.size {
            assert_eq!(bytes.len() as u64, size, "{name}: body length differs from the listed size");
        }
        if let Some(md5) = checksum.and_then(|c| c.md5) {
            assert_eq!(hex::encode(Md5::digest(&bytes)), md5, "{name}: body differs from its announced MD5");
        }
        if let Some(seeded) = expected.bodies.get(&item.id.0) {
            assert!(&bytes == seeded, "{name}: body differs from what the test seeded");
        }
    }
}

/// Nothing the test seeded is missing from the listing.
fn every_body_was_listed(items: &[Item], expected: &Expected<'_>) {
    let listed: HashSet<&RawName> =
        items.iter().filter(|i| i.has_body && i.kind != Kind::Directory).map(|i| &i.id).collect();
    for id in expected.bodies.keys() {
        assert!(listed.contains(&RawName(id.clone())), "{}: seeded but not listed", String::from_utf8_lossy(id));
    }
}

async fn missing_item_is_not_found(provider: &dyn Provider, missing: &Item) {
    match provider.open(missing).await {
        Ok(_) => panic!("{}: opening an item that does not exist succeeded", missing.id.display()),
        Err(e) => assert_eq!(e.kind(), ErrorKind::NotFound, "{}: {e}", missing.id.display()),
    }
}
