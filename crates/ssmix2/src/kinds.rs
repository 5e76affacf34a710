//! The SS-MIX2 data-kind table (Ver.1.2g: 26 kinds, 36 messages).

use serde::{Deserialize, Serialize};

/// Record category, the unit the access policy reasons about (profession × category).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Demographics, visits, admissions (基本情報).
    BasicInfo,
    /// Allergies (アレルギー).
    Allergies,
    /// Diagnoses (病名).
    Diagnoses,
    /// Prescriptions (処方).
    Prescriptions,
    /// Injections (注射).
    Injections,
    /// Specimen lab orders and results (検体検査).
    LabResults,
    /// Radiology, endoscopy, physiology orders and reports (レポート).
    Reports,
    /// Meal orders (食事).
    Meals,
    /// Extended storage documents (文書).
    Documents,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::BasicInfo => "basic_info",
            Category::Allergies => "allergies",
            Category::Diagnoses => "diagnoses",
            Category::Prescriptions => "prescriptions",
            Category::Injections => "injections",
            Category::LabResults => "lab_results",
            Category::Reports => "reports",
            Category::Meals => "meals",
            Category::Documents => "documents",
        }
    }
}

/// Where the date folder of a kind comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateSource {
    /// Undated kinds are stored under `-`.
    Undated,
    /// Field of a segment, e.g. `("PV1", 44)`.
    Field(&'static str, usize),
}

macro_rules! kinds {
    ($( $variant:ident = $code:literal, $ja:literal, $en:literal, $cat:ident, $date:expr, [$($msg:literal),*]; )*) => {
        /// One standard data kind (データ種別).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum DataKind { $( #[serde(rename = $code)] $variant, )* }

        impl DataKind {
            pub const ALL: &'static [DataKind] = &[ $( DataKind::$variant, )* ];

            /// The code used in file and folder names, e.g. `OML-11`.
            pub fn code(self) -> &'static str { match self { $( DataKind::$variant => $code, )* } }
            /// Japanese label for screens and reports.
            pub fn label_ja(self) -> &'static str { match self { $( DataKind::$variant => $ja, )* } }
            pub fn label_en(self) -> &'static str { match self { $( DataKind::$variant => $en, )* } }
            pub fn category(self) -> Category { match self { $( DataKind::$variant => Category::$cat, )* } }
            /// Where the date folder comes from.
            pub fn date_source(self) -> DateSource { match self { $( DataKind::$variant => $date, )* } }
            /// MSH-9 message types (`TYPE^EVENT`) this kind may hold, cancellations included.
            pub fn message_types(self) -> &'static [&'static str] { match self { $( DataKind::$variant => &[$($msg),*], )* } }
            pub fn from_code(code: &str) -> Option<DataKind> { match code { $( $code => Some(DataKind::$variant), )* _ => None } }
        }
    };
}

use DateSource::{Field, Undated};

