//! Amazon S3 and S3-compatible stores (OVHcloud, Scaleway, Outscale, Ceph, MinIO…).
//!
//! Everything a customer needs to rebuild a bucket elsewhere: every object, every version
//! and delete marker, object metadata, tags and ACLs, and the bucket's configuration.
#![deny(missing_docs)]

mod bucket_config;
mod client;
mod error;
mod lister;
mod provider;
mod reader;
mod settings;
mod source;
#[cfg(test)]
mod test_server;
mod xml;

pub use source::S3Factory;
