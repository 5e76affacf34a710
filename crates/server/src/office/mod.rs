//! The operations office screens (事務局画面): facilities, users, enrolment and ID links,
//! link candidates, consent records, audit review and (for administrators) the network
//! settings — everything the CLI does, for people who do not use a shell.
//!
//! Every screen is a plain server-rendered page; every change is a normal HTML form POST
//! answered with a redirect to the page it came from and a short message (`?done=…`), or,
//! when something must be shown exactly once (a TOTP secret, an API key), with a result page.
//! A rejected form comes back with the message naming the field and the values kept. The
//! service layer checks permissions and writes the audit log; these handlers only translate.
//!
//! Cross-site requests: the session cookie is `SameSite=Strict`, and in addition every POST
//! whose `Origin` (or `Sec-Fetch-Site`) says it came from another site is refused by the
//! front door (`front::same_origin`), for these screens and every other route.

mod audit_pages;
mod candidates;
mod facilities;
pub mod form;
mod patients;
mod settings;
mod users;

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use model::UnixTime;
use service::ServiceError;

use crate::html::{page, render, Chrome, HtmlError, SignedIn};
use crate::AppState;
use form::FormData;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/office", get(dashboard))
        .route(
            "/office/facilities",
            get(facilities::list).post(facilities::create),
        )
        .route(
            "/office/facilities/{code}",
            get(facilities::edit).post(facilities::update),
        )
        .route(
            "/office/facilities/{code}/api-keys",
            post(facilities::api_key),
        )
        .route("/office/users", get(users::list).post(users::add))
        .route(
            "/office/patients",
            get(patients::lookup).post(patients::enroll),
        )
        .route("/office/patients/{id}", get(patients::show))
        .route("/office/patients/{id}/links", post(patients::link))
        .route("/office/patients/{id}/unlink", post(patients::unlink))
        .route("/office/patients/{id}/merge", post(patients::merge))
        .route("/office/merges/{merge_id}/undo", post(patients::unmerge))
        .route(
            "/office/patients/{id}/consents",
            get(patients::consents).post(patients::record_consent),
        )
        .route(
            "/office/consents/{consent_id}/withdraw",
            post(patients::withdraw_consent),
        )
        .route("/office/candidates", get(candidates::list))
        .route("/office/candidates/link", post(candidates::link))
        .route("/office/candidates/auto", post(candidates::auto))
        .route("/office/audit", get(audit_pages::review))
        .route("/office/audit/verify", get(audit_pages::verify))
        .route("/office/settings", get(settings::show))
        .route("/office/settings/permissions", post(settings::permissions))
        .route(
            "/office/settings/permissions/reset",
            post(settings::reset_permissions),
        )
        .route("/office/settings/policy", post(settings::policy))
        .route("/office/settings/match", post(settings::match_settings))
        .route(
            "/office/settings/medication",
            post(settings::medication_settings),
        )
}

/// What every office page shows above its content: the office's own tabs and the message of
/// the last action (or the error of a rejected form).
pub struct Head {
    pub section: &'static str,
    pub is_admin: bool,
    pub ok: Option<String>,
    pub error: Option<String>,
}

impl Head {
    pub fn is(&self, section: &str) -> bool {
        self.section == section
    }

    /// Show a rejected form's message; the page's status (200 without one).
    pub fn show_error(&mut self, error: Option<(StatusCode, String)>) -> StatusCode {
        match error {
            Some((status, message)) => {
                self.error = Some(message);
                status
            }
            None => StatusCode::OK,
        }
    }
}

/// The signed-in user may use the office screens: the page chrome, or the 403 page. The
/// refusal goes through the service so it is audited like any other.
pub async fn office(
    state: &AppState,
    me: &SignedIn,
    section: &'static str,
    query: &FormData,
) -> Result<(Chrome, Head), HtmlError> {
    let chrome = Chrome::new(state, me);
    if !me.is_office {
        let err = state
            .network
            .require_office_screen(&me.principal, section)
            .await
            .err()
            .unwrap_or_else(|| ServiceError::Forbidden("事務局の画面です (office only)".into()));
        return Err(HtmlError::new(state, Some(chrome), err));
    }
    let head = Head {
        section,
        is_admin: me.principal.is_admin(),
        ok: done_message(query),
        error: None,
    };
    Ok((chrome, head))
}

