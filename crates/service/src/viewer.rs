//! The clinician viewer's data: one patient's summary (一目でわかる), lab matrix and
//! medication list across every linked facility, with duplicate-prescription (二重投薬) and
//! duplicate-test (重複検査) warnings.
//!
//! Every screen goes through the same gate as [`Network::patient_records`]: each (source
//! facility, local patient, category) is decided with `policy::decide` before anything of it
//! is read, each decision is audited, and a refused category is reported with its reason and
//! never read. Deciding before reading also means a refusal says nothing about whether the
//! facility holds such data at all.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use model::{Demographics, FacilityCode, LocalPatient, Purpose, RecordCategory, RegionalId};
use serde::Serialize;
use store::{
    day_number, AllergyFact, DiagnosisFact, EncounterFact, FactRow, LabFact, LabFilter,
    MedicationFact,
};

use crate::access::{AccessRefusal, Gate};
use crate::{Network, Principal, Result};

/// Days within which the same analyte measured at two facilities is flagged (重複検査).
pub const DUPLICATE_TEST_DAYS: i64 = 14;
/// How far back the medication screen looks for duplicates: older overlaps are history.
pub const DUPLICATE_LOOKBACK_DAYS: i64 = 90;
/// Admissions and discharges shown on the summary.
pub const SUMMARY_ENCOUNTERS: usize = 5;

/// A fact with where it comes from: the source facility, the local patient there, and the
/// record version (for opening the full message through the gate).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sourced<T> {
    pub source: FacilityCode,
    pub local_id: String,
    pub version_id: i64,
    pub line: u32,
    pub kind: String,
    pub date: String,
    pub order_no: String,
    pub fact: T,
}

fn sourced<T>(source: &FacilityCode, local_id: &str, row: FactRow<T>) -> Sourced<T> {
    Sourced {
        source: source.clone(),
        local_id: local_id.to_owned(),
        version_id: row.version_id,
        line: row.line,
        kind: row.kind,
        date: row.date,
        order_no: row.order_no,
        fact: row.fact,
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct SourcedDemographics {
    pub source: FacilityCode,
    pub local_id: String,
    pub demographics: Demographics,
}

/// The one-page summary of a patient.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub regional_id: RegionalId,
    pub demographics: Vec<SourcedDemographics>,
    pub allergies: Vec<Sourced<AllergyFact>>,
    /// Not ended, not deleted (PRB-1 `DE`), newest first.
    pub active_diagnoses: Vec<Sourced<DiagnosisFact>>,
    /// Lines whose period covers today, from every facility.
    pub current_medications: Vec<MedicationLine>,
    /// The newest result of each test (JLAC10 tests of all facilities together).
    pub latest_labs: Vec<Sourced<LabFact>>,
    /// The newest admissions and discharges.
    pub encounters: Vec<Sourced<EncounterFact>>,
    pub refused: Vec<AccessRefusal>,
}

/// One value in the lab matrix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LabCell {
    pub value: String,
    pub unit: String,
    pub reference_range: String,
    /// OBX-8 (`H`, `L`…); empty when normal.
    pub abnormal_flag: String,
    pub source: FacilityCode,
    pub version_id: i64,
    pub observed_at: String,
}

/// One test (row) of the lab matrix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LabTestRow {
    /// The JLAC10 code, or the facility's local code.
    pub code: String,
    /// JLAC10-coded: rows from different facilities are one row.
    pub jlac10: bool,
    pub name: String,
    /// Unit and reference range of the newest value.
    pub unit: String,
    pub reference_range: String,
    pub sources: Vec<FacilityCode>,
    /// One cell per entry of [`LabMatrix::dates`]; the newest value when a day has several.
    pub cells: Vec<Option<LabCell>>,
}

/// Tests × dates.
#[derive(Debug, Clone, Serialize)]
pub struct LabMatrix {
    pub regional_id: RegionalId,
    /// `YYYYMMDD`, oldest first.
    pub dates: Vec<String>,
    pub tests: Vec<LabTestRow>,
    pub refused: Vec<AccessRefusal>,
}

/// One drug line of one facility's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MedicationLine {
    #[serde(flatten)]
    pub line: Sourced<MedicationFact>,
    /// `prescription` (OMP-01) or `injection` (OMP-02).
    pub category: RecordCategory,
}

/// The same drug or ingredient prescribed by two facilities for overlapping days.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DuplicatePrescription {
    /// `YJ:2149039` (same ingredient) or `HOT:1086652` (same drug).
    pub same: String,
    pub first: MedicationLine,
    pub second: MedicationLine,
    /// `YYYYMMDD`, the days both lines cover.
    pub overlap_from: String,
    pub overlap_to: String,
}

