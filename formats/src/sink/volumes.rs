//! The bytes of the archive file, as one file or cut into volumes of at most a given size
//! (`NAME.tar.zst.001`, `.002`, …), each hashed for the sidecar; `cat` joins them back.

use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};

use sha2::{Digest, Sha256};

use crate::framed_zstd::Digested;

/// The most volumes of one archive: three digits, so that the shell's sorted glob
/// (`NAME.tar.zst.[0-9]*`) gives them in order.
pub const MAX_VOLUMES: u32 = 999;

/// Makes the files of the volumes after the first (the caller names and places them).
pub trait VolumeFiles: Send {
    /// Creates volume `number` (2 and up), empty.
    fn create(&mut self, number: u32) -> io::Result<File>;
    /// Opens volume `number` again, to write at its end after a rollback into it.
    fn reopen(&mut self, number: u32) -> io::Result<File>;
    /// Removes volume `number`: a rollback went back before it.
    fn remove(&mut self, number: u32) -> io::Result<()>;
}

pub(crate) struct Split {
    file: File,
    volumes: Option<(u64, Box<dyn VolumeFiles>)>,
    number: u32,
    in_volume: u64,
    volume_hash: Sha256,
    done: Vec<Digested>,
    total: u64,
    total_hash: Sha256,
    /// Full volumes being synced to disk on threads of their own, so that the next volume
    /// is written meanwhile; [`Split::finish`] waits for them all.
    syncing: Vec<std::thread::JoinHandle<io::Result<()>>>,
}

pub(crate) struct SplitMark {
    number: u32,
    in_volume: u64,
    volume_hash: Sha256,
    total: u64,
    total_hash: Sha256,
}

impl SplitMark {
    pub(crate) fn total(&self) -> u64 {
        self.total
    }

    pub(crate) fn sha256(&self) -> String {
        hex::encode(self.total_hash.clone().finalize())
    }
}

impl Split {
    /// One file whose first `offset` bytes, of sha256 state `prefix`, are kept.
    pub(crate) fn resume(file: File, offset: u64, prefix: Sha256) -> Self {
        Self { in_volume: offset, total: offset, total_hash: prefix, ..Self::new(file, None) }
    }

    pub(crate) fn new(file: File, volumes: Option<(u64, Box<dyn VolumeFiles>)>) -> Self {
        Self {
            file,
            volumes,
            number: 1,
            in_volume: 0,
            volume_hash: Sha256::new(),
            done: Vec::new(),
            total: 0,
            total_hash: Sha256::new(),
            syncing: Vec::new(),
        }
    }

    pub(crate) fn write_all(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        self.total += bytes.len() as u64;
        self.total_hash.update(bytes);
        while !bytes.is_empty() {
            let room = match self.volumes.as_ref().map(|(size, _)| *size) {
                Some(size) if self.in_volume == size => {
                    self.next_volume()?;
                    size
                }
                Some(size) => size - self.in_volume,
                None => u64::MAX,
            };
            let n = bytes.len().min(usize::try_from(room).unwrap_or(usize::MAX));
            self.file.write_all(&bytes[..n])?;
            if self.volumes.is_some() {
                self.volume_hash.update(&bytes[..n]);
            }
            self.in_volume += n as u64;
            bytes = &bytes[n..];
        }
        Ok(())
    }

    fn next_volume(&mut self) -> io::Result<()> {
        if self.number == MAX_VOLUMES {
            return Err(io::Error::other(format!(
                "the archive needs more than {MAX_VOLUMES} volumes: choose a larger --volume-size"
            )));
        }
        self.done.push(Digested { bytes: self.in_volume, sha256: hex::encode(self.volume_hash.finalize_reset()) });
        let (_, files) = self.volumes.as_mut().expect("split");
        let full = std::mem::replace(&mut self.file, files.create(self.number + 1)?);
        self.syncing.push(std::thread::spawn(move || full.sync_all()));
        self.number += 1;
        self.in_volume = 0;
        Ok(())
    }

    pub(crate) fn total(&self) -> u64 {
        self.total
    }

    pub(crate) fn current(&self) -> &File {
        &self.file
    }

    pub(crate) fn mark(&self) -> SplitMark {
        SplitMark {
            number: self.number,
            in_volume: self.in_volume,
            volume_hash: self.volume_hash.clone(),
            total: self.total,
            total_hash: self.total_hash.clone(),
        }
    }

    pub(crate) fn rewind(&mut self, mark: SplitMark) -> io::Result<()> {
        if mark.number != self.number {
            let (_, files) = self.volumes.as_mut().expect("only a split output changes volumes");
            for number in (mark.number + 1..=self.number).rev() {
                files.remove(number)?;
            }
            self.file = files.reopen(mark.number)?;
            self.done.truncate(mark.number as usize - 1);
            self.number = mark.number;
        }
        self.file.set_len(mark.in_volume)?;
        self.file.seek(SeekFrom::Start(mark.in_volume))?;
        self.in_volume = mark.in_volume;
        self.volume_hash = mark.volume_hash;
        self.total = mark.total;
        self.total_hash = mark.total_hash;
        Ok(())
    }

    /// Syncs the last file; returns the whole stream's digest and each volume's (none when
    /// the output is one file).
    pub(crate) fn finish(mut self) -> io::Result<(Digested, Vec<Digested>)> {
        self.file.sync_all()?;
        for syncing in self.syncing.drain(..) {
            syncing.join().map_err(|_| io::Error::other("a volume's sync to disk crashed"))??;
        }
        if self.volumes.is_some() {
            self.done.push(Digested { bytes: self.in_volume, sha256: hex::encode(self.volume_hash.finalize_reset()) });
        }
        Ok((Digested { bytes: self.total, sha256: hex::encode(self.total_hash.finalize()) }, self.done))
    }
}
