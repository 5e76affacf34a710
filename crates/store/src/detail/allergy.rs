//! Detail of an allergy (IAM or AL1) beyond its indexed columns.

use serde::{Deserialize, Serialize};

/// Detail of an allergy (IAM of ADT-61, or AL1 of the demographics ADT-00). Every field has
/// a default: a row written by an older extractor reads as "not extracted".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AllergyDetail {
    /// The segment it came from: `IAM` (ADT-61) or `AL1` (ADT-00).
    pub segment: String,
    /// The allergen's second code as sent (components 4–6), e.g. a local code next to HOT.
    pub alt_code: String,
    pub alt_system: String,
    pub alt_name: String,
    /// IAM-4 / AL1-4 severity code (`SV`, `MO`, `MI`).
    pub severity_code: String,
    /// IAM-6 action code (`A`, `U`, `X`).
    pub action: String,
    /// IAM-7 unique identifier of the entry.
    pub entry_id: String,
    /// IAM-12 onset as text (`小学校低学年の頃`).
    pub onset_text: String,
    /// IAM-13 reported date-time.
    pub reported_at: String,
    /// IAM-17 clinical status as sent.
    pub clinical_status: String,
    /// NTE comments following the IAM.
    pub comments: Vec<String>,
}
