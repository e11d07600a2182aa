//! `caldav://` and `carddav://` against two independent real servers, Radicale (plain HTTP)
//! and Xandikos (HTTPS with a test CA), each seeded through its own protocol: the
//! conformance suite, every resource in the archive byte-identical to a plain HTTP GET by
//! another client, counts per collection, a valid bag, discovery from the server root and
//! from a collection URL, and the bad-input cases.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::dav::{DavServer, Kind, PASSWORD, USER};
use common::{all_text, assert_standard_tools_accept, code, gnu_extract, inventory, report, sortie};
use sortie_sdk::ErrorKind;
use sortie_sdk::item::{Item, Kind as ItemKind, RawName, Skip};
use sortie_sdk::registry::{Context, ProviderFactory};
use sortie_sdk::settings::Settings;
use sortie_sdk::source::SourceSpec;

const SERVERS: [Kind; 2] = [Kind::Radicale, Kind::Xandikos];
const SCHEMES: [&str; 2] = ["caldav", "carddav"];

fn factory(scheme: &str) -> Box<dyn ProviderFactory> {
    match scheme {
        "caldav" => Box::new(sortie_plugin_caldav::CalDavFactory),
        _ => Box::new(sortie_plugin_caldav::CardDavFactory),
    }
}

/// The settings of a source of `server`, the password included.
fn settings(factory: &dyn ProviderFactory, server: &DavServer) -> Settings {
    let info = factory.info();
    let mut settings = Settings::new();
    settings.set(info.setting("password").unwrap(), PASSWORD).unwrap();
    for (name, value) in server.settings() {
        settings.set(info.setting(name).unwrap(), &value).unwrap();
    }
    settings
}