/// The message for `?done=<code>`: fixed texts, so a crafted link cannot put words on the page.
pub fn done_message(q: &FormData) -> Option<String> {
    let n = q.get("n");
    let id = q.get("id");
    let text = match q.get("done") {
        "" => return None,
        "facility_saved" => format!("施設 {id} を保存しました (facility saved)"),
        "enrolled" => format!("地域共通ID {id} を発行しました (regional ID issued)"),
        "linked" => format!("{id} を連携しました (local patient linked)"),
        "unlinked" => format!("{id} の連携を終了しました (link ended)"),
        "merged" => format!("統合しました: {id} (merged)"),
        "unmerged" => format!("統合 #{id} を取り消しました (merge undone)"),
        "consent_recorded" => format!("同意 #{id} を登録しました (consent recorded)"),
        "consent_withdrawn" => format!("同意 #{id} を撤回しました (consent withdrawn)"),
        "pair_enrolled" => {
            format!("同一人物として新しい地域共通ID {id} で連携しました (pair enrolled)")
        }
        "pair_joined" => format!("地域共通ID {id} に連携しました (pair linked)"),
        "pair_already" => format!("既に地域共通ID {id} で連携済みです (already linked)"),
        "auto_linked" => {
            format!("自動連携: {n} 件の患者IDを連携しました (auto-link made {n} links)")
        }
        "permissions_saved" => format!("権限表を保存しました: {n} 件変更 ({n} cells changed)"),
        "permissions_reset" => "権限表を既定値に戻しました (permission matrix reset)".into(),
        "policy_saved" => "運用設定を保存しました (policy settings saved)".into(),
        "match_saved" => "名寄せ設定を保存しました (match settings saved)".into(),
        "medication_saved" => "処方表示の設定を保存しました (medication settings saved)".into(),
        _ => return None,
    };
    Some(text)
}

/// Redirect after a successful POST (303: the browser follows with a GET).
pub fn done(path: &str, code: &str, id: &str) -> Response {
    let sep = if path.contains('?') { '&' } else { '?' };
    Redirect::to(&format!(
        "{path}{sep}done={code}&id={}",
        crate::html::urlencode(id)
    ))
    .into_response()
}

/// Errors a person can fix on the same form (bad value, conflict with the current state)
/// come back on the form; the rest (not permitted, internal) become the error page.
pub fn on_form(
    state: &AppState,
    chrome: &Chrome,
    e: ServiceError,
) -> Result<(StatusCode, String), HtmlError> {
    match e {
        ServiceError::Invalid(_) | ServiceError::Conflict(_) | ServiceError::NotFound(_) => {
            Ok((crate::html::status_of(&e), e.to_string()))
        }
        other => Err(HtmlError::new(
            state,
            Some(Chrome {
                network_name: chrome.network_name.clone(),
                who: chrome.who.clone(),
                is_office: chrome.is_office,
            }),
            other,
        )),
    }
}

/// A rendered page with a status (a rejected form is 400/409, not 200).
pub fn page_with<T: Template>(
    state: &AppState,
    chrome: &Chrome,
    status: StatusCode,
    t: &T,
) -> Result<Response, HtmlError> {
    let html = render(t).map_err(|e| err(state, chrome, e))?;
    Ok((status, page(html)).into_response())
}

/// A service error as the error page with the user's chrome.
pub fn err(state: &AppState, chrome: &Chrome, e: ServiceError) -> HtmlError {
    HtmlError::new(
        state,
        Some(Chrome {
            network_name: chrome.network_name.clone(),
            who: chrome.who.clone(),
            is_office: chrome.is_office,
        }),
        e,
    )
}

/// An instant as Japan time, to the minute: `2026-04-01 09:30`.
pub fn jst(t: UnixTime) -> String {
    let s = UnixTime(t.0 + 9 * 3600).rfc3339();
    format!("{} {}", &s[..10], &s[11..16])
}

/// One page of a long list, newest first.
pub struct Paged<T> {
    pub items: Vec<T>,
    pub page: usize,
    pub pages: usize,
    pub total: usize,
}

pub const PER_PAGE: usize = 50;

impl<T> Paged<T> {
    /// Page `page` (1-based) of `all`, which is in oldest-first order.
    pub fn newest_first(mut all: Vec<T>, page: usize) -> Paged<T> {
        all.reverse();
        Paged::in_order(all, page)
    }

    /// Page `page` (1-based) of `all`, in the order given.
    pub fn in_order(all: Vec<T>, page: usize) -> Paged<T> {
        let total = all.len();
        let pages = total.div_ceil(PER_PAGE).max(1);
        let page = page.clamp(1, pages);
        let items = all
            .into_iter()
            .skip((page - 1) * PER_PAGE)
            .take(PER_PAGE)
            .collect();
        Paged {
            items,
            page,
            pages,
            total,
        }
    }

    pub fn has_prev(&self) -> bool {
        self.page > 1
    }

    pub fn has_next(&self) -> bool {
        self.page < self.pages
    }

    pub fn prev(&self) -> usize {
        self.page.saturating_sub(1).max(1)
    }

    pub fn next(&self) -> usize {
        self.page + 1
    }
}

pub fn page_number(q: &FormData) -> usize {
    q.get("page").parse().unwrap_or(1)
}

struct DashCount {
    label: &'static str,
    value: String,
    href: &'static str,
    warn: bool,
}

