//! Patient search (患者検索): by regional ID, by facility + local ID, by kana or kanji name
//! (normalised as in the matching rules), birth date and sex.
//!
//! **Clinicians see only patients they may see, and nothing hints at the others.** A patient
//! appears only when, for the purpose of care, `policy::decide` allows the user at least one
//! category from at least one actively linked source — the same inputs as the access gate
//! (links, consents, permission matrix, settings, the facility the user acts for). A name,
//! birth date or sex only matches demographics the user may see (the basic-information
//! category of that source), and the demographics shown come only from such sources.
//! Unlinked local patients never appear. Patients left out are decided silently (no audit
//! entry per candidate, which would itself reveal who exists); the search as a whole is one
//! audit entry (action `search`) with its criteria and the number of results. "Nobody
//! visible" and "nobody at all" give the same empty answer.
//!
//! **The operations office** (事務局, administrators) searches to enrol and link: it sees
//! every local patient that matches, linked or not, with the demographics from the
//! facilities' ADT-00 and the regional ID it is linked to — the identity data it already
//! works with in match candidates — but never clinical data (its screens do not open
//! patients, and the gate refuses it every clinical category by default).

use std::collections::BTreeMap;

use model::{
    Consent, Date, Demographics, Facility, FacilityCode, Link, LocalPatient, Purpose,
    RecordCategory, RegionalId,
};
use serde::{Deserialize, Serialize};
use store::{LocalPatientHit, NameQuery, PatientSearch};

use crate::{Network, Principal, Result, ServiceError};

/// Results per search unless asked otherwise, and the most ever returned.
pub const SEARCH_LIMIT: usize = 50;
pub const SEARCH_LIMIT_MAX: usize = 200;

/// The search form as typed (every field optional, text as entered).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchInput {
    #[serde(default)]
    pub name: String,
    /// `YYYY-MM-DD` or `YYYYMMDD`.
    #[serde(default)]
    pub birth_date: String,
    /// `M`, `F`, `O`, `U` (or 男/女).
    #[serde(default)]
    pub sex: String,
    #[serde(default)]
    pub facility: String,
    #[serde(default)]
    pub local_id: String,
    #[serde(default)]
    pub regional_id: String,
    #[serde(default)]
    pub limit: Option<usize>,
}

/// Checked search criteria.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SearchCriteria {
    /// Goes straight to that patient; the other criteria are ignored.
    pub regional_id: Option<RegionalId>,
    pub name: Option<NameQuery>,
    /// `YYYYMMDD`.
    pub birth_date: Option<String>,
    pub sex: Option<String>,
    pub patient: Option<LocalPatient>,
    pub limit: usize,
}

impl SearchInput {
    pub fn is_empty(&self) -> bool {
        [
            &self.name,
            &self.birth_date,
            &self.sex,
            &self.facility,
            &self.local_id,
            &self.regional_id,
        ]
        .iter()
        .all(|s| s.trim().is_empty())
    }

