//! Evidence an export leaves for whoever must trust the archive without trusting Sortie: a
//! minisign signature and an RFC 3161 time stamp over the `.sha256` sidecar (beside the
//! archive), and the same over the bag's tag manifest (inside it, so that an extracted bag
//! stays checkable). Everything works on "the sidecar", whatever file it lists.

pub mod sign;
pub mod timestamp;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use minisign::PublicKey;
use serde::Serialize;
use sha2::{Digest, Sha256};
use sortie_formats::bagit::{SIGNER_KEY, TAG_MANIFEST, TAG_MANIFEST_SIGNATURE, TAG_MANIFEST_TIMESTAMP};
use sortie_formats::verify::{Problem, Verification};
use sortie_formats::writer::Seal;

use sign::SigningKey;
use timestamp::Stamp;

/// Bad input: exit 2.
pub fn bad_input(message: String) -> anyhow::Error {
    sortie_core::Error::new(sortie_core::ErrorKind::InvalidInput, message).into()
}

/// `NAME.sha256` → `NAME.sha256.minisig`: the signature of a sidecar, where `minisign -Vm
/// NAME.sha256` looks for it.
pub fn signature_path(sidecar: &Path) -> PathBuf {
    let mut name = sidecar.as_os_str().to_owned();
    name.push(".minisig");
    PathBuf::from(name)
}

/// `NAME.sha256` → `NAME.sha256.tsr`: the time-stamp answer over a sidecar.
pub fn timestamp_path(sidecar: &Path) -> PathBuf {
    let mut name = sidecar.as_os_str().to_owned();
    name.push(".tsr");
    PathBuf::from(name)
}

/// What `export --sign KEY --timestamp URL` asked for, opened before any transfer so that a
/// wrong key, password or URL stops the export at once (exit 2).
#[derive(Debug)]
pub struct Request {
    key: Option<SigningKey>,
    tsa: Option<(String, reqwest::Client)>,
}

impl Request {
    /// `None` when neither was asked for.
    pub fn open(key: Option<&Path>, tsa: Option<&str>) -> Result<Option<Arc<Self>>> {
        if key.is_none() && tsa.is_none() {
            return Ok(None);
        }
        let key = key.map(sign::open_secret_key).transpose()?;
        let tsa = match tsa {
            Some(url) => {
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(bad_input(format!(
                        "--timestamp {}: give the time-stamping authority's http:// or https:// URL",
                        sortie_http::shown_url(url)
                    )));
                }
                Some((url.to_owned(), sortie_http::client(None)?))
            }
            None => None,
        };
        Ok(Some(Arc::new(Self { key, tsa })))
    }

    /// The seal the engine puts on the bag.
    pub fn bag_seal(self: &Arc<Self>) -> Arc<BagSeal> {
        Arc::new(BagSeal {
            request: Arc::clone(self),
            runtime: tokio::runtime::Handle::current(),
            stamp: Mutex::new(None),
        })
    }
}

/// Signs the tag manifest and gets it time-stamped, on the archive writer's thread.
#[derive(Debug)]
pub struct BagSeal {
    request: Arc<Request>,
    runtime: tokio::runtime::Handle,
    /// What the TSA gave for the tag manifest, once asked.
    stamp: Mutex<Option<Result<Stamp, String>>>,
}

impl Seal for BagSeal {
    fn tag_files(&self) -> Vec<(&'static str, Vec<u8>)> {
        let key = self.request.key.as_ref().and_then(|key| sign::public_key_file(&key.public).ok());
        key.map(|text| (SIGNER_KEY, text.into_bytes())).into_iter().collect()
    }

    fn seal(&self, tag_manifest: &[u8]) -> std::io::Result<Vec<(&'static str, Vec<u8>)>> {
        let mut seals = Vec::new();
        if let Some(key) = &self.request.key {
            let signature = key.sign(tag_manifest, TAG_MANIFEST).map_err(std::io::Error::other)?;
            seals.push((TAG_MANIFEST_SIGNATURE, signature.into_bytes()));
        }
        if let Some((url, client)) = &self.request.tsa {
            let digest: [u8; 32] = Sha256::digest(tag_manifest).into();
            let answer = self.runtime.block_on(timestamp::request(client, url, &digest));
            *self.stamp.lock().unwrap_or_else(|e| e.into_inner()) =
                Some(answer.as_ref().map(|(_, s)| s.clone()).map_err(Clone::clone));
            if let Ok((token, _)) = answer {
                seals.push((TAG_MANIFEST_TIMESTAMP, token));
            }
        }
        Ok(seals)
    }

