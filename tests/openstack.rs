//! The Swift provider against a real OpenStack object store: Keystone v3 and Swift (with
//! authtoken + keystoneauth), and Swift with tempauth, started by tests/servers/openstack.
//! What is archived is compared with direct GETs by python-swiftclient
//! (tests/servers/swift_tools.py check).

mod common;

use std::fs;
use std::path::Path;

use common::openstack::{OpenStack, Tenant, run_tools, sortie_with};
use common::{all_text, assert_standard_tools_accept, code, gnu_extract, inventory, report};
use serde_json::Value;
use sortie_sdk::ProviderFactory;

fn record<'a>(records: &'a [Value], source: &str, id: &str, kind: &str) -> &'a Value {
    records
        .iter()
        .find(|r| r["source"] == source && r["id"] == id && r["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} {id} in {source}"))
}

fn export(
    dir: &Path,
    name: &str,
    env: &[(String, String)],
    args: &[&str],
) -> (std::path::PathBuf, std::process::Output) {
    let archive = dir.join(format!("{name}.tar.zst"));
    let mut all = vec!["export"];
    all.extend(args);
    all.extend(["-o", archive.to_str().unwrap()]);
    (archive.clone(), sortie_with(dir, env, &all))
}

#[test]
fn keystone_password_whole_project_is_archived_as_swift_serves_it() {
    let stack = OpenStack::shared();
    let tenant = stack.tenant("whole");
    tenant.tools(&["seed"]);
    let dir = tempfile::tempdir().unwrap();
    // A small page forces the 2,600-object container through six pages.
    let (archive, output) = export(dir.path(), "all", &tenant.password_env(), &["swift://", "--list-page-size", "500"]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    assert!(!all_text(&output).contains(&tenant.password));
    assert_eq!(code(&common::run(&["verify", archive.to_str().unwrap()])), 0);
    let bag = gnu_extract(&archive, "all");
    assert_standard_tools_accept(&archive, &bag);
    let checked =
        tenant.tools(&["check", bag.to_str().unwrap(), "docs,docs_segments,many,history,legacy,legacy-archive"]);
    let checked: Value = serde_json::from_slice(&checked.stdout).unwrap();
    // 2,600 + docs (12 objects) + history (3 versions, 1 earlier removed.txt) + legacy and
    // its archive (1 + 2).
    assert_eq!(checked["objects"], 2600 + 12 + 4 + 3, "{checked}");
    assert_eq!(checked["segments"], 6, "{checked}");

    let all = inventory(&bag);
    assert!(!fs::read_to_string(bag.join("sortie/inventory.jsonl")).unwrap().contains(&tenant.password));
    // Hard names.
    assert_eq!(record(&all, "swift-docs", "a", "object")["path"], "data/swift-docs/a^!");
    assert_eq!(record(&all, "swift-docs", "a/b", "object")["path"], "data/swift-docs/a/b");
    assert_eq!(record(&all, "swift-docs", "folder/", "object")["path"], "data/swift-docs/folder/^");
    assert_eq!(record(&all, "swift-docs", "x//y", "object")["path"], "data/swift-docs/x/^/y");
    assert_eq!(record(&all, "swift-docs", "empty", "object")["size"], 0);
    // Metadata from the GET.
    let readme = record(&all, "swift-docs", "readme.txt", "object");
    assert_eq!(readme["meta"]["metadata"]["color"], "blue");
    assert_eq!(readme["etag_verified"], true);
    let gz = record(&all, "swift-docs", "report.csv.gz", "object");
    assert_eq!(gz["meta"]["headers"]["content-encoding"], "gzip");
    assert!(gz["meta"]["headers"]["x-delete-at"].is_string(), "{gz}");
    // Large objects: assembled, checked per segment, manifests kept, segments not twice.
    let slo = record(&all, "swift-docs", "big/slo", "object");
    assert_eq!(slo["size"], 2 * 1024 * 1024 + 12345);
    assert_eq!(slo["etag_verified"], true, "{slo}");
    assert_eq!(slo["meta"]["segments"], 3);
    let manifest = record(&all, "swift-docs", "big/slo", "config");
    assert_eq!(manifest["path"], "data/swift-docs/_config/slo-manifests/big/slo");
    let dlo = record(&all, "swift-docs", "big/dlo", "object");
    assert_eq!(dlo["size"], 32 * (1000 + 1001 + 1002));
    assert_eq!(dlo["meta"]["object_manifest"], "docs_segments/dlo/part-");
    assert_eq!(dlo["etag_verified"], true, "{dlo}");
    // Each records the ETag Swift serves for it (an MD5 of its segments' MD5s).
    assert_eq!(dlo["etag"], dlo["meta"]["headers"]["etag"], "{dlo}");
    assert_eq!(slo["etag"], slo["meta"]["headers"]["etag"], "{slo}");
    let exclusions = &report(&bag)["exclusions"];
    assert_eq!(exclusions.as_array().unwrap().len(), 6, "{exclusions}");
    assert!(exclusions[0]["reason"].as_str().unwrap().contains("a segment of the large object docs/big/"));
    // Versions: three of report.txt, a delete marker for removed.txt, the older-style
    // history container archived as it is.
    let versions: Vec<&Value> =
        all.iter().filter(|r| r["source"] == "swift-history" && r["id"] == "report.txt").collect();
    assert_eq!(versions.len(), 3);
    assert!(versions.iter().any(|r| r["path"] == "data/swift-history/report.txt"));
    assert_eq!(fs::read(bag.join("data/swift-history/report.txt")).unwrap(), b"report version 3\n");
    record(&all, "swift-history", "removed.txt", "delete-marker");
    // Container and account descriptions, without their secrets.
    let docs: Value =
        serde_json::from_slice(&fs::read(bag.join("data/swift-docs/_config/container.json")).unwrap()).unwrap();
    assert_eq!(docs["headers"]["x-container-read"], ".r:*,.rlistings");
    assert_eq!(docs["headers"]["x-container-meta-owner"], "accounting");
    assert!(!docs.to_string().contains("container-secret-key"), "{docs}");
    let many: Value =
        serde_json::from_slice(&fs::read(bag.join("data/swift-many/_config/container.json")).unwrap()).unwrap();
    assert_eq!(many["headers"]["x-container-write"], "sortie:*");
    assert_eq!(many["headers"]["x-container-meta-purpose"], "bulk");
    let history: Value =
        serde_json::from_slice(&fs::read(bag.join("data/swift-history/_config/container.json")).unwrap()).unwrap();
    assert_eq!(history["headers"]["x-versions-enabled"], "True");
    assert!(bag.join("data/swift/_config/account.json").is_file());
    // Every source names the account its token speaks for: user and project, never the
    // password or the token.
    let (user, project) = (&tenant.user, format!("project {} ({})", tenant.project, tenant.project_id));
    for source in report(&bag)["sources"].as_array().unwrap() {
        let account = source["account"].as_str().unwrap_or_else(|| panic!("no account: {source}"));
        assert!(account.starts_with(&format!("user {user} (")) && account.ends_with(&project), "{account}");
        assert!(!account.contains(&tenant.password), "{account}");
    }
}

#[test]
fn application_credential_from_clouds_yaml_token_and_include_segments() {
    let stack = OpenStack::shared();
    let tenant = stack.tenant("appcred");
    tenant.tools(&["slo", "big", "file.bin", "big_segments", "70000", "80000"]);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join(".config/openstack");
    fs::create_dir_all(&config).unwrap();
    fs::write(
        config.join("clouds.yaml"),
        format!(
            "clouds:\n  test:\n    auth_type: v3applicationcredential\n    auth:\n      auth_url: {}\n      \
             application_credential_id: {}\n      application_credential_secret: {}\n    region_name: RegionOne\n",
            tenant.keystone, tenant.credential_id, tenant.credential_secret
        ),
    )
    .unwrap();
    let env = vec![("OS_CLOUD".to_owned(), "test".to_owned())];
    let (archive, output) = export(dir.path(), "segments", &env, &["swift://", "--include-segments"]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    assert!(!all_text(&output).contains(&tenant.credential_secret));
    let bag = gnu_extract(&archive, "segments");
    tenant.tools(&["check", bag.to_str().unwrap(), "big,big_segments", "--include-segments"]);
    assert!(bag.join("data/swift-big_segments/file.bin/seg/00000001").is_file());
    // An existing token, re-scoped to the project by id.
    let token = vec![
        ("OS_AUTH_URL".to_owned(), format!("{}/v3", tenant.keystone)),
        ("OS_AUTH_TYPE".to_owned(), "v3token".to_owned()),
        ("OS_TOKEN".to_owned(), tenant.token()),
        ("OS_PROJECT_ID".to_owned(), tenant.project_id.clone()),
    ];
    let (_, output) = export(dir.path(), "token", &token, &["swift://big"]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    // Without the flag, exporting the container alone keeps the assembled object only.
    let (archive, output) = export(dir.path(), "one", &env, &["swift://big"]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    let bag = gnu_extract(&archive, "one");
    assert_eq!(fs::metadata(bag.join("data/swift-big/file.bin")).unwrap().len(), 150_000);
    assert!(!bag.join("data/swift-big_segments").exists());
}

#[test]
fn tempauth_swift_only_cluster() {
    let stack = OpenStack::shared();
    let env = stack.tempauth_env();
    run_tools(&env, &["many", "tempauth-data", "40", "3000"]);
    let dir = tempfile::tempdir().unwrap();
    let (archive, output) = export(dir.path(), "tempauth", &env, &["swift://tempauth-data"]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    let bag = gnu_extract(&archive, "tempauth");
    let url = report(&bag)["sources"][0]["url"].as_str().unwrap().to_owned();
    assert!(url.starts_with("swift://tempauth-data at http") && url.ends_with("/v1/AUTH_test"), "{url}");
    run_tools(&env, &["check", bag.to_str().unwrap(), "tempauth-data"]);
    assert_eq!(report(&bag)["sources"][0]["account"], "user test:tester");
    let mut wrong = env.clone();
    wrong[2].1 = "not-the-key".into();
    let (_, output) = export(dir.path(), "refused", &wrong, &["swift://tempauth-data"]);
    assert_eq!(code(&output), 1, "{}", all_text(&output));
    assert!(all_text(&output).contains("user 'test:tester'"), "{}", all_text(&output));
    assert!(!all_text(&output).contains("not-the-key"));
}

#[test]
fn a_damaged_or_missing_segment_fails_its_large_object_only() {
    let stack = OpenStack::shared();
    let tenant = stack.tenant("damaged");
    tenant.tools(&["slo", "c", "damaged.bin", "c_segments", "100000", "100000", "5000"]);
    tenant.tools(&["slo", "c", "missing.bin", "c_segments", "100000", "100000"]);
    tenant.tools(&["slo", "c", "fine.bin", "c_segments", "1000", "2000"]);
    tenant.tools(&["dlo", "c", "orphan.dlo", "never-created/parts/"]);
    // The manifest keeps the old segment MD5 while the segment's bytes change in place
    // (same size), as a bit rot or a careless overwrite would.
    let dir = tempfile::tempdir().unwrap();
    let other = dir.path().join("other");
    fs::write(&other, vec![b'z'; 100_000]).unwrap();
    tenant.tools(&["put", "c_segments", "damaged.bin/seg/00000001", other.to_str().unwrap()]);
    tenant.tools(&["delete", "c_segments", "missing.bin/seg/00000000"]);
    let (archive, output) = export(dir.path(), "damaged", &tenant.password_env(), &["swift://c", "--retries", "1"]);
    assert_eq!(code(&output), 3, "{}", all_text(&output));
    let bag = gnu_extract(&archive, "damaged");
    assert_eq!(common::bag_info(&bag, "Sortie-Complete").as_deref(), Some("false"));
    let failures = report(&bag)["failures"].clone();
    let failure = |id: &str| {
        failures
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["id"] == id)
            .unwrap_or_else(|| panic!("{id}: {failures}"))
            .clone()
    };
    let damaged = failure("damaged.bin")["error"].as_str().unwrap().to_owned();
    // Swift itself refuses to serve a segment whose ETag no longer matches the manifest and
    // cuts the body; Sortie names the segment the body stopped at.
    assert!(damaged.contains("segment 2 of 3 (/c_segments/damaged.bin/seg/00000001)"), "{damaged}");
    let missing = failure("missing.bin")["error"].as_str().unwrap().to_owned();
    assert!(missing.contains("segment 1 of 2 (/c_segments/missing.bin/seg/00000000) is missing"), "{missing}");
    // A DLO whose segment container does not exist fails alone; the listing goes on.
    let orphan = failure("orphan.dlo")["error"].as_str().unwrap().to_owned();
    assert!(orphan.contains("listing its DLO segments (never-created/parts/)"), "{orphan}");
    assert_eq!(fs::metadata(bag.join("data/swift-c/fine.bin")).unwrap().len(), 3000);
    assert!(!bag.join("data/swift-c/damaged.bin").exists());
    assert!(bag.join("data/swift-c/_config/slo-manifests/damaged.bin").is_file(), "the manifest is kept");
}

#[test]
fn bad_credentials_projects_and_regions_are_named_without_secrets() {
    let stack = OpenStack::shared();
    let tenant = stack.tenant("bad");
    let dir = tempfile::tempdir().unwrap();
    let with = |changes: &[(&str, &str)]| {
        let mut env = tenant.password_env();
        for (key, value) in changes {
            env.retain(|(k, _)| k != key);
            if !value.is_empty() {
                env.push(((*key).to_owned(), (*value).to_owned()));
            }
        }
        let (archive, output) = export(dir.path(), "bad", &env, &["swift://"]);
        assert!(!archive.exists() && !dir.path().join("bad.tar.zst.partial").exists(), "no archive is left");
        output
    };
    let wrong = with(&[("OS_PASSWORD", "wrong-password-123")]);
    assert_eq!(code(&wrong), 1, "{}", all_text(&wrong));
    let text = all_text(&wrong);
    assert!(text.contains("user 'bad-user' (domain 'Default')") && text.contains(&tenant.keystone), "{text}");
    assert!(!text.contains("wrong-password-123") && !text.contains(&tenant.password), "{text}");
    let project = all_text(&with(&[("OS_PROJECT_NAME", "no-such-project")]));
    assert!(project.contains("not the project: it does not exist"), "{project}");
    let region = with(&[("OS_REGION_NAME", "Mars")]);
    assert_eq!(code(&region), 2);
    assert!(all_text(&region).contains("region 'Mars'; regions offering it: RegionOne"), "{}", all_text(&region));
    let container = sortie_with(dir.path(), &tenant.password_env(), &["inventory", "swift://nothing-here"]);
    assert_ne!(code(&container), 0);
    assert!(all_text(&container).contains("container 'nothing-here' does not exist"), "{}", all_text(&container));
    // A project whose catalog has no object store (Keystone's endpoint filter).
    let identity_only = stack.tenant("identity-only");
    identity_only.restrict_catalog(&["identity"]);
    let absent = sortie_with(dir.path(), &identity_only.password_env(), &["inventory", "swift://"]);
    assert_eq!(code(&absent), 1);
    let text = all_text(&absent);
    assert!(text.contains("project identity-only offers no object-store service (it offers: identity)"), "{text}");
    let nothing = sortie_with(dir.path(), &[], &["inventory", "swift://x"]);
    assert_eq!(code(&nothing), 2);
    assert!(all_text(&nothing).contains("no OpenStack credentials"), "{}", all_text(&nothing));
}

#[test]
fn an_expired_token_is_renewed_in_the_middle_of_an_export() {
    // Tokens of this stack live 5 s; the export below lasts longer, one object at a time.
    // (Seeding goes around Keystone: with such tokens its validations crawl.)
    let stack = OpenStack::dedicated(&[("KEYSTONE_TOKEN_SECONDS", "5")]);
    let tenant = stack.tenant("renewal");
    tenant.tools_as_reseller(&["many", "slow", "1500", "100"]);
    let dir = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let (archive, output) =
        export(dir.path(), "renewal", &tenant.password_env(), &["swift://slow", "--concurrency", "1", "-v"]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    assert!(started.elapsed().as_secs() > 6, "the export must outlive a token");
    assert!(all_text(&output).contains("authenticated again"), "{}", all_text(&output));
    let bag = gnu_extract(&archive, "renewal");
    tenant.tools_as_reseller(&["check", bag.to_str().unwrap(), "slow"]);
}

#[test]
fn conformance_suite_against_swift() {
    let stack = OpenStack::shared();
    let tenant: Tenant = stack.tenant("conformance");
    let dir = tempfile::tempdir().unwrap();
    let mut bodies = std::collections::BTreeMap::new();
    for n in 0..1100u64 {
        let name = format!("dir-{}/object-{n:04}", n % 7);
        let body = common::noise((n as usize * 37) % 3000, n);
        fs::create_dir_all(dir.path().join(format!("dir-{}", n % 7))).unwrap();
        fs::write(dir.path().join(&name), &body).unwrap();
        bodies.insert(name.into_bytes(), body);
    }
    tenant.tools(&["upload", "suite", dir.path().to_str().unwrap()]);
    let env = tenant.password_env();
    let factory = sortie_plugin_openstack::SwiftFactory
        .with_env(move |name| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()));
    let mut settings = sortie_sdk::settings::Settings::new();
    settings.set(factory.info().setting("page_size").unwrap(), "500").unwrap();
    let source = factory.source("swift://suite", settings).unwrap();
    let missing = sortie_sdk::item::Item::new(
        sortie_sdk::item::RawName::text("no-such-object"),
        vec![sortie_sdk::item::RawName::text("no-such-object")],
        sortie_sdk::item::Kind::Object,
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let items = runtime.block_on(sortie_conformance::check(
        &factory,
        source,
        sortie_conformance::Expected { bodies, secrets: &[&tenant.password], missing },
    ));
    assert_eq!(items.iter().filter(|i| i.kind == sortie_sdk::item::Kind::Object).count(), 1100);
}

/// The suite on `openstack://`: its services part (Glance for real, the recorded Nova,
/// Cinder with volume data, Neutron and Designate with a zone export) and its Swift parts,
/// every item opened twice.
#[test]
fn conformance_suite_against_openstack_services() {
    let stack = OpenStack::shared();
    let tenant: Tenant = stack.tenant("services-suite");
    let dir = tempfile::tempdir().unwrap();
    let data = common::noise(200_000, 11);
    let file = dir.path().join("disk.raw");
    fs::write(&file, &data).unwrap();
    let image = String::from_utf8(tenant.tools(&["image", &stack.glance(), "disk", file.to_str().unwrap()]).stdout)
        .unwrap()
        .trim()
        .to_owned();
    tenant.tools(&["many", "beside", "3", "10"]);
    let env = tenant.password_env();
    let factory = sortie_plugin_openstack::OpenStackFactory
        .with_env(move |name| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()));
    let mut settings = sortie_sdk::settings::Settings::new();
    settings.set(factory.info().setting("include_volume_data").unwrap(), "true").unwrap();
    let source = factory.source("openstack://", settings).unwrap();
    let bodies = std::collections::BTreeMap::from([(format!("glance/images/{image}/file").into_bytes(), data)]);
    let missing = sortie_sdk::item::Item::new(
        sortie_sdk::item::RawName::text("glance/images/no-such-image/file"),
        vec![sortie_sdk::item::RawName::text("glance"), sortie_sdk::item::RawName::text("no-such-image.raw")],
        sortie_sdk::item::Kind::Image,
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let items = runtime.block_on(sortie_conformance::check(
        &factory,
        source,
        sortie_conformance::Expected { bodies, secrets: &[&tenant.password], missing },
    ));
    let has = |id: &str| items.iter().any(|i| i.id.display() == id);
    assert!(has("designate/zones/8e9fa0b1-c2d3-44e5-f6a7-b8c9d0e1f2a3/export"), "the zone's BIND file");
    assert!(has("cinder/volumes/9d2e7c1a-4b5f-4a3e-8c9d-0e1f2a3b4c5d/data"), "a volume's data");
    assert_eq!(items.iter().filter(|i| i.kind == sortie_sdk::item::Kind::Object).count(), 3);
    let images = String::from_utf8(tenant.tools(&["images", &stack.glance()]).stdout).unwrap();
    assert!(!images.contains("sortie-export-"), "every temporary image is deleted: {images}");
}

/// `sortie plan openstack://` prints data: each part opened alone by `export --plan` (the
/// password read again from the environment) gives the archive the source itself gives,
/// segments left out in both.
#[test]
fn a_printed_plan_of_a_project_exports_the_same_archive() {
    let stack = OpenStack::shared();
    let tenant = stack.tenant("plan");
    tenant.tools(&["slo", "big", "file.bin", "big_segments", "70000", "80000"]);
    tenant.tools(&["many", "small", "5", "10"]);
    let dir = tempfile::tempdir().unwrap();
    let env = tenant.password_env();
    let planned = sortie_with(dir.path(), &env, &["plan", "openstack://", "--json"]);
    assert_eq!(code(&planned), 0, "{}", all_text(&planned));
    let text = String::from_utf8(planned.stdout.clone()).unwrap();
    assert!(!text.contains(&tenant.password), "{text}");
    let plan: Value = serde_json::from_str(text.trim()).unwrap();
    let sources = plan["sources"].as_array().unwrap();
    let ids: Vec<&str> = sources.iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["openstack", "swift", "swift-big", "swift-small", "swift-big_segments"]);
    assert_eq!(sources[4]["settings"]["segments_of"], "big", "{text}");
    let plan_file = dir.path().join("plan.json");
    fs::write(&plan_file, &text).unwrap();

    let contents = |archive: &Path, name: &str| {
        let bag = gnu_extract(archive, name);
        // Fetched concurrently: the same members, in any order.
        let mut manifest: Vec<String> =
            fs::read_to_string(bag.join("manifest-sha256.txt")).unwrap().lines().map(str::to_owned).collect();
        manifest.sort();
        let mut records: Vec<(String, Vec<u8>, String)> = inventory(&bag)
            .iter()
            .map(|r| (r["source"].as_str().unwrap().to_owned(), common::record_id(r), r["kind"].to_string()))
            .collect();
        records.sort();
        (manifest, records, report(&bag)["exclusions"].as_array().unwrap().len())
    };
    let (direct, output) = export(dir.path(), "direct", &env, &["openstack://"]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    let (from_plan, output) = export(dir.path(), "from-plan", &env, &["--plan", plan_file.to_str().unwrap()]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    let (manifest, records, exclusions) = contents(&direct, "direct");
    let (planned_manifest, planned_records, planned_exclusions) = contents(&from_plan, "from-plan");
    assert_eq!(planned_manifest, manifest);
    assert_eq!(planned_records, records);
    assert_eq!((planned_exclusions, exclusions), (2, 2), "the two segments, left out in both");
}

/// A plan is exported by the project it was made for, and whole: another project's
/// credentials are refused naming both accounts, and so is a segment container whose owner
/// the plan (edited) no longer exports, before anything is written.
#[test]
fn a_plan_is_exported_by_its_own_project_and_whole() {
    let stack = OpenStack::shared();
    let (mine, other) = (stack.tenant("plan-mine"), stack.tenant("plan-other"));
    mine.tools(&["slo", "big", "file.bin", "big_segments", "70000", "80000"]);
    other.tools(&["many", "big", "2", "10"]);
    let dir = tempfile::tempdir().unwrap();
    let planned = sortie_with(dir.path(), &mine.password_env(), &["plan", "swift://", "--json"]);
    assert_eq!(code(&planned), 0, "{}", all_text(&planned));
    let text = String::from_utf8(planned.stdout.clone()).unwrap();
    let plan_file = dir.path().join("plan.json");
    fs::write(&plan_file, &text).unwrap();
    let (archive, output) =
        export(dir.path(), "other", &other.password_env(), &["--plan", plan_file.to_str().unwrap()]);
    assert_ne!(code(&output), 0, "{}", all_text(&output));
    let message = all_text(&output);
    assert!(message.contains("was resolved for the account") && message.contains("now lead to"), "{message}");
    assert!(!archive.exists());

    let mut plan: Value = serde_json::from_str(text.trim()).unwrap();
    plan["sources"].as_array_mut().unwrap().retain(|s| s["id"] != "swift-big");
    fs::write(&plan_file, plan.to_string()).unwrap();
    let (archive, output) =
        export(dir.path(), "edited", &mine.password_env(), &["--plan", plan_file.to_str().unwrap()]);
    assert_ne!(code(&output), 0, "{}", all_text(&output));
    let message = all_text(&output);
    assert!(message.contains("does not export container 'big' whole"), "{message}");
    assert!(!archive.exists());
}

#[test]
fn a_container_deleted_during_the_export_is_recorded_as_incomplete() {
    let stack = OpenStack::shared();
    let tenant = stack.tenant("deleted");
    tenant.tools(&["many", "doomed", "1500", "100"]);
    tenant.tools(&["many", "kept", "10", "100"]);
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("deleted.tar.zst");
    // One object at a time: the export lasts seconds, the deletion starts while it runs.
    let export = common::sortie()
        .env_clear()
        .env("HOME", dir.path())
        .envs(tenant.password_env())
        .args(["export", "swift://", "--concurrency", "1", "--retries", "1", "-o", archive.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(2));
    tenant.tools(&["delete", "doomed"]);
    let output = export.wait_with_output().unwrap();
    assert_eq!(code(&output), 3, "{}", all_text(&output));
    let bag = gnu_extract(&archive, "deleted");
    let failures = report(&bag)["failures"].as_array().unwrap().clone();
    assert!(!failures.is_empty());
    assert!(
        failures.iter().all(|f| f["source"] == "swift-doomed"
            && (f["error"].as_str().unwrap().contains("does not exist (404)")
                || f["error"].as_str().unwrap().contains("no longer exists"))),
        "{failures:?}"
    );
    assert_eq!(fs::read_dir(bag.join("data/swift-kept")).unwrap().count(), 11, "the other container is whole");
}

#[test]
fn openstack_project_images_records_and_objects() {
    let stack = OpenStack::shared();
    let tenant = stack.tenant("project");
    let dir = tempfile::tempdir().unwrap();
    let data = common::noise(3 << 20, 7);
    let file = dir.path().join("disk.raw");
    fs::write(&file, &data).unwrap();
    let text = |output: std::process::Output| String::from_utf8(output.stdout).unwrap().trim().to_owned();
    let image = text(tenant.tools(&["image", &stack.glance(), "disk", file.to_str().unwrap()]));
    let queued = text(tenant.tools(&["image", &stack.glance(), "never-uploaded"]));
    tenant.tools(&["many", "files", "3", "10"]);
    // Image data read in ranges (1 MiB each): Glance serves them with 206 and Content-Range.
    let ranged = ["openstack://", "--range-cutoff", "1M", "--range-chunk", "1M"];
    let (archive, output) = export(dir.path(), "project", &tenant.password_env(), &ranged);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    let bag = gnu_extract(&archive, "project");
    assert_standard_tools_accept(&archive, &bag);
    let all = inventory(&bag);
    // Glance (real): the data, checked against Glance's MD5 and sha512, and the record.
    let disk = record(&all, "openstack", &format!("glance/images/{image}/file"), "image");
    assert_eq!(disk["path"], format!("data/openstack/glance/images/{image}.raw"));
    assert_eq!(disk["etag_verified"], true, "{disk}");
    assert_eq!(fs::read(bag.join(format!("data/openstack/glance/images/{image}.raw"))).unwrap(), data);
    let described: Value =
        serde_json::from_slice(&fs::read(bag.join(format!("data/openstack/glance/images/{image}.json"))).unwrap())
            .unwrap();
    assert_eq!(described["os_hash_algo"], "sha512");
    assert_eq!(described["tags"][0], "sortie-test");
    let exclusions = report(&bag)["exclusions"].as_array().unwrap().clone();
    let reason = |id: &str| {
        exclusions.iter().find(|e| e["id"] == id).unwrap_or_else(|| panic!("{id}: {exclusions:?}"))["reason"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert!(reason(&format!("glance/images/{queued}/file")).contains("queued: it has no data"));
    // Nova, Cinder, Neutron (recorded answers): every resource, across pages.
    let count = |dir: &str| fs::read_dir(bag.join("data/openstack").join(dir)).map_or(0, |d| d.count());
    assert_eq!(count("nova/servers"), 2, "two pages of servers");
    let keypair: Value =
        serde_json::from_slice(&fs::read(bag.join("data/openstack/nova/keypairs/deploy.json")).unwrap()).unwrap();
    assert!(keypair["public_key"].as_str().unwrap().starts_with("ssh-ed25519 "));
    let web: Value = serde_json::from_slice(
        &fs::read(bag.join("data/openstack/nova/servers/7f3b1c6e-0c1e-4d5e-9a61-2f3d9c1f0a01.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(web["flavor"]["original_name"], "b2-7");
    assert_eq!(web["os-extended-volumes:volumes_attached"][0]["id"], "9d2e7c1a-4b5f-4a3e-8c9d-0e1f2a3b4c5d");
    for dir in ["cinder/volumes", "cinder/snapshots", "neutron/networks", "neutron/subnets", "neutron/routers"] {
        assert_eq!(count(dir), 1, "{dir}");
    }
    for dir in ["neutron/ports", "neutron/security-groups", "neutron/floatingips"] {
        assert_eq!(count(dir), 1, "{dir}");
    }
    // Designate: the zone as a record and as a BIND file from a zone export.
    let zone = fs::read_to_string(bag.join("data/openstack/designate/zones/8e9fa0b1-c2d3-44e5-f6a7-b8c9d0e1f2a3.zone"));
    assert!(zone.unwrap().contains("www.example.org. IN A 203.0.113.10"));
    assert_eq!(count("designate/zones"), 2);
    // The object store comes along, as with swift://.
    assert_eq!(count("../swift-files"), 4, "three objects and _config");

    // A project offered only identity and Swift: every other service is said "not offered".
    let restricted = stack.tenant("swift-only");
    restricted.restrict_catalog(&["identity", "object-store"]);
    let (archive, output) = export(dir.path(), "restricted", &restricted.password_env(), &["openstack://"]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    let restricted_report = report(&gnu_extract(&archive, "restricted"));
    let not_offered: Vec<&str> = restricted_report["exclusions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["reason"].as_str().unwrap().starts_with("not offered"))
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(not_offered, ["glance", "nova", "cinder", "neutron", "designate"]);

    // Volume data, on request: Cinder (recorded) copies each volume into a temporary image
    // of the real Glance, which Sortie reads, checks and deletes.
    let (archive, output) =
        export(dir.path(), "volumes", &tenant.password_env(), &["openstack://", "--include-volume-data"]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    let bag = gnu_extract(&archive, "volumes");
    let volume = "9d2e7c1a-4b5f-4a3e-8c9d-0e1f2a3b4c5d";
    let expected: Vec<u8> = {
        use sha2::Digest;
        sha2::Sha256::digest(volume.as_bytes()).repeat(32772)[..(1 << 20) + 123].to_vec()
    };
    assert_eq!(fs::read(bag.join(format!("data/openstack/cinder/volumes/{volume}.raw"))).unwrap(), expected);
    assert_eq!(
        record(&inventory(&bag), "openstack", &format!("cinder/volumes/{volume}/data"), "image")["etag_verified"],
        true
    );
    let images = text(tenant.tools(&["images", &stack.glance()]));
    assert!(!images.contains("sortie-export-"), "the temporary image is deleted: {images}");

    // Glance's stored data damaged on disk: the export says so and is incomplete.
    let stored = stack.glance_file(&image);
    let mut damaged = fs::read(&stored).unwrap();
    damaged[1 << 20] ^= 1;
    fs::write(&stored, damaged).unwrap();
    let (archive, output) = export(dir.path(), "damaged", &tenant.password_env(), &["openstack://", "--retries", "1"]);
    assert_eq!(code(&output), 3, "{}", all_text(&output));
    let bag = gnu_extract(&archive, "damaged");
    let failures = report(&bag)["failures"].to_string();
    assert!(failures.contains(&format!("glance/images/{image}/file")), "{failures}");
}

#[test]
fn objects_overwritten_between_listing_and_download_are_archived_as_fetched_and_reported() {
    let stack = OpenStack::shared();
    let tenant = stack.tenant("changing");
    tenant.tools(&["many", "changing", "2000", "100"]);
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("changing.tar.zst");
    // One object at a time: the whole container is listed at once, in its first second,
    // and the last objects are downloaded seconds later, after they were overwritten.
    let export = common::sortie()
        .env_clear()
        .env("HOME", dir.path())
        .envs(tenant.password_env())
        .args(["export", "swift://changing", "--concurrency", "1", "-o", archive.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(2));
    tenant.tools(&["many", "changing", "100", "250", "1900"]);
    let output = export.wait_with_output().unwrap();
    let text = all_text(&output);
    assert_eq!(code(&output), 0, "a changed object is archived, not failed: {text}");

    let bag = gnu_extract(&archive, "changing");
    // Every archived object is what the server serves now: the late ones were fetched after
    // their overwrite.
    let checked = tenant.tools(&["check", bag.to_str().unwrap(), "changing"]);
    let checked: Value = serde_json::from_slice(&checked.stdout).unwrap();
    assert_eq!(checked["objects"], 2000, "{checked}");
    let all = inventory(&bag);
    let changed: Vec<&Value> = all.iter().filter(|r| r.get("listed").is_some()).collect();
    assert!(!changed.is_empty(), "no object was found changed: the export outran the overwrite");
    for record in &changed {
        assert_eq!(record["size"], 250, "{record}");
        assert_eq!(record["listed"]["size"], 100, "{record}");
        assert_ne!(record["listed"]["etag"], record["etag"], "{record}");
        assert_eq!(record["etag_verified"], true, "the new bytes are checked against the new ETag: {record}");
        assert!(record["listed"]["modified"].is_string() && record["modified"].is_string(), "{record}");
    }
    for record in all.iter().filter(|r| r["kind"] == "object" && r.get("listed").is_none()) {
        assert_eq!(record["size"], 100, "an unchanged object has no `listed`: {record}");
    }
    let counts = &report(&bag)["sources"][0]["kinds"]["object"];
    assert_eq!(counts["changed_since_listing"], changed.len(), "{counts}");
    assert_eq!(
        counts["archived_bytes"].as_u64().unwrap() - counts["listed_bytes"].as_u64().unwrap(),
        150 * changed.len() as u64,
        "the report's byte difference is explained by the changed objects: {counts}"
    );
    assert!(text.contains(&format!("changed   {} item(s)", changed.len())), "{text}");
}

#[test]
fn names_made_of_dot_segments_are_requested_as_they_are() {
    let stack = OpenStack::shared();
    let tenant = stack.tenant("dots");
    let names = [".", "..", "a/./b", "a/../b", "./x", "x/..", "x/."];
    for name in names {
        tenant.tools(&["put-raw", "dots", name, &format!("body of {name}")]);
    }
    let dir = tempfile::tempdir().unwrap();
    let (archive, output) = export(dir.path(), "dots", &tenant.password_env(), &["swift://dots"]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    assert_eq!(code(&common::run(&["verify", archive.to_str().unwrap()])), 0);
    let bag = gnu_extract(&archive, "dots");
    assert_standard_tools_accept(&archive, &bag);
    // GNU tar wrote the bag and nothing beside it.
    let extracted: Vec<_> = fs::read_dir(bag.parent().unwrap()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(extracted, ["dots"]);
    let all = inventory(&bag);
    for name in names {
        let object = record(&all, "swift-dots", name, "object");
        let path = object["path"].as_str().unwrap();
        let archived = fs::read(bag.join(path)).unwrap();
        assert_eq!(archived, format!("body of {name}").as_bytes(), "{name}: {path}");
        assert_eq!(object["etag_verified"], true, "{object}");
        let direct = tenant.tools(&["get-raw", "dots", name]);
        let sha256 = String::from_utf8(direct.stdout).unwrap();
        assert_eq!(object["sha256"], sha256.trim(), "{name}: the archive differs from a direct GET");
        assert!(path.split('/').all(|segment| segment != "." && segment != ".."), "{path}");
    }
    assert_eq!(record(&all, "swift-dots", "..", "object")["path"], "data/swift-dots/^2E^2E");
    assert_eq!(record(&all, "swift-dots", "a/../b", "object")["path"], "data/swift-dots/a/^2E^2E/b");
}

/// The first requests of an export, the login and the container check, are retried like
/// any other: one 503 on each (Keystone's token, tempauth's login, Swift's container HEAD)
/// costs a retry, not the export.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_503_on_the_login_or_the_container_check_is_retried() {
    use common::fault_proxy::{Fault, FaultProxy};

    let stack = OpenStack::shared();
    let mut env = stack.tempauth_env();
    tokio::task::block_in_place(|| run_tools(&env, &["many", "retried-check", "5", "100"]));
    let (base, auth_path) = stack.tempauth.split_at(stack.tempauth.find("/auth").unwrap());
    let container = "/v1/AUTH_test/retried-check";
    let proxy = FaultProxy::start(
        base,
        vec![
            ("/auth/v1.0", Fault::Status(503, "ServiceUnavailable")),
            (container, Fault::Status(503, "ServiceUnavailable")),
        ],
    )
    .await;
    env[0].1 = format!("{}{auth_path}", proxy.endpoint);
    let dir = tempfile::tempdir().unwrap();
    let (archive, output) =
        tokio::task::block_in_place(|| export(dir.path(), "retried", &env, &["swift://retried-check"]));
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    assert!(proxy.arrivals("/auth/v1.0").len() >= 2, "the login was not retried");
    assert!(proxy.arrivals(container).len() >= 2, "the container check was not retried");
    let bag = gnu_extract(&archive, "retried");
    tokio::task::block_in_place(|| {
        run_tools(&stack.tempauth_env(), &["check", bag.to_str().unwrap(), "retried-check"])
    });

    let tenant = stack.tenant("retried-login");
    let proxy =
        FaultProxy::start(&tenant.keystone, vec![("/v3/auth/tokens", Fault::Status(503, "ServiceUnavailable"))]).await;
    let mut env = tenant.password_env();
    env.retain(|(k, _)| k != "OS_AUTH_URL");
    env.push(("OS_AUTH_URL".into(), format!("{}/v3", proxy.endpoint)));
    let output = tokio::task::block_in_place(|| sortie_with(dir.path(), &env, &["inventory", "swift://"]));
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    assert!(proxy.arrivals("/v3/auth/tokens").len() >= 2, "the Keystone login was not retried");
}

/// The whole project compared again right after its export (`verify --against`): Swift's
/// large objects of both kinds, metadata, container and account descriptions, a Glance image
/// and the records are as archived, and nothing may be called changed.
#[test]
fn an_unchanged_project_matches_its_archive() {
    let stack = OpenStack::shared();
    let tenant = stack.tenant("again");
    tenant.tools(&["seed"]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("disk.raw");
    fs::write(&file, common::noise(1 << 20, 3)).unwrap();
    tenant.tools(&["image", &stack.glance(), "disk", file.to_str().unwrap()]);
    let env = tenant.password_env();
    let (archive, output) = export(dir.path(), "again", &env, &["openstack://"]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    let output = sortie_with(dir.path(), &env, &["verify", archive.to_str().unwrap(), "--against", "openstack://"]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    assert!(all_text(&output).contains("matches   yes"), "{}", all_text(&output));
}

/// Swift objects of every kind read as byte ranges (a plain object, a static and a dynamic
/// large object), through a proxy that counts the ranges and cuts one: the cut range alone
/// is asked again, and the archive matches what Swift serves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_and_large_objects_are_read_in_ranges() {
    use common::fault_proxy::{Fault, FaultProxy};

    let stack = OpenStack::shared();
    let mut env = stack.tempauth_env();
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str, len: usize, seed: u64| {
        let path = dir.path().join(name);
        fs::write(&path, common::noise(len, seed)).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let (plain, parts) = (file("plain", 3 << 20, 1), [file("p0", 1_100_000, 2), file("p1", 1_100_000, 3)]);
    tokio::task::block_in_place(|| {
        run_tools(&env, &["put", "ranged", "plain.bin", &plain]);
        run_tools(&env, &["slo", "ranged", "big.slo", "ranged_segments", "1100000", "1100000", "1100000"]);
        run_tools(&env, &["put", "ranged_segments", "dlo/part-0", &parts[0]]);
        run_tools(&env, &["put", "ranged_segments", "dlo/part-1", &parts[1]]);
        run_tools(&env, &["dlo", "ranged", "big.dlo", "ranged_segments/dlo/part-"]);
    });
    let (base, auth_path) = stack.tempauth.split_at(stack.tempauth.find("/auth").unwrap());
    let cut = "/v1/AUTH_test/ranged/plain.bin bytes=1048576-2097151";
    let proxy = FaultProxy::start(base, vec![(cut, Fault::CutAfter(1000))]).await;
    env[0].1 = format!("{}{auth_path}", proxy.endpoint);
    let flags = ["swift://ranged", "--range-cutoff", "1M", "--range-chunk", "1M"];
    let (archive, output) = tokio::task::block_in_place(|| export(dir.path(), "ranged", &env, &flags));
    assert_eq!(code(&output), 0, "{}", all_text(&output));

    let asked = |object: &str| {
        let mut ranges = proxy.ranges(&format!("/v1/AUTH_test/ranged/{object}"));
        ranges.sort();
        ranges
    };
    assert_eq!(asked("plain.bin"), ["bytes=1048576-2097151", "bytes=1048576-2097151", "bytes=2097152-3145727"]);
    assert_eq!(asked("big.slo"), ["bytes=1048576-2097151", "bytes=2097152-3145727", "bytes=3145728-3299999"]);
    assert_eq!(asked("big.dlo"), ["bytes=1048576-2097151", "bytes=2097152-2199999"]);
    let bag = gnu_extract(&archive, "ranged");
    tokio::task::block_in_place(|| run_tools(&stack.tempauth_env(), &["check", bag.to_str().unwrap(), "ranged"]));
    let all = inventory(&bag);
    for name in ["plain.bin", "big.slo", "big.dlo"] {
        assert_eq!(record(&all, "swift-ranged", name, "object")["etag_verified"], true, "{name}");
    }
}
