//! The clinician's patient screens through HTTP of the real `renkei serve --demo`: the demo
//! doctor signs in with password + TOTP (secret read from the demo's printed logins), opens
//! a consenting patient's summary (allergies on top), lab matrix, one trend chart (full page
//! and htmx fragment) and medications; a patient without consent gets the refusal with its
//! reason and no clinical data, and the doctor is offered break-the-glass. Every page is
//! `Cache-Control: no-store`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

const PASSWORD: &str = "renkei-Demo-2026";

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

/// What the demo prints: TOTP secrets per login and two regional IDs.
struct Demo {
    doctor_secret: String,
    consented: String,
    refused: String,
}

fn read_demo(out: ChildStdout) -> Demo {
    let mut doctor_secret = None;
    let mut ids = None;
    for line in BufReader::new(out).lines() {
        let line = line.expect("stdout");
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.first() == Some(&"doctor") {
            doctor_secret = words.last().map(|s| s.to_string());
        }
        if let Some(rest) = line.trim().strip_prefix("try regional ID ") {
            // `try regional ID <a> (consented) and <b> (no consent)`
            let w: Vec<&str> = rest.split_whitespace().collect();
            ids = Some((w[0].to_owned(), w[3].to_owned()));
        }
        if line.starts_with("renkei is serving") {
            break;
        }
    }
    let (consented, refused) = ids.expect("demo regional IDs printed");
    Demo {
        doctor_secret: doctor_secret.expect("doctor TOTP secret printed"),
        consented,
        refused,
    }
}

