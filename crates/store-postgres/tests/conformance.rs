//! The shared store conformance suite on PostgreSQL (the server of `RENKEI_TEST_POSTGRES`,
//! a fresh database per test), with packs in a local folder and in S3 (`rclone serve s3`).

use store_postgres::testing::TestDatabase;
use store_postgres::{BlobsLocation, PgConfig, PgStore, S3Location};

struct Fixture {
    store: PgStore,
    _db: TestDatabase,
    _dir: tempfile::TempDir,
    _s3: Option<replication::rclone::RcloneS3>,
}

async fn local() -> Fixture {
    let db = TestDatabase::create().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = PgStore::connect(&PgConfig {
        database_url: db.url.clone(),
        blobs: BlobsLocation::Local(dir.path().join("blobs")),
        max_connections: 8,
    })
    .await
    .expect("connect");
    Fixture {
        store,
        _db: db,
        _dir: dir,
        _s3: None,
    }
}

async fn on_s3() -> Fixture {
    let db = TestDatabase::create().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let s3 =
        replication::rclone::RcloneS3::start(&dir.path().join("s3"), "renkei").expect("rclone");
    let (key, secret) = s3.credentials();
    let store = PgStore::connect(&PgConfig {
        database_url: db.url.clone(),
        blobs: BlobsLocation::S3(S3Location {
            bucket: s3.bucket().to_owned(),
            prefix: "network".into(),
            endpoint: Some(s3.url()),
            region: None,
            access_key_id: Some(key.to_owned()),
            secret_access_key: Some(secret.to_owned()),
        }),
        max_connections: 8,
    })
    .await
    .expect("connect");
    Fixture {
        store,
        _db: db,
        _dir: dir,
        _s3: Some(s3),
    }
}

