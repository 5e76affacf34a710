//! The kinds read through the typed reader of `ssmix2::records`: diagnoses (PPR-01),
//! allergies (ADT-61 IAM, and AL1 of the demographics ADT-00), and the stay events —
//! admissions, transfers and discharges, planned or done (ADT-21 … ADT-52) — including the
//! messages that cancel one (A11, A12, A13, A25, A26, A27), which the service applies to the
//! event they cancel (SS-MIX2 cancel semantics by message, besides the file condition flag).

use hl7::Message;
use ssmix2::departments::department_label;
use ssmix2::records::adt::cancelled_event;
use ssmix2::records::{read_record, Body, Coded, Person};
use ssmix2::DataKind;
use store::{
    AllergyDetail, AllergyFact, DiagnosisDetail, DiagnosisFact, EncounterDetail, EncounterFact,
    Fact,
};

use super::date8;

/// The kinds of stay events: their cancel messages are read too (see [`typed`]).
pub(crate) fn is_stay_kind(kind: DataKind) -> bool {
    matches!(
        kind,
        DataKind::Adt21
            | DataKind::Adt22
            | DataKind::Adt41
            | DataKind::Adt42
            | DataKind::Adt51
            | DataKind::Adt52
    )
}

fn text(c: &Option<Coded>) -> String {
    c.as_ref()
        .map(|c| c.display().to_owned())
        .unwrap_or_default()
}

fn code(c: &Option<Coded>) -> String {
    c.as_ref().map(|c| c.code.clone()).unwrap_or_default()
}

fn s(o: &Option<String>) -> String {
    o.clone().unwrap_or_default()
}

/// A person as shown: ID and name (`110 医師 一郎`).
fn person(p: &Person) -> String {
    let name = p.display();
    if p.id.is_empty() || name == p.id {
        name
    } else {
        format!("{} {name}", p.id)
    }
}

