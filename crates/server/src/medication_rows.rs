//! Medication lines as the summary and the medications tab show them: the dose with each
//! time's dose of an uneven line (never the minimum alone), the usage with its
//! supplementary usages, the days as sent with a flag when the calendar span is not certain,
//! where a drug stands today ("ended N days ago"), and every source of a merged drug.

use std::collections::BTreeMap;

use model::FacilityCode;
use service::{CurrentMedication, DuplicateGroup, LatestPrescription, MedicationCalendar};
use store::MedicationFact;

use crate::html::show_date;

/// Facility name for a code, the code itself when the directory has no name.
pub(crate) fn facility_name(names: &BTreeMap<FacilityCode, String>, code: &FacilityCode) -> String {
    names
        .get(code)
        .filter(|n| !n.is_empty())
        .cloned()
        .unwrap_or_else(|| code.to_string())
}

/// The label of a medication line's data kind.
pub(crate) fn kind_label(kind: &str) -> &'static str {
    match kind {
        "OMP-01" => "処方 (prescription)",
        "OMP-02" => "注射 (injection)",
        "OMP-11" => "処方実施 (dispensed / given)",
        "OMP-12" => "注射実施 (injection given)",
        _ => "処方・注射",
    }
}

/// A date range `start – end` as shown; an unknown end says so.
pub(crate) fn period(m: &MedicationFact) -> String {
    let (start, end) = (&m.start_date, &m.end_date);
    match (start.is_empty(), end.is_empty(), end == start) {
        (true, _, _) => "-".into(),
        (false, true, _) if m.kind_is_single_day() => show_date(start),
        (false, true, _) => format!("{} – 終了日不明 (end unknown)", show_date(start)),
        (false, false, true) => show_date(start),
        (false, false, false) => format!("{} – {}", show_date(start), show_date(end)),
    }
}

trait SingleDay {
    fn kind_is_single_day(&self) -> bool;
}

impl SingleDay for MedicationFact {
    /// An administration line without an end is one moment, not an open period.
    fn kind_is_single_day(&self) -> bool {
        !self.detail.status.is_empty()
    }
}

/// The dose as it must be read: `4-2-1錠 (朝食後 4錠 / 昼食後 2錠 / 夕食後 1錠)` for an uneven
/// line, `1錠` otherwise, with the daily dose.
pub(crate) fn dose(m: &MedicationFact) -> String {
    let mut s = format!("{}{}", m.dose, m.dose_unit);
    let d = &m.detail;
    if d.uneven && !d.per_time.is_empty() {
        let each: Vec<String> = d
            .per_time
            .iter()
            .map(|p| format!("{} {}{}", p.when, p.amount, p.unit))
            .collect();
        s.push_str(&format!(" ({})", each.join(" / ")));
    }
    if !m.daily_dose.is_empty() {
        s.push_str(&format!(" (1日 {})", m.daily_dose));
    }
    s
}

/// Days as sent, with what they mean: `7日 (服用日数 taking days)` for a line with a
/// rhythm, `10回` for an as-needed count, and a flag when the span is not certain.
pub(crate) fn days(m: &MedicationFact) -> String {
    let d = &m.detail;
    let mut s = match m.days {
        Some(n) => format!("{n}日"),
        None => d.occurrences.clone(),
    };
    if m.days.is_some() && !matches!(d.rhythm.as_str(), "" | "daily") {
        s.push_str(" (服用日数 taking days)");
    }
    if d.span_uncertain && d.status.is_empty() {
        s.push_str(" ⚠期間不確定 (span uncertain)");
    }
    s
}

/// What a current drug row shows.
pub(crate) struct CurrentRow {
    pub drug: String,
    pub dose: String,
    pub usage: String,
    pub days: String,
    pub period: String,
    pub standing: String,
    /// `active`, `ended`, `unknown`, `upcoming` (for the row's style).
    pub class: &'static str,
    /// Every source: `A病院 処方 (prescription)`, `B薬局 処方実施 (dispensed / given)`.
    pub sources: Vec<String>,
    pub route: String,
}

pub(crate) fn current_rows(
    rows: &[CurrentMedication],
    names: &BTreeMap<FacilityCode, String>,
) -> Vec<CurrentRow> {
    rows.iter()
        .map(|r| {
            let f = &r.line.line.fact;
            let mut sources: Vec<String> = Vec::new();
            for s in &r.sources {
                let text = format!(
                    "{} {}",
                    facility_name(names, &s.source),
                    kind_label(&s.kind)
                );
                if !sources.contains(&text) {
                    sources.push(text);
                }
            }
            CurrentRow {
                drug: f.drug_name.clone(),
                dose: dose(f),
                usage: f.usage.clone(),
                days: days(f),
                period: period(f),
                standing: r.standing.label(),
                class: match r.standing {
                    service::Standing::Active => "active",
                    service::Standing::Upcoming { .. } => "upcoming",
                    service::Standing::EndUnknown { .. } => "unknown",
                    _ => "ended",
                },
                sources,
                route: route(f),
            }
        })
        .collect()
}

/// Route and site (`外用 · 腰部`).
pub(crate) fn route(m: &MedicationFact) -> String {
    [m.route.as_str(), m.detail.site.as_str()]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" · ")
}

