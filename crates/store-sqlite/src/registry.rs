//! The registry and the audit log on SQLite.

use std::path::Path;

use async_trait::async_trait;
use model::{
    Consent, ConsentScope, Date, Demographics, Facility, FacilityCode, FacilityKind,
    FacilityStatus, Link, LocalPatient, Profession, RegionalId, UnixTime, User,
};
use rusqlite::{params, Connection, OptionalExtension, Row};
use store::{
    ApiKeyRecord, AuditFilter, Credentials, LoginCounterChange, LoginStateChange, Merge, Registry,
    Result, Session, StoreError,
};

use crate::{db_err, SqliteStore};

/// The 3-digit network number in issued regional IDs (configurable later; 000 = unset).
const NETWORK_PREFIX: u16 = 0;

/// Draws of a new regional ID before giving up: a collision needs two equal 12-digit random
/// numbers, so a second draw already is rare.
const ENROLL_ATTEMPTS: usize = 16;

impl SqliteStore {
    /// Issue a regional ID, trying the candidates `next` gives in turn until one is not
    /// taken (the UNIQUE constraint decides). `enroll` draws them at random; tests pass their
    /// own to see a collision retried.
    pub async fn enroll_trying(
        &self,
        by: &str,
        at: UnixTime,
        mut next: impl FnMut() -> Result<RegionalId> + Send + 'static,
    ) -> Result<RegionalId> {
        let by = by.to_owned();
        self.blocking(move |inner| {
            inner.write(|conn| {
                let tx = conn.transaction().map_err(db_err)?;
                let seq: i64 = tx
                    .query_row("SELECT COALESCE(MAX(seq), 0) + 1 FROM regional_ids", [], |r| {
                        r.get(0)
                    })
                    .map_err(db_err)?;
                for _ in 0..ENROLL_ATTEMPTS {
                    let id = next()?;
                    let written = tx
                        .execute(
                            "INSERT INTO regional_ids(seq, regional_id, created_at, created_by) VALUES (?1, ?2, ?3, ?4)
                             ON CONFLICT DO NOTHING",
                            params![seq, id.as_str(), at.0, by],
                        )
                        .map_err(db_err)?;
                    if written == 1 {
                        tx.commit().map_err(db_err)?;
                        return Ok(id);
                    }
                }
                Err(StoreError::Database(format!(
                    "could not issue a regional ID: {ENROLL_ATTEMPTS} draws in a row were taken"
                )))
            })
        })
        .await
    }
}

fn json<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(format!("serialising: {e}")))
}

fn from_json<T: serde::de::DeserializeOwned>(s: &str, what: &str) -> Result<T> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

/// Every row of `sql`, read by `row` and turned into a domain value by `convert`.
fn query_all<P: rusqlite::Params, R, T>(
    conn: &Connection,
    sql: &str,
    params: P,
    row: impl FnMut(&Row) -> rusqlite::Result<R>,
    convert: impl Fn(R) -> Result<T>,
) -> Result<Vec<T>> {
    let mut st = conn.prepare_cached(sql).map_err(db_err)?;
    let rows = st.query_map(params, row).map_err(db_err)?;
    rows.map(|r| r.map_err(db_err).and_then(&convert)).collect()
}

fn facility_id(conn: &Connection, code: &FacilityCode) -> Result<i64> {
    crate::query_row_cached(
        conn,
        "SELECT id FROM facilities WHERE code = ?1",
        [code.as_str()],
        |r| r.get(0),
    )
    .optional()
    .map_err(db_err)?
    .ok_or_else(|| {
        StoreError::Conflict(format!("facility {code} is not registered in this network"))
    })
}

fn code(s: String) -> Result<FacilityCode> {
    FacilityCode::parse(&s).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn rid(s: String) -> Result<RegionalId> {
    RegionalId::parse(&s).map_err(|e| StoreError::Corrupt(e.to_string()))
}

const FACILITY_COLS: &str = "code, name, kind, area, status, discloses, views";

fn facility_row(r: &Row) -> rusqlite::Result<(String, String, String, String, String, bool, bool)> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
    ))
}

fn facility_from(t: (String, String, String, String, String, bool, bool)) -> Result<Facility> {
    let (c, name, kind, area, status, discloses, views) = t;
    Ok(Facility {
        code: code(c)?,
        name,
        kind: FacilityKind::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("facility kind {kind:?}")))?,
        area,
        status: FacilityStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("facility status {status:?}")))?,
        discloses,
        views,
    })
}

const LINK_COLS: &str =
    "l.regional_id, f.code, l.local_id, l.linked_at, l.linked_by, l.ended_at, l.ended_by FROM links l JOIN facilities f ON f.id = l.facility_id";

type LinkRow = (
    String,
    String,
    String,
    i64,
    String,
    Option<i64>,
    Option<String>,
);

fn link_row(r: &Row) -> rusqlite::Result<LinkRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
    ))
}

fn link_from(t: LinkRow) -> Result<Link> {
    let (regional_id, facility, local_id, linked_at, linked_by, ended_at, ended_by) = t;
    Ok(Link {
        regional_id: rid(regional_id)?,
        patient: LocalPatient {
            facility: code(facility)?,
            local_id,
        },
        linked_at: UnixTime(linked_at),
        linked_by,
        ended_at: ended_at.map(UnixTime),
        ended_by,
    })
}

const CONSENT_COLS: &str =
    "id, regional_id, scope, valid_from, valid_until, withdrawn_at, paper_form, implied, recorded_by, recorded_at, replaces";

type ConsentRow = (
    i64,
    String,
    String,
    String,
    Option<String>,
    Option<i64>,
    String,
    bool,
    String,
    i64,
    Option<i64>,
);

fn consent_row(r: &Row) -> rusqlite::Result<ConsentRow> {
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
}

