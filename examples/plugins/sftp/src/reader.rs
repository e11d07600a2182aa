//! Reads one file's bytes over a leased session, on a thread of its own: small files in
//! one go, large ones chunk after chunk through a short channel, so that a body is never
//! whole in memory.

use std::io::Read;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures_util::StreamExt;
use sortie_sdk::provider::Body;
use sortie_sdk::{Error, ErrorKind, Result};
use ssh2::FileStat;
use tokio::sync::{mpsc, oneshot};

use crate::client::{Lease, Pool};
use crate::error;

/// Read size for file bodies; libssh2 pipelines the SFTP reads within one call.
const CHUNK: usize = 256 * 1024;

/// Files up to this size are read whole and the session given back at once.
const READ_AT_ONCE: u64 = 256 * 1024;

/// Chunks read ahead of the consumer.
const AHEAD: usize = 4;

/// What the reading thread says once the file is open: its bytes or size, and its mtime.
enum Head {
    Whole(Bytes, Option<u64>),
    Streaming(u64, Option<u64>),
}

/// Opens `path` and returns its body. The size announced is the one the open file has;
/// a large file that changes while it is read fails (temporary: a retry reads it again).
pub(crate) async fn open(pool: &std::sync::Arc<Pool>, path: PathBuf) -> Result<Body> {
    let lease = pool.lease().await;
    let (head_sender, head) = oneshot::channel();
    let (chunks, receiver) = mpsc::channel::<Result<Bytes>>(AHEAD);
    tokio::task::spawn_blocking(move || read(lease, path, head_sender, chunks));
    let head = head.await.map_err(|_| Error::new(ErrorKind::Other, "the sftp reading thread stopped"))??;
    let (mut body, mtime) = match head {
        Head::Whole(bytes, mtime) => {
            (Body::streaming(Some(bytes.len() as u64), futures_util::stream::once(async { Ok(bytes) }).boxed()), mtime)
        }
        Head::Streaming(size, mtime) => (
            Body::streaming(
                Some(size),
                futures_util::stream::unfold(receiver, |mut receiver| async move {
                    receiver.recv().await.map(|chunk| (chunk, receiver))
                })
                .boxed(),
            ),
            mtime,
        ),
    };
    // The engine compares it with the listing's, to tell a file that changed since.
    body.modified = mtime.map(|secs| SystemTime::UNIX_EPOCH + Duration::from_secs(secs));
    Ok(body)
}

/// The reading thread: opens, then reads the whole file or streams it.
fn read(mut lease: Lease, path: PathBuf, head: oneshot::Sender<Result<Head>>, chunks: mpsc::Sender<Result<Bytes>>) {
    let shown = path.display().to_string();
    let opened = lease.connection().and_then(|connection| {
        // SFTP opens follow links and give no inode: the path must be a regular file, not a
        // link put in its place since the listing, and the file opened must be the one
        // just looked at (a swap between the two changes its size, time or mode).
        let before = connection.sftp.lstat(&path).map_err(|e| error::ssh(format!("cannot read {shown}"), &e))?;
        let mut file = connection.sftp.open(&path).map_err(|e| error::ssh(format!("cannot open {shown}"), &e))?;
        let stat = file.stat().map_err(|e| error::ssh(format!("cannot read {shown}"), &e))?;
        let same = (before.size, before.mtime, before.perm, before.uid) == (stat.size, stat.mtime, stat.perm, stat.uid);
        if !before.is_file() || !stat.is_file() || !same {
            return Err(Error::new(
                ErrorKind::Integrity,
                format!("{shown} changed during the export: it is no longer the regular file that was listed"),
            ));
        }
        Ok((file, stat))
    });
    let (mut file, stat) = match lease.note(opened) {
        Ok(opened) => opened,
        Err(e) => {
            let _ = head.send(Err(e));
            return;
        }
    };
    let size = stat.size.unwrap_or(0);
    if size <= READ_AT_ONCE {
        // One byte more than announced, if it grew: enough for the engine's length check.
        let mut data = Vec::with_capacity(usize::try_from(size).unwrap_or(0) + 1);
        let result = (&mut file)
            .take(size + 1)
            .read_to_end(&mut data)
            .map_err(|e| error::read(format!("cannot read {shown}"), &e));
        drop(file);
        let _ = head.send(lease.note(result).map(|_| Head::Whole(Bytes::from(data), stat.mtime)));
        return;
    }
    if head.send(Ok(Head::Streaming(size, stat.mtime))).is_err() {
        return;
    }
    let mut held: Option<Bytes> = None;
    loop {
        let mut chunk = Vec::with_capacity(CHUNK);
        match (&mut file).take(CHUNK as u64).read_to_end(&mut chunk) {
            Ok(0) => break,
            Ok(_) => {
                if let Some(previous) = held.replace(Bytes::from(chunk))
                    && chunks.blocking_send(Ok(previous)).is_err()
                {
                    return;
                }
            }
            Err(e) => {
                let error = lease.note::<()>(Err(error::read(format!("cannot read {shown}"), &e))).unwrap_err();
                let _ = chunks.blocking_send(Err(error));
                return;
            }
        }
    }
    // The last chunk goes only once the file is known not to have changed meanwhile.
    let last = match file.stat() {
        Ok(now) if unchanged(&stat, &now) => Ok(held),
        Ok(_) => Err(Error::new(
            ErrorKind::Integrity,
            format!("{shown} changed during the export: it was written to while it was read"),
        )
        .temporary()),
        Err(e) => lease.note(Err(error::ssh(format!("cannot read {shown}"), &e))),
    };
    drop(file);
    match last {
        Ok(Some(chunk)) => _ = chunks.blocking_send(Ok(chunk)),
        Ok(None) => {}
        Err(e) => _ = chunks.blocking_send(Err(e)),
    }
}

fn unchanged(before: &FileStat, now: &FileStat) -> bool {
    (before.size, before.mtime) == (now.size, now.mtime)
}
