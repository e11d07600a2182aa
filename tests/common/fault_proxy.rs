//! A loopback HTTP proxy in front of a real server that injects the faults a real store
//! produces under load, and forwards everything else. Each request goes to the server on a
//! connection of its own (`Connection: close`); the server's address in an answer's headers
//! (Swift tempauth's `X-Storage-Url`) is replaced by the proxy's, so that the requests made
//! to it also come through.
//!
//! Two modes:
//! - a plan: given faults, once each, on the requests for given targets;
//! - random: a seeded fraction of *all* requests (listings, checks, HEADs, `?tagging`,
//!   `?acl`, `?partNumber`, configuration sub-resources, GETs, logins) answered with 503
//!   SlowDown, 429, 500, a connection reset, a cut or damaged answer, or a stall. It is
//!   bounded: one target (method and path with query) meets at most [`MAX_FAULTS_PER_TARGET`]
//!   faults, so that a client retrying each request on its own always gets through, and a
//!   stall lasts [`STALL`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What to do, the first time, with a request for a given target: the exact path, or, for a
/// target holding `?`, any request starting with it (a listing page whose token is opaque),
/// or `METHOD /path` for that method's requests only (a DAV REPORT, not the PROPFIND), or
/// `/path bytes=A-B` for the requests of that path with that `Range` header only.
#[derive(Clone, Copy, Debug)]
pub enum Fault {
    /// Answer with this status and S3 error code, and `Retry-After: 1`.
    Status(u16, &'static str),
    /// Forward, then cut the connection after this many bytes of the answer's body.
    CutAfter(usize),
    /// Forward with the body's byte at this offset flipped (damage no length check sees).
    Flip(usize),
    /// Answer every request for the target with this status and S3 error code: a failure
    /// no retry cures.
    Always(u16, &'static str),
    /// Forward after this wait (time for a test to change the object meanwhile).
    Delay(Duration),
}

/// Faults one request target meets at most in random mode.
pub const MAX_FAULTS_PER_TARGET: u32 = 2;
/// How long a stalled answer waits before it is forwarded.
pub const STALL: Duration = Duration::from_secs(2);

/// The kinds of random faults, in the order of [`Stats::faults`].
pub const RANDOM_FAULTS: [&str; 7] =
    ["503 SlowDown", "429", "500", "connection reset", "cut answer", "damaged answer", "stall"];

/// What the random mode did.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    /// Requests received.
    pub requests: u64,
    /// Faults injected, per kind of [`RANDOM_FAULTS`].
    pub faults: [u64; 7],
    /// Faults per kind of request: `GET ?tagging`, `HEAD ?partNumber`, `GET object`…
    pub by_request: HashMap<String, u64>,
}

impl Stats {
    pub fn injected(&self) -> u64 {
        self.faults.iter().sum()
    }
}

enum Mode {
    Plan(Vec<(&'static str, Fault)>),
    Random { fraction: f64, rng: Mutex<fastrand::Rng> },
}

#[derive(Default)]
struct State {
    /// Per planned target: when each request for it arrived.
    seen: HashMap<&'static str, Vec<Instant>>,
    /// Random mode: faults met per target.
    faulted: HashMap<String, u32>,
    stats: Stats,
    /// Per path, the `Range` headers of its requests, in arrival order.
    ranges: HashMap<String, Vec<String>>,
}

pub struct FaultProxy {
    pub endpoint: String,
    state: Arc<Mutex<State>>,
}

impl FaultProxy {
    /// Faults once on each planned target.
    pub async fn start(upstream: &str, plan: Vec<(&'static str, Fault)>) -> Self {
        Self::with_mode(upstream, Mode::Plan(plan)).await
    }

    /// Faults on `fraction` of all requests, drawn from `seed`.
    pub async fn random(upstream: &str, fraction: f64, seed: u64) -> Self {
        Self::with_mode(upstream, Mode::Random { fraction, rng: Mutex::new(fastrand::Rng::with_seed(seed)) }).await
    }

    async fn with_mode(upstream: &str, mode: Mode) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let upstream = upstream.trim_start_matches("http://").trim_end_matches('/').to_owned();
        let state: Arc<Mutex<State>> = Arc::default();
        let mode = Arc::new(mode);
        let shared = state.clone();
        let route = Arc::new(Route { upstream, own: endpoint.trim_start_matches("http://").to_owned() });
        tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else { return };
                tokio::spawn(serve(client, route.clone(), mode.clone(), shared.clone()));
            }
        });
        Self { endpoint, state }
    }

    /// When the requests for a planned target arrived.
    pub fn arrivals(&self, target: &str) -> Vec<Instant> {
        self.state.lock().unwrap().seen.get(target).cloned().unwrap_or_default()
    }

