//! The import path on PostgreSQL: a batch of files becomes one pack in the blob store and a
//! handful of multi-row statements (one per table, arrays bound with `UNNEST`) in one
//! transaction — the batching that keeps a networked database near the embedded store's
//! import rate.

use std::collections::{HashMap, HashSet};

use futures::{StreamExt, TryStreamExt};
use model::Sha256;
use sqlx::{PgConnection, Postgres, Row, Transaction};
use store::{
    BatchOutcome, BlobLocation, FacilityId, FileOutcome, ImportRunId, IngestFile, LocalPacks,
    PackBuilder, Result, StorageKind, StoreError,
};

use crate::facts::{self, FactsOf};
use crate::schema::VERSIONS_LOCK;
use crate::{condition_code, db_err, now, sha_from, PgStore};

/// Frames fetched at once when reading contents (each is a ranged GET on S3).
const READ_CONCURRENCY: usize = 16;

/// Take the next `n` file-version ids, in order, under [`VERSIONS_LOCK`] (held to commit):
/// versions become visible in id order, which the replication feed relies on.
pub(crate) async fn take_version_ids(tx: &mut PgConnection, n: usize) -> Result<Vec<i64>> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(VERSIONS_LOCK)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    if n == 0 {
        return Ok(Vec::new());
    }
    sqlx::query_scalar(
        "SELECT nextval('file_versions_id_seq') FROM generate_series(1, $1) ORDER BY 1",
    )
    .bind(n as i64)
    .fetch_all(&mut *tx)
    .await
    .map_err(db_err)
}

/// Path → (file id, current content) for the given paths of a facility.
async fn current_of(
    conn: &mut PgConnection,
    facility: FacilityId,
    paths: &[String],
) -> Result<HashMap<String, (i64, Option<Vec<u8>>)>> {
    let rows = sqlx::query(
        "SELECT path, id, current_sha256 FROM files WHERE facility_id = $1 AND path = ANY($2)",
    )
    .bind(facility.0)
    .bind(paths)
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get::<String, _>(0).map_err(db_err)?,
                (
                    r.try_get::<i64, _>(1).map_err(db_err)?,
                    r.try_get::<Option<Vec<u8>>, _>(2).map_err(db_err)?,
                ),
            ))
        })
        .collect()
}

