//! Lab results as the viewer shows them, pure logic over facts already read through the gate:
//! the matrix (tests × dates, every value of a day kept with its own unit and reference
//! range), the cultures (microbiology is read as organisms, not as matrix rows), the newest
//! result per test for the summary, and the duplicate-test warnings (重複検査) grouped per
//! test.
//!
//! Clinical safety: a value is never shown under another result's unit. A row that merges
//! facilities on one JLAC10 code lists every unit it holds; when there is more than one, each
//! value carries its own (see [`LabTestRow::mixed_units`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use model::{FacilityCode, RegionalId};
use serde::Serialize;
use store::{day_number, LabFact};

use crate::access::AccessRefusal;
use crate::viewer::Sourced;

/// One value in the lab matrix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LabCell {
    pub value: String,
    pub unit: String,
    pub reference_range: String,
    /// OBX-8 (`H`, `L`…); empty when normal.
    pub abnormal_flag: String,
    /// OBX-11 (`F` final, `P` preliminary, `C` corrected …).
    pub status: String,
    pub source: FacilityCode,
    pub version_id: i64,
    pub observed_at: String,
    /// NTE comments of the result.
    pub comments: Vec<String>,
}

/// One test (row) of the lab matrix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LabTestRow {
    /// The JLAC10 code, or the facility's local code.
    pub code: String,
    /// JLAC10-coded: rows from different facilities are one row.
    pub jlac10: bool,
    pub name: String,
    /// Every unit the row's values were sent in, as first sent (spellings of one unit,
    /// `mg/dL` and `mg/dl`, count as one), oldest first.
    pub units: Vec<String>,
    /// Every reference range with its unit (`6.7-8.3 g/dL`), oldest first.
    pub reference_ranges: Vec<String>,
    pub sources: Vec<FacilityCode>,
    /// One entry per [`LabMatrix::dates`]: every value of that day, oldest first (repeated
    /// measurements of one day are all kept).
    pub cells: Vec<Vec<LabCell>>,
}

impl LabTestRow {
    /// The row holds values in more than one unit: each value must show its own.
    pub fn mixed_units(&self) -> bool {
        self.units.len() > 1
    }
}

/// One microbiology result (a culture: one OBR group of one message).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CultureResult {
    pub source: FacilityCode,
    pub version_id: i64,
    pub observed_at: String,
    pub specimen: String,
    pub panel: String,
    /// OBR-25, else the result status of the rows (`P` when any is preliminary).
    pub status: String,
    /// Organism names as sent, in message order.
    pub organisms: Vec<String>,
    /// Rows about the whole specimen (`グラム染色: GNR 2+`).
    pub findings: Vec<String>,
    /// Drugs judged resistant (`R`), with their organism: `ABPC (Escherichia coli)`.
    pub resistant: Vec<String>,
}

/// Tests × dates, and the cultures of the same period.
#[derive(Debug, Clone, Serialize)]
pub struct LabMatrix {
    pub regional_id: RegionalId,
    /// `YYYYMMDD`, oldest first.
    pub dates: Vec<String>,
    pub tests: Vec<LabTestRow>,
    /// Newest first.
    pub cultures: Vec<CultureResult>,
    /// Results of orders a cancel message sent as a file of its own cancelled
    /// ([`crate::cancels`]), newest first: shown struck through, in no row, chart or check.
    pub cancelled: Vec<crate::cancels::Cancelled<crate::Sourced<LabFact>>>,
    /// Duplicate tests of the last [`crate::DUPLICATE_LOOKBACK_DAYS`] (not with a code filter).
    pub duplicate_tests: Vec<DuplicateTest>,
    pub refused: Vec<AccessRefusal>,
    pub break_glass: Option<policy::BreakGlass>,
    pub facility_names: BTreeMap<FacilityCode, String>,
}

