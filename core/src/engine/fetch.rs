//! Fetching one item, with retries, and handing its body to the writer without stalling
//! the other downloads on the single writer thread:
//!
//! - a body of known size above [`SMALL`] waits for the one *live* slot, then streams into
//!   the archive as it arrives (no copy, no temporary file);
//! - a small body is read into memory under a shared byte budget, so that many of them
//!   download in parallel while the writer is busy;
//! - a body of unknown size starts in memory and overflows to a temporary file, because a
//!   tar header needs the size before the first byte.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use md5::{Digest, Md5};
use serde_json::{Map, Value};
use sha2::{Sha256, Sha512};
use sortie_formats::spool::Spool;
use tokio::io::AsyncWriteExt;
use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::error::{Error, ErrorKind, Result};
use crate::item::{PartsMd5, ProviderChecksum};
use crate::progress::{Event, ProgressSink};
use crate::provider::{Body, Provider};
use crate::retry::{RetryPolicy, Retryable, retry};

use super::ranges::{RangedBody, RangedReads};
use super::received::Received;
use super::writer::{AsListed, Held, Job, ToWriter, same_time};

/// Bodies up to this size are held in memory.
pub(crate) const SMALL: u64 = 1 << 20;
/// Memory all held bodies may use together, in KiB (the unit of the budget's permits).
pub(crate) const MEMORY_BUDGET_KIB: usize = 8 * 1024;
/// Chunks of a live body buffered between fetcher and writer.
const LIVE_CHUNKS: usize = 8;

pub(crate) struct Fetcher {
    pub(crate) tx: mpsc::Sender<ToWriter>,
    pub(crate) live: Arc<Semaphore>,
    pub(crate) budget: Arc<Semaphore>,
    pub(crate) policy: RetryPolicy,
    pub(crate) progress: ProgressSink,
    pub(crate) spool_dir: PathBuf,
    /// Per source, why its provider refused the credentials (an expired token, a revoked
    /// key): once one item has met that, the source's other items are recorded as failed
    /// without asking, instead of sending a million doomed requests that may also lock the
    /// account.
    pub(crate) refused: Vec<OnceLock<String>>,
    /// How large bodies are read.
    pub(crate) ranges: RangedReads,
    /// Whether the MD5 of a body is checked even when a cheaper full-object checksum is.
    pub(crate) all_checksums: bool,
}

/// The writer is gone: the export is failing and this fetch stops quietly.
pub(crate) struct WriterGone;

/// What one successful attempt produced.
enum Fetched {
    /// The whole body, and what its response said about it (boxed, being many times the
    /// size of the other variant).
    Held(Held, Box<Announced>),
    /// The body was streamed into the archive by the attempt itself.
    Live,
}

/// What a response says about its body beyond the bytes.
struct Announced {
    checksum: Option<ProviderChecksum>,
    content_type: Option<String>,
    meta: Map<String, Value>,
    modified: Option<SystemTime>,
    incomplete: Option<String>,
}

impl Announced {
    /// What the response announced; `all_checksums` false leaves out the MD5 checks a
    /// full-object CRC or sha256 makes redundant.
    fn take(body: &mut Body, all_checksums: bool) -> Self {
        let checksum = body.checksum.clone();
        Self {
            checksum: if all_checksums { checksum } else { checksum.map(ProviderChecksum::without_redundant_md5) },
            content_type: body.content_type.take(),
            meta: std::mem::take(&mut body.meta),
            modified: body.modified,
            incomplete: body.incomplete.take(),
        }
    }

    /// Records it on the job: on its item for the inventory, keeping what the listing said
    /// beside it (the writer compares the two once it knows how many bytes were archived),
    /// and what is missing for the report.
    fn apply(self, job: &mut Job) {
        job.incomplete = self.incomplete;
        let item = &mut job.item;
        job.listed = Some(AsListed::of(item));
        if self.checksum.is_some() {
            item.checksum = self.checksum;
        }
        if self.content_type.is_some() {
            item.content_type = self.content_type;
        }
        // The listing's time stays when the response's is the same to the second: it may be
        // finer than an HTTP date.
        if let Some(fetched) = self.modified
            && !item.modified.is_some_and(|listed| same_time(listed, fetched))
        {
            item.modified = Some(fetched);
        }
        item.meta.extend(self.meta);
    }
}

