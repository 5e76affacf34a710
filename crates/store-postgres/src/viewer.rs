//! The viewer's paged record reads and the patient name search on PostgreSQL: the embedded
//! store's queries, each one index range scan (see the indexes of [`crate::schema`]); every
//! per-patient read names `facility_id = $1 AND patient_id = $2` so that PostgreSQL reads
//! one partition of `records`.

use model::{Demographics, FacilityCode, LocalPatient, RegionalId};
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::Query;
use sqlx::{PgPool, Postgres, Row};
use ssmix2::Condition;
use store::{
    FacilityId, LocalPatientHit, NameQuery, PagedRecord, PatientSearch, RecordFilter,
    RecordVersion, Result, StorageKind, StoreError, StoredRecord,
};

use crate::{db_err, sha_from};

/// The exclusive upper bound of a prefix range: keys starting with `prefix` sort in
/// `[prefix, prefix + U+10FFFF)` under the bytewise (`COLLATE "C"`, UTF-8) order, since no
/// character sorts after U+10FFFF.
fn prefix_end(prefix: &str) -> String {
    format!("{prefix}\u{10FFFF}")
}

/// A query parameter of a statement built at run time.
enum Arg {
    Text(String),
    Texts(Vec<String>),
    Int(i64),
}

/// Numbered parameters, `$1`… in the order they are added.
#[derive(Default)]
struct Args(Vec<Arg>);

impl Args {
    fn add(&mut self, a: Arg) -> String {
        self.0.push(a);
        format!("${}", self.0.len())
    }

    fn bind(self, mut q: Query<'_, Postgres, PgArguments>) -> Query<'_, Postgres, PgArguments> {
        for a in self.0 {
            q = match a {
                Arg::Text(s) => q.bind(s),
                Arg::Texts(v) => q.bind(v),
                Arg::Int(i) => q.bind(i),
            };
        }
        q
    }
}

pub(crate) async fn search_local_patients(
    pool: &PgPool,
    search: &PatientSearch,
) -> Result<Vec<LocalPatientHit>> {
    let limit = if search.limit == 0 { 50 } else { search.limit };
    let mut wh: Vec<String> = Vec::new();
    let mut args = Args::default();
    // The ORDER BY is the order of the index the scan uses, so that the LIMIT ends the scan
    // instead of sorting every match.
    let order = match &search.name {
        Some(q) => {
            let col = match q {
                NameQuery::Kanji(_) => "lp.search_kanji",
                NameQuery::Kana(_) => "lp.search_kana",
            };
            let lo = args.add(Arg::Text(q.key().to_owned()));
            let hi = args.add(Arg::Text(prefix_end(q.key())));
            wh.push(format!("{col} >= {lo} AND {col} < {hi}"));
            format!("{col}, lp.birth_date, lp.sex, lp.facility_id, lp.local_id")
        }
        None if search.birth_date.is_some() => {
            "lp.birth_date, lp.facility_id, lp.local_id".to_owned()
        }
        None => "lp.facility_id, lp.local_id".to_owned(),
    };
    if let Some(b) = &search.birth_date {
        let p = args.add(Arg::Text(b.clone()));
        wh.push(format!("lp.birth_date = {p}"));
    }
    if let Some(s) = &search.sex {
        let p = args.add(Arg::Text(s.clone()));
        wh.push(format!("lp.sex = {p}"));
    }
    if let Some(p) = &search.patient {
        let c = args.add(Arg::Text(p.facility.as_str().to_owned()));
        let l = args.add(Arg::Text(p.local_id.clone()));
        wh.push(format!(
            "lp.facility_id = (SELECT id FROM facilities WHERE code = {c}) AND lp.local_id = {l}"
        ));
    }
    let join = if search.linked_only {
        "JOIN"
    } else {
        "LEFT JOIN"
    };
    // The limit is part of the statement (a handful of distinct values), so that even a
    // generic plan knows the scan stops early.
    let lim = limit.min(i64::MAX as usize);
    // Each match's active link is looked up by its full key (a lateral subquery kept apart by
    // `OFFSET 0`). As a plain join the planner, knowing `facility_id` also from `facilities`,
    // probed links_active with the facility alone and filtered on the local ID: every match
    // read all the active links of its facility (55,000 buffers for 638 name matches in the
    // 10M-record benchmark; at a prefecture's scale, hundreds of thousands of links each).
    let sql = format!(
        "SELECT lp.name_kanji, lp.name_kana, lp.birth_date, lp.sex, lp.phone, lp.zip, lp.address, f.code, lp.local_id,
                l.regional_id
         FROM local_patients lp
         JOIN facilities f ON f.id = lp.facility_id
         {join} LATERAL (SELECT l.regional_id FROM links l
                         WHERE l.facility_id = lp.facility_id AND l.local_id = lp.local_id
                           AND l.ended_at IS NULL OFFSET 0) l ON true
         {where_}
         ORDER BY {order} LIMIT {lim}",
        where_ = if wh.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", wh.join(" AND "))
        }
    );
    let rows = args
        .bind(sqlx::query(&sql))
        .fetch_all(pool)
        .await
        .map_err(db_err)?;
    rows.iter()
        .map(|r| {
            let demographics = Demographics {
                name_kanji: r.try_get(0).map_err(db_err)?,
                name_kana: r.try_get(1).map_err(db_err)?,
                birth_date: r.try_get(2).map_err(db_err)?,
                sex: r.try_get(3).map_err(db_err)?,
                phone: r.try_get(4).map_err(db_err)?,
                zip: r.try_get(5).map_err(db_err)?,
                address: r.try_get(6).map_err(db_err)?,
            };
            let code: String = r.try_get(7).map_err(db_err)?;
            let local_id: String = r.try_get(8).map_err(db_err)?;
            let rid: Option<String> = r.try_get(9).map_err(db_err)?;
            let facility =
                FacilityCode::parse(&code).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let regional_id = rid
                .map(|s| RegionalId::parse(&s))
                .transpose()
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            Ok(LocalPatientHit {
                patient: LocalPatient { facility, local_id },
                demographics,
                regional_id,
            })
        })
        .collect()
}

