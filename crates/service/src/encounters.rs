//! Stays (入院〜退院) from the live ADT facts of each facility: SS-MIX2 cancel messages
//! applied, admissions paired with their transfers and discharges, and plans kept apart.
//!
//! SS-MIX2 cancels an event two ways. By file condition flag: the event's file is renamed
//! `_0`, so its facts are no longer live (the store already applies that). By a cancel
//! message stored as a current file of its own (ADT^A11 cancels A01, A12 → A02, A13 → A03,
//! A27 → A14, A26 → A15, A25 → A16): both files stay `_1`, and this module applies it. The
//! guideline files a cancel under the kind (and date folder) of what it cancels (A11 under
//! ADT-22), with that kind's order number (`999999999999999` for ADT), so a cancel message
//! cancels the newest event of the event type it names, of the same facility patient, kind,
//! date folder and order number, written no later than itself. When the sender filed it
//! under another date folder, the event's own date-time (PV1-44 / PV1-45, sent by most
//! cancels) identifies it instead. A cancel that matches nothing is shown as such — never as
//! the event itself, and never silently dropped.
//!
//! Pure logic, no I/O: the viewer reads the facts and hands them here.

use model::{hl7_sort_key, FacilityCode};
use serde::Serialize;
use store::{EncounterFact, FactRow};

/// One ADT event (or cancel message) with where it comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StayEvent {
    pub source: FacilityCode,
    pub local_id: String,
    pub version_id: i64,
    /// Data kind folder (`ADT-22` …).
    pub kind: String,
    /// Date folder.
    pub date: String,
    pub order_no: String,
    /// File-name timestamp.
    pub written_at: String,
    pub fact: EncounterFact,
    /// The cancel message that cancels this event (its record version), when one does.
    pub cancelled_by: Option<i64>,
}

impl StayEvent {
    fn of(source: &FacilityCode, local_id: &str, row: FactRow<EncounterFact>) -> StayEvent {
        StayEvent {
            source: source.clone(),
            local_id: local_id.to_owned(),
            version_id: row.version_id,
            kind: row.kind,
            date: row.date,
            order_no: row.order_no,
            written_at: row.written_at,
            fact: row.fact,
            cancelled_by: None,
        }
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancelled_by.is_some()
    }

    /// A cancel message (A11 …), not an event.
    pub fn is_cancel(&self) -> bool {
        !self.fact.detail.cancels.is_empty()
    }

    /// When the event happened (or is planned), as sent: the time the views show and sort by.
    pub fn at(&self) -> &str {
        let f = &self.fact;
        let d = &f.detail;
        let candidates: [&str; 3] = match event_role(&f.event) {
            Role::Admission => [&f.admitted_at, &d.occurred_at, ""],
            Role::Transfer => [&d.occurred_at, &d.recorded_at, ""],
            Role::Discharge => [&f.discharged_at, &d.occurred_at, ""],
            Role::PlannedAdmission | Role::PlannedTransfer => {
                [&d.expected_admit_at, &d.occurred_at, &d.recorded_at]
            }
            Role::PlannedDischarge => [&d.expected_discharge_at, &d.occurred_at, &d.recorded_at],
            Role::Other => [&d.occurred_at, &f.admitted_at, &f.discharged_at],
        };
        candidates.into_iter().find(|c| !c.is_empty()).unwrap_or("")
    }

    fn sort_key(&self) -> String {
        hl7_sort_key(self.at())
    }
}

/// What an ADT event means for a stay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admission,
    Transfer,
    Discharge,
    PlannedAdmission,
    PlannedTransfer,
    PlannedDischarge,
    Other,
}

/// The role of an event (`A01` admission …).
pub fn event_role(event: &str) -> Role {
    match event {
        "A01" => Role::Admission,
        "A02" => Role::Transfer,
        "A03" => Role::Discharge,
        "A14" => Role::PlannedAdmission,
        "A15" => Role::PlannedTransfer,
        "A16" => Role::PlannedDischarge,
        _ => Role::Other,
    }
}

