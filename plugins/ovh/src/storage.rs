//! The object storage of the Public Cloud projects, handed to the s3 provider: the
//! project's regions offering S3 and their containers, a user's S3 access key and its secret
//! (read by `POST …/s3Credentials/{access}/secret`) become one `s3://CONTAINER` source each,
//! whose secret lives in the source's settings in memory only (a plan leaves secrets out).

use reqwest::Method;
use serde_json::Value;
use sortie_plugin_s3::S3Factory;
use sortie_sdk::registry::ProviderFactory;
use sortie_sdk::settings::Settings;
use sortie_sdk::source::SourceSpec;
use sortie_sdk::{Error, ErrorKind, Result};

use crate::client::Client;
use crate::lister::encode;

/// One `s3://` source per container of every project's S3 regions. A project without a user
/// holding S3 credentials, or a call the key may not make, is skipped with a warning: the
/// projects' records (ovh://cloud) say what there is.
pub async fn sources(client: &Client) -> Result<Vec<SourceSpec>> {
    let mut sources = Vec::new();
    for project in strings(&skippable(client.get("/cloud/project").await)?) {
        let base = format!("/cloud/project/{}", encode(&project));
        match project_sources(client, &base).await {
            Ok(found) => sources.extend(found),
            Err(error) if error.kind() == ErrorKind::Unauthenticated => return Err(error),
            Err(error) => tracing::warn!("the object storage of {base} is not exported: {error}"),
        }
    }
    Ok(sources)
}

async fn project_sources(client: &Client, base: &str) -> Result<Vec<SourceSpec>> {
    let mut regions = Vec::new();
    for region in strings(&client.get(&format!("{base}/region")).await?.1) {
        let route = format!("{base}/region/{}", encode(&region));
        let (_, record) = client.get(&route).await?;
        let endpoint = record["services"].as_array().into_iter().flatten().find_map(|service| {
            let s3 = service["name"].as_str().is_some_and(|name| name.starts_with("storage-s3"));
            s3.then(|| service["endpoint"].as_str().map(str::to_owned)).flatten()
        });
        if let Some(endpoint) = endpoint {
            regions.push((region, route, endpoint));
        }
    }
    if regions.is_empty() {
        return Ok(Vec::new());
    }
    let Some((access, secret)) = credentials(client, base).await? else {
        return Err(Error::new(
            ErrorKind::NotFound,
            "no user of the project has S3 credentials: create some for a user with the objectstore_operator role",
        ));
    };
    let mut sources = Vec::new();
    for (region, route, endpoint) in regions {
        let s3 = S3Factory.info();
        let mut settings = Settings::new();
        settings.set(s3.setting("endpoint")?, &endpoint)?;
        settings.set(s3.setting("region")?, &region.to_ascii_lowercase())?;
        settings.set(s3.setting("access_key_id")?, &access)?;
        settings.set(s3.setting("secret_access_key")?, &secret)?;
        let (_, containers) = client.get(&format!("{route}/storage")).await?;
        for container in containers.as_array().into_iter().flatten() {
            if let Some(name) = container["name"].as_str() {
                sources.push(S3Factory.source(&format!("s3://{name}"), settings.clone())?);
            }
        }
    }
    Ok(sources)
}

/// The first S3 access key of the project's users, with its secret.
async fn credentials(client: &Client, base: &str) -> Result<Option<(String, String)>> {
    let (_, users) = client.get(&format!("{base}/user")).await?;
    for user in users.as_array().into_iter().flatten() {
        let Some(id) = user["id"].as_u64().map(|id| id.to_string()).or(user["id"].as_str().map(str::to_owned)) else {
            continue;
        };
        let route = format!("{base}/user/{}/s3Credentials", encode(&id));
        let (_, credentials) = client.get(&route).await?;
        let Some(access) = credentials.as_array().and_then(|c| c.first()).and_then(|c| c["access"].as_str()) else {
            continue;
        };
        let answer = client.call(Method::POST, &format!("{route}/{}/secret", encode(access)), None).await?;
        let secret: Value = serde_json::from_slice(&answer).unwrap_or_default();
        let Some(secret) = secret["secret"].as_str() else {
            return Err(Error::new(ErrorKind::Other, format!("POST {route}/{access}/secret answered no secret")));
        };
        return Ok(Some((access.to_owned(), secret.to_owned())));
    }
    Ok(None)
}

/// No project (404) or no right to list them: nothing to hand over.
fn skippable(answer: Result<(bytes::Bytes, Value)>) -> Result<Value> {
    match answer {
        Ok((_, json)) => Ok(json),
        Err(error) if crate::error::exclusion(&error).is_some() => Ok(Value::Array(Vec::new())),
        Err(error) => Err(error),
    }
}

fn strings(list: &Value) -> Vec<String> {
    list.as_array().into_iter().flatten().filter_map(|v| v.as_str().map(str::to_owned)).collect()
}
