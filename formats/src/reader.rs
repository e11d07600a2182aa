//! Reading a Sortie archive as the stream it is: zstd frames holding one pax tar.
//!
//! Every archive given to Sortie is treated as hostile. The `tar` crate reads pax extended
//! headers and GNU long names whole into memory, whatever size they declare (a 145 KB
//! archive declaring a 4 GiB pax header made `verify` take 6 GB); [`Members`] reads the
//! raw entries instead and keeps at most [`MAX_EXTENSION`] bytes of any of them, refuses
//! malformed pax records, and tells a truncated tar from a finished one. Every error it
//! returns is an [`ArchiveError`] naming the offset in the decompressed tar stream.

use std::cell::Cell;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Component, Path, PathBuf};
use std::rc::Rc;

use sha2::{Digest, Sha256};
use tar::EntryType;

use crate::input::{Input, Transport};
use crate::tar_member::BLOCK;

/// The most bytes of a pax extended header or GNU long name/link the reader keeps. Sortie
/// writes a few hundred bytes at most (a path); a few MiB is far above any honest archive.
pub const MAX_EXTENSION: u64 = 1 << 20;
/// The longest member path accepted. Sortie's longest (a 1,024-byte key, escaped, under its
/// source's directory) is a few KiB; every path is kept in memory while a member is read.
pub const MAX_PATH: usize = 64 << 10;
/// The pax records Sortie reads or that cannot change where a member lands or what it holds;
/// any other (`GNU.sparse.*`, `hdrcharset`, …) makes other tools read the archive
/// differently, and is refused.
const PAX_KEYS: &[&[u8]] =
    &[b"path", b"size", b"mtime", b"atime", b"ctime", b"uid", b"gid", b"uname", b"gname", b"comment"];
/// zstd frames that need a larger window than 2^27 bytes (128 MiB, zstd's own default
/// limit) are refused, so that one frame header cannot make the decoder allocate more.
const MAX_WINDOW_LOG: u32 = 27;

/// What makes an archive unreadable: its content, never the local file system.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ArchiveError {
    message: String,
}

impl ArchiveError {
    /// A fault of the archive found past its members, where no offset applies.
    pub fn new(message: impl Into<String>) -> Self {
        Self { message: message.into() }
    }

    fn at(offset: u64, message: impl std::fmt::Display) -> io::Error {
        io::Error::new(
            io::ErrorKind::InvalidData,
            Self { message: format!("{message} (at byte {offset} of the decompressed tar stream)") },
        )
    }

    /// Whether `error` says the archive is bad (exit 4), as opposed to a local input/output
    /// failure: the file was read, its content is wrong.
    pub fn is_archive_fault(error: &io::Error) -> bool {
        error.get_ref().is_some_and(|inner| inner.is::<ArchiveError>())
    }

    /// Keeps local read failures as they are and makes every other error of the reading path
    /// (the zstd decoder's, the tar parser's) an archive fault.
    fn classify(error: io::Error, offset: u64, what: &str) -> io::Error {
        if error.get_ref().is_some_and(|inner| inner.is::<ArchiveError>() || inner.is::<LocalRead>()) {
            return error;
        }
        Self::at(offset, format!("{what} ({})", crate::shown::shown(&error.to_string())))
    }
}

/// A failure to read the archive file itself, told apart from a fault of its content.
#[derive(Debug, thiserror::Error)]
#[error("cannot read the archive file: {0}")]
struct LocalRead(io::Error);

/// The archive file, its read errors marked as [`LocalRead`].
struct LocalFile(Box<dyn Read>);

impl Read for LocalFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // A fault the layers below found (a volume out of place, a failed decryption) stays one.
        self.0
            .read(buf)
            .map_err(|e| if ArchiveError::is_archive_fault(&e) { e } else { io::Error::new(e.kind(), LocalRead(e)) })
    }
}

/// Counts and hashes the compressed bytes as the decoder pulls them, so that one pass over
/// the file also checks the `.sha256` sidecar.
pub struct HashingReader<R> {
    inner: R,
    /// None when the layer below hashes the files itself (encrypted or cut into volumes).
    hasher: Option<Sha256>,
    bytes: u64,
}

impl<R: Read> HashingReader<R> {
    /// Wraps `inner`.
    pub fn new(inner: R) -> Self {
        Self { inner, hasher: Some(Sha256::new()), bytes: 0 }
    }

