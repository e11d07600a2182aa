//! The provider and its factory.

use std::collections::HashSet;
use std::io::Read;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::StreamExt;
use sortie_core::item::Item;
use sortie_core::provider::{Body, Capabilities, Page, Provider};
use sortie_core::registry::{ProviderFactory, SourceOptions};
use sortie_core::{Error, ErrorKind, Result};

use crate::lister::Lister;

/// Read size for file bodies.
const CHUNK: usize = 256 * 1024;
/// Files up to this size are opened, measured and read in one go: a thread hop per system
/// call would cost more than the read itself.
const READ_AT_ONCE: u64 = 256 * 1024;

/// Opens `file://` sources and plain paths.
pub struct FsFactory;

impl ProviderFactory for FsFactory {
    fn scheme(&self) -> &'static str {
        "file"
    }

    fn description(&self) -> &'static str {
        "a local directory tree (files, empty directories; symlinks recorded, not followed)"
    }

    fn example(&self) -> &'static str {
        "examples/sample-tenant  or  file:///srv/export"
    }

    fn open(&self, source: &str, options: &SourceOptions) -> Result<Arc<dyn Provider>> {
        let path = match source.split_once("://") {
            Some((_, rest)) => {
                if !rest.starts_with('/') {
                    return Err(Error::new(
                        ErrorKind::InvalidInput,
                        format!("'{source}' is not a local file URL: write file:///absolute/path or a plain path"),
                    ));
                }
                PathBuf::from(rest)
            }
            None => PathBuf::from(source),
        };
        Ok(Arc::new(FsProvider::new(path, options)))
    }
}

/// A local directory tree.
pub struct FsProvider {
    root: PathBuf,
    follow_symlinks: bool,
    exclude: Arc<HashSet<PathBuf>>,
    lister: Mutex<Option<Lister>>,
}

impl FsProvider {
    /// A provider for the tree at `root`.
    pub fn new(root: PathBuf, options: &SourceOptions) -> Self {
        // Compared with the walk's paths under the canonical root; the files need not
        // exist yet, their directory must.
        let exclude = options
            .exclude
            .iter()
            .filter_map(|path| Some(path.parent()?.canonicalize().ok()?.join(path.file_name()?)))
            .collect();
        Self { root, follow_symlinks: options.follow_symlinks, exclude: Arc::new(exclude), lister: Mutex::new(None) }
    }

    fn path_of(&self, item: &Item) -> PathBuf {
        let mut path = self.root.clone();
        for segment in &item.segments {
            path.push(os_str(&segment.0));
        }
        path
    }
}

/// Streams a large file read by one blocking thread, chunk after chunk, through a short
/// channel: one thread for the whole file instead of a thread hop per read.
fn read_in_background(file: std::fs::File, shown: String) -> futures_util::stream::BoxStream<'static, Result<Bytes>> {
    let (chunks, receiver) = tokio::sync::mpsc::channel::<Result<Bytes>>(4);
    tokio::task::spawn_blocking(move || {
        let mut file = file;
        loop {
            let mut chunk = Vec::with_capacity(CHUNK);
            match (&mut file).take(CHUNK as u64).read_to_end(&mut chunk) {
                Ok(0) => return,
                Ok(_) => {
                    if chunks.blocking_send(Ok(Bytes::from(chunk))).is_err() {
                        return;
                    }
                }
                Err(e) => {
                    let _ = chunks.blocking_send(Err(Error::io(format!("cannot read {shown}"), &e)));
                    return;
                }
            }
        }
    });
    futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|chunk| (chunk, receiver))
    })
    .boxed()
}

/// Reads a file the listing measured as small, announcing the listed size: no second
/// `stat`, and a file that changed since the listing fails the engine's length check.
fn read_small(path: &std::path::Path, listed: u64) -> std::io::Result<(std::fs::File, u64, Option<Vec<u8>>)> {
    let file = std::fs::File::open(path)?;
    let data = read_whole(&file, listed)?;
    Ok((file, listed, Some(data)))
}

