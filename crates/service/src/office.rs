//! What the operations office (事務局) does: facilities, enrolment and ID linkage, consent,
//! and reviewing the audit log.

use model::{Consent, ConsentScope, Date, Facility, FacilityCode, Link, LocalPatient, RegionalId};
use serde::Serialize;
use store::{AuditFilter, Merge};

use crate::{Network, Principal, Result, ServiceError, MATCH_KEY};

/// A consent to record.
#[derive(Debug, Clone)]
pub struct ConsentInput {
    pub regional_id: RegionalId,
    pub scope: ConsentScope,
    pub valid_from: Date,
    pub valid_until: Option<Date>,
    pub paper_form: String,
    pub implied: bool,
}

/// Result of checking the audit chain.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub entries: u64,
    pub head_hash: Option<String>,
    /// The newest entry as `SEQ:HASH`: the line to copy off the server and give to a later
    /// `verify --expect-head`.
    pub head: Option<audit::Head>,
    /// Problems found; empty means the chain is intact.
    pub problems: Vec<String>,
}

/// A head of the audit chain known from elsewhere, which the local chain must still hold:
/// one an operator copied off the server, or the newest entry an off-site site holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeadReference {
    /// Where it comes from, as the report names it (`the head given with --expect-head`,
    /// `site s3-osaka`).
    pub source: String,
    /// None: the source holds no entries (a site not shipped to yet) and vouches for nothing.
    pub head: Option<audit::Head>,
}

impl VerifyReport {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

impl Network {
    pub(crate) async fn audited<T>(
        &self,
        actor: &Principal,
        action: audit::Action,
        patient: Option<&RegionalId>,
        target: String,
        detail: String,
        result: Result<T>,
    ) -> Result<T> {
        let mut e = self.event(actor, action);
        e.patient = patient.cloned();
        e.target = target;
        e.detail = detail;
        if let Err(err) = &result {
            e.outcome = audit::Outcome::Failed {
                reason: err.to_string(),
            };
        }
        self.audit(e).await?;
        result
    }

    pub async fn put_facility(&self, actor: &Principal, facility: Facility) -> Result<()> {
        let target = facility.code.to_string();
        self.require_office(actor, audit::Action::FacilityChange, &target)
            .await?;
        let detail = format!(
            "{} {} status={} discloses={} views={}",
            facility.kind.as_str(),
            facility.name,
            facility.status.as_str(),
            facility.discloses,
            facility.views
        );
        let r = self.store.put_facility(&facility).await.map_err(Into::into);
        self.audited(
            actor,
            audit::Action::FacilityChange,
            None,
            target,
            detail,
            r,
        )
        .await
    }

    pub async fn facilities(&self) -> Result<Vec<Facility>> {
        Ok(self.store.list_facilities().await?)
    }

    /// Issue a regional ID and link the given local patients to it.
    pub async fn enroll(&self, actor: &Principal, locals: &[LocalPatient]) -> Result<RegionalId> {
        self.require_office(actor, audit::Action::Enroll, "enroll")
            .await?;
        for lp in locals {
            if let Some(other) = self.store.regional_id_of(lp).await? {
                return Err(ServiceError::Conflict(format!(
                    "patient {} of facility {} is already linked to {other}",
                    lp.local_id, lp.facility
                )));
            }
        }
        let id = self.store.enroll(&actor.actor(), self.now()).await?;
        self.audited(
            actor,
            audit::Action::Enroll,
            Some(&id),
            id.to_string(),
            String::new(),
            Ok(()),
        )
        .await?;
        for lp in locals {
            self.link(actor, &id, lp).await?;
        }
        Ok(id)
    }

    pub async fn link(
        &self,
        actor: &Principal,
        id: &RegionalId,
        lp: &LocalPatient,
    ) -> Result<Link> {
        let target = format!("{}/{}", lp.facility, lp.local_id);
        self.require_office(actor, audit::Action::Link, &target)
            .await?;
        let r = self
            .store
            .link(id, lp, &actor.actor(), self.now())
            .await
            .map_err(Into::into);
        self.audited(
            actor,
            audit::Action::Link,
            Some(id),
            target,
            String::new(),
            r,
        )
        .await
    }