    /// Reads to the end, then returns the byte count and hex sha256 of everything read
    /// (empty when the layer below hashes the files itself).
    pub fn drain_and_finish(mut self) -> io::Result<(u64, String)> {
        io::copy(&mut self, &mut io::sink())?;
        Ok((self.bytes, self.hasher.map(|h| hex::encode(h.finalize())).unwrap_or_default()))
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(hasher) = &mut self.hasher {
            hasher.update(&buf[..n]);
        }
        self.bytes += n as u64;
        Ok(n)
    }
}

type Compressed = BufReader<HashingReader<LocalFile>>;

/// Decompresses one zstd frame after another and counts the frames completed, so that a
/// reader can tell which members a damaged frame held: its checksum is only checked at
/// the frame's end, after the members inside it were already read. Also counts the
/// decompressed bytes, which places every error at an offset.
pub struct FrameReader {
    decoder: Option<zstd::stream::read::Decoder<'static, Compressed>>,
    done: Option<Compressed>,
    frames: Rc<Cell<u64>>,
    position: Rc<Cell<u64>>,
}

impl FrameReader {
    fn new(compressed: Compressed) -> io::Result<Self> {
        let mut reader =
            Self { decoder: None, done: None, frames: Rc::new(Cell::new(0)), position: Rc::new(Cell::new(0)) };
        reader.start(compressed)?;
        Ok(reader)
    }

    fn start(&mut self, mut compressed: Compressed) -> io::Result<()> {
        if compressed.fill_buf()?.is_empty() {
            self.done = Some(compressed);
        } else {
            let mut decoder = zstd::stream::read::Decoder::with_buffer(compressed)?.single_frame();
            decoder
                .window_log_max(MAX_WINDOW_LOG)
                .map_err(|e| ArchiveError::classify(e, self.position.get(), "the zstd decoder refused its settings"))?;
            self.decoder = Some(decoder);
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
            let n = decoder.read(buf).map_err(|e| {
                ArchiveError::classify(e, self.position.get(), "the zstd stream is corrupt or not zstd")
            })?;
            if n > 0 || buf.is_empty() {
                self.position.set(self.position.get() + n as u64);
                return Ok(n);
            }
            let compressed = self.decoder.take().expect("present").finish();
            self.frames.set(self.frames.get() + 1);
            self.start(compressed)?;
        }
        Ok(0)
    }
}

/// An archive opened for one sequential pass.
pub struct Archive {
    tar: tar::Archive<FrameReader>,
    frames: Rc<Cell<u64>>,
    position: Rc<Cell<u64>>,
    transport: Option<Transport>,
}

/// Opens the archive at `input` (a file, a volume set, encrypted or not) for one
/// sequential pass.
pub fn open(input: &Input) -> io::Result<Archive> {
    let (reader, transport) = input.open()?;
    let mut archive = from_hashed(reader, !transport.hashes_files())?;
    archive.transport = Some(transport);
    Ok(archive)
}

/// Opens an archive held by any reader (a file, bytes in memory for the fuzz target).
pub fn from_reader(reader: Box<dyn Read>) -> io::Result<Archive> {
    from_hashed(reader, true)
}

fn from_hashed(reader: Box<dyn Read>, hashed: bool) -> io::Result<Archive> {
    let mut hashing = HashingReader::new(LocalFile(reader));
    if !hashed {
        hashing.hasher = None;
    }
    let frames = FrameReader::new(BufReader::with_capacity(1 << 16, hashing))?;
    let (count, position) = (frames.frames(), frames.position.clone());
    Ok(Archive { tar: tar::Archive::new(frames), frames: count, position, transport: None })
}

impl Archive {
    /// The count of zstd frames read and checked so far.
    pub fn frames(&self) -> Rc<Cell<u64>> {
        self.frames.clone()
    }

