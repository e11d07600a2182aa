//! The built-in providers, in one explicit list.

use sortie_core::registry::Registry;

/// Every provider compiled into this binary.
pub fn registry() -> Registry {
    let mut registry = Registry::default();
    registry.register(Box::new(sortie_plugin_fs::FsFactory));
    registry.register(Box::new(sortie_plugin_memory::MemoryFactory));
    registry.register(Box::new(sortie_plugin_s3::S3Factory));
    registry.register(Box::new(sortie_plugin_openstack::SwiftFactory));
    registry.register(Box::new(sortie_plugin_openstack::OpenStackFactory));
    registry
}
