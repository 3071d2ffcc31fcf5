//! Whether to colour: `--color` and, for `auto`, the conventions of no-color.org (`NO_COLOR` set
//! and not empty: no colour) and bixense.com/clicolors (`CLICOLOR_FORCE` not 0: colour even
//! without a terminal; `CLICOLOR=0`: none). Decided once in `main` for stdout and stderr; the
//! table, the logs, the progress bar and clap's help all follow that decision.

use std::ffi::OsString;

use crate::cli::ColorWhen;

/// The environment variables the decision reads.
#[derive(Clone, Debug, Default)]
pub struct ColorEnv {
    pub no_color: Option<OsString>,
    pub clicolor_force: Option<OsString>,
    pub clicolor: Option<OsString>,
}

impl ColorEnv {
    pub fn from_process() -> Self {
        ColorEnv {
            no_color: std::env::var_os("NO_COLOR"),
            clicolor_force: std::env::var_os("CLICOLOR_FORCE"),
            clicolor: std::env::var_os("CLICOLOR"),
        }
    }
}

impl ColorWhen {
    /// Whether a stream that `is_terminal` gets colour. NO_COLOR wins over CLICOLOR_FORCE, as
    /// no-color.org asks of a user's explicit wish to have none; `--color always` wins over both.
    pub fn enabled(self, is_terminal: bool, env: &ColorEnv) -> bool {
        let set = |v: &Option<OsString>| v.as_ref().is_some_and(|v| !v.is_empty());
        let not_zero = |v: &Option<OsString>| set(v) && v.as_deref() != Some("0".as_ref());
        match self {
            ColorWhen::Always => true,
            ColorWhen::Never => false,
            ColorWhen::Auto if set(&env.no_color) => false,
            ColorWhen::Auto if not_zero(&env.clicolor_force) => true,
            ColorWhen::Auto if env.clicolor.as_deref() == Some("0".as_ref()) => false,
            ColorWhen::Auto => is_terminal,
        }
    }
}

/// The value of the last `--color WHEN` or `--color=WHEN` before a `--`, else of `S3MEND_COLOR`:
/// clap prints help and usage errors while it parses, before the parsed `--color` exists. A value
/// that is not one of auto, always and never is left for clap to reject.
pub fn requested(args: &[OsString], env_value: Option<&OsString>) -> ColorWhen {
    let parse = |v: &str| clap::ValueEnum::from_str(v, false).ok();
    let mut found = None;
    let mut args = args.iter().skip(1).map(|a| a.to_str().unwrap_or(""));
    while let Some(arg) = args.next() {
        if arg == "--" {
            break;
        }
        if let Some(value) = arg.strip_prefix("--color=") {
            found = parse(value).or(found);
        } else if arg == "--color" {
            found = args.next().and_then(parse).or(found);
        }
    }
    found
        .or_else(|| env_value.and_then(|v| parse(v.to_str()?)))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(no_color: Option<&str>, force: Option<&str>, clicolor: Option<&str>) -> ColorEnv {
        ColorEnv {
            no_color: no_color.map(Into::into),
            clicolor_force: force.map(Into::into),
            clicolor: clicolor.map(Into::into),
        }
    }

    #[test]
    fn auto_follows_the_terminal_and_the_conventions() {
        use ColorWhen::*;
        let none = env(None, None, None);
        assert!(Auto.enabled(true, &none));
        assert!(!Auto.enabled(false, &none));
        assert!(!Auto.enabled(true, &env(Some("1"), None, None)));
        // An empty NO_COLOR is unset (no-color.org).
        assert!(Auto.enabled(true, &env(Some(""), None, None)));
        assert!(Auto.enabled(false, &env(None, Some("1"), None)));
        assert!(!Auto.enabled(false, &env(None, Some("0"), None)));
        assert!(!Auto.enabled(true, &env(Some("1"), Some("1"), None)));
        assert!(!Auto.enabled(true, &env(None, None, Some("0"))));
        assert!(Auto.enabled(true, &env(None, None, Some("1"))));
        assert!(Always.enabled(false, &env(Some("1"), None, Some("0"))));
        assert!(!Never.enabled(true, &env(None, Some("1"), None)));
    }

    #[test]
    fn the_flag_is_found_before_clap_parses() {
        let args = |list: &[&str]| -> Vec<OsString> {
            std::iter::once("s3mend")
                .chain(list.iter().copied())
                .map(Into::into)
                .collect()
        };
        let env_never: OsString = "never".into();
        assert_eq!(requested(&args(&["--help"]), None), ColorWhen::Auto);
        assert_eq!(
            requested(&args(&["scan", "--color", "always", "--help"]), None),
            ColorWhen::Always
        );
        assert_eq!(
            requested(&args(&["--color=never", "--color=always"]), None),
            ColorWhen::Always
        );
        assert_eq!(requested(&args(&[]), Some(&env_never)), ColorWhen::Never);
        assert_eq!(
            requested(&args(&["--color", "always"]), Some(&env_never)),
            ColorWhen::Always
        );
        assert_eq!(
            requested(&args(&["--", "--color=always"]), None),
            ColorWhen::Auto
        );
        assert_eq!(requested(&args(&["--color=purple"]), None), ColorWhen::Auto);
    }
}