    /// The `Range` headers of the requests for `path`, in arrival order.
    pub fn ranges(&self, path: &str) -> Vec<String> {
        self.state.lock().unwrap().ranges.get(path).cloned().unwrap_or_default()
    }

    /// What the random mode did so far.
    pub fn stats(&self) -> Stats {
        self.state.lock().unwrap().stats.clone()
    }
}

/// The server's address and the proxy's (`127.0.0.1:PORT`).
struct Route {
    upstream: String,
    own: String,
}

/// One request as received: its head and its body (a login's JSON).
struct Request {
    head: String,
    body: Vec<u8>,
}

impl Request {
    fn method(&self) -> &str {
        self.head.split(' ').next().unwrap_or_default()
    }

    fn target(&self) -> &str {
        self.head.lines().next().unwrap_or_default().split(' ').nth(1).unwrap_or_default()
    }

    /// The value of the `Range` header, if any.
    fn range(&self) -> Option<&str> {
        self.head
            .lines()
            .filter_map(|l| l.split_once(':'))
            .find(|(name, _)| name.trim().eq_ignore_ascii_case("range"))
            .map(|(_, value)| value.trim())
    }

    /// A GET of an object's bytes (`/bucket/key`, at most with a version), whose damage
    /// only the body's checksum can reveal.
    fn is_object_get(&self) -> bool {
        let (path, query) = self.target().split_once('?').unwrap_or((self.target(), ""));
        let has_key = path.trim_start_matches('/').split_once('/').is_some_and(|(_, key)| !key.is_empty());
        self.method() == "GET" && has_key && (query.is_empty() || query.starts_with("versionId="))
    }

    /// The kind of request, for the statistics: `GET object`, or the method and the query's
    /// parameter names without markers (`GET ?list-type`, `HEAD ?partNumber`, `GET ?acl`).
    fn kind(&self) -> String {
        if self.is_object_get() {
            return "GET object".to_owned();
        }
        const MARKERS: &[&str] =
            &["versionId", "continuation-token", "encoding-type", "prefix", "key-marker", "version-id-marker"];
        let query = self.target().split_once('?').map_or("", |(_, q)| q);
        let names: Vec<&str> = query
            .split('&')
            .map(|pair| pair.split('=').next().unwrap_or_default())
            .filter(|name| !name.is_empty() && !MARKERS.contains(name))
            .collect();
        if names.is_empty() {
            format!("{} path", self.method())
        } else {
            format!("{} ?{}", self.method(), names.join("&"))
        }
    }
}

