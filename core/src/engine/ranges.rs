//! Reading a large body as several byte ranges at once. One GET stream is bound by what the
//! server gives one connection (object stores document ranged parallel reads as the way past
//! it), so a body above the cutoff is read as chunks, `streams` of them in flight, and handed
//! on in order: the archive member is still written sequentially and every checksum is
//! still computed on the exact bytes. Each range is copied into one buffer of its size as it
//! arrives (the network's read buffers are freed at once) and handed on in slices of
//! [`SLICE`], so memory is bounded by `streams × chunk` plus the few slices queued
//! for the writer.
//!
//! The first chunk comes from the response that opened the item (its metadata and checksum
//! are the item's); that response is dropped once the chunk is read (the bytes the server
//! had already sent beyond it are discarded: at most a TCP window). Each other chunk is one
//! [`Provider::open_range`] call with the opening response's validator, retried alone, in
//! a task of its own.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
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
    /// Chosen from benches/large-objects.sh (benches/README.md): four streams of 4 MiB
    /// keep a loopback server's throughput at its best while the window stays at 16 MiB.
    fn default() -> Self {
        Self { streams: 4, cutoff: 32 << 20, chunk: 4 << 20 }
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
        let first = Spawned(tokio::spawn(prefix(opened, chunk.min(size))));
        let this = Arc::new(self);
        let rest = (1..size.div_ceil(chunk)).map(move |index| {
            let range = index * chunk..((index + 1) * chunk).min(size);
            let this = this.clone();
            Spawned(tokio::spawn(async move { this.read(range).await }))
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
    async fn read(&self, range: std::ops::Range<u64>) -> Result<Bytes> {
        let on_retry = |retry: u32, error: &RangeError| (self.on_retry)(retry, &error.0);
        let (outcome, _) = retry(&self.policy, on_retry, || async {
            let body = self
                .provider
                .open_range(&self.item, range.clone(), self.validator.as_deref())
                .await
                .map_err(RangeError)?;
            collect(body.stream, range.clone()).await.map_err(RangeError)
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

/// The first `len` bytes of the opening response; the rest of it is not read.
async fn prefix(mut opened: BoxStream<'static, Result<Bytes>>, len: u64) -> Result<Bytes> {
    let mut buffer = BytesMut::with_capacity(usize::try_from(len).expect("a chunk fits in memory"));
    while (buffer.len() as u64) < len {
        let Some(bytes) = opened.next().await.transpose()? else {
            return Err(broke_off(0..len, buffer.len() as u64));
        };
        let take = bytes.len().min(buffer.capacity() - buffer.len());
        buffer.extend_from_slice(&bytes[..take]);
    }
    Ok(buffer.freeze())
}

/// A range's body, which must hold exactly its bytes.
async fn collect(mut body: BoxStream<'static, Result<Bytes>>, range: std::ops::Range<u64>) -> Result<Bytes> {
    let len = range.end - range.start;
    let mut buffer = BytesMut::with_capacity(usize::try_from(len).expect("a chunk fits in memory"));
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
    Ok(buffer.freeze())
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
        assert_eq!(collect(body(&[b"abc", b"de"]), 10..15).await.unwrap(), &b"abcde"[..]);
        let longer = collect(body(&[b"abc", b"def"]), 10..15).await.unwrap_err();
        assert_eq!(longer.kind(), ErrorKind::Integrity);
        assert!(longer.to_string().contains("bytes 10-14 came with more than the 5 bytes asked"), "{longer}");
        let shorter = collect(body(&[b"abc"]), 10..15).await.unwrap_err();
        assert!(shorter.is_temporary());
        assert!(shorter.to_string().contains("bytes 10-14 broke off after 3 of 5 bytes"), "{shorter}");
    }

    #[tokio::test]
    async fn the_first_range_takes_the_opening_response_up_to_its_length_only() {
        assert_eq!(prefix(body(&[b"abc", b"defgh", b"ijk"]), 5).await.unwrap(), &b"abcde"[..]);
        let short = prefix(body(&[b"ab"]), 5).await.unwrap_err();
        assert!(short.to_string().contains("bytes 0-4 broke off after 2 of 5 bytes"), "{short}");
    }
}
