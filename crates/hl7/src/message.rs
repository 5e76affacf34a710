//! ER7 message structure with lazy, zero-copy access.

use std::borrow::Cow;

use crate::escape::unescape;

/// The five separators a message declares in MSH-1 and MSH-2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delimiters {
    pub field: char,
    pub component: char,
    pub repetition: char,
    pub escape: char,
    pub subcomponent: char,
}

impl Default for Delimiters {
    fn default() -> Self {
        Delimiters {
            field: '|',
            component: '^',
            repetition: '~',
            escape: '\\',
            subcomponent: '&',
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("not an HL7 message: text does not start with an MSH segment")]
    NoMsh,
    #[error("MSH segment too short to declare delimiters")]
    ShortMsh,
    #[error("MSH declares invalid delimiters {0:?} (they must be five distinct, non-alphanumeric characters)")]
    BadDelimiters(String),
    #[error("segment {line}: invalid segment name {name:?}")]
    BadSegmentName { line: usize, name: String },
}

/// A parsed message. Owns its (decoded) text; segments are spans into it, and the field
/// separators of every segment are found once at parse time so that field access is O(1)
/// (typed records read dozens of fields per message).
#[derive(Debug, Clone)]
pub struct Message {
    text: String,
    delimiters: Delimiters,
    spans: Vec<Span>,
    /// Offsets of every field separator, relative to its segment's start; each span owns a
    /// range of this vector.
    seps: Vec<u32>,
}

#[derive(Debug, Clone, Copy)]
struct Span {
    start: u32,
    end: u32,
    name: [u8; 3],
    seps_from: u32,
    seps_to: u32,
}

impl Message {
    /// Parse decoded text. Segment terminators may be CR, LF or CRLF; MLLP framing bytes
    /// (0x0B, 0x1C) and a UTF-8 BOM are ignored; empty lines are skipped.
    pub fn parse(text: impl Into<String>) -> Result<Message, ParseError> {
        let text: String = text.into();
        let start = leading_noise(&text);
        let body = &text[start..];
        if !body.starts_with("MSH") {
            return Err(ParseError::NoMsh);
        }
        let delimiters = parse_delimiters(body)?;
        let mut spans = Vec::with_capacity(16);
        let mut seps: Vec<u32> = Vec::with_capacity(256);
        let bytes = text.as_bytes();
        let mut line = 0usize;
        let mut seg_begin = start;
        let mut seg_seps = 0usize;
        // One pass over the text: segment terminators and (for the usual ASCII separator)
        // field separators found together with SIMD search.
        let mut finish = |seg_begin: usize, end: usize, seg_seps: usize, seps: &mut Vec<u32>| {
            line += 1;
            let raw = &text[seg_begin..end];
            let seg = trim_framing(raw);
            if seg.is_empty() {
                seps.truncate(seg_seps);
                return Ok(());
            }
            let lead = (raw.len() - raw.trim_start_matches(is_framing).len()) as u32;
            let name = seg.get(..3).unwrap_or(seg);
            let valid = name.len() == 3
                && name
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
                && seg[3..]
                    .chars()
                    .next()
                    .is_none_or(|c| c == delimiters.field);
            if !valid {
                let shown: String = seg.chars().take(8).collect();
                return Err(ParseError::BadSegmentName { line, name: shown });
            }
            if !delimiters.field.is_ascii() {
                seps.extend(seg.match_indices(delimiters.field).map(|(i, _)| i as u32));
            } else if lead > 0 {
                // Framing bytes are never separators: only shift the offsets.
                seps[seg_seps..].iter_mut().for_each(|p| *p -= lead);
            }
            let b = seg.as_bytes();
            let seg_start = seg_begin + lead as usize;
            spans.push(Span {
                start: seg_start as u32,
                end: (seg_start + seg.len()) as u32,
                name: [b[0], b[1], b[2]],
                seps_from: seg_seps as u32,
                seps_to: seps.len() as u32,
            });
            Ok(())
        };
        let field = delimiters
            .field
            .is_ascii()
            .then_some(delimiters.field as u8);
        // Without an ASCII field separator, search CR and LF only (CR twice is harmless).
        let needle = field.unwrap_or(b'\r');
        for i in memchr::memchr3_iter(b'\r', b'\n', needle, &bytes[start..]) {
            let i = start + i;
            if Some(bytes[i]) == field {
                seps.push((i - seg_begin) as u32);
            } else {
                finish(seg_begin, i, seg_seps, &mut seps)?;
                seg_begin = i + 1;
                seg_seps = seps.len();
            }
        }
        if seg_begin < bytes.len() {
            finish(seg_begin, bytes.len(), seg_seps, &mut seps)?;
        }
        Ok(Message {
            text,
            delimiters,
            spans,
            seps,
        })
    }

