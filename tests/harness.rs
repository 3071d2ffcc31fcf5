//! A small harness so tests read like sentences: start a lab, seed it, run s3mend, look at the
//! report.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::Duration;

use s3mend_lab::{Lab, LabConfig, ObjectSeed, LAB_ACCESS_KEY, LAB_REGION, LAB_SECRET_KEY};
use serde_json::Value;

pub const BUCKET: &str = "test-bucket";

pub struct TestEnv {
    pub lab: Lab,
}

/// What one run of the binary did.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The stdout as one JSON document (`--format json`).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }

    /// The stdout as JSON Lines.
    pub fn jsonl(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad line {l:?}: {e}")))
            .collect()
    }
}

impl TestEnv {
    pub async fn new() -> Self {
        Self::with_config(LabConfig::default()).await
    }

    pub async fn with_config(config: LabConfig) -> Self {
        let lab = Lab::start(config).await.expect("lab starts");
        lab.create_bucket(BUCKET);
        TestEnv { lab }
    }

    /// Puts an object with only a body and a Content-Type.
    pub fn put(&self, key: &str, content_type: &str, content_encoding: Option<&str>) {
        self.lab.put_object(
            BUCKET,
            key,
            ObjectSeed {
                body: bytes::Bytes::from(format!("body of {key}")),
                content_type: Some(content_type.to_owned()),
                content_encoding: content_encoding.map(str::to_owned),
                ..ObjectSeed::default()
            },
        );
    }

    /// Runs `s3mend ARGS` with credentials and endpoint for the lab in the environment.
    pub async fn s3mend(&self, args: &[&str]) -> Run {
        self.s3mend_with(args, &[]).await
    }

