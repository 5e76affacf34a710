//! `renkei bench ingest` at a tiny scale, so the import benchmark of docs/BENCHMARKS.md keeps
//! working: parse stages, the full import and, with --rederive, the rate at which the facts
//! of every stored record are read again (what `renkei serve` does after an upgrade).

use std::process::Command;

#[test]
fn bench_ingest_prints_import_and_rederivation_rates() {
    let work = tempfile::tempdir().expect("tmp");
    let out = Command::new(env!("CARGO_BIN_EXE_renkei"))
        .args(["bench", "ingest", "--patients", "8", "--work"])
        .arg(work.path())
        .arg("--rederive")
        .output()
        .expect("run renkei");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "renkei bench ingest failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for row in [
        "| parse, 1 core: ",
        "| full import (",
        "| import stages: ",
        "| facts re-derived from the stored bytes (extractor ",
    ] {
        assert!(stdout.contains(row), "no {row:?} row in:\n{stdout}");
    }
    // Every live record with facts (or an order) was read again: a number, not zero.
    let line = stdout
        .lines()
        .find(|l| l.starts_with("| facts re-derived"))
        .expect("row");
    let n: u64 = line
        .split('(')
        .nth(2)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no record count in {line}"));
    assert!(n > 100, "{line}");
}
