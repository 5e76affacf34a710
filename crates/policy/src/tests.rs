//! One test per rule, on a small fixed world: a hospital (A), a clinic (B) and a pharmacy
//! (C), one patient linked at A and B, a doctor at B.

use std::collections::BTreeSet;

use model::{Date, FacilityKind, LocalPatient};

use super::*;

const DAY: i64 = 86_400;

fn code(n: u32) -> FacilityCode {
    FacilityCode::parse(&format!("04000000{n:02}")).unwrap()
}

fn facility(n: u32, kind: FacilityKind) -> Facility {
    Facility {
        code: code(n),
        name: format!("facility {n}"),
        kind,
        area: "仙台".into(),
        status: FacilityStatus::Participating,
        discloses: true,
        views: true,
    }
}

/// 2025-04-01 12:00 JST.
fn t0() -> UnixTime {
    UnixTime::parse_rfc3339("2025-04-01T03:00:00Z").unwrap()
}

fn date(s: &str) -> Date {
    Date::parse(s).unwrap()
}

struct World {
    a: Facility,
    b: Facility,
    c: Facility,
    user: User,
    rid: RegionalId,
    consents: Vec<Consent>,
    links: Vec<Link>,
    matrix: PermissionMatrix,
    settings: Settings,
    now: UnixTime,
}

fn consent(id: i64, rid: &RegionalId, scope: ConsentScope) -> Consent {
    Consent {
        id,
        regional_id: rid.clone(),
        scope,
        valid_from: date("2025-01-01"),
        valid_until: None,
        withdrawn_at: None,
        paper_form: format!("form-{id}"),
        implied: false,
        recorded_by: "office".into(),
        recorded_at: UnixTime(t0().0 - 100 * DAY),
        replaces: None,
    }
}

fn link(rid: &RegionalId, f: &Facility, local: &str) -> Link {
    Link {
        regional_id: rid.clone(),
        patient: LocalPatient {
            facility: f.code.clone(),
            local_id: local.into(),
        },
        linked_at: UnixTime(t0().0 - 200 * DAY),
        linked_by: "office".into(),
        ended_at: None,
        ended_by: None,
    }
}

impl World {
    fn new() -> World {
        let a = facility(1, FacilityKind::Hospital);
        let b = facility(2, FacilityKind::Clinic);
        let c = facility(3, FacilityKind::Pharmacy);
        let rid = RegionalId::issue(4, 1);
        let user = User {
            login: "dr.sato".into(),
            display_name: "佐藤 医師".into(),
            profession: Profession::Doctor,
            facilities: vec![b.code.clone()],
            active: true,
        };
        let consents = vec![consent(1, &rid, ConsentScope::AllFacilities)];
        let links = vec![link(&rid, &a, "A-100"), link(&rid, &b, "B-7")];
        World {
            a,
            b,
            c,
            user,
            rid,
            consents,
            links,
            matrix: PermissionMatrix::default(),
            settings: Settings::default(),
            now: t0(),
        }
    }

    /// The doctor at B looks at A's record `A-100` of `category` for `purpose`.
    fn ask_with(
        &self,
        purpose: Purpose,
        category: RecordCategory,
        break_glass: Option<&BreakGlass>,
    ) -> Decision {
        let req = Request {
            viewer: Viewer {
                user: &self.user,
                acting_for: &self.b,
            },
            patient: Patient {
                regional_id: &self.rid,
                consents: &self.consents,
                links: &self.links,
            },
            record: Record {
                source: &self.a,
                local_id: "A-100",
                category,
            },
            purpose,
            break_glass,
            now: self.now,
        };
        decide(&req, &self.matrix, &self.settings)
    }

    fn ask(&self) -> Decision {
        self.ask_with(Purpose::Care, RecordCategory::Prescriptions, None)
    }

    fn emergency(&self, bg: &BreakGlass) -> Decision {
        self.ask_with(Purpose::Emergency, RecordCategory::Prescriptions, Some(bg))
    }

    fn break_glass(&self) -> BreakGlass {
        BreakGlass {
            reason: "救急搬送、意識障害".into(),
            started_at: UnixTime(self.now.0 - 600),
            expires_at: UnixTime(self.now.0 + 3000),
        }
    }
}

fn refused(d: &Decision) -> &Refusal {
    d.refusal()
        .unwrap_or_else(|| panic!("expected a refusal, got {d:?}"))
}

