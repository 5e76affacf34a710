//! Replication streams, point-in-time reads and blob checks on PostgreSQL.
//!
//! The same streams as the embedded store (see [`store::replication`]), with what a shared
//! database needs on top:
//! - the feed reads its three streams in one `REPEATABLE READ` snapshot; journal rows and
//!   file versions commit in id order (their writers hold an advisory lock from taking the id
//!   to commit, see [`crate::schema`]), so "after cursor N" never skips a row;
//! - a replica applies registry rows with their primary's ids, then moves the identity
//!   sequences past them, so that once promoted it does not hand out an id already taken;
//! - packs are read from the blob store (a folder or S3), several at a time.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use futures::{StreamExt, TryStreamExt};
use model::Sha256;
use sqlx::{PgConnection, PgPool, Row};
use store::packs::{decode_frame, hex, sha256};
use store::{
    Backlog, BlobLocation, BlobReport, FacilityId, Feed, FeedCursor, ImportRunId, LocalPacks,
    NodeRole, PackBuilder, PackProblem, RegistryChange, Replication, Result, RowOp, SiteState,
    StoreError, StoredFile,
};

use crate::schema::{columns, AUDIT_LOCK, JOURNALED, VERSIONS_LOCK};
use crate::{db_err, now, sha_from, PgStore};

/// Packs read from the blob store at once by a verify (S3 latency, bounded memory).
const PACKS_IN_FLIGHT: usize = 8;

/// Below this many items behind, a backlog is counted exactly; above it, estimated from the
/// ids (PostgreSQL sequences leave gaps where a transaction rolled back).
const EXACT_BACKLOG: i64 = 10_000;

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

fn task_err(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Blob {
        path: what.to_owned(),
        source: std::io::Error::other(e.to_string()),
    }
}

/// CPU work (hashing, decompression) off the async workers.
async fn blocking<T: Send + 'static>(
    what: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| task_err(what, e))
}

/// Upper- or lower-case hex, as the journal writes BYTEA columns.
fn unhex(s: &str) -> std::result::Result<Vec<u8>, String> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    let b = s.as_bytes();
    if !b.len().is_multiple_of(2) {
        return Err("odd number of hex digits".into());
    }
    b.chunks(2)
        .map(|p| match (nibble(p[0]), nibble(p[1])) {
            (Some(h), Some(l)) => Ok(h << 4 | l),
            _ => Err(format!("invalid hex digit in {s:?}")),
        })
        .collect()
}

async fn read_feed(conn: &mut PgConnection, after: &FeedCursor, limit: usize) -> Result<Feed> {
    let limit = limit.clamp(1, i64::MAX as usize) as i64;
    let mut feed = Feed {
        next: *after,
        ..Feed::default()
    };
    let rows = sqlx::query(
        "SELECT seq, tbl, op, row, journaled_at FROM replication_journal WHERE seq > $1 ORDER BY seq LIMIT $2",
    )
    .bind(after.registry)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?;
    for r in &rows {
        let seq: i64 = r.try_get(0).map_err(db_err)?;
        let table: String = r.try_get(1).map_err(db_err)?;
        let op: String = r.try_get(2).map_err(db_err)?;
        let json: String = r.try_get(3).map_err(db_err)?;
        let at: Option<String> = r.try_get(4).map_err(db_err)?;
        let op = match op.as_str() {
            "upsert" => RowOp::Upsert,
            "delete" => RowOp::Delete,
            other => return Err(corrupt("replication journal", format!("operation {other}"))),
        };
        let row = match serde_json::from_str::<serde_json::Value>(&json) {
            Ok(serde_json::Value::Object(m)) => m,
            Ok(_) => return Err(corrupt("replication journal", "row is not an object")),
            Err(e) => return Err(corrupt("replication journal", e)),
        };
        feed.next.registry = seq;
        feed.registry.push(RegistryChange {
            seq,
            table,
            op,
            row,
            at,
        });
    }
    feed.audit = crate::registry::audit_after(conn, after.audit, limit).await?;
    if let Some(last) = feed.audit.last() {
        feed.next.audit = last.seq;
    }
    // A version may belong to a facility registered by a change not in this feed yet: ship
    // versions only once the registry has caught up.
    if (feed.registry.len() as i64) < limit {
        let rows = sqlx::query(
            r#"SELECT v.id, fa.code, f.path, v.sha256, v.size, v.recorded_at,
                      p.name, b.frame_offset, b.frame_len, b."offset", v.accept_unterminated
               FROM file_versions v
               JOIN files f ON f.id = v.file_id
               JOIN facilities fa ON fa.id = f.facility_id
               LEFT JOIN blobs b ON b.sha256 = v.sha256
               LEFT JOIN packs p ON p.id = b.pack_id
               WHERE v.id > $1 ORDER BY v.id LIMIT $2"#,
        )
        .bind(after.version)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
        for r in &rows {
            let version = store::VersionRow {
                id: r.try_get(0).map_err(db_err)?,
                facility: r.try_get(1).map_err(db_err)?,
                path: r.try_get(2).map_err(db_err)?,
                sha256: r.try_get(3).map_err(db_err)?,
                size: r.try_get(4).map_err(db_err)?,
                recorded_at: r.try_get(5).map_err(db_err)?,
                pack: r.try_get(6).map_err(db_err)?,
                frame_offset: r.try_get(7).map_err(db_err)?,
                frame_len: r.try_get(8).map_err(db_err)?,
                offset: r.try_get(9).map_err(db_err)?,
                accept_unterminated: r.try_get(10).map_err(db_err)?,
            }
            .into_feed_version()?;
            feed.next.version = version.id;
            feed.versions.push(version);
        }
    }
    Ok(feed)
}

