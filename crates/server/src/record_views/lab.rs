//! Specimen lab orders (OML-01) and results (OML-11), microbiology included.

use ssmix2::records::*;

use super::ViewContext;
use service::ServiceError;

/// No clinical view yet: the record page shows the raw segments.
pub(super) fn order(
    _header: &Header,
    _record: &LabOrder,
    _cx: &ViewContext<'_>,
) -> Result<Option<String>, ServiceError> {
    Ok(None)
}

/// No clinical view yet: the record page shows the raw segments.
pub(super) fn result(
    _header: &Header,
    _record: &LabResult,
    _cx: &ViewContext<'_>,
) -> Result<Option<String>, ServiceError> {
    Ok(None)
}