    /// The members, one after the other. Each must be read (or dropped) before the next.
    pub fn members(&mut self) -> io::Result<Members<'_>> {
        let position = self.position.clone();
        Ok(Members { entries: self.tar.entries()?.raw(true), position, next_header: 0, count: 0, finished: false })
    }

    /// The error to report for a pass that stopped with `error`: a volume out of place or
    /// damaged, when there is one, says more (the rest of the volumes is read to find it).
    pub fn explain(self, error: io::Error) -> io::Error {
        match self.transport {
            Some(transport) => transport.explain(error),
            None => error,
        }
    }

    /// The transport checks of an archive opened with [`open`], to read after [`Archive::finish`].
    pub(crate) fn take_transport(&mut self) -> Option<Transport> {
        self.transport.take()
    }

    /// Ends a pass: drains what the tar reader left (counting trailing non-zero bytes,
    /// which a well-formed archive does not have) and the rest of the file, and returns
    /// (trailing non-zero bytes or the error that stopped decompression, file sha256).
    /// After `failed` (the members could not be read to their end) nothing more is
    /// decompressed: a zstd bomb behind the damage would only cost time.
    pub fn finish(self, failed: bool) -> io::Result<(Result<u64, io::Error>, String)> {
        let mut frames = self.tar.into_inner();
        let mut trailing = Ok(0u64);
        let mut buf = [0u8; 1 << 16];
        if !failed {
            loop {
                match frames.read(&mut buf) {
                    Ok(0) => break,
                    // Compared as a slice (a memcmp), not byte by byte: a run of zeros can be long.
                    Ok(n) if buf[..n] == [0u8; 1 << 16][..n] => {}
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
}

/// One file, directory, link or special member, with its path as the pax or GNU
/// extension headers before it set it.
pub struct Member<'a> {
    entry: tar::Entry<'a, FrameReader>,
    path: Vec<u8>,
    /// Where the member's first header (an extension header's, when it has one) starts in
    /// the decompressed tar stream, for messages.
    offset: u64,
    /// Body bytes not read yet: the `tar` crate ends a body cut short by the end of the
    /// stream without an error.
    remaining: u64,
}

impl Member<'_> {
    /// The path, byte for byte.
    pub fn path_bytes(&self) -> &[u8] {
        &self.path
    }

    /// The path as text, or a lossy rendering with `false` when it is not UTF-8.
    pub fn path(&self) -> (String, bool) {
        match std::str::from_utf8(&self.path) {
            Ok(text) => (text.to_owned(), true),
            Err(_) => (String::from_utf8_lossy(&self.path).into_owned(), false),
        }
    }

    /// The tar entry type.
    pub fn kind(&self) -> EntryType {
        self.entry.header().entry_type()
    }

    /// The size of the member's body.
    pub fn size(&self) -> u64 {
        self.entry.size()
    }

    /// The modification time of the ustar header, in seconds since the epoch (0 when the
    /// field is not a number). Sortie writes the source's there, and no pax `mtime`.
    pub fn mtime(&self) -> u64 {
        self.entry.header().mtime().unwrap_or(0)
    }
}

impl Read for Member<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let offset = self.offset;
        let n = self.entry.read(buf).map_err(|e| ArchiveError::classify(e, offset, "unreadable member body"))?;
        if n == 0 && self.remaining > 0 && !buf.is_empty() {
            let size = self.entry.size();
            return Err(ArchiveError::at(
                offset,
                format!(
                    "the member's body ends after {} of its {size} bytes: the archive is truncated",
                    size - self.remaining
                ),
            ));
        }
        self.remaining -= n as u64;
        Ok(n)
    }
}

/// The members of an archive, read through bounded extension headers.
pub struct Members<'a> {
    entries: tar::Entries<'a, FrameReader>,
    position: Rc<Cell<u64>>,
    /// Where the next header starts in the decompressed stream.
    next_header: u64,
    count: u64,
    finished: bool,
}

/// Extension headers met before the member they describe.
#[derive(Default)]
struct Extensions {
    pax_path: Option<Vec<u8>>,
    pax_size: Option<u64>,
    gnu_name: Option<Vec<u8>>,
    seen_pax: bool,
    seen_gnu_name: bool,
    seen_gnu_link: bool,
    pending: bool,
}

