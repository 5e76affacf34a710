//! The front door of the real server, probed the way a penetration test of issue 13 did:
//! authentication before any body is read, one error shape for the API, the security headers
//! and `no-store` on every answer, cross-site forms refused, every refusal audited (floods
//! summarised), connections that send nothing closed, and HTTPS with `Secure` cookies.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

/// A data folder (mode 0700, as renkei creates its own) holding `renkei.toml`.
fn data_with_config(tmp: &Path, config: &str) -> std::path::PathBuf {
    use std::os::unix::fs::DirBuilderExt;
    let data = tmp.join("data");
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&data)
        .expect("data folder");
    std::fs::write(data.join("renkei.toml"), config).expect("config");
    data
}

const REPLICATION_TOKEN: &str = "replication-token-for-the-security-test";

fn demo_with(config: &str, patients: u32) -> DemoServer {
    let tmp = tempfile::tempdir().expect("tmp");
    let data = data_with_config(tmp.path(), config);
    DemoServer::start_in(&data, patients, tmp)
}

/// Send a request head announcing a huge body, then only a few bytes of it: the answer must
/// come without the rest being sent (the server refused before reading the body).
fn refused_before_body(server: &Server, head: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    s.write_all(head.as_bytes()).expect("head");
    s.write_all(b"{\"feed\": [").expect("some body");
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    // Read until the end of the head and the JSON body (the server closes or sends it all).
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(10) {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                out.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&out);
                if let Some((_, body)) = text.split_once("\r\n\r\n") {
                    if body.trim_end().ends_with('}') {
                        break;
                    }
                }
            }
            Err(e) => panic!("no answer before the body was sent: {e}"),
        }
    }
    let text = String::from_utf8_lossy(&out).into_owned();
    (
        text.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0),
        text,
    )
}

fn audit_of(server: &Server, office: &str, actor: &str) -> Vec<Value> {
    let (status, body) = call(
        server,
        "GET",
        &format!("/api/v1/audit/users/{}", enc(actor)),
        Some(office),
        None,
    );
    assert_eq!(status, 200, "{body}");
    body.as_array()
        .or_else(|| body["entries"].as_array())
        .cloned()
        .unwrap_or_else(|| panic!("audit answer: {body}"))
}

fn refused_codes(entries: &[Value]) -> Vec<String> {
    entries
        .iter()
        .filter_map(|e| {
            let outcome = e.get("outcome").or_else(|| e["event"].get("outcome"))?;
            outcome["refused"]["code"]
                .as_str()
                .or_else(|| outcome["code"].as_str())
                .map(str::to_owned)
        })
        .collect()
}

