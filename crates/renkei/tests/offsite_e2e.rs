//! Off-site copies end to end on loopback, every part real: a primary `renkei serve`
//! shipping to a replica `renkei serve --replica` and to an S3 bucket (`rclone serve s3`),
//! fed by the facility agent (killed mid-upload and rerun). Then: damaged and deleted blobs
//! at the primary and in the bucket are found by `renkei verify` and mended by `--repair`;
//! `--as-of` restores the tree as it was; the primary is lost, the replica promoted, and the
//! facility's tree restored from it, `diff -r` against the original empty.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use common::{
    agent_status, api_login, assert_same_tree, call, get_html, get_with, html_login, number,
    renkei, tree, Server, PASSWORD,
};

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

fn copy_tree(from: &Path, to: &Path) {
    for (rel, bytes) in tree(from) {
        let p = to.join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, bytes).expect("write");
    }
}

/// The pack files of a data folder or the pack objects of a bucket folder.
fn packs_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                if !p.ends_with("damaged") {
                    stack.push(p);
                }
            } else if p.extension().is_some_and(|x| x == "pack") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
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
    renkei(
        &primary,
        &[
            "synth",
            "--out",
            region.to_str().expect("utf8"),
            "--patients",
            "30",
            "--seed",
            "11",
        ],
    );
    let (code, root) = std::fs::read_dir(&region)
        .expect("region")
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .max_by_key(|(_, p)| tree(p).len())
        .expect("a facility");
    let files = tree(&root).len();
    assert!(files > 100, "{files} files");

    // The S3 bucket and the replica.
    let s3 = replication::rclone::RcloneS3::start(&tmp.path().join("s3"), "renkei-backup")
        .expect("rclone serve s3");
    std::fs::create_dir_all(&replica).expect("replica folder");
    std::fs::write(
        replica.join("renkei.toml"),
        format!("[replication]\ntoken = \"{TOKEN}\"\n"),
    )
    .expect("replica config");
    let replica_server = Server::start_with(&replica, &["--replica"]);
    // A replica serves replication only.
    assert_eq!(get_with(&replica_server, "/login", "").0, 503);
    assert_eq!(
        get_with(&replica_server, "/api/v1/replication/status", "").0,
        401,
        "the token is required"
    );

    // The primary, shipping to both every second.
    let s3_site = s3.site_config("s3-osaka");
    std::fs::create_dir_all(&primary).expect("primary folder");
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
    let boot = renkei(&primary, &["user", "bootstrap", "--login", "admin"]);
    let admin_secret = boot
        .lines()
        .find_map(|l| l.strip_prefix("secret:"))
        .expect("secret")
        .trim()
        .to_owned();
    let server = Server::start(&primary);
    let admin = api_login(&server, "admin", PASSWORD, &admin_secret, 0);
    let (status, body) = call(
        &server,
        "PUT",
        &format!("/api/v1/facilities/{code}"),
        Some(&admin),
        Some(
            &json!({"name": "石巻テスト病院", "kind": "hospital", "area": "石巻", "discloses": true, "views": true}),
        ),
    );
    assert_eq!(status, 200, "{body}");
    let (status, body) = call(
        &server,
        "POST",
        "/api/v1/users",
        Some(&admin),
        Some(
            &json!({"login": "office", "display_name": "事務局", "profession": "network_operator", "password": PASSWORD}),
        ),
    );
    assert_eq!(status, 200, "{body}");
    let office_secret = body["totp_secret"].as_str().expect("secret").to_owned();
    let office = api_login(&server, "office", PASSWORD, &office_secret, 0);
    let (status, key) = call(
        &server,
        "POST",
        &format!("/api/v1/facilities/{code}/api-keys"),
        Some(&office),
        None,
    );
    assert_eq!(status, 200, "{key}");
    let key_file = tmp.path().join("agent.key");
    std::fs::write(&key_file, key["key"].as_str().expect("key")).expect("key file");
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
    let local_packs = packs_under(&primary.join("blobs"));
    let bucket_packs = packs_under(&s3.bucket_dir());
    assert!(
        local_packs.len() >= 2 && bucket_packs.len() >= 4,
        "{local_packs:?} {bucket_packs:?}"
    );
    damage(&local_packs[0]);
    std::fs::remove_file(&local_packs[1]).expect("delete pack");
    // Other packs in the bucket: each site is damaged on its own, so each has a good copy
    // elsewhere.
    let hit: Vec<_> = local_packs[..2].iter().map(|p| p.file_name()).collect();
    let bucket_packs: Vec<_> = bucket_packs
        .into_iter()
        .filter(|p| !hit.contains(&p.file_name()))
        .collect();
    assert!(bucket_packs.len() >= 2, "{bucket_packs:?}");
    damage(&bucket_packs[bucket_packs.len() - 1]);
    std::fs::remove_file(&bucket_packs[0]).expect("delete object");
    let (ok, report) = renkei_status(&primary, &["verify"]);
    assert!(!ok, "damage must be reported: {report}");
    assert!(
        report.contains("corrupt") && report.contains("missing"),
        "{report}"
    );
    let (ok, report) = renkei_status(&primary, &["verify", "--repair"]);
    assert!(ok, "{report}");
    assert!(report.contains("repaired"), "{report}");
    let (ok, report) = renkei_status(&primary, &["verify"]);
    assert!(ok, "clean after repair: {report}");

    // Restores from the bucket: now, and as of before the change.
    let from_s3 = tmp.path().join("from-s3");
    renkei(
        &primary,
        &[
            "restore",
            "--facility",
            &code,
            "--to",
            from_s3.to_str().expect("utf8"),
            "--from",
            "s3-osaka",
        ],
    );
    assert_same_tree(&root, &from_s3);
    let old_s3 = tmp.path().join("old-s3");
    renkei(
        &primary,
        &[
            "restore",
            "--facility",
            &code,
            "--to",
            old_s3.to_str().expect("utf8"),
            "--from",
            "s3-osaka",
            "--as-of",
            &t1,
        ],
    );
    assert_same_tree(&before, &old_s3);
    // And from the replica, through its replication API.
    let from_replica = tmp.path().join("from-replica");
    renkei(
        &primary,
        &[
            "restore",
            "--facility",
            &code,
            "--to",
            from_replica.to_str().expect("utf8"),
            "--from",
            "dc-tokyo",
        ],
    );
    assert_same_tree(&root, &from_replica);

    // The primary is lost. The replica is promoted and serves; the tree comes back from it.
    drop(server);
    std::fs::remove_dir_all(&primary).expect("lose the primary");
    drop(replica_server);
    let promoted = renkei(&replica, &["promote"]);
    assert!(promoted.contains("now the primary"), "{promoted}");
    let restored = tmp.path().join("restored");
    renkei(
        &replica,
        &[
            "restore",
            "--facility",
            &code,
            "--to",
            restored.to_str().expect("utf8"),
        ],
    );
    assert_same_tree(&root, &restored);
    let restored_old = tmp.path().join("restored-old");
    renkei(
        &replica,
        &[
            "restore",
            "--facility",
            &code,
            "--to",
            restored_old.to_str().expect("utf8"),
            "--as-of",
            &t1,
        ],
    );
    assert_same_tree(&before, &restored_old);
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
}
