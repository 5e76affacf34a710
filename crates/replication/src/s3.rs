//! An S3-compatible bucket as an off-site backup site.
//!
//! The bucket holds only immutable objects, each written once and never deleted or
//! overwritten by shipping — so a ransomware that takes the primary (and its credentials to
//! write here) still cannot destroy what was shipped, especially with Object Lock on:
//!
//! ```text
//! [prefix/]packs/{name[0..2]}/{name}.pack                       the primary's packs, as stored
//! [prefix/]versions/{facility}/{first:020}-{last:020}-{h16}.jsonl.zst   store::FeedVersion lines
//! [prefix/]registry/{first:020}-{last:020}-{h16}.jsonl.zst              store::RegistryChange lines
//! [prefix/]audit/{first:020}-{last:020}-{h16}.jsonl.zst                 audit::Entry lines
//! ```
//!
//! A pack's name is the SHA-256 of its bytes; `h16` is the first 16 hex digits of the SHA-256
//! of the log object's (compressed) bytes. Both make every key name its content: a re-ship
//! after a crash writes the same or a new key, never different bytes under an existing key,
//! and `verify` can check every object against its key alone. Readers dedupe the versions of
//! overlapping logs.
//!
//! Within one shipment packs go first, then version logs, then registry and audit logs, so a
//! log never points at a pack that is not in the bucket yet.
//!
//! A damaged pack is mended by putting back an identical copy ([`S3Site::repair`]) or, when
//! no copy of that exact pack exists anywhere, by *relocation*
//! ([`S3Site::repair_with_contents`]): its contents, found by hash elsewhere, go into a new
//! pack, and new version-log objects repeat the affected version lines with the new location.
//! Readers already keep every location of a content and fall back from one to the next, so
//! nothing is overwritten or deleted and no reader needs to know about relocations; `verify`
//! reports a damaged pack whose every content is intact elsewhere as *covered*.
//!
//! No patient data is logged here: file paths (`0001234567/01/...`) hold patient IDs, so they
//! only appear in errors, which go to the operator.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::Read;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::{self, StreamExt, TryStreamExt};
use model::{FacilityCode, Sha256};
use object_store::aws::{AmazonS3Builder, Checksum};
use object_store::path::Path as ObjectPath;
use object_store::{ClientOptions, HeaderMap, HeaderValue, ObjectStore, ObjectStoreExt};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::Digest;
use store::{BlobLocation, Feed, FeedVersion, LocalPacks, PackBuilder, RegistryChange};

use crate::{Result, SiteConfig, SiteError};

/// Requests in flight at once: enough to hide the latency of a distant bucket, few enough not
/// to be throttled or to hold many packs in memory.
const CONCURRENCY: usize = 4;
/// Ranges of one pack closer than this are fetched as one (object_store's own default).
const RANGE_GAP: u64 = 1024 * 1024;
/// zstd level of the log objects (JSON lines compress ~10× at this level already).
const LOG_ZSTD_LEVEL: i32 = 3;

/// Where the bytes of a pack come from: the primary's store when shipping, or any copy whose
/// bytes hash to the pack's name when repairing.
#[async_trait]
pub trait PackSource: Send + Sync {
    /// The pack's bytes as stored, or None if this source does not have it.
    async fn pack(&self, name: &str) -> Result<Option<Vec<u8>>>;
}

#[async_trait]
impl PackSource for LocalPacks {
    async fn pack(&self, name: &str) -> Result<Option<Vec<u8>>> {
        if !is_pack_name(name) {
            // Never turn an arbitrary string into a file path.
            return Ok(None);
        }
        let path = self.path_of(name);
        match tokio::fs::read(&path).await {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(SiteError::Store(store::StoreError::Blob {
                path: path.display().to_string(),
                source,
            })),
        }
    }
}

/// Another S3 site can be the source of a repair (or of a restore into a local store): its
/// copy is returned only if its bytes hash to the name.
#[async_trait]
impl PackSource for S3Site {
    async fn pack(&self, name: &str) -> Result<Option<Vec<u8>>> {
        if !is_pack_name(name) {
            return Ok(None);
        }
        let key = pack_key(name);
        match self.get_opt(&key).await? {
            Some(bytes) if hex_sha(&bytes) == name => Ok(Some(bytes)),
            _ => Ok(None),
        }
    }
}

/// Where raw contents come from, by hash, when no identical copy of a damaged pack exists:
/// the primary's store (whatever packs it keeps them in), another site, or anything else.
/// [`S3Site::repair_with_contents`] checks every content against its hash, so a source may
/// be wrong without harm; it must not invent hashes it was not asked for (they are ignored).
#[async_trait]
pub trait ContentSource: Send + Sync {
    /// The contents this source holds among `shas`; absent ones are simply not in the map.
    async fn contents(&self, shas: &[Sha256]) -> Result<HashMap<Sha256, Vec<u8>>>;
}

/// Contents already in memory (a restore read back, a test).
#[async_trait]
impl ContentSource for HashMap<Sha256, Vec<u8>> {
    async fn contents(&self, shas: &[Sha256]) -> Result<HashMap<Sha256, Vec<u8>>> {
        Ok(shas
            .iter()
            .filter_map(|s| self.get(s).map(|b| (*s, b.clone())))
            .collect())
    }
}

/// Another S3 site's contents, from wherever it keeps them (its packs need not be this
/// site's).
#[async_trait]
impl ContentSource for S3Site {
    async fn contents(&self, shas: &[Sha256]) -> Result<HashMap<Sha256, Vec<u8>>> {
        self.contents_by_sha(shas).await
    }
}

/// What one [`S3Site::ship`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShipOutcome {
    pub packs_uploaded: u64,
    /// Packs already in the bucket (shipped by an earlier feed).
    pub packs_skipped: u64,
    /// Log objects written (versions per facility, registry, audit).
    pub log_objects: u64,
    /// Log objects already in the bucket with the same bytes (a re-ship of the same feed).
    pub log_objects_skipped: u64,
    /// Bytes uploaded in total (packs and logs).
    pub bytes_uploaded: u64,
    pub versions: u64,
    pub registry_changes: u64,
    pub audit_entries: u64,
}

/// One file of a facility's tree as restored from a site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteFile {
    pub path: String,
    pub sha256: Sha256,
    pub size: u64,
    /// When the network recorded this version (RFC 3339).
    pub recorded_at: String,
    /// Every known place of this content in the bucket, the version's own first; reads fall
    /// back to the next one when one is damaged.
    pub locations: Vec<BlobLocation>,
}

/// The three streams of a network as a bucket holds them ([`S3Site::network_streams`]).
#[derive(Debug, Clone, Default)]
pub struct NetworkStreams {
    pub registry: Vec<RegistryChange>,
    pub audit: Vec<audit::Entry>,
    pub versions: Vec<FeedVersion>,
}

impl NetworkStreams {
    /// The network as it stood at `as_of` (RFC 3339 UTC, as stored): the registry changes
    /// and audit entries up to the first one after that time (each stream stays a prefix of
    /// itself, so the chain stays whole; registry changes with no time are older than any),
    /// and the versions accepted by then.
    pub fn as_of(mut self, as_of: &str) -> NetworkStreams {
        let t = model::UnixTime::parse_rfc3339(as_of);
        let by = |at: &str| match (t, model::UnixTime::parse_rfc3339(at)) {
            (Some(t), Some(at)) => at.0 <= t.0,
            _ => at <= as_of,
        };
        let registry_end = self
            .registry
            .iter()
            .position(|c| c.at.as_deref().is_some_and(|at| !by(at)))
            .unwrap_or(self.registry.len());
        self.registry.truncate(registry_end);
        let audit_end = self
            .audit
            .iter()
            .position(|e| t.is_some_and(|t| e.event.at.0 > t.0))
            .unwrap_or(self.audit.len());
        self.audit.truncate(audit_end);
        self.versions.retain(|v| by(&v.recorded_at));
        self
    }
}

/// What is wrong with a pack object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PackDamage {
    Missing,
    Corrupt,
}

/// A pack that a version log points at but that the bucket cannot give back intact (or a
/// pack object whose bytes do not hash to its name).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SitePackProblem {
    pub pack: String,
    pub key: String,
    pub damage: PackDamage,
    pub detail: String,
    /// Version lines (deduplicated) whose content is in this pack: how much is at stake.
    pub versions: u64,
}

