//! Facilities, regional IDs, links, consent, users, sessions, settings and the audit chain
//! on PostgreSQL.
//!
//! The embedded store has one writer; here several servers may write at once. What it gets
//! from that, this module gets from locks held to commit:
//! - the audit chain is appended under [`AUDIT_LOCK`](crate::schema::AUDIT_LOCK), so each
//!   entry hashes the entry committed before it;
//! - regional IDs are numbered `MAX(seq) + 1` as in the embedded store (so the numbering
//!   continues across replication and migration), retried when another server took it;
//! - links, merges and consents lock the rows they decide on (`FOR SHARE` / `FOR UPDATE`)
//!   before their first journaled write (the journal trigger takes
//!   [`JOURNAL_LOCK`](crate::schema::JOURNAL_LOCK), and a transaction holding it must not
//!   wait for another's row lock).

use async_trait::async_trait;
use model::{
    Consent, ConsentScope, Date, Demographics, Facility, FacilityCode, FacilityKind,
    FacilityStatus, Link, LocalPatient, Profession, RegionalId, UnixTime, User,
};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Postgres, QueryBuilder, Row};
use store::{
    ApiKeyRecord, AuditFilter, Credentials, LoginCounterChange, LoginStateChange, Merge, Registry,
    Result, Session, StoreError,
};

use crate::{db_err, PgStore};

/// The 3-digit network number in issued regional IDs (as the embedded store: 000 = unset).
const NETWORK_PREFIX: u16 = 0;

/// Attempts at taking the next regional ID when other servers keep taking it first.
const ENROLL_ATTEMPTS: usize = 100;
/// Attempts at linking a local patient other servers keep linking and unlinking.
const LINK_ATTEMPTS: usize = 10;

fn json<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(format!("serialising: {e}")))
}

fn from_json<T: serde::de::DeserializeOwned>(s: &str, what: &str) -> Result<T> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

/// Column `i` of a row.
fn col<'r, T>(r: &'r PgRow, i: usize) -> Result<T>
where
    T: sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres>,
{
    r.try_get(i).map_err(db_err)
}

/// A BIGINT 0/1 column as a bool.
fn flag(r: &PgRow, i: usize) -> Result<bool> {
    Ok(col::<i64>(r, i)? != 0)
}

/// Whether a database error is a unique violation.
pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.code().as_deref() == Some("23505"))
}

async fn facility_id(conn: &mut PgConnection, code: &FacilityCode) -> Result<i64> {
    sqlx::query_scalar::<_, i64>("SELECT id FROM facilities WHERE code = $1")
        .bind(code.as_str())
        .fetch_optional(&mut *conn)
        .await
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

fn facility_of(r: &PgRow) -> Result<Facility> {
    let kind: String = col(r, 2)?;
    let status: String = col(r, 4)?;
    Ok(Facility {
        code: code(col(r, 0)?)?,
        name: col(r, 1)?,
        kind: FacilityKind::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("facility kind {kind:?}")))?,
        area: col(r, 3)?,
        status: FacilityStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("facility status {status:?}")))?,
        discloses: flag(r, 5)?,
        views: flag(r, 6)?,
    })
}

const LINK_COLS: &str =
    "l.regional_id, f.code, l.local_id, l.linked_at, l.linked_by, l.ended_at, l.ended_by FROM links l JOIN facilities f ON f.id = l.facility_id";

fn link_of(r: &PgRow) -> Result<Link> {
    Ok(Link {
        regional_id: rid(col(r, 0)?)?,
        patient: LocalPatient {
            facility: code(col(r, 1)?)?,
            local_id: col(r, 2)?,
        },
        linked_at: UnixTime(col(r, 3)?),
        linked_by: col(r, 4)?,
        ended_at: col::<Option<i64>>(r, 5)?.map(UnixTime),
        ended_by: col(r, 6)?,
    })
}

const CONSENT_COLS: &str =
    "id, regional_id, scope, valid_from, valid_until, withdrawn_at, paper_form, implied, recorded_by, recorded_at, replaces";

fn consent_of(r: &PgRow) -> Result<Consent> {
    let date =
        |s: &str| Date::parse(s).ok_or_else(|| StoreError::Corrupt(format!("consent date {s:?}")));
    let scope: String = col(r, 2)?;
    let valid_from: String = col(r, 3)?;
    let valid_until: Option<String> = col(r, 4)?;
    Ok(Consent {
        id: col(r, 0)?,
        regional_id: rid(col(r, 1)?)?,
        scope: from_json::<ConsentScope>(&scope, "consent scope")?,
        valid_from: date(&valid_from)?,
        valid_until: valid_until.as_deref().map(date).transpose()?,
        withdrawn_at: col::<Option<i64>>(r, 5)?.map(UnixTime),
        paper_form: col(r, 6)?,
        implied: flag(r, 7)?,
        recorded_by: col(r, 8)?,
        recorded_at: UnixTime(col(r, 9)?),
        replaces: col(r, 10)?,
    })
}