impl<'a> Members<'a> {
    fn next_member(&mut self) -> io::Result<Option<Member<'a>>> {
        let mut extensions = Extensions::default();
        loop {
            let header_at = self.next_header;
            let entry = match self.entries.next() {
                None => return self.end(header_at, extensions.pending),
                Some(Err(e)) => return Err(self.fault(header_at, e)),
                Some(Ok(entry)) => entry,
            };
            let size = entry.size();
            self.next_header = entry
                .raw_file_position()
                .checked_add(size.div_ceil(BLOCK) * BLOCK)
                .ok_or_else(|| ArchiveError::at(header_at, "a member's size overflows"))?;
            let kind = entry.header().entry_type();
            let header = entry.header().as_bytes();
            if &header[257..263] == b"ustar\0" && &header[263..265] != b"00" {
                // The `tar` crate then ignores the ustar prefix, which GNU tar and Python
                // prepend to the name: the two would see different paths.
                return Err(ArchiveError::at(
                    header_at,
                    "a ustar header with a version other than 00: refused, tools would disagree on its path",
                ));
            }
            if kind.is_pax_global_extensions() {
                return Err(ArchiveError::at(
                    header_at,
                    "a pax global header, which changes how other tools read every later member: Sortie writes none and refuses it",
                ));
            }
            if kind.is_pax_local_extensions() || kind.is_gnu_longname() || kind.is_gnu_longlink() {
                extensions.read(entry, header_at)?;
                continue;
            }
            if let Some(declared) = extensions.pax_size.filter(|declared| *declared != size) {
                return Err(ArchiveError::at(
                    header_at,
                    format!(
                        "a pax header gives the member {declared} bytes but its tar header {size}: refused, tools would disagree on where it ends"
                    ),
                ));
            }
            let path = extensions.pax_path.or(extensions.gnu_name).unwrap_or_else(|| entry.path_bytes().into_owned());
            if path.len() > MAX_PATH {
                return Err(ArchiveError::at(
                    header_at,
                    format!("a member path of {} bytes; more than {MAX_PATH} is refused", path.len()),
                ));
            }
            self.count += 1;
            return Ok(Some(Member { entry, path, offset: header_at, remaining: size }));
        }
    }

    /// The tar reader stopped: at the end-of-archive block, or at the end of the stream,
    /// which a finished archive never reaches before that block.
    fn end(&mut self, header_at: u64, pending: bool) -> io::Result<Option<Member<'a>>> {
        self.finished = true;
        if pending {
            return Err(ArchiveError::at(header_at, "extension headers are not followed by the member they describe"));
        }
        if self.position.get() < header_at + BLOCK {
            let what = if self.count == 0 && header_at == 0 {
                "the archive is empty"
            } else {
                "the tar stream ends without its end-of-archive blocks: the archive is truncated"
            };
            return Err(ArchiveError::at(header_at, what));
        }
        Ok(None)
    }

    fn fault(&mut self, header_at: u64, error: io::Error) -> io::Error {
        self.finished = true;
        let what = if self.position.get() < header_at + BLOCK {
            "the tar stream ends early: the archive is truncated"
        } else {
            "unreadable tar header"
        };
        ArchiveError::classify(error, header_at, what)
    }
}

