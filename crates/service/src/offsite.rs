//! Off-site copies (遠隔地バックアップ): shipping to the sites, applying on a replica,
//! promotion, restore of a facility's tree and checks of every copy.
//!
//! A primary ships the store's three streams ([`store::Feed`]) to each site. A replica takes
//! them through [`Network::apply_shipment`]: registry rows and audit entries as they are, raw
//! files through the same ingest as the primary (so records and facts are derived, not
//! copied), each version keeping the primary's `recorded_at` so that `--as-of` answers the
//! same at every site.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use model::{FacilityCode, Sha256};
use replication::remote::{Applied, RemoteSite, ReplicaStatus};
use replication::s3::{ContentSource, PackSource, S3Site, SiteReport};
use replication::{SiteConfig, SiteKind};
use store::{
    Backlog, BlobReport, FacilityId, Feed, FeedCursor, FileOutcome, ImportTotals, IngestFile,
    NodeRole, SiteState, StoredFile,
};

use crate::{Network, Result, ServiceError};

/// Items of each stream per shipment: a few MB of SS-MIX2 files.
pub const SHIPMENT_ITEMS: usize = 2000;

/// One configured remote site.
pub enum Site {
    Replica(RemoteSite),
    /// Boxed: the S3 client is large and sites live in a list.
    Bucket(Box<S3Site>),
}

impl Site {
    pub fn from_config(cfg: &SiteConfig) -> Result<Site> {
        let site = match cfg.kind {
            // A site that cannot be set up is a configuration mistake: say so as such.
            Some(SiteKind::Renkei) => Site::Replica(RemoteSite::new(cfg).map_err(config_err)?),
            Some(SiteKind::S3) => Site::Bucket(Box::new(S3Site::new(cfg).map_err(config_err)?)),
            None => {
                return Err(ServiceError::Invalid(format!(
                    "site {}: `kind` must be \"renkei\" or \"s3\"",
                    cfg.name
                )))
            }
        };
        Ok(site)
    }

    pub fn name(&self) -> &str {
        match self {
            Site::Replica(r) => r.name(),
            Site::Bucket(b) => b.name(),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Site::Replica(_) => "renkei",
            Site::Bucket(_) => "s3",
        }
    }
}

fn config_err(e: replication::SiteError) -> ServiceError {
    ServiceError::Invalid(e.to_string())
}

fn site_err(e: replication::SiteError) -> ServiceError {
    match e {
        replication::SiteError::Store(s) => s.into(),
        other => ServiceError::Internal(other.to_string()),
    }
}

/// What one round of shipping to a site did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ShipReport {
    pub shipments: u64,
    pub versions: u64,
    pub registry_changes: u64,
    pub audit_entries: u64,
    pub bytes: u64,
}

/// A site as the office sees it: how far behind it is.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SiteOverview {
    pub name: String,
    pub kind: String,
    pub state: SiteState,
    pub backlog: Backlog,
    /// Seconds between the oldest version not yet at the site and now (0 when caught up).
    pub lag_seconds: u64,
}

/// A restored tree.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RestoreReport {
    pub files: u64,
    pub bytes: u64,
    pub as_of: Option<String>,
}

/// Where `renkei restore` reads from.
pub enum RestoreSource<'a> {
    /// This data folder.
    Local,
    Site(&'a Site),
}

/// One site's check.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SiteCheck {
    pub site: String,
    pub checked_objects: u64,
    pub checked_bytes: u64,
    /// Human-readable problems (missing/corrupt packs or objects, with what they hold).
    pub problems: Vec<String>,
    /// Damage that puts nothing at stake (an S3 pack whose every content is intact in another
    /// pack, after a relocation): shown to the operator, not a problem.
    pub notes: Vec<String>,
    pub repaired: Vec<String>,
    pub unrepaired: Vec<String>,
}

fn seconds_since(rfc3339: &str) -> u64 {
    model::UnixTime::parse_rfc3339(rfc3339)
        .map(|t| (model::UnixTime::now().0 - t.0).max(0) as u64)
        .unwrap_or(0)
}

