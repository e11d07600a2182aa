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

impl Sink {
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
