//! The webdav provider (`webdav://`, `webdavs://`, `nextcloud://`) against a real WebDAV
//! server, WsgiDAV, extended with Nextcloud's conventions (tests/servers/webdav/): the
//! conformance suite, every file against an independent client's download, the bag against
//! the standard tools, Nextcloud's checksums and attributes, faults and bad input.

mod common;

use std::fs;
use std::path::Path;
use std::process::Output;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::webdav::{EMPTY_DIRS, PASSWORD, TOKEN, USER, WebDav, many, tree};
use common::{
    all_text, assert_files_identical, assert_standard_tools_accept, code, gnu_extract, inventory, report, stdout,
};
use serde_json::Value;
use sortie_sdk::ErrorKind;
use sortie_sdk::item::{Item, Kind, RawName};
use sortie_sdk::registry::{Context, ProviderFactory};
use sortie_sdk::settings::Settings;

/// Files `dav_client.py seed` adds under `tree/checksums/`.
const UPLOADED: u64 = 3;

/// `sortie ARGS` with only the given WebDAV variables.
fn sortie(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = common::sortie();
    for var in ["WEBDAV_USER", "WEBDAV_PASSWORD", "WEBDAV_TOKEN", "WEBDAV_CA_BUNDLE", "NEXTCLOUD_PASSWORD"] {
        command.env_remove(var);
    }
    command.args(args).envs(env.iter().copied()).output().expect("sortie runs")
}

fn settings(factory: &dyn ProviderFactory, pairs: &[(&str, &str)]) -> Settings {
    let info = factory.info();
    let mut settings = Settings::new();
    for (name, value) in pairs {
        settings.set(info.setting(name).unwrap(), value).unwrap();
    }
    settings
}

fn missing() -> Item {
    Item::new(RawName::text("no such/file.txt"), vec![RawName::text("no such"), RawName::text("file.txt")], Kind::File)
}

fn server() -> &'static WebDav {
    tokio::task::block_in_place(WebDav::shared)
}

