//! The access rules end to end through the HTTP API of the real `renkei serve`: sign-in with
//! password + TOTP, enrolment from match candidates, consent, allowed and refused access with
//! reasons, withdrawal, and a verified audit chain.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const PASSWORD: &str = "Kx7#mPq2vLw9-renkei";

fn renkei(data: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_renkei"))
        .arg("--data")
        .arg(data)
        .args(args)
        .env("RENKEI_NEW_PASSWORD", PASSWORD)
        .output()
        .expect("run renkei");
    assert!(
        out.status.success(),
        "renkei {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(data: &Path) -> Server {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port();
    let child = Command::new(env!("CARGO_BIN_EXE_renkei"))
        .arg("--data")
        .arg(data)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve");
    let server = Server { child, port };
    let deadline = Instant::now() + Duration::from_secs(30);
    while call(&server, "GET", "/healthz", None, None).0 != 200 {
        assert!(Instant::now() < deadline, "server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    server
}

/// A raw request (form posts, cookies): returns the status line's code and the whole response.
fn raw(server: &Server, request: &str) -> (u16, String) {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", server.port)) else {
        return (0, String::new());
    };
    let _ = s.write_all(request.as_bytes());
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    (
        text.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0),
        text,
    )
}

/// A minimal HTTP/1.1 client: one request per connection.
fn call(
    server: &Server,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> (u16, Value) {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", server.port)) else {
        return (0, Value::Null);
    };
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    if s.write_all(req.as_bytes()).is_err() {
        return (0, Value::Null);
    }
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    (
        status,
        serde_json::from_str(body).unwrap_or(Value::String(body.to_owned())),
    )
}

fn totp(secret: &str, step: i64) -> String {
    let s = auth::TotpSecret::from_base32(secret).expect("secret");
    s.code_at(model::UnixTime::now().plus_seconds(30 * step))
}

fn login(server: &Server, user: &str, secret: &str, step: i64) -> String {
    let (status, body) = call(
        server,
        "POST",
        "/api/v1/login",
        None,
        Some(&json!({ "login": user, "password": PASSWORD, "totp": totp(secret, step) })),
    );
    assert_eq!(status, 200, "login {user}: {body}");
    body["token"].as_str().expect("token").to_owned()
}

#[test]
fn access_is_allowed_and_refused_exactly_as_the_consent_says() {
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
            "10",
            "--seed",
            "3",
        ],
    );
    renkei(
        &data,
        &["import", "--region", region.to_str().expect("utf8")],
    );
    let boot = renkei(&data, &["user", "bootstrap", "--login", "admin"]);
    let admin_secret = boot
        .lines()
        .find_map(|l| l.strip_prefix("secret:"))
        .expect("secret")
        .trim()
        .to_owned();
    let server = start(&data);

    // Wrong TOTP and no credentials are refused.
    let (status, body) = call(
        &server,
        "POST",
        "/api/v1/login",
        None,
        Some(&json!({"login": "admin", "password": PASSWORD, "totp": "000000"})),
    );
    assert_eq!(status, 401, "{body}");
    let (status, _) = call(&server, "GET", "/api/v1/facilities", None, None);
    assert_eq!(status, 401);

    let admin = login(&server, "admin", &admin_secret, 0);
    let codes: Vec<String> = std::fs::read_dir(&region)
        .expect("region")
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    for code in &codes {
        let (status, body) = call(
            &server,
            "PUT",
            &format!("/api/v1/facilities/{code}"),
            Some(&admin),
            Some(
                &json!({"name": format!("施設{code}"), "kind": "hospital", "area": "仙台", "discloses": true, "views": true}),
            ),
        );
        assert_eq!(status, 200, "{body}");
    }
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
    // Weak passwords are refused with the reason.
    let (status, body) = call(
        &server,
        "POST",
        "/api/v1/users",
        Some(&admin),
        Some(
            &json!({"login": "weak", "display_name": "x", "profession": "nurse", "password": "password"}),
        ),
    );
    assert_eq!(status, 400);
    assert!(
        body["error"].as_str().unwrap_or("").contains("12"),
        "{body}"
    );

    let office = login(&server, "office", &office_secret, 0);
    let (status, candidates) = call(
        &server,
        "GET",
        "/api/v1/match-candidates",
        Some(&office),
        None,
    );
    assert_eq!(status, 200);
    let best = &candidates[0];
    assert!(
        best["parts"].as_array().is_some_and(|p| !p.is_empty()),
        "scores are explained: {best}"
    );
    let (a, b) = (best["a"].clone(), best["b"].clone());
    let (a_fac, b_fac) = (
        a["facility"].as_str().expect("fac").to_owned(),
        b["facility"].as_str().expect("fac").to_owned(),
    );

    let (status, body) = call(
        &server,
        "POST",
        "/api/v1/patients",
        Some(&office),
        Some(&json!({"locals": [a, b]})),
    );
    assert_eq!(status, 200, "{body}");
    let rid = body["regional_id"].as_str().expect("rid").to_owned();

    let (status, body) = call(
        &server,
        "POST",
        "/api/v1/users",
        Some(&admin),
        Some(
            &json!({"login": "dr", "display_name": "医師", "profession": "doctor", "facilities": [b_fac], "password": PASSWORD}),
        ),
    );
    assert_eq!(status, 200, "{body}");
    let dr_secret = body["totp_secret"].as_str().expect("secret").to_owned();
    let dr = login(&server, "dr", &dr_secret, 0);
    let records = format!("/api/v1/patients/{rid}/records");

    // No consent: nothing, with the reason.
    let (status, body) = call(&server, "GET", &records, Some(&dr), None);
    assert_eq!(status, 200, "{body}");
    assert!(body["allowed"].as_array().expect("allowed").is_empty());
    assert!(
        body["refused"]
            .as_array()
            .expect("refused")
            .iter()
            .all(|r| r["code"] == "no_consent"),
        "{body}"
    );

    // A doctor cannot enrol; a malformed ID is a 400; unauthenticated is a 401.
    assert_eq!(
        call(
            &server,
            "POST",
            "/api/v1/patients",
            Some(&dr),
            Some(&json!({"locals": []}))
        )
        .0,
        403
    );
    assert_eq!(
        call(
            &server,
            "GET",
            "/api/v1/patients/123/records",
            Some(&dr),
            None
        )
        .0,
        400
    );
    assert_eq!(call(&server, "GET", &records, None, None).0, 401);

    // Consent: A discloses, B views.
    let (status, consent) = call(
        &server,
        "POST",
        "/api/v1/consents",
        Some(&office),
        Some(&json!({
            "regional_id": rid,
            "scope": {"mode": "selected_facilities", "disclosing": [a_fac], "viewing": [b_fac]},
            "valid_from": "2024-01-01",
            "paper_form": "同意書-0001"
        })),
    );
    assert_eq!(status, 200, "{consent}");
    let (status, body) = call(&server, "GET", &records, Some(&dr), None);
    assert_eq!(status, 200);
    let allowed = body["allowed"].as_array().expect("allowed");
    assert!(!allowed.is_empty(), "{body}");
    assert!(allowed.iter().all(|r| r["source"] == a_fac.as_str()));
    assert!(body["refused"]
        .as_array()
        .expect("refused")
        .iter()
        .all(|r| r["source"] == b_fac.as_str() && r["code"] == "disclosing_facility_not_selected"));

    // Withdrawal: refused at once.
    let id = consent["id"].as_i64().expect("id");
    assert_eq!(
        call(
            &server,
            "POST",
            &format!("/api/v1/consents/{id}/withdraw"),
            Some(&office),
            None
        )
        .0,
        200
    );
    let (_, body) = call(&server, "GET", &records, Some(&dr), None);
    assert!(body["allowed"].as_array().expect("allowed").is_empty());
    assert!(
        body["refused"]
            .as_array()
            .expect("refused")
            .iter()
            .all(|r| r["code"] == "consent_withdrawn"),
        "{body}"
    );

    // A facility system's API key: shown once, identifies the facility, reads no records.
    let (status, key) = call(
        &server,
        "POST",
        &format!("/api/v1/facilities/{a_fac}/api-keys"),
        Some(&office),
        None,
    );
    assert_eq!(status, 200, "{key}");
    let key = key["key"].as_str().expect("key").to_owned();
    assert!(key.starts_with(&format!("rk_{a_fac}_")));
    let (status, me) = call(&server, "GET", "/api/v1/me", Some(&key), None);
    assert_eq!(status, 200);
    assert_eq!(me["facility_system"], a_fac.as_str());
    assert_eq!(call(&server, "GET", &records, Some(&key), None).0, 403);
    let mut forged = key.clone();
    forged.pop();
    forged.push(if key.ends_with('a') { 'b' } else { 'a' });
    assert_eq!(
        call(&server, "GET", "/api/v1/me", Some(&forged), None).0,
        401
    );
    assert_eq!(
        call(
            &server,
            "POST",
            &format!("/api/v1/facilities/{a_fac}/api-keys"),
            Some(&dr),
            None
        )
        .0,
        403
    );

    // The same through the HTML pages: sign-in form, session cookie, the refusal reasons shown.
    let (status, resp) = raw(
        &server,
        "GET /patients HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 303, "no session: back to the sign-in page");
    assert!(resp.contains("location: /login") || resp.contains("Location: /login"));
    let form = format!(
        "login=dr&password={}&totp={}&facility=",
        PASSWORD.replace('#', "%23"),
        totp(&dr_secret, 1)
    );
    let (status, resp) = raw(
        &server,
        &format!(
            "POST /login HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
            form.len()
        ),
    );
    assert_eq!(status, 303, "{resp}");
    let cookie = resp
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .starts_with("set-cookie:")
                .then(|| l[11..].trim().split(';').next().unwrap_or("").to_owned())
        })
        .expect("session cookie");
    // The old address moves to the patient's page, purpose kept.
    let (status, resp) = raw(
        &server,
        &format!("GET /patients?id={rid}&purpose=care HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: {cookie}\r\n\r\n"),
    );
    assert_eq!(status, 303, "{resp}");
    assert!(resp
        .to_ascii_lowercase()
        .contains(&format!("location: /patients/{rid}")));
    let (status, page) = raw(
        &server,
        &format!("GET /patients/{rid}/timeline HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: {cookie}\r\n\r\n"),
    );
    assert_eq!(status, 200);
    assert!(page.contains("no-store"), "patient pages are not cached");
    assert!(
        page.contains("同意は撤回されています"),
        "the refusal reason is shown"
    );

    // The audit chain holds every act and verifies; who saw the patient includes the doctor.
    let (status, body) = call(&server, "GET", "/api/v1/audit/verify", Some(&office), None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ok"], true);
    let (_, saw) = call(
        &server,
        "GET",
        &format!("/api/v1/audit/patients/{rid}"),
        Some(&office),
        None,
    );
    assert!(saw
        .as_array()
        .expect("entries")
        .iter()
        .any(|e| e["event"]["actor"] == "dr"));
    // Imports run on the data folder are audited under the operating-system account.
    let who = std::env::var("SUDO_USER")
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_else(|_| "unknown".into());
    let (_, imports) = call(
        &server,
        "GET",
        &format!("/api/v1/audit/users/local:{who}"),
        Some(&office),
        None,
    );
    assert!(
        imports
            .as_array()
            .is_some_and(|e| e.iter().any(|e| e["event"]["action"] == "import")),
        "{imports}"
    );
    // Clinicians cannot read the audit log.
    assert_eq!(
        call(&server, "GET", "/api/v1/audit/verify", Some(&dr), None).0,
        403
    );
}