fn start(data: &std::path::Path) -> (Server, Demo) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_renkei"))
        .arg("--data")
        .arg(data)
        .args([
            "serve",
            "--demo",
            "--demo-patients",
            "30",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve");
    let out = child.stdout.take().expect("stdout");
    let server = Server { child, port };
    let demo = read_demo(out);
    let deadline = Instant::now() + Duration::from_secs(60);
    while get(&server, "/healthz", None, &[]).0 != 200 {
        assert!(Instant::now() < deadline, "server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    (server, demo)
}

/// One raw HTTP/1.1 request: (status, headers as sent, body).
fn request(server: &Server, req: &str) -> (u16, String, String) {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", server.port)) else {
        return (0, String::new(), String::new());
    };
    let _ = s.write_all(req.as_bytes());
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (status, head.to_owned(), body.to_owned())
}

fn get(
    server: &Server,
    path: &str,
    cookie: Option<&str>,
    extra: &[(&str, &str)],
) -> (u16, String, String) {
    let cookie = cookie
        .map(|c| format!("Cookie: {c}\r\n"))
        .unwrap_or_default();
    let extra: String = extra.iter().map(|(k, v)| format!("{k}: {v}\r\n")).collect();
    request(
        server,
        &format!(
            "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n{cookie}{extra}\r\n"
        ),
    )
}

fn form_encode(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            let v: String = v
                .bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                        (b as char).to_string()
                    }
                    _ => format!("%{b:02X}"),
                })
                .collect();
            format!("{k}={v}")
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Sign in through the HTML form; returns the session cookie (`name=value`).
fn sign_in(server: &Server, login: &str, secret: &str) -> String {
    let s = auth::TotpSecret::from_base32(secret).expect("secret");
    // The demo signed the office in with the current code; a later step avoids reuse.
    for step in [0, 1, 2] {
        let code = s.code_at(model::UnixTime::now().plus_seconds(30 * step));
        let body = form_encode(&[("login", login), ("password", PASSWORD), ("totp", &code)]);
        let (status, head, _) = request(
            server,
            &format!(
                "POST /login HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            ),
        );
        if status == 303 {
            let cookie = head
                .lines()
                .find(|l| l.to_ascii_lowercase().starts_with("set-cookie: "))
                .map(|l| &l["set-cookie: ".len()..])
                .and_then(|c| c.split(';').next())
                .expect("session cookie");
            return cookie.to_owned();
        }
    }
    panic!("{login} could not sign in");
}

fn assert_no_store(head: &str, what: &str) {
    assert!(
        head.to_ascii_lowercase()
            .contains("cache-control: no-store"),
        "{what} is cacheable: {head}"
    );
}

/// The first `href` that starts with `prefix` (HTML-unescaped `&amp;`).
fn first_href(body: &str, prefix: &str) -> Option<String> {
    let at = body.find(&format!("href=\"{prefix}"))?;
    let rest = &body[at + 6..];
    let end = rest.find('"')?;
    Some(rest[..end].replace("&amp;", "&"))
}

#[test]
fn demo_doctor_sees_summary_labs_chart_and_medications_and_is_refused_without_consent() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (server, demo) = start(&tmp.path().join("data"));

    // Not signed in: sent to the sign-in page, nothing shown.
    let (status, head, _) = get(&server, &format!("/patients/{}", demo.consented), None, &[]);
    assert_eq!(status, 303, "{head}");
    assert!(head.to_ascii_lowercase().contains("location: /login"));

    let cookie = sign_in(&server, "doctor", &demo.doctor_secret);
    let c = Some(cookie.as_str());

    // Summary: allergies section first (before diagnoses), every section present.
    let (status, head, body) = get(&server, &format!("/patients/{}", demo.consented), c, &[]);
    assert_eq!(status, 200, "{body}");
    assert_no_store(&head, "summary");
    for id in [
        "id=\"allergies\"",
        "id=\"diagnoses\"",
        "id=\"medications\"",
        "id=\"labs\"",
        "id=\"admissions\"",
        "class=\"patient-kana\"",
    ] {
        assert!(body.contains(id), "summary lacks {id}");
    }
    let allergies_at = body.find("id=\"allergies\"").expect("allergies");
    assert!(allergies_at < body.find("id=\"diagnoses\"").expect("diagnoses"));
    assert!(body.contains("card allergy"));
    assert!(
        !body.contains("class=\"refused\""),
        "consenting patient refused"
    );

    // Labs: the matrix, each test linking to its chart with htmx.
    let labs = format!("/patients/{}/labs", demo.consented);
    let (status, head, body) = get(&server, &labs, c, &[]);
    assert_eq!(status, 200, "{body}");
    assert_no_store(&head, "labs");
    assert!(
        body.contains("<table class=\"lab-matrix\">"),
        "no lab matrix"
    );
    assert!(body.contains("hx-target=\"#chart\""));
    let chart = first_href(&body, &format!("{labs}/chart?code=")).expect("a chart link");

    // The chart as a full page (no JavaScript): the SVG above the matrix.
    let (status, head, body) = get(&server, &chart, c, &[]);
    assert_eq!(status, 200, "{body}");
    assert_no_store(&head, "chart page");
    assert!(
        body.contains("<svg class=\"trend-chart\""),
        "no chart: {body}"
    );
    assert!(body.contains("<title id=\"trend-title\">"));
    assert!(body.contains("<table class=\"lab-matrix\">"));
    assert!(body.contains("<table class=\"chart-data\">"));
    // The same as an htmx fragment: the chart only, no page around it.
    let (status, head, body) = get(&server, &chart, c, &[("HX-Request", "true")]);
    assert_eq!(status, 200, "{body}");
    assert_no_store(&head, "chart fragment");
    assert!(body.contains("<svg class=\"trend-chart\""));
    assert!(!body.contains("<html") && !body.contains("lab-matrix"));

    // A date range in the future: no results, still a page.
    let (status, _, body) = get(&server, &format!("{labs}?from=2099-01-01"), c, &[]);
    assert_eq!(status, 200);
    assert!(!body.contains("<table class=\"lab-matrix\">"));
    let (status, _, _) = get(&server, &format!("{labs}?from=not-a-date"), c, &[]);
    assert_eq!(status, 400);

    // Medications: history table and the warnings section.
    let (status, head, body) = get(
        &server,
        &format!("/patients/{}/medications", demo.consented),
        c,
        &[],
    );
    assert_eq!(status, 200, "{body}");
    assert_no_store(&head, "medications");
    assert!(body.contains("id=\"warnings\""));
    assert!(
        body.contains("id=\"medication-history\""),
        "no medication history"
    );

    // No consent: every category refused with its reason, nothing clinical shown, and the
    // doctor is offered break-the-glass.
    let (status, head, body) = get(&server, &format!("/patients/{}", demo.refused), c, &[]);
    assert_eq!(status, 200, "{body}");
    assert_no_store(&head, "refused summary");
    assert!(
        body.contains("data-code=\"no_consent\""),
        "no refusal shown"
    );
    assert!(!body.contains("data-code=\"profession_not_permitted\""));
    assert!(body.contains("<section id=\"emergency\""));
    assert!(body.contains("name=\"purpose\" value=\"emergency\""));
    let section = |id: &str| {
        let from = body.find(&format!("<section id=\"{id}\"")).expect(id);
        let to = body[from..].find("</section>").expect("end") + from;
        body[from..to].to_owned()
    };
    for id in ["allergies", "medications", "labs", "diagnoses"] {
        let s = section(id);
        assert!(
            !s.contains("<td>") && !s.contains("<li>"),
            "{id} shows data: {s}"
        );
    }
    let (_, _, body) = get(&server, &format!("/patients/{}/labs", demo.refused), c, &[]);
    assert!(body.contains("data-code=\"no_consent\"") && !body.contains("lab-matrix\">"));

    // Break-the-glass with a reason opens the record, flagged on every tab.
    let (status, _, body) = get(
        &server,
        &format!(
            "/patients/{}?purpose=emergency&reason=%E6%84%8F%E8%AD%98%E9%9A%9C%E5%AE%B3",
            demo.refused
        ),
        c,
        &[],
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("banner-emergency"));
    assert!(!body.contains("data-code=\"no_consent\""));
    assert!(
        body.contains("/labs?purpose=emergency&"),
        "purpose not carried to the tabs"
    );

    // A malformed regional ID is a 400 page, an unknown one a 404.
    assert_eq!(get(&server, "/patients/abc", c, &[]).0, 400);
    let unknown = model::RegionalId::issue(999, 424_242);
    assert_eq!(get(&server, &format!("/patients/{unknown}"), c, &[]).0, 404);
}
