//! The facility agent's endpoints (`/api/v1/agent/…`, protocol in the `upload` crate). Only a
//! facility's API key is accepted; the service layer (`Network::agent_*`) checks the rest and
//! audits. Errors go through [`ApiError`] like the rest of the API.

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, HeaderMap};
use axum::routing::post;
use axum::{Json, Router};
use upload::{
    BatchAnswer, CheckAnswer, CheckRequest, FinishRun, RunFinished, RunStarted, StartRun,
    BATCH_CONTENT_TYPE, MAX_BATCH_BYTES,
};

use crate::api::{invalid, principal, ApiResult};
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
    headers: HeaderMap,
    Json(body): Json<StartRun>,
) -> ApiResult<Json<RunStarted>> {
    let p = principal(&state, &headers).await?;
    Ok(Json(state.network.agent_start_run(&p, &body).await?))
}

async fn check(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(body): Json<CheckRequest>,
) -> ApiResult<Json<CheckAnswer>> {
    let p = principal(&state, &headers).await?;
    Ok(Json(state.network.agent_check(&p, &body).await?))
}

async fn files(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(run): Path<i64>,
    body: Bytes,
) -> ApiResult<Json<BatchAnswer>> {
    let p = principal(&state, &headers).await?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if content_type.split(';').next().map(str::trim) != Some(BATCH_CONTENT_TYPE) {
        return Err(invalid(format!(
            "a batch is sent as Content-Type: {BATCH_CONTENT_TYPE}"
        )));
    }
    Ok(Json(
        state
            .network
            .agent_store_batch(&p, run, body.to_vec())
            .await?,
    ))
}

async fn finish(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(run): Path<i64>,
    Json(body): Json<FinishRun>,
) -> ApiResult<Json<RunFinished>> {
    let p = principal(&state, &headers).await?;
    Ok(Json(state.network.agent_finish_run(&p, run, &body).await?))
}