    /// Check the input; each error names its field in Japanese and English.
    pub fn criteria(&self) -> Result<SearchCriteria> {
        let bad = |m: String| Err(ServiceError::Invalid(m));
        let mut c = SearchCriteria {
            limit: self
                .limit
                .unwrap_or(SEARCH_LIMIT)
                .clamp(1, SEARCH_LIMIT_MAX),
            ..Default::default()
        };
        let rid = self.regional_id.trim();
        if !rid.is_empty() {
            match RegionalId::parse(rid) {
                Ok(id) => c.regional_id = Some(id),
                Err(e) => return bad(format!("地域共通ID (regional ID): {e}")),
            }
            return Ok(c);
        }
        let name = self.name.trim();
        if !name.is_empty() {
            match NameQuery::parse(name) {
                Some(q) => c.name = Some(q),
                None => {
                    return bad(
                        "氏名 (name): 文字を入力してください (type at least one letter)".into(),
                    )
                }
            }
        }
        let birth = self.birth_date.trim();
        if !birth.is_empty() {
            match Date::parse(birth) {
                Some(d) => c.birth_date = Some(d.compact()),
                None => {
                    return bad(format!(
                        "生年月日 (birth date): 「{birth}」は日付ではありません — YYYY-MM-DD または YYYYMMDD で入力してください (not a date; use YYYY-MM-DD or YYYYMMDD)"
                    ))
                }
            }
        }
        let sex = self.sex.trim();
        if !sex.is_empty() {
            c.sex = Some(match sex {
                "M" | "m" | "男" | "男性" => "M".into(),
                "F" | "f" | "女" | "女性" => "F".into(),
                "O" | "o" => "O".into(),
                "U" | "u" => "U".into(),
                _ => {
                    return bad(format!(
                        "性別 (sex): 「{sex}」は M, F, O, U のいずれかです (one of M, F, O, U)"
                    ))
                }
            });
        }
        let (fac, local) = (self.facility.trim(), self.local_id.trim());
        match (fac.is_empty(), local.is_empty()) {
            (true, true) => {}
            (false, false) => {
                let facility = FacilityCode::parse(fac)
                    .map_err(|e| ServiceError::Invalid(format!("施設コード (facility code): {e}")))?;
                c.patient = Some(LocalPatient {
                    facility,
                    local_id: local.to_owned(),
                });
            }
            (true, false) => {
                return bad("施設コード (facility code): 施設の患者IDには施設コードも必要です (a local patient ID needs its facility code)".into())
            }
            (false, true) => {
                return bad("施設の患者ID (local patient ID): 施設コードと一緒に入力してください (give the facility's patient ID with the facility code)".into())
            }
        }
        if c.name.is_none() && c.birth_date.is_none() && c.patient.is_none() {
            return bad("氏名・生年月日・施設の患者ID・地域共通IDのいずれかを入力してください (give a name, a birth date, a facility's patient ID or a regional ID)".into());
        }
        Ok(c)
    }
}

impl SearchCriteria {
    /// For the audit log.
    fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(id) = &self.regional_id {
            parts.push(format!("regional_id={id}"));
        }
        if let Some(n) = &self.name {
            parts.push(format!("name={}", n.key()));
        }
        if let Some(b) = &self.birth_date {
            parts.push(format!("birth={b}"));
        }
        if let Some(s) = &self.sex {
            parts.push(format!("sex={s}"));
        }
        if let Some(p) = &self.patient {
            parts.push(format!("local={}/{}", p.facility, p.local_id));
        }
        parts.join(" ")
    }
}

/// One facility where a found patient is known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HitFacility {
    pub code: FacilityCode,
    pub name: String,
    /// The facility's patient ID, shown only when its basic information may be seen.
    pub local_id: Option<String>,
}

/// One patient found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PatientHit {
    /// `None` only for the office: a local patient not linked yet.
    pub regional_id: Option<RegionalId>,
    /// Empty when no source's demographics may be seen.
    pub name_kanji: String,
    pub name_kana: String,
    /// `YYYYMMDD`.
    pub birth_date: String,
    /// Full years today (JST).
    pub age: Option<u32>,
    pub sex: String,
    pub facilities: Vec<HitFacility>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SearchResult {
    pub hits: Vec<PatientHit>,
    /// More patients match than were returned: narrow the search.
    pub more: bool,
}

/// Full years from `birth` (`YYYYMMDD`) to `today`.
pub fn age_on(birth: &str, today: Date) -> Option<u32> {
    let b = Date::parse(birth)?.compact();
    let t = today.compact();
    let (by, bmd): (i32, u32) = (b[..4].parse().ok()?, b[4..].parse().ok()?);
    let (ty, tmd): (i32, u32) = (t[..4].parse().ok()?, t[4..].parse().ok()?);
    let years = ty - by - i32::from(tmd < bmd);
    u32::try_from(years).ok()
}

/// What one user may see of one regional ID, decided per active source.
struct Visibility {
    /// Active sources with at least one allowed category, and whether basic information is.
    sources: Vec<(Facility, String, bool)>,
}

