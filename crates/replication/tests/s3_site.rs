//! The S3 site against a real S3 server (`rclone serve s3` over a temporary folder): ship,
//! re-ship, restore a tree as of a time, damage the bucket, verify, repair — from identical
//! packs, or by relocating contents when no identical pack exists anywhere.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use model::{FacilityCode, Sha256};
use replication::rclone::RcloneS3;
use replication::s3::{PackDamage, S3Site, SiteFile, SiteReport};
use store::{
    BlobLocation, Feed, FeedCursor, FeedVersion, LocalPacks, PackBuilder, RegistryChange, RowOp,
};

const F1: &str = "1310000001";
const F2: &str = "2710000002";
const JAN: &str = "2024-01-10T09:00:00Z";
const FEB: &str = "2024-02-10T09:00:00Z";

fn fac(s: &str) -> FacilityCode {
    FacilityCode::parse(s).unwrap()
}

fn sha(bytes: &[u8]) -> Sha256 {
    store::packs::sha256(bytes)
}

/// An HL7-ish file, ~2 KB, different for each (n, variant).
fn content(n: usize, variant: &str) -> Vec<u8> {
    format!("MSH|^~\\&|HIS|{n}|{variant}|\rPID|||{n:010}||ヤマダ^タロウ\r")
        .repeat(30)
        .into_bytes()
}

fn path(n: usize) -> String {
    format!(
        "12/{:06}/20240101/OML-11/2024010112{n:04}_OML-11.hl7",
        123_456 + n % 7
    )
}

/// Build a pack of these contents into `packs`; where each went.
fn pack(packs: &LocalPacks, contents: &[&[u8]]) -> (String, BTreeMap<Sha256, BlobLocation>) {
    let mut b = PackBuilder::new();
    for c in contents {
        b.add(sha(c), c).unwrap();
    }
    let p = b.finish().unwrap();
    packs.write(&p.name, &p.bytes).unwrap();
    (p.name, p.locations.into_iter().collect())
}

struct Fixture {
    feed_jan: Feed,
    feed_feb: Feed,
    /// Expected latest bytes per (facility, path).
    latest: BTreeMap<(String, String), Vec<u8>>,
    /// Expected bytes per (facility, path) as of late January.
    january: BTreeMap<(String, String), Vec<u8>>,
    pack_a: String,
    pack_b: String,
    pack_c: String,
}

fn version(
    id: i64,
    facility: &str,
    path: &str,
    bytes: Option<&[u8]>,
    at: &str,
    locs: &BTreeMap<Sha256, BlobLocation>,
) -> FeedVersion {
    FeedVersion {
        id,
        facility: fac(facility),
        path: path.to_owned(),
        sha256: bytes.map(sha),
        size: bytes.map_or(0, |b| b.len() as u64),
        recorded_at: at.to_owned(),
        location: bytes.map(|b| locs[&sha(b)].clone()),
        accept_unterminated: false,
    }
}

