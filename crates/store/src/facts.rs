//! Clinical facts: the few fields of a lab result, a prescription line, a diagnosis, an
//! allergy or an admission that the viewer's summary, lab matrix and medication list need.
//!
//! They are read from the message once, at import, and stored next to the record index
//! entry of the file version they came from (same transaction). A fact is live exactly when
//! its version is the current version of its file and the file is an SS-MIX2 `_1` (current)
//! file: when an order is updated or cancelled, the old `_1` path disappears from the tree and
//! its facts drop out of the current view, but stay in the order's history.
//!
//! Dates are HL7 text (`YYYYMMDD[HHMM[SS]]`), codes as sent; empty string = not sent.

use serde::{Deserialize, Serialize};

use crate::detail::{AllergyDetail, DiagnosisDetail, EncounterDetail, LabDetail, MedicationDetail};

/// One fact of one file, with its line number (0-based position inside the message).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClinicalFact {
    pub line: u32,
    pub fact: Fact,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Fact {
    Lab(LabFact),
    Medication(MedicationFact),
    Diagnosis(DiagnosisFact),
    Allergy(AllergyFact),
    Encounter(EncounterFact),
}

/// One OBX of an OML-11 lab result.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabFact {
    /// The JLAC10 code (17 characters) when sent, else the facility's local code.
    pub code: String,
    /// `JC10` for JLAC10, else the local coding system as sent.
    pub code_system: String,
    /// The facility's own code, when the OBX carries one next to JLAC10 (or as its only code).
    pub local_code: String,
    pub name: String,
    /// OBX-2 (`NM`, `ST`, `CWE`…).
    pub value_type: String,
    pub value: String,
    pub unit: String,
    pub reference_range: String,
    /// OBX-8 (`H`, `L`, `HH`, `A`…), empty when normal or not sent.
    pub abnormal_flag: String,
    /// OBX-11 (`F` final, `P` preliminary, `C` corrected…).
    pub status: String,
    /// OBX-14, else SPM-17 (collection), else OBR-7.
    pub observed_at: String,
    /// What the views need beyond the indexed columns (see [`crate::detail`]).
    pub detail: LabDetail,
}

impl LabFact {
    pub fn is_jlac10(&self) -> bool {
        self.code_system == "JC10" && self.code.len() == 17
    }
}

/// One drug line (ORC + RXE, or one RXC of an injection) of an OMP-01 / OMP-02 order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MedicationFact {
    /// Rp number: ORC-4 (placer group number).
    pub rp: String,
    /// HOT code (HOT9/HOT7/HOT13…) when sent.
    pub hot_code: String,
    /// YJ code (RXE-31 or the drug field) when sent.
    pub yj_code: String,
    /// The facility's own drug code when no HOT or YJ code is sent.
    pub local_code: String,
    pub drug_name: String,
    /// One dose (RXE-3) and its unit (RXE-5); for injections the RXC amount and unit.
    pub dose: String,
    pub dose_unit: String,
    /// RXE-19 amount and unit.
    pub daily_dose: String,
    /// TQ1-3 usage text (用法).
    pub usage: String,
    /// RXR-1 route text.
    pub route: String,
    /// TQ1-6 in days, when given in days.
    pub days: Option<u32>,
    /// `YYYYMMDD`: TQ1-7, else the order date (ORC-9).
    pub start_date: String,
    /// `YYYYMMDD`: TQ1-8, else start + days − 1; empty when unknown.
    pub end_date: String,
    /// ORC-9 as sent.
    pub ordered_at: String,
    /// What the views need beyond the indexed columns (see [`crate::detail`]). Boxed: it is
    /// most of a medication line's size, and facts travel in large batches at import.
    pub detail: Box<MedicationDetail>,
}

/// One PRB of a PPR-01 message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiagnosisFact {
    pub name: String,
    pub medis_code: String,
    pub icd10: String,
    pub main: bool,
    pub suspected: bool,
    /// PRB-1 (`AD` add, `UP` update, `DE` delete).
    pub action: String,
    /// Onset / diagnosis date.
    pub start_date: String,
    /// Resolution or outcome date; empty while active.
    pub end_date: String,
    /// Outcome text (転帰), empty while active.
    pub outcome: String,
    /// What the views need beyond the indexed columns (see [`crate::detail`]).
    pub detail: DiagnosisDetail,
}

