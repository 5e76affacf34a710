//! ADT and problems through the viewer (issue 14): AL1 of the demographics is an allergy the
//! allergy card and the drug-allergy check see (fault 1); cancel messages stored as current
//! files of their own cancel the event they name on the summary, the timeline and the
//! record page (fault 4); stays pair admission and discharge; a diagnosis recorded at two
//! facilities is one entry with both, ended ones kept.

use model::{ConsentScope, Date, Purpose, UnixTime};
use service::{ConsentInput, TimelineQuery};
use ssmix2::{Condition, DataKind};

mod common;

use common::{file_path, fixture_text, put};

const NO_ORDER: &str = "999999999999999";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn al1_allergies_cancel_messages_stays_and_diagnoses_reach_the_viewer() {
    let common::Fixture {
        dir: _dir,
        region,
        store,
        net,
        ..
    } = common::imported_region(12, 11).await;
    let common::Enrolled {
        admin,
        office,
        a,
        b,
        id,
        ..
    } = common::enrolled_pair(&net, &store).await;
    let (dr, _care) =
        common::doctor_and_care_worker(&net, &admin, &b.facility, "dr.b", "care.b").await;
    let today = UnixTime::now().date_jst();
    let day = |k: i64| store::date_of_day(today.days() + k);
    let (root_a, root_b) = (
        region.join(a.facility.as_str()),
        region.join(b.facility.as_str()),
    );
    let pa = a.local_id.as_str();

    // Demographics with an AL1 drug allergy to ダーゼン (HOT 108665201) — no ADT-61 sent.
    let adt00 = fixture_text("ADT-00").replace("9999013", pa).replace(
        "AL1|1|DA^薬剤アレルギー^HL70127|1^ペニシリン^99XYZ",
        "AL1|1|DA^薬剤アレルギー^HL70127|108665201^ダーゼン^HOT9|SV^重症^HL70128|発疹",
    );
    put(
        &file_path(
            &root_a,
            pa,
            "-",
            DataKind::Adt00,
            NO_ORDER,
            &format!("{}235900000", day(1)),
            Condition::Current,
        ),
        &adt00,
    );
    // A prescription of that drug today.
    let rx = {
        let text = fixture_text("OMP-01");
        let second = text
            .match_indices("\nORC|")
            .nth(1)
            .map(|(i, _)| i)
            .expect("two Rp");
        format!("{}\n", &text[..second])
            .replace("9999013", pa)
            .replace("000000011000185", "810000000000001")
            .replace(
                "|5^D&日&ISO+|20110701|20110705",
                &format!("|14^D&日&ISO+|{}|", day(0)),
            )
            .replace("20110701", &day(0))
    };
    put(
        &file_path(
            &root_a,
            pa,
            &day(0),
            DataKind::Omp01,
            "810000000000001",
            &format!("{}090000000", day(0)),
            Condition::Current,
        ),
        &rx,
    );

    // An order cancel (ORC-1 CA) stored as a current file of its own.
    put(
        &file_path(
            &root_a,
            pa,
            &day(0),
            DataKind::Omp01,
            "810000000000002",
            &format!("{}100000000", day(0)),
            Condition::Current,
        ),
        &rx.replace("810000000000001", "810000000000002")
            .replace("ORC|NW|", "ORC|CA|"),
    );
    // An admission two days ago (with seconds and a zone), cancelled by an A11 stored as a
    // current file of its own; an admission yesterday morning with its discharge today.
    let admit = |date: &str, at: &str| {
        fixture_text("ADT-22")
            .replace("9999013", pa)
            .replace("20111120100000", at)
            .replace("|||||20111120\n", &format!("|||||{date}\n"))
    };
    let cancelled_at = format!("{}103000+0900", day(-2));
    put(
        &file_path(
            &root_a,
            pa,
            &day(-2),
            DataKind::Adt22,
            NO_ORDER,
            &format!("{}103100000", day(-2)),
            Condition::Current,
        ),
        &admit(&day(-2), &cancelled_at),
    );
    put(
        &file_path(
            &root_a,
            pa,
            &day(-2),
            DataKind::Adt22,
            NO_ORDER,
            &format!("{}120000000", day(-2)),
            Condition::Current,
        ),
        &admit(&day(-2), &cancelled_at).replace("ADT^A01^ADT_A01", "ADT^A11^ADT_A09"),
    );
    let stay_at = format!("{}090000", day(-1));
    put(
        &file_path(
            &root_a,
            pa,
            &day(-1),
            DataKind::Adt22,
            NO_ORDER,
            &format!("{}090100000", day(-1)),
            Condition::Current,
        ),
        &admit(&day(-1), &stay_at),
    );
    let out_at = format!("{}110000", day(0));
    let discharge = fixture_text("ADT-52")
        .replace("9999013", pa)
        .replace("20111120100000", &stay_at)
        .replace("20111228110000", &out_at)
        .replace(
            &format!("|01||||||||{stay_at}|"),
            &format!("|01^自宅^HL70112||||||||{stay_at}|"),
        );
    put(
        &file_path(
            &root_a,
            pa,
            &day(0),
            DataKind::Adt52,
            NO_ORDER,
            &format!("{}110100000", day(0)),
            Condition::Current,
        ),
        &discharge,
    );

    // The same diagnosis (胃炎, MEDIS 20054174) at both facilities; one ended at A.
    put(
        &file_path(
            &root_a,
            pa,
            "-",
            DataKind::Ppr01,
            NO_ORDER,
            &format!("{}235900000", day(1)),
            Condition::Current,
        ),
        &fixture_text("PPR-01").replace("9999013", pa),
    );
    put(
        &file_path(
            &root_b,
            &b.local_id,
            "-",
            DataKind::Ppr01,
            NO_ORDER,
            &format!("{}235900000", day(1)),
            Condition::Current,
        ),
        &fixture_text("PPR-01")
            .replace("9999013", &b.local_id)
            .replace("|20110915|K297^^I10", "||K297^^I10"),
    );
    common::import(&store, &root_a, &a.facility).await;
    common::import(&store, &root_b, &b.facility).await;
    net.record_consent(
        &office,
        ConsentInput {
            regional_id: id.clone(),
            scope: ConsentScope::AllFacilities,
            valid_from: Date::parse("2020-01-01").expect("date"),
            valid_until: None,
            paper_form: "同意書 No.0014".into(),
            implied: false,
        },
    )
    .await
    .expect("consent");

    let s = net.patient_summary(&dr, &id).await.expect("summary");
    assert!(s.refused.is_empty(), "{:?}", s.refused);

    // Fault 1: the AL1 is on the allergy card and drives the drug-allergy alert.
    let al1 = s
        .allergies
        .iter()
        .find(|x| x.kind == "ADT-00" && x.fact.allergen_code == "108665201")
        .expect("AL1 allergy on the card");
    assert_eq!(al1.fact.allergen_name, "ダーゼン");
    assert_eq!(al1.fact.severity, "重症");
    assert_eq!(al1.fact.reaction, "発疹");
    assert_eq!(al1.fact.detail.segment, "AL1");
    assert!(
        s.drug_allergies
            .iter()
            .any(|w| w.allergy.kind == "ADT-00" && w.medication.line.order_no == "810000000000001"),
        "drug-allergy alert from AL1: {:?}",
        s.drug_allergies
    );

    // Fault 4: the cancelled admission is struck, not live; the cancel is no stay of its own.
    let stays: Vec<_> = s
        .encounters
        .stays
        .iter()
        .filter(|st| st.source == a.facility)
        .collect();
    let cancelled = stays
        .iter()
        .find(|st| {
            st.admission
                .as_ref()
                .is_some_and(|ad| ad.fact.admitted_at == cancelled_at)
        })
        .expect("the cancelled admission is listed");
    assert!(cancelled.is_cancelled());
    assert!(stays
        .iter()
        .all(|st| st
            .admission
            .as_ref()
            .is_none_or(|ad| ad.fact.detail.cancels.is_empty())));
    assert!(s.encounters.unmatched_cancels.is_empty());
    // Stays pair: yesterday's admission with today's discharge and its disposition.
    let stay = stays
        .iter()
        .find(|st| {
            st.admission
                .as_ref()
                .is_some_and(|ad| ad.fact.admitted_at == stay_at)
        })
        .expect("yesterday's stay");
    assert!(!stay.is_cancelled());
    let d = stay.discharge.as_ref().expect("paired discharge");
    assert_eq!(d.fact.discharged_at, out_at);
    assert_eq!(
        (
            d.fact.detail.disposition.as_str(),
            d.fact.detail.disposition_text.as_str()
        ),
        ("01", "自宅")
    );
    assert_eq!(
        stay.admission
            .as_ref()
            .map(|ad| ad.fact.detail.department_label.as_str()),
        Some("01 内科")
    );
    // Newest first: today's discharge leads the list.
    assert_eq!(
        s.encounters.stays.first().map(|st| st.source.clone()),
        Some(a.facility.clone())
    );

    // Diagnoses: 胃炎 once, with both facilities; ended at A, active at B.
    let gastritis: Vec<_> = s
        .diagnosis_history
        .iter()
        .filter(|g| g.medis_code == "20054174")
        .collect();
    assert_eq!(gastritis.len(), 1, "{gastritis:#?}");
    let g = gastritis[0];
    assert!(g
        .sources
        .iter()
        .any(|x| x.source == a.facility && !x.is_active()));
    assert!(g
        .sources
        .iter()
        .any(|x| x.source == b.facility && x.is_active()));
    assert!(g.is_active() && g.is_main());
    assert_eq!(g.icd10, "K297");
    // The deleted one (PRB-1 DE) is not in the history.
    assert!(!s
        .diagnosis_history
        .iter()
        .any(|g| g.medis_code == "20063539"));

    // Timeline: the A11 is labelled a cancel message, the admission it cancels is marked.
    let t = net
        .timeline(
            &dr,
            &id,
            Purpose::Care,
            None,
            &TimelineQuery {
                kinds: Some(vec!["ADT-22".into()]),
                ..Default::default()
            },
        )
        .await
        .expect("timeline");
    let of_day: Vec<_> = t
        .items
        .iter()
        .filter(|it| it.source == a.facility && it.record.date == day(-2))
        .collect();
    assert_eq!(of_day.len(), 2, "{of_day:#?}");
    let cancel = of_day
        .iter()
        .find(|it| it.cancel_message)
        .expect("cancel message");
    let event = of_day
        .iter()
        .find(|it| !it.cancel_message)
        .expect("the admission");
    assert!(event.cancelled_by_message);
    assert!(!cancel.cancelled_by_message);
    assert!(t
        .items
        .iter()
        .filter(|it| it.record.date == day(-1) && it.source == a.facility)
        .all(|it| !it.cancelled_by_message && !it.cancel_message));

    // Record page data: the admission says which message cancels it.
    let detail = net
        .record_detail(&dr, &id, event.record.version_id, Purpose::Care, None)
        .await
        .expect("detail");
    assert_eq!(detail.cancelled_by, Some(cancel.record.version_id));
    assert!(!detail.cancel_message);
    let detail = net
        .record_detail(&dr, &id, cancel.record.version_id, Purpose::Care, None)
        .await
        .expect("detail");
    assert!(detail.cancel_message);

    // The order cancel's record page says it is one (its lines are not listed: no facts).
    let t = net
        .timeline(
            &dr,
            &id,
            Purpose::Care,
            None,
            &TimelineQuery {
                kinds: Some(vec!["OMP-01".into()]),
                ..Default::default()
            },
        )
        .await
        .expect("timeline");
    let fa = store
        .facility(&a.facility, false)
        .await
        .expect("facility")
        .expect("known");
    let quarantined: Vec<String> = store
        .quarantine(fa)
        .await
        .expect("quarantine")
        .into_iter()
        .map(|q| format!("{q:?}"))
        .filter(|q| q.contains("810000000000002"))
        .collect();
    let ca = t
        .items
        .iter()
        .find(|it| it.record.order_no == "810000000000002")
        .unwrap_or_else(|| {
            panic!(
                "the order cancel: {:?} {:?}",
                quarantined,
                t.items
                    .iter()
                    .map(|it| (&it.record.order_no, &it.record.date, it.record.condition))
                    .collect::<Vec<_>>()
            )
        });
    let detail = net
        .record_detail(&dr, &id, ca.record.version_id, Purpose::Care, None)
        .await
        .expect("detail");
    assert!(detail.cancel_message);
    assert!(!s
        .current_medications
        .iter()
        .any(|m| m.line.line.order_no == "810000000000002"));
}
