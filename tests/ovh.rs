//! The ovh provider (`ovh://`) against an OVH API v1 test server built from OVH's published
//! API descriptions (tests/servers/ovh/): the whole account cross-checked with the official
//! `ovh` Python client, exclusions (404, 403 NOT_GRANTED_CALL, 460), transfer codes only on
//! request, signed keys and OAuth2 tokens renewed mid-export, the API's clock, the rate limit
//! and 429s, a route failing mid-export, `sortie ovh credential`, and bad credentials.

mod common;

use std::fs;
use std::path::Path;
use std::process::Output;

use common::ovh::{
    APPLICATION_KEY, APPLICATION_SECRET, CK_DOMAINS_ONLY, CK_FULL, CK_NO_ME, CK_PENDING, CLIENT_ID, CLIENT_SECRET,
    OvhServer,
};
use common::{all_text, assert_standard_tools_accept, code, gnu_extract, inventory, report};
use serde_json::Value;

/// Exports `sources` with signed keys into the server's directory; the archive's path.
fn export(server: &OvhServer, ck: &str, name: &str, args: &[&str]) -> (std::path::PathBuf, Output) {
    let archive = server.dir.path().join(format!("{name}.tar.zst"));
    let mut all = vec!["export", "-o", archive.to_str().unwrap()];
    all.extend_from_slice(args);
    let output = server.sortie(ck, &all);
    (archive, output)
}

fn exclusions(bag: &Path) -> Vec<Value> {
    report(bag)["exclusions"].as_array().cloned().unwrap_or_default()
}

/// The reason of an exclusion, or the error of a failure, of `id`.
fn reason_of<'a>(entries: &'a [Value], id: &str) -> &'a str {
    let entry = entries.iter().find(|e| e["id"] == id).unwrap_or_else(|| panic!("{id} not among {entries:#?}"));
    entry["reason"].as_str().or(entry["error"].as_str()).unwrap()
}

/// Every file under `dir`, read.
fn every_file(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(every_file(&path));
        } else {
            out.push((path.display().to_string(), fs::read(&path).unwrap()));
        }
    }
    out
}

fn assert_nowhere(dir: &Path, secret: &str) {
    for (path, bytes) in every_file(dir) {
        assert!(!String::from_utf8_lossy(&bytes).contains(secret), "{secret} is in {path}");
    }
}

/// Paths of the fixture an export leaves out on purpose: the history of server-side tasks,
/// and what lies under a suspended service (whose own route is an exclusion).
const NOT_EXPORTED: &[&str] = &["/tasks?(/\\d+)?$", "/expired-example\\.net/"];

/// The test server's own checks of what it enforces (signatures, skew, rules, 429, 460,
/// tasks, models), with the official client and requests signed by hand: a server that let a
/// provider bug through would make every test below weaker.
#[test]
fn the_test_server_enforces_what_ovh_enforces() {
    let output =
        std::process::Command::new(common::ovh::python()).arg("tests/servers/ovh/selftest.py").output().unwrap();
    assert!(output.status.success(), "{}", all_text(&output));
}

