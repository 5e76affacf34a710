//! Typed records read from the HL7 message of each SS-MIX2 data kind. Pure logic, no I/O.
//!
//! [`read_record`] checks that the message fits the kind (MSH-9, required segments) and
//! returns a [`Record`]: a [`Header`] common to all kinds (who, when, which order, does it
//! cancel) and a [`Body`] specific to the kind's family.
//!
//! Value conventions (see [`common`]): `Option<String>` is `None` when a field was not sent
//! and `Some("")` when it was the HL7 explicit null `""` ("delete"); dates stay HL7 text;
//! every repetition and every NTE comment is kept. Nothing here panics on any input.

pub mod adt;
pub mod common;
pub mod exam;
pub mod lab;
pub mod meal;
pub mod medication;
pub mod micro;
pub mod ppr;

use hl7::Message;
use serde::{Deserialize, Serialize};

use crate::kinds::{DataKind, DateSource};
use crate::naming::is_valid_date;

pub use adt::{
    Allergies, Allergy, AllergySummary, Attending, Encounter, Measurement, NextOfKin, Patient,
    PatientIdentifier, Role,
};
pub use common::{
    Address, Coded, Insurance, Location, Names, Observation, ObservationRequest, Order, Person,
    PersonName, Phone, Quantity, Specimen, Timing,
};
pub use exam::{ExamItem, ExamOrder, ExamReport, ImagingStudy, PerformedItem};
pub use lab::{LabOrder, LabOrderItem, LabResult, LabResultItem, SpecimenOrders, SpecimenResults};
pub use meal::{Diet, Meal, MealOrder};
pub use medication::{
    Administration, AdministrationGroup, InjectionComponent, MedicationAdministration,
    MedicationItem, MedicationOrder, PerTimeDose, Route,
};
pub use micro::{Culture, CultureRole, Organism, Susceptibility};
pub use ppr::{Diagnoses, Diagnosis, DiagnosisModifier, UNCODED_DISEASE};

/// One data-kind file, read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub header: Header,
    pub body: Body,
}

/// What every kind has: message identity, patient, order, date of care, cancellation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// MSH-9 as `TYPE^EVENT` (`OUL^R22`).
    pub message_type: String,
    /// MSH-10 message control ID.
    pub control_id: String,
    /// MSH-7 as sent.
    pub sent_at: String,
    /// MSH-4 first component.
    pub sending_facility: String,
    /// PID-3: the ID with identifier type `PI`, else the first one.
    pub patient_id: String,
    /// ORC-1 of the first ORC (`NW`, `XO`, `CA`, `SC`…).
    pub order_control: Option<String>,
    /// ORC-2 of the first ORC.
    pub order_no: Option<String>,
    /// `YYYYMMDD` from the kind's date field ([`DataKind::date_source`]); `None` for undated
    /// kinds and when the field is empty (cancellations often omit it: use the file name).
    pub clinical_date: Option<String>,
    /// The message cancels what it refers to: an ADT cancel event (A11 cancels A01…), or
    /// the first ORC cancels its order (ORC-1 `CA`/`OC`/`CR` or ORC-5 `CA`), or every RXA of
    /// an administration has action code `D` (RXA-21).
    pub cancels: bool,
}

/// The kind-specific content.
#[allow(clippy::large_enum_variant)] // read once, then serialized or matched; boxing buys nothing
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Body {
    /// ADT-00 demographics.
    Patient(Patient),
    /// ADT-01 attending doctor.
    Attending(Attending),
    /// ADT-12 … ADT-52 visits, admissions, leaves, transfers, discharges.
    Encounter(Encounter),
    /// ADT-61 allergies.
    Allergies(Allergies),
    /// PPR-01 diagnoses.
    Diagnoses(Diagnoses),
    /// OMD meal order.
    Meal(Meal),
    /// OMP-01 prescription order, OMP-02 injection order.
    MedicationOrder(MedicationOrder),
    /// OMP-11 prescription administered, OMP-12 injection administered.
    MedicationAdministration(MedicationAdministration),
    /// OML-01 specimen lab order.
    LabOrder(LabOrder),
    /// OML-11 specimen lab results.
    LabResult(LabResult),
    /// OMG-01/02/03 radiology, endoscopy, physiology orders.
    ExamOrder(ExamOrder),
    /// OMG-11/12 performed (OMI^Z23), OMG-13 physiology result (ORU^R01).
    ExamReport(ExamReport),
}

