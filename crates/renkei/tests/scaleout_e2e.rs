//! The scale-out store end to end, every part real: two `renkei serve` processes on one
//! PostgreSQL database (a fresh one on the server of `RENKEI_TEST_POSTGRES`) with their packs
//! in one S3 bucket (`rclone serve s3`); and `renkei migrate` moving an embedded network to
//! PostgreSQL.

mod common;

use std::path::Path;

use serde_json::Value;
use store::Registry;
use store_postgres::testing::TestDatabase;

use common::{api_login, call, private_folder, DemoServer, Server, DEMO_PASSWORD};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// A data folder whose renkei.toml points at the database and the bucket.
fn data_folder(
    root: &Path,
    name: &str,
    db: &TestDatabase,
    s3: &replication::rclone::RcloneS3,
) -> std::path::PathBuf {
    let data = root.join(name);
    private_folder(&data);
    // Every server of one network needs the same key of the TOTP secrets.
    let key_file = root.join("network.key");
    if !key_file.exists() {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .create_new(true)
            .write(true)
            .mode(0o600)
            .open(&key_file)
            .expect("key file");
        // base64 of 32 bytes: a test key.
        f.write_all(b"dGVzdCBrZXkgb2YgdGhlIHNjYWxlLW91dCB0ZXN0ISE=\n")
            .expect("key");
    }
    let (key, secret) = s3.credentials();
    std::fs::write(
        data.join("renkei.toml"),
        format!(
            "[store]\ndatabase_url = \"{}\"\nblobs = \"s3://{}/network\"\ns3_endpoint = \"{}\"\ns3_access_key_id = \"{key}\"\ns3_secret_access_key = \"{secret}\"\nmax_connections = 4\n\n[secrets]\nkey_file = \"{}\"\n",
            db.url,
            s3.bucket(),
            s3.url(),
            key_file.display()
        ),
    )
    .expect("config");
    data
}

fn records(server: &Server, token: &str, rid: &str) -> Value {
    let (status, body) = call(
        server,
        "GET",
        &format!("/api/v1/patients/{rid}/records"),
        Some(token),
        None,
    );
    assert_eq!(status, 200, "{body}");
    body
}

/// What one server imported the other serves; clinicians reading through both at once leave
/// one valid audit chain.
#[test]
fn two_servers_share_one_database_and_bucket() {
    let rt = runtime();
    let db = rt.block_on(TestDatabase::create());
    let tmp = tempfile::tempdir().expect("tmp");
    let s3 = replication::rclone::RcloneS3::start(&tmp.path().join("s3"), "renkei")
        .expect("rclone serve s3");
    let a_data = data_folder(tmp.path(), "a", &db, &s3);
    let b_data = data_folder(tmp.path(), "b", &db, &s3);

    // Server A loads the demo region (an import through A) …
    let a = DemoServer::start_in(&a_data, 12, tempfile::tempdir().expect("tmp"));
    // … server B, started on the same database afterwards, has nothing of its own.
    let b = Server::start(&b_data);
    assert!(
        !b_data.join("renkei.db").exists(),
        "B must not have opened an embedded store"
    );
    let packs_in_bucket = walk_count(&s3.bucket_dir().join("network"), "pack");
    assert!(packs_in_bucket > 0, "A's packs are in the bucket");

    let on_b = api_login(&b, "doctor", DEMO_PASSWORD, a.secret("doctor"), 0);
    let on_a = api_login(&a.server, "doctor", DEMO_PASSWORD, a.secret("doctor"), 1);
    let seen_on_b = records(&b, &on_b, &a.consented);
    let seen_on_a = records(&a.server, &on_a, &a.consented);
    assert!(
        !seen_on_b["allowed"].as_array().expect("allowed").is_empty(),
        "{seen_on_b}"
    );
    assert_eq!(seen_on_a["allowed"], seen_on_b["allowed"]);

    // One record with its raw message, read through B from A's pack in the bucket.
    let version = seen_on_b["allowed"][0]["version_id"]
        .as_i64()
        .expect("version id");
    let (status, record) = call(
        &b,
        "GET",
        &format!("/api/v1/patients/{}/records/{version}", a.consented),
        Some(&on_b),
        None,
    );
    assert_eq!(status, 200, "{record}");
    assert!(record.to_string().contains("MSH"), "{record}");

    // Both servers write audit entries at once: every view is audited.
    std::thread::scope(|scope| {
        for t in 0..4 {
            let (server, token) = if t % 2 == 0 {
                (&a.server, on_a.as_str())
            } else {
                (&b, on_b.as_str())
            };
            let rid = a.consented.clone();
            scope.spawn(move || {
                for _ in 0..15 {
                    records(server, token, &rid);
                }
            });
        }
    });

    // One chain, no gaps, every link verified, through a third connection.
    let chain = rt.block_on(async {
        let store = store_postgres::PgStore::connect_alongside(&store_postgres::PgConfig {
            database_url: db.url.clone(),
            blobs: store_postgres::BlobsLocation::Local(tmp.path().join("unused")),
            max_connections: 2,
        })
        .await
        .expect("connect");
        store.audit_range(0, 0).await.expect("chain")
    });
    assert!(chain.len() >= 60, "{} entries", chain.len());
    for (i, e) in chain.iter().enumerate() {
        assert_eq!(e.seq, i as u64 + 1, "no gap in the sequence");
    }
    audit::verify(&chain).expect("one valid chain");
    drop(b);
}