    /// End a local patient's link: from this moment nothing of it is visible under the
    /// regional ID.
    pub async fn unlink(&self, actor: &Principal, lp: &LocalPatient) -> Result<Link> {
        let target = format!("{}/{}", lp.facility, lp.local_id);
        self.require_office(actor, audit::Action::Unlink, &target)
            .await?;
        let r = match self.store.unlink(lp, &actor.actor(), self.now()).await {
            Ok(Some(link)) => Ok(link),
            Ok(None) => Err(ServiceError::Conflict(format!("{target} is not linked"))),
            Err(e) => Err(e.into()),
        };
        let patient = r.as_ref().ok().map(|l| l.regional_id.clone());
        self.audited(
            actor,
            audit::Action::Unlink,
            patient.as_ref(),
            target,
            String::new(),
            r,
        )
        .await
    }

    pub async fn merge(
        &self,
        actor: &Principal,
        from: &RegionalId,
        into: &RegionalId,
    ) -> Result<Merge> {
        self.require_office(actor, audit::Action::Merge, from.as_str())
            .await?;
        let r = self
            .store
            .merge(from, into, &actor.actor(), self.now())
            .await
            .map_err(Into::into);
        self.audited(
            actor,
            audit::Action::Merge,
            Some(into),
            from.to_string(),
            format!("{from} → {into}"),
            r,
        )
        .await
    }

    pub async fn unmerge(&self, actor: &Principal, merge_id: i64) -> Result<Merge> {
        self.require_office(actor, audit::Action::Unmerge, &merge_id.to_string())
            .await?;
        let r = self
            .store
            .unmerge(merge_id, &actor.actor(), self.now())
            .await
            .map_err(Into::into);
        let patient = r.as_ref().ok().map(|m| m.from.clone());
        self.audited(
            actor,
            audit::Action::Unmerge,
            patient.as_ref(),
            merge_id.to_string(),
            String::new(),
            r,
        )
        .await
    }

    pub async fn links(&self, actor: &Principal, id: &RegionalId) -> Result<Vec<Link>> {
        self.require_office(actor, audit::Action::AuditRead, id.as_str())
            .await?;
        Ok(self.store.links_of(id).await?)
    }

    pub async fn match_settings(&self) -> Result<mpi::MatchSettings> {
        match self.store.setting(MATCH_KEY).await? {
            Some(json) => serde_json::from_str(&json).map_err(|e| {
                ServiceError::Internal(format!("stored match settings are invalid: {e}"))
            }),
            None => Ok(mpi::MatchSettings::default()),
        }
    }

    /// Match candidates among local patients not linked yet to the same regional ID, best
    /// first, with the explanation of each score. Nothing is linked here.
    pub async fn candidates(&self, actor: &Principal) -> Result<Vec<mpi::Candidate>> {
        self.require_office(actor, audit::Action::Search, "match candidates")
            .await?;
        let settings = self.match_settings().await?;
        let patients = self.store.local_patients().await?;
        let mut linked = std::collections::HashMap::new();
        for (lp, _) in &patients {
            if let Some(id) = self.store.regional_id_of(lp).await? {
                linked.insert(lp.clone(), id);
            }
        }
        let all = mpi::candidates(&patients, &settings);
        let out: Vec<mpi::Candidate> = all
            .into_iter()
            .filter(|c| match (linked.get(&c.a), linked.get(&c.b)) {
                (Some(x), Some(y)) => x != y,
                _ => true,
            })
            .collect();
        let mut e = self.event(actor, audit::Action::Search);
        e.target = "match candidates".into();
        e.detail = format!("{} candidates", out.len());
        self.audit(e).await?;
        Ok(out)
    }

    /// Link the candidate pairs that score at least the configured auto-link score (never
    /// below it; never when it is unset). A pair whose two sides are already linked to
    /// different regional IDs is left for a merge by a person. Returns how many links were made.
    pub async fn auto_link(&self, actor: &Principal) -> Result<usize> {
        let settings = self.match_settings().await?;
        let Some(min) = settings.auto_link_min else {
            return Ok(0);
        };
        let mut made = 0;
        for c in self.candidates(actor).await? {
            if c.score < min || c.decision != mpi::MatchDecision::AutoLink {
                continue;
            }
            let (ra, rb) = (
                self.store.regional_id_of(&c.a).await?,
                self.store.regional_id_of(&c.b).await?,
            );
            match (ra, rb) {
                (None, None) => {
                    self.enroll(actor, &[c.a.clone(), c.b.clone()]).await?;
                    made += 2;
                }
                (Some(id), None) => {
                    self.link(actor, &id, &c.b).await?;
                    made += 1;
                }
                (None, Some(id)) => {
                    self.link(actor, &id, &c.a).await?;
                    made += 1;
                }
                (Some(_), Some(_)) => {}
            }
        }
        Ok(made)
    }

