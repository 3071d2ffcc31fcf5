//! The clap command as the binary runs it: the derive's definition (`cli.rs`), then two passes over
//! all of it, so that flags added there later get them too: an `S3MEND_<FLAG>` environment
//! variable for each of s3mend's own flags, and undo's help in its own words.

use clap::builder::BoolishValueParser;
use clap::{Arg, ArgAction, Command, CommandFactory, FromArgMatches};

use crate::cli::{Cli, AWS};

/// Flags that take no environment variable: a standing `S3MEND_YES=1` would turn every fix on a
/// terminal into one that writes without asking, and `--allow-unconditional-copies` risks
/// overwriting a concurrent write; both must be said on the command line of the run they are
/// meant for. `-v` has `S3MEND_LOG` (a log filter) instead.
const NO_ENV: [&str; 3] = ["yes", "allow_unconditional_copies", "verbose"];

/// The command line of s3mend, with `--color`'s choice for clap's own help and errors.
pub fn command(color: clap::ColorChoice) -> Command {
    let cli = Cli::command().color(color);
    let cli = with_env(cli);
    each_subcommand(cli, |name, sub| match name {
        "undo" => undo_in_its_own_words(sub),
        "apply" => apply_in_its_own_words(sub),
        _ => sub,
    })
}

/// `f` over each subcommand of `cmd`, which keep their order (`mut_subcommand` alone moves the
/// one it changes to the end of the help's list).
fn each_subcommand(cmd: Command, f: impl Fn(&str, Command) -> Command) -> Command {
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_owned())
        .collect();
    names.iter().fold(cmd, |cmd, name| {
        cmd.mut_subcommand(name, |sub| f(name, sub))
    })
}

/// Parses the process's arguments and environment; help, `--version` and usage errors exit here,
/// as `Cli::parse` does.
pub fn parse(color: clap::ColorChoice) -> Cli {
    let mut matches = command(color).get_matches();
    Cli::from_arg_matches_mut(&mut matches).unwrap_or_else(|e| e.exit())
}

/// Gives every flag of `cmd` and of its subcommands `S3MEND_<FLAG>` (`--max-rps`:
/// `S3MEND_MAX_RPS`), unless it has one (AWS_ENDPOINT_URL, S3MEND_POLICY…), is under the AWS
/// heading (the AWS CLI's flags, set by AWS_* variables and the profile, read by the SDK), or is
/// in [`NO_ENV`]. Positional arguments take none. Clap shows each in `--help` as `[env: …]`; the
/// command line wins over the variable.
fn with_env(cmd: Command) -> Command {
    let cmd = cmd.mut_args(|arg| {
        let id = arg.get_id().as_str();
        let skip = arg.is_positional()
            || arg.get_env().is_some()
            || arg.get_help_heading() == Some(AWS)
            || NO_ENV.contains(&id)
            || matches!(id, "help" | "version");
        if skip {
            return arg;
        }
        let name = format!("S3MEND_{}", id.to_ascii_uppercase());
        let arg = arg.env(name);
        boolean_from_env(arg)
    });
    each_subcommand(cmd, |_, sub| with_env(sub))
}

/// A switch (`--dry-run`) parses its variable as a boolean word: 1, true, yes, on (and 0, false,
/// no, off, or empty); anything else is an error, so a typo does not silently count as set.
fn boolean_from_env(arg: Arg) -> Arg {
    if matches!(arg.get_action(), ArgAction::SetTrue) {
        arg.value_parser(BoolishValueParser::new())
    } else {
        arg
    }
}

const UNDO_EXIT_CODES: &str = "\
Exit codes:
  0    every repair in the journal undone (or there was none to undo)
  1    objects not restored: changed since the fix (conflicts), skipped, or --dry-run
  2    error: bad usage, an unreadable journal, no access, or a restore that failed
  130  interrupted (Ctrl-C); copies in flight finish, the journal and report are written
  143  stopped by SIGTERM, as gracefully";

/// Undo shares fix's write flags (`WriteArgs`), whose doc comments speak of findings and plans.
fn undo_in_its_own_words(undo: Command) -> Command {
    let words = [
        (
            "dry_run",
            "Show what each object would be put back to (every header before and after); write \
             nothing",
        ),
        (
            "yes",
            "Do not ask before restoring (required when stdin is not a terminal, as in cron or CI)",
        ),
        (
            "journal",
            "Journal of every restore, so that an undo can be undone too [default: \
             ./s3mend-journal-<UTC timestamp>.jsonl]",
        ),
        (
            "allow_unconditional_copies",
            "Restore even on a server that ignores x-amz-copy-source-if-match (probed before the \
             first copy), where a write made since the fix could be overwritten",
        ),
    ];
    // In place: `mut_arg` would move each to the end of the help.
    undo.mut_args(
        |arg| match words.iter().find(|(id, _)| arg.get_id() == *id) {
            Some((_, help)) => arg.help(*help).long_help(None::<&str>),
            None => arg,
        },
    )
    .after_help(UNDO_EXIT_CODES)
}

