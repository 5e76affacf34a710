//! What a clinician reads first about a patient's drugs, built from the medication lines of
//! every facility (pure logic, no I/O; the gate has already decided what may be read):
//!
//! - **current medications**: drugs active today *and* those ended within a configurable
//!   window (late refills and data lag are normal), each with "ended N days ago"; a
//!   prescription and the pharmacy's or ward's copy of the same drug (dispensing, OMP-11/12
//!   administration) are one row naming every source;
//! - **latest prescription per drug** and a **medication calendar** (drugs × days);
//! - **duplicate prescriptions grouped per drug**: one warning naming every facility;
//! - **checks that could not be made** (a category refused, consent withdrawn): said as
//!   such, never as "no warnings".
//!
//! A line whose calendar span is not known with certainty (no day count, an unrecognised
//! supplementary usage) is never shown as ending on its start day: it is "end unknown" for
//! the window after its start, and its calendar days are marked uncertain.

use std::collections::{BTreeMap, BTreeSet};

use model::{FacilityCode, RecordCategory};
use serde::{Deserialize, Serialize};
use ssmix2::dosing::{self, Rhythm};
use store::MedicationFact;

use crate::access::AccessRefusal;
use crate::viewer::{DuplicatePrescription, MedicationLine};

/// Default of [`MedicationSettings::recent_days`].
pub const RECENT_MEDICATION_DAYS: u32 = 30;
/// Days before today shown in the medication calendar (today included), and after it.
pub const CALENDAR_DAYS_BEFORE: i64 = 27;
pub const CALENDAR_DAYS_AFTER: i64 = 7;

/// Per-network medication settings (administrators; see `Network::set_medication_settings`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MedicationSettings {
    /// Lines that ended within this many days still count as current ("ended N days ago").
    pub recent_days: u32,
}

impl Default for MedicationSettings {
    fn default() -> Self {
        MedicationSettings {
            recent_days: RECENT_MEDICATION_DAYS,
        }
    }
}

/// Where a line or a drug stands today.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Standing {
    /// Its period covers today.
    Active,
    /// Starts after today.
    Upcoming { in_days: i64 },
    /// Its end date is not known with certainty (no day count, uncertain rhythm) and it
    /// started within the window.
    EndUnknown { started_days_ago: i64 },
    /// Ended `days_ago` days ago, within the window.
    Ended { days_ago: i64 },
    /// Ended (or, end unknown, started) before the window: history.
    Past,
}

impl Standing {
    /// Sort rank: what is taken now first.
    fn rank(&self) -> (u8, i64) {
        match *self {
            Standing::Active => (0, 0),
            Standing::Upcoming { in_days } => (1, in_days),
            Standing::EndUnknown { started_days_ago } => (2, started_days_ago),
            Standing::Ended { days_ago } => (3, days_ago),
            Standing::Past => (4, 0),
        }
    }

    pub fn is_current(&self) -> bool {
        !matches!(self, Standing::Past)
    }

    /// Japanese label with English, for the views.
    pub fn label(&self) -> String {
        match *self {
            Standing::Active => "服用中 (active)".into(),
            Standing::Upcoming { in_days } => format!("{in_days}日後開始 (starts in {in_days} days)"),
            Standing::EndUnknown { started_days_ago } => format!(
                "終了日不明・{started_days_ago}日前開始 (end unknown, started {started_days_ago} days ago)"
            ),
            Standing::Ended { days_ago: 0 } => "本日終了 (ends today)".into(),
            Standing::Ended { days_ago } => {
                format!("{days_ago}日前に終了 (ended {days_ago} days ago)")
            }
            Standing::Past => "終了 (ended)".into(),
        }
    }
}

/// OMP-11 / OMP-12: the drug was dispensed or given, not prescribed anew.
pub fn is_administration(kind: &str) -> bool {
    matches!(kind, "OMP-11" | "OMP-12")
}