    pub async fn s3mend_with(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let child = self.spawn(args, env);
        let out = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
            .await
            .expect("s3mend finishes within 2 minutes")
            .expect("s3mend runs");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Runs `s3mend ARGS` on a pseudo-terminal (util-linux `script`), typing `answer`.
    pub async fn on_a_terminal(
        &self,
        args: &[&str],
        answer: &str,
        env: &[(&str, &str)],
    ) -> (i32, String) {
        use tokio::io::AsyncWriteExt;
        let mut child = self.spawn_on_a_terminal(args, env);
        let mut stdin = child.stdin.take().unwrap();
        // Typed ahead: the terminal keeps it until s3mend reads its answer.
        stdin.write_all(answer.as_bytes()).await.unwrap();
        let out =
            tokio::time::timeout(std::time::Duration::from_secs(60), child.wait_with_output())
                .await
                .expect("finishes")
                .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }

    /// Starts `s3mend ARGS` on a pseudo-terminal (util-linux `script`): what is written to the
    /// child's stdin is typed on the terminal (so `\x03` is a Ctrl-C), its stdout is the screen.
    pub fn spawn_on_a_terminal(
        &self,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> tokio::process::Child {
        let command = std::iter::once(env!("CARGO_BIN_EXE_s3mend"))
            .chain(args.iter().copied())
            .map(|a| format!("'{a}'"))
            .collect::<Vec<_>>()
            .join(" ");
        let mut cmd = s3mend_command();
        let cmd = cmd.as_std_mut();
        let mut script = tokio::process::Command::from(std::process::Command::new("script"));
        script.args(["-q", "-e", "-c", &command, "/dev/null"]);
        for (key, value) in cmd.get_envs() {
            match value {
                Some(value) => script.env(key, value),
                None => script.env_remove(key),
            };
        }
        script
            .env("AWS_ENDPOINT_URL", self.lab.endpoint())
            .env("AWS_ACCESS_KEY_ID", LAB_ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", LAB_SECRET_KEY)
            .env("AWS_REGION", LAB_REGION)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        for (k, v) in env {
            script.env(k, v);
        }
        script.spawn().expect("script(1) from util-linux runs")
    }

    pub fn spawn(&self, args: &[&str], env: &[(&str, &str)]) -> tokio::process::Child {
        self.spawn_in(None, args, env)
    }

    /// Runs `s3mend ARGS` in the directory `dir`, as [`TestEnv::s3mend`] does.
    pub async fn s3mend_in(&self, dir: &Path, args: &[&str]) -> Run {
        let child = self.spawn_in(Some(dir), args, &[]);
        let out = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
            .await
            .expect("s3mend finishes within 2 minutes")
            .expect("s3mend runs");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    fn spawn_in(
        &self,
        dir: Option<&Path>,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> tokio::process::Child {
        let mut cmd = s3mend_command();
        if let Some(dir) = dir {
            cmd.current_dir(dir);
        }
        cmd.args(args)
            .env("AWS_ENDPOINT_URL", self.lab.endpoint())
            .env("AWS_ACCESS_KEY_ID", LAB_ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", LAB_SECRET_KEY)
            .env("AWS_REGION", LAB_REGION);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.spawn().expect("s3mend starts")
    }
}

/// The s3mend binary with an environment that cannot reach anything but what a test gives it.
pub fn s3mend_command() -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_s3mend"));
    for var in [
        "AWS_PROFILE",
        "AWS_ENDPOINT_URL",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_CA_BUNDLE",
        "AWS_MAX_ATTEMPTS",
        "AWS_RETRY_MODE",
        "NO_COLOR",
        "S3MEND_LOG",
        "S3MEND_POLICY",
        "S3MEND_NO_FAST_HEAD",
        "S3MEND_STATSD",
        "S3MEND_METRICS_FILE",
        "CLICOLOR",
        "CLICOLOR_FORCE",
    ] {
        cmd.env_remove(var);
    }
    // Every flag of s3mend's own has an S3MEND_<FLAG> variable: none from the caller's shell.
    for (var, _) in std::env::vars_os() {
        if var.to_string_lossy().starts_with("S3MEND_") {
            cmd.env_remove(var);
        }
    }
    let (config, credentials) = empty_aws_files();
    cmd.env("AWS_CONFIG_FILE", config)
        .env("AWS_SHARED_CREDENTIALS_FILE", credentials)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

/// Empty AWS config and credentials files, so no profile of the machine's user leaks in (a
/// missing file would make the SDK warn on stderr).
fn empty_aws_files() -> (PathBuf, PathBuf) {
    static FILES: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    FILES
        .get_or_init(|| {
            let dir = std::env::temp_dir().join(format!("s3mend-test-aws-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let files = (dir.join("config"), dir.join("credentials"));
            std::fs::write(&files.0, "").unwrap();
            std::fs::write(&files.1, "").unwrap();
            files
        })
        .clone()
}

/// `key → rule → proposed` for every finding in a JSON report's objects.
pub type Proposals = BTreeMap<String, BTreeMap<String, Option<String>>>;

pub fn proposals<'a>(objects: impl IntoIterator<Item = &'a Value>) -> Proposals {
    let mut map = Proposals::new();
    for object in objects {
        let key = object["key"].as_str().expect("key").to_owned();
        let entry = map.entry(key).or_default();
        for finding in object["findings"].as_array().expect("findings") {
            entry.insert(
                finding["rule"].as_str().expect("rule").to_owned(),
                finding["proposed"].as_str().map(str::to_owned),
            );
        }
    }
    map
}

/// The proposals `fixtures/manifest.json` expects a scan of the fixture site to make.
pub fn expected_fixture_proposals() -> Proposals {
    s3mend::demo::manifest()
        .unwrap()
        .objects
        .into_iter()
        .filter(|o| !o.expect.is_empty())
        .map(|o| (o.key, o.expect))
        .collect()
}

/// The row of `key` in a JSON report.
pub fn row<'a>(report: &'a Value, key: &str) -> &'a Value {
    report["objects"]
        .as_array()
        .expect("objects")
        .iter()
        .find(|r| r["key"] == key)
        .unwrap_or_else(|| panic!("no row for {key} in {report}"))
}

/// Keys whose listings and URLs need every kind of encoding, the longest S3 allows among them.
pub fn awkward_keys() -> Vec<String> {
    let long = format!("long/{}.html", "x".repeat(1024 - "long/.html".len()));
    assert_eq!(long.len(), 1024);
    [
        "with space.html",
        "plus+sign.html",
        "100%.html",
        "percent%2Bencoded.html",
        "question?.html",
        "hash#tag.html",
        "unicodé/日本語.html",
        "amp&eq=.html",
        "tilde~/dir//double.html",
        // Not representable in XML 1.0: only encoding-type=url can list it.
        "control\u{1}char\u{7f}.html",
        "tab\tand\nnewline.html",
        long.as_str(),
    ]
    .map(str::to_owned)
    .to_vec()
}

/// `s3mend fix s3://test-bucket/ --yes --format json --journal JOURNAL`, then `extra`.
pub async fn fix(env: &TestEnv, journal: &Path, extra: &[&str]) -> Run {
    let mut args = vec![
        "fix",
        "s3://test-bucket/",
        "--yes",
        "--format",
        "json",
        "--journal",
        journal.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    env.s3mend(&args).await
}

/// `text` gzip-compressed: the body of an object whose Content-Encoding says gzip.
pub fn gzipped(text: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(text).expect("gzip in memory");
    encoder.finish().expect("gzip in memory")
}
