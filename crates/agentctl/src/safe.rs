//! Terminal safety: what a job writes in its log cannot drive the terminal of whoever
//! reads it.
//!
//! A log line or a table cell printed on a terminal goes through [`neutralize`]:
//! colour and style sequences (SGR, `ESC [ ... m`) pass, so coloured logs stay
//! coloured; every other control character (the rest of C0 but tab, DEL, C1, and the
//! Unicode bidirectional overrides) is shown escaped as text, e.g. `\x1b]0;title\x07`,
//! so it can neither clear the screen, move the cursor, set the window title nor
//! reorder what is shown. In a pipe nothing of this applies: lines stay byte for byte
//! as the agent sent them.

use std::borrow::Cow;

/// The longest parameter list an SGR sequence may have to pass (`38;2;255;255;255`
/// is 16 bytes); a longer one is shown escaped.
const MAX_SGR_PARAMS: usize = 64;

/// The SGR sequence that resets colours and styles.
const RESET: &str = "\x1b[0m";

/// True for a character [`neutralize`] shows escaped (outside an SGR sequence).
pub fn is_unsafe(c: char) -> bool {
    (c.is_control() && c != '\t') || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// The length in bytes of the SGR sequence at the start of `s` (`ESC [`, digits,
/// `;` or `:`, then `m`), if there is one.
fn sgr_len(s: &str) -> Option<usize> {
    let rest = s.strip_prefix("\x1b[")?;
    let params = rest
        .bytes()
        .take_while(|b| b.is_ascii_digit() || *b == b';' || *b == b':')
        .count();
    (params <= MAX_SGR_PARAMS && rest.as_bytes().get(params) == Some(&b'm')).then_some(params + 3)
}

/// `text` made safe for a terminal: SGR sequences pass (followed by a reset at the
/// end, so a colour never leaks into the next line), every other unsafe character
/// is written as `\xNN` (below U+0100) or `\u{NNNN}`. Text with nothing unsafe is
/// returned as it is, without copying.
///
/// ```text
/// assert_eq!(neutralize("\x1b[2Jgone"), "\\x1b[2Jgone");
/// assert_eq!(neutralize("\x1b[31mred"), "\x1b[31mred\x1b[0m");
/// ```
pub fn neutralize(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    let mut coloured = false;
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if let Some(n) = sgr_len(rest) {
            out.push_str(&rest[..n]);
            coloured = true;
            rest = &rest[n..];
            continue;
        }
        if is_unsafe(c) {
            escape_into(c, &mut out);
        } else {
            out.push(c);
        }
        rest = &rest[c.len_utf8()..];
    }
    if coloured {
        out.push_str(RESET);
    }
    Cow::Owned(out)
}

/// `text` with every unsafe character escaped, SGR included (for table cells, whose
/// width must be the width of their text); tab, CR and LF become spaces.
pub fn escape_all(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '\t' | '\r' | '\n' => out.push(' '),
            c if is_unsafe(c) => escape_into(c, &mut out),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

fn escape_into(c: char, out: &mut String) {
    use std::fmt::Write;
    let n = u32::from(c);
    let _ = if n < 0x100 {
        write!(out, "\\x{n:02x}")
    } else {
        write!(out, "\\u{{{n:04x}}}")
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn attacks_are_shown_and_colours_pass() {
        assert_eq!(neutralize("plain line\twith tab"), "plain line\twith tab");
        assert_eq!(neutralize("\x1b[2J\x1b[Hgone"), "\\x1b[2J\\x1b[Hgone");
        assert_eq!(
            neutralize("\x1b]0;pwned\x07title"),
            "\\x1b]0;pwned\\x07title"
        );
        assert_eq!(
            neutralize("\x1b[31mred\x1b[0m"),
            "\x1b[31mred\x1b[0m\x1b[0m"
        );
        assert_eq!(neutralize("a\rb\u{9b}2J"), "a\\x0db\\x9b2J");
        assert_eq!(neutralize("\u{202E}txt.exe"), "\\u{202e}txt.exe");
        assert_eq!(escape_all("x\ny\x1b[31m"), "x y\\x1b[31m");
    }

    /// Checks that `out` drives nothing but colours: every control character in it
    /// is the ESC of a well-formed SGR sequence.
    fn only_sgr(out: &str) -> Result<(), String> {
        let mut rest = out;
        while let Some(c) = rest.chars().next() {
            if let Some(n) = sgr_len(rest) {
                rest = &rest[n..];
                continue;
            }
            if is_unsafe(c) {
                return Err(format!("{c:?} in {out:?}"));
            }
            rest = &rest[c.len_utf8()..];
        }
        Ok(())
    }

    /// Text rich in escapes, SGR pieces, C0/C1 controls and bidi overrides.
    fn hostile() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            "[ -~]{0,8}",
            Just("\x1b".to_owned()),
            Just("\x1b[".to_owned()),
            "\x1b\\[[0-9;:]{0,6}[mHJK]?",
            "\x1b\\][0-9];[a-z]{0,4}\x07?",
            prop::char::range('\u{0}', '\u{1f}').prop_map(String::from),
            prop::char::range('\u{7f}', '\u{9f}').prop_map(String::from),
            prop::char::range('\u{2066}', '\u{2069}').prop_map(String::from),
            Just("\u{202E}".to_owned()),
            any::<String>(),
        ];
        prop::collection::vec(piece, 0..12).prop_map(|v| v.concat())
    }

    proptest! {
        #[test]
        fn nothing_but_sgr_reaches_the_terminal(text in hostile()) {
            let out = neutralize(&text);
            prop_assert!(only_sgr(&out).is_ok(), "{:?}", only_sgr(&out));
            let cell = escape_all(&text);
            prop_assert!(!cell.chars().any(is_unsafe), "{cell:?}");
        }

        #[test]
        fn safe_text_is_left_as_it_is(text in "[^\\p{Cc}\u{202A}-\u{202E}\u{2066}-\u{2069}]*") {
            let out = neutralize(&text);
            prop_assert!(matches!(out, Cow::Borrowed(_)));
            prop_assert_eq!(out.as_ref(), text.as_str());
        }

        #[test]
        fn visible_text_survives(text in hostile()) {
            // Every printable character of the input is still there, in order.
            let kept: String = text.chars().filter(|c| !is_unsafe(*c)).collect();
            let out = neutralize(&text);
            let mut it = out.chars();
            for c in kept.chars() {
                prop_assert!(it.any(|o| o == c), "{c:?} lost from {text:?}: {out:?}");
            }
        }
    }
}
