//! Clinical facts read at import for the viewer (summary, lab matrix, medication list).
//!
//! OML-11 and OMP-01/02 are most of all messages, so they are read by a lean pass over the
//! already parsed segments that touches only the fields the viewer shows (no typed record,
//! no allocation for fields that are not kept). The rarer kinds (PPR-01, ADT-61, ADT-22/52)
//! go through the full typed reader of `ssmix2::records`.

use hl7::{Message, Segment};
use ssmix2::records::{read_record, Body};
use ssmix2::DataKind;
use store::{
    add_days_to, AllergyFact, ClinicalFact, DiagnosisFact, EncounterFact, Fact, LabFact,
    MedicationFact,
};

/// The facts of one current (`_1`, not cancelling) standard-storage message of `kind`.
pub fn extract(kind: DataKind, msg: &Message) -> Vec<ClinicalFact> {
    let facts = match kind {
        DataKind::Oml11 => lab_results(msg),
        DataKind::Omp01 | DataKind::Omp02 => medications(msg),
        DataKind::Omp11 | DataKind::Omp12 => administrations(msg),
        DataKind::Ppr01 | DataKind::Adt61 | DataKind::Adt22 | DataKind::Adt52 => typed(kind, msg),
        _ => Vec::new(),
    };
    facts
        .into_iter()
        .enumerate()
        .map(|(i, fact)| ClinicalFact {
            line: i as u32,
            fact,
        })
        .collect()
}

/// Whether [`extract`] reads anything from this kind (so the caller can skip the work).
pub fn has_facts(kind: DataKind) -> bool {
    matches!(
        kind,
        DataKind::Oml11
            | DataKind::Omp01
            | DataKind::Omp02
            | DataKind::Omp11
            | DataKind::Omp12
            | DataKind::Ppr01
            | DataKind::Adt61
            | DataKind::Adt22
            | DataKind::Adt52
    )
}

/// Component `c` of field `n`, unescaped; the HL7 explicit null `""` reads as empty.
fn get(seg: &Segment<'_>, n: usize, c: usize) -> String {
    let v = seg.get(n, c);
    if v == "\"\"" {
        String::new()
    } else {
        v.into_owned()
    }
}

/// Text of a coded component pair: the text when sent, else the code.
fn text_or_code(seg: &Segment<'_>, n: usize) -> String {
    let text = get(seg, n, 2);
    if text.is_empty() {
        get(seg, n, 1)
    } else {
        text
    }
}

fn date8(s: &str) -> String {
    s.get(..8).unwrap_or_default().to_owned()
}

fn lab_results(msg: &Message) -> Vec<Fact> {
    let mut out = Vec::new();
    // Fallbacks for the observation time, most specific first: OBX-14, SPM-17, OBR-7.
    let mut collected = String::new();
    let mut requested = String::new();
    for seg in msg.segments() {
        match seg.name() {
            "SPM" => collected = get(&seg, 17, 1),
            "OBR" => requested = get(&seg, 7, 1),
            "OBX" => {
                let (c1, t1, s1) = (get(&seg, 3, 1), get(&seg, 3, 2), get(&seg, 3, 3));
                let (c2, t2, s2) = (get(&seg, 3, 4), get(&seg, 3, 5), get(&seg, 3, 6));
                let (code, code_system, name, local_code) = if s1 == "JC10" && !c1.is_empty() {
                    (c1, s1, pick(t1, &t2), c2)
                } else if s2 == "JC10" && !c2.is_empty() {
                    (c2, s2, pick(t2, &t1), c1)
                } else {
                    (c1.clone(), s1, pick(t1, &t2), c1)
                };
                let value_type = get(&seg, 2, 1);
                let value = if matches!(value_type.as_str(), "CWE" | "CE" | "CNE") {
                    text_or_code(&seg, 5)
                } else {
                    let v = seg.field(5).first().value();
                    if v == "\"\"" {
                        String::new()
                    } else {
                        v.into_owned()
                    }
                };
                let mut observed_at = get(&seg, 14, 1);
                if observed_at.is_empty() {
                    observed_at = if collected.is_empty() {
                        requested.clone()
                    } else {
                        collected.clone()
                    };
                }
                out.push(Fact::Lab(LabFact {
                    code,
                    code_system,
                    local_code,
                    name,
                    value_type,
                    value,
                    unit: text_or_code(&seg, 6),
                    reference_range: get(&seg, 7, 1),
                    abnormal_flag: get(&seg, 8, 1),
                    status: get(&seg, 11, 1),
                    observed_at,
                }));
            }
            _ => {}
        }
    }
    out
}

