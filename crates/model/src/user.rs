//! Users, professions (職種), record categories and the permission matrix.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::FacilityCode;

macro_rules! labelled_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $code:literal, $ja:literal;)* }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant,)* }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];
            pub fn as_str(self) -> &'static str { match self { $($name::$variant => $code,)* } }
            pub fn label_ja(self) -> &'static str { match self { $($name::$variant => $ja,)* } }
            pub fn parse(s: &str) -> Option<$name> {
                $name::ALL.iter().copied().find(|v| v.as_str() == s || v.label_ja() == s)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

labelled_enum! {
    /// A user's profession (職種).
    Profession {
        Doctor = "doctor", "医師";
        Dentist = "dentist", "歯科医師";
        Pharmacist = "pharmacist", "薬剤師";
        Nurse = "nurse", "看護師";
        PublicHealthNurse = "public_health_nurse", "保健師";
        Midwife = "midwife", "助産師";
        Therapist = "therapist", "療法士";
        CareManager = "care_manager", "介護支援専門員";
        CareWorker = "care_worker", "介護職員";
        MedicalClerk = "medical_clerk", "医療事務";
        NetworkOperator = "network_operator", "事務局";
        Administrator = "administrator", "システム管理者";
    }
}

labelled_enum! {
    /// What a record is about, the unit of the permission matrix (情報区分).
    RecordCategory {
        BasicInfo = "basic_info", "基本情報";
        Allergies = "allergies", "アレルギー";
        Diagnoses = "diagnoses", "病名";
        Prescriptions = "prescriptions", "処方";
        Injections = "injections", "注射";
        LabResults = "lab_results", "検査結果";
        Reports = "reports", "レポート";
        Documents = "documents", "文書";
        Images = "images", "画像";
        CareRecords = "care_records", "介護記録";
    }
}

labelled_enum! {
    /// Why the user looks (利用目的).
    Purpose {
        Care = "care", "診療・ケア";
        Emergency = "emergency", "緊急時";
        Administration = "administration", "運用管理";
    }
}

/// Which professions may see which categories. The defaults follow what Japanese networks
/// document: physicians, dentists and pharmacists see clinical data; nurses all but images;
/// care staff see basic information, allergies, prescriptions and care records; clerks basic
/// information only; operators and administrators no clinical data (they run the network).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermissionMatrix {
    allowed: BTreeMap<Profession, Vec<RecordCategory>>,
}

impl Default for PermissionMatrix {
    fn default() -> Self {
        use Profession::*;
        use RecordCategory::*;
        let all = RecordCategory::ALL.to_vec();
        let mut allowed = BTreeMap::new();
        for p in [Doctor, Dentist] {
            allowed.insert(p, all.clone());
        }
        allowed.insert(
            Pharmacist,
            vec![
                BasicInfo,
                Allergies,
                Diagnoses,
                Prescriptions,
                Injections,
                LabResults,
                Documents,
                CareRecords,
            ],
        );
        for p in [Nurse, PublicHealthNurse, Midwife] {
            allowed.insert(
                p,
                vec![
                    BasicInfo,
                    Allergies,
                    Diagnoses,
                    Prescriptions,
                    Injections,
                    LabResults,
                    Reports,
                    Documents,
                    CareRecords,
                ],
            );
        }
        allowed.insert(
            Therapist,
            vec![
                BasicInfo,
                Allergies,
                Diagnoses,
                Prescriptions,
                LabResults,
                Reports,
                CareRecords,
            ],
        );
        allowed.insert(
            CareManager,
            vec![BasicInfo, Allergies, Diagnoses, Prescriptions, CareRecords],
        );
        allowed.insert(CareWorker, vec![BasicInfo, Allergies, CareRecords]);
        allowed.insert(MedicalClerk, vec![BasicInfo]);
        allowed.insert(NetworkOperator, vec![]);
        allowed.insert(Administrator, vec![]);
        PermissionMatrix { allowed }
    }
}

impl PermissionMatrix {
    pub fn allows(&self, profession: Profession, category: RecordCategory) -> bool {
        self.allowed
            .get(&profession)
            .is_some_and(|c| c.contains(&category))
    }

    /// A network's override of one cell.
    pub fn set(&mut self, profession: Profession, category: RecordCategory, allowed: bool) {
        let cats = self.allowed.entry(profession).or_default();
        cats.retain(|c| *c != category);
        if allowed {
            cats.push(category);
            cats.sort();
        }
    }
}

/// A person who signs in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub login: String,
    pub display_name: String,
    pub profession: Profession,
    /// Facilities the user works for and may act for.
    pub facilities: Vec<FacilityCode>,
    pub active: bool,
}
