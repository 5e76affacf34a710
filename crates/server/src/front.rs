//! The front door: what every request passes before any handler runs, in one place rather
//! than repeated (or forgotten) per handler.
//!
//! In order, outermost first:
//! 1. [`client_address`] — who is calling (the TCP peer, or the `X-Forwarded-For` hop a
//!    trusted reverse proxy reports).
//! 2. [`response_headers`] — the browser-security headers (CSP, frame-ancestors, nosniff,
//!    referrer policy, HSTS behind TLS) and `Cache-Control: no-store` on everything but the
//!    static assets: every answer after sign-in may carry patient data.
//! 3. [`api_error_shape`] — every `/api/` answer that is an error has the one JSON shape
//!    `{"error": "…"}`, including axum's own rejections (malformed JSON, wrong content type),
//!    which become 400.
//! 4. [`same_origin`] — a state-changing request sent from another site is refused (CSRF).
//! 5. [`authenticate`] — the credential each route takes is checked **before the body is
//!    read**: a session (cookie or bearer), a facility API key, or the replication token.
//!    Every refusal is audited (flood-limited for unauthenticated ones); the principal is
//!    handed to the handler in the request's extensions ([`Authed`], [`crate::html::SignedIn`]).
//! 6. [`body_budget`] — request bodies may hold only so much memory at once, across all
//!    requests; over that, callers are asked to retry.
//! 7. [`request_timeout`] — a request (body included) that takes too long is answered 503.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use service::{CredentialRefusal, Principal, ServiceError};
use tokio::sync::Semaphore;

use crate::api::ApiError;
use crate::html::{cookie_token, is_htmx, HtmlError, ToLogin};
use crate::AppState;

/// The address a request came from, as the audit log and the sign-in lockout see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress(pub Option<IpAddr>);

/// The credential a request proved, checked by [`authenticate`].
#[derive(Clone)]
pub struct Authenticated {
    pub principal: Principal,
    /// The session token or API key presented.
    pub token: String,
}

/// Limits on requests, shared by every connection.
#[derive(Debug)]
pub struct RequestLimits {
    /// Bytes of request bodies that may be held at once (in KiB permits).
    body_budget: Arc<Semaphore>,
    body_budget_kib: u32,
    /// Most routes must answer within this time.
    pub timeout: Duration,
    /// Replication shipments and agent batches (hundreds of MiB over a slow line).
    pub bulk_timeout: Duration,
}

/// Default bytes of request bodies held at once across all requests.
pub const DEFAULT_BODY_BUDGET: usize = 512 * 1024 * 1024;

impl RequestLimits {
    pub fn new(body_budget_bytes: usize, timeout: Duration, bulk_timeout: Duration) -> Self {
        let kib = u32::try_from(body_budget_bytes.div_ceil(1024))
            .unwrap_or(u32::MAX)
            .clamp(1, Semaphore::MAX_PERMITS as u32);
        RequestLimits {
            body_budget: Arc::new(Semaphore::new(kib as usize)),
            body_budget_kib: kib,
            timeout,
            bulk_timeout,
        }
    }
}

impl Default for RequestLimits {
    fn default() -> Self {
        RequestLimits::new(
            DEFAULT_BODY_BUDGET,
            Duration::from_secs(60),
            Duration::from_secs(15 * 60),
        )
    }
}

/// Which credential a route takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Door {
    /// No credential: the sign-in pages, sign-out, health, static assets, the network
    /// status (no patient data).
    Public,
    /// The replication token (machines moving whole networks).
    Replication,
    /// A session or a facility API key.
    Signed,
}

fn door(path: &str) -> Door {
    match path {
        "/" | "/healthz" | "/login" | "/logout" | "/api/v1/login" | "/api/v1/logout"
        | "/api/v1/status" => Door::Public,
        p if p.starts_with("/static/") => Door::Public,
        p if p.starts_with("/api/v1/replication/") => Door::Replication,
        _ => Door::Signed,
    }
}

fn is_api(path: &str) -> bool {
    path.starts_with("/api/")
}

/// Routes whose bodies are bulk data: larger bodies, longer time.
fn is_bulk(path: &str) -> bool {
    path.starts_with("/api/v1/replication/") || path.starts_with("/api/v1/agent/")
}

