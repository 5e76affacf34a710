//! Property tests for the ER7 parser: build random messages, serialize them, encode them,
//! decode and parse them back, and check every value comes back exactly at its position.
//! Also: escape/unescape round trips, and "never panics" for arbitrary bytes, strings and indexes.

use hl7::{decode, encode_iso2022jp, escape, unescape, Delimiters, Message, TextEncoding};
use proptest::prelude::*;

/// JIS X 0208 characters, several of whose two ISO-2022-JP bytes equal an ER7 delimiter:
/// 入 0x467E (`~`), ウ 0x2526 / う 0x2426 (`&`), 移 0x305C / ぼ 0x245C / ボ 0x255C (`\`),
/// ま 0x245E / マ 0x255E / 急 0x355E (`^`), 淫 0x307C / 奥 0x317C / 期 0x347C (`|`),
/// 応 0x317E / 京 0x357E / 込 0x397E (`~`), 棕 0x5C23 (first byte `\`), 泛 0x5E22 (first byte `^`),
/// Α 0x2621 (first byte `&`), ０ 0x2330 (first byte `#`), and ordinary clinical words.
const JIS_CHARS: &[char] = &[
    '入', 'ウ', 'う', '移', 'ぼ', 'ボ', 'ま', 'マ', '急', '淫', '奥', '期', '応', '京', '込', '棕',
    '泛', 'Α', '０', '１', '患', '者', '太', '郎', '院', '検', '査', '薬', '日', '回', 'カ', 'ン',
    'ジ', 'ャ', 'ー', '・', '。', '、', '●', '◇', '±', '＋', '漢', '字', '髙', '﨑',
];

/// ASCII that matters to ER7: delimiters, the escape character, terminators, framing bytes,
/// quotes (null), and plain letters and digits.
const ASCII_CHARS: &[char] = &[
    '|', '^', '~', '\\', '&', '\r', '\n', '\u{0B}', '\u{1C}', '"', ' ', 'a', 'Z', '0', '9', '.',
    'X', 'E', 'F', 'S', 'T', 'R', 'H', 'N', '-', '/', '\t',
];

fn jis_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            3 => prop::sample::select(JIS_CHARS),
            3 => prop::sample::select(ASCII_CHARS),
            1 => (0x20u8..0x7F).prop_map(char::from),
            // Half-width yen and overline go through JIS-Roman (ESC ( J).
            1 => prop::sample::select(&['¥', '‾'][..]),
        ],
        0..8,
    )
    .prop_map(|v| v.into_iter().collect())
}

/// Arbitrary Unicode, biased towards ER7-significant characters. No ESC: a 7-bit text with an
/// ESC byte is (rightly) detected as ISO-2022-JP.
fn unicode_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            2 => prop::sample::select(ASCII_CHARS),
            2 => prop::sample::select(JIS_CHARS),
            2 => any::<char>().prop_filter("no ESC", |&c| c != '\u{1B}'),
            1 => Just('\u{FEFF}'),
        ],
        0..8,
    )
    .prop_map(|v| v.into_iter().collect())
}

/// A field as built by the test: not sent, the explicit null `""`, or repetitions of
/// components of sub-components.
#[derive(Debug, Clone)]
enum FieldSpec {
    Empty,
    Null,
    Reps(Vec<Vec<Vec<String>>>),
}

#[derive(Debug, Clone)]
struct SegmentSpec {
    name: String,
    fields: Vec<FieldSpec>,
}

fn segment_name() -> impl Strategy<Value = String> {
    "[A-Z][A-Z0-9]{2}".prop_filter("MSH numbers its fields differently", |n| n != "MSH")
}

fn field_spec(text: BoxedStrategy<String>) -> impl Strategy<Value = FieldSpec> {
    let subs = prop::collection::vec(text, 1..3);
    let comps = prop::collection::vec(subs, 1..4);
    let reps = prop::collection::vec(comps, 1..3);
    prop_oneof![
        1 => Just(FieldSpec::Empty),
        1 => Just(FieldSpec::Null),
        4 => reps.prop_map(FieldSpec::Reps),
    ]
}

