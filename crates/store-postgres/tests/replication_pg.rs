//! What replication needs of PostgreSQL beyond the shared conformance suite: typed binds of
//! journal rows (BYTEA from hex, typed NULLs) and identity sequences moved past replicated
//! ids, so that a promoted replica hands out fresh ids.

use model::FacilityCode;
use serde_json::json;
use sqlx::Row;
use store::{FeedCursor, RegistryChange, Replication, RowOp, Store};
use store_postgres::testing::TestDatabase;
use store_postgres::{BlobsLocation, PgConfig, PgStore};

struct Fixture {
    store: PgStore,
    _db: TestDatabase,
    dir: tempfile::TempDir,
}

async fn local() -> Fixture {
    let db = TestDatabase::create().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = PgStore::connect(&PgConfig {
        database_url: db.url.clone(),
        blobs: BlobsLocation::Local(dir.path().join("blobs")),
        max_connections: 4,
    })
    .await
    .expect("connect");
    Fixture {
        store,
        _db: db,
        dir,
    }
}

fn change(seq: i64, table: &str, row: serde_json::Value) -> RegistryChange {
    RegistryChange {
        seq,
        table: table.into(),
        op: RowOp::Upsert,
        row: row.as_object().expect("object").clone(),
        at: None,
    }
}

/// A replica takes the primary's facility ids; once promoted, it registers a new facility
/// under an id after them instead of colliding with a replicated row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promoted_replica_takes_fresh_ids() {
    let (primary, replica) = (local().await, local().await);
    let mut ids = Vec::new();
    for code in ["0411111111", "0422222222", "0433333333"] {
        let code = FacilityCode::parse(code).expect("code");
        ids.push(
            primary
                .store
                .facility(&code, true)
                .await
                .expect("create")
                .expect("id"),
        );
    }
    let feed = primary
        .store
        .feed(&FeedCursor::default(), 100)
        .await
        .expect("feed");
    replica
        .store
        .apply_registry(&feed.registry)
        .await
        .expect("apply");
    for (id, code) in ids.iter().zip(["0411111111", "0422222222", "0433333333"]) {
        let code = FacilityCode::parse(code).expect("code");
        assert_eq!(
            replica.store.facility(&code, false).await.expect("lookup"),
            Some(*id),
            "same id as on the primary"
        );
    }
    let new = FacilityCode::parse("0444444444").expect("code");
    let fresh = replica
        .store
        .facility(&new, true)
        .await
        .expect("register after promotion")
        .expect("id");
    assert!(
        ids.iter().all(|id| fresh.0 > id.0),
        "{fresh:?} after {ids:?}"
    );
}

/// Journal rows bind with their columns' types: BYTEA from hex, NULLs of any type, updates
/// of an existing row; ids given explicitly move the identity sequence, never back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journal_rows_apply_with_typed_values() {
    let replica = local().await;
    let facility = json!({
        "id": 7, "code": "0477777777", "created_at": "2026-01-01T00:00:00Z", "name": "東病院",
        "kind": "hospital", "area": "", "status": "participating", "discloses": 1, "views": 0
    });
    let key = json!({
        "prefix": "rk_abc", "facility_id": 7, "key_hash": "00FF10ab", "created_at": 5,
        "created_by": "admin", "revoked_at": null
    });
    replica
        .store
        .apply_registry(&[
            change(1, "facilities", facility),
            change(2, "api_keys", key),
        ])
        .await
        .expect("apply");
    let row = sqlx::query("SELECT key_hash, revoked_at FROM api_keys WHERE prefix = 'rk_abc'")
        .fetch_one(replica.store.pool())
        .await
        .expect("row");
    assert_eq!(
        row.get::<Vec<u8>, _>(0),
        vec![0x00, 0xff, 0x10, 0xab],
        "hex decoded"
    );
    assert_eq!(row.get::<Option<i64>, _>(1), None);

    // The same row again, revoked: an update.
    let revoked = json!({
        "prefix": "rk_abc", "facility_id": 7, "key_hash": "00FF10AB", "created_at": 5,
        "created_by": "admin", "revoked_at": 9
    });
    replica
        .store
        .apply_registry(&[change(3, "api_keys", revoked)])
        .await
        .expect("update");
    let revoked_at: Option<i64> =
        sqlx::query_scalar("SELECT revoked_at FROM api_keys WHERE prefix = 'rk_abc'")
            .fetch_one(replica.store.pool())
            .await
            .expect("row");
    assert_eq!(revoked_at, Some(9));

    // A lower id later does not move the sequence back.
    let older = json!({
        "id": 3, "code": "0433333333", "created_at": "2026-01-01T00:00:00Z", "name": "",
        "kind": "other", "area": "", "status": "participating", "discloses": 1, "views": 0
    });
    replica
        .store
        .apply_registry(&[change(4, "facilities", older)])
        .await
        .expect("apply");
    let fresh = replica
        .store
        .facility(&FacilityCode::parse("0488888888").expect("code"), true)
        .await
        .expect("register")
        .expect("id");
    assert_eq!(fresh.0, 8);

    // A column this store does not have is refused, nothing applied.
    let unknown = json!({"key": "x", "value": "1", "colour": "red"});
    assert!(replica
        .store
        .apply_registry(&[change(5, "settings", unknown)])
        .await
        .is_err());
    assert!(replica
        .store
        .apply_registry(&[change(6, "sessions", json!({"login": "x"}))])
        .await
        .is_err());
}