fn find<'a>(items: &'a [Item], id: &str) -> &'a Item {
    items.iter().find(|i| i.id == RawName::text(id)).unwrap_or_else(|| panic!("{id} is not listed"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webdav_sources_pass_the_conformance_suite() {
    let server = server();
    let factory = sortie_plugin_webdav::WebDavFactory;
    let source = factory.source(&server.webdav_url("tree"), settings(&factory, &[("password", PASSWORD)])).unwrap();
    let expected = sortie_conformance::Expected { bodies: tree(), secrets: &[PASSWORD], missing: missing() };
    let items = sortie_conformance::check(&factory, source, expected).await;
    let files = items.iter().filter(|i| i.kind == Kind::File).count() as u64;
    assert_eq!(files, tree().len() as u64 + UPLOADED);
    for dir in EMPTY_DIRS {
        assert_eq!(find(&items, dir).kind, Kind::Directory, "{dir}");
    }
    let properties = find(&items, "properties.txt");
    assert_eq!(properties.meta["properties"]["{urn:x-sortie}colour"], "blue", "{:?}", properties.meta);
    let tags = "<tag xmlns=\"urn:x-sortie\">a</tag><tag xmlns=\"urn:x-sortie\">b</tag>";
    assert_eq!(properties.meta["properties"]["{urn:x-sortie}tags"], tags);
    assert!(properties.meta["etag"].is_string() && properties.modified.is_some());
    assert_eq!(find(&items, "big.bin").size, Some(6 << 20));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nextcloud_sources_pass_the_conformance_suite_with_checksums_and_attributes() {
    let server = server();
    let factory = sortie_plugin_webdav::NextcloudFactory;
    let ca = server.ca.to_str().unwrap();
    let source = factory
        .source(&server.nextcloud_url("tree"), settings(&factory, &[("token", TOKEN), ("ca_bundle", ca)]))
        .unwrap();
    let expected = sortie_conformance::Expected { bodies: tree(), secrets: &[TOKEN], missing: missing() };
    let items = sortie_conformance::check(&factory, source, expected).await;
    let readme = find(&items, "readme.txt");
    let checksum = readme.checksum.as_ref().expect("oc:checksums is read");
    assert!(checksum.served.starts_with("SHA1:") && checksum.md5.is_some(), "{checksum:?}");
    assert_eq!(readme.meta["permissions"], "RGDNVW");
    assert!(readme.meta["fileid"].as_str().unwrap().ends_with("ocsortie1"));
    assert_eq!(readme.meta["favorite"], false);
    let sha1_only = find(&items, "checksums/sha1-only.txt").checksum.clone().unwrap();
    assert!(sha1_only.md5.is_none() && sha1_only.served.starts_with("SHA1:"), "{sha1_only:?}");
    let properties = find(&items, "properties.txt");
    assert_eq!(properties.meta["favorite"], true);
    assert_eq!(properties.meta["share_types"], serde_json::json!([0, 3]));
    assert_eq!(find(&items, "a b").meta["favorite"], true);
    assert_eq!(find(&items, "a b").meta["permissions"], "RGDNVCK");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_larger_than_a_page_is_listed_in_pages_level_by_level_or_at_once() {
    let server = server();
    let factory = sortie_plugin_webdav::WebDavFactory;
    let source = factory.source(&server.webdav_url("many"), settings(&factory, &[("password", PASSWORD)])).unwrap();
    let expected = sortie_conformance::Expected { bodies: many(), secrets: &[PASSWORD], missing: missing() };
    let level_by_level = sortie_conformance::check(&factory, source, expected).await;
    let ids = |items: &[Item]| items.iter().map(|i| i.id.clone()).collect::<std::collections::BTreeSet<_>>();
    assert_eq!(level_by_level.len(), 1052, "every file, and sub/");
    let given = settings(&factory, &[("password", PASSWORD), ("depth_infinity", "true")]);
    let provider =
        factory.open(&factory.source(&server.webdav_url("many"), given).unwrap(), &Context::default()).unwrap();
    let (mut at_once, mut cursor, mut pages) = (Vec::new(), None, 0);
    loop {
        let page = provider.list_page(cursor).await.unwrap();
        assert!(page.items.len() <= 1000, "a page holds at most 1,000 members");
        (pages, cursor) = (pages + 1, page.next);
        at_once.extend(page.items);
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!((pages, ids(&at_once)), (2, ids(&level_by_level)), "one Depth: infinity listing, in two pages");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webdavs_sources_trust_the_given_certificate_authority() {
    let server = server();
    let factory = sortie_plugin_webdav::WebDavsFactory;
    let url = format!("webdavs://{USER}@127.0.0.1:{}/dav/tree", server.https);
    let given = settings(&factory, &[("password", PASSWORD), ("ca_bundle", server.ca.to_str().unwrap())]);
    let provider = factory.open(&factory.source(&url, given).unwrap(), &Context::default()).unwrap();
    provider.check().await.unwrap();
    let page = provider.list_page(None).await.unwrap();
    let readme = find(&page.items, "readme.txt");
    assert_eq!(provider.open(readme).await.unwrap().size, Some(6), "readme.txt is opened over TLS");
}

/// Exports `url` into `DIR/NAME.tar.zst`, extracts it with GNU tar and checks it with the
/// standard tools; returns the bag.
fn export_and_extract(dir: &Path, name: &str, url: &str, env: &[(&str, &str)]) -> std::path::PathBuf {
    let archive = dir.join(format!("{name}.tar.zst"));
    let output = sortie(&["export", url, "-o", archive.to_str().unwrap()], env);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    let bag = gnu_extract(&archive, name);
    let beside: Vec<_> = fs::read_dir(bag.parent().unwrap()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(beside, [name], "GNU tar wrote the bag and nothing beside it");
    assert_standard_tools_accept(&archive, &bag);
    bag
}

/// Every file and directory of the bag against what an independent client downloads.
fn assert_same_as_independent_client(server: &WebDav, bag: &Path, collection: &str, out: &Path) {
    let (files, dirs) = server.mirror(collection, out);
    let records = inventory(bag);
    let source = records.iter().find(|r| r["kind"] == "file").unwrap()["source"].as_str().unwrap().to_owned();
    assert_files_identical(out, bag, &source);
    let count = |kind: &str| records.iter().filter(|r| r["kind"] == kind && r["source"] == source.as_str()).count();
    assert_eq!((count("file") as u64, count("directory") as u64), (files, dirs));
    assert_eq!(files, tree().len() as u64 + UPLOADED);
    for dir in EMPTY_DIRS {
        let record = records.iter().find(|r| r["id"] == *dir).unwrap_or_else(|| panic!("{dir} is not recorded"));
        assert!(bag.join(record["path"].as_str().unwrap()).is_dir(), "{dir} is not in the payload: {record}");
    }
}

#[test]
fn a_webdav_export_is_what_an_independent_client_downloads() {
    let server = WebDav::shared();
    let dir = tempfile::tempdir().unwrap();
    let bag = export_and_extract(dir.path(), "dav", &server.webdav_url("tree"), &[("WEBDAV_PASSWORD", PASSWORD)]);
    let collection = format!("http://127.0.0.1:{}/dav/tree/", server.http);
    assert_same_as_independent_client(server, &bag, &collection, &dir.path().join("mirror"));
    assert_eq!(report(&bag)["sources"][0]["account"], format!("user {USER}"));
}

#[test]
fn a_nextcloud_export_is_what_an_independent_client_downloads_with_its_attributes() {
    let server = WebDav::shared();
    let dir = tempfile::tempdir().unwrap();
    let ca = server.ca.to_str().unwrap();
    let env = [("NEXTCLOUD_PASSWORD", PASSWORD), ("WEBDAV_CA_BUNDLE", ca)];
    let bag = export_and_extract(dir.path(), "cloud", &server.nextcloud_url("tree"), &env);
    let collection = format!("https://127.0.0.1:{}/remote.php/dav/files/{USER}/tree/", server.https);
    assert_same_as_independent_client(server, &bag, &collection, &dir.path().join("mirror"));
    let records = inventory(&bag);
    let properties = records.iter().find(|r| r["id"] == "properties.txt").unwrap();
    let meta = &properties["meta"];
    assert_eq!((&meta["favorite"], &meta["share_types"]), (&Value::Bool(true), &serde_json::json!([0, 3])), "{meta}");
    assert!(meta["checksums"].as_str().unwrap().contains("MD5:"), "{meta}");
    let sha1_only = records.iter().find(|r| r["id"] == "checksums/sha1-only.txt").unwrap();
    assert_eq!(sha1_only["meta"]["checksum_verified"], "SHA1", "{sha1_only}");
    assert!(!fs::read_to_string(bag.join("sortie/inventory.jsonl")).unwrap().contains(PASSWORD));
}

#[test]
fn a_file_whose_nextcloud_checksum_is_wrong_fails_by_name() {
    let server = WebDav::shared();
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("corrupt.tar.zst");
    let ca = server.ca.to_str().unwrap();
    let env = [("WEBDAV_PASSWORD", PASSWORD), ("WEBDAV_CA_BUNDLE", ca)];
    let output = sortie(&["export", &server.nextcloud_url("corrupt"), "-o", archive.to_str().unwrap()], &env);
    let text = all_text(&output);
    assert_eq!(code(&output), 3, "{text}");
    assert!(text.contains("bad-sha1.txt") && text.contains("SHA1"), "{text}");
    assert!(text.contains("bad-md5.txt"), "{text}");
    assert!(!text.contains("good.txt"), "{text}");
}

/// A source URL, its environment, and what the error must say.
type BadInput<'a> = (String, Vec<(&'a str, &'a str)>, Vec<String>);

#[test]
fn bad_input_gets_a_clear_error() {
    let server = WebDav::shared();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.tar.zst");
    let out = out.to_str().unwrap();
    let host = format!("127.0.0.1:{}", server.http);
    let cases: [BadInput<'_>; 6] = [
        (
            server.webdav_url("tree"),
            vec![("WEBDAV_PASSWORD", "wrong-pw-3141")],
            vec![format!("user '{USER}' at {host}"), "401".into(), "WEBDAV_PASSWORD".into()],
        ),
        (
            server.webdav_url("tree"),
            vec![("WEBDAV_TOKEN", "refused-token-2718")],
            vec!["bearer token".into(), "401".into()],
        ),
        (
            server.webdav_url("file.txt"),
            vec![("WEBDAV_PASSWORD", PASSWORD)],
            vec!["is a file, not a collection".into()],
        ),
        (server.webdav_url("no-such-dir"), vec![("WEBDAV_PASSWORD", PASSWORD)], vec!["does not exist".into()]),
        (
            server.nextcloud_url("tree"),
            vec![("WEBDAV_PASSWORD", PASSWORD)],
            vec!["certificate".into(), "ca_bundle".into()],
        ),
        (server.webdav_url("tree"), vec![], vec![format!("no password for user '{USER}' at {host}")]),
    ];
    for (url, env, wanted) in cases {
        let output = sortie(&["export", &url, "-o", out], &env);
        let text = all_text(&output);
        assert_ne!(code(&output), 0, "{url}: {text}");
        for want in wanted {
            assert!(text.contains(&want), "{url}: '{want}' is not said: {text}");
        }
        for secret in ["wrong-pw-3141", "refused-token-2718", PASSWORD] {
            assert!(!text.contains(secret), "{url}: a secret is shown: {text}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_deleted_after_the_listing_is_not_found_by_name() {
    let server = server();
    let scratch = server.files.join("scratch-deleted");
    fs::create_dir_all(&scratch).unwrap();
    fs::write(scratch.join("stays.txt"), b"stays\n").unwrap();
    fs::write(scratch.join("goes.txt"), b"goes\n").unwrap();
    let factory = sortie_plugin_webdav::WebDavFactory;
    let source =
        factory.source(&server.webdav_url("scratch-deleted"), settings(&factory, &[("password", PASSWORD)])).unwrap();
    let provider = factory.open(&source, &Context::default()).unwrap();
    provider.check().await.unwrap();
    let page = provider.list_page(None).await.unwrap();
    assert_eq!(page.items.len(), 2);
    fs::remove_file(scratch.join("goes.txt")).unwrap();
    let goes = page.items.iter().find(|i| i.id == RawName::text("goes.txt")).unwrap();
    let error = provider.open(goes).await.err().expect("a deleted file cannot be opened");
    assert_eq!(error.kind(), ErrorKind::NotFound);
    assert!(error.to_string().contains("file 'goes.txt' no longer exists"), "{error}");
    assert!(provider.open(page.items.iter().find(|i| i.id == RawName::text("stays.txt")).unwrap()).await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_deleted_before_its_turn_is_a_named_failure_and_the_listing_goes_on() {
    let server = server();
    let scratch = server.files.join("scratch-vanished");
    for dir in ["a-goes", "b-stays"] {
        fs::create_dir_all(scratch.join(dir)).unwrap();
        fs::write(scratch.join(dir).join("f.txt"), dir).unwrap();
    }
    let factory = sortie_plugin_webdav::WebDavFactory;
    let source =
        factory.source(&server.webdav_url("scratch-vanished"), settings(&factory, &[("password", PASSWORD)])).unwrap();
    let provider = factory.open(&source, &Context::default()).unwrap();
    let first = provider.list_page(None).await.unwrap();
    assert_eq!(first.items.len(), 2, "the two directories");
    fs::remove_dir_all(scratch.join("a-goes")).unwrap();
    let (mut rest, mut cursor) = (Vec::new(), first.next);
    while let Some(next) = cursor {
        let page = provider.list_page(Some(next)).await.unwrap();
        rest.extend(page.items);
        cursor = page.next;
    }
    let gone = rest.iter().find(|i| i.id == RawName::text("a-goes")).expect("the vanished directory is recorded");
    let Some(sortie_sdk::item::Skip::Failed(why)) = &gone.skip else { panic!("{gone:?}") };
    assert!(why.contains("directory 'a-goes' was deleted during the export"), "{why}");
    assert!(rest.iter().any(|i| i.id == RawName::text("b-stays/f.txt")), "the listing went on");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_dropped_mid_file_or_mid_listing_is_retried_to_a_complete_archive() {
    use common::fault_proxy::{Fault, FaultProxy};

    let server = server();
    let faults = [
        ("/dav/tree/big.bin", Fault::CutAfter(2 << 20)),
        ("/dav/tree/readme.txt", Fault::Status(503, "busy")),
        ("PROPFIND /dav/tree/", Fault::Status(503, "busy")),
        ("PROPFIND /dav/tree/nested/", Fault::CutAfter(300)),
    ];
    let proxy = FaultProxy::start(&format!("http://127.0.0.1:{}", server.http), faults.to_vec()).await;
    let authority = proxy.endpoint.trim_start_matches("http://");
    let url = format!("webdav://{USER}@{authority}/dav/tree");
    let dir = tempfile::tempdir().unwrap();
    let bag =
        tokio::task::block_in_place(|| export_and_extract(dir.path(), "cut", &url, &[("WEBDAV_PASSWORD", PASSWORD)]));
    for (target, _) in faults {
        assert!(proxy.arrivals(target).len() >= 2, "{target} was not asked again after its fault");
    }
    for dir in EMPTY_DIRS.iter().filter(|d| d.starts_with("nested/")) {
        let record = inventory(&bag).into_iter().find(|r| r["id"] == *dir);
        assert!(record.is_some(), "{dir}, listed by the cut PROPFIND, is missing");
    }
    let record = inventory(&bag).into_iter().find(|r| r["id"] == "big.bin").unwrap();
    assert_eq!(fs::read(bag.join(record["path"].as_str().unwrap())).unwrap(), tree()[b"big.bin".as_slice()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_gone_when_it_is_fetched_is_a_recorded_failure() {
    use common::fault_proxy::{Fault, FaultProxy};

    let server = server();
    // The server says the file is gone (404) every time it is asked for, as it would once the
    // file was deleted after the listing.
    let proxy = FaultProxy::start(
        &format!("http://127.0.0.1:{}", server.http),
        vec![
            ("/dav/tree/a%20b/c%20d.txt", Fault::Always(404, "NotFound")),
            // And a directory, when its turn to be listed comes.
            ("/dav/tree/nested/", Fault::Always(404, "NotFound")),
        ],
    )
    .await;
    let url = format!("webdav://{USER}@{}/dav/tree", proxy.endpoint.trim_start_matches("http://"));
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("gone.tar.zst");
    let output = tokio::task::block_in_place(|| {
        sortie(&["export", &url, "-o", archive.to_str().unwrap()], &[("WEBDAV_PASSWORD", PASSWORD)])
    });
    let text = all_text(&output);
    assert_eq!(code(&output), 3, "{text}");
    assert!(text.contains("file 'a b/c d.txt' no longer exists at the server: deleted since it was listed"), "{text}");
    let bag = gnu_extract(&archive, "gone");
    let report: Value = serde_json::from_str(&fs::read_to_string(bag.join("sortie/report.json")).unwrap()).unwrap();
    assert!(report.to_string().contains("a b/c d.txt"), "the report names the file: {report}");
    assert!(text.contains("directory 'nested' was deleted during the export"), "{text}");
    let records = inventory(&bag);
    assert!(records.iter().any(|r| r["id"] == "big.bin"), "the rest of the tree is archived");
    assert!(!records.iter().any(|r| r["id"] == "nested/deeper/deepest/leaf.txt"));
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() { files.extend(files_under(&path)) } else { files.push(path) }
    }
    files
}

#[test]
fn requests_are_logged_at_debug_and_secrets_never_show_in_logs_plans_or_archives() {
    let server = WebDav::shared();
    let dir = tempfile::tempdir().unwrap();
    let ca = server.ca.to_str().unwrap();
    let cases = [
        (server.webdav_url("tree"), vec![("WEBDAV_PASSWORD", PASSWORD)], PASSWORD),
        (server.nextcloud_url("tree"), vec![("WEBDAV_TOKEN", TOKEN), ("WEBDAV_CA_BUNDLE", ca)], TOKEN),
    ];
    for (i, (url, env, secret)) in cases.into_iter().enumerate() {
        let archive = dir.path().join(format!("bag{i}.tar.zst"));
        let output = sortie(&["-vv", "export", &url, "-o", archive.to_str().unwrap()], &env);
        let text = all_text(&output);
        assert_eq!(code(&output), 0, "{text}");
        assert!(text.contains("PROPFIND http") && text.contains("GET http"), "{url}: requests are not logged: {text}");
        assert!(!text.contains(secret), "{url}: the secret is in the log: {text}");
        let plan = sortie(&["plan", &url, "--json"], &env);
        assert_eq!(code(&plan), 0, "{}", all_text(&plan));
        assert!(!all_text(&plan).contains(secret), "{url}: the secret is in the plan");
        let bag = gnu_extract(&archive, &format!("bag{i}"));
        for file in files_under(&bag) {
            let bytes = fs::read(&file).unwrap();
            assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()), "the secret is in {file:?}");
        }
    }
}

/// A hostile DAV server's answer to `METHOD PATH`: listings that point at another host
/// (`other`), outside the collection, at an ancestor (a loop) and twice at one member.
fn hostile_answer(method: &str, path: &str, other: u16) -> (u16, String) {
    let member = |href: &str, dir: bool| {
        let kind = if dir { "<d:collection/>" } else { "" };
        format!(
            "<d:response><d:href>{href}</d:href><d:propstat><d:prop><d:resourcetype>{kind}</d:resourcetype>\
             </d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>"
        )
    };
    let listing = |members: &[(&str, bool)]| {
        let body: String = members.iter().map(|(href, dir)| member(href, *dir)).collect();
        (207, format!("<d:multistatus xmlns:d=\"DAV:\">{body}</d:multistatus>"))
    };
    let elsewhere = format!("http://127.0.0.1:{other}/dav/a/");
    match (method, path) {
        ("PROPFIND", "/dav/") => listing(&[
            ("/dav/", true),
            ("/dav/a/", true),
            ("/dav/a/", true),
            (&elsewhere, true),
            ("/dav/%2e%2e/etc/", true),
            ("/dav/f.txt", false),
        ]),
        ("PROPFIND", "/dav/a/") => listing(&[("/dav/a/", true), ("/dav/", true), ("/dav/a/g.txt", false)]),
        ("GET", "/dav/f.txt") => (200, "f".into()),
        ("GET", "/dav/a/g.txt") => (200, "g".into()),
        _ => (404, String::new()),
    }
}

/// Serves `answer` on a listener of 127.0.0.1, one request per connection; counts requests.
fn serve(answer: impl Fn(&str, &str) -> (u16, String) + Send + 'static) -> (u16, std::sync::Arc<AtomicUsize>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let count = std::sync::Arc::new(AtomicUsize::new(0));
    let counted = count.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            counted.fetch_add(1, Ordering::SeqCst);
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let (mut head, mut line) = (Vec::new(), String::new());
            while reader.read_line(&mut line).unwrap_or(0) > 2 {
                head.push(std::mem::take(&mut line));
            }
            let first: Vec<&str> = head.first().map_or(vec![], |l| l.split_whitespace().collect());
            let length = head
                .iter()
                .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_owned()))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            reader.by_ref().take(length).read_to_end(&mut Vec::new()).unwrap();
            let (status, body) = answer(first.first().unwrap_or(&""), first.get(1).unwrap_or(&""));
            let head = format!("HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
            let _ = (&stream).write_all(format!("{head}{body}").as_bytes());
        }
    });
    (port, count)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_server_gets_no_request_to_another_host_nor_an_endless_walk() {
    let (other, elsewhere) = serve(|_, _| (500, String::new()));
    let (port, _) = serve(move |method, path| hostile_answer(method, path, other));
    let factory = sortie_plugin_webdav::WebDavFactory;
    let url = format!("webdav://{USER}@127.0.0.1:{port}/dav");
    let provider = factory
        .open(&factory.source(&url, settings(&factory, &[("password", PASSWORD)])).unwrap(), &Context::default())
        .unwrap();
    let (mut items, mut cursor, mut pages) = (Vec::new(), None, 0);
    loop {
        let page = provider.list_page(cursor).await.unwrap();
        items.extend(page.items);
        pages += 1;
        assert!(pages < 10, "the walk does not end: {items:#?}");
        let Some(next) = page.next else { break };
        cursor = Some(next);
    }
    let mut ids: Vec<String> = items.iter().map(|i| i.id.display()).collect();
    ids.sort();
    assert_eq!(ids, ["a", "a/g.txt", "f.txt"], "each member once, nothing outside the collection");
    for item in items.iter().filter(|i| i.kind == Kind::File) {
        assert!(provider.open(item).await.is_ok(), "{item:?}");
    }
    assert_eq!(elsewhere.load(Ordering::SeqCst), 0, "a request went to another host");
}

#[test]
fn members_a_hostile_server_lists_out_of_place_are_left_out_with_a_warning_naming_them() {
    let (other, _) = serve(|_, _| (500, String::new()));
    let (port, _) = serve(move |method, path| hostile_answer(method, path, other));
    let url = format!("webdav://{USER}@127.0.0.1:{port}/dav");
    let output = common::sortie().args(["inventory", &url, "--set", &format!("password={PASSWORD}")]).output().unwrap();
    let text = all_text(&output);
    assert_eq!(code(&output), 0, "{text}");
    for (href, why) in [
        ("/dav/a/", "a second time"),
        // `%2e%2e` is `..` to a URL parser: the href resolves to /etc/.
        ("/etc/", "outside this directory"),
        ("/dav/", "outside this directory"),
    ] {
        let warning = format!("{href} as a member, {why}: left out");
        assert!(text.contains(&warning), "no warning '{warning}' in: {text}");
    }
    assert!(!text.contains(PASSWORD), "{text}");
}

/// The tree compared again right after its export (`verify --against`), over WebDAV and as
/// Nextcloud: every file and folder is as archived, and nothing may be called changed.
#[test]
fn an_unchanged_tree_matches_its_archive() {
    let server = WebDav::shared();
    let dir = tempfile::tempdir().unwrap();
    let ca = server.ca.to_str().unwrap();
    let webdav = (server.webdav_url("tree"), vec![("WEBDAV_PASSWORD", PASSWORD)]);
    let nextcloud = (server.nextcloud_url("tree"), vec![("NEXTCLOUD_PASSWORD", PASSWORD), ("WEBDAV_CA_BUNDLE", ca)]);
    for (name, (url, env)) in [("dav", webdav), ("cloud", nextcloud)] {
        let archive = dir.path().join(format!("{name}.tar.zst"));
        let output = sortie(&["export", &url, "-o", archive.to_str().unwrap()], &env);
        assert_eq!(code(&output), 0, "{name}: {}", all_text(&output));
        let report = stdout(&sortie(&["report", archive.to_str().unwrap()], &[]));
        assert!(!report.contains("changed since listed"), "{name}: nothing changed during the export: {report}");
        let output = sortie(&["verify", archive.to_str().unwrap(), "--against", &url], &env);
        assert_eq!(code(&output), 0, "{name}: {}", all_text(&output));
    }
}

/// A large file read as byte ranges with `If-Match` on its ETag (WsgiDAV compares it): a
/// throttled range alone is asked again, and the file is archived byte-exact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_file_is_read_in_ranges_each_retried_alone() {
    use common::fault_proxy::{Fault, FaultProxy};

    let server = server();
    let faults = vec![("/dav/tree/big.bin bytes=2097152-4194303", Fault::Status(503, "busy"))];
    let proxy = FaultProxy::start(&format!("http://127.0.0.1:{}", server.http), faults).await;
    let authority = proxy.endpoint.trim_start_matches("http://");
    let url = format!("webdav://{USER}@{authority}/dav/tree");
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("ranged.tar.zst");
    let args = ["export", &url, "--range-cutoff", "1M", "--range-chunk", "2M", "-o", archive.to_str().unwrap()];
    let output = tokio::task::block_in_place(|| sortie(&args, &[("WEBDAV_PASSWORD", PASSWORD)]));
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    let mut ranges = proxy.ranges("/dav/tree/big.bin");
    ranges.sort();
    assert_eq!(ranges, ["bytes=2097152-4194303", "bytes=2097152-4194303", "bytes=4194304-6291455"]);
    let bag = gnu_extract(&archive, "ranged");
    let record = inventory(&bag).into_iter().find(|r| r["id"] == "big.bin").unwrap();
    assert_eq!(fs::read(bag.join(record["path"].as_str().unwrap())).unwrap(), tree()[b"big.bin".as_slice()]);
}