fn fixture(packs: &LocalPacks) -> Fixture {
    // Pack A: facility 1's first 100 files (~200 KB raw: several frames).
    let f1: Vec<Vec<u8>> = (0..100).map(|n| content(n, "v1")).collect();
    let (pack_a, locs_a) = pack(packs, &f1.iter().map(Vec::as_slice).collect::<Vec<_>>());
    // Pack B: facility 2's files, file 0 of facility 1 updated in February, and a second copy
    // of file 1's content (an alternate location for it).
    let f2: Vec<Vec<u8>> = (0..5).map(|n| content(n, "facility-2")).collect();
    let updated = content(0, "v2");
    let mut in_b: Vec<&[u8]> = f2.iter().map(Vec::as_slice).collect();
    in_b.push(&updated);
    in_b.push(&f1[1]);
    let (pack_b, locs_b) = pack(packs, &in_b);
    // Pack C: one more file of facility 2, added in February.
    let late = content(99, "facility-2-late");
    let (pack_c, locs_c) = pack(packs, &[&late]);

    let mut latest = BTreeMap::new();
    let mut january = BTreeMap::new();
    let mut jan_versions = Vec::new();
    for (n, bytes) in f1.iter().enumerate() {
        jan_versions.push(version(
            n as i64 + 1,
            F1,
            &path(n),
            Some(bytes),
            JAN,
            &locs_a,
        ));
        january.insert((F1.to_owned(), path(n)), bytes.clone());
        latest.insert((F1.to_owned(), path(n)), bytes.clone());
    }
    for (n, bytes) in f2.iter().enumerate() {
        jan_versions.push(version(
            101 + n as i64,
            F2,
            &path(n),
            Some(bytes),
            JAN,
            &locs_b,
        ));
        january.insert((F2.to_owned(), path(n)), bytes.clone());
        latest.insert((F2.to_owned(), path(n)), bytes.clone());
    }
    // Facility 1, "copy" path: the same content as file 1, stored in pack B.
    jan_versions.push(version(
        110,
        F1,
        "12/999999/copy.hl7",
        Some(&f1[1]),
        JAN,
        &locs_b,
    ));
    january.insert((F1.to_owned(), "12/999999/copy.hl7".into()), f1[1].clone());
    latest.insert((F1.to_owned(), "12/999999/copy.hl7".into()), f1[1].clone());

    let feb_versions = vec![
        // File 0 updated, file 2 removed, a new file for facility 2.
        version(200, F1, &path(0), Some(&updated), FEB, &locs_b),
        version(201, F1, &path(2), None, FEB, &locs_a),
        version(202, F2, &path(99), Some(&late), FEB, &locs_c),
    ];
    latest.insert((F1.to_owned(), path(0)), updated.clone());
    latest.remove(&(F1.to_owned(), path(2)));
    latest.insert((F2.to_owned(), path(99)), late.clone());

    let registry = |seq: i64, code: &str| RegistryChange {
        seq,
        table: "facilities".into(),
        op: RowOp::Upsert,
        row: serde_json::json!({ "code": code, "name": "病院" })
            .as_object()
            .unwrap()
            .clone(),
        at: Some("2026-11-20T00:00:00Z".into()),
    };
    let mut audit_entries: Vec<audit::Entry> = Vec::new();
    for i in 0..3 {
        let prev = audit_entries.last().map(|e| (&e.seq, &e.hash));
        let event = audit::Event::new(
            model::UnixTime(1_704_877_200 + i),
            "admin",
            audit::Action::Import,
        );
        audit_entries.push(audit::append(prev, event));
    }
    let feb_audit = audit::append(
        audit_entries.last().map(|e| (&e.seq, &e.hash)),
        audit::Event::new(
            model::UnixTime(1_707_555_600),
            "system",
            audit::Action::Import,
        ),
    );

    Fixture {
        feed_jan: Feed {
            registry: vec![registry(1, F1), registry(2, F2)],
            audit: audit_entries,
            versions: jan_versions,
            next: FeedCursor {
                registry: 2,
                audit: 3,
                version: 110,
            },
        },
        feed_feb: Feed {
            registry: vec![registry(3, F2)],
            audit: vec![feb_audit],
            versions: feb_versions,
            next: FeedCursor {
                registry: 3,
                audit: 4,
                version: 202,
            },
        },
        latest,
        january,
        pack_a,
        pack_b,
        pack_c,
    }
}

/// The tree's contents read back, keyed like the fixture's expectations.
async fn restore(
    site: &S3Site,
    as_of: Option<&str>,
) -> replication::Result<BTreeMap<(String, String), Vec<u8>>> {
    let mut out = BTreeMap::new();
    for f in site.facilities().await? {
        let tree = site.tree_as_of(&f, as_of).await?;
        let contents = site.read_contents(&tree).await?;
        for (file, bytes) in tree.iter().zip(contents) {
            assert_eq!(bytes.len() as u64, file.size);
            out.insert((f.to_string(), file.path.clone()), bytes);
        }
    }
    Ok(out)
}

