//! 名寄せ候補 (link candidates): pairs of local patients that probably are one person, best
//! first, each score explained rule by rule; 同一人物として連携 links a pair, and the
//! auto-link runs the configured threshold over all of them.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use model::LocalPatient;

use super::form::{self, FormData};
use super::patients::demographics_text;
use super::{done, err, office, on_form, page_number, page_with, Head, Paged};
use crate::html::{Chrome, HtmlError, SignedIn};
use crate::AppState;

pub struct Side {
    facility: String,
    facility_name: String,
    local_id: String,
    who: String,
}

pub struct Part {
    points: String,
    explanation: String,
    negative: bool,
}

pub struct Row {
    score: u32,
    decision: &'static str,
    a: Side,
    b: Side,
    parts: Vec<Part>,
}

#[derive(Template)]
#[template(path = "office/candidates.html")]
struct ListPage {
    network_name: String,
    chrome: Chrome,
    head: Head,
    rows: Vec<Row>,
    page: usize,
    pages: usize,
    total: usize,
    has_prev: bool,
    has_next: bool,
    prev: usize,
    next: usize,
    auto_link: String,
}

async fn list_view(
    state: &AppState,
    me: &SignedIn,
    q: &FormData,
    error: Option<(StatusCode, String)>,
) -> Result<Response, HtmlError> {
    let (chrome, mut head) = office(state, me, "candidates", q).await?;
    let e = |e| err(state, &chrome, e);
    let net = &state.network;
    let all = net.candidates(&me.principal).await.map_err(e)?;
    let settings = net.match_settings().await.map_err(e)?;
    let facilities = net.facilities().await.map_err(e)?;
    let paged = Paged::in_order(all, page_number(q));
    // Only this page's people are read (and audited), not every candidate's.
    let people: Vec<LocalPatient> = paged
        .items
        .iter()
        .flat_map(|c| [c.a.clone(), c.b.clone()])
        .collect();
    let demographics = net
        .local_demographics(&me.principal, &people)
        .await
        .map_err(e)?;
    let side = |lp: &LocalPatient, i: usize| Side {
        facility: lp.facility.to_string(),
        facility_name: facilities
            .iter()
            .find(|f| f.code == lp.facility)
            .map(|f| f.name.clone())
            .unwrap_or_default(),
        local_id: lp.local_id.clone(),
        who: demographics
            .get(i)
            .and_then(|d| d.as_ref())
            .map(demographics_text)
            .unwrap_or_default(),
    };
    let rows = paged
        .items
        .iter()
        .enumerate()
        .map(|(i, c)| Row {
            score: c.score,
            decision: match c.decision {
                mpi::MatchDecision::AutoLink => "自動連携の対象 (auto-link)",
                mpi::MatchDecision::Review => "要確認 (review)",
                mpi::MatchDecision::NoMatch => "対象外 (no match)",
            },
            a: side(&c.a, 2 * i),
            b: side(&c.b, 2 * i + 1),
            parts: c
                .parts
                .iter()
                .map(|p| Part {
                    points: format!("{:+}", p.points),
                    explanation: p.explanation.clone(),
                    negative: p.points < 0,
                })
                .collect(),
        })
        .collect();
    let status = head.show_error(error);
    let t = ListPage {
        network_name: state.network_name.clone(),
        head,
        rows,
        page: paged.page,
        pages: paged.pages,
        total: paged.total,
        has_prev: paged.has_prev(),
        has_next: paged.has_next(),
        prev: paged.prev(),
        next: paged.next(),
        auto_link: settings
            .auto_link_min
            .map(|m| format!("{m}点以上 (score ≥ {m})"))
            .unwrap_or_else(|| "自動連携しない設定です (auto-link is off)".into()),
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
    list_view(&state, &me, &q, None).await
}

/// 同一人物として連携: link the pair (a new regional ID, or join the one that exists).
pub async fn link(
    State(state): State<AppState>,
    me: SignedIn,
    body: Bytes,
) -> Result<Response, HtmlError> {
    let form = FormData::from_body(&body);
    let q = FormData::default();
    let (chrome, _) = office(&state, &me, "candidates", &q).await?;
    let result = async {
        let a = form::local_patient(&form, "a_facility", "a_local_id")?;
        let b = form::local_patient(&form, "b_facility", "b_local_id")?;
        state.network.link_pair(&me.principal, &a, &b).await
    }
    .await;
    match result {
        Ok(linked) => {
            let code = match linked {
                service::PairLinked::Enrolled(_) => "pair_enrolled",
                service::PairLinked::Joined(_) => "pair_joined",
                service::PairLinked::AlreadyLinked(_) => "pair_already",
            };
            Ok(done(
                "/office/candidates",
                code,
                linked.regional_id().as_str(),
            ))
        }
        Err(e) => {
            let error = on_form(&state, &chrome, e)?;
            list_view(&state, &me, &q, Some(error)).await
        }
    }
}

/// Run the auto-link (pairs at or above the configured score).
pub async fn auto(State(state): State<AppState>, me: SignedIn) -> Result<Response, HtmlError> {
    let q = FormData::default();
    let (chrome, _) = office(&state, &me, "candidates", &q).await?;
    let n = state
        .network
        .auto_link(&me.principal)
        .await
        .map_err(|e| err(&state, &chrome, e))?;
    Ok(done(
        &format!("/office/candidates?n={n}"),
        "auto_linked",
        "",
    ))
}
