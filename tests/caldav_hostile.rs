//! `caldav://` against a hostile server on 127.0.0.1 (canned answers, every request
//! recorded): hrefs that point elsewhere never make Sortie send a request (or the
//! password) to another host or outside the collection, names that collide never overwrite
//! one another in the archive, and an endless multistatus never grows memory without bound.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use common::{all_text, code, gnu_extract, inventory, sortie};

/// The password the hostile server is given, looked for where it must never be.
const PASSWORD: &str = "hostile-secret-pw";

/// A canned answer's body: text, or `head`, `unit` `count` times and `tail`, streamed.
enum Body {
    Text(String),
    Endless {
        head: String,
        unit: String,
        count: usize,
        tail: String,
    },
    /// No body, a `Location` header.
    Redirect(String),
    /// The request's headers, the credentials among them, sent back as the body.
    Echo,
    /// The text, but its first sending stops halfway (the full length announced).
    CutOnce(String, std::sync::atomic::AtomicBool),
}

/// A server answering `METHOD PATH` with a status and a body (404 for anything else), and
/// recording each request it receives as `METHOD PATH`.
struct Hostile {
    port: u16,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Hostile {
    fn start(routes: Vec<(String, u16, Body)>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (seen, routes) = (requests.clone(), Arc::new(routes));
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (seen, routes) = (seen.clone(), routes.clone());
                std::thread::spawn(move || answer(stream, &seen, &routes));
            }
        });
        Self { port, requests }
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

