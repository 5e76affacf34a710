//! The JSON API (`/api/v1`). Every handler authenticates first (session token or facility
//! API key), then calls the service layer, which checks permissions, goes through the access
//! gate for records, and writes the audit log. Errors become HTTP statuses in one place
//! ([`ApiError`]).

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use model::{
    ConsentScope, Date, Facility, FacilityCode, FacilityKind, FacilityStatus, LocalPatient,
    Profession, Purpose, RegionalId,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use service::{ConsentInput, NewUser, Principal, ServiceError};

use crate::front::Authed;
use crate::AppState;

pub const SESSION_COOKIE: &str = "renkei_session";

/// A service error as an HTTP response: the status says what kind, the body says why.
pub struct ApiError(ServiceError);

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        ApiError(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = crate::html::status_of(&self.0);
        let message = match &self.0 {
            // Internal details go to the operator's log, not to the client.
            ServiceError::Store(_) | ServiceError::Internal(_) => {
                eprintln!("api error: {}", self.0);
                "内部エラー (internal error)".to_owned()
            }
            other => other.to_string(),
        };
        (status, Json(json!({ "error": message }))).into_response()
    }
}

pub(crate) type ApiResult<T> = Result<T, ApiError>;

pub(crate) fn invalid(msg: impl Into<String>) -> ApiError {
    ApiError(ServiceError::Invalid(msg.into()))
}

/// The client's address (the TCP peer, or what a trusted reverse proxy reports), for the
/// sign-in limits per address. None when the router is served without connection info
/// (tests that call it directly).
pub(crate) struct SourceAddress(pub Option<std::net::IpAddr>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for SourceAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        // The client as the front door resolved it (a trusted proxy's X-Forwarded-For).
        let client = parts
            .extensions
            .get::<crate::front::ClientAddress>()
            .and_then(|c| c.0);
        Ok(SourceAddress(client))
    }
}

/// The bearer token or session cookie of a request.
fn credential(headers: &HeaderMap) -> Option<String> {
    crate::front::bearer(headers)
        .map(str::to_owned)
        .or_else(|| crate::html::cookie_token(headers))
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/login", post(login))
        .route("/api/v1/logout", post(logout))
        .route("/api/v1/me", get(me))
        .route("/api/v1/me/facility", post(choose_facility))
        .route("/api/v1/facilities", get(facilities))
        .route("/api/v1/facilities/{code}", put(put_facility))
        .route("/api/v1/facilities/{code}/api-keys", post(api_key))
        .route("/api/v1/users", get(users).post(add_user))
        .route("/api/v1/patients", post(enroll))
        .route("/api/v1/patients/{id}/links", get(links))
        .route("/api/v1/patients/{id}/consents", get(consents))
        .route("/api/v1/patients/{id}/records", get(records))
        .route("/api/v1/patients/{id}/emergency", post(start_emergency))
        .route("/api/v1/links", post(link))
        .route("/api/v1/links/{facility}/{local_id}", delete(unlink))
        .route("/api/v1/match-candidates", get(candidates))
        .route("/api/v1/links/auto", post(auto_link))
        .route("/api/v1/settings", get(settings))
        .route("/api/v1/settings/permissions", put(set_permission))
        .route("/api/v1/settings/policy", put(set_policy))
        .route("/api/v1/settings/match", put(set_match))
        .route("/api/v1/settings/medication", put(set_medication))
        .route("/api/v1/merges", post(merge))
        .route("/api/v1/merges/{id}/undo", post(unmerge))
        .route("/api/v1/consents", post(record_consent))
        .route("/api/v1/consents/{id}/withdraw", post(withdraw_consent))
        .route("/api/v1/audit/verify", get(audit_verify))
        .route("/api/v1/audit/patients/{id}", get(who_saw))
        .route("/api/v1/audit/users/{login}", get(user_activity))
        .route("/api/v1/audit/emergency", get(emergency))
}

fn regional_id(s: &str) -> ApiResult<RegionalId> {
    RegionalId::parse(s).map_err(|e| invalid(e.to_string()))
}

fn facility_code(s: &str) -> ApiResult<FacilityCode> {
    FacilityCode::parse(s).map_err(|e| invalid(e.to_string()))
}

#[derive(Deserialize)]
struct LoginBody {
    login: String,
    password: String,
    totp: Option<String>,
    facility: Option<String>,
}

fn principal_json(p: &Principal) -> Value {
    match p {
        Principal::User { user, acting_for } => json!({
            "login": user.login,
            "display_name": user.display_name,
            "profession": user.profession,
            "facilities": user.facilities,
            "acting_for": acting_for.as_ref().map(|f| &f.code),
        }),
        Principal::FacilitySystem { facility, .. } => json!({ "facility_system": facility.code }),
    }
}

