//! PPR-01 diagnoses (PPR^ZD1): all of a patient's diagnoses in one message.
//! Each problem is a PRB followed by its ZPR (MEDIS codes), ZPD (modifiers), ZI1 (insurance),
//! ORC (doctor, department) and NTE segments.

use hl7::Message;
use serde::{Deserialize, Serialize};

use super::common::{comment, comp_of, field_opt, Coded, Insurance, Order};

/// The MEDIS key for a disease name that has no code in the master (未コード化傷病名):
/// the name is then only in the text.
pub const UNCODED_DISEASE: &str = "20084317";

/// A modifier of a disease name (ZPD): 急性, 左, 術後…
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiagnosisModifier {
    pub set_id: Option<String>,
    /// ZPD-2 modifier code (MEDIS modifier master, `MDCDX2`).
    pub modifier: Option<Coded>,
    /// ZPD-3 modifier exchange code.
    pub exchange_code: Option<String>,
}

/// One diagnosis (PRB and what follows it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnosis {
    /// PRB-1 action (`AD` add, `UP` update, `DE` delete, `UC` unchanged).
    pub action: String,
    /// PRB-2 action date-time.
    pub action_at: Option<String>,
    /// PRB-3 disease (`20054174^胃炎^MDCDX2`).
    pub disease: Option<Coded>,
    /// MEDIS 8-digit key from PRB-3, else ZPR-2.
    pub medis_code: Option<String>,
    /// The disease name text: PRB-3, else ZPR-2, else PRB-17.
    pub name: String,
    /// The MEDIS key is [`UNCODED_DISEASE`]: the name is free text.
    pub uncoded: bool,
    /// PRB-4 problem instance ID.
    pub instance_id: Option<String>,
    /// PRB-7 date diagnosed.
    pub diagnosed_at: Option<String>,
    /// PRB-8 expected resolution.
    pub expected_resolution_at: Option<String>,
    /// PRB-9 resolved (end) date.
    pub resolved_at: Option<String>,
    /// PRB-10 classification: ICD-10 (`I10`) in one triple, inpatient/outpatient
    /// (`JHSD0004`) in the other.
    pub classification: Option<Coded>,
    /// ICD-10 code from PRB-10 (or PRB-3 when sent there).
    pub icd10: Option<String>,
    /// PRB-13 confirmation status; `1` means suspected (疑い).
    pub confirmation: Option<Coded>,
    /// PRB-13 says suspected (疑い).
    pub suspected: bool,
    /// PRB-14 outcome / life-cycle status (`N^回復せず^HL70241`).
    pub outcome: Option<Coded>,
    /// PRB-15 outcome date-time.
    pub outcome_at: Option<String>,
    /// PRB-16 onset date.
    pub onset: Option<String>,
    /// PRB-17 onset text.
    pub onset_text: Option<String>,
    /// PRB-18 ranking (`1^主診断^JHSD0007`).
    pub rank: Option<Coded>,
    /// PRB-18 says main diagnosis (code `1`).
    pub main_diagnosis: bool,
    /// PRB-19 certainty.
    pub certainty: Option<Coded>,
    /// PRB-25 security/sensitivity (`V` very restricted…).
    pub sensitivity: Option<Coded>,
    /// ZPR-2 disease from the MEDIS master.
    pub medis_disease: Option<Coded>,
    /// ZPR-5 exchange code (4 characters, `TSQF`).
    pub exchange_code: Option<String>,
    /// ZPD modifiers.
    pub modifiers: Vec<DiagnosisModifier>,
    /// ZI1 insurance the diagnosis is billed under.
    pub insurances: Vec<Insurance>,
    /// ORC: diagnosing doctor and department.
    pub orders: Vec<Order>,
    pub comments: Vec<String>,
}

impl Diagnosis {
    /// PRB-1 `DE`: this diagnosis is deleted.
    pub fn is_deleted(&self) -> bool {
        self.action == "DE"
    }
}

/// PPR-01 diagnoses.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnoses {
    pub problems: Vec<Diagnosis>,
    /// ORC, ZI1 or NTE found before the first PRB.
    pub orders: Vec<Order>,
    pub insurances: Vec<Insurance>,
    pub comments: Vec<String>,
}