pub(crate) async fn write_batch(
    store: &PgStore,
    facility: FacilityId,
    run: ImportRunId,
    files: Vec<IngestFile>,
) -> Result<BatchOutcome> {
    let mut outcome = BatchOutcome::default();
    if files.is_empty() {
        return Ok(outcome);
    }
    let paths: Vec<String> = files.iter().map(|f| f.path.clone()).collect();

    // 1. Which contents are new anywhere: those go into this batch's pack. Which files are
    //    really new versions is decided under the lock below (the importer has already
    //    left out the files it found unchanged); a content that is already stored, at this
    //    path or another, adds nothing to the pack either way.
    let wanted: Vec<Vec<u8>> = files
        .iter()
        .map(|f| f.sha256.0.to_vec())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let known: HashSet<Vec<u8>> =
        sqlx::query_scalar::<_, Vec<u8>>("SELECT sha256 FROM blobs WHERE sha256 = ANY($1)")
            .bind(&wanted)
            .fetch_all(&store.pool)
            .await
            .map_err(db_err)?
            .into_iter()
            .collect();

    // 2. New contents go into one pack, stored durably before the index that points at it.
    //    The files move into the packing task and back: their bytes are not copied.
    let mut in_pack = HashSet::new();
    let to_pack: Vec<usize> = (0..files.len())
        .filter(|&i| !known.contains(&files[i].sha256.0[..]) && in_pack.insert(files[i].sha256))
        .collect();
    let (files, pack) = if to_pack.is_empty() {
        (files, None)
    } else {
        let (files, pack) = tokio::task::spawn_blocking(move || {
            let mut builder = PackBuilder::new();
            for &i in &to_pack {
                builder.add(files[i].sha256, &files[i].bytes)?;
            }
            builder.finish().map(|pack| (files, pack))
        })
        .await
        .map_err(|e| StoreError::Database(format!("packing task failed: {e}")))??;
        (files, Some(pack))
    };
    let pack = match pack {
        Some(mut pack) => {
            let size = pack.bytes.len();
            store
                .blobs
                .write_pack(&pack.name, std::mem::take(&mut pack.bytes))
                .await?;
            Some((pack, size))
        }
        None => None,
    };

    let mut tx = store.pool.begin().await.map_err(db_err)?;
    if let Some((pack, size)) = &pack {
        let pack_id: i64 = sqlx::query_scalar(
            "INSERT INTO packs(name, size, created_at) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING id",
        )
        .bind(&pack.name)
        .bind(*size as i64)
        .bind(now())
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
        insert_blobs(&mut tx, pack_id, &pack.locations).await?;
        outcome.new_blobs = pack.locations.len() as u64;
        outcome.packed_bytes = *size as u64;
    }

    // 3. Under the versions lock: what is really new now (another server may have written
    //    some of these paths since step 1), then versions, files, records, facts.
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(VERSIONS_LOCK)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    let current = current_of(&mut tx, facility, &paths).await?;
    let mut fresh: Vec<(Option<i64>, &IngestFile)> = Vec::with_capacity(files.len());
    let mut seen_paths = HashSet::new();
    for f in &files {
        if !seen_paths.insert(f.path.as_str()) {
            // The same path twice in one batch: the first is kept, as a replay would.
            continue;
        }
        match current.get(&f.path) {
            Some((_, Some(sha))) if sha[..] == f.sha256.0[..] => {}
            Some((id, _)) => fresh.push((Some(*id), f)),
            None => fresh.push((None, f)),
        }
    }
    if fresh.is_empty() {
        tx.commit().await.map_err(db_err)?;
        return Ok(outcome);
    }
    let version_ids = take_version_ids(&mut tx, fresh.len()).await?;
    let at = now();

    // New paths get their file row already pointing at their first version.
    let (mut new_paths, mut new_versions, mut new_shas) = (Vec::new(), Vec::new(), Vec::new());
    for ((existing, f), vid) in fresh.iter().zip(&version_ids) {
        if existing.is_none() {
            new_paths.push(f.path.clone());
            new_versions.push(*vid);
            new_shas.push(f.sha256.0.to_vec());
        }
    }
    let mut file_ids: HashMap<String, i64> = HashMap::new();
    if !new_paths.is_empty() {
        let rows = sqlx::query(
            "INSERT INTO files(facility_id, path, current_version, current_sha256)
             SELECT $1, p, v, s FROM UNNEST($2::text[], $3::bigint[], $4::bytea[]) AS u(p, v, s)
             RETURNING path, id",
        )
        .bind(facility.0)
        .bind(&new_paths)
        .bind(&new_versions)
        .bind(&new_shas)
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?;
        for r in rows {
            file_ids.insert(
                r.try_get::<String, _>(0).map_err(db_err)?,
                r.try_get::<i64, _>(1).map_err(db_err)?,
            );
        }
    }
    let file_id_of = |existing: &Option<i64>, path: &str| -> Result<i64> {
        existing
            .or_else(|| file_ids.get(path).copied())
            .ok_or_else(|| StoreError::Corrupt(format!("file row for {path} missing")))
    };

    let mut v_ids = Vec::with_capacity(fresh.len());
    let mut v_files = Vec::with_capacity(fresh.len());
    let mut v_shas: Vec<Vec<u8>> = Vec::with_capacity(fresh.len());
    let mut v_sizes = Vec::with_capacity(fresh.len());
    let mut v_times: Vec<&str> = Vec::with_capacity(fresh.len());
    let mut v_options: Vec<bool> = Vec::with_capacity(fresh.len());
    let (mut moved_files, mut moved_versions, mut moved_shas) =
        (Vec::new(), Vec::new(), Vec::new());
    let mut records = RecordColumns::default();
    let mut quarantine = QuarantineColumns::default();
    let (mut notice_versions, mut notice_texts) = (Vec::new(), Vec::new());
    let mut patients: HashMap<&str, (&store::RecordIndex, &model::Demographics)> = HashMap::new();
    let mut fact_items = Vec::new();
    let mut order_files = OrderFiles::default();
    for ((existing, f), &vid) in fresh.iter().zip(&version_ids) {
        let file_id = file_id_of(existing, &f.path)?;
        v_ids.push(vid);
        v_files.push(file_id);
        v_shas.push(f.sha256.0.to_vec());
        v_sizes.push(f.bytes.len() as i64);
        v_times.push(f.recorded_at.as_deref().unwrap_or(&at));
        v_options.push(f.accept_unterminated);
        if existing.is_some() {
            moved_files.push(file_id);
            moved_versions.push(vid);
            moved_shas.push(f.sha256.0.to_vec());
        }
        match &f.outcome {
            FileOutcome::Record(r) => {
                if let Some(d) = &f.demographics {
                    // The newest ADT-00 of a patient wins (by file-name timestamp), whatever
                    // the order files arrive in; later in the batch wins a tie, as in SQLite.
                    let newer = patients
                        .get(r.patient_id.as_str())
                        .map(|(old, _)| r.written_at >= old.written_at)
                        .unwrap_or(true);
                    if newer {
                        patients.insert(&r.patient_id, (r, d));
                    }
                }
                records.push(file_id, vid, r);
                if store::is_current_order_file(r) {
                    order_files.push(file_id, vid, r);
                }
                if !f.facts.is_empty() {
                    fact_items.push(FactsOf {
                        patient_id: &r.patient_id,
                        version_id: vid,
                        kind: &r.kind,
                        date: &r.date,
                        order_no: &r.order_no,
                        written_at: &r.written_at,
                        current: true,
                        facts: &f.facts,
                    });
                }
            }
            FileOutcome::Quarantined { reason, line } => {
                quarantine.version_id.push(vid);
                quarantine.path.push(f.path.as_str());
                quarantine.reason.push(reason.as_str());
                quarantine.line.push(line.map(|l| l as i64));
                quarantine
                    .recorded_at
                    .push(f.recorded_at.as_deref().unwrap_or(&at));
            }
        }
        for n in &f.notices {
            notice_versions.push(vid);
            notice_texts.push(n.as_str());
        }
        outcome.versions += 1;
    }

    sqlx::query(
        "INSERT INTO file_versions(id, file_id, sha256, size, import_run, recorded_at, accept_unterminated)
         SELECT i, f, s, z, $5, t, a
         FROM UNNEST($1::bigint[], $2::bigint[], $3::bytea[], $4::bigint[], $6::text[], $7::bool[])
             AS u(i, f, s, z, t, a)",
    )
    .bind(&v_ids)
    .bind(&v_files)
    .bind(&v_shas)
    .bind(&v_sizes)
    .bind(run.0)
    .bind(&v_times)
    .bind(&v_options)
    .execute(&mut *tx)
    .await
    .map_err(db_err)?;
    if !moved_files.is_empty() {
        supersede(&mut tx, &moved_files).await?;
        sqlx::query(
            "UPDATE files SET current_version = u.v, current_sha256 = u.s
             FROM UNNEST($1::bigint[], $2::bigint[], $3::bytea[]) AS u(f, v, s)
             WHERE files.id = u.f",
        )
        .bind(&moved_files)
        .bind(&moved_versions)
        .bind(&moved_shas)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    }
    records.insert(&mut tx, facility).await?;
    // A run that began on an empty facility finds its duplicate orders when it finishes.
    let at_finish: Option<bool> =
        sqlx::query_scalar("SELECT orders_checked_at_finish FROM import_runs WHERE id = $1")
            .bind(run.0)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?;
    if at_finish != Some(true) {
        order_files.check(&mut tx, facility, run).await?;
    }
    quarantine.insert(&mut tx, facility, run).await?;
    if !notice_versions.is_empty() {
        sqlx::query(
            "INSERT INTO notices(facility_id, import_run, version_id, message)
             SELECT $1, $2, v, m FROM UNNEST($3::bigint[], $4::text[]) AS u(v, m)",
        )
        .bind(facility.0)
        .bind(run.0)
        .bind(&notice_versions)
        .bind(&notice_texts)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    }
    put_patients(&mut tx, facility, patients.into_values().collect()).await?;
    if !fact_items.is_empty() {
        facts::insert(&mut tx, facility, &fact_items).await?;
    }
    tx.commit().await.map_err(db_err)?;
    Ok(outcome)
}