// ---------------------------------------------------------------------------------------
// 1. Client address

/// The peer address, or — when the peer is a reverse proxy the configuration trusts — the
/// last address in `X-Forwarded-For` that is not itself a trusted proxy.
pub fn resolve_client(
    peer: Option<IpAddr>,
    headers: &HeaderMap,
    trusted_proxies: &[IpAddr],
) -> Option<IpAddr> {
    let peer = peer?;
    if !trusted_proxies.contains(&peer) {
        return Some(peer);
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse().ok())
        .collect();
    Some(
        forwarded
            .into_iter()
            .rev()
            .find(|a| !trusted_proxies.contains(a))
            .unwrap_or(peer),
    )
}

pub async fn client_address(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let client = resolve_client(peer, req.headers(), &state.trusted_proxies);
    req.extensions_mut().insert(ClientAddress(client));
    next.run(req).await
}

fn client_of(req: &Request) -> Option<IpAddr> {
    req.extensions().get::<ClientAddress>().and_then(|c| c.0)
}

// ---------------------------------------------------------------------------------------
// 2. Response headers

/// Scripts, styles and images only from this server; no plugins, no framing, forms post only
/// here. The pages have no inline script or style (event handlers live in
/// `/static/renkei.js`); `data:` images are the charts' and the browser's own.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// A response the record page frames (a record's original PDF, `crate::original`): it may be
/// framed by this server's own pages only, and loads nothing itself.
#[derive(Debug, Clone, Copy)]
pub struct FramedBySelf;

/// The policy of a [`FramedBySelf`] answer: nothing of its own but the PDF viewer.
pub const FRAMED_CONTENT_SECURITY_POLICY: &str =
    "default-src 'none'; object-src 'self'; base-uri 'none'; frame-ancestors 'self'; form-action 'none'";

pub async fn response_headers(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let cacheable = req.uri().path().starts_with("/static/");
    let mut res = next.run(req).await;
    let framed = res.extensions().get::<FramedBySelf>().is_some();
    let h = res.headers_mut();
    let set = |h: &mut HeaderMap, name: &'static str, value: &'static str| {
        h.insert(name, HeaderValue::from_static(value));
    };
    if framed {
        set(h, "content-security-policy", FRAMED_CONTENT_SECURITY_POLICY);
        set(h, "x-frame-options", "SAMEORIGIN");
    } else {
        set(h, "content-security-policy", CONTENT_SECURITY_POLICY);
        set(h, "x-frame-options", "DENY");
    }
    set(h, "x-content-type-options", "nosniff");
    // URLs carry regional IDs and search terms: never send them to another site. (Not
    // `no-referrer`: under it browsers send `Origin: null` with our own forms, and the
    // cross-site check could no longer tell our forms from forged ones.)
    set(h, "referrer-policy", "same-origin");
    set(h, "cross-origin-opener-policy", "same-origin");
    set(h, "cross-origin-resource-policy", "same-origin");
    set(
        h,
        "permissions-policy",
        "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
    );
    if state.tls {
        set(h, "strict-transport-security", "max-age=31536000");
    }
    if !cacheable {
        set(h, "cache-control", "no-store");
        set(h, "pragma", "no-cache");
    }
    res
}

// ---------------------------------------------------------------------------------------
// 3. One error shape for the API

/// Bytes of an error body rewritten at most (axum's rejection texts are short).
const MAX_ERROR_TEXT: usize = 16 * 1024;

pub async fn api_error_shape(req: Request, next: Next) -> Response {
    if !is_api(req.uri().path()) {
        return next.run(req).await;
    }
    let res = next.run(req).await;
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        return res;
    }
    // axum answers a body it cannot take with 415 (content type) or 422 (JSON that does not
    // fit): for the API's clients both are simply a bad request.
    let status = match status {
        StatusCode::UNSUPPORTED_MEDIA_TYPE | StatusCode::UNPROCESSABLE_ENTITY => {
            StatusCode::BAD_REQUEST
        }
        s => s,
    };
    let (parts, body) = res.into_parts();
    let text = match axum::body::to_bytes(body, MAX_ERROR_TEXT).await {
        Ok(b) if !b.is_empty() => String::from_utf8_lossy(&b).trim().to_owned(),
        _ => status
            .canonical_reason()
            .unwrap_or("error")
            .to_ascii_lowercase(),
    };
    let mut out = (status, axum::Json(json!({ "error": text }))).into_response();
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            out.headers_mut().insert(name.clone(), value.clone());
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// 4. Cross-site request refusal

