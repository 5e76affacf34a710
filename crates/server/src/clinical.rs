//! The clinician's patient screens: summary (一目でわかる), labs (検査: matrix and trend
//! chart) and medications (処方・注射, with 二重投薬 / 重複検査 / drug-allergy warnings).
//!
//! Every handler reads through the service's viewer functions only — they open the access
//! gate, decide each (facility, local patient, category) before reading and audit every
//! decision — and shows what was refused with its reason. Nothing here touches the store.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use model::{FacilityCode, Profession, RecordCategory, RegionalId};
use serde::Deserialize;
use service::{AccessRefusal, LabMatrix, LabQuery, LabTestRow, MedicationLine, ServiceError};

use crate::chart;
use crate::html::{
    is_htmx, page, render, show_date, urlencode, Chrome, HtmlError, PatientChrome, PurposeQuery,
    SignedIn, Tab,
};
use crate::lab_views::{self, ChartView, CultureView, DuplicateTestView, TestView};
use crate::medication_rows::{self, CalendarView, CurrentRow, DuplicateGroupRow, LatestRow};
use crate::AppState;

pub(crate) type Page = Result<Response, HtmlError>;

pub(crate) fn regional_id(
    state: &AppState,
    chrome: &Chrome,
    raw: &str,
) -> Result<RegionalId, HtmlError> {
    RegionalId::parse(raw).map_err(|e| {
        HtmlError::new(
            state,
            Some(chrome_copy(chrome)),
            ServiceError::Invalid(e.to_string()),
        )
    })
}

fn chrome_copy(c: &Chrome) -> Chrome {
    Chrome {
        network_name: c.network_name.clone(),
        who: c.who.clone(),
        is_office: c.is_office,
    }
}

/// Facility name for a code, the code itself when the directory has no name.
pub(crate) fn facility_name(names: &BTreeMap<FacilityCode, String>, code: &FacilityCode) -> String {
    names
        .get(code)
        .filter(|n| !n.is_empty())
        .cloned()
        .unwrap_or_else(|| code.to_string())
}

/// `YYYYMMDD` of today in Japan (the date clinicians see on the wall).
pub(crate) fn today() -> String {
    model::UnixTime::now().date_jst().compact()
}

/// Age in whole years on `today` (both `YYYYMMDD`), if the birth date is a date.
pub fn age(birth: &str, today: &str) -> Option<u32> {
    let b: u32 = birth.get(..8)?.parse().ok()?;
    let t: u32 = today.get(..8)?.parse().ok()?;
    (t >= b).then(|| (t - b) / 10_000)
}

fn sex_label(code: &str) -> &'static str {
    match code {
        "M" => "男 (male)",
        "F" => "女 (female)",
        "O" => "その他 (other)",
        _ => "不明 (unknown)",
    }
}

/// OBX-8 as shown next to a value: `N` (normal) is not worth a badge.
pub(crate) fn shown_flag(f: &str) -> String {
    match f.trim() {
        "N" => String::new(),
        f => f.to_owned(),
    }
}

/// Does a medication line cover `today`? A line whose end is not certain is current while
/// the days sent last (see `service::medications::standing`), never on its start day only.
fn is_current(m: &store::MedicationFact, today: &str) -> bool {
    let Some(t) = store::day_number(today) else {
        return false;
    };
    let window = i64::from(service::medications::RECENT_MEDICATION_DAYS);
    matches!(
        service::medications::standing(m, t, window),
        Some(service::Standing::Active | service::Standing::EndUnknown { .. })
    ) && !m.detail.not_given()
}

/// May this user ask for break-the-glass at all (licensed clinical professions)?
fn may_break_glass(me: &SignedIn) -> bool {
    me.principal
        .profession()
        .is_some_and(|p: Profession| policy::BREAK_GLASS_PROFESSIONS.contains(&p))
}

/// The emergency form is offered when nothing at all could be shown for a reason
/// break-the-glass lifts (no consent, no window started…) and the user's profession may use
/// it: it posts the reason to `/patients/{id}/emergency`, which starts the window and comes
/// back to the same page with `purpose=emergency`.
pub(crate) struct EmergencyForm {
    pub(crate) action: String,
    /// The page to come back to (`""`, `/labs`, …).
    pub(crate) back: String,
    pub(crate) max_reason: usize,
}

