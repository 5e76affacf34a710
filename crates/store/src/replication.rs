//! What a store hands to replication (off-site copies) and takes back on a replica.
//!
//! Three ordered streams leave a primary, each with its own cursor:
//! - **registry changes**: every insert/update/delete of the network's own tables (facilities,
//!   regional IDs, links, merges, consents, users, API keys, settings), journaled by the
//!   database itself in the same transaction as the change, so none can be missed;
//! - **audit entries**, by sequence number (already an append-only log);
//! - **file versions**, by version id (already an append-only log): every raw file accepted,
//!   and every removal from a facility's tree, with when the network recorded it.
//!
//! Records, clinical facts, local demographics and quarantine are *derived* from the raw files
//! by the ingest; a replica derives them again from the same bytes, so they are not shipped.
//! Sign-in sessions are per server and are not shipped either.

use async_trait::async_trait;
use model::{FacilityCode, Sha256};
use serde::{Deserialize, Serialize};

use crate::{BlobLocation, FacilityId, ImportRunId, Result, StoredFile};

/// How far a site has received each stream (the last item shipped, 0 = nothing).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedCursor {
    pub registry: i64,
    pub audit: u64,
    pub version: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RowOp {
    Upsert,
    Delete,
}

/// One change of one registry row. `row` maps column names to values; BLOB columns are hex
/// strings. For a delete it holds the primary key only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegistryChange {
    pub seq: i64,
    pub table: String,
    pub op: RowOp,
    pub row: serde_json::Map<String, serde_json::Value>,
}

/// One version of one file of a facility's tree. `sha256: None` is a removal from the tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedVersion {
    pub id: i64,
    pub facility: FacilityCode,
    pub path: String,
    pub sha256: Option<Sha256>,
    pub size: u64,
    /// When the network accepted it (RFC 3339, UTC): what `--as-of` compares with.
    pub recorded_at: String,
    /// Where the content is in this store's packs (None for a removal).
    pub location: Option<BlobLocation>,
}

/// The next items of each stream after a cursor, and the cursor after them. The three lists
/// are read in one database snapshot, so every version's facility is in `registry` of this or
/// an earlier feed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Feed {
    pub registry: Vec<RegistryChange>,
    pub audit: Vec<audit::Entry>,
    pub versions: Vec<FeedVersion>,
    pub next: FeedCursor,
}

impl Feed {
    pub fn is_empty(&self) -> bool {
        self.registry.is_empty() && self.audit.is_empty() && self.versions.is_empty()
    }
}

/// What a site has not received yet.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Backlog {
    pub registry: u64,
    pub audit: u64,
    pub versions: u64,
    /// `recorded_at` of the oldest version not shipped: the lag in time.
    pub oldest_version_at: Option<String>,
}

impl Backlog {
    pub fn is_empty(&self) -> bool {
        self.registry == 0 && self.audit == 0 && self.versions == 0
    }
}

/// The primary's record of one remote site.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteState {
    pub name: String,
    pub cursor: FeedCursor,
    /// When a shipment last succeeded (RFC 3339).
    pub last_ok_at: Option<String>,
    /// The last failure, cleared by the next success.
    pub last_error: Option<String>,
    pub last_error_at: Option<String>,
    /// File versions shipped in total.
    pub shipped_versions: u64,
}

/// What this data folder is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum NodeRole {
    /// Serves the network and ships to its sites.
    Primary,
    /// Receives a primary's streams and serves nothing else until promoted.
    Replica {
        /// How far the primary's streams have been applied here.
        applied: FeedCursor,
        /// When the last shipment was applied (RFC 3339).
        applied_at: Option<String>,
    },
}

/// One pack's state in a verify.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackProblem {
    pub pack: String,
    /// `missing` or `corrupt`.
    pub problem: String,
    /// Contents of the pack that cannot be read back intact.
    pub bad_contents: Vec<Sha256>,
    /// Contents of the pack still readable (kept when the pack is rebuilt).
    pub good_contents: Vec<Sha256>,
}

/// The result of checking every stored content of a store.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobReport {
    pub packs_checked: u64,
    pub contents_checked: u64,
    pub bytes_checked: u64,
    pub problems: Vec<PackProblem>,
}

impl BlobReport {
    pub fn bad_contents(&self) -> impl Iterator<Item = &Sha256> {
        self.problems.iter().flat_map(|p| p.bad_contents.iter())
    }
}

/// Replication, point-in-time reads and blob checks: what every backend offers besides
/// [`crate::Store`]'s ingest and viewer reads.
#[async_trait]
pub trait Replication {
    /// Up to `limit` items of each stream after `after`, read in one snapshot.
    async fn feed(&self, after: &FeedCursor, limit: usize) -> Result<Feed>;

    /// What is after `after` in each stream.
    async fn backlog(&self, after: &FeedCursor) -> Result<Backlog>;

    async fn site_state(&self, site: &str) -> Result<SiteState>;

    async fn put_site_state(&self, state: &SiteState) -> Result<()>;

    async fn node_role(&self) -> Result<NodeRole>;

    async fn set_node_role(&self, role: &NodeRole) -> Result<()>;

    /// Apply a primary's registry changes, in order (replica).
    async fn apply_registry(&self, changes: &[RegistryChange]) -> Result<()>;

    /// Append a primary's audit entries as they are (same sequence numbers and hashes),
    /// refusing any that does not continue the chain here (replica). Entries already present
    /// are skipped.
    async fn apply_audit(&self, entries: &[audit::Entry]) -> Result<()>;

    /// Mark paths removed from a facility's tree at the primary's `recorded_at` (replica).
    /// Paths already removed are skipped.
    async fn apply_removals(
        &self,
        facility: FacilityId,
        run: ImportRunId,
        removals: &[(String, String)],
    ) -> Result<u64>;

    /// The facility's tree as it stood at `as_of` (RFC 3339; None = now): for each path, its
    /// newest version recorded at or before that time, unless that version is a removal.
    async fn files_as_of(
        &self,
        facility: FacilityId,
        as_of: Option<&str>,
    ) -> Result<Vec<StoredFile>>;

    /// `recorded_at` of the oldest file version kept: `--as-of` earlier than this has nothing.
    async fn oldest_version_at(&self) -> Result<Option<String>>;

    /// Check every pack against its name (the SHA-256 of its bytes); for a damaged one, find
    /// which contents can still be read back intact.
    async fn verify_blobs(&self) -> Result<BlobReport>;

    /// The bytes of one pack, as stored (for shipping to an S3 site and repairing there).
    async fn read_pack(&self, name: &str) -> Result<Option<Vec<u8>>>;

    /// Put back a pack whose bytes hash to its name (repair from an identical copy).
    async fn restore_pack(&self, name: &str, bytes: &[u8]) -> Result<()>;

    /// Store these contents in a new pack and point every blob entry of them there (repair
    /// from contents found elsewhere). Each content is checked against its hash first.
    async fn repack_contents(&self, contents: Vec<(Sha256, Vec<u8>)>) -> Result<u64>;
}
