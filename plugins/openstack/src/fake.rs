//! A small OpenStack on 127.0.0.1 for the unit tests: tempauth and Keystone logins, a Swift
//! account with plain objects, an SLO, a DLO and their segment container, and a Glance
//! with one image. Enough to open sources from their descriptions alone, in any order, and
//! items twice; the integration tests (tests/openstack.rs) run the real services.

use std::collections::BTreeMap;
use std::sync::Arc;

use md5::{Digest, Md5};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The tempauth key, the Keystone password and the tokens the fake hands out: none may
/// appear in anything Sortie shows.
pub const SECRETS: &[&str] = &["key-secret-1", "password-secret-2", "token-secret-3"];

/// The image's data.
pub const IMAGE: &[u8] = b"an image's bytes";

enum Object {
    Plain(Vec<u8>),
    /// An SLO: its segments, `/container/object`.
    Slo(Vec<&'static str>),
    /// A DLO: `container/prefix`.
    Dlo(&'static str),
}

type Store = BTreeMap<&'static str, BTreeMap<&'static str, Object>>;

fn store() -> Store {
    let mut store = Store::new();
    let mut c = BTreeMap::new();
    c.insert("plain.txt", Object::Plain(b"hello".to_vec()));
    c.insert("big.slo", Object::Slo(vec!["/c_segments/slo/0", "/c_segments/slo/1"]));
    c.insert("big.dlo", Object::Dlo("c_segments/dlo/"));
    store.insert("c", c);
    let mut segments = BTreeMap::new();
    segments.insert("slo/0", Object::Plain(vec![b'a'; 1000]));
    segments.insert("slo/1", Object::Plain(vec![b'b'; 500]));
    segments.insert("dlo/0", Object::Plain(vec![b'c'; 300]));
    segments.insert("dlo/1", Object::Plain(vec![b'd'; 200]));
    segments.insert("loose", Object::Plain(b"not a segment of anything".to_vec()));
    segments.insert("shared/0", Object::Plain(vec![b'e'; 100]));
    store.insert("c_segments", segments);
    let mut other = BTreeMap::new();
    other.insert("elsewhere.slo", Object::Slo(vec!["/c_segments/shared/0"]));
    store.insert("other", other);
    store
}

fn md5(bytes: &[u8]) -> String {
    hex::encode(Md5::digest(bytes))
}

/// A running fake; its address is `url`.
pub struct Fake {
    pub url: String,
}

impl Fake {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let base = url.clone();
        let store = Arc::new(store());
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                tokio::spawn(serve(stream, store.clone(), base.clone()));
            }
        });
        Self { url }
    }

    /// The environment of a tempauth user.
    pub fn tempauth_env(&self) -> Vec<(String, String)> {
        vec![
            ("ST_AUTH".into(), format!("{}/auth/v1.0", self.url)),
            ("ST_USER".into(), "test:tester".into()),
            ("ST_KEY".into(), SECRETS[0].into()),
        ]
    }

    /// The environment of a Keystone user (openrc), its password left to the caller.
    pub fn openrc_env(&self) -> Vec<(String, String)> {
        vec![
            ("OS_AUTH_URL".into(), format!("{}/v3", self.url)),
            ("OS_USERNAME".into(), "alice".into()),
            ("OS_PROJECT_ID".into(), "p1".into()),
        ]
    }
}

struct Request {
    method: String,
    path: String,
    query: BTreeMap<String, String>,
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

async fn read_request(stream: &mut TcpStream) -> Option<Request> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break end;
        }
        let read = stream.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..read]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_owned();
    let target = first.next()?.to_owned();
    let headers: BTreeMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers.get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    let mut body = buffer[head_end + 4..].to_vec();
    while body.len() < length {
        let read = stream.read(&mut chunk).await.ok()?;
        if read == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..read]);
    }
    let decode = |s: &str| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned();
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let query = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').map_or((decode(p), String::new()), |(k, v)| (decode(k), decode(v))))
        .collect();
    Some(Request { method, path: decode(path), query, headers, body })
}

/// Status, headers, body.
type Response = (u16, Vec<(String, String)>, Vec<u8>);

async fn serve(mut stream: TcpStream, store: Arc<Store>, base: String) {
    let Some(request) = read_request(&mut stream).await else { return };
    let (status, headers, body) = answer(&request, &store, &base);
    let mut out = format!("HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n", body.len());
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    if request.method != "HEAD" {
        bytes.extend_from_slice(&body);
    }
    let _ = stream.write_all(&bytes).await;
    let _ = stream.shutdown().await;
}

fn json_response(status: u16, value: serde_json::Value) -> Response {
    (status, vec![("content-type".into(), "application/json".into())], value.to_string().into_bytes())
}

fn not_found() -> Response {
    (404, Vec::new(), b"Not Found".to_vec())
}

