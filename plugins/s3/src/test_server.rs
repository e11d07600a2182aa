//! A loopback S3 server for unit tests: answers each request from a table keyed by
//! `METHOD /path?query` (the query sorted, as the client sends it), `404 NoSuchThing` to any
//! other, one answer per connection; it counts the requests it saw.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One scripted answer.
#[derive(Clone)]
pub struct Answer {
    pub status: &'static str,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn ok(body: impl Into<Vec<u8>>) -> Self {
        Self { status: "200 OK", headers: Vec::new(), body: body.into() }
    }

    pub fn status(status: &'static str, body: impl Into<Vec<u8>>) -> Self {
        Self { status, headers: Vec::new(), body: body.into() }
    }

    pub fn header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.push((name, value.to_owned()));
        self
    }
}

pub struct TestServer {
    pub endpoint: String,
    seen: Arc<Mutex<Vec<String>>>,
}

impl TestServer {
    pub async fn start(answers: Vec<(&str, Answer)>) -> Self {
        let answers: HashMap<String, Answer> = answers.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        tokio::spawn(async move {
            loop {
                let (mut socket, _) = listener.accept().await.unwrap();
                let answers = answers.clone();
                let log = log.clone();
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 4096];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&head).into_owned();
                    let line = head.lines().next().unwrap_or_default();
                    let asked = line.rsplit_once(' ').map_or(line, |(asked, _)| asked).to_owned();
                    log.lock().unwrap().push(asked.clone());
                    let answer = answers
                        .get(&asked)
                        .cloned()
                        .unwrap_or_else(|| Answer::status("404 Not Found", "<Error><Code>NoSuchThing</Code></Error>"));
                    let mut out = format!("HTTP/1.1 {}\r\n", answer.status);
                    for (name, value) in &answer.headers {
                        out.push_str(&format!("{name}: {value}\r\n"));
                    }
                    out.push_str(&format!("content-length: {}\r\nconnection: close\r\n\r\n", answer.body.len()));
                    let mut bytes = out.into_bytes();
                    if !asked.starts_with("HEAD ") {
                        bytes.extend_from_slice(&answer.body);
                    }
                    let _ = socket.write_all(&bytes).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        Self { endpoint, seen }
    }

    /// How often `METHOD /path?query` was asked.
    pub fn count(&self, asked: &str) -> usize {
        self.seen.lock().unwrap().iter().filter(|s| *s == asked).count()
    }
}
