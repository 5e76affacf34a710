//! Detail of a lab result (one OBX) beyond its indexed columns.

use serde::{Deserialize, Serialize};

/// Detail of a lab result (one OBX). Fields are added as extraction grows; each must have a default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LabDetail {
    /// OBX-4 sub-ID as sent (`1`, `2.1`): in a culture, the organism the row belongs to.
    pub sub_id: String,
    /// Position (0-based) of the result group (OBR) in the message: the rows of one panel
    /// or one culture share it.
    pub group: u32,
    /// OBR-4: the panel / battery (text, code).
    pub panel: String,
    pub panel_code: String,
    /// SPM-4: the specimen (text, code).
    pub specimen: String,
    pub specimen_code: String,
    /// OBR-25: the status of the whole report (`F`, `P`, `C`).
    pub report_status: String,
    /// NTE comments following this OBX.
    pub comments: Vec<String>,
    /// In a culture (microbiology group): `specimen`, `organism`, `finding` or
    /// `susceptibility`; empty for every other result.
    pub culture_role: String,
    /// In a culture: the organism the row belongs to (its name as sent) and its sub-ID group.
    pub organism: String,
    pub organism_key: String,
}

impl LabDetail {
    /// Part of a culture: shown as a culture, not as a row of the lab matrix.
    pub fn in_culture(&self) -> bool {
        !self.culture_role.is_empty()
    }
}
