//! The policy: what a file means, and every mistake it can hold, each with its position.

use super::*;
use crate::rules::RuleSet;
use std::sync::Arc;

const SITE: &str = r#"# The site's headers.
[[match]]
keys = ["*.html"]
cache-control = "public, max-age=300"
content-type = "text/html; charset=utf-8"

[[match]]
keys = ["assets/*", "*.css"]
cache-control = "public, max-age=31536000, immutable"

[[match]]
keys = ["downloads/*"]
content-disposition = "attachment"
metadata = { team = "web", Old-Tag = false }

[[match]]
keys = ["data/*.csv.gz"]
content-encoding = false

[[match]]
keys = ["legacy/*"]
expires = 2030-01-01T00:00:00Z
content-encoding = "gzip"
"#;

fn site() -> Policy {
    parse("s3mend.toml", SITE).unwrap()
}

fn head(key: &str) -> ObjectHead {
    ObjectHead {
        content_type: Some("text/html".into()),
        ..ObjectHead::new(key)
    }
}

fn findings(policy: &Policy, head: &ObjectHead) -> Vec<(String, Option<String>)> {
    policy
        .check(head, None)
        .into_iter()
        .map(|f| {
            assert_eq!(f.rule, RuleId::Policy);
            (f.header.to_string(), f.proposed)
        })
        .collect()
}

#[test]
fn the_first_block_whose_keys_match_applies_and_no_other() {
    let policy = site();
    assert_eq!(policy.blocks.len(), 5);
    assert_eq!(policy.block_for("index.html").unwrap().0, 0);
    // `*` crosses `/`, as --include's does; `assets/x.html` is html first.
    assert_eq!(policy.block_for("blog/post/index.html").unwrap().0, 0);
    assert_eq!(policy.block_for("assets/x.html").unwrap().0, 0);
    assert_eq!(policy.block_for("assets/app.js").unwrap().0, 1);
    assert_eq!(policy.block_for("site.css").unwrap().0, 1);
    assert!(policy.block_for("robots.txt").is_none());
    assert_eq!(policy.blocks[1].line, 7);
    assert_eq!(
        findings(&policy, &head("index.html")),
        [
            (
                "Content-Type".into(),
                Some("text/html; charset=utf-8".into())
            ),
            ("Cache-Control".into(), Some("public, max-age=300".into())),
        ]
    );
    assert!(findings(&policy, &head("robots.txt")).is_empty());
}

#[test]
fn what_is_already_right_is_no_finding() {
    let policy = site();
    let right = ObjectHead {
        content_type: Some("text/html; charset=utf-8".into()),
        cache_control: Some("public, max-age=300".into()),
        ..ObjectHead::new("index.html")
    };
    assert!(policy.check(&right, None).is_empty());
    // The same instant in another form is the same Expires.
    let legacy = ObjectHead {
        expires: Some("Tue, 01 Jan 2030 00:00:00 GMT".into()),
        content_encoding: Some("gzip".into()),
        ..ObjectHead::new("legacy/a.js")
    };
    assert!(policy.check(&legacy, None).is_empty());
}

#[test]
fn false_requires_absence_and_metadata_entries_are_set_one_by_one() {
    let policy = site();
    let gz = ObjectHead {
        content_encoding: Some("gzip".into()),
        ..ObjectHead::new("data/2026.csv.gz")
    };
    assert_eq!(findings(&policy, &gz), [("Content-Encoding".into(), None)]);
    let download = ObjectHead {
        content_disposition: Some("attachment".into()),
        metadata: [
            ("old-tag".to_owned(), "x".to_owned()),
            ("keep".to_owned(), "y".to_owned()),
        ]
        .into(),
        ..ObjectHead::new("downloads/app.zip")
    };
    assert_eq!(
        findings(&policy, &download),
        [
            ("x-amz-meta-old-tag".into(), None),
            ("x-amz-meta-team".into(), Some("web".into())),
        ]
    );
}

#[test]
fn dates_are_written_as_s3_will_store_them() {
    let policy = site();
    let (_, block) = policy.block_for("legacy/a.js").unwrap();
    assert!(block.sets.contains(&(
        Header::Expires,
        Want::Value("Tue, 01 Jan 2030 00:00:00 GMT".into())
    )));
    let quoted = parse(
        "p.toml",
        "[[match]]\nkeys = [\"*\"]\nexpires = \"2030-01-01T01:00:00+01:00\"\n",
    )
    .unwrap();
    assert_eq!(
        quoted.blocks[0].sets,
        [(
            Header::Expires,
            Want::Value("Tue, 01 Jan 2030 00:00:00 GMT".into())
        )]
    );
}