async fn login(
    State(state): State<AppState>,
    SourceAddress(source): SourceAddress,
    Json(body): Json<LoginBody>,
) -> ApiResult<Response> {
    let facility = body.facility.as_deref().map(facility_code).transpose()?;
    let (token, p) = state
        .network
        .login(
            &body.login,
            &body.password,
            body.totp.as_deref(),
            facility.as_ref(),
            source,
        )
        .await?;
    let cookie = crate::html::session_cookie(&state, token.as_str());
    Ok((
        [(header::SET_COOKIE, cookie)],
        Json(json!({ "token": token.as_str(), "principal": principal_json(&p) })),
    )
        .into_response())
}

async fn logout(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Json<Value>> {
    if let Some(token) = credential(&headers) {
        state.network.logout(&token).await?;
    }
    Ok(Json(json!({ "signed_out": true })))
}

async fn me(Authed(p): Authed) -> ApiResult<Json<Value>> {
    Ok(Json(principal_json(&p)))
}

#[derive(Deserialize)]
struct ChooseBody {
    facility: String,
}

async fn choose_facility(
    State(state): State<AppState>,
    axum::Extension(auth): axum::Extension<crate::front::Authenticated>,
    Json(body): Json<ChooseBody>,
) -> ApiResult<Json<Value>> {
    let p = state
        .network
        .choose_facility(&auth.token, &facility_code(&body.facility)?)
        .await?;
    Ok(Json(principal_json(&p)))
}

async fn facilities(
    State(state): State<AppState>,
    Authed(_): Authed,
) -> ApiResult<Json<Vec<Facility>>> {
    Ok(Json(state.network.facilities().await?))
}

#[derive(Deserialize)]
struct FacilityBody {
    name: String,
    kind: String,
    #[serde(default)]
    area: String,
    #[serde(default = "participating")]
    status: String,
    discloses: bool,
    views: bool,
}

fn participating() -> String {
    "participating".into()
}

async fn put_facility(
    State(state): State<AppState>,
    Authed(p): Authed,
    Path(code): Path<String>,
    Json(body): Json<FacilityBody>,
) -> ApiResult<Json<Value>> {
    let code = facility_code(&code)?;
    let kind = FacilityKind::parse(&body.kind)
        .ok_or_else(|| invalid(format!("kind {:?} is not a facility kind", body.kind)))?;
    let status = FacilityStatus::parse(&body.status).ok_or_else(|| {
        invalid(format!(
            "status {:?}: participating, suspended or left",
            body.status
        ))
    })?;
    let f = Facility {
        code,
        name: body.name,
        kind,
        area: body.area,
        status,
        discloses: body.discloses,
        views: body.views,
    };
    state.network.put_facility(&p, f.clone()).await?;
    Ok(Json(json!(f)))
}

async fn api_key(
    State(state): State<AppState>,
    Authed(p): Authed,
    Path(code): Path<String>,
) -> ApiResult<Json<Value>> {
    let key = state
        .network
        .create_api_key(&p, &facility_code(&code)?)
        .await?;
    Ok(Json(
        json!({ "prefix": key.display_prefix, "key": key.secret_text }),
    ))
}

async fn users(State(state): State<AppState>, Authed(p): Authed) -> ApiResult<Json<Value>> {
    Ok(Json(json!(state.network.users(&p).await?)))
}

#[derive(Deserialize)]
struct UserBody {
    login: String,
    display_name: String,
    profession: String,
    #[serde(default)]
    facilities: Vec<String>,
    password: String,
}

async fn add_user(
    State(state): State<AppState>,
    Authed(p): Authed,
    Json(body): Json<UserBody>,
) -> ApiResult<Json<Value>> {
    let profession = Profession::parse(&body.profession).ok_or_else(|| {
        invalid(format!(
            "profession {:?} is not one of the professions",
            body.profession
        ))
    })?;
    let facilities = body
        .facilities
        .iter()
        .map(|f| facility_code(f))
        .collect::<ApiResult<Vec<_>>>()?;
    let login = body.login.clone();
    let totp = state
        .network
        .add_user(
            &p,
            NewUser {
                login: body.login,
                display_name: body.display_name,
                profession,
                facilities,
                password: body.password,
            },
        )
        .await?;
    Ok(Json(json!({
        "login": login,
        "totp_secret": totp.to_base32(),
        "otpauth_uri": totp.otpauth_uri(auth::DEFAULT_ISSUER, &login),
    })))
}

#[derive(Deserialize)]
struct LocalBody {
    facility: String,
    local_id: String,
}

impl LocalBody {
    fn local(&self) -> ApiResult<LocalPatient> {
        if self.local_id.trim().is_empty() {
            return Err(invalid("local_id is empty"));
        }
        Ok(LocalPatient {
            facility: facility_code(&self.facility)?,
            local_id: self.local_id.clone(),
        })
    }
}

#[derive(Deserialize)]
struct EnrollBody {
    #[serde(default)]
    locals: Vec<LocalBody>,
}

async fn enroll(
    State(state): State<AppState>,
    Authed(p): Authed,
    Json(body): Json<EnrollBody>,
) -> ApiResult<Json<Value>> {
    let locals = body
        .locals
        .iter()
        .map(LocalBody::local)
        .collect::<ApiResult<Vec<_>>>()?;
    let id = state.network.enroll(&p, &locals).await?;
    Ok(Json(json!({ "regional_id": id, "grouped": id.grouped() })))
}

async fn links(
    State(state): State<AppState>,
    Authed(p): Authed,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(
        state.network.links(&p, &regional_id(&id)?).await?
    )))
}

