//! Patient search, the timeline and the record detail on a real embedded store with a
//! synthetic region: what a clinician finds, pages through and opens, and what stays hidden.

use std::collections::HashSet;

use model::{ConsentScope, Date, Purpose, RegionalId};
use service::{ConsentInput, Network, Principal, SearchInput, ServiceError, TimelineQuery};
use ssmix2::Condition;

mod common;

fn hiragana(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'ァ'..='ヶ' => char::from_u32(c as u32 - 0x60).unwrap_or(c),
            _ => c,
        })
        .collect()
}

async fn search(net: &Network, who: &Principal, input: SearchInput) -> Vec<Option<RegionalId>> {
    let c = input.criteria().expect("criteria");
    net.search_patients(who, &c)
        .await
        .expect("search")
        .hits
        .into_iter()
        .map(|h| h.regional_id)
        .collect()
}

fn by_name(name: &str) -> SearchInput {
    SearchInput {
        name: name.into(),
        ..Default::default()
    }
}

async fn consent_all(net: &Network, office: &Principal, id: &RegionalId) {
    net.record_consent(
        office,
        ConsentInput {
            regional_id: id.clone(),
            scope: ConsentScope::AllFacilities,
            valid_from: Date::parse("2000-01-01").expect("date"),
            valid_until: None,
            paper_form: "同意書".into(),
            implied: false,
        },
    )
    .await
    .expect("consent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_finds_only_visible_patients_and_the_timeline_pages_through_the_gate() {
    let fx = common::imported_region(40, 7).await;
    let net = &fx.net;
    let common::Enrolled {
        admin,
        office,
        a,
        b,
        id,
        ..
    } = common::enrolled_pair(net, &fx.store).await;
    let (dr, care) = common::doctor_and_care_worker(net, &admin, &b.facility, "dr", "care").await;
    let demo = fx
        .store
        .local_patient(&a)
        .await
        .expect("demographics")
        .expect("ADT-00 imported");
    let family_kana = demo
        .name_kana
        .split([' ', '　'])
        .next()
        .expect("family name")
        .to_owned();

    // Before consent: neither the exact name nor the regional ID finds the patient, and the
    // answer is the same as for nobody at all.
    let nobody = search(net, &dr, by_name("ンンンン")).await;
    assert!(nobody.is_empty());
    let exact = search(net, &dr, by_name(&demo.name_kana)).await;
    assert!(!exact.contains(&Some(id.clone())), "no consent, no hit");
    let by_id = SearchInput {
        regional_id: id.to_string(),
        ..Default::default()
    };
    let c = by_id.criteria().expect("criteria");
    let r = net.search_patients(&dr, &c).await.expect("search");
    assert!(
        r.hits.is_empty() && !r.more,
        "indistinguishable from nobody"
    );

    consent_all(net, &office, &id).await;

    // Kana: hiragana input finds the katakana entry (family name prefix).
    let hits = search(net, &dr, by_name(&hiragana(&family_kana))).await;
    assert!(hits.contains(&Some(id.clone())), "hiragana family name");
    // Kanji with the full name, birth date alone, birth date + sex.
    let hits = search(net, &dr, by_name(&demo.name_kanji)).await;
    assert_eq!(hits, [Some(id.clone())], "full kanji name");
    let birth = format!(
        "{}-{}-{}",
        &demo.birth_date[..4],
        &demo.birth_date[4..6],
        &demo.birth_date[6..]
    );
    let hits = search(
        net,
        &dr,
        SearchInput {
            birth_date: birth.clone(),
            sex: demo.sex.clone(),
            ..Default::default()
        },
    )
    .await;
    assert!(hits.contains(&Some(id.clone())), "birth date + sex");
    let r = net
        .search_patients(&dr, &by_id.criteria().expect("c"))
        .await
        .expect("search");
    assert_eq!(r.hits.len(), 1, "regional ID goes straight to the patient");
    assert_eq!(r.hits[0].name_kanji, demo.name_kanji);
    assert!(r.hits[0].age.is_some());
    assert!(
        r.hits[0].facilities.len() >= 2,
        "every linked facility listed"
    );

    // A variant kanji (髙 for 高, 﨑 for 崎…) in the query finds the standard form: enrol a
    // patient whose name has a foldable kanji, with consent.
    let locals = fx.store.local_patients().await.expect("locals");
    let variant = locals.iter().find_map(|(lp, d)| {
        d.name_kanji.chars().find_map(|c| {
            mpi::normalize::VARIANT_KANJI
                .iter()
                .find(|(_, std)| *std == c)
                .map(|(v, std)| {
                    (
                        lp.clone(),
                        d.clone(),
                        d.name_kanji.replace(*std, &v.to_string()),
                    )
                })
        })
    });
    if let Some((lp, d, query)) = variant {
        let vid = match fx.store.regional_id_of(&lp).await.expect("of") {
            Some(v) => v,
            None => net
                .enroll(&office, std::slice::from_ref(&lp))
                .await
                .expect("enroll"),
        };
        if vid != id {
            consent_all(net, &office, &vid).await;
        }
        let hits = search(net, &dr, by_name(&query)).await;
        assert!(
            hits.contains(&Some(vid.clone())),
            "{query} finds {}",
            d.name_kanji
        );
    }

    // A patient enrolled without consent stays invisible even by exact name and ID; the
    // office still finds the local patient (no clinical data) and its link.
    let (other, other_d) = locals
        .iter()
        .find(|(lp, _)| *lp != a && *lp != b)
        .cloned()
        .expect("another patient");
    let other_id = match fx.store.regional_id_of(&other).await.expect("of") {
        Some(x) => x,
        None => net
            .enroll(&office, std::slice::from_ref(&other))
            .await
            .expect("enroll"),
    };
    let unconsented = fx.store.consents_of(&other_id).await.expect("c").is_empty();
    if unconsented {
        let hits = search(net, &dr, by_name(&other_d.name_kanji)).await;
        assert!(
            !hits.contains(&Some(other_id.clone())),
            "no consent: not found by name"
        );
        let hits = search(
            net,
            &dr,
            SearchInput {
                regional_id: other_id.to_string(),
                ..Default::default()
            },
        )
        .await;
        assert!(hits.is_empty(), "nor by regional ID");
    }
    let office_hits = net
        .search_patients(
            &office,
            &by_name(&other_d.name_kanji).criteria().expect("c"),
        )
        .await
        .expect("office search");
    assert!(office_hits
        .hits
        .iter()
        .any(|h| h.regional_id.as_ref() == Some(&other_id)));

    // Each search is one audit entry with its number of results.
    let searches = net
        .user_activity(&admin, "dr")
        .await
        .expect("activity")
        .into_iter()
        .filter(|e| e.event.action == audit::Action::Search)
        .count();
    assert!(searches >= 6, "{searches} search entries");

    // --- Timeline ------------------------------------------------------------------------
    let access = net
        .patient_records(&dr, &id, Purpose::Care, None)
        .await
        .expect("records");
    let expected: Vec<i64> = {
        let mut v: Vec<_> = access
            .allowed
            .iter()
            .filter(|i| i.record.condition != Condition::Superseded)
            .map(|i| store::RecordCursor::of(&i.record))
            .collect();
        v.sort();
        v.reverse();
        v.into_iter().map(|c| c.version_id).collect()
    };
    assert!(expected.len() > 10, "a real history: {}", expected.len());
    let mut seen = Vec::new();
    let mut q = TimelineQuery {
        limit: 7,
        ..Default::default()
    };
    loop {
        let page = net
            .timeline(&dr, &id, Purpose::Care, None, &q)
            .await
            .expect("page");
        assert!(page.items.len() <= 7);
        seen.extend(page.items.iter().map(|i| i.record.version_id));
        match page.next {
            Some(c) => q.before = Some(c),
            None => break,
        }
    }
    assert_eq!(
        seen, expected,
        "every allowed record once, newest first, across pages"
    );

    // Filters: kind, facility, date range.
    let labs = net
        .timeline(
            &dr,
            &id,
            Purpose::Care,
            None,
            &TimelineQuery {
                kinds: Some(vec!["OML-11".into()]),
                ..Default::default()
            },
        )
        .await
        .expect("labs");
    assert!(labs.items.iter().all(|i| i.record.kind == "OML-11"));
    let only_a = net
        .timeline(
            &dr,
            &id,
            Purpose::Care,
            None,
            &TimelineQuery {
                facility: Some(a.facility.clone()),
                limit: 1000,
                ..Default::default()
            },
        )
        .await
        .expect("facility");
    assert!(!only_a.items.is_empty());
    assert!(only_a.items.iter().all(|i| i.source == a.facility));
    let dated: Vec<&str> = access
        .allowed
        .iter()
        .map(|i| i.record.date.as_str())
        .filter(|d| *d != "-")
        .collect();
    let mid = {
        let mut d = dated.clone();
        d.sort();
        d[d.len() / 2].to_owned()
    };
    let ranged = net
        .timeline(
            &dr,
            &id,
            Purpose::Care,
            None,
            &TimelineQuery {
                from: Some(mid.clone()),
                to: Some(mid.clone()),
                ..Default::default()
            },
        )
        .await
        .expect("range");
    assert!(!ranged.items.is_empty());
    assert!(ranged.items.iter().all(|i| i.record.date == mid));

    // A care worker: refused categories are not read, each refusal audited with its reason.
    let tl = net
        .timeline(&care, &id, Purpose::Care, None, &TimelineQuery::default())
        .await
        .expect("care timeline");
    assert!(tl
        .refused
        .iter()
        .any(|r| r.covers(model::RecordCategory::LabResults)));
    assert!(tl.items.iter().all(|i| matches!(
        i.category,
        model::RecordCategory::BasicInfo | model::RecordCategory::Allergies
    )));
    let entries = net.user_activity(&admin, "care").await.expect("activity");
    assert!(entries
        .iter()
        .any(|e| e.event.detail == "timeline: not read"
            && e.event.target.ends_with("/lab_results")
            && !e.event.outcome.is_allowed()));

    // --- Detail ---------------------------------------------------------------------------
    let first = net
        .timeline(&dr, &id, Purpose::Care, None, &TimelineQuery::default())
        .await
        .expect("timeline")
        .items
        .into_iter()
        .find(|i| i.record.kind.starts_with("OM"))
        .expect("an order");
    let d = net
        .record_detail(&dr, &id, first.record.version_id, Purpose::Care, None)
        .await
        .expect("detail");
    assert!(d.segments.iter().any(|s| s.name == "MSH"), "decoded");
    assert!(d.segments.iter().any(|s| s.name == "PID"));
    assert!(d.history.iter().any(|h| h.shown));
    // A care worker may not open a lab record: refused with the reason, never the content.
    if let Some(lab) = access.allowed.iter().find(|i| i.record.kind == "OML-11") {
        match net
            .record_detail(&care, &id, lab.record.version_id, Purpose::Care, None)
            .await
        {
            Err(ServiceError::Forbidden(reason)) => assert!(!reason.is_empty()),
            other => panic!("expected a refusal, got {:?}", other.map(|d| d.record)),
        }
    }
    // A version of a patient not linked to this regional ID: not found, as if it did not exist.
    let other_fid = fx
        .store
        .facility(&other.facility, false)
        .await
        .expect("f")
        .expect("f");
    let foreign = fx
        .store
        .patient_records(other_fid, &other.local_id)
        .await
        .expect("records");
    let foreign_version = foreign
        .first()
        .expect("records of another patient")
        .version_id;
    let nf = |r: Result<service::RecordDetail, ServiceError>| {
        matches!(r, Err(ServiceError::NotFound(_)))
    };
    assert!(nf(net
        .record_detail(&dr, &id, foreign_version, Purpose::Care, None)
        .await));
    assert!(nf(net
        .record_detail(&dr, &id, i64::MAX, Purpose::Care, None)
        .await));
    let unique: HashSet<i64> = seen.iter().copied().collect();
    assert_eq!(unique.len(), seen.len());
}