/// A log object that does not match the hash in its key or does not decode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogProblem {
    pub key: String,
    pub detail: String,
}

/// The result of [`S3Site::verify`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteReport {
    pub site: String,
    /// Objects read in full (logs and packs).
    pub objects_checked: u64,
    pub bytes_checked: u64,
    pub log_objects: u64,
    /// Distinct version lines found in the version logs.
    pub versions: u64,
    pub packs_checked: u64,
    /// Damaged packs that put something at stake: some content they hold has no intact
    /// copy anywhere else in the bucket.
    pub pack_problems: Vec<SitePackProblem>,
    /// Damaged (missing or corrupt) packs whose every content also sits in another pack that
    /// is present and hashes right — typically after [`S3Site::repair_with_contents`]
    /// relocated them. Reads fall back to the intact copy, so these do not make the report
    /// unclean; they are still listed because the damaged object stays (nothing here is
    /// deleted) and an operator should know why.
    #[serde(default)]
    pub covered: Vec<SitePackProblem>,
    pub log_problems: Vec<LogProblem>,
}

impl SiteReport {
    /// Nothing at stake: covered packs do not count (see [`SiteReport::covered`]).
    pub fn is_clean(&self) -> bool {
        self.pack_problems.is_empty() && self.log_problems.is_empty()
    }
}

/// One damaged pack whose contents were put into a new pack by
/// [`S3Site::repair_with_contents`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Relocation {
    /// The damaged pack.
    pub pack: String,
    /// The new pack holding its contents.
    pub to: String,
    /// Contents placed in the new pack.
    pub contents: u64,
    /// Version lines written again with the new location.
    pub versions: u64,
    /// Relocation log objects written (one per facility; 0 when a previous run wrote them).
    pub log_objects: u64,
}

/// The result of [`S3Site::repair`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepairOutcome {
    /// Packs put back (names).
    pub repaired: Vec<String>,
    /// Packs whose contents were relocated (by [`S3Site::repair_with_contents`]).
    #[serde(default)]
    pub relocated: Vec<Relocation>,
    /// Objects that could not be repaired: (key or pack name, why).
    pub unrepaired: Vec<(String, String)>,
}

/// An S3-compatible bucket as a site. See the module documentation for the layout.
pub struct S3Site {
    name: String,
    /// Key prefix without slashes at either end ("" = the bucket's root).
    prefix: String,
    /// For reads, HEADs and listings.
    store: Arc<dyn ObjectStore>,
    /// How to build a writer: kept so that the Object Lock retain-until date is computed when
    /// writing, not when the site was opened.
    builder: AmazonS3Builder,
    object_lock_days: Option<u32>,
    allow_http: bool,
    /// Set once a range request failed: read whole packs from then on.
    whole_packs: AtomicBool,
    /// Packs known to be damaged (from the last verify, or a read that found one missing or
    /// bad): reads try a content's other locations first. Only an ordering hint — a location
    /// is never skipped because of it.
    damaged: Mutex<BTreeSet<String>>,
}

impl std::fmt::Debug for S3Site {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // No credentials in debug output.
        f.debug_struct("S3Site")
            .field("name", &self.name)
            .field("prefix", &self.prefix)
            .field("object_lock_days", &self.object_lock_days)
            .finish_non_exhaustive()
    }
}

