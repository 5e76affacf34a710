//! Two servers sharing one database (and one bucket) append to the audit log at once: the
//! log stays one hash chain, numbered without gaps, and the anchor never leads the head.

use std::sync::Arc;

use store::Registry;
use store_postgres::testing::TestDatabase;
use store_postgres::{BlobsLocation, PgConfig, PgStore};

const SERVERS: usize = 2;
const TASKS: usize = 4;
const APPENDS: usize = 50;

/// Events of one append: mostly one, every fifth call several (a batch).
fn batch(server: usize, task: usize, call: usize) -> Vec<audit::Event> {
    let n = if call.is_multiple_of(5) {
        2 + call % 4
    } else {
        1
    };
    (0..n)
        .map(|i| {
            let mut e = audit::Event::new(
                model::UnixTime(1_764_000_000 + call as i64),
                format!("server{server}.task{task}"),
                audit::Action::View,
            );
            e.target = format!("call {call} event {i}");
            e.flagged = i == 1;
            e
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_appends_from_two_servers_make_one_chain() {
    let db = TestDatabase::create().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = PgConfig {
        database_url: db.url.clone(),
        // One bucket for both, as two servers of a cluster share one.
        blobs: BlobsLocation::Local(dir.path().join("blobs")),
        max_connections: 8,
    };
    let mut servers = Vec::new();
    for _ in 0..SERVERS {
        servers.push(Arc::new(PgStore::connect(&config).await.expect("connect")));
    }

    let mut tasks = Vec::new();
    for (s, server) in servers.iter().enumerate() {
        for t in 0..TASKS {
            let server = server.clone();
            tasks.push(tokio::spawn(async move {
                let mut appended = 0usize;
                for call in 0..APPENDS {
                    let events = batch(s, t, call);
                    let n = events.len();
                    let entries = server.append_audit(events).await.expect("append");
                    assert_eq!(entries.len(), n);
                    // One call's entries are consecutive.
                    for w in entries.windows(2) {
                        assert_eq!(w[1].seq, w[0].seq + 1);
                        assert_eq!(w[1].prev_hash, w[0].hash);
                    }
                    appended += n;
                }
                appended
            }));
        }
    }
    let mut expected = 0u64;
    for t in tasks {
        expected += t.await.expect("task") as u64;
    }

    let chain = servers[0].audit_range(0, 0).await.expect("range");
    assert_eq!(audit::verify(&chain), Ok(expected), "one valid chain");
    assert_eq!(chain.len() as u64, expected);
    for (i, e) in chain.iter().enumerate() {
        assert_eq!(e.seq, i as u64 + 1, "numbered without gaps");
    }
    // Both servers read the same chain.
    assert_eq!(
        servers[1].audit_range(0, 0).await.expect("range"),
        chain,
        "the other server reads the same chain"
    );

    let head = servers[1].audit_head().await.expect("head").expect("head");
    assert_eq!(head, (expected, chain.last().expect("last").hash));
    for server in &servers {
        let (seq, hash) = server
            .audit_anchor()
            .await
            .expect("anchor")
            .expect("anchor written");
        assert!(seq <= head.0, "the anchor never leads the head");
        assert_eq!(
            hash,
            chain[seq as usize - 1].hash,
            "the anchor names an entry of the chain"
        );
    }
}

/// Two servers enrolling and linking at once: regional IDs are distinct, their rows numbered
/// without gaps, and a local patient linked from both ends up with exactly one active link.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_enrolls_and_links_from_two_servers() {
    use model::{Facility, FacilityCode, FacilityKind, FacilityStatus, LocalPatient, UnixTime};
    let db = TestDatabase::create().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = PgConfig {
        database_url: db.url.clone(),
        blobs: BlobsLocation::Local(dir.path().join("blobs")),
        max_connections: 8,
    };
    let a = Arc::new(PgStore::connect(&config).await.expect("connect"));
    let b = Arc::new(PgStore::connect(&config).await.expect("connect"));
    let code = FacilityCode::parse("0411111111").expect("code");
    a.put_facility(&Facility {
        code: code.clone(),
        name: "仙台中央病院".into(),
        kind: FacilityKind::Hospital,
        area: "仙台".into(),
        status: FacilityStatus::Participating,
        discloses: true,
        views: true,
    })
    .await
    .expect("facility");

    let mut tasks = Vec::new();
    for (s, server) in [a.clone(), b.clone()].into_iter().enumerate() {
        for t in 0..TASKS {
            let (server, code) = (server.clone(), code.clone());
            tasks.push(tokio::spawn(async move {
                let mut ids = Vec::new();
                for i in 0..20 {
                    let id = server.enroll("office", UnixTime(1)).await.expect("enroll");
                    // Every task links the same few local patients: one link each wins.
                    let patient = LocalPatient {
                        facility: code.clone(),
                        local_id: format!("{}", i % 3),
                    };
                    match server.link(&id, &patient, "office", UnixTime(2)).await {
                        Ok(_) => {}
                        Err(store::StoreError::Conflict(m)) => {
                            assert!(m.contains("is already linked to"), "{m} ({s}/{t})")
                        }
                        Err(e) => panic!("link: {e}"),
                    }
                    ids.push(id);
                }
                ids
            }));
        }
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.extend(t.await.expect("task"));
    }
    let n = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), n, "every regional ID issued once");
    // The IDs are random; the rows are still numbered 1..=N without gaps.
    let seqs: Vec<i64> = sqlx::query_scalar("SELECT seq FROM regional_ids ORDER BY seq")
        .fetch_all(a.pool())
        .await
        .expect("seqs");
    assert_eq!(seqs, (1..=n as i64).collect::<Vec<_>>(), "numbered 1..=N");
    for i in 0..3 {
        let patient = LocalPatient {
            facility: code.clone(),
            local_id: format!("{i}"),
        };
        assert!(a.regional_id_of(&patient).await.expect("of").is_some());
    }
}