/// Why a message cannot be read as the typed record of its kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("MSH-9 is {found:?} but data kind {kind} holds only {expected}")]
    WrongMessageType {
        kind: DataKind,
        found: String,
        expected: String,
    },
    #[error("{kind} message has no {segment} segment (truncated or incomplete message)")]
    MissingSegment {
        kind: DataKind,
        segment: &'static str,
    },
    #[error("{segment}-{field} ({what}) is empty")]
    MissingField {
        segment: &'static str,
        field: usize,
        what: &'static str,
    },
    #[error("{segment}-{field} has invalid value {value:?}: {reason}")]
    InvalidValue {
        segment: &'static str,
        field: usize,
        value: String,
        reason: &'static str,
    },
}

/// Segments a message of `kind` must contain (besides MSH). `message_type` matters for the
/// ADT cancel events, which may leave out the segment the main event's date comes from.
pub fn required_segments(kind: DataKind, message_type: &str) -> &'static [&'static str] {
    use DataKind::*;
    let cancel = DataKind::is_cancel_event(message_type);
    match kind {
        Adt00 => &["EVN", "PID"],
        Adt01 | Adt12 | Adt22 | Adt52 => &["EVN", "PID", "PV1"],
        Adt31 | Adt32 | Adt42 => &["EVN", "PID", "PV1"],
        Adt21 | Adt41 | Adt51 if cancel => &["EVN", "PID", "PV1"],
        Adt21 | Adt41 | Adt51 => &["EVN", "PID", "PV1", "PV2"],
        Adt61 => &["EVN", "PID", "IAM"],
        Ppr01 => &["PID", "PRB"],
        Omd => &["PID", "ORC", "ODS"],
        Omp01 | Omp02 => &["PID", "ORC", "RXE"],
        Omp11 | Omp12 => &["PID", "ORC", "RXA"],
        Oml01 => &["PID", "SPM", "ORC", "OBR"],
        Oml11 => &["PID", "SPM", "OBR"],
        Omg01 | Omg02 | Omg03 => &["PID", "ORC", "OBR"],
        Omg11 | Omg12 => &["PID", "ORC", "OBR"],
        Omg13 => &["PID", "OBR"],
    }
}

/// Read the typed record of `kind` from a parsed message.
///
/// Fails when MSH-9 is not one of the kind's message types, when a required segment is
/// missing ([`required_segments`]: a truncated file fails here), when PID-3 holds no ID, or
/// when the date field of the kind holds something that is not a date.
pub fn read_record(kind: DataKind, msg: &Message) -> Result<Record, RecordError> {
    let message_type = check_message(kind, msg)?;
    let body = read_body(kind, msg);
    let header = read_header(kind, msg, message_type, Some(&body))?;
    Ok(Record { header, body })
}

/// Check a message exactly as [`read_record`] does and read only its [`Header`]: what the
/// importer needs to validate and index a file, without building the typed body (several
/// times the work). `read_record` succeeds on a message if and only if this does.
pub fn read_record_header(kind: DataKind, msg: &Message) -> Result<Header, RecordError> {
    let message_type = check_message(kind, msg)?;
    read_header(kind, msg, message_type, None)
}

/// The message fits the kind: MSH-9 is one of its message types and every required segment is
/// there. Returns MSH-9.
fn check_message(kind: DataKind, msg: &Message) -> Result<String, RecordError> {
    let message_type = msg.message_type();
    if !kind.accepts(&message_type) {
        return Err(RecordError::WrongMessageType {
            kind,
            found: message_type,
            expected: kind.message_types().join(" or "),
        });
    }
    for &segment in required_segments(kind, &message_type) {
        if msg.segment(segment).is_none() {
            return Err(RecordError::MissingSegment { kind, segment });
        }
    }
    Ok(message_type)
}

fn read_body(kind: DataKind, msg: &Message) -> Body {
    use DataKind::*;
    match kind {
        Adt00 => Body::Patient(Patient::read(msg)),
        Adt01 => Body::Attending(Attending::read(msg)),
        Adt12 | Adt21 | Adt22 | Adt31 | Adt32 | Adt41 | Adt42 | Adt51 | Adt52 => {
            Body::Encounter(Encounter::read(msg))
        }
        Adt61 => Body::Allergies(Allergies::read(msg)),
        Ppr01 => Body::Diagnoses(Diagnoses::read(msg)),
        Omd => Body::Meal(Meal::read(msg)),
        Omp01 | Omp02 => Body::MedicationOrder(MedicationOrder::read(msg)),
        Omp11 | Omp12 => Body::MedicationAdministration(MedicationAdministration::read(msg)),
        Oml01 => Body::LabOrder(LabOrder::read(msg)),
        Oml11 => Body::LabResult(LabResult::read(msg)),
        Omg01 | Omg02 | Omg03 => Body::ExamOrder(ExamOrder::read(msg)),
        Omg11 | Omg12 | Omg13 => Body::ExamReport(ExamReport::read(msg)),
    }
}

