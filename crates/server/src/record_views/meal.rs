//! Meal orders (OMD).

use ssmix2::records::*;

use super::ViewContext;
use service::ServiceError;

/// No clinical view yet: the record page shows the raw segments.
pub(super) fn meal(
    _header: &Header,
    _record: &Meal,
    _cx: &ViewContext<'_>,
) -> Result<Option<String>, ServiceError> {
    Ok(None)
}
