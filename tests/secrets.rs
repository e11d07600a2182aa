//! No secret in any message or archive: endpoints and auth URLs given with user info
//! (`http://user:password@host`) are shown without it, and servers that echo the request
//! (its headers, its JSON body) in their error pages are quoted only as a bounded excerpt
//! without what Sortie sent. The servers are scripted loopback responders, since no real
//! server echoes secrets on demand.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;

use common::openstack::sortie_with;
use common::{all_text, code, gnu_extract};

/// One request as the responder saw it.
struct Seen {
    method: String,
    target: String,
    /// Every header line, as sent.
    head: String,
    body: String,
}

/// A loopback HTTP/1.1 server answering each request with `answer(request, port)`: its
/// status line, extra headers and body. Connections are closed after each answer.
fn responder(answer: impl Fn(&Seen, u16) -> (String, String, String) + Send + Sync + 'static) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let answer = Arc::new(answer);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let answer = answer.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut head = String::new();
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    if line == "\r\n" {
                        break;
                    }
                    head.push_str(&line);
                }
                let length = head
                    .lines()
                    .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_owned()))
                    .and_then(|v| v.parse::<usize>().ok())
                    .unwrap_or(0);
                let mut body = vec![0u8; length];
                reader.read_exact(&mut body).unwrap();
                let mut words = head.split(' ');
                let seen = Seen {
                    method: words.next().unwrap_or_default().to_owned(),
                    target: words.next().unwrap_or_default().to_owned(),
                    head: head.clone(),
                    body: String::from_utf8_lossy(&body).into_owned(),
                };
                let (status, headers, body) = answer(&seen, port);
                let body = if seen.method == "HEAD" { String::new() } else { body };
                let reply = format!(
                    "HTTP/1.1 {status}\r\n{headers}content-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let mut stream = stream;
                let _ = stream.write_all(reply.as_bytes());
            });
        }
    });
    port
}

/// An error page that echoes the request: every header line, then the body.
fn echo(seen: &Seen) -> String {
    format!("<html><body><h1>Echo</h1><pre>{}\n{}</pre></body></html>", seen.head, seen.body)
}

fn env(pairs: &[(&str, String)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect()
}

fn assert_secret_free(text: &str, secrets: &[&str]) {
    for secret in secrets {
        assert!(!text.contains(secret), "{secret} leaked:\n{text}");
    }
}

#[test]
fn tempauth_and_swift_error_pages_echoing_the_request_are_quoted_without_its_secrets() {
    // The auth service refuses and echoes X-Auth-Key, and the auth URL carries a password.
    let port = responder(|seen, _| ("401 Unauthorized".into(), String::new(), echo(seen)));
    let dir = tempfile::tempdir().unwrap();
    let env = env(&[
        ("ST_AUTH", format!("http://admin:url-password-1@127.0.0.1:{port}/auth/v1.0")),
        ("ST_USER", "test:tester".into()),
        ("ST_KEY", "tempauth-key-1".into()),
    ]);
    let archive = dir.path().join("x.tar.zst");
    let output = sortie_with(dir.path(), &env, &["export", "swift://", "-o", archive.to_str().unwrap()]);
    let text = all_text(&output);
    assert_eq!(code(&output), 1, "{text}");
    assert!(text.contains("authentication refused") && text.contains("Echo"), "{text}");
    assert!(text.contains(&format!("http://***@127.0.0.1:{port}/auth/v1.0")), "{text}");
    assert_secret_free(&text, &["tempauth-key-1", "url-password-1"]);

    // Nobody answers: the transport error names the URL, without its user info.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let unreachable: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| {
            let v = if k == "ST_AUTH" {
                format!("http://admin:url-password-1@127.0.0.1:{closed}/auth/v1.0")
            } else {
                v.clone()
            };
            (k.clone(), v)
        })
        .collect();
    let output = sortie_with(dir.path(), &unreachable, &["export", "swift://", "-o", archive.to_str().unwrap()]);
    let text = all_text(&output);
    assert_eq!(code(&output), 1, "{text}");
    assert!(text.contains("cannot reach") && text.contains("http://***@127.0.0.1"), "{text}");
    assert_secret_free(&text, &["tempauth-key-1", "url-password-1"]);

    // Logged in, the object store fails to list the account and echoes X-Auth-Token.
    let port = responder(|seen, port| {
        if seen.target.starts_with("/auth/") {
            let headers =
                format!("x-storage-url: http://127.0.0.1:{port}/v1/AUTH_test\r\nx-auth-token: swift-token-2\r\n");
            ("200 OK".into(), headers, String::new())
        } else if seen.method == "HEAD" {
            ("204 No Content".into(), String::new(), String::new())
        } else {
            ("500 Internal Server Error".into(), String::new(), echo(seen))
        }
    });
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| {
            (k.clone(), if k == "ST_AUTH" { format!("http://127.0.0.1:{port}/auth/v1.0") } else { v.clone() })
        })
        .collect();
    let output =
        sortie_with(dir.path(), &env, &["export", "swift://", "--retries", "0", "-o", archive.to_str().unwrap()]);
    let text = all_text(&output);
    assert_eq!(code(&output), 1, "{text}");
    assert!(text.contains("500") && text.contains("Echo"), "{text}");
    assert_secret_free(&text, &["swift-token-2", "tempauth-key-1"]);
}