pub(crate) fn emergency_form(
    me: &SignedIn,
    id: &RegionalId,
    path: &str,
    nothing_shown: bool,
    refused: &[AccessRefusal],
    break_glass: bool,
) -> Option<EmergencyForm> {
    let lifted = refused.iter().any(|r| r.lifted_by_break_glass());
    (nothing_shown && lifted && !break_glass && may_break_glass(me)).then(|| EmergencyForm {
        action: format!("/patients/{id}/emergency"),
        back: path.to_owned(),
        max_reason: service::BREAK_GLASS_REASON_MAX,
    })
}

/// The pages the emergency form may come back to: a fixed list, so the redirect cannot be
/// pointed anywhere else.
const EMERGENCY_BACK: &[&str] = &["", "/timeline", "/labs", "/vitals", "/medications"];

#[derive(Deserialize)]
pub struct EmergencyInput {
    #[serde(default)]
    reason: String,
    #[serde(default)]
    back: String,
}

/// `POST /patients/{id}/emergency`: start break-the-glass (audited; refused, and audited as
/// refused, for professions that may not, a blank reason, no acting facility), then back to
/// the page it came from with `?purpose=emergency` (303).
pub async fn start_emergency(
    State(state): State<AppState>,
    me: SignedIn,
    Path(raw_id): Path<String>,
    axum::Form(input): axum::Form<EmergencyInput>,
) -> Page {
    let chrome = Chrome::new(&state, &me);
    let id = regional_id(&state, &chrome, &raw_id)?;
    state
        .network
        .start_break_glass(&me.principal, &id, &input.reason)
        .await
        .map_err(|e| HtmlError::new(&state, Some(chrome), e))?;
    let back = EMERGENCY_BACK
        .iter()
        .find(|b| **b == input.back)
        .copied()
        .unwrap_or("");
    Ok(Redirect::to(&format!("/patients/{id}{back}?purpose=emergency")).into_response())
}

// ---------------------------------------------------------------------------------------
// Summary

struct DemoRow {
    facility: String,
    local_id: String,
    name_kanji: String,
    name_kana: String,
    birth: String,
    age: String,
    sex: &'static str,
}

struct AllergyRow {
    kind: String,
    drug: bool,
    name: String,
    severity: String,
    reaction: String,
    facility: String,
}

struct DrugAllergyRow {
    drug: String,
    drug_facility: String,
    allergen: String,
    allergy_facility: String,
    matched_on: String,
}

struct MedRow {
    drug: String,
    dose: String,
    usage: String,
    days: String,
    period: String,
    facility: String,
    kind: &'static str,
    current: bool,
    route: String,
    /// An administration refused or not given: `拒否 (refused): 本人拒否`.
    not_given: String,
}

/// A line or result an order cancel cancelled: shown struck through, with the order's record
/// and the cancel message one click away.
struct CancelledRow<T> {
    row: T,
    href: String,
    cancel_href: String,
}

/// A cancelled result as sent: what the matrix would have shown.
struct CancelledLab {
    observed: String,
    name: String,
    value: String,
    facility: String,
}

struct LabRow {
    name: String,
    code: String,
    value: String,
    unit: String,
    flag: String,
    abnormal: bool,
    range: String,
    /// Preliminary / corrected …; empty for final results.
    status: &'static str,
    /// NTE comments.
    comments: String,
    date: String,
    facility: String,
    chart: String,
}

#[derive(Template)]
#[template(path = "summary.html")]
struct SummaryPage {
    network_name: String,
    chrome: Chrome,
    pc: PatientChrome,
    headline: Option<DemoRow>,
    demographics: Vec<DemoRow>,
    allergies: Vec<AllergyRow>,
    drug_allergies: Vec<DrugAllergyRow>,
    /// Active diagnoses, each once with its facilities ([`crate::summary_adt`]).
    diagnoses: Vec<crate::summary_adt::DxRow>,
    /// Ended diagnoses (病名歴).
    ended_diagnoses: Vec<crate::summary_adt::DxRow>,
    medications: Vec<CurrentRow>,
    duplicate_groups: Vec<DuplicateGroupRow>,
    unchecked: Vec<service::UncheckedWarning>,
    recent_days: u32,
    labs: Vec<LabRow>,
    stays: Vec<crate::summary_adt::StayRow>,
    plans: Vec<crate::summary_adt::PlanRow>,
    stray_cancels: Vec<crate::summary_adt::CancelRow>,
    duplicate_tests: Vec<DuplicateTestView>,
    dup_unchecked: bool,
    test_days: i64,
    lookback_days: i64,
    refused: Vec<AccessRefusal>,
    emergency: Option<EmergencyForm>,
    /// Categories that were refused: their sections say "not shown" rather than "none".
    refused_categories: Vec<RecordCategory>,
    /// Files of the patient that could not be read, per facility.
    unreadable: Vec<service::UnreadableRecords>,
}

