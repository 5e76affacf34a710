//! `migrate_to` copies a whole network into an empty store and its comparison is real: it
//! passes for a faithful copy and names what differs when the two are not the same.

mod common;

use std::sync::Arc;

use service::{Network, ServiceError};
use store::Store;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_migrated_network_compares_equal_and_a_changed_one_does_not() {
    let fx = common::imported_region(30, 5).await;
    common::enrolled_pair(&fx.net, &fx.store).await;

    let dir = tempfile::tempdir().expect("tmp");
    let target_store: Arc<dyn Store> =
        Arc::new(store_sqlite::SqliteStore::open(dir.path()).expect("target"));
    let target = Network::new(target_store.clone());
    let report = fx
        .net
        .migrate_to(&target, "local:test", "the test target", &|_| {})
        .await
        .expect("migrate");
    assert!(report.ok(), "{:#?}", report.checks);
    assert!(report.versions > 100);
    for what in ["registry regional_ids", "registry links", "registry users"] {
        let c = report
            .checks
            .iter()
            .find(|c| c.what == what)
            .unwrap_or_else(|| panic!("{what} compared"));
        assert!(!c.source.starts_with("0 rows"), "{c:?}");
    }
    assert_eq!(
        target_store.node_role().await.expect("role"),
        store::NodeRole::Primary,
        "the copy is a primary"
    );

    // A second migration into the now non-empty store is refused.
    let again = fx
        .net
        .migrate_to(&target, "local:test", "the test target", &|_| {})
        .await;
    assert!(matches!(again, Err(ServiceError::Conflict(_))), "{again:?}");

    // One more file in the source only: the comparison names it.
    let code = fx.store.facilities().await.expect("facilities")[0]
        .1
        .clone();
    let root = fx.dir.path().join("extra");
    let tree = fx.region.join(code.as_str());
    copy_dir(&tree, &root);
    let any_file = first_file(&root);
    std::fs::write(&any_file, b"MSH|^~\\&|changed\r").expect("change a file");
    common::import(&fx.store, &root, &code).await;
    let checks = service::migrate::compare(fx.store.as_ref(), target_store.as_ref())
        .await
        .expect("compare");
    let differing: Vec<&str> = checks
        .iter()
        .filter(|c| !c.same)
        .map(|c| c.what.as_str())
        .collect();
    assert!(differing.contains(&"file versions"), "{differing:?}");
    assert!(
        differing
            .iter()
            .any(|w| w == &format!("facility {code} content digest")),
        "{differing:?}"
    );
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir").flatten() {
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).expect("copy");
        }
    }
}

fn first_file(dir: &std::path::Path) -> std::path::PathBuf {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("read_dir")
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    let first = entries.into_iter().next().expect("empty tree");
    if first.is_dir() {
        return first_file(&first);
    }
    first
}
