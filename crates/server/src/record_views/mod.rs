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
mod document;
mod exam;
mod lab;
mod meal;
mod medication;
mod problem;
mod vitals;

pub use document::document;
use ssmix2::records::{Body, Coded, Person, Record};
pub use vitals::vitals;

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
pub(crate) fn view<T: askama::Template>(t: &T) -> Result<Option<String>, ServiceError> {
    render(t).map(Some)
}

/// A coded value as a clinician reads it: its text, with the code(s) as sent beside it.
pub(crate) fn coded(c: Option<&Coded>) -> String {
    let Some(c) = c else {
        return String::new();
    };
    let text = c.display();
    let codes: Vec<&str> = [c.code.as_str(), c.alt_code.as_str()]
        .into_iter()
        .filter(|k| !k.is_empty() && *k != text)
        .collect();
    if codes.is_empty() {
        text.to_owned()
    } else {
        format!("{text} [{}]", codes.join(" / "))
    }
}

/// A doctor or other staff member: name (kana), ID.
pub(crate) fn person(p: Option<&Person>) -> String {
    let Some(p) = p else {
        return String::new();
    };
    let name = p.display();
    match (name.is_empty(), p.id.is_empty()) {
        (true, true) => String::new(),
        (true, false) => p.id.clone(),
        (false, true) => name,
        (false, false) => format!("{name} ({})", p.id),
    }
}

/// An HL7 date or timestamp as shown everywhere else; empty when not sent.
pub(crate) fn when(ts: Option<&str>) -> String {
    match ts {
        None | Some("") => String::new(),
        Some(t) => crate::html::show_time(t),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The typed record of a message given as text (segments separated by LF or CR).
    pub(crate) fn record_of(kind: &str, text: &str) -> Record {
        let text = text.replace('\n', "\r");
        let msg = hl7::Message::parse(&text).expect("parses");
        let kind = ssmix2::DataKind::from_code(kind).expect("kind");
        ssmix2::records::read_record(kind, &msg).expect("reads")
    }

    /// A fixture of crates/ssmix2 as its clinical view.
    pub(crate) fn fixture_view(kind: &str) -> String {
        let path = format!(
            "{}/../ssmix2/tests/fixtures/{kind}.hl7",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(path).expect("fixture");
        html_of(&record_of(kind, &text))
    }

    pub(crate) fn html_of(record: &Record) -> String {
        clinical_view(record, &ViewContext { today: "20240401" })
            .expect("renders")
            .expect("has a view")
    }
}
