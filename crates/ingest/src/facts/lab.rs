//! Lab results (OML-11): one fact per OBX, with its specimen, panel, comments and — in a
//! culture — the organism it belongs to (OBX-4 sub-ID, see `ssmix2::records::micro`).

use hl7::{Message, Segment};
use ssmix2::records::micro::{self, MicroRow};
use store::{Fact, LabDetail, LabFact};

use super::{get, pick, text_or_code};

/// One OBX read, with what the culture rule needs about it.
struct Row {
    fact: LabFact,
    jlac10: bool,
    value_system: String,
}

/// The OBR group being read.
#[derive(Default)]
struct Group {
    index: u32,
    section: String,
    /// OBR-4 text (its codes are on the record page, read from the message).
    panel: String,
    /// OBR-4 is a JLAC10 code of the microbiology class.
    panel_jlac10: bool,
    /// OBR-25.
    report_status: String,
    /// OBR-26 components 2 and 3: the organism (sub-ID, name) reported in another group
    /// that this susceptibility group belongs to.
    parent_sub_id: String,
    parent_value: String,
    rows: Vec<Row>,
}

pub(crate) fn lab_results(msg: &Message) -> Vec<Fact> {
    let mut out = Vec::new();
    // Fallbacks for the observation time, most specific first: OBX-14, SPM-17, OBR-7.
    let mut collected = String::new();
    let mut requested = String::new();
    let mut specimen = String::new();
    let mut group: Option<Group> = None;
    let mut groups = 0u32;
    // Organisms of the message's cultures so far (sub-ID group, name): a susceptibility
    // group of its own (OBR-26) names its organism by sub-ID only.
    let mut organisms: Vec<(String, String)> = Vec::new();
    for seg in msg.segments() {
        match seg.name() {
            "SPM" => {
                collected = get(&seg, 17, 1);
                specimen = text_or_code(&seg, 4);
            }
            "OBR" => {
                finish(group.take(), &mut organisms, &mut out);
                requested = get(&seg, 7, 1);
                let (c1, s1, c4, s4) = (
                    get(&seg, 4, 1),
                    get(&seg, 4, 3),
                    get(&seg, 4, 4),
                    get(&seg, 4, 6),
                );
                let jlac10 = if s1 == "JC10" {
                    c1.clone()
                } else if s4 == "JC10" {
                    c4
                } else {
                    String::new()
                };
                group = Some(Group {
                    index: groups,
                    section: get(&seg, 24, 1).trim().to_owned(),
                    panel_jlac10: jlac10.starts_with('6'),
                    panel: text_or_code(&seg, 4),
                    report_status: get(&seg, 25, 1),
                    parent_sub_id: get(&seg, 26, 2),
                    parent_value: get(&seg, 26, 3),
                    rows: Vec::new(),
                });
                groups += 1;
            }
            "OBX" => {
                let g = group.get_or_insert_with(|| {
                    groups += 1;
                    Group {
                        index: groups - 1,
                        ..Default::default()
                    }
                });
                let mut row = obx(&seg, msg.delimiters(), &collected, &requested);
                row.fact.detail.group = g.index;
                row.fact.detail.panel = g.panel.clone();
                row.fact.detail.report_status = g.report_status.clone();
                row.fact.detail.specimen = specimen.clone();
                g.rows.push(row);
            }
            "NTE" => {
                if let Some(row) = group.as_mut().and_then(|g| g.rows.last_mut()) {
                    row.fact.detail.comments.push(comment(&seg, msg));
                }
            }
            _ => {}
        }
    }
    finish(group, &mut organisms, &mut out);
    out
}