    pub async fn record_consent(&self, actor: &Principal, input: ConsentInput) -> Result<Consent> {
        self.require_office(
            actor,
            audit::Action::ConsentRecord,
            input.regional_id.as_str(),
        )
        .await?;
        if let Some(until) = input.valid_until {
            if until < input.valid_from {
                return Err(ServiceError::Invalid(format!(
                    "同意の終了日 {until} が開始日 {} より前です (consent ends before it starts)",
                    input.valid_from
                )));
            }
        }
        if input.paper_form.trim().is_empty() && !input.implied {
            return Err(ServiceError::Invalid(
                "同意書の参照番号が必要です (a reference to the signed paper form is required)"
                    .into(),
            ));
        }
        if let ConsentScope::SelectedFacilities {
            disclosing,
            viewing,
        } = &input.scope
        {
            for f in disclosing.iter().chain(viewing) {
                if self.store.facility_details(f).await?.is_none() {
                    return Err(ServiceError::Invalid(format!(
                        "facility {f} is not registered"
                    )));
                }
            }
        }
        let previous = self.store.consents_of(&input.regional_id).await?;
        let now = self.now();
        let mut consent = Consent {
            id: 0,
            regional_id: input.regional_id.clone(),
            scope: input.scope,
            valid_from: input.valid_from,
            valid_until: input.valid_until,
            withdrawn_at: None,
            paper_form: input.paper_form,
            implied: input.implied,
            recorded_by: actor.actor(),
            recorded_at: now,
            replaces: previous
                .iter()
                .rev()
                .find(|c| c.withdrawn_at.is_none())
                .map(|c| c.id),
        };
        let detail = format!(
            "mode={} from={} implied={}",
            consent.scope.mode(),
            consent.valid_from,
            consent.implied
        );
        let r = self
            .store
            .record_consent(&consent)
            .await
            .map_err(Into::into);
        let r = r.map(|id| {
            consent.id = id;
            consent
        });
        self.audited(
            actor,
            audit::Action::ConsentRecord,
            Some(&input.regional_id),
            String::new(),
            detail,
            r,
        )
        .await
    }

    /// Withdraw a consent (撤回): effective at once.
    pub async fn withdraw_consent(&self, actor: &Principal, id: i64) -> Result<Consent> {
        self.require_office(actor, audit::Action::ConsentWithdraw, &id.to_string())
            .await?;
        let r = self
            .store
            .withdraw_consent(id, &actor.actor(), self.now())
            .await
            .map_err(Into::into);
        let patient = r.as_ref().ok().map(|c: &Consent| c.regional_id.clone());
        self.audited(
            actor,
            audit::Action::ConsentWithdraw,
            patient.as_ref(),
            id.to_string(),
            String::new(),
            r,
        )
        .await
    }

    pub async fn consents(&self, actor: &Principal, id: &RegionalId) -> Result<Vec<Consent>> {
        self.require_office(actor, audit::Action::AuditRead, id.as_str())
            .await?;
        Ok(self.store.consents_of(id).await?)
    }

    /// Check the whole audit chain, and that it still holds the entry the anchor kept
    /// outside the database names (which catches entries cut off at the end); a missing
    /// anchor is a finding once the log has (or must have had) entries.
    pub async fn audit_verify(&self, actor: &Principal) -> Result<VerifyReport> {
        self.audit_verify_against(actor, &[]).await
    }

    /// [`Network::audit_verify`], and that the chain still holds every head in `references`
    /// (a head copied off the server earlier, the newest entry a site holds): an attacker
    /// who rewrites or cuts the local log and its anchor cannot rewrite those.
    pub async fn audit_verify_against(
        &self,
        actor: &Principal,
        references: &[HeadReference],
    ) -> Result<VerifyReport> {
        self.require_office(actor, audit::Action::AuditRead, "verify")
            .await?;
        let report = self.verify_chain(references).await?;
        let mut e = self.event(actor, audit::Action::AuditRead);
        e.target = "verify".into();
        e.detail = format!(
            "{} entries, {} problems",
            report.entries,
            report.problems.len()
        );
        self.audit(e).await?;
        Ok(report)
    }

