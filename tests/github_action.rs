//! The GitHub Action (examples/github/action.yml) and the deploy workflow that uses it
//! (examples/github/deploy.yml). GitHub Actions cannot run here: the files are read as YAML and
//! checked for the structure GitHub requires, the inputs they pass and the order of the deploy's
//! steps; the Action's scan script passes shellcheck and is run as the runner runs it
//! (`bash --noprofile --norc -eo pipefail`) with the real binary against a lab bucket.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use s3mend_lab::{LAB_ACCESS_KEY, LAB_REGION, LAB_SECRET_KEY};
use serde_json::Value;
use yaml_rust2::{Yaml, YamlLoader};

use crate::harness::TestEnv;

fn github_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/github")
}

fn load(name: &str) -> (String, Yaml) {
    let text = std::fs::read_to_string(github_dir().join(name)).unwrap();
    let mut docs = YamlLoader::load_from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(docs.len(), 1, "{name}: one document");
    (text, docs.remove(0))
}

fn str_of<'a>(yaml: &'a Yaml, key: &str) -> Option<&'a str> {
    yaml[key].as_str()
}

fn steps(yaml: &Yaml) -> &Vec<Yaml> {
    yaml["steps"].as_vec().expect("steps")
}

/// Every `inputs.NAME` an expression in `text` names.
fn inputs_named(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for part in text.split("inputs.").skip(1) {
        let name: String = part
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect();
        names.insert(name);
    }
    names
}

