//! The synchronous archive writer: members go into one pax tar stream compressed into
//! framed zstd, the manifest is spooled to a temporary file and the tag files are written
//! last, ending with the tag manifest.
//!
//! It is synchronous on purpose: the tar and zstd encoders are, and one dedicated thread
//! owns this writer while the async side feeds it through a bounded channel.

use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;

use sha2::{Digest, Sha256};
use tar::EntryType;

use crate::bagit::{self, BAG_INFO, BAGIT, MANIFEST, TAG_MANIFEST};
use crate::framed_zstd::{Finished, FramedZstd};
use crate::tar_member;

/// Members larger than this are compressed as they are read, in a frame of their own,
/// instead of being gathered in memory with others.
const STREAM_ABOVE: u64 = 1 << 20;

/// How to compress.
#[derive(Debug, Clone, Copy)]
pub struct WriterOptions {
    /// zstd level, 1 to 19.
    pub level: i32,
    /// zstd worker threads; 0 or 1 compresses on the writer thread itself.
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

/// Reads exactly `remaining` bytes from a body, hashing them on the way into the tar, and
/// fails (remembering why) if the body is shorter or longer.
struct ExactBody<'a> {
    inner: &'a mut dyn Read,
    remaining: u64,
    announced: u64,
    hasher: Sha256,
    failure: Option<io::Error>,
}

impl ExactBody<'_> {
    fn fail(&mut self, error: io::Error) -> io::Error {
        let message = error.to_string();
        self.failure = Some(error);
        io::Error::other(message)
    }
}

impl Read for ExactBody<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 {
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe) {
                Ok(0) => Ok(0),
                Ok(_) => Err(self.fail(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("body is longer than the announced {} bytes", self.announced),
                ))),
                Err(e) => Err(self.fail(e)),
            };
        }
        let max = buf.len().min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        match self.inner.read(&mut buf[..max]) {
            Ok(0) => Err(self.fail(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "body ended after {} of the announced {} bytes",
                    self.announced - self.remaining,
                    self.announced
                ),
            ))),
            Ok(n) => {
                self.hasher.update(&buf[..n]);
                self.remaining -= n as u64;
                Ok(n)
            }
            Err(e) => Err(self.fail(e)),
        }
    }
}

/// Writes one Sortie archive.
pub struct ArchiveWriter {
    tar: tar::Builder<FramedZstd>,
    bag: String,
    manifest: BufWriter<File>,
    payload_bytes: u64,
    payload_files: u64,
    tags: Vec<(String, String)>,
}

impl ArchiveWriter {
    /// Starts an archive in `file` (empty, opened for writing) whose members live under
    /// `bag/`, and writes `bagit.txt` first so that a streaming reader knows what follows.
    /// The manifest is spooled in `spool_dir` (beside the output, so it uses that disk).
    pub fn create(file: File, bag: &str, spool_dir: &Path, options: WriterOptions) -> io::Result<Self> {
        let mut tar = tar::Builder::new(FramedZstd::new(file, options.level, options.workers));
        tar.mode(tar::HeaderMode::Deterministic);
        let mut writer = Self {
            tar,
            bag: bag.to_owned(),
            manifest: BufWriter::new(tempfile::tempfile_in(spool_dir)?),
            payload_bytes: 0,
            payload_files: 0,
            tags: Vec::new(),
        };
        writer.add_tag(BAGIT, bagit::BAGIT_TXT.len() as u64, &mut bagit::BAGIT_TXT.as_bytes())?;
        Ok(writer)
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
        body: &mut dyn Read,
        may_fail: bool,
    ) -> Result<Written, AddError> {
        let streamed = may_fail || size > STREAM_ABOVE;
        let checkpoint =
            if streamed { Some(self.tar.get_mut().begin_streamed_frame().map_err(AddError::Archive)?) } else { None };
        let member = format!("{}/{path}", self.bag);
        let mut exact =
            ExactBody { inner: body, remaining: size, announced: size, hasher: Sha256::new(), failure: None };
        let appended = tar_member::append(&mut self.tar, EntryType::Regular, &member, size, mtime, &mut exact);
        match (appended, exact.failure.take(), checkpoint) {
            (Ok(()), _, _) => {}
            (Err(_), Some(body_error), Some(checkpoint)) => {
                self.tar.get_mut().rollback(checkpoint).map_err(AddError::Archive)?;
                return Err(AddError::Body(body_error));
            }
            (Err(_), Some(body_error), None) => {
                return Err(AddError::Archive(io::Error::other(format!(
                    "{path}: a body held in full failed while written: {body_error}"
                ))));
            }
            (Err(archive_error), None, _) => return Err(AddError::Archive(archive_error)),
        }
        let sha256 = hex::encode(exact.hasher.finalize());
        self.manifest.write_all(bagit::manifest_line(&sha256, path).as_bytes()).map_err(AddError::Archive)?;
        self.payload_bytes += size;
        self.payload_files += 1;
        // A streamed member is a frame of its own; small members share frames.
        let frames = self.tar.get_mut();
        if streamed { frames.end_frame() } else { frames.end_frame_if_full() }.map_err(AddError::Archive)?;
        Ok(Written { sha256, size })
    }

