//! `[server]` in `renkei.toml` and the `serve` flags for TLS: how the web server listens,
//! which reverse proxies it believes, and the limits that keep a flood of connections or
//! large bodies from starving the clinicians.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    /// PEM certificate chain and private key: the server speaks HTTPS itself (also
    /// `serve --tls-cert/--tls-key`).
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// A reverse proxy in front terminates TLS: cookies get `Secure`.
    #[serde(default)]
    pub behind_tls_proxy: bool,
    /// Addresses of reverse proxies whose `X-Forwarded-For` is believed (sign-in lockout per
    /// address and the audit log then see the real client).
    #[serde(default)]
    pub trusted_proxies: Vec<IpAddr>,
    /// Connections open at once (default 1024).
    pub max_connections: Option<usize>,
    /// Seconds a connection may take to send a request head, and stay idle between
    /// requests (default 10).
    pub header_timeout_seconds: Option<u64>,
    /// Seconds a request may take (default 60; replication and agent uploads 900).
    pub request_timeout_seconds: Option<u64>,
    pub bulk_request_timeout_seconds: Option<u64>,
    /// MiB of request bodies held in memory at once across all requests (default 512).
    pub body_memory_mib: Option<usize>,
}

/// What `serve` needs from the section and the flags.
pub struct ServeSettings {
    pub listen: server::listener::ListenOptions,
    pub secure_cookies: bool,
    pub trusted_proxies: Vec<IpAddr>,
    pub limits: server::front::RequestLimits,
}

impl ServerSection {
    pub fn settings(
        &self,
        tls_cert: Option<PathBuf>,
        tls_key: Option<PathBuf>,
    ) -> Result<ServeSettings> {
        let cert = tls_cert.or_else(|| self.tls_cert.clone());
        let key = tls_key.or_else(|| self.tls_key.clone());
        let tls = match (cert, key) {
            (Some(cert), Some(key)) => Some(
                server::listener::tls_config(&cert, &key)
                    .context("reading the TLS certificate and key")?,
            ),
            (None, None) => None,
            _ => bail!(
                "TLS needs both a certificate and its key (--tls-cert and --tls-key, or tls_cert and tls_key in [server])"
            ),
        };
        let defaults = server::listener::ListenOptions::default();
        let seconds = |v: Option<u64>, default: u64, name: &str| -> Result<Duration> {
            match v {
                Some(0) => bail!("[server] {name} must be at least 1 second"),
                Some(s) => Ok(Duration::from_secs(s)),
                None => Ok(Duration::from_secs(default)),
            }
        };
        let listen = server::listener::ListenOptions {
            header_read_timeout: seconds(
                self.header_timeout_seconds,
                defaults.header_read_timeout.as_secs(),
                "header_timeout_seconds",
            )?,
            max_connections: match self.max_connections {
                Some(0) => bail!("[server] max_connections must be at least 1"),
                Some(n) => n,
                None => defaults.max_connections,
            },
            tls: tls.clone(),
        };
        let limits = server::front::RequestLimits::new(
            self.body_memory_mib
                .map(|m| m.saturating_mul(1024 * 1024))
                .unwrap_or(server::front::DEFAULT_BODY_BUDGET),
            seconds(self.request_timeout_seconds, 60, "request_timeout_seconds")?,
            seconds(
                self.bulk_request_timeout_seconds,
                900,
                "bulk_request_timeout_seconds",
            )?,
        );
        Ok(ServeSettings {
            secure_cookies: tls.is_some() || self.behind_tls_proxy,
            trusted_proxies: self.trusted_proxies.clone(),
            listen,
            limits,
        })
    }
}

impl ServeSettings {
    /// Put the settings the handlers need into the server's state; what is left is the
    /// listener's.
    pub fn apply(self, state: &mut server::AppState) -> server::listener::ListenOptions {
        state.secure_cookies = self.secure_cookies;
        state.tls = self.listen.tls.is_some();
        state.trusted_proxies = Arc::new(self.trusted_proxies);
        state.limits = Arc::new(self.limits);
        self.listen
    }
}
