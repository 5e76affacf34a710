//! Patient consent (同意) in the modes Japanese networks use.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::patient::RegionalId;
use crate::time::{Date, UnixTime};
use crate::FacilityCode;

/// What the patient agreed to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum ConsentScope {
    /// 一括同意: every participating facility may disclose and view.
    AllFacilities,
    /// 施設選択 (MMWIN's model): the patient chooses which facilities may disclose their data
    /// to the network and which may view it.
    SelectedFacilities {
        disclosing: BTreeSet<FacilityCode>,
        viewing: BTreeSet<FacilityCode>,
    },
    /// 医師単位: only the named doctors (user logins) may view; every facility discloses.
    SelectedDoctors { doctors: BTreeSet<String> },
}

impl ConsentScope {
    pub fn mode(&self) -> &'static str {
        match self {
            ConsentScope::AllFacilities => "all_facilities",
            ConsentScope::SelectedFacilities { .. } => "selected_facilities",
            ConsentScope::SelectedDoctors { .. } => "selected_doctors",
        }
    }
}

/// One consent record. A change is a new record; the old one stays (history). Withdrawal
/// (撤回) sets `withdrawn_at` and takes effect at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consent {
    pub id: i64,
    pub regional_id: RegionalId,
    pub scope: ConsentScope,
    /// First day the consent applies (inclusive, JST).
    pub valid_from: Date,
    /// Last day it applies (inclusive), if limited.
    pub valid_until: Option<Date>,
    pub withdrawn_at: Option<UnixTime>,
    /// Reference to the signed paper form (同意書の保管番号など).
    pub paper_form: String,
    /// Implied consent (黙示同意) recorded by the office rather than signed by the patient.
    pub implied: bool,
    pub recorded_by: String,
    pub recorded_at: UnixTime,
    /// The consent this one replaces, if any.
    pub replaces: Option<i64>,
}

impl Consent {
    /// In force at `now`: started, not ended, not withdrawn.
    pub fn in_force(&self, now: UnixTime) -> bool {
        let today = now.date_jst();
        self.withdrawn_at.is_none_or(|w| w > now)
            && self.valid_from <= today
            && self.valid_until.is_none_or(|u| today <= u)
    }
}