/// Runs `sortie export URL` against `server` with the password in the environment.
fn export(server: &DavServer, url: &str, dir: &Path, name: &str, extra: &[&str]) -> std::process::Output {
    let mut command = sortie();
    command.args(["export", url, "-o"]).arg(dir.join(format!("{name}.tar.zst")));
    for (key, value) in server.settings() {
        command.args(["--set", &format!("{key}={value}")]);
    }
    command.args(extra).env("SORTIE_DAV_PASSWORD", PASSWORD).env_remove("SORTIE_DAV_CA_BUNDLE");
    command.output().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_schemes_pass_the_conformance_suite_on_both_servers() {
    for kind in SERVERS {
        let server = DavServer::shared(kind);
        for scheme in SCHEMES {
            let collections = server.collections(scheme);
            let hrefs: Vec<&str> = collections.keys().map(String::as_str).collect();
            let bodies: BTreeMap<Vec<u8>, Vec<u8>> =
                server.fetch(&hrefs).into_values().flatten().map(|(href, body)| (href.into_bytes(), body)).collect();
            let factory = factory(scheme);
            let source = factory.source(&server.url(scheme, "/"), settings(factory.as_ref(), server)).unwrap();
            let missing_href = format!("{}does-not-exist.ics", hrefs[0]);
            let mut missing = Item::new(
                RawName::text(&missing_href),
                vec![RawName::text("x"), RawName::text("does-not-exist.ics")],
                ItemKind::Event,
            );
            missing.locator = Some(missing_href);
            let expected = sortie_conformance::Expected { bodies: bodies.clone(), secrets: &[PASSWORD], missing };
            let items = sortie_conformance::check(factory.as_ref(), source, expected).await;
            let resources = items.iter().filter(|i| i.kind != ItemKind::Config).count();
            assert_eq!(resources, bodies.len(), "{kind:?} {scheme}: every resource listed once");
            assert_eq!(resources as u64, collections.values().sum::<u64>(), "{kind:?} {scheme}: as seeded");
            let big = items.iter().find(|i| i.id.display().ends_with("big-attachment.ics"));
            if let Some(big) = big {
                assert!(big.inline.is_none(), "a resource above the inline cap is read by GET");
            }
            assert!(
                items.iter().filter(|i| i.kind != ItemKind::Config && i.inline.is_none()).count() <= 1,
                "{kind:?} {scheme}: bodies arrive by multiget"
            );
        }
    }
}

#[test]
fn archives_hold_every_resource_as_a_plain_get_returns_it_in_a_valid_bag() {
    let dir = tempfile::tempdir().unwrap();
    for kind in SERVERS {
        let server = DavServer::shared(kind);
        for scheme in SCHEMES {
            let name = format!("{scheme}-{kind:?}").to_lowercase();
            let output = export(server, &server.url(scheme, "/"), dir.path(), &name, &[]);
            assert_eq!(code(&output), 0, "{name}: {}", all_text(&output));
            let archive = dir.path().join(format!("{name}.tar.zst"));
            let bag = gnu_extract(&archive, &name);
            assert_standard_tools_accept(&archive, &bag);
            let records = inventory(&bag);
            let collections = server.collections(scheme);
            let hrefs: Vec<&str> = collections.keys().map(String::as_str).collect();
            for (collection, members) in server.fetch(&hrefs) {
                assert_eq!(members.len() as u64, collections[&collection], "{name}: {collection} as seeded");
                let collection_dir = collection.trim_end_matches('/').rsplit('/').next().unwrap();
                let archived = records
                    .iter()
                    .filter(|r| {
                        r["kind"] != "config" && r["path"].as_str().unwrap().split('/').nth(2) == Some(collection_dir)
                    })
                    .count();
                assert_eq!(archived, members.len(), "{name}: resources of {collection} in the archive");
                for (href, body) in members {
                    let record = records
                        .iter()
                        .find(|r| r["id"] == href.as_str())
                        .unwrap_or_else(|| panic!("{name}: {href} is not in the inventory"));
                    let path = record["path"].as_str().unwrap();
                    let extension = if scheme == "caldav" { ".ics" } else { ".vcf" };
                    assert!(path.ends_with(extension), "{name}: {path} is a vdir file");
                    assert!(std::fs::read(bag.join(path)).unwrap() == body, "{name}: {href} differs from its GET");
                }
                let config = bag.join(format!("data/{}/_config/{collection_dir}.json", record_source(&records)));
                let config: serde_json::Value = serde_json::from_slice(&std::fs::read(config).unwrap()).unwrap();
                assert!(config["properties"]["displayname"].as_str().is_some_and(|n| !n.is_empty()), "{config}");
            }
            let text = std::fs::read_to_string(bag.join("sortie/inventory.jsonl")).unwrap();
            assert!(!text.contains(PASSWORD), "{name}: the password is in the inventory");
            assert_eq!(report(&bag)["sources"][0]["account"], format!("user {USER}"), "{name}");
        }
    }
}

fn record_source(records: &[serde_json::Value]) -> &str {
    records[0]["source"].as_str().unwrap()
}

#[test]
fn collection_properties_are_recorded_as_configuration() {
    let server = DavServer::shared(Kind::Radicale);
    let dir = tempfile::tempdir().unwrap();
    let output = export(server, &server.url("caldav", "/"), dir.path(), "props", &[]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    let bag = gnu_extract(&dir.path().join("props.tar.zst"), "props");
    let source = record_source(&inventory(&bag)).to_owned();
    let read = |name: &str| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(bag.join(format!("data/{source}/_config/{name}"))).unwrap()).unwrap()
    };
    let work = read("work.json");
    let properties = &work["properties"];
    assert_eq!(properties["displayname"], "Travail — été");
    assert_eq!(properties["calendar-color"], "#FF8800FF");
    assert_eq!(properties["calendar-description"], "Réunions et revues");
    assert_eq!(properties["supported-calendar-component-set"], serde_json::json!(["VEVENT"]));
    assert!(properties["calendar-timezone"].as_str().unwrap().contains("TZID:Europe/Paris"));
    assert!(properties["sync-token"].as_str().is_some_and(|t| !t.is_empty()));
    assert_eq!(read("tasks.json")["properties"]["supported-calendar-component-set"], serde_json::json!(["VTODO"]));
    let account = read("account.json");
    assert_eq!(account["current_user_principal"], "/alice/");
}

