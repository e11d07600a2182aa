//! The OVHcloud API (`ovh://`): what a customer leaving OVHcloud cannot take through
//! `s3://` or `swift://` — domains and their transfer codes, DNS zones as BIND files, bills
//! and contracts with their PDFs, the service inventory, mail and hosting configuration,
//! Public Cloud records, IPs, VPS, dedicated servers, logs and support tickets — each
//! record as the API serves it, under a path that mirrors its route.
//!
//! Requests are signed the OVH way (application key and secret, consumer key) or carry an
//! OAuth2 service account's bearer token, and go out at most as fast as the rate limit
//! allows (one per second by default, per consumer key, shared by every source of a run).
#![deny(missing_docs)]

mod auth;
mod client;
mod credential;
mod error;
mod limit;
mod lister;
mod provider;
mod reader;
mod sections;
mod settings;
mod source;
mod storage;

pub use credential::{CredentialRequest, EXPORT_ACCESS_RULES, request_credential};
pub use source::OvhFactory;
