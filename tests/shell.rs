//! What a shell and a manual page see of s3mend: completion scripts checked by the shells
//! themselves, the manual page rendered by groff, `--version`, and `--help` grouped under headings
//! with undo's help in its own words.
//!
//! Checks that always run: every script's content; `bash -n` and a completion actually computed
//! by bash; the manual page's roff structure and its rendering by groff (.ci/tools.sh installs
//! groff-base where it is missing, as on a minimal machine). `zsh -n` and `fish --no-execute` run
//! where those shells are installed, always in CI (.ci/tools.sh installs both; a CI run without
//! them fails); elsewhere the test prints that it did not run them. PowerShell is not in Debian's
//! or Ubuntu's archive: its script is checked for its content only.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::harness::{s3mend_command, Run};

/// Runs `s3mend ARGS` with no S3 at all (these commands need none).
pub async fn s3mend(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = s3mend_command();
    cmd.args(args);
    for (key, value) in env {
        cmd.env(key, value);
    }
    let out = cmd.output().await.expect("s3mend runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Whether `program` can be run here.
fn installed(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// `program ARGS` with `input` on stdin: its exit status and both outputs.
fn run_with_input(program: &str, args: &[&str], input: &str) -> (bool, String, String) {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Checks `script` with `program ARGS script` where the shell is installed; in CI it must be.
fn syntax_check(program: &str, args: &[&str], script: &Path) {
    if !installed(program) {
        assert!(
            std::env::var_os("CI").is_none(),
            "{program} is not installed: .ci/tools.sh install installs it"
        );
        println!("{program} is not installed here: its completion script's syntax was not checked");
        return;
    }
    let out = Command::new(program)
        .args(args)
        .arg(script)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{program} rejects the script: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn completions_generate_for_every_shell_and_pass_its_syntax_check() {
    let dir = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let run = s3mend(&["completions", shell], &[]).await;
        assert_eq!(run.code, 0, "{shell}: {run:?}");
        // Without the dashes: fish writes `-l concurrency`.
        for word in ["scan", "fix", "undo", "concurrency", "dry-run", "color"] {
            assert!(run.stdout.contains(word), "{shell} lacks {word}");
        }
        let script = dir.path().join(shell);
        std::fs::write(&script, &run.stdout).unwrap();
        match shell {
            "bash" => {
                let out = Command::new("bash").arg("-n").arg(&script).output();
                let out = out.expect("bash runs");
                assert!(out.status.success(), "bash -n: {out:?}");
            }
            "zsh" => syntax_check("zsh", &["-n"], &script),
            "fish" => syntax_check("fish", &["--no-execute"], &script),
            _ => {}
        }
    }
    let run = s3mend(&["completions", "tcsh"], &[]).await;
    assert_eq!(run.code, 2, "{run:?}");
}

#[tokio::test]
async fn bash_completes_a_flag_of_a_command() {
    let script = s3mend(&["completions", "bash"], &[]).await.stdout;
    // What bash does on `s3mend fix --dry<TAB>`: the function clap registered, with bash's words.
    let probe = format!(
        "{script}\nCOMP_WORDS=(s3mend fix --dry); COMP_CWORD=2\n\
         _s3mend s3mend --dry fix\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n"
    );
    let (ok, stdout, stderr) = run_with_input("bash", &["-s"], &probe);
    assert!(ok, "{stderr}");
    assert_eq!(stdout.trim(), "--dry-run", "{stderr}");
}

/// The page `s3mend man ARGS` prints, checked as roff and rendered by groff.
async fn man_page(args: &[&str]) -> String {
    let mut all = vec!["man"];
    all.extend_from_slice(args);
    let run = s3mend(&all, &[]).await;
    assert_eq!(run.code, 0, "{run:?}");
    let roff = run.stdout;
    let requests: Vec<&str> = roff.lines().filter(|l| l.starts_with('.')).collect();
    assert!(requests.iter().any(|l| l.starts_with(".TH ")), "{roff}");
    for section in [".SH NAME", ".SH SYNOPSIS", ".SH DESCRIPTION"] {
        assert!(requests.contains(&section), "no {section}: {roff}");
    }
    assert!(
        installed("groff"),
        "groff is not installed: .ci/tools.sh install installs groff-base"
    );
    let (ok, text, warnings) = run_with_input("groff", &["-man", "-Tutf8", "-ww"], &roff);
    assert!(ok, "groff fails: {warnings}");
    assert!(warnings.is_empty(), "groff warns: {warnings}");
    // Rendered for a terminal, bold is overstruck: "N\bNA\bA…".
    let mut plain = String::new();
    for c in text.chars() {
        if c == '\u{8}' {
            plain.pop();
        } else {
            plain.push(c);
        }
    }
    plain
}

#[tokio::test]
async fn the_manual_pages_render() {
    let main = man_page(&[]).await;
    for text in ["NAME", "s3mend - Find and losslessly repair", "SUBCOMMANDS"] {
        assert!(main.contains(text), "no {text:?}: {main}");
    }
    assert!(main.contains("s3mend-scan(1)"), "{main}");

    let scan = man_page(&["scan"]).await;
    for text in [
        "s3mend-scan",
        "SELECTION",
        "PERFORMANCE",
        "AWS",
        "--concurrency",
        "S3MEND_CONCURRENCY",
        "Exit codes:",
    ] {
        assert!(scan.contains(text), "no {text:?}: {scan}");
    }
    let check = man_page(&["policy", "check"]).await;
    assert!(check.contains("s3mend-policy-check"), "{check}");

    let run = s3mend(&["man", "nosuch"], &[]).await;
    assert_eq!(run.code, 2, "{run:?}");
    assert_eq!(
        run.stderr.trim(),
        "s3mend: error: no command 'nosuch': one of scan, fix, undo, apply, merge, demo, policy, completions, man"
    );
}

/// The version Cargo.lock pins for `name`.
fn locked(name: &str) -> String {
    let lock = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.lock"))
        .expect("Cargo.lock");
    let at = lock
        .find(&format!("name = \"{name}\"\nversion = \""))
        .expect("locked");
    let rest = &lock[at..];
    let version = rest.lines().nth(1).unwrap();
    version
        .trim_start_matches("version = \"")
        .trim_end_matches('"')
        .to_owned()
}

#[tokio::test]
async fn the_version_names_the_commit_and_the_aws_sdk() {
    let short = s3mend(&["-V"], &[]).await;
    assert_eq!(short.code, 0, "{short:?}");
    let sdk = format!("aws-sdk-s3 {}", locked("aws-sdk-s3"));
    let line = short.stdout.trim_end();
    assert_eq!(line.lines().count(), 1, "{line}");
    let commit = Command::new("git")
        .args([
            "-C",
            env!("CARGO_MANIFEST_DIR"),
            "rev-parse",
            "--short",
            "HEAD",
        ])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    let version = env!("CARGO_PKG_VERSION");
    match &commit {
        // Built from this checkout (CI clones the repository).
        Some(commit) => assert_eq!(line, format!("s3mend {version} ({commit}, {sdk})")),
        None => assert_eq!(line, format!("s3mend {version} ({sdk})")),
    }
    let long = s3mend(&["--version"], &[]).await;
    assert!(long.stdout.starts_with(line), "{long:?}");
    assert!(long.stdout.contains("\ntarget "), "{long:?}");
    assert!(long.stdout.contains("\nrustc "), "{long:?}");
}

/// The headings of a help text, and the flags under each.
fn sections(help: &str) -> Vec<(String, Vec<String>)> {
    let mut sections: Vec<(String, Vec<String>)> = Vec::new();
    for line in help.lines() {
        if let Some(heading) = line.strip_suffix(':').filter(|l| !l.starts_with(' ')) {
            sections.push((heading.to_owned(), Vec::new()));
            continue;
        }
        // A flag starts within the first columns; wrapped help text is indented further.
        let indent = line.len() - line.trim_start().len();
        let text = line.trim_start();
        if indent <= 6 && text.starts_with('-') {
            let flag = text
                .split([' ', ','])
                .find(|w| w.starts_with("--"))
                .unwrap_or(text)
                .trim_end_matches("...");
            if let Some((_, flags)) = sections.last_mut() {
                flags.push(flag.to_owned());
            }
        }
    }
    sections
}

#[tokio::test]
async fn help_groups_every_flag_under_a_heading() {
    let headings = [
        "Target",
        "Selection",
        "Output",
        "Performance",
        "Safety",
        "AWS",
    ];
    for command in ["scan", "fix", "undo"] {
        let run = s3mend(&[command, "--help"], &[]).await;
        assert_eq!(run.code, 0);
        let sections = sections(&run.stdout);
        let mut flags = 0;
        for (heading, under) in &sections {
            match heading.as_str() {
                "Options" => assert_eq!(under, &["--help"], "{command}"),
                h if headings.contains(&h) => flags += under.len(),
                _ => assert!(under.is_empty(), "{command}: {heading}: {under:?}"),
            }
        }
        assert!(flags > 20, "{command}: {sections:?}");
        let order: Vec<&str> = sections
            .iter()
            .map(|(h, _)| h.as_str())
            .filter(|h| headings.contains(h))
            .collect();
        let expected: &[&str] = match command {
            "scan" => &["Target", "Selection", "Output", "Performance", "AWS"],
            "fix" => &[
                "Target",
                "Selection",
                "Output",
                "Performance",
                "AWS",
                "Safety",
            ],
            _ => &["Target", "Output", "Performance", "AWS", "Safety"],
        };
        assert_eq!(order, expected, "{command}");
        let under = |heading: &str| {
            sections
                .iter()
                .find(|(h, _)| h == heading)
                .map(|(_, f)| f.clone())
                .unwrap_or_default()
        };
        assert!(under("AWS").contains(&"--endpoint-url".to_owned()));
        assert!(under("Output").contains(&"--color".to_owned()));
        if command != "scan" {
            assert!(under("Safety").contains(&"--dry-run".to_owned()));
        }
    }
}

#[tokio::test]
async fn undo_help_is_in_its_own_words() {
    let undo = s3mend(&["undo", "--help"], &[]).await.stdout;
    let fix = s3mend(&["fix", "--help"], &[]).await.stdout;
    for fix_only in [
        "Show the exact plan per object",
        "Journal of every change, for undo",
        "every finding repaired",
        "findings left",
        "s3mend's HEAD",
    ] {
        assert!(fix.contains(fix_only), "fix says {fix_only:?}");
        assert!(!undo.contains(fix_only), "undo says {fix_only:?}:\n{undo}");
    }
    for undo_only in [
        "Show what each object would be put back to",
        "Do not ask before restoring",
        "Journal of every restore",
        "every repair in the journal undone",
    ] {
        assert!(undo.contains(undo_only), "{undo_only:?}:\n{undo}");
    }
}
