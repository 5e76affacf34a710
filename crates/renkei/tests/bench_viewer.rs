//! `renkei bench viewer` at a tiny scale, so the benchmark of docs/BENCHMARKS.md keeps
//! working: it builds its store (generate, import, network set-up, scale, enrol), times every
//! screen through the gate, and can time the same store again with --reuse.

use std::path::Path;
use std::process::Command;

fn bench(work: &Path, extra: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_renkei"))
        .args(["bench", "viewer", "--work"])
        .arg(work)
        .args(["--iterations", "3"])
        .args(extra)
        .output()
        .expect("run renkei");
    assert!(
        out.status.success(),
        "renkei bench viewer {extra:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The timed rows of the results table: (screen, items, iterations).
fn rows(out: &str) -> Vec<(String, u64, u64)> {
    out.lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| screen"))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            (
                cells[1].to_owned(),
                cells[2].parse().expect("items"),
                cells[3].parse().expect("iterations"),
            )
        })
        .collect()
}

#[test]
fn bench_viewer_builds_times_every_screen_and_reuses_its_store() {
    let work = tempfile::tempdir().expect("tempdir");
    check_build_and_reuse(work.path(), &[]);
}

/// The same on PostgreSQL (`--database-url`): an empty database, scaled in SQL.
#[test]
fn bench_viewer_on_postgres() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let db = rt.block_on(store_postgres::testing::TestDatabase::create());
    let work = tempfile::tempdir().expect("tempdir");
    let out = check_build_and_reuse(work.path(), &["--database-url", &db.url]);
    assert!(
        out.lines()
            .next()
            .unwrap_or_default()
            .contains("PostgreSQL"),
        "{out}"
    );
    // A second build into the same (now full) database is refused, not mixed in.
    let again = Command::new(env!("CARGO_BIN_EXE_renkei"))
        .args(["bench", "viewer", "--work"])
        .arg(work.path())
        .args(["--database-url", &db.url, "--copies", "1"])
        .output()
        .expect("run renkei");
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("not empty"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    drop(db);
}

/// Build a tiny store, check every screen, time it again with --reuse; the first output.
fn check_build_and_reuse(work: &Path, backend: &[&str]) -> String {
    let mut args = vec![
        "--patients",
        "30",
        "--copies",
        "2",
        "--target-records",
        "400",
    ];
    args.extend_from_slice(backend);
    let out = bench(work, &args);
    // 2 copies + the region itself, and the target patient's records on top.
    let header = out.lines().next().expect("header");
    assert!(header.contains("(2 copies of a "), "{out}");
    let target = out
        .lines()
        .find(|l| l.starts_with("target patient"))
        .expect("target line");
    let records: u64 = target
        .split(": ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .expect("target record count");
    assert!(records >= 400, "{target}");
    assert!(
        target.contains(" at "),
        "split over two facilities: {target}"
    );

    let timed = rows(&out);
    let names: Vec<&str> = timed.iter().map(|r| r.0.as_str()).collect();
    for screen in [
        "summary",
        "timeline",
        "lab matrix",
        "medications",
        "record list",
        "name search",
    ] {
        assert!(
            names.iter().any(|n| n.starts_with(screen)),
            "{screen} missing:\n{out}"
        );
    }
    for (name, items, iterations) in &timed {
        assert_eq!(*iterations, 3, "{name}");
        // Every screen shows something of the target patient (the gate allowed it).
        assert!(*items > 0, "{name} shows nothing:\n{out}");
    }
    let list = timed
        .iter()
        .find(|r| r.0.starts_with("record list"))
        .expect("record list");
    assert_eq!(list.1, records, "every record of the target is listed");

    // Again on the same store, without rebuilding it.
    let mut reuse = vec!["--reuse"];
    reuse.extend_from_slice(backend);
    let again = bench(work, &reuse);
    assert_eq!(rows(&again).len(), timed.len(), "{again}");
    assert_eq!(again.lines().next(), Some(header), "same store");
    out
}
