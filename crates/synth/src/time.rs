//! Civil dates as day numbers (proleptic Gregorian), no time zones: everything is JST wall time.

use std::fmt::Write;

/// Days since 1970-01-01.
pub type Day = i32;
/// Milliseconds since 1970-01-01 00:00 (JST wall clock).
pub type Ms = i64;

pub const MS_DAY: i64 = 86_400_000;
pub const MS_MIN: i64 = 60_000;

pub fn days_from_civil(y: i32, m: u32, d: u32) -> Day {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = (y - era * 400) as u32;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe as i32 - 719_468
}

pub fn civil_from_days(z: Day) -> (i32, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = (z - era * 146_097) as u32;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe as i32 + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// 0 = Monday … 6 = Sunday.
pub fn weekday(d: Day) -> u32 {
    ((d as i64 + 3).rem_euclid(7)) as u32
}

pub fn at(day: Day, hour: i64, minute: i64) -> Ms {
    day as i64 * MS_DAY + hour * 3_600_000 + minute * MS_MIN
}

pub fn day_of(t: Ms) -> Day {
    t.div_euclid(MS_DAY) as Day
}

pub fn push_date(s: &mut String, d: Day) {
    let (y, m, dd) = civil_from_days(d);
    let _ = write!(s, "{y:04}{m:02}{dd:02}");
}

pub fn date8(d: Day) -> String {
    let mut s = String::with_capacity(8);
    push_date(&mut s, d);
    s
}

/// `YYYYMMDDHHMM` (12), `YYYYMMDDHHMMSS` (14) or `YYYYMMDDHHMMSSfff` (17).
pub fn push_ts(s: &mut String, t: Ms, len: usize) {
    let d = day_of(t);
    push_date(s, d);
    let rem = t - d as i64 * MS_DAY;
    let (h, mi, sec, ms) = (
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000,
    );
    match len {
        12 => {
            let _ = write!(s, "{h:02}{mi:02}");
        }
        14 => {
            let _ = write!(s, "{h:02}{mi:02}{sec:02}");
        }
        _ => {
            let _ = write!(s, "{h:02}{mi:02}{sec:02}{ms:03}");
        }
    }
}

pub fn ts(t: Ms, len: usize) -> String {
    let mut s = String::with_capacity(len);
    push_ts(&mut s, t, len);
    s
}

/// Age in whole years on `on`.
pub fn age(birth: Day, on: Day) -> i32 {
    let (by, bm, bd) = civil_from_days(birth);
    let (y, m, d) = civil_from_days(on);
    let mut a = y - by;
    if (m, d) < (bm, bd) {
        a -= 1;
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for z in -50_000..50_000 {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
        assert_eq!(date8(days_from_civil(2026, 10, 31)), "20261031");
        assert_eq!(weekday(days_from_civil(2026, 10, 31)), 5); // Saturday
        assert_eq!(
            ts(at(days_from_civil(2011, 12, 20), 10, 30) + 59_123, 17),
            "20111220103059123"
        );
        assert_eq!(
            age(days_from_civil(1948, 4, 5), days_from_civil(2011, 4, 4)),
            62
        );
    }
}
