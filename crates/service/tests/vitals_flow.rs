//! Extended-storage vitals through the service on a real embedded store (issue 14): a
//! vitals message of each facility (ORU^R30 in ISO-2022-JP with LOINC codes, ORU^R01 in
//! Shift_JIS with JLAC10 and local codes) becomes one vitals table behind the gate, never
//! lab results; the record page reads the message as vitals.

use std::path::Path;

use model::{ConsentScope, Date, RecordCategory, UnixTime};
use service::{ConsentInput, VitalProblem};

mod common;

const FOLDER: &str = "L-OBSERVATIONS^OBSERVATIONS^99ZL01";

fn vitals_text(name: &str, patient: &str, day: &str, fixture_day: &str) -> String {
    let path = format!(
        "{}/../ssmix2/tests/fixtures/vitals/{name}.hl7",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(path)
        .expect("fixture")
        .replace("9999013", patient)
        .replace(fixture_day, day)
        .replace('\n', "\r")
}

fn put_extended(root: &Path, patient: &str, day: &str, key: &str, bytes: &[u8]) {
    let (p1, p2) = ssmix2::naming::prefix_folders(patient);
    let path = root.join(format!(
        "{p1}/{p2}/{patient}/{day}/{FOLDER}/{patient}_{day}_{FOLDER}_{key}_{day}090500000_01_1/main_document.hl7"
    ));
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, bytes).expect("write");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vitals_of_two_facilities_behind_the_gate_never_in_labs() {
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
    let today = UnixTime::now().date_jst();
    let day = |k: i64| store::date_of_day(today.days() + k);
    let (root_a, root_b) = (
        region.join(a.facility.as_str()),
        region.join(b.facility.as_str()),
    );
    let r30 = vitals_text("ORU-R30-vitals", &a.local_id, &day(-1), "20260310");
    put_extended(
        &root_a,
        &a.local_id,
        &day(-1),
        "VT0001",
        &hl7::encode_iso2022jp(&r30).expect("encode"),
    );
    let r01 = vitals_text("ORU-R01-local", &b.local_id, &day(0), "20260311");
    let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode(&r01);
    put_extended(&root_b, &b.local_id, &day(0), "VT0002", &sjis);
    common::import(&store, &root_a, &a.facility).await;
    common::import(&store, &root_b, &b.facility).await;
    net.record_consent(
        &office,
        ConsentInput {
            regional_id: id.clone(),
            scope: ConsentScope::AllFacilities,
            valid_from: Date::parse("2020-01-01").expect("date"),
            valid_until: None,
            paper_form: "同意書 No.0015".into(),
            implied: false,
        },
    )
    .await
    .expect("consent");

    let v = net.vitals(&dr, &id).await.expect("vitals");
    let g = &v.grid;
    let col = |key: &str| {
        g.columns
            .iter()
            .position(|c| c.key == key)
            .unwrap_or_else(|| panic!("column {key}"))
    };
    let at = |key: &str, time: String| {
        let c = col(key);
        g.rows
            .iter()
            .filter(|r| r.observed_at == time)
            .flat_map(|r| r.cells[c].clone())
            .collect::<Vec<_>>()
    };
    // A (LOINC, yesterday 06:00 and 14:00) and B (JLAC10 / local, today).
    let t = at("temperature", format!("{}0600", day(-1)));
    assert_eq!(
        (t[0].value.as_str(), t[0].unit.as_str(), &t[0].source),
        ("37.8", "℃", &a.facility)
    );
    let t = at("temperature", format!("{}0935", day(0)));
    assert_eq!(
        (t[0].value.as_str(), t[0].unit.as_str(), &t[0].source),
        ("36.6", "度", &b.facility),
        "B's Shift_JIS local unit, as sent"
    );
    let s = at("systolic", format!("{}0935", day(0)));
    assert_eq!((s[0].value.as_str(), s[0].sent.as_str()), ("132", "132/84"));
    let spo2 = at("spo2", format!("{}1400", day(-1)));
    assert_eq!(spo2[0].problem, Some(VitalProblem::NotMeasured));
    // Newest first.
    let mine: Vec<&str> = g
        .rows
        .iter()
        .map(|r| r.observed_at.as_str())
        .filter(|t| t.starts_with(&day(0)) || t.starts_with(&day(-1)))
        .collect();
    let mut sorted = mine.clone();
    sorted.sort_by(|x, y| y.cmp(x));
    assert_eq!(mine, sorted);
    assert_eq!(
        mine.first().copied(),
        Some(format!("{}0945", day(0)).as_str())
    );

    // A date range: today's measurements only (B's).
    let today_only = net
        .vitals_for(
            &dr,
            &id,
            &service::VitalsQuery {
                from: Some(day(0)),
                to: Some(day(0)),
            },
            model::Purpose::Care,
            None,
        )
        .await
        .expect("vitals of today");
    assert!(!today_only.grid.rows.is_empty());
    assert!(today_only
        .grid
        .rows
        .iter()
        .all(|r| r.observed_at.starts_with(&day(0))));
    assert!(today_only
        .grid
        .rows
        .iter()
        .flat_map(|r| r.cells.iter().flatten())
        .all(|v| v.source == b.facility));

    // Never lab results: not in the matrix, the summary's newest results or warnings.
    let vital_codes = [
        "8310-5",
        "8480-6",
        "59408-5",
        "9N006000000000001",
        "BP",
        "BT",
    ];
    let m = net.lab_matrix(&dr, &id, None, None).await.expect("matrix");
    assert!(m
        .tests
        .iter()
        .all(|t| !vital_codes.contains(&t.code.as_str())));
    let summary = net.patient_summary(&dr, &id).await.expect("summary");
    assert!(summary
        .latest_labs
        .iter()
        .all(|l| !vital_codes.contains(&l.fact.code.as_str())));
    assert!(summary
        .duplicate_tests
        .iter()
        .all(|w| w.analytes.iter().all(|x| !x.starts_with("9N"))));

    // The record page reads the message as vitals.
    let fid = store
        .facility(&a.facility, false)
        .await
        .expect("fac")
        .expect("id");
    let rec = store
        .patient_records(fid, &a.local_id)
        .await
        .expect("records")
        .into_iter()
        .find(|r| r.kind == FOLDER)
        .expect("the vitals record");
    let d = net
        .record_detail(&dr, &id, rec.version_id, model::Purpose::Care, None)
        .await
        .expect("detail");
    let grid = d.vitals.expect("read as vitals");
    assert_eq!(grid.rows.len(), 2);
    assert_eq!(grid.columns[0].label, "体温");

    // A profession that may not see documents sees no vitals, and is told why.
    let v = net.vitals(&care, &id).await.expect("vitals");
    assert!(v.grid.rows.is_empty());
    assert!(v
        .refused
        .iter()
        .any(|r| r.covers(RecordCategory::Documents)));
}
