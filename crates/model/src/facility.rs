//! Participating facilities (参加施設).

use serde::{Deserialize, Serialize};

use crate::FacilityCode;

/// What kind of facility (施設種別).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FacilityKind {
    /// 病院
    Hospital,
    /// 診療所
    Clinic,
    /// 歯科診療所
    DentalClinic,
    /// 薬局
    Pharmacy,
    /// 訪問看護ステーション
    HomeNursing,
    /// 介護施設
    CareFacility,
    /// 居宅介護支援事業所
    CareManagement,
    /// その他
    Other,
}

impl FacilityKind {
    pub const ALL: [FacilityKind; 8] = [
        FacilityKind::Hospital,
        FacilityKind::Clinic,
        FacilityKind::DentalClinic,
        FacilityKind::Pharmacy,
        FacilityKind::HomeNursing,
        FacilityKind::CareFacility,
        FacilityKind::CareManagement,
        FacilityKind::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FacilityKind::Hospital => "hospital",
            FacilityKind::Clinic => "clinic",
            FacilityKind::DentalClinic => "dental_clinic",
            FacilityKind::Pharmacy => "pharmacy",
            FacilityKind::HomeNursing => "home_nursing",
            FacilityKind::CareFacility => "care_facility",
            FacilityKind::CareManagement => "care_management",
            FacilityKind::Other => "other",
        }
    }

    pub fn label_ja(self) -> &'static str {
        match self {
            FacilityKind::Hospital => "病院",
            FacilityKind::Clinic => "診療所",
            FacilityKind::DentalClinic => "歯科診療所",
            FacilityKind::Pharmacy => "薬局",
            FacilityKind::HomeNursing => "訪問看護ステーション",
            FacilityKind::CareFacility => "介護施設",
            FacilityKind::CareManagement => "居宅介護支援事業所",
            FacilityKind::Other => "その他",
        }
    }

    pub fn parse(s: &str) -> Option<FacilityKind> {
        FacilityKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s || k.label_ja() == s)
    }
}

/// Participation status (参加状況).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FacilityStatus {
    /// 参加中
    Participating,
    /// 一時停止
    Suspended,
    /// 脱退
    Left,
}

impl FacilityStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FacilityStatus::Participating => "participating",
            FacilityStatus::Suspended => "suspended",
            FacilityStatus::Left => "left",
        }
    }

    pub fn parse(s: &str) -> Option<FacilityStatus> {
        [
            FacilityStatus::Participating,
            FacilityStatus::Suspended,
            FacilityStatus::Left,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// A facility of the network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Facility {
    pub code: FacilityCode,
    pub name: String,
    pub kind: FacilityKind,
    /// Secondary medical area (二次医療圏).
    pub area: String,
    pub status: FacilityStatus,
    /// Discloses its patients' data to the network (開示施設).
    pub discloses: bool,
    /// Its staff view data through the network (閲覧施設).
    pub views: bool,
}