impl S3Site {
    /// Open a site from its configuration: `url` is the endpoint, `bucket` is required,
    /// `region` defaults to `us-east-1` (what most S3-compatible servers accept). Requests are
    /// path-style (`endpoint/bucket/key`), which every S3-compatible server understands;
    /// plain `http://` endpoints are allowed (a server on loopback or a private network).
    pub fn new(cfg: &SiteConfig) -> Result<S3Site> {
        let site_err = |message: String| SiteError::Site {
            site: cfg.name.clone(),
            message,
        };
        let url = cfg.required("url", &cfg.url)?;
        let bucket = cfg.required("bucket", &cfg.bucket)?;
        let region = cfg.region.as_deref().unwrap_or("us-east-1");
        let mut builder = AmazonS3Builder::new()
            .with_endpoint(url)
            .with_bucket_name(bucket)
            .with_region(region)
            .with_virtual_hosted_style_request(false)
            .with_allow_http(url.starts_with("http://"));
        if let Some(key) = &cfg.access_key_id {
            builder = builder.with_access_key_id(key);
        }
        if let Some(secret) = cfg.secret_access_key()? {
            builder = builder.with_secret_access_key(secret);
        }
        let store = builder
            .clone()
            .build()
            .map_err(|e| site_err(format!("invalid S3 configuration: {e}")))?;
        let prefix = cfg
            .prefix
            .as_deref()
            .unwrap_or("")
            .trim_matches('/')
            .to_owned();
        if !prefix.is_empty() {
            ObjectPath::parse(&prefix)
                .map_err(|e| site_err(format!("invalid prefix {prefix:?}: {e}")))?;
        }
        Ok(S3Site {
            name: cfg.name.clone(),
            prefix,
            store: Arc::new(store),
            builder,
            object_lock_days: cfg.object_lock_days,
            allow_http: url.starts_with("http://"),
            whole_packs: AtomicBool::new(false),
            damaged: Mutex::new(BTreeSet::new()),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Ship one feed. Idempotent: packs already in the bucket are skipped (HEAD first), and a
    /// log object's key names its bytes, so re-shipping the same feed writes nothing new or
    /// only logs whose versions readers dedupe. Every pack is checked against its name before
    /// upload: a damaged pack on the primary is never propagated.
    pub async fn ship(&self, feed: &Feed, packs: &dyn PackSource) -> Result<ShipOutcome> {
        let writer = self.writer()?;
        let mut out = ShipOutcome {
            versions: feed.versions.len() as u64,
            registry_changes: feed.registry.len() as u64,
            audit_entries: feed.audit.len() as u64,
            ..ShipOutcome::default()
        };

        // 1. Packs, so that no log points at a pack that is not here.
        // Owned names: a stream of borrowed `&str` items makes this future's `Send` bound
        // higher-ranked, which a spawned task cannot prove.
        let names: BTreeSet<String> = feed
            .versions
            .iter()
            .filter_map(|v| v.location.as_ref())
            .map(|l| l.pack.clone())
            .collect();
        let shipped: Vec<Option<u64>> = stream::iter(names)
            .map(|name: String| {
                let writer = writer.clone();
                async move { self.ship_pack(&*writer, &name, packs).await }
            })
            .buffer_unordered(CONCURRENCY)
            .try_collect()
            .await?;
        for s in shipped {
            match s {
                Some(bytes) => {
                    out.packs_uploaded += 1;
                    out.bytes_uploaded += bytes;
                }
                None => out.packs_skipped += 1,
            }
        }

        // 2. Version logs, one object per facility.
        let mut by_facility: BTreeMap<&FacilityCode, Vec<&FeedVersion>> = BTreeMap::new();
        for v in &feed.versions {
            by_facility.entry(&v.facility).or_default().push(v);
        }
        for (facility, mut versions) in by_facility {
            versions.sort_by_key(|v| v.id);
            let (first, last) = (versions[0].id, versions[versions.len() - 1].id);
            let dir = format!("versions/{facility}");
            self.ship_log(&*writer, &dir, first, last, &versions, &mut out)
                .await?;
        }

        // 3. Registry changes, 4. audit entries.
        if let (Some(first), Some(last)) = (feed.registry.first(), feed.registry.last()) {
            self.ship_log(
                &*writer,
                "registry",
                first.seq,
                last.seq,
                &feed.registry,
                &mut out,
            )
            .await?;
        }
        if let (Some(first), Some(last)) = (feed.audit.first(), feed.audit.last()) {
            self.ship_log(
                &*writer,
                "audit",
                first.seq,
                last.seq,
                &feed.audit,
                &mut out,
            )
            .await?;
        }
        tracing::info!(
            site = %self.name,
            packs_uploaded = out.packs_uploaded,
            packs_skipped = out.packs_skipped,
            log_objects = out.log_objects,
            bytes = out.bytes_uploaded,
            versions = out.versions,
            "shipped to S3 site"
        );
        Ok(out)
    }

    /// Upload one pack unless it is there; the bytes uploaded, or None if skipped.
    async fn ship_pack(
        &self,
        writer: &dyn ObjectStore,
        name: &str,
        packs: &dyn PackSource,
    ) -> Result<Option<u64>> {
        let key = pack_key(name);
        if self.exists(&key).await? {
            return Ok(None);
        }
        let bytes = packs.pack(name).await?.ok_or_else(|| {
            self.obj_err(
                &key,
                "a version points at this pack but the source does not have it",
            )
        })?;
        if hex_sha(&bytes) != name {
            return Err(self.obj_err(
                &key,
                "the source's copy does not hash to its name (damaged pack on the primary: \
                 run verify there); not shipped",
            ));
        }
        let len = bytes.len() as u64;
        self.put(writer, &key, bytes).await?;
        Ok(Some(len))
    }

    /// Write one log object (`{dir}/{first:020}-{last:020}-{h16}.jsonl.zst`) unless an object
    /// with the same key, hence the same bytes, is there.
    async fn ship_log<T: Serialize>(
        &self,
        writer: &dyn ObjectStore,
        dir: &str,
        first: impl Into<i128>,
        last: impl Into<i128>,
        items: &[T],
        out: &mut ShipOutcome,
    ) -> Result<()> {
        let (first, last) = (first.into(), last.into());
        if first < 0 || last < first {
            // The key's fixed-width numbers are what orders and names the logs.
            return Err(self.obj_err(
                dir,
                &format!("cannot name a log of items {first}..{last}: not ascending from 0"),
            ));
        }
        let bytes = encode_log(items).map_err(|e| self.obj_err(dir, &e))?;
        let key = format!(
            "{dir}/{first:020}-{last:020}-{}.jsonl.zst",
            &hex_sha(&bytes)[..16]
        );
        if self.exists(&key).await? {
            out.log_objects_skipped += 1;
            return Ok(());
        }
        out.bytes_uploaded += bytes.len() as u64;
        self.put(writer, &key, bytes).await?;
        out.log_objects += 1;
        Ok(())
    }

    /// The facilities that have version logs in the bucket.
    pub async fn facilities(&self) -> Result<Vec<FacilityCode>> {
        let dir = self.path("versions")?;
        let listed = self
            .store
            .list_with_delimiter(Some(&dir))
            .await
            .map_err(|e| self.obj_err("versions/", &chain(&e)))?;
        let mut out = Vec::new();
        for p in listed.common_prefixes {
            let Some(last) = p.filename() else { continue };
            match FacilityCode::parse(last) {
                Ok(code) => out.push(code),
                Err(_) => tracing::warn!(site = %self.name, dir = %p, "not a facility folder"),
            }
        }
        out.sort();
        Ok(out)
    }

    /// The facility's tree as of a time (None = latest): see [`select_tree`]. Every line of
    /// every version log of the facility is read.
    pub async fn tree_as_of(
        &self,
        facility: &FacilityCode,
        as_of: Option<&str>,
    ) -> Result<Vec<SiteFile>> {
        let versions = self.read_versions(Some(facility)).await?;
        Ok(select_tree(&versions, as_of))
    }

    /// Read contents back, each checked against its SHA-256, in the order of `files`.
    ///
    /// Locations are grouped by pack and frame, each frame is fetched and decompressed once,
    /// and a few packs are read concurrently. When most of a pack is needed it is read in one
    /// GET; when little is, only its frames travel, as ranges (close ones merged). A
    /// location that fails (missing object, bad frame, hash mismatch) falls back to the
    /// file's next location; if none works, the error names the path and why.
    pub async fn read_contents(&self, files: &[SiteFile]) -> Result<Vec<Vec<u8>>> {
        let wants: Vec<Want> = files
            .iter()
            .map(|f| Want {
                sha: f.sha256,
                locations: &f.locations,
            })
            .collect();
        let results = self.fetch(&wants).await;
        files
            .iter()
            .zip(results)
            .map(|(f, r)| {
                r.map_err(|why| SiteError::Site {
                    site: self.name.clone(),
                    message: format!("cannot read {} ({}): {why}", f.path, f.sha256),
                })
            })
            .collect()
    }

    /// Contents by hash from anywhere in the bucket (to repair another site or a store): every
    /// version log is read to find where each content is. Contents that are nowhere or that
    /// cannot be read back intact are absent from the map; the caller compares.
    pub async fn contents_by_sha(&self, shas: &[Sha256]) -> Result<HashMap<Sha256, Vec<u8>>> {
        let versions = self.read_versions(None).await?;
        let wanted: BTreeSet<Sha256> = shas.iter().copied().collect();
        let mut locations: BTreeMap<Sha256, Vec<BlobLocation>> = BTreeMap::new();
        for v in &versions {
            if let (Some(sha), Some(loc)) = (v.sha256, &v.location) {
                if wanted.contains(&sha) {
                    let locs = locations.entry(sha).or_default();
                    if !locs.contains(loc) {
                        locs.push(loc.clone());
                    }
                }
            }
        }
        let entries: Vec<(Sha256, Vec<BlobLocation>)> = locations.into_iter().collect();
        let wants: Vec<Want> = entries
            .iter()
            .map(|(sha, locs)| Want {
                sha: *sha,
                locations: locs,
            })
            .collect();
        let results = self.fetch(&wants).await;
        let mut out = HashMap::new();
        for ((sha, _), r) in entries.iter().zip(results) {
            match r {
                Ok(bytes) => {
                    out.insert(*sha, bytes);
                }
                Err(why) => tracing::warn!(site = %self.name, %sha, %why, "content unreadable"),
            }
        }
        Ok(out)
    }

    /// Everything the bucket holds of the network, for a rebuild from the bucket alone: every
    /// registry change and audit entry by sequence number (overlapping logs deduped), and
    /// every file version of every facility by id (see [`dedupe_versions`]). A log object
    /// that cannot be read or decoded is an error naming it — a rebuild never goes on
    /// without part of the network.
    pub async fn network_streams(&self) -> Result<NetworkStreams> {
        let (registry, problems, _) = self.read_all_logs::<RegistryChange>("registry").await?;
        if let Some(p) = problems.first() {
            return Err(self.obj_err(&p.key, &p.detail));
        }
        let (audit, problems, _) = self.read_all_logs::<audit::Entry>("audit").await?;
        if let Some(p) = problems.first() {
            return Err(self.obj_err(&p.key, &p.detail));
        }
        let mut registry: Vec<RegistryChange> = registry;
        registry.sort_by_key(|c| c.seq);
        registry.dedup_by_key(|c| c.seq);
        let mut audit: Vec<audit::Entry> = audit;
        audit.sort_by_key(|e| e.seq);
        audit.dedup_by_key(|e| e.seq);
        let mut versions = dedupe_versions(self.read_versions(None).await?);
        versions.sort_by_key(|v| v.id);
        Ok(NetworkStreams {
            registry,
            audit,
            versions,
        })
    }

    /// The newest audit entry the bucket holds, as a [`audit::Head`]: the end of the newest
    /// audit log object (the one whose key names the highest last sequence number; a damaged
    /// one is skipped for the next). Every shipment's audit log ends with the primary's head
    /// at that time, in an object never overwritten, so the bucket vouches for the primary's
    /// log (`renkei audit verify --against-site`). None when no audit entry was shipped.
    pub async fn audit_head(&self) -> Result<Option<audit::Head>> {
        let mut logs: Vec<(u64, String)> = self
            .list("audit")
            .await?
            .into_iter()
            .filter_map(|(key, _)| log_key_last(&key).map(|last| (last, key)))
            .collect();
        logs.sort_by(|a, b| b.cmp(a));
        for (_, key) in logs {
            let Some(bytes) = self.get_opt(&key).await? else {
                continue;
            };
            if let Ok(entries) = decode_log::<audit::Entry>(&key, &bytes) {
                if let Some(newest) = entries.iter().max_by_key(|e| e.seq) {
                    return Ok(Some(audit::Head::of(newest)));
                }
            }
        }
        Ok(None)
    }

    /// Check the site: every log object against the hash in its key and that it decodes;
    /// every pack object against its name (read in full, streamed); every pack a version log
    /// points at exists. Problems are reported, not raised: only a failure to talk to the
    /// bucket at all is an error. A damaged pack whose every content the logs also place in
    /// an intact pack goes to [`SiteReport::covered`] instead of the problems: that costs
    /// nothing more, since every log is read and every pack hashed here anyway.
    pub async fn verify(&self) -> Result<SiteReport> {
        let mut report = SiteReport {
            site: self.name.clone(),
            ..SiteReport::default()
        };

        // Logs.
        let (lines, mut problems, stats) = self.read_all_logs::<FeedVersion>("versions").await?;
        report.log_problems.append(&mut problems);
        report.add(stats);
        let (_, mut problems, stats) = self.read_all_logs::<RegistryChange>("registry").await?;
        report.log_problems.append(&mut problems);
        report.add(stats);
        let (_, mut problems, stats) = self.read_all_logs::<audit::Entry>("audit").await?;
        report.log_problems.append(&mut problems);
        report.add(stats);

        // Every line counts, not only the deduplicated ones: a relocation repeats a version
        // with another location, and both packs are referenced.
        let placement = Placement::of(&lines);
        report.versions = placement.versions;

        // Packs: every object under packs/, and every referenced pack.
        let listed = self.list("packs").await?;
        let mut present: BTreeMap<String, String> = BTreeMap::new();
        for (key, _) in &listed {
            let stem = key
                .rsplit('/')
                .next()
                .and_then(|f| f.strip_suffix(".pack"))
                .unwrap_or("");
            if is_pack_name(stem) && *key == pack_key(stem) {
                present.insert(stem.to_owned(), key.clone());
            } else {
                report.pack_problems.push(SitePackProblem {
                    pack: stem.to_owned(),
                    key: key.clone(),
                    damage: PackDamage::Corrupt,
                    detail: "not a pack key (packs/xx/<sha256>.pack)".into(),
                    versions: 0,
                });
            }
        }
        let mut damaged: Vec<SitePackProblem> = Vec::new();
        for (name, count) in &placement.versions_in {
            if !present.contains_key(*name) {
                damaged.push(SitePackProblem {
                    pack: (*name).to_owned(),
                    key: pack_key(name),
                    damage: PackDamage::Missing,
                    detail: "a version log points at it but the object is not in the bucket".into(),
                    versions: *count,
                });
            }
        }
        let checked: Vec<(String, String, u64, Option<String>)> = stream::iter(present.clone())
            .map(|(name, key)| async move {
                let (len, problem) = self.check_pack(&name, &key).await?;
                Ok::<_, SiteError>((name, key, len, problem))
            })
            .buffer_unordered(CONCURRENCY)
            .try_collect()
            .await?;
        for (name, key, len, problem) in checked {
            report.packs_checked += 1;
            report.objects_checked += 1;
            report.bytes_checked += len;
            if let Some(detail) = problem {
                damaged.push(SitePackProblem {
                    versions: placement
                        .versions_in
                        .get(name.as_str())
                        .copied()
                        .unwrap_or(0),
                    pack: name,
                    key,
                    damage: PackDamage::Corrupt,
                    detail,
                });
            }
        }

        // A damaged pack is covered when every content it holds is also in an intact pack.
        let bad: BTreeSet<String> = damaged.iter().map(|p| p.pack.clone()).collect();
        let intact = |pack: &str| present.contains_key(pack) && !bad.contains(pack);
        for p in damaged {
            if placement.covered(&p.pack, intact) {
                report.covered.push(p);
            } else {
                report.pack_problems.push(p);
            }
        }
        *self.damaged.lock().unwrap_or_else(|e| e.into_inner()) = bad;

        report.pack_problems.sort_by(|a, b| a.key.cmp(&b.key));
        report.covered.sort_by(|a, b| a.key.cmp(&b.key));
        report.log_problems.sort_by(|a, b| a.key.cmp(&b.key));
        tracing::info!(
            site = %self.name,
            objects = report.objects_checked,
            bytes = report.bytes_checked,
            pack_problems = report.pack_problems.len(),
            covered = report.covered.len(),
            log_problems = report.log_problems.len(),
            "verified S3 site"
        );
        Ok(report)
    }

    /// Stream one pack object through SHA-256: (bytes read, what is wrong).
    async fn check_pack(&self, name: &str, key: &str) -> Result<(u64, Option<String>)> {
        let path = self.path(key)?;
        let got = match self.store.get(&path).await {
            Ok(got) => got,
            Err(object_store::Error::NotFound { .. }) => {
                return Ok((0, Some("listed but gone when read".into())))
            }
            Err(e) => return Err(self.obj_err(key, &chain(&e))),
        };
        let mut chunks = got.into_stream();
        let mut hasher = sha2::Sha256::new();
        let mut len = 0u64;
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk.map_err(|e| self.obj_err(key, &chain(&e)))?;
            len += chunk.len() as u64;
            hasher.update(&chunk);
        }
        let actual = hex::encode(hasher.finalize());
        if actual == name {
            Ok((len, None))
        } else {
            Ok((
                len,
                Some(format!("its bytes hash to {actual}, not to its name")),
            ))
        }
    }

    /// Repair the packs of a report: for each missing or corrupt pack, take a copy from
    /// `source` whose bytes hash to the name and PUT it.
    ///
    /// For a corrupt pack this PUT overwrites the object: the only overwrite this site ever
    /// does, and a safe one, because the new bytes are exactly those the key names (on a
    /// versioned bucket with Object Lock, the damaged version stays, locked, beside it).
    /// Log problems are not repaired here: shipping the primary's streams again (resetting
    /// the site's cursor) writes new, good log objects beside them.
    pub async fn repair(
        &self,
        report: &SiteReport,
        source: &dyn PackSource,
    ) -> Result<RepairOutcome> {
        let writer = self.writer()?;
        let mut out = RepairOutcome::default();
        for p in &report.pack_problems {
            if !is_pack_name(&p.pack) || p.key != pack_key(&p.pack) {
                out.unrepaired.push((
                    p.key.clone(),
                    "not a pack key: left for the operator".into(),
                ));
                continue;
            }
            match source.pack(&p.pack).await? {
                None => out
                    .unrepaired
                    .push((p.pack.clone(), "the source has no copy".into())),
                Some(bytes) if hex_sha(&bytes) != p.pack => out.unrepaired.push((
                    p.pack.clone(),
                    "the source's copy does not hash to the name either".into(),
                )),
                Some(bytes) => {
                    self.put(&*writer, &p.key, bytes).await?;
                    self.forget_damaged(&p.pack);
                    out.repaired.push(p.pack.clone());
                }
            }
        }
        out.unrepaired.extend(log_advice(report));
        tracing::info!(
            site = %self.name,
            repaired = out.repaired.len(),
            unrepaired = out.unrepaired.len(),
            "repaired S3 site"
        );
        Ok(out)
    }

    /// Repair the packs of a report that no identical copy can mend, by *relocation*: for
    /// each damaged pack still damaged (one repaired since the report is skipped), the
    /// contents it holds that have no intact copy elsewhere are taken by hash from `source`
    /// (each checked against its SHA-256; a wrong one is not used), packed anew with
    /// [`PackBuilder`] and PUT under the new pack's name; then, per facility, a new version
    /// log repeats every version line located in the damaged pack with its new location.
    ///
    /// Why not simply re-pack under the old name: a pack's name is the hash of its bytes, and
    /// the primary's packer (or a promoted replica's) does not reproduce another store's
    /// bytes. Relocation writes only new keys — nothing is overwritten or deleted — and the
    /// readers' existing fallback over every known location of a content picks the new copy
    /// up; [`S3Site::verify`] then lists the old pack as covered.
    ///
    /// "Intact" means not listed as damaged (or covered) in `report`. Run again with the same
    /// report and source, it writes the same pack and logs, which are then skipped. Contents
    /// the source lacks leave the pack unrepaired, naming how many; those it had are still
    /// relocated, which shrinks what is at stake. Log problems are reported as in
    /// [`S3Site::repair`].
    pub async fn repair_with_contents(
        &self,
        report: &SiteReport,
        source: &dyn ContentSource,
    ) -> Result<RepairOutcome> {
        let writer = self.writer()?;
        let mut out = RepairOutcome::default();
        // A damaged log only hides lines: relocating the ones readable still helps, and the
        // log itself is reported below.
        let (lines, _, _) = self.read_all_logs::<FeedVersion>("versions").await?;
        let placement = Placement::of(&lines);
        let bad: BTreeSet<&str> = report
            .pack_problems
            .iter()
            .chain(&report.covered)
            .map(|p| p.pack.as_str())
            .collect();
        for p in &report.pack_problems {
            if !is_pack_name(&p.pack) || p.key != pack_key(&p.pack) {
                out.unrepaired.push((
                    p.key.clone(),
                    "not a pack key: left for the operator".into(),
                ));
                continue;
            }
            if self.check_pack(&p.pack, &p.key).await?.1.is_none() {
                // Put back (identically) since the report was made.
                continue;
            }
            let needed: Vec<Sha256> = placement
                .uncovered(&p.pack, |q| !bad.contains(q))
                .into_iter()
                .collect();
            if needed.is_empty() {
                if placement.contents_in.contains_key(p.pack.as_str()) {
                    // Covered by a relocation or re-ship since the report.
                    continue;
                }
                out.unrepaired.push((
                    p.pack.clone(),
                    "no version log places any content in it: nothing to relocate".into(),
                ));
                continue;
            }
            match self
                .relocate(&*writer, &p.pack, &needed, &lines, source)
                .await?
            {
                Relocated::Done {
                    relocation,
                    missing,
                    wrong,
                } => {
                    if missing + wrong > 0 {
                        out.unrepaired.push((
                            p.pack.clone(),
                            format!(
                                "{} of its {} contents at stake relocated to pack {}; {missing} \
                                 not held by the source, {wrong} did not match their hash",
                                relocation.contents,
                                needed.len(),
                                relocation.to
                            ),
                        ));
                    }
                    out.relocated.push(relocation);
                }
                Relocated::Nothing { missing, wrong } => out.unrepaired.push((
                    p.pack.clone(),
                    format!(
                        "the source has none of its {} contents at stake intact ({missing} not \
                         held, {wrong} did not match their hash)",
                        needed.len()
                    ),
                )),
            }
        }
        out.unrepaired.extend(log_advice(report));
        tracing::info!(
            site = %self.name,
            relocated = out.relocated.len(),
            unrepaired = out.unrepaired.len(),
            "relocated damaged packs of S3 site"
        );
        Ok(out)
    }

    /// Relocate the contents `needed` of the damaged pack `damaged`: new pack first, then the
    /// relocation logs, so that no log points at a pack that is not in the bucket.
    async fn relocate(
        &self,
        writer: &dyn ObjectStore,
        damaged: &str,
        needed: &[Sha256],
        lines: &[FeedVersion],
        source: &dyn ContentSource,
    ) -> Result<Relocated> {
        let got = source.contents(needed).await?;
        let (mut missing, mut wrong) = (0u64, 0u64);
        let mut builder = PackBuilder::new();
        // In hash order: the same contents give the same pack, so a second run writes
        // nothing new.
        for sha in needed {
            match got.get(sha) {
                None => missing += 1,
                Some(bytes) if store::packs::sha256(bytes) != *sha => {
                    tracing::warn!(site = %self.name, %sha, "content source returned bytes of another hash: not used");
                    wrong += 1;
                }
                Some(bytes) => builder.add(*sha, bytes)?,
            }
        }
        if builder.is_empty() {
            return Ok(Relocated::Nothing { missing, wrong });
        }
        let pack = builder.finish()?;
        let key = pack_key(&pack.name);
        if self.check_pack(&pack.name, &key).await?.1.is_some() {
            // Absent (or, after an earlier run, damaged: then these exact bytes are what the
            // key names, as in `repair`).
            self.put(writer, &key, pack.bytes).await?;
        }
        self.forget_damaged(&pack.name);
        let moved: HashMap<Sha256, BlobLocation> = pack.locations.into_iter().collect();

        // The version lines located in the damaged pack, once each, with the new location.
        let mut by_facility: BTreeMap<&FacilityCode, BTreeMap<(i64, &str, &str), FeedVersion>> =
            BTreeMap::new();
        for v in lines {
            let (Some(sha), Some(loc)) = (v.sha256, &v.location) else {
                continue;
            };
            let Some(new) = moved.get(&sha) else { continue };
            if loc.pack != damaged {
                continue;
            }
            by_facility.entry(&v.facility).or_default().insert(
                (v.id, v.path.as_str(), v.recorded_at.as_str()),
                FeedVersion {
                    location: Some(new.clone()),
                    ..v.clone()
                },
            );
        }
        let mut shipped = ShipOutcome::default();
        let mut versions = 0u64;
        for (facility, lines) in by_facility {
            let lines: Vec<FeedVersion> = lines.into_values().collect();
            let (first, last) = (lines[0].id, lines[lines.len() - 1].id);
            versions += lines.len() as u64;
            let dir = format!("versions/{facility}");
            self.ship_log(writer, &dir, first, last, &lines, &mut shipped)
                .await?;
        }
        Ok(Relocated::Done {
            relocation: Relocation {
                pack: damaged.to_owned(),
                to: pack.name,
                contents: moved.len() as u64,
                versions,
                log_objects: shipped.log_objects,
            },
            missing,
            wrong,
        })
    }

    // ----- reading logs -----

    /// Every version line of one facility (or of all), duplicates included: they may carry
    /// other locations of the same content ([`select_tree`] dedupes). A damaged log object is an error here: a restore must not silently miss
    /// versions (run verify to see which).
    async fn read_versions(&self, facility: Option<&FacilityCode>) -> Result<Vec<FeedVersion>> {
        let dir = match facility {
            Some(f) => format!("versions/{f}"),
            None => "versions".to_owned(),
        };
        let (versions, problems, _) = self.read_all_logs::<FeedVersion>(&dir).await?;
        if let Some(p) = problems.first() {
            return Err(self.obj_err(&p.key, &p.detail));
        }
        Ok(versions)
    }

    /// Read every log object under `dir`: the items, the objects that failed, and stats.
    async fn read_all_logs<T: DeserializeOwned + Send>(
        &self,
        dir: &str,
    ) -> Result<(Vec<T>, Vec<LogProblem>, LogStats)> {
        let listed = self.list(dir).await?;
        let results: Vec<(String, u64, std::result::Result<Vec<T>, String>)> = stream::iter(listed)
            .map(|(key, size)| async move {
                let bytes = match self.get_opt(&key).await? {
                    Some(b) => b,
                    None => return Ok((key, size, Err("listed but gone when read".into()))),
                };
                let decoded = decode_log::<T>(&key, &bytes);
                Ok::<_, SiteError>((key, bytes.len() as u64, decoded))
            })
            // In listing order: readers see lines in a stable order from run to run.
            .buffered(CONCURRENCY * 2)
            .try_collect()
            .await?;
        let mut items = Vec::new();
        let mut problems = Vec::new();
        let mut stats = LogStats::default();
        for (key, len, r) in results {
            stats.objects += 1;
            stats.bytes += len;
            match r {
                Ok(mut v) => items.append(&mut v),
                Err(detail) => problems.push(LogProblem { key, detail }),
            }
        }
        Ok((items, problems, stats))
    }

    // ----- reading contents -----

    /// Fetch contents with fallback over their locations: per want, its bytes or why not.
    async fn fetch(&self, wants: &[Want<'_>]) -> Vec<Fetched> {
        let n = wants.len();
        let mut results: Vec<Option<Vec<u8>>> = vec![None; n];
        let mut reasons: Vec<Vec<String>> = vec![Vec::new(); n];
        let mut next = vec![0usize; n];
        // Locations in packs known to be damaged go last: after a relocation, the intact
        // copy is read first instead of after a failed request.
        let damaged = self
            .damaged
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let ordered: Vec<Vec<&BlobLocation>> = wants
            .iter()
            .map(|w| {
                let (good, bad): (Vec<&BlobLocation>, Vec<&BlobLocation>) =
                    w.locations.iter().partition(|l| !damaged.contains(&l.pack));
                good.into_iter().chain(bad).collect()
            })
            .collect();
        loop {
            // One round: each unresolved content's next location, grouped by pack and frame.
            let mut plan: BTreeMap<&str, Frames<'_>> = BTreeMap::new();
            for (i, locations) in ordered.iter().enumerate() {
                if results[i].is_some() {
                    continue;
                }
                if let Some(&loc) = locations.get(next[i]) {
                    next[i] += 1;
                    plan.entry(loc.pack.as_str())
                        .or_default()
                        .entry((loc.frame_offset, loc.frame_len))
                        .or_default()
                        .push((i, loc));
                }
            }
            if plan.is_empty() {
                break;
            }
            // Futures built first, not by a closure over borrowed items: such a stream makes
            // this future's `Send` bound higher-ranked, which a boxed `Send` future (an
            // `async_trait` method) cannot prove.
            let pending: Vec<_> = plan
                .into_iter()
                .map(|(pack, frames)| self.fetch_pack(pack, frames, wants))
                .collect();
            let outcomes: Vec<Vec<(usize, Fetched)>> = stream::iter(pending)
                .buffer_unordered(CONCURRENCY)
                .collect()
                .await;
            for (i, r) in outcomes.into_iter().flatten() {
                match r {
                    Ok(bytes) => results[i] = Some(bytes),
                    Err(why) => reasons[i].push(why),
                }
            }
        }
        results
            .into_iter()
            .zip(reasons)
            .map(|(r, why)| match r {
                Some(bytes) => Ok(bytes),
                None if why.is_empty() => Err("no known location in this site".to_owned()),
                None => Err(why.join("; ")),
            })
            .collect()
    }

    /// Fetch the needed frames of one pack, decompress each once, cut the contents out.
    async fn fetch_pack(
        &self,
        pack: &str,
        frames: Frames<'_>,
        wants: &[Want<'_>],
    ) -> Vec<(usize, Fetched)> {
        let fail_all = |why: String| -> Vec<(usize, Fetched)> {
            frames
                .values()
                .flatten()
                .map(|(i, _)| (*i, Err(format!("pack {pack}: {why}"))))
                .collect()
        };
        let missing = || {
            self.mark_damaged(pack);
            fail_all("missing".into())
        };
        if !is_pack_name(pack) {
            return fail_all("not a pack name".into());
        }
        let key = pack_key(pack);
        let path = match self.path(&key) {
            Ok(p) => p,
            Err(e) => return fail_all(chain(&e)),
        };
        let ranges: Vec<Range<u64>> = frames
            .keys()
            .map(|&(off, len)| off..off.saturating_add(u64::from(len)))
            .collect();
        let mut fetched = None;
        if !self.whole_packs.load(Ordering::Relaxed) {
            let size = match self.store.head(&path).await {
                Ok(meta) => meta.size,
                Err(object_store::Error::NotFound { .. }) => return missing(),
                Err(e) => return fail_all(chain(&e)),
            };
            // When most of the pack is needed, one GET of all of it beats many ranges.
            let merged = merge_ranges(&ranges, RANGE_GAP);
            let needed: u64 = merged.iter().map(|r| r.end - r.start).sum();
            if needed.saturating_mul(2) < size && merged.iter().all(|r| r.end < size) {
                match self.store.get_ranges(&path, &ranges).await {
                    Ok(parts) => fetched = Some(parts.into_iter().map(Ok).collect()),
                    Err(object_store::Error::NotFound { .. }) => return missing(),
                    Err(e) => {
                        // Some S3-compatible servers (rclone serve s3 1.75) answer a range
                        // request with 200 and the range, which object_store rightly refuses.
                        // Whole objects are always right, just slower: use them from now on.
                        if !self.whole_packs.swap(true, Ordering::Relaxed) {
                            tracing::warn!(
                                site = %self.name,
                                error = %chain(&e),
                                "range request failed: reading whole packs from this site"
                            );
                        }
                    }
                }
            }
        }
        let fetched: Vec<std::result::Result<Bytes, String>> = match fetched {
            Some(f) => f,
            None => match self.get_whole(&path, &ranges).await {
                Ok(f) => f,
                Err(object_store::Error::NotFound { .. }) => return missing(),
                Err(e) => return fail_all(chain(&e)),
            },
        };
        let mut out = Vec::new();
        for ((_, contents), compressed) in frames.iter().zip(fetched) {
            // Decompress only as far as the furthest content needs: bounded memory even if a
            // damaged frame header claims a huge size.
            let need = contents
                .iter()
                .map(|(_, l)| u64::from(l.offset) + u64::from(l.len))
                .max()
                .unwrap_or(0);
            let frame = compressed.and_then(|c| decompress_prefix(&c, need));
            for (i, loc) in contents {
                let r = match &frame {
                    Ok(frame) => {
                        LocalPacks::extract(frame, loc, &wants[*i].sha).map_err(|e| e.to_string())
                    }
                    Err(why) => Err(format!("pack {pack} frame at {}: {why}", loc.frame_offset)),
                };
                if r.is_err() {
                    // The bytes arrived but are not what the log says: the pack is damaged.
                    self.mark_damaged(pack);
                }
                out.push((*i, r));
            }
        }
        out
    }

    /// GET a whole pack and cut the frames out of it.
    async fn get_whole(
        &self,
        path: &ObjectPath,
        ranges: &[Range<u64>],
    ) -> std::result::Result<Vec<std::result::Result<Bytes, String>>, object_store::Error> {
        let all = self.store.get(path).await?.bytes().await?;
        Ok(ranges
            .iter()
            .map(|r| {
                if r.end <= all.len() as u64 {
                    Ok(all.slice(r.start as usize..r.end as usize))
                } else {
                    Err(format!(
                        "frame {r:?} beyond the end of the pack ({} bytes)",
                        all.len()
                    ))
                }
            })
            .collect())
    }

    // ----- object helpers -----

    /// A store for writing. With `object_lock_days`, every PUT carries
    /// `x-amz-object-lock-mode: COMPLIANCE` and `x-amz-object-lock-retain-until-date` (now +
    /// days), set as default headers of a client built for this call (object_store has no
    /// per-request header for these; its attributes cover only content headers and user
    /// metadata), with a SHA-256 checksum header because S3 requires one on locked PUTs.
    /// Reads use the plain client, so lock headers never go on a GET.
    fn writer(&self) -> Result<Arc<dyn ObjectStore>> {
        let Some(days) = self.object_lock_days else {
            return Ok(self.store.clone());
        };
        let until = model::UnixTime::now()
            .plus_seconds(i64::from(days) * 86_400)
            .rfc3339();
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-amz-object-lock-mode",
            HeaderValue::from_static("COMPLIANCE"),
        );
        headers.insert(
            "x-amz-object-lock-retain-until-date",
            HeaderValue::from_str(&until).map_err(|e| SiteError::Site {
                site: self.name.clone(),
                message: format!("object lock date {until}: {e}"),
            })?,
        );
        let store = self
            .builder
            .clone()
            .with_checksum_algorithm(Checksum::SHA256)
            .with_client_options(
                ClientOptions::new()
                    .with_allow_http(self.allow_http)
                    .with_default_headers(headers),
            )
            .build()
            .map_err(|e| SiteError::Site {
                site: self.name.clone(),
                message: format!("invalid S3 configuration: {e}"),
            })?;
        Ok(Arc::new(store))
    }

    /// The full object path of a key relative to the prefix.
    fn path(&self, key: &str) -> Result<ObjectPath> {
        let full = if self.prefix.is_empty() {
            key.to_owned()
        } else {
            format!("{}/{key}", self.prefix)
        };
        ObjectPath::parse(&full).map_err(|e| self.obj_err(key, &format!("invalid key: {e}")))
    }

    /// Objects under a directory (relative to the prefix): (relative key, size), sorted.
    async fn list(&self, dir: &str) -> Result<Vec<(String, u64)>> {
        let path = self.path(dir)?;
        let metas: Vec<object_store::ObjectMeta> = self
            .store
            .list(Some(&path))
            .try_collect()
            .await
            .map_err(|e| self.obj_err(&format!("{dir}/"), &chain(&e)))?;
        let strip = if self.prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", self.prefix)
        };
        let mut out: Vec<(String, u64)> = metas
            .into_iter()
            .filter_map(|m| {
                let full = m.location.to_string();
                full.strip_prefix(&strip).map(|k| (k.to_owned(), m.size))
            })
            .collect();
        out.sort();
        Ok(out)
    }

    async fn exists(&self, key: &str) -> Result<bool> {
        match self.store.head(&self.path(key)?).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(self.obj_err(key, &format!("HEAD failed: {}", chain(&e)))),
        }
    }

    async fn get_opt(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let path = self.path(key)?;
        let got = match self.store.get(&path).await {
            Ok(g) => g,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(self.obj_err(key, &format!("GET failed: {}", chain(&e)))),
        };
        let bytes = got
            .bytes()
            .await
            .map_err(|e| self.obj_err(key, &format!("GET failed: {}", chain(&e))))?;
        Ok(Some(bytes.to_vec()))
    }

    async fn put(&self, writer: &dyn ObjectStore, key: &str, bytes: Vec<u8>) -> Result<()> {
        writer
            .put(&self.path(key)?, bytes.into())
            .await
            .map_err(|e| self.obj_err(key, &format!("PUT failed: {}", chain(&e))))?;
        Ok(())
    }

    /// Note a pack as damaged: reads try other locations first (see `damaged`).
    fn mark_damaged(&self, pack: &str) {
        self.damaged
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(pack.to_owned());
    }

    /// A pack was put back intact.
    fn forget_damaged(&self, pack: &str) {
        self.damaged
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(pack);
    }

    fn obj_err(&self, key: &str, message: &str) -> SiteError {
        SiteError::Object {
            site: self.name.clone(),
            key: key.to_owned(),
            message: message.to_owned(),
        }
    }
}

/// What [`S3Site::relocate`] did with one damaged pack.
enum Relocated {
    /// A new pack and its logs were written; `missing` and `wrong` contents were left out.
    Done {
        relocation: Relocation,
        missing: u64,
        wrong: u64,
    },
    /// The source gave no usable content: nothing was written.
    Nothing { missing: u64, wrong: u64 },
}

/// A content read back, or why it could not be.
type Fetched = std::result::Result<Vec<u8>, String>;
/// The frames of one pack to fetch, each with the contents (want index, location) in it.
type Frames<'a> = BTreeMap<(u64, u32), Vec<(usize, &'a BlobLocation)>>;