/// Which lab results the matrix reads: `YYYYMMDD` bounds (inclusive) and test codes
/// (empty = every test).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabQuery {
    pub from: Option<String>,
    pub to: Option<String>,
    pub codes: Vec<String>,
}

/// One visit (facility, day) at which a repeated test was done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TestOccurrence {
    pub source: FacilityCode,
    /// `YYYYMMDD`.
    pub date: String,
}

/// The same test (same JLAC10 analyte) done at more than one facility, each time within
/// [`crate::DUPLICATE_TEST_DAYS`] of the one before: one warning per test naming every
/// facility and day. Tests repeated at exactly the same visits (a panel) share one warning.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DuplicateTest {
    /// First 5 characters of the JLAC10 codes.
    pub analytes: Vec<String>,
    /// Test names, one per analyte.
    pub names: Vec<String>,
    /// Every (facility, day), oldest first.
    pub occurrences: Vec<TestOccurrence>,
    /// The facilities, in order of first occurrence.
    pub facilities: Vec<FacilityCode>,
    /// Days from the first to the last occurrence.
    pub days_apart: i64,
}

/// Canonical spelling of a unit, for telling whether two values share one: width and
/// spaces folded, `µ`/`μ`/`u` alike, letters lower-cased except `M` (mega ≠ milli).
pub fn unit_key(unit: &str) -> String {
    let mut out = String::new();
    for c in unit.chars() {
        let c = match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            'µ' | 'μ' => 'u',
            c => c,
        };
        if c.is_whitespace() {
            continue;
        }
        if c == 'M' {
            out.push(c);
        } else {
            out.extend(c.to_lowercase());
        }
    }
    out
}

/// The key that puts results of the same test on one row: JLAC10 across facilities, a local
/// code only within its facility.
pub fn test_key(l: &Sourced<LabFact>) -> (bool, String, String) {
    if l.fact.is_jlac10() {
        (true, l.fact.code.clone(), String::new())
    } else {
        (false, l.fact.code.clone(), l.source.to_string())
    }
}

