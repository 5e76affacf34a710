//! SS-MIX2's rules for updates and cancellations, applied to the files of one facility.
//!
//! An update renames the order's `_1` file to `_2` and writes the new version as `_1`; a
//! cancellation renames the order's files to `_0` and adds the delete message as another `_0`.
//! Readers of the current state use `_1` only; the history is every version in timestamp
//! order. Files without an order number (`999999999999999`) are grouped by patient, date and
//! kind instead — for undated kinds (ADT-00, PPR-01, …) that is one group per patient and kind,
//! which is what the standard intends (PPR-01 holds all diagnoses in one file).

use std::collections::BTreeMap;

use crate::kinds::DataKind;
use crate::naming::{Condition, StandardName};

/// What identifies "the same thing" across its versions.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OrderKey {
    /// An order: patient, kind, order number (ORC-2).
    Order {
        patient_id: String,
        kind: DataKind,
        order_no: String,
    },
    /// No order number: patient, date folder, kind.
    Unordered {
        patient_id: String,
        date: String,
        kind: DataKind,
    },
}

impl OrderKey {
    pub fn of(name: &StandardName) -> OrderKey {
        if name.kind.has_order() && !name.has_no_order() {
            OrderKey::Order {
                patient_id: name.patient_id.clone(),
                kind: name.kind,
                order_no: name.order_no.clone(),
            }
        } else {
            OrderKey::Unordered {
                patient_id: name.patient_id.clone(),
                date: name.date.clone(),
                kind: name.kind,
            }
        }
    }
}

/// The state of one order (or one un-ordered group) under SS-MIX2's rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderState<T> {
    /// The version to show: the newest `_1` file, unless the order was cancelled.
    pub current: Option<T>,
    /// Cancelled: a `_0` file exists and no `_1` file is newer than the newest `_0`.
    pub cancelled: bool,
    /// Every version, oldest first (by file-name timestamp, then name).
    pub history: Vec<T>,
}

/// Group `files` by [`OrderKey`] and work out each group's state. `name` tells how to see the
/// SS-MIX2 name of an item, so callers can pass their own records.
pub fn order_states<T: Clone>(
    files: &[T],
    name: impl Fn(&T) -> &StandardName,
) -> BTreeMap<OrderKey, OrderState<T>> {
    let mut groups: BTreeMap<OrderKey, Vec<&T>> = BTreeMap::new();
    for f in files {
        groups.entry(OrderKey::of(name(f))).or_default().push(f);
    }
    groups
        .into_iter()
        .map(|(key, mut versions)| {
            // 15-digit timestamps sort with 17-digit ones once right-padded.
            versions.sort_by(|a, b| {
                let (na, nb) = (name(a), name(b));
                (pad17(&na.timestamp), na.file_name()).cmp(&(pad17(&nb.timestamp), nb.file_name()))
            });
            let newest = |c: Condition| {
                versions
                    .iter()
                    .rev()
                    .find(|v| name(v).condition == c)
                    .copied()
            };
            let current = newest(Condition::Current);
            let deleted = newest(Condition::Deleted);
            let cancelled = match (current, deleted) {
                (_, None) => false,
                (None, Some(_)) => true,
                (Some(c), Some(d)) => pad17(&name(d).timestamp) >= pad17(&name(c).timestamp),
            };
            let state = OrderState {
                current: if cancelled { None } else { current.cloned() },
                cancelled,
                history: versions.into_iter().cloned().collect(),
            };
            (key, state)
        })
        .collect()
}

fn pad17(ts: &str) -> String {
    format!("{ts:0<17}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(order: &str, ts: &str, cond: Condition) -> StandardName {
        StandardName {
            patient_id: "1000001".into(),
            date: "20240401".into(),
            kind: DataKind::Omp01,
            order_no: order.into(),
            timestamp: ts.into(),
            department: "01".into(),
            condition: cond,
        }
    }

    #[test]
    fn update_shows_the_newest_current_version() {
        let files = vec![
            n(
                "000000000000001",
                "20240401100000000",
                Condition::Superseded,
            ),
            n("000000000000001", "20240401110000000", Condition::Current),
            n("000000000000002", "20240401100000000", Condition::Current),
        ];
        let states = order_states(&files, |f| f);
        assert_eq!(states.len(), 2);
        let first = &states[&OrderKey::of(&files[0])];
        assert_eq!(first.current.as_ref(), Some(&files[1]));
        assert!(!first.cancelled);
        assert_eq!(first.history, vec![files[0].clone(), files[1].clone()]);
    }

    #[test]
    fn cancellation_hides_the_order_but_keeps_history() {
        let files = vec![
            n("000000000000001", "20240401100000000", Condition::Deleted),
            n("000000000000001", "20240401120000000", Condition::Deleted),
        ];
        let s = &order_states(&files, |f| f)[&OrderKey::of(&files[0])];
        assert!(s.cancelled);
        assert_eq!(s.current, None);
        assert_eq!(s.history.len(), 2);
    }

    #[test]
    fn a_new_order_after_a_cancel_is_current_again() {
        let files = vec![
            n("000000000000001", "20240401100000000", Condition::Deleted),
            n("000000000000001", "20240401110000000", Condition::Deleted),
            n("000000000000001", "202404011200000", Condition::Current),
        ];
        let s = &order_states(&files, |f| f)[&OrderKey::of(&files[0])];
        assert!(!s.cancelled);
        assert_eq!(s.current.as_ref(), Some(&files[2]));
    }

    #[test]
    fn unordered_kinds_group_by_date() {
        let mut a = n("999999999999999", "20240401100000000", Condition::Current);
        a.kind = DataKind::Adt12;
        let mut b = a.clone();
        b.date = "20240402".into();
        let states = order_states(&[a, b], |f| f);
        assert_eq!(states.len(), 2);
    }
}
