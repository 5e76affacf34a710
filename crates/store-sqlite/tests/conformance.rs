//! The shared store conformance suite on the embedded backend.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_conforms() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store_sqlite::SqliteStore::open(dir.path()).expect("open");
    store::conformance::run_all(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_sign_in_state_conforms() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store_sqlite::SqliteStore::open(dir.path()).expect("open");
    store::conformance::run_sign_in_state(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_folder_is_locked_while_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    let _store = store_sqlite::SqliteStore::open(dir.path()).expect("open");
    assert!(matches!(
        store_sqlite::SqliteStore::open(dir.path()),
        Err(store::StoreError::Locked(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_registry_conforms() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store_sqlite::SqliteStore::open(dir.path()).expect("open");
    store::conformance::run_registry(&store).await;
}

/// The database refuses to change or delete audit entries; an attacker who removes that
/// guard is caught by the chain (see the audit verify end-to-end test).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_rows_cannot_be_changed_through_sql() {
    use store::Registry;
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let store = store_sqlite::SqliteStore::open(dir.path()).expect("open");
        store
            .append_audit(vec![audit::Event::new(
                model::UnixTime(1),
                "x",
                audit::Action::Login,
            )])
            .await
            .expect("append");
    }
    let conn = rusqlite::Connection::open(dir.path().join("renkei.db")).expect("db");
    assert!(conn
        .execute("UPDATE audit_log SET actor = 'y'", [])
        .is_err());
    assert!(conn.execute("DELETE FROM audit_log", []).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_facts_conform() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store_sqlite::SqliteStore::open(dir.path()).expect("open");
    store::conformance::run_facts(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_facts_rederive_conform() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store_sqlite::SqliteStore::open(dir.path()).expect("open");
    store::conformance::run_facts_rederive(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_extended_observations_conform() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store_sqlite::SqliteStore::open(dir.path()).expect("open");
    store::conformance::run_extended_observations(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_viewer_reads_conform() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store_sqlite::SqliteStore::open(dir.path()).expect("open");
    store::conformance::run_viewer(&store).await;
}

/// A store written before the search keys and the replication journal existed (schema 3)
/// gets them when it is opened by this version: its patients are found by name at once and
/// its registry is in the journal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_keys_are_backfilled_for_existing_stores() {
    use store::{NameQuery, PatientSearch, Store};
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let store = store_sqlite::SqliteStore::open(dir.path()).expect("open");
        let code = model::FacilityCode::parse("0411111111").expect("code");
        let fac = store.facility(&code, true).await.expect("f").expect("f");
        let run = store.begin_import(fac, "/x").await.expect("run");
        let text = "MSH|x";
        store
            .write_batch(
                fac,
                run,
                vec![store::IngestFile {
                    path: "100/000/P1/-/ADT-00/P1_-_ADT-00_999999999999999_20240101090000000_01_1"
                        .into(),
                    bytes: text.as_bytes().to_vec(),
                    sha256: store::packs::sha256(text.as_bytes()),
                    outcome: store::FileOutcome::Record(store::RecordIndex {
                        storage: store::StorageKind::Standard,
                        patient_id: "P1".into(),
                        date: "-".into(),
                        kind: "ADT-00".into(),
                        order_no: "999999999999999".into(),
                        written_at: "20240101090000000".into(),
                        department: "01".into(),
                        condition: ssmix2::Condition::Current,
                        message_type: None,
                        nonconforming_encoding: None,
                        cancels: false,
                    }),
                    notices: vec![],
                    demographics: Some(model::Demographics {
                        name_kanji: "髙橋 花子".into(),
                        name_kana: "ﾀｶﾊｼ ﾊﾅｺ".into(),
                        birth_date: "19500101".into(),
                        sex: "F".into(),
                        ..Default::default()
                    }),
                    facts: vec![],
                    recorded_at: None,
                    accept_unterminated: false,
                }],
            )
            .await
            .expect("write");
    }
    // Back to schema 3, as an older renkei left it.
    {
        let conn = rusqlite::Connection::open(dir.path().join("renkei.db")).expect("db");
        let triggers: Vec<String> = conn
            .prepare(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'journal_%'",
            )
            .expect("triggers")
            .query_map([], |r| r.get(0))
            .expect("triggers")
            .collect::<Result<_, _>>()
            .expect("triggers");
        for t in triggers {
            conn.execute_batch(&format!("DROP TRIGGER {t}"))
                .expect("drop trigger");
        }
        conn.execute_batch(
            "DROP TABLE replication_journal; DROP TABLE replication_sites; DROP TABLE node;
             DROP TABLE login_counters; DROP TABLE order_checks; DROP INDEX notices_by_run;
             ALTER TABLE lab_results DROP COLUMN detail; ALTER TABLE medications DROP COLUMN detail;
             ALTER TABLE diagnoses DROP COLUMN detail; ALTER TABLE allergies DROP COLUMN detail;
             ALTER TABLE encounters DROP COLUMN detail; ALTER TABLE facts_backfill DROP COLUMN extractor;
             DROP INDEX local_patients_by_kanji; DROP INDEX local_patients_by_kana;
             ALTER TABLE local_patients DROP COLUMN search_kanji;
             ALTER TABLE local_patients DROP COLUMN search_kana;
             DROP INDEX records_cancelling; ALTER TABLE records DROP COLUMN cancels;
             ALTER TABLE import_runs DROP COLUMN orders_checked_at_finish;
             ALTER TABLE file_versions DROP COLUMN accept_unterminated;
             PRAGMA user_version = 3;",
        )
        .expect("downgrade");
    }
    let store = store_sqlite::SqliteStore::open(dir.path()).expect("reopen migrates");
    // The replication journal starts with the registry as it stood: a site added later gets
    // the facilities registered before the journal existed.
    use store::Replication;
    let feed = store
        .feed(&store::FeedCursor::default(), 100)
        .await
        .expect("feed");
    assert!(
        feed.registry.iter().any(|c| c.table == "facilities"
            && c.row.get("code").and_then(|v| v.as_str()) == Some("0411111111")),
        "{:?}",
        feed.registry
    );
    assert_eq!(
        feed.versions.len(),
        1,
        "the file's version is in the stream"
    );
    for q in ["たかはし", "高橋花子"] {
        let hits = store
            .search_local_patients(&PatientSearch {
                name: NameQuery::parse(q),
                ..Default::default()
            })
            .await
            .expect("search");
        assert_eq!(hits.len(), 1, "{q}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_replication_conforms() {
    let (a, b) = (
        tempfile::tempdir().expect("tmp"),
        tempfile::tempdir().expect("tmp"),
    );
    let primary = store_sqlite::SqliteStore::open(a.path()).expect("open");
    let replica = store_sqlite::SqliteStore::open(b.path()).expect("open");
    store::conformance::run_replication(&primary, &replica).await;
}

/// A command can read the data folder while a server holds it (restore, verify, sites).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opened_alongside_a_running_server() {
    let dir = tempfile::tempdir().expect("tempdir");
    let _server = store_sqlite::SqliteStore::open(dir.path()).expect("open");
    let side = store_sqlite::SqliteStore::open_alongside(dir.path()).expect("alongside");
    use store::Store;
    assert!(side.facilities().await.expect("read").is_empty());
}

/// A drawn regional ID that is taken (an equal random draw, or an ID issued before the
/// random ones) is not issued twice: the store draws again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_regional_id_is_drawn_again() {
    use store::Registry;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store_sqlite::SqliteStore::open(dir.path()).expect("open");
    let t = model::UnixTime(1_700_000_000);
    let old = model::RegionalId::issue(0, 1);
    let taken = store
        .enroll_trying("office", t, move || Ok(model::RegionalId::issue(0, 1)))
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
    let again = old.clone();
    assert!(store
        .enroll_trying("office", t, move || Ok(again.clone()))
        .await
        .is_err());
    assert!(store.regional_id_exists(&old).await.expect("exists"));
    // Random ones after sequential ones.
    let random = store.enroll("office", t).await.expect("random");
    assert_ne!(random, old);
}

/// A data folder the store creates is private to its owner (0700), and so are the database,
/// its write-ahead log and the packs (0600): other local users read no patient record and
/// no credential.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_folder_and_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    use store::Store;
    let mode = |p: &std::path::Path| {
        std::fs::metadata(p)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
            .permissions()
            .mode()
            & 0o777
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let store = store_sqlite::SqliteStore::open(&data).expect("open");
    let code = model::FacilityCode::parse("0411111111").expect("code");
    let fac = store.facility(&code, true).await.expect("f").expect("f");
    let run = store.begin_import(fac, "/x").await.expect("run");
    let text = "MSH|x";
    store
        .write_batch(
            fac,
            run,
            vec![store::IngestFile {
                path: "x".into(),
                bytes: text.as_bytes().to_vec(),
                sha256: store::packs::sha256(text.as_bytes()),
                outcome: store::FileOutcome::Quarantined {
                    reason: "test".into(),
                    line: None,
                },
                notices: vec![],
                demographics: None,
                facts: vec![],
                recorded_at: None,
                accept_unterminated: false,
            }],
        )
        .await
        .expect("write");
    assert_eq!(mode(&data), 0o700);
    for f in ["renkei.db", "renkei.db-wal", ".lock"] {
        assert_eq!(mode(&data.join(f)), 0o600, "{f}");
    }
    let mut packs = 0;
    for sub in std::fs::read_dir(data.join("blobs")).expect("blobs") {
        let sub = sub.expect("entry").path();
        assert_eq!(mode(&sub), 0o700, "{}", sub.display());
        for f in std::fs::read_dir(&sub).expect("packs") {
            let f = f.expect("entry").path();
            assert_eq!(mode(&f), 0o600, "{}", f.display());
            packs += 1;
        }
    }
    assert!(packs > 0, "a pack was written");
    drop(store);

    // A database written before this rule (0644) is made private when it is opened.
    std::fs::set_permissions(
        data.join("renkei.db"),
        std::fs::Permissions::from_mode(0o644),
    )
    .expect("chmod");
    let _store = store_sqlite::SqliteStore::open(&data).expect("reopen");
    assert_eq!(mode(&data.join("renkei.db")), 0o600);
}

/// Audit appends made at once are written together (group commit) and still form one chain,
/// in which every caller finds exactly its own events; the anchor follows the head.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_audit_appends_are_grouped_into_one_chain() {
    use std::sync::Arc;
    use store::Registry;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(store_sqlite::SqliteStore::open(dir.path()).expect("open"));
    let mut tasks = Vec::new();
    for i in 0..64u32 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            // Some callers append two events at once: both must come back to them, in order.
            let n = if i % 5 == 0 { 2 } else { 1 };
            let events: Vec<audit::Event> = (0..n)
                .map(|k| {
                    let mut e = audit::Event::new(
                        model::UnixTime::now(),
                        format!("user{i}"),
                        audit::Action::View,
                    );
                    e.target = format!("caller {i} event {k}");
                    e
                })
                .collect();
            let entries = store.append_audit(events.clone()).await.expect("append");
            assert_eq!(entries.len(), n);
            for (entry, sent) in entries.iter().zip(&events) {
                assert_eq!(&entry.event, sent, "each caller gets its own entries back");
            }
            entries.iter().map(|e| e.seq).collect::<Vec<_>>()
        }));
    }
    let mut seqs = Vec::new();
    for t in tasks {
        seqs.extend(t.await.expect("task"));
    }
    seqs.sort_unstable();
    let all = store.audit_range(0, 0).await.expect("range");
    assert_eq!(all.len(), seqs.len(), "every event written once");
    assert_eq!(
        seqs,
        all.iter().map(|e| e.seq).collect::<Vec<_>>(),
        "no sequence number given twice or skipped"
    );
    audit::verify(&all).expect("one unbroken chain");
    let head = store.audit_head().await.expect("head").expect("some");
    assert_eq!(store.audit_anchor().await.expect("anchor"), Some(head));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_unreadable_counts_and_order_cancels_conform() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store_sqlite::SqliteStore::open(dir.path()).expect("open");
    store::conformance::run_unreadable(&store).await;
    store::conformance::run_order_cancels(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_adt_facts_conform() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store_sqlite::SqliteStore::open(dir.path()).expect("open");
    store::conformance::run_adt_facts(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_order_notices_conform() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store_sqlite::SqliteStore::open(dir.path()).expect("open");
    store::conformance::run_order_notices(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_order_notices_interleaved_conform() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store_sqlite::SqliteStore::open(dir.path()).expect("open");
    store::conformance::run_order_notices_interleaved(&store).await;
}