fn pack_file(server: &RcloneS3, prefix: &str, name: &str) -> std::path::PathBuf {
    server
        .bucket_dir()
        .join(prefix)
        .join("packs")
        .join(&name[..2])
        .join(format!("{name}.pack"))
}

#[tokio::test(flavor = "multi_thread")]
async fn ship_restore_verify_repair() {
    let tmp = tempfile::tempdir().unwrap();
    let packs = LocalPacks::open(tmp.path().join("packs")).unwrap();
    let fx = fixture(&packs);
    let server = RcloneS3::start(&tmp.path().join("s3"), "renkei-backup").unwrap();
    let mut cfg = server.site_config("offsite");
    cfg.prefix = Some("/network-a/".into());
    let site = S3Site::new(&cfg).unwrap();
    assert_eq!(site.name(), "offsite");

    // Ship January, then January again (a crash before the cursor was saved), then February.
    let first = site.ship(&fx.feed_jan, &packs).await.unwrap();
    assert_eq!((first.packs_uploaded, first.packs_skipped), (2, 0));
    assert_eq!(
        first.log_objects, 4,
        "versions of 2 facilities, registry, audit"
    );
    assert_eq!(first.versions, 106);
    let again = site.ship(&fx.feed_jan, &packs).await.unwrap();
    assert_eq!((again.packs_uploaded, again.packs_skipped), (0, 2));
    assert_eq!((again.log_objects, again.log_objects_skipped), (0, 4));
    let feb = site.ship(&fx.feed_feb, &packs).await.unwrap();
    assert_eq!((feb.packs_uploaded, feb.packs_skipped), (1, 1));
    assert_eq!(feb.log_objects, 4);

    // A log with overlapping versions (a re-ship cut differently): readers dedupe. Only
    // facility 1's log differs from February's.
    let mut overlap = fx.feed_feb.clone();
    overlap.versions.insert(0, fx.feed_jan.versions[0].clone());
    overlap.registry.clear();
    overlap.audit.clear();
    let o = site.ship(&overlap, &packs).await.unwrap();
    assert_eq!((o.log_objects, o.log_objects_skipped), (1, 1));

    assert_eq!(site.facilities().await.unwrap(), vec![fac(F1), fac(F2)]);
    assert_eq!(restore(&site, None).await.unwrap(), fx.latest);
    assert_eq!(
        restore(&site, Some("2024-01-31T00:00:00Z")).await.unwrap(),
        fx.january
    );
    assert!(restore(&site, Some("2023-12-31T00:00:00Z"))
        .await
        .unwrap()
        .is_empty());

    // Contents by hash, from any facility.
    let wanted: Vec<Sha256> = fx.latest.values().take(3).map(|b| sha(b)).collect();
    let mut unknown = wanted.clone();
    unknown.push(Sha256([7; 32]));
    let found = site.contents_by_sha(&unknown).await.unwrap();
    assert_eq!(found.len(), 3);
    for s in &wanted {
        assert_eq!(&sha(&found[s]), s);
    }

    let clean = site.verify().await.unwrap();
    assert!(clean.is_clean(), "{clean:?}");
    assert_eq!(clean.packs_checked, 3);
    assert_eq!(clean.versions, 109);
    assert_eq!(clean.log_objects, 9);

    // Damage the bucket: flip a byte in pack A's first frame, delete pack C.
    let a_file = pack_file(&server, "network-a", &fx.pack_a);
    let mut bytes = std::fs::read(&a_file).unwrap();
    bytes[20] ^= 0x40;
    std::fs::write(&a_file, &bytes).unwrap();
    std::fs::remove_file(pack_file(&server, "network-a", &fx.pack_c)).unwrap();
    // rclone caches directory listings for 10 ms (see RcloneS3::start).
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;

    let report = site.verify().await.unwrap();
    let problems: BTreeSet<(String, PackDamage, u64)> = report
        .pack_problems
        .iter()
        .map(|p| (p.pack.clone(), p.damage, p.versions))
        .collect();
    assert_eq!(
        problems,
        BTreeSet::from([
            (fx.pack_a.clone(), PackDamage::Corrupt, 100),
            (fx.pack_c.clone(), PackDamage::Missing, 1),
        ]),
        "{report:?}"
    );
    assert!(report.log_problems.is_empty());

    // Reads: a file of the damaged frame fails, naming its path; the file whose content is
    // also in pack B falls back to it.
    let tree = site.tree_as_of(&fac(F1), None).await.unwrap();
    let copy_of_1: Vec<SiteFile> = tree
        .iter()
        .filter(|f| f.path == path(1) || f.path == "12/999999/copy.hl7")
        .cloned()
        .collect();
    assert_eq!(copy_of_1.len(), 2);
    assert_eq!(copy_of_1[0].locations.len(), 2, "pack A and pack B");
    let read = site.read_contents(&copy_of_1).await.unwrap();
    assert_eq!(read[0], fx.latest[&(F1.to_owned(), path(1))]);
    let err = site.read_contents(&tree).await.unwrap_err().to_string();
    assert!(err.contains("cannot read 12/"), "{err}");
    let f2_tree = site.tree_as_of(&fac(F2), None).await.unwrap();
    let err = site.read_contents(&f2_tree).await.unwrap_err().to_string();
    assert!(err.contains(&path(99)) && err.contains("missing"), "{err}");

    // Repair from the primary's packs.
    let repaired = site.repair(&report, &packs).await.unwrap();
    assert_eq!(
        repaired.repaired.iter().collect::<BTreeSet<_>>(),
        BTreeSet::from([&fx.pack_a, &fx.pack_c])
    );
    assert!(repaired.unrepaired.is_empty());
    let after = site.verify().await.unwrap();
    assert!(after.is_clean(), "{after:?}");
    assert_eq!(restore(&site, None).await.unwrap(), fx.latest);
    let _ = fx.pack_b;
}

