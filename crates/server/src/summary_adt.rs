//! The summary's stays (入退院) and diagnoses (病名) as rows: admission paired with its
//! transfers and discharge, plans, cancelled ones struck through (never shown as live), and
//! each diagnosis once with every facility that records it.

use std::collections::BTreeMap;

use model::FacilityCode;
use service::encounters::{event_role, Encounters, Role, StayEvent};
use service::problems::DiagnosisGroup;

use crate::html::{show_date, show_time};

fn facility_name(names: &BTreeMap<FacilityCode, String>, code: &FacilityCode) -> String {
    names
        .get(code)
        .filter(|n| !n.is_empty())
        .cloned()
        .unwrap_or_else(|| code.to_string())
}

/// Ward / room / bed as one text (`32病棟 302号室 1`).
pub(crate) fn place(ward: &str, room: &str, bed: &str) -> String {
    let mut parts = Vec::new();
    if !ward.is_empty() {
        parts.push(format!("病棟 {ward}"));
    }
    if !room.is_empty() {
        parts.push(format!("{room}号室"));
    }
    if !bed.is_empty() {
        parts.push(format!("ベッド {bed}"));
    }
    parts.join(" ")
}

/// A time as shown, empty when not sent.
fn when(t: &str) -> String {
    if t.is_empty() {
        String::new()
    } else {
        show_time(t)
    }
}

/// HL7 table 0112 (discharge disposition) codes as SS-MIX2 senders use them; anything else
/// is shown as sent.
pub(crate) fn disposition(code: &str, text: &str) -> String {
    if !text.is_empty() {
        return if code.is_empty() {
            text.to_owned()
        } else {
            format!("{text} ({code})")
        };
    }
    code.to_owned()
}

pub(crate) struct StayRow {
    pub admitted: String,
    pub discharged: String,
    pub place: String,
    pub department: String,
    pub doctor: String,
    pub transfers: Vec<String>,
    /// Discharges a cancel message cancelled (shown struck through).
    pub cancelled_discharges: Vec<String>,
    pub disposition: String,
    pub facility: String,
    pub cancelled: bool,
    /// Why the row is struck through (admission cancelled, or a lone discharge cancelled).
    pub note: String,
    /// The stay's main record (admission, else discharge).
    pub href: String,
}

pub(crate) struct PlanRow {
    pub label: &'static str,
    pub date: String,
    pub place: String,
    pub department: String,
    pub facility: String,
    pub cancelled: bool,
}

pub(crate) struct CancelRow {
    pub label: String,
    pub written: String,
    pub facility: String,
}

fn plan_label(event: &str) -> &'static str {
    match event_role(event) {
        Role::PlannedAdmission => "入院予定 (planned admission)",
        Role::PlannedTransfer => "転棟予定 (planned transfer)",
        Role::PlannedDischarge => "退院予定 (planned discharge)",
        _ => "予定 (planned)",
    }
}

fn transfer_text(t: &StayEvent) -> String {
    let f = &t.fact;
    let d = &f.detail;
    let from = place(&d.prior_ward, &d.prior_room, &d.prior_bed);
    let to = place(&f.ward, &f.room, &d.bed);
    let mut s = format!("{} 転棟・転科 ", when(t.at()));
    if !from.is_empty() {
        s.push_str(&format!("{from} → "));
    }
    s.push_str(&to);
    if !d.department_label.is_empty() {
        s.push_str(&format!(" ({})", d.department_label));
    }
    if t.is_cancelled() {
        s.push_str(" [取消 cancelled]");
    }
    s
}

pub(crate) fn stay_rows(
    e: &Encounters,
    names: &BTreeMap<FacilityCode, String>,
    link: &dyn Fn(i64) -> String,
) -> Vec<StayRow> {
    e.stays
        .iter()
        .map(|s| {
            let main = s.admission.as_ref().or(s.discharge.as_ref());
            let f = main.map(|m| &m.fact);
            let d = f.map(|f| &f.detail);
            StayRow {
                admitted: s
                    .admission
                    .as_ref()
                    .map(|a| when(a.at()))
                    .or_else(|| s.discharge.as_ref().map(|d| when(&d.fact.admitted_at)))
                    .unwrap_or_default(),
                discharged: s
                    .discharge
                    .as_ref()
                    .map(|d| when(d.at()))
                    .unwrap_or_else(|| {
                        if s.admission.as_ref().is_some_and(|a| !a.is_cancelled()) {
                            "入院中 (in hospital)".into()
                        } else {
                            String::new()
                        }
                    }),
                place: f
                    .map(|f| place(&f.ward, &f.room, &f.detail.bed))
                    .unwrap_or_default(),
                department: d.map(|d| d.department_label.clone()).unwrap_or_default(),
                doctor: d.map(|d| d.attending.join("、")).unwrap_or_default(),
                transfers: s.transfers.iter().map(transfer_text).collect(),
                cancelled_discharges: s
                    .cancelled_discharges
                    .iter()
                    .map(|d| format!("{} 退院 (discharge)", when(d.at())))
                    .collect(),
                disposition: s
                    .discharge
                    .as_ref()
                    .map(|d| {
                        disposition(&d.fact.detail.disposition, &d.fact.detail.disposition_text)
                    })
                    .unwrap_or_default(),
                facility: facility_name(names, &s.source),
                cancelled: s.is_cancelled(),
                note: match (&s.admission, s.is_cancelled()) {
                    (_, false) => String::new(),
                    (Some(_), true) => "取消 (cancelled)".into(),
                    (None, true) => "退院の取消 (discharge cancelled)".into(),
                },
                href: main.map(|m| link(m.version_id)).unwrap_or_default(),
            }
        })
        .collect()
}

