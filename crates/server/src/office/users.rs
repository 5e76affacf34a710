//! 利用者 (users): the list, and adding a user (administrators only), which shows the new
//! user's TOTP secret once. The service has no disable/enable yet, so neither has this screen.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use model::Profession;

use super::form::{self, FormData};
use super::{err, office, on_form, page_with, Head};
use crate::html::{Chrome, HtmlError, SignedIn};
use crate::AppState;

pub struct Row {
    login: String,
    display_name: String,
    profession: String,
    facilities: String,
    active: bool,
}

pub struct Choice {
    value: &'static str,
    label: String,
}

#[derive(Template)]
#[template(path = "office/users.html")]
struct ListPage {
    network_name: String,
    chrome: Chrome,
    head: Head,
    rows: Vec<Row>,
    form: FormData,
    professions: Vec<Choice>,
}

#[derive(Template)]
#[template(path = "office/user_added.html")]
struct AddedPage {
    network_name: String,
    chrome: Chrome,
    head: Head,
    login: String,
    display_name: String,
    secret: String,
    uri: String,
}

async fn list_view(
    state: &AppState,
    me: &SignedIn,
    q: &FormData,
    form: FormData,
    error: Option<(StatusCode, String)>,
) -> Result<Response, HtmlError> {
    let (chrome, mut head) = office(state, me, "users", q).await?;
    let users = state
        .network
        .users(&me.principal)
        .await
        .map_err(|e| err(state, &chrome, e))?;
    let facilities = state
        .network
        .facilities()
        .await
        .map_err(|e| err(state, &chrome, e))?;
    let name_of = |code: &model::FacilityCode| {
        facilities
            .iter()
            .find(|f| &f.code == code)
            .map(|f| format!("{code} {}", f.name))
            .unwrap_or_else(|| code.to_string())
    };
    let rows = users
        .into_iter()
        .map(|u| Row {
            facilities: u
                .facilities
                .iter()
                .map(name_of)
                .collect::<Vec<_>>()
                .join("、"),
            login: u.login,
            display_name: u.display_name,
            profession: format!("{} ({})", u.profession.label_ja(), u.profession.as_str()),
            active: u.active,
        })
        .collect();
    let status = head.show_error(error);
    let t = ListPage {
        network_name: state.network_name.clone(),
        head,
        rows,
        form,
        professions: Profession::ALL
            .iter()
            .map(|p| Choice {
                value: p.as_str(),
                label: format!("{} ({})", p.label_ja(), p.as_str()),
            })
            .collect(),
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
    list_view(&state, &me, &q, FormData::default(), None).await
}

/// Add a user. The answer is a page, not a redirect: the TOTP secret exists only in this
/// response and must not end up in a URL or a browser history.
pub async fn add(
    State(state): State<AppState>,
    me: SignedIn,
    body: Bytes,
) -> Result<Response, HtmlError> {
    let form = FormData::from_body(&body);
    let q = FormData::default();
    let (chrome, head) = office(&state, &me, "users", &q).await?;
    let result = async {
        let new = form::new_user(&form)?;
        let login = new.login.clone();
        let display_name = new.display_name.clone();
        let totp = state.network.add_user(&me.principal, new).await?;
        Ok((login, display_name, totp))
    }
    .await;
    match result {
        Ok((login, display_name, totp)) => {
            let t = AddedPage {
                network_name: state.network_name.clone(),
                head,
                secret: totp.to_base32(),
                uri: totp.otpauth_uri(auth::DEFAULT_ISSUER, &login),
                login,
                display_name,
                chrome,
            };
            page_with(&state, &t.chrome, StatusCode::OK, &t)
        }
        Err(e) => {
            let error = on_form(&state, &chrome, e)?;
            // Never send the password back into the page.
            let kept = FormData::from_pairs(
                ["login", "display_name", "profession", "facilities"]
                    .into_iter()
                    .map(|k| (k, form.get(k).to_owned())),
            );
            list_view(&state, &me, &q, kept, Some(error)).await
        }
    }
}