enum AttemptError {
    Item(Error),
    WriterGone,
}

impl Retryable for AttemptError {
    fn retry_hint(&self) -> Option<Option<std::time::Duration>> {
        match self {
            AttemptError::Item(error) => error.retry_hint(),
            AttemptError::WriterGone => None,
        }
    }
}

impl From<Error> for AttemptError {
    fn from(error: Error) -> Self {
        AttemptError::Item(error)
    }
}

impl Fetcher {
    /// Fetches `job` until it is in the archive or known to have failed. A body streamed
    /// live is handed to the writer by this call (`None`); otherwise the message for the
    /// writer (a held body or a failure) is returned, so that the caller may batch it.
    pub(crate) async fn fetch(
        &self,
        provider: &Arc<dyn Provider>,
        mut job: Job,
    ) -> Result<Option<ToWriter>, WriterGone> {
        if let Some(why) = self.refused[job.source].get() {
            let error = format!("not attempted: the source refused the credentials earlier ({why})");
            (self.progress)(Event::Fetched);
            return Ok(Some(ToWriter::Failed { job, error, attempts: 0 }));
        }
        let on_retry = |retry: u32, error: &AttemptError| {
            if let AttemptError::Item(error) = error {
                tracing::debug!(id = %job.item.id.display(), retry, %error, "retrying");
                (self.progress)(Event::Retrying { id: job.item.id.display(), retry, error: error.to_string() });
            }
        };
        let (outcome, attempts) = retry(&self.policy, on_retry, || self.attempt(provider, &job)).await;
        if !matches!(outcome, Err(AttemptError::WriterGone)) {
            (self.progress)(Event::Fetched);
        }
        match outcome {
            Ok(Fetched::Live) => Ok(None),
            Ok(Fetched::Held(body, announced)) => {
                announced.apply(&mut job);
                Ok(Some(ToWriter::Payload { job, body }))
            }
            Err(AttemptError::WriterGone) => Err(WriterGone),
            Err(AttemptError::Item(error)) => {
                if error.kind() == ErrorKind::Unauthenticated {
                    let _ = self.refused[job.source].set(error.to_string());
                }
                Ok(Some(ToWriter::Failed { job, error: error.to_string(), attempts }))
            }
        }
    }

    async fn attempt(&self, provider: &Arc<dyn Provider>, job: &Job) -> Result<Fetched, AttemptError> {
        let mut received = Received::new(&self.progress);
        if job.item.size.is_some_and(|size| size > SMALL) {
            // The writer needs the job with the body it receives while this call streams it.
            self.stream_live(provider, job.clone(), &mut received).await?;
            received.keep();
            return Ok(Fetched::Live);
        }
        let mut body = open(provider.as_ref(), &job.item).await?;
        let announced = Box::new(Announced::take(&mut body, self.all_checksums));
        let checksum = announced.checksum.as_ref().or(job.item.checksum.as_ref());
        let held = self.collect(body, job.item.size, checksum, &mut received).await?;
        received.keep();
        Ok(Fetched::Held(held, announced))
    }