/// Plans from `today` on (and undated ones): a past plan is history, on the timeline.
pub(crate) fn plan_rows(
    e: &Encounters,
    names: &BTreeMap<FacilityCode, String>,
    today: &str,
) -> Vec<PlanRow> {
    e.planned
        .iter()
        .filter(|p| model::hl7_jst_date(p.at()).is_none_or(|d| d.as_str() >= today))
        .map(|p| PlanRow {
            label: plan_label(&p.fact.event),
            date: when(p.at()),
            place: place(&p.fact.ward, &p.fact.room, &p.fact.detail.bed),
            department: p.fact.detail.department_label.clone(),
            facility: facility_name(names, &p.source),
            cancelled: p.is_cancelled(),
        })
        .collect()
}

pub(crate) fn cancel_rows(
    e: &Encounters,
    names: &BTreeMap<FacilityCode, String>,
) -> Vec<CancelRow> {
    e.unmatched_cancels
        .iter()
        .map(|c| CancelRow {
            label: format!(
                "{} の取消 ({} cancels {})",
                crate::html::kind_label(&c.kind),
                c.fact.event,
                c.fact.detail.cancels
            ),
            written: show_time(&c.written_at),
            facility: facility_name(names, &c.source),
        })
        .collect()
}

pub(crate) struct DxFacility {
    pub facility: String,
    pub start: String,
    pub end: String,
    pub outcome: String,
    pub main: bool,
    pub suspected: bool,
}

pub(crate) struct DxRow {
    pub name: String,
    pub codes: String,
    pub main: bool,
    pub suspected: bool,
    pub active: bool,
    pub facilities: Vec<DxFacility>,
}

fn dx_name(g: &DiagnosisGroup) -> String {
    if g.modifiers.is_empty() {
        g.name.clone()
    } else {
        // The name as sent usually already holds its modifiers; list them when it does not.
        let missing: Vec<&str> = g
            .modifiers
            .iter()
            .map(String::as_str)
            .filter(|m| !g.name.contains(*m))
            .collect();
        if missing.is_empty() {
            g.name.clone()
        } else {
            format!("{} ({})", g.name, missing.join("・"))
        }
    }
}

pub(crate) fn codes(medis: &str, icd10: &str) -> String {
    let mut parts = Vec::new();
    if !medis.is_empty() {
        parts.push(format!("MEDIS {medis}"));
    }
    if !icd10.is_empty() {
        parts.push(format!("ICD-10 {icd10}"));
    }
    parts.join(" · ")
}

pub(crate) fn diagnosis_rows(
    groups: &[DiagnosisGroup],
    names: &BTreeMap<FacilityCode, String>,
) -> Vec<DxRow> {
    groups
        .iter()
        .map(|g| DxRow {
            name: dx_name(g),
            codes: codes(&g.medis_code, &g.icd10),
            main: g.is_main(),
            suspected: g.is_suspected(),
            active: g.is_active(),
            facilities: g
                .sources
                .iter()
                .map(|s| DxFacility {
                    facility: facility_name(names, &s.source),
                    start: if s.fact.start_date.is_empty() {
                        String::new()
                    } else {
                        show_date(&s.fact.start_date)
                    },
                    end: if s.fact.end_date.is_empty() {
                        String::new()
                    } else {
                        show_date(&s.fact.end_date)
                    },
                    outcome: s.fact.outcome.clone(),
                    main: s.fact.main,
                    suspected: s.fact.suspected,
                })
                .collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_and_codes_read_as_a_clinician_reads_them() {
        assert_eq!(place("32", "302", "1"), "病棟 32 302号室 ベッド 1");
        assert_eq!(place("", "", ""), "");
        assert_eq!(codes("20054174", "K297"), "MEDIS 20054174 · ICD-10 K297");
        assert_eq!(disposition("01", ""), "01");
        assert_eq!(disposition("01", "自宅"), "自宅 (01)");
    }
}
