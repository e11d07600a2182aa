//! minisign keys and signatures: the format of the `minisign` tool, so that a key it made
//! signs here and `minisign -V` checks what Sortie signed.

use std::io::{IsTerminal, Write};
use std::path::Path;

use anyhow::{Result, bail};
use ct_codecs::{Base64, Decoder};
use minisign::{PublicKey, PublicKeyBox, SecretKey, SecretKeyBox, SignatureBox};

use super::bad_input;

/// Where an unattended run finds the password of a protected secret key.
pub const PASSWORD_ENV: &str = "SORTIE_SIGN_PASSWORD";
/// Key files are a few hundred bytes; anything much larger is not one.
const MAX_KEY_FILE: u64 = 16 << 10;

/// A secret key opened for signing, with its public half.
pub struct SigningKey {
    secret: SecretKey,
    /// The public key, what `verify --key` and `minisign -p` take.
    pub public: PublicKey,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({})", key_id(&self.public))
    }
}

/// minisign's key id: the 8 bytes that name a key pair, as `minisign` prints them.
pub fn key_id(key: &PublicKey) -> String {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(key.keynum());
    format!("{:016X}", u64::from_le_bytes(bytes))
}

/// The public key in minisign's `.pub` file format.
pub fn public_key_file(key: &PublicKey) -> Result<String> {
    Ok(key.to_box()?.into_string())
}

fn read_small(path: &Path, what: &str) -> Result<String> {
    let fail = |error: String| bad_input(format!("cannot read the {what} {}: {error}", path.display()));
    let meta = std::fs::metadata(path).map_err(|e| fail(e.to_string()))?;
    if !meta.is_file() || meta.len() > MAX_KEY_FILE {
        return Err(fail("not a minisign key file (too large, or not a file)".into()));
    }
    std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))
}

/// Opens the secret key at `path` (made by `sortie keygen` or `minisign -G`). A key protected
/// by a password takes it from `SORTIE_SIGN_PASSWORD`, else asks on the terminal; without
/// either, or with a wrong password, it is refused (exit 2) before anything is exported.
pub fn open_secret_key(path: &Path) -> Result<SigningKey> {
    let text = read_small(path, "signing key")?;
    let not_a_key = || {
        bad_input(format!(
            "{} is not a minisign secret key (made by `sortie keygen` or `minisign -G`); give the secret key, \
             not the .pub file",
            path.display()
        ))
    };
    let encoded = text.lines().nth(1).ok_or_else(not_a_key)?;
    let raw = Base64::decode_to_vec(encoded.trim(), None).map_err(|_| not_a_key())?;
    // signature algorithm (2 bytes), then the key derivation: "Sc" for scrypt, zeros for none.
    let protected = match raw.get(2..4) {
        Some(b"Sc") => true,
        Some([0, 0]) => false,
        _ => return Err(not_a_key()),
    };
    let secret = if protected {
        let key_box = SecretKeyBox::from_string(&text).map_err(|_| not_a_key())?;
        let password = password_for(path)?;
        SecretKey::from_box(key_box, Some(password)).map_err(|e| {
            bad_input(format!(
                "cannot open the signing key {}: {}; check the password ({PASSWORD_ENV}, or the prompt)",
                path.display(),
                lower_first(&e.to_string())
            ))
        })?
    } else {
        // The minisign tool leaves the checksum of an unprotected key (`-G -W`) zero, which
        // the crate's box reader refuses as corrupted: the key is read as it is, and the
        // signature below proves it whole.
        SecretKey::from_bytes(&raw).map_err(|_| not_a_key())?
    };
    let public = PublicKey::from_secret_key(&secret).map_err(|_| not_a_key())?;
    let key = SigningKey { secret, public };
    // A key whose halves disagree fails here, before any transfer, not after the export.
    key.sign(b"", "check").map_err(|_| not_a_key())?;
    Ok(key)
}

fn password_for(path: &Path) -> Result<String> {
    if let Some(password) = std::env::var_os(PASSWORD_ENV) {
        return password.into_string().map_err(|_| bad_input(format!("{PASSWORD_ENV} is not valid UTF-8")));
    }
    if !std::io::stdin().is_terminal() {
        bail!(bad_input(format!(
            "the signing key {} is protected by a password: set {PASSWORD_ENV} for a run without a terminal",
            path.display()
        )));
    }
    Ok(rpassword::prompt_password(format!("Password of the signing key {}: ", path.display()))?)
}

/// Opens a public key file (`KEY.pub`, minisign's format).
pub fn open_public_key(path: &Path) -> Result<PublicKey> {
    let text = read_small(path, "public key")?;
    parse_public_key(&text).ok_or_else(|| {
        bad_input(format!(
            "{} is not a minisign public key (the .pub file of `sortie keygen` or `minisign -G`)",
            path.display()
        ))
    })
}

/// A public key in minisign's file format (a comment line, then the key), or `None`.
pub fn parse_public_key(text: &str) -> Option<PublicKey> {
    PublicKeyBox::from_string(text).ok()?.into_public_key().ok()
}

impl SigningKey {
    /// A minisign signature of the file `name` holding `data` (prehashed, as minisign makes
    /// by default), its trusted comment as minisign's: `timestamp:SECONDS\tfile:NAME`.
    pub fn sign(&self, data: &[u8], name: &str) -> Result<String> {
        let seconds = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let trusted = format!("timestamp:{seconds}\tfile:{name}\thashed");
        let untrusted = format!("signature from sortie secret key {}", key_id(&self.public));
        let signature = minisign::sign(Some(&self.public), &self.secret, data, Some(&trusted), Some(&untrusted))?;
        Ok(signature.into_string())
    }
}

/// Checks a minisign signature (`.minisig` text) of `data` with `key`; the error says why
/// it does not hold.
pub fn check(key: &PublicKey, signature: &[u8], data: &[u8]) -> std::result::Result<String, String> {
    let text = std::str::from_utf8(signature).map_err(|_| "not a minisign signature (not text)".to_owned())?;
    let signature = SignatureBox::from_string(text).map_err(|e| format!("not a minisign signature: {e}"))?;
    let comment = signature.trusted_comment().unwrap_or_default();
    minisign::verify(key, &signature, std::io::Cursor::new(data), true, false, false)
        .map_err(|e| lower_first(&e.to_string()))?;
    Ok(comment)
}

/// minisign's messages start with a capital; Sortie's, inside a sentence, do not.
fn lower_first(message: &str) -> String {
    let mut chars = message.chars();
    chars.next().map(|first| first.to_lowercase().chain(chars).collect()).unwrap_or_default()
}

/// Writes a new key pair: the secret key at `secret` (mode 0600, protected by `password`
/// unless it is `None`) and the public key at `secret` + `.pub`. Returns the key id.
pub fn generate(secret: &Path, public: &Path, password: Option<String>) -> Result<String> {
    let pair = match password {
        Some(password) => minisign::KeyPair::generate_encrypted_keypair(Some(password))?,
        None => minisign::KeyPair::generate_unencrypted_keypair()?,
    };
    let id = key_id(&pair.pk);
    let comment = format!("sortie secret key {id}");
    write_new(secret, pair.sk.to_box(Some(&comment))?.into_string().as_bytes(), 0o600)?;
    write_new(public, public_key_file(&pair.pk)?.as_bytes(), 0o644)?;
    Ok(id)
}

fn write_new(path: &Path, content: &[u8], mode: u32) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let _ = std::fs::remove_file(path);
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(mode).open(path)?;
    file.write_all(content)?;
    file.sync_all()?;
    Ok(())
}
