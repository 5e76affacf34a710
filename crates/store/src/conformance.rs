//! The conformance suite every [`Store`] backend must pass. Each backend's tests call
//! [`run_all`] with a fresh, empty store; a failure panics with the name of the check.

use std::collections::HashSet;

use model::FacilityCode;
use ssmix2::Condition;

use crate::packs::sha256;
use crate::{FileOutcome, ImportTotals, IngestFile, RecordIndex, StorageKind, Store};

fn record_file(path: &str, content: &str) -> IngestFile {
    IngestFile {
        path: path.to_owned(),
        bytes: content.as_bytes().to_vec(),
        sha256: sha256(content.as_bytes()),
        outcome: FileOutcome::Record(RecordIndex {
            storage: StorageKind::Standard,
            patient_id: "1000001".into(),
            date: "20240401".into(),
            kind: "OML-11".into(),
            order_no: "000000000000001".into(),
            written_at: "20240401120000000".into(),
            department: "01".into(),
            condition: Condition::Current,
            message_type: Some("OUL^R22".into()),
            nonconforming_encoding: None,
        }),
        notices: vec![],
        demographics: None,
    }
}

fn bad_file(path: &str, content: &[u8]) -> IngestFile {
    IngestFile {
        path: path.to_owned(),
        bytes: content.to_vec(),
        sha256: sha256(content),
        outcome: FileOutcome::Quarantined {
            reason: "not an HL7 message".into(),
            line: Some(1),
        },
        notices: vec![],
        demographics: None,
    }
}

/// Run every check on `store`, which must be empty.
pub async fn run_all(store: &dyn Store) {
    let code = FacilityCode::parse("0411111111").expect("valid code");
    assert_eq!(
        store.facility(&code, false).await.expect("lookup"),
        None,
        "unknown facility is None"
    );
    let fac = store
        .facility(&code, true)
        .await
        .expect("create")
        .expect("created");
    assert_eq!(
        store.facility(&code, true).await.expect("again"),
        Some(fac),
        "facility creation is idempotent"
    );

    // Write, then replay the same batch: nothing new.
    let run = store.begin_import(fac, "/src").await.expect("begin");
    let batch = vec![
        record_file("100/000/1000001/20240401/OML-11/a_1", "MSH|one"),
        record_file("100/000/1000001/20240401/OML-11/b_1", "MSH|two"),
        // Same content under another path (an SS-MIX2 rename): one blob, two files.
        record_file("100/000/1000001/20240401/OML-11/a_2", "MSH|one"),
        bad_file("100/000/1000001/junk", b"\xff\xfe"),
    ];
    let out = store
        .write_batch(fac, run, batch.clone())
        .await
        .expect("write");
    assert_eq!(out.versions, 4, "four new versions");
    assert_eq!(out.new_blobs, 3, "identical contents stored once");
    let again = store
        .write_batch(fac, run, batch.clone())
        .await
        .expect("replay");
    assert_eq!(again.versions, 0, "replayed batch adds nothing");
    let digest_once = store.content_digest(fac).await.expect("digest");

    // Read back byte for byte, in the order asked.
    let files = store.current_files(fac).await.expect("files");
    assert_eq!(files.len(), 4);
    let hashes: Vec<_> = files.iter().map(|f| f.sha256).collect();
    let bytes = store.read_blobs(&hashes).await.expect("read");
    for (f, b) in files.iter().zip(&bytes) {
        let original = batch.iter().find(|x| x.path == f.path).expect("known path");
        assert_eq!(b, &original.bytes, "bytes of {}", f.path);
    }
    let q = store.quarantine(fac).await.expect("quarantine");
    assert_eq!(q.len(), 1);
    assert_eq!(q[0].reason, "not an HL7 message");
    assert_eq!(q[0].line, Some(1));

    // A changed file is a new version; the old content stays readable.
    let changed = record_file("100/000/1000001/20240401/OML-11/a_1", "MSH|one, corrected");
    let out = store
        .write_batch(fac, run, vec![changed.clone()])
        .await
        .expect("change");
    assert_eq!(out.versions, 1);
    let current = store.current_hashes(fac).await.expect("hashes");
    assert_eq!(current.get(&changed.path), Some(&changed.sha256));
    assert_eq!(
        store.read_blobs(&[batch[0].sha256]).await.expect("old")[0],
        batch[0].bytes,
        "history kept"
    );
    assert_ne!(
        store.content_digest(fac).await.expect("digest"),
        digest_once,
        "digest sees the change"
    );

    // A full scan that no longer sees a path removes it from the current tree only.
    let seen: HashSet<String> = current
        .keys()
        .filter(|p| !p.ends_with("b_1"))
        .cloned()
        .collect();
    let totals = ImportTotals {
        files_seen: 3,
        ..Default::default()
    };
    let removed = store
        .finish_import(fac, run, &totals, Some(&seen))
        .await
        .expect("finish");
    assert_eq!(removed, 1);
    let files = store.current_files(fac).await.expect("files");
    assert_eq!(files.len(), 3);
    assert!(files.iter().all(|f| !f.path.ends_with("b_1")));
    let runs = store.import_runs(Some(fac)).await.expect("runs");
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].removed, 1);
    assert_eq!(runs[0].totals.as_ref().map(|t| t.files_seen), Some(3));

    let overview = store.facility_overview().await.expect("overview");
    assert_eq!(overview.len(), 1);
    assert_eq!(
        (
            overview[0].files,
            overview[0].records,
            overview[0].quarantined
        ),
        (3, 2, 1)
    );
    assert!(overview[0].last_import.is_some());

    let stats = store.stats().await.expect("stats");
    assert_eq!(stats.facilities, 1);
    assert_eq!(stats.files, 3);
    assert_eq!(stats.file_versions, 6);
    assert_eq!(stats.records, 4);
    assert_eq!(
        stats.current_records, 2,
        "a_1 (new) and a_2; b_1 was removed, old a_1 superseded"
    );
    assert_eq!(stats.quarantined, 1);
    assert_eq!(stats.blobs, 4);
    assert!(stats.packed_bytes > 0);
}
