//! Replication streams, point-in-time reads and blob checks on PostgreSQL.

use async_trait::async_trait;
use model::Sha256;
use store::{
    Backlog, BlobReport, FacilityId, Feed, FeedCursor, ImportRunId, NodeRole, RegistryChange,
    Replication, Result, SiteState, StoredFile,
};

use crate::PgStore;

#[async_trait]
impl Replication for PgStore {
    async fn feed(&self, after: &FeedCursor, limit: usize) -> Result<Feed> {
        unimplemented!("feed")
    }

    async fn backlog(&self, after: &FeedCursor) -> Result<Backlog> {
        unimplemented!("backlog")
    }

    async fn site_state(&self, site: &str) -> Result<SiteState> {
        unimplemented!("site_state")
    }

    async fn put_site_state(&self, state: &SiteState) -> Result<()> {
        unimplemented!("put_site_state")
    }

    async fn node_role(&self) -> Result<NodeRole> {
        unimplemented!("node_role")
    }

    async fn set_node_role(&self, role: &NodeRole) -> Result<()> {
        unimplemented!("set_node_role")
    }

    async fn apply_registry(&self, changes: &[RegistryChange]) -> Result<()> {
        unimplemented!("apply_registry")
    }

    async fn apply_audit(&self, entries: &[audit::Entry]) -> Result<()> {
        unimplemented!("apply_audit")
    }

    async fn apply_removals(
        &self,
        facility: FacilityId,
        run: ImportRunId,
        removals: &[(String, String)],
    ) -> Result<u64> {
        unimplemented!("apply_removals")
    }

    async fn files_as_of(
        &self,
        facility: FacilityId,
        as_of: Option<&str>,
    ) -> Result<Vec<StoredFile>> {
        unimplemented!("files_as_of")
    }

    async fn oldest_version_at(&self) -> Result<Option<String>> {
        unimplemented!("oldest_version_at")
    }

    async fn verify_blobs(&self) -> Result<BlobReport> {
        unimplemented!("verify_blobs")
    }

    async fn read_pack(&self, name: &str) -> Result<Option<Vec<u8>>> {
        unimplemented!("read_pack")
    }

    async fn restore_pack(&self, name: &str, bytes: &[u8]) -> Result<()> {
        unimplemented!("restore_pack")
    }

    async fn repack_contents(&self, contents: Vec<(Sha256, Vec<u8>)>) -> Result<u64> {
        unimplemented!("repack_contents")
    }
}
