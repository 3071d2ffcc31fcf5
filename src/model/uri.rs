//! `s3://BUCKET[/PREFIX]` targets, and S3's bucket naming rules.
//!
//! A name no server accepts is refused here. Upper case, `_` and names over 63 characters are
//! only in legacy us-east-1 buckets (and some S3-compatible stores): they cannot be a host name,
//! so such a name is refused with virtual-hosted addressing ([`legacy_name`]) and sent as it is
//! with path style. A prefix with an empty segment (`s3://b//p`) is refused: it can only match
//! keys that begin with `/`, which is almost always a typo that would scan nothing.

use std::fmt;
use std::str::FromStr;

/// A bucket and an optional key prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Uri {
    pub bucket: String,
    pub prefix: String,
}

impl FromStr for S3Uri {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let rest = s
            .strip_prefix("s3://")
            .ok_or_else(|| format!("'{s}' is not an S3 URL: expected s3://BUCKET[/PREFIX]"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        validate_bucket(bucket)
            .map_err(|why| format!("invalid bucket name '{bucket}' in '{s}': {why}"))?;
        if prefix.starts_with('/') || prefix.contains("//") {
            let mut tidy = prefix.to_owned();
            while tidy.contains("//") {
                tidy = tidy.replace("//", "/");
            }
            let tidy = tidy.trim_start_matches('/');
            return Err(format!(
                "'{s}' has an empty path segment ('//'), which would select only keys that contain it: did you mean s3://{bucket}/{tidy}? (to reach such keys, scan a shorter prefix with --include)"
            ));
        }
        Ok(S3Uri {
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
        })
    }
}

impl fmt::Display for S3Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.prefix)
    }
}

/// S3's bucket naming rules (general purpose buckets), with the legacy upper case and underscore
/// still accepted because old buckets and S3-compatible stores use them.
fn validate_bucket(bucket: &str) -> Result<(), &'static str> {
    if bucket.is_empty() {
        return Err("the name is empty");
    }
    if bucket.len() < 3 || bucket.len() > 255 {
        return Err("a bucket name has 3 to 255 characters");
    }
    if !bucket
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
    {
        return Err("only letters, digits, '.', '-' and '_' are allowed");
    }
    let first = bucket.as_bytes()[0];
    let last = bucket.as_bytes()[bucket.len() - 1];
    if !first.is_ascii_alphanumeric() || !last.is_ascii_alphanumeric() {
        return Err("it must begin and end with a letter or digit");
    }
    if bucket.contains("..") {
        return Err("it must not contain '..'");
    }
    Ok(())
}

/// Why `bucket` (valid for [`validate_bucket`]) cannot be a host name, as virtual-hosted
/// addressing needs: what only a legacy us-east-1 bucket's name can have. `None` for a name S3
/// accepts today.
pub fn legacy_name(bucket: &str) -> Option<&'static str> {
    if bucket.bytes().any(|b| b.is_ascii_uppercase()) {
        Some("upper case")
    } else if bucket.contains('_') {
        Some("'_'")
    } else if bucket.len() > 63 {
        Some("more than 63 characters")
    } else {
        None
    }
}

/// The one-line error for a legacy name where it cannot be used, `why` from [`legacy_name`].
pub fn not_a_bucket_name(bucket: &str, why: &str) -> String {
    format!(
        "'{bucket}' is not a valid S3 bucket name ({why}; bucket names are 3 to 63 lower-case letters, digits, '.' and '-')"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bucket_and_prefix() {
        let cases = [
            ("s3://bucket", "bucket", ""),
            ("s3://bucket/", "bucket", ""),
            ("s3://my.bucket-1/a/b/", "my.bucket-1", "a/b/"),
            ("s3://bucket/a b+c", "bucket", "a b+c"),
            ("s3://Fieldnotes_Site/x", "Fieldnotes_Site", "x"),
        ];
        for (input, bucket, prefix) in cases {
            let uri: S3Uri = input.parse().unwrap();
            assert_eq!(
                (uri.bucket.as_str(), uri.prefix.as_str()),
                (bucket, prefix),
                "{input}"
            );
        }
    }

    #[test]
    fn rejects_malformed_urls_with_the_culprit_named() {
        let cases = [
            ("bucket/prefix", "not an S3 URL"),
            ("https://bucket/x", "not an S3 URL"),
            ("s3://", "the name is empty"),
            ("s3:///prefix", "the name is empty"),
            ("s3://ab", "3 to 255"),
            ("s3://bad*name", "only letters"),
            ("s3://-bucket", "begin and end"),
            ("s3://a..b", "'..'"),
            ("s3://bucket//blog", "did you mean s3://bucket/blog?"),
            (
                "s3://bucket///blog//x/",
                "did you mean s3://bucket/blog/x/?",
            ),
            ("s3://bucket/blog//x", "did you mean s3://bucket/blog/x?"),
        ];
        for (input, why) in cases {
            let err = input.parse::<S3Uri>().unwrap_err();
            assert!(err.contains(why), "{input}: {err}");
            assert!(
                err.contains(input.trim_start_matches("s3://")) || err.contains(input),
                "{err}"
            );
        }
    }

    #[test]
    fn legacy_names_are_told_apart() {
        for name in ["bucket", "my.site-1", &"a".repeat(63)] {
            assert_eq!(legacy_name(name), None, "{name}");
        }
        assert_eq!(legacy_name("Fieldnotes_Site"), Some("upper case"));
        assert_eq!(legacy_name("fieldnotes_site"), Some("'_'"));
        assert_eq!(
            legacy_name(&"a".repeat(64)),
            Some("more than 63 characters")
        );
        let message = not_a_bucket_name("Fieldnotes_Site", "upper case");
        assert!(
            message.starts_with("'Fieldnotes_Site' is not a valid S3 bucket name (upper case;"),
            "{message}"
        );
    }
}
