//! The clinical view of one record (`/patients/{id}/records/{version}`): each SS-MIX2 family
//! read as a clinician reads it — a prescription as Rp groups with dose and 用法, a culture as
//! organisms with their susceptibilities — above the raw HL7 segments, which stay one click
//! away for the network's staff and for anything the view does not show.
//!
//! One module per family, each with its own template under `templates/records/`. A view
//! shows what was sent: a field that cannot be read with certainty is shown as sent and
//! flagged, never guessed (clinical safety). A family without a view yet returns `None` and
//! the page shows the raw segments open.

mod adt;
mod exam;
mod lab;
mod meal;
mod medication;
mod problem;

use ssmix2::records::{Body, Record};

use crate::html::render;
use service::ServiceError;

/// What every family's view may need besides the record itself.
#[allow(dead_code)] // read by the family views as they land (issue 14)
pub struct ViewContext<'a> {
    /// `YYYYMMDD` today (JST), for "ended N days ago" and ages.
    pub today: &'a str,
}

/// The clinical view of `record` as HTML, or `None` when its family has no view.
pub fn clinical_view(
    record: &Record,
    cx: &ViewContext<'_>,
) -> Result<Option<String>, ServiceError> {
    match &record.body {
        Body::Patient(p) => adt::patient(&record.header, p, cx),
        Body::Attending(a) => adt::attending(&record.header, a, cx),
        Body::Encounter(e) => adt::encounter(&record.header, e, cx),
        Body::Allergies(a) => adt::allergies(&record.header, a, cx),
        Body::Diagnoses(d) => problem::diagnoses(&record.header, d, cx),
        Body::Meal(m) => meal::meal(&record.header, m, cx),
        Body::MedicationOrder(m) => medication::order(&record.header, m, cx),
        Body::MedicationAdministration(m) => medication::administration(&record.header, m, cx),
        Body::LabOrder(l) => lab::order(&record.header, l, cx),
        Body::LabResult(l) => lab::result(&record.header, l, cx),
        Body::ExamOrder(e) => exam::order(&record.header, e, cx),
        Body::ExamReport(e) => exam::report(&record.header, e, cx),
    }
}

/// Render one family's template.
#[allow(dead_code)] // used by the family views as they land (issue 14)
pub(crate) fn view<T: askama::Template>(t: &T) -> Result<Option<String>, ServiceError> {
    render(t).map(Some)
}
