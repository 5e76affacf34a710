//! Detail of a diagnosis (one PRB) beyond its indexed columns.

use serde::{Deserialize, Serialize};

/// Detail of a diagnosis (one PRB). Fields are added as extraction grows; each must have a default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DiagnosisDetail {}
