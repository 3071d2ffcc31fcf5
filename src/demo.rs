//! `s3mend demo`: the lab, seeded from `fixtures/` (compiled into the binary), and a scan of it.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::Context;
use include_dir::{include_dir, Dir};
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use crate::app;
use crate::cli::DemoArgs;
use crate::config::{FixConfig, MetricsConfig, OutputConfig, ScanConfig, WriteConfig};
use crate::exit_codes::ExitCode;
use crate::model::S3Uri;
use crate::pipeline::{KeyFilter, ScanJob};
use crate::repair::RepairSettings;
use crate::report::{Format, Gate};
use crate::rules::{policy, RuleSet};
use crate::s3::{Addressing, ConnectOptions};
use s3mend_lab::{
    Grantee, Lab, LabConfig, ObjectSeed, StoredObject, LAB_ACCESS_KEY, LAB_REGION, LAB_SECRET_KEY,
};

static FIXTURES: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/fixtures");

/// The fixture site's policy, in `fixtures/`.
const POLICY: &str = "s3mend.toml";

/// `fixtures/manifest.json`: each object's metadata as s3cmd 1.5.0-alpha uploaded it.
#[derive(Clone, Debug, Deserialize)]
pub struct Manifest {
    pub bucket: String,
    pub objects: Vec<FixtureObject>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct FixtureObject {
    pub key: String,
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    pub cache_control: Option<String>,
    pub acl: Option<String>,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    pub storage_class: Option<String>,
    pub website_redirect_location: Option<String>,
    /// Test data: each rule that must flag the object, with the value it must propose.
    #[serde(default)]
    pub expect: BTreeMap<String, Option<String>>,
    /// The same for the rules that are off unless named (`charset`, `encoding-mismatch`).
    #[serde(default)]
    pub expect_opt_in: BTreeMap<String, Option<String>>,
}

impl FixtureObject {
    /// The object's bytes, from `fixtures/site/<key>`.
    pub fn body(&self) -> anyhow::Result<&'static [u8]> {
        FIXTURES
            .get_file(format!("site/{}", self.key))
            .map(|f| f.contents())
            .with_context(|| format!("fixtures/site/{} is missing", self.key))
    }
}

pub fn manifest() -> anyhow::Result<Manifest> {
    let file = FIXTURES
        .get_file("manifest.json")
        .context("fixtures/manifest.json is missing")?;
    serde_json::from_slice(file.contents()).context("fixtures/manifest.json is malformed")
}

/// Creates the manifest's bucket in `lab` and uploads every fixture object as s3cmd did.
pub fn seed(lab: &Lab, manifest: &Manifest) -> anyhow::Result<()> {
    lab.create_bucket(&manifest.bucket);
    for object in &manifest.objects {
        let seed = ObjectSeed {
            body: bytes::Bytes::from_static(object.body()?),
            content_type: object.content_type.clone(),
            content_encoding: object.content_encoding.clone(),
            cache_control: object.cache_control.clone(),
            metadata: object.metadata.clone(),
            storage_class: object.storage_class.clone(),
            website_redirect_location: object.website_redirect_location.clone(),
            acl: object.acl.clone(),
            ..ObjectSeed::default()
        };
        lab.put_object(&manifest.bucket, &object.key, seed);
    }
    Ok(())
}

/// Requests the demo keeps in flight: the fixture site is small.
const DEMO_CONCURRENCY: usize = 16;

/// How to reach a lab as a client.
pub fn lab_connection(lab: &Lab) -> ConnectOptions {
    ConnectOptions {
        endpoint_url: Some(lab.endpoint()),
        region: Some(LAB_REGION.to_owned()),
        profile: None,
        addressing: Addressing::Path,
        static_credentials: Some((LAB_ACCESS_KEY.to_owned(), LAB_SECRET_KEY.to_owned())),
        max_attempts: Some(crate::s3::DEFAULT_MAX_ATTEMPTS),
        retry_mode: None,
        attempt_timeout: crate::s3::DEFAULT_ATTEMPT_TIMEOUT,
        max_in_flight: DEMO_CONCURRENCY,
        max_rps: None,
        fast_head: true,
        conventions: Default::default(),
        tls: Default::default(),
    }
}

pub async fn run(args: &DemoArgs, cancel: CancellationToken) -> anyhow::Result<ExitCode> {
    let lab = Lab::start(LabConfig {
        port: args.port,
        ..LabConfig::default()
    })
    .await
    .context("cannot start the embedded S3 server")?;
    let manifest = manifest()?;
    seed(&lab, &manifest)?;

    if args.serve {
        println!("Embedded S3 server at {}", lab.endpoint());
        println!("  bucket             {}", manifest.bucket);
        println!("  access key id      {LAB_ACCESS_KEY}");
        println!("  secret access key  {LAB_SECRET_KEY}");
        println!("  region             {LAB_REGION}");
        println!();
        println!("Try, in another terminal:");
        println!("  export AWS_ACCESS_KEY_ID={LAB_ACCESS_KEY} AWS_SECRET_ACCESS_KEY={LAB_SECRET_KEY} AWS_REGION={LAB_REGION}");
        println!(
            "  s3mend scan s3://{}/ --endpoint-url {}",
            manifest.bucket,
            lab.endpoint()
        );
        println!(
            "  aws s3api head-object --endpoint-url {} --bucket {} --key index.html",
            lab.endpoint(),
            manifest.bucket
        );
        println!("Stop with Ctrl-C.");
        cancel.cancelled().await;
        lab.shutdown().await;
        return Ok(ExitCode::Clean);
    }

    let result = tell_the_story(&lab, &manifest, args.format, cancel).await;
    lab.shutdown().await;
    result
}

