//! The facility agent's side of the network: the server half of the upload protocol
//! (`upload` crate). Only a facility system (its API key) may call these, and only for its
//! own facility; a facility that has left the network may not. Every call is audited (no
//! patient data: counts only).
//!
//! Files are classified exactly as `renkei import` does ([`ingest::ingest_file`]), so a tree
//! sent by the agent and the same tree imported from disk give the same store content.
//!
//! Run totals (what `renkei import`'s run summary shows) are counted in memory per run and
//! written when the run finishes. After a server restart an unfinished run is picked up again
//! from the store, with the totals of the batches received since the restart only; the files
//! themselves are all stored.
//!
//! Check and batch look up only the paths they carry (`Store::current_hashes_of`), so a
//! call costs the same at a clinic and at a hospital with millions of files.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use model::{FacilityStatus, Sha256};
use store::{FacilityId, FileOutcome, ImportRunId, ImportTotals, IngestFile};
use upload::{
    BatchAnswer, CheckAnswer, CheckRequest, FinishRun, Quarantined, RunFinished, RunStarted,
    StartRun, MAX_CHECK,
};

use crate::{Network, Principal, Result, ServiceError};

/// Runs of agents in progress: run id → (facility, totals so far).
#[derive(Default)]
pub(crate) struct AgentRuns {
    runs: Mutex<HashMap<i64, (FacilityId, ImportTotals)>>,
}

impl AgentRuns {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, (FacilityId, ImportTotals)>> {
        // A panic while holding the lock leaves counters only; keep going.
        self.runs.lock().unwrap_or_else(|p| p.into_inner())
    }
}

pub(crate) type SharedAgentRuns = Arc<AgentRuns>;

fn invalid(e: impl std::fmt::Display) -> ServiceError {
    ServiceError::Invalid(e.to_string())
}

impl Network {
    /// The facility (store id) of an agent's principal; anybody else is refused (audited).
    async fn agent_facility(
        &self,
        principal: &Principal,
        target: &str,
    ) -> Result<(FacilityId, model::Facility)> {
        let refuse = |code: &str, reason: &str| {
            let mut e = self.event(principal, audit::Action::Import);
            e.target = target.to_owned();
            e.outcome = audit::Outcome::Refused {
                code: code.into(),
                reason: reason.into(),
            };
            (e, ServiceError::Forbidden(reason.into()))
        };
        let facility = match principal {
            Principal::FacilitySystem { facility, .. } => facility.clone(),
            Principal::User { .. } => {
                let (e, err) = refuse(
                    "not_facility_system",
                    "施設のAPIキーが必要です (this needs the facility's API key)",
                );
                self.audit(e).await?;
                return Err(err);
            }
        };
        if facility.status == FacilityStatus::Left {
            let (e, err) = refuse(
                "facility_left",
                "脱退した施設です (the facility has left the network)",
            );
            self.audit(e).await?;
            return Err(err);
        }
        let id = self
            .store
            .facility(&facility.code, true)
            .await?
            .ok_or_else(|| {
                ServiceError::Internal(format!("facility {} not created", facility.code))
            })?;
        Ok((id, facility))
    }

    /// The run `run`, which must be an unfinished run of `facility` (else not found).
    async fn agent_run(&self, facility: FacilityId, run: i64) -> Result<()> {
        if matches!(self.agent_runs.lock().get(&run), Some((f, _)) if *f == facility) {
            return Ok(());
        }
        // Not in memory: another facility's run, an unknown one, or one started before a
        // restart of the server.
        let not_found = || ServiceError::NotFound(format!("run {run} not found"));
        let runs = self.store.import_runs(Some(facility)).await?;
        let found = runs.iter().find(|r| r.id == run).ok_or_else(not_found)?;
        if found.finished_at.is_some() {
            return Err(ServiceError::Conflict(format!(
                "run {run} is already finished"
            )));
        }
        self.agent_runs
            .lock()
            .entry(run)
            .or_insert_with(|| (facility, ImportTotals::default()));
        Ok(())
    }

    /// Start an import run for the agent's facility.
    pub async fn agent_start_run(
        &self,
        principal: &Principal,
        req: &StartRun,
    ) -> Result<RunStarted> {
        let (fid, facility) = self.agent_facility(principal, "agent run").await?;
        let agent: String = req
            .agent
            .chars()
            .filter(|c| !c.is_control())
            .take(200)
            .collect();
        let run = self
            .store
            .begin_import(fid, &format!("agent:{agent}"))
            .await?;
        self.agent_runs
            .lock()
            .insert(run.0, (fid, ImportTotals::default()));
        let mut e = self.event(principal, audit::Action::Import);
        e.target = facility.code.to_string();
        e.detail = format!(
            "agent run {} started ({}{})",
            run.0,
            agent,
            if req.full_scan { ", full scan" } else { "" }
        );
        self.audit(e).await?;
        Ok(RunStarted {
            run_id: run.0,
            facility: facility.code.to_string(),
        })
    }

