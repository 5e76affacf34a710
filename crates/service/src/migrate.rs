//! Moving a whole network from one store to another (`renkei migrate`), e.g. from the
//! embedded SQLite store to PostgreSQL when a network outgrows one machine.
//!
//! The copy is the replication stream: the target becomes a replica of the source, takes
//! every registry change, audit entry and file version with its contents (re-deriving the
//! record index and clinical facts from the raw files, as any replica does), then becomes the
//! primary. Nothing is translated table by table, so whatever a replica keeps, a migration
//! keeps, whichever direction. Afterwards both stores are compared — counts, every
//! facility's content digest, the registry's final rows, the audit chain's head, and the
//! target's packs checked against their hashes — and any difference is reported.

use std::collections::BTreeMap;

use serde::Serialize;
use sha2::Digest;
use store::{FeedCursor, NodeRole, Store};

use crate::offsite::SHIPMENT_ITEMS;
use crate::{Network, Result, ServiceError};

/// One compared figure.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub what: String,
    pub source: String,
    pub target: String,
    pub same: bool,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct MigrateReport {
    pub shipments: u64,
    pub versions: u64,
    pub registry_changes: u64,
    pub audit_entries: u64,
    pub checks: Vec<Check>,
}

impl MigrateReport {
    pub fn ok(&self) -> bool {
        self.checks.iter().all(|c| c.same)
    }
}

/// The primary key of each journaled registry table (the journal's rows are keyed by it).
const REGISTRY_KEYS: &[(&str, &[&str])] = &[
    ("facilities", &["id"]),
    ("regional_ids", &["seq"]),
    ("links", &["id"]),
    ("merges", &["id"]),
    ("consents", &["id"]),
    ("users", &["login"]),
    ("api_keys", &["prefix"]),
    ("settings", &["key"]),
];

