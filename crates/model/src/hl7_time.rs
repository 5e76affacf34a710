//! HL7 v2 TS / DTM values (`YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ]`) read at any
//! precision and shown in Japan time: the one place the viewer turns an HL7 date into text.
//!
//! Why one function: the summary, the timeline, the record views and the charts each had
//! their own helper, and the one accepting only 8 characters showed every admission sent
//! with a time as "undated". A value is shown at the precision it was sent (a year stays a
//! year); a value with a zone is converted to JST (UTC+9) — which may move the date — and a
//! value without a zone is the sender's local time, which SS-MIX2 (a Japanese standard)
//! takes as JST. A value that is not a valid TS is shown as sent and flagged, never guessed.

use crate::time::{civil_from_days, Date};

/// JST offset in minutes.
const JST_MINUTES: i32 = 9 * 60;

/// How much of a TS was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TsPrecision {
    Year,
    Month,
    Day,
    Hour,
    Minute,
    Second,
}

/// A parsed HL7 TS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hl7Time {
    pub year: i32,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    /// Fraction of a second as sent (`1234` of `.1234`), empty when not sent.
    pub fraction: String,
    pub precision: TsPrecision,
    /// Offset from UTC in minutes when a zone was sent.
    pub offset_minutes: Option<i32>,
}

impl Hl7Time {
    /// Parse a TS; `None` when it is not one (wrong length, not digits, out of range).
    /// SS-MIX2 file-name timestamps (`YYYYMMDDHHMMSSfff`, 17 digits, also 15 in real data)
    /// read as the TS of their first 14 digits: no HL7 TS has 15–17 bare digits.
    pub fn parse(s: &str) -> Option<Hl7Time> {
        let s = s.trim();
        if !s.is_ascii() {
            return None;
        }
        if (15..=17).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()) {
            return Hl7Time::parse(&s[..14]);
        }
        // The zone: the last `+` or `-` followed by exactly four digits.
        let (body, offset_minutes) = match s.rfind(['+', '-']) {
            Some(i) => {
                let zone = &s[i + 1..];
                if zone.len() != 4 || !zone.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                let hh: i32 = zone[..2].parse().ok()?;
                let mm: i32 = zone[2..].parse().ok()?;
                if hh > 14 || mm > 59 {
                    return None;
                }
                let sign = if s.as_bytes()[i] == b'-' { -1 } else { 1 };
                (&s[..i], Some(sign * (hh * 60 + mm)))
            }
            None => (s, None),
        };
        let (digits, fraction) = match body.split_once('.') {
            Some((d, f)) => {
                if d.len() != 14 || f.is_empty() || f.len() > 4 {
                    return None;
                }
                (d, f)
            }
            None => (body, ""),
        };
        if !digits.bytes().all(|b| b.is_ascii_digit())
            || !fraction.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let precision = match digits.len() {
            4 => TsPrecision::Year,
            6 => TsPrecision::Month,
            8 => TsPrecision::Day,
            10 => TsPrecision::Hour,
            12 => TsPrecision::Minute,
            14 => TsPrecision::Second,
            _ => return None,
        };
        let num = |a: usize, b: usize| -> u32 {
            digits.get(a..b).and_then(|x| x.parse().ok()).unwrap_or(0)
        };
        let t = Hl7Time {
            year: num(0, 4) as i32,
            month: if precision >= TsPrecision::Month {
                num(4, 6)
            } else {
                1
            },
            day: if precision >= TsPrecision::Day {
                num(6, 8)
            } else {
                1
            },
            hour: num(8, 10),
            minute: num(10, 12),
            second: num(12, 14),
            fraction: fraction.to_owned(),
            precision,
            offset_minutes,
        };
        if !(1..=12).contains(&t.month) || t.hour > 23 || t.minute > 59 || t.second > 60 {
            return None;
        }
        // The day must exist in its month (leap years included).
        Date::new(t.year, t.month, t.day)?;
        Some(t)
    }

    /// The same instant in JST. Only a value with a time and a zone moves: a date alone
    /// names a calendar day, not an instant, and a value without a zone is already local.
    pub fn to_jst(&self) -> Hl7Time {
        let Some(offset) = self.offset_minutes else {
            return self.clone();
        };
        if self.precision < TsPrecision::Hour || offset == JST_MINUTES {
            return Hl7Time {
                offset_minutes: if self.precision < TsPrecision::Hour {
                    self.offset_minutes
                } else {
                    Some(JST_MINUTES)
                },
                ..self.clone()
            };
        }
        let Some(date) = Date::new(self.year, self.month, self.day) else {
            return self.clone();
        };
        let minutes = date.days() * 1440
            + i64::from(self.hour) * 60
            + i64::from(self.minute)
            + i64::from(JST_MINUTES - offset);
        let days = minutes.div_euclid(1440);
        let rem = minutes.rem_euclid(1440);
        let (y, m, d) = civil_from_days(days);
        Hl7Time {
            year: y as i32,
            month: m,
            day: d,
            hour: (rem / 60) as u32,
            minute: (rem % 60) as u32,
            offset_minutes: Some(JST_MINUTES),
            ..self.clone()
        }
    }

    /// `YYYYMMDD` of the JST day, when the value names a day.
    pub fn jst_date(&self) -> Option<String> {
        let j = self.to_jst();
        (j.precision >= TsPrecision::Day)
            .then(|| format!("{:04}{:02}{:02}", j.year, j.month, j.day))
    }

    /// The date part in JST at the precision sent: `2024`, `2024-04`, `2024-04-01`.
    pub fn show_date(&self) -> String {
        let j = self.to_jst();
        match j.precision {
            TsPrecision::Year => format!("{:04}", j.year),
            TsPrecision::Month => format!("{:04}-{:02}", j.year, j.month),
            _ => format!("{:04}-{:02}-{:02}", j.year, j.month, j.day),
        }
    }

    /// Date and time in JST at the precision sent (seconds and fractions are left out: the
    /// minute is what a clinician reads): `2024-04-01 09:30`, `2024-04-01 09時`.
    pub fn show(&self) -> String {
        let j = self.to_jst();
        match j.precision {
            TsPrecision::Hour => format!("{} {:02}時", j.show_date(), j.hour),
            TsPrecision::Minute | TsPrecision::Second => {
                format!("{} {:02}:{:02}", j.show_date(), j.hour, j.minute)
            }
            _ => j.show_date(),
        }
    }
}