    pub(crate) async fn verify_chain(&self, references: &[HeadReference]) -> Result<VerifyReport> {
        const PAGE: usize = 10_000;
        let mut problems = Vec::new();
        let mut checked = 0u64;
        let mut prev: Option<audit::Entry> = None;
        loop {
            let page = self.store.audit_range(checked + 1, PAGE).await?;
            if page.is_empty() {
                break;
            }
            // Verify page by page, carrying the previous page's last entry as the link.
            let mut chain: Vec<audit::Entry> = Vec::with_capacity(page.len() + 1);
            if let Some(p) = prev.take() {
                chain.push(p);
            }
            let skip = chain.len();
            chain.extend(page);
            if let Err(e) = verify_from(&chain, skip) {
                problems.push(e);
                break;
            }
            checked = chain.last().map(|e| e.seq).unwrap_or(checked);
            prev = chain.pop();
            if chain.len() + 1 - skip < PAGE {
                break;
            }
        }
        let head = self.store.audit_head().await?.map(head_of);
        problems.extend(self.anchor_problem(head).await?);
        let newest = head.map(|h| h.seq);
        for r in references {
            match &r.head {
                None => problems.push(format!(
                    "{} holds no audit entries: it cannot vouch for this log",
                    r.source
                )),
                Some(h) => problems.extend(audit::check_reference(
                    &r.source,
                    h,
                    self.audit_entry(h.seq).await?.as_ref(),
                    newest,
                )),
            }
        }
        Ok(VerifyReport {
            entries: checked,
            head_hash: head.map(|h| store::packs::hex(&h.hash)),
            head,
            problems,
        })
    }

    /// The chain's entry `seq`, if the log holds it.
    async fn audit_entry(&self, seq: u64) -> Result<Option<audit::Entry>> {
        Ok(self
            .store
            .audit_range(seq, 1)
            .await?
            .into_iter()
            .find(|e| e.seq == seq))
    }

    /// The anchor outside the database against the chain whose newest entry is `head`.
    async fn anchor_problem(&self, head: Option<audit::Head>) -> Result<Option<String>> {
        let anchor = self.store.audit_anchor().await?.map(head_of);
        let at_anchor = match anchor {
            Some(a) => self.audit_entry(a.seq).await?,
            None => None,
        };
        // Every user and facility change is audited: a store holding either must have a log.
        let in_use = anchor.is_none()
            && head.is_none()
            && (!self.store.users().await?.is_empty()
                || !self.store.list_facilities().await?.is_empty()
                || !self.store.facilities().await?.is_empty());
        Ok(audit::check_anchor(
            head,
            anchor,
            at_anchor.as_ref(),
            in_use,
        ))
    }

    /// Who saw this patient (for the patient's own request: 開示請求).
    pub async fn who_saw(&self, actor: &Principal, id: &RegionalId) -> Result<Vec<audit::Entry>> {
        self.require_office(actor, audit::Action::AuditRead, id.as_str())
            .await?;
        let entries = self
            .store
            .audit_query(&AuditFilter {
                patient: Some(id.clone()),
                ..Default::default()
            })
            .await?
            .into_iter()
            .filter(|e| {
                matches!(
                    e.event.action,
                    audit::Action::View
                        | audit::Action::BreakGlass
                        | audit::Action::Export
                        | audit::Action::Download
                )
            })
            .collect();
        let mut e = self.event(actor, audit::Action::AuditRead);
        e.patient = Some(id.clone());
        e.target = "who saw".into();
        self.audit(e).await?;
        Ok(entries)
    }

    pub async fn user_activity(&self, actor: &Principal, login: &str) -> Result<Vec<audit::Entry>> {
        self.require_office(actor, audit::Action::AuditRead, login)
            .await?;
        let entries = self
            .store
            .audit_query(&AuditFilter {
                actor: Some(login.to_owned()),
                ..Default::default()
            })
            .await?;
        let mut e = self.event(actor, audit::Action::AuditRead);
        e.target = format!("activity of {login}");
        self.audit(e).await?;
        Ok(entries)
    }

