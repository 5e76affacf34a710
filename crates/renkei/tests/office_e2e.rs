//! The operations office screens (事務局) end to end through the real `renkei serve --demo`,
//! as a browser uses them: sign in through the HTML form, plain form posts answered by
//! redirects, and the pages read back. Covers facilities and API keys, users with the TOTP
//! secret shown once, consent recorded and withdrawn, a link candidate linked, the audit chain
//! verified, settings for administrators only, and clinicians refused.

mod common;

use common::{enc, html_login, http, DemoServer, Resp, Server, DEMO_PASSWORD};

fn get(server: &Server, path: &str, cookie: &str) -> Resp {
    http(server, "GET", path, Some(cookie), None, "")
}

/// A form post from our own page (the browser sends our Origin).
fn post(server: &Server, path: &str, cookie: &str, form: &str) -> Resp {
    let origin = format!("Origin: http://127.0.0.1:{}\r\n", server.port);
    http(server, "POST", path, Some(cookie), Some(form), &origin)
}

/// Sign in through the HTML form with the next step's code: the demo signed `admin` and
/// `office` in with the current one while setting up, and a used step is refused as a replay.
fn sign_in(server: &Server, login: &str, password: &str, secret: &str) -> String {
    html_login(server, login, password, secret, 1)
}

/// The first `value="…"` after `marker` in `html`.
fn value_after(html: &str, marker: &str) -> Option<String> {
    let rest = &html[html.find(marker)?..];
    let v = rest.find("value=\"")? + 7;
    let end = rest[v..].find('"')?;
    Some(rest[v..v + end].to_owned())
}

/// The value of the first input named `name` in `html`.
fn input_value(html: &str, name: &str) -> Option<String> {
    value_after(html, &format!("name=\"{name}\""))
}

