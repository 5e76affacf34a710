//! Where the packs live: an object store, a local folder by default (the same layout as the
//! embedded store's `blobs/` folder, so a network moved from SQLite can keep its packs where
//! they are) or an S3-compatible bucket when several servers share one network.
//!
//! ```text
//! ROOT/xx/<name>.pack     immutable packs, named by the SHA-256 of their bytes
//! ROOT/damaged/…          packs replaced by a repair, kept for inspection
//! ROOT/audit-head         the audit chain's newest (seq, hash), outside the database
//! ```

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use store::{Result, StoreError};

/// Where the blob store is, as configured (`RENKEI_BLOBS`).
#[derive(Clone, PartialEq, Eq)]
pub enum BlobsLocation {
    /// A local folder (created when missing).
    Local(PathBuf),
    /// An S3-compatible bucket.
    S3(S3Location),
}

#[derive(Clone, PartialEq, Eq, Default)]
pub struct S3Location {
    pub bucket: String,
    /// Key prefix without slashes at either end ("" = the bucket's root).
    pub prefix: String,
    /// `http(s)://host:port` of an S3-compatible server; None = AWS itself.
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
}

impl std::fmt::Debug for BlobsLocation {
    // No secrets in logs or error messages.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.describe())
    }
}

impl BlobsLocation {
    /// `s3://bucket/prefix` or a folder (`/srv/renkei/blobs`, `file:///srv/renkei/blobs`).
    /// For S3 the endpoint, region and keys come from the standard AWS variables
    /// (`AWS_ENDPOINT_URL`, `AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`) unless
    /// the caller sets them.
    pub fn parse(text: &str) -> Result<BlobsLocation> {
        let text = text.trim();
        if let Some(rest) = text.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(StoreError::Conflict(format!(
                    "blob store {text:?}: the bucket name is missing (s3://bucket/prefix)"
                )));
            }
            let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
            return Ok(BlobsLocation::S3(S3Location {
                bucket: bucket.to_owned(),
                prefix: prefix.trim_matches('/').to_owned(),
                endpoint: env("AWS_ENDPOINT_URL").or_else(|| env("AWS_ENDPOINT")),
                region: env("AWS_REGION").or_else(|| env("AWS_DEFAULT_REGION")),
                access_key_id: env("AWS_ACCESS_KEY_ID"),
                secret_access_key: env("AWS_SECRET_ACCESS_KEY"),
            }));
        }
        let path = text.strip_prefix("file://").unwrap_or(text);
        if path.is_empty() {
            return Err(StoreError::Conflict(
                "blob store: empty location (a folder or s3://bucket/prefix)".into(),
            ));
        }
        if text.contains("://") && !text.starts_with("file://") {
            return Err(StoreError::Conflict(format!(
                "blob store {text:?}: only a folder, file:// or s3:// is understood"
            )));
        }
        Ok(BlobsLocation::Local(PathBuf::from(path)))
    }

    pub fn describe(&self) -> String {
        match self {
            BlobsLocation::Local(p) => p.display().to_string(),
            BlobsLocation::S3(s) if s.prefix.is_empty() => format!("s3://{}", s.bucket),
            BlobsLocation::S3(s) => format!("s3://{}/{}", s.bucket, s.prefix),
        }
    }
}

/// The pack store of one network.
#[derive(Clone)]
pub struct Blobs {
    store: Arc<dyn ObjectStore>,
    prefix: String,
    /// The folder, when local: written files are fsynced (object_store renames a temporary
    /// file into place but does not flush it; a pack must survive a power cut before the index
    /// that points at it is committed).
    local_root: Option<PathBuf>,
    location: BlobsLocation,
    /// Set once the server answered a range request with a whole object.
    whole_packs: Arc<AtomicBool>,
}

fn blob_err(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Blob {
        path: what.to_owned(),
        source: std::io::Error::other(e.to_string()),
    }
}