kinds! {
    Adt00 = "ADT-00", "患者基本情報", "Patient demographics", BasicInfo, Undated, ["ADT^A08", "ADT^A23"];
    Adt01 = "ADT-01", "担当医情報", "Attending doctor", BasicInfo, Undated, ["ADT^A54", "ADT^A55"];
    Adt12 = "ADT-12", "外来診察受付", "Outpatient visit", BasicInfo, Field("PV1", 44), ["ADT^A04"];
    Adt21 = "ADT-21", "入院予定", "Admission planned", BasicInfo, Field("PV2", 8), ["ADT^A14", "ADT^A27"];
    Adt22 = "ADT-22", "入院実施", "Admission", BasicInfo, Field("PV1", 44), ["ADT^A01", "ADT^A11"];
    Adt31 = "ADT-31", "外出泊実施", "Leave of absence", BasicInfo, Field("EVN", 6), ["ADT^A21", "ADT^A52"];
    Adt32 = "ADT-32", "外出泊帰院実施", "Return from leave", BasicInfo, Field("EVN", 6), ["ADT^A22", "ADT^A53"];
    Adt41 = "ADT-41", "転科・転棟(転室・転床)予定", "Transfer planned", BasicInfo, Field("PV2", 8), ["ADT^A15", "ADT^A26"];
    Adt42 = "ADT-42", "転科・転棟(転室・転床)実施", "Transfer", BasicInfo, Field("EVN", 6), ["ADT^A02", "ADT^A12"];
    Adt51 = "ADT-51", "退院予定", "Discharge planned", BasicInfo, Field("PV2", 9), ["ADT^A16", "ADT^A25"];
    Adt52 = "ADT-52", "退院実施", "Discharge", BasicInfo, Field("PV1", 45), ["ADT^A03", "ADT^A13"];
    Adt61 = "ADT-61", "患者アレルギー情報", "Allergies", Allergies, Undated, ["ADT^A60"];
    Ppr01 = "PPR-01", "病名(歴)情報", "Diagnoses", Diagnoses, Undated, ["PPR^ZD1"];
    Omd = "OMD", "食事オーダ", "Meal order", Meals, Field("ORC", 9), ["OMD^O03"];
    Omp01 = "OMP-01", "処方オーダ", "Prescription order", Prescriptions, Field("ORC", 9), ["RDE^O11"];
    Omp02 = "OMP-02", "注射オーダ", "Injection order", Injections, Field("ORC", 9), ["RDE^O11"];
    Omp11 = "OMP-11", "処方実施通知", "Prescription administered", Prescriptions, Field("RXA", 3), ["RAS^O17"];
    Omp12 = "OMP-12", "注射実施通知", "Injection administered", Injections, Field("RXA", 3), ["RAS^O17"];
    Oml01 = "OML-01", "検体検査オーダ", "Lab order", LabResults, Field("ORC", 9), ["OML^O33"];
    Oml11 = "OML-11", "検体検査結果通知", "Lab results", LabResults, Field("SPM", 17), ["OUL^R22"];
    Omg01 = "OMG-01", "放射線検査オーダ", "Radiology order", Reports, Field("ORC", 9), ["OMG^O19"];
    Omg02 = "OMG-02", "内視鏡検査オーダ", "Endoscopy order", Reports, Field("ORC", 9), ["OMG^O19"];
    Omg03 = "OMG-03", "生理検査オーダ", "Physiology order", Reports, Field("ORC", 9), ["OMG^O19"];
    Omg11 = "OMG-11", "放射線検査実施通知", "Radiology performed", Reports, Field("OBR", 7), ["OMI^Z23"];
    Omg12 = "OMG-12", "内視鏡検査実施通知", "Endoscopy performed", Reports, Field("OBR", 7), ["OMI^Z23"];
    Omg13 = "OMG-13", "生理検査結果通知", "Physiology result", Reports, Field("OBR", 7), ["ORU^R01"];
}

impl DataKind {
    /// Kinds stored under the `-` date folder.
    pub fn is_undated(self) -> bool {
        self.date_source() == DateSource::Undated
    }

    /// Kinds whose file carries an order number (ORC-2). The others use `999999999999999`.
    pub fn has_order(self) -> bool {
        matches!(self.code().as_bytes()[..3], [b'O', b'M', _])
    }

    /// Whether `message_type` (`TYPE^EVENT`) is a message this kind may hold.
    pub fn accepts(self, message_type: &str) -> bool {
        self.message_types().contains(&message_type)
    }

    /// ADT events that cancel the kind's main event (A11 cancels A01, …).
    pub fn is_cancel_event(message_type: &str) -> bool {
        matches!(
            message_type,
            "ADT^A23"
                | "ADT^A55"
                | "ADT^A27"
                | "ADT^A11"
                | "ADT^A52"
                | "ADT^A53"
                | "ADT^A26"
                | "ADT^A12"
                | "ADT^A25"
                | "ADT^A13"
        )
    }
}

impl std::fmt::Display for DataKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_complete() {
        assert_eq!(DataKind::ALL.len(), 26);
        let messages: usize = DataKind::ALL.iter().map(|k| k.message_types().len()).sum();
        // 36 messages in Ver.1.2g; RDE^O11, RAS^O17, OMG^O19 and OMI^Z23 are shared by kinds.
        assert_eq!(messages, 36);
        for k in DataKind::ALL {
            assert_eq!(DataKind::from_code(k.code()), Some(*k));
        }
        assert!(DataKind::Adt00.is_undated() && DataKind::Ppr01.is_undated());
        assert!(!DataKind::Oml11.is_undated());
        assert!(
            DataKind::Omd.has_order()
                && DataKind::Omg13.has_order()
                && !DataKind::Adt22.has_order()
        );
    }
}