async fn read_backlog(pool: &PgPool, after: &FeedCursor) -> Result<Backlog> {
    // Audit sequence numbers have no gaps (the chain forbids them): "how many after the
    // cursor" is the newest minus the cursor, O(1) even for a site far behind. Journal and
    // version ids come from sequences, which skip the ids of rolled-back transactions: they
    // are counted when few, estimated the same way when many.
    let row = sqlx::query(
        r#"SELECT
             (SELECT CASE WHEN m - $1 <= $4 THEN (SELECT COUNT(*) FROM replication_journal WHERE seq > $1)
                          ELSE m - $1 END
              FROM (SELECT COALESCE(MAX(seq), 0) AS m FROM replication_journal) j) AS registry,
             (SELECT COALESCE(MAX(seq), 0) - $2 FROM audit_log) AS audit,
             (SELECT CASE WHEN m - $3 <= $4 THEN (SELECT COUNT(*) FROM file_versions WHERE id > $3)
                          ELSE m - $3 END
              FROM (SELECT COALESCE(MAX(id), 0) AS m FROM file_versions) v) AS versions,
             (SELECT recorded_at FROM file_versions WHERE id > $3 ORDER BY id LIMIT 1) AS oldest"#,
    )
    .bind(after.registry)
    .bind(after.audit as i64)
    .bind(after.version)
    .bind(EXACT_BACKLOG)
    .fetch_one(pool)
    .await
    .map_err(db_err)?;
    let count = |name: &str| -> Result<u64> {
        Ok(row
            .try_get::<Option<i64>, _>(name)
            .map_err(db_err)?
            .unwrap_or(0)
            .max(0) as u64)
    };
    Ok(Backlog {
        registry: count("registry")?,
        audit: count("audit")?,
        versions: count("versions")?,
        oldest_version_at: row.try_get("oldest").map_err(db_err)?,
    })
}

/// One typed bind of a replicated column (NULLs keep their type: PostgreSQL needs it).
#[derive(Debug, Clone, PartialEq)]
enum Bind {
    Int(Option<i64>),
    Float(Option<f64>),
    Bool(Option<bool>),
    Bytes(Option<Vec<u8>>),
    /// Text, or any other type in its text form (cast by the statement).
    Text(Option<String>),
}

