//! Medications through a real embedded store (import → facts → service), issue 14 fault 2
//! and the safer summaries: the JAHIS timing fixtures (uneven 4-2-1, 隔日, 月・木, 頓用,
//! ３日おき, topical without days) and refused / not-given administrations, shifted to this
//! week so "current" is tested against today.

use std::path::Path;

use model::{ConsentScope, Date, RecordCategory, UnixTime};
use service::medications::Mark;
use service::{ConsentInput, Standing};
use ssmix2::{Condition, DataKind, StandardName};

mod common;

fn fixture_text(name: &str) -> String {
    let path = format!(
        "{}/../ssmix2/tests/fixtures/{name}.hl7",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(path).expect("fixture")
}

/// Every `2026030D…` date of the fixture moved by `shift` days (a multiple of 7 keeps the
/// weekdays of the 月・木 line).
fn shifted(text: &str, shift: i64) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("2026030") {
        out.push_str(&rest[..i]);
        let date = &rest[i..i + 8];
        let n = store::day_number(date).expect("date") + shift;
        out.push_str(&store::date_of_day(n));
        rest = &rest[i + 8..];
    }
    out.push_str(rest);
    out
}

fn put(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    let bytes = hl7::encode_iso2022jp(&text.replace('\n', "\r")).expect("encode");
    std::fs::write(path, bytes).expect("write");
}

fn file_path(
    root: &Path,
    patient: &str,
    date: &str,
    kind: DataKind,
    order: &str,
) -> std::path::PathBuf {
    root.join(
        StandardName {
            patient_id: patient.into(),
            date: date.into(),
            kind,
            order_no: order.into(),
            timestamp: format!("{date}090000000"),
            department: "01".into(),
            condition: Condition::Current,
        }
        .relative_path(),
    )
}

/// A region with a pair of one person's local patients at facilities A and B enrolled under
/// one regional ID, consent for all facilities, and B's doctor and care worker.
struct Consented {
    fixture: common::Fixture,
    enrolled: common::Enrolled,
    dr: service::Principal,
    care: service::Principal,
}

async fn consented(paper_form: &str) -> Consented {
    let fixture = common::imported_region(12, 11).await;
    let enrolled = common::enrolled_pair(&fixture.net, &fixture.store).await;
    let (dr, care) = common::doctor_and_care_worker(
        &fixture.net,
        &enrolled.admin,
        &enrolled.b.facility,
        "dr.b",
        "care.b",
    )
    .await;
    fixture
        .net
        .record_consent(
            &enrolled.office,
            ConsentInput {
                regional_id: enrolled.id.clone(),
                scope: ConsentScope::AllFacilities,
                valid_from: Date::parse("2020-01-01").expect("date"),
                valid_until: None,
                paper_form: paper_form.into(),
                implied: false,
            },
        )
        .await
        .expect("consent");
    Consented {
        fixture,
        enrolled,
        dr,
        care,
    }
}

