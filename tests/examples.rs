//! The examples for running s3mend every night (examples/: a crontab, systemd units, a Kubernetes
//! CronJob, and the s3mend-nightly wrapper all three call). Each is read the way its scheduler
//! reads it, passes the scheduler's own checker where one runs here (`systemd-analyze`,
//! `kubernetes-validate`), names only flags `s3mend fix` has, and runs against a lab bucket with
//! the real binary.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use s3mend_lab::{LabConfig, ObjectSeed, LAB_ACCESS_KEY, LAB_REGION, LAB_SECRET_KEY};
use serde_json::Value;
use yaml_rust2::{Yaml, YamlLoader};

use crate::harness::{s3mend_command, Run, TestEnv};

/// The bucket every example repairs.
const SITE: &str = "s3://my-site-bucket/";
const SITE_BUCKET: &str = "my-site-bucket";

/// Where the wrapper is installed by each example.
const WRAPPER_NAMES: [&str; 3] = [
    "s3mend-nightly",
    "/usr/local/bin/s3mend-nightly",
    "/opt/s3mend/s3mend-nightly",
];

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

fn read(path: &str) -> String {
    let path = examples().join(path);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn wrapper() -> PathBuf {
    examples().join("s3mend-nightly")
}

// --- the examples, read as their schedulers read them ---------------------------------------------

/// A systemd unit file as systemd reads it: `[Section]`, `Key=Value` (keys may repeat), `#` and
/// `;` comments, a trailing backslash continuing the line.
struct Unit {
    entries: Vec<(String, String, String)>,
}

impl Unit {
    fn read(name: &str) -> Unit {
        let text = read(&format!("systemd/{name}"));
        let mut entries = Vec::new();
        let mut section = String::new();
        let mut logical = String::new();
        for line in text.lines().map(str::trim) {
            if line.starts_with('#')
                || line.starts_with(';')
                || (line.is_empty() && logical.is_empty())
            {
                continue;
            }
            if let Some(start) = line.strip_suffix('\\') {
                logical.push_str(start);
                logical.push(' ');
                continue;
            }
            logical.push_str(line);
            let line = std::mem::take(&mut logical);
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                section = name.to_owned();
                continue;
            }
            let (key, value) = line
                .split_once('=')
                .unwrap_or_else(|| panic!("{name}: not Key=Value: {line:?}"));
            entries.push((
                section.clone(),
                key.trim().to_owned(),
                value.trim().to_owned(),
            ));
        }
        assert!(logical.is_empty(), "{name} ends in a continued line");
        Unit { entries }
    }

    fn all(&self, section: &str, key: &str) -> Vec<&str> {
        self.entries
            .iter()
            .filter(|(s, k, _)| s == section && k == key)
            .map(|(_, _, v)| v.as_str())
            .collect()
    }

    /// The value of a key that must be set exactly once.
    fn one(&self, section: &str, key: &str) -> &str {
        match self.all(section, key)[..] {
            [value] => value,
            ref values => panic!("[{section}] {key}= is set {} times", values.len()),
        }
    }
}

/// `Environment=NAME=VALUE` lines of a unit, `%d` (the credentials directory) replaced.
fn unit_environment(unit: &Unit, credentials_dir: &Path) -> Vec<(String, String)> {
    unit.all("Service", "Environment")
        .iter()
        .map(|assignment| {
            let (name, value) = assignment.split_once('=').expect("NAME=VALUE");
            let value = value.replace("%d", credentials_dir.to_str().unwrap());
            (name.to_owned(), value)
        })
        .collect()
}

/// A crontab: its variable assignments and its one job, the command as cron hands it to sh.
struct Crontab {
    variables: BTreeMap<String, String>,
    schedule: Vec<String>,
    command: String,
}

impl Crontab {
    fn read() -> Crontab {
        let text = read("crontab");
        let mut variables = BTreeMap::new();
        let mut jobs = Vec::new();
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let assignment = line.split_once('=').filter(|(name, _)| {
                !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            });
            match assignment {
                Some((name, value)) => {
                    variables.insert(name.to_owned(), value.to_owned());
                }
                None => jobs.push(line),
            }
        }
        let [job] = jobs[..] else {
            panic!("the crontab has {} jobs, not one: {jobs:?}", jobs.len());
        };
        // Five time fields, then the command (the rest of the line, as written).
        let mut rest = job;
        let mut schedule = Vec::new();
        for _ in 0..5 {
            let (field, after) = rest.split_once(char::is_whitespace).expect("5 time fields");
            schedule.push(field.to_owned());
            rest = after.trim_start();
        }
        Crontab {
            variables,
            schedule,
            command: cron_percent(rest),
        }
    }

    /// The job's arguments, as sh splits and expands the command (`$(date …)` included).
    fn argv(&self) -> Vec<String> {
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!("set -- {}; printf '%s\\0' \"$@\"", self.command))
            .output()
            .expect("sh runs");
        assert!(out.status.success(), "sh: {out:?}");
        String::from_utf8(out.stdout)
            .unwrap()
            .split_terminator('\0')
            .map(str::to_owned)
            .collect()
    }
}

