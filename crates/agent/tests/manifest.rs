//! The manifest against a real folder: new, changed, touched-but-equal and removed files.

use std::fs;
use std::path::Path;
use std::time::{Duration, SystemTime};

use agent::{Entry, Manifest};

fn write(root: &Path, rel: &str, bytes: &[u8]) {
    let p = root.join(rel);
    fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    fs::write(p, bytes).expect("write");
}

/// Set a file's mtime to a fixed offset (so a change is seen even within one clock tick).
fn touch(root: &Path, rel: &str, secs: u64) {
    let f = fs::OpenOptions::new()
        .write(true)
        .open(root.join(rel))
        .expect("open");
    f.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs))
        .expect("set mtime");
}

fn scan(m: &mut Manifest, root: &Path) -> agent::ScanReport {
    m.scan(root, false, &mut |_| {}).expect("scan")
}

fn mark_all_sent(m: &mut Manifest) {
    let unsent: Vec<Entry> = m.unsent().expect("unsent");
    m.mark_sent(&unsent).expect("mark");
}

#[test]
fn new_changed_touched_and_removed_files_are_told_apart() {
    let tmp = tempfile::tempdir().expect("tmp");
    let root = tmp.path().join("root");
    let state = tmp.path().join("state");
    write(&root, "a/1", b"one");
    write(&root, "a/2", b"two");
    write(&root, "b/3", b"three");
    write(&root, "bad\\name", b"x");
    let mut m = Manifest::open(&state).expect("open");

    let r = scan(&mut m, &root);
    assert_eq!(
        (r.scanned, r.hashed, r.new, r.changed, r.gone),
        (3, 3, 3, 0, 0)
    );
    assert_eq!(r.skipped.len(), 1, "{:?}", r.skipped);
    assert_eq!(r.skipped[0].0, "bad\\name");
    assert_eq!(m.unsent().expect("unsent").len(), 3);
    mark_all_sent(&mut m);

    // Nothing changed: nothing hashed, nothing to send.
    let r = scan(&mut m, &root);
    assert_eq!(
        (r.scanned, r.hashed, r.new, r.changed, r.gone),
        (3, 0, 0, 0, 0)
    );
    assert!(m.unsent().expect("unsent").is_empty());

    // Touched with the same content: hashed again, still sent.
    touch(&root, "a/1", 5);
    let r = scan(&mut m, &root);
    assert_eq!((r.hashed, r.changed), (1, 0));
    assert!(m.unsent().expect("unsent").is_empty());

    // Changed content, a new file and a removed one.
    write(&root, "a/2", b"two, amended");
    touch(&root, "a/2", 9);
    write(&root, "c/4", b"four");
    fs::remove_file(root.join("b/3")).expect("rm");
    let r = scan(&mut m, &root);
    assert_eq!(
        (r.scanned, r.hashed, r.new, r.changed, r.gone),
        (3, 2, 1, 1, 1)
    );
    let unsent: Vec<String> = m
        .unsent()
        .expect("unsent")
        .into_iter()
        .map(|e| e.path)
        .collect();
    assert_eq!(unsent, vec!["a/2", "c/4"]);
    assert_eq!(m.gone().expect("gone"), vec!["b/3"]);
    let s = m.status().expect("status");
    assert_eq!(
        (s.known, s.sent, s.pending, s.removed_pending),
        (3, 1, 2, 1)
    );

    // Once reported, a removed file is forgotten.
    let gone = m.gone().expect("gone");
    m.drop_gone(&gone).expect("drop");
    assert!(m.gone().expect("gone").is_empty());
    assert!(m.get("b/3").expect("get").is_none());

    // The manifest survives reopening (a killed agent).
    drop(m);
    let m = Manifest::open(&state).expect("reopen");
    assert_eq!(m.unsent().expect("unsent").len(), 2);
    assert_eq!(
        m.get("a/2").expect("get").expect("entry").sha256,
        upload_sha(b"two, amended")
    );
}

#[test]
fn a_full_scan_hashes_everything_and_a_file_back_in_place_is_not_gone() {
    let tmp = tempfile::tempdir().expect("tmp");
    let root = tmp.path().join("root");
    write(&root, "x/1", b"1");
    write(&root, "x/2", b"2");
    let mut m = Manifest::open(&tmp.path().join("state")).expect("open");
    scan(&mut m, &root);
    mark_all_sent(&mut m);
    let r = m.scan(&root, true, &mut |_| {}).expect("full");
    assert_eq!((r.hashed, r.changed), (2, 0));
    assert!(
        m.unsent().expect("unsent").is_empty(),
        "same hash: still sent"
    );

    let moved = tmp.path().join("aside");
    fs::rename(root.join("x/2"), &moved).expect("mv");
    assert_eq!(scan(&mut m, &root).gone, 1);
    fs::rename(&moved, root.join("x/2")).expect("mv back");
    let r = scan(&mut m, &root);
    assert_eq!((r.gone, r.hashed), (0, 0));
    assert!(m.gone().expect("gone").is_empty());
    assert!(m.unsent().expect("unsent").is_empty());
}

#[test]
fn status_needs_an_existing_manifest() {
    let tmp = tempfile::tempdir().expect("tmp");
    let e = agent::status_text(&tmp.path().join("nothing")).expect_err("none");
    assert!(e.to_string().contains("no agent manifest"), "{e}");
    assert_eq!(agent::format_utc(0), "1970-01-01T00:00:00Z");
    assert_eq!(agent::format_utc(1_774_483_200), "2026-03-26T00:00:00Z");
}

fn upload_sha(b: &[u8]) -> String {
    upload::sha256_hex(b)
}