fn pick(first: String, other: &str) -> String {
    if first.is_empty() {
        other.to_owned()
    } else {
        first
    }
}

/// One ORC group of a prescription or injection order being read.
#[derive(Default)]
struct DrugGroup {
    base: MedicationFact,
    has_drug: bool,
    /// TQ1-7 / TQ1-8 as sent.
    start: String,
    end: String,
    /// Injection components (RXC): each is its own drug line.
    components: Vec<(String, String, String, String, String)>,
}

fn drug_codes(seg: &Segment<'_>, n: usize, f: &mut MedicationFact) {
    for (c, t, s) in [(1, 2, 3), (4, 5, 6)] {
        let system = get(seg, n, s);
        let code = get(seg, n, c);
        if code.is_empty() {
            continue;
        }
        if system.starts_with("HOT") && f.hot_code.is_empty() {
            f.hot_code = code;
        } else if system == "YJ" && f.yj_code.is_empty() {
            f.yj_code = code;
        } else if f.local_code.is_empty() && f.hot_code.is_empty() {
            f.local_code = code;
        }
        if f.drug_name.is_empty() {
            f.drug_name = get(seg, n, t);
        }
    }
}

impl DrugGroup {
    fn finish(self, out: &mut Vec<Fact>) {
        let mut base = self.base;
        base.start_date = if self.start.len() >= 8 {
            date8(&self.start)
        } else {
            date8(&base.ordered_at)
        };
        base.end_date = if self.end.len() >= 8 {
            date8(&self.end)
        } else {
            match base.days {
                Some(d) if d > 0 => add_days_to(&base.start_date, i64::from(d) - 1),
                _ => String::new(),
            }
        };
        if self.components.is_empty() {
            if self.has_drug {
                out.push(Fact::Medication(base));
            }
            return;
        }
        for (hot, yj, name, amount, unit) in self.components {
            let local_code = if hot.is_empty() && yj.is_empty() {
                base.local_code.clone()
            } else {
                String::new()
            };
            out.push(Fact::Medication(MedicationFact {
                hot_code: hot,
                yj_code: yj,
                local_code,
                drug_name: name,
                dose: amount,
                dose_unit: unit,
                ..base.clone()
            }));
        }
    }
}

fn medications(msg: &Message) -> Vec<Fact> {
    let mut out = Vec::new();
    let mut group: Option<DrugGroup> = None;
    for seg in msg.segments() {
        if seg.name() == "ORC" {
            if let Some(g) = group.take() {
                g.finish(&mut out);
            }
            group = Some(DrugGroup {
                base: MedicationFact {
                    rp: get(&seg, 4, 1),
                    ordered_at: get(&seg, 9, 1),
                    ..Default::default()
                },
                ..Default::default()
            });
            continue;
        }
        let Some(g) = group.as_mut() else { continue };
        match seg.name() {
            "RXE" if !g.has_drug => {
                g.has_drug = true;
                let f = &mut g.base;
                drug_codes(&seg, 2, f);
                // RXE-31 supplementary codes: the YJ code usually travels here.
                for rep in seg.field(31).repetitions() {
                    if rep.component(3).value() == "YJ" && f.yj_code.is_empty() {
                        f.yj_code = rep.component(1).value().into_owned();
                    }
                }
                f.dose = get(&seg, 3, 1);
                f.dose_unit = text_or_code(&seg, 5);
                let daily = get(&seg, 19, 1);
                if !daily.is_empty() {
                    let c = seg.field(19).component(2);
                    let unit = c.subcomponent(2);
                    let unit = if unit.is_empty() {
                        c.subcomponent(1)
                    } else {
                        unit
                    };
                    f.daily_dose = format!("{daily}{unit}");
                }
            }
            "TQ1" => {
                let usage = seg.field(3).component(1);
                let text = usage.subcomponent(2);
                if g.base.usage.is_empty() {
                    g.base.usage = if text.is_empty() {
                        usage.subcomponent(1).into_owned()
                    } else {
                        text.into_owned()
                    };
                }
                let amount = get(&seg, 6, 1);
                let unit = seg.field(6).component(2).subcomponent(1);
                let unit_text = seg.field(6).component(2).subcomponent(2);
                if ["D", "d", "日"].contains(&unit.as_ref()) || unit_text == "日" {
                    g.base.days = g.base.days.or(amount.trim().parse().ok());
                }
                if g.start.is_empty() {
                    g.start = get(&seg, 7, 1);
                }
                if g.end.is_empty() {
                    g.end = get(&seg, 8, 1);
                }
            }
            "RXR" if g.base.route.is_empty() => g.base.route = text_or_code(&seg, 1),
            "RXC" => {
                let mut f = MedicationFact::default();
                drug_codes(&seg, 2, &mut f);
                g.components.push((
                    f.hot_code,
                    f.yj_code,
                    f.drug_name,
                    get(&seg, 3, 1),
                    text_or_code(&seg, 4),
                ));
            }
            _ => {}
        }
    }
    if let Some(g) = group {
        g.finish(&mut out);
    }
    out
}

