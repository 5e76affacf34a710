//! Detail of a lab result (one OBX) beyond its indexed columns.

use serde::{Deserialize, Serialize};

/// Detail of a lab result (one OBX). Fields are added as extraction grows; each must have a default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LabDetail {}
