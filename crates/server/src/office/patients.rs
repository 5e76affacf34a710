//! 患者ID・同意 (regional IDs and consent): look up a regional ID (directly or from a
//! facility's local patient ID), its links with their history, link and unlink local
//! patients, merge and undo merges, enrol a new regional ID, and the consent records with the
//! record and withdraw forms.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use model::{Consent, ConsentScope, LocalPatient, RegionalId, UnixTime};
use service::ServiceError;

use super::form::{self, FormData};
use super::{done, err, jst, office, on_form, page_with, Head};
use crate::html::{show_date, Chrome, HtmlError, SignedIn};
use crate::AppState;

#[derive(Template)]
#[template(path = "office/patients.html")]
struct LookupPage {
    network_name: String,
    chrome: Chrome,
    head: Head,
    form: FormData,
    not_linked: Option<String>,
}

pub struct LinkRow {
    facility: String,
    facility_name: String,
    local_id: String,
    who: String,
    linked: String,
    ended: Option<String>,
}

pub struct MergeRow {
    id: i64,
    from: String,
    into: String,
    at: String,
    undone: Option<String>,
}

#[derive(Template)]
#[template(path = "office/patient.html")]
struct PatientPage {
    network_name: String,
    chrome: Chrome,
    head: Head,
    id: String,
    grouped: String,
    links: Vec<LinkRow>,
    merges: Vec<MergeRow>,
    consents_in_force: usize,
    consents_total: usize,
    form: FormData,
}

pub struct ConsentRow {
    id: i64,
    mode: &'static str,
    scope: String,
    from: String,
    until: String,
    paper_form: String,
    implied: bool,
    recorded: String,
    replaces: String,
    withdrawn: Option<String>,
    in_force: bool,
}

#[derive(Template)]
#[template(path = "office/consents.html")]
struct ConsentsPage {
    network_name: String,
    chrome: Chrome,
    head: Head,
    id: String,
    grouped: String,
    rows: Vec<ConsentRow>,
    form: FormData,
}

async fn lookup_view(
    state: &AppState,
    me: &SignedIn,
    q: &FormData,
    form: FormData,
    not_linked: Option<String>,
    error: Option<(StatusCode, String)>,
) -> Result<Response, HtmlError> {
    let (chrome, mut head) = office(state, me, "patients", q).await?;
    let status = head.show_error(error);
    let t = LookupPage {
        network_name: state.network_name.clone(),
        head,
        form,
        not_linked,
        chrome,
    };
    page_with(state, &t.chrome, status, &t)
}

/// `/office/patients`: by regional ID (straight to its page) or by a facility's local ID.
pub async fn lookup(
    State(state): State<AppState>,
    me: SignedIn,
    RawQuery(q): RawQuery,
) -> Result<Response, HtmlError> {
    let q = FormData::from_query(q.as_deref());
    let (chrome, _) = office(&state, &me, "patients", &q).await?;
    if !q.get("id").is_empty() {
        return match form::regional_id("地域共通ID", "id", q.get("id")) {
            Ok(id) => Ok(Redirect::to(&format!("/office/patients/{id}")).into_response()),
            Err(e) => {
                let error = on_form(&state, &chrome, e)?;
                lookup_view(&state, &me, &q, q.clone(), None, Some(error)).await
            }
        };
    }
    if !q.get("facility").is_empty() || !q.get("local_id").is_empty() {
        let found = async {
            let lp = form::local_patient(&q, "facility", "local_id")?;
            let id = state.network.regional_id_of(&me.principal, &lp).await?;
            Ok::<_, ServiceError>((lp, id))
        }
        .await;
        return match found {
            Ok((_, Some(id))) => {
                Ok(Redirect::to(&format!("/office/patients/{id}")).into_response())
            }
            Ok((lp, None)) => {
                // Offer to enrol it: the enrol box starts with this local patient.
                let line = format!("{} {}", lp.facility, lp.local_id);
                let form = FormData::from_pairs([("locals", line.clone())]);
                lookup_view(&state, &me, &q, form, Some(line), None).await
            }
            Err(e) => {
                let error = on_form(&state, &chrome, e)?;
                lookup_view(&state, &me, &q, q.clone(), None, Some(error)).await
            }
        };
    }
    lookup_view(&state, &me, &q, FormData::default(), None, None).await
}

