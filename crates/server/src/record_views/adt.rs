//! ADT: demographics (ADT-00), attending doctor (ADT-01), visits / admissions / transfers / discharges (ADT-12…52), allergies (ADT-61).

use ssmix2::records::*;

use super::ViewContext;
use service::ServiceError;

/// No clinical view yet: the record page shows the raw segments.
pub(super) fn patient(
    _header: &Header,
    _record: &Patient,
    _cx: &ViewContext<'_>,
) -> Result<Option<String>, ServiceError> {
    Ok(None)
}

/// No clinical view yet: the record page shows the raw segments.
pub(super) fn attending(
    _header: &Header,
    _record: &Attending,
    _cx: &ViewContext<'_>,
) -> Result<Option<String>, ServiceError> {
    Ok(None)
}

/// No clinical view yet: the record page shows the raw segments.
pub(super) fn encounter(
    _header: &Header,
    _record: &Encounter,
    _cx: &ViewContext<'_>,
) -> Result<Option<String>, ServiceError> {
    Ok(None)
}

/// No clinical view yet: the record page shows the raw segments.
pub(super) fn allergies(
    _header: &Header,
    _record: &Allergies,
    _cx: &ViewContext<'_>,
) -> Result<Option<String>, ServiceError> {
    Ok(None)
}
