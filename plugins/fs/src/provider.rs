//! The provider: checks, lists and opens one directory tree.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use futures_util::StreamExt;
use sortie_sdk::item::Item;
use sortie_sdk::provider::{Body, Capabilities, Page, Provider};
use sortie_sdk::{Error, ErrorKind, Result};

use crate::lister::Lister;
use crate::reader::{Identity, Opened, Root};

/// Files up to this size are opened, measured and read in one go: a thread hop per system
/// call would cost more than the read itself.
const READ_AT_ONCE: u64 = 256 * 1024;

/// A local directory tree.
pub struct FsProvider {
    root: PathBuf,
    follow_symlinks: bool,
    exclude: Arc<HashSet<PathBuf>>,
    lister: Mutex<Option<Lister>>,
    /// The source directory, opened once for every file to be opened beneath it.
    root_dir: Mutex<Option<Arc<Root>>>,
}

impl FsProvider {
    /// A provider for the tree at `root`; the local files `exclude` (the archive being
    /// written) are never listed.
    pub fn new(root: PathBuf, follow_symlinks: bool, exclude: &[PathBuf]) -> Self {
        // Compared with the walk's paths under the canonical root; the files need not
        // exist yet, their directory must.
        let exclude = exclude
            .iter()
            .filter_map(|path| Some(path.parent()?.canonicalize().ok()?.join(path.file_name()?)))
            .collect();
        Self { root, follow_symlinks, exclude: Arc::new(exclude), lister: Mutex::new(None), root_dir: Mutex::new(None) }
    }

    fn relative_path(item: &Item) -> PathBuf {
        item.segments.iter().map(|segment| os_str(&segment.0)).collect()
    }

    fn root_dir(&self) -> Result<Arc<Root>> {
        let mut held = self.root_dir.lock().expect("root lock");
        if let Some(root) = held.as_ref() {
            return Ok(root.clone());
        }
        let root = Root::open(&self.root, self.follow_symlinks)
            .map_err(|e| Error::io(format!("cannot open the source directory {}", self.root.display()), &e))?;
        Ok(held.insert(Arc::new(root)).clone())
    }
}

#[cfg(unix)]
pub(crate) fn os_str(bytes: &[u8]) -> &std::ffi::OsStr {
    std::os::unix::ffi::OsStrExt::from_bytes(bytes)
}

#[async_trait]
impl Provider for FsProvider {
    fn capabilities(&self) -> Capabilities {
        // A cursor is the last path listed: a new walk skips through it.
        Capabilities::default().with_local().with_resumable_cursors()
    }

    /// The local user whose permissions read the tree.
    fn account(&self) -> Option<String> {
        sortie_sdk::local::user()
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
            .map_err(|e| Error::io(format!("cannot list the source directory {}", root.display()), &e))?;
        // Held from before the listing: every file is opened beneath this very directory.
        self.root_dir().map(drop)
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
        let relative = Self::relative_path(item);
        let shown = self.root.join(&relative).display().to_string();
        let listed = item.locator.as_deref().and_then(Identity::decode);
        let root = self.root_dir()?;
        let (size, stream) = if item.size.is_some_and(|size| size <= READ_AT_ONCE) {
            // A small read from a local disk costs less than handing it to another thread.
            let opened = settle(root.open_file(&relative, listed.as_ref(), &shown)?).await?;
            let size = opened.size();
            let data = opened.read_whole()?;
            (size, futures_util::stream::once(async move { Ok(data) }).boxed())
        } else {
            let opened = tokio::task::spawn_blocking(move || root.open_file(&relative, listed.as_ref(), &shown))
                .await
                .map_err(|e| Error::new(ErrorKind::Other, format!("reading task failed: {e}")))??;
            let opened = settle(opened).await?;
            (opened.size(), opened.stream())
        };
        // The length is the one measured at open: a file that grows or shrinks during the
        // read fails the reader's own check and the engine's exact-length check.
        Ok(Body::streaming(Some(size), stream))
    }
}

/// Waits until a file changed moments ago can be read with its change detected (see
/// `reader::SETTLE`), then checks it did not change meanwhile.
async fn settle(opened: Opened) -> Result<Opened> {
    let wait = opened.unsettled_for();
    if wait.is_zero() {
        return Ok(opened);
    }
    tokio::time::sleep(wait).await;
    opened.settled()
}
