//! Benchmark-only: grow a scratch store to millions of records by copying what it holds, for
//! `renkei bench viewer --database-url …` (issue 6 asks for the viewer's timings on
//! PostgreSQL at ≥ 10M records, side by side with the embedded store's, which
//! `SqliteStore::scale_for_benchmark` builds the same way).
//!
//! **Never run this on a network's real database**: it invents local patients that no
//! facility sent and records that no import run wrote. See [`PgStore::scale_for_benchmark`].

use std::time::{Duration, Instant};

use model::FacilityCode;
use sqlx::pool::PoolConnection;
use sqlx::{Connection, Executor, PgConnection, Postgres};
use store::{
    copied_column, CopiedPatient, Result, ScaleOptions, ScaleReport, StoreError, TargetSource,
};

use crate::{db_err, schema, PgStore};

/// The tables copied, in order (see [`store::bench_scale::COPIED_TABLES`]).
const TABLES: &[&str] = store::bench_scale::COPIED_TABLES;

/// Copies made by one statement per table (one transaction): few enough that each
/// statement's rows form a handful of runs in every `(facility, patient)` index.
const COPIES_PER_STEP: usize = 8;

/// `INSERT INTO T (cols) SELECT <mapped cols> FROM <from> WHERE <filter>`.
#[allow(clippy::too_many_arguments)]
async fn copy_statement(
    conn: &mut PgConnection,
    table: &str,
    v: &str,
    f: &str,
    patient: CopiedPatient<'_>,
    tag: &str,
    from: &str,
    filter: &str,
) -> Result<String> {
    let cols: Vec<String> = schema::columns(conn, table)
        .await?
        .into_iter()
        .map(|c| c.0)
        .collect();
    if cols.is_empty() {
        return Err(StoreError::Database(format!("no table {table}")));
    }
    let exprs: Vec<String> = cols
        .iter()
        .map(|c| copied_column(table, c, v, f, patient, tag).unwrap_or_else(|| format!("\"{c}\"")))
        .collect();
    let names: Vec<String> = cols.iter().map(|c| format!("\"{c}\"")).collect();
    Ok(format!(
        "INSERT INTO {table} ({}) SELECT {} FROM {from} WHERE {filter}",
        names.join(", "),
        exprs.join(", ")
    ))
}

fn facility_code(code: &str) -> Result<FacilityCode> {
    FacilityCode::parse(code).map_err(|e| StoreError::Corrupt(e.to_string()))
}

async fn count(conn: &mut PgConnection, sql: &str) -> Result<u64> {
    sqlx::query_scalar::<_, Option<i64>>(sql)
        .fetch_one(&mut *conn)
        .await
        .map(|n| n.unwrap_or(0).max(0) as u64)
        .map_err(db_err)
}

async fn exec(conn: &mut PgConnection, sql: &str) -> Result<()> {
    conn.execute(sql).await.map_err(db_err)?;
    Ok(())
}

impl PgStore {
    /// **Benchmark only, scratch databases only.** Make this store big enough to time the
    /// viewer at a prefecture's scale, from what it holds (an imported synthetic region) —
    /// the same contract as the embedded store's `scale_for_benchmark`:
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
    /// Set-based: each step is one `INSERT … SELECT` per table over
    /// `generate_series` (copy numbers) × the original rows, [`COPIES_PER_STEP`] copies at a
    /// time. The session runs with `synchronous_commit = off` (a crash loses the last steps
    /// of a scratch database to throw away; the server's setting is untouched), the id
    /// sequences are moved past the copies, and everything scaled is `VACUUM (ANALYZE)`d at
    /// the end so that the timed reads see planner statistics and a visibility map, as on a
    /// database that autovacuum has caught up with. `progress(done, total)` is called after
    /// each committed step.
    pub async fn scale_for_benchmark(
        &self,
        options: &ScaleOptions,
        progress: &(dyn Fn(usize, usize) + Send + Sync),
    ) -> Result<ScaleReport> {
        let id = &options.target_local_id;
        if id.is_empty() || id.len() > 20 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(StoreError::Conflict(format!(
                "benchmark patient ID {id:?}: use 1 to 20 ASCII letters and digits"
            )));
        }
        // One connection throughout: the originals are kept aside in its temporary tables.
        let mut conn: PoolConnection<Postgres> = self.pool.acquire().await.map_err(db_err)?;
        exec(
            &mut conn,
            "SET synchronous_commit = off; SET temp_buffers = '256MB'; SET work_mem = '256MB'; SET maintenance_work_mem = '512MB'",
        )
        .await?;
        let result = scale(&mut conn, options, progress).await;
        let _ = conn.execute("DROP TABLE IF EXISTS bench_big").await;
        for t in TABLES {
            let _ = conn
                .execute(format!("DROP TABLE IF EXISTS bench_src_{t}").as_str())
                .await;
        }
        let mut report = result?;
        let t = Instant::now();
        for table in TABLES {
            exec(&mut conn, &format!("VACUUM (ANALYZE) {table}")).await?;
        }
        report.vacuum = t.elapsed();
        // Back to the server's settings for whoever gets this connection next.
        exec(&mut conn, "RESET ALL").await?;
        Ok(report)
    }
}

