//! How a prescription line is taken over the calendar (JAHIS 処方データ交換規約, JAMI 標準用法):
//! the basic usage (基本用法, first TQ1-3 repetition) says how often a day; a supplementary
//! usage (補足用法, a further TQ1-3 repetition or TQ1 segment) may say "every other day"
//! (隔日), "on Mondays and Thursdays" (月・木) or "at most 3 times a day" (1日3回まで).
//! TQ1-6 then counts the days the drug is *taken* (実投与日数), not calendar days: 隔日 for
//! 7 days spans 13 calendar days.
//!
//! Pure logic on the texts as sent. Only what is recognised with certainty is interpreted;
//! any other supplementary usage leaves the calendar span unknown ([`Rhythm::Unknown`]) so
//! the viewer shows the days as sent and flags them, never a guessed end date.

use serde::{Deserialize, Serialize};

/// How the taking days follow each other.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Rhythm {
    /// Every day (no supplementary usage about days).
    #[default]
    Daily,
    /// Every `n` days: 隔日 is 2, `3日毎` is 3.
    EveryDays(u32),
    /// On these weekdays only (0 = Monday … 6 = Sunday), ascending.
    Weekdays(Vec<u8>),
    /// When needed (頓用): no schedule; the days or times sent are a supply, not a span.
    AsNeeded,
    /// A supplementary usage about days that is not recognised with certainty
    /// (`3日おき`, `週1回` without a weekday…): the span cannot be computed.
    Unknown,
}

impl Rhythm {
    /// A short stable text for storage: `daily`, `every:2`, `weekdays:0,3`, `as_needed`,
    /// `unknown`.
    pub fn encode(&self) -> String {
        match self {
            Rhythm::Daily => "daily".into(),
            Rhythm::EveryDays(n) => format!("every:{n}"),
            Rhythm::Weekdays(w) => format!(
                "weekdays:{}",
                w.iter().map(u8::to_string).collect::<Vec<_>>().join(",")
            ),
            Rhythm::AsNeeded => "as_needed".into(),
            Rhythm::Unknown => "unknown".into(),
        }
    }

    /// The rhythm [`Rhythm::encode`] wrote; anything else (including empty: a line stored
    /// before rhythms were read) is [`Rhythm::Unknown`].
    pub fn decode(s: &str) -> Rhythm {
        match s.split_once(':') {
            None if s == "daily" => Rhythm::Daily,
            None if s == "as_needed" => Rhythm::AsNeeded,
            Some(("every", n)) => n
                .parse()
                .ok()
                .filter(|n| *n >= 2)
                .map_or(Rhythm::Unknown, Rhythm::EveryDays),
            Some(("weekdays", w)) => {
                let days: Option<Vec<u8>> = w
                    .split(',')
                    .map(|d| d.parse().ok().filter(|d| *d < 7))
                    .collect();
                days.filter(|d| !d.is_empty())
                    .map_or(Rhythm::Unknown, Rhythm::Weekdays)
            }
            _ => Rhythm::Unknown,
        }
    }

    /// Japanese label of the rhythm (`隔日`, `月・木`), empty for daily.
    pub fn label(&self) -> String {
        match self {
            Rhythm::Daily => String::new(),
            Rhythm::EveryDays(2) => "隔日".into(),
            Rhythm::EveryDays(n) => format!("{n}日毎"),
            Rhythm::Weekdays(w) => w
                .iter()
                .filter_map(|d| WEEKDAYS.get(usize::from(*d)))
                .map(char::to_string)
                .collect::<Vec<_>>()
                .join("・"),
            Rhythm::AsNeeded => "頓用".into(),
            Rhythm::Unknown => "不明".into(),
        }
    }
}

const WEEKDAYS: [char; 7] = ['月', '火', '水', '木', '金', '土', '日'];

/// Does a supplementary usage text say something about *which days* the drug is taken?
/// (`１日３回まで` is a limit per day, not a rhythm; `朝食後` is a time of day.)
fn is_about_days(t: &str) -> bool {
    t.contains("隔日")
        || t.contains("曜")
        || t.contains("週")
        || t.contains("おき")
        || t.contains("置き")
        || t.contains("日毎")
        || t.contains("日ごと")
        || t.contains('月')
        || weekdays_only(t).is_some()
}

