//! Detail of an admission, transfer or discharge beyond its indexed columns.

use serde::{Deserialize, Serialize};

/// Detail of an admission, transfer or discharge. Fields are added as extraction grows; each must have a default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EncounterDetail {}
