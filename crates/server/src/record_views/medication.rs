//! Prescriptions and injections (OMP-01/02) and their administrations (OMP-11/12).

use ssmix2::records::*;

use super::ViewContext;
use service::ServiceError;

/// No clinical view yet: the record page shows the raw segments.
pub(super) fn order(
    _header: &Header,
    _record: &MedicationOrder,
    _cx: &ViewContext<'_>,
) -> Result<Option<String>, ServiceError> {
    Ok(None)
}

/// No clinical view yet: the record page shows the raw segments.
pub(super) fn administration(
    _header: &Header,
    _record: &MedicationAdministration,
    _cx: &ViewContext<'_>,
) -> Result<Option<String>, ServiceError> {
    Ok(None)
}