fn read_header(
    kind: DataKind,
    msg: &Message,
    message_type: String,
    body: Option<&Body>,
) -> Result<Header, RecordError> {
    let msh = msg.msh();
    let patient_id = patient_id(msg)?;
    let orc = msg.segment("ORC");
    let first_order = orc.map(|s| common::Order::read(&s));
    let order_cancels = first_order.as_ref().is_some_and(common::Order::is_cancel);
    // An administration message cancels when every RXA has action code D (RXA-21).
    let administration_cancels = match body {
        Some(Body::MedicationAdministration(a)) => {
            let mut codes = a
                .groups
                .iter()
                .flat_map(|g| &g.administrations)
                .map(|x| x.action_code.as_deref());
            codes.next().is_some_and(|first| first == Some("D")) && codes.all(|c| c == Some("D"))
        }
        Some(_) => false,
        None if matches!(kind, DataKind::Omp11 | DataKind::Omp12) => {
            let mut codes = msg
                .segments_named("RXA")
                .map(|rxa| common::field_opt(&rxa, 21));
            codes
                .next()
                .is_some_and(|first| first.as_deref() == Some("D"))
                && codes.all(|c| c.as_deref() == Some("D"))
        }
        None => false,
    };
    Ok(Header {
        cancels: DataKind::is_cancel_event(&message_type)
            || order_cancels
            || administration_cancels,
        message_type,
        control_id: msh.value(10).into_owned(),
        sent_at: msh.value(7).into_owned(),
        sending_facility: msh.value(4).into_owned(),
        patient_id,
        order_control: first_order.as_ref().map(|o| o.control.clone()),
        order_no: first_order.map(|o| o.order_no),
        clinical_date: date_of_care(kind, msg)?,
    })
}

/// The patient ID of a message (PID-3: the ID with identifier type `PI`, else the first),
/// for messages of any kind — an extended-storage HL7 document too.
pub fn message_patient_id(msg: &Message) -> Option<String> {
    patient_id(msg).ok()
}

fn patient_id(msg: &Message) -> Result<String, RecordError> {
    let missing = RecordError::MissingField {
        segment: "PID",
        field: 3,
        what: "patient ID",
    };
    let pid = msg.segment("PID").ok_or(missing.clone())?;
    let f = pid.field(3);
    let ids: Vec<_> = f
        .repetitions()
        .filter(|r| !r.component(1).is_empty())
        .collect();
    let chosen = ids
        .iter()
        .find(|r| r.component(5).raw() == "PI")
        .or_else(|| ids.first());
    match chosen.map(|r| r.component(1).value().trim().to_owned()) {
        Some(id) if !id.is_empty() && id != "\"\"" => Ok(id),
        _ => Err(missing),
    }
}

/// `YYYYMMDD` from the kind's date field ([`DataKind::date_source`]). `None` for undated kinds,
/// and when the field is missing, empty or not a date.
pub fn clinical_date(kind: DataKind, msg: &Message) -> Option<String> {
    date_of_care(kind, msg).ok().flatten()
}

fn date_of_care(kind: DataKind, msg: &Message) -> Result<Option<String>, RecordError> {
    let DateSource::Field(segment, field) = kind.date_source() else {
        return Ok(None);
    };
    let Some(seg) = msg.segment(segment) else {
        return Ok(None);
    };
    // DR fields (SPM-17) hold the start in component 1; TS/DTM fields are component 1 anyway.
    let raw = seg.field(field).first().component(1).value();
    let raw = raw.trim();
    if raw.is_empty() || raw == "\"\"" {
        return Ok(None);
    }
    match raw.get(..8) {
        Some(date)
            if is_valid_date(date)
                && raw
                    .bytes()
                    .all(|b| b.is_ascii_digit() || b"+-.".contains(&b)) =>
        {
            Ok(Some(date.to_owned()))
        }
        _ => Err(RecordError::InvalidValue {
            segment,
            field,
            value: raw.to_owned(),
            reason: "expected a date YYYYMMDD[HHMM[SS[.S]]][+ZZZZ]",
        }),
    }
}