const USER_COLS: &str =
    "login, display_name, profession, facilities, active, password_phc, totp_secret, login_state";

fn user_of(r: &PgRow) -> Result<(User, Credentials)> {
    let profession: String = col(r, 2)?;
    let facilities: String = col(r, 3)?;
    let codes: Vec<String> = from_json(&facilities, "user facilities")?;
    Ok((
        User {
            login: col(r, 0)?,
            display_name: col(r, 1)?,
            profession: Profession::parse(&profession)
                .ok_or_else(|| StoreError::Corrupt(format!("profession {profession:?}")))?,
            facilities: codes.into_iter().map(code).collect::<Result<_>>()?,
            active: flag(r, 4)?,
        },
        Credentials {
            password_phc: col(r, 5)?,
            totp_secret: col(r, 6)?,
            login_state: col(r, 7)?,
        },
    ))
}

const MERGE_COLS: &str = "id, from_id, into_id, at, by, undone_at";

fn merge_of(r: &PgRow) -> Result<Merge> {
    Ok(Merge {
        id: col(r, 0)?,
        from: rid(col(r, 1)?)?,
        into: rid(col(r, 2)?)?,
        at: UnixTime(col(r, 3)?),
        by: col(r, 4)?,
        undone_at: col::<Option<i64>>(r, 5)?.map(UnixTime),
    })
}

const DEMOGRAPHICS_COLS: &str = "name_kanji, name_kana, birth_date, sex, phone, zip, address";

fn demographics_of(r: &PgRow) -> Result<Demographics> {
    Ok(Demographics {
        name_kanji: col(r, 0)?,
        name_kana: col(r, 1)?,
        birth_date: col(r, 2)?,
        sex: col(r, 3)?,
        phone: col(r, 4)?,
        zip: col(r, 5)?,
        address: col(r, 6)?,
    })
}

const ENTRY_COLS: &str = "seq, event, prev_hash, hash";

fn entry_of(r: &PgRow) -> Result<audit::Entry> {
    let hash = |v: Vec<u8>| -> Result<[u8; 32]> {
        v.try_into()
            .map_err(|_| StoreError::Corrupt("audit hash is not 32 bytes".into()))
    };
    let event: String = col(r, 1)?;
    Ok(audit::Entry {
        seq: col::<i64>(r, 0)? as u64,
        event: from_json(&event, "audit event")?,
        prev_hash: hash(col(r, 2)?)?,
        hash: hash(col(r, 3)?)?,
    })
}

/// The newest audit entry.
async fn audit_head_entry(conn: &mut PgConnection) -> Result<Option<audit::Entry>> {
    sqlx::query(&format!(
        "SELECT {ENTRY_COLS} FROM audit_log ORDER BY seq DESC LIMIT 1"
    ))
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?
    .as_ref()
    .map(entry_of)
    .transpose()
}

/// Take the audit chain for the rest of the transaction: every appender (this server's,
/// other servers', replication) reads the head and writes after it under this lock.
pub(crate) async fn lock_audit(conn: &mut PgConnection) -> Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(crate::schema::AUDIT_LOCK)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    Ok(())
}

/// Write audit entries as computed, in one statement (the chain is checked by the caller,
/// who holds the audit lock). Creates the partitions the new entries need.
pub(crate) async fn insert_entries(
    conn: &mut PgConnection,
    entries: &[audit::Entry],
) -> Result<()> {
    let n = entries.len();
    if n == 0 {
        return Ok(());
    }
    let (mut seq, mut at, mut actor, mut action) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let (mut patient, mut flagged, mut event, mut prev_hash, mut hash) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for (i, entry) in entries.iter().enumerate() {
        let s = entry.seq as i64;
        if i == 0 || s % crate::schema::AUDIT_PARTITION_SIZE == 0 {
            crate::schema::ensure_audit_partition(&mut *conn, s).await?;
        }
        let e = &entry.event;
        seq.push(s);
        at.push(e.at.0);
        actor.push(e.actor.clone());
        action.push(e.action.as_str().to_owned());
        patient.push(e.patient.as_ref().map(|p| p.as_str().to_owned()));
        flagged.push(e.flagged as i64);
        event.push(String::from_utf8_lossy(&audit::canonical(e)).into_owned());
        prev_hash.push(entry.prev_hash.to_vec());
        hash.push(entry.hash.to_vec());
    }
    sqlx::query(
        "INSERT INTO audit_log(seq, at, actor, action, patient, flagged, event, prev_hash, hash)
         SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[],
                              $6::bigint[], $7::text[], $8::bytea[], $9::bytea[])",
    )
    .bind(seq)
    .bind(at)
    .bind(actor)
    .bind(action)
    .bind(patient)
    .bind(flagged)
    .bind(event)
    .bind(prev_hash)
    .bind(hash)
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

