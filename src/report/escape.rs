//! Output hygiene: what a report prints of an object (its key, its header values) is the
//! bucket's data, written by anyone with write access, so it must not be able to drive the
//! reader's terminal or spreadsheet.
//!
//! - For a terminal (the table): control characters (escape sequences that clear the screen or
//!   set the window title, CR, newline) and the Unicode controls that reorder text (U+202E and
//!   its kin) are shown as `\u{…}` escapes, visibly.
//! - For a spreadsheet (CSV): a cell that starts with `=`, `+`, `-`, `@`, a tab or a CR is
//!   prefixed with `'`, OWASP's rule against formula injection.
//! - For GitHub workflow commands: the terminal's escaping first (no newline survives), then
//!   `%`, CR and LF as the runner expects them (`%25`, `%0D`, `%0A`), and in a property also
//!   `:` and `,`, which would end it.
//! - For Markdown: the terminal's escaping, inside a code span long enough for any backticks in
//!   the text, with `|` escaped so a table cell stays one cell.
//! - For XML (JUnit): the five XML entities, and every control character but tab, CR and LF
//!   shown as for a terminal (XML 1.0 cannot carry them, even escaped).
//! - JSON stays exact: its own escaping carries every character, and a program reads it.

use std::borrow::Cow;

/// Whether `c` would act on a terminal instead of being shown: a control character, or one of
/// the invisible formatting characters that reorder or hide text.
fn acts(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}

/// `text` with every character that would act on a terminal shown as `\u{…}`.
pub fn for_terminal(text: &str) -> Cow<'_, str> {
    if !text.chars().any(acts) {
        return Cow::Borrowed(text);
    }
    let mut shown = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if acts(c) {
            shown.push_str(&c.escape_unicode().to_string());
        } else {
            shown.push(c);
        }
    }
    Cow::Owned(shown)
}

/// A header value as the table, the summaries and the question show it: `absent` for none, `""`
/// for the empty string, the rest escaped for a terminal.
pub fn value(value: &Option<String>, absent: &str) -> String {
    match value.as_deref() {
        None => absent.to_owned(),
        Some("") => "\"\"".to_owned(),
        Some(v) => for_terminal(v).into_owned(),
    }
}

/// `cell` as a spreadsheet will take it literally.
pub fn for_spreadsheet(cell: String) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell
    }
}

/// `text` as the message of a GitHub workflow command (`::error::MESSAGE`).
pub fn for_workflow_data(text: &str) -> String {
    for_terminal(text)
        .replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// `text` as a property of a GitHub workflow command (`::error title=PROPERTY::`).
pub fn for_workflow_property(text: &str) -> String {
    for_workflow_data(text)
        .replace(':', "%3A")
        .replace(',', "%2C")
}

/// `text` as an inline code span that a Markdown table cell keeps whole.
pub fn for_markdown(text: &str) -> String {
    let text = for_terminal(text).replace('|', "\\|");
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    // A span that starts or ends with a backtick (or a space) needs a space inside its fence.
    let pad = if text.starts_with(['`', ' ']) || text.ends_with(['`', ' ']) {
        " "
    } else {
        ""
    };
    if text.is_empty() {
        return "` `".to_owned();
    }
    format!("{fence}{pad}{text}{pad}{fence}")
}

/// `text` as XML character data or an attribute value.
pub fn for_xml(text: &str) -> String {
    let mut allowed = String::with_capacity(text.len());
    for c in text.chars() {
        if acts(c) && !matches!(c, '\t' | '\n' | '\r') {
            allowed.push_str(&c.escape_unicode().to_string());
        } else {
            allowed.push(c);
        }
    }
    quick_xml::escape::escape(allowed.as_str()).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workflow_commands_cannot_be_injected() {
        assert_eq!(for_workflow_data("a%b"), "a%25b");
        // A key that tries to start a command of its own on a new line stays on this one.
        let evil = "x\n::add-mask::secret\r\n";
        let data = for_workflow_data(evil);
        assert!(!data.contains('\n') && !data.contains('\r'), "{data}");
        assert_eq!(
            for_workflow_property("policy: Cache-Control, x"),
            "policy%3A Cache-Control%2C x"
        );
    }

    #[test]
    fn markdown_spans_hold_any_text() {
        assert_eq!(for_markdown("index.html"), "`index.html`");
        assert_eq!(for_markdown("a|b"), "`a\\|b`");
        assert_eq!(for_markdown("a`b"), "``a`b``");
        assert_eq!(for_markdown("`x"), "`` `x ``");
        assert_eq!(for_markdown(""), "` `");
        assert_eq!(for_markdown("a\nb"), "`a\\u{a}b`");
    }

    #[test]
    fn xml_gets_entities_and_no_control_characters() {
        assert_eq!(
            for_xml("<a href=\"x\">&'\u{1b}\u{0}\n"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&apos;\\u{1b}\\u{0}\n"
        );
    }

    #[test]
    fn what_would_act_on_a_terminal_is_shown() {
        assert_eq!(for_terminal("index.html"), "index.html");
        assert_eq!(for_terminal("ünïcødé ページ"), "ünïcødé ページ");
        assert_eq!(
            for_terminal("\u{1b}]0;pwned\u{7}a\rb\nc\u{202e}lmth.exe"),
            "\\u{1b}]0;pwned\\u{7}a\\u{d}b\\u{a}c\\u{202e}lmth.exe"
        );
        assert_eq!(for_terminal("x\u{9b}2J"), "x\\u{9b}2J", "C1 controls too");
    }

    #[test]
    fn cells_a_spreadsheet_would_evaluate_are_neutralised() {
        for (cell, shown) in [
            ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
            ("+1", "'+1"),
            ("-1", "'-1"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("a=b", "a=b"),
            ("", ""),
        ] {
            assert_eq!(for_spreadsheet(cell.to_owned()), shown);
        }
    }
}