    async fn stream_live(
        &self,
        provider: &Arc<dyn Provider>,
        mut job: Job,
        received: &mut Received<'_>,
    ) -> Result<(), AttemptError> {
        let slot = self.live.clone().acquire_owned().await.map_err(|_| AttemptError::WriterGone)?;
        let mut body = open(provider.as_ref(), &job.item).await?;
        let validator = body.validator.take();
        Announced::take(&mut body, self.all_checksums).apply(&mut job);
        let size = body.size.or(job.item.size).expect("live bodies have a known size");
        let ranged =
            job.item.inline.is_none() && !body.single_stream && self.ranges.applies(provider.capabilities(), size);
        // The ranges need the item after the job went to the writer: a copy, once per large body.
        let item = ranged.then(|| job.item.clone());
        let mut check = BodyCheck::new(job.item.checksum.as_ref());
        let (chunk_tx, chunks) = mpsc::channel(LIVE_CHUNKS);
        let (done, outcome) = oneshot::channel();
        let held = Held::Live { size, chunks, done, _slot: slot };
        self.tx.send(ToWriter::Payload { job, body: held }).await.map_err(|_| AttemptError::WriterGone)?;

        let mut stream = match item {
            Some(item) => {
                let (progress, id) = (self.progress.clone(), item.id.display());
                let on_retry = move |retry: u32, error: &Error| {
                    tracing::debug!(%id, retry, %error, "retrying a range");
                    progress(Event::Retrying { id: id.clone(), retry, error: error.to_string() });
                };
                RangedBody {
                    provider: provider.clone(),
                    item,
                    size,
                    validator,
                    reads: self.ranges,
                    policy: self.policy,
                    on_retry: Box::new(on_retry),
                }
                .stream(body.stream)
            }
            None => body.stream,
        };
        while let Some(chunk) = stream.next().await {
            let failed = chunk.is_err();
            if let Ok(bytes) = &chunk {
                check.update(bytes);
                received.add(bytes.len());
            }
            if chunk_tx.send(chunk).await.is_err() || failed {
                break;
            }
        }
        if let Err(mismatch) = check.verify() {
            let _ = chunk_tx.send(Err(mismatch)).await;
        }
        drop(chunk_tx);
        match outcome.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(AttemptError::Item(error)),
            Err(_) => Err(AttemptError::WriterGone),
        }
    }

    /// Reads a whole body: into memory while it fits, then into a temporary file. In memory
    /// it stays the chunks it came in, joined only when there are several.
    async fn collect(
        &self,
        body: Body,
        listed: Option<u64>,
        checksum: Option<&ProviderChecksum>,
        received: &mut Received<'_>,
    ) -> Result<Held> {
        let announced = body.size.or(listed);
        let reserve = announced.unwrap_or(SMALL).min(SMALL);
        let permits = u32::try_from(reserve.div_ceil(1024).max(1)).expect("at most SMALL");
        let budget = self.budget.clone().acquire_many_owned(permits).await.expect("the budget is never closed");
        let mut chunks: Vec<Bytes> = Vec::new();
        let mut spool: Option<(Spool, tokio::fs::File)> = None;
        let mut check = BodyCheck::new(checksum);
        let mut total = 0u64;
        let mut stream = body.stream;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            check.update(&chunk);
            received.add(chunk.len());
            total += chunk.len() as u64;
            if let Some(spool) = spool.as_mut() {
                write_spool(spool, &chunk).await?;
            } else if total > SMALL {
                let created = sortie_formats::spool::tempfile_in(&self.spool_dir).and_then(|spool| {
                    let file = spool.raw_file()?;
                    Ok((spool, tokio::fs::File::from_std(file)))
                });
                let mut created =
                    created.map_err(|e| Error::io("cannot create a temporary file beside the output", &e))?;
                for held in chunks.drain(..) {
                    write_spool(&mut created, &held).await?;
                }
                write_spool(&mut created, &chunk).await?;
                spool = Some(created);
            } else {
                chunks.push(chunk);
            }
        }
        if let Some(announced) = announced.filter(|a| *a != total) {
            return Err(Error::new(
                ErrorKind::Integrity,
                format!("body has {total} bytes but {announced} were announced (changed during the export?)"),
            )
            .temporary());
        }
        check.verify()?;
        Ok(match spool {
            Some((mut spool, mut file)) => {
                file.flush().await.map_err(|e| Error::io("cannot write a temporary file beside the output", &e))?;
                drop(file.into_std().await);
                spool.rewind().map_err(|e| Error::io("cannot read a temporary file", &e))?;
                Held::Spooled { file: spool, len: total }
            }
            None => Held::Memory { data: join(chunks, total), _budget: budget },
        })
    }
}

/// One buffer from the chunks of a small body; a body that came in one chunk is not copied.
fn join(mut chunks: Vec<Bytes>, total: u64) -> Bytes {
    if chunks.len() == 1 {
        return chunks.pop().expect("one chunk");
    }
    let mut joined = BytesMut::with_capacity(usize::try_from(total).expect("a small body"));
    for chunk in chunks {
        joined.extend_from_slice(&chunk);
    }
    joined.freeze()
}

/// The item's bytes: those its listing carried, or what its provider opens.
async fn open(provider: &dyn Provider, item: &crate::item::Item) -> crate::error::Result<Body> {
    match &item.inline {
        Some(bytes) => Ok(Body::from_bytes(bytes.clone(), item.content_type.as_deref())),
        None => provider.open(item).await,
    }
}

