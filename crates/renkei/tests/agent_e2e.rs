//! The facility agent end to end against the real `renkei serve`: a synthetic facility is
//! uploaded with its API key, the agent is killed (`kill -9`) mid-upload and rerun, then a
//! file is modified, one deleted and one added; each time `renkei export` of the facility
//! must equal the facility's tree byte for byte, with no duplicate versions.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use common::{agent_status, number, renkei, tree, PASSWORD};
use common::{api_login, call, Server};

fn agent_args<'a>(server: &'a str, root: &'a str, state: &'a str, key: &'a str) -> Vec<&'a str> {
    vec![
        "agent",
        "run",
        "--server",
        server,
        "--root",
        root,
        "--state",
        state,
        "--key-file",
        key,
    ]
}

/// `renkei agent run … --once`: its summary line.
fn agent_once(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_renkei"))
        .args(args)
        .arg("--once")
        .env_remove("RENKEI_AGENT_KEY")
        .output()
        .expect("run agent");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "agent: {stdout}\n{stderr}");
    assert!(
        !stderr.contains("rk_"),
        "the key is never printed: {stderr}"
    );
    stdout
}

/// A `renkei stats` line's number.
fn stat(stats: &str, label: &str) -> u64 {
    stats
        .lines()
        .find_map(|l| l.strip_prefix(label))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no {label:?} in {stats}"))
}

/// `renkei export` of the facility (server stopped: it holds the data folder) equals `root`.
fn assert_export_equals(data: &Path, code: &str, root: &Path, to: &Path) {
    renkei(
        data,
        &[
            "export",
            "--facility",
            code,
            "--to",
            to.to_str().expect("utf8"),
        ],
    );
    let (want, got) = (tree(root), tree(to));
    let missing: Vec<&String> = want.keys().filter(|k| !got.contains_key(*k)).collect();
    let extra: Vec<&String> = got.keys().filter(|k| !want.contains_key(*k)).collect();
    let differ: Vec<&String> = want
        .iter()
        .filter(|(k, v)| got.get(*k).is_some_and(|g| g != *v))
        .map(|(k, _)| k)
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty() && differ.is_empty(),
        "export differs: missing {missing:?}, extra {extra:?}, different {differ:?}"
    );
}

#[test]
fn the_agent_uploads_resumes_after_kill_and_sends_only_changes() {
    let tmp = tempfile::tempdir().expect("tmp");
    let region = tmp.path().join("region");
    let data = tmp.path().join("data");
    renkei(
        &data,
        &[
            "synth",
            "--out",
            region.to_str().expect("utf8"),
            "--patients",
            "20",
            "--seed",
            "3",
        ],
    );
    // The facility with the most files.
    let (code, root) = std::fs::read_dir(&region)
        .expect("region")
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .max_by_key(|(_, p)| tree(p).len())
        .expect("a facility");
    let files = tree(&root).len() as u64;
    assert!(files > 100, "{files} files");

    let boot = renkei(&data, &["user", "bootstrap", "--login", "admin"]);
    let admin_secret = boot
        .lines()
        .find_map(|l| l.strip_prefix("secret:"))
        .expect("secret")
        .trim()
        .to_owned();
    let mut server = Server::start(&data);
    let admin = api_login(&server, "admin", PASSWORD, &admin_secret, 0);
    let (status, body) = call(
        &server,
        "PUT",
        &format!("/api/v1/facilities/{code}"),
        Some(&admin),
        Some(
            &json!({"name": "仙台テスト病院", "kind": "hospital", "area": "仙台", "discloses": true, "views": true}),
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

    let state = tmp.path().join("state");
    let url = server.url();
    let (root_s, state_s, key_s) = (
        root.to_str().expect("utf8").to_owned(),
        state.to_str().expect("utf8").to_owned(),
        key_file.to_str().expect("utf8").to_owned(),
    );
    let args = agent_args(&url, &root_s, &state_s, &key_s);
    let status_of = || agent_status(&state);

    // 1. A slow first run (small batches, 300 kB/s), killed once a batch is acknowledged.
    let mut slow = Command::new(env!("CARGO_BIN_EXE_renkei"))
        .args(&args)
        .args(["--once", "--batch-files", "25", "--limit-kbps", "300"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("agent");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let s = status_of();
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
    let s = status_of();
    let sent_before = number(&s, "sent");
    assert!(number(&s, "pending") > 0, "killed mid-upload: {s}");
    assert_eq!(number(&s, "known"), files, "{s}");

    // 2. The rerun completes; nothing is sent twice.
    let summary = agent_once(&args);
    assert_eq!(
        number(&summary, "sent") + number(&summary, "held"),
        files - sent_before,
        "{summary}"
    );
    let s = status_of();
    assert_eq!(
        (number(&s, "sent"), number(&s, "pending")),
        (files, 0),
        "{s}"
    );
    // A further run has nothing to do.
    let summary = agent_once(&args);
    assert_eq!(
        (
            number(&summary, "hashed"),
            number(&summary, "sent"),
            number(&summary, "removed")
        ),
        (0, 0, 0),
        "{summary}"
    );
    drop(server);
    assert_export_equals(&data, &code, &root, &tmp.path().join("export1"));
    let stats = renkei(&data, &["stats"]);
    assert_eq!(stat(&stats, "files (current)"), files, "{stats}");
    assert_eq!(
        stat(&stats, "file versions"),
        files,
        "no duplicates: {stats}"
    );

    // 3. One file modified, one deleted, one added: exactly those travel.
    let all: Vec<String> = tree(&root).into_keys().collect();
    let (changed, deleted) = (&all[0], &all[all.len() - 1]);
    let mut bytes = std::fs::read(root.join(changed)).expect("read");
    bytes.extend_from_slice(b"NTE|1||amended by the agent test\r");
    std::fs::write(root.join(changed), bytes).expect("modify");
    std::fs::remove_file(root.join(deleted)).expect("delete");
    let added = {
        let mut parts: Vec<&str> = changed.split('/').collect();
        let last = parts.pop().expect("name");
        format!("{}/{last}_added", parts.join("/"))
    };
    std::fs::copy(root.join(changed), root.join(&added)).expect("add");
    server = Server::start(&data);
    let url = server.url();
    let args = agent_args(&url, &root_s, &state_s, &key_s);
    let summary = agent_once(&args);
    assert_eq!(
        (
            number(&summary, "sent"),
            number(&summary, "removed"),
            number(&summary, "new"),
            number(&summary, "changed")
        ),
        (2, 1, 1, 1),
        "{summary}"
    );
    let s = status_of();
    assert_eq!(
        (number(&s, "known"), number(&s, "pending")),
        (files, 0),
        "{s}"
    );
    drop(server);
    assert_export_equals(&data, &code, &root, &tmp.path().join("export2"));
    let stats = renkei(&data, &["stats"]);
    // A version for the modified file, one for the added one, one recording the removal.
    assert_eq!(stat(&stats, "file versions"), files + 3, "{stats}");
}
