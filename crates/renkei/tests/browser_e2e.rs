//! The viewer in a real browser: `renkei serve --demo` and Debian chromium driven by
//! playwright-core (tests/browser/viewer.mjs). Signs in with password + TOTP, searches by
//! regional ID and by kana, opens the summary, timeline, a record, the lab matrix and a trend
//! chart, the medications, is refused for a patient without consent, and checks that no page
//! can be cached. Screenshots are kept as test artifacts in
//! `<target>/tmp/browser-screenshots/` (or `$RENKEI_SCREENSHOTS`).
//!
//! Needs `node`, `/usr/bin/chromium` (or `$CHROMIUM`) and `npm ci --prefix tests/browser`;
//! `.ci/run` installs all three on a fresh machine.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{DemoServer, DEMO_PASSWORD};

/// Every file of the demo region: its path and its path relative to the region, split
/// into folders (`<code>/<p1>/<p2>/<patient>/<date>/<kind>/…`).
fn region_files(region: &Path) -> Vec<(PathBuf, Vec<String>)> {
    let mut out = Vec::new();
    let mut stack = vec![region.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let rel = path
                .strip_prefix(region)
                .expect("inside")
                .to_string_lossy()
                .to_string();
            let parts = rel.split('/').map(str::to_owned).collect();
            out.push((path, parts));
        }
    }
    out
}

/// The demo region's patients with records of each kind the record-view script opens:
/// `{kind: [(facility code, local ID), …]}` (`CDA`: an extended-storage XML document;
/// `VITALS`: an extended-storage vitals message).
fn record_candidates(region: &Path) -> std::collections::BTreeMap<String, Vec<(String, String)>> {
    let mut out: std::collections::BTreeMap<String, Vec<(String, String)>> = Default::default();
    for (_, parts) in region_files(region) {
        let kind = match parts.as_slice() {
            [_, _, _, _, _, kind, file] if file.ends_with("_1") => kind.clone(),
            [_, _, _, _, _, kind, content, file]
                if file == "main_document.hl7"
                    && kind.starts_with("L-OBSERVATIONS")
                    && content.ends_with("_1") =>
            {
                "VITALS".to_owned()
            }
            [_, _, _, _, _, _, _, file, ..] if file.ends_with(".xml") => "CDA".to_owned(),
            _ => continue,
        };
        let list = out.entry(kind).or_default();
        let c = (parts[0].clone(), parts[3].clone());
        if list.len() < 60 && !list.contains(&c) {
            list.push(c);
        }
    }
    out
}

/// Issue 14: the exam, meal-order and CDA document views (tests/browser/records.mjs).
#[test]
fn exam_meal_and_document_views_in_chromium() {
    let demo = DemoServer::start(30);
    let region = demo_region(&demo);
    let candidates = serde_json::to_string(&record_candidates(&region)).expect("json");
    let shots = screenshots("records");
    run_script(
        "records.mjs",
        &demo,
        &shots,
        &[("RENKEI_RECORD_CANDIDATES", candidates.as_str())],
    );
    for name in [
        "exam-result",
        "exam-performed",
        "exam-order",
        "meal-order",
        "cda-document",
    ] {
        for width in ["desktop", "820", "390"] {
            assert!(
                shots.join(format!("record-{name}-{width}.png")).exists(),
                "{name} at {width}"
            );
        }
    }
}

/// Issue 14: the vitals tab (table and trend charts) and the vitals record view
/// (tests/browser/vitals.mjs), at desktop, 820 px and 390 px and printed.
#[test]
fn vitals_views_in_chromium() {
    let demo = DemoServer::start(30);
    let region = demo_region(&demo);
    let all = record_candidates(&region);
    let vitals = all.get("VITALS").cloned().unwrap_or_default();
    assert!(!vitals.is_empty(), "the demo region has no vitals messages");
    let candidates = serde_json::to_string(&vitals).expect("json");
    let shots = screenshots("vitals");
    run_script(
        "vitals.mjs",
        &demo,
        &shots,
        &[("RENKEI_VITALS_CANDIDATES", candidates.as_str())],
    );
    for name in ["vitals-tab", "vitals-record"] {
        for width in ["desktop", "820", "390"] {
            assert!(
                shots.join(format!("{name}-{width}.png")).exists(),
                "{name} at {width}"
            );
        }
    }
}