/// The drug lines of an OMP-11 / OMP-12 notification (処方実施 / 注射実施): one per RXA
/// (RXA-5 drug, RXA-6/7 amount and unit, RXA-3/4 start and end of administration, the RXR of
/// its ORC group for the route). The record's kind marks them as administered rather than
/// ordered. An RXA whose completion status (RXA-20) says refused (`RE`) or not administered
/// (`NA`) gave the patient nothing and is skipped.
fn administrations(msg: &Message) -> Vec<Fact> {
    let mut out: Vec<MedicationFact> = Vec::new();
    let mut base = MedicationFact::default();
    let mut group_start = 0;
    for seg in msg.segments() {
        match seg.name() {
            "ORC" => {
                base = MedicationFact {
                    rp: get(&seg, 4, 1),
                    ordered_at: get(&seg, 9, 1),
                    ..Default::default()
                };
                group_start = out.len();
            }
            "RXA" => {
                if matches!(get(&seg, 20, 1).as_str(), "RE" | "NA") {
                    continue;
                }
                let mut f = base.clone();
                drug_codes(&seg, 5, &mut f);
                f.dose = get(&seg, 6, 1);
                f.dose_unit = text_or_code(&seg, 7);
                let start = get(&seg, 3, 1);
                let end = get(&seg, 4, 1);
                f.start_date = if start.len() >= 8 {
                    date8(&start)
                } else {
                    date8(&base.ordered_at)
                };
                f.end_date = if end.len() >= 8 {
                    date8(&end)
                } else {
                    f.start_date.clone()
                };
                out.push(f);
            }
            "RXR" => {
                let route = text_or_code(&seg, 1);
                for f in out.iter_mut().skip(group_start) {
                    if f.route.is_empty() {
                        f.route = route.clone();
                    }
                }
            }
            _ => {}
        }
    }
    out.into_iter().map(Fact::Medication).collect()
}