impl SummaryPage {
    fn refused_cat(&self, c: &str) -> bool {
        self.refused_categories.iter().any(|r| r.as_str() == c)
    }
}

fn med_row(m: &MedicationLine, names: &BTreeMap<FacilityCode, String>, today: &str) -> MedRow {
    let f = &m.line.fact;
    let not_given = match f.detail.status.as_str() {
        "RE" => "拒否 (refused)",
        "NA" => "未実施 (not given)",
        _ => "",
    };
    MedRow {
        drug: f.drug_name.clone(),
        dose: medication_rows::dose(f),
        usage: f.usage.clone(),
        days: medication_rows::days(f),
        period: medication_rows::period(f),
        facility: facility_name(names, &m.line.source),
        kind: medication_rows::kind_label(&m.line.kind),
        current: is_current(f, today),
        route: medication_rows::route(f),
        not_given: if not_given.is_empty() || f.detail.status_notes.is_empty() {
            not_given.to_owned()
        } else {
            format!("{not_given}: {}", f.detail.status_notes.join("、"))
        },
    }
}

fn drug_allergy_rows(
    w: &[service::DrugAllergyWarning],
    names: &BTreeMap<FacilityCode, String>,
) -> Vec<DrugAllergyRow> {
    w.iter()
        .map(|w| DrugAllergyRow {
            drug: w.medication.line.fact.drug_name.clone(),
            drug_facility: facility_name(names, &w.medication.line.source),
            allergen: w.allergy.fact.allergen_name.clone(),
            allergy_facility: facility_name(names, &w.allergy.source),
            matched_on: w.matched_on.clone(),
        })
        .collect()
}