const APPLY_EXIT_CODES: &str = "\
Exit codes:
  0    every object of the plan repaired (or the plan was empty)
  1    objects not repaired: changed since the plan (conflicts), skipped, or --dry-run
  2    error: bad usage, a plan that is damaged or for another place, no access, or a repair
       that failed
  130  interrupted (Ctrl-C); copies in flight finish, the journal and report are written
  143  stopped by SIGTERM, as gracefully";

/// Apply shares fix's write flags too.
fn apply_in_its_own_words(apply: Command) -> Command {
    let words = [
        (
            "dry_run",
            "Check each object of the plan against the bucket (unchanged, and the same request \
             today); write nothing",
        ),
        (
            "yes",
            "Do not ask before applying (required when stdin is not a terminal, as in cron or CI)",
        ),
        (
            "journal",
            "Journal of every change, for undo [default: ./s3mend-journal-<UTC timestamp>.jsonl]",
        ),
    ];
    apply
        .mut_args(
            |arg| match words.iter().find(|(id, _)| arg.get_id() == *id) {
                Some((_, help)) => arg.help(*help).long_help(None::<&str>),
                None => arg,
            },
        )
        .after_help(APPLY_EXIT_CODES)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{OUTPUT, PERFORMANCE, SAFETY, SELECTION, TARGET};

    fn arg<'a>(cmd: &'a Command, sub: &str, id: &str) -> &'a Arg {
        cmd.find_subcommand(sub)
            .and_then(|s| s.get_arguments().find(|a| a.get_id() == id))
            .unwrap_or_else(|| panic!("{sub} has no {id}"))
    }

    #[test]
    fn the_command_is_consistent() {
        command(clap::ColorChoice::Never).debug_assert();
        let order = |cmd: &Command| -> Vec<String> {
            cmd.get_subcommands()
                .map(|s| s.get_name().to_owned())
                .collect()
        };
        assert_eq!(
            order(&command(clap::ColorChoice::Never)),
            order(&Cli::command()),
            "the commands keep their order"
        );
    }

    #[test]
    fn every_flag_of_scan_fix_and_undo_is_under_a_heading() {
        let headings = [TARGET, SELECTION, OUTPUT, PERFORMANCE, SAFETY, AWS];
        let mut cmd = command(clap::ColorChoice::Never);
        cmd.build();
        for name in ["scan", "fix", "undo", "apply"] {
            let sub = cmd.find_subcommand(name).unwrap();
            for arg in sub.get_arguments().filter(|a| a.get_id() != "help") {
                let heading = arg.get_help_heading();
                assert!(
                    heading.is_some_and(|h| headings.contains(&h)),
                    "{name} {}: {heading:?}",
                    arg.get_id()
                );
            }
        }
    }

    #[test]
    fn own_flags_get_an_environment_variable_and_aws_flags_and_safety_overrides_none() {
        let cmd = command(clap::ColorChoice::Never);
        let env = |sub: &str, id: &str| {
            arg(&cmd, sub, id)
                .get_env()
                .map(|e| e.to_string_lossy().into_owned())
        };
        assert_eq!(env("scan", "max_rps").as_deref(), Some("S3MEND_MAX_RPS"));
        assert_eq!(env("fix", "dry_run").as_deref(), Some("S3MEND_DRY_RUN"));
        assert_eq!(
            env("undo", "concurrency").as_deref(),
            Some("S3MEND_CONCURRENCY")
        );
        // Kept as they were.
        assert_eq!(
            env("scan", "endpoint_url").as_deref(),
            Some("AWS_ENDPOINT_URL")
        );
        assert_eq!(env("scan", "policy").as_deref(), Some("S3MEND_POLICY"));
        assert_eq!(env("scan", "region"), None);
        assert_eq!(env("scan", "profile"), None);
        assert_eq!(env("fix", "yes"), None);
        assert_eq!(env("fix", "allow_unconditional_copies"), None);
        assert_eq!(env("scan", "target"), None);
        let color = cmd.get_arguments().find(|a| a.get_id() == "color").unwrap();
        assert_eq!(color.get_env().unwrap(), "S3MEND_COLOR");
    }
}
