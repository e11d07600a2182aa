//! The `swift` scheme (OpenStack Swift containers) and the `openstack` scheme (a whole
//! project: Swift, Glance images, records of the other services), with Keystone v3
//! (password, application credential, token) or Swift's own v1 authentication (tempauth),
//! configured the OpenStack way (`OS_*` variables, `clouds.yaml`, `ST_*` variables).
//!
//! `source` holds the factories (describing, resolving and opening sources), `provider`
//! the sources themselves; `lister` and `reader` list and read a container, with
//! `large_objects` for Swift's SLOs and DLOs and `headers` for what its answers say;
//! `services` lists and reads the other services of a project. `settings` declares what
//! the providers take, `credentials` finds the credentials, `auth` logs in, `client` sends
//! the requests and `error` maps the answers to Sortie's errors.
#![deny(missing_docs)]

mod auth;
mod client;
mod credentials;
mod error;
#[cfg(test)]
mod fake;
mod headers;
mod large_objects;
mod lister;
mod provider;
mod reader;
mod services;
mod settings;
mod source;
mod url;

pub use source::{EnvFactory, OpenStackFactory, SwiftFactory};
