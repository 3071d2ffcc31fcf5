//! The table's lines fitted to a width: measured in display columns (a CJK character or an emoji
//! takes two, a combining accent none; unicode-width through textwrap), wrapped at spaces, a word
//! longer than a line broken. Keys are never broken: they are for copying.

use textwrap::core::display_width;
use textwrap::Options;

/// The width when stdout is not a terminal (a pipe, a file, cron's mail).
pub const DEFAULT_WIDTH: usize = 80;

/// A key column never grows past this, so one long key does not push every other row right.
const MAX_KEY_COLUMN: usize = 60;

/// Below this many columns for the detail, a row puts it under its key instead.
const MIN_DETAIL_COLUMN: usize = 20;

const ROW_INDENT: &str = "    ";
const UNDER_KEY_INDENT: &str = "        ";

/// The terminal's width when stdout is one, else [`DEFAULT_WIDTH`].
pub fn stdout_width() -> usize {
    console::Term::stdout()
        .size_checked()
        .map_or(DEFAULT_WIDTH, |(_rows, columns)| usize::from(columns))
}

/// How many columns `text` takes on a terminal.
pub fn columns(text: &str) -> usize {
    display_width(text)
}

/// `text` followed by spaces up to `to` display columns (`{:<n}` counts chars instead).
pub fn pad(text: &str, to: usize) -> String {
    let fill = to.saturating_sub(columns(text));
    format!("{text}{}", " ".repeat(fill))
}

/// The key column for these keys: the widest, capped.
pub fn key_column<'a>(keys: impl Iterator<Item = &'a String>) -> usize {
    keys.map(|k| columns(k))
        .max()
        .unwrap_or(0)
        .min(MAX_KEY_COLUMN)
}

/// The detail column: the widest detail, capped like keys.
pub fn detail_column<'a>(details: impl Iterator<Item = &'a String>) -> usize {
    key_column(details)
}

/// `text` wrapped to `width` columns, every line starting with `indent`.
pub fn wrap(text: &str, indent: &str, width: usize) -> Vec<String> {
    let options = Options::new(width.max(columns(indent) + 1))
        .initial_indent(indent)
        .subsequent_indent(indent)
        .break_words(true);
    textwrap::wrap(text, options)
        .into_iter()
        .map(|line| line.into_owned())
        .collect()
}

/// One example row: `key  detail  →  proposed` in aligned columns while it fits `width`; else the
/// key alone on its line (whole, however long) and the rest wrapped under it.
pub fn row(
    key: &str,
    key_column: usize,
    detail: &str,
    detail_column: usize,
    proposed: Option<&str>,
    width: usize,
) -> Vec<String> {
    let tail = match proposed {
        Some(proposed) => format!("{}  →  {proposed}", pad(detail, detail_column)),
        None => detail.to_owned(),
    };
    let lead = format!("{ROW_INDENT}{}  ", pad(key, key_column));
    let one_line = format!("{lead}{tail}");
    if tail.is_empty() {
        return vec![format!("{ROW_INDENT}{key}")];
    }
    if columns(&one_line) <= width {
        return vec![one_line.trim_end().to_owned()];
    }
    let lead_width = columns(&lead);
    if columns(key) <= key_column && lead_width + MIN_DETAIL_COLUMN <= width {
        // The tail wraps in its own column, under itself.
        let hanging = " ".repeat(lead_width);
        let mut lines = wrap(&tail, &hanging, width);
        if let Some(first) = lines.first_mut() {
            *first = format!("{lead}{}", &first[hanging.len()..]);
        }
        return lines;
    }
    let mut lines = vec![format!("{ROW_INDENT}{key}")];
    lines.extend(wrap(&tail, UNDER_KEY_INDENT, width));
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_characters_count_as_two_columns() {
        assert_eq!(columns("日本語.html"), 11);
        assert_eq!(columns("e\u{301}"), 1, "a combining accent takes no column");
        assert_eq!(columns("🎉.txt"), 6);
        assert_eq!(pad("日本", 6), "日本  ");
        assert_eq!(pad("abc", 2), "abc");
    }

    #[test]
    fn rows_with_wide_keys_align_their_arrows() {
        let keys = ["日本語/索引.html", "index.html", "🎉/a.js"].map(str::to_owned);
        let column = key_column(keys.iter());
        assert_eq!(column, 16);
        let arrows: Vec<usize> = keys
            .iter()
            .map(|k| {
                let line = row(k, column, "UTF-8", 5, Some("(remove)"), 80).remove(0);
                columns(line.split('→').next().unwrap())
            })
            .collect();
        assert_eq!(arrows, [29, 29, 29], "the arrows line up on a terminal");
    }

    #[test]
    fn a_row_too_wide_wraps_its_detail_and_never_breaks_the_key() {
        let key = format!("assets/{}.css", "k".repeat(70));
        let lines = row(
            &key,
            60,
            "binary/octet-stream",
            19,
            Some("text/css; charset=utf-8"),
            80,
        );
        assert_eq!(
            lines[0],
            format!("    {key}"),
            "the key whole, on its own line"
        );
        assert_eq!(
            lines[1],
            "        binary/octet-stream  →  text/css; charset=utf-8"
        );
        assert!(
            lines.iter().all(|l| columns(l) <= 80 || l.trim() == key),
            "{lines:#?}"
        );

        // A long error message wraps in its column, under itself.
        let error = "the server answered 500 InternalError: We encountered an internal error. Please try again.";
        let lines = row("a.html", 6, error, 0, None, 60);
        assert!(
            lines[0].starts_with("    a.html  the server answered"),
            "{lines:#?}"
        );
        assert!(
            lines[1..].iter().all(|l| l.starts_with("            ")),
            "{lines:#?}"
        );
        assert!(lines.iter().all(|l| columns(l) <= 60), "{lines:#?}");
        assert_eq!(
            lines.iter().map(|l| l.trim()).collect::<Vec<_>>().join(" "),
            format!("a.html  {error}")
        );

        // A word longer than a line is broken rather than left sticking out.
        let lines = wrap(&"x".repeat(50), "  ", 20);
        assert!(lines.iter().all(|l| columns(l) <= 20), "{lines:#?}");
        assert_eq!(lines.concat().replace(' ', ""), "x".repeat(50));
    }
}