impl Blobs {
    pub fn open(location: &BlobsLocation) -> Result<Blobs> {
        match location {
            BlobsLocation::Local(root) => {
                // Raw records: a private folder, like the embedded store's data folder.
                store::private::create_private_dir_all(root).map_err(|e| StoreError::Blob {
                    path: root.display().to_string(),
                    source: e,
                })?;
                let root = root.canonicalize().map_err(|e| StoreError::Blob {
                    path: root.display().to_string(),
                    source: e,
                })?;
                let store = LocalFileSystem::new_with_prefix(&root)
                    .map_err(|e| blob_err(&root.display().to_string(), e))?;
                Ok(Blobs {
                    store: Arc::new(store),
                    prefix: String::new(),
                    local_root: Some(root),
                    location: location.clone(),
                    whole_packs: Arc::new(AtomicBool::new(false)),
                })
            }
            BlobsLocation::S3(s3) => {
                let mut builder = AmazonS3Builder::new()
                    .with_bucket_name(&s3.bucket)
                    .with_region(s3.region.as_deref().unwrap_or("us-east-1"));
                if let Some(endpoint) = &s3.endpoint {
                    // Path-style requests: what every S3-compatible server understands.
                    builder = builder
                        .with_endpoint(endpoint)
                        .with_virtual_hosted_style_request(false)
                        .with_allow_http(endpoint.starts_with("http://"));
                }
                if let Some(key) = &s3.access_key_id {
                    builder = builder.with_access_key_id(key);
                }
                if let Some(secret) = &s3.secret_access_key {
                    builder = builder.with_secret_access_key(secret);
                }
                let store = builder
                    .build()
                    .map_err(|e| blob_err(&location.describe(), e))?;
                if !s3.prefix.is_empty() {
                    ObjectPath::parse(&s3.prefix).map_err(|e| {
                        StoreError::Conflict(format!("blob store prefix {:?}: {e}", s3.prefix))
                    })?;
                }
                Ok(Blobs {
                    store: Arc::new(store),
                    prefix: s3.prefix.clone(),
                    local_root: None,
                    location: location.clone(),
                    whole_packs: Arc::new(AtomicBool::new(false)),
                })
            }
        }
    }

    pub fn location(&self) -> &BlobsLocation {
        &self.location
    }

    fn key(&self, rel: &str) -> ObjectPath {
        if self.prefix.is_empty() {
            ObjectPath::from(rel)
        } else {
            ObjectPath::from(format!("{}/{rel}", self.prefix))
        }
    }

    fn pack_key(name: &str) -> String {
        format!("{}/{name}.pack", &name[..2.min(name.len())])
    }

