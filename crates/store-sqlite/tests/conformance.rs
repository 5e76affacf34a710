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
