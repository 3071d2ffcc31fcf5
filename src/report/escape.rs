//! Output hygiene: what a report prints of an object (its key, its header values) is the
//! bucket's data, written by anyone with write access, so it must not be able to drive the
//! reader's terminal or spreadsheet.
//!
//! - For a terminal (the table): control characters (escape sequences that clear the screen or
//!   set the window title, CR, newline) and the Unicode controls that reorder text (U+202E and
//!   its kin) are shown as `\u{…}` escapes, visibly.
//! - For a spreadsheet (CSV): a cell that starts with `=`, `+`, `-`, `@`, a tab or a CR is
//!   prefixed with `'`, OWASP's rule against formula injection.
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

/// `cell` as a spreadsheet will take it literally.
pub fn for_spreadsheet(cell: String) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
