//! Temporary files that never hold the customer's data in clear: every byte written to a
//! spool is XORed with a ChaCha20 keystream under a key drawn for that spool and held in
//! memory only, so that the file on disk (unlinked, but readable by whoever can read the
//! disk) means nothing once the process is gone. An export encrypted to the customer's key
//! therefore leaves no plaintext anywhere on disk, its spools included; plain exports pay
//! the same small cost (ChaCha20 runs at several GB/s) rather than carrying a second path.
//!
//! No integrity is needed: the file is the process's own, unlinked, and read back once.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

use chacha20::ChaCha20;
use chacha20::cipher::{KeyIvInit, StreamCipher, StreamCipherSeek};

/// A temporary file read and written in clear through a keystream.
pub struct Spool {
    file: File,
    /// Boxed: a spool travels in messages between the fetchers and the writer. None for a
    /// spool in clear ([`Spool::plain`]).
    keys: Option<Box<Keystream>>,
    scratch: Vec<u8>,
}

struct Keystream {
    cipher: ChaCha20,
    key: [u8; 32],
    nonce: [u8; 12],
}

impl std::fmt::Debug for Spool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Spool")
    }
}

/// A spool in `dir` (beside the output, so it uses that disk).
pub fn tempfile_in(dir: &Path) -> io::Result<Spool> {
    Spool::over(tempfile::tempfile_in(dir)?)
}

/// A spool in the system's temporary directory.
pub fn tempfile() -> io::Result<Spool> {
    Spool::over(tempfile::tempfile()?)
}

impl Spool {
    /// Encrypts what goes through `file` (empty, just created) with a fresh key.
    pub fn over(file: File) -> io::Result<Self> {
        let mut key = [0u8; 32];
        let mut nonce = [0u8; 12];
        getrandom::getrandom(&mut key).map_err(|e| io::Error::other(e.to_string()))?;
        getrandom::getrandom(&mut nonce).map_err(|e| io::Error::other(e.to_string()))?;
        let keys = Box::new(Keystream { cipher: ChaCha20::new(&key.into(), &nonce.into()), key, nonce });
        Ok(Self { file, keys: Some(keys), scratch: Vec::new() })
    }

    /// A spool in clear over `file`: the named spools a resumable export keeps beside its
    /// partial, which a later process reads back. Only plain exports are resumable, whose
    /// archive beside these spools is in clear too.
    pub fn plain(file: File) -> Self {
        Self { file, keys: None, scratch: Vec::new() }
    }

    /// Syncs the file's data to disk.
    pub fn sync_data(&self) -> io::Result<()> {
        self.file.sync_data()
    }

    /// Cuts or extends the file to `len` bytes.
    pub fn set_len(&self, len: u64) -> io::Result<()> {
        self.file.set_len(len)
    }

    /// A second handle on the same file and offset, seeking before it reads or writes.
    pub fn try_clone(&self) -> io::Result<Self> {
        let mut file = self.file.try_clone()?;
        let Some(keys) = &self.keys else {
            return Ok(Self::plain(file));
        };
        let (key, nonce) = (keys.key, keys.nonce);
        let mut cipher = ChaCha20::new(&key.into(), &nonce.into());
        cipher.seek(file.stream_position()?);
        Ok(Self { file, keys: Some(Box::new(Keystream { cipher, key, nonce })), scratch: Vec::new() })
    }

    /// The file under the spool, to write with another API what [`Spool::encrypt`] made:
    /// it shares the spool's offset.
    pub fn raw_file(&self) -> io::Result<File> {
        self.file.try_clone()
    }

    /// Encrypts `bytes` in place as the next bytes of the file, for a caller that writes
    /// them itself to [`Spool::raw_file`].
    pub fn encrypt(&mut self, bytes: &mut [u8]) {
        if let Some(keys) = &mut self.keys {
            keys.cipher.apply_keystream(bytes);
        }
    }

    /// Back to the first byte, to read what was written.
    pub fn rewind(&mut self) -> io::Result<()> {
        self.seek(SeekFrom::Start(0)).map(drop)
    }
}

impl Write for Spool {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let Some(keys) = &mut self.keys else {
            return self.file.write(buf);
        };
        self.scratch.clear();
        self.scratch.extend_from_slice(buf);
        keys.cipher.apply_keystream(&mut self.scratch);
        self.file.write_all(&self.scratch)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl Read for Spool {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read(buf)?;
        if let Some(keys) = &mut self.keys {
            keys.cipher.apply_keystream(&mut buf[..n]);
        }
        Ok(n)
    }
}

impl Seek for Spool {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let position = self.file.seek(to)?;
        if let Some(keys) = &mut self.keys {
            keys.cipher.seek(position);
        }
        Ok(position)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_back_in_clear_what_the_disk_holds_encrypted() {
        let file = tempfile::tempfile().unwrap();
        let mut disk = file.try_clone().unwrap();
        let mut spool = Spool::over(file).unwrap();
        let text = b"customer secret line\n".repeat(1000);
        spool.write_all(&text[..7]).unwrap();
        spool.write_all(&text[7..]).unwrap();
        let mut raw = Vec::new();
        disk.seek(SeekFrom::Start(0)).unwrap();
        disk.read_to_end(&mut raw).unwrap();
        assert_eq!(raw.len(), text.len());
        assert!(!raw.windows(8).any(|w| w == b"customer"), "the disk holds plaintext");
        spool.rewind().unwrap();
        let mut back = Vec::new();
        spool.read_to_end(&mut back).unwrap();
        assert_eq!(back, text);
        spool.seek(SeekFrom::Start(21)).unwrap();
        let mut line = [0u8; 20];
        spool.read_exact(&mut line).unwrap();
        assert_eq!(&line, b"customer secret line");
    }
}
