//! What a refused clinician learns: the reason, and nothing about the patient — no facility,
//! no local patient ID, no record count (issue 13, finding 2); and break-the-glass as its own
//! audited act that only licensed clinicians may start (findings 13 and 15).

use model::{ConsentScope, Date, LocalPatient, Profession, Purpose, RecordCategory, RegionalId};
use serde::Serialize;
use service::{ConsentInput, Network, Principal, ServiceError, TimelineQuery};

mod common;

use common::sign_in;

/// The JSON of a response without its `regional_id` (digits that may contain a local ID by
/// chance), as text.
fn json_without_id(value: &impl Serialize) -> String {
    let mut v = serde_json::to_value(value).expect("json");
    if let Some(o) = v.as_object_mut() {
        o.remove("regional_id");
    }
    v.to_string()
}

/// Every screen of `id` for `who`, as JSON (`regional_id` left out), and the refusal lists.
async fn every_screen(
    net: &Network,
    who: &Principal,
    id: &RegionalId,
) -> (
    Vec<(&'static str, String)>,
    Vec<Vec<service::AccessRefusal>>,
) {
    let records = net
        .patient_records(who, id, Purpose::Care, None)
        .await
        .expect("records");
    let summary = net.patient_summary(who, id).await.expect("summary");
    let labs = net.lab_matrix(who, id, None, None).await.expect("labs");
    let meds = net.medications(who, id).await.expect("medications");
    let timeline = net
        .timeline(who, id, Purpose::Care, None, &TimelineQuery::default())
        .await
        .expect("timeline");
    let refused = vec![
        records.refused.clone(),
        summary.refused.clone(),
        labs.refused.clone(),
        meds.refused.clone(),
        timeline.refused.clone(),
    ];
    (
        vec![
            ("records", json_without_id(&records)),
            ("summary", json_without_id(&summary)),
            ("labs", json_without_id(&labs)),
            ("medications", json_without_id(&meds)),
            ("timeline", json_without_id(&timeline)),
        ],
        refused,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_names_no_facility_local_id_or_count() {
    let fx = common::imported_region(12, 11).await;
    let net = &fx.net;
    let common::Enrolled {
        admin,
        office,
        a,
        b,
        id,
        ..
    } = common::enrolled_pair(net, &fx.store).await;
    // A doctor at a third facility: the patient is treated at A and B, not here.
    let facilities = fx.store.facilities().await.expect("facilities");
    let (_, here) = facilities
        .iter()
        .find(|(_, c)| *c != a.facility && *c != b.facility)
        .expect("a third facility")
        .clone();
    common::add_user(net, &admin, "dr.c", Profession::Doctor, vec![here.clone()]).await;
    common::add_user(net, &admin, "care.c", Profession::CareWorker, vec![here]).await;
    let dr = sign_in(net, "dr.c", None, 0).await;
    let care = sign_in(net, "care.c", None, 0).await;

    // A second patient without consent, seen at one facility only.
    let linked: Vec<LocalPatient> = vec![a.clone(), b.clone()];
    let mut single = None;
    for (lp, _) in fx.store.local_patients().await.expect("locals") {
        if !linked.contains(&lp) && fx.store.regional_id_of(&lp).await.expect("of").is_none() {
            single = Some(lp);
            break;
        }
    }
    let single = single.expect("an unlinked local patient");
    let other = net
        .enroll(&office, std::slice::from_ref(&single))
        .await
        .expect("enroll");

    let secrets: Vec<String> = [&a, &b, &single]
        .iter()
        .flat_map(|lp| {
            [
                lp.facility.to_string(),
                format!("施設{}", lp.facility),
                lp.local_id.clone(),
            ]
        })
        .collect();
    for who in [&dr, &care] {
        let (screens, refused) = every_screen(net, who, &id).await;
        for (screen, json) in &screens {
            for secret in &secrets {
                assert!(
                    !json.contains(secret.as_str()),
                    "{screen} tells {secret:?}: {json}"
                );
            }
        }
        for list in &refused {
            assert!(!list.is_empty(), "the reason is given");
            let codes: std::collections::BTreeSet<&str> =
                list.iter().map(|r| r.code.as_str()).collect();
            assert_eq!(codes.len(), list.len(), "each reason once: {list:?}");
            for r in list {
                let keys: Vec<String> = serde_json::to_value(r)
                    .expect("json")
                    .as_object()
                    .expect("object")
                    .keys()
                    .cloned()
                    .collect();
                assert_eq!(keys, ["categories", "code", "reason"], "{r:?}");
            }
        }
        // The same answer for a patient with records at two facilities and one with records
        // at one: the refusal depends on the consent and the rules, not on the records.
        let (_, other_refused) = every_screen(net, who, &other).await;
        assert_eq!(refused, other_refused);
    }
    let (_, refused) = every_screen(net, &dr, &id).await;
    assert!(refused.iter().flatten().all(|r| r.code == "no_consent"
        && r.categories == RecordCategory::ALL.to_vec()
        && r.lifted_by_break_glass()));

    // A record version of the patient and one that does not exist get the same answer.
    let fid = fx
        .store
        .facility(&a.facility, false)
        .await
        .expect("f")
        .expect("f");
    let version = fx
        .store
        .patient_records(fid, &a.local_id)
        .await
        .expect("records")
        .first()
        .expect("a record")
        .version_id;
    let answer = |r: Result<service::RecordDetail, ServiceError>| match r {
        Err(e) => format!("{e:?}"),
        Ok(d) => panic!("record {} shown", d.record.version_id),
    };
    let real = answer(
        net.record_detail(&dr, &id, version, Purpose::Care, None)
            .await,
    );
    let unknown = answer(
        net.record_detail(&dr, &id, i64::MAX, Purpose::Care, None)
            .await,
    );
    assert_eq!(real, unknown);
    assert!(real.contains("no consent"), "{real}");

    // With consent for A → this facility only, B's records are refused for lack of the
    // patient's permission — which says B treats the patient — so B is never named: not
    // in the refusals, not in the facility names, not in the timeline's facility filter.
    net.record_consent(
        &office,
        ConsentInput {
            regional_id: id.clone(),
            scope: ConsentScope::SelectedFacilities {
                disclosing: [a.facility.clone()].into_iter().collect(),
                viewing: [dr.facility().expect("acting").clone()]
                    .into_iter()
                    .collect(),
            },
            valid_from: Date::parse("2020-01-01").expect("date"),
            valid_until: None,
            paper_form: "同意書".into(),
            implied: false,
        },
    )
    .await
    .expect("consent");
    let summary = net.patient_summary(&dr, &id).await.expect("summary");
    assert!(summary.refused.is_empty(), "{:?}", summary.refused);
    assert!(!summary.facility_names.contains_key(&b.facility));
    assert!(summary.facility_names.contains_key(&a.facility));
    let timeline = net
        .timeline(&dr, &id, Purpose::Care, None, &TimelineQuery::default())
        .await
        .expect("timeline");
    assert!(timeline.sources.iter().all(|s| s.code != b.facility));
    assert!(timeline.items.iter().all(|i| i.source == a.facility));
    // The office's log has B's refusals in full.
    let saw = net.who_saw(&office, &id).await.expect("who saw");
    assert!(saw.iter().any(|e| e.event.actor == "dr.c"
        && e.event
            .target
            .starts_with(&format!("{}/{}/", b.facility, b.local_id))
        && matches!(&e.event.outcome, audit::Outcome::Refused { code, .. }
            if code == "disclosing_facility_not_selected")));
}

/// The BreakGlass entries of the log, as (actor, allowed, refusal code).
async fn break_glass_entries(net: &Network) -> Vec<(String, bool, String)> {
    net.store()
        .audit_range(1, 0)
        .await
        .expect("audit")
        .into_iter()
        .filter(|e| e.event.action == audit::Action::BreakGlass)
        .map(|e| {
            let code = match &e.event.outcome {
                audit::Outcome::Refused { code, .. } => code.clone(),
                _ => String::new(),
            };
            (e.event.actor, e.event.outcome.is_allowed(), code)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn break_the_glass_is_its_own_act_and_only_for_licensed_clinicians() {
    let fx = common::imported_region(12, 11).await;
    let net = &fx.net;
    let common::Enrolled { admin, b, id, .. } = common::enrolled_pair(net, &fx.store).await;
    let (dr, care) =
        common::doctor_and_care_worker(net, &admin, &b.facility, "dr.b", "care.b").await;

    // Reading with purpose=emergency (and a reason, as the old GET had it) starts nothing.
    for who in [&dr, &care] {
        let view = net
            .patient_records(who, &id, Purpose::Emergency, Some("意識障害"))
            .await
            .expect("view");
        assert!(view.allowed.is_empty() && view.break_glass.is_none());
        let s = net
            .patient_summary_for(who, &id, Purpose::Emergency, Some("意識障害"))
            .await
            .expect("summary");
        assert!(s.demographics.is_empty() && s.break_glass.is_none());
    }
    assert!(break_glass_entries(net).await.is_empty());
    let view = net
        .patient_records(&dr, &id, Purpose::Emergency, None)
        .await
        .expect("view");
    assert_eq!(
        view.refused
            .iter()
            .map(|r| r.code.as_str())
            .collect::<Vec<_>>(),
        ["break_glass_required"]
    );

    // A care worker may not break the glass: refused, and audited as refused (flagged for
    // the office's review), never as an allowed emergency.
    let err = net
        .start_break_glass(&care, &id, "転倒して意識がない")
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::Forbidden(_)), "{err:?}");
    assert_eq!(
        break_glass_entries(net).await,
        [(
            "care.b".to_owned(),
            false,
            "break_glass_not_allowed_for_profession".to_owned()
        )]
    );
    let view = net
        .patient_records(&care, &id, Purpose::Emergency, None)
        .await
        .expect("view");
    assert!(view.allowed.is_empty() && view.break_glass.is_none());
    let review = net.emergency_review(&admin).await.expect("review");
    assert!(review.iter().any(|e| e.event.actor == "care.b"
        && e.event.action == audit::Action::BreakGlass
        && !e.event.outcome.is_allowed()));

    // No reason, no acting facility, a facility system, an unknown patient: refused, each
    // audited with its code.
    assert!(matches!(
        net.start_break_glass(&dr, &id, "   ").await,
        Err(ServiceError::Invalid(_))
    ));
    let Principal::User { user, .. } = dr.clone() else {
        panic!("a user")
    };
    let nowhere = Principal::User {
        user,
        acting_for: None,
    };
    assert!(matches!(
        net.start_break_glass(&nowhere, &id, "救急搬送").await,
        Err(ServiceError::Invalid(_))
    ));
    let facility = fx
        .store
        .facility_details(&b.facility)
        .await
        .expect("f")
        .expect("f");
    let system = Principal::FacilitySystem {
        facility,
        key_prefix: "rk_test".into(),
    };
    assert!(matches!(
        net.start_break_glass(&system, &id, "救急搬送").await,
        Err(ServiceError::Forbidden(_))
    ));
    let unknown = RegionalId::issue(999, 1);
    assert!(matches!(
        net.start_break_glass(&dr, &unknown, "救急搬送").await,
        Err(ServiceError::NotFound(_))
    ));
    let codes: Vec<String> = break_glass_entries(net)
        .await
        .into_iter()
        .map(|(_, allowed, code)| {
            assert!(!allowed);
            code
        })
        .collect();
    assert_eq!(
        codes,
        [
            "break_glass_not_allowed_for_profession",
            "break_glass_without_reason",
            "no_acting_facility",
            "not_a_user",
            "unknown_patient"
        ]
    );

    // The doctor starts it: allowed, audited, and the emergency reads use it.
    let window = net
        .start_break_glass(&dr, &id, " 救急搬送、意識障害 ")
        .await
        .expect("start");
    assert_eq!(window.reason, "救急搬送、意識障害");
    assert_eq!(
        window.expires_at.0 - window.started_at.0,
        policy::Settings::default().break_glass_minutes * 60
    );
    let entries = break_glass_entries(net).await;
    assert_eq!(
        entries.last(),
        Some(&("dr.b".to_owned(), true, String::new()))
    );
    let s = net
        .patient_summary_for(&dr, &id, Purpose::Emergency, None)
        .await
        .expect("summary");
    assert!(!s.demographics.is_empty(), "the window opens the records");
    assert_eq!(s.break_glass, Some(window.clone()));
    // Reading under it starts nothing more.
    assert_eq!(break_glass_entries(net).await.len(), entries.len());
    // Care purpose still needs consent; the window is this doctor's, not the care worker's.
    let s = net.patient_summary(&dr, &id).await.expect("summary");
    assert!(s.demographics.is_empty());
    let view = net
        .patient_records(&care, &id, Purpose::Emergency, None)
        .await
        .expect("view");
    assert!(view.allowed.is_empty());
}