fn codes<const N: usize>(set: [&FacilityCode; N]) -> BTreeSet<FacilityCode> {
    set.into_iter().cloned().collect()
}

#[test]
fn blanket_consent_allows_care() {
    let w = World::new();
    let d = w.ask();
    assert_eq!(
        d,
        Decision::Allowed {
            basis: Basis::Consent {
                consent_id: 1,
                mode: "all_facilities".into(),
                implied: false
            },
            flagged_for_review: false
        }
    );
    assert_eq!(d.code(), "allowed");
}

#[test]
fn no_consent_refuses() {
    let mut w = World::new();
    w.consents.clear();
    assert_eq!(refused(&w.ask()), &Refusal::NoConsent);
    // A consent of another patient does not count.
    w.consents.push(consent(
        9,
        &RegionalId::issue(4, 2),
        ConsentScope::AllFacilities,
    ));
    assert_eq!(refused(&w.ask()), &Refusal::NoConsent);
    // Nor one recorded after `now`.
    let mut later = consent(10, &w.rid, ConsentScope::AllFacilities);
    later.recorded_at = UnixTime(w.now.0 + 1);
    w.consents.push(later);
    assert_eq!(refused(&w.ask()), &Refusal::NoConsent);
}

#[test]
fn withdrawal_is_effective_immediately() {
    let mut w = World::new();
    w.consents[0].withdrawn_at = Some(w.now);
    assert_eq!(
        refused(&w.ask()),
        &Refusal::ConsentWithdrawn {
            consent_id: 1,
            withdrawn_at: w.now
        }
    );
    // One second before, it was still in force.
    w.consents[0].withdrawn_at = Some(UnixTime(w.now.0 + 1));
    assert!(w.ask().is_allowed());
}

#[test]
fn withdrawing_the_newest_consent_does_not_revive_an_older_one() {
    let mut w = World::new();
    let mut newer = consent(
        2,
        &w.rid,
        ConsentScope::SelectedFacilities {
            disclosing: codes([&w.a.code]),
            viewing: codes([&w.b.code]),
        },
    );
    newer.recorded_at = UnixTime(w.now.0 - 10 * DAY);
    newer.replaces = Some(1);
    w.consents.push(newer);
    assert_eq!(w.ask().basis().map(basis_consent), Some(2));
    w.consents[1].withdrawn_at = Some(UnixTime(w.now.0 - 60));
    assert_eq!(refused(&w.ask()).code(), "consent_withdrawn");
    // A new consent form after the withdrawal counts again.
    let mut again = consent(3, &w.rid, ConsentScope::AllFacilities);
    again.recorded_at = UnixTime(w.now.0 - 30);
    w.consents.push(again);
    assert_eq!(w.ask().basis().map(basis_consent), Some(3));
}

fn basis_consent(b: &Basis) -> i64 {
    match b {
        Basis::Consent { consent_id, .. } => *consent_id,
        Basis::BreakGlass { .. } => panic!("break-glass basis"),
    }
}

#[test]
fn consent_dates_are_inclusive_jst_days() {
    let mut w = World::new();
    w.consents[0].valid_from = date("2025-04-02");
    assert_eq!(
        refused(&w.ask()),
        &Refusal::ConsentNotYetValid { consent_id: 1 }
    );
    // 2025-04-01T15:00Z is 2025-04-02 00:00 JST.
    w.now = UnixTime::parse_rfc3339("2025-04-01T15:00:00Z").unwrap();
    assert!(w.ask().is_allowed());
    w.consents[0].valid_from = date("2025-01-01");
    w.consents[0].valid_until = Some(date("2025-04-01"));
    assert_eq!(
        refused(&w.ask()),
        &Refusal::ConsentExpired { consent_id: 1 }
    );
    w.now = UnixTime::parse_rfc3339("2025-04-01T14:59:59Z").unwrap();
    assert!(w.ask().is_allowed());
}