fn consent_from(t: ConsentRow) -> Result<Consent> {
    let (
        id,
        regional_id,
        scope,
        valid_from,
        valid_until,
        withdrawn_at,
        paper_form,
        implied,
        recorded_by,
        recorded_at,
        replaces,
    ) = t;
    let date =
        |s: &str| Date::parse(s).ok_or_else(|| StoreError::Corrupt(format!("consent date {s:?}")));
    Ok(Consent {
        id,
        regional_id: rid(regional_id)?,
        scope: from_json::<ConsentScope>(&scope, "consent scope")?,
        valid_from: date(&valid_from)?,
        valid_until: valid_until.as_deref().map(date).transpose()?,
        withdrawn_at: withdrawn_at.map(UnixTime),
        paper_form,
        implied,
        recorded_by,
        recorded_at: UnixTime(recorded_at),
        replaces,
    })
}

type UserRow = (
    String,
    String,
    String,
    String,
    bool,
    String,
    Option<String>,
    String,
);

fn user_row(r: &Row) -> rusqlite::Result<UserRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
    ))
}

fn user_from(t: UserRow) -> Result<(User, Credentials)> {
    let (
        login,
        display_name,
        profession,
        facilities,
        active,
        password_phc,
        totp_secret,
        login_state,
    ) = t;
    let codes: Vec<String> = from_json(&facilities, "user facilities")?;
    Ok((
        User {
            login,
            display_name,
            profession: Profession::parse(&profession)
                .ok_or_else(|| StoreError::Corrupt(format!("profession {profession:?}")))?,
            facilities: codes.into_iter().map(code).collect::<Result<_>>()?,
            active,
        },
        Credentials {
            password_phc,
            totp_secret,
            login_state,
        },
    ))
}

const USER_COLS: &str =
    "login, display_name, profession, facilities, active, password_phc, totp_secret, login_state";

fn merge_from(r: &Row) -> rusqlite::Result<(i64, String, String, i64, String, Option<i64>)> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
    ))
}

fn merge_of(t: (i64, String, String, i64, String, Option<i64>)) -> Result<Merge> {
    Ok(Merge {
        id: t.0,
        from: rid(t.1)?,
        into: rid(t.2)?,
        at: UnixTime(t.3),
        by: t.4,
        undone_at: t.5.map(UnixTime),
    })
}

fn entry_from(r: &Row) -> rusqlite::Result<(i64, String, Vec<u8>, Vec<u8>)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
}

fn entry_of(t: (i64, String, Vec<u8>, Vec<u8>)) -> Result<audit::Entry> {
    let hash = |v: Vec<u8>| -> Result<[u8; 32]> {
        v.try_into()
            .map_err(|_| StoreError::Corrupt("audit hash is not 32 bytes".into()))
    };
    Ok(audit::Entry {
        seq: t.0 as u64,
        event: from_json(&t.1, "audit event")?,
        prev_hash: hash(t.2)?,
        hash: hash(t.3)?,
    })
}

/// The anchor file: the newest (seq, hash) of the audit chain, outside the database.
/// One caller's audit events waiting for the writer, and where its entries go.
pub(crate) struct PendingAudit {
    events: Vec<audit::Event>,
    done: tokio::sync::oneshot::Sender<Result<Vec<audit::Entry>>>,
}

/// Append every waiting caller's events in one transaction and tell each its entries (or the
/// error: the batch commits whole or not at all).
fn write_audit_batch(conn: &mut Connection, anchor: &Path, batch: Vec<PendingAudit>) {
    let mut callers = Vec::with_capacity(batch.len());
    let mut all = Vec::new();
    for p in batch {
        callers.push((p.events.len(), p.done));
        all.extend(p.events);
    }
    match append_audit_events(conn, anchor, all) {
        Ok(entries) => {
            let mut entries = entries.into_iter();
            for (n, done) in callers {
                let mine: Vec<audit::Entry> = entries.by_ref().take(n).collect();
                // A caller that stopped waiting (its request was dropped) still had its
                // entries written: the audit log does not depend on the caller.
                let _ = done.send(Ok(mine));
            }
        }
        Err(e) => {
            let text = e.to_string();
            for (_, done) in callers {
                let _ = done.send(Err(StoreError::Database(text.clone())));
            }
        }
    }
}

fn append_audit_events(
    conn: &mut Connection,
    anchor: &Path,
    events: Vec<audit::Event>,
) -> Result<Vec<audit::Entry>> {
    let tx = conn.transaction().map_err(db_err)?;
    let head = tx
        .query_row(
            "SELECT seq, event, prev_hash, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
            [],
            entry_from,
        )
        .optional()
        .map_err(db_err)?
        .map(entry_of)
        .transpose()?;
    let previous = head.map(|e| (e.seq, e.hash));
    let mut prev = previous;
    let mut out = Vec::with_capacity(events.len());
    for ev in events {
        let entry = audit::append(prev.as_ref().map(|(s, h)| (s, h)), ev);
        insert_entry(&tx, &entry)?;
        prev = Some((entry.seq, entry.hash));
        out.push(entry);
    }
    tx.commit().map_err(db_err)?;
    if let Some(new) = prev.filter(|_| !out.is_empty()) {
        advance_anchor(anchor, previous, new)?;
    }
    Ok(out)
}

pub(crate) fn write_anchor(path: &Path, seq: u64, hash: &[u8; 32]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let text = format!("{seq} {}\n", store::packs::hex(hash));
    std::fs::write(&tmp, text).map_err(|e| StoreError::Blob {
        path: tmp.display().to_string(),
        source: e,
    })?;
    std::fs::rename(&tmp, path).map_err(|e| StoreError::Blob {
        path: path.display().to_string(),
        source: e,
    })
}

