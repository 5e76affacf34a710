//! Microbiology (細菌検査) inside a lab result: a culture read as organisms, each with its
//! quantity and its susceptibility table.
//!
//! How senders structure it (JAHIS 臨床検査データ交換規約, HL7 v2.5 chapter 7): one OBR per
//! culture; OBX without a sub-ID are about the specimen as a whole (smear / Gram stain,
//! "no growth"); every OBX about one isolated organism carries the same **OBX-4 sub-ID**
//! (`1`, `2` …; some senders write `1.1`, `1.2` for the rows of organism 1): the organism's
//! name (coded, JANIS or local organism code), its quantity (菌量), and one OBX per drug with
//! the MIC in OBX-5 (NM, or SN such as `<=^0.25`), its unit in OBX-6 and the S/I/R judgement
//! in OBX-8 (HL7 table 0078: `S`, `I`, `R`, `MS`, `VS`, `SDD`, `NS`). Some senders send the
//! judgement as a row of its own (value `S`/`I`/`R`); it is put next to its drug.
//!
//! Nothing is guessed: a row whose place cannot be told is kept as a finding of its
//! organism (or of the specimen), shown as sent.

use serde::{Deserialize, Serialize};

use super::common::Observation;
use super::lab::LabResultItem;

/// Judgements of HL7 table 0078 that are susceptibility interpretations.
pub const SUSCEPTIBILITY_FLAGS: &[&str] = &["S", "I", "R", "MS", "VS", "SDD", "NS"];

/// What one OBX of a culture is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CultureRole {
    /// About the specimen as a whole (no sub-ID): smear, Gram stain, "no growth".
    Specimen,
    /// The name of an isolated organism.
    Organism,
    /// Another row of an organism: quantity (菌量), comment …
    Finding,
    /// One drug's MIC and / or S/I/R judgement for an organism.
    Susceptibility,
}

impl CultureRole {
    pub fn as_str(self) -> &'static str {
        match self {
            CultureRole::Specimen => "specimen",
            CultureRole::Organism => "organism",
            CultureRole::Finding => "finding",
            CultureRole::Susceptibility => "susceptibility",
        }
    }
}

/// One drug of a susceptibility table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Susceptibility {
    /// Drug name (OBX-3 text) and code.
    pub drug: String,
    pub code: String,
    /// MIC as sent (`<=0.25`, `16`), empty when only a judgement was sent.
    pub mic: String,
    pub unit: String,
    /// `S`, `I`, `R` … (OBX-8, or the value of a judgement row).
    pub interpretation: String,
    pub status: String,
    /// OBX-4 as sent (`1`, `2.1`).
    pub sub_id: String,
}

/// One isolated organism with everything sent about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organism {
    /// The sub-ID group (`1`, `2` …).
    pub key: String,
    /// The organism's name (text of the coded value, else its code), as sent.
    pub name: String,
    /// Its code and coding system (`JANIS`, a local `99…` system).
    pub code: String,
    pub code_system: String,
    /// Quantity and other rows about the organism, as (label, value) pairs.
    pub findings: Vec<(String, String)>,
    pub susceptibilities: Vec<Susceptibility>,
    pub comments: Vec<String>,
}

/// A culture read from one result group (OBR).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Culture {
    /// Rows about the whole specimen (label, value).
    pub specimen_findings: Vec<(String, String)>,
    pub organisms: Vec<Organism>,
}

/// The organism group of a sub-ID: the part before the first `.` (`1.2` → `1`).
pub fn organism_key(sub_id: &str) -> &str {
    let s = sub_id.trim();
    s.split('.').next().unwrap_or(s)
}

/// Is OBX-8 a susceptibility judgement?
pub fn is_susceptibility_flag(flag: &str) -> bool {
    SUSCEPTIBILITY_FLAGS.contains(&flag.trim())
}

/// Does this look like a microbiology result group? Needs positive evidence, because OBX-4
/// sub-IDs are used for other repeated results too (a glucose tolerance test): the section
/// (OBR-24 `MB`), a JLAC10 code of the microbiology class (analyte codes starting with `6`),
/// an organism coded with `JANIS`, or an S/I/R judgement in OBX-8.
pub fn is_microbiology(section: &str, battery_jlac10: Option<&str>, rows: &[MicroRow<'_>]) -> bool {
    let micro_code = |c: Option<&str>| c.is_some_and(|c| c.starts_with('6'));
    section.trim().eq_ignore_ascii_case("MB")
        || micro_code(battery_jlac10)
        || rows.iter().any(|r| {
            micro_code(r.jlac10)
                || r.value_system.eq_ignore_ascii_case("JANIS")
                || is_susceptibility_flag(r.flag)
        })
}

/// The few fields of an OBX that decide its place in a culture (borrowed, so the import's
/// lean reader and the typed reader share one rule).
#[derive(Debug, Clone, Copy, Default)]
pub struct MicroRow<'a> {
    pub sub_id: &'a str,
    pub value_type: &'a str,
    /// OBX-3 JLAC10 code, when sent.
    pub jlac10: Option<&'a str>,
    /// Coding system of the (first) coded value of OBX-5.
    pub value_system: &'a str,
    /// OBX-5 as text (first repetition).
    pub value: &'a str,
    pub unit: &'a str,
    /// OBX-8 first repetition.
    pub flag: &'a str,
}

