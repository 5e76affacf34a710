//! `renkei bench load` at a tiny scale, so the load benchmark of docs/BENCHMARKS.md keeps
//! working: it builds the `bench viewer` store when --work has none, adds its users, starts
//! the real server, signs clinicians in over HTTP and opens every page kind of consented
//! patients, with and without sign-ins, and reports no error. A second run on the same store
//! signs the same users in again (their TOTP steps remembered across runs).

use std::path::Path;
use std::process::Command;

fn bench(work: &Path, backend: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_renkei"))
        .args(["bench", "load", "--work"])
        .arg(work)
        .args(backend)
        .args([
            "--patients",
            "30",
            "--copies",
            "1",
            "--target-records",
            "100",
            "--sessions",
            "3",
            "--seconds",
            "1.5",
            "--warmup-seconds",
            "0.5",
            "--login-share",
            "0.2",
            // More than one run signs in with (a fresh account signs in at most three times
            // in a TOTP step), so that the second run finds unused ones.
            "--login-users",
            "40",
        ])
        .output()
        .expect("run renkei");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "renkei bench load failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The results table (nine columns; the CPU table has seven): (phase, requests of, count,
/// errors).
fn rows(out: &str) -> Vec<(String, String, u64, u64)> {
    out.lines()
        .filter(|l| l.starts_with("| pages"))
        .map(|l| l.split('|').map(str::trim).collect::<Vec<&str>>())
        .filter(|cells| cells.len() == 11)
        .map(|cells| {
            (
                cells[1].to_owned(),
                cells[2].to_owned(),
                cells[3].parse().expect("count"),
                cells[5].parse().expect("errors"),
            )
        })
        .collect()
}

fn check(out: &str) {
    let rows = rows(out);
    for phase in ["pages only", "pages + sign-ins"] {
        for what in [
            "summary",
            "timeline",
            "labs",
            "medications",
            "**all pages**",
        ] {
            let r = rows
                .iter()
                .find(|r| r.0 == phase && r.1.starts_with(what))
                .unwrap_or_else(|| panic!("{phase} / {what} missing:\n{out}"));
            assert!(r.2 > 0, "{phase} / {what}: no requests:\n{out}");
            assert_eq!(r.3, 0, "{phase} / {what}: errors:\n{out}");
        }
    }
    let logins = rows
        .iter()
        .find(|r| r.0 == "pages + sign-ins" && r.1.starts_with("sign-in"))
        .unwrap_or_else(|| panic!("no sign-in row:\n{out}"));
    assert!(logins.2 > 0, "no sign-in measured:\n{out}");
    assert_eq!(logins.3, 0, "sign-ins failed:\n{out}");
    assert!(out.contains("goal (issue 13): 0 errors — pass"), "{out}");
    assert!(out.contains("pages with sign-ins ÷ without"), "{out}");
}

#[test]
fn bench_load_signs_in_and_opens_every_page_without_errors() {
    let work = tempfile::tempdir().expect("tempdir");
    let first = bench(work.path(), &[]);
    check(&first);
    assert!(first.contains("embedded SQLite store"), "{first}");
    assert!(
        work.path().join("viewer-store/bench-load.json").exists(),
        "the users are kept for the next run"
    );
    // Again at once: the same users, no used TOTP code sent twice.
    let again = bench(work.path(), &[]);
    check(&again);
}

/// The same on PostgreSQL: the server started with --database-url.
#[test]
fn bench_load_on_postgres() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let db = rt.block_on(store_postgres::testing::TestDatabase::create());
    let work = tempfile::tempdir().expect("tempdir");
    let out = bench(work.path(), &["--database-url", &db.url]);
    check(&out);
    assert!(out.contains("— PostgreSQL"), "{out}");
    drop(db);
}