/// One stay: an admission with its transfers and discharge. Either end may be missing (a
/// discharge whose admission is older than the facility's data, a patient still in).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stay {
    pub source: FacilityCode,
    pub local_id: String,
    pub admission: Option<StayEvent>,
    /// Oldest first (cancelled ones included, marked).
    pub transfers: Vec<StayEvent>,
    /// The live discharge (or, in a row of its own, a cancelled discharge whose stay is not
    /// in the data).
    pub discharge: Option<StayEvent>,
    /// Discharges of this stay that a cancel message cancelled: shown struck through.
    pub cancelled_discharges: Vec<StayEvent>,
}

impl Stay {
    /// The admission was cancelled (or, without an admission, the discharge was).
    pub fn is_cancelled(&self) -> bool {
        match (&self.admission, &self.discharge) {
            (Some(a), _) => a.is_cancelled(),
            (None, Some(d)) => d.is_cancelled(),
            (None, None) => false,
        }
    }

    fn sort_key(&self) -> String {
        self.admission
            .as_ref()
            .or(self.discharge.as_ref())
            .map(StayEvent::sort_key)
            .unwrap_or_default()
    }
}

/// A facility patient's stays, plans and unmatched cancels, across facilities.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Encounters {
    /// Newest first; cancelled stays included (shown struck through, never as live).
    pub stays: Vec<Stay>,
    /// Planned admissions, transfers and discharges, newest first; cancelled ones included.
    pub planned: Vec<StayEvent>,
    /// Cancel messages that match no event of the facility's data.
    pub unmatched_cancels: Vec<StayEvent>,
}

impl Encounters {
    pub fn is_empty(&self) -> bool {
        self.stays.is_empty() && self.planned.is_empty() && self.unmatched_cancels.is_empty()
    }

    pub fn len(&self) -> usize {
        self.stays.len() + self.planned.len() + self.unmatched_cancels.len()
    }

    /// Every event's version that a cancel message cancels.
    pub fn cancelled_versions(&self) -> Vec<i64> {
        let mut out: Vec<i64> = self
            .stays
            .iter()
            .flat_map(|s| {
                s.admission
                    .iter()
                    .chain(&s.transfers)
                    .chain(s.discharge.iter())
                    .chain(&s.cancelled_discharges)
            })
            .chain(&self.planned)
            .filter(|e| e.is_cancelled())
            .map(|e| e.version_id)
            .collect();
        out.sort_unstable();
        out
    }
}

/// Apply the cancel messages among `events` (one facility patient's) to the events they
/// cancel; returns the events (cancelled ones marked) and the cancels that matched nothing.
pub fn apply_cancels(events: Vec<StayEvent>) -> (Vec<StayEvent>, Vec<StayEvent>) {
    let (mut cancels, mut events): (Vec<StayEvent>, Vec<StayEvent>) =
        events.into_iter().partition(StayEvent::is_cancel);
    // Oldest cancel first: each takes the newest event not yet cancelled before it.
    cancels.sort_by(|a, b| (&a.written_at, a.version_id).cmp(&(&b.written_at, b.version_id)));
    let mut unmatched = Vec::new();
    for c in cancels {
        let same_file_group = |e: &StayEvent| {
            e.source == c.source
                && e.local_id == c.local_id
                && e.kind == c.kind
                && e.order_no == c.order_no
                && e.fact.event == c.fact.detail.cancels
                && e.cancelled_by.is_none()
                && pad17(&e.written_at) <= pad17(&c.written_at)
        };
        // The event's own date-time, when the cancel sends it.
        let same_time = |e: &StayEvent| {
            let (ours, theirs) = match event_role(&e.fact.event) {
                Role::Discharge => (&c.fact.discharged_at, &e.fact.discharged_at),
                Role::Transfer => (&c.fact.detail.occurred_at, &e.fact.detail.occurred_at),
                _ => (&c.fact.admitted_at, &e.fact.admitted_at),
            };
            !ours.is_empty() && hl7_sort_key(ours) == hl7_sort_key(theirs)
        };
        let newest = |pred: &dyn Fn(&StayEvent) -> bool| {
            events
                .iter()
                .enumerate()
                .filter(|(_, e)| same_file_group(e) && pred(e))
                .max_by(|(_, a), (_, b)| {
                    (pad17(&a.written_at), a.version_id).cmp(&(pad17(&b.written_at), b.version_id))
                })
                .map(|(i, _)| i)
        };
        let target = newest(&|e: &StayEvent| e.date == c.date && same_time(e))
            .or_else(|| newest(&|e: &StayEvent| e.date == c.date))
            .or_else(|| newest(&same_time));
        match target {
            Some(i) => events[i].cancelled_by = Some(c.version_id),
            None => unmatched.push(c),
        }
    }
    events.sort_by_key(|e| std::cmp::Reverse(e.sort_key()));
    (events, unmatched)
}

