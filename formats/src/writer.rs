//! The synchronous archive writer: members go into one pax tar stream compressed into
//! framed zstd, the manifest is spooled to a temporary file and the tag files are written
//! last, ending with the tag manifest.
//!
//! It is synchronous on purpose: the tar and zstd encoders are, and one dedicated thread
//! owns this writer while the async side feeds it through a bounded channel. Bodies are
//! read as buffers (`BufRead`) and hashed and written straight from them.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Seek, SeekFrom, Write};
use std::path::Path;

use sha2::{Digest, Sha256};
use tar::EntryType;

use crate::bagit::{self, BAG_INFO, BAGIT, MANIFEST, TAG_MANIFEST};
use crate::framed_zstd::{Durable, Finished, FramedZstd};
use crate::sink::Sink;
use crate::spool::Spool;
use crate::tar_member;

/// Members larger than this are compressed as they are read, in a frame of their own,
/// instead of being gathered in memory with others.
const STREAM_ABOVE: u64 = 1 << 20;

/// How to compress.
#[derive(Debug, Clone, Copy)]
pub struct WriterOptions {
    /// zstd level, 1 to 19.
    pub level: i32,
    /// Compression threads (at least one).
    pub workers: u32,
}

/// A payload member once in the archive.
#[derive(Debug, Clone)]
pub struct Written {
    /// Lower-case hex sha256 of the bytes written into the tar.
    pub sha256: String,
    /// Bytes written, equal to the announced size.
    pub size: u64,
}

/// What an archive holds at a durable point ([`ArchiveWriter::durable`]): enough for a
/// later run to continue it with [`ArchiveWriter::resume`].
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DurablePoint {
    /// Compressed bytes on disk, ending on a frame boundary.
    pub archive_bytes: u64,
    /// Their sha256, lower-case hex.
    pub archive_sha256: String,
    /// Bytes of the manifest spool holding the lines of the members before that point.
    pub manifest_bytes: u64,
    /// Payload bytes before that point (`Payload-Oxum`).
    pub payload_bytes: u64,
    /// Payload files before that point.
    pub payload_files: u64,
}

/// Why a payload member could not be written.
#[derive(Debug, thiserror::Error)]
pub enum AddError {
    /// The body failed or did not have the announced length. Nothing of it was kept: the
    /// archive is as it was before the call, and the caller may retry or record a failure.
    #[error("{0}")]
    Body(io::Error),
    /// Writing the archive itself failed (disk full, I/O error): the archive is unusable.
    #[error("cannot write the archive: {0}")]
    Archive(io::Error),
}