/// Move the anchor to `new` if it may (`audit::anchor_may_advance`): only forward from
/// `previous`, the chain's head before the append. A missing anchor, one ahead of the chain
/// or naming another hash, and one that cannot be read are left as they are, for `verify`
/// to report — and a damaged anchor never stops the audit log from taking entries.
pub(crate) fn advance_anchor(
    path: &Path,
    previous: Option<(u64, [u8; 32])>,
    new: (u64, [u8; 32]),
) -> Result<()> {
    let head = |(seq, hash): (u64, [u8; 32])| audit::Head { seq, hash };
    let may = match read_anchor(path) {
        Ok(anchor) => audit::anchor_may_advance(anchor.map(head), previous.map(head)),
        Err(_) => false,
    };
    if may {
        write_anchor(path, new.0, &new.1)?;
    }
    Ok(())
}

/// Write the empty chain's anchor when the store is new (nothing audited, no user, no
/// facility), so that from then on a missing anchor always means a deleted one. A store
/// with any of those and no anchor is left without one: `verify` reports it.
pub(crate) fn anchor_new_store(conn: &Connection, path: &Path) -> Result<()> {
    if path.exists() {
        return Ok(());
    }
    let used: bool = conn
        .query_row(
            "SELECT EXISTS(SELECT 1 FROM audit_log) OR EXISTS(SELECT 1 FROM users)
                 OR EXISTS(SELECT 1 FROM facilities)",
            [],
            |r| r.get(0),
        )
        .map_err(db_err)?;
    if !used {
        let g = audit::Head::GENESIS;
        write_anchor(path, g.seq, &g.hash)?;
    }
    Ok(())
}

fn read_anchor(path: &Path) -> Result<Option<(u64, [u8; 32])>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(StoreError::Blob {
                path: path.display().to_string(),
                source: e,
            })
        }
    };
    let mut parts = text.split_whitespace();
    let bad = || StoreError::Corrupt(format!("audit anchor {} is malformed", path.display()));
    let seq: u64 = parts.next().and_then(|s| s.parse().ok()).ok_or_else(bad)?;
    let hex = parts.next().ok_or_else(bad)?;
    let sha = model::Sha256::from_hex(hex).ok_or_else(bad)?;
    Ok(Some((seq, sha.0)))
}

#[async_trait]
impl Registry for SqliteStore {
    async fn put_facility(&self, f: &Facility) -> Result<()> {
        let f = f.clone();
        self.blocking(move |inner| {
            inner.write(|conn| {
                conn.execute(
                    "INSERT INTO facilities(code, created_at, name, kind, area, status, discloses, views)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                     ON CONFLICT(code) DO UPDATE SET name = ?3, kind = ?4, area = ?5, status = ?6, discloses = ?7, views = ?8",
                    params![
                        f.code.as_str(),
                        crate::now(),
                        f.name,
                        f.kind.as_str(),
                        f.area,
                        f.status.as_str(),
                        f.discloses,
                        f.views
                    ],
                )
                .map_err(db_err)?;
                Ok(())
            })
        })
        .await
    }

    async fn facility_details(&self, c: &FacilityCode) -> Result<Option<Facility>> {
        let c = c.clone();
        self.reading(move |conn| {
            crate::query_row_cached(
                conn,
                &format!("SELECT {FACILITY_COLS} FROM facilities WHERE code = ?1"),
                [c.as_str()],
                facility_row,
            )
            .optional()
            .map_err(db_err)?
            .map(facility_from)
            .transpose()
        })
        .await
    }

    async fn list_facilities(&self) -> Result<Vec<Facility>> {
        self.blocking(|inner| {
            inner.read(|conn| {
                query_all(
                    conn,
                    &format!("SELECT {FACILITY_COLS} FROM facilities ORDER BY code"),
                    [],
                    facility_row,
                    facility_from,
                )
            })
        })
        .await
    }

    async fn local_patient(&self, p: &LocalPatient) -> Result<Option<Demographics>> {
        let p = p.clone();
        self.blocking(move |inner| {
            inner.read(|conn| {
                crate::query_row_cached(conn,
                    "SELECT name_kanji, name_kana, birth_date, sex, phone, zip, address FROM local_patients lp
                     JOIN facilities f ON f.id = lp.facility_id WHERE f.code = ?1 AND lp.local_id = ?2",
                    params![p.facility.as_str(), p.local_id],
                    demographics_row,
                )
                .optional()
                .map_err(db_err)
            })
        })
        .await
    }

    async fn local_patients(&self) -> Result<Vec<(LocalPatient, Demographics)>> {
        self.blocking(|inner| {
            inner.read(|conn| {
                let mut st = conn
                    .prepare(
                        "SELECT name_kanji, name_kana, birth_date, sex, phone, zip, address, f.code, lp.local_id
                         FROM local_patients lp JOIN facilities f ON f.id = lp.facility_id ORDER BY f.code, lp.local_id",
                    )
                    .map_err(db_err)?;
                let rows = st
                    .query_map([], |r| Ok((demographics_row(r)?, r.get::<_, String>(7)?, r.get::<_, String>(8)?)))
                    .map_err(db_err)?;
                rows.map(|r| {
                    let (d, c, local_id) = r.map_err(db_err)?;
                    Ok((LocalPatient { facility: code(c)?, local_id }, d))
                })
                .collect()
            })
        })
        .await
    }

    async fn enroll(&self, by: &str, at: UnixTime) -> Result<RegionalId> {
        self.enroll_trying(by, at, || store::random_regional_id(NETWORK_PREFIX))
            .await
    }

    async fn regional_id_exists(&self, id: &RegionalId) -> Result<bool> {
        let id = id.clone();
        self.reading(move |conn| {
            crate::query_row_cached(
                conn,
                "SELECT 1 FROM regional_ids WHERE regional_id = ?1",
                [id.as_str()],
                |_| Ok(()),
            )
            .optional()
            .map(|o| o.is_some())
            .map_err(db_err)
        })
        .await
    }