/// A JSON value of a journal row as the bind for a column of PostgreSQL type `ty`
/// (`format_type`: "bigint", "text", "bytea", …).
fn pg_value(table: &str, column: &str, ty: &str, v: &serde_json::Value) -> Result<Bind> {
    use serde_json::Value as J;
    let what = || format!("replicated {table}.{column}");
    let unexpected = |v: &J| corrupt(&what(), format!("unexpected value {v} for a {ty} column"));
    Ok(match ty {
        "bigint" | "integer" | "smallint" => Bind::Int(match v {
            J::Null => None,
            J::Bool(b) => Some(*b as i64),
            J::Number(n) => Some(n.as_i64().ok_or_else(|| unexpected(v))?),
            J::String(s) => Some(s.trim().parse().map_err(|_| unexpected(v))?),
            _ => return Err(unexpected(v)),
        }),
        "double precision" | "real" => Bind::Float(match v {
            J::Null => None,
            J::Number(n) => Some(n.as_f64().ok_or_else(|| unexpected(v))?),
            _ => return Err(unexpected(v)),
        }),
        "boolean" => Bind::Bool(match v {
            J::Null => None,
            J::Bool(b) => Some(*b),
            J::Number(n) => Some(n.as_i64().ok_or_else(|| unexpected(v))? != 0),
            _ => return Err(unexpected(v)),
        }),
        "bytea" => Bind::Bytes(match v {
            J::Null => None,
            J::String(s) => Some(unhex(s).map_err(|e| corrupt(&what(), e))?),
            _ => return Err(unexpected(v)),
        }),
        _ => Bind::Text(match v {
            J::Null => None,
            J::String(s) => Some(s.clone()),
            J::Number(n) => Some(n.to_string()),
            J::Bool(b) => Some((*b as i64).to_string()),
            _ => return Err(unexpected(v)),
        }),
    })
}

/// Identity columns of a table (their sequences must follow rows inserted with their ids).
async fn identity_columns(conn: &mut PgConnection, table: &str) -> Result<Vec<String>> {
    let rows = sqlx::query(
        "SELECT attname::text FROM pg_attribute
         WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped AND attidentity <> ''
         ORDER BY attnum",
    )
    .bind(table)
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?;
    rows.iter().map(|r| r.try_get(0).map_err(db_err)).collect()
}

/// Move the identity sequences of `table` past its highest id (never back), so that the next
/// row inserted here without an id (after a promotion) does not take a replicated row's id.
pub(crate) async fn advance_identities(conn: &mut PgConnection, table: &str) -> Result<()> {
    for column in identity_columns(conn, table).await? {
        sqlx::query(&format!(
            r#"SELECT setval(s.seq, x.m)
               FROM (SELECT pg_get_serial_sequence($1, $2)::regclass AS seq) s,
                    (SELECT MAX("{column}") AS m FROM "{table}") x
               WHERE s.seq IS NOT NULL AND x.m IS NOT NULL
                 AND x.m > COALESCE(pg_sequence_last_value(s.seq), 0)"#
        ))
        .bind(table)
        .bind(&column)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    }
    Ok(())
}

type Columns = Vec<(String, String, bool)>;