/// One content to read: its hash and where it may be.
struct Want<'a> {
    sha: Sha256,
    locations: &'a [BlobLocation],
}

/// Where the contents of the version lines are, as the logs tell (every line, duplicates
/// and relocations included): what verify and the content repair reason about.
#[derive(Debug, Default)]
struct Placement<'a> {
    /// Distinct versions (facility, path, recorded_at, sha256).
    versions: u64,
    /// Per pack: distinct versions with a line located in it.
    versions_in: BTreeMap<&'a str, u64>,
    /// Per pack: the contents the logs place in it.
    contents_in: BTreeMap<&'a str, BTreeSet<Sha256>>,
    /// Per content: the packs the logs place it in.
    holders: HashMap<Sha256, BTreeSet<&'a str>>,
}

type VersionKey<'a> = (&'a FacilityCode, &'a str, &'a str, Option<Sha256>);

impl<'a> Placement<'a> {
    fn of(lines: &'a [FeedVersion]) -> Placement<'a> {
        let mut out = Placement::default();
        let mut versions: HashSet<VersionKey<'a>> = HashSet::new();
        let mut placed: HashSet<(VersionKey<'a>, &'a str)> = HashSet::new();
        for v in lines {
            let key = (
                &v.facility,
                v.path.as_str(),
                v.recorded_at.as_str(),
                v.sha256,
            );
            versions.insert(key);
            let Some(loc) = &v.location else { continue };
            let pack = loc.pack.as_str();
            if placed.insert((key, pack)) {
                *out.versions_in.entry(pack).or_default() += 1;
            }
            if let Some(sha) = v.sha256 {
                out.contents_in.entry(pack).or_default().insert(sha);
                out.holders.entry(sha).or_default().insert(pack);
            }
        }
        out.versions = versions.len() as u64;
        out
    }

    /// The contents of `pack` that no other pack for which `intact` holds has a copy of.
    fn uncovered(&self, pack: &str, intact: impl Fn(&str) -> bool) -> BTreeSet<Sha256> {
        self.contents_in
            .get(pack)
            .into_iter()
            .flatten()
            .filter(|sha| {
                !self
                    .holders
                    .get(*sha)
                    .into_iter()
                    .flatten()
                    .any(|q| *q != pack && intact(q))
            })
            .copied()
            .collect()
    }

    /// Whether every content of `pack` has an intact copy elsewhere. A pack the logs place
    /// nothing in is not covered: nothing vouches for it (its log may be the damaged one).
    fn covered(&self, pack: &str, intact: impl Fn(&str) -> bool) -> bool {
        self.contents_in.get(pack).is_some_and(|c| !c.is_empty())
            && self.uncovered(pack, intact).is_empty()
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct LogStats {
    objects: u64,
    bytes: u64,
}

impl SiteReport {
    fn add(&mut self, stats: LogStats) {
        self.log_objects += stats.objects;
        self.objects_checked += stats.objects;
        self.bytes_checked += stats.bytes;
    }
}

/// Every place the versions' logs give for each content, in the order first seen: a read
/// falls back from one to the next when a pack is damaged.
pub fn content_places(versions: &[FeedVersion]) -> HashMap<Sha256, Vec<&BlobLocation>> {
    let mut places: HashMap<Sha256, Vec<&BlobLocation>> = HashMap::new();
    for v in versions {
        if let (Some(sha), Some(loc)) = (v.sha256, &v.location) {
            let locs = places.entry(sha).or_default();
            if !locs.contains(&loc) {
                locs.push(loc);
            }
        }
    }
    places
}

/// Drop duplicate version lines (the same shipment twice, overlapping logs): one per (path,
/// recorded_at, sha256), keeping the highest id, with every location seen kept on it when
/// they differ (the first one stays in front).
pub fn dedupe_versions(versions: Vec<FeedVersion>) -> Vec<FeedVersion> {
    type Key = (FacilityCode, String, String, Option<Sha256>);
    let mut seen: BTreeMap<Key, FeedVersion> = BTreeMap::new();
    for v in versions {
        let key = (
            v.facility.clone(),
            v.path.clone(),
            v.recorded_at.clone(),
            v.sha256,
        );
        match seen.get_mut(&key) {
            Some(kept) if v.id > kept.id => {
                let location = v.location.clone().or_else(|| kept.location.clone());
                *kept = FeedVersion { location, ..v };
            }
            Some(kept) => {
                if kept.location.is_none() {
                    kept.location = v.location;
                }
            }
            None => {
                seen.insert(key, v);
            }
        }
    }
    seen.into_values().collect()
}

/// The tree as of `as_of` (RFC 3339, compared as strings — the store writes one fixed UTC
/// form; None = latest): per path the newest version with `recorded_at <= as_of` (ties: the
/// higher id), dropping paths whose newest version is a removal. Each file lists every known
/// location of its content — its own first, then those of other versions with the same hash
/// — so a read can fall back when a pack is damaged. Sorted by path.
pub fn select_tree(versions: &[FeedVersion], as_of: Option<&str>) -> Vec<SiteFile> {
    let alternates = content_places(versions);
    let mut newest: BTreeMap<&str, &FeedVersion> = BTreeMap::new();
    for v in versions {
        if as_of.is_some_and(|t| v.recorded_at.as_str() > t) {
            continue;
        }
        match newest.get(v.path.as_str()) {
            Some(kept)
                if (kept.recorded_at.as_str(), kept.id) >= (v.recorded_at.as_str(), v.id) => {}
            _ => {
                newest.insert(&v.path, v);
            }
        }
    }
    newest
        .into_values()
        .filter_map(|v| {
            let sha = v.sha256?;
            let mut locations: Vec<BlobLocation> = v.location.iter().cloned().collect();
            for loc in alternates.get(&sha).into_iter().flatten() {
                if !locations.contains(loc) {
                    locations.push((*loc).clone());
                }
            }
            Some(SiteFile {
                path: v.path.clone(),
                sha256: sha,
                size: v.size,
                recorded_at: v.recorded_at.clone(),
                locations,
            })
        })
        .collect()
}

/// JSON lines, zstd-compressed.
fn encode_log<T: Serialize>(items: &[T]) -> std::result::Result<Vec<u8>, String> {
    let mut text = Vec::new();
    for item in items {
        serde_json::to_writer(&mut text, item).map_err(|e| format!("cannot encode: {e}"))?;
        text.push(b'\n');
    }
    zstd::bulk::compress(&text, LOG_ZSTD_LEVEL).map_err(|e| format!("cannot compress: {e}"))
}

/// Check a log object against the hash in its key, decompress and parse its lines.
fn decode_log<T: DeserializeOwned>(key: &str, bytes: &[u8]) -> std::result::Result<Vec<T>, String> {
    let Some(h16) = log_key_hash(key) else {
        return Err("not a log key (<first>-<last>-<h16>.jsonl.zst)".into());
    };
    let actual = hex_sha(bytes);
    if !actual.starts_with(h16) {
        return Err(format!(
            "its bytes hash to {}…, not to the {h16} in its key",
            &actual[..16]
        ));
    }
    let text = zstd::stream::decode_all(bytes).map_err(|e| format!("cannot decompress: {e}"))?;
    text.split(|&b| b == b'\n')
        .enumerate()
        .filter(|(_, line)| !line.is_empty())
        .map(|(n, line)| serde_json::from_slice(line).map_err(|e| format!("line {}: {e}", n + 1)))
        .collect()
}

/// The last sequence number a log key `…/{first:020}-{last:020}-{h16}.jsonl.zst` names.
fn log_key_last(key: &str) -> Option<u64> {
    log_key_hash(key)?;
    let file = key.rsplit('/').next()?;
    file.split('-').nth(1)?.parse().ok()
}

/// The h16 of a log key `…/{first:020}-{last:020}-{h16}.jsonl.zst`.
fn log_key_hash(key: &str) -> Option<&str> {
    let file = key.rsplit('/').next()?.strip_suffix(".jsonl.zst")?;
    let mut parts = file.split('-');
    let (first, last, h16) = (parts.next()?, parts.next()?, parts.next()?);
    let digits = |s: &str| s.len() == 20 && s.bytes().all(|b| b.is_ascii_digit());
    let hex16 = h16.len() == 16 && h16.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    (parts.next().is_none() && digits(first) && digits(last) && hex16).then_some(h16)
}

/// Decompress a frame up to `need` bytes.
fn decompress_prefix(frame: &[u8], need: u64) -> std::result::Result<Vec<u8>, String> {
    let decoder = zstd::stream::read::Decoder::with_buffer(frame)
        .map_err(|e| format!("bad zstd frame: {e}"))?
        .single_frame();
    let mut out = Vec::with_capacity(need.min(16 << 20) as usize);
    decoder
        .take(need)
        .read_to_end(&mut out)
        .map_err(|e| format!("bad zstd frame: {e}"))?;
    Ok(out)
}

/// Sorted, merged ranges: two ranges closer than `gap` become one.
fn merge_ranges(ranges: &[Range<u64>], gap: u64) -> Vec<Range<u64>> {
    let mut sorted = ranges.to_vec();
    sorted.sort_by_key(|r| (r.start, r.end));
    let mut out: Vec<Range<u64>> = Vec::new();
    for r in sorted {
        match out.last_mut() {
            Some(last) if r.start <= last.end.saturating_add(gap) => last.end = last.end.max(r.end),
            _ => out.push(r),
        }
    }
    out
}

/// An error and its sources: object_store's own message hides the HTTP cause.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

fn pack_key(name: &str) -> String {
    format!("packs/{}/{name}.pack", &name[..2.min(name.len())])
}

fn is_pack_name(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn hex_sha(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Damaged log objects are not mended by a repair: the primary's next shipment of the same
/// items writes a good copy under a new key.
fn log_advice(report: &SiteReport) -> impl Iterator<Item = (String, String)> + '_ {
    report.log_problems.iter().map(|l| {
        (
            l.key.clone(),
            format!(
                "{}: ship the primary's streams again to write a good copy",
                l.detail
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fac(s: &str) -> FacilityCode {
        FacilityCode::parse(s).unwrap()
    }

    fn loc(pack: char, frame: u64) -> BlobLocation {
        BlobLocation {
            pack: pack.to_string().repeat(64),
            frame_offset: frame,
            frame_len: 10,
            offset: 0,
            len: 3,
        }
    }

    fn v(id: i64, path: &str, sha: Option<u8>, at: &str, l: Option<BlobLocation>) -> FeedVersion {
        FeedVersion {
            id,
            facility: fac("1310000001"),
            path: path.into(),
            sha256: sha.map(|b| Sha256([b; 32])),
            size: 3,
            recorded_at: at.into(),
            location: l,
            accept_unterminated: false,
        }
    }

    #[test]
    fn tree_selection() {
        let versions = vec![
            v(1, "a", Some(1), "2024-01-01T00:00:00Z", Some(loc('a', 0))),
            v(2, "b", Some(2), "2024-01-01T00:00:00Z", Some(loc('a', 10))),
            v(3, "a", Some(3), "2024-02-01T00:00:00Z", Some(loc('b', 0))),
            v(4, "b", None, "2024-03-01T00:00:00Z", None),
            // The same content as `b` elsewhere: an alternate location for c.
            v(5, "c", Some(2), "2024-03-01T00:00:00Z", Some(loc('c', 0))),
            // Same recorded_at as id 5: the higher id wins.
            v(6, "c", Some(9), "2024-03-01T00:00:00Z", Some(loc('c', 20))),
        ];
        let latest = select_tree(&versions, None);
        let got: Vec<(&str, u8)> = latest
            .iter()
            .map(|f| (f.path.as_str(), f.sha256.0[0]))
            .collect();
        assert_eq!(got, vec![("a", 3), ("c", 9)]);

        let jan = select_tree(&versions, Some("2024-01-15T00:00:00Z"));
        let got: Vec<(&str, u8)> = jan
            .iter()
            .map(|f| (f.path.as_str(), f.sha256.0[0]))
            .collect();
        assert_eq!(got, vec![("a", 1), ("b", 2)]);
        // b's content is also where c's first version put it: kept as an alternate.
        assert_eq!(jan[1].locations, vec![loc('a', 10), loc('c', 0)]);

        // Inclusive bound; nothing before the first version.
        assert_eq!(
            select_tree(&versions, Some("2024-02-01T00:00:00Z"))[0]
                .sha256
                .0[0],
            3
        );
        assert!(select_tree(&versions, Some("2023-12-31T00:00:00Z")).is_empty());
    }

    #[test]
    fn dedupe_keeps_one_per_version_and_every_location() {
        let mut versions = vec![
            v(1, "a", Some(1), "2024-01-01T00:00:00Z", Some(loc('a', 0))),
            v(1, "a", Some(1), "2024-01-01T00:00:00Z", Some(loc('a', 0))),
            v(7, "a", Some(1), "2024-01-01T00:00:00Z", Some(loc('b', 0))),
        ];
        versions.push(v(2, "a", None, "2024-02-01T00:00:00Z", None));
        let d = dedupe_versions(versions.clone());
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].id, 7);
        // The other location survives as an alternate through select_tree on the raw lines.
        let tree = select_tree(&versions, Some("2024-01-02T00:00:00Z"));
        assert_eq!(tree[0].locations.len(), 2);
    }

    #[test]
    fn ranges_merge_when_close() {
        assert_eq!(
            merge_ranges(&[30..40, 0..10, 12..20, 5..8], 2),
            vec![0..20, 30..40]
        );
        assert_eq!(merge_ranges(&[0..10, 20..30], 100), vec![0..30]);
        assert!(merge_ranges(&[], 1).is_empty());
    }

    #[test]
    fn log_round_trip_and_key_check() {
        let versions = vec![v(
            1,
            "a",
            Some(1),
            "2024-01-01T00:00:00Z",
            Some(loc('a', 0)),
        )];
        let bytes = encode_log(&versions).unwrap();
        let key = format!(
            "versions/1310000001/{:020}-{:020}-{}.jsonl.zst",
            1,
            1,
            &hex_sha(&bytes)[..16]
        );
        assert_eq!(decode_log::<FeedVersion>(&key, &bytes).unwrap(), versions);
        let mut bad = bytes.clone();
        bad[5] ^= 1;
        assert!(decode_log::<FeedVersion>(&key, &bad)
            .unwrap_err()
            .contains("hash"));
        assert!(decode_log::<FeedVersion>("versions/x/nope.jsonl.zst", &bytes).is_err());
    }
}
