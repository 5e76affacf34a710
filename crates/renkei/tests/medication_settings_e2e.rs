//! The recent window of "current medications" (issue 14) is a network setting: the
//! administrator sets it on the settings screen (1–365 days), the summary says which
//! window it shows, and a doctor cannot change it.

mod common;

use common::{html_login, http, DemoServer, Resp, Server, DEMO_PASSWORD};

fn get(server: &Server, path: &str, cookie: &str) -> Resp {
    http(server, "GET", path, Some(cookie), None, "")
}

fn post(server: &Server, path: &str, cookie: &str, form: &str) -> Resp {
    let origin = format!("Origin: http://127.0.0.1:{}\r\n", server.port);
    http(server, "POST", path, Some(cookie), Some(form), &origin)
}

#[test]
fn administrator_sets_the_recent_medication_window() {
    let demo = DemoServer::start(12);
    let server = &demo.server;
    let admin = html_login(server, "admin", DEMO_PASSWORD, demo.secret("admin"), 1);
    let r = get(server, "/office/settings", &admin);
    assert_eq!(r.status, 200);
    assert!(r.body.contains("id=\"medication-settings\""));
    assert!(r
        .body
        .contains("name=\"recent_days\" min=\"1\" max=\"365\" value=\"30\""));
    let r = post(
        server,
        "/office/settings/medication",
        &admin,
        "recent_days=14",
    );
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(get(server, "/office/settings", &admin)
        .body
        .contains("value=\"14\""));
    for bad in ["recent_days=0", "recent_days=400", "recent_days=abc"] {
        let r = post(server, "/office/settings/medication", &admin, bad);
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
    }
    // The doctor's summary says which window it shows; the doctor cannot change it.
    let doctor = html_login(server, "doctor", DEMO_PASSWORD, demo.secret("doctor"), 0);
    let r = get(server, &format!("/patients/{}", demo.consented), &doctor);
    assert_eq!(r.status, 200);
    assert!(r.body.contains("直近14日以内"), "{}", r.body);
    let r = post(
        server,
        "/office/settings/medication",
        &doctor,
        "recent_days=90",
    );
    assert_eq!(r.status, 403);
}
