//! 施設 (facilities): the list with import figures, add and edit, and facility API keys.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use model::{FacilityKind, FacilityStatus};

use super::form::{self, FormData};
use super::{done, err, office, on_form, page_with, Head};
use crate::html::{Chrome, HtmlError, SignedIn};
use crate::AppState;

pub struct Row {
    code: String,
    name: String,
    kind: &'static str,
    area: String,
    status: &'static str,
    status_class: &'static str,
    discloses: bool,
    views: bool,
    files: String,
    records: String,
    quarantined: String,
    last_import: String,
}

pub fn status_label(s: FacilityStatus) -> &'static str {
    match s {
        FacilityStatus::Participating => "参加中 (participating)",
        FacilityStatus::Suspended => "一時停止 (suspended)",
        FacilityStatus::Left => "脱退 (left)",
    }
}

pub struct Choice {
    value: &'static str,
    label: String,
}

fn kinds() -> Vec<Choice> {
    FacilityKind::ALL
        .iter()
        .map(|k| Choice {
            value: k.as_str(),
            label: format!("{} ({})", k.label_ja(), k.as_str()),
        })
        .collect()
}

fn statuses() -> Vec<Choice> {
    [
        FacilityStatus::Participating,
        FacilityStatus::Suspended,
        FacilityStatus::Left,
    ]
    .into_iter()
    .map(|s| Choice {
        value: s.as_str(),
        label: status_label(s).to_owned(),
    })
    .collect()
}

#[derive(Template)]
#[template(path = "office/facilities.html")]
struct ListPage {
    network_name: String,
    chrome: Chrome,
    head: Head,
    rows: Vec<Row>,
    form: FormData,
    kinds: Vec<Choice>,
    statuses: Vec<Choice>,
}

#[derive(Template)]
#[template(path = "office/facility_edit.html")]
struct EditPage {
    network_name: String,
    chrome: Chrome,
    head: Head,
    code: String,
    form: FormData,
    kinds: Vec<Choice>,
    statuses: Vec<Choice>,
}

#[derive(Template)]
#[template(path = "office/api_key.html")]
struct KeyPage {
    network_name: String,
    chrome: Chrome,
    head: Head,
    code: String,
    name: String,
    prefix: String,
    key: String,
}

async fn list_view(
    state: &AppState,
    me: &SignedIn,
    q: &FormData,
    form: FormData,
    error: Option<(StatusCode, String)>,
) -> Result<Response, HtmlError> {
    let (chrome, mut head) = office(state, me, "facilities", q).await?;
    let e = |e| err(state, &chrome, e);
    let facilities = state.network.facilities().await.map_err(e)?;
    let overview = state
        .network
        .facility_overview(&me.principal)
        .await
        .map_err(e)?;
    let rows = facilities
        .into_iter()
        .map(|f| {
            let o = overview.iter().find(|o| o.code == f.code);
            let n = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_else(|| "-".into());
            Row {
                code: f.code.to_string(),
                name: f.name,
                kind: f.kind.label_ja(),
                area: f.area,
                status: status_label(f.status),
                status_class: match f.status {
                    FacilityStatus::Participating => "",
                    _ => "muted",
                },
                discloses: f.discloses,
                views: f.views,
                files: n(o.map(|o| o.files)),
                records: n(o.map(|o| o.records)),
                quarantined: n(o.map(|o| o.quarantined)),
                last_import: o
                    .and_then(|o| o.last_import.clone())
                    .unwrap_or_else(|| "-".into()),
            }
        })
        .collect();
    let status = head.show_error(error);
    let t = ListPage {
        network_name: state.network_name.clone(),
        head,
        rows,
        form,
        kinds: kinds(),
        statuses: statuses(),
        chrome,
    };
    page_with(state, &t.chrome, status, &t)
}

pub async fn list(
    State(state): State<AppState>,
    me: SignedIn,
    RawQuery(q): RawQuery,
) -> Result<Response, HtmlError> {
    let q = FormData::from_query(q.as_deref());
    let blank = FormData::from_pairs([
        ("status", "participating"),
        ("discloses", "on"),
        ("views", "on"),
    ]);
    list_view(&state, &me, &q, blank, None).await
}

