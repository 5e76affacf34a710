//! Reading a patient's records: the only place records leave the store, always through the
//! access gate, every decision audited.

use std::collections::BTreeMap;

use model::{
    Consent, Facility, FacilityCode, Link, LocalPatient, PermissionMatrix, Purpose, RecordCategory,
    RegionalId, UnixTime, User,
};
use serde::Serialize;
use store::{FacilityId, StoredRecord};

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
    /// The source facility's name (directory data), for people who do not know the codes.
    pub source_name: String,
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

/// One local patient linked (now or before) to the regional ID, at a known facility.
pub(crate) struct Source {
    pub facility: FacilityCode,
    pub local_id: String,
    pub id: FacilityId,
    pub details: Facility,
}

struct Group {
    decision: policy::Decision,
    count: usize,
    entry: policy::AuditEntry,
}

/// The access gate for one look at one patient: decides each (source facility, local
/// patient, category) once with `policy::decide`, and remembers every decision so that
/// [`Network::close_gate`] audits each one.
pub(crate) struct Gate {
    actor: Principal,
    user: User,
    acting_for: Facility,
    pub regional_id: RegionalId,
    purpose: Purpose,
    pub break_glass: Option<policy::BreakGlass>,
    now: UnixTime,
    settings: policy::Settings,
    matrix: PermissionMatrix,
    links: Vec<Link>,
    consents: Vec<Consent>,
    pub sources: Vec<Source>,
    groups: BTreeMap<(FacilityCode, String, RecordCategory), Group>,
}

impl Gate {
    /// The linked facilities that are pharmacies (they dispense, they do not prescribe).
    pub fn pharmacies(&self) -> std::collections::BTreeSet<FacilityCode> {
        self.sources
            .iter()
            .filter(|s| s.details.kind == model::FacilityKind::Pharmacy)
            .map(|s| s.facility.clone())
            .collect()
    }

    /// The linked facilities' names (directory data, no patient data).
    pub fn facility_names(&self) -> BTreeMap<FacilityCode, String> {
        self.sources
            .iter()
            .map(|s| (s.facility.clone(), s.details.name.clone()))
            .collect()
    }

    /// May this category of source `i` be shown? Decided once, then remembered.
    pub fn allows(&mut self, i: usize, category: RecordCategory) -> bool {
        let source = &self.sources[i];
        let key = (source.facility.clone(), source.local_id.clone(), category);
        if let Some(g) = self.groups.get(&key) {
            return g.decision.is_allowed();
        }
        let req = policy::Request {
            viewer: policy::Viewer {
                user: &self.user,
                acting_for: &self.acting_for,
            },
            patient: policy::Patient {
                regional_id: &self.regional_id,
                consents: &self.consents,
                links: &self.links,
            },
            record: policy::Record {
                source: &source.details,
                local_id: &source.local_id,
                category,
            },
            purpose: self.purpose,
            break_glass: self.break_glass.as_ref(),
            now: self.now,
        };
        let decision = policy::decide(&req, &self.matrix, &self.settings);
        let entry = req.audit_entry(&decision);
        let allowed = decision.is_allowed();
        self.groups.insert(
            key,
            Group {
                decision,
                count: 0,
                entry,
            },
        );
        allowed
    }