fn message_spec(
    text: BoxedStrategy<String>,
) -> impl Strategy<Value = (Vec<FieldSpec>, Vec<SegmentSpec>)> {
    let msh_fields = prop::collection::vec(field_spec(text.clone()), 0..6);
    let segment = (
        segment_name(),
        prop::collection::vec(field_spec(text), 0..6),
    )
        .prop_map(|(name, fields)| SegmentSpec { name, fields });
    (msh_fields, prop::collection::vec(segment, 0..5))
}

fn field_to_er7(f: &FieldSpec, d: &Delimiters) -> String {
    match f {
        FieldSpec::Empty => String::new(),
        FieldSpec::Null => "\"\"".to_owned(),
        FieldSpec::Reps(reps) => reps
            .iter()
            .map(|comps| {
                comps
                    .iter()
                    .map(|subs| {
                        subs.iter()
                            .map(|s| escape(s, d).into_owned())
                            .collect::<Vec<_>>()
                            .join(&d.subcomponent.to_string())
                    })
                    .collect::<Vec<_>>()
                    .join(&d.component.to_string())
            })
            .collect::<Vec<_>>()
            .join(&d.repetition.to_string()),
    }
}

fn to_er7(msh_fields: &[FieldSpec], segments: &[SegmentSpec], terminator: &str) -> String {
    let d = Delimiters::default();
    let mut out = String::from("MSH|^~\\&");
    for f in msh_fields {
        out.push('|');
        out.push_str(&field_to_er7(f, &d));
    }
    for s in segments {
        out.push_str(terminator);
        out.push_str(&s.name);
        for f in &s.fields {
            out.push('|');
            out.push_str(&field_to_er7(f, &d));
        }
    }
    out.push_str(terminator);
    out
}

/// Check one field of a parsed segment against what was written.
fn check_field(field: hl7::Field<'_>, spec: &FieldSpec, at: &str) -> Result<(), TestCaseError> {
    match spec {
        FieldSpec::Empty => {
            prop_assert!(
                field.is_empty(),
                "{at}: expected empty, got {:?}",
                field.raw()
            );
            prop_assert!(!field.is_null(), "{at}");
            prop_assert_eq!(field.repetitions().count(), 0, "{}", at);
        }
        FieldSpec::Null => {
            prop_assert!(
                field.is_null(),
                "{at}: expected null, got {:?}",
                field.raw()
            );
            prop_assert!(!field.is_empty(), "{at}");
        }
        FieldSpec::Reps(reps) => {
            let all_empty = reps.iter().flatten().flatten().all(|s| s.is_empty());
            if all_empty && reps.len() == 1 && reps[0].len() == 1 && reps[0][0].len() == 1 {
                prop_assert!(field.is_empty(), "{at}");
            } else {
                prop_assert_eq!(field.repetitions().count(), reps.len(), "{}", at);
            }
            for (r, comps) in reps.iter().enumerate() {
                let rep = field.repetition(r + 1);
                prop_assert_eq!(
                    rep.components().count(),
                    comps.len(),
                    "{} rep {}",
                    at,
                    r + 1
                );
                for (c, subs) in comps.iter().enumerate() {
                    let comp = rep.component(c + 1);
                    for (s, want) in subs.iter().enumerate() {
                        let got = comp.subcomponent(s + 1);
                        prop_assert_eq!(
                            &*got,
                            want.as_str(),
                            "{} rep {} comp {} sub {}",
                            at,
                            r + 1,
                            c + 1,
                            s + 1
                        );
                    }
                    // Past the end: empty, never a panic.
                    prop_assert_eq!(&*comp.subcomponent(subs.len() + 1), "", "{}", at);
                    if subs.len() == 1 {
                        prop_assert_eq!(
                            &*comp.value(),
                            subs[0].as_str(),
                            "{} rep {} comp {}",
                            at,
                            r + 1,
                            c + 1
                        );
                    }
                }
                prop_assert!(rep.component(comps.len() + 1).is_empty(), "{}", at);
            }
            prop_assert!(field.repetition(reps.len() + 1).is_empty(), "{}", at);
        }
    }
    Ok(())
}