/// Is an `Origin` header one of this server's own addresses? `hosts` are the `Host` (and
/// `X-Forwarded-Host`, set by a reverse proxy) the request came to. An opaque origin (`null`,
/// sent from sandboxed frames and some redirects) is not ours.
pub fn origin_is_own(origin: &str, hosts: &[&str]) -> bool {
    let Some((scheme, authority)) = origin.trim().split_once("://") else {
        return false;
    };
    if !matches!(scheme, "http" | "https") {
        return false;
    }
    let authority = authority.trim_end_matches('/');
    hosts
        .iter()
        .any(|h| !h.is_empty() && h.trim().eq_ignore_ascii_case(authority))
}

/// Is this state-changing request from another site? Browsers send `Origin` on every POST
/// and `Sec-Fetch-Site` on every request; either saying "another site" is enough. A request
/// with neither comes from a program, not a browser page, and cannot be a forgery riding on a
/// browser's cookie (the same rule as Go's `http.CrossOriginProtection`).
pub fn is_cross_site(method: &Method, headers: &HeaderMap) -> bool {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return false;
    }
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let hosts = [text("host"), text("x-forwarded-host")];
    let origin_bad = headers
        .get(header::ORIGIN)
        .is_some_and(|o| !o.to_str().is_ok_and(|o| origin_is_own(o, &hosts)));
    let fetch_bad = matches!(text("sec-fetch-site"), "cross-site" | "same-site");
    origin_bad || fetch_bad
}

pub async fn same_origin(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if !is_cross_site(req.method(), req.headers()) {
        return next.run(req).await;
    }
    let target = format!("{} {}", req.method(), req.uri().path());
    audit_refusal(
        &state,
        CredentialRefusal::CrossSite,
        client_of(&req),
        &target,
    )
    .await;
    let reason =
        "他のサイトからの送信は受け付けません (a request sent from another site is refused)";
    if is_api(req.uri().path()) {
        return ApiError::from(ServiceError::Forbidden(reason.into())).into_response();
    }
    HtmlError {
        error: ServiceError::Forbidden(reason.into()),
        chrome: None,
        network_name: state.network_name.clone(),
    }
    .into_response()
}

// ---------------------------------------------------------------------------------------
// 5. Authentication before the body

/// Audit a refusal of a caller nobody has identified yet. A replica writes no audit entries
/// of its own (they would fork the chain it copies from the primary).
async fn audit_refusal(
    state: &AppState,
    refusal: CredentialRefusal,
    client: Option<IpAddr>,
    target: &str,
) {
    if state.replica {
        return;
    }
    if let Err(e) = state
        .network
        .audit_unauthenticated(refusal, client, target)
        .await
    {
        eprintln!("audit of a refused request failed: {e}");
    }
}

