//! Resuming interrupted exports (`export --resume`): kill -9 at random moments of a file,
//! S3 and Swift export, a kill while the tag files are written, a full disk, the stopping
//! signals, an item changed after being archived, and every refusal (other sources, other
//! output, another format version, a journal that does not match its partial).

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The last durable point of a journal: (archive bytes, payload bytes, done spool bytes).
fn last_durable(archive: &Path) -> Option<(u64, u64, u64)> {
    let text = fs::read_to_string(journal(archive)).ok()?;
    text.lines().rev().find_map(|line| {
        let (json, _) = line.rsplit_once(' ')?;
        let value: Value = serde_json::from_str(json).ok()?;
        (value["type"] == "durable").then(|| {
            let point = &value["archive"];
            (
                point["archive_bytes"].as_u64().unwrap(),
                point["payload_bytes"].as_u64().unwrap(),
                value["spools"][3].as_u64().unwrap(),
            )
        })
    })
}

fn journal(archive: &Path) -> PathBuf {
    PathBuf::from(format!("{}.journal", archive.display()))
}

fn partial(archive: &Path) -> PathBuf {
    PathBuf::from(format!("{}.partial", archive.display()))
}

/// Bytes the process has read so far (`rchar` of /proc/PID/io): its source files, and at
/// the start of a resumed run the partial's prefix and the done spool.
fn read_so_far(pid: u32) -> u64 {
    let io = fs::read_to_string(format!("/proc/{pid}/io")).unwrap_or_default();
    io.lines().find_map(|l| l.strip_prefix("rchar: ")).map_or(0, |n| n.trim().parse().unwrap())
}

fn kill(child: &mut Child, signal: i32) {
    // SAFETY: kill sends a signal to a child this test started.
    assert_eq!(unsafe { libc::kill(child.id() as i32, signal) }, 0);
}

/// What one kill -9 cost: bytes the killed run read, bytes that became durable during it.
struct Killed {
    read: u64,
    reread_at_start: u64,
    durable_gain: u64,
}

/// Runs `command` (an export to `archive`; `--resume` added from the second run on) and
/// kills it with SIGKILL `kills` times, each time once it has made some new work durable
/// and then after a random delay up to `jitter`; then resumes it to the end. Returns what
/// each kill cost.
fn kill_and_resume(
    command: impl Fn() -> Command,
    archive: &Path,
    kills: usize,
    jitter: Duration,
    seed: u64,
) -> (Vec<Killed>, std::process::Output) {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut costs = Vec::new();
    for round in 0..kills {
        let before = last_durable(archive);
        let mut cmd = command();
        if round > 0 && journal(archive).exists() {
            cmd.arg("--resume");
        }
        let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let started = Instant::now();
        // Wait for new durable work, so that each run makes progress, then a random moment.
        let mut finished = None;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                finished = Some(status);
                break;
            }
            if last_durable(archive) != before && last_durable(archive).is_some() {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(300), "round {round} made nothing durable");
            std::thread::sleep(Duration::from_millis(2));
        }
        if finished.is_none() {
            std::thread::sleep(jitter.mul_f64(rng.f64()));
        }
        if finished.is_some() || child.try_wait().unwrap().is_some() {
            let output = child.wait_with_output().unwrap();
            assert_eq!(code(&output), 0, "round {round} ended by itself: {}", all_text(&output));
            return (costs, output);
        }
        let read = read_so_far(child.id());
        kill(&mut child, libc::SIGKILL);
        child.wait().unwrap();
        let after = last_durable(archive).expect("a durable point");
        let (reread_at_start, durable_before) =
            before.map_or((0, 0), |(archive, payload, done)| (archive + done, payload));
        costs.push(Killed { read, reread_at_start, durable_gain: after.1 - durable_before });
        assert!(!archive.exists(), "a killed export left an archive under its final name");
    }
    let output = command().arg("--resume").output().unwrap();
    (costs, output)
}

