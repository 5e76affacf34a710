//! How a site is described in `renkei.toml` (`[[site]]` tables).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SiteKind {
    /// Another renkei server started with `serve --replica`.
    Renkei,
    /// An S3-compatible bucket (AWS S3, MinIO, Ceph RGW, rclone serve s3, …).
    S3,
}

/// One remote site. Secrets may be given inline or, better, in a file (`*_file`) or an
/// environment variable (`*_env`) so that the configuration file can be shared.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteConfig {
    /// Short name used in commands (`--site`, `--from`) and on the status screens.
    pub name: String,
    pub kind: Option<SiteKind>,
    /// Renkei: the replica's base URL (`https://dr.example.jp:8443`). S3: the endpoint URL
    /// (`https://s3.ap-northeast-1.amazonaws.com`, `http://127.0.0.1:9000`).
    pub url: Option<String>,
    /// Renkei: the replication token the replica expects.
    pub token: Option<String>,
    pub token_file: Option<String>,
    pub token_env: Option<String>,
    /// S3 bucket name.
    pub bucket: Option<String>,
    /// S3 region (`ap-northeast-1`; anything for most S3-compatible servers).
    pub region: Option<String>,
    /// Key prefix inside the bucket (several networks can share one bucket).
    pub prefix: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    pub secret_access_key_file: Option<String>,
    pub secret_access_key_env: Option<String>,
    /// S3 Object Lock: ask the bucket to refuse deleting or overwriting each object for this
    /// many days (COMPLIANCE mode). The bucket must have Object Lock enabled.
    pub object_lock_days: Option<u32>,
}

impl SiteConfig {
    /// A secret from inline text, a file or an environment variable, in that order.
    pub fn secret(
        &self,
        what: &str,
        inline: &Option<String>,
        file: &Option<String>,
        env: &Option<String>,
    ) -> crate::Result<Option<String>> {
        if let Some(s) = inline {
            return Ok(Some(s.clone()));
        }
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|e| crate::SiteError::Site {
                site: self.name.clone(),
                message: format!("{what}: cannot read {path}: {e}"),
            })?;
            return Ok(Some(text.trim().to_owned()));
        }
        if let Some(var) = env {
            return std::env::var(var)
                .map(Some)
                .map_err(|_| crate::SiteError::Site {
                    site: self.name.clone(),
                    message: format!("{what}: environment variable {var} is not set"),
                });
        }
        Ok(None)
    }

    pub fn token(&self) -> crate::Result<Option<String>> {
        self.secret("token", &self.token, &self.token_file, &self.token_env)
    }

    pub fn secret_access_key(&self) -> crate::Result<Option<String>> {
        self.secret(
            "secret_access_key",
            &self.secret_access_key,
            &self.secret_access_key_file,
            &self.secret_access_key_env,
        )
    }

    pub fn required<'a>(&self, field: &str, value: &'a Option<String>) -> crate::Result<&'a str> {
        value.as_deref().ok_or_else(|| crate::SiteError::Site {
            site: self.name.clone(),
            message: format!(
                "`{field}` is required for a{} site",
                match self.kind {
                    Some(SiteKind::Renkei) => " renkei",
                    Some(SiteKind::S3) => "n s3",
                    None => "",
                }
            ),
        })
    }
}