/// Today, Monday of last week (the fixtures' Monday 2026-03-02 moves there) and the shift in
/// days that moves it (a multiple of 7 keeps the weekdays).
fn last_week() -> (i64, i64, i64) {
    let today = UnixTime::now().date_jst().days();
    let monday = today - i64::from(ssmix2::dosing::weekday(today)) - 7;
    let shift = monday - store::day_number("20260302").expect("day");
    assert_eq!(shift % 7, 0);
    (today, monday, shift)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timing_uneven_doses_and_refused_doses_reach_the_viewer() {
    let Consented {
        fixture:
            common::Fixture {
                dir: _dir,
                region,
                store,
                net,
                ..
            },
        enrolled: common::Enrolled {
            admin, a, b, id, ..
        },
        dr,
        care,
    } = consented("同意書 No.0014").await;
    let (today, monday, shift) = last_week();
    let d = |k: i64| store::date_of_day(monday + k);
    let (root_a, root_b) = (
        region.join(a.facility.as_str()),
        region.join(b.facility.as_str()),
    );
    let rx = shifted(&fixture_text("OMP-01-timing"), shift).replace("9999013", &a.local_id);
    put(
        &file_path(
            &root_a,
            &a.local_id,
            &d(-1),
            DataKind::Omp01,
            "000000021000501",
        ),
        &rx,
    );
    // B prescribes the same 隔日 drug (ラシックス, same YJ) in the same week: a duplicate.
    let rx_b = shifted(&fixture_text("OMP-01-timing"), shift)
        .replace("9999013", &b.local_id)
        .replace("000000021000501", "000000021000601");
    put(
        &file_path(
            &root_b,
            &b.local_id,
            &d(-1),
            DataKind::Omp01,
            "000000021000601",
        ),
        &rx_b,
    );
    let given = shifted(&fixture_text("OMP-12-refused"), shift).replace("9999013", &b.local_id);
    put(
        &file_path(
            &root_b,
            &b.local_id,
            &d(-1),
            DataKind::Omp12,
            "000000021000777",
        ),
        &given,
    );
    common::import(&store, &root_a, &a.facility).await;
    common::import(&store, &root_b, &b.facility).await;

    let m = net.medications(&dr, &id).await.expect("medications");
    assert!(m.refused.is_empty(), "{:?}", m.refused);
    assert!(m.unchecked.is_empty());
    let a_lines: Vec<_> = m
        .lines
        .iter()
        .filter(|l| l.line.source == a.facility && l.line.order_no.ends_with("21000501"))
        .collect();
    assert_eq!(a_lines.len(), 6);
    let by_name = |name: &str| {
        a_lines
            .iter()
            .find(|l| l.line.fact.drug_name.starts_with(name))
            .unwrap_or_else(|| panic!("{name}"))
    };
    // Uneven: 4-2-1, not 1.
    let pred = &by_name("プレドニゾロン").line.fact;
    assert_eq!(pred.dose, "4-2-1");
    assert_eq!(pred.detail.per_time.len(), 3);
    // 隔日 × 7: 13 calendar days from the Sunday before Monday.
    let lasix = &by_name("ラシックス").line.fact;
    assert_eq!(
        (lasix.start_date.clone(), lasix.end_date.clone()),
        (d(-1), d(11))
    );
    assert_eq!(lasix.usage, "内服・経口・１日１回朝食後（隔日）");
    // 月・木 × 8 from Monday: Thursday of the fourth week.
    let alendronate = &by_name("アレンドロン").line.fact;
    assert_eq!(alendronate.end_date, d(24));
    // Uncertain spans and no day count: no end date, flagged.
    for name in ["ロキソニン", "ビタメジン", "モーラス"] {
        let f = &by_name(name).line.fact;
        assert_eq!(f.end_date, "", "{name}");
        assert!(f.detail.span_uncertain, "{name}");
    }

    // Current list: the 4-2-1 line ended 2+ days ago and is still listed with its age; the
    // lines without a certain end are "end unknown", not gone after their start day.
    let w = today - monday - 7; // weekday of today
    let current = |name: &str| {
        m.current
            .iter()
            .find(|c| {
                c.line.line.fact.drug_name.starts_with(name) && c.line.line.source == a.facility
            })
            .unwrap_or_else(|| panic!("{name} current: {:#?}", m.current))
    };
    assert_eq!(
        current("プレドニゾロン").standing,
        Standing::Ended { days_ago: 2 + w }
    );
    assert_eq!(current("アレンドロン").standing, Standing::Active);
    assert_eq!(
        current("モーラス").standing,
        Standing::EndUnknown {
            started_days_ago: 8 + w
        }
    );
    let summary = net.patient_summary(&dr, &id).await.expect("summary");
    assert_eq!(summary.recent_days, 30);
    assert!(summary.current_medications.iter().any(|c| c
        .line
        .line
        .fact
        .drug_name
        .starts_with("ロキソニン")));

    // Two facilities prescribing the same drugs: one warning per drug, naming both.
    assert!(!m.duplicate_groups.is_empty());
    let lasix_dup = m
        .duplicate_groups
        .iter()
        .find(|g| g.drug_names.iter().any(|n| n.starts_with("ラシックス")))
        .expect("lasix duplicate");
    assert_eq!(lasix_dup.facilities.len(), 2);
    assert_eq!(lasix_dup.lines.len(), 2);
    assert!(summary
        .duplicate_prescriptions
        .iter()
        .any(|g| g.drug_names.iter().any(|n| n.starts_with("ラシックス"))));

    // Administrations: refused and not given are kept, said so, and never count as taken.
    let given: Vec<_> = m
        .lines
        .iter()
        .filter(|l| l.line.kind == "OMP-12" && l.line.order_no.ends_with("21000777"))
        .collect();
    let mut statuses: Vec<&str> = given
        .iter()
        .map(|l| l.line.fact.detail.status.as_str())
        .collect();
    statuses.sort_unstable();
    assert_eq!(statuses, ["CP", "NA", "RE"]);
    let saline = m
        .calendar
        .rows
        .iter()
        .find(|r| r.drug_name.starts_with("生理食塩液"))
        .expect("saline row");
    let col = |k: i64| {
        m.calendar
            .days
            .iter()
            .position(|x| *x == d(k))
            .expect("in calendar")
    };
    // Day −1: given (09:05) and refused (21:00): the cell keeps "given"; day 0: not given
    // (unless the synthetic region gave saline that day too).
    assert_eq!(saline.cells[col(-1)], Mark::Given);
    assert!(matches!(saline.cells[col(0)], Mark::NotGiven | Mark::Given));

    // The recent window is a network setting (administrators only, 1–365 days): with one
    // day the 4-2-1 line that ended two or more days ago leaves the current list.
    assert_eq!(
        net.medication_settings()
            .await
            .expect("settings")
            .recent_days,
        30
    );
    let one_day = service::MedicationSettings { recent_days: 1 };
    assert!(net.set_medication_settings(&dr, one_day).await.is_err());
    assert!(net
        .set_medication_settings(&admin, service::MedicationSettings { recent_days: 0 })
        .await
        .is_err());
    net.set_medication_settings(&admin, one_day)
        .await
        .expect("set");
    let m1 = net.medications(&dr, &id).await.expect("medications");
    assert_eq!(m1.recent_days, 1);
    assert!(!m1.current.iter().any(|c| c.line.line.source == a.facility
        && c.line.line.fact.drug_name.starts_with("プレドニゾロン")));

    // A care worker may not see prescriptions: the checks say "could not check".
    let mc = net.medications(&care, &id).await.expect("care meds");
    assert!(mc.lines.is_empty());
    assert!(
        mc.unchecked
            .iter()
            .any(|u| u.check == "duplicate_prescriptions"),
        "{:?}",
        mc.unchecked
    );
    let sc = net.patient_summary(&care, &id).await.expect("care summary");
    assert!(sc.unchecked.iter().any(|u| u.check == "drug_allergies"));
    assert!(sc
        .refused
        .iter()
        .any(|r| r.covers(RecordCategory::Prescriptions)));
}

/// Issue 14 fault 4, orders: a cancel message (ORC-1 `CA`) stored as a current file of its
/// own beside the order, the order's files left current. The order's lines and results are
/// not live anywhere (current medications, duplicate warnings, lab matrix), they are listed
/// as cancelled with the cancel that did it, and the timeline and record page say which
/// file cancels and which is cancelled. A re-order under the same number after the cancel
/// is live again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_cancels_sent_as_files_of_their_own_cancel_the_order() {
    let Consented {
        fixture:
            common::Fixture {
                dir: _dir,
                region,
                store,
                net,
                ..
            },
        enrolled: common::Enrolled { a, b, id, .. },
        dr,
        ..
    } = consented("同意書 No.0015").await;
    let (_, monday, shift) = last_week();
    let day = store::date_of_day(monday - 1);
    let (root_a, root_b) = (
        region.join(a.facility.as_str()),
        region.join(b.facility.as_str()),
    );
    let at = |root: &Path, local: &str, date: &str, kind, order: &str, time: &str| {
        root.join(
            StandardName {
                patient_id: local.into(),
                date: date.into(),
                kind,
                order_no: order.into(),
                timestamp: format!("{date}{time}"),
                department: "01".into(),
                condition: Condition::Current,
            }
            .relative_path(),
        )
    };
    // A: the order at 09:00, its cancel at 10:00 (both `_1`).
    let rx = shifted(&fixture_text("OMP-01-timing"), shift).replace("9999013", &a.local_id);
    let order = "000000021000501";
    put(
        &at(
            &root_a,
            &a.local_id,
            &day,
            DataKind::Omp01,
            order,
            "090000000",
        ),
        &rx,
    );
    put(
        &at(
            &root_a,
            &a.local_id,
            &day,
            DataKind::Omp01,
            order,
            "100000000",
        ),
        &rx.replace("ORC|NW|", "ORC|CA|"),
    );
    // B: the same drugs (a duplicate if A's were live), and a lab result cancelled by a
    // later cancel message.
    let rx_b = shifted(&fixture_text("OMP-01-timing"), shift)
        .replace("9999013", &b.local_id)
        .replace(order, "000000021000601");
    put(
        &at(
            &root_b,
            &b.local_id,
            &day,
            DataKind::Omp01,
            "000000021000601",
            "090000000",
        ),
        &rx_b,
    );
    let lab = fixture_text("OML-11").replace("9999013", &b.local_id);
    let lab_order = "000000011000354";
    put(
        &at(
            &root_b,
            &b.local_id,
            "20111220",
            DataKind::Oml11,
            lab_order,
            "110000000",
        ),
        &lab,
    );
    put(
        &at(
            &root_b,
            &b.local_id,
            "20111220",
            DataKind::Oml11,
            lab_order,
            "120000000",
        ),
        &lab.replace("ORC|SC|", "ORC|CA|"),
    );
    common::import(&store, &root_a, &a.facility).await;
    common::import(&store, &root_b, &b.facility).await;

    let m = net.medications(&dr, &id).await.expect("medications");
    let of_a =
        |l: &service::MedicationLine| l.line.source == a.facility && l.line.order_no == order;
    assert!(
        !m.lines.iter().any(of_a),
        "no live line of the cancelled order"
    );
    let cancelled: Vec<_> = m.cancelled.iter().filter(|c| of_a(&c.item)).collect();
    assert_eq!(
        cancelled.len(),
        6,
        "every line of the order, listed as cancelled"
    );
    let cancel_version = cancelled[0].cancelled_by;
    assert!(cancelled.iter().all(|c| c.cancelled_by == cancel_version));
    assert!(!m.current.iter().any(|c| of_a(&c.line)));
    assert!(
        !m.duplicate_groups
            .iter()
            .any(|g| g.facilities.contains(&a.facility)),
        "a cancelled order is no duplicate: {:?}",
        m.duplicate_groups
    );
    assert!(m
        .lines
        .iter()
        .any(|l| l.line.source == b.facility && l.line.order_no == "000000021000601"));
    let summary = net.patient_summary(&dr, &id).await.expect("summary");
    assert!(!summary.current_medications.iter().any(|c| of_a(&c.line)));

    let labs = net.lab_matrix(&dr, &id, None, None).await.expect("labs");
    assert!(
        labs.cancelled
            .iter()
            .all(|c| c.item.source == b.facility && c.item.order_no == lab_order),
        "{:?}",
        labs.cancelled
    );
    assert!(
        !labs.cancelled.is_empty(),
        "the cancelled results are listed"
    );
    let cancelled_versions: Vec<i64> = labs.cancelled.iter().map(|c| c.item.version_id).collect();
    assert!(
        labs.tests
            .iter()
            .flat_map(|t| t.cells.iter().flatten())
            .all(|c| !cancelled_versions.contains(&c.version_id)),
        "no matrix cell from a cancelled result"
    );

    // Timeline: the cancel is a cancel message, the order is cancelled by it.
    let t = net
        .timeline(
            &dr,
            &id,
            model::Purpose::Care,
            None,
            &service::TimelineQuery {
                kinds: Some(vec!["OMP-01".into()]),
                facility: Some(a.facility.clone()),
                ..Default::default()
            },
        )
        .await
        .expect("timeline");
    let of_order: Vec<_> = t
        .items
        .iter()
        .filter(|i| i.record.order_no == order)
        .map(|i| {
            (
                i.record.version_id,
                i.cancel_message,
                i.cancelled_by_message,
            )
        })
        .collect();
    assert_eq!(of_order.len(), 2, "{of_order:?}");
    assert!(
        of_order.contains(&(cancel_version, true, false)),
        "{of_order:?}"
    );
    let order_version = of_order
        .iter()
        .find(|(v, _, _)| *v != cancel_version)
        .expect("the order")
        .0;
    assert!(of_order.contains(&(order_version, false, true)));
    let d = net
        .record_detail(&dr, &id, order_version, model::Purpose::Care, None)
        .await
        .expect("order");
    assert_eq!(
        (d.cancelled_by, d.cancel_message),
        (Some(cancel_version), false)
    );
    // Its history names both files: the order cancelled, the cancel a cancel.
    let marks: Vec<(i64, bool, bool)> = d
        .history
        .iter()
        .map(|h| (h.version_id, h.cancel_message, h.cancelled_by_message))
        .collect();
    assert!(marks.contains(&(order_version, false, true)), "{marks:?}");
    assert!(marks.contains(&(cancel_version, true, false)), "{marks:?}");
    let d = net
        .record_detail(&dr, &id, cancel_version, model::Purpose::Care, None)
        .await
        .expect("cancel");
    assert_eq!((d.cancelled_by, d.cancel_message), (None, true));

    // A re-order under the same number after the cancel is live again.
    put(
        &at(
            &root_a,
            &a.local_id,
            &day,
            DataKind::Omp01,
            order,
            "110000000",
        ),
        &rx,
    );
    common::import(&store, &root_a, &a.facility).await;
    let m = net.medications(&dr, &id).await.expect("medications");
    assert_eq!(m.lines.iter().filter(|l| of_a(l)).count(), 6);
}