/// Sorted manifest lines of an extracted bag, and its payload paths from the inventory.
fn manifest(bag: &Path) -> Vec<String> {
    let mut lines: Vec<String> =
        fs::read_to_string(bag.join("manifest-sha256.txt")).unwrap().lines().map(str::to_owned).collect();
    lines.sort();
    lines
}

fn assert_no_member_twice(archive: &Path) {
    let output = run(&["ls", archive.to_str().unwrap(), "--json"]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    let mut seen = BTreeSet::new();
    for line in stdout(&output).lines() {
        let value: Value = serde_json::from_str(line).unwrap();
        assert!(seen.insert(value["path"].as_str().unwrap().to_owned()), "{} appears twice", value["path"]);
    }
}

/// A tree of `mib` MiB: large files (streamed, a frame each) and many small ones (batched).
fn tree(root: &Path, mib: usize) {
    let large = (mib / 2) / 8;
    for i in 0..large {
        let dir = root.join(format!("large-{}", i % 4));
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(format!("f{i:04}.bin")), noise(8 << 20, i as u64)).unwrap();
    }
    let small = (mib / 2) * 16;
    for i in 0..small {
        let dir = root.join(format!("small-{}", i % 16));
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(format!("s{i:05}.txt")), noise(64 << 10, 1_000_000 + i as u64)).unwrap();
    }
}