/// These files' current versions stop being current (a new version or a removal follows):
/// their records and facts say so. Called under [`VERSIONS_LOCK`], before
/// `files.current_version` moves on; every writer that moves a file goes through here, so
/// `records.current` and the facts' `current` always equal "this version is its file's
/// current version" (checked by the conformance tests).
pub(crate) async fn supersede(tx: &mut PgConnection, file_ids: &[i64]) -> Result<()> {
    if file_ids.is_empty() {
        return Ok(());
    }
    let old: Vec<(i64, String, i64, String)> = sqlx::query_as(
        "UPDATE records r SET current = false FROM files f
         WHERE f.id = ANY($1) AND r.version_id = f.current_version AND r.facility_id = f.facility_id
           AND r.current
         RETURNING r.facility_id, r.patient_id, r.version_id, r.kind",
    )
    .bind(file_ids)
    .fetch_all(&mut *tx)
    .await
    .map_err(db_err)?;
    facts::supersede(tx, &old).await
}

pub(crate) async fn insert_blobs(
    tx: &mut PgConnection,
    pack_id: i64,
    locations: &[(Sha256, BlobLocation)],
) -> Result<()> {
    let shas: Vec<Vec<u8>> = locations.iter().map(|(s, _)| s.0.to_vec()).collect();
    let sizes: Vec<i64> = locations.iter().map(|(_, l)| l.len as i64).collect();
    let frame_offsets: Vec<i64> = locations
        .iter()
        .map(|(_, l)| l.frame_offset as i64)
        .collect();
    let frame_lens: Vec<i64> = locations.iter().map(|(_, l)| l.frame_len as i64).collect();
    let offsets: Vec<i64> = locations.iter().map(|(_, l)| l.offset as i64).collect();
    sqlx::query(
        r#"INSERT INTO blobs(sha256, size, pack_id, frame_offset, frame_len, "offset")
           SELECT s, z, $2, fo, fl, o FROM UNNEST($1::bytea[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[])
               AS u(s, z, fo, fl, o)
           ON CONFLICT (sha256) DO NOTHING"#,
    )
    .bind(&shas)
    .bind(pack_id)
    .bind(&sizes)
    .bind(&frame_offsets)
    .bind(&frame_lens)
    .bind(&offsets)
    .execute(&mut *tx)
    .await
    .map_err(db_err)?;
    Ok(())
}

/// The current order files of a batch (`store::is_current_order_file`), checked for another
/// current file of their order once the batch's records are in (so that two of one batch
/// find each other).
#[derive(Default)]
struct OrderFiles<'a> {
    file_id: Vec<i64>,
    version_id: Vec<i64>,
    patient_id: Vec<&'a str>,
    kind: Vec<&'a str>,
    order_no: Vec<&'a str>,
    /// `store::order_key_date`.
    date: Vec<&'a str>,
}