/// A line that gave the patient nothing (administration refused or not given).
pub fn not_given(l: &MedicationLine) -> bool {
    l.line.fact.detail.not_given()
}

/// The first day a line surely covers up to: its end date, else start + days − 1 (the days
/// as sent are the least the period can be), else none.
fn least_end(m: &MedicationFact, start: i64) -> Option<i64> {
    if let Some(end) = dosing::day_number(&m.end_date) {
        return Some(end.max(start));
    }
    m.days.filter(|d| *d > 0).map(|d| start + i64::from(d) - 1)
}

/// Where one line stands on day `today` with a window of `window` days.
pub fn standing(m: &MedicationFact, today: i64, window: i64) -> Option<Standing> {
    let start = dosing::day_number(&m.start_date)?;
    if start > today {
        return Some(Standing::Upcoming {
            in_days: start - today,
        });
    }
    let certain_end = dosing::day_number(&m.end_date).map(|e| e.max(start));
    let at_least = least_end(m, start);
    Some(match (certain_end, at_least) {
        (Some(end), _) if end >= today => Standing::Active,
        (Some(end), _) if today - end <= window => Standing::Ended {
            days_ago: today - end,
        },
        (Some(_), _) => Standing::Past,
        // End not known: surely active while its least period lasts, then unknown.
        (None, Some(least)) if least >= today => Standing::Active,
        (None, _) if today - start <= window => Standing::EndUnknown {
            started_days_ago: today - start,
        },
        (None, _) => Standing::Past,
    })
}

/// Keys under which lines are the same drug: the YJ code's first 7 characters (same
/// ingredient), else the HOT code's first 7 digits (same drug), else the normalised name.
/// A HOT code seen next to a YJ code on some line maps to that YJ key, so a pharmacy line
/// sent with the HOT code only still joins the prescription sent with both.
pub struct DrugKeys {
    hot_to_yj: BTreeMap<String, String>,
}

impl DrugKeys {
    pub fn new(lines: &[MedicationLine]) -> DrugKeys {
        let mut hot_to_yj = BTreeMap::new();
        for l in lines {
            let f = &l.line.fact;
            if let (Some(h), Some(y)) = (f.hot_code.get(..7), f.yj_code.get(..7)) {
                hot_to_yj
                    .entry(h.to_owned())
                    .or_insert_with(|| y.to_owned());
            }
        }
        DrugKeys { hot_to_yj }
    }

    pub fn key(&self, m: &MedicationFact) -> String {
        if let Some(yj) = m.yj_code.get(..7) {
            return format!("YJ:{yj}");
        }
        if let Some(h) = m.hot_code.get(..7) {
            return match self.hot_to_yj.get(h) {
                Some(yj) => format!("YJ:{yj}"),
                None => format!("HOT:{h}"),
            };
        }
        // A local code only means something within its facility: the name decides.
        format!("name:{}", mpi::name_key(&m.drug_name))
    }
}

/// One source of a current drug: a facility's line of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DrugSource {
    pub source: FacilityCode,
    pub kind: String,
    pub version_id: i64,
    pub start_date: String,
    pub end_date: String,
}

/// One drug on the current list: its main line (the prescriber's, newest), and every line
/// of the same drug that is the same treatment seen elsewhere (the pharmacy's copy, the
/// ward's administration).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CurrentMedication {
    pub key: String,
    pub line: MedicationLine,
    pub standing: Standing,
    /// Every line merged into this row (the main line first), one per source line.
    pub sources: Vec<DrugSource>,
}

impl CurrentMedication {
    /// The facilities of the row, in order of first appearance.
    pub fn facilities(&self) -> Vec<FacilityCode> {
        let mut out: Vec<FacilityCode> = Vec::new();
        for s in &self.sources {
            if !out.contains(&s.source) {
                out.push(s.source.clone());
            }
        }
        out
    }
}

/// Is this line a prescriber's own order (not a pharmacy copy, not an administration)?
fn prescribes(l: &MedicationLine, pharmacies: &BTreeSet<FacilityCode>) -> bool {
    !is_administration(&l.line.kind) && !pharmacies.contains(&l.line.source)
}

