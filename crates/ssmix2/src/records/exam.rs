//! Radiology, endoscopy and physiology: orders (OMG^O19, OMG-01/02/03), performed
//! examinations (OMI^Z23, OMG-11/12) and physiology results (ORU^R01, OMG-13).
//!
//! A group starts at ORC (or at an OBR that has no ORC of its own, as ORU allows); TQ1, OBR,
//! OBX, IPC (imaging study), ZE1 (performed items) and NTE follow.

use hl7::Message;
use serde::{Deserialize, Serialize};

use super::common::{
    comment, comp_of, field_opt, field_values, Coded, Observation, ObservationRequest, Order,
    Person, Timing,
};

/// An imaging study (IPC): links the order to the DICOM study.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImagingStudy {
    /// IPC-1 accession number.
    pub accession_no: String,
    /// IPC-2 requested procedure ID.
    pub requested_procedure_id: Option<String>,
    /// IPC-3 study instance UID.
    pub study_instance_uid: Option<String>,
    /// IPC-4 scheduled procedure step ID.
    pub scheduled_step_id: Option<String>,
    /// IPC-5 modality (`US^^DCM`).
    pub modality: Option<Coded>,
}

/// A performed item (ZE1, JAHIS): what was actually done, with materials and staff.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PerformedItem {
    /// ZE1-1.
    pub set_id: Option<String>,
    /// ZE1-2 item category.
    pub category: Option<String>,
    /// ZE1-3 procedure, drug or material.
    pub item: Option<Coded>,
    /// ZE1-4 amount.
    pub amount: Option<String>,
    /// ZE1-5 unit.
    pub unit: Option<Coded>,
    /// ZE1-6 details, every repetition.
    pub details: Vec<String>,
    /// ZE1-7 who performed it.
    pub performers: Vec<Person>,
}

/// One order group of an examination order or report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExamItem {
    /// ORC (absent for an ORU OBR sent without ORC).
    pub order: Option<Order>,
    pub timing: Vec<Timing>,
    /// OBR: procedure (OBR-4, JJ1017 for radiology), performed (OBR-7), reported (OBR-22).
    pub request: Option<ObservationRequest>,
    /// OBX: findings text, measured values (physiology), or order information (weight…).
    pub observations: Vec<Observation>,
    /// IPC segments.
    pub imaging: Vec<ImagingStudy>,
    /// ZE1 segments.
    pub performed: Vec<PerformedItem>,
    pub comments: Vec<String>,
}

impl ExamItem {
    /// Modality code: IPC-5, else a DICOM-coded (`DCM`) OBX value, else OBR-24.
    pub fn modality(&self) -> Option<&str> {
        self.imaging
            .iter()
            .find_map(|i| {
                i.modality
                    .as_ref()
                    .map(|m| m.code.as_str())
                    .filter(|m| !m.is_empty())
            })
            .or_else(|| {
                self.observations
                    .iter()
                    .flat_map(|o| &o.coded_values)
                    .find_map(|c| c.code_of("DCM"))
            })
            .or_else(|| {
                self.request
                    .as_ref()
                    .and_then(|r| r.section.as_deref())
                    .filter(|s| !s.is_empty())
            })
    }

    /// The procedure code (OBR-4).
    pub fn procedure(&self) -> Option<&Coded> {
        self.request.as_ref().and_then(|r| r.service.as_ref())
    }

    /// Text findings (TX, ST, FT observations), joined by line feeds.
    pub fn findings_text(&self) -> String {
        self.observations
            .iter()
            .filter(|o| matches!(o.value_type.as_str(), "TX" | "ST" | "FT"))
            .map(Observation::text)
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// OMG-01/02/03 examination order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExamOrder {
    pub items: Vec<ExamItem>,
    pub comments: Vec<String>,
}

/// OMG-11/12 performed examination, OMG-13 physiology result.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExamReport {
    pub items: Vec<ExamItem>,
    pub comments: Vec<String>,
}

impl ExamOrder {
    pub(crate) fn read(msg: &Message) -> ExamOrder {
        let (items, comments) = read_items(msg);
        ExamOrder { items, comments }
    }
}

impl ExamReport {
    pub(crate) fn read(msg: &Message) -> ExamReport {
        let (items, comments) = read_items(msg);
        ExamReport { items, comments }
    }

    /// Every OBX, in message order.
    pub fn observations(&self) -> impl Iterator<Item = &Observation> {
        self.items.iter().flat_map(|i| &i.observations)
    }
}

fn read_items(msg: &Message) -> (Vec<ExamItem>, Vec<String>) {
    let d = msg.delimiters();
    let mut items: Vec<ExamItem> = Vec::new();
    let mut comments = Vec::new();
    for seg in msg.segments() {
        let name = seg.name();
        if name == "ORC" {
            items.push(ExamItem {
                order: Some(Order::read(&seg)),
                ..ExamItem::default()
            });
            continue;
        }
        if name == "OBR" {
            match items.last_mut() {
                Some(item) if item.request.is_none() => {
                    item.request = Some(ObservationRequest::read(&seg))
                }
                _ => items.push(ExamItem {
                    request: Some(ObservationRequest::read(&seg)),
                    ..ExamItem::default()
                }),
            }
            continue;
        }
        if !matches!(name, "TQ1" | "OBX" | "IPC" | "ZE1" | "NTE") {
            continue;
        }
        let Some(item) = items.last_mut() else {
            if name == "NTE" {
                comments.push(comment(&seg, d));
                continue;
            }
            items.push(ExamItem::default());
            let Some(item) = items.last_mut() else {
                continue;
            };
            add_to_item(item, &seg, d);
            continue;
        };
        add_to_item(item, &seg, d);
    }
    (items, comments)
}

fn add_to_item(item: &mut ExamItem, seg: &hl7::Segment<'_>, d: &hl7::Delimiters) {
    match seg.name() {
        "TQ1" => item.timing.push(Timing::read(seg)),
        "OBX" => item.observations.push(Observation::read(seg, d)),
        "IPC" => item.imaging.push(ImagingStudy {
            accession_no: comp_of(seg, 1, 1).unwrap_or_default(),
            requested_procedure_id: comp_of(seg, 2, 1),
            study_instance_uid: comp_of(seg, 3, 1),
            scheduled_step_id: comp_of(seg, 4, 1),
            modality: Coded::from_field(seg.field(5)),
        }),
        "ZE1" => item.performed.push(PerformedItem {
            set_id: field_opt(seg, 1),
            category: field_opt(seg, 2),
            item: Coded::from_field(seg.field(3)),
            amount: field_opt(seg, 4),
            unit: Coded::from_field(seg.field(5)),
            details: field_values(seg.field(6)),
            performers: Person::all_from_field(seg.field(7)),
        }),
        "NTE" => match item.observations.last_mut() {
            Some(obx) => obx.comments.push(comment(seg, d)),
            None => item.comments.push(comment(seg, d)),
        },
        _ => {}
    }
}