    async fn sync_local(&self, rel: &str) -> Result<()> {
        let Some(root) = &self.local_root else {
            return Ok(());
        };
        let path = root.join(rel);
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            std::fs::File::open(&path)?.sync_all()?;
            if let Some(dir) = path.parent() {
                std::fs::File::open(dir)?.sync_all()?;
            }
            Ok(())
        })
        .await
        .map_err(|e| blob_err(rel, e))?
        .map_err(|e| StoreError::Blob {
            path: rel.to_owned(),
            source: e,
        })
    }

    /// Store a pack unless one of that name is there already (names are content hashes, so
    /// an existing pack of that name holds the same bytes unless damaged; `verify` finds that).
    pub async fn write_pack(&self, name: &str, bytes: Vec<u8>) -> Result<()> {
        let rel = Self::pack_key(name);
        let key = self.key(&rel);
        let opts = PutOptions {
            mode: PutMode::Create,
            ..Default::default()
        };
        match self
            .store
            .put_opts(&key, PutPayload::from(Bytes::from(bytes)), opts)
            .await
        {
            Ok(_) => self.sync_local(&rel).await,
            Err(object_store::Error::AlreadyExists { .. }) => Ok(()),
            // Some S3-compatible servers do not implement conditional PUT: fall back to
            // "HEAD, then PUT".
            Err(object_store::Error::NotImplemented { .. })
            | Err(object_store::Error::NotSupported { .. }) => {
                if self.store.head(&key).await.is_ok() {
                    return Ok(());
                }
                Err(blob_err(&rel, "conditional write not supported"))
            }
            Err(e) => Err(blob_err(&rel, e)),
        }
    }

    /// Put a good copy of a pack in place of a damaged or missing one; the damaged one is
    /// kept under `damaged/` for inspection.
    pub async fn replace_pack(&self, name: &str, bytes: &[u8]) -> Result<()> {
        let rel = Self::pack_key(name);
        let key = self.key(&rel);
        if let Ok(old) = self.store.get(&key).await {
            let old = old.bytes().await.map_err(|e| blob_err(&rel, e))?;
            let stamp = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or_default();
            let aside = format!("damaged/{name}.pack.{stamp}");
            self.store
                .put(&self.key(&aside), PutPayload::from(old))
                .await
                .map_err(|e| blob_err(&aside, e))?;
        }
        self.store
            .put(&key, PutPayload::from(Bytes::copy_from_slice(bytes)))
            .await
            .map_err(|e| blob_err(&rel, e))?;
        self.sync_local(&rel).await
    }

    /// Whole pack bytes, None when there is no such pack.
    pub async fn read_pack(&self, name: &str) -> Result<Option<Vec<u8>>> {
        let rel = Self::pack_key(name);
        match self.store.get(&self.key(&rel)).await {
            Ok(r) => Ok(Some(
                r.bytes().await.map_err(|e| blob_err(&rel, e))?.to_vec(),
            )),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(blob_err(&rel, e)),
        }
    }

    /// One compressed frame of a pack, decompressed.
    pub async fn read_frame(&self, name: &str, offset: u64, len: u32) -> Result<Vec<u8>> {
        let rel = Self::pack_key(name);
        let key = self.key(&rel);
        let range = offset..offset + len as u64;
        let ranged = if self.whole_packs.load(Ordering::Relaxed) {
            None
        } else {
            match self.store.get_range(&key, range.clone()).await {
                Ok(b) => Some(b),
                // Some S3-compatible servers (rclone among them) answer a range request with
                // the whole object, which object_store refuses: read whole packs from then on.
                Err(e) if e.to_string().contains("non-partial response") => {
                    self.whole_packs.store(true, Ordering::Relaxed);
                    None
                }
                Err(e) => return Err(blob_err(&rel, e)),
            }
        };
        let bytes = match ranged {
            Some(b) => b,
            None => {
                let whole = self
                    .store
                    .get(&key)
                    .await
                    .map_err(|e| blob_err(&rel, e))?
                    .bytes()
                    .await
                    .map_err(|e| blob_err(&rel, e))?;
                let end = (range.end as usize).min(whole.len());
                whole.slice((range.start as usize).min(end)..end)
            }
        };
        if bytes.len() != len as usize {
            return Err(StoreError::Corrupt(format!(
                "pack {name}: frame at {offset} is short ({} of {len} bytes)",
                bytes.len()
            )));
        }
        tokio::task::spawn_blocking(move || zstd_decode(&bytes))
            .await
            .map_err(|e| blob_err(&rel, e))?
            .map_err(|e| StoreError::Corrupt(format!("pack {name} frame at {offset}: {e}")))
    }

    /// Bytes of every pack (for the statistics page).
    pub async fn total_bytes(&self) -> Result<u64> {
        let prefix = (!self.prefix.is_empty()).then(|| ObjectPath::from(self.prefix.as_str()));
        let mut total = 0;
        let mut list = self.store.list(prefix.as_ref());
        while let Some(meta) = list
            .try_next()
            .await
            .map_err(|e| blob_err(&self.location.describe(), e))?
        {
            if meta.location.as_ref().ends_with(".pack") {
                total += meta.size;
            }
        }
        Ok(total)
    }

    /// The anchor: newest (seq, hash) of the audit chain, kept outside the database.
    pub async fn audit_anchor(&self) -> Result<Option<(u64, [u8; 32])>> {
        let text = match self.store.get(&self.key("audit-head")).await {
            Ok(r) => r.bytes().await.map_err(|e| blob_err("audit-head", e))?,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(blob_err("audit-head", e)),
        };
        let text = String::from_utf8_lossy(&text);
        let bad = || StoreError::Corrupt("audit anchor audit-head is malformed".into());
        let mut parts = text.split_whitespace();
        let seq: u64 = parts.next().and_then(|s| s.parse().ok()).ok_or_else(bad)?;
        let sha = parts
            .next()
            .and_then(model::Sha256::from_hex)
            .ok_or_else(bad)?;
        Ok(Some((seq, sha.0)))
    }

    /// Move the anchor to `new` if it may (`audit::anchor_may_advance`): only forward from
    /// `previous`, the chain's head before the append. A missing anchor, one ahead of the
    /// chain or naming another hash, and one that cannot be read are left as they are, for
    /// `verify` to report — and a damaged anchor never stops the log from taking entries.
    pub async fn advance_audit_anchor(
        &self,
        previous: Option<(u64, [u8; 32])>,
        new: (u64, [u8; 32]),
    ) -> Result<()> {
        let head = |(seq, hash): (u64, [u8; 32])| audit::Head { seq, hash };
        let may = match self.audit_anchor().await {
            Ok(anchor) => audit::anchor_may_advance(anchor.map(head), previous.map(head)),
            Err(_) => false,
        };
        if may {
            self.put_audit_anchor(new.0, &new.1).await?;
        }
        Ok(())
    }

    pub async fn put_audit_anchor(&self, seq: u64, hash: &[u8; 32]) -> Result<()> {
        let text = format!("{seq} {}\n", store::packs::hex(hash));
        self.store
            .put(&self.key("audit-head"), PutPayload::from(text.into_bytes()))
            .await
            .map_err(|e| blob_err("audit-head", e))?;
        Ok(())
    }

    /// The object store itself, for tools that copy whole packs (`renkei migrate`).
    pub fn object_store(&self) -> (Arc<dyn ObjectStore>, String) {
        (self.store.clone(), self.prefix.clone())
    }
}

