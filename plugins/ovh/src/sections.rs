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
    /// An array of ids that have no record of their own, only routes under them
    /// (`/email/exchange/{organization}/service`).
    Names,
    /// An array of records, kept as one document, whose field names each one's id: its
    /// full record is at `ROUTE/{id}` (Public Cloud instances, volumes…).
    Records(&'static str),
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
    /// The field of each record holding the URL of a document of its own (`pdfUrl` of a
    /// bill), and what the document's name adds to the record's (`.pdf`). `POST ROUTE`
    /// instead of a field: the URL is asked for by a POST to `ROUTE` under the record (a
    /// logs archive's `url`), its answer's `url`.
    pub link: Option<(&'static str, &'static str)>,
    /// What the export asks the API to make of each id, and archives: a fresh dump of a
    /// database, a PST file of an Exchange mailbox.
    pub export: Option<Export>,
    /// The routes under each id (for [`Shape::Ids`]) or under the record.
    pub children: &'static [Node],
}

const fn ids(name: &'static str, children: &'static [Node]) -> Node {
    Node { name, shape: Shape::Ids, link: None, export: None, children }
}

const fn leaf(name: &'static str, shape: Shape) -> Node {
    Node { name, shape, link: None, export: None, children: &[] }
}

const fn pdfs(name: &'static str, children: &'static [Node]) -> Node {
    Node { name, shape: Shape::Ids, link: Some(("pdfUrl", ".pdf")), export: None, children }
}

/// A database's dumps: each dump's file is at its `url`.
const DUMPS: &[Node] =
    &[Node { name: "dump", shape: Shape::Ids, link: Some(("url", ".sql.gz")), export: None, children: &[] }];

/// The databases of a hosting or private SQL server, each dumped afresh.
const fn databases() -> Node {
    Node { name: "database", shape: Shape::Ids, link: None, export: Some(Export::Dump), children: DUMPS }
}

const fn records(name: &'static str, children: &'static [Node]) -> Node {
    Node { name, shape: Shape::Records("id"), link: None, export: None, children }
}

const SERVICE_INFOS: Node = leaf("serviceInfos", Shape::Object);

