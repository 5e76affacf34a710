//! Detail of an admission, transfer or discharge beyond its indexed columns.

use serde::{Deserialize, Serialize};

/// Detail of an ADT event: admission, transfer, discharge (planned or done), or a message
/// cancelling one. Every field has a default: a row written by an older extractor reads as
/// "not extracted".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EncounterDetail {
    /// For a cancel message (`A11` …): the event it cancels (`A01` …); empty otherwise.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cancels: String,
    /// EVN-2 recorded and EVN-6 occurred, as sent.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub recorded_at: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub occurred_at: String,
    /// PV1-2 patient class (`I`, `O`, `E`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub patient_class: String,
    /// PV1-3 bed.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub bed: String,
    /// PV1-6 prior location (transfers): ward, room, bed.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub prior_ward: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub prior_room: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub prior_bed: String,
    /// PV1-10 department as shown (`01 内科`: the code with the sender's or the table's name).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub department_label: String,
    /// PV1-7 attending doctors as shown (`110 医師 一郎`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attending: Vec<String>,
    /// PV1-36 discharge disposition code and its text as sent.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub disposition: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub disposition_text: String,
    /// PV2-8 expected admit / transfer date, PV2-9 expected discharge date, as sent.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub expected_admit_at: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub expected_discharge_at: String,
    /// PV1-19 visit number.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub visit_number: String,
    /// PV2-3 admit reason text.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub admit_reason: String,
}
