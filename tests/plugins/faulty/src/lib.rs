//! A plugin that misbehaves on demand, for the host's tests (`tests/plugins.rs`): scheme
//! `faulty` (`faulty://NAME`), and a setting `mode` naming what goes wrong. The host must
//! turn each misbehaviour into a failure of the page or item concerned, naming the plugin,
//! and still write a valid archive.
//!
//! The listing, one item a page: `ok.txt` (`fine\n`), `bad.bin` (ten bytes, `0123456789`,
//! the item that misbehaves), `later.txt` (`after the bad one\n`).
//!
//! | `mode` | what goes wrong |
//! |---|---|
//! | `none` (default) | nothing |
//! | `panic-in-list` | the page after the first panics |
//! | `panic-in-open` | opening `bad.bin` panics |
//! | `panic-in-read` | reading `bad.bin` panics after its first chunk |
//! | `short-body` | `bad.bin` announces ten bytes and serves five |
//! | `long-body` | `bad.bin` announces ten bytes and serves twenty |

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::StreamExt;
use sortie_sdk::{
    Body, Capabilities, Context, Error, ErrorKind, Item, Kind, Page, Provider, ProviderFactory, ProviderInfo, RawName,
    Result, SettingSpec, Settings, SourceSpec,
};

sortie_sdk::export_plugin!(FaultyFactory);

const ITEMS: [(&str, &[u8]); 3] =
    [("ok.txt", b"fine\n"), ("bad.bin", b"0123456789"), ("later.txt", b"after the bad one\n")];
const MODES: [&str; 6] = ["none", "panic-in-list", "panic-in-open", "panic-in-read", "short-body", "long-body"];

/// Makes `faulty://` sources.
struct FaultyFactory;

impl ProviderFactory for FaultyFactory {
    fn info(&self) -> ProviderInfo {
        let mode = SettingSpec::text("mode", &format!("What goes wrong: {}.", MODES.join(", "))).default_value("none");
        ProviderInfo::new("faulty", "Three items, one of which misbehaves on demand", "faulty://x", vec![mode])
    }

    fn source(&self, url: &str, settings: Settings) -> Result<SourceSpec> {
        let name = url
            .strip_prefix("faulty://")
            .ok_or_else(|| Error::new(ErrorKind::InvalidInput, "a faulty source is written faulty://NAME"))?;
        let mode = settings.text("mode").unwrap_or("none");
        if !MODES.contains(&mode) {
            let message = format!("setting 'mode' takes one of {}, not '{mode}'", MODES.join(", "));
            return Err(Error::new(ErrorKind::InvalidInput, message));
        }
        Ok(SourceSpec::new("faulty", url, format!("faulty-{}", sortie_sdk::source::slug(name)), settings))
    }

    fn open(&self, source: &SourceSpec, _context: &Context) -> Result<Arc<dyn Provider>> {
        Ok(Arc::new(Faulty { mode: source.settings.text("mode").unwrap_or("none").to_owned() }))
    }
}

/// An open `faulty://` source.
struct Faulty {
    mode: String,
}

#[async_trait]
impl Provider for Faulty {
    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
    }

    async fn check(&self) -> Result<()> {
        Ok(())
    }

    async fn list_page(&self, cursor: Option<String>) -> Result<Page> {
        let index =
            match cursor {
                None => 0,
                Some(cursor) => cursor.parse::<usize>().ok().filter(|i| *i < ITEMS.len()).ok_or_else(|| {
                    Error::new(ErrorKind::InvalidInput, format!("not a cursor of this plugin: {cursor}"))
                })?,
            };
        if index > 0 && self.mode == "panic-in-list" {
            panic!("faulty was told to panic listing page {index}");
        }
        let (id, data) = ITEMS[index];
        let mut item = Item::new(RawName::text(id), vec![RawName::text(id)], Kind::File);
        item.size = Some(data.len() as u64);
        let next = (index + 1 < ITEMS.len()).then(|| (index + 1).to_string());
        Ok(Page::new(vec![item], next))
    }

    async fn open(&self, item: &Item) -> Result<Body> {
        let (id, data) = ITEMS
            .into_iter()
            .find(|(id, _)| id.as_bytes() == item.id.0)
            .ok_or_else(|| Error::new(ErrorKind::NotFound, format!("faulty has no item {}", item.id.display())))?;
        if id != "bad.bin" {
            return Ok(Body::from_bytes(Bytes::from_static(data), None));
        }
        let announced = Some(data.len() as u64);
        let chunks: Vec<Bytes> = match self.mode.as_str() {
            "panic-in-open" => panic!("faulty was told to panic opening {id}"),
            "panic-in-read" => {
                let first = futures_util::stream::once(async move { Ok(Bytes::from_static(&data[..4])) });
                let then = futures_util::stream::once(async move {
                    panic!("faulty was told to panic reading {id}");
                });
                return Ok(Body::streaming(announced, first.chain(then).boxed()));
            }
            "short-body" => vec![Bytes::from_static(&data[..5])],
            "long-body" => vec![Bytes::from_static(data), Bytes::from_static(data)],
            _ => vec![Bytes::from_static(data)],
        };
        Ok(Body::streaming(announced, futures_util::stream::iter(chunks.into_iter().map(Ok)).boxed()))
    }
}
