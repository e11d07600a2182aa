//! The engine against a scripted in-memory provider: what a real server cannot be made to
//! do on demand (break mid-body, lie about a length or a checksum, fail a listing page).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::StreamExt;
use sortie_core::engine::{ExportOptions, export};
use sortie_core::item::{Item, Kind, ProviderChecksum, RawName};
use sortie_core::progress::silent;
use sortie_core::provider::{Body, Capabilities, Page, Provider};
use sortie_core::retry::RetryPolicy;
use sortie_core::{Error, ErrorKind, Result};

/// How an object's body misbehaves.
#[derive(Clone, Copy, PartialEq)]
enum Fault {
    None,
    /// The first attempt breaks after half the bytes, with a temporary error.
    BreakOnce,
    /// Every attempt delivers one byte less than announced.
    Short,
    /// The announced MD5 is wrong.
    BadMd5,
    /// The size is unknown to the listing and the response.
    UnknownSize,
    /// The provider refuses the credentials (an expired session token).
    Refused,
    /// Overwritten between the listing and the download: the response serves other bytes,
    /// with their own MD5 and a later modification time.
    Changed,
    /// The bytes are served, but metadata that belongs to them could not be read.
    MetadataMissing,
}

/// When every object was last modified, as listed (with a fraction, as Swift lists it).
fn listed_time() -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(1_700_000_000_500)
}

/// The bytes a `Changed` object has by the time it is downloaded: the first byte flipped
/// (same size) for a large one, two more bytes for a small one.
fn changed(data: &[u8]) -> Vec<u8> {
    let mut changed = data.to_vec();
    if changed.len() > 1 << 20 {
        changed[0] ^= 0xff;
    } else {
        changed.extend_from_slice(b"v2");
    }
    changed
}

struct Object {
    key: &'static str,
    data: Vec<u8>,
    fault: Fault,
    with_md5: bool,
}

struct Scripted {
    objects: Vec<Object>,
    /// The second page names itself as the next one, as a broken server might.
    stuck: bool,
    /// Temporary listing failures of the second page before it is served.
    listing_hiccups: u32,
    flat: bool,
    local: bool,
    opens: HashMap<&'static str, AtomicU32>,
    listing_failures: AtomicU32,
    /// Checks made; the first fails temporarily, as a 503 on an export's first request.
    checks: AtomicU32,
}

impl Scripted {
    fn new(objects: Vec<Object>, flat: bool, local: bool) -> Self {
        let opens = objects.iter().map(|o| (o.key, AtomicU32::new(0))).collect();
        Self {
            objects,
            stuck: false,
            listing_hiccups: 1,
            flat,
            local,
            opens,
            listing_failures: AtomicU32::new(0),
            checks: AtomicU32::new(0),
        }
    }

    fn opens(&self, key: &str) -> u32 {
        self.opens[key].load(Ordering::SeqCst)
    }
}

fn md5_hex(data: &[u8]) -> String {
    use md5::Digest;
    hex::encode(md5::Md5::digest(data))
}

