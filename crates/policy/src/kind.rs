//! SS-MIX2 data kinds (データ種別) to record categories of the permission matrix.

use model::RecordCategory;

/// The permission-matrix category of an SS-MIX2 data kind code (the 4th part of an SS-MIX2
/// file name, e.g. `OMP-01`). Pure string mapping; case and surrounding blanks are ignored.
///
/// | data kind | category |
/// |---|---|
/// | `ADT-00` … `ADT-52` (patient basics, visits, admissions, transfers, discharges) | [`RecordCategory::BasicInfo`] |
/// | `ADT-61` (allergies) | [`RecordCategory::Allergies`] |
/// | `PPR-01` (problems / diagnoses) | [`RecordCategory::Diagnoses`] |
/// | `OMP-01`, `OMP-11` (prescription order / dispensing) | [`RecordCategory::Prescriptions`] |
/// | `OMP-02`, `OMP-12` (injection order / administration) | [`RecordCategory::Injections`] |
/// | `OML-01`, `OML-11` (lab order / results) | [`RecordCategory::LabResults`] |
/// | `OMG-*` (radiology, endoscopy, physiology … orders and reports) | [`RecordCategory::Reports`] |
/// | `OMD`, `OMD-*` (meal orders) | [`RecordCategory::BasicInfo`] |
/// | anything else (extended storage, unknown kinds) | [`RecordCategory::Documents`] |
///
/// Meal orders (食事オーダ) are basic information because what a patient may eat — diet
/// type, texture, fasting — is what care workers, care managers and clerks need when the
/// patient moves to them (discharge, home care, facility care), and they carry no results or
/// findings; the matrix gives every profession that cares for the patient
/// [`RecordCategory::BasicInfo`].
///
/// Unknown kinds fall into [`RecordCategory::Documents`], which the default matrix shows to
/// clinical professions only: a kind the gate does not know is never shown more widely than
/// a document would be.
pub fn category_of_kind(code: &str) -> RecordCategory {
    let code = code.trim().to_ascii_uppercase();
    let (prefix, number) = match code.split_once('-') {
        Some((p, n)) => (p, Some(n)),
        None => (code.as_str(), None),
    };
    let two_digits = number
        .filter(|n| n.len() == 2 && n.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|n| n.parse::<u8>().ok());
    match (prefix, number, two_digits) {
        ("ADT", _, Some(n)) if n <= 52 => RecordCategory::BasicInfo,
        ("ADT", _, Some(61)) => RecordCategory::Allergies,
        ("PPR", _, Some(1)) => RecordCategory::Diagnoses,
        ("OMP", _, Some(1 | 11)) => RecordCategory::Prescriptions,
        ("OMP", _, Some(2 | 12)) => RecordCategory::Injections,
        ("OML", _, Some(1 | 11)) => RecordCategory::LabResults,
        ("OMG", Some(n), _) if !n.is_empty() => RecordCategory::Reports,
        ("OMD", None, _) => RecordCategory::BasicInfo,
        ("OMD", Some(n), _) if !n.is_empty() => RecordCategory::BasicInfo,
        _ => RecordCategory::Documents,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RecordCategory::*;

    #[test]
    fn data_kinds_map_to_categories() {
        for (code, cat) in [
            ("ADT-00", BasicInfo),
            ("ADT-01", BasicInfo),
            ("ADT-12", BasicInfo),
            ("ADT-22", BasicInfo),
            ("ADT-31", BasicInfo),
            ("ADT-52", BasicInfo),
            ("ADT-61", Allergies),
            ("PPR-01", Diagnoses),
            ("OMP-01", Prescriptions),
            ("OMP-11", Prescriptions),
            ("OMP-02", Injections),
            ("OMP-12", Injections),
            ("OML-01", LabResults),
            ("OML-11", LabResults),
            ("OMG-01", Reports),
            ("OMG-03", Reports),
            ("OMG-11", Reports),
            ("OMD", BasicInfo),
            ("OMD-01", BasicInfo),
            (" omp-01 ", Prescriptions),
        ] {
            assert_eq!(category_of_kind(code), cat, "{code}");
        }
    }

    #[test]
    fn everything_else_is_a_document() {
        for code in [
            "",
            "ADT",
            "ADT-53",
            "ADT-60",
            "ADT-62",
            "ADT-1",
            "ADT-001",
            "PPR-02",
            "OMP-03",
            "OMP-21",
            "OML-02",
            "OMG",
            "OMG-",
            "OMD-",
            "PDF",
            "99",
            "ADT-+1",
            "ＡＤＴ-00",
        ] {
            assert_eq!(category_of_kind(code), Documents, "{code:?}");
        }
    }
}