/// Check an `--as-of` value and turn it into the stored time form.
pub fn as_of(text: &str) -> Result<String> {
    model::UnixTime::parse_as_of(text)
        .map(|t| t.rfc3339())
        .ok_or_else(|| {
            ServiceError::Invalid(format!(
                "--as-of {text:?}: expected 2026-11-25, 2026-11-25 14:00 (Japan time) or 2026-11-25T05:00:00Z"
            ))
        })
}

impl Network {
    pub async fn node_role(&self) -> Result<NodeRole> {
        Ok(self.store.node_role().await?)
    }

    /// Make an empty data folder a replica (`serve --replica`); a replica stays one.
    pub async fn become_replica(&self) -> Result<()> {
        match self.store.node_role().await? {
            NodeRole::Replica { .. } => Ok(()),
            NodeRole::Primary => {
                if !self.store.facilities().await?.is_empty()
                    || self.store.audit_head().await?.is_some()
                {
                    return Err(ServiceError::Conflict(
                        "this data folder already holds a network (it is a primary); a replica starts from an empty folder".into(),
                    ));
                }
                self.store
                    .set_node_role(&NodeRole::Replica {
                        applied: FeedCursor::default(),
                        applied_at: None,
                    })
                    .await?;
                Ok(())
            }
        }
    }

    /// `renkei promote`: this replica becomes the primary. What was applied stays; nothing
    /// more is accepted from the old primary.
    pub async fn promote(&self, actor: &str) -> Result<FeedCursor> {
        let NodeRole::Replica { applied, .. } = self.store.node_role().await? else {
            return Err(ServiceError::Conflict(
                "this data folder is already a primary".into(),
            ));
        };
        self.become_primary(
            actor,
            format!(
                "promoted to primary (replicated through registry {}, audit {}, version {})",
                applied.registry, applied.audit, applied.version
            ),
        )
        .await?;
        Ok(applied)
    }

    /// This copy serves as the primary from now on; the audit entry says how it became one.
    pub(crate) async fn become_primary(&self, actor: &str, how: String) -> Result<()> {
        self.store.set_node_role(&NodeRole::Primary).await?;
        let mut e = audit::Event::new(
            model::UnixTime::now(),
            actor.to_owned(),
            audit::Action::FacilityChange,
        );
        e.target = how;
        self.store.append_audit(vec![e]).await?;
        Ok(())
    }

    pub async fn replica_status(&self) -> Result<ReplicaStatus> {
        Ok(ReplicaStatus {
            role: self.store.node_role().await?,
            renkei_version: env!("CARGO_PKG_VERSION").to_owned(),
            audit_head: self
                .store
                .audit_head()
                .await?
                .map(|(seq, hash)| audit::Head { seq, hash }),
        })
    }

    /// The newest audit entry `site` holds — its copy of this network's chain, shipped with
    /// every round — as a reference for [`Network::audit_verify_against`].
    pub async fn site_audit_head(&self, site: &Site) -> Result<crate::HeadReference> {
        let head = match site {
            Site::Replica(r) => r.status().await.map_err(site_err)?.audit_head,
            Site::Bucket(b) => b.audit_head().await.map_err(site_err)?,
        };
        Ok(crate::HeadReference {
            source: format!("site {}", site.name()),
            head,
        })
    }

    /// Ship everything the site lacks, `SHIPMENT_ITEMS` at a time, recording the outcome in
    /// the site's state (what the lag figure is computed from). Stops at the first failure.
    pub async fn ship_to(&self, site: &Site) -> Result<ShipReport> {
        let mut state = self.store.site_state(site.name()).await?;
        let mut report = ShipReport::default();
        let result = self.ship_rounds(site, &mut state, &mut report).await;
        let now = model::UnixTime::now().rfc3339();
        match &result {
            Ok(()) => {
                state.last_ok_at = Some(now);
                state.last_error = None;
            }
            Err(e) => {
                state.last_error = Some(e.to_string());
                state.last_error_at = Some(now);
            }
        }
        self.store.put_site_state(&state).await?;
        result.map(|()| report)
    }