async fn scale(
    conn: &mut PgConnection,
    options: &ScaleOptions,
    progress: &(dyn Fn(usize, usize) + Send + Sync),
) -> Result<ScaleReport> {
    let start = Instant::now();
    let target = options.target_local_id.as_str();
    let already: Option<i32> =
        sqlx::query_scalar("SELECT 1 FROM local_patients WHERE local_id = $1 LIMIT 1")
            .bind(target)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?;
    if already.is_some() {
        return Err(StoreError::Conflict(format!(
            "this store is already scaled (local patient {target} exists)"
        )));
    }
    let base_records = count(conn, "SELECT COUNT(*) FROM records").await?;
    if base_records == 0 {
        return Err(StoreError::Conflict(
            "the store holds no records to copy (import a region first)".into(),
        ));
    }
    // Ids above every existing one: copy k adds k × stride.
    let v_stride = count(
        conn,
        "SELECT GREATEST(COALESCE((SELECT MAX(id) FROM file_versions), 0), COALESCE((SELECT MAX(version_id) FROM records), 0)) + 1",
    )
    .await? as i64;
    let f_stride = count(conn, "SELECT COALESCE(MAX(id), 0) + 1 FROM files").await? as i64;

    // The originals, kept aside: copying from the growing tables would re-read copies.
    for t in TABLES {
        exec(
            conn,
            &format!("CREATE TEMP TABLE bench_src_{t} AS SELECT * FROM {t}; ANALYZE bench_src_{t}"),
        )
        .await?;
    }

    // The target patient's two facilities and, for each, which original patients in which
    // round (a round reuses each original's rows once, under its own id offset).
    let facilities: Vec<(i64, String)> = sqlx::query_as(
        "SELECT r.facility_id, f.code FROM bench_src_records r
         JOIN bench_src_local_patients lp ON lp.facility_id = r.facility_id AND lp.local_id = r.patient_id
         JOIN facilities f ON f.id = r.facility_id
         GROUP BY r.facility_id, f.code ORDER BY COUNT(*) DESC, 1 LIMIT 2",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?;
    if facilities.len() < 2 {
        return Err(StoreError::Conflict(
            "the benchmark patient needs two facilities with patients and records".into(),
        ));
    }
    exec(
        conn,
        "CREATE TEMP TABLE bench_big (round BIGINT NOT NULL, facility_id BIGINT NOT NULL, patient_id TEXT COLLATE \"C\" NOT NULL)",
    )
    .await?;
    let mut rounds = 0usize;
    let mut sources = Vec::new();
    let half = options.target_records.div_ceil(2) as u64;
    for (i, (fid, code)) in facilities.iter().enumerate() {
        let want = if i == 0 {
            half
        } else {
            (options.target_records as u64).saturating_sub(half)
        };
        let patients: Vec<(String, i64)> = sqlx::query_as(
            "SELECT r.patient_id, COUNT(*) FROM bench_src_records r
             JOIN bench_src_local_patients lp ON lp.facility_id = r.facility_id AND lp.local_id = r.patient_id
             WHERE r.facility_id = $1
             GROUP BY r.patient_id ORDER BY 2 DESC, 1",
        )
        .bind(fid)
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
        let Some(first) = patients.first() else {
            return Err(StoreError::Conflict(format!(
                "facility {code} has no patients"
            )));
        };
        let demographics_from = first.0.clone();
        let (mut got, mut round) = (0u64, 0usize);
        let (mut b_rounds, mut b_patients) = (Vec::new(), Vec::new());
        'fill: loop {
            for (pid, n) in &patients {
                if got >= want {
                    break 'fill;
                }
                b_rounds.push(round as i64);
                b_patients.push(pid.as_str());
                got += (*n).max(0) as u64;
            }
            round += 1;
        }
        sqlx::query(
            "INSERT INTO bench_big SELECT r, $2, p FROM UNNEST($1::bigint[], $3::text[]) AS u(r, p)",
        )
        .bind(&b_rounds)
        .bind(fid)
        .bind(&b_patients)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
        rounds = rounds.max(round + 1);
        sources.push((*fid, code.clone(), demographics_from));
    }

    // 1. The copies, COPIES_PER_STEP at a time: one statement per table over
    //    generate_series(first, last) × the originals.
    let steps = options.copies.div_ceil(COPIES_PER_STEP);
    let total_steps = steps + 1;
    let (v, f) = (
        format!("bench_k * {v_stride}"),
        format!("bench_k * {f_stride}"),
    );
    for step in 0..steps {
        let first = step * COPIES_PER_STEP + 1;
        let last = ((step + 1) * COPIES_PER_STEP).min(options.copies);
        let mut tx = conn.begin().await.map_err(db_err)?;
        for t in TABLES {
            let from = format!(
                "generate_series({first}::bigint, {last}::bigint) AS g(bench_k) CROSS JOIN bench_src_{t}"
            );
            let sql = copy_statement(
                &mut tx,
                t,
                &v,
                &f,
                CopiedPatient::Copy("bench_k::text"),
                "'b' || bench_k",
                &from,
                "true",
            )
            .await?;
            exec(&mut tx, &sql).await?;
        }
        tx.commit().await.map_err(db_err)?;
        progress(step + 1, total_steps);
    }

    // 2. The target patient: each round under its own offsets, after the copies'.
    let mut tx = conn.begin().await.map_err(db_err)?;
    let patient = CopiedPatient::Target(target);
    for round in 0..rounds {
        let k = options.copies as i64 + 1 + round as i64;
        let (v, f) = ((k * v_stride).to_string(), (k * f_stride).to_string());
        let tag = format!("'big{round}'");
        let chosen = format!(
            "(facility_id, patient_id) IN (SELECT facility_id, patient_id FROM bench_big WHERE round = {round})"
        );
        let files = format!("SELECT file_id FROM bench_src_records WHERE {chosen}");
        for t in ["files", "file_versions"] {
            let filter = if t == "files" {
                format!("id IN ({files})")
            } else {
                format!("file_id IN ({files})")
            };
            let from = format!("bench_src_{t}");
            let sql = copy_statement(&mut tx, t, &v, &f, patient, &tag, &from, &filter).await?;
            exec(&mut tx, &sql).await?;
        }
        for t in schema::PATIENT_TABLES {
            let from = format!("bench_src_{t}");
            let sql = copy_statement(&mut tx, t, &v, &f, patient, &tag, &from, &chosen).await?;
            exec(&mut tx, &sql).await?;
        }
    }
    // Its demographics, the same at both facilities (one person known at two hospitals):
    // every column of the first facility's largest patient.
    let (from_fid, _, from_id) = &sources[0];
    let cols: Vec<String> = schema::columns(&mut tx, "local_patients")
        .await?
        .into_iter()
        .map(|c| c.0)
        .collect();
    let exprs: Vec<String> = cols
        .iter()
        .map(|c| match c.as_str() {
            "facility_id" => "$1".to_owned(),
            "local_id" => "$2".to_owned(),
            _ => format!("\"{c}\""),
        })
        .collect();
    let names: Vec<String> = cols.iter().map(|c| format!("\"{c}\"")).collect();
    for (fid, _, _) in &sources {
        sqlx::query(&format!(
            "INSERT INTO local_patients ({}) SELECT {} FROM bench_src_local_patients WHERE facility_id = $3 AND local_id = $4",
            names.join(", "),
            exprs.join(", ")
        ))
        .bind(fid)
        .bind(target)
        .bind(from_fid)
        .bind(from_id)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    }
    // New imports take ids after the copies'.
    exec(
        &mut tx,
        "SELECT setval('files_id_seq', GREATEST((SELECT MAX(id) FROM files), 1));
         SELECT setval('file_versions_id_seq', GREATEST((SELECT MAX(id) FROM file_versions), (SELECT MAX(version_id) FROM records), 1))",
    )
    .await?;
    tx.commit().await.map_err(db_err)?;
    progress(total_steps, total_steps);

    let demographics_from = model::LocalPatient {
        facility: facility_code(&sources[0].1)?,
        local_id: sources[0].2.clone(),
    };
    let mut target_sources = Vec::new();
    for (fid, code, _) in sources {
        let records: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM records WHERE facility_id = $1 AND patient_id = $2",
        )
        .bind(fid)
        .bind(target)
        .fetch_one(&mut *conn)
        .await
        .map_err(db_err)?;
        target_sources.push(TargetSource {
            facility: facility_code(&code)?,
            records: records.max(0) as u64,
        });
    }
    let elapsed = start.elapsed();
    Ok(ScaleReport {
        copies: options.copies,
        base_records,
        records: count(conn, "SELECT COUNT(*) FROM records").await?,
        local_patients: count(conn, "SELECT COUNT(*) FROM local_patients").await?,
        lab_results: count(conn, "SELECT COUNT(*) FROM lab_results").await?,
        target_local_id: target.to_owned(),
        target: target_sources,
        demographics_from,
        elapsed,
        vacuum: Duration::ZERO,
    })
}