pub async fn summary(
    State(state): State<AppState>,
    me: SignedIn,
    Path(raw_id): Path<String>,
    Query(q): Query<PurposeQuery>,
) -> Page {
    let chrome = Chrome::new(&state, &me);
    let id = regional_id(&state, &chrome, &raw_id)?;
    let s = match state
        .network
        .patient_summary_for(&me.principal, &id, q.purpose(), q.reason())
        .await
    {
        Ok(s) => s,
        Err(e) => return Err(HtmlError::new(&state, Some(chrome), e)),
    };
    let names = &s.facility_names;
    let today = today();
    let demographics: Vec<DemoRow> = s
        .demographics
        .iter()
        .map(|d| DemoRow {
            facility: facility_name(names, &d.source),
            local_id: d.local_id.clone(),
            name_kanji: d.demographics.name_kanji.clone(),
            name_kana: d.demographics.name_kana.clone(),
            birth: show_date(&d.demographics.birth_date),
            age: age(&d.demographics.birth_date, &today)
                .map(|a| format!("{a}歳"))
                .unwrap_or_default(),
            sex: sex_label(&d.demographics.sex),
        })
        .collect();
    let headline = demographics.first().map(|d| DemoRow {
        facility: d.facility.clone(),
        local_id: d.local_id.clone(),
        name_kanji: d.name_kanji.clone(),
        name_kana: d.name_kana.clone(),
        birth: d.birth.clone(),
        age: d.age.clone(),
        sex: d.sex,
    });
    let mut allergies: Vec<AllergyRow> = s
        .allergies
        .iter()
        .map(|a| {
            let f = &a.fact;
            AllergyRow {
                kind: if f.allergen_type.is_empty() {
                    f.allergen_type_code.clone()
                } else {
                    f.allergen_type.clone()
                },
                drug: f.allergen_type_code == "DA" || f.allergen_type.contains('薬'),
                name: f.allergen_name.clone(),
                severity: f.severity.clone(),
                reaction: f.reaction.clone(),
                facility: facility_name(names, &a.source),
            }
        })
        .collect();
    // The same allergen recorded at several facilities is one row naming them all.
    let mut merged: Vec<AllergyRow> = Vec::new();
    for a in allergies.drain(..) {
        match merged
            .iter_mut()
            .find(|m| m.name == a.name && m.kind == a.kind)
        {
            Some(m) if !m.facility.split('、').any(|f| f == a.facility) => {
                m.facility = format!("{}、{}", m.facility, a.facility);
            }
            Some(_) => {}
            None => merged.push(a),
        }
    }
    let mut allergies = merged;
    // Drug allergies first: they are what a prescriber must not miss.
    allergies.sort_by_key(|a| !a.drug);
    let pc = PatientChrome::new(&id, Tab::Summary, &q, s.break_glass.is_some());
    let nothing_shown = s.demographics.is_empty()
        && s.allergies.is_empty()
        && s.active_diagnoses.is_empty()
        && s.current_medications.is_empty()
        && s.latest_labs.is_empty()
        && s.encounters.is_empty();
    let emergency = emergency_form(
        &me,
        &id,
        "",
        nothing_shown,
        &s.refused,
        s.break_glass.is_some(),
    );
    let pg = SummaryPage {
        unreadable: s.unreadable.clone(),
        network_name: state.network_name.clone(),
        headline,
        demographics,
        drug_allergies: drug_allergy_rows(&s.drug_allergies, names),
        allergies,
        diagnoses: crate::summary_adt::diagnosis_rows(&s.diagnosis_history, names)
            .into_iter()
            .filter(|d| d.active)
            .collect(),
        ended_diagnoses: crate::summary_adt::diagnosis_rows(&s.diagnosis_history, names)
            .into_iter()
            .filter(|d| !d.active)
            .collect(),
        medications: medication_rows::current_rows(&s.current_medications, names),
        duplicate_groups: medication_rows::duplicate_group_rows(&s.duplicate_prescriptions, names),
        unchecked: s.unchecked.clone(),
        recent_days: s.recent_days,
        labs: s
            .latest_labs
            .iter()
            .map(|l| {
                let f = &l.fact;
                let p = chart::Point {
                    date: f.observed_at.get(..8).unwrap_or_default().to_owned(),
                    at: f.observed_at.clone(),
                    value: f.value.clone(),
                    unit: f.unit.clone(),
                    flag: f.abnormal_flag.clone(),
                    reference_range: f.reference_range.clone(),
                    source: String::new(),
                };
                LabRow {
                    name: f.name.clone(),
                    code: f.code.clone(),
                    value: f.value.clone(),
                    unit: f.unit.clone(),
                    flag: shown_flag(&f.abnormal_flag),
                    abnormal: p.abnormal(),
                    range: f.reference_range.clone(),
                    status: lab_views::status_label(&f.status),
                    comments: f.detail.comments.join(" / "),
                    date: show_date(&p.date),
                    facility: facility_name(names, &l.source),
                    chart: pc.link(&chart_path(&f.code, (!f.is_jlac10()).then_some(&l.source))),
                }
            })
            .collect(),
        stays: crate::summary_adt::stay_rows(&s.encounters, names, &|v| {
            pc.link(&format!("/records/{v}"))
        }),
        plans: crate::summary_adt::plan_rows(&s.encounters, names, &today),
        stray_cancels: crate::summary_adt::cancel_rows(&s.encounters, names),
        duplicate_tests: lab_views::duplicate_views(&s.duplicate_tests, names),
        dup_unchecked: labs_read_refused(&s.refused),
        test_days: service::DUPLICATE_TEST_DAYS,
        lookback_days: service::DUPLICATE_LOOKBACK_DAYS,
        refused_categories: s
            .refused
            .iter()
            .flat_map(|r| r.categories.iter().copied())
            .collect(),
        refused: s.refused,
        emergency,
        pc,
        chrome,
    };
    html_page(&state, &pg)
}

pub(crate) fn html_page<T: Template>(state: &AppState, t: &T) -> Page {
    render(t)
        .map(page)
        .map_err(|e| HtmlError::new(state, None, e))
}

/// `/labs/chart?code=…` (and `&source=…` for a facility's local code).
fn chart_path(code: &str, source: Option<&FacilityCode>) -> String {
    let mut p = format!("/labs/chart?code={}", urlencode(code));
    if let Some(s) = source {
        p.push_str(&format!("&source={s}"));
    }
    p
}

// ---------------------------------------------------------------------------------------
// Labs

#[derive(Debug, Clone, Default, Deserialize)]
pub struct LabsQuery {
    #[serde(flatten)]
    pub purpose: PurposeQuery,
    /// `YYYY-MM-DD` (from `<input type=date>`) or `YYYYMMDD`.
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
    /// The test to chart (JLAC10 or a facility's local code).
    #[serde(default)]
    pub code: String,
    /// For a local code: the facility it belongs to.
    #[serde(default)]
    pub source: String,
}