/// What cron does with `%` in a command: `\%` is a literal `%`; a bare `%` ends the command (the
/// rest becomes its stdin), which in this example would be a mistake.
fn cron_percent(command: &str) -> String {
    let mut out = String::new();
    let mut chars = command.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'%') => out.push(chars.next().unwrap()),
            '%' => panic!("unescaped % in the crontab command: cron would cut it there: {command}"),
            c => out.push(c),
        }
    }
    out
}

/// The documents of examples/kubernetes/cronjob.yaml.
fn kubernetes_documents() -> Vec<Yaml> {
    YamlLoader::load_from_str(&read("kubernetes/cronjob.yaml")).expect("cronjob.yaml is YAML")
}

fn kubernetes_document(kind: &str) -> Yaml {
    let found: Vec<Yaml> = kubernetes_documents()
        .into_iter()
        .filter(|d| d["kind"].as_str() == Some(kind))
        .collect();
    assert_eq!(found.len(), 1, "one {kind} in cronjob.yaml");
    found.into_iter().next().unwrap()
}

pub(crate) fn strings(list: &Yaml) -> Vec<String> {
    list.as_vec()
        .unwrap_or_else(|| panic!("not a list: {list:?}"))
        .iter()
        .map(|item| item.as_str().expect("a string").to_owned())
        .collect()
}

fn pod_spec(cronjob: &Yaml) -> &Yaml {
    &cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
}

fn container(cronjob: &Yaml) -> &Yaml {
    let containers = pod_spec(cronjob)["containers"]
        .as_vec()
        .expect("containers");
    assert_eq!(containers.len(), 1, "one container");
    &containers[0]
}

/// Kubernetes' `$(VAR)` in args, from the container's env: a value, or status.hostIP (here the
/// lab's address).
fn expand_kubernetes_vars(arg: &str, container: &Yaml) -> String {
    let mut arg = arg.to_owned();
    for var in container["env"].as_vec().into_iter().flatten() {
        let name = var["name"].as_str().unwrap();
        let value = match (
            var["value"].as_str(),
            var["valueFrom"]["fieldRef"]["fieldPath"].as_str(),
        ) {
            (Some(value), _) => value,
            (None, Some("status.hostIP")) => "127.0.0.1",
            _ => continue,
        };
        arg = arg.replace(&format!("$({name})"), value);
    }
    arg
}

/// One example's command line, split as its scheduler splits it.
struct Invocation {
    example: &'static str,
    argv: Vec<String>,
    /// The directory it runs in, where s3mend writes its default journal.
    workdir: Option<String>,
}

impl Invocation {
    fn cron() -> Invocation {
        Invocation {
            example: "crontab",
            argv: Crontab::read().argv(),
            workdir: None,
        }
    }

    fn systemd() -> Invocation {
        let unit = Unit::read("s3mend-nightly.service");
        let exec_start = unit.one("Service", "ExecStart");
        assert!(
            !exec_start.contains(['"', '\'', '$', '%']),
            "ExecStart is plain words (no quoting, variables or specifiers): {exec_start}"
        );
        Invocation {
            example: "systemd/s3mend-nightly.service",
            argv: exec_start.split_whitespace().map(str::to_owned).collect(),
            workdir: Some(unit.one("Service", "WorkingDirectory").to_owned()),
        }
    }

    fn kubernetes() -> Invocation {
        let cronjob = kubernetes_document("CronJob");
        let container = container(&cronjob);
        let argv = strings(&container["command"])
            .into_iter()
            .chain(strings(&container["args"]))
            .map(|arg| expand_kubernetes_vars(&arg, container))
            .collect();
        Invocation {
            example: "kubernetes/cronjob.yaml",
            argv,
            workdir: container["workingDir"].as_str().map(str::to_owned),
        }
    }

    fn all() -> [Invocation; 3] {
        [Self::cron(), Self::systemd(), Self::kubernetes()]
    }

    /// What s3mend gets: the arguments after s3mend-nightly.
    fn s3mend_args(&self) -> &[String] {
        let at = self
            .argv
            .iter()
            .position(|a| WRAPPER_NAMES.contains(&a.as_str()))
            .unwrap_or_else(|| {
                panic!(
                    "{}: s3mend-nightly is not called: {:?}",
                    self.example, self.argv
                )
            });
        &self.argv[at + 1..]
    }

