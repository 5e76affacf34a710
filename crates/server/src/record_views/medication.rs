//! Prescriptions and injections (OMP-01/02) and their administrations (OMP-11/12).
//!
//! A prescription reads as its Rp groups: drug (with HOT / YJ / local codes), each time's
//! dose of an uneven line, 用法 with its supplementary usages, days (taking days, flagged
//! when the calendar span is not certain), total, route and site, infusion rate, duration,
//! time slots and start condition, prescriber and dispensing category. An administration
//! reads as each RXA with its times; refused and not-given doses are shown as such.

use askama::Template;
use ssmix2::dosing::Rhythm;
use ssmix2::records::*;

use super::{view, ViewContext};
use crate::html::{show_date, show_time};
use service::ServiceError;

/// `name [HOT9 108665201 · YJ 2149039F1031]`: the text and every code with its system.
fn codes(c: &Coded) -> String {
    let mut parts = Vec::new();
    for (code, system) in [(&c.code, &c.system), (&c.alt_code, &c.alt_system)] {
        if !code.is_empty() {
            parts.push(if system.is_empty() {
                code.clone()
            } else {
                format!("{system} {code}")
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

fn when(t: &str) -> String {
    if t.len() >= 12 {
        show_time(t)
    } else if t.len() >= 8 {
        show_date(t)
    } else {
        t.to_owned()
    }
}

/// `0900` → `09:00` (TQ1-4 explicit times), anything else as sent.
fn slot(t: &str) -> String {
    match (t.get(..2), t.get(2..4)) {
        (Some(h), Some(m)) if t.len() == 4 && t.bytes().all(|b| b.is_ascii_digit()) => {
            format!("{h}:{m}")
        }
        _ => t.to_owned(),
    }
}

fn quantity(q: &Quantity) -> String {
    format!(
        "{}{}",
        q.amount,
        q.unit.as_ref().map(|u| u.display()).unwrap_or_default()
    )
}

struct DrugView {
    name: String,
    codes: String,
}

struct ComponentView {
    role: &'static str,
    drug: DrugView,
    amount: String,
}

struct ItemView {
    rp: String,
    cancelled: bool,
    drug: Option<DrugView>,
    supplementary: String,
    components: Vec<ComponentView>,
    /// `1錠`, or `4-2-1錠` with each time below.
    dose: String,
    per_time: Vec<String>,
    uneven_flag: bool,
    daily: String,
    usage: String,
    usage_code: String,
    modifiers: Vec<String>,
    rhythm: String,
    as_needed: bool,
    days: String,
    span: String,
    span_uncertain: bool,
    total: String,
    route: String,
    site: String,
    device: String,
    rate: String,
    duration: String,
    slots: String,
    condition: String,
    instructions: Vec<String>,
    prescriber: String,
    department: String,
    ordered_at: String,
    dispensing: String,
    categories: String,
    kind: String,
    form: String,
    comments: Vec<String>,
}

fn drug(c: &Coded) -> DrugView {
    DrugView {
        name: c.display().to_owned(),
        codes: codes(c),
    }
}

fn item_view(it: &MedicationItem, cancels: bool) -> ItemView {
    let injection = !it.components.is_empty();
    let unit = text(&it.dose_unit);
    let per_time = it.per_time_doses();
    let uneven = it.uneven();
    let dose = match (&it.dose, &it.dose_max) {
        _ if uneven && per_time.len() >= 2 => format!(
            "{}{unit}",
            per_time
                .iter()
                .map(|p| p.amount.as_str())
                .collect::<Vec<_>>()
                .join("-")
        ),
        (Some(min), Some(max)) if uneven => format!("{min}〜{max}{unit}"),
        (Some(d), _) => format!("{d}{unit}"),
        _ => String::new(),
    };
    let rhythm = it.rhythm();
    let days = match it.days() {
        Some(d) if !matches!(rhythm, Rhythm::Daily) => format!("{d}日 (服用日数 taking days)"),
        Some(d) => format!("{d}日"),
        None => it
            .timing
            .iter()
            .find_map(|t| {
                t.duration
                    .as_ref()
                    .map(quantity)
                    .or_else(|| t.total_occurrences.as_ref().map(|n| format!("{n}回")))
            })
            .unwrap_or_default(),
    };
    let start = it.start().map(when).unwrap_or_default();
    let end = it.calendar_end();
    let span_uncertain = end.is_none();
    let span = match &end {
        Some(e) => {
            let sent_end = it.timing.iter().find_map(|t| t.end.as_deref());
            format!(
                "{start} – {}",
                sent_end.map(when).unwrap_or_else(|| show_date(e))
            )
        }
        None if start.is_empty() => String::new(),
        None => format!("{start} – 終了日不明 (end unknown)"),
    };
    let first_route = it.routes.first();
    let t0 = it.timing.first();
    ItemView {
        rp: it
            .order
            .group_no
            .clone()
            .unwrap_or_else(|| it.order.order_no.clone()),
        cancelled: cancels || matches!(it.order.control.as_str(), "CA" | "OC" | "DC"),
        // For an injection RXE-2 is the order category: the drugs are the components.
        drug: if injection {
            None
        } else {
            it.drug.as_ref().map(|d| {
                let mut v = drug(d);
                for c in &it.supplementary_codes {
                    let more = codes(c);
                    if !more.is_empty() && !v.codes.contains(&more) {
                        v.codes = format!("{} · {more}", v.codes);
                    }
                }
                v
            })
        },
        supplementary: if injection {
            it.drug
                .as_ref()
                .map(|d| d.display().to_owned())
                .unwrap_or_default()
        } else {
            String::new()
        },
        components: it
            .components
            .iter()
            .map(|c| ComponentView {
                role: match c.component_type.as_str() {
                    "B" => "基剤 (base)",
                    "A" => "添加 (additive)",
                    _ => "",
                },
                drug: c.drug.as_ref().map(drug).unwrap_or(DrugView {
                    name: String::new(),
                    codes: String::new(),
                }),
                amount: format!("{}{}", c.amount.clone().unwrap_or_default(), text(&c.unit)),
            })
            .collect(),
        dose: if injection && !dose.is_empty() {
            format!("計 {dose} (total volume)")
        } else {
            dose
        },
        per_time: per_time
            .iter()
            .map(|p| format!("{} {}{}", p.when, p.amount, p.unit))
            .collect(),
        uneven_flag: uneven,
        daily: it.daily_dose.as_ref().map(quantity).unwrap_or_default(),
        usage: it
            .usage()
            .map(|u| u.display().to_owned())
            .unwrap_or_default(),
        usage_code: it.usage().map(codes).unwrap_or_default(),
        modifiers: it
            .supplementary_usages()
            .into_iter()
            .map(|u| {
                let c = codes(u);
                if u.text.is_empty() {
                    format!("{} ⚠ 名称なし (code only)", c)
                } else {
                    format!("{} [{c}]", u.text)
                }
            })
            .collect(),
        rhythm: match &rhythm {
            // As needed is said once, below.
            Rhythm::Daily | Rhythm::AsNeeded => String::new(),
            Rhythm::Unknown => "⚠ 服用日の並びを確定できません (days pattern not certain)".into(),
            r => r.label(),
        },
        as_needed: it.as_needed(),
        days,
        span,
        span_uncertain,
        total: match (&it.total_amount, &it.total_unit) {
            (Some(a), u) => format!("{a}{}", text(u)),
            _ => String::new(),
        },
        route: first_route.map(|r| text(&r.route)).unwrap_or_default(),
        site: first_route.map(|r| text(&r.site)).unwrap_or_default(),
        device: first_route.map(|r| text(&r.device)).unwrap_or_default(),
        rate: match &it.rate {
            Some(r) => format!("{r} {}", text(&it.rate_unit)),
            None => String::new(),
        },
        duration: t0
            .and_then(|t| t.occurrence_duration.as_ref())
            .map(quantity)
            .unwrap_or_default(),
        slots: t0
            .map(|t| {
                t.explicit_times
                    .iter()
                    .map(|s| slot(s))
                    .collect::<Vec<_>>()
                    .join("・")
            })
            .unwrap_or_default(),
        condition: it
            .timing
            .iter()
            .find_map(|t| t.condition.clone())
            .unwrap_or_default(),
        instructions: it
            .instructions
            .iter()
            .map(|c| c.display().to_owned())
            .chain(it.timing.iter().filter_map(|t| t.instruction.clone()))
            .collect(),
        prescriber: it
            .order
            .ordering_doctor
            .as_ref()
            .map(Person::display)
            .unwrap_or_default(),
        department: text(&it.order.department),
        ordered_at: it.order.ordered_at.as_deref().map(when).unwrap_or_default(),
        dispensing: it.dispensing().unwrap_or_default().to_owned(),
        categories: it
            .categories
            .iter()
            .map(|c| c.display())
            .collect::<Vec<_>>()
            .join("・"),
        kind: it
            .kinds
            .iter()
            .map(|c| c.display())
            .collect::<Vec<_>>()
            .join("・"),
        form: text(&it.form),
        comments: it.comments.clone(),
    }
}

#[derive(Template)]
#[template(path = "records/medication.html")]
struct OrderView {
    injection: bool,
    items: Vec<ItemView>,
    comments: Vec<String>,
}

pub(super) fn order(
    header: &Header,
    record: &MedicationOrder,
    _cx: &ViewContext<'_>,
) -> Result<Option<String>, ServiceError> {
    view(&OrderView {
        injection: record.items.iter().any(|i| !i.components.is_empty()),
        items: record
            .items
            .iter()
            .map(|i| item_view(i, header.cancels))
            .collect(),
        comments: record.comments.clone(),
    })
}

struct GivenView {
    time: String,
    drug: DrugView,
    amount: String,
    /// `実施 (given)`, `拒否 (refused)` …
    status: String,
    not_given: bool,
    notes: String,
    by: String,
    location: String,
    recorded: String,
    deleted: bool,
}

struct GroupView {
    rp: String,
    route: String,
    site: String,
    device: String,
    components: Vec<String>,
    given: Vec<GivenView>,
    comments: Vec<String>,
}

#[derive(Template)]
#[template(path = "records/medication_administration.html")]
struct AdministrationView {
    groups: Vec<GroupView>,
    comments: Vec<String>,
}

fn status_label(s: Option<&str>) -> (String, bool) {
    match s.unwrap_or("") {
        "" | "CP" => ("実施 (given)".into(), false),
        "PA" => ("一部実施 (partially given)".into(), false),
        "NA" => ("未実施 (not given)".into(), true),
        "RE" => ("拒否 (refused)".into(), true),
        other => (format!("{other} (as sent)"), false),
    }
}

pub(super) fn administration(
    _header: &Header,
    record: &MedicationAdministration,
    _cx: &ViewContext<'_>,
) -> Result<Option<String>, ServiceError> {
    let groups = record
        .groups
        .iter()
        .map(|g| {
            let r = g.routes.first();
            GroupView {
                rp: g
                    .order
                    .group_no
                    .clone()
                    .unwrap_or_else(|| g.order.order_no.clone()),
                route: r.map(|r| text(&r.route)).unwrap_or_default(),
                site: r.map(|r| text(&r.site)).unwrap_or_default(),
                device: r.map(|r| text(&r.device)).unwrap_or_default(),
                components: g
                    .components
                    .iter()
                    .map(|c| {
                        format!(
                            "{} {}{}",
                            text(&c.drug),
                            c.amount.clone().unwrap_or_default(),
                            text(&c.unit)
                        )
                    })
                    .collect(),
                given: g
                    .administrations
                    .iter()
                    .map(|a| {
                        let (status, not_given) = status_label(a.completion_status.as_deref());
                        let start = a.start.as_deref().map(when).unwrap_or_default();
                        let end = a.end.as_deref().filter(|e| Some(*e) != a.start.as_deref());
                        GivenView {
                            time: match end {
                                Some(e) => format!("{start} – {}", when(e)),
                                None => start,
                            },
                            drug: a.drug.as_ref().map(drug).unwrap_or(DrugView {
                                name: String::new(),
                                codes: String::new(),
                            }),
                            amount: format!(
                                "{}{}",
                                a.amount.clone().unwrap_or_default(),
                                text(&a.unit)
                            ),
                            status,
                            not_given,
                            notes: a
                                .notes
                                .iter()
                                .map(|n| n.display())
                                .collect::<Vec<_>>()
                                .join("、"),
                            by: a
                                .administered_by
                                .iter()
                                .map(Person::display)
                                .collect::<Vec<_>>()
                                .join("、"),
                            location: a.location.clone().unwrap_or_default(),
                            recorded: a.recorded_at.as_deref().map(when).unwrap_or_default(),
                            deleted: a.action_code.as_deref() == Some("D"),
                        }
                    })
                    .collect(),
                comments: g.comments.clone(),
            }
        })
        .collect();
    view(&AdministrationView {
        groups,
        comments: record.comments.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ssmix2::DataKind;

    fn html(kind: DataKind, name: &str) -> String {
        let path = format!(
            "{}/../ssmix2/tests/fixtures/{name}.hl7",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).expect("fixture");
        let msg = hl7::Message::parse(&text).expect("parses");
        let record = ssmix2::read_record(kind, &msg).expect("reads");
        let cx = ViewContext { today: "20260320" };
        super::super::clinical_view(&record, &cx)
            .expect("renders")
            .expect("a view")
    }

    #[test]
    fn prescription_view_shows_each_time_modifiers_and_uncertain_spans() {
        let h = html(DataKind::Omp01, "OMP-01-timing");
        // Uneven 4-2-1: each time's dose, never only the minimum.
        assert!(h.contains("4-2-1錠"), "{h}");
        for t in ["朝食後 4錠", "昼食後 2錠", "夕食後 1錠"] {
            assert!(h.contains(t), "{t}");
        }
        assert!(h.contains("不均等"));
        // Codes shown.
        assert!(h.contains("HOT9 110551201"));
        assert!(h.contains("YJ 2456001F1310"));
        assert!(h.contains("JAMISDP01 1013044400000000"));
        // 隔日: the modifier, the rhythm, the real span (13 days).
        assert!(h.contains("＋ 隔日 [99XSU Z001]"));
        assert!(h.contains("2026-03-01 – 2026-03-13"));
        assert!(h.contains("7日 (服用日数 taking days)"));
        // Weekdays.
        assert!(h.contains("月・木"));
        assert!(h.contains("2026-03-02 – 2026-03-26"));
        // As needed with its limit and count.
        assert!(h.contains("＋ １日３回まで"));
        assert!(h.contains("頓用 <span class=\"en\">as needed</span>"));
        assert!(h.contains("10回"));
        // ３日おき: days as sent, flagged, no end date.
        assert!(h.contains("days pattern not certain"));
        assert!(h.contains("span not certain: days as sent"));
        // Topical: site; dispensing; prescriber.
        assert!(h.contains("部位 腰部"));
        assert!(h.contains("<strong>院外</strong>"));
        assert!(h.contains("医師\u{3000}一郎"));
        assert!(h.contains("28枚"));
    }

    #[test]
    fn injection_view_shows_rate_duration_slots_and_start() {
        let h = html(DataKind::Omp02, "OMP-02-infusion");
        assert!(h.contains("注射オーダ"));
        assert!(h.contains("生理食塩液５００ｍＬ"));
        assert!(h.contains("基剤 (base)") && h.contains("添加 (additive)"));
        assert!(h.contains("250 ミリリッター／時間"));
        assert!(h.contains("2時間"));
        assert!(h.contains("09:00・21:00"));
        assert!(h.contains("手術翌日から"));
        assert!(h.contains("２時間かけて"));
        assert!(h.contains("部位 左前腕"));
        assert!(h.contains("<strong>院内</strong>"));
        assert!(h.contains("外科\u{3000}次郎"));
    }

    #[test]
    fn administration_view_shows_refused_and_not_given() {
        let h = html(DataKind::Omp12, "OMP-12-refused");
        assert!(h.contains("2026-03-01 09:05 – 2026-03-01 11:10"));
        assert!(h.contains("実施 (given)"));
        assert!(h.contains("拒否 (refused)"));
        assert!(h.contains("本人拒否"));
        assert!(h.contains("未実施 (not given)"));
        assert!(h.contains("検査のため中止"));
        assert_eq!(h.matches("class=\"not-given\"").count(), 2, "{h}");
    }

    #[test]
    fn the_published_sample_prescription_still_reads() {
        let h = html(DataKind::Omp01, "OMP-01");
        assert!(h.contains("ダーゼン錠（５mg)"));
        assert!(h.contains("2011-07-01 – 2011-07-05"));
        assert!(h.contains("粉砕不可"));
    }
}
