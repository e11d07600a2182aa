//! Every request of the network providers logged at debug level (`-vv`, or
//! `SORTIE_LOG=sortie_http=debug`): method, URL, status and how long the answer's headers
//! took — what a user debugging a slow or failing export needs, and nothing that would let
//! a reader of the log act as the user: no header, no body, and a URL without its user info
//! nor the values of the query parameters that carry a credential (presigned S3 URLs,
//! Swift temporary URLs).

use std::future::Future;
use std::time::Instant;

use reqwest::{Method, Response};
use sortie_sdk::error::Result;

/// Sends a request (`send`) and logs it once its answer, or the failure to get one, is in.
pub async fn logged(method: &Method, url: &str, send: impl Future<Output = Result<Response>>) -> Result<Response> {
    let started = Instant::now();
    let answer = send.await;
    if tracing::enabled!(tracing::Level::DEBUG) {
        let elapsed = started.elapsed();
        let url = shown_url(url);
        match &answer {
            Ok(response) => tracing::debug!(status = response.status().as_u16(), ?elapsed, "{method} {url}"),
            Err(error) => tracing::debug!(%error, ?elapsed, "{method} {url} got no answer"),
        }
    }
    answer
}

/// Fragments of query parameter names whose values are credentials: `X-Amz-Signature`,
/// `X-Amz-Credential`, `X-Amz-Security-Token`, `Signature`, `temp_url_sig`, any `token`…
const SECRET_PARAMETERS: &[&str] = &["signature", "credential", "token", "sig", "secret", "password", "accesskeyid"];

/// Parameters named like a secret that are not: S3's listing cursor.
const PLAIN_PARAMETERS: &[&str] = &["continuation-token"];

/// `url` as a log may show it: user info replaced by `***`, and so is the value of every
/// query parameter named like a credential.
pub fn shown_url(url: &str) -> String {
    let url = crate::redact_userinfo(url);
    let Some((base, query)) = url.split_once('?') else { return url };
    let parameters: Vec<String> = query
        .split('&')
        .map(|parameter| match parameter.split_once('=') {
            Some((name, value)) if !value.is_empty() && is_secret(name) => format!("{name}=***"),
            _ => parameter.to_owned(),
        })
        .collect();
    format!("{base}?{}", parameters.join("&"))
}

fn is_secret(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    !PLAIN_PARAMETERS.contains(&name.as_str()) && SECRET_PARAMETERS.iter().any(|fragment| name.contains(fragment))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_leave_urls_and_the_rest_stays() {
        let presigned = "https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA%2F20250101\
                         &X-Amz-Security-Token=FwoG&X-Amz-Signature=abc123&X-Amz-Expires=60";
        assert_eq!(
            shown_url(presigned),
            "https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=***\
             &X-Amz-Security-Token=***&X-Amz-Signature=***&X-Amz-Expires=60"
        );
        assert_eq!(
            shown_url("http://u:p@h/v1/AUTH_a/c/o?temp_url_sig=f00&temp_url_expires=1"),
            "http://***@h/v1/AUTH_a/c/o?temp_url_sig=***&temp_url_expires=1"
        );
        assert_eq!(
            shown_url("http://h/b?continuation-token=abc&list-type=2&tagging"),
            "http://h/b?continuation-token=abc&list-type=2&tagging"
        );
        assert_eq!(shown_url("http://h/b/key"), "http://h/b/key");
    }
}
