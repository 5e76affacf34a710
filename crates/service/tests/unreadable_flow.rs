//! A patient's files that could not be read are named on the summary, per facility, so that
//! an empty section is never taken for "nothing recorded"; a readable resend settles it, and
//! a clinician without consent learns nothing from it.

use model::{ConsentScope, Date};
use service::ConsentInput;
use ssmix2::{Condition, DataKind, StandardName};

mod common;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_files_are_named_on_the_summary() {
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

    // A's allergy file for the patient arrives cut off (no final CR: quarantined as
    // truncated), and a lab file that is not HL7 at all.
    let root_a = region.join(a.facility.as_str());
    let path = |kind: DataKind, order: &str| {
        root_a.join(
            StandardName {
                patient_id: a.local_id.clone(),
                date: if kind == DataKind::Adt61 {
                    "-".into()
                } else {
                    "20240401".into()
                },
                kind,
                order_no: order.into(),
                timestamp: "20240401090000000".into(),
                department: "01".into(),
                condition: Condition::Current,
            }
            .relative_path(),
        )
    };
    let allergy = path(DataKind::Adt61, ssmix2::naming::NO_ORDER);
    std::fs::create_dir_all(allergy.parent().expect("parent")).expect("mkdir");
    std::fs::write(
        &allergy,
        b"MSH|^~\\&|HIS|SEND|GW|RCV|20240401||ADT^A60^ADT_A60|1|P|2.5\rPID|1",
    )
    .expect("write");
    let lab = path(DataKind::Oml11, "000000000000777");
    std::fs::create_dir_all(lab.parent().expect("parent")).expect("mkdir");
    std::fs::write(&lab, b"%PDF-1.4 not a message").expect("write");
    common::import(&store, &root_a, &a.facility).await;

    // Without consent: refused, and the count is not shown either.
    let s = net.patient_summary(&dr, &id).await.expect("summary");
    assert!(s.unreadable.is_empty(), "{:?}", s.unreadable);

    net.record_consent(
        &office,
        ConsentInput {
            regional_id: id.clone(),
            scope: ConsentScope::AllFacilities,
            valid_from: Date::parse("2020-01-01").expect("date"),
            valid_until: None,
            paper_form: "同意書 No.0009".into(),
            implied: false,
        },
    )
    .await
    .expect("consent");
    let s = net.patient_summary(&dr, &id).await.expect("summary");
    assert_eq!(s.unreadable.len(), 1, "{:?}", s.unreadable);
    assert_eq!(s.unreadable[0].source, a.facility);
    assert_eq!(s.unreadable[0].count, 2);
    assert!(!s.unreadable[0].source_name.is_empty());

    // A resends the allergy file readable: one left.
    let text = std::fs::read_to_string(format!(
        "{}/../ssmix2/tests/fixtures/ADT-61.hl7",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("fixture")
    .replace("9999013", &a.local_id)
    .replace('\n', "\r");
    std::fs::write(&allergy, hl7::encode_iso2022jp(&text).expect("encode")).expect("write");
    common::import(&store, &root_a, &a.facility).await;
    let s = net.patient_summary(&dr, &id).await.expect("summary");
    assert_eq!(s.unreadable.len(), 1);
    assert_eq!(s.unreadable[0].count, 1, "the readable resend settles it");
    assert!(!s.allergies.is_empty(), "and its allergies are shown");
}