/// Every resource (configuration aside) `source` lists, page by page.
async fn resources(factory: &dyn ProviderFactory, source: &SourceSpec) -> Vec<Item> {
    let provider = factory.open(source, &Context::default()).unwrap();
    provider.check().await.unwrap();
    let (mut resources, mut cursor) = (Vec::new(), None);
    loop {
        let page = provider.list_page(cursor).await.unwrap();
        resources.extend(page.items.into_iter().filter(|i| i.kind != ItemKind::Config));
        match page.next {
            Some(next) => cursor = Some(next),
            None => return resources,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collection_url_exports_that_collection_only() {
    for kind in SERVERS {
        let server = DavServer::shared(kind);
        for scheme in SCHEMES {
            let collections = server.collections(scheme);
            let (href, count) = collections.iter().next().unwrap();
            let factory = factory(scheme);
            let source = factory.source(&server.url(scheme, href), settings(factory.as_ref(), server)).unwrap();
            let resources = resources(factory.as_ref(), &source).await;
            assert_eq!(resources.len() as u64, *count, "{kind:?} {scheme} {href}");
            assert!(resources.iter().all(|i| i.id.display().starts_with(href.as_str())), "{kind:?} {href}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_home_set_or_principal_url_exports_every_collection_in_it() {
    // Nextcloud's form (`/remote.php/dav/calendars/USER/`) is a home set that is no principal:
    // Xandikos's `/alice/calendars/` is one too; Radicale's `/alice/` is both. `/alice/` is
    // Xandikos's principal, its home sets below it.
    for kind in SERVERS {
        let server = DavServer::shared(kind);
        for (scheme, home) in SCHEMES.into_iter().zip([server.homes().0, server.homes().1]) {
            let collections = server.collections(scheme);
            let factory = factory(scheme);
            for start in [home, "/alice/"] {
                let source = factory.source(&server.url(scheme, start), settings(factory.as_ref(), server)).unwrap();
                let resources = resources(factory.as_ref(), &source).await.len() as u64;
                assert_eq!(resources, collections.values().sum::<u64>(), "{kind:?} {scheme} {start}");
            }
        }
    }
}

#[test]
fn a_wrong_password_names_the_user_and_server_but_never_the_password() {
    for kind in SERVERS {
        let server = DavServer::shared(kind);
        let dir = tempfile::tempdir().unwrap();
        let mut command = sortie();
        command.args(["export", &server.url("caldav", "/"), "-o"]).arg(dir.path().join("a.tar.zst"));
        for (key, value) in server.settings() {
            command.args(["--set", &format!("{key}={value}")]);
        }
        let output = command.env("SORTIE_DAV_PASSWORD", "wrong-pw-77aa").output().unwrap();
        let text = all_text(&output);
        assert_eq!(code(&output), 1, "credentials refused: {text}");
        assert!(text.contains("refused the credentials (401)"), "{kind:?}: {text}");
        assert!(text.contains("user 'alice'") && text.contains("127.0.0.1"), "{kind:?}: {text}");
        assert!(!text.contains("wrong-pw-77aa"), "{kind:?}: the password is shown: {text}");
    }
}

#[test]
fn an_untrusted_certificate_says_which_setting_trusts_a_ca() {
    let server = DavServer::shared(Kind::Xandikos);
    let dir = tempfile::tempdir().unwrap();
    let output = sortie()
        .args(["export", &server.url("carddav", "/"), "-o"])
        .arg(dir.path().join("a.tar.zst"))
        .env("SORTIE_DAV_PASSWORD", PASSWORD)
        .env_remove("SORTIE_DAV_CA_BUNDLE")
        .output()
        .unwrap();
    let text = all_text(&output);
    assert_eq!(code(&output), 1, "an unreachable source: {text}");
    assert!(text.contains("not trusted") && text.contains("ca_bundle"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_url_that_is_not_a_collection_is_refused_by_name() {
    for kind in SERVERS {
        let server = DavServer::shared(kind);
        let collections = server.collections("caldav");
        let tasks = collections.keys().find(|href| href.ends_with("/tasks/")).unwrap();
        let resource = format!("{tasks}todo-1.ics");
        let factory = factory("caldav");
        for (path, expected) in [(resource.as_str(), ErrorKind::InvalidInput), ("/alice/nowhere/", ErrorKind::NotFound)]
        {
            let source = factory.source(&server.url("caldav", path), settings(factory.as_ref(), server)).unwrap();
            let provider = factory.open(&source, &Context::default()).unwrap();
            let error = provider.check().await.unwrap_err();
            assert_eq!(error.kind(), expected, "{kind:?} {path}: {error}");
            assert!(error.to_string().contains(path), "{kind:?}: {error}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collection_deleted_mid_export_is_named_and_the_export_incomplete() {
    for kind in SERVERS {
        // A server of its own: the shared one's other exports must not see the doomed calendar.
        let server = &DavServer::dedicated(kind);
        let href = format!("{}doomed/", server.homes().0);
        server.send("MKCALENDAR", &href);
        let factory = factory("caldav");
        let source = factory.source(&server.url("caldav", "/"), settings(factory.as_ref(), server)).unwrap();
        let provider = factory.open(&source, &Context::default()).unwrap();
        provider.check().await.unwrap();
        let first = provider.list_page(None).await.unwrap();
        assert!(first.items.iter().any(|i| i.id.display() == "_config/doomed.json"), "{kind:?}");
        server.send("DELETE", &href);
        let mut cursor = first.next;
        let mut failures = Vec::new();
        while let Some(next) = cursor {
            let page = provider.list_page(Some(next)).await.unwrap();
            failures.extend(page.items.into_iter().filter_map(|i| match i.skip {
                Some(Skip::Failed(why)) => Some(why),
                _ => None,
            }));
            cursor = page.next;
        }
        assert_eq!(failures.len(), 1, "{kind:?}: {failures:?}");
        assert!(failures[0].contains(&href) && failures[0].contains("deleted during the export"), "{failures:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_listing_and_a_server_error_are_retried_to_a_complete_archive() {
    use common::fault_proxy::{Fault, FaultProxy};

    let server = DavServer::shared(Kind::Radicale);
    let upstream = format!("127.0.0.1:{}", server.port);
    let plan = vec![
        ("/alice/tasks/", Fault::CutAfter(120)),
        ("/alice/home/", Fault::Status(503, "SlowDown")),
        ("REPORT /alice/work/", Fault::CutAfter(200)),
    ];
    let proxy = FaultProxy::start(&upstream, plan).await;
    let url = format!("caldav://alice@{}/", proxy.endpoint.trim_start_matches("http://"));
    let dir = tempfile::tempdir().unwrap();
    let output = tokio::task::spawn_blocking({
        let dir = dir.path().to_owned();
        move || export(DavServer::shared(Kind::Radicale), &url, &dir, "faults", &[])
    })
    .await
    .unwrap();
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    assert_eq!(proxy.arrivals("/alice/tasks/").len(), 3, "the cut listing was asked again, then multiget");
    assert_eq!(proxy.arrivals("REPORT /alice/work/").len(), 2, "the cut multiget was asked again");
    let bag = gnu_extract(&dir.path().join("faults.tar.zst"), "faults");
    let fetched = server.fetch(&["/alice/tasks/", "/alice/home/", "/alice/work/"]);
    let records = inventory(&bag);
    for (href, body) in fetched.into_values().flatten() {
        let record = records.iter().find(|r| r["id"] == href.as_str()).unwrap();
        assert!(std::fs::read(bag.join(record["path"].as_str().unwrap())).unwrap() == body, "{href}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collection_gone_after_discovery_fails_the_export_by_name_with_exit_3() {
    use common::fault_proxy::{Fault, FaultProxy};

    let server = DavServer::shared(Kind::Radicale);
    let upstream = format!("127.0.0.1:{}", server.port);
    // Discovery lists /alice/tasks/ from the home set; from then on the server says it is gone.
    let proxy = FaultProxy::start(&upstream, vec![("/alice/tasks/", Fault::Always(404, "NotFound"))]).await;
    let url = format!("caldav://alice@{}/", proxy.endpoint.trim_start_matches("http://"));
    let dir = tempfile::tempdir().unwrap();
    let output = tokio::task::spawn_blocking({
        let dir = dir.path().to_owned();
        move || export(DavServer::shared(Kind::Radicale), &url, &dir, "gone", &["--json"])
    })
    .await
    .unwrap();
    assert_eq!(code(&output), 3, "{}", all_text(&output));
    let text = all_text(&output);
    assert!(text.contains("the calendar /alice/tasks/ was deleted during the export"), "{text}");
    let bag = gnu_extract(&dir.path().join("gone.tar.zst"), "gone");
    let archived = inventory(&bag).iter().filter(|r| r["kind"] == "event").count();
    assert_eq!(archived, 3, "the other calendars are archived: {}", all_text(&output));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_multiget_is_read_by_get() {
    use common::fault_proxy::{Fault, FaultProxy};

    let server = DavServer::shared(Kind::Radicale);
    let upstream = format!("127.0.0.1:{}", server.port);
    let plan = vec![("REPORT /alice/work/", Fault::Always(501, "NotImplemented"))];
    let proxy = FaultProxy::start(&upstream, plan).await;
    let factory = factory("caldav");
    let url = format!("caldav://alice@{}/alice/work/", proxy.endpoint.trim_start_matches("http://"));
    let source = factory.source(&url, settings(factory.as_ref(), server)).unwrap();
    let bodies: BTreeMap<Vec<u8>, Vec<u8>> =
        server.fetch(&["/alice/work/"]).into_values().flatten().map(|(h, b)| (h.into_bytes(), b)).collect();
    let missing_href = "/alice/work/does-not-exist.ics".to_owned();
    let mut missing = Item::new(RawName::text(&missing_href), vec![RawName::text("x")], ItemKind::Event);
    missing.locator = Some(missing_href);
    let expected = sortie_conformance::Expected { bodies: bodies.clone(), secrets: &[PASSWORD], missing };
    let items = sortie_conformance::check(factory.as_ref(), source, expected).await;
    let resources: Vec<&Item> = items.iter().filter(|i| i.kind != ItemKind::Config).collect();
    assert_eq!(resources.len(), bodies.len());
    assert!(resources.iter().all(|i| i.inline.is_none()), "read by GET, not inline");
    assert!(!proxy.arrivals("REPORT /alice/work/").is_empty(), "the multiget was tried first");
}

/// Every calendar and address book compared again right after its export
/// (`verify --against`), on both servers: nothing changed, and nothing may be called changed.
#[test]
fn unchanged_collections_match_their_archive() {
    let dir = tempfile::tempdir().unwrap();
    for kind in SERVERS {
        let server = DavServer::shared(kind);
        for scheme in SCHEMES {
            let name = format!("again-{scheme}-{kind:?}").to_lowercase();
            let url = server.url(scheme, "/");
            let output = export(server, &url, dir.path(), &name, &[]);
            assert_eq!(code(&output), 0, "{name}: {}", all_text(&output));
            let mut command = sortie();
            command.arg("verify").arg(dir.path().join(format!("{name}.tar.zst"))).args(["--against", &url]);
            for (key, value) in server.settings() {
                command.args(["--set", &format!("{key}={value}")]);
            }
            let output =
                command.env("SORTIE_DAV_PASSWORD", PASSWORD).env_remove("SORTIE_DAV_CA_BUNDLE").output().unwrap();
            assert_eq!(code(&output), 0, "{name}: {}", all_text(&output));
        }
    }
}