fn pad17(ts: &str) -> String {
    format!("{ts:0<17}")
}

/// Which stay a transfer or discharge belongs to: the same admission date-time (PV1-44 is
/// sent with every event of a stay) and visit number, else either of them, else the newest
/// admission before it that has not ended before it. A live admission is preferred to a
/// cancelled one: a re-entered admission often keeps the cancelled one's visit number.
fn stay_of(stays: &[Stay], e: &StayEvent) -> Option<usize> {
    let visit = &e.fact.detail.visit_number;
    let admitted = (!e.fact.admitted_at.is_empty()).then(|| hl7_sort_key(&e.fact.admitted_at));
    let score = |s: &Stay| -> u8 {
        let Some(a) = &s.admission else {
            return 0;
        };
        let same_visit = !visit.is_empty() && a.fact.detail.visit_number == *visit;
        let same_time = admitted
            .as_ref()
            .is_some_and(|k| *k == hl7_sort_key(&a.fact.admitted_at));
        let live = u8::from(!a.is_cancelled());
        match (same_time, same_visit) {
            (true, true) => 6 + live,
            (true, false) => 4 + live,
            (false, true) => 2 + live,
            (false, false) => 0,
        }
    };
    if let Some((i, _)) = stays
        .iter()
        .enumerate()
        .map(|(i, s)| (i, score(s)))
        .filter(|(_, sc)| *sc > 0)
        .max_by_key(|(i, sc)| (*sc, *i))
    {
        return Some(i);
    }
    let at = e.sort_key();
    stays
        .iter()
        .enumerate()
        .filter(|(_, s)| {
            s.admission
                .as_ref()
                .is_some_and(|a| !a.is_cancelled() && a.sort_key() <= at)
                && s.discharge
                    .as_ref()
                    .is_none_or(|d| d.is_cancelled() || d.sort_key() >= at)
        })
        .max_by_key(|(_, s)| s.sort_key())
        .map(|(i, _)| i)
}

/// The events of one facility patient's live ADT facts (cancels not yet applied).
pub fn resolve_events(
    source: &FacilityCode,
    local_id: &str,
    rows: Vec<FactRow<EncounterFact>>,
) -> Vec<StayEvent> {
    rows.into_iter()
        .map(|r| StayEvent::of(source, local_id, r))
        .collect()
}

