//! Lab results through the service on a real embedded store (issue 14, faults 3 and 5):
//! repeated results of one test on one day are all kept, a culture keeps every organism
//! with its susceptibilities, a test sent in two units by two facilities keeps each value's
//! own unit and range, and a test repeated at two facilities is one warning naming both,
//! on the labs screen and the summary.

use std::path::Path;

use model::{ConsentScope, Date, RecordCategory, UnixTime};
use service::ConsentInput;
use ssmix2::{Condition, DataKind, StandardName};

mod common;

fn lab_fixture(name: &str) -> String {
    let path = format!(
        "{}/../ssmix2/tests/fixtures/lab/{name}.hl7",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(path).expect("fixture")
}

fn put(root: &Path, patient: &str, date: &str, order: &str, text: &str) {
    let path = root.join(
        StandardName {
            patient_id: patient.into(),
            date: date.into(),
            kind: DataKind::Oml11,
            order_no: order.into(),
            timestamp: format!("{date}120000000"),
            department: "01".into(),
            condition: Condition::Current,
        }
        .relative_path(),
    );
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    let bytes = hl7::encode_iso2022jp(&text.replace('\n', "\r")).expect("encode");
    std::fs::write(path, bytes).expect("write");
}

const GLU: &str = "3D010000001926101";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_results_units_cultures_and_grouped_duplicates() {
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
    // A: a glucose tolerance test yesterday, three glucose values of one day (mg/dL).
    let gtt = lab_fixture("OML-11-repeat")
        .replace("9999013", &a.local_id)
        .replace("20260309", &day(-1));
    put(&root_a, &a.local_id, &day(-1), "810000000000001", &gtt);
    // B: glucose today in mmol/L, same JLAC10 code.
    let mmol = lab_fixture("OML-11-repeat")
        .replace("9999013", &b.local_id)
        .replace("20260309", &day(0))
        .replace(
            "|1|98|mg/dL^mg/dL^ISO+|70-109|N|",
            "|1|5.4|mmol/L^mmol/L^ISO+|3.9-6.0|N|",
        );
    let mmol: String = mmol
        .lines()
        .filter(|l| !l.starts_with("OBX|2") && !l.starts_with("OBX|3") && !l.starts_with("NTE"))
        .map(|l| format!("{l}\n"))
        .collect();
    put(&root_b, &b.local_id, &day(0), "820000000000001", &mmol);
    // A: a urine culture yesterday, two organisms.
    let culture = lab_fixture("OML-11-culture")
        .replace("9999013", &a.local_id)
        .replace("20260308", &day(-1));
    put(&root_a, &a.local_id, &day(-1), "810000000000002", &culture);
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

    let m = net
        .lab_matrix(&dr, &id, Some(&day(-1)), Some(&day(0)))
        .await
        .expect("matrix");
    let row = m.tests.iter().find(|t| t.code == GLU).expect("glucose row");
    assert!(row.sources.contains(&a.facility) && row.sources.contains(&b.facility));
    assert!(row.mixed_units(), "{:?}", row.units);
    assert!(row.units.iter().any(|u| u == "mg/dL") && row.units.iter().any(|u| u == "mmol/L"));
    assert!(row.reference_ranges.iter().any(|r| r == "3.9-6.0 mmol/L"));
    let col = |d: &str| m.dates.iter().position(|x| x == d).expect("date column");
    let mine: Vec<(&str, &str, &str, &str)> = row.cells[col(&day(-1))]
        .iter()
        .filter(|c| c.source == a.facility)
        .map(|c| {
            (
                c.value.as_str(),
                c.unit.as_str(),
                c.reference_range.as_str(),
                c.status.as_str(),
            )
        })
        .collect();
    assert_eq!(
        mine,
        [
            ("98", "mg/dL", "70-109", "P"),
            ("186", "mg/dL", "70-139", "P"),
            ("152", "mg/dL", "70-139", "P"),
        ],
        "every result of the day, oldest first, each with its unit and range"
    );
    let comments: Vec<&Vec<String>> = row.cells[col(&day(-1))]
        .iter()
        .map(|c| &c.comments)
        .collect();
    assert!(comments.iter().any(|c| c.as_slice() == ["溶血あり"]));
    let b_cell = row.cells[col(&day(0))]
        .iter()
        .find(|c| c.source == b.facility)
        .expect("B's value");
    assert_eq!(
        (b_cell.value.as_str(), b_cell.unit.as_str()),
        ("5.4", "mmol/L")
    );

    // The culture is a culture, not matrix rows.
    assert!(m
        .tests
        .iter()
        .all(|t| !t.code.starts_with("6B615") && t.code != "6D010000007101401"));
    let c = m
        .cultures
        .iter()
        .find(|c| c.source == a.facility && c.specimen == "尿")
        .expect("the culture");
    assert_eq!(c.organisms, ["Escherichia coli", "Enterococcus faecalis"]);
    assert_eq!(c.resistant, ["ABPC (Escherichia coli)"]);
    assert_eq!(c.status, "C");
    assert_eq!(c.panel, "一般細菌培養同定");

    // One warning for glucose naming both facilities, on the labs screen and the summary.
    let glu_warning = |w: &[service::DuplicateTest]| {
        w.iter()
            .find(|w| w.analytes.iter().any(|x| x == "3D010"))
            .cloned()
    };
    let w = glu_warning(&m.duplicate_tests).expect("duplicate glucose on the labs screen");
    assert!(w.facilities.contains(&a.facility) && w.facilities.contains(&b.facility));
    assert_eq!(w.facilities.len(), 2);
    let s = net.patient_summary(&dr, &id).await.expect("summary");
    let w = glu_warning(&s.duplicate_tests).expect("duplicate glucose on the summary");
    assert!(w
        .occurrences
        .iter()
        .any(|o| o.date == day(-1) && o.source == a.facility));
    assert!(
        s.latest_labs.iter().all(|l| !l.fact.detail.in_culture()),
        "culture rows are not 'latest tests'"
    );
    let meds = net.medications(&dr, &id).await.expect("medications");
    assert!(glu_warning(&meds.duplicate_tests).is_some());

    // A profession that may not see lab results: no warning, and the refusal says why (the
    // page says "could not check", never "no duplicates").
    let s = net.patient_summary(&care, &id).await.expect("summary");
    assert!(s.duplicate_tests.is_empty());
    assert!(s
        .refused
        .iter()
        .any(|r| r.covers(RecordCategory::LabResults)));
}