#[test]
fn office_screens_run_the_network_without_a_shell() {
    let demo = DemoServer::start(12);
    let server = &demo.server;
    let (consented, unconsented) = (&demo.consented, &demo.refused);

    // Without a session: to the sign-in page.
    let r = http(server, "GET", "/office", None, None, "");
    assert_eq!(r.status, 303);
    assert!(r.location().ends_with("/login"));

    let office = sign_in(server, "office", DEMO_PASSWORD, demo.secret("office"));

    // Dashboard: counts and the audit chain status.
    let r = get(server, "/office", &office);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.no_store());
    assert!(r.body.contains("参加施設") && r.body.contains("名寄せ候補"));
    assert!(r.body.contains("id=\"audit-status\""), "{}", r.body);
    assert!(r.body.contains("正常"), "the demo's chain is intact");

    // Facilities: add one, see it listed, a rejected form names the field.
    let code = "0499999991";
    let r = post(
        server,
        "/office/facilities",
        &office,
        &format!(
            "code={code}&name={}&kind=clinic&area={}&status=participating&discloses=on&views=on",
            enc("テスト診療所"),
            enc("仙台")
        ),
    );
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(
        r.location().contains("done=facility_saved"),
        "{}",
        r.location()
    );
    let r = get(server, &r.location(), &office);
    assert!(r.no_store());
    assert!(r.body.contains("テスト診療所") && r.body.contains("施設 0499999991 を保存しました"));
    let r = post(
        server,
        "/office/facilities",
        &office,
        "code=0499999992&name=&kind=clinic",
    );
    assert_eq!(r.status, 400);
    assert!(
        r.body.contains("施設名") && r.body.contains("(name)"),
        "{}",
        r.body
    );
    let r = post(
        server,
        "/office/facilities",
        &office,
        &format!("code={code}&name=x&kind=clinic"),
    );
    assert_eq!(
        r.status, 409,
        "an existing code is not overwritten by the add form"
    );
    // Edit: suspend it.
    let r = get(server, &format!("/office/facilities/{code}"), &office);
    assert_eq!(r.status, 200);
    assert!(r.body.contains("テスト診療所"));
    let r = post(
        server,
        &format!("/office/facilities/{code}"),
        &office,
        &format!(
            "name={}&kind=clinic&area=&status=suspended&views=on",
            enc("テスト診療所")
        ),
    );
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(get(server, "/office/facilities", &office)
        .body
        .contains("一時停止"));
    // An API key, shown once.
    let r = post(
        server,
        &format!("/office/facilities/{code}/api-keys"),
        &office,
        "",
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.no_store());
    let key = value_after(&r.body, "id=\"api-key\"").expect("key shown");
    assert!(key.starts_with(&format!("rk_{code}_")), "{key}");

    // A cross-site form post is refused and changes nothing.
    let r = http(
        server,
        "POST",
        "/office/facilities",
        Some(&office),
        Some("code=0499999993&name=evil&kind=clinic"),
        "Origin: http://evil.example\r\n",
    );
    assert_eq!(r.status, 403);
    assert!(!get(server, "/office/facilities", &office)
        .body
        .contains("0499999993"));

    // Users: the office sees the list; only an administrator adds, and the secret is shown once.
    let r = get(server, "/office/users", &office);
    assert_eq!(r.status, 200);
    assert!(r.body.contains("doctor") && r.body.contains("管理者"));
    let new_password = "Kx7#mPq2vLw9-renkei";
    let user_form = format!(
        "login=dr.test&display_name={}&profession=doctor&facilities={code}&password={}&password_confirm={}",
        enc("試験 医師"),
        enc(new_password),
        enc(new_password)
    );
    assert_eq!(
        post(server, "/office/users", &office, &user_form).status,
        403
    );
    let admin = sign_in(server, "admin", DEMO_PASSWORD, demo.secret("admin"));
    let r = post(
        server,
        "/office/users",
        &admin,
        &user_form.replace("profession=doctor", "profession=astronaut"),
    );
    assert_eq!(r.status, 400);
    assert!(r.body.contains("(profession)"), "{}", r.body);
    assert!(
        !r.body.contains(new_password),
        "the password is never sent back"
    );
    let r = post(server, "/office/users", &admin, &user_form);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.no_store());
    assert!(r.body.contains("otpauth://totp/"), "{}", r.body);
    let secret = value_after(&r.body, "id=\"totp-secret\"").expect("TOTP secret shown");
    // The new user signs in with it.
    sign_in(server, "dr.test", new_password, &secret);
    assert!(get(server, "/office/users", &office)
        .body
        .contains("dr.test"));

    // Consent: record for the patient without one, see it in force, withdraw it.
    let consents = format!("/office/patients/{unconsented}/consents");
    let r = get(server, &consents, &office);
    assert_eq!(r.status, 200);
    assert!(r.body.contains("同意の記録はありません"));
    let r = post(
        server,
        &consents,
        &office,
        "mode=all_facilities&valid_from=2024-04-01&paper_form=",
    );
    assert_eq!(r.status, 400, "a signed form's reference is required");
    assert!(r.body.contains("同意書"), "{}", r.body);
    let r = post(
        server,
        &consents,
        &office,
        &format!(
            "mode=selected_facilities&disclosing={code}&viewing={code}&valid_from=2024-04-01&valid_until=&paper_form={}",
            enc("同意書-0099")
        ),
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let loc = r.location();
    assert!(loc.contains("done=consent_recorded"), "{loc}");
    let consent_id = loc.split("id=").nth(1).expect("consent id").to_owned();
    let r = get(server, &loc, &office);
    assert!(r.body.contains("同意書-0099") && r.body.contains("施設選択"));
    assert!(
        r.body.contains("有効 <span class=\"en\">in force"),
        "{}",
        r.body
    );
    let r = post(
        server,
        &format!("/office/consents/{consent_id}/withdraw"),
        &office,
        &format!("regional_id={unconsented}"),
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let r = get(server, &r.location(), &office);
    assert!(
        r.body.contains("撤回 <span class=\"en\">withdrawn"),
        "{}",
        r.body
    );
    assert!(r
        .body
        .contains(&format!("同意 #{consent_id} を撤回しました")));

    // Link candidates: end one link of a patient with two, then link the pair again from the
    // candidate list.
    let patient = get(server, &format!("/office/patients/{consented}"), &office);
    assert_eq!(patient.status, 200);
    assert!(patient.no_store());
    let unlink_at = patient
        .body
        .find("/unlink\"")
        .expect("an active link to end");
    let form_html = &patient.body[unlink_at..];
    let (fac, local) = (
        input_value(form_html, "facility").expect("facility"),
        input_value(form_html, "local_id").expect("local id"),
    );
    assert!(
        patient.body.matches("/unlink\"").count() >= 2,
        "the demo's first patient is linked at two facilities"
    );
    let r = post(
        server,
        &format!("/office/patients/{consented}/unlink"),
        &office,
        &format!("facility={fac}&local_id={}", enc(&local)),
    );
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(get(server, &r.location(), &office)
        .body
        .contains("連携を終了しました"));
    let list = get(server, "/office/candidates", &office);
    assert_eq!(list.status, 200);
    assert!(list.no_store());
    let section = list
        .body
        .split("<section class=\"candidate card\">")
        .skip(1)
        .find(|s| s.contains(&format!("value=\"{local}\"")))
        .unwrap_or_else(|| panic!("{fac}/{local} is a candidate again: {}", list.body));
    assert!(section.contains("根拠"), "the score is explained");
    let pair: Vec<String> = ["a_facility", "a_local_id", "b_facility", "b_local_id"]
        .iter()
        .map(|k| input_value(section, k).expect("pair field"))
        .collect();
    let r = post(
        server,
        "/office/candidates/link",
        &office,
        &format!(
            "a_facility={}&a_local_id={}&b_facility={}&b_local_id={}",
            pair[0],
            enc(&pair[1]),
            pair[2],
            enc(&pair[3])
        ),
    );
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(
        r.location().contains("done=pair_joined") && r.location().contains(consented.as_str()),
        "{}",
        r.location()
    );
    // Auto-link runs and says how many.
    let r = post(server, "/office/candidates/auto", &office, "");
    assert_eq!(r.status, 303);
    assert!(get(server, &r.location(), &office)
        .body
        .contains("自動連携:"));

    // Audit: the chain verifies; the office's own acts are in its activity.
    let r = get(server, "/office/audit/verify", &office);
    assert_eq!(r.status, 200);
    assert!(r.body.contains("data-ok=\"true\""), "{}", r.body);
    let r = get(server, "/office/audit?view=user&login=office", &office);
    assert_eq!(r.status, 200);
    assert!(
        r.body.contains("ログ参照"),
        "reading the log is itself logged"
    );
    let r = get(
        server,
        "/office/audit?view=user&login=office&action=consent_withdraw",
        &office,
    );
    assert!(r.body.contains("同意撤回") && !r.body.contains("ログ参照 (audit_read)</td>"));
    assert!(r.body.contains(&format!(">{unconsented}<")), "{}", r.body);
    let r = get(
        server,
        &format!("/office/audit?view=patient&id={consented}"),
        &office,
    );
    assert_eq!(r.status, 200);
    assert!(get(server, "/office/audit", &office)
        .body
        .contains("緊急時閲覧の確認"));
    let r = get(server, "/office/audit?view=patient&id=123", &office);
    assert_eq!(r.status, 400, "a malformed regional ID is named");

    // Settings: administrators only.
    assert_eq!(get(server, "/office/settings", &office).status, 403);
    let r = get(server, "/office/settings", &admin);
    assert_eq!(r.status, 200);
    assert!(r.body.contains("permission-matrix"));
    let r = post(
        server,
        "/office/settings/match",
        &admin,
        "candidate_min=60&auto_link_min=90",
    );
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(get(server, "/office/settings", &admin)
        .body
        .contains("value=\"90\""));
    let r = post(
        server,
        "/office/settings/match",
        &admin,
        "candidate_min=80&auto_link_min=70",
    );
    assert_eq!(
        r.status, 400,
        "auto-link below the candidate score is refused"
    );

    // A doctor gets the 403 page on every office screen, and cannot post either.
    let doctor = sign_in(server, "doctor", DEMO_PASSWORD, demo.secret("doctor"));
    for path in [
        "/office",
        "/office/facilities",
        "/office/audit",
        "/office/candidates",
    ] {
        let r = get(server, path, &doctor);
        assert_eq!(r.status, 403, "{path}");
        assert!(r.body.contains("権限がありません"), "{path}: {}", r.body);
        assert!(r.no_store());
    }
    let r = post(
        server,
        "/office/facilities",
        &doctor,
        "code=0499999994&name=x&kind=clinic",
    );
    assert_eq!(r.status, 403);
    // The doctor's attempt is itself in the audit log, refused.
    let r = get(server, "/office/audit?view=user&login=doctor", &office);
    assert!(r.body.contains("not_office"), "{}", r.body);
}
