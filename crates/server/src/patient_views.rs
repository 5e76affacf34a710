//! Patient search (`/search`, the home page after sign-in), the timeline
//! (`/patients/{id}/timeline`) and the record detail (`/patients/{id}/records/{version}`),
//! as HTML pages and as JSON (`/api/v1/search`, `/api/v1/patients/{id}/timeline`,
//! `/api/v1/patients/{id}/records/{version}`). Everything reads through the service layer's
//! access gate; these handlers only parse, call and render.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use model::{Date, FacilityCode, RecordCategory, RegionalId};
use serde::{Deserialize, Serialize};
use service::{
    AccessRefusal, PatientHit, RecordDetail, SearchInput, ServiceError, Timeline, TimelineQuery,
};
use ssmix2::{Condition, DataKind};
use store::RecordCursor;

use crate::api::ApiError;
use crate::front::Authed;
use crate::html::{
    is_htmx, kind_label, page, render, show_date, show_time, urlencode, Chrome, HtmlError,
    PatientChrome, PurposeQuery, SignedIn, Tab,
};
use crate::AppState;

fn sex_label(s: &str) -> &'static str {
    match s {
        "M" => "男 (M)",
        "F" => "女 (F)",
        "O" => "その他 (O)",
        "" => "",
        _ => "不明 (U)",
    }
}

// ---------------------------------------------------------------------------------------
// Search

struct HitRow {
    /// `/patients/<id>` for clinicians; `None` for the office and unlinked patients.
    href: Option<String>,
    regional_id: String,
    name_kanji: String,
    name_kana: String,
    birth: String,
    age: String,
    sex: &'static str,
    facilities: String,
}

fn hit_row(h: &PatientHit, clinician: bool) -> HitRow {
    HitRow {
        href: h
            .regional_id
            .as_ref()
            .filter(|_| clinician)
            .map(|id| format!("/patients/{id}")),
        regional_id: h
            .regional_id
            .as_ref()
            .map(|id| id.grouped())
            .unwrap_or_else(|| "未連携 (not linked)".into()),
        name_kanji: h.name_kanji.clone(),
        name_kana: h.name_kana.clone(),
        birth: if h.birth_date.is_empty() {
            String::new()
        } else {
            show_date(&h.birth_date)
        },
        age: h.age.map(|a| format!("{a}歳")).unwrap_or_default(),
        sex: sex_label(&h.sex),
        facilities: h
            .facilities
            .iter()
            .map(|f| match &f.local_id {
                Some(l) => format!("{} ({}: {l})", f.name, f.code),
                None => format!("{} ({})", f.name, f.code),
            })
            .collect::<Vec<_>>()
            .join("、"),
    }
}

#[derive(Template)]
#[template(path = "search.html")]
struct SearchPage {
    network_name: String,
    chrome: Chrome,
    q: SearchInput,
    error: Option<String>,
    /// `None` before the first search.
    rows: Option<Vec<HitRow>>,
    more: bool,
    office: bool,
}

/// The search form posts (names and birth dates stay out of URLs, so out of the browser's
/// history and any proxy log); a GET with the same fields still works, for links and the API.
pub async fn search_post(
    state: State<AppState>,
    me: SignedIn,
    axum::extract::Form(q): axum::extract::Form<SearchInput>,
) -> Result<Response, HtmlError> {
    search_page(state, me, Query(q)).await
}

