//! Neutron: networks, subnets, routers, ports, security groups and floating IPs, one JSON
//! record each, the project's own only.

use super::Collection;

/// What it lists, in this order.
pub(super) const COLLECTIONS: &[Collection] = &[
    Collection {
        service: "Neutron",
        kinds: &["network"],
        root: "/v2.0",
        list: "/networks",
        key: "networks",
        inner: None,
        id: "id",
        owner: Some("project_id"),
        dir: "neutron/networks",
    },
    Collection {
        service: "Neutron",
        kinds: &["network"],
        root: "/v2.0",
        list: "/subnets",
        key: "subnets",
        inner: None,
        id: "id",
        owner: Some("project_id"),
        dir: "neutron/subnets",
    },
    Collection {
        service: "Neutron",
        kinds: &["network"],
        root: "/v2.0",
        list: "/routers",
        key: "routers",
        inner: None,
        id: "id",
        owner: Some("project_id"),
        dir: "neutron/routers",
    },
    Collection {
        service: "Neutron",
        kinds: &["network"],
        root: "/v2.0",
        list: "/ports",
        key: "ports",
        inner: None,
        id: "id",
        owner: Some("project_id"),
        dir: "neutron/ports",
    },
    Collection {
        service: "Neutron",
        kinds: &["network"],
        root: "/v2.0",
        list: "/security-groups",
        key: "security_groups",
        inner: None,
        id: "id",
        owner: Some("project_id"),
        dir: "neutron/security-groups",
    },
    Collection {
        service: "Neutron",
        kinds: &["network"],
        root: "/v2.0",
        list: "/floatingips",
        key: "floatingips",
        inner: None,
        id: "id",
        owner: Some("project_id"),
        dir: "neutron/floatingips",
    },
];
