//! Making untrusted callback text inert before it reaches a terminal or a spreadsheet.
//!
//! Every string in a callback (stream names, uris, push_args, headers) comes from the internet.
//! Views call [`terminal`] once, where the text enters the view model; exports call
//! [`csv_cell`] for every text cell.

use std::borrow::Cow;
use std::fmt::Write;

/// True for characters that must never reach a terminal raw: C0 controls (including ESC,
/// CR, LF, TAB), DEL, C1 controls, bidi embeddings/overrides/isolates and marks, zero-width
/// characters, line/paragraph separators and the BOM.
pub fn is_unsafe_char(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}'
        | '\u{061c}'
        | '\u{200b}'..='\u{200f}'
        | '\u{2028}'..='\u{202e}'
        | '\u{2060}'..='\u{2069}'
        | '\u{feff}'
        | '\u{fff9}'..='\u{fffb}')
}

/// Terminal-safe text: unsafe characters become visible escapes (`\x1b`, `\u{202e}`), and the
/// result is cut to at most `max_chars` characters with an ellipsis.
pub fn terminal(s: &str, max_chars: usize) -> Cow<'_, str> {
    // Printable ASCII is safe: checked a byte at a time, without decoding characters.
    if s.len() <= max_chars && printable_ascii(s.as_bytes()) {
        return Cow::Borrowed(s);
    }
    if !s.chars().any(is_unsafe_char) && (s.len() <= max_chars || s.chars().count() <= max_chars) {
        return Cow::Borrowed(s);
    }
    // Escape, stopping once we know the text will be cut: bounded work for a 1 MB field.
    let mut out = String::with_capacity(s.len().min(max_chars.saturating_mul(4)) + 8);
    let mut count = 0usize;
    for c in s.chars() {
        if count > max_chars {
            break;
        }
        if is_unsafe_char(c) {
            let before = out.len();
            if (c as u32) < 0x100 {
                let _ = write!(out, "\\x{:02x}", c as u32);
            } else {
                let _ = write!(out, "\\u{{{:04x}}}", c as u32);
            }
            count += out.len() - before; // escapes are ASCII
        } else {
            out.push(c);
            count += 1;
        }
    }
    if count > max_chars {
        let keep = max_chars.saturating_sub(1);
        let cut = out.char_indices().nth(keep).map_or(out.len(), |(i, _)| i);
        out.truncate(cut);
        out.push('…');
    }
    Cow::Owned(out)
}

/// Whether every byte is printable ASCII; 16 bytes at a time without an early exit inside a
/// block, so that the compiler vectorizes it.
fn printable_ascii(bytes: &[u8]) -> bool {
    let printable = |ok: bool, &b: &u8| ok & (0x20..0x7f).contains(&b);
    let mut blocks = bytes.chunks_exact(16);
    for block in &mut blocks {
        if !block.iter().fold(true, printable) {
            return false;
        }
    }
    blocks.remainder().iter().fold(true, printable)
}

/// A CSV text cell that no spreadsheet will run as a formula: unsafe characters are escaped as
/// for the terminal, and a cell starting with `=`, `+`, `-`, `@`, tab or CR gets a leading `'`.
/// Only for text columns: numeric columns are written as numbers and never pass through here.
pub fn csv_cell(s: &str) -> Cow<'_, str> {
    let risky = matches!(s.chars().next(), Some('=' | '+' | '-' | '@' | '\t' | '\r'));
    let escaped = terminal(s, usize::MAX);
    if risky {
        Cow::Owned(format!("'{escaped}"))
    } else {
        escaped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_unsafe_character_is_caught_wherever_it_is() {
        let chars = (0u32..0x100)
            .chain([0x61c, 0x200b, 0x202e, 0x2069, 0xfeff, 0xfffb, 0xe9, 0x1f600])
            .filter_map(char::from_u32);
        for c in chars {
            for at in [0, 1, 15, 16, 17, 31, 32, 40] {
                let s: String = (0..41).map(|i| if i == at { c } else { 'a' }).collect();
                let borrowed = matches!(terminal(&s, usize::MAX), Cow::Borrowed(_));
                assert_eq!(borrowed, !is_unsafe_char(c), "{c:?} at {at}");
            }
        }
    }

    #[test]
    fn plain_text_is_borrowed() {
        assert!(matches!(terminal("liveStream-01", 64), Cow::Borrowed(_)));
    }

    #[test]
    fn escapes_become_visible() {
        assert_eq!(terminal("a\x1b[31mb", 64), "a\\x1b[31mb");
        assert_eq!(terminal("x\u{9b}y", 64), "x\\x9by");
        assert_eq!(terminal("evil\u{202e}txt.exe", 64), "evil\\u{202e}txt.exe");
        assert_eq!(terminal("z\u{200b}w", 64), "z\\u{200b}w");
        assert_eq!(terminal("a\nb\tc\r", 64), "a\\x0ab\\x09c\\x0d");
        assert_eq!(
            terminal("\u{2066}\u{2069}\u{feff}", 64),
            "\\u{2066}\\u{2069}\\u{feff}"
        );
    }

    #[test]
    fn long_text_is_cut_with_ellipsis() {
        assert_eq!(terminal("abcdefghij", 5), "abcd…");
        assert_eq!(terminal("abcde", 5), "abcde");
        assert_eq!(terminal("中文中文中文", 3), "中文…");
        let cut = terminal("\x1b\x1b\x1b\x1b", 6);
        assert!(cut.chars().count() <= 6, "{cut}");
        assert!(!cut.contains('\x1b'));
    }

    #[test]
    fn csv_formulas_are_inert() {
        for bad in ["=1+1", "+cmd", "-2+3", "@SUM(A1)", "\t=x", "\r=x"] {
            let c = csv_cell(bad);
            assert!(c.starts_with('\''), "{bad:?} -> {c:?}");
            assert!(!c.contains(['\t', '\r']));
        }
        assert_eq!(csv_cell("value1"), "value1");
        assert_eq!(csv_cell("a=b"), "a=b");
    }
}
