//! Which store a command opens: the embedded one in the data folder (the default), or
//! PostgreSQL with packs in a folder or an S3 bucket (`[store]` in renkei.toml, or the
//! environment: `RENKEI_DATABASE_URL`, `RENKEI_BLOBS`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use replication::SiteConfig;
use serde::Deserialize;
use store::Store;
use store_postgres::{BlobsLocation, PgConfig, PgStore};
use store_sqlite::SqliteStore;

/// `[store]` of renkei.toml.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSection {
    /// `postgres://user@host:5432/renkei` (or `sqlite://FOLDER`); absent = the embedded store
    /// in the data folder. A password is better kept out of this file: `database_url_file`
    /// (a file holding the URL) or `database_url_env` (a variable holding it).
    pub database_url: Option<String>,
    pub database_url_file: Option<String>,
    pub database_url_env: Option<String>,
    /// Where PostgreSQL's packs go: a folder (default `<data>/blobs`) or `s3://bucket/prefix`.
    pub blobs: Option<String>,
    /// For `s3://` blobs (else the standard AWS_* variables apply).
    pub s3_endpoint: Option<String>,
    pub s3_region: Option<String>,
    pub s3_access_key_id: Option<String>,
    pub s3_secret_access_key: Option<String>,
    pub s3_secret_access_key_file: Option<String>,
    pub s3_secret_access_key_env: Option<String>,
    /// Database connections of this process (default 16).
    pub max_connections: Option<u32>,
}

/// A store, resolved from the command line, the environment and the configuration file.
#[derive(Debug, Clone)]
pub enum StorePlace {
    Sqlite(PathBuf),
    Postgres(PgConfig),
}

impl StorePlace {
    /// `database_url` / `blobs` from the command line or environment win over the file.
    pub fn resolve(
        section: &StoreSection,
        data: &Path,
        database_url: Option<&str>,
        blobs: Option<&str>,
    ) -> Result<StorePlace> {
        let probe = SiteConfig {
            name: "store".into(),
            ..SiteConfig::default()
        };
        let from_file = probe.secret(
            "database_url",
            &section.database_url,
            &section.database_url_file,
            &section.database_url_env,
        )?;
        let url = database_url
            .map(str::to_owned)
            .filter(|u| !u.trim().is_empty())
            .or(from_file);
        let Some(url) = url.map(|u| u.trim().to_owned()) else {
            return Ok(StorePlace::Sqlite(data.to_owned()));
        };
        Self::parse(&url, section, data, blobs)
    }

