//! Replication streams, point-in-time reads and blob checks on SQLite.

use std::collections::HashSet;

use async_trait::async_trait;
use model::Sha256;
use rusqlite::types::Value;
use rusqlite::{params, Connection, OptionalExtension};
use store::packs::{sha256, LocalPacks};
use store::{
    Backlog, BlobLocation, BlobReport, FacilityId, Feed, FeedCursor, ImportRunId, NodeRole,
    PackBuilder, PackProblem, RegistryChange, Replication, Result, RowOp, SiteState, StoreError,
    StoredFile,
};

use crate::schema::{columns, JOURNALED};
use crate::{db_err, now, sha_from, SqliteStore};

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

fn read_feed(conn: &Connection, after: &FeedCursor, limit: usize) -> Result<Feed> {
    let limit = limit.max(1) as i64;
    let mut feed = Feed {
        next: *after,
        ..Feed::default()
    };
    {
        let mut st = conn
            .prepare_cached(
                "SELECT seq, tbl, op, row, journaled_at FROM replication_journal WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            )
            .map_err(db_err)?;
        let rows = st
            .query_map(params![after.registry, limit], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, Option<String>>(4)?,
                ))
            })
            .map_err(db_err)?;
        for row in rows {
            let (seq, table, op, json, at) = row.map_err(db_err)?;
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
    }
    feed.audit = crate::registry::audit_after(conn, after.audit, limit)?;
    if let Some(last) = feed.audit.last() {
        feed.next.audit = last.seq;
    }
    // A version may belong to a facility registered by a change not in this feed yet: ship
    // versions only once the registry has caught up.
    if (feed.registry.len() as i64) < limit {
        let mut st = conn
            .prepare_cached(
                "SELECT v.id, fa.code, f.path, v.sha256, v.size, v.recorded_at,
                        p.name, b.frame_offset, b.frame_len, b.offset, v.accept_unterminated
                 FROM file_versions v
                 JOIN files f ON f.id = v.file_id
                 JOIN facilities fa ON fa.id = f.facility_id
                 LEFT JOIN blobs b ON b.sha256 = v.sha256
                 LEFT JOIN packs p ON p.id = b.pack_id
                 WHERE v.id > ?1 ORDER BY v.id LIMIT ?2",
            )
            .map_err(db_err)?;
        type Row = (
            i64,
            String,
            String,
            Option<Vec<u8>>,
            i64,
            String,
            Option<String>,
            Option<i64>,
            Option<i64>,
            Option<i64>,
            bool,
        );
        let rows = st
            .query_map(params![after.version, limit], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                    r.get(8)?,
                    r.get(9)?,
                    r.get(10)?,
                ))
            })
            .map_err(db_err)?;
        for row in rows {
            let (
                id,
                facility,
                path,
                sha256,
                size,
                recorded_at,
                pack,
                frame_offset,
                frame_len,
                offset,
                accept_unterminated,
            ): Row = row.map_err(db_err)?;
            let version = store::VersionRow {
                id,
                facility,
                path,
                sha256,
                size,
                recorded_at,
                pack,
                frame_offset,
                frame_len,
                offset,
                accept_unterminated,
            }
            .into_feed_version()?;
            feed.next.version = version.id;
            feed.versions.push(version);
        }
    }
    Ok(feed)
}

fn read_backlog(conn: &Connection, after: &FeedCursor) -> Result<Backlog> {
    let count = |sql: &str, p: i64| -> Result<u64> {
        conn.query_row(sql, [p], |r| r.get::<_, i64>(0))
            .map(|n| n.max(0) as u64)
            .map_err(db_err)
    };
    // Journal sequence numbers and version ids are handed out one after the other and never
    // deleted, so "how many after the cursor" is the newest minus the cursor: O(1) even for a
    // site that is 400 million versions behind.
    Ok(Backlog {
        registry: count(
            "SELECT COALESCE(MAX(seq), 0) - ?1 FROM replication_journal",
            after.registry,
        )?,
        audit: count(
            "SELECT COALESCE(MAX(seq), 0) - ?1 FROM audit_log",
            after.audit as i64,
        )?,
        versions: count(
            "SELECT COALESCE(MAX(id), 0) - ?1 FROM file_versions",
            after.version,
        )?,
        oldest_version_at: conn
            .query_row(
                "SELECT recorded_at FROM file_versions WHERE id > ?1 ORDER BY id LIMIT 1",
                [after.version],
                |r| r.get(0),
            )
            .optional()
            .map_err(db_err)?,
    })
}

