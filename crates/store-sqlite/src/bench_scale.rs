//! Benchmark-only: grow a scratch store to millions of records by copying what it holds, for
//! `renkei bench viewer` (issue 4 asks for viewer timings on a store of ≥ 10M records, and
//! generating and importing a region that size would take hours of SS-MIX2 files).
//!
//! **Never run this on a network's real data folder**: it invents local patients that no
//! facility sent and records that no import run wrote. See
//! [`SqliteStore::scale_for_benchmark`].

use std::time::{Duration, Instant};

use model::FacilityCode;
use rusqlite::{params, Connection, OptionalExtension};
use store::{
    copied_column, CopiedPatient, Result, ScaleOptions, ScaleReport, StoreError, TargetSource,
};

use crate::{db_err, SqliteStore};

/// The tables copied, in order (see [`store::bench_scale::COPIED_TABLES`]).
const TABLES: &[&str] = store::bench_scale::COPIED_TABLES;

/// Copied per patient: the tables whose rows belong to one (facility, local patient).
const PATIENT_TABLES: &[&str] = &[
    "records",
    "lab_results",
    "medications",
    "diagnoses",
    "allergies",
    "encounters",
];

fn columns(conn: &Connection, table: &str) -> Result<Vec<String>> {
    let mut st = conn
        .prepare(&format!("PRAGMA table_info({table})"))
        .map_err(db_err)?;
    let cols = st
        .query_map([], |r| r.get::<_, String>(1))
        .map_err(db_err)?
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(db_err)?;
    if cols.is_empty() {
        return Err(StoreError::Database(format!("no table {table}")));
    }
    Ok(cols)
}

/// `INSERT INTO main.T (cols) SELECT <mapped cols> FROM temp.bench_src_T WHERE <filter>`.
fn copy_statement(
    conn: &Connection,
    table: &str,
    v: i64,
    f: i64,
    patient: CopiedPatient,
    tag: &str,
    filter: &str,
) -> Result<String> {
    let cols = columns(conn, table)?;
    let (v, f, tag) = (v.to_string(), f.to_string(), format!("'{tag}'"));
    let exprs: Vec<String> = cols
        .iter()
        .map(|c| copied_column(table, c, &v, &f, patient, &tag).unwrap_or_else(|| c.clone()))
        .collect();
    Ok(format!(
        "INSERT INTO main.{table} ({}) SELECT {} FROM temp.bench_src_{table} WHERE {filter}",
        cols.join(", "),
        exprs.join(", ")
    ))
}

fn facility_code(code: &str) -> Result<FacilityCode> {
    FacilityCode::parse(code).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn count(conn: &Connection, sql: &str) -> Result<u64> {
    conn.query_row(sql, [], |r| r.get::<_, i64>(0))
        .map(|n| n.max(0) as u64)
        .map_err(db_err)
}

impl SqliteStore {
    /// **Benchmark only, scratch stores only.** Make this store big enough to time the viewer
    /// at a prefecture's scale, from what it holds (an imported synthetic region):
    ///
    /// 1. `copies` times, every file, file version, record, clinical fact (labs, medications,
    ///    diagnoses, allergies, admissions) and local patient (with every column of
    ///    `local_patients`, whatever later migrations add) is copied under new ids and the new
    ///    local patient ID `{k}-{original}`. The copies point at the same stored contents, so
    ///    even their record detail reads back; their paths are synthetic. They are linked to
    ///    no regional ID, like most of a region's patients.
    /// 2. One target patient with at least `target_records` records, local ID
    ///    `target_local_id` at the two facilities holding the most records: the records and
    ///    facts of that facility's largest patients (repeated under new ids if the facility
    ///    has too few), with the demographics of the first facility's largest patient at
    ///    both. The caller enrols, links and consents it through the service like any
    ///    patient.
    ///
    /// The copy number is a prefix, not a suffix, so that each copy's rows form one run in
    /// every `(facility, patient)` index: inserts then stay local instead of touching every
    /// page of multi-gigabyte B-trees, which made the earlier `scale.sql` slow. Writes run
    /// with `synchronous=OFF` (restored afterwards): a crash leaves a scratch store to
    /// throw away. `progress(done, total)` is called after each committed step.
    pub fn scale_for_benchmark(
        &self,
        options: &ScaleOptions,
        progress: &dyn Fn(usize, usize),
    ) -> Result<ScaleReport> {
        let id = &options.target_local_id;
        if id.is_empty() || id.len() > 20 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(StoreError::Conflict(format!(
                "benchmark patient ID {id:?}: use 1 to 20 ASCII letters and digits"
            )));
        }
        self.inner.write(|conn| {
            conn.execute_batch("PRAGMA synchronous=OFF; PRAGMA cache_size=-1048576;")
                .map_err(db_err)?;
            let result = scale(conn, options, progress);
            let _ = conn.execute_batch("DROP TABLE IF EXISTS temp.bench_big;");
            for t in TABLES {
                let _ = conn.execute_batch(&format!("DROP TABLE IF EXISTS temp.bench_src_{t};"));
            }
            // Back to what `open_connection` set, and fold the WAL into the database so
            // that the timed reads start from a plain file.
            conn.execute_batch(
                "PRAGMA synchronous=FULL; PRAGMA cache_size=-262144; PRAGMA wal_checkpoint(TRUNCATE);",
            )
            .map_err(db_err)?;
            result
        })
    }
}