fn check_message(
    m: &Message,
    msh_fields: &[FieldSpec],
    segments: &[SegmentSpec],
) -> Result<(), TestCaseError> {
    prop_assert_eq!(m.segment_count(), segments.len() + 1);
    let msh = m.msh();
    prop_assert_eq!(msh.field(1).raw(), "|");
    prop_assert_eq!(msh.field(2).raw(), "^~\\&");
    prop_assert_eq!(msh.field_count(), msh_fields.len() + 2);
    for (i, f) in msh_fields.iter().enumerate() {
        check_field(msh.field(i + 3), f, &format!("MSH-{}", i + 3))?;
    }
    prop_assert!(msh.field(msh_fields.len() + 3).is_empty());
    for (seg, spec) in m.segments().skip(1).zip(segments) {
        prop_assert_eq!(seg.name(), spec.name.as_str());
        prop_assert_eq!(seg.field_count(), spec.fields.len());
        for (i, f) in spec.fields.iter().enumerate() {
            check_field(seg.field(i + 1), f, &format!("{}-{}", spec.name, i + 1))?;
        }
        prop_assert!(seg.field(spec.fields.len() + 1).is_empty());
    }
    Ok(())
}

const TERMINATORS: [&str; 3] = ["\r", "\n", "\r\n"];

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// (a) JIS X 0208 text through escape → ER7 → ISO-2022-JP → decode → parse.
    #[test]
    fn iso2022jp_message_round_trip(
        (msh_fields, segments) in message_spec(jis_text().boxed()),
        term in prop::sample::select(&TERMINATORS[..]),
    ) {
        let text = to_er7(&msh_fields, &segments, term);
        let bytes = encode_iso2022jp(&text).expect("JIS-representable text encodes");
        prop_assert!(bytes.iter().all(|&b| b < 0x80));
        let decoded = decode(&bytes).expect("own encoding decodes");
        prop_assert_eq!(&decoded.text, &text);
        prop_assert!(decoded.encoding.is_conforming());
        prop_assert!(!decoded.half_width_kana);
        let m = Message::parse(decoded.text).expect("own message parses");
        check_message(&m, &msh_fields, &segments)?;
    }

    /// (a) Arbitrary Unicode through escape → ER7 → UTF-8 bytes → decode → parse.
    #[test]
    fn unicode_message_round_trip(
        (msh_fields, segments) in message_spec(unicode_text().boxed()),
        term in prop::sample::select(&TERMINATORS[..]),
        framed in any::<bool>(),
    ) {
        let mut text = to_er7(&msh_fields, &segments, term);
        if framed {
            // MLLP framing around the message is ignored.
            text = format!("\u{0B}{text}\u{1C}\r");
        }
        let decoded = decode(text.as_bytes()).expect("UTF-8 decodes");
        prop_assert_eq!(&decoded.text, &text);
        prop_assert!(matches!(decoded.encoding, TextEncoding::Ascii | TextEncoding::Utf8));
        let m = Message::parse(decoded.text).expect("own message parses");
        check_message(&m, &msh_fields, &segments)?;
    }

    /// (b) Not sent vs explicit null `""` in any field position, with any terminator.
    #[test]
    fn empty_and_null_preserved(
        fields in prop::collection::vec(prop_oneof![Just(FieldSpec::Empty), Just(FieldSpec::Null)], 0..10),
        name in segment_name(),
        term in prop::sample::select(&TERMINATORS[..]),
    ) {
        let segments = vec![SegmentSpec { name, fields: fields.clone() }];
        let text = to_er7(&fields, &segments, term);
        let m = Message::parse(text).unwrap();
        check_message(&m, &fields, &segments)?;
    }

    /// (c) escape → unescape is the identity for any text, with the default delimiters.
    #[test]
    fn escape_unescape_round_trip(s in any::<String>(), t in unicode_text()) {
        let d = Delimiters::default();
        for s in [s, t] {
            let e = escape(&s, &d);
            prop_assert!(!e.contains(['|', '^', '~', '&', '\r', '\n']), "{:?}", e);
            let back = unescape(&e, &d);
            prop_assert_eq!(back.as_ref(), s.as_str());
        }
    }

    /// (c) … and with any other valid set of delimiters.
    #[test]
    fn escape_unescape_round_trip_other_delimiters(
        s in unicode_text(),
        delims in prop::sample::subsequence(vec!['|', '^', '~', '\\', '&', '#', '!', '$', '%', '*', '@'], 5).prop_shuffle(),
    ) {
        let d = Delimiters { field: delims[0], component: delims[1], repetition: delims[2], escape: delims[3], subcomponent: delims[4] };
        let e = escape(&s, &d);
        prop_assert!(!e.contains([d.field, d.component, d.repetition, d.subcomponent, '\r', '\n']));
        let back = unescape(&e, &d);
            prop_assert_eq!(back.as_ref(), s.as_str());
    }

    /// (c) unescape never panics on arbitrary input, whatever the delimiters.
    #[test]
    fn unescape_never_panics(s in "(\\\\|X|[0-9A-Fa-f]|.br|[FSTREHN]|.){0,40}") {
        let _ = unescape(&s, &Delimiters::default());
    }

    /// (d) decode never panics on arbitrary bytes.
    #[test]
    fn decode_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(d) = decode(&bytes) {
            if d.encoding == TextEncoding::Ascii || d.encoding == TextEncoding::Utf8 {
                prop_assert_eq!(d.text.as_bytes(), &bytes[..]);
            }
        }
    }

    /// (d) decode never panics on byte soup made of ISO-2022-JP escape sequences and JIS bytes.
    #[test]
    fn decode_never_panics_on_escape_soup(
        parts in prop::collection::vec(
            prop_oneof![
                prop::sample::select(vec![
                    &b"\x1b$B"[..], b"\x1b$@", b"\x1b(B", b"\x1b(J", b"\x1b(I", b"\x1b$(D", b"\x1b", b"\x1b$", b"\x1b(",
                    b"F~", b"%&", b"|^~\\&", b"\r", b"\n", b"\x0e", b"\x0f",
                ]).prop_map(|b| b.to_vec()),
                prop::collection::vec(any::<u8>(), 0..4),
            ],
            0..30,
        )
    ) {
        let bytes: Vec<u8> = parts.concat();
        let _ = decode(&bytes);
    }

    /// (d) ISO-2022-JP encode → decode is the identity for JIS-representable text.
    #[test]
    fn iso2022jp_identity(s in jis_text(), t in prop::collection::vec(prop::sample::select(JIS_CHARS), 0..50)) {
        let t: String = t.into_iter().collect();
        for s in [s, t] {
            let bytes = encode_iso2022jp(&s).unwrap();
            prop_assert!(bytes.iter().all(|&b| b < 0x80));
            if s.is_empty() {
                prop_assert!(bytes.is_empty());
                continue;
            }
            let d = decode(&bytes).unwrap();
            prop_assert_eq!(d.text, s);
        }
    }

    /// (d) Whatever encode accepts, decode gives back (no silent substitution).
    #[test]
    fn iso2022jp_accepted_text_comes_back(s in "\\PC{1,20}") {
        if let Ok(bytes) = encode_iso2022jp(&s) {
            let d = decode(&bytes).unwrap();
            prop_assert_eq!(d.text, s);
        }
    }

    /// (e) parse never panics on arbitrary strings, and no accessor panics at any index.
    #[test]
    fn parse_and_access_never_panic(
        text in prop_oneof![
            any::<String>(),
            "(MSH|PID|OBX|[|^~\\\\&\"]|\r|\n|\u{0B}|\u{1C}|\u{FEFF}|[a-z0-9]|入|ウ|\\PC){0,60}",
            "MSH(\\PC|[|^~\\\\&\r\n]){0,80}",
            // Valid header, then short segments, some of them named MSH, some bare.
            "MSH\\|\\^~\\\\&(\\|[a-z^~&]{0,3}){0,3}([\r\n](MSH|PID|NTE)(\\|[a-z^~&]{0,3}){0,3}){0,4}[\r\n]?",
        ],
        idx in prop::collection::vec(0usize..12, 4),
    ) {
        if let Ok(m) = Message::parse(text) {
            walk(&m, &idx);
        }
    }

    /// (e) parse never panics on mutated valid messages.
    #[test]
    fn parse_never_panics_on_mutations(
        (msh_fields, segments) in message_spec(unicode_text().boxed()),
        cut in any::<prop::sample::Index>(),
        insert in prop_oneof![
            Just(String::new()),
            "[|^~\\\\&\r\n\u{0B}\u{1C}\u{FEFF}]{1,3}",
            "MSH[|^~\\\\&#]{0,6}",
            // A later segment named MSH, possibly bare.
            "\r(MSH|PID)[|^~\\\\&#]{0,4}\r?",
        ],
        idx in prop::collection::vec(0usize..12, 4),
    ) {
        let text = to_er7(&msh_fields, &segments, "\r");
        let mut at = cut.index(text.len() + 1);
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        let mutated = format!("{}{}{}", &text[..at], insert, &text[at..]);
        if let Ok(m) = Message::parse(mutated) {
            walk(&m, &idx);
        }
        let truncated = &text[..at];
        if let Ok(m) = Message::parse(truncated) {
            walk(&m, &idx);
        }
    }
}

