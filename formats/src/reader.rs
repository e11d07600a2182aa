//! Reading a Sortie archive as the stream it is: zstd frames holding one pax tar.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

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
        Self {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
        }
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

/// The decompressed tar stream of an archive file.
pub type TarStream =
    tar::Archive<zstd::stream::read::Decoder<'static, BufReader<HashingReader<File>>>>;

/// Opens an archive for one sequential pass.
pub fn open(path: &Path) -> io::Result<TarStream> {
    let file = File::open(path)?;
    let decoder = zstd::stream::read::Decoder::with_buffer(BufReader::with_capacity(
        1 << 16,
        HashingReader::new(file),
    ))?;
    Ok(tar::Archive::new(decoder))
}

/// Ends a pass: drains what the tar reader left (counting trailing non-zero bytes, which
/// a well-formed archive does not have) and the rest of the file, and returns
/// (trailing non-zero bytes or the error that stopped decompression, file sha256).
pub fn finish(stream: TarStream) -> io::Result<(Result<u64, io::Error>, String)> {
    let mut decoder = stream.into_inner();
    let mut trailing = Ok(0u64);
    let mut buf = [0u8; 8192];
    loop {
        match decoder.read(&mut buf) {
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
    let mut buffered = decoder.finish();
    io::copy(&mut buffered, &mut io::sink())?;
    let (_, digest) = buffered.into_inner().drain_and_finish()?;
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
