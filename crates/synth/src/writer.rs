//! ER7 text builder: segments end with CR, fields are placed by number, free text is escaped.

use std::borrow::Cow;
use std::fmt::Write;

use hl7::Delimiters;

pub const D: Delimiters = Delimiters {
    field: '|',
    component: '^',
    repetition: '~',
    escape: '\\',
    subcomponent: '&',
};

/// Escape free text for use inside a field or component.
pub fn esc(s: &str) -> Cow<'_, str> {
    hl7::escape(s, &D)
}

#[derive(Default)]
pub struct Er7 {
    pub text: String,
    cur: usize,
}

impl Er7 {
    pub fn clear(&mut self) {
        self.text.clear();
        self.cur = 0;
    }

    /// Start a segment (the previous one is terminated with CR).
    pub fn seg(&mut self, name: &str) {
        if !self.text.is_empty() {
            self.text.push('\r');
        }
        self.text.push_str(name);
        self.cur = 0;
        if name == "MSH" {
            self.text.push_str("|^~\\&");
            self.cur = 2;
        }
    }

    /// Move to field `n` of the current segment and return the buffer to append its value.
    pub fn f(&mut self, n: usize) -> &mut String {
        while self.cur < n {
            self.text.push('|');
            self.cur += 1;
        }
        &mut self.text
    }

    /// Field `n` = `raw` (already structured: delimiters are meant).
    pub fn raw(&mut self, n: usize, raw: &str) {
        self.f(n).push_str(raw);
    }

    /// Field `n` = free text, escaped.
    pub fn txt(&mut self, n: usize, text: &str) {
        let e = esc(text);
        self.f(n).push_str(&e);
    }

    /// Append formatted text to field `n`.
    pub fn fmt(&mut self, n: usize, args: std::fmt::Arguments<'_>) {
        let _ = self.f(n).write_fmt(args);
    }

    /// Terminate the last segment.
    pub fn finish(&mut self) -> &str {
        if !self.text.ends_with('\r') {
            self.text.push('\r');
        }
        &self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_by_number() {
        let mut w = Er7::default();
        w.seg("MSH");
        w.raw(3, "APP");
        w.raw(9, "ADT^A08");
        w.seg("PID");
        w.raw(3, "123^^^^PI");
        w.txt(5, "a|b");
        let t = w.finish().to_owned();
        assert_eq!(t, "MSH|^~\\&|APP||||||ADT^A08\rPID|||123^^^^PI||a\\F\\b\r");
        let m = hl7::Message::parse(t).unwrap();
        assert_eq!(m.message_type(), "ADT^A08");
        assert_eq!(m.segment("PID").unwrap().value(5), "a|b");
    }
}
