//! One-line previews of timeline items (issue 14): what a clinician scans a timeline for —
//! the drugs of a prescription, the abnormal results of a lab report, the diagnoses, the
//! allergens, the ward of an admission, the examination, a document's title — read from the
//! record's own bytes when the page is built (a page holds at most a few dozen records).
//! Pure: bytes in, text out. A preview shows what was sent (names, values with their units
//! and flags), never a computed value; a record that cannot be read has none.

use ssmix2::records::{read_record, Body, Coded, Observation};
use ssmix2::DataKind;

/// Longest preview, in characters: one line on a phone.
pub const PREVIEW_CHARS: usize = 80;
/// At most this many names or results, then "他N件".
const MAX_PARTS: usize = 4;

/// The preview of a stored file of `kind` (`OMP-01`, or an extended-storage kind folder),
/// `None` when nothing can be said with certainty.
pub fn preview(kind: &str, extended: bool, bytes: &[u8]) -> Option<String> {
    if extended && cda::looks_like_cda(bytes) {
        let d = cda::read(bytes);
        let title = [d.title.as_str(), d.code_name.as_str()]
            .into_iter()
            .find(|t| !t.trim().is_empty())?;
        return Some(clip(title.trim()));
    }
    let decoded = hl7::decode(bytes).ok()?;
    let msg = hl7::Message::parse(decoded.text).ok()?;
    let Some(kind) = DataKind::from_code(kind) else {
        // Extended-storage HL7 (vitals …): its observations as sent.
        let obs: Vec<String> = msg
            .segments()
            .filter(|s| s.name() == "OBX")
            .filter_map(|s| {
                let name = Coded::from_field(s.field(3))?.display().to_owned();
                let value = s.field(5).raw().to_owned();
                let unit = Coded::from_field(s.field(6))
                    .map(|u| u.display().to_owned())
                    .unwrap_or_default();
                Some(join_value(&name, &value, &unit, ""))
            })
            .collect();
        return list(obs);
    };
    let record = read_record(kind, &msg).ok()?;
    let text = match &record.body {
        // An injection's drugs are its RXC components (RXE-2 then names the procedure,
        // 点滴 …); a prescription's is RXE-2.
        Body::MedicationOrder(m) => list(
            m.items
                .iter()
                .flat_map(|i| {
                    let components: Vec<&Coded> = i
                        .components
                        .iter()
                        .filter_map(|c| c.drug.as_ref())
                        .collect();
                    if components.is_empty() {
                        i.drug.iter().collect()
                    } else {
                        components
                    }
                })
                .map(|c| c.display().to_owned())
                .collect(),
        ),
        Body::MedicationAdministration(m) => list(
            m.groups
                .iter()
                .flat_map(|g| {
                    g.administrations
                        .iter()
                        .filter_map(|a| a.drug.as_ref())
                        .chain(g.components.iter().filter_map(|c| c.drug.as_ref()))
                })
                .map(|c| c.display().to_owned())
                .collect(),
        ),
        Body::LabResult(l) => {
            let results: Vec<&Observation> = l
                .specimens
                .iter()
                .flat_map(|s| s.items.iter().flat_map(|i| &i.results))
                .collect();
            let abnormal: Vec<String> = results
                .iter()
                .filter(|o| o.abnormal_flags.iter().any(|f| !f.is_empty() && f != "N"))
                .map(|o| observation(o))
                .collect();
            if abnormal.is_empty() {
                (!results.is_empty())
                    .then(|| format!("{}項目 異常値なし (no abnormal flag)", results.len()))
            } else {
                list(abnormal)
            }
        }
        Body::LabOrder(l) => list(
            l.items()
                .flat_map(|i| {
                    i.request
                        .iter()
                        .filter_map(|r| r.service.as_ref())
                        .chain(i.tests.iter().filter_map(|t| t.code.as_ref()))
                })
                .map(|c| c.display().to_owned())
                .collect(),
        ),
        Body::Diagnoses(d) => list(
            d.problems
                .iter()
                .map(|p| {
                    let mut n = p.name.clone();
                    if p.action == "DE" {
                        n.push_str("（削除）");
                    }
                    n
                })
                .collect(),
        ),
        Body::Allergies(a) => list(
            a.entries
                .iter()
                .filter_map(|e| e.allergen.as_ref())
                .map(|c| c.display().to_owned())
                .collect(),
        ),
        Body::Encounter(e) => {
            let place = e
                .location
                .as_ref()
                .map(|l| {
                    // PV1-3 is ward / room / bed for inpatients; for an outpatient it is the
                    // clinic, named as sent.
                    let labels = if e.patient_class.as_deref() == Some("I") {
                        ["病棟", "病室", "ベッド"]
                    } else {
                        ["", "", ""]
                    };
                    [
                        (labels[0], &l.point_of_care),
                        (labels[1], &l.room),
                        (labels[2], &l.bed),
                    ]
                    .into_iter()
                    .filter(|(_, p)| !p.is_empty())
                    .map(|(label, p)| format!("{label}{p}"))
                    .collect::<Vec<_>>()
                    .join(" ")
                })
                .unwrap_or_default();
            let dept = ssmix2::departments::department_label(
                e.department.as_deref().unwrap_or_default(),
                e.department_text.as_deref().unwrap_or_default(),
            );
            list(
                [dept, place]
                    .into_iter()
                    .filter(|s| !s.trim().is_empty())
                    .collect(),
            )
        }
        Body::ExamOrder(x) => list(exam_names(&x.items)),
        Body::ExamReport(x) => {
            let mut parts = exam_names(&x.items);
            if let Some(finding) = x
                .items
                .iter()
                .map(|i| i.findings_text())
                .find(|t| !t.trim().is_empty())
            {
                parts.push(finding.lines().next().unwrap_or_default().to_owned());
            }
            list(parts)
        }
        Body::Meal(m) => list(
            m.orders
                .iter()
                .flat_map(|o| &o.diets)
                .flat_map(|d| {
                    d.codes
                        .iter()
                        .map(|c| c.display().to_owned())
                        .chain(d.texts.clone())
                })
                .collect(),
        ),
        Body::Patient(_) | Body::Attending(_) => None,
    };
    let text = text.filter(|t| !t.trim().is_empty());
    // A cancel message names what it cancels: never read as the order or event itself.
    if record.header.cancels {
        return Some(match text {
            Some(t) => clip(&format!("取消 (cancel): {t}")),
            None => "取消 (cancel)".into(),
        });
    }
    text
}

