//! Observation messages of the extended storage (拡張ストレージ): vitals and other bedside
//! measurements sent as ORU^R01 / R30 / R31 / R32 under a facility's own kind folder
//! (`L-OBSERVATIONS^OBSERVATIONS^99ZL01` …). Each OBX is read exactly as a lab result is
//! ([`super::lab`]: codes, value as sent, unit, OBX-11 status, observation time per OBX), so
//! both stores keep them in the lab table without a new one; the record's kind (the kind
//! folder) tells them apart from the standard storage's OML-11 results, and the viewer never
//! mixes the two.
//!
//! Nothing is interpreted here: a blood pressure sent as one `120/80` value stays one fact
//! with that value, an unreadable or missing value stays as sent. The vitals table of the
//! service decides what each row is and flags what it cannot read.

use hl7::Message;
use store::ClinicalFact;

/// MSH-9 message codes whose extended-storage HL7 documents have facts: observation results
/// (ORU, every event). What the backfill asks the store for, beside the standard kinds.
pub const EXTENDED_FACT_MESSAGES: [&str; 1] = ["ORU"];

/// Whether an extended-storage HL7 document of this message type (`ORU^R30`, as MSH-9 was
/// read: code and event) has facts.
pub fn extended_has_facts(message_type: &str) -> bool {
    let code = message_type.split('^').next().unwrap_or_default();
    EXTENDED_FACT_MESSAGES.contains(&code)
}

/// The facts of one current (`_1`) extended-storage HL7 document: one lab fact per OBX of an
/// observation message, none for other messages.
pub fn extract_extended(msg: &Message) -> Vec<ClinicalFact> {
    if !extended_has_facts(&msg.message_type()) {
        return Vec::new();
    }
    super::numbered(super::lab::lab_results(msg))
}

#[cfg(test)]
mod tests {
    use super::*;
    use store::{Fact, LabDetail, LabFact};

