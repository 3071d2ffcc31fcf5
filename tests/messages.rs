//! Mistakes a new user makes, each answered by one line that says what is wrong and how to put
//! it right, before any request where it can be told locally: a profile that does not exist, a
//! bucket name S3 does not allow, an endpoint without a scheme, `//` in the URL. And the line
//! stays the same whatever RUST_BACKTRACE says.

use crate::harness::TestEnv;
use crate::scan_errors::one_line_error;

#[tokio::test(flavor = "multi_thread")]
async fn a_profile_that_does_not_exist_is_named_with_the_files_searched() {
    let env = TestEnv::new().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    let credentials = dir.path().join("credentials");
    std::fs::write(&config, "[profile other]\nregion = eu-west-1\n").unwrap();
    std::fs::write(&credentials, "").unwrap();
    let files = [
        ("AWS_CONFIG_FILE", config.to_str().unwrap()),
        ("AWS_SHARED_CREDENTIALS_FILE", credentials.to_str().unwrap()),
    ];
    let searched = format!(
        "does not exist: it is in neither the AWS config file {} nor the credentials file {}",
        config.display(),
        credentials.display()
    );
    let run = env
        .s3mend_with(
            &["scan", "s3://test-bucket/", "--profile", "nosuch"],
            &files,
        )
        .await;
    assert_eq!(run.code, 2, "{run:?}");
    one_line_error(
        &run.stderr,
        &format!("profile 'nosuch' (from --profile) {searched}"),
    );
    let mut from_env = files.to_vec();
    from_env.push(("AWS_PROFILE", "nosuch"));
    let run = env
        .s3mend_with(&["scan", "s3://test-bucket/"], &from_env)
        .await;
    assert_eq!(run.code, 2, "{run:?}");
    one_line_error(
        &run.stderr,
        &format!("profile 'nosuch' (from AWS_PROFILE) {searched}"),
    );
    assert_eq!(env.lab.stats().total(), 0);

    // The profile that exists is used (credentials still come from the environment).
    let run = env
        .s3mend_with(&["scan", "s3://test-bucket/", "--profile", "other"], &files)
        .await;
    assert_eq!(run.code, 0, "{run:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bucket_name_s3_does_not_allow_says_so() {
    let env = TestEnv::new().await;
    let reason = "'Fieldnotes_Site' is not a valid S3 bucket name (upper case; bucket names are 3 to 63 lower-case letters, digits, '.' and '-')";
    // Virtual-hosted addressing cannot even send it: refused before any request.
    let run = env
        .s3mend(&[
            "scan",
            "s3://Fieldnotes_Site",
            "--addressing-style",
            "virtual",
        ])
        .await;
    assert_eq!(run.code, 2, "{run:?}");
    one_line_error(
        &run.stderr,
        &format!("{reason}: only a legacy us-east-1 bucket can have such a name, and it needs --addressing-style path"),
    );
    assert_eq!(env.lab.stats().total(), 0);
    // With path style (a custom endpoint) it is asked for, and the server's 400 explained.
    let run = env.s3mend(&["scan", "s3://Fieldnotes_Site"]).await;
    assert_eq!(run.code, 2, "{run:?}");
    one_line_error(
        &run.stderr,
        &format!(
            "{reason}: the server at {} answered 400",
            env.lab.endpoint()
        ),
    );
    assert!(!run.stderr.contains("SSE-C"), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_endpoint_without_a_scheme_is_asked_for_one() {
    let env = TestEnv::new().await;
    let address = env.lab.addr().to_string();
    let run = env
        .s3mend(&["scan", "s3://test-bucket/", "--endpoint-url", &address])
        .await;
    assert_eq!(run.code, 2, "{run:?}");
    one_line_error(
        &run.stderr,
        &format!("--endpoint-url needs a scheme: did you mean http://{address}?"),
    );
    let run = env
        .s3mend_with(
            &["scan", "s3://test-bucket/"],
            &[("AWS_ENDPOINT_URL", "s3.example.com")],
        )
        .await;
    assert_eq!(run.code, 2, "{run:?}");
    one_line_error(
        &run.stderr,
        "--endpoint-url needs a scheme: did you mean https://s3.example.com?",
    );
    assert_eq!(env.lab.stats().total(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_double_slash_in_the_url_is_refused_with_the_url_meant() {
    let env = TestEnv::new().await;
    env.put("blog/a.html", "text/html", Some("UTF-8"));
    let run = env.s3mend(&["scan", "s3://test-bucket//blog"]).await;
    assert_eq!(run.code, 2, "{run:?}");
    one_line_error(
        &run.stderr,
        "'s3://test-bucket//blog' has an empty path segment ('//'), which would select only keys that contain it: did you mean s3://test-bucket/blog?",
    );
    assert_eq!(env.lab.stats().total(), 0);
    let meant = env.s3mend(&["scan", "s3://test-bucket/blog"]).await;
    assert_eq!(meant.code, 1, "the finding is there: {meant:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn rust_backtrace_never_changes_the_error_and_v_shows_the_chain_without_a_trace() {
    let env = TestEnv::new().await;
    let missing = "/nonexistent/s3mend/ca.pem";
    let args = ["scan", "s3://test-bucket/", "--ca-bundle", missing];
    let plain = env.s3mend(&args).await;
    let traced = env
        .s3mend_with(
            &args,
            &[("RUST_BACKTRACE", "1"), ("RUST_LIB_BACKTRACE", "1")],
        )
        .await;
    assert_eq!((plain.code, traced.code), (2, 2));
    assert_eq!(traced.stderr, plain.stderr);
    one_line_error(
        &traced.stderr,
        &format!("cannot read --ca-bundle {missing}: No such file or directory"),
    );

    let mut verbose_args = args.to_vec();
    verbose_args.push("-v");
    let verbose = env
        .s3mend_with(&verbose_args, &[("RUST_BACKTRACE", "full")])
        .await;
    assert_eq!(verbose.code, 2, "{verbose:?}");
    assert!(
        verbose.stderr.ends_with(&format!(
            "s3mend: error: cannot read --ca-bundle {missing}\n  caused by: No such file or directory (os error 2)\n"
        )),
        "{}",
        verbose.stderr
    );
    assert!(
        !verbose.stderr.to_lowercase().contains("backtrace"),
        "{}",
        verbose.stderr
    );
}
