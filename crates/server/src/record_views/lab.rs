//! Specimen lab orders (OML-01) and results (OML-11), microbiology included.
//!
//! A result reads per specimen, then per panel (OBR): status of the report, every result
//! with its unit, reference range, H/L letter, status and comments, and its JLAC10 and local
//! codes. A microbiology panel reads as a culture: specimen findings (smear), then each
//! organism with its quantity and its susceptibility table (MIC, S/I/R), the rows grouped by
//! OBX-4 as sent (see `ssmix2::records::micro`).

use askama::Template;
use ssmix2::records::*;

use super::{view, ViewContext};
use crate::clinical::shown_flag;
use crate::html::show_time;
use crate::lab_views::status_label;
use service::ServiceError;

/// `2026-03-08 10:00`, or the text as sent when it is not a time.
fn when(t: &Option<String>) -> String {
    match t.as_deref().map(str::trim) {
        None | Some("") => String::new(),
        Some(t) => show_time(t),
    }
}

/// A coded value's text and its codes: `JLAC10 3A010000002327101 · 10222 (99X03)`.
fn codes(c: &Option<Coded>) -> String {
    let Some(c) = c else { return String::new() };
    let mut parts = Vec::new();
    if let Some(j) = c.jlac10() {
        parts.push(format!("JLAC10 {j}"));
    }
    for (code, system) in [(&c.code, &c.system), (&c.alt_code, &c.alt_system)] {
        if !code.is_empty() && system != "JC10" {
            parts.push(if system.is_empty() {
                code.clone()
            } else {
                format!("{code} ({system})")
            });
        }
    }
    parts.join(" · ")
}

fn text(c: &Option<Coded>) -> String {
    c.as_ref()
        .map(|c| c.display().to_owned())
        .unwrap_or_default()
}

struct ResultRow {
    name: String,
    codes: String,
    value: String,
    unit: String,
    range: String,
    flag: String,
    abnormal: bool,
    status: &'static str,
    status_code: String,
    observed: String,
    sub_id: String,
    comments: Vec<String>,
}

fn result_row(o: &Observation) -> ResultRow {
    let value = if o.value_deleted {
        "(削除 deleted)".to_owned()
    } else if o.coded_values.is_empty() {
        o.values
            .iter()
            .map(|v| micro::value_text(&o.value_type, v))
            .collect::<Vec<_>>()
            .join(" ")
    } else {
        o.coded_values
            .iter()
            .map(|c| c.display().to_owned())
            .collect::<Vec<_>>()
            .join("、")
    };
    let flag = o.abnormal_flags.first().cloned().unwrap_or_default();
    let point = crate::chart::Point {
        date: String::new(),
        at: String::new(),
        value: value.clone(),
        unit: String::new(),
        flag: flag.clone(),
        reference_range: o.reference_range.clone().unwrap_or_default(),
        source: String::new(),
    };
    ResultRow {
        name: text(&o.code),
        codes: codes(&o.code),
        value,
        unit: o.unit_text().to_owned(),
        range: o.reference_range.clone().unwrap_or_default(),
        flag: shown_flag(&o.abnormal_flags.join(" ")),
        abnormal: point.abnormal(),
        status: status_label(o.status.as_deref().unwrap_or("")),
        status_code: o.status.clone().unwrap_or_default(),
        observed: when(&o.observed_at),
        sub_id: o.sub_id.clone().unwrap_or_default(),
        comments: o.comments.clone(),
    }
}

struct SusRow {
    drug: String,
    code: String,
    mic: String,
    sir: String,
    sir_label: &'static str,
    status: &'static str,
}

fn sir_label(s: &str) -> &'static str {
    match s.trim() {
        "S" => "感性 (susceptible)",
        "I" => "中間 (intermediate)",
        "R" => "耐性 (resistant)",
        "MS" => "中等度感性 (moderately susceptible)",
        "VS" => "高感性 (very susceptible)",
        "SDD" => "用量依存的感性 (susceptible dose-dependent)",
        "NS" => "非感性 (non-susceptible)",
        "" => "判定なし (no interpretation sent)",
        _ => "",
    }
}