/// Shown for the `-` date folder and empty values.
pub const UNDATED: &str = "日付なし (undated)";

/// What is shown for a value that is not a valid TS: the text as sent, flagged.
fn unreadable(s: &str) -> String {
    format!("{s} (日付不明 unreadable date)")
}

/// The date of an HL7 TS in JST at the precision sent (see the module documentation).
pub fn show_hl7_date(s: &str) -> String {
    let s = s.trim();
    if s.is_empty() || s == "-" {
        return UNDATED.into();
    }
    Hl7Time::parse(s).map_or_else(|| unreadable(s), |t| t.show_date())
}

/// The date and time of an HL7 TS in JST at the precision sent.
pub fn show_hl7_time(s: &str) -> String {
    let s = s.trim();
    if s.is_empty() || s == "-" {
        return UNDATED.into();
    }
    Hl7Time::parse(s).map_or_else(|| unreadable(s), |t| t.show())
}

/// `YYYYMMDD` of the JST day of an HL7 TS (for sorting and day arithmetic); `None` when the
/// value is not a TS or names no day.
pub fn hl7_jst_date(s: &str) -> Option<String> {
    Hl7Time::parse(s)?.jst_date()
}

/// A sort key of an HL7 TS in JST (`YYYYMMDDHHMMSS`, missing parts as zeros), so values
/// sent with different zones and precisions order by the instant; the text as sent when
/// it is not a TS.
pub fn hl7_sort_key(s: &str) -> String {
    match Hl7Time::parse(s) {
        Some(t) => {
            let j = t.to_jst();
            format!(
                "{:04}{:02}{:02}{:02}{:02}{:02}",
                j.year, j.month, j.day, j.hour, j.minute, j.second
            )
        }
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_precision_is_shown_as_sent() {
        assert_eq!(show_hl7_date("2024"), "2024");
        assert_eq!(show_hl7_date("202404"), "2024-04");
        assert_eq!(show_hl7_date("20240401"), "2024-04-01");
        assert_eq!(show_hl7_time("2024040109"), "2024-04-01 09時");
        assert_eq!(show_hl7_time("202404010930"), "2024-04-01 09:30");
        assert_eq!(show_hl7_time("20240401093015"), "2024-04-01 09:30");
        assert_eq!(show_hl7_time("20240401093015.1"), "2024-04-01 09:30");
        assert_eq!(show_hl7_time("20240401093015.1234"), "2024-04-01 09:30");
        // A date with a time shows its date: the fault of issue 14 (日付なし for admissions).
        assert_eq!(show_hl7_date("20111120100000"), "2011-11-20");
        assert_eq!(show_hl7_date("202404010930"), "2024-04-01");
        assert_eq!(show_hl7_time("20240401"), "2024-04-01");
        assert_eq!(show_hl7_time("2024"), "2024");
        // SS-MIX2 file-name timestamps (17 digits, 15 in some real data).
        assert_eq!(show_hl7_time("20260907152423077"), "2026-09-07 15:24");
        assert_eq!(show_hl7_time("202609071524230"), "2026-09-07 15:24");
    }

    #[test]
    fn zones_are_converted_to_jst() {
        // JST as sent: unchanged.
        assert_eq!(show_hl7_time("202404010930+0900"), "2024-04-01 09:30");
        // UTC late evening is the next morning in Japan: the date moves.
        assert_eq!(show_hl7_time("20240331233000+0000"), "2024-04-01 08:30");
        assert_eq!(show_hl7_date("20240331233000+0000"), "2024-04-01");
        assert_eq!(
            hl7_jst_date("20240331233000+0000").as_deref(),
            Some("20240401")
        );
        // Negative zones and half-hour zones; year end and leap day.
        assert_eq!(show_hl7_time("20231231100000-0500"), "2024-01-01 00:00");
        assert_eq!(show_hl7_time("20240228200000+0530"), "2024-02-28 23:30");
        assert_eq!(show_hl7_time("20240228160000+0000"), "2024-02-29 01:00");
        assert_eq!(show_hl7_time("2024040100+0000"), "2024-04-01 09時");
        assert_eq!(show_hl7_time("20240401093015.12-0300"), "2024-04-01 21:30");
        // A date alone names a day, not an instant: it does not move.
        assert_eq!(show_hl7_date("20240401+0000"), "2024-04-01");
        assert_eq!(show_hl7_date("202404-0500"), "2024-04");
        assert_eq!(show_hl7_date("2024+0900"), "2024");
    }

    #[test]
    fn what_is_not_a_ts_is_shown_as_sent_and_flagged() {
        for bad in [
            "2024040",
            "20241301",
            "20230229",
            "2024040125",
            "202404010960",
            "20240401093015.",
            "20240401093015.12345",
            "2024040109.5",
            "20240401+09",
            "20240401+2500",
            "令和6年",
            "2024/04/01",
        ] {
            assert_eq!(
                show_hl7_date(bad),
                format!("{bad} (日付不明 unreadable date)"),
                "{bad}"
            );
            assert!(Hl7Time::parse(bad).is_none(), "{bad}");
        }
        assert_eq!(show_hl7_date("-"), UNDATED);
        assert_eq!(show_hl7_time(""), UNDATED);
        assert!(Hl7Time::parse("20240229").is_some());
    }

    #[test]
    fn sort_keys_order_instants_across_zones() {
        assert!(hl7_sort_key("20240401000000+0000") > hl7_sort_key("20240401080000"));
        assert_eq!(hl7_sort_key("20240401"), "20240401000000");
        assert_eq!(hl7_sort_key("bad"), "bad");
    }
}
