//! Off-site copies (遠隔地バックアップ) of a renkei store.
//!
//! A primary ships three streams ([`store::Feed`]: registry changes, audit entries, file
//! versions) to each configured *site*:
//! - a **replica** renkei server ([`remote`]): it applies the streams to its own store, derives
//!   records again from the raw bytes, and serves nothing else until promoted;
//! - an **S3-compatible bucket** ([`s3`]): immutable objects — the primary's packs (named by
//!   the SHA-256 of their bytes) and append-only logs of versions, registry changes and audit
//!   entries — from which a facility's tree can be restored as of any time.
//!
//! Nothing here deletes or overwrites a copy: every object and every applied change is new.

pub mod config;
pub mod rclone;
pub mod remote;
pub mod s3;
pub mod wire;

pub use config::{SiteConfig, SiteKind};

#[derive(Debug, thiserror::Error)]
pub enum SiteError {
    #[error("site {site}: {message}")]
    Site { site: String, message: String },
    #[error("site {site}: object {key}: {message}")]
    Object {
        site: String,
        key: String,
        message: String,
    },
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error("replication message: {0}")]
    Wire(String),
}

pub type Result<T> = std::result::Result<T, SiteError>;