    /// Emergency accesses to review (閲覧履歴の定期的確認).
    pub async fn emergency_review(&self, actor: &Principal) -> Result<Vec<audit::Entry>> {
        self.require_office(actor, audit::Action::AuditRead, "emergency review")
            .await?;
        let entries = self
            .store
            .audit_query(&AuditFilter {
                flagged_only: true,
                ..Default::default()
            })
            .await?;
        let mut e = self.event(actor, audit::Action::AuditRead);
        e.target = "emergency review".into();
        self.audit(e).await?;
        Ok(entries)
    }

    pub async fn facility_code(&self, code: &str) -> Result<FacilityCode> {
        FacilityCode::parse(code).map_err(|e| ServiceError::Invalid(e.to_string()))
    }
}

fn head_of((seq, hash): (u64, [u8; 32])) -> audit::Head {
    audit::Head { seq, hash }
}

/// Verify `chain` where the first `skip` entries were verified already.
fn verify_from(chain: &[audit::Entry], skip: usize) -> std::result::Result<(), String> {
    for (i, e) in chain.iter().enumerate().skip(skip) {
        let (expected_seq, prev_hash) = match i.checked_sub(1).and_then(|j| chain.get(j)) {
            Some(p) => (p.seq + 1, p.hash),
            None => (1, audit::GENESIS),
        };
        if e.seq != expected_seq {
            return Err(format!(
                "entry {expected_seq} is missing or out of order (found entry {} in its place)",
                e.seq
            ));
        }
        if e.prev_hash != prev_hash {
            return Err(format!(
                "entry {} does not follow entry {} (deleted, inserted or reordered)",
                e.seq,
                e.seq - 1
            ));
        }
        if audit::entry_hash(&e.prev_hash, e.seq, &e.event) != e.hash {
            return Err(format!(
                "entry {} was edited (its content does not match its hash)",
                e.seq
            ));
        }
    }
    Ok(())
}

/// How the office linked a reviewed candidate pair ([`Network::link_pair`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum PairLinked {
    /// Neither side had a regional ID: a new one was issued for both.
    Enrolled(RegionalId),
    /// One side had a regional ID: the other side joined it.
    Joined(RegionalId),
    /// Both sides were already under this regional ID: nothing to do.
    AlreadyLinked(RegionalId),
}

impl PairLinked {
    pub fn regional_id(&self) -> &RegionalId {
        match self {
            PairLinked::Enrolled(id) | PairLinked::Joined(id) | PairLinked::AlreadyLinked(id) => id,
        }
    }
}

/// A cheap look at the end of the audit chain, for a dashboard: the newest entries and the
/// anchor kept outside the database. The full walk is [`Network::audit_verify`].
#[derive(Debug, Clone, Serialize)]
pub struct AuditTail {
    pub entries: u64,
    /// How many of the newest entries were checked.
    pub checked: u64,
    pub problems: Vec<String>,
}

impl Network {
    /// Per facility: files, records, quarantined files and the last import (no patient data).
    pub async fn facility_overview(
        &self,
        actor: &Principal,
    ) -> Result<Vec<store::FacilityOverview>> {
        self.require_office(actor, audit::Action::AuditRead, "facility overview")
            .await?;
        Ok(self.store.facility_overview().await?)
    }

    /// The regional ID a local patient is linked to now, if any.
    pub async fn regional_id_of(
        &self,
        actor: &Principal,
        lp: &LocalPatient,
    ) -> Result<Option<RegionalId>> {
        let target = format!("{}/{}", lp.facility, lp.local_id);
        self.require_office(actor, audit::Action::Search, &target)
            .await?;
        let id = self.store.regional_id_of(lp).await?;
        let mut e = self.event(actor, audit::Action::Search);
        e.patient = id.clone();
        e.target = target;
        e.detail = "regional ID lookup".into();
        self.audit(e).await?;
        Ok(id)
    }

    /// Merges that involve this regional ID (either side), oldest first.
    pub async fn merges_of(&self, actor: &Principal, id: &RegionalId) -> Result<Vec<Merge>> {
        self.require_office(actor, audit::Action::AuditRead, id.as_str())
            .await?;
        Ok(self
            .store
            .merges()
            .await?
            .into_iter()
            .filter(|m| &m.from == id || &m.into == id)
            .collect())
    }