/// The other current (`_1`) files of one order of a patient: `records_by_order` in the
/// patient's partition, `current` kept by [`supersede`].
pub(crate) const OTHER_CURRENT_OF_ORDER: &str =
    "r.facility_id = $1 AND r.patient_id = u.p AND r.kind = u.k AND r.order_no = u.o
     AND r.current AND r.condition = 1 AND r.storage = 'S' AND NOT r.cancels AND r.file_id <> u.f
     AND (u.d = '' OR r.date = u.d)";

impl<'a> OrderFiles<'a> {
    fn push(&mut self, file_id: i64, version_id: i64, r: &'a store::RecordIndex) {
        self.file_id.push(file_id);
        self.version_id.push(version_id);
        self.patient_id.push(&r.patient_id);
        self.kind.push(&r.kind);
        self.order_no.push(&r.order_no);
        self.date.push(store::order_key_date(&r.kind, &r.date));
    }

    /// Remember, for the end of the run, the files whose order has another current file
    /// written before them (as the embedded store, which checks file by file: of two files of
    /// one batch, the later one).
    async fn check(
        &self,
        tx: &mut PgConnection,
        facility: FacilityId,
        run: ImportRunId,
    ) -> Result<()> {
        if self.version_id.is_empty() {
            return Ok(());
        }
        sqlx::query(&format!(
            "INSERT INTO order_checks(import_run, version_id)
             SELECT $2, u.v FROM UNNEST($3::text[], $4::text[], $5::text[], $6::bigint[], $7::bigint[], $8::text[])
                 AS u(p, k, o, v, f, d)
             WHERE EXISTS (SELECT 1 FROM records r WHERE {OTHER_CURRENT_OF_ORDER}
                               AND r.version_id < u.v)
             ON CONFLICT DO NOTHING"
        ))
        .bind(facility.0)
        .bind(run.0)
        .bind(&self.patient_id)
        .bind(&self.kind)
        .bind(&self.order_no)
        .bind(&self.version_id)
        .bind(&self.file_id)
        .bind(&self.date)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        Ok(())
    }
}