const RECORD_COLS: &str =
    "r.version_id, f.path, r.storage, r.kind, r.date, r.order_no, r.written_at, r.department,
     r.condition, r.message_type, v.sha256";

fn record_row(r: &PgRow) -> Result<StoredRecord> {
    let storage: String = r.try_get(2).map_err(db_err)?;
    let condition: i64 = r.try_get(8).map_err(db_err)?;
    let sha: Option<Vec<u8>> = r.try_get(10).map_err(db_err)?;
    Ok(StoredRecord {
        version_id: r.try_get(0).map_err(db_err)?,
        path: r.try_get(1).map_err(db_err)?,
        storage: if storage == "E" {
            StorageKind::Extended
        } else {
            StorageKind::Standard
        },
        kind: r.try_get(3).map_err(db_err)?,
        date: r.try_get(4).map_err(db_err)?,
        order_no: r.try_get(5).map_err(db_err)?,
        written_at: r.try_get(6).map_err(db_err)?,
        department: r.try_get(7).map_err(db_err)?,
        condition: match condition {
            0 => Condition::Deleted,
            2 => Condition::Superseded,
            _ => Condition::Current,
        },
        message_type: r.try_get(9).map_err(db_err)?,
        sha256: sha_from(sha.unwrap_or_default())?,
    })
}

