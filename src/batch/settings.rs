//! The function's settings, from its environment (Lambda passes configuration that way): where S3
//! is and how hard to retry. Credentials and the region come from the SDK's own chain, which in
//! Lambda is the function's role and `AWS_REGION`.
//!
//! | variable | default | |
//! |---|---|---|
//! | `AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL` | AWS | another S3 endpoint (path-style addressing) |
//! | `S3MEND_MAX_ATTEMPTS` | 3 | attempts per request: Batch Operations retries a `TemporaryFailure` task itself |
//! | `S3MEND_ATTEMPT_TIMEOUT` | 30s | as `--attempt-timeout` |
//! | `S3MEND_MULTIPART_THRESHOLD` | 5GiB | as `--multipart-threshold` |

use std::time::Duration;

use super::handler::Settings;
use crate::cli::parse_duration;
use crate::repair::RepairSettings;
use crate::s3::{Addressing, ConnectOptions, DEFAULT_ATTEMPT_TIMEOUT};

/// Attempts per request unless `S3MEND_MAX_ATTEMPTS` says: fewer than the CLI's 10, since a
/// throttled task is retried by Batch Operations (and a Lambda invocation has a time limit).
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;

/// Requests in flight at most: one task at a time needs few.
const MAX_IN_FLIGHT: usize = 8;

/// The settings `var` (an environment lookup) gives, or the one line that says what is wrong.
pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Settings, String> {
    let set = |name: &str| var(name).filter(|v| !v.trim().is_empty());
    let endpoint_url = set("AWS_ENDPOINT_URL_S3").or_else(|| set("AWS_ENDPOINT_URL"));
    let max_attempts = match set("S3MEND_MAX_ATTEMPTS") {
        None => DEFAULT_MAX_ATTEMPTS,
        Some(text) => text
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=20).contains(n))
            .ok_or_else(|| format!("S3MEND_MAX_ATTEMPTS '{text}' is not a number from 1 to 20"))?,
    };
    let attempt_timeout = match set("S3MEND_ATTEMPT_TIMEOUT") {
        None => DEFAULT_ATTEMPT_TIMEOUT,
        Some(text) => parse_duration(&text)
            .ok()
            .filter(|d| (Duration::from_millis(100)..=Duration::from_secs(900)).contains(d))
            .ok_or_else(|| {
                format!("S3MEND_ATTEMPT_TIMEOUT '{text}' is not a duration from 100ms to 15m")
            })?,
    };
    let mut repair = RepairSettings::default();
    if let Some(text) = set("S3MEND_MULTIPART_THRESHOLD") {
        repair.multipart_threshold = parse_size::parse_size(text.trim())
            .ok()
            .filter(|&n| n >= crate::repair::MIN_PART_SIZE)
            .ok_or_else(|| {
                format!("S3MEND_MULTIPART_THRESHOLD '{text}' is not a size of at least 5MiB")
            })?;
    }
    Ok(Settings {
        connect: ConnectOptions {
            endpoint_url,
            region: None,
            profile: None,
            addressing: Addressing::Auto,
            static_credentials: None,
            max_attempts: Some(max_attempts),
            retry_mode: Some(crate::s3::RetryMode::Standard),
            attempt_timeout,
            max_in_flight: MAX_IN_FLIGHT,
            max_rps: None,
            fast_head: false,
            conventions: Default::default(),
            tls: Default::default(),
        },
        repair,
    })
}

