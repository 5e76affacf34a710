//! Server-rendered pages (askama): sign-in and sign-out. Patient screens live in their own
//! modules; every page with patient data is `no-store`.

use askama::Template;
use axum::extract::{Form, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use model::FacilityCode;
use serde::Deserialize;

use crate::api::SESSION_COOKIE;
use crate::html::{cookie_token, page};
use crate::{AppState, ServerError};

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
        )
        .await
    {
        Ok((token, _)) => {
            let cookie = format!(
                "{SESSION_COOKIE}={}; HttpOnly; SameSite=Strict; Path=/",
                token.as_str()
            );
            Ok(([(header::SET_COOKIE, cookie)], Redirect::to("/search")).into_response())
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
    let clear = format!("{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    Ok(([(header::SET_COOKIE, clear)], Redirect::to("/login")).into_response())
}