pub async fn search_page(
    State(state): State<AppState>,
    me: SignedIn,
    Query(q): Query<SearchInput>,
) -> Result<Response, HtmlError> {
    let chrome = Chrome::new(&state, &me);
    let mut pg = SearchPage {
        network_name: state.network_name.clone(),
        office: me.is_office,
        chrome,
        q: q.clone(),
        error: None,
        rows: None,
        more: false,
    };
    let mut status = StatusCode::OK;
    if !q.is_empty() {
        match q.criteria() {
            Err(e) => {
                status = StatusCode::BAD_REQUEST;
                pg.error = Some(e.to_string());
            }
            Ok(c) => match state.network.search_patients(&me.principal, &c).await {
                Ok(r) => {
                    pg.rows = Some(r.hits.iter().map(|h| hit_row(h, !me.is_office)).collect());
                    pg.more = r.more;
                }
                Err(e @ (ServiceError::Store(_) | ServiceError::Internal(_))) => {
                    return Err(HtmlError::new(&state, Some(Chrome::new(&state, &me)), e))
                }
                Err(e) => {
                    status = crate::html::status_of(&e);
                    pg.error = Some(e.to_string());
                }
            },
        }
    }
    let html = render(&pg).map_err(|e| HtmlError::new(&state, None, e))?;
    Ok((status, page(html)).into_response())
}

/// The old `/patients?id=…` address: to the patient's page, purpose kept.
#[derive(Deserialize)]
pub struct OldPatientQuery {
    #[serde(default)]
    id: String,
    #[serde(flatten)]
    purpose: PurposeQuery,
}

pub async fn old_patient_redirect(_me: SignedIn, Query(q): Query<OldPatientQuery>) -> Response {
    let id: String = q.id.chars().filter(|c| c.is_ascii_digit()).collect();
    if id.is_empty() {
        return Redirect::to("/search").into_response();
    }
    let suffix = q.purpose.suffix();
    let to = if suffix.is_empty() {
        format!("/patients/{id}")
    } else {
        format!("/patients/{id}?{suffix}")
    };
    Redirect::to(&to).into_response()
}

pub async fn search_json(
    State(state): State<AppState>,
    Authed(p): Authed,
    Query(q): Query<SearchInput>,
) -> Result<Response, ApiError> {
    let c = q.criteria()?;
    let r = state.network.search_patients(&p, &c).await?;
    Ok(Json(r).into_response())
}

// ---------------------------------------------------------------------------------------
// Timeline

/// The timeline's query string (filters, cursor, purpose).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TimelineParams {
    /// A data kind code (`OML-11`), `extended`, or empty for all.
    #[serde(default)]
    kind: String,
    #[serde(default)]
    facility: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    cursor: String,
    /// `1`: also superseded versions.
    #[serde(default)]
    all: String,
    #[serde(default)]
    limit: Option<usize>,
    #[serde(flatten)]
    purpose: PurposeQuery,
}

fn bad(m: String) -> ServiceError {
    ServiceError::Invalid(m)
}

impl TimelineParams {
    fn query(&self) -> Result<TimelineQuery, ServiceError> {
        let mut q = TimelineQuery {
            limit: self.limit.unwrap_or(0).min(1000),
            include_superseded: self.all == "1" || self.all == "on",
            ..Default::default()
        };
        match self.kind.trim() {
            "" => {}
            "extended" => {
                q.kinds = Some(vec![]);
                q.extended = true;
            }
            k => match DataKind::from_code(k) {
                Some(kind) => q.kinds = Some(vec![kind.code().to_owned()]),
                None => {
                    return Err(bad(format!(
                        "データ種別 (kind): 「{k}」は SS-MIX2 のデータ種別ではありません (not an SS-MIX2 data kind)"
                    )))
                }
            },
        }
        if !self.facility.trim().is_empty() {
            q.facility = Some(
                FacilityCode::parse(self.facility.trim())
                    .map_err(|e| bad(format!("施設 (facility): {e}")))?,
            );
        }
        let date = |v: &str, field: &str| -> Result<Option<String>, ServiceError> {
            let v = v.trim();
            if v.is_empty() {
                return Ok(None);
            }
            Date::parse(v).map(|d| Some(d.compact())).ok_or_else(|| {
                bad(format!(
                    "{field}: 「{v}」は日付ではありません — YYYY-MM-DD で入力してください (not a date; use YYYY-MM-DD)"
                ))
            })
        };
        q.from = date(&self.from, "開始日 (from)")?;
        q.to = date(&self.to, "終了日 (to)")?;
        if !self.cursor.trim().is_empty() {
            q.before = Some(RecordCursor::parse(&self.cursor).ok_or_else(|| {
                bad("続きの位置 (cursor) が正しくありません (invalid cursor)".into())
            })?);
        }
        Ok(q)
    }