    async fn link(
        &self,
        id: &RegionalId,
        p: &LocalPatient,
        by: &str,
        at: UnixTime,
    ) -> Result<Link> {
        let (id, p, by) = (id.clone(), p.clone(), by.to_owned());
        self.blocking(move |inner| {
            inner.write(|conn| {
                let tx = conn.transaction().map_err(db_err)?;
                let merged: Option<Option<String>> = tx
                    .query_row("SELECT merged_into FROM regional_ids WHERE regional_id = ?1", [id.as_str()], |r| r.get(0))
                    .optional()
                    .map_err(db_err)?;
                match merged {
                    None => return Err(StoreError::Conflict(format!("regional ID {id} was never issued"))),
                    Some(Some(into)) => {
                        return Err(StoreError::Conflict(format!("regional ID {id} was merged into {into}; link to that one")))
                    }
                    Some(None) => {}
                }
                let fid = facility_id(&tx, &p.facility)?;
                let existing: Option<String> = tx
                    .query_row(
                        "SELECT regional_id FROM links WHERE facility_id = ?1 AND local_id = ?2 AND ended_at IS NULL",
                        params![fid, p.local_id],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(db_err)?;
                if let Some(other) = existing {
                    return Err(StoreError::Conflict(format!(
                        "patient {} of facility {} is already linked to {other}; unlink it first",
                        p.local_id, p.facility
                    )));
                }
                tx.execute(
                    "INSERT INTO links(regional_id, facility_id, local_id, linked_at, linked_by) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![id.as_str(), fid, p.local_id, at.0, by],
                )
                .map_err(db_err)?;
                tx.commit().map_err(db_err)?;
                Ok(Link { regional_id: id, patient: p, linked_at: at, linked_by: by, ended_at: None, ended_by: None })
            })
        })
        .await
    }

    async fn unlink(&self, p: &LocalPatient, by: &str, at: UnixTime) -> Result<Option<Link>> {
        let (p, by) = (p.clone(), by.to_owned());
        self.blocking(move |inner| {
            inner.write(|conn| {
                let tx = conn.transaction().map_err(db_err)?;
                let fid = facility_id(&tx, &p.facility)?;
                let link = tx
                    .query_row(
                        &format!("SELECT {LINK_COLS} WHERE l.facility_id = ?1 AND l.local_id = ?2 AND l.ended_at IS NULL"),
                        params![fid, p.local_id],
                        link_row,
                    )
                    .optional()
                    .map_err(db_err)?
                    .map(link_from)
                    .transpose()?;
                if link.is_some() {
                    tx.execute(
                        "UPDATE links SET ended_at = ?1, ended_by = ?2 WHERE facility_id = ?3 AND local_id = ?4 AND ended_at IS NULL",
                        params![at.0, by, fid, p.local_id],
                    )
                    .map_err(db_err)?;
                }
                tx.commit().map_err(db_err)?;
                Ok(link.map(|l| Link { ended_at: Some(at), ended_by: Some(by), ..l }))
            })
        })
        .await
    }

    async fn links_of(&self, id: &RegionalId) -> Result<Vec<Link>> {
        let id = id.clone();
        self.reading(move |conn| {
            query_all(
                conn,
                &format!("SELECT {LINK_COLS} WHERE l.regional_id = ?1 ORDER BY l.id"),
                [id.as_str()],
                link_row,
                link_from,
            )
        })
        .await
    }

    async fn regional_id_of(&self, p: &LocalPatient) -> Result<Option<RegionalId>> {
        let p = p.clone();
        self.reading(move |conn| {
            crate::query_row_cached(
                conn,
                "SELECT l.regional_id FROM links l JOIN facilities f ON f.id = l.facility_id
                     WHERE f.code = ?1 AND l.local_id = ?2 AND l.ended_at IS NULL",
                params![p.facility.as_str(), p.local_id],
                |r| r.get::<_, String>(0),
            )
            .optional()
            .map_err(db_err)?
            .map(rid)
            .transpose()
        })
        .await
    }

    async fn merge(
        &self,
        from: &RegionalId,
        into: &RegionalId,
        by: &str,
        at: UnixTime,
    ) -> Result<Merge> {
        let (from, into, by) = (from.clone(), into.clone(), by.to_owned());
        self.blocking(move |inner| {
            inner.write(|conn| {
                if from == into {
                    return Err(StoreError::Conflict("cannot merge a regional ID into itself".into()));
                }
                let tx = conn.transaction().map_err(db_err)?;
                for id in [&from, &into] {
                    let merged: Option<Option<String>> = tx
                        .query_row("SELECT merged_into FROM regional_ids WHERE regional_id = ?1", [id.as_str()], |r| r.get(0))
                        .optional()
                        .map_err(db_err)?;
                    match merged {
                        None => return Err(StoreError::Conflict(format!("regional ID {id} was never issued"))),
                        Some(Some(x)) => return Err(StoreError::Conflict(format!("regional ID {id} is already merged into {x}"))),
                        Some(None) => {}
                    }
                }
                tx.execute("INSERT INTO merges(from_id, into_id, at, by) VALUES (?1, ?2, ?3, ?4)", params![
                    from.as_str(),
                    into.as_str(),
                    at.0,
                    by
                ])
                .map_err(db_err)?;
                let merge_id = tx.last_insert_rowid();
                // Each moved link ends on `from` and starts again on `into`, tagged with the
                // merge so an unmerge can move exactly those back.
                // Exactly the links active now move: collected first, because a link the same
                // person ended by hand in the same second looks alike once ended.
                let active: Vec<i64> = {
                    let mut st = tx
                        .prepare("SELECT id FROM links WHERE regional_id = ?1 AND ended_at IS NULL")
                        .map_err(db_err)?;
                    let ids = st
                        .query_map([from.as_str()], |r| r.get(0))
                        .map_err(db_err)?
                        .collect::<std::result::Result<Vec<i64>, _>>()
                        .map_err(db_err)?;
                    ids
                };
                for link in active {
                    // The partial unique index forbids two active links: end the old one first.
                    tx.execute("UPDATE links SET ended_at = ?1, ended_by = ?2 WHERE id = ?3", params![at.0, by, link])
                        .map_err(db_err)?;
                    tx.execute(
                        "INSERT INTO links(regional_id, facility_id, local_id, linked_at, linked_by, merge_id)
                         SELECT ?1, facility_id, local_id, ?2, ?3, ?4 FROM links WHERE id = ?5",
                        params![into.as_str(), at.0, by, merge_id, link],
                    )
                    .map_err(db_err)?;
                }
                tx.execute("UPDATE regional_ids SET merged_into = ?1 WHERE regional_id = ?2", params![
                    into.as_str(),
                    from.as_str()
                ])
                .map_err(db_err)?;
                tx.commit().map_err(db_err)?;
                Ok(Merge { id: merge_id, from, into, at, by, undone_at: None })
            })
        })
        .await
    }

    async fn unmerge(&self, merge_id: i64, by: &str, at: UnixTime) -> Result<Merge> {
        let by = by.to_owned();
        self.blocking(move |inner| {
            inner.write(|conn| {
                let tx = conn.transaction().map_err(db_err)?;
                let m = tx
                    .query_row("SELECT id, from_id, into_id, at, by, undone_at FROM merges WHERE id = ?1", [merge_id], merge_from)
                    .optional()
                    .map_err(db_err)?
                    .ok_or_else(|| StoreError::Conflict(format!("there is no merge {merge_id}")))?;
                let m = merge_of(m)?;
                if m.undone_at.is_some() {
                    return Err(StoreError::Conflict(format!("merge {merge_id} was already undone")));
                }
                // Only the links the merge created and that are still active go back.
                tx.execute(
                    "UPDATE links SET ended_at = ?1, ended_by = ?2 WHERE merge_id = ?3 AND ended_at IS NULL",
                    params![at.0, by, merge_id],
                )
                .map_err(db_err)?;
                tx.execute(
                    "INSERT INTO links(regional_id, facility_id, local_id, linked_at, linked_by)
                     SELECT ?1, facility_id, local_id, ?2, ?3 FROM links WHERE merge_id = ?4 AND ended_at = ?2 AND ended_by = ?3
                       AND NOT EXISTS (SELECT 1 FROM links a WHERE a.facility_id = links.facility_id AND a.local_id = links.local_id AND a.ended_at IS NULL)",
                    params![m.from.as_str(), at.0, by, merge_id],
                )
                .map_err(db_err)?;
                tx.execute("UPDATE regional_ids SET merged_into = NULL WHERE regional_id = ?1", [m.from.as_str()])
                    .map_err(db_err)?;
                tx.execute("UPDATE merges SET undone_at = ?1, undone_by = ?2 WHERE id = ?3", params![at.0, by, merge_id])
                    .map_err(db_err)?;
                tx.commit().map_err(db_err)?;
                Ok(Merge { undone_at: Some(at), ..m })
            })
        })
        .await
    }

    async fn merges(&self) -> Result<Vec<Merge>> {
        self.blocking(|inner| {
            inner.read(|conn| {
                query_all(
                    conn,
                    "SELECT id, from_id, into_id, at, by, undone_at FROM merges ORDER BY id",
                    [],
                    merge_from,
                    merge_of,
                )
            })
        })
        .await
    }

    async fn record_consent(&self, c: &Consent) -> Result<i64> {
        let c = c.clone();
        self.blocking(move |inner| {
            inner.write(|conn| {
                let exists: bool = conn
                    .query_row("SELECT 1 FROM regional_ids WHERE regional_id = ?1", [c.regional_id.as_str()], |_| Ok(()))
                    .optional()
                    .map_err(db_err)?
                    .is_some();
                if !exists {
                    return Err(StoreError::Conflict(format!("regional ID {} was never issued", c.regional_id)));
                }
                conn.execute(
                    "INSERT INTO consents(regional_id, scope, valid_from, valid_until, withdrawn_at, paper_form, implied,
                                          recorded_by, recorded_at, replaces)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                    params![
                        c.regional_id.as_str(),
                        json(&c.scope)?,
                        c.valid_from.to_string(),
                        c.valid_until.map(|d| d.to_string()),
                        c.withdrawn_at.map(|t| t.0),
                        c.paper_form,
                        c.implied,
                        c.recorded_by,
                        c.recorded_at.0,
                        c.replaces
                    ],
                )
                .map_err(db_err)?;
                Ok(conn.last_insert_rowid())
            })
        })
        .await
    }

