//! 監査 (audit review): emergency (break-the-glass) accesses to review, who saw a patient
//! (for a patient's disclosure request, 開示請求), one user's activity, and the verification
//! of the whole hash chain. Long lists are paged, newest first.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::form::{self, FormData};
use super::{err, jst, office, on_form, page_number, page_with, Head, Paged};
use crate::html::{urlencode, Chrome, HtmlError, SignedIn};
use crate::AppState;

pub struct EntryRow {
    seq: u64,
    at: String,
    actor: String,
    facility: String,
    action: String,
    purpose: String,
    patient: String,
    target: String,
    outcome: String,
    refused: bool,
    detail: String,
    flagged: bool,
}

fn row(e: audit::Entry) -> EntryRow {
    let ev = e.event;
    let (outcome, refused) = match &ev.outcome {
        audit::Outcome::Allowed => ("OK".to_owned(), false),
        audit::Outcome::Refused { code, reason } => {
            (format!("拒否 (refused: {code}) {reason}"), true)
        }
        audit::Outcome::Failed { reason } => (format!("失敗 (failed) {reason}"), true),
    };
    EntryRow {
        seq: e.seq,
        at: jst(ev.at),
        actor: ev.actor,
        facility: ev.actor_facility.map(|f| f.to_string()).unwrap_or_default(),
        action: format!("{} ({})", ev.action.label_ja(), ev.action.as_str()),
        purpose: ev
            .purpose
            .map(|p| format!("{} ({})", p.label_ja(), p.as_str()))
            .unwrap_or_default(),
        patient: ev.patient.map(|p| p.to_string()).unwrap_or_default(),
        target: ev.target,
        outcome,
        refused,
        detail: ev.detail,
        flagged: ev.flagged,
    }
}

#[derive(Template)]
#[template(path = "office/audit.html")]
struct ReviewPage {
    network_name: String,
    chrome: Chrome,
    head: Head,
    view: &'static str,
    title: String,
    id: String,
    login: String,
    rows: Vec<EntryRow>,
    page: usize,
    pages: usize,
    total: usize,
    has_prev: bool,
    has_next: bool,
    /// The query of this list without `page=` (for the pager links).
    base: String,
    action: String,
    actions: Vec<Choice>,
}

pub struct Choice {
    value: &'static str,
    label: String,
}

/// Every kind of act, for the filter.
const ACTIONS: [audit::Action; 18] = [
    audit::Action::Login,
    audit::Action::Logout,
    audit::Action::View,
    audit::Action::Search,
    audit::Action::Export,
    audit::Action::Import,
    audit::Action::Enroll,
    audit::Action::Link,
    audit::Action::Unlink,
    audit::Action::Merge,
    audit::Action::Unmerge,
    audit::Action::ConsentRecord,
    audit::Action::ConsentWithdraw,
    audit::Action::BreakGlass,
    audit::Action::FacilityChange,
    audit::Action::UserChange,
    audit::Action::AuditRead,
    audit::Action::Download,
];

pub async fn review(
    State(state): State<AppState>,
    me: SignedIn,
    RawQuery(q): RawQuery,
) -> Result<Response, HtmlError> {
    let q = FormData::from_query(q.as_deref());
    let (chrome, mut head) = office(&state, &me, "audit", &q).await?;
    let net = &state.network;
    let p = &me.principal;
    let (view, id, login) = (q.get("view"), q.get("id"), q.get("login"));
    let result = match view {
        "patient" => match form::regional_id("地域共通ID", "id", id) {
            Ok(rid) => net.who_saw(p, &rid).await.map(|e| {
                (
                    "patient",
                    format!("{} を閲覧した記録 (who saw this patient)", rid.grouped()),
                    e,
                    format!("view=patient&id={rid}"),
                )
            }),
            Err(e) => Err(e),
        },
        "user" => {
            if login.is_empty() {
                Err(service::ServiceError::Invalid(
                    "「ログインID」(login): 入力してください (required)".into(),
                ))
            } else {
                net.user_activity(p, login).await.map(|e| {
                    (
                        "user",
                        format!("{login} の操作履歴 (activity of {login})"),
                        e,
                        format!("view=user&login={}", urlencode(login)),
                    )
                })
            }
        }
        _ => net.emergency_review(p).await.map(|e| {
            (
                "emergency",
                "緊急時閲覧の確認 (emergency accesses to review)".to_owned(),
                e,
                "view=emergency".to_owned(),
            )
        }),
    };
    let (view, title, entries, base, status) = match result {
        Ok((view, title, entries, base)) => (view, title, entries, base, StatusCode::OK),
        Err(e) => {
            let (status, message) = on_form(&state, &chrome, e)?;
            head.error = Some(message);
            (
                "emergency",
                String::new(),
                Vec::new(),
                "view=emergency".to_owned(),
                status,
            )
        }
    };
    // Optional narrowing to one kind of act (a user's consent withdrawals, say): the lists
    // are long because reading them is itself logged.
    let action = q.get("action");
    let entries: Vec<audit::Entry> = if action.is_empty() {
        entries
    } else {
        entries
            .into_iter()
            .filter(|e| e.event.action.as_str() == action)
            .collect()
    };
    let base = if action.is_empty() {
        base
    } else {
        format!("{base}&action={}", urlencode(action))
    };
    let paged = Paged::newest_first(entries, page_number(&q));
    let t = ReviewPage {
        network_name: state.network_name.clone(),
        head,
        view,
        title,
        id: id.to_owned(),
        login: login.to_owned(),
        page: paged.page,
        pages: paged.pages,
        total: paged.total,
        has_prev: paged.has_prev(),
        has_next: paged.has_next(),
        rows: paged.items.into_iter().map(row).collect(),
        action: action.to_owned(),
        actions: ACTIONS
            .iter()
            .map(|a| Choice {
                value: a.as_str(),
                label: format!("{} ({})", a.label_ja(), a.as_str()),
            })
            .collect(),
        base,
        chrome,
    };
    page_with(&state, &t.chrome, status, &t)
}

#[derive(Template)]
#[template(path = "office/verify.html")]
struct VerifyPage {
    network_name: String,
    chrome: Chrome,
    head: Head,
    ok: bool,
    entries: u64,
    head_hash: String,
    problems: Vec<String>,
}

/// Walk the whole chain. Reading it is itself audited (by the service).
pub async fn verify(
    State(state): State<AppState>,
    me: SignedIn,
    RawQuery(q): RawQuery,
) -> Result<Response, HtmlError> {
    let q = FormData::from_query(q.as_deref());
    let (chrome, head) = office(&state, &me, "audit", &q).await?;
    let report = state
        .network
        .audit_verify(&me.principal)
        .await
        .map_err(|e| err(&state, &chrome, e))?;
    let ok = report.ok();
    let t = VerifyPage {
        network_name: state.network_name.clone(),
        head,
        ok,
        entries: report.entries,
        head_hash: report.head_hash.unwrap_or_default(),
        problems: report.problems,
        chrome,
    };
    // A broken chain is a finding, not a failed request: the page itself is 200 either way
    // and says which entry broke.
    page_with(&state, &t.chrome, StatusCode::OK, &t)
}