    /// Adds a directory member, so that empty directories of the source survive extraction.
    pub fn add_directory(&mut self, path: &str, mtime: u64) -> io::Result<()> {
        let member = format!("{}/{}/", self.bag, path.trim_end_matches('/'));
        tar_member::append(&mut self.tar, EntryType::Directory, &member, 0, mtime, io::empty())
    }

    /// `Payload-Oxum` as BagIt defines it: `octets.files`.
    pub fn payload_oxum(&self) -> String {
        format!("{}.{}", self.payload_bytes, self.payload_files)
    }

    /// Writes the manifest, `bag-info.txt` (with `Payload-Oxum` added after the first
    /// field), the extra tag files in order, then the tag manifest, and closes the archive.
    pub fn finish(mut self, bag_info: &[(String, String)], extra_tags: Vec<(&str, File)>) -> io::Result<Finished> {
        self.tar.get_mut().end_frame()?;
        let mut manifest = self.manifest.get_ref().try_clone()?;
        self.manifest.flush()?;
        let len = manifest.seek(SeekFrom::End(0))?;
        manifest.seek(SeekFrom::Start(0))?;
        self.add_tag(MANIFEST, len, &mut manifest)?;

        let mut fields = bag_info.to_vec();
        fields.insert(fields.len().min(1), ("Payload-Oxum".to_owned(), self.payload_oxum()));
        let info = bagit::bag_info_text(&fields);
        self.add_tag(BAG_INFO, info.len() as u64, &mut info.as_bytes())?;

        for (name, mut file) in extra_tags {
            let len = file.seek(SeekFrom::End(0))?;
            file.seek(SeekFrom::Start(0))?;
            self.add_tag(name, len, &mut file)?;
        }

        let mut tag_manifest = String::new();
        for (name, digest) in &self.tags {
            tag_manifest.push_str(&bagit::manifest_line(digest, name));
        }
        let member = format!("{}/{TAG_MANIFEST}", self.bag);
        tar_member::append(
            &mut self.tar,
            EntryType::Regular,
            &member,
            tag_manifest.len() as u64,
            0,
            tag_manifest.as_bytes(),
        )?;
        self.tar.finish()?;
        self.tar.into_inner()?.finish()
    }

    fn add_tag(&mut self, name: &str, len: u64, body: &mut dyn Read) -> io::Result<()> {
        let member = format!("{}/{name}", self.bag);
        let streamed = len > STREAM_ABOVE;
        if streamed {
            self.tar.get_mut().begin_streamed_frame()?;
        }
        let mut exact = ExactBody { inner: body, remaining: len, announced: len, hasher: Sha256::new(), failure: None };
        tar_member::append(&mut self.tar, EntryType::Regular, &member, len, 0, &mut exact)?;
        if streamed {
            self.tar.get_mut().end_frame()?;
        }
        self.tags.push((name.to_owned(), hex::encode(exact.hasher.finalize())));
        Ok(())
    }
}

/// The name of the bag inside `archive`: its file name without `.tar.zst`.
pub fn bag_name(archive: &Path) -> String {
    let name = archive.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let stem = name.strip_suffix(".tar.zst").or_else(|| name.strip_suffix(".tzst")).unwrap_or(&name);
    let escaped = crate::payload_path::escape_segment(stem.as_bytes());
    if escaped.starts_with('^') || escaped.is_empty() { format!("bag{escaped}") } else { escaped }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_body_leaves_no_trace_and_a_wrong_length_is_refused() {
        let file = tempfile::tempfile().unwrap();
        let mut out = file.try_clone().unwrap();
        let mut writer =
            ArchiveWriter::create(file, "bag", &std::env::temp_dir(), WriterOptions { level: 3, workers: 1 }).unwrap();
        let ok = writer.add_payload("data/s/a", 2, 0, &mut &b"hi"[..], false).unwrap();
        assert_eq!(ok.size, 2);
        let short = writer.add_payload("data/s/short", 10, 0, &mut &b"abc"[..], true);
        assert!(matches!(short, Err(AddError::Body(ref e)) if e.to_string().contains("after 3 of the announced 10")));
        let long = writer.add_payload("data/s/long", 1, 0, &mut &b"abc"[..], true);
        assert!(matches!(long, Err(AddError::Body(ref e)) if e.to_string().contains("longer")));
        writer.add_payload("data/s/b", 3, 0, &mut &b"end"[..], true).unwrap();
        assert_eq!(writer.payload_oxum(), "5.2");
        writer.finish(&[("Bagging-Date".into(), "2026-01-01".into())], Vec::new()).unwrap();

        out.seek(SeekFrom::Start(0)).unwrap();
        let mut archive = tar::Archive::new(zstd::stream::read::Decoder::new(out).unwrap());
        let names: Vec<String> =
            archive.entries().unwrap().map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned()).collect();
        assert_eq!(
            names,
            [
                "bag/bagit.txt",
                "bag/data/s/a",
                "bag/data/s/b",
                "bag/manifest-sha256.txt",
                "bag/bag-info.txt",
                "bag/tagmanifest-sha256.txt"
            ]
        );
    }

    #[test]
    fn bag_names_are_plain() {
        assert_eq!(bag_name(Path::new("/tmp/out.tar.zst")), "out");
        assert_eq!(bag_name(Path::new("x/100%.tar.zst")), "100^25");
        assert_eq!(bag_name(Path::new("..tar.zst")), "bag^2E");
    }
}