    async fn withdraw_consent(&self, id: i64, by: &str, at: UnixTime) -> Result<Consent> {
        let by = by.to_owned();
        self.blocking(move |inner| {
            inner.write(|conn| {
                let tx = conn.transaction().map_err(db_err)?;
                let c = tx
                    .query_row(
                        &format!("SELECT {CONSENT_COLS} FROM consents WHERE id = ?1"),
                        [id],
                        consent_row,
                    )
                    .optional()
                    .map_err(db_err)?
                    .ok_or_else(|| StoreError::Conflict(format!("there is no consent {id}")))?;
                let c = consent_from(c)?;
                if c.withdrawn_at.is_some() {
                    return Err(StoreError::Conflict(format!(
                        "consent {id} was already withdrawn"
                    )));
                }
                tx.execute(
                    "UPDATE consents SET withdrawn_at = ?1, withdrawn_by = ?2 WHERE id = ?3",
                    params![at.0, by, id],
                )
                .map_err(db_err)?;
                tx.commit().map_err(db_err)?;
                Ok(Consent {
                    withdrawn_at: Some(at),
                    ..c
                })
            })
        })
        .await
    }

    async fn consents_of(&self, id: &RegionalId) -> Result<Vec<Consent>> {
        let id = id.clone();
        self.reading(move |conn| {
            query_all(
                conn,
                &format!("SELECT {CONSENT_COLS} FROM consents WHERE regional_id = ?1 ORDER BY id"),
                [id.as_str()],
                consent_row,
                consent_from,
            )
        })
        .await
    }