/// The bearer token of a request, if any.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// Does `given` equal the replication token? Digests are compared, so the time taken says
/// nothing about how much of the token was right.
pub fn replication_token_matches(expected: Option<&str>, given: Option<&str>) -> bool {
    use sha2::Digest;
    let (Some(expected), Some(given)) = (expected, given) else {
        return false;
    };
    let a = sha2::Sha256::digest(given.as_bytes());
    let b = sha2::Sha256::digest(expected.as_bytes());
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

fn unauthenticated(api: bool, htmx: bool, message: &str) -> Response {
    if api {
        ApiError::from(ServiceError::Unauthenticated(message.into())).into_response()
    } else {
        ToLogin { htmx }.into_response()
    }
}

pub async fn authenticate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let api = is_api(&path);
    let client = client_of(&req);
    let target = format!("{} {}", req.method(), path);
    match door(&path) {
        Door::Public => next.run(req).await,
        Door::Replication => {
            if state.replication_token.is_none() {
                return ApiError::from(ServiceError::Forbidden(
                    "replication is not enabled on this server (no replication token configured)"
                        .into(),
                ))
                .into_response();
            }
            if !replication_token_matches(state.replication_token.as_deref(), bearer(req.headers()))
            {
                audit_refusal(
                    &state,
                    CredentialRefusal::InvalidReplicationToken,
                    client,
                    &target,
                )
                .await;
                return ApiError::from(ServiceError::Unauthenticated(
                    "wrong or missing replication token".into(),
                ))
                .into_response();
            }
            next.run(req).await
        }
        Door::Signed => {
            let htmx = is_htmx(req.headers());
            let token = bearer(req.headers())
                .map(str::to_owned)
                .or_else(|| cookie_token(req.headers()));
            let Some(token) = token else {
                if api {
                    audit_refusal(&state, CredentialRefusal::Missing, client, &target).await;
                }
                return unauthenticated(api, htmx, "ログインしてください (sign in first)");
            };
            let (kind, result) = if token.starts_with("rk_") {
                (
                    CredentialRefusal::InvalidApiKey,
                    state.network.authenticate_api_key(&token).await,
                )
            } else {
                (
                    CredentialRefusal::InvalidSession,
                    state.network.session(&token).await,
                )
            };
            match result {
                Ok(principal) => {
                    req.extensions_mut()
                        .insert(Authenticated { principal, token });
                    next.run(req).await
                }
                Err(ServiceError::Unauthenticated(message)) => {
                    audit_refusal(&state, kind, client, &target).await;
                    unauthenticated(api, htmx, &message)
                }
                Err(other) => {
                    if api {
                        ApiError::from(other).into_response()
                    } else {
                        HtmlError {
                            error: other,
                            chrome: None,
                            network_name: state.network_name.clone(),
                        }
                        .into_response()
                    }
                }
            }
        }
    }
}

/// The principal of an authenticated API request (put there by [`authenticate`]).
pub struct Authed(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Authenticated>()
            .map(|a| Authed(a.principal.clone()))
            .ok_or_else(|| {
                ApiError::from(ServiceError::Unauthenticated(
                    "ログインしてください (sign in first)".into(),
                ))
            })
    }
}

// ---------------------------------------------------------------------------------------
// 6. Memory held by request bodies

/// The bytes a request's body may take: its declared length, or for a body of unknown
/// length the most its route accepts.
fn body_reservation(req: &Request) -> Option<usize> {
    if let Some(len) = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
    {
        return (len > 0).then_some(len);
    }
    let chunked = req.headers().contains_key(header::TRANSFER_ENCODING);
    chunked.then(|| {
        if is_bulk(req.uri().path()) {
            replication::wire::MAX_SHIPMENT_BYTES
        } else {
            crate::DEFAULT_BODY_LIMIT
        }
    })
}

pub async fn body_budget(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(bytes) = body_reservation(&req) else {
        return next.run(req).await;
    };
    let limits = &state.limits;
    let kib = u32::try_from(bytes.div_ceil(1024)).unwrap_or(u32::MAX);
    if kib > limits.body_budget_kib {
        return too_large(is_api(req.uri().path()));
    }
    let Ok(permit) = limits.body_budget.clone().try_acquire_many_owned(kib) else {
        return busy(is_api(req.uri().path()));
    };
    let res = next.run(req).await;
    drop(permit);
    res
}

/// An answer the front door gives itself: `{"error"}` JSON for the API, plain text for pages.
fn refusal(api: bool, status: StatusCode, msg: &'static str) -> Response {
    if api {
        (status, axum::Json(json!({ "error": msg }))).into_response()
    } else {
        (status, Body::from(msg)).into_response()
    }
}

fn too_large(api: bool) -> Response {
    refusal(
        api,
        StatusCode::PAYLOAD_TOO_LARGE,
        "送信データが大きすぎます (request body too large)",
    )
}

fn busy(api: bool) -> Response {
    let mut res = refusal(
        api,
        StatusCode::SERVICE_UNAVAILABLE,
        "サーバーが混み合っています。しばらくして再送してください (server busy: retry shortly)",
    );
    res.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    res
}

// ---------------------------------------------------------------------------------------
// 7. Request timeout