/// Issue a new regional ID for the listed local patients.
pub async fn enroll(
    State(state): State<AppState>,
    me: SignedIn,
    body: Bytes,
) -> Result<Response, HtmlError> {
    let form = FormData::from_body(&body);
    let q = FormData::default();
    let (chrome, _) = office(&state, &me, "patients", &q).await?;
    let result = async {
        let locals = form::local_patients("locals", form.get("locals"))?;
        state.network.enroll(&me.principal, &locals).await
    }
    .await;
    match result {
        Ok(id) => Ok(done(
            &format!("/office/patients/{id}"),
            "enrolled",
            id.as_str(),
        )),
        Err(e) => {
            let error = on_form(&state, &chrome, e)?;
            lookup_view(&state, &me, &q, form, None, Some(error)).await
        }
    }
}

fn parse_id(state: &AppState, chrome: &Chrome, id: &str) -> Result<RegionalId, HtmlError> {
    form::regional_id("地域共通ID", "id", id).map_err(|e| err(state, chrome, e))
}

async fn show_view(
    state: &AppState,
    me: &SignedIn,
    id: &str,
    q: &FormData,
    form: FormData,
    error: Option<(StatusCode, String)>,
) -> Result<Response, HtmlError> {
    let (chrome, mut head) = office(state, me, "patients", q).await?;
    let id = parse_id(state, &chrome, id)?;
    let e = |e| err(state, &chrome, e);
    let net = &state.network;
    let links = net.links(&me.principal, &id).await.map_err(e)?;
    let merges = net.merges_of(&me.principal, &id).await.map_err(e)?;
    let consents = net.consents(&me.principal, &id).await.map_err(e)?;
    let facilities = net.facilities().await.map_err(e)?;
    // Name, birth date and sex of each linked local patient, so the office can see the links
    // belong to one person; read through the service, which audits it.
    let active: Vec<LocalPatient> = links.iter().map(|l| l.patient.clone()).collect();
    let demographics = net
        .local_demographics(&me.principal, &active)
        .await
        .map_err(e)?;
    let links = links
        .into_iter()
        .zip(demographics)
        .map(|(l, d)| LinkRow {
            facility_name: facilities
                .iter()
                .find(|f| f.code == l.patient.facility)
                .map(|f| f.name.clone())
                .unwrap_or_default(),
            facility: l.patient.facility.to_string(),
            local_id: l.patient.local_id.clone(),
            who: d
                .map(|d| demographics_text(&d))
                .unwrap_or_else(|| "施設から未受信 (no record from the facility yet)".into()),
            linked: format!("{} {}", jst(l.linked_at), l.linked_by),
            ended: l
                .ended_at
                .map(|at| format!("{} {}", jst(at), l.ended_by.clone().unwrap_or_default())),
        })
        .collect();
    let merges = merges
        .into_iter()
        .map(|m| MergeRow {
            id: m.id,
            from: m.from.to_string(),
            into: m.into.to_string(),
            at: format!("{} {}", jst(m.at), m.by),
            undone: m.undone_at.map(jst),
        })
        .collect();
    let now = UnixTime::now();
    let status = head.show_error(error);
    let t = PatientPage {
        network_name: state.network_name.clone(),
        head,
        grouped: id.grouped(),
        id: id.to_string(),
        links,
        merges,
        consents_in_force: consents.iter().filter(|c| c.in_force(now)).count(),
        consents_total: consents.len(),
        form,
        chrome,
    };
    page_with(state, &t.chrome, status, &t)
}

pub fn demographics_text(d: &model::Demographics) -> String {
    let sex = match d.sex.as_str() {
        "M" => "男 (M)",
        "F" => "女 (F)",
        "O" => "その他 (O)",
        _ => "不明 (U)",
    };
    format!(
        "{} ({}) {} {sex}",
        d.name_kanji,
        d.name_kana,
        show_date(&d.birth_date)
    )
}