/// Evidence that closes a bag: tag files it adds to the tag manifest (the signer's public
/// key), and members over the finished tag manifest that follow it, unlisted (a signature,
/// a time-stamp token). Called on the writer's thread, where blocking is allowed.
pub trait Seal: Send + Sync + std::fmt::Debug {
    /// Tag files written before the tag manifest, so that it lists them: (name, content).
    fn tag_files(&self) -> Vec<(&'static str, Vec<u8>)>;
    /// The members to write after the tag manifest, given its bytes; names among
    /// [`bagit::SEALS`], in that order. A seal it could not get (a time-stamping authority
    /// that does not answer) is left out and remembered by the implementation: the archive
    /// stays whole. An `Err` fails the archive.
    fn seal(&self, tag_manifest: &[u8]) -> io::Result<Vec<(&'static str, Vec<u8>)>>;
    /// What the restitution page shows of the seals: the signer's key id, and the time
    /// stamp once [`Self::seal`] got one.
    fn evidence(&self) -> crate::report_html::Evidence;
}

/// Writes one Sortie archive.
pub struct ArchiveWriter {
    out: FramedZstd,
    bag: String,
    manifest: BufWriter<Spool>,
    manifest_bytes: u64,
    payload_bytes: u64,
    payload_files: u64,
    tags: Vec<(String, String)>,
}

impl ArchiveWriter {
    /// Starts an archive in `file` (empty, opened for writing, or the layers of a [`Sink`]) whose members live under
    /// `bag/`, and writes `bagit.txt` first so that a streaming reader knows what follows.
    /// The manifest lines are spooled into `manifest`, an empty spool beside the output (so
    /// it uses that disk), named and in clear when the export is to be resumable.
    pub fn create(file: impl Into<Sink>, bag: &str, manifest: Spool, options: WriterOptions) -> io::Result<Self> {
        let mut writer = Self {
            out: FramedZstd::new(file, options.level, options.workers),
            bag: bag.to_owned(),
            manifest: BufWriter::new(manifest),
            manifest_bytes: 0,
            payload_bytes: 0,
            payload_files: 0,
            tags: Vec::new(),
        };
        writer.add_tag(BAGIT, bagit::BAGIT_TXT.len() as u64, &mut bagit::BAGIT_TXT.as_bytes())?;
        Ok(writer)
    }

    /// Continues an archive an earlier run left at `point`: `file` is cut there, `manifest`
    /// (the same spool) too, and `prefix` is the sha256 state of the file's first
    /// `point.archive_bytes` bytes, which the caller read back and checked.
    pub fn resume(
        file: File,
        bag: &str,
        mut manifest: Spool,
        point: &DurablePoint,
        prefix: Sha256,
        options: WriterOptions,
    ) -> io::Result<Self> {
        manifest.set_len(point.manifest_bytes)?;
        manifest.seek(SeekFrom::Start(point.manifest_bytes))?;
        let bagit_digest = hex::encode(Sha256::digest(bagit::BAGIT_TXT.as_bytes()));
        Ok(Self {
            out: FramedZstd::resume(file, options.level, options.workers, point.archive_bytes, prefix)?,
            bag: bag.to_owned(),
            manifest: BufWriter::new(manifest),
            manifest_bytes: point.manifest_bytes,
            payload_bytes: point.payload_bytes,
            payload_files: point.payload_files,
            tags: vec![(BAGIT.to_owned(), bagit_digest)],
        })
    }

    /// Closes the current frame and makes everything written so far durable: the archive
    /// file synced, then the manifest spool. Returns the point a later run continues from.
    pub fn durable(&mut self) -> io::Result<DurablePoint> {
        let Durable { offset, sha256 } = self.out.durable()?;
        self.manifest.flush()?;
        self.manifest.get_ref().sync_data()?;
        Ok(DurablePoint {
            archive_bytes: offset,
            archive_sha256: sha256,
            manifest_bytes: self.manifest_bytes,
            payload_bytes: self.payload_bytes,
            payload_files: self.payload_files,
        })
    }

    /// Adds a payload file (`path` starts with `data/`) of exactly `size` bytes.
    ///
    /// With `may_fail`, the body may still fail or turn out to have another length (it is
    /// being received while written): the writer then gives it a frame of its own so that
    /// such a failure can be undone. Small bodies held in full pass `false` and share frames.
    pub fn add_payload(
        &mut self,
        path: &str,
        size: u64,
        mtime: u64,
        body: &mut dyn BufRead,
        may_fail: bool,
    ) -> Result<Written, AddError> {
        let streamed = may_fail || size > STREAM_ABOVE;
        let checkpoint =
            if streamed { Some(self.out.begin_streamed_frame().map_err(AddError::Archive)?) } else { None };
        let member = format!("{}/{path}", self.bag);
        let sha256 = match self.append(&member, size, mtime, body) {
            Ok(sha256) => sha256,
            Err(AddError::Body(error)) => {
                return match checkpoint {
                    Some(checkpoint) => {
                        self.out.rollback(checkpoint).map_err(AddError::Archive)?;
                        Err(AddError::Body(error))
                    }
                    None => Err(AddError::Archive(io::Error::other(format!(
                        "{path}: a body held in full failed while written: {error}"
                    )))),
                };
            }
            Err(archive_error) => return Err(archive_error),
        };
        let line = bagit::manifest_line(&sha256, path);
        self.manifest.write_all(line.as_bytes()).map_err(AddError::Archive)?;
        self.manifest_bytes += line.len() as u64;
        self.payload_bytes += size;
        self.payload_files += 1;
        if streamed { self.out.end_frame() } else { self.out.end_frame_if_full() }.map_err(AddError::Archive)?;
        Ok(Written { sha256, size })
    }

    /// Adds a directory member, so that empty directories of the source survive extraction.
    pub fn add_directory(&mut self, path: &str, mtime: u64) -> io::Result<()> {
        let member = format!("{}/{}/", self.bag, path.trim_end_matches('/'));
        self.out.write_all(&tar_member::header(EntryType::Directory, &member, 0, mtime)?)
    }

    /// Payload bytes written so far.
    pub fn payload_bytes(&self) -> u64 {
        self.payload_bytes
    }

    /// `Payload-Oxum` as BagIt defines it: `octets.files`.
    pub fn payload_oxum(&self) -> String {
        format!("{}.{}", self.payload_bytes, self.payload_files)
    }

    /// Writes the manifest, `bag-info.txt` (with `Payload-Oxum` added after the first
    /// field), the extra tag files in order, then the tag manifest, and closes the archive.
    pub fn finish(self, bag_info: &[(String, String)], extra_tags: Vec<(&str, Spool)>) -> io::Result<Finished> {
        self.finish_sealed(bag_info, extra_tags, None)
    }

    /// [`Self::finish`], with the tag files of `seal` before the tag manifest and its seals
    /// after it.
    pub fn finish_sealed(
        mut self,
        bag_info: &[(String, String)],
        extra_tags: Vec<(&str, Spool)>,
        seal: Option<&dyn Seal>,
    ) -> io::Result<Finished> {
        self.out.end_frame()?;
        self.manifest.flush()?;
        let manifest = self.manifest.get_ref().try_clone()?;
        self.add_tag_file(MANIFEST, manifest)?;

        let mut fields = bag_info.to_vec();
        fields.insert(fields.len().min(1), ("Payload-Oxum".to_owned(), self.payload_oxum()));
        let info = bagit::bag_info_text(&fields);
        self.add_tag(BAG_INFO, info.len() as u64, &mut info.as_bytes())?;

        for (name, file) in extra_tags {
            self.add_tag_file(name, file)?;
        }
        for (name, content) in seal.map(|seal| seal.tag_files()).unwrap_or_default() {
            self.add_tag(name, content.len() as u64, &mut content.as_slice())?;
        }

        let mut tag_manifest = String::new();
        for (name, digest) in &self.tags {
            tag_manifest.push_str(&bagit::manifest_line(digest, name));
        }
        let member = format!("{}/{TAG_MANIFEST}", self.bag);
        self.append(&member, tag_manifest.len() as u64, 0, &mut tag_manifest.as_bytes()).map_err(into_io)?;
        for (name, content) in seal.map(|seal| seal.seal(tag_manifest.as_bytes())).transpose()?.unwrap_or_default() {
            let member = format!("{}/{name}", self.bag);
            self.append(&member, content.len() as u64, 0, &mut content.as_slice()).map_err(into_io)?;
        }
        self.out.write_all(&tar_member::END_OF_ARCHIVE)?;
        self.out.finish()
    }

    fn add_tag_file(&mut self, name: &str, mut file: Spool) -> io::Result<()> {
        let len = file.seek(SeekFrom::End(0))?;
        file.seek(SeekFrom::Start(0))?;
        self.add_tag(name, len, &mut BufReader::with_capacity(1 << 18, file))
    }

    fn add_tag(&mut self, name: &str, len: u64, body: &mut dyn BufRead) -> io::Result<()> {
        let member = format!("{}/{name}", self.bag);
        let streamed = len > STREAM_ABOVE;
        if streamed {
            self.out.begin_streamed_frame()?;
        }
        let digest = self.append(&member, len, 0, body).map_err(into_io)?;
        if streamed {
            self.out.end_frame()?;
        }
        self.tags.push((name.to_owned(), digest));
        Ok(())
    }

    /// Writes a member: header, exactly `size` bytes of `body` (hashed on their way into
    /// the tar, never read twice), padding. Returns the body's sha256.
    fn append(&mut self, member: &str, size: u64, mtime: u64, body: &mut dyn BufRead) -> Result<String, AddError> {
        let header = tar_member::header(EntryType::Regular, member, size, mtime).map_err(AddError::Archive)?;
        self.out.write_all(&header).map_err(AddError::Archive)?;
        let mut hasher = Sha256::new();
        let mut remaining = size;
        loop {
            let chunk = body.fill_buf().map_err(AddError::Body)?;
            if chunk.is_empty() {
                if remaining > 0 {
                    return Err(AddError::Body(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!("body ended after {} of the announced {size} bytes", size - remaining),
                    )));
                }
                break;
            }
            if remaining == 0 {
                return Err(AddError::Body(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("body is longer than the announced {size} bytes"),
                )));
            }
            let n = chunk.len().min(usize::try_from(remaining).unwrap_or(usize::MAX));
            hasher.update(&chunk[..n]);
            self.out.write_all(&chunk[..n]).map_err(AddError::Archive)?;
            body.consume(n);
            remaining -= n as u64;
        }
        self.out.write_all(tar_member::padding(size)).map_err(AddError::Archive)?;
        Ok(hex::encode(hasher.finalize()))
    }
}

