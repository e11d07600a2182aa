//! The shared provider conformance suite, against generated sources.

use std::collections::BTreeMap;

use futures_util::StreamExt;
use sortie_conformance::{Expected, check};
use sortie_plugin_memory::MemoryFactory;
use sortie_sdk::item::{Item, Kind, RawName};
use sortie_sdk::provider::Provider;
use sortie_sdk::registry::{Context, ProviderFactory};
use sortie_sdk::settings::Settings;
use sortie_sdk::source::SourceSpec;

fn source(url: &str, sets: &[(&str, &str)]) -> SourceSpec {
    let info = MemoryFactory.info();
    let mut settings = Settings::new();
    for (name, value) in sets {
        settings.set(info.setting(name).unwrap(), value).unwrap();
    }
    MemoryFactory.source(url, settings).unwrap()
}

async fn read(provider: &dyn Provider, item: &Item) -> Vec<u8> {
    let mut body = provider.open(item).await.unwrap().stream;
    let mut bytes = Vec::new();
    while let Some(chunk) = body.next().await {
        bytes.extend_from_slice(&chunk.unwrap());
    }
    bytes
}

/// Every body of `spec`, read by a provider opened from the description as printed in a
/// plan: what another process would see.
async fn bodies_elsewhere(spec: &SourceSpec) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let printed: SourceSpec = serde_json::from_str(&serde_json::to_string(spec).unwrap()).unwrap();
    let provider = MemoryFactory.open(&printed, &Context::default()).unwrap();
    let mut bodies = BTreeMap::new();
    let mut cursor = None;
    loop {
        let page = provider.list_page(cursor).await.unwrap();
        for item in &page.items {
            bodies.insert(item.id.0.clone(), read(provider.as_ref(), item).await);
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => return bodies,
        }
    }
}

fn missing() -> Item {
    Item::new(
        RawName::text("part-999/item-999999"),
        vec![RawName::text("part-999"), RawName::text("item-999999")],
        Kind::Object,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flat_source_with_checksums_over_several_pages_conforms() {
    let spec =
        source("memory://conformance", &[("items", "2500"), ("size", "100"), ("flat", "true"), ("with_md5", "true")]);
    let bodies = bodies_elsewhere(&spec).await;
    assert_eq!(bodies.len(), 2500);
    let items = check(&MemoryFactory, spec, Expected { bodies, secrets: &[], missing: missing() }).await;
    assert_eq!(items.len(), 2500);
    assert!(items.iter().all(|i| i.checksum.as_ref().is_some_and(|c| c.md5.is_some())), "every MD5 is announced");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_of_large_items_in_small_pages_conforms() {
    let spec = source("memory://large", &[("items", "9"), ("size", "300000"), ("page_size", "4"), ("seed", "7")]);
    let bodies = bodies_elsewhere(&spec).await;
    assert!(bodies.values().all(|b| b.len() == 300_000));
    let items = check(&MemoryFactory, spec, Expected { bodies, secrets: &[], missing: missing() }).await;
    assert_eq!(items.len(), 9);
}
