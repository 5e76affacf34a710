//! Detail of an allergy (IAM or AL1) beyond its indexed columns.

use serde::{Deserialize, Serialize};

/// Detail of an allergy (IAM or AL1). Fields are added as extraction grows; each must have a default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AllergyDetail {}