/// The run's candidates of [`OrderFiles::check`] that still share their order with another
/// current file now that the run's removals are applied: each gets its import notice naming
/// the others. Returns how many notices were written.
pub(crate) async fn order_notices(
    tx: &mut PgConnection,
    facility: FacilityId,
    run: ImportRunId,
) -> Result<u64> {
    let rows: Vec<(i64, String, String, Vec<String>)> = sqlx::query_as(&format!(
        "SELECT u.v, u.k, u.o, array_agg(f.path ORDER BY f.path)
         FROM (SELECT c.version_id AS v, n.file_id AS f, n.patient_id AS p, n.kind AS k, n.order_no AS o,
                      CASE WHEN n.kind = ANY($3) THEN n.date ELSE '' END AS d
               FROM order_checks c JOIN records n ON n.version_id = c.version_id AND n.facility_id = $1
               WHERE c.import_run = $2 AND n.current) u
         JOIN records r ON {OTHER_CURRENT_OF_ORDER}
         JOIN files f ON f.id = r.file_id
         GROUP BY u.v, u.k, u.o ORDER BY u.v"
    ))
    .bind(facility.0)
    .bind(run.0)
    .bind(store::DATED_ORDER_KINDS)
    .fetch_all(&mut *tx)
    .await
    .map_err(db_err)?;
    let written = insert_order_notices(tx, facility, run, rows).await?;
    sqlx::query("DELETE FROM order_checks WHERE import_run = $1")
        .bind(run.0)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    Ok(written)
}

/// [`order_notices`] for a run that began on an empty facility (a first import), which
/// checked nothing while it wrote: of the facility's current order files, those of this run
/// that share their order (and date, `store::order_key_date`) with a current file written
/// before them. Each gets its import notice naming every other current file of the order.
pub(crate) async fn order_notices_by_scan(
    tx: &mut PgConnection,
    facility: FacilityId,
    run: ImportRunId,
) -> Result<u64> {
    let order_kinds: Vec<&str> = ssmix2::DataKind::ALL
        .iter()
        .filter(|k| k.has_order())
        .map(|k| k.code())
        .collect();
    let rows: Vec<(i64, String, String, Vec<String>)> = sqlx::query_as(
        "WITH cur AS (
             SELECT r.version_id AS v, r.file_id AS f, r.patient_id AS p, r.kind AS k, r.order_no AS o,
                    CASE WHEN r.kind = ANY($3) THEN r.date ELSE '' END AS d
             FROM records r
             WHERE r.facility_id = $1 AND r.current AND r.condition = 1 AND r.storage = 'S'
               AND NOT r.cancels AND r.order_no <> '' AND r.kind = ANY($4)),
         dup AS (SELECT p, k, o, d FROM cur GROUP BY p, k, o, d HAVING count(*) > 1),
         c AS (SELECT cur.* FROM cur JOIN dup USING (p, k, o, d))
         SELECT n.v, n.k, n.o, array_agg(fx.path ORDER BY fx.path)
         FROM c n JOIN file_versions nv ON nv.id = n.v AND nv.import_run = $2
         JOIN c x ON x.p = n.p AND x.k = n.k AND x.o = n.o AND x.d = n.d AND x.v <> n.v
         JOIN files fx ON fx.id = x.f
         GROUP BY n.v, n.k, n.o HAVING min(x.v) < n.v ORDER BY n.v",
    )
    .bind(facility.0)
    .bind(run.0)
    .bind(store::DATED_ORDER_KINDS)
    .bind(&order_kinds)
    .fetch_all(&mut *tx)
    .await
    .map_err(db_err)?;
    insert_order_notices(tx, facility, run, rows).await
}