    /// The query string of the same filters at `cursor` (purpose kept).
    fn with_cursor(&self, cursor: &RecordCursor) -> String {
        let mut parts = Vec::new();
        for (k, v) in [
            ("kind", &self.kind),
            ("facility", &self.facility),
            ("from", &self.from),
            ("to", &self.to),
            ("all", &self.all),
        ] {
            if !v.trim().is_empty() {
                parts.push(format!("{k}={}", urlencode(v.trim())));
            }
        }
        if let Some(l) = self.limit {
            parts.push(format!("limit={l}"));
        }
        parts.push(format!("cursor={}", urlencode(&cursor.encode())));
        let suffix = self.purpose.suffix();
        if !suffix.is_empty() {
            parts.push(suffix);
        }
        parts.join("&")
    }
}

fn regional(s: &str) -> Result<RegionalId, ServiceError> {
    RegionalId::parse(s).map_err(|e| bad(format!("地域共通ID (regional ID): {e}")))
}

struct Item {
    href: String,
    history_href: Option<String>,
    versions: u32,
    kind: String,
    label: String,
    category: &'static str,
    department: String,
    source: String,
    order_no: String,
    state: &'static str,
    cancelled: bool,
    /// A cancel message (A11 …): labelled as such, not struck through.
    cancel_message: bool,
    superseded: bool,
    written: String,
    version_id: i64,
    /// One line of content (drugs, abnormal results, diagnoses …), empty when none.
    preview: String,
}

struct Day {
    date: String,
    items: Vec<Item>,
}

struct KindOption {
    code: String,
    label: String,
    selected: bool,
}

struct KindGroup {
    label: &'static str,
    kinds: Vec<KindOption>,
}

struct SourceOption {
    code: String,
    name: String,
    selected: bool,
}

#[derive(Template)]
#[template(path = "timeline.html")]
struct TimelinePage {
    network_name: String,
    chrome: Chrome,
    pc: PatientChrome,
    refused: Vec<AccessRefusal>,
    days: Vec<Day>,
    more: Option<More>,
    kinds: Vec<KindGroup>,
    extended_selected: bool,
    sources: Vec<SourceOption>,
    from: String,
    to: String,
    all: bool,
    purpose: String,
    continued: bool,
}

/// The "more" link: a plain link to the next page, and for htmx the fragment that replaces
/// itself with the next page's items.
struct More {
    href: String,
}

#[derive(Template)]
#[template(path = "timeline_items.html")]
struct TimelineFragment {
    days: Vec<Day>,
    more: Option<More>,
}

