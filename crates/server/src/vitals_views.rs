//! The vitals tab (バイタル) and the vitals of one record: a table of measurement times ×
//! vital signs, newest first, every value with its own unit, facility and status, and one
//! trend chart per vital and unit (chart.rs: units are never mixed on an axis). Built from
//! the service's vitals grid; what could not be read is shown as sent with the reason.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use model::{FacilityCode, RecordCategory};
use service::{AccessRefusal, VitalValue, VitalsGrid};

use crate::chart;
use crate::clinical::{
    dashed, date_bound, emergency_form, facility_name, html_page, regional_id, shown_flag,
    EmergencyForm, Page,
};
use crate::html::{show_time, Chrome, HtmlError, PatientChrome, PurposeQuery, SignedIn, Tab};
use crate::AppState;

/// An OBX-11 status a clinician must notice, as vitals read it; final (`F`) and unsent
/// statuses get none.
pub(crate) fn status_label(s: &str) -> &'static str {
    match s.trim() {
        "P" => "暫定 (preliminary)",
        "C" => "訂正 (corrected)",
        "X" => "測定不能 (not obtained)",
        "W" => "誤り (wrong, not charted)",
        "D" => "削除 (deleted, not charted)",
        "I" | "O" | "S" => "未確定 (pending)",
        "R" => "未検証 (not verified)",
        _ => "",
    }
}

pub(crate) struct ValueView {
    pub value: String,
    pub unit: String,
    pub flag: String,
    pub abnormal: bool,
    pub status: &'static str,
    /// Why the value is not a plain number (shown beside it).
    pub problem: &'static str,
    /// A `120/80` split: what was sent.
    pub sent: String,
    /// OBX-11 `W` / `D`: shown struck through.
    pub struck: bool,
    pub facility: String,
    pub title: String,
    pub commented: bool,
}

pub(crate) struct ColumnView {
    pub label: String,
    pub english: String,
    /// Units of the column's values, `、`-joined.
    pub units: String,
    pub mixed_units: bool,
    /// Not a vital sign the table knows: named as sent.
    pub unknown: bool,
}

pub(crate) struct RowView {
    pub time: String,
    pub cells: Vec<Vec<ValueView>>,
}

pub(crate) struct UnitChart {
    pub name: String,
    pub unit: String,
    pub svg: String,
}

/// The grid as the templates show it.
pub(crate) struct GridView {
    pub columns: Vec<ColumnView>,
    pub rows: Vec<RowView>,
    pub charts: Vec<UnitChart>,
}

fn value_view(v: &VitalValue, names: &BTreeMap<FacilityCode, String>) -> ValueView {
    let facility = facility_name(names, &v.source);
    let mut title = format!(
        "{facility} · {} {} · {} {} [{}] · {}",
        v.sent,
        v.unit,
        v.name,
        v.code,
        v.code_system,
        show_time(&v.observed_at)
    );
    if !v.reference_range.trim().is_empty() {
        title.push_str(&format!(" · 基準値 (reference) {}", v.reference_range));
    }
    for c in &v.comments {
        title.push_str(&format!(" · {c}"));
    }
    let flag = shown_flag(&v.abnormal_flag);
    ValueView {
        value: v.value.clone(),
        unit: v.unit.trim().to_owned(),
        abnormal: !flag.is_empty(),
        flag,
        status: status_label(&v.status),
        problem: v.problem.map(|p| p.label()).unwrap_or(""),
        sent: if v.sent != v.value {
            v.sent.clone()
        } else {
            String::new()
        },
        struck: matches!(v.status.trim(), "W" | "D"),
        facility,
        title,
        commented: !v.comments.is_empty(),
    }
}

fn point_of(v: &VitalValue, names: &BTreeMap<FacilityCode, String>) -> chart::Point {
    chart::Point {
        date: v.observed_at.get(..8).unwrap_or_default().to_owned(),
        at: v.observed_at.clone(),
        value: v.value.clone(),
        unit: v.unit.clone(),
        flag: v.abnormal_flag.clone(),
        reference_range: v.reference_range.clone(),
        source: facility_name(names, &v.source),
    }
}

