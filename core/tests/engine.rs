//! The engine against the memory provider's scripted stores: what a real server cannot be
//! made to do on demand (break mid-body, lie about a length or a checksum, fail a listing
//! page); and against its generated sources, for per-source limits.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use sortie_core::engine::{ExportOptions, export};
use sortie_core::item::Item;
use sortie_core::plan::{self, PLAN_VERSION, Plan, Source};
use sortie_core::progress::silent;
use sortie_core::provider::Provider;
use sortie_core::registry::Registry;
use sortie_core::retry::RetryPolicy;
use sortie_core::settings::Settings;
use sortie_plugin_memory::{Fault, HeldFactory, MemoryFactory, MemoryProvider, Object, Scripted, changed, replaced};
use sortie_sdk::registry::{Context, ProviderFactory};

/// A store named `test` (archived under `data/mem-test/`) whose first check fails
/// temporarily, as a 503 on an export's first request, and whose second listing page fails
/// once, temporarily.
fn scripted(objects: Vec<Object>) -> Scripted {
    Scripted::new("test", objects).failing_checks(1).listing_hiccups(1)
}

/// The provider's source, opened and checked as a planned source is.
async fn source(provider: &Arc<MemoryProvider>) -> Source {
    let mut registry = Registry::default();
    registry.register(Box::new(HeldFactory::new(provider.clone())));
    let plan = Plan { sortie_plan: PLAN_VERSION, sources: vec![provider.spec().clone()] };
    let context = Context::new(options().retry, Vec::new());
    plan::open(&registry, &plan, &context, &silent()).await.unwrap().remove(0)
}

fn md5_hex(data: &[u8]) -> String {
    use md5::Digest;
    hex::encode(md5::Md5::digest(data))
}

fn noise(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 9) as u8).collect()
}

fn options() -> ExportOptions {
    ExportOptions {
        retry: RetryPolicy::new(2, Duration::from_millis(1), Duration::from_millis(5)),
        ..ExportOptions::default()
    }
}

/// Exports `source` alone with `options` into `NAME.tar.zst` in a new directory, kept as
/// long as the returned guard.
async fn export_with(
    source: Source,
    name: &str,
    options: &ExportOptions,
) -> (sortie_core::engine::ExportSummary, std::path::PathBuf, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join(format!("{name}.tar.zst"));
    let summary = export(&[source], &archive, options, silent()).await.unwrap();
    (summary, archive, dir)
}

/// Exports `source` alone with the test options (see [`export_with`]).
async fn export_one(
    source: Source,
    name: &str,
) -> (sortie_core::engine::ExportSummary, std::path::PathBuf, tempfile::TempDir) {
    export_with(source, name, &options()).await
}

fn read_bag(archive: &std::path::Path) -> HashMap<String, Vec<u8>> {
    use std::io::Read;
    let mut members = HashMap::new();
    let mut tar = sortie_formats::reader::open(&sortie_formats::input::Input::new(archive)).unwrap();
    for member in tar.members().unwrap() {
        let mut member = member.unwrap();
        let (path, _) = member.path();
        let mut data = Vec::new();
        member.read_to_end(&mut data).unwrap();
        members.insert(path, data);
    }
    members
}

