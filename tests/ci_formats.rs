//! The CI formats on the fixture site: github, markdown and junit each against a golden file, and
//! each parsed as its consumer would (the workflow-command grammar, the step summary, JUnit XML
//! whose counts match the JSON report). `UPDATE_GOLDEN=1` rewrites the golden files.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::harness::TestEnv;

async fn fixture_site() -> TestEnv {
    let env = TestEnv::new().await;
    let manifest = s3mend::demo::manifest().unwrap();
    s3mend::demo::seed(&env.lab, &manifest).unwrap();
    env
}

const SITE: &str = "s3://fieldnotes-site/";

fn golden(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

/// `actual` is the golden file `name`, or, with UPDATE_GOLDEN=1, becomes it.
fn assert_golden(name: &str, actual: &str) {
    let path = golden(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 writes it)", path.display()));
    assert_eq!(
        actual, expected,
        "{name} differs from its golden file (UPDATE_GOLDEN=1 rewrites it)"
    );
}

/// The objects and findings of a JSON report: (key, rule, severity).
fn findings(report: &Value) -> Vec<(String, String, String)> {
    let mut all = Vec::new();
    for object in report["objects"].as_array().unwrap() {
        for finding in object["findings"].as_array().unwrap() {
            all.push((
                object["key"].as_str().unwrap().to_owned(),
                finding["rule"].as_str().unwrap().to_owned(),
                finding["severity"].as_str().unwrap().to_owned(),
            ));
        }
    }
    all.sort();
    all
}

/// A GitHub workflow command as the runner reads it: `::LEVEL title=TITLE::MESSAGE`, on one line,
/// with `%`, CR, LF (and in the title `:` and `,`) escaped.
fn workflow_command(line: &str) -> Option<(&str, &str, &str)> {
    let rest = line.strip_prefix("::")?;
    let (command, message) = rest.split_once("::")?;
    let (level, title) = command.split_once(" title=")?;
    let escaped = |text: &str, extra: &[char]| {
        text.char_indices().all(|(i, c)| {
            !matches!(c, '\r' | '\n')
                && !extra.contains(&c)
                && (c != '%'
                    || ["%25", "%0D", "%0A", "%3A", "%2C"]
                        .iter()
                        .any(|e| text[i..].starts_with(e)))
        })
    };
    let known = ["error", "warning", "notice"].contains(&level);
    (known && escaped(title, &[':', ',']) && escaped(message, &[]))
        .then_some((level, title, message))
}

#[tokio::test(flavor = "multi_thread")]
async fn github_annotations_follow_the_grammar_and_write_the_step_summary() {
    let env = fixture_site().await;
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("step-summary.md");
    std::fs::write(&summary, "earlier step\n").unwrap();
    let report = dir.path().join("report.json");
    let run = env
        .s3mend_with(
            &[
                "scan",
                SITE,
                "--format",
                "github",
                "--also-format",
                &format!("json={}", report.display()),
            ],
            &[("GITHUB_STEP_SUMMARY", summary.to_str().unwrap())],
        )
        .await;
    assert_eq!(run.code, 1, "{run:?}");
    // Annotations stream in the order HEADs complete: the golden file has them sorted, then the
    // closing notice, which is always last.
    let mut annotations: Vec<&str> = run.stdout.lines().collect();
    let notice = annotations.pop().unwrap();
    annotations.sort_unstable();
    assert_golden(
        "scan.github.txt",
        &format!("{}\n{notice}\n", annotations.join("\n")),
    );
    let json: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let expected = findings(&json);
    let mut annotated = Vec::new();
    let lines: Vec<&str> = run.stdout.lines().collect();
    for line in &lines[..lines.len() - 1] {
        let (level, title, message) =
            workflow_command(line).unwrap_or_else(|| panic!("not a workflow command: {line:?}"));
        let rule = title.strip_prefix("s3mend ").unwrap();
        let key = message.split_once(": ").unwrap().0;
        annotated.push((key.to_owned(), rule.to_owned(), level.to_owned()));
    }
    annotated.sort();
    assert_eq!(
        annotated, expected,
        "one annotation per finding, at its severity"
    );
    let (level, _, last) = workflow_command(lines[lines.len() - 1]).unwrap();
    assert_eq!(level, "notice");
    assert!(last.contains("15 objects with findings"), "{last}");
    // Appended to what earlier steps wrote, and the same Markdown as --format markdown.
    let written = std::fs::read_to_string(&summary).unwrap();
    let markdown = env.s3mend(&["scan", SITE, "--format", "markdown"]).await;
    assert_eq!(written, format!("earlier step\n{}", markdown.stdout));
}

#[tokio::test(flavor = "multi_thread")]
async fn markdown_summarises_counts_rules_and_first_keys() {
    let env = fixture_site().await;
    let run = env.s3mend(&["scan", SITE, "--format", "markdown"]).await;
    assert_eq!(run.code, 1, "{run:?}");
    assert_golden("scan.markdown.md", &run.stdout);
    let lenient = env
        .s3mend(&["scan", SITE, "--format", "markdown", "--fail-on", "error"])
        .await;
    assert!(
        lenient
            .stdout
            .contains("| content-type | warning | Content-Type | 3 | 0 |"),
        "{}",
        lenient.stdout
    );
}

/// The test cases of a JUnit document: (name, failure message and text, system-out), and the
/// suite's counts (tests, failures, errors).
type Cases = Vec<(String, Option<String>, Option<String>)>;

fn parse_junit(xml: &str) -> (Cases, [usize; 3]) {
    let doc = roxmltree::Document::parse(xml).expect("well-formed XML");
    let suite = doc
        .descendants()
        .find(|n| n.has_tag_name("testsuite"))
        .expect("a testsuite");
    let counts =
        ["tests", "failures", "errors"].map(|a| suite.attribute(a).unwrap().parse().unwrap());
    let cases = suite
        .children()
        .filter(|n| n.has_tag_name("testcase"))
        .map(|case| {
            let child = |names: &[&str]| {
                case.children()
                    .find(|n| names.iter().any(|name| n.has_tag_name(*name)))
            };
            let failure = child(&["failure", "error"]).map(|f| {
                format!(
                    "{}\n{}",
                    f.attribute("message").unwrap(),
                    f.text().unwrap_or("")
                )
            });
            let out = child(&["system-out"]).map(|o| o.text().unwrap_or("").to_owned());
            (case.attribute("name").unwrap().to_owned(), failure, out)
        })
        .collect();
    (cases, counts)
}

#[tokio::test(flavor = "multi_thread")]
async fn junit_parses_and_its_counts_match_the_json_report() {
    let env = fixture_site().await;
    let json = env.s3mend(&["scan", SITE, "--format", "json"]).await.json();
    let run = env.s3mend(&["scan", SITE, "--format", "junit"]).await;
    assert_eq!(run.code, 1);
    assert_golden("scan.junit.xml", &run.stdout);
    let (cases, [tests, failures, errors]) = parse_junit(&run.stdout);
    let names: Vec<&str> = cases.iter().map(|c| c.0.as_str()).collect();
    assert_eq!(
        names,
        [
            "content-encoding (error)",
            "content-type (warning)",
            "every object inspected"
        ]
    );
    assert_eq!((tests, failures, errors), (3, 2, 0));
    let expected = findings(&json);
    for (rule, case) in [("content-encoding", &cases[0]), ("content-type", &cases[1])] {
        let keys: Vec<&String> = expected
            .iter()
            .filter(|(_, r, _)| r == rule)
            .map(|(k, _, _)| k)
            .collect();
        let failure = case.1.as_ref().unwrap();
        assert!(
            failure.starts_with(&format!(
                "{} of {} objects fail the gate",
                keys.len(),
                keys.len()
            )),
            "{failure}"
        );
        for key in keys {
            assert!(
                failure.contains(&format!("\n{key}: ")) || failure.contains(&format!("{key}: ")),
                "{key} in {failure}"
            );
        }
    }
    // Under --fail-on error the warnings pass: listed in the case's output, not a failure.
    let lenient = env
        .s3mend(&["scan", SITE, "--format", "junit", "--fail-on", "error"])
        .await;
    let (cases, [_, failures, _]) = parse_junit(&lenient.stdout);
    assert_eq!(failures, 1);
    assert_eq!(cases[1].1, None);
    assert!(cases[1]
        .2
        .as_ref()
        .unwrap()
        .contains("js/app.wasm: binary/octet-stream → application/wasm"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hostile_key_cannot_inject_a_command_a_cell_or_markup() {
    let env = TestEnv::new().await;
    let evil = "a\n::error title=pwned::owned|`x`</failure><x>&.html";
    env.put(evil, "text/html", Some("UTF-8"));
    let github = env
        .s3mend(&["scan", "s3://test-bucket/", "--format", "github"])
        .await;
    assert_eq!(github.code, 1, "{github:?}");
    assert_eq!(github.stdout.lines().count(), 2, "{}", github.stdout);
    for line in github.stdout.lines() {
        assert!(workflow_command(line).is_some(), "{line:?}");
        assert!(!line.contains("\n"));
    }
    assert!(!github.stdout.contains("\n::error title=pwned"));
    let markdown = env
        .s3mend(&["scan", "s3://test-bucket/", "--format", "markdown"])
        .await;
    let row = markdown
        .stdout
        .lines()
        .find(|l| l.contains("owned"))
        .unwrap_or_else(|| panic!("{}", markdown.stdout));
    // key, now, proposed, status: four cells, the key's `|` escaped inside its code span.
    assert_eq!(row.matches(" | ").count(), 3, "{row}");
    assert!(row.contains("owned\\|"), "{row}");
    let junit = env
        .s3mend(&["scan", "s3://test-bucket/", "--format", "junit"])
        .await;
    let (cases, _) = parse_junit(&junit.stdout);
    let failure = cases[0].1.as_ref().unwrap();
    assert!(
        failure.contains("owned|`x`</failure><x>&.html"),
        "{failure}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn also_format_writes_a_second_report_and_refuses_two_on_stdout() {
    let env = fixture_site().await;
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("r.json");
    let junit = dir.path().join("r.xml");
    let run = env
        .s3mend(&[
            "scan",
            SITE,
            "--format",
            "markdown",
            "--also-format",
            &format!("json={}", json.display()),
            "--also-format",
            &format!("junit={}", junit.display()),
        ])
        .await;
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.starts_with("### ❌ s3mend scan"),
        "{}",
        run.stdout
    );
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["summary"]["with_findings"], 15);
    let (_, [tests, _, _]) = parse_junit(&std::fs::read_to_string(&junit).unwrap());
    assert_eq!(tests, 3);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&json).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "reports name private objects");
    }
    let two = env.s3mend(&["scan", SITE, "--also-format", "json=-"]).await;
    assert_eq!(two.code, 2);
    assert!(
        two.stderr.contains("two reports on stdout"),
        "{}",
        two.stderr
    );
    let same = env
        .s3mend(&[
            "scan",
            SITE,
            "--output",
            json.to_str().unwrap(),
            "--also-format",
            &format!("csv={}", json.display()),
        ])
        .await;
    assert_eq!(same.code, 2);
    assert!(same.stderr.contains("are the same file"), "{}", same.stderr);
    let bad = env
        .s3mend(&["scan", SITE, "--also-format", "xml=r.xml"])
        .await;
    assert_eq!(bad.code, 2);
    assert!(
        bad.stderr.contains("'xml' is not a report format"),
        "{}",
        bad.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_undo_left_to_do_fails_the_case_of_the_rule_it_restores_unless_fail_on_never() {
    let env = TestEnv::new().await;
    env.put("a.html", "text/html", Some("UTF-8"));
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j.jsonl");
    assert_eq!(crate::harness::fix(&env, &journal, &[]).await.code, 0);
    let undo = |extra: &'static [&'static str]| {
        let (env, journal) = (&env, journal.clone());
        async move {
            let args = [
                &[
                    "undo",
                    journal.to_str().unwrap(),
                    "--dry-run",
                    "--format",
                    "junit",
                ][..],
                extra,
            ]
            .concat();
            env.s3mend(&args).await
        }
    };
    let dry = undo(&[]).await;
    assert_eq!(dry.code, 1, "{dry:?}");
    let (cases, [_, failures, _]) = parse_junit(&dry.stdout);
    assert_eq!(failures, 1, "{}", dry.stdout);
    assert_eq!(cases[0].0, "content-encoding (error)");
    let failure = cases[0].1.as_ref().unwrap();
    assert!(
        failure.contains("a.html: (absent) → UTF-8 [would-restore]"),
        "{failure}"
    );
    let never = undo(&["--fail-on", "never"]).await;
    assert_eq!(never.code, 0, "{never:?}");
    let (cases, [_, failures, _]) = parse_junit(&never.stdout);
    assert_eq!(failures, 0);
    assert!(
        cases[0].2.as_ref().unwrap().contains("a.html"),
        "listed, passing"
    );
}
