//! What a fact carries beyond its indexed columns: the clinical detail a view needs (timing
//! of a prescription, the organism of a culture result, the ward of a stay …), kept as one
//! JSON text column (`detail`) of the fact's row.
//!
//! Why JSON and not columns: the fact tables are clustered on what the viewer *selects by*
//! (patient, test code, dates); the detail is only ever read back with its row. Keeping it in
//! one column lets each content kind grow what it extracts without a schema migration on both
//! backends, and an extractor change is applied to stored data by re-deriving the facts
//! (`Store::facts_rederive`), not by a column fill.
//!
//! Each kind's detail lives in its own module. Every field has a default (`#[serde(default)]`
//! on the struct), so a row written by an older extractor reads as "not extracted" — never
//! as an error — until the re-derivation reaches it. A detail equal to its default is stored
//! as the empty string, so facts without detail cost nothing.

mod allergy;
mod diagnosis;
mod encounter;
mod lab;
mod medication;

pub use allergy::AllergyDetail;
pub use diagnosis::DiagnosisDetail;
pub use encounter::EncounterDetail;
pub use lab::LabDetail;
pub use medication::{MedicationDetail, PerTime};

use serde::de::DeserializeOwned;
use serde::Serialize;

/// Fields equal to their default are left out of the stored JSON (`skip_serializing_if`):
/// most facts fill a few of their kind's fields, and the names of the empty ones doubled the
/// index. Reading puts the default back (`#[serde(default)]`).
///
/// The two kinds with a row per result or drug line (labs, medications) store their fields
/// under short keys (`rename`): the long names were a third of the lab index and slowed every
/// import. Each field reads its long name too (`alias`), as written by earlier renkei.
pub(crate) fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

/// The `detail` column's text for `d`: empty when `d` is its default.
pub fn encode<T: Serialize + Default + PartialEq>(d: &T) -> String {
    if *d == T::default() {
        return String::new();
    }
    // Serializing plain structs of strings, numbers and vectors cannot fail.
    serde_json::to_string(d).unwrap_or_default()
}

/// The detail stored as `text` (empty = default).
pub fn decode<T: DeserializeOwned + Default>(text: &str) -> Result<T, serde_json::Error> {
    if text.is_empty() {
        return Ok(T::default());
    }
    serde_json::from_str(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_detail_is_stored_as_nothing_and_read_back() {
        assert_eq!(encode(&LabDetail::default()), "");
        let d: LabDetail = decode("").unwrap();
        assert_eq!(d, LabDetail::default());
        // Unknown fields (written by a newer extractor) and missing fields (older) both read.
        let d: MedicationDetail = decode(r#"{"not_a_field_yet": 1}"#).unwrap();
        assert_eq!(d, MedicationDetail::default());
        assert!(decode::<LabDetail>("{").is_err());
    }

    #[test]
    fn only_the_fields_sent_are_stored() {
        let d = LabDetail {
            sub_id: "1".into(),
            ..LabDetail::default()
        };
        assert_eq!(encode(&d), r#"{"sid":"1"}"#);
        assert_eq!(decode::<LabDetail>(&encode(&d)).unwrap(), d);
        let m = MedicationDetail {
            total: "21".into(),
            ..MedicationDetail::default()
        };
        assert_eq!(decode::<MedicationDetail>(&encode(&m)).unwrap(), m);
    }

    #[test]
    fn details_written_with_long_names_still_read() {
        let lab: LabDetail = decode(
            r#"{"sub_id":"2","group":1,"panel":"血液学的検査","specimen":"全血","report_status":"F","comments":["溶血"],"culture_role":"organism","organism":"E. coli","organism_key":"2"}"#,
        )
        .unwrap();
        assert_eq!(
            lab,
            LabDetail {
                sub_id: "2".into(),
                group: 1,
                panel: "血液学的検査".into(),
                specimen: "全血".into(),
                report_status: "F".into(),
                comments: vec!["溶血".into()],
                culture_role: "organism".into(),
                organism: "E. coli".into(),
                organism_key: "2".into(),
            }
        );
        assert_eq!(
            encode(&lab),
            r#"{"sid":"2","g":1,"p":"血液学的検査","sp":"全血","rs":"F","c":["溶血"],"cr":"organism","o":"E. coli","ok":"2"}"#
        );
        let med: MedicationDetail = decode(
            r#"{"usage_code":"1013044400000000","rhythm":"daily","uneven":true,"per_time":[{"when":"朝食後","amount":"4","unit":"錠"}],"prescriber":"医師　一郎","status":"RE","status_notes":["本人拒否"],"start_at":"20110701"}"#,
        )
        .unwrap();
        assert_eq!(med.usage_code, "1013044400000000");
        assert_eq!(med.rhythm, "daily");
        assert!(med.uneven);
        assert_eq!(
            med.per_time,
            vec![PerTime {
                when: "朝食後".into(),
                amount: "4".into(),
                unit: "錠".into()
            }]
        );
        assert_eq!(med.prescriber, "医師　一郎");
        assert_eq!((med.status.as_str(), med.status_notes.len()), ("RE", 1));
        assert!(med.not_given());
        assert_eq!(
            decode::<MedicationDetail>(&encode(&med)).unwrap(),
            med,
            "short keys read back"
        );
    }
}