/// A date bound from a form: `2026-04-01` or `20260401` → `20260401`; empty → none.
pub fn date_bound(s: &str) -> Result<Option<String>, ServiceError> {
    let compact: String = s
        .trim()
        .chars()
        .filter(|c| *c != '-' && *c != '/')
        .collect();
    if compact.is_empty() {
        return Ok(None);
    }
    if compact.len() == 8 && store::day_number(&compact).is_some() {
        Ok(Some(compact))
    } else {
        Err(ServiceError::Invalid(format!(
            "日付が正しくありません (not a date): {}",
            s.trim()
        )))
    }
}

pub(crate) fn dashed(d: &Option<String>) -> String {
    d.as_deref().map(show_date).unwrap_or_default()
}

#[derive(Template)]
#[template(path = "labs.html")]
struct LabsPage {
    network_name: String,
    chrome: Chrome,
    pc: PatientChrome,
    dates: Vec<String>,
    tests: Vec<TestView>,
    refused: Vec<AccessRefusal>,
    from: String,
    to: String,
    emergency: Option<EmergencyForm>,
    chart: Option<ChartView>,
    /// `purpose` kept in the filter form.
    purpose: String,
    labs_refused: bool,
    cultures: Vec<CultureView>,
    /// Results an order cancel sent as a file of its own cancelled.
    cancelled: Vec<CancelledRow<CancelledLab>>,
    duplicate_tests: Vec<DuplicateTestView>,
    /// Some lab results were refused: the duplicate check could not look at everything.
    dup_unchecked: bool,
    test_days: i64,
    lookback_days: i64,
}

#[derive(Template)]
#[template(path = "lab_chart.html")]
struct ChartFragment {
    c: ChartView,
}

/// The row of the asked test: JLAC10 rows are one across facilities; a local code's row
/// belongs to one facility (`source`).
fn find_row<'a>(m: &'a LabMatrix, code: &str, source: &str) -> Option<&'a LabTestRow> {
    m.tests.iter().find(|t| {
        t.code == code
            && (t.jlac10 || source.is_empty() || t.sources.iter().any(|s| s.as_str() == source))
    })
}

fn labs_read_refused(refused: &[AccessRefusal]) -> bool {
    refused.iter().any(|r| r.covers(RecordCategory::LabResults))
}

pub async fn labs(
    State(state): State<AppState>,
    me: SignedIn,
    Path(raw_id): Path<String>,
    Query(q): Query<LabsQuery>,
) -> Page {
    let chrome = Chrome::new(&state, &me);
    let id = regional_id(&state, &chrome, &raw_id)?;
    let bounds = date_bound(&q.from).and_then(|f| Ok((f, date_bound(&q.to)?)));
    let (from, to) = match bounds {
        Ok(b) => b,
        Err(e) => return Err(HtmlError::new(&state, Some(chrome), e)),
    };
    let lq = LabQuery {
        from: from.clone(),
        to: to.clone(),
        codes: Vec::new(),
    };
    let m = match state
        .network
        .lab_matrix_for(
            &me.principal,
            &id,
            &lq,
            q.purpose.purpose(),
            q.purpose.reason(),
        )
        .await
    {
        Ok(m) => m,
        Err(e) => return Err(HtmlError::new(&state, Some(chrome), e)),
    };
    let chart = (!q.code.is_empty())
        .then(|| find_row(&m, &q.code, &q.source))
        .flatten()
        .map(|row| lab_views::chart_view(row, &m.facility_names));
    labs_page(&state, &me, chrome, &id, &q, m, from, to, chart)
}