/// Stays, plans and unmatched cancels of one facility patient's live ADT facts.
pub fn resolve(
    source: &FacilityCode,
    local_id: &str,
    rows: Vec<FactRow<EncounterFact>>,
) -> Encounters {
    let (mut events, unmatched_cancels) = apply_cancels(resolve_events(source, local_id, rows));
    // Oldest first, so that each stay exists before its transfers and discharge.
    events.reverse();
    let mut stays: Vec<Stay> = Vec::new();
    let mut planned = Vec::new();
    let mut later: Vec<StayEvent> = Vec::new();
    for e in events {
        match event_role(&e.fact.event) {
            Role::Admission => stays.push(Stay {
                source: source.clone(),
                local_id: local_id.to_owned(),
                admission: Some(e),
                transfers: Vec::new(),
                discharge: None,
                cancelled_discharges: Vec::new(),
            }),
            Role::Transfer | Role::Discharge => later.push(e),
            _ => planned.push(e),
        }
    }
    let own_row = |e: StayEvent| {
        let role = event_role(&e.fact.event);
        Stay {
            source: source.clone(),
            local_id: local_id.to_owned(),
            admission: None,
            transfers: if role == Role::Transfer {
                vec![e.clone()]
            } else {
                Vec::new()
            },
            discharge: (role == Role::Discharge).then_some(e),
            cancelled_discharges: Vec::new(),
        }
    };
    for e in later {
        let role = event_role(&e.fact.event);
        if role == Role::Transfer {
            match stay_of(&stays, &e) {
                Some(i) => stays[i].transfers.push(e),
                None => stays.push(own_row(e)),
            }
        } else if e.is_cancelled() {
            // A cancelled discharge stays with its stay, struck through: the patient is
            // still in unless a live discharge follows.
            match stay_of(&stays, &e) {
                Some(i) => stays[i].cancelled_discharges.push(e),
                None => stays.push(own_row(e)),
            }
        } else {
            // A stay has one live discharge: a second one starts a row of its own.
            match stay_of(&stays, &e).filter(|&i| stays[i].discharge.is_none()) {
                Some(i) => stays[i].discharge = Some(e),
                None => stays.push(own_row(e)),
            }
        }
    }
    stays.sort_by_key(|s| std::cmp::Reverse(s.sort_key()));
    planned.sort_by_key(|e| std::cmp::Reverse(e.sort_key()));
    Encounters {
        stays,
        planned,
        unmatched_cancels,
    }
}