/// `renkei serve --demo` gives a working network in one command: printed logins work, a
/// consented patient opens, a non-consenting one is refused with the reason.
#[test]
fn demo_prints_working_logins() {
    use std::io::BufRead;
    let tmp = tempfile::tempdir().expect("tmp");
    let data = tmp.path().join("data");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_renkei"))
        .arg("--data")
        .arg(&data)
        .args([
            "serve",
            "--demo",
            "--demo-patients",
            "12",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve --demo");
    let stdout = child.stdout.take().expect("stdout");
    let server = Server { child, port };
    let mut lines = Vec::new();
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line.expect("line");
        let done = line.starts_with("renkei is serving");
        lines.push(line);
        if done {
            break;
        }
    }
    let text = lines.join("\n");
    let secret_of = |login: &str| {
        lines
            .iter()
            .find(|l| l.trim_start().starts_with(&format!("{login} ")))
            .and_then(|l| l.split("TOTP secret ").nth(1))
            .map(|s| s.trim().to_owned())
            .unwrap_or_else(|| panic!("no demo login {login} in:\n{text}"))
    };
    let ids: Vec<String> = lines
        .iter()
        .find(|l| l.contains("try regional ID"))
        .map(|l| {
            l.split_whitespace()
                .filter(|w| w.len() == 16 && w.bytes().all(|b| b.is_ascii_digit()))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(ids.len(), 2, "{text}");
    while call(&server, "GET", "/healthz", None, None).0 != 200 {
        std::thread::sleep(Duration::from_millis(50));
    }
    let (status, body) = call(
        &server,
        "POST",
        "/api/v1/login",
        None,
        Some(
            &json!({"login": "doctor", "password": "renkei-Demo-2026", "totp": totp(&secret_of("doctor"), 0)}),
        ),
    );
    assert_eq!(status, 200, "{body}");
    let token = body["token"].as_str().expect("token").to_owned();
    let (_, open) = call(
        &server,
        "GET",
        &format!("/api/v1/patients/{}/records", ids[0]),
        Some(&token),
        None,
    );
    assert!(
        !open["allowed"].as_array().expect("allowed").is_empty(),
        "{open}"
    );
    let (_, closed) = call(
        &server,
        "GET",
        &format!("/api/v1/patients/{}/records", ids[1]),
        Some(&token),
        None,
    );
    assert!(closed["allowed"].as_array().expect("allowed").is_empty());
    assert!(
        closed["refused"]
            .as_array()
            .expect("refused")
            .iter()
            .all(|r| r["code"] == "no_consent"),
        "{closed}"
    );
}
