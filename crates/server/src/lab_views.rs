//! What the labs tab, its trend chart and the warnings show of lab results: the rows of the
//! matrix (each value with its own unit when a row mixes units, every value of a day, status
//! and H/L letters), the charts (one per unit), the cultures, and the duplicate-test
//! warnings grouped per test. Built from the service's lab structures; no I/O.

use std::collections::BTreeMap;

use model::FacilityCode;
use service::{CultureResult, DuplicateTest, LabCell, LabTestRow};

use crate::chart;
pub(crate) use crate::clinical::{facility_name, shown_flag};
use crate::html::{show_date, show_time};

/// A result status (OBX-11 / OBR-25) a clinician must notice, as a short label; final
/// results (`F`) and unsent statuses get none.
pub(crate) fn status_label(s: &str) -> &'static str {
    match s.trim() {
        "P" => "速報 (preliminary)",
        "C" => "訂正 (corrected)",
        "I" | "O" | "S" => "未確定 (pending)",
        "X" => "中止 (cancelled)",
        "D" => "削除 (deleted)",
        "R" => "未検証 (not verified)",
        _ => "",
    }
}

/// One value inside a matrix cell.
pub(crate) struct CellValue {
    pub value: String,
    /// The value's unit, shown when the row holds several units.
    pub unit: String,
    pub flag: String,
    pub abnormal: bool,
    pub status: &'static str,
    pub title: String,
    pub commented: bool,
}

pub(crate) struct TestView {
    pub name: String,
    pub code: String,
    pub jlac10: bool,
    /// The row's unit when it has one; empty when none or several.
    pub unit: String,
    pub mixed_units: bool,
    /// `g/dL、g/L` when mixed.
    pub units: String,
    pub range: String,
    pub chart: String,
    /// One entry per date; several values when the day had several results.
    pub cells: Vec<Vec<CellValue>>,
}

pub(crate) fn point_of(cell: &LabCell, names: &BTreeMap<FacilityCode, String>) -> chart::Point {
    chart::Point {
        date: cell.observed_at.get(..8).unwrap_or_default().to_owned(),
        at: cell.observed_at.clone(),
        value: cell.value.clone(),
        unit: cell.unit.clone(),
        flag: cell.abnormal_flag.clone(),
        reference_range: cell.reference_range.clone(),
        source: facility_name(names, &cell.source),
    }
}

pub(crate) fn test_view(
    t: &LabTestRow,
    names: &BTreeMap<FacilityCode, String>,
    chart: String,
) -> TestView {
    let mixed = t.mixed_units();
    TestView {
        name: t.name.clone(),
        code: t.code.clone(),
        jlac10: t.jlac10,
        unit: if mixed {
            String::new()
        } else {
            t.units.first().cloned().unwrap_or_default()
        },
        mixed_units: mixed,
        units: t.units.join("、"),
        range: if mixed {
            t.reference_ranges.join(" / ")
        } else {
            // One unit: the ranges without repeating it.
            let unit = t.units.first().map(String::as_str).unwrap_or("");
            t.reference_ranges
                .iter()
                .map(|r| r.strip_suffix(unit).unwrap_or(r).trim().to_owned())
                .collect::<Vec<_>>()
                .join(" / ")
        },
        chart,
        cells: t
            .cells
            .iter()
            .map(|values| {
                values
                    .iter()
                    .map(|c| {
                        let p = point_of(c, names);
                        let range = if c.reference_range.is_empty() {
                            "-".to_owned()
                        } else {
                            format!("{} {}", c.reference_range, c.unit)
                        };
                        let mut title = format!(
                            "{} · {} {} · 基準値 (reference) {} · {}",
                            p.source,
                            c.value,
                            c.unit,
                            range.trim(),
                            show_time(&c.observed_at)
                        );
                        for n in &c.comments {
                            title.push_str(&format!(" · {n}"));
                        }
                        CellValue {
                            value: c.value.clone(),
                            unit: if mixed { c.unit.clone() } else { String::new() },
                            flag: shown_flag(&c.abnormal_flag),
                            abnormal: p.abnormal(),
                            status: status_label(&c.status),
                            title,
                            commented: !c.comments.is_empty(),
                        }
                    })
                    .collect()
            })
            .collect(),
    }
}

