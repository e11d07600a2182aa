//! A loopback HTTP proxy in front of a real server that injects the faults a real S3 store
//! produces under load (503 SlowDown with Retry-After, 429, 500, a connection cut in the
//! middle of a body), once per request it is told about, and forwards everything else.
//! Each request goes to the server on a connection of its own (`Connection: close`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What to do, the first time, with a request for a given target: the exact path, or, for a
/// target holding `?`, any request starting with it (a listing page whose token is opaque).
#[derive(Clone, Copy, Debug)]
pub enum Fault {
    /// Answer with this status and S3 error code, and `Retry-After: 1`.
    Status(u16, &'static str),
    /// Forward, then cut the connection after this many bytes of the answer's body.
    CutAfter(usize),
    /// Forward with the body's byte at this offset flipped (damage no length check sees).
    Flip(usize),
}

pub struct FaultProxy {
    pub endpoint: String,
    /// Per planned target: when each request for it arrived.
    seen: Arc<Mutex<HashMap<&'static str, Vec<Instant>>>>,
}

impl FaultProxy {
    pub async fn start(upstream: &str, plan: Vec<(&'static str, Fault)>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let upstream = upstream.trim_start_matches("http://").to_owned();
        let seen: Arc<Mutex<HashMap<&'static str, Vec<Instant>>>> = Arc::default();
        let plan = Arc::new(plan);
        let state = seen.clone();
        tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else { return };
                tokio::spawn(serve(client, upstream.clone(), plan.clone(), state.clone()));
            }
        });
        Self { endpoint, seen }
    }

    /// When the requests for a planned target arrived.
    pub fn arrivals(&self, target: &str) -> Vec<Instant> {
        self.seen.lock().unwrap().get(target).cloned().unwrap_or_default()
    }
}

async fn serve(
    mut client: TcpStream,
    upstream: String,
    plan: Arc<Vec<(&'static str, Fault)>>,
    seen: Arc<Mutex<HashMap<&'static str, Vec<Instant>>>>,
) {
    loop {
        let Some(head) = read_head(&mut client).await else { return };
        let request_line = head.lines().next().unwrap_or_default().to_owned();
        let target = request_line.split(' ').nth(1).unwrap_or_default();
        let planned = plan
            .iter()
            .find(|(planned, _)| target == *planned || (planned.contains('?') && target.starts_with(planned)))
            .map(|(planned, fault)| (*planned, *fault));
        let first = planned.map(|(prefix, _)| {
            let mut seen = seen.lock().unwrap();
            let arrivals = seen.entry(prefix).or_default();
            arrivals.push(Instant::now());
            arrivals.len() == 1
        });
        match planned {
            Some((_, Fault::Status(status, code))) if first == Some(true) => {
                let body = format!("<Error><Code>{code}</Code><Message>injected</Message></Error>");
                let answer = format!(
                    "HTTP/1.1 {status} Injected\r\nretry-after: 1\r\ncontent-type: application/xml\r\ncontent-length: {}\r\n\r\n{body}",
                    body.len()
                );
                if client.write_all(answer.as_bytes()).await.is_err() {
                    return;
                }
            }
            Some((_, Fault::CutAfter(limit))) if first == Some(true) => {
                forward(&mut client, &upstream, &head, Damage::CutAfter(limit)).await;
                return;
            }
            Some((_, Fault::Flip(offset))) if first == Some(true) => {
                if !forward(&mut client, &upstream, &head, Damage::Flip(offset)).await {
                    return;
                }
            }
            _ => {
                if !forward(&mut client, &upstream, &head, Damage::None).await {
                    return;
                }
            }
        }
    }
}

/// Reads one request head (GET and HEAD requests have no body).
async fn read_head(client: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if client.read(&mut byte).await.ok()? == 0 {
            return None;
        }
        head.push(byte[0]);
    }
    Some(String::from_utf8_lossy(&head).into_owned())
}

enum Damage {
    None,
    CutAfter(usize),
    Flip(usize),
}

/// Sends the request to the server on a new connection and copies the answer back, whole,
/// cut, or with one body byte flipped; false when the client connection is done.
async fn forward(client: &mut TcpStream, upstream: &str, head: &str, damage: Damage) -> bool {
    let Ok(mut server) = TcpStream::connect(upstream).await else { return false };
    let mut request: String = head
        .trim_end()
        .lines()
        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
        .map(|l| format!("{l}\r\n"))
        .collect();
    request.push_str("connection: close\r\n\r\n");
    if server.write_all(request.as_bytes()).await.is_err() {
        return false;
    }
    let mut answer = Vec::new();
    if server.read_to_end(&mut answer).await.is_err() {
        return false;
    }
    let body_start = answer.windows(4).position(|w| w == b"\r\n\r\n").map_or(0, |p| p + 4);
    match damage {
        Damage::CutAfter(limit) => {
            answer.truncate((body_start + limit).min(answer.len()));
            let _ = client.write_all(&answer).await;
            return false;
        }
        Damage::Flip(offset) => {
            if let Some(byte) = answer.get_mut(body_start + offset) {
                *byte ^= 0x01;
            }
        }
        Damage::None => {}
    }
    let closes = String::from_utf8_lossy(&answer[..answer.len().min(4096)])
        .to_ascii_lowercase()
        .contains("\r\nconnection: close");
    client.write_all(&answer).await.is_ok() && !closes
}
