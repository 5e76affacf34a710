//! 設定 (network settings, administrators only): the profession × category permission grid,
//! the policy settings (implied consent, break-the-glass length) and the match settings
//! (candidate and auto-link scores).

use askama::Template;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use model::{Profession, RecordCategory};
use service::ServiceError;

use super::form::{self, FormData};
use super::{done, err, office, on_form, page_with, Head};
use crate::html::{Chrome, HtmlError, SignedIn};
use crate::AppState;

pub struct Cell {
    value: String,
    label: String,
    allowed: bool,
}

pub struct GridRow {
    profession: String,
    cells: Vec<Cell>,
}

#[derive(Template)]
#[template(path = "office/settings.html")]
struct SettingsPage {
    network_name: String,
    chrome: Chrome,
    head: Head,
    categories: Vec<String>,
    grid: Vec<GridRow>,
    implied_consent: bool,
    break_glass_minutes: String,
    candidate_min: String,
    auto_link_min: String,
    never_auto_link: bool,
    recent_days: String,
}

/// The page, for administrators only: the 403 page for everyone else (the service refuses
/// and audits their changes too).
async fn admin(state: &AppState, me: &SignedIn, q: &FormData) -> Result<(Chrome, Head), HtmlError> {
    let (chrome, head) = office(state, me, "settings", q).await?;
    if !head.is_admin {
        let refusal = state
            .network
            .refuse(
                &me.principal,
                audit::Action::AuditRead,
                "settings screen",
                "not_admin",
                "管理者の権限が必要です (only an administrator changes network settings)",
            )
            .await;
        return Err(err(state, &chrome, refusal));
    }
    Ok((chrome, head))
}

async fn view(
    state: &AppState,
    me: &SignedIn,
    q: &FormData,
    error: Option<(StatusCode, String)>,
) -> Result<Response, HtmlError> {
    let (chrome, mut head) = admin(state, me, q).await?;
    let e = |e| err(state, &chrome, e);
    let net = &state.network;
    let matrix = net.permission_matrix().await.map_err(e)?;
    let policy = net.policy_settings().await.map_err(e)?;
    let matching = net.match_settings().await.map_err(e)?;
    let medication = net.medication_settings().await.map_err(e)?;
    let grid = Profession::ALL
        .iter()
        .map(|p| GridRow {
            profession: format!("{} ({})", p.label_ja(), p.as_str()),
            cells: RecordCategory::ALL
                .iter()
                .map(|c| Cell {
                    value: format!("{}:{}", p.as_str(), c.as_str()),
                    label: format!("{} × {}", p.label_ja(), c.label_ja()),
                    allowed: matrix.allows(*p, *c),
                })
                .collect(),
        })
        .collect();
    let status = head.show_error(error);
    let t = SettingsPage {
        network_name: state.network_name.clone(),
        head,
        categories: RecordCategory::ALL
            .iter()
            .map(|c| format!("{} ({})", c.label_ja(), c.as_str()))
            .collect(),
        grid,
        implied_consent: policy.implied_consent,
        break_glass_minutes: policy.break_glass_minutes.to_string(),
        candidate_min: matching.candidate_min.to_string(),
        auto_link_min: matching
            .auto_link_min
            .map(|m| m.to_string())
            .unwrap_or_default(),
        never_auto_link: matching.auto_link_min.is_none(),
        recent_days: medication.recent_days.to_string(),
        chrome,
    };
    page_with(state, &t.chrome, status, &t)
}

pub async fn show(
    State(state): State<AppState>,
    me: SignedIn,
    RawQuery(q): RawQuery,
) -> Result<Response, HtmlError> {
    let q = FormData::from_query(q.as_deref());
    view(&state, &me, &q, None).await
}

async fn finish(
    state: &AppState,
    me: &SignedIn,
    chrome: &Chrome,
    result: Result<Response, ServiceError>,
) -> Result<Response, HtmlError> {
    match result {
        Ok(r) => Ok(r),
        Err(e) => {
            let error = on_form(state, chrome, e)?;
            view(state, me, &FormData::default(), Some(error)).await
        }
    }
}

/// Save the grid: only the cells that changed are written (each one audited).
pub async fn permissions(
    State(state): State<AppState>,
    me: SignedIn,
    body: Bytes,
) -> Result<Response, HtmlError> {
    let form = FormData::from_body(&body);
    let (chrome, _) = admin(&state, &me, &FormData::default()).await?;
    let result = async {
        let current = state.network.permission_matrix().await?;
        let changes = form::matrix_changes(&current, &form);
        for (p, c, allowed) in &changes {
            state
                .network
                .set_permission(&me.principal, *p, *c, *allowed)
                .await?;
        }
        Ok(done(
            &format!("/office/settings?n={}", changes.len()),
            "permissions_saved",
            "",
        ))
    }
    .await;
    finish(&state, &me, &chrome, result).await
}

pub async fn reset_permissions(
    State(state): State<AppState>,
    me: SignedIn,
) -> Result<Response, HtmlError> {
    let (chrome, _) = admin(&state, &me, &FormData::default()).await?;
    let result = async {
        state.network.reset_permissions(&me.principal).await?;
        Ok(done("/office/settings", "permissions_reset", ""))
    }
    .await;
    finish(&state, &me, &chrome, result).await
}

pub async fn policy(
    State(state): State<AppState>,
    me: SignedIn,
    body: Bytes,
) -> Result<Response, HtmlError> {
    let form = FormData::from_body(&body);
    let (chrome, _) = admin(&state, &me, &FormData::default()).await?;
    let result = async {
        let settings = form::policy_settings(&form)?;
        state
            .network
            .set_policy_settings(&me.principal, settings)
            .await?;
        Ok(done("/office/settings", "policy_saved", ""))
    }
    .await;
    finish(&state, &me, &chrome, result).await
}

pub async fn match_settings(
    State(state): State<AppState>,
    me: SignedIn,
    body: Bytes,
) -> Result<Response, HtmlError> {
    let form = FormData::from_body(&body);
    let (chrome, _) = admin(&state, &me, &FormData::default()).await?;
    let result = async {
        let settings = form::match_settings(&form)?;
        state
            .network
            .set_match_settings(&me.principal, settings)
            .await?;
        Ok(done("/office/settings", "match_saved", ""))
    }
    .await;
    finish(&state, &me, &chrome, result).await
}

/// How long an ended drug stays on the current medications (recent window, days).
pub async fn medication_settings(
    State(state): State<AppState>,
    me: SignedIn,
    body: Bytes,
) -> Result<Response, HtmlError> {
    let form = FormData::from_body(&body);
    let (chrome, _) = admin(&state, &me, &FormData::default()).await?;
    let result = async {
        let v = form.get("recent_days").trim();
        let recent_days = v.parse::<u32>().map_err(|_| {
            ServiceError::Invalid(format!(
                "「終了後も現在の処方に含める日数」(recent_days): {v:?}: 1〜365の整数 (a whole number 1–365)"
            ))
        })?;
        state
            .network
            .set_medication_settings(&me.principal, service::MedicationSettings { recent_days })
            .await?;
        Ok(done("/office/settings", "medication_saved", ""))
    }
    .await;
    finish(&state, &me, &chrome, result).await
}
