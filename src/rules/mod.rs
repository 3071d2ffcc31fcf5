//! Rules: pure checks over one object's HEAD snapshot.
//!
//! Each rule lives in its own file, has a stable id (used by `--rules` and in every report) and a
//! one-line explanation, and returns at most one [`Finding`]: the header that is wrong and the value
//! a repair should send instead. Rules never do I/O, so they are tested exhaustively in place.

mod charset;
pub mod coding;
pub mod content_encoding;
mod content_type;
mod encoding_mismatch;
pub mod policy;
mod severity;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::model::{Header, ObjectHead, SkipReason};
use policy::Policy;
pub use severity::Severity;

/// How many of an object's first bytes the sniff reads: every magic number fits, and a ranged GET
/// this small costs the same as a HEAD.
pub const SNIFF_BYTES: u64 = 64;

/// What a rule found wrong with one header of one object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// The rule's stable id.
    pub rule: RuleId,
    /// How much it matters: the rule's, or the policy block's `severity`.
    pub severity: Severity,
    /// The HTTP header the finding is about.
    pub header: Header,
    /// The header's value now; `None` when the header is absent.
    pub current: Option<String>,
    /// The value a repair should send; `None` means: remove the header.
    pub proposed: Option<String>,
    /// The built-in rules whose proposal for this header the policy replaced.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overrides: Vec<RuleId>,
    /// Why a repair must not apply this proposal (the body contradicts it): the object is
    /// skipped with this reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocked: Option<SkipReason>,
}

impl Finding {
    pub fn new(
        rule: RuleId,
        header: Header,
        current: Option<&str>,
        proposed: Option<String>,
    ) -> Self {
        Finding {
            rule,
            severity: rule.severity(),
            header,
            current: current.map(str::to_owned),
            proposed,
            overrides: Vec::new(),
            blocked: None,
        }
    }
}

/// Every rule s3mend knows. The order is the order findings are reported in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "&'static str", try_from = "String")]
pub enum RuleId {
    ContentEncoding,
    ContentType,
    Charset,
    EncodingMismatch,
    Policy,
}

impl RuleId {
    pub const ALL: [RuleId; 5] = [
        RuleId::ContentEncoding,
        RuleId::ContentType,
        RuleId::Charset,
        RuleId::EncodingMismatch,
        RuleId::Policy,
    ];

    /// The rules a run has unless `--rules` says otherwise (and `policy` with `--policy`).
    pub const DEFAULT: [RuleId; 2] = [RuleId::ContentEncoding, RuleId::ContentType];

    /// The stable id used on the command line and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            RuleId::ContentEncoding => "content-encoding",
            RuleId::ContentType => "content-type",
            RuleId::Charset => "charset",
            RuleId::EncodingMismatch => "encoding-mismatch",
            RuleId::Policy => "policy",
        }
    }

    /// The severity of the rule's findings. Content-Encoding problems break clients (browsers
    /// refuse the body, curl and CloudFront fail); a generic Content-Type or a missing charset
    /// makes a page render worse, not fail. A policy block chooses its own (error unless it says).
    pub fn severity(self) -> Severity {
        match self {
            RuleId::ContentEncoding | RuleId::EncodingMismatch | RuleId::Policy => Severity::Error,
            RuleId::ContentType | RuleId::Charset => Severity::Warning,
        }
    }

    /// One line saying what the rule flags.
    pub fn explanation(self) -> &'static str {
        match self {
            RuleId::ContentEncoding => {
                "Content-Encoding holds a token that is not a registered content coding (a charset such as UTF-8, identity, aws-chunked, or empty)"
            }
            RuleId::ContentType => {
                "Content-Type is missing or generic (binary/octet-stream) although the key's extension says what it is"
            }
            RuleId::Charset => "a text Content-Type has no charset parameter",
            RuleId::EncodingMismatch => {
                "the body's first bytes contradict the Content-Encoding (gzip declared on a plain body, or a compressed text body without one)"
            }
            RuleId::Policy => "a header differs from what the --policy file declares for the key",
        }
    }

    /// Runs a built-in rule over one object (`body`: its first bytes, when they were read).
    fn check(self, head: &ObjectHead, body: Option<&[u8]>) -> Option<Finding> {
        match self {
            RuleId::ContentEncoding => content_encoding::check(head, body),
            RuleId::ContentType => content_type::check(head),
            RuleId::Charset => charset::check(head),
            RuleId::EncodingMismatch => encoding_mismatch::check(head, body),
            RuleId::Policy => None,
        }
    }
}

impl TryFrom<String> for RuleId {
    type Error = String;