    /// The demographics the office needs to judge whether two local patients are one person
    /// (name, birth date, sex). Only for the office, and audited: these are patient data.
    pub async fn local_demographics(
        &self,
        actor: &Principal,
        patients: &[LocalPatient],
    ) -> Result<Vec<Option<model::Demographics>>> {
        self.require_office(actor, audit::Action::Search, "demographics for matching")
            .await?;
        let mut out = Vec::with_capacity(patients.len());
        for lp in patients {
            out.push(self.store.local_patient(lp).await?);
        }
        let mut e = self.event(actor, audit::Action::Search);
        e.target = "demographics for matching".into();
        // Which local patients, not what they are called: the log holds no names.
        e.detail = patients
            .iter()
            .map(|lp| format!("{}/{}", lp.facility, lp.local_id))
            .collect::<Vec<_>>()
            .join(" ");
        self.audit(e).await?;
        Ok(out)
    }

    /// Link a candidate pair the office judged to be one person: a new regional ID when
    /// neither side has one, otherwise the unlinked side joins the other. Two different
    /// regional IDs are refused: that is a merge, decided on the patient page.
    pub async fn link_pair(
        &self,
        actor: &Principal,
        a: &LocalPatient,
        b: &LocalPatient,
    ) -> Result<PairLinked> {
        let target = format!(
            "{}/{} ~ {}/{}",
            a.facility, a.local_id, b.facility, b.local_id
        );
        self.require_office(actor, audit::Action::Link, &target)
            .await?;
        if a == b {
            return Err(ServiceError::Invalid(
                "同じ患者どうしは連携できません (the two sides are the same local patient)".into(),
            ));
        }
        let (ra, rb) = (
            self.store.regional_id_of(a).await?,
            self.store.regional_id_of(b).await?,
        );
        match (ra, rb) {
            (None, None) => Ok(PairLinked::Enrolled(
                self.enroll(actor, &[a.clone(), b.clone()]).await?,
            )),
            (Some(id), None) => {
                self.link(actor, &id, b).await?;
                Ok(PairLinked::Joined(id))
            }
            (None, Some(id)) => {
                self.link(actor, &id, a).await?;
                Ok(PairLinked::Joined(id))
            }
            (Some(x), Some(y)) if x == y => Ok(PairLinked::AlreadyLinked(x)),
            (Some(x), Some(y)) => Err(ServiceError::Conflict(format!(
                "両方とも別の地域共通IDに連携済みです: {x} と {y}。患者画面で統合してください (both sides already have different regional IDs, {x} and {y}: merge them on the patient page)"
            ))),
        }
    }

    /// The newest `last` entries of the audit chain and the outside anchor, checked: what a
    /// dashboard can afford on every load.
    pub async fn audit_tail(&self, actor: &Principal, last: u64) -> Result<AuditTail> {
        self.require_office(actor, audit::Action::AuditRead, "verify tail")
            .await?;
        // Not itself audited: it runs on every dashboard load and shows only a count and OK
        // or broken; the full verification below is audited.
        let mut problems = Vec::new();
        let head = self.store.audit_head().await?.map(head_of);
        let entries = head.map(|h| h.seq).unwrap_or(0);
        if entries == 0 {
            problems.extend(self.anchor_problem(head).await?);
            return Ok(AuditTail {
                entries,
                checked: 0,
                problems,
            });
        }
        // One entry before the window links the first checked entry to the rest of the chain.
        let from = entries.saturating_sub(last).max(1);
        let chain = self
            .store
            .audit_range(from, (entries + 1 - from) as usize)
            .await?;
        let skip = usize::from(from > 1);
        if let Err(p) = verify_from(&chain, skip) {
            problems.push(p);
        }
        problems.extend(self.anchor_problem(head).await?);
        Ok(AuditTail {
            entries,
            checked: chain.len().saturating_sub(skip) as u64,
            problems,
        })
    }
}

impl Network {
    /// Refuse (and audit the refusal) unless the principal runs the network: the office
    /// screens call this first, so a clinician who opens one is logged like any other refusal.
    pub async fn require_office_screen(&self, actor: &Principal, screen: &str) -> Result<()> {
        self.require_office(actor, audit::Action::AuditRead, screen)
            .await
    }
}