struct OrganismView {
    key: String,
    name: String,
    code: String,
    findings: Vec<(String, String)>,
    susceptibilities: Vec<SusRow>,
    comments: Vec<String>,
}

struct CultureView {
    specimen_findings: Vec<(String, String)>,
    organisms: Vec<OrganismView>,
}

fn culture_view(c: Culture) -> CultureView {
    CultureView {
        specimen_findings: c.specimen_findings,
        organisms: c
            .organisms
            .into_iter()
            .map(|o| OrganismView {
                code: match (o.code.is_empty(), o.code_system.is_empty()) {
                    (true, _) => String::new(),
                    (false, true) => o.code.clone(),
                    (false, false) => format!("{} ({})", o.code, o.code_system),
                },
                key: o.key,
                name: if o.name.is_empty() {
                    "(菌名なし no organism name sent)".to_owned()
                } else {
                    o.name
                },
                findings: o.findings,
                susceptibilities: o
                    .susceptibilities
                    .into_iter()
                    .map(|s| SusRow {
                        sir_label: sir_label(&s.interpretation),
                        mic: [s.mic.as_str(), s.unit.as_str()]
                            .iter()
                            .filter(|x| !x.is_empty())
                            .copied()
                            .collect::<Vec<_>>()
                            .join(" "),
                        drug: s.drug,
                        code: s.code,
                        sir: s.interpretation,
                        status: status_label(&s.status),
                    })
                    .collect(),
                comments: o.comments,
            })
            .collect(),
    }
}

struct GroupView {
    panel: String,
    codes: String,
    status: &'static str,
    status_code: String,
    collected: String,
    reported: String,
    doctor: String,
    department: String,
    comments: Vec<String>,
    results: Vec<ResultRow>,
    culture: Option<CultureView>,
}

struct SpecimenView {
    name: String,
    codes: String,
    specimen_id: String,
    collected: String,
    received: String,
    observations: Vec<ResultRow>,
    comments: Vec<String>,
    groups: Vec<GroupView>,
}

#[derive(Template)]
#[template(path = "records/lab.html")]
struct LabResultView {
    specimens: Vec<SpecimenView>,
    comments: Vec<String>,
}

fn collected(s: &Specimen) -> String {
    match (when(&s.collected_at), when(&s.collected_end)) {
        (a, b) if b.is_empty() || a == b => a,
        (a, b) => format!("{a} – {b}"),
    }
}

/// The clinical view of an OML-11 result.
pub(super) fn result(
    _header: &Header,
    record: &LabResult,
    _cx: &ViewContext<'_>,
) -> Result<Option<String>, ServiceError> {
    let specimens = record
        .specimens
        .iter()
        .map(|sp| {
            // Organisms named so far in this specimen: a susceptibility group sent apart
            // (OBR-26 names only the sub-ID) shows its organism's name, marked as such.
            let mut named: Vec<(String, String)> = Vec::new();
            let cultures: Vec<Option<CultureView>> = sp
                .items
                .iter()
                .map(|item| {
                    item.culture().map(|mut c| {
                        for o in &mut c.organisms {
                            if o.name.is_empty() {
                                if let Some((_, n)) = named.iter().find(|(k, _)| *k == o.key) {
                                    o.name = format!("{n} (親結果より from the parent result)");
                                }
                            } else {
                                named.push((o.key.clone(), o.name.clone()));
                            }
                        }
                        culture_view(c)
                    })
                })
                .collect();
            (sp, cultures)
        })
        .map(|(sp, cultures)| SpecimenView {
            name: text(&sp.specimen.specimen_type),
            codes: codes(&sp.specimen.specimen_type),
            specimen_id: sp.specimen.specimen_id.clone().unwrap_or_default(),
            collected: collected(&sp.specimen),
            received: when(&sp.specimen.received_at),
            observations: sp.observations.iter().map(result_row).collect(),
            comments: sp.comments.clone(),
            groups: sp
                .items
                .iter()
                .zip(cultures)
                .map(|(item, culture)| {
                    let order = item.order.as_ref();
                    let status = item.request.result_status.clone().unwrap_or_default();
                    GroupView {
                        panel: text(&item.request.service),
                        codes: codes(&item.request.service),
                        status: status_label(&status),
                        status_code: status,
                        collected: when(&item.request.observed_at),
                        reported: when(&item.request.reported_at),
                        doctor: item
                            .request
                            .ordering_doctor
                            .as_ref()
                            .or(order.and_then(|o| o.ordering_doctor.as_ref()))
                            .map(Person::display)
                            .unwrap_or_default(),
                        department: order.map(|o| text(&o.department)).unwrap_or_default(),
                        comments: item.comments.clone(),
                        results: if culture.is_some() {
                            Vec::new()
                        } else {
                            item.results.iter().map(result_row).collect()
                        },
                        culture,
                    }
                })
                .collect(),
        })
        .collect();
    view(&LabResultView {
        specimens,
        comments: record.comments.clone(),
    })
}

