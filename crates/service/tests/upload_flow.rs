//! The facility agent's protocol at the service layer: a facility's tree sent in batches ends
//! up exactly as `renkei import` of the same tree would leave it.

mod common;

use std::sync::Arc;

use model::{Facility, FacilityCode, FacilityKind, FacilityStatus};
use service::{Network, Principal, ServiceError};
use store::Store;
use upload::{BatchFile, CheckRequest, FileRef, FinishRun, StartRun};

struct Agent {
    _dir: tempfile::TempDir,
    tree: std::path::PathBuf,
    code: FacilityCode,
    files: Vec<BatchFile>,
    store: Arc<dyn Store>,
    net: Network,
    key: Principal,
    admin: Principal,
}

async fn setup() -> Agent {
    let dir = tempfile::tempdir().expect("tmp");
    let region = dir.path().join("region");
    let opts = synth::Options {
        patients: 30,
        seed: 7,
        ..Default::default()
    };
    synth::generate(&opts, &region, &|_| {}).expect("synth");
    let manifest = synth::Manifest::read(&region.join("manifest.json")).expect("manifest");
    let code = FacilityCode::parse(&manifest.facilities[0].code).expect("code");
    let tree = region.join(code.as_str());
    let files: Vec<BatchFile> = ingest::list_tree(&tree)
        .expect("list")
        .into_iter()
        .map(|path| {
            let bytes = std::fs::read(tree.join(&path)).expect("read");
            BatchFile {
                sha256: upload::sha256_hex(&bytes),
                path,
                bytes,
            }
        })
        .collect();
    assert!(files.len() >= 4, "a facility with a few files");
    let store: Arc<dyn Store> =
        Arc::new(store_sqlite::SqliteStore::open(&dir.path().join("data")).expect("store"));
    let net = Network::new(store.clone()).with_test_hashing();
    net.bootstrap_admin("admin", "管理者", common::PASSWORD)
        .await
        .expect("bootstrap");
    let admin = common::sign_in(&net, "admin", None, 0).await;
    net.put_facility(
        &admin,
        Facility {
            code: code.clone(),
            name: "病院".into(),
            kind: FacilityKind::Hospital,
            area: "仙台".into(),
            status: FacilityStatus::Participating,
            discloses: true,
            views: true,
        },
    )
    .await
    .expect("facility");
    let key = net.create_api_key(&admin, &code).await.expect("key");
    let key = net
        .authenticate_api_key(&key.secret_text)
        .await
        .expect("auth key");
    Agent {
        _dir: dir,
        tree,
        code,
        files,
        store,
        net,
        key,
        admin,
    }
}

fn refs(files: &[BatchFile]) -> CheckRequest {
    CheckRequest {
        files: files
            .iter()
            .map(|f| FileRef {
                path: f.path.clone(),
                sha256: f.sha256.clone(),
                size: f.bytes.len() as u64,
            })
            .collect(),
    }
}