impl Extensions {
    fn read(&mut self, mut entry: tar::Entry<'_, FrameReader>, header_at: u64) -> io::Result<()> {
        let kind = entry.header().entry_type();
        let size = entry.size();
        let name = if kind.is_pax_local_extensions() { "pax extended header" } else { "GNU long name" };
        if size > MAX_EXTENSION {
            return Err(ArchiveError::at(
                header_at,
                format!(
                    "a {name} declares {size} bytes; more than {MAX_EXTENSION} is refused (Sortie writes a few hundred)"
                ),
            ));
        }
        let seen = if kind.is_pax_local_extensions() {
            &mut self.seen_pax
        } else if kind.is_gnu_longname() {
            &mut self.seen_gnu_name
        } else {
            &mut self.seen_gnu_link
        };
        if std::mem::replace(seen, true) {
            return Err(ArchiveError::at(header_at, format!("two {name}s describe the same member")));
        }
        let mut data = Vec::with_capacity(size as usize);
        entry
            .read_to_end(&mut data)
            .map_err(|e| ArchiveError::classify(e, header_at, "unreadable extension header"))?;
        if data.len() as u64 != size {
            return Err(ArchiveError::at(header_at, format!("the {name} ends early: the archive is truncated")));
        }
        self.pending = true;
        if kind.is_gnu_longname() {
            while data.last() == Some(&0) {
                data.pop();
            }
            self.gnu_name = Some(data);
        } else if kind.is_pax_local_extensions() {
            for record in tar::PaxExtensions::new(&data) {
                let record = record.map_err(|_| ArchiveError::at(header_at, "a malformed pax record"))?;
                match record.key_bytes() {
                    b"path" => self.pax_path = Some(record.value_bytes().to_vec()),
                    b"size" => {
                        let size = record.value().ok().and_then(|v| v.parse().ok());
                        self.pax_size =
                            Some(size.ok_or_else(|| ArchiveError::at(header_at, "a pax size record is not a number"))?);
                    }
                    key if PAX_KEYS.contains(&key) => {}
                    key => {
                        let key = crate::shown::shown(&String::from_utf8_lossy(key));
                        return Err(ArchiveError::at(
                            header_at,
                            format!(
                                "a pax record {key:?}, which Sortie never writes and which can make other tools read the member differently: refused"
                            ),
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

impl<'a> Iterator for Members<'a> {
    type Item = io::Result<Member<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.finished {
            return None;
        }
        self.next_member().transpose()
    }
}

/// A relative path made only of plain components (no root, no `..`, no `.`, no empty
/// segment), or `None`: the paths `extract` writes and `verify` accepts.
pub fn safe_relative(bytes: &[u8]) -> Option<PathBuf> {
    let text = std::str::from_utf8(bytes).ok()?;
    let text = text.strip_suffix('/').unwrap_or(text);
    if text.is_empty() || text.starts_with('/') || text.split('/').any(|s| s.is_empty() || s == "." || s == "..") {
        return None;
    }
    let path = Path::new(text);
    path.components().all(|c| matches!(c, Component::Normal(_))).then(|| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn compress(tar: &[u8]) -> Vec<u8> {
        let mut encoder = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
        encoder.write_all(tar).unwrap();
        encoder.finish().unwrap()
    }

    fn header(kind: EntryType, name: &str, size: u64) -> tar::Header {
        let mut header = tar::Header::new_ustar();
        header.set_entry_type(kind);
        header.set_path(name).unwrap();
        header.set_size(size);
        header.set_mode(0o644);
        header.set_cksum();
        header
    }

    fn read_all(tar: &[u8]) -> io::Result<Vec<(String, Vec<u8>)>> {
        let mut archive = from_reader(Box::new(io::Cursor::new(compress(tar))))?;
        let mut out = Vec::new();
        for member in archive.members()? {
            let mut member = member?;
            let mut data = Vec::new();
            member.read_to_end(&mut data)?;
            out.push((member.path().0, data));
        }
        Ok(out)
    }

    fn with_body(header: tar::Header, body: &[u8]) -> Vec<u8> {
        let mut out = header.as_bytes().to_vec();
        out.extend_from_slice(body);
        out.resize(out.len().div_ceil(512) * 512, 0);
        out
    }

    #[test]
    fn pax_paths_are_applied_and_the_end_is_required() {
        let mut tar = Vec::new();
        let record = "27 path=bag/data/long-name\n";
        tar.extend(with_body(header(EntryType::XHeader, "pax", record.len() as u64), record.as_bytes()));
        tar.extend(with_body(header(EntryType::Regular, "short", 3), b"abc"));
        let mut finished = tar.clone();
        finished.extend([0; 1024]);
        assert_eq!(read_all(&finished).unwrap(), [("bag/data/long-name".to_owned(), b"abc".to_vec())]);
        let error = read_all(&tar).unwrap_err();
        assert!(error.to_string().contains("truncated"), "{error}");
        assert!(ArchiveError::is_archive_fault(&error));
        assert!(read_all(&[]).unwrap_err().to_string().contains("empty"));
    }

    #[test]
    fn huge_malformed_or_disagreeing_extension_headers_are_refused() {
        // A 4 GiB pax header: refused from its header alone, before any of it is read.
        let mut huge = header(EntryType::XHeader, "pax", 4 << 30).as_bytes().to_vec();
        huge.extend([b'9'; 512]);
        let error = read_all(&huge).unwrap_err().to_string();
        assert!(error.contains("4294967296 bytes") && error.contains("at byte 0"), "{error}");
        let mut long = header(EntryType::GNULongName, "././@LongLink", 4 << 30).as_bytes().to_vec();
        long.extend([b'a'; 512]);
        assert!(read_all(&long).unwrap_err().to_string().contains("GNU long name"));

        let malformed = "99 path=x\n";
        let mut tar = with_body(header(EntryType::XHeader, "pax", malformed.len() as u64), malformed.as_bytes());
        tar.extend(with_body(header(EntryType::Regular, "f", 1), b"x"));
        tar.extend([0; 1024]);
        assert!(read_all(&tar).unwrap_err().to_string().contains("malformed pax record"));

        let size = "9 size=1\n";
        let mut tar = with_body(header(EntryType::XHeader, "pax", size.len() as u64), size.as_bytes());
        tar.extend(with_body(header(EntryType::Regular, "f", 3), b"abc"));
        tar.extend([0; 1024]);
        let error = read_all(&tar).unwrap_err().to_string();
        assert!(error.contains("gives the member 1 bytes but its tar header 3"), "{error}");
    }

    #[test]
    fn only_plain_relative_paths_are_safe() {
        for good in ["bag/data/x", "bag/", "a/b.c/..d"] {
            assert!(safe_relative(good.as_bytes()).is_some(), "{good}");
        }
        for bad in ["/etc/passwd", "bag/data/../../escaped.txt", "bag/./x", "bag//x", "..", "", "bag/.."] {
            assert!(safe_relative(bad.as_bytes()).is_none(), "{bad}");
        }
    }
}
