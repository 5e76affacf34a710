//! Byte → text decoding. ISO-2022-JP is what SS-MIX2 requires; UTF-8 and Shift_JIS are what
//! some vendors write anyway. The detected encoding is always reported so the importer can
//! flag non-conforming facilities instead of silently accepting them.

use std::fmt;

/// The character encoding a message was found to be in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TextEncoding {
    /// Only 7-bit bytes and no escape sequences: valid as every other choice.
    Ascii,
    /// ISO-2022-JP (JIS X 0208 via `ESC $ B` / `ESC $ @`, `ESC ( B` / `ESC ( J`, and the
    /// forbidden-but-seen half-width katakana `ESC ( I`). The SS-MIX2 standard encoding.
    Iso2022Jp,
    /// UTF-8 (not allowed by SS-MIX2, written by some vendors).
    Utf8,
    /// Shift_JIS / Windows-31J (not allowed by SS-MIX2, written by some vendors).
    ShiftJis,
    /// EUC-JP (not allowed by SS-MIX2; detected so it is never misread as Shift_JIS).
    EucJp,
}

impl TextEncoding {
    pub fn as_str(self) -> &'static str {
        match self {
            TextEncoding::Ascii => "ASCII",
            TextEncoding::Iso2022Jp => "ISO-2022-JP",
            TextEncoding::Utf8 => "UTF-8",
            TextEncoding::ShiftJis => "Shift_JIS",
            TextEncoding::EucJp => "EUC-JP",
        }
    }

    /// True for the encodings SS-MIX2 allows (ISO-2022-JP, of which ASCII is a subset).
    pub fn is_conforming(self) -> bool {
        matches!(self, TextEncoding::Ascii | TextEncoding::Iso2022Jp)
    }
}

impl fmt::Display for TextEncoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A decoded message text and what was learned while decoding it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    pub text: String,
    pub encoding: TextEncoding,
    /// The ISO-2022-JP text switched to half-width katakana (`ESC ( I`), forbidden by SS-MIX2.
    /// The characters are kept (decoded to U+FF61..U+FF9F); callers should report it.
    pub half_width_kana: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("empty file")]
    Empty,
    #[error("invalid ISO-2022-JP byte sequence near byte offset {offset}")]
    InvalidIso2022Jp { offset: usize },
    #[error("ISO-2022-JP text ends inside a JIS X 0208 run (no ESC ( B before the end): the file is truncated")]
    UnterminatedIso2022Jp,
    #[error("bytes are neither ISO-2022-JP, UTF-8 nor Shift_JIS (first undecodable byte at offset {offset}: 0x{byte:02X})")]
    UnknownEncoding { offset: usize, byte: u8 },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("character {ch:?} (U+{code:04X}) cannot be written in ISO-2022-JP")]
    Unmappable { ch: char, code: u32 },
}

const ESC: u8 = 0x1B;

/// Detect the encoding of `bytes` and decode them to UTF-8.
///
/// Detection order: any ESC byte → ISO-2022-JP (strict: malformed sequences are an error, never
/// replaced); all bytes < 0x80 → ASCII; valid UTF-8 → UTF-8; valid Shift_JIS → Shift_JIS.
pub fn decode(bytes: &[u8]) -> Result<Decoded, DecodeError> {
    if bytes.is_empty() {
        return Err(DecodeError::Empty);
    }
    let all_7bit = bytes.is_ascii();
    let shifts = scan_shifts(bytes);
    if shifts.any && all_7bit {
        return decode_iso2022jp(bytes, &shifts);
    }
    if all_7bit {
        // Safe: 7-bit bytes are valid UTF-8.
        let text = String::from_utf8(bytes.to_vec()).map_err(|e| DecodeError::UnknownEncoding {
            offset: e.utf8_error().valid_up_to(),
            byte: bytes[e.utf8_error().valid_up_to()],
        })?;
        return Ok(Decoded {
            text,
            encoding: TextEncoding::Ascii,
            half_width_kana: false,
        });
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Ok(Decoded {
            text: text.to_owned(),
            encoding: TextEncoding::Utf8,
            half_width_kana: false,
        });
    }
    let is_half_width = |c: char| ('\u{FF61}'..='\u{FF9F}').contains(&c);
    let (sjis, sjis_errors) = encoding_rs::SHIFT_JIS.decode_without_bom_handling(bytes);
    let (euc, euc_errors) = encoding_rs::EUC_JP.decode_without_bom_handling(bytes);
    let sjis_kana = !sjis_errors && sjis.contains(is_half_width);
    // EUC-JP kanji bytes are also valid Shift_JIS, where they read as half-width katakana:
    // decoding such a file as Shift_JIS would silently mangle every name. Half-width
    // katakana in the Shift_JIS reading and a clean EUC-JP reading without them means EUC-JP.
    if !euc_errors && (sjis_errors || sjis_kana) && !euc.contains(is_half_width) {
        return Ok(Decoded {
            text: euc.into_owned(),
            encoding: TextEncoding::EucJp,
            half_width_kana: false,
        });
    }
    if !sjis_errors {
        return Ok(Decoded {
            text: sjis.into_owned(),
            encoding: TextEncoding::ShiftJis,
            half_width_kana: sjis_kana,
        });
    }
    let offset = first_bad_offset(bytes);
    Err(DecodeError::UnknownEncoding {
        offset,
        byte: bytes.get(offset).copied().unwrap_or(0),
    })
}