fn days_of(id: &RegionalId, t: &Timeline, pq: &PurposeQuery) -> Vec<Day> {
    let suffix = pq.suffix();
    let with = |path: String| {
        if suffix.is_empty() {
            path
        } else {
            format!("{path}?{suffix}")
        }
    };
    let mut days: Vec<Day> = Vec::new();
    for it in &t.items {
        let r = &it.record;
        let href = with(format!("/patients/{id}/records/{}", r.version_id));
        let item = Item {
            history_href: (it.versions > 1).then(|| format!("{href}#history")),
            href,
            versions: it.versions,
            kind: r.kind.clone(),
            // A cancel message (A11 …) is not the event it names (issue 14 fault 4).
            label: if it.cancel_message {
                format!("{}の取消 (cancel message)", kind_label(&r.kind))
            } else {
                kind_label(&r.kind)
            },
            category: it.category.label_ja(),
            department: ssmix2::departments::department_label(&r.department, ""),
            source: it.source_name.clone(),
            order_no: if DataKind::from_code(&r.kind).is_some_and(|k| k.has_order()) {
                r.order_no.clone()
            } else {
                String::new()
            },
            state: state_label(r.condition, it.cancel_message, it.cancelled_by_message),
            cancelled: r.condition == Condition::Deleted || it.cancelled_by_message,
            cancel_message: it.cancel_message,
            superseded: r.condition == Condition::Superseded,
            written: show_time(&r.written_at),
            version_id: r.version_id,
            preview: it.preview.clone().unwrap_or_default(),
        };
        let date = show_date(&r.date);
        match days.last_mut() {
            Some(d) if d.date == date => d.items.push(item),
            _ => days.push(Day {
                date,
                items: vec![item],
            }),
        }
    }
    days
}

fn kind_groups(selected: &str) -> Vec<KindGroup> {
    let mut groups: Vec<(RecordCategory, Vec<KindOption>)> = Vec::new();
    for k in DataKind::ALL {
        let cat = policy::category_of_kind(k.code());
        let opt = KindOption {
            code: k.code().to_owned(),
            label: format!("{} {}", k.code(), k.label_ja()),
            selected: selected == k.code(),
        };
        match groups.iter_mut().find(|(c, _)| *c == cat) {
            Some((_, v)) => v.push(opt),
            None => groups.push((cat, vec![opt])),
        }
    }
    groups
        .into_iter()
        .map(|(c, kinds)| KindGroup {
            label: c.label_ja(),
            kinds,
        })
        .collect()
}

pub async fn timeline_page(
    State(state): State<AppState>,
    me: SignedIn,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(p): Query<TimelineParams>,
) -> Result<Response, HtmlError> {
    let err = |e| HtmlError::new(&state, Some(Chrome::new(&state, &me)), e);
    let id = regional(&id).map_err(err)?;
    let q = p.query().map_err(err)?;
    let t = state
        .network
        .timeline(
            &me.principal,
            &id,
            p.purpose.purpose(),
            p.purpose.reason(),
            &q,
        )
        .await
        .map_err(err)?;
    let days = days_of(&id, &t, &p.purpose);
    let more = t.next.as_ref().map(|c| More {
        href: format!("/patients/{id}/timeline?{}", p.with_cursor(c)),
    });
    // htmx asks for the next page only: the items and a new "more" link.
    if is_htmx(&headers) && q.before.is_some() {
        let html = render(&TimelineFragment { days, more }).map_err(err)?;
        return Ok(page(html));
    }
    let selected_facility = q.facility.as_ref().map(|f| f.to_string());
    let pg = TimelinePage {
        network_name: state.network_name.clone(),
        chrome: Chrome::new(&state, &me),
        pc: PatientChrome::new(&id, Tab::Timeline, &p.purpose, t.break_glass.is_some()),
        refused: t.refused.clone(),
        days,
        more,
        kinds: kind_groups(p.kind.trim()),
        extended_selected: p.kind.trim() == "extended",
        sources: t
            .sources
            .iter()
            .map(|s| SourceOption {
                selected: selected_facility.as_deref() == Some(s.code.as_str()),
                code: s.code.to_string(),
                name: s.name.clone(),
            })
            .collect(),
        from: q.from.as_deref().map(show_date).unwrap_or_default(),
        to: q.to.as_deref().map(show_date).unwrap_or_default(),
        all: q.include_superseded,
        purpose: p.purpose.purpose.clone(),
        continued: q.before.is_some(),
    };
    Ok(page(render(&pg).map_err(err)?))
}

#[derive(Serialize)]
struct TimelineJson {
    #[serde(flatten)]
    timeline: Timeline,
    /// Pass as `cursor=` for the next page; absent on the last page.
    next_cursor: Option<String>,
}