fn source_of(l: &MedicationLine) -> DrugSource {
    DrugSource {
        source: l.line.source.clone(),
        kind: l.line.kind.clone(),
        version_id: l.line.version_id,
        start_date: l.line.fact.start_date.clone(),
        end_date: l.line.fact.end_date.clone(),
    }
}

/// How likely `copy` (a pharmacy's or an administration line) is of `prescription`: the
/// same start (the dispensing of that prescription) first, then a start inside its period,
/// then the nearest start.
fn closeness(prescription: &MedicationFact, copy: &MedicationFact) -> (u8, i64) {
    let (Some(ps), Some(cs)) = (
        dosing::day_number(&prescription.start_date),
        dosing::day_number(&copy.start_date),
    ) else {
        return (3, 0);
    };
    let pe = least_end(prescription, ps).unwrap_or(ps);
    let rank = if ps == cs {
        0
    } else if (ps..=pe).contains(&cs) {
        1
    } else {
        2
    };
    (rank, (ps - cs).abs())
}

/// The current medications on day `today`: one row per (drug, prescribing facility), the
/// pharmacy's and the administrations' lines of the same drug joined to it; lines of
/// pharmacies or administrations with no prescription of the drug form their own row.
/// Lines not given (refused, not administered) never count.
pub fn current_medications(
    lines: &[MedicationLine],
    today: i64,
    window: i64,
    pharmacies: &BTreeSet<FacilityCode>,
) -> Vec<CurrentMedication> {
    let keys = DrugKeys::new(lines);
    let mut rows: Vec<CurrentMedication> = Vec::new();
    let mut index: BTreeMap<(String, FacilityCode), usize> = BTreeMap::new();
    let mut live: Vec<(&MedicationLine, Standing, String)> = lines
        .iter()
        .filter(|l| !not_given(l))
        .filter_map(|l| {
            let s = standing(&l.line.fact, today, window)?;
            s.is_current().then(|| (l, s, keys.key(&l.line.fact)))
        })
        .collect();
    // Prescribers first, newest first: they open the rows the others join.
    live.sort_by(|a, b| {
        prescribes(b.0, pharmacies)
            .cmp(&prescribes(a.0, pharmacies))
            .then(b.0.line.fact.start_date.cmp(&a.0.line.fact.start_date))
    });
    for (l, s, key) in live {
        let own = (key.clone(), l.line.source.clone());
        let row = if prescribes(l, pharmacies) {
            index.get(&own).copied()
        } else {
            // Join the same facility's prescription of the drug, else the prescriber's
            // whose line it most likely is (see `closeness`).
            index.get(&own).copied().or_else(|| {
                rows.iter()
                    .enumerate()
                    .filter(|(_, r)| r.key == key && prescribes(&r.line, pharmacies))
                    .min_by_key(|(_, r)| closeness(&r.line.line.fact, &l.line.fact))
                    .map(|(i, _)| i)
            })
        };
        match row {
            Some(i) => {
                let r = &mut rows[i];
                r.sources.push(source_of(l));
                if s.rank() < r.standing.rank() {
                    r.standing = s;
                }
            }
            None => {
                index.insert(own, rows.len());
                rows.push(CurrentMedication {
                    key,
                    line: l.clone(),
                    standing: s,
                    sources: vec![source_of(l)],
                });
            }
        }
    }
    rows.sort_by(|a, b| {
        a.standing
            .rank()
            .cmp(&b.standing.rank())
            .then(a.line.line.fact.drug_name.cmp(&b.line.line.fact.drug_name))
    });
    rows
}

/// The newest prescription of each drug (all facilities), with how many prescriptions of
/// it there are; administrations and lines not given are not prescriptions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LatestPrescription {
    pub key: String,
    pub line: MedicationLine,
    pub count: usize,
    pub facilities: Vec<FacilityCode>,
}