    /// Which of these files the server does not hold as current (absent or other content).
    pub async fn agent_check(
        &self,
        principal: &Principal,
        req: &CheckRequest,
    ) -> Result<CheckAnswer> {
        let (fid, _) = self.agent_facility(principal, "agent check").await?;
        if req.files.len() > MAX_CHECK {
            return Err(ServiceError::Invalid(format!(
                "at most {MAX_CHECK} files per check, got {}",
                req.files.len()
            )));
        }
        for f in &req.files {
            upload::check_path(&f.path).map_err(invalid)?;
        }
        let paths: Vec<String> = req.files.iter().map(|f| f.path.clone()).collect();
        let current = self.store.current_hashes_of(fid, &paths).await?;
        let missing = req
            .files
            .iter()
            .filter(|f| {
                current.get(&f.path).map(Sha256::to_hex).as_deref()
                    != Some(f.sha256.to_ascii_lowercase().as_str())
            })
            .map(|f| f.path.clone())
            .collect();
        Ok(CheckAnswer { missing })
    }

    /// Check, classify and store one batch (the body as sent). Any bad entry refuses the
    /// whole batch before anything is stored.
    pub async fn agent_store_batch(
        &self,
        principal: &Principal,
        run: i64,
        body: Vec<u8>,
    ) -> Result<BatchAnswer> {
        let (fid, facility) = self.agent_facility(principal, "agent batch").await?;
        self.agent_run(fid, run).await?;
        // Hashing and classifying are CPU work: off the async threads.
        let batch =
            tokio::task::spawn_blocking(move || upload::decode_batch(&body).map_err(invalid))
                .await
                .map_err(|e| ServiceError::Internal(format!("batch decoding stopped: {e}")))??;
        let paths: Vec<String> = batch.iter().map(|f| f.path.clone()).collect();
        let current = self.store.current_hashes_of(fid, &paths).await?;
        let (received, files) =
            tokio::task::spawn_blocking(move || -> Result<(u64, Vec<IngestFile>)> {
                let received = batch.len() as u64;
                let options = ingest::ClassifyOptions::default();
                let files = batch
                    .into_iter()
                    .filter_map(|f| {
                        // decode_batch hands the hash it computed: always valid hex.
                        let sha = Sha256::from_hex(&f.sha256)
                            .unwrap_or_else(|| store::packs::sha256(&f.bytes));
                        (current.get(&f.path) != Some(&sha))
                            .then(|| ingest::ingest_file(&f.path, f.bytes, sha, &options))
                    })
                    .collect();
                Ok((received, files))
            })
            .await
            .map_err(|e| ServiceError::Internal(format!("batch classification stopped: {e}")))??;

        let mut answer = BatchAnswer {
            received,
            already_current: received - files.len() as u64,
            ..Default::default()
        };
        let mut totals = ImportTotals {
            files_seen: received,
            duplicates: answer.already_current,
            ..Default::default()
        };
        for f in &files {
            match &f.outcome {
                FileOutcome::Record(r) => {
                    *totals.messages_per_kind.entry(r.kind.clone()).or_default() += 1
                }
                FileOutcome::Quarantined { reason, .. } => {
                    totals.quarantined += 1;
                    answer.quarantined.push(Quarantined {
                        path: f.path.clone(),
                        reason: reason.clone(),
                    });
                }
            }
            totals.notices += f.notices.len() as u64;
        }
        if !files.is_empty() {
            let out = self.store.write_batch(fid, ImportRunId(run), files).await?;
            answer.stored = out.versions;
            totals.files_new = out.versions;
        }
        if let Some((_, t)) = self.agent_runs.lock().get_mut(&run) {
            add_totals(t, &totals);
        }
        let mut e = self.event(principal, audit::Action::Import);
        e.target = facility.code.to_string();
        e.detail = format!(
            "agent batch: {} files, {} stored (run {run})",
            answer.received, answer.stored
        );
        self.audit(e).await?;
        Ok(answer)
    }

    /// Close the run; `removed` paths (deleted from the tree) are marked removed.
    pub async fn agent_finish_run(
        &self,
        principal: &Principal,
        run: i64,
        req: &FinishRun,
    ) -> Result<RunFinished> {
        let (fid, facility) = self.agent_facility(principal, "agent finish").await?;
        for p in &req.removed {
            upload::check_path(p).map_err(invalid)?;
        }
        self.agent_run(fid, run).await?;
        let totals = self
            .agent_runs
            .lock()
            .get(&run)
            .map(|(_, t)| t.clone())
            .unwrap_or_default();
        let seen = if req.removed.is_empty() {
            None
        } else {
            let gone: HashSet<&str> = req.removed.iter().map(String::as_str).collect();
            Some(
                self.store
                    .current_hashes(fid)
                    .await?
                    .into_keys()
                    .filter(|p| !gone.contains(p.as_str()))
                    .collect::<HashSet<String>>(),
            )
        };
        let removed = self
            .store
            .finish_import(fid, ImportRunId(run), &totals, seen.as_ref())
            .await?;
        self.agent_runs.lock().remove(&run);
        let mut e = self.event(principal, audit::Action::Import);
        e.target = facility.code.to_string();
        e.detail = format!(
            "agent run {run} finished: {} files, {} stored, {removed} removed",
            totals.files_seen, totals.files_new
        );
        self.audit(e).await?;
        Ok(RunFinished { removed })
    }
}

fn add_totals(into: &mut ImportTotals, add: &ImportTotals) {
    into.files_seen += add.files_seen;
    into.files_new += add.files_new;
    into.duplicates += add.duplicates;
    into.quarantined += add.quarantined;
    into.notices += add.notices;
    for (k, n) in &add.messages_per_kind {
        *into.messages_per_kind.entry(k.clone()).or_default() += n;
    }
}