/// Scan, fix, scan again, then one object's headers before and after.
async fn tell_the_story(
    lab: &Lab,
    manifest: &Manifest,
    format: Format,
    cancel: CancellationToken,
) -> anyhow::Result<ExitCode> {
    let table = format == Format::Table;
    let output = OutputConfig {
        format,
        path: None,
        also: Vec::new(),
        // Every report is shown, the clean last one too.
        quiet: false,
        progress: false,
        gate: Gate::default(),
        all_rows: false,
    };
    let target = S3Uri {
        bucket: manifest.bucket.clone(),
        prefix: String::new(),
    };
    let scan = ScanConfig {
        job: ScanJob {
            bucket: target.bucket.clone(),
            prefix: String::new(),
            filter: KeyFilter::default(),
            rules: RuleSet::all(),
            concurrency: DEMO_CONCURRENCY,
            start_after: None,
            shard: None,
            inventory: None,
        },
        target,
        connect: lab_connection(lab),
        output,
        state: None,
        catalog: None,
        metrics: MetricsConfig::default(),
        inventory: None,
    };
    let shown = "js/analytics.js";
    let before = lab.object(&manifest.bucket, shown);
    let heading = |text: &str| {
        if table {
            println!("\n==> {text}\n");
        }
    };

    heading("1. scan: what is wrong");
    // Findings are what the demo is meant to show; only errors and interruptions fail it.
    let code = app::scan(scan.clone(), cancel.clone()).await?;
    if code > ExitCode::Findings {
        return Ok(code);
    }
    heading("2. fix: repair in place, losslessly");
    // The lab lives only as long as the demo: no journal to undo with later.
    let fix = FixConfig {
        scan: scan.clone(),
        write: WriteConfig {
            dry_run: false,
            yes: true,
            journal: None,
            journal_given: false,
            allow_unconditional: false,
        },
        repair: RepairSettings::default(),
        plan: None,
    };
    if app::fix(fix.clone(), cancel.clone()).await? != ExitCode::Clean {
        anyhow::bail!("the demo's fix left findings");
    }
    heading("3. scan again: clean");
    let code = app::scan(scan.clone(), cancel.clone()).await?;
    if code != ExitCode::Clean {
        return Ok(code);
    }
    if table {
        if let (Some(before), Some(after)) = (before, lab.object(&manifest.bucket, shown)) {
            println!("\n==> 4. {shown}, before and after\n");
            print_headers(&before, &after);
        }
    }
    with_policy(scan, fix, heading, cancel).await
}

/// The site's headers as `fixtures/s3mend.toml` declares them: scan, fix, scan again.
async fn with_policy(
    mut scan: ScanConfig,
    mut fix: FixConfig,
    heading: impl Fn(&str),
    cancel: CancellationToken,
) -> anyhow::Result<ExitCode> {
    let file = FIXTURES
        .get_file(POLICY)
        .with_context(|| format!("fixtures/{POLICY} is missing"))?;
    let text = std::str::from_utf8(file.contents()).context("the demo's policy is not UTF-8")?;
    let policy = policy::parse(&format!("fixtures/{POLICY}"), text)?;
    scan.job.rules =
        RuleSet::parse(&["default"], Some(Arc::new(policy))).map_err(anyhow::Error::msg)?;
    fix.scan = scan.clone();
    heading(&format!(
        "5. with --policy fixtures/{POLICY}: the headers each key must have"
    ));
    let code = app::scan(scan.clone(), cancel.clone()).await?;
    if code > ExitCode::Findings {
        return Ok(code);
    }
    heading("6. fix --policy: every header an object needs, in its one copy");
    if app::fix(fix, cancel.clone()).await? != ExitCode::Clean {
        anyhow::bail!("the demo's policy fix left findings");
    }
    heading("7. scan --policy again: clean");
    app::scan(scan, cancel).await
}

fn print_headers(before: &StoredObject, after: &StoredObject) {
    fn opt(value: &Option<String>) -> String {
        value.clone().unwrap_or_else(|| "(none)".into())
    }
    fn grants(object: &StoredObject) -> String {
        let mut grants: Vec<String> = object
            .grants
            .iter()
            .map(|g| match &g.grantee {
                Grantee::Group { uri } => {
                    format!("{} {}", uri.rsplit('/').next().unwrap_or(uri), g.permission)
                }
                Grantee::CanonicalUser { .. } => format!("owner {}", g.permission),
                Grantee::Email { address } => format!("{address} {}", g.permission),
            })
            .collect();
        grants.sort();
        grants.join(", ")
    }
    type Field = fn(&StoredObject) -> String;
    let fields: [(&str, Field); 7] = [
        ("Content-Encoding", |o| opt(&o.content_encoding)),
        ("Content-Type", |o| opt(&o.content_type)),
        ("Cache-Control", |o| opt(&o.cache_control)),
        ("Storage class", |o| {
            o.storage_class.clone().unwrap_or_else(|| "STANDARD".into())
        }),
        ("ACL", grants),
        ("x-amz-meta-s3cmd-attrs", |o| {
            let attrs = o.metadata.get("s3cmd-attrs").cloned().unwrap_or_default();
            attrs.chars().take(40).collect::<String>() + "…"
        }),
        ("ETag (bytes)", |o| o.etag.clone()),
    ];
    println!("  {:<24} {:<44} after", "header", "before");
    for (name, field) in fields {
        let (old, new) = (field(before), field(after));
        let mark = if old == new { " " } else { "*" };
        println!("{mark} {name:<24} {old:<44} {new}");
    }
}
