//! Whole-network disaster recovery end to end (issue 15), every part real: the demo network
//! (facilities, regional IDs, links, consents, users with TOTP, records, an audit history) on
//! a primary `renkei serve` shipping to an S3 bucket (`rclone serve s3`); a consent withdrawn
//! after a remembered moment; the primary destroyed (only its secret key kept apart). Then
//! `renkei restore --network --from` the bucket rebuilds the network into an empty folder:
//! every facility's content digest equal, the audit chain verified against the primary's head,
//! a doctor signs in with password + TOTP and sees what they saw; and `--as-of` the moment
//! before the withdrawal shows the consent in force then. The same from a replica alone, from
//! a bucket with a damaged pack (mended from the replica), and into an empty PostgreSQL
//! database + bucket.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use common::{api_login_fresh, call, get_with, packs_under, private_folder, renkei};
use common::{start_replica, DemoServer, Server, DEMO_PASSWORD};

fn sign_in(server: &Server, login: &str, secret: &str) -> String {
    api_login_fresh(server, login, DEMO_PASSWORD, secret)
}

/// The `[[site]]` of the test's bucket.
fn bucket_toml(s3: &replication::rclone::RcloneS3) -> String {
    let site = s3.site_config("s3-osaka");
    format!(
        "[[site]]\nname = \"s3-osaka\"\nkind = \"s3\"\nurl = \"{}\"\nbucket = \"{}\"\naccess_key_id = \"{}\"\nsecret_access_key = \"{}\"\n",
        site.url.as_deref().expect("url"),
        site.bucket.as_deref().expect("bucket"),
        site.access_key_id.as_deref().expect("key id"),
        site.secret_access_key.as_deref().expect("secret"),
    )
}

/// A new empty data folder for a rebuild: the sites to read from, and the primary's secret
/// key (kept apart from the bucket) so that users can sign in afterwards.
fn rebuild_folder(root: &Path, name: &str, sites: &str, key: &[u8]) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = root.join(name);
    private_folder(&dir);
    std::fs::write(dir.join("renkei.toml"), sites).expect("config");
    std::fs::write(dir.join("secret.key"), key).expect("key");
    std::fs::set_permissions(
        dir.join("secret.key"),
        std::fs::Permissions::from_mode(0o600),
    )
    .expect("key mode");
    dir
}

/// The demo network on a new `primary` folder, shipping to `sites` every second; the office
/// and the doctor signed in, the facilities' codes, and the demo's consented patient.
struct Network {
    demo: DemoServer,
    office: String,
    doctor: String,
    doctor_totp: String,
    codes: Vec<String>,
    patient: String,
}

fn demo_network(primary: &Path, sites: &str, patients: u32) -> Network {
    private_folder(primary);
    std::fs::write(
        primary.join("renkei.toml"),
        format!("[replication]\ninterval_seconds = 1\n\n{sites}"),
    )
    .expect("primary config");
    let demo = DemoServer::start_in(primary, patients, tempfile::tempdir().expect("keep"));
    let office = sign_in(&demo.server, "office", demo.secret("office"));
    let doctor = sign_in(&demo.server, "doctor", demo.secret("doctor"));
    let codes = facility_codes(&demo.server, &office);
    Network {
        doctor_totp: demo.secret("doctor").to_owned(),
        patient: demo.consented.clone(),
        demo,
        office,
        doctor,
        codes,
    }
}

/// The facilities' codes, as the office lists them.
fn facility_codes(server: &Server, office: &str) -> Vec<String> {
    let (status, facilities) = call(server, "GET", "/api/v1/facilities", Some(office), None);
    assert_eq!(status, 200, "{facilities}");
    facilities
        .as_array()
        .expect("facilities")
        .iter()
        .filter_map(|f| f["code"].as_str().map(str::to_owned))
        .collect()
}