#[allow(clippy::too_many_arguments)]
fn labs_page(
    state: &AppState,
    me: &SignedIn,
    chrome: Chrome,
    id: &RegionalId,
    q: &LabsQuery,
    m: LabMatrix,
    from: Option<String>,
    to: Option<String>,
    chart: Option<ChartView>,
) -> Page {
    let pc = PatientChrome::new(id, Tab::Labs, &q.purpose, m.break_glass.is_some());
    let names = &m.facility_names;
    let range_suffix = [("from", &from), ("to", &to)]
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("&{k}={v}")))
        .collect::<String>();
    let tests = m
        .tests
        .iter()
        .map(|t| {
            let chart = pc.link(&format!(
                "{}{range_suffix}",
                chart_path(&t.code, (!t.jlac10).then(|| t.sources.first()).flatten())
            ));
            lab_views::test_view(t, names, chart)
        })
        .collect();
    let cultures =
        lab_views::culture_views(&m.cultures, names, |v| pc.link(&format!("/records/{v}")));
    let duplicate_tests = lab_views::duplicate_views(&m.duplicate_tests, names);
    let cancelled = m
        .cancelled
        .iter()
        .map(|c| {
            let f = &c.item.fact;
            CancelledRow {
                row: CancelledLab {
                    observed: crate::record_views::when(Some(f.observed_at.as_str())),
                    name: f.name.clone(),
                    value: format!("{} {}", f.value, f.unit).trim().to_owned(),
                    facility: facility_name(names, &c.item.source),
                },
                href: pc.link(&format!("/records/{}", c.item.version_id)),
                cancel_href: pc.link(&format!("/records/{}", c.cancelled_by)),
            }
        })
        .collect();
    let dup_unchecked = labs_read_refused(&m.refused);
    let emergency = emergency_form(
        me,
        id,
        "/labs",
        m.tests.is_empty(),
        &m.refused,
        m.break_glass.is_some(),
    );
    let pg = LabsPage {
        network_name: state.network_name.clone(),
        pc,
        dates: m.dates.iter().map(|d| show_date(d)).collect(),
        tests,
        labs_refused: labs_read_refused(&m.refused),
        refused: m.refused,
        from: dashed(&from),
        to: dashed(&to),
        emergency,
        chart,
        purpose: q.purpose.purpose.clone(),
        cultures,
        cancelled,
        duplicate_tests,
        dup_unchecked,
        test_days: service::DUPLICATE_TEST_DAYS,
        lookback_days: service::DUPLICATE_LOOKBACK_DAYS,
        chrome,
    };
    html_page(state, &pg)
}

/// The trend chart of one test. From htmx (`HX-Request`) only the chart fragment is sent,
/// read for that one test; without JavaScript the whole labs page comes back with the
/// chart above the matrix.
pub async fn lab_chart(
    State(state): State<AppState>,
    me: SignedIn,
    headers: HeaderMap,
    Path(raw_id): Path<String>,
    Query(q): Query<LabsQuery>,
) -> Page {
    let chrome = Chrome::new(&state, &me);
    let id = regional_id(&state, &chrome, &raw_id)?;
    if q.code.trim().is_empty() {
        return Err(HtmlError::new(
            &state,
            Some(chrome),
            ServiceError::Invalid("検査コードを指定してください (code is required)".into()),
        ));
    }
    let bounds = date_bound(&q.from).and_then(|f| Ok((f, date_bound(&q.to)?)));
    let (from, to) = match bounds {
        Ok(b) => b,
        Err(e) => return Err(HtmlError::new(&state, Some(chrome), e)),
    };
    let htmx = is_htmx(&headers);
    let lq = LabQuery {
        from: from.clone(),
        to: to.clone(),
        // The fragment needs this test only; the full page shows the whole matrix too.
        codes: if htmx {
            vec![q.code.clone()]
        } else {
            Vec::new()
        },
    };
    let m = match state
        .network
        .lab_matrix_for(
            &me.principal,
            &id,
            &lq,
            q.purpose.purpose(),
            q.purpose.reason(),
        )
        .await
    {
        Ok(m) => m,
        Err(e) => return Err(HtmlError::new(&state, Some(chrome), e)),
    };
    let row = find_row(&m, &q.code, &q.source);
    let Some(row) = row else {
        let why = if labs_read_refused(&m.refused) {
            "検査結果は表示できません (lab results are not shown; see the reasons on the labs page)"
        } else {
            "この検査の結果はありません (no results for this test)"
        };
        return Err(HtmlError::new(
            &state,
            Some(chrome),
            ServiceError::NotFound(why.into()),
        ));
    };
    let view = lab_views::chart_view(row, &m.facility_names);
    if htmx {
        return html_page(&state, &ChartFragment { c: view });
    }
    labs_page(&state, &me, chrome, &id, &q, m, from, to, Some(view))
}

// ---------------------------------------------------------------------------------------
// Medications

