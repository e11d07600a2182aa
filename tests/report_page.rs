//! The restitution page (`sortie/report.html` in the bag, `NAME.tar.zst.report.html` beside
//! it), opened in a real browser: headless Chromium renders it (`--dump-dom`) and prints it
//! to PDF, and every number it shows equals report.json's. Chromium is required: a machine
//! without it fails these tests (tests/servers/install installs it).

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Command;

use common::*;

/// Runs headless Chromium on `page` with `mode` (`--dump-dom`, `--print-to-pdf=FILE`), in a
/// new empty profile, with nothing that reaches the network; returns stdout.
fn chromium(page: &Path, mode: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let output = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-pdf-header-footer",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(mode)
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap_or_else(|e| panic!("chromium is needed by these tests ({e}): run `bash tests/servers/install`"));
    assert!(output.status.success(), "chromium {mode} failed:\n{}", all_text(&output));
    stdout(&output)
}

/// The `data-field` → `data-value` pairs inside the first element whose opening tag holds
/// `marker`, up to the end of that row or table.
fn numbers(dom: &str, marker: &str) -> BTreeMap<String, u64> {
    let start = dom.find(marker).unwrap_or_else(|| panic!("{marker} not in the page"));
    let rest = &dom[start..];
    let end = rest.find("</tr>").unwrap_or(rest.len());
    let mut found = BTreeMap::new();
    for piece in rest[..end].split("data-field=\"").skip(1) {
        let (field, after) = piece.split_once('"').unwrap();
        let value = after.split("data-value=\"").nth(1).unwrap().split('"').next().unwrap();
        found.insert(field.to_owned(), value.parse().unwrap());
    }
    found
}

/// The attribute `data-value` of the element with `id`.
fn value_of(dom: &str, id: &str) -> u64 {
    let at = dom.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("no #{id} in the page"));
    dom[at..].split("data-value=\"").nth(1).unwrap().split('"').next().unwrap().parse().unwrap()
}

fn counts(kind: &serde_json::Value) -> BTreeMap<String, u64> {
    let fields =
        ["listed", "listed_bytes", "archived", "archived_bytes", "excluded", "failed", "changed_since_listing"];
    fields.iter().map(|f| (f.to_string(), kind[*f].as_u64().unwrap_or(0))).collect()
}

fn add(total: &mut BTreeMap<String, u64>, more: &BTreeMap<String, u64>) {
    for (field, value) in more {
        *total.entry(field.clone()).or_default() += value;
    }
}

/// An incomplete export of a tree with a hostile name: one unreadable file (a failure), a
/// fifo named like markup (an exclusion), ordinary files and folders.
fn hostile_export(work: &Path) -> std::path::PathBuf {
    let source = work.join("tenant");
    write_tree(&source, &[("ok.txt", b"fine"), ("sub/b.txt", b"bravo!"), ("secret.txt", b"no access")]);
    set_mode(&source.join("secret.txt"), 0o000);
    let hostile = source.join("<script>document.title='pwned'<\\script>");
    assert!(Command::new("mkfifo").arg(&hostile).status().unwrap().success());
    let archive = work.join("tenant.tar.zst");
    let output =
        run_unprivileged(&["export", source.to_str().unwrap(), "-o", archive.to_str().unwrap(), "--retries", "0"]);
    assert_eq!(code(&output), 3, "{}", all_text(&output));
    archive
}

