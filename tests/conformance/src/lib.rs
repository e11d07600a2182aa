//! The conformance suite every provider runs against a source its test seeded (as rclone's
//! `fstest` does for every backend): the engine relies on these properties, so a provider
//! that breaks one produces archives that cannot be trusted.
//!
//! A provider's test calls [`check`] with its factory, a source it seeded and what the
//! source holds; each violated property panics with a message naming the item.
#![deny(missing_docs)]

use std::collections::{BTreeMap, HashSet};

use futures_util::StreamExt;
use md5::{Digest, Md5};
use sortie_sdk::ErrorKind;
use sortie_sdk::item::{Area, Item, Kind, RawName};
use sortie_sdk::provider::Provider;
use sortie_sdk::registry::{Context, ProviderFactory};
use sortie_sdk::source::SourceSpec;

/// What the seeded source holds, for the suite to compare with.
pub struct Expected<'a> {
    /// The bytes of every item with a body, by identifier (of an unversioned source: versions
    /// share their object's identifier).
    pub bodies: BTreeMap<Vec<u8>, Vec<u8>>,
    /// Strings that must never appear in what the provider shows (secrets, tokens): its
    /// source descriptions in any rendering, its errors.
    pub secrets: &'a [&'a str],
    /// An item that does not exist at the source, built as the provider would list it;
    /// opening it must fail with [`ErrorKind::NotFound`].
    pub missing: Item,
}

/// Runs every check on `source` (a source as the factory describes it from what the user
/// wrote), resolved and opened by `factory` as the engine would. Returns the listed items of
/// every resolved source, for provider-specific assertions.
pub async fn check(factory: &dyn ProviderFactory, source: SourceSpec, expected: Expected<'_>) -> Vec<Item> {
    let context = Context::default();
    shows_no_secret(&source, expected.secrets);
    let resolved = factory.resolve(&source, &context).await.unwrap_or_else(|e| panic!("resolve({}): {e}", source.url));
    assert!(!resolved.is_empty(), "{} resolved to no source at all", source.url);
    factory.check_plan(&resolved).unwrap_or_else(|e| panic!("the plan {} resolved to is refused: {e}", source.url));
    let mut items = Vec::new();
    let mut readers = Vec::new();
    // In reverse order, each from its description read back from JSON (as from a plan, the
    // secrets given again), listed by one provider and read by another that never listed:
    // a resolved source stands alone, and an item is all `open` needs.
    for spec in resolved.iter().rev() {
        shows_no_secret(spec, expected.secrets);
        let mut planned = round_trips_as_json(spec);
        planned.settings = planned.settings.overridden_by(&spec.settings.secrets());
        let open = || factory.open(&planned, &context).unwrap_or_else(|e| panic!("open({}): {e}", spec.url));
        let lister = open();
        lister.check().await.unwrap_or_else(|e| panic!("check() failed on a reachable source {}: {e}", spec.url));
        let listed = list_everything(lister.as_ref()).await;
        if lister.capabilities().flat_namespace {
            listed_in_byte_order(&listed);
        }
        paths_are_unique(&listed);
        let reader = open();
        bodies_match(reader.as_ref(), &listed, &expected).await;
        items.extend(listed);
        readers.push(reader);
    }
    every_body_was_listed(&items, &expected);
    let reader = readers.last().expect("at least one source");
    missing_item_is_not_found(reader.as_ref(), &expected.missing, expected.secrets).await;
    items
}

/// A description shows no secret, in JSON (a plan) or in `Debug` (a log line).
fn shows_no_secret(spec: &SourceSpec, secrets: &[&str]) {
    let json = serde_json::to_string(spec).expect("a source description serializes");
    let debug = format!("{spec:?}");
    for secret in secrets {
        for (rendering, text) in [("JSON", &json), ("Debug", &debug), ("url", &spec.url), ("id", &spec.id)] {
            assert!(!text.contains(secret), "the {rendering} of source {} shows a secret", spec.url);
        }
    }
}

/// A resolved source survives a plan: printed as JSON and read back, it is the same source
/// (secrets aside). Returns it as read back.
fn round_trips_as_json(spec: &SourceSpec) -> SourceSpec {
    let json = serde_json::to_string(spec).expect("a source description serializes");
    let back: SourceSpec = serde_json::from_str(&json).expect("a printed source description reads back");
    assert_eq!(
        serde_json::to_value(&back).unwrap(),
        serde_json::to_value(spec).unwrap(),
        "{}: the description changed through JSON",
        spec.url
    );
    back
}

/// A flat namespace lists keys in byte order (versions after their key), which the
/// engine's leaf-and-directory detection relies on; configuration documents aside.
fn listed_in_byte_order(items: &[Item]) {
    let keys: Vec<&RawName> = items.iter().filter(|i| i.area != Area::Config).map(|i| &i.id).collect();
    for pair in keys.windows(2) {
        assert!(pair[0] <= pair[1], "{} is listed before {}: not in byte order", pair[0].display(), pair[1].display());
    }
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
/// announced MD5 when there is one; opening an item a second time gives the same bytes (the
/// engine opens again for every retry, a resumed export in another process).
async fn bodies_match(provider: &dyn Provider, items: &[Item], expected: &Expected<'_>) {
    for item in items.iter().filter(|i| i.has_body && i.skip.is_none()) {
        let name = item.id.display();
        let bytes = read(provider, item).await;
        if item.inline.is_none() {
            assert!(read(provider, item).await == bytes, "{name}: a second open gave other bytes");
        }
        if let Some(seeded) = expected.bodies.get(&item.id.0) {
            assert!(&bytes == seeded, "{name}: body differs from what the test seeded");
        }
    }
}

/// An item's bytes as the engine gets them (inline, or opened), checked against every
/// length and MD5 announced.
async fn read(provider: &dyn Provider, item: &Item) -> Vec<u8> {
    let name = item.id.display();
    if let Some(inline) = &item.inline {
        assert_eq!(Some(inline.len() as u64), item.size, "{name}: inline bytes differ from the listed size");
        return inline.to_vec();
    }
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
    bytes
}

/// Nothing the test seeded is missing from the listing.
fn every_body_was_listed(items: &[Item], expected: &Expected<'_>) {
    let listed: HashSet<&RawName> =
        items.iter().filter(|i| i.has_body && i.kind != Kind::Directory).map(|i| &i.id).collect();
    for id in expected.bodies.keys() {
        assert!(listed.contains(&RawName(id.clone())), "{}: seeded but not listed", String::from_utf8_lossy(id));
    }
}

async fn missing_item_is_not_found(provider: &dyn Provider, missing: &Item, secrets: &[&str]) {
    match provider.open(missing).await {
        Ok(_) => panic!("{}: opening an item that does not exist succeeded", missing.id.display()),
        Err(e) => {
            assert_eq!(e.kind(), ErrorKind::NotFound, "{}: {e}", missing.id.display());
            let json = serde_json::to_string(&e).expect("errors serialize");
            for secret in secrets {
                assert!(!e.to_string().contains(secret) && !json.contains(secret), "an error shows a secret: {e}");
            }
        }
    }
}