#[test]
fn the_front_door_authenticates_first_and_audits_every_refusal() {
    let demo = demo_with(
        &format!("[replication]\ntoken = \"{REPLICATION_TOKEN}\"\n"),
        12,
    );
    let server = &demo.server;
    let host = format!("127.0.0.1:{}", server.port);
    let office = api_login(server, "office", DEMO_PASSWORD, demo.secret("office"), 1);
    let doctor = api_login(server, "doctor", DEMO_PASSWORD, demo.secret("doctor"), 0);

    // --- Bodies are never read before the credential is checked (finding 3) ---------------
    for path in [
        "/api/v1/replication/shipments",
        "/api/v1/replication/repair",
        "/api/v1/replication/contents",
    ] {
        let (status, text) = refused_before_body(
            server,
            &format!(
                "POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer wrong\r\nContent-Type: application/octet-stream\r\nContent-Length: 262144000\r\n\r\n"
            ),
        );
        assert_eq!(status, 401, "{path}: {text}");
        assert!(body(&text).contains("\"error\""), "{text}");
    }
    let (status, text) = refused_before_body(
        server,
        &format!(
            "POST /api/v1/agent/runs HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: 262144000\r\n\r\n"
        ),
    );
    assert_eq!(status, 401, "{text}");
    // A correct token but a body larger than all the memory bodies may hold: refused unread.
    let (status, text) = refused_before_body(
        server,
        &format!(
            "POST /api/v1/replication/shipments HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {REPLICATION_TOKEN}\r\nContent-Type: application/octet-stream\r\nContent-Length: 8589934592\r\n\r\n"
        ),
    );
    assert_eq!(status, 413, "{text}");

    // Authentication is decided before the body is validated (finding 16).
    let (status, answer) = raw(
        server,
        &format!("POST /api/v1/users HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: 4\r\n\r\n{{bad"),
    );
    assert_eq!(status, 401, "{answer}");

    // --- One error shape for the API ----------------------------------------------------
    for (what, request) in [
        (
            "malformed JSON",
            format!("POST /api/v1/users HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nAuthorization: Bearer {office}\r\nContent-Type: application/json\r\nContent-Length: 4\r\n\r\n{{bad"),
        ),
        (
            "JSON of the wrong shape",
            format!("POST /api/v1/users HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nAuthorization: Bearer {office}\r\nContent-Type: application/json\r\nContent-Length: 12\r\n\r\n{{\"login\": 7}}"),
        ),
        (
            "wrong content type",
            format!("POST /api/v1/users HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nAuthorization: Bearer {office}\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\n{{}}"),
        ),
    ] {
        let (status, text) = raw(server, &request);
        assert_eq!(status, 400, "{what}: {text}");
        let v: Value = serde_json::from_str(body(&text))
            .unwrap_or_else(|_| panic!("{what}: not JSON: {text}"));
        assert!(v["error"].as_str().is_some_and(|e| !e.is_empty()), "{what}: {v}");
        assert!(
            text.to_ascii_lowercase().contains("content-type: application/json"),
            "{what}: {text}"
        );
    }
    let (status, v) = call(server, "GET", "/api/v1/no-such-thing", Some(&office), None);
    assert_eq!(status, 404);
    assert!(v["error"].is_string(), "{v}");
    let (status, v) = call(server, "DELETE", "/api/v1/me", Some(&office), None);
    assert_eq!(status, 405);
    assert!(v["error"].is_string(), "{v}");

    // --- Headers on every answer (findings 6 and 14) --------------------------------------
    let rid = demo.consented.clone();
    let office_json = [
        "/api/v1/match-candidates".to_owned(),
        format!("/api/v1/patients/{rid}/links"),
        format!("/api/v1/patients/{rid}/consents"),
        format!("/api/v1/audit/patients/{rid}"),
        "/api/v1/audit/emergency".to_owned(),
        "/api/v1/users".to_owned(),
    ];
    for path in &office_json {
        let r = http(
            server,
            "GET",
            path,
            None,
            None,
            &format!("Authorization: Bearer {office}\r\n"),
        );
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        assert!(r.no_store(), "{path} lacks no-store: {}", r.head);
    }
    let cookie = html_login(server, "doctor", DEMO_PASSWORD, demo.secret("doctor"), 1);
    for path in [
        "/login".to_owned(),
        "/search".to_owned(),
        format!("/patients/{rid}"),
    ] {
        let r = http(server, "GET", &path, Some(&cookie), None, "");
        assert_eq!(r.status, 200, "{path}");
        assert!(r.no_store(), "{path}: {}", r.head);
        let csp = r.header("content-security-policy").unwrap_or_default();
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        assert_eq!(r.header("x-frame-options").as_deref(), Some("DENY"));
        assert_eq!(
            r.header("x-content-type-options").as_deref(),
            Some("nosniff")
        );
        assert_eq!(r.header("referrer-policy").as_deref(), Some("same-origin"));
        assert!(!r.body.contains("javascript:"), "{path}: javascript: URL");
        // The pages themselves obey the policy: no inline script, handler or style.
        for forbidden in [
            "<script>",
            " onsubmit=",
            " onclick=",
            " onfocus=",
            " style=",
            "<style",
        ] {
            assert!(!r.body.contains(forbidden), "{path} has {forbidden}");
        }
    }
    let css = http(server, "GET", "/static/renkei.css", None, None, "");
    assert_eq!(css.status, 200);
    assert!(!css.no_store(), "static assets may be cached");
    assert_eq!(
        css.header("x-content-type-options").as_deref(),
        Some("nosniff")
    );
    let js = http(server, "GET", "/static/renkei.js", None, None, "");
    assert_eq!(js.status, 200);
    assert!(js.body.contains("data-confirm") || js.body.contains("dataset.confirm"));
    // Without TLS the cookie cannot be Secure (the browser would drop it on http://).
    let r = post_login(
        server,
        "nurse",
        DEMO_PASSWORD,
        &totp(demo.secret("nurse"), 0),
    );
    let set_cookie = r.header("set-cookie").unwrap_or_default();
    assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"));
    assert!(!set_cookie.contains("Secure"), "{set_cookie}");

    // --- State changes are POSTs from our own pages only (finding 13) ---------------------
    let evil = "Origin: http://evil.example\r\n";
    let own = format!("Origin: http://{host}\r\n");
    let r = http(
        server,
        "POST",
        "/facility",
        Some(&cookie),
        Some("facility=0410000001"),
        evil,
    );
    assert_eq!(r.status, 403, "cross-site facility switch: {}", r.body);
    let r = http(server, "POST", "/logout", Some(&cookie), Some(""), evil);
    assert_eq!(r.status, 403, "cross-site sign-out");
    let r = http(
        server,
        "POST",
        "/search",
        Some(&cookie),
        Some("q=a"),
        "Sec-Fetch-Site: cross-site\r\n",
    );
    assert_eq!(r.status, 403, "cross-site search post");
    let r = http(server, "GET", "/logout", Some(&cookie), None, "");
    assert_eq!(r.status, 405, "sign-out is not a GET");
    // Still signed in after all that.
    assert_eq!(
        http(server, "GET", "/search", Some(&cookie), None, "").status,
        200
    );
    let r = http(server, "POST", "/logout", Some(&cookie), Some(""), &own);
    assert_eq!(r.status, 303);
    let r = http(server, "GET", "/search", Some(&cookie), None, "");
    assert_eq!(r.status, 303, "signed out: back to the sign-in page");
    assert_eq!(r.location(), "/login");

    // --- Every refusal is audited (finding 8) ---------------------------------------------
    // A facility system's key asking for patients' records or a search.
    let facilities = call(server, "GET", "/api/v1/facilities", Some(&office), None).1;
    let code = facilities[0]["code"].as_str().expect("code").to_owned();
    let admin = api_login(server, "admin", DEMO_PASSWORD, demo.secret("admin"), 1);
    let key = api_key(server, &admin, &code);
    let (status, v) = call(
        server,
        "GET",
        &format!("/api/v1/patients/{rid}/records"),
        Some(&key),
        None,
    );
    assert_eq!(status, 403, "{v}");
    let (status, v) = call(
        server,
        "GET",
        "/api/v1/search?name=%E5%B1%B1%E7%94%B0",
        Some(&key),
        None,
    );
    assert_eq!(status, 403, "{v}");
    let codes = refused_codes(&audit_of(server, &office, &format!("api:{code}")));
    assert!(
        codes.iter().filter(|c| *c == "facility_system").count() >= 2,
        "{codes:?}"
    );
    // A doctor reading the network settings, or acting for a facility not theirs.
    let (status, _) = call(server, "GET", "/api/v1/settings", Some(&doctor), None);
    assert_eq!(status, 403);
    let (status, _) = call(
        server,
        "POST",
        "/api/v1/me/facility",
        Some(&doctor),
        Some(&json!({"facility": "0499999999"})),
    );
    assert_eq!(status, 403);
    let codes = refused_codes(&audit_of(server, &office, "doctor"));
    assert!(codes.contains(&"not_office".to_owned()), "{codes:?}");
    assert!(codes.contains(&"not_at_facility".to_owned()), "{codes:?}");

    // Invalid sessions and API keys: audited, a flood summarised in one entry.
    for _ in 0..40 {
        let (status, v) = call(server, "GET", "/api/v1/me", Some("not-a-session"), None);
        assert_eq!(status, 401, "{v}");
    }
    let (status, _) = call(
        server,
        "GET",
        "/api/v1/me",
        Some("rk_0000000000_bogus"),
        None,
    );
    assert_eq!(status, 401);
    let (status, _) = call(server, "GET", "/api/v1/me", None, None);
    assert_eq!(status, 401);
    let unauth = refused_codes(&audit_of(server, &office, "unauthenticated@127.0.0.1"));
    let invalid_sessions = unauth.iter().filter(|c| *c == "invalid_session").count();
    assert!(
        (1..=2).contains(&invalid_sessions),
        "a flood of 40 is one or two entries: {unauth:?}"
    );
    for expected in [
        "invalid_api_key",
        "no_credential",
        "cross_site_request",
        "invalid_replication_token",
    ] {
        assert!(
            unauth.contains(&expected.to_owned()),
            "{expected}: {unauth:?}"
        );
    }
}