pub async fn show(
    State(state): State<AppState>,
    me: SignedIn,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, HtmlError> {
    let q = FormData::from_query(q.as_deref());
    show_view(&state, &me, &id, &q, FormData::default(), None).await
}

/// The end of every patient-page POST: back to the page with the message, or the page again
/// with the error and the form as typed.
async fn after(
    state: &AppState,
    me: &SignedIn,
    chrome: &Chrome,
    id: &str,
    form: FormData,
    result: Result<(String, &'static str, String), ServiceError>,
) -> Result<Response, HtmlError> {
    match result {
        Ok((path, code, what)) => Ok(done(&path, code, &what)),
        Err(e) => {
            let error = on_form(state, chrome, e)?;
            show_view(state, me, id, &FormData::default(), form, Some(error)).await
        }
    }
}

/// Link another local patient to this regional ID.
pub async fn link(
    State(state): State<AppState>,
    me: SignedIn,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, HtmlError> {
    let form = FormData::from_body(&body);
    let (chrome, _) = office(&state, &me, "patients", &FormData::default()).await?;
    let rid = parse_id(&state, &chrome, &id)?;
    let result = async {
        let lp = form::local_patient(&form, "facility", "local_id")?;
        state.network.link(&me.principal, &rid, &lp).await?;
        Ok((
            format!("/office/patients/{rid}"),
            "linked",
            format!("{}/{}", lp.facility, lp.local_id),
        ))
    }
    .await;
    after(&state, &me, &chrome, &id, form, result).await
}

/// End a local patient's link.
pub async fn unlink(
    State(state): State<AppState>,
    me: SignedIn,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, HtmlError> {
    let form = FormData::from_body(&body);
    let (chrome, _) = office(&state, &me, "patients", &FormData::default()).await?;
    let rid = parse_id(&state, &chrome, &id)?;
    let result = async {
        let lp = form::local_patient(&form, "facility", "local_id")?;
        state.network.unlink(&me.principal, &lp).await?;
        Ok((
            format!("/office/patients/{rid}"),
            "unlinked",
            format!("{}/{}", lp.facility, lp.local_id),
        ))
    }
    .await;
    after(&state, &me, &chrome, &id, FormData::default(), result).await
}

/// Merge: this regional ID into another (`into`), or another into this one (`from`).
pub async fn merge(
    State(state): State<AppState>,
    me: SignedIn,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, HtmlError> {
    let form = FormData::from_body(&body);
    let (chrome, _) = office(&state, &me, "patients", &FormData::default()).await?;
    let rid = parse_id(&state, &chrome, &id)?;
    let result = async {
        let (from, into) = if !form.get("into").is_empty() {
            (
                rid.clone(),
                form::regional_id("統合先の地域共通ID", "into", form.get("into"))?,
            )
        } else {
            (
                form::regional_id("統合する地域共通ID", "from", form.get("from"))?,
                rid.clone(),
            )
        };
        if from == into {
            return Err(ServiceError::Invalid(
                "「統合先の地域共通ID」(into/from): 同じIDどうしは統合できません (cannot merge an ID with itself)".into(),
            ));
        }
        state.network.merge(&me.principal, &from, &into).await?;
        Ok((
            format!("/office/patients/{into}"),
            "merged",
            format!("{from} → {into}"),
        ))
    }
    .await;
    after(&state, &me, &chrome, &id, form, result).await
}

/// Undo a merge; back to the page of the regional ID given in the form.
pub async fn unmerge(
    State(state): State<AppState>,
    me: SignedIn,
    Path(merge_id): Path<String>,
    body: Bytes,
) -> Result<Response, HtmlError> {
    let form = FormData::from_body(&body);
    let (chrome, _) = office(&state, &me, "patients", &FormData::default()).await?;
    let back = form.get("back").to_owned();
    let result = async {
        let merge_id: i64 = merge_id.parse().map_err(|_| {
            ServiceError::Invalid(format!(
                "統合番号 {merge_id:?} は数ではありません (merge id is not a number)"
            ))
        })?;
        let m = state.network.unmerge(&me.principal, merge_id).await?;
        Ok((
            format!("/office/patients/{}", m.from),
            "unmerged",
            m.id.to_string(),
        ))
    }
    .await;
    match RegionalId::parse(&back) {
        Ok(back) => {
            after(
                &state,
                &me,
                &chrome,
                back.as_str(),
                FormData::default(),
                result,
            )
            .await
        }
        Err(_) => match result {
            Ok((path, code, what)) => Ok(done(&path, code, &what)),
            Err(e) => Err(err(&state, &chrome, e)),
        },
    }
}

fn scope_text(scope: &ConsentScope) -> (&'static str, String) {
    let join = |v: Vec<String>| {
        if v.is_empty() {
            "なし (none)".to_owned()
        } else {
            v.join(", ")
        }
    };
    match scope {
        ConsentScope::AllFacilities => (
            "一括 (all facilities)",
            "全参加施設が開示・閲覧 (every participating facility)".into(),
        ),
        ConsentScope::SelectedFacilities {
            disclosing,
            viewing,
        } => (
            "施設選択 (selected facilities)",
            format!(
                "開示 (disclosing): {} / 閲覧 (viewing): {}",
                join(disclosing.iter().map(|c| c.to_string()).collect()),
                join(viewing.iter().map(|c| c.to_string()).collect())
            ),
        ),
        ConsentScope::SelectedDoctors { doctors } => (
            "医師単位 (selected doctors)",
            format!(
                "閲覧できる医師 (doctors): {}",
                join(doctors.iter().cloned().collect())
            ),
        ),
    }
}

fn consent_row(c: Consent, now: UnixTime) -> ConsentRow {
    let (mode, scope) = scope_text(&c.scope);
    ConsentRow {
        id: c.id,
        mode,
        scope,
        in_force: c.in_force(now),
        from: c.valid_from.to_string(),
        until: c
            .valid_until
            .map(|d| d.to_string())
            .unwrap_or_else(|| "期限なし (open)".into()),
        paper_form: c.paper_form,
        implied: c.implied,
        recorded: format!("{} {}", jst(c.recorded_at), c.recorded_by),
        replaces: c.replaces.map(|r| format!("#{r}")).unwrap_or_default(),
        withdrawn: c.withdrawn_at.map(jst),
    }
}

async fn consents_view(
    state: &AppState,
    me: &SignedIn,
    id: &str,
    q: &FormData,
    form: FormData,
    error: Option<(StatusCode, String)>,
) -> Result<Response, HtmlError> {
    let (chrome, mut head) = office(state, me, "patients", q).await?;
    let id = parse_id(state, &chrome, id)?;
    let consents = state
        .network
        .consents(&me.principal, &id)
        .await
        .map_err(|e| err(state, &chrome, e))?;
    let now = UnixTime::now();
    let mut rows: Vec<ConsentRow> = consents.into_iter().map(|c| consent_row(c, now)).collect();
    rows.reverse();
    let status = head.show_error(error);
    let t = ConsentsPage {
        network_name: state.network_name.clone(),
        head,
        grouped: id.grouped(),
        id: id.to_string(),
        rows,
        form,
        chrome,
    };
    page_with(state, &t.chrome, status, &t)
}

pub async fn consents(
    State(state): State<AppState>,
    me: SignedIn,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, HtmlError> {
    let q = FormData::from_query(q.as_deref());
    let today = UnixTime::now().date_jst().to_string();
    let blank =
        FormData::from_pairs([("mode", "all_facilities".to_owned()), ("valid_from", today)]);
    consents_view(&state, &me, &id, &q, blank, None).await
}

pub async fn record_consent(
    State(state): State<AppState>,
    me: SignedIn,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, HtmlError> {
    let form = FormData::from_body(&body);
    let q = FormData::default();
    let (chrome, _) = office(&state, &me, "patients", &q).await?;
    let rid = parse_id(&state, &chrome, &id)?;
    let result = async {
        let input = form::consent(&rid, &form)?;
        state.network.record_consent(&me.principal, input).await
    }
    .await;
    match result {
        Ok(c) => Ok(done(
            &format!("/office/patients/{rid}/consents"),
            "consent_recorded",
            &c.id.to_string(),
        )),
        Err(e) => {
            let error = on_form(&state, &chrome, e)?;
            consents_view(&state, &me, &id, &q, form, Some(error)).await
        }
    }
}

/// Withdraw (撤回): effective at once. Back to the patient's consent list.
pub async fn withdraw_consent(
    State(state): State<AppState>,
    me: SignedIn,
    Path(consent_id): Path<String>,
    body: Bytes,
) -> Result<Response, HtmlError> {
    let form = FormData::from_body(&body);
    let q = FormData::default();
    let (chrome, _) = office(&state, &me, "patients", &q).await?;
    let result = async {
        let cid: i64 = consent_id.parse().map_err(|_| {
            ServiceError::Invalid(format!(
                "同意番号 {consent_id:?} は数ではありません (consent id is not a number)"
            ))
        })?;
        state.network.withdraw_consent(&me.principal, cid).await
    }
    .await;
    match result {
        Ok(c) => Ok(done(
            &format!("/office/patients/{}/consents", c.regional_id),
            "consent_withdrawn",
            &c.id.to_string(),
        )),
        Err(e) => match RegionalId::parse(form.get("regional_id")) {
            Ok(back) => {
                let error = on_form(&state, &chrome, e)?;
                let today = UnixTime::now().date_jst().to_string();
                let blank = FormData::from_pairs([
                    ("mode", "all_facilities".to_owned()),
                    ("valid_from", today),
                ]);
                consents_view(&state, &me, back.as_str(), &q, blank, Some(error)).await
            }
            Err(_) => Err(err(&state, &chrome, e)),
        },
    }
}
