//! Property tests of the gate on random worlds: three facilities, a user, a patient with
//! random consents and links (history included), one record, one purpose, a time.
//!
//! 1. No record is allowed without a consent in force, unless the purpose is emergency with a
//!    valid break-the-glass.
//! 2. Withdrawal or unlink hides everything at once.
//! 3. With per-facility consent, a facility not selected never sees and a source not selected
//!    never discloses.
//! 4. A profession sees only its categories (and every other fixed rule holds when allowed).
//! 5. `decide` is deterministic and total.

use std::collections::BTreeSet;

use model::{
    Consent, ConsentScope, Facility, FacilityCode, FacilityKind, FacilityStatus, Link,
    LocalPatient, PermissionMatrix, Profession, Purpose, RecordCategory, RegionalId, UnixTime,
    User,
};
use policy::{
    decide, Basis, BreakGlass, Decision, Patient, Record, Refusal, Request, Settings, Viewer,
    BREAK_GLASS_PROFESSIONS,
};
use proptest::prelude::*;
use proptest::sample::select;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;

const DAY: i64 = 86_400;
/// 2025-04-01 12:00 JST.
const T0: i64 = 1_743_476_400;
const LOGINS: [&str; 3] = ["u1", "u2", "u3"];
const LOCAL_IDS: [&str; 2] = ["L1", "L2"];

fn code(i: usize) -> FacilityCode {
    FacilityCode::parse(&format!("04000000{:02}", i + 1)).unwrap()
}

fn rid(main: bool) -> RegionalId {
    RegionalId::issue(4, if main { 1 } else { 2 })
}

#[derive(Debug, Clone)]
struct World {
    facilities: Vec<Facility>,
    user: User,
    acting: usize,
    source: usize,
    local_id: &'static str,
    category: RecordCategory,
    purpose: Purpose,
    break_glass: Option<BreakGlass>,
    regional_id: RegionalId,
    consents: Vec<Consent>,
    links: Vec<Link>,
    matrix: PermissionMatrix,
    settings: Settings,
    now: UnixTime,
}

impl World {
    fn request(&self) -> Request<'_> {
        Request {
            viewer: Viewer {
                user: &self.user,
                acting_for: &self.facilities[self.acting],
            },
            patient: Patient {
                regional_id: &self.regional_id,
                consents: &self.consents,
                links: &self.links,
            },
            record: Record {
                source: &self.facilities[self.source],
                local_id: self.local_id,
                category: self.category,
            },
            purpose: self.purpose,
            break_glass: self.break_glass.as_ref(),
            now: self.now,
        }
    }

    fn decide(&self) -> Decision {
        decide(&self.request(), &self.matrix, &self.settings)
    }

    fn acting_code(&self) -> &FacilityCode {
        &self.facilities[self.acting].code
    }

    fn source_code(&self) -> &FacilityCode {
        &self.facilities[self.source].code
    }

    /// Consents that exist at `now` and count under the settings, in force by their own dates
    /// and withdrawal — the independent, weaker notion of "a consent in force".
    fn consents_in_force(&self) -> impl Iterator<Item = &Consent> {
        self.consents.iter().filter(|c| {
            c.regional_id == self.regional_id
                && c.recorded_at <= self.now
                && c.in_force(self.now)
                && (!c.implied || self.settings.implied_consent)
        })
    }

    fn link_active(&self) -> bool {
        self.links.iter().any(|l| {
            l.regional_id == self.regional_id
                && &l.patient.facility == self.source_code()
                && l.patient.local_id == self.local_id
                && l.linked_at <= self.now
                && l.ended_at.is_none_or(|e| e > self.now)
        })
    }

    fn break_glass_valid(&self) -> bool {
        self.break_glass.as_ref().is_some_and(|bg| {
            !bg.reason.trim().is_empty()
                && bg.started_at <= self.now
                && self.now < bg.expires_at
                && self.now.0 < bg.started_at.0 + self.settings.break_glass_minutes * 60
        })
    }
}

fn facility() -> impl Strategy<Value = (FacilityStatus, bool, bool)> {
    (
        prop_oneof![
            18 => Just(FacilityStatus::Participating),
            1 => Just(FacilityStatus::Suspended),
            1 => Just(FacilityStatus::Left),
        ],
        prop::bool::weighted(0.93),
        prop::bool::weighted(0.93),
    )
}