#[test]
fn a_file_export_killed_20_times_resumes_into_the_archive_an_uninterrupted_run_makes() {
    let mib: usize = std::env::var("SORTIE_RESUME_TEST_MIB").map_or(512, |v| v.parse().unwrap());
    let work = open_tempdir();
    let source = work.path().join("src");
    tree(&source, mib);
    let archive = work.path().join("killed.tar.zst");
    let concurrency = 8u64;
    let command = || {
        let mut cmd = sortie();
        cmd.args(["export", source.to_str().unwrap(), "-o", archive.to_str().unwrap(), "--concurrency", "8"]);
        // Durable points close together, so that 20 kills land before the end.
        cmd.env("SORTIE_DURABLE_INTERVAL_MS", "100");
        cmd
    };
    let (costs, output) = kill_and_resume(command, &archive, 20, Duration::from_millis(300), 12);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    assert!(costs.len() >= 5, "only {} kills landed before the export ended", costs.len());
    assert!(stdout(&output).contains("resumed"), "{}", stdout(&output));

    // Bytes fetched again per kill: what the killed run read beyond what it re-read at its
    // start and what it made durable. At most the items in flight (fetching, and waiting in
    // the writer's channel: 3 × concurrency items of at most 8 MiB) and one durable step.
    let bound = 3 * concurrency * (8 << 20) + (64 << 20);
    for (n, cost) in costs.iter().enumerate() {
        let again = cost.read.saturating_sub(cost.reread_at_start).saturating_sub(cost.durable_gain);
        assert!(again <= bound, "kill {n}: {again} bytes fetched again, more than {bound}");
    }
    let total_again: u64 =
        costs.iter().map(|c| c.read.saturating_sub(c.reread_at_start).saturating_sub(c.durable_gain)).sum();
    eprintln!("{} kills, {} MiB fetched again in all", costs.len(), total_again >> 20);

    assert_eq!(code(&run(&["verify", archive.to_str().unwrap()])), 0);
    assert_no_member_twice(&archive);
    let bag = gnu_extract(&archive, "killed");
    assert_standard_tools_accept(&archive, &bag);
    assert_files_identical(&source, &bag, "fs-src");
    let runs = report(&bag)["runs"].as_array().unwrap().clone();
    assert_eq!(runs.len(), costs.len() + 1);
    assert!(runs[..costs.len()].iter().all(|r| r["outcome"] == "killed or crashed"), "{runs:?}");
    assert_eq!(runs.last().unwrap()["outcome"], "completed");
    let info = fs::read_to_string(bag.join("bag-info.txt")).unwrap();
    assert_eq!(info.lines().filter(|l| l.starts_with("Sortie-Run: ")).count(), runs.len());
    assert!(!journal(&archive).exists() && !partial(&archive).exists(), "the journal outlived the export");

    // The same member set, bytes and manifests as an uninterrupted run.
    let (whole, output) = export(work.path(), "whole", &[&source], &[]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    let whole_bag = gnu_extract(&whole, "whole");
    assert_eq!(manifest(&bag), manifest(&whole_bag));
    let counts = |bag: &Path| report(bag)["sources"][0]["kinds"].clone();
    assert_eq!(counts(&bag), counts(&whole_bag));
}

#[test]
fn a_kill_while_the_tag_files_are_written_is_resumed() {
    let work = open_tempdir();
    let source = work.path().join("src");
    // Many small files: a long manifest and inventory to write at the end.
    for i in 0..20_000 {
        let dir = source.join(format!("d{}", i % 50));
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(format!("{i}.txt")), format!("file {i}\n").repeat(i % 7 + 1)).unwrap();
    }
    let archive = work.path().join("tags.tar.zst");
    let mut landed = false;
    for attempt in 0..20 {
        let mut child = sortie()
            .args(["export", source.to_str().unwrap(), "-o", archive.to_str().unwrap(), "--force"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        while !fs::read_to_string(journal(&archive)).unwrap_or_default().contains("{\"type\":\"finishing\"}") {
            assert!(child.try_wait().unwrap().is_none() || archive.exists(), "attempt {attempt}: the export failed");
            if child.try_wait().unwrap().is_some() {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(120));
            std::thread::sleep(Duration::from_micros(200));
        }
        kill(&mut child, libc::SIGKILL);
        child.wait().unwrap();
        if !archive.exists() {
            landed = true;
            break;
        }
        fs::remove_file(&archive).unwrap();
        fs::remove_file(format!("{}.sha256", archive.display())).unwrap();
    }
    assert!(landed, "no kill landed between the last item and the rename in 20 attempts");
    let durable = last_durable(&archive).unwrap().0;
    assert!(fs::metadata(partial(&archive)).unwrap().len() >= durable);
    let output = run(&["export", source.to_str().unwrap(), "-o", archive.to_str().unwrap(), "--resume"]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    assert_eq!(code(&run(&["verify", archive.to_str().unwrap()])), 0);
    let bag = gnu_extract(&archive, "tags");
    assert_standard_tools_accept(&archive, &bag);
    // 20,000 files and their 50 directories, each file byte for byte.
    let records = inventory(&bag);
    assert_eq!(records.len(), 20_000 + 50);
    let paths: std::collections::HashMap<Vec<u8>, &str> =
        records.iter().filter_map(|r| Some((record_id(r), r["path"].as_str()?))).collect();
    for i in 0..20_000 {
        let id = format!("d{}/{i}.txt", i % 50);
        let path = paths.get(id.as_bytes()).unwrap_or_else(|| panic!("{id} not archived"));
        assert_eq!(fs::read(bag.join(path)).unwrap(), fs::read(source.join(&id)).unwrap(), "{id}");
    }
}

/// Starts an export of `source` to `archive` and waits until some of it is durable.
fn start_until_durable(source: &Path, archive: &Path, extra: &[&str]) -> Child {
    let child = sortie()
        .args(["export", source.to_str().unwrap(), "-o", archive.to_str().unwrap(), "--concurrency", "2"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while last_durable(archive).is_none_or(|(_, payload, _)| payload == 0) {
        assert!(started.elapsed() < Duration::from_secs(120), "nothing became durable");
        std::thread::sleep(Duration::from_millis(2));
    }
    child
}

/// A work directory with `src`: 48 files of 4 MiB, slow enough to stop half-way.
fn slow_source() -> (tempfile::TempDir, PathBuf) {
    let work = open_tempdir();
    let source = work.path().join("src");
    for i in 0..48u64 {
        write_tree(&source, &[(&format!("f{i:02}.bin"), &noise(4 << 20, i))]);
    }
    (work, source)
}

#[test]
fn sigterm_sighup_and_sigint_leave_a_resumable_partial_and_say_so() {
    let (work, source) = slow_source();
    for (signal, expected, name) in
        [(libc::SIGTERM, 143, "SIGTERM"), (libc::SIGHUP, 129, "SIGHUP"), (libc::SIGINT, 130, "SIGINT")]
    {
        let archive = work.path().join(format!("stopped-{signal}.tar.zst"));
        let slow = ["--zstd-level", "19", "--zstd-threads", "1"];
        let mut child = start_until_durable(&source, &archive, &slow);
        kill(&mut child, signal);
        if signal == libc::SIGINT {
            // A second Ctrl-C stops at once, still resumable.
            kill(&mut child, signal);
        }
        let output = child.wait_with_output().unwrap();
        let text = all_text(&output);
        assert_eq!(code(&output), expected, "{name}: {text}");
        assert!(text.contains(name) && text.contains("--resume"), "{name}: {text}");
        assert!(partial(&archive).exists() && journal(&archive).exists() && !archive.exists(), "{name}");

        let again = run(&["export", source.to_str().unwrap(), "-o", archive.to_str().unwrap()]);
        assert_eq!(code(&again), 2, "{}", all_text(&again));
        assert!(all_text(&again).contains("--resume") && all_text(&again).contains("--force"), "{}", all_text(&again));

        let resumed = run(&["export", source.to_str().unwrap(), "-o", archive.to_str().unwrap(), "--resume", "--json"]);
        assert_eq!(code(&resumed), 0, "{name}: {}", all_text(&resumed));
        // The JSON Lines events say the export resumed, with what earlier runs archived.
        let events: Vec<Value> = stdout(&resumed).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        let line = events.iter().find(|e| e["type"] == "resumed").expect("a resumed event");
        assert!(line["archived"].as_u64().unwrap() > 0 && line["runs"] == 2, "{line}");
        assert!(events.last().unwrap()["resumed"]["items"].as_u64().unwrap() > 0, "{:?}", events.last());
        let bag = gnu_extract(&archive, &format!("stopped-{signal}"));
        assert_standard_tools_accept(&archive, &bag);
        assert_files_identical(&source, &bag, "fs-src");
        let runs = report(&bag)["runs"].clone();
        if signal == libc::SIGINT {
            // Two signals sent at once may reach the process as one (the safe stop, which
            // records its end) or as two (stopped at once: no record of the end).
            let outcome = runs[0]["outcome"].as_str().unwrap();
            assert!(["stopped by SIGINT", "killed or crashed"].contains(&outcome), "{runs}");
        } else {
            assert_eq!(runs[0]["outcome"], format!("stopped by {name}"), "{runs}");
            assert!(runs[0]["ended"].is_string(), "{runs}");
        }
    }
}

/// Leaves an interrupted export of `source` to `archive` with some of it durable.
fn interrupted(source: &Path, archive: &Path) {
    let mut child = start_until_durable(source, archive, &["--zstd-level", "19", "--zstd-threads", "1"]);
    kill(&mut child, libc::SIGKILL);
    child.wait().unwrap();
}

#[test]
fn an_item_changed_after_being_archived_is_reported_and_the_archive_keeps_it() {
    let (work, source) = slow_source();
    let archive = work.path().join("changed.tar.zst");
    interrupted(&source, &archive);
    let (_, _, done) = last_durable(&archive).unwrap();
    let spool = fs::read(format!("{}.journal-done", archive.display())).unwrap();
    let first: Value = spool[..done as usize]
        .split(|b| *b == b'\n')
        .filter(|line| !line.is_empty())
        .map(|line| serde_json::from_slice::<Value>(line).unwrap())
        .find(|line| line["k"] == "file")
        .expect("a file is durable");
    let path = first["p"].as_str().unwrap().to_owned();
    let name = path.rsplit('/').next().unwrap();
    let original = fs::read(source.join(name)).unwrap();
    fs::write(source.join(name), b"rewritten after it was archived").unwrap();

    let output = run(&["export", source.to_str().unwrap(), "-o", archive.to_str().unwrap(), "--resume"]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    assert!(
        stdout(&output).contains("changed at the source after an earlier run archived them"),
        "{}",
        stdout(&output)
    );
    let bag = gnu_extract(&archive, "changed");
    assert_standard_tools_accept(&archive, &bag);
    assert_eq!(fs::read(bag.join(&path)).unwrap(), original, "the archive keeps what it archived");
    let report = report(&bag);
    let changed = report["changed_after_archived"].as_array().unwrap();
    assert_eq!(changed.len(), 1, "{report}");
    assert_eq!(changed[0]["path"], path);
    assert_eq!(changed[0]["archived"]["size"], original.len());
    assert_eq!(changed[0]["now"]["size"], 31);
    assert_eq!(report["sources"][0]["kinds"]["file"]["changed_after_archived"], 1);
    assert_eq!(report["complete"], true);
}

fn refused(args: &[&str], expected: &str) {
    let output = run(args);
    assert_eq!(code(&output), 2, "{args:?}: {}", all_text(&output));
    assert!(all_text(&output).contains(expected), "{args:?}: expected {expected:?} in {}", all_text(&output));
}

#[test]
fn resume_is_refused_for_other_sources_another_output_format_or_a_partial_that_does_not_match() {
    let (work, source) = slow_source();
    let other = work.path().join("other");
    write_tree(&other, &[("x", b"x")]);
    let archive = work.path().join("r.tar.zst");
    let out = archive.to_str().unwrap();
    let src = source.to_str().unwrap();
    interrupted(&source, &archive);

    // `inventory` of the same sources, run where the journal is, says it can be resumed.
    let listed = sortie().args(["inventory", src, "--json"]).current_dir(work.path()).output().unwrap();
    assert_eq!(code(&listed), 0, "{}", all_text(&listed));
    assert!(stderr(&listed).contains("r.tar.zst --resume"), "{}", all_text(&listed));
    let value: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(value["warnings"][0]["kind"], "interrupted_export", "{value}");
    let other_listed = sortie().args(["inventory", other.to_str().unwrap()]).current_dir(work.path()).output().unwrap();
    assert!(!stderr(&other_listed).contains("--resume"), "{}", all_text(&other_listed));

    refused(&["export", other.to_str().unwrap(), "-o", out, "--resume"], "source 1 was file://");
    refused(&["export", src, other.to_str().unwrap(), "-o", out, "--resume"], "had 1 source(s)");
    refused(&["export", src, "-o", out], "--resume");
    refused(
        &["export", src, "-o", work.path().join("elsewhere.tar.zst").to_str().unwrap(), "--resume"],
        "nothing to resume",
    );

    // The same files moved under another name are not that archive's.
    let moved = work.path().join("moved.tar.zst");
    for suffix in ["partial", "journal", "journal-manifest", "journal-inventory", "journal-failures"] {
        fs::rename(format!("{out}.{suffix}"), format!("{}.{suffix}", moved.display())).unwrap();
    }
    for suffix in ["journal-exclusions", "journal-done", "journal-changes"] {
        fs::rename(format!("{out}.{suffix}"), format!("{}.{suffix}", moved.display())).unwrap();
    }
    refused(&["export", src, "-o", moved.to_str().unwrap(), "--resume"], "the journal is for archive r.tar.zst");
    for suffix in [
        "partial",
        "journal",
        "journal-manifest",
        "journal-inventory",
        "journal-failures",
        "journal-exclusions",
        "journal-done",
        "journal-changes",
    ] {
        fs::rename(format!("{}.{suffix}", moved.display()), format!("{out}.{suffix}")).unwrap();
    }

    // A partial whose durable prefix was altered, or cut short.
    let partial_path = partial(&archive);
    let original = fs::read(&partial_path).unwrap();
    let mut tampered = original.clone();
    tampered[100] ^= 1;
    fs::write(&partial_path, &tampered).unwrap();
    refused(&["export", src, "-o", out, "--resume"], "not those the journal recorded");
    let durable = last_durable(&archive).unwrap().0 as usize;
    fs::write(&partial_path, &original[..durable - 1]).unwrap();
    refused(&["export", src, "-o", out, "--resume"], "the journal says");
    fs::write(&partial_path, &original).unwrap();

    // A journal damaged before its last line, and one of another format version.
    let journal_path = journal(&archive);
    let text = fs::read_to_string(&journal_path).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    lines[1] = lines[1].replacen("run_started", "run_startee", 1);
    fs::write(&journal_path, lines.join("\n") + "\n").unwrap();
    refused(&["export", src, "-o", out, "--resume"], "is damaged at line 2");
    let header = lines[0].rsplit_once(' ').unwrap().0.replace("\"format_version\":1", "\"format_version\":99");
    let sum = hex::encode(&Sha256::digest(header.as_bytes())[..8]);
    fs::write(&journal_path, format!("{header} {sum}\n") + &text.lines().skip(1).collect::<Vec<_>>().join("\n") + "\n")
        .unwrap();
    refused(&["export", src, "-o", out, "--resume"], "for archive format 99");

    // --force starts over, and the result is whole.
    let output = run(&["export", src, "-o", out, "--force"]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    let bag = gnu_extract(&archive, "r");
    assert_files_identical(&source, &bag, "fs-src");
    assert_eq!(report(&bag)["runs"].as_array().unwrap().len(), 1);
    assert!(!journal_path.exists());
}

/// A disk that fills: the export fails (exit 1) keeping what is durable; once space is
/// freed, `--resume` completes it.
#[test]
fn a_full_disk_stops_the_export_and_resume_completes_it_once_space_is_freed() {
    assert!(is_root(), "this test mounts a tmpfs: run it as root (CI does)");
    let (work, source) = slow_source();
    let disk = work.path().join("disk");
    fs::create_dir(&disk).unwrap();
    let mount = Command::new("mount").args(["-t", "tmpfs", "-o", "size=64m", "tmpfs"]).arg(&disk).output().unwrap();
    assert!(
        mount.status.success(),
        "MOUNTING A TMPFS WAS REFUSED, the full-disk test cannot run here: {}",
        all_text(&mount)
    );
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(disk.clone());
    let archive = disk.join("full.tar.zst");
    let out = archive.to_str().unwrap();
    // Durable points close together, so that some come before the disk is full.
    let output = sortie()
        .args(["export", source.to_str().unwrap(), "-o", out])
        .env("SORTIE_DURABLE_INTERVAL_MS", "20")
        .output()
        .unwrap();
    assert_eq!(code(&output), 1, "{}", all_text(&output));
    let text = all_text(&output);
    assert!(text.contains("No space left on device") && text.contains("--resume"), "{text}");
    assert!(!archive.exists() && partial(&archive).exists() && last_durable(&archive).is_some());

    let remount = Command::new("mount").args(["-o", "remount,size=512m"]).arg(&disk).output().unwrap();
    assert!(remount.status.success(), "{}", all_text(&remount));
    let output = run(&["export", source.to_str().unwrap(), "-o", out, "--resume"]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    assert_eq!(code(&run(&["verify", out])), 0);
    let bag = gnu_extract(&archive, "full");
    assert_standard_tools_accept(&archive, &bag);
    assert_files_identical(&source, &bag, "fs-src");
    let runs = report(&bag)["runs"].clone();
    // The run's end is one more line in the journal, on the disk that is full: written when
    // the failure left a few bytes free, else lost (this line of history only), and the run
    // then reads as killed.
    let outcome = runs[0]["outcome"].as_str().unwrap();
    assert!(outcome.starts_with("failed: ") || outcome == "killed or crashed", "{runs}");
}

/// Exports `args` (a remote source) to `archive` with only `env` (and PATH and a HOME of
/// its own), kills it up to 20 times, resumes it to the end, and checks the archive:
/// verified, valid, no member twice, every object byte for byte, one run per kill plus the
/// last.
fn kill_remote_and_check(
    home: &Path,
    env: &[(String, String)],
    args: &[&str],
    archive: &Path,
    seed: u64,
    objects: &std::collections::BTreeMap<Vec<u8>, Vec<u8>>,
) {
    let command = || {
        let mut cmd = sortie();
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", home)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .env("SORTIE_DURABLE_INTERVAL_MS", "50")
            .arg("export")
            .args(args)
            .args(["--concurrency", "4", "-o", archive.to_str().unwrap()]);
        cmd
    };
    let (costs, output) = kill_and_resume(command, archive, 20, Duration::from_millis(150), seed);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    let kills = costs.len();
    assert!(kills >= 5, "only {kills} kills landed");
    eprintln!("{kills} kills");
    let name = archive.file_name().unwrap().to_str().unwrap().strip_suffix(".tar.zst").unwrap();
    assert_eq!(code(&run(&["verify", archive.to_str().unwrap()])), 0);
    assert_no_member_twice(archive);
    let bag = gnu_extract(archive, name);
    assert_standard_tools_accept(archive, &bag);
    let records = inventory(&bag);
    for (key, body) in objects {
        let record = records
            .iter()
            .find(|r| record_id(r) == *key && r["path"].is_string())
            .unwrap_or_else(|| panic!("{} not archived", String::from_utf8_lossy(key)));
        assert!(fs::read(bag.join(record["path"].as_str().unwrap())).unwrap() == *body, "{}", record["path"]);
    }
    assert_eq!(report(&bag)["runs"].as_array().unwrap().len(), kills + 1);
    assert_eq!(report(&bag)["complete"], true);
}

fn objects(count: u64) -> std::collections::BTreeMap<Vec<u8>, Vec<u8>> {
    (0..count)
        .map(|n| {
            let size = if n % 10 == 0 { 2 << 20 } else { 48 << 10 };
            (format!("dir-{}/object-{n:04}", n % 5).into_bytes(), noise(size, 7_000 + n))
        })
        .collect()
}

#[test]
fn an_s3_export_killed_20_times_resumes_to_a_complete_archive() {
    let server = common::s3_server::S3Server::start("s3s-fs");
    let objects = objects(400);
    server.put_objects("resumed", &objects);
    let work = open_tempdir();
    let archive = work.path().join("s3.tar.zst");
    let env: Vec<(String, String)> = [
        ("AWS_ENDPOINT_URL", &server.endpoint),
        ("AWS_ACCESS_KEY_ID", &server.access_key),
        ("AWS_SECRET_ACCESS_KEY", &server.secret_key),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.clone()))
    .collect();
    let args = ["s3://resumed", "--s3-path-style"];
    kill_remote_and_check(work.path(), &env, &args, &archive, 3, &objects);
}

#[test]
fn a_swift_export_killed_20_times_resumes_to_a_complete_archive() {
    let stack = common::openstack::OpenStack::shared();
    let tenant = stack.tenant("resume");
    let dir = tempfile::tempdir().unwrap();
    let objects = objects(300);
    for (key, body) in &objects {
        let path = dir.path().join(String::from_utf8(key.clone()).unwrap());
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, body).unwrap();
    }
    tenant.tools(&["upload", "resumed", dir.path().to_str().unwrap()]);
    let work = open_tempdir();
    let archive = work.path().join("swift.tar.zst");
    kill_remote_and_check(work.path(), &tenant.password_env(), &["swift://resumed"], &archive, 4, &objects);
}

/// The safe cursor of source 0 at the journal's last durable point, if it has one.
fn safe_cursor(archive: &Path) -> Option<Value> {
    let text = fs::read_to_string(journal(archive)).ok()?;
    text.lines().rev().find_map(|line| {
        let (json, _) = line.rsplit_once(' ')?;
        let value: Value = serde_json::from_str(json).ok()?;
        (value["type"] == "durable").then(|| value["cursors"][0].clone()).filter(|c| !c.is_null())
    })
}

#[test]
fn a_resumed_s3_export_continues_the_listing_from_the_journal_cursor() {
    // moto answers 1,000 keys a page: 2,500 objects are three pages.
    let server = common::s3_server::S3Server::start("moto");
    let objects: std::collections::BTreeMap<Vec<u8>, Vec<u8>> =
        (0..2_500u64).map(|n| (format!("k/{n:05}").into_bytes(), noise(512, 90_000 + n))).collect();
    server.put_objects("paged", &objects);
    let work = open_tempdir();
    let archive = work.path().join("paged.tar.zst");
    let command = || {
        let mut cmd = sortie();
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", work.path())
            .env("AWS_ENDPOINT_URL", &server.endpoint)
            .env("AWS_ACCESS_KEY_ID", &server.access_key)
            .env("AWS_SECRET_ACCESS_KEY", &server.secret_key)
            .env("SORTIE_DURABLE_INTERVAL_MS", "20")
            .args(["export", "s3://paged", "--s3-path-style", "--concurrency", "2", "-o", archive.to_str().unwrap()]);
        cmd
    };
    let first_page = "GET /paged/?encoding-type=url&list-type=2 ";
    let mut child = command().stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let started = Instant::now();
    loop {
        // Past the first page of objects (the first page is the bucket's configuration).
        if safe_cursor(&archive).is_some_and(|c| c["kinds"]["object"]["listed"].as_u64() >= Some(1_000)) {
            break;
        }
        if child.try_wait().unwrap().is_some() {
            let output = child.wait_with_output().unwrap();
            panic!("the export ended before its first page was durable: {}", all_text(&output));
        }
        assert!(started.elapsed() < Duration::from_secs(300), "no safe cursor recorded");
        std::thread::sleep(Duration::from_millis(1));
    }
    kill(&mut child, libc::SIGKILL);
    child.wait().unwrap();
    let cursor = safe_cursor(&archive).unwrap();
    assert!(cursor["cursor"].is_string(), "{cursor}");
    let before = cursor["kinds"]["object"]["listed"].as_u64().unwrap();
    assert!(before >= 1_000 && before.is_multiple_of(1_000), "{cursor}");
    let log_before = server.log().len();

    let output = command().arg("--resume").arg("--json").output().unwrap();
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    // The resumed run listed from the cursor: never the first page, and only the pages
    // after the ones the journal says are handled.
    let log = server.log();
    let resumed = &log[log_before..];
    assert_eq!(resumed.matches(first_page).count(), 0, "the resumed run listed from the start:\n{resumed}");
    let pages = resumed.matches("GET /paged/?continuation-token=").count() as u64;
    assert_eq!(pages, (2_500 - before).div_ceil(1_000), "{resumed}");
    assert!(log[..log_before].matches(first_page).count() >= 1);

    // The counts add up as an uninterrupted run's.
    assert_eq!(code(&run(&["verify", archive.to_str().unwrap()])), 0);
    assert_no_member_twice(&archive);
    let bag = gnu_extract(&archive, "paged");
    let report = report(&bag);
    assert_eq!(report["complete"], true);
    let kinds = &report["sources"][0]["kinds"]["object"];
    assert_eq!(kinds["listed"], 2_500, "{kinds}");
    assert_eq!(kinds["archived"], 2_500, "{kinds}");
    assert_eq!(kinds["listed_bytes"], 2_500 * 512, "{kinds}");
    let archived = inventory(&bag).into_iter().filter(|r| r["kind"] == "object" && r["path"].is_string()).count();
    assert_eq!(archived, 2_500);
}