    async fn ship_rounds(
        &self,
        site: &Site,
        state: &mut SiteState,
        report: &mut ShipReport,
    ) -> Result<()> {
        if let Site::Replica(r) = site {
            // The replica knows best how far it is; and shipping to a server that is not a
            // replica (an old primary come back) would be split brain.
            match r.status().await.map_err(site_err)?.role {
                NodeRole::Replica { applied, .. } => state.cursor = applied,
                NodeRole::Primary => {
                    return Err(ServiceError::Conflict(format!(
                        "site {} is a primary, not a replica: not shipping to it",
                        r.name()
                    )))
                }
            }
        }
        loop {
            let feed = self.store.feed(&state.cursor, SHIPMENT_ITEMS).await?;
            if feed.is_empty() {
                return Ok(());
            }
            let versions = feed.versions.len() as u64;
            match site {
                Site::Replica(r) => {
                    let contents = self.contents_of(&feed).await?;
                    let body = replication::wire::encode(&feed, &contents).map_err(site_err)?;
                    report.bytes += body.len() as u64;
                    let applied = r.ship(body).await.map_err(site_err)?;
                    if applied.applied == state.cursor {
                        return Err(ServiceError::Internal(format!(
                            "site {} applied nothing of a shipment",
                            r.name()
                        )));
                    }
                    state.cursor = applied.applied;
                }
                Site::Bucket(b) => {
                    let out = b
                        .ship(&feed, &StorePacks(self.store.clone()))
                        .await
                        .map_err(site_err)?;
                    report.bytes += out.bytes_uploaded;
                    state.cursor = feed.next;
                }
            }
            state.shipped_versions += versions;
            report.shipments += 1;
            report.versions += versions;
            report.registry_changes += feed.registry.len() as u64;
            report.audit_entries += feed.audit.len() as u64;
            // Progress survives a crash of the primary between shipments.
            self.store.put_site_state(state).await?;
        }
    }

    /// This store's streams after `after` and the contents of their versions (what a
    /// network is rebuilt from when this copy is the last one left).
    pub async fn feed_with_contents(
        &self,
        after: &FeedCursor,
        limit: usize,
    ) -> Result<(Feed, HashMap<Sha256, Vec<u8>>)> {
        let feed = self.store.feed(after, limit).await?;
        let contents = self.contents_of(&feed).await?;
        Ok((feed, contents))
    }

    pub(crate) async fn contents_of(&self, feed: &Feed) -> Result<HashMap<Sha256, Vec<u8>>> {
        let mut shas: Vec<Sha256> = feed.versions.iter().filter_map(|v| v.sha256).collect();
        shas.sort();
        shas.dedup();
        let bytes = self.store.read_blobs(&shas).await?;
        Ok(shas.into_iter().zip(bytes).collect())
    }

    /// Each site's state and lag.
    pub async fn site_overview(&self, sites: &[Site]) -> Result<Vec<SiteOverview>> {
        let mut out = Vec::new();
        for site in sites {
            let state = self.store.site_state(site.name()).await?;
            let backlog = self.store.backlog(&state.cursor).await?;
            let lag_seconds = backlog
                .oldest_version_at
                .as_deref()
                .map(seconds_since)
                .unwrap_or(0);
            out.push(SiteOverview {
                name: site.name().to_owned(),
                kind: site.kind().to_owned(),
                state,
                backlog,
                lag_seconds,
            });
        }
        Ok(out)
    }