    fn fixture_text(name: &str) -> String {
        let path = format!(
            "{}/../ssmix2/tests/fixtures/vitals/{name}.hl7",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(path)
            .expect("fixture")
            .replace('\n', "\r")
    }

    fn labs_of(bytes: &[u8]) -> Vec<LabFact> {
        let decoded = hl7::decode(bytes).expect("decodes");
        let msg = Message::parse(decoded.text).expect("parses");
        extract_extended(&msg)
            .into_iter()
            .map(|f| match f.fact {
                Fact::Lab(l) => l,
                other => panic!("not an observation: {other:?}"),
            })
            .collect()
    }

    #[test]
    fn message_types_with_facts() {
        assert!(extended_has_facts("ORU^R01"));
        assert!(extended_has_facts("ORU^R30"));
        assert!(extended_has_facts("ORU^R32"));
        assert!(extended_has_facts("ORU"));
        assert!(!extended_has_facts("ADT^A08"));
        assert!(!extended_has_facts("MDM^T02"));
        assert!(!extended_has_facts(""));
        assert!(!extended_has_facts("ORUX^R01"));
    }

    /// ORU^R30 with LOINC codes, two measurement times, a corrected value with its comment,
    /// a value that could not be measured (OBX-11 `X`, explicit null) and a preliminary one.
    #[test]
    fn loinc_vitals_field_by_field_in_iso_2022_jp() {
        let text = fixture_text("ORU-R30-vitals");
        let bytes = hl7::encode_iso2022jp(&text).expect("encode");
        let l = labs_of(&bytes);
        assert_eq!(l.len(), 11, "one fact per OBX");
        assert_eq!(
            l[0],
            LabFact {
                code: "8310-5".into(),
                code_system: "LN".into(),
                local_code: "8310-5".into(),
                name: "体温".into(),
                value_type: "NM".into(),
                value: "37.8".into(),
                unit: "℃".into(),
                reference_range: String::new(),
                abnormal_flag: "H".into(),
                status: "F".into(),
                observed_at: "202603100600".into(),
                detail: LabDetail {
                    panel: "バイタルサイン".into(),
                    ..Default::default()
                },
            }
        );
        let row = |i: usize| {
            let f = &l[i];
            (
                f.code.as_str(),
                f.value.as_str(),
                f.unit.as_str(),
                f.status.as_str(),
                f.observed_at.as_str(),
            )
        };
        assert_eq!(row(1), ("8480-6", "142", "mmHg", "F", "202603100600"));
        assert_eq!(row(2), ("8462-4", "88", "mmHg", "F", "202603100600"));
        assert_eq!(row(3), ("8867-4", "96", "回/分", "F", "202603100600"));
        assert_eq!(row(4), ("59408-5", "95", "%", "F", "202603100600"));
        assert_eq!(row(5), ("9279-1", "20", "回/分", "F", "202603100600"));
        assert_eq!(row(6), ("8310-5", "37.1", "℃", "C", "202603101400"));
        assert_eq!(l[6].detail.comments, vec!["再測定".to_owned()]);
        assert_eq!(row(9), ("59408-5", "", "%", "X", "202603101400"));
        assert_eq!(row(10), ("29463-7", "61.2", "kg", "P", "202603101400"));
        assert!(l.iter().all(|f| !f.detail.in_culture()), "no culture");
    }

    /// ORU^R01 with JLAC10 body-measurement codes, local codes, BP as one `132/84` value,
    /// a local unit text, an unreadable numeric value and a cut BP value — all as sent, in
    /// Shift_JIS (read, though SS-MIX2 asks for ISO-2022-JP).
    #[test]
    fn jlac10_and_local_codes_as_sent_in_shift_jis() {
        let text = fixture_text("ORU-R01-local");
        let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode(&text);
        let l = labs_of(&sjis);
        assert_eq!(l.len(), 10);
        let codes: Vec<(&str, &str, &str, &str)> = l
            .iter()
            .map(|f| {
                (
                    f.code.as_str(),
                    f.code_system.as_str(),
                    f.local_code.as_str(),
                    f.name.as_str(),
                )
            })
            .collect();
        assert_eq!(
            codes,
            vec![
                ("9N001000000000001", "JC10", "HT", "身長"),
                ("9N006000000000001", "JC10", "BW", "体重"),
                ("9N011000000000001", "JC10", "", "BMI"),
                ("BP", "99ZL02", "BP", "血圧"),
                ("BT", "99ZL02", "BT", "体温"),
                ("PR", "99ZL02", "PR", "脈拍"),
                ("NRS", "99ZL02", "NRS", "疼痛スケール"),
                ("BP", "99ZL02", "BP", "血圧"),
                ("9A755000000000001", "JC10", "", "収縮期血圧"),
                ("9A765000000000001", "JC10", "", "拡張期血圧"),
            ]
        );
        let values: Vec<(&str, &str, &str)> = l
            .iter()
            .map(|f| (f.value_type.as_str(), f.value.as_str(), f.unit.as_str()))
            .collect();
        assert_eq!(
            values,
            vec![
                ("NM", "170.2", "cm"),
                ("NM", "65.0", "kg"),
                ("NM", "22.4", "kg/m2"),
                ("ST", "132/84", "mmHg"),
                ("NM", "36.6", "度"),
                ("NM", "測定中", "回/分"),
                ("NM", "3", ""),
                ("ST", "120/", "mmHg"),
                ("NM", "118", "mmHg"),
                ("NM", "72", "mmHg"),
            ]
        );
        assert_eq!(l[3].observed_at, "202603110935");
        assert_eq!(l[0].observed_at, "202603110930");
        assert!(l[0].is_jlac10() && !l[3].is_jlac10());
    }

    #[test]
    fn other_messages_have_none() {
        let text = fixture_text("ORU-R30-vitals").replace("ORU^R30^ORU_R30", "MDM^T02^MDM_T02");
        assert!(labs_of(text.as_bytes()).is_empty());
    }
}