#[derive(Template)]
#[template(path = "office/dashboard.html")]
struct Dashboard {
    network_name: String,
    chrome: Chrome,
    head: Head,
    counts: Vec<DashCount>,
    audit_ok: bool,
    audit_text: String,
    /// Off-site copies (遠隔地バックアップ) and how far behind each is.
    sites: Vec<SiteRow>,
}

async fn dashboard(
    State(state): State<AppState>,
    me: SignedIn,
    axum::extract::RawQuery(q): axum::extract::RawQuery,
) -> Result<Response, HtmlError> {
    let q = FormData::from_query(q.as_deref());
    let (chrome, head) = office(&state, &me, "dashboard", &q).await?;
    let net = &state.network;
    let p = &me.principal;
    let e = |e| err(&state, &chrome, e);
    let facilities = net.facilities().await.map_err(e)?;
    let participating = facilities
        .iter()
        .filter(|f| f.status == model::FacilityStatus::Participating)
        .count();
    let users = net.users(p).await.map_err(e)?;
    let active = users.iter().filter(|u| u.active).count();
    let candidates = net.candidates(p).await.map_err(e)?;
    let emergencies = net.emergency_review(p).await.map_err(e)?;
    let tail = net.audit_tail(p, 1000).await.map_err(e)?;
    let counts = vec![
        DashCount {
            label: "参加施設 (facilities participating / registered)",
            value: format!("{participating} / {}", facilities.len()),
            href: "/office/facilities",
            warn: false,
        },
        DashCount {
            label: "利用者 (users active / all)",
            value: format!("{active} / {}", users.len()),
            href: "/office/users",
            warn: false,
        },
        DashCount {
            label: "名寄せ候補 (link candidates waiting)",
            value: candidates.len().to_string(),
            href: "/office/candidates",
            warn: !candidates.is_empty(),
        },
        DashCount {
            label: "緊急時閲覧の確認 (emergency accesses to review)",
            value: emergencies.len().to_string(),
            href: "/office/audit?view=emergency",
            warn: !emergencies.is_empty(),
        },
    ];
    let audit_text = if tail.problems.is_empty() {
        format!(
            "正常: 全 {} 件のうち最新 {} 件と外部アンカーを確認 (intact: newest {} of {} entries and the outside anchor checked)",
            tail.entries, tail.checked, tail.checked, tail.entries
        )
    } else {
        format!("異常 (BROKEN): {}", tail.problems.join("; "))
    };
    let sites = net
        .site_overview(&state.sites)
        .await
        .map_err(e)?
        .into_iter()
        .map(|o| SiteRow {
            lagging: o.lag_seconds > 300 || o.state.last_error.is_some(),
            name: o.name,
            kind: o.kind,
            pending: o.backlog.versions + o.backlog.registry + o.backlog.audit,
            lag: o.lag_seconds,
            last_ok: o.state.last_ok_at.unwrap_or_else(|| "—".into()),
            error: o.state.last_error.unwrap_or_default(),
        })
        .collect();
    let t = Dashboard {
        sites,
        network_name: state.network_name.clone(),
        audit_ok: tail.problems.is_empty(),
        chrome,
        head,
        counts,
        audit_text,
    };
    let html = render(&t).map_err(|e| err(&state, &t.chrome, e))?;
    Ok(page(html))
}

/// One off-site copy on the dashboard.
struct SiteRow {
    name: String,
    kind: String,
    /// Items (file versions, registry changes, audit entries) not yet at the site.
    pending: u64,
    /// Seconds since the oldest file version not yet at the site was accepted.
    lag: u64,
    last_ok: String,
    error: String,
    lagging: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn done_messages_are_fixed_texts() {
        assert!(
            done_message(&FormData::parse("done=enrolled&id=0010000000000421"))
                .is_some_and(|m| m.contains("0010000000000421"))
        );
        assert_eq!(
            done_message(&FormData::parse("done=%3Cscript%3E")),
            None,
            "unknown codes show nothing"
        );
        assert_eq!(done_message(&FormData::default()), None);
    }

    #[test]
    fn pages_newest_first() {
        let p = Paged::newest_first((1..=120).collect::<Vec<_>>(), 1);
        assert_eq!((p.items[0], p.pages, p.total), (120, 3, 120));
        assert!(!p.has_prev() && p.has_next());
        let p = Paged::newest_first((1..=120).collect::<Vec<_>>(), 9);
        assert_eq!((p.page, p.items.len(), p.items[19]), (3, 20, 1));
        let p = Paged::newest_first(Vec::<u8>::new(), 0);
        assert_eq!((p.page, p.pages), (1, 1));
    }

    #[test]
    fn jst_is_nine_hours_ahead() {
        assert_eq!(jst(UnixTime(0)), "1970-01-01 09:00");
    }
}