/// Audit entries after `seq`, oldest first (the replication stream); a negative `limit`
/// means no limit (as SQLite's `LIMIT -1`).
pub(crate) async fn audit_after(
    conn: &mut PgConnection,
    seq: u64,
    limit: i64,
) -> Result<Vec<audit::Entry>> {
    sqlx::query(&format!(
        "SELECT {ENTRY_COLS} FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2"
    ))
    .bind(seq as i64)
    .bind((limit >= 0).then_some(limit))
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?
    .iter()
    .map(entry_of)
    .collect()
}

/// `merged_into` of a regional ID, locked as `lock` says (None: never issued).
async fn merged_into(
    conn: &mut PgConnection,
    id: &RegionalId,
    lock: &str,
) -> Result<Option<Option<String>>> {
    sqlx::query_scalar::<_, Option<String>>(&format!(
        "SELECT merged_into FROM regional_ids WHERE regional_id = $1 {lock}"
    ))
    .bind(id.as_str())
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)
}

impl PgStore {
    /// Issue a regional ID, trying the candidates `next` gives in turn until one is not
    /// taken. `enroll` draws them at random; tests pass their own to see a collision
    /// retried. The sequence number is the embedded store's (the next one); another server
    /// may take the same number, or (rarely) the same ID: the insert then waits for that
    /// server's commit and writes nothing, and the next try (a new snapshot, at READ
    /// COMMITTED) sees both taken.
    pub async fn enroll_trying(
        &self,
        by: &str,
        at: UnixTime,
        mut next: impl FnMut() -> Result<RegionalId> + Send,
    ) -> Result<RegionalId> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        for _ in 0..ENROLL_ATTEMPTS {
            let seq: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) + 1 FROM regional_ids")
                .fetch_one(&mut *tx)
                .await
                .map_err(db_err)?;
            let id = next()?;
            let written = sqlx::query(
                "INSERT INTO regional_ids(seq, regional_id, created_at, created_by) VALUES ($1, $2, $3, $4)
                 ON CONFLICT DO NOTHING",
            )
            .bind(seq)
            .bind(id.as_str())
            .bind(at.0)
            .bind(by)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?
            .rows_affected();
            if written == 1 {
                tx.commit().await.map_err(db_err)?;
                return Ok(id);
            }
        }
        Err(StoreError::Database(format!(
            "could not issue a regional ID: {ENROLL_ATTEMPTS} tries in a row were taken (by other servers or an equal random draw)"
        )))
    }
}

