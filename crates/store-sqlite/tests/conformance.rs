//! The shared store conformance suite on the embedded backend.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_conforms() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store_sqlite::SqliteStore::open(dir.path()).expect("open");
    store::conformance::run_all(&store).await;
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
