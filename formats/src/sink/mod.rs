//! Where the compressed archive goes once framed: one file as it is, or through age to the
//! customer's key ([`seal`]), or cut into volumes ([`volumes`]), or both (encrypted, then
//! cut). The framed zstd writer's output thread is the only caller; it may take back what it
//! wrote since a [`SinkMark`] (a member whose body failed), which every layer supports.

pub mod seal;
pub mod volumes;

use std::fs::File;
use std::io;

use seal::{Recipients, Seal, SealMark};
use volumes::{Split, SplitMark, VolumeFiles};

use crate::framed_zstd::Finished;

/// The layers of the output.
pub struct Sink {
    seal: Option<Seal>,
    out: Split,
}

/// A point of the output to which [`Sink::rewind`] returns.
pub struct SinkMark {
    seal: Option<SealMark>,
    out: SplitMark,
}

impl From<File> for Sink {
    fn from(file: File) -> Self {
        Self { seal: None, out: Split::new(file, None) }
    }
}

impl SinkMark {
    /// Bytes written to the files up to this mark.
    pub fn written(&self) -> u64 {
        self.out.total()
    }

    /// Lower-case hex sha256 of those bytes.
    pub fn sha256(&self) -> String {
        self.out.sha256()
    }
}

impl Sink {
    /// Continues a plain file (neither encrypted nor cut: only those are resumed) whose
    /// first `offset` bytes, of sha256 state `prefix`, are kept; the file is already there.
    pub fn resume(file: File, offset: u64, prefix: sha2::Sha256) -> Self {
        Self { seal: None, out: Split::resume(file, offset, prefix) }
    }

    /// An output starting in `first` (empty), encrypted to `recipients` when given, cut
    /// into volumes of `size` bytes made by `files` when given.
    pub fn new(
        first: File,
        recipients: Option<&Recipients>,
        volumes: Option<(u64, Box<dyn VolumeFiles>)>,
    ) -> io::Result<Self> {
        let mut out = Split::new(first, volumes);
        let seal = match recipients {
            Some(recipients) => {
                let (seal, header) = Seal::start(recipients)?;
                out.write_all(&header)?;
                Some(seal)
            }
            None => None,
        };
        Ok(Self { seal, out })
    }

    /// Writes compressed bytes.
    pub fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        match &mut self.seal {
            Some(seal) => {
                let out = &mut self.out;
                seal.write(bytes, &mut |sealed| out.write_all(sealed))?;
                Ok(())
            }
            None => self.out.write_all(bytes),
        }
    }

    /// The file being written, for the write-back thread.
    pub fn current(&self) -> &File {
        self.out.current()
    }

    /// Bytes written to the files so far.
    pub fn written(&self) -> u64 {
        self.out.total()
    }

    /// Where the output is now.
    pub fn mark(&self) -> SinkMark {
        SinkMark { seal: self.seal.as_ref().map(Seal::mark), out: self.out.mark() }
    }

    /// Takes back everything written since `mark`.
    pub fn rewind(&mut self, mark: SinkMark) -> io::Result<()> {
        if let (Some(seal), Some(seal_mark)) = (&mut self.seal, mark.seal) {
            seal.rewind(seal_mark);
        }
        self.out.rewind(mark.out)
    }

    /// Ends the output (the last age chunk) and syncs it to disk.
    pub fn finish(mut self) -> io::Result<Finished> {
        if let Some(seal) = &mut self.seal {
            let out = &mut self.out;
            seal.finish(&mut |sealed| out.write_all(sealed))?;
        }
        let (whole, volumes) = self.out.finish()?;
        Ok(Finished { bytes: whole.bytes, sha256: whole.sha256, volumes })
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::path::PathBuf;

    use sha2::{Digest, Sha256};

    use super::*;

    struct InDir(PathBuf);

    impl VolumeFiles for InDir {
        fn create(&mut self, number: u32) -> io::Result<File> {
            File::create_new(self.0.join(format!("{number:03}")))
        }
        fn reopen(&mut self, number: u32) -> io::Result<File> {
            std::fs::OpenOptions::new().write(true).open(self.0.join(format!("{number:03}")))
        }
        fn remove(&mut self, number: u32) -> io::Result<()> {
            std::fs::remove_file(self.0.join(format!("{number:03}")))
        }
    }

    fn bytes(len: usize, seed: u8) -> Vec<u8> {
        (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
    }

    /// A member taken back after it crossed chunks and volumes leaves the file as if it had
    /// never been written: age decrypts exactly what was kept, the digests are the files'.
    #[test]
    fn a_rewind_through_encryption_and_volumes_leaves_no_trace() {
        let dir = tempfile::tempdir().unwrap();
        let identity = age::x25519::Identity::generate();
        let recipient = identity.to_public().to_string();
        let recipients = Recipients::parse([(recipient.as_str(), "test".to_owned())]).unwrap();
        let first = File::create_new(dir.path().join("001")).unwrap();
        let volumes: Box<dyn VolumeFiles> = Box::new(InDir(dir.path().to_path_buf()));
        let mut sink = Sink::new(first, Some(&recipients), Some((50_000, volumes))).unwrap();
        let kept = bytes(100_000, 1);
        sink.write_all(&kept).unwrap();
        let mark = sink.mark();
        sink.write_all(&bytes(300_000, 2)).unwrap();
        assert!(dir.path().join("008").exists(), "the failed member reached later volumes");
        sink.rewind(mark).unwrap();
        let after = bytes(70_000, 3);
        sink.write_all(&after).unwrap();
        let finished = sink.finish().unwrap();

        let mut joined = Vec::new();
        for (n, volume) in (1..).zip(&finished.volumes) {
            let content = std::fs::read(dir.path().join(format!("{n:03}"))).unwrap();
            assert!(content.len() <= 50_000);
            assert_eq!(hex::encode(Sha256::digest(&content)), volume.sha256);
            joined.extend(content);
        }
        assert!(!dir.path().join(format!("{:03}", finished.volumes.len() + 1)).exists());
        assert_eq!(hex::encode(Sha256::digest(&joined)), finished.sha256);
        let decryptor = age::Decryptor::new(&joined[..]).unwrap();
        let mut plain = Vec::new();
        decryptor.decrypt(std::iter::once(&identity as &dyn age::Identity)).unwrap().read_to_end(&mut plain).unwrap();
        assert_eq!(plain, [kept, after].concat());
    }
}
