//! The `swift` scheme: OpenStack Swift containers, with Keystone v3 (password, application
//! credential, token) or Swift's own v1 authentication (tempauth), configured the OpenStack
//! way (`OS_*` variables, `clouds.yaml`, `ST_*` variables).

mod auth;
mod client;
mod large_objects;
mod listing;
mod object;
mod provider;
mod settings;
mod source;

pub use provider::SwiftFactory;
