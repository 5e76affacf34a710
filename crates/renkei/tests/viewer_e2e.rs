//! The clinician's screens end to end on the real binary (`renkei serve --demo`): sign in
//! through the HTML form, search by kana, open the timeline, page on with the cursor (plain
//! link and htmx fragment), open a record's detail; a non-consenting patient is not found and
//! its timeline shows only refusals.

mod common;

use serde_json::Value;

use common::{body, enc, get_with, post_login, totp, DemoServer, DEMO_PASSWORD};

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
    let demo = DemoServer::start(12);
    let server = &demo.server;
    let (open, closed) = (&demo.consented, &demo.refused);

    // Sign in through the form: the home page is the search.
    let r = post_login(
        server,
        "doctor",
        DEMO_PASSWORD,
        &totp(demo.secret("doctor"), 0),
    );
    let resp = format!("{}\r\n\r\n{}", r.head, r.body);
    assert_eq!(r.status, 303, "{resp}");
    assert!(resp.to_ascii_lowercase().contains("location: /search"));
    let cookie = r.cookie().expect("session cookie");
    let c = format!("Cookie: {cookie}\r\n");
    let (status, page) = get_with(server, "/search", &c);
    assert_eq!(status, 200);
    assert!(page.contains("autofocus") && page.contains("no-store"));

    // The consenting patient's kana name, from the JSON search by regional ID.
    let (status, resp) = get_with(server, &format!("/api/v1/search?regional_id={open}"), &c);
    assert_eq!(status, 200, "{resp}");
    let json: Value = serde_json::from_str(body(&resp)).expect("json");
    let kana = json["hits"][0]["name_kana"]
        .as_str()
        .expect("kana")
        .to_owned();
    let family = kana.split([' ', '　']).next().expect("family").to_owned();

    // Search by kana (typed in hiragana): the patient is a result row linking to the patient.
    let (status, page) = get_with(
        server,
        &format!("/search?name={}", enc(&hiragana(&family))),
        &c,
    );
    assert_eq!(status, 200);
    assert!(page.contains("class=\"patient-result\""), "{page}");
    assert!(
        page.contains(&format!("class=\"patient-link\" href=\"/patients/{open}\"")),
        "{page}"
    );
    // Bad input names the field; a non-consenting patient is simply not there.
    let (status, page) = get_with(server, "/search?birth_date=1950-13-45", &c);
    assert_eq!(status, 400);
    assert!(page.contains("生年月日") && page.contains("birth date"));
    let (status, page) = get_with(server, &format!("/search?regional_id={closed}"), &c);
    assert_eq!(status, 200);
    assert!(page.contains("該当する患者はいません"));
    assert!(!page.contains("patient-result"));

    // The timeline, 5 items a page: page 2 through the plain link, then through htmx.
    let (status, page) = get_with(server, &format!("/patients/{open}/timeline?limit=5"), &c);
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
    let (status, page2) = get_with(server, &more, &c);
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
    let (status, fragment) = get_with(server, &more, &format!("{c}HX-Request: true\r\n"));
    assert_eq!(status, 200);
    assert!(!fragment.contains("<html"), "htmx gets the items only");
    assert!(fragment.contains("class=\"timeline-item"));

    // A record's detail: header, segments, version history.
    let href = unescape(
        attrs(&page, "class=\"record-link\"", "href")
            .first()
            .expect("record link"),
    );
    let (status, detail) = get_with(server, &href, &c);
    assert_eq!(status, 200, "{detail}");
    assert!(detail.contains("id=\"record-header\""));
    assert!(detail.contains("id=\"segments\"") && detail.contains("MSH-9"));
    assert!(detail.contains("id=\"history\""));
    let (status, _) = get_with(server, &format!("/patients/{open}/records/999999999"), &c);
    assert_eq!(status, 404);

    // The non-consenting patient: a timeline of refusals with their reason, no items.
    let (status, page) = get_with(server, &format!("/patients/{closed}/timeline"), &c);
    assert_eq!(status, 200);
    assert!(page.contains("class=\"refused\""));
    assert!(!page.contains("class=\"timeline-item"));
    let (status, resp) = get_with(
        server,
        &format!("/api/v1/patients/{open}/timeline?limit=3"),
        &c,
    );
    assert_eq!(status, 200);
    let json: Value = serde_json::from_str(body(&resp)).expect("json");
    assert_eq!(json["items"].as_array().map(Vec::len), Some(3));
    assert!(json["next_cursor"].is_string());

    // Issue 14: timeline items carry a one-line preview of their content (drugs, abnormal
    // results, diagnoses …), in the page and in the API.
    let (status, page) = get_with(server, &format!("/patients/{open}/timeline?limit=100"), &c);
    assert_eq!(status, 200);
    let previews = page.matches("<div class=\"preview\">").count();
    assert!(previews > 10, "{previews} previews in {page}");
    let (_, resp) = get_with(
        server,
        &format!("/api/v1/patients/{open}/timeline?limit=100"),
        &c,
    );
    let json: Value = serde_json::from_str(body(&resp)).expect("json");
    let with_preview = json["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|i| i["preview"].as_str().is_some_and(|p| !p.is_empty()))
        .count();
    assert_eq!(with_preview, previews, "the page and the API say the same");
}
