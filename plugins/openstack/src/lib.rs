//! The `swift` scheme (OpenStack Swift containers) and the `openstack` scheme (a whole
//! project: Swift, Glance images, records of the other services), with Keystone v3
//! (password, application credential, token) or Swift's own v1 authentication (tempauth),
//! configured the OpenStack way (`OS_*` variables, `clouds.yaml`, `ST_*` variables).

mod auth;
mod client;
mod large_objects;
mod listing;
mod object;
mod provider;
mod services;
mod settings;
mod source;

pub use provider::{OpenStackFactory, SwiftFactory};