/// A JSON value as the SQLite value of a column of declared type `ty`.
fn sql_value(table: &str, column: &str, ty: &str, v: &serde_json::Value) -> Result<Value> {
    use serde_json::Value as J;
    Ok(match v {
        J::Null => Value::Null,
        J::Bool(b) => Value::Integer(*b as i64),
        J::Number(n) => match n.as_i64() {
            Some(i) => Value::Integer(i),
            None => Value::Real(n.as_f64().unwrap_or_default()),
        },
        J::String(s) if ty.eq_ignore_ascii_case("BLOB") => Value::Blob(
            hex::decode(s).map_err(|e| corrupt(&format!("replicated {table}.{column}"), e))?,
        ),
        J::String(s) => Value::Text(s.clone()),
        other => {
            return Err(corrupt(
                &format!("replicated {table}.{column}"),
                format!("unexpected value {other}"),
            ))
        }
    })
}

fn apply_change(tx: &Connection, change: &RegistryChange) -> Result<()> {
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
    let table = JOURNALED
        .iter()
        .find(|t| **t == change.table)
        .ok_or_else(|| {
            corrupt(
                "replicated change",
                format!("unknown table {}", change.table),
            )
        })?;
    let cols = columns(tx, table).map_err(db_err)?;
    let mut names = Vec::new();
    let mut values = Vec::new();
    for (name, v) in &change.row {
        // Only this store's own column names reach the SQL text.
        let (col, ty, _) = cols.iter().find(|c| &c.0 == name).ok_or_else(|| {
            corrupt(
                "replicated change",
                format!("{table} has no column {name} (is this renkei older than the primary?)"),
            )
        })?;
        names.push(col.clone());
        values.push(sql_value(table, col, ty, v)?);
    }
    let keys: Vec<&str> = cols.iter().filter(|c| c.2).map(|c| c.0.as_str()).collect();
    let marks: Vec<String> = (1..=names.len()).map(|i| format!("?{i}")).collect();
    let sets: Vec<String> = names
        .iter()
        .filter(|n| !keys.contains(&n.as_str()))
        .map(|n| format!("{n} = excluded.{n}"))
        .collect();
    let on_conflict = if sets.is_empty() {
        "DO NOTHING".to_owned()
    } else {
        format!("DO UPDATE SET {}", sets.join(", "))
    };
    let sql = format!(
        "INSERT INTO {table}({}) VALUES ({}) ON CONFLICT({}) {on_conflict}",
        names.join(", "),
        marks.join(", "),
        keys.join(", ")
    );
    tx.execute(&sql, rusqlite::params_from_iter(values))
        .map_err(|e| {
            StoreError::Database(format!(
                "applying replicated change {} to {table}: {e}",
                change.seq
            ))
        })?;
    Ok(())
}

