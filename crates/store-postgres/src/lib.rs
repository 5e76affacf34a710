//! The scale-out store: PostgreSQL for the index, an object store (local folder or S3) for
//! the packs. Several renkei servers may share one database and one bucket: every method is
//! one PostgreSQL transaction, and the orderings the embedded store gets from having a
//! single writer (file-version ids, the registry journal, the audit chain) are kept with
//! advisory locks held to commit (see [`schema`]).
//!
//! ```text
//! postgres://…          index (facilities, files, versions, records, facts, registry, audit)
//! RENKEI_BLOBS          packs: a folder (default DATA/blobs) or s3://bucket/prefix
//! ```

mod batch;
pub mod bench_scale;
pub mod blobs;
mod facts;
mod registry;
mod replication;
pub mod schema;
pub mod testing;
mod viewer;

use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use model::{FacilityCode, Sha256};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;
use store::{
    AllergyFact, BackfillItem, BackfilledFacts, DiagnosisFact, EncounterFact, FactRow,
    HistoricFact, LabFact, LabFilter, MedicationFact,
};
use store::{
    BatchOutcome, FacilityId, FacilityOverview, ImportRun, ImportRunId, ImportTotals, IngestFile,
    QuarantineEntry, Result, Store, StoreError, StoreStats, StoredFile, StoredRecord,
};
use store::{LocalPatientHit, PagedRecord, PatientSearch, RecordFilter, RecordVersion};

pub use blobs::{Blobs, BlobsLocation, S3Location};
pub use store::{ScaleOptions, ScaleReport, TargetSource};

/// How to reach the database and the packs.
#[derive(Debug, Clone)]
pub struct PgConfig {
    /// `postgres://user@host:5432/renkei` (sslmode and the rest as libpq understands them).
    pub database_url: String,
    pub blobs: BlobsLocation,
    /// Connections this process keeps open (each server of a cluster has its own pool).
    pub max_connections: u32,
}

pub struct PgStore {
    pub(crate) pool: PgPool,
    pub(crate) blobs: Blobs,
}

pub(crate) fn db_err(e: sqlx::Error) -> StoreError {
    // sqlx's Display of a database error is the server's message, not its DETAIL line (which
    // can quote key values, i.e. patient IDs).
    StoreError::Database(e.to_string())
}

pub(crate) fn now() -> String {
    model::UnixTime::now().rfc3339()
}

pub(crate) fn sha_from(bytes: Vec<u8>) -> Result<Sha256> {
    let arr: [u8; 32] = bytes
        .try_into()
        .map_err(|_| StoreError::Corrupt("stored hash is not 32 bytes".into()))?;
    Ok(Sha256(arr))
}

/// The URL without its password, for messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{user}@{}", &url[..scheme + 3], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

impl PgStore {
    /// Connect and bring the schema up to date (what a server does at start).
    pub async fn connect(config: &PgConfig) -> Result<PgStore> {
        Self::connect_with(config, true).await
    }

    /// Connect without migrating: for commands run beside servers (verify, restore, sites);
    /// the schema must already be this renkei's.
    pub async fn connect_alongside(config: &PgConfig) -> Result<PgStore> {
        Self::connect_with(config, false).await
    }

