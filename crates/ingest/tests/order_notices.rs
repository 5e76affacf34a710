//! Issue 14: SS-MIX2 keeps one current (`_1`) file per order of a patient; an update renames
//! the old one `_2`. An import that leaves two `_1` files of one order reports a notice on
//! the later one naming the other — a full import, and a partial one whose other file was
//! stored before — while a proper update reports nothing.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use model::FacilityCode;
use ssmix2::{Condition, DataKind, StandardName};
use store::Store;

const ORDER: &str = "000000011000185";

fn name(ts: &str, condition: Condition) -> StandardName {
    StandardName {
        patient_id: "9999013".into(),
        date: "20110701".into(),
        kind: DataKind::Omp01,
        order_no: ORDER.into(),
        timestamp: ts.into(),
        department: "01".into(),
        condition,
    }
}

/// Write the OMP-01 fixture as the file of `ts` / `condition`; returns its relative path.
fn put(root: &Path, ts: &str, condition: Condition) -> String {
    let text = std::fs::read_to_string(format!(
        "{}/../ssmix2/tests/fixtures/OMP-01.hl7",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("fixture");
    let rel = name(ts, condition).relative_path();
    let path = root.join(&rel);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    let bytes = hl7::encode_iso2022jp(&text.replace('\n', "\r")).expect("encode");
    std::fs::write(path, bytes).expect("write");
    rel
}

async fn import(
    store: &Arc<dyn Store>,
    fid: store::FacilityId,
    root: &Path,
    partial: bool,
) -> Vec<(String, String)> {
    let options = ingest::ImportOptions {
        partial,
        ..Default::default()
    };
    let r = ingest::import_tree(
        store.clone(),
        fid,
        root,
        &options,
        Arc::new(ingest::NoProgress),
    )
    .await
    .expect("import");
    assert_eq!(r.totals.notices as usize, r.notices.len());
    r.notices
        .into_iter()
        .filter(|(_, n)| n.contains("same order number"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_current_files_of_one_order_are_a_notice_an_update_is_not() {
    let dir = tempfile::tempdir().expect("tmp");
    let root: PathBuf = dir.path().join("tree");
    let store: Arc<dyn Store> =
        Arc::new(store_sqlite::SqliteStore::open(&dir.path().join("data")).expect("open"));
    let code = FacilityCode::parse("0411111111").expect("code");
    let fid = store.facility(&code, true).await.expect("fac").expect("id");

    // The order, then a proper update: the old file renamed `_2`, a new `_1`.
    let first = put(&root, "20110701100000000", Condition::Current);
    assert_eq!(import(&store, fid, &root, false).await, vec![]);
    std::fs::rename(
        root.join(&first),
        root.join(name("20110701100000000", Condition::Superseded).relative_path()),
    )
    .expect("rename");
    let second = put(&root, "20110702100000000", Condition::Current);
    assert_eq!(
        import(&store, fid, &root, false).await,
        vec![],
        "an update is no duplicate"
    );

    // A sender that forgets the rename: a full import names the other file.
    let third = put(&root, "20110703100000000", Condition::Current);
    let notices = import(&store, fid, &root, false).await;
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert_eq!(notices[0].0, third);
    assert!(notices[0].1.contains(&second), "{}", notices[0].1);
    assert!(!notices[0].1.contains(&first));

    // A partial import (an agent's) of just one more `_1`: both earlier ones are named.
    let partial_root = dir.path().join("partial");
    let fourth = put(&partial_root, "20110704100000000", Condition::Current);
    let notices = import(&store, fid, &partial_root, true).await;
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert_eq!(notices[0].0, fourth);
    assert!(notices[0].1.contains(&second) && notices[0].1.contains(&third));

    // The same tree again: nothing new, nothing to say.
    assert_eq!(import(&store, fid, &partial_root, true).await, vec![]);
}
