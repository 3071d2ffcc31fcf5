//! The documented exit codes.

/// How a run ended, from best to worst; the process exits with the numeric value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ExitCode {
    /// No findings.
    Clean = 0,
    /// Findings reported.
    Findings = 1,
    /// Bad usage, no access, or an object that could not be inspected.
    Error = 2,
    /// Interrupted by SIGINT.
    Interrupted = 130,
    /// Stopped by SIGTERM (a cron job's timeout, a container stop).
    Terminated = 143,
}

impl ExitCode {
    /// The worse of two outcomes.
    pub fn merge(self, other: ExitCode) -> ExitCode {
        self.max(other)
    }

    /// An interrupted run reports the signal that stopped it.
    pub fn by_signal(self, terminated: bool) -> ExitCode {
        if self == ExitCode::Interrupted && terminated {
            ExitCode::Terminated
        } else {
            self
        }
    }
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(code: ExitCode) -> Self {
        std::process::ExitCode::from(code as u8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_keeps_the_worst() {
        use ExitCode::*;
        assert_eq!(Clean.merge(Findings), Findings);
        assert_eq!(Error.merge(Findings), Error);
        assert_eq!(Findings.merge(Interrupted), Interrupted);
        assert_eq!(Clean.merge(Clean), Clean);
        assert_eq!(Interrupted.by_signal(true), Terminated);
        assert_eq!(Interrupted.by_signal(false), Interrupted);
        assert_eq!(Findings.by_signal(true), Findings);
        assert_eq!(
            [Clean, Findings, Error, Interrupted].map(|c| c as u8),
            [0, 1, 2, 130]
        );
    }
}
