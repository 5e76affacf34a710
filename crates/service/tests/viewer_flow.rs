//! The viewer's data (summary, lab matrix, medications) on a real embedded store: only what
//! the gate allows comes back, refusals carry their reasons, an updated order's line is
//! replaced and a cancelled one disappears, and two facilities prescribing the same
//! ingredient for overlapping days (二重投薬) or repeating a test (重複検査) are flagged.

use model::{ConsentScope, Date, RecordCategory, UnixTime};
use service::ConsentInput;
use ssmix2::{Condition, DataKind};

mod common;

use common::{file_path, fixture_text, put};

/// A one-drug prescription (the fixture's first Rp) for `patient`, from `start` for `days`.
fn prescription(patient: &str, order: &str, start: &str, days: u32, hot: &str, yj: &str) -> String {
    let text = fixture_text("OMP-01");
    // Keep the first Rp only.
    let second = text
        .match_indices("\nORC|")
        .nth(1)
        .map(|(i, _)| i)
        .expect("two Rp");
    let first_rp = format!("{}\n", &text[..second]);
    first_rp
        .replace("9999013", patient)
        .replace("000000011000185", order)
        .replace("108665201", hot)
        .replace("2149039F1031", yj)
        .replace(
            "|5^D&日&ISO+|20110701|20110705",
            &format!("|{days}^D&日&ISO+|{start}|"),
        )
        .replace("20110701", start)
}

