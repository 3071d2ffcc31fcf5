//! `s3mend completions SHELL` and `s3mend man [COMMAND]`: generated at run time from the command
//! line the binary parses (`command.rs`), so they can never describe other flags than it has.

use std::io::Write;

use anyhow::Context;
use clap::Command;
use clap_complete::Shell;

/// Writes the completion script for `shell`. Generated in memory first: clap_complete panics on
/// a failed write, and a closed pipe must end as one (`main.rs`), not as a panic.
pub fn completions(shell: Shell, cmd: Command, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut cmd = cmd;
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "s3mend", &mut script);
    out.write_all(&script)?;
    out.flush()?;
    Ok(())
}

/// Writes the manual page of s3mend, or of one of its commands (`s3mend-scan(1)`, as the main
/// page's SUBCOMMANDS section names them; `["policy", "check"]` for `s3mend-policy-check(1)`), in
/// roff.
pub fn man(cmd: Command, command: &[String], out: &mut dyn Write) -> anyhow::Result<()> {
    let mut cmd = cmd.disable_help_subcommand(true);
    // Built, subcommands know their full names (`s3mend-scan`) and have the global flags.
    cmd.build();
    let mut page = cmd;
    for name in command {
        let sub = page
            .find_subcommand(name)
            .with_context(|| format!("no command '{name}': {}", names(&page)))?;
        let mut sub = sub.clone();
        sub.build();
        page = sub;
    }
    clap_mangen::Man::new(page)
        .source(format!("s3mend {}", env!("CARGO_PKG_VERSION")))
        .manual("s3mend")
        .render(out)?;
    out.flush()?;
    Ok(())
}

fn names(cmd: &Command) -> String {
    let names: Vec<&str> = cmd.get_subcommands().map(|s| s.get_name()).collect();
    if names.is_empty() {
        format!(
            "{} has no commands",
            cmd.get_display_name().unwrap_or(cmd.get_name())
        )
    } else {
        format!("one of {}", names.join(", "))
    }
}
