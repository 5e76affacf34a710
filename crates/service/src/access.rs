//! Reading a patient's records: the only place records leave the store, always through the
//! access gate, every decision audited.

use std::collections::BTreeMap;

use model::{Facility, FacilityCode, LocalPatient, Purpose, RecordCategory, RegionalId};
use serde::Serialize;
use store::StoredRecord;

use crate::{Network, Principal, Result, ServiceError};

/// A record the user may see.
#[derive(Debug, Clone, Serialize)]
pub struct AccessItem {
    pub source: FacilityCode,
    pub local_id: String,
    pub category: RecordCategory,
    pub record: StoredRecord,
}

/// Records the user may not see, grouped by source and category, with the reason.
#[derive(Debug, Clone, Serialize)]
pub struct AccessRefusal {
    pub source: FacilityCode,
    pub local_id: String,
    pub category: RecordCategory,
    pub records: usize,
    pub code: String,
    pub reason: String,
}

/// What a user gets when opening a patient.
#[derive(Debug, Clone, Serialize)]
pub struct PatientAccess {
    pub regional_id: RegionalId,
    pub allowed: Vec<AccessItem>,
    pub refused: Vec<AccessRefusal>,
    /// Emergency access in effect (flagged for review).
    pub break_glass: Option<policy::BreakGlass>,
}

impl Network {
    /// Open a patient's records for `purpose`. With `Purpose::Emergency`, `break_glass_reason`
    /// must explain the emergency; the access is time-limited and flagged for review.
    pub async fn patient_records(
        &self,
        actor: &Principal,
        id: &RegionalId,
        purpose: Purpose,
        break_glass_reason: Option<&str>,
    ) -> Result<PatientAccess> {
        let Principal::User { user, acting_for } = actor else {
            return Err(ServiceError::Forbidden(
                "facility systems do not read other facilities' records".into(),
            ));
        };
        let Some(acting_for) = acting_for else {
            return Err(ServiceError::Invalid(
                "操作する施設を選んでください (choose the facility you act for first)".into(),
            ));
        };
        if !self.store.regional_id_exists(id).await? {
            // Not even a hint whether the ID exists beyond this: audited like any refusal.
            let mut e = self.event(actor, audit::Action::View);
            e.target = id.to_string();
            e.outcome = audit::Outcome::Refused {
                code: "unknown_patient".into(),
                reason: "unknown regional ID".into(),
            };
            self.audit(e).await?;
            return Err(ServiceError::NotFound(format!(
                "regional ID {id} is not known"
            )));
        }
        let now = self.now();
        let settings = self.policy_settings().await?;
        let matrix = self.permission_matrix().await?;
        let links = self.store.links_of(id).await?;
        let consents = self.store.consents_of(id).await?;

        let break_glass = match (purpose, break_glass_reason) {
            (Purpose::Emergency, Some(reason)) if !reason.trim().is_empty() => Some(
                self.break_glass(actor, id, reason.trim(), &settings)
                    .await?,
            ),
            _ => None,
        };

        let mut allowed = Vec::new();
        let mut groups: BTreeMap<
            (FacilityCode, String, RecordCategory),
            (policy::Decision, usize, policy::AuditEntry),
        > = BTreeMap::new();
        let mut sources: BTreeMap<FacilityCode, Option<Facility>> = BTreeMap::new();
        // Every local patient ever linked: an ended link is still asked about, so that its
        // refusal (not linked any more) is audited rather than silently skipped.
        let mut locals: Vec<LocalPatient> = links.iter().map(|l| l.patient.clone()).collect();
        locals.sort();
        locals.dedup();
        for lp in &locals {
            if !sources.contains_key(&lp.facility) {
                let f = self.store.facility_details(&lp.facility).await?;
                sources.insert(lp.facility.clone(), f);
            }
            let Some(Some(source)) = sources.get(&lp.facility) else {
                continue;
            };
            let Some(fid) = self.store.facility(&lp.facility, false).await? else {
                continue;
            };
            let records = self.store.patient_records(fid, &lp.local_id).await?;
            for record in records {
                let category = policy::category_of_kind(&record.kind);
                let key = (lp.facility.clone(), lp.local_id.clone(), category);
                if let Some((decision, count, _)) = groups.get_mut(&key) {
                    *count += 1;
                    if decision.is_allowed() {
                        allowed.push(AccessItem {
                            source: key.0,
                            local_id: key.1,
                            category,
                            record,
                        });
                    }
                    continue;
                }
                let req = policy::Request {
                    viewer: policy::Viewer { user, acting_for },
                    patient: policy::Patient {
                        regional_id: id,
                        consents: &consents,
                        links: &links,
                    },
                    record: policy::Record {
                        source,
                        local_id: &lp.local_id,
                        category,
                    },
                    purpose,
                    break_glass: break_glass.as_ref(),
                    now,
                };
                let decision = policy::decide(&req, &matrix, &settings);
                let entry = req.audit_entry(&decision);
                if decision.is_allowed() {
                    allowed.push(AccessItem {
                        source: key.0.clone(),
                        local_id: key.1.clone(),
                        category,
                        record,
                    });
                }
                groups.insert(key, (decision, 1, entry));
            }
        }

        // One audit entry per decision (source × local patient × category), with the number
        // of records it covered.
        let mut events = Vec::with_capacity(groups.len() + 1);
        let mut refused = Vec::new();
        for ((source, local_id, category), (decision, count, entry)) in &groups {
            let mut e = self.event(actor, audit::Action::View);
            e.purpose = Some(purpose);
            e.patient = Some(id.clone());
            e.target = format!("{source}/{local_id}/{}", category.as_str());
            e.detail = format!("{count} records");
            e.flagged = decision.flagged_for_review();
            if let Some(r) = decision.refusal() {
                e.outcome = audit::Outcome::Refused {
                    code: entry.code.clone(),
                    reason: entry.message.clone(),
                };
                refused.push(AccessRefusal {
                    source: source.clone(),
                    local_id: local_id.clone(),
                    category: *category,
                    records: *count,
                    code: r.code().to_owned(),
                    reason: r.to_string(),
                });
            }
            events.push(e);
        }
        if events.is_empty() {
            // Nothing to decide on (no linked records): the look itself is still recorded.
            let mut e = self.event(actor, audit::Action::View);
            e.purpose = Some(purpose);
            e.patient = Some(id.clone());
            e.detail = "no linked records".into();
            events.push(e);
        }
        self.store.append_audit(events).await?;
        Ok(PatientAccess {
            regional_id: id.clone(),
            allowed,
            refused,
            break_glass,
        })
    }