    fn view(&self, span: &Span) -> Segment<'_> {
        Segment {
            raw: &self.text[span.start as usize..span.end as usize],
            d: &self.delimiters,
            seps: &self.seps[span.seps_from as usize..span.seps_to as usize],
        }
    }

    /// Decode bytes (see [`crate::decode`]) and parse them.
    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn delimiters(&self) -> &Delimiters {
        &self.delimiters
    }

    /// All segments in order.
    pub fn segments(&self) -> impl Iterator<Item = Segment<'_>> + '_ {
        self.spans.iter().map(move |span| self.view(span))
    }

    pub fn segment_count(&self) -> usize {
        self.spans.len()
    }

    /// Segments with the given name, in order.
    pub fn segments_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = Segment<'a>> + 'a {
        let key = name.as_bytes();
        self.spans
            .iter()
            .filter(move |span| span.name[..] == *key)
            .map(move |span| self.view(span))
    }

    /// The first segment with this name.
    pub fn segment(&self, name: &str) -> Option<Segment<'_>> {
        let key = name.as_bytes();
        self.spans
            .iter()
            .find(|span| span.name[..] == *key)
            .map(|span| self.view(span))
    }

    /// The MSH segment (always present after a successful parse).
    pub fn msh(&self) -> Segment<'_> {
        self.view(&self.spans[0])
    }

    /// MSH-9 as `TYPE^EVENT` (e.g. `OUL^R22`), or just `TYPE` when no event is given.
    pub fn message_type(&self) -> String {
        let f = self.msh().field(9);
        let r = f.first();
        let (t, e) = (r.component(1).raw(), r.component(2).raw());
        if e.is_empty() {
            t.to_owned()
        } else {
            format!("{t}^{e}")
        }
    }
}

fn is_framing(c: char) -> bool {
    c == '\u{0B}' || c == '\u{1C}' || c == '\u{FEFF}'
}

fn leading_noise(text: &str) -> usize {
    text.len()
        - text
            .trim_start_matches(|c: char| is_framing(c) || c == '\r' || c == '\n')
            .len()
}

fn trim_framing(s: &str) -> &str {
    s.trim_matches(is_framing)
}

fn parse_delimiters(body: &str) -> Result<Delimiters, ParseError> {
    let mut chars = body[3..].chars();
    let field = chars.next().ok_or(ParseError::ShortMsh)?;
    let enc: String = chars
        .take_while(|&c| c != field && c != '\r' && c != '\n')
        .collect();
    let e: Vec<char> = enc.chars().collect();
    if e.len() < 2 {
        return Err(ParseError::ShortMsh);
    }
    let defaults = Delimiters::default();
    let d = Delimiters {
        field,
        component: e[0],
        repetition: e[1],
        escape: e.get(2).copied().unwrap_or(defaults.escape),
        subcomponent: e.get(3).copied().unwrap_or(defaults.subcomponent),
    };
    let all = [d.field, d.component, d.repetition, d.escape, d.subcomponent];
    let distinct = all
        .iter()
        .enumerate()
        .all(|(i, a)| all[i + 1..].iter().all(|b| a != b));
    if !distinct || all.iter().any(|c| c.is_alphanumeric() || c.is_whitespace()) || e.len() > 4 {
        return Err(ParseError::BadDelimiters(format!("{field}{enc}")));
    }
    Ok(d)
}

