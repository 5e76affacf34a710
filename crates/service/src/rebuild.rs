//! Whole-network disaster recovery (ネットワーク全体の復旧): an empty data folder (or an
//! empty PostgreSQL + bucket) becomes the whole network again from an off-site bucket alone —
//! for when the primary *and* its replica are lost (one region-wide disaster, or ransomware
//! that reached both).
//!
//! The bucket holds the three streams a replica receives ([`store::Feed`]): registry changes,
//! audit entries and file versions with their packs. A rebuild replays them through the same
//! path as a replica ([`Network::apply_shipment`]): registry rows as they are, the audit chain
//! entry by entry (each must continue the chain), and raw files through the ingest, so records
//! and facts are derived from the bytes again, never copied. Then the folder becomes a primary
//! and the chain is verified against the head the bucket vouches for.
//!
//! `--as-of` rebuilds the network as it stood at a time: each stream up to it (see
//! [`replication::s3::NetworkStreams::as_of`]).

use std::collections::HashMap;
use std::time::Instant;

use model::Sha256;
use replication::remote::RemoteSite;
use replication::s3::{NetworkStreams, S3Site, SiteFile};
use store::{BlobLocation, Feed, FeedCursor, FeedVersion, NodeRole};

use crate::offsite::{Site, SHIPMENT_ITEMS};
use crate::{HeadReference, Network, Result, ServiceError};

/// Told after each shipment a rebuild applies: the versions replayed so far and, when the
/// source says, how many there are (a rebuild of a large network takes hours; the operator
/// sees it move). Counts only — never paths, which hold patient IDs.
pub type Progress<'a> = &'a (dyn Fn(u64, Option<u64>) + Sync);

/// What a rebuild did.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct RebuildReport {
    pub site: String,
    pub as_of: Option<String>,
    pub registry_changes: u64,
    pub audit_entries: u64,
    /// File versions replayed (removals included) and the bytes read back.
    pub versions: u64,
    pub bytes: u64,
    /// Contents the bucket could not give back intact, read from another site instead.
    pub mended: u64,
    pub facilities: u64,
    /// The rebuilt chain's newest entry before the rebuild's own entry, and the newest the
    /// bucket holds (equal unless `as_of` stopped earlier).
    pub audit_head: Option<audit::Head>,
    pub site_audit_head: Option<audit::Head>,
    pub seconds: f64,
}

impl Network {
    /// Rebuild the whole network in this (empty) store from `bucket`, as of now or `as_of`
    /// (RFC 3339 UTC, see [`crate::offsite::as_of`]). Contents the bucket cannot give back
    /// intact are read from `others` (other configured sites) and counted as mended; one that
    /// no site holds stops the rebuild with its path. The store ends as a primary.
    pub async fn rebuild_from_bucket(
        &self,
        bucket: &S3Site,
        others: &[Site],
        as_of: Option<&str>,
        actor: &str,
        progress: Progress<'_>,
    ) -> Result<RebuildReport> {
        let started = Instant::now();
        // Refuses a folder that already holds a network; a rebuild interrupted part way
        // (still a replica) resumes where it stopped.
        self.become_replica().await?;
        let mut streams = bucket.network_streams().await.map_err(site_err)?;
        // The newest entry the bucket holds, whatever `as_of` keeps: what the rebuilt chain
        // must end at without `as_of` (the streams hold every audit log already).
        let site_head = streams.audit.last().map(audit::Head::of);
        if let Some(t) = as_of {
            streams = streams.as_of(t);
        }
        let NetworkStreams {
            registry,
            audit,
            versions,
        } = streams;
        let mut report = RebuildReport {
            site: bucket.name().to_owned(),
            as_of: as_of.map(str::to_owned),
            registry_changes: registry.len() as u64,
            audit_entries: audit.len() as u64,
            versions: versions.len() as u64,
            ..RebuildReport::default()
        };
        // Registry and audit first, a shipment's worth of each at a time (within one, the
        // registry is applied before the audit entries, as from a primary).
        let mut cursor = FeedCursor::default();
        let (mut registry, mut audit) = (
            registry.chunks(SHIPMENT_ITEMS),
            audit.chunks(SHIPMENT_ITEMS),
        );
        loop {
            let (changes, entries) = (registry.next().unwrap_or(&[]), audit.next().unwrap_or(&[]));
            if changes.is_empty() && entries.is_empty() {
                break;
            }
            cursor.registry = changes.last().map_or(cursor.registry, |c| c.seq);
            cursor.audit = entries.last().map_or(cursor.audit, |e| e.seq);
            self.apply_shipment(
                Feed {
                    registry: changes.to_vec(),
                    audit: entries.to_vec(),
                    next: cursor,
                    ..Feed::default()
                },
                HashMap::new(),
            )
            .await?;
        }
        // Every place each content is held, so a damaged pack falls back to another copy in
        // the bucket before any other site is asked.
        let places = replication::s3::content_places(&versions);
        let mut replayed = 0u64;
        for chunk in versions.chunks(SHIPMENT_ITEMS) {
            let contents = self
                .read_back(bucket, others, chunk, &places, &mut report)
                .await?;
            cursor.version = chunk.last().map_or(cursor.version, |v| v.id);
            self.apply_shipment(
                Feed {
                    versions: chunk.to_vec(),
                    next: cursor,
                    ..Feed::default()
                },
                contents,
            )
            .await?;
            replayed += chunk.len() as u64;
            progress(replayed, Some(report.versions));
        }
        report.site_audit_head = site_head;
        self.finish_rebuild(&mut report, as_of, actor).await?;
        report.seconds = started.elapsed().as_secs_f64();
        Ok(report)
    }