/// One duplicate-prescription warning: every drug name and facility of one drug.
pub(crate) struct DuplicateGroupRow {
    pub drugs: String,
    pub same: String,
    /// `A病院 (2026-03-01 – 2026-03-28)` per line.
    pub lines: Vec<String>,
    pub facilities: usize,
    pub overlap: String,
}

pub(crate) fn duplicate_group_rows(
    groups: &[DuplicateGroup],
    names: &BTreeMap<FacilityCode, String>,
) -> Vec<DuplicateGroupRow> {
    groups
        .iter()
        .map(|g| DuplicateGroupRow {
            drugs: g.drug_names.join("、"),
            same: g.same.join(", "),
            lines: g
                .lines
                .iter()
                .map(|l| {
                    format!(
                        "{} {} ({})",
                        facility_name(names, &l.line.source),
                        l.line.fact.drug_name,
                        period(&l.line.fact)
                    )
                })
                .collect(),
            facilities: g.facilities.len(),
            overlap: match (g.overlap_from.is_empty(), g.overlap_from == g.overlap_to) {
                (true, _) => String::new(),
                (false, true) => show_date(&g.overlap_from),
                (false, false) => format!(
                    "{} – {}",
                    show_date(&g.overlap_from),
                    show_date(&g.overlap_to)
                ),
            },
        })
        .collect()
}

/// One row of "latest prescription per drug".
pub(crate) struct LatestRow {
    pub drug: String,
    pub date: String,
    pub facility: String,
    pub dose: String,
    pub usage: String,
    pub days: String,
    pub count: usize,
    pub facilities: String,
}

pub(crate) fn latest_rows(
    latest: &[LatestPrescription],
    names: &BTreeMap<FacilityCode, String>,
) -> Vec<LatestRow> {
    latest
        .iter()
        .map(|l| {
            let f = &l.line.line.fact;
            LatestRow {
                drug: f.drug_name.clone(),
                date: if f.start_date.is_empty() {
                    "-".into()
                } else {
                    show_date(&f.start_date)
                },
                facility: facility_name(names, &l.line.line.source),
                dose: dose(f),
                usage: f.usage.clone(),
                days: days(f),
                count: l.count,
                facilities: l
                    .facilities
                    .iter()
                    .map(|c| facility_name(names, c))
                    .collect::<Vec<_>>()
                    .join("、"),
            }
        })
        .collect()
}

/// The calendar as the page draws it.
pub(crate) struct CalendarView {
    /// `MM/DD` and whether it is today, per column.
    pub days: Vec<(String, bool)>,
    pub rows: Vec<CalendarRowView>,
}

pub(crate) struct CalendarRowView {
    pub drug: String,
    pub facilities: String,
    /// Symbol and its class per day.
    pub cells: Vec<(&'static str, &'static str)>,
}

pub(crate) fn calendar_view(
    c: &MedicationCalendar,
    names: &BTreeMap<FacilityCode, String>,
    today: &str,
) -> CalendarView {
    CalendarView {
        days: c
            .days
            .iter()
            .map(|d| {
                (
                    format!(
                        "{}/{}",
                        d.get(4..6).unwrap_or(""),
                        d.get(6..8).unwrap_or("")
                    ),
                    d == today,
                )
            })
            .collect(),
        rows: c
            .rows
            .iter()
            .map(|r| CalendarRowView {
                drug: r.drug_name.clone(),
                facilities: r
                    .facilities
                    .iter()
                    .map(|c| facility_name(names, c))
                    .collect::<Vec<_>>()
                    .join("、"),
                cells: r
                    .cells
                    .iter()
                    .map(|m| {
                        let class = match m {
                            service::medications::Mark::None => "",
                            service::medications::Mark::Uncertain => "uncertain",
                            service::medications::Mark::AsNeeded => "prn",
                            service::medications::Mark::Scheduled => "scheduled",
                            service::medications::Mark::NotGiven => "not-given",
                            service::medications::Mark::Given => "given",
                        };
                        (m.symbol(), class)
                    })
                    .collect(),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use store::{MedicationDetail, PerTime};

    #[test]
    fn uneven_dose_shows_every_time_and_days_are_flagged() {
        let m = MedicationFact {
            dose: "4-2-1".into(),
            dose_unit: "錠".into(),
            daily_dose: "7錠".into(),
            days: Some(7),
            detail: Box::new(MedicationDetail {
                uneven: true,
                per_time: vec![
                    PerTime {
                        when: "朝食後".into(),
                        amount: "4".into(),
                        unit: "錠".into(),
                    },
                    PerTime {
                        when: "夕食後".into(),
                        amount: "1".into(),
                        unit: "錠".into(),
                    },
                ],
                rhythm: "daily".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(dose(&m), "4-2-1錠 (朝食後 4錠 / 夕食後 1錠) (1日 7錠)");
        assert_eq!(days(&m), "7日");
        let every_other = MedicationFact {
            days: Some(7),
            detail: Box::new(MedicationDetail {
                rhythm: "every:2".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(days(&every_other), "7日 (服用日数 taking days)");
        let unknown = MedicationFact {
            days: Some(5),
            start_date: "20260301".into(),
            detail: Box::new(MedicationDetail {
                rhythm: "unknown".into(),
                span_uncertain: true,
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(
            days(&unknown),
            "5日 (服用日数 taking days) ⚠期間不確定 (span uncertain)"
        );
        assert_eq!(period(&unknown), "2026-03-01 – 終了日不明 (end unknown)");
    }
}
