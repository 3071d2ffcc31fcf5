//! The examples for buckets too large for one machine (examples/kubernetes/indexed-job.yaml,
//! examples/aws-batch/job-definition.json, examples/batch-operations/), read as Kubernetes, AWS
//! Batch and the AWS CLI read them. `--shard` and `--shard-count` come with sharding (issue 14,
//! items 1–2), built beside these examples: their use is checked here for structure only, never
//! run against this binary; every other flag must be one `s3mend fix --help` lists.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use s3mend::batch::{self, Arguments, Invocation, Mode};
use serde_json::Value;
use yaml_rust2::{Yaml, YamlLoader};

use crate::batch::{events, BUCKET, KEY};
use crate::examples::{assert_valid_for_kubernetes, fix_flags, strings};

/// Flags of sharding, not in this branch's `s3mend fix` yet.
const SHARDING: [&str; 2] = ["--shard", "--shard-count"];

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

fn read(path: &str) -> String {
    let path = examples().join(path);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn json(path: &str) -> Value {
    serde_json::from_str(&read(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The value after `flag`.
fn value<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    let at = args.iter().position(|a| a == flag)?;
    args.get(at + 1).map(String::as_str)
}

/// Every flag is one `s3mend fix` has, or sharding's.
fn assert_known_flags(example: &str, args: &[String]) {
    let known = fix_flags();
    for flag in args.iter().filter(|a| a.starts_with('-')) {
        assert!(
            known.contains(flag.as_str()) || SHARDING.contains(&flag.as_str()),
            "{example}: `s3mend fix --help` has no {flag}"
        );
    }
}

/// The shard's files: a JSON report, a journal and a state, each with the shard's index in its
/// name, under `dir`.
fn assert_files_per_shard(example: &str, args: &[String], index: &str, dir: &str) {
    assert_eq!(
        value(args, "--format"),
        Some("json"),
        "{example}: merge reads JSON reports"
    );
    for flag in ["--output", "--journal", "--state"] {
        let path = value(args, flag).unwrap_or_else(|| panic!("{example}: no {flag}"));
        assert!(
            path.starts_with(dir) && path.contains(&format!("shard-{index}.")),
            "{example}: {flag} {path} is not the shard's own file under {dir}"
        );
    }
}

// --- the Kubernetes Indexed Job ------------------------------------------------------------------

fn indexed_job_documents() -> Vec<Yaml> {
    YamlLoader::load_from_str(&read("kubernetes/indexed-job.yaml"))
        .expect("indexed-job.yaml is YAML")
}

fn document(kind: &str) -> Yaml {
    let found: Vec<Yaml> = indexed_job_documents()
        .into_iter()
        .filter(|d| d["kind"].as_str() == Some(kind))
        .collect();
    assert_eq!(found.len(), 1, "one {kind} in indexed-job.yaml");
    found.into_iter().next().unwrap()
}

#[test]
fn the_indexed_job_gives_each_index_one_shard_and_its_own_files_on_a_shared_volume() {
    let job = document("Job");
    assert_eq!(job["apiVersion"].as_str(), Some("batch/v1"));
    let spec = &job["spec"];
    assert_eq!(spec["completionMode"].as_str(), Some("Indexed"));
    let completions = spec["completions"].as_i64().expect("completions");
    let parallelism = spec["parallelism"].as_i64().expect("parallelism");
    assert!((1..=completions).contains(&parallelism), "{parallelism}");
    assert!(spec["backoffLimitPerIndex"].as_i64().is_some_and(|n| n > 0));
    // Exit 1 (findings left) fails that index at once; a drain is not counted.
    let rules = spec["podFailurePolicy"]["rules"].as_vec().expect("rules");
    assert!(rules
        .iter()
        .any(|r| r["action"].as_str() == Some("FailIndex")
            && r["onExitCodes"]["values"]
                .as_vec()
                .is_some_and(|v| v == &[Yaml::Integer(1)])));
    assert!(rules.iter().any(|r| r["action"].as_str() == Some("Ignore")
        && r["onPodConditions"][0]["type"].as_str() == Some("DisruptionTarget")));

    let pod = &spec["template"]["spec"];
    assert_eq!(pod["restartPolicy"].as_str(), Some("Never"));
    let container = &pod["containers"][0];
    let args: Vec<String> = strings(&container["command"])
        .into_iter()
        .chain(strings(&container["args"]))
        .collect();
    assert_eq!(&args[..3], ["s3mend", "fix", "s3://my-site-bucket/"]);
    assert_eq!(
        value(&args, "--shard"),
        Some("auto"),
        "JOB_COMPLETION_INDEX"
    );
    assert_eq!(
        value(&args, "--shard-count"),
        Some(completions.to_string().as_str())
    );
    assert!(args.iter().any(|a| a == "--yes"));
    assert_known_flags("indexed-job.yaml", &args);

    // $(SHARD) is the pod's index, from the annotation Kubernetes sets on every Indexed Job pod.
    let shard = container["env"]
        .as_vec()
        .unwrap()
        .iter()
        .find(|v| v["name"].as_str() == Some("SHARD"))
        .expect("SHARD");
    assert_eq!(
        shard["valueFrom"]["fieldRef"]["fieldPath"].as_str(),
        Some("metadata.annotations['batch.kubernetes.io/job-completion-index']")
    );
    let mount = container["volumeMounts"][0]["mountPath"].as_str().unwrap();
    assert_files_per_shard("indexed-job.yaml", &args, "$(SHARD)", &format!("{mount}/"));

    // One volume that every node mounts at once, and the service account's role.
    let claim = document("PersistentVolumeClaim");
    assert_eq!(
        pod["volumes"][0]["persistentVolumeClaim"]["claimName"],
        claim["metadata"]["name"]
    );
    assert_eq!(strings(&claim["spec"]["accessModes"]), ["ReadWriteMany"]);
    let account = document("ServiceAccount");
    assert_eq!(pod["serviceAccountName"], account["metadata"]["name"]);
    assert!(
        account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
            .as_str()
            .is_some_and(|arn| arn.starts_with("arn:aws:iam::"))
    );
}

#[test]
#[ignore = "needs kubernetes-validate (PyPI) installed: run .ci/test"]
fn the_indexed_job_is_valid_against_the_kubernetes_schemas_from_1_29_on() {
    // 1.29: backoffLimitPerIndex and the FailIndex action are on by default (beta; GA in 1.33).
    assert_valid_for_kubernetes("kubernetes/indexed-job.yaml", &["1.29.0", "1.37.0"], 3);
}

// --- the AWS Batch array job ----------------------------------------------------------------------

/// The command of the job definition's container as child `index` of the array runs it: Batch
/// puts the parameters in for `Ref::NAME`, then sh runs the script, whose `exec s3mend` is
/// replaced by printing its arguments.
fn batch_child_args(definition: &Value, index: u32) -> Vec<String> {
    let mut command: Vec<String> = definition["containerProperties"]["command"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect();
    for arg in &mut command {
        if let Some(name) = arg.strip_prefix("Ref::") {
            *arg = definition["parameters"][name].as_str().unwrap().to_owned();
        }
    }
    assert_eq!(command[..2], ["sh", "-c"], "{command:?}");
    let script = command[2].replacen("exec s3mend", "printf '%s\\0' s3mend", 1);
    assert_ne!(script, command[2], "the script execs s3mend");
    let out = Command::new("sh")
        .arg("-c")
        .arg(script)
        .args(&command[3..])
        .env("AWS_BATCH_JOB_ARRAY_INDEX", index.to_string())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout)
        .unwrap()
        .split_terminator('\0')
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_batch_job_definition_runs_one_shard_per_array_child_with_its_own_files() {
    let definition = json("aws-batch/job-definition.json");
    assert_eq!(definition["type"], "container");
    let container = &definition["containerProperties"];
    for field in ["image", "jobRoleArn", "executionRoleArn"] {
        assert!(
            container[field].as_str().is_some_and(|v| !v.is_empty()),
            "{field}"
        );
    }
    assert!(container["resourceRequirements"]
        .as_array()
        .is_some_and(|r| r.len() == 2));
    let mount = &container["mountPoints"][0];
    assert_eq!(mount["sourceVolume"], container["volumes"][0]["name"]);
    let dir = format!("{}/", mount["containerPath"].as_str().unwrap());

    for index in [0, 7] {
        let args = batch_child_args(&definition, index);
        assert_eq!(&args[..3], ["s3mend", "fix", "s3://my-site-bucket/"]);
        assert_eq!(
            value(&args, "--shard"),
            Some("auto"),
            "AWS_BATCH_JOB_ARRAY_INDEX"
        );
        assert_eq!(value(&args, "--shard-count"), Some("8"), "the array's size");
        assert!(args.iter().any(|a| a == "--yes"));
        assert_known_flags("job-definition.json", &args);
        assert_files_per_shard("job-definition.json", &args, &index.to_string(), &dir);
    }
    // Findings left (exit 1) are final; an error (2) is retried.
    let rules = definition["retryStrategy"]["evaluateOnExit"]
        .as_array()
        .unwrap();
    let action = |code: &str| {
        rules
            .iter()
            .find(|r| r["onExitCode"] == code)
            .map(|r| r["action"].as_str().unwrap().to_owned())
    };
    assert_eq!(action("1").as_deref(), Some("EXIT"));
    assert_eq!(action("2").as_deref(), Some("RETRY"));
    assert!(definition["retryStrategy"]["attempts"].as_i64().unwrap() > 1);
}

// --- S3 Batch Operations ------------------------------------------------------------------------

#[test]
fn the_example_events_are_schema_2_with_arguments_the_handler_takes() {
    let mut modes = BTreeSet::new();
    for name in ["scan.json", "dry-run.json", "fix.json"] {
        let invocation: Invocation =
            serde_json::from_str(&std::fs::read_to_string(events().join(name)).unwrap()).unwrap();
        assert_eq!(
            invocation.invocation_schema_version,
            batch::SCHEMA,
            "{name}"
        );
        let arguments = Arguments::parse(invocation.job.user_arguments.as_ref()).unwrap();
        modes.insert(format!("{:?}", arguments.mode));
        let [task] = &invocation.tasks[..] else {
            panic!("{name}: one task, as Batch Operations sends");
        };
        assert_eq!(task.s3_bucket.as_deref(), Some(BUCKET));
        assert_eq!(batch::decode_key(&task.s3_key).unwrap(), KEY);
        assert_ne!(task.s3_key, KEY, "{name}: the key as a manifest encodes it");
    }
    assert_eq!(modes.len(), 3, "{modes:?}");
}

/// The S3 actions of one statement list.
fn actions(policy: &Value) -> BTreeSet<String> {
    policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| match &s["Action"] {
            Value::String(a) => vec![a.clone()],
            Value::Array(list) => list
                .iter()
                .map(|a| a.as_str().unwrap().to_owned())
                .collect(),
            other => panic!("Action {other}"),
        })
        .collect()
}

/// What each request of the handler needs, by the S3 operation the lab counts it as, for an
/// unversioned and a versioned object (requests that name a version need the `…Version…`
/// actions).
fn needs(operation: &str, versioned: bool) -> &'static [&'static str] {
    match (operation, versioned) {
        // The bucket check, and missing keys answered 404 rather than 403.
        ("HeadBucket", _) => &["s3:ListBucket"],
        // The caller's id: objects of other accounts are skipped.
        ("ListBuckets", _) => &["s3:ListAllMyBuckets"],
        ("GetBucketAcl", _) => &["s3:GetBucketAcl"],
        // HEAD (with the Object Lock headers, which need their read permissions), the sniff.
        ("HeadObject" | "GetObject", false) => &[
            "s3:GetObject",
            "s3:GetObjectRetention",
            "s3:GetObjectLegalHold",
        ],
        ("HeadObject" | "GetObject", true) => &[
            "s3:GetObject",
            "s3:GetObjectVersion",
            "s3:GetObjectRetention",
            "s3:GetObjectLegalHold",
        ],
        ("GetObjectAcl", false) => &["s3:GetObjectAcl"],
        ("GetObjectAcl", true) => &["s3:GetObjectVersionAcl"],
        // The copy: its source (and tags and annotations, copied), its grants, tags, retention
        // and legal hold (docs/s3-behaviour.md §16 for the annotations).
        ("CopyObject", false) => &[
            "s3:GetObject",
            "s3:GetObjectTagging",
            "s3:GetObjectAnnotation",
            "s3:PutObject",
            "s3:PutObjectAcl",
            "s3:PutObjectTagging",
            "s3:PutObjectAnnotation",
            "s3:PutObjectRetention",
            "s3:PutObjectLegalHold",
        ],
        ("CopyObject", true) => &[
            "s3:GetObjectVersion",
            "s3:GetObjectVersionTagging",
            "s3:GetObjectAnnotation",
            "s3:PutObject",
            "s3:PutObjectAcl",
            "s3:PutObjectTagging",
            "s3:PutObjectAnnotation",
            "s3:PutObjectRetention",
            "s3:PutObjectLegalHold",
        ],
        ("ListObjectVersions", _) => &["s3:ListBucketVersions"],
        (other, _) => {
            panic!("the handler sent {other}: add what it needs to needs() and the policy")
        }
    }
}

/// Requests the handler makes only on rarer paths, which the lab run below does not stage: the
/// multipart rewrite of objects over 5 GiB, the probe's clean-up on a server that ignores the
/// copy condition, a versioned repair putting back an ACL change or a delete that came between
/// its read and its copy (src/repair/, src/s3/write.rs).
const RARER: [(&str, &str); 6] = [
    ("s3:AbortMultipartUpload", "a multipart rewrite that failed"),
    (
        "s3:ListObjectAnnotations",
        "the annotations a multipart rewrite puts back",
    ),
    ("s3:DeleteObject", "the probe's copy; a delete made again"),
    (
        "s3:DeleteObjectVersion",
        "the probe's copy in a versioned bucket",
    ),
    (
        "s3:PutObjectVersionAcl",
        "an ACL change carried to the repaired version",
    ),
    (
        "s3:GetObjectVersionTagging",
        "the tags of a multipart rewrite's version",
    ),
];

#[tokio::test(flavor = "multi_thread")]
async fn the_functions_policy_grants_exactly_the_s3_actions_its_requests_need() {
    let policy = json("batch-operations/lambda-policy.json");
    let granted: BTreeSet<String> = actions(&policy)
        .into_iter()
        .filter(|a| a.starts_with("s3:"))
        .collect();

    // The handler repairs an object with every attribute, unversioned and versioned, on the lab.
    let mut needed: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for versioned in [false, true] {
        let env = crate::harness::TestEnv::new().await;
        env.lab.create_bucket(BUCKET);
        env.lab.set_versioning(BUCKET, versioned);
        env.lab.put_object(
            BUCKET,
            KEY,
            crate::fix::everything(crate::harness::gzipped(b"<p>menu</p>")),
        );
        let (handler, _) = crate::batch::lab_handler(&env, 3);
        let event = std::fs::read_to_string(events().join("fix.json")).unwrap();
        let response = handler.handle(serde_json::from_str(&event).unwrap()).await;
        assert_eq!(
            response.results[0].result_code,
            batch::ResultCode::Succeeded,
            "{response:?}"
        );
        for (operation, count) in env.lab.stats().requests {
            if count > 0 {
                for action in needs(&operation, versioned) {
                    needed
                        .entry(action.to_string())
                        .or_default()
                        .insert(operation.clone());
                }
            }
        }
    }
    for (action, why) in RARER {
        needed
            .entry(action.to_owned())
            .or_default()
            .insert(why.to_owned());
    }
    let needed_actions: BTreeSet<String> = needed.keys().cloned().collect();
    let missing: Vec<_> = needed_actions.difference(&granted).collect();
    let extra: Vec<_> = granted.difference(&needed_actions).collect();
    assert!(
        missing.is_empty(),
        "the policy lacks {missing:?} ({needed:?})"
    );
    assert!(
        extra.is_empty(),
        "the policy grants {extra:?}, which no request needs"
    );

    // Only the bucket of the examples, and the function's own log group.
    for statement in policy["Statement"].as_array().unwrap() {
        let resource = statement["Resource"].as_str().unwrap();
        assert!(
            resource == "*" && statement["Action"] == "s3:ListAllMyBuckets"
                || resource.starts_with("arn:aws:s3:::my-site-bucket")
                || resource.starts_with("arn:aws:kms:")
                || resource.contains(":log-group:/aws/lambda/s3mend-batch"),
            "{statement}"
        );
    }
}

#[test]
fn the_roles_trust_the_services_that_take_them_and_the_job_may_invoke_the_function() {
    let principal = |file: &str| json(file)["Statement"][0]["Principal"]["Service"].clone();
    assert_eq!(
        principal("batch-operations/lambda-trust-policy.json"),
        "lambda.amazonaws.com"
    );
    assert_eq!(
        principal("batch-operations/job-trust-policy.json"),
        "batchoperations.s3.amazonaws.com"
    );
    let job = json("batch-operations/job-policy.json");
    assert_eq!(
        actions(&job),
        BTreeSet::from(
            [
                "lambda:InvokeFunction",
                "s3:GetObject",
                "s3:GetObjectVersion",
                "s3:PutObject",
                "s3:GetBucketLocation"
            ]
            .map(str::to_owned)
        )
    );
    let invoke = job["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Action"] == "lambda:InvokeFunction")
        .unwrap();
    assert!(invoke["Resource"]
        .as_str()
        .unwrap()
        .ends_with(":function:s3mend-batch"));
}

#[test]
fn create_job_passes_shellcheck_and_creates_a_lambda_invoke_job_on_the_inventory() {
    let script = examples().join("batch-operations/create-job.sh");
    let out = Command::new("shellcheck")
        .arg(&script)
        .output()
        .expect("shellcheck is installed (.ci/tools.sh install)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // An `aws` that records its arguments, and knows the manifest's ETag.
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("create-job.args");
    let aws = dir.path().join("aws");
    std::fs::write(
        &aws,
        format!(
            "#!/bin/sh\ncase $1 in\ns3api) echo '\"0123456789abcdef0123456789abcdef\"' ;;\ns3control) printf '%s\\0' \"$@\" > {} ;;\nesac\n",
            record.display()
        ),
    )
    .unwrap();
    Command::new("chmod").arg("755").arg(&aws).status().unwrap();
    let manifest = "s3://my-inventory-bucket/my-site-bucket/daily/2026-12-01T01-00Z/manifest.json";
    let function = "arn:aws:lambda:eu-west-1:123456789012:function:s3mend-batch";
    let out = Command::new("sh")
        .arg(&script)
        .env(
            "PATH",
            format!(
                "{}:{}",
                dir.path().display(),
                std::env::var("PATH").unwrap()
            ),
        )
        .env("ACCOUNT_ID", "123456789012")
        .env("REGION", "eu-west-1")
        .env("MANIFEST", manifest)
        .env("FUNCTION_ARN", function)
        .env(
            "ROLE_ARN",
            "arn:aws:iam::123456789012:role/s3mend-batch-job",
        )
        .env("REPORT_BUCKET", "my-inventory-bucket")
        .env("MODE", "fix")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let args: Vec<String> = std::fs::read_to_string(&record)
        .unwrap()
        .split_terminator('\0')
        .map(str::to_owned)
        .collect();
    assert_eq!(&args[..2], ["s3control", "create-job"]);
    let arg = |flag: &str| value(&args, flag).unwrap_or_else(|| panic!("no {flag}: {args:?}"));
    let parse = |flag: &str| -> Value {
        serde_json::from_str(arg(flag))
            .unwrap_or_else(|e| panic!("{flag} is not JSON ({e}): {}", arg(flag)))
    };

    let operation = parse("--operation");
    let invoke = &operation["LambdaInvoke"];
    assert_eq!(invoke["FunctionArn"], function);
    assert_eq!(invoke["InvocationSchemaVersion"], batch::SCHEMA);
    let user: BTreeMap<String, String> =
        serde_json::from_value(invoke["UserArguments"].clone()).unwrap();
    assert_eq!(Arguments::parse(Some(&user)).unwrap().mode, Mode::Fix);

    let manifest_arg = parse("--manifest");
    assert_eq!(
        manifest_arg["Spec"]["Format"],
        "S3InventoryReport_CSV_20161130"
    );
    assert_eq!(
        manifest_arg["Location"]["ObjectArn"],
        "arn:aws:s3:::my-inventory-bucket/my-site-bucket/daily/2026-12-01T01-00Z/manifest.json"
    );
    assert_eq!(
        manifest_arg["Location"]["ETag"],
        "0123456789abcdef0123456789abcdef"
    );

    let report = parse("--report");
    assert_eq!(report["Bucket"], "arn:aws:s3:::my-inventory-bucket");
    assert_eq!(report["Enabled"], true);
    assert_eq!(report["Format"], "Report_CSV_20180820");
    assert_eq!(report["ReportScope"], "AllTasks");
    assert_eq!(
        arg("--role-arn"),
        "arn:aws:iam::123456789012:role/s3mend-batch-job"
    );
    assert!(args.iter().any(|a| a == "--confirmation-required"));
}
