//! Lab results (OML-11): one fact per OBX.

use hl7::Message;
use store::{Fact, LabFact};

use super::{get, pick, text_or_code};

pub(crate) fn lab_results(msg: &Message) -> Vec<Fact> {
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
                    detail: Default::default(),
                }));
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::tests::fixture;
    use ssmix2::DataKind;
    use store::{Fact, LabFact};

    fn labs(kind: DataKind) -> Vec<LabFact> {
        fixture(kind)
            .into_iter()
            .map(|f| match f.fact {
                Fact::Lab(l) => l,
                other => panic!("not a lab result: {other:?}"),
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
                detail: Default::default(),
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
}