pub(crate) fn typed(kind: DataKind, msg: &Message) -> Vec<Fact> {
    let Ok(record) = read_record(kind, msg) else {
        return Vec::new();
    };
    match record.body {
        Body::Diagnoses(d) => d
            .problems
            .iter()
            .map(|p| {
                let order = p.orders.first();
                Fact::Diagnosis(DiagnosisFact {
                    name: p.name.clone(),
                    medis_code: s(&p.medis_code),
                    icd10: s(&p.icd10),
                    main: p.main_diagnosis,
                    suspected: p.suspected,
                    action: p.action.clone(),
                    start_date: date8(
                        &p.onset
                            .clone()
                            .or(p.diagnosed_at.clone())
                            .unwrap_or_default(),
                    ),
                    // Ended: resolved (PRB-9) only; an outcome without a date ends nothing
                    // (some outcomes mean "continuing").
                    end_date: date8(&s(&p.resolved_at)),
                    outcome: text(&p.outcome),
                    detail: DiagnosisDetail {
                        instance_id: s(&p.instance_id),
                        exchange_code: s(&p.exchange_code),
                        uncoded: p.uncoded,
                        modifiers: p
                            .modifiers
                            .iter()
                            .map(|m| text(&m.modifier))
                            .filter(|m| !m.is_empty())
                            .collect(),
                        diagnosed_at: s(&p.diagnosed_at),
                        onset: s(&p.onset),
                        resolved_at: s(&p.resolved_at),
                        outcome_at: s(&p.outcome_at),
                        outcome_code: code(&p.outcome),
                        setting: p
                            .classification
                            .as_ref()
                            .map(|c| {
                                if c.system == "JHSD0004" {
                                    c.text.clone()
                                } else if c.alt_system == "JHSD0004" {
                                    c.alt_text.clone()
                                } else {
                                    String::new()
                                }
                            })
                            .unwrap_or_default(),
                        doctor: order
                            .and_then(|o| o.ordering_doctor.as_ref())
                            .map(person)
                            .unwrap_or_default(),
                        department: order
                            .and_then(|o| o.department.as_ref())
                            .map(|d| department_label(&d.code, &d.text))
                            .unwrap_or_default(),
                        comments: p.comments.clone(),
                    },
                })
            })
            .collect(),
        Body::Allergies(a) => a
            .entries
            .iter()
            // IAM-6 `D`: the sender deletes this entry.
            .filter(|e| e.action.as_ref().map(|c| c.code.as_str()) != Some("D"))
            .map(|e| {
                let allergen = e.allergen.clone().unwrap_or_default();
                Fact::Allergy(AllergyFact {
                    allergen_type: text(&e.allergen_type),
                    allergen_type_code: code(&e.allergen_type),
                    allergen_code: allergen.code.clone(),
                    allergen_system: allergen.system.clone(),
                    allergen_name: allergen.display().to_owned(),
                    severity: text(&e.severity),
                    reaction: e.reactions.join("、"),
                    identified: s(&e.onset),
                    detail: AllergyDetail {
                        segment: "IAM".into(),
                        alt_code: allergen.alt_code.clone(),
                        alt_system: allergen.alt_system.clone(),
                        alt_name: allergen.alt_text.clone(),
                        severity_code: code(&e.severity),
                        action: code(&e.action),
                        entry_id: s(&e.entry_id),
                        onset_text: s(&e.onset_text),
                        reported_at: s(&e.reported_at),
                        clinical_status: text(&e.clinical_status),
                        comments: e.comments.clone(),
                    },
                })
            })
            .collect(),
        // Issue 14 fault 1: the AL1 segments of the demographics are allergies like IAM —
        // the allergy card and the drug-allergy check must see them.
        Body::Patient(p) => p
            .allergies
            .iter()
            .filter(|a| a.allergen.as_ref().is_some_and(|c| !c.is_empty()))
            .map(|a| {
                let allergen = a.allergen.clone().unwrap_or_default();
                Fact::Allergy(AllergyFact {
                    allergen_type: text(&a.allergen_type),
                    allergen_type_code: code(&a.allergen_type),
                    allergen_code: allergen.code.clone(),
                    allergen_system: allergen.system.clone(),
                    allergen_name: allergen.display().to_owned(),
                    severity: text(&a.severity),
                    reaction: a.reactions.join("、"),
                    identified: s(&a.identified),
                    detail: AllergyDetail {
                        segment: "AL1".into(),
                        alt_code: allergen.alt_code.clone(),
                        alt_system: allergen.alt_system.clone(),
                        alt_name: allergen.alt_text.clone(),
                        severity_code: code(&a.severity),
                        ..AllergyDetail::default()
                    },
                })
            })
            .collect(),
        Body::Encounter(e) => {
            let location = e.location.clone().unwrap_or_default();
            let prior = e.prior_location.clone().unwrap_or_default();
            let occurred = s(&e.occurred_at);
            // A cancel message names the event it cancels; its own dates (often left out)
            // are only what it was sent with.
            let cancels = if e.cancelled {
                cancelled_event(&e.event_type).unwrap_or("").to_owned()
            } else {
                String::new()
            };
            let admitted = e.admitted_at.clone().unwrap_or_else(|| {
                if kind == DataKind::Adt22 && !e.cancelled {
                    occurred.clone()
                } else {
                    String::new()
                }
            });
            let discharged = e.discharged_at.clone().unwrap_or_else(|| {
                if kind == DataKind::Adt52 && !e.cancelled {
                    occurred.clone()
                } else {
                    String::new()
                }
            });
            let department = s(&e.department);
            vec![Fact::Encounter(EncounterFact {
                event: e.event_type.clone(),
                admitted_at: admitted,
                discharged_at: discharged,
                ward: location.point_of_care,
                room: location.room,
                detail: EncounterDetail {
                    cancels,
                    recorded_at: s(&e.recorded_at),
                    occurred_at: occurred,
                    patient_class: s(&e.patient_class),
                    bed: location.bed,
                    prior_ward: prior.point_of_care,
                    prior_room: prior.room,
                    prior_bed: prior.bed,
                    department_label: department_label(
                        &department,
                        e.department_text.as_deref().unwrap_or(""),
                    ),
                    attending: e.attending_doctors.iter().map(person).collect(),
                    disposition: s(&e.discharge_disposition),
                    disposition_text: s(&e.discharge_disposition_text),
                    expected_admit_at: s(&e.expected_admit_at),
                    expected_discharge_at: s(&e.expected_discharge_at),
                    visit_number: s(&e.visit_number),
                    admit_reason: text(&e.admit_reason),
                },
                department,
            })]
        }
        _ => Vec::new(),
    }
}
#[cfg(test)]
mod tests {
    use super::super::tests::facts_of;
    use super::super::tests::fixture;
    use ssmix2::DataKind;
    use store::{AllergyDetail, AllergyFact, DiagnosisFact, EncounterFact, Fact};