    /// The value after `flag` in s3mend's arguments.
    fn value(&self, flag: &str) -> Option<&str> {
        let args = self.s3mend_args();
        let at = args.iter().position(|a| a == flag)?;
        args.get(at + 1).map(String::as_str)
    }

    /// The flags given to s3mend, `--name=value` as `--name`.
    fn flags(&self) -> BTreeSet<String> {
        self.s3mend_args()
            .iter()
            .filter(|a| a.starts_with('-') && a.as_str() != "-")
            .map(|a| a.split('=').next().unwrap().to_owned())
            .collect()
    }
}

/// Every flag `s3mend fix --help` lists, long and short.
pub(crate) fn fix_flags() -> BTreeSet<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_s3mend"))
        .args(["fix", "--help"])
        .output()
        .expect("s3mend runs");
    assert!(out.status.success(), "{out:?}");
    let help = String::from_utf8(out.stdout).unwrap();
    let mut flags = BTreeSet::new();
    for line in help
        .lines()
        .map(str::trim_start)
        .filter(|l| l.starts_with('-'))
    {
        for word in line
            .split([' ', ','])
            .take_while(|w| w.is_empty() || w.starts_with('-'))
        {
            if !word.is_empty() {
                flags.insert(word.trim_end_matches("...").to_owned());
            }
        }
    }
    assert!(flags.contains("--yes") && flags.contains("-q"), "{flags:?}");
    flags
}

// --- the Kubernetes CronJob --------------------------------------------------------------------

#[test]
fn the_cronjob_is_a_batch_v1_cronjob_that_runs_the_nightly_fix_on_a_volume() {
    let cronjob = kubernetes_document("CronJob");
    assert_eq!(cronjob["apiVersion"].as_str(), Some("batch/v1"));
    let spec = &cronjob["spec"];
    assert_eq!(spec["concurrencyPolicy"].as_str(), Some("Forbid"));
    assert!(spec["schedule"]
        .as_str()
        .is_some_and(|s| s.split(' ').count() == 5));

    let job = &spec["jobTemplate"]["spec"];
    assert!(
        job["backoffLimit"].as_i64().is_some_and(|n| n > 0),
        "{job:?}"
    );
    // Exit 1 (findings left) fails the Job at once instead of being retried.
    let rules = job["podFailurePolicy"]["rules"]
        .as_vec()
        .expect("podFailurePolicy");
    let exit_1 = rules
        .iter()
        .find(|r| {
            r["onExitCodes"]["values"]
                .as_vec()
                .is_some_and(|v| v.contains(&Yaml::Integer(1)))
        })
        .expect("a podFailurePolicy rule for exit code 1");
    assert_eq!(exit_1["action"].as_str(), Some("FailJob"));
    assert_eq!(exit_1["onExitCodes"]["operator"].as_str(), Some("In"));
    let pod = pod_spec(&cronjob);
    assert_eq!(
        pod["restartPolicy"].as_str(),
        Some("Never"),
        "podFailurePolicy needs it"
    );

    let container = container(&cronjob);
    assert_eq!(exit_1["onExitCodes"]["containerName"], container["name"]);
    let args = strings(&container["args"]);
    for arg in [
        "fix",
        SITE,
        "--yes",
        "-q",
        "--catalog",
        "--state",
        "--statsd",
    ] {
        assert!(
            args.iter().any(|a| a == arg),
            "container args lack {arg}: {args:?}"
        );
    }
    assert!(
        !args.iter().any(|a| a == "--resume"),
        "s3mend-nightly decides that"
    );
    assert!(
        !args.iter().any(|a| a == "--metrics-file"),
        "no node_exporter in a pod"
    );
    for resources in ["requests", "limits"] {
        let set = &container["resources"][resources];
        assert!(
            !set["cpu"].is_badvalue() && !set["memory"].is_badvalue(),
            "{resources}"
        );
    }

    // Catalog, state and journal (the working directory) are on the claim's volume.
    let claim = kubernetes_document("PersistentVolumeClaim");
    let volumes = pod["volumes"].as_vec().expect("volumes");
    let data = volumes
        .iter()
        .find(|v| v["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"])
        .expect("a volume from the PersistentVolumeClaim");
    let mount = container["volumeMounts"]
        .as_vec()
        .unwrap()
        .iter()
        .find(|m| m["name"] == data["name"])
        .expect("the volume is mounted");
    let root = format!("{}/", mount["mountPath"].as_str().unwrap());
    let invocation = Invocation::kubernetes();
    for path in [
        invocation.value("--state").unwrap(),
        invocation.value("--catalog").unwrap(),
        &format!("{}/", invocation.workdir.as_deref().expect("workingDir")),
    ] {
        assert!(
            path.starts_with(&root),
            "{path} is not on the volume at {root}"
        );
    }

    // The wrapper comes from the ConfigMap, executable.
    let command = strings(&container["command"]);
    assert_eq!(command, ["/opt/s3mend/s3mend-nightly"]);
    assert!(volumes
        .iter()
        .any(|v| v["configMap"]["name"].as_str() == Some("s3mend-nightly")));

    // Credentials: the service account (IRSA), never a key in the file.
    let account = kubernetes_document("ServiceAccount");
    assert_eq!(pod["serviceAccountName"], account["metadata"]["name"]);
    assert!(
        account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
            .as_str()
            .is_some_and(|arn| arn.starts_with("arn:aws:iam::"))
    );
    for var in container["env"].as_vec().unwrap() {
        let name = var["name"].as_str().unwrap();
        assert!(
            !name.starts_with("AWS_ACCESS") && !name.starts_with("AWS_SECRET"),
            "{name}"
        );
    }
    // DogStatsD goes to the agent on the pod's node.
    let agent = container["env"]
        .as_vec()
        .unwrap()
        .iter()
        .find(|v| v["name"].as_str() == Some("DD_AGENT_HOST"))
        .expect("DD_AGENT_HOST");
    assert_eq!(
        agent["valueFrom"]["fieldRef"]["fieldPath"].as_str(),
        Some("status.hostIP")
    );
    assert_eq!(invocation.value("--statsd"), Some("127.0.0.1:8125"));
}

