//! The access gate (アクセス制御): one pure function, [`decide`], says whether a user, acting
//! for a facility, may see one record of one patient for one purpose — and if not, why.
//!
//! No I/O and no clock: the caller loads the user, the facilities, the patient's consents and
//! links, and passes `now`. The same request always gives the same [`Decision`]. The caller
//! writes one audit entry per decision; [`Request::audit_entry`] gathers everything that entry
//! needs.
//!
//! # Order of the checks (precedence of refusal reasons)
//!
//! The checks run in a fixed order and the first one that fails is the reason given, so
//! a refusal always names the most fundamental problem. Checks about the requester come
//! first (they do not depend on the patient, so a refusal for an invalid requester reveals
//! nothing about the patient); then whether the record belongs to the patient at all; then
//! the network's fixed rules; the patient's own choice (consent) comes last.
//!
//! 1. [`Refusal::UserInactive`] — the account is disabled.
//! 2. [`Refusal::UserNotAtFacility`] — the user does not work for the facility they act for.
//! 3. [`Refusal::ViewingFacilityNotParticipating`] — that facility is suspended or has left.
//! 4. [`Refusal::FacilityDoesNotView`] — that facility is not a viewing facility (閲覧施設).
//! 5. [`Refusal::NotLinked`] — no link, active at `now`, from the record's (source facility,
//!    local patient ID) to the regional ID. Linkage is the first check about the patient:
//!    an unlink (or a link to another regional ID) hides the record at once, whatever the
//!    purpose, consent or break-the-glass.
//! 6. [`Refusal::SourceFacilityNotParticipating`] — the record's facility is suspended or
//!    has left: its records are hidden from the network.
//! 7. [`Refusal::SourceFacilityDoesNotDisclose`] — it is not a disclosing facility (開示施設).
//! 8. [`Refusal::AdministrationPurposeSeesNoClinicalData`] — purpose is administration and
//!    the category is anything but [`RecordCategory::BasicInfo`].
//! 9. [`Refusal::ProfessionNotPermitted`] — the permission matrix does not give the user's
//!    profession this category. This holds for every purpose, emergency included.
//! 10. For [`Purpose::Emergency`] only, the break-the-glass checks:
//!     [`Refusal::BreakGlassNotAllowedForProfession`], [`Refusal::BreakGlassRequired`],
//!     [`Refusal::BreakGlassWithoutReason`], [`Refusal::BreakGlassNotStarted`],
//!     [`Refusal::BreakGlassExpired`]. If they pass, the request is allowed *without
//!     consent* and flagged for review.
//! 11. For care and administration, the consent checks: first whether a consent is in force
//!     ([`Refusal::NoConsent`], [`Refusal::ConsentWithdrawn`],
//!     [`Refusal::ImpliedConsentDisabled`], [`Refusal::ConsentNotYetValid`],
//!     [`Refusal::ConsentExpired`]), then whether its scope admits this request
//!     ([`Refusal::ViewingFacilityNotSelected`], [`Refusal::DisclosingFacilityNotSelected`],
//!     [`Refusal::DoctorNotSelected`]).
//!
//! # Decisions made here
//!
//! * **A facility's own records are gated too.** A facility looking at its own patients'
//!   records *through the network* goes through every check above, consent included; its
//!   own electronic record system is the place to read them without the network's consent.
//!   Otherwise a withdrawal would not hide "everything at once".
//! * **Administration sees basic information only**, and only with consent in force and a
//!   profession the matrix allows for [`RecordCategory::BasicInfo`] (by default operators
//!   and administrators have no categories, so a network that wants its office to see
//!   patients' basic information grants that cell explicitly). Linking IDs and recording
//!   consent work on the MPI's demographics, not on records through this gate.
//! * **Break-the-glass** ([`Purpose::Emergency`]) needs a [`BreakGlass`] with a non-blank
//!   reason, within `[started_at, min(expires_at, started_at + Settings::break_glass_minutes))`,
//!   by a licensed clinical profession ([`BREAK_GLASS_PROFESSIONS`]). It replaces consent —
//!   also a withdrawn one and a consent scope that does not select the viewer — but never
//!   linkage, participation, disclosure/viewing roles or the permission matrix. It is always
//!   `flagged_for_review`. A `break_glass` attached to a care or administration request is
//!   ignored (the request needs consent like any other).
//! * See [`consent_in_force`] for which consent governs and how a withdrawal acts.
//! * **What the viewer is told** is [`explain`], not the refusals of single records: the
//!   reasons that follow from the requester, the network's rules and the patient's consent
//!   as a whole, each once. A refusal that follows from where the patient has records (not
//!   linked any more, a source facility suspended or not disclosing, a disclosing facility
//!   the patient did not select) would tell the viewer where the patient is treated, so it
//!   goes to the audit log only.
//! * **Starting break-the-glass** is its own act ([`may_break_glass`]: the requester checks
//!   and a licensed profession); a request for [`Purpose::Emergency`] only uses a window
//!   already started.

