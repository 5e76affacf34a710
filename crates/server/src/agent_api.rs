//! The facility agent's endpoints (`/api/v1/agent/…`, protocol in the `upload` crate). Only a
//! facility's API key is accepted; the service layer (`Network::agent_*`) checks the rest and
//! audits. Errors go through [`ApiError`] like the rest of the API.

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use upload::{
    BatchAnswer, CheckAnswer, CheckRequest, FinishRun, RunFinished, RunStarted, StartRun,
    BATCH_CONTENT_TYPE, MAX_BATCH_BYTES,
};

use serde_json::json;

use crate::api::{invalid, ApiError, ApiResult};
use crate::front::Authed;
use crate::AppState;

/// JSON bodies of check requests: [`upload::MAX_CHECK`] file references fit well within this.
const MAX_JSON_BYTES: usize = 8 * 1024 * 1024;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/agent/runs", post(start_run))
        .route(
            "/api/v1/agent/check",
            post(check).layer(DefaultBodyLimit::max(MAX_JSON_BYTES)),
        )
        .route(
            "/api/v1/agent/runs/{run}/files",
            post(files).layer(DefaultBodyLimit::max(MAX_BATCH_BYTES)),
        )
        .route(
            "/api/v1/agent/runs/{run}/finish",
            post(finish).layer(DefaultBodyLimit::max(MAX_JSON_BYTES)),
        )
}

async fn start_run(
    State(state): State<AppState>,
    Authed(p): Authed,
    Json(body): Json<StartRun>,
) -> ApiResult<Json<RunStarted>> {
    Ok(Json(state.network.agent_start_run(&p, &body).await?))
}

async fn check(
    State(state): State<AppState>,
    Authed(p): Authed,
    Json(body): Json<CheckRequest>,
) -> ApiResult<Json<CheckAnswer>> {
    Ok(Json(state.network.agent_check(&p, &body).await?))
}

async fn files(
    State(state): State<AppState>,
    Authed(p): Authed,
    headers: HeaderMap,
    Path(run): Path<i64>,
    body: Body,
) -> Response {
    match store_batch(&state, &p, &headers, run, body).await {
        Ok(answer) => Json(answer).into_response(),
        Err(e) => e,
    }
}

fn too_large() -> Response {
    (
        StatusCode::PAYLOAD_TOO_LARGE,
        Json(json!({ "error": format!("a batch is at most {MAX_BATCH_BYTES} bytes") })),
    )
        .into_response()
}

async fn store_batch(
    state: &AppState,
    p: &service::Principal,
    headers: &HeaderMap,
    run: i64,
    body: Body,
) -> Result<BatchAnswer, Response> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if content_type.split(';').next().map(str::trim) != Some(BATCH_CONTENT_TYPE) {
        return Err(invalid(format!(
            "a batch is sent as Content-Type: {BATCH_CONTENT_TYPE}"
        ))
        .into_response());
    }
    // Refuse an announced oversize batch before reading any of it.
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if announced.is_some_and(|n| n > MAX_BATCH_BYTES as u64) {
        return Err(too_large());
    }
    let bytes = axum::body::to_bytes(body, MAX_BATCH_BYTES)
        .await
        .map_err(|_| too_large())?;
    state
        .network
        .agent_store_batch(p, run, bytes.to_vec())
        .await
        .map_err(|e| ApiError::from(e).into_response())
}

async fn finish(
    State(state): State<AppState>,
    Authed(p): Authed,
    Path(run): Path<i64>,
    Json(body): Json<FinishRun>,
) -> ApiResult<Json<RunFinished>> {
    Ok(Json(state.network.agent_finish_run(&p, run, &body).await?))
}
