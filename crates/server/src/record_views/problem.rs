//! Diagnoses (PPR-01): every PRB of the message as a clinician reads it — name with its
//! modifiers, main (主) / suspected (疑い), MEDIS and ICD-10 codes, onset / diagnosed /
//! resolved dates, outcome, doctor and department; deleted ones (PRB-1 `DE`) struck through.

use askama::Template;
use ssmix2::departments::department_label;
use ssmix2::records::*;

use super::{view, ViewContext};
use crate::html::show_date;
use service::ServiceError;

pub(crate) struct DxRow {
    pub name: String,
    pub main: bool,
    pub suspected: bool,
    pub uncoded: bool,
    pub codes: String,
    pub start: String,
    pub end: String,
    pub outcome: String,
    pub setting: String,
    pub doctor: String,
    pub comments: String,
    pub deleted: bool,
    pub ended: bool,
}

#[derive(Template)]
#[template(path = "records/problem.html")]
struct ProblemTemplate {
    rows: Vec<DxRow>,
    comments: Vec<String>,
}

fn date(o: &Option<String>) -> String {
    o.as_deref()
        .filter(|t| !t.is_empty())
        .map(show_date)
        .unwrap_or_default()
}

fn text(c: &Option<Coded>) -> String {
    c.as_ref()
        .map(|c| c.display().to_owned())
        .unwrap_or_default()
}

fn row(p: &Diagnosis) -> DxRow {
    let modifiers: Vec<String> = p
        .modifiers
        .iter()
        .map(|m| text(&m.modifier))
        .filter(|m| !m.is_empty() && !p.name.contains(m.as_str()))
        .collect();
    let mut codes = Vec::new();
    if let Some(m) = p.medis_code.as_deref().filter(|m| !m.is_empty()) {
        codes.push(format!("MEDIS {m}"));
    }
    if let Some(x) = p.exchange_code.as_deref().filter(|x| !x.is_empty()) {
        codes.push(format!("交換用 {x}"));
    }
    if let Some(i) = p.icd10.as_deref().filter(|i| !i.is_empty()) {
        codes.push(format!("ICD-10 {i}"));
    }
    let start = match (date(&p.onset), date(&p.diagnosed_at)) {
        (o, d) if o.is_empty() => d,
        (o, d) if d.is_empty() || d == o => o,
        (o, d) => format!("{o} (診断 diagnosed {d})"),
    };
    let mut outcome = text(&p.outcome);
    if p.outcome_at.is_some() && !outcome.is_empty() {
        outcome = format!("{outcome} {}", date(&p.outcome_at));
    }
    let order = p.orders.first();
    let doctor = [
        order
            .and_then(|o| o.ordering_doctor.as_ref())
            .map(|d| d.display())
            .unwrap_or_default(),
        order
            .and_then(|o| o.department.as_ref())
            .map(|d| department_label(&d.code, &d.text))
            .unwrap_or_default(),
    ]
    .iter()
    .filter(|x| !x.is_empty())
    .cloned()
    .collect::<Vec<_>>()
    .join(" · ");
    let setting = p
        .classification
        .as_ref()
        .map(|c| {
            if c.system == "JHSD0004" {
                c.text.clone()
            } else if c.alt_system == "JHSD0004" {
                c.alt_text.clone()
            } else {
                String::new()
            }
        })
        .unwrap_or_default();
    DxRow {
        name: if modifiers.is_empty() {
            p.name.clone()
        } else {
            format!("{} ({})", p.name, modifiers.join("・"))
        },
        main: p.main_diagnosis,
        suspected: p.suspected,
        uncoded: p.uncoded,
        codes: codes.join(" · "),
        start: if start.is_empty() {
            p.onset_text.clone().unwrap_or_default()
        } else {
            start
        },
        end: date(&p.resolved_at),
        ended: p.resolved_at.as_deref().is_some_and(|r| !r.is_empty()),
        outcome,
        setting,
        doctor,
        comments: p.comments.join(" "),
        deleted: p.is_deleted(),
    }
}

pub(super) fn diagnoses(
    _header: &Header,
    d: &Diagnoses,
    _cx: &ViewContext<'_>,
) -> Result<Option<String>, ServiceError> {
    let mut rows: Vec<DxRow> = d.problems.iter().map(row).collect();
    // Active first, then ended, then deleted; the sender's order within each.
    rows.sort_by_key(|r| (r.deleted, r.ended));
    view(&ProblemTemplate {
        rows,
        comments: d.comments.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::super::adt::tests::view_of;
    use ssmix2::DataKind;

    #[test]
    fn diagnoses_show_codes_main_suspected_dates_outcome_and_deleted() {
        let html = view_of(DataKind::Ppr01, &|t| t);
        for want in [
            "<strong>胃炎</strong>",
            "(主 main)",
            "MEDIS 20054174",
            "交換用 TSQF",
            "ICD-10 K297",
            "2011-08-31",
            "2011-09-15",
            "回復せず",
            "外来時",
            "01 内科",
            "左膝の違和感",
            "(疑い suspected)",
            "(未コード化 uncoded name)",
            "整形外科へ紹介予定",
            "高血圧症",
            "削除 (deleted)",
            "継続中",
        ] {
            assert!(html.contains(want), "{want} in {html}");
        }
        // Deleted last, struck through.
        let deleted = html.find("高血圧症").expect("deleted row");
        assert!(deleted > html.find("左膝の違和感").expect("active row"));
        assert!(html.contains("class=\"dx cancelled"), "{html}");
    }
}