#[derive(Deserialize)]
struct LinkBody {
    regional_id: String,
    facility: String,
    local_id: String,
}

async fn link(
    State(state): State<AppState>,
    Authed(p): Authed,
    Json(body): Json<LinkBody>,
) -> ApiResult<Json<Value>> {
    let lp = LocalBody {
        facility: body.facility,
        local_id: body.local_id,
    }
    .local()?;
    Ok(Json(json!(
        state
            .network
            .link(&p, &regional_id(&body.regional_id)?, &lp)
            .await?
    )))
}

async fn unlink(
    State(state): State<AppState>,
    Authed(p): Authed,
    Path((facility, local_id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let lp = LocalBody { facility, local_id }.local()?;
    Ok(Json(json!(state.network.unlink(&p, &lp).await?)))
}

async fn candidates(State(state): State<AppState>, Authed(p): Authed) -> ApiResult<Json<Value>> {
    Ok(Json(json!(state.network.candidates(&p).await?)))
}

#[derive(Deserialize)]
struct MergeBody {
    from: String,
    into: String,
}

async fn merge(
    State(state): State<AppState>,
    Authed(p): Authed,
    Json(body): Json<MergeBody>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(
        state
            .network
            .merge(&p, &regional_id(&body.from)?, &regional_id(&body.into)?)
            .await?
    )))
}

async fn unmerge(
    State(state): State<AppState>,
    Authed(p): Authed,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(state.network.unmerge(&p, id).await?)))
}

#[derive(Deserialize)]
struct ConsentBody {
    regional_id: String,
    scope: ConsentScope,
    valid_from: String,
    valid_until: Option<String>,
    #[serde(default)]
    paper_form: String,
    #[serde(default)]
    implied: bool,
}

async fn record_consent(
    State(state): State<AppState>,
    Authed(p): Authed,
    Json(body): Json<ConsentBody>,
) -> ApiResult<Json<Value>> {
    let date = |field: &str, s: &str| {
        Date::parse(s).ok_or_else(|| invalid(format!("{field} {s:?} is not a date (YYYY-MM-DD)")))
    };
    let input = ConsentInput {
        regional_id: regional_id(&body.regional_id)?,
        scope: body.scope,
        valid_from: date("valid_from", &body.valid_from)?,
        valid_until: body
            .valid_until
            .as_deref()
            .map(|u| date("valid_until", u))
            .transpose()?,
        paper_form: body.paper_form,
        implied: body.implied,
    };
    Ok(Json(json!(state.network.record_consent(&p, input).await?)))
}

async fn withdraw_consent(
    State(state): State<AppState>,
    Authed(p): Authed,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(state.network.withdraw_consent(&p, id).await?)))
}

async fn consents(
    State(state): State<AppState>,
    Authed(p): Authed,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(
        state.network.consents(&p, &regional_id(&id)?).await?
    )))
}

#[derive(Deserialize)]
struct EmergencyBody {
    #[serde(default)]
    reason: String,
}

/// Start break-the-glass for this patient (see `Network::start_break_glass`): the window
/// that `?purpose=emergency` reads then use.
async fn start_emergency(
    State(state): State<AppState>,
    Authed(p): Authed,
    Path(id): Path<String>,
    Json(body): Json<EmergencyBody>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(
        state
            .network
            .start_break_glass(&p, &regional_id(&id)?, &body.reason)
            .await?
    )))
}

#[derive(Deserialize)]
struct RecordsQuery {
    #[serde(default = "care")]
    purpose: String,
    /// Accepted and ignored: the emergency window is started by `POST …/emergency`.
    reason: Option<String>,
}

