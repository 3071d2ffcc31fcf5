//! Settings from the environment: `S3MEND_<FLAG>` for s3mend's own flags (the command line wins,
//! `--yes` has none), and colour by `--color`, NO_COLOR and CLICOLOR_FORCE.

use crate::harness::TestEnv;
use crate::shell::s3mend;

const ESC: char = '\u{1b}';

#[tokio::test(flavor = "multi_thread")]
async fn an_environment_variable_sets_a_flag_and_the_command_line_wins() {
    let env = TestEnv::new().await;
    env.put("a.html", "text/html", Some("UTF-8"));
    let scan = ["scan", "s3://test-bucket/"];

    let run = env.s3mend_with(&scan, &[("S3MEND_FORMAT", "json")]).await;
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(run.json()["summary"]["with_findings"], 1);

    let mut csv = scan.to_vec();
    csv.extend(["--format", "csv"]);
    let run = env.s3mend_with(&csv, &[("S3MEND_FORMAT", "json")]).await;
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stdout.starts_with("key,"), "{}", run.stdout);

    // A duration, as on the command line (humantime, with a range check).
    let run = env
        .s3mend_with(&scan, &[("S3MEND_ATTEMPT_TIMEOUT", "1m30s")])
        .await;
    assert_eq!(run.code, 1, "{run:?}");
    let run = env
        .s3mend_with(&scan, &[("S3MEND_ATTEMPT_TIMEOUT", "2h")])
        .await;
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr
            .contains("'2h' is out of range: from 100ms to 1h"),
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_switch_from_the_environment_is_a_boolean_word_and_yes_has_none() {
    let env = TestEnv::new().await;
    env.put("a.html", "text/html", Some("UTF-8"));
    let fix = ["fix", "s3://test-bucket/", "--format", "json"];

    let run = env.s3mend_with(&fix, &[("S3MEND_DRY_RUN", "1")]).await;
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(run.json()["objects"][0]["status"], "would-fix");
    assert_eq!(env.lab.stats().count("CopyObject"), 0);

    let run = env.s3mend_with(&fix, &[("S3MEND_DRY_RUN", "maybe")]).await;
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("invalid value 'maybe'"),
        "{}",
        run.stderr
    );

    // A standing S3MEND_YES must not make a fix write without asking.
    let run = env.s3mend_with(&fix, &[("S3MEND_YES", "1")]).await;
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("refusing to write without --yes"),
        "{}",
        run.stderr
    );
    assert_eq!(env.lab.stats().count("CopyObject"), 0);

    let run = env
        .s3mend_with(&fix, &[("S3MEND_DRY_RUN", "0"), ("S3MEND_YES", "1")])
        .await;
    assert_eq!(run.code, 2, "S3MEND_DRY_RUN=0 is no dry run: {run:?}");
}

#[tokio::test]
async fn help_names_the_variables() {
    let help = s3mend(&["fix", "--help"], &[]).await.stdout;
    for name in [
        "[env: S3MEND_CONCURRENCY=]",
        "[env: S3MEND_DRY_RUN=]",
        "[env: S3MEND_FORMAT=]",
        "[env: S3MEND_COLOR=]",
        "[env: S3MEND_POLICY=]",
        "[env: AWS_ENDPOINT_URL=]",
    ] {
        assert!(help.contains(name), "{name}:\n{help}");
    }
    assert!(!help.contains("S3MEND_YES"), "{help}");
    assert!(!help.contains("S3MEND_REGION"), "{help}");
}

#[tokio::test(flavor = "multi_thread")]
async fn colour_follows_the_flag_and_the_conventions() {
    let env = TestEnv::new().await;
    env.put("a.html", "text/html", Some("UTF-8"));
    let scan = ["scan", "s3://test-bucket/"];
    let coloured = |run: &crate::harness::Run| run.stdout.contains(ESC);
    let with = |flag: &'static str| {
        let mut args = scan.to_vec();
        args.extend(["--color", flag]);
        args
    };

    // Piped: none unless asked for.
    assert!(!coloured(&env.s3mend(&scan).await));
    assert!(coloured(&env.s3mend(&with("always")).await));
    assert!(coloured(
        &env.s3mend_with(&scan, &[("CLICOLOR_FORCE", "1")]).await
    ));
    assert!(coloured(
        &env.s3mend_with(&scan, &[("S3MEND_COLOR", "always")]).await
    ));
    let both = [("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")];
    assert!(
        !coloured(&env.s3mend_with(&scan, &both).await),
        "NO_COLOR wins"
    );
    assert!(!coloured(
        &env.s3mend_with(&with("never"), &[("CLICOLOR_FORCE", "1")])
            .await
    ));

    // On a terminal: colour unless told otherwise (no progress bar, which moves the cursor).
    let mut never = with("never");
    never.push("--no-progress");
    let (code, screen) = env.on_a_terminal(&never, "", &[]).await;
    assert_eq!(code, 1, "{screen}");
    assert!(
        screen.contains("a.html") && !screen.contains(ESC),
        "{screen:?}"
    );

    // The logs on stderr, and clap's own help, follow the same choice.
    let mut verbose = with("always");
    verbose.push("-v");
    let run = env.s3mend(&verbose).await;
    assert!(run.stderr.contains(ESC), "{}", run.stderr);
    let help = s3mend(&["scan", "--color", "always", "--help"], &[]).await;
    assert!(help.stdout.contains(ESC), "{}", help.stdout);
    let help = s3mend(&["scan", "--help"], &[("S3MEND_COLOR", "always")]).await;
    assert!(help.stdout.contains(ESC), "{}", help.stdout);
    let help = s3mend(&["scan", "--help"], &[]).await;
    assert!(!help.stdout.contains(ESC), "{}", help.stdout);
}