#[test]
fn the_whole_account_is_exported_and_the_official_client_reads_the_same() {
    let server = OvhServer::start(&[]);
    // Without fresh dumps, which change the account (see the next test).
    let args = ["ovh://", "--set", "ovh.rate=0", "--set", "ovh.transfer_codes=true", "--set", "ovh.dumps=false"];
    let (archive, output) = export(&server, CK_FULL, "all", &args);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    let bag = gnu_extract(&archive, "all");
    assert_standard_tools_accept(&archive, &bag);

    let credentials = ["--application-key", APPLICATION_KEY, "--application-secret", APPLICATION_SECRET];
    let credentials = [&credentials[..], &["--consumer-key", CK_FULL]].concat();
    let (summary, checked) = server.crosscheck(&bag, &credentials, NOT_EXPORTED);
    assert!(checked.status.success(), "{summary:#}\n{}", all_text(&checked));
    assert!(summary["checked"].as_u64().unwrap() > 250, "{summary}");
    assert!(summary["files"].as_u64().unwrap() >= 10, "the PDFs are checked: {summary}");

    // The BIND file verbatim beside the zone's record, the transfer code, a bill's PDF.
    let zone = fs::read_to_string(bag.join("data/ovh-dns/domain/zone/example-0.com.zone")).unwrap();
    assert!(zone.contains("SOA") && zone.contains("example-0.com"), "{zone}");
    let code = fs::read_to_string(bag.join("data/ovh-domains/domain/example-0.com/authInfo.json")).unwrap();
    assert_eq!(code, "\"Transfer-example-0.com-secret\"");
    let pdf = fs::read(bag.join("data/ovh-billing/me/bill/FR00000001.pdf")).unwrap();
    assert!(pdf.starts_with(b"%PDF"));
    let bill = inventory(&bag).into_iter().find(|r| r["id"] == "/me/bill/FR00000001#pdfUrl").unwrap();
    assert_eq!(
        (bill["meta"]["route"].as_str(), bill["meta"]["field"].as_str()),
        (Some("/me/bill/FR00000001"), Some("pdfUrl"))
    );

    // A logs archive, whose URL a POST gives, checked against the sha256 its record announces.
    let logs = inventory(&bag).into_iter().find(|r| r["meta"]["method"] == "POST").expect("a logs archive");
    assert!(logs["path"].as_str().unwrap().starts_with("data/ovh-logs/dbaas/logs/"), "{logs}");
    assert!(logs["size"].as_u64().unwrap() > 0);

    // A suspended service is an exclusion naming the status and the query, not a gap.
    let excluded = exclusions(&bag);
    let suspended = reason_of(&excluded, "/domain/expired-example.net");
    assert!(suspended.contains("suspended") && suspended.contains("(460)"), "{suspended}");
    assert!(suspended.contains("X-Ovh-QueryID EU.ext-1."), "{suspended}");

    // Every API request was signed, but the clock's; the files, on another origin, were
    // fetched with no credential at all.
    let requests = server.requests();
    for request in &requests {
        let path = request["path"].as_str().unwrap_or_default();
        if path.starts_with("/1.0/") && path != "/1.0/auth/time" && request["status"] == 200 {
            assert_eq!(request["auth"], "signed", "{request}");
        }
    }
    let downloads: Vec<&Value> = requests.iter().filter(|r| r["port"] != server.port).collect();
    assert!(downloads.len() >= 10, "{} downloads", downloads.len());
    for request in downloads {
        assert_eq!(request["credentials"], Value::Array(Vec::new()), "{request}");
    }
}