/// Offset of the first byte that is not valid UTF-8 (a useful pointer for the operator when
/// nothing matched).
fn first_bad_offset(bytes: &[u8]) -> usize {
    match std::str::from_utf8(bytes) {
        Ok(_) => 0,
        Err(e) => e.valid_up_to(),
    }
}

/// What the escape sequences of a text say, found in one pass.
struct Shifts {
    /// Any ESC byte at all.
    any: bool,
    /// `ESC ( I` (half-width katakana) appears.
    half_width_kana: bool,
    /// The last shift is into a two-byte set (`ESC $ …`).
    ends_in_two_byte: bool,
}

fn scan_shifts(bytes: &[u8]) -> Shifts {
    let mut s = Shifts {
        any: false,
        half_width_kana: false,
        ends_in_two_byte: false,
    };
    let mut rest = bytes;
    while let Some(i) = rest.iter().position(|&b| b == ESC) {
        s.any = true;
        match (rest.get(i + 1), rest.get(i + 2)) {
            (Some(b'$'), _) => s.ends_in_two_byte = true,
            (Some(b'('), next) => {
                s.ends_in_two_byte = false;
                s.half_width_kana |= next == Some(&b'I');
            }
            _ => {}
        }
        rest = &rest[i + 1..];
    }
    s
}

fn decode_iso2022jp(bytes: &[u8], shifts: &Shifts) -> Result<Decoded, DecodeError> {
    // Producers always switch back to ASCII before the segment terminator; text that ends in
    // a two-byte run was cut off mid-message.
    if shifts.ends_in_two_byte {
        return Err(DecodeError::UnterminatedIso2022Jp);
    }
    if let Some(text) = crate::jis::decode_fast(bytes) {
        return Ok(Decoded {
            text,
            encoding: TextEncoding::Iso2022Jp,
            half_width_kana: shifts.half_width_kana,
        });
    }
    // encoding_rs implements the WHATWG decoder, which accepts ESC $ @, ESC $ B, ESC ( B,
    // ESC ( J and ESC ( I — exactly the set SS-MIX2 producers emit — and pinpoints errors.
    let mut decoder = encoding_rs::ISO_2022_JP.new_decoder_without_bom_handling();
    let cap = decoder
        .max_utf8_buffer_length_without_replacement(bytes.len())
        .unwrap_or(bytes.len() * 3);
    let mut text = String::with_capacity(cap);
    let (result, read) = decoder.decode_to_string_without_replacement(bytes, &mut text, true);
    match result {
        encoding_rs::DecoderResult::InputEmpty => {}
        encoding_rs::DecoderResult::Malformed(_, _) => {
            return Err(DecodeError::InvalidIso2022Jp {
                offset: read.saturating_sub(1),
            });
        }
        encoding_rs::DecoderResult::OutputFull => {
            return Err(DecodeError::InvalidIso2022Jp { offset: read });
        }
    }
    let half_width_kana = shifts.half_width_kana;
    Ok(Decoded {
        text,
        encoding: TextEncoding::Iso2022Jp,
        half_width_kana,
    })
}

