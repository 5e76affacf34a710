//! The replication endpoints (`/api/v1/replication/…`): what a primary calls on a replica,
//! and what `renkei restore --from` / `renkei verify --site` call on a renkei site. Only the
//! replication token is accepted (never a user session or a facility key): these calls move
//! whole networks' data and are made by machines.
//!
//! The token is checked by the front door (`front.rs`) before any body is read; a handler
//! here only runs for a caller that presented it.
//!
//! On a replica every other page and API answers 503 ([`replica_guard`]): serving the viewer
//! would mean writing audit entries of the replica's own, which would fork the primary's
//! chain it is copying.

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use replication::remote::{
    decode_contents, encode_contents, Applied, ContentsRequest, ReplicaStatus,
};
use replication::wire::MAX_SHIPMENT_BYTES;
use serde::Deserialize;
use serde_json::json;
use store::{BlobReport, StoredFile};

use crate::api::{invalid, ApiError, ApiResult};
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/replication/status", get(status))
        .route(
            "/api/v1/replication/shipments",
            post(shipment).layer(DefaultBodyLimit::max(MAX_SHIPMENT_BYTES)),
        )
        .route("/api/v1/replication/tree", get(tree))
        .route("/api/v1/replication/contents", post(contents))
        .route("/api/v1/replication/feed", get(feed))
        .route("/api/v1/replication/verify", post(verify))
        .route(
            "/api/v1/replication/repair",
            post(repair).layer(DefaultBodyLimit::max(MAX_SHIPMENT_BYTES)),
        )
}

async fn status(State(state): State<AppState>) -> ApiResult<Json<ReplicaStatus>> {
    Ok(Json(state.network.replica_status().await?))
}

async fn shipment(State(state): State<AppState>, body: Bytes) -> ApiResult<Json<Applied>> {
    let (feed, contents) = replication::wire::decode(&body).map_err(|e| invalid(e.to_string()))?;
    Ok(Json(state.network.apply_shipment(feed, contents).await?))
}

#[derive(Deserialize)]
struct TreeQuery {
    facility: String,
    as_of: Option<String>,
}

async fn tree(
    State(state): State<AppState>,
    Query(q): Query<TreeQuery>,
) -> ApiResult<Json<Vec<StoredFile>>> {
    let code =
        model::FacilityCode::parse(&q.facility).map_err(|e| invalid(format!("facility: {e}")))?;
    let as_of = q
        .as_of
        .as_deref()
        .map(service::offsite::as_of)
        .transpose()?;
    state
        .network
        .audit_replication_read(format!("tree of facility {code} for a remote restore"))
        .await?;
    Ok(Json(
        state.network.tree_as_of(&code, as_of.as_deref()).await?,
    ))
}

async fn contents(State(state): State<AppState>, Json(req): Json<ContentsRequest>) -> Response {
    let run = async {
        let shas = req
            .sha256
            .iter()
            .map(|h| {
                model::Sha256::from_hex(h)
                    .ok_or_else(|| invalid(format!("sha256: {h} is not a SHA-256")))
            })
            .collect::<ApiResult<Vec<_>>>()?;
        let found = state.network.contents_by_sha(&shas).await?;
        state
            .network
            .audit_replication_read(format!(
                "{} raw files sent for a remote restore or repair",
                found.len()
            ))
            .await?;
        Ok::<_, ApiError>(encode_contents(&found))
    };
    framed(run.await)
}

#[derive(Deserialize)]
struct FeedQuery {
    #[serde(default)]
    registry: i64,
    #[serde(default)]
    audit: u64,
    #[serde(default)]
    version: i64,
    limit: Option<usize>,
}

/// This site's streams after a cursor, with their contents: a network rebuilt from this
/// site when it is the last copy left.
async fn feed(State(state): State<AppState>, Query(q): Query<FeedQuery>) -> Response {
    let run = async {
        let after = store::FeedCursor {
            registry: q.registry,
            audit: q.audit,
            version: q.version,
        };
        let limit = q
            .limit
            .unwrap_or(service::offsite::SHIPMENT_ITEMS)
            .clamp(1, service::offsite::SHIPMENT_ITEMS);
        let (feed, contents) = state.network.feed_with_contents(&after, limit).await?;
        state
            .network
            .audit_replication_read(format!(
                "{} versions, {} registry changes, {} audit entries sent to rebuild a network",
                feed.versions.len(),
                feed.registry.len(),
                feed.audit.len()
            ))
            .await?;
        replication::wire::encode(&feed, &contents)
            .map_err(|e| ApiError::from(service::ServiceError::Internal(e.to_string())))
    };
    framed(run.await)
}

/// A body in the shipment framing (contents, a feed), or the error.
fn framed(body: ApiResult<Vec<u8>>) -> Response {
    match body {
        Ok(body) => (
            [(header::CONTENT_TYPE, replication::wire::CONTENT_TYPE)],
            Body::from(body),
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}

async fn verify(State(state): State<AppState>) -> ApiResult<Json<BlobReport>> {
    Ok(Json(state.network.verify_local().await?))
}

async fn repair(State(state): State<AppState>, body: Bytes) -> ApiResult<Json<serde_json::Value>> {
    let contents = decode_contents(&body).map_err(invalid)?;
    let n = state.network.repack(contents.into_iter().collect()).await?;
    Ok(Json(json!({ "repaired": n })))
}

/// On a replica, everything but replication and health answers 503 with the reason.
pub async fn replica_guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if !state.replica
        || path.starts_with("/api/v1/replication/")
        || path == "/healthz"
        || path.starts_with("/static/")
    {
        return next.run(req).await;
    }
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "このサーバーは複製（レプリカ）です。昇格（renkei promote）するまで閲覧・登録はできません。\n\
         This server is a replica: it serves nothing but replication until it is promoted with `renkei promote`.\n",
    )
        .into_response()
}