    /// Count `n` items of source `i` and `category` under its decision (deciding if needed).
    pub fn count(&mut self, i: usize, category: RecordCategory, n: usize) {
        self.allows(i, category);
        let source = &self.sources[i];
        let key = (source.facility.clone(), source.local_id.clone(), category);
        if let Some(g) = self.groups.get_mut(&key) {
            g.count += n;
        }
    }
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
        let mut gate = self
            .open_gate(actor, id, purpose, break_glass_reason)
            .await?;
        // Every source's records at once (one query per facility in flight together on a
        // pooled backend), then decided and counted in source order.
        let sources: Vec<(FacilityCode, String, store::FacilityId)> = gate
            .sources
            .iter()
            .map(|s| (s.facility.clone(), s.local_id.clone(), s.id))
            .collect();
        let read = futures::future::try_join_all(
            sources
                .iter()
                .map(|(_, local_id, fid)| self.store.patient_records(*fid, local_id)),
        )
        .await?;
        let mut allowed = Vec::new();
        for (i, ((facility, local_id, _), records)) in sources.into_iter().zip(read).enumerate() {
            for record in records {
                let category = policy::category_of_kind(&record.kind);
                gate.count(i, category, 1);
                if gate.allows(i, category) {
                    allowed.push(AccessItem {
                        source: facility.clone(),
                        local_id: local_id.clone(),
                        category,
                        record,
                    });
                }
            }
        }
        let break_glass = gate.break_glass.clone();
        let refused = self.close_gate(gate, None).await?;
        Ok(PatientAccess {
            regional_id: id.clone(),
            allowed,
            refused,
            break_glass,
        })
    }

    /// Check who asks and for which patient, and gather what every decision on that patient
    /// needs (links, consents, matrix, settings, emergency window). Refuses, audited, an
    /// unknown regional ID. Every reader of records starts here and ends with
    /// [`Network::close_gate`].
    pub(crate) async fn open_gate(
        &self,
        actor: &Principal,
        id: &RegionalId,
        purpose: Purpose,
        break_glass_reason: Option<&str>,
    ) -> Result<Gate> {
        let Principal::User { user, acting_for } = actor else {
            return Err(self
                .refuse(
                    actor,
                    audit::Action::View,
                    id.as_str(),
                    "facility_system",
                    "施設システムのAPIキーでは患者の記録を閲覧できません (facility systems do not read patients' records)",
                )
                .await);
        };
        let Some(acting_for) = acting_for else {
            let reason = "操作する施設を選んでください (choose the facility you act for first)";
            let mut e = self.event(actor, audit::Action::View);
            e.target = id.to_string();
            e.outcome = audit::Outcome::Refused {
                code: "no_acting_facility".into(),
                reason: reason.into(),
            };
            self.audit(e).await?;
            return Err(ServiceError::Invalid(reason.into()));
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

        // Every local patient ever linked: an ended link is still asked about, so that its
        // refusal (not linked any more) is audited rather than silently skipped.
        let mut locals: Vec<LocalPatient> = links.iter().map(|l| l.patient.clone()).collect();
        locals.sort();
        locals.dedup();
        let mut details: BTreeMap<FacilityCode, Option<Facility>> = BTreeMap::new();
        let mut sources = Vec::new();
        for lp in locals {
            if !details.contains_key(&lp.facility) {
                let f = self.store.facility_details(&lp.facility).await?;
                details.insert(lp.facility.clone(), f);
            }
            let Some(Some(facility)) = details.get(&lp.facility) else {
                continue;
            };
            let Some(fid) = self.store.facility(&lp.facility, false).await? else {
                continue;
            };
            sources.push(Source {
                facility: lp.facility,
                local_id: lp.local_id,
                id: fid,
                details: facility.clone(),
            });
        }
        Ok(Gate {
            actor: actor.clone(),
            user: user.clone(),
            acting_for: acting_for.clone(),
            regional_id: id.clone(),
            purpose,
            break_glass,
            now,
            settings,
            matrix,
            links,
            consents,
            sources,
            groups: BTreeMap::new(),
        })
    }

    /// Write one audit entry per decision the gate made (source × local patient × category),
    /// with the number of items it covered, and return the refusals with their reasons.
    /// `screen` names the viewer screen in the audit detail (`None`: the record list).
    pub(crate) async fn close_gate(
        &self,
        gate: Gate,
        screen: Option<&str>,
    ) -> Result<Vec<AccessRefusal>> {
        let mut events = Vec::with_capacity(gate.groups.len() + 1);
        let mut refused = Vec::new();
        for ((source, local_id, category), group) in &gate.groups {
            let mut e = self.event(&gate.actor, audit::Action::View);
            e.purpose = Some(gate.purpose);
            e.patient = Some(gate.regional_id.clone());
            e.target = format!("{source}/{local_id}/{}", category.as_str());
            e.detail = match screen {
                None => format!("{} records", group.count),
                // The viewer decides before reading: a refused category was never read.
                Some(screen) if !group.decision.is_allowed() => format!("{screen}: not read"),
                Some(screen) => format!("{screen}: {} items", group.count),
            };
            e.flagged = group.decision.flagged_for_review();
            if let Some(r) = group.decision.refusal() {
                e.outcome = audit::Outcome::Refused {
                    code: group.entry.code.clone(),
                    reason: group.entry.message.clone(),
                };
                refused.push(AccessRefusal {
                    source: source.clone(),
                    source_name: gate
                        .sources
                        .iter()
                        .find(|s| &s.facility == source)
                        .map(|s| s.details.name.clone())
                        .unwrap_or_else(|| source.to_string()),
                    local_id: local_id.clone(),
                    category: *category,
                    records: group.count,
                    code: r.code().to_owned(),
                    reason: r.to_string(),
                });
            }
            events.push(e);
        }
        if events.is_empty() {
            // Nothing to decide on (no linked records): the look itself is still recorded.
            let mut e = self.event(&gate.actor, audit::Action::View);
            e.purpose = Some(gate.purpose);
            e.patient = Some(gate.regional_id.clone());
            e.detail = match screen {
                None => "no linked records".into(),
                Some(screen) => format!("{screen}: no linked records"),
            };
            events.push(e);
        }
        self.store.append_audit(events).await?;
        Ok(refused)
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
