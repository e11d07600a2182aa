//! A zstd writer that emits independent, checksummed frames ending on tar-entry boundaries,
//! compressing on other threads so that the thread feeding it (hashing, tar framing) never
//! waits for compression.
//!
//! Independent frames are what make the archive resumable and seekable later without a
//! format change, and they let the writer take back a member whose body failed half-way:
//! the frame holding it is cut off the file and the archive continues as if it never began.
//!
//! Two ways to make a frame, both ending on an entry boundary:
//! - small members are gathered into a buffer of about [`FRAME_TARGET`] bytes, which a pool
//!   of workers compresses as one frame while the next buffer fills (as `pzstd` does);
//! - a large member is compressed as it arrives, as a frame of its own, by a streaming
//!   encoder on a thread of its own fed 1 MiB blocks, so no member is ever held whole in
//!   memory and hashing (on the caller's thread) overlaps compression.
//!
//! One output thread writes the compressed pieces in order, hashing them for the sidecar.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use sha2::Sha256;
use zstd::stream::write::Encoder;

use crate::sink::{Sink, SinkMark};

/// Uncompressed bytes after which a frame of small members is closed at the next entry
/// boundary.
pub const FRAME_TARGET: usize = 2 << 20;

/// Pieces waiting for the output thread. Streamed frames arrive in pieces of about 128 KiB,
/// and a short queue made every stall of a disk write stall hashing too; pool frames cannot
/// fill it, since at most one waits for a worker and one is being compressed per worker.
const OUTPUT_QUEUE: usize = 32;

/// Room for a frame: the target plus the largest member that joins a frame (1 MiB).
const FRAME_CAPACITY: usize = FRAME_TARGET + (1 << 20) + 4096;

/// Compressed bytes after which the output thread asks the kernel to write back what it
/// has, so that the final `fsync` of a large archive does not stall the end of the export.
const WRITEBACK_EVERY: u64 = 16 << 20;

/// Input handed to the streaming encoder at once.
const STREAM_INPUT_BLOCK: usize = 1 << 20;

/// The compressed output once finished: its size and sha256.
#[derive(Debug, Clone)]
pub struct Finished {
    /// Bytes written (compressed, and encrypted when the output is).
    pub bytes: u64,
    /// Lower-case hex sha256 of the whole output, all its volumes joined.
    pub sha256: String,
    /// Each volume's size and digest, in order, when the output is cut into volumes.
    pub volumes: Vec<Digested>,
}

/// One output file's size and digest.
#[derive(Debug, Clone)]
pub struct Digested {
    /// Its size.
    pub bytes: u64,
    /// Lower-case hex sha256.
    pub sha256: String,
}

/// The archive as it stands on disk after [`FramedZstd::durable`]: every frame before
/// `offset` is written and synced, so a later run can cut the file there and go on.
#[derive(Debug, Clone)]
pub struct Durable {
    /// Compressed bytes on disk, ending on a frame boundary.
    pub offset: u64,
    /// Lower-case hex sha256 of those bytes: what a later run checks the file against
    /// before it continues it.
    pub sha256: String,
}

/// A point between two frames to which the writer can return.
pub struct Checkpoint(Box<SinkMark>);

/// What the output thread is asked to do. Pieces carry a sequence number because the
/// pool finishes frames out of order.
enum Output {
    /// Compressed bytes, or why they could not be made.
    Piece(u64, io::Result<Vec<u8>>),
    /// Reply once every piece before this sequence number is written.
    Sync(u64, SyncSender<io::Result<Checkpoint>>),
    /// Drop everything after the checkpoint (all pieces before `u64` are written first).
    Rollback(u64, Checkpoint, SyncSender<io::Result<()>>),
    /// Write what remains, sync the file to disk and stop.
    Finish(u64, SyncSender<io::Result<Finished>>),
}

/// Sends each compressed chunk of a streamed frame to the output thread in order.
struct StreamSink {
    output: SyncSender<Output>,
    next: Arc<Mutex<u64>>,
}

impl Write for StreamSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let seq = take_seq(&self.next);
        self.output.send(Output::Piece(seq, Ok(buf.to_vec()))).map_err(|_| output_gone())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn take_seq(next: &Mutex<u64>) -> u64 {
    let mut next = next.lock().expect("sequence lock");
    let seq = *next;
    *next += 1;
    seq
}

