//! Reading a large body as several byte ranges at once. One GET stream is bound by what the
//! server gives one connection (object stores document ranged parallel reads as the way past
//! it), so a body above the cutoff is read as chunks, `streams` of them in flight, and handed
//! on in order: the archive member is still written sequentially and every checksum is
//! still computed on the exact bytes. Each range is copied into one buffer of its size as it
//! arrives (the network's read buffers are freed at once) and handed on in slices of
//! [`SLICE`], so memory is bounded by `streams × chunk` plus the few slices queued
//! for the writer. A range's buffer goes back to a pool of the body's when the writer has
//! dropped its last slice: allocating a fresh one per range made the allocator either
//! fault in 1 GiB of new pages per GiB read or keep ~20 MiB it no longer used.
//!
//! The first chunk comes from the response that opened the item (its metadata and checksum
//! are the item's); that response is dropped once the chunk is read (the bytes the server
//! had already sent beyond it are discarded: at most a TCP window). Each other chunk is one
//! [`Provider::open_range`] call with the opening response's validator, retried alone, in
//! a task of its own.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::stream::{self, BoxStream, StreamExt};

use crate::error::{Error, ErrorKind, Result};
use crate::item::Item;
use crate::provider::{Capabilities, Provider};
use crate::retry::{RetryPolicy, Retryable, retry};

use super::fetch::SMALL;

/// The pieces a range is handed to the writer in: small enough that those queued for it
/// (`LIVE_CHUNKS`) hold little beyond the window, large enough that it is woken rarely.
const SLICE: usize = 256 << 10;

/// How large bodies are read: `export --range-streams`, `--range-cutoff`, `--range-chunk`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RangedReads {
    /// Ranges in flight for one body; 1 reads every body as one stream.
    pub streams: usize,
    /// Bodies of at least this many bytes are read in ranges.
    pub cutoff: u64,
    /// The bytes of one range.
    pub chunk: u64,
}

impl Default for RangedReads {
    /// Chosen from benches/large-objects.sh (benches/README.md): six streams of 3 MiB
    /// read a loopback server's object a quarter faster than four of 4 MiB, for the same
    /// memory (the ranges in flight and the two being handed on: 24 MiB).
    fn default() -> Self {
        Self { streams: 6, cutoff: 32 << 20, chunk: 3 << 20 }
    }
}

impl RangedReads {
    /// Whether a body of `size` bytes from a source with `capabilities` is read in ranges.
    /// Not from a source that caps its connections (an IMAP server, a WebDAV server given a
    /// `connections` limit): ranges would open more than it allows.
    pub(crate) fn applies(&self, capabilities: Capabilities, size: u64) -> bool {
        capabilities.ranged_reads
            && capabilities.max_concurrency.is_none()
            && self.streams > 1
            && size >= self.cutoff.max(SMALL)
            && size > self.chunk
    }
}

/// A range's error, retried alone unless the provider refused the version: the object
/// changed, and only opening it again (the item's own retry) can help.
struct RangeError(Error);

impl Retryable for RangeError {
    fn retry_hint(&self) -> Option<Option<std::time::Duration>> {
        if self.0.kind() == ErrorKind::Integrity { None } else { self.0.retry_hint() }
    }
}

/// Told of each retry of a range: its number and the error.
pub(crate) type OnRetry = dyn Fn(u32, &Error) + Send + Sync;

/// What reading one body in ranges needs besides the body.
pub(crate) struct RangedBody {
    pub(crate) provider: Arc<dyn Provider>,
    pub(crate) item: Item,
    pub(crate) size: u64,
    pub(crate) validator: Option<String>,
    pub(crate) reads: RangedReads,
    pub(crate) policy: RetryPolicy,
    /// Called before each retry of a range: its number and the error.
    pub(crate) on_retry: Box<OnRetry>,
}