#[tokio::test]
async fn an_agent_uploads_a_tree_like_an_import() {
    let a = setup().await;
    let net = &a.net;
    let started = net
        .agent_start_run(
            &a.key,
            &StartRun {
                agent: "test-host 0.1".into(),
                full_scan: true,
            },
        )
        .await
        .expect("start");
    assert_eq!(started.facility, a.code.as_str());
    let run = started.run_id;

    let all = refs(&a.files);
    let missing = net.agent_check(&a.key, &all).await.expect("check").missing;
    assert_eq!(missing.len(), a.files.len(), "nothing held yet");

    // A corrupted batch is refused whole: nothing stored.
    let half = a.files.len() / 2;
    let mut bad = upload::encode_batch(&a.files[..half]);
    let last = bad.len() - 1;
    bad[last] ^= 0x55;
    let e = net
        .agent_store_batch(&a.key, run, bad)
        .await
        .expect_err("corrupt");
    assert!(matches!(e, ServiceError::Invalid(_)), "{e}");
    // A path leaving the tree is refused.
    let evil = upload::encode_batch(&[BatchFile {
        path: "../x".into(),
        sha256: upload::sha256_hex(b"x"),
        bytes: b"x".to_vec(),
    }]);
    let e = net
        .agent_store_batch(&a.key, run, evil)
        .await
        .expect_err("../x");
    assert!(matches!(e, ServiceError::Invalid(_)), "{e}");
    let mut evil_check = refs(&a.files[..1]);
    evil_check.files[0].path = "../x".into();
    assert!(matches!(
        net.agent_check(&a.key, &evil_check).await,
        Err(ServiceError::Invalid(_))
    ));
    let fid = a
        .store
        .facility(&a.code, false)
        .await
        .expect("f")
        .expect("id");
    assert!(a
        .store
        .current_hashes(fid)
        .await
        .expect("hashes")
        .is_empty());

    // Two batches.
    let first = net
        .agent_store_batch(&a.key, run, upload::encode_batch(&a.files[..half]))
        .await
        .expect("batch 1");
    assert_eq!(first.received, half as u64);
    assert_eq!(first.stored, half as u64);
    assert_eq!(first.already_current, 0);
    // The server restarts between two batches of the run: the counts so far were kept with
    // the run, so the finished run's totals still cover both.
    let restarted = Network::new(a.store.clone()).with_test_hashing();
    let net = &restarted;
    let second = net
        .agent_store_batch(&a.key, run, upload::encode_batch(&a.files[half..]))
        .await
        .expect("batch 2");
    assert_eq!(second.stored, (a.files.len() - half) as u64);
    let missing = net.agent_check(&a.key, &all).await.expect("check").missing;
    assert!(missing.is_empty(), "{missing:?}");

    // Sent twice: nothing changes.
    let again = net
        .agent_store_batch(&a.key, run, upload::encode_batch(&a.files[..half]))
        .await
        .expect("again");
    assert_eq!(again.stored, 0);
    assert_eq!(again.already_current, half as u64);
    assert!(again.quarantined.is_empty());

    // The same content as `renkei import` of the tree.
    let other_dir = tempfile::tempdir().expect("tmp");
    let other: Arc<dyn Store> =
        Arc::new(store_sqlite::SqliteStore::open(other_dir.path()).expect("store"));
    common::import(&other, &a.tree, &a.code).await;
    let ofid = other
        .facility(&a.code, false)
        .await
        .expect("f")
        .expect("id");
    assert_eq!(
        a.store.content_digest(fid).await.expect("digest"),
        other.content_digest(ofid).await.expect("digest"),
    );

    // A user may not use the agent's endpoints; another facility's key may not use this run.
    let e = net
        .agent_check(&a.admin, &all)
        .await
        .expect_err("user session");
    assert!(matches!(e, ServiceError::Forbidden(_)), "{e}");

    // Finish with one file deleted from the tree.
    let gone = a.files[0].path.clone();
    let finished = net
        .agent_finish_run(
            &a.key,
            run,
            &FinishRun {
                removed: vec![gone.clone()],
            },
        )
        .await
        .expect("finish");
    assert_eq!(finished.removed, 1);
    let current = a.store.current_hashes(fid).await.expect("hashes");
    assert!(!current.contains_key(&gone));
    assert_eq!(current.len(), a.files.len() - 1);
    let runs = a.store.import_runs(Some(fid)).await.expect("runs");
    let totals = runs
        .iter()
        .find(|r| r.id == run)
        .and_then(|r| r.totals.clone())
        .expect("totals");
    assert_eq!(totals.files_new, a.files.len() as u64);
    assert_eq!(totals.duplicates, half as u64);
    // A finished run takes no more batches.
    let e = net
        .agent_store_batch(&a.key, run, upload::encode_batch(&a.files[..1]))
        .await
        .expect_err("finished");
    assert!(matches!(e, ServiceError::Conflict(_)), "{e}");

    // The same deletion through `renkei import` gives the same content again.
    std::fs::remove_file(a.tree.join(&gone)).expect("rm");
    common::import(&other, &a.tree, &a.code).await;
    assert_eq!(
        a.store.content_digest(fid).await.expect("digest"),
        other.content_digest(ofid).await.expect("digest"),
    );
}

#[tokio::test]
async fn runs_belong_to_their_facility_and_a_left_facility_may_not_send() {
    let a = setup().await;
    let run = a
        .net
        .agent_start_run(
            &a.key,
            &StartRun {
                agent: "h".into(),
                full_scan: false,
            },
        )
        .await
        .expect("start")
        .run_id;
    let e = a
        .net
        .agent_store_batch(&a.key, run + 1000, upload::encode_batch(&a.files[..1]))
        .await
        .expect_err("unknown run");
    assert!(matches!(e, ServiceError::NotFound(_)), "{e}");

    // Another facility's key cannot send into this run.
    let other = FacilityCode::parse("9999999999").expect("code");
    a.net
        .put_facility(
            &a.admin,
            Facility {
                code: other.clone(),
                name: "診療所".into(),
                kind: FacilityKind::Clinic,
                area: "仙台".into(),
                status: FacilityStatus::Participating,
                discloses: true,
                views: true,
            },
        )
        .await
        .expect("facility");
    let k = a.net.create_api_key(&a.admin, &other).await.expect("key");
    let other_key = a
        .net
        .authenticate_api_key(&k.secret_text)
        .await
        .expect("auth");
    let e = a
        .net
        .agent_store_batch(&other_key, run, upload::encode_batch(&a.files[..1]))
        .await
        .expect_err("other facility's run");
    assert!(matches!(e, ServiceError::NotFound(_)), "{e}");

    // A facility that has left the network.
    let mut left = a
        .store
        .facility_details(&a.code)
        .await
        .expect("details")
        .expect("facility");
    left.status = FacilityStatus::Left;
    a.net
        .put_facility(&a.admin, left.clone())
        .await
        .expect("leave");
    // The API authenticates on every request, so the key's principal carries the new status.
    let Principal::FacilitySystem { key_prefix, .. } = &a.key else {
        panic!("a facility key");
    };
    let left_key = Principal::FacilitySystem {
        facility: left,
        key_prefix: key_prefix.clone(),
    };
    let e = a
        .net
        .agent_check(&left_key, &refs(&a.files))
        .await
        .expect_err("left");
    assert!(matches!(e, ServiceError::Forbidden(_)), "{e}");
}