/// Several facilities' encounters together, newest first; `limit` stays at most (0 = all).
pub fn merge(parts: Vec<Encounters>, limit: usize) -> Encounters {
    let mut out = Encounters::default();
    for p in parts {
        out.stays.extend(p.stays);
        out.planned.extend(p.planned);
        out.unmatched_cancels.extend(p.unmatched_cancels);
    }
    out.stays.sort_by_key(|s| std::cmp::Reverse(s.sort_key()));
    out.planned.sort_by_key(|e| std::cmp::Reverse(e.sort_key()));
    if limit > 0 {
        out.stays.truncate(limit);
        out.planned.truncate(limit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use store::EncounterDetail;

    fn fac() -> FacilityCode {
        FacilityCode::parse("0411111111").expect("code")
    }

    struct Ev<'a> {
        v: i64,
        kind: &'a str,
        date: &'a str,
        written: &'a str,
        event: &'a str,
        admitted: &'a str,
        discharged: &'a str,
        occurred: &'a str,
        cancels: &'a str,
    }

    fn row(e: Ev<'_>) -> FactRow<EncounterFact> {
        FactRow {
            version_id: e.v,
            line: 0,
            kind: e.kind.into(),
            date: e.date.into(),
            order_no: "999999999999999".into(),
            written_at: e.written.into(),
            fact: EncounterFact {
                event: e.event.into(),
                admitted_at: e.admitted.into(),
                discharged_at: e.discharged.into(),
                detail: EncounterDetail {
                    cancels: e.cancels.into(),
                    occurred_at: e.occurred.into(),
                    ..Default::default()
                },
                ..Default::default()
            },
        }
    }

    fn admit(v: i64, date: &str, at: &str) -> FactRow<EncounterFact> {
        row(Ev {
            v,
            kind: "ADT-22",
            date,
            written: &format!("{at}000"),
            event: "A01",
            admitted: at,
            discharged: "",
            occurred: at,
            cancels: "",
        })
    }

    fn discharge(v: i64, date: &str, admitted: &str, at: &str) -> FactRow<EncounterFact> {
        row(Ev {
            v,
            kind: "ADT-52",
            date,
            written: &format!("{at}000"),
            event: "A03",
            admitted,
            discharged: at,
            occurred: at,
            cancels: "",
        })
    }

    fn cancel(
        v: i64,
        kind: &str,
        date: &str,
        written: &str,
        event: &str,
        cancels: &str,
    ) -> FactRow<EncounterFact> {
        row(Ev {
            v,
            kind,
            date,
            written,
            event,
            admitted: "",
            discharged: "",
            occurred: "",
            cancels,
        })
    }

    #[test]
    fn admissions_pair_with_their_discharges_and_transfers() {
        let transfer = row(Ev {
            v: 3,
            kind: "ADT-42",
            date: "20240405",
            written: "20240405103000000",
            event: "A02",
            admitted: "20240401100000",
            discharged: "",
            occurred: "20240405103000",
            cancels: "",
        });
        let e = resolve(
            &fac(),
            "P1",
            vec![
                admit(1, "20240401", "20240401100000"),
                discharge(2, "20240410", "20240401100000", "20240410110000"),
                transfer,
                admit(4, "20240601", "20240601090000+0900"),
            ],
        );
        assert_eq!(e.stays.len(), 2);
        // Newest first: the June stay is still open.
        assert_eq!(e.stays[0].admission.as_ref().map(|a| a.version_id), Some(4));
        assert!(e.stays[0].discharge.is_none());
        let april = &e.stays[1];
        assert_eq!(april.admission.as_ref().map(|a| a.version_id), Some(1));
        assert_eq!(april.discharge.as_ref().map(|d| d.version_id), Some(2));
        assert_eq!(
            april
                .transfers
                .iter()
                .map(|t| t.version_id)
                .collect::<Vec<_>>(),
            vec![3]
        );
        assert!(e.unmatched_cancels.is_empty() && e.planned.is_empty());
    }

    /// Issue 14 fault 4: an A11 stored as a current file of its own cancels the admission.
    #[test]
    fn a_cancel_message_cancels_the_event_it_names() {
        let e = resolve(
            &fac(),
            "P1",
            vec![
                admit(1, "20240401", "20240401100000"),
                cancel(2, "ADT-22", "20240401", "20240401120000000", "A11", "A01"),
            ],
        );
        assert_eq!(e.stays.len(), 1, "the cancel is not a stay of its own");
        assert!(e.stays[0].is_cancelled());
        assert_eq!(
            e.stays[0].admission.as_ref().and_then(|a| a.cancelled_by),
            Some(2)
        );
        assert!(e.unmatched_cancels.is_empty());
        assert_eq!(e.cancelled_versions(), vec![1]);
    }

    #[test]
    fn a_cancel_takes_only_an_earlier_event_of_its_kind_date_and_type() {
        // A cancel written before the event, one in another date folder without the
        // event's time, and one naming another event: none cancels the admission.
        let e = resolve(
            &fac(),
            "P1",
            vec![
                admit(1, "20240401", "20240401100000"),
                cancel(2, "ADT-22", "20240401", "20240401090000000", "A11", "A01"),
                cancel(3, "ADT-22", "20240402", "20240402120000000", "A11", "A01"),
                cancel(4, "ADT-52", "20240401", "20240401130000000", "A13", "A03"),
            ],
        );
        assert!(!e.stays[0].is_cancelled());
        assert_eq!(
            e.unmatched_cancels
                .iter()
                .map(|c| c.version_id)
                .collect::<Vec<_>>(),
            vec![2, 4, 3]
        );
        // The event's own date-time identifies it across date folders.
        let mut c = cancel(5, "ADT-22", "20240402", "20240402120000000", "A11", "A01");
        c.fact.admitted_at = "20240401100000".into();
        let e = resolve(
            &fac(),
            "P1",
            vec![admit(1, "20240401", "20240401100000"), c],
        );
        assert!(e.stays[0].is_cancelled());
        // Two admissions of one day: the cancel takes the newest; a second cancel the other.
        let two = vec![
            admit(1, "20240401", "20240401080000"),
            admit(2, "20240401", "20240401200000"),
            cancel(3, "ADT-22", "20240401", "20240401210000000", "A11", "A01"),
        ];
        let e = resolve(&fac(), "P1", two.clone());
        assert_eq!(e.cancelled_versions(), vec![2]);
        let mut more = two;
        more.push(cancel(
            4,
            "ADT-22",
            "20240401",
            "20240401220000000",
            "A11",
            "A01",
        ));
        assert_eq!(resolve(&fac(), "P1", more).cancelled_versions(), vec![1, 2]);
    }

    #[test]
    fn cancelled_discharges_transfers_and_plans_are_marked_not_dropped() {
        let plan = row(Ev {
            v: 5,
            kind: "ADT-21",
            date: "20240320",
            written: "20240320100000000",
            event: "A14",
            admitted: "",
            discharged: "",
            occurred: "",
            cancels: "",
        });
        let e = resolve(
            &fac(),
            "P1",
            vec![
                admit(1, "20240401", "20240401100000"),
                discharge(2, "20240410", "20240401100000", "20240410110000"),
                cancel(3, "ADT-52", "20240410", "20240410120000000", "A13", "A03"),
                discharge(4, "20240412", "20240401100000", "20240412110000"),
                plan,
                cancel(6, "ADT-21", "20240320", "20240321100000000", "A27", "A14"),
            ],
        );
        assert_eq!(e.cancelled_versions(), vec![2, 5]);
        // The live discharge is the stay's; the cancelled one is kept, struck through.
        let live = e
            .stays
            .iter()
            .find(|s| s.admission.is_some())
            .expect("stay");
        assert_eq!(live.discharge.as_ref().map(|d| d.version_id), Some(4));
        assert_eq!(
            live.cancelled_discharges
                .iter()
                .map(|d| d.version_id)
                .collect::<Vec<_>>(),
            vec![2]
        );
        assert_eq!(
            e.stays.len(),
            1,
            "no row of its own for the cancelled discharge"
        );
        assert_eq!(e.planned.len(), 1);
        assert!(e.planned[0].is_cancelled());
    }

    #[test]
    fn a_discharge_joins_the_live_stay_when_a_cancelled_one_shares_its_visit_number() {
        let with_visit = |mut r: FactRow<EncounterFact>| {
            r.fact.detail.visit_number = "V0001".into();
            r
        };
        let e = resolve(
            &fac(),
            "P1",
            vec![
                with_visit(admit(1, "20240401", "20240401100000")),
                cancel(2, "ADT-22", "20240401", "20240401120000000", "A11", "A01"),
                with_visit(admit(3, "20240402", "20240402090000")),
                with_visit(discharge(4, "20240410", "20240402090000", "20240410110000")),
                // Without the admission time: the visit number, live stay first.
                with_visit(discharge(5, "20240411", "", "20240411110000")),
            ],
        );
        let live = e
            .stays
            .iter()
            .find(|s| s.admission.as_ref().is_some_and(|a| a.version_id == 3))
            .expect("live stay");
        assert_eq!(live.discharge.as_ref().map(|d| d.version_id), Some(4));
        let cancelled = e
            .stays
            .iter()
            .find(|s| s.admission.as_ref().is_some_and(|a| a.version_id == 1))
            .expect("cancelled stay");
        assert!(cancelled.discharge.is_none());
    }

    #[test]
    fn merge_keeps_the_newest_stays() {
        let a = resolve(&fac(), "P1", vec![admit(1, "20240401", "20240401100000")]);
        let b = resolve(&fac(), "P2", vec![admit(2, "20240501", "20240501100000")]);
        let m = merge(vec![a, b], 1);
        assert_eq!(m.stays.len(), 1);
        assert_eq!(m.stays[0].local_id, "P2");
    }
}