fn answer(stream: TcpStream, seen: &Mutex<Vec<String>>, routes: &[(String, u16, Body)]) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let (mut length, mut headers) = (0usize, String::new());
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).unwrap();
        if header.trim().is_empty() {
            break;
        }
        headers.push_str(&header);
        if let Some(value) = header.to_ascii_lowercase().strip_prefix("content-length:") {
            length = value.trim().parse().unwrap();
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    let target: Vec<&str> = line.split_whitespace().take(2).collect();
    let target = target.join(" ");
    seen.lock().unwrap().push(target.clone());
    let mut stream = stream;
    let Some((_, status, body)) = routes.iter().find(|(t, _, _)| *t == target) else {
        let _ = stream.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        return;
    };
    let head = |length: usize| {
        format!(
            "HTTP/1.1 {status} X\r\nContent-Type: application/xml; charset=utf-8\r\nContent-Length: {length}\r\n\
             Connection: close\r\n\r\n"
        )
    };
    let _ = match body {
        Body::Redirect(to) => stream.write_all(
            format!("HTTP/1.1 {status} X\r\nLocation: {to}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        ),
        Body::CutOnce(text, cut) => {
            let end = if cut.swap(true, std::sync::atomic::Ordering::SeqCst) { text.len() } else { text.len() / 2 };
            stream.write_all(format!("{}{}", head(text.len()), &text[..end]).as_bytes())
        }
        Body::Echo => stream.write_all(format!("{}{headers}", head(headers.len())).as_bytes()),
        Body::Text(text) => stream.write_all(format!("{}{text}", head(text.len())).as_bytes()),
        Body::Endless { head: first, unit, count, tail } => {
            let length = first.len() + unit.len() * count + tail.len();
            let mut written = stream.write_all(format!("{}{first}", head(length)).as_bytes());
            let block = unit.repeat((64 << 10) / unit.len().max(1) + 1);
            let per_block = block.len() / unit.len();
            let mut left = *count;
            while written.is_ok() && left > 0 {
                let n = left.min(per_block);
                written = stream.write_all(&block.as_bytes()[..n * unit.len()]);
                left -= n;
            }
            written.and_then(|()| stream.write_all(tail.as_bytes()))
        }
    };
}

fn multistatus(responses: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><D:multistatus xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">{responses}</D:multistatus>"#
    )
}

/// A calendar collection's own response.
fn calendar(href: &str) -> String {
    format!(
        "<D:response><D:href>{href}</D:href><D:propstat><D:prop><D:resourcetype><D:collection/><C:calendar/>\
         </D:resourcetype></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>"
    )
}

/// A member's response in a collection's listing.
fn member(href: &str) -> String {
    format!(
        "<D:response><D:href>{href}</D:href><D:propstat><D:prop><D:resourcetype/><D:getetag>\"1\"</D:getetag>\
         </D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>"
    )
}

fn event(uid: &str) -> String {
    format!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:{uid}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
}

fn route(target: &str, status: u16, body: String) -> (String, u16, Body) {
    (target.to_owned(), status, Body::Text(body))
}

/// `sortie export` of `url` with the password, `-vv`; its output and the archive's path.
fn export(url: &str, dir: &std::path::Path, name: &str) -> (std::process::Output, std::path::PathBuf) {
    let archive = dir.join(format!("{name}.tar.zst"));
    let output = sortie()
        .args(["export", url, "-vv", "--set", "batch=2", "--set", "plain_http=yes", "-o"])
        .arg(&archive)
        .env("SORTIE_DAV_PASSWORD", PASSWORD)
        .env_remove("SORTIE_DAV_CA_BUNDLE")
        .output()
        .unwrap();
    (output, archive)
}

#[test]
fn hrefs_to_another_host_or_outside_the_collection_are_never_followed() {
    let elsewhere = Hostile::start(Vec::new());
    let other = elsewhere.port;
    let outside = [
        // Glued to the origin as text, `@` would make the real server a user name.
        format!("@127.0.0.1:{other}/cal/a.ics"),
        format!("http://127.0.0.1:{other}/cal/b.ics"),
        format!("//127.0.0.1:{other}/cal/c.ics"),
        "/cal/../secret/d.ics".to_owned(),
        "/other/e.ics".to_owned(),
    ];
    for (index, href) in outside.iter().enumerate() {
        let listing = multistatus(&format!("{}{}{}", calendar("/cal/"), member("/cal/fine.ics"), member(href)));
        let server = Hostile::start(vec![
            route("PROPFIND /cal/", 207, listing),
            // No multiget: every resource is read by GET, where a request would go astray.
            route("REPORT /cal/", 501, String::new()),
            route("GET /cal/fine.ics", 200, event("fine")),
        ]);
        let dir = tempfile::tempdir().unwrap();
        let (output, _) = export(&format!("caldav://alice@127.0.0.1:{}/cal/", server.port), dir.path(), "h");
        let text = all_text(&output);
        assert_ne!(code(&output), 0, "{href}: a listing that names a resource elsewhere fails: {text}");
        assert!(text.contains(href.trim_start_matches('@')), "{href}: the error names it: {text}");
        assert!(!text.contains(PASSWORD), "{href}: {text}");
        let requests = server.requests();
        assert!(
            requests
                .iter()
                .all(|r| r.starts_with("PROPFIND /cal/") || r.starts_with("REPORT /cal/") || r == "GET /cal/fine.ics"),
            "{href}: only the collection and its members are asked for: {requests:?}"
        );
        assert!(elsewhere.requests().is_empty(), "case {index} {href}: {:?}", elsewhere.requests());
    }
}

/// A principal whose calendar home sets are `homes`.
fn principal(href: &str, homes: &[&str]) -> String {
    let homes: String = homes.iter().map(|h| format!("<D:href>{h}</D:href>")).collect();
    multistatus(&format!(
        "<D:response><D:href>{href}</D:href><D:propstat><D:prop><D:resourcetype><D:principal/></D:resourcetype>\
         <C:calendar-home-set>{homes}</C:calendar-home-set></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat>\
         </D:response>"
    ))
}

#[test]
fn names_that_meet_in_the_archive_are_kept_apart_and_an_href_listed_twice_is_archived_once() {
    // `work` in two home sets, a calendar called `account` (beside `_config/account.json`),
    // `event` and `event.ics` (one file once the extension is added), one href twice.
    let calendars = [
        ("/alice/a/work/", vec!["event", "event.ics", "event.ics", "other.ics"]),
        ("/alice/b/work/", vec!["event.ics"]),
        ("/alice/b/account/", vec!["x.ics"]),
    ];
    let mut routes = vec![
        route("PROPFIND /alice/", 207, principal("/alice/", &["/alice/a/", "/alice/b/"])),
        route("PROPFIND /alice/a/", 207, multistatus(&calendar("/alice/a/work/"))),
        route(
            "PROPFIND /alice/b/",
            207,
            multistatus(&format!("{}{}", calendar("/alice/b/work/"), calendar("/alice/b/account/"))),
        ),
    ];
    let mut expected = Vec::new();
    for (href, members) in &calendars {
        let listing: String = members.iter().map(|m| member(&format!("{href}{m}"))).collect();
        routes.push(route(&format!("PROPFIND {href}"), 207, multistatus(&format!("{}{listing}", calendar(href)))));
        routes.push(route(&format!("REPORT {href}"), 501, String::new()));
        for m in members {
            let body = event(&format!("{href}{m}"));
            if !expected.contains(&body) {
                expected.push(body.clone());
                routes.push(route(&format!("GET {href}{m}"), 200, body));
            }
        }
    }
    let server = Hostile::start(routes);
    let dir = tempfile::tempdir().unwrap();
    let (output, archive) = export(&format!("caldav://alice@127.0.0.1:{}/alice/", server.port), dir.path(), "names");
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    let bag = gnu_extract(&archive, "names");
    let records = inventory(&bag);
    let mut archived: Vec<String> = records
        .iter()
        .filter(|r| r["kind"] == "event")
        .map(|r| std::fs::read_to_string(bag.join(r["path"].as_str().unwrap())).unwrap())
        .collect();
    archived.sort();
    expected.sort();
    assert_eq!(archived, expected, "every resource once, none hidden by another");
    let configs = records.iter().filter(|r| r["kind"] == "config").count();
    assert_eq!(configs, 4, "the account and each calendar described apart: {records:?}");
    common::assert_standard_tools_accept(&archive, &bag);
}

#[test]
fn a_well_known_redirect_to_another_host_is_not_followed() {
    let elsewhere = Hostile::start(Vec::new());
    let location = format!("http://127.0.0.1:{}/dav/", elsewhere.port);
    let server = Hostile::start(vec![
        ("PROPFIND /.well-known/caldav".to_owned(), 301, Body::Redirect(location)),
        route("PROPFIND /", 207, principal("/", &["/home/"])),
        route("PROPFIND /home/", 207, multistatus(&calendar("/home/cal/"))),
        route("PROPFIND /home/cal/", 207, multistatus(&calendar("/home/cal/"))),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let (output, _) = export(&format!("caldav://alice@127.0.0.1:{}/", server.port), dir.path(), "wk");
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    assert!(elsewhere.requests().is_empty(), "{:?}", elsewhere.requests());
}

#[test]
fn an_endless_multistatus_stops_at_the_cap_with_a_clear_error() {
    let head = multistatus(&calendar("/cal/"));
    let (head, tail) = head.split_at(head.len() - "</D:multistatus>".len());
    let unit = member("/cal/same.ics");
    let count = (257 << 20) / unit.len();
    let endless = Body::Endless { head: head.to_owned(), unit, count, tail: tail.to_owned() };
    let server = Hostile::start(vec![("PROPFIND /cal/".to_owned(), 207, endless)]);
    let dir = tempfile::tempdir().unwrap();
    let (output, _) = export(&format!("caldav://alice@127.0.0.1:{}/cal/", server.port), dir.path(), "endless");
    let text = all_text(&output);
    assert_ne!(code(&output), 0, "{text}");
    assert!(text.contains("with a multistatus over 256 MiB"), "{text}");
}

#[test]
fn hostile_resource_names_are_escaped_and_extract_inside_the_target() {
    let long = "n".repeat(400);
    let names = [
        "..%2f..%2fescape.ics".to_owned(),
        "%01bell%07%0a.ics".to_owned(),
        format!("{long}.ics"),
        "%2e%2e.ics".to_owned(),
    ];
    let listing: String = names.iter().map(|n| member(&format!("/cal/{n}"))).collect();
    let mut routes = vec![
        route("PROPFIND /cal/", 207, multistatus(&format!("{}{listing}", calendar("/cal/")))),
        route("REPORT /cal/", 501, String::new()),
    ];
    routes.extend(names.iter().map(|n| route(&format!("GET /cal/{n}"), 200, event(n))));
    let server = Hostile::start(routes);
    let dir = tempfile::tempdir().unwrap();
    let (output, archive) = export(&format!("caldav://alice@127.0.0.1:{}/cal/", server.port), dir.path(), "hostile");
    assert_eq!(code(&output), 0, "{}", all_text(&output));
    let bag = gnu_extract(&archive, "hostile");
    let records = inventory(&bag);
    for name in &names {
        let record = records.iter().find(|r| r["id"] == format!("/cal/{name}")).unwrap_or_else(|| panic!("{name}"));
        let path = record["path"].as_str().unwrap();
        assert!(path.starts_with("data/caldav-") && path.split('/').count() == 4, "{name}: {path}");
        assert!(path.split('/').all(|s| s.len() <= 255 && s != ".." && !s.chars().any(char::is_control)), "{path}");
        assert_eq!(std::fs::read_to_string(bag.join(path)).unwrap(), event(name), "{name}");
    }
    let mut left: Vec<String> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    left.sort();
    assert_eq!(
        left,
        ["hostile-x", "hostile.tar.zst", "hostile.tar.zst.report.html", "hostile.tar.zst.sha256"],
        "GNU tar wrote nothing beside the target"
    );
    common::assert_standard_tools_accept(&archive, &bag);
}

#[test]
fn a_password_or_token_is_never_in_logs_errors_the_plan_or_the_archive() {
    let token = "hostile-bearer-token";
    let server = Hostile::start(vec![
        route("PROPFIND /cal/", 207, multistatus(&format!("{}{}", calendar("/cal/"), member("/cal/e.ics")))),
        route("REPORT /cal/", 501, String::new()),
        route("GET /cal/e.ics", 200, event("e")),
        ("PROPFIND /denied/".to_owned(), 403, Body::Echo),
        ("PROPFIND /refused/".to_owned(), 401, Body::Echo),
    ]);
    let url = format!("caldav://alice@127.0.0.1:{}/cal/", server.port);
    let denied = format!("caldav://alice@127.0.0.1:{}/denied/", server.port);
    for secret in [format!("password={PASSWORD}"), format!("token={token}")] {
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("s.tar.zst");
        let run = |args: &[&str]| {
            let mut command = sortie();
            command.args(args).args(["-vv", "--set", "plain_http=yes", "--set", &secret]);
            command.env_remove("SORTIE_DAV_PASSWORD").env_remove("SORTIE_DAV_TOKEN").output().unwrap()
        };
        let plan = run(&["plan", "--json", &url]);
        assert_eq!(code(&plan), 0, "{}", all_text(&plan));
        let export = run(&["export", &url, "-o", archive.to_str().unwrap()]);
        assert_eq!(code(&export), 0, "{}", all_text(&export));
        // The server echoes the request's headers in its refusal, which the error quotes.
        let failed = run(&["export", &denied, "-o", dir.path().join("f.tar.zst").to_str().unwrap()]);
        assert_ne!(code(&failed), 0, "{}", all_text(&failed));
        let refused =
            run(&["export", &url.replace("/cal/", "/refused/"), "-o", dir.path().join("r.tar.zst").to_str().unwrap()]);
        assert_eq!(code(&refused), 1, "{}", all_text(&refused));
        let setting = secret.split('=').next().unwrap();
        assert!(all_text(&refused).contains("(401)") && all_text(&refused).contains(&format!("`{setting}`")));
        let bag = gnu_extract(&archive, "s");
        let mut texts = vec![all_text(&plan), all_text(&export), all_text(&failed), all_text(&refused)];
        for entry in walk(&bag) {
            texts.push(String::from_utf8_lossy(&std::fs::read(entry).unwrap()).into_owned());
        }
        for text in texts {
            // `alice:PASSWORD` in Basic auth's base64, which the echoing server sends back.
            let basic = "YWxpY2U6aG9zdGlsZS1zZWNyZXQtcHc";
            assert!(!text.contains(PASSWORD) && !text.contains(token) && !text.contains(basic), "{secret}: {text}");
        }
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() { files.extend(walk(&path)) } else { files.push(path) }
    }
    files
}

#[test]
fn a_multiget_body_above_what_a_listing_may_carry_is_read_by_get() {
    // The listing announces no size, so the page asks the multiget for it; the body
    // (17 MiB) is more than a multistatus property may hold.
    let mut big = String::from("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:big\r\n");
    while big.len() < 17 << 20 {
        big.push_str("X-PAD:0123456789012345678901234567890123456789012345678901234567890123456789\r\n");
    }
    big.push_str("END:VEVENT\r\nEND:VCALENDAR\r\n");
    let report = multistatus(&format!(
        "<D:response><D:href>/cal/big.ics</D:href><D:propstat><D:prop><D:getetag>\"1\"</D:getetag>\
         <C:calendar-data>{big}</C:calendar-data></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat>\
         </D:response>"
    ));
    let server = Hostile::start(vec![
        route("PROPFIND /cal/", 207, multistatus(&format!("{}{}", calendar("/cal/"), member("/cal/big.ics")))),
        route("REPORT /cal/", 207, report),
        route("GET /cal/big.ics", 200, big.clone()),
    ]);
    assert_read_by_get(&server, &big, "big");
}

/// Exports `/cal/` of `server`, whose `big.ics` must be archived as `body`, read by GET.
fn assert_read_by_get(server: &Hostile, body: &str, name: &str) {
    let dir = tempfile::tempdir().unwrap();
    let (output, archive) = export(&format!("caldav://alice@127.0.0.1:{}/cal/", server.port), dir.path(), name);
    assert_eq!(code(&output), 0, "{}", all_text(&output).chars().take(3000).collect::<String>());
    let bag = gnu_extract(&archive, name);
    let record = inventory(&bag).into_iter().find(|r| r["id"] == "/cal/big.ics").unwrap();
    assert!(std::fs::read_to_string(bag.join(record["path"].as_str().unwrap())).unwrap() == body);
    assert!(server.requests().contains(&"GET /cal/big.ics".to_owned()), "{:?}", server.requests());
}

#[test]
fn a_multiget_answer_above_the_cap_is_replaced_by_gets() {
    let head = multistatus("");
    let (head, tail) = head.split_at(head.len() - "</D:multistatus>".len());
    let unit = member("/cal/unasked.ics");
    let endless = Body::Endless {
        head: head.to_owned(),
        unit: unit.clone(),
        count: (257 << 20) / unit.len(),
        tail: tail.to_owned(),
    };
    let server = Hostile::start(vec![
        route("PROPFIND /cal/", 207, multistatus(&format!("{}{}", calendar("/cal/"), member("/cal/big.ics")))),
        ("REPORT /cal/".to_owned(), 207, endless),
        route("GET /cal/big.ics", 200, event("big")),
    ]);
    assert_read_by_get(&server, &event("big"), "capped");
}

#[test]
fn a_get_cut_mid_body_is_retried_never_archived_short() {
    let body = event(&"long-".repeat(2000));
    let server = Hostile::start(vec![
        route("PROPFIND /cal/", 207, multistatus(&format!("{}{}", calendar("/cal/"), member("/cal/big.ics")))),
        route("REPORT /cal/", 501, String::new()),
        ("GET /cal/big.ics".to_owned(), 200, Body::CutOnce(body.clone(), Default::default())),
    ]);
    assert_read_by_get(&server, &body, "cut");
    let gets = server.requests().iter().filter(|r| *r == "GET /cal/big.ics").count();
    assert_eq!(gets, 2, "asked again after the cut");
}