impl RangedBody {
    /// The body's bytes in order: the first chunk from `opened`, the others read as ranges.
    /// Each range is read by a task of its own, so that the downloads go on while the
    /// caller hashes what came; dropping the stream aborts them.
    pub(crate) fn stream(self, opened: BoxStream<'static, Result<Bytes>>) -> BoxStream<'static, Result<Bytes>> {
        let chunk = self.reads.chunk.max(1);
        let streams = self.reads.streams.max(1);
        let size = self.size;
        // The ranges in flight, the one being handed on, and one the writer still holds.
        let pool = Buffers::new(streams + 2);
        let first = Spawned(tokio::spawn(prefix(opened, chunk.min(size), pool.clone())));
        let this = Arc::new(self);
        let rest = (1..size.div_ceil(chunk)).map(move |index| {
            let range = index * chunk..((index + 1) * chunk).min(size);
            let (this, pool) = (this.clone(), pool.clone());
            Spawned(tokio::spawn(async move { this.read(range, &pool).await }))
        });
        stream::iter(std::iter::once(first).chain(rest))
            .buffered(streams)
            .flat_map(|range| match range {
                Ok(bytes) => stream::iter(
                    (0..bytes.len()).step_by(SLICE).map(move |at| Ok(bytes.slice(at..(at + SLICE).min(bytes.len())))),
                )
                .left_stream(),
                Err(error) => stream::once(async move { Err(error) }).right_stream(),
            })
            .boxed()
    }

    /// One range, whole, retried alone.
    async fn read(&self, range: std::ops::Range<u64>, pool: &Arc<Buffers>) -> Result<Bytes> {
        let on_retry = |retry: u32, error: &RangeError| (self.on_retry)(retry, &error.0);
        let (outcome, _) = retry(&self.policy, on_retry, || async {
            let body = self
                .provider
                .open_range(&self.item, range.clone(), self.validator.as_deref())
                .await
                .map_err(RangeError)?;
            collect(body.stream, range.clone(), pool).await.map_err(RangeError)
        })
        .await;
        outcome.map_err(|RangeError(error)| error)
    }
}

/// A range's task, aborted when dropped (the body failed, or its reader is gone).
struct Spawned(tokio::task::JoinHandle<Result<Bytes>>);

impl Future for Spawned {
    type Output = Result<Bytes>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx).map(|joined| {
            joined.unwrap_or_else(|e| Err(Error::new(ErrorKind::Other, format!("reading a range stopped: {e}"))))
        })
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Range buffers to reuse, at most `keep` of them.
struct Buffers {
    spare: Mutex<Vec<Vec<u8>>>,
    keep: usize,
}

impl Buffers {
    fn new(keep: usize) -> Arc<Self> {
        Arc::new(Self { spare: Mutex::new(Vec::new()), keep })
    }