async fn apply_change(
    conn: &mut PgConnection,
    known: &mut HashMap<&'static str, Columns>,
    change: &RegistryChange,
) -> Result<&'static str> {
    if change.op == RowOp::Delete {
        // renkei never deletes a registry row (links are ended, consents withdrawn, users
        // deactivated): a deletion in a shipment means the primary's database was changed
        // behind renkei — possibly by an attacker erasing history. The copy keeps the row and
        // refuses; the primary's office sees the error with the site's lag.
        return Err(StoreError::Conflict(format!(
            "shipment deletes a row of {} ({}): renkei never deletes registry rows, so the primary's database was changed outside renkei; this copy keeps the row and refuses the shipment",
            change.table,
            serde_json::Value::Object(change.row.clone())
        )));
    }
    let table: &'static str = JOURNALED
        .iter()
        .find(|t| **t == change.table)
        .ok_or_else(|| {
            corrupt(
                "replicated change",
                format!("unknown table {}", change.table),
            )
        })?;
    if !known.contains_key(table) {
        let cols = columns(conn, table).await?;
        known.insert(table, cols);
    }
    let cols = &known[table];
    let mut names = Vec::new();
    let mut marks = Vec::new();
    let mut values = Vec::new();
    for (name, v) in &change.row {
        // Only this store's own column names reach the SQL text.
        let (col, ty, _) = cols.iter().find(|c| &c.0 == name).ok_or_else(|| {
            corrupt(
                "replicated change",
                format!("{table} has no column {name} (is this renkei older than the primary?)"),
            )
        })?;
        names.push(format!("\"{col}\""));
        marks.push(format!("${}::{ty}", names.len()));
        values.push(pg_value(table, col, ty, v)?);
    }
    let keys: Vec<String> = cols
        .iter()
        .filter(|c| c.2)
        .map(|c| format!("\"{}\"", c.0))
        .collect();
    if keys.is_empty() {
        return Err(corrupt(
            "replicated change",
            format!("{table} has no primary key here"),
        ));
    }
    let sets: Vec<String> = names
        .iter()
        .filter(|n| !keys.contains(n))
        .map(|n| format!("{n} = EXCLUDED.{n}"))
        .collect();
    let on_conflict = if sets.is_empty() {
        "DO NOTHING".to_owned()
    } else {
        format!("DO UPDATE SET {}", sets.join(", "))
    };
    let sql = format!(
        "INSERT INTO \"{table}\"({}) VALUES ({}) ON CONFLICT({}) {on_conflict}",
        names.join(", "),
        marks.join(", "),
        keys.join(", ")
    );
    let mut query = sqlx::query(&sql);
    for v in values {
        query = match v {
            Bind::Int(x) => query.bind(x),
            Bind::Float(x) => query.bind(x),
            Bind::Bool(x) => query.bind(x),
            Bind::Bytes(x) => query.bind(x),
            Bind::Text(x) => query.bind(x),
        };
    }
    query.execute(&mut *conn).await.map_err(|e| {
        StoreError::Database(format!(
            "applying replicated change {} to {table}: {e}",
            change.seq
        ))
    })?;
    Ok(table)
}