use model::{
    Consent, ConsentScope, Facility, FacilityCode, FacilityStatus, Link, PermissionMatrix,
    Profession, Purpose, RecordCategory, RegionalId, UnixTime, User,
};
use serde::{Deserialize, Serialize};

mod kind;

pub use kind::category_of_kind;

/// Network-wide options of the gate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Count implied consent (黙示同意). Off by default: a [`Consent`] with `implied = true`
    /// then does not count at all.
    pub implied_consent: bool,
    /// Longest break-the-glass session in minutes, whatever `BreakGlass::expires_at` says.
    /// Default 60. Zero or less makes every break-the-glass expired.
    pub break_glass_minutes: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            implied_consent: false,
            break_glass_minutes: 60,
        }
    }
}

/// Professions that may break the glass: the licensed clinical professions (医師, 歯科医師,
/// 薬剤師, 看護師, 保健師, 助産師).
pub const BREAK_GLASS_PROFESSIONS: &[Profession] = &[
    Profession::Doctor,
    Profession::Dentist,
    Profession::Pharmacist,
    Profession::Nurse,
    Profession::PublicHealthNurse,
    Profession::Midwife,
];

/// Who asks.
#[derive(Debug, Clone, Copy)]
pub struct Viewer<'a> {
    pub user: &'a User,
    /// The facility the user acts for in this session (one of `user.facilities`).
    pub acting_for: &'a Facility,
}

/// About whom: the regional ID and its whole history.
#[derive(Debug, Clone, Copy)]
pub struct Patient<'a> {
    pub regional_id: &'a RegionalId,
    /// The patient's consents, history included. Consents of other regional IDs are ignored.
    pub consents: &'a [Consent],
    /// Links to the regional ID, ended ones included. Links to other regional IDs are
    /// ignored.
    pub links: &'a [Link],
}

/// What: one record as its facility disclosed it.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    /// The disclosing facility (the record's SS-MIX2 root).
    pub source: &'a Facility,
    /// The patient ID at that facility (PID-3, the SS-MIX2 patient folder).
    pub local_id: &'a str,
    pub category: RecordCategory,
}

/// A break-the-glass declaration (緊急時閲覧): who declared it is the request's user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreakGlass {
    /// Why (free text, required; e.g. 「救急搬送、意識障害」).
    pub reason: String,
    pub started_at: UnixTime,
    /// Requested end; capped at `started_at + Settings::break_glass_minutes`.
    pub expires_at: UnixTime,
}

impl BreakGlass {
    /// The instant the session ends under `settings` (exclusive).
    pub fn effective_expiry(&self, settings: &Settings) -> UnixTime {
        let cap = self
            .started_at
            .plus_seconds(settings.break_glass_minutes.saturating_mul(60));
        self.expires_at.min(cap)
    }
}

/// One question to the gate.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub viewer: Viewer<'a>,
    pub patient: Patient<'a>,
    pub record: Record<'a>,
    pub purpose: Purpose,
    /// Needed for [`Purpose::Emergency`], ignored otherwise.
    pub break_glass: Option<&'a BreakGlass>,
    pub now: UnixTime,
}

/// Why a request was allowed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "basis", rename_all = "snake_case")]
pub enum Basis {
    /// The patient's consent in force at `now`.
    Consent {
        consent_id: i64,
        /// [`ConsentScope::mode`] of that consent.
        mode: String,
        implied: bool,
    },
    /// Break-the-glass emergency access, without consent.
    BreakGlass {
        reason: String,
        started_at: UnixTime,
        /// The effective end (capped by [`Settings::break_glass_minutes`]).
        expires_at: UnixTime,
    },
}

/// The gate's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Decision {
    Allowed {
        basis: Basis,
        /// To be reviewed later by the network office (every break-the-glass access).
        flagged_for_review: bool,
    },
    Refused(Refusal),
}