fn exam_names(items: &[ssmix2::records::ExamItem]) -> Vec<String> {
    items
        .iter()
        .filter_map(|i| i.procedure())
        .map(|c| c.display().to_owned())
        .collect()
}

/// `CRP 5.2 mg/dL H`: name, every value as sent, unit, flags.
fn observation(o: &Observation) -> String {
    let name = o.code.as_ref().map(|c| c.display()).unwrap_or_default();
    let unit = o.unit.as_ref().map(|u| u.display()).unwrap_or_default();
    let flags = o
        .abnormal_flags
        .iter()
        .filter(|f| !f.is_empty())
        .cloned()
        .collect::<Vec<_>>()
        .join(",");
    join_value(name, &o.text(), unit, &flags)
}

fn join_value(name: &str, value: &str, unit: &str, flags: &str) -> String {
    [name, value, unit, flags]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Distinct non-empty parts joined with `、`, at most [`MAX_PARTS`], then `他N件`.
fn list(parts: Vec<String>) -> Option<String> {
    let mut seen: Vec<String> = Vec::new();
    for p in parts {
        let p = p.trim().to_owned();
        if !p.is_empty() && !seen.contains(&p) {
            seen.push(p);
        }
    }
    if seen.is_empty() {
        return None;
    }
    let rest = seen.len().saturating_sub(MAX_PARTS);
    let mut text = seen
        .into_iter()
        .take(MAX_PARTS)
        .collect::<Vec<_>>()
        .join("、");
    if rest > 0 {
        text.push_str(&format!(" 他{rest}件"));
    }
    Some(clip(&text))
}

/// At most [`PREVIEW_CHARS`] characters, an ellipsis when cut.
fn clip(text: &str) -> String {
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.chars().count() <= PREVIEW_CHARS {
        text
    } else {
        let mut out: String = text.chars().take(PREVIEW_CHARS - 1).collect();
        out.push('…');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(kind: &str) -> Vec<u8> {
        let path = format!(
            "{}/../ssmix2/tests/fixtures/{kind}.hl7",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(path)
            .expect("fixture")
            .replace('\n', "\r");
        hl7::encode_iso2022jp(&text).expect("encode")
    }

    fn of(kind: &str) -> String {
        preview(kind, false, &fixture(kind)).unwrap_or_else(|| panic!("{kind}: no preview"))
    }

    #[test]
    fn prescriptions_name_their_drugs() {
        let p = of("OMP-01");
        assert!(!p.is_empty() && !p.contains("OMP"), "{p}");
        let timing = preview("OMP-01", false, &fixture("OMP-01-timing")).expect("timing");
        // Six Rp lines: four names, then the count of the others.
        assert!(timing.contains("プレドニゾロン"), "{timing}");
        assert!(timing.ends_with(" 他2件"), "{timing}");
        assert!(timing.chars().count() <= PREVIEW_CHARS);
    }

    #[test]
    fn lab_results_show_the_abnormal_ones_as_sent() {
        let p = of("OML-11");
        // Every part carries its value as sent, with its flag when abnormal.
        assert!(
            p.contains(" H") || p.contains(" L") || p.contains("異常値なし"),
            "{p}"
        );
    }

    #[test]
    fn every_kind_with_content_has_a_line_and_a_cancel_says_so() {
        for kind in [
            "ADT-61", "PPR-01", "OMP-02", "OMP-11", "OMP-12", "OML-01", "OMG-01", "OMG-11",
            "ADT-22",
        ] {
            of(kind);
        }
        let ca = String::from_utf8(fixture("OMP-01").clone()).unwrap_or_default();
        let ca = ca.replace("ORC|NW|", "ORC|CA|");
        assert_eq!(
            preview("OMP-01", false, ca.as_bytes()).as_deref(),
            Some("取消 (cancel): ダーゼン錠（５mg)、アレビアチン１０倍散")
        );
        assert_eq!(preview("OMP-01", false, b"not hl7"), None);
    }

    #[test]
    fn documents_by_title_and_extended_observations_as_sent() {
        let cda = "<?xml version=\"1.0\"?><ClinicalDocument xmlns=\"urn:hl7-org:v3\"><code code=\"18842-5\" displayName=\"退院時サマリー\"/><title>退院時サマリー（内科）</title></ClinicalDocument>";
        assert_eq!(
            preview("18842-5^退院時サマリー^LN", true, cda.as_bytes()).as_deref(),
            Some("退院時サマリー（内科）")
        );
        let vitals = "MSH|^~\\&|A|B|C|D|20240401||ORU^R01^ORU_R01|1|P|2.5\rPID|||P1^^^^PI\rOBX|1|NM|8310-5^体温^LN||36.8|Cel^℃^UCUM|||||F\rOBX|2|NM|8867-4^脈拍数^LN||72|/min^回／分^UCUM|||||F\r";
        assert_eq!(
            preview("L-OBSERVATIONS", true, vitals.as_bytes()).as_deref(),
            Some("体温 36.8 ℃、脈拍数 72 回／分")
        );
    }

    #[test]
    fn injections_by_their_components_and_stays_by_department_and_ward() {
        assert_eq!(
            preview("OMP-02", false, &fixture("OMP-02-infusion")).as_deref(),
            Some("生理食塩液５００ｍＬ、セファゾリンナトリウム注射用１ｇ")
        );
        let stay = of("ADT-22");
        assert!(
            stay.contains("内科") && stay.contains("病棟32 病室302 ベッド1"),
            "{stay}"
        );
        assert_eq!(of("OML-11"), "総蛋白 8.9 g/dL H");
        let visit = of("ADT-12");
        assert!(
            !visit.contains("病棟"),
            "an outpatient's place is no ward: {visit}"
        );
        assert_eq!(of("PPR-01"), "胃炎、左膝の違和感、高血圧症（削除）");
    }

    #[test]
    fn long_lines_are_clipped() {
        let long = "あ".repeat(200);
        let c = clip(&long);
        assert_eq!(c.chars().count(), PREVIEW_CHARS);
        assert!(c.ends_with('…'));
    }
}
