//! What `ovh://` exports: one section per part of the API, each a tree of routes as OVH's
//! API descriptions (`/1.0/<section>.json`) give them. A route answers ids (each id's record
//! is at the route `/{id}`, and the routes under it are walked for each), one record, a list
//! of records, or text (a zone's BIND file). `docs/OVH.md` maps every route to its place in
//! the archive.

/// What a route answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// An array of ids (`string[]`, `long[]`…): each id's record is at `ROUTE/{id}`.
    Ids,
    /// One record.
    Object,
    /// An array of records, kept as one document.
    Objects,
    /// A JSON string whose text is a file of its own (`/domain/zone/{z}/export`: a BIND
    /// zone), written verbatim under `<parent id>.<ext>`.
    Text(&'static str),
    /// A secret record (a domain's transfer code), exported only when asked for.
    Secret,
}

/// One route of a section's tree.
#[derive(Debug)]
pub struct Node {
    /// The route: absolute (`/domain`) at a section's top, else relative to the record
    /// above it (`nameServer` under `/domain/{d}`).
    pub name: &'static str,
    pub shape: Shape,
    /// The field of each record holding the URL of its PDF (`pdfUrl` of a bill).
    pub pdf: Option<&'static str>,
    /// The routes under each id (for [`Shape::Ids`]) or under the record.
    pub children: &'static [Node],
}

const fn ids(name: &'static str, children: &'static [Node]) -> Node {
    Node { name, shape: Shape::Ids, pdf: None, children }
}

const fn leaf(name: &'static str, shape: Shape) -> Node {
    Node { name, shape, pdf: None, children: &[] }
}

const fn pdfs(name: &'static str, field: &'static str, children: &'static [Node]) -> Node {
    Node { name, shape: Shape::Ids, pdf: Some(field), children }
}

const SERVICE_INFOS: Node = leaf("serviceInfos", Shape::Object);

/// One section: `ovh://NAME`.
#[derive(Debug)]
pub struct Section {
    pub name: &'static str,
    pub roots: &'static [Node],
}