/// A streamed frame: blocks go to a thread running a streaming encoder.
struct StreamFrame {
    blocks: SyncSender<Vec<u8>>,
    thread: JoinHandle<io::Result<()>>,
}

impl StreamFrame {
    fn start(sink: StreamSink, level: i32) -> io::Result<Self> {
        let mut encoder = Encoder::new(sink, level)?;
        encoder.include_checksum(true)?;
        let (blocks, incoming) = sync_channel::<Vec<u8>>(2);
        let thread = std::thread::spawn(move || {
            for block in incoming {
                encoder.write_all(&block)?;
            }
            encoder.finish().map(drop)
        });
        Ok(Self { blocks, thread })
    }

    fn send(&self, block: Vec<u8>) -> io::Result<()> {
        self.blocks.send(block).map_err(|_| io::Error::other("the frame compressor stopped"))
    }

    fn finish(self) -> io::Result<()> {
        drop(self.blocks);
        self.thread.join().map_err(|_| io::Error::other("the frame compressor crashed"))?
    }
}

/// Writes a sequence of zstd frames into one file.
pub struct FramedZstd {
    level: i32,
    buffer: Vec<u8>,
    /// Frame buffers the pool has emptied, for reuse.
    spares: Receiver<Vec<u8>>,
    /// The large member being compressed on its own thread, while one is.
    stream: Option<StreamFrame>,
    next: Arc<Mutex<u64>>,
    pool: Option<SyncSender<(u64, Vec<u8>)>>,
    output: SyncSender<Output>,
    broken: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    /// The output file, for the `fsync` of [`FramedZstd::durable`] (the output thread owns
    /// the writing handle).
    syncing: Option<File>,
}

impl FramedZstd {
    /// Starts writing at the beginning of `sink` (a file, which must be empty, or the
    /// layers of [`Sink`]), with `workers` compression threads (at least one).
    pub fn new(sink: impl Into<Sink>, level: i32, workers: u32) -> Self {
        Self::start(sink.into(), level, workers)
    }

    /// Continues a plain file whose first `offset` bytes are whole frames written earlier,
    /// and whose sha256 so far is `prefix` (the caller read them back: sha2 cannot save its
    /// state). The file is cut at `offset` first; what follows is new frames.
    pub fn resume(mut file: File, level: i32, workers: u32, offset: u64, prefix: Sha256) -> io::Result<Self> {
        file.set_len(offset)?;
        file.seek(SeekFrom::Start(offset))?;
        Ok(Self::start(Sink::resume(file, offset, prefix), level, workers))
    }

    fn start(file: Sink, level: i32, workers: u32) -> Self {
        let workers = workers.max(1);
        let syncing = file.current().try_clone().ok();
        let (output, output_rx) = sync_channel::<Output>(OUTPUT_QUEUE);
        let broken = Arc::new(AtomicBool::new(false));
        let flag = broken.clone();
        let mut threads = vec![std::thread::spawn(move || write_in_order(file, output_rx, &flag))];
        let (pool, pool_rx) = sync_channel::<(u64, Vec<u8>)>(1);
        let pool_rx = Arc::new(Mutex::new(pool_rx));
        let (spare, spares) = sync_channel::<Vec<u8>>(workers as usize + 1);
        for _ in 0..workers {
            let pool_rx = pool_rx.clone();
            let output = output.clone();
            let spare = spare.clone();
            threads.push(std::thread::spawn(move || compress_frames(&pool_rx, &output, &spare, level)));
        }
        Self {
            level,
            buffer: Vec::with_capacity(FRAME_CAPACITY),
            spares,
            stream: None,
            next: Arc::new(Mutex::new(0)),
            pool: Some(pool),
            output,
            broken,
            threads,
            syncing,
        }
    }

