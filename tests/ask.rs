//! The y/N question of fix and undo on a terminal (dialoguer): what it accepts, and the terminal
//! it leaves behind.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::harness::TestEnv;

const HIDE_CURSOR: &str = "\u{1b}[?25l";
const SHOW_CURSOR: &str = "\u{1b}[?25h";

fn fix_args(dir: &std::path::Path) -> Vec<String> {
    let journal = dir.join("j.jsonl");
    let report = dir.join("report.json");
    [
        "fix",
        "s3://test-bucket/",
        "--journal",
        journal.to_str().unwrap(),
        "--format",
        "json",
        "--output",
        report.to_str().unwrap(),
    ]
    .map(str::to_owned)
    .to_vec()
}

#[tokio::test(flavor = "multi_thread")]
async fn enter_alone_is_no_and_yes_typed_out_is_yes() {
    let env = TestEnv::new().await;
    env.put("a.html", "text/html", Some("UTF-8"));
    let dir = tempfile::tempdir().unwrap();
    let args = fix_args(dir.path());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();

    let (code, screen) = env.on_a_terminal(&args, "\n", &[]).await;
    assert_eq!(code, 1, "the default is no: {screen}");
    assert!(screen.contains("nothing was written"), "{screen}");
    assert_eq!(env.lab.stats().count("CopyObject"), 0);

    let (code, screen) = env.on_a_terminal(&args, "yes\n", &[]).await;
    assert_eq!(code, 0, "{screen}");
    let repaired = env.lab.object(crate::harness::BUCKET, "a.html").unwrap();
    assert_eq!(repaired.content_encoding, None);
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_at_the_question_gives_the_cursor_back() {
    let env = TestEnv::new().await;
    env.put("a.html", "text/html", Some("UTF-8"));
    let dir = tempfile::tempdir().unwrap();
    let args = fix_args(dir.path());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut child = env.spawn_on_a_terminal(&args, &[]);
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut screen = Vec::new();
    let mut buf = [0u8; 256];
    tokio::time::timeout(Duration::from_secs(60), async {
        while !String::from_utf8_lossy(&screen).contains("[y/N]") {
            let n = stdout.read(&mut buf).await.unwrap();
            assert!(n > 0, "ended before asking");
            screen.extend_from_slice(&buf[..n]);
        }
    })
    .await
    .expect("asks");
    stdin.write_all(b"\x03").await.unwrap();
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("stops after Ctrl-C")
        .unwrap();
    assert_eq!(status.code(), Some(130));
    stdout.read_to_end(&mut screen).await.unwrap();
    let screen = String::from_utf8_lossy(&screen);
    let hidden = screen
        .rfind(HIDE_CURSOR)
        .expect("the question hides the cursor");
    assert!(
        screen[hidden..].contains(SHOW_CURSOR),
        "the cursor is shown again: {screen:?}"
    );
}