/// Checks a body against the checksums its provider announced, as the bytes go by; does
/// nothing for what was not announced.
struct BodyCheck {
    md5: Option<(String, Md5)>,
    sha256: Option<(String, Sha256)>,
    sha512: Option<(String, Sha512)>,
    parts: Option<PartsCheck>,
    /// Each announced CRC: its name, its width in hex digits, the value announced.
    crcs: Vec<(&'static str, usize, String, crc_fast::Digest)>,
}

impl BodyCheck {
    fn new(checksum: Option<&ProviderChecksum>) -> Self {
        let crc = |name, width, expected: Option<&String>, algorithm| {
            expected.map(|expected| (name, width, expected.clone(), crc_fast::Digest::new(algorithm)))
        };
        Self {
            md5: checksum.and_then(|c| c.md5.clone()).map(|expected| (expected, Md5::new())),
            sha256: checksum.and_then(|c| c.sha256.clone()).map(|expected| (expected, Sha256::new())),
            sha512: checksum.and_then(|c| c.sha512.clone()).map(|expected| (expected, Sha512::new())),
            parts: checksum.and_then(|c| c.parts_md5.clone()).map(PartsCheck::new),
            crcs: checksum
                .map(|c| {
                    [
                        crc("CRC32", 8, c.crc32.as_ref(), crc_fast::CrcAlgorithm::Crc32IsoHdlc),
                        crc("CRC32C", 8, c.crc32c.as_ref(), crc_fast::CrcAlgorithm::Crc32Iscsi),
                        crc("CRC64NVME", 16, c.crc64nvme.as_ref(), crc_fast::CrcAlgorithm::Crc64Nvme),
                    ]
                    .into_iter()
                    .flatten()
                    .collect()
                })
                .unwrap_or_default(),
        }
    }

    fn update(&mut self, bytes: &[u8]) {
        if let Some((_, hasher)) = self.md5.as_mut() {
            hasher.update(bytes);
        }
        if let Some((_, hasher)) = self.sha256.as_mut() {
            hasher.update(bytes);
        }
        if let Some((_, hasher)) = self.sha512.as_mut() {
            hasher.update(bytes);
        }
        if let Some(parts) = self.parts.as_mut() {
            parts.update(bytes);
        }
        for (_, _, _, digest) in &mut self.crcs {
            digest.update(bytes);
        }
    }

    fn verify(self) -> Result<()> {
        if let Some((expected, hasher)) = self.md5 {
            compare("MD5", &expected, &hex::encode(hasher.finalize()))?;
        }
        if let Some((expected, hasher)) = self.sha256 {
            compare("sha256", &expected, &hex::encode(hasher.finalize()))?;
        }
        if let Some((expected, hasher)) = self.sha512 {
            compare("sha512", &expected, &hex::encode(hasher.finalize()))?;
        }
        if let Some(parts) = self.parts {
            parts.verify()?;
        }
        for (name, width, expected, digest) in self.crcs {
            compare(name, &expected, &format!("{:0width$x}", digest.finalize()))?;
        }
        Ok(())
    }
}

/// Checks a body made of parts as it streams: cut at the announced part sizes, each part's
/// MD5 is compared with the one announced for it (Swift segments), and the MD5 of all the
/// parts' MD5s with the announced digest (S3 multipart ETags).
struct PartsCheck {
    expected: PartsMd5,
    /// The part being hashed, and how many of its bytes are still to come.
    part: usize,
    left: u64,
    current: Md5,
    digests: Md5,
    /// The first part whose MD5 differs from the one announced, kept until `verify`: the
    /// rest of the body still streams (and counts) meanwhile.
    damaged: Option<Error>,
}

impl PartsCheck {
    fn new(expected: PartsMd5) -> Self {
        let left = expected.part_sizes.first().copied().unwrap_or(0);
        Self { expected, part: 0, left, current: Md5::new(), digests: Md5::new(), damaged: None }
    }

    fn update(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            if self.left == 0 && !self.next_part() {
                // More bytes than the parts announce: the digest cannot match; verify says so.
                self.part = self.expected.part_sizes.len() + 1;
                return;
            }
            let take = usize::try_from(self.left).unwrap_or(usize::MAX).min(bytes.len());
            self.current.update(&bytes[..take]);
            self.left -= take as u64;
            bytes = &bytes[take..];
        }
    }

    /// Closes the current part; false when it was the last.
    fn next_part(&mut self) -> bool {
        if self.part + 1 >= self.expected.part_sizes.len() {
            return false;
        }
        self.close_part();
        self.part += 1;
        self.left = self.expected.part_sizes[self.part];
        true
    }

