//! Detail of a diagnosis (one PRB) beyond its indexed columns.

use serde::{Deserialize, Serialize};

/// Detail of a diagnosis (one PRB and its ZPR / ZPD / ORC / NTE). Every field has a
/// default: a row written by an older extractor reads as "not extracted".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DiagnosisDetail {
    /// PRB-4 problem instance ID: the same diagnosis across PPR-01 versions.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub instance_id: String,
    /// ZPR-5 MEDIS exchange code (4 characters).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub exchange_code: String,
    /// MEDIS key 20084317: the name is free text, not from the master.
    #[serde(skip_serializing_if = "super::is_default")]
    pub uncoded: bool,
    /// ZPD modifiers (急性, 左 …) as sent.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub modifiers: Vec<String>,
    /// PRB-7 diagnosed, PRB-16 onset, PRB-9 resolved, PRB-15 outcome date as sent.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub diagnosed_at: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub onset: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub resolved_at: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub outcome_at: String,
    /// PRB-14 outcome code (HL7 0241 / JHSD0006).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub outcome_code: String,
    /// PRB-10 inpatient / outpatient classification text (`外来時`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub setting: String,
    /// Diagnosing doctor (ORC-12) and department (ORC-17) as shown.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub doctor: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub department: String,
    /// NTE comments.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub comments: Vec<String>,
}