fn quarantined(path: &str, bytes: Vec<u8>) -> store::IngestFile {
    store::IngestFile {
        path: path.to_owned(),
        sha256: store::packs::sha256(&bytes),
        bytes,
        outcome: store::FileOutcome::Quarantined {
            reason: "test".into(),
            line: None,
        },
        notices: vec![],
        demographics: None,
        facts: Vec::new(),
        recorded_at: None,
        accept_unterminated: false,
    }
}

/// Packs live in the blob store: a verify reads each back, tells a damaged pack's readable
/// contents from the lost ones, and the repairs (a good copy, or the contents repacked)
/// leave a clean store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_and_missing_packs_are_found_and_repaired() {
    let f = local().await;
    let s = &f.store;
    let fac = s
        .facility(&FacilityCode::parse("0455555555").expect("code"), true)
        .await
        .expect("create")
        .expect("id");
    // Two frames: a large content fills the first, the small one starts the second.
    let big: Vec<u8> = (0..70_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let small = b"MSH|small".to_vec();
    let run = s.begin_import(fac, "/src").await.expect("begin");
    s.write_batch(
        fac,
        run,
        vec![
            quarantined("a/big", big.clone()),
            quarantined("a/small", small.clone()),
        ],
    )
    .await
    .expect("write");
    let (big_sha, small_sha) = (store::packs::sha256(&big), store::packs::sha256(&small));
    let clean = s.verify_blobs().await.expect("verify");
    assert_eq!((clean.packs_checked, clean.contents_checked), (1, 2));
    assert!(clean.problems.is_empty(), "{clean:?}");

    let feed = s.feed(&FeedCursor::default(), 100).await.expect("feed");
    let pack = feed.versions[0].location.clone().expect("location").pack;
    let file = f
        .dir
        .path()
        .join("blobs")
        .join(&pack[..2])
        .join(format!("{pack}.pack"));
    let good = std::fs::read(&file).expect("pack file");
    assert_eq!(s.read_pack(&pack).await.expect("read"), Some(good.clone()));

    // The last byte is in the small content's frame.
    let mut bad = good.clone();
    *bad.last_mut().expect("bytes") ^= 0xff;
    std::fs::write(&file, &bad).expect("damage");
    let report = s.verify_blobs().await.expect("verify");
    assert_eq!(report.problems.len(), 1, "{report:?}");
    let p = &report.problems[0];
    assert_eq!(
        (p.pack.as_str(), p.problem.as_str()),
        (pack.as_str(), "corrupt")
    );
    assert_eq!(p.good_contents, vec![big_sha]);
    assert_eq!(p.bad_contents, vec![small_sha]);

    s.restore_pack(&pack, &good).await.expect("restore");
    assert!(s.verify_blobs().await.expect("verify").problems.is_empty());
    assert_eq!(std::fs::read(&file).expect("restored"), good);

    std::fs::remove_file(&file).expect("lose it");
    assert_eq!(s.read_pack(&pack).await.expect("read"), None);
    let report = s.verify_blobs().await.expect("verify");
    assert_eq!(report.problems.len(), 1, "{report:?}");
    assert_eq!(report.problems[0].problem, "missing");
    assert_eq!(report.problems[0].bad_contents.len(), 2);
    assert!(report.problems[0].good_contents.is_empty());

    // Contents found elsewhere go into a new pack; the lost one is no longer checked.
    let n = s
        .repack_contents(vec![
            (big_sha, big.clone()),
            (small_sha, small.clone()),
            (small_sha, small.clone()),
        ])
        .await
        .expect("repack");
    assert_eq!(n, 2);
    let report = s.verify_blobs().await.expect("verify");
    assert!(report.problems.is_empty(), "{report:?}");
    assert_eq!(report.packs_checked, 1);
    assert_eq!(
        s.read_blobs(&[small_sha, big_sha]).await.expect("read"),
        vec![small, big]
    );
}

