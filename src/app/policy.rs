//! `s3mend policy check FILE` and `s3mend policy explain FILE KEY...`: a policy file read and
//! shown, with no request sent.

use std::io::Write;
use std::path::Path;

use crate::exit_codes::ExitCode;
use crate::rules::policy::{self, Policy};

/// Checks the file; a mistake is the run's one-line error (exit 2).
pub fn check(file: &Path, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let policy = policy::load(file)?;
    let blocks = policy.blocks.len();
    let plural = if blocks == 1 { "" } else { "s" };
    writeln!(out, "{}: ok, {blocks} [[match]] block{plural}", policy.path)?;
    Ok(ExitCode::Clean)
}

/// For each key, the block that applies and what it sets.
pub fn explain(file: &Path, keys: &[String], out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let policy = policy::load(file)?;
    for key in keys {
        out.write_all(explanation(&policy, key).as_bytes())?;
    }
    Ok(ExitCode::Clean)
}

fn explanation(policy: &Policy, key: &str) -> String {
    let Some((index, block)) = policy.block_for(key) else {
        return format!("{key}: no [[match]] block applies; the policy sets nothing\n");
    };
    let keys: Vec<String> = block.keys.iter().map(|k| format!("{k:?}")).collect();
    let mut text = format!(
        "{key}: [[match]] block {} (line {}, keys = [{}])\n",
        index + 1,
        block.line,
        keys.join(", ")
    );
    for (header, want) in &block.sets {
        text.push_str(&format!(
            "  {} = {}\n",
            policy::field(header),
            want.to_toml()
        ));
    }
    text.push_str(&format!("  severity = \"{}\"\n", block.severity));
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explain_names_the_block_and_what_it_sets() {
        let policy = policy::parse(
            "p.toml",
            "[[match]]\nkeys = [\"*.html\", \"*.htm\"]\ncache-control = \"no-cache\"\nmetadata = { team = \"web\" }\ncontent-encoding = false\n\n[[match]]\nkeys = [\"*\"]\ncache-control = \"max-age=60\"\n",
        )
        .unwrap();
        assert_eq!(
            explanation(&policy, "a/index.html"),
            "a/index.html: [[match]] block 1 (line 1, keys = [\"*.html\", \"*.htm\"])\n  content-encoding = false\n  cache-control = \"no-cache\"\n  metadata.team = \"web\"\n  severity = \"error\"\n"
        );
        assert!(explanation(&policy, "img.png").starts_with("img.png: [[match]] block 2 (line 7"));
        let only_html = policy::parse(
            "p.toml",
            "[[match]]\nkeys = [\"*.html\"]\ncache-control = \"x\"\n",
        )
        .unwrap();
        assert_eq!(
            explanation(&only_html, "img.png"),
            "img.png: no [[match]] block applies; the policy sets nothing\n"
        );
    }
}