pub async fn timeline_json(
    State(state): State<AppState>,
    Authed(who): Authed,
    Path(id): Path<String>,
    Query(p): Query<TimelineParams>,
) -> Result<Response, ApiError> {
    let id = regional(&id)?;
    let q = p.query()?;
    let t = state
        .network
        .timeline(&who, &id, p.purpose.purpose(), p.purpose.reason(), &q)
        .await?;
    let next_cursor = t.next.as_ref().map(RecordCursor::encode);
    Ok(Json(TimelineJson {
        timeline: t,
        next_cursor,
    })
    .into_response())
}

// ---------------------------------------------------------------------------------------
// Record detail

struct Field {
    n: usize,
    value: String,
}

struct Segment {
    name: String,
    fields: Vec<Field>,
}

/// The state of a record version as the timeline, the record page and its history show it:
/// a cancel message is not the order or event it cancels, and what a cancel message cancels
/// is never 最新, whatever its file's condition flag says.
fn state_label(
    condition: Condition,
    cancel_message: bool,
    cancelled_by_message: bool,
) -> &'static str {
    if cancel_message {
        "取消通知 (cancels an earlier order or event)"
    } else if cancelled_by_message {
        "取消済 (cancelled by a later message)"
    } else {
        condition.label_ja()
    }
}

struct HistoryRow {
    href: String,
    written: String,
    state: &'static str,
    cancelled: bool,
    live: bool,
    shown: bool,
}

#[derive(Template)]
#[template(path = "record.html")]
struct RecordPage {
    network_name: String,
    chrome: Chrome,
    pc: PatientChrome,
    kind: String,
    label: String,
    category: &'static str,
    date: String,
    source: String,
    local_id: String,
    department: String,
    order_no: String,
    state: &'static str,
    cancelled: bool,
    live: bool,
    written: String,
    message_type: String,
    encoding: String,
    segments: Vec<Segment>,
    decode_error: Option<String>,
    /// The clinical view (`record_views`), when the record's family has one.
    clinical: Option<String>,
    /// Why the message could not be read as its kind's record (shown with the raw segments).
    typed_error: Option<String>,
    history: Vec<HistoryRow>,
    back: String,
    /// A cancel message, or an event a cancel message cancels: said above everything else.
    cancel_notice: Option<CancelNotice>,
    /// The original bytes as sent, downloaded (`…/original`).
    download: String,
    /// An extended-storage PDF or image shown on the page (`…/original?inline=1`).
    inline: Option<InlineOriginal>,
}

/// An extended-storage file the browser shows itself, framed or as an image.
struct InlineOriginal {
    src: String,
    pdf: bool,
}

struct CancelNotice {
    text: String,
    href: Option<String>,
}

#[derive(Deserialize)]
pub struct RecordPath {
    id: String,
    version: String,
}

fn version_id(s: &str) -> Result<i64, ServiceError> {
    s.parse().map_err(|_| {
        bad(format!(
            "記録番号 (record version) 「{s}」が正しくありません (invalid)"
        ))
    })
}

async fn detail(
    state: &AppState,
    who: &service::Principal,
    p: &RecordPath,
    pq: &PurposeQuery,
) -> Result<(RegionalId, RecordDetail), ServiceError> {
    let id = regional(&p.id)?;
    let v = version_id(&p.version)?;
    let d = state
        .network
        .record_detail(who, &id, v, pq.purpose(), pq.reason())
        .await?;
    Ok((id, d))
}