    fn try_from(name: String) -> Result<Self, String> {
        name.parse()
    }
}

impl From<RuleId> for &'static str {
    fn from(id: RuleId) -> Self {
        id.as_str()
    }
}

impl std::fmt::Display for RuleId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for RuleId {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RuleId::ALL
            .into_iter()
            .find(|id| id.as_str() == s.trim())
            .ok_or_else(|| {
                let known: Vec<_> = RuleId::ALL.iter().map(|id| id.as_str()).collect();
                format!(
                    "unknown rule '{s}' (known: {}; default for the default set)",
                    known.join(", ")
                )
            })
    }
}

/// The rules selected for a run, in report order, and the policy if one is given.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleSet {
    ids: Vec<RuleId>,
    policy: Option<Arc<Policy>>,
    /// Read an object's first bytes when its findings depend on them (`--no-sniff` turns it
    /// off: Content-Encoding proposals are then from the headers alone).
    sniff: bool,
}

impl RuleSet {
    /// The rules a report names, for writing it again (`s3mend merge`): nothing is checked with
    /// them.
    pub fn reported(ids: Vec<RuleId>) -> Self {
        RuleSet {
            ids,
            policy: None,
            sniff: true,
        }
    }

    /// The default rules, without a policy.
    pub fn all() -> Self {
        RuleSet {
            ids: RuleId::DEFAULT.to_vec(),
            policy: None,
            sniff: true,
        }
    }

