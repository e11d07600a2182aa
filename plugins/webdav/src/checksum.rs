//! Nextcloud's and ownCloud's checksums (`oc:checksums` in a listing, `OC-Checksum` on a
//! GET): `SHA1:…`, `MD5:…` and `ADLER32:…`, as the client that uploaded the file announced
//! them. An MD5 is handed to the engine, which checks it while the bytes stream; a SHA1 or
//! Adler-32 alone is checked here, the body failing at its end when it differs.

use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use sha1::{Digest, Sha1};
use sortie_sdk::item::ProviderChecksum;
use sortie_sdk::{Error, ErrorKind, Result};

/// The checksums of one file, lower-case hex, each when announced.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Checksums {
    pub sha1: Option<String>,
    pub md5: Option<String>,
    pub adler32: Option<String>,
}

impl Checksums {
    /// Reads `ALGO:HEX` tokens separated by spaces or commas (several may be announced);
    /// unknown algorithms and malformed values are left out.
    pub fn parse(text: &str) -> Self {
        let mut sums = Self::default();
        for token in text.split([' ', ',', '\n', '\t']).filter(|t| !t.is_empty()) {
            let Some((algorithm, value)) = token.split_once(':') else { continue };
            let value = value.to_ascii_lowercase();
            let valid = |len: usize| value.len() == len && value.bytes().all(|b| b.is_ascii_hexdigit());
            match algorithm.to_ascii_uppercase().as_str() {
                "SHA1" if valid(40) => sums.sha1 = Some(value),
                "MD5" if valid(32) => sums.md5 = Some(value),
                "ADLER32" if valid(8) => sums.adler32 = Some(value),
                _ => {}
            }
        }
        sums
    }

    /// The algorithm [`verified`] checks, when it checks one (no MD5 for the engine).
    pub fn checked_here(&self) -> Option<&'static str> {
        match (&self.md5, &self.sha1, &self.adler32) {
            (Some(_), _, _) => None,
            (None, Some(_), _) => Some("SHA1"),
            (None, None, Some(_)) => Some("Adler-32"),
            (None, None, None) => None,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.sha1.is_none() && self.md5.is_none() && self.adler32.is_none()
    }

    /// What the engine is told: the MD5 when there is one, which it checks.
    pub fn provider_checksum(&self, served: &str) -> ProviderChecksum {
        match &self.md5 {
            Some(md5) => ProviderChecksum::md5(served, md5.clone()),
            None => {
                ProviderChecksum::unchecked(served, Some("checked by the webdav provider (SHA1 or Adler-32)".into()))
            }
        }
    }
}

/// `stream` checked against the SHA1 (else Adler-32) of `sums` when they have no MD5 (the
/// engine checks that one): the last item is an integrity error naming `name` when the
/// bytes differ.
pub fn verified(
    stream: BoxStream<'static, Result<Bytes>>,
    sums: &Checksums,
    name: String,
) -> BoxStream<'static, Result<Bytes>> {
    if sums.md5.is_some() {
        return stream;
    }
    let check = match (&sums.sha1, &sums.adler32) {
        (Some(sha1), _) => Check::Sha1(Sha1::new(), sha1.clone()),
        (None, Some(adler)) => Check::Adler32(adler2::Adler32::new(), adler.clone()),
        (None, None) => return stream,
    };
    futures_util::stream::unfold(Some((stream, check)), move |state| {
        let name = name.clone();
        async move {
            let (mut stream, mut check) = state?;
            match stream.next().await {
                Some(Ok(bytes)) => {
                    check.update(&bytes);
                    Some((Ok(bytes), Some((stream, check))))
                }
                Some(Err(error)) => Some((Err(error), None)),
                None => check.mismatch().map(|(algorithm, got, announced)| {
                    let message = format!(
                        "file '{name}' differs from its {algorithm} checksum: the server announced {announced}, the \
                         bytes received give {got}"
                    );
                    (Err(Error::new(ErrorKind::Integrity, message)), None)
                }),
            }
        }
    })
    .boxed()
}

enum Check {
    Sha1(Sha1, String),
    Adler32(adler2::Adler32, String),
}

impl Check {
    fn update(&mut self, bytes: &[u8]) {
        match self {
            Check::Sha1(hasher, _) => hasher.update(bytes),
            Check::Adler32(hasher, _) => hasher.write_slice(bytes),
        }
    }

    /// `(algorithm, computed, announced)` when they differ.
    fn mismatch(self) -> Option<(&'static str, String, String)> {
        let (algorithm, got, announced) = match self {
            Check::Sha1(hasher, announced) => ("SHA1", hex::encode(hasher.finalize()), announced),
            Check::Adler32(hasher, announced) => ("Adler-32", format!("{:08x}", hasher.checksum()), announced),
        };
        (got != announced).then_some((algorithm, got, announced))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(parts: &[&'static [u8]]) -> BoxStream<'static, Result<Bytes>> {
        futures_util::stream::iter(parts.iter().map(|p| Ok(Bytes::from_static(p))).collect::<Vec<_>>()).boxed()
    }

    async fn collect(stream: BoxStream<'static, Result<Bytes>>) -> Vec<Result<Bytes>> {
        stream.collect().await
    }

    #[test]
    fn nextcloud_checksum_lists_are_read() {
        let sums = Checksums::parse(
            "SHA1:2AAE6C35C94FCFB415DBE95F408B9CE91EE846ED MD5:5eb63bbbe01eeed093cb22bb8f5acdc3 ADLER32:1a0b045d",
        );
        assert_eq!(sums.sha1.as_deref(), Some("2aae6c35c94fcfb415dbe95f408b9ce91ee846ed"));
        assert_eq!(sums.md5.as_deref(), Some("5eb63bbbe01eeed093cb22bb8f5acdc3"));
        assert_eq!(sums.adler32.as_deref(), Some("1a0b045d"));
        assert!(Checksums::parse("SHA256:abc nonsense MD5:xyz").is_empty());
        assert_eq!(sums.provider_checksum("MD5:…").md5.as_deref(), Some("5eb63bbbe01eeed093cb22bb8f5acdc3"));
    }

    #[tokio::test]
    async fn sha1_and_adler32_are_checked_at_the_end_of_the_body() {
        let good = Checksums { sha1: Some("2aae6c35c94fcfb415dbe95f408b9ce91ee846ed".into()), ..Default::default() };
        let out = collect(verified(body(&[b"hello ", b"world"]), &good, "a.txt".into())).await;
        assert!(out.iter().all(Result::is_ok) && out.len() == 2);
        let adler = Checksums { adler32: Some("1a0b045d".into()), ..Default::default() };
        assert!(collect(verified(body(&[b"hello world"]), &adler, "a".into())).await.iter().all(Result::is_ok));
        let bad = Checksums { adler32: Some("00000001".into()), ..Default::default() };
        let out = collect(verified(body(&[b"hello world"]), &bad, "dir/b.txt".into())).await;
        let error = out.last().unwrap().as_ref().unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Integrity);
        assert!(error.to_string().contains("file 'dir/b.txt' differs from its Adler-32 checksum"), "{error}");
    }
}
