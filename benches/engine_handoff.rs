//! Does the single writer thread stall concurrent downloads? A provider whose every
//! `open` waits 5 ms (a network round trip) serves 256 bodies of 64 KiB; with the hand-off
//! working, the export time falls with `concurrency` as latency / concurrency would, until
//! the writer's own work shows.
//!
//! Run: `cargo bench --bench engine_handoff`.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::StreamExt;
use sortie_core::Result;
use sortie_core::engine::{ExportOptions, export};
use sortie_core::item::{Item, Kind, RawName};
use sortie_core::progress::silent;
use sortie_core::provider::{Body, Capabilities, Page, Provider};

const ITEMS: usize = 256;
const SIZE: usize = 64 << 10;
const LATENCY: Duration = Duration::from_millis(5);

fn main() {
    divan::main();
}

struct Remote {
    body: Bytes,
}

#[async_trait]
impl Provider for Remote {
    fn source_id(&self) -> String {
        "remote".into()
    }
    fn display_url(&self) -> String {
        "remote://bench".into()
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
    }
    async fn check(&self) -> Result<()> {
        Ok(())
    }
    async fn list_page(&self, _cursor: Option<String>) -> Result<Page> {
        let items = (0..ITEMS)
            .map(|i| {
                let name = format!("object-{i:04}");
                let mut item = Item::new(RawName::text(&name), vec![RawName::text(&name)], Kind::Object);
                item.size = Some(SIZE as u64);
                item
            })
            .collect();
        Ok(Page { items, next: None })
    }
    async fn open(&self, _item: &Item) -> Result<Body> {
        tokio::time::sleep(LATENCY).await;
        let stream = futures_util::stream::iter([Ok(self.body.clone())]).boxed();
        Ok(Body::streaming(Some(SIZE as u64), stream))
    }
}

#[divan::bench(args = [1, 8, 32], sample_count = 5)]
fn remote_objects(bencher: divan::Bencher, concurrency: usize) {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let body = Bytes::from((0..SIZE).map(|i| (i % 251) as u8).collect::<Vec<u8>>());
    let providers: Vec<Arc<dyn Provider>> = vec![Arc::new(Remote { body })];
    let options = ExportOptions { concurrency, force: true, ..ExportOptions::default() };
    bencher.counter(divan::counter::ItemsCount::new(ITEMS)).bench_local(|| {
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("bench.tar.zst");
        let summary = runtime.block_on(export(&providers, &archive, &options, silent())).unwrap();
        assert!(summary.complete);
    });
}
