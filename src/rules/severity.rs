//! How much a finding matters. `--fail-on` (`src/gate.rs`) turns severities into the exit code; every
//! report format shows them.

use serde::{Deserialize, Serialize};

/// A finding's severity, from least to most.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth repairing; a pre-deploy gate with `--fail-on error` lets it pass.
    Warning,
    /// Breaks clients (browsers, curl, CloudFront): always worth failing a gate for.
    #[default]
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Severity {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "error" => Ok(Severity::Error),
            "warning" => Ok(Severity::Warning),
            other => Err(format!(
                "severity '{other}' is neither \"error\" nor \"warning\""
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severities_order_and_round_trip() {
        assert!(Severity::Warning < Severity::Error);
        for s in [Severity::Warning, Severity::Error] {
            assert_eq!(s.as_str().parse::<Severity>(), Ok(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        assert!("fatal".parse::<Severity>().unwrap_err().contains("fatal"));
    }
}
