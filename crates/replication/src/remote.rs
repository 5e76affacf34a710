//! A replica renkei server as a site, reached over HTTP(S) with the replication token.
//!
//! The replica is the judge of how far it has applied the streams ([`RemoteSite::status`]):
//! the primary ships from there, so a replica rebuilt from empty, or one that applied a
//! shipment whose answer was lost, receives exactly what it lacks.

use std::collections::HashMap;
use std::time::Duration;

use model::{FacilityCode, Sha256};
use serde::{Deserialize, Serialize};
use store::{BlobReport, FeedCursor, NodeRole, StoredFile};

use crate::{wire, Result, SiteConfig, SiteError};

/// What a replica answers about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicaStatus {
    pub role: NodeRole,
    pub renkei_version: String,
    /// The newest audit entry the replica holds (`SEQ:HASH`): its copy of the primary's
    /// chain vouches for the primary's log (`renkei audit verify --against-site`). Absent
    /// from replicas older than this field.
    #[serde(default)]
    pub audit_head: Option<audit::Head>,
}

/// The answer to a shipment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applied {
    pub applied: FeedCursor,
    pub versions: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContentsRequest {
    pub sha256: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct RemoteSite {
    name: String,
    base: String,
    token: String,
    agent: ureq::Agent,
}

impl RemoteSite {
    pub fn new(cfg: &SiteConfig) -> Result<RemoteSite> {
        let base = cfg
            .required("url", &cfg.url)?
            .trim_end_matches('/')
            .to_owned();
        let token = cfg.token()?.ok_or_else(|| SiteError::Site {
            site: cfg.name.clone(),
            message: "a renkei site needs `token`, `token_file` or `token_env`".into(),
        })?;
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(10))
            .timeout(Duration::from_secs(600))
            .build();
        Ok(RemoteSite {
            name: cfg.name.clone(),
            base,
            token,
            agent,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    fn err(&self, what: &str, e: impl std::fmt::Display) -> SiteError {
        SiteError::Site {
            site: self.name.clone(),
            message: format!("{what}: {e}"),
        }
    }

    fn call(
        &self,
        req: ureq::Request,
        what: &str,
        body: Option<(&str, &[u8])>,
    ) -> Result<ureq::Response> {
        let req = req.set("Authorization", &format!("Bearer {}", self.token));
        let res = match body {
            Some((ctype, bytes)) => req.set("Content-Type", ctype).send_bytes(bytes),
            None => req.call(),
        };
        match res {
            Ok(r) => Ok(r),
            Err(ureq::Error::Status(code, r)) => {
                let text = r.into_string().unwrap_or_default();
                Err(self.err(what, format!("HTTP {code}: {}", text.trim())))
            }
            Err(e) => Err(self.err(what, e)),
        }
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(RemoteSite) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let me = self.clone();
        tokio::task::spawn_blocking(move || f(me))
            .await
            .map_err(|e| self.err("client task", e))?
    }

    pub async fn status(&self) -> Result<ReplicaStatus> {
        self.blocking(|me| {
            let r = me.call(
                me.agent
                    .get(&format!("{}/api/v1/replication/status", me.base)),
                "status",
                None,
            )?;
            r.into_json().map_err(|e| me.err("status answer", e))
        })
        .await
    }

    /// Send one encoded shipment ([`wire::encode`]); the replica answers how far it has
    /// applied the streams.
    pub async fn ship(&self, body: Vec<u8>) -> Result<Applied> {
        self.blocking(move |me| {
            let r = me.call(
                me.agent
                    .post(&format!("{}/api/v1/replication/shipments", me.base)),
                "shipment",
                Some((wire::CONTENT_TYPE, &body)),
            )?;
            r.into_json().map_err(|e| me.err("shipment answer", e))
        })
        .await
    }

    /// The facility's tree as the replica holds it (at `as_of`).
    pub async fn tree(
        &self,
        facility: &FacilityCode,
        as_of: Option<&str>,
    ) -> Result<Vec<StoredFile>> {
        let facility = facility.as_str().to_owned();
        let as_of = as_of.map(str::to_owned);
        self.blocking(move |me| {
            let mut req = me
                .agent
                .get(&format!("{}/api/v1/replication/tree", me.base))
                .query("facility", &facility);
            if let Some(t) = &as_of {
                req = req.query("as_of", t);
            }
            let r = me.call(req, "tree", None)?;
            r.into_json().map_err(|e| me.err("tree answer", e))
        })
        .await
    }

    /// The site's own streams after `after` (at most `limit` items of each), with the
    /// contents of its versions: what a network is rebuilt from when this site is the last
    /// copy left (`renkei restore --network --from`). Every content is checked on arrival.
    pub async fn feed(
        &self,
        after: FeedCursor,
        limit: usize,
    ) -> Result<(store::Feed, HashMap<Sha256, Vec<u8>>)> {
        self.blocking(move |me| {
            let r = me.call(
                me.agent
                    .get(&format!("{}/api/v1/replication/feed", me.base))
                    .query("registry", &after.registry.to_string())
                    .query("audit", &after.audit.to_string())
                    .query("version", &after.version.to_string())
                    .query("limit", &limit.to_string()),
                "feed",
                None,
            )?;
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut r.into_reader(), &mut bytes)
                .map_err(|e| me.err("feed answer", e))?;
            wire::decode(&bytes)
        })
        .await
    }

    /// Contents by hash, checked on arrival; hashes the replica does not hold are absent.
    pub async fn contents(&self, shas: &[Sha256]) -> Result<HashMap<Sha256, Vec<u8>>> {
        let req = ContentsRequest {
            sha256: shas.iter().map(Sha256::to_hex).collect(),
        };
        self.blocking(move |me| {
            let body = serde_json::to_vec(&req).map_err(|e| me.err("contents request", e))?;
            let r = me.call(
                me.agent
                    .post(&format!("{}/api/v1/replication/contents", me.base)),
                "contents",
                Some(("application/json", &body)),
            )?;
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut r.into_reader(), &mut bytes)
                .map_err(|e| me.err("contents answer", e))?;
            decode_contents(&bytes).map_err(|e| me.err("contents answer", e))
        })
        .await
    }

    /// Ask the replica to check its own packs.
    pub async fn verify(&self) -> Result<BlobReport> {
        self.blocking(|me| {
            let r = me.call(
                me.agent
                    .post(&format!("{}/api/v1/replication/verify", me.base)),
                "verify",
                Some(("application/json", b"{}")),
            )?;
            r.into_json().map_err(|e| me.err("verify answer", e))
        })
        .await
    }

    /// Hand the replica good copies of contents it reported damaged.
    pub async fn repair(&self, contents: &HashMap<Sha256, Vec<u8>>) -> Result<u64> {
        let body = encode_contents(contents);
        self.blocking(move |me| {
            let r = me.call(
                me.agent
                    .post(&format!("{}/api/v1/replication/repair", me.base)),
                "repair",
                Some((wire::CONTENT_TYPE, &body)),
            )?;
            let v: serde_json::Value = r.into_json().map_err(|e| me.err("repair answer", e))?;
            Ok(v.get("repaired").and_then(|n| n.as_u64()).unwrap_or(0))
        })
        .await
    }
}

/// Contents in the checked batch framing, each part named `contents/<sha256>`.
pub fn encode_contents(contents: &HashMap<Sha256, Vec<u8>>) -> Vec<u8> {
    let parts: Vec<upload::BatchFile> = contents
        .iter()
        .map(|(sha, bytes)| upload::BatchFile {
            path: format!("contents/{}", sha.to_hex()),
            sha256: sha.to_hex(),
            bytes: bytes.clone(),
        })
        .collect();
    upload::encode_batch(&parts)
}

pub fn decode_contents(body: &[u8]) -> std::result::Result<HashMap<Sha256, Vec<u8>>, String> {
    let parts = upload::decode_batch(body).map_err(|e| e.to_string())?;
    let mut out = HashMap::new();
    for p in parts {
        let sha = p
            .path
            .strip_prefix("contents/")
            .and_then(Sha256::from_hex)
            .ok_or_else(|| format!("unexpected part {}", p.path))?;
        out.insert(sha, p.bytes);
    }
    Ok(out)
}