/// One import notice per (version, kind, order number, the order's other current paths).
async fn insert_order_notices(
    tx: &mut PgConnection,
    facility: FacilityId,
    run: ImportRunId,
    rows: Vec<(i64, String, String, Vec<String>)>,
) -> Result<u64> {
    let (mut versions, mut messages) = (Vec::new(), Vec::new());
    for (v, kind, order_no, others) in rows {
        versions.push(v);
        messages.push(store::duplicate_order_notice(&kind, &order_no, &others));
    }
    if !versions.is_empty() {
        sqlx::query(
            "INSERT INTO notices(facility_id, import_run, version_id, message)
             SELECT $1, $2, v, m FROM UNNEST($3::bigint[], $4::text[]) AS u(v, m)",
        )
        .bind(facility.0)
        .bind(run.0)
        .bind(&versions)
        .bind(&messages)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    }
    Ok(versions.len() as u64)
}

#[derive(Default)]
struct RecordColumns<'a> {
    file_id: Vec<i64>,
    version_id: Vec<i64>,
    storage: Vec<&'static str>,
    patient_id: Vec<&'a str>,
    date: Vec<&'a str>,
    kind: Vec<&'a str>,
    order_no: Vec<&'a str>,
    written_at: Vec<&'a str>,
    department: Vec<&'a str>,
    condition: Vec<i64>,
    message_type: Vec<Option<&'a str>>,
    encoding: Vec<Option<&'a str>>,
    cancels: Vec<bool>,
}

impl<'a> RecordColumns<'a> {
    fn push(&mut self, file_id: i64, version_id: i64, r: &'a store::RecordIndex) {
        self.file_id.push(file_id);
        self.version_id.push(version_id);
        self.storage.push(match r.storage {
            StorageKind::Standard => "S",
            StorageKind::Extended => "E",
        });
        self.patient_id.push(&r.patient_id);
        self.date.push(&r.date);
        self.kind.push(&r.kind);
        self.order_no.push(&r.order_no);
        self.written_at.push(&r.written_at);
        self.department.push(&r.department);
        self.condition.push(condition_code(r.condition));
        self.message_type.push(r.message_type.as_deref());
        self.encoding.push(r.nonconforming_encoding.as_deref());
        self.cancels.push(r.cancels);
    }

    async fn insert(&self, tx: &mut PgConnection, facility: FacilityId) -> Result<()> {
        if self.version_id.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO records(facility_id, file_id, version_id, storage, patient_id, date, kind, order_no,
                                 written_at, department, condition, message_type, encoding, cancels)
             SELECT $1, u.* FROM UNNEST($2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[],
                                        $8::text[], $9::text[], $10::text[], $11::bigint[], $12::text[], $13::text[],
                                        $14::boolean[]) AS u",
        )
        .bind(facility.0)
        .bind(&self.file_id)
        .bind(&self.version_id)
        .bind(&self.storage)
        .bind(&self.patient_id)
        .bind(&self.date)
        .bind(&self.kind)
        .bind(&self.order_no)
        .bind(&self.written_at)
        .bind(&self.department)
        .bind(&self.condition)
        .bind(&self.message_type)
        .bind(&self.encoding)
        .bind(&self.cancels)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        Ok(())
    }
}

