//! Tampering with the audit log's end is caught on both stores (issue 13, finding 7): the
//! anchor outside the database deleted and the log cut, every row deleted (with or without
//! the anchor), an anchor ahead of the log, and a head copied off the server that the log no
//! longer holds. Each case appends once more after tampering (as the sign-in of whoever runs
//! `verify` would) and must still be reported.

use std::path::PathBuf;
use std::sync::Arc;

use model::{Profession, UnixTime, User};
use service::{HeadReference, Network, Principal};
use store::Store;

/// How each backend is tampered with behind the store's back.
trait Backend {
    fn store(&self) -> Arc<dyn Store>;
    /// Delete the audit rows after `keep` (the append-only guard dropped first).
    async fn cut_log(&self, keep: u64);
    fn anchor_path(&self) -> PathBuf;
}

struct Sqlite {
    dir: tempfile::TempDir,
    store: Arc<dyn Store>,
}

impl Sqlite {
    fn new() -> Sqlite {
        let dir = tempfile::tempdir().expect("tmp");
        let store: Arc<dyn Store> =
            Arc::new(store_sqlite::SqliteStore::open(dir.path()).expect("open"));
        Sqlite { dir, store }
    }
}

impl Backend for Sqlite {
    fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }
    async fn cut_log(&self, keep: u64) {
        let conn = rusqlite::Connection::open(self.dir.path().join("renkei.db")).expect("db");
        conn.execute_batch("DROP TRIGGER IF EXISTS audit_no_delete")
            .expect("drop guard");
        conn.execute("DELETE FROM audit_log WHERE seq > ?1", [keep as i64])
            .expect("delete");
    }
    fn anchor_path(&self) -> PathBuf {
        self.dir.path().join("audit-head")
    }
}

struct Postgres {
    _db: store_postgres::testing::TestDatabase,
    dir: tempfile::TempDir,
    pg: Arc<store_postgres::PgStore>,
}

impl Postgres {
    async fn new() -> Postgres {
        let db = store_postgres::testing::TestDatabase::create().await;
        let dir = tempfile::tempdir().expect("tmp");
        let pg = store_postgres::PgStore::connect(&store_postgres::PgConfig {
            database_url: db.url.clone(),
            blobs: store_postgres::BlobsLocation::Local(dir.path().join("blobs")),
            max_connections: 4,
        })
        .await
        .expect("connect");
        Postgres {
            _db: db,
            dir,
            pg: Arc::new(pg),
        }
    }
}

impl Backend for Postgres {
    fn store(&self) -> Arc<dyn Store> {
        self.pg.clone()
    }
    async fn cut_log(&self, keep: u64) {
        sqlx::query("DROP TRIGGER IF EXISTS audit_no_update ON audit_log")
            .execute(self.pg.pool())
            .await
            .expect("drop guard");
        sqlx::query("DELETE FROM audit_log WHERE seq > $1")
            .bind(keep as i64)
            .execute(self.pg.pool())
            .await
            .expect("delete");
    }
    fn anchor_path(&self) -> PathBuf {
        self.dir.path().join("blobs").join("audit-head")
    }
}

/// The office, without a session (the service trusts the principal it is given).
fn office() -> Principal {
    Principal::User {
        user: User {
            login: "office".into(),
            display_name: "事務局".into(),
            profession: Profession::Administrator,
            facilities: vec![],
            active: true,
        },
        acting_for: None,
    }
}

/// A network in use: an administrator (audited) and `n` more audited acts.
async fn used(net: &Network, n: usize) {
    net.bootstrap_admin("admin", "管理者", "Kx7#mPq2vLw9-renkei")
        .await
        .expect("bootstrap");
    let events = (0..n)
        .map(|i| {
            let mut e = audit::Event::new(UnixTime::now(), "office", audit::Action::Search);
            e.target = format!("act {i}");
            e
        })
        .collect();
    net.store().append_audit(events).await.expect("append");
}

