//! Listing: pages of items, each carrying its index as its locator.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sortie_sdk::item::{Item, Kind, ProviderChecksum, RawName};
use sortie_sdk::provider::Page;
use sortie_sdk::{Error, ErrorKind, Result};

use crate::generated::Generated;
use crate::provider::Contents;
use crate::scripted::{Fault, Object};

/// When every item was last modified, as listed (with a fraction, as Swift lists it).
pub(crate) fn listed_time() -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(1_700_000_000_500)
}

/// The page of items `start..start + page_size`.
pub(crate) fn page(contents: &Contents, start: u64, page_size: u64) -> Page {
    let end = start.saturating_add(page_size).min(contents.len());
    let items = (start..end)
        .map(|index| match contents {
            Contents::Generated(generated) => generated_item(generated, index),
            Contents::Scripted(objects) => scripted_item(&objects[index as usize].object, index),
        })
        .collect();
    Page::new(items, (end < contents.len()).then(|| cursor(end)))
}

/// The cursor of the page starting at item `start`.
pub(crate) fn cursor(start: u64) -> String {
    start.to_string()
}

/// Where the page of `cursor` starts.
pub(crate) fn start(cursor: &str) -> Result<u64> {
    cursor
        .parse()
        .map_err(|_| Error::new(ErrorKind::InvalidInput, format!("'{cursor}' is not a cursor of a memory listing")))
}

/// The locator of item `index`: its index, which `open` checks against the item's id.
fn locator(index: u64) -> String {
    format!("#{index}")
}

/// The index a locator names.
pub(crate) fn index(locator: &str) -> Option<u64> {
    locator.strip_prefix('#')?.parse().ok()
}

/// An object at `key`, as any item of this provider is listed.
fn listed(key: &str, index: u64) -> Item {
    let segments = key.split('/').map(RawName::text).collect();
    let mut item = Item::new(RawName::text(key), segments, Kind::Object);
    item.modified = Some(listed_time());
    item.locator = Some(locator(index));
    item
}

/// The checksum served for a body of MD5 `md5`: an ETag.
pub(crate) fn etag(md5: String) -> ProviderChecksum {
    ProviderChecksum::md5(format!("\"{md5}\""), md5)
}

fn generated_item(generated: &Generated, index: u64) -> Item {
    let mut item = listed(&generated.key(index), index);
    item.size = Some(generated.size);
    if generated.with_md5 {
        item.checksum = Some(etag(generated.md5(index)));
    }
    item
}

fn scripted_item(object: &Object, index: u64) -> Item {
    let mut item = listed(&object.key, index);
    if object.inline {
        item.set_inline(object.data.clone());
    } else if object.fault != Fault::UnknownSize {
        item.size = Some(object.data.len() as u64);
    }
    if object.with_md5 {
        let md5 = if object.fault == Fault::BadMd5 { "0".repeat(32) } else { crate::reader::md5_hex(&object.data) };
        item.checksum = Some(etag(md5));
    }
    item
}
