//! A fast ISO-2022-JP decoder for the shape SS-MIX2 files have: long ASCII runs copied in
//! bulk, JIS X 0208 runs mapped pair by pair through a table. It handles only well-formed
//! input and says `None` for anything unusual (unknown escape, a byte outside its set, two
//! escape sequences in a row, SO/SI); the caller then uses the strict WHATWG decoder of
//! encoding_rs, so behaviour on odd input is exactly the standard's. For well-formed input the
//! output is identical (property-tested against encoding_rs).

use std::sync::OnceLock;

const ESC: u8 = 0x1B;

/// JIS X 0208 row/cell (0x21..=0x7E each) → Unicode scalar value, 0 when unmapped. Built once
/// from encoding_rs itself, so both decoders agree by construction.
fn table() -> &'static [u32] {
    static TABLE: OnceLock<Vec<u32>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = vec![0u32; 94 * 94];
        for lead in 0..94u8 {
            for trail in 0..94u8 {
                let bytes = [ESC, b'$', b'B', 0x21 + lead, 0x21 + trail, ESC, b'(', b'B'];
                let (s, had_errors) = encoding_rs::ISO_2022_JP.decode_without_bom_handling(&bytes);
                if !had_errors {
                    let mut chars = s.chars();
                    if let (Some(c), None) = (chars.next(), chars.next()) {
                        t[lead as usize * 94 + trail as usize] = c as u32;
                    }
                }
            }
        }
        t
    })
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Ascii,
    Roman,
    Katakana,
    TwoByte,
}

/// Decode well-formed ISO-2022-JP; `None` means "not the simple case, use the strict decoder".
pub(crate) fn decode_fast(bytes: &[u8]) -> Option<String> {
    let table = table();
    let mut out = String::with_capacity(bytes.len() + bytes.len() / 2);
    let mut mode = Mode::Ascii;
    let mut i = 0;
    // WHATWG treats an escape sequence directly after another as an error.
    let mut just_escaped = false;
    while i < bytes.len() {
        if bytes[i] == ESC {
            if just_escaped {
                return None;
            }
            mode = match (bytes.get(i + 1), bytes.get(i + 2)) {
                (Some(b'('), Some(b'B')) => Mode::Ascii,
                (Some(b'('), Some(b'J')) => Mode::Roman,
                (Some(b'('), Some(b'I')) => Mode::Katakana,
                (Some(b'$'), Some(b'B' | b'@')) => Mode::TwoByte,
                _ => return None,
            };
            i += 3;
            just_escaped = true;
            continue;
        }
        let end = memchr::memchr(ESC, &bytes[i..]).map_or(bytes.len(), |p| i + p);
        let run = &bytes[i..end];
        if run.is_empty() {
            continue;
        }
        just_escaped = false;
        match mode {
            Mode::Ascii => {
                if !run.is_ascii() || run.iter().any(|&b| b == 0x0E || b == 0x0F) {
                    return None;
                }
                // ASCII bytes are valid UTF-8.
                out.push_str(std::str::from_utf8(run).ok()?);
            }
            Mode::Roman => {
                for &b in run {
                    match b {
                        0x5C => out.push('\u{A5}'),
                        0x7E => out.push('\u{203E}'),
                        0x0E | 0x0F => return None,
                        b if b < 0x80 => out.push(b as char),
                        _ => return None,
                    }
                }
            }
            Mode::Katakana => {
                for &b in run {
                    if !(0x21..=0x5F).contains(&b) {
                        return None;
                    }
                    out.push(char::from_u32(0xFF61 + (b - 0x21) as u32)?);
                }
            }
            Mode::TwoByte => {
                if !run.len().is_multiple_of(2) {
                    return None;
                }
                for pair in run.chunks_exact(2) {
                    let (lead, trail) = (pair[0], pair[1]);
                    if !(0x21..=0x7E).contains(&lead) || !(0x21..=0x7E).contains(&trail) {
                        return None;
                    }
                    let cp = table[(lead - 0x21) as usize * 94 + (trail - 0x21) as usize];
                    out.push(char::from_u32(cp).filter(|_| cp != 0)?);
                }
            }
        }
        i = end;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn strict(bytes: &[u8]) -> Option<String> {
        let (s, had_errors) = encoding_rs::ISO_2022_JP.decode_without_bom_handling(bytes);
        (!had_errors).then(|| s.into_owned())
    }

    #[test]
    fn every_mapped_jis_character_round_trips() {
        let t = table();
        let mapped = t.iter().filter(|&&c| c != 0).count();
        assert!(
            mapped > 6800,
            "JIS X 0208 has 6,879 characters; got {mapped}"
        );
        for (i, &cp) in t.iter().enumerate() {
            if cp == 0 {
                continue;
            }
            let bytes = [
                ESC,
                b'$',
                b'B',
                0x21 + (i / 94) as u8,
                0x21 + (i % 94) as u8,
                ESC,
                b'(',
                b'B',
            ];
            assert_eq!(decode_fast(&bytes), strict(&bytes));
        }
    }

    #[test]
    fn modes() {
        assert_eq!(decode_fast(b"A\x1b$BF~\x1b(BZ").as_deref(), Some("A入Z"));
        assert_eq!(
            decode_fast(b"\x1b(J\\~\x1b(B").as_deref(),
            Some("\u{A5}\u{203E}")
        );
        assert_eq!(decode_fast(b"\x1b(I1\x1b(B").as_deref(), Some("\u{FF71}"));
        // Anything unusual is left to the strict decoder.
        assert_eq!(decode_fast(b"\x1b$B\x1b(B"), None);
        assert_eq!(decode_fast(b"\x1b$BF"), None);
        assert_eq!(decode_fast(b"\x1b$X"), None);
        assert_eq!(decode_fast(b"\x0e"), None);
    }

    fn jis_text() -> impl Strategy<Value = String> {
        let pieces = prop::collection::vec(
            prop_oneof![
                "[ -~]{0,12}",
                "[ぁ-んァ-ヶ一-龠]{1,6}",
                Just("入ウ〜－¥".to_owned()),
                Just("\r".to_owned()),
            ],
            0..12,
        );
        pieces.prop_map(|p| p.concat())
    }

    proptest! {
        #[test]
        fn agrees_with_encoding_rs_on_encoded_text(text in jis_text()) {
            if let Ok(bytes) = crate::encode_iso2022jp(&text) {
                let fast = decode_fast(&bytes);
                prop_assert!(fast.is_some(), "well-formed input takes the fast path");
                prop_assert_eq!(fast, strict(&bytes));
            }
        }

        #[test]
        fn never_disagrees_on_arbitrary_bytes(bytes in prop::collection::vec(
            prop_oneof![Just(0x1Bu8), Just(b'$'), Just(b'('), Just(b'B'), Just(b'J'), Just(b'I'), 0x00u8..0x80], 0..40)) {
            // Either the fast path declines, or it says exactly what the standard decoder says.
            if let Some(fast) = decode_fast(&bytes) {
                prop_assert_eq!(Some(fast), strict(&bytes));
            }
        }
    }
}