    fn close_part(&mut self) {
        let digest = std::mem::take(&mut self.current).finalize();
        // An empty MD5 stands for a part whose MD5 the provider cannot know (a byte range of
        // a Swift segment); its size is still checked.
        let expected = self.expected.part_md5s.get(self.part).filter(|m| !m.is_empty());
        if let (None, Some(expected)) = (&self.damaged, expected) {
            let parts = self.expected.part_sizes.len();
            let name = self.expected.part_names.get(self.part).map_or(String::new(), |n| format!(" ({n})"));
            let what = format!("MD5 of part {} of {parts}{name}", self.part + 1);
            self.damaged = compare(&what, expected, &hex::encode(digest)).err();
        }
        self.digests.update(digest);
    }

    fn verify(mut self) -> Result<()> {
        let parts = self.expected.part_sizes.len();
        let complete = self.part + 1 == parts && self.left == 0;
        if let Some(damaged) = self.damaged {
            return Err(damaged);
        }
        if !complete {
            let sizes = self.expected.part_sizes.iter().sum::<u64>();
            return Err(Error::new(
                ErrorKind::Integrity,
                format!("the body does not match the {parts} parts announced ({sizes} bytes in all)"),
            )
            .temporary());
        }
        self.close_part();
        if let Some(damaged) = self.damaged {
            return Err(damaged);
        }
        match &self.expected.digest {
            Some(digest) => {
                compare(&format!("multipart ETag ({parts} parts)"), digest, &hex::encode(self.digests.finalize()))
            }
            None => Ok(()),
        }
    }
}

/// Writes `bytes` encrypted (see [`Spool`]) through the async handle on the spool's file.
async fn write_spool((spool, file): &mut (Spool, tokio::fs::File), bytes: &[u8]) -> Result<()> {
    let mut sealed = bytes.to_vec();
    spool.encrypt(&mut sealed);
    file.write_all(&sealed).await.map_err(|e| Error::io("cannot write a temporary file beside the output", &e))
}