    async fn put_user(&self, user: &User, credentials: Option<&Credentials>) -> Result<()> {
        let (user, credentials) = (user.clone(), credentials.cloned());
        let adding = credentials.is_some();
        self.blocking(move |inner| {
            inner.write(|conn| {
                let facilities: Vec<&str> = user.facilities.iter().map(|f| f.as_str()).collect();
                let facilities = json(&facilities)?;
                match credentials {
                    Some(c) => conn.execute(
                        "INSERT INTO users(login, display_name, profession, facilities, active, password_phc, totp_secret, login_state, created_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                         ON CONFLICT(login) DO NOTHING",
                        params![
                            user.login,
                            user.display_name,
                            user.profession.as_str(),
                            facilities,
                            user.active,
                            c.password_phc,
                            c.totp_secret,
                            c.login_state,
                            UnixTime::now().0
                        ],
                    ),
                    None => conn.execute(
                        "UPDATE users SET display_name = ?2, profession = ?3, facilities = ?4, active = ?5 WHERE login = ?1",
                        params![user.login, user.display_name, user.profession.as_str(), facilities, user.active],
                    ),
                }
                .map_err(db_err)
                .and_then(|n| match (n, adding) {
                    (0, true) => Err(StoreError::Conflict(format!("user {:?} exists already", user.login))),
                    (0, false) => Err(StoreError::Conflict(format!("there is no user {:?}", user.login))),
                    _ => Ok(()),
                })
            })
        })
        .await
    }

    async fn user(&self, login: &str) -> Result<Option<(User, Credentials)>> {
        let login = login.to_owned();
        self.reading(move |conn| {
            crate::query_row_cached(
                conn,
                &format!("SELECT {USER_COLS} FROM users WHERE login = ?1"),
                [&login],
                user_row,
            )
            .optional()
            .map_err(db_err)?
            .map(user_from)
            .transpose()
        })
        .await
    }

    async fn users(&self) -> Result<Vec<User>> {
        self.blocking(|inner| {
            inner.read(|conn| {
                query_all(
                    conn,
                    &format!("SELECT {USER_COLS} FROM users ORDER BY login"),
                    [],
                    user_row,
                    |row| user_from(row).map(|(u, _)| u),
                )
            })
        })
        .await
    }

    async fn set_credentials(&self, login: &str, c: &Credentials) -> Result<()> {
        let (login, c) = (login.to_owned(), c.clone());
        self.blocking(move |inner| {
            inner.write(|conn| {
                let n = conn
                    .execute(
                        "UPDATE users SET password_phc = ?2, totp_secret = ?3, login_state = ?4 WHERE login = ?1",
                        params![login, c.password_phc, c.totp_secret, c.login_state],
                    )
                    .map_err(db_err)?;
                if n == 0 {
                    return Err(StoreError::Conflict(format!("there is no user {login:?}")));
                }
                Ok(())
            })
        })
        .await
    }

