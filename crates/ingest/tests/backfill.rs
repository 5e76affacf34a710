//! A store imported before clinical facts existed gets them from its stored bytes, once.

use std::sync::Arc;

use model::FacilityCode;
use ssmix2::{Condition, DataKind, StandardName};
use store::{LabFilter, Store};

fn put(root: &std::path::Path, kind: DataKind, order: &str) {
    let name = StandardName {
        patient_id: "9999013".into(),
        date: match kind {
            DataKind::Oml11 => "20111219".into(),
            _ => "20110701".into(),
        },
        kind,
        order_no: order.into(),
        timestamp: "20111220103059000".into(),
        department: "01".into(),
        condition: Condition::Current,
    };
    let text = std::fs::read_to_string(format!(
        "{}/../ssmix2/tests/fixtures/{}.hl7",
        env!("CARGO_MANIFEST_DIR"),
        kind.code()
    ))
    .expect("fixture");
    let path = root.join(name.relative_path());
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    let bytes = hl7::encode_iso2022jp(&text.replace('\n', "\r")).expect("encode");
    std::fs::write(path, bytes).expect("write");
}

async fn counts(store: &dyn Store, fid: store::FacilityId) -> (usize, usize) {
    (
        store
            .lab_results(fid, "9999013", &LabFilter::default())
            .await
            .expect("labs")
            .len(),
        store
            .medications(fid, "9999013", None)
            .await
            .expect("meds")
            .len(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_store_gets_its_facts_once() {
    let dir = tempfile::tempdir().expect("tmp");
    let root = dir.path().join("tree");
    put(&root, DataKind::Oml11, "000000011000354");
    put(&root, DataKind::Omp01, "000000011000185");
    let data = dir.path().join("data");
    let code = FacilityCode::parse("0411111111").expect("code");
    {
        let store: Arc<dyn Store> = Arc::new(store_sqlite::SqliteStore::open(&data).expect("open"));
        let fid = store.facility(&code, true).await.expect("fac").expect("id");
        ingest::import_tree(
            store.clone(),
            fid,
            &root,
            &Default::default(),
            Arc::new(ingest::NoProgress),
        )
        .await
        .expect("import");
        assert_eq!(
            counts(store.as_ref(), fid).await,
            (3, 2),
            "facts written at import"
        );
    }
    // Make it look like a store from before schema 3: records, no facts, backfill pending.
    {
        let conn = rusqlite::Connection::open(data.join("renkei.db")).expect("db");
        conn.execute_batch(
            "DELETE FROM lab_results; DELETE FROM medications;
             UPDATE facts_backfill SET next_version = 1, upto = (SELECT MAX(version_id) FROM records);",
        )
        .expect("age the store");
    }
    let store: Arc<dyn Store> = Arc::new(store_sqlite::SqliteStore::open(&data).expect("reopen"));
    let fid = store
        .facility(&code, false)
        .await
        .expect("fac")
        .expect("id");
    assert_eq!(counts(store.as_ref(), fid).await, (0, 0));
    assert_eq!(
        ingest::backfill_facts(&store).await.expect("backfill"),
        2,
        "two records read"
    );
    assert_eq!(counts(store.as_ref(), fid).await, (3, 2), "facts back");
    assert_eq!(
        ingest::backfill_facts(&store).await.expect("again"),
        0,
        "done once"
    );
    // The next import (nothing changed) neither re-reads nor doubles anything.
    ingest::import_tree(
        store.clone(),
        fid,
        &root,
        &Default::default(),
        Arc::new(ingest::NoProgress),
    )
    .await
    .expect("import");
    assert_eq!(counts(store.as_ref(), fid).await, (3, 2));
}

/// Facts read by an older extractor are read again from the stored bytes, replaced (not
/// doubled), once per extractor version.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn older_extractors_facts_are_derived_again() {
    let dir = tempfile::tempdir().expect("tmp");
    let root = dir.path().join("tree");
    put(&root, DataKind::Oml11, "000000011000354");
    put(&root, DataKind::Omp01, "000000011000185");
    let data = dir.path().join("data");
    let code = FacilityCode::parse("0411111111").expect("code");
    let fresh = {
        let store: Arc<dyn Store> = Arc::new(store_sqlite::SqliteStore::open(&data).expect("open"));
        let fid = store.facility(&code, true).await.expect("fac").expect("id");
        ingest::import_tree(
            store.clone(),
            fid,
            &root,
            &Default::default(),
            Arc::new(ingest::NoProgress),
        )
        .await
        .expect("import");
        store
            .lab_results(fid, "9999013", &LabFilter::default())
            .await
            .expect("labs")
    };
    // What an older extractor left: different values, and an extractor version behind.
    {
        let conn = rusqlite::Connection::open(data.join("renkei.db")).expect("db");
        conn.execute_batch(
            "UPDATE lab_results SET value = 'stale', unit = 'stale';
             UPDATE facts_backfill SET extractor = 1;",
        )
        .expect("age the facts");
    }
    let store: Arc<dyn Store> = Arc::new(store_sqlite::SqliteStore::open(&data).expect("reopen"));
    let fid = store
        .facility(&code, false)
        .await
        .expect("fac")
        .expect("id");
    assert_eq!(
        ingest::backfill_facts(&store).await.expect("rederive"),
        2,
        "both live records read again"
    );
    let labs = store
        .lab_results(fid, "9999013", &LabFilter::default())
        .await
        .expect("labs");
    assert_eq!(
        labs, fresh,
        "the facts as this extractor reads them, once each"
    );
    assert_eq!(counts(store.as_ref(), fid).await, (3, 2));
    assert_eq!(ingest::backfill_facts(&store).await.expect("again"), 0);
}

/// Extended-storage vitals (ORU) are read again by the backfill too (issue 14), and stay
/// out of the lab reads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extended_vitals_are_backfilled() {
    let dir = tempfile::tempdir().expect("tmp");
    let root = dir.path().join("tree");
    let folder = "L-OBSERVATIONS^OBSERVATIONS^99ZL01";
    let rel = format!(
        "999/901/9999013/20260310/{folder}/9999013_20260310_{folder}_V1_20260310090500000_01_1/main_document.hl7"
    );
    let text = std::fs::read_to_string(format!(
        "{}/../ssmix2/tests/fixtures/vitals/ORU-R30-vitals.hl7",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("fixture");
    let path = root.join(&rel);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(
        &path,
        hl7::encode_iso2022jp(&text.replace('\n', "\r")).expect("encode"),
    )
    .expect("write");
    put(&root, DataKind::Oml11, "000000011000354");
    let data = dir.path().join("data");
    let code = FacilityCode::parse("0411111111").expect("code");
    let vitals = LabFilter {
        extended: true,
        ..Default::default()
    };
    let fresh = {
        let store: Arc<dyn Store> = Arc::new(store_sqlite::SqliteStore::open(&data).expect("open"));
        let fid = store.facility(&code, true).await.expect("fac").expect("id");
        ingest::import_tree(
            store.clone(),
            fid,
            &root,
            &Default::default(),
            Arc::new(ingest::NoProgress),
        )
        .await
        .expect("import");
        let v = store
            .lab_results(fid, "9999013", &vitals)
            .await
            .expect("vitals");
        assert_eq!(v.len(), 11, "facts written at import");
        assert!(v.iter().all(|r| r.kind == folder));
        assert_eq!(counts(store.as_ref(), fid).await.0, 3, "labs apart");
        v
    };
    {
        let conn = rusqlite::Connection::open(data.join("renkei.db")).expect("db");
        conn.execute_batch(
            "DELETE FROM lab_results;
             UPDATE facts_backfill SET extractor = 1;",
        )
        .expect("age the facts");
    }
    let store: Arc<dyn Store> = Arc::new(store_sqlite::SqliteStore::open(&data).expect("reopen"));
    let fid = store
        .facility(&code, false)
        .await
        .expect("fac")
        .expect("id");
    assert_eq!(
        ingest::backfill_facts(&store).await.expect("rederive"),
        2,
        "the lab record and the vitals document"
    );
    assert_eq!(
        store
            .lab_results(fid, "9999013", &vitals)
            .await
            .expect("vitals"),
        fresh
    );
    assert_eq!(counts(store.as_ref(), fid).await.0, 3);
}
