//! Does the single writer thread stall concurrent downloads? A memory source whose every
//! `open` waits 5 ms (a network round trip) serves 256 bodies of 64 KiB; with the hand-off
//! working, the export time falls with `concurrency` as latency / concurrency would, until
//! the writer's own work shows.
//!
//! Run: `cargo bench --bench engine_handoff`.

use sortie_core::engine::{ExportOptions, export};
use sortie_core::plan::Source;
use sortie_core::progress::silent;
use sortie_core::settings::Settings;
use sortie_plugin_memory::MemoryFactory;
use sortie_sdk::registry::{Context, ProviderFactory};

const ITEMS: usize = 256;

fn main() {
    divan::main();
}

/// `memory://bench`: 256 items of 64 KiB, each opened after 5 ms.
fn remote() -> Source {
    let info = MemoryFactory.info();
    let mut settings = Settings::new();
    for (name, value) in [("items", ITEMS.to_string()), ("size", (64 << 10).to_string()), ("latency_ms", "5".into())] {
        settings.set(info.setting(name).unwrap(), &value).unwrap();
    }
    let spec = MemoryFactory.source("memory://bench", settings).unwrap();
    let provider = MemoryFactory.open(&spec, &Context::default()).unwrap();
    Source { spec, provider }
}

#[divan::bench(args = [1, 8, 32], sample_count = 5)]
fn remote_objects(bencher: divan::Bencher, concurrency: usize) {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let sources = [remote()];
    let options = ExportOptions { concurrency, force: true, ..ExportOptions::default() };
    bencher.counter(divan::counter::ItemsCount::new(ITEMS)).bench_local(|| {
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("bench.tar.zst");
        let summary = runtime.block_on(export(&sources, &archive, &options, silent())).unwrap();
        assert!(summary.complete);
    });
}