/// A replica marks paths removed at the primary's times, in the order given, once; the
/// backlog counts what is really there although sequences leave gaps.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removals_apply_once_in_order_and_backlogs_count_exactly() {
    let f = local().await;
    let s = &f.store;
    let fac = s
        .facility(&FacilityCode::parse("0466666666").expect("code"), true)
        .await
        .expect("create")
        .expect("id");
    let run = s.begin_import(fac, "replica").await.expect("begin");
    let mut files = vec![
        quarantined("p/a", b"A".to_vec()),
        quarantined("p/b", b"B".to_vec()),
        quarantined("p/c", b"C".to_vec()),
    ];
    for file in &mut files {
        file.recorded_at = Some("2026-01-01T00:00:00Z".into());
    }
    s.write_batch(fac, run, files).await.expect("write");
    let before = s
        .feed(&FeedCursor::default(), 100)
        .await
        .expect("feed")
        .next;

    // A version id taken and never committed: a gap in the sequence.
    sqlx::query("SELECT nextval('file_versions_id_seq')")
        .execute(s.pool())
        .await
        .expect("gap");
    let removals = vec![
        ("p/b".to_owned(), "2026-03-01T00:00:00Z".to_owned()),
        ("p/b".to_owned(), "2026-03-02T00:00:00Z".to_owned()),
        ("p/none".to_owned(), "2026-03-01T00:00:00Z".to_owned()),
        ("p/a".to_owned(), "2026-02-01T00:00:00Z".to_owned()),
    ];
    assert_eq!(
        s.apply_removals(fac, run, &removals).await.expect("apply"),
        2
    );
    assert_eq!(
        s.apply_removals(fac, run, &removals).await.expect("again"),
        0,
        "already removed"
    );
    let feed = s.feed(&before, 100).await.expect("feed");
    let got: Vec<(&str, bool, &str)> = feed
        .versions
        .iter()
        .map(|v| (v.path.as_str(), v.sha256.is_some(), v.recorded_at.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("p/b", false, "2026-03-01T00:00:00Z"),
            ("p/a", false, "2026-02-01T00:00:00Z")
        ]
    );
    let names = |files: Vec<store::StoredFile>| -> Vec<String> {
        files.into_iter().map(|f| f.path).collect()
    };
    assert_eq!(
        names(
            s.files_as_of(fac, Some("2026-02-15T00:00:00Z"))
                .await
                .expect("as of")
        ),
        vec!["p/b", "p/c"]
    );
    assert_eq!(
        names(s.files_as_of(fac, None).await.expect("now")),
        vec!["p/c"]
    );
    assert_eq!(
        names(s.current_files(fac).await.expect("current")),
        vec!["p/c"]
    );
    let backlog = s.backlog(&before).await.expect("backlog");
    assert_eq!(backlog.versions, 2, "the gap is not counted");
    assert_eq!(
        backlog.oldest_version_at.as_deref(),
        Some("2026-03-01T00:00:00Z")
    );
    assert!(s.backlog(&feed.next).await.expect("backlog").is_empty());
}

/// A shipment sent again, overlapping what is here, appends only what is new and moves the
/// anchor; a changed entry is refused and nothing of its shipment is kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_shipments_overlap_and_changes_are_refused() {
    let replica = local().await;
    let mut chain: Vec<audit::Entry> = Vec::new();
    for i in 0..5 {
        let prev = chain.last().map(|e| (&e.seq, &e.hash));
        chain.push(audit::append(
            prev,
            audit::Event::new(model::UnixTime(100 + i), "x", audit::Action::Login),
        ));
    }
    let s = &replica.store;
    s.apply_audit(&chain[..3]).await.expect("first");
    assert_eq!(
        s.blobs().audit_anchor().await.expect("anchor"),
        Some((3, chain[2].hash))
    );
    s.apply_audit(&chain[1..]).await.expect("overlapping");
    assert_eq!(
        s.blobs().audit_anchor().await.expect("anchor"),
        Some((5, chain[4].hash))
    );
    s.apply_audit(&chain).await.expect("all again");
    let stored = s
        .feed(&FeedCursor::default(), 100)
        .await
        .expect("feed")
        .audit;
    assert_eq!(stored, chain);

    let mut changed = chain[1].clone();
    changed.event.actor = "y".into();
    changed.hash = audit::entry_hash(&changed.prev_hash, changed.seq, &changed.event);
    let mut next = chain.clone();
    next.push(audit::append(
        Some((&chain[4].seq, &chain[4].hash)),
        audit::Event::new(model::UnixTime(200), "x", audit::Action::Logout),
    ));
    next[1] = changed;
    assert!(matches!(
        s.apply_audit(&next).await,
        Err(store::StoreError::Conflict(_))
    ));
    assert_eq!(
        s.feed(&FeedCursor::default(), 100)
            .await
            .expect("feed")
            .audit
            .len(),
        5,
        "the new entry of the refused shipment is not kept"
    );
}
