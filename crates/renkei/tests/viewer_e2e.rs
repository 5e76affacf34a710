//! The clinician's screens end to end on the real binary (`renkei serve --demo`): sign in
//! through the HTML form, search by kana, open the timeline, page on with the cursor (plain
//! link and htmx fragment), open a record's detail; a non-consenting patient is not found and
//! its timeline shows only refusals.

use std::io::{BufRead, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

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

/// One request on its own connection: (status, headers + body as text).
fn get(server: &Server, path: &str, extra: &str) -> (u16, String) {
    request(
        server,
        &format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{extra}\r\n"),
    )
}

fn request(server: &Server, req: &str) -> (u16, String) {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", server.port)) else {
        return (0, String::new());
    };
    let _ = s.write_all(req.as_bytes());
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    (
        text.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0),
        text,
    )
}

fn body(resp: &str) -> &str {
    resp.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("")
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn totp(secret: &str, step: i64) -> String {
    let s = auth::TotpSecret::from_base32(secret).expect("secret");
    s.code_at(model::UnixTime::now().plus_seconds(30 * step))
}

/// Every `attr="…"` value in `html` on elements whose text contains `marker`.
fn attrs<'a>(html: &'a str, marker: &str, attr: &str) -> Vec<&'a str> {
    html.match_indices(marker)
        .filter_map(|(i, _)| {
            let start = html[..i].rfind('<')?;
            let tag_end = i + html[i..].find('>')?;
            let tag = &html[start..tag_end];
            let a = tag.find(&format!("{attr}=\""))? + attr.len() + 2;
            let len = tag[a..].find('"')?;
            Some(&tag[a..a + len])
        })
        .collect()
}

fn unescape(s: &str) -> String {
    s.replace("&#38;", "&").replace("&amp;", "&")
}

fn hiragana(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'ァ'..='ヶ' => char::from_u32(c as u32 - 0x60).unwrap_or(c),
            _ => c,
        })
        .collect()
}

#[test]
fn doctor_searches_by_kana_pages_the_timeline_and_opens_a_record() {
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
    let secret = lines
        .iter()
        .find(|l| l.trim_start().starts_with("doctor "))
        .and_then(|l| l.split("TOTP secret ").nth(1))
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|| panic!("no demo doctor in:\n{text}"));
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
    let (open, closed) = (&ids[0], &ids[1]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while get(&server, "/healthz", "").0 != 200 {
        assert!(Instant::now() < deadline, "server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }

    // Sign in through the form: the home page is the search.
    let form = format!(
        "login=doctor&password=renkei-Demo-2026&totp={}&facility=",
        totp(&secret, 0)
    );
    let (status, resp) = request(
        &server,
        &format!(
            "POST /login HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
            form.len()
        ),
    );
    assert_eq!(status, 303, "{resp}");
    assert!(resp.to_ascii_lowercase().contains("location: /search"));
    let cookie = resp
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .starts_with("set-cookie:")
                .then(|| l[11..].trim().split(';').next().unwrap_or("").to_owned())
        })
        .expect("session cookie");
    let c = format!("Cookie: {cookie}\r\n");
    let (status, page) = get(&server, "/search", &c);
    assert_eq!(status, 200);
    assert!(page.contains("autofocus") && page.contains("no-store"));

    // The consenting patient's kana name, from the JSON search by regional ID.
    let (status, resp) = get(&server, &format!("/api/v1/search?regional_id={open}"), &c);
    assert_eq!(status, 200, "{resp}");
    let json: Value = serde_json::from_str(body(&resp)).expect("json");
    let kana = json["hits"][0]["name_kana"]
        .as_str()
        .expect("kana")
        .to_owned();
    let family = kana.split([' ', '　']).next().expect("family").to_owned();

    // Search by kana (typed in hiragana): the patient is a result row linking to the patient.
    let (status, page) = get(
        &server,
        &format!("/search?name={}", urlencode(&hiragana(&family))),
        &c,
    );
    assert_eq!(status, 200);
    assert!(page.contains("class=\"patient-result\""), "{page}");
    assert!(
        page.contains(&format!("class=\"patient-link\" href=\"/patients/{open}\"")),
        "{page}"
    );
    // Bad input names the field; a non-consenting patient is simply not there.
    let (status, page) = get(&server, "/search?birth_date=1950-13-45", &c);
    assert_eq!(status, 400);
    assert!(page.contains("生年月日") && page.contains("birth date"));
    let (status, page) = get(&server, &format!("/search?regional_id={closed}"), &c);
    assert_eq!(status, 200);
    assert!(page.contains("該当する患者はいません"));
    assert!(!page.contains("patient-result"));

    // The timeline, 5 items a page: page 2 through the plain link, then through htmx.
    let (status, page) = get(&server, &format!("/patients/{open}/timeline?limit=5"), &c);
    assert_eq!(status, 200, "{page}");
    assert_eq!(page.matches("class=\"timeline-item").count(), 5, "{page}");
    assert!(page.contains("id=\"timeline-more\""));
    let more = unescape(
        attrs(&page, "class=\"button more\"", "href")
            .first()
            .expect("more link"),
    );
    assert!(more.contains("cursor="), "{more}");
    let first_page: Vec<String> = attrs(&page, "class=\"timeline-item", "data-version")
        .into_iter()
        .map(str::to_owned)
        .collect();
    let (status, page2) = get(&server, &more, &c);
    assert_eq!(status, 200, "{page2}");
    let second_page: Vec<String> = attrs(&page2, "class=\"timeline-item", "data-version")
        .into_iter()
        .map(str::to_owned)
        .collect();
    assert!(!second_page.is_empty());
    assert!(
        second_page.iter().all(|v| !first_page.contains(v)),
        "page 2 continues after page 1"
    );
    assert!(page2.contains("<html"), "a plain link gets a whole page");
    let (status, fragment) = get(&server, &more, &format!("{c}HX-Request: true\r\n"));
    assert_eq!(status, 200);
    assert!(!fragment.contains("<html"), "htmx gets the items only");
    assert!(fragment.contains("class=\"timeline-item"));

    // A record's detail: header, segments, version history.
    let href = unescape(
        attrs(&page, "class=\"record-link\"", "href")
            .first()
            .expect("record link"),
    );
    let (status, detail) = get(&server, &href, &c);
    assert_eq!(status, 200, "{detail}");
    assert!(detail.contains("id=\"record-header\""));
    assert!(detail.contains("id=\"segments\"") && detail.contains("MSH-9"));
    assert!(detail.contains("id=\"history\""));
    let (status, _) = get(&server, &format!("/patients/{open}/records/999999999"), &c);
    assert_eq!(status, 404);

    // The non-consenting patient: a timeline of refusals with their reason, no items.
    let (status, page) = get(&server, &format!("/patients/{closed}/timeline"), &c);
    assert_eq!(status, 200);
    assert!(page.contains("class=\"refused\""));
    assert!(!page.contains("class=\"timeline-item"));
    let (status, resp) = get(
        &server,
        &format!("/api/v1/patients/{open}/timeline?limit=3"),
        &c,
    );
    assert_eq!(status, 200);
    let json: Value = serde_json::from_str(body(&resp)).expect("json");
    assert_eq!(json["items"].as_array().map(Vec::len), Some(3));
    assert!(json["next_cursor"].is_string());
}