    /// Apply one shipment from the primary (replica only), skipping what is already here.
    pub async fn apply_shipment(
        &self,
        feed: Feed,
        contents: HashMap<Sha256, Vec<u8>>,
    ) -> Result<Applied> {
        let _one_at_a_time = self.apply_lock.lock().await;
        let NodeRole::Replica { applied, .. } = self.store.node_role().await? else {
            return Err(ServiceError::Conflict(
                "this server is a primary: it does not accept shipments".into(),
            ));
        };
        let changes: Vec<_> = feed
            .registry
            .iter()
            .filter(|c| c.seq > applied.registry)
            .cloned()
            .collect();
        self.store.apply_registry(&changes).await?;
        let entries: Vec<_> = feed
            .audit
            .iter()
            .filter(|e| e.seq > applied.audit)
            .cloned()
            .collect();
        self.store.apply_audit(&entries).await?;
        let versions: Vec<store::FeedVersion> = feed
            .versions
            .iter()
            .filter(|v| v.id > applied.version)
            .cloned()
            .collect();
        // Classifying is CPU work (decode, parse, facts): off the async threads, on every core.
        let (versions, mut classified) =
            tokio::task::spawn_blocking(move || classify_versions(versions, contents))
                .await
                .map_err(|e| {
                    ServiceError::Internal(format!("classifying a shipment stopped: {e}"))
                })??;
        let mut i = 0;
        while i < versions.len() {
            // A run of consecutive versions of one facility is one import run here.
            let code = &versions[i].facility;
            let end = versions[i..]
                .iter()
                .position(|v| &v.facility != code)
                .map_or(versions.len(), |n| i + n);
            let facility = self.replicated_facility(code).await?;
            let run = self.store.begin_import(facility, "replication").await?;
            let mut totals = ImportTotals::default();
            let mut batch: Vec<IngestFile> = Vec::new();
            let mut batch_paths: HashSet<String> = HashSet::new();
            for (v, file) in versions[i..end].iter().zip(classified[i..end].iter_mut()) {
                // One version per path per store batch; a removal between contents keeps its place.
                if batch_paths.contains(&v.path) || v.sha256.is_none() {
                    self.flush(facility, run, &mut batch, &mut totals).await?;
                    batch_paths.clear();
                }
                match file.take() {
                    None => {
                        self.store
                            .apply_removals(
                                facility,
                                run,
                                &[(v.path.clone(), v.recorded_at.clone())],
                            )
                            .await?;
                    }
                    Some(file) => {
                        totals.files_seen += 1;
                        batch_paths.insert(v.path.clone());
                        batch.push(file);
                    }
                }
            }
            self.flush(facility, run, &mut batch, &mut totals).await?;
            self.store
                .finish_import(facility, run, &totals, None)
                .await?;
            i = end;
        }
        let next = FeedCursor {
            registry: feed.next.registry.max(applied.registry),
            audit: feed.next.audit.max(applied.audit),
            version: feed.next.version.max(applied.version),
        };
        self.store
            .set_node_role(&NodeRole::Replica {
                applied: next,
                applied_at: Some(model::UnixTime::now().rfc3339()),
            })
            .await?;
        Ok(Applied {
            applied: next,
            versions: versions.len() as u64,
        })
    }

    async fn replicated_facility(&self, code: &FacilityCode) -> Result<FacilityId> {
        self.store.facility(code, false).await?.ok_or_else(|| {
            ServiceError::Invalid(format!(
                "a version of facility {code} arrived before the facility itself"
            ))
        })
    }

