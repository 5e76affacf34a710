//! Instants and calendar dates, without a date library: what the policy and the audit log
//! need is comparison and a stable text form.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Seconds since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct UnixTime(pub i64);

impl UnixTime {
    pub fn now() -> UnixTime {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        UnixTime(secs)
    }

    pub fn plus_seconds(self, s: i64) -> UnixTime {
        UnixTime(self.0.saturating_add(s))
    }

    /// The calendar date of this instant in Japan (JST, UTC+9): consent dates are written on
    /// paper forms in local time.
    pub fn date_jst(self) -> Date {
        let days = (self.0 + 9 * 3600).div_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        Date { y: y as i32, m, d }
    }

    /// RFC 3339 in UTC, e.g. `2026-11-25T08:30:00Z`.
    pub fn rfc3339(self) -> String {
        let days = self.0.div_euclid(86_400);
        let rem = self.0.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
            rem / 3600,
            (rem % 3600) / 60,
            rem % 60
        )
    }

    /// Parse the form [`UnixTime::rfc3339`] writes (UTC, `Z`).
    pub fn parse_rfc3339(s: &str) -> Option<UnixTime> {
        let date = Date::parse(s.get(..10)?)?;
        let rest = s.get(10..)?;
        let t = rest.strip_prefix('T')?.strip_suffix('Z')?;
        let mut parts = t.split(':').map(|p| p.parse::<i64>().ok());
        let (h, mi, se) = (parts.next()??, parts.next()??, parts.next()??);
        if parts.next().is_some() || h > 23 || mi > 59 || se > 60 {
            return None;
        }
        Some(UnixTime(date.days() * 86_400 + h * 3600 + mi * 60 + se))
    }
}

impl UnixTime {
    /// A point in time as an operator types it for `--as-of`: RFC 3339 with `Z` or an offset
    /// (`2026-11-25T14:00:00+09:00`), or a local Japan time without offset
    /// (`2026-11-25 14:00`, seconds optional), or a date alone (`2026-11-25`: the end of that
    /// day, Japan time — "as the data stood that day").
    pub fn parse_as_of(s: &str) -> Option<UnixTime> {
        const JST: i64 = 9 * 3600;
        let s = s.trim();
        let date = Date::parse(s.get(..10)?)?;
        let rest = &s[10..];
        if rest.is_empty() {
            return Some(UnixTime((date.days() + 1) * 86_400 - JST - 1));
        }
        let t = rest.strip_prefix('T').or_else(|| rest.strip_prefix(' '))?;
        let (clock, offset) = if let Some(c) = t.strip_suffix('Z') {
            (c, 0)
        } else if t.len() > 6 && matches!(t.as_bytes()[t.len() - 6], b'+' | b'-') {
            let (c, o) = t.split_at(t.len() - 6);
            let sign = if o.starts_with('-') { -1 } else { 1 };
            let oh: i64 = o.get(1..3)?.parse().ok()?;
            let om: i64 = o.get(4..6)?.parse().ok()?;
            (c, sign * (oh * 3600 + om * 60))
        } else {
            (t, JST)
        };
        let mut parts = clock.split(':').map(|p| p.parse::<i64>().ok());
        let h = parts.next()??;
        let mi = parts.next()??;
        let se = match parts.next() {
            Some(v) => v?,
            None => 0,
        };
        if parts.next().is_some() || h > 23 || mi > 59 || se > 60 {
            return None;
        }
        Some(UnixTime(
            date.days() * 86_400 + h * 3600 + mi * 60 + se - offset,
        ))
    }
}

impl fmt::Display for UnixTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.rfc3339())
    }
}

/// A calendar date (consent validity, birth dates). Text form `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Date {
    y: i32,
    m: u32,
    d: u32,
}

impl Date {
    pub fn new(y: i32, m: u32, d: u32) -> Option<Date> {
        let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        let days = match m {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return None,
        };
        ((1..=days).contains(&d) && (1800..=9999).contains(&y)).then_some(Date { y, m, d })
    }

    /// `YYYY-MM-DD` or `YYYYMMDD`.
    pub fn parse(s: &str) -> Option<Date> {
        let digits: String = s.chars().filter(|c| *c != '-').collect();
        if digits.len() != 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if s.len() == 10 && (s.as_bytes()[4] != b'-' || s.as_bytes()[7] != b'-') {
            return None;
        }
        if s.len() != 8 && s.len() != 10 {
            return None;
        }
        Date::new(
            digits[..4].parse().ok()?,
            digits[4..6].parse().ok()?,
            digits[6..].parse().ok()?,
        )
    }

    /// Days since 1970-01-01.
    pub fn days(self) -> i64 {
        let (y, m, d) = (self.y as i64, self.m as i64, self.d as i64);
        let y = if m <= 2 { y - 1 } else { y };
        let era = if y >= 0 { y } else { y - 399 } / 400;
        let yoe = y - era * 400;
        let mp = (m + 9) % 12;
        let doy = (153 * mp + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// `YYYYMMDD`, the HL7 form.
    pub fn compact(self) -> String {
        format!("{:04}{:02}{:02}", self.y, self.m, self.d)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.y, self.m, self.d)
    }
}

impl Serialize for Date {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Date::parse(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("invalid date {s:?} (YYYY-MM-DD)")))
    }
}

/// Howard Hinnant's days-to-civil algorithm.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let t = UnixTime(1_764_059_400);
        assert_eq!(UnixTime::parse_rfc3339(&t.rfc3339()), Some(t));
        let d = Date::parse("2024-02-29").unwrap();
        assert_eq!(Date::parse(&d.compact()), Some(d));
        assert!(Date::parse("2023-02-29").is_none());
        assert_eq!(Date::parse("1970-01-01").unwrap().days(), 0);
        assert_eq!(UnixTime(0).date_jst().to_string(), "1970-01-01");
        assert_eq!(UnixTime(15 * 3600).date_jst().to_string(), "1970-01-02");
    }
}

#[cfg(test)]
mod as_of_tests {
    use super::UnixTime;

    #[test]
    fn as_of_forms() {
        let z = UnixTime::parse_as_of("2026-11-25T05:00:00Z").unwrap();
        assert_eq!(z.rfc3339(), "2026-11-25T05:00:00Z");
        assert_eq!(UnixTime::parse_as_of("2026-11-25T14:00:00+09:00"), Some(z));
        assert_eq!(UnixTime::parse_as_of("2026-11-25 14:00"), Some(z));
        assert_eq!(
            UnixTime::parse_as_of("2026-11-25").unwrap().rfc3339(),
            "2026-11-25T14:59:59Z"
        );
        for bad in [
            "",
            "yesterday",
            "2026-13-01",
            "2026-11-25T25:00Z",
            "2026-11-25X",
        ] {
            assert_eq!(UnixTime::parse_as_of(bad), None, "{bad}");
        }
    }
}