impl Decision {
    pub fn is_allowed(&self) -> bool {
        matches!(self, Decision::Allowed { .. })
    }

    pub fn refusal(&self) -> Option<&Refusal> {
        match self {
            Decision::Refused(refusal) => Some(refusal),
            Decision::Allowed { .. } => None,
        }
    }

    pub fn basis(&self) -> Option<&Basis> {
        match self {
            Decision::Allowed { basis, .. } => Some(basis),
            Decision::Refused(_) => None,
        }
    }

    pub fn flagged_for_review(&self) -> bool {
        matches!(
            self,
            Decision::Allowed {
                flagged_for_review: true,
                ..
            }
        )
    }

    /// `"allowed"` or the refusal's [`Refusal::code`].
    pub fn code(&self) -> &'static str {
        match self {
            Decision::Allowed { .. } => "allowed",
            Decision::Refused(refusal) => refusal.code(),
        }
    }
}

/// Why a request was refused. `Display` gives Japanese then English; [`Refusal::code`] a
/// stable snake_case code for the audit log and the API (also the serde tag).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum Refusal {
    #[error("利用者アカウントが無効です (user account inactive)")]
    UserInactive,
    #[error(
        "利用者はこの施設に所属していません (user does not work for the facility they act for)"
    )]
    UserNotAtFacility,
    #[error("閲覧する施設は参加中ではありません (viewing facility is suspended or has left the network)")]
    ViewingFacilityNotParticipating,
    #[error("閲覧施設ではありません (facility is not a viewing facility)")]
    FacilityDoesNotView,
    #[error(
        "開示元の施設は参加中ではありません (source facility is suspended or has left the network)"
    )]
    SourceFacilityNotParticipating,
    #[error("開示施設ではありません (source facility does not disclose)")]
    SourceFacilityDoesNotDisclose,
    #[error("この記録は地域IDに連携されていません (record not linked to this regional ID)")]
    NotLinked,
    #[error("同意がありません (no consent)")]
    NoConsent,
    #[error("同意は撤回されています (consent withdrawn)")]
    ConsentWithdrawn {
        consent_id: i64,
        withdrawn_at: UnixTime,
    },
    #[error("同意の有効期間が始まっていません (consent not yet valid)")]
    ConsentNotYetValid { consent_id: i64 },
    #[error("同意の有効期間が終わっています (consent expired)")]
    ConsentExpired { consent_id: i64 },
    #[error("黙示同意はこのネットワークでは認められていません (implied consent is disabled)")]
    ImpliedConsentDisabled { consent_id: i64 },
    #[error(
        "閲覧する施設は患者に選択されていません (viewing facility not selected by the patient)"
    )]
    ViewingFacilityNotSelected { consent_id: i64 },
    #[error("開示元の施設は患者に選択されていません (source facility not selected for disclosure by the patient)")]
    DisclosingFacilityNotSelected { consent_id: i64 },
    #[error("この利用者は患者に選択されていません (user not selected by the patient)")]
    DoctorNotSelected { consent_id: i64 },
    #[error("職種「{}」には「{}」の閲覧権限がありません (profession {profession} may not view {category})", profession.label_ja(), category.label_ja())]
    ProfessionNotPermitted {
        profession: Profession,
        category: RecordCategory,
    },
    #[error(
        "運用管理の目的では診療情報を閲覧できません (administration purpose sees no clinical data)"
    )]
    AdministrationPurposeSeesNoClinicalData,
    #[error("緊急時閲覧が開始されていません — 理由を入力して開始してください (emergency access has not been started for this patient: start it with a reason)")]
    BreakGlassRequired,
    #[error("緊急時閲覧の理由がありません (break-the-glass without reason)")]
    BreakGlassWithoutReason,
    #[error("緊急時閲覧はまだ始まっていません (break-the-glass not started yet)")]
    BreakGlassNotStarted,
    #[error("緊急時閲覧の期限が切れています (break-the-glass expired)")]
    BreakGlassExpired,
    #[error("この職種は緊急時閲覧を使えません (profession may not break the glass)")]
    BreakGlassNotAllowedForProfession { profession: Profession },
}