impl Network {
    /// Copy this network into `target`, which must be empty, and compare the two. `actor`
    /// names who ran it (audited in the source before the copy, so the copy carries it).
    /// `progress` is called with the number of file versions copied so far.
    pub async fn migrate_to(
        &self,
        target: &Network,
        actor: &str,
        describe_target: &str,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<MigrateReport> {
        if !matches!(self.store.node_role().await?, NodeRole::Primary) {
            return Err(ServiceError::Conflict(
                "the source is a replica: migrate the primary (or promote this one first)".into(),
            ));
        }
        target.become_replica().await.map_err(|e| match e {
            ServiceError::Conflict(_) => ServiceError::Conflict(
                "the target already holds a network: migrate into an empty database".into(),
            ),
            other => other,
        })?;
        let mut event = audit::Event::new(
            model::UnixTime::now(),
            actor.to_owned(),
            audit::Action::Export,
        );
        event.target = "whole network".into();
        event.detail = format!("migrated to {describe_target}");
        self.store.append_audit(vec![event]).await?;

        let mut report = MigrateReport::default();
        let mut cursor = FeedCursor::default();
        loop {
            let feed = self.store.feed(&cursor, SHIPMENT_ITEMS).await?;
            if feed.is_empty() {
                break;
            }
            report.shipments += 1;
            report.versions += feed.versions.len() as u64;
            report.registry_changes += feed.registry.len() as u64;
            report.audit_entries += feed.audit.len() as u64;
            cursor = feed.next;
            let contents = self.contents_of(&feed).await?;
            target.apply_shipment(feed, contents).await?;
            progress(report.versions);
        }
        target.store.set_node_role(&NodeRole::Primary).await?;
        report.checks = compare(self.store.as_ref(), target.store.as_ref()).await?;
        Ok(report)
    }
}

/// Every figure that must agree between a network and its copy.
pub async fn compare(source: &dyn Store, target: &dyn Store) -> Result<Vec<Check>> {
    let mut checks = Vec::new();
    let mut check = |what: &str, s: String, t: String| {
        checks.push(Check {
            what: what.to_owned(),
            same: s == t,
            source: s,
            target: t,
        })
    };
    let (a, b) = (source.stats().await?, target.stats().await?);
    check(
        "facilities",
        a.facilities.to_string(),
        b.facilities.to_string(),
    );
    check("files (current)", a.files.to_string(), b.files.to_string());
    check(
        "file versions",
        a.file_versions.to_string(),
        b.file_versions.to_string(),
    );
    check(
        "records (live)",
        a.current_records.to_string(),
        b.current_records.to_string(),
    );
    check(
        "quarantined files",
        a.quarantined.to_string(),
        b.quarantined.to_string(),
    );
    check(
        "distinct contents",
        a.blobs.to_string(),
        b.blobs.to_string(),
    );
    check(
        "raw bytes",
        a.raw_bytes.to_string(),
        b.raw_bytes.to_string(),
    );
    for (id, code) in source.facilities().await? {
        let s = source.content_digest(id).await?;
        let t = match target.facility(&code, false).await? {
            Some(tid) => target.content_digest(tid).await?,
            None => "missing".into(),
        };
        check(&format!("facility {code} content digest"), s, t);
    }
    let (rs, rt) = (registry_state(source).await?, registry_state(target).await?);
    for (table, _) in REGISTRY_KEYS {
        let describe = |m: &BTreeMap<&str, (usize, String)>| {
            m.get(table)
                .map(|(n, d)| format!("{n} rows, {}", &d[..16]))
                .unwrap_or_else(|| "0 rows".into())
        };
        check(&format!("registry {table}"), describe(&rs), describe(&rt));
    }
    let head = |h: Option<(u64, [u8; 32])>| match h {
        Some((seq, hash)) => format!("{seq} {}", &store::packs::hex(&hash)[..16]),
        None => "empty".into(),
    };
    check(
        "audit chain head",
        head(source.audit_head().await?),
        head(target.audit_head().await?),
    );
    let blobs = target.verify_blobs().await?;
    check(
        "target packs checked against their hashes",
        "-".into(),
        if blobs.problems.is_empty() {
            "-".into()
        } else {
            format!("{} damaged packs", blobs.problems.len())
        },
    );
    Ok(checks)
}

/// Each registry table's final rows, replayed from the replication journal: (row count,
/// digest of the rows in key order).
async fn registry_state(store: &dyn Store) -> Result<BTreeMap<&'static str, (usize, String)>> {
    let mut rows: BTreeMap<&'static str, BTreeMap<String, String>> = BTreeMap::new();
    // Only the registry part of the feed: the other two cursors start past the end.
    let mut cursor = FeedCursor {
        registry: 0,
        audit: u64::MAX >> 1,
        version: i64::MAX,
    };
    loop {
        let feed = store.feed(&cursor, SHIPMENT_ITEMS).await?;
        if feed.registry.is_empty() {
            break;
        }
        cursor.registry = feed.next.registry;
        for change in feed.registry {
            let Some((table, keys)) = REGISTRY_KEYS.iter().find(|(t, _)| *t == change.table) else {
                continue;
            };
            let key: Vec<String> = keys
                .iter()
                .map(|k| {
                    change
                        .row
                        .get(*k)
                        .map(|v| v.to_string())
                        .unwrap_or_default()
                })
                .collect();
            let key = key.join("\u{1F}");
            let table_rows = rows.entry(table).or_default();
            match change.op {
                store::RowOp::Upsert => {
                    // serde_json's Map is ordered by key: the same row prints the same.
                    let text = serde_json::Value::Object(change.row).to_string();
                    table_rows.insert(key, text);
                }
                store::RowOp::Delete => {
                    table_rows.remove(&key);
                }
            }
        }
    }
    Ok(rows
        .into_iter()
        .map(|(table, rows)| {
            let mut h = sha2::Sha256::new();
            for (k, v) in &rows {
                h.update(k.as_bytes());
                h.update(b"\x1e");
                h.update(v.as_bytes());
                h.update(b"\n");
            }
            (table, (rows.len(), store::packs::hex(&h.finalize())))
        })
        .collect())
}