    /// A store URL: `sqlite://FOLDER` or `postgres://…` (`postgresql://` too).
    pub fn parse(
        url: &str,
        section: &StoreSection,
        data: &Path,
        blobs: Option<&str>,
    ) -> Result<StorePlace> {
        if let Some(folder) = url.strip_prefix("sqlite://") {
            if folder.is_empty() {
                bail!("store URL {url:?}: give the data folder, e.g. sqlite://renkei-data");
            }
            return Ok(StorePlace::Sqlite(PathBuf::from(folder)));
        }
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            bail!(
                "store URL {:?}: only sqlite://FOLDER and postgres://… are understood",
                store_postgres::redact_url(url)
            );
        }
        let blobs_text = blobs
            .map(str::to_owned)
            .filter(|b| !b.trim().is_empty())
            .or_else(|| section.blobs.clone());
        let mut location = match blobs_text {
            Some(b) => BlobsLocation::parse(&b).with_context(|| format!("blobs = {b:?}"))?,
            None => BlobsLocation::Local(data.join("blobs")),
        };
        if let BlobsLocation::S3(s3) = &mut location {
            let probe = SiteConfig {
                name: "store".into(),
                ..SiteConfig::default()
            };
            if let Some(e) = &section.s3_endpoint {
                s3.endpoint = Some(e.clone());
            }
            if let Some(r) = &section.s3_region {
                s3.region = Some(r.clone());
            }
            if let Some(k) = &section.s3_access_key_id {
                s3.access_key_id = Some(k.clone());
            }
            if let Some(secret) = probe.secret(
                "s3_secret_access_key",
                &section.s3_secret_access_key,
                &section.s3_secret_access_key_file,
                &section.s3_secret_access_key_env,
            )? {
                s3.secret_access_key = Some(secret);
            }
        }
        Ok(StorePlace::Postgres(PgConfig {
            database_url: url.to_owned(),
            blobs: location,
            max_connections: section.max_connections.unwrap_or(16),
        }))
    }

    /// For messages: where the store is, without secrets.
    pub fn describe(&self) -> String {
        match self {
            StorePlace::Sqlite(p) => format!("the data folder {}", p.display()),
            StorePlace::Postgres(c) => format!(
                "{} (packs in {})",
                store_postgres::redact_url(&c.database_url),
                c.blobs.describe()
            ),
        }
    }

    /// Refuse a data folder (or local packs folder) that other local users can reach.
    fn check_private(&self) -> Result<()> {
        let folder = match self {
            StorePlace::Sqlite(data) => Some(data),
            StorePlace::Postgres(PgConfig {
                blobs: BlobsLocation::Local(root),
                ..
            }) => Some(root),
            StorePlace::Postgres(_) => None,
        };
        if let Some(folder) = folder.filter(|f| f.exists()) {
            store::private::check_private_folder(folder)?;
        }
        Ok(())
    }

    /// Open the store as a server does (SQLite: the data folder's lock; PostgreSQL: migrate).
    pub async fn open(&self) -> Result<Arc<dyn Store>> {
        self.check_private()?;
        Ok(match self {
            StorePlace::Sqlite(data) => Arc::new(
                SqliteStore::open(data)
                    .with_context(|| format!("opening the data folder {}", data.display()))?,
            ),
            StorePlace::Postgres(config) => Arc::new(
                PgStore::connect(config)
                    .await
                    .with_context(|| format!("opening {}", self.describe()))?,
            ),
        })
    }

    /// Open beside a running server (restore, verify, sites, ship).
    pub async fn open_alongside(&self) -> Result<Arc<dyn Store>> {
        self.check_private()?;
        Ok(match self {
            StorePlace::Sqlite(data) => Arc::new(
                SqliteStore::open_alongside(data)
                    .with_context(|| format!("opening the data folder {}", data.display()))?,
            ),
            StorePlace::Postgres(config) => Arc::new(
                PgStore::connect_alongside(config)
                    .await
                    .with_context(|| format!("opening {}", self.describe()))?,
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(text: &str) -> StoreSection {
        toml::from_str(text).expect("valid [store]")
    }

    #[test]
    fn sqlite_is_the_default() {
        let p = StorePlace::resolve(&StoreSection::default(), Path::new("d"), None, None)
            .expect("resolve");
        assert!(matches!(p, StorePlace::Sqlite(ref d) if d == Path::new("d")));
    }

    #[test]
    fn postgres_from_file_or_environment() {
        let s = section("database_url = \"postgres://renkei:pw@db/renkei\"\nmax_connections = 4\n");
        let StorePlace::Postgres(c) =
            StorePlace::resolve(&s, Path::new("d"), None, None).expect("resolve")
        else {
            panic!("postgres expected")
        };
        assert_eq!(c.max_connections, 4);
        assert_eq!(c.blobs, BlobsLocation::Local("d/blobs".into()));
        // The command line / environment wins, and its blobs too.
        let StorePlace::Postgres(c) = StorePlace::resolve(
            &s,
            Path::new("d"),
            Some("postgres://other/x"),
            Some("s3://bucket/net"),
        )
        .expect("resolve") else {
            panic!("postgres expected")
        };
        assert_eq!(c.database_url, "postgres://other/x");
        assert!(
            matches!(c.blobs, BlobsLocation::S3(ref s) if s.bucket == "bucket" && s.prefix == "net")
        );
        // No password in what is shown.
        let shown = StorePlace::resolve(&s, Path::new("d"), None, None)
            .expect("resolve")
            .describe();
        assert!(!shown.contains("pw"), "{shown}");
    }

    #[test]
    fn mistakes_are_named() {
        let e = StorePlace::resolve(
            &StoreSection::default(),
            Path::new("d"),
            Some("mysql://x"),
            None,
        )
        .expect_err("unknown scheme");
        assert!(format!("{e:#}").contains("postgres://"), "{e:#}");
        let e = StorePlace::resolve(
            &StoreSection::default(),
            Path::new("d"),
            Some("postgres://db/x"),
            Some("gs://b"),
        )
        .expect_err("unknown blobs");
        assert!(format!("{e:#}").contains("blobs"), "{e:#}");
        assert!(toml::from_str::<StoreSection>("databse_url = \"x\"").is_err());
    }
}