/// One segment.
#[derive(Debug, Clone, Copy)]
pub struct Segment<'a> {
    raw: &'a str,
    d: &'a Delimiters,
    /// Offsets of the field separators within `raw`.
    seps: &'a [u32],
}

impl<'a> Segment<'a> {
    pub fn name(&self) -> &'a str {
        self.raw.get(..3).unwrap_or(self.raw)
    }

    pub fn raw(&self) -> &'a str {
        self.raw
    }

    fn is_msh(&self) -> bool {
        self.name() == "MSH"
    }

    /// Field `n` (1-based, HL7 numbering). Missing fields are empty.
    pub fn field(&self, n: usize) -> Field<'a> {
        let empty = Field {
            raw: "",
            d: self.d,
            opaque: false,
        };
        if n == 0 {
            return Field {
                raw: self.name(),
                d: self.d,
                opaque: true,
            };
        }
        let sep_len = self.d.field.len_utf8();
        // The text between separator i and separator i+1 (or the end).
        let between = |i: usize| -> Option<&'a str> {
            let from = *self.seps.get(i)? as usize + sep_len;
            let to = self.seps.get(i + 1).map_or(self.raw.len(), |&e| e as usize);
            self.raw.get(from..to)
        };
        if self.is_msh() {
            // MSH-1 is the separator itself, so MSH-n is the (n-1)th field after the name.
            // A later segment named MSH may be just "MSH", with no separator at all.
            if n == 1 {
                return match self.seps.first() {
                    Some(&p) => Field {
                        raw: &self.raw[p as usize..p as usize + sep_len],
                        d: self.d,
                        opaque: true,
                    },
                    None => empty,
                };
            }
            return match between(n - 2) {
                Some(r) => Field {
                    raw: r,
                    d: self.d,
                    opaque: n == 2,
                },
                None => empty,
            };
        }
        match between(n - 1) {
            Some(r) => Field {
                raw: r,
                d: self.d,
                opaque: false,
            },
            None => empty,
        }
    }

    /// Number of fields after the segment name (MSH counts MSH-1).
    pub fn field_count(&self) -> usize {
        let n = self.seps.len();
        if self.is_msh() && n > 0 {
            n + 1
        } else {
            n
        }
    }

    /// Shortcut: unescaped component `c` of the first repetition of field `n`.
    pub fn get(&self, n: usize, c: usize) -> Cow<'a, str> {
        self.field(n).first().component(c).value()
    }

    /// Shortcut: unescaped first component of field `n`.
    pub fn value(&self, n: usize) -> Cow<'a, str> {
        self.field(n).value()
    }
}

/// One field: possibly several repetitions.
#[derive(Debug, Clone, Copy)]
pub struct Field<'a> {
    raw: &'a str,
    d: &'a Delimiters,
    /// MSH-1 and MSH-2 hold delimiter characters and must not be split.
    opaque: bool,
}