fn pack_problem(
    packs: &LocalPacks,
    conn: &Connection,
    pack_id: i64,
    name: &str,
) -> Result<Option<PackProblem>> {
    let path = packs.path_of(name);
    let problem = match std::fs::read(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => "missing",
        Err(e) => {
            return Err(StoreError::Blob {
                path: path.display().to_string(),
                source: e,
            })
        }
        Ok(bytes) if store::packs::hex(&sha256(&bytes).0) == name => return Ok(None),
        Ok(_) => "corrupt",
    };
    let mut st = conn
        .prepare_cached(
            "SELECT sha256, frame_offset, frame_len, offset, size FROM blobs WHERE pack_id = ?1",
        )
        .map_err(db_err)?;
    let rows = st
        .query_map([pack_id], |r| {
            Ok((
                r.get::<_, Vec<u8>>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, i64>(4)?,
            ))
        })
        .map_err(db_err)?;
    let mut out = PackProblem {
        pack: name.to_owned(),
        problem: problem.to_owned(),
        bad_contents: Vec::new(),
        good_contents: Vec::new(),
    };
    for row in rows {
        let (sha, fo, fl, o, size) = row.map_err(db_err)?;
        let sha = sha_from(sha)?;
        let loc = BlobLocation {
            pack: name.to_owned(),
            frame_offset: fo as u64,
            frame_len: fl as u32,
            offset: o as u32,
            len: size as u32,
        };
        let intact = problem == "corrupt"
            && packs
                .read_frame(name, loc.frame_offset, loc.frame_len)
                .and_then(|frame| LocalPacks::extract(&frame, &loc, &sha))
                .is_ok();
        if intact {
            out.good_contents.push(sha);
        } else {
            out.bad_contents.push(sha);
        }
    }
    Ok(Some(out))
}

#[async_trait]
impl Replication for SqliteStore {
    async fn feed(&self, after: &FeedCursor, limit: usize) -> Result<Feed> {
        let after = *after;
        self.blocking(move |inner| {
            inner.read(|conn| {
                // One snapshot for the three streams.
                conn.execute_batch("BEGIN").map_err(db_err)?;
                let feed = read_feed(conn, &after, limit);
                let _ = conn.execute_batch("COMMIT");
                feed
            })
        })
        .await
    }

    async fn backlog(&self, after: &FeedCursor) -> Result<Backlog> {
        let after = *after;
        self.blocking(move |inner| inner.read(|conn| read_backlog(conn, &after)))
            .await
    }