/// Dates, rows and cultures of the results read.
pub fn matrix(labs: &[Sourced<LabFact>]) -> (Vec<String>, Vec<LabTestRow>, Vec<CultureResult>) {
    let (cultures, plain): (Vec<&Sourced<LabFact>>, Vec<&Sourced<LabFact>>) =
        labs.iter().partition(|l| l.fact.detail.in_culture());
    let dates: BTreeSet<String> = plain
        .iter()
        .filter_map(|l| l.fact.observed_at.get(..8).map(str::to_owned))
        .collect();
    let column: HashMap<&str, usize> = dates
        .iter()
        .enumerate()
        .map(|(i, d)| (d.as_str(), i))
        .collect();
    // Oldest first, so units and ranges are listed in the order they appeared.
    let mut ordered = plain;
    ordered.sort_by(|a, b| {
        (&a.fact.observed_at, a.version_id, a.line).cmp(&(
            &b.fact.observed_at,
            b.version_id,
            b.line,
        ))
    });
    let mut rows: BTreeMap<(bool, String, String), LabTestRow> = BTreeMap::new();
    for l in ordered {
        let Some(&col) = l.fact.observed_at.get(..8).and_then(|d| column.get(d)) else {
            continue;
        };
        let key = test_key(l);
        let row = rows.entry(key.clone()).or_insert_with(|| LabTestRow {
            code: l.fact.code.clone(),
            jlac10: key.0,
            name: l.fact.name.clone(),
            units: Vec::new(),
            reference_ranges: Vec::new(),
            sources: Vec::new(),
            cells: vec![Vec::new(); dates.len()],
        });
        if !row.sources.contains(&l.source) {
            row.sources.push(l.source.clone());
        }
        let f = &l.fact;
        if !f.unit.trim().is_empty() && !row.units.iter().any(|u| unit_key(u) == unit_key(&f.unit))
        {
            row.units.push(f.unit.trim().to_owned());
        }
        let range = [f.reference_range.trim(), f.unit.trim()]
            .iter()
            .filter(|s| !s.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(" ");
        if !f.reference_range.trim().is_empty() && !row.reference_ranges.contains(&range) {
            row.reference_ranges.push(range);
        }
        row.cells[col].push(LabCell {
            value: f.value.clone(),
            unit: f.unit.clone(),
            reference_range: f.reference_range.clone(),
            abnormal_flag: f.abnormal_flag.clone(),
            status: f.status.clone(),
            source: l.source.clone(),
            version_id: l.version_id,
            observed_at: f.observed_at.clone(),
            comments: f.detail.comments.clone(),
        });
    }
    let mut tests: Vec<LabTestRow> = rows.into_values().collect();
    // JLAC10 rows first (they line up across facilities), then local codes.
    tests.sort_by(|a, b| b.jlac10.cmp(&a.jlac10).then(a.code.cmp(&b.code)));
    (
        dates.into_iter().collect(),
        tests,
        culture_results(&cultures),
    )
}

/// The cultures among the facts, one per (facility, version, specimen) — a susceptibility
/// group sent apart from its culture (OBR-26) joins it — newest first.
pub fn culture_results(rows: &[&Sourced<LabFact>]) -> Vec<CultureResult> {
    let mut by: BTreeMap<(FacilityCode, i64, String), CultureResult> = BTreeMap::new();
    let mut sorted: Vec<&&Sourced<LabFact>> = rows.iter().collect();
    sorted.sort_by_key(|l| (l.version_id, l.line));
    for l in sorted {
        let d = &l.fact.detail;
        let c = by
            .entry((l.source.clone(), l.version_id, d.specimen.clone()))
            .or_insert_with(|| CultureResult {
                source: l.source.clone(),
                version_id: l.version_id,
                observed_at: l.fact.observed_at.clone(),
                specimen: d.specimen.clone(),
                panel: d.panel.clone(),
                status: d.report_status.clone(),
                organisms: Vec::new(),
                findings: Vec::new(),
                resistant: Vec::new(),
            });
        if c.status.is_empty() || (l.fact.status == "P" && d.report_status.is_empty()) {
            c.status = l.fact.status.clone();
        }
        match d.culture_role.as_str() {
            "organism" if !c.organisms.contains(&l.fact.value) => {
                c.organisms.push(l.fact.value.clone())
            }
            "specimen" => c
                .findings
                .push(format!("{}: {}", l.fact.name, l.fact.value)),
            "susceptibility" if l.fact.abnormal_flag.trim() == "R" => c
                .resistant
                .push(format!("{} ({})", l.fact.name, d.organism)),
            _ => {}
        }
    }
    let mut out: Vec<CultureResult> = by.into_values().collect();
    out.sort_by(|a, b| {
        b.observed_at
            .cmp(&a.observed_at)
            .then(b.version_id.cmp(&a.version_id))
    });
    out
}

/// The newest result of each test (JLAC10 tests of all facilities together), by code.
/// Culture rows are not tests of their own (their code names "the organism", "a drug").
pub fn latest(mut labs: Vec<Sourced<LabFact>>) -> Vec<Sourced<LabFact>> {
    labs.retain(|l| !l.fact.detail.in_culture());
    labs.sort_by(|a, b| {
        (&b.fact.observed_at, b.version_id).cmp(&(&a.fact.observed_at, a.version_id))
    });
    let mut seen = BTreeSet::new();
    let mut out: Vec<Sourced<LabFact>> = labs
        .into_iter()
        .filter(|l| seen.insert(test_key(l)))
        .collect();
    out.sort_by(|a, b| a.fact.code.cmp(&b.fact.code));
    out
}

/// Duplicate tests among `labs`: per JLAC10 analyte, runs of results each within `within`
/// days of the one before that involve more than one facility. Cultures are left out
/// (repeating a culture is how its course is followed).
pub fn duplicate_tests(labs: &[Sourced<LabFact>], within: i64) -> Vec<DuplicateTest> {
    // Analyte → (test name, every (day, facility) it was done).
    type Visits = BTreeSet<(i64, FacilityCode)>;
    let mut by_analyte: BTreeMap<&str, (String, Visits)> = BTreeMap::new();
    for l in labs {
        if !l.fact.is_jlac10() || l.fact.detail.in_culture() {
            continue;
        }
        let (Some(analyte), Some(day)) = (l.fact.code.get(..5), day_number(&l.fact.observed_at))
        else {
            continue;
        };
        let e = by_analyte
            .entry(analyte)
            .or_insert_with(|| (l.fact.name.clone(), BTreeSet::new()));
        e.1.insert((day, l.source.clone()));
    }
    let mut out: Vec<DuplicateTest> = Vec::new();
    for (analyte, (name, visits)) in by_analyte {
        let visits: Vec<(i64, FacilityCode)> = visits.into_iter().collect();
        let mut run: Vec<(i64, FacilityCode)> = Vec::new();
        let mut flush = |run: &mut Vec<(i64, FacilityCode)>| {
            let facilities: Vec<FacilityCode> = run.iter().fold(Vec::new(), |mut acc, (_, s)| {
                if !acc.contains(s) {
                    acc.push(s.clone());
                }
                acc
            });
            if facilities.len() > 1 {
                let occurrences: Vec<TestOccurrence> = run
                    .iter()
                    .map(|(d, s)| TestOccurrence {
                        source: s.clone(),
                        date: store::date_of_day(*d),
                    })
                    .collect();
                let days_apart = run.last().map_or(0, |l| l.0) - run.first().map_or(0, |f| f.0);
                // Same visits as another test's warning (a panel): one warning for both.
                match out.iter_mut().find(|w| w.occurrences == occurrences) {
                    Some(w) => {
                        w.analytes.push(analyte.to_owned());
                        w.names.push(name.clone());
                    }
                    None => out.push(DuplicateTest {
                        analytes: vec![analyte.to_owned()],
                        names: vec![name.clone()],
                        occurrences,
                        facilities,
                        days_apart,
                    }),
                }
            }
            run.clear();
        };
        for v in visits {
            if run.last().is_some_and(|last| v.0 - last.0 > within) {
                flush(&mut run);
            }
            run.push(v);
        }
        flush(&mut run);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use store::LabDetail;

    fn lab(
        source: &str,
        code: &str,
        at: &str,
        value: &str,
        unit: &str,
        range: &str,
    ) -> Sourced<LabFact> {
        Sourced {
            source: FacilityCode::parse(source).expect("code"),
            local_id: "1".into(),
            version_id: at.len() as i64,
            line: 0,
            kind: "OML-11".into(),
            date: at.get(..8).unwrap_or_default().into(),
            order_no: String::new(),
            fact: LabFact {
                code: code.into(),
                code_system: "JC10".into(),
                name: "アルブミン".into(),
                value_type: "NM".into(),
                value: value.into(),
                unit: unit.into(),
                reference_range: range.into(),
                observed_at: at.into(),
                ..Default::default()
            },
        }
    }

    const ALB: &str = "3A015000002327101";
    const A: &str = "0410000001";
    const B: &str = "0410000002";
    const C: &str = "0410000003";

    #[test]
    fn every_value_of_a_day_is_kept_with_its_own_unit_and_range() {
        let labs = vec![
            lab(A, ALB, "202603010900", "4.1", "g/dL", "3.8-5.2"),
            lab(A, ALB, "202603011500", "3.9", "g/dL", "3.8-5.2"),
            lab(B, ALB, "202603050900", "39", "g/L", "38-52"),
            lab(B, ALB, "202603060900", "40", "ｇ／Ｌ", "38-52"),
        ];
        let (dates, tests, cultures) = matrix(&labs);
        assert_eq!(dates, ["20260301", "20260305", "20260306"]);
        assert!(cultures.is_empty());
        assert_eq!(tests.len(), 1, "one JLAC10 row for both facilities");
        let row = &tests[0];
        assert_eq!(
            row.units,
            ["g/dL", "g/L"],
            "full-width g/L is the same unit"
        );
        assert!(row.mixed_units());
        assert_eq!(
            row.reference_ranges,
            ["3.8-5.2 g/dL", "38-52 g/L", "38-52 ｇ／Ｌ"]
        );
        let day1: Vec<(&str, &str)> = row.cells[0]
            .iter()
            .map(|c| (c.value.as_str(), c.unit.as_str()))
            .collect();
        assert_eq!(
            day1,
            [("4.1", "g/dL"), ("3.9", "g/dL")],
            "both results of the day"
        );
        assert_eq!(
            (
                row.cells[1][0].value.as_str(),
                row.cells[1][0].unit.as_str()
            ),
            ("39", "g/L")
        );
        assert_eq!(unit_key("mg/dl"), unit_key("mg/dL"));
        assert_eq!(unit_key("μg/mL"), unit_key("ug/mL"));
        assert_ne!(unit_key("MU/L"), unit_key("mU/L"));
    }

    #[test]
    fn culture_rows_become_cultures_not_matrix_rows() {
        let mut org = lab(
            A,
            "6B615000007101201",
            "202603081000",
            "Escherichia coli",
            "",
            "",
        );
        org.fact.detail = LabDetail {
            culture_role: "organism".into(),
            organism: "Escherichia coli".into(),
            organism_key: "1".into(),
            specimen: "尿".into(),
            report_status: "F".into(),
            ..Default::default()
        };
        let mut abpc = org.clone();
        abpc.fact.name = "ABPC".into();
        abpc.fact.value = ">16".into();
        abpc.fact.abnormal_flag = "R".into();
        abpc.fact.detail.culture_role = "susceptibility".into();
        abpc.line = 1;
        let mut org2 = org.clone();
        org2.fact.value = "Enterococcus faecalis".into();
        org2.line = 2;
        let (dates, tests, cultures) = matrix(&[org, abpc, org2]);
        assert!(dates.is_empty() && tests.is_empty());
        assert_eq!(cultures.len(), 1);
        assert_eq!(
            cultures[0].organisms,
            ["Escherichia coli", "Enterococcus faecalis"]
        );
        assert_eq!(cultures[0].resistant, ["ABPC (Escherichia coli)"]);
        assert_eq!(cultures[0].specimen, "尿");
    }

    #[test]
    fn duplicate_tests_are_one_warning_per_test_naming_every_facility() {
        let tp = "3A010000002327101";
        let labs = vec![
            lab(A, ALB, "20260301", "4.1", "g/dL", ""),
            lab(B, ALB, "20260305", "39", "g/L", ""),
            lab(C, ALB, "20260310", "4.0", "g/dL", ""),
            // Same visits, another analyte of the panel: the same warning.
            lab(A, tp, "20260301", "7.1", "g/dL", ""),
            lab(B, tp, "20260305", "7.0", "g/dL", ""),
            lab(C, tp, "20260310", "7.2", "g/dL", ""),
            // Far later at one facility only: nothing more.
            lab(A, ALB, "20260601", "4.1", "g/dL", ""),
        ];
        let w = duplicate_tests(&labs, 14);
        assert_eq!(w.len(), 1, "{w:?}");
        assert_eq!(w[0].analytes, ["3A010", "3A015"]);
        let f: Vec<&str> = w[0].facilities.iter().map(|f| f.as_str()).collect();
        assert_eq!(f, [A, B, C], "one warning names all three, not three pairs");
        assert_eq!(w[0].occurrences.len(), 3);
        assert_eq!(w[0].days_apart, 9);
        // One facility alone is never a duplicate.
        assert!(duplicate_tests(&labs[..1], 14).is_empty());
    }
}