impl Refusal {
    /// Stable snake_case code for the audit log and the API.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::UserInactive => "user_inactive",
            Refusal::UserNotAtFacility => "user_not_at_facility",
            Refusal::ViewingFacilityNotParticipating => "viewing_facility_not_participating",
            Refusal::FacilityDoesNotView => "facility_does_not_view",
            Refusal::SourceFacilityNotParticipating => "source_facility_not_participating",
            Refusal::SourceFacilityDoesNotDisclose => "source_facility_does_not_disclose",
            Refusal::NotLinked => "not_linked",
            Refusal::NoConsent => "no_consent",
            Refusal::ConsentWithdrawn { .. } => "consent_withdrawn",
            Refusal::ConsentNotYetValid { .. } => "consent_not_yet_valid",
            Refusal::ConsentExpired { .. } => "consent_expired",
            Refusal::ImpliedConsentDisabled { .. } => "implied_consent_disabled",
            Refusal::ViewingFacilityNotSelected { .. } => "viewing_facility_not_selected",
            Refusal::DisclosingFacilityNotSelected { .. } => "disclosing_facility_not_selected",
            Refusal::DoctorNotSelected { .. } => "doctor_not_selected",
            Refusal::ProfessionNotPermitted { .. } => "profession_not_permitted",
            Refusal::AdministrationPurposeSeesNoClinicalData => {
                "administration_purpose_sees_no_clinical_data"
            }
            Refusal::BreakGlassRequired => "break_glass_required",
            Refusal::BreakGlassWithoutReason => "break_glass_without_reason",
            Refusal::BreakGlassNotStarted => "break_glass_not_started",
            Refusal::BreakGlassExpired => "break_glass_expired",
            Refusal::BreakGlassNotAllowedForProfession { .. } => {
                "break_glass_not_allowed_for_profession"
            }
        }
    }

    /// Would starting break-the-glass lift this refusal? It replaces consent (and needs a
    /// started, unexpired window); it never lifts the requester's, the purpose's, the
    /// matrix's or the record's own refusals.
    pub fn lifted_by_break_glass(&self) -> bool {
        matches!(
            self,
            Refusal::NoConsent
                | Refusal::ConsentWithdrawn { .. }
                | Refusal::ConsentNotYetValid { .. }
                | Refusal::ConsentExpired { .. }
                | Refusal::ImpliedConsentDisabled { .. }
                | Refusal::ViewingFacilityNotSelected { .. }
                | Refusal::DisclosingFacilityNotSelected { .. }
                | Refusal::DoctorNotSelected { .. }
                | Refusal::BreakGlassRequired
                | Refusal::BreakGlassExpired
        )
    }

    /// The consent the refusal is about, if any.
    pub fn consent_id(&self) -> Option<i64> {
        match self {
            Refusal::ConsentWithdrawn { consent_id, .. }
            | Refusal::ConsentNotYetValid { consent_id }
            | Refusal::ConsentExpired { consent_id }
            | Refusal::ImpliedConsentDisabled { consent_id }
            | Refusal::ViewingFacilityNotSelected { consent_id }
            | Refusal::DisclosingFacilityNotSelected { consent_id }
            | Refusal::DoctorNotSelected { consent_id } => Some(*consent_id),
            _ => None,
        }
    }
}

fn participating(f: &Facility) -> bool {
    f.status == FacilityStatus::Participating
}

/// A link active at `now`: made at or before `now`, not ended at or before `now`.
fn link_active_at(link: &Link, now: UnixTime) -> bool {
    link.linked_at <= now && link.ended_at.is_none_or(|e| e > now)
}

/// The link, active at `now`, that puts the record under the patient's regional ID.
pub fn active_link<'a>(
    patient: &Patient<'a>,
    record: &Record<'_>,
    now: UnixTime,
) -> Option<&'a Link> {
    patient.links.iter().find(|l| {
        &l.regional_id == patient.regional_id
            && l.patient.facility == record.source.code
            && l.patient.local_id == record.local_id
            && link_active_at(l, now)
    })
}

/// Newest first: larger `recorded_at`, then larger `id`.
fn newer(a: &Consent, b: &Consent) -> bool {
    (a.recorded_at, a.id) > (b.recorded_at, b.id)
}

