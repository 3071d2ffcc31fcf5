//! What S3 Batch Operations sends a `LambdaInvoke` function and what it expects back, invocation
//! schema 2.0 (`docs/batch-operations.md` lists the facts relied on here), and the task's key
//! as S3 stores it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The only schema the handler takes: the one that carries `userArguments` and names the bucket
/// instead of its ARN.
pub const SCHEMA: &str = "2.0";

/// One invocation: a job's arguments and its tasks (one per object; Batch Operations sends one
/// task per invocation today, the handler answers any number).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Invocation {
    pub invocation_schema_version: String,
    pub invocation_id: String,
    pub job: Job,
    pub tasks: Vec<Task>,
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    pub id: String,
    /// The job's `UserArguments` (schema 2.0): up to 10 string pairs.
    #[serde(default)]
    pub user_arguments: Option<BTreeMap<String, String>>,
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Task {
    pub task_id: String,
    /// URL-encoded, as in the manifest: see [`decode_key`].
    pub s3_key: String,
    /// `null` unless the manifest names a version.
    #[serde(default)]
    pub s3_version_id: Option<String>,
    /// Schema 2.0's bucket name.
    #[serde(default)]
    pub s3_bucket: Option<String>,
    /// Schema 1.0's bucket ARN, read only to say that the job has the wrong schema.
    #[serde(default)]
    pub s3_bucket_arn: Option<String>,
}

/// How one task ended, as Batch Operations counts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum ResultCode {
    /// Done; the result string goes into the completion report.
    Succeeded,
    /// Batch Operations invokes the function again for this task, later.
    TemporaryFailure,
    /// The task failed for good; the result string goes into the completion report as its error.
    PermanentFailure,
}

/// The answer to one invocation.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Response {
    pub invocation_schema_version: String,
    /// What a task missing from `results` counts as (none is ever missing).
    pub treat_missing_keys_as: ResultCode,
    pub invocation_id: String,
    pub results: Vec<TaskResult>,
}

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct TaskResult {
    pub task_id: String,
    pub result_code: ResultCode,
    pub result_string: String,
}

/// The key a task's `s3Key` names. Batch Operations passes keys URL-encoded as the manifest has
/// them (a CSV manifest must encode them, and S3 Inventory does): `%XX` is a byte, `+` a space
/// (form encoding, as S3 Inventory writes a space), anything else itself; the bytes must be
/// UTF-8. A `%` not followed by two hex digits is an error rather than a guess.
pub fn decode_key(encoded: &str) -> Result<String, String> {
    let bytes = encoded.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(at + 1..at + 3)
                    .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| {
                        format!("s3Key is not URL-encoded: '%' at byte {at} is not followed by two hex digits")
                    })?;
                out.push(hex);
                at += 2;
            }
            b => out.push(b),
        }
        at += 1;
    }
    let key = String::from_utf8(out)
        .map_err(|_| "s3Key does not decode to UTF-8: S3 keys are UTF-8".to_owned())?;
    if key.is_empty() {
        return Err("s3Key is empty".to_owned());
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_decode_as_manifests_and_inventories_encode_them() {
        let cases = [
            ("index.html", "index.html"),
            ("with+space.html", "with space.html"),
            ("with%20space.html", "with space.html"),
            ("plus%2Bsign.html", "plus+sign.html"),
            ("100%25.html", "100%.html"),
            ("percent%252Bencoded.html", "percent%2Bencoded.html"),
            (
                "unicod%C3%A9/%E6%97%A5%E6%9C%AC%E8%AA%9E.html",
                "unicodé/日本語.html",
            ),
            ("a%2fb%2Fc", "a/b/c"),
            ("tab%09and%0Anewline", "tab\tand\nnewline"),
            // Not encoded at all but harmless: taken as it is.
            ("dir/page.html", "dir/page.html"),
            ("日本語", "日本語"),
        ];
        for (encoded, key) in cases {
            assert_eq!(decode_key(encoded).as_deref(), Ok(key), "{encoded}");
        }
    }

    #[test]
    fn a_key_that_is_not_url_encoded_utf8_is_refused_in_one_line() {
        for (encoded, says) in [
            (
                "100%.html",
                "'%' at byte 3 is not followed by two hex digits",
            ),
            ("a%2", "'%' at byte 1"),
            ("a%zz", "'%' at byte 1"),
            // from_str_radix would take "+1" as 1.
            ("a%+1", "'%' at byte 1"),
            ("%FF%FE", "does not decode to UTF-8"),
            ("", "empty"),
        ] {
            let err = decode_key(encoded).unwrap_err();
            assert!(err.contains(says), "{encoded}: {err}");
            assert!(!err.contains('\n'));
        }
    }

    #[test]
    fn the_documented_fields_parse_and_the_answer_has_the_documented_names() {
        let invocation: Invocation = serde_json::from_value(serde_json::json!({
            "invocationSchemaVersion": "2.0",
            "invocationId": "YXNkbGZqYWRmaiBhc2RmdW9hZHNmZGpmaGFzbGtkaGZza2RmaAo",
            "job": {"id": "f3cc4f60-61f6-4a2b-8a21-d07600c373ce",
                    "userArguments": {"mode": "fix"}},
            "tasks": [{"taskId": "dGFza2lkZ29lc2hlcmUK", "s3Key": "a+b.html",
                       "s3VersionId": null, "s3Bucket": "my-site-bucket"}]
        }))
        .unwrap();
        assert_eq!(
            invocation.tasks[0].s3_bucket.as_deref(),
            Some("my-site-bucket")
        );
        assert_eq!(invocation.tasks[0].s3_version_id, None);
        assert_eq!(
            invocation.job.user_arguments.unwrap()["mode"],
            "fix".to_owned()
        );
        let response = Response {
            invocation_schema_version: SCHEMA.into(),
            treat_missing_keys_as: ResultCode::PermanentFailure,
            invocation_id: "i".into(),
            results: vec![TaskResult {
                task_id: "t".into(),
                result_code: ResultCode::TemporaryFailure,
                result_string: "s".into(),
            }],
        };
        assert_eq!(
            serde_json::to_value(&response).unwrap(),
            serde_json::json!({"invocationSchemaVersion": "2.0",
                               "treatMissingKeysAs": "PermanentFailure",
                               "invocationId": "i",
                               "results": [{"taskId": "t", "resultCode": "TemporaryFailure",
                                            "resultString": "s"}]})
        );
    }
}