/// `kubernetes-validate` in the venv `.ci/tools.sh install` makes.
pub(crate) fn kubernetes_validate() -> PathBuf {
    let cache = std::env::var_os("S3MEND_CI_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("XDG_CACHE_HOME").map(|c| PathBuf::from(c).join("s3mend-ci")))
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/s3mend-ci")))
        .expect("HOME is set");
    cache.join("kubernetes-validate-venv/bin/kubernetes-validate")
}

#[test]
#[ignore = "needs kubernetes-validate (PyPI) installed: run .ci/test"]
fn the_cronjob_is_valid_against_the_kubernetes_schemas_from_1_29_on() {
    // 1.29: the first release whose schema takes a podFailurePolicy rule with onExitCodes alone.
    assert_valid_for_kubernetes("kubernetes/cronjob.yaml", &["1.29.0", "1.37.0"], 3);
}

/// `kubernetes-validate --strict` passes `file` (under examples/) for each of `versions`, with
/// `resources` resources in it.
pub(crate) fn assert_valid_for_kubernetes(file: &str, versions: &[&str], resources: usize) {
    let validate = kubernetes_validate();
    assert!(
        validate.exists(),
        "{} is missing: run .ci/tools.sh install",
        validate.display()
    );
    for version in versions {
        let out = Command::new(&validate)
            .args(["--strict", "--kubernetes-version", version])
            .arg(examples().join(file))
            .output()
            .expect("kubernetes-validate runs");
        let text = String::from_utf8_lossy(&out.stdout) + String::from_utf8_lossy(&out.stderr);
        println!("kubernetes-validate --strict -k {version} {file}:\n{text}");
        assert!(out.status.success(), "{text}");
        assert_eq!(
            text.matches("passed").count(),
            resources,
            "{resources} resources: {text}"
        );
    }
}

// --- the systemd units ------------------------------------------------------------------------------

/// A root for `systemd-analyze --root`: the units in /etc/systemd/system, the wrapper where
/// ExecStart names it, and this machine's own units (sysinit.target and the rest).
fn systemd_root() -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let units = root.path().join("etc/systemd/system");
    std::fs::create_dir_all(&units).unwrap();
    for name in ["s3mend-nightly.service", "s3mend-nightly.timer"] {
        std::fs::copy(examples().join("systemd").join(name), units.join(name)).unwrap();
    }
    let bin = root.path().join("usr/local/bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::copy(wrapper(), bin.join("s3mend-nightly")).unwrap();
    let system = root.path().join("usr/lib/systemd");
    std::fs::create_dir_all(&system).unwrap();
    let copied = Command::new("cp")
        .args(["-r", "/usr/lib/systemd/system"])
        .arg(&system)
        .status()
        .unwrap();
    assert!(copied.success(), "copy /usr/lib/systemd/system");
    root
}

fn systemd_analyze(root: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new("systemd-analyze")
        .args(args)
        .arg(format!("--root={}", root.display()))
        .current_dir(root.join("etc/systemd/system"))
        .output()
        .unwrap_or_else(|e| {
            panic!("systemd-analyze: {e}: install Debian's systemd (.ci/tools.sh install does)")
        });
    let text = String::from_utf8_lossy(&out.stdout) + String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text.into_owned())
}