#[derive(Default)]
struct QuarantineColumns<'a> {
    version_id: Vec<i64>,
    path: Vec<&'a str>,
    reason: Vec<&'a str>,
    line: Vec<Option<i64>>,
    recorded_at: Vec<&'a str>,
}

impl QuarantineColumns<'_> {
    async fn insert(
        &self,
        tx: &mut PgConnection,
        facility: FacilityId,
        run: ImportRunId,
    ) -> Result<()> {
        if self.version_id.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO quarantine(facility_id, import_run, version_id, path, reason, line, recorded_at)
             SELECT $1, $2, u.* FROM UNNEST($3::bigint[], $4::text[], $5::text[], $6::bigint[], $7::text[]) AS u",
        )
        .bind(facility.0)
        .bind(run.0)
        .bind(&self.version_id)
        .bind(&self.path)
        .bind(&self.reason)
        .bind(&self.line)
        .bind(&self.recorded_at)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        Ok(())
    }
}

/// Demographics of the batch's newest ADT-00 per patient; a stored newer one is kept.
async fn put_patients(
    tx: &mut PgConnection,
    facility: FacilityId,
    patients: Vec<(&store::RecordIndex, &model::Demographics)>,
) -> Result<()> {
    if patients.is_empty() {
        return Ok(());
    }
    let col = |f: &dyn Fn(&store::RecordIndex, &model::Demographics) -> String| -> Vec<String> {
        patients.iter().map(|(r, d)| f(r, d)).collect()
    };
    sqlx::query(
        "INSERT INTO local_patients(facility_id, local_id, name_kanji, name_kana, birth_date, sex, phone, zip,
                                    address, written_at, search_kanji, search_kana)
         SELECT $1, u.* FROM UNNEST($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                                    $8::text[], $9::text[], $10::text[], $11::text[], $12::text[]) AS u
         ON CONFLICT (facility_id, local_id) DO UPDATE SET name_kanji = EXCLUDED.name_kanji,
             name_kana = EXCLUDED.name_kana, birth_date = EXCLUDED.birth_date, sex = EXCLUDED.sex,
             phone = EXCLUDED.phone, zip = EXCLUDED.zip, address = EXCLUDED.address,
             written_at = EXCLUDED.written_at, search_kanji = EXCLUDED.search_kanji,
             search_kana = EXCLUDED.search_kana
         WHERE EXCLUDED.written_at >= local_patients.written_at",
    )
    .bind(facility.0)
    .bind(col(&|r, _| r.patient_id.clone()))
    .bind(col(&|_, d| d.name_kanji.clone()))
    .bind(col(&|_, d| d.name_kana.clone()))
    .bind(col(&|_, d| d.birth_date.clone()))
    .bind(col(&|_, d| d.sex.clone()))
    .bind(col(&|_, d| d.phone.clone()))
    .bind(col(&|_, d| d.zip.clone()))
    .bind(col(&|_, d| d.address.clone()))
    .bind(col(&|r, _| r.written_at.clone()))
    .bind(col(&|_, d| store::kanji_search_key(&d.name_kanji)))
    .bind(col(&|_, d| store::kana_search_key(&d.name_kana)))
    .execute(&mut *tx)
    .await
    .map_err(db_err)?;
    Ok(())
}