#[test]
fn replaced_consent_goes_on_until_the_new_one_starts() {
    let mut w = World::new();
    let mut next = consent(
        2,
        &w.rid,
        ConsentScope::SelectedFacilities {
            disclosing: codes([&w.c.code]),
            viewing: codes([&w.c.code]),
        },
    );
    next.recorded_at = UnixTime(w.now.0 - DAY);
    next.valid_from = date("2025-04-10");
    next.replaces = Some(1);
    w.consents.push(next);
    assert_eq!(w.ask().basis().map(basis_consent), Some(1));
    w.now = UnixTime(w.now.0 + 9 * DAY);
    assert_eq!(
        refused(&w.ask()),
        &Refusal::ViewingFacilityNotSelected { consent_id: 2 }
    );
    // When the replacing consent expires, the replaced one does not come back.
    w.consents[1].valid_until = Some(date("2025-04-10"));
    w.now = UnixTime(w.now.0 + 2 * DAY);
    assert_eq!(
        refused(&w.ask()),
        &Refusal::ConsentExpired { consent_id: 2 }
    );
}

#[test]
fn implied_consent_is_off_by_default() {
    let mut w = World::new();
    w.consents[0].implied = true;
    assert_eq!(
        refused(&w.ask()),
        &Refusal::ImpliedConsentDisabled { consent_id: 1 }
    );
    w.settings.implied_consent = true;
    let d = w.ask();
    assert!(matches!(
        d.basis(),
        Some(Basis::Consent { implied: true, .. })
    ));
}

#[test]
fn selected_facilities_checks_viewer_and_source() {
    let mut w = World::new();
    w.consents[0].scope = ConsentScope::SelectedFacilities {
        disclosing: codes([&w.a.code]),
        viewing: codes([&w.b.code]),
    };
    assert!(w.ask().is_allowed());
    w.consents[0].scope = ConsentScope::SelectedFacilities {
        disclosing: codes([&w.a.code]),
        viewing: codes([&w.a.code, &w.c.code]),
    };
    assert_eq!(
        refused(&w.ask()),
        &Refusal::ViewingFacilityNotSelected { consent_id: 1 }
    );
    w.consents[0].scope = ConsentScope::SelectedFacilities {
        disclosing: codes([&w.b.code]),
        viewing: codes([&w.b.code]),
    };
    assert_eq!(
        refused(&w.ask()),
        &Refusal::DisclosingFacilityNotSelected { consent_id: 1 }
    );
}

#[test]
fn selected_doctors_checks_the_login() {
    let mut w = World::new();
    w.consents[0].scope = ConsentScope::SelectedDoctors {
        doctors: ["dr.suzuki".to_string()].into(),
    };
    assert_eq!(
        refused(&w.ask()),
        &Refusal::DoctorNotSelected { consent_id: 1 }
    );
    w.consents[0].scope = ConsentScope::SelectedDoctors {
        doctors: ["dr.suzuki".to_string(), "dr.sato".to_string()].into(),
    };
    assert!(w.ask().is_allowed());
}

#[test]
fn own_facility_is_gated_too() {
    let mut w = World::new();
    w.user.facilities.push(w.a.code.clone());
    let own = |w: &World| {
        let req = Request {
            viewer: Viewer {
                user: &w.user,
                acting_for: &w.a,
            },
            patient: Patient {
                regional_id: &w.rid,
                consents: &w.consents,
                links: &w.links,
            },
            record: Record {
                source: &w.a,
                local_id: "A-100",
                category: RecordCategory::LabResults,
            },
            purpose: Purpose::Care,
            break_glass: None,
            now: w.now,
        };
        decide(&req, &w.matrix, &w.settings)
    };
    assert!(own(&w).is_allowed());
    w.consents[0].withdrawn_at = Some(w.now);
    assert_eq!(refused(&own(&w)).code(), "consent_withdrawn");
}

#[test]
fn unlink_hides_everything_even_break_the_glass() {
    let mut w = World::new();
    w.links[0].ended_at = Some(w.now);
    w.links[0].ended_by = Some("office".into());
    assert_eq!(refused(&w.ask()), &Refusal::NotLinked);
    let bg = w.break_glass();
    assert_eq!(refused(&w.emergency(&bg)), &Refusal::NotLinked);
    // A link made later than `now` does not count either.
    w.links[0].ended_at = None;
    w.links[0].linked_at = UnixTime(w.now.0 + 1);
    assert_eq!(refused(&w.ask()), &Refusal::NotLinked);
    // A link of the local ID to another regional ID does not put the record here.
    w.links[0].linked_at = UnixTime(0);
    w.links[0].regional_id = RegionalId::issue(4, 2);
    assert_eq!(refused(&w.ask()), &Refusal::NotLinked);
}