fn zstd_decode(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    store::packs::decode_frame(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_parse() {
        assert_eq!(
            BlobsLocation::parse("/srv/blobs").unwrap(),
            BlobsLocation::Local("/srv/blobs".into())
        );
        assert_eq!(
            BlobsLocation::parse("file:///srv/blobs").unwrap(),
            BlobsLocation::Local("/srv/blobs".into())
        );
        match BlobsLocation::parse("s3://renkei/miyagi/").unwrap() {
            BlobsLocation::S3(s) => {
                assert_eq!(s.bucket, "renkei");
                assert_eq!(s.prefix, "miyagi");
            }
            other => panic!("{other:?}"),
        }
        assert!(BlobsLocation::parse("s3:///x").is_err());
        assert!(BlobsLocation::parse("gs://b").is_err());
    }

    #[tokio::test]
    async fn local_packs_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::open(&BlobsLocation::Local(dir.path().join("b"))).unwrap();
        let mut b = store::PackBuilder::new();
        let content = b"MSH|^~\\&|x\r".repeat(100);
        let sha = store::packs::sha256(&content);
        b.add(sha, &content).unwrap();
        let pack = b.finish().unwrap();
        blobs
            .write_pack(&pack.name, pack.bytes.clone())
            .await
            .unwrap();
        blobs
            .write_pack(&pack.name, pack.bytes.clone())
            .await
            .unwrap();
        let (_, loc) = &pack.locations[0];
        let frame = blobs
            .read_frame(&pack.name, loc.frame_offset, loc.frame_len)
            .await
            .unwrap();
        assert_eq!(
            store::LocalPacks::extract(&frame, loc, &sha).unwrap(),
            content
        );
        assert_eq!(blobs.total_bytes().await.unwrap(), pack.bytes.len() as u64);
        // Same layout as the embedded store's blobs folder.
        assert!(store::LocalPacks::open(dir.path().join("b"))
            .unwrap()
            .path_of(&pack.name)
            .exists());
        assert_eq!(blobs.audit_anchor().await.unwrap(), None);
        blobs.put_audit_anchor(7, &[3; 32]).await.unwrap();
        assert_eq!(blobs.audit_anchor().await.unwrap(), Some((7, [3; 32])));
    }
}