pub fn latest_per_drug(lines: &[MedicationLine]) -> Vec<LatestPrescription> {
    let keys = DrugKeys::new(lines);
    let mut by_key: BTreeMap<String, LatestPrescription> = BTreeMap::new();
    for l in lines
        .iter()
        .filter(|l| !is_administration(&l.line.kind) && !not_given(l))
    {
        let key = keys.key(&l.line.fact);
        let e = by_key
            .entry(key.clone())
            .or_insert_with(|| LatestPrescription {
                key,
                line: l.clone(),
                count: 0,
                facilities: Vec::new(),
            });
        e.count += 1;
        if !e.facilities.contains(&l.line.source) {
            e.facilities.push(l.line.source.clone());
        }
        let newer = (&l.line.fact.start_date, &l.line.fact.ordered_at)
            > (&e.line.line.fact.start_date, &e.line.line.fact.ordered_at);
        if newer {
            e.line = l.clone();
        }
    }
    let mut out: Vec<LatestPrescription> = by_key.into_values().collect();
    out.sort_by(|a, b| {
        b.line
            .line
            .fact
            .start_date
            .cmp(&a.line.line.fact.start_date)
            .then(a.line.line.fact.drug_name.cmp(&b.line.line.fact.drug_name))
    });
    out
}

/// What a calendar cell says about a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mark {
    /// Nothing known.
    None,
    /// Inside a period whose taking days are not known with certainty.
    Uncertain,
    /// As needed (頓用) available.
    AsNeeded,
    /// A scheduled taking day.
    Scheduled,
    /// Administration refused or not given.
    NotGiven,
    /// Administered / dispensed that day.
    Given,
}

impl Mark {
    /// The symbol shown in the cell (its legend is on the page).
    pub fn symbol(&self) -> &'static str {
        match self {
            Mark::None => "",
            Mark::Uncertain => "?",
            Mark::AsNeeded => "○",
            Mark::Scheduled => "●",
            Mark::NotGiven => "×",
            Mark::Given => "✓",
        }
    }
}

/// One drug row of the calendar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CalendarRow {
    pub key: String,
    pub drug_name: String,
    pub facilities: Vec<FacilityCode>,
    /// One per [`MedicationCalendar::days`].
    pub cells: Vec<Mark>,
}

/// Drugs × days over every facility.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MedicationCalendar {
    /// `YYYYMMDD`, oldest first.
    pub days: Vec<String>,
    pub rows: Vec<CalendarRow>,
}

/// The days (day numbers) a line marks and how.
fn line_marks(m: &MedicationFact, kind: &str) -> Vec<(i64, Mark)> {
    let Some(start) = dosing::day_number(&m.start_date) else {
        return Vec::new();
    };
    if is_administration(kind) {
        let mark = if m.detail.not_given() {
            Mark::NotGiven
        } else {
            Mark::Given
        };
        let end = dosing::day_number(&m.end_date).unwrap_or(start).max(start);
        return (start..=end.min(start + 366)).map(|d| (d, mark)).collect();
    }
    let rhythm = if m.detail.rhythm.is_empty() {
        // Stored before rhythms were read: daily is what it claimed.
        Rhythm::Daily
    } else {
        Rhythm::decode(&m.detail.rhythm)
    };
    let end = dosing::day_number(&m.end_date).map(|e| e.max(start));
    match (&rhythm, m.days, end) {
        (Rhythm::AsNeeded, _, _) => {
            let last = end.or_else(|| least_end(m, start)).unwrap_or(start);
            (start..=last.min(start + 366))
                .map(|d| (d, Mark::AsNeeded))
                .collect()
        }
        (Rhythm::Daily | Rhythm::EveryDays(_) | Rhythm::Weekdays(_), _, Some(end)) => {
            let scheduled: BTreeSet<i64> = match m.days {
                Some(days) => dosing::taking_dates(&m.start_date, days, &rhythm)
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|d| dosing::day_number(d))
                    .collect(),
                None => BTreeSet::new(),
            };
            (start..=end.min(start + 366))
                .filter_map(|d| {
                    let on = if scheduled.is_empty() {
                        // TQ1-8 sent without a day count: every day of the rhythm.
                        match &rhythm {
                            Rhythm::EveryDays(n) => (d - start) % i64::from(*n) == 0,
                            Rhythm::Weekdays(w) => w.contains(&dosing::weekday(d)),
                            _ => true,
                        }
                    } else {
                        scheduled.contains(&d)
                    };
                    on.then_some((d, Mark::Scheduled))
                })
                .collect()
        }
        _ => {
            // Span not certain: the days as sent are the least it covers.
            let last = least_end(m, start).unwrap_or(start);
            (start..=last.min(start + 366))
                .map(|d| (d, Mark::Uncertain))
                .collect()
        }
    }
}