/// Add a facility (the code comes from the form). An existing code is refused here so a
/// typo cannot overwrite another facility; changes go through the edit page.
pub async fn create(
    State(state): State<AppState>,
    me: SignedIn,
    body: Bytes,
) -> Result<Response, HtmlError> {
    let form = FormData::from_body(&body);
    let q = FormData::default();
    let (chrome, _) = office(&state, &me, "facilities", &q).await?;
    let result = async {
        let f = form::facility(form.get("code"), &form)?;
        if state
            .network
            .facilities()
            .await?
            .iter()
            .any(|x| x.code == f.code)
        {
            return Err(service::ServiceError::Conflict(format!(
                "施設コード {} は登録済みです。一覧の「変更」から編集してください (facility {} exists: edit it instead)",
                f.code, f.code
            )));
        }
        let code = f.code.to_string();
        state.network.put_facility(&me.principal, f).await?;
        Ok(code)
    }
    .await;
    match result {
        Ok(code) => Ok(done("/office/facilities", "facility_saved", &code)),
        Err(e) => {
            let error = on_form(&state, &chrome, e)?;
            list_view(&state, &me, &q, form, Some(error)).await
        }
    }
}

async fn edit_view(
    state: &AppState,
    me: &SignedIn,
    code: &str,
    q: &FormData,
    form: Option<FormData>,
    error: Option<(StatusCode, String)>,
) -> Result<Response, HtmlError> {
    let (chrome, mut head) = office(state, me, "facilities", q).await?;
    let code =
        form::facility_code("施設コード", "code", code).map_err(|e| err(state, &chrome, e))?;
    let form = match form {
        Some(f) => f,
        None => {
            let facilities = state
                .network
                .facilities()
                .await
                .map_err(|e| err(state, &chrome, e))?;
            let f = facilities.iter().find(|f| f.code == code).ok_or_else(|| {
                err(
                    state,
                    &chrome,
                    service::ServiceError::NotFound(format!(
                        "施設 {code} は登録されていません (facility not registered)"
                    )),
                )
            })?;
            form::facility_form(f)
        }
    };
    let status = head.show_error(error);
    let t = EditPage {
        network_name: state.network_name.clone(),
        head,
        code: code.to_string(),
        form,
        kinds: kinds(),
        statuses: statuses(),
        chrome,
    };
    page_with(state, &t.chrome, status, &t)
}

pub async fn edit(
    State(state): State<AppState>,
    me: SignedIn,
    Path(code): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, HtmlError> {
    let q = FormData::from_query(q.as_deref());
    edit_view(&state, &me, &code, &q, None, None).await
}

pub async fn update(
    State(state): State<AppState>,
    me: SignedIn,
    Path(code): Path<String>,
    body: Bytes,
) -> Result<Response, HtmlError> {
    let form = FormData::from_body(&body);
    let q = FormData::default();
    let (chrome, _) = office(&state, &me, "facilities", &q).await?;
    let result = async {
        let f = form::facility(&code, &form)?;
        let code = f.code.to_string();
        state.network.put_facility(&me.principal, f).await?;
        Ok(code)
    }
    .await;
    match result {
        Ok(code) => Ok(done("/office/facilities", "facility_saved", &code)),
        Err(e) => {
            let error = on_form(&state, &chrome, e)?;
            edit_view(&state, &me, &code, &q, Some(form), Some(error)).await
        }
    }
}

/// Issue an API key for the facility's system and show it this once (only its hash is kept).
pub async fn api_key(
    State(state): State<AppState>,
    me: SignedIn,
    Path(code): Path<String>,
) -> Result<Response, HtmlError> {
    let q = FormData::default();
    let (chrome, head) = office(&state, &me, "facilities", &q).await?;
    let e = |e| err(&state, &chrome, e);
    let code = form::facility_code("施設コード", "code", &code).map_err(e)?;
    let key = state
        .network
        .create_api_key(&me.principal, &code)
        .await
        .map_err(e)?;
    let name = state
        .network
        .facilities()
        .await
        .map_err(e)?
        .into_iter()
        .find(|f| f.code == code)
        .map(|f| f.name)
        .unwrap_or_default();
    let t = KeyPage {
        network_name: state.network_name.clone(),
        head,
        code: code.to_string(),
        name,
        prefix: key.display_prefix.clone(),
        key: key.secret_text.clone(),
        chrome,
    };
    page_with(&state, &t.chrome, StatusCode::OK, &t)
}