pub(crate) async fn patient_records_page(
    pool: &PgPool,
    facility: FacilityId,
    local_id: &str,
    filter: &RecordFilter,
) -> Result<Vec<PagedRecord>> {
    let mut args = Args::default();
    args.add(Arg::Int(facility.0));
    args.add(Arg::Text(local_id.to_owned()));
    let mut wh = vec![
        "r.facility_id = $1".to_owned(),
        "r.patient_id = $2".to_owned(),
        "r.current".to_owned(),
    ];
    if let Some(kinds) = &filter.kinds {
        let mut alts = Vec::new();
        if !kinds.is_empty() {
            let p = args.add(Arg::Texts(kinds.clone()));
            alts.push(format!("r.kind = ANY({p}::text[])"));
        }
        if filter.extended {
            alts.push("r.storage = 'E'".to_owned());
        }
        if alts.is_empty() {
            return Ok(Vec::new());
        }
        wh.push(format!("({})", alts.join(" OR ")));
    }
    if let Some(from) = &filter.from {
        let p = args.add(Arg::Text(from.clone()));
        // Undated records ('-') sort below every date: a range leaves them out.
        wh.push(format!("r.date >= {p} AND r.date <> '-'"));
    }
    if let Some(to) = &filter.to {
        let p = args.add(Arg::Text(to.clone()));
        wh.push(format!("r.date <= {p} AND r.date <> '-'"));
    }
    if let Some(c) = &filter.before {
        let d = args.add(Arg::Text(c.date.clone()));
        let w = args.add(Arg::Text(c.written_at.clone()));
        let v = args.add(Arg::Int(c.version_id));
        // Strictly after the cursor in (date, written_at, version_id) DESC order: a row
        // comparison on records_by_patient's columns, so the index scan starts at the cursor
        // instead of at the patient's newest record.
        wh.push(format!(
            "(r.date, r.written_at, r.version_id) < ({d}, {w}, {v}::bigint)"
        ));
    }
    if !filter.include_superseded {
        wh.push("r.condition <> 2".to_owned());
    }
    // The limit is part of the statement, as in the search.
    let lim = filter.limit().min(i64::MAX as usize);
    // Versions of the same order: only kinds with orders (OM…) have real order numbers;
    // the others share the placeholder 999999999999999 and have no history. The count reads
    // records_by_order within the same partition.
    let sql = format!(
        "SELECT {RECORD_COLS},
                CASE WHEN r.kind LIKE 'OM%' AND r.storage = 'S' THEN
                  (SELECT COUNT(*) FROM records o WHERE o.facility_id = $1 AND o.patient_id = $2
                     AND o.kind = r.kind AND o.order_no = r.order_no)
                ELSE 1 END
         FROM records r JOIN files f ON f.id = r.file_id JOIN file_versions v ON v.id = r.version_id
         WHERE {}
         ORDER BY r.date DESC, r.written_at DESC, r.version_id DESC LIMIT {lim}",
        wh.join(" AND ")
    );
    let rows = args
        .bind(sqlx::query(&sql))
        .fetch_all(pool)
        .await
        .map_err(db_err)?;
    rows.iter()
        .map(|r| {
            let versions: i64 = r.try_get(11).map_err(db_err)?;
            Ok(PagedRecord {
                record: record_row(r)?,
                versions: versions.clamp(1, u32::MAX as i64) as u32,
            })
        })
        .collect()
}

/// A record row, then facility id, local ID and liveness.
fn version_row(r: &PgRow) -> Result<RecordVersion> {
    Ok(RecordVersion {
        record: record_row(r)?,
        facility: FacilityId(r.try_get(11).map_err(db_err)?),
        local_id: r.try_get(12).map_err(db_err)?,
        live: r.try_get(13).map_err(db_err)?,
    })
}

pub(crate) async fn record_version(
    pool: &PgPool,
    version_id: i64,
) -> Result<Option<RecordVersion>> {
    // records_by_version (no partition key is known here: one probe per partition).
    let sql = format!(
        "SELECT {RECORD_COLS}, r.facility_id, r.patient_id,
                r.current
         FROM records r JOIN files f ON f.id = r.file_id JOIN file_versions v ON v.id = r.version_id
         WHERE r.version_id = $1"
    );
    sqlx::query(&sql)
        .bind(version_id)
        .fetch_optional(pool)
        .await
        .map_err(db_err)?
        .as_ref()
        .map(version_row)
        .transpose()
}

pub(crate) async fn order_cancels(
    pool: &PgPool,
    facility: FacilityId,
    local_id: &str,
) -> Result<Vec<store::OrderCancel>> {
    let rows = sqlx::query(
        "SELECT version_id, kind, order_no, written_at FROM records
         WHERE facility_id = $1 AND patient_id = $2 AND cancels AND current
         ORDER BY written_at, version_id",
    )
    .bind(facility.0)
    .bind(local_id)
    .fetch_all(pool)
    .await
    .map_err(db_err)?;
    rows.iter()
        .map(|r| {
            Ok(store::OrderCancel {
                version_id: r.try_get(0)?,
                kind: r.try_get(1)?,
                order_no: r.try_get(2)?,
                written_at: r.try_get(3)?,
            })
        })
        .collect::<sqlx::Result<Vec<_>>>()
        .map_err(db_err)
}

pub(crate) async fn order_versions(
    pool: &PgPool,
    facility: FacilityId,
    local_id: &str,
    kind: &str,
    order_no: &str,
) -> Result<Vec<RecordVersion>> {
    let sql = format!(
        "SELECT {RECORD_COLS}, r.facility_id, r.patient_id,
                r.current
         FROM records r JOIN files f ON f.id = r.file_id JOIN file_versions v ON v.id = r.version_id
         WHERE r.facility_id = $1 AND r.patient_id = $2 AND r.kind = $3 AND r.order_no = $4
         ORDER BY r.written_at, r.version_id"
    );
    let rows = sqlx::query(&sql)
        .bind(facility.0)
        .bind(local_id)
        .bind(kind)
        .bind(order_no)
        .fetch_all(pool)
        .await
        .map_err(db_err)?;
    rows.iter().map(version_row).collect()
}
