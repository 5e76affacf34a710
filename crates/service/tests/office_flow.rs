//! What the office screens add to the service: linking a reviewed candidate pair (new ID,
//! join, already linked, two IDs refused), the merges of an ID, demographics for matching
//! (audited without names), the cheap audit tail check (and that it notices an edit near the
//! end), and a clinician refused — and logged — on the office screens.

use model::Profession;
use service::{Network, PairLinked, ServiceError};

mod common;

use common::{add_user, enrolled_pair, sign_in};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn office_links_pairs_checks_the_audit_tail_and_refuses_clinicians() {
    let common::Fixture {
        dir: _dir,
        net,
        store,
        data,
        ..
    } = common::imported_region(12, 5).await;
    let fx = enrolled_pair(&net, &store).await;
    let office = &fx.office;

    // The enrolled pair again: nothing to do.
    assert_eq!(
        net.link_pair(office, &fx.a, &fx.b).await.expect("again"),
        PairLinked::AlreadyLinked(fx.id.clone())
    );
    // End one side's link: linking the pair joins it back to the same ID.
    net.unlink(office, &fx.b).await.expect("unlink");
    assert_eq!(
        net.link_pair(office, &fx.a, &fx.b).await.expect("join"),
        PairLinked::Joined(fx.id.clone())
    );
    // Both sides unlinked: a new ID for both.
    net.unlink(office, &fx.a).await.expect("unlink a");
    net.unlink(office, &fx.b).await.expect("unlink b");
    let new_id = match net.link_pair(office, &fx.a, &fx.b).await.expect("enrol") {
        PairLinked::Enrolled(id) => id,
        other => panic!("expected a new ID, got {other:?}"),
    };
    assert_ne!(new_id, fx.id);
    // Two different IDs: a merge, decided by a person, not a link.
    net.unlink(office, &fx.b).await.expect("unlink b");
    net.link(office, &fx.id, &fx.b)
        .await
        .expect("b back to the old id");
    let e = net
        .link_pair(office, &fx.a, &fx.b)
        .await
        .expect_err("two ids");
    assert!(matches!(e, ServiceError::Conflict(_)), "{e}");
    assert!(net.link_pair(office, &fx.a, &fx.a).await.is_err());
    // b's link to new_id was ended by this user a moment ago: the merge must not move it.
    let m = net.merge(office, &new_id, &fx.id).await.expect("merge");
    let merges = net.merges_of(office, &fx.id).await.expect("merges");
    assert_eq!(merges.len(), 1);
    assert_eq!(merges[0].id, m.id);
    assert_eq!(
        net.merges_of(office, &new_id).await.expect("merges").len(),
        1
    );

    // Demographics for the office's judgement: given, and audited without names.
    let d = net
        .local_demographics(office, &[fx.a.clone(), fx.b.clone()])
        .await
        .expect("demographics");
    let name = d[0].as_ref().expect("imported patient").name_kanji.clone();
    let activity = net.user_activity(office, "office").await.expect("activity");
    let read = activity
        .iter()
        .rev()
        .find(|e| e.event.target == "demographics for matching")
        .expect("the read is audited");
    assert!(read.event.detail.contains(&fx.a.local_id));
    assert!(!name.is_empty() && !read.event.detail.contains(&name));

    // The facility overview is for the office.
    assert!(!net
        .facility_overview(office)
        .await
        .expect("overview")
        .is_empty());

    // A clinician on an office screen: refused, and the refusal is logged.
    let fac = store.facilities().await.expect("facilities")[0].1.clone();
    add_user(&net, &fx.admin, "dr", Profession::Doctor, vec![fac]).await;
    let dr = sign_in(&net, "dr", None, 0).await;
    let e = net
        .require_office_screen(&dr, "dashboard")
        .await
        .expect_err("doctor");
    assert!(matches!(e, ServiceError::Forbidden(_)));
    assert!(net.facility_overview(&dr).await.is_err());
    assert!(net.link_pair(&dr, &fx.a, &fx.b).await.is_err());
    let refused = net.user_activity(office, "dr").await.expect("dr activity");
    assert!(refused.iter().any(|e| matches!(
        &e.event.outcome,
        audit::Outcome::Refused { code, .. } if code == "not_office"
    ) && e.event.target == "dashboard"));

    // The tail check: intact, then an edit among the newest entries is found.
    let tail = net.audit_tail(office, 10).await.expect("tail");
    assert!(tail.problems.is_empty(), "{:?}", tail.problems);
    assert_eq!(tail.checked, 10);
    assert!(tail.entries > 10, "{}", tail.entries);
    let edited = tail.entries - 3;
    drop(net);
    let conn = rusqlite::Connection::open(data.join("renkei.db")).expect("db");
    conn.execute_batch(&format!(
        "DROP TRIGGER audit_no_update; UPDATE audit_log SET event = replace(event, '\"detail\":\"', '\"detail\":\"edited ') WHERE seq = {edited};"
    ))
    .expect("tamper");
    drop(conn);
    let net = Network::new(store.clone()).with_test_hashing();
    let tail = net.audit_tail(office, 10).await.expect("tail");
    assert!(
        tail.problems
            .iter()
            .any(|p| p.contains(&format!("entry {edited} was edited"))),
        "{:?}",
        tail.problems
    );
}
