//! Issue 14 on the real binary (`renkei serve --demo`, whose region has extended-storage
//! discharge summaries): an extended-storage CDA document opens as readable text titled by
//! its document type, and the original bytes of a record version — extended or standard —
//! download byte-identical to the facility's file, typed from the content, named after the
//! file, `nosniff` and `no-store`, audited as a download. Probed like a penetration test:
//! signed out, another patient's version, a patient without consent, the emergency purpose
//! without and with a started window — each refused and audited, the refusal the same
//! whether or not the version exists.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};

use common::{call, enc, http, post_login, totp, DemoServer, Server, DEMO_PASSWORD};
use serde_json::Value;

/// A GET answered with raw bytes: (status, head, body bytes).
fn get_bytes(server: &Server, path: &str, auth: &str) -> (u16, String, Vec<u8>) {
    let mut s = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{auth}\r\n").as_bytes(),
    )
    .expect("request");
    let mut out = Vec::new();
    s.read_to_end(&mut out).expect("response");
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("head and body");
    let head = String::from_utf8_lossy(&out[..split]).into_owned();
    let status = head.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    assert!(
        !head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked"),
        "{head}"
    );
    (status, head, out[split + 4..].to_vec())
}

fn header(head: &str, name: &str) -> Option<String> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().to_owned())
    })
}

/// Every file of a region: (file, facility code, path inside the facility's tree).
fn region_files(region: &Path) -> Vec<(PathBuf, String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![region.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let rel = path
                .strip_prefix(region)
                .expect("inside")
                .to_string_lossy()
                .to_string();
            if let Some((facility, inside)) = rel.split_once('/') {
                out.push((path.clone(), facility.to_owned(), inside.to_owned()));
            }
        }
    }
    out.sort();
    out
}

fn sign_in(server: &Server, login: &str, secret: &str) -> String {
    for step in [0, 1, 2] {
        let r = post_login(server, login, DEMO_PASSWORD, &totp(secret, step));
        if r.status == 303 {
            return r.cookie().expect("session cookie");
        }
    }
    panic!("{login} could not sign in");
}

/// The JSON body of a GET with the session cookie.
fn json(server: &Server, path: &str, cookie: &str) -> Value {
    let r = http(server, "GET", path, Some(cookie), None, "");
    assert_eq!(r.status, 200, "{path}: {}", r.body);
    serde_json::from_str(&r.body).expect("json")
}

/// The regional ID the doctor finds for a facility's local patient (consenting ones only).
fn regional_id(server: &Server, cookie: &str, facility: &str, local: &str) -> Option<String> {
    let v = json(
        server,
        &format!("/api/v1/search?facility={facility}&local_id={}", enc(local)),
        cookie,
    );
    v["hits"][0]["regional_id"].as_str().map(str::to_owned)
}

