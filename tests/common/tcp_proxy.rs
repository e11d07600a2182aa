//! A loopback TCP proxy in front of a real server for what the server cannot be made to do
//! on cue: cut a connection in the middle of an answer (once), and run an action (delete a
//! mailbox, expunge a message) just before a given command reaches the server, so that the
//! change lands between two steps of an export. Plain text only: it reads the commands.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

type Action = Box<dyn FnOnce() + Send>;

pub struct TcpProxy {
    pub port: u16,
    cuts: Arc<AtomicUsize>,
}

struct Shared {
    upstream: u16,
    /// Cut the first connection whose answers pass this many bytes.
    cut_after: Option<usize>,
    cut_done: AtomicBool,
    cuts: Arc<AtomicUsize>,
    /// Each run once, before the first client data containing its pattern is forwarded.
    hooks: Mutex<Vec<(Vec<u8>, Option<Action>)>>,
}

impl TcpProxy {
    pub fn start(upstream: u16, cut_after: Option<usize>, hooks: Vec<(&str, Action)>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let cuts = Arc::new(AtomicUsize::new(0));
        let shared = Arc::new(Shared {
            upstream,
            cut_after,
            cut_done: AtomicBool::new(false),
            cuts: cuts.clone(),
            hooks: Mutex::new(hooks.into_iter().map(|(p, a)| (p.as_bytes().to_vec(), Some(a))).collect()),
        });
        thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let shared = shared.clone();
                thread::spawn(move || relay(client, &shared));
            }
        });
        Self { port, cuts }
    }

    /// Connections cut so far.
    pub fn cuts(&self) -> usize {
        self.cuts.load(Ordering::SeqCst)
    }
}

fn relay(client: TcpStream, shared: &Arc<Shared>) {
    let Ok(server) = TcpStream::connect(("127.0.0.1", shared.upstream)) else { return };
    let (mut client_in, mut server_out) = (client.try_clone().unwrap(), server.try_clone().unwrap());
    let upward = shared.clone();
    thread::spawn(move || {
        let mut buf = vec![0; 64 << 10];
        while let Ok(n) = client_in.read(&mut buf) {
            if n == 0 {
                break;
            }
            for (pattern, action) in upward.hooks.lock().unwrap().iter_mut() {
                if buf[..n].windows(pattern.len()).any(|w| w == pattern.as_slice())
                    && let Some(action) = action.take()
                {
                    action();
                }
            }
            if server_out.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = server_out.shutdown(Shutdown::Both);
    });
    let (mut server_in, mut client_out) = (server, client);
    let mut buf = vec![0; 64 << 10];
    let mut sent = 0;
    while let Ok(n) = server_in.read(&mut buf) {
        if n == 0 {
            break;
        }
        if let Some(limit) = shared.cut_after
            && sent + n > limit
            && !shared.cut_done.swap(true, Ordering::SeqCst)
        {
            let _ = client_out.write_all(&buf[..limit - sent]);
            shared.cuts.fetch_add(1, Ordering::SeqCst);
            break;
        }
        sent += n;
        if client_out.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = client_out.shutdown(Shutdown::Both);
    let _ = server_in.shutdown(Shutdown::Both);
}
