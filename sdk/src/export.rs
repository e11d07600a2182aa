//! Turns Rust providers into a plugin Sortie loads at run time (feature `plugin`): a
//! crate built as a `cdylib` writes `sortie_sdk::export_plugin!(MyFactory)` and nothing
//! else, and implements exactly the traits the built-in providers implement.
//!
//! Every entry point catches panics (a panic becomes an error of kind `other` naming the
//! call), runs the provider's futures on the plugin's own tokio runtime (the host's is
//! another copy of tokio, in another library), and hands back buffers this library
//! allocated, which only [`free_buf`] here releases.

use std::any::Any;
use std::ffi::{c_char, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use sortie_plugin_abi as abi;
use sortie_plugin_abi::{SortieBuf, SortiePlugin, SortieStr};

use crate::error::{Error, ErrorKind, Result};
use crate::item::Item;
use crate::provider::Provider;
use crate::registry::{Context, ProviderFactory};
use crate::source::SourceSpec;
use crate::wire::{BodyHead, ContextWire, Describe, SettingsWire, SourceWire};

static FACTORIES: OnceLock<Vec<Box<dyn ProviderFactory>>> = OnceLock::new();
static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();

/// The table of a plugin, in a static: its two pointers are to static strings.
#[doc(hidden)]
pub struct Table(SortiePlugin);

// SAFETY: the table is immutable; its pointers are to NUL-terminated static strings and to
// functions, all valid for the life of the process.
unsafe impl Sync for Table {}

impl Table {
    /// The table of a plugin called `name` (NUL-terminated static strings).
    pub const fn new(name: *const c_char, version: *const c_char) -> Self {
        Self(SortiePlugin {
            magic: abi::MAGIC,
            abi_major: abi::ABI_MAJOR,
            abi_minor: abi::ABI_MINOR,
            size: size_of::<SortiePlugin>() as u32,
            str_size: size_of::<SortieStr>() as u32,
            buf_size: size_of::<SortieBuf>() as u32,
            reserved: 0,
            name,
            version,
            describe,
            source,
            resolve,
            check_plan,
            open,
            check,
            list_page,
            open_item,
            read,
            close_body,
            close_source,
            free_buf,
        })
    }
}

/// Turns provider factories into a plugin: exports `sortie_plugin_entry`, the one symbol
/// Sortie looks for, named and versioned after the crate.
///
/// ```ignore
/// sortie_sdk::export_plugin!(MyFactory, MyOtherFactory::new());
/// ```
#[macro_export]
macro_rules! export_plugin {
    ($($factory:expr),+ $(,)?) => {
        /// The plugin's table, for Sortie (`sortie_plugin.h`).
        #[unsafe(no_mangle)]
        pub extern "C" fn sortie_plugin_entry() -> *const $crate::export::abi::SortiePlugin {
            static TABLE: $crate::export::Table = $crate::export::Table::new(
                concat!(env!("CARGO_PKG_NAME"), "\0").as_ptr().cast(),
                concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast(),
            );
            $crate::export::entry(&TABLE, || {
                vec![$(::std::boxed::Box::new($factory) as ::std::boxed::Box<dyn $crate::ProviderFactory>),+]
            })
        }
    };
}

/// The entry point's work: makes the factories once, returns the table (null if making
/// them panicked).
#[doc(hidden)]
pub fn entry(table: &'static Table, factories: fn() -> Vec<Box<dyn ProviderFactory>>) -> *const SortiePlugin {
    match catch_unwind(|| FACTORIES.get_or_init(factories).len()) {
        Ok(_) => &table.0,
        Err(_) => std::ptr::null(),
    }
}

fn factories() -> &'static [Box<dyn ProviderFactory>] {
    FACTORIES.get().map_or(&[], Vec::as_slice)
}

fn factory(scheme: &str) -> Result<&'static dyn ProviderFactory> {
    factories()
        .iter()
        .find(|f| f.info().scheme == scheme)
        .map(|f| f.as_ref())
        .ok_or_else(|| Error::new(ErrorKind::InvalidInput, format!("this plugin has no provider of scheme '{scheme}'")))
}

fn block_on<F: Future>(future: F) -> F::Output {
    let runtime = RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("sortie-plugin")
            .enable_all()
            .build()
            .expect("the plugin's tokio runtime starts")
    });
    runtime.block_on(future)
}