/// Fold full-width digits to ASCII so `３日毎` and `3日毎` read alike.
fn ascii_digits(t: &str) -> String {
    t.chars()
        .map(|c| match c {
            '０'..='９' => char::from(b'0' + (c as u32 - '０' as u32) as u8),
            _ => c,
        })
        .collect()
}

/// `月・木`, `月水金`, `(月、木)`: nothing but weekday characters and separators.
fn weekdays_only(t: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    for c in t.chars() {
        if let Some(i) = WEEKDAYS.iter().position(|w| *w == c) {
            out.push(i as u8);
        } else if !matches!(
            c,
            '・' | '、' | ',' | '，' | ' ' | '　' | '(' | ')' | '（' | '）' | '/' | '／'
        ) {
            return None;
        }
    }
    (!out.is_empty()).then(|| {
        out.sort_unstable();
        out.dedup();
        out
    })
}

/// The weekdays of `毎週月曜日・木曜日`, `週2回（月・木）`, `月曜と木曜`: each weekday character
/// right before `曜`, or a bracketed / trailing list of weekday characters after `週N回`.
fn weekdays_in(t: &str) -> Option<Vec<u8>> {
    let chars: Vec<char> = t.chars().collect();
    let mut out: Vec<u8> = chars
        .windows(2)
        .filter(|w| w[1] == '曜')
        .filter_map(|w| WEEKDAYS.iter().position(|d| *d == w[0]).map(|i| i as u8))
        .collect();
    if out.is_empty() {
        // `週2回（月・木）` / `週2回 月・木`: the part after `回`.
        let rest = t.split_once('回').map(|(_, r)| r).unwrap_or(t);
        let rest = rest.trim_start_matches(['毎', '週']);
        out = weekdays_only(rest)?;
    }
    out.sort_unstable();
    out.dedup();
    // `週2回（月・木）`: the count, when sent, must agree with the days named.
    if let Some(n) = times_per_week(t) {
        if n as usize != out.len() {
            return None;
        }
    }
    (!out.is_empty()).then_some(out)
}

fn times_per_week(t: &str) -> Option<u32> {
    let t = ascii_digits(t);
    let (_, after) = t.split_once('週')?;
    let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
    let rest = &after[digits.len()..];
    if digits.is_empty() || !rest.starts_with('回') {
        return None;
    }
    digits.parse().ok()
}

/// The rhythm of one supplementary usage text, `None` when it is not about days.
fn rhythm_of_text(t: &str) -> Option<Rhythm> {
    let t = ascii_digits(t.trim());
    if !is_about_days(&t) {
        return None;
    }
    if t.contains("隔日") {
        return Some(Rhythm::EveryDays(2));
    }
    // `3日毎` / `3日ごと`: every third day. (`3日おき` is read as every 3rd or every 4th
    // day depending on the writer: not certain, so Unknown.)
    for sep in ["日毎", "日ごと"] {
        if let Some((n, _)) = t.split_once(sep) {
            let digits: String = n
                .chars()
                .rev()
                .take_while(char::is_ascii_digit)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            if let Ok(n @ 1..=366) = digits.parse::<u32>() {
                return Some(if n == 1 {
                    Rhythm::Daily
                } else {
                    Rhythm::EveryDays(n)
                });
            }
        }
    }
    if t.contains("おき") || t.contains("置き") {
        return Some(Rhythm::Unknown);
    }
    if let Some(days) = weekdays_only(&t).or_else(|| weekdays_in(&t)) {
        return Some(Rhythm::Weekdays(days));
    }
    // `毎日` says nothing new.
    if t == "毎日" {
        return Some(Rhythm::Daily);
    }
    Some(Rhythm::Unknown)
}