/// The role of each row of a microbiology group, in order. In each sub-ID group the organism
/// is the first row with a coded value (else the group's first row); after it, a row with
/// an S/I/R judgement (OBX-8, or as its value) or a numeric MIC with a unit per volume
/// (`μg/mL`) is a susceptibility; anything else is a finding of the organism.
pub fn roles(rows: &[MicroRow<'_>]) -> Vec<CultureRole> {
    roles_under(rows, None)
}

/// [`roles`] for a group that is the child of an organism reported in another group (OBR-26
/// names its sub-ID, `parent`): rows without a sub-ID belong to that organism, and no row
/// of this group is the organism itself.
pub fn roles_under(rows: &[MicroRow<'_>], parent: Option<&str>) -> Vec<CultureRole> {
    let parent = parent.map(organism_key).filter(|p| !p.is_empty());
    let mut out = vec![CultureRole::Specimen; rows.len()];
    let mut groups: Vec<(&str, Vec<usize>)> = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        let key = match (r.sub_id.trim().is_empty(), parent) {
            (false, _) => organism_key(r.sub_id),
            (true, Some(p)) => p,
            (true, None) => continue,
        };
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => v.push(i),
            None => groups.push((key, vec![i])),
        }
    }
    for (key, idx) in groups {
        let coded = |i: &usize| matches!(rows[*i].value_type, "CWE" | "CE" | "CNE");
        let organism = if parent == Some(key) {
            None
        } else {
            Some(idx.iter().copied().find(coded).unwrap_or(idx[0]))
        };
        for &i in &idx {
            let r = &rows[i];
            out[i] = if Some(i) == organism {
                CultureRole::Organism
            } else if is_susceptibility_flag(r.flag)
                || is_susceptibility_flag(r.value)
                || (is_mic_value(r.value_type, r.value) && is_mic_unit(r.unit))
            {
                CultureRole::Susceptibility
            } else {
                CultureRole::Finding
            };
        }
    }
    out
}

fn is_mic_value(value_type: &str, value: &str) -> bool {
    matches!(value_type, "NM" | "SN")
        && value
            .trim_start_matches(['<', '>', '=', '≦', '≧', '^'])
            .trim()
            .parse::<f64>()
            .is_ok()
}

fn is_mic_unit(unit: &str) -> bool {
    let u = unit.to_ascii_lowercase();
    u.contains("g/ml") || u.contains("g/l")
}

/// An OBX-5 value as a reader sees it: a structured numeric (SN, `<=^0.25`, `^1^:^40`)
/// joined (`<=0.25`, `1:40`); anything else as sent.
pub fn value_text(value_type: &str, value: &str) -> String {
    if value_type == "SN" && value.contains('^') {
        value.split('^').collect::<String>()
    } else {
        value.to_owned()
    }
}

fn row_of(o: &Observation) -> MicroRow<'_> {
    MicroRow {
        sub_id: o.sub_id.as_deref().unwrap_or(""),
        value_type: &o.value_type,
        jlac10: o.code.as_ref().and_then(|c| c.jlac10()),
        value_system: o.coded_values.first().map_or("", |c| c.system.as_str()),
        value: o.value(),
        unit: o.unit_text(),
        flag: o.abnormal_flags.first().map_or("", |s| s.as_str()),
    }
}

fn label(o: &Observation) -> String {
    o.code
        .as_ref()
        .map(|c| c.display().to_owned())
        .unwrap_or_default()
}

fn shown_value(o: &Observation) -> String {
    let v = if o.coded_values.is_empty() {
        o.values
            .iter()
            .map(|v| value_text(&o.value_type, v))
            .collect::<Vec<_>>()
            .join(" ")
    } else {
        o.coded_values
            .iter()
            .map(|c| c.display().to_owned())
            .collect::<Vec<_>>()
            .join("、")
    };
    let unit = o.unit_text();
    if unit.is_empty() {
        v
    } else {
        format!("{v} {unit}")
    }
}

