//! How many attempts a request gets, and in which retry mode: the flag, else what the AWS
//! environment or profile configures (`AWS_MAX_ATTEMPTS`, `AWS_RETRY_MODE`, a profile's
//! `max_attempts` and `retry_mode`, each field on its own, as aws-config resolves them), else
//! s3mend's defaults. Pure: the values are read by `profile`.

use std::fmt;

/// Attempts per request unless `--max-attempts`, `AWS_MAX_ATTEMPTS` or the profile says
/// otherwise: enough to ride out a burst of SlowDown while S3 scales a prefix.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 10;

/// The most attempts s3mend takes from any source, as `--max-attempts` allows.
const MOST_ATTEMPTS: u32 = 100;

/// The SDK's retry modes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RetryMode {
    /// Exponential backoff.
    #[default]
    Standard,
    /// Also a client-side rate limiter that slows down after throttling.
    Adaptive,
}

impl fmt::Display for RetryMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RetryMode::Standard => "standard",
            RetryMode::Adaptive => "adaptive",
        })
    }
}

/// What the environment and the selected profile say, unparsed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Configured {
    pub env_max_attempts: Option<String>,
    pub env_retry_mode: Option<String>,
    pub profile_max_attempts: Option<String>,
    pub profile_retry_mode: Option<String>,
}

/// The settings a run uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retry {
    pub max_attempts: u32,
    pub mode: RetryMode,
}

impl Configured {
    /// The environment's and profile's settings alone (what aws-config would give the credential
    /// providers), `None` for a field neither sets.
    pub fn own(&self) -> Result<(Option<u32>, Option<RetryMode>), String> {
        let attempts = match (&self.env_max_attempts, &self.profile_max_attempts) {
            (Some(text), _) => Some(parse_attempts(text, "AWS_MAX_ATTEMPTS")?),
            (None, Some(text)) => Some(parse_attempts(text, "the profile's max_attempts")?),
            (None, None) => None,
        };
        let mode = match (&self.env_retry_mode, &self.profile_retry_mode) {
            (Some(text), _) => Some(parse_mode(text, "AWS_RETRY_MODE")?),
            (None, Some(text)) => Some(parse_mode(text, "the profile's retry_mode")?),
            (None, None) => None,
        };
        Ok((attempts, mode))
    }

    /// Flag, else environment or profile, else s3mend's default; field by field. A value that
    /// is configured but not used (a flag overrides it) must still be valid, as for the AWS CLI.
    pub fn resolve(
        &self,
        flag_attempts: Option<u32>,
        flag_mode: Option<RetryMode>,
    ) -> Result<Retry, String> {
        let (attempts, mode) = self.own()?;
        Ok(Retry {
            max_attempts: flag_attempts.or(attempts).unwrap_or(DEFAULT_MAX_ATTEMPTS),
            mode: flag_mode.or(mode).unwrap_or_default(),
        })
    }
}

fn parse_attempts(text: &str, source: &str) -> Result<u32, String> {
    match text.trim().parse::<u32>() {
        Ok(n) if (1..=MOST_ATTEMPTS).contains(&n) => Ok(n),
        _ => Err(format!(
            "{source} is '{}': it must be a number of attempts from 1 to {MOST_ATTEMPTS}",
            text.escape_debug()
        )),
    }
}

fn parse_mode(text: &str, source: &str) -> Result<RetryMode, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "standard" => Ok(RetryMode::Standard),
        "adaptive" => Ok(RetryMode::Adaptive),
        _ => Err(format!(
            "{source} is '{}': it must be standard or adaptive",
            text.escape_debug()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn configured(
        env: (Option<&str>, Option<&str>),
        profile: (Option<&str>, Option<&str>),
    ) -> Configured {
        Configured {
            env_max_attempts: env.0.map(str::to_owned),
            env_retry_mode: env.1.map(str::to_owned),
            profile_max_attempts: profile.0.map(str::to_owned),
            profile_retry_mode: profile.1.map(str::to_owned),
        }
    }

    #[test]
    fn the_flag_wins_then_the_environment_then_the_profile_then_the_default() {
        use RetryMode::*;
        let retry = |n, mode| Retry {
            max_attempts: n,
            mode,
        };
        let cases = [
            // flags, env, profile → resolved
            (
                (None, None),
                (None, None),
                (None, None),
                retry(10, Standard),
            ),
            (
                (None, None),
                (None, None),
                (Some("4"), Some("adaptive")),
                retry(4, Adaptive),
            ),
            (
                (None, None),
                (Some("3"), None),
                (Some("4"), Some("adaptive")),
                retry(3, Adaptive),
            ),
            (
                (None, None),
                (None, Some("standard")),
                (Some("4"), Some("adaptive")),
                retry(4, Standard),
            ),
            (
                (Some(7), None),
                (Some("3"), Some("adaptive")),
                (None, None),
                retry(7, Adaptive),
            ),
            (
                (Some(7), Some(Standard)),
                (Some("3"), Some("adaptive")),
                (Some("4"), None),
                retry(7, Standard),
            ),
            (
                (None, Some(Adaptive)),
                (None, None),
                (None, None),
                retry(10, Adaptive),
            ),
            (
                (None, None),
                (Some(" 2 "), Some("Adaptive")),
                (None, None),
                retry(2, Adaptive),
            ),
        ];
        for (flags, env, profile, expected) in cases {
            let got = configured(env, profile).resolve(flags.0, flags.1);
            assert_eq!(got, Ok(expected), "{flags:?} {env:?} {profile:?}");
        }
    }

    #[test]
    fn a_bad_configured_value_is_named_with_its_source() {
        for (env, profile, needle) in [
            ((Some("0"), None), (None, None), "AWS_MAX_ATTEMPTS is '0'"),
            (
                (Some("ten"), None),
                (None, None),
                "AWS_MAX_ATTEMPTS is 'ten'",
            ),
            ((Some("101"), None), (None, None), "from 1 to 100"),
            (
                (None, Some("legacy")),
                (None, None),
                "AWS_RETRY_MODE is 'legacy'",
            ),
            (
                (None, None),
                (Some("-1"), None),
                "the profile's max_attempts is '-1'",
            ),
            (
                (None, None),
                (None, Some("fast")),
                "the profile's retry_mode is 'fast'",
            ),
        ] {
            let err = configured(env, profile).resolve(Some(5), None).unwrap_err();
            assert!(err.contains(needle), "{err}");
            assert!(!err.contains('\n'), "{err}");
        }
    }

    #[test]
    fn the_credential_providers_get_only_what_is_configured() {
        assert_eq!(Configured::default().own(), Ok((None, None)));
        let c = configured((None, Some("adaptive")), (Some("6"), None));
        assert_eq!(c.own(), Ok((Some(6), Some(RetryMode::Adaptive))));
    }
}
