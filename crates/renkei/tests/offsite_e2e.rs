//! Off-site copies end to end on loopback, every part real: a primary `renkei serve`
//! shipping to a replica `renkei serve --replica` and to an S3 bucket (`rclone serve s3`),
//! fed by the facility agent (killed mid-upload and rerun). Then: damaged and deleted blobs
//! at the primary and in the bucket are found by `renkei verify` and mended by `--repair`;
//! `--as-of` restores the tree as it was; both sites vouch for the end of the primary's audit
//! log (`audit verify --against-site`), also once the primary's anchor is deleted and its log
//! cut; the primary is lost, the replica promoted, and the facility's tree restored from it,
//! `diff -r` against the original empty.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use common::{add_office, api_key, bootstrap_admin, largest_synth_facility, put_facility};
use common::{
    agent_status, api_login, assert_same_tree, call, get_html, get_with, html_login, number,
    renkei, totp, tree, Server, PASSWORD,
};
use common::{packs_under, private_folder, start_replica};

const TOKEN: &str = "replication-token-for-the-test-0123456789";

/// `renkei` with its exit status and both outputs (for commands expected to fail).
fn renkei_status(data: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_renkei"))
        .arg("--data")
        .arg(data)
        .args(args)
        .output()
        .expect("run renkei");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Wait until every site has nothing left to receive.
fn wait_caught_up(primary: &Path) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let sites: Value =
            serde_json::from_str(&renkei(primary, &["sites", "--json"])).expect("json");
        let list = sites.as_array().expect("sites");
        assert_eq!(list.len(), 2, "{sites}");
        let done = list.iter().all(|s| {
            let b = &s["backlog"];
            b["versions"] == 0
                && b["registry"] == 0
                && b["audit"] == 0
                && s["state"]["last_error"].is_null()
        });
        if done {
            return sites;
        }
        assert!(
            Instant::now() < deadline,
            "sites never caught up: {sites:#}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn agent(url: &str, root: &Path, state: &Path, key: &Path, extra: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_renkei"));
    c.args(["agent", "run", "--once", "--server", url, "--root"])
        .arg(root)
        .arg("--state")
        .arg(state)
        .arg("--key-file")
        .arg(key)
        .args(extra)
        .env_remove("RENKEI_AGENT_KEY");
    c
}

/// `renkei restore` of the facility into `to` (with `extra` flags) equals the tree `want`.
fn restore_equals(data: &Path, code: &str, to: &Path, extra: &[&str], want: &Path) {
    let mut args = vec![
        "restore",
        "--facility",
        code,
        "--to",
        to.to_str().expect("utf8"),
    ];
    args.extend_from_slice(extra);
    renkei(data, &args);
    assert_same_tree(want, to);
}

fn copy_tree(from: &Path, to: &Path) {
    for (rel, bytes) in tree(from) {
        let p = to.join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, bytes).expect("write");
    }
}

fn damage(pack: &Path) {
    let mut bytes = std::fs::read(pack).expect("read pack");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x5a;
    std::fs::write(pack, bytes).expect("write pack");
}

