//! An extended-storage vitals message (ORU^R01 / R30 …) as a clinician reads it: the
//! measurement times × vital signs table (as on the vitals tab) and, below it, every value
//! as sent with its code, coding system, unit and status.

use std::collections::BTreeMap;

use askama::Template;
use model::FacilityCode;
use service::{ServiceError, VitalsGrid};

use super::view;
use crate::html::show_time;
use crate::vitals_views::{grid_view, status_label, GridView};

struct SentRow {
    time: String,
    name: String,
    code: String,
    value: String,
    unit: String,
    status: String,
    problem: &'static str,
    comments: String,
}

#[derive(Template)]
#[template(path = "records/vitals.html")]
struct VitalsRecordView {
    g: GridView,
    sent: Vec<SentRow>,
}

/// The view of one vitals record of `source` (its name in `source_name`).
pub fn vitals(
    grid: &VitalsGrid,
    source: &FacilityCode,
    source_name: &str,
) -> Result<Option<String>, ServiceError> {
    let names: BTreeMap<FacilityCode, String> = [(source.clone(), source_name.to_owned())].into();
    let mut sent: Vec<SentRow> = Vec::new();
    // Oldest first, in column order within a time. A split `120/80` is one OBX: listed
    // once, as sent.
    let mut seen: Vec<(String, String, String)> = Vec::new();
    for r in grid.rows.iter().rev() {
        for v in r.cells.iter().flatten() {
            let key = (v.observed_at.clone(), v.code.clone(), v.sent.clone());
            if v.sent != v.value {
                if seen.contains(&key) {
                    continue;
                }
                seen.push(key);
            }
            sent.push(SentRow {
                time: show_time(&v.observed_at),
                name: v.name.clone(),
                code: [v.code.as_str(), v.code_system.as_str()]
                    .iter()
                    .filter(|s| !s.is_empty())
                    .copied()
                    .collect::<Vec<_>>()
                    .join(" "),
                value: v.sent.clone(),
                unit: v.unit.clone(),
                status: match status_label(&v.status) {
                    "" => v.status.clone(),
                    l => l.to_owned(),
                },
                problem: v.problem.map(|p| p.label()).unwrap_or(""),
                comments: v.comments.join(" / "),
            });
        }
    }
    view(&VitalsRecordView {
        g: grid_view(grid, &names, "record-vitals"),
        sent,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(name: &str) -> VitalsGrid {
        let path = format!(
            "{}/../ssmix2/tests/fixtures/vitals/{name}.hl7",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(path)
            .expect("fixture")
            .replace('\n', "\r");
        let msg = hl7::Message::parse(&text).expect("parses");
        let facts: Vec<store::LabFact> = ingest::facts::extract_extended(&msg)
            .into_iter()
            .filter_map(|f| match f.fact {
                store::Fact::Lab(l) => Some(l),
                _ => None,
            })
            .collect();
        service::vitals::record_grid(&FacilityCode::parse("0411111111").expect("code"), 3, &facts)
    }

    #[test]
    fn a_vitals_message_reads_as_a_table_with_its_codes() {
        let html = vitals(
            &grid("ORU-R01-local"),
            &FacilityCode::parse("0411111111").expect("c"),
            "登呂病院",
        )
        .expect("renders")
        .expect("view");
        assert!(html.contains("バイタルサイン"), "{html}");
        assert!(html.contains("体温") && html.contains("収縮期血圧"));
        // 132/84 in both columns, saying what was sent; listed once as sent.
        assert!(
            html.contains("送信値 <span class=\"en\">sent</span> 132/84"),
            "{html}"
        );
        assert_eq!(html.matches("<td>132/84</td>").count(), 1, "{html}");
        // Codes and systems as sent.
        assert!(html.contains("9N006000000000001 JC10"));
        assert!(html.contains("NRS 99ZL02") && html.contains("疼痛スケール"));
        // Unreadable values flagged, as sent.
        assert!(html.contains("測定中") && html.contains("not a number"));
        assert!(html.contains("120/") && html.contains("cannot be read as systolic/diastolic"));
        assert!(html.contains("登呂病院"));
        assert!(html.contains("2026-03-11 09:35"));
    }

    #[test]
    fn statuses_and_not_measured_are_said() {
        let html = vitals(
            &grid("ORU-R30-vitals"),
            &FacilityCode::parse("0411111111").expect("c"),
            "登呂病院",
        )
        .expect("renders")
        .expect("view");
        assert!(html.contains("測定不能 (not obtained)"), "{html}");
        assert!(html.contains("訂正 (corrected)"));
        assert!(html.contains("暫定 (preliminary)"));
        assert!(html.contains("再測定"));
        assert!(html.contains("8310-5 LN"));
        assert!(html.contains("<svg"), "trend charts");
    }
}
