//! The renkei HTTP server.
//!
//! For now it serves the operations office's network status (参加施設と取込状況): totals per
//! facility and per data kind, import runs, quarantine counts — no patient data, so no access
//! gate is involved yet. Clinical views arrive with the access gate and must read records only
//! through it.

mod agent_api;
mod api;
mod chart;
mod clinical;
pub mod front;
mod html;
mod lab_views;
pub mod listener;
mod medication_rows;
mod office;
mod original;
mod patient_views;
mod record_views;
mod replication_api;
mod summary_adt;
mod views;
mod vitals_views;

use std::net::SocketAddr;
use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use store::{FacilityOverview, Store, StoreError, StoreStats};

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub network: service::Network,
    pub network_name: String,
    /// The token a primary (or `renkei restore --from`) must present to the replication
    /// endpoints; None = replication endpoints refused.
    pub replication_token: Option<String>,
    /// This server is a replica: it serves replication only.
    pub replica: bool,
    /// The off-site copies this primary ships to (shown with their lag to the office).
    pub sites: Arc<Vec<service::offsite::Site>>,
    /// The server speaks TLS itself (HSTS sent, cookies `Secure`).
    pub tls: bool,
    /// Cookies carry `Secure`: the server or the reverse proxy in front of it speaks TLS.
    pub secure_cookies: bool,
    /// Reverse proxies whose `X-Forwarded-For` is believed (see [`front::resolve_client`]).
    pub trusted_proxies: Arc<Vec<std::net::IpAddr>>,
    /// Memory held by request bodies and request timeouts.
    pub limits: Arc<front::RequestLimits>,
}

impl AppState {
    pub fn new(store: Arc<dyn Store>, network_name: String) -> AppState {
        AppState {
            network: service::Network::new(store.clone()),
            store,
            network_name,
            replication_token: None,
            replica: false,
            sites: Arc::new(Vec::new()),
            tls: false,
            secure_cookies: false,
            trusted_proxies: Arc::new(Vec::new()),
            limits: Arc::new(front::RequestLimits::default()),
        }
    }
}

/// Every handler error becomes an HTTP response here, in one place.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("template: {0}")]
    Template(#[from] askama::Error),
}