    #[test]
    fn diagnoses_allergies_and_admissions() {
        let d: Vec<DiagnosisFact> = fixture(DataKind::Ppr01)
            .into_iter()
            .map(|f| match f.fact {
                Fact::Diagnosis(d) => d,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(d.len(), 3);
        assert_eq!(d[0].name, "胃炎");
        assert_eq!(d[0].medis_code, "20054174");
        assert_eq!(d[0].icd10, "K297");
        assert!(d[0].main && !d[0].suspected);
        assert_eq!(d[0].action, "AD");
        assert_eq!(d[0].start_date, "20110831");
        assert_eq!(d[0].end_date, "20110915");
        assert_eq!(d[0].outcome, "回復せず");
        assert_eq!(d[1].name, "左膝の違和感");
        assert!(d[1].suspected && !d[1].main);
        assert_eq!(d[1].end_date, "");
        assert_eq!((d[2].action.as_str(), d[2].icd10.as_str()), ("DE", "I10"));

        let a: Vec<AllergyFact> = fixture(DataKind::Adt61)
            .into_iter()
            .map(|f| match f.fact {
                Fact::Allergy(a) => a,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(a.len(), 3);
        assert_eq!(
            a[0],
            AllergyFact {
                allergen_type: "花粉アレルギー".into(),
                allergen_type_code: "LA".into(),
                allergen_code: "5A1002216023023".into(),
                allergen_system: "JC10".into(),
                allergen_name: "スギ".into(),
                severity: "軽度".into(),
                reaction: "目のかゆみ、くしゃみ".into(),
                identified: "199601".into(),
                detail: AllergyDetail {
                    segment: "IAM".into(),
                    severity_code: "MI".into(),
                    action: "A".into(),
                    ..Default::default()
                },
            }
        );
        assert_eq!(
            (a[2].allergen_code.as_str(), a[2].allergen_system.as_str()),
            ("106824501", "HOT9")
        );
        assert_eq!(a[2].allergen_type_code, "DA");

        let enc = |kind| match fixture(kind).pop().map(|f| f.fact) {
            Some(Fact::Encounter(e)) => e,
            other => panic!("{other:?}"),
        };
        let admit = enc(DataKind::Adt22);
        assert_eq!(admit.event, "A01");
        assert_eq!(admit.admitted_at, "20111120100000");
        assert_eq!((admit.ward.as_str(), admit.room.as_str()), ("32", "302"));
        assert_eq!(admit.department, "01");
        let discharge = enc(DataKind::Adt52);
        assert_eq!(discharge.event, "A03");
        assert_eq!(discharge.discharged_at, "20111228110000");
        assert_eq!(discharge.admitted_at, "20111120100000");
    }

    fn allergies(kind: DataKind) -> Vec<AllergyFact> {
        fixture(kind)
            .into_iter()
            .map(|f| match f.fact {
                Fact::Allergy(a) => a,
                other => panic!("{other:?}"),
            })
            .collect()
    }

    /// Issue 14 fault 1: the AL1 of the demographics (ADT^A08) is an allergy fact, as an
    /// IAM of ADT-61 is.
    #[test]
    fn al1_of_the_demographics_is_an_allergy() {
        let a = allergies(DataKind::Adt00);
        assert_eq!(a.len(), 1);
        assert_eq!(
            a[0],
            AllergyFact {
                allergen_type: "薬剤アレルギー".into(),
                allergen_type_code: "DA".into(),
                allergen_code: "1".into(),
                allergen_system: "99XYZ".into(),
                allergen_name: "ペニシリン".into(),
                severity: "".into(),
                reaction: "".into(),
                identified: "".into(),
                detail: AllergyDetail {
                    segment: "AL1".into(),
                    ..Default::default()
                },
            }
        );
        // Every AL1 counts, with severity, reactions and date as sent; an empty AL1 is none.
        let text = std::fs::read_to_string(format!(
            "{}/../ssmix2/tests/fixtures/ADT-00.hl7",
            env!("CARGO_MANIFEST_DIR")
        ))
        .expect("fixture")
        .replace(
            "AL1|1|DA^薬剤アレルギー^HL70127|1^ペニシリン^99XYZ",
            "AL1|1|DA^薬剤アレルギー^HL70127|1^ペニシリン^99XYZ\nAL1|2|DA^薬剤アレルギー^HL70127|620004422^ロキソニン錠60mg^HOT9^L01^ロキソニン^99XYZ|SV^重症^HL70128|蕁麻疹~呼吸困難|20190401\nAL1|3|FA^食物アレルギー^HL70127|J0002^卵^99XYZ\nAL1|4",
        );
        let facts = facts_of(DataKind::Adt00, &text);
        assert_eq!(facts.len(), 3, "{facts:?}");
        let Fact::Allergy(loxo) = &facts[1] else {
            panic!("{facts:?}")
        };
        assert_eq!(loxo.allergen_code, "620004422");
        assert_eq!(loxo.allergen_system, "HOT9");
        assert_eq!(loxo.allergen_name, "ロキソニン錠60mg");
        assert_eq!(loxo.severity, "重症");
        assert_eq!(loxo.reaction, "蕁麻疹、呼吸困難");
        assert_eq!(loxo.identified, "20190401");
        assert_eq!(loxo.detail.severity_code, "SV");
        assert_eq!(
            (
                loxo.detail.alt_code.as_str(),
                loxo.detail.alt_system.as_str()
            ),
            ("L01", "99XYZ")
        );
        let Fact::Allergy(egg) = &facts[2] else {
            panic!("{facts:?}")
        };
        assert_eq!(
            (egg.allergen_type_code.as_str(), egg.allergen_name.as_str()),
            ("FA", "卵")
        );
    }

    #[test]
    fn iam_detail_keeps_onset_text_report_and_comments() {
        let a = allergies(DataKind::Adt61);
        assert_eq!(a[1].detail.onset_text, "小学校低学年の頃");
        assert_eq!(a[2].detail.reported_at, "20070711103000");
        assert_eq!(a[2].detail.comments, vec!["服用中止で軽快".to_owned()]);
        assert_eq!(
            (a[2].detail.segment.as_str(), a[2].detail.action.as_str()),
            ("IAM", "A")
        );
    }

    fn stay(kind: DataKind, text: Option<&str>) -> EncounterFact {
        let facts = match text {
            Some(t) => facts_of(kind, t),
            None => fixture(kind).into_iter().map(|f| f.fact).collect(),
        };
        match facts.as_slice() {
            [Fact::Encounter(e)] => e.clone(),
            other => panic!("{other:?}"),
        }
    }

    fn text_of(kind: DataKind) -> String {
        std::fs::read_to_string(format!(
            "{}/../ssmix2/tests/fixtures/{}.hl7",
            env!("CARGO_MANIFEST_DIR"),
            kind.code()
        ))
        .expect("fixture")
    }

    #[test]
    fn stay_events_carry_location_doctor_disposition_and_plans() {
        let admit = stay(DataKind::Adt22, None);
        assert_eq!(admit.detail.bed, "1");
        assert_eq!(admit.detail.department_label, "01 内科");
        assert_eq!(
            admit.detail.attending,
            vec!["110 医師\u{3000}一郎".to_owned()]
        );
        assert_eq!(admit.detail.occurred_at, "20111120100000");
        assert_eq!(admit.detail.visit_number, "V0001");
        assert_eq!(admit.detail.admit_reason, "肺炎治療のため");
        assert_eq!(admit.detail.patient_class, "I");
        assert_eq!(admit.detail.cancels, "");

        let planned = stay(DataKind::Adt21, None);
        assert_eq!(planned.event, "A14");
        assert_eq!(planned.admitted_at, "", "a plan is not an admission");
        assert_eq!(planned.detail.expected_admit_at, "20111120");
        assert_eq!(planned.detail.expected_discharge_at, "20111205");

        let transfer = stay(DataKind::Adt42, None);
        assert_eq!(transfer.event, "A02");
        assert_eq!(
            (transfer.ward.as_str(), transfer.room.as_str()),
            ("35", "501")
        );
        assert_eq!(transfer.detail.bed, "2");
        assert_eq!(
            (
                transfer.detail.prior_ward.as_str(),
                transfer.detail.prior_room.as_str(),
                transfer.detail.prior_bed.as_str()
            ),
            ("32", "302", "1")
        );
        assert_eq!(transfer.detail.occurred_at, "20111220103000");
        assert_eq!(transfer.detail.department_label, "02 精神科");
        assert_eq!(
            transfer.detail.attending,
            vec!["120 医師\u{3000}三郎".to_owned()]
        );

        let planned_transfer = stay(DataKind::Adt41, None);
        assert_eq!(planned_transfer.detail.expected_admit_at, "20111215");
        let planned_discharge = stay(DataKind::Adt51, None);
        assert_eq!(planned_discharge.detail.expected_discharge_at, "20111228");

        let discharge = stay(DataKind::Adt52, None);
        assert_eq!(discharge.detail.disposition, "01");
        // The disposition's text, when the sender gives it.
        let text = text_of(DataKind::Adt52).replace(
            "|01||||||||20111120100000|",
            "|01^自宅^99XYZ||||||||20111120100000|",
        );
        let d = stay(DataKind::Adt52, Some(&text));
        assert_eq!(d.detail.department_label, "01 内科", "PV1-10 untouched");
        assert_eq!(
            (
                d.detail.disposition.as_str(),
                d.detail.disposition_text.as_str()
            ),
            ("01", "自宅")
        );
    }

    /// Issue 14 fault 4: a cancel message has a fact that names the event it cancels (and
    /// is never an admission itself).
    #[test]
    fn cancel_messages_name_what_they_cancel() {
        for (kind, from, to, cancels) in [
            (DataKind::Adt22, "ADT^A01^ADT_A01", "ADT^A11^ADT_A09", "A01"),
            (DataKind::Adt42, "ADT^A02^ADT_A02", "ADT^A12^ADT_A12", "A02"),
            (DataKind::Adt52, "ADT^A03^ADT_A03", "ADT^A13^ADT_A01", "A03"),
            (DataKind::Adt21, "ADT^A14^ADT_A05", "ADT^A27^ADT_A21", "A14"),
            (DataKind::Adt41, "ADT^A15^ADT_A16", "ADT^A26^ADT_A21", "A15"),
            (DataKind::Adt51, "ADT^A16^ADT_A16", "ADT^A25^ADT_A21", "A16"),
        ] {
            let text = text_of(kind).replace(from, to);
            assert!(text.contains(to), "{kind}");
            let e = stay(kind, Some(&text));
            assert_eq!(e.detail.cancels, cancels, "{kind}");
            assert_eq!(e.event, &to[4..7], "{kind}");
            if kind == DataKind::Adt22 {
                // PV1-44 is sent (the admission it cancels); EVN-6 is not taken as one.
                assert_eq!(e.admitted_at, "20111120100000");
            }
            if kind == DataKind::Adt52 {
                assert_eq!(e.discharged_at, "20111228110000");
            }
        }
    }
}
