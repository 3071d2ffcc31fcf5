//! The job's `userArguments`: what the handler does with each object. Every value is a string
//! (the job's UserArguments is a string-to-string map of at most 10 entries, values up to 1,024
//! characters); a mistake is one line that every task of the invocation reports.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::rules::{policy, RuleSet};

/// What the handler does with an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// HEAD and the rules: the findings go into the completion report; nothing is written.
    Scan,
    /// Also plans the repair and reports it; nothing is written, nothing journalled.
    DryRun,
    /// Repairs, as `s3mend fix` does: journalled, conditional, verified.
    Fix,
}

/// The arguments of one job, validated.
#[derive(Clone, Debug, PartialEq)]
pub struct Arguments {
    pub mode: Mode,
    pub rules: RuleSet,
}

/// The keys `userArguments` may have.
pub const KEYS: [&str; 3] = ["mode", "rules", "policy"];

impl Arguments {
    /// `mode` is `scan` (the default: a job without arguments writes nothing), `dry-run` or
    /// `fix`; `rules` is a list as `--rules` takes it (default `default`); `policy` is a policy
    /// file's TOML text, inline (it adds the `policy` rule to the default set, as `--policy`
    /// does).
    pub fn parse(given: Option<&BTreeMap<String, String>>) -> Result<Arguments, String> {
        let empty = BTreeMap::new();
        let given = given.unwrap_or(&empty);
        if let Some(unknown) = given.keys().find(|k| !KEYS.contains(&k.as_str())) {
            return Err(format!(
                "userArguments: unknown key '{unknown}' (known: {})",
                KEYS.join(", ")
            ));
        }
        let mode = match given.get("mode").map(|m| m.trim()) {
            None | Some("scan") => Mode::Scan,
            Some("dry-run") => Mode::DryRun,
            Some("fix") => Mode::Fix,
            Some(other) => {
                return Err(format!(
                    "userArguments: mode '{other}' is not scan, dry-run or fix"
                ))
            }
        };
        let policy = given
            .get("policy")
            .map(|text| policy::parse("userArguments.policy", text).map(Arc::new))
            .transpose()
            .map_err(|e| e.to_string())?;
        let rules = given.get("rules").map_or("default", String::as_str);
        let rules = RuleSet::parse(&[rules], policy).map_err(|e| {
            format!(
                "userArguments: rules: {}",
                e.replace("--policy FILE", "a policy")
                    .replace("--policy", "policy")
            )
        })?;
        Ok(Arguments { mode, rules })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::RuleId;

    fn parse(pairs: &[(&str, &str)]) -> Result<Arguments, String> {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Arguments::parse(Some(&map))
    }

    #[test]
    fn no_arguments_scan_with_the_default_rules() {
        let expected = Arguments {
            mode: Mode::Scan,
            rules: RuleSet::all(),
        };
        assert_eq!(Arguments::parse(None), Ok(expected.clone()));
        assert_eq!(parse(&[]), Ok(expected));
    }

    #[test]
    fn mode_rules_and_an_inline_policy() {
        assert_eq!(parse(&[("mode", "dry-run")]).unwrap().mode, Mode::DryRun);
        assert_eq!(parse(&[("mode", "fix")]).unwrap().mode, Mode::Fix);
        let args = parse(&[("mode", "fix"), ("rules", "default,charset")]).unwrap();
        assert_eq!(
            args.rules.ids(),
            &[
                RuleId::ContentEncoding,
                RuleId::ContentType,
                RuleId::Charset
            ]
        );
        let policy = "[[match]]\nkeys = [\"**/*.html\"]\ncache-control = \"max-age=60\"\n";
        let args = parse(&[("policy", policy)]).unwrap();
        assert!(args.rules.ids().contains(&RuleId::Policy));
        assert_eq!(args.rules.policy().unwrap().path, "userArguments.policy");
    }

    #[test]
    fn mistakes_are_one_line_each() {
        for (pairs, says) in [
            (
                &[("modes", "fix")][..],
                "unknown key 'modes' (known: mode, rules, policy)",
            ),
            (
                &[("mode", "repair")][..],
                "mode 'repair' is not scan, dry-run or fix",
            ),
            (
                &[("rules", "content-encodin")][..],
                "unknown rule 'content-encodin'",
            ),
            (&[("rules", "policy")][..], "rule 'policy' needs a policy"),
            (
                &[("policy", "[[match]]\nkeys = 1\n")][..],
                "userArguments.policy:2:",
            ),
        ] {
            let err = parse(pairs).unwrap_err();
            assert!(err.contains(says), "{pairs:?}: {err}");
            assert!(!err.contains('\n'), "{err}");
        }
    }
}