impl Visibility {
    fn visible(&self) -> bool {
        !self.sources.is_empty()
    }

    fn basic_info(&self, p: &LocalPatient) -> bool {
        self.sources
            .iter()
            .any(|(f, l, basic)| *basic && f.code == p.facility && *l == p.local_id)
    }
}

impl Network {
    /// Search for patients (see the module documentation for who sees what). Audited as one
    /// `search` entry.
    pub async fn search_patients(
        &self,
        actor: &Principal,
        criteria: &SearchCriteria,
    ) -> Result<SearchResult> {
        let Principal::User { user, acting_for } = actor else {
            return Err(self
                .refuse(
                    actor,
                    audit::Action::Search,
                    "patient search",
                    "facility_system",
                    "施設システムのAPIキーでは患者を検索できません (facility systems do not search patients)",
                )
                .await);
        };
        let office = actor.is_office();
        let acting_for = match (acting_for, office) {
            (Some(f), _) => Some(f.clone()),
            (None, true) => None,
            (None, false) => {
                return Err(ServiceError::Invalid(
                    "操作する施設を選んでください (choose the facility you act for first)".into(),
                ))
            }
        };
        let today = self.now().date_jst();
        let limit = criteria.limit.clamp(1, SEARCH_LIMIT_MAX);
        let mut facilities: BTreeMap<FacilityCode, Option<Facility>> = BTreeMap::new();

        let (hits, more) = if office {
            self.office_search(criteria, limit, today, &mut facilities)
                .await?
        } else {
            let acting_for = acting_for
                .ok_or_else(|| ServiceError::Internal("a clinician acts for a facility".into()))?;
            self.clinician_search(user, &acting_for, criteria, limit, today, &mut facilities)
                .await?
        };

        let mut e = self.event(actor, audit::Action::Search);
        e.purpose = Some(if office {
            Purpose::Administration
        } else {
            Purpose::Care
        });
        e.patient = criteria.regional_id.clone();
        e.detail = format!("{} → {} results", criteria.describe(), hits.len());
        self.audit(e).await?;
        Ok(SearchResult { hits, more })
    }

    async fn facility_cached(
        &self,
        cache: &mut BTreeMap<FacilityCode, Option<Facility>>,
        code: &FacilityCode,
    ) -> Result<Option<Facility>> {
        if let Some(f) = cache.get(code) {
            return Ok(f.clone());
        }
        let f = self.store.facility_details(code).await?;
        cache.insert(code.clone(), f.clone());
        Ok(f)
    }

    async fn office_search(
        &self,
        criteria: &SearchCriteria,
        limit: usize,
        today: Date,
        facilities: &mut BTreeMap<FacilityCode, Option<Facility>>,
    ) -> Result<(Vec<PatientHit>, bool)> {
        let rows: Vec<LocalPatientHit> = match &criteria.regional_id {
            Some(id) => {
                let mut rows = Vec::new();
                for l in self.store.links_of(id).await? {
                    if !l.is_active() {
                        continue;
                    }
                    let d = self
                        .store
                        .local_patient(&l.patient)
                        .await?
                        .unwrap_or_default();
                    rows.push(LocalPatientHit {
                        patient: l.patient,
                        demographics: d,
                        regional_id: Some(id.clone()),
                    });
                }
                rows
            }
            None => {
                self.store
                    .search_local_patients(&PatientSearch {
                        name: criteria.name.clone(),
                        birth_date: criteria.birth_date.clone(),
                        sex: criteria.sex.clone(),
                        patient: criteria.patient.clone(),
                        linked_only: false,
                        limit: limit + 1,
                    })
                    .await?
            }
        };
        let more = criteria.regional_id.is_none() && rows.len() > limit;
        let mut hits: Vec<PatientHit> = Vec::new();
        for row in rows.into_iter().take(limit) {
            let name = self
                .facility_cached(facilities, &row.patient.facility)
                .await?
                .map(|f| f.name)
                .unwrap_or_default();
            let fac = HitFacility {
                code: row.patient.facility.clone(),
                name,
                local_id: Some(row.patient.local_id.clone()),
            };
            // One row per regional ID; unlinked local patients one row each.
            if let Some(h) = hits
                .iter_mut()
                .find(|h| h.regional_id.is_some() && h.regional_id == row.regional_id)
            {
                h.facilities.push(fac);
                continue;
            }
            hits.push(hit_of(row.regional_id, &row.demographics, vec![fac], today));
        }
        Ok((hits, more))
    }