    async fn flush(
        &self,
        facility: FacilityId,
        run: store::ImportRunId,
        batch: &mut Vec<IngestFile>,
        totals: &mut ImportTotals,
    ) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        for f in batch.iter() {
            match &f.outcome {
                FileOutcome::Record(r) => {
                    *totals.messages_per_kind.entry(r.kind.clone()).or_default() += 1
                }
                FileOutcome::Quarantined { .. } => totals.quarantined += 1,
            }
        }
        let out = self
            .store
            .write_batch(facility, run, std::mem::take(batch))
            .await?;
        totals.files_new += out.versions;
        Ok(())
    }

    /// The facility's tree at `as_of` as this store holds it.
    pub async fn tree_as_of(
        &self,
        code: &FacilityCode,
        as_of: Option<&str>,
    ) -> Result<Vec<StoredFile>> {
        let Some(facility) = self.store.facility(code, false).await? else {
            return Err(ServiceError::NotFound(format!(
                "facility {code} has no data here"
            )));
        };
        if let (Some(t), Some(oldest)) = (as_of, self.store.oldest_version_at().await?) {
            if t < oldest.as_str() {
                return Err(ServiceError::Invalid(format!(
                    "--as-of {t} is before the oldest version kept here ({oldest})"
                )));
            }
        }
        Ok(self.store.files_as_of(facility, as_of).await?)
    }

    /// A replication-token read of raw files served to another machine (a restore or repair
    /// there). It bypasses the clinician gate — it moves whole trees, not a patient's record —
    /// so it is audited here, where it can be: on a primary (a replica's chain is the
    /// primary's copy and takes no entries of its own).
    pub async fn audit_replication_read(&self, what: String) -> Result<()> {
        if matches!(self.store.node_role().await?, NodeRole::Primary) {
            let mut e = audit::Event::new(
                model::UnixTime::now(),
                "replication-token".to_owned(),
                audit::Action::Export,
            );
            e.target = what;
            self.store.append_audit(vec![e]).await?;
        }
        Ok(())
    }

    /// Contents by hash from this store, skipping ones it does not hold.
    pub async fn contents_by_sha(&self, shas: &[Sha256]) -> Result<HashMap<Sha256, Vec<u8>>> {
        // One read for all (each frame decompressed once); only when some content is missing
        // or damaged here, one by one to keep the rest.
        if let Ok(all) = self.store.read_blobs(shas).await {
            return Ok(shas.iter().copied().zip(all).collect());
        }
        let mut out = HashMap::new();
        for sha in shas {
            if let Ok(mut b) = self.store.read_blobs(std::slice::from_ref(sha)).await {
                if let Some(bytes) = b.pop() {
                    out.insert(*sha, bytes);
                }
            }
        }
        Ok(out)
    }

    /// `renkei restore`: write the facility's tree (at `as_of`) into `to`, byte for byte.
    /// `to` must be new or empty, so a restore never mixes with other files.
    pub async fn restore_facility(
        &self,
        code: &FacilityCode,
        to: &Path,
        as_of: Option<&str>,
        source: RestoreSource<'_>,
        actor: &str,
    ) -> Result<RestoreReport> {
        if to.exists()
            && std::fs::read_dir(to)
                .map_err(|e| ServiceError::Invalid(format!("{}: {e}", to.display())))?
                .next()
                .is_some()
        {
            return Err(ServiceError::Invalid(format!(
                "{} is not empty: restore into a new or empty folder",
                to.display()
            )));
        }
        let mut report = RestoreReport {
            as_of: as_of.map(str::to_owned),
            ..RestoreReport::default()
        };
        const CHUNK: usize = 2000;
        match source {
            RestoreSource::Local => {
                let files = self.tree_as_of(code, as_of).await?;
                for chunk in files.chunks(CHUNK) {
                    let shas: Vec<Sha256> = chunk.iter().map(|f| f.sha256).collect();
                    let bytes = self.store.read_blobs(&shas).await?;
                    for (f, b) in chunk.iter().zip(bytes) {
                        write_file(to, &f.path, &b, &mut report)?;
                    }
                }
            }
            RestoreSource::Site(Site::Replica(r)) => {
                let files = r.tree(code, as_of).await.map_err(site_err)?;
                for chunk in files.chunks(CHUNK) {
                    let shas: Vec<Sha256> = chunk.iter().map(|f| f.sha256).collect();
                    let got = r.contents(&shas).await.map_err(site_err)?;
                    for f in chunk {
                        let b = got.get(&f.sha256).ok_or_else(|| {
                            ServiceError::Internal(format!(
                                "site {} does not hold the content of {}",
                                r.name(),
                                f.path
                            ))
                        })?;
                        write_file(to, &f.path, b, &mut report)?;
                    }
                }
            }
            RestoreSource::Site(Site::Bucket(b)) => {
                let files = b.tree_as_of(code, as_of).await.map_err(site_err)?;
                if files.is_empty() {
                    return Err(ServiceError::NotFound(format!(
                        "site {} holds no files of facility {code}{}",
                        b.name(),
                        as_of.map(|t| format!(" as of {t}")).unwrap_or_default()
                    )));
                }
                for chunk in files.chunks(CHUNK) {
                    let bytes = b.read_contents(chunk).await.map_err(site_err)?;
                    for (f, data) in chunk.iter().zip(bytes) {
                        write_file(to, &f.path, &data, &mut report)?;
                    }
                }
            }
        }
        if matches!(self.store.node_role().await?, NodeRole::Primary) {
            let mut e = audit::Event::new(
                model::UnixTime::now(),
                actor.to_owned(),
                audit::Action::Export,
            );
            e.target = format!(
                "restore of facility {code}{}: {} files",
                as_of.map(|t| format!(" as of {t}")).unwrap_or_default(),
                report.files
            );
            self.store.append_audit(vec![e]).await?;
        }
        Ok(report)
    }

    /// Store good copies of damaged contents (sent by the primary to a replica).
    pub async fn repack(&self, contents: Vec<(Sha256, Vec<u8>)>) -> Result<u64> {
        Ok(self.store.repack_contents(contents).await?)
    }

    /// Check this store's packs.
    pub async fn verify_local(&self) -> Result<BlobReport> {
        Ok(self.store.verify_blobs().await?)
    }

    /// Repair this store from the good copies at `sources`: an identical pack where a site
    /// has one (an S3 site mirrors this store's packs), else the damaged contents by hash.
    pub async fn repair_local(
        &self,
        report: &BlobReport,
        sources: &[&Site],
    ) -> Result<(Vec<String>, Vec<String>)> {
        let mut repaired = Vec::new();
        let mut unrepaired = Vec::new();
        for p in &report.problems {
            let mut done = false;
            for site in sources {
                if let Site::Bucket(b) = site {
                    if let Ok(Some(bytes)) = b.pack(&p.pack).await {
                        if self.store.restore_pack(&p.pack, &bytes).await.is_ok() {
                            repaired.push(format!(
                                "pack {} ({}) restored from {}",
                                p.pack,
                                p.problem,
                                b.name()
                            ));
                            done = true;
                            break;
                        }
                    }
                }
            }
            if done {
                continue;
            }
            // Rebuild: the contents still readable here plus the damaged ones from a site.
            let mut found: HashMap<Sha256, Vec<u8>> =
                self.contents_by_sha(&p.good_contents).await?;
            let mut missing: Vec<Sha256> = p.bad_contents.clone();
            for site in sources {
                if missing.is_empty() {
                    break;
                }
                let got = match site {
                    Site::Replica(r) => r.contents(&missing).await.map_err(site_err),
                    Site::Bucket(b) => b.contents_by_sha(&missing).await.map_err(site_err),
                };
                if let Ok(got) = got {
                    missing.retain(|s| !got.contains_key(s));
                    found.extend(got);
                }
            }
            if missing.is_empty() {
                let n = self
                    .store
                    .repack_contents(found.into_iter().collect())
                    .await?;
                repaired.push(format!(
                    "pack {} ({}): {n} contents rebuilt from other sites",
                    p.pack, p.problem
                ));
            } else {
                unrepaired.push(format!(
                    "pack {} ({}): {} contents found at no site",
                    p.pack,
                    p.problem,
                    missing.len()
                ));
            }
        }
        Ok((repaired, unrepaired))
    }
}