#[test]
fn the_systemd_units_pass_systemd_analyze_verify_and_security() {
    let root = systemd_root();
    // verify exits 0 on an unknown key or a value it cannot parse ("…, ignoring"): it must print
    // nothing at all.
    let (ok, text) = systemd_analyze(
        root.path(),
        &["verify", "s3mend-nightly.service", "s3mend-nightly.timer"],
    );
    assert!(
        ok && text.trim().is_empty(),
        "systemd-analyze verify:\n{text}"
    );

    let (ok, text) = systemd_analyze(
        root.path(),
        &["security", "--offline=yes", "s3mend-nightly.service"],
    );
    let overall = text
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .unwrap_or_else(|| panic!("no overall exposure level:\n{text}"));
    println!("systemd-analyze security: {overall}");
    assert!(ok, "{text}");
    // systemd's own bands: SAFE, OK, MEDIUM, EXPOSED, UNSAFE.
    assert!(
        overall.contains(" OK") || overall.contains(" SAFE"),
        "the hardening went: {overall}\n{text}"
    );
}

#[test]
fn the_service_is_a_hardened_oneshot_for_which_findings_left_are_no_failure() {
    let unit = Unit::read("s3mend-nightly.service");
    assert_eq!(unit.one("Service", "Type"), "oneshot");
    let success: Vec<&str> = unit
        .one("Service", "SuccessExitStatus")
        .split_whitespace()
        .collect();
    assert_eq!(
        success,
        ["1"],
        "1 (findings left) is success; 2, 130 and 143 are not"
    );

    for (key, value) in [
        ("ProtectSystem", "strict"),
        ("PrivateTmp", "yes"),
        ("NoNewPrivileges", "yes"),
        ("ProtectHome", "yes"),
        ("User", "s3mend"),
        ("StateDirectory", "s3mend"),
        ("LogsDirectory", "s3mend"),
    ] {
        assert_eq!(unit.one("Service", key), value, "{key}");
    }

    // Everything s3mend writes is writable under ProtectSystem=strict: the state and catalog in
    // StateDirectory, the journal in WorkingDirectory = LogsDirectory, the metrics file in a
    // ReadWritePaths directory.
    let invocation = Invocation::systemd();
    let state_dir = format!("/var/lib/{}/", unit.one("Service", "StateDirectory"));
    let logs_dir = format!("/var/log/{}", unit.one("Service", "LogsDirectory"));
    for flag in ["--state", "--catalog"] {
        let path = invocation
            .value(flag)
            .unwrap_or_else(|| panic!("ExecStart lacks {flag}"));
        assert!(
            path.starts_with(&state_dir),
            "{flag} {path} is not in {state_dir}"
        );
    }
    assert_eq!(invocation.workdir.as_deref(), Some(logs_dir.as_str()));
    assert_eq!(
        invocation.value("--journal"),
        None,
        "the default journal, in WorkingDirectory"
    );
    let metrics = Path::new(invocation.value("--metrics-file").expect("--metrics-file"));
    let writable = unit.all("Service", "ReadWritePaths");
    assert!(
        writable
            .iter()
            .any(|dir| metrics.parent() == Some(Path::new(dir))),
        "{} is not in ReadWritePaths {writable:?}",
        metrics.display()
    );

    let args = invocation.s3mend_args();
    assert_eq!(invocation.argv[0], "/usr/local/bin/s3mend-nightly");
    assert_eq!(&args[..2], ["fix", SITE]);
    for flag in ["--yes", "-q"] {
        assert!(args.iter().any(|a| a == flag), "ExecStart lacks {flag}");
    }
    assert!(
        !args.iter().any(|a| a == "--resume"),
        "s3mend-nightly decides that"
    );

    // Credentials: a credential file handed over by systemd, never a key in the unit.
    let credential = unit.one("Service", "LoadCredential");
    let (name, source) = credential.split_once(':').expect("NAME:PATH");
    assert!(source.starts_with("/etc/"), "{source}");
    let environment = unit_environment(&unit, Path::new("/run/credentials/x"));
    assert!(environment.contains(&(
        "AWS_SHARED_CREDENTIALS_FILE".into(),
        format!("/run/credentials/x/{name}")
    )));
    for (variable, _) in &environment {
        assert!(!variable.starts_with("AWS_SECRET") && !variable.starts_with("AWS_ACCESS"));
    }
}

#[test]
fn the_timer_runs_the_service_every_night_and_catches_up_after_downtime() {
    let timer = Unit::read("s3mend-nightly.timer");
    let on_calendar = timer.one("Timer", "OnCalendar");
    let out = Command::new("systemd-analyze")
        .args(["calendar", on_calendar])
        .output()
        .expect("systemd-analyze runs (.ci/tools.sh install)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("Normalized form: *-*-* 02:30:00"),
        "every night: {text}"
    );
    assert_eq!(timer.one("Timer", "Persistent"), "true");
    assert!(!timer.one("Timer", "RandomizedDelaySec").is_empty());
    assert_eq!(timer.one("Timer", "Unit"), "s3mend-nightly.service");
    assert_eq!(timer.one("Install", "WantedBy"), "timers.target");
}