    /// Decide, for purpose care and without auditing, which active sources of `id` the user
    /// may see anything of.
    async fn visibility(
        &self,
        user: &model::User,
        acting_for: &Facility,
        id: &RegionalId,
        inputs: &(model::PermissionMatrix, policy::Settings),
        facilities: &mut BTreeMap<FacilityCode, Option<Facility>>,
    ) -> Result<Visibility> {
        let links: Vec<Link> = self.store.links_of(id).await?;
        let consents: Vec<Consent> = self.store.consents_of(id).await?;
        let now = self.now();
        let mut sources = Vec::new();
        for l in links.iter().filter(|l| l.is_active()) {
            let Some(facility) = self
                .facility_cached(facilities, &l.patient.facility)
                .await?
            else {
                continue;
            };
            let mut any = false;
            let mut basic = false;
            for &category in RecordCategory::ALL {
                let req = policy::Request {
                    viewer: policy::Viewer { user, acting_for },
                    patient: policy::Patient {
                        regional_id: id,
                        consents: &consents,
                        links: &links,
                    },
                    record: policy::Record {
                        source: &facility,
                        local_id: &l.patient.local_id,
                        category,
                    },
                    purpose: Purpose::Care,
                    break_glass: None,
                    now,
                };
                if policy::decide(&req, &inputs.0, &inputs.1).is_allowed() {
                    any = true;
                    basic |= category == RecordCategory::BasicInfo;
                }
            }
            if any {
                sources.push((facility, l.patient.local_id.clone(), basic));
            }
        }
        Ok(Visibility { sources })
    }