/// What the official client reads, byte for byte, at every route of the fixture under
/// `prefixes`, and the PDF each of their records links to (`ROUTE#pdfUrl`).
fn official_bodies(server: &OvhServer, prefixes: &[&str]) -> std::collections::BTreeMap<Vec<u8>, Vec<u8>> {
    let script = r##"
import json, sys, ovh, requests
url, prefixes = sys.argv[1], sys.argv[2:]
client = ovh.Client(endpoint="ovh-eu", application_key="SortieTestAppKey",
                    application_secret="SortieTestAppSecret0000000000000",
                    consumer_key="SortieTestCkFullAccess0000000000")
client._endpoint = url
paths = requests.get(url.rsplit("/1.0", 1)[0] + "/_admin/paths", timeout=60).json()["paths"]
bodies = {}
for path in paths:
    if any(path == p or path.startswith(p + "/") for p in prefixes):
        answer = client.raw_call("GET", path)
        assert answer.status_code == 200, (path, answer.status_code)
        bodies[path] = answer.content.hex()
        record = answer.json()
        if isinstance(record, dict) and isinstance(record.get("pdfUrl"), str):
            bodies[path + "#pdfUrl"] = requests.get(record["pdfUrl"], timeout=60).content.hex()
print(json.dumps(bodies))
"##;
    let output = std::process::Command::new(common::ovh::python())
        .args(["-c", script, &server.endpoint()])
        .args(prefixes)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", all_text(&output));
    let bodies: std::collections::BTreeMap<String, String> = serde_json::from_slice(&output.stdout).unwrap();
    bodies.into_iter().map(|(id, hex)| (id.into_bytes(), hex::decode(hex).unwrap())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ovh_sources_pass_the_conformance_suite() {
    use sortie_sdk::item::{Item, Kind, RawName};
    use sortie_sdk::registry::ProviderFactory;
    let server = tokio::task::block_in_place(|| OvhServer::start(&[]));
    let factory = sortie_plugin_ovh::OvhFactory;
    let info = factory.info();
    let mut settings = sortie_sdk::settings::Settings::new();
    for (name, value) in [
        ("endpoint", server.endpoint().as_str()),
        ("application_key", APPLICATION_KEY),
        ("application_secret", APPLICATION_SECRET),
        ("consumer_key", CK_FULL),
        ("rate", "0"),
    ] {
        settings.set(info.setting(name).unwrap(), value).unwrap();
    }
    let prefixes = ["/me/bill", "/me/order", "/me/refund", "/me/deposit", "/me/debtAccount"];
    let bodies = tokio::task::block_in_place(|| official_bodies(&server, &prefixes));
    assert!(bodies.len() > 40 && bodies.contains_key(b"/me/bill/FR00000001#pdfUrl".as_slice()), "{}", bodies.len());
    let mut missing = Item::new(RawName::text("/me/bill/NOPE#pdfUrl"), vec![RawName::text("NOPE.pdf")], Kind::File);
    let gone = format!("http://127.0.0.1:{}/download/no-such-file.pdf", server.port);
    missing.locator = Some(serde_json::json!({"open": "linked", "url": gone}).to_string());
    let source = factory.source("ovh://billing", settings).unwrap();
    let expected = sortie_conformance::Expected { bodies, secrets: &[APPLICATION_SECRET, CK_FULL], missing };
    let items = sortie_conformance::check(&factory, source, expected).await;
    assert!(items.iter().any(|i| i.id == RawName::text("/me/bill")));
}

#[test]
fn fresh_dumps_and_pst_exports_are_started_waited_for_and_downloaded() {
    let server = OvhServer::start(&["--task-polls", "3"]);
    let (archive, output) = export(&server, CK_FULL, "dumps", &["ovh://hosting", "--set", "ovh.rate=0"]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    let bag = gnu_extract(&archive, "dumps");
    // The account is the NIC handle `/me` gives (the fixture's).
    assert_eq!(report(&bag)["sources"][0]["account"], "nichandle xx1111-ovh");
    let fresh: Vec<Value> =
        inventory(&bag).into_iter().filter(|r| r["id"].as_str().unwrap().ends_with("#dump")).collect();
    let ids: Vec<&str> = fresh.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert!(ids.contains(&"/hosting/privateDatabase/sql-1/database/app#dump"), "{ids:?}");
    assert!(ids.contains(&"/hosting/web/hosting-1.cluster.example/database/db1#dump"), "{ids:?}");
    for record in &fresh {
        let path = record["path"].as_str().unwrap();
        assert!(path.ends_with(".sql.gz") && record["size"].as_u64().unwrap() > 1000, "{record}");
        assert!(fs::read(bag.join(path)).unwrap().starts_with(&[0x1f, 0x8b]), "{path} is gzip");
    }
    // Each dump was started (POST), its task polled until done.
    let requests = server.requests();
    let posts = requests.iter().filter(|r| r["method"] == "POST" && r["path"].as_str().unwrap().ends_with("/dump"));
    assert_eq!(posts.count(), fresh.len());
    assert!(requests.iter().any(|r| r["path"].as_str().unwrap().contains("/tasks/")));

    // The official client reads the same files at the dumps' URLs; the dump lists have grown
    // since they were listed, by the dumps this export made (ids from 2000 on).
    let (summary, _) = server.crosscheck(&bag, &[], &["^/(?!hosting/)", "/tasks(/\\d+)?$", "/dump/2\\d{3}$"]);
    assert!(summary["files"].as_u64().unwrap() >= fresh.len() as u64, "{summary:#}");
    assert_eq!(summary["missing"], Value::Array(Vec::new()), "{summary:#}");
    assert_eq!(summary["mismatches"], Value::Array(Vec::new()), "{summary:#}");
    for stale in summary["stale"].as_array().into_iter().flatten() {
        assert!(stale.as_str().unwrap().ends_with("/dump"), "{summary:#}");
    }

    // Exchange mailboxes: a PST export of each, its task and its URL's task polled.
    let (archive, output) = export(&server, CK_FULL, "mail", &["ovh://email", "--set", "ovh.rate=0"]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    let bag = gnu_extract(&archive, "mail");
    let service = "data/ovh-email/email/exchange/hosted-xx11111-1/service/hosted-xx11111-1/account";
    for mailbox in ["alice@example-0.com", "bob@example-0.com"] {
        let pst = fs::read(bag.join(format!("{service}/{mailbox}.pst"))).unwrap();
        assert!(pst.starts_with(b"!BDN"), "{mailbox}");
    }
    let (summary, _) = server.crosscheck(&bag, &[], &["^/(?!email/)", "/task(/\\d+)?$", "/export(URL)?$"]);
    assert!(summary["files"].as_u64().unwrap() >= 2, "{summary:#}");
    assert_eq!(summary["mismatches"], Value::Array(Vec::new()), "{summary:#}");
}

/// The test server whose Public Cloud project's object storage is `s3`'s bucket
/// `ovh-project-bucket`.
fn with_project_storage(s3: &common::s3_server::S3Server) -> OvhServer {
    OvhServer::start(&[
        "--s3-endpoint",
        &s3.endpoint,
        "--s3-access-key",
        &s3.access_key,
        "--s3-secret-key",
        &s3.secret_key,
        "--s3-bucket",
        "ovh-project-bucket",
    ])
}

#[test]
fn public_cloud_object_storage_is_handed_to_the_s3_provider_in_memory() {
    let s3 = common::s3_server::S3Server::start("moto");
    let objects: std::collections::BTreeMap<Vec<u8>, Vec<u8>> =
        [(b"a.txt".to_vec(), b"alpha\n".to_vec()), (b"dir/b.bin".to_vec(), common::noise(70_000, 3))].into();
    s3.put_objects("ovh-project-bucket", &objects);
    let server = with_project_storage(&s3);
    let plan = server.sortie(CK_FULL, &["plan", "ovh://cloud", "--json"]);
    assert_eq!(code(&plan), 0, "{}", all_text(&plan));
    let text = common::stdout(&plan);
    assert!(text.contains("s3://ovh-project-bucket"), "{text}");
    assert!(!text.contains(&s3.secret_key), "a plan holds no secret: {text}");

    let (archive, output) = export(&server, CK_FULL, "cloud", &["ovh://cloud", "--set", "ovh.rate=0"]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    assert!(!all_text(&output).contains(&s3.secret_key));
    let bag = gnu_extract(&archive, "cloud");
    for (key, body) in &objects {
        let path = bag.join("data/s3-ovh-project-bucket").join(String::from_utf8_lossy(key).as_ref());
        assert_eq!(&fs::read(&path).unwrap(), body, "{}", path.display());
    }
    assert!(bag.join("data/ovh-cloud/cloud/project.json").exists());
    assert_nowhere(&bag, &s3.secret_key);
    let secret_asked = server.requests().iter().filter(|r| r["path"].as_str().unwrap().ends_with("/secret")).count();
    assert!(secret_asked >= 1);
}

#[test]
fn object_storage_not_handed_over_is_in_the_report_never_a_silent_gap() {
    let s3 = common::s3_server::S3Server::start("moto");
    s3.put_objects("ovh-project-bucket", &[(b"a.txt".to_vec(), b"alpha\n".to_vec())].into());
    let server = with_project_storage(&s3);
    let project = "/cloud/project/5f0c3b1e9a7d4c2b8e6f1a0d3c5b7e9f";
    // The users' list suspended (460): the object storage is an exclusion saying so.
    server.fault("460", 1, "^GET /1.0/cloud/project/[^/]+/user$");
    let (archive, output) = export(&server, CK_FULL, "no-users", &["ovh://cloud", "--set", "ovh.rate=0"]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    let bag = gnu_extract(&archive, "no-users");
    let reason = reason_of(&exclusions(&bag), &format!("{project}#objectStorage")).to_owned();
    assert!(reason.contains("(460)") && reason.contains("X-Ovh-QueryID"), "{reason}");

    // The secret never given (503 after the retries): a failure, the export incomplete.
    server.admin("DELETE", "/_admin/faults", "");
    server.fault("503", 1000, "^POST /1.0/cloud/project/[^/]+/user/[^/]+/s3Credentials/[^/]+/secret$");
    let (archive, output) =
        export(&server, CK_FULL, "no-secret", &["ovh://cloud", "--set", "ovh.rate=0", "--retries", "0"]);
    assert_eq!(code(&output), 3, "{}", all_text(&output));
    let bag = gnu_extract(&archive, "no-secret");
    let failures = report(&bag)["failures"].as_array().cloned().unwrap();
    let reason = reason_of(&failures, &format!("{project}#objectStorage"));
    assert!(reason.contains("503") && reason.contains("X-Ovh-QueryID"), "{reason}");
    assert!(!bag.join("data/s3-ovh-project-bucket").exists());

    // The projects not listed at all: the other sources are exported, the export incomplete.
    server.admin("DELETE", "/_admin/faults", "");
    server.fault("503", 1000, "^GET /1.0/cloud/project$");
    let sources = ["ovh://cloud", "ovh://services", "--set", "ovh.rate=0", "--retries", "0"];
    let (archive, output) = export(&server, CK_FULL, "no-projects", &sources);
    assert_eq!(code(&output), 3, "{}", all_text(&output));
    let bag = gnu_extract(&archive, "no-projects");
    let failures = report(&bag)["failures"].as_array().cloned().unwrap();
    assert!(reason_of(&failures, "/cloud/project").contains("503"), "{failures:#?}");
    assert!(bag.join("data/ovh-services/services.json").exists());
}

#[test]
fn no_secret_in_the_archive_the_report_the_plan_or_the_log_at_vv() {
    let s3 = common::s3_server::S3Server::start("moto");
    s3.put_objects("ovh-project-bucket", &[(b"a.txt".to_vec(), b"alpha\n".to_vec())].into());
    let server = with_project_storage(&s3);
    let archive = server.dir.path().join("secrets.tar.zst");
    let endpoint = server.endpoint();
    let env = [("OVH_ENDPOINT", endpoint.as_str()), ("OVH_CLIENT_ID", CLIENT_ID), ("OVH_CLIENT_SECRET", CLIENT_SECRET)];
    let plan = server.sortie_with(&env, &["plan", "ovh://", "--json", "-vv", "--set", "ovh.rate=0"]);
    assert_eq!(code(&plan), 0, "{}", all_text(&plan));
    let export = ["export", "ovh://", "-vv", "--set", "ovh.rate=0", "-o", archive.to_str().unwrap()];
    let output = server.sortie_with(&env, &export);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    let bag = gnu_extract(&archive, "secrets");
    assert!(bag.join("data/s3-ovh-project-bucket/a.txt").exists(), "the object storage was exported");
    // The client secret, the bearer tokens (the server's start with eyJ0ZXN0), the delegated S3
    // secret, and the transfer codes, not asked for.
    let secrets = [CLIENT_SECRET, "eyJ0ZXN0", s3.secret_key.as_str(), "Transfer-example-"];
    for secret in secrets {
        for (what, text) in [("the plan", all_text(&plan)), ("the export's output", all_text(&output))] {
            assert!(!text.contains(secret), "{secret} in {what}");
        }
        assert_nowhere(&bag, secret);
        assert_nowhere(server.dir.path(), secret);
    }
}

#[test]
fn transfer_codes_stay_out_unless_asked_for_and_the_report_says_so() {
    let server = OvhServer::start(&[]);
    let (archive, output) = export(&server, CK_FULL, "domains", &["ovh://domains", "--set", "ovh.rate=0", "-vv"]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    // Every request is logged at -vv, never a key.
    let log = all_text(&output);
    assert!(log.contains("GET http://127.0.0.1:"), "{log}");
    for secret in [APPLICATION_SECRET, CK_FULL] {
        assert!(!log.contains(secret), "{secret} in the log");
    }
    let bag = gnu_extract(&archive, "domains");
    let reason = reason_of(&exclusions(&bag), "/domain/example-1.com/authInfo").to_owned();
    assert!(reason.contains("ovh.transfer_codes=true"), "{reason}");
    assert_nowhere(&bag, "Transfer-example-1.com-secret");
    assert!(server.requests().iter().all(|r| !r["path"].as_str().unwrap_or_default().ends_with("/authInfo")));
}

#[test]
fn routes_not_granted_are_exclusions_and_the_export_is_complete() {
    let server = OvhServer::start(&[]);
    let (archive, output) =
        export(&server, CK_DOMAINS_ONLY, "granted", &["ovh://domains", "ovh://billing", "--set", "ovh.rate=0"]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    let bag = gnu_extract(&archive, "granted");
    let reason = reason_of(&exclusions(&bag), "/me/bill").to_owned();
    assert!(reason.contains("NOT_GRANTED_CALL") && reason.contains("X-Ovh-QueryID"), "{reason}");
    assert!(bag.join("data/ovh-domains/domain/example-0.com.json").exists());
}

/// A consumer key with `rules` (`[{"method","path"}]`), asked for and validated.
fn key_with_rules(server: &OvhServer, rules: Value) -> String {
    let script = r#"
import json, sys, requests
answer = requests.post(sys.argv[1] + "/auth/credential", headers={"X-Ovh-Application": "SortieTestAppKey"},
                       json={"accessRules": json.loads(sys.argv[2])}, timeout=60)
answer.raise_for_status()
print(answer.json()["consumerKey"])
"#;
    let output = std::process::Command::new(common::ovh::python())
        .args(["-c", script, &server.endpoint(), &rules.to_string()])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", all_text(&output));
    let key = common::stdout(&output).trim().to_owned();
    server.admin("POST", "/_admin/validate", &serde_json::json!({"consumerKey": key}).to_string());
    key
}

#[test]
fn a_key_that_may_only_read_leaves_out_fresh_dumps_and_pst_files_saying_why() {
    let server = OvhServer::start(&[]);
    let key = key_with_rules(&server, serde_json::json!([{"method": "GET", "path": "/*"}]));
    let (archive, output) =
        export(&server, &key, "read-only", &["ovh://hosting", "ovh://email", "--set", "ovh.rate=0"]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    let bag = gnu_extract(&archive, "read-only");
    let excluded = exclusions(&bag);
    for id in
        ["/hosting/privateDatabase/sql-1/database/app#dump", "/hosting/web/hosting-1.cluster.example/database/db1#dump"]
    {
        let reason = reason_of(&excluded, id);
        assert!(reason.contains("POST") && reason.contains("sortie ovh credential"), "{reason}");
    }
    let pst = "/email/exchange/hosted-xx11111-1/service/hosted-xx11111-1/account/alice@example-0.com#pst";
    assert!(reason_of(&excluded, pst).contains("POST"), "{excluded:#?}");
    // The dumps already there are archived all the same.
    assert!(inventory(&bag).iter().any(|r| r["id"].as_str().unwrap().contains("/database/app/dump/")));
}

#[test]
fn a_route_failing_mid_export_is_retried_then_named_as_a_failure() {
    let server = OvhServer::start(&[]);
    server.fault("503", 2, "^GET /1.0/me/bill/FR00000002$");
    server.fault("cut", 1, "^GET /1.0/me/bill/FR00000003$");
    let (_, output) = export(&server, CK_FULL, "retried", &["ovh://billing", "--set", "ovh.rate=0"]);
    assert_eq!(code(&output), 0, "transient faults are retried: {}", all_text(&output));

    server.fault("503", 1000, "^GET /1.0/me/bill/FR00000004$");
    let (archive, output) =
        export(&server, CK_FULL, "failing", &["ovh://billing", "--set", "ovh.rate=0", "--retries", "2"]);
    assert_eq!(code(&output), 3, "{}", all_text(&output));
    let bag = gnu_extract(&archive, "failing");
    let failures = report(&bag)["failures"].as_array().cloned().unwrap();
    let reason = reason_of(&failures, "/me/bill/FR00000004");
    assert!(
        reason.contains("503") && reason.contains("X-Ovh-QueryID") && reason.contains("gave up after 3"),
        "{reason}"
    );
    assert!(bag.join("data/ovh-billing/me/bill/FR00000005.json").exists(), "the walk goes on after a failure");
}

#[test]
fn hostile_ids_and_answers_stay_inside_the_bag_and_bounded() {
    let server = OvhServer::start(&["--hostile-ids"]);
    // A 1 GiB answer is cut at the bound, an HTML page where JSON was due is named.
    server.fault("huge", 1, "^GET /1.0/email/domain/example-0.com/responder$");
    server.fault("garbage", 1, "^GET /1.0/email/domain/example-0.com/mailingList$");
    let (archive, output) =
        export(&server, CK_FULL, "hostile", &["ovh://email", "--set", "ovh.rate=0", "--retries", "0"]);
    assert_eq!(code(&output), 3, "{}", all_text(&output));
    let bag = gnu_extract(&archive, "hostile");
    assert_standard_tools_accept(&archive, &bag);
    let failures = report(&bag)["failures"].as_array().cloned().unwrap();
    let huge = reason_of(&failures, "/email/domain/example-0.com/responder");
    assert!(huge.contains("is over 4194304 bytes"), "{huge}");
    let garbage = reason_of(&failures, "/email/domain/example-0.com/mailingList");
    assert!(garbage.contains("is not JSON"), "{garbage}");
    // `..` and `.` in an id list: no URL names them (it would name the route above), so they
    // are failures of their own, and the walk goes on.
    for dots in ["..", "."] {
        let failure = reason_of(&failures, &format!("/email/domain/example-0.com/redirection/{dots}"));
        assert!(failure.contains("no URL can name"), "{failure}");
    }
    assert!(!Path::new("/tmp/escape.json").exists());
    // Every hostile id is archived under a path inside the bag, its id kept exactly.
    let redirections: Vec<Value> = inventory(&bag)
        .into_iter()
        .filter(|r| r["id"].as_str().is_some_and(|id| id.starts_with("/email/domain/example-0.com/redirection/")))
        .collect();
    assert!(redirections.len() >= 6, "{redirections:#?}");
    for record in &redirections {
        let path = record["path"].as_str().unwrap();
        assert!(path.starts_with("data/ovh-email/email/domain/example-0.com/redirection/"), "{path}");
        assert!(!path.split('/').any(|segment| segment == ".."), "{path}");
        assert!(bag.join(path).is_file(), "{path}");
    }
}

#[test]
fn oauth2_tokens_are_renewed_when_they_expire_mid_export() {
    let server = OvhServer::start(&["--token-ttl", "2"]);
    let archive = server.dir.path().join("oauth.tar.zst");
    let endpoint = server.endpoint();
    let env = [("OVH_ENDPOINT", endpoint.as_str()), ("OVH_CLIENT_ID", CLIENT_ID), ("OVH_CLIENT_SECRET", CLIENT_SECRET)];
    let args = [
        "export",
        "ovh://dns",
        "ovh://services",
        "ovh://billing",
        "--set",
        "ovh.rate=25",
        "-o",
        archive.to_str().unwrap(),
    ];
    let output = server.sortie_with(&env, &args);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    let requests = server.requests();
    let tokens = requests.iter().filter(|r| r["path"] == "/auth/oauth2/token").count();
    let api: Vec<&Value> =
        requests.iter().filter(|r| r["path"].as_str().unwrap_or_default().starts_with("/1.0/")).collect();
    assert!(api.len() > 60, "{} API requests", api.len());
    assert!(tokens >= 2, "the export outlived its first token: {tokens} tokens asked for");
    assert!(api.iter().all(|r| r["auth"] == "oauth2" && r["status"] != 401), "{api:#?}");
    let downloads: Vec<&Value> = requests.iter().filter(|r| r["port"] != server.port).collect();
    assert!(!downloads.is_empty());
    assert!(downloads.iter().all(|r| r["credentials"] == Value::Array(Vec::new())), "{downloads:#?}");
    let bag = gnu_extract(&archive, "oauth");
    assert_nowhere(&bag, CLIENT_SECRET);
}

#[test]
fn the_api_clock_is_followed_and_the_rate_limit_kept() {
    // The API's clock an hour ahead: signatures are timed by /auth/time, not by this machine.
    // The server answers 429 past 5 requests in any second; the client sends 4 a second.
    let server = OvhServer::start(&["--clock-offset", "3600", "--rate-limit", "5"]);
    let (_, output) = export(&server, CK_FULL, "clock", &["ovh://services", "--set", "ovh.rate=4"]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    let requests = server.requests();
    assert!(requests.iter().all(|r| r["status"] != 429), "the client kept under 5 requests/s");
    let times: Vec<f64> =
        requests.iter().filter(|r| r["auth"] == "signed").map(|r| r["time"].as_f64().unwrap()).collect();
    assert!(times.len() > 30, "{} signed requests", times.len());
    for (i, start) in times.iter().enumerate() {
        let in_a_second = times[i..].iter().take_while(|t| **t < start + 1.0).count();
        assert!(in_a_second <= 5, "{in_a_second} requests within a second from {start}");
    }

    // Without the client's limit, the server's 429s (Retry-After: 1) are waited out.
    let (_, output) = export(&server, CK_FULL, "throttled", &["ovh://services", "--set", "ovh.rate=0"]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    assert!(server.requests().iter().any(|r| r["status"] == 429), "the server throttled");
}

#[test]
fn a_clock_that_jumps_mid_export_is_read_again_from_the_api() {
    // The API's clock jumps an hour ahead once the export is under way (this machine's clock
    // stepped back, as after a suspend or an NTP correction): a refused timestamp (400
    // QUERY_TIME_OUT) has the client read /auth/time again, and the export goes on.
    let server = OvhServer::start(&[]);
    let admin = std::thread::scope(|scope| {
        let jump = scope.spawn(|| {
            std::thread::sleep(std::time::Duration::from_millis(1500));
            server.admin("POST", "/_admin/config", r#"{"clock_offset": 3600}"#)
        });
        let output = export(&server, CK_FULL, "jump", &["ovh://billing", "--set", "ovh.rate=20"]).1;
        jump.join().unwrap();
        output
    });
    assert_eq!(code(&admin), 0, "{}", all_text(&admin));
    let requests = server.requests();
    let refused = requests.iter().filter(|r| r["status"] == 400).count();
    let clocks = requests.iter().filter(|r| r["path"] == "/1.0/auth/time").count();
    assert!(refused >= 1 && clocks >= 2, "{refused} refused, {clocks} reads of the clock");
}

#[test]
fn sortie_ovh_credential_asks_for_a_key_that_works_once_validated() {
    let server = OvhServer::start(&[]);
    let endpoint = server.endpoint();
    let env = [("OVH_ENDPOINT", endpoint.as_str()), ("OVH_APPLICATION_KEY", APPLICATION_KEY)];
    let output = server.sortie_with(&env, &["ovh", "credential", "--json"]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    let asked: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(asked["state"], "pendingValidation");
    assert!(asked["validation_url"].as_str().unwrap().starts_with("http"), "{asked}");
    let key = asked["consumer_key"].as_str().unwrap().to_owned();

    let text = server.sortie_with(&env, &["ovh", "credential"]);
    // A 1 GiB answer is not read whole (bounded memory whatever the endpoint answers).
    server.fault("huge", 1, "^POST /1.0/auth/credential$");
    let huge = server.sortie_with(&env, &["ovh", "credential"]);
    assert_eq!(code(&huge), 1, "{}", all_text(&huge));
    assert!(common::stderr(&huge).contains("is over 4194304 bytes"), "{}", all_text(&huge));
    assert!(common::stdout(&text).contains("export OVH_CONSUMER_KEY="), "{}", all_text(&text));

    let (archive, output) = export(&server, &key, "pending", &["ovh://services", "--set", "ovh.rate=0"]);
    assert_eq!(code(&output), 1, "{}", all_text(&output));
    assert!(common::stderr(&output).contains("validation"), "{}", all_text(&output));
    assert!(!archive.exists());

    // Once validated, its rules are all an export needs, the POSTs of dumps, PST exports and
    // logs archives included.
    server.admin("POST", "/_admin/validate", &serde_json::json!({"consumerKey": key}).to_string());
    let sources = ["ovh://services", "ovh://hosting", "ovh://email", "ovh://logs", "--set", "ovh.rate=0"];
    let (archive, output) = export(&server, &key, "validated", &sources);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    let bag = gnu_extract(&archive, "validated");
    assert!(exclusions(&bag).iter().all(|e| !e["reason"].as_str().unwrap().contains("NOT_GRANTED_CALL")));
    let made = inventory(&bag).into_iter().filter(|r| r["id"].as_str().unwrap().ends_with("#pst")).count();
    assert_eq!(made, 2, "the PST files were exported with the key's rights");
}

#[test]
fn bad_credentials_and_endpoints_are_refused_naming_the_key_never_a_secret() {
    let server = OvhServer::start(&[]);
    let endpoint = server.endpoint();
    let archive = server.dir.path().join("bad.tar.zst");
    let out = archive.to_str().unwrap();
    let run = |env: &[(&str, &str)]| server.sortie_with(env, &["export", "ovh://services", "-o", out]);
    let signed = |secret: &'static str, ck: &'static str| {
        vec![
            ("OVH_ENDPOINT", endpoint.clone()),
            ("OVH_APPLICATION_KEY", APPLICATION_KEY.to_owned()),
            ("OVH_APPLICATION_SECRET", secret.to_owned()),
            ("OVH_CONSUMER_KEY", ck.to_owned()),
        ]
    };
    // The environment, the exit code, what the message says.
    type Case<'a> = (Vec<(&'a str, String)>, i32, &'a str);
    let cases: Vec<Case> = vec![
        (signed("WrongSecretWrongSecretWrong00000", CK_FULL), 1, "signature of application key 'SortieTestAppKey'"),
        (signed(APPLICATION_SECRET, "UnknownCkUnknownCk00000000000000"), 1, "consumer key of application key"),
        (signed(APPLICATION_SECRET, CK_PENDING), 1, "still waits for its validation"),
        (signed(APPLICATION_SECRET, CK_NO_ME), 1, "nothing can be exported without reading the account (/me)"),
        (vec![("OVH_ENDPOINT", "ovh-mars".to_owned())], 2, "'ovh-mars' is no OVH endpoint"),
        (
            vec![("OVH_ENDPOINT", endpoint.clone()), ("OVH_APPLICATION_KEY", APPLICATION_KEY.to_owned())],
            2,
            "the application secret of application key 'SortieTestAppKey' is not given",
        ),
        (
            signed(APPLICATION_SECRET, "").into_iter().filter(|(k, _)| *k != "OVH_CONSUMER_KEY").collect(),
            2,
            "sortie ovh credential",
        ),
        (
            vec![
                ("OVH_ENDPOINT", endpoint.clone()),
                ("OVH_APPLICATION_KEY", "NoSuchAppKey".to_owned()),
                ("OVH_APPLICATION_SECRET", APPLICATION_SECRET.to_owned()),
                ("OVH_CONSUMER_KEY", CK_FULL.to_owned()),
            ],
            1,
            "application key 'NoSuchAppKey' at",
        ),
    ];
    for (env, expected_code, expected) in cases {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let output = run(&env);
        let text = all_text(&output);
        assert_eq!(code(&output), expected_code, "{env:?}: {text}");
        assert!(text.contains(expected), "{env:?}: {text}");
        for secret in [APPLICATION_SECRET, CK_FULL, CK_PENDING, CK_NO_ME, "WrongSecretWrongSecretWrong00000"] {
            assert!(!text.contains(secret), "{env:?}: a secret shown: {text}");
        }
        assert!(!archive.exists(), "{env:?}: an archive was left");
    }
}
