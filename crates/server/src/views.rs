//! Server-rendered pages (askama): sign-in and sign-out. Patient screens live in their own
//! modules; the front door marks every answer `no-store`.

use askama::Template;
use axum::extract::{Form, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use model::FacilityCode;
use serde::Deserialize;
use service::Principal;

use crate::api::SourceAddress;
use crate::html::{
    cleared_session_cookie, cookie_token, page, render, session_cookie, Chrome, HtmlError, SignedIn,
};
use crate::{AppState, ServerError};
use service::ServiceError;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    network_name: String,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct LoginForm {
    login: String,
    password: String,
    totp: String,
    #[serde(default)]
    facility: String,
}

pub async fn login_page(State(state): State<AppState>) -> Result<Response, ServerError> {
    Ok(page(
        LoginPage {
            network_name: state.network_name.clone(),
            error: None,
        }
        .render()?,
    ))
}

pub async fn login(
    State(state): State<AppState>,
    SourceAddress(source): SourceAddress,
    Form(form): Form<LoginForm>,
) -> Result<Response, ServerError> {
    let facility = match form.facility.trim() {
        "" => None,
        code => match FacilityCode::parse(code) {
            Ok(c) => Some(c),
            Err(e) => {
                let html = LoginPage {
                    network_name: state.network_name.clone(),
                    error: Some(e.to_string()),
                }
                .render()?;
                return Ok((StatusCode::BAD_REQUEST, page(html)).into_response());
            }
        },
    };
    match state
        .network
        .login(
            &form.login,
            &form.password,
            Some(form.totp.trim()),
            facility.as_ref(),
            source,
        )
        .await
    {
        Ok((token, principal)) => {
            let cookie = session_cookie(&state, token.as_str());
            // Someone who works at several facilities says which one they act for now: the
            // gate decides with that facility, and the audit log records it.
            let next = match &principal {
                Principal::User {
                    user,
                    acting_for: None,
                } if user.facilities.len() > 1 => "/facility",
                // The operations office works on the office screens, not on patients' records.
                p if p.is_office() => "/office",
                _ => "/search",
            };
            Ok(([(header::SET_COOKIE, cookie)], Redirect::to(next)).into_response())
        }
        Err(e) => {
            let html = LoginPage {
                network_name: state.network_name.clone(),
                error: Some(e.to_string()),
            }
            .render()?;
            Ok((StatusCode::UNAUTHORIZED, page(html)).into_response())
        }
    }
}

pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ServerError> {
    if let Some(token) = cookie_token(&headers) {
        let _ = state.network.logout(&token).await;
    }
    let clear = cleared_session_cookie(&state);
    // 303: the browser follows a POST's answer with a GET of the sign-in page.
    Ok(([(header::SET_COOKIE, clear)], Redirect::to("/login")).into_response())
}

struct FacilityChoice {
    code: String,
    name: String,
    current: bool,
}

#[derive(Template)]
#[template(path = "choose_facility.html")]
struct ChooseFacilityPage {
    network_name: String,
    chrome: Chrome,
    choices: Vec<FacilityChoice>,
}

/// 施設の選択: the facilities the user works for, one button each.
pub async fn choose_facility_page(
    State(state): State<AppState>,
    me: SignedIn,
) -> Result<Response, HtmlError> {
    let chrome = Chrome::new(&state, &me);
    let Principal::User { user, acting_for } = &me.principal else {
        let refusal = state
            .network
            .refuse(
                &me.principal,
                audit::Action::Login,
                "facility choice",
                "not_a_user",
                "施設の選択は利用者だけです (only users choose a facility)",
            )
            .await;
        return Err(HtmlError::new(&state, Some(chrome), refusal));
    };
    let all = match state.network.facilities().await {
        Ok(all) => all,
        Err(e) => return Err(HtmlError::new(&state, Some(chrome), e)),
    };
    let choices = user
        .facilities
        .iter()
        .map(|code| FacilityChoice {
            code: code.to_string(),
            name: all
                .iter()
                .find(|f| &f.code == code)
                .map(|f| f.name.clone())
                .unwrap_or_else(|| code.to_string()),
            current: acting_for.as_ref().is_some_and(|f| &f.code == code),
        })
        .collect();
    let html = render(&ChooseFacilityPage {
        network_name: state.network_name.clone(),
        chrome,
        choices,
    })
    .map_err(|e| HtmlError::new(&state, None, e))?;
    Ok(page(html))
}

#[derive(Deserialize)]
pub struct FacilityForm {
    facility: String,
}

pub async fn choose_facility(
    State(state): State<AppState>,
    me: SignedIn,
    Form(form): Form<FacilityForm>,
) -> Result<Response, HtmlError> {
    let fail = |e| HtmlError::new(&state, Some(Chrome::new(&state, &me)), e);
    let code = FacilityCode::parse(form.facility.trim())
        .map_err(|e| fail(ServiceError::Invalid(format!("facility: {e}"))))?;
    state
        .network
        .choose_facility(&me.token, &code)
        .await
        .map_err(fail)?;
    Ok(Redirect::to("/search").into_response())
}