fn inventory(members: &HashMap<String, Vec<u8>>, bag: &str) -> Vec<serde_json::Value> {
    String::from_utf8(members[&format!("{bag}/sortie/inventory.jsonl")].clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_are_handled_with_concurrent_fetch_tasks() {
    faults_are_retried_undone_or_recorded_and_the_archive_stays_intact(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_are_handled_with_inline_fetches_of_a_local_provider() {
    faults_are_retried_undone_or_recorded_and_the_archive_stays_intact(true).await;
}

async fn faults_are_retried_undone_or_recorded_and_the_archive_stays_intact(local: bool) {
    let big = noise(3 << 20, 1);
    let spilled = noise((1 << 20) + 4096, 2);
    let mut store = scripted(vec![
        Object::new("a", &b"leaf a"[..]).with_md5(),
        Object::new("a/b", &b"under a"[..]),
        Object::new("big", big.clone()).fault(Fault::BreakOnce).with_md5(),
        Object::new("liar", noise(5000, 3)).fault(Fault::Short),
        Object::new("liar-big", noise(2 << 20, 4)).fault(Fault::Short),
        Object::new("md5", &b"checksum"[..]).fault(Fault::BadMd5).with_md5(),
        Object::new("spilled", spilled.clone()).fault(Fault::UnknownSize).with_md5(),
    ])
    .flat();
    if local {
        store = store.local();
    }
    let provider = store.open();
    let (summary, archive, _dir) = export_one(source(&provider).await, "faults").await;

    assert!(!summary.complete);
    assert_eq!((summary.archived, summary.failed), (4, 3));
    let mut failed: Vec<&str> = summary.failures.iter().map(|f| f.id.as_str()).collect();
    failed.sort_unstable();
    assert_eq!((failed, summary.more_failures), (vec!["liar", "liar-big", "md5"], 0), "the summary names the failures");
    assert_eq!(provider.opens("big"), 2, "the broken stream was retried once");
    assert_eq!(provider.opens("liar"), 3, "a short body is retried, then recorded");
    assert_eq!(provider.opens("liar-big"), 3, "a short live body too");
    assert_eq!(provider.second_page_requests(), 2, "the failed listing page was asked again");

    let verification = sortie_formats::verify::verify(&sortie_formats::input::Input::new(&archive)).unwrap();
    assert!(verification.intact(), "{:?}", verification.problems);
    assert_eq!(verification.complete, Some(false));

    let members = read_bag(&archive);
    assert_eq!(members["faults/data/mem-test/big"], big, "the undone half never reached the archive");
    assert_eq!(members["faults/data/mem-test/spilled"], spilled);
    assert_eq!(members["faults/data/mem-test/a^!"], b"leaf a", "a leaf that is also a directory gets the suffix");
    assert_eq!(members["faults/data/mem-test/a/b"], b"under a");
    assert!(!members.contains_key("faults/data/mem-test/liar"));
    assert!(!members.contains_key("faults/data/mem-test/liar-big"), "a short live body is undone");

    let report: serde_json::Value = serde_json::from_slice(&members["faults/sortie/report.json"]).unwrap();
    let errors: Vec<&str> =
        report["failures"].as_array().unwrap().iter().map(|f| f["error"].as_str().unwrap()).collect();
    assert!(errors.iter().any(|e| e.contains("body has 4999 bytes but 5000 were announced")), "{errors:?}");
    assert!(errors.iter().any(|e| e.contains("body ended after 2097151 of the announced 2097152 bytes")), "{errors:?}");
    assert!(errors.iter().any(|e| e.contains("MD5 of the body is")), "{errors:?}");
    let inventory = String::from_utf8(members["faults/sortie/inventory.jsonl"].clone()).unwrap();
    let big_record = inventory.lines().find(|l| l.contains(r#""id":"big""#)).unwrap();
    assert!(big_record.contains(r#""etag_verified":true"#), "{big_record}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listing_that_fails_for_good_leaves_a_valid_incomplete_archive() {
    let objects = ["a", "b", "c", "d"].into_iter().map(|key| Object::new(key, key.as_bytes().to_vec())).collect();
    let provider = scripted(objects).local().listing_hiccups(u32::MAX).open();
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("cut.tar.zst");
    let summary = export(&[source(&provider).await], &archive, &options(), silent()).await.unwrap();

    assert!(!summary.complete);
    assert_eq!((summary.archived, summary.failed), (2, 1), "the first page is archived, the listing failure counted");
    let verification = sortie_formats::verify::verify(&sortie_formats::input::Input::new(&archive)).unwrap();
    assert!(verification.intact(), "{:?}", verification.problems);
    assert_eq!(verification.complete, Some(false));
    let report: serde_json::Value = serde_json::from_slice(&read_bag(&archive)["cut/sortie/report.json"]).unwrap();
    let failure = &report["failures"][0];
    assert_eq!(failure["kind"], "listing");
    assert!(failure["error"].as_str().unwrap().contains("listing of mem-test stopped after 2 items"), "{failure}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_the_credentials_are_refused_the_rest_is_recorded_without_asking() {
    let object = |key, fault| Object::new(key, vec![b'x'; 10]).fault(fault);
    let provider = scripted(vec![
        object("a", Fault::None),
        object("b", Fault::None),
        object("c", Fault::Refused),
        object("d", Fault::None),
        object("e", Fault::None),
        object("f", Fault::None),
    ])
    .open();
    let options = ExportOptions { concurrency: 1, ..options() };
    let (summary, archive, _dir) = export_with(source(&provider).await, "refused", &options).await;

    assert!(!summary.complete);
    assert_eq!((summary.archived, summary.failed), (2, 4));
    assert_eq!(provider.opens("c"), 1, "a refusal is not retried");
    for key in ["d", "e", "f"] {
        assert_eq!(provider.opens(key), 0, "{key} was requested after the refusal");
    }
    let report: serde_json::Value = serde_json::from_slice(&read_bag(&archive)["refused/sortie/report.json"]).unwrap();
    let failures = report["failures"].as_array().unwrap();
    assert!(
        failures.iter().all(|f| f["error"].as_str().unwrap().contains("the session token has expired")),
        "{failures:?}"
    );
    assert!(failures.iter().filter(|f| f["attempts"] == 0).count() == 3, "{failures:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_that_repeats_its_cursor_ends_the_listing_as_a_failure() {
    let objects = ["a", "b", "c", "d"].into_iter().map(|key| Object::new(key, key.as_bytes().to_vec())).collect();
    let provider = scripted(objects).flat().stuck().listing_hiccups(0).open();
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("stuck.tar.zst");
    let options = options();
    let sources = [source(&provider).await];
    let export = export(&sources, &archive, &options, silent());
    let summary = tokio::time::timeout(Duration::from_secs(60), export)
        .await
        .expect("the listing of a repeated cursor ends")
        .unwrap();

    assert!(!summary.complete);
    assert_eq!((summary.archived, summary.failed), (2, 1));
    let report: serde_json::Value = serde_json::from_slice(&read_bag(&archive)["stuck/sortie/report.json"]).unwrap();
    assert!(report["failures"][0]["error"].as_str().unwrap().contains("with itself"), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_item_overwritten_after_its_listing_is_archived_as_fetched_with_what_was_listed() {
    let big = noise((1 << 20) + 10, 5);
    let provider = scripted(vec![
        Object::new("big", big.clone()).fault(Fault::Changed).with_md5(),
        Object::new("same", &b"unchanged"[..]).with_md5(),
        Object::new("small", &b"version 1"[..]).fault(Fault::Changed).with_md5(),
    ])
    .flat()
    .open();
    let (summary, archive, _dir) = export_one(source(&provider).await, "changed").await;
    assert!(summary.complete, "a changed object is archived as fetched, not failed");
    assert_eq!((summary.archived, summary.changed_since_listing), (3, 2));

    let members = read_bag(&archive);
    assert_eq!(members["changed/data/mem-test/big"], changed(&big));
    assert_eq!(members["changed/data/mem-test/small"], b"version 1v2");
    let report: serde_json::Value = serde_json::from_slice(&members["changed/sortie/report.json"]).unwrap();
    let counts = &report["sources"][0]["kinds"]["object"];
    assert_eq!(counts["changed_since_listing"], 2, "{counts}");
    assert_eq!(counts["listed_bytes"].as_u64().unwrap() + 2, counts["archived_bytes"].as_u64().unwrap());
    let inventory = inventory(&members, "changed");
    let record = |id: &str| inventory.iter().find(|r| r["id"] == id).unwrap().clone();
    let small = record("small");
    assert_eq!(small["size"], 11);
    assert_eq!(small["etag"], format!("\"{}\"", md5_hex(b"version 1v2")));
    assert_eq!(small["etag_verified"], true, "the new bytes are checked against the new ETag");
    assert_eq!(small["modified"], "2023-11-14T23:13:21Z");
    assert_eq!(small["listed"]["size"], 9);
    assert_eq!(small["listed"]["etag"], format!("\"{}\"", md5_hex(b"version 1")));
    assert_eq!(small["listed"]["modified"], "2023-11-14T22:13:20Z");
    let big_record = record("big");
    assert_eq!(big_record["listed"]["size"], big_record["size"], "same size, other bytes: the ETag tells");
    assert_eq!(big_record["etag"], format!("\"{}\"", md5_hex(&changed(&big))));
    let same = record("same");
    assert!(same.get("listed").is_none(), "a Last-Modified rounded up to the second is no change: {same}");
    assert_eq!(same["modified"], "2023-11-14T22:13:20Z", "the listing's time stays");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_without_their_metadata_are_archived_but_not_complete_and_the_check_is_retried() {
    let object = |key: &str, fault| Object::new(key, key.as_bytes().to_vec()).fault(fault).with_md5();
    let provider = scripted(vec![object("a", Fault::None), object("b", Fault::MetadataMissing)]).open();
    let (summary, archive, _dir) = export_one(source(&provider).await, "meta").await;

    assert_eq!(provider.checks(), 2, "a temporary error on the check is retried");
    assert!(!summary.complete);
    assert_eq!((summary.archived, summary.failed), (2, 1), "archived, and reported");
    assert_eq!(provider.opens("b"), 1, "missing metadata is the provider's final word, not retried here");
    let members = read_bag(&archive);
    assert_eq!(members["meta/data/mem-test/b"], b"b");
    let report: serde_json::Value = serde_json::from_slice(&members["meta/sortie/report.json"]).unwrap();
    assert_eq!(report["complete"], false);
    let failure = &report["failures"][0];
    assert_eq!(failure["id"], "b");
    assert!(failure["error"].as_str().unwrap().contains("archived without all its metadata: its tag set"), "{failure}");
    assert_eq!(report["sources"][0]["kinds"]["object"]["archived"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_never_gets_more_concurrent_fetches_than_its_own_limit() {
    let info = MemoryFactory.info();
    let mut settings = Settings::new();
    for (name, value) in [("items", "40"), ("size", "1000"), ("latency_ms", "20"), ("max_concurrency", "2")] {
        settings.set(info.setting(name).unwrap(), value).unwrap();
    }
    let spec = MemoryFactory.source("memory://capped", settings).unwrap();
    let provider = Arc::new(MemoryProvider::from_spec(&spec).unwrap());
    let options = ExportOptions { concurrency: 16, ..options() };
    let (summary, _archive, _dir) = export_with(source(&provider).await, "capped", &options).await;

    assert!(summary.complete);
    assert_eq!(summary.archived, 40);
    assert_eq!(provider.peak_concurrency(), 2, "the source's limit is reached, never exceeded, under --concurrency 16");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inline_items_are_archived_without_being_opened() {
    let policy = br#"{"Statement": []}"#.to_vec();
    let provider = scripted(vec![
        Object::new("policy.json", policy.clone()).inline(),
        Object::new("data", &b"fetched"[..]),
        Object::new("empty", Vec::new()).inline(),
    ])
    .open();
    let (summary, archive, _dir) = export_one(source(&provider).await, "inline").await;

    assert!(summary.complete);
    assert_eq!(summary.archived, 3);
    assert_eq!((provider.opens("policy.json"), provider.opens("empty")), (0, 0), "inline items are never opened");
    assert_eq!(provider.opens("data"), 1);
    let members = read_bag(&archive);
    assert_eq!(members["inline/data/mem-test/policy.json"], policy);
    assert_eq!(members["inline/data/mem-test/empty"], b"");
    let inventory = inventory(&members, "inline");
    for (id, bytes) in [("policy.json", &policy[..]), ("empty", b"")] {
        let record = inventory.iter().find(|r| r["id"] == id).unwrap();
        assert_eq!(record["size"], bytes.len());
        assert_eq!(record["sha256"], hex::encode(<sha2::Sha256 as sha2::Digest>::digest(bytes)), "{record}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_item_listed_with_too_many_inline_bytes_is_a_failure_naming_the_cause() {
    let provider = scripted(vec![
        Object::new("huge", vec![0u8; Item::INLINE_MAX + 1]).inline(),
        Object::new("small", &b"fine"[..]),
    ])
    .open();
    let (summary, archive, _dir) = export_one(source(&provider).await, "oversized").await;

    assert!(!summary.complete);
    assert_eq!((summary.archived, summary.failed), (1, 1));
    assert_eq!(provider.opens("huge"), 0, "the provider's inline bytes are not replaced by an open");
    let verification = sortie_formats::verify::verify(&sortie_formats::input::Input::new(&archive)).unwrap();
    assert!(verification.intact(), "{:?}", verification.problems);
    assert_eq!(verification.complete, Some(false));
    let members = read_bag(&archive);
    assert!(!members.contains_key("oversized/data/mem-test/huge"));
    let report: serde_json::Value = serde_json::from_slice(&members["oversized/sortie/report.json"]).unwrap();
    assert_eq!(report["complete"], false);
    let failure = &report["failures"][0];
    assert_eq!(failure["id"], "huge");
    let error = failure["error"].as_str().unwrap();
    assert!(
        error.contains(&format!("listed {} bytes inline, more than the {}", Item::INLINE_MAX + 1, Item::INLINE_MAX)),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locators_stay_out_of_the_inventory() {
    let objects = ["a", "b/c", "d"].into_iter().map(|key| Object::new(key, key.as_bytes().to_vec())).collect();
    let provider = Scripted::new("test", objects).open();
    let mut locators = Vec::new();
    let mut cursor = None;
    loop {
        let page = provider.list_page(cursor).await.unwrap();
        locators
            .extend(page.items.into_iter().map(|item| item.locator.expect("the memory provider locates every item")));
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(locators.len(), 3);
    let (summary, archive, _dir) = export_one(source(&provider).await, "located").await;

    assert!(summary.complete);
    let members = read_bag(&archive);
    let inventory = String::from_utf8(members["located/sortie/inventory.jsonl"].clone()).unwrap();
    assert_eq!(inventory.lines().count(), 3);
    assert!(!inventory.contains("locator"), "{inventory}");
    for (path, bytes) in members.iter().filter(|(path, _)| !path.starts_with("located/data/")) {
        let text = String::from_utf8_lossy(bytes);
        for locator in &locators {
            assert!(!text.contains(&serde_json::to_string(locator).unwrap()), "{locator} in {path}: {text}");
        }
    }
}

/// What a progress bar counts: bytes as they arrive, in steps; an attempt that broke midway
/// takes back what it had counted, so that the bytes counted end at the bytes archived; and
/// each item with bytes is reported fetched once, archived or failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_counts_bytes_as_they_arrive_and_takes_back_a_broken_attempt() {
    use sortie_core::progress::{Event, ProgressSink, RECEIVED_STEP};
    let big = noise(3 << 20, 1);
    let provider = scripted(vec![
        Object::new("big", big.clone()).fault(Fault::BreakOnce).with_md5(),
        Object::new("liar", noise(5000, 3)).fault(Fault::Short),
        Object::new("small", &b"small"[..]),
    ])
    .open();
    let events = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = events.clone();
    let sink: ProgressSink = Arc::new(move |event| seen.lock().unwrap().push(event));
    let dir = tempfile::tempdir().unwrap();
    let summary = export(&[source(&provider).await], &dir.path().join("p.tar.zst"), &options(), sink).await.unwrap();
    assert_eq!((summary.archived, summary.failed), (2, 1));

    let events = events.lock().unwrap();
    let sum = |pick: fn(&Event) -> Option<u64>| events.iter().filter_map(pick).sum::<u64>();
    let received = sum(|e| if let Event::Received { bytes } = e { Some(*bytes) } else { None });
    let discarded = sum(|e| if let Event::Discarded { bytes } = e { Some(*bytes) } else { None });
    assert!(discarded >= RECEIVED_STEP, "the broken half of the big body was counted, then taken back");
    assert_eq!(received - discarded, summary.archived_bytes);
    let steps = events.iter().filter(|e| matches!(e, Event::Received { .. })).count();
    assert!(steps <= 8, "one event a step, not one a chunk: {steps}");
    let fetched = events.iter().filter(|e| matches!(e, Event::Fetched)).count();
    assert_eq!(fetched, 3);
    assert!(events.iter().any(|e| matches!(e, Event::ListingDone { items: 3, .. })));
}

/// Large bodies read as byte ranges: in order, each range retried alone, an object replaced
/// while it is read archived as one version (refused by its validator, or caught by its
/// checksum when the store pins none), never stitched from two.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_bodies_are_read_in_ranges_and_never_stitched_from_two_versions() {
    use sortie_core::engine::RangedReads;
    let plain = noise((5 << 20) + 12_345, 5);
    let broken = noise(4 << 20, 6);
    let pinned = noise(3 << 20, 7);
    let unpinned = noise(3 << 20, 8);
    let small = noise(900 << 10, 9);
    let provider = scripted(vec![
        Object::new("plain", plain.clone()).with_md5(),
        Object::new("broken", broken.clone()).fault(Fault::RangeBreaksOnce).with_md5(),
        Object::new("pinned", pinned.clone()).fault(Fault::ReplacedWhileRead),
        Object::new("small", small.clone()),
        Object::new("unpinned", unpinned.clone()).fault(Fault::ReplacedUnpinned),
    ])
    .ranged()
    .open();
    let ranges = RangedReads { streams: 3, cutoff: 1 << 20, chunk: 1 << 20 };
    let ranged = ExportOptions { ranges, ..options() };
    let (summary, archive, _dir) = export_with(source(&provider).await, "ranges", &ranged).await;
    assert!(summary.complete, "{:?}", summary.failures);
    assert_eq!(summary.archived, 5);

    // 5 MiB and 12,345 bytes: the opening response's first MiB, then 5 ranges.
    assert_eq!((provider.opens("plain"), provider.range_opens("plain")), (1, 5));
    assert_eq!((provider.opens("broken"), provider.range_opens("broken")), (1, 4), "the broken range alone again");
    assert_eq!(provider.opens("pinned"), 2, "the refused version is opened again, whole");
    assert_eq!(provider.opens("unpinned"), 2, "the stitched body fails its checksum and is read again");
    assert_eq!(provider.range_opens("small"), 0, "below the cutoff, one stream");

    let verification = sortie_formats::verify::verify(&sortie_formats::input::Input::new(&archive)).unwrap();
    assert!(verification.intact(), "{:?}", verification.problems);
    let members = read_bag(&archive);
    assert_eq!(members["ranges/data/mem-test/plain"], plain);
    assert_eq!(members["ranges/data/mem-test/broken"], broken);
    assert_eq!(members["ranges/data/mem-test/pinned"], replaced(&pinned), "the version read whole");
    assert_eq!(members["ranges/data/mem-test/unpinned"], replaced(&unpinned));
    assert_eq!(members["ranges/data/mem-test/small"], small);

    let one_stream = ExportOptions { ranges: RangedReads { streams: 1, ..ranges }, ..options() };
    let provider = scripted(vec![Object::new("plain", plain.clone()).with_md5()]).ranged().open();
    let (summary, _archive, _dir) = export_with(source(&provider).await, "one", &one_stream).await;
    assert!(summary.complete);
    assert_eq!(provider.range_opens("plain"), 0, "--range-streams 1 reads one stream");
}