/// Call every accessor, at every existing position and at the given (possibly absurd) ones.
fn walk(m: &Message, idx: &[usize]) {
    let _ = m.message_type();
    let _ = m.text();
    let _ = m.delimiters();
    let _ = m.msh().field(idx[0]).value();
    let _ = m.segment("PID").map(|s| s.get(idx[0], idx[1]));
    for seg in m.segments() {
        let _ = seg.name();
        let n = seg.field_count();
        for f in 0..=n + 1 {
            let field = seg.field(f);
            let _ = (field.is_empty(), field.is_null(), field.value());
            for rep in field.repetitions() {
                for comp in rep.components() {
                    let _ = comp.value();
                    for s in 0..4 {
                        let _ = comp.subcomponent(s);
                    }
                }
            }
        }
        let field = seg.field(idx[0]);
        let rep = field.repetition(idx[1]);
        let comp = rep.component(idx[2]);
        let _ = (
            rep.value(),
            comp.value(),
            comp.subcomponent(idx[3]),
            field.component(idx[2]).value(),
        );
        let _ = (seg.get(idx[0], idx[1]), seg.value(idx[2]), seg.raw());
    }
}

/// (d) Exhaustive: every character `encode_iso2022jp` accepts decodes back to itself, with one
/// documented exception. U+2212 MINUS SIGN is written as JIS 0x215D (the JIS minus sign), which
/// the WHATWG/encoding_rs decoder reads as U+FF0D FULLWIDTH HYPHEN-MINUS (the Windows mapping).
/// Same bytes, same meaning; readers comparing text should treat the two as equal.
#[test]
fn every_encodable_char_decodes_to_itself() {
    let mut changed = Vec::new();
    for c in (0u32..0x3_0000).filter_map(char::from_u32) {
        let s = format!("a{c}");
        if let Ok(bytes) = encode_iso2022jp(&s) {
            match decode(&bytes) {
                Ok(d) if d.text == s => {}
                other => changed.push((c, other.map(|d| d.text))),
            }
        }
    }
    assert_eq!(changed, [('\u{2212}', Ok("a\u{FF0D}".to_owned()))]);
}
