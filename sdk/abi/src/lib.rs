//! The C ABI between Sortie and a provider plugin loaded at run time, as `sortie_plugin.h`
//! declares it: `#[repr(C)]` types, constants and function pointer types, nothing else.
//!
//! Only plain C data crosses: no Rust type, trait object, future or panic. Everything with
//! structure (settings, sources, items, pages, errors) crosses as JSON, so that a plugin
//! written in any language that can export a C function can implement it, and a field
//! added to the contract later is an optional JSON key rather than a new ABI. The
//! versioning follows PostgreSQL's `PG_MODULE_MAGIC`: a magic number, a major version a
//! host must match, and a minor version with the table's size, so that a newer plugin's
//! extra functions are simply not used and an older plugin's missing ones are known.
#![deny(missing_docs)]

use std::ffi::{c_char, c_void};

/// The C header, which the tests compile against these definitions.
pub const HEADER: &str = include_str!("../sortie_plugin.h");

/// `"SRTP"`: the table's first field.
pub const MAGIC: u32 = 0x5352_5450;
/// The major version: a host loads only plugins of its own major.
pub const ABI_MAJOR: u16 = 1;
/// The minor version: functions appended to the table. Any minor loads.
pub const ABI_MINOR: u16 = 0;
/// The exported symbol returning the table, NUL-terminated for `dlsym`.
pub const ENTRY_SYMBOL: &[u8] = b"sortie_plugin_entry\0";

/// A call succeeded; `out` holds its result (possibly empty).
pub const OK: i32 = 0;
/// A call failed; `out` holds the error as JSON.
pub const ERROR: i32 = 1;

/// Bytes the caller owns, valid for the call only. A null `ptr` means "none".
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SortieStr {
    /// The first byte, or null.
    pub ptr: *const u8,
    /// The number of bytes.
    pub len: usize,
}

impl SortieStr {
    /// "None" (the first page's cursor).
    pub const NONE: Self = Self { ptr: std::ptr::null(), len: 0 };

    /// Borrows `bytes` for a call.
    pub fn of(bytes: &[u8]) -> Self {
        Self { ptr: bytes.as_ptr(), len: bytes.len() }
    }

    /// The bytes, or `None` for a null pointer.
    ///
    /// # Safety
    /// `ptr` must point to `len` readable bytes that outlive the returned slice.
    pub unsafe fn as_bytes<'a>(self) -> Option<&'a [u8]> {
        // SAFETY: the caller guarantees ptr/len describe live bytes.
        (!self.ptr.is_null()).then(|| unsafe { std::slice::from_raw_parts(self.ptr, self.len) })
    }
}

/// Bytes the plugin allocated, handed back to its `free_buf`. `{null, 0}` is empty.
#[repr(C)]
#[derive(Debug)]
pub struct SortieBuf {
    /// The first byte, or null.
    pub ptr: *mut u8,
    /// The number of bytes.
    pub len: usize,
}

impl SortieBuf {
    /// An empty buffer, for the plugin to fill.
    pub const EMPTY: Self = Self { ptr: std::ptr::null_mut(), len: 0 };
}

/// `describe(out)`: every provider the plugin has, as JSON.
pub type DescribeFn = unsafe extern "C" fn(out: *mut SortieBuf) -> i32;
/// `source(scheme, url, settings, out)`: the source the user wrote, described.
pub type SourceFn =
    unsafe extern "C" fn(scheme: SortieStr, url: SortieStr, settings: SortieStr, out: *mut SortieBuf) -> i32;
/// `resolve(source, context, out)`: the sources a source stands for.
pub type ResolveFn = unsafe extern "C" fn(source: SortieStr, context: SortieStr, out: *mut SortieBuf) -> i32;
/// `check_plan(scheme, plan, out)`: a plan's sources of one scheme, checked together.
pub type CheckPlanFn = unsafe extern "C" fn(scheme: SortieStr, plan: SortieStr, out: *mut SortieBuf) -> i32;
/// `open(source, context, handle, out)`: a source handle and its capabilities.
pub type OpenFn =
    unsafe extern "C" fn(source: SortieStr, context: SortieStr, handle: *mut *mut c_void, out: *mut SortieBuf) -> i32;
/// `check(source, out)`: the source exists and the credentials work.
pub type CheckFn = unsafe extern "C" fn(source: *mut c_void, out: *mut SortieBuf) -> i32;
/// `list_page(source, cursor, out)`: one page of the listing.
pub type ListPageFn = unsafe extern "C" fn(source: *mut c_void, cursor: SortieStr, out: *mut SortieBuf) -> i32;
/// `open_item(source, item, body, out)`: a body handle and what the response announced.
pub type OpenItemFn =
    unsafe extern "C" fn(source: *mut c_void, item: SortieStr, body: *mut *mut c_void, out: *mut SortieBuf) -> i32;
/// `read(body, buf, cap, filled, out)`: the next bytes, pull-style; none at the end.
pub type ReadFn =
    unsafe extern "C" fn(body: *mut c_void, buf: *mut u8, cap: usize, filled: *mut usize, out: *mut SortieBuf) -> i32;
/// `close_body(body)` and `close_source(source)`.
pub type CloseFn = unsafe extern "C" fn(handle: *mut c_void);
/// `free_buf(buf)`: a buffer the plugin returned, given back.
pub type FreeBufFn = unsafe extern "C" fn(buf: SortieBuf);
/// The exported entry point: the table, or null when the plugin cannot start.
pub type EntryFn = unsafe extern "C" fn() -> *const SortiePlugin;

/// The table a plugin's entry point returns; it lives as long as the process.
#[repr(C)]
pub struct SortiePlugin {
    /// [`MAGIC`].
    pub magic: u32,
    /// The [`ABI_MAJOR`] the plugin was built with.
    pub abi_major: u16,
    /// The [`ABI_MINOR`] the plugin was built with.
    pub abi_minor: u16,
    /// `size_of::<SortiePlugin>()` as the plugin was built: fields past it do not exist.
    pub size: u32,
    /// `size_of::<SortieStr>()`.
    pub str_size: u32,
    /// `size_of::<SortieBuf>()`.
    pub buf_size: u32,
    /// Zero.
    pub reserved: u32,
    /// The plugin's name, NUL-terminated.
    pub name: *const c_char,
    /// The plugin's version, NUL-terminated.
    pub version: *const c_char,
    /// See [`DescribeFn`].
    pub describe: DescribeFn,
    /// See [`SourceFn`].
    pub source: SourceFn,
    /// See [`ResolveFn`].
    pub resolve: ResolveFn,
    /// See [`CheckPlanFn`].
    pub check_plan: CheckPlanFn,
    /// See [`OpenFn`].
    pub open: OpenFn,
    /// See [`CheckFn`].
    pub check: CheckFn,
    /// See [`ListPageFn`].
    pub list_page: ListPageFn,
    /// See [`OpenItemFn`].
    pub open_item: OpenItemFn,
    /// See [`ReadFn`].
    pub read: ReadFn,
    /// See [`CloseFn`].
    pub close_body: CloseFn,
    /// See [`CloseFn`].
    pub close_source: CloseFn,
    /// See [`FreeBufFn`].
    pub free_buf: FreeBufFn,
}

/// The fields every version has, up to and including `version`: what a host reads before
/// trusting `size` and `abi_major`.
pub const HEAD_SIZE: usize = std::mem::offset_of!(SortiePlugin, describe);