/// The consent that governs the patient's records at `now`, or why there is none.
///
/// * Only consents of `patient.regional_id` recorded at or before `now` exist at `now`.
/// * **Withdrawal (撤回) acts at once and on the whole history**: a withdrawal at `w ≤ now`
///   revokes every consent recorded at or before `w`, so an older consent never comes back
///   when a newer one is withdrawn. Only a consent recorded after the latest withdrawal
///   (a new consent form) can be in force again.
/// * Implied consents (黙示同意) count only when [`Settings::implied_consent`] is on.
/// * A consent is *superseded* once a newer counting consent that `replaces` it has started
///   (`valid_from ≤ today`); until then the old one goes on (no gap on a change).
/// * Of the remaining consents in force (started, not past `valid_until`, dates in JST),
///   the newest governs.
///
/// Refusal when none governs: [`Refusal::NoConsent`] if the patient never consented;
/// [`Refusal::ConsentWithdrawn`] if a withdrawal revoked all; [`Refusal::ImpliedConsentDisabled`]
/// if only implied consents remain and they are off; otherwise the state of the newest
/// remaining consent, [`Refusal::ConsentNotYetValid`] or [`Refusal::ConsentExpired`].
pub fn consent_in_force<'a>(
    patient: &Patient<'a>,
    now: UnixTime,
    settings: &Settings,
) -> Result<&'a Consent, Refusal> {
    let today = now.date_jst();
    let consents: &'a [Consent] = patient.consents;
    let known = || {
        consents
            .iter()
            .filter(move |c| &c.regional_id == patient.regional_id && c.recorded_at <= now)
    };
    if known().next().is_none() {
        return Err(Refusal::NoConsent);
    }
    // The latest withdrawal that has taken effect.
    let last_withdrawal: Option<(&Consent, UnixTime)> = known()
        .filter_map(|c| c.withdrawn_at.filter(|w| *w <= now).map(|w| (c, w)))
        .max_by_key(|(c, w)| (*w, c.recorded_at, c.id));
    let remaining = || {
        known().filter(move |c| {
            c.withdrawn_at.is_none_or(|w| w > now)
                && last_withdrawal.is_none_or(|(_, w)| c.recorded_at > w)
        })
    };
    if remaining().next().is_none() {
        let (c, w) = last_withdrawal.expect("known consents all revoked by a withdrawal");
        return Err(Refusal::ConsentWithdrawn {
            consent_id: c.id,
            withdrawn_at: w,
        });
    }
    let counting = || remaining().filter(move |c| !c.implied || settings.implied_consent);
    let Some(newest) = counting().reduce(|a, b| if newer(b, a) { b } else { a }) else {
        let newest_implied = remaining()
            .reduce(|a, b| if newer(b, a) { b } else { a })
            .expect("remaining is not empty");
        return Err(Refusal::ImpliedConsentDisabled {
            consent_id: newest_implied.id,
        });
    };
    let started = |c: &Consent| c.valid_from <= today;
    let superseded =
        |c: &Consent| counting().any(|n| n.replaces == Some(c.id) && newer(n, c) && started(n));
    let governing = counting()
        .filter(|c| c.in_force(now) && !superseded(c))
        .reduce(|a, b| if newer(b, a) { b } else { a });
    match governing {
        Some(c) => Ok(c),
        None if !started(newest) => Err(Refusal::ConsentNotYetValid {
            consent_id: newest.id,
        }),
        None => Err(Refusal::ConsentExpired {
            consent_id: newest.id,
        }),
    }
}

/// Whether the consent's scope admits this viewer (the viewing facility or the doctor).
fn scope_admits_viewer(consent: &Consent, viewer: &Viewer<'_>) -> Result<(), Refusal> {
    let consent_id = consent.id;
    match &consent.scope {
        ConsentScope::AllFacilities => Ok(()),
        ConsentScope::SelectedFacilities { viewing, .. } => {
            if viewing.contains(&viewer.acting_for.code) {
                Ok(())
            } else {
                Err(Refusal::ViewingFacilityNotSelected { consent_id })
            }
        }
        ConsentScope::SelectedDoctors { doctors } => {
            if doctors.contains(&viewer.user.login) {
                Ok(())
            } else {
                Err(Refusal::DoctorNotSelected { consent_id })
            }
        }
    }
}

/// Whether the consent's scope admits the record's facility (checked after the viewer).
fn scope_admits_source(consent: &Consent, record: &Record<'_>) -> Result<(), Refusal> {
    match &consent.scope {
        ConsentScope::SelectedFacilities { disclosing, .. }
            if !disclosing.contains(&record.source.code) =>
        {
            Err(Refusal::DisclosingFacilityNotSelected {
                consent_id: consent.id,
            })
        }
        _ => Ok(()),
    }
}