impl LabResultItem {
    /// The culture of this group, when it is microbiology ([`is_microbiology`]).
    pub fn culture(&self) -> Option<Culture> {
        let rows: Vec<MicroRow<'_>> = self.results.iter().map(row_of).collect();
        let section = self.request.section.as_deref().unwrap_or("");
        let battery = self.request.service.as_ref().and_then(|c| c.jlac10());
        if !is_microbiology(section, battery, &rows) {
            return None;
        }
        let parent = self.request.parent_sub_id.as_deref();
        let roles = roles_under(&rows, parent);
        let mut c = Culture::default();
        for (o, role) in self.results.iter().zip(roles) {
            let sub_id = o.sub_id.as_deref().filter(|s| !s.trim().is_empty());
            let key = organism_key(sub_id.or(parent).unwrap_or("")).to_owned();
            if role == CultureRole::Specimen {
                c.specimen_findings.push((label(o), shown_value(o)));
                continue;
            }
            let at = match c.organisms.iter().position(|g| g.key == key) {
                Some(at) => at,
                None => {
                    // A child group's organism is named by its OBR-26 (the parent value).
                    let name = if parent.map(organism_key) == Some(key.as_str()) {
                        self.request.parent_value.clone().unwrap_or_default()
                    } else {
                        String::new()
                    };
                    c.organisms.push(Organism {
                        key: key.clone(),
                        name,
                        code: String::new(),
                        code_system: String::new(),
                        findings: Vec::new(),
                        susceptibilities: Vec::new(),
                        comments: Vec::new(),
                    });
                    c.organisms.len() - 1
                }
            };
            let g = &mut c.organisms[at];
            g.comments.extend(o.comments.iter().cloned());
            match role {
                CultureRole::Organism => {
                    match o.coded_values.first() {
                        Some(v) => {
                            g.name = v.display().to_owned();
                            g.code = v.code.clone();
                            g.code_system = v.system.clone();
                        }
                        None => g.name = shown_value(o),
                    };
                }
                CultureRole::Susceptibility => {
                    let flag = o.abnormal_flags.first().cloned().unwrap_or_default();
                    let drug = label(o);
                    let judgement_row = is_susceptibility_flag(o.value());
                    let sub_id = o.sub_id.clone().unwrap_or_default();
                    // A judgement sent as a row of its own joins its drug's row: the row of
                    // the same drug name, or of the same full sub-ID (`2.2`), still without
                    // a judgement.
                    if judgement_row {
                        if let Some(s) = g.susceptibilities.iter_mut().rev().find(|s| {
                            s.interpretation.is_empty()
                                && (s.drug == drug || (sub_id.contains('.') && s.sub_id == sub_id))
                        }) {
                            s.interpretation = o.value().trim().to_owned();
                            continue;
                        }
                    }
                    g.susceptibilities.push(Susceptibility {
                        code: o
                            .code
                            .as_ref()
                            .map(|c| {
                                c.jlac10()
                                    .map(str::to_owned)
                                    .unwrap_or_else(|| c.code.clone())
                            })
                            .unwrap_or_default(),
                        drug,
                        mic: if judgement_row {
                            String::new()
                        } else {
                            o.values
                                .first()
                                .map(|v| value_text(&o.value_type, v))
                                .unwrap_or_default()
                        },
                        unit: if judgement_row {
                            String::new()
                        } else {
                            o.unit_text().to_owned()
                        },
                        interpretation: if judgement_row {
                            o.value().trim().to_owned()
                        } else {
                            flag
                        },
                        status: o.status.clone().unwrap_or_default(),
                        sub_id,
                    });
                }
                _ => g.findings.push((label(o), shown_value(o))),
            }
        }
        Some(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row<'a>(
        sub: &'a str,
        vt: &'a str,
        value: &'a str,
        unit: &'a str,
        flag: &'a str,
    ) -> MicroRow<'a> {
        MicroRow {
            sub_id: sub,
            value_type: vt,
            value,
            unit,
            flag,
            ..Default::default()
        }
    }

    #[test]
    fn roles_follow_the_sub_id_groups() {
        let rows = [
            row("", "ST", "GNR 2+", "", ""),
            row("1", "CWE", "1001", "", ""),
            row("1", "ST", "10^5", "CFU/mL", ""),
            row("1", "NM", "16", "μg/mL", "R"),
            row("2", "CWE", "2002", "", ""),
            row("1.2", "SN", "<=^0.25", "ug/mL", ""),
            row("2", "ST", "S", "", ""),
        ];
        use CultureRole::*;
        assert_eq!(
            roles(&rows),
            vec![
                Specimen,
                Organism,
                Finding,
                Susceptibility,
                Organism,
                Susceptibility,
                Susceptibility
            ]
        );
        assert_eq!(organism_key("1.2"), "1");
        assert_eq!(value_text("SN", "<=^0.25"), "<=0.25");
        assert_eq!(value_text("ST", "a^b"), "a^b");
    }

    #[test]
    fn sub_ids_alone_do_not_make_a_culture() {
        // A glucose tolerance test: sub-IDs, numbers, no microbiology evidence.
        let rows = [
            row("1", "NM", "98", "mg/dL", "N"),
            row("2", "NM", "180", "mg/dL", "H"),
        ];
        assert!(!is_microbiology("", Some("3D010000001926101"), &rows));
        assert!(is_microbiology("MB", None, &rows));
        assert!(is_microbiology("", Some("6B615000007101201"), &rows));
        let rows = [row("1", "NM", "16", "μg/mL", "R")];
        assert!(is_microbiology("", None, &rows));
    }
}