/// Runs one call: its result or error into `out`, a panic as an error naming `call`.
fn answer(call: &str, out: *mut SortieBuf, work: impl FnOnce() -> Result<Vec<u8>>) -> i32 {
    let (status, bytes) = match catch_unwind(AssertUnwindSafe(work)) {
        Ok(Ok(bytes)) => (abi::OK, bytes),
        Ok(Err(error)) => (abi::ERROR, json(&error)),
        Err(panic) => {
            let error = Error::new(ErrorKind::Other, format!("the plugin panicked in {call}: {}", panic_text(&panic)));
            (abi::ERROR, json(&error))
        }
    };
    if !out.is_null() {
        // SAFETY: the host passes a writable sortie_buf for every call that answers.
        unsafe { out.write(into_buf(bytes)) };
    }
    status
}

fn panic_text(panic: &Box<dyn Any + Send>) -> &str {
    panic.downcast_ref::<&str>().copied().or_else(|| panic.downcast_ref::<String>().map(String::as_str)).unwrap_or("?")
}

fn json(value: &impl Serialize) -> Vec<u8> {
    serde_json::to_vec(value)
        .unwrap_or_else(|e| format!(r#"{{"kind":"other","message":"unserializable: {e}"}}"#).into())
}

fn into_buf(bytes: Vec<u8>) -> SortieBuf {
    if bytes.is_empty() {
        return SortieBuf::EMPTY;
    }
    let boxed = Box::into_raw(bytes.into_boxed_slice());
    SortieBuf { ptr: boxed.cast(), len: boxed.len() }
}

/// Reads a JSON argument the host passed.
fn arg<T: DeserializeOwned>(what: &str, value: SortieStr) -> Result<T> {
    // SAFETY: the host passes bytes valid for the call.
    let bytes = unsafe { value.as_bytes() }.unwrap_or_default();
    serde_json::from_slice(bytes)
        .map_err(|e| Error::new(ErrorKind::InvalidInput, format!("the host passed an invalid {what}: {e}")))
}

fn text(what: &str, value: SortieStr) -> Result<Option<String>> {
    // SAFETY: the host passes bytes valid for the call.
    match unsafe { value.as_bytes() } {
        None => Ok(None),
        Some(bytes) => String::from_utf8(bytes.to_vec())
            .map(Some)
            .map_err(|_| Error::new(ErrorKind::InvalidInput, format!("the host passed a {what} that is not UTF-8"))),
    }
}

/// An open source, behind the handle the host holds.
struct SourceHandle(Arc<dyn Provider>);

/// An open body, behind the handle the host holds: the stream, and what the last chunk
/// left over after filling the host's buffer.
struct BodyHandle {
    stream: BoxStream<'static, Result<Bytes>>,
    pending: Bytes,
}

unsafe extern "C" fn describe(out: *mut SortieBuf) -> i32 {
    answer("describe", out, || Ok(json(&Describe { providers: factories().iter().map(|f| f.info()).collect() })))
}

unsafe extern "C" fn source(scheme: SortieStr, url: SortieStr, settings: SortieStr, out: *mut SortieBuf) -> i32 {
    answer("source", out, || {
        let scheme = text("scheme", scheme)?.unwrap_or_default();
        let url = text("source", url)?.unwrap_or_default();
        let settings: SettingsWire = arg("settings", settings)?;
        let spec = factory(&scheme)?.source(&url, settings.into())?;
        Ok(json(&SourceWire::from(&spec)))
    })
}

fn spec_and_context(source: SortieStr, context: SortieStr) -> Result<(SourceSpec, Context)> {
    let spec = SourceSpec::from(arg::<SourceWire>("source", source)?);
    let context = Context::from(arg::<ContextWire>("context", context)?);
    Ok((spec, context))
}

unsafe extern "C" fn resolve(source: SortieStr, context: SortieStr, out: *mut SortieBuf) -> i32 {
    answer("resolve", out, || {
        let (spec, context) = spec_and_context(source, context)?;
        let resolved = block_on(factory(&spec.scheme)?.resolve(&spec, &context))?;
        Ok(json(&resolved.iter().map(SourceWire::from).collect::<Vec<_>>()))
    })
}

unsafe extern "C" fn check_plan(scheme: SortieStr, plan: SortieStr, out: *mut SortieBuf) -> i32 {
    answer("check_plan", out, || {
        let scheme = text("scheme", scheme)?.unwrap_or_default();
        let plan: Vec<SourceWire> = arg("plan", plan)?;
        let plan: Vec<SourceSpec> = plan.into_iter().map(SourceSpec::from).collect();
        factory(&scheme)?.check_plan(&plan)?;
        Ok(Vec::new())
    })
}

unsafe extern "C" fn open(source: SortieStr, context: SortieStr, handle: *mut *mut c_void, out: *mut SortieBuf) -> i32 {
    answer("open", out, || {
        let (spec, context) = spec_and_context(source, context)?;
        let provider = factory(&spec.scheme)?.open(&spec, &context)?;
        let capabilities = json(&provider.capabilities());
        // SAFETY: the host passes a writable pointer for the handle.
        unsafe { handle.write(Box::into_raw(Box::new(SourceHandle(provider))).cast()) };
        Ok(capabilities)
    })
}

/// The provider behind a source handle.
///
/// # Safety
/// `source` is a handle `open` returned and the host has not closed.
unsafe fn provider<'a>(source: *mut c_void) -> &'a Arc<dyn Provider> {
    // SAFETY: see above.
    unsafe { &(*source.cast::<SourceHandle>()).0 }
}

unsafe extern "C" fn check(source: *mut c_void, out: *mut SortieBuf) -> i32 {
    answer("check", out, || {
        // SAFETY: the host passes a handle `open` returned.
        let provider = unsafe { provider(source) };
        block_on(provider.check())?;
        Ok(Vec::new())
    })
}

unsafe extern "C" fn list_page(source: *mut c_void, cursor: SortieStr, out: *mut SortieBuf) -> i32 {
    answer("list_page", out, || {
        // SAFETY: the host passes a handle `open` returned.
        let provider = unsafe { provider(source) };
        let cursor = text("cursor", cursor)?;
        Ok(json(&block_on(provider.list_page(cursor))?))
    })
}

unsafe extern "C" fn open_item(
    source: *mut c_void,
    item: SortieStr,
    body: *mut *mut c_void,
    out: *mut SortieBuf,
) -> i32 {
    answer("open_item", out, || {
        // SAFETY: the host passes a handle `open` returned.
        let provider = unsafe { provider(source) };
        let item: Item = arg("item", item)?;
        let opened = block_on(provider.open(&item))?;
        let head = json(&BodyHead::of(&opened));
        let handle = BodyHandle { stream: opened.stream, pending: Bytes::new() };
        // SAFETY: the host passes a writable pointer for the handle.
        unsafe { body.write(Box::into_raw(Box::new(handle)).cast()) };
        Ok(head)
    })
}

unsafe extern "C" fn read(body: *mut c_void, buf: *mut u8, cap: usize, filled: *mut usize, out: *mut SortieBuf) -> i32 {
    answer("read", out, || {
        // SAFETY: the host passes a body handle `open_item` returned, used by one thread.
        let handle = unsafe { &mut *body.cast::<BodyHandle>() };
        while handle.pending.is_empty() {
            match block_on(handle.stream.next()) {
                Some(chunk) => handle.pending = chunk?,
                None => break,
            }
        }
        let n = handle.pending.len().min(cap);
        let chunk = handle.pending.split_to(n);
        // SAFETY: the host passes `cap` writable bytes at `buf` and a writable `filled`.
        unsafe {
            std::ptr::copy_nonoverlapping(chunk.as_ptr(), buf, n);
            filled.write(n);
        }
        Ok(Vec::new())
    })
}

unsafe extern "C" fn close_body(body: *mut c_void) {
    if !body.is_null() {
        // SAFETY: a handle `open_item` returned, closed once; dropping a stream must not unwind out.
        let _ = catch_unwind(|| drop(unsafe { Box::from_raw(body.cast::<BodyHandle>()) }));
    }
}

unsafe extern "C" fn close_source(source: *mut c_void) {
    if !source.is_null() {
        // SAFETY: a handle `open` returned, closed once.
        let _ = catch_unwind(|| drop(unsafe { Box::from_raw(source.cast::<SourceHandle>()) }));
    }
}

unsafe extern "C" fn free_buf(buf: SortieBuf) {
    if !buf.ptr.is_null() {
        // SAFETY: a buffer `into_buf` made, returned once.
        drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(buf.ptr, buf.len)) });
    }
}