/// Table and charts of a grid; `id` makes the charts' element ids unique on the page.
pub(crate) fn grid_view(
    g: &VitalsGrid,
    names: &BTreeMap<FacilityCode, String>,
    id: &str,
) -> GridView {
    let columns = g
        .columns
        .iter()
        .map(|c| ColumnView {
            label: c.label.clone(),
            english: c.english.clone(),
            units: c.units.join("、"),
            mixed_units: c.units.len() > 1,
            unknown: c.vital.is_none(),
        })
        .collect();
    let rows = g
        .rows
        .iter()
        .map(|r| RowView {
            time: if r.observed_at.is_empty() {
                "日時不明 (no time sent)".to_owned()
            } else {
                show_time(&r.observed_at)
            },
            cells: r
                .cells
                .iter()
                .map(|vs| vs.iter().map(|v| value_view(v, names)).collect())
                .collect(),
        })
        .collect();
    let mut charts = Vec::new();
    for (i, c) in g.columns.iter().enumerate() {
        let points: Vec<chart::Point> = g
            .series(i)
            .into_iter()
            .filter(|v| v.charted)
            .map(|v| point_of(v, names))
            .collect();
        if points.is_empty() {
            continue;
        }
        for uc in chart::by_unit(&format!("{id}-{i}"), &c.label, &points) {
            charts.push(UnitChart {
                name: format!("{} ({})", c.label, c.english),
                unit: uc.unit.clone(),
                svg: chart::render(&uc),
            });
        }
    }
    GridView {
        columns,
        rows,
        charts,
    }
}

#[derive(Template)]
#[template(path = "vitals.html")]
struct VitalsPage {
    network_name: String,
    chrome: Chrome,
    pc: PatientChrome,
    g: GridView,
    refused: Vec<AccessRefusal>,
    vitals_refused: bool,
    emergency: Option<EmergencyForm>,
    /// The date range shown (`YYYY-MM-DD`), empty when open.
    from: String,
    to: String,
    /// `purpose` kept in the filter form.
    purpose: String,
}

/// `?from=…&to=…` (`YYYY-MM-DD` from `<input type=date>`, or `YYYYMMDD`) and the purpose.
#[derive(serde::Deserialize)]
pub struct VitalsParams {
    #[serde(flatten)]
    pub purpose: PurposeQuery,
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
}