struct OrderedTest {
    name: String,
    codes: String,
    comments: Vec<String>,
}

struct OrderGroupView {
    order_no: String,
    control: String,
    ordered: String,
    doctor: String,
    department: String,
    battery: String,
    battery_codes: String,
    scheduled: String,
    priority: String,
    tests: Vec<OrderedTest>,
    comments: Vec<String>,
}

struct OrderSpecimenView {
    name: String,
    codes: String,
    collected: String,
    orders: Vec<OrderGroupView>,
    comments: Vec<String>,
}

#[derive(Template)]
#[template(path = "records/lab_order.html")]
struct LabOrderView {
    specimens: Vec<OrderSpecimenView>,
    comments: Vec<String>,
}

/// The clinical view of an OML-01 order.
pub(super) fn order(
    _header: &Header,
    record: &LabOrder,
    _cx: &ViewContext<'_>,
) -> Result<Option<String>, ServiceError> {
    let specimens = record
        .specimens
        .iter()
        .map(|sp| OrderSpecimenView {
            name: text(&sp.specimen.specimen_type),
            codes: codes(&sp.specimen.specimen_type),
            collected: collected(&sp.specimen),
            comments: sp.comments.clone(),
            orders: sp
                .orders
                .iter()
                .map(|o| {
                    let timing = o.timing.first();
                    OrderGroupView {
                        order_no: o.order.order_no.clone(),
                        control: o.order.control.clone(),
                        ordered: when(&o.order.ordered_at),
                        doctor: o
                            .order
                            .ordering_doctor
                            .as_ref()
                            .map(Person::display)
                            .unwrap_or_default(),
                        department: text(&o.order.department),
                        battery: o
                            .request
                            .as_ref()
                            .map(|r| text(&r.service))
                            .unwrap_or_default(),
                        battery_codes: o
                            .request
                            .as_ref()
                            .map(|r| codes(&r.service))
                            .unwrap_or_default(),
                        scheduled: timing.map(|t| when(&t.start)).unwrap_or_default(),
                        priority: timing
                            .and_then(|t| t.priority.as_ref())
                            .map(|p| match p.code.as_str() {
                                "S" => "至急 (stat)".to_owned(),
                                "A" => "早急 (ASAP)".to_owned(),
                                "R" => "通常 (routine)".to_owned(),
                                _ => p.display().to_owned(),
                            })
                            .unwrap_or_default(),
                        tests: o
                            .tests
                            .iter()
                            .map(|t| OrderedTest {
                                name: text(&t.code),
                                codes: codes(&t.code),
                                comments: t.comments.clone(),
                            })
                            .collect(),
                        comments: o.comments.clone(),
                    }
                })
                .collect(),
        })
        .collect();
    view(&LabOrderView {
        specimens,
        comments: record.comments.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ssmix2::DataKind;

    fn record(kind: DataKind, path: &str) -> Record {
        let path = format!(
            "{}/../ssmix2/tests/fixtures/{path}.hl7",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path)
            .expect("fixture")
            .replace('\n', "\r");
        let msg = hl7::Message::parse(&text).expect("parses");
        read_record(kind, &msg).expect("reads")
    }

    fn html(kind: DataKind, path: &str) -> String {
        let r = record(kind, path);
        let cx = ViewContext { today: "20260310" };
        super::super::clinical_view(&r, &cx)
            .expect("renders")
            .expect("a lab view")
    }

    /// The HTML between `from` and the next `to`.
    fn between<'a>(s: &'a str, from: &str, to: &str) -> &'a str {
        let i = s.find(from).unwrap_or_else(|| panic!("{from} in {s}"));
        let rest = &s[i..];
        &rest[..rest.find(to).unwrap_or(rest.len())]
    }

    #[test]
    fn culture_shows_each_organism_with_its_quantity_and_susceptibility_table() {
        let h = html(DataKind::Oml11, "lab/OML-11-culture");
        assert!(h.contains(r#"id="culture-view""#));
        assert!(h.contains("尿") && h.contains("JLAC10 071") && h.contains("U01 (99Z01)"));
        assert!(h.contains("一般細菌培養同定") && h.contains("訂正 (corrected)"));
        assert!(
            h.contains("2026-03-08 10:00 – 2026-03-08 10:30"),
            "collection range"
        );
        assert!(h.contains("グラム陰性桿菌 (2+)"));
        assert!(h.contains("※ 抗菌薬投与前に採取"));
        // Organism 1 and only its rows.
        let ec = between(&h, r#"data-organism="1""#, r#"data-organism="2""#);
        assert!(ec.contains("Escherichia coli") && ec.contains("1001 (JANIS)"));
        assert!(ec.contains("10^5 CFU/mL"));
        assert!(ec.contains("ABPC") && ec.contains("&#62;16 μg/mL"));
        assert!(ec.contains(r#"class="sir sir-R""#));
        assert!(ec.contains("LVFX") && ec.contains(r#"class="sir sir-I""#));
        assert!(ec.contains("※ 再判定により訂正"));
        assert!(!ec.contains("VCM"), "VCM belongs to organism 2");
        // Organism 2 keeps its quantity and its own table.
        let ef = between(&h, r#"data-organism="2""#, "</table>");
        assert!(ef.contains("Enterococcus faecalis") && ef.contains("10^4 CFU/mL"));
        assert!(ef.contains("VCM") && ef.contains(r#"class="sir sir-S""#));
        assert!(ef.contains("&#60;=2 μg/mL"));
        assert!(!ef.contains("LVFX"));
        // No flat results table for a culture.
        assert!(!h.contains(r#"class="lab-results""#));
    }

    #[test]
    fn chemistry_result_shows_status_codes_flags_and_comments() {
        let h = html(DataKind::Oml11, "lab/OML-11-repeat");
        assert!(h.contains("75gOGTT") && h.contains("速報 (preliminary)"));
        assert_eq!(
            h.matches(r#"class="lab-result-row""#).count(),
            3,
            "every result kept"
        );
        assert!(h.contains("JLAC10 3D010000001926101 · 10301 (99X03)"));
        assert!(h.contains("#2") && h.contains("2026-03-09 08:30"));
        assert!(h.contains("※ 溶血あり"));
        assert!(h.contains(r#"<span class="flag">H</span>"#));
        assert!(h.contains("70-139") && h.contains("mg/dL"));
        let h = html(DataKind::Oml11, "OML-11");
        assert!(h.contains("総蛋白") && h.contains("※ 再検済み"));
        assert!(h.contains("陰性(&#38;0.05)"));
    }

    #[test]
    fn lab_order_lists_specimens_and_tests() {
        let h = html(DataKind::Oml01, "OML-01");
        assert!(h.contains(r#"id="lab-order""#));
        assert!(h.contains("血清") && h.contains("血漿"));
        assert!(h.contains("生化学的検査") && h.contains("総ビリルビン"));
        assert!(h.contains("JLAC10 3A010000002327101 · 10222 (99X03)"));
        assert!(h.contains("通常 (routine)") && h.contains("2011-12-20 09:00"));
        assert!(h.contains("呼吸器外科") && h.contains("※ 至急"));
    }

    #[test]
    fn a_susceptibility_group_sent_apart_names_its_organism() {
        let h = html(DataKind::Oml11, "lab/OML-11-culture-parent");
        assert_eq!(h.matches(r#"class="culture organism""#).count(), 2);
        let child = between(&h, "M200 (99O03)", "</table>");
        assert!(child.contains("Staphylococcus aureus (MRSA)"));
        assert!(child.contains("MPIPC") && child.contains(r#"class="sir sir-R""#));
    }
}
