//! HL7 escape sequences (`\F\`, `\S\`, `\T\`, `\R\`, `\E\`, `\Xhh…\`, `\.br\`, `\H\`, `\N\`).

use std::borrow::Cow;

use crate::Delimiters;

/// Replace escape sequences in `raw` by the characters they stand for.
///
/// Unknown or unterminated sequences are kept verbatim: dropping them would lose data, and
/// the original bytes are kept elsewhere anyway. `\.br\` becomes a line feed; highlighting
/// (`\H\`, `\N\`) is dropped. `\Xhh…\` is decoded as UTF-8 when valid, kept verbatim otherwise.
pub fn unescape<'a>(raw: &'a str, d: &Delimiters) -> Cow<'a, str> {
    let esc = d.escape;
    if !raw.contains(esc) {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(start) = rest.find(esc) {
        out.push_str(&rest[..start]);
        let after = &rest[start + esc.len_utf8()..];
        match after.find(esc) {
            Some(end) => {
                let code = &after[..end];
                if !expand(code, d, &mut out) {
                    // Keep the whole unknown sequence, both escape characters included.
                    out.push(esc);
                    out.push_str(code);
                    out.push(esc);
                }
                rest = &after[end + esc.len_utf8()..];
            }
            None => {
                // Unterminated: keep as is.
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

fn expand(code: &str, d: &Delimiters, out: &mut String) -> bool {
    match code {
        "F" => out.push(d.field),
        "S" => out.push(d.component),
        "T" => out.push(d.subcomponent),
        "R" => out.push(d.repetition),
        "E" => out.push(d.escape),
        "H" | "N" => {}
        ".br" => out.push('\n'),
        _ => {
            if let Some(hex) = code.strip_prefix('X') {
                if hex.is_empty() || hex.len() % 2 != 0 {
                    return false;
                }
                let bytes: Option<Vec<u8>> = (0..hex.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
                    .collect();
                match bytes.and_then(|b| String::from_utf8(b).ok()) {
                    Some(s) => out.push_str(&s),
                    None => return false,
                }
            } else {
                return false;
            }
        }
    }
    true
}

/// Escape the delimiter characters in `text` so it can be placed inside a field.
///
/// Besides the five delimiters, the characters [`crate::Message::parse`] treats as structure
/// are escaped as `\Xhh\` (their UTF-8 bytes), so the value comes back unchanged from
/// [`unescape`]: the segment terminators CR and LF, and the MLLP framing characters VT (0x0B),
/// FS (0x1C) and BOM (U+FEFF) that are trimmed from segment ends.
pub fn escape<'a>(text: &'a str, d: &Delimiters) -> Cow<'a, str> {
    let special = |c: char| {
        c == d.field
            || c == d.component
            || c == d.subcomponent
            || c == d.repetition
            || c == d.escape
            || is_structural(c)
    };
    if !text.contains(special) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        let code = if c == d.escape {
            "E"
        } else if c == d.field {
            "F"
        } else if c == d.component {
            "S"
        } else if c == d.subcomponent {
            "T"
        } else if c == d.repetition {
            "R"
        } else if c == '\r' {
            "X0D"
        } else if c == '\n' {
            "X0A"
        } else if c == '\u{0B}' {
            "X0B"
        } else if c == '\u{1C}' {
            "X1C"
        } else if c == '\u{FEFF}' {
            "XEFBBBF"
        } else {
            out.push(c);
            continue;
        };
        out.push(d.escape);
        out.push_str(code);
        out.push(d.escape);
    }
    Cow::Owned(out)
}

/// Characters that end a segment (CR, LF) or are trimmed from its ends as framing (VT, FS, BOM).
fn is_structural(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{0B}' | '\u{1C}' | '\u{FEFF}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_sequences() {
        let d = Delimiters::default();
        assert_eq!(unescape(r"a\F\b\S\c\T\d\R\e\E\f", &d), "a|b^c&d~e\\f");
        assert_eq!(unescape(r"line1\.br\line2", &d), "line1\nline2");
        assert_eq!(unescape(r"\H\bold\N\", &d), "bold");
        assert_eq!(unescape(r"\X414243\", &d), "ABC");
        assert_eq!(unescape(r"keep \Z99\ as is", &d), r"keep \Z99\ as is");
        assert_eq!(unescape(r"trailing \F", &d), r"trailing \F");
    }

    #[test]
    fn escape_round_trip() {
        let d = Delimiters::default();
        let s = "a|b^c&d~e\\f";
        assert_eq!(unescape(&escape(s, &d), &d), s);
    }

    #[test]
    fn terminators_and_framing_are_escaped() {
        // Found by the property tests: an unescaped LF in a value split the segment, and a
        // trailing VT/FS/BOM was trimmed away as framing.
        let d = Delimiters::default();
        let s = "a\rb\nc\u{0B}d\u{1C}e\u{FEFF}";
        let e = escape(s, &d);
        assert_eq!(e, r"a\X0D\b\X0A\c\X0B\d\X1C\e\XEFBBBF\");
        assert_eq!(unescape(&e, &d), s);
        let text = format!("MSH|^~\\&\rNTE|1|{e}\r");
        let m = crate::Message::parse(text).unwrap();
        assert_eq!(m.segment_count(), 2);
        assert_eq!(m.segment("NTE").unwrap().value(2), s);
    }
}
