//! Encryption to the customer's key: the compressed archive streamed through age
//! (age-encryption.org/v1), so that `age -d -i KEY NAME.tar.zst.age | tar --zstd -x` opens it.
//!
//! The recipients wrap the file key with the `age` crate (X25519 `age1…` and SSH
//! `ssh-ed25519`/`ssh-rsa` keys, as the `age` tool takes them); the header and the STREAM
//! payload (ChaCha20-Poly1305 over 64 KiB chunks) are written here, as the age specification
//! gives them, because the archive writer must be able to take back a member whose body
//! failed: the crate's writer cannot rewind, this one can ([`Seal::mark`], [`Seal::rewind`]),
//! since the only plaintext it keeps is the chunk not yet sealed.

use std::io;
use std::str::FromStr;
use std::sync::Arc;

use age::secrecy::ExposeSecret;
use age_core::format::FileKey;
use age_core::primitives::hkdf;
use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Plaintext bytes per STREAM chunk (age's fixed chunk size).
const CHUNK: usize = 64 * 1024;

/// The recipients an archive is encrypted to, checked once when the command line is read.
#[derive(Clone)]
pub struct Recipients {
    keys: Arc<Vec<Box<dyn age::Recipient + Send + Sync>>>,
}

impl std::fmt::Debug for Recipients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Recipients({})", self.keys.len())
    }
}

impl Recipients {
    /// Parses recipients as `age -r` takes them: `age1…` (X25519), `ssh-ed25519 …` or
    /// `ssh-rsa …` (an SSH public key line). `from` names where each came from, for errors.
    pub fn parse<'a>(lines: impl IntoIterator<Item = (&'a str, String)>) -> Result<Self, String> {
        let mut keys: Vec<Box<dyn age::Recipient + Send + Sync>> = Vec::new();
        for (line, from) in lines {
            let line = line.trim();
            if let Ok(key) = age::x25519::Recipient::from_str(line) {
                keys.push(Box::new(key));
                continue;
            }
            match age::ssh::Recipient::from_str(line) {
                Ok(key) => keys.push(Box::new(key)),
                Err(age::ssh::ParseRecipientKeyError::RsaModulusTooSmall) => {
                    return Err(format!("{from}: an ssh-rsa key under 2048 bits is too weak; give a stronger key"));
                }
                Err(age::ssh::ParseRecipientKeyError::Unsupported(kind)) => {
                    return Err(format!(
                        "{from}: {kind} keys are not supported; give an age1… recipient, an ssh-ed25519 or an ssh-rsa key"
                    ));
                }
                Err(_) => {
                    let shown: String = line.chars().take(24).collect();
                    return Err(format!(
                        "{from}: {shown:?}… is not a recipient: give an age1… public key (age-keygen -y KEY) or an \
                         ssh-ed25519/ssh-rsa public key line"
                    ));
                }
            }
        }
        if keys.is_empty() {
            return Err("no recipient given: --encrypt-to needs an age1… or SSH public key".to_owned());
        }
        Ok(Self { keys: Arc::new(keys) })
    }

    /// Reads a recipients file as `age -R` does: one recipient a line, `#` comments and blank
    /// lines skipped.
    pub fn lines_of_file(text: &str) -> impl Iterator<Item = (usize, &str)> {
        text.lines()
            .enumerate()
            .map(|(n, line)| (n + 1, line.trim()))
            .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'))
    }
}

/// The STREAM encryptor of one age file.
pub(crate) struct Seal {
    aead: ChaCha20Poly1305,
    counter: u64,
    chunk: Vec<u8>,
}

/// Where the encryptor was: the chunks sealed so far and the plaintext not yet sealed.
pub(crate) struct SealMark {
    counter: u64,
    chunk: Vec<u8>,
}