/// The `current` flags that PostgreSQL's per-patient reads trust (records and facts) equal
/// what they stand for — "this version is its file's current version" — each fact row's
/// copy of its record's columns equals the record's, and each file's `current_sha256` is its
/// current version's content. Returns how many fact rows are no
/// longer current, so a test can show it exercised superseding.
async fn assert_liveness_flags(store: &PgStore) -> i64 {
    let pool = store.pool();
    let wrong: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM records r LEFT JOIN files f ON f.id = r.file_id
         WHERE r.current IS DISTINCT FROM (f.current_version = r.version_id)",
    )
    .fetch_one(pool)
    .await
    .expect("records check");
    assert_eq!(wrong, 0, "records whose current flag is wrong");
    let wrong: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM files f LEFT JOIN file_versions v ON v.id = f.current_version
         WHERE f.current_sha256 IS DISTINCT FROM v.sha256",
    )
    .fetch_one(pool)
    .await
    .expect("files check");
    assert_eq!(
        wrong, 0,
        "files whose current_sha256 is not their current version's"
    );
    let mut superseded = 0;
    for table in [
        "lab_results",
        "medications",
        "diagnoses",
        "allergies",
        "encounters",
    ] {
        let (wrong, orphans, old): (i64, i64, i64) = sqlx::query_as(&format!(
            "SELECT COUNT(*) FILTER (WHERE r.version_id IS NOT NULL AND (x.current <> r.current
                       OR x.kind <> r.kind OR x.date <> r.date OR x.order_no <> r.order_no
                       OR x.written_at <> r.written_at)),
                    COUNT(*) FILTER (WHERE r.version_id IS NULL),
                    COUNT(*) FILTER (WHERE NOT x.current)
             FROM {table} x LEFT JOIN records r ON r.facility_id = x.facility_id
                  AND r.patient_id = x.patient_id AND r.version_id = x.version_id"
        ))
        .fetch_one(pool)
        .await
        .expect("facts check");
        assert_eq!(
            (wrong, orphans),
            (0, 0),
            "{table}: rows out of step with their record"
        );
        superseded += old;
    }
    superseded
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_conforms() {
    let f = local().await;
    store::conformance::run_all(&f.store).await;
    assert_liveness_flags(&f.store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_with_s3_packs_conforms() {
    let f = on_s3().await;
    store::conformance::run_all(&f.store).await;
    assert_liveness_flags(&f.store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_registry_conforms() {
    let f = local().await;
    store::conformance::run_registry(&f.store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_sign_in_state_conforms() {
    let f = local().await;
    store::conformance::run_sign_in_state(&f.store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_facts_conform() {
    let f = local().await;
    store::conformance::run_facts(&f.store).await;
    let superseded = assert_liveness_flags(&f.store).await;
    assert!(superseded > 0, "the facts suite supersedes facts");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_facts_rederive_conform() {
    let f = local().await;
    store::conformance::run_facts_rederive(&f.store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_extended_observations_conform() {
    let f = local().await;
    store::conformance::run_extended_observations(&f.store).await;
    assert_liveness_flags(&f.store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_viewer_reads_conform() {
    let f = local().await;
    store::conformance::run_viewer(&f.store).await;
    assert_liveness_flags(&f.store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_replication_conforms() {
    let (primary, replica) = (local().await, local().await);
    store::conformance::run_replication(&primary.store, &replica.store).await;
    assert_liveness_flags(&primary.store).await;
    assert_liveness_flags(&replica.store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_with_s3_packs_replicates() {
    let (primary, replica) = (on_s3().await, local().await);
    store::conformance::run_replication(&primary.store, &replica.store).await;
    assert_liveness_flags(&primary.store).await;
    assert_liveness_flags(&replica.store).await;
}

/// The database refuses to change, delete or truncate audit entries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_rows_cannot_be_changed_through_sql() {
    use store::Registry;
    let f = local().await;
    f.store
        .append_audit(vec![audit::Event::new(
            model::UnixTime(1),
            "x",
            audit::Action::Login,
        )])
        .await
        .expect("append");
    for sql in [
        "UPDATE audit_log SET actor = 'y'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
    ] {
        assert!(
            sqlx::query(sql).execute(f.store.pool()).await.is_err(),
            "{sql}"
        );
    }
}

/// Two servers starting at once on an empty database: one migrates, the other waits for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_starts_migrate_once() {
    let db = TestDatabase::create().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = PgConfig {
        database_url: db.url.clone(),
        blobs: BlobsLocation::Local(dir.path().join("blobs")),
        max_connections: 2,
    };
    let (a, b) = tokio::join!(PgStore::connect(&config), PgStore::connect(&config));
    a.expect("first");
    b.expect("second");
    PgStore::connect_alongside(&config)
        .await
        .expect("alongside");
}

/// A drawn regional ID that is taken (an equal random draw, or an ID issued before the
/// random ones) is not issued twice: the store draws again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_regional_id_is_drawn_again() {
    use store::Registry;
    let f = local().await;
    let store = &f.store;
    let t = model::UnixTime(1_700_000_000);
    let old = model::RegionalId::issue(0, 1);
    let taken = store
        .enroll_trying("office", t, || Ok(model::RegionalId::issue(0, 1)))
        .await
        .expect("first");
    assert_eq!(taken, old);
    let mut draws = vec![model::RegionalId::issue(0, 77), old.clone()];
    let fresh = store
        .enroll_trying("office", t, move || Ok(draws.pop().expect("a draw")))
        .await
        .expect("second");
    assert_eq!(fresh, model::RegionalId::issue(0, 77));
    // Only taken IDs: an error, nothing issued.
    assert!(store
        .enroll_trying("office", t, || Ok(model::RegionalId::issue(0, 1)))
        .await
        .is_err());
    // Random ones after sequential ones.
    let random = store.enroll("office", t).await.expect("random");
    assert_ne!(random, old);
    assert!(store.regional_id_exists(&random).await.expect("exists"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_unreadable_counts_and_order_cancels_conform() {
    let f = local().await;
    store::conformance::run_unreadable(&f.store).await;
    store::conformance::run_order_cancels(&f.store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_adt_facts_conform() {
    let f = local().await;
    store::conformance::run_adt_facts(&f.store).await;
    let superseded = assert_liveness_flags(&f.store).await;
    assert!(superseded > 0, "the ADT suite supersedes facts");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_order_notices_conform() {
    let f = local().await;
    store::conformance::run_order_notices(&f.store).await;
    assert_liveness_flags(&f.store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_order_notices_interleaved_conform() {
    let f = local().await;
    store::conformance::run_order_notices_interleaved(&f.store).await;
    assert_liveness_flags(&f.store).await;
}
