//! `sortie ovh credential`: asks the API for a consumer key limited to what an export needs,
//! which the account's owner then validates at the URL the API answers.

use reqwest::header::CONTENT_TYPE;
use serde::Serialize;
use serde_json::{Value, json};
use sortie_sdk::{Error, ErrorKind, Result};

use crate::settings::{Conf, conf_files, endpoint};

/// What an export calls: every `GET`, and the `POST`s that start a server-side export (a
/// database dump, an Exchange mailbox's PST export and its URL, a logs archive's download
/// URL, a Public Cloud S3 credential's secret).
pub const EXPORT_ACCESS_RULES: &[(&str, &str)] = &[
    ("GET", "/*"),
    ("POST", "/*/dump"),
    ("POST", "/*/export"),
    ("POST", "/*/exportURL"),
    ("POST", "/*/url"),
    ("POST", "/*/secret"),
];

/// The API's answer: the new key, still to be validated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CredentialRequest {
    /// The endpoint, as named (`ovh-eu`, or its URL).
    pub endpoint: String,
    /// The application key it was asked for.
    pub application_key: String,
    /// The new consumer key.
    pub consumer_key: String,
    /// Where the account's owner logs in to validate the key.
    pub validation_url: String,
    /// `pendingValidation` until then.
    pub state: String,
}

/// Asks for a consumer key with [`EXPORT_ACCESS_RULES`] for the application key, at the
/// endpoint (each given, else `OVH_ENDPOINT`, `OVH_APPLICATION_KEY`, else `ovh.conf`);
/// `redirection` is where the validation page sends the owner afterwards.
pub async fn request_credential(
    endpoint_name: Option<String>,
    application_key: Option<String>,
    redirection: Option<String>,
) -> Result<CredentialRequest> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let conf = Conf::read(&conf_files(&env))?;
    let endpoint_name = endpoint_name.or_else(|| env("OVH_ENDPOINT")).or_else(|| conf.value("default", "endpoint"));
    let Some(endpoint_name) = endpoint_name else {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            "no OVH endpoint given: --endpoint ovh-eu (or ovh-ca, ovh-us…, or an API URL), or OVH_ENDPOINT",
        ));
    };
    let (base, _) = endpoint(&endpoint_name)?;
    let application_key = application_key
        .or_else(|| env("OVH_APPLICATION_KEY"))
        .or_else(|| conf.value(&endpoint_name, "application_key"))
        .ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "no application key given: create an application for {endpoint_name} (its createApp page), then \
                     give its key with --application-key or OVH_APPLICATION_KEY"
                ),
            )
        })?;
    let rules: Vec<Value> =
        EXPORT_ACCESS_RULES.iter().map(|(method, path)| json!({"method": method, "path": path})).collect();
    let mut body = json!({ "accessRules": rules });
    if let Some(redirection) = redirection {
        body["redirection"] = Value::String(redirection);
    }
    let http = sortie_http::client(None)?;
    let url = format!("{base}/auth/credential");
    let sent = http
        .post(&url)
        .header("X-Ovh-Application", &application_key)
        .header(CONTENT_TYPE, "application/json")
        .body(body.to_string())
        .send();
    let response = sent.await.map_err(|e| sortie_http::transport_error(&url, &e))?;
    let (status, headers) = (response.status(), response.headers().clone());
    let bytes = response.bytes().await.map_err(|e| sortie_http::transport_error(&url, &e))?;
    let who = format!("application key '{application_key}' at {endpoint_name}");
    if !status.is_success() {
        return Err(crate::error::from_answer(status, &headers, &bytes, "POST", "/auth/credential", &who));
    }
    let answer: Value = serde_json::from_slice(&bytes).unwrap_or_default();
    let field = |name: &str| {
        answer[name].as_str().map(str::to_owned).ok_or_else(|| {
            Error::new(ErrorKind::Other, format!("the API's answer to POST /auth/credential has no {name}"))
        })
    };
    Ok(CredentialRequest {
        endpoint: endpoint_name,
        application_key,
        consumer_key: field("consumerKey")?,
        validation_url: field("validationUrl")?,
        state: field("state")?,
    })
}
