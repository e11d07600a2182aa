//! RFC 3161 trusted time stamps: a request for a sha256 digest sent to a time-stamping
//! authority (TSA) over HTTP, and the checks Sortie makes of the answer. The answer is kept
//! whole (a `TimeStampResp`, what `openssl ts -verify -in X.tsr` reads); proving that the
//! TSA signed it takes the TSA's CA certificate, which is `openssl ts -verify -CAfile`'s job.

use cms::cert::x509::ext::pkix::name::GeneralName;
use cms::cert::x509::spki::AlgorithmIdentifier;
use cms::signed_data::EncapsulatedContentInfo;
use der::asn1::{Int, Null, OctetString};
use der::oid::ObjectIdentifier;
use der::{Any, Decode, Encode, Reader, SliceReader};
use serde::Serialize;
use x509_tsp::{MessageImprint, TimeStampReq, TimeStampResp, TspVersion, TstInfo};

const SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
/// A TSA's answer is a few kilobytes (a token and its certificates).
const MAX_REPLY: usize = 1 << 20;
/// A TSA answers in well under a second; one that says nothing for this long is down.
const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// What a time-stamp token says: when, by whom, over which digest.
#[derive(Debug, Clone, Serialize)]
pub struct Stamp {
    /// The TSA's time (`genTime`), RFC 3339 UTC.
    pub time: String,
    /// The TSA's name as the token gives it (`tsa`), or the empty string.
    pub tsa: String,
    /// The digest the token covers, hex.
    pub sha256: String,
}

/// Asks the TSA at `url` for a token over `digest`; returns the answer's DER bytes (to
/// store as is) and what it says. Every failure is a message naming the TSA.
pub async fn request(client: &reqwest::Client, url: &str, digest: &[u8; 32]) -> Result<(Vec<u8>, Stamp), String> {
    let nonce = Int::new(&fastrand::u64((1 << 56)..(1 << 62)).to_be_bytes()).map_err(|e| e.to_string())?;
    let query = TimeStampReq {
        version: TspVersion::V1,
        message_imprint: imprint(digest)?,
        req_policy: None,
        nonce: Some(nonce.clone()),
        // The TSA's certificate inside the token, so that `openssl ts -verify -CAfile` needs
        // the CA alone.
        cert_req: true,
        extensions: None,
    }
    .to_der()
    .map_err(|e| e.to_string())?;
    let shown = sortie_http::shown_url(url);
    let answer = client
        .post(url)
        .timeout(TIMEOUT)
        .header(reqwest::header::CONTENT_TYPE, "application/timestamp-query")
        .body(query)
        .send()
        .await
        .map_err(|e| sortie_http::transport_error(&format!("the time-stamping authority {shown}"), &e).to_string())?;
    let status = answer.status();
    if !status.is_success() {
        return Err(format!("the time-stamping authority {shown} answered HTTP {status}"));
    }
    let mut answer = answer;
    let mut reply = Vec::new();
    while let Some(chunk) =
        answer.chunk().await.map_err(|e| format!("the time-stamping authority {shown} stopped answering: {e}"))?
    {
        if reply.len() + chunk.len() > MAX_REPLY {
            return Err(format!("the time-stamping authority {shown} answered more than {MAX_REPLY} bytes"));
        }
        reply.extend_from_slice(&chunk);
    }
    let stamp = check(&reply, digest).map_err(|e| format!("the time-stamping authority {shown}: {e}"))?;
    let token = token_info(&reply)?;
    if token.nonce != Some(nonce) {
        return Err(format!("the time-stamping authority {shown} answered another request (its nonce differs)"));
    }
    Ok((reply, stamp))
}

fn imprint(digest: &[u8; 32]) -> Result<MessageImprint, String> {
    Ok(MessageImprint {
        hash_algorithm: AlgorithmIdentifier { oid: SHA256, parameters: Some(Any::from(Null)) },
        hashed_message: OctetString::new(digest.as_slice()).map_err(|e| e.to_string())?,
    })
}

fn token_info(reply: &[u8]) -> Result<TstInfo, String> {
    let reply = TimeStampResp::from_der(reply).map_err(|e| format!("not an RFC 3161 time-stamp answer: {e}"))?;
    let Some(token) = reply.time_stamp_token else {
        return Err(format!("the request was refused ({:?})", reply.status));
    };
    let der = token.content.to_der().map_err(|e| e.to_string())?;
    let content = signed_content(&der).map_err(|e| format!("the token is not CMS signed data: {e}"))?;
    let content = content.econtent.ok_or("the token holds no time-stamp information")?;
    TstInfo::from_der(content.value()).map_err(|e| format!("the token's time-stamp information is malformed: {e}"))
}

/// The signed content of CMS `SignedData` (RFC 5652: version, digest algorithms, the
/// content, then certificates, CRLs and signer infos). Only the content is decoded: the
/// rest is the signature's, which `openssl ts -verify` checks, and real TSAs put things
/// there that a strict decoder refuses (the same certificate twice in a SET).
fn signed_content(der: &[u8]) -> der::Result<EncapsulatedContentInfo> {
    let mut reader = SliceReader::new(der)?;
    let content = reader.sequence(|inner| {
        Any::decode(inner)?;
        Any::decode(inner)?;
        let content = EncapsulatedContentInfo::decode(inner)?;
        inner.read_slice(inner.remaining_len())?;
        Ok(content)
    })?;
    reader.finish(content)
}

/// Reads a stored answer and checks that it covers `digest` with sha256; the error says
/// why not. The TSA's signature is not checked here (that needs its CA: `openssl ts -verify`).
pub fn check(reply: &[u8], digest: &[u8; 32]) -> Result<Stamp, String> {
    let token = token_info(reply)?;
    if token.message_imprint.hash_algorithm.oid != SHA256 {
        return Err(format!("the token covers a {} digest, not sha256", token.message_imprint.hash_algorithm.oid));
    }
    let covered = token.message_imprint.hashed_message.as_bytes();
    if covered != digest {
        return Err(format!(
            "the token covers sha256 {}, not this file's {}",
            hex::encode(covered),
            hex::encode(digest)
        ));
    }
    let tsa = match token.tsa {
        Some(GeneralName::DirectoryName(name)) => name.to_string(),
        Some(other) => format!("{other:?}"),
        None => String::new(),
    };
    Ok(Stamp {
        time: humantime::format_rfc3339_seconds(token.gen_time.to_system_time()).to_string(),
        tsa,
        sha256: hex::encode(digest),
    })
}
