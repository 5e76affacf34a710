//! The clinician viewer's data: one patient's summary (一目でわかる), lab matrix and
//! medication list across every linked facility, with duplicate-prescription (二重投薬),
//! duplicate-test (重複検査) and drug-allergy (薬剤アレルギー) warnings.
//!
//! Every screen goes through the same gate as [`Network::patient_records`]: each (source
//! facility, local patient, category) is decided with `policy::decide` before anything of it
//! is read, each decision is audited, and a refused category is never read. The screen is
//! told why in terms of the request, the rules and the consent only ([`AccessRefusal`]):
//! nothing about which facilities hold what.

use std::collections::{BTreeMap, BTreeSet};

use model::{Demographics, FacilityCode, LocalPatient, Purpose, RecordCategory, RegionalId};
use serde::Serialize;
use store::{day_number, AllergyFact, DiagnosisFact, FactRow, LabFact, LabFilter, MedicationFact};

use crate::access::{AccessRefusal, Gate};
use crate::cancels::{self, CancelReads, Cancelled, Split};
use crate::labs;
pub use crate::labs::{DuplicateTest, LabCell, LabMatrix, LabQuery, LabTestRow};
use crate::medications::{
    self as meds, CurrentMedication, DuplicateGroup, LatestPrescription, MedicationCalendar,
    UncheckedWarning,
};
use crate::{Network, Principal, Result};

/// Days within which the same analyte measured at two facilities is flagged (重複検査).
pub const DUPLICATE_TEST_DAYS: i64 = 14;
/// How far back the medication screen looks for duplicates: older overlaps are history.
pub const DUPLICATE_LOOKBACK_DAYS: i64 = 90;
/// Admissions and discharges shown on the summary.
pub const SUMMARY_ENCOUNTERS: usize = 5;
/// How far back the medication screen checks lines against recorded drug allergies: a line
/// that ended longer ago than this is history, not a risk (same window as duplicates).
pub const DRUG_ALLERGY_LOOKBACK_DAYS: i64 = DUPLICATE_LOOKBACK_DAYS;
/// A drug allergy's name must keep at least this many characters (after normalising) to be
/// looked for inside drug names: shorter stems (`ペニ`) would match unrelated drugs.
pub const DRUG_ALLERGY_MIN_NAME: usize = 3;

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

pub(crate) fn sourced<T>(source: &FacilityCode, local_id: &str, row: FactRow<T>) -> Sourced<T> {
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
    /// Drugs active today and those ended within the recent window
    /// ([`meds::MedicationSettings::recent_days`]), every facility, one row per drug and
    /// prescriber (see [`meds::current_medications`]).
    pub current_medications: Vec<CurrentMedication>,
    /// Duplicate prescriptions among them, one warning per drug.
    pub duplicate_prescriptions: Vec<DuplicateGroup>,
    /// Checks that could not be made because data was withheld.
    pub unchecked: Vec<UncheckedWarning>,
    /// The recent window in days.
    pub recent_days: u32,
    /// The newest result of each test (JLAC10 tests of all facilities together); cultures
    /// are on the labs screen.
    pub latest_labs: Vec<Sourced<LabFact>>,
    /// The same test repeated at several facilities in the last [`DUPLICATE_LOOKBACK_DAYS`]
    /// (重複検査), one warning per test.
    pub duplicate_tests: Vec<DuplicateTest>,
    /// The newest stays (admission ↔ transfers ↔ discharge), plans and unmatched cancel
    /// messages, SS-MIX2 cancel messages applied ([`crate::encounters`]).
    pub encounters: crate::encounters::Encounters,
    /// Every diagnosis not deleted, ended ones included, one entry per diagnosis with every
    /// facility that records it ([`crate::problems`]).
    pub diagnosis_history: Vec<crate::problems::DiagnosisGroup>,
    /// Current medications that match a recorded drug allergy (薬剤アレルギー).
    pub drug_allergies: Vec<DrugAllergyWarning>,
    pub refused: Vec<AccessRefusal>,
    /// Emergency access in effect (flagged for review).
    pub break_glass: Option<policy::BreakGlass>,
    /// Names of the linked facilities (directory data, for showing where a fact comes from).
    pub facility_names: BTreeMap<FacilityCode, String>,
    /// Files of the patient that could not be read, per facility: what this summary lacks.
    pub unreadable: Vec<crate::unreadable::UnreadableRecords>,
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

/// The medication screen.
#[derive(Debug, Clone, Serialize)]
pub struct MedicationList {
    pub regional_id: RegionalId,
    /// Every live line, newest start first.
    pub lines: Vec<MedicationLine>,
    /// Lines an order cancel sent as a file of its own cancelled ([`crate::cancels`]): shown
    /// struck through, in none of the lists or checks above.
    pub cancelled: Vec<Cancelled<MedicationLine>>,
    pub duplicate_prescriptions: Vec<DuplicatePrescription>,
    /// The same, one warning per drug naming every facility.
    pub duplicate_groups: Vec<DuplicateGroup>,
    pub duplicate_tests: Vec<DuplicateTest>,
    /// Current or recent lines that match a recorded drug allergy.
    pub drug_allergies: Vec<DrugAllergyWarning>,
    /// Checks that could not be made because data was withheld ("could not check", never
    /// "no warnings").
    pub unchecked: Vec<UncheckedWarning>,
    /// Current and recently ended drugs, as on the summary.
    pub current: Vec<CurrentMedication>,
    /// The newest prescription of each drug.
    pub latest: Vec<LatestPrescription>,
    /// Drugs × days around today.
    pub calendar: MedicationCalendar,
    pub recent_days: u32,
    pub refused: Vec<AccessRefusal>,
    pub break_glass: Option<policy::BreakGlass>,
    pub facility_names: BTreeMap<FacilityCode, String>,
}

/// A current or recent medication line that matches a recorded drug allergy or
/// contraindication (薬剤アレルギー・禁忌).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DrugAllergyWarning {
    pub allergy: Sourced<AllergyFact>,
    pub medication: MedicationLine,
    /// What matched: `HOT:1115368` (same drug), `YJ:1149019` (same ingredient) or
    /// `name:ロキソプロフェン` (the allergen's name inside the drug's name).
    pub matched_on: String,
}