    /// Start (or continue) an emergency access window for this user and patient.
    async fn break_glass(
        &self,
        actor: &Principal,
        id: &RegionalId,
        reason: &str,
        settings: &policy::Settings,
    ) -> Result<policy::BreakGlass> {
        let now = self.now();
        let window = settings.break_glass_minutes.saturating_mul(60);
        let recent = self
            .store
            .audit_query(&store::AuditFilter {
                patient: Some(id.clone()),
                actor: Some(actor.actor()),
                since: Some(now.plus_seconds(-window)),
                ..Default::default()
            })
            .await?;
        if let Some(started) = recent
            .iter()
            .filter(|e| e.event.action == audit::Action::BreakGlass && e.event.outcome.is_allowed())
            .map(|e| e.event.at)
            .min()
        {
            return Ok(policy::BreakGlass {
                reason: reason.to_owned(),
                started_at: started,
                expires_at: started.plus_seconds(window),
            });
        }
        let mut e = self.event(actor, audit::Action::BreakGlass);
        e.patient = Some(id.clone());
        e.purpose = Some(Purpose::Emergency);
        e.detail = reason.to_owned();
        e.flagged = true;
        self.audit(e).await?;
        Ok(policy::BreakGlass {
            reason: reason.to_owned(),
            started_at: now,
            expires_at: now.plus_seconds(window),
        })
    }
}