impl Network {
    /// `renkei verify` of this data folder; with `repair`, from the configured sites.
    pub async fn check_local(&self, repair: bool, sites: &[Site]) -> Result<SiteCheck> {
        let report = self.store.verify_blobs().await?;
        let mut check = blob_check("local", &report);
        if repair && !report.problems.is_empty() {
            let sources: Vec<&Site> = sites.iter().collect();
            let (done, not) = self.repair_local(&report, &sources).await?;
            check.repaired = done;
            check.unrepaired = not;
        }
        Ok(check)
    }

    /// `renkei verify --site NAME`; with `repair`, from this store (or, for an S3 site, any
    /// other S3 site holding the same pack).
    pub async fn check_site(&self, site: &Site, repair: bool, sites: &[Site]) -> Result<SiteCheck> {
        match site {
            Site::Replica(r) => {
                let report = r.verify().await.map_err(site_err)?;
                let mut check = blob_check(r.name(), &report);
                if repair && !report.problems.is_empty() {
                    for p in &report.problems {
                        let mut all: Vec<Sha256> = p.bad_contents.clone();
                        all.extend(p.good_contents.iter().copied());
                        let mut got = r.contents(&p.good_contents).await.map_err(site_err)?;
                        got.extend(self.contents_by_sha(&p.bad_contents).await?);
                        let missing = all.iter().filter(|s| !got.contains_key(s)).count();
                        if missing == 0 {
                            let n = r.repair(&got).await.map_err(site_err)?;
                            check.repaired.push(format!(
                                "pack {}: {n} contents rebuilt from this store",
                                p.pack
                            ));
                        } else {
                            check
                                .unrepaired
                                .push(format!("pack {}: {missing} contents not held here", p.pack));
                        }
                    }
                }
                Ok(check)
            }
            Site::Bucket(b) => {
                let report = b.verify().await.map_err(site_err)?;
                let mut check = SiteCheck {
                    site: b.name().to_owned(),
                    checked_objects: report.objects_checked,
                    checked_bytes: report.bytes_checked,
                    problems: report
                        .pack_problems
                        .iter()
                        .map(|p| {
                            format!(
                                "pack object {} is {:?}: {} ({} versions refer to it)",
                                p.key, p.damage, p.detail, p.versions
                            )
                        })
                        .chain(
                            report
                                .log_problems
                                .iter()
                                .map(|l| format!("log object {}: {}", l.key, l.detail)),
                        )
                        .collect(),
                    notes: report
                        .covered
                        .iter()
                        .map(|p| {
                            format!(
                                "pack object {} is {:?} ({}), but every content of its {} \
                                 versions is intact in another pack: nothing at stake",
                                p.key, p.damage, p.detail, p.versions
                            )
                        })
                        .collect(),
                    repaired: Vec::new(),
                    unrepaired: Vec::new(),
                };
                if repair && !report.is_clean() {
                    let mut outcome = b
                        .repair(&report, &StorePacks(self.store.clone()))
                        .await
                        .map_err(site_err)?;
                    // Packs this store does not hold (it was promoted from a replica, say)
                    // may be at another S3 site.
                    for other in sites {
                        if let Site::Bucket(o) = other {
                            let left = still_damaged(&report, &outcome.unrepaired);
                            if left.pack_problems.is_empty() {
                                break;
                            }
                            if o.name() != b.name() {
                                let more = b.repair(&left, o.as_ref()).await.map_err(site_err)?;
                                outcome.repaired.extend(more.repaired);
                                outcome.unrepaired = more.unrepaired;
                            }
                        }
                    }
                    // No identical copy anywhere (this store re-packed the same contents
                    // under other names, or was promoted from a replica whose packs are its
                    // own): relocate the contents this store holds into new packs there.
                    let left = still_damaged(&report, &outcome.unrepaired);
                    if !left.pack_problems.is_empty() {
                        let more = b
                            .repair_with_contents(&left, &StoreContents(self))
                            .await
                            .map_err(site_err)?;
                        outcome.relocated.extend(more.relocated);
                        outcome.unrepaired = more.unrepaired;
                    }
                    check.repaired = outcome.repaired;
                    check.repaired.extend(outcome.relocated.iter().map(|r| {
                        format!(
                            "pack {}: {} contents of {} versions relocated to pack {}",
                            r.pack, r.contents, r.versions, r.to
                        )
                    }));
                    check.unrepaired = outcome
                        .unrepaired
                        .into_iter()
                        .map(|(what, why)| format!("{what}: {why}"))
                        .collect();
                }
                Ok(check)
            }
        }
    }
}