    /// An empty buffer that holds `len` bytes without growing.
    fn take(self: &Arc<Self>, len: u64) -> Pooled {
        let len = usize::try_from(len).expect("a chunk fits in memory");
        let mut buffer = self.spare.lock().expect("buffer pool lock").pop().unwrap_or_default();
        buffer.reserve_exact(len);
        Pooled { buffer, pool: self.clone() }
    }
}

/// A range's buffer, back to its pool once the last slice handed on is dropped.
struct Pooled {
    buffer: Vec<u8>,
    pool: Arc<Buffers>,
}

impl AsRef<[u8]> for Pooled {
    fn as_ref(&self) -> &[u8] {
        &self.buffer
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        let mut spare = self.pool.spare.lock().expect("buffer pool lock");
        if spare.len() < self.pool.keep {
            let mut buffer = std::mem::take(&mut self.buffer);
            buffer.clear();
            spare.push(buffer);
        }
    }
}

/// The first `len` bytes of the opening response; the rest of it is not read.
async fn prefix(mut opened: BoxStream<'static, Result<Bytes>>, len: u64, pool: Arc<Buffers>) -> Result<Bytes> {
    let mut held = pool.take(len);
    while (held.buffer.len() as u64) < len {
        let Some(bytes) = opened.next().await.transpose()? else {
            return Err(broke_off(0..len, held.buffer.len() as u64));
        };
        let take = bytes.len().min(usize::try_from(len).expect("a chunk fits in memory") - held.buffer.len());
        held.buffer.extend_from_slice(&bytes[..take]);
    }
    Ok(Bytes::from_owner(held))
}

/// A range's body, which must hold exactly its bytes.
async fn collect(
    mut body: BoxStream<'static, Result<Bytes>>,
    range: std::ops::Range<u64>,
    pool: &Arc<Buffers>,
) -> Result<Bytes> {
    let len = range.end - range.start;
    let mut held = pool.take(len);
    let buffer = &mut held.buffer;
    while let Some(bytes) = body.next().await.transpose()? {
        if (buffer.len() + bytes.len()) as u64 > len {
            return Err(Error::new(
                ErrorKind::Integrity,
                format!("bytes {}-{} came with more than the {len} bytes asked", range.start, range.end - 1),
            )
            .temporary());
        }
        buffer.extend_from_slice(&bytes);
    }
    if (buffer.len() as u64) < len {
        return Err(broke_off(range, buffer.len() as u64));
    }
    Ok(Bytes::from_owner(held))
}

fn broke_off(range: std::ops::Range<u64>, got: u64) -> Error {
    let len = range.end - range.start;
    Error::new(
        ErrorKind::Unavailable,
        format!("bytes {}-{} broke off after {got} of {len} bytes", range.start, range.end - 1),
    )
    .temporary()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(chunks: &[&'static [u8]]) -> BoxStream<'static, Result<Bytes>> {
        stream::iter(chunks.iter().map(|c| Ok(Bytes::from_static(c))).collect::<Vec<_>>()).boxed()
    }

    #[tokio::test]
    async fn a_range_holds_exactly_the_bytes_asked_or_fails_naming_them() {
        let pool = Buffers::new(2);
        assert_eq!(collect(body(&[b"abc", b"de"]), 10..15, &pool).await.unwrap(), &b"abcde"[..]);
        let longer = collect(body(&[b"abc", b"def"]), 10..15, &pool).await.unwrap_err();
        assert_eq!(longer.kind(), ErrorKind::Integrity);
        assert!(longer.to_string().contains("bytes 10-14 came with more than the 5 bytes asked"), "{longer}");
        let shorter = collect(body(&[b"abc"]), 10..15, &pool).await.unwrap_err();
        assert!(shorter.is_temporary());
        assert!(shorter.to_string().contains("bytes 10-14 broke off after 3 of 5 bytes"), "{shorter}");
    }

    #[tokio::test]
    async fn the_first_range_takes_the_opening_response_up_to_its_length_only() {
        assert_eq!(prefix(body(&[b"abc", b"defgh", b"ijk"]), 5, Buffers::new(1)).await.unwrap(), &b"abcde"[..]);
        let short = prefix(body(&[b"ab"]), 5, Buffers::new(1)).await.unwrap_err();
        assert!(short.to_string().contains("bytes 0-4 broke off after 2 of 5 bytes"), "{short}");
    }

    #[tokio::test]
    async fn a_range_buffer_is_reused_once_its_last_slice_is_dropped_and_the_pool_stays_bounded() {
        let pool = Buffers::new(1);
        let first = collect(body(&[b"abcd"]), 0..4, &pool).await.unwrap();
        let slice = first.slice(1..3);
        let address = first.as_ptr();
        drop(first);
        assert!(pool.spare.lock().unwrap().is_empty(), "a slice still holds the buffer");
        drop(slice);
        assert_eq!(pool.spare.lock().unwrap().len(), 1);
        let again = collect(body(&[b"wxyz"]), 4..8, &pool).await.unwrap();
        assert_eq!((again.as_ptr(), &again[..]), (address, &b"wxyz"[..]), "the same allocation, refilled");
        let other = collect(body(&[b"1234"]), 8..12, &pool).await.unwrap();
        drop((again, other));
        assert_eq!(pool.spare.lock().unwrap().len(), 1, "no more kept than the pool's bound");
    }
}
