//! The access rules end to end through the HTTP API of the real `renkei serve`: sign-in with
//! password + TOTP, enrolment from match candidates, consent, allowed and refused access with
//! reasons, withdrawal, and a verified audit chain.

mod common;

use serde_json::json;

use common::{
    api_login, call, get_html, get_with, post_login, totp, DemoServer, Server, DEMO_PASSWORD,
};
use common::{renkei, PASSWORD};

fn login(server: &Server, user: &str, secret: &str, step: i64) -> String {
    api_login(server, user, PASSWORD, secret, step)
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
    let server = Server::start(&data);

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
    // B's records are refused (the patient did not select B to disclose), which the doctor
    // is not told: that would say the patient is treated at B. The audit log says it.
    assert_eq!(body["refused"], json!([]), "{body}");

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
    let (status, resp) = get_with(&server, "/patients", "");
    assert_eq!(status, 303, "no session: back to the sign-in page");
    assert!(resp.contains("location: /login") || resp.contains("Location: /login"));
    let r = post_login(&server, "dr", PASSWORD, &totp(&dr_secret, 1));
    assert_eq!(r.status, 303, "{}\r\n\r\n{}", r.head, r.body);
    let cookie = r.cookie().expect("session cookie");
    // The old address moves to the patient's page, purpose kept.
    let (status, resp) = get_html(
        &server,
        &format!("/patients?id={rid}&purpose=care"),
        &cookie,
    );
    assert_eq!(status, 303, "{resp}");
    assert!(resp
        .to_ascii_lowercase()
        .contains(&format!("location: /patients/{rid}")));
    let (status, page) = get_html(&server, &format!("/patients/{rid}/timeline"), &cookie);
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
    let demo = DemoServer::start(12);
    let server = &demo.server;
    let ids = [&demo.consented, &demo.refused];
    let token = api_login(server, "doctor", DEMO_PASSWORD, demo.secret("doctor"), 0);
    let (_, open) = call(
        server,
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
        server,
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

/// The refusal says why and nothing else: for a patient without consent, neither the JSON
/// API nor the HTML pages name the facilities that hold the patient's records, their names,
/// the local patient IDs there or how many records there are.
#[test]
fn a_refusal_tells_nothing_about_where_the_patient_is_treated() {
    let demo = DemoServer::start(12);
    let server = &demo.server;
    let closed = &demo.refused;
    let office = api_login(server, "office", DEMO_PASSWORD, demo.secret("office"), 1);
    let doctor = api_login(server, "doctor", DEMO_PASSWORD, demo.secret("doctor"), 0);

    // What must not leak, as the office sees it.
    let (status, links) = call(
        server,
        "GET",
        &format!("/api/v1/patients/{closed}/links"),
        Some(&office),
        None,
    );
    assert_eq!(status, 200, "{links}");
    let (_, facilities) = call(server, "GET", "/api/v1/facilities", Some(&office), None);
    let (_, me) = call(server, "GET", "/api/v1/me", Some(&doctor), None);
    let own = me["acting_for"].as_str().expect("acting for").to_owned();
    let mut secrets: Vec<String> = Vec::new();
    for l in links.as_array().expect("links") {
        let code = l["patient"]["facility"].as_str().expect("facility");
        secrets.push(code.to_owned());
        secrets.push(l["patient"]["local_id"].as_str().expect("local").to_owned());
        let name = facilities
            .as_array()
            .expect("facilities")
            .iter()
            .find(|f| f["code"] == code)
            .and_then(|f| f["name"].as_str())
            .expect("name");
        // The doctor's own facility is named in the page header whatever the patient.
        if code != own {
            secrets.push(name.to_owned());
        }
    }
    assert!(!secrets.is_empty(), "{links}");
    let grouped = model::RegionalId::parse(closed).expect("id").grouped();
    let check = |what: &str, text: &str| {
        let text = text.replace(closed.as_str(), "").replace(&grouped, "");
        for s in &secrets {
            assert!(!text.contains(s.as_str()), "{what} tells {s:?}:\n{text}");
        }
    };

    for path in [
        format!("/api/v1/patients/{closed}/records"),
        format!("/api/v1/patients/{closed}/timeline"),
    ] {
        let (status, body) = call(server, "GET", &path, Some(&doctor), None);
        assert_eq!(status, 200, "{body}");
        let refused = body["refused"].as_array().expect("refused");
        assert_eq!(refused.len(), 1, "one reason, once: {body}");
        assert_eq!(refused[0]["code"], "no_consent");
        let keys: Vec<&String> = refused[0].as_object().expect("object").keys().collect();
        assert_eq!(keys, ["categories", "code", "reason"], "no counts: {body}");
        check(&path, &body.to_string());
    }

    let cookie = common::html_login(server, "doctor", DEMO_PASSWORD, demo.secret("doctor"), 1);
    for tab in ["", "/labs", "/vitals", "/medications", "/timeline"] {
        let path = format!("/patients/{closed}{tab}");
        let (status, page) = get_html(server, &path, &cookie);
        assert_eq!(status, 200, "{page}");
        assert!(page.contains("data-code=\"no_consent\""), "{page}");
        check(&path, &page);
    }
}