    /// The end of every rebuild: the chain verified (and, without `as_of`, ending at the head
    /// the source vouches for), the folder made a primary, the rebuild audited.
    async fn finish_rebuild(
        &self,
        report: &mut RebuildReport,
        as_of: Option<&str>,
        actor: &str,
    ) -> Result<()> {
        let site_head = report.site_audit_head;
        report.facilities = self.store.facilities().await?.len() as u64;
        report.audit_head = self
            .store
            .audit_head()
            .await?
            .map(|(seq, hash)| audit::Head { seq, hash });
        // Without `as_of` the rebuilt chain must end where the bucket says the primary's did.
        let references: Vec<HeadReference> = match (as_of, site_head) {
            (None, Some(h)) => vec![HeadReference {
                source: format!("site {}", report.site),
                head: Some(h),
            }],
            _ => Vec::new(),
        };
        let verified = self.verify_chain(&references).await?;
        if !verified.ok() {
            return Err(ServiceError::Conflict(format!(
                "the rebuilt audit chain does not verify (the folder stays a replica; nothing was served): {}",
                verified.problems.join("; ")
            )));
        }
        if as_of.is_none() && site_head.map(|h| h.seq) != report.audit_head.map(|h| h.seq) {
            return Err(ServiceError::Conflict(format!(
                "the bucket vouches for audit entry {} but the rebuilt chain ends at {}: an audit log object is missing",
                site_head.map_or(0, |h| h.seq),
                report.audit_head.map_or(0, |h| h.seq)
            )));
        }
        self.become_primary(
            actor,
            format!(
                "network rebuilt from site {}{} (registry {}, audit {}, versions {}, mended {})",
                report.site,
                as_of.map(|t| format!(" as of {t}")).unwrap_or_default(),
                report.registry_changes,
                report.audit_entries,
                report.versions,
                report.mended
            ),
        )
        .await?;
        Ok(())
    }

    /// [`Network::rebuild_from_bucket`] from a replica renkei server (or any renkei site that
    /// answers the replication token) when it is the last copy left: its own streams, read
    /// page by page, replayed the same way.
    pub async fn rebuild_from_replica(
        &self,
        replica: &RemoteSite,
        as_of: Option<&str>,
        actor: &str,
        progress: Progress<'_>,
    ) -> Result<RebuildReport> {
        let started = Instant::now();
        self.become_replica().await?;
        let mut report = RebuildReport {
            site: replica.name().to_owned(),
            as_of: as_of.map(str::to_owned),
            ..RebuildReport::default()
        };
        report.site_audit_head = replica.status().await.map_err(site_err)?.audit_head;
        let mut window = AsOf::new(as_of);
        let mut cursor = match self.store.node_role().await? {
            NodeRole::Replica { applied, .. } => applied,
            NodeRole::Primary => FeedCursor::default(),
        };
        loop {
            let (feed, contents) = replica
                .feed(cursor, SHIPMENT_ITEMS)
                .await
                .map_err(site_err)?;
            if feed.is_empty() {
                break;
            }
            let next = feed.next;
            let feed = window.page(feed);
            report.registry_changes += feed.registry.len() as u64;
            report.audit_entries += feed.audit.len() as u64;
            report.versions += feed.versions.len() as u64;
            report.bytes += contents.values().map(|b| b.len() as u64).sum::<u64>();
            self.apply_shipment(feed, contents).await?;
            progress(report.versions, None);
            cursor = next;
        }
        self.finish_rebuild(&mut report, as_of, actor).await?;
        report.seconds = started.elapsed().as_secs_f64();
        Ok(report)
    }

