//! Detail of an allergy (IAM or AL1) beyond its indexed columns.

use serde::{Deserialize, Serialize};

/// Detail of an allergy (IAM of ADT-61, or AL1 of the demographics ADT-00). Every field has
/// a default: a row written by an older extractor reads as "not extracted".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AllergyDetail {
    /// The segment it came from: `IAM` (ADT-61) or `AL1` (ADT-00).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub segment: String,
    /// The allergen's second code as sent (components 4–6), e.g. a local code next to HOT.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub alt_code: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub alt_system: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub alt_name: String,
    /// IAM-4 / AL1-4 severity code (`SV`, `MO`, `MI`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub severity_code: String,
    /// IAM-6 action code (`A`, `U`, `X`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub action: String,
    /// IAM-7 unique identifier of the entry.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub entry_id: String,
    /// IAM-12 onset as text (`小学校低学年の頃`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub onset_text: String,
    /// IAM-13 reported date-time.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reported_at: String,
    /// IAM-17 clinical status as sent.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub clinical_status: String,
    /// NTE comments following the IAM.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub comments: Vec<String>,
}
