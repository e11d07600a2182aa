//! The shared provider conformance suite, against a real directory tree.

use std::collections::BTreeMap;

use sortie_conformance::{Expected, check};
use sortie_plugin_fs::FsFactory;
use sortie_sdk::item::{Item, Kind, RawName};
use sortie_sdk::registry::ProviderFactory;
use sortie_sdk::settings::Settings;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fs_provider_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let mut bodies = BTreeMap::new();
    // More than one listing page (1,000 items), files of every size class the engine
    // treats differently (empty, small, read at once, streamed), and nested folders.
    for i in 0..1200u32 {
        let id = format!("bulk/{:02}/f{i:04}.txt", i % 7);
        bodies.insert(id.into_bytes(), format!("item {i}\n").into_bytes());
    }
    bodies.insert(b"empty".to_vec(), Vec::new());
    bodies.insert(b"medium.bin".to_vec(), (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect());
    bodies.insert(b"large.bin".to_vec(), (0..3_000_000u32).map(|i| (i * 13 % 253) as u8).collect());
    for (id, content) in &bodies {
        let path = dir.path().join(String::from_utf8_lossy(id).as_ref());
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
    let source = FsFactory.source(dir.path().to_str().unwrap(), Settings::new()).unwrap();
    let missing = Item::new(
        RawName::text("no/such/file"),
        vec![RawName::text("no"), RawName::text("such"), RawName::text("file")],
        Kind::File,
    );

    let items = check(&FsFactory, source, Expected { bodies, secrets: &[], missing }).await;
    assert_eq!(items.iter().filter(|i| i.kind == Kind::File).count(), 1203);
}