/// The same analyte measured at two facilities within [`DUPLICATE_TEST_DAYS`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DuplicateTest {
    /// First 5 characters of the JLAC10 code.
    pub analyte: String,
    pub name: String,
    pub first: Sourced<LabFact>,
    pub second: Sourced<LabFact>,
    pub days_apart: i64,
}

/// The medication screen.
#[derive(Debug, Clone, Serialize)]
pub struct MedicationList {
    pub regional_id: RegionalId,
    /// Every live line, newest start first.
    pub lines: Vec<MedicationLine>,
    pub duplicate_prescriptions: Vec<DuplicatePrescription>,
    pub duplicate_tests: Vec<DuplicateTest>,
    pub refused: Vec<AccessRefusal>,
}

/// The keys under which two lines are "the same": HOT first 7 digits (same drug) and YJ
/// first 7 characters (same ingredient, whatever the maker or strength).
fn same_drug_keys(m: &MedicationFact) -> Vec<String> {
    let mut keys = Vec::new();
    if let Some(yj) = m.yj_code.get(..7) {
        keys.push(format!("YJ:{yj}"));
    }
    if let Some(hot) = m.hot_code.get(..7) {
        keys.push(format!("HOT:{hot}"));
    }
    keys
}

/// A line's days as day numbers; a line without an end covers its start day only.
fn period(m: &MedicationFact) -> Option<(i64, i64)> {
    let start = day_number(&m.start_date)?;
    let end = day_number(&m.end_date).unwrap_or(start);
    Some((start, end.max(start)))
}

