//! Finding, in a running demo, the patients whose lab data show the issue-14 patterns (a
//! culture with two organisms, a test sent in two units by two facilities): the demo
//! region's files are read to pick candidates, the office looks up their regional IDs, and
//! the doctor's labs page confirms (consent decides what the doctor sees).

#![allow(dead_code)] // each test file uses a part

use std::path::Path;

use ssmix2::{Condition, DataKind, StoragePath};

use super::{http, post_login, totp, DemoServer, Server, DEMO_PASSWORD};

/// Sign in through the form; the session cookie (`name=value`).
pub fn sign_in(server: &Server, login: &str, secret: &str) -> String {
    for step in [0, 1, 2] {
        let r = post_login(server, login, DEMO_PASSWORD, &totp(secret, step));
        if r.status == 303 {
            return r.cookie().expect("session cookie");
        }
    }
    panic!("{login} could not sign in");
}

/// GET as a signed-in user: (status, body).
pub fn page(server: &Server, path: &str, cookie: &str) -> (u16, String) {
    let r = http(server, "GET", path, Some(cookie), None, "");
    (r.status, r.body)
}

/// Albumin (JLAC10): the demo's clinics report it in g/L, hospitals in g/dL.
pub const ALBUMIN: &str = "3A015000002327101";

pub struct LabPatients {
    /// A regional ID with a culture of two organisms, and that culture's record page.
    pub culture_patient: String,
    pub culture_record: String,
    /// A regional ID whose albumin row holds g/dL and g/L values.
    pub units_patient: String,
}

/// Current OML-11 files of the region: (facility, local ID, text).
fn lab_files(region: &Path) -> Vec<(String, String, String)> {
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
            let Ok(rel) = path.strip_prefix(region) else {
                continue;
            };
            let rel = rel.to_string_lossy().replace('\\', "/");
            let Some((facility, inner)) = rel.split_once('/') else {
                continue;
            };
            let Ok(StoragePath::Standard(n)) = StoragePath::parse(inner) else {
                continue;
            };
            if n.kind != DataKind::Oml11 || n.condition != Condition::Current {
                continue;
            }
            let Ok(bytes) = std::fs::read(&path) else {
                continue;
            };
            let Ok(d) = hl7::decode(&bytes) else { continue };
            out.push((
                facility.to_owned(),
                n.patient_id.clone(),
                d.text.to_string(),
            ));
        }
    }
    out.sort();
    out
}

/// The regional ID of a facility's local patient, looked up by the office.
fn regional_id(server: &Server, office: &str, facility: &str, local_id: &str) -> Option<String> {
    let r = http(
        server,
        "GET",
        &format!("/office/patients?facility={facility}&local_id={local_id}"),
        Some(office),
        None,
        "",
    );
    r.location()
        .strip_prefix("/office/patients/")
        .map(str::to_owned)
}

/// The first `href` starting with `prefix`.
pub fn first_href(body: &str, prefix: &str) -> Option<String> {
    let at = body.find(&format!("href=\"{prefix}"))?;
    let rest = &body[at + 6..];
    let end = rest.find('"')?;
    Some(rest[..end].replace("&amp;", "&"))
}

/// Find the patients (see [`LabPatients`]) in the demo started on `data`.
pub fn find(demo: &DemoServer, data: &Path, doctor: &str) -> LabPatients {
    let server = &demo.server;
    let office = sign_in(server, "office", demo.secret("office"));
    let files = lab_files(&data.join("demo-region"));
    let mut culture = None;
    let mut units = None;
    let mut tried = std::collections::BTreeSet::new();
    for (facility, local_id, text) in &files {
        let two_organisms = text
            .split('\r')
            .filter(|l| l.starts_with("OBX|") && l.contains("|CWE|M020^"))
            .count()
            >= 2;
        let grams = text.contains(&format!("|{ALBUMIN}^")) && text.contains("|g/L^");
        if !(two_organisms && culture.is_none() || grams && units.is_none()) {
            continue;
        }
        if !tried.insert((facility.clone(), local_id.clone())) {
            continue;
        }
        let Some(rid) = regional_id(server, &office, facility, local_id) else {
            continue;
        };
        let (status, body) = page(server, &format!("/patients/{rid}/labs"), doctor);
        if status != 200 {
            continue;
        }
        if culture.is_none() {
            // Every culture of the table, newest first: the newest may have one organism.
            if let Some(at) = body.find("id=\"cultures\"") {
                let mut rest = &body[at..];
                let prefix = format!("/patients/{rid}/records/");
                while let Some(href) = first_href(rest, &prefix) {
                    let (_, record) = page(server, &href, doctor);
                    if record.matches("class=\"culture organism\"").count() >= 2 {
                        culture = Some((rid.clone(), href));
                        break;
                    }
                    let next = rest.find(&format!("href=\"{href}")).unwrap_or(0) + 6;
                    rest = &rest[next.min(rest.len())..];
                }
            }
        }
        if units.is_none() && body.contains(&format!("data-code=\"{ALBUMIN}\"")) {
            let row = &body[body.find(&format!("data-code=\"{ALBUMIN}\"")).unwrap_or(0)..];
            let row = &row[..row.find("</tr>").unwrap_or(row.len())];
            if row.contains("class=\"mixed-units\"") {
                units = Some(rid.clone());
            }
        }
        if culture.is_some() && units.is_some() {
            break;
        }
    }
    let (culture_patient, culture_record) =
        culture.expect("a consenting demo patient with a two-organism culture");
    LabPatients {
        culture_patient,
        culture_record,
        units_patient: units.expect("a consenting demo patient with albumin in g/dL and g/L"),
    }
}