    fn evidence(&self) -> sortie_formats::report_html::Evidence {
        let stamp = self.stamp.lock().unwrap_or_else(|e| e.into_inner()).clone().and_then(Result::ok);
        let url = self.request.tsa.as_ref().map(|(url, _)| sortie_http::shown_url(url)).unwrap_or_default();
        sortie_formats::report_html::Evidence {
            key_fingerprint: self.request.key.as_ref().map(|key| sign::key_id(&key.public)),
            timestamp: stamp.map(|stamp| sortie_formats::report_html::Timestamp {
                time: stamp.time,
                authority: if stamp.tsa.is_empty() { url } else { format!("{} ({url})", stamp.tsa) },
            }),
        }
    }
}

/// The signer of an export: what a report shows to name the key.
#[derive(Debug, Clone, Serialize)]
pub struct Signer {
    /// minisign's key id (16 hex digits), as `minisign -V` prints it.
    pub key_id: String,
    /// The public key file's content (minisign format).
    pub public_key: String,
    /// The signature of the sidecar.
    pub signature: PathBuf,
}

/// The time stamp of an export.
#[derive(Debug, Clone, Serialize)]
pub struct Timestamped {
    /// The TSA's time for the sidecar, RFC 3339 UTC.
    pub time: String,
    /// The TSA's name as its token gives it.
    pub tsa: String,
    /// The TSA asked.
    pub url: String,
    /// The answer over the sidecar.
    pub token: PathBuf,
    /// The TSA's time for the bag's tag manifest.
    pub bag_time: String,
}

/// What an export's evidence came to (`evidence` in `export --json`).
#[derive(Debug, Clone, Serialize, Default)]
pub struct Evidence {
    /// Who signed, when `--sign` was given.
    pub signer: Option<Signer>,
    /// The time stamps, when both were obtained.
    pub timestamp: Option<Timestamped>,
    /// Why a time stamp that was asked for is missing: the export is then not timestamped.
    pub timestamp_error: Option<String>,
}

/// Signs and time-stamps the sidecar of a finished export, and gathers what the bag got.
pub async fn seal_sidecar(request: &Request, bag: &BagSeal, sidecar: &Path) -> Result<Evidence> {
    let content = std::fs::read(sidecar).with_context(|| format!("cannot read {}", sidecar.display()))?;
    let name = sidecar.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut evidence = Evidence::default();
    if let Some(key) = &request.key {
        let path = signature_path(sidecar);
        write_beside(&path, key.sign(&content, &name)?.as_bytes())?;
        evidence.signer = Some(Signer {
            key_id: sign::key_id(&key.public),
            public_key: sign::public_key_file(&key.public)?,
            signature: path,
        });
    }
    if let Some((url, client)) = &request.tsa {
        let digest: [u8; 32] = Sha256::digest(&content).into();
        let bag_stamp = bag.stamp.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let bag_stamp = bag_stamp.unwrap_or_else(|| Err("the bag was not sealed".into()));
        match (timestamp::request(client, url, &digest).await, bag_stamp) {
            (Ok((token, stamp)), Ok(bag_stamp)) => {
                let path = timestamp_path(sidecar);
                write_beside(&path, &token)?;
                evidence.timestamp = Some(Timestamped {
                    time: stamp.time,
                    tsa: stamp.tsa,
                    url: sortie_http::shown_url(url),
                    token: path,
                    bag_time: bag_stamp.time,
                });
            }
            (Err(error), _) | (_, Err(error)) => evidence.timestamp_error = Some(error),
        }
    }
    Ok(evidence)
}

/// Evidence files beside the archive, left by an earlier export of the same name.
pub fn outputs(sidecar: &Path) -> [PathBuf; 2] {
    [signature_path(sidecar), timestamp_path(sidecar)]
}

fn write_beside(path: &Path, content: &[u8]) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    let write = || -> std::io::Result<()> {
        let _ = std::fs::remove_file(&partial);
        let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&partial)?;
        file.write_all(content)?;
        file.sync_all()?;
        std::fs::rename(&partial, path)
    };
    write().with_context(|| format!("cannot write {}", path.display()))
}

/// One evidence check of `verify`.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// `archive signature`, `bag signature`, `archive timestamp`, `bag timestamp`.
    pub what: &'static str,
    /// The file checked (beside the archive, or in the bag).
    pub file: String,
    /// `true` holds, `false` does not, `null` present but not checked (no `--key`).
    pub ok: Option<bool>,
    /// What it says, or why it fails.
    pub detail: String,
}