impl<'a> Field<'a> {
    pub fn raw(&self) -> &'a str {
        self.raw
    }

    /// Not sent at all (empty). Different from [`Field::is_null`].
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// The HL7 explicit null `""`: "delete the value the receiver has".
    pub fn is_null(&self) -> bool {
        self.raw == "\"\""
    }

    pub fn repetitions(&self) -> impl Iterator<Item = Repetition<'a>> + 'a {
        let d = self.d;
        let opaque = self.opaque;
        let raw = self.raw;
        let mut iter: Box<dyn Iterator<Item = &'a str>> = if opaque || raw.is_empty() {
            Box::new(std::iter::once(raw).filter(|r| !r.is_empty()))
        } else {
            Box::new(raw.split(d.repetition))
        };
        std::iter::from_fn(move || iter.next()).map(move |r| Repetition { raw: r, d, opaque })
    }

    /// Repetition `n` (1-based); empty when absent.
    pub fn repetition(&self, n: usize) -> Repetition<'a> {
        if self.opaque {
            return Repetition {
                raw: if n == 1 { self.raw } else { "" },
                d: self.d,
                opaque: true,
            };
        }
        let raw = if n == 0 {
            None
        } else {
            self.raw.split(self.d.repetition).nth(n - 1)
        };
        Repetition {
            raw: raw.unwrap_or(""),
            d: self.d,
            opaque: false,
        }
    }

    pub fn first(&self) -> Repetition<'a> {
        self.repetition(1)
    }

    /// Component `c` of the first repetition.
    pub fn component(&self, c: usize) -> Component<'a> {
        self.first().component(c)
    }

    /// Unescaped first component of the first repetition.
    pub fn value(&self) -> Cow<'a, str> {
        self.first().component(1).value()
    }
}

/// One repetition of a field.
#[derive(Debug, Clone, Copy)]
pub struct Repetition<'a> {
    raw: &'a str,
    d: &'a Delimiters,
    opaque: bool,
}

impl<'a> Repetition<'a> {
    pub fn raw(&self) -> &'a str {
        self.raw
    }

    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// Component `c` (1-based); empty when absent.
    pub fn component(&self, c: usize) -> Component<'a> {
        if self.opaque {
            return Component {
                raw: if c == 1 { self.raw } else { "" },
                d: self.d,
                opaque: true,
            };
        }
        let raw = if c == 0 {
            None
        } else {
            self.raw.split(self.d.component).nth(c - 1)
        };
        Component {
            raw: raw.unwrap_or(""),
            d: self.d,
            opaque: false,
        }
    }

    pub fn components(&self) -> impl Iterator<Item = Component<'a>> + 'a {
        let (d, opaque) = (self.d, self.opaque);
        let raw = self.raw;
        let parts: Vec<&'a str> = if opaque {
            vec![raw]
        } else {
            raw.split(d.component).collect()
        };
        parts
            .into_iter()
            .map(move |r| Component { raw: r, d, opaque })
    }

    /// Unescaped first component.
    pub fn value(&self) -> Cow<'a, str> {
        self.component(1).value()
    }
}

/// One component; may hold sub-components.
#[derive(Debug, Clone, Copy)]
pub struct Component<'a> {
    raw: &'a str,
    d: &'a Delimiters,
    opaque: bool,
}