/// The calendar of the days `from..=to` (day numbers): one row per drug, every facility's
/// lines of it together; a cell keeps the strongest mark of the day.
pub fn calendar(lines: &[MedicationLine], from: i64, to: i64) -> MedicationCalendar {
    let keys = DrugKeys::new(lines);
    let width = (to - from + 1).max(0) as usize;
    let mut rows: BTreeMap<String, CalendarRow> = BTreeMap::new();
    for l in lines {
        let marks = line_marks(&l.line.fact, &l.line.kind);
        if !marks.iter().any(|(d, _)| (from..=to).contains(d)) {
            continue;
        }
        let key = keys.key(&l.line.fact);
        let row = rows.entry(key.clone()).or_insert_with(|| CalendarRow {
            key,
            drug_name: l.line.fact.drug_name.clone(),
            facilities: Vec::new(),
            cells: vec![Mark::None; width],
        });
        if !row.facilities.contains(&l.line.source) {
            row.facilities.push(l.line.source.clone());
        }
        for (d, mark) in marks {
            if let Some(c) = usize::try_from(d - from)
                .ok()
                .and_then(|i| row.cells.get_mut(i))
            {
                *c = (*c).max(mark);
            }
        }
    }
    let mut rows: Vec<CalendarRow> = rows.into_values().collect();
    rows.sort_by(|a, b| a.drug_name.cmp(&b.drug_name));
    MedicationCalendar {
        days: (from..=to).map(dosing::date_of_day).collect(),
        rows,
    }
}

/// Duplicate prescriptions of one drug: every line and facility involved, one warning.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DuplicateGroup {
    /// What matched (`YJ:2149039` same ingredient, `HOT:1086652` same drug), each once.
    pub same: Vec<String>,
    pub drug_names: Vec<String>,
    pub facilities: Vec<FacilityCode>,
    pub lines: Vec<MedicationLine>,
    /// `YYYYMMDD`: from the first overlap's start to the last overlap's end.
    pub overlap_from: String,
    pub overlap_to: String,
}