/// Mark these current paths of a facility removed as of `run` (a new version with no
/// content each; their history stays).
pub(crate) async fn remove_paths(
    tx: &mut Transaction<'_, Postgres>,
    facility: FacilityId,
    run: ImportRunId,
    paths: &[String],
    at: &str,
) -> Result<()> {
    if paths.is_empty() {
        return Ok(());
    }
    let ids = take_version_ids(tx, paths.len()).await?;
    let file_ids: Vec<(String, i64)> =
        sqlx::query_as("SELECT path, id FROM files WHERE facility_id = $1 AND path = ANY($2)")
            .bind(facility.0)
            .bind(paths)
            .fetch_all(&mut **tx)
            .await
            .map_err(db_err)?;
    let file_ids: HashMap<String, i64> = file_ids.into_iter().collect();
    let mut files = Vec::with_capacity(paths.len());
    for p in paths {
        files.push(
            *file_ids
                .get(p)
                .ok_or_else(|| StoreError::NotFound(format!("file {p}")))?,
        );
    }
    sqlx::query(
        "INSERT INTO file_versions(id, file_id, sha256, size, import_run, recorded_at)
         SELECT i, f, NULL, 0, $3, $4 FROM UNNEST($1::bigint[], $2::bigint[]) AS u(i, f)",
    )
    .bind(&ids)
    .bind(&files)
    .bind(run.0)
    .bind(at)
    .execute(&mut **tx)
    .await
    .map_err(db_err)?;
    supersede(tx, &files).await?;
    sqlx::query(
        "UPDATE files SET current_version = u.v, current_sha256 = NULL
         FROM UNNEST($1::bigint[], $2::bigint[]) AS u(f, v) WHERE files.id = u.f",
    )
    .bind(&files)
    .bind(&ids)
    .execute(&mut **tx)
    .await
    .map_err(db_err)?;
    Ok(())
}

/// Where each content is, in the order asked.
pub(crate) async fn locations(store: &PgStore, hashes: &[Sha256]) -> Result<Vec<BlobLocation>> {
    let keys: Vec<Vec<u8>> = hashes.iter().map(|h| h.0.to_vec()).collect();
    let rows = sqlx::query(
        r#"SELECT b.sha256, p.name, b.frame_offset, b.frame_len, b."offset", b.size
           FROM blobs b JOIN packs p ON p.id = b.pack_id WHERE b.sha256 = ANY($1)"#,
    )
    .bind(&keys)
    .fetch_all(&store.pool)
    .await
    .map_err(db_err)?;
    let mut found: HashMap<Sha256, BlobLocation> = HashMap::with_capacity(rows.len());
    for r in rows {
        found.insert(
            sha_from(r.try_get(0).map_err(db_err)?)?,
            BlobLocation {
                pack: r.try_get(1).map_err(db_err)?,
                frame_offset: r.try_get::<i64, _>(2).map_err(db_err)? as u64,
                frame_len: r.try_get::<i64, _>(3).map_err(db_err)? as u32,
                offset: r.try_get::<i64, _>(4).map_err(db_err)? as u32,
                len: r.try_get::<i64, _>(5).map_err(db_err)? as u32,
            },
        );
    }
    hashes
        .iter()
        .map(|h| {
            found
                .get(h)
                .cloned()
                .ok_or_else(|| StoreError::NotFound(format!("content {h}")))
        })
        .collect()
}

/// Raw contents in the order asked; each frame is fetched (and decompressed) once, several
/// at a time.
pub(crate) async fn read_blobs(store: &PgStore, hashes: &[Sha256]) -> Result<Vec<Vec<u8>>> {
    let locations = locations(store, hashes).await?;
    let frames: HashSet<(String, u64, u32)> = locations
        .iter()
        .map(|l| (l.pack.clone(), l.frame_offset, l.frame_len))
        .collect();
    let fetched: HashMap<(String, u64), Vec<u8>> = futures::stream::iter(frames)
        .map(|(pack, offset, len)| async move {
            let frame = store.blobs.read_frame(&pack, offset, len).await?;
            Ok::<_, StoreError>(((pack, offset), frame))
        })
        .buffer_unordered(READ_CONCURRENCY)
        .try_collect()
        .await?;
    locations
        .iter()
        .zip(hashes)
        .map(|(loc, sha)| {
            let frame = fetched
                .get(&(loc.pack.clone(), loc.frame_offset))
                .ok_or_else(|| StoreError::Corrupt(format!("frame of {sha} not read")))?;
            LocalPacks::extract(frame, loc, sha)
        })
        .collect()
}