#[test]
fn keystone_errors_echoing_the_password_are_quoted_without_it() {
    // Keystone's JSON error message quotes the request body, password included.
    let port = responder(|seen, _| {
        let message =
            serde_json::json!({ "error": { "code": 401, "message": format!("cannot accept {}", seen.body) } });
        ("401 Unauthorized".into(), "content-type: application/json\r\n".into(), message.to_string())
    });
    let dir = tempfile::tempdir().unwrap();
    let env = env(&[
        ("OS_AUTH_URL", format!("http://proxyuser:url-password-3@127.0.0.1:{port}/v3")),
        ("OS_USERNAME", "alice".into()),
        ("OS_PASSWORD", "keystone-password-3".into()),
        ("OS_PROJECT_NAME", "p".into()),
        ("OS_USER_DOMAIN_NAME", "Default".into()),
        ("OS_PROJECT_DOMAIN_NAME", "Default".into()),
    ]);
    let archive = dir.path().join("x.tar.zst");
    let output = sortie_with(dir.path(), &env, &["export", "openstack://", "-o", archive.to_str().unwrap()]);
    let text = all_text(&output);
    assert_eq!(code(&output), 1, "{text}");
    assert!(text.contains("authentication refused") && text.contains("cannot accept"), "{text}");
    assert!(text.contains(&format!("http://***@127.0.0.1:{port}/v3")), "{text}");
    assert_secret_free(&text, &["keystone-password-3", "url-password-3", "proxyuser"]);
}

