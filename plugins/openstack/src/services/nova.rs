//! Nova: servers (with their flavor, metadata, security groups and attached volumes) and key
//! pairs (with their public keys), one JSON record each.

use super::Collection;

/// Nova's microversion whose server records embed their flavor's details.
pub(super) const COMPUTE_VERSION: &str = "compute 2.47";

/// What it lists, in this order.
pub(super) const COLLECTIONS: &[Collection] = &[
    Collection {
        service: "Nova",
        kinds: &["compute"],
        root: "",
        list: "/servers/detail",
        key: "servers",
        inner: None,
        id: "id",
        owner: None,
        dir: "nova/servers",
    },
    Collection {
        service: "Nova",
        kinds: &["compute"],
        root: "",
        list: "/os-keypairs",
        key: "keypairs",
        inner: Some("keypair"),
        id: "name",
        owner: None,
        dir: "nova/keypairs",
    },
];