/// The timeline items (JSON) of a patient.
fn items(server: &Server, cookie: &str, id: &str, query: &str) -> Vec<Value> {
    json(
        server,
        &format!("/api/v1/patients/{id}/timeline?limit=1000&{query}"),
        cookie,
    )["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn audit_entries(server: &Server, office: &str, login: &str) -> Vec<Value> {
    let (status, body) = call(
        server,
        "GET",
        &format!("/api/v1/audit/users/{login}"),
        Some(office),
        None,
    );
    assert_eq!(status, 200, "{body}");
    body.as_array().cloned().expect("entries")
}

#[test]
fn a_cda_document_reads_as_text_and_originals_download_byte_identical_through_the_gate() {
    let demo = DemoServer::start(30);
    let server = &demo.server;
    let region = demo
        .text
        .lines()
        .find_map(|l| {
            l.split_once(" patients in ")
                .map(|(_, p)| PathBuf::from(p.trim()))
        })
        .expect("the demo says where its region is");
    let files = region_files(&region);
    let cookie = sign_in(server, "doctor", demo.secret("doctor"));
    let c = cookie.as_str();
    let auth = format!("Cookie: {cookie}\r\n");

    // --- A discharge summary (CDA, extended storage) of a consenting patient ---------------
    let mut found = None;
    for (file, facility, inside) in files.iter().filter(|f| f.2.ends_with(".xml")) {
        let local = inside.split('/').nth(2).expect("patient folder");
        let Some(id) = regional_id(server, c, facility, local) else {
            continue;
        };
        let item = items(server, c, &id, "kind=extended")
            .into_iter()
            .find(|it| it["record"]["path"].as_str() == Some(inside.as_str()));
        if let Some(item) = item {
            found = Some((file.clone(), id, item));
            break;
        }
    }
    let (file, open, item) = found.expect("a consenting demo patient with a discharge summary");
    let version = item["record"]["version_id"].as_i64().expect("version");
    let sent = std::fs::read(&file).expect("the facility's file");
    let record = format!("/patients/{open}/records/{version}");
    let (status, head, page) = get_bytes(server, &record, &auth);
    let page = String::from_utf8(page).expect("utf-8 page");
    assert_eq!(status, 200, "{page}");
    // Titled by its document type, never the generic extended-storage label.
    let title = &page[page.find("id=\"record-title\"").expect("title")..];
    let title = &title[..title.find("</h2>").expect("end of title")];
    assert!(title.contains("退院時サマリー"), "{title}");
    assert!(!page.contains("拡張ストレージ文書"), "generic label shown");
    // The sections as text: the document's title, each heading, the paragraph text.
    let view = &page[page.find("id=\"clinical-view\"").expect("document view")..];
    assert!(
        view.contains("<h2 class=\"view-title\">退院時サマリー</h2>"),
        "{view}"
    );
    for heading in ["入院期間", "主病名", "経過"] {
        assert!(
            view.contains(&format!("<h3>{heading}</h3>")),
            "{heading}: {view}"
        );
    }
    assert!(view.contains("治療により軽快し退院となった。"), "{view}");
    assert!(view.contains("18842-5"), "document code");
    // The raw HL7 table is folded and empty: a CDA document has no segments.
    assert!(page.contains("<details class=\"raw-hl7\" id=\"raw-hl7\">"));
    assert!(header(&head, "cache-control").is_some_and(|v| v.contains("no-store")));

    // The download link, and the bytes it gives: exactly the facility's file.
    let download = format!("{record}/original");
    assert!(
        page.contains(&format!("id=\"download-original\" href=\"{download}\"")),
        "no download link"
    );
    assert!(page.contains("原本をダウンロード"));
    let (status, head, bytes) = get_bytes(server, &download, &auth);
    assert_eq!(status, 200, "{head}");
    assert!(
        bytes == sent,
        "the download differs from the facility's file"
    );
    assert_eq!(
        header(&head, "content-type").as_deref(),
        Some("application/xml")
    );
    let name = file
        .file_name()
        .expect("name")
        .to_string_lossy()
        .to_string();
    let disposition = header(&head, "content-disposition").expect("disposition");
    assert!(
        disposition.starts_with("attachment; filename=\""),
        "{disposition}"
    );
    assert!(
        disposition.ends_with(&format!("filename*=UTF-8''{}", enc(&name))),
        "{disposition}"
    );
    assert_eq!(
        header(&head, "x-content-type-options").as_deref(),
        Some("nosniff")
    );
    assert!(header(&head, "cache-control").is_some_and(|v| v.contains("no-store")));
    // `inline` does not show an XML document in the browser: still a download.
    let (status, head, bytes) = get_bytes(server, &format!("{download}?inline=1"), &auth);
    assert_eq!(status, 200);
    assert!(bytes == sent);
    assert!(header(&head, "content-disposition").is_some_and(|d| d.starts_with("attachment;")));

    // --- A standard-storage message: the same, as text in its own encoding -----------------
    let standard = items(server, c, &open, "")
        .into_iter()
        .find(|it| it["record"]["storage"] == "standard")
        .expect("a standard record");
    let path = standard["record"]["path"]
        .as_str()
        .expect("path")
        .to_owned();
    let facility = standard["source"].as_str().expect("source").to_owned();
    let sent_hl7 = std::fs::read(region.join(&facility).join(&path)).expect("the message file");
    let v_std = standard["record"]["version_id"].as_i64().expect("version");
    let (status, head, bytes) = get_bytes(
        server,
        &format!("/patients/{open}/records/{v_std}/original"),
        &auth,
    );
    assert_eq!(status, 200, "{head}");
    assert!(
        bytes == sent_hl7,
        "the message download differs from the file"
    );
    let ct = header(&head, "content-type").expect("type");
    assert!(ct.starts_with("text/plain; charset="), "{ct}");
    // The API twin, with a bearer token: the same bytes.
    // (The session works as a bearer token too; a second sign-in would need another code.)
    let token = cookie.split_once('=').expect("name=value").1;
    let (status, head, bytes) = get_bytes(
        server,
        &format!("/api/v1/patients/{open}/records/{v_std}/original"),
        &format!("Authorization: Bearer {token}\r\n"),
    );
    assert_eq!(status, 200, "{head}");
    assert!(bytes == sent_hl7);

    // --- Probes ---------------------------------------------------------------------------
    // Signed out: to the sign-in page (HTML), 401 (API); nothing of the file.
    let (status, head, bytes) = get_bytes(server, &download, "");
    assert_eq!(status, 303, "{head}");
    assert!(header(&head, "location").is_some_and(|l| l.starts_with("/login")));
    assert!(!String::from_utf8_lossy(&bytes).contains("ClinicalDocument"));
    let (status, _, bytes) = get_bytes(
        server,
        &format!("/api/v1/patients/{open}/records/{version}/original"),
        "",
    );
    assert_eq!(status, 401);
    assert!(String::from_utf8_lossy(&bytes).contains("\"error\""));

    // Another patient's version under this patient: the answer of a version that does not
    // exist, word for word.
    let other = files
        .iter()
        .filter(|f| f.2.split('/').nth(2) != item["local_id"].as_str())
        .find_map(|(_, facility, inside)| {
            let local = inside.split('/').nth(2)?;
            let id = regional_id(server, c, facility, local)?;
            (id != open).then_some(id)
        })
        .expect("a second consenting patient");
    let theirs = items(server, c, &other, "")
        .first()
        .and_then(|it| it["record"]["version_id"].as_i64())
        .expect("a version of the other patient");
    let (s1, _, b1) = get_bytes(
        server,
        &format!("/patients/{open}/records/{theirs}/original"),
        &auth,
    );
    let (s2, _, b2) = get_bytes(
        server,
        &format!("/patients/{open}/records/999999999/original"),
        &auth,
    );
    assert_eq!((s1, s2), (404, 404));
    assert_eq!(
        String::from_utf8_lossy(&b1).replace(&theirs.to_string(), "N"),
        String::from_utf8_lossy(&b2).replace("999999999", "N")
    );

    // A patient without consent: refused with the reason, the same whether the version is
    // theirs, another patient's or none at all.
    let closed = &demo.refused;
    let refused_answer = |v: i64, purpose: &str| {
        let (s, _, b) = get_bytes(
            server,
            &format!("/patients/{closed}/records/{v}/original{purpose}"),
            &auth,
        );
        (s, String::from_utf8_lossy(&b).replace(&v.to_string(), "N"))
    };
    let (s, body) = refused_answer(version, "");
    assert_eq!(s, 403, "{body}");
    assert!(body.contains("同意"), "the reason is said: {body}");
    assert_eq!(refused_answer(999999999, ""), (s, body.clone()));
    // The emergency purpose before a window was started: refused for every record, even of
    // a consenting patient, the same answer for a version of theirs and for none.
    let emergency_answer = |v: i64| {
        let (s, _, b) = get_bytes(
            server,
            &format!("/patients/{open}/records/{v}/original?purpose=emergency"),
            &auth,
        );
        (s, String::from_utf8_lossy(&b).replace(&v.to_string(), "N"))
    };
    let (s_e, body_e) = emergency_answer(version);
    assert_eq!(s_e, 403, "{body_e}");
    assert!(!body_e.contains("ClinicalDocument"));
    assert_eq!(emergency_answer(999999999), (s_e, body_e));

    // Break-the-glass (a POST from our own page), then the emergency purpose opens it,
    // flagged for review; for normal care it stays refused.
    let origin = format!("Origin: http://127.0.0.1:{}\r\n", server.port);
    let r = http(
        server,
        "POST",
        &format!("/patients/{closed}/emergency"),
        Some(c),
        Some(&format!(
            "reason={}&back=%2Ftimeline",
            enc("意識障害で救急搬送")
        )),
        &origin,
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let theirs_now = items(server, c, closed, "purpose=emergency")
        .into_iter()
        .find(|it| it["record"]["storage"] == "standard")
        .expect("the patient's records in the emergency window");
    let v_closed = theirs_now["record"]["version_id"]
        .as_i64()
        .expect("version");
    let (status, head, bytes) = get_bytes(
        server,
        &format!("/patients/{closed}/records/{v_closed}/original?purpose=emergency"),
        &auth,
    );
    assert_eq!(status, 200, "{head}");
    let p = theirs_now["record"]["path"].as_str().expect("path");
    let f = theirs_now["source"].as_str().expect("source");
    assert!(bytes == std::fs::read(region.join(f).join(p)).expect("file"));
    let (s, body) = refused_answer(v_closed, "");
    assert_eq!(s, 403, "{body}");
    assert_eq!(refused_answer(999999999, ""), (s, body));

    // --- The audit log: every download and every refusal, as downloads ----------------------
    let office = sign_in(server, "office", demo.secret("office"));
    let office = office.split_once('=').expect("name=value").1;
    let entries = audit_entries(server, office, "doctor");
    let downloads: Vec<&Value> = entries
        .iter()
        .map(|e| &e["event"])
        .filter(|e| e["action"] == "download")
        .collect();
    let allowed = downloads
        .iter()
        .filter(|e| e["outcome"]["result"] == "allowed")
        .count();
    let refused: Vec<&str> = downloads
        .iter()
        .filter(|e| e["outcome"]["result"] == "refused")
        .filter_map(|e| e["outcome"]["code"].as_str())
        .collect();
    assert!(allowed >= 5, "allowed downloads audited: {downloads:?}");
    for code in ["unknown_record", "no_consent", "break_glass_required"] {
        assert!(refused.contains(&code), "{code} not audited: {refused:?}");
    }
    assert!(
        downloads
            .iter()
            .any(|e| e["flagged"] == true && e["outcome"]["result"] == "allowed"),
        "the emergency download is flagged for review"
    );
    assert!(downloads
        .iter()
        .all(|e| e["patient"].is_string() || e["patient"].is_null()));
}

/// A PDF, a PNG and an HTML page named `.pdf` in every patient's extended storage of a demo
/// region: the PDF is framed on its record page (the one answer that may be framed, by this
/// server only), the image shown as an image, the disguised page neither — downloaded as
/// `application/octet-stream`.
#[test]
fn extended_pdfs_and_images_show_inline_and_nothing_else_does() {
    use std::os::unix::fs::DirBuilderExt;
    let tmp = tempfile::tempdir().expect("tmp");
    let data = tmp.path().join("data");
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&data)
        .expect("data folder");
    let region = data.join("demo-region");
    common::renkei(
        &data,
        &[
            "synth",
            "--out",
            region.to_str().expect("utf-8"),
            "--patients",
            "12",
            "--seed",
            "1",
        ],
    );
    const PDF: &[u8] = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n";
    const PNG: &[u8] =
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";
    const DISGUISED: &[u8] = b"<html><script>alert(1)</script></html>";
    let mut patients = std::collections::BTreeSet::new();
    for (_, facility, inside) in region_files(&region) {
        let parts: Vec<&str> = inside.split('/').collect();
        if parts.len() == 6 {
            patients.insert((facility, parts[..3].join("/"), parts[2].to_owned()));
        }
    }
    assert!(!patients.is_empty());
    let kind = "57133-1^診療情報提供書^LN";
    for (facility, folder, pid) in &patients {
        for (key, file, bytes) in [
            ("P1", "letter.pdf", PDF),
            ("P2", "scan.png", PNG),
            ("P3", "disguised.pdf", DISGUISED),
        ] {
            let content = format!("{pid}_20240105_{kind}_{key}_20240105100000000_01_1");
            let dir = region
                .join(facility)
                .join(folder)
                .join("20240105")
                .join(kind)
                .join(content);
            std::fs::create_dir_all(&dir).expect("mkdir");
            std::fs::write(dir.join(file), bytes).expect("write");
        }
    }
    let demo = DemoServer::start_in(&data, 12, tmp);
    let server = &demo.server;
    let cookie = sign_in(server, "doctor", demo.secret("doctor"));
    let auth = format!("Cookie: {cookie}\r\n");
    let open = &demo.consented;
    let docs = items(server, &cookie, open, "kind=extended");
    let version_of = |file: &str| {
        docs.iter()
            .find(|it| {
                it["record"]["path"]
                    .as_str()
                    .is_some_and(|p| p.ends_with(file))
            })
            .and_then(|it| it["record"]["version_id"].as_i64())
            .unwrap_or_else(|| panic!("{file} not on the timeline: {docs:?}"))
    };
    let page = |v: i64| {
        let (status, _, body) = get_bytes(server, &format!("/patients/{open}/records/{v}"), &auth);
        assert_eq!(status, 200);
        String::from_utf8(body).expect("utf-8")
    };

    // The PDF: framed on its page, titled by its type.
    let v = version_of("letter.pdf");
    let html = page(v);
    assert!(html.contains("診療情報提供書"));
    let src = format!("/patients/{open}/records/{v}/original?inline=1");
    assert!(
        html.contains(&format!("<iframe class=\"original-pdf\" src=\"{src}\"")),
        "{html}"
    );
    let (status, head, bytes) = get_bytes(server, &src, &auth);
    assert_eq!(status, 200, "{head}");
    assert_eq!(bytes, PDF);
    assert_eq!(
        header(&head, "content-type").as_deref(),
        Some("application/pdf")
    );
    assert!(header(&head, "content-disposition")
        .is_some_and(|d| d.starts_with("inline; filename=\"letter.pdf\"")));
    assert_eq!(
        header(&head, "x-frame-options").as_deref(),
        Some("SAMEORIGIN")
    );
    let csp = header(&head, "content-security-policy").expect("csp");
    assert!(
        csp.contains("frame-ancestors 'self'") && csp.contains("default-src 'none'"),
        "{csp}"
    );
    assert!(header(&head, "cache-control").is_some_and(|v| v.contains("no-store")));
    // As a download it is not framable.
    let (_, head, _) = get_bytes(
        server,
        &format!("/patients/{open}/records/{v}/original"),
        &auth,
    );
    assert!(header(&head, "content-disposition").is_some_and(|d| d.starts_with("attachment;")));
    assert_eq!(header(&head, "x-frame-options").as_deref(), Some("DENY"));
    // The record page itself still may not be framed.
    let (_, head, _) = get_bytes(server, &format!("/patients/{open}/records/{v}"), &auth);
    assert_eq!(header(&head, "x-frame-options").as_deref(), Some("DENY"));

    // The image: shown as an image.
    let v = version_of("scan.png");
    let src = format!("/patients/{open}/records/{v}/original?inline=1");
    assert!(page(v).contains(&format!("<img class=\"original-image\" src=\"{src}\"")));
    let (status, head, bytes) = get_bytes(server, &src, &auth);
    assert_eq!(status, 200);
    assert_eq!(bytes, PNG);
    assert_eq!(header(&head, "content-type").as_deref(), Some("image/png"));
    assert_eq!(header(&head, "x-frame-options").as_deref(), Some("DENY"));

    // An HTML page named .pdf: neither shown nor typed as what its name says.
    let v = version_of("disguised.pdf");
    assert!(!page(v).contains("id=\"original-inline\""));
    let (status, head, bytes) = get_bytes(
        server,
        &format!("/patients/{open}/records/{v}/original?inline=1"),
        &auth,
    );
    assert_eq!(status, 200);
    assert_eq!(bytes, DISGUISED);
    assert_eq!(
        header(&head, "content-type").as_deref(),
        Some("application/octet-stream")
    );
    assert!(header(&head, "content-disposition").is_some_and(|d| d.starts_with("attachment;")));
    assert_eq!(
        header(&head, "x-content-type-options").as_deref(),
        Some("nosniff")
    );
}
