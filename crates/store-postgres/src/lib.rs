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

// Stubs are being filled in module by module.
#![allow(unused_variables, unused_imports, dead_code)]

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
        Ok(PgStore { pool, blobs })
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
        unimplemented!("facility")
    }

    async fn facilities(&self) -> Result<Vec<(FacilityId, FacilityCode)>> {
        unimplemented!("facilities")
    }

    async fn begin_import(&self, facility: FacilityId, source: &str) -> Result<ImportRunId> {
        unimplemented!("begin_import")
    }

    async fn current_hashes(&self, facility: FacilityId) -> Result<HashMap<String, Sha256>> {
        unimplemented!("current_hashes")
    }

    async fn current_hashes_of(
        &self,
        facility: FacilityId,
        paths: &[String],
    ) -> Result<HashMap<String, Sha256>> {
        unimplemented!("current_hashes_of")
    }

    async fn write_batch(
        &self,
        facility: FacilityId,
        run: ImportRunId,
        files: Vec<IngestFile>,
    ) -> Result<BatchOutcome> {
        unimplemented!("write_batch")
    }

    async fn save_run_totals(&self, run: ImportRunId, totals: &ImportTotals) -> Result<()> {
        unimplemented!("save_run_totals")
    }

    async fn finish_import(
        &self,
        facility: FacilityId,
        run: ImportRunId,
        totals: &ImportTotals,
        seen: Option<&HashSet<String>>,
    ) -> Result<u64> {
        unimplemented!("finish_import")
    }

    async fn current_files(&self, facility: FacilityId) -> Result<Vec<StoredFile>> {
        unimplemented!("current_files")
    }

    async fn read_blobs(&self, hashes: &[Sha256]) -> Result<Vec<Vec<u8>>> {
        unimplemented!("read_blobs")
    }

    async fn quarantine(&self, facility: FacilityId) -> Result<Vec<QuarantineEntry>> {
        unimplemented!("quarantine")
    }

    async fn import_runs(&self, facility: Option<FacilityId>) -> Result<Vec<ImportRun>> {
        unimplemented!("import_runs")
    }

    async fn stats(&self) -> Result<StoreStats> {
        unimplemented!("stats")
    }

    async fn patient_records(
        &self,
        facility: FacilityId,
        local_id: &str,
    ) -> Result<Vec<StoredRecord>> {
        unimplemented!("patient_records")
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

    async fn facts_backfill_next(&self, limit: usize) -> Result<Vec<BackfillItem>> {
        facts::backfill_next(&self.pool, limit).await
    }

    async fn facts_backfill_put(
        &self,
        facts: Vec<BackfilledFacts>,
        done_through: i64,
    ) -> Result<()> {
        facts::backfill_put(&self.pool, &facts, done_through).await
    }

    async fn facility_overview(&self) -> Result<Vec<FacilityOverview>> {
        unimplemented!("facility_overview")
    }

    async fn content_digest(&self, facility: FacilityId) -> Result<String> {
        unimplemented!("content_digest")
    }
}
