//! Detail of a lab result (one OBX) beyond its indexed columns.

use serde::{Deserialize, Serialize};

/// Detail of a lab result (one OBX). Fields are added as extraction grows; each must have a default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LabDetail {
    /// OBX-4 sub-ID as sent (`1`, `2.1`): in a culture, the organism the row belongs to.
    #[serde(
        rename = "sid",
        alias = "sub_id",
        skip_serializing_if = "String::is_empty"
    )]
    pub sub_id: String,
    /// Position (0-based) of the result group (OBR) in the message: the rows of one panel
    /// or one culture share it.
    #[serde(
        rename = "g",
        alias = "group",
        skip_serializing_if = "super::is_default"
    )]
    pub group: u32,
    /// OBR-4: the panel / battery, as text. Its codes (and the specimen's) are not kept in
    /// every row: no reader of the facts needs them, the record page shows them from the
    /// message, and each row of a panel would repeat them (a fifth of the lab index).
    #[serde(
        rename = "p",
        alias = "panel",
        skip_serializing_if = "String::is_empty"
    )]
    pub panel: String,
    /// SPM-4: the specimen, as text.
    #[serde(
        rename = "sp",
        alias = "specimen",
        skip_serializing_if = "String::is_empty"
    )]
    pub specimen: String,
    /// OBR-25: the status of the whole report (`F`, `P`, `C`).
    #[serde(
        rename = "rs",
        alias = "report_status",
        skip_serializing_if = "String::is_empty"
    )]
    pub report_status: String,
    /// NTE comments following this OBX.
    #[serde(
        rename = "c",
        alias = "comments",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub comments: Vec<String>,
    /// In a culture (microbiology group): `specimen`, `organism`, `finding` or
    /// `susceptibility`; empty for every other result.
    #[serde(
        rename = "cr",
        alias = "culture_role",
        skip_serializing_if = "String::is_empty"
    )]
    pub culture_role: String,
    /// In a culture: the organism the row belongs to (its name as sent) and its sub-ID group.
    #[serde(
        rename = "o",
        alias = "organism",
        skip_serializing_if = "String::is_empty"
    )]
    pub organism: String,
    #[serde(
        rename = "ok",
        alias = "organism_key",
        skip_serializing_if = "String::is_empty"
    )]
    pub organism_key: String,
}

impl LabDetail {
    /// Part of a culture: shown as a culture, not as a row of the lab matrix.
    pub fn in_culture(&self) -> bool {
        !self.culture_role.is_empty()
    }
}