    async fn update_login_state(
        &self,
        login: &str,
        change: LoginStateChange,
    ) -> Result<Option<(String, String)>> {
        let login = login.to_owned();
        self.blocking(move |inner| {
            // The writer connection is held and the transaction is IMMEDIATE: no other
            // writer, in this process or another, runs between the read and the write.
            inner.write(|conn| {
                let tx = conn.transaction().map_err(db_err)?;
                let before: Option<String> = tx
                    .query_row(
                        "SELECT login_state FROM users WHERE login = ?1",
                        [&login],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(db_err)?;
                let Some(before) = before else {
                    return Ok(None);
                };
                let after = change(&before);
                if after != before {
                    tx.execute(
                        "UPDATE users SET login_state = ?2 WHERE login = ?1",
                        params![login, after],
                    )
                    .map_err(db_err)?;
                }
                tx.commit().map_err(db_err)?;
                Ok(Some((before, after)))
            })
        })
        .await
    }

    async fn update_login_counter(
        &self,
        key: &str,
        now: UnixTime,
        change: LoginCounterChange,
    ) -> Result<(Option<String>, String)> {
        let key = key.to_owned();
        self.blocking(move |inner| {
            inner.write(|conn| {
                let tx = conn.transaction().map_err(db_err)?;
                tx.execute("DELETE FROM login_counters WHERE keep_until <= ?1", [now.0])
                    .map_err(db_err)?;
                let before: Option<String> = tx
                    .query_row(
                        "SELECT state FROM login_counters WHERE key = ?1",
                        [&key],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(db_err)?;
                let (after, keep_until) = change(before.as_deref());
                tx.execute(
                    "INSERT INTO login_counters(key, state, keep_until) VALUES (?1, ?2, ?3)
                     ON CONFLICT(key) DO UPDATE SET state = ?2, keep_until = ?3",
                    params![key, after, keep_until.0],
                )
                .map_err(db_err)?;
                tx.commit().map_err(db_err)?;
                Ok((before, after))
            })
        })
        .await
    }

    async fn replace_totp_secret(&self, login: &str, expected: &str, new: &str) -> Result<bool> {
        let (login, expected, new) = (login.to_owned(), expected.to_owned(), new.to_owned());
        self.blocking(move |inner| {
            inner.write(|conn| {
                let n = conn
                    .execute(
                        "UPDATE users SET totp_secret = ?3 WHERE login = ?1 AND totp_secret = ?2",
                        params![login, expected, new],
                    )
                    .map_err(db_err)?;
                Ok(n > 0)
            })
        })
        .await
    }

    async fn create_session(&self, token_hash: &[u8; 32], s: &Session) -> Result<()> {
        let (h, s) = (*token_hash, s.clone());
        self.blocking(move |inner| {
            inner.write(|conn| {
                conn.execute(
                    "INSERT INTO sessions(token_hash, login, acting_facility, created_at, last_seen) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![&h[..], s.login, s.acting_facility.as_ref().map(|f| f.as_str().to_owned()), s.created_at.0, s.last_seen.0],
                )
                .map_err(db_err)?;
                Ok(())
            })
        })
        .await
    }

    async fn session(&self, token_hash: &[u8; 32]) -> Result<Option<Session>> {
        let h = *token_hash;
        self.reading(move |conn| {
                let row = conn
                    .query_row(
                        "SELECT login, acting_facility, created_at, last_seen, ended_at FROM sessions WHERE token_hash = ?1",
                        [&h[..]],
                        |r| {
                            Ok((
                                r.get::<_, String>(0)?,
                                r.get::<_, Option<String>>(1)?,
                                r.get::<_, i64>(2)?,
                                r.get::<_, i64>(3)?,
                                r.get::<_, Option<i64>>(4)?,
                            ))
                        },
                    )
                    .optional()
                    .map_err(db_err)?;
                row.map(|(login, acting, created, seen, ended)| {
                    Ok(Session {
                        login,
                        acting_facility: acting.map(code).transpose()?,
                        created_at: UnixTime(created),
                        last_seen: UnixTime(seen),
                        ended_at: ended.map(UnixTime),
                    })
                })
                .transpose()
            })
        .await
    }

    async fn touch_session(
        &self,
        token_hash: &[u8; 32],
        at: UnixTime,
        acting: Option<&FacilityCode>,
    ) -> Result<()> {
        let (h, acting) = (*token_hash, acting.cloned());
        self.blocking(move |inner| {
            inner.write(|conn| {
                match acting {
                    Some(f) => conn.execute(
                        "UPDATE sessions SET last_seen = MAX(last_seen, ?2), acting_facility = ?3
                         WHERE token_hash = ?1 AND ended_at IS NULL",
                        params![&h[..], at.0, f.as_str()],
                    ),
                    None => conn.execute(
                        "UPDATE sessions SET last_seen = MAX(last_seen, ?2) WHERE token_hash = ?1 AND ended_at IS NULL",
                        params![&h[..], at.0],
                    ),
                }
                .map_err(db_err)?;
                Ok(())
            })
        })
        .await
    }

    async fn end_session(&self, token_hash: &[u8; 32], at: UnixTime) -> Result<()> {
        let h = *token_hash;
        self.blocking(move |inner| {
            inner.write(|conn| {
                conn.execute(
                    "UPDATE sessions SET ended_at = ?2 WHERE token_hash = ?1 AND ended_at IS NULL",
                    params![&h[..], at.0],
                )
                .map_err(db_err)?;
                Ok(())
            })
        })
        .await
    }

    async fn put_api_key(&self, k: &ApiKeyRecord) -> Result<()> {
        let k = k.clone();
        self.blocking(move |inner| {
            inner.write(|conn| {
                let fid = facility_id(conn, &k.facility)?;
                conn.execute(
                    "INSERT INTO api_keys(prefix, facility_id, key_hash, created_at, created_by, revoked_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT(prefix) DO UPDATE SET revoked_at = ?6",
                    params![k.prefix, fid, &k.key_hash[..], k.created_at.0, k.created_by, k.revoked_at.map(|t| t.0)],
                )
                .map_err(db_err)?;
                Ok(())
            })
        })
        .await
    }

    async fn api_key(&self, prefix: &str) -> Result<Option<ApiKeyRecord>> {
        let prefix = prefix.to_owned();
        self.reading(move |conn| {
                let row = conn
                    .query_row(
                        "SELECT k.prefix, f.code, k.key_hash, k.created_at, k.created_by, k.revoked_at
                         FROM api_keys k JOIN facilities f ON f.id = k.facility_id WHERE k.prefix = ?1",
                        [&prefix],
                        |r| {
                            Ok((
                                r.get::<_, String>(0)?,
                                r.get::<_, String>(1)?,
                                r.get::<_, Vec<u8>>(2)?,
                                r.get::<_, i64>(3)?,
                                r.get::<_, String>(4)?,
                                r.get::<_, Option<i64>>(5)?,
                            ))
                        },
                    )
                    .optional()
                    .map_err(db_err)?;
                row.map(|(prefix, c, hash, created, by, revoked)| {
                    Ok(ApiKeyRecord {
                        prefix,
                        facility: code(c)?,
                        key_hash: hash.try_into().map_err(|_| StoreError::Corrupt("api key hash length".into()))?,
                        created_at: UnixTime(created),
                        created_by: by,
                        revoked_at: revoked.map(UnixTime),
                    })
                })
                .transpose()
            })
        .await
    }

    async fn setting(&self, key: &str) -> Result<Option<String>> {
        let key = key.to_owned();
        self.reading(move |conn| {
            crate::query_row_cached(
                conn,
                "SELECT value FROM settings WHERE key = ?1",
                [&key],
                |r| r.get(0),
            )
            .optional()
            .map_err(db_err)
        })
        .await
    }

    async fn put_setting(&self, key: &str, value: &str) -> Result<()> {
        let (key, value) = (key.to_owned(), value.to_owned());
        self.blocking(move |inner| {
            inner.write(|conn| {
                conn.execute(
                    "INSERT INTO settings(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = ?2",
                    params![key, value],
                )
                .map_err(db_err)?;
                Ok(())
            })
        })
        .await
    }

    async fn append_audit(&self, events: Vec<audit::Event>) -> Result<Vec<audit::Entry>> {
        // Group commit: every page view appends one entry, and at a few hundred pages a
        // second one transaction (and fsync) each would queue them all on the one writer.
        // Appends that arrive while another batch waits for the writer join it; the batch is
        // written in one transaction, in arrival order, and each caller gets its own entries.
        let (done, result) = tokio::sync::oneshot::channel();
        let leader = {
            let mut queue = self
                .inner
                .audit_queue
                .lock()
                .map_err(|_| StoreError::Database("audit queue lock poisoned".into()))?;
            queue.push(PendingAudit { events, done });
            // Whoever finds the queue empty writes it; a non-empty queue always has a writer
            // on its way (it drains the queue only once it holds the writer).
            queue.len() == 1
        };
        if leader {
            self.blocking(|inner| {
                inner.write(|conn| {
                    let batch =
                        std::mem::take(&mut *inner.audit_queue.lock().map_err(|_| {
                            StoreError::Database("audit queue lock poisoned".into())
                        })?);
                    write_audit_batch(conn, &inner.audit_anchor, batch);
                    Ok(())
                })
            })
            .await?;
        }
        result
            .await
            .map_err(|_| StoreError::Database("audit append was abandoned".into()))?
    }

    async fn audit_range(&self, from_seq: u64, limit: usize) -> Result<Vec<audit::Entry>> {
        self.blocking(move |inner| {
            inner.read(|conn| {
                let limit = if limit == 0 { -1 } else { limit as i64 };
                query_all(
                    conn,
                    "SELECT seq, event, prev_hash, hash FROM audit_log WHERE seq >= ?1 ORDER BY seq LIMIT ?2",
                    params![from_seq as i64, limit],
                    entry_from,
                    entry_of,
                )
            })
        })
        .await
    }

    async fn audit_query(&self, f: &AuditFilter) -> Result<Vec<audit::Entry>> {
        let f = f.clone();
        self.blocking(move |inner| {
            inner.read(|conn| {
                let limit = if f.limit == 0 { -1 } else { f.limit as i64 };
                query_all(
                    conn,
                    "SELECT seq, event, prev_hash, hash FROM audit_log
                     WHERE (?1 IS NULL OR patient = ?1) AND (?2 IS NULL OR actor = ?2) AND (?3 = 0 OR flagged = 1)
                       AND (?4 IS NULL OR at >= ?4) AND (?5 IS NULL OR at <= ?5)
                     ORDER BY seq DESC LIMIT ?6",
                    params![
                        f.patient.as_ref().map(|p| p.as_str().to_owned()),
                        f.actor,
                        f.flagged_only,
                        f.since.map(|t| t.0),
                        f.until.map(|t| t.0),
                        limit
                    ],
                    entry_from,
                    entry_of,
                )
            })
        })
        .await
    }

    async fn audit_head(&self) -> Result<Option<(u64, [u8; 32])>> {
        self.blocking(|inner| {
            inner.read(|conn| {
                crate::query_row_cached(
                    conn,
                    "SELECT seq, event, prev_hash, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
                    [],
                    entry_from,
                )
                .optional()
                .map_err(db_err)?
                .map(entry_of)
                .transpose()
                .map(|e| e.map(|e| (e.seq, e.hash)))
            })
        })
        .await
    }

    async fn audit_anchor(&self) -> Result<Option<(u64, [u8; 32])>> {
        self.blocking(|inner| read_anchor(&inner.audit_anchor))
            .await
    }
}

fn demographics_row(r: &Row) -> rusqlite::Result<Demographics> {
    Ok(Demographics {
        name_kanji: r.get(0)?,
        name_kana: r.get(1)?,
        birth_date: r.get(2)?,
        sex: r.get(3)?,
        phone: r.get(4)?,
        zip: r.get(5)?,
        address: r.get(6)?,
    })
}

/// Audit entries after `seq`, oldest first (the replication stream).
pub(crate) fn audit_after(conn: &Connection, seq: u64, limit: i64) -> Result<Vec<audit::Entry>> {
    query_all(
        conn,
        "SELECT seq, event, prev_hash, hash FROM audit_log WHERE seq > ?1 ORDER BY seq LIMIT ?2",
        params![seq as i64, limit],
        entry_from,
        entry_of,
    )
}

/// Append a primary's entries as they are. Each must continue this chain: its hash is
/// recomputed from the previous one and its event, so a replica never holds an entry the
/// primary's chain would not verify. Entries already here must be the same entries.
/// Returns, when something was appended, the chain's head before and after.
#[allow(clippy::type_complexity)]
pub(crate) fn append_replicated_audit(
    conn: &mut Connection,
    entries: &[audit::Entry],
) -> Result<Option<(Option<(u64, [u8; 32])>, (u64, [u8; 32]))>> {
    let tx = conn.transaction().map_err(db_err)?;
    let mut head: Option<(u64, [u8; 32])> = tx
        .query_row(
            "SELECT seq, event, prev_hash, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
            [],
            entry_from,
        )
        .optional()
        .map_err(db_err)?
        .map(entry_of)
        .transpose()?
        .map(|e| (e.seq, e.hash));
    let previous = head;
    let mut appended = false;
    for entry in entries {
        let append = store::replicated_audit_step(head, entry, || {
            tx.query_row(
                "SELECT hash FROM audit_log WHERE seq = ?1",
                [entry.seq as i64],
                |r| r.get(0),
            )
            .optional()
            .map_err(db_err)
        })?;
        if append {
            insert_entry(&tx, entry)?;
            head = Some((entry.seq, entry.hash));
            appended = true;
        }
    }
    tx.commit().map_err(db_err)?;
    Ok(head.filter(|_| appended).map(|new| (previous, new)))
}

/// Write one audit entry as computed (the chain is checked by the caller).
fn insert_entry(conn: &Connection, entry: &audit::Entry) -> Result<()> {
    let e = &entry.event;
    conn.prepare_cached(
        "INSERT INTO audit_log(seq, at, actor, action, patient, flagged, event, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )
    .and_then(|mut ins| {
        ins.execute(params![
            entry.seq as i64,
            e.at.0,
            e.actor,
            e.action.as_str(),
            e.patient.as_ref().map(|p| p.as_str().to_owned()),
            e.flagged,
            String::from_utf8_lossy(&audit::canonical(e)),
            &entry.prev_hash[..],
            &entry.hash[..]
        ])
    })
    .map_err(db_err)?;
    Ok(())
}