fn subset<T: Clone + Ord + std::fmt::Debug + 'static>(
    items: Vec<T>,
    p: f64,
) -> impl Strategy<Value = BTreeSet<T>> {
    prop::collection::vec(prop::bool::weighted(p), items.len()).prop_map(move |keep| {
        items
            .iter()
            .zip(keep)
            .filter(|(_, k)| *k)
            .map(|(x, _)| x.clone())
            .collect()
    })
}

fn scope() -> impl Strategy<Value = ConsentScope> {
    let codes: Vec<FacilityCode> = (0..3).map(code).collect();
    let logins: Vec<String> = LOGINS.iter().map(|s| s.to_string()).collect();
    prop_oneof![
        4 => Just(ConsentScope::AllFacilities),
        4 => (subset(codes.clone(), 0.7), subset(codes, 0.7))
            .prop_map(|(disclosing, viewing)| ConsentScope::SelectedFacilities { disclosing, viewing }),
        2 => subset(logins, 0.6).prop_map(|doctors| ConsentScope::SelectedDoctors { doctors }),
    ]
}

fn time(days_from: i64, days_to: i64) -> impl Strategy<Value = UnixTime> {
    (T0 + days_from * DAY..T0 + days_to * DAY).prop_map(UnixTime)
}

prop_compose! {
    fn consent(id: i64)(
        main in prop::bool::weighted(0.9),
        scope in scope(),
        from_day in -15i64..5,
        until in prop::option::weighted(0.5, 0i64..20),
        withdrawn in prop::option::weighted(0.25, time(-10, 10)),
        implied in prop::bool::weighted(0.2),
        recorded_at in time(-12, 5),
        replaces in prop::option::weighted(0.2, 1i64..5),
    ) -> Consent {
        let valid_from = UnixTime(T0 + from_day * DAY).date_jst();
        Consent {
            id,
            regional_id: rid(main),
            scope,
            valid_from,
            valid_until: until.map(|d| UnixTime(T0 + (from_day + d) * DAY).date_jst()),
            withdrawn_at: withdrawn,
            paper_form: String::new(),
            implied,
            recorded_by: "office".into(),
            recorded_at,
            replaces,
        }
    }
}

fn consents() -> impl Strategy<Value = Vec<Consent>> {
    (0usize..5).prop_flat_map(|n| (1..=n as i64).map(consent).collect::<Vec<_>>())
}

prop_compose! {
    fn link()(
        main in prop::bool::weighted(0.85),
        facility in 0usize..3,
        local in select(LOCAL_IDS.to_vec()),
        linked_at in time(-10, 5),
        ended in prop::option::weighted(0.3, 0i64..12 * DAY),
    ) -> Link {
        Link {
            regional_id: rid(main),
            patient: LocalPatient { facility: code(facility), local_id: local.into() },
            linked_at,
            linked_by: "office".into(),
            ended_at: ended.map(|e| linked_at.plus_seconds(e)),
            ended_by: ended.map(|_| "office".into()),
        }
    }
}