#[test]
fn a_coding_the_body_contradicts_is_blocked_never_applied() {
    let policy = site();
    let plain = ObjectHead {
        expires: Some("Tue, 01 Jan 2030 00:00:00 GMT".into()),
        ..ObjectHead::new("legacy/a.js")
    };
    let on = |body: &[u8]| policy.check(&plain, Some(body));
    assert_eq!(on(b"var a;")[0].blocked, Some(SkipReason::BodyNotGzip));
    assert_eq!(on(&[0x1f, 0x8b, 8])[0].blocked, None);
    assert_eq!(
        policy.check(&plain, None)[0].blocked,
        None,
        "not read: header only"
    );
}

#[test]
fn the_policy_wins_over_a_built_in_rule_on_the_same_header_and_says_so() {
    let policy = Arc::new(site());
    let rules = RuleSet::parse(&["default"], Some(policy)).unwrap();
    let generic = ObjectHead {
        content_type: Some("binary/octet-stream".into()),
        content_encoding: Some("UTF-8".into()),
        ..ObjectHead::new("page.html")
    };
    let found = rules.check(&generic, None);
    let by_header: Vec<_> = found
        .iter()
        .map(|f| (f.rule, f.header.to_string(), f.overrides.clone()))
        .collect();
    assert_eq!(
        by_header,
        [
            (RuleId::ContentEncoding, "Content-Encoding".into(), vec![]),
            (
                RuleId::Policy,
                "Content-Type".into(),
                vec![RuleId::ContentType]
            ),
            (RuleId::Policy, "Cache-Control".into(), vec![]),
        ]
    );
    // A header the policy declares and the object already has: the built-in rule gives way.
    let declared_generic = parse(
        "p.toml",
        "[[match]]\nkeys = [\"*.bin.html\"]\ncontent-type = \"binary/octet-stream\"\n",
    )
    .unwrap();
    let rules = RuleSet::parse(&["default"], Some(Arc::new(declared_generic))).unwrap();
    let as_declared = ObjectHead {
        content_type: Some("binary/octet-stream".into()),
        ..ObjectHead::new("x.bin.html")
    };
    assert!(rules.check(&as_declared, None).is_empty());
}

