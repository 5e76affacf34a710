//! The viewer's reads: patient search on the normalised name keys, timeline pages, one record
//! version and an order's versions. Each is one index range scan (see schema steps 1 and 4).

use model::{Demographics, FacilityCode, LocalPatient, RegionalId};
use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, Row};
use ssmix2::Condition;
use store::{
    FacilityId, LocalPatientHit, NameQuery, PagedRecord, PatientSearch, RecordFilter,
    RecordVersion, Result, StorageKind, StoreError, StoredRecord,
};

use crate::{db_err, sha_from};

/// The exclusive upper bound of a prefix range: keys starting with `prefix` sort in
/// `[prefix, prefix + U+10FFFF)` under SQLite's binary (UTF-8 byte) collation, since no
/// character sorts after U+10FFFF.
fn prefix_end(prefix: &str) -> String {
    format!("{prefix}\u{10FFFF}")
}

pub(crate) fn search_local_patients(
    conn: &Connection,
    search: &PatientSearch,
) -> Result<Vec<LocalPatientHit>> {
    let limit = if search.limit == 0 { 50 } else { search.limit };
    let mut wh: Vec<String> = Vec::new();
    let mut args: Vec<Value> = Vec::new();
    let arg = |v: Value, args: &mut Vec<Value>| {
        args.push(v);
        format!("?{}", args.len())
    };
    // The ORDER BY is the order of the index the scan uses, so that the LIMIT ends the scan
    // instead of sorting every match.
    let order = match &search.name {
        Some(q) => {
            let col = match q {
                NameQuery::Kanji(_) => "lp.search_kanji",
                NameQuery::Kana(_) => "lp.search_kana",
            };
            let lo = arg(Value::Text(q.key().to_owned()), &mut args);
            let hi = arg(Value::Text(prefix_end(q.key())), &mut args);
            wh.push(format!("{col} >= {lo} AND {col} < {hi}"));
            format!("{col}, lp.birth_date, lp.sex, lp.facility_id, lp.local_id")
        }
        None if search.birth_date.is_some() => {
            "lp.birth_date, lp.facility_id, lp.local_id".to_owned()
        }
        None => "lp.facility_id, lp.local_id".to_owned(),
    };
    if let Some(b) = &search.birth_date {
        let p = arg(Value::Text(b.clone()), &mut args);
        wh.push(format!("lp.birth_date = {p}"));
    }
    if let Some(s) = &search.sex {
        let p = arg(Value::Text(s.clone()), &mut args);
        wh.push(format!("lp.sex = {p}"));
    }
    if let Some(p) = &search.patient {
        let c = arg(Value::Text(p.facility.as_str().to_owned()), &mut args);
        let l = arg(Value::Text(p.local_id.clone()), &mut args);
        wh.push(format!(
            "lp.facility_id = (SELECT id FROM facilities WHERE code = {c}) AND lp.local_id = {l}"
        ));
    }
    let join = if search.linked_only {
        "JOIN"
    } else {
        "LEFT JOIN"
    };
    let lim = arg(Value::Integer(limit as i64), &mut args);
    let sql = format!(
        "SELECT lp.name_kanji, lp.name_kana, lp.birth_date, lp.sex, lp.phone, lp.zip, lp.address, f.code, lp.local_id,
                l.regional_id
         FROM local_patients lp
         JOIN facilities f ON f.id = lp.facility_id
         {join} links l ON l.facility_id = lp.facility_id AND l.local_id = lp.local_id AND l.ended_at IS NULL
         {where_}
         ORDER BY {order} LIMIT {lim}",
        where_ = if wh.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", wh.join(" AND "))
        }
    );
    let mut st = conn.prepare_cached(&sql).map_err(db_err)?;
    let rows = st
        .query_map(params_from_iter(args), |r| {
            Ok((
                Demographics {
                    name_kanji: r.get(0)?,
                    name_kana: r.get(1)?,
                    birth_date: r.get(2)?,
                    sex: r.get(3)?,
                    phone: r.get(4)?,
                    zip: r.get(5)?,
                    address: r.get(6)?,
                },
                r.get::<_, String>(7)?,
                r.get::<_, String>(8)?,
                r.get::<_, Option<String>>(9)?,
            ))
        })
        .map_err(db_err)?;
    rows.map(|r| {
        let (demographics, code, local_id, rid) = r.map_err(db_err)?;
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

fn record_row(r: &Row) -> rusqlite::Result<(StoredRecord, Vec<u8>)> {
    let storage: String = r.get(2)?;
    let condition: i64 = r.get(8)?;
    Ok((
        StoredRecord {
            version_id: r.get(0)?,
            path: r.get(1)?,
            storage: if storage == "E" {
                StorageKind::Extended
            } else {
                StorageKind::Standard
            },
            kind: r.get(3)?,
            date: r.get(4)?,
            order_no: r.get(5)?,
            written_at: r.get(6)?,
            department: r.get(7)?,
            condition: match condition {
                0 => Condition::Deleted,
                2 => Condition::Superseded,
                _ => Condition::Current,
            },
            message_type: r.get(9)?,
            sha256: model::Sha256([0; 32]),
        },
        r.get::<_, Option<Vec<u8>>>(10)?.unwrap_or_default(),
    ))
}

fn with_sha((mut rec, sha): (StoredRecord, Vec<u8>)) -> Result<StoredRecord> {
    rec.sha256 = sha_from(sha)?;
    Ok(rec)
}

pub(crate) fn patient_records_page(
    conn: &Connection,
    facility: FacilityId,
    local_id: &str,
    filter: &RecordFilter,
) -> Result<Vec<PagedRecord>> {
    let mut args: Vec<Value> = vec![Value::Integer(facility.0), Value::Text(local_id.to_owned())];
    let arg = |v: Value, args: &mut Vec<Value>| {
        args.push(v);
        format!("?{}", args.len())
    };
    let mut wh = vec![
        "r.facility_id = ?1".to_owned(),
        "r.patient_id = ?2".to_owned(),
        "f.current_version = r.version_id".to_owned(),
    ];
    if let Some(kinds) = &filter.kinds {
        let mut alts = Vec::new();
        if !kinds.is_empty() {
            let ps: Vec<String> = kinds
                .iter()
                .map(|k| arg(Value::Text(k.clone()), &mut args))
                .collect();
            alts.push(format!("r.kind IN ({})", ps.join(", ")));
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
        let p = arg(Value::Text(from.clone()), &mut args);
        // Undated records ('-') sort below every date: a range leaves them out.
        wh.push(format!("r.date >= {p} AND r.date <> '-'"));
    }
    if let Some(to) = &filter.to {
        let p = arg(Value::Text(to.clone()), &mut args);
        wh.push(format!("r.date <= {p} AND r.date <> '-'"));
    }
    if let Some(c) = &filter.before {
        let d = arg(Value::Text(c.date.clone()), &mut args);
        let w = arg(Value::Text(c.written_at.clone()), &mut args);
        let v = arg(Value::Integer(c.version_id), &mut args);
        // `r.date <= d` first: a range on the index's date column, so the scan starts at
        // the cursor instead of at the patient's newest record.
        wh.push(format!(
            "r.date <= {d} AND (r.date < {d} OR r.written_at < {w} OR (r.written_at = {w} AND r.version_id < {v}))"
        ));
    }
    if !filter.include_superseded {
        wh.push("r.condition <> 2".to_owned());
    }
    let lim = arg(Value::Integer(filter.limit() as i64), &mut args);
    // Versions of the same order: only kinds with orders (OM…) have real order numbers;
    // the others share the placeholder 999999999999999 and have no history.
    let sql = format!(
        "SELECT {RECORD_COLS},
                CASE WHEN r.kind LIKE 'OM%' AND r.storage = 'S' THEN
                  (SELECT COUNT(*) FROM records o WHERE o.facility_id = r.facility_id AND o.patient_id = r.patient_id
                     AND o.kind = r.kind AND o.order_no = r.order_no)
                ELSE 1 END
         FROM records r JOIN files f ON f.id = r.file_id JOIN file_versions v ON v.id = r.version_id
         WHERE {}
         ORDER BY r.date DESC, r.written_at DESC, r.version_id DESC LIMIT {lim}",
        wh.join(" AND ")
    );
    let mut st = conn.prepare_cached(&sql).map_err(db_err)?;
    let rows = st
        .query_map(params_from_iter(args), |r| {
            Ok((record_row(r)?, r.get::<_, i64>(11)?))
        })
        .map_err(db_err)?;
    rows.map(|r| {
        let (rec, versions) = r.map_err(db_err)?;
        Ok(PagedRecord {
            record: with_sha(rec)?,
            versions: versions.max(1) as u32,
        })
    })
    .collect()
}

/// A record row with its raw hash, then facility id, local ID and liveness.
type VersionRow = ((StoredRecord, Vec<u8>), i64, String, bool);

fn version_row(r: &Row) -> rusqlite::Result<VersionRow> {
    Ok((record_row(r)?, r.get(11)?, r.get(12)?, r.get(13)?))
}

fn version_from((rec, facility, local_id, live): VersionRow) -> Result<RecordVersion> {
    Ok(RecordVersion {
        facility: FacilityId(facility),
        local_id,
        record: with_sha(rec)?,
        live,
    })
}

pub(crate) fn record_version(conn: &Connection, version_id: i64) -> Result<Option<RecordVersion>> {
    let sql = format!(
        "SELECT {RECORD_COLS}, r.facility_id, r.patient_id, f.current_version = r.version_id
         FROM records r JOIN files f ON f.id = r.file_id JOIN file_versions v ON v.id = r.version_id
         WHERE r.version_id = ?1"
    );
    conn.prepare_cached(&sql)
        .map_err(db_err)?
        .query_row([version_id], version_row)
        .optional()
        .map_err(db_err)?
        .map(version_from)
        .transpose()
}

pub(crate) fn order_cancels(
    conn: &Connection,
    facility: FacilityId,
    local_id: &str,
) -> Result<Vec<store::OrderCancel>> {
    let mut st = conn
        .prepare_cached(
            "SELECT r.version_id, r.kind, r.order_no, r.written_at
             FROM records r INDEXED BY records_cancelling
             JOIN files f ON f.id = r.file_id AND f.current_version = r.version_id
             WHERE r.facility_id = ?1 AND r.patient_id = ?2 AND r.cancels = 1
             ORDER BY r.written_at, r.version_id",
        )
        .map_err(db_err)?;
    let rows = st
        .query_map(params![facility.0, local_id], |r| {
            Ok(store::OrderCancel {
                version_id: r.get(0)?,
                kind: r.get(1)?,
                order_no: r.get(2)?,
                written_at: r.get(3)?,
            })
        })
        .map_err(db_err)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(db_err)
}

pub(crate) fn order_versions(
    conn: &Connection,
    facility: FacilityId,
    local_id: &str,
    kind: &str,
    order_no: &str,
) -> Result<Vec<RecordVersion>> {
    let sql = format!(
        "SELECT {RECORD_COLS}, r.facility_id, r.patient_id, f.current_version = r.version_id
         FROM records r JOIN files f ON f.id = r.file_id JOIN file_versions v ON v.id = r.version_id
         WHERE r.facility_id = ?1 AND r.patient_id = ?2 AND r.kind = ?3 AND r.order_no = ?4
         ORDER BY r.written_at, r.version_id"
    );
    let mut st = conn.prepare_cached(&sql).map_err(db_err)?;
    let rows = st
        .query_map(params![facility.0, local_id, kind, order_no], version_row)
        .map_err(db_err)?;
    rows.map(|r| r.map_err(db_err).and_then(version_from))
        .collect()
}
