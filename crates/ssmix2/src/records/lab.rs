//! Specimen lab orders (OML^O33, OML-01) and results (OUL^R22, OML-11).
//!
//! Both are specimen-centred: an SPM starts a specimen group. In an order the tests follow as
//! ORC → TQ1 → OBR → OBX (requested items, status `O`); in a result OBR comes *before* ORC, then
//! the OBX results with their NTE comments.

use hl7::Message;
use serde::{Deserialize, Serialize};

use super::common::{comment, Observation, ObservationRequest, Order, Specimen, Timing};

/// One ORC group of a lab order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabOrderItem {
    pub order: Order,
    pub timing: Vec<Timing>,
    /// OBR: the battery asked for (OBR-4), collection time (OBR-7).
    pub request: Option<ObservationRequest>,
    /// OBX: the requested tests (JLAC10 in OBX-3; usually no value, status `O`), or
    /// information sent with the order (height, weight).
    pub tests: Vec<Observation>,
    pub comments: Vec<String>,
}

/// One specimen of a lab order with the orders on it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpecimenOrders {
    pub specimen: Specimen,
    /// OBX right after SPM (about the specimen).
    pub observations: Vec<Observation>,
    pub orders: Vec<LabOrderItem>,
    pub comments: Vec<String>,
}

/// OML-01 specimen lab order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabOrder {
    /// One per SPM; an order before any SPM gets a group with an empty specimen.
    pub specimens: Vec<SpecimenOrders>,
    pub comments: Vec<String>,
}

impl LabOrder {
    pub(crate) fn read(msg: &Message) -> LabOrder {
        let d = msg.delimiters();
        let mut out = LabOrder::default();
        for seg in msg.segments() {
            match seg.name() {
                "SPM" => out.specimens.push(SpecimenOrders {
                    specimen: Specimen::read(&seg),
                    ..Default::default()
                }),
                "ORC" => {
                    let item = LabOrderItem {
                        order: Order::read(&seg),
                        ..Default::default()
                    };
                    specimen_group(&mut out.specimens).orders.push(item);
                }
                "TQ1" | "OBR" | "OBX" | "NTE" => {
                    if out.specimens.is_empty() && seg.name() == "NTE" {
                        out.comments.push(comment(&seg, d));
                        continue;
                    }
                    // Segments before any SPM are not expected; they are kept on a group
                    // with an empty specimen rather than dropped.
                    let group = specimen_group(&mut out.specimens);
                    match (seg.name(), group.orders.last_mut()) {
                        ("TQ1", Some(item)) => item.timing.push(Timing::read(&seg)),
                        ("TQ1", None) => group.orders.push(LabOrderItem {
                            timing: vec![Timing::read(&seg)],
                            ..Default::default()
                        }),
                        ("OBR", Some(item)) if item.request.is_none() => {
                            item.request = Some(ObservationRequest::read(&seg))
                        }
                        ("OBR", _) => group.orders.push(LabOrderItem {
                            request: Some(ObservationRequest::read(&seg)),
                            ..Default::default()
                        }),
                        ("OBX", Some(item)) => item.tests.push(Observation::read(&seg, d)),
                        ("OBX", None) => group.observations.push(Observation::read(&seg, d)),
                        ("NTE", Some(item)) => match item.tests.last_mut() {
                            Some(obx) => obx.comments.push(comment(&seg, d)),
                            None => item.comments.push(comment(&seg, d)),
                        },
                        ("NTE", None) => match group.observations.last_mut() {
                            Some(obx) => obx.comments.push(comment(&seg, d)),
                            None => group.comments.push(comment(&seg, d)),
                        },
                        _ => {}
                    }
                }
                _ => {}
            }
        }
        out
    }

    /// Every order group, in message order.
    pub fn items(&self) -> impl Iterator<Item = &LabOrderItem> {
        self.specimens.iter().flat_map(|s| &s.orders)
    }
}