impl Diagnoses {
    pub(crate) fn read(msg: &Message) -> Diagnoses {
        let d = msg.delimiters();
        let mut out = Diagnoses::default();
        for seg in msg.segments() {
            match seg.name() {
                "PRB" => {
                    let disease = Coded::from_field(seg.field(3));
                    let classification = Coded::from_field(seg.field(10));
                    let confirmation = Coded::from_field(seg.field(13));
                    let rank = Coded::from_field(seg.field(18));
                    out.problems.push(Diagnosis {
                        action: field_opt(&seg, 1).unwrap_or_default(),
                        action_at: field_opt(&seg, 2),
                        medis_code: disease.as_ref().and_then(|c| c.medis()).map(str::to_owned),
                        name: disease
                            .as_ref()
                            .map(|c| c.text_of("MDCDX2").unwrap_or(&c.text).to_owned())
                            .unwrap_or_default(),
                        icd10: classification
                            .as_ref()
                            .and_then(|c| c.icd10())
                            .or_else(|| disease.as_ref().and_then(|c| c.icd10()))
                            .map(str::to_owned),
                        instance_id: comp_of(&seg, 4, 1),
                        diagnosed_at: field_opt(&seg, 7),
                        expected_resolution_at: field_opt(&seg, 8),
                        resolved_at: field_opt(&seg, 9),
                        suspected: confirmation
                            .as_ref()
                            .is_some_and(|c| c.code == "1" || c.text == "疑い"),
                        outcome: Coded::from_field(seg.field(14)),
                        outcome_at: field_opt(&seg, 15),
                        onset: field_opt(&seg, 16),
                        onset_text: field_opt(&seg, 17),
                        main_diagnosis: rank.as_ref().is_some_and(|c| c.code == "1"),
                        certainty: Coded::from_field(seg.field(19)),
                        sensitivity: Coded::from_field(seg.field(25)),
                        disease,
                        classification,
                        confirmation,
                        rank,
                        ..Diagnosis::default()
                    });
                }
                "ZPR" => {
                    if let Some(p) = out.problems.last_mut() {
                        let medis = Coded::from_field(seg.field(2));
                        if p.medis_code.is_none() {
                            p.medis_code =
                                medis.as_ref().and_then(|c| c.medis()).map(str::to_owned);
                        }
                        if p.name.is_empty() {
                            p.name = medis.as_ref().map(|c| c.text.clone()).unwrap_or_default();
                        }
                        p.medis_disease = medis;
                        p.exchange_code = comp_of(&seg, 5, 1);
                    }
                }
                "ZPD" => {
                    if let Some(p) = out.problems.last_mut() {
                        p.modifiers.push(DiagnosisModifier {
                            set_id: field_opt(&seg, 1),
                            modifier: Coded::from_field(seg.field(2)),
                            exchange_code: comp_of(&seg, 3, 1),
                        });
                    }
                }
                "ZI1" => match out.problems.last_mut() {
                    Some(p) => p.insurances.push(Insurance::read(&seg)),
                    None => out.insurances.push(Insurance::read(&seg)),
                },
                "ORC" => match out.problems.last_mut() {
                    Some(p) => p.orders.push(Order::read(&seg)),
                    None => out.orders.push(Order::read(&seg)),
                },
                "NTE" => match out.problems.last_mut() {
                    Some(p) => p.comments.push(comment(&seg, d)),
                    None => out.comments.push(comment(&seg, d)),
                },
                _ => {}
            }
        }
        for p in &mut out.problems {
            if p.name.is_empty() {
                p.name = p.onset_text.clone().unwrap_or_default();
            }
            p.uncoded = p.medis_code.as_deref() == Some(UNCODED_DISEASE);
        }
        out
    }

    /// The diagnoses not deleted by PRB-1 `DE`.
    pub fn current(&self) -> impl Iterator<Item = &Diagnosis> {
        self.problems.iter().filter(|p| !p.is_deleted())
    }
}
