//! The endpoint's TLS certificate: the lab over HTTPS with a self-signed certificate made here,
//! trusted with `--ca-bundle` (or `AWS_CA_BUNDLE`), refused without, accepted with a warning
//! under `--no-verify-ssl`. The scan's HEADs around the SDK go through the same trust.

use std::path::PathBuf;

use s3mend_lab::{LabConfig, LabTls};

use crate::harness::TestEnv;
use crate::scan_errors::one_line_error;

/// A lab serving HTTPS with a new self-signed certificate for 127.0.0.1, three clean objects,
/// and the certificate's PEM in a file.
async fn https_lab() -> (TestEnv, PathBuf, tempfile::TempDir) {
    let (cert_pem, key_pem) = self_signed();
    let env = TestEnv::with_config(LabConfig {
        tls: Some(LabTls {
            cert_pem: cert_pem.clone(),
            key_pem,
        }),
        ..LabConfig::default()
    })
    .await;
    assert!(env.lab.endpoint().starts_with("https://127.0.0.1:"));
    for key in ["a.html", "b.html", "c.html"] {
        env.put(key, "text/html", None);
    }
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("lab-ca.pem");
    std::fs::write(&bundle, cert_pem).unwrap();
    (env, bundle, dir)
}

/// A certificate for 127.0.0.1 and localhost, signed by its own key: (certificate, key), PEM.
fn self_signed() -> (String, String) {
    let certified =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .expect("rcgen makes a certificate");
    (certified.cert.pem(), certified.signing_key.serialize_pem())
}

const SCAN: [&str; 6] = [
    "scan",
    "s3://test-bucket/",
    "--format",
    "json",
    "--concurrency",
    "1",
];

#[tokio::test(flavor = "multi_thread")]
async fn a_scan_over_https_trusts_the_ca_bundle_from_the_flag_or_the_environment() {
    let (env, bundle, _dir) = https_lab().await;
    let bundle = bundle.to_str().unwrap();
    let mut args = SCAN.to_vec();
    args.extend(["--ca-bundle", bundle, "-vv"]);
    let run = env.s3mend(&args).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["summary"]["clean"], 3);
    assert!(
        run.stderr.contains("HEADs go around the SDK's pipeline"),
        "the fast path trusted it too: {}",
        run.stderr
    );
    assert_eq!(env.lab.stats().count("HeadObject"), 3);

    let run = env.s3mend_with(&SCAN, &[("AWS_CA_BUNDLE", bundle)]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stderr, "");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_untrusted_certificate_is_a_one_line_error() {
    let (env, _bundle, dir) = https_lab().await;
    let run = env.s3mend(&SCAN).await;
    assert_eq!(run.code, 2, "{run:?}");
    assert_eq!(run.stdout, "");
    one_line_error(
        &run.stderr,
        &format!(
            "the TLS certificate of {} is not trusted (invalid peer certificate: UnknownIssuer): pass --ca-bundle with the certificate of the CA that signed it, or --no-verify-ssl for a test server",
            env.lab.endpoint()
        ),
    );
    // Another CA's certificate does not do either.
    let other = dir.path().join("other-ca.pem");
    std::fs::write(&other, self_signed().0).unwrap();
    let mut args = SCAN.to_vec();
    args.extend(["--ca-bundle", other.to_str().unwrap()]);
    let run = env.s3mend(&args).await;
    assert_eq!(run.code, 2, "{run:?}");
    one_line_error(&run.stderr, "is not trusted (invalid peer certificate");
    assert_eq!(env.lab.stats().total(), 0, "no request got through");
}

#[tokio::test(flavor = "multi_thread")]
async fn no_verify_ssl_accepts_any_certificate_with_a_warning() {
    let (env, _bundle, _dir) = https_lab().await;
    let mut args = SCAN.to_vec();
    args.extend(["--no-verify-ssl", "-vv"]);
    let run = env.s3mend(&args).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["summary"]["clean"], 3);
    assert!(
        run.stderr.lines().any(|l| l
            == "s3mend: warning: --no-verify-ssl: the endpoint's TLS certificate is not verified, so anyone on the path can read and change the requests"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("HEADs go around the SDK's pipeline"),
        "{}",
        run.stderr
    );
    assert_eq!(env.lab.stats().count("HeadObject"), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_ca_bundle_that_is_missing_or_not_pem_is_a_one_line_error() {
    let (env, _bundle, dir) = https_lab().await;
    let missing = dir.path().join("nope.pem");
    let not_pem = dir.path().join("not.pem");
    std::fs::write(&not_pem, "hello\n").unwrap();
    for (path, message) in [
        (
            &missing,
            format!(
                "cannot read --ca-bundle {}: No such file or directory",
                missing.display()
            ),
        ),
        (
            &not_pem,
            format!("--ca-bundle {} holds no PEM certificate", not_pem.display()),
        ),
    ] {
        let mut args = SCAN.to_vec();
        args.extend(["--ca-bundle", path.to_str().unwrap()]);
        let run = env.s3mend(&args).await;
        assert_eq!(run.code, 2, "{run:?}");
        one_line_error(&run.stderr, &message);
    }
    assert_eq!(env.lab.stats().total(), 0);
}