impl Seal {
    /// A new file key, wrapped to every recipient: returns the encryptor and the bytes that
    /// start the file (header and payload nonce).
    pub(crate) fn start(recipients: &Recipients) -> io::Result<(Self, Vec<u8>)> {
        let file_key = FileKey::init_with_mut(|key| getrandom::getrandom(key).expect("the system's random source"));
        let mut header = b"age-encryption.org/v1\n".to_vec();
        for recipient in recipients.keys.iter() {
            let (stanzas, _labels) = recipient.wrap_file_key(&file_key).map_err(|e| io::Error::other(e.to_string()))?;
            for stanza in stanzas {
                header.extend_from_slice(b"-> ");
                header.extend_from_slice(stanza.tag.as_bytes());
                for arg in &stanza.args {
                    header.push(b' ');
                    header.extend_from_slice(arg.as_bytes());
                }
                header.push(b'\n');
                // The body in lines of 64 columns, the last one shorter (empty if need be).
                let body = STANDARD_NO_PAD.encode(&stanza.body);
                let mut rest = body.as_bytes();
                while rest.len() >= 64 {
                    header.extend_from_slice(&rest[..64]);
                    header.push(b'\n');
                    rest = &rest[64..];
                }
                header.extend_from_slice(rest);
                header.push(b'\n');
            }
        }
        header.extend_from_slice(b"---");
        let mac_key = hkdf(&[], b"header", file_key.expose_secret());
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&mac_key).expect("any key length");
        mac.update(&header);
        header.push(b' ');
        header.extend_from_slice(STANDARD_NO_PAD.encode(mac.finalize().into_bytes()).as_bytes());
        header.push(b'\n');
        let mut nonce = [0u8; 16];
        getrandom::getrandom(&mut nonce).map_err(|e| io::Error::other(e.to_string()))?;
        header.extend_from_slice(&nonce);
        let payload_key = hkdf(&nonce, b"payload", file_key.expose_secret());
        let seal =
            Self { aead: ChaCha20Poly1305::new(&payload_key.into()), counter: 0, chunk: Vec::with_capacity(CHUNK) };
        Ok((seal, header))
    }

    /// Takes plaintext; every chunk that is full and followed by more is sealed and handed
    /// to `out`. A full chunk waits for the next byte: only then is it known not to be last.
    pub(crate) fn write(&mut self, mut plain: &[u8], out: &mut dyn FnMut(&[u8]) -> io::Result<()>) -> io::Result<()> {
        while !plain.is_empty() {
            if self.chunk.len() == CHUNK {
                self.seal_chunk(false, out)?;
            }
            let n = plain.len().min(CHUNK - self.chunk.len());
            self.chunk.extend_from_slice(&plain[..n]);
            plain = &plain[n..];
        }
        Ok(())
    }

    /// Seals the last chunk.
    pub(crate) fn finish(&mut self, out: &mut dyn FnMut(&[u8]) -> io::Result<()>) -> io::Result<()> {
        self.seal_chunk(true, out)
    }

    pub(crate) fn mark(&self) -> SealMark {
        SealMark { counter: self.counter, chunk: self.chunk.clone() }
    }

    /// Back to `mark`; the caller cuts the file back to where it was then.
    pub(crate) fn rewind(&mut self, mark: SealMark) {
        self.counter = mark.counter;
        self.chunk = mark.chunk;
    }

    fn seal_chunk(&mut self, last: bool, out: &mut dyn FnMut(&[u8]) -> io::Result<()>) -> io::Result<()> {
        let mut nonce = [0u8; 12];
        nonce[3..11].copy_from_slice(&self.counter.to_be_bytes());
        nonce[11] = u8::from(last);
        let tag = self
            .aead
            .encrypt_in_place_detached(Nonce::from_slice(&nonce), b"", &mut self.chunk)
            .map_err(|_| io::Error::other("age chunk encryption failed"))?;
        out(&self.chunk)?;
        out(&tag)?;
        self.chunk.clear();
        self.counter += 1;
        Ok(())
    }
}