/// Where a browser script's screenshots go: `$RENKEI_SCREENSHOTS/<name>` when set, else a
/// folder of the test target (emptied first).
fn screenshots(name: &str) -> PathBuf {
    let shots = std::env::var("RENKEI_SCREENSHOTS")
        .map(|s| PathBuf::from(s).join(name))
        .unwrap_or_else(|_| {
            Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("browser-screenshots-{name}"))
        });
    let _ = std::fs::remove_dir_all(&shots);
    shots
}

/// Run `tests/browser/<script>` in chromium against `demo` with the demo's sign-in data and
/// `extra` environment; fails the test with the script's report when a step fails.
fn run_script(script: &str, demo: &DemoServer, shots: &Path, extra: &[(&str, &str)]) {
    let browser_dir = workspace().join("tests/browser");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    check_prerequisites(&browser_dir, &chromium);
    let mut cmd = Command::new("node");
    cmd.arg(browser_dir.join(script))
        .env("RENKEI_URL", demo.server.url())
        .env("RENKEI_PASSWORD", DEMO_PASSWORD)
        .env(
            "RENKEI_SECRETS",
            serde_json::to_string(&demo.secrets).expect("json"),
        )
        .env("RENKEI_CONSENTED", &demo.consented)
        .env("RENKEI_REFUSED", &demo.refused)
        .env("RENKEI_SCREENSHOTS", shots)
        .env("CHROMIUM", &chromium);
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run node");
    let report = String::from_utf8_lossy(&out.stdout);
    eprintln!("{report}");
    assert!(
        out.status.success(),
        "{script} failed (screenshots in {}):\n{report}\n{}",
        shots.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// What the test needs from the machine, with the command that provides it.
fn check_prerequisites(browser_dir: &Path, chromium: &str) {
    let node = Command::new("node").arg("--version").output();
    assert!(
        node.map(|o| o.status.success()).unwrap_or(false),
        "node is not installed: install Node.js (Debian: apt-get install nodejs npm), or run .ci/run"
    );
    assert!(
        Path::new(chromium).exists(),
        "{chromium} not found: install Debian's chromium (apt-get install chromium), set $CHROMIUM, or run .ci/run"
    );
    assert!(
        browser_dir.join("node_modules/playwright-core").exists(),
        "playwright-core is not installed: run `npm ci --prefix tests/browser` (or .ci/run)"
    );
}

#[test]
fn clinician_viewer_in_chromium() {
    // The demo prints its logins (TOTP secrets) and two regional IDs to try.
    let demo = DemoServer::start(30);
    assert!(demo.secrets.contains_key("doctor"), "{}", demo.text);
    let shots = screenshots("viewer");
    run_script("viewer.mjs", &demo, &shots, &[]);
    assert!(shots.join("08-lab-chart.png").exists());
}

/// Where `renkei serve --demo` put its region ("loading demo data: synthetic region of N
/// patients in <folder>").
fn demo_region(demo: &DemoServer) -> PathBuf {
    demo.text
        .lines()
        .find_map(|l| {
            l.split_once(" patients in ")
                .map(|(_, p)| p.trim().to_owned())
        })
        .map(PathBuf::from)
        .expect("the demo says where its region is")
}

/// The demo region's patients with a current (`_1`) standard-storage file of `kind` whose
/// bytes contain `marker` (ASCII, so found in the ISO-2022-JP bytes as sent):
/// `(facility code, local ID)`, sorted.
fn patients_with_current(region: &Path, kind: &str, marker: &[u8]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (path, parts) in region_files(region) {
        // <code>/<p1>/<p2>/<patient>/<date>/<kind>/<file>_1
        if parts.len() == 7 && parts[5] == kind && parts[6].ends_with("_1") {
            let bytes = std::fs::read(&path).unwrap_or_default();
            if bytes.windows(marker.len()).any(|w| w == marker) {
                let c = (parts[0].clone(), parts[3].clone());
                if !out.contains(&c) {
                    out.push(c);
                }
            }
        }
    }
    out.sort();
    out
}

/// Issue 14 fault 4 (orders): a prescription cancel stored as a current file cancels its
/// order on the medications tab, the timeline and the record pages, in chromium at three
/// widths and in print (tests/browser/cancels.mjs).
#[test]
fn order_cancel_views_in_chromium() {
    let demo = DemoServer::start(30);
    let region = demo_region(&demo);
    // A prescription cancel (ORC-1 `CA`) stored as a current file beside its order.
    let candidates = patients_with_current(&region, "OMP-01", b"\rORC|CA");
    assert!(
        !candidates.is_empty(),
        "the demo region has no prescription cancel stored as a current file"
    );
    let shots = screenshots("cancels");
    let candidates = serde_json::to_string(&candidates).expect("json");
    run_script(
        "cancels.mjs",
        &demo,
        &shots,
        &[("RENKEI_CANCEL_CANDIDATES", candidates.as_str())],
    );
    for shot in [
        "cancel-01-medications",
        "cancel-02-record-order",
        "cancel-03-record-cancel",
        "cancel-04-timeline",
    ] {
        for width in ["desktop", "820", "390"] {
            assert!(
                shots.join(format!("{shot}-{width}.png")).exists(),
                "{shot} at {width}"
            );
        }
    }
}

/// Issue 14 (ADT and problems): the summary's stays and diagnoses, the timeline's cancel
/// messages and the ADT / PPR record views in chromium at three widths and in print
/// (tests/browser/adt.mjs).
#[test]
fn adt_and_problem_views_in_chromium() {
    let demo = DemoServer::start(30);
    assert!(demo.secrets.contains_key("doctor"), "{}", demo.text);
    let region = demo_region(&demo);
    // Admissions cancelled by an ADT^A11 stored as a current file of its own.
    let candidates = patients_with_current(&region, "ADT-22", b"ADT^A11");
    assert!(
        !candidates.is_empty(),
        "the demo region has no A11 stored as a current file"
    );

    let shots = screenshots("adt");
    let candidates = serde_json::to_string(&candidates).expect("json");
    run_script(
        "adt.mjs",
        &demo,
        &shots,
        &[("RENKEI_ADT_CANDIDATES", candidates.as_str())],
    );
    for shot in [
        "adt-01-summary-desktop",
        "adt-01-summary-390",
        "adt-03-record-admission-820",
        "adt-05-record-demographics-390",
        "adt-06-record-diagnoses-desktop",
    ] {
        assert!(shots.join(format!("{shot}.png")).exists(), "{shot}");
    }
}

/// The medication views (issue 14): record views of a prescription, an injection and an
/// administration, the summary's current medications and the medications tab, at desktop,
/// 820 px and 390 px widths and printed (tests/browser/medications.mjs). Screenshots in
/// `<target>/tmp/browser-screenshots-medications/` (or `$RENKEI_SCREENSHOTS/medications`).
#[test]
fn medication_views_in_chromium() {
    let demo = DemoServer::start(30);
    assert!(demo.secrets.contains_key("doctor"), "{}", demo.text);
    let shots = screenshots("medications");
    run_script("medications.mjs", &demo, &shots, &[]);
    for name in [
        "record-prescription",
        "record-administration",
        "summary",
        "medications",
    ] {
        for width in ["desktop", "820", "390"] {
            assert!(
                shots.join(format!("med-{name}-{width}.png")).exists(),
                "{name} at {width}"
            );
        }
    }
}

/// The lab screens of issue 14 (tests/browser/labs.mjs) against their own demo: the culture
/// view, a lab record, the labs tab and the trend chart of a test sent in two units, each at
/// desktop, 820 px and 390 px and printed. Screenshots in
/// `<target>/tmp/browser-screenshots-labs/` (or `$RENKEI_SCREENSHOTS_LABS`).
#[test]
fn lab_screens_in_chromium() {
    let tmp = tempfile::tempdir().expect("tmp");
    let data = tmp.path().join("data");
    let demo = DemoServer::start_in(&data, 30, tmp);
    let doctor = common::labs::sign_in(&demo.server, "doctor", demo.secret("doctor"));
    let found = common::labs::find(&demo, &data, &doctor);
    let shots = screenshots("labs");
    run_script(
        "labs.mjs",
        &demo,
        &shots,
        &[
            ("RENKEI_CULTURE", found.culture_record.as_str()),
            ("RENKEI_UNITS", found.units_patient.as_str()),
            ("RENKEI_ALBUMIN", common::labs::ALBUMIN),
        ],
    );
    for name in [
        "lab-culture",
        "lab-record",
        "labs-tab",
        "lab-chart-two-units",
    ] {
        for width in ["desktop", "tablet", "phone"] {
            assert!(
                shots.join(format!("{name}-{width}.png")).exists(),
                "{name}-{width}"
            );
        }
    }
}
