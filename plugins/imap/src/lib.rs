//! IMAP mail accounts (`imap://`, `imaps://`): every mailbox of the account and every
//! message in it, byte for byte as the server holds it, with its flags, dates and UIDs.
//!
//! Messages are fetched with `UID FETCH … BODY.PEEK[]`, so that an export never marks
//! anything read; small messages arrive inside the listing (inline items), larger ones are
//! fetched one by one. Connections per account are capped (most servers refuse more than a
//! handful per user).
#![deny(missing_docs)]

mod auth;
mod client;
mod error;
mod lister;
mod mailbox;
mod mutf7;
mod pool;
mod provider;
mod reader;
mod settings;
mod source;
mod url;

pub use source::{ImapFactory, ImapsFactory};