    /// The contents of `chunk` from the bucket, each checked against its hash; those it
    /// cannot give back intact from any of its copies, from another site.
    async fn read_back(
        &self,
        bucket: &S3Site,
        others: &[Site],
        chunk: &[FeedVersion],
        places: &HashMap<Sha256, Vec<&BlobLocation>>,
        report: &mut RebuildReport,
    ) -> Result<HashMap<Sha256, Vec<u8>>> {
        let mut files: Vec<SiteFile> = Vec::new();
        let mut wanted: Vec<Sha256> = Vec::new();
        for v in chunk {
            let Some(sha) = v.sha256 else { continue };
            if wanted.contains(&sha) {
                continue;
            }
            wanted.push(sha);
            files.push(SiteFile {
                path: format!("{}/{}", v.facility, v.path),
                sha256: sha,
                size: v.size,
                recorded_at: v.recorded_at.clone(),
                locations: places
                    .get(&sha)
                    .map(|l| l.iter().map(|&l| l.clone()).collect())
                    .unwrap_or_default(),
            });
        }
        let mut out: HashMap<Sha256, Vec<u8>> = HashMap::with_capacity(files.len());
        // When some content is damaged everywhere in the bucket, find which one by one.
        if let Ok(bytes) = bucket.read_contents(&files).await {
            for (f, b) in files.iter().zip(bytes) {
                report.bytes += b.len() as u64;
                out.insert(f.sha256, b);
            }
            return Ok(out);
        }
        let mut missing: Vec<&SiteFile> = Vec::new();
        for f in &files {
            match bucket.read_contents(std::slice::from_ref(f)).await {
                Ok(mut b) => {
                    if let Some(b) = b.pop() {
                        report.bytes += b.len() as u64;
                        out.insert(f.sha256, b);
                    }
                }
                Err(_) => missing.push(f),
            }
        }
        let shas: Vec<Sha256> = missing.iter().map(|f| f.sha256).collect();
        // Why other sites could not help, for the operator (errors name paths, which hold
        // patient IDs: they go to the operator's terminal, never to a log).
        let mut site_errors: Vec<String> = Vec::new();
        for site in others {
            let still: Vec<Sha256> = shas
                .iter()
                .filter(|s| !out.contains_key(*s))
                .copied()
                .collect();
            if still.is_empty() {
                break;
            }
            let got = match site {
                Site::Replica(r) => r.contents(&still).await,
                Site::Bucket(b) => b.contents_by_sha(&still).await,
            };
            match got {
                Ok(got) => {
                    for (sha, b) in got {
                        // Only what was asked for, and only if it is what its name says.
                        if still.contains(&sha) && store::packs::sha256(&b) == sha {
                            report.bytes += b.len() as u64;
                            report.mended += 1;
                            out.insert(sha, b);
                        }
                    }
                }
                Err(e) => site_errors.push(format!("site {}: {e}", site.name())),
            }
        }
        if let Some(f) = missing.iter().find(|f| !out.contains_key(&f.sha256)) {
            return Err(ServiceError::Internal(format!(
                "{} ({}) cannot be read intact from site {} nor from any other site{}: the rebuild stops here (the folder stays a replica; run it again once the content is back, it resumes)",
                f.path,
                f.sha256,
                bucket.name(),
                if site_errors.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", site_errors.join("; "))
                }
            )));
        }
        Ok(out)
    }
}

/// `--as-of` over a source read page by page: registry changes and audit entries up to the
/// first one after the time (each stream stays a prefix of itself), versions accepted by then.
struct AsOf {
    at: Option<model::UnixTime>,
    registry_done: bool,
    audit_done: bool,
}

impl AsOf {
    fn new(as_of: Option<&str>) -> AsOf {
        AsOf {
            at: as_of.and_then(model::UnixTime::parse_rfc3339),
            registry_done: false,
            audit_done: false,
        }
    }

    fn after(&self, at: &str) -> bool {
        match (self.at, model::UnixTime::parse_rfc3339(at)) {
            (Some(t), Some(at)) => at.0 > t.0,
            _ => false,
        }
    }

    fn page(&mut self, mut feed: Feed) -> Feed {
        let Some(t) = self.at else { return feed };
        if self.registry_done {
            feed.registry.clear();
        } else if let Some(end) = feed
            .registry
            .iter()
            .position(|c| c.at.as_deref().is_some_and(|at| self.after(at)))
        {
            self.registry_done = true;
            feed.registry.truncate(end);
        }
        if self.audit_done {
            feed.audit.clear();
        } else if let Some(end) = feed.audit.iter().position(|e| e.event.at.0 > t.0) {
            self.audit_done = true;
            feed.audit.truncate(end);
        }
        feed.versions.retain(|v| !self.after(&v.recorded_at));
        feed
    }
}

fn site_err(e: replication::SiteError) -> ServiceError {
    match e {
        replication::SiteError::Store(s) => s.into(),
        other => ServiceError::Internal(other.to_string()),
    }
}