#[test]
fn replica_and_bucket_copies_verify_repair_promote_and_restore() {
    let tmp = tempfile::tempdir().expect("tmp");
    let region = tmp.path().join("region");
    let primary = tmp.path().join("primary");
    let replica = tmp.path().join("replica");
    let (code, root) = largest_synth_facility(&region, 30, 11);
    let files = tree(&root).len();
    assert!(files > 100, "{files} files");

    // The S3 bucket and the replica.
    let s3 = replication::rclone::RcloneS3::start(&tmp.path().join("s3"), "renkei-backup")
        .expect("rclone serve s3");
    let replica_server = start_replica(&replica, TOKEN);
    // A replica serves replication only.
    assert_eq!(get_with(&replica_server, "/login", "").0, 503);
    assert_eq!(
        get_with(&replica_server, "/api/v1/replication/status", "").0,
        401,
        "the token is required"
    );

    // The primary, shipping to both every second.
    let s3_site = s3.site_config("s3-osaka");
    private_folder(&primary);
    std::fs::write(
        primary.join("renkei.toml"),
        format!(
            "[replication]\ninterval_seconds = 1\n\n\
             [[site]]\nname = \"dc-tokyo\"\nkind = \"renkei\"\nurl = \"{}\"\ntoken = \"{TOKEN}\"\n\n\
             [[site]]\nname = \"s3-osaka\"\nkind = \"s3\"\nurl = \"{}\"\nbucket = \"{}\"\naccess_key_id = \"{}\"\nsecret_access_key = \"{}\"\n",
            replica_server.url(),
            s3_site.url.as_deref().expect("url"),
            s3_site.bucket.as_deref().expect("bucket"),
            s3_site.access_key_id.as_deref().expect("key id"),
            s3_site.secret_access_key.as_deref().expect("secret"),
        ),
    )
    .expect("primary config");
    let admin_secret = bootstrap_admin(&primary);
    // Once promoted, the replica serves the primary's users: it needs the primary's key of
    // the TOTP secrets, copied when it is set up (docs/disaster-recovery.md).
    std::fs::copy(primary.join("secret.key"), replica.join("secret.key")).expect("key");
    let server = Server::start(&primary);
    let admin = api_login(&server, "admin", PASSWORD, &admin_secret, 0);
    put_facility(&server, &admin, &code, "石巻テスト病院");
    let office_secret = add_office(&server, &admin);
    let office = api_login(&server, "office", PASSWORD, &office_secret, 0);
    let key = api_key(&server, &office, &code);
    let key_file = tmp.path().join("agent.key");
    std::fs::write(&key_file, &key).expect("key file");
    let state = tmp.path().join("agent-state");

    // The agent, killed mid-upload, then rerun to the end.
    let mut slow = agent(
        &server.url(),
        &root,
        &state,
        &key_file,
        &["--batch-files", "20", "--limit-kbps", "200"],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .expect("agent");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let s = agent_status(&state);
        if s.contains("sent ") && number(&s, "sent") > 0 {
            break;
        }
        assert!(
            slow.try_wait().expect("wait").is_none(),
            "the agent ended before a batch was acknowledged: {s}"
        );
        assert!(Instant::now() < deadline, "no batch acknowledged: {s}");
        std::thread::sleep(Duration::from_millis(50));
    }
    slow.kill().expect("kill -9");
    slow.wait().expect("reap");
    let s = agent_status(&state);
    assert!(number(&s, "pending") > 0, "killed mid-upload: {s}");
    let out = agent(&server.url(), &root, &state, &key_file, &[])
        .output()
        .expect("agent");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sites = wait_caught_up(&primary);
    for s in sites.as_array().expect("sites") {
        assert_eq!(s["lag_seconds"], 0, "{s}");
        assert!(
            s["state"]["shipped_versions"].as_u64().expect("n") >= files as u64,
            "{s}"
        );
    }
    // The office sees both copies and their lag on its dashboard.
    let cookie = html_login(&server, "office", PASSWORD, &office_secret, 1);
    let (status, page) = get_html(&server, "/office", &cookie);
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("id=\"sites\"")
            && page.contains("dc-tokyo")
            && page.contains("s3-osaka")
            && page.contains("0 秒"),
        "{page}"
    );

    // Remember this moment, then change the tree: one file modified, one deleted.
    let before = tmp.path().join("before");
    copy_tree(&root, &before);
    std::thread::sleep(Duration::from_millis(1100));
    let as_of = renkei(&primary, &["sites", "--json"]);
    let as_of: Value = serde_json::from_str(&as_of).expect("json");
    let t1 = as_of[0]["state"]["last_ok_at"]
        .as_str()
        .expect("time")
        .to_owned();
    std::thread::sleep(Duration::from_millis(1100));
    let all: Vec<String> = tree(&root).into_keys().collect();
    let changed = root.join(&all[all.len() / 2]);
    let mut bytes = std::fs::read(&changed).expect("read");
    bytes.extend_from_slice(b"NTE|1||\xe5\xa4\x89\xe6\x9b\xb4\xe5\xbe\x8c\r");
    std::fs::write(&changed, bytes).expect("modify");
    let deleted = root.join(&all[all.len() / 3]);
    std::fs::remove_file(&deleted).expect("delete");
    // Folders are not files: a restore has no empty ones.
    let mut dir = deleted.parent().map(Path::to_path_buf);
    while let Some(d) = dir.filter(|d| d != &root) {
        if std::fs::remove_dir(&d).is_err() {
            break;
        }
        dir = d.parent().map(Path::to_path_buf);
    }
    let out = agent(&server.url(), &root, &state, &key_file, &[])
        .output()
        .expect("agent");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_caught_up(&primary);

    // Every copy is intact.
    let (ok, report) = renkei_status(&primary, &["verify"]);
    assert!(ok, "{report}");
    assert!(
        report.contains("local:") && report.contains("dc-tokyo:") && report.contains("s3-osaka:"),
        "{report}"
    );

    // Damage the primary's packs and the bucket's pack objects: one corrupt, one deleted each.
    // The largest packs first: a pack of one content rebuilt from another site is the same
    // pack again, so the relocation path below needs a pack of many contents.
    let mut local_packs = packs_under(&primary.join("blobs"));
    local_packs
        .sort_by_key(|p| std::cmp::Reverse(std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)));
    let bucket_packs = packs_under(&s3.bucket_dir());
    assert!(
        local_packs.len() >= 2 && bucket_packs.len() >= 4,
        "{local_packs:?} {bucket_packs:?}"
    );
    damage(&local_packs[0]);
    std::fs::remove_file(&local_packs[1]).expect("delete pack");
    // In the bucket: the pack the primary lost is lost there too (no identical copy is left
    // anywhere: the bucket gets its contents relocated into a new pack), and another pack is
    // corrupt (the primary's identical copy mends it).
    let lost = local_packs[1].file_name().expect("name").to_owned();
    let same_in_bucket = bucket_packs
        .iter()
        .find(|p| p.file_name() == Some(lost.as_os_str()))
        .expect("the bucket mirrors the primary's packs")
        .clone();
    std::fs::remove_file(&same_in_bucket).expect("delete object");
    let other = bucket_packs
        .iter()
        .rev()
        .find(|p| {
            local_packs[..2]
                .iter()
                .all(|l| l.file_name() != p.file_name())
        })
        .expect("another pack");
    damage(other);
    let (ok, report) = renkei_status(&primary, &["verify"]);
    assert!(!ok, "damage must be reported: {report}");
    assert!(
        report.contains("corrupt") && report.contains("missing"),
        "{report}"
    );
    let (ok, report) = renkei_status(&primary, &["verify", "--repair"]);
    assert!(ok, "{report}");
    assert!(
        report.contains("restored from s3-osaka")
            && report.contains("rebuilt from other sites")
            && report.contains("relocated"),
        "each repair path was taken: {report}"
    );
    let (ok, report) = renkei_status(&primary, &["verify"]);
    assert!(ok, "clean after repair: {report}");
    // The replica's own packs: checked and mended through its replication API.
    let replica_packs = packs_under(&replica.join("blobs"));
    damage(&replica_packs[0]);
    let (ok, report) = renkei_status(&primary, &["verify", "--site", "dc-tokyo"]);
    assert!(!ok && report.contains("corrupt"), "{report}");
    let (ok, report) = renkei_status(&primary, &["verify", "--site", "dc-tokyo", "--repair"]);
    assert!(ok && report.contains("repaired"), "{report}");
    let (ok, report) = renkei_status(&primary, &["verify", "--site", "dc-tokyo"]);
    assert!(ok, "{report}");

    // Restores from the bucket: now, and as of before the change.
    restore_equals(
        &primary,
        &code,
        &tmp.path().join("from-s3"),
        &["--from", "s3-osaka"],
        &root,
    );
    restore_equals(
        &primary,
        &code,
        &tmp.path().join("old-s3"),
        &["--from", "s3-osaka", "--as-of", &t1],
        &before,
    );
    // And from the replica, through its replication API.
    restore_equals(
        &primary,
        &code,
        &tmp.path().join("from-replica"),
        &["--from", "dc-tokyo"],
        &root,
    );

    // Both sites hold the primary's audit chain and vouch for its end: intact against each.
    wait_caught_up(&primary);
    drop(server);
    let sessions = tmp.path().join("sessions");
    let cli = |args: &[&str], totp_code: Option<&str>| -> (bool, String) {
        let mut c = Command::new(env!("CARGO_BIN_EXE_renkei"));
        c.arg("--data")
            .arg(&primary)
            .args(args)
            .env("RENKEI_SESSION_DIR", &sessions)
            .env("RENKEI_PASSWORD", PASSWORD);
        if let Some(code) = totp_code {
            c.env("RENKEI_TOTP", code);
        }
        let out = c.output().expect("run renkei");
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    let (ok, out) = cli(&["login", "--as", "admin"], Some(&totp(&admin_secret, 1)));
    assert!(ok, "{out}");
    let against = [
        "audit",
        "verify",
        "--against-site",
        "dc-tokyo",
        "--against-site",
        "s3-osaka",
    ];
    let (ok, out) = cli(&against, None);
    assert!(ok, "{out}");
    assert!(
        out.contains("of site dc-tokyo") && out.contains("of site s3-osaka"),
        "{out}"
    );
    let head: String = out
        .split_whitespace()
        .skip_while(|w| *w != "head")
        .nth(1)
        .expect("the head printed")
        .to_owned();
    let (ok, out) = cli(&["audit", "verify", "--expect-head", &head], None);
    assert!(ok, "{out}");
    // An attacker on the primary deletes the anchor and cuts the log's end: the primary alone
    // now says the anchor is missing, and each site still holds entries the primary lost.
    std::fs::remove_file(primary.join("audit-head")).expect("delete the anchor");
    let db = rusqlite::Connection::open(primary.join("renkei.db")).expect("db");
    db.execute_batch("DROP TRIGGER audit_no_delete; DELETE FROM audit_log WHERE seq > 5;")
        .expect("cut the log");
    drop(db);
    let (ok, out) = cli(&["audit", "verify"], None);
    assert!(!ok && out.contains("is missing"), "{out}");
    let (ok, out) = cli(&against, None);
    assert!(!ok, "{out}");
    for site in ["site dc-tokyo", "site s3-osaka"] {
        assert!(
            out.lines().any(|l| l.contains("AUDIT LOG BROKEN")
                && l.contains(site)
                && l.contains("cut off")),
            "{site}: {out}"
        );
    }
    let (ok, out) = cli(&["audit", "verify", "--expect-head", &head], None);
    assert!(!ok && out.contains("cut off"), "{out}");

    // The primary is lost. The replica is promoted and serves; the tree comes back from it.
    std::fs::remove_dir_all(&primary).expect("lose the primary");
    drop(replica_server);
    let promoted = renkei(&replica, &["promote"]);
    assert!(promoted.contains("now the primary"), "{promoted}");
    restore_equals(&replica, &code, &tmp.path().join("restored"), &[], &root);
    restore_equals(
        &replica,
        &code,
        &tmp.path().join("restored-old"),
        &["--as-of", &t1],
        &before,
    );
    let new_primary = Server::start(&replica);
    assert_eq!(
        get_with(&new_primary, "/login", "").0,
        200,
        "the promoted server serves"
    );
    // The replicated registry signs the old users in, and the audit chain came over whole.
    let admin = api_login(&new_primary, "admin", PASSWORD, &admin_secret, 1);
    let (status, body) = call(
        &new_primary,
        "GET",
        "/api/v1/audit/verify",
        Some(&admin),
        None,
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ok"], true, "{body}");
    // A primary audits raw files it serves to a token holder (a remote restore).
    let (status, files) = call(
        &new_primary,
        "GET",
        &format!("/api/v1/replication/tree?facility={code}"),
        Some(TOKEN),
        None,
    );
    assert_eq!(status, 200, "{files}");
    assert_eq!(files.as_array().map(Vec::len), Some(tree(&root).len()));
    let (status, body) = call(
        &new_primary,
        "GET",
        "/api/v1/audit/users/replication-token",
        Some(&admin),
        None,
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.to_string().contains("for a remote restore"), "{body}");
}