/// A mismatch is temporary: the bytes may have been damaged on the way, or the object
/// replaced while it was read.
fn compare(algorithm: &str, expected: &str, actual: &str) -> Result<()> {
    if actual == expected {
        return Ok(());
    }
    Err(Error::new(
        ErrorKind::Integrity,
        format!("{algorithm} of the body is {actual}, the provider announced {expected}"),
    )
    .temporary())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts_md5(parts: &[&[u8]]) -> PartsMd5 {
        let mut digests = Md5::new();
        for part in parts {
            digests.update(Md5::digest(part));
        }
        PartsMd5::new(Some(hex::encode(digests.finalize())), parts.iter().map(|p| p.len() as u64).collect())
    }

    fn check(expected: PartsMd5, body: &[u8], chunk: usize) -> Result<()> {
        let mut checksum = ProviderChecksum::unchecked("", None);
        checksum.parts_md5 = Some(expected);
        let mut check = BodyCheck::new(Some(&checksum));
        for piece in body.chunks(chunk) {
            check.update(piece);
        }
        check.verify()
    }

    #[test]
    fn full_object_crcs_are_checked_across_any_chunking_and_name_themselves() {
        let body = b"123456789".repeat(1000);
        let announced = |crc32: &str, crc32c: &str, crc64nvme: &str| {
            let mut checksum = ProviderChecksum::unchecked("", None);
            checksum.crc32 = Some(crc32.to_owned());
            checksum.crc32c = Some(crc32c.to_owned());
            checksum.crc64nvme = Some(crc64nvme.to_owned());
            checksum
        };
        let run = |checksum: &ProviderChecksum, body: &[u8], chunk: usize| {
            let mut check = BodyCheck::new(Some(checksum));
            body.chunks(chunk).for_each(|piece| check.update(piece));
            check.verify()
        };
        // The check values of the three CRCs (the catalogue's "123456789").
        let nine = announced("cbf43926", "e3069283", "ae8b14860a799888");
        run(&nine, b"123456789", 4).unwrap();
        let whole = announced(
            &format!("{:08x}", crc_fast::checksum(crc_fast::CrcAlgorithm::Crc32IsoHdlc, &body)),
            &format!("{:08x}", crc_fast::checksum(crc_fast::CrcAlgorithm::Crc32Iscsi, &body)),
            &format!("{:016x}", crc_fast::checksum(crc_fast::CrcAlgorithm::Crc64Nvme, &body)),
        );
        for chunk in [1, 7, 4096, body.len()] {
            run(&whole, &body, chunk).unwrap();
        }
        for (field, name) in [(0, "CRC32 "), (1, "CRC32C "), (2, "CRC64NVME ")] {
            let mut wrong = whole.clone();
            let slot = [&mut wrong.crc32, &mut wrong.crc32c, &mut wrong.crc64nvme][field].as_mut().unwrap();
            *slot = slot.replace(|c: char| c != '0', "0");
            let error = run(&wrong, &body, 64).unwrap_err();
            assert_eq!(error.kind(), ErrorKind::Integrity);
            assert!(error.to_string().starts_with(name), "{error}");
        }
        let mut damaged = body.clone();
        damaged[4321] ^= 1;
        assert!(run(&whole, &damaged, 64).is_err());
    }

    #[test]
    fn an_md5_is_not_recomputed_where_a_full_object_checksum_is_checked() {
        let etag = ProviderChecksum::md5("\"e2fc714c4727ee9395f324cd2e7f331f\"", "e2fc714c4727ee9395f324cd2e7f331f");
        assert_eq!(etag.checkable(), ["md5"]);
        assert_eq!(etag.clone().without_redundant_md5().checkable(), ["md5"], "the MD5 is all there is");
        let mut both = etag;
        both.crc64nvme = Some("ae8b14860a799888".into());
        assert_eq!(both.checkable(), ["crc64nvme", "md5"]);
        let narrowed = both.clone().without_redundant_md5();
        assert_eq!(narrowed.checkable(), ["crc64nvme"]);
        assert_eq!(narrowed.served, both.served, "the ETag is still recorded as served");
        let mut parts = ProviderChecksum::unchecked("\"abc-2\"", None);
        parts.parts_md5 = Some(PartsMd5::new(None, vec![1, 1]));
        parts.sha256 = Some("00".into());
        assert_eq!(parts.without_redundant_md5().checkable(), ["sha256"]);
        let mut image = ProviderChecksum::md5("x", "e2fc714c4727ee9395f324cd2e7f331f");
        image.sha512 = Some("00".into());
        assert_eq!(image.without_redundant_md5().checkable(), ["md5", "sha512"], "Glance's pair stays whole");
    }

    #[test]
    fn multipart_etags_are_recomputed_across_any_chunking() {
        let parts: [&[u8]; 3] = [&[1u8; 1000], &[2u8; 1500], &[3u8; 7]];
        let body: Vec<u8> = parts.concat();
        for chunk in [1, 7, 999, 1000, 1001, 4096] {
            check(parts_md5(&parts), &body, chunk).unwrap();
        }
        let mut damaged = body.clone();
        damaged[1200] ^= 1;
        assert!(check(parts_md5(&parts), &damaged, 64).unwrap_err().to_string().contains("multipart ETag (3 parts)"));
        assert!(check(parts_md5(&parts), &body[..body.len() - 1], 64).is_err(), "a short body");
        let longer = [body.as_slice(), b"x"].concat();
        assert!(check(parts_md5(&parts), &longer, 64).is_err(), "a longer body");
    }

    #[test]
    fn a_damaged_part_is_named_by_its_announced_md5() {
        let parts: [&[u8]; 3] = [&[1u8; 10], &[2u8; 20], &[3u8; 5]];
        let mut expected = PartsMd5::new(None, vec![10, 20, 5]);
        expected.part_md5s = parts.iter().map(|p| hex::encode(Md5::digest(p))).collect();
        expected.part_names = vec!["/seg/0".into(), "/seg/1".into(), "/seg/2".into()];
        let body: Vec<u8> = parts.concat();
        check(expected.clone(), &body, 3).unwrap();
        let mut damaged = body.clone();
        damaged[15] ^= 1;
        let error = check(expected.clone(), &damaged, 3).unwrap_err().to_string();
        assert!(error.contains("MD5 of part 2 of 3 (/seg/1)"), "{error}");
        let error = check(expected, &body[..34], 3).unwrap_err().to_string();
        assert!(error.contains("3 parts announced (35 bytes"), "{error}");
    }
}