fn duplicate_prescriptions(lines: &[MedicationLine], since: i64) -> Vec<DuplicatePrescription> {
    let mut by_key: BTreeMap<String, Vec<(usize, i64, i64)>> = BTreeMap::new();
    for (i, l) in lines.iter().enumerate() {
        let Some((start, end)) = period(&l.line.fact) else {
            continue;
        };
        if end < since {
            continue;
        }
        for key in same_drug_keys(&l.line.fact) {
            by_key.entry(key).or_default().push((i, start, end));
        }
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for (key, group) in by_key {
        for (a, &(i, s1, e1)) in group.iter().enumerate() {
            for &(j, s2, e2) in &group[a + 1..] {
                let (x, y) = (&lines[i], &lines[j]);
                if x.line.source == y.line.source || s1 > e2 || s2 > e1 {
                    continue;
                }
                // One warning per pair of lines, even when both YJ and HOT match.
                if !seen.insert((i.min(j), i.max(j))) {
                    continue;
                }
                let (first, second) = if s1 <= s2 { (x, y) } else { (y, x) };
                out.push(DuplicatePrescription {
                    same: key.clone(),
                    first: first.clone(),
                    second: second.clone(),
                    overlap_from: store::date_of_day(s1.max(s2)),
                    overlap_to: store::date_of_day(e1.min(e2)),
                });
            }
        }
    }
    out
}

fn duplicate_tests(labs: &[Sourced<LabFact>], within: i64) -> Vec<DuplicateTest> {
    let mut by_analyte: BTreeMap<&str, Vec<(i64, &Sourced<LabFact>)>> = BTreeMap::new();
    for l in labs {
        if !l.fact.is_jlac10() {
            continue;
        }
        let (Some(analyte), Some(day)) = (l.fact.code.get(..5), day_number(&l.fact.observed_at))
        else {
            continue;
        };
        by_analyte.entry(analyte).or_default().push((day, l));
    }
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for (analyte, mut group) in by_analyte {
        group.sort_by_key(|(day, l)| (*day, l.version_id, l.line));
        for (a, &(d1, x)) in group.iter().enumerate() {
            for &(d2, y) in &group[a + 1..] {
                if d2 - d1 > within {
                    break;
                }
                // One warning per pair of (facility, day): a panel of several tests of the
                // same analyte on one day is one test.
                if x.source != y.source
                    && seen.insert((analyte, x.source.clone(), d1, y.source.clone(), d2))
                {
                    out.push(DuplicateTest {
                        analyte: analyte.to_owned(),
                        name: x.fact.name.clone(),
                        first: x.clone(),
                        second: y.clone(),
                        days_apart: d2 - d1,
                    });
                }
            }
        }
    }
    out
}

/// The key that puts results of the same test on one row: JLAC10 across facilities, a local
/// code only within its facility.
fn test_key(l: &Sourced<LabFact>) -> (bool, String, String) {
    if l.fact.is_jlac10() {
        (true, l.fact.code.clone(), String::new())
    } else {
        (false, l.fact.code.clone(), l.source.to_string())
    }
}

fn is_active_diagnosis(d: &DiagnosisFact) -> bool {
    d.action != "DE" && d.end_date.is_empty()
}

impl Network {
    /// Live medication lines of every source whose category (prescriptions for OMP-01,
    /// injections for OMP-02) the gate allows; each line counted under its decision.
    async fn gated_medications(
        &self,
        gate: &mut Gate,
        active_on: Option<&str>,
    ) -> Result<Vec<MedicationLine>> {
        let mut out = Vec::new();
        for i in 0..gate.sources.len() {
            let p = gate.allows(i, RecordCategory::Prescriptions);
            let inj = gate.allows(i, RecordCategory::Injections);
            if !p && !inj {
                continue;
            }
            let (facility, local_id, fid) = source_of(gate, i);
            for row in self.store.medications(fid, &local_id, active_on).await? {
                let category = policy::category_of_kind(&row.kind);
                if !gate.allows(i, category) {
                    continue;
                }
                gate.count(i, category, 1);
                out.push(MedicationLine {
                    line: sourced(&facility, &local_id, row),
                    category,
                });
            }
        }
        out.sort_by(|a, b| {
            b.line
                .fact
                .start_date
                .cmp(&a.line.fact.start_date)
                .then(a.line.source.cmp(&b.line.source))
                .then(b.line.version_id.cmp(&a.line.version_id))
                .then(a.line.line.cmp(&b.line.line))
        });
        Ok(out)
    }

    /// Live lab results of every source whose lab results the gate allows.
    async fn gated_labs(
        &self,
        gate: &mut Gate,
        filter: &LabFilter,
    ) -> Result<Vec<Sourced<LabFact>>> {
        let mut out = Vec::new();
        for i in 0..gate.sources.len() {
            if !gate.allows(i, RecordCategory::LabResults) {
                continue;
            }
            let (facility, local_id, fid) = source_of(gate, i);
            let rows = self.store.lab_results(fid, &local_id, filter).await?;
            for row in rows {
                // Only OML-11 writes lab facts; the kind still decides the category.
                let category = policy::category_of_kind(&row.kind);
                if !gate.allows(i, category) {
                    continue;
                }
                gate.count(i, category, 1);
                out.push(sourced(&facility, &local_id, row));
            }
        }
        Ok(out)
    }

    /// The summary (一目でわかる) of a patient for care.
    pub async fn patient_summary(&self, actor: &Principal, id: &RegionalId) -> Result<Summary> {
        let mut gate = self.open_gate(actor, id, Purpose::Care, None).await?;
        let today = self.now().date_jst().compact();
        let mut demographics = Vec::new();
        let mut allergies = Vec::new();
        let mut diagnoses = Vec::new();
        let mut encounters = Vec::new();
        for i in 0..gate.sources.len() {
            let (facility, local_id, fid) = source_of(&gate, i);
            if gate.allows(i, RecordCategory::BasicInfo) {
                let lp = LocalPatient {
                    facility: facility.clone(),
                    local_id: local_id.clone(),
                };
                if let Some(d) = self.store.local_patient(&lp).await? {
                    gate.count(i, RecordCategory::BasicInfo, 1);
                    demographics.push(SourcedDemographics {
                        source: facility.clone(),
                        local_id: local_id.clone(),
                        demographics: d,
                    });
                }
                for row in self.store.encounters(fid, &local_id).await? {
                    gate.count(i, RecordCategory::BasicInfo, 1);
                    encounters.push(sourced(&facility, &local_id, row));
                }
            }
            if gate.allows(i, RecordCategory::Allergies) {
                for row in self.store.allergies(fid, &local_id).await? {
                    gate.count(i, RecordCategory::Allergies, 1);
                    allergies.push(sourced(&facility, &local_id, row));
                }
            }
            if gate.allows(i, RecordCategory::Diagnoses) {
                for row in self.store.diagnoses(fid, &local_id).await? {
                    if is_active_diagnosis(&row.fact) {
                        gate.count(i, RecordCategory::Diagnoses, 1);
                        diagnoses.push(sourced(&facility, &local_id, row));
                    }
                }
            }
        }
        let current_medications = self.gated_medications(&mut gate, Some(&today)).await?;
        // The store returns each facility's newest result per code; JLAC10 codes of several
        // facilities are then merged here, newest first wins.
        let latest = LabFilter {
            latest_per_test: true,
            ..Default::default()
        };
        let mut labs = self.gated_labs(&mut gate, &latest).await?;
        labs.sort_by(|a, b| b.fact.observed_at.cmp(&a.fact.observed_at));
        let mut seen = BTreeSet::new();
        let mut latest_labs: Vec<Sourced<LabFact>> = labs
            .into_iter()
            .filter(|l| seen.insert(test_key(l)))
            .collect();
        latest_labs.sort_by(|a, b| a.fact.code.cmp(&b.fact.code));
        diagnoses.sort_by(|a, b| b.fact.start_date.cmp(&a.fact.start_date));
        encounters.sort_by(|a, b| {
            let at = |e: &Sourced<EncounterFact>| {
                e.fact.admitted_at.clone().max(e.fact.discharged_at.clone())
            };
            at(b).cmp(&at(a))
        });
        encounters.truncate(SUMMARY_ENCOUNTERS);
        let refused = self.close_gate(gate, Some("summary")).await?;
        Ok(Summary {
            regional_id: id.clone(),
            demographics,
            allergies,
            active_diagnoses: diagnoses,
            current_medications,
            latest_labs,
            encounters,
            refused,
        })
    }

    /// Lab results between `from` and `to` (`YYYYMMDD`, inclusive) as tests × dates.
    pub async fn lab_matrix(
        &self,
        actor: &Principal,
        id: &RegionalId,
        from: Option<&str>,
        to: Option<&str>,
    ) -> Result<LabMatrix> {
        let mut gate = self.open_gate(actor, id, Purpose::Care, None).await?;
        let filter = LabFilter {
            codes: Vec::new(),
            from: from.map(str::to_owned),
            to: to.map(str::to_owned),
            latest_per_test: false,
        };
        let labs = self.gated_labs(&mut gate, &filter).await?;
        let refused = self.close_gate(gate, Some("lab matrix")).await?;

        let dates: BTreeSet<String> = labs
            .iter()
            .filter_map(|l| l.fact.observed_at.get(..8).map(str::to_owned))
            .collect();
        let column: HashMap<&str, usize> = dates
            .iter()
            .enumerate()
            .map(|(i, d)| (d.as_str(), i))
            .collect();
        let mut rows: BTreeMap<(bool, String, String), LabTestRow> = BTreeMap::new();
        for l in &labs {
            let Some(&col) = l.fact.observed_at.get(..8).and_then(|d| column.get(d)) else {
                continue;
            };
            let key = test_key(l);
            let row = rows.entry(key.clone()).or_insert_with(|| LabTestRow {
                code: l.fact.code.clone(),
                jlac10: key.0,
                name: l.fact.name.clone(),
                unit: String::new(),
                reference_range: String::new(),
                sources: Vec::new(),
                cells: vec![None; dates.len()],
            });
            if !row.sources.contains(&l.source) {
                row.sources.push(l.source.clone());
            }
            let newer = row.cells[col]
                .as_ref()
                .is_none_or(|c| l.fact.observed_at > c.observed_at);
            if newer {
                row.cells[col] = Some(LabCell {
                    value: l.fact.value.clone(),
                    unit: l.fact.unit.clone(),
                    reference_range: l.fact.reference_range.clone(),
                    abnormal_flag: l.fact.abnormal_flag.clone(),
                    source: l.source.clone(),
                    version_id: l.version_id,
                    observed_at: l.fact.observed_at.clone(),
                });
            }
        }
        let mut tests: Vec<LabTestRow> = rows.into_values().collect();
        for t in &mut tests {
            if let Some(newest) = t.cells.iter().rev().flatten().next() {
                t.unit = newest.unit.clone();
                t.reference_range = newest.reference_range.clone();
            }
        }
        // JLAC10 rows first (they line up across facilities), then local codes.
        tests.sort_by(|a, b| b.jlac10.cmp(&a.jlac10).then(a.code.cmp(&b.code)));
        Ok(LabMatrix {
            regional_id: id.clone(),
            dates: dates.into_iter().collect(),
            tests,
            refused,
        })
    }

    /// Every live medication line of every facility, with duplicate-prescription warnings
    /// (same drug or ingredient from two facilities, overlapping days) and duplicate-test
    /// warnings (same analyte at two facilities within [`DUPLICATE_TEST_DAYS`]), both over
    /// the last [`DUPLICATE_LOOKBACK_DAYS`].
    pub async fn medications(&self, actor: &Principal, id: &RegionalId) -> Result<MedicationList> {
        let mut gate = self.open_gate(actor, id, Purpose::Care, None).await?;
        let today = self.now().date_jst();
        let since = today.days() - DUPLICATE_LOOKBACK_DAYS;
        let lines = self.gated_medications(&mut gate, None).await?;
        let labs = self
            .gated_labs(
                &mut gate,
                &LabFilter {
                    from: Some(store::date_of_day(since)),
                    ..Default::default()
                },
            )
            .await?;
        let refused = self.close_gate(gate, Some("medications")).await?;
        Ok(MedicationList {
            regional_id: id.clone(),
            duplicate_prescriptions: duplicate_prescriptions(&lines, since),
            duplicate_tests: duplicate_tests(&labs, DUPLICATE_TEST_DAYS),
            lines,
            refused,
        })
    }
}

fn source_of(gate: &Gate, i: usize) -> (FacilityCode, String, store::FacilityId) {
    let s = &gate.sources[i];
    (s.facility.clone(), s.local_id.clone(), s.id)
}
