//! A source opened by a plugin, as a [`Provider`]: listing pages and opening items are calls
//! into the plugin; a body is read pull-style into the host's buffer.

use std::ffi::c_void;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use sortie_plugin_abi::{SortiePlugin, SortieStr};
use sortie_sdk::item::Item;
use sortie_sdk::provider::{Body, Capabilities, Page, Provider};
use sortie_sdk::wire::BodyHead;
use sortie_sdk::{Error, Result};

use super::Plugin;
use super::call::{self, TimedOut};
use super::guard::ListingGuard;
use super::load::Table;

/// The host's buffer for `read`: each call on a blocking thread fills it as far as the body
/// goes, so that a small file costs one thread hand-off, not one per `read`.
const CHUNK: usize = 256 << 10;

/// A plugin's source handle; closed when the provider and every body opened from it are
/// gone (bodies hold it).
pub struct SourceHandle {
    table: Table,
    ptr: *mut c_void,
}

// SAFETY: the ABI requires source handles to be usable from several threads at once.
unsafe impl Send for SourceHandle {}
unsafe impl Sync for SourceHandle {}

impl SourceHandle {
    pub fn new(table: Table, ptr: *mut c_void) -> Option<Arc<Self>> {
        (!ptr.is_null()).then(|| Arc::new(Self { table, ptr }))
    }
}

impl Drop for SourceHandle {
    fn drop(&mut self) {
        let (close, ptr) = (self.table.close_source, Handle(self.ptr));
        // SAFETY: the handle `open` returned, closed once, after every call on it returned
        // (each call holds the handle).
        off_worker(move || unsafe { close(ptr.into_inner()) });
    }
}

/// A raw handle moved to the thread that closes it.
struct Handle(*mut c_void);
// SAFETY: handles may be closed from any thread.
unsafe impl Send for Handle {}
impl Handle {
    fn into_inner(self) -> *mut c_void {
        self.0
    }
}

/// Closing may wait on the network (a plugin saying goodbye to its server): never on an
/// async worker.
fn off_worker(close: impl FnOnce() + Send + 'static) {
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => drop(runtime.spawn_blocking(close)),
        Err(_) => close(),
    }
}

/// A plugin's body handle, used by one thread at a time (it moves with the read call) and
/// closed once: by the read that reached its end, or when dropped.
struct BodyHandle {
    table: Table,
    ptr: *mut c_void,
    _source: Arc<SourceHandle>,
}

// SAFETY: a body handle is used by one thread at a time; it moves with each call.
unsafe impl Send for BodyHandle {}

impl BodyHandle {
    fn close(&mut self) {
        if !self.ptr.is_null() {
            // SAFETY: the handle `open_item` returned, closed once.
            unsafe { (self.table.close_body)(self.ptr) };
            self.ptr = std::ptr::null_mut();
        }
    }
}

impl Drop for BodyHandle {
    fn drop(&mut self) {
        if !self.ptr.is_null() {
            let (close, ptr) = (self.table.close_body, Handle(self.ptr));
            // SAFETY: as in `close`; the handle is not used after this.
            off_worker(move || unsafe { close(ptr.into_inner()) });
            self.ptr = std::ptr::null_mut();
        }
    }
}

pub struct PluginProvider {
    plugin: Arc<Plugin>,
    source: Arc<SourceHandle>,
    capabilities: Capabilities,
    /// The source's secret values, taken out of any message the plugin writes (shared with
    /// every body's stream).
    secrets: Arc<[String]>,
    /// What the listing said so far, to refuse what would break the archive.
    guard: ListingGuard,
}

impl PluginProvider {
    pub fn new(
        plugin: Arc<Plugin>,
        source: Arc<SourceHandle>,
        capabilities: Capabilities,
        secrets: Arc<[String]>,
    ) -> Self {
        Self { plugin, source, capabilities, secrets, guard: ListingGuard::default() }
    }

    fn scrubbed(&self, error: Error) -> Error {
        call::scrub(error, &self.secrets)
    }

    /// A call on the source handle, on a blocking thread, under the timeout.
    async fn call(
        &self,
        name: &str,
        work: impl FnOnce(&SortiePlugin, *mut c_void) -> call::Answer + Send + 'static,
    ) -> Result<Vec<u8>> {
        let (table, source) = (self.plugin.table, self.source.clone());
        let answer = call::off_runtime(self.plugin.timeout, move || work(&table, source.ptr))
            .await
            .map_err(|TimedOut| call::timed_out(&self.plugin, name))?;
        call::outcome(&self.plugin, name, answer).map_err(|e| self.scrubbed(e))
    }
}

#[async_trait]
impl Provider for PluginProvider {
    fn capabilities(&self) -> Capabilities {
        self.capabilities
    }

    async fn check(&self) -> Result<()> {
        // SAFETY: the table's function on a live source handle.
        self.call("check", |table, source| call::answer(table, |out| unsafe { (table.check)(source, out) }))
            .await
            .map(drop)
    }