#[test]
fn facilities_must_participate_and_have_the_role() {
    let mut w = World::new();
    w.b.status = FacilityStatus::Suspended;
    assert_eq!(refused(&w.ask()), &Refusal::ViewingFacilityNotParticipating);
    w.b.status = FacilityStatus::Participating;
    w.b.views = false;
    assert_eq!(refused(&w.ask()), &Refusal::FacilityDoesNotView);
    w.b.views = true;
    w.a.status = FacilityStatus::Left;
    assert_eq!(refused(&w.ask()), &Refusal::SourceFacilityNotParticipating);
    let bg = w.break_glass();
    assert_eq!(
        refused(&w.emergency(&bg)),
        &Refusal::SourceFacilityNotParticipating
    );
    w.a.status = FacilityStatus::Participating;
    w.a.discloses = false;
    assert_eq!(refused(&w.ask()), &Refusal::SourceFacilityDoesNotDisclose);
}

#[test]
fn user_must_be_active_and_act_for_own_facility() {
    let mut w = World::new();
    w.user.active = false;
    assert_eq!(refused(&w.ask()), &Refusal::UserInactive);
    w.user.active = true;
    w.user.facilities = vec![w.c.code.clone()];
    assert_eq!(refused(&w.ask()), &Refusal::UserNotAtFacility);
}

#[test]
fn profession_sees_only_its_categories() {
    let mut w = World::new();
    w.user.profession = Profession::CareWorker;
    assert_eq!(
        refused(&w.ask()),
        &Refusal::ProfessionNotPermitted {
            profession: Profession::CareWorker,
            category: RecordCategory::Prescriptions
        }
    );
    assert!(w
        .ask_with(Purpose::Care, RecordCategory::Allergies, None)
        .is_allowed());
    w.matrix
        .set(Profession::CareWorker, RecordCategory::Prescriptions, true);
    assert!(w.ask().is_allowed());
    // Break-the-glass does not widen the matrix.
    w.user.profession = Profession::Nurse;
    let bg = w.break_glass();
    assert_eq!(
        refused(&w.ask_with(Purpose::Emergency, RecordCategory::Images, Some(&bg))),
        &Refusal::ProfessionNotPermitted {
            profession: Profession::Nurse,
            category: RecordCategory::Images
        }
    );
}

#[test]
fn administration_sees_basic_info_only() {
    let mut w = World::new();
    w.user.profession = Profession::NetworkOperator;
    assert_eq!(
        refused(&w.ask_with(Purpose::Administration, RecordCategory::LabResults, None)),
        &Refusal::AdministrationPurposeSeesNoClinicalData
    );
    // Operators see nothing by default ...
    assert_eq!(
        refused(&w.ask_with(Purpose::Administration, RecordCategory::BasicInfo, None)).code(),
        "profession_not_permitted"
    );
    // ... unless the network grants them basic information; consent still applies.
    w.matrix
        .set(Profession::NetworkOperator, RecordCategory::BasicInfo, true);
    assert!(w
        .ask_with(Purpose::Administration, RecordCategory::BasicInfo, None)
        .is_allowed());
    w.consents.clear();
    assert_eq!(
        refused(&w.ask_with(Purpose::Administration, RecordCategory::BasicInfo, None)),
        &Refusal::NoConsent
    );
    // Even a doctor sees no clinical data for administration.
    w.user.profession = Profession::Doctor;
    assert_eq!(
        refused(&w.ask_with(Purpose::Administration, RecordCategory::Diagnoses, None)),
        &Refusal::AdministrationPurposeSeesNoClinicalData
    );
}

#[test]
fn break_the_glass_bypasses_consent_and_is_flagged() {
    let mut w = World::new();
    w.consents.clear();
    let bg = w.break_glass();
    let d = w.emergency(&bg);
    assert_eq!(
        d,
        Decision::Allowed {
            basis: Basis::BreakGlass {
                reason: bg.reason.clone(),
                started_at: bg.started_at,
                expires_at: bg.expires_at,
            },
            flagged_for_review: true
        }
    );
    // Also over a withdrawn or non-selecting consent.
    let mut c = consent(1, &w.rid, ConsentScope::AllFacilities);
    c.withdrawn_at = Some(UnixTime(w.now.0 - DAY));
    w.consents.push(c);
    assert!(w.emergency(&bg).flagged_for_review());
    // Even with consent in force, an emergency request is break-the-glass and flagged.
    w.consents[0].withdrawn_at = None;
    assert!(w.emergency(&bg).flagged_for_review());
    // A break-glass sent with a care request is ignored.
    w.consents.clear();
    assert_eq!(
        refused(&w.ask_with(Purpose::Care, RecordCategory::Prescriptions, Some(&bg))),
        &Refusal::NoConsent
    );
}