fn lab_result(patient: &str, order: &str, date: &str) -> String {
    fixture_text("OML-11")
        .replace("9999013", patient)
        .replace("000000011000354", order)
        .replace("20111219", date)
        .replace("20111220", date)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewer_shows_only_what_the_gate_allows_and_flags_duplicates() {
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
    let (dr, care) =
        common::doctor_and_care_worker(&net, &admin, &b.facility, "dr.b", "care.b").await;

    // No consent: nothing read, every category refused with its reason.
    let s = net.patient_summary(&dr, &id).await.expect("summary");
    assert!(
        s.demographics.is_empty() && s.latest_labs.is_empty() && s.current_medications.is_empty()
    );
    assert!(!s.refused.is_empty());
    assert!(
        s.refused.iter().all(|r| r.code == "no_consent"),
        "{:?}",
        s.refused
    );

    // Hand-made orders today: A prescribes ダーゼン (YJ 2149039F1031) for 14 days from today;
    // B the same ingredient of another maker (YJ 2149039F1040) for 7 days from 3 days ago.
    // Both did the same lab panel two days apart.
    let today = UnixTime::now().date_jst();
    let day = |k: i64| store::date_of_day(today.days() + k);
    let (root_a, root_b) = (
        region.join(a.facility.as_str()),
        region.join(b.facility.as_str()),
    );
    let (order_a, order_b) = ("800000000000001", "800000000000002");
    let ts = |k: i64| format!("{}090000000", day(k));
    put(
        &file_path(
            &root_a,
            &a.local_id,
            &day(0),
            DataKind::Omp01,
            order_a,
            &ts(0),
            Condition::Current,
        ),
        &prescription(
            &a.local_id,
            order_a,
            &day(0),
            14,
            "108665201",
            "2149039F1031",
        ),
    );
    put(
        &file_path(
            &root_b,
            &b.local_id,
            &day(-3),
            DataKind::Omp01,
            order_b,
            &ts(-3),
            Condition::Current,
        ),
        &prescription(
            &b.local_id,
            order_b,
            &day(-3),
            7,
            "199999901",
            "2149039F1040",
        ),
    );
    put(
        &file_path(
            &root_a,
            &a.local_id,
            &day(-2),
            DataKind::Oml11,
            "800000000000003",
            &ts(-2),
            Condition::Current,
        ),
        &lab_result(&a.local_id, "800000000000003", &day(-2)),
    );
    put(
        &file_path(
            &root_b,
            &b.local_id,
            &day(0),
            DataKind::Oml11,
            "800000000000004",
            &ts(0),
            Condition::Current,
        ),
        &lab_result(&b.local_id, "800000000000004", &day(0)),
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
            paper_form: "同意書 No.0002".into(),
            implied: false,
        },
    )
    .await
    .expect("consent");

    // The doctor sees both facilities: summary, matrix, medications with both warnings.
    let audit_before = store
        .audit_head()
        .await
        .expect("head")
        .map(|h| h.0)
        .unwrap_or(0);
    let s = net.patient_summary(&dr, &id).await.expect("summary");
    assert!(s.refused.is_empty(), "{:?}", s.refused);
    let current: Vec<&str> = s
        .current_medications
        .iter()
        .map(|m| m.line.line.order_no.as_str())
        .collect();
    assert!(
        current.contains(&order_a) && current.contains(&order_b),
        "{current:?}"
    );
    let tp = s
        .latest_labs
        .iter()
        .find(|l| l.fact.code == "3A010000002327101")
        .expect("latest total protein");
    assert_eq!(
        (tp.source.clone(), tp.fact.value.as_str()),
        (b.facility.clone(), "8.9"),
        "newest of the two"
    );
    // Every decision of the summary was audited (one entry per source × category).
    let entries = store
        .audit_query(&store::AuditFilter {
            patient: Some(id.clone()),
            ..Default::default()
        })
        .await
        .expect("audit");
    let new: Vec<_> = entries.iter().filter(|e| e.seq > audit_before).collect();
    assert!(!new.is_empty());
    assert!(
        new.iter().all(|e| e.event.detail.starts_with("summary:")),
        "{new:?}"
    );

    let m = net
        .lab_matrix(&dr, &id, Some(&day(-30)), Some(&day(0)))
        .await
        .expect("matrix");
    let row = m
        .tests
        .iter()
        .find(|t| t.code == "3A010000002327101")
        .expect("total protein row");
    assert!(row.jlac10);
    assert!(
        row.sources.contains(&a.facility) && row.sources.contains(&b.facility),
        "one row for both facilities"
    );
    let col = |d: &str| m.dates.iter().position(|x| x == d).expect("date column");
    let cell = row.cells[col(&day(0))].last().expect("today's value");
    assert_eq!(
        (
            cell.value.as_str(),
            cell.abnormal_flag.as_str(),
            cell.reference_range.as_str()
        ),
        ("8.9", "H", "6.7-8.3")
    );
    assert!(!row.cells[col(&day(-2))].is_empty());

    let meds = net.medications(&dr, &id).await.expect("medications");
    let dup = meds
        .duplicate_prescriptions
        .iter()
        .find(|d| d.first.line.order_no == order_b && d.second.line.order_no == order_a)
        .expect("二重投薬 warning");
    assert_eq!(dup.same, "YJ:2149039");
    assert_eq!(
        (dup.overlap_from.as_str(), dup.overlap_to.as_str()),
        (day(0).as_str(), day(3).as_str())
    );
    let dt = meds
        .duplicate_tests
        .iter()
        .find(|d| d.analytes.iter().any(|a| a == "3A010"))
        .expect("重複検査 warning");
    assert_eq!(dt.days_apart, 2);
    assert_eq!(dt.facilities.len(), 2, "{dt:?}");

    // The care worker may see basic information and allergies, not labs or prescriptions:
    // those are refused with the reason and nothing of them is returned.
    let s = net.patient_summary(&care, &id).await.expect("summary");
    assert!(
        s.latest_labs.is_empty()
            && s.current_medications.is_empty()
            && s.active_diagnoses.is_empty()
    );
    for cat in [
        RecordCategory::LabResults,
        RecordCategory::Prescriptions,
        RecordCategory::Diagnoses,
    ] {
        assert!(
            s.refused
                .iter()
                .any(|r| r.covers(cat) && r.code == "profession_not_permitted"),
            "{cat:?} refused: {:?}",
            s.refused
        );
    }
    assert!(!s
        .refused
        .iter()
        .any(|r| r.covers(RecordCategory::BasicInfo)));
    let m = net
        .lab_matrix(&care, &id, None, None)
        .await
        .expect("matrix");
    assert!(m.tests.is_empty() && m.dates.is_empty());
    assert!(net
        .medications(&care, &id)
        .await
        .expect("meds")
        .lines
        .is_empty());

    // A updates its order (the old `_1` becomes `_2`, the new version starts in 30 days):
    // the current line is the new one, and the overlap is gone. B cancels its order (`_1`
    // becomes `_0`, plus the delete message): B's line disappears.
    let old = file_path(
        &root_a,
        &a.local_id,
        &day(0),
        DataKind::Omp01,
        order_a,
        &ts(0),
        Condition::Current,
    );
    std::fs::rename(
        &old,
        file_path(
            &root_a,
            &a.local_id,
            &day(0),
            DataKind::Omp01,
            order_a,
            &ts(0),
            Condition::Superseded,
        ),
    )
    .expect("rename");
    put(
        &file_path(
            &root_a,
            &a.local_id,
            &day(0),
            DataKind::Omp01,
            order_a,
            &ts(1),
            Condition::Current,
        ),
        &prescription(
            &a.local_id,
            order_a,
            &day(30),
            14,
            "108665201",
            "2149039F1031",
        ),
    );
    let old = file_path(
        &root_b,
        &b.local_id,
        &day(-3),
        DataKind::Omp01,
        order_b,
        &ts(-3),
        Condition::Current,
    );
    std::fs::rename(
        &old,
        file_path(
            &root_b,
            &b.local_id,
            &day(-3),
            DataKind::Omp01,
            order_b,
            &ts(-3),
            Condition::Deleted,
        ),
    )
    .expect("rename");
    put(
        &file_path(
            &root_b,
            &b.local_id,
            &day(-3),
            DataKind::Omp01,
            order_b,
            &ts(0),
            Condition::Deleted,
        ),
        &prescription(
            &b.local_id,
            order_b,
            &day(-3),
            7,
            "199999901",
            "2149039F1040",
        )
        .replace("ORC|NW|", "ORC|CA|"),
    );
    common::import(&store, &root_a, &a.facility).await;
    common::import(&store, &root_b, &b.facility).await;

    let meds = net.medications(&dr, &id).await.expect("medications");
    let a_lines: Vec<_> = meds
        .lines
        .iter()
        .filter(|l| l.line.order_no == order_a)
        .collect();
    assert_eq!(a_lines.len(), 1, "only the updated version is current");
    assert_eq!(a_lines[0].line.fact.start_date, day(30));
    assert!(
        !meds.lines.iter().any(|l| l.line.order_no == order_b),
        "cancelled order hidden"
    );
    assert!(!meds
        .duplicate_prescriptions
        .iter()
        .any(|d| [&d.first, &d.second]
            .iter()
            .any(|l| l.line.order_no == order_a || l.line.order_no == order_b)));
    // The history keeps both versions of A's order.
    let fid = store
        .facility(&a.facility, false)
        .await
        .expect("fac")
        .expect("id");
    let history = store
        .order_fact_history(fid, &a.local_id, "OMP-01", order_a)
        .await
        .expect("history");
    assert_eq!(
        history.iter().map(|h| h.live).collect::<Vec<_>>(),
        [false, true]
    );
}