#[derive(Template)]
#[template(path = "medications.html")]
struct MedicationsPage {
    network_name: String,
    chrome: Chrome,
    pc: PatientChrome,
    lines: Vec<MedRow>,
    /// Lines an order cancel sent as a file of its own cancelled.
    cancelled: Vec<CancelledRow<MedRow>>,
    current: usize,
    medications: Vec<CurrentRow>,
    latest: Vec<LatestRow>,
    calendar: CalendarView,
    recent_days: u32,
    unchecked: Vec<service::UncheckedWarning>,
    drug_allergies: Vec<DrugAllergyRow>,
    duplicate_groups: Vec<DuplicateGroupRow>,
    duplicate_tests: Vec<DuplicateTestView>,
    /// Some lab results were refused: the duplicate-test check could not look at all.
    dup_unchecked: bool,
    refused: Vec<AccessRefusal>,
    emergency: Option<EmergencyForm>,
    lookback_days: i64,
    test_days: i64,
}

pub async fn medications(
    State(state): State<AppState>,
    me: SignedIn,
    Path(raw_id): Path<String>,
    Query(q): Query<PurposeQuery>,
) -> Page {
    let chrome = Chrome::new(&state, &me);
    let id = regional_id(&state, &chrome, &raw_id)?;
    let m = match state
        .network
        .medications_for(&me.principal, &id, q.purpose(), q.reason())
        .await
    {
        Ok(m) => m,
        Err(e) => return Err(HtmlError::new(&state, Some(chrome), e)),
    };
    let names = &m.facility_names;
    let today = today();
    let lines: Vec<MedRow> = m.lines.iter().map(|l| med_row(l, names, &today)).collect();
    let pc = PatientChrome::new(&id, Tab::Medications, &q, m.break_glass.is_some());
    let emergency = emergency_form(
        &me,
        &id,
        "/medications",
        m.lines.is_empty(),
        &m.refused,
        m.break_glass.is_some(),
    );
    let cancelled = m
        .cancelled
        .iter()
        .map(|c| CancelledRow {
            row: MedRow {
                current: false,
                ..med_row(&c.item, names, &today)
            },
            href: pc.link(&format!("/records/{}", c.item.line.version_id)),
            cancel_href: pc.link(&format!("/records/{}", c.cancelled_by)),
        })
        .collect();
    let pg = MedicationsPage {
        network_name: state.network_name.clone(),
        cancelled,
        pc,
        current: lines.iter().filter(|l| l.current).count(),
        lines,
        drug_allergies: drug_allergy_rows(&m.drug_allergies, names),
        medications: medication_rows::current_rows(&m.current, names),
        latest: medication_rows::latest_rows(&m.latest, names),
        calendar: medication_rows::calendar_view(&m.calendar, names, &today),
        recent_days: m.recent_days,
        unchecked: m.unchecked.clone(),
        duplicate_groups: medication_rows::duplicate_group_rows(&m.duplicate_groups, names),
        duplicate_tests: lab_views::duplicate_views(&m.duplicate_tests, names),
        dup_unchecked: labs_read_refused(&m.refused),
        refused: m.refused,
        emergency,
        lookback_days: service::DUPLICATE_LOOKBACK_DAYS,
        test_days: service::DUPLICATE_TEST_DAYS,
        chrome,
    };
    html_page(&state, &pg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn age_counts_whole_years() {
        assert_eq!(age("19480405", "20260404"), Some(77));
        assert_eq!(age("19480405", "20260405"), Some(78));
        assert_eq!(age("", "20260405"), None);
        assert_eq!(age("20300101", "20260405"), None);
    }

    #[test]
    fn date_bounds_accept_dashes_and_reject_nonsense() {
        assert_eq!(
            date_bound("2026-04-01").expect("date").as_deref(),
            Some("20260401")
        );
        assert_eq!(date_bound(" ").expect("empty"), None);
        assert!(date_bound("2026-13-01").is_err());
        assert!(date_bound("yesterday").is_err());
    }

    #[test]
    fn current_lines_cover_today() {
        let m = |s: &str, e: &str| store::MedicationFact {
            start_date: s.into(),
            end_date: e.into(),
            ..Default::default()
        };
        assert!(is_current(&m("20260401", "20260414"), "20260410"));
        assert!(!is_current(&m("20260401", "20260414"), "20260415"));
        assert!(is_current(&m("20260410", ""), "20260410"));
        // No day count: not current on its start day only.
        assert!(is_current(&m("20260401", ""), "20260410"));
        assert!(!is_current(&m("", ""), "20260410"));
    }
}