#[async_trait]
impl Registry for PgStore {
    async fn put_facility(&self, f: &Facility) -> Result<()> {
        sqlx::query(
            "INSERT INTO facilities(code, created_at, name, kind, area, status, discloses, views)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT(code) DO UPDATE SET name = $3, kind = $4, area = $5, status = $6, discloses = $7, views = $8",
        )
        .bind(f.code.as_str())
        .bind(crate::now())
        .bind(&f.name)
        .bind(f.kind.as_str())
        .bind(&f.area)
        .bind(f.status.as_str())
        .bind(f.discloses as i64)
        .bind(f.views as i64)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn facility_details(&self, c: &FacilityCode) -> Result<Option<Facility>> {
        sqlx::query(&format!(
            "SELECT {FACILITY_COLS} FROM facilities WHERE code = $1"
        ))
        .bind(c.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?
        .as_ref()
        .map(facility_of)
        .transpose()
    }

    async fn list_facilities(&self) -> Result<Vec<Facility>> {
        sqlx::query(&format!(
            "SELECT {FACILITY_COLS} FROM facilities ORDER BY code"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?
        .iter()
        .map(facility_of)
        .collect()
    }

    async fn local_patient(&self, p: &LocalPatient) -> Result<Option<Demographics>> {
        sqlx::query(&format!(
            "SELECT {DEMOGRAPHICS_COLS} FROM local_patients lp
             JOIN facilities f ON f.id = lp.facility_id WHERE f.code = $1 AND lp.local_id = $2"
        ))
        .bind(p.facility.as_str())
        .bind(&p.local_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?
        .as_ref()
        .map(demographics_of)
        .transpose()
    }

    async fn local_patients(&self) -> Result<Vec<(LocalPatient, Demographics)>> {
        sqlx::query(&format!(
            "SELECT {DEMOGRAPHICS_COLS}, f.code, lp.local_id
             FROM local_patients lp JOIN facilities f ON f.id = lp.facility_id ORDER BY f.code, lp.local_id"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?
        .iter()
        .map(|r| {
            Ok((
                LocalPatient {
                    facility: code(col(r, 7)?)?,
                    local_id: col(r, 8)?,
                },
                demographics_of(r)?,
            ))
        })
        .collect()
    }

    async fn enroll(&self, by: &str, at: UnixTime) -> Result<RegionalId> {
        self.enroll_trying(by, at, || store::random_regional_id(NETWORK_PREFIX))
            .await
    }

    async fn regional_id_exists(&self, id: &RegionalId) -> Result<bool> {
        Ok(
            sqlx::query_scalar::<_, i32>("SELECT 1 FROM regional_ids WHERE regional_id = $1")
                .bind(id.as_str())
                .fetch_optional(&self.pool)
                .await
                .map_err(db_err)?
                .is_some(),
        )
    }

    async fn link(
        &self,
        id: &RegionalId,
        p: &LocalPatient,
        by: &str,
        at: UnixTime,
    ) -> Result<Link> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        // FOR SHARE: a merge of this ID (FOR UPDATE) waits for this link, or this link for
        // the merge and then sees it merged.
        match merged_into(&mut tx, id, "FOR SHARE").await? {
            None => {
                return Err(StoreError::Conflict(format!(
                    "regional ID {id} was never issued"
                )))
            }
            Some(Some(into)) => {
                return Err(StoreError::Conflict(format!(
                    "regional ID {id} was merged into {into}; link to that one"
                )))
            }
            Some(None) => {}
        }
        let fid = facility_id(&mut tx, &p.facility).await?;
        let already = |other: String| {
            StoreError::Conflict(format!(
                "patient {} of facility {} is already linked to {other}; unlink it first",
                p.local_id, p.facility
            ))
        };
        let existing = || {
            sqlx::query_scalar::<_, String>(
                "SELECT regional_id FROM links WHERE facility_id = $1 AND local_id = $2 AND ended_at IS NULL",
            )
            .bind(fid)
            .bind(&p.local_id)
        };
        // Another server may link the same local patient meanwhile: the partial unique index
        // (one active link per local patient) makes this insert wait for it and write
        // nothing; the next look (a new snapshot) sees that link.
        let mut attempts = 0;
        loop {
            if let Some(other) = existing().fetch_optional(&mut *tx).await.map_err(db_err)? {
                return Err(already(other));
            }
            let written = sqlx::query(
                "INSERT INTO links(regional_id, facility_id, local_id, linked_at, linked_by) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (facility_id, local_id) WHERE ended_at IS NULL DO NOTHING",
            )
            .bind(id.as_str())
            .bind(fid)
            .bind(&p.local_id)
            .bind(at.0)
            .bind(by)
            .execute(&mut *tx)
            .await
            .map_err(|e| {
                if is_unique_violation(&e) {
                    already("another regional ID".into())
                } else {
                    db_err(e)
                }
            })?
            .rows_affected();
            if written == 1 {
                break;
            }
            attempts += 1;
            if attempts == LINK_ATTEMPTS {
                return Err(StoreError::Conflict(format!(
                    "patient {} of facility {} is being linked and unlinked by other servers; try again",
                    p.local_id, p.facility
                )));
            }
        }
        tx.commit().await.map_err(db_err)?;
        Ok(Link {
            regional_id: id.clone(),
            patient: p.clone(),
            linked_at: at,
            linked_by: by.to_owned(),
            ended_at: None,
            ended_by: None,
        })
    }

    async fn unlink(&self, p: &LocalPatient, by: &str, at: UnixTime) -> Result<Option<Link>> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let fid = facility_id(&mut tx, &p.facility).await?;
        // One statement finds and ends the active link (the row locked as it is read).
        let row = sqlx::query(
            "UPDATE links SET ended_at = $1, ended_by = $2
             WHERE facility_id = $3 AND local_id = $4 AND ended_at IS NULL
             RETURNING regional_id, linked_at, linked_by",
        )
        .bind(at.0)
        .bind(by)
        .bind(fid)
        .bind(&p.local_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        let link = row
            .map(|r| -> Result<Link> {
                Ok(Link {
                    regional_id: rid(col(&r, 0)?)?,
                    patient: p.clone(),
                    linked_at: UnixTime(col(&r, 1)?),
                    linked_by: col(&r, 2)?,
                    ended_at: Some(at),
                    ended_by: Some(by.to_owned()),
                })
            })
            .transpose()?;
        tx.commit().await.map_err(db_err)?;
        Ok(link)
    }

    async fn links_of(&self, id: &RegionalId) -> Result<Vec<Link>> {
        sqlx::query(&format!(
            "SELECT {LINK_COLS} WHERE l.regional_id = $1 ORDER BY l.id"
        ))
        .bind(id.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?
        .iter()
        .map(link_of)
        .collect()
    }

    async fn regional_id_of(&self, p: &LocalPatient) -> Result<Option<RegionalId>> {
        sqlx::query_scalar::<_, String>(
            "SELECT l.regional_id FROM links l JOIN facilities f ON f.id = l.facility_id
             WHERE f.code = $1 AND l.local_id = $2 AND l.ended_at IS NULL",
        )
        .bind(p.facility.as_str())
        .bind(&p.local_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?
        .map(rid)
        .transpose()
    }

    async fn merge(
        &self,
        from: &RegionalId,
        into: &RegionalId,
        by: &str,
        at: UnixTime,
    ) -> Result<Merge> {
        if from == into {
            return Err(StoreError::Conflict(
                "cannot merge a regional ID into itself".into(),
            ));
        }
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        // Both IDs locked, in one order whatever the direction (two merges a→b and b→a).
        let rows = sqlx::query(
            "SELECT regional_id, merged_into FROM regional_ids WHERE regional_id = ANY($1)
             ORDER BY regional_id FOR UPDATE",
        )
        .bind(vec![from.as_str().to_owned(), into.as_str().to_owned()])
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?;
        for id in [from, into] {
            let mut merged = None;
            for r in &rows {
                if col::<String>(r, 0)? == id.as_str() {
                    merged = Some(col::<Option<String>>(r, 1)?);
                }
            }
            match merged {
                None => {
                    return Err(StoreError::Conflict(format!(
                        "regional ID {id} was never issued"
                    )))
                }
                Some(Some(x)) => {
                    return Err(StoreError::Conflict(format!(
                        "regional ID {id} is already merged into {x}"
                    )))
                }
                Some(None) => {}
            }
        }
        // Exactly the links active now move: collected (and locked) first, because a link
        // the same person ended by hand in the same second looks alike once ended.
        let active: Vec<i64> = sqlx::query_scalar(
            "SELECT id FROM links WHERE regional_id = $1 AND ended_at IS NULL ORDER BY id FOR UPDATE",
        )
        .bind(from.as_str())
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?;
        let merge_id: i64 = sqlx::query_scalar(
            "INSERT INTO merges(from_id, into_id, at, by) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(from.as_str())
        .bind(into.as_str())
        .bind(at.0)
        .bind(by)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
        if !active.is_empty() {
            // Each moved link ends on `from` and starts again on `into`, tagged with the
            // merge so an unmerge can move exactly those back. The partial unique index
            // forbids two active links: the old ones end first.
            sqlx::query("UPDATE links SET ended_at = $1, ended_by = $2 WHERE id = ANY($3)")
                .bind(at.0)
                .bind(by)
                .bind(&active)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
            sqlx::query(
                "INSERT INTO links(regional_id, facility_id, local_id, linked_at, linked_by, merge_id)
                 SELECT $1, facility_id, local_id, $2, $3, $4 FROM links WHERE id = ANY($5) ORDER BY id",
            )
            .bind(into.as_str())
            .bind(at.0)
            .bind(by)
            .bind(merge_id)
            .bind(&active)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        }
        sqlx::query("UPDATE regional_ids SET merged_into = $1 WHERE regional_id = $2")
            .bind(into.as_str())
            .bind(from.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(Merge {
            id: merge_id,
            from: from.clone(),
            into: into.clone(),
            at,
            by: by.to_owned(),
            undone_at: None,
        })
    }

    async fn unmerge(&self, merge_id: i64, by: &str, at: UnixTime) -> Result<Merge> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let m = sqlx::query(&format!(
            "SELECT {MERGE_COLS} FROM merges WHERE id = $1 FOR UPDATE"
        ))
        .bind(merge_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?
        .ok_or_else(|| StoreError::Conflict(format!("there is no merge {merge_id}")))?;
        let m = merge_of(&m)?;
        if m.undone_at.is_some() {
            return Err(StoreError::Conflict(format!(
                "merge {merge_id} was already undone"
            )));
        }
        // Everything this changes is locked before the first journaled write.
        merged_into(&mut tx, &m.from, "FOR UPDATE").await?;
        sqlx::query(
            "SELECT id FROM links WHERE merge_id = $1 AND ended_at IS NULL ORDER BY id FOR UPDATE",
        )
        .bind(merge_id)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        // Only the links the merge created and that are still active go back.
        sqlx::query(
            "UPDATE links SET ended_at = $1, ended_by = $2 WHERE merge_id = $3 AND ended_at IS NULL",
        )
        .bind(at.0)
        .bind(by)
        .bind(merge_id)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        sqlx::query(
            "INSERT INTO links(regional_id, facility_id, local_id, linked_at, linked_by)
             SELECT $1, m.facility_id, m.local_id, $2, $3 FROM links m
             WHERE m.merge_id = $4 AND m.ended_at = $2 AND m.ended_by = $3
               AND NOT EXISTS (SELECT 1 FROM links a WHERE a.facility_id = m.facility_id AND a.local_id = m.local_id AND a.ended_at IS NULL)
             ORDER BY m.id
             ON CONFLICT (facility_id, local_id) WHERE ended_at IS NULL DO NOTHING",
        )
        .bind(m.from.as_str())
        .bind(at.0)
        .bind(by)
        .bind(merge_id)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        sqlx::query("UPDATE regional_ids SET merged_into = NULL WHERE regional_id = $1")
            .bind(m.from.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        sqlx::query("UPDATE merges SET undone_at = $1, undone_by = $2 WHERE id = $3")
            .bind(at.0)
            .bind(by)
            .bind(merge_id)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(Merge {
            undone_at: Some(at),
            ..m
        })
    }

    async fn merges(&self) -> Result<Vec<Merge>> {
        sqlx::query(&format!("SELECT {MERGE_COLS} FROM merges ORDER BY id"))
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?
            .iter()
            .map(merge_of)
            .collect()
    }

    async fn record_consent(&self, c: &Consent) -> Result<i64> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        if merged_into(&mut tx, &c.regional_id, "").await?.is_none() {
            return Err(StoreError::Conflict(format!(
                "regional ID {} was never issued",
                c.regional_id
            )));
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO consents(regional_id, scope, valid_from, valid_until, withdrawn_at, paper_form, implied,
                                  recorded_by, recorded_at, replaces)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
        )
        .bind(c.regional_id.as_str())
        .bind(json(&c.scope)?)
        .bind(c.valid_from.to_string())
        .bind(c.valid_until.map(|d| d.to_string()))
        .bind(c.withdrawn_at.map(|t| t.0))
        .bind(&c.paper_form)
        .bind(c.implied as i64)
        .bind(&c.recorded_by)
        .bind(c.recorded_at.0)
        .bind(c.replaces)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(id)
    }

    async fn withdraw_consent(&self, id: i64, by: &str, at: UnixTime) -> Result<Consent> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let c = sqlx::query(&format!(
            "SELECT {CONSENT_COLS} FROM consents WHERE id = $1 FOR UPDATE"
        ))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?
        .ok_or_else(|| StoreError::Conflict(format!("there is no consent {id}")))?;
        let c = consent_of(&c)?;
        if c.withdrawn_at.is_some() {
            return Err(StoreError::Conflict(format!(
                "consent {id} was already withdrawn"
            )));
        }
        sqlx::query("UPDATE consents SET withdrawn_at = $1, withdrawn_by = $2 WHERE id = $3")
            .bind(at.0)
            .bind(by)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(Consent {
            withdrawn_at: Some(at),
            ..c
        })
    }

    async fn consents_of(&self, id: &RegionalId) -> Result<Vec<Consent>> {
        sqlx::query(&format!(
            "SELECT {CONSENT_COLS} FROM consents WHERE regional_id = $1 ORDER BY id"
        ))
        .bind(id.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?
        .iter()
        .map(consent_of)
        .collect()
    }

    async fn put_user(&self, user: &User, credentials: Option<&Credentials>) -> Result<()> {
        let facilities: Vec<&str> = user.facilities.iter().map(|f| f.as_str()).collect();
        let facilities = json(&facilities)?;
        let n = match credentials {
            Some(c) => sqlx::query(
                "INSERT INTO users(login, display_name, profession, facilities, active, password_phc, totp_secret, login_state, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                 ON CONFLICT(login) DO NOTHING",
            )
            .bind(&user.login)
            .bind(&user.display_name)
            .bind(user.profession.as_str())
            .bind(&facilities)
            .bind(user.active as i64)
            .bind(&c.password_phc)
            .bind(&c.totp_secret)
            .bind(&c.login_state)
            .bind(UnixTime::now().0)
            .execute(&self.pool)
            .await,
            None => sqlx::query(
                "UPDATE users SET display_name = $2, profession = $3, facilities = $4, active = $5 WHERE login = $1",
            )
            .bind(&user.login)
            .bind(&user.display_name)
            .bind(user.profession.as_str())
            .bind(&facilities)
            .bind(user.active as i64)
            .execute(&self.pool)
            .await,
        }
        .map_err(db_err)?
        .rows_affected();
        if n == 0 {
            return Err(StoreError::Conflict(if credentials.is_some() {
                format!("user {:?} exists already", user.login)
            } else {
                format!("there is no user {:?}", user.login)
            }));
        }
        Ok(())
    }

    async fn user(&self, login: &str) -> Result<Option<(User, Credentials)>> {
        sqlx::query(&format!("SELECT {USER_COLS} FROM users WHERE login = $1"))
            .bind(login)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?
            .as_ref()
            .map(user_of)
            .transpose()
    }

    async fn users(&self) -> Result<Vec<User>> {
        sqlx::query(&format!("SELECT {USER_COLS} FROM users ORDER BY login"))
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?
            .iter()
            .map(|r| user_of(r).map(|(u, _)| u))
            .collect()
    }

    async fn set_credentials(&self, login: &str, c: &Credentials) -> Result<()> {
        let n = sqlx::query(
            "UPDATE users SET password_phc = $2, totp_secret = $3, login_state = $4 WHERE login = $1",
        )
        .bind(login)
        .bind(&c.password_phc)
        .bind(&c.totp_secret)
        .bind(&c.login_state)
        .execute(&self.pool)
        .await
        .map_err(db_err)?
        .rows_affected();
        if n == 0 {
            return Err(StoreError::Conflict(format!("there is no user {login:?}")));
        }
        Ok(())
    }

    async fn update_login_state(
        &self,
        login: &str,
        change: LoginStateChange,
    ) -> Result<Option<(String, String)>> {
        // The row lock is taken before the journaled UPDATE (whose trigger takes
        // JOURNAL_LOCK), as everywhere in this module.
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let before: Option<String> =
            sqlx::query_scalar("SELECT login_state FROM users WHERE login = $1 FOR UPDATE")
                .bind(login)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_err)?;
        let Some(before) = before else {
            return Ok(None);
        };
        let after = change(&before);
        if after != before {
            sqlx::query("UPDATE users SET login_state = $2 WHERE login = $1")
                .bind(login)
                .bind(&after)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        tx.commit().await.map_err(db_err)?;
        Ok(Some((before, after)))
    }

    async fn update_login_counter(
        &self,
        key: &str,
        now: UnixTime,
        change: LoginCounterChange,
    ) -> Result<(Option<String>, String)> {
        // Forget expired counters, without waiting for rows another transaction holds.
        sqlx::query(
            "DELETE FROM login_counters WHERE key IN
                 (SELECT key FROM login_counters WHERE keep_until <= $1 AND key <> $2 FOR UPDATE SKIP LOCKED)",
        )
        .bind(now.0)
        .bind(key)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        // Make sure the row exists, then hold it: concurrent updates of one key queue here.
        sqlx::query(
            "INSERT INTO login_counters(key, state, keep_until) VALUES ($1, '', 0) ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        let (state, keep_until): (String, i64) = sqlx::query_as(
            "SELECT state, keep_until FROM login_counters WHERE key = $1 FOR UPDATE",
        )
        .bind(key)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
        let before = (keep_until > now.0).then_some(state);
        let (after, keep_until) = change(before.as_deref());
        sqlx::query("UPDATE login_counters SET state = $2, keep_until = $3 WHERE key = $1")
            .bind(key)
            .bind(&after)
            .bind(keep_until.0)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok((before, after))
    }

    async fn replace_totp_secret(&self, login: &str, expected: &str, new: &str) -> Result<bool> {
        let n =
            sqlx::query("UPDATE users SET totp_secret = $3 WHERE login = $1 AND totp_secret = $2")
                .bind(login)
                .bind(expected)
                .bind(new)
                .execute(&self.pool)
                .await
                .map_err(db_err)?
                .rows_affected();
        Ok(n > 0)
    }

    async fn create_session(&self, token_hash: &[u8; 32], s: &Session) -> Result<()> {
        sqlx::query(
            "INSERT INTO sessions(token_hash, login, acting_facility, created_at, last_seen) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&token_hash[..])
        .bind(&s.login)
        .bind(s.acting_facility.as_ref().map(|f| f.as_str()))
        .bind(s.created_at.0)
        .bind(s.last_seen.0)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn session(&self, token_hash: &[u8; 32]) -> Result<Option<Session>> {
        let row = sqlx::query(
            "SELECT login, acting_facility, created_at, last_seen, ended_at FROM sessions WHERE token_hash = $1",
        )
        .bind(&token_hash[..])
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        row.map(|r| {
            Ok(Session {
                login: col(&r, 0)?,
                acting_facility: col::<Option<String>>(&r, 1)?.map(code).transpose()?,
                created_at: UnixTime(col(&r, 2)?),
                last_seen: UnixTime(col(&r, 3)?),
                ended_at: col::<Option<i64>>(&r, 4)?.map(UnixTime),
            })
        })
        .transpose()
    }

    async fn touch_session(
        &self,
        token_hash: &[u8; 32],
        at: UnixTime,
        acting: Option<&FacilityCode>,
    ) -> Result<()> {
        match acting {
            Some(f) => sqlx::query(
                "UPDATE sessions SET last_seen = GREATEST(last_seen, $2), acting_facility = $3
                 WHERE token_hash = $1 AND ended_at IS NULL",
            )
            .bind(&token_hash[..])
            .bind(at.0)
            .bind(f.as_str()),
            None => sqlx::query(
                "UPDATE sessions SET last_seen = GREATEST(last_seen, $2) WHERE token_hash = $1 AND ended_at IS NULL",
            )
            .bind(&token_hash[..])
            .bind(at.0),
        }
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn end_session(&self, token_hash: &[u8; 32], at: UnixTime) -> Result<()> {
        sqlx::query("UPDATE sessions SET ended_at = $2 WHERE token_hash = $1 AND ended_at IS NULL")
            .bind(&token_hash[..])
            .bind(at.0)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn put_api_key(&self, k: &ApiKeyRecord) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let fid = facility_id(&mut tx, &k.facility).await?;
        sqlx::query(
            "INSERT INTO api_keys(prefix, facility_id, key_hash, created_at, created_by, revoked_at) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT(prefix) DO UPDATE SET revoked_at = $6",
        )
        .bind(&k.prefix)
        .bind(fid)
        .bind(&k.key_hash[..])
        .bind(k.created_at.0)
        .bind(&k.created_by)
        .bind(k.revoked_at.map(|t| t.0))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(())
    }

    async fn api_key(&self, prefix: &str) -> Result<Option<ApiKeyRecord>> {
        let row = sqlx::query(
            "SELECT k.prefix, f.code, k.key_hash, k.created_at, k.created_by, k.revoked_at
             FROM api_keys k JOIN facilities f ON f.id = k.facility_id WHERE k.prefix = $1",
        )
        .bind(prefix)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        row.map(|r| {
            Ok(ApiKeyRecord {
                prefix: col(&r, 0)?,
                facility: code(col(&r, 1)?)?,
                key_hash: col::<Vec<u8>>(&r, 2)?
                    .try_into()
                    .map_err(|_| StoreError::Corrupt("api key hash length".into()))?,
                created_at: UnixTime(col(&r, 3)?),
                created_by: col(&r, 4)?,
                revoked_at: col::<Option<i64>>(&r, 5)?.map(UnixTime),
            })
        })
        .transpose()
    }

    async fn setting(&self, key: &str) -> Result<Option<String>> {
        sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)
    }

    async fn put_setting(&self, key: &str, value: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO settings(key, value) VALUES ($1, $2) ON CONFLICT(key) DO UPDATE SET value = $2",
        )
        .bind(key)
        .bind(value)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn append_audit(&self, events: Vec<audit::Event>) -> Result<Vec<audit::Entry>> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        // Held to commit: the head read here stays the head until these entries follow it.
        lock_audit(&mut tx).await?;
        let head = audit_head_entry(&mut tx).await?;
        let previous = head.map(|e| (e.seq, e.hash));
        let mut prev = previous;
        let mut out = Vec::with_capacity(events.len());
        for ev in events {
            let entry = audit::append(prev.as_ref().map(|(s, h)| (s, h)), ev);
            prev = Some((entry.seq, entry.hash));
            out.push(entry);
        }
        insert_entries(&mut tx, &out).await?;
        tx.commit().await.map_err(db_err)?;
        // After commit, outside the lock: with several servers the anchor may lag the head
        // (another server's newer anchor overwritten by this older one), never lead it.
        if let Some(new) = prev.filter(|_| !out.is_empty()) {
            self.blobs.advance_audit_anchor(previous, new).await?;
        }
        Ok(out)
    }

    async fn audit_range(&self, from_seq: u64, limit: usize) -> Result<Vec<audit::Entry>> {
        sqlx::query(&format!(
            "SELECT {ENTRY_COLS} FROM audit_log WHERE seq >= $1 ORDER BY seq LIMIT $2"
        ))
        .bind(from_seq as i64)
        .bind((limit > 0).then_some(limit as i64))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?
        .iter()
        .map(entry_of)
        .collect()
    }

    async fn audit_query(&self, f: &AuditFilter) -> Result<Vec<audit::Entry>> {
        // Only the conditions asked for, so that each can use its index (a generic plan of
        // `$1 IS NULL OR patient = $1` cannot).
        let mut q: QueryBuilder<Postgres> =
            QueryBuilder::new(format!("SELECT {ENTRY_COLS} FROM audit_log WHERE TRUE"));
        if let Some(p) = &f.patient {
            q.push(" AND patient IS NOT NULL AND patient = ")
                .push_bind(p.as_str().to_owned());
        }
        if let Some(actor) = &f.actor {
            q.push(" AND actor = ").push_bind(actor.clone());
        }
        if f.flagged_only {
            q.push(" AND flagged = 1");
        }
        if let Some(since) = f.since {
            q.push(" AND at >= ").push_bind(since.0);
        }
        if let Some(until) = f.until {
            q.push(" AND at <= ").push_bind(until.0);
        }
        q.push(" ORDER BY seq DESC");
        if f.limit > 0 {
            q.push(" LIMIT ").push_bind(f.limit as i64);
        }
        q.build()
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?
            .iter()
            .map(entry_of)
            .collect()
    }

    async fn audit_head(&self) -> Result<Option<(u64, [u8; 32])>> {
        let mut conn = self.pool.acquire().await.map_err(db_err)?;
        Ok(audit_head_entry(&mut conn).await?.map(|e| (e.seq, e.hash)))
    }

    async fn audit_anchor(&self) -> Result<Option<(u64, [u8; 32])>> {
        self.blobs.audit_anchor().await
    }
}
