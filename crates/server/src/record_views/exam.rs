//! Exam orders (OMG-01/02/03: radiology, endoscopy, physiology) and reports (OMG-11/12:
//! performed, OMG-13: physiology results such as an ECG): what was asked for, what was done,
//! the report text, the measurements and the study instance UID (the link to the images).

use askama::Template;
use ssmix2::records::{Coded, ExamItem, ExamOrder, ExamReport, Header, Observation};

use super::{coded, person, view, when, ViewContext};
use service::ServiceError;

/// OBR-25 / OBX-11 result status, as a clinician reads it.
pub(super) fn result_status(code: &str) -> String {
    let label = match code {
        "F" => "確定 final",
        "P" => "暫定 preliminary",
        "C" => "訂正 corrected",
        "X" => "取消 cancelled",
        "I" => "検査中 in progress",
        "R" => "未確認 not verified",
        "S" => "一部 partial",
        "O" => "オーダのみ order only",
        "D" => "削除 deleted",
        "" => return String::new(),
        // Anything else is shown as sent, not mapped to a guess.
        other => return format!("{other} (未定義の状態 unknown status)"),
    };
    format!("{code}: {label}")
}

struct ReportText {
    title: String,
    text: String,
    status: String,
}

struct Measurement {
    name: String,
    code: String,
    value: String,
    unit: String,
    range: String,
    flags: String,
    status: String,
}

struct Performed {
    item: String,
    amount: String,
    details: String,
    performers: String,
}

struct ItemView {
    procedure: String,
    procedure_code: String,
    control: String,
    modality: String,
    rows: Vec<(&'static str, String)>,
    reports: Vec<ReportText>,
    measurements: Vec<Measurement>,
    performed: Vec<Performed>,
    comments: Vec<String>,
}

#[derive(Template)]
#[template(path = "records/exam.html")]
struct ExamView {
    title: &'static str,
    items: Vec<ItemView>,
    comments: Vec<String>,
}

fn order_control(c: &str) -> String {
    let label = match c {
        "NW" => "新規 new",
        "XO" => "変更 changed",
        "CA" | "OC" | "CR" => "取消 cancelled",
        "SC" => "状態変更 status changed",
        "PA" => "親オーダ parent",
        "CH" => "子オーダ child",
        "" => return String::new(),
        other => return other.to_owned(),
    };
    format!("{c}: {label}")
}

fn is_text(o: &Observation) -> bool {
    matches!(o.value_type.as_str(), "TX" | "ST" | "FT")
}

fn item_view(item: &ExamItem) -> ItemView {
    let req = item.request.clone().unwrap_or_default();
    let order = item.order.clone().unwrap_or_default();
    let mut rows: Vec<(&'static str, String)> = Vec::new();
    let mut row = |label: &'static str, v: String| {
        if !v.is_empty() {
            rows.push((label, v));
        }
    };
    row("検査日時 (examined)", when(req.observed_at.as_deref()));
    row("依頼日時 (ordered)", when(order.ordered_at.as_deref()));
    row("予定日時 (scheduled)", when(req.scheduled_at.as_deref()));
    row("報告日時 (reported)", when(req.reported_at.as_deref()));
    row(
        "依頼医 (ordering doctor)",
        person(
            order
                .ordering_doctor
                .as_ref()
                .or(req.ordering_doctor.as_ref()),
        ),
    );
    row("診療科 (department)", coded(order.department.as_ref()));
    row(
        "部位 (body site)",
        req.body_site.clone().unwrap_or_default(),
    );
    row(
        "結果状態 (result status)",
        result_status(req.result_status.as_deref().unwrap_or_default()),
    );
    row(
        "検査理由 (reason)",
        req.reasons
            .iter()
            .map(|c| c.display().to_owned())
            .collect::<Vec<_>>()
            .join("、"),
    );
    row(
        "臨床情報 (clinical information)",
        req.clinical_info.clone().unwrap_or_default(),
    );
    row(
        "判読医 (interpreter)",
        req.interpreter.clone().unwrap_or_default(),
    );
    row(
        "技師 (technician)",
        req.technician.clone().unwrap_or_default(),
    );
    row("オーダ番号 (order number)", order.order_no.clone());
    row(
        "親オーダ番号 (parent order)",
        order
            .parent_order_no
            .clone()
            .or(req.parent_order_no.clone())
            .unwrap_or_default(),
    );
    for study in &item.imaging {
        row("受付番号 (accession number)", study.accession_no.clone());
        row(
            "Study Instance UID",
            study.study_instance_uid.clone().unwrap_or_default(),
        );
    }
    let reports = item
        .observations
        .iter()
        .filter(|o| is_text(o))
        .map(|o| ReportText {
            title: coded(o.code.as_ref()),
            text: if o.value_deleted {
                "（削除されました deleted by the sender）".into()
            } else {
                o.text()
            },
            status: result_status(o.status.as_deref().unwrap_or_default()),
        })
        .collect();
    let measurements = item
        .observations
        .iter()
        .filter(|o| !is_text(o))
        .map(|o| Measurement {
            name: o
                .code
                .as_ref()
                .map(|c| c.display().to_owned())
                .unwrap_or_default(),
            code: o.code.as_ref().map(code_text).unwrap_or_default(),
            value: if o.coded_values.is_empty() {
                o.values.join(" / ")
            } else {
                o.coded_values
                    .iter()
                    .map(|c| c.display().to_owned())
                    .collect::<Vec<_>>()
                    .join(" / ")
            },
            unit: o.unit_text().to_owned(),
            range: o.reference_range.clone().unwrap_or_default(),
            flags: o.abnormal_flags.join(" "),
            status: result_status(o.status.as_deref().unwrap_or_default()),
        })
        .collect();
    let performed = item
        .performed
        .iter()
        .map(|p| Performed {
            item: coded(p.item.as_ref()),
            amount: format!(
                "{} {}",
                p.amount.clone().unwrap_or_default(),
                p.unit
                    .as_ref()
                    .map(|u| u.display().to_owned())
                    .unwrap_or_default()
            )
            .trim()
            .to_owned(),
            details: p.details.join("、"),
            performers: p
                .performers
                .iter()
                .map(|x| person(Some(x)))
                .collect::<Vec<_>>()
                .join("、"),
        })
        .collect();
    ItemView {
        procedure: item
            .procedure()
            .map(|c| c.display().to_owned())
            .unwrap_or_else(|| "（検査名なし no procedure sent）".into()),
        procedure_code: item.procedure().map(code_text).unwrap_or_default(),
        control: order_control(&order.control),
        modality: item.modality().unwrap_or_default().to_owned(),
        rows,
        reports,
        measurements,
        performed,
        comments: item.comments.clone(),
    }
}

/// `code (system)` and the local code beside it, as sent.
fn code_text(c: &Coded) -> String {
    let one = |code: &str, system: &str| match (code.is_empty(), system.is_empty()) {
        (true, _) => String::new(),
        (false, true) => code.to_owned(),
        (false, false) => format!("{code} ({system})"),
    };
    [one(&c.code, &c.system), one(&c.alt_code, &c.alt_system)]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" / ")
}

