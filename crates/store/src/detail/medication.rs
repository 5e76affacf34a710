//! Detail of a prescription or administration line beyond its indexed columns.

use serde::{Deserialize, Serialize};

/// Detail of a prescription or administration line. Fields are added as extraction grows; each must have a default.
///
/// Texts are as sent (the code when no text was sent); nothing here is a guess.
///
/// Only what lists, summaries and warnings read across records is kept here. What the
/// record page reads from the message itself — TQ1 / RXA times, TQ1-4 time slots, who gave
/// a dose (RXA-10), the other drugs of a mix, the drug kind (RXE-27) and the local code's
/// system — is not repeated in every fact row: it doubled the medication index, and a
/// later reader that needs it re-derives the facts from the stored bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MedicationDetail {
    /// JAMI usage code (JAMISDP01) of the basic usage, else its local code.
    #[serde(
        rename = "uc",
        alias = "usage_code",
        skip_serializing_if = "String::is_empty"
    )]
    pub usage_code: String,
    /// Supplementary usages (補足用法) as sent: `隔日`, `週2回（月・木）`, `１日３回まで`.
    #[serde(
        rename = "m",
        alias = "modifiers",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub modifiers: Vec<String>,
    /// How the taking days follow each other: `daily`, `every:2`, `weekdays:0,3`
    /// (0 = Monday), `as_needed`, or `unknown` (see `ssmix2::dosing::Rhythm`).
    #[serde(
        rename = "r",
        alias = "rhythm",
        skip_serializing_if = "String::is_empty"
    )]
    pub rhythm: String,
    /// The calendar span could not be computed with certainty (unrecognised supplementary
    /// usage, as needed with a count, no day count): the end date is empty and the days are
    /// shown as sent.
    #[serde(
        rename = "su",
        alias = "span_uncertain",
        skip_serializing_if = "super::is_default"
    )]
    pub span_uncertain: bool,
    /// As needed (頓用: RXE-27 `22`, or the usage says so).
    #[serde(
        rename = "an",
        alias = "as_needed",
        skip_serializing_if = "super::is_default"
    )]
    pub as_needed: bool,
    /// TQ1-6 when not in days (`10回`), or TQ1-14 total occurrences.
    #[serde(
        rename = "oc",
        alias = "occurrences",
        skip_serializing_if = "String::is_empty"
    )]
    pub occurrences: String,
    /// RXE-4 maximum dose, when it differs from RXE-3.
    #[serde(
        rename = "dm",
        alias = "dose_max",
        skip_serializing_if = "String::is_empty"
    )]
    pub dose_max: String,
    /// The dose differs between the times of a day (不均等).
    #[serde(
        rename = "ue",
        alias = "uneven",
        skip_serializing_if = "super::is_default"
    )]
    pub uneven: bool,
    /// Per-time doses of an uneven line, in order: `朝食後 4錠`.
    #[serde(
        rename = "pt",
        alias = "per_time",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub per_time: Vec<PerTime>,
    /// RXE-7 instructions and TQ1-11 free text, as sent.
    #[serde(
        rename = "in",
        alias = "instructions",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub instructions: Vec<String>,
    /// TQ1-10 condition (start instruction: `手術翌日から`).
    #[serde(
        rename = "cd",
        alias = "condition",
        skip_serializing_if = "String::is_empty"
    )]
    pub condition: String,
    /// RXE-6 dosage form text.
    #[serde(rename = "f", alias = "form", skip_serializing_if = "String::is_empty")]
    pub form: String,
    /// RXE-10 total and RXE-11 unit (`49錠`).
    #[serde(
        rename = "t",
        alias = "total",
        skip_serializing_if = "String::is_empty"
    )]
    pub total: String,
    /// `院内` / `院外` from RXE-21, empty when not sent.
    #[serde(
        rename = "ds",
        alias = "dispensing",
        skip_serializing_if = "String::is_empty"
    )]
    pub dispensing: String,
    /// RXE-21 categories as sent (`外来処方`, `院外処方`).
    #[serde(
        rename = "ct",
        alias = "categories",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub categories: Vec<String>,
    /// ORC-12 ordering doctor (display name).
    #[serde(
        rename = "pr",
        alias = "prescriber",
        skip_serializing_if = "String::is_empty"
    )]
    pub prescriber: String,
    /// ORC-17 department text.
    #[serde(
        rename = "dp",
        alias = "department",
        skip_serializing_if = "String::is_empty"
    )]
    pub department: String,
    /// RXR-2 site text.
    #[serde(
        rename = "si",
        alias = "site",
        skip_serializing_if = "String::is_empty"
    )]
    pub site: String,
    /// RXR-3 device text.
    #[serde(
        rename = "dv",
        alias = "device",
        skip_serializing_if = "String::is_empty"
    )]
    pub device: String,
    /// RXE-23 rate with RXE-24 unit (`250 ミリリッター／時間`).
    #[serde(
        rename = "ra",
        alias = "rate",
        skip_serializing_if = "String::is_empty"
    )]
    pub rate: String,
    /// TQ1-13 duration of one administration (`2時間`).
    #[serde(
        rename = "du",
        alias = "duration",
        skip_serializing_if = "String::is_empty"
    )]
    pub duration: String,
    /// Injection: `B` base or `A` additive (RXC-1).
    #[serde(
        rename = "cp",
        alias = "component_type",
        skip_serializing_if = "String::is_empty"
    )]
    pub component_type: String,
    /// Administration (OMP-11/12): RXA-20 completion status (`CP`, `PA`, `NA`, `RE`) and
    /// RXA-9 notes (the reason a dose was refused or not given).
    #[serde(
        rename = "st",
        alias = "status",
        skip_serializing_if = "String::is_empty"
    )]
    pub status: String,
    #[serde(
        rename = "sn",
        alias = "status_notes",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub status_notes: Vec<String>,
}

/// One time's dose of an uneven line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PerTime {
    #[serde(rename = "w", alias = "when", skip_serializing_if = "String::is_empty")]
    pub when: String,
    #[serde(
        rename = "a",
        alias = "amount",
        skip_serializing_if = "String::is_empty"
    )]
    pub amount: String,
    #[serde(rename = "u", alias = "unit", skip_serializing_if = "String::is_empty")]
    pub unit: String,
}

impl MedicationDetail {
    /// An administration that gave the patient nothing (refused `RE`, not given `NA`).
    pub fn not_given(&self) -> bool {
        matches!(self.status.as_str(), "RE" | "NA")
    }
}