#[async_trait]
impl Provider for Scripted {
    fn source_id(&self) -> String {
        "mem-test".into()
    }
    fn display_url(&self) -> String {
        "mem://test".into()
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities { flat_namespace: self.flat, local: self.local }
    }
    async fn check(&self) -> Result<()> {
        if self.checks.fetch_add(1, Ordering::SeqCst) == 0 {
            return Err(Error::new(ErrorKind::RateLimited, "slow down").temporary());
        }
        Ok(())
    }
    async fn list_page(&self, cursor: Option<String>) -> Result<Page> {
        // Two objects a page; the second page fails once, temporarily.
        let start: usize = cursor.as_deref().map_or(0, |c| c.parse().unwrap());
        if start == 2 && self.listing_failures.fetch_add(1, Ordering::SeqCst) < self.listing_hiccups {
            return Err(Error::new(ErrorKind::Unavailable, "listing hiccup").temporary());
        }
        let end = (start + 2).min(self.objects.len());
        if self.stuck && start == 2 {
            return Ok(Page { items: Vec::new(), next: Some(start.to_string()) });
        }
        let items = self.objects[start..end]
            .iter()
            .map(|o| {
                let segments = o.key.split('/').map(RawName::text).collect();
                let mut item = Item::new(RawName::text(o.key), segments, Kind::Object);
                item.size = (o.fault != Fault::UnknownSize).then_some(o.data.len() as u64);
                item.modified = Some(listed_time());
                if o.with_md5 {
                    let md5 = if o.fault == Fault::BadMd5 { "0".repeat(32) } else { md5_hex(&o.data) };
                    item.checksum = Some(ProviderChecksum {
                        served: format!("\"{md5}\""),
                        md5: Some(md5),
                        note: None,
                        sha256: None,
                        sha512: None,
                        parts_md5: None,
                    });
                }
                item
            })
            .collect();
        Ok(Page { items, next: (end < self.objects.len()).then(|| end.to_string()) })
    }
    async fn open(&self, item: &Item) -> Result<Body> {
        let object = self.objects.iter().find(|o| o.key.as_bytes() == item.id.0).unwrap();
        let attempt = self.opens[object.key].fetch_add(1, Ordering::SeqCst);
        if object.fault == Fault::Refused {
            return Err(Error::new(ErrorKind::Unauthenticated, "the session token has expired"));
        }
        let data =
            Bytes::from(if object.fault == Fault::Changed { changed(&object.data) } else { object.data.clone() });
        let chunks: Vec<Result<Bytes>> = match object.fault {
            Fault::BreakOnce if attempt == 0 => vec![
                Ok(data.slice(..data.len() / 2)),
                Err(Error::new(ErrorKind::Unavailable, "connection reset").temporary()),
            ],
            Fault::Short => vec![Ok(data.slice(..data.len() - 1))],
            _ => data.chunks(64 * 1024).map(|c| Ok(Bytes::copy_from_slice(c))).collect(),
        };
        let size = match object.fault {
            Fault::UnknownSize => None,
            _ => Some(data.len() as u64),
        };
        // An HTTP date: whole seconds, rounded up as Swift does; an hour later once changed.
        let modified = UNIX_EPOCH + Duration::from_secs(1_700_000_001);
        let (checksum, modified) = match object.fault {
            Fault::Changed => {
                let md5 = md5_hex(&data);
                let checksum = ProviderChecksum {
                    served: format!("\"{md5}\""),
                    md5: Some(md5),
                    note: None,
                    sha256: None,
                    sha512: None,
                    parts_md5: None,
                };
                (Some(checksum), modified + Duration::from_secs(3600))
            }
            _ => (None, modified),
        };
        Ok(Body {
            size,
            checksum,
            content_type: None,
            meta: Default::default(),
            modified: Some(modified),
            stream: futures_util::stream::iter(chunks).boxed(),
            incomplete: (object.fault == Fault::MetadataMissing).then(|| "its tag set could not be read".to_owned()),
        })
    }
}

fn noise(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 9) as u8).collect()
}

fn options() -> ExportOptions {
    ExportOptions {
        retry: RetryPolicy {
            retries: 2,
            base: std::time::Duration::from_millis(1),
            max: std::time::Duration::from_millis(5),
        },
        ..ExportOptions::default()
    }
}

/// Exports `provider` alone with the test options into `NAME.tar.zst` in a new directory,
/// kept as long as the returned guard.
async fn export_one(
    provider: Arc<dyn Provider>,
    name: &str,
) -> (sortie_core::engine::ExportSummary, std::path::PathBuf, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join(format!("{name}.tar.zst"));
    let summary = export(&[provider], &archive, &options(), silent()).await.unwrap();
    (summary, archive, dir)
}