fn scale(
    conn: &mut Connection,
    options: &ScaleOptions,
    progress: &dyn Fn(usize, usize),
) -> Result<ScaleReport> {
    let start = Instant::now();
    let target = options.target_local_id.as_str();
    let already: Option<i64> = conn
        .query_row(
            "SELECT 1 FROM local_patients WHERE local_id = ?1 LIMIT 1",
            [target],
            |r| r.get(0),
        )
        .optional()
        .map_err(db_err)?;
    if already.is_some() {
        return Err(StoreError::Conflict(format!(
            "this store is already scaled (local patient {target} exists)"
        )));
    }
    let base_records = count(conn, "SELECT COUNT(*) FROM records")?;
    if base_records == 0 {
        return Err(StoreError::Conflict(
            "the store holds no records to copy (import a region first)".into(),
        ));
    }
    // Ids above every existing one: copy k adds k × stride.
    let v_stride = count(
        conn,
        "SELECT MAX(COALESCE((SELECT MAX(id) FROM file_versions), 0), COALESCE((SELECT MAX(version_id) FROM records), 0)) + 1",
    )? as i64;
    let f_stride = count(conn, "SELECT COALESCE(MAX(id), 0) + 1 FROM files")? as i64;

    // The originals, kept aside: copying from the growing tables would re-read copies, and
    // a filter on version_id is a full scan of the fact tables (clustered by patient).
    for t in TABLES {
        conn.execute_batch(&format!(
            "CREATE TEMP TABLE bench_src_{t} AS SELECT * FROM main.{t};"
        ))
        .map_err(db_err)?;
    }

    // The target patient's two facilities and, for each, which original patients in which
    // round (a round reuses each original's rows once, under its own id offset).
    let mut st = conn
        .prepare(
            "SELECT r.facility_id, f.code, COUNT(*) FROM temp.bench_src_records r
             JOIN temp.bench_src_local_patients lp ON lp.facility_id = r.facility_id AND lp.local_id = r.patient_id
             JOIN facilities f ON f.id = r.facility_id
             GROUP BY r.facility_id ORDER BY 3 DESC, 1 LIMIT 2",
        )
        .map_err(db_err)?;
    let facilities: Vec<(i64, String)> = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(db_err)?
        .collect::<std::result::Result<_, _>>()
        .map_err(db_err)?;
    drop(st);
    if facilities.len() < 2 {
        return Err(StoreError::Conflict(
            "the benchmark patient needs two facilities with patients and records".into(),
        ));
    }
    conn.execute_batch(
        "CREATE TEMP TABLE bench_big (round INTEGER NOT NULL, facility_id INTEGER NOT NULL, patient_id TEXT NOT NULL);",
    )
    .map_err(db_err)?;
    let mut rounds = 0usize;
    let mut sources = Vec::new();
    let half = options.target_records.div_ceil(2) as u64;
    for (i, (fid, code)) in facilities.iter().enumerate() {
        let want = if i == 0 {
            half
        } else {
            (options.target_records as u64).saturating_sub(half)
        };
        let mut st = conn
            .prepare(
                "SELECT r.patient_id, COUNT(*) FROM temp.bench_src_records r
                 JOIN temp.bench_src_local_patients lp ON lp.facility_id = r.facility_id AND lp.local_id = r.patient_id
                 WHERE r.facility_id = ?1
                 GROUP BY r.patient_id ORDER BY 2 DESC, 1",
            )
            .map_err(db_err)?;
        let patients: Vec<(String, i64)> = st
            .query_map([fid], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(db_err)?
            .collect::<std::result::Result<_, _>>()
            .map_err(db_err)?;
        drop(st);
        let Some(first) = patients.first() else {
            return Err(StoreError::Conflict(format!(
                "facility {code} has no patients"
            )));
        };
        let demographics_from = first.0.clone();
        let mut got = 0u64;
        let mut round = 0usize;
        'fill: loop {
            for (pid, n) in &patients {
                if got >= want {
                    break 'fill;
                }
                conn.execute(
                    "INSERT INTO temp.bench_big VALUES (?1, ?2, ?3)",
                    params![round as i64, fid, pid],
                )
                .map_err(db_err)?;
                got += (*n).max(0) as u64;
            }
            round += 1;
        }
        rounds = rounds.max(round + 1);
        sources.push((*fid, code.clone(), demographics_from));
    }

    let total_steps = options.copies + 1;
    // 1. The copies.
    for k in 1..=options.copies {
        let tx = conn.transaction().map_err(db_err)?;
        let (v, f) = (k as i64 * v_stride, k as i64 * f_stride);
        let copy = format!("'{k}'");
        for t in TABLES {
            let patient = CopiedPatient::Copy(&copy);
            let sql = copy_statement(&tx, t, v, f, patient, &format!("b{k}"), "1")?;
            tx.execute(&sql, []).map_err(db_err)?;
        }
        tx.commit().map_err(db_err)?;
        progress(k, total_steps);
    }

    // 2. The target patient: each round under its own offsets, after the copies'.
    let tx = conn.transaction().map_err(db_err)?;
    let patient = CopiedPatient::Target(target);
    for round in 0..rounds {
        let k = options.copies as i64 + 1 + round as i64;
        let (v, f) = (k * v_stride, k * f_stride);
        let tag = format!("big{round}");
        let chosen = format!(
            "(facility_id, patient_id) IN (SELECT facility_id, patient_id FROM temp.bench_big WHERE round = {round})"
        );
        let files = format!("SELECT file_id FROM temp.bench_src_records WHERE {chosen}");
        for t in ["files", "file_versions"] {
            let filter = if t == "files" {
                format!("id IN ({files})")
            } else {
                format!("file_id IN ({files})")
            };
            let sql = copy_statement(&tx, t, v, f, patient, &tag, &filter)?;
            tx.execute(&sql, []).map_err(db_err)?;
        }
        for t in PATIENT_TABLES {
            let sql = copy_statement(&tx, t, v, f, patient, &tag, &chosen)?;
            tx.execute(&sql, []).map_err(db_err)?;
        }
    }
    // Its demographics, the same at both facilities (one person known at two hospitals):
    // every column of the first facility's largest patient.
    let (from_fid, _, from_id) = &sources[0];
    let cols = columns(&tx, "local_patients")?;
    let exprs: Vec<String> = cols
        .iter()
        .map(|c| match c.as_str() {
            "facility_id" => "?1".to_owned(),
            "local_id" => "?2".to_owned(),
            _ => c.clone(),
        })
        .collect();
    for (fid, _, _) in &sources {
        tx.execute(
            &format!(
                "INSERT INTO main.local_patients ({}) SELECT {} FROM temp.bench_src_local_patients WHERE facility_id = ?3 AND local_id = ?4",
                cols.join(", "),
                exprs.join(", ")
            ),
            params![fid, target, from_fid, from_id],
        )
        .map_err(db_err)?;
    }
    tx.commit().map_err(db_err)?;
    progress(total_steps, total_steps);

    let demographics_from = model::LocalPatient {
        facility: facility_code(&sources[0].1)?,
        local_id: sources[0].2.clone(),
    };
    let mut target_sources = Vec::new();
    for (fid, code, _) in sources {
        let records = conn
            .query_row(
                "SELECT COUNT(*) FROM records WHERE facility_id = ?1 AND patient_id = ?2",
                params![fid, target],
                |r| r.get::<_, i64>(0),
            )
            .map_err(db_err)?;
        target_sources.push(TargetSource {
            facility: facility_code(&code)?,
            records: records.max(0) as u64,
        });
    }
    Ok(ScaleReport {
        copies: options.copies,
        base_records,
        records: count(conn, "SELECT COUNT(*) FROM records")?,
        local_patients: count(conn, "SELECT COUNT(*) FROM local_patients")?,
        lab_results: count(conn, "SELECT COUNT(*) FROM lab_results")?,
        target_local_id: target.to_owned(),
        target: target_sources,
        demographics_from,
        elapsed: start.elapsed(),
        vacuum: Duration::ZERO,
    })
}
