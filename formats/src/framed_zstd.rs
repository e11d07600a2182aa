//! A zstd writer that emits independent, checksummed frames ending on tar-entry boundaries.
//!
//! Independent frames are what make the archive resumable and seekable later without a
//! format change, and they let the writer take back a member whose body failed half-way:
//! the frame holding it is cut off the file and the archive continues as if it never began.

use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};

use sha2::{Digest, Sha256};
use zstd::stream::write::Encoder;

/// Uncompressed bytes after which the current frame is closed at the next entry boundary.
pub const FRAME_TARGET: u64 = 4 << 20;

/// The compressed file being written, with a running sha256 for the `.sha256` sidecar.
struct Sink {
    file: File,
    hasher: Sha256,
    written: u64,
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

enum State {
    Between(Sink),
    InFrame(Encoder<'static, Sink>),
    Broken,
}

/// A point between two frames to which the writer can return.
pub struct Checkpoint {
    offset: u64,
    hasher: Sha256,
}

/// The compressed output once finished: its size and sha256.
#[derive(Debug, Clone)]
pub struct Finished {
    /// Compressed bytes written.
    pub bytes: u64,
    /// Lower-case hex sha256 of the whole compressed file.
    pub sha256: String,
}

/// Writes a sequence of zstd frames into one file.
pub struct FramedZstd {
    state: State,
    level: i32,
    workers: u32,
    frame_input: u64,
}

impl FramedZstd {
    /// Starts writing at the beginning of `file`, which must be empty.
    pub fn new(file: File, level: i32, workers: u32) -> Self {
        let sink = Sink {
            file,
            hasher: Sha256::new(),
            written: 0,
        };
        Self {
            state: State::Between(sink),
            level,
            workers,
            frame_input: 0,
        }
    }

    /// Closes the current frame if it holds at least [`FRAME_TARGET`] bytes of input.
    pub fn end_frame_if_full(&mut self) -> io::Result<()> {
        if self.frame_input >= FRAME_TARGET {
            self.end_frame()
        } else {
            Ok(())
        }
    }

    /// Closes the current frame, if any, so that the next byte starts a new one.
    pub fn end_frame(&mut self) -> io::Result<()> {
        match std::mem::replace(&mut self.state, State::Broken) {
            State::InFrame(encoder) => {
                self.state = State::Between(encoder.finish()?);
                self.frame_input = 0;
                Ok(())
            }
            other => {
                self.state = other;
                self.ensure_usable()
            }
        }
    }

    /// Closes the current frame and remembers where the file stands.
    pub fn checkpoint(&mut self) -> io::Result<Checkpoint> {
        self.end_frame()?;
        match &self.state {
            State::Between(sink) => Ok(Checkpoint {
                offset: sink.written,
                hasher: sink.hasher.clone(),
            }),
            _ => Err(broken()),
        }
    }

    /// Drops everything written since `checkpoint`, frames and file bytes alike.
    pub fn rollback(&mut self, checkpoint: Checkpoint) -> io::Result<()> {
        let file = match std::mem::replace(&mut self.state, State::Broken) {
            State::InFrame(encoder) => encoder.get_ref().file.try_clone()?,
            State::Between(sink) => sink.file,
            State::Broken => return Err(broken()),
        };
        let mut file = file;
        file.set_len(checkpoint.offset)?;
        file.seek(SeekFrom::Start(checkpoint.offset))?;
        self.state = State::Between(Sink {
            file,
            hasher: checkpoint.hasher,
            written: checkpoint.offset,
        });
        self.frame_input = 0;
        Ok(())
    }

    /// Closes the last frame, syncs the file to disk and returns its size and digest.
    pub fn finish(mut self) -> io::Result<Finished> {
        self.end_frame()?;
        match self.state {
            State::Between(sink) => {
                sink.file.sync_all()?;
                Ok(Finished {
                    bytes: sink.written,
                    sha256: hex::encode(sink.hasher.finalize()),
                })
            }
            _ => Err(broken()),
        }
    }

    fn ensure_usable(&self) -> io::Result<()> {
        if matches!(self.state, State::Broken) {
            Err(broken())
        } else {
            Ok(())
        }
    }

    fn encoder(&mut self) -> io::Result<&mut Encoder<'static, Sink>> {
        if let State::Between(_) = self.state {
            let State::Between(sink) = std::mem::replace(&mut self.state, State::Broken) else {
                unreachable!()
            };
            let mut encoder = Encoder::new(sink, self.level)?;
            encoder.include_checksum(true)?;
            if self.workers > 1 {
                encoder.multithread(self.workers)?;
            }
            self.state = State::InFrame(encoder);
        }
        match &mut self.state {
            State::InFrame(encoder) => Ok(encoder),
            _ => Err(broken()),
        }
    }
}

fn broken() -> io::Error {
    io::Error::other("the archive writer stopped after an earlier error")
}

impl Write for FramedZstd {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.encoder()?.write(buf)?;
        self.frame_input += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.state {
            State::InFrame(encoder) => encoder.flush(),
            State::Between(sink) => sink.flush(),
            State::Broken => Err(broken()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn frames_of(bytes: &[u8]) -> usize {
        // Each zstd frame begins with the magic number 0xFD2FB528 (little endian).
        bytes
            .windows(4)
            .filter(|w| *w == [0x28, 0xB5, 0x2F, 0xFD])
            .count()
    }

    #[test]
    fn rollback_removes_a_frame_and_the_stream_stays_valid() {
        let tmp = tempfile::tempfile().unwrap();
        let mut out = tmp.try_clone().unwrap();
        let mut writer = FramedZstd::new(tmp, 3, 1);
        writer.write_all(b"first ").unwrap();
        let checkpoint = writer.checkpoint().unwrap();
        writer.write_all(&vec![b'x'; 100_000]).unwrap();
        writer.end_frame().unwrap();
        writer.rollback(checkpoint).unwrap();
        writer.write_all(b"second").unwrap();
        let finished = writer.finish().unwrap();

        let mut bytes = Vec::new();
        out.seek(SeekFrom::Start(0)).unwrap();
        out.read_to_end(&mut bytes).unwrap();
        assert_eq!(bytes.len() as u64, finished.bytes);
        assert_eq!(finished.sha256, hex::encode(Sha256::digest(&bytes)));
        assert_eq!(frames_of(&bytes), 2);
        let mut plain = String::new();
        zstd::stream::read::Decoder::new(&bytes[..])
            .unwrap()
            .read_to_string(&mut plain)
            .unwrap();
        assert_eq!(plain, "first second");
    }
}
