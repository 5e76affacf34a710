//! The diagnosis history (病名歴) across facilities: every diagnosis not deleted, ended ones
//! included, the same diagnosis from several facilities shown once with each facility's
//! own dates, status and outcome.
//!
//! "The same diagnosis" is decided conservatively — merging two different diagnoses would
//! hide one: the same MEDIS disease key *and* the same modifiers (左 / 右 matter), or, for
//! names without a MEDIS key (未コード化傷病名 20084317, or no code), the same name text and
//! ICD-10 code. Suspected (疑い) and confirmed stay visible per facility inside the group.
//!
//! Pure logic, no I/O.

use model::FacilityCode;
use serde::Serialize;
use store::{DiagnosisFact, FactRow};

/// One facility's record of a diagnosis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiagnosisSource {
    pub source: FacilityCode,
    pub local_id: String,
    pub version_id: i64,
    pub fact: DiagnosisFact,
}

impl DiagnosisSource {
    pub fn is_active(&self) -> bool {
        self.fact.end_date.is_empty()
    }
}

/// One diagnosis as shown once, with every facility that records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiagnosisGroup {
    pub name: String,
    pub medis_code: String,
    pub icd10: String,
    /// Modifiers (ZPD) as sent, part of what makes it the same diagnosis.
    pub modifiers: Vec<String>,
    /// Newest start first.
    pub sources: Vec<DiagnosisSource>,
}

impl DiagnosisGroup {
    /// Active at any facility (an end at one facility does not end it at another).
    pub fn is_active(&self) -> bool {
        self.sources.iter().any(DiagnosisSource::is_active)
    }
    /// Main diagnosis (主病名) at any facility.
    pub fn is_main(&self) -> bool {
        self.sources.iter().any(|s| s.fact.main)
    }
    /// Suspected (疑い) at every facility; a confirmation anywhere is a confirmation.
    pub fn is_suspected(&self) -> bool {
        self.sources.iter().all(|s| s.fact.suspected)
    }
    fn newest_start(&self) -> &str {
        self.sources
            .iter()
            .map(|s| s.fact.start_date.as_str())
            .max()
            .unwrap_or("")
    }
}

/// MEDIS key of a name without a code in the master: not an identity.
const UNCODED: &str = "20084317";

fn key(f: &DiagnosisFact) -> (String, String, String, Vec<String>) {
    let coded = !f.medis_code.is_empty() && f.medis_code != UNCODED;
    if coded {
        (
            f.medis_code.clone(),
            String::new(),
            String::new(),
            f.detail.modifiers.clone(),
        )
    } else {
        (
            String::new(),
            f.name.trim().to_owned(),
            f.icd10.clone(),
            f.detail.modifiers.clone(),
        )
    }
}

