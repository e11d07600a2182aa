//! Opening an item with bytes of its own: a document a record links to (a bill's PDF), or a
//! file made for the export — a fresh database dump, an Exchange mailbox's PST —: started,
//! its task polled, then downloaded.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use reqwest::Method;
use serde_json::{Value, json};
use sortie_sdk::item::Item;
use sortie_sdk::provider::Body;
use sortie_sdk::{Error, ErrorKind, Result};

use crate::client::Client;
use crate::lister::{Locator, encode};

/// How often a dump's task is asked about.
const POLL: Duration = Duration::from_secs(1);
/// How long a dump or a PST export may take before the item fails: hours for a large one.
const MAX_DUMP_WAIT: Duration = Duration::from_secs(6 * 3600);

pub async fn open(client: &Client, item: &Item) -> Result<Body> {
    let name = item.id.display();
    let Some(text) = item.locator.as_deref() else {
        return Err(Error::new(ErrorKind::NotFound, format!("{name} has no document of its own to download")));
    };
    let locator: Locator = serde_json::from_str(text)
        .map_err(|e| Error::new(ErrorKind::Other, format!("{name} cannot be opened: its locator is damaged: {e}")))?;
    match locator {
        Locator::Linked { url } => download(client, &url, &format!("the document of {name}")).await,
        Locator::Dump { service, database } => dump(client, &service, &database).await,
        Locator::Pst { service, account } => pst(client, &service, &account).await,
        Locator::Posted { route } => {
            let answer = client.call(Method::POST, &route, None).await?;
            let answer: Value = serde_json::from_slice(&answer).unwrap_or_default();
            let Some(url) = answer["url"].as_str() else {
                return Err(Error::new(ErrorKind::Other, format!("POST {route} answered no url")));
            };
            download(client, url, &format!("the file of {name}")).await
        }
    }
}

async fn download(client: &Client, url: &str, what: &str) -> Result<Body> {
    let response = client.download(url, what).await?;
    let size = response.content_length();
    let content_type =
        response.headers().get(reqwest::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let what = what.to_owned();
    let stream = response
        .bytes_stream()
        .map(move |chunk| {
            chunk.map_err(|e| Error::new(ErrorKind::Unavailable, format!("{what} broke off: {e}")).temporary())
        })
        .boxed();
    let mut body = Body::streaming(size, stream);
    body.content_type = content_type;
    Ok(body)
}

/// A new dump of `database`: the dumps there before are noted, a dump is started, its task
/// polled until done, and the dump it made downloaded.
async fn dump(client: &Client, service: &str, database: &str) -> Result<Body> {
    let list = format!("{database}/dump");
    let before: BTreeSet<String> = ids(&client.get(&list).await?.1);
    let request = if service.starts_with("/hosting/web/") {
        json!({"date": "now", "sendEmail": false})
    } else {
        json!({"sendEmail": false})
    };
    let task_route = format!("{service}/tasks/{}", encode(&start(client, &list, Some(&request)).await?));
    let task = wait(client, &task_route).await?;
    let made = match id(&task["dumpId"]) {
        Some(dump) => dump,
        None => {
            let after = ids(&client.get(&list).await?.1);
            let new: Vec<&String> = after.difference(&before).collect();
            match new.as_slice() {
                [one] => (*one).clone(),
                _ => {
                    return Err(Error::new(
                        ErrorKind::Other,
                        format!("the dump task {task_route} is done, but {} new dumps are listed at {list}", new.len()),
                    ));
                }
            }
        }
    };
    let route = format!("{list}/{}", encode(&made));
    download_url_of(client, &route, &format!("the dump {route}")).await
}

/// An Exchange mailbox's PST file: an export of it started (or the one under way, or done,
/// taken up), its task polled, then a URL asked for, that task polled, and the file read.
async fn pst(client: &Client, service: &str, account: &str) -> Result<Body> {
    let export = format!("{account}/export");
    let pending = match client.get(&export).await {
        Ok((_, state)) if state["percentComplete"].as_u64() == Some(100) => None,
        Ok((_, state)) => id(&state["taskPendingId"]).filter(|t| t != "0"),
        Err(error) if error.kind() == ErrorKind::NotFound => Some(start(client, &export, None).await?),
        Err(error) => return Err(error),
    };
    if let Some(task) = pending {
        wait(client, &format!("{service}/task/{}", encode(&task))).await?;
    }
    let url_route = format!("{account}/exportURL");
    let task = start(client, &url_route, None).await?;
    wait(client, &format!("{service}/task/{}", encode(&task))).await?;
    download_url_of(client, &url_route, &format!("the PST file of {account}")).await
}

/// Starts a server-side task (`POST route`); its id.
async fn start(client: &Client, route: &str, request: Option<&Value>) -> Result<String> {
    let answer = client.call(Method::POST, route, request).await?;
    id(&serde_json::from_slice::<Value>(&answer).unwrap_or_default()["id"])
        .ok_or_else(|| Error::new(ErrorKind::Other, format!("POST {route} answered no task id")))
}

/// The file at the `url` of the record at `route`, which its inventory record names (so that
/// the file can be told from the API's record of it).
async fn download_url_of(client: &Client, route: &str, what: &str) -> Result<Body> {
    let (_, record) = client.get(route).await?;
    let Some(url) = record["url"].as_str() else {
        return Err(Error::new(ErrorKind::Other, format!("{route} has no url")));
    };
    let mut body = download(client, url, what).await?;
    body.meta.insert("route".into(), route.into());
    body.meta.insert("field".into(), "url".into());
    Ok(body)
}

/// Polls the task at `route` until it is done; the task as it then reads.
async fn wait(client: &Client, route: &str) -> Result<Value> {
    let started = Instant::now();
    loop {
        let (_, task) = client.get(route).await?;
        match task["status"].as_str() {
            Some("done") => return Ok(task),
            Some(status @ ("error" | "cancelled")) => {
                return Err(Error::new(ErrorKind::Other, format!("the task {route} ended {status}")));
            }
            _ if started.elapsed() > MAX_DUMP_WAIT => {
                return Err(Error::new(
                    ErrorKind::Unavailable,
                    format!("the task {route} is not done after {} hours", MAX_DUMP_WAIT.as_secs() / 3600),
                ));
            }
            _ => tokio::time::sleep(POLL).await,
        }
    }
}

fn id(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

fn ids(answer: &Value) -> BTreeSet<String> {
    answer.as_array().into_iter().flatten().filter_map(id).collect()
}
