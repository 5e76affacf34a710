//! The facility agent's endpoints through the real `renkei serve`, with raw HTTP: a facility
//! API key sends a synthetic facility's tree in batches; users, other facilities' keys and
//! oversized batches are refused.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::{json, Value};

use common::{api_login, call, Server};
use common::{renkei, PASSWORD};

/// POST a binary body (`Content-Length` may claim more than is sent): (status, body as JSON).
fn post_bytes(
    server: &Server,
    path: &str,
    token: &str,
    body: &[u8],
    length: usize,
) -> (u16, Value) {
    let mut s = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nAuthorization: Bearer {token}\r\nContent-Type: {}\r\nContent-Length: {length}\r\n\r\n",
        upload::BATCH_CONTENT_TYPE
    );
    s.write_all(head.as_bytes()).expect("head");
    let _ = s.write_all(body);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = common::body(&text);
    (
        status,
        serde_json::from_str(body).unwrap_or(Value::String(body.to_owned())),
    )
}

#[test]
fn a_facility_key_uploads_its_tree_and_nobody_else_can() {
    let tmp = tempfile::tempdir().expect("tmp");
    let region = tmp.path().join("region");
    let data = tmp.path().join("data");
    let region_s = region.to_str().expect("utf8");
    renkei(
        &data,
        &[
            "synth",
            "--out",
            region_s,
            "--patients",
            "10",
            "--seed",
            "5",
        ],
    );
    let boot = renkei(&data, &["user", "bootstrap", "--login", "admin"]);
    let secret = boot
        .lines()
        .find_map(|l| l.strip_prefix("secret:"))
        .expect("secret")
        .trim()
        .to_owned();
    let mut codes: Vec<String> = std::fs::read_dir(&region)
        .expect("region")
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    codes.sort();
    assert!(codes.len() >= 2);
    let server = Server::start(&data);
    let admin = api_login(&server, "admin", PASSWORD, &secret, 0);
    let mut keys = Vec::new();
    for code in &codes[..2] {
        let (status, body) = call(
            &server,
            "PUT",
            &format!("/api/v1/facilities/{code}"),
            Some(&admin),
            Some(
                &json!({"name": "施設", "kind": "hospital", "area": "仙台", "discloses": true, "views": true}),
            ),
        );
        assert_eq!(status, 200, "{body}");
        let (status, key) = call(
            &server,
            "POST",
            &format!("/api/v1/facilities/{code}/api-keys"),
            Some(&admin),
            None,
        );
        assert_eq!(status, 200, "{key}");
        keys.push(key["key"].as_str().expect("key").to_owned());
    }
    let (code, key, other_key) = (&codes[0], keys[0].as_str(), keys[1].as_str());
    let tree = region.join(code);
    let files: Vec<upload::BatchFile> = ingest::list_tree(&tree)
        .expect("list")
        .into_iter()
        .map(|path| {
            let bytes = std::fs::read(tree.join(&path)).expect("read");
            upload::BatchFile {
                sha256: upload::sha256_hex(&bytes),
                path,
                bytes,
            }
        })
        .collect();
    let check: Value = json!({"files": files.iter().map(|f| json!({
        "path": f.path, "sha256": f.sha256, "size": f.bytes.len()})).collect::<Vec<_>>()});

    // No key, a user's session: refused.
    let start = json!({"agent": "e2e 0.1", "full_scan": true});
    assert_eq!(
        call(&server, "POST", "/api/v1/agent/runs", None, Some(&start)).0,
        401
    );
    assert_eq!(
        call(
            &server,
            "POST",
            "/api/v1/agent/runs",
            Some(&admin),
            Some(&start)
        )
        .0,
        403
    );

    let (status, started) = call(
        &server,
        "POST",
        "/api/v1/agent/runs",
        Some(key),
        Some(&start),
    );
    assert_eq!(status, 200, "{started}");
    assert_eq!(started["facility"], code.as_str());
    let run = started["run_id"].as_i64().expect("run id");

    let (status, answer) = call(
        &server,
        "POST",
        "/api/v1/agent/check",
        Some(key),
        Some(&check),
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["missing"].as_array().expect("missing").len(),
        files.len()
    );
    let (status, answer) = call(
        &server,
        "POST",
        "/api/v1/agent/check",
        Some(key),
        Some(&json!({"files": [{"path": "../x", "sha256": "00", "size": 1}]})),
    );
    assert_eq!(status, 400);
    assert!(
        answer["error"].as_str().expect("error").contains("../x"),
        "{answer}"
    );

    let batch = upload::encode_batch(&files);
    let path = format!("/api/v1/agent/runs/{run}/files");
    // Another facility's key: the run is not theirs.
    assert_eq!(
        post_bytes(&server, &path, other_key, &batch, batch.len()).0,
        404
    );
    // A corrupted batch: 400 naming the entry, nothing stored.
    let mut bad = batch.clone();
    let last = bad.len() - 1;
    bad[last] ^= 0x55;
    let (status, answer) = post_bytes(&server, &path, key, &bad, bad.len());
    assert_eq!(status, 400, "{answer}");
    assert!(answer["error"]
        .as_str()
        .expect("error")
        .contains("batch entry"));

    let (status, answer) = post_bytes(&server, &path, key, &batch, batch.len());
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["stored"], files.len());
    assert_eq!(answer["already_current"], 0);
    let (status, answer) = post_bytes(&server, &path, key, &batch, batch.len());
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["stored"], 0);
    assert_eq!(answer["already_current"], files.len());
    let (_, answer) = call(
        &server,
        "POST",
        "/api/v1/agent/check",
        Some(key),
        Some(&check),
    );
    assert_eq!(answer["missing"], json!([]));

    // Over the limit: refused before the body is read.
    let (status, _) = post_bytes(&server, &path, key, b"", upload::MAX_BATCH_BYTES + 1);
    assert_eq!(status, 413);

    let (status, answer) = call(
        &server,
        "POST",
        &format!("/api/v1/agent/runs/{run}/finish"),
        Some(key),
        Some(&json!({"removed": [files[0].path]})),
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["removed"], 1);
    let (_, answer) = call(
        &server,
        "POST",
        "/api/v1/agent/check",
        Some(key),
        Some(&check),
    );
    assert_eq!(answer["missing"], json!([files[0].path]));
}