impl IntoResponse for ServerError {
    fn into_response(self) -> Response {
        // Details go to the operator's log; the browser gets a plain message. Store errors
        // never carry patient data (paths and counts only).
        eprintln!("request failed: {self}");
        let status = match &self {
            ServerError::Store(StoreError::NotFound(_)) => StatusCode::NOT_FOUND,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        (status, "内部エラー / internal error").into_response()
    }
}

/// Request bodies most routes accept (JSON and forms); bulk routes set their own.
pub const DEFAULT_BODY_LIMIT: usize = 2 * 1024 * 1024;

/// Sign-in forms are read before anyone is known: they get only what a login needs.
const LOGIN_BODY_LIMIT: usize = 16 * 1024;

pub fn router(state: AppState) -> Router {
    use axum::extract::DefaultBodyLimit;
    use axum::middleware::from_fn_with_state;
    use axum::routing::post;
    Router::new()
        .route("/", get(status_page))
        .route("/healthz", get(|| async { "ok" }))
        .route("/static/renkei.css", get(html::stylesheet))
        .route("/static/renkei.js", get(html::script))
        .route("/static/htmx.min.js", get(html::htmx))
        .route(
            "/login",
            get(views::login_page)
                .post(views::login)
                .layer(DefaultBodyLimit::max(LOGIN_BODY_LIMIT)),
        )
        .route("/logout", post(views::logout))
        .route(
            "/facility",
            get(views::choose_facility_page).post(views::choose_facility),
        )
        .route("/patients/{id}", get(clinical::summary))
        .route("/patients/{id}/labs", get(clinical::labs))
        .route("/patients/{id}/labs/chart", get(clinical::lab_chart))
        .route("/patients/{id}/vitals", get(vitals_views::vitals))
        .route("/patients/{id}/medications", get(clinical::medications))
        .route(
            "/patients/{id}/emergency",
            axum::routing::post(clinical::start_emergency),
        )
        .route("/patients", get(patient_views::old_patient_redirect))
        .route(
            "/search",
            get(patient_views::search_page).post(patient_views::search_post),
        )
        .route("/patients/{id}/timeline", get(patient_views::timeline_page))
        .route(
            "/patients/{id}/records/{version}",
            get(patient_views::record_page),
        )
        .route(
            "/patients/{id}/records/{version}/original",
            get(original::original_page),
        )
        .route("/api/v1/search", get(patient_views::search_json))
        .route(
            "/api/v1/patients/{id}/timeline",
            get(patient_views::timeline_json),
        )
        .route(
            "/api/v1/patients/{id}/records/{version}",
            get(patient_views::record_json),
        )
        .route(
            "/api/v1/patients/{id}/records/{version}/original",
            get(original::original_json),
        )
        .route("/api/v1/status", get(status_json))
        .merge(api::routes())
        .merge(agent_api::routes())
        .merge(office::routes())
        .merge(replication_api::routes())
        .layer(DefaultBodyLimit::max(DEFAULT_BODY_LIMIT))
        // The front door (front.rs), innermost first: the last layer added runs first.
        .layer(from_fn_with_state(state.clone(), front::request_timeout))
        .layer(from_fn_with_state(state.clone(), front::body_budget))
        .layer(from_fn_with_state(state.clone(), front::authenticate))
        .layer(from_fn_with_state(state.clone(), front::same_origin))
        .layer(from_fn_with_state(
            state.clone(),
            replication_api::replica_guard,
        ))
        .layer(axum::middleware::from_fn(front::api_error_shape))
        .layer(from_fn_with_state(state.clone(), front::response_headers))
        .layer(from_fn_with_state(state.clone(), front::client_address))
        .with_state(state)
}

/// Serve until the process is stopped, with the default limits and no TLS.
pub async fn serve(state: AppState, addr: SocketAddr) -> std::io::Result<()> {
    serve_with(state, addr, listener::ListenOptions::default()).await
}

/// Serve with the given connection limits, timeouts and TLS.
pub async fn serve_with(
    mut state: AppState,
    addr: SocketAddr,
    options: listener::ListenOptions,
) -> std::io::Result<()> {
    if options.tls.is_some() {
        state.tls = true;
        state.secure_cookies = true;
    }
    listener::serve_addr(addr, router(state), options).await
}

struct KindRow {
    code: String,
    label: String,
    count: u64,
}

#[derive(Template)]
#[template(path = "status.html")]
struct StatusPage {
    network_name: String,
    stats: StoreStats,
    facilities: Vec<FacilityOverview>,
    kinds: Vec<KindRow>,
    stored_percent: String,
}

fn mb(bytes: &u64) -> String {
    format!("{:.1}", *bytes as f64 / 1e6)
}

async fn status_page(State(state): State<AppState>) -> Result<Response, ServerError> {
    let stats = state.store.stats().await?;
    let facilities = state.store.facility_overview().await?;
    let kinds = stats
        .records_per_kind
        .iter()
        .map(|(code, count)| KindRow {
            code: code.clone(),
            label: ssmix2::DataKind::from_code(code)
                .map(|k| format!("{} ({})", k.label_ja(), k.label_en()))
                .unwrap_or_else(|| "拡張ストレージ (extended storage)".into()),
            count: *count,
        })
        .collect();
    let stored = stats.packed_bytes + stats.index_bytes;
    let stored_percent = if stats.raw_bytes > 0 {
        format!("{:.0}", stored as f64 * 100.0 / stats.raw_bytes as f64)
    } else {
        "-".into()
    };
    let page = StatusPage {
        network_name: state.network_name.clone(),
        stats,
        facilities,
        kinds,
        stored_percent,
    };
    Ok(Html(page.render()?).into_response())
}

#[derive(Serialize)]
struct StatusJson {
    stats: StoreStats,
    facilities: Vec<FacilityOverview>,
}

async fn status_json(State(state): State<AppState>) -> Result<Json<StatusJson>, ServerError> {
    Ok(Json(StatusJson {
        stats: state.store.stats().await?,
        facilities: state.store.facility_overview().await?,
    }))
}