fn typed(kind: DataKind, msg: &Message) -> Vec<Fact> {
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
            })]
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fixture of crates/ssmix2 (UTF-8, LF line ends; the parser accepts both).
    fn fixture(kind: DataKind) -> Vec<ClinicalFact> {
        let path = format!(
            "{}/../ssmix2/tests/fixtures/{}.hl7",
            env!("CARGO_MANIFEST_DIR"),
            kind.code()
        );
        let bytes = std::fs::read(&path).expect("fixture");
        let decoded = hl7::decode(&bytes).expect("decodes");
        let msg = Message::parse(decoded.text).expect("parses");
        extract(kind, &msg)
    }

    fn labs(kind: DataKind) -> Vec<LabFact> {
        fixture(kind)
            .into_iter()
            .map(|f| match f.fact {
                Fact::Lab(l) => l,
                other => panic!("not a lab result: {other:?}"),
            })
            .collect()
    }

    fn meds(kind: DataKind) -> Vec<MedicationFact> {
        fixture(kind)
            .into_iter()
            .map(|f| match f.fact {
                Fact::Medication(m) => m,
                other => panic!("not a medication: {other:?}"),
            })
            .collect()
    }

    #[test]
    fn lab_results_one_per_obx() {
        let l = labs(DataKind::Oml11);
        assert_eq!(l.len(), 3);
        assert_eq!(
            l[1],
            LabFact {
                code: "3A010000002327101".into(),
                code_system: "JC10".into(),
                local_code: "10222".into(),
                name: "総蛋白".into(),
                value_type: "NM".into(),
                value: "8.9".into(),
                unit: "g/dL".into(),
                reference_range: "6.7-8.3".into(),
                abnormal_flag: "H".into(),
                status: "F".into(),
                observed_at: "201112191500".into(),
            }
        );
        assert!(l[1].is_jlac10());
        assert_eq!(
            (l[0].code.as_str(), l[0].name.as_str()),
            ("3A016000002327102", "A/G比")
        );
        assert_eq!((l[0].value.as_str(), l[0].unit.as_str()), ("1.7", ""));
        assert_eq!(l[0].reference_range, "1.2-2.0");
        assert_eq!(l[0].local_code, "");
        // Escapes are decoded (\T\ is '&').
        assert_eq!(l[2].value, "陰性(&0.05)");
        assert_eq!(l[2].value_type, "ST");
        let lines: Vec<u32> = fixture(DataKind::Oml11).iter().map(|f| f.line).collect();
        assert_eq!(lines, [0, 1, 2]);
    }

    #[test]
    fn prescription_lines_with_dates_from_tq1_or_days() {
        let m = meds(DataKind::Omp01);
        assert_eq!(m.len(), 2);
        assert_eq!(
            m[0],
            MedicationFact {
                rp: "1".into(),
                hot_code: "108665201".into(),
                yj_code: "2149039F1031".into(),
                local_code: "".into(),
                drug_name: "ダーゼン錠（５mg)".into(),
                dose: "1".into(),
                dose_unit: "錠".into(),
                daily_dose: "3錠".into(),
                usage: "内服・経口・１日３回朝昼夕食後".into(),
                route: "口".into(),
                days: Some(5),
                start_date: "20110701".into(),
                end_date: "20110705".into(),
                ordered_at: "20110701103045".into(),
            }
        );
        // Rp 2 has no TQ1-8: the end is start + 14 days − 1.
        assert_eq!(m[1].rp, "2");
        assert_eq!(m[1].hot_code, "100607002");
        assert_eq!(m[1].yj_code, "");
        assert_eq!(
            (m[1].dose.as_str(), m[1].dose_unit.as_str()),
            ("50", "ミリグラム")
        );
        assert_eq!(m[1].daily_dose, "100ミリグラム");
        assert_eq!(m[1].days, Some(14));
        assert_eq!(
            (m[1].start_date.as_str(), m[1].end_date.as_str()),
            ("20110701", "20110714")
        );
    }

    #[test]
    fn injection_one_line_per_component() {
        let m = meds(DataKind::Omp02);
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].hot_code, "620007329");
        assert_eq!(m[0].drug_name, "ソリタ－Ｔ３号輸液５００ｍＬ");
        assert_eq!((m[0].dose.as_str(), m[0].dose_unit.as_str()), ("1", "本"));
        assert_eq!(m[1].hot_code, "620002559");
        assert_eq!(m[1].dose_unit, "アンプル");
        for line in &m {
            assert_eq!(line.rp, "123456789012345_01_001");
            assert_eq!(line.route, "静脈内");
            assert_eq!(line.days, None);
            assert_eq!(
                (line.start_date.as_str(), line.end_date.as_str()),
                ("20110701", "20110701")
            );
        }
    }

    #[test]
    fn administrations_one_line_per_rxa() {
        let m = meds(DataKind::Omp11);
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].hot_code, "108665201");
        assert_eq!(m[0].drug_name, "ダーゼン錠（５mg)");
        assert_eq!((m[0].dose.as_str(), m[0].dose_unit.as_str()), ("1", "錠"));
        assert_eq!(m[1].hot_code, "110626901");
        assert_eq!(m[1].dose, "2");
        for line in &m {
            assert_eq!(line.route, "口");
            assert_eq!(
                (line.start_date.as_str(), line.end_date.as_str()),
                ("20110701", "20110701")
            );
        }
        let m = meds(DataKind::Omp12);
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].drug_name, "ソリタ－Ｔ３号輸液５００ｍＬ");
        assert_eq!(
            (m[0].dose.as_str(), m[0].dose_unit.as_str()),
            ("500", "ミリリットル")
        );
        assert_eq!(m[1].rp, "123456789012345_01_001");
        assert_eq!(m[1].route, "静脈内");
    }

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

    #[test]
    fn other_kinds_have_no_facts() {
        assert!(fixture(DataKind::Omg01).is_empty());
        assert!(!has_facts(DataKind::Adt00));
    }
}