/// NTE-3, repetitions as lines.
fn comment(seg: &Segment<'_>, msg: &Message) -> String {
    let d = msg.delimiters();
    seg.field(3)
        .repetitions()
        .map(|r| hl7::unescape(r.raw(), d).into_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

fn obx(seg: &Segment<'_>, d: &hl7::Delimiters, collected: &str, requested: &str) -> Row {
    let (c1, t1, s1) = (get(seg, 3, 1), get(seg, 3, 2), get(seg, 3, 3));
    let (c2, t2, s2) = (get(seg, 3, 4), get(seg, 3, 5), get(seg, 3, 6));
    let (code, code_system, name, local_code) = if s1 == "JC10" && !c1.is_empty() {
        (c1, s1, pick(t1, &t2), c2)
    } else if s2 == "JC10" && !c2.is_empty() {
        (c2, s2, pick(t2, &t1), c1)
    } else {
        (c1.clone(), s1, pick(t1, &t2), c1)
    };
    let value_type = get(seg, 2, 1);
    let coded = matches!(value_type.as_str(), "CWE" | "CE" | "CNE");
    let value = if coded {
        text_or_code(seg, 5)
    } else {
        // The whole repetition: a structured numeric (`<=^4`) and free text may hold `^`.
        let v = seg.field(5).first().raw();
        if v == "\"\"" {
            String::new()
        } else {
            micro::value_text(&value_type, &hl7::unescape(v, d))
        }
    };
    let mut observed_at = get(seg, 14, 1);
    if observed_at.is_empty() {
        observed_at = if collected.is_empty() {
            requested.to_owned()
        } else {
            collected.to_owned()
        };
    }
    let jlac10 = code_system == "JC10";
    Row {
        value_system: if coded { get(seg, 5, 3) } else { String::new() },
        jlac10,
        fact: LabFact {
            code,
            code_system,
            local_code,
            name,
            value_type,
            value,
            unit: text_or_code(seg, 6),
            reference_range: get(seg, 7, 1),
            abnormal_flag: get(seg, 8, 1),
            status: get(seg, 11, 1),
            observed_at,
            detail: LabDetail {
                sub_id: get(seg, 4, 1),
                ..Default::default()
            },
        },
    }
}

/// Close a result group: when it is microbiology, give each row its culture role and the
/// organism it belongs to (`organisms`: those of the message so far, added to).
fn finish(group: Option<Group>, organisms: &mut Vec<(String, String)>, out: &mut Vec<Fact>) {
    let Some(mut g) = group else { return };
    let rows: Vec<MicroRow<'_>> = g
        .rows
        .iter()
        .map(|r| MicroRow {
            sub_id: &r.fact.detail.sub_id,
            value_type: &r.fact.value_type,
            jlac10: r.jlac10.then_some(r.fact.code.as_str()),
            value_system: &r.value_system,
            value: &r.fact.value,
            unit: &r.fact.unit,
            flag: &r.fact.abnormal_flag,
        })
        .collect();
    let panel = g.panel_jlac10.then_some("6");
    if micro::is_microbiology(&g.section, panel, &rows) {
        let parent = Some(g.parent_sub_id.trim()).filter(|p| !p.is_empty());
        let roles = micro::roles_under(&rows, parent);
        let parent_key = parent.map(|p| micro::organism_key(p).to_owned());
        if let Some(key) = &parent_key {
            if !organisms.iter().any(|(k, _)| k == key) {
                organisms.push((key.clone(), g.parent_value.clone()));
            }
        }
        for (r, role) in g.rows.iter().zip(&roles) {
            if *role == micro::CultureRole::Organism {
                let key = micro::organism_key(&r.fact.detail.sub_id).to_owned();
                organisms.retain(|(k, _)| *k != key);
                organisms.push((key, r.fact.value.clone()));
            }
        }
        for (r, role) in g.rows.iter_mut().zip(roles) {
            let d = &mut r.fact.detail;
            d.culture_role = role.as_str().to_owned();
            if role != micro::CultureRole::Specimen {
                d.organism_key = if d.sub_id.trim().is_empty() {
                    parent_key.clone().unwrap_or_default()
                } else {
                    micro::organism_key(&d.sub_id).to_owned()
                };
                d.organism = organisms
                    .iter()
                    .find(|(k, _)| *k == d.organism_key)
                    .map(|(_, n)| n.clone())
                    .unwrap_or_default();
            }
        }
    }
    out.extend(g.rows.into_iter().map(|r| Fact::Lab(r.fact)));
}

#[cfg(test)]
mod tests {
    use super::super::tests::fixture;
    use ssmix2::DataKind;
    use store::{Fact, LabDetail, LabFact};

    fn labs(kind: DataKind) -> Vec<LabFact> {
        fixture(kind)
            .into_iter()
            .map(|f| match f.fact {
                Fact::Lab(l) => l,
                other => panic!("not a lab result: {other:?}"),
            })
            .collect()
    }

    #[test]
    fn lab_results_one_per_obx() {
        let l = labs(DataKind::Oml11);
        assert_eq!(l.len(), 3);
        assert_eq!(
            l[1],
            LabFact {
                code: "3A010000002327101".into(),
                code_system: "JC10".into(),
                local_code: "10222".into(),
                name: "総蛋白".into(),
                value_type: "NM".into(),
                value: "8.9".into(),
                unit: "g/dL".into(),
                reference_range: "6.7-8.3".into(),
                abnormal_flag: "H".into(),
                status: "F".into(),
                observed_at: "201112191500".into(),
                detail: LabDetail {
                    group: 0,
                    panel: "生化学的検査".into(),
                    specimen: "血清".into(),
                    comments: vec!["再検済み".into()],
                    ..Default::default()
                },
            }
        );
        assert!(l[1].is_jlac10());
        assert_eq!(
            (l[0].code.as_str(), l[0].name.as_str()),
            ("3A016000002327102", "A/G比")
        );
        assert_eq!((l[0].value.as_str(), l[0].unit.as_str()), ("1.7", ""));
        assert_eq!(l[0].reference_range, "1.2-2.0");
        assert_eq!(l[0].local_code, "");
        // Escapes are decoded (\T\ is '&').
        assert_eq!(l[2].value, "陰性(&0.05)");
        assert_eq!(l[2].value_type, "ST");
        let lines: Vec<u32> = fixture(DataKind::Oml11).iter().map(|f| f.line).collect();
        assert_eq!(lines, [0, 1, 2]);
    }

    fn lab_fixture(name: &str) -> Vec<LabFact> {
        let path = format!(
            "{}/../ssmix2/tests/fixtures/lab/{name}.hl7",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).expect("fixture");
        super::super::tests::facts_of(DataKind::Oml11, &text)
            .into_iter()
            .map(|f| match f {
                Fact::Lab(l) => l,
                other => panic!("not a lab result: {other:?}"),
            })
            .collect()
    }

    #[test]
    fn culture_rows_keep_their_organism() {
        let l = lab_fixture("OML-11-culture");
        assert_eq!(l.len(), 11, "one fact per OBX, both organisms kept");
        let d: Vec<(&str, &str, &str, &str)> = l
            .iter()
            .map(|f| {
                (
                    f.detail.sub_id.as_str(),
                    f.detail.culture_role.as_str(),
                    f.detail.organism_key.as_str(),
                    f.detail.organism.as_str(),
                )
            })
            .collect();
        assert_eq!(
            d,
            vec![
                ("", "specimen", "", ""),
                ("1", "organism", "1", "Escherichia coli"),
                ("1", "finding", "1", "Escherichia coli"),
                ("1", "susceptibility", "1", "Escherichia coli"),
                ("1", "susceptibility", "1", "Escherichia coli"),
                ("1", "susceptibility", "1", "Escherichia coli"),
                ("2", "organism", "2", "Enterococcus faecalis"),
                ("2", "finding", "2", "Enterococcus faecalis"),
                ("2.1", "susceptibility", "2", "Enterococcus faecalis"),
                ("2.2", "susceptibility", "2", "Enterococcus faecalis"),
                ("2.2", "susceptibility", "2", "Enterococcus faecalis"),
            ]
        );
        let abpc = &l[3];
        assert_eq!(
            (abpc.name.as_str(), abpc.value.as_str(), abpc.unit.as_str()),
            ("ABPC", ">16", "μg/mL"),
            "SN joined"
        );
        assert_eq!(
            (abpc.abnormal_flag.as_str(), abpc.status.as_str()),
            ("R", "C")
        );
        assert_eq!(abpc.detail.comments, vec!["再判定により訂正".to_owned()]);
        assert_eq!(l[2].value, "10^5");
        assert_eq!(l[1].value, "Escherichia coli");
        for f in &l {
            assert_eq!(f.detail.specimen, "尿");
            assert_eq!(f.detail.panel, "一般細菌培養同定");
            assert_eq!(f.detail.report_status, "C");
            assert_eq!(f.detail.group, 0);
            assert!(f.detail.in_culture());
        }
    }

    #[test]
    fn repeated_results_of_one_test_are_all_kept_with_their_details() {
        let l = lab_fixture("OML-11-repeat");
        let glu: Vec<(&str, &str, &str)> = l
            .iter()
            .filter(|f| f.code == "3D010000001926101")
            .map(|f| {
                (
                    f.detail.sub_id.as_str(),
                    f.value.as_str(),
                    f.observed_at.as_str(),
                )
            })
            .collect();
        assert_eq!(
            glu,
            vec![
                ("1", "98", "202603090800"),
                ("2", "186", "202603090830"),
                ("3", "152", "202603090900"),
            ]
        );
        assert!(
            l.iter().all(|f| !f.detail.in_culture()),
            "a GTT is not a culture"
        );
        assert_eq!(l[1].detail.comments, vec!["溶血あり".to_owned()]);
        assert_eq!(l[0].detail.panel, "75gOGTT");
        assert_eq!(l[0].detail.specimen, "血漿");
        assert_eq!(l[0].status, "P");
        assert_eq!(l[0].detail.report_status, "P");
    }

    #[test]
    fn a_susceptibility_group_of_its_own_keeps_its_organism() {
        let l = lab_fixture("OML-11-culture-parent");
        let d: Vec<(&str, &str, &str, u32)> = l
            .iter()
            .map(|f| {
                (
                    f.detail.culture_role.as_str(),
                    f.detail.organism_key.as_str(),
                    f.detail.organism.as_str(),
                    f.detail.group,
                )
            })
            .collect();
        let mrsa = "Staphylococcus aureus (MRSA)";
        assert_eq!(
            d,
            vec![
                ("organism", "1", mrsa, 0),
                ("finding", "1", mrsa, 0),
                ("susceptibility", "1", mrsa, 1),
                ("susceptibility", "1", mrsa, 1),
            ]
        );
        assert_eq!((l[2].name.as_str(), l[2].value.as_str()), ("MPIPC", ">2"));
    }
}