/// A store's blob report as a site check (this data folder or a replica's own).
fn blob_check(site: &str, report: &BlobReport) -> SiteCheck {
    SiteCheck {
        site: site.to_owned(),
        checked_objects: report.packs_checked,
        checked_bytes: report.bytes_checked,
        problems: report
            .problems
            .iter()
            .map(|p| {
                format!(
                    "pack {} is {} ({} of its {} contents unreadable)",
                    p.pack,
                    p.problem,
                    p.bad_contents.len(),
                    p.bad_contents.len() + p.good_contents.len()
                )
            })
            .collect(),
        notes: Vec::new(),
        repaired: Vec::new(),
        unrepaired: Vec::new(),
    }
}

/// Each version's file as the ingest makes it (None for a removal), keeping the primary's
/// `recorded_at`; the versions are split across the machine's cores.
fn classify_versions(
    versions: Vec<store::FeedVersion>,
    contents: HashMap<Sha256, Vec<u8>>,
) -> Result<(Vec<store::FeedVersion>, Vec<Option<IngestFile>>)> {
    let one = |v: &store::FeedVersion| -> Result<Option<IngestFile>> {
        // As the primary classified it (an option of its import travels with the version).
        let options = ingest::ClassifyOptions {
            accept_unterminated: v.accept_unterminated,
        };
        let Some(sha) = v.sha256 else {
            return Ok(None);
        };
        let bytes = contents.get(&sha).cloned().ok_or_else(|| {
            ServiceError::Invalid(format!("version {} arrived without its content", v.id))
        })?;
        let mut file = ingest::ingest_file(&v.path, bytes, sha, &options);
        file.recorded_at = Some(v.recorded_at.clone());
        Ok(Some(file))
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = versions.len().div_ceil(threads).max(1);
    let parts: Vec<Result<Vec<Option<IngestFile>>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = versions
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(one).collect::<Result<Vec<_>>>()))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(ServiceError::Internal(
                        "a classifier thread panicked".into(),
                    ))
                })
            })
            .collect()
    });
    let mut files = Vec::with_capacity(versions.len());
    for p in parts {
        files.extend(p?);
    }
    Ok((versions, files))
}