fn care() -> String {
    "care".into()
}

#[derive(Serialize)]
struct RecordsResponse {
    regional_id: RegionalId,
    allowed: Vec<Value>,
    refused: Vec<service::AccessRefusal>,
    break_glass: Option<policy::BreakGlass>,
}

async fn records(
    State(state): State<AppState>,
    Authed(p): Authed,
    Path(id): Path<String>,
    Query(q): Query<RecordsQuery>,
) -> ApiResult<Response> {
    let purpose = Purpose::parse(&q.purpose).ok_or_else(|| {
        invalid(format!(
            "purpose {:?}: care, emergency or administration",
            q.purpose
        ))
    })?;
    let access = state
        .network
        .patient_records(&p, &regional_id(&id)?, purpose, q.reason.as_deref())
        .await?;
    let allowed = access
        .allowed
        .iter()
        .map(|i| {
            json!({
                "source": i.source,
                "local_id": i.local_id,
                "category": i.category,
                "kind": i.record.kind,
                "date": i.record.date,
                "order_no": i.record.order_no,
                "condition": i.record.condition,
                "message_type": i.record.message_type,
                "version_id": i.record.version_id,
            })
        })
        .collect();
    let body = RecordsResponse {
        regional_id: access.regional_id,
        allowed,
        refused: access.refused,
        break_glass: access.break_glass,
    };
    Ok(Json(body).into_response())
}

async fn audit_verify(State(state): State<AppState>, Authed(p): Authed) -> ApiResult<Response> {
    let report = state.network.audit_verify(&p).await?;
    let status = if report.ok() {
        StatusCode::OK
    } else {
        StatusCode::CONFLICT
    };
    Ok((status, Json(json!({ "ok": report.ok(), "entries": report.entries, "head": report.head_hash, "problems": report.problems })))
        .into_response())
}

async fn who_saw(
    State(state): State<AppState>,
    Authed(p): Authed,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(
        state.network.who_saw(&p, &regional_id(&id)?).await?
    )))
}

async fn user_activity(
    State(state): State<AppState>,
    Authed(p): Authed,
    Path(login): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(state.network.user_activity(&p, &login).await?)))
}

async fn emergency(State(state): State<AppState>, Authed(p): Authed) -> ApiResult<Json<Value>> {
    Ok(Json(json!(state.network.emergency_review(&p).await?)))
}

async fn auto_link(State(state): State<AppState>, Authed(p): Authed) -> ApiResult<Json<Value>> {
    Ok(Json(
        json!({ "links_made": state.network.auto_link(&p).await? }),
    ))
}

async fn settings(State(state): State<AppState>, Authed(p): Authed) -> ApiResult<Json<Value>> {
    state.network.require_office_screen(&p, "settings").await?;
    Ok(Json(json!({
        "permission_matrix": state.network.permission_matrix().await?,
        "policy": state.network.policy_settings().await?,
        "match": state.network.match_settings().await?,
        "medication": state.network.medication_settings().await?,
    })))
}

#[derive(Deserialize)]
struct PermissionBody {
    profession: String,
    category: String,
    allowed: bool,
}

async fn set_permission(
    State(state): State<AppState>,
    Authed(p): Authed,
    Json(body): Json<PermissionBody>,
) -> ApiResult<Json<Value>> {
    let profession = Profession::parse(&body.profession)
        .ok_or_else(|| invalid(format!("{:?} is not a profession", body.profession)))?;
    let category = model::RecordCategory::parse(&body.category)
        .ok_or_else(|| invalid(format!("{:?} is not a record category", body.category)))?;
    Ok(Json(json!(
        state
            .network
            .set_permission(&p, profession, category, body.allowed)
            .await?
    )))
}

async fn set_policy(
    State(state): State<AppState>,
    Authed(p): Authed,
    Json(body): Json<policy::Settings>,
) -> ApiResult<Json<Value>> {
    state.network.set_policy_settings(&p, body.clone()).await?;
    Ok(Json(json!(body)))
}

/// `{"recent_days": 30}`: how long an ended drug stays on the current list.
async fn set_medication(
    State(state): State<AppState>,
    Authed(p): Authed,
    Json(body): Json<service::MedicationSettings>,
) -> ApiResult<Json<Value>> {
    state.network.set_medication_settings(&p, body).await?;
    Ok(Json(json!(body)))
}

async fn set_match(
    State(state): State<AppState>,
    Authed(p): Authed,
    Json(body): Json<mpi::MatchSettings>,
) -> ApiResult<Json<Value>> {
    state.network.set_match_settings(&p, body.clone()).await?;
    Ok(Json(json!(body)))
}