#[test]
fn break_the_glass_needs_a_reason_and_a_time_window() {
    let mut w = World::new();
    w.consents.clear();
    assert_eq!(
        refused(&w.ask_with(Purpose::Emergency, RecordCategory::Prescriptions, None)),
        &Refusal::BreakGlassRequired
    );
    let mut bg = w.break_glass();
    bg.reason = " \u{3000} ".into();
    assert_eq!(
        refused(&w.emergency(&bg)),
        &Refusal::BreakGlassWithoutReason
    );
    bg = w.break_glass();
    bg.started_at = UnixTime(w.now.0 + 1);
    assert_eq!(refused(&w.emergency(&bg)), &Refusal::BreakGlassNotStarted);
    bg = w.break_glass();
    bg.expires_at = w.now;
    assert_eq!(refused(&w.emergency(&bg)), &Refusal::BreakGlassExpired);
    // The network's limit caps what the declaration asks for.
    bg = w.break_glass();
    bg.started_at = UnixTime(w.now.0 - 3600);
    bg.expires_at = UnixTime(w.now.0 + 3600);
    assert_eq!(refused(&w.emergency(&bg)), &Refusal::BreakGlassExpired);
    w.settings.break_glass_minutes = 90;
    match w.emergency(&bg).basis() {
        Some(Basis::BreakGlass { expires_at, .. }) => {
            assert_eq!(*expires_at, UnixTime(w.now.0 + 1800))
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn break_the_glass_is_for_licensed_clinicians() {
    let mut w = World::new();
    let bg = w.break_glass();
    for p in Profession::ALL.iter().copied() {
        w.user.profession = p;
        let d = w.ask_with(Purpose::Emergency, RecordCategory::BasicInfo, Some(&bg));
        if BREAK_GLASS_PROFESSIONS.contains(&p) {
            assert!(d.is_allowed(), "{p}: {d:?}");
        } else if w.matrix.allows(p, RecordCategory::BasicInfo) {
            assert_eq!(
                refused(&d),
                &Refusal::BreakGlassNotAllowedForProfession { profession: p }
            );
        } else {
            assert_eq!(refused(&d).code(), "profession_not_permitted");
        }
    }
}

#[test]
fn precedence_names_the_most_fundamental_reason() {
    let mut w = World::new();
    w.consents.clear();
    w.links.clear();
    w.a.discloses = false;
    w.user.profession = Profession::CareWorker;
    w.b.views = false;
    w.user.active = false;
    type Fix = fn(&mut World);
    let steps: [(&str, Fix); 6] = [
        ("user_inactive", |w| w.user.active = true),
        ("facility_does_not_view", |w| w.b.views = true),
        ("not_linked", |w| {
            let l = link(&w.rid, &w.a, "A-100");
            w.links.push(l)
        }),
        ("source_facility_does_not_disclose", |w| {
            w.a.discloses = true
        }),
        ("profession_not_permitted", |w| {
            w.user.profession = Profession::Doctor
        }),
        ("no_consent", |w| {
            let c = consent(1, &w.rid, ConsentScope::AllFacilities);
            w.consents.push(c)
        }),
    ];
    for (expected, fix) in steps {
        assert_eq!(w.ask().code(), expected);
        fix(&mut w);
    }
    assert!(w.ask().is_allowed());
}

#[test]
fn refusal_codes_and_messages() {
    let all = [
        Refusal::UserInactive,
        Refusal::UserNotAtFacility,
        Refusal::ViewingFacilityNotParticipating,
        Refusal::FacilityDoesNotView,
        Refusal::SourceFacilityNotParticipating,
        Refusal::SourceFacilityDoesNotDisclose,
        Refusal::NotLinked,
        Refusal::NoConsent,
        Refusal::ConsentWithdrawn {
            consent_id: 1,
            withdrawn_at: UnixTime(0),
        },
        Refusal::ConsentNotYetValid { consent_id: 1 },
        Refusal::ConsentExpired { consent_id: 1 },
        Refusal::ImpliedConsentDisabled { consent_id: 1 },
        Refusal::ViewingFacilityNotSelected { consent_id: 1 },
        Refusal::DisclosingFacilityNotSelected { consent_id: 1 },
        Refusal::DoctorNotSelected { consent_id: 1 },
        Refusal::ProfessionNotPermitted {
            profession: Profession::Nurse,
            category: RecordCategory::Images,
        },
        Refusal::AdministrationPurposeSeesNoClinicalData,
        Refusal::BreakGlassRequired,
        Refusal::BreakGlassWithoutReason,
        Refusal::BreakGlassNotStarted,
        Refusal::BreakGlassExpired,
        Refusal::BreakGlassNotAllowedForProfession {
            profession: Profession::CareWorker,
        },
    ];
    let mut seen = BTreeSet::new();
    for r in &all {
        let code = r.code();
        assert!(seen.insert(code), "duplicate code {code}");
        assert!(code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
        // The serde tag is the code, and a refusal round-trips.
        let json = serde_json::to_value(r).unwrap();
        assert_eq!(json["code"], code);
        assert_eq!(&serde_json::from_value::<Refusal>(json).unwrap(), r);
        // Japanese, then English in parentheses.
        let msg = r.to_string();
        assert!(!msg.is_ascii() && msg.ends_with(')'), "{msg}");
    }
    assert_eq!(
        Refusal::NoConsent.to_string(),
        "同意がありません (no consent)"
    );
    assert_eq!(
        all[15].to_string(),
        "職種「看護師」には「画像」の閲覧権限がありません (profession nurse may not view images)"
    );
}

#[test]
fn audit_entry_carries_the_whole_decision() {
    let mut w = World::new();
    w.consents.clear();
    let bg = w.break_glass();
    let req = Request {
        viewer: Viewer {
            user: &w.user,
            acting_for: &w.b,
        },
        patient: Patient {
            regional_id: &w.rid,
            consents: &w.consents,
            links: &w.links,
        },
        record: Record {
            source: &w.a,
            local_id: "A-100",
            category: RecordCategory::LabResults,
        },
        purpose: Purpose::Emergency,
        break_glass: Some(&bg),
        now: w.now,
    };
    let d = decide(&req, &w.matrix, &w.settings);
    let e = req.audit_entry(&d);
    assert_eq!(e.code, "allowed");
    assert_eq!(e.user_login, "dr.sato");
    assert_eq!(e.acting_facility, w.b.code);
    assert_eq!(e.source_facility, w.a.code);
    assert_eq!(e.regional_id, w.rid);
    assert_eq!(e.local_id, "A-100");
    assert_eq!(e.break_glass.as_ref(), Some(&bg));
    assert!(e.decision.flagged_for_review());
    let json = serde_json::to_string(&e).unwrap();
    assert_eq!(serde_json::from_str::<AuditEntry>(&json).unwrap(), e);

    let req = Request {
        purpose: Purpose::Care,
        break_glass: None,
        ..req
    };
    let d = decide(&req, &w.matrix, &w.settings);
    let e = req.audit_entry(&d);
    assert_eq!(e.code, "no_consent");
    assert_eq!(e.message, "同意がありません (no consent)");
    let v = serde_json::to_value(&e.decision).unwrap();
    assert_eq!(v["outcome"], "refused");
    assert_eq!(v["code"], "no_consent");
    assert_eq!(serde_json::from_value::<Decision>(v).unwrap(), d);
}

impl World {
    /// What the doctor at B is told about the patient as a whole.
    fn explain_with(&self, purpose: Purpose, break_glass: Option<&BreakGlass>) -> Vec<Explanation> {
        let q = Question {
            viewer: Viewer {
                user: &self.user,
                acting_for: &self.b,
            },
            patient: Patient {
                regional_id: &self.rid,
                consents: &self.consents,
                links: &self.links,
            },
            purpose,
            break_glass,
            now: self.now,
        };
        explain(&q, &self.matrix, &self.settings)
    }

    fn explain(&self) -> Vec<Explanation> {
        self.explain_with(Purpose::Care, None)
    }
}

fn explained_codes(e: &[Explanation]) -> Vec<&'static str> {
    e.iter().map(|x| x.refusal.code()).collect()
}

#[test]
fn explain_says_nothing_when_nothing_is_withheld_by_policy_or_consent() {
    let w = World::new();
    assert!(w.explain().is_empty());
    // The patient chose not to disclose A: A's records are refused, but the viewer is not
    // told (that would tell them the patient is treated at A).
    let mut w = World::new();
    w.consents = vec![consent(
        1,
        &w.rid,
        ConsentScope::SelectedFacilities {
            disclosing: codes([&w.c.code]),
            viewing: codes([&w.b.code]),
        },
    )];
    assert_eq!(
        refused(&w.ask()),
        &Refusal::DisclosingFacilityNotSelected { consent_id: 1 }
    );
    assert!(w.explain().is_empty());
    // Likewise a source that does not disclose, left the network or was unlinked.
    let mut w = World::new();
    w.a.discloses = false;
    assert_eq!(refused(&w.ask()), &Refusal::SourceFacilityDoesNotDisclose);
    assert!(w.explain().is_empty());
    let mut w = World::new();
    w.a.status = FacilityStatus::Suspended;
    assert_eq!(refused(&w.ask()), &Refusal::SourceFacilityNotParticipating);
    assert!(w.explain().is_empty());
    let mut w = World::new();
    w.links.clear();
    assert_eq!(refused(&w.ask()), &Refusal::NotLinked);
    assert!(w.explain().is_empty());
}

#[test]
fn explain_gives_the_consent_reason_over_every_permitted_category() {
    let mut w = World::new();
    w.consents.clear();
    let e = w.explain();
    assert_eq!(explained_codes(&e), ["no_consent"]);
    assert_eq!(e[0].categories, RecordCategory::ALL.to_vec());
    // The same whether or not the patient has links (records) anywhere.
    w.links.clear();
    assert_eq!(w.explain(), e);

    let mut w = World::new();
    w.consents = vec![consent(
        1,
        &w.rid,
        ConsentScope::SelectedFacilities {
            disclosing: codes([&w.a.code]),
            viewing: codes([&w.c.code]),
        },
    )];
    assert_eq!(
        explained_codes(&w.explain()),
        ["viewing_facility_not_selected"]
    );
    w.consents[0].scope = ConsentScope::SelectedDoctors {
        doctors: ["dr.other".to_owned()].into_iter().collect(),
    };
    assert_eq!(explained_codes(&w.explain()), ["doctor_not_selected"]);
    w.consents[0].scope = ConsentScope::AllFacilities;
    w.consents[0].withdrawn_at = Some(UnixTime(w.now.0 - 1));
    assert_eq!(explained_codes(&w.explain()), ["consent_withdrawn"]);
}

#[test]
fn explain_states_the_profession_rule_from_the_matrix_alone() {
    let mut w = World::new();
    w.user.profession = Profession::CareWorker;
    let e = w.explain();
    assert_eq!(explained_codes(&e), ["profession_not_permitted"]);
    let denied: Vec<RecordCategory> = RecordCategory::ALL
        .iter()
        .copied()
        .filter(|c| !w.matrix.allows(Profession::CareWorker, *c))
        .collect();
    assert_eq!(e[0].categories, denied);
    // Identical for a patient without any linked record.
    w.links.clear();
    assert_eq!(w.explain(), e);
    // Without consent both reasons, each once: the profession's categories, then consent
    // for the rest.
    w.consents.clear();
    let e = w.explain();
    assert_eq!(
        explained_codes(&e),
        ["profession_not_permitted", "no_consent"]
    );
    assert!(e[1]
        .categories
        .iter()
        .all(|c| w.matrix.allows(Profession::CareWorker, *c)));
    // A profession with no category at all: nothing about consent is said.
    w.user.profession = Profession::NetworkOperator;
    assert_eq!(explained_codes(&w.explain()), ["profession_not_permitted"]);
}

#[test]
fn explain_covers_requester_purpose_and_break_the_glass() {
    let mut w = World::new();
    w.user.active = false;
    let e = w.explain();
    assert_eq!(explained_codes(&e), ["user_inactive"]);
    assert_eq!(e[0].categories, RecordCategory::ALL.to_vec());

    let w = World::new();
    let e = w.explain_with(Purpose::Administration, None);
    assert_eq!(
        explained_codes(&e),
        ["administration_purpose_sees_no_clinical_data"]
    );
    assert!(!e[0].categories.contains(&RecordCategory::BasicInfo));

    let e = w.explain_with(Purpose::Emergency, None);
    assert_eq!(explained_codes(&e), ["break_glass_required"]);
    assert!(w
        .explain_with(Purpose::Emergency, Some(&w.break_glass()))
        .is_empty());
    let mut w = World::new();
    w.user.profession = Profession::CareWorker;
    assert!(
        explained_codes(&w.explain_with(Purpose::Emergency, Some(&w.break_glass())))
            .contains(&"break_glass_not_allowed_for_profession")
    );
}

/// Every refusal `decide` gives for a reason `explain` may state is stated, for the refused
/// category; and whatever `explain` states, `decide` gives for some record.
#[test]
fn explain_agrees_with_decide() {
    let mut worlds = Vec::new();
    for profession in [
        Profession::Doctor,
        Profession::CareWorker,
        Profession::Nurse,
    ] {
        for consent_state in 0..4 {
            let mut w = World::new();
            w.user.profession = profession;
            match consent_state {
                0 => {}
                1 => w.consents.clear(),
                2 => w.consents[0].withdrawn_at = Some(UnixTime(w.now.0 - 1)),
                _ => {
                    w.consents[0].scope = ConsentScope::SelectedFacilities {
                        disclosing: codes([&w.a.code]),
                        viewing: codes([&w.c.code]),
                    }
                }
            }
            worlds.push(w);
        }
    }
    for w in &worlds {
        for purpose in Purpose::ALL {
            let bg = w.break_glass();
            for break_glass in [None, Some(&bg)] {
                let told = w.explain_with(*purpose, break_glass);
                for category in RecordCategory::ALL {
                    let d = w.ask_with(*purpose, *category, break_glass);
                    if let Some(r) = d.refusal() {
                        let covering = told.iter().find(|e| e.categories.contains(category));
                        match covering {
                            Some(e) => assert_eq!(e.refusal.code(), r.code(), "{category:?}"),
                            None => panic!("{r:?} for {category:?} not explained: {told:?}"),
                        }
                    } else {
                        assert!(told.iter().all(|e| !e.categories.contains(category)));
                    }
                }
            }
        }
    }
}

#[test]
fn only_licensed_clinicians_may_start_break_the_glass() {
    let mut w = World::new();
    let viewer = |w: &World| -> Result<(), Refusal> {
        may_break_glass(&Viewer {
            user: &w.user,
            acting_for: &w.b,
        })
    };
    assert_eq!(viewer(&w), Ok(()));
    w.user.profession = Profession::CareWorker;
    assert_eq!(
        viewer(&w),
        Err(Refusal::BreakGlassNotAllowedForProfession {
            profession: Profession::CareWorker
        })
    );
    w.user.profession = Profession::Doctor;
    w.user.facilities.clear();
    assert_eq!(viewer(&w), Err(Refusal::UserNotAtFacility));
}

/// What `lifted_by_break_glass` promises: with a started window, the emergency request is
/// allowed wherever the care request was refused for that reason.
#[test]
fn break_the_glass_lifts_exactly_the_consent_refusals() {
    let mut worlds = Vec::new();
    let mut w = World::new();
    w.consents.clear();
    worlds.push(w);
    let mut w = World::new();
    w.consents[0].withdrawn_at = Some(UnixTime(w.now.0 - 1));
    worlds.push(w);
    let mut w = World::new();
    w.consents[0].scope = ConsentScope::SelectedFacilities {
        disclosing: codes([&w.c.code]),
        viewing: codes([&w.b.code]),
    };
    worlds.push(w);
    let mut w = World::new();
    w.user.profession = Profession::CareWorker;
    worlds.push(w);
    let mut w = World::new();
    w.a.discloses = false;
    worlds.push(w);
    for w in &worlds {
        for category in RecordCategory::ALL {
            let care = w.ask_with(Purpose::Care, *category, None);
            let Some(r) = care.refusal() else { continue };
            let emergency = w.ask_with(Purpose::Emergency, *category, Some(&w.break_glass()));
            assert_eq!(
                r.lifted_by_break_glass(),
                emergency.is_allowed(),
                "{r:?} for {category:?}: {emergency:?}"
            );
        }
    }
    assert!(Refusal::BreakGlassRequired.lifted_by_break_glass());
    assert!(!Refusal::BreakGlassNotAllowedForProfession {
        profession: Profession::CareWorker
    }
    .lifted_by_break_glass());
}