pub async fn record_page(
    State(state): State<AppState>,
    me: SignedIn,
    Path(p): Path<RecordPath>,
    Query(pq): Query<PurposeQuery>,
) -> Result<Response, HtmlError> {
    let err = |e| HtmlError::new(&state, Some(Chrome::new(&state, &me)), e);
    let (id, d) = detail(&state, &me.principal, &p, &pq).await.map_err(err)?;
    let pc = PatientChrome::new(&id, Tab::Timeline, &pq, d.break_glass.is_some());
    let r = &d.record;
    let today = crate::clinical::today();
    let cx = crate::record_views::ViewContext { today: &today };
    let (clinical, typed_error) = match (&d.typed, &d.document) {
        (_, Some(doc)) => (crate::record_views::document(doc).map_err(err)?, None),
        (None, None) if d.vitals.is_some() => (
            d.vitals
                .as_ref()
                .map(|g| crate::record_views::vitals(g, &d.source, &d.source_name))
                .transpose()
                .map_err(err)?
                .flatten(),
            None,
        ),
        (typed, None) => match typed {
            Some(Ok(record)) => (
                crate::record_views::clinical_view(record, &cx).map_err(err)?,
                None,
            ),
            Some(Err(e)) => (None, Some(e.clone())),
            None => (None, None),
        },
    };
    let pg = RecordPage {
        network_name: state.network_name.clone(),
        chrome: Chrome::new(&state, &me),
        kind: r.kind.clone(),
        label: kind_label(&r.kind),
        category: d.category.label_ja(),
        date: show_date(&r.date),
        source: format!("{} ({})", d.source_name, d.source),
        local_id: d.local_id.clone(),
        department: ssmix2::departments::department_label(&r.department, ""),
        order_no: r.order_no.clone(),
        state: state_label(r.condition, d.cancel_message, d.cancelled_by.is_some()),
        cancelled: r.condition == Condition::Deleted || d.cancelled_by.is_some(),
        live: d.live,
        written: show_time(&r.written_at),
        message_type: r.message_type.clone().unwrap_or_default(),
        encoding: d.encoding.clone(),
        segments: d
            .segments
            .iter()
            .map(|s| Segment {
                name: s.name.clone(),
                fields: s
                    .fields
                    .iter()
                    .map(|(n, v)| Field {
                        n: *n,
                        value: v.clone(),
                    })
                    .collect(),
            })
            .collect(),
        decode_error: d.decode_error.clone(),
        clinical,
        typed_error,
        history: d
            .history
            .iter()
            .map(|h| HistoryRow {
                href: pc.link(&format!("/records/{}", h.version_id)),
                written: show_time(&h.written_at),
                state: state_label(h.condition, h.cancel_message, h.cancelled_by_message),
                cancelled: h.condition == Condition::Deleted || h.cancelled_by_message,
                live: h.live,
                shown: h.shown,
            })
            .collect(),
        back: pc.link("/timeline"),
        download: pc.link(&format!("/records/{}/original", r.version_id)),
        inline: (r.storage == store::StorageKind::Extended
            && service::shows_inline(&d.content_type))
        .then(|| InlineOriginal {
            src: pc.link(&format!("/records/{}/original?inline=1", r.version_id)),
            pdf: d.content_type == "application/pdf",
        }),
        cancel_notice: if d.cancel_message {
            Some(CancelNotice {
                text: format!(
                    "この記録は取消メッセージです: 以前の{}を取り消します (this message cancels an earlier order or event; it is not the order or event itself)",
                    kind_label(&r.kind)
                ),
                href: None,
            })
        } else {
            d.cancelled_by.map(|v| CancelNotice {
                text: format!(
                    "この{}は取消メッセージにより取り消されています (cancelled by a later cancel message)",
                    kind_label(&r.kind)
                ),
                href: Some(pc.link(&format!("/records/{v}"))),
            })
        },
        pc,
    };
    Ok(page(render(&pg).map_err(err)?))
}

pub async fn record_json(
    State(state): State<AppState>,
    Authed(who): Authed,
    Path(p): Path<RecordPath>,
    Query(pq): Query<PurposeQuery>,
) -> Result<Response, ApiError> {
    let (_, d) = detail(&state, &who, &p, &pq).await?;
    Ok(Json(d).into_response())
}