    async fn site_state(&self, site: &str) -> Result<SiteState> {
        let site = site.to_owned();
        self.blocking(move |inner| {
            inner.read(|conn| {
                let json: Option<String> = conn
                    .query_row(
                        "SELECT state FROM replication_sites WHERE name = ?1",
                        [&site],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(db_err)?;
                match json {
                    Some(j) => serde_json::from_str(&j).map_err(|e| corrupt("site state", e)),
                    None => Ok(SiteState {
                        name: site,
                        ..SiteState::default()
                    }),
                }
            })
        })
        .await
    }

    async fn put_site_state(&self, state: &SiteState) -> Result<()> {
        let json = serde_json::to_string(state).map_err(|e| corrupt("site state", e))?;
        let name = state.name.clone();
        self.blocking(move |inner| {
            inner.write(|conn| {
                conn.execute(
                    "INSERT INTO replication_sites(name, state) VALUES (?1, ?2)
                     ON CONFLICT(name) DO UPDATE SET state = ?2",
                    params![name, json],
                )
                .map_err(db_err)?;
                Ok(())
            })
        })
        .await
    }

    async fn node_role(&self) -> Result<NodeRole> {
        self.blocking(move |inner| {
            inner.read(|conn| {
                let json: Option<String> = conn
                    .query_row("SELECT value FROM node WHERE key = 'role'", [], |r| {
                        r.get(0)
                    })
                    .optional()
                    .map_err(db_err)?;
                match json {
                    Some(j) => serde_json::from_str(&j).map_err(|e| corrupt("node role", e)),
                    None => Ok(NodeRole::Primary),
                }
            })
        })
        .await
    }

    async fn set_node_role(&self, role: &NodeRole) -> Result<()> {
        let json = serde_json::to_string(role).map_err(|e| corrupt("node role", e))?;
        self.blocking(move |inner| {
            inner.write(|conn| {
                conn.execute(
                    "INSERT INTO node(key, value) VALUES ('role', ?1)
                     ON CONFLICT(key) DO UPDATE SET value = ?1",
                    [json],
                )
                .map_err(db_err)?;
                Ok(())
            })
        })
        .await
    }

    async fn apply_registry(&self, changes: &[RegistryChange]) -> Result<()> {
        let changes = changes.to_vec();
        self.blocking(move |inner| {
            inner.write(|conn| {
                let tx = conn.transaction().map_err(db_err)?;
                // The journal rows the triggers write for an applied change keep the time the
                // primary journaled it, so a copy of this copy answers `--as-of` the same.
                let mut journaled: i64 = tx
                    .query_row(
                        "SELECT COALESCE(MAX(seq), 0) FROM replication_journal",
                        [],
                        |r| r.get(0),
                    )
                    .map_err(db_err)?;
                for c in &changes {
                    apply_change(&tx, c)?;
                    if let Some(at) = &c.at {
                        tx.execute(
                            "UPDATE replication_journal SET journaled_at = ?1 WHERE seq > ?2",
                            params![at, journaled],
                        )
                        .map_err(db_err)?;
                    }
                    journaled = tx
                        .query_row(
                            "SELECT COALESCE(MAX(seq), 0) FROM replication_journal",
                            [],
                            |r| r.get(0),
                        )
                        .map_err(db_err)?;
                }
                tx.commit().map_err(db_err)
            })
        })
        .await
    }

    async fn apply_audit(&self, entries: &[audit::Entry]) -> Result<()> {
        let entries = entries.to_vec();
        self.blocking(move |inner| {
            let appended =
                inner.write(|conn| crate::registry::append_replicated_audit(conn, &entries))?;
            if let Some((previous, new)) = appended {
                crate::registry::advance_anchor(&inner.audit_anchor, previous, new)?;
            }
            Ok(())
        })
        .await
    }

    async fn apply_removals(
        &self,
        facility: FacilityId,
        run: ImportRunId,
        removals: &[(String, String)],
    ) -> Result<u64> {
        let removals = removals.to_vec();
        self.blocking(move |inner| {
            inner.write(|conn| {
                let tx = conn.transaction().map_err(db_err)?;
                let mut n = 0;
                for (path, at) in &removals {
                    let current: Option<(i64, Option<Vec<u8>>)> = tx
                        .query_row(
                            "SELECT f.id, v.sha256 FROM files f JOIN file_versions v ON v.id = f.current_version
                             WHERE f.facility_id = ?1 AND f.path = ?2",
                            params![facility.0, path],
                            |r| Ok((r.get(0)?, r.get(1)?)),
                        )
                        .optional()
                        .map_err(db_err)?;
                    let Some((file_id, Some(_))) = current else {
                        continue;
                    };
                    tx.execute(
                        "INSERT INTO file_versions(file_id, sha256, size, import_run, recorded_at) VALUES (?1, NULL, 0, ?2, ?3)",
                        params![file_id, run.0, at],
                    )
                    .map_err(db_err)?;
                    let vid = tx.last_insert_rowid();
                    tx.execute(
                        "UPDATE files SET current_version = ?1 WHERE id = ?2",
                        params![vid, file_id],
                    )
                    .map_err(db_err)?;
                    n += 1;
                }
                tx.commit().map_err(db_err)?;
                Ok(n)
            })
        })
        .await
    }

    async fn files_as_of(
        &self,
        facility: FacilityId,
        as_of: Option<&str>,
    ) -> Result<Vec<StoredFile>> {
        // "9" sorts after every RFC 3339 time: no bound.
        let as_of = as_of.unwrap_or("9").to_owned();
        self.blocking(move |inner| {
            inner.read(|conn| {
                let mut st = conn
                    .prepare_cached(
                        "SELECT f.path, v.sha256, v.size FROM files f
                         JOIN file_versions v ON v.id = (
                             SELECT MAX(id) FROM file_versions WHERE file_id = f.id AND recorded_at <= ?2)
                         WHERE f.facility_id = ?1 AND v.sha256 IS NOT NULL
                         ORDER BY f.path",
                    )
                    .map_err(db_err)?;
                let rows = st
                    .query_map(params![facility.0, as_of], |r| {
                        Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?, r.get::<_, i64>(2)?))
                    })
                    .map_err(db_err)?;
                let mut out = Vec::new();
                for row in rows {
                    let (path, sha, size) = row.map_err(db_err)?;
                    out.push(StoredFile {
                        path,
                        sha256: sha_from(sha)?,
                        size: size as u64,
                    });
                }
                Ok(out)
            })
        })
        .await
    }

    async fn oldest_version_at(&self) -> Result<Option<String>> {
        self.blocking(move |inner| {
            inner.read(|conn| {
                conn.query_row(
                    "SELECT recorded_at FROM file_versions ORDER BY id LIMIT 1",
                    [],
                    |r| r.get(0),
                )
                .optional()
                .map_err(db_err)
            })
        })
        .await
    }

    async fn verify_blobs(&self) -> Result<BlobReport> {
        self.blocking(move |inner| {
            let packs: Vec<(i64, String, i64)> = inner.read(|conn| {
                let mut st = conn
                    .prepare("SELECT id, name, size FROM packs ORDER BY id")
                    .map_err(db_err)?;
                let rows = st
                    .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .map_err(db_err)?;
                rows.collect::<rusqlite::Result<_>>().map_err(db_err)
            })?;
            let mut report = BlobReport::default();
            for (id, name, size) in packs {
                let (contents, problem) = inner.read(|conn| {
                    let n: i64 = conn
                        .query_row("SELECT COUNT(*) FROM blobs WHERE pack_id = ?1", [id], |r| {
                            r.get(0)
                        })
                        .map_err(db_err)?;
                    Ok((n, pack_problem(&inner.packs, conn, id, &name)?))
                })?;
                // A pack no blob points at any more (rebuilt by a repair) is not checked.
                if contents == 0 {
                    continue;
                }
                report.packs_checked += 1;
                report.contents_checked += contents as u64;
                report.bytes_checked += size as u64;
                if let Some(p) = problem {
                    report.problems.push(p);
                }
            }
            Ok(report)
        })
        .await
    }

    async fn read_pack(&self, name: &str) -> Result<Option<Vec<u8>>> {
        let name = name.to_owned();
        self.blocking(move |inner| {
            let path = inner.packs.path_of(&name);
            match std::fs::read(&path) {
                Ok(b) => Ok(Some(b)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(StoreError::Blob {
                    path: path.display().to_string(),
                    source: e,
                }),
            }
        })
        .await
    }

    async fn restore_pack(&self, name: &str, bytes: &[u8]) -> Result<()> {
        if store::packs::hex(&sha256(bytes).0) != name {
            return Err(StoreError::Corrupt(format!(
                "the copy of pack {name} offered for repair does not hash to its name"
            )));
        }
        let name = name.to_owned();
        let bytes = bytes.to_vec();
        self.blocking(move |inner| inner.packs.replace(&name, &bytes))
            .await
    }

    async fn repack_contents(&self, contents: Vec<(Sha256, Vec<u8>)>) -> Result<u64> {
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
            return Ok(0);
        }
        let pack = builder.finish()?;
        self.blocking(move |inner| {
            inner.packs.write_rebuilt(&pack.name, &pack.bytes)?;
            inner.write(|conn| {
                let tx = conn.transaction().map_err(db_err)?;
                tx.execute(
                    "INSERT INTO packs(name, size, created_at) VALUES (?1, ?2, ?3) ON CONFLICT(name) DO NOTHING",
                    params![pack.name, pack.bytes.len() as i64, now()],
                )
                .map_err(db_err)?;
                let pack_id: i64 = tx
                    .query_row("SELECT id FROM packs WHERE name = ?1", [&pack.name], |r| {
                        r.get(0)
                    })
                    .map_err(db_err)?;
                let mut n = 0;
                for (sha, loc) in &pack.locations {
                    n += tx
                        .execute(
                            "UPDATE blobs SET pack_id = ?1, frame_offset = ?2, frame_len = ?3, offset = ?4 WHERE sha256 = ?5",
                            params![
                                pack_id,
                                loc.frame_offset as i64,
                                loc.frame_len as i64,
                                loc.offset as i64,
                                &sha.0[..]
                            ],
                        )
                        .map_err(db_err)? as u64;
                }
                tx.commit().map_err(db_err)?;
                Ok(n)
            })
        })
        .await
    }
}