fn into_io(error: AddError) -> io::Error {
    match error {
        AddError::Body(e) | AddError::Archive(e) => e,
    }
}

/// The name of the bag inside `archive`: its file name without `.tar.zst`.
pub fn bag_name(archive: &Path) -> String {
    let name = archive.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    // An encrypted archive's `.age` is not part of the bag's name.
    let name = name.strip_suffix(".age").unwrap_or(&name);
    let stem = name.strip_suffix(".tar.zst").or_else(|| name.strip_suffix(".tzst")).unwrap_or(name);
    let escaped = crate::payload_path::escape_segment(stem.as_bytes());
    if escaped.starts_with('^') || escaped.is_empty() { format!("bag{escaped}") } else { escaped }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn a_failing_body_leaves_no_trace_and_a_wrong_length_is_refused() {
        let file = tempfile::tempfile().unwrap();
        let mut out = file.try_clone().unwrap();
        let options = WriterOptions { level: 3, workers: 1 };
        let mut writer = ArchiveWriter::create(file, "bag", crate::spool::tempfile().unwrap(), options).unwrap();
        let ok = writer.add_payload("data/s/a", 2, 0, &mut &b"hi"[..], false).unwrap();
        assert_eq!(ok.size, 2);
        let short = writer.add_payload("data/s/short", 10, 0, &mut &b"abc"[..], true);
        assert!(matches!(short, Err(AddError::Body(ref e)) if e.to_string().contains("after 3 of the announced 10")));
        let long = writer.add_payload("data/s/long", 1, 0, &mut &b"abc"[..], true);
        assert!(matches!(long, Err(AddError::Body(ref e)) if e.to_string().contains("longer")));
        let large = vec![7u8; 3 << 20];
        writer.add_payload("data/s/large", large.len() as u64, 0, &mut &large[..], false).unwrap();
        writer.add_payload("data/s/b", 3, 0, &mut &b"end"[..], true).unwrap();
        assert_eq!(writer.payload_oxum(), format!("{}.3", 5 + large.len()));
        writer.finish(&[("Bagging-Date".into(), "2026-01-01".into())], Vec::new()).unwrap();

        out.seek(SeekFrom::Start(0)).unwrap();
        let mut archive = tar::Archive::new(zstd::stream::read::Decoder::new(out).unwrap());
        let mut names = Vec::new();
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let mut body = Vec::new();
            entry.read_to_end(&mut body).unwrap();
            names.push((entry.path().unwrap().to_string_lossy().into_owned(), body.len()));
        }
        let names: Vec<(&str, usize)> = names.iter().map(|(n, l)| (n.as_str(), *l)).collect();
        assert_eq!(
            names[..4],
            [("bag/bagit.txt", 54), ("bag/data/s/a", 2), ("bag/data/s/large", 3 << 20), ("bag/data/s/b", 3)]
        );
        let tags: Vec<&str> = names[4..].iter().map(|(n, _)| *n).collect();
        assert_eq!(tags, ["bag/manifest-sha256.txt", "bag/bag-info.txt", "bag/tagmanifest-sha256.txt"]);
    }

    #[derive(Debug)]
    struct TestSeal(&'static str);

    impl Seal for TestSeal {
        fn tag_files(&self) -> Vec<(&'static str, Vec<u8>)> {
            vec![(bagit::SIGNER_KEY, b"a public key\n".to_vec())]
        }
        fn seal(&self, tag_manifest: &[u8]) -> io::Result<Vec<(&'static str, Vec<u8>)>> {
            assert!(String::from_utf8_lossy(tag_manifest).contains("  sortie/signer.pub\n"));
            Ok(vec![(self.0, format!("seal over {} bytes", tag_manifest.len()).into_bytes())])
        }
        fn evidence(&self) -> crate::report_html::Evidence {
            crate::report_html::Evidence::default()
        }
    }

    fn sealed_archive(seal: &TestSeal) -> crate::verify::Verification {
        let file = tempfile::tempfile().unwrap();
        let mut out = file.try_clone().unwrap();
        let options = WriterOptions { level: 3, workers: 1 };
        let mut writer = ArchiveWriter::create(file, "bag", crate::spool::tempfile().unwrap(), options).unwrap();
        writer.add_payload("data/s/a", 2, 0, &mut &b"hi"[..], false).unwrap();
        writer.finish_sealed(&[("Sortie-Complete".into(), "true".into())], Vec::new(), Some(seal)).unwrap();
        out.seek(SeekFrom::Start(0)).unwrap();
        crate::verify::verify_reader(Box::new(out)).unwrap()
    }

    #[test]
    fn seals_follow_the_tag_manifest_and_only_they_may() {
        let sealed = sealed_archive(&TestSeal(bagit::TAG_MANIFEST_SIGNATURE));
        assert!(sealed.intact(), "{:?}", sealed.problems);
        let evidence = &sealed.evidence;
        assert_eq!(evidence.signer_key.as_deref(), Some(&b"a public key\n"[..]));
        let manifest_len = evidence.tag_manifest.as_ref().unwrap().len();
        assert_eq!(evidence.signature.as_deref(), Some(format!("seal over {manifest_len} bytes").as_bytes()));
        assert!(evidence.timestamp.is_none());

        let other = sealed_archive(&TestSeal("sortie/later.txt"));
        assert!(!other.intact());
        assert!(other.problems.iter().any(|p| p.message.contains("which must be last but for its signature")));
    }

    #[test]
    fn bag_names_are_plain() {
        assert_eq!(bag_name(Path::new("/tmp/out.tar.zst")), "out");
        assert_eq!(bag_name(Path::new("x/100%.tar.zst")), "100^25");
        assert_eq!(bag_name(Path::new("..tar.zst")), "bag^2E");
    }
}