/// Opens a file and measures it; a small one is read whole at once.
fn open_blocking(path: &std::path::Path) -> std::io::Result<(std::fs::File, u64, Option<Vec<u8>>)> {
    let file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    if len > READ_AT_ONCE {
        return Ok((file, len, None));
    }
    let data = read_whole(&file, len)?;
    Ok((file, len, Some(data)))
}

/// Reads a file of `len` bytes, and one byte more if it grew, which is enough for the
/// engine's length check to notice. Through `take`: File's own read_to_end would stat and
/// seek again to size its buffer.
fn read_whole(file: &std::fs::File, len: u64) -> std::io::Result<Vec<u8>> {
    let mut data = Vec::with_capacity(usize::try_from(len).unwrap_or(0) + 1);
    file.take(len + 1).read_to_end(&mut data)?;
    Ok(data)
}

#[cfg(unix)]
pub(crate) fn os_str(bytes: &[u8]) -> &std::ffi::OsStr {
    std::os::unix::ffi::OsStrExt::from_bytes(bytes)
}

#[async_trait]
impl Provider for FsProvider {
    fn source_id(&self) -> String {
        let name = self
            .root
            .canonicalize()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_default();
        let slug = sortie_core::item::slug(&name);
        if slug.is_empty() { "fs-root".to_owned() } else { format!("fs-{slug}") }
    }

    fn display_url(&self) -> String {
        let absolute = self.root.canonicalize().unwrap_or_else(|_| self.root.clone());
        format!("file://{}", absolute.display())
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities { local: true, ..Capabilities::default() }
    }

    async fn check(&self) -> Result<()> {
        let root = self.root.clone();
        let meta = tokio::fs::metadata(&root).await.map_err(|e| {
            let mut error = Error::io(format!("cannot read the source directory {}", root.display()), &e);
            if e.kind() == std::io::ErrorKind::NotFound {
                error = Error::new(
                    ErrorKind::InvalidInput,
                    format!("source directory {} does not exist: check the path", root.display()),
                );
            }
            error
        })?;
        if !meta.is_dir() {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!("source {} is not a directory: give the directory that holds the files", root.display()),
            ));
        }
        tokio::fs::read_dir(&root)
            .await
            .map(drop)
            .map_err(|e| Error::io(format!("cannot list the source directory {}", root.display()), &e))
    }

    async fn list_page(&self, cursor: Option<String>) -> Result<Page> {
        let lister = self.lister.lock().expect("lister lock").take();
        let lister = match lister {
            Some(lister) if lister.resumes(cursor.as_deref()) => lister,
            _ => Lister::start(self.root.clone(), self.follow_symlinks, self.exclude.clone(), cursor.as_deref())?,
        };
        let (lister, page) = tokio::task::spawn_blocking(move || {
            let mut lister = lister;
            let page = lister.next_page();
            (lister, page)
        })
        .await
        .map_err(|e| Error::new(ErrorKind::Other, format!("listing task failed: {e}")))?;
        if page.next.is_some() {
            *self.lister.lock().expect("lister lock") = Some(lister);
        }
        Ok(page)
    }

    async fn open(&self, item: &Item) -> Result<Body> {
        let path = self.path_of(item);
        let shown = path.display().to_string();
        let opened = if let Some(listed) = item.size.filter(|size| *size <= READ_AT_ONCE) {
            // A small read from a local disk costs less than handing it to another thread.
            read_small(&path, listed)
        } else {
            tokio::task::spawn_blocking(move || open_blocking(&path))
                .await
                .map_err(|e| Error::new(ErrorKind::Other, format!("cannot read {shown}: {e}")))?
        };
        let (file, len, data) = opened.map_err(|e| Error::io(format!("cannot read {shown}"), &e))?;
        let stream = match data {
            // The length is the one measured at open: a file that changed since is caught by
            // the engine's exact-length check.
            Some(data) => futures_util::stream::once(async move { Ok(Bytes::from(data)) }).boxed(),
            None => read_in_background(file, shown),
        };
        Ok(Body {
            size: Some(len),
            checksum: None,
            content_type: None,
            meta: Default::default(),
            stream,
            incomplete: None,
        })
    }
}
