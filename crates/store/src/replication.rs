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
    /// When the change was journaled (RFC 3339, UTC, seconds): what a network rebuilt
    /// `--as-of` a time compares with. None for changes journaled before renkei kept it (they
    /// count as older than any time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
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
    /// The primary classified it with `--accept-unterminated`: every copy does the same.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub accept_unterminated: bool,
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

/// A file version as every backend reads it for the feed (its row joined with its blob's
/// location), before it is checked and typed.
pub struct VersionRow {
    pub id: i64,
    pub facility: String,
    pub path: String,
    pub sha256: Option<Vec<u8>>,
    pub size: i64,
    pub recorded_at: String,
    pub pack: Option<String>,
    pub frame_offset: Option<i64>,
    pub frame_len: Option<i64>,
    pub offset: Option<i64>,
    pub accept_unterminated: bool,
}

impl VersionRow {
    pub fn into_feed_version(self) -> Result<FeedVersion> {
        let corrupt = |what: &str, e: String| crate::StoreError::Corrupt(format!("{what}: {e}"));
        let facility = FacilityCode::parse(&self.facility)
            .map_err(|e| corrupt("facility code", format!("{}: {e}", self.facility)))?;
        let sha256 = self
            .sha256
            .map(|b| {
                <[u8; 32]>::try_from(b)
                    .map(Sha256)
                    .map_err(|_| corrupt("file version", "stored hash is not 32 bytes".into()))
            })
            .transpose()?;
        let location = match (
            sha256,
            self.pack,
            self.frame_offset,
            self.frame_len,
            self.offset,
        ) {
            (Some(_), Some(pack), Some(fo), Some(fl), Some(o)) => Some(BlobLocation {
                pack,
                frame_offset: fo as u64,
                frame_len: fl as u32,
                offset: o as u32,
                len: self.size as u32,
            }),
            (Some(sha), ..) => {
                return Err(corrupt(
                    "file version",
                    format!("content {sha} has no blob entry"),
                ))
            }
            _ => None,
        };
        Ok(FeedVersion {
            id: self.id,
            facility,
            path: self.path,
            sha256,
            size: self.size as u64,
            recorded_at: self.recorded_at,
            location,
            accept_unterminated: self.accept_unterminated,
        })
    }
}

/// Whether a primary's audit entry is to be appended here (true) or is already here (false),
/// given this copy's chain head; `stored_hash` gives the hash held here for the entry's
/// number when it is at or before the head. An entry that would fork the chain is refused:
/// a copy never holds an entry the primary's chain would not verify.
pub fn replicated_audit_step(
    head: Option<(u64, [u8; 32])>,
    entry: &audit::Entry,
    stored_hash: impl FnOnce() -> Result<Option<Vec<u8>>>,
) -> Result<bool> {
    if let Some((seq, _)) = head {
        if entry.seq <= seq {
            let Some(here) = stored_hash()? else {
                return Err(crate::StoreError::Database(format!(
                    "audit entry {} is missing here although the chain is past it",
                    entry.seq
                )));
            };
            if here != entry.hash {
                return Err(crate::StoreError::Conflict(format!(
                    "audit entry {} differs from the one already replicated here: the primary's chain has changed",
                    entry.seq
                )));
            }
            return Ok(false);
        }
    }
    let expected = audit::append(head.as_ref().map(|(s, h)| (s, h)), entry.event.clone());
    if expected.seq != entry.seq
        || expected.hash != entry.hash
        || expected.prev_hash != entry.prev_hash
    {
        return Err(crate::StoreError::Conflict(format!(
            "audit entry {} does not continue the chain held here (head {})",
            entry.seq,
            head.map(|h| h.0).unwrap_or(0)
        )));
    }
    Ok(true)
}