/// The pairwise duplicates grouped per drug: lines linked by any pair are one group.
pub fn group_duplicates(pairs: &[DuplicatePrescription]) -> Vec<DuplicateGroup> {
    type LineId = (FacilityCode, i64, u32);
    let id =
        |l: &MedicationLine| -> LineId { (l.line.source.clone(), l.line.version_id, l.line.line) };
    let mut groups: Vec<DuplicateGroup> = Vec::new();
    let mut members: Vec<BTreeSet<LineId>> = Vec::new();
    for p in pairs {
        let (a, b) = (id(&p.first), id(&p.second));
        let hits: Vec<usize> = members
            .iter()
            .enumerate()
            .filter(|(_, m)| m.contains(&a) || m.contains(&b))
            .map(|(i, _)| i)
            .collect();
        // Merge every group this pair touches into the first one.
        let target = match hits.first() {
            Some(&t) => t,
            None => {
                groups.push(DuplicateGroup {
                    same: Vec::new(),
                    drug_names: Vec::new(),
                    facilities: Vec::new(),
                    lines: Vec::new(),
                    overlap_from: p.overlap_from.clone(),
                    overlap_to: p.overlap_to.clone(),
                });
                members.push(BTreeSet::new());
                groups.len() - 1
            }
        };
        for &other in hits.iter().skip(1).rev() {
            let g = groups.remove(other);
            let m = members.remove(other);
            members[target].extend(m);
            let t = &mut groups[target];
            t.lines.extend(g.lines);
            t.same.extend(g.same);
            t.overlap_from = t.overlap_from.clone().min(g.overlap_from);
            t.overlap_to = t.overlap_to.clone().max(g.overlap_to);
        }
        let g = &mut groups[target];
        for l in [&p.first, &p.second] {
            if members[target].insert(id(l)) {
                g.lines.push(l.clone());
            }
        }
        g.same.push(p.same.clone());
        g.overlap_from = g.overlap_from.clone().min(p.overlap_from.clone());
        g.overlap_to = g.overlap_to.clone().max(p.overlap_to.clone());
    }
    for g in &mut groups {
        g.same.sort();
        g.same.dedup();
        g.lines.sort_by(|a, b| {
            a.line
                .fact
                .start_date
                .cmp(&b.line.fact.start_date)
                .then(a.line.source.cmp(&b.line.source))
        });
        for l in &g.lines {
            if !g.facilities.contains(&l.line.source) {
                g.facilities.push(l.line.source.clone());
            }
            if !g.drug_names.contains(&l.line.fact.drug_name) {
                g.drug_names.push(l.line.fact.drug_name.clone());
            }
        }
    }
    groups
}

/// A safety check that could not be made for this viewer: the data it needs was withheld.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UncheckedWarning {
    /// `duplicate_prescriptions`, `drug_allergies`, `duplicate_tests`.
    pub check: &'static str,
    /// `二重投薬 (duplicate prescriptions)` …
    pub label: &'static str,
    /// The refusal reasons that withheld what it needs.
    pub reasons: Vec<String>,
}