fn declared_inputs(action: &Yaml) -> BTreeSet<String> {
    action["inputs"]
        .as_hash()
        .unwrap()
        .keys()
        .map(|k| k.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn the_action_is_a_composite_action_whose_scripts_take_inputs_from_the_environment() {
    let (text, action) = load("action.yml");
    for key in ["name", "description"] {
        assert!(str_of(&action, key).is_some_and(|v| !v.is_empty()), "{key}");
    }
    assert_eq!(str_of(&action["runs"], "using"), Some("composite"));
    let declared = declared_inputs(&action);
    assert_eq!(
        inputs_named(&text)
            .difference(&declared)
            .collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "every input used is declared"
    );
    for (name, input) in action["inputs"].as_hash().unwrap() {
        assert!(input["description"].as_str().is_some(), "{name:?}");
        let required = input["required"].as_bool().unwrap_or(false);
        assert_eq!(
            required,
            input["default"].is_badvalue(),
            "{name:?}: a default exactly when optional"
        );
    }
    assert_eq!(action["inputs"]["target"]["required"].as_bool(), Some(true));
    let fail_on = action["inputs"]["fail-on"]["default"].as_str().unwrap();
    assert!(["error", "warning", "never"].contains(&fail_on));
    let mut ids = BTreeSet::new();
    for step in steps(&action["runs"]) {
        let name = str_of(step, "name").expect("every step is named");
        if let Some(id) = str_of(step, "id") {
            assert!(ids.insert(id.to_owned()), "{id} twice");
        }
        match (str_of(step, "run"), str_of(step, "uses")) {
            (Some(script), None) => {
                // A composite action's run steps must name their shell.
                assert_eq!(str_of(step, "shell"), Some("bash"), "{name}");
                assert!(!script.contains("${{"), "{name}: inputs only through env");
            }
            (None, Some(uses)) => {
                let (action, version) = uses.split_once('@').expect("a pinned action");
                assert!(
                    ["actions/cache", "actions/upload-artifact"].contains(&action),
                    "{uses}"
                );
                assert_eq!(version, "v4", "{uses}");
            }
            _ => panic!("{name}: exactly one of run and uses"),
        }
    }
    let output = str_of(&action["outputs"]["exit-code"], "value").unwrap();
    assert!(output.contains("steps.scan.outputs.exit-code"), "{output}");
    let scan = scan_step(&action);
    let script = str_of(scan, "run").unwrap();
    assert!(script.contains("--format github"), "{script}");
    assert!(
        script.contains("--also-format \"json=$ACTION_REPORT\""),
        "{script}"
    );
    let upload = steps(&action["runs"])
        .iter()
        .find(|s| str_of(s, "uses").is_some_and(|u| u.starts_with("actions/upload-artifact")))
        .expect("the report is uploaded");
    assert!(
        str_of(upload, "if").unwrap().starts_with("always()"),
        "uploaded when the gate fails too"
    );
    assert_eq!(
        str_of(&upload["with"], "path"),
        Some("${{ inputs.report }}")
    );
}

fn scan_step(action: &Yaml) -> &Yaml {
    steps(&action["runs"])
        .iter()
        .find(|s| str_of(s, "id") == Some("scan"))
        .expect("a step with id scan")
}

#[test]
fn the_deploy_workflow_gates_the_promotion_on_the_scan_of_staging() {
    let (_, action) = load("action.yml");
    let (_, workflow) = load("deploy.yml");
    assert!(!workflow["on"]["push"].is_badvalue());
    assert_eq!(
        str_of(&workflow["permissions"], "id-token"),
        Some("write"),
        "the AWS role is assumed with OIDC"
    );
    let jobs = workflow["jobs"].as_hash().unwrap();
    assert_eq!(jobs.len(), 1);
    let job = jobs.values().next().unwrap();
    let steps = steps(job);
    let position = |what: &dyn Fn(&Yaml) -> bool| steps.iter().position(what).unwrap();
    let runs =
        |needle: &'static str| move |s: &Yaml| str_of(s, "run").is_some_and(|r| r.contains(needle));
    let upload = position(&runs("$STAGING/\" --delete"));
    let gate = position(&|s: &Yaml| {
        str_of(s, "uses").is_some_and(|u| u.contains("/s3mend/examples/github@"))
    });
    let promote = position(&runs("live/"));
    assert!(
        upload < gate && gate < promote,
        "upload, then the gate, then promote"
    );
    let with = steps[gate]["with"].as_hash().unwrap();
    let given: BTreeSet<String> = with
        .keys()
        .map(|k| k.as_str().unwrap().to_owned())
        .collect();
    let declared = declared_inputs(&action);
    assert!(given.is_subset(&declared), "{given:?} ⊄ {declared:?}");
    assert!(given.contains("target"));
    let target = str_of(&steps[gate]["with"], "target").unwrap();
    assert!(
        target.starts_with("s3://") && target.contains("env.STAGING"),
        "{target}"
    );
    let fail_on = str_of(&steps[gate]["with"], "fail-on").unwrap();
    assert!(["error", "warning", "never"].contains(&fail_on));
    // The promotion has no `if: always()`: a failed gate stops it.
    assert!(steps[promote]["if"].is_badvalue());
}

#[test]
fn the_actions_scan_script_passes_shellcheck() {
    let (_, action) = load("action.yml");
    let dir = tempfile::tempdir().unwrap();
    for (i, step) in steps(&action["runs"]).iter().enumerate() {
        let Some(script) = str_of(step, "run") else {
            continue;
        };
        let path = dir.path().join(format!("step{i}.sh"));
        std::fs::write(&path, format!("#!/usr/bin/env bash\n{script}")).unwrap();
        let out = Command::new("shellcheck")
            .arg(&path)
            .output()
            .expect("shellcheck is installed (.ci/tools.sh install)");
        assert!(
            out.status.success(),
            "step {i}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

/// What the Scan step leaves behind when the runner runs it with `inputs`.
struct StepRun {
    code: i32,
    stdout: String,
    output: String,
    summary: String,
    report: Option<Value>,
}

fn run_scan_step(env: &TestEnv, inputs: &[(&str, &str)], dir: &Path) -> StepRun {
    let (_, action) = load("action.yml");
    let step = scan_step(&action);
    let input = |name: &str| -> String {
        inputs
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.to_string())
            .or_else(|| {
                action["inputs"][name]["default"]
                    .as_str()
                    .map(str::to_owned)
            })
            .unwrap_or_default()
    };
    let script = dir.join("scan.sh");
    std::fs::write(&script, str_of(step, "run").unwrap()).unwrap();
    let bin = Path::new(env!("CARGO_BIN_EXE_s3mend")).parent().unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let (output, summary) = (dir.join("output"), dir.join("summary.md"));
    let config = dir.join("aws-config");
    std::fs::write(&config, "").unwrap();
    let mut cmd = Command::new("bash");
    cmd.args(["--noprofile", "--norc", "-eo", "pipefail"])
        .arg(&script)
        .current_dir(dir)
        .env_clear()
        .env("PATH", path)
        .env("HOME", dir)
        .env("GITHUB_OUTPUT", &output)
        .env("GITHUB_STEP_SUMMARY", &summary)
        .env("AWS_ENDPOINT_URL", env.lab.endpoint())
        .env("AWS_ACCESS_KEY_ID", LAB_ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", LAB_SECRET_KEY)
        .env("AWS_REGION", LAB_REGION)
        .env("AWS_CONFIG_FILE", &config)
        .env("AWS_SHARED_CREDENTIALS_FILE", &config)
        .env("AWS_EC2_METADATA_DISABLED", "true");
    // The step's env, with each `${{ inputs.NAME }}` as the runner would expand it.
    for (key, value) in step["env"].as_hash().unwrap() {
        let value = value.as_str().unwrap();
        let name = value
            .strip_prefix("${{ inputs.")
            .and_then(|v| v.strip_suffix(" }}"))
            .unwrap_or_else(|| panic!("{value}: not one input"));
        cmd.env(key.as_str().unwrap(), input(name));
    }
    let out = cmd.output().unwrap();
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    let report = std::fs::read_to_string(dir.join(input("report")))
        .ok()
        .map(|t| serde_json::from_str(&t).unwrap());
    StepRun {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        output: read(&output),
        summary: read(&summary),
        report,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_actions_scan_step_annotates_reports_and_fails_the_job_by_the_gate() {
    let env = TestEnv::new().await;
    let manifest = s3mend::demo::manifest().unwrap();
    s3mend::demo::seed(&env.lab, &manifest).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let target = "s3://fieldnotes-site/";
    let failed = run_scan_step(&env, &[("target", target)], dir.path());
    assert_eq!(failed.code, 1, "{}", failed.stdout);
    assert_eq!(
        failed.output, "exit-code=1\n",
        "recorded before the step fails"
    );
    assert!(failed
        .stdout
        .contains("::error title=s3mend content-encoding::index.html: "));
    assert!(
        failed.summary.starts_with("### ❌ s3mend scan"),
        "{}",
        failed.summary
    );
    let report = failed.report.expect("the JSON report for the artifact");
    assert_eq!(report["summary"]["with_findings"], 15);

    // Extra flags are split into words but never evaluated.
    let dir = tempfile::tempdir().unwrap();
    let passed = run_scan_step(
        &env,
        &[
            ("target", target),
            ("fail-on", "never"),
            ("args", "--rules content-type $(touch pwned) *"),
        ],
        dir.path(),
    );
    assert_eq!(passed.code, 2, "`$(touch` is not a flag: {}", passed.stdout);
    assert!(!dir.path().join("pwned").exists());
    let dir = tempfile::tempdir().unwrap();
    let passed = run_scan_step(
        &env,
        &[
            ("target", target),
            ("fail-on", "never"),
            ("args", "--rules content-type"),
        ],
        dir.path(),
    );
    assert_eq!(passed.code, 0, "{}", passed.stdout);
    assert_eq!(passed.output, "exit-code=0\n");
    assert!(passed
        .stdout
        .contains("::warning title=s3mend content-type::"));
}