fn read_bag(archive: &std::path::Path) -> HashMap<String, Vec<u8>> {
    use std::io::Read;
    let mut members = HashMap::new();
    let mut tar = sortie_formats::reader::open(archive).unwrap();
    for member in tar.members().unwrap() {
        let mut member = member.unwrap();
        let (path, _) = member.path();
        let mut data = Vec::new();
        member.read_to_end(&mut data).unwrap();
        members.insert(path, data);
    }
    members
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
    let provider = Arc::new(Scripted::new(
        vec![
            Object { key: "a", data: b"leaf a".to_vec(), fault: Fault::None, with_md5: true },
            Object { key: "a/b", data: b"under a".to_vec(), fault: Fault::None, with_md5: false },
            Object { key: "big", data: big.clone(), fault: Fault::BreakOnce, with_md5: true },
            Object { key: "liar", data: noise(5000, 3), fault: Fault::Short, with_md5: false },
            Object { key: "liar-big", data: noise(2 << 20, 4), fault: Fault::Short, with_md5: false },
            Object { key: "md5", data: b"checksum".to_vec(), fault: Fault::BadMd5, with_md5: true },
            Object { key: "spilled", data: spilled.clone(), fault: Fault::UnknownSize, with_md5: true },
        ],
        true,
        local,
    ));
    let (summary, archive, _dir) = export_one(provider.clone(), "faults").await;

    assert!(!summary.complete);
    assert_eq!((summary.archived, summary.failed), (4, 3));
    assert_eq!(provider.opens("big"), 2, "the broken stream was retried once");
    assert_eq!(provider.opens("liar"), 3, "a short body is retried, then recorded");
    assert_eq!(provider.opens("liar-big"), 3, "a short live body too");
    assert_eq!(provider.listing_failures.load(Ordering::SeqCst), 2, "the failed listing page was asked again");

    let verification = sortie_formats::verify::verify(&archive).unwrap();
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
    let objects = ["a", "b", "c", "d"]
        .into_iter()
        .map(|key| Object { key, data: key.as_bytes().to_vec(), fault: Fault::None, with_md5: false })
        .collect();
    let mut provider = Scripted::new(objects, false, true);
    provider.listing_hiccups = u32::MAX;
    let providers: Vec<Arc<dyn Provider>> = vec![Arc::new(provider)];
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("cut.tar.zst");
    let summary = export(&providers, &archive, &options(), silent()).await.unwrap();

    assert!(!summary.complete);
    assert_eq!((summary.archived, summary.failed), (2, 1), "the first page is archived, the listing failure counted");
    let verification = sortie_formats::verify::verify(&archive).unwrap();
    assert!(verification.intact(), "{:?}", verification.problems);
    assert_eq!(verification.complete, Some(false));
    let report: serde_json::Value = serde_json::from_slice(&read_bag(&archive)["cut/sortie/report.json"]).unwrap();
    let failure = &report["failures"][0];
    assert_eq!(failure["kind"], "listing");
    assert!(failure["error"].as_str().unwrap().contains("listing of mem-test stopped after 2 items"), "{failure}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_the_credentials_are_refused_the_rest_is_recorded_without_asking() {
    let object = |key, fault| Object { key, data: vec![b'x'; 10], fault, with_md5: false };
    let provider = Arc::new(Scripted::new(
        vec![
            object("a", Fault::None),
            object("b", Fault::None),
            object("c", Fault::Refused),
            object("d", Fault::None),
            object("e", Fault::None),
            object("f", Fault::None),
        ],
        false,
        false,
    ));
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("refused.tar.zst");
    let providers: Vec<Arc<dyn Provider>> = vec![provider.clone()];
    let options = ExportOptions { concurrency: 1, ..options() };
    let summary = export(&providers, &archive, &options, silent()).await.unwrap();

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
    let objects = ["a", "b", "c", "d"]
        .into_iter()
        .map(|key| Object { key, data: key.as_bytes().to_vec(), fault: Fault::None, with_md5: false })
        .collect();
    let mut provider = Scripted::new(objects, true, false);
    provider.stuck = true;
    provider.listing_hiccups = 0;
    let providers: Vec<Arc<dyn Provider>> = vec![Arc::new(provider)];
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("stuck.tar.zst");
    let options = options();
    let export = export(&providers, &archive, &options, silent());
    let summary = tokio::time::timeout(std::time::Duration::from_secs(60), export)
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
    let provider = Arc::new(Scripted::new(
        vec![
            Object { key: "big", data: big.clone(), fault: Fault::Changed, with_md5: true },
            Object { key: "same", data: b"unchanged".to_vec(), fault: Fault::None, with_md5: true },
            Object { key: "small", data: b"version 1".to_vec(), fault: Fault::Changed, with_md5: true },
        ],
        true,
        false,
    ));
    let (summary, archive, _dir) = export_one(provider.clone(), "changed").await;
    assert!(summary.complete, "a changed object is archived as fetched, not failed");
    assert_eq!((summary.archived, summary.changed_since_listing), (3, 2));

    let members = read_bag(&archive);
    assert_eq!(members["changed/data/mem-test/big"], changed(&big));
    assert_eq!(members["changed/data/mem-test/small"], b"version 1v2");
    let report: serde_json::Value = serde_json::from_slice(&members["changed/sortie/report.json"]).unwrap();
    let counts = &report["sources"][0]["kinds"]["object"];
    assert_eq!(counts["changed_since_listing"], 2, "{counts}");
    assert_eq!(counts["listed_bytes"].as_u64().unwrap() + 2, counts["archived_bytes"].as_u64().unwrap());
    let inventory: Vec<serde_json::Value> = String::from_utf8(members["changed/sortie/inventory.jsonl"].clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
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
    let object = |key, fault| Object { key, data: key.as_bytes().to_vec(), fault, with_md5: true };
    let provider =
        Arc::new(Scripted::new(vec![object("a", Fault::None), object("b", Fault::MetadataMissing)], false, false));
    let (summary, archive, _dir) = export_one(provider.clone(), "meta").await;

    assert_eq!(provider.checks.load(Ordering::SeqCst), 2, "a temporary error on the check is retried");
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