/// `/patients/{id}/vitals`: every facility's extended-storage vitals the user may see.
pub async fn vitals(
    State(state): State<AppState>,
    me: SignedIn,
    Path(raw_id): Path<String>,
    Query(q): Query<VitalsParams>,
) -> Page {
    let chrome = Chrome::new(&state, &me);
    let id = regional_id(&state, &chrome, &raw_id)?;
    let (from, to) = match date_bound(&q.from).and_then(|f| Ok((f, date_bound(&q.to)?))) {
        Ok(b) => b,
        Err(e) => return Err(HtmlError::new(&state, Some(chrome), e)),
    };
    let vq = service::VitalsQuery {
        from: from.clone(),
        to: to.clone(),
    };
    let p = &q.purpose;
    let v = match state
        .network
        .vitals_for(&me.principal, &id, &vq, p.purpose(), p.reason())
        .await
    {
        Ok(v) => v,
        Err(e) => return Err(HtmlError::new(&state, Some(chrome), e)),
    };
    let pc = PatientChrome::new(&id, Tab::Vitals, p, v.break_glass.is_some());
    let emergency = emergency_form(
        &me,
        &id,
        "/vitals",
        v.grid.rows.is_empty(),
        &v.refused,
        v.break_glass.is_some(),
    );
    let pg = VitalsPage {
        network_name: state.network_name.clone(),
        g: grid_view(&v.grid, &v.facility_names, "vitals"),
        vitals_refused: v
            .refused
            .iter()
            .any(|r| r.covers(RecordCategory::Documents)),
        refused: v.refused,
        emergency,
        from: dashed(&from),
        to: dashed(&to),
        purpose: p.purpose.clone(),
        pc,
        chrome,
    };
    html_page(&state, &pg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use store::LabFact;

    fn fact(code: &str, name: &str, value: &str, unit: &str, status: &str, at: &str) -> LabFact {
        LabFact {
            code: code.into(),
            code_system: "LN".into(),
            name: name.into(),
            value_type: "NM".into(),
            value: value.into(),
            unit: unit.into(),
            status: status.into(),
            observed_at: at.into(),
            ..Default::default()
        }
    }

    fn fixture(name: &str, source: &FacilityCode, version: i64) -> Vec<service::Sourced<LabFact>> {
        let path = format!(
            "{}/../ssmix2/tests/fixtures/vitals/{name}.hl7",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(path)
            .expect("fixture")
            .replace('\n', "\r");
        let msg = hl7::Message::parse(&text).expect("parses");
        ingest::facts::extract_extended(&msg)
            .into_iter()
            .filter_map(|f| match f.fact {
                store::Fact::Lab(l) => Some((f.line, l)),
                _ => None,
            })
            .map(|(line, fact)| service::Sourced {
                source: source.clone(),
                local_id: "9999013".into(),
                version_id: version,
                line,
                kind: "L-OBSERVATIONS^OBSERVATIONS^99ZL01".into(),
                date: String::new(),
                order_no: String::new(),
                fact,
            })
            .collect()
    }

    /// The vitals tab of two facilities' messages, field by field in the HTML.
    #[test]
    fn the_vitals_page_field_by_field() {
        let (a, b) = (
            FacilityCode::parse("0411111111").expect("code"),
            FacilityCode::parse("0422222222").expect("code"),
        );
        let mut obs = fixture("ORU-R30-vitals", &a, 1);
        obs.extend(fixture("ORU-R01-local", &b, 2));
        let names: BTreeMap<FacilityCode, String> = [
            (a.clone(), "登呂病院".to_owned()),
            (b.clone(), "林内科医院".to_owned()),
        ]
        .into();
        let id = model::RegionalId::parse("0001404346057915").expect("id");
        let pg = VitalsPage {
            network_name: "renkei".into(),
            chrome: Chrome {
                network_name: "renkei".into(),
                who: "doctor".into(),
                is_office: false,
            },
            pc: PatientChrome::new(&id, Tab::Vitals, &PurposeQuery::default(), false),
            g: grid_view(&service::vitals::grid(&obs), &names, "vitals"),
            refused: Vec::new(),
            vitals_refused: false,
            emergency: None,
            from: String::new(),
            to: String::new(),
            purpose: String::new(),
        };
        let html = crate::html::render(&pg).expect("renders");
        assert!(
            html.contains("class=\"current\" aria-current=\"page\">バイタル"),
            "tab"
        );
        // Columns in their order, the unknown local code last, named as sent.
        let head = &html[html.find("<thead>").expect("head")..html.find("</thead>").expect("end")];
        let order: Vec<usize> = [
            ("体温", "temperature"),
            ("収縮期血圧", "systolic BP"),
            ("拡張期血圧", "diastolic BP"),
            ("血圧", "blood pressure"),
            ("脈拍", "pulse"),
            ("SpO2", "SpO2"),
            ("呼吸数", "respiration"),
            ("体重", "weight"),
            ("身長", "height"),
            ("BMI", "BMI"),
            ("疼痛スケール", "NRS"),
        ]
        .iter()
        .map(|(ja, en)| {
            let needle = format!(">{ja} <span class=\"en\">{en}</span>");
            head.find(&needle)
                .unwrap_or_else(|| panic!("{needle} in {head}"))
        })
        .collect();
        let mut sorted = order.clone();
        sorted.sort();
        assert_eq!(order, sorted, "column order");
        assert!(head.contains("class=\"unknown-code\""));
        assert!(
            head.contains("℃、度"),
            "both temperature units listed: {head}"
        );
        assert!(head.contains("単位混在"));
        // Rows newest first: B's 09:45 reading, then A's.
        let times: Vec<usize> = [
            "2026-03-11 09:45",
            "2026-03-11 09:35",
            "2026-03-11 09:30",
            "2026-03-10 14:00",
            "2026-03-10 06:00",
        ]
        .iter()
        .map(|t| {
            html.find(&format!("<th class=\"time\" scope=\"row\">{t}</th>"))
                .unwrap_or_else(|| panic!("{t}"))
        })
        .collect();
        let mut sorted = times.clone();
        sorted.sort();
        assert_eq!(times, sorted, "newest first");
        // Values with their own unit and facility, flags, statuses and reasons.
        assert!(
            html.contains("37.8 <span class=\"unit\">℃</span> <span class=\"flag\">H</span>"),
            "{html}"
        );
        assert!(html.contains("36.6 <span class=\"unit\">度</span>"));
        assert!(html.contains("132 <span class=\"unit\">mmHg</span>"));
        assert!(html.contains("送信値 <span class=\"en\">sent</span> 132/84"));
        assert!(html.contains("120/ <span class=\"unit\">mmHg</span>"));
        assert!(html.contains("cannot be read as systolic/diastolic"));
        assert!(html.contains("測定中 <span class=\"unit\">回/分</span>"));
        assert!(html.contains("not a number"));
        assert!(html.contains("測定不能 (not obtained)"));
        assert!(html.contains("訂正 (corrected)") && html.contains("暫定 (preliminary)"));
        assert!(html.contains("<div class=\"facility muted\">登呂病院</div>"));
        assert!(html.contains("<div class=\"facility muted\">林内科医院</div>"));
        assert!(html.contains("再測定"), "comment in the tooltip");
        // Charts: one per vital and unit; temperature in ℃ and in 度 apart.
        assert!(html.contains("<figure class=\"unit-chart\" data-unit=\"℃\">"));
        assert!(html.contains("<figure class=\"unit-chart\" data-unit=\"度\">"));
        assert!(html.contains("svg class=\"trend-chart\""));
    }

    #[test]
    fn values_keep_unit_status_and_reason_charts_one_per_unit() {
        let src = FacilityCode::parse("0411111111").expect("code");
        let names: BTreeMap<FacilityCode, String> = [(src.clone(), "登呂病院".to_owned())].into();
        let g = service::vitals::record_grid(
            &src,
            1,
            &[
                fact("8310-5", "体温", "37.8", "℃", "F", "202603100600"),
                fact("8310-5", "体温", "99.1", "[degF]", "F", "202603100700"),
                fact("8310-5", "体温", "<b>", "℃", "F", "202603100800"),
                fact("8480-6", "収縮期血圧", "150", "mmHg", "W", "202603100600"),
                fact("8480-6", "収縮期血圧", "128", "mmHg", "C", "202603100800"),
            ],
        );
        let v = grid_view(&g, &names, "t");
        assert_eq!(v.columns[0].label, "体温");
        assert!(v.columns[0].mixed_units);
        assert_eq!(v.rows[0].time, "2026-03-10 08:00");
        let t = &v.rows[0].cells[0][0];
        assert_eq!(t.value, "<b>");
        assert!(t.problem.contains("not a number"));
        let w = &v.rows[2].cells[1][0];
        assert!(w.struck && w.status.contains("wrong"));
        // Temperature in ℃ and in [degF]: two charts; systolic: one point (the W is not drawn).
        let units: Vec<(&str, &str)> = v
            .charts
            .iter()
            .map(|c| (c.name.as_str(), c.unit.as_str()))
            .collect();
        assert_eq!(
            units,
            vec![
                ("体温 (temperature)", "℃"),
                ("体温 (temperature)", "[degF]"),
                ("収縮期血圧 (systolic BP)", "mmHg"),
            ]
        );
        assert!(v.charts[2].svg.contains("1 件"), "{}", v.charts[2].svg);
    }
}