    /// Closes the current frame, waits until every frame is written and syncs the file:
    /// the point a later run can continue from.
    pub fn durable(&mut self) -> io::Result<Durable> {
        self.end_frame()?;
        let checkpoint = self.request(Output::Sync)??;
        match &self.syncing {
            Some(file) => file.sync_data()?,
            None => return Err(io::Error::other("cannot sync the archive: its file could not be cloned")),
        }
        Ok(Durable { offset: checkpoint.0.written(), sha256: checkpoint.0.sha256() })
    }

    /// Closes the current frame if it holds at least [`FRAME_TARGET`] bytes.
    pub fn end_frame_if_full(&mut self) -> io::Result<()> {
        if self.stream.is_none() && self.buffer.len() >= FRAME_TARGET { self.end_frame() } else { Ok(()) }
    }

    /// Closes the current frame, if any, so that the next byte starts a new one.
    pub fn end_frame(&mut self) -> io::Result<()> {
        self.check_output()?;
        if let Some(stream) = self.stream.take() {
            if !self.buffer.is_empty() {
                stream.send(std::mem::take(&mut self.buffer))?;
            }
            stream.finish()?;
        } else if !self.buffer.is_empty() {
            let next = self.spares.try_recv().unwrap_or_else(|_| Vec::with_capacity(FRAME_CAPACITY));
            let frame = std::mem::replace(&mut self.buffer, next);
            let seq = take_seq(&self.next);
            self.pool.as_ref().expect("pool open until finish").send((seq, frame)).map_err(|_| output_gone())?;
        }
        Ok(())
    }

    /// Closes the current frame, waits until everything is on disk, and starts a streamed
    /// frame for one large member; returns where to come back if that member fails.
    pub fn begin_streamed_frame(&mut self) -> io::Result<Checkpoint> {
        self.end_frame()?;
        let checkpoint = self.request(Output::Sync)??;
        let sink = StreamSink { output: self.output.clone(), next: self.next.clone() };
        self.stream = Some(StreamFrame::start(sink, self.level)?);
        Ok(checkpoint)
    }

    /// Drops everything written since `checkpoint`, frames and file bytes alike.
    pub fn rollback(&mut self, checkpoint: Checkpoint) -> io::Result<()> {
        if let Some(stream) = self.stream.take() {
            // Its pieces must all have reached the output before the cut; its own outcome
            // no longer matters.
            let _ = stream.finish();
        }
        self.buffer.clear();
        self.request(|seq, reply| Output::Rollback(seq, checkpoint, reply))?
    }

    /// Closes the last frame, syncs the file to disk and returns its size and digest.
    pub fn finish(mut self) -> io::Result<Finished> {
        self.end_frame()?;
        self.pool = None;
        let finished = self.request(Output::Finish)?;
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
        finished
    }

    /// Fails as soon as the output thread has failed, so that a full disk stops the export
    /// at the next frame instead of at the end. The error itself comes from the next
    /// request (sync, rollback or finish), which reports it.
    fn check_output(&mut self) -> io::Result<()> {
        if self.broken.load(Ordering::Relaxed) {
            return self.request(Output::Sync)?.map(drop);
        }
        Ok(())
    }

    /// Sends a request that must see every piece sent so far, and waits for its answer.
    fn request<T>(&mut self, make: impl FnOnce(u64, SyncSender<T>) -> Output) -> io::Result<T> {
        let (reply, answer) = sync_channel(1);
        let upto = *self.next.lock().expect("sequence lock");
        self.output.send(make(upto, reply)).map_err(|_| output_gone())?;
        answer.recv().map_err(|_| output_gone())
    }
}