/// HL7 table 0127 allergen types that are never drugs (food, environment, animal, plant,
/// pollen): their names are not looked for in drug names. Drug (`DA`), miscellaneous
/// (`MA`), contraindication (`MC`) and unsent types are.
const NON_DRUG_ALLERGEN_TYPES: &[&str] = &["FA", "EA", "AA", "PA", "LA"];

/// Endings of an allergen name that name a class or a salt rather than the substance: a
/// `ペニシリン系抗生物質` allergy is looked for as `ペニシリン`, `ロキソプロフェンナトリウム`
/// as `ロキソプロフェン` (drug names often abbreviate the salt: `ロキソプロフェンNa錠`).
const ALLERGEN_NAME_ENDINGS: &[&str] = &[
    "系抗生物質",
    "系抗菌薬",
    "系抗菌剤",
    "系薬剤",
    "系",
    "製剤",
    "ナトリウム水和物",
    "水和物",
    "ナトリウム",
    "カリウム",
    "カルシウム",
    "塩酸塩",
    "硫酸塩",
];

/// The normalised stem of an allergen name (width, kana and spaces folded as in the matching
/// rules, class and salt endings removed), or `None` when too short to search for.
pub fn allergen_stem(name: &str) -> Option<String> {
    let mut key = mpi::name_key(name);
    // Strip repeatedly: `…ナトリウム水和物` loses both.
    while let Some(ending) = ALLERGEN_NAME_ENDINGS.iter().find(|e| key.ends_with(**e)) {
        key.truncate(key.len() - ending.len());
    }
    (key.chars().count() >= DRUG_ALLERGY_MIN_NAME).then_some(key)
}

/// Does this medication match this allergy? Same HOT drug (first 7 digits), same YJ
/// ingredient (first 7 characters), or the allergen's name stem inside the drug's name
/// (both normalised). Returns what matched.
pub fn drug_allergy_match(allergy: &AllergyFact, med: &MedicationFact) -> Option<String> {
    if NON_DRUG_ALLERGEN_TYPES.contains(&allergy.allergen_type_code.trim()) {
        return None;
    }
    let code = allergy.allergen_code.trim();
    let system = allergy.allergen_system.trim().to_ascii_uppercase();
    let same7 = |theirs: &str| match (code.get(..7), theirs.get(..7)) {
        (Some(x), Some(y)) if x == y => Some(x.to_owned()),
        _ => None,
    };
    if system.starts_with("HOT") {
        if let Some(k) = same7(&med.hot_code) {
            return Some(format!("HOT:{k}"));
        }
    }
    if system == "YJ" {
        if let Some(k) = same7(&med.yj_code) {
            return Some(format!("YJ:{k}"));
        }
    }
    let stem = allergen_stem(&allergy.allergen_name)?;
    mpi::name_key(&med.drug_name)
        .contains(&stem)
        .then(|| format!("name:{stem}"))
}