/// A file the API makes on request, for the export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Export {
    /// `POST …/database/{db}/dump`, its task polled, the new dump's `url`.
    Dump,
    /// `POST …/account/{email}/export`, then `POST …/exportURL`, each task polled.
    Pst,
}

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
        roots: &[
            ids(
                "/domain",
                &[
                    leaf("authInfo", Shape::Secret),
                    ids("nameServer", &[]),
                    ids("dsRecord", &[]),
                    ids("glueRecord", &[]),
                    ids("option", &[]),
                    SERVICE_INFOS,
                ],
            ),
            records("/domain/contact", &[]),
        ],
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
            pdfs("/me/bill", &[ids("details", &[]), leaf("payment", Shape::Object)]),
            pdfs("/me/order", &[ids("details", &[]), leaf("payment", Shape::Object), leaf("status", Shape::Object)]),
            pdfs("/me/refund", &[ids("details", &[]), leaf("payment", Shape::Object)]),
            pdfs("/me/deposit", &[ids("details", &[]), leaf("payment", Shape::Object)]),
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
            ids(
                "/me/agreements",
                &[Node {
                    name: "contract",
                    shape: Shape::Object,
                    link: Some(("pdf", ".pdf")),
                    export: None,
                    children: &[],
                }],
            ),
            ids("/me/contact", &[]),
            Node {
                name: "/me/document",
                shape: Shape::Ids,
                link: Some(("getUrl", ".file")),
                export: None,
                children: &[],
            },
            Node {
                name: "/me/consent",
                shape: Shape::Records("name"),
                link: None,
                export: None,
                children: &[leaf("decision", Shape::Object)],
            },
            ids("/me/api/logs/self", &[]),
        ],
    },
    // the service inventory: every service with its plan, renewal, expiry and tags
    Section { name: "services", roots: &[ids("/services", &[]), ids("/service", &[])] },
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
                    databases(),
                    ids("dump", &[]),
                    SERVICE_INFOS,
                ],
            ),
            ids(
                "/hosting/privateDatabase",
                &[
                    databases(),
                    ids("user", &[ids("grant", &[])]),
                    ids("whitelist", &[]),
                    ids("dump", &[]),
                    SERVICE_INFOS,
                ],
            ),
        ],
    },
    // mail domains: accounts and their filters, redirections, mailing lists and subscribers, responders;
    // Exchange services and their accounts
    Section {
        name: "email",
        roots: &[
            ids(
                "/email/domain",
                &[
                    ids("account", &[ids("filter", &[ids("rule", &[])])]),
                    ids("redirection", &[]),
                    ids("mailingList", &[ids("subscriber", &[]), ids("moderator", &[])]),
                    ids("responder", &[]),
                    SERVICE_INFOS,
                ],
            ),
            Node {
                name: "/email/exchange",
                shape: Shape::Names,
                link: None,
                export: None,
                children: &[ids(
                    "service",
                    &[
                        Node {
                            name: "account",
                            shape: Shape::Ids,
                            link: None,
                            export: Some(Export::Pst),
                            children: &[],
                        },
                        SERVICE_INFOS,
                    ],
                )],
            },
        ],
    },
    // Public Cloud projects: instances, volumes, snapshots, private networks, SSH keys, users, current usage
    Section {
        name: "cloud",
        roots: &[ids(
            "/cloud/project",
            &[
                records("instance", &[]),
                records("volume", &[]),
                records("volume/snapshot", &[]),
                records("snapshot", &[]),
                records("network/private", &[leaf("subnet", Shape::Objects)]),
                records("sshkey", &[]),
                leaf("user", Shape::Objects),
                ids("region", &[leaf("storage", Shape::Objects)]),
                leaf("usage/current", Shape::Object),
                SERVICE_INFOS,
            ],
        )],
    },
    // IP blocks with their reverses and firewall rules
    Section { name: "ip", roots: &[ids("/ip", &[ids("reverse", &[]), ids("firewall", &[ids("rule", &[])])])] },
    // VPS: record, IPs, disks, snapshot, service
    Section {
        name: "vps",
        roots: &[ids(
            "/vps",
            &[
                ids("ips", &[]),
                ids("disks", &[]),
                Node {
                    name: "snapshot",
                    shape: Shape::Object,
                    link: None,
                    export: None,
                    children: &[Node {
                        name: "download",
                        shape: Shape::Object,
                        link: Some(("url", ".img")),
                        export: None,
                        children: &[],
                    }],
                },
                SERVICE_INFOS,
            ],
        )],
    },
    // dedicated servers: record, hardware, network interfaces, service
    Section {
        name: "dedicated",
        roots: &[ids(
            "/dedicated/server",
            &[
                leaf("specifications/hardware", Shape::Object),
                ids("networkInterfaceController", &[]),
                leaf("ips", Shape::Objects),
                SERVICE_INFOS,
            ],
        )],
    },
    // Logs Data Platform: services, streams and their archives, inputs, dashboards
    Section {
        name: "logs",
        roots: &[ids(
            "/dbaas/logs",
            &[
                ids(
                    "output/graylog/stream",
                    &[Node {
                        name: "archive",
                        shape: Shape::Ids,
                        link: Some(("POST url", "")),
                        export: None,
                        children: &[],
                    }],
                ),
                ids("input", &[]),
                ids("output/graylog/dashboard", &[]),
                SERVICE_INFOS,
            ],
        )],
    },
    // support tickets with their messages
    Section { name: "support", roots: &[ids("/support/tickets", &[leaf("messages", Shape::Objects)])] },
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
    use std::collections::BTreeMap;

    /// Every GET route of OVH's API descriptions (the copies the test server serves from),
    /// its path parameters written `{}`, with its response type.
    fn described() -> BTreeMap<String, String> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/servers/ovh/api");
        let mut routes = BTreeMap::new();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let api: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            for route in api["apis"].as_array().into_iter().flatten() {
                let mut template = String::new();
                let mut in_parameter = false;
                for c in route["path"].as_str().unwrap().chars() {
                    match c {
                        '{' => in_parameter = true,
                        '}' => {
                            in_parameter = false;
                            template.push_str("{}");
                        }
                        c if !in_parameter => template.push(c),
                        _ => {}
                    }
                }
                for operation in route["operations"].as_array().into_iter().flatten() {
                    if operation["httpMethod"] == "GET" {
                        routes.insert(template.clone(), operation["responseType"].as_str().unwrap().to_owned());
                    }
                }
            }
        }
        routes
    }

    /// Routes of OVH's full descriptions (`/1.0/<section>.json`) that the test server's
    /// trimmed copy may leave out, as it serves nothing there (a 404, an exclusion).
    const NOT_IN_THE_COPY: &[&str] = &[
        "/domain/{}/option",
        "/domain/zone/{}/option",
        "/me/payment/transaction",
        "/hosting/web/{}/dump",
        "/dbaas/logs/{}/input",
        "/dbaas/logs/{}/output/graylog/dashboard",
        "/dedicated/server/{}/specifications/hardware",
        "/dedicated/server/{}/networkInterfaceController",
    ];

    fn check(node: &Node, route: String, described: &BTreeMap<String, String>, checked: &mut usize) {
        if NOT_IN_THE_COPY.contains(&route.as_str()) && !described.contains_key(&route) {
            return;
        }
        let answer = described.get(&route).unwrap_or_else(|| panic!("GET {route} is not in OVH's API descriptions"));
        let list = answer.ends_with("[]");
        match node.shape {
            Shape::Ids | Shape::Names | Shape::Records(_) | Shape::Objects => {
                assert!(list, "GET {route} answers {answer}, not a list")
            }
            Shape::Object => assert!(!list, "GET {route} answers a list ({answer}), not one record"),
            Shape::Text(_) => assert_eq!(answer, "string", "GET {route}"),
            Shape::Secret => {}
        }
        *checked += 1;
        let below = match node.shape {
            Shape::Names => format!("{route}/{{}}"),
            Shape::Ids | Shape::Records(_) => {
                let item = format!("{route}/{{}}");
                assert!(described.contains_key(&item), "GET {item} is not in OVH's API descriptions");
                item
            }
            _ => route,
        };
        for child in node.children {
            check(child, format!("{below}/{}", child.name), described, checked);
        }
    }

    #[test]
    fn every_route_walked_is_described_by_ovh_with_the_shape_walked() {
        let described = described();
        let mut checked = 0;
        for section in SECTIONS {
            for root in section.roots {
                check(root, root.name.to_owned(), &described, &mut checked);
            }
        }
        assert!(checked > 80, "{checked} routes");
    }

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