/// Encode UTF-8 text as ISO-2022-JP (JIS X 0208 with `ESC $ B`, back to ASCII with `ESC ( B`).
///
/// Refuses characters that ISO-2022-JP cannot carry instead of writing `?`. Half-width katakana
/// are refused too: SS-MIX2 forbids them, and silently widening them would change the data.
pub fn encode_iso2022jp(text: &str) -> Result<Vec<u8>, EncodeError> {
    if let Some(ch) = text.chars().find(|c| ('\u{FF61}'..='\u{FF9F}').contains(c)) {
        return Err(EncodeError::Unmappable {
            ch,
            code: ch as u32,
        });
    }
    let mut encoder = encoding_rs::ISO_2022_JP.new_encoder();
    let mut out = Vec::with_capacity(text.len() + 16);
    let mut rest = text;
    loop {
        // The encoder writes only into spare capacity and reports OutputFull: grow and go on.
        let (result, read) =
            encoder.encode_from_utf8_to_vec_without_replacement(rest, &mut out, true);
        rest = &rest[read..];
        match result {
            encoding_rs::EncoderResult::InputEmpty => return Ok(out),
            encoding_rs::EncoderResult::OutputFull => out.reserve(out.capacity().max(64)),
            encoding_rs::EncoderResult::Unmappable(ch) => {
                return Err(EncodeError::Unmappable {
                    ch,
                    code: ch as u32,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso2022jp_round_trip_with_delimiter_bytes() {
        // 入 encodes as 0x46 0x7E: a naive split on '~' would break it.
        let text = "PID|||123^^^^PI||入院^太郎^^^^^L^I~ニュウイン^タロウ^^^^^L^P";
        let bytes = encode_iso2022jp(text).unwrap();
        assert!(bytes.contains(&0x1B));
        let decoded = decode(&bytes).unwrap();
        assert_eq!(decoded.encoding, TextEncoding::Iso2022Jp);
        assert_eq!(decoded.text, text);
    }

    #[test]
    fn esc_dollar_at_and_roman() {
        // ESC $ @ (JIS C 6226-1978) and ESC ( J (JIS-Roman) are both accepted.
        let bytes = b"A\x1b$@F~\x1b(JB";
        let decoded = decode(bytes).unwrap();
        assert_eq!(decoded.text, "A入B");
    }

    #[test]
    fn truncated_in_kanji_run() {
        let full = encode_iso2022jp("PID|||1||患者^太郎\r").unwrap();
        let cut = &full[..full.len() - 6];
        assert_eq!(decode(cut), Err(DecodeError::UnterminatedIso2022Jp));
    }

    #[test]
    fn half_width_kana_reported() {
        let bytes = b"X\x1b(I1\x1b(BY"; // 0x31 in the katakana set is U+FF71 ｱ
        let decoded = decode(bytes).unwrap();
        assert!(decoded.half_width_kana);
        assert_eq!(decoded.text, "X\u{FF71}Y");
    }

    #[test]
    fn utf8_and_shift_jis_detected() {
        let d = decode("患者".as_bytes()).unwrap();
        assert_eq!(d.encoding, TextEncoding::Utf8);
        let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode("患者テスト");
        let d = decode(&sjis).unwrap();
        assert_eq!(d.encoding, TextEncoding::ShiftJis);
        assert_eq!(d.text, "患者テスト");
    }

    #[test]
    fn euc_jp_is_not_misread_as_shift_jis() {
        let (euc, _, _) = encoding_rs::EUC_JP.encode("PID|||1||患者^太郎~カンジャ^タロウ");
        let d = decode(&euc).unwrap();
        assert_eq!(d.encoding, TextEncoding::EucJp);
        assert_eq!(d.text, "PID|||1||患者^太郎~カンジャ^タロウ");
        // Shift_JIS with legacy half-width kana stays Shift_JIS, and says so.
        let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode("PID|||1||患者^太郎~ｶﾝｼﾞｬ^ﾀﾛｳ");
        let d = decode(&sjis).unwrap();
        assert_eq!(d.encoding, TextEncoding::ShiftJis);
        assert!(d.half_width_kana);
        assert_eq!(d.text, "PID|||1||患者^太郎~ｶﾝｼﾞｬ^ﾀﾛｳ");
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(matches!(
            decode(&[0xFF, 0xFF, 0xFF]),
            Err(DecodeError::UnknownEncoding { .. })
        ));
        assert!(matches!(decode(b""), Err(DecodeError::Empty)));
        // An escape into JIS X 0208 followed by an odd trailing byte is malformed.
        assert!(decode(b"\x1b$B\x21").is_err());
    }

    #[test]
    fn long_mixed_text_encodes() {
        let text = "患者A".repeat(5000);
        assert_eq!(
            decode(&encode_iso2022jp(&text).unwrap()).unwrap().text,
            text
        );
    }

    #[test]
    fn encoder_refuses_what_jis_cannot_carry() {
        assert!(encode_iso2022jp("😀").is_err());
        assert!(encode_iso2022jp("ｱ").is_err());
    }
}