/// Each mistake, where it is, and the message it gets.
#[test]
fn every_mistake_is_one_line_with_its_position() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "[[match]]\nkeys = [\"*\"]\ncache_control = \"x\"\n",
            "p.toml:3:1",
            "unknown field 'cache_control' in [[match]]; did you mean 'cache-control'?",
        ),
        (
            "[[match]]\nkeys = [\"*\"]\nconten-type = \"text/html\"\n",
            "p.toml:3:1",
            "did you mean 'content-type'?",
        ),
        (
            "[[match]]\nkeys = [\"*\"]\nweird = 1\n",
            "p.toml:3:1",
            "unknown field 'weird' in [[match]] (known: keys, cache-control",
        ),
        (
            "[[matches]]\nkeys = [\"*\"]\n",
            "p.toml:1:3",
            "unknown field 'matches' at the top level; did you mean 'match'?",
        ),
        (
            "[[match]]\nkeys = [\"a[b\"]\n",
            "p.toml:2:9",
            "bad glob 'a[b'",
        ),
        ("[[match]]\nkeys = []\n", "p.toml:2:8", "`keys` is empty"),
        (
            "[[match]]\ncache-control = \"x\"\n",
            "p.toml:1:1",
            "a [[match]] block needs `keys`",
        ),
        (
            "[[match]]\nkeys = [\"*\"]\ncache-control = \"max-age=1\\r\\nX-Evil: 1\"\n",
            "p.toml:3:17",
            "cache-control contains the control character '\\r'",
        ),
        (
            "[[match]]\nkeys = [\"*\"]\ncontent-language = \"français\"\n",
            "p.toml:3:20",
            "non-ASCII character 'ç'",
        ),
        (
            "[[match]]\nkeys = [\"*\"]\ncontent-type = \"html\"\n",
            "p.toml:3:16",
            "content-type \"html\" is not type/subtype[; parameters]",
        ),
        (
            "[[match]]\nkeys = [\"*\"]\ncontent-encoding = \"gzip, UTF-8\"\n",
            "p.toml:3:20",
            "content-encoding \"UTF-8\" is not a registered content coding",
        ),
        (
            "[[match]]\nkeys = [\"*\"]\ncontent-encoding = \"identity\"\n",
            "p.toml:3:20",
            "\"identity\" is not a registered content coding",
        ),
        (
            "[[match]]\nkeys = [\"*\"]\nmetadata = { Team = \"a\", team = \"b\" }\n",
            "p.toml:3:26",
            "metadata names 'Team' and 'team' differ only in case",
        ),
        (
            "[[match]]\nkeys = [\"*\"]\nmetadata = { \"a b\" = \"c\" }\n",
            "p.toml:3:14",
            "metadata name 'a b' is not an HTTP header name",
        ),
        (
            "[[match]]\nkeys = [\"*\"]\nexpires = \"soon\"\n",
            "p.toml:3:11",
            "expires \"soon\" is not a date",
        ),
        (
            "[[match]]\nkeys = [\"*\"]\ncache-control = true\n",
            "p.toml:3:17",
            "cache-control = true means nothing",
        ),
        (
            "[[match]]\nkeys = [\"*\"]\ncache-control = \"\"\n",
            "p.toml:3:17",
            "cache-control is empty: use false",
        ),
        (
            "[[match]]\nkeys = [\"*\"]\ncache-control = 300\n",
            "p.toml:3:17",
            "cache-control must be a string, or false",
        ),
        ("[[match]\nkeys = 1\n", "p.toml:1:", "not valid TOML"),
        (
            "keys = \"x\"\n",
            "p.toml:1:1",
            "unknown field 'keys' at the top level",
        ),
        (
            "[[match]]\nkeys = [\"*\"]\nseverity = \"fatal\"\n",
            "p.toml:3:12",
            "severity 'fatal' is neither \"error\" nor \"warning\"",
        ),
        (
            "[[match]]\nkeys = [\"*\"]\nseverity = 1\n",
            "p.toml:3:12",
            "severity must be \"error\" or \"warning\"",
        ),
        (
            "[[match]]\nkeys = [\"*\"]\nseveriti = \"error\"\n",
            "p.toml:3:1",
            "did you mean 'severity'?",
        ),
        (
            "# nothing\n",
            "p.toml:1:1",
            "the policy has no [[match]] block",
        ),
    ];
    for (text, at, message) in cases {
        let err = parse("p.toml", text).unwrap_err().to_string();
        assert!(err.starts_with(at), "{text:?}: {err}");
        assert!(err.contains(message), "{text:?}: {err}");
        assert!(!err.contains('\n'), "one line: {err}");
    }
}

#[test]
fn a_block_chooses_the_severity_of_its_findings_error_unless_it_says() {
    let policy = parse(
        "p.toml",
        "[[match]]\nkeys = [\"*.html\"]\nseverity = \"warning\"\ncache-control = \"no-cache\"\n\n[[match]]\nkeys = [\"*\"]\ncache-control = \"max-age=60\"\n",
    )
    .unwrap();
    let severities = |key: &str| -> Vec<Severity> {
        policy
            .check(&head(key), None)
            .iter()
            .map(|f| f.severity)
            .collect()
    };
    assert_eq!(severities("index.html"), [Severity::Warning]);
    assert_eq!(severities("app.js"), [Severity::Error]);
    // A policy finding that replaces a built-in rule's keeps the block's severity.
    let rules = RuleSet::parse(&["default"], Some(Arc::new(policy))).unwrap();
    let generic = ObjectHead {
        content_encoding: Some("UTF-8".into()),
        ..head("index.html")
    };
    let found = rules.check(&generic, None);
    let by_rule: Vec<(RuleId, Severity)> = found.iter().map(|f| (f.rule, f.severity)).collect();
    assert_eq!(
        by_rule,
        [
            (RuleId::ContentEncoding, Severity::Error),
            (RuleId::Policy, Severity::Warning)
        ]
    );
}

#[test]
fn a_missing_file_is_an_error_naming_it() {
    let err = load(std::path::Path::new("/nonexistent/s3mend.toml")).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("/nonexistent/s3mend.toml:1:1: cannot read the policy"),
        "{err}"
    );
}

/// The JSON Schema in the repository names exactly the fields the parser takes, so an editor
/// that validates against it agrees with s3mend.
#[test]
fn the_json_schema_names_the_fields_the_parser_takes() {
    let schema: serde_json::Value = serde_json::from_str(include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/policy.schema.json"
    )))
    .unwrap();
    let top: Vec<&str> = schema["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(top, ["match"]);
    let mut block: Vec<&str> = schema["$defs"]["block"]["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut fields = parse::FIELDS.to_vec();
    block.sort_unstable();
    fields.sort_unstable();
    assert_eq!(block, fields);
}
