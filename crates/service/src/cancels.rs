//! Order cancels sent as files of their own: SS-MIX2 cancels an order by renaming its files to
//! `_0` (the condition flag, applied by the store), but senders also store the cancel message
//! (ORC-1 `CA` …) as a current file beside the order and leave the order's files current.
//! Both ways the order is cancelled: its facts never count as live (current medications,
//! latest results, duplicate and allergy checks), and the screens show it struck through with
//! the message that cancelled it (issue 14 fault 4). A stay event's cancel message (A11 …) is
//! applied through its fact instead ([`crate::encounters`]).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use store::{FactRow, OrderCancel, Store};
use tokio::sync::OnceCell;

/// Something an order cancel cancelled, with the cancel's file version (to open it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cancelled<T> {
    #[serde(flatten)]
    pub item: T,
    pub cancelled_by: i64,
}

/// The cancel among `cancels` (one local patient's) that cancels the file version
/// `version_id` of `kind` / `order_no` written at `written_at`; the newest when several do.
pub fn cancel_of(
    cancels: &[OrderCancel],
    kind: &str,
    order_no: &str,
    written_at: &str,
    version_id: i64,
) -> Option<i64> {
    cancels
        .iter()
        .rev()
        .find(|c| c.cancels(kind, order_no, written_at, version_id))
        .map(|c| c.version_id)
}

/// The order cancels of each local patient a screen reads, read from the store at most once
/// however many of the screen's concurrent fact reads ask for them (the summary reads
/// medications and two sets of lab results of each facility at once).
#[derive(Default)]
pub(crate) struct CancelReads {
    cells: Mutex<BTreeMap<(i64, String), CancelCell>>,
}

/// One local patient's cancels, once read.
type CancelCell = Arc<OnceCell<Vec<OrderCancel>>>;

impl CancelReads {
    /// The cancels of `local_id` at `facility`: the first caller reads them, the others wait
    /// for that read.
    pub(crate) async fn of(
        &self,
        store: &dyn Store,
        facility: store::FacilityId,
        local_id: &str,
    ) -> crate::Result<Vec<OrderCancel>> {
        let cell = {
            let mut cells = self.cells.lock().map_err(|_| {
                crate::ServiceError::Internal("order cancels: lock poisoned".into())
            })?;
            cells
                .entry((facility.0, local_id.to_owned()))
                .or_default()
                .clone()
        };
        let cancels = cell
            .get_or_try_init(|| store.order_cancels(facility, local_id))
            .await?;
        Ok(cancels.clone())
    }
}

/// One source's fact rows split into the live ones and those an order cancel cancelled.
#[derive(Debug, Clone)]
pub struct Split<T> {
    pub live: Vec<FactRow<T>>,
    pub cancelled: Vec<Cancelled<FactRow<T>>>,
}

/// Split `rows` (one local patient's) by `cancels` (the same patient's).
pub fn split<T>(rows: Vec<FactRow<T>>, cancels: &[OrderCancel]) -> Split<T> {
    if cancels.is_empty() {
        return Split {
            live: rows,
            cancelled: Vec::new(),
        };
    }
    let mut live = Vec::with_capacity(rows.len());
    let mut cancelled = Vec::new();
    for row in rows {
        match cancel_of(
            cancels,
            &row.kind,
            &row.order_no,
            &row.written_at,
            row.version_id,
        ) {
            Some(by) => cancelled.push(Cancelled {
                item: row,
                cancelled_by: by,
            }),
            None => live.push(row),
        }
    }
    Split { live, cancelled }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cancel(version_id: i64, order_no: &str, written_at: &str) -> OrderCancel {
        OrderCancel {
            version_id,
            kind: "OMP-01".into(),
            order_no: order_no.into(),
            written_at: written_at.into(),
        }
    }

    fn row(version_id: i64, kind: &str, order_no: &str, written_at: &str) -> FactRow<u8> {
        FactRow {
            version_id,
            line: 0,
            kind: kind.into(),
            date: "20240401".into(),
            order_no: order_no.into(),
            written_at: written_at.into(),
            fact: 0,
        }
    }

    #[test]
    fn a_cancel_takes_the_earlier_files_of_its_kind_and_order_only() {
        let cancels = [cancel(10, "7", "20240402100000000")];
        let s = split(
            vec![
                row(1, "OMP-01", "7", "20240401100000000"),
                // Written at the same moment as the cancel: still before it in SS-MIX2 terms.
                row(2, "OMP-01", "7", "20240402100000000"),
                // A re-order under the same number after the cancel stays live.
                row(3, "OMP-01", "7", "20240403100000000"),
                row(4, "OMP-01", "8", "20240401100000000"),
                row(5, "OMP-02", "7", "20240401100000000"),
            ],
            &cancels,
        );
        assert_eq!(
            s.cancelled
                .iter()
                .map(|c| (c.item.version_id, c.cancelled_by))
                .collect::<Vec<_>>(),
            vec![(1, 10), (2, 10)]
        );
        assert_eq!(
            s.live.iter().map(|r| r.version_id).collect::<Vec<_>>(),
            vec![3, 4, 5]
        );
        assert_eq!(split(vec![row(1, "OMP-01", "7", "2")], &[]).live.len(), 1);
    }

    #[test]
    fn the_newest_cancel_is_named_and_a_cancel_never_cancels_itself() {
        let cancels = [
            cancel(10, "7", "20240402100000000"),
            cancel(11, "7", "20240405100000000"),
        ];
        assert_eq!(
            cancel_of(&cancels, "OMP-01", "7", "20240401100000000", 1),
            Some(11)
        );
        assert_eq!(
            cancel_of(&cancels, "OMP-01", "7", "20240405100000000", 11),
            None
        );
    }
}