prop_compose! {
    fn world()(
        facilities in prop::collection::vec(facility(), 3),
        login in select(LOGINS.to_vec()),
        profession in prop_oneof![select(BREAK_GLASS_PROFESSIONS.to_vec()), select(Profession::ALL.to_vec())],
        works_at in subset((0usize..3).collect(), 0.6),
        active in prop::bool::weighted(0.95),
        acting in 0usize..3,
        acting_is_own in prop::bool::weighted(0.9),
        source in 0usize..3,
        local_id in select(LOCAL_IDS.to_vec()),
        category in select(RecordCategory::ALL.to_vec()),
        purpose in prop_oneof![5 => Just(Purpose::Care), 3 => Just(Purpose::Emergency), 2 => Just(Purpose::Administration)],
        consents in consents(),
        record_link in prop::option::weighted(0.85, (time(-10, 1), prop::option::weighted(0.15, 0i64..12 * DAY))),
        other_links in prop::collection::vec(link(), 0..3),
        now in time(-2, 10),
        bg in prop::option::weighted(0.8, (prop_oneof![1 => Just(""), 1 => Just("  "), 8 => Just("救急搬送、意識障害")], -3600i64..300, -300i64..5400)),
        overrides in prop::collection::vec((select(Profession::ALL.to_vec()), select(RecordCategory::ALL.to_vec()), any::<bool>()), 0..3),
        implied_consent in any::<bool>(),
        break_glass_minutes in select(vec![0i64, 30, 60, 120]),
    ) -> World {
        let facilities: Vec<Facility> = facilities
            .into_iter()
            .enumerate()
            .map(|(i, (status, discloses, views))| Facility {
                code: code(i),
                name: format!("f{i}"),
                kind: FacilityKind::Hospital,
                area: String::new(),
                status,
                discloses,
                views,
            })
            .collect();
        let mut facilities_of_user: Vec<FacilityCode> = works_at.into_iter().map(code).collect();
        if acting_is_own && !facilities_of_user.contains(&code(acting)) {
            facilities_of_user.push(code(acting));
        }
        let user = User {
            login: login.into(),
            display_name: String::new(),
            profession,
            facilities: facilities_of_user,
            active,
        };
        let regional_id = rid(true);
        let mut links = other_links;
        if let Some((linked_at, ended)) = record_link {
            links.push(Link {
                regional_id: regional_id.clone(),
                patient: LocalPatient { facility: code(source), local_id: local_id.into() },
                linked_at,
                linked_by: "office".into(),
                ended_at: ended.map(|e| linked_at.plus_seconds(e)),
                ended_by: None,
            });
        }
        let mut matrix = PermissionMatrix::default();
        for (p, c, allowed) in overrides {
            matrix.set(p, c, allowed);
        }
        let break_glass = bg.map(|(reason, start, len)| BreakGlass {
            reason: reason.into(),
            started_at: now.plus_seconds(start),
            expires_at: now.plus_seconds(start + len),
        });
        World {
            facilities,
            user,
            acting,
            source,
            local_id,
            category,
            purpose,
            break_glass,
            regional_id,
            consents,
            links,
            matrix,
            settings: Settings { implied_consent, break_glass_minutes },
            now,
        }
    }
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 512,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Codes a refusal may have when it comes before any consent check.
const BEFORE_CONSENT: &[&str] = &[
    "user_inactive",
    "user_not_at_facility",
    "viewing_facility_not_participating",
    "facility_does_not_view",
    "not_linked",
    "source_facility_not_participating",
    "source_facility_does_not_disclose",
    "administration_purpose_sees_no_clinical_data",
    "profession_not_permitted",
];

proptest! {
    #![proptest_config(config())]

    /// (1) Allowed only with a consent in force, or in an emergency with a valid break-glass.
    #[test]
    fn nothing_without_consent_or_break_the_glass(w in world()) {
        let d = w.decide();
        if let Decision::Allowed { basis, flagged_for_review } = &d {
            if w.purpose == Purpose::Emergency {
                prop_assert!(w.break_glass_valid(), "{d:?}");
                prop_assert!(BREAK_GLASS_PROFESSIONS.contains(&w.user.profession));
                let by_glass = matches!(basis, Basis::BreakGlass { .. });
                prop_assert!(by_glass);
                prop_assert!(*flagged_for_review);
            } else {
                let Basis::Consent { consent_id, .. } = basis else {
                    return Err(TestCaseError::fail(format!("{d:?}")));
                };
                let c = w.consents_in_force().find(|c| c.id == *consent_id);
                prop_assert!(c.is_some(), "consent {consent_id} not in force: {d:?}");
                // No withdrawal at or before `now` came after this consent was recorded.
                let c = c.unwrap();
                prop_assert!(!w.consents.iter().any(|o| o.regional_id == w.regional_id
                    && o.recorded_at <= w.now
                    && o.withdrawn_at.is_some_and(|x| x <= w.now && x >= c.recorded_at)));
                prop_assert!(!*flagged_for_review);
            }
        }
        // Without any consent in force, only an emergency can get through.
        if w.consents_in_force().next().is_none() && w.purpose != Purpose::Emergency {
            prop_assert!(!d.is_allowed(), "{d:?}");
        }
    }

    /// (2a) Withdrawing every consent at or before `now` refuses every care and
    /// administration request at once; emergency decisions do not depend on consent.
    #[test]
    fn withdrawal_hides_everything_at_once(w in world(), back in 0i64..5 * DAY) {
        let before = w.decide();
        let mut w2 = w.clone();
        let at = UnixTime(w.now.0 - back);
        for c in &mut w2.consents {
            c.withdrawn_at = Some(c.withdrawn_at.map_or(at, |x| x.min(at)));
        }
        let d = w2.decide();
        if w.purpose == Purpose::Emergency {
            prop_assert_eq!(d, before);
        } else {
            let r = d.refusal();
            prop_assert!(r.is_some(), "{d:?}");
            let code = r.unwrap().code();
            prop_assert!(BEFORE_CONSENT.contains(&code) || code == "consent_withdrawn" || code == "no_consent",
                "{code}");
        }
    }

    /// (2b) Withdrawing the consent an allowed request rests on refuses it, unless a consent
    /// form recorded after the withdrawal is in force.
    #[test]
    fn withdrawing_the_basis_refuses(w in world(), frac in 0.0f64..=1.0) {
        if let Some(Basis::Consent { consent_id, .. }) = w.decide().basis() {
            let mut w2 = w.clone();
            let c = w2.consents.iter_mut().find(|c| c.id == *consent_id).unwrap();
            let span = (w.now.0 - c.recorded_at.0) as f64;
            let at = UnixTime(c.recorded_at.0 + (span * frac) as i64);
            c.withdrawn_at = Some(at);
            match w2.decide() {
                Decision::Refused(r) => {
                    // "Withdrawn", unless a newer consent form recorded after the
                    // withdrawal is what fails (e.g. it has expired).
                    let newer_form = w2.consents.iter().any(|c| {
                        c.regional_id == w.regional_id && c.recorded_at > at && c.recorded_at <= w.now
                    });
                    prop_assert!(r.code() == "consent_withdrawn" || newer_form, "{r:?}");
                }
                Decision::Allowed { basis: Basis::Consent { consent_id: other, .. }, .. } => {
                    let o = w2.consents.iter().find(|c| c.id == other).unwrap();
                    prop_assert!(o.recorded_at > at, "revived consent {other}");
                }
                d => return Err(TestCaseError::fail(format!("{d:?}"))),
            }
        }
    }

    /// (2c) Ending every link at or before `now` refuses every request, break-the-glass
    /// included.
    #[test]
    fn unlink_hides_everything_at_once(w in world(), back in 0i64..5 * DAY) {
        let mut w2 = w.clone();
        let at = UnixTime(w.now.0 - back);
        for l in &mut w2.links {
            l.ended_at = Some(l.ended_at.map_or(at, |x| x.min(at)));
        }
        let d = w2.decide();
        let r = d.refusal();
        prop_assert!(r.is_some(), "{d:?}");
        prop_assert!(BEFORE_CONSENT[..5].contains(&r.unwrap().code()), "{:?}", r);
        // And ending only the record's link does the same.
        let mut w3 = w.clone();
        for l in &mut w3.links {
            if &l.patient.facility == w.source_code() && l.patient.local_id == w.local_id {
                l.ended_at = Some(l.ended_at.map_or(at, |x| x.min(at)));
            }
        }
        prop_assert!(!w3.decide().is_allowed());
    }

    /// (3) Per-facility consent: the viewing facility must be in `viewing` and the record's
    /// facility in `disclosing`; removing either from every consent refuses.
    #[test]
    fn unselected_facilities_neither_see_nor_disclose(w in world(), drop_viewer in any::<bool>()) {
        let d = w.decide();
        if let Some(Basis::Consent { consent_id, .. }) = d.basis() {
            let c = w.consents.iter().find(|c| c.id == *consent_id).unwrap();
            if let ConsentScope::SelectedFacilities { disclosing, viewing } = &c.scope {
                prop_assert!(viewing.contains(w.acting_code()));
                prop_assert!(disclosing.contains(w.source_code()));
            }
            if let ConsentScope::SelectedDoctors { doctors } = &c.scope {
                prop_assert!(doctors.contains(&w.user.login));
            }
        }
        let mut w2 = w.clone();
        let (acting, source) = (w.acting_code().clone(), w.source_code().clone());
        for c in &mut w2.consents {
            let (mut disclosing, mut viewing) = match &c.scope {
                ConsentScope::SelectedFacilities { disclosing, viewing } => (disclosing.clone(), viewing.clone()),
                _ => ((0..3).map(code).collect(), (0..3).map(code).collect()),
            };
            if drop_viewer {
                viewing.remove(&acting);
            } else {
                disclosing.remove(&source);
            }
            c.scope = ConsentScope::SelectedFacilities { disclosing, viewing };
        }
        let d2 = w2.decide();
        if w.purpose != Purpose::Emergency {
            prop_assert!(!d2.is_allowed(), "{d2:?}");
            // A scope refusal names the side that is missing, viewer first.
            let scope_of = |id: i64| match &w2.consents.iter().find(|c| c.id == id).unwrap().scope {
                ConsentScope::SelectedFacilities { disclosing, viewing } => (disclosing.clone(), viewing.clone()),
                _ => unreachable!("every scope is per facility now"),
            };
            match d2.refusal() {
                Some(Refusal::ViewingFacilityNotSelected { consent_id }) => {
                    prop_assert!(!scope_of(*consent_id).1.contains(&acting));
                }
                Some(Refusal::DisclosingFacilityNotSelected { consent_id }) => {
                    let (disclosing, viewing) = scope_of(*consent_id);
                    prop_assert!(viewing.contains(&acting) && !disclosing.contains(&source));
                    prop_assert!(!drop_viewer);
                }
                _ => {}
            }
        }
    }

    /// (4) Allowed implies the matrix cell, administration only for basic information, and
    /// every fixed rule about users, facilities and links.
    #[test]
    fn allowed_respects_every_fixed_rule(w in world()) {
        if w.decide().is_allowed() {
            prop_assert!(w.matrix.allows(w.user.profession, w.category));
            prop_assert!(w.purpose != Purpose::Administration || w.category == RecordCategory::BasicInfo);
            prop_assert!(w.user.active);
            prop_assert!(w.user.facilities.contains(w.acting_code()));
            let (a, s) = (&w.facilities[w.acting], &w.facilities[w.source]);
            prop_assert!(a.status == FacilityStatus::Participating && a.views);
            prop_assert!(s.status == FacilityStatus::Participating && s.discloses);
            prop_assert!(w.link_active());
        }
        // Taking the cell away refuses, whatever else holds.
        let mut w2 = w.clone();
        w2.matrix.set(w.user.profession, w.category, false);
        prop_assert!(!w2.decide().is_allowed());
    }

    /// (5) Deterministic, total, and the audit entry matches the decision.
    #[test]
    fn deterministic_and_total(w in world()) {
        let d = w.decide();
        prop_assert_eq!(&d, &w.clone().decide());
        let e = w.request().audit_entry(&d);
        prop_assert_eq!(e.code.as_str(), d.code());
        prop_assert_eq!(e.decision, d);
    }
}

/// The generator reaches every outcome, and allowed ones often enough, for the properties above to mean
/// something.
#[test]
fn generator_reaches_allowed_and_refused() {
    let mut runner = TestRunner::deterministic();
    let strategy = world();
    let (mut consent, mut glass, mut refused) = (0, 0, 0);
    let mut hist = std::collections::BTreeMap::new();
    let n = 2000;
    for _ in 0..n {
        let w = strategy.new_tree(&mut runner).unwrap().current();
        *hist.entry(w.decide().code()).or_insert(0) += 1;
        match w.decide().basis() {
            Some(Basis::Consent { .. }) => consent += 1,
            Some(Basis::BreakGlass { .. }) => glass += 1,
            None => refused += 1,
        }
    }
    let seen = format!("allowed by consent {consent}, by break-the-glass {glass}, refused {refused} of {n}: {hist:?}");
    assert!(consent * 25 >= n, "{seen}");
    assert!(glass * 100 >= n, "{seen}");
    assert!(refused * 2 >= n, "{seen}");
    // Every refusal reason (22) and "allowed" come up.
    assert_eq!(hist.len(), 23, "{seen}");
}