pub async fn request_timeout(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let api = is_api(req.uri().path());
    let limit = if is_bulk(req.uri().path()) {
        state.limits.bulk_timeout
    } else {
        state.limits.timeout
    };
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(res) => res,
        Err(_) => refusal(
            api,
            StatusCode::SERVICE_UNAVAILABLE,
            "処理に時間がかかりすぎました (the request took too long)",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doors() {
        assert_eq!(door("/login"), Door::Public);
        assert_eq!(door("/static/renkei.css"), Door::Public);
        assert_eq!(door("/api/v1/replication/shipments"), Door::Replication);
        assert_eq!(door("/api/v1/patients/1/records"), Door::Signed);
        assert_eq!(door("/office"), Door::Signed);
        assert_eq!(door("/facility"), Door::Signed);
        assert_eq!(door("/api/v1/agent/runs"), Door::Signed);
        // Not a prefix trick: only the exact public paths.
        assert_eq!(door("/login/../office"), Door::Signed);
        assert_eq!(door("/loginx"), Door::Signed);
    }

    #[test]
    fn only_our_own_origin_may_post() {
        assert!(origin_is_own("http://127.0.0.1:8080", &["127.0.0.1:8080"]));
        assert!(origin_is_own(
            "https://renkei.example.jp",
            &["internal:80", "renkei.example.jp"]
        ));
        assert!(!origin_is_own("http://evil.example", &["127.0.0.1:8080"]));
        assert!(!origin_is_own("null", &["127.0.0.1:8080"]));
        assert!(!origin_is_own("http://127.0.0.1:8081", &["127.0.0.1:8080"]));
        assert!(!origin_is_own("ftp://127.0.0.1:8080", &["127.0.0.1:8080"]));
        assert!(!origin_is_own("http://", &[""]));
    }

    #[test]
    fn cross_site_rules() {
        let mut h = HeaderMap::new();
        h.insert("host", HeaderValue::from_static("127.0.0.1:8080"));
        assert!(!is_cross_site(&Method::POST, &h), "no Origin: a program");
        h.insert("origin", HeaderValue::from_static("http://127.0.0.1:8080"));
        assert!(!is_cross_site(&Method::POST, &h));
        h.insert("origin", HeaderValue::from_static("http://evil.example"));
        assert!(is_cross_site(&Method::POST, &h));
        assert!(is_cross_site(&Method::DELETE, &h));
        assert!(!is_cross_site(&Method::GET, &h), "GET changes nothing");
        let mut h = HeaderMap::new();
        h.insert("host", HeaderValue::from_static("127.0.0.1:8080"));
        h.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        assert!(is_cross_site(&Method::PUT, &h));
        h.insert("sec-fetch-site", HeaderValue::from_static("same-site"));
        assert!(
            is_cross_site(&Method::POST, &h),
            "a sibling subdomain is not us"
        );
        h.insert("sec-fetch-site", HeaderValue::from_static("same-origin"));
        assert!(!is_cross_site(&Method::POST, &h));
    }

    #[test]
    fn client_behind_a_trusted_proxy() {
        let proxy: IpAddr = [10, 0, 0, 1].into();
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            HeaderValue::from_static("203.0.113.9, 198.51.100.7"),
        );
        // Untrusted peer: its own address, whatever it claims.
        assert_eq!(
            resolve_client(Some([192, 0, 2, 5].into()), &h, &[proxy]),
            Some([192, 0, 2, 5].into())
        );
        // Trusted proxy: the last hop it saw (the client cannot forge what the proxy adds).
        assert_eq!(
            resolve_client(Some(proxy), &h, &[proxy]),
            Some([198, 51, 100, 7].into())
        );
        assert_eq!(
            resolve_client(Some(proxy), &HeaderMap::new(), &[proxy]),
            Some(proxy)
        );
        assert_eq!(resolve_client(None, &h, &[proxy]), None);
    }

    #[test]
    fn replication_token_comparison() {
        assert!(replication_token_matches(Some("s3cret"), Some("s3cret")));
        assert!(!replication_token_matches(Some("s3cret"), Some("s3cre")));
        assert!(!replication_token_matches(Some("s3cret"), None));
        assert!(!replication_token_matches(None, Some("")));
    }
}