#[test]
fn connections_that_send_nothing_are_closed_and_capped() {
    let tmp = tempfile::tempdir().expect("tmp");
    let data = data_with_config(
        tmp.path(),
        "[server]\nheader_timeout_seconds = 1\nmax_connections = 4\n",
    );
    let server = Server::start(&data);
    let closed_within = |mut s: TcpStream, limit: Duration| -> bool {
        s.set_read_timeout(Some(limit)).expect("timeout");
        let mut buf = [0u8; 1024];
        loop {
            match s.read(&mut buf) {
                Ok(0) => return true,
                Ok(_) => continue,
                Err(_) => return false,
            }
        }
    };
    // Half-open: connected, never a byte.
    let silent = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
    assert!(
        closed_within(silent, Duration::from_secs(5)),
        "a silent connection stays open"
    );
    // Half a request head, never finished.
    let mut slow = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .expect("part");
    assert!(
        closed_within(slow, Duration::from_secs(5)),
        "an unfinished head stays open"
    );
    // A keep-alive connection after its request, idle.
    let mut idle = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("request");
    let mut buf = [0u8; 512];
    let n = idle.read(&mut buf).expect("answer");
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    assert!(
        closed_within(idle, Duration::from_secs(5)),
        "an idle keep-alive stays open"
    );

    // Four silent connections fill the cap: the fifth client waits until the timeout frees
    // a slot, then is served.
    let hogs: Vec<TcpStream> = (0..4)
        .map(|_| TcpStream::connect(("127.0.0.1", server.port)).expect("connect"))
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    let (status, _) = raw(
        &server,
        "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    let waited = started.elapsed();
    assert_eq!(status, 200);
    assert!(
        waited >= Duration::from_millis(500),
        "the fifth connection was served at once ({waited:?}): no cap"
    );
    drop(hogs);
}

/// A TLS client that trusts the test certificate only.
fn https(port: u16, request: &str) -> String {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName};
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(fixtures.join("tls-test-cert.pem")).expect("cert") {
        roots.add(cert.expect("cert")).expect("root");
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = ServerName::try_from("127.0.0.1").expect("name");
    let mut conn =
        rustls::ClientConnection::new(std::sync::Arc::new(config), name).expect("client");
    let mut sock = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let mut tls = rustls::Stream::new(&mut conn, &mut sock);
    tls.write_all(request.as_bytes()).expect("write");
    let mut out = Vec::new();
    let _ = tls.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn https_without_a_proxy_with_secure_cookies() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let cert = fixtures.join("tls-test-cert.pem");
    let key = fixtures.join("tls-test-key.pem");
    let tmp = tempfile::tempdir().expect("tmp");
    let data = data_with_config(tmp.path(), "");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_renkei"))
        .arg("--data")
        .arg(&data)
        .args(["serve", "--demo", "--demo-patients", "8"])
        .arg("--tls-cert")
        .arg(&cert)
        .arg("--tls-key")
        .arg(&key)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    // The demo prints its logins, then the address it serves on.
    let stdout = child.stdout.take().expect("stdout");
    let child = Kill(child);
    let mut office_secret = None;
    let mut serving = String::new();
    for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)) {
        let line = line.expect("line");
        if line.trim_start().starts_with("office ") {
            office_secret = line
                .split("TOTP secret ")
                .nth(1)
                .map(|s| s.trim().to_owned());
        }
        if line.starts_with("renkei is serving") {
            serving = line;
            break;
        }
    }
    assert!(serving.contains("https://"), "{serving}");
    let office_secret = office_secret.expect("office login printed");
    let started = Instant::now();
    loop {
        let text = std::panic::catch_unwind(|| {
            https(
                port,
                "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            )
        });
        if text.is_ok_and(|t| t.starts_with("HTTP/1.1 200")) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no HTTPS answer"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let page = https(
        port,
        "GET /login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(
        page.to_ascii_lowercase()
            .contains("strict-transport-security: max-age="),
        "{page}"
    );
    let form = format!(
        "login=office&password={}&totp={}&facility=",
        enc(DEMO_PASSWORD),
        totp(&office_secret, 1)
    );
    let signed_in = https(
        port,
        &format!(
            "POST /login HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nOrigin: https://127.0.0.1:{port}\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
            form.len()
        ),
    );
    assert!(signed_in.starts_with("HTTP/1.1 303"), "{signed_in}");
    let set_cookie = signed_in
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .unwrap_or_default()
        .to_owned();
    assert!(set_cookie.contains("; Secure"), "{set_cookie}");
    assert!(set_cookie.contains("HttpOnly"), "{set_cookie}");
    // Plain HTTP to the TLS port gets no page.
    let mut plain = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    plain
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    plain
        .write_all(b"GET /login HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("write");
    let mut out = Vec::new();
    let _ = plain.read_to_end(&mut out);
    assert!(!String::from_utf8_lossy(&out).contains("HTTP/1.1 200"));
    drop(child);
}