/// The rhythm of a line from its supplementary usage texts (every TQ1-3 repetition after the
/// first, of every TQ1) and whether it is as needed (頓用: RXE-27 `22`, or the usage says
/// 頓用 / 頓服). Two different rhythms, or one not recognised, give [`Rhythm::Unknown`].
pub fn rhythm<S: AsRef<str>>(supplementary: &[S], as_needed: bool) -> Rhythm {
    if as_needed {
        return Rhythm::AsNeeded;
    }
    let mut found: Option<Rhythm> = None;
    for t in supplementary {
        let Some(r) = rhythm_of_text(t.as_ref()) else {
            continue;
        };
        match &found {
            None => found = Some(r),
            Some(f) if *f == r => {}
            Some(_) => return Rhythm::Unknown,
        }
    }
    found.unwrap_or(Rhythm::Daily)
}

/// [`rhythm`] from coded supplementary usages `(code, text)`: one sent as a code without
/// its text cannot be read, so the rhythm is [`Rhythm::Unknown`] (a code table lookup would
/// be a guess about the sender's master).
pub fn rhythm_of_usages<'a>(
    supplementary: impl IntoIterator<Item = (&'a str, &'a str)>,
    as_needed: bool,
) -> Rhythm {
    let mut texts = Vec::new();
    for (code, text) in supplementary {
        if text.trim().is_empty() {
            if !code.trim().is_empty() && !as_needed {
                return Rhythm::Unknown;
            }
            continue;
        }
        texts.push(text);
    }
    rhythm(&texts, as_needed)
}

/// Is this usage text an as-needed usage (頓用・頓服)?
pub fn says_as_needed(usage_text: &str) -> bool {
    usage_text.contains("頓用") || usage_text.contains("頓服")
}

/// The day offsets (0 = the start day) on which the drug is taken, for `days` taking days
/// starting on a day whose weekday is `start_weekday` (0 = Monday). `None` when the rhythm
/// gives no schedule (as needed, unknown).
pub fn taking_offsets(days: u32, rhythm: &Rhythm, start_weekday: u8) -> Option<Vec<u32>> {
    // A prescription is at most a year or so; a larger count is a data error: no schedule.
    if days == 0 || days > 3660 {
        return None;
    }
    match rhythm {
        Rhythm::Daily => Some((0..days).collect()),
        Rhythm::EveryDays(n) => Some((0..days).map(|i| i * n).collect()),
        Rhythm::Weekdays(w) if !w.is_empty() => {
            let mut out = Vec::with_capacity(days as usize);
            let mut off = 0u32;
            while out.len() < days as usize {
                if w.contains(&(((u32::from(start_weekday) + off) % 7) as u8)) {
                    out.push(off);
                }
                off += 1;
            }
            Some(out)
        }
        _ => None,
    }
}

/// Days since 1970-01-01 of a `YYYYMMDD…` date (proleptic Gregorian), `None` when not a date.
pub fn day_number(date: &str) -> Option<i64> {
    let d = date.get(..8)?;
    if !d.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let y: i64 = d[..4].parse().ok()?;
    let m: i64 = d[4..6].parse().ok()?;
    let day: i64 = d[6..8].parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&day) {
        return None;
    }
    // Howard Hinnant's days_from_civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

/// `YYYYMMDD` of a day number.
pub fn date_of_day(n: i64) -> String {
    let z = n + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}{m:02}{d:02}")
}

/// Weekday of a day number, 0 = Monday.
pub fn weekday(day: i64) -> u8 {
    // 1970-01-01 was a Thursday (3).
    ((day + 3).rem_euclid(7)) as u8
}

/// The taking dates (`YYYYMMDD`) of a line starting on `start` for `days` taking days.
pub fn taking_dates(start: &str, days: u32, rhythm: &Rhythm) -> Option<Vec<String>> {
    let s = day_number(start)?;
    let offsets = taking_offsets(days, rhythm, weekday(s))?;
    Some(
        offsets
            .into_iter()
            .map(|o| date_of_day(s + i64::from(o)))
            .collect(),
    )
}

/// The last calendar day (`YYYYMMDD`) of a line starting on `start` taken on `days` days:
/// `None` when it cannot be computed with certainty.
pub fn calendar_end(start: &str, days: u32, rhythm: &Rhythm) -> Option<String> {
    taking_dates(start, days, rhythm).and_then(|d| d.last().cloned())
}