    /// Parses `--rules` values: ids, possibly comma-separated; `default` (or `all`, as before)
    /// stands for the default set, which has `policy` when a policy is given.
    pub fn parse<S: AsRef<str>>(values: &[S], policy: Option<Arc<Policy>>) -> Result<Self, String> {
        let mut ids = Vec::new();
        for part in values.iter().flat_map(|v| v.as_ref().split(',')) {
            let part = part.trim();
            let named: Vec<RuleId> = match part {
                "" => continue,
                "default" | "all" => RuleId::DEFAULT
                    .into_iter()
                    .chain(policy.is_some().then_some(RuleId::Policy))
                    .collect(),
                _ => vec![part.parse()?],
            };
            for id in named {
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
        }
        if ids.is_empty() {
            return Err("--rules names no rule".to_owned());
        }
        match (ids.contains(&RuleId::Policy), &policy) {
            (true, None) => return Err("rule 'policy' needs --policy FILE".to_owned()),
            (false, Some(policy)) => {
                return Err(format!(
                    "--policy {} would not be used: --rules names neither default nor policy",
                    policy.path
                ))
            }
            _ => {}
        }
        ids.sort();
        Ok(RuleSet {
            ids,
            policy,
            sniff: true,
        })
    }

    /// With `sniff` false, no object's body is ever read: Content-Encoding proposals come from
    /// the headers alone, and `encoding-mismatch` finds nothing.
    pub fn sniffing(mut self, sniff: bool) -> Self {
        self.sniff = sniff;
        self
    }

    pub fn sniffs(&self) -> bool {
        self.sniff
    }

    /// The rules named by `names` (unknown ones left out), for a report on findings made
    /// elsewhere: `apply` reports a plan's findings and runs no rule itself.
    pub fn named<S: AsRef<str>>(names: &[S]) -> Self {
        let mut ids: Vec<RuleId> = names
            .iter()
            .filter_map(|n| n.as_ref().parse().ok())
            .collect();
        ids.sort();
        ids.dedup();
        RuleSet {
            ids,
            policy: None,
            sniff: true,
        }
    }

    pub fn ids(&self) -> &[RuleId] {
        &self.ids
    }

    pub fn policy(&self) -> Option<&Policy> {
        self.policy.as_deref()
    }

    /// Every finding of the selected rules for one object, in rule order, the policy's last.
    /// `body` is the object's first bytes, when they were read. Where the policy declares a
    /// header, the built-in rules' findings on it give way, and the policy's finding names them.
    pub fn check(&self, head: &ObjectHead, body: Option<&[u8]>) -> Vec<Finding> {
        let mut findings: Vec<Finding> = self
            .ids
            .iter()
            .filter_map(|id| id.check(head, body))
            .collect();
        let Some(policy) = &self.policy else {
            return findings;
        };
        let mut declared = policy.check(head, body);
        findings.retain(|finding| {
            if !policy.declares(&head.key, &finding.header) {
                return true;
            }
            if let Some(winner) = declared.iter_mut().find(|p| p.header == finding.header) {
                winner.overrides.push(finding.rule);
            }
            false
        });
        findings.append(&mut declared);
        findings
    }

    /// Whether the findings of `head` (found without its body) depend on its first bytes: a
    /// Content-Encoding is to be set, kept or removed, or `encoding-mismatch` has something to
    /// check. An archived object cannot be read (nor repaired): its findings stay header-only.
    pub fn wants_body(&self, head: &ObjectHead, findings: &[Finding]) -> bool {
        self.sniff
            && !head.is_archived()
            && (findings.iter().any(|f| f.header == Header::ContentEncoding)
                || (self.ids.contains(&RuleId::EncodingMismatch)
                    && encoding_mismatch::wants_body(head)))
    }

    /// [`RuleSet::check`], with the body's first [`SNIFF_BYTES`] read by `read` when the
    /// findings depend on them (never for an empty object, whose body is known).
    pub async fn check_reading<E, Fut>(
        &self,
        head: &ObjectHead,
        read: impl FnOnce() -> Fut,
    ) -> Result<Vec<Finding>, E>
    where
        Fut: std::future::Future<Output = Result<Vec<u8>, E>>,
    {
        let (findings, _) = self.check_sniffing(head, None, read).await?;
        Ok(findings)
    }

    /// [`RuleSet::check_reading`] with the first bytes perhaps `known` already (from the
    /// catalog), and handing back the bytes the findings depended on, if any.
    pub async fn check_sniffing<E, Fut>(
        &self,
        head: &ObjectHead,
        known: Option<Vec<u8>>,
        read: impl FnOnce() -> Fut,
    ) -> Result<(Vec<Finding>, Option<Vec<u8>>), E>
    where
        Fut: std::future::Future<Output = Result<Vec<u8>, E>>,
    {
        let findings = self.check(head, None);
        if !self.wants_body(head, &findings) {
            return Ok((findings, None));
        }
        let body = match known {
            _ if head.content_length == Some(0) => Vec::new(),
            Some(known) => known,
            None => read().await?,
        };
        Ok((self.check(head, Some(&body)), Some(body)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_their_names() {
        for id in RuleId::ALL {
            assert_eq!(id.as_str().parse::<RuleId>(), Ok(id));
            assert!(!id.explanation().is_empty());
        }
    }

    #[test]
    fn rule_set_parses_lists_and_all() {
        let parse = |values: &[&str]| RuleSet::parse(values, None);
        assert_eq!(parse(&["all"]).unwrap(), RuleSet::all());
        assert_eq!(parse(&["default"]).unwrap(), RuleSet::all());
        assert_eq!(
            parse(&["content-type"]).unwrap().ids(),
            &[RuleId::ContentType]
        );
        assert_eq!(
            parse(&["content-type,content-encoding"]).unwrap(),
            RuleSet::all()
        );
        assert_eq!(
            parse(&["content-type", " content-type "]).unwrap().ids(),
            &[RuleId::ContentType]
        );
        assert_eq!(
            parse(&["default,charset,encoding-mismatch"]).unwrap().ids(),
            &[
                RuleId::ContentEncoding,
                RuleId::ContentType,
                RuleId::Charset,
                RuleId::EncodingMismatch
            ]
        );
        let err = parse(&["content-encodin"]).unwrap_err();
        assert!(err.contains("unknown rule 'content-encodin'"), "{err}");
        assert!(parse(&[","]).is_err());
        let err = parse(&["policy"]).unwrap_err();
        assert!(err.contains("needs --policy"), "{err}");
    }

    #[test]
    fn findings_read_back_what_they_write() {
        let mut finding = Finding::new(
            RuleId::Policy,
            Header::Meta("team".into()),
            None,
            Some("web".into()),
        );
        finding.severity = Severity::Warning;
        finding.overrides = vec![RuleId::ContentType];
        finding.blocked = Some(SkipReason::BodyNotGzip);
        let json = serde_json::to_string(&finding).unwrap();
        assert_eq!(serde_json::from_str::<Finding>(&json).unwrap(), finding);
        assert!(serde_json::from_str::<RuleId>("\"no-such-rule\"").is_err());
    }

    #[test]
    fn findings_serialize_with_the_rule_name() {
        let finding = Finding::new(
            RuleId::ContentEncoding,
            Header::ContentEncoding,
            Some("gzip, UTF-8"),
            Some("gzip".into()),
        );
        assert_eq!(
            serde_json::to_value(&finding).unwrap(),
            serde_json::json!({"rule": "content-encoding", "severity": "error", "header": "Content-Encoding",
                               "current": "gzip, UTF-8", "proposed": "gzip"})
        );
    }
}
