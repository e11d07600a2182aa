//! Synthetic contents: every item's key and bytes are functions of its index and the seed,
//! generated when asked, so that a source of any size holds no data.

use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use md5::{Digest, Md5};
use sortie_sdk::Result;

/// Bytes generated at a time: a body is streamed in chunks of this size (a multiple of the
/// generator's 8-byte words, so that chunking does not change the bytes).
const CHUNK: usize = 64 << 10;

/// Items per folder.
const FOLDER: u64 = 1000;

/// What a `memory://` source holds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Generated {
    pub(crate) items: u64,
    pub(crate) size: u64,
    pub(crate) seed: u64,
    /// Whether the listing announces every item's MD5.
    pub(crate) with_md5: bool,
}

impl Generated {
    /// `part-NNN/item-NNNNNN`: a thousand items a folder, numbers zero-padded to one width
    /// so that byte order is index order (a flat namespace must list in byte order).
    pub(crate) fn key(&self, index: u64) -> String {
        let width = digits(self.items.saturating_sub(1)).max(6);
        format!("part-{:0folder$}/item-{index:0width$}", index / FOLDER, folder = width - 3)
    }

    /// Item `index`'s bytes, generated chunk by chunk as they are read.
    pub(crate) fn stream(&self, index: u64) -> BoxStream<'static, Result<Bytes>> {
        let mut noise = self.noise(index);
        futures_util::stream::iter(std::iter::from_fn(move || noise.next_chunk().map(Ok))).boxed()
    }

    /// Item `index`'s MD5 in lower-case hex, read through once.
    pub(crate) fn md5(&self, index: u64) -> String {
        let mut noise = self.noise(index);
        let mut md5 = Md5::new();
        while let Some(chunk) = noise.next_chunk() {
            md5.update(&chunk);
        }
        hex::encode(md5.finalize())
    }

    fn noise(&self, index: u64) -> Noise {
        // Distinct, well-mixed starting states for neighbouring indexes and seeds.
        let state = splitmix(&mut (self.seed ^ index.wrapping_mul(0xD1B5_4A32_D192_ED03)));
        Noise { state, remaining: self.size }
    }
}

/// How many decimal digits `n` has.
fn digits(n: u64) -> usize {
    n.checked_ilog10().map_or(1, |d| d as usize + 1)
}

/// A splitmix64 generator: fast, and the same everywhere.
struct Noise {
    state: u64,
    remaining: u64,
}

impl Noise {
    fn next_chunk(&mut self) -> Option<Bytes> {
        if self.remaining == 0 {
            return None;
        }
        let len = self.remaining.min(CHUNK as u64) as usize;
        let mut chunk = Vec::with_capacity(len);
        while chunk.len() < len {
            let word = splitmix(&mut self.state).to_le_bytes();
            let take = word.len().min(len - chunk.len());
            chunk.extend_from_slice(&word[..take]);
        }
        self.remaining -= len as u64;
        Some(Bytes::from(chunk))
    }
}

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn read(contents: &Generated, index: u64) -> Vec<u8> {
        let chunks: Vec<Result<Bytes>> = contents.stream(index).collect().await;
        chunks.into_iter().flat_map(|c| c.unwrap().to_vec()).collect()
    }

    #[tokio::test]
    async fn bytes_are_a_function_of_the_index_and_the_seed() {
        let contents = Generated { items: 3, size: (CHUNK * 2 + 5) as u64, seed: 1, with_md5: false };
        let first = read(&contents, 0).await;
        assert_eq!(first.len(), CHUNK * 2 + 5);
        assert_eq!(read(&contents, 0).await, first);
        assert_ne!(read(&contents, 1).await, first);
        assert_ne!(read(&Generated { seed: 2, ..contents }, 0).await, first);
        assert_eq!(contents.md5(0), hex::encode(Md5::digest(&first)));
        let shorter = read(&Generated { size: 11, ..contents }, 0).await;
        assert_eq!(shorter, first[..11], "a shorter item is a prefix: chunking does not change the bytes");
        assert!(read(&Generated { size: 0, ..contents }, 0).await.is_empty());
    }

    #[test]
    fn keys_sort_as_their_indexes() {
        let contents = Generated { items: 12_345_678, size: 0, seed: 0, with_md5: false };
        assert_eq!(contents.key(0), "part-00000/item-00000000");
        assert_eq!(contents.key(1234), "part-00001/item-00001234");
        let keys: Vec<String> =
            [0, 9, 10, 999, 1000, 1001, 99_999, 100_000, 12_345_677].map(|i| contents.key(i)).into();
        assert!(keys.windows(2).all(|pair| pair[0] < pair[1]), "{keys:?}");
        assert_eq!(Generated { items: 100, size: 0, seed: 0, with_md5: false }.key(7), "part-000/item-000007");
    }
}
