//! `x-amz-copy-source`: the object a copy reads, percent-encoded as S3 wants it.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Characters S3 needs percent-encoded in `x-amz-copy-source`: all but unreserved ones and `/`.
/// The SDK does not encode it (awslabs/aws-sdk-rust#1357).
const COPY_SOURCE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

/// A query value: also `/` encoded.
const QUERY_VALUE: &AsciiSet = &COPY_SOURCE.add(b'/');

pub fn copy_source(bucket: &str, key: &str, version_id: Option<&str>) -> String {
    let mut source = format!("{bucket}/{}", utf8_percent_encode(key, COPY_SOURCE));
    if let Some(version) = version_id {
        source.push_str("?versionId=");
        source.extend(utf8_percent_encode(version, QUERY_VALUE));
    }
    source
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_source_encodes_everything_but_unreserved_and_slash() {
        let cases = [
            ("k", None, "b/k"),
            ("a b", None, "b/a%20b"),
            ("a+b?c#d%e&f=g", None, "b/a%2Bb%3Fc%23d%25e%26f%3Dg"),
            ("dir/sub/~x-y_z.html", None, "b/dir/sub/~x-y_z.html"),
            (
                "日本",
                Some("3HL4kqtJ"),
                "b/%E6%97%A5%E6%9C%AC?versionId=3HL4kqtJ",
            ),
        ];
        for (key, version, expected) in cases {
            assert_eq!(copy_source("b", key, version), expected, "{key}");
        }
    }
}