fn specimen_group<T: Default>(groups: &mut Vec<T>) -> &mut T {
    if groups.is_empty() {
        groups.push(T::default());
    }
    let last = groups.len() - 1;
    &mut groups[last]
}

/// One OBR group of a lab result.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabResultItem {
    /// OBR: battery (OBR-4), collection (OBR-7), report time (OBR-22).
    pub request: ObservationRequest,
    /// The ORC following the OBR.
    pub order: Option<Order>,
    pub timing: Vec<Timing>,
    /// OBX results, each with its NTE comments.
    pub results: Vec<Observation>,
    /// NTE after OBR/ORC, before the first OBX.
    pub comments: Vec<String>,
}

/// One specimen of a lab result with its result groups.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpecimenResults {
    pub specimen: Specimen,
    /// OBX right after SPM (about the specimen: volume, appearance…).
    pub observations: Vec<Observation>,
    pub items: Vec<LabResultItem>,
    pub comments: Vec<String>,
}

/// OML-11 specimen lab results.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabResult {
    /// One per SPM; results before any SPM get a group with an empty specimen.
    pub specimens: Vec<SpecimenResults>,
    pub comments: Vec<String>,
}

impl LabResult {
    pub(crate) fn read(msg: &Message) -> LabResult {
        let d = msg.delimiters();
        let mut out = LabResult::default();
        for seg in msg.segments() {
            match seg.name() {
                "SPM" => out.specimens.push(SpecimenResults {
                    specimen: Specimen::read(&seg),
                    ..Default::default()
                }),
                "OBR" => {
                    let request = ObservationRequest::read(&seg);
                    let group = specimen_group(&mut out.specimens);
                    // Some senders put the ORC before its OBR (the order of ORU and of the
                    // order messages): the OBR joins that ORC's item instead of leaving it
                    // as an empty group.
                    match group.items.last_mut() {
                        Some(item)
                            if item.order.is_some()
                                && item.request == ObservationRequest::default()
                                && item.results.is_empty() =>
                        {
                            item.request = request
                        }
                        _ => group.items.push(LabResultItem {
                            request,
                            ..Default::default()
                        }),
                    }
                }
                "ORC" | "TQ1" | "OBX" | "NTE" => {
                    if out.specimens.is_empty() && seg.name() == "NTE" {
                        out.comments.push(comment(&seg, d));
                        continue;
                    }
                    let group = specimen_group(&mut out.specimens);
                    match (seg.name(), group.items.last_mut()) {
                        ("ORC", Some(item)) if item.order.is_none() => {
                            item.order = Some(Order::read(&seg))
                        }
                        // An ORC without its own OBR: keep it on an item with an empty request.
                        ("ORC", _) => group.items.push(LabResultItem {
                            order: Some(Order::read(&seg)),
                            ..Default::default()
                        }),
                        ("TQ1", Some(item)) => item.timing.push(Timing::read(&seg)),
                        ("TQ1", None) => group.items.push(LabResultItem {
                            timing: vec![Timing::read(&seg)],
                            ..Default::default()
                        }),
                        ("OBX", Some(item)) => item.results.push(Observation::read(&seg, d)),
                        ("OBX", None) => group.observations.push(Observation::read(&seg, d)),
                        ("NTE", Some(item)) => match item.results.last_mut() {
                            Some(obx) => obx.comments.push(comment(&seg, d)),
                            None => item.comments.push(comment(&seg, d)),
                        },
                        ("NTE", None) => match group.observations.last_mut() {
                            Some(obx) => obx.comments.push(comment(&seg, d)),
                            None => group.comments.push(comment(&seg, d)),
                        },
                        _ => {}
                    }
                }
                _ => {}
            }
        }
        out
    }

    /// Every result group, in message order.
    pub fn items(&self) -> impl Iterator<Item = &LabResultItem> {
        self.specimens.iter().flat_map(|s| &s.items)
    }

    /// Every OBX result, in message order.
    pub fn results(&self) -> impl Iterator<Item = &Observation> {
        self.items().flat_map(|i| &i.results)
    }
}
