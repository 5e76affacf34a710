//! Exam orders (OMG-01/02/03: radiology, endoscopy, physiology) and reports (OMG-11/12/13).

use ssmix2::records::*;

use super::ViewContext;
use service::ServiceError;

/// No clinical view yet: the record page shows the raw segments.
pub(super) fn order(
    _header: &Header,
    _record: &ExamOrder,
    _cx: &ViewContext<'_>,
) -> Result<Option<String>, ServiceError> {
    Ok(None)
}

/// No clinical view yet: the record page shows the raw segments.
pub(super) fn report(
    _header: &Header,
    _record: &ExamReport,
    _cx: &ViewContext<'_>,
) -> Result<Option<String>, ServiceError> {
    Ok(None)
}