    async fn list_page(&self, cursor: Option<String>) -> Result<Page> {
        let bytes = self
            .call("list_page", {
                let cursor = cursor.clone();
                move |table, source| {
                    let cursor = cursor.as_deref().map_or(SortieStr::NONE, |c| SortieStr::of(c.as_bytes()));
                    // SAFETY: the table's function on a live source handle, arguments valid for the call.
                    call::answer(table, |out| unsafe { (table.list_page)(source, cursor, out) })
                }
            })
            .await?;
        let mut page: Page = call::decode(&self.plugin, "list_page", &bytes)?;
        // An item without segments would be archived at the source's own path, a file
        // where its directory is: the archive would not verify.
        if let Some(item) = page.items.iter().find(|item| item.segments.is_empty()) {
            let what =
                format!("listed the item {:?} without segments (its path)", String::from_utf8_lossy(item.id.as_ref()));
            return Err(call::broken(&self.plugin, "list_page", what));
        }
        self.guard
            .check(&cursor, &mut page, self.capabilities.flat_namespace)
            .map_err(|what| call::broken(&self.plugin, "list_page", what))?;
        Ok(page)
    }

    async fn open(&self, item: &Item) -> Result<Body> {
        let json = serde_json::to_vec(item).expect("items serialize");
        let (table, source) = (self.plugin.table, self.source.clone());
        let opened = call::off_runtime(self.plugin.timeout, move || {
            let mut ptr: *mut c_void = std::ptr::null_mut();
            // SAFETY: the table's function on a live source handle, arguments valid for the call.
            let answer = call::answer(&table, |out| unsafe {
                (table.open_item)(source.ptr, SortieStr::of(&json), &mut ptr, out)
            });
            let ptr = if answer.succeeded() { ptr } else { std::ptr::null_mut() };
            (answer, BodyHandle { table, ptr, _source: source })
        })
        .await;
        let (answer, body) = opened.map_err(|TimedOut| call::timed_out(&self.plugin, "open_item"))?;
        let bytes = call::outcome(&self.plugin, "open_item", answer).map_err(|e| self.scrubbed(e))?;
        if body.ptr.is_null() {
            return Err(call::broken(&self.plugin, "open_item", "succeeded without a body handle".into()));
        }
        let head: BodyHead = call::decode(&self.plugin, "open_item", &bytes)?;
        Ok(head.onto(Body::streaming(None, read_stream(self.plugin.clone(), body, self.secrets.clone()))))
    }
}

/// The body's bytes, a chunk of at most [`CHUNK`] per blocking call.
fn read_stream(plugin: Arc<Plugin>, body: BodyHandle, secrets: Arc<[String]>) -> BoxStream<'static, Result<Bytes>> {
    let start = Some((body, vec![0u8; CHUNK]));
    futures_util::stream::unfold(start, move |state| {
        let (plugin, secrets) = (plugin.clone(), secrets.clone());
        async move {
            let (body, buffer) = state?;
            let called = plugin.clone();
            let filled = call::off_runtime(plugin.timeout, move || fill(&called, body, buffer)).await;
            match filled {
                Err(TimedOut) => Some((Err(call::timed_out(&plugin, "read")), None)),
                Ok((_, _, Err(error))) => Some((Err(call::scrub(error, &secrets)), None)),
                Ok((_, _, Ok((0, _)))) => None,
                Ok((body, buffer, Ok((len, end)))) => {
                    let chunk = Bytes::copy_from_slice(&buffer[..len]);
                    Some((Ok(chunk), (!end).then_some((body, buffer))))
                }
            }
        }
    })
    .boxed()
}

/// Reads into `buffer` until it is full or the body ends (then closes it): the length read
/// and whether the body ended.
///
/// The timeout bounds each `read`, not the filling of the whole buffer: a body that
/// trickles in small reads is handed on once a quarter of the timeout has gone by.
fn fill(plugin: &Plugin, mut body: BodyHandle, mut buffer: Vec<u8>) -> (BodyHandle, Vec<u8>, Result<(usize, bool)>) {
    let started = std::time::Instant::now();
    let mut len = 0;
    let result = loop {
        let room = buffer.len() - len;
        let mut got = 0usize;
        // SAFETY: the table's function on a live body handle, with `room` writable bytes.
        let answer = call::answer(&body.table, |out| unsafe {
            (body.table.read)(body.ptr, buffer.as_mut_ptr().add(len), room, &mut got, out)
        });
        if let Err(error) = call::outcome(plugin, "read", answer) {
            break Err(error);
        }
        if got > room {
            break Err(call::broken(plugin, "read", format!("claims {got} bytes read into a buffer of {room}")));
        }
        if got == 0 {
            body.close();
            break Ok((len, true));
        }
        len += got;
        if len == buffer.len() || started.elapsed() >= plugin.timeout / 4 {
            break Ok((len, false));
        }
    };
    (body, buffer, result)
}
