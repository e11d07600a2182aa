//! A real S3 server on 127.0.0.1 for one test: started by `tests/servers/s3`, seeded by
//! `tests/servers/seed_s3.py` through boto3, stopped when dropped. Sortie runs against it
//! with a clean environment (its own HOME, only the AWS variables the test gives).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::all_text;

pub struct S3Server {
    pub kind: &'static str,
    pub endpoint: String,
    pub access_key: String,
    pub secret_key: String,
    state: tempfile::TempDir,
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The Python with boto3, installed by tests/servers/install.
fn python() -> PathBuf {
    let python = repo().join("target/test-tools/moto/bin/python");
    assert!(
        python.exists(),
        "boto3 and the S3 servers are not installed: run `bash tests/servers/install` (tests/run does)"
    );
    python
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl S3Server {
    /// Starts `moto` or `s3s-fs` with fresh, empty storage.
    pub fn start(kind: &'static str) -> Self {
        Self::start_with(kind, &[])
    }

    pub fn start_with(kind: &'static str, env: &[(&str, &str)]) -> Self {
        let state = tempfile::tempdir().unwrap();
        let port = free_port();
        let (access_key, secret_key) = ("SORTIETESTKEY", "sortie-test-secret-do-not-print");
        let output = Command::new("bash")
            .arg(repo().join("tests/servers/s3"))
            .args(["start", kind, state.path().to_str().unwrap(), &port.to_string()])
            .env("S3_TEST_ACCESS_KEY", access_key)
            .env("S3_TEST_SECRET_KEY", secret_key)
            .envs(env.iter().copied())
            .output()
            .unwrap();
        assert!(output.status.success(), "cannot start {kind}: {}", all_text(&output));
        Self {
            kind,
            endpoint: format!("http://127.0.0.1:{port}"),
            access_key: access_key.into(),
            secret_key: secret_key.into(),
            state,
        }
    }

    /// moto with signature and IAM checks on: its three unauthenticated calls create a user
    /// whose policy allows everything but reading `sortie-locked/secret.txt`; that user's
    /// keys are then the server's keys.
    pub fn start_moto_with_iam() -> Self {
        let mut server = Self::start_with("moto", &[("MOTO_FREE_CALLS", "3")]);
        let script = r#"
import json, sys, boto3
iam = boto3.client("iam", endpoint_url=sys.argv[1], region_name="us-east-1",
                   aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap")
iam.create_user(UserName="exporter")
key = iam.create_access_key(UserName="exporter")["AccessKey"]
iam.put_user_policy(UserName="exporter", PolicyName="all-but-one", PolicyDocument=json.dumps({
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": "*", "Resource": "*"},
        {"Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::sortie-locked/secret.txt"},
    ]}))
print(key["AccessKeyId"], key["SecretAccessKey"])
"#;
        let output = Command::new(python()).args(["-c", script, &server.endpoint]).output().unwrap();
        assert!(output.status.success(), "cannot create the IAM user: {}", all_text(&output));
        let text = String::from_utf8(output.stdout).unwrap();
        let mut words = text.split_whitespace();
        server.access_key = words.next().unwrap().into();
        server.secret_key = words.next().unwrap().into();
        server
    }

    /// Seeds the server's standard data set (tests/servers/seed_s3.py).
    pub fn seed(&self) {
        let script = repo().join("tests/servers/seed_s3.py");
        self.python(&[script.to_str().unwrap(), &self.endpoint, self.kind]);
    }

    /// Creates `bucket` and uploads exactly these objects (key → bytes) through boto3, so
    /// that a test compares the archive with the bytes it built itself. Objects over 5 MiB
    /// go up in parts of 5 MiB, as the AWS CLI would send them (multipart ETags), with an
    /// explicit ACL: moto 5.2.5 leaves a completed multipart upload without one and answers
    /// its GetObjectAcl with a 500.
    pub fn put_objects(&self, bucket: &str, objects: &std::collections::BTreeMap<Vec<u8>, Vec<u8>>) {
        let dir = tempfile::tempdir_in(self.state.path()).unwrap();
        let mut manifest = Vec::new();
        for (n, (key, body)) in objects.iter().enumerate() {
            let path = dir.path().join(n.to_string());
            std::fs::write(&path, body).unwrap();
            manifest.push(serde_json::json!([String::from_utf8(key.clone()).unwrap(), path]));
        }
        let list = dir.path().join("manifest.json");
        std::fs::write(&list, serde_json::to_vec(&manifest).unwrap()).unwrap();
        let script = "import json, sys, concurrent.futures, boto3\n\
                      from boto3.s3.transfer import TransferConfig\n\
                      s3 = boto3.client('s3', endpoint_url=sys.argv[1], region_name='us-east-1')\n\
                      s3.create_bucket(Bucket=sys.argv[2])\n\
                      parts = TransferConfig(multipart_threshold=5 << 20, multipart_chunksize=5 << 20, use_threads=False)\n\
                      put = lambda e: s3.upload_file(e[1], sys.argv[2], e[0], Config=parts, ExtraArgs={'ACL': 'private'})\n\
                      with concurrent.futures.ThreadPoolExecutor(16) as pool:\n\
                      \x20   list(pool.map(put, json.load(open(sys.argv[3]))))\n";
        self.python(&["-c", script, &self.endpoint, bucket, list.to_str().unwrap()]);
    }

    /// What the server printed so far: moto logs one line per request (method, path and
    /// query), which a test reads to count the requests it answered.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.state.path().join("server.log")).unwrap_or_default()
    }

    /// Runs Python code (with boto3) with this server's keys; arguments follow the script.
    pub fn python(&self, args: &[&str]) -> Output {
        let output = Command::new(python())
            .args(args)
            .env("AWS_ACCESS_KEY_ID", &self.access_key)
            .env("AWS_SECRET_ACCESS_KEY", &self.secret_key)
            .output()
            .unwrap();
        assert!(output.status.success(), "python {args:?} failed: {}", all_text(&output));
        output
    }

    /// Checks an extracted bag against the server (tests/servers/check_s3_archive.py).
    pub fn check_archive(&self, bag: &Path, buckets: &[&str], flags: &[&str]) -> String {
        let script = repo().join("tests/servers/check_s3_archive.py");
        let joined = buckets.join(",");
        let mut args = vec![script.to_str().unwrap(), &self.endpoint, bag.to_str().unwrap(), &joined];
        args.extend(flags);
        String::from_utf8(self.python(&args).stdout).unwrap()
    }

    /// `sortie ARGS` with this server's endpoint and keys, and nothing else from the
    /// environment of the test run.
    pub fn sortie(&self, args: &[&str]) -> Output {
        self.sortie_with(args, &[("AWS_ACCESS_KEY_ID", &self.access_key), ("AWS_SECRET_ACCESS_KEY", &self.secret_key)])
    }

    /// `sortie ARGS` with exactly the AWS variables given (plus the endpoint).
    pub fn sortie_with(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_sortie"))
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.state.path())
            .env("AWS_ENDPOINT_URL", &self.endpoint)
            .envs(env.iter().copied())
            .output()
            .unwrap()
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(repo().join("tests/servers/s3"))
            .args(["stop", self.state.path().to_str().unwrap()])
            .status();
    }
}