/// The checks a refusal leaves incomplete: duplicate prescriptions need prescriptions and
/// injections, drug allergies need those and allergies, duplicate tests need lab results.
/// `with_tests`: whether the screen checks duplicate tests at all.
pub fn unchecked(refused: &[AccessRefusal], with_tests: bool) -> Vec<UncheckedWarning> {
    let meds = [RecordCategory::Prescriptions, RecordCategory::Injections];
    let mut checks: Vec<(&'static str, &'static str, Vec<RecordCategory>)> = vec![
        (
            "duplicate_prescriptions",
            "二重投薬 (duplicate prescriptions)",
            meds.to_vec(),
        ),
        (
            "drug_allergies",
            "薬剤アレルギー (drug allergies)",
            [&meds[..], &[RecordCategory::Allergies]].concat(),
        ),
    ];
    if with_tests {
        checks.push((
            "duplicate_tests",
            "重複検査 (duplicate tests)",
            vec![RecordCategory::LabResults],
        ));
    }
    checks
        .into_iter()
        .filter_map(|(check, label, needs)| {
            let reasons: Vec<String> = refused
                .iter()
                .filter(|r| needs.iter().any(|c| r.covers(*c)))
                .map(|r| r.reason.clone())
                .collect();
            (!reasons.is_empty()).then_some(UncheckedWarning {
                check,
                label,
                reasons,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::viewer::Sourced;
    use store::MedicationDetail;

    fn day(d: &str) -> i64 {
        dosing::day_number(d).expect("date")
    }

    fn line(source: &str, kind: &str, f: MedicationFact) -> MedicationLine {
        MedicationLine {
            line: Sourced {
                source: FacilityCode::parse(source).expect("code"),
                local_id: "1".into(),
                version_id: 1,
                line: 0,
                kind: kind.into(),
                date: f.start_date.clone(),
                order_no: String::new(),
                fact: f,
            },
            category: RecordCategory::Prescriptions,
        }
    }

    fn fact(yj: &str, start: &str, end: &str, days: Option<u32>) -> MedicationFact {
        MedicationFact {
            yj_code: yj.into(),
            drug_name: format!("drug {yj}"),
            start_date: start.into(),
            end_date: end.into(),
            days,
            ..Default::default()
        }
    }

    #[test]
    fn standing_counts_ended_days_and_never_ends_an_unknown_span_on_its_start_day() {
        let today = day("20260320");
        let s = |f: MedicationFact| standing(&f, today, 30);
        assert_eq!(
            s(fact("", "20260301", "20260331", Some(31))),
            Some(Standing::Active)
        );
        assert_eq!(
            s(fact("", "20260201", "20260310", None)),
            Some(Standing::Ended { days_ago: 10 })
        );
        assert_eq!(
            s(fact("", "20260101", "20260201", None)),
            Some(Standing::Past)
        );
        // No day count: not "current only on its start day".
        assert_eq!(
            s(fact("", "20260310", "", None)),
            Some(Standing::EndUnknown {
                started_days_ago: 10
            })
        );
        // Uncertain span with 14 days sent: surely active for those days.
        assert_eq!(
            s(fact("", "20260310", "", Some(14))),
            Some(Standing::Active)
        );
        assert_eq!(s(fact("", "20260101", "", None)), Some(Standing::Past));
        assert_eq!(
            s(fact("", "20260322", "20260330", None)),
            Some(Standing::Upcoming { in_days: 2 })
        );
        assert_eq!(s(fact("", "", "", None)), None);
    }

    #[test]
    fn prescription_and_pharmacy_copy_are_one_row_with_both_sources() {
        let (clinic, pharmacy, hospital) = ("0410000001", "0440000003", "0410000002");
        let pharmacies: BTreeSet<FacilityCode> = [FacilityCode::parse(pharmacy).unwrap()].into();
        let yj = "2149039F1031";
        let mut pharmacy_copy = fact("", "20260301", "20260328", Some(28));
        pharmacy_copy.hot_code = "1086652010101".into();
        let mut with_hot = fact(yj, "20260301", "20260328", Some(28));
        with_hot.hot_code = "108665201".into();
        let lines = [
            line(clinic, "OMP-01", with_hot),
            // The pharmacy sent the HOT code only: it still joins through the HOT→YJ map.
            line(pharmacy, "OMP-01", pharmacy_copy.clone()),
            line(pharmacy, "OMP-11", fact(yj, "20260301", "20260301", None)),
            // Another prescriber: its own row (and a duplicate warning elsewhere).
            line(
                hospital,
                "OMP-01",
                fact(yj, "20260315", "20260411", Some(28)),
            ),
            // Ended 5 days before today: still on the list, with its age.
            line(
                clinic,
                "OMP-01",
                fact("1149019F1560", "20260201", "20260315", None),
            ),
        ];
        let rows = current_medications(&lines, day("20260320"), 30, &pharmacies);
        assert_eq!(rows.len(), 3, "{rows:#?}");
        let clinic_row = rows
            .iter()
            .find(|r| r.line.line.source.as_str() == clinic && r.key == "YJ:2149039")
            .expect("clinic row");
        assert_eq!(
            clinic_row
                .sources
                .iter()
                .map(|s| (s.source.as_str(), s.kind.as_str()))
                .collect::<Vec<_>>(),
            [
                (clinic, "OMP-01"),
                (pharmacy, "OMP-01"),
                (pharmacy, "OMP-11")
            ]
        );
        assert_eq!(clinic_row.facilities().len(), 2);
        let ended = rows.last().expect("ended");
        assert_eq!(ended.standing, Standing::Ended { days_ago: 5 });
        assert_eq!(ended.standing.label(), "5日前に終了 (ended 5 days ago)");
    }

    #[test]
    fn refused_administrations_never_count_as_taken() {
        let mut refused = fact("2139005F1160", "20260319", "20260319", None);
        refused.detail = Box::new(MedicationDetail {
            status: "RE".into(),
            ..Default::default()
        });
        let lines = [line("0410000001", "OMP-12", refused)];
        assert!(current_medications(&lines, day("20260320"), 30, &BTreeSet::new()).is_empty());
        let cal = calendar(&lines, day("20260318"), day("20260320"));
        assert_eq!(cal.rows[0].cells, [Mark::None, Mark::NotGiven, Mark::None]);
    }

    #[test]
    fn calendar_marks_every_other_day_weekdays_and_uncertain_spans() {
        let mut every_other = fact("2139005F1160", "20260301", "20260313", Some(7));
        every_other.detail.rhythm = "every:2".into();
        let mut weekdays = fact("3999019F1020", "20260302", "20260326", Some(8));
        weekdays.detail.rhythm = "weekdays:0,3".into();
        let mut unknown = fact("3131001M1030", "20260301", "", Some(5));
        unknown.detail.rhythm = "unknown".into();
        let mut prn = fact("1149019F1560", "20260301", "", None);
        prn.detail.rhythm = "as_needed".into();
        let lines = [
            line("0410000001", "OMP-01", every_other),
            line("0410000001", "OMP-01", weekdays),
            line("0410000002", "OMP-01", unknown),
            line("0410000002", "OMP-01", prn),
        ];
        let cal = calendar(&lines, day("20260301"), day("20260307"));
        assert_eq!(cal.days.first().map(String::as_str), Some("20260301"));
        let row = |yj: &str| {
            cal.rows
                .iter()
                .find(|r| r.key == format!("YJ:{}", &yj[..7]))
                .expect("row")
                .cells
                .iter()
                .map(Mark::symbol)
                .collect::<Vec<_>>()
                .join("")
        };
        assert_eq!(row("2139005F1160"), "●●●●");
        assert_eq!(row("3999019F1020"), "●●"); // Mon 2, Thu 5
        assert_eq!(row("3131001M1030"), "?????");
        assert_eq!(row("1149019F1560"), "○");
        let full = |yj: &str| {
            cal.rows
                .iter()
                .find(|r| r.key == format!("YJ:{}", &yj[..7]))
                .expect("row")
                .cells
                .clone()
        };
        assert_eq!(
            full("2139005F1160"),
            [
                Mark::Scheduled,
                Mark::None,
                Mark::Scheduled,
                Mark::None,
                Mark::Scheduled,
                Mark::None,
                Mark::Scheduled
            ]
        );
    }

    #[test]
    fn duplicates_of_one_drug_at_three_facilities_are_one_warning() {
        let yj = "2149039F1031";
        let a = line(
            "0410000001",
            "OMP-01",
            fact(yj, "20260301", "20260328", Some(28)),
        );
        let b = line(
            "0410000002",
            "OMP-01",
            fact(yj, "20260310", "20260406", Some(28)),
        );
        let c = line(
            "0410000003",
            "OMP-01",
            fact(yj, "20260320", "20260416", Some(28)),
        );
        let pair =
            |x: &MedicationLine, y: &MedicationLine, f: &str, t: &str| DuplicatePrescription {
                same: "YJ:2149039".into(),
                first: x.clone(),
                second: y.clone(),
                overlap_from: f.into(),
                overlap_to: t.into(),
            };
        let pairs = [
            pair(&a, &b, "20260310", "20260328"),
            pair(&a, &c, "20260320", "20260328"),
            pair(&b, &c, "20260320", "20260406"),
        ];
        let g = group_duplicates(&pairs);
        assert_eq!(g.len(), 1);
        assert_eq!(g[0].facilities.len(), 3);
        assert_eq!(g[0].lines.len(), 3);
        assert_eq!(g[0].same, ["YJ:2149039"]);
        assert_eq!(
            (g[0].overlap_from.as_str(), g[0].overlap_to.as_str()),
            ("20260310", "20260406")
        );
    }
}