    async fn clinician_search(
        &self,
        user: &model::User,
        acting_for: &Facility,
        criteria: &SearchCriteria,
        limit: usize,
        today: Date,
        facilities: &mut BTreeMap<FacilityCode, Option<Facility>>,
    ) -> Result<(Vec<PatientHit>, bool)> {
        let inputs = (
            self.permission_matrix().await?,
            self.policy_settings().await?,
        );
        // Candidates: (regional ID, the local patient whose demographics matched, if the
        // match was on demographics).
        let mut candidates: Vec<(RegionalId, Option<LocalPatientHit>)> = Vec::new();
        let mut scanned_all = true;
        match (&criteria.regional_id, &criteria.patient) {
            (Some(id), _) => {
                if self.store.regional_id_exists(id).await? {
                    candidates.push((id.clone(), None));
                }
            }
            (None, Some(_))
                if criteria.name.is_none()
                    && criteria.birth_date.is_none()
                    && criteria.sex.is_none() =>
            {
                let rows = self
                    .store
                    .search_local_patients(&PatientSearch {
                        patient: criteria.patient.clone(),
                        linked_only: true,
                        limit: 1,
                        ..Default::default()
                    })
                    .await?;
                candidates.extend(
                    rows.into_iter()
                        .filter_map(|r| r.regional_id.map(|id| (id, None))),
                );
            }
            _ => {
                // Some candidates will not be visible: read more than asked, then stop at
                // `limit` visible patients.
                let want = (limit * 4 + 20).min(1000);
                let rows = self
                    .store
                    .search_local_patients(&PatientSearch {
                        name: criteria.name.clone(),
                        birth_date: criteria.birth_date.clone(),
                        sex: criteria.sex.clone(),
                        patient: criteria.patient.clone(),
                        linked_only: true,
                        limit: want,
                    })
                    .await?;
                scanned_all = rows.len() < want;
                for r in rows {
                    if let Some(id) = r.regional_id.clone() {
                        candidates.push((id, Some(r)));
                    }
                }
            }
        }

        let mut order: Vec<RegionalId> = Vec::new();
        let mut by_id: BTreeMap<RegionalId, (Visibility, Vec<LocalPatientHit>)> = BTreeMap::new();
        for (id, matched) in candidates {
            if !by_id.contains_key(&id) {
                if order.len() > limit {
                    break;
                }
                let v = self
                    .visibility(user, acting_for, &id, &inputs, facilities)
                    .await?;
                by_id.insert(id.clone(), (v, Vec::new()));
            }
            let Some((v, matches)) = by_id.get_mut(&id) else {
                continue;
            };
            if !v.visible() {
                continue;
            }
            match matched {
                // A demographic match counts only on demographics the user may see.
                Some(row) if !v.basic_info(&row.patient) => continue,
                Some(row) => matches.push(row),
                None => {}
            }
            if !order.contains(&id) {
                order.push(id);
            }
        }
        let more = order.len() > limit || (!scanned_all && order.len() >= limit);
        let mut hits = Vec::new();
        for id in order.into_iter().take(limit) {
            let Some((v, matches)) = by_id.remove(&id) else {
                continue;
            };
            // Demographics: the row that matched, else any source whose basic information
            // may be seen.
            let mut demographics: Option<Demographics> =
                matches.first().map(|m| m.demographics.clone());
            if demographics.is_none() {
                for (f, local_id, basic) in &v.sources {
                    if !basic {
                        continue;
                    }
                    let lp = LocalPatient {
                        facility: f.code.clone(),
                        local_id: local_id.clone(),
                    };
                    if let Some(d) = self.store.local_patient(&lp).await? {
                        demographics = Some(d);
                        break;
                    }
                }
            }
            let facs = v
                .sources
                .iter()
                .map(|(f, local_id, basic)| HitFacility {
                    code: f.code.clone(),
                    name: f.name.clone(),
                    local_id: basic.then(|| local_id.clone()),
                })
                .collect();
            hits.push(hit_of(
                Some(id),
                &demographics.unwrap_or_default(),
                facs,
                today,
            ));
        }
        Ok((hits, more))
    }
}

fn hit_of(
    regional_id: Option<RegionalId>,
    d: &Demographics,
    facilities: Vec<HitFacility>,
    today: Date,
) -> PatientHit {
    PatientHit {
        regional_id,
        name_kanji: d.name_kanji.clone(),
        name_kana: d.name_kana.clone(),
        birth_date: d.birth_date.clone(),
        age: age_on(&d.birth_date, today),
        sex: d.sex.clone(),
        facilities,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_errors_name_the_field() {
        let input = SearchInput {
            birth_date: "1950-13-01".into(),
            ..Default::default()
        };
        let e = input.criteria().expect_err("bad date").to_string();
        assert!(e.contains("生年月日") && e.contains("birth date"), "{e}");
        let input = SearchInput {
            local_id: "123".into(),
            ..Default::default()
        };
        assert!(input.criteria().is_err(), "local ID without facility");
        let input = SearchInput {
            sex: "F".into(),
            ..Default::default()
        };
        assert!(input.criteria().is_err(), "sex alone is too broad");
        let input = SearchInput {
            name: "たかはし".into(),
            birth_date: "19500101".into(),
            sex: "女".into(),
            ..Default::default()
        };
        let c = input.criteria().expect("valid");
        assert_eq!(c.name, Some(NameQuery::Kana("タカハシ".into())));
        assert_eq!(c.birth_date.as_deref(), Some("19500101"));
        assert_eq!(c.sex.as_deref(), Some("F"));
    }

    #[test]
    fn ages_in_full_years() {
        let today = Date::new(2026, 4, 1).expect("date");
        assert_eq!(age_on("19500401", today), Some(76));
        assert_eq!(age_on("19500402", today), Some(75));
        assert_eq!(age_on("", today), None);
    }
}