// --- the crontab --------------------------------------------------------------------------------

#[test]
fn the_crontab_runs_the_nightly_fix_with_every_percent_escaped() {
    let crontab = Crontab::read();
    assert_eq!(crontab.schedule, ["30", "2", "*", "*", "*"]);
    assert!(crontab.variables["PATH"]
        .split(':')
        .any(|d| d == "/usr/local/bin"));
    assert!(crontab.variables.contains_key("MAILTO"));
    assert!(crontab.variables["AWS_SHARED_CREDENTIALS_FILE"].starts_with("/etc/"));
    assert!(!crontab
        .variables
        .keys()
        .any(|k| k.starts_with("AWS_SECRET")));

    let before = today();
    let invocation = Invocation::cron();
    let after = today();
    // flock -n: no second run beside one still going.
    assert_eq!(invocation.argv[..2], ["flock", "-n"]);
    assert_eq!(invocation.argv[3], "s3mend-nightly");
    let args = invocation.s3mend_args();
    assert_eq!(&args[..2], ["fix", SITE]);
    for flag in ["--yes", "-q", "--catalog", "--state", "--metrics-file"] {
        assert!(args.iter().any(|a| a == flag), "the crontab lacks {flag}");
    }
    // `$(date +\%F)` became today's date: cron left the % to the shell.
    let journal = invocation.value("--journal").expect("--journal");
    assert!(
        [&before, &after]
            .iter()
            .any(|d| journal == format!("/var/log/s3mend/{d}.jsonl")),
        "{journal}"
    );
}

