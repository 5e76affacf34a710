//! Lab pages of the real `renkei serve --demo` (issue 14): a culture opens as organisms with
//! their susceptibility tables, the labs tab lists cultures and keeps each value's unit when
//! facilities differ, the trend chart of such a test is one chart per unit, and
//! duplicate-test warnings (or "could not check") show on the labs tab and the summary.

mod common;

use common::labs::{self, page, sign_in, ALBUMIN};
use common::DemoServer;

#[test]
fn demo_lab_pages_show_cultures_units_and_duplicate_tests() {
    let tmp = tempfile::tempdir().expect("tmp");
    let data = tmp.path().join("data");
    let demo = DemoServer::start_in(&data, 30, tmp);
    let server = &demo.server;
    let doctor = sign_in(server, "doctor", demo.secret("doctor"));
    let found = labs::find(&demo, &data, &doctor);

    // The culture: every organism with its own quantity and susceptibility table.
    let (status, body) = page(server, &found.culture_record, &doctor);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("id=\"culture-view\""), "{body}");
    let organisms: Vec<&str> = body.split("class=\"culture organism\"").skip(1).collect();
    assert!(organisms.len() >= 2);
    for o in &organisms {
        assert!(o.contains("class=\"organism-name\""));
        assert!(o.contains("CFU/mL"), "quantity with its organism");
        assert!(o.contains("<table class=\"susceptibility\">"));
        assert!(o.contains("μg/mL") && o.contains("class=\"sir sir-"));
    }
    assert!(body.contains("一般細菌培養同定") && body.contains("グラム染色"));
    // The raw HL7 stays one click away.
    assert!(body.contains("id=\"raw-hl7\""));

    // The labs tab lists the culture with its organisms.
    let (_, body) = page(
        server,
        &format!("/patients/{}/labs", found.culture_patient),
        &doctor,
    );
    assert!(body.contains("<table class=\"cultures\" id=\"cultures\">"));
    assert!(body.contains("id=\"duplicate-tests\""));

    // Albumin in two units: each value carries its unit, the row says so, and the chart is
    // one chart per unit.
    let labs_path = format!("/patients/{}/labs", found.units_patient);
    let (_, body) = page(server, &labs_path, &doctor);
    let row_at = body
        .find(&format!("data-code=\"{ALBUMIN}\""))
        .expect("albumin row");
    let row = &body[row_at..];
    let row = &row[..row.find("</tr>").expect("row end")];
    assert!(row.contains("単位混在") && row.contains("g/dL") && row.contains("g/L"));
    assert!(row.contains("<span class=\"unit\">g/L</span>"));
    assert!(row.contains("<span class=\"unit\">g/dL</span>"));
    let chart =
        labs::first_href(&body, &format!("{labs_path}/chart?code={ALBUMIN}")).expect("chart link");
    let (status, body) = page(server, &chart, &doctor);
    assert_eq!(status, 200);
    assert_eq!(
        body.matches("<svg class=\"trend-chart\"").count(),
        2,
        "one chart per unit"
    );
    assert!(body.contains("data-unit=\"g/dL\"") && body.contains("data-unit=\"g/L\""));
    assert!(body.contains("one chart per unit"));

    // The summary carries the duplicate-test section too.
    let (_, body) = page(
        server,
        &format!("/patients/{}", found.units_patient),
        &doctor,
    );
    assert!(body.contains("id=\"duplicate-tests\""));
    // A care worker may not see lab results: "could not check", never "no duplicates".
    let care = sign_in(server, "care", demo.secret("care"));
    let (_, body) = page(server, &format!("/patients/{}", found.units_patient), &care);
    if body.contains("id=\"duplicate-tests\"") {
        assert!(body.contains("id=\"duplicate-tests-unchecked\""), "{body}");
        assert!(!body.contains("no-duplicate-tests"));
    }
}
