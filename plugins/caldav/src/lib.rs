//! The `caldav` and `carddav` schemes: calendars and address books out of any CalDAV
//! (RFC 4791) or CardDAV (RFC 6352) server, Radicale, Nextcloud, Xandikos, SOGo, iCloud…
//!
//! `source` holds the factories and `provider` the source they open; `discovery` finds the
//! collections (RFC 6764), `lister` lists them page by page with their bodies fetched by
//! multiget, `reader` GETs what a listing could not carry. `client` sends the requests
//! (their multistatus answers read by `sortie_http::dav`, `props` picks what matters),
//! `error` maps the others, `names` keeps archive names apart; `settings` and `url`
//! say what a source takes, `flavor` what differs between calendars and address books.
#![deny(missing_docs)]

mod client;
mod discovery;
mod error;
mod flavor;
mod lister;
mod names;
mod props;
mod provider;
mod reader;
mod settings;
mod source;
mod url;

pub use source::{CalDavFactory, CardDavFactory};