/// A drug allergy recorded at one facility and the same drug prescribed at another: the
/// medication screen and the summary warn (薬剤アレルギー), for a doctor; a care worker, who
/// may not see prescriptions, gets no warning and the refusal instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prescription_matching_a_recorded_drug_allergy_is_flagged() {
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
    let (dr, care) =
        common::doctor_and_care_worker(&net, &admin, &b.facility, "dr.b", "care.b").await;

    // A records the fixture's allergies (IAM 3: アリナミン, HOT9 106824501); B prescribes a
    // drug line with that HOT code from today for 7 days.
    let today = UnixTime::now().date_jst();
    let day = |k: i64| store::date_of_day(today.days() + k);
    let ts = |k: i64| format!("{}090000000", day(k));
    let (root_a, root_b) = (
        region.join(a.facility.as_str()),
        region.join(b.facility.as_str()),
    );
    put(
        &file_path(
            &root_a,
            &a.local_id,
            "-",
            DataKind::Adt61,
            ssmix2::naming::NO_ORDER,
            &ts(0),
            Condition::Current,
        ),
        &fixture_text("ADT-61").replace("9999013", &a.local_id),
    );
    let order = "800000000000011";
    put(
        &file_path(
            &root_b,
            &b.local_id,
            &day(0),
            DataKind::Omp01,
            order,
            &ts(0),
            Condition::Current,
        ),
        &prescription(&b.local_id, order, &day(0), 7, "106824501", "3100001F1011"),
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
            paper_form: "同意書 No.0003".into(),
            implied: false,
        },
    )
    .await
    .expect("consent");

    let meds = net.medications(&dr, &id).await.expect("medications");
    let w = meds
        .drug_allergies
        .iter()
        .find(|w| w.medication.line.order_no == order)
        .expect("drug-allergy warning");
    assert_eq!(w.matched_on, "HOT:1068245");
    assert_eq!(w.allergy.source, a.facility);
    assert_eq!(w.allergy.fact.allergen_name, "アリナミン");
    assert_eq!(w.medication.line.source, b.facility);
    // Food and pollen allergies of the same message (ソバ, スギ) never warn.
    assert!(meds
        .drug_allergies
        .iter()
        .all(|w| w.allergy.fact.allergen_type_code == "DA"));
    // The summary shows the same warning for the current line.
    let s = net.patient_summary(&dr, &id).await.expect("summary");
    assert!(s
        .drug_allergies
        .iter()
        .any(|w| w.medication.line.order_no == order && w.matched_on == "HOT:1068245"));

    // The care worker is refused prescriptions: no lines, no warning, the refusal listed.
    let meds = net.medications(&care, &id).await.expect("medications");
    assert!(meds.lines.is_empty() && meds.drug_allergies.is_empty());
    assert!(meds
        .refused
        .iter()
        .any(|r| r.covers(RecordCategory::Prescriptions)));
}