fn walk_count(dir: &Path, ext: &str) -> usize {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    rd.flatten()
        .map(|e| {
            let p = e.path();
            if p.is_dir() {
                walk_count(&p, ext)
            } else {
                usize::from(p.extension().is_some_and(|x| x == ext))
            }
        })
        .sum()
}

/// An embedded network moves to PostgreSQL whole: the comparison passes, and a server on the
/// new database lets the same clinician in to the same records.
#[test]
fn migrate_embedded_network_to_postgres() {
    let rt = runtime();
    let db = rt.block_on(TestDatabase::create());
    let tmp = tempfile::tempdir().expect("tmp");
    let sqlite_data = tmp.path().join("embedded");
    let demo = DemoServer::start_in(&sqlite_data, 12, tempfile::tempdir().expect("tmp"));
    let token = api_login(
        &demo.server,
        "doctor",
        DEMO_PASSWORD,
        demo.secret("doctor"),
        0,
    );
    let before = records(&demo.server, &token, &demo.consented);
    let secret = demo.secret("doctor").to_owned();
    let consented = demo.consented.clone();
    drop(demo);

    let pg_data = tmp.path().join("pg");
    private_folder(&pg_data);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_renkei"))
        .arg("--data")
        .arg(&pg_data)
        .args([
            "migrate",
            "--from",
            &format!("sqlite://{}", sqlite_data.display()),
            "--to",
            &db.url,
            "--json",
        ])
        .output()
        .expect("migrate");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "migrate failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_str(&stdout).expect("json report");
    let checks = report["checks"].as_array().expect("checks");
    for what in [
        "file versions",
        "records (live)",
        "audit chain head",
        "registry users",
    ] {
        assert!(
            checks
                .iter()
                .any(|c| c["what"] == what && c["same"] == true),
            "{what}: {report}"
        );
    }
    assert!(
        checks
            .iter()
            .filter(|c| c["what"].as_str().unwrap_or("").ends_with("content digest"))
            .count()
            >= 2,
        "{report}"
    );
    assert!(report["versions"].as_u64().unwrap_or(0) > 100, "{report}");

    // A second migrate into the same database is refused: it is no longer empty.
    let again = std::process::Command::new(env!("CARGO_BIN_EXE_renkei"))
        .arg("--data")
        .arg(&pg_data)
        .args([
            "migrate",
            "--from",
            &format!("sqlite://{}", sqlite_data.display()),
            "--to",
            &db.url,
        ])
        .output()
        .expect("migrate again");
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already holds a network"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );

    // The network runs on PostgreSQL (packs in <data>/blobs by default): same login, same
    // records.
    let server = Server::start_env(&pg_data, &[("RENKEI_DATABASE_URL", db.url.as_str())]);
    assert!(
        !pg_data.join("renkei.db").exists(),
        "served from PostgreSQL"
    );
    assert!(
        walk_count(&pg_data.join("blobs"), "pack") > 0,
        "packs copied to the default folder"
    );
    let token = api_login(&server, "doctor", DEMO_PASSWORD, &secret, 1);
    let after = records(&server, &token, &consented);
    assert_eq!(before["allowed"], after["allowed"]);
}