/// The part of a report not repaired yet: its pack problems named in `unrepaired` (by pack
/// name, or by key for objects that are not packs), everything else as it was.
fn still_damaged(report: &SiteReport, unrepaired: &[(String, String)]) -> SiteReport {
    let mut left = report.clone();
    left.pack_problems.retain(|p| {
        unrepaired
            .iter()
            .any(|(what, _)| *what == p.pack || *what == p.key)
    });
    left
}

/// Contents read from this store by hash, wherever its packs keep them: the source of a
/// relocation at an S3 site whose packs this store does not have.
struct StoreContents<'a>(&'a Network);

#[async_trait::async_trait]
impl ContentSource for StoreContents<'_> {
    async fn contents(&self, shas: &[Sha256]) -> replication::Result<HashMap<Sha256, Vec<u8>>> {
        self.0
            .contents_by_sha(shas)
            .await
            .map_err(|e| replication::SiteError::Site {
                site: "local".into(),
                message: format!("reading contents from this store: {e}"),
            })
    }
}

/// Packs read from this store, for an S3 site.
pub struct StorePacks(pub std::sync::Arc<dyn store::Store>);

#[async_trait::async_trait]
impl replication::s3::PackSource for StorePacks {
    async fn pack(&self, name: &str) -> replication::Result<Option<Vec<u8>>> {
        Ok(self.0.read_pack(name).await?)
    }
}

fn write_file(root: &Path, rel: &str, bytes: &[u8], report: &mut RestoreReport) -> Result<()> {
    // Paths come from the store or a site: check them as the agent's are checked, so a
    // damaged or hostile copy cannot write outside the target folder.
    upload::check_path(rel).map_err(|e| ServiceError::Invalid(format!("{rel}: {e}")))?;
    let path = root.join(rel);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| ServiceError::Internal(format!("{}: {e}", dir.display())))?;
    }
    std::fs::write(&path, bytes)
        .map_err(|e| ServiceError::Internal(format!("{}: {e}", path.display())))?;
    report.files += 1;
    report.bytes += bytes.len() as u64;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file the primary imported with `--accept-unterminated` (its system never writes the
    /// final CR) is a record at every copy too, not quarantined as truncated; the same bytes
    /// without the option are quarantined there as on the primary.
    #[test]
    fn copies_classify_with_the_primarys_import_option() {
        let path =
            "100/000/1000001/-/ADT-00/1000001_-_ADT-00_999999999999999_20240401120000000_-_1";
        let text = "MSH|^~\\&|HIS|0411111111|||20240401120000||ADT^A08^ADT_A01|1|P|2.5\r\
EVN||20240401120000\r\
PID|||1000001^^^^PI||患者^太郎^^^^^L^I||19480405|M\r\
PV1||N";
        let bytes = hl7::encode_iso2022jp(text).expect("encode");
        let sha = store::packs::sha256(&bytes);
        let version = |id: i64, accept_unterminated: bool| store::FeedVersion {
            id,
            facility: FacilityCode::parse("0411111111").expect("code"),
            path: path.into(),
            sha256: Some(sha),
            size: bytes.len() as u64,
            recorded_at: "2026-12-04T00:00:00Z".into(),
            location: None,
            accept_unterminated,
        };
        let contents = HashMap::from([(sha, bytes.clone())]);
        let (_, files) =
            classify_versions(vec![version(1, true), version(2, false)], contents).expect("ok");
        let outcomes: Vec<bool> = files
            .iter()
            .map(|f| matches!(f.as_ref().expect("a file").outcome, FileOutcome::Record(_)))
            .collect();
        assert_eq!(outcomes, [true, false], "{files:?}");
        assert!(files[0].as_ref().expect("file").accept_unterminated);
    }
}