/// Every (allergy, line) pair that matches, for lines that are current or ended on or after
/// day `since`.
fn drug_allergy_warnings(
    allergies: &[Sourced<AllergyFact>],
    lines: &[MedicationLine],
    since: i64,
) -> Vec<DrugAllergyWarning> {
    let mut out = Vec::new();
    for l in lines {
        if meds::not_given(l) || period(&l.line.fact).is_some_and(|(_, end)| end < since) {
            continue;
        }
        for a in allergies {
            if let Some(matched_on) = drug_allergy_match(&a.fact, &l.line.fact) {
                out.push(DrugAllergyWarning {
                    allergy: a.clone(),
                    medication: l.clone(),
                    matched_on,
                });
            }
        }
    }
    out
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

/// A line's days as day numbers for the warnings. A line without a certain end (no day
/// count, an uncertain rhythm) covers the days sent, else the recent window
/// ([`meds::RECENT_MEDICATION_DAYS`]): for a warning, a possible overlap counts — never its
/// start day only, which would hide a duplicate.
fn period(m: &MedicationFact) -> Option<(i64, i64)> {
    let start = day_number(&m.start_date)?;
    let end = day_number(&m.end_date).unwrap_or_else(|| {
        let days = m
            .days
            .filter(|d| *d > 0)
            .unwrap_or(meds::RECENT_MEDICATION_DAYS);
        start + i64::from(days) - 1
    });
    Some((start, end.max(start)))
}

/// OMP-11 / OMP-12 lines record that a drug was given or dispensed, not a new prescription.
fn is_administration(kind: &str) -> bool {
    matches!(kind, "OMP-11" | "OMP-12")
}

/// Pharmacy lines that are the dispensing (調剤) of a prescription another facility of the
/// patient also sent: same drug key, same start and end. A pharmacy does not prescribe, so
/// such a line is the same prescription seen twice, not a second one; a pharmacy line with
/// no such twin stays (it may be the only trace of an outside prescriber's order).
fn dispensed_twins(
    lines: &[MedicationLine],
    pharmacies: &BTreeSet<FacilityCode>,
) -> BTreeSet<usize> {
    let mut prescribed: BTreeSet<(String, &str, &str)> = BTreeSet::new();
    for l in lines
        .iter()
        .filter(|l| !pharmacies.contains(&l.line.source))
    {
        for key in same_drug_keys(&l.line.fact) {
            prescribed.insert((key, &l.line.fact.start_date, &l.line.fact.end_date));
        }
    }
    lines
        .iter()
        .enumerate()
        .filter(|(_, l)| pharmacies.contains(&l.line.source))
        .filter(|(_, l)| {
            same_drug_keys(&l.line.fact).into_iter().any(|key| {
                prescribed.contains(&(key, &l.line.fact.start_date, &l.line.fact.end_date))
            })
        })
        .map(|(i, _)| i)
        .collect()
}

fn duplicate_prescriptions(
    lines: &[MedicationLine],
    since: i64,
    pharmacies: &BTreeSet<FacilityCode>,
) -> Vec<DuplicatePrescription> {
    let dispensed = dispensed_twins(lines, pharmacies);
    let mut by_key: BTreeMap<String, Vec<(usize, i64, i64)>> = BTreeMap::new();
    for (i, l) in lines.iter().enumerate() {
        if is_administration(&l.line.kind) || dispensed.contains(&i) {
            continue;
        }
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

fn is_active_diagnosis(d: &DiagnosisFact) -> bool {
    d.action != "DE" && d.end_date.is_empty()
}

impl Network {
    /// Sources whose prescriptions or injections the gate allows.
    fn medication_sources(gate: &mut Gate) -> Vec<SourceRef> {
        sources_where(gate, |gate, i| {
            gate.allows(i, RecordCategory::Prescriptions)
                || gate.allows(i, RecordCategory::Injections)
        })
    }

    /// Each source's medication lines, with those an order cancel cancelled set apart
    /// ([`crate::cancels`]).
    async fn read_medications(
        &self,
        sources: Vec<SourceRef>,
        active_on: Option<&str>,
        cancel_reads: &CancelReads,
    ) -> Result<Vec<(SourceRef, Split<MedicationFact>)>> {
        each_source(sources, |s| async move {
            let (rows, cancels) = tokio::try_join!(
                async { Ok(self.store.medications(s.id, &s.local_id, active_on).await?) },
                cancel_reads.of(self.store.as_ref(), s.id, &s.local_id)
            )?;
            Ok(cancels::split(rows, &cancels))
        })
        .await
    }

    /// Medication lines of the sources read, counted under the gate, newest first: the live
    /// ones, and those an order cancel cancelled (shown struck through, never counted live).
    fn gate_medications(
        gate: &mut Gate,
        read: Vec<(SourceRef, Split<MedicationFact>)>,
    ) -> (Vec<MedicationLine>, Vec<Cancelled<MedicationLine>>) {
        let mut out = Vec::new();
        let mut cancelled = Vec::new();
        let line = |gate: &mut Gate, s: &SourceRef, row: FactRow<MedicationFact>| {
            let category = policy::category_of_kind(&row.kind);
            if !gate.allows(s.index, category) {
                return None;
            }
            gate.count(s.index, category, 1);
            Some(MedicationLine {
                line: sourced(&s.facility, &s.local_id, row),
                category,
            })
        };
        for (s, split) in read {
            for row in split.live {
                out.extend(line(gate, &s, row));
            }
            for c in split.cancelled {
                if let Some(l) = line(gate, &s, c.item) {
                    cancelled.push(Cancelled {
                        item: l,
                        cancelled_by: c.cancelled_by,
                    });
                }
            }
        }
        let newest_first = |a: &MedicationLine, b: &MedicationLine| {
            b.line
                .fact
                .start_date
                .cmp(&a.line.fact.start_date)
                .then(a.line.source.cmp(&b.line.source))
                .then(b.line.version_id.cmp(&a.line.version_id))
                .then(a.line.line.cmp(&b.line.line))
        };
        out.sort_by(newest_first);
        cancelled.sort_by(|a, b| newest_first(&a.item, &b.item));
        (out, cancelled)
    }

    /// Sources whose lab results the gate allows.
    fn lab_sources(gate: &mut Gate) -> Vec<SourceRef> {
        sources_where(gate, |gate, i| gate.allows(i, RecordCategory::LabResults))
    }

    /// Each source's lab results, with those an order cancel cancelled set apart
    /// ([`crate::cancels`]).
    async fn read_labs(
        &self,
        sources: Vec<SourceRef>,
        filter: &LabFilter,
        cancel_reads: &CancelReads,
    ) -> Result<Vec<(SourceRef, Split<LabFact>)>> {
        each_source(sources, |s| async move {
            let (rows, cancels) = tokio::try_join!(
                async { Ok(self.store.lab_results(s.id, &s.local_id, filter).await?) },
                cancel_reads.of(self.store.as_ref(), s.id, &s.local_id)
            )?;
            Ok(cancels::split(rows, &cancels))
        })
        .await
    }

    /// The results of the sources read that an order cancel cancelled, taken out of `read`
    /// and counted under the gate (the screens that show them struck through).
    fn gate_cancelled_labs(
        gate: &mut Gate,
        read: &mut [(SourceRef, Split<LabFact>)],
    ) -> Vec<Cancelled<Sourced<LabFact>>> {
        let mut out = Vec::new();
        for (s, split) in read.iter_mut() {
            for c in std::mem::take(&mut split.cancelled) {
                let category = policy::category_of_kind(&c.item.kind);
                if !gate.allows(s.index, category) {
                    continue;
                }
                gate.count(s.index, category, 1);
                out.push(Cancelled {
                    item: sourced(&s.facility, &s.local_id, c.item),
                    cancelled_by: c.cancelled_by,
                });
            }
        }
        out.sort_by(|a, b| b.item.fact.observed_at.cmp(&a.item.fact.observed_at));
        out
    }

    /// The live results of the sources read, counted under the gate.
    fn gate_labs(gate: &mut Gate, read: Vec<(SourceRef, Split<LabFact>)>) -> Vec<Sourced<LabFact>> {
        let mut out = Vec::new();
        for (s, split) in read {
            for row in split.live {
                // Only OML-11 writes lab facts; the kind still decides the category.
                let category = policy::category_of_kind(&row.kind);
                if !gate.allows(s.index, category) {
                    continue;
                }
                gate.count(s.index, category, 1);
                out.push(sourced(&s.facility, &s.local_id, row));
            }
        }
        out
    }

    /// [`Network::gate_labs`] for rows of which some were already counted by another read of
    /// the same screen (`counted`: version and line): each row read is counted once.
    fn gate_labs_except(
        gate: &mut Gate,
        read: Vec<(SourceRef, Split<LabFact>)>,
        counted: &BTreeSet<(i64, u32)>,
    ) -> Vec<Sourced<LabFact>> {
        let mut out = Vec::new();
        for (s, split) in read {
            for row in split.live {
                let category = policy::category_of_kind(&row.kind);
                if !gate.allows(s.index, category) {
                    continue;
                }
                if !counted.contains(&(row.version_id, row.line)) {
                    gate.count(s.index, category, 1);
                }
                out.push(sourced(&s.facility, &s.local_id, row));
            }
        }
        out
    }

    /// The summary (一目でわかる) of a patient for care.
    pub async fn patient_summary(&self, actor: &Principal, id: &RegionalId) -> Result<Summary> {
        self.patient_summary_for(actor, id, Purpose::Care, None)
            .await
    }

    /// The summary for `purpose`; [`Purpose::Emergency`] uses the window started with
    /// [`Network::start_break_glass`] (see [`Network::patient_records`]).
    pub async fn patient_summary_for(
        &self,
        actor: &Principal,
        id: &RegionalId,
        purpose: Purpose,
        _break_glass_reason: Option<&str>,
    ) -> Result<Summary> {
        let mut gate = self.open_gate(actor, id, purpose).await?;
        let cancel_reads = CancelReads::default();
        let settings = self.medication_settings().await?;
        let pharmacies = gate.pharmacies();
        // Every decision first (in the gate, no I/O), then every read at once: each
        // facility's demographics, encounters, allergies, diagnoses, current medications and
        // newest results are independent queries.
        let basic = sources_where(&mut gate, |g, i| g.allows(i, RecordCategory::BasicInfo));
        let with_allergies =
            sources_where(&mut gate, |g, i| g.allows(i, RecordCategory::Allergies));
        let with_diagnoses =
            sources_where(&mut gate, |g, i| g.allows(i, RecordCategory::Diagnoses));
        let medication_sources = Self::medication_sources(&mut gate);
        let lab_sources = Self::lab_sources(&mut gate);
        // The store returns each facility's newest result per code; JLAC10 codes of several
        // facilities are then merged here, newest first wins.
        let latest = LabFilter {
            latest_per_test: true,
            ..Default::default()
        };
        // The duplicate-test warnings look at the recent results of every test.
        let recent_filter = LabFilter {
            from: Some(store::date_of_day(
                self.now().date_jst().days() - DUPLICATE_LOOKBACK_DAYS,
            )),
            ..Default::default()
        };
        let (
            patients,
            encounter_rows,
            allergy_rows,
            diagnosis_rows,
            medication_rows,
            (lab_rows, recent_rows),
        ) = tokio::try_join!(
            each_source(basic.clone(), |s| async move {
                let lp = LocalPatient {
                    facility: s.facility.clone(),
                    local_id: s.local_id.clone(),
                };
                Ok(self.store.local_patient(&lp).await?)
            }),
            each_source(basic, |s| async move {
                Ok(self.store.encounters(s.id, &s.local_id).await?)
            }),
            each_source(with_allergies, |s| async move {
                Ok(self.store.allergies(s.id, &s.local_id).await?)
            }),
            each_source(with_diagnoses, |s| async move {
                Ok(self.store.diagnoses(s.id, &s.local_id).await?)
            }),
            // Every line: current is decided here (recent window, uncertain spans), not by
            // the store's "covers today".
            self.read_medications(medication_sources, None, &cancel_reads),
            async {
                tokio::try_join!(
                    self.read_labs(lab_sources.clone(), &latest, &cancel_reads),
                    self.read_labs(lab_sources, &recent_filter, &cancel_reads)
                )
            },
        )?;
        let mut demographics = Vec::new();
        for (s, found) in patients {
            if let Some(d) = found {
                gate.count(s.index, RecordCategory::BasicInfo, 1);
                demographics.push(SourcedDemographics {
                    source: s.facility.clone(),
                    local_id: s.local_id.clone(),
                    demographics: d,
                });
            }
        }
        let mut stays = Vec::new();
        for (s, rows) in encounter_rows {
            gate.count(s.index, RecordCategory::BasicInfo, rows.len());
            stays.push(crate::encounters::resolve(&s.facility, &s.local_id, rows));
        }
        let encounters = crate::encounters::merge(stays, SUMMARY_ENCOUNTERS);
        let mut allergies = Vec::new();
        for (s, rows) in allergy_rows {
            for row in rows {
                gate.count(s.index, RecordCategory::Allergies, 1);
                allergies.push(sourced(&s.facility, &s.local_id, row));
            }
        }
        let mut diagnoses = Vec::new();
        let mut all_diagnoses = Vec::new();
        for (s, rows) in diagnosis_rows {
            for row in rows {
                if row.fact.action != "DE" {
                    gate.count(s.index, RecordCategory::Diagnoses, 1);
                }
                if is_active_diagnosis(&row.fact) {
                    diagnoses.push(sourced(&s.facility, &s.local_id, row.clone()));
                }
                all_diagnoses.push((s.facility.clone(), s.local_id.clone(), row));
            }
        }
        let diagnosis_history = crate::problems::group(all_diagnoses);
        // Cancelled lines are not current: the summary shows none of them.
        let (medication_lines, _cancelled) = Self::gate_medications(&mut gate, medication_rows);
        let today_n = self.now().date_jst().days();
        let window = i64::from(settings.recent_days);
        let current_medications =
            meds::current_medications(&medication_lines, today_n, window, &pharmacies);
        // Warnings over the current and recent lines only.
        let recent: Vec<MedicationLine> = medication_lines
            .into_iter()
            .filter(|l| {
                meds::standing(&l.line.fact, today_n, window).is_some_and(|s| s.is_current())
            })
            .collect();
        let recent_labs = Self::gate_labs(&mut gate, recent_rows);
        let counted: BTreeSet<(i64, u32)> =
            recent_labs.iter().map(|l| (l.version_id, l.line)).collect();
        let latest_labs = labs::latest(Self::gate_labs_except(&mut gate, lab_rows, &counted));
        let duplicate_tests = labs::duplicate_tests(&recent_labs, DUPLICATE_TEST_DAYS);
        diagnoses.sort_by(|a, b| b.fact.start_date.cmp(&a.fact.start_date));
        // Current and recent lines: the summary's `since` is the recent window.
        let drug_allergies = drug_allergy_warnings(&allergies, &recent, today_n - window);
        let duplicate_prescriptions = meds::group_duplicates(&duplicate_prescriptions(
            &recent,
            today_n - window,
            &pharmacies,
        ));
        let unreadable = self.unreadable_records(&mut gate).await?;
        let facility_names = gate.facility_names();
        let break_glass = gate.break_glass.clone();
        let refused = self.close_gate(gate, Some("summary")).await?;
        let unchecked = meds::unchecked(&refused, false);
        Ok(Summary {
            regional_id: id.clone(),
            demographics,
            allergies,
            active_diagnoses: diagnoses,
            current_medications,
            duplicate_prescriptions,
            unchecked,
            recent_days: settings.recent_days,
            latest_labs,
            duplicate_tests,
            encounters,
            diagnosis_history,
            drug_allergies,
            refused,
            break_glass,
            facility_names,
            unreadable,
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
        let q = LabQuery {
            from: from.map(str::to_owned),
            to: to.map(str::to_owned),
            codes: Vec::new(),
        };
        self.lab_matrix_for(actor, id, &q, Purpose::Care, None)
            .await
    }

    /// [`Network::lab_matrix`] for `purpose`, optionally only some test codes (the trend
    /// chart of one test reads that test's rows only).
    pub async fn lab_matrix_for(
        &self,
        actor: &Principal,
        id: &RegionalId,
        q: &LabQuery,
        purpose: Purpose,
        _break_glass_reason: Option<&str>,
    ) -> Result<LabMatrix> {
        let mut gate = self.open_gate(actor, id, purpose).await?;
        let cancel_reads = CancelReads::default();
        let filter = LabFilter {
            codes: q.codes.clone(),
            from: q.from.clone(),
            to: q.to.clone(),
            latest_per_test: false,
            extended: false,
        };
        // Duplicate tests are always over the last DUPLICATE_LOOKBACK_DAYS, whatever period
        // the matrix shows: read them apart when that period does not cover them. The chart
        // of one test (a code filter) needs none.
        let today = self.now().date_jst();
        let since = store::date_of_day(today.days() - DUPLICATE_LOOKBACK_DAYS);
        let covers_recent = q.from.as_deref().is_none_or(|f| f <= since.as_str())
            && q.to
                .as_deref()
                .is_none_or(|t| t >= today.compact().as_str());
        let sources = Self::lab_sources(&mut gate);
        let recent_filter = LabFilter {
            from: Some(since),
            ..Default::default()
        };
        let (read, recent_read) = if !q.codes.is_empty() || covers_recent {
            (self.read_labs(sources, &filter, &cancel_reads).await?, None)
        } else {
            let (a, b) = tokio::try_join!(
                self.read_labs(sources.clone(), &filter, &cancel_reads),
                self.read_labs(sources, &recent_filter, &cancel_reads)
            )?;
            (a, Some(b))
        };
        let mut read = read;
        let cancelled = Self::gate_cancelled_labs(&mut gate, &mut read);
        let labs = Self::gate_labs(&mut gate, read);
        let duplicate_tests = if !q.codes.is_empty() {
            Vec::new()
        } else if let Some(recent_read) = recent_read {
            let counted: BTreeSet<(i64, u32)> =
                labs.iter().map(|l| (l.version_id, l.line)).collect();
            let recent = Self::gate_labs_except(&mut gate, recent_read, &counted);
            labs::duplicate_tests(&recent, DUPLICATE_TEST_DAYS)
        } else {
            let since = today.days() - DUPLICATE_LOOKBACK_DAYS;
            let recent: Vec<Sourced<LabFact>> = labs
                .iter()
                .filter(|l| day_number(&l.fact.observed_at).is_some_and(|d| d >= since))
                .cloned()
                .collect();
            labs::duplicate_tests(&recent, DUPLICATE_TEST_DAYS)
        };
        let facility_names = gate.facility_names();
        let break_glass = gate.break_glass.clone();
        let screen = if q.codes.is_empty() {
            "lab matrix"
        } else {
            "lab chart"
        };
        let refused = self.close_gate(gate, Some(screen)).await?;
        let (dates, tests, cultures) = labs::matrix(&labs);
        Ok(LabMatrix {
            regional_id: id.clone(),
            dates,
            tests,
            cultures,
            cancelled,
            duplicate_tests,
            refused,
            break_glass,
            facility_names,
        })
    }

    /// Every live medication line of every facility, with duplicate-prescription warnings
    /// (same drug or ingredient from two facilities, overlapping days) and duplicate-test
    /// warnings (same analyte at two facilities within [`DUPLICATE_TEST_DAYS`]), both over
    /// the last [`DUPLICATE_LOOKBACK_DAYS`]; and drug-allergy warnings (a line of the last
    /// [`DRUG_ALLERGY_LOOKBACK_DAYS`] matching a recorded allergy, see
    /// [`drug_allergy_match`]).
    pub async fn medications(&self, actor: &Principal, id: &RegionalId) -> Result<MedicationList> {
        self.medications_for(actor, id, Purpose::Care, None).await
    }

    /// [`Network::medications`] for `purpose`.
    pub async fn medications_for(
        &self,
        actor: &Principal,
        id: &RegionalId,
        purpose: Purpose,
        _break_glass_reason: Option<&str>,
    ) -> Result<MedicationList> {
        let mut gate = self.open_gate(actor, id, purpose).await?;
        let cancel_reads = CancelReads::default();
        let settings = self.medication_settings().await?;
        let pharmacies = gate.pharmacies();
        let today = self.now().date_jst();
        let since = today.days() - DUPLICATE_LOOKBACK_DAYS;
        // Allergies are their own category: a profession that may see prescriptions but not
        // allergies gets no allergy warning, and the refusal says so.
        let medication_sources = Self::medication_sources(&mut gate);
        let with_allergies =
            sources_where(&mut gate, |g, i| g.allows(i, RecordCategory::Allergies));
        let lab_sources = Self::lab_sources(&mut gate);
        let recent = LabFilter {
            from: Some(store::date_of_day(since)),
            ..Default::default()
        };
        // The three reads at once, each one query per facility.
        let (medication_rows, allergy_rows, lab_rows) = tokio::try_join!(
            self.read_medications(medication_sources, None, &cancel_reads),
            each_source(with_allergies, |s| async move {
                Ok(self.store.allergies(s.id, &s.local_id).await?)
            }),
            self.read_labs(lab_sources, &recent, &cancel_reads),
        )?;
        let (lines, cancelled) = Self::gate_medications(&mut gate, medication_rows);
        let mut allergies = Vec::new();
        for (s, rows) in allergy_rows {
            for row in rows {
                gate.count(s.index, RecordCategory::Allergies, 1);
                allergies.push(sourced(&s.facility, &s.local_id, row));
            }
        }
        let labs = Self::gate_labs(&mut gate, lab_rows);
        let facility_names = gate.facility_names();
        let break_glass = gate.break_glass.clone();
        let refused = self.close_gate(gate, Some("medications")).await?;
        let duplicates = duplicate_prescriptions(&lines, since, &pharmacies);
        let window = i64::from(settings.recent_days);
        let t = today.days();
        Ok(MedicationList {
            regional_id: id.clone(),
            duplicate_groups: meds::group_duplicates(&duplicates),
            duplicate_prescriptions: duplicates,
            unchecked: meds::unchecked(&refused, true),
            current: meds::current_medications(&lines, t, window, &pharmacies),
            latest: meds::latest_per_drug(&lines),
            calendar: meds::calendar(
                &lines,
                t - meds::CALENDAR_DAYS_BEFORE,
                t + meds::CALENDAR_DAYS_AFTER,
            ),
            recent_days: settings.recent_days,
            duplicate_tests: labs::duplicate_tests(&labs, DUPLICATE_TEST_DAYS),
            drug_allergies: drug_allergy_warnings(
                &allergies,
                &lines,
                today.days() - DRUG_ALLERGY_LOOKBACK_DAYS,
            ),
            lines,
            cancelled,
            refused,
            break_glass,
            facility_names,
        })
    }
}

/// One source (a linked facility's local patient) of the patient being viewed, as the
/// concurrent reads need it: owned, so no borrow of the gate is held across them.
#[derive(Clone)]
pub(crate) struct SourceRef {
    pub(crate) index: usize,
    pub(crate) facility: FacilityCode,
    pub(crate) local_id: String,
    pub(crate) id: store::FacilityId,
}

/// The sources for which `allowed` (a gate decision) holds, in source order.
pub(crate) fn sources_where(
    gate: &mut Gate,
    allowed: impl Fn(&mut Gate, usize) -> bool,
) -> Vec<SourceRef> {
    let mut out = Vec::new();
    for i in 0..gate.sources.len() {
        if allowed(gate, i) {
            let (facility, local_id, id) = source_of(gate, i);
            out.push(SourceRef {
                index: i,
                facility,
                local_id,
                id,
            });
        }
    }
    out
}

/// `read` for every source at once, results in the sources' order. On PostgreSQL each read
/// is a query on its own pooled connection, so a patient seen at several hospitals waits
/// for the slowest facility's query rather than for the sum of them (the embedded store
/// serialises them on its reader, as before).
pub(crate) async fn each_source<T, Fut>(
    sources: Vec<SourceRef>,
    read: impl Fn(SourceRef) -> Fut,
) -> Result<Vec<(SourceRef, T)>>
where
    Fut: std::future::Future<Output = Result<T>>,
{
    let results = futures::future::try_join_all(sources.iter().cloned().map(read)).await?;
    Ok(sources.into_iter().zip(results).collect())
}

fn source_of(gate: &Gate, i: usize) -> (FacilityCode, String, store::FacilityId) {
    let s = &gate.sources[i];
    (s.facility.clone(), s.local_id.clone(), s.id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allergy(type_code: &str, code: &str, system: &str, name: &str) -> AllergyFact {
        AllergyFact {
            allergen_type_code: type_code.into(),
            allergen_code: code.into(),
            allergen_system: system.into(),
            allergen_name: name.into(),
            ..Default::default()
        }
    }

    fn med(hot: &str, yj: &str, name: &str) -> MedicationFact {
        MedicationFact {
            hot_code: hot.into(),
            yj_code: yj.into(),
            drug_name: name.into(),
            ..Default::default()
        }
    }

    #[test]
    fn drug_allergy_matches_same_hot_drug_and_same_yj_ingredient() {
        // HOT9 of the allergy, HOT13 of another package of the same drug: first 7 digits.
        let a = allergy("DA", "111536802", "HOT9", "ロキソニン");
        let m = med("1115368020101", "", "ロキソプロフェンNa錠60mg「サワイ」");
        assert_eq!(drug_allergy_match(&a, &m).as_deref(), Some("HOT:1115368"));
        let a = allergy("DA", "1149019F1560", "YJ", "");
        let m = med("", "1149019F1099", "他社の錠剤");
        assert_eq!(drug_allergy_match(&a, &m).as_deref(), Some("YJ:1149019"));
        // Different drug, different name: nothing.
        let m = med("112237701", "2171022F1142", "アムロジピン錠5mg");
        assert_eq!(drug_allergy_match(&a, &m), None);
    }

    #[test]
    fn drug_allergy_matches_the_allergen_name_after_normalising_width_and_kana() {
        // Local allergen code (99ZAL): only the name can match. Full-width, hiragana and
        // half-width katakana fold to one key; the salt ending is dropped.
        let a = allergy("DA", "3", "99ZAL", "ろきそぷろふぇんナトリウム");
        let m = med("", "", "ﾛｷｿﾌﾟﾛﾌｪﾝＮａ錠６０ｍｇ");
        assert_eq!(
            drug_allergy_match(&a, &m).as_deref(),
            Some("name:ロキソプロフェン")
        );
        // A class allergy is looked for by its stem.
        let a = allergy("DA", "1", "99ZAL", "ペニシリン系抗生物質");
        assert_eq!(
            allergen_stem(&a.allergen_name).as_deref(),
            Some("ペニシリン")
        );
        let m = med("", "", "ベンジルペニシリンカリウム注");
        assert!(drug_allergy_match(&a, &m).is_some());
    }

    #[test]
    fn food_and_pollen_allergies_and_short_names_never_match_drugs() {
        // 卵白 (egg white) as food allergy: not searched in drug names.
        let a = allergy("FA", "5A1002410023006", "JC10", "卵白");
        let m = med("", "", "卵白アルブミン含有製剤");
        assert_eq!(drug_allergy_match(&a, &m), None);
        // Too short a stem once the class ending is gone.
        assert_eq!(allergen_stem("サル系"), None);
        let a = allergy("", "", "", "サル系");
        assert_eq!(drug_allergy_match(&a, &med("", "", "サルブタモール")), None);
        // An unsent type with a drug name still matches (better a warning too many).
        let a = allergy("", "", "", "アスピリン");
        assert!(drug_allergy_match(&a, &med("", "", "バイアスピリン錠100mg")).is_some());
    }

    #[test]
    fn drug_allergy_warnings_skip_lines_that_ended_before_the_window() {
        let src = FacilityCode::parse("0412345678").expect("code");
        let a = Sourced {
            source: src.clone(),
            local_id: "1".into(),
            version_id: 1,
            line: 0,
            kind: "ADT-61".into(),
            date: "-".into(),
            order_no: String::new(),
            fact: allergy("DA", "111536802", "HOT9", "ロキソプロフェンナトリウム"),
        };
        let line = |start: &str, end: &str| MedicationLine {
            line: Sourced {
                fact: MedicationFact {
                    start_date: start.into(),
                    end_date: end.into(),
                    ..med("111536802", "", "ロキソプロフェンナトリウム錠６０ｍｇ")
                },
                kind: "OMP-01".into(),
                ..a.clone().map_fact()
            },
            category: RecordCategory::Prescriptions,
        };
        let since = day_number("20260101").expect("day");
        let w = drug_allergy_warnings(
            std::slice::from_ref(&a),
            &[line("20251201", "20251214"), line("20251220", "20260110")],
            since,
        );
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].medication.line.fact.end_date, "20260110");
        assert_eq!(w[0].matched_on, "HOT:1115368");
    }

    fn rx(source: &str, kind: &str, yj: &str, start: &str, end: &str) -> MedicationLine {
        MedicationLine {
            line: Sourced {
                source: FacilityCode::parse(source).expect("code"),
                local_id: "1".into(),
                version_id: 1,
                line: 0,
                kind: kind.into(),
                date: start.into(),
                order_no: String::new(),
                fact: MedicationFact {
                    yj_code: yj.into(),
                    start_date: start.into(),
                    end_date: end.into(),
                    ..Default::default()
                },
            },
            category: RecordCategory::Prescriptions,
        }
    }

    #[test]
    fn a_pharmacy_dispensing_a_known_prescription_is_not_a_second_prescription() {
        let (clinic, hospital, pharmacy) = ("0410000001", "0410000002", "0440000003");
        let pharmacies: BTreeSet<FacilityCode> =
            [FacilityCode::parse(pharmacy).expect("code")].into();
        let since = day_number("20260101").expect("day");
        let yj = "2329122F1020";
        let lines = [
            rx(clinic, "OMP-01", yj, "20260301", "20260328"),
            // The pharmacy's copy of the clinic's prescription, and its dispensing record.
            rx(pharmacy, "OMP-01", yj, "20260301", "20260328"),
            rx(pharmacy, "OMP-11", yj, "20260301", "20260301"),
        ];
        assert!(duplicate_prescriptions(&lines, since, &pharmacies).is_empty());
        // A hospital prescribing the same ingredient for overlapping days is flagged once,
        // against the clinic (the prescriber), not again against the pharmacy.
        let mut more = lines.to_vec();
        more.push(rx(hospital, "OMP-01", yj, "20260315", "20260411"));
        let d = duplicate_prescriptions(&more, since, &pharmacies);
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].first.line.source.as_str(), clinic);
        assert_eq!(d[0].second.line.source.as_str(), hospital);
        assert_eq!(
            (d[0].overlap_from.as_str(), d[0].overlap_to.as_str()),
            ("20260315", "20260328")
        );
        // Without knowing it is a pharmacy, the same lines are two prescribers.
        assert_eq!(
            duplicate_prescriptions(&lines, since, &BTreeSet::new()).len(),
            1
        );
    }

    impl Sourced<AllergyFact> {
        fn map_fact(self) -> Sourced<MedicationFact> {
            Sourced {
                source: self.source,
                local_id: self.local_id,
                version_id: self.version_id,
                line: self.line,
                kind: self.kind,
                date: self.date,
                order_no: self.order_no,
                fact: MedicationFact::default(),
            }
        }
    }
}