/// Append a primary's entries as they are, under the audit lock. Each must continue this
/// chain: its hash is recomputed from the previous one and its event, so a replica never
/// holds an entry the primary's chain would not verify. Entries already here must be the same
/// entries. Returns the new head when something was appended.
/// Returns, when something was appended, the chain's head before and after.
#[allow(clippy::type_complexity)]
pub(crate) async fn append_replicated_audit(
    pool: &PgPool,
    entries: &[audit::Entry],
) -> Result<Option<(Option<(u64, [u8; 32])>, (u64, [u8; 32]))>> {
    if entries.is_empty() {
        return Ok(None);
    }
    let mut tx = pool.begin().await.map_err(db_err)?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(AUDIT_LOCK)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    let mut head: Option<(u64, [u8; 32])> = None;
    if let Some(r) = sqlx::query("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?
    {
        let seq: i64 = r.try_get(0).map_err(db_err)?;
        let hash: Vec<u8> = r.try_get(1).map_err(db_err)?;
        let hash: [u8; 32] = hash
            .try_into()
            .map_err(|_| StoreError::Corrupt("audit hash is not 32 bytes".into()))?;
        head = Some((seq as u64, hash));
    }
    let previous = head;
    // Entries of this shipment already here (a shipment sent again): their hashes, at once.
    let stored_head = head.map(|(seq, _)| seq).unwrap_or(0);
    let present: Vec<i64> = entries
        .iter()
        .filter(|e| e.seq <= stored_head)
        .map(|e| e.seq as i64)
        .collect();
    let mut here: HashMap<u64, Vec<u8>> = HashMap::new();
    if !present.is_empty() {
        let rows = sqlx::query("SELECT seq, hash FROM audit_log WHERE seq = ANY($1)")
            .bind(&present)
            .fetch_all(&mut *tx)
            .await
            .map_err(db_err)?;
        for r in &rows {
            here.insert(
                r.try_get::<i64, _>(0).map_err(db_err)? as u64,
                r.try_get(1).map_err(db_err)?,
            );
        }
    }
    let mut fresh: Vec<audit::Entry> = Vec::new();
    for entry in entries {
        let append = store::replicated_audit_step(head, entry, || {
            Ok(here.get(&entry.seq).cloned().or_else(|| {
                fresh
                    .iter()
                    .find(|e| e.seq == entry.seq)
                    .map(|e| e.hash.to_vec())
            }))
        })?;
        if append {
            head = Some((entry.seq, entry.hash));
            fresh.push(entry.clone());
        }
    }
    if fresh.is_empty() {
        return Ok(None);
    }
    crate::registry::insert_entries(&mut tx, &fresh).await?;
    tx.commit().await.map_err(db_err)?;
    Ok(head.map(|new| (previous, new)))
}

/// What is wrong with one pack, given its bytes as read (None = missing), or None when it
/// hashes to its name. For a damaged pack, each content is cut from the bytes read and checked
/// against its hash: the readable ones are kept by a repair.
async fn pack_problem(
    pool: &PgPool,
    pack_id: i64,
    name: &str,
    bytes: Option<Vec<u8>>,
) -> Result<Option<PackProblem>> {
    let (problem, bytes) = match bytes {
        None => ("missing", None),
        Some(bytes) => {
            let expected = name.to_owned();
            let (ok, bytes) = blocking(name, move || {
                let ok = hex(&sha256(&bytes).0) == expected;
                (ok, bytes)
            })
            .await?;
            if ok {
                return Ok(None);
            }
            ("corrupt", Some(bytes))
        }
    };
    let rows = sqlx::query(
        r#"SELECT sha256, frame_offset, frame_len, "offset", size FROM blobs WHERE pack_id = $1 ORDER BY sha256"#,
    )
    .bind(pack_id)
    .fetch_all(pool)
    .await
    .map_err(db_err)?;
    let mut contents = Vec::with_capacity(rows.len());
    for r in &rows {
        let sha = sha_from(r.try_get(0).map_err(db_err)?)?;
        let fo: i64 = r.try_get(1).map_err(db_err)?;
        let fl: i64 = r.try_get(2).map_err(db_err)?;
        let o: i64 = r.try_get(3).map_err(db_err)?;
        let size: i64 = r.try_get(4).map_err(db_err)?;
        contents.push((
            sha,
            BlobLocation {
                pack: name.to_owned(),
                frame_offset: fo as u64,
                frame_len: fl as u32,
                offset: o as u32,
                len: size as u32,
            },
        ));
    }
    let name = name.to_owned();
    let what = name.clone();
    blocking(&what, move || {
        let mut out = PackProblem {
            pack: name,
            problem: problem.to_owned(),
            bad_contents: Vec::new(),
            good_contents: Vec::new(),
        };
        // Decompressed frames by offset: contents of one frame are checked from one decode.
        let mut frames: HashMap<u64, Option<Vec<u8>>> = HashMap::new();
        for (sha, loc) in contents {
            let intact = match &bytes {
                None => false,
                Some(bytes) => {
                    let frame = frames.entry(loc.frame_offset).or_insert_with(|| {
                        let start = usize::try_from(loc.frame_offset).ok()?;
                        let end = start.checked_add(loc.frame_len as usize)?;
                        decode_frame(bytes.get(start..end)?).ok()
                    });
                    frame
                        .as_deref()
                        .map(|f| LocalPacks::extract(f, &loc, &sha).is_ok())
                        .unwrap_or(false)
                }
            };
            if intact {
                out.good_contents.push(sha);
            } else {
                out.bad_contents.push(sha);
            }
        }
        out
    })
    .await
    .map(Some)
}

#[async_trait]
impl Replication for PgStore {
    async fn feed(&self, after: &FeedCursor, limit: usize) -> Result<Feed> {
        // One snapshot for the three streams.
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        let feed = read_feed(&mut tx, after, limit).await;
        let _ = tx.rollback().await;
        feed
    }

    async fn backlog(&self, after: &FeedCursor) -> Result<Backlog> {
        read_backlog(&self.pool, after).await
    }

    async fn site_state(&self, site: &str) -> Result<SiteState> {
        let json: Option<String> =
            sqlx::query_scalar("SELECT state FROM replication_sites WHERE name = $1")
                .bind(site)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_err)?;
        match json {
            Some(j) => serde_json::from_str(&j).map_err(|e| corrupt("site state", e)),
            None => Ok(SiteState {
                name: site.to_owned(),
                ..SiteState::default()
            }),
        }
    }

    async fn put_site_state(&self, state: &SiteState) -> Result<()> {
        let json = serde_json::to_string(state).map_err(|e| corrupt("site state", e))?;
        sqlx::query(
            "INSERT INTO replication_sites(name, state) VALUES ($1, $2)
             ON CONFLICT(name) DO UPDATE SET state = EXCLUDED.state",
        )
        .bind(&state.name)
        .bind(json)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn node_role(&self) -> Result<NodeRole> {
        let json: Option<String> = sqlx::query_scalar("SELECT value FROM node WHERE key = 'role'")
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        match json {
            Some(j) => serde_json::from_str(&j).map_err(|e| corrupt("node role", e)),
            None => Ok(NodeRole::Primary),
        }
    }

    async fn set_node_role(&self, role: &NodeRole) -> Result<()> {
        let json = serde_json::to_string(role).map_err(|e| corrupt("node role", e))?;
        sqlx::query(
            "INSERT INTO node(key, value) VALUES ('role', $1)
             ON CONFLICT(key) DO UPDATE SET value = EXCLUDED.value",
        )
        .bind(json)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn apply_registry(&self, changes: &[RegistryChange]) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let mut known = HashMap::new();
        let mut touched: Vec<&'static str> = Vec::new();
        // The journal rows the triggers write for an applied change keep the time the primary
        // journaled it, so a copy of this copy answers `--as-of` the same.
        let last_journaled = "SELECT COALESCE(MAX(seq), 0) FROM replication_journal";
        let mut journaled: i64 = sqlx::query_scalar(last_journaled)
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err)?;
        for c in changes {
            let table = apply_change(&mut tx, &mut known, c).await?;
            if let Some(at) = &c.at {
                sqlx::query("UPDATE replication_journal SET journaled_at = $1 WHERE seq > $2")
                    .bind(at)
                    .bind(journaled)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
            }
            journaled = sqlx::query_scalar(last_journaled)
                .fetch_one(&mut *tx)
                .await
                .map_err(db_err)?;
            if !touched.contains(&table) {
                touched.push(table);
            }
        }
        for table in touched {
            advance_identities(&mut tx, table).await?;
        }
        tx.commit().await.map_err(db_err)
    }

    async fn apply_audit(&self, entries: &[audit::Entry]) -> Result<()> {
        if let Some((previous, new)) = append_replicated_audit(&self.pool, entries).await? {
            self.blobs.advance_audit_anchor(previous, new).await?;
        }
        Ok(())
    }

    async fn apply_removals(
        &self,
        facility: FacilityId,
        run: ImportRunId,
        removals: &[(String, String)],
    ) -> Result<u64> {
        if removals.is_empty() {
            return Ok(0);
        }
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        // The versions lock first, before any row is read or locked, as every writer takes it
        // (held to commit: feed cursors rely on version ids committing in order).
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(VERSIONS_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        let paths: Vec<&str> = removals.iter().map(|(p, _)| p.as_str()).collect();
        let rows = sqlx::query(
            "SELECT path, id, current_sha256 IS NOT NULL FROM files
             WHERE facility_id = $1 AND path = ANY($2) AND current_version IS NOT NULL",
        )
        .bind(facility.0)
        .bind(&paths)
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?;
        let mut present: HashMap<String, i64> = HashMap::with_capacity(rows.len());
        for r in &rows {
            if r.try_get::<bool, _>(2).map_err(db_err)? {
                present.insert(r.try_get(0).map_err(db_err)?, r.try_get(1).map_err(db_err)?);
            }
        }
        // In the order given; a path already removed (or named twice) is skipped.
        let mut files = Vec::new();
        let mut times = Vec::new();
        for (path, at) in removals {
            if let Some(file_id) = present.remove(path) {
                files.push(file_id);
                times.push(at.as_str());
            }
        }
        let ids = crate::batch::take_version_ids(&mut tx, files.len()).await?;
        if !ids.is_empty() {
            sqlx::query(
                "INSERT INTO file_versions(id, file_id, sha256, size, import_run, recorded_at)
                 SELECT i, f, NULL, 0, $4, t
                 FROM UNNEST($1::bigint[], $2::bigint[], $3::text[]) AS u(i, f, t)",
            )
            .bind(&ids)
            .bind(&files)
            .bind(&times)
            .bind(run.0)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
            crate::batch::supersede(&mut tx, &files).await?;
            sqlx::query(
                "UPDATE files SET current_version = u.v, current_sha256 = NULL
                 FROM UNNEST($1::bigint[], $2::bigint[]) AS u(f, v) WHERE files.id = u.f",
            )
            .bind(&files)
            .bind(&ids)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        }
        tx.commit().await.map_err(db_err)?;
        Ok(ids.len() as u64)
    }

    async fn files_as_of(
        &self,
        facility: FacilityId,
        as_of: Option<&str>,
    ) -> Result<Vec<StoredFile>> {
        let rows = sqlx::query(
            "SELECT f.path, v.sha256, v.size FROM files f
             JOIN file_versions v ON v.id = (
                 SELECT MAX(id) FROM file_versions
                 WHERE file_id = f.id AND ($2::text IS NULL OR recorded_at <= $2::text))
             WHERE f.facility_id = $1 AND v.sha256 IS NOT NULL
             ORDER BY f.path",
        )
        .bind(facility.0)
        .bind(as_of)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                Ok(StoredFile {
                    path: r.try_get(0).map_err(db_err)?,
                    sha256: sha_from(r.try_get(1).map_err(db_err)?)?,
                    size: r.try_get::<i64, _>(2).map_err(db_err)? as u64,
                })
            })
            .collect()
    }

    async fn oldest_version_at(&self) -> Result<Option<String>> {
        sqlx::query_scalar("SELECT recorded_at FROM file_versions ORDER BY id LIMIT 1")
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)
    }

    async fn verify_blobs(&self) -> Result<BlobReport> {
        let rows = sqlx::query(
            "SELECT p.id, p.name, p.size, (SELECT COUNT(*) FROM blobs b WHERE b.pack_id = p.id)
             FROM packs p ORDER BY p.id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        let mut packs = Vec::with_capacity(rows.len());
        for r in &rows {
            let id: i64 = r.try_get(0).map_err(db_err)?;
            let name: String = r.try_get(1).map_err(db_err)?;
            let size: i64 = r.try_get(2).map_err(db_err)?;
            let contents: i64 = r.try_get(3).map_err(db_err)?;
            // A pack no blob points at any more (rebuilt by a repair) is not checked.
            if contents > 0 {
                packs.push((id, name, size, contents));
            }
        }
        let checked: Vec<(i64, i64, Option<PackProblem>)> = futures::stream::iter(packs)
            .map(|(id, name, size, contents)| async move {
                let bytes = self.blobs.read_pack(&name).await?;
                let problem = pack_problem(&self.pool, id, &name, bytes).await?;
                Ok::<_, StoreError>((size, contents, problem))
            })
            .buffered(PACKS_IN_FLIGHT)
            .try_collect()
            .await?;
        let mut report = BlobReport::default();
        for (size, contents, problem) in checked {
            report.packs_checked += 1;
            report.contents_checked += contents as u64;
            report.bytes_checked += size as u64;
            if let Some(p) = problem {
                report.problems.push(p);
            }
        }
        Ok(report)
    }

    async fn read_pack(&self, name: &str) -> Result<Option<Vec<u8>>> {
        self.blobs.read_pack(name).await
    }

    async fn restore_pack(&self, name: &str, bytes: &[u8]) -> Result<()> {
        if hex(&sha256(bytes).0) != name {
            return Err(StoreError::Corrupt(format!(
                "the copy of pack {name} offered for repair does not hash to its name"
            )));
        }
        self.blobs.replace_pack(name, bytes).await
    }

    async fn repack_contents(&self, contents: Vec<(Sha256, Vec<u8>)>) -> Result<u64> {
        let pack = blocking("repack", move || -> Result<Option<store::Pack>> {
            let mut seen = HashSet::new();
            let mut builder = PackBuilder::new();
            for (sha, bytes) in &contents {
                if &sha256(bytes) != sha {
                    return Err(StoreError::Corrupt(format!(
                        "content {sha} offered for repair does not match its hash"
                    )));
                }
                if seen.insert(*sha) {
                    builder.add(*sha, bytes)?;
                }
            }
            if builder.is_empty() {
                return Ok(None);
            }
            builder.finish().map(Some)
        })
        .await??;
        let Some(pack) = pack else {
            return Ok(0);
        };
        let size = pack.bytes.len() as i64;
        // A rebuilt pack can have the damaged pack's own name (the same contents packed
        // the same way): an object of that name that does not hash to it is replaced.
        let damaged = match self.blobs.read_pack(&pack.name).await {
            Ok(Some(existing)) => hex(&sha256(&existing).0) != pack.name,
            _ => false,
        };
        if damaged {
            self.blobs.replace_pack(&pack.name, &pack.bytes).await?;
        } else {
            self.blobs.write_pack(&pack.name, pack.bytes).await?;
        }
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        sqlx::query(
            "INSERT INTO packs(name, size, created_at) VALUES ($1, $2, $3) ON CONFLICT(name) DO NOTHING",
        )
        .bind(&pack.name)
        .bind(size)
        .bind(now())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        let pack_id: i64 = sqlx::query_scalar("SELECT id FROM packs WHERE name = $1")
            .bind(&pack.name)
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err)?;
        let mut shas = Vec::with_capacity(pack.locations.len());
        let mut frame_offsets = Vec::with_capacity(pack.locations.len());
        let mut frame_lens = Vec::with_capacity(pack.locations.len());
        let mut offsets = Vec::with_capacity(pack.locations.len());
        for (sha, loc) in &pack.locations {
            shas.push(sha.0.to_vec());
            frame_offsets.push(loc.frame_offset as i64);
            frame_lens.push(loc.frame_len as i64);
            offsets.push(loc.offset as i64);
        }
        let n = sqlx::query(
            r#"UPDATE blobs b SET pack_id = $1, frame_offset = u.fo, frame_len = u.fl, "offset" = u.o
               FROM UNNEST($2::bytea[], $3::bigint[], $4::bigint[], $5::bigint[]) AS u(sha, fo, fl, o)
               WHERE b.sha256 = u.sha"#,
        )
        .bind(pack_id)
        .bind(shas)
        .bind(frame_offsets)
        .bind(frame_lens)
        .bind(offsets)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected();
        tx.commit().await.map_err(db_err)?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn hex_of_the_journal_decodes() {
        assert_eq!(unhex("00FFa1").unwrap(), vec![0, 255, 0xa1]);
        assert_eq!(unhex("").unwrap(), Vec::<u8>::new());
        assert!(unhex("ABC").is_err());
        assert!(unhex("zz").is_err());
    }

    #[test]
    fn journal_values_bind_with_their_column_types() {
        assert_eq!(
            pg_value("t", "c", "bigint", &json!(42)).unwrap(),
            Bind::Int(Some(42))
        );
        assert_eq!(
            pg_value("t", "c", "bigint", &json!(null)).unwrap(),
            Bind::Int(None)
        );
        assert!(pg_value("t", "c", "bigint", &json!(1.5)).is_err());
        assert_eq!(
            pg_value("t", "c", "bytea", &json!("0A0b")).unwrap(),
            Bind::Bytes(Some(vec![10, 11]))
        );
        assert_eq!(
            pg_value("t", "c", "bytea", &json!(null)).unwrap(),
            Bind::Bytes(None)
        );
        assert!(pg_value("t", "c", "bytea", &json!("xyz")).is_err());
        assert_eq!(
            pg_value("t", "c", "text", &json!("あ")).unwrap(),
            Bind::Text(Some("あ".into()))
        );
        assert_eq!(
            pg_value("t", "c", "text", &json!(7)).unwrap(),
            Bind::Text(Some("7".into()))
        );
        assert!(pg_value("t", "c", "text", &json!({"a": 1})).is_err());
    }
}