/// Group the live diagnoses of every facility; `DE` (deleted) ones are left out. Active
/// groups first, then ended ones; each newest start first.
pub fn group(rows: Vec<(FacilityCode, String, FactRow<DiagnosisFact>)>) -> Vec<DiagnosisGroup> {
    let mut groups: Vec<(_, DiagnosisGroup)> = Vec::new();
    for (source, local_id, row) in rows {
        if row.fact.action == "DE" {
            continue;
        }
        let k = key(&row.fact);
        let src = DiagnosisSource {
            source,
            local_id,
            version_id: row.version_id,
            fact: row.fact,
        };
        match groups.iter_mut().find(|(gk, _)| *gk == k) {
            Some((_, g)) => g.sources.push(src),
            None => groups.push((
                k,
                DiagnosisGroup {
                    name: src.fact.name.clone(),
                    medis_code: src.fact.medis_code.clone(),
                    icd10: src.fact.icd10.clone(),
                    modifiers: src.fact.detail.modifiers.clone(),
                    sources: vec![src],
                },
            )),
        }
    }
    let mut out: Vec<DiagnosisGroup> = groups.into_iter().map(|(_, g)| g).collect();
    for g in &mut out {
        g.sources
            .sort_by(|a, b| b.fact.start_date.cmp(&a.fact.start_date));
        // A code one facility left out is taken from another of the same group.
        if g.icd10.is_empty() {
            if let Some(c) = g.sources.iter().find(|s| !s.fact.icd10.is_empty()) {
                g.icd10 = c.fact.icd10.clone();
            }
        }
    }
    out.sort_by(|a, b| (b.is_active(), b.newest_start()).cmp(&(a.is_active(), a.newest_start())));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use store::DiagnosisDetail;

    fn dx(
        v: i64,
        name: &str,
        medis: &str,
        icd: &str,
        start: &str,
        end: &str,
    ) -> FactRow<DiagnosisFact> {
        FactRow {
            version_id: v,
            line: 0,
            kind: "PPR-01".into(),
            date: "-".into(),
            order_no: "999999999999999".into(),
            written_at: "20240101000000000".into(),
            fact: DiagnosisFact {
                name: name.into(),
                medis_code: medis.into(),
                icd10: icd.into(),
                action: "AD".into(),
                start_date: start.into(),
                end_date: end.into(),
                ..Default::default()
            },
        }
    }

    fn at(
        code: &str,
        row: FactRow<DiagnosisFact>,
    ) -> (FacilityCode, String, FactRow<DiagnosisFact>) {
        (FacilityCode::parse(code).expect("code"), "P".into(), row)
    }

    #[test]
    fn one_diagnosis_from_several_facilities_is_one_group() {
        let mut suspected = dx(3, "胃炎", "20054174", "", "20240301", "");
        suspected.fact.suspected = true;
        let groups = group(vec![
            at(
                "0411111111",
                dx(1, "胃炎", "20054174", "K297", "20240101", "20240201"),
            ),
            at("0422222222", suspected),
            at(
                "0411111111",
                dx(2, "高血圧症", "20063539", "I10", "20100101", ""),
            ),
        ]);
        assert_eq!(groups.len(), 2);
        let gastritis = groups.iter().find(|g| g.name == "胃炎").expect("group");
        assert_eq!(gastritis.sources.len(), 2);
        assert_eq!(gastritis.icd10, "K297", "the code one facility sent");
        assert!(gastritis.is_active(), "still active at the second facility");
        // Confirmed at one facility: a confirmation anywhere is a confirmation.
        assert!(!gastritis.is_suspected());
        assert!(gastritis.sources.iter().any(|s| s.fact.suspected));
        // Newest start first: the group of the newest activity leads.
        assert_eq!(groups[0].name, "胃炎");
    }

    #[test]
    fn modifiers_uncoded_names_and_deletions_keep_diagnoses_apart() {
        let mut left = dx(1, "膝関節症", "20000001", "", "20240101", "");
        left.fact.detail = DiagnosisDetail {
            modifiers: vec!["左".into()],
            ..Default::default()
        };
        let mut right = dx(2, "膝関節症", "20000001", "", "20240101", "");
        right.fact.detail = DiagnosisDetail {
            modifiers: vec!["右".into()],
            ..Default::default()
        };
        let mut deleted = dx(5, "高血圧症", "20063539", "I10", "20100101", "");
        deleted.fact.action = "DE".into();
        let groups = group(vec![
            at("0411111111", left),
            at("0422222222", right),
            at(
                "0411111111",
                dx(3, "左膝の違和感", UNCODED, "", "20240101", ""),
            ),
            at(
                "0422222222",
                dx(4, "右膝の違和感", UNCODED, "", "20240101", ""),
            ),
            at("0411111111", deleted),
        ]);
        assert_eq!(groups.len(), 4, "{groups:#?}");
        assert!(groups.iter().all(|g| g.sources.len() == 1));
        assert!(!groups.iter().any(|g| g.name == "高血圧症"));
    }

    #[test]
    fn ended_diagnoses_are_kept_after_active_ones() {
        let groups = group(vec![
            at(
                "0411111111",
                dx(1, "肺炎", "20000002", "J189", "20240301", "20240320"),
            ),
            at(
                "0411111111",
                dx(2, "高血圧症", "20063539", "I10", "20100101", ""),
            ),
        ]);
        assert_eq!(groups[0].name, "高血圧症");
        assert!(!groups[1].is_active());
    }
}