#[tokio::test(flavor = "multi_thread")]
async fn repair_refuses_a_bad_source_and_ship_refuses_a_bad_pack() {
    let tmp = tempfile::tempdir().unwrap();
    let packs = LocalPacks::open(tmp.path().join("packs")).unwrap();
    let fx = fixture(&packs);
    let server = RcloneS3::start(&tmp.path().join("s3"), "bucket").unwrap();
    let site = S3Site::new(&server.site_config("dr")).unwrap();
    site.ship(&fx.feed_jan, &packs).await.unwrap();
    std::fs::remove_file(pack_file(&server, "", &fx.pack_b)).unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let report = site.verify().await.unwrap();
    assert_eq!(report.pack_problems.len(), 1);
    assert_eq!(report.pack_problems[0].damage, PackDamage::Missing);

    // The primary's copy is damaged too: nothing is written.
    let local = packs.path_of(&fx.pack_b);
    let mut bytes = std::fs::read(&local).unwrap();
    bytes[0] ^= 1;
    std::fs::write(&local, &bytes).unwrap();
    let outcome = site.repair(&report, &packs).await.unwrap();
    assert!(outcome.repaired.is_empty());
    assert_eq!(outcome.unrepaired.len(), 1);
    assert!(!pack_file(&server, "", &fx.pack_b).exists());

    // Shipping a feed that needs the damaged pack fails, naming the pack's key.
    let err = site
        .ship(&fx.feed_feb, &packs)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&fx.pack_b) && err.contains("does not hash"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn object_lock_headers_are_accepted() {
    let tmp = tempfile::tempdir().unwrap();
    let packs = LocalPacks::open(tmp.path().join("packs")).unwrap();
    let fx = fixture(&packs);
    let server = RcloneS3::start(&tmp.path().join("s3"), "locked").unwrap();
    let mut cfg = server.site_config("locked");
    cfg.object_lock_days = Some(30);
    let site = S3Site::new(&cfg).unwrap();
    site.ship(&fx.feed_jan, &packs).await.unwrap();
    assert!(site.verify().await.unwrap().is_clean());
}

/// Every file under the bucket's folder: what a repair wrote, and that it wrote nothing else.
fn objects(root: &Path) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            if e.file_type().unwrap().is_dir() {
                dirs.push(e.path());
            } else {
                out.insert(e.path());
            }
        }
    }
    out
}

