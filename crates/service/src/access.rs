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

/// Why some of a patient's records are not shown to this user: the reason's code and text,
/// each reason once, and the record categories it withholds. Only what follows from who
/// asks, the network's rules and the patient's consent as a whole (`policy::explain`) —
/// never which facilities hold records of the patient, under which local IDs, in which
/// categories or how many. The audit log keeps all of that, for the operations office.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccessRefusal {
    pub code: String,
    pub reason: String,
    /// The categories this reason withholds from this user (from the permission matrix and
    /// the purpose, or every category for a reason about the whole request), whatever the
    /// patient has.
    pub categories: Vec<RecordCategory>,
    /// Break-the-glass would lift this reason (a consent reason, or no emergency window
    /// started yet) for a profession that may use it.
    #[serde(skip)]
    lifted_by_break_glass: bool,
}

impl AccessRefusal {
    fn of(e: &policy::Explanation) -> AccessRefusal {
        let reason = match &e.refusal {
            policy::Refusal::ProfessionNotPermitted { profession, .. } => {
                let ja: Vec<&str> = e.categories.iter().map(|c| c.label_ja()).collect();
                let en: Vec<&str> = e.categories.iter().map(|c| c.as_str()).collect();
                format!(
                    "職種「{}」には次の情報の閲覧権限がありません: {} (profession {profession} may not view: {})",
                    profession.label_ja(),
                    ja.join("、"),
                    en.join(", ")
                )
            }
            r => r.to_string(),
        };
        AccessRefusal {
            code: e.refusal.code().to_owned(),
            reason,
            categories: e.categories.clone(),
            lifted_by_break_glass: e.refusal.lifted_by_break_glass(),
        }
    }

    /// Does this reason withhold `category`?
    pub fn covers(&self, category: RecordCategory) -> bool {
        self.categories.contains(&category)
    }

    /// Would starting break-the-glass lift this reason?
    pub fn lifted_by_break_glass(&self) -> bool {
        self.lifted_by_break_glass
    }
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
    /// The act [`Network::close_gate`] audits the decisions as (`View`; `Download` when the
    /// original bytes leave the viewer).
    pub action: audit::Action,
}

impl Gate {
    /// Who asks.
    pub(crate) fn actor(&self) -> &Principal {
        &self.actor
    }

    /// Why they ask.
    pub(crate) fn purpose(&self) -> Purpose {
        self.purpose
    }

    /// The linked facilities that are pharmacies (they dispense, they do not prescribe).
    pub fn pharmacies(&self) -> std::collections::BTreeSet<FacilityCode> {
        self.sources
            .iter()
            .filter(|s| s.details.kind == model::FacilityKind::Pharmacy)
            .map(|s| s.facility.clone())
            .collect()
    }

    /// The names of the linked facilities of which something was allowed so far (directory
    /// data). Call it after deciding: a facility none of whose records may be shown is not
    /// named, since its name alone says the patient is treated there.
    pub fn facility_names(&self) -> BTreeMap<FacilityCode, String> {
        self.sources
            .iter()
            .filter(|s| self.allowed_any(&s.facility))
            .map(|s| (s.facility.clone(), s.details.name.clone()))
            .collect()
    }

    /// Was anything of `facility` allowed so far?
    pub fn allowed_any(&self, facility: &FacilityCode) -> bool {
        self.groups
            .iter()
            .any(|((f, _, _), g)| f == facility && g.decision.is_allowed())
    }