/// Decide one request. Pure, total and deterministic; the checks and their order are
/// described in the [crate documentation](crate).
pub fn decide(req: &Request<'_>, matrix: &PermissionMatrix, settings: &Settings) -> Decision {
    match check(req, matrix, settings) {
        Ok((basis, flagged_for_review)) => Decision::Allowed {
            basis,
            flagged_for_review,
        },
        Err(refusal) => Decision::Refused(refusal),
    }
}

fn check(
    req: &Request<'_>,
    matrix: &PermissionMatrix,
    settings: &Settings,
) -> Result<(Basis, bool), Refusal> {
    let user = req.viewer.user;
    let record = &req.record;

    check_requester(&req.viewer)?;

    // The record belongs to this patient, from a facility that shares it.
    if active_link(&req.patient, record, req.now).is_none() {
        return Err(Refusal::NotLinked);
    }
    if !participating(record.source) {
        return Err(Refusal::SourceFacilityNotParticipating);
    }
    if !record.source.discloses {
        return Err(Refusal::SourceFacilityDoesNotDisclose);
    }

    // The network's fixed rules.
    if req.purpose == Purpose::Administration && record.category != RecordCategory::BasicInfo {
        return Err(Refusal::AdministrationPurposeSeesNoClinicalData);
    }
    if !matrix.allows(user.profession, record.category) {
        return Err(Refusal::ProfessionNotPermitted {
            profession: user.profession,
            category: record.category,
        });
    }

    match req.purpose {
        Purpose::Emergency => Ok((
            check_break_glass(user, req.break_glass, req.now, settings)?,
            true,
        )),
        Purpose::Care | Purpose::Administration => {
            let consent = consent_in_force(&req.patient, req.now, settings)?;
            scope_admits_viewer(consent, &req.viewer)?;
            scope_admits_source(consent, record)?;
            Ok((
                Basis::Consent {
                    consent_id: consent.id,
                    mode: consent.scope.mode().to_owned(),
                    implied: consent.implied,
                },
                false,
            ))
        }
    }
}

/// Checks 1–4: the requester alone (nothing about the patient).
fn check_requester(viewer: &Viewer<'_>) -> Result<(), Refusal> {
    let (user, acting) = (viewer.user, viewer.acting_for);
    if !user.active {
        return Err(Refusal::UserInactive);
    }
    if !user.facilities.contains(&acting.code) {
        return Err(Refusal::UserNotAtFacility);
    }
    if !participating(acting) {
        return Err(Refusal::ViewingFacilityNotParticipating);
    }
    if !acting.views {
        return Err(Refusal::FacilityDoesNotView);
    }
    Ok(())
}

/// The break-the-glass checks of an emergency request.
fn check_break_glass(
    user: &User,
    break_glass: Option<&BreakGlass>,
    now: UnixTime,
    settings: &Settings,
) -> Result<Basis, Refusal> {
    if !BREAK_GLASS_PROFESSIONS.contains(&user.profession) {
        return Err(Refusal::BreakGlassNotAllowedForProfession {
            profession: user.profession,
        });
    }
    let bg = break_glass.ok_or(Refusal::BreakGlassRequired)?;
    if bg.reason.trim().is_empty() {
        return Err(Refusal::BreakGlassWithoutReason);
    }
    if now < bg.started_at {
        return Err(Refusal::BreakGlassNotStarted);
    }
    let expires_at = bg.effective_expiry(settings);
    if now >= expires_at {
        return Err(Refusal::BreakGlassExpired);
    }
    Ok(Basis::BreakGlass {
        reason: bg.reason.clone(),
        started_at: bg.started_at,
        expires_at,
    })
}

/// May this user start a break-the-glass window at all? The requester's checks and the
/// profession ([`BREAK_GLASS_PROFESSIONS`]); nothing about the patient.
pub fn may_break_glass(viewer: &Viewer<'_>) -> Result<(), Refusal> {
    check_requester(viewer)?;
    if !BREAK_GLASS_PROFESSIONS.contains(&viewer.user.profession) {
        return Err(Refusal::BreakGlassNotAllowedForProfession {
            profession: viewer.user.profession,
        });
    }
    Ok(())
}

/// A question about a patient as a whole, without a record: what [`explain`] answers.
#[derive(Debug, Clone, Copy)]
pub struct Question<'a> {
    pub viewer: Viewer<'a>,
    pub patient: Patient<'a>,
    pub purpose: Purpose,
    pub break_glass: Option<&'a BreakGlass>,
    pub now: UnixTime,
}