pub(super) fn order(
    _header: &Header,
    record: &ExamOrder,
    _cx: &ViewContext<'_>,
) -> Result<Option<String>, ServiceError> {
    view(&ExamView {
        title: "検査オーダ (exam order)",
        items: record.items.iter().map(item_view).collect(),
        comments: record.comments.clone(),
    })
}

pub(super) fn report(
    _header: &Header,
    record: &ExamReport,
    _cx: &ViewContext<'_>,
) -> Result<Option<String>, ServiceError> {
    view(&ExamView {
        title: "検査実施・結果 (exam performed / result)",
        items: record.items.iter().map(item_view).collect(),
        comments: record.comments.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::super::tests::{fixture_view, html_of, record_of};

    #[test]
    fn performed_ultrasound_shows_procedure_study_and_performer() {
        let html = fixture_view("OMG-11");
        assert!(html.contains("経皮的超音波検査"), "{html}");
        assert!(html.contains("胎児.経皮的超音波検査"));
        assert!(html.contains(">US<"), "modality: {html}");
        assert!(
            html.contains("1.2.392.1114.20045.43233.5.300001"),
            "study UID"
        );
        assert!(html.contains("A201112200030001"), "accession number");
        assert!(html.contains("助産師　愛子 (D98765)"), "performer: {html}");
        assert!(html.contains("PA: 親オーダ parent"));
        assert!(html.contains("F: 確定 final"));
        assert!(html.contains("医師　太郎 (D12345)"));
    }

    #[test]
    fn ecg_result_shows_impression_and_measurements_with_units() {
        let html = fixture_view("OMG-13");
        assert!(html.contains("標準１２誘導心電図"), "{html}");
        assert!(html.contains("心筋虚血疑い"), "impression text");
        // Each measurement with its own unit, never a bare number.
        for (name, value, unit) in [("心拍数", "67", "bpm"), ("PQ 時間", "154", "msec")] {
            let at = html.find(name).unwrap_or_else(|| panic!("{name}: {html}"));
            let row = &html[at..at + html[at..].find("</tr>").expect("row end")];
            assert!(row.contains(value) && row.contains(unit), "{row}");
        }
    }

    #[test]
    fn unknown_status_and_deleted_value_are_shown_as_sent() {
        let r = record_of(
            "OMG-13",
            "MSH|^~\\&|HIS|SEND|GW|RCV|20240401||ORU^R01^ORU_R01|1|P|2.5\n\
             PID|0001||123^^^^PI||患者^太郎\n\
             OBR|1|ORD1||9A110^心電図^JC10|||20240401||||||||||||||||||Z\n\
             OBX|1|TX|9A100&IMP^所見^JC10||\"\"||||||F\n\
             OBX|2|NM|32769^心拍数^99MFR||72|bpm|||||Q",
        );
        let html = html_of(&r);
        assert!(html.contains("Z (未定義の状態 unknown status)"), "{html}");
        assert!(html.contains("Q (未定義の状態 unknown status)"), "{html}");
        assert!(html.contains("削除されました"), "{html}");
        assert!(html.contains("72") && html.contains("bpm"));
    }
}