#[test]
fn the_page_renders_with_the_reports_numbers_and_escapes_hostile_names() {
    let work = open_tempdir();
    let archive = hostile_export(work.path());
    let beside = work.path().join("tenant.tar.zst.report.html");
    let dom = chromium(&beside, "--dump-dom");
    let bag = gnu_extract(&archive, "tenant");
    let report = report(&bag);

    assert!(dom.contains("<title>Data restitution report — tenant</title>"), "{dom}");
    assert!(!dom.contains("<script") && !dom.contains("pwned</title>"), "a name became markup:\n{dom}");
    assert!(dom.contains("&lt;script&gt;document.title='pwned'&lt;\\script&gt;"), "{dom}");
    assert!(dom.contains("data-complete=\"false\""), "{dom}");

    let mut total = BTreeMap::new();
    for (index, source) in report["sources"].as_array().unwrap().iter().enumerate() {
        for (kind, expected) in source["kinds"].as_object().unwrap() {
            let shown = numbers(&dom, &format!("data-source=\"{index}\" data-kind=\"{kind}\""));
            assert_eq!(shown, counts(expected), "source {index} kind {kind}");
            add(&mut total, &counts(expected));
        }
    }
    assert!(total["failed"] >= 1 && total["excluded"] >= 1 && total["archived"] >= 3, "{total:?}");
    assert_eq!(numbers(&dom, "data-total=\"all\""), total);
    assert_eq!(value_of(&dom, "failure-records"), report["failures"].as_array().unwrap().len() as u64);
    assert_eq!(value_of(&dom, "exclusion-records"), report["exclusions"].as_array().unwrap().len() as u64);

    let sidecar = fs::read_to_string(work.path().join("tenant.tar.zst.sha256")).unwrap();
    let sha256 = sidecar.split_whitespace().next().unwrap();
    assert!(dom.contains(&format!("<code id=\"archive-sha256\">{sha256}</code>")), "{dom}");
    assert!(dom.contains(&format!("<dd id=\"started\">{}</dd>", report["started"].as_str().unwrap())), "{dom}");
}