/// Every section, in the order `ovh://` exports them (what hurts most if missing first).
pub const SECTIONS: &[Section] = &[
    // domains: record, contacts' ids, name servers, DS and glue records, options, service; transfer codes with transfer_codes
    Section {
        name: "domains",
        roots: &[ids(
            "/domain",
            &[
                leaf("authInfo", Shape::Secret),
                ids("nameServer", &[]),
                ids("dsRecord", &[]),
                ids("glueRecord", &[]),
                ids("option", &[]),
                SERVICE_INFOS,
            ],
        )],
    },
    // DNS zones: each as a BIND file, its records, redirections, DynHost records and logins, DNSSEC, SOA
    Section {
        name: "dns",
        roots: &[ids(
            "/domain/zone",
            &[
                leaf("export", Shape::Text("zone")),
                ids("record", &[]),
                ids("redirection", &[]),
                ids("dynHost/record", &[]),
                ids("dynHost/login", &[]),
                leaf("dnssec", Shape::Object),
                leaf("soa", Shape::Object),
                ids("option", &[]),
                SERVICE_INFOS,
            ],
        )],
    },
    // bills, orders, refunds and deposits with their details and PDFs, payments, the balance
    Section {
        name: "billing",
        roots: &[
            pdfs("/me/bill", "pdfUrl", &[ids("details", &[]), leaf("payment", Shape::Object)]),
            pdfs("/me/order", "pdfUrl", &[ids("details", &[]), leaf("payment", Shape::Object)]),
            pdfs("/me/refund", "pdfUrl", &[ids("details", &[]), leaf("payment", Shape::Object)]),
            pdfs("/me/deposit", "pdfUrl", &[ids("details", &[]), leaf("payment", Shape::Object)]),
            ids("/me/payment/transaction", &[]),
            ids("/me/payment/method", &[]),
            leaf("/me/debtAccount", Shape::Object),
        ],
    },
    // the account (/me), contracts accepted with their PDFs, contacts, documents, consents, the API's access log
    Section {
        name: "account",
        roots: &[
            leaf("/me", Shape::Object),
            ids("/me/agreements", &[Node { name: "contract", shape: Shape::Object, pdf: Some("pdf"), children: &[] }]),
            ids("/me/contact", &[]),
            ids("/me/document", &[]),
            leaf("/me/consent", Shape::Objects),
            ids("/me/api/logs/self", &[]),
        ],
    },
    // the service inventory: every service with its plan, renewal, expiry and tags
    Section { name: "services", roots: &[ids("/services", &[])] },
    // web hostings (attached domains, cron, environment variables, runtimes, SSL, FTP/SFTP logins, databases) and private SQL servers (databases, users, whitelist, dumps)
    Section {
        name: "hosting",
        roots: &[
            ids(
                "/hosting/web",
                &[
                    ids("attachedDomain", &[]),
                    ids("cron", &[]),
                    ids("envVar", &[]),
                    ids("runtime", &[]),
                    leaf("ssl", Shape::Object),
                    ids("user", &[]),
                    ids("database", &[ids("dump", &[])]),
                    ids("dump", &[]),
                    SERVICE_INFOS,
                ],
            ),
            ids(
                "/hosting/privateDatabase",
                &[
                    ids("database", &[ids("dump", &[])]),
                    ids("user", &[]),
                    ids("whitelist", &[]),
                    ids("dump", &[]),
                    SERVICE_INFOS,
                ],
            ),
        ],
    },
    // mail domains: accounts and their filters, redirections, mailing lists and subscribers, responders
    Section {
        name: "email",
        roots: &[ids(
            "/email/domain",
            &[
                ids("account", &[ids("filter", &[])]),
                ids("redirection", &[]),
                ids("mailingList", &[ids("subscriber", &[])]),
                ids("responder", &[]),
                SERVICE_INFOS,
            ],
        )],
    },
    // Public Cloud projects: instances, volumes, snapshots, private networks, SSH keys, users, current usage
    Section {
        name: "cloud",
        roots: &[ids(
            "/cloud/project",
            &[
                leaf("instance", Shape::Objects),
                leaf("volume", Shape::Objects),
                leaf("volume/snapshot", Shape::Objects),
                leaf("network/private", Shape::Objects),
                leaf("sshkey", Shape::Objects),
                leaf("user", Shape::Objects),
                leaf("usage/current", Shape::Object),
                SERVICE_INFOS,
            ],
        )],
    },
    // IP blocks with their reverses and firewall rules
    Section { name: "ip", roots: &[ids("/ip", &[ids("reverse", &[]), ids("firewall", &[])])] },
    // VPS: record, IPs, disks, snapshot, service
    Section {
        name: "vps",
        roots: &[ids("/vps", &[ids("ips", &[]), ids("disks", &[]), leaf("snapshot", Shape::Object), SERVICE_INFOS])],
    },
    // dedicated servers: record, hardware, network interfaces, service
    Section {
        name: "dedicated",
        roots: &[ids(
            "/dedicated/server",
            &[leaf("specifications/hardware", Shape::Object), ids("networkInterfaceController", &[]), SERVICE_INFOS],
        )],
    },
    // Logs Data Platform: services, streams and their archives, inputs, dashboards
    Section {
        name: "logs",
        roots: &[ids(
            "/dbaas/logs",
            &[
                ids("output/graylog/stream", &[ids("archive", &[])]),
                ids("input", &[]),
                ids("output/graylog/dashboard", &[]),
                SERVICE_INFOS,
            ],
        )],
    },
];

/// The section called `name`.
pub fn section(name: &str) -> Option<&'static Section> {
    SECTIONS.iter().find(|s| s.name == name)
}

/// The node at `path`, a list of child indices from a section's roots (a cursor keeps it).
pub fn node(section: &Section, path: &[usize]) -> Option<&'static Node> {
    let section = SECTIONS.iter().find(|s| s.name == section.name)?;
    let (first, rest) = path.split_first()?;
    let mut node = section.roots.get(*first)?;
    for index in rest {
        node = node.children.get(*index)?;
    }
    Some(node)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_are_found_by_their_index_path() {
        let dns = section("dns").unwrap();
        assert_eq!(node(dns, &[0]).unwrap().name, "/domain/zone");
        assert_eq!(node(dns, &[0, 0]).unwrap().shape, Shape::Text("zone"));
        assert!(node(dns, &[0, 99]).is_none() && node(dns, &[]).is_none());
        assert!(section("nope").is_none());
        let names: Vec<&str> = SECTIONS.iter().map(|s| s.name).collect();
        let mut unique = names.clone();
        unique.dedup();
        assert_eq!(names, unique);
    }
}