    fn viewer(&self) -> policy::Viewer<'_> {
        policy::Viewer {
            user: &self.user,
            acting_for: &self.acting_for,
        }
    }

    fn patient(&self) -> policy::Patient<'_> {
        policy::Patient {
            regional_id: &self.regional_id,
            consents: &self.consents,
            links: &self.links,
        }
    }

    /// What the user may be told about what is withheld (see [`AccessRefusal`]).
    pub(crate) fn explain(&self) -> Vec<AccessRefusal> {
        let q = policy::Question {
            viewer: self.viewer(),
            patient: self.patient(),
            purpose: self.purpose,
            break_glass: self.break_glass.as_ref(),
            now: self.now,
        };
        policy::explain(&q, &self.matrix, &self.settings)
            .iter()
            .map(AccessRefusal::of)
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
            viewer: self.viewer(),
            patient: self.patient(),
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
    /// Open a patient's records for `purpose`. `Purpose::Emergency` uses the break-the-glass
    /// window this user started for this patient ([`Network::start_break_glass`]); without
    /// one every record is refused with the reason. `_break_glass_reason` is ignored: it is
    /// still accepted from callers written when a GET started the window.
    pub async fn patient_records(
        &self,
        actor: &Principal,
        id: &RegionalId,
        purpose: Purpose,
        _break_glass_reason: Option<&str>,
    ) -> Result<PatientAccess> {
        let mut gate = self.open_gate(actor, id, purpose).await?;
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
    /// needs (links, consents, matrix, settings, the open emergency window). Refuses,
    /// audited, an unknown regional ID. Every reader of records starts here and ends with
    /// [`Network::close_gate`]. Opening never changes anything but the audit log: an
    /// emergency window is only used here, started by [`Network::start_break_glass`].
    pub(crate) async fn open_gate(
        &self,
        actor: &Principal,
        id: &RegionalId,
        purpose: Purpose,
    ) -> Result<Gate> {
        self.open_gate_as(actor, id, purpose, audit::Action::View)
            .await
    }

    /// [`Network::open_gate`] for an act other than viewing (`Download`): its refusals and,
    /// at [`Network::close_gate`], its decisions are audited as that act.
    pub(crate) async fn open_gate_as(
        &self,
        actor: &Principal,
        id: &RegionalId,
        purpose: Purpose,
        action: audit::Action,
    ) -> Result<Gate> {
        let Principal::User { user, acting_for } = actor else {
            return Err(self
                .refuse(
                    actor,
                    action,
                    id.as_str(),
                    "facility_system",
                    "施設システムのAPIキーでは患者の記録を閲覧できません (facility systems do not read patients' records)",
                )
                .await);
        };
        let Some(acting_for) = acting_for else {
            let reason = "操作する施設を選んでください (choose the facility you act for first)";
            let mut e = self.event(actor, action);
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
            let mut e = self.event(actor, action);
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

        let break_glass = match purpose {
            Purpose::Emergency => self.open_break_glass(actor, id, &settings).await?,
            Purpose::Care | Purpose::Administration => None,
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
            action,
        })
    }

    /// Write one audit entry per decision the gate made (source × local patient × category),
    /// with the number of items it covered, and return what the user may be told of the
    /// refusals ([`AccessRefusal`]: reasons only, nothing about the patient's records).
    /// `screen` names the viewer screen in the audit detail (`None`: the record list).
    pub(crate) async fn close_gate(
        &self,
        gate: Gate,
        screen: Option<&str>,
    ) -> Result<Vec<AccessRefusal>> {
        let mut events = Vec::with_capacity(gate.groups.len() + 1);
        for ((source, local_id, category), group) in &gate.groups {
            let mut e = self.event(&gate.actor, gate.action);
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
            if group.decision.refusal().is_some() {
                e.outcome = audit::Outcome::Refused {
                    code: group.entry.code.clone(),
                    reason: group.entry.message.clone(),
                };
            }
            events.push(e);
        }
        if events.is_empty() {
            // Nothing to decide on (no linked records): the look itself is still recorded.
            let mut e = self.event(&gate.actor, gate.action);
            e.purpose = Some(gate.purpose);
            e.patient = Some(gate.regional_id.clone());
            e.detail = match screen {
                None => "no linked records".into(),
                Some(screen) => format!("{screen}: no linked records"),
            };
            events.push(e);
        }
        self.store.append_audit(events).await?;
        Ok(gate.explain())
    }

    /// Start an emergency access window (break-the-glass, 緊急時閲覧) for this user, acting
    /// for their facility, and this patient: `Purpose::Emergency` requests of the same user
    /// and patient are then decided without consent for `break_glass_minutes`, every one
    /// flagged for review. A second start within the window starts a new one (a renewed
    /// declaration, with its own reason). Refused — and audited as refused, flagged for
    /// review — for facility systems, users without an acting facility, professions that may
    /// not break the glass (`policy::BREAK_GLASS_PROFESSIONS`), a blank reason and an unknown
    /// patient.
    pub async fn start_break_glass(
        &self,
        actor: &Principal,
        id: &RegionalId,
        reason: &str,
    ) -> Result<policy::BreakGlass> {
        let reason = reason.trim();
        let mut e = self.event(actor, audit::Action::BreakGlass);
        e.patient = Some(id.clone());
        e.purpose = Some(Purpose::Emergency);
        e.target = "start".into();
        e.detail = reason.chars().take(BREAK_GLASS_REASON_MAX).collect();
        e.flagged = true;
        let refusal = match actor {
            Principal::FacilitySystem { .. } => Some(Refused::forbidden(
                "not_a_user",
                "施設システムは緊急時閲覧を使えません (facility systems do not break the glass)",
            )),
            Principal::User {
                acting_for: None, ..
            } => Some(Refused::invalid(
                "no_acting_facility",
                "操作する施設を選んでください (choose the facility you act for first)",
            )),
            Principal::User {
                user,
                acting_for: Some(acting_for),
            } => policy::may_break_glass(&policy::Viewer { user, acting_for })
                .err()
                .map(|r| Refused::forbidden(r.code(), &r.to_string())),
        };
        let refusal = match refusal {
            Some(r) => Some(r),
            None if reason.is_empty() => {
                let r = policy::Refusal::BreakGlassWithoutReason;
                Some(Refused::invalid(r.code(), &r.to_string()))
            }
            None if reason.chars().count() > BREAK_GLASS_REASON_MAX => Some(Refused::invalid(
                "break_glass_reason_too_long",
                &format!("理由は{BREAK_GLASS_REASON_MAX}文字以内で入力してください (the reason may have at most {BREAK_GLASS_REASON_MAX} characters)"),
            )),
            None if !self.store.regional_id_exists(id).await? => {
                // As `open_gate`: an unknown ID is not written as a patient.
                e.patient = None;
                e.target = format!("start {id}");
                Some(Refused {
                    code: "unknown_patient",
                    reason: "unknown regional ID".into(),
                    error: ServiceError::NotFound(format!("regional ID {id} is not known")),
                })
            }
            None => None,
        };
        if let Some(r) = refusal {
            e.outcome = audit::Outcome::Refused {
                code: r.code.to_owned(),
                reason: r.reason,
            };
            self.audit(e).await?;
            return Err(r.error);
        }
        let settings = self.policy_settings().await?;
        let now = e.at;
        self.audit(e).await?;
        Ok(policy::BreakGlass {
            reason: reason.to_owned(),
            started_at: now,
            expires_at: now.plus_seconds(settings.break_glass_minutes.saturating_mul(60)),
        })
    }

    /// The emergency window this user, acting for the same facility, started for this
    /// patient within `break_glass_minutes` (the newest start), if any. Reads the audit log,
    /// where every start is written: the log is the one record of who broke the glass when.
    async fn open_break_glass(
        &self,
        actor: &Principal,
        id: &RegionalId,
        settings: &policy::Settings,
    ) -> Result<Option<policy::BreakGlass>> {
        let window = settings.break_glass_minutes.saturating_mul(60);
        if window <= 0 {
            return Ok(None);
        }
        let now = self.now();
        let recent = self
            .store
            .audit_query(&store::AuditFilter {
                patient: Some(id.clone()),
                actor: Some(actor.actor()),
                since: Some(now.plus_seconds(-window)),
                ..Default::default()
            })
            .await?;
        let facility = actor.facility();
        Ok(recent
            .iter()
            .map(|e| &e.event)
            .filter(|e| {
                e.action == audit::Action::BreakGlass
                    && e.outcome.is_allowed()
                    && e.actor_facility.as_ref() == facility
            })
            .max_by_key(|e| e.at)
            .map(|e| policy::BreakGlass {
                reason: e.detail.clone(),
                started_at: e.at,
                expires_at: e.at.plus_seconds(window),
            }))
    }
}

/// Longest break-the-glass reason kept (characters): a sentence, not a document.
pub const BREAK_GLASS_REASON_MAX: usize = 500;

/// A refused start of break-the-glass: what the audit entry says and what the caller gets.
struct Refused {
    code: &'static str,
    reason: String,
    error: ServiceError,
}

impl Refused {
    fn forbidden(code: &'static str, reason: &str) -> Refused {
        Refused {
            code,
            reason: reason.to_owned(),
            error: ServiceError::Forbidden(reason.to_owned()),
        }
    }

    fn invalid(code: &'static str, reason: &str) -> Refused {
        Refused {
            code,
            reason: reason.to_owned(),
            error: ServiceError::Invalid(reason.to_owned()),
        }
    }
}
