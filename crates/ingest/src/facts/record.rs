//! The kinds read through the typed reader of `ssmix2::records`: diagnoses (PPR-01),
//! allergies (ADT-61), admissions and discharges (ADT-22 / ADT-52).

use hl7::Message;
use ssmix2::records::{read_record, Body};
use ssmix2::DataKind;
use store::{AllergyFact, DiagnosisFact, EncounterFact, Fact};

use super::date8;

pub(crate) fn typed(kind: DataKind, msg: &Message) -> Vec<Fact> {
    let Ok(record) = read_record(kind, msg) else {
        return Vec::new();
    };
    let text = |c: &Option<ssmix2::records::Coded>| {
        c.as_ref()
            .map(|c| c.display().to_owned())
            .unwrap_or_default()
    };
    let s = |o: &Option<String>| o.clone().unwrap_or_default();
    match record.body {
        Body::Diagnoses(d) => d
            .problems
            .iter()
            .map(|p| {
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
                    end_date: date8(&s(&p.resolved_at)),
                    outcome: text(&p.outcome),
                    detail: Default::default(),
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
                    allergen_type_code: e
                        .allergen_type
                        .as_ref()
                        .map(|c| c.code.clone())
                        .unwrap_or_default(),
                    allergen_code: allergen.code.clone(),
                    allergen_system: allergen.system.clone(),
                    allergen_name: allergen.display().to_owned(),
                    severity: text(&e.severity),
                    reaction: e.reactions.join("、"),
                    identified: s(&e.onset),
                    detail: Default::default(),
                })
            })
            .collect(),
        Body::Encounter(e) if !e.cancelled => {
            let location = e.location.clone().unwrap_or_default();
            let occurred = s(&e.occurred_at);
            let admitted = e.admitted_at.clone().unwrap_or_else(|| {
                if kind == DataKind::Adt22 {
                    occurred.clone()
                } else {
                    String::new()
                }
            });
            let discharged = e.discharged_at.clone().unwrap_or_else(|| {
                if kind == DataKind::Adt52 {
                    occurred.clone()
                } else {
                    String::new()
                }
            });
            vec![Fact::Encounter(EncounterFact {
                event: e.event_type.clone(),
                admitted_at: admitted,
                discharged_at: discharged,
                ward: location.point_of_care,
                room: location.room,
                department: s(&e.department),
                detail: Default::default(),
            })]
        }
        _ => Vec::new(),
    }
}
#[cfg(test)]
mod tests {
    use super::super::tests::fixture;
    use ssmix2::DataKind;
    use store::{AllergyFact, DiagnosisFact, Fact};

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
                detail: Default::default(),
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
}