/// Wait until the bucket has everything the primary holds.
fn wait_shipped(primary: &Path) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let sites: Value =
            serde_json::from_str(&renkei(primary, &["sites", "--json"])).expect("json");
        let done = sites.as_array().expect("sites").iter().all(|s| {
            let b = &s["backlog"];
            b["versions"] == 0 && b["registry"] == 0 && b["audit"] == 0
        });
        if done {
            return;
        }
        assert!(Instant::now() < deadline, "never shipped: {sites:#}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// `renkei` expected to fail: its combined output.
fn renkei_fails(data: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_renkei"))
        .arg("--data")
        .arg(data)
        .args(args)
        .output()
        .expect("run renkei");
    assert!(!out.status.success(), "renkei {args:?} should fail");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The audit head a data folder's anchor file names, as `SEQ:HASH`.
fn audit_head(data: &Path) -> String {
    let text = std::fs::read_to_string(data.join("audit-head")).expect("audit anchor");
    let (seq, hash) = text.trim().split_once(' ').expect("SEQ HASH");
    format!("{seq}:{hash}")
}

fn digests(data: &Path, codes: &[String]) -> Vec<String> {
    codes
        .iter()
        .map(|c| renkei(data, &["digest", "--facility", c]).trim().to_owned())
        .collect()
}

/// What the doctor is shown of a patient's records (allowed and refused), without the
/// per-request parts.
fn doctor_view(server: &Server, token: &str, id: &str) -> Value {
    let (status, body) = call(
        server,
        "GET",
        &format!("/api/v1/patients/{id}/records"),
        Some(token),
        None,
    );
    assert_eq!(status, 200, "{body}");
    body
}

#[test]
fn whole_network_rebuilt_from_the_bucket_alone_and_as_of_a_time() {
    let tmp = tempfile::tempdir().expect("tmp");
    let primary = tmp.path().join("primary");
    let s3 = replication::rclone::RcloneS3::start(&tmp.path().join("s3"), "renkei-backup")
        .expect("rclone serve s3");
    let site_toml = bucket_toml(&s3);

    // The network, shipping to the bucket every second.
    let Network {
        demo,
        office,
        doctor,
        doctor_totp,
        codes,
        patient,
    } = demo_network(&primary, &site_toml, 20);
    assert!(codes.len() >= 3, "several facilities: {codes:?}");
    let before = doctor_view(&demo.server, &doctor, &patient);
    assert!(
        !before["allowed"].as_array().expect("allowed").is_empty(),
        "{before}"
    );
    wait_shipped(&primary);

    // The moment to rebuild as of, then the patient withdraws their consent.
    std::thread::sleep(Duration::from_millis(1100));
    let moment = model::UnixTime::now().rfc3339();
    std::thread::sleep(Duration::from_millis(1100));
    let (status, consents) = call(
        &demo.server,
        "GET",
        &format!("/api/v1/patients/{patient}/consents"),
        Some(&office),
        None,
    );
    assert_eq!(status, 200, "{consents}");
    let consent_id = consents
        .as_array()
        .expect("consents")
        .iter()
        .find(|c| c["withdrawn_at"].is_null())
        .and_then(|c| c["id"].as_i64())
        .unwrap_or_else(|| panic!("a consent in force: {consents}"));
    let (status, body) = call(
        &demo.server,
        "POST",
        &format!("/api/v1/consents/{consent_id}/withdraw"),
        Some(&office),
        None,
    );
    assert_eq!(status, 200, "{body}");
    let after = doctor_view(&demo.server, &doctor, &patient);
    assert!(
        after["allowed"].as_array().expect("allowed").is_empty(),
        "{after}"
    );

    // The primary stops; what it holds last goes to the bucket; then it is destroyed. Only
    // its secret key survives, kept apart from the bucket.
    drop(demo);
    renkei(&primary, &["ship"]);
    let head = audit_head(&primary);
    renkei(&primary, &["ship"]);
    let want = digests(&primary, &codes);
    let key = std::fs::read(primary.join("secret.key")).expect("secret key");
    std::fs::remove_dir_all(&primary).expect("destroy the primary");
    let new_folder = |name: &str| rebuild_folder(tmp.path(), name, &site_toml, &key);

    // Rebuilt from the bucket alone, as of now.
    let rebuilt = new_folder("rebuilt");
    let out = renkei(&rebuilt, &["restore", "--network", "--from", "s3-osaka"]);
    assert!(out.contains("network rebuilt from s3-osaka"), "{out}");
    assert!(out.contains("audit chain verified"), "{out}");
    assert_eq!(digests(&rebuilt, &codes), want, "every facility's content");
    let rebuilt_head = audit_head(&rebuilt);
    let seq = |h: &str| -> u64 {
        h.split(':')
            .next()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("not a head: {h}"))
    };
    assert!(
        out.contains(&head),
        "the rebuilt chain ends at the primary's head {head} before its own entry: {out}"
    );
    assert!(seq(&rebuilt_head) > seq(&head), "{head} → {rebuilt_head}");
    // A folder that holds a network is never overwritten.
    let refused = renkei_fails(&rebuilt, &["restore", "--network", "--from", "s3-osaka"]);
    assert!(refused.contains("already holds a network"), "{refused}");
    // A doctor signs in with password + TOTP and sees what they saw last: the withdrawal holds.
    let server = Server::start(&rebuilt);
    let token = sign_in(&server, "doctor", &doctor_totp);
    assert_eq!(doctor_view(&server, &token, &patient), after);
    drop(server);

    // Rebuilt as of the moment before the withdrawal: the consent is in force.
    let then = new_folder("then");
    let out = renkei(
        &then,
        &[
            "restore",
            "--network",
            "--from",
            "s3-osaka",
            "--as-of",
            &moment,
        ],
    );
    assert!(out.contains(&format!("as of {moment}")), "{out}");
    assert_eq!(
        digests(&then, &codes),
        want,
        "the files had all arrived by then"
    );
    let server = Server::start(&then);
    let token = sign_in(&server, "doctor", &doctor_totp);
    assert_eq!(doctor_view(&server, &token, &patient), before);
}

const TOKEN: &str = "replication-token-for-the-rebuild-test-0123";

#[test]
fn rebuilt_from_the_replica_alone_and_a_damaged_bucket_pack_mended_from_it() {
    let tmp = tempfile::tempdir().expect("tmp");
    let primary = tmp.path().join("primary");
    let replica = tmp.path().join("replica");
    let s3 = replication::rclone::RcloneS3::start(&tmp.path().join("s3"), "renkei-backup")
        .expect("rclone serve s3");
    let replica_server = start_replica(&replica, TOKEN);
    // The network's streams go to the replication token only.
    for auth in ["", "Authorization: Bearer not-the-token\r\n"] {
        assert_eq!(
            get_with(&replica_server, "/api/v1/replication/feed?registry=0", auth).0,
            401,
            "{auth}"
        );
    }
    let bucket_toml = bucket_toml(&s3);
    let replica_toml = format!(
        "[[site]]\nname = \"dc-tokyo\"\nkind = \"renkei\"\nurl = \"{}\"\ntoken = \"{TOKEN}\"\n",
        replica_server.url()
    );
    let net = demo_network(&primary, &format!("{replica_toml}\n{bucket_toml}"), 12);
    let (codes, patient, doctor_totp) = (net.codes, net.patient, net.doctor_totp);
    let seen = doctor_view(&net.demo.server, &net.doctor, &patient);
    drop(net.demo);
    renkei(&primary, &["ship"]);
    wait_shipped(&primary);
    let want = digests(&primary, &codes);
    let key = std::fs::read(primary.join("secret.key")).expect("secret key");
    std::fs::remove_dir_all(&primary).expect("destroy the primary");
    let new_folder = |name: &str, toml: &str| rebuild_folder(tmp.path(), name, toml, &key);

    // The replica is the last copy: a new network from it alone.
    let from_replica = new_folder("from-replica", &replica_toml);
    let out = renkei(
        &from_replica,
        &["restore", "--network", "--from", "dc-tokyo"],
    );
    assert!(out.contains("network rebuilt from dc-tokyo"), "{out}");
    assert_eq!(
        digests(&from_replica, &codes),
        want,
        "every facility's content"
    );
    let server = Server::start(&from_replica);
    let token = sign_in(&server, "doctor", &doctor_totp);
    assert_eq!(doctor_view(&server, &token, &patient), seen);
    drop(server);

    // A pack in the bucket is damaged: the rebuild from the bucket alone stops and names it …
    let packs = packs_under(&s3.bucket_dir());
    let largest = packs
        .iter()
        .max_by_key(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
        .expect("a pack in the bucket");
    let mut bytes = std::fs::read(largest).expect("pack");
    let (from, to) = (bytes.len() / 4, bytes.len() * 3 / 4);
    for b in &mut bytes[from..to] {
        *b ^= 0x5a;
    }
    std::fs::write(largest, bytes).expect("damage");
    let rebuilt = new_folder("from-bucket", &bucket_toml);
    let failed = renkei_fails(&rebuilt, &["restore", "--network", "--from", "s3-osaka"]);
    assert!(
        failed.contains("cannot be read intact from site s3-osaka"),
        "{failed}"
    );
    // … and, the replica added to the configuration, resumes and mends it from there.
    std::fs::write(
        rebuilt.join("renkei.toml"),
        format!("{bucket_toml}\n{replica_toml}"),
    )
    .expect("config");
    let out = renkei(&rebuilt, &["restore", "--network", "--from", "s3-osaka"]);
    assert!(out.contains("contents mended from other sites"), "{out}");
    assert_eq!(digests(&rebuilt, &codes), want, "every facility's content");
}

/// The scale-out store: the network rebuilt from the backup bucket into an empty PostgreSQL
/// database and an empty bucket for its packs (`[store]`), the same as into a data folder.
#[test]
fn whole_network_rebuilt_into_an_empty_postgresql_and_bucket() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let db = runtime.block_on(store_postgres::testing::TestDatabase::create());
    let tmp = tempfile::tempdir().expect("tmp");
    let primary = tmp.path().join("primary");
    let backup = replication::rclone::RcloneS3::start(&tmp.path().join("s3"), "renkei-backup")
        .expect("rclone serve s3");
    let packs = replication::rclone::RcloneS3::start(&tmp.path().join("s3-store"), "renkei-store")
        .expect("rclone serve s3");
    let site_toml = bucket_toml(&backup);
    let net = demo_network(&primary, &site_toml, 10);
    let (codes, patient, doctor_totp) = (net.codes, net.patient, net.doctor_totp);
    let seen = doctor_view(&net.demo.server, &net.doctor, &patient);
    drop(net.demo);
    renkei(&primary, &["ship"]);
    let want = digests(&primary, &codes);
    // The key of the TOTP secrets, kept apart from the bucket.
    let key_file = tmp.path().join("network.key");
    std::fs::copy(primary.join("secret.key"), &key_file).expect("key");
    std::fs::remove_dir_all(&primary).expect("destroy the primary");

    let pg = tmp.path().join("pg");
    private_folder(&pg);
    let (id, secret) = packs.credentials();
    std::fs::write(
        pg.join("renkei.toml"),
        format!(
            "[store]\ndatabase_url = \"{}\"\nblobs = \"s3://{}/network\"\ns3_endpoint = \"{}\"\ns3_access_key_id = \"{id}\"\ns3_secret_access_key = \"{secret}\"\nmax_connections = 4\n\n[secrets]\nkey_file = \"{}\"\n\n{site_toml}",
            db.url,
            packs.bucket(),
            packs.url(),
            key_file.display()
        ),
    )
    .expect("config");
    let out = renkei(&pg, &["restore", "--network", "--from", "s3-osaka"]);
    assert!(out.contains("network rebuilt from s3-osaka"), "{out}");
    assert_eq!(digests(&pg, &codes), want, "every facility's content");
    let server = Server::start(&pg);
    let token = sign_in(&server, "doctor", &doctor_totp);
    assert_eq!(doctor_view(&server, &token, &patient), seen);
}

/// `scripts/drill`, the drill docs/disaster-recovery.md asks each network to run every quarter,
/// passes on a small network and prints its RPO and RTO.
#[test]
fn the_quarterly_drill_script_passes() {
    let tmp = tempfile::tempdir().expect("tmp");
    let out =
        std::process::Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/drill"))
            .env("RENKEI", env!("CARGO_BIN_EXE_renkei"))
            .args(["--patients", "30", "--work"])
            .arg(tmp.path())
            .output()
            .expect("run scripts/drill");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    for line in [
        "content digests: ",
        "registry: ",
        "audit: the rebuilt chain holds the primary's head",
        "RPO: 0 versions",
        "RTO: ",
        "drill passed",
    ] {
        assert!(text.contains(line), "{line:?} missing in:\n{text}");
    }
}