#[test]
fn a_storage_url_with_user_info_is_archived_without_it() {
    // A complete export of an empty account whose storage URL carries credentials.
    let port = responder(|seen, port| {
        if seen.target.starts_with("/auth/") {
            let headers = format!(
                "x-storage-url: http://swiftuser:url-password-5@127.0.0.1:{port}/v1/AUTH_test\r\n\
                 x-auth-token: swift-token-5\r\n"
            );
            ("200 OK".into(), headers, String::new())
        } else if seen.method == "HEAD" {
            ("204 No Content".into(), "x-account-container-count: 0\r\n".into(), String::new())
        } else {
            ("200 OK".into(), "content-type: application/json\r\n".into(), "[]".into())
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let env = env(&[
        ("ST_AUTH", format!("http://127.0.0.1:{port}/auth/v1.0")),
        ("ST_USER", "test:tester".into()),
        ("ST_KEY", "tempauth-key-5".into()),
    ]);
    let archive = dir.path().join("empty.tar.zst");
    let output = sortie_with(dir.path(), &env, &["export", "swift://", "-o", archive.to_str().unwrap(), "--json"]);
    let text = all_text(&output);
    assert_eq!(code(&output), 0, "{text}");
    assert_secret_free(&text, &["url-password-5", "swift-token-5", "tempauth-key-5"]);
    let bag = gnu_extract(&archive, "empty");
    let mut everything = String::new();
    for entry in walk(&bag) {
        everything.push_str(&String::from_utf8_lossy(&std::fs::read(entry).unwrap()));
    }
    assert!(everything.contains(&format!("http://***@127.0.0.1:{port}/v1/AUTH_test")), "{everything}");
    assert_secret_free(&everything, &["url-password-5", "swiftuser", "swift-token-5", "tempauth-key-5"]);
}

/// An S3 server that refuses everything, quoting the session token it was sent.
fn s3_refusing_with_the_token() -> u16 {
    responder(|seen, _| {
        let token =
            seen.head.lines().find_map(|l| l.strip_prefix("x-amz-security-token: ")).unwrap_or("none").to_owned();
        let body = format!("<Error><Code>AccessDenied</Code><Message>no access for {token}</Message></Error>");
        ("403 Forbidden".into(), "content-type: application/xml\r\n".into(), body)
    })
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[test]
fn s3_endpoints_with_user_info_and_messages_echoing_the_session_token_stay_secret_free() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("x.tar.zst");
    let keys = [
        ("AWS_ACCESS_KEY_ID", "AKIATEST".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "aws-secret-6".to_owned()),
        ("AWS_SESSION_TOKEN", "session-token-6".to_owned()),
    ];
    let output = sortie_with(
        dir.path(),
        &env(&keys),
        &[
            "export",
            "s3://bucket",
            "--s3-endpoint",
            "http://user:url-password-6@127.0.0.1:9/",
            "-o",
            archive.to_str().unwrap(),
        ],
    );
    let text = all_text(&output);
    assert_eq!(code(&output), 2, "{text}");
    assert!(text.contains("http://***@127.0.0.1:9/"), "{text}");
    assert_secret_free(&text, &["url-password-6", "aws-secret-6"]);

    // The server refuses, quoting the session token it was sent in its message.
    let port = s3_refusing_with_the_token();
    let endpoint = format!("http://127.0.0.1:{port}");
    let output = sortie_with(
        dir.path(),
        &env(&keys),
        &["export", "s3://bucket", "--s3-endpoint", &endpoint, "-o", archive.to_str().unwrap()],
    );
    let text = all_text(&output);
    assert!(text.contains("no access for ***"), "{text}");
    assert_secret_free(&text, &["session-token-6", "aws-secret-6"]);
}

#[test]
fn secrets_given_as_settings_stay_out_of_plans_logs_errors_and_archives() {
    let dir = tempfile::tempdir().unwrap();
    // Swift's tempauth key given as the `password` setting, not in the environment.
    let port = responder(|seen, port| {
        if seen.target.starts_with("/auth/") {
            let headers =
                format!("x-storage-url: http://127.0.0.1:{port}/v1/AUTH_test\r\nx-auth-token: swift-token-7\r\n");
            ("200 OK".into(), headers, String::new())
        } else if seen.method == "HEAD" {
            ("204 No Content".into(), "x-account-container-count: 0\r\n".into(), String::new())
        } else {
            ("200 OK".into(), "content-type: application/json\r\n".into(), "[]".into())
        }
    });
    let env = env(&[("ST_AUTH", format!("http://127.0.0.1:{port}/auth/v1.0")), ("ST_USER", "test:tester".into())]);
    let secrets = ["tempauth-key-7", "swift-token-7"];
    let plan =
        sortie_with(dir.path(), &env, &["-vv", "plan", "swift://", "--set", "password=tempauth-key-7", "--json"]);
    let text = all_text(&plan);
    assert_eq!(code(&plan), 0, "{text}");
    assert_secret_free(&text, &secrets);
    let plan_file = dir.path().join("plan.json");
    std::fs::write(&plan_file, &plan.stdout).unwrap();

    // The plan holds no secret: exporting it needs the key again, and says what is missing.
    let archive = dir.path().join("planned.tar.zst");
    let args = ["-vv", "export", "--plan", plan_file.to_str().unwrap(), "-o", archive.to_str().unwrap()];
    let without = sortie_with(dir.path(), &env, &args);
    assert_ne!(code(&without), 0, "{}", all_text(&without));
    assert!(!archive.exists());
    let mut with_key = args.to_vec();
    with_key.extend(["--set", "password=tempauth-key-7"]);
    let output = sortie_with(dir.path(), &env, &with_key);
    let text = all_text(&output);
    assert_eq!(code(&output), 0, "{text}");
    assert_secret_free(&text, &secrets);
    let bag = gnu_extract(&archive, "planned");
    for entry in walk(&bag) {
        assert_secret_free(&String::from_utf8_lossy(&std::fs::read(entry).unwrap()), &secrets);
    }

    // S3 keys given as settings, against a server that refuses, echoing the token it was sent.
    let port = s3_refusing_with_the_token();
    let endpoint = format!("http://127.0.0.1:{port}");
    let sets = [
        "--set",
        "access_key_id=AKIASETTING",
        "--set",
        "secret_access_key=aws-secret-8",
        "--set",
        "session_token=session-token-8",
    ];
    let mut plan_args = vec!["-vv", "plan", "s3://bucket", "--s3-endpoint", &endpoint, "--json"];
    plan_args.extend(sets);
    let plan = sortie_with(dir.path(), &[], &plan_args);
    let text = all_text(&plan);
    assert_eq!(code(&plan), 1, "the check is refused: {text}");
    assert!(text.contains("AKIASETTING (from the access_key_id setting)"), "{text}");
    assert_secret_free(&text, &["aws-secret-8", "session-token-8"]);
    let mut export_args = vec!["-vv", "export", "s3://bucket", "--s3-endpoint", &endpoint, "--retries", "0"];
    export_args.extend(["-o", archive.to_str().unwrap(), "--force"]);
    export_args.extend(sets);
    let output = sortie_with(dir.path(), &[], &export_args);
    let text = all_text(&output);
    assert!(text.contains("no access for ***"), "{text}");
    assert_secret_free(&text, &["aws-secret-8", "session-token-8"]);
}

/// A source whose scheme Sortie does not know (`https://`, as a user might try first) is
/// refused with its address, but without the password it carries, on stderr and in the
/// `--json` summary alike.
#[test]
fn a_source_of_an_unknown_scheme_is_refused_without_its_password() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("x.tar.zst");
    let source = "https://alice:Pa55-in-url@127.0.0.1:9/dav/";
    for json in [false, true] {
        let mut args = vec!["export", source, "-o", archive.to_str().unwrap()];
        if json {
            args.push("--json");
        }
        let output = common::run(&args);
        assert_eq!(code(&output), 2, "{}", all_text(&output));
        let text = all_text(&output);
        assert!(text.contains("unknown scheme 'https'") && text.contains("https://***@127.0.0.1:9/dav/"), "{text}");
        assert_secret_free(&text, &["Pa55-in-url", "alice"]);
    }
}
