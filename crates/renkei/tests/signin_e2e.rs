//! Sign-in and data-at-rest security with the real binary: a data folder other users can read
//! is refused, TOTP secrets are encrypted in the database with a key kept in a private file
//! and can be re-keyed, and failed sign-ins are counted per client address through the real
//! HTTP server.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{api_login, bootstrap_admin, call, renkei, Server, PASSWORD};

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o777
}

/// `renkei --data <data> <args>`: (success, stdout + stderr), killed if it runs 60 s.
fn run(data: &Path, args: &[&str]) -> (bool, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_renkei"))
        .arg("--data")
        .arg(data)
        .args(args)
        .env("RENKEI_NEW_PASSWORD", PASSWORD)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("renkei");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("renkei {args:?} is still running: it should have refused to start");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("output");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Finding 13.5: the data folder was 0755 and its files 0644. renkei now creates it 0700
/// with 0600 files, and refuses — with the fix — to serve from a folder others can read.
#[test]
fn a_data_folder_other_users_can_read_is_refused() {
    let tmp = tempfile::tempdir().expect("tmp");
    let data = tmp.path().join("data");
    std::fs::create_dir(&data).expect("mkdir");
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    for args in [
        &["serve", "--listen", "127.0.0.1:0"][..],
        &["stats"][..],
        &["user", "bootstrap", "--login", "admin"][..],
    ] {
        let (ok, text) = run(&data, args);
        assert!(!ok, "renkei {args:?} ran on a 0755 data folder: {text}");
        assert!(
            text.contains(&format!("chmod -R go-rwx {}", data.display()))
                && text.contains("0755")
                && text.contains("他の利用者"),
            "renkei {args:?}: {text}"
        );
    }
    assert!(
        !data.join("renkei.db").exists(),
        "nothing was written into the folder"
    );

    // With the fix applied, the same folder is used, and what renkei writes is private.
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    bootstrap_admin(&data);
    for f in ["renkei.db", "secret.key"] {
        assert_eq!(mode(&data.join(f)), 0o600, "{f}");
    }
    // A fresh data folder is created private.
    let fresh = tmp.path().join("fresh");
    let (ok, text) = run(&fresh, &["stats"]);
    assert!(ok, "{text}");
    assert_eq!(mode(&fresh), 0o700);
}

/// Finding 13.5: TOTP secrets were stored in plain text. They are now encrypted with a key
/// that lives in a private key file, and `renkei secrets rotate` re-encrypts them with a new
/// key; sign-in keeps working throughout.
#[test]
fn totp_secrets_are_encrypted_and_the_key_rotates() {
    let tmp = tempfile::tempdir().expect("tmp");
    let data = tmp.path().join("data");
    let secret = bootstrap_admin(&data);
    let key_file = data.join("secret.key");
    assert_eq!(mode(&key_file), 0o600);
    let first_key = std::fs::read_to_string(&key_file).expect("key");
    // Neither the database nor its log holds the secret in plain text.
    for f in ["renkei.db", "renkei.db-wal"] {
        let path = data.join(f);
        if path.exists() {
            let bytes = std::fs::read(&path).expect("db");
            let text = String::from_utf8_lossy(&bytes);
            assert!(
                !text.contains(&secret),
                "{f} holds the TOTP secret in plain text"
            );
        }
    }

    let rotated = renkei(&data, &["secrets", "rotate"]);
    assert!(rotated.contains("1 re-encrypted"), "{rotated}");
    let second_key = std::fs::read_to_string(&key_file).expect("key");
    assert_ne!(first_key, second_key);
    assert_eq!(mode(&key_file), 0o600);
    let old_key = first_key
        .lines()
        .find(|l| !l.starts_with('#') && !l.trim().is_empty())
        .expect("key line");
    assert!(!second_key.contains(old_key), "the old key was dropped");

    let server = Server::start(&data);
    api_login(&server, "admin", PASSWORD, &secret, 0);
    drop(server);

    // Without the key, the secrets cannot be read: sign-in fails, and says why to the
    // operator rather than to the user.
    std::fs::rename(&key_file, tmp.path().join("moved.key")).expect("move key");
    let (ok, text) = run(&data, &["secrets", "rotate"]);
    assert!(!ok && text.contains("no secret key"), "{text}");
    // Kept elsewhere and named in renkei.toml, it is found again.
    std::fs::write(
        data.join("renkei.toml"),
        format!(
            "[secrets]\nkey_file = \"{}\"\n",
            tmp.path().join("moved.key").display()
        ),
    )
    .expect("config");
    let server = Server::start(&data);
    api_login(&server, "admin", PASSWORD, &secret, 1);
    assert!(!key_file.exists(), "no new key was made in the data folder");
}

/// Findings 13.1: failures are also counted per client address, which the real server takes
/// from the TCP connection: after the address's limit, even the right password is refused
/// from that address.
#[test]
fn failed_sign_ins_are_counted_per_client_address() {
    let tmp = tempfile::tempdir().expect("tmp");
    let data = tmp.path().join("data");
    let secret = bootstrap_admin(&data);
    std::fs::write(
        data.join("renkei.toml"),
        "[sign_in]\naddress_max_failures = 3\n",
    )
    .expect("config");
    let server = Server::start(&data);
    // Three wrong guesses at three different logins: no login reaches its own limit …
    for login in ["alice", "bob", "admin"] {
        let (status, body) = call(
            &server,
            "POST",
            "/api/v1/login",
            None,
            Some(
                &serde_json::json!({"login": login, "password": "Summer-2025-guess", "totp": "000000"}),
            ),
        );
        assert_eq!(status, 401, "{body}");
    }
    // … but this address has: the administrator's right password and code are refused.
    let (status, body) = call(
        &server,
        "POST",
        "/api/v1/login",
        None,
        Some(&serde_json::json!({
            "login": "admin",
            "password": PASSWORD,
            "totp": common::totp(&secret, 0)
        })),
    );
    assert_eq!(status, 401, "{body}");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("network address")),
        "{body}"
    );
}