/// Dispensing category (院内 / 院外) from RXE-21 repetitions (`OHI^院内処方^MR9P`,
/// `OHO^院外処方^MR9P`); `None` when neither is sent.
pub fn dispensing<'a>(
    categories: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Option<&'static str> {
    for (code, text) in categories {
        if code == "OHI" || text.contains("院内") {
            return Some("院内");
        }
        if code == "OHO" || text.contains("院外") {
            return Some("院外");
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_other_day_for_7_doses_spans_13_days() {
        let r = rhythm(&["隔日"], false);
        assert_eq!(r, Rhythm::EveryDays(2));
        assert_eq!(calendar_end("20260301", 7, &r).as_deref(), Some("20260313"));
        assert_eq!(
            calendar_end("20260301", 7, &Rhythm::Daily).as_deref(),
            Some("20260307")
        );
        assert_eq!(rhythm(&["３日毎"], false), Rhythm::EveryDays(3));
    }

    #[test]
    fn chosen_weekdays_are_counted_on_the_calendar() {
        // 2026-03-02 is a Monday.
        assert_eq!(weekday(day_number("20260302").unwrap()), 0);
        for text in [
            "月・木",
            "毎週月曜日・木曜日",
            "週2回（月・木）",
            "(月、木)",
        ] {
            let r = rhythm(&[text], false);
            assert_eq!(r, Rhythm::Weekdays(vec![0, 3]), "{text}");
            let d = taking_dates("20260302", 8, &r).unwrap();
            assert_eq!(
                d,
                [
                    "20260302", "20260305", "20260309", "20260312", "20260316", "20260319",
                    "20260323", "20260326"
                ]
            );
        }
        // Starting on a Tuesday: the first taking day is Thursday.
        let d = taking_dates("20260303", 2, &Rhythm::Weekdays(vec![0, 3])).unwrap();
        assert_eq!(d, ["20260305", "20260309"]);
    }

    #[test]
    fn uncertain_rhythms_give_no_span() {
        for text in ["3日おき", "週1回", "週3回（月・木）", "月1回"] {
            let r = rhythm(&[text], false);
            assert_eq!(r, Rhythm::Unknown, "{text}");
            assert_eq!(calendar_end("20260301", 5, &r), None);
        }
        // Two different rhythms: not certain either.
        assert_eq!(rhythm(&["隔日", "月・木"], false), Rhythm::Unknown);
        // A limit per day and a time of day are not about days.
        assert_eq!(
            rhythm(&["１日３回まで", "朝食後", "毎食後"], false),
            Rhythm::Daily
        );
        assert_eq!(rhythm(&["隔日"], true), Rhythm::AsNeeded);
        assert_eq!(calendar_end("20260301", 10, &Rhythm::AsNeeded), None);
    }

    #[test]
    fn a_supplementary_code_without_text_is_unknown() {
        assert_eq!(rhythm_of_usages([("Z001", "")], false), Rhythm::Unknown);
        assert_eq!(
            rhythm_of_usages([("Z001", "隔日")], false),
            Rhythm::EveryDays(2)
        );
        assert_eq!(rhythm_of_usages([], false), Rhythm::Daily);
    }

    #[test]
    fn rhythm_round_trips_through_its_stored_text() {
        for r in [
            Rhythm::Daily,
            Rhythm::EveryDays(2),
            Rhythm::Weekdays(vec![0, 3]),
            Rhythm::AsNeeded,
            Rhythm::Unknown,
        ] {
            assert_eq!(Rhythm::decode(&r.encode()), r);
        }
        assert_eq!(Rhythm::decode(""), Rhythm::Unknown);
        assert_eq!(Rhythm::decode("weekdays:9"), Rhythm::Unknown);
        assert_eq!(Rhythm::Weekdays(vec![0, 3]).label(), "月・木");
    }

    #[test]
    fn dispensing_category_from_rxe21() {
        assert_eq!(
            dispensing([("OHP", "外来処方"), ("OHI", "院内処方")]),
            Some("院内")
        );
        assert_eq!(dispensing([("OHO", "院外処方")]), Some("院外"));
        assert_eq!(dispensing([("IHP", "入院処方")]), None);
    }
}