/// One IAM of an ADT-61 message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllergyFact {
    /// IAM-2 text (`薬剤アレルギー`) or code (`DA`).
    pub allergen_type: String,
    pub allergen_type_code: String,
    pub allergen_code: String,
    pub allergen_system: String,
    pub allergen_name: String,
    pub severity: String,
    /// IAM-5 repetitions joined with `、`.
    pub reaction: String,
    pub identified: String,
    /// What the views need beyond the indexed columns (see [`crate::detail`]).
    pub detail: AllergyDetail,
}

/// An admission (ADT-22) or discharge (ADT-52).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncounterFact {
    /// `A01` admission, `A03` discharge (the event of MSH-9).
    pub event: String,
    pub admitted_at: String,
    pub discharged_at: String,
    /// PV1-3 point of care (病棟) and room.
    pub ward: String,
    pub room: String,
    /// PV1-10 hospital service (診療科).
    pub department: String,
    /// What the views need beyond the indexed columns (see [`crate::detail`]).
    pub detail: EncounterDetail,
}

/// A stored fact with what the gate and the viewer need about its record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FactRow<T> {
    /// The file version the fact came from (see [`crate::StoredRecord::version_id`]).
    pub version_id: i64,
    pub line: u32,
    /// Data kind code of the record (`OML-11`…): the gate's category comes from it.
    pub kind: String,
    /// The record's date folder (`YYYYMMDD` or `-`).
    pub date: String,
    pub order_no: String,
    /// File-name timestamp of the version.
    pub written_at: String,
    pub fact: T,
}

/// Which lab results to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabFilter {
    /// Only these test codes (JLAC10 or local); empty = all.
    pub codes: Vec<String>,
    /// `YYYYMMDD`, inclusive, compared with the observation date.
    pub from: Option<String>,
    pub to: Option<String>,
    /// Only the newest live result of each test code (the summary's "latest labs"), chosen
    /// in the database so that a patient's thousands of older results are not sent back.
    pub latest_per_test: bool,
    /// `false` (the default): the standard storage's lab results (OML-11), what the lab
    /// matrix, the summary and the duplicate-test warnings read. `true`: the observations of
    /// extended-storage documents (vitals, ORU^R30 …, whose record kind is their kind
    /// folder), which the vitals table reads and which never mix with lab results.
    pub extended: bool,
}

/// The record kind of every standard-storage lab result: the stores tell lab results from
/// extended-storage observations by it ([`LabFilter::extended`]). The ingest gives no facts
/// to an extended-storage folder named like a standard kind, so the split is exact.
pub const LAB_RESULT_KIND: &str = "OML-11";

/// One fact of an order's history, live or not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoricFact {
    pub row: FactRow<Fact>,
    /// The version is the current `_1` file of the order.
    pub live: bool,
}

/// A record stored before its kind's facts were extracted at import (stores created before
/// schema 3): its facts are read from the stored bytes by the backfill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackfillItem {
    pub facility: crate::FacilityId,
    pub version_id: i64,
    /// Relative to the facility's storage root (what `classify` needs).
    pub path: String,
    pub patient_id: String,
    pub sha256: model::Sha256,
}

/// The facts read for one [`BackfillItem`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackfilledFacts {
    pub facility: crate::FacilityId,
    pub version_id: i64,
    pub patient_id: String,
    pub facts: Vec<ClinicalFact>,
    /// The record cancels its order ([`crate::RecordIndex::cancels`]): re-derivation sets the
    /// flag on index entries stored before it was read at import.
    pub cancels: bool,
}

/// Day number (days since 1970-01-01) of the first 8 characters of an HL7 date
/// (`YYYYMMDD…`), `None` when they are not a valid date; and `YYYYMMDD` of a day number.
/// One civil-date arithmetic for the whole project: the dosing rules of `ssmix2` own it.
pub use ssmix2::dosing::{date_of_day, day_number};

/// The date `days` after an HL7 date (`YYYYMMDD`), or `None` when it is not a date.
pub fn add_days(hl7_date: &str, days: i64) -> Option<String> {
    day_number(hl7_date).map(|n| date_of_day(n + days))
}

/// [`add_days`], empty when the date is not a date.
pub fn add_days_to(hl7_date: &str, days: i64) -> String {
    add_days(hl7_date, days).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_arithmetic_crosses_months_and_leap_days() {
        assert_eq!(add_days("20110701", 4).as_deref(), Some("20110705"));
        assert_eq!(add_days("20240228", 1).as_deref(), Some("20240229"));
        assert_eq!(add_days("20231231", 1).as_deref(), Some("20240101"));
        assert_eq!(day_number("19700101"), Some(0));
        assert_eq!(day_number("2011"), None);
        assert_eq!(day_number("20111301"), None);
    }
}