/// Checks the evidence of a verified archive (`sidecar` beside it) or bag (no sidecar):
/// signatures with `key` when given (then both must be there and hold), time stamps always
/// (that they cover what they claim; their TSA signature is `openssl ts -verify`'s job).
/// What fails is added to the verification's problems, so that the verdict is exit 4.
pub fn check(v: &mut Verification, sidecar: Option<&Path>, key: Option<&PublicKey>) -> Vec<Check> {
    let mut checks = Vec::new();
    let mut add = |v: &mut Verification, what, file: String, ok: Option<bool>, detail: String| {
        if ok == Some(false) {
            v.problems.push(Problem { member: Some(file.clone()), message: format!("{what}: {detail}") });
        }
        checks.push(Check { what, file, ok, detail });
    };
    let evidence = v.evidence.clone();
    let manifest = evidence.tag_manifest.unwrap_or_default();

    // The bag's signature.
    match (&evidence.signature, key) {
        (None, Some(_)) => {
            add(v, "bag signature", TAG_MANIFEST_SIGNATURE.into(), Some(false), "the bag is not signed".into())
        }
        (None, None) => {}
        (Some(_), None) => add(
            v,
            "bag signature",
            TAG_MANIFEST_SIGNATURE.into(),
            None,
            "present, not checked: pass --key KEY.pub".into(),
        ),
        (Some(signature), Some(key)) => {
            let named =
                evidence.signer_key.as_deref().and_then(|k| sign::parse_public_key(&String::from_utf8_lossy(k)));
            let result = match named {
                Some(named) if named.to_bytes() != key.to_bytes() => Err(format!(
                    "the bag names another signer ({SIGNER_KEY}: key {}) than the key given ({})",
                    sign::key_id(&named),
                    sign::key_id(key)
                )),
                None => Err(format!("{SIGNER_KEY} is missing or not a minisign public key")),
                Some(_) => sign::check(key, signature, &manifest)
                    .map(|comment| format!("good, key {} (trusted comment: {comment})", sign::key_id(key))),
            };
            let (ok, detail) = split(result);
            add(v, "bag signature", TAG_MANIFEST_SIGNATURE.into(), Some(ok), detail);
        }
    }
    // The bag's time stamp.
    if let Some(token) = &evidence.timestamp {
        let digest: [u8; 32] = Sha256::digest(&manifest).into();
        let (ok, detail) = split(timestamp::check(token, &digest).map(|s| stamp_line(&s)));
        add(v, "bag timestamp", TAG_MANIFEST_TIMESTAMP.into(), Some(ok), detail);
    }
    let Some(sidecar) = sidecar else { return checks };

    // Beside the archive: the sidecar's signature and time stamp.
    let signature_file = signature_path(sidecar);
    let shown = signature_file.display().to_string();
    let sidecar_bytes = read_bounded(sidecar);
    match (read_bounded(&signature_file), key) {
        (None, Some(_)) => add(v, "archive signature", shown, Some(false), "missing beside the archive".into()),
        (None, None) => {}
        (Some(_), None) => add(v, "archive signature", shown, None, "present, not checked: pass --key KEY.pub".into()),
        (Some(signature), Some(key)) => {
            let result = match &sidecar_bytes {
                Some(content) => sign::check(key, &signature, content)
                    .map(|comment| format!("good, key {} (trusted comment: {comment})", sign::key_id(key))),
                None => Err(format!("the sidecar {} it signs is missing", sidecar.display())),
            };
            let (ok, detail) = split(result);
            add(v, "archive signature", shown, Some(ok), detail);
        }
    }
    let token_file = timestamp_path(sidecar);
    if let Some(token) = read_bounded(&token_file) {
        let digest: [u8; 32] = Sha256::digest(sidecar_bytes.unwrap_or_default()).into();
        let (ok, detail) = split(timestamp::check(&token, &digest).map(|s| stamp_line(&s)));
        add(v, "archive timestamp", token_file.display().to_string(), Some(ok), detail);
    }
    checks
}

fn split(result: std::result::Result<String, String>) -> (bool, String) {
    match result {
        Ok(detail) => (true, detail),
        Err(detail) => (false, detail),
    }
}

fn stamp_line(stamp: &Stamp) -> String {
    let tsa = if stamp.tsa.is_empty() { "an unnamed TSA" } else { &stamp.tsa };
    format!("covers this sha256, dated {} by {tsa} (its signature: openssl ts -verify)", stamp.time)
}

/// A small file beside the archive (a sidecar, a signature, a token), `None` when absent;
/// read no further than 64 KiB, so that a link to /dev/zero costs nothing.
fn read_bounded(path: &Path) -> Option<Vec<u8>> {
    use std::io::Read;
    let mut content = Vec::new();
    std::fs::File::open(path).ok()?.take(64 << 10).read_to_end(&mut content).ok()?;
    Some(content)
}