impl Write for FramedZstd {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let Some(stream) = &self.stream else {
            self.buffer.extend_from_slice(buf);
            return Ok(buf.len());
        };
        // A streamed frame takes its input one block at a time, whatever the caller hands.
        let n = buf.len().min(STREAM_INPUT_BLOCK - self.buffer.len());
        self.buffer.extend_from_slice(&buf[..n]);
        if self.buffer.len() >= STREAM_INPUT_BLOCK {
            let block = std::mem::replace(&mut self.buffer, Vec::with_capacity(STREAM_INPUT_BLOCK));
            stream.send(block)?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn output_gone() -> io::Error {
    io::Error::other("the archive output thread stopped after an earlier error")
}

/// A pool worker: compresses whole frames, single-threaded, with a content checksum, into
/// a buffer it keeps, and hands the emptied frame buffer back for reuse. Reusing both keeps
/// the memory of a long export flat: buffers of several MiB allocated on one thread and
/// freed on another are what makes the allocator's footprint grow.
fn compress_frames(
    jobs: &Mutex<Receiver<(u64, Vec<u8>)>>,
    output: &SyncSender<Output>,
    spares: &SyncSender<Vec<u8>>,
    level: i32,
) {
    let mut compressor = zstd::bulk::Compressor::new(level).and_then(|mut c| c.include_checksum(true).map(|()| c));
    let mut compressed = Vec::new();
    loop {
        let job = jobs.lock().expect("pool lock").recv();
        let Ok((seq, mut frame)) = job else { return };
        let piece = match compressor.as_mut() {
            Ok(compressor) => {
                compressed.clear();
                compressed.reserve(zstd::zstd_safe::compress_bound(frame.len()));
                compressor.compress_to_buffer(&frame, &mut compressed).map(|_| compressed.as_slice().to_vec())
            }
            Err(error) => Err(io::Error::new(error.kind(), error.to_string())),
        };
        frame.clear();
        let _ = spares.try_send(frame);
        if output.send(Output::Piece(seq, piece)).is_err() {
            return;
        }
    }
}

/// The output thread: writes pieces in sequence order, keeps the running digest, and
/// answers sync, rollback and finish requests once all earlier pieces are written.
fn write_in_order(mut file: Sink, requests: Receiver<Output>, broken: &AtomicBool) {
    let writeback = start_writeback();
    let mut synced = file.written();
    let mut next = 0u64;
    let mut early: BTreeMap<u64, io::Result<Vec<u8>>> = BTreeMap::new();
    let mut waiting: Option<Output> = None;
    let mut failed: Option<io::Error> = None;
    loop {
        if let Some(request) = waiting.take() {
            let upto = match &request {
                Output::Sync(upto, _) | Output::Rollback(upto, _, _) | Output::Finish(upto, _) => *upto,
                Output::Piece(..) => unreachable!("pieces never wait"),
            };
            if next < upto {
                waiting = Some(request);
            } else {
                let error = || failed.as_ref().map(|e| io::Error::new(e.kind(), e.to_string()));
                match request {
                    Output::Sync(_, reply) => {
                        let _ = reply.send(match error() {
                            Some(e) => Err(e),
                            None => Ok(Checkpoint(Box::new(file.mark()))),
                        });
                    }
                    Output::Rollback(_, checkpoint, reply) => {
                        let result = match error() {
                            Some(e) => Err(e),
                            None => file.rewind(*checkpoint.0),
                        };
                        synced = synced.min(file.written());
                        early.clear();
                        let _ = reply.send(result);
                    }
                    Output::Finish(_, reply) => {
                        let result = match error() {
                            Some(e) => Err(e),
                            None => file.finish(),
                        };
                        let _ = reply.send(result);
                        return;
                    }
                    Output::Piece(..) => unreachable!(),
                }
                continue;
            }
        }
        let Ok(message) = requests.recv() else { return };
        match message {
            Output::Piece(seq, piece) => {
                early.insert(seq, piece);
                while let Some(piece) = early.remove(&next) {
                    if failed.is_none() {
                        match piece.and_then(|bytes| file.write_all(&bytes)) {
                            Ok(()) => {
                                let offset = file.written();
                                if offset - synced >= WRITEBACK_EVERY {
                                    if let (Some(writeback), Ok(current)) = (&writeback, file.current().try_clone()) {
                                        let _ = writeback.try_send(current);
                                    }
                                    synced = offset;
                                }
                            }
                            Err(e) => {
                                failed = Some(e);
                                broken.store(true, Ordering::Relaxed);
                            }
                        }
                    }
                    next += 1;
                }
            }
            request => waiting = Some(request),
        }
    }
}

/// A thread that flushes the file it is handed to disk, without blocking the output thread.
/// Durability comes from the final sync; this only spreads the write-back over the export.
/// A file handed while a flush runs is dropped.
fn start_writeback() -> Option<SyncSender<File>> {
    let (poke, pokes) = sync_channel::<File>(1);
    std::thread::Builder::new()
        .spawn(move || {
            while let Ok(file) = pokes.recv() {
                let _ = file.sync_data();
            }
        })
        .ok()?;
    Some(poke)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};
    use std::io::Read;
    use std::io::{Seek, SeekFrom};

    fn frames_of(bytes: &[u8]) -> usize {
        // Each zstd frame begins with the magic number 0xFD2FB528 (little endian).
        bytes.windows(4).filter(|w| *w == [0x28, 0xB5, 0x2F, 0xFD]).count()
    }

    fn read_back(mut file: File) -> Vec<u8> {
        let mut bytes = Vec::new();
        file.seek(SeekFrom::Start(0)).unwrap();
        file.read_to_end(&mut bytes).unwrap();
        bytes
    }

    #[test]
    fn rollback_removes_a_streamed_frame_and_the_stream_stays_valid() {
        let tmp = tempfile::tempfile().unwrap();
        let out = tmp.try_clone().unwrap();
        let mut writer = FramedZstd::new(tmp, 3, 2);
        writer.write_all(b"first ").unwrap();
        let checkpoint = writer.begin_streamed_frame().unwrap();
        writer.write_all(&vec![b'x'; 3 << 20]).unwrap();
        writer.rollback(checkpoint).unwrap();
        writer.write_all(b"second ").unwrap();
        writer.begin_streamed_frame().unwrap();
        writer.write_all(b"streamed").unwrap();
        writer.end_frame().unwrap();
        let finished = writer.finish().unwrap();

        let bytes = read_back(out);
        assert_eq!(bytes.len() as u64, finished.bytes);
        assert_eq!(finished.sha256, hex::encode(Sha256::digest(&bytes)));
        assert_eq!(frames_of(&bytes), 3);
        let mut plain = String::new();
        zstd::stream::read::Decoder::new(&bytes[..]).unwrap().read_to_string(&mut plain).unwrap();
        assert_eq!(plain, "first second streamed");
    }

    #[test]
    fn a_resumed_file_continues_after_its_durable_frames() {
        let tmp = tempfile::tempfile().unwrap();
        let out = tmp.try_clone().unwrap();
        let mut writer = FramedZstd::new(tmp.try_clone().unwrap(), 3, 2);
        writer.write_all(b"kept ").unwrap();
        let durable = writer.durable().unwrap();
        writer.write_all(b"lost").unwrap();
        writer.end_frame().unwrap();
        writer.durable().unwrap();
        drop(writer);

        let prefix = Sha256::new_with_prefix(&read_back(out.try_clone().unwrap())[..durable.offset as usize]);
        assert_eq!(hex::encode(prefix.clone().finalize()), durable.sha256);
        let mut writer = FramedZstd::resume(tmp, 3, 1, durable.offset, prefix).unwrap();
        writer.write_all(b"then more").unwrap();
        let finished = writer.finish().unwrap();
        let bytes = read_back(out);
        assert_eq!(finished.sha256, hex::encode(Sha256::digest(&bytes)));
        let mut plain = String::new();
        zstd::stream::read::Decoder::new(&bytes[..]).unwrap().read_to_string(&mut plain).unwrap();
        assert_eq!(plain, "kept then more");
    }

    #[test]
    fn parallel_frames_come_out_in_order() {
        let tmp = tempfile::tempfile().unwrap();
        let out = tmp.try_clone().unwrap();
        let mut writer = FramedZstd::new(tmp, 1, 3);
        let mut expected = Vec::new();
        for i in 0..40u32 {
            let piece: Vec<u8> =
                (0..(FRAME_TARGET / 7)).map(|j| (j as u32 ^ i.wrapping_mul(2654435761)) as u8).collect();
            writer.write_all(&piece).unwrap();
            expected.extend_from_slice(&piece);
            writer.end_frame_if_full().unwrap();
        }
        writer.finish().unwrap();
        let bytes = read_back(out);
        assert!(frames_of(&bytes) >= 5);
        let mut plain = Vec::new();
        zstd::stream::read::Decoder::new(&bytes[..]).unwrap().read_to_end(&mut plain).unwrap();
        assert!(plain == expected, "content differs");
    }
}
