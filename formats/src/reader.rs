//! Reading a Sortie archive as the stream it is: zstd frames holding one pax tar.

use std::cell::Cell;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;
use std::rc::Rc;

use sha2::{Digest, Sha256};

/// Counts and hashes the compressed bytes as the decoder pulls them, so that one pass over
/// the file also checks the `.sha256` sidecar.
pub struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    bytes: u64,
}

impl<R: Read> HashingReader<R> {
    /// Wraps `inner`.
    pub fn new(inner: R) -> Self {
        Self { inner, hasher: Sha256::new(), bytes: 0 }
    }

    /// Reads to the end, then returns the byte count and hex sha256 of everything read.
    pub fn drain_and_finish(mut self) -> io::Result<(u64, String)> {
        io::copy(&mut self, &mut io::sink())?;
        Ok((self.bytes, hex::encode(self.hasher.finalize())))
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

type Compressed = BufReader<HashingReader<File>>;

/// Decompresses one zstd frame after another and counts the frames completed, so that a
/// reader can tell which members a damaged frame held: its checksum is only checked at
/// the frame's end, after the members inside it were already read.
pub struct FrameReader {
    decoder: Option<zstd::stream::read::Decoder<'static, Compressed>>,
    done: Option<Compressed>,
    frames: Rc<Cell<u64>>,
}

impl FrameReader {
    fn new(compressed: Compressed) -> io::Result<Self> {
        let mut reader = Self { decoder: None, done: None, frames: Rc::new(Cell::new(0)) };
        reader.start(compressed)?;
        Ok(reader)
    }

    fn start(&mut self, mut compressed: Compressed) -> io::Result<()> {
        if compressed.fill_buf()?.is_empty() {
            self.done = Some(compressed);
        } else {
            self.decoder = Some(zstd::stream::read::Decoder::with_buffer(compressed)?.single_frame());
        }
        Ok(())
    }

    /// The count of frames fully read and checked so far.
    pub fn frames(&self) -> Rc<Cell<u64>> {
        self.frames.clone()
    }

    /// The compressed reader, once every frame is read (or the rest of it after an error).
    fn into_compressed(self) -> Option<Compressed> {
        self.done.or_else(|| self.decoder.map(|d| d.finish()))
    }
}

impl Read for FrameReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while let Some(decoder) = self.decoder.as_mut() {
            let n = decoder.read(buf)?;
            if n > 0 || buf.is_empty() {
                return Ok(n);
            }
            let compressed = self.decoder.take().expect("present").finish();
            self.frames.set(self.frames.get() + 1);
            self.start(compressed)?;
        }
        Ok(0)
    }
}

/// The decompressed tar stream of an archive file.
pub type TarStream = tar::Archive<FrameReader>;

/// Opens an archive for one sequential pass.
pub fn open(path: &Path) -> io::Result<TarStream> {
    open_counting_frames(path).map(|(stream, _)| stream)
}

/// Opens an archive for one sequential pass, with the count of zstd frames read so far.
pub fn open_counting_frames(path: &Path) -> io::Result<(TarStream, Rc<Cell<u64>>)> {
    let file = File::open(path)?;
    let frames = FrameReader::new(BufReader::with_capacity(1 << 16, HashingReader::new(file)))?;
    let count = frames.frames();
    Ok((tar::Archive::new(frames), count))
}

/// Ends a pass: drains what the tar reader left (counting trailing non-zero bytes, which
/// a well-formed archive does not have) and the rest of the file, and returns
/// (trailing non-zero bytes or the error that stopped decompression, file sha256).
pub fn finish(stream: TarStream) -> io::Result<(Result<u64, io::Error>, String)> {
    let mut frames = stream.into_inner();
    let mut trailing = Ok(0u64);
    let mut buf = [0u8; 8192];
    loop {
        match frames.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if let Ok(count) = trailing.as_mut() {
                    *count += buf[..n].iter().filter(|b| **b != 0).count() as u64;
                }
            }
            Err(e) => {
                trailing = Err(e);
                break;
            }
        }
    }
    let digest = match frames.into_compressed() {
        Some(mut compressed) => {
            io::copy(&mut compressed, &mut io::sink())?;
            compressed.into_inner().drain_and_finish()?.1
        }
        None => return Err(io::Error::other("the archive reader lost its file")),
    };
    Ok((trailing, digest))
}

/// A member's path as text, or a lossy rendering with a flag when it is not UTF-8.
pub fn member_path(entry: &tar::Entry<'_, impl Read>) -> (String, bool) {
    let bytes = entry.path_bytes();
    match std::str::from_utf8(&bytes) {
        Ok(text) => (text.to_owned(), true),
        Err(_) => (String::from_utf8_lossy(&bytes).into_owned(), false),
    }
}