/// The decision for one request.
#[derive(Clone, Copy)]
enum Action {
    Forward,
    Status(u16, &'static str, bool),
    Reset,
    Cut(Option<usize>),
    Flip(Option<usize>),
    Stall,
    Delay(Duration),
}

async fn serve(mut client: TcpStream, route: Arc<Route>, mode: Arc<Mode>, state: Arc<Mutex<State>>) {
    loop {
        let Some(request) = read_request(&mut client).await else { return };
        let action = decide(&request, &mode, &state);
        let keep_going = match action {
            Action::Forward => forward(&mut client, &route, &request, Damage::None).await,
            Action::Status(status, code, retry_after) => {
                let body = format!("<Error><Code>{code}</Code><Message>injected</Message></Error>");
                let retry_after = if retry_after { "retry-after: 1\r\n" } else { "" };
                let answer = format!(
                    "HTTP/1.1 {status} Injected\r\n{retry_after}content-type: application/xml\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{}",
                    body.len(),
                    if request.method() == "HEAD" { "" } else { &body },
                );
                let _ = client.write_all(answer.as_bytes()).await;
                false
            }
            Action::Reset => {
                // SO_LINGER 0: closing sends a TCP reset instead of a clean end.
                #[allow(deprecated)]
                let _ = client.set_linger(Some(Duration::ZERO));
                false
            }
            Action::Cut(limit) => {
                forward(&mut client, &route, &request, Damage::Cut(limit)).await;
                false
            }
            Action::Flip(offset) => forward(&mut client, &route, &request, Damage::Flip(offset)).await,
            Action::Stall => {
                tokio::time::sleep(STALL).await;
                forward(&mut client, &route, &request, Damage::None).await
            }
            Action::Delay(wait) => {
                tokio::time::sleep(wait).await;
                forward(&mut client, &route, &request, Damage::None).await
            }
        };
        if !keep_going {
            return;
        }
    }
}

fn decide(request: &Request, mode: &Mode, state: &Mutex<State>) -> Action {
    let mut state = state.lock().unwrap();
    let target = request.target();
    if let Some(range) = request.range() {
        state.ranges.entry(target.to_owned()).or_default().push(range.to_owned());
    }
    match mode {
        Mode::Plan(plan) => {
            let Some((planned, fault)) = plan.iter().find(|(planned, _)| {
                let ranged = planned.split_once(" bytes=");
                if let Some((path, range)) = ranged {
                    return target == path && request.range().and_then(|r| r.strip_prefix("bytes=")) == Some(range);
                }
                target == *planned
                    || (planned.contains('?') && target.starts_with(planned))
                    || planned.strip_prefix(request.method()).and_then(|p| p.strip_prefix(' ')) == Some(target)
            }) else {
                return Action::Forward;
            };
            let arrivals = state.seen.entry(planned).or_default();
            arrivals.push(Instant::now());
            if let Fault::Always(status, code) = *fault {
                return Action::Status(status, code, false);
            }
            if arrivals.len() > 1 {
                return Action::Forward;
            }
            match *fault {
                Fault::Always(..) => unreachable!("answered above"),
                Fault::Status(status, code) => Action::Status(status, code, true),
                Fault::CutAfter(limit) => Action::Cut(Some(limit)),
                Fault::Flip(offset) => Action::Flip(Some(offset)),
                Fault::Delay(wait) => Action::Delay(wait),
            }
        }
        Mode::Random { fraction, rng } => {
            state.stats.requests += 1;
            let mut rng = rng.lock().unwrap();
            let key = format!("{} {target}", request.method());
            if rng.f64() >= *fraction || state.faulted.get(&key).copied().unwrap_or(0) >= MAX_FAULTS_PER_TARGET {
                return Action::Forward;
            }
            *state.faulted.entry(key).or_default() += 1;
            let kind = rng.usize(..RANDOM_FAULTS.len());
            state.stats.faults[kind] += 1;
            *state.stats.by_request.entry(request.kind()).or_default() += 1;
            match kind {
                0 => Action::Status(503, "SlowDown", true),
                1 => Action::Status(429, "TooManyRequests", false),
                2 => Action::Status(500, "InternalError", false),
                3 => Action::Reset,
                4 => Action::Cut(None),
                5 => Action::Flip(None),
                _ => Action::Stall,
            }
        }
    }
}

/// Reads one request: its head, and its body when it announces a length.
async fn read_request(client: &mut TcpStream) -> Option<Request> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if client.read(&mut byte).await.ok()? == 0 {
            return None;
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let length = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    client.read_exact(&mut body).await.ok()?;
    Some(Request { head, body })
}

enum Damage {
    None,
    /// Cut after this many bytes of the body; `None`: in the middle of the body, or of the
    /// head when there is no body.
    Cut(Option<usize>),
    /// Flip the body's byte at this offset; `None`: the middle byte of an object's body (only
    /// its checksum can tell), the first byte of any other answer (its markup, which a
    /// client can tell from a document; a flip inside a plain-HTTP XML text value is not
    /// detectable by any client), or a cut when there is no body.
    Flip(Option<usize>),
}

/// Sends the request to the server on a new connection and copies the answer back, whole,
/// cut, or with one body byte flipped; false when the client connection is done.
async fn forward(client: &mut TcpStream, route: &Route, request: &Request, damage: Damage) -> bool {
    let Ok(mut server) = TcpStream::connect(&route.upstream).await else { return false };
    let mut head: String = request
        .head
        .trim_end()
        .lines()
        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
        .map(|l| format!("{l}\r\n"))
        .collect();
    head.push_str("connection: close\r\n\r\n");
    if server.write_all(head.as_bytes()).await.is_err() || server.write_all(&request.body).await.is_err() {
        return false;
    }
    let mut answer = Vec::new();
    if server.read_to_end(&mut answer).await.is_err() {
        return false;
    }
    let mut body_start = answer.windows(4).position(|w| w == b"\r\n\r\n").map_or(0, |p| p + 4);
    let head = String::from_utf8_lossy(&answer[..body_start]).into_owned();
    if head.contains(&route.upstream) {
        let head = head.replace(&route.upstream, &route.own);
        answer.splice(..body_start, head.bytes());
        body_start = head.len();
    }
    let body_len = answer.len() - body_start;
    let cut = |answer: &mut Vec<u8>, at: usize| answer.truncate(at.min(answer.len()));
    match damage {
        Damage::Cut(limit) => {
            let at = match limit {
                Some(limit) => body_start + limit,
                None if body_len > 0 => body_start + body_len / 2,
                None => body_start / 2,
            };
            cut(&mut answer, at);
            let _ = client.write_all(&answer).await;
            return false;
        }
        Damage::Flip(None) if body_len == 0 => {
            cut(&mut answer, body_start / 2);
            let _ = client.write_all(&answer).await;
            return false;
        }
        Damage::Flip(offset) => {
            let offset = offset.unwrap_or(if request.is_object_get() { body_len / 2 } else { 0 });
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