impl<'a> Component<'a> {
    pub fn raw(&self) -> &'a str {
        self.raw
    }

    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// Sub-component `s` (1-based), unescaped.
    pub fn subcomponent(&self, s: usize) -> Cow<'a, str> {
        if self.opaque {
            return Cow::Borrowed(if s == 1 { self.raw } else { "" });
        }
        let raw = if s == 0 {
            None
        } else {
            self.raw.split(self.d.subcomponent).nth(s - 1)
        };
        unescape(raw.unwrap_or(""), self.d)
    }

    /// The whole component unescaped (sub-component separators kept as they are).
    pub fn value(&self) -> Cow<'a, str> {
        if self.opaque {
            return Cow::Borrowed(self.raw);
        }
        unescape(self.raw, self.d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "MSH|^~\\&|HIS|FAC|||20111220103059||OUL^R22^OUL_R22|MSG001|P|2.5||||||~ISO IR87||ISO 2022-1994|SS-MIX2_1.20^SS-MIX2^1.2.392.200250.2.1.100.1.2.120^ISO\r\
PID|||9999013^^^^PI||患者^太郎^^^^^L^I~カンジャ^タロウ^^^^^L^P||19480405|M\r\
OBX|1|NM|3A010000002327101^総蛋白^JC10~01^TP^99Z01||7.2|g/dL^g/dL^ISO+|6.7-8.3|N|||F\r\
NTE|1||a\\F\\b\r";

    #[test]
    fn msh_numbering() {
        let m = Message::parse(SAMPLE).unwrap();
        let msh = m.msh();
        assert_eq!(msh.field(1).raw(), "|");
        assert_eq!(msh.field(2).raw(), "^~\\&");
        assert_eq!(msh.field(2).value(), "^~\\&");
        assert_eq!(msh.field(3).value(), "HIS");
        assert_eq!(msh.field(7).value(), "20111220103059");
        assert_eq!(m.message_type(), "OUL^R22");
        assert_eq!(msh.field(18).repetition(2).value(), "ISO IR87");
        assert!(msh.field(18).repetition(1).is_empty());
        assert_eq!(msh.get(21, 1), "SS-MIX2_1.20");
    }

    #[test]
    fn components_repetitions_subcomponents() {
        let m = Message::parse(SAMPLE).unwrap();
        let pid = m.segment("PID").unwrap();
        assert_eq!(pid.get(3, 1), "9999013");
        assert_eq!(pid.get(3, 5), "PI");
        let names: Vec<_> = pid
            .field(5)
            .repetitions()
            .map(|r| r.component(1).value().into_owned())
            .collect();
        assert_eq!(names, ["患者", "カンジャ"]);
        assert_eq!(pid.field(5).repetition(2).component(8).value(), "P");
        let obx = m.segment("OBX").unwrap();
        assert_eq!(obx.field(3).component(3).value(), "JC10");
        assert_eq!(obx.field(3).repetition(2).component(2).value(), "TP");
        assert_eq!(obx.field(99).raw(), "");
        assert_eq!(m.segment("NTE").unwrap().value(3), "a|b");
    }

    #[test]
    fn null_vs_empty() {
        let m = Message::parse("MSH|^~\\&|A\rPID|||\"\"||").unwrap();
        let pid = m.segment("PID").unwrap();
        assert!(pid.field(3).is_null());
        assert!(!pid.field(3).is_empty());
        assert!(pid.field(4).is_empty());
        assert!(!pid.field(4).is_null());
    }

    #[test]
    fn terminators_and_framing() {
        for sep in ["\r", "\n", "\r\n"] {
            let text = format!("\u{0B}MSH|^~\\&|A{sep}PID|1{sep}{sep}OBX|1\u{1C}{sep}");
            let m = Message::parse(text).unwrap();
            let names: Vec<_> = m.segments().map(|s| s.name()).collect();
            assert_eq!(names, ["MSH", "PID", "OBX"], "separator {sep:?}");
        }
    }

    #[test]
    fn later_msh_segment_without_fields() {
        // Found by code review (the fuzzer missed it in its first 3-minute run): a later
        // segment that is just "MSH" made every MSH-n accessor slice past its end and panic.
        let m = Message::parse("MSH|^~\\&|A\rMSH\rPID|1").unwrap();
        let second = m.segments().nth(1).unwrap();
        assert_eq!(second.name(), "MSH");
        assert_eq!(second.field_count(), 0);
        for n in 0..5 {
            let f = second.field(n);
            assert_eq!(f.raw(), if n == 0 { "MSH" } else { "" }, "MSH-{n}");
            let _ = (f.value(), f.repetition(2).component(3).subcomponent(1));
        }
        // A later MSH with fields is numbered like the first one.
        let m = Message::parse("MSH|^~\\&|A\rMSH|^~\\&|B").unwrap();
        let second = m.segments().nth(1).unwrap();
        assert_eq!(second.field(1).raw(), "|");
        assert_eq!(second.field(3).value(), "B");
        assert_eq!(second.field_count(), 3);
    }

    #[test]
    fn rejects_non_hl7() {
        assert_eq!(Message::parse("hello").unwrap_err(), ParseError::NoMsh);
        assert!(matches!(
            Message::parse("MSH|^~\\&|A\rpid|1").unwrap_err(),
            ParseError::BadSegmentName { line: 2, .. }
        ));
        assert!(matches!(
            Message::parse("MSH|^^\\&|A").unwrap_err(),
            ParseError::BadDelimiters(_)
        ));
    }
}