    async fn connect_with(config: &PgConfig, migrate: bool) -> Result<PgStore> {
        let options = PgConnectOptions::from_str(&config.database_url).map_err(|e| {
            StoreError::Database(format!(
                "database URL {}: {e}",
                redact_url(&config.database_url)
            ))
        })?;
        let pool = PgPoolOptions::new()
            .max_connections(config.max_connections.max(2))
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options)
            .await
            .map_err(|e| {
                StoreError::Database(format!(
                    "cannot connect to {}: {e}",
                    redact_url(&config.database_url)
                ))
            })?;
        {
            let mut conn = pool.acquire().await.map_err(db_err)?;
            if migrate {
                schema::migrate(&mut conn).await?;
            } else {
                schema::check_current(&mut conn).await?;
            }
        }
        let blobs = Blobs::open(&config.blobs)?;
        let store = PgStore { pool, blobs };
        if migrate {
            store.anchor_new_store().await?;
        }
        Ok(store)
    }

    /// Write the empty chain's anchor when the network is new (nothing audited, no user, no
    /// facility), so that from then on a missing anchor always means a deleted one. A
    /// network with any of those and no anchor is left without one: `verify` reports it.
    async fn anchor_new_store(&self) -> Result<()> {
        // Present (or unreadable, which `verify` reports): nothing to do here.
        if !matches!(self.blobs.audit_anchor().await, Ok(None)) {
            return Ok(());
        }
        let used: bool = sqlx::query_scalar(
            "SELECT EXISTS(SELECT 1 FROM audit_log) OR EXISTS(SELECT 1 FROM users)
                 OR EXISTS(SELECT 1 FROM facilities)",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(db_err)?;
        if !used {
            let g = audit::Head::GENESIS;
            self.blobs.put_audit_anchor(g.seq, &g.hash).await?;
        }
        Ok(())
    }

    pub fn blobs(&self) -> &Blobs {
        &self.blobs
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

#[async_trait]
impl Store for PgStore {
    async fn facility(&self, code: &FacilityCode, create: bool) -> Result<Option<FacilityId>> {
        if create {
            // DO NOTHING would fire the journal trigger only for a real insert, as in SQLite.
            sqlx::query(
                "INSERT INTO facilities(code, created_at) VALUES ($1, $2) ON CONFLICT (code) DO NOTHING",
            )
            .bind(code.as_str())
            .bind(now())
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        }
        let id: Option<i64> = sqlx::query_scalar("SELECT id FROM facilities WHERE code = $1")
            .bind(code.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(id.map(FacilityId))
    }

    async fn facilities(&self) -> Result<Vec<(FacilityId, FacilityCode)>> {
        let rows: Vec<(i64, String)> =
            sqlx::query_as("SELECT id, code FROM facilities ORDER BY code")
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?;
        rows.into_iter()
            .map(|(id, code)| Ok((FacilityId(id), parse_code(&code)?)))
            .collect()
    }

    async fn begin_import(&self, facility: FacilityId, source: &str) -> Result<ImportRunId> {
        let id: i64 = sqlx::query_scalar(
            // A first import writes every file of the facility: its duplicate orders are
            // cheaper to find in one scan at the end than batch by batch.
            "INSERT INTO import_runs(facility_id, source, started_at, orders_checked_at_finish)
             VALUES ($1, $2, $3, NOT EXISTS (SELECT 1 FROM records WHERE facility_id = $1)) RETURNING id",
        )
        .bind(facility.0)
        .bind(source)
        .bind(now())
        .fetch_one(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(ImportRunId(id))
    }

    async fn current_hashes(&self, facility: FacilityId) -> Result<HashMap<String, Sha256>> {
        let rows: Vec<(String, Vec<u8>)> = sqlx::query_as(
            "SELECT path, current_sha256 FROM files
             WHERE facility_id = $1 AND current_sha256 IS NOT NULL",
        )
        .bind(facility.0)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.into_iter()
            .map(|(path, sha)| Ok((path, sha_from(sha)?)))
            .collect()
    }

    async fn current_hashes_of(
        &self,
        facility: FacilityId,
        paths: &[String],
    ) -> Result<HashMap<String, Sha256>> {
        let rows: Vec<(String, Vec<u8>)> = sqlx::query_as(
            "SELECT path, current_sha256 FROM files
             WHERE facility_id = $1 AND path = ANY($2) AND current_sha256 IS NOT NULL",
        )
        .bind(facility.0)
        .bind(paths)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.into_iter()
            .map(|(path, sha)| Ok((path, sha_from(sha)?)))
            .collect()
    }

    async fn write_batch(
        &self,
        facility: FacilityId,
        run: ImportRunId,
        files: Vec<IngestFile>,
    ) -> Result<BatchOutcome> {
        batch::write_batch(self, facility, run, files).await
    }

    async fn save_run_totals(&self, run: ImportRunId, totals: &ImportTotals) -> Result<()> {
        sqlx::query("UPDATE import_runs SET totals = $1 WHERE id = $2 AND finished_at IS NULL")
            .bind(totals_json(totals))
            .bind(run.0)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn finish_import(
        &self,
        facility: FacilityId,
        run: ImportRunId,
        totals: &ImportTotals,
        seen: Option<&HashSet<String>>,
    ) -> Result<u64> {
        let gone: Vec<String> = match seen {
            Some(seen) => self
                .current_hashes(facility)
                .await?
                .into_keys()
                .filter(|p| !seen.contains(p))
                .collect(),
            None => Vec::new(),
        };
        let at = now();
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        batch::remove_paths(&mut tx, facility, run, &gone, &at).await?;
        let mut totals = totals.clone();
        let at_finish: bool =
            sqlx::query_scalar("SELECT orders_checked_at_finish FROM import_runs WHERE id = $1")
                .bind(run.0)
                .fetch_one(&mut *tx)
                .await
                .map_err(db_err)?;
        totals.notices += if at_finish {
            batch::order_notices_by_scan(&mut tx, facility, run).await?
        } else {
            batch::order_notices(&mut tx, facility, run).await?
        };
        sqlx::query(
            "UPDATE import_runs SET finished_at = $1, totals = $2, removed = $3 WHERE id = $4",
        )
        .bind(&at)
        .bind(totals_json(&totals))
        .bind(gone.len() as i64)
        .bind(run.0)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(gone.len() as u64)
    }

    async fn import_notices(&self, run: ImportRunId) -> Result<Vec<(String, String)>> {
        sqlx::query_as(
            "SELECT f.path, n.message FROM notices n
             JOIN file_versions v ON v.id = n.version_id JOIN files f ON f.id = v.file_id
             WHERE n.import_run = $1 ORDER BY n.id",
        )
        .bind(run.0)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)
    }

    async fn current_files(&self, facility: FacilityId) -> Result<Vec<StoredFile>> {
        let rows: Vec<(String, Vec<u8>, i64)> = sqlx::query_as(
            "SELECT f.path, v.sha256, v.size FROM files f JOIN file_versions v ON v.id = f.current_version
             WHERE f.facility_id = $1 AND v.sha256 IS NOT NULL ORDER BY f.path",
        )
        .bind(facility.0)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.into_iter()
            .map(|(path, sha, size)| {
                Ok(StoredFile {
                    path,
                    sha256: sha_from(sha)?,
                    size: size as u64,
                })
            })
            .collect()
    }

    async fn read_blobs(&self, hashes: &[Sha256]) -> Result<Vec<Vec<u8>>> {
        batch::read_blobs(self, hashes).await
    }

    async fn quarantine(&self, facility: FacilityId) -> Result<Vec<QuarantineEntry>> {
        let rows: Vec<(String, String, Option<i64>, String)> = sqlx::query_as(
            "SELECT path, reason, line, recorded_at FROM quarantine WHERE facility_id = $1 ORDER BY path, version_id",
        )
        .bind(facility.0)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(rows
            .into_iter()
            .map(|(path, reason, line, recorded_at)| QuarantineEntry {
                path,
                reason,
                line: line.map(|l| l as u32),
                recorded_at,
            })
            .collect())
    }

    async fn unreadable_count(&self, facility: FacilityId, local_id: &str) -> Result<u64> {
        let (p1, p2) = ssmix2::naming::prefix_folders(local_id);
        let folder = format!("{p1}/{p2}/{local_id}/");
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM quarantine q
             JOIN files f ON f.facility_id = q.facility_id AND f.path = q.path
                         AND f.current_version = q.version_id
             WHERE q.facility_id = $1 AND left(q.path, length($2)) = $2",
        )
        .bind(facility.0)
        .bind(folder)
        .fetch_one(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(n.max(0) as u64)
    }

    async fn import_runs(&self, facility: Option<FacilityId>) -> Result<Vec<ImportRun>> {
        #[allow(clippy::type_complexity)]
        let rows: Vec<(
            i64,
            String,
            String,
            String,
            Option<String>,
            Option<String>,
            i64,
        )> = sqlx::query_as(
            "SELECT r.id, f.code, r.source, r.started_at, r.finished_at, r.totals, r.removed
                 FROM import_runs r JOIN facilities f ON f.id = r.facility_id
                 WHERE $1::bigint IS NULL OR r.facility_id = $1 ORDER BY r.id",
        )
        .bind(facility.map(|f| f.0))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.into_iter()
            .map(
                |(id, code, source, started_at, finished_at, totals, removed)| {
                    Ok(ImportRun {
                        id,
                        facility: parse_code(&code)?,
                        source,
                        started_at,
                        finished_at,
                        totals: totals.and_then(|t| parse_totals(&t)),
                        removed: removed as u64,
                    })
                },
            )
            .collect()
    }

    async fn stats(&self) -> Result<StoreStats> {
        let count = |sql: &'static str| async move {
            sqlx::query_scalar::<_, Option<i64>>(sql)
                .fetch_one(&self.pool)
                .await
                .map(|v| v.unwrap_or(0) as u64)
                .map_err(db_err)
        };
        let mut s = StoreStats {
            facilities: count("SELECT COUNT(*) FROM facilities").await?,
            files: count(
                "SELECT COUNT(*) FROM files f JOIN file_versions v ON v.id = f.current_version WHERE v.sha256 IS NOT NULL",
            )
            .await?,
            file_versions: count("SELECT COUNT(*) FROM file_versions").await?,
            records: count("SELECT COUNT(*) FROM records").await?,
            current_records: count(
                "SELECT COUNT(*) FROM records WHERE current",
            )
            .await?,
            quarantined: count("SELECT COUNT(*) FROM quarantine").await?,
            blobs: count("SELECT COUNT(*) FROM blobs").await?,
            raw_bytes: count("SELECT SUM(size)::bigint FROM blobs").await?,
            packed_bytes: count("SELECT SUM(size)::bigint FROM packs").await?,
            index_bytes: count("SELECT pg_database_size(current_database())").await?,
            records_per_kind: Default::default(),
        };
        let kinds: Vec<(String, i64)> =
            sqlx::query_as("SELECT kind, COUNT(*) FROM records GROUP BY kind ORDER BY kind")
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?;
        for (k, n) in kinds {
            s.records_per_kind.insert(k, n as u64);
        }
        Ok(s)
    }

    async fn patient_records(
        &self,
        facility: FacilityId,
        local_id: &str,
    ) -> Result<Vec<StoredRecord>> {
        #[allow(clippy::type_complexity)]
        let rows: Vec<(
            i64,
            String,
            String,
            String,
            String,
            String,
            String,
            String,
            i64,
            Option<String>,
            Vec<u8>,
        )> = sqlx::query_as(
            "SELECT r.version_id, f.path, r.storage, r.kind, r.date, r.order_no, r.written_at, r.department,
                    r.condition, r.message_type, v.sha256
             FROM records r JOIN files f ON f.id = r.file_id JOIN file_versions v ON v.id = r.version_id
             WHERE r.facility_id = $1 AND r.patient_id = $2 AND r.current
             ORDER BY r.date DESC, r.written_at DESC",
        )
        .bind(facility.0)
        .bind(local_id)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.into_iter()
            .map(
                |(
                    version_id,
                    path,
                    storage,
                    kind,
                    date,
                    order_no,
                    written_at,
                    department,
                    condition,
                    message_type,
                    sha,
                )| {
                    Ok(StoredRecord {
                        version_id,
                        path,
                        storage: storage_of(&storage),
                        kind,
                        date,
                        order_no,
                        written_at,
                        department,
                        condition: condition_of(condition),
                        message_type,
                        sha256: sha_from(sha)?,
                    })
                },
            )
            .collect()
    }

    async fn patient_records_page(
        &self,
        facility: FacilityId,
        local_id: &str,
        filter: &RecordFilter,
    ) -> Result<Vec<PagedRecord>> {
        viewer::patient_records_page(&self.pool, facility, local_id, filter).await
    }

    async fn record_version(&self, version_id: i64) -> Result<Option<RecordVersion>> {
        viewer::record_version(&self.pool, version_id).await
    }

    async fn order_versions(
        &self,
        facility: FacilityId,
        local_id: &str,
        kind: &str,
        order_no: &str,
    ) -> Result<Vec<RecordVersion>> {
        viewer::order_versions(&self.pool, facility, local_id, kind, order_no).await
    }

    async fn order_cancels(
        &self,
        facility: FacilityId,
        local_id: &str,
    ) -> Result<Vec<store::OrderCancel>> {
        viewer::order_cancels(&self.pool, facility, local_id).await
    }

    async fn search_local_patients(&self, search: &PatientSearch) -> Result<Vec<LocalPatientHit>> {
        viewer::search_local_patients(&self.pool, search).await
    }

    async fn lab_results(
        &self,
        facility: FacilityId,
        local_id: &str,
        filter: &LabFilter,
    ) -> Result<Vec<FactRow<LabFact>>> {
        facts::lab_results(&self.pool, facility, local_id, filter).await
    }

    async fn medications(
        &self,
        facility: FacilityId,
        local_id: &str,
        active_on: Option<&str>,
    ) -> Result<Vec<FactRow<MedicationFact>>> {
        facts::medications(&self.pool, facility, local_id, active_on).await
    }

    async fn diagnoses(
        &self,
        facility: FacilityId,
        local_id: &str,
    ) -> Result<Vec<FactRow<DiagnosisFact>>> {
        facts::diagnoses(&self.pool, facility, local_id).await
    }

    async fn allergies(
        &self,
        facility: FacilityId,
        local_id: &str,
    ) -> Result<Vec<FactRow<AllergyFact>>> {
        facts::allergies(&self.pool, facility, local_id).await
    }

    async fn encounters(
        &self,
        facility: FacilityId,
        local_id: &str,
    ) -> Result<Vec<FactRow<EncounterFact>>> {
        facts::encounters(&self.pool, facility, local_id).await
    }

    async fn order_fact_history(
        &self,
        facility: FacilityId,
        local_id: &str,
        kind: &str,
        order_no: &str,
    ) -> Result<Vec<HistoricFact>> {
        facts::order_fact_history(&self.pool, facility, local_id, kind, order_no).await
    }

    async fn facts_backfill_next(
        &self,
        limit: usize,
        kinds: &[&str],
        extended_messages: &[&str],
    ) -> Result<Vec<BackfillItem>> {
        let kinds: Vec<String> = kinds.iter().map(|k| (*k).to_owned()).collect();
        let messages: Vec<String> = extended_messages.iter().map(|k| (*k).to_owned()).collect();
        facts::backfill_next(&self.pool, limit, &kinds, &messages).await
    }

    async fn facts_rederive(&self, extractor: u32) -> Result<bool> {
        facts::rederive(&self.pool, extractor).await
    }

    async fn facts_backfill_put(
        &self,
        facts: Vec<BackfilledFacts>,
        done_through: i64,
    ) -> Result<()> {
        facts::backfill_put(&self.pool, &facts, done_through).await
    }

    async fn facility_overview(&self) -> Result<Vec<FacilityOverview>> {
        let rows: Vec<(String, i64, i64, i64, Option<String>)> = sqlx::query_as(
            "SELECT fa.code,
                (SELECT COUNT(*) FROM files f JOIN file_versions v ON v.id = f.current_version
                  WHERE f.facility_id = fa.id AND v.sha256 IS NOT NULL),
                (SELECT COUNT(*) FROM records r WHERE r.facility_id = fa.id AND r.current),
                (SELECT COUNT(*) FROM quarantine q JOIN files f ON f.current_version = q.version_id
                  WHERE q.facility_id = fa.id),
                (SELECT MAX(finished_at) FROM import_runs WHERE facility_id = fa.id)
             FROM facilities fa ORDER BY fa.code",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.into_iter()
            .map(|(code, files, records, quarantined, last_import)| {
                Ok(FacilityOverview {
                    code: parse_code(&code)?,
                    files: files as u64,
                    records: records as u64,
                    quarantined: quarantined as u64,
                    last_import,
                })
            })
            .collect()
    }

    async fn content_digest(&self, facility: FacilityId) -> Result<String> {
        use futures::TryStreamExt;
        use sha2::Digest;
        use sqlx::Row;
        use store::DigestValue;
        let mut hasher = sha2::Sha256::new();
        // Streamed: a facility's whole history does not have to fit in memory.
        let mut rows = sqlx::query(
            "SELECT f.path, v.sha256, (v.id = f.current_version)::int::int8 AS live, r.storage, r.patient_id, r.date,
                    r.kind, r.order_no, r.written_at, r.department, r.condition, r.message_type, r.encoding,
                    q.reason, q.line
             FROM files f JOIN file_versions v ON v.file_id = f.id
             LEFT JOIN records r ON r.version_id = v.id AND r.facility_id = f.facility_id
             LEFT JOIN quarantine q ON q.version_id = v.id
             WHERE f.facility_id = $1 ORDER BY f.path, v.id",
        )
        .bind(facility.0)
        .fetch(&self.pool);
        while let Some(r) = rows.try_next().await.map_err(db_err)? {
            let text = |i: usize| -> Result<DigestValue> {
                Ok(r.try_get::<Option<String>, _>(i)
                    .map_err(db_err)?
                    .map_or(DigestValue::Null, DigestValue::Text))
            };
            let int = |i: usize| -> Result<DigestValue> {
                Ok(r.try_get::<Option<i64>, _>(i)
                    .map_err(db_err)?
                    .map_or(DigestValue::Null, DigestValue::Int))
            };
            let bytes = r
                .try_get::<Option<Vec<u8>>, _>(1)
                .map_err(db_err)?
                .map_or(DigestValue::Null, DigestValue::Bytes);
            let fields = [
                text(0)?,
                bytes,
                int(2)?,
                text(3)?,
                text(4)?,
                text(5)?,
                text(6)?,
                text(7)?,
                text(8)?,
                text(9)?,
                int(10)?,
                text(11)?,
                text(12)?,
                text(13)?,
                int(14)?,
            ];
            for f in &fields {
                f.feed(&mut hasher);
            }
            hasher.update(b"\n");
        }
        Ok(store::packs::hex(&hasher.finalize()))
    }
}

pub(crate) fn parse_code(code: &str) -> Result<FacilityCode> {
    FacilityCode::parse(code).map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub(crate) fn storage_of(s: &str) -> store::StorageKind {
    if s == "E" {
        store::StorageKind::Extended
    } else {
        store::StorageKind::Standard
    }
}

pub(crate) fn condition_of(c: i64) -> ssmix2::Condition {
    match c {
        0 => ssmix2::Condition::Deleted,
        2 => ssmix2::Condition::Superseded,
        _ => ssmix2::Condition::Current,
    }
}

pub(crate) fn condition_code(c: ssmix2::Condition) -> i64 {
    match c {
        ssmix2::Condition::Deleted => 0,
        ssmix2::Condition::Current => 1,
        ssmix2::Condition::Superseded => 2,
    }
}

/// Run totals as JSON (the embedded store's format, so `renkei migrate` copies them as is).
fn totals_json(t: &ImportTotals) -> String {
    serde_json::to_string(t).unwrap_or_default()
}

fn parse_totals(s: &str) -> Option<ImportTotals> {
    serde_json::from_str(s).ok()
}
