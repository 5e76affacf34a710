//! Diagnoses (PPR-01).

use ssmix2::records::*;

use super::ViewContext;
use service::ServiceError;

/// No clinical view yet: the record page shows the raw segments.
pub(super) fn diagnoses(
    _header: &Header,
    _record: &Diagnoses,
    _cx: &ViewContext<'_>,
) -> Result<Option<String>, ServiceError> {
    Ok(None)
}