fn damaged_packs(report: &SiteReport) -> BTreeSet<(String, PackDamage)> {
    report
        .pack_problems
        .iter()
        .map(|p| (p.pack.clone(), p.damage))
        .collect()
}

fn covered_packs(report: &SiteReport) -> BTreeSet<(String, PackDamage)> {
    report
        .covered
        .iter()
        .map(|p| (p.pack.clone(), p.damage))
        .collect()
}

/// The primary lost the packs it shipped (or was promoted from a replica whose packs are its
/// own): no identical pack exists anywhere, only the contents. Relocation mends the bucket.
#[tokio::test(flavor = "multi_thread")]
async fn relocation_repairs_without_identical_packs() {
    let tmp = tempfile::tempdir().unwrap();
    let packs = LocalPacks::open(tmp.path().join("packs")).unwrap();
    let fx = fixture(&packs);
    let server = RcloneS3::start(&tmp.path().join("s3"), "renkei-backup").unwrap();
    let mut cfg = server.site_config("offsite");
    cfg.prefix = Some("network-a".into());
    let site = S3Site::new(&cfg).unwrap();
    site.ship(&fx.feed_jan, &packs).await.unwrap();
    site.ship(&fx.feed_feb, &packs).await.unwrap();
    // An overlapping log: the same version line twice must be relocated once.
    let mut overlap = fx.feed_feb.clone();
    overlap.versions.insert(0, fx.feed_jan.versions[0].clone());
    overlap.registry.clear();
    overlap.audit.clear();
    site.ship(&overlap, &packs).await.unwrap();

    // Every content, as the primary's store would give it by hash.
    let originals: HashMap<Sha256, Vec<u8>> = fx
        .latest
        .values()
        .chain(fx.january.values())
        .map(|b| (sha(b), b.clone()))
        .collect();

    // Damage: pack A corrupt, pack B gone (the content of file 1 was in both). Not pack C:
    // a pack of one content is rebuilt byte for byte, under its own name.
    let a_file = pack_file(&server, "network-a", &fx.pack_a);
    let mut bytes = std::fs::read(&a_file).unwrap();
    bytes[20] ^= 0x40;
    std::fs::write(&a_file, &bytes).unwrap();
    std::fs::remove_file(pack_file(&server, "network-a", &fx.pack_b)).unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let damaged = BTreeSet::from([
        (fx.pack_a.clone(), PackDamage::Corrupt),
        (fx.pack_b.clone(), PackDamage::Missing),
    ]);
    let report = site.verify().await.unwrap();
    assert_eq!(damaged_packs(&report), damaged, "{report:?}");
    assert!(report.covered.is_empty());

    // No identical pack anywhere: the primary's packs folder is empty.
    let empty = LocalPacks::open(tmp.path().join("no-packs")).unwrap();
    let outcome = site.repair(&report, &empty).await.unwrap();
    assert!(outcome.repaired.is_empty());
    assert_eq!(outcome.unrepaired.len(), 2);

    // A source whose bytes do not match their hashes is not used: nothing is written.
    let before = objects(&server.bucket_dir());
    let liar: HashMap<Sha256, Vec<u8>> = originals
        .iter()
        .map(|(s, b)| (*s, [b.as_slice(), b"tampered"].concat()))
        .collect();
    let outcome = site.repair_with_contents(&report, &liar).await.unwrap();
    assert!(outcome.relocated.is_empty(), "{outcome:?}");
    let unrepaired: BTreeSet<&String> = outcome.unrepaired.iter().map(|(w, _)| w).collect();
    assert_eq!(unrepaired, BTreeSet::from([&fx.pack_a, &fx.pack_b]));
    assert!(
        outcome.unrepaired[0].1.contains("did not match"),
        "{outcome:?}"
    );
    assert_eq!(objects(&server.bucket_dir()), before);

    // A source with one of pack A's contents wrong: the rest is relocated, A stays at stake.
    let wrong = sha(&fx.january[&(F1.to_owned(), path(5))]);
    let mut partial = originals.clone();
    partial.insert(wrong, b"not it".to_vec());
    let outcome = site.repair_with_contents(&report, &partial).await.unwrap();
    let moved: BTreeMap<&String, (u64, u64, u64)> = outcome
        .relocated
        .iter()
        .map(|r| (&r.pack, (r.contents, r.versions, r.log_objects)))
        .collect();
    // Pack A: 100 contents, but file 5's is wrong. Pack B: 7 contents of 7 versions of both
    // facilities (file 1's content goes into both new packs: it had no intact copy).
    assert_eq!(
        moved,
        BTreeMap::from([(&fx.pack_a, (99, 99, 1)), (&fx.pack_b, (7, 7, 2))]),
        "{outcome:?}"
    );
    assert!(moved.keys().all(|p| *p != &fx.pack_c));
    assert_eq!(outcome.unrepaired.len(), 1, "{outcome:?}");
    assert!(
        outcome.unrepaired[0].0 == fx.pack_a && outcome.unrepaired[0].1.contains("1 did not match"),
        "{outcome:?}"
    );
    let middle = site.verify().await.unwrap();
    assert_eq!(
        damaged_packs(&middle),
        BTreeSet::from([(fx.pack_a.clone(), PackDamage::Corrupt)])
    );
    assert_eq!(
        covered_packs(&middle),
        BTreeSet::from([(fx.pack_b.clone(), PackDamage::Missing)])
    );

    // The whole source: pack A's last content is relocated too; nothing was overwritten or
    // deleted on the way.
    let before = objects(&server.bucket_dir());
    let outcome = site
        .repair_with_contents(&middle, &originals)
        .await
        .unwrap();
    assert!(outcome.unrepaired.is_empty(), "{outcome:?}");
    assert_eq!(outcome.relocated.len(), 1);
    assert_eq!(
        (
            outcome.relocated[0].contents,
            outcome.relocated[0].log_objects
        ),
        (1, 1)
    );
    let after_objects = objects(&server.bucket_dir());
    assert!(after_objects.is_superset(&before));
    assert_eq!(
        std::fs::read(&a_file).unwrap(),
        bytes,
        "the damaged pack stays as it was"
    );

    let after = site.verify().await.unwrap();
    assert!(after.is_clean(), "{after:?}");
    assert_eq!(
        covered_packs(&after),
        damaged,
        "still listed for the operator"
    );
    assert_eq!(after.covered[0].versions + after.covered[1].versions, 107);
    assert_eq!(after.versions, 109, "relocation lines are not new versions");

    // Reads: byte for byte, latest and as of January, from this site and from a fresh one
    // that knows nothing about the damage (it falls back location by location).
    assert_eq!(restore(&site, None).await.unwrap(), fx.latest);
    let fresh = S3Site::new(&cfg).unwrap();
    assert_eq!(restore(&fresh, None).await.unwrap(), fx.latest);
    assert_eq!(
        restore(&fresh, Some("2024-01-31T00:00:00Z")).await.unwrap(),
        fx.january
    );
    let shas: Vec<Sha256> = originals.keys().copied().collect();
    assert_eq!(fresh.contents_by_sha(&shas).await.unwrap(), originals);

    // Again, with the stale report: everything is covered now, nothing is written.
    let outcome = site
        .repair_with_contents(&report, &originals)
        .await
        .unwrap();
    assert!(
        outcome.relocated.is_empty() && outcome.unrepaired.is_empty(),
        "{outcome:?}"
    );
    assert_eq!(objects(&server.bucket_dir()), after_objects);
}
