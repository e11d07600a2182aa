//! Throughput of the archive writer alone (sha256 + tar + framed zstd), without any
//! provider: the ceiling of what the export pipeline can reach on this machine.
//!
//! Run: `cargo bench --bench archive_writer`. Compare the two shapes with each other and
//! with `benches/compare-fs.sh`; absolute numbers depend on the machine.

use divan::counter::BytesCount;
use sortie_formats::writer::{ArchiveWriter, WriterOptions};

fn main() {
    divan::main();
}

/// Half random, half repetitive text, like the comparison trees.
fn content(len: usize) -> Vec<u8> {
    let mut state = 0x2545F4914F6CDD1Du64;
    let text = b"Sortie benchmark line: invoices, contacts, mail and photos. ";
    (0..len)
        .map(|i| {
            if i % (1 << 20) < (1 << 19) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            } else {
                text[i % text.len()]
            }
        })
        .collect()
}

fn writer(workers: u32) -> (tempfile::TempDir, ArchiveWriter) {
    let dir = tempfile::tempdir().unwrap();
    let file = std::fs::File::create(dir.path().join("bench.tar.zst")).unwrap();
    let writer = ArchiveWriter::create(
        file,
        "bench",
        sortie_formats::spool::tempfile_in(dir.path()).unwrap(),
        WriterOptions { level: 3, workers },
    )
    .unwrap();
    (dir, writer)
}

/// One 64 MiB member streamed as it arrives (the path of large bodies).
#[divan::bench(args = [1, 2], sample_count = 5)]
fn large_member_streamed(bencher: divan::Bencher, workers: u32) {
    let data = content(64 << 20);
    bencher.counter(BytesCount::new(data.len())).bench_local(|| {
        let (_dir, mut writer) = writer(workers);
        let mut body: &[u8] = &data;
        writer.add_payload("data/s/big", data.len() as u64, 0, &mut body, true).unwrap();
        writer.finish(&[], Vec::new()).unwrap();
    });
}

/// 8,192 members of 4 KiB held in memory (the path of small bodies).
#[divan::bench(args = [1, 2], sample_count = 5)]
fn small_members(bencher: divan::Bencher, workers: u32) {
    let data = content(4096);
    bencher.counter(BytesCount::new(data.len() * 8192)).bench_local(|| {
        let (_dir, mut writer) = writer(workers);
        for i in 0..8192 {
            let mut body: &[u8] = &data;
            writer.add_payload(&format!("data/s/{i}"), 4096, 0, &mut body, false).unwrap();
        }
        writer.finish(&[], Vec::new()).unwrap();
    });
}
