//! The socket side of the server: accepting connections with a cap on how many are open at
//! once, TLS (rustls) when a certificate is configured, and the timeouts that close
//! connections which send nothing useful — a client that opens a connection and never
//! finishes its request headers, or keeps an idle keep-alive connection, must not hold one of
//! the server's connections for long (a few hundred such clients would otherwise lock out the
//! clinicians).
//!
//! HTTP/1.1 only, like the rest of the server. The peer address of every request is put into
//! the request's extensions as axum's `ConnectInfo<SocketAddr>`.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// Limits of the listening socket.
#[derive(Debug, Clone)]
pub struct ListenOptions {
    /// A connection must send a complete request head within this time — both a new
    /// connection and an idle keep-alive connection waiting for its next request, so this is
    /// also the idle timeout.
    pub header_read_timeout: Duration,
    /// Connections open at once; further clients wait in the kernel's backlog until one
    /// closes.
    pub max_connections: usize,
    /// TLS: the server speaks HTTPS only.
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

impl Default for ListenOptions {
    fn default() -> Self {
        ListenOptions {
            header_read_timeout: Duration::from_secs(10),
            max_connections: 1024,
            tls: None,
        }
    }
}

/// Errors of reading the TLS certificate and key.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("TLS certificate {path}: {reason}")]
    Certificate { path: String, reason: String },
    #[error("TLS private key {path}: {reason}")]
    Key { path: String, reason: String },
    #[error("TLS configuration: {0}")]
    Config(String),
}

/// A rustls server configuration from PEM files: the certificate chain (server certificate
/// first) and its private key (PKCS#8, PKCS#1 or SEC1). TLS 1.2 and 1.3, rustls' safe
/// defaults; HTTP/1.1 offered by ALPN.
pub fn tls_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};

    let cert_err = |reason: String| TlsError::Certificate {
        path: cert.display().to_string(),
        reason,
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| cert_err(e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| cert_err(e.to_string()))?;
    if chain.is_empty() {
        return Err(cert_err("no CERTIFICATE block in the file".into()));
    }
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| TlsError::Key {
        path: key.display().to_string(),
        reason: e.to_string(),
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)
        .map_err(|e| TlsError::Config(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Serve `app` on `listener` until the task is dropped.
pub async fn serve_on(
    listener: TcpListener,
    app: Router,
    options: ListenOptions,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(options.max_connections.max(1)));
    let tls = options.tls.clone().map(tokio_rustls::TlsAcceptor::from);
    loop {
        // Wait for a free slot before accepting: over the cap, clients wait in the backlog
        // instead of being accepted and starved.
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return Ok(());
        };
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors and the like: say so and retry shortly rather than
                // stop serving.
                eprintln!("accepting a connection failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let tls = tls.clone();
        let head_timeout = options.header_read_timeout;
        tokio::spawn(async move {
            let service = hyper::service::service_fn(
                move |mut req: hyper::Request<hyper::body::Incoming>| {
                    req.extensions_mut().insert(ConnectInfo(peer));
                    let app = app.clone();
                    async move {
                        use tower::ServiceExt;
                        app.oneshot(req).await
                    }
                },
            );
            let mut http = hyper::server::conn::http1::Builder::new();
            http.timer(TokioTimer::new())
                .header_read_timeout(head_timeout)
                .keep_alive(true);
            match tls {
                None => {
                    let _ = http.serve_connection(TokioIo::new(stream), service).await;
                }
                Some(acceptor) => {
                    // The handshake has the same deadline as a request head.
                    if let Ok(Ok(tls_stream)) =
                        tokio::time::timeout(head_timeout, acceptor.accept(stream)).await
                    {
                        let _ = http
                            .serve_connection(TokioIo::new(tls_stream), service)
                            .await;
                    }
                }
            }
            drop(slot);
        });
    }
}

/// Bind `addr` and serve.
pub async fn serve_addr(
    addr: SocketAddr,
    app: Router,
    options: ListenOptions,
) -> std::io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    serve_on(listener, app, options).await
}