/// One reason [`explain`] gives, with the categories it withholds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Explanation {
    pub refusal: Refusal,
    /// The categories this reason withholds (for [`Refusal::ProfessionNotPermitted`], every
    /// category the matrix denies the profession; its `category` field names the first).
    pub categories: Vec<RecordCategory>,
}

/// Why records of this patient are withheld from this viewer, as far as it can be said
/// *without looking at the patient's records*: from the requester (checks 1–4), the
/// network's rules (purpose, permission matrix) and the patient's consent as a whole
/// (whether one is in force, whether its scope admits this viewer), or the break-the-glass
/// window. Reasons that follow from where the patient has records — not linked any more,
/// a source facility suspended or not disclosing, a disclosing facility the patient did not
/// select — are never given: telling them would tell the viewer where the patient is
/// treated. Those refusals are in the audit log only.
///
/// Each reason appears once. A requester refusal covers every category and is the only
/// reason; otherwise the purpose and matrix reasons come first, then the consent (or
/// break-the-glass) reason for the categories left, if any are left.
pub fn explain(
    q: &Question<'_>,
    matrix: &PermissionMatrix,
    settings: &Settings,
) -> Vec<Explanation> {
    if let Err(refusal) = check_requester(&q.viewer) {
        return vec![Explanation {
            refusal,
            categories: RecordCategory::ALL.to_vec(),
        }];
    }
    let mut out = Vec::new();
    let mut left: Vec<RecordCategory> = RecordCategory::ALL.to_vec();
    if q.purpose == Purpose::Administration {
        let (basic, clinical): (Vec<_>, Vec<_>) =
            left.iter().partition(|c| **c == RecordCategory::BasicInfo);
        out.push(Explanation {
            refusal: Refusal::AdministrationPurposeSeesNoClinicalData,
            categories: clinical,
        });
        left = basic;
    }
    let profession = q.viewer.user.profession;
    let (allowed, denied): (Vec<_>, Vec<_>) =
        left.iter().partition(|c| matrix.allows(profession, **c));
    if let Some(first) = denied.first() {
        out.push(Explanation {
            refusal: Refusal::ProfessionNotPermitted {
                profession,
                category: *first,
            },
            categories: denied,
        });
    }
    if allowed.is_empty() {
        return out;
    }
    let whole = match q.purpose {
        Purpose::Emergency => {
            check_break_glass(q.viewer.user, q.break_glass, q.now, settings).map(|_| ())
        }
        Purpose::Care | Purpose::Administration => consent_in_force(&q.patient, q.now, settings)
            .and_then(|c| scope_admits_viewer(c, &q.viewer)),
    };
    if let Err(refusal) = whole {
        out.push(Explanation {
            refusal,
            categories: allowed,
        });
    }
    out
}

/// Everything one audit entry of a gate decision needs, owned and serializable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub at: UnixTime,
    pub user_login: String,
    pub profession: Profession,
    pub acting_facility: FacilityCode,
    pub regional_id: RegionalId,
    pub source_facility: FacilityCode,
    pub local_id: String,
    pub category: RecordCategory,
    pub purpose: Purpose,
    /// The break-the-glass declaration sent with the request, if any (kept also when the
    /// request was refused).
    pub break_glass: Option<BreakGlass>,
    /// `"allowed"` or the refusal code.
    pub code: String,
    /// Human-readable reason (Japanese and English) for refusals; empty when allowed.
    pub message: String,
    pub decision: Decision,
}

impl Request<'_> {
    /// The audit entry of `decision` for this request.
    pub fn audit_entry(&self, decision: &Decision) -> AuditEntry {
        AuditEntry {
            at: self.now,
            user_login: self.viewer.user.login.clone(),
            profession: self.viewer.user.profession,
            acting_facility: self.viewer.acting_for.code.clone(),
            regional_id: self.patient.regional_id.clone(),
            source_facility: self.record.source.code.clone(),
            local_id: self.record.local_id.to_owned(),
            category: self.record.category,
            purpose: self.purpose,
            break_glass: self.break_glass.cloned(),
            code: decision.code().to_owned(),
            message: decision
                .refusal()
                .map(|r| r.to_string())
                .unwrap_or_default(),
            decision: decision.clone(),
        }
    }
}

#[cfg(test)]
mod tests;