fn answer(request: &Request, store: &Store, base: &str) -> Response {
    let token_ok = request.headers.get("x-auth-token").map(String::as_str) == Some(SECRETS[2]);
    match request.path.as_str() {
        "/auth/v1.0" => {
            if request.headers.get("x-auth-key").map(String::as_str) != Some(SECRETS[0]) {
                // Echoes what it was sent, as some servers do.
                return (401, Vec::new(), format!("refused {:?}", request.headers).into_bytes());
            }
            let headers = vec![
                ("x-storage-url".into(), format!("{base}/v1/AUTH_test")),
                ("x-auth-token".into(), SECRETS[2].into()),
            ];
            (200, headers, Vec::new())
        }
        "/v3/auth/tokens" => {
            let sent: serde_json::Value = serde_json::from_slice(&request.body).unwrap_or_default();
            if sent["auth"]["identity"]["password"]["user"]["password"] != SECRETS[1] {
                let message = json!({"error": {"message": format!("cannot accept {sent}")}});
                return json_response(401, message);
            }
            let endpoint = |url: String| json!([{"interface": "public", "region_id": "R", "url": url}]);
            let token = json!({"token": {
            "project": {"id": "p1", "name": "project"},
            "catalog": [
                {"type": "object-store", "endpoints": endpoint(format!("{base}/v1/AUTH_p1"))},
                {"type": "image", "endpoints": endpoint(format!("{base}/glance"))},
            ]}});
            let (_, mut headers, body) = json_response(201, token);
            headers.push(("x-subject-token".into(), SECRETS[2].into()));
            (201, headers, body)
        }
        _ if !token_ok => (401, Vec::new(), Vec::new()),
        "/glance/v2/images" if request.query.get("owner").map(String::as_str) == Some("p1") => json_response(
            200,
            json!({"images": [{"id": "i1", "name": "disk", "status": "active", "disk_format": "raw",
                               "size": IMAGE.len(), "checksum": md5(IMAGE)}]}),
        ),
        "/glance/v2/images/i1/file" => (200, Vec::new(), IMAGE.to_vec()),
        path if path.starts_with("/v1/AUTH_") => swift(request, store, path.splitn(5, '/').skip(3).collect()),
        _ => not_found(),
    }
}

fn swift(request: &Request, store: &Store, parts: Vec<&str>) -> Response {
    let listing = |names: Vec<(&str, serde_json::Value)>| {
        let marker = request.query.get("marker").cloned().unwrap_or_default();
        let prefix = request.query.get("prefix").cloned().unwrap_or_default();
        let limit: usize = request.query.get("limit").and_then(|l| l.parse().ok()).unwrap_or(10_000);
        let page: Vec<serde_json::Value> = names
            .into_iter()
            .filter(|(name, _)| *name > marker.as_str() && name.starts_with(&prefix))
            .take(limit)
            .map(|(_, entry)| entry)
            .collect();
        json_response(200, json!(page))
    };
    match parts.as_slice() {
        [] | [""] if request.method == "HEAD" => {
            (204, vec![("x-account-container-count".into(), store.len().to_string())], Vec::new())
        }
        [] | [""] => listing(store.keys().map(|name| (*name, json!({"name": name}))).collect()),
        [container] => {
            let Some(objects) = store.get(container) else { return not_found() };
            if request.method == "HEAD" {
                return (204, vec![("x-container-object-count".into(), objects.len().to_string())], Vec::new());
            }
            let entries = objects
                .iter()
                .map(|(name, object)| {
                    let mut entry = json!({"name": name, "content_type": "application/octet-stream",
                                           "last_modified": "2026-11-22T13:06:31.008410"});
                    let body = assemble(store, object);
                    entry["bytes"] = json!(body.len());
                    entry["hash"] = json!(md5(&body));
                    match object {
                        Object::Slo(_) => entry["slo_etag"] = json!(format!("\"{}\"", md5(&body))),
                        Object::Dlo(_) => {
                            entry["bytes"] = json!(0);
                            entry["hash"] = json!(md5(b""));
                        }
                        Object::Plain(_) => {}
                    }
                    (*name, entry)
                })
                .collect();
            listing(entries)
        }
        [container, name] => {
            let Some(object) = store.get(container).and_then(|objects| objects.get(name)) else {
                return not_found();
            };
            let manifest = request.query.contains_key("multipart-manifest");
            match (object, manifest) {
                (Object::Slo(segments), true) => {
                    let entries: Vec<serde_json::Value> = segments
                        .iter()
                        .map(|segment| {
                            let (c, o) = segment[1..].split_once('/').unwrap();
                            let body = assemble(store, &store[c][o]);
                            json!({"name": segment, "bytes": body.len(), "hash": md5(&body)})
                        })
                        .collect();
                    json_response(200, json!(entries))
                }
                (Object::Dlo(prefix), true) => {
                    (200, vec![("x-object-manifest".into(), (*prefix).to_owned())], Vec::new())
                }
                (object, _) => {
                    let body = assemble(store, object);
                    let mut headers = vec![("etag".into(), format!("\"{}\"", md5(&body)))];
                    match object {
                        Object::Slo(_) => headers.push(("x-static-large-object".into(), "True".into())),
                        Object::Dlo(prefix) => headers.push(("x-object-manifest".into(), (*prefix).to_owned())),
                        Object::Plain(_) => headers.push(("x-object-meta-color".into(), "blue".into())),
                    }
                    (200, headers, body)
                }
            }
        }
        _ => not_found(),
    }
}

/// A large object's bytes, assembled from its segments.
fn assemble(store: &Store, object: &Object) -> Vec<u8> {
    match object {
        Object::Plain(bytes) => bytes.clone(),
        Object::Slo(segments) => segments
            .iter()
            .flat_map(|segment| {
                let (c, o) = segment[1..].split_once('/').unwrap();
                assemble(store, &store[c][o])
            })
            .collect(),
        Object::Dlo(manifest) => {
            let (c, prefix) = manifest.split_once('/').unwrap();
            store[c].iter().filter(|(name, _)| name.starts_with(prefix)).flat_map(|(_, o)| assemble(store, o)).collect()
        }
    }
}