#[test]
fn the_copy_inside_the_bag_is_checked_and_says_why_it_has_no_sha256() {
    let work = open_tempdir();
    let source = work.path().join("docs");
    write_tree(&source, &[("a.txt", b"alpha"), ("b/c.txt", b"charlie")]);
    let (archive, output) = export(work.path(), "docs", &[&source], &[]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    let bag = gnu_extract(&archive, "docs");
    let tags = fs::read_to_string(bag.join("tagmanifest-sha256.txt")).unwrap();
    assert!(tags.lines().any(|line| line.ends_with("  sortie/report.html")), "{tags}");
    assert_tool_ok("sha256sum", &["-c", "tagmanifest-sha256.txt"], &bag);

    let dom = chromium(&bag.join("sortie/report.html"), "--dump-dom");
    assert!(dom.contains("data-complete=\"true\""), "{dom}");
    assert!(dom.contains("id=\"archive-sha256\">Not in this copy"), "{dom}");
    let sources = &report(&bag)["sources"];
    assert_eq!(numbers(&dom, "data-source=\"0\" data-kind=\"file\""), counts(&sources[0]["kinds"]["file"]));

    // `sortie report --html` makes again the page written beside the archive.
    let page = run(&["report", archive.to_str().unwrap(), "--html"]);
    assert_eq!(code(&page), 0, "{}", all_text(&page));
    assert_eq!(page.stdout, fs::read(work.path().join("docs.tar.zst.report.html")).unwrap());
}

#[test]
fn the_page_prints_to_a_pdf_that_holds_its_numbers() {
    let work = open_tempdir();
    let archive = hostile_export(work.path());
    let pdf = work.path().join("report.pdf");
    chromium(&work.path().join("tenant.tar.zst.report.html"), &format!("--print-to-pdf={}", pdf.display()));
    let bytes = fs::read(&pdf).unwrap();
    assert!(bytes.starts_with(b"%PDF-"), "not a PDF");
    let info = stdout(&tool("pdfinfo", &[pdf.to_str().unwrap()], work.path()));
    let pages: u32 = info.lines().find_map(|l| l.strip_prefix("Pages:")).unwrap().trim().parse().unwrap();
    assert!(pages >= 1, "{info}");
    let text = stdout(&tool("pdftotext", &["-layout", pdf.to_str().unwrap(), "-"], work.path()));
    assert!(text.contains("Data restitution report") && text.contains("INCOMPLETE"), "{text}");
    assert!(text.contains("secret.txt"), "the failure is on paper: {text}");
    let sidecar = fs::read_to_string(format!("{}.sha256", archive.display())).unwrap();
    assert!(text.contains(sidecar.split_whitespace().next().unwrap()), "the archive's sha256 is on paper: {text}");
}

#[test]
fn an_existing_page_is_replaced_only_with_force() {
    let work = open_tempdir();
    let source = work.path().join("src");
    write_tree(&source, &[("a.txt", b"alpha")]);
    let page = work.path().join("out.tar.zst.report.html");
    fs::write(&page, b"someone's page").unwrap();
    let (_, output) = export(work.path(), "out", &[&source], &[]);
    assert_eq!(code(&output), 2, "{}", all_text(&output));
    assert!(stderr(&output).contains("out.tar.zst.report.html already exists"), "{}", all_text(&output));
    assert_eq!(fs::read(&page).unwrap(), b"someone's page");
    let (_, output) = export(work.path(), "out", &[&source], &["--force", "--json"]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    assert!(fs::read_to_string(&page).unwrap().starts_with("<!DOCTYPE html>"));
    let summary: serde_json::Value = serde_json::from_str(stdout(&output).lines().last().unwrap()).unwrap();
    assert_eq!(summary["report_page"].as_str(), page.to_str(), "{summary}");
}

/// The checks the page gives, copied from it as a reader would and run by bash in the
/// archive's folder, pass — for an archive whose name starts with a dash and holds a space
/// and a quote, which a command would otherwise read as options or two words.
#[test]
fn the_checks_on_the_page_run_as_written() {
    let work = open_tempdir();
    let source = work.path().join("docs");
    write_tree(&source, &[("a.txt", b"alpha")]);
    let (archive, output) = export(work.path(), "-odd name's", &[&source], &[]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    let page = fs::read_to_string(work.path().join("-odd name's.tar.zst.report.html")).unwrap();
    let pre = &page[page.find("<pre>").unwrap() + 5..page.find("</pre>").unwrap()];
    let script = [("&lt;", "<"), ("&gt;", ">"), ("&quot;", "\""), ("&#39;", "'"), ("&amp;", "&")]
        .iter()
        .fold(pre.to_owned(), |text, (entity, ch)| text.replace(entity, ch));
    let output = tool("bash", &["-e", "-c", &script], work.path());
    assert!(output.status.success(), "{script}\n{}", all_text(&output));
    assert!(work.path().join("-odd name's/bag-info.txt").is_file(), "{script}");

    // The same checks fail on an archive that is not the one described.
    fs::write(&archive, b"not the archive").unwrap();
    assert!(!tool("bash", &["-e", "-c", &script], work.path()).status.success(), "{script}");
}

/// A name holding Unicode's bidirectional overrides (U+202E makes "pay\u{202E}fdp.exe" read
/// "payexe.pdf") is shown with them escaped, so that the page lists what the names are, not
/// what they pretend to be.
#[test]
fn names_that_reorder_text_are_shown_as_they_are() {
    let work = open_tempdir();
    let source = work.path().join("docs");
    write_tree(&source, &[("a.txt", b"alpha")]);
    let spoof = "pay\u{202E}fdp.exe";
    assert!(Command::new("mkfifo").arg(source.join(spoof)).status().unwrap().success());
    let (_, output) = export(work.path(), "bidi", &[&source], &[]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    let page = fs::read_to_string(work.path().join("bidi.tar.zst.report.html")).unwrap();
    assert!(!page.contains('\u{202E}'), "the override reached the page");
    assert!(page.contains("pay\\u{202e}fdp.exe"), "{page}");
}

/// Exports a one-file tree `docs` with `flags`, into `work/docs.tar.zst`.
fn export_docs(work: &Path, flags: &[&str]) -> (std::path::PathBuf, std::process::Output) {
    let source = work.join("docs");
    write_tree(&source, &[("a.txt", b"alpha")]);
    export(work, "docs", &[&source], flags)
}

/// `id -un` and `hostname`: who this test runs as, which the page must name.
fn local_user_and_host() -> (String, String) {
    let user = stdout(&tool("id", &["-un"], Path::new("/"))).trim().to_owned();
    let host = stdout(&tool("hostname", &[], Path::new("/"))).trim().to_owned();
    (user, host)
}

/// The operator's organization and contact go into bag-info.txt under RFC 8493's reserved
/// labels and onto the page, escaped; the page names the account each source was read as.
#[test]
fn the_page_names_who_exported_and_from_which_account() {
    let work = open_tempdir();
    let flags = ["--organization", "ACME <&> Corp", "--contact", "Jane Doe <jane@example.com>"];
    let (archive, output) = export_docs(work.path(), &flags);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    let bag = gnu_extract(&archive, "docs");
    let info = fs::read_to_string(bag.join("bag-info.txt")).unwrap();
    let (user, host) = local_user_and_host();
    for line in [
        "Source-Organization: ACME <&> Corp",
        "Contact-Name: Jane Doe",
        "Contact-Email: jane@example.com",
        &format!("Sortie-Operator: {user}@{host}"),
    ] {
        assert!(info.lines().any(|l| l == line), "no {line:?} in:\n{info}");
    }
    assert_eq!(report(&bag)["sources"][0]["account"], user.as_str());

    let dom = chromium(&work.path().join("docs.tar.zst.report.html"), "--dump-dom");
    assert!(dom.contains("<span id=\"organization\">ACME &lt;&amp;&gt; Corp</span>"), "{dom}");
    assert!(dom.contains("<span id=\"contact-name\">Jane Doe</span>"), "{dom}");
    assert!(dom.contains("<span id=\"contact-email\">jane@example.com</span>"), "{dom}");
    assert!(!dom.contains("id=\"anonymous\""), "{dom}");
    assert!(dom.contains(&format!("<dd id=\"ran-as\">{user}@{host} ")), "{dom}");
    assert!(dom.contains(&format!("account: <span class=\"account\">{user}</span>")), "{dom}");

    // The page `sortie report` makes from the archive names them too.
    let page = run(&["report", archive.to_str().unwrap(), "--html"]);
    assert_eq!(code(&page), 0, "{}", all_text(&page));
    assert_eq!(page.stdout, fs::read(work.path().join("docs.tar.zst.report.html")).unwrap());
}

#[test]
fn an_operator_who_gives_no_name_is_said_to_be_anonymous_and_named_by_user_and_host() {
    let work = open_tempdir();
    let (archive, output) = export_docs(work.path(), &[]);
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    let info = fs::read_to_string(gnu_extract(&archive, "docs").join("bag-info.txt")).unwrap();
    assert!(!info.contains("Source-Organization") && !info.contains("Contact-"), "{info}");
    let (user, host) = local_user_and_host();
    assert!(info.lines().any(|l| l == format!("Sortie-Operator: {user}@{host}")), "{info}");
    let dom = chromium(&work.path().join("docs.tar.zst.report.html"), "--dump-dom");
    assert!(dom.contains("id=\"anonymous\">The operator did not identify themselves"), "{dom}");
    assert!(dom.contains(&format!("<dd id=\"ran-as\">{user}@{host} ")), "{dom}");
}

/// A line break in --organization or --contact would forge a bag-info.txt field (here a
/// false `Sortie-Complete`): refused before anything is read, exit 2, no archive.
#[test]
fn a_line_break_in_the_operator_is_refused() {
    let work = open_tempdir();
    for flags in [
        ["--organization", "ACME\nSortie-Complete: true"],
        ["--contact", "Jane <jane@example.com>\r\nContact-Email: x@y"],
    ] {
        let (archive, output) = export_docs(work.path(), &flags);
        assert_eq!(code(&output), 2, "{}", all_text(&output));
        assert!(stderr(&output).contains("control character"), "{}", all_text(&output));
        assert!(stderr(&output).contains(flags[0]), "{}", all_text(&output));
        assert!(!archive.exists());
    }
    let (_, output) = export_docs(work.path(), &["--contact", "Jane <not an address>"]);
    assert_eq!(code(&output), 2, "{}", all_text(&output));
}