/// What the Lambda runtime client reads from the environment Lambda gives a function, and would
/// panic without: checked first, so that the binary started anywhere else says so in one line.
pub fn check_lambda_environment(var: impl Fn(&str) -> Option<String>) -> Result<(), String> {
    let elsewhere = |what: String| {
        format!("{what}: s3mend-batch-lambda runs as an AWS Lambda function (examples/batch-operations/README.md)")
    };
    let api = var("AWS_LAMBDA_RUNTIME_API")
        .filter(|v| !v.is_empty())
        .ok_or_else(|| elsewhere("AWS_LAMBDA_RUNTIME_API is not set".into()))?;
    if api
        .parse::<http::Uri>()
        .ok()
        .and_then(|uri| uri.authority().cloned())
        .is_none()
    {
        return Err(elsewhere(format!(
            "AWS_LAMBDA_RUNTIME_API '{api}' is not HOST:PORT"
        )));
    }
    for name in ["AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_VERSION"] {
        if var(name).is_none() {
            return Err(elsewhere(format!("{name} is not set")));
        }
    }
    let memory = var("AWS_LAMBDA_FUNCTION_MEMORY_SIZE").unwrap_or_default();
    if memory.parse::<i32>().is_err() {
        return Err(elsewhere(format!(
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE '{memory}' is not a number"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(vars: &[(&str, &str)]) -> Result<Settings, String> {
        from_env(|name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn an_empty_environment_is_aws_with_few_attempts() {
        let settings = from(&[]).unwrap();
        assert_eq!(settings.connect.endpoint_url, None);
        assert_eq!(settings.connect.max_attempts, Some(3));
        assert_eq!(settings.connect.attempt_timeout, Duration::from_secs(30));
        assert_eq!(settings.repair.multipart_threshold, 5 << 30);
        assert!(!settings.repair.dry_run);
    }

    #[test]
    fn the_s3_endpoint_wins_over_the_general_one() {
        let settings = from(&[
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:1"),
            ("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:2"),
        ])
        .unwrap();
        assert_eq!(
            settings.connect.endpoint_url.as_deref(),
            Some("http://127.0.0.1:2")
        );
        let settings = from(&[("AWS_ENDPOINT_URL", "http://127.0.0.1:1")]).unwrap();
        assert_eq!(
            settings.connect.endpoint_url.as_deref(),
            Some("http://127.0.0.1:1")
        );
        let settings = from(&[
            ("S3MEND_MAX_ATTEMPTS", "1"),
            ("S3MEND_ATTEMPT_TIMEOUT", "2s"),
            ("S3MEND_MULTIPART_THRESHOLD", "8MiB"),
        ])
        .unwrap();
        assert_eq!(settings.connect.max_attempts, Some(1));
        assert_eq!(settings.connect.attempt_timeout, Duration::from_secs(2));
        assert_eq!(settings.repair.multipart_threshold, 8 << 20);
    }

    #[test]
    fn outside_lambda_the_missing_variable_is_named_instead_of_a_panic() {
        let lambda = [
            ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"),
            ("AWS_LAMBDA_FUNCTION_NAME", "s3mend"),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512"),
        ];
        let check = |vars: &[(&str, &str)]| {
            check_lambda_environment(|name| {
                vars.iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| v.to_string())
            })
        };
        assert_eq!(check(&lambda), Ok(()));
        for (at, name) in lambda.iter().map(|(n, _)| n).enumerate() {
            let mut without = lambda.to_vec();
            without.remove(at);
            let err = check(&without).unwrap_err();
            assert!(err.starts_with(name), "{err}");
            assert!(err.contains("runs as an AWS Lambda function"), "{err}");
        }
        let mut bad = lambda.to_vec();
        bad[0].1 = "not a host";
        assert!(check(&bad).unwrap_err().contains("is not HOST:PORT"));
        bad = lambda.to_vec();
        bad[3].1 = "lots";
        assert!(check(&bad).unwrap_err().contains("is not a number"));
    }

    #[test]
    fn bad_values_are_one_line_naming_the_variable() {
        for (name, value) in [
            ("S3MEND_MAX_ATTEMPTS", "0"),
            ("S3MEND_MAX_ATTEMPTS", "many"),
            ("S3MEND_ATTEMPT_TIMEOUT", "1h"),
            ("S3MEND_ATTEMPT_TIMEOUT", "soon"),
            ("S3MEND_MULTIPART_THRESHOLD", "1KiB"),
        ] {
            let err = from(&[(name, value)]).unwrap_err();
            assert!(err.starts_with(name) && err.contains(value), "{err}");
        }
    }
}
