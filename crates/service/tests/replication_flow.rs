//! A replica built from a primary's shipments holds the same network: every facility's content
//! digest (files, versions, records derived again from the same bytes), the registry (regional
//! IDs, links, users) and the audit chain, whose head it answers (to vouch for the primary's
//! log). Promotion ends the shipments.

mod common;

use std::sync::Arc;

use service::{Network, ServiceError};
use store::{FeedCursor, NodeRole, Store};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_holds_the_same_network_and_promotion_ends_shipments() {
    let fx = common::imported_region(40, 21).await;
    let enrolled = common::enrolled_pair(&fx.net, &fx.store).await;

    let dir = tempfile::tempdir().expect("tmp");
    let replica_store: Arc<dyn Store> =
        Arc::new(store_sqlite::SqliteStore::open(dir.path()).expect("replica store"));
    let replica = Network::new(replica_store.clone());
    replica
        .become_replica()
        .await
        .expect("an empty folder becomes a replica");

    // Ship in small pieces, through the wire format, until nothing is left.
    let mut cursor = FeedCursor::default();
    let mut shipments = 0;
    loop {
        let feed = fx.store.feed(&cursor, 300).await.expect("feed");
        if feed.is_empty() {
            break;
        }
        let mut shas: Vec<_> = feed.versions.iter().filter_map(|v| v.sha256).collect();
        shas.sort();
        shas.dedup();
        let bytes = fx.store.read_blobs(&shas).await.expect("blobs");
        let contents = shas.into_iter().zip(bytes).collect();
        let body = replication::wire::encode(&feed, &contents).expect("encode");
        let (feed, contents) = replication::wire::decode(&body).expect("decode");
        let applied = replica
            .apply_shipment(feed.clone(), contents)
            .await
            .expect("apply");
        assert_eq!(applied.applied, feed.next);
        // The same shipment again changes nothing (a lost answer is resent).
        let contents_again = {
            let mut shas: Vec<_> = feed.versions.iter().filter_map(|v| v.sha256).collect();
            shas.sort();
            shas.dedup();
            let bytes = fx.store.read_blobs(&shas).await.expect("blobs");
            shas.into_iter().zip(bytes).collect()
        };
        replica
            .apply_shipment(feed.clone(), contents_again)
            .await
            .expect("apply again");
        cursor = feed.next;
        shipments += 1;
    }
    assert!(shipments > 3, "{shipments} shipments");

    for (id, code) in fx.store.facilities().await.expect("facilities") {
        let rid = replica_store
            .facility(&code, false)
            .await
            .expect("lookup")
            .expect("facility replicated");
        assert_eq!(
            replica_store.content_digest(rid).await.expect("digest"),
            fx.store.content_digest(id).await.expect("digest"),
            "facility {code}"
        );
    }
    assert_eq!(
        replica_store.audit_head().await.expect("head"),
        fx.store.audit_head().await.expect("head"),
        "the audit chain, entry for entry"
    );
    assert_eq!(
        replica_store.links_of(&enrolled.id).await.expect("links"),
        fx.store.links_of(&enrolled.id).await.expect("links"),
        "the regional ID's links"
    );
    assert!(
        replica_store.user("office").await.expect("user").is_some(),
        "users"
    );

    // The replica answers the head of its copy of the chain, which vouches for the primary's
    // log (a cut end is caught: audit_anchor_flow, offsite_e2e); a site holding nothing
    // vouches for nothing, and says so.
    let status = replica.replica_status().await.expect("status");
    let shipped = status.audit_head.expect("the replica holds the chain");
    assert_eq!(
        Some((shipped.seq, shipped.hash)),
        fx.store.audit_head().await.expect("head")
    );
    let vouch = [service::HeadReference {
        source: "site dc-test".into(),
        head: Some(shipped),
    }];
    let report = fx
        .net
        .audit_verify_against(&enrolled.office, &vouch)
        .await
        .expect("verify");
    assert!(report.ok(), "{:?}", report.problems);
    let nothing = [service::HeadReference {
        source: "site empty".into(),
        head: None,
    }];
    let report = fx
        .net
        .audit_verify_against(&enrolled.office, &nothing)
        .await
        .expect("verify");
    assert!(
        report.problems.iter().any(|p| p.contains("cannot vouch")),
        "{:?}",
        report.problems
    );

    // A primary refuses shipments; a promoted replica too.
    let feed = fx
        .store
        .feed(&FeedCursor::default(), 10)
        .await
        .expect("feed");
    assert!(matches!(
        fx.net
            .apply_shipment(feed.clone(), Default::default())
            .await,
        Err(ServiceError::Conflict(_))
    ));
    replica.promote("local:test").await.expect("promote");
    assert_eq!(
        replica_store.node_role().await.expect("role"),
        NodeRole::Primary
    );
    assert!(matches!(
        replica.apply_shipment(feed, Default::default()).await,
        Err(ServiceError::Conflict(_))
    ));
    assert!(replica.promote("local:test").await.is_err(), "only once");
    // A folder holding a network cannot become a replica.
    assert!(fx.net.become_replica().await.is_err());
}
