//! Rules: pure checks over one object's HEAD snapshot.
//!
//! Each rule lives in its own file, has a stable id (used by `--rules` and in every report) and a
//! one-line explanation, and returns at most one [`Finding`]: the header that is wrong and the value
//! a repair should send instead. Rules never do I/O, so they are tested exhaustively in place.

mod content_encoding;
mod content_type;

use serde::Serialize;

use crate::model::ObjectHead;

/// What a rule found wrong with one header of one object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The rule's stable id.
    pub rule: RuleId,
    /// The HTTP header the finding is about.
    pub header: &'static str,
    /// The header's value now; `None` when the header is absent.
    pub current: Option<String>,
    /// The value a repair should send; `None` means: remove the header.
    pub proposed: Option<String>,
}

/// Every rule s3mend knows. The order is the order findings are reported in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(into = "&'static str")]
pub enum RuleId {
    ContentEncoding,
    ContentType,
}

impl RuleId {
    pub const ALL: [RuleId; 2] = [RuleId::ContentEncoding, RuleId::ContentType];

    /// The stable id used on the command line and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            RuleId::ContentEncoding => "content-encoding",
            RuleId::ContentType => "content-type",
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
        }
    }

    /// The header the rule checks and a repair rewrites.
    pub fn header(self) -> &'static str {
        match self {
            RuleId::ContentEncoding => "Content-Encoding",
            RuleId::ContentType => "Content-Type",
        }
    }

    /// That header's value in a HEAD snapshot.
    pub fn value(self, head: &ObjectHead) -> &Option<String> {
        match self {
            RuleId::ContentEncoding => &head.content_encoding,
            RuleId::ContentType => &head.content_type,
        }
    }

    /// That header's value in a HEAD snapshot, to change.
    pub fn value_mut(self, head: &mut ObjectHead) -> &mut Option<String> {
        match self {
            RuleId::ContentEncoding => &mut head.content_encoding,
            RuleId::ContentType => &mut head.content_type,
        }
    }

    /// Runs the rule over one object.
    pub fn check(self, head: &ObjectHead) -> Option<Finding> {
        match self {
            RuleId::ContentEncoding => content_encoding::check(head),
            RuleId::ContentType => content_type::check(head),
        }
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
                format!("unknown rule '{s}' (known: {}, or all)", known.join(", "))
            })
    }
}

/// The rules selected for a run, in report order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleSet(Vec<RuleId>);

impl RuleSet {
    pub fn all() -> Self {
        RuleSet(RuleId::ALL.to_vec())
    }

    /// Parses `--rules` values: ids, possibly comma-separated, or `all`.
    pub fn parse<S: AsRef<str>>(values: &[S]) -> Result<Self, String> {
        let mut ids = Vec::new();
        for part in values.iter().flat_map(|v| v.as_ref().split(',')) {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            if part == "all" {
                return Ok(RuleSet::all());
            }
            let id: RuleId = part.parse()?;
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        if ids.is_empty() {
            return Err("--rules names no rule".to_owned());
        }
        ids.sort();
        Ok(RuleSet(ids))
    }

    pub fn ids(&self) -> &[RuleId] {
        &self.0
    }

    /// Every finding of the selected rules for one object, in rule order.
    pub fn check(&self, head: &ObjectHead) -> Vec<Finding> {
        self.0.iter().filter_map(|id| id.check(head)).collect()
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
        assert_eq!(RuleSet::parse(&["all"]).unwrap(), RuleSet::all());
        assert_eq!(
            RuleSet::parse(&["content-type"]).unwrap().ids(),
            &[RuleId::ContentType]
        );
        assert_eq!(
            RuleSet::parse(&["content-type,content-encoding"]).unwrap(),
            RuleSet::all()
        );
        assert_eq!(
            RuleSet::parse(&["content-type", " content-type "])
                .unwrap()
                .ids(),
            &[RuleId::ContentType]
        );
        let err = RuleSet::parse(&["content-encodin"]).unwrap_err();
        assert!(err.contains("unknown rule 'content-encodin'"), "{err}");
        assert!(RuleSet::parse(&[","]).is_err());
    }

    #[test]
    fn findings_serialize_with_the_rule_name() {
        let finding = Finding {
            rule: RuleId::ContentEncoding,
            header: "Content-Encoding",
            current: Some("gzip, UTF-8".into()),
            proposed: Some("gzip".into()),
        };
        assert_eq!(
            serde_json::to_value(&finding).unwrap(),
            serde_json::json!({"rule": "content-encoding", "header": "Content-Encoding",
                               "current": "gzip, UTF-8", "proposed": "gzip"})
        );
    }
}