pub(crate) struct ChartRow {
    pub date: String,
    pub value: String,
    pub unit: String,
    pub flag: String,
    pub abnormal: bool,
    pub status: &'static str,
    pub range: String,
    pub facility: String,
    /// NTE comments of the result.
    pub comments: String,
}

/// One chart of one unit.
pub(crate) struct UnitChart {
    pub unit: String,
    pub ranges: String,
    pub svg: String,
}

pub(crate) struct ChartView {
    pub name: String,
    pub code: String,
    /// One per unit: never two units on one axis.
    pub charts: Vec<UnitChart>,
    pub rows: Vec<ChartRow>,
}

pub(crate) fn chart_view(row: &LabTestRow, names: &BTreeMap<FacilityCode, String>) -> ChartView {
    let cells: Vec<&LabCell> = row.cells.iter().flatten().collect();
    let points: Vec<chart::Point> = cells.iter().map(|c| point_of(c, names)).collect();
    let charts = chart::by_unit("lab", &row.name, &points)
        .iter()
        .map(|c| UnitChart {
            unit: c.unit.clone(),
            ranges: chart::ranges(c).join(" / "),
            svg: chart::render(c),
        })
        .collect();
    // Newest first in the table: the chart reads left to right, the table top down.
    let rows = cells
        .iter()
        .zip(&points)
        .rev()
        .map(|(c, p)| ChartRow {
            date: show_time(&c.observed_at),
            value: p.value.clone(),
            unit: p.unit.clone(),
            flag: shown_flag(&p.flag),
            abnormal: p.abnormal(),
            status: status_label(&c.status),
            range: p.reference_range.clone(),
            facility: p.source.clone(),
            comments: c.comments.join(" / "),
        })
        .collect();
    ChartView {
        name: row.name.clone(),
        code: row.code.clone(),
        charts,
        rows,
    }
}

pub(crate) struct CultureView {
    pub date: String,
    pub specimen: String,
    pub panel: String,
    pub status: &'static str,
    pub organisms: String,
    pub findings: String,
    pub resistant: String,
    pub facility: String,
    pub href: String,
}

pub(crate) fn culture_views(
    cultures: &[CultureResult],
    names: &BTreeMap<FacilityCode, String>,
    record_link: impl Fn(i64) -> String,
) -> Vec<CultureView> {
    cultures
        .iter()
        .map(|c| CultureView {
            date: show_time(&c.observed_at),
            specimen: c.specimen.clone(),
            panel: c.panel.clone(),
            status: status_label(&c.status),
            organisms: if c.organisms.is_empty() {
                String::new()
            } else {
                c.organisms.join("、")
            },
            findings: c.findings.join("、"),
            resistant: c.resistant.join("、"),
            facility: facility_name(names, &c.source),
            href: record_link(c.version_id),
        })
        .collect()
}

/// One duplicate-test warning as shown: the tests, every facility, every visit.
pub(crate) struct DuplicateTestView {
    pub names: String,
    pub analytes: String,
    pub facilities: String,
    pub visits: String,
    pub days_apart: i64,
}

pub(crate) fn duplicate_views(
    d: &[DuplicateTest],
    names: &BTreeMap<FacilityCode, String>,
) -> Vec<DuplicateTestView> {
    d.iter()
        .map(|w| DuplicateTestView {
            names: w.names.join("、"),
            analytes: w.analytes.join(", "),
            facilities: w
                .facilities
                .iter()
                .map(|f| facility_name(names, f))
                .collect::<Vec<_>>()
                .join("、"),
            visits: w
                .occurrences
                .iter()
                .map(|o| format!("{} {}", facility_name(names, &o.source), show_date(&o.date)))
                .collect::<Vec<_>>()
                .join(" → "),
            days_apart: w.days_apart,
        })
        .collect()
}