/// `date +%F`, as the crontab's shell computes it.
fn today() -> String {
    let out = Command::new("date").arg("+%F").output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

// --- every example against the real binary --------------------------------------------------------

#[test]
fn every_flag_the_examples_give_s3mend_is_one_s3mend_fix_accepts() {
    // Fails until --catalog, --statsd and --metrics-file are in `s3mend fix --help` (they are
    // being added beside these examples); it then passes by itself.
    let known = fix_flags();
    let mut unknown: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
    for invocation in Invocation::all() {
        assert_eq!(invocation.s3mend_args()[0], "fix", "{}", invocation.example);
        for flag in invocation.flags() {
            if !known.contains(&flag) {
                unknown.entry(flag).or_default().insert(invocation.example);
            }
        }
    }
    assert!(
        unknown.is_empty(),
        "examples/ uses flags that `s3mend fix --help` does not list: {unknown:?}"
    );
}

/// A file of AWS shared credentials for the lab.
fn write_credentials(path: &Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(
        path,
        format!("[default]\naws_access_key_id = {LAB_ACCESS_KEY}\naws_secret_access_key = {LAB_SECRET_KEY}\n"),
    )
    .unwrap();
}

/// `path` (absolute, as the example names it) under `root`.
fn under(root: &Path, path: &str) -> PathBuf {
    root.join(path.strip_prefix('/').expect("an absolute path"))
}

/// Runs an example's command line against the lab as its scheduler would on a machine whose `/` is
/// `root`: every absolute path moved under `root` (parent directories made, as the install steps
/// do), s3mend-nightly from examples/ running s3mend from this build, and `env` added. Flags this
/// s3mend does not have yet are left out, with their values, so what exists is run for real.
async fn run_example(
    env: &TestEnv,
    invocation: &Invocation,
    root: &Path,
    vars: &[(String, String)],
) -> Run {
    let known = fix_flags();
    let mut argv = Vec::new();
    let mut left_out = Vec::new();
    let mut after_wrapper = false;
    let mut args = invocation.argv.iter().peekable();
    while let Some(arg) = args.next() {
        if WRAPPER_NAMES.contains(&arg.as_str()) {
            argv.push(wrapper().to_str().unwrap().to_owned());
            after_wrapper = true;
        } else if after_wrapper
            && arg.starts_with("--")
            && !known.contains(arg.split('=').next().unwrap())
        {
            left_out.push(arg.clone());
            if !arg.contains('=') && args.peek().is_some_and(|v| !v.starts_with('-')) {
                left_out.push(args.next().unwrap().clone());
            }
        } else if arg.starts_with('/') {
            let path = under(root, arg);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            argv.push(path.to_str().unwrap().to_owned());
        } else {
            argv.push(arg.clone());
        }
    }
    println!(
        "{}: left out (not in this s3mend yet): {left_out:?}",
        invocation.example
    );
    let workdir = match &invocation.workdir {
        Some(dir) => under(root, dir),
        None => root.to_owned(),
    };
    std::fs::create_dir_all(&workdir).unwrap();

    let mut cmd = tokio::process::Command::new(&argv[0]);
    for (key, value) in s3mend_command().as_std().get_envs() {
        match value {
            Some(value) => cmd.env(key, value),
            None => cmd.env_remove(key),
        };
    }
    cmd.args(&argv[1..])
        .current_dir(&workdir)
        .env("S3MEND_BIN", env!("CARGO_BIN_EXE_s3mend"))
        .env("AWS_ENDPOINT_URL", env.lab.endpoint())
        .env("AWS_REGION", LAB_REGION)
        .envs(vars.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(120), cmd.output())
        .await
        .expect("finishes within 2 minutes")
        .expect("runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `s3://my-site-bucket/` with a page s3cmd broke and a clean stylesheet.
async fn site() -> TestEnv {
    let env = TestEnv::new().await;
    env.lab.create_bucket(SITE_BUCKET);
    for (key, encoding) in [("index.html", Some("UTF-8")), ("style.css", None)] {
        env.lab.put_object(
            SITE_BUCKET,
            key,
            ObjectSeed {
                body: bytes::Bytes::from_static(b"<p>hello</p>"),
                content_type: Some("text/html; charset=utf-8".into()),
                content_encoding: encoding.map(str::to_owned),
                ..ObjectSeed::default()
            },
        );
    }
    env
}

fn journals_in(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_example_repairs_the_site_with_the_real_binary() {
    for invocation in Invocation::all() {
        let env = site().await;
        let root = tempfile::tempdir().unwrap();
        // Credentials as each example provides them.
        let vars: Vec<(String, String)> = match invocation.example {
            "crontab" => {
                let file = &Crontab::read().variables["AWS_SHARED_CREDENTIALS_FILE"];
                write_credentials(&under(root.path(), file));
                vec![(
                    "AWS_SHARED_CREDENTIALS_FILE".into(),
                    under(root.path(), file).to_str().unwrap().into(),
                )]
            }
            "systemd/s3mend-nightly.service" => {
                // LoadCredential=NAME:… puts the file at $CREDENTIALS_DIRECTORY/NAME (%d/NAME).
                let unit = Unit::read("s3mend-nightly.service");
                let (name, _) = unit
                    .one("Service", "LoadCredential")
                    .split_once(':')
                    .unwrap();
                let credentials = root.path().join("run/credentials/s3mend-nightly.service");
                write_credentials(&credentials.join(name));
                unit_environment(&unit, &credentials)
            }
            // IRSA or a Secret: both end up as the SDK's environment credentials here.
            _ => vec![
                ("AWS_ACCESS_KEY_ID".into(), LAB_ACCESS_KEY.into()),
                ("AWS_SECRET_ACCESS_KEY".into(), LAB_SECRET_KEY.into()),
            ],
        };

        let run = run_example(&env, &invocation, root.path(), &vars).await;
        assert_eq!(run.code, 0, "{}: {run:?}", invocation.example);
        let page = env.lab.object(SITE_BUCKET, "index.html").unwrap();
        assert_eq!(
            page.content_encoding, None,
            "{}: repaired",
            invocation.example
        );

        let state = under(root.path(), invocation.value("--state").unwrap());
        let state: Value = serde_json::from_str(&std::fs::read_to_string(state).unwrap()).unwrap();
        assert_eq!(state["complete"], true, "{}: {state}", invocation.example);
        let journal = match invocation.value("--journal") {
            Some(journal) => vec![under(root.path(), journal)],
            None => journals_in(&under(root.path(), invocation.workdir.as_deref().unwrap())),
        };
        assert_eq!(journal.len(), 1, "{}: {journal:?}", invocation.example);
        let journal = std::fs::read_to_string(&journal[0]).unwrap();
        assert!(
            journal.contains("index.html"),
            "{}: {journal}",
            invocation.example
        );
    }
}

// --- s3mend-nightly: resume what was stopped, start afresh what finished ---------------------------

fn summary(report: &Path) -> Value {
    let text =
        std::fs::read_to_string(report).unwrap_or_else(|e| panic!("{}: {e}", report.display()));
    let last = text.lines().last().expect("a summary line");
    serde_json::from_str::<Value>(last).unwrap()["summary"].clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_wrapper_resumes_a_run_stopped_by_sigterm_and_starts_afresh_once_it_finished() {
    const OBJECTS: usize = 600;
    let env = TestEnv::with_config(LabConfig {
        latency: Duration::from_millis(10),
        ..LabConfig::default()
    })
    .await;
    for i in 0..OBJECTS {
        env.lab.put_object(
            crate::harness::BUCKET,
            &format!("site/page-{i:04}.html"),
            ObjectSeed {
                body: bytes::Bytes::from(format!("<p>{i}</p>")),
                content_type: Some("text/html".into()),
                content_encoding: Some("UTF-8".into()),
                ..ObjectSeed::default()
            },
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    let state = path("site.state.json");
    // One night's command line: the journal named by its date, as the crontab does.
    let night = |journal: &str, report: &str| {
        vec![
            "fix".to_owned(),
            "s3://test-bucket/".into(),
            "--yes".into(),
            "-q".into(),
            "--concurrency".into(),
            "4".into(),
            "--state".into(),
            state.clone(),
            "--journal".into(),
            path(journal),
            "--format".into(),
            "jsonl".into(),
            "--output".into(),
            path(report),
        ]
    };
    let nightly = |args: Vec<String>| {
        let mut cmd = s3mend_command();
        let std = cmd.as_std_mut();
        let mut wrapper = tokio::process::Command::new(wrapper());
        for (key, value) in std.get_envs() {
            match value {
                Some(value) => wrapper.env(key, value),
                None => wrapper.env_remove(key),
            };
        }
        wrapper
            .args(args)
            .env("S3MEND_BIN", env!("CARGO_BIN_EXE_s3mend"))
            .env("AWS_ENDPOINT_URL", env.lab.endpoint())
            .env("AWS_ACCESS_KEY_ID", LAB_ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", LAB_SECRET_KEY)
            .env("AWS_REGION", LAB_REGION)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        wrapper
    };

    // Night 1, stopped part way by SIGTERM (a reboot, a drain).
    let mut first = nightly(night("2026-12-01.jsonl", "1.jsonl"))
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let checkpointed = std::fs::read_to_string(&state)
            .ok()
            .and_then(|s| serde_json::from_str::<Value>(&s).ok())
            .is_some_and(|s| !s["done_through"].is_null());
        if checkpointed && env.lab.stats().count("CopyObject") >= (OBJECTS / 6) as u64 {
            break;
        }
        assert!(Instant::now() < deadline, "no checkpoint within 60 s");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let pid = first.id().expect("running") as libc::pid_t;
    // SAFETY: kill(2) on our own child's pid; no memory is involved.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let status = first.wait().await.unwrap();
    // 143 is s3mend's own answer to SIGTERM: the wrapper exec'd it, so the signal reached it.
    assert_eq!(status.code(), Some(143), "s3mend got the SIGTERM");
    let stopped: Value = serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    assert_eq!(stopped["complete"], false, "{stopped}");
    let fixed_first = summary(Path::new(&path("1.jsonl")))["fixed"]
        .as_u64()
        .unwrap();
    assert!(fixed_first < OBJECTS as u64, "stopped part way");

    // Night 2: the same command with that night's journal name resumes, in night 1's journal.
    let second = nightly(night("2026-12-02.jsonl", "2.jsonl"))
        .output()
        .await
        .unwrap();
    assert_eq!(second.status.code(), Some(0), "{second:?}");
    let resumed = summary(Path::new(&path("2.jsonl")));
    assert!(
        resumed["notes"].to_string().contains("resumed"),
        "{resumed}"
    );
    assert!(
        !Path::new(&path("2026-12-02.jsonl")).exists(),
        "night 1's journal continued"
    );
    assert!(
        resumed["listed"].as_u64().unwrap() < OBJECTS as u64,
        "{resumed}"
    );
    // Night 1's journal is complete: every copy planned has its outcome.
    let journal = std::fs::read_to_string(path("2026-12-01.jsonl")).unwrap();
    let keys = |event: &str| -> BTreeSet<String> {
        journal
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|l| l["event"] == event)
            .map(|l| l["key"].as_str().unwrap().to_owned())
            .collect()
    };
    assert!(
        keys("planned").len() > fixed_first as usize,
        "night 2 wrote to it"
    );
    assert_eq!(keys("planned"), keys("outcome"));

    // Night 3: the state records a finished run, so this is a fresh run over the whole bucket
    // (`s3mend --resume` would do nothing at all). It also repairs the pages night 1 skipped as
    // `interrupted` at the SIGTERM: s3mend's checkpoint counts those rows as done, so the resume
    // does not list them again.
    let third = nightly(night("2026-12-03.jsonl", "3.jsonl"))
        .output()
        .await
        .unwrap();
    assert_eq!(third.status.code(), Some(0), "{third:?}");
    let fresh = summary(Path::new(&path("3.jsonl")));
    assert_eq!(fresh["listed"], OBJECTS, "{fresh}");
    assert!(!fresh["notes"].to_string().contains("resumed"), "{fresh}");
    assert!(!String::from_utf8_lossy(&third.stderr).contains("nothing to resume"));
    for i in 0..OBJECTS {
        let key = format!("site/page-{i:04}.html");
        let object = env.lab.object(crate::harness::BUCKET, &key).unwrap();
        assert_eq!(object.content_encoding, None, "{key} repaired");
    }
}