/// Verify twice (the first verify's own audit entry is the append after tampering); both
/// must find the problem `expect`.
async fn reported(net: &Network, references: &[HeadReference], expect: &str) {
    for round in 0..2 {
        let r = net
            .audit_verify_against(&office(), references)
            .await
            .expect("verify");
        assert!(
            r.problems.iter().any(|p| p.contains(expect)),
            "round {round}: expected a problem with {expect:?}, got {:?}",
            r.problems
        );
    }
}

async fn head(net: &Network) -> audit::Head {
    let r = net.audit_verify(&office()).await.expect("verify");
    assert!(r.ok(), "{:?}", r.problems);
    r.head.expect("a head")
}

async fn every_tampering_is_caught<B: Backend, F: std::future::Future<Output = B>>(
    new: impl Fn() -> F,
) {
    // A new store is anchored (empty chain) and verifies; so does a used one.
    let b = new().await;
    let net = Network::new(b.store()).with_test_hashing();
    assert_eq!(
        b.store().audit_anchor().await.expect("anchor"),
        Some((0, audit::GENESIS))
    );
    assert!(net.audit_verify(&office()).await.expect("verify").ok());
    used(&net, 8).await;
    let copied = head(&net).await;
    assert!(copied.seq >= 9);
    // A head copied off the server earlier is still held; a forged one is not.
    let r = net
        .audit_verify_against(
            &office(),
            &[HeadReference {
                source: "the copied head".into(),
                head: Some(copied),
            }],
        )
        .await
        .expect("verify");
    assert!(r.ok(), "{:?}", r.problems);
    let mut forged = copied;
    forged.hash[0] ^= 0xff;
    let refs = [HeadReference {
        source: "the copied head".into(),
        head: Some(forged),
    }];
    reported(
        &net,
        &refs,
        &format!("entry {} differs from the copied head", copied.seq),
    )
    .await;
    let beyond = [HeadReference {
        source: "the copied head".into(),
        head: Some(audit::Head {
            seq: copied.seq + 1000,
            hash: copied.hash,
        }),
    }];
    reported(&net, &beyond, "were cut off the end").await;

    // 1. The anchor deleted, then the log cut: the anchor is not re-created, and the head
    //    copied earlier is no longer in the log.
    std::fs::remove_file(b.anchor_path()).expect("delete anchor");
    b.cut_log(3).await;
    reported(&net, &[], "is missing although the log has").await;
    let refs = [HeadReference {
        source: "the copied head".into(),
        head: Some(copied),
    }];
    reported(&net, &refs, "were cut off the end").await;
    assert_eq!(b.store().audit_anchor().await.expect("anchor"), None);

    // 2. Every row deleted, the anchor kept: the anchor is ahead of the log and stays so.
    let b = new().await;
    let net = Network::new(b.store()).with_test_hashing();
    used(&net, 4).await;
    let h = head(&net).await;
    b.cut_log(0).await;
    reported(&net, &[], &format!("says it reached entry {}", h.seq + 1)).await;

    // 3. Every row and the anchor deleted: the network has users, so its log cannot be
    //    empty; and the entries written since do not make it whole.
    let b = new().await;
    let net = Network::new(b.store()).with_test_hashing();
    used(&net, 4).await;
    std::fs::remove_file(b.anchor_path()).expect("delete anchor");
    b.cut_log(0).await;
    let r = net.audit_verify(&office()).await.expect("verify");
    assert!(
        r.problems.iter().any(|p| p.contains("missing")),
        "{:?}",
        r.problems
    );
    reported(&net, &[], "missing").await;

    // 4. An anchor ahead of the log (written by hand): reported, and not overwritten.
    let b = new().await;
    let net = Network::new(b.store()).with_test_hashing();
    used(&net, 2).await;
    let h = head(&net).await;
    std::fs::write(
        b.anchor_path(),
        format!("{} {}\n", h.seq + 50, "ab".repeat(32)),
    )
    .expect("write anchor");
    reported(&net, &[], "were cut off the end").await;
    assert_eq!(
        b.store().audit_anchor().await.expect("anchor").map(|a| a.0),
        Some(h.seq + 50)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_catches_every_tampering_with_the_end_of_the_log() {
    every_tampering_is_caught(|| async { Sqlite::new() }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_catches_every_tampering_with_the_end_of_the_log() {
    every_tampering_is_caught(Postgres::new).await;
}
