//! Vitals (バイタルサイン) from the extended storage: observation messages (ORU^R01 / R30 …)
//! that facilities file under their own kind folder, read at import as one lab fact per OBX
//! (`LabFilter::extended`), shown as a table of measurement times × vital signs.
//!
//! Pure logic over facts already read through the gate, plus the gated read itself. Clinical
//! safety, as everywhere in the viewer:
//! - every value keeps its own unit and facility; a column never converts;
//! - a code this table does not know is its own column, named as it was sent;
//! - a blood pressure sent as one `120/80` value is shown in the systolic and diastolic
//!   columns only when it reads exactly as two numbers; anything else stays as sent, flagged;
//! - a missing, unmeasured or unreadable value is shown as sent with the reason, never
//!   guessed and never drawn.
//!
//! Vitals never enter the lab matrix, the summary's newest results or the duplicate-test
//! warnings: those read the standard storage's lab results only.

use std::collections::BTreeMap;

use model::{FacilityCode, Purpose, RecordCategory, RegionalId};
use serde::Serialize;
use store::{LabFact, LabFilter};

use crate::access::AccessRefusal;
use crate::viewer::{each_source, sourced, sources_where, Sourced};
use crate::{Network, Principal, Result};

/// The vital signs the table knows, in column order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VitalSign {
    Temperature,
    Systolic,
    Diastolic,
    /// Sent as one value (`120/80`): split when it reads exactly, else its own column.
    BloodPressure,
    Pulse,
    Spo2,
    Respiration,
    Weight,
    Height,
    Bmi,
}

impl VitalSign {
    pub const ALL: [VitalSign; 10] = [
        VitalSign::Temperature,
        VitalSign::Systolic,
        VitalSign::Diastolic,
        VitalSign::BloodPressure,
        VitalSign::Pulse,
        VitalSign::Spo2,
        VitalSign::Respiration,
        VitalSign::Weight,
        VitalSign::Height,
        VitalSign::Bmi,
    ];

    pub fn key(self) -> &'static str {
        match self {
            VitalSign::Temperature => "temperature",
            VitalSign::Systolic => "systolic",
            VitalSign::Diastolic => "diastolic",
            VitalSign::BloodPressure => "blood_pressure",
            VitalSign::Pulse => "pulse",
            VitalSign::Spo2 => "spo2",
            VitalSign::Respiration => "respiration",
            VitalSign::Weight => "weight",
            VitalSign::Height => "height",
            VitalSign::Bmi => "bmi",
        }
    }

    pub fn label_ja(self) -> &'static str {
        match self {
            VitalSign::Temperature => "体温",
            VitalSign::Systolic => "収縮期血圧",
            VitalSign::Diastolic => "拡張期血圧",
            VitalSign::BloodPressure => "血圧",
            VitalSign::Pulse => "脈拍",
            VitalSign::Spo2 => "SpO2",
            VitalSign::Respiration => "呼吸数",
            VitalSign::Weight => "体重",
            VitalSign::Height => "身長",
            VitalSign::Bmi => "BMI",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            VitalSign::Temperature => "temperature",
            VitalSign::Systolic => "systolic BP",
            VitalSign::Diastolic => "diastolic BP",
            VitalSign::BloodPressure => "blood pressure",
            VitalSign::Pulse => "pulse",
            VitalSign::Spo2 => "SpO2",
            VitalSign::Respiration => "respiration",
            VitalSign::Weight => "weight",
            VitalSign::Height => "height",
            VitalSign::Bmi => "BMI",
        }
    }
}

/// LOINC codes of the vital signs (the codes of the HL7 / FHIR vital-signs set).
const LOINC: [(&str, VitalSign); 17] = [
    ("8310-5", VitalSign::Temperature),
    ("8331-1", VitalSign::Temperature),
    ("8328-7", VitalSign::Temperature),
    ("8480-6", VitalSign::Systolic),
    ("8462-4", VitalSign::Diastolic),
    ("55284-4", VitalSign::BloodPressure),
    ("85354-9", VitalSign::BloodPressure),
    ("8867-4", VitalSign::Pulse),
    ("8893-0", VitalSign::Pulse),
    ("59408-5", VitalSign::Spo2),
    ("2708-6", VitalSign::Spo2),
    ("9279-1", VitalSign::Respiration),
    ("29463-7", VitalSign::Weight),
    ("3141-9", VitalSign::Weight),
    ("8302-2", VitalSign::Height),
    ("39156-5", VitalSign::Bmi),
    ("8306-3", VitalSign::Height),
];

/// JLAC10 analyte codes (first 5 characters) of the body measurements of the specific
/// health checkups (特定健診): height, weight, BMI, systolic and diastolic pressure (1st,
/// 2nd, other reading).
const JLAC10: [(&str, VitalSign); 9] = [
    ("9N001", VitalSign::Height),
    ("9N006", VitalSign::Weight),
    ("9N011", VitalSign::Bmi),
    ("9A751", VitalSign::Systolic),
    ("9A752", VitalSign::Systolic),
    ("9A755", VitalSign::Systolic),
    ("9A761", VitalSign::Diastolic),
    ("9A762", VitalSign::Diastolic),
    ("9A765", VitalSign::Diastolic),
];

/// Names that say unambiguously which vital a facility's local code is (compared after
/// folding full-width letters and case). A local code with any other name is its own column.
const LOCAL_NAMES: [(&str, VitalSign); 16] = [
    ("体温", VitalSign::Temperature),
    ("収縮期血圧", VitalSign::Systolic),
    ("最高血圧", VitalSign::Systolic),
    ("拡張期血圧", VitalSign::Diastolic),
    ("最低血圧", VitalSign::Diastolic),
    ("血圧", VitalSign::BloodPressure),
    ("脈拍", VitalSign::Pulse),
    ("脈拍数", VitalSign::Pulse),
    ("心拍数", VitalSign::Pulse),
    ("spo2", VitalSign::Spo2),
    ("経皮的動脈血酸素飽和度", VitalSign::Spo2),
    ("呼吸数", VitalSign::Respiration),
    ("体重", VitalSign::Weight),
    ("身長", VitalSign::Height),
    ("bmi", VitalSign::Bmi),
    ("body mass index", VitalSign::Bmi),
];

fn is_loinc(system: &str) -> bool {
    system.eq_ignore_ascii_case("LN") || system.eq_ignore_ascii_case("LOINC")
}

/// Full-width ASCII folded, blanks trimmed, lower case: how names and numbers compare.
fn fold(s: &str) -> String {
    s.trim()
        .chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            c => c,
        })
        .collect::<String>()
        .to_lowercase()
}

/// Which vital sign an observation is: by its LOINC or JLAC10 code, else — a local code
/// only — by an unambiguous name. `None`: a column of its own.
pub fn vital_of(f: &LabFact) -> Option<VitalSign> {
    let code = f.code.trim();
    if is_loinc(&f.code_system) {
        return LOINC.iter().find(|(c, _)| *c == code).map(|(_, v)| *v);
    }
    if f.is_jlac10() {
        let analyte = code.get(..5).unwrap_or_default();
        return JLAC10.iter().find(|(c, _)| *c == analyte).map(|(_, v)| *v);
    }
    let name = fold(&f.name);
    LOCAL_NAMES
        .iter()
        .find(|(n, _)| fold(n) == name)
        .map(|(_, v)| *v)
}

/// A number as written: optional sign, digits, optional decimals (full-width digits read
/// as the same digits). `<30`, `測定中`, `36.5度` are not numbers.
pub fn is_number(s: &str) -> bool {
    let s = fold(s);
    let s = s.strip_prefix('-').unwrap_or(&s);
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (s, None),
    };
    !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
}

/// A `120/80` blood pressure as its two numbers, only when it reads exactly so.
pub fn split_pressure(s: &str) -> Option<(String, String)> {
    let (a, b) = s.trim().split_once(['/', '／'])?;
    (is_number(a) && is_number(b)).then(|| (a.trim().to_owned(), b.trim().to_owned()))
}

/// Why a value is not a plain number to read and draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VitalProblem {
    /// OBX-5 empty (or the HL7 null `""`).
    Missing,
    /// OBX-11 `X`: the measurement could not be obtained.
    NotMeasured,
    /// Sent as a number but not readable as one (`測定中`, `<30`): shown as sent.
    NotNumeric,
    /// A blood pressure that is not exactly two numbers (`120/`): shown as sent.
    Unsplittable,
}

impl VitalProblem {
    pub fn label(self) -> &'static str {
        match self {
            VitalProblem::Missing => "値なし (no value sent)",
            VitalProblem::NotMeasured => "測定不能 (not obtained)",
            VitalProblem::NotNumeric => "数値として読めません・送信どおり (not a number, as sent)",
            VitalProblem::Unsplittable => {
                "収縮期/拡張期に分けられません・送信どおり (cannot be read as systolic/diastolic, as sent)"
            }
        }
    }
}

/// One value in a cell of the vitals table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VitalValue {
    /// What this column shows: the value as sent, or its half of a split `120/80`.
    pub value: String,
    /// OBX-5 exactly as sent.
    pub sent: String,
    pub unit: String,
    /// OBX-8 (`H`, `L` …), empty when normal or not sent.
    pub abnormal_flag: String,
    pub reference_range: String,
    /// OBX-11 (`F`, `P`, `C`, `X`, `W` …).
    pub status: String,
    pub problem: Option<VitalProblem>,
    /// A number that stands (not wrong or deleted, OBX-11 `W` / `D`): drawn in the chart.
    pub charted: bool,
    pub source: FacilityCode,
    pub version_id: i64,
    /// As sent (OBX-14, else OBR-7).
    pub observed_at: String,
    /// The code, its system and the name as sent.
    pub code: String,
    pub code_system: String,
    pub name: String,
    pub comments: Vec<String>,
}

/// One column: a known vital sign, or a code the table does not know (named as sent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VitalColumn {
    pub key: String,
    pub vital: Option<VitalSign>,
    /// Japanese label, or the name as sent.
    pub label: String,
    /// English label, or the code as sent.
    pub english: String,
    /// Every unit of the column's values as first sent (spellings of one unit as one).
    pub units: Vec<String>,
}

/// One measurement time (to the minute), every vital measured then.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VitalsRow {
    /// `YYYYMMDDHHMM` (or shorter, as precise as sent); empty when no time was sent.
    pub observed_at: String,
    /// One entry per column: every value of that time (several facilities, repeats).
    pub cells: Vec<Vec<VitalValue>>,
}

/// The vitals of a patient (or of one record): columns and rows, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VitalsGrid {
    pub columns: Vec<VitalColumn>,
    pub rows: Vec<VitalsRow>,
}

impl VitalsGrid {
    /// The values of one column, oldest first (what its trend chart draws).
    pub fn series(&self, column: usize) -> Vec<&VitalValue> {
        let mut out: Vec<&VitalValue> = self
            .rows
            .iter()
            .rev()
            .flat_map(|r| r.cells.get(column).into_iter().flatten())
            .collect();
        out.sort_by(|a, b| a.observed_at.cmp(&b.observed_at));
        out
    }
}

/// Which vitals to read: `YYYYMMDD` bounds of the measurement date, inclusive (none: every
/// date).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VitalsQuery {
    pub from: Option<String>,
    pub to: Option<String>,
}

/// The vitals screen: every facility's vitals the user may see.
#[derive(Debug, Clone, Serialize)]
pub struct VitalsTable {
    pub regional_id: RegionalId,
    pub grid: VitalsGrid,
    pub refused: Vec<AccessRefusal>,
    pub break_glass: Option<policy::BreakGlass>,
    pub facility_names: BTreeMap<FacilityCode, String>,
}

fn column_key(l: &Sourced<LabFact>, vital: Option<VitalSign>) -> String {
    match vital {
        Some(v) => v.key().to_owned(),
        // LOINC and JLAC10 codes mean the same everywhere; a local code only within its
        // facility.
        None if is_loinc(&l.fact.code_system) || l.fact.is_jlac10() => {
            format!("{}:{}", l.fact.code_system, l.fact.code)
        }
        None => format!("{}:{}:{}", l.source, l.fact.code_system, l.fact.code),
    }
}

/// The row a measurement time falls in: to the minute.
fn row_key(observed_at: &str) -> String {
    observed_at.trim().chars().take(12).collect()
}

/// Columns and rows (newest first) of the observations read.
pub fn grid(obs: &[Sourced<LabFact>]) -> VitalsGrid {
    let mut ordered: Vec<&Sourced<LabFact>> = obs.iter().collect();
    // Oldest first, so that unknown columns and units are listed as they appeared.
    ordered.sort_by(|a, b| {
        (&a.fact.observed_at, a.version_id, a.line).cmp(&(
            &b.fact.observed_at,
            b.version_id,
            b.line,
        ))
    });
    let mut columns: Vec<VitalColumn> = Vec::new();
    let mut values: Vec<(String, String, VitalValue)> = Vec::new();
    let mut place = |key: String, column: VitalColumn, v: VitalValue| {
        let c = match columns.iter_mut().find(|c| c.key == key) {
            Some(c) => c,
            None => {
                columns.push(column);
                columns.last_mut().expect("just pushed")
            }
        };
        let unit = v.unit.trim();
        if !unit.is_empty()
            && !c
                .units
                .iter()
                .any(|u| crate::unit_key(u) == crate::unit_key(unit))
        {
            c.units.push(unit.to_owned());
        }
        values.push((key, row_key(&v.observed_at), v));
    };
    for l in ordered {
        let f = &l.fact;
        let vital = vital_of(f);
        let sent = f.value.trim().to_owned();
        let status = f.status.trim();
        // Wrong, deleted or not obtained (OBX-11 `W`, `D`, `X`): whatever value came with it
        // is shown, never drawn.
        let stands = !matches!(status, "W" | "D" | "X");
        let base = VitalValue {
            value: sent.clone(),
            sent: sent.clone(),
            unit: f.unit.clone(),
            abnormal_flag: f.abnormal_flag.clone(),
            reference_range: f.reference_range.clone(),
            status: status.to_owned(),
            problem: None,
            charted: false,
            source: l.source.clone(),
            version_id: l.version_id,
            observed_at: f.observed_at.clone(),
            code: f.code.clone(),
            code_system: f.code_system.clone(),
            name: f.name.clone(),
            comments: f.detail.comments.clone(),
        };
        let column = |v: Option<VitalSign>| match v {
            Some(v) => VitalColumn {
                key: v.key().to_owned(),
                vital: Some(v),
                label: v.label_ja().to_owned(),
                english: v.label_en().to_owned(),
                units: Vec::new(),
            },
            None => VitalColumn {
                key: column_key(l, None),
                vital: None,
                label: if f.name.trim().is_empty() {
                    f.code.clone()
                } else {
                    f.name.clone()
                },
                english: f.code.clone(),
                units: Vec::new(),
            },
        };
        let empty_problem = if status == "X" {
            VitalProblem::NotMeasured
        } else {
            VitalProblem::Missing
        };
        if vital == Some(VitalSign::BloodPressure) {
            if let Some((sys, dia)) = split_pressure(&sent) {
                for (v, part) in [(VitalSign::Systolic, sys), (VitalSign::Diastolic, dia)] {
                    let value = VitalValue {
                        value: part,
                        charted: stands,
                        ..base.clone()
                    };
                    place(v.key().to_owned(), column(Some(v)), value);
                }
                continue;
            }
            let problem = if sent.is_empty() {
                empty_problem
            } else {
                VitalProblem::Unsplittable
            };
            let value = VitalValue {
                problem: Some(problem),
                ..base
            };
            place(column_key(l, vital), column(vital), value);
            continue;
        }
        let problem = if sent.is_empty() || status == "X" {
            Some(empty_problem)
        } else if is_number(&sent) {
            None
        } else if matches!(f.value_type.trim(), "NM" | "SN") || vital.is_some() {
            // A vital sign is a number: anything else is shown as sent, flagged.
            Some(VitalProblem::NotNumeric)
        } else {
            // Text of a column of its own (a scale, a comment): read as text.
            None
        };
        let value = VitalValue {
            charted: stands && problem.is_none() && is_number(&sent),
            problem,
            ..base
        };
        place(column_key(l, vital), column(vital), value);
    }
    // Known vitals in their fixed order, then the others as they appeared.
    let rank = |c: &VitalColumn| {
        c.vital
            .and_then(|v| VitalSign::ALL.iter().position(|a| *a == v))
            .unwrap_or(VitalSign::ALL.len())
    };
    let mut order: Vec<usize> = (0..columns.len()).collect();
    order.sort_by_key(|&i| (rank(&columns[i]), i));
    let columns: Vec<VitalColumn> = order.into_iter().map(|i| columns[i].clone()).collect();
    let index: BTreeMap<&str, usize> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| (c.key.as_str(), i))
        .collect();
    let mut rows: BTreeMap<String, Vec<Vec<VitalValue>>> = BTreeMap::new();
    for (key, row, v) in values {
        let cells = rows
            .entry(row)
            .or_insert_with(|| vec![Vec::new(); columns.len()]);
        if let Some(&i) = index.get(key.as_str()) {
            cells[i].push(v);
        }
    }
    // Newest first; a measurement without a time last.
    let mut rows: Vec<VitalsRow> = rows
        .into_iter()
        .rev()
        .map(|(observed_at, cells)| VitalsRow { observed_at, cells })
        .collect();
    if let Some(i) = rows.iter().position(|r| r.observed_at.is_empty()) {
        let undated = rows.remove(i);
        rows.push(undated);
    }
    VitalsGrid { columns, rows }
}

/// The grid of one record's observations (the record page's clinical view).
pub fn record_grid(source: &FacilityCode, version_id: i64, facts: &[LabFact]) -> VitalsGrid {
    let obs: Vec<Sourced<LabFact>> = facts
        .iter()
        .enumerate()
        .map(|(i, f)| Sourced {
            source: source.clone(),
            local_id: String::new(),
            version_id,
            line: i as u32,
            kind: String::new(),
            date: String::new(),
            order_no: String::new(),
            fact: f.clone(),
        })
        .collect();
    grid(&obs)
}

/// An extended-storage HL7 document read as vitals, when it is an observation message
/// (any version: a superseded or cancelled one is shown as it was sent).
pub(crate) fn record_vitals(
    bytes: &[u8],
    source: &FacilityCode,
    version_id: i64,
) -> Option<VitalsGrid> {
    let decoded = hl7::decode(bytes).ok()?;
    let msg = hl7::Message::parse(decoded.text).ok()?;
    if !ingest::facts::extended_has_facts(&msg.message_type()) {
        return None;
    }
    let facts: Vec<LabFact> = ingest::facts::extract_extended(&msg)
        .into_iter()
        .filter_map(|f| match f.fact {
            store::Fact::Lab(l) => Some(l),
            _ => None,
        })
        .collect();
    Some(record_grid(source, version_id, &facts))
}

impl Network {
    /// The vitals of a patient for care, every date (see [`Network::vitals_for`]).
    pub async fn vitals(&self, actor: &Principal, id: &RegionalId) -> Result<VitalsTable> {
        self.vitals_for(actor, id, &VitalsQuery::default(), Purpose::Care, None)
            .await
    }

    /// Every facility's extended-storage vitals the user may see, through the same gate as
    /// every fact read: an extended kind folder is a document ([`RecordCategory::Documents`]),
    /// each row's own kind decides, each row is counted, refusals are said.
    pub async fn vitals_for(
        &self,
        actor: &Principal,
        id: &RegionalId,
        q: &VitalsQuery,
        purpose: Purpose,
        _break_glass_reason: Option<&str>,
    ) -> Result<VitalsTable> {
        let mut gate = self.open_gate(actor, id, purpose).await?;
        let sources = sources_where(&mut gate, |g, i| g.allows(i, RecordCategory::Documents));
        let filter = LabFilter {
            extended: true,
            from: q.from.clone(),
            to: q.to.clone(),
            ..Default::default()
        };
        let filter = &filter;
        let read = each_source(sources, |s| async move {
            Ok(self.store.lab_results(s.id, &s.local_id, filter).await?)
        })
        .await?;
        let mut obs = Vec::new();
        for (s, rows) in read {
            for row in rows {
                let category = policy::category_of_kind(&row.kind);
                if !gate.allows(s.index, category) {
                    continue;
                }
                gate.count(s.index, category, 1);
                obs.push(sourced(&s.facility, &s.local_id, row));
            }
        }
        let facility_names = gate.facility_names();
        let break_glass = gate.break_glass.clone();
        let refused = self.close_gate(gate, Some("vitals")).await?;
        Ok(VitalsTable {
            regional_id: id.clone(),
            grid: grid(&obs),
            refused,
            break_glass,
            facility_names,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<LabFact> {
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
            .map(|f| match f.fact {
                store::Fact::Lab(l) => l,
                other => panic!("{other:?}"),
            })
            .collect()
    }

    fn code(s: &str) -> FacilityCode {
        FacilityCode::parse(s).expect("code")
    }

    /// (column key, row time) → the values shown there.
    fn at<'g>(g: &'g VitalsGrid, key: &str, time: &str) -> Vec<&'g VitalValue> {
        let c = g
            .columns
            .iter()
            .position(|c| c.key == key)
            .unwrap_or_else(|| panic!("no column {key}: {:?}", g.columns));
        g.rows
            .iter()
            .filter(|r| r.observed_at == time)
            .flat_map(|r| r.cells[c].iter())
            .collect()
    }

    #[test]
    fn loinc_vitals_as_columns_newest_first() {
        let g = record_grid(&code("0411111111"), 7, &fixture("ORU-R30-vitals"));
        let keys: Vec<&str> = g.columns.iter().map(|c| c.key.as_str()).collect();
        assert_eq!(
            keys,
            vec![
                "temperature",
                "systolic",
                "diastolic",
                "pulse",
                "spo2",
                "respiration",
                "weight"
            ]
        );
        let times: Vec<&str> = g.rows.iter().map(|r| r.observed_at.as_str()).collect();
        assert_eq!(times, vec!["202603101400", "202603100600"]);
        let t = at(&g, "temperature", "202603100600");
        assert_eq!(
            (
                t[0].value.as_str(),
                t[0].unit.as_str(),
                t[0].abnormal_flag.as_str()
            ),
            ("37.8", "℃", "H")
        );
        let t = at(&g, "temperature", "202603101400");
        assert_eq!((t[0].value.as_str(), t[0].status.as_str()), ("37.1", "C"));
        assert_eq!(t[0].comments, vec!["再測定".to_owned()]);
        assert!(t[0].charted);
        let spo2 = at(&g, "spo2", "202603101400");
        assert_eq!(spo2[0].problem, Some(VitalProblem::NotMeasured));
        assert!(!spo2[0].charted, "not drawn");
        let w = at(&g, "weight", "202603101400");
        assert_eq!((w[0].value.as_str(), w[0].status.as_str()), ("61.2", "P"));
        assert_eq!(g.columns[3].units, vec!["回/分".to_owned()]);
        assert_eq!(g.columns[0].label, "体温");
        assert!(at(&g, "pulse", "202603101400").is_empty());
        // The trend of one column: oldest first.
        let sys: Vec<&str> = g.series(1).iter().map(|v| v.value.as_str()).collect();
        assert_eq!(sys, vec!["142", "128"]);
    }

    #[test]
    fn jlac10_local_codes_split_pressure_and_flags() {
        let g = record_grid(&code("0422222222"), 9, &fixture("ORU-R01-local"));
        let keys: Vec<&str> = g.columns.iter().map(|c| c.key.as_str()).collect();
        assert_eq!(
            keys,
            vec![
                "temperature",
                "systolic",
                "diastolic",
                "blood_pressure",
                "pulse",
                "weight",
                "height",
                "bmi",
                "0422222222:99ZL02:NRS"
            ]
        );
        // 132/84 sent as one value: both halves, each saying what was sent.
        let s = at(&g, "systolic", "202603110935");
        let d = at(&g, "diastolic", "202603110935");
        assert_eq!((s[0].value.as_str(), s[0].sent.as_str()), ("132", "132/84"));
        assert_eq!((d[0].value.as_str(), d[0].sent.as_str()), ("84", "132/84"));
        assert!(s[0].charted && d[0].charted);
        assert_eq!(s[0].unit, "mmHg");
        // JLAC10 systolic / diastolic of the other reading.
        assert_eq!(at(&g, "systolic", "202603110945")[0].value, "118");
        assert_eq!(
            at(&g, "diastolic", "202603110945")[0].code,
            "9A765000000000001"
        );
        // `120/` cannot be split: its own column, as sent, flagged, not drawn.
        let bp = at(&g, "blood_pressure", "202603110940");
        assert_eq!(bp[0].value, "120/");
        assert_eq!(bp[0].problem, Some(VitalProblem::Unsplittable));
        assert!(!bp[0].charted);
        // A local unit text kept as sent.
        let t = at(&g, "temperature", "202603110935");
        assert_eq!((t[0].value.as_str(), t[0].unit.as_str()), ("36.6", "度"));
        // An unreadable number is shown as sent, flagged.
        let p = at(&g, "pulse", "202603110935");
        assert_eq!(p[0].value, "測定中");
        assert_eq!(p[0].problem, Some(VitalProblem::NotNumeric));
        assert!(!p[0].charted);
        // JLAC10 body measurements.
        assert_eq!(at(&g, "height", "202603110930")[0].value, "170.2");
        assert_eq!(at(&g, "weight", "202603110930")[0].value, "65.0");
        assert_eq!(at(&g, "bmi", "202603110930")[0].unit, "kg/m2");
        // An unknown local code: its own column, named as sent.
        let nrs = g.columns.last().expect("column");
        assert_eq!(
            (nrs.label.as_str(), nrs.english.as_str(), nrs.vital),
            ("疼痛スケール", "NRS", None)
        );
        assert_eq!(
            at(&g, "0422222222:99ZL02:NRS", "202603110935")[0].value,
            "3"
        );
    }

    #[test]
    fn each_facility_keeps_its_unit_and_wrong_values_are_not_drawn() {
        let temp = |value: &str, unit: &str, status: &str| LabFact {
            code: "8310-5".into(),
            code_system: "LN".into(),
            name: "体温".into(),
            value_type: "NM".into(),
            value: value.into(),
            unit: unit.into(),
            status: status.into(),
            observed_at: "202603120800".into(),
            ..Default::default()
        };
        let (a, b) = (code("0411111111"), code("0422222222"));
        let mut obs: Vec<Sourced<LabFact>> = Vec::new();
        for (i, (src, f)) in [
            (&a, temp("36.9", "℃", "F")),
            (&b, temp("98.4", "[degF]", "F")),
            (&a, temp("39.9", "℃", "W")),
            (&a, temp("３６．８", "℃", "F")),
            (&b, temp("35.0", "℃", "X")),
        ]
        .into_iter()
        .enumerate()
        {
            obs.push(Sourced {
                source: src.clone(),
                local_id: "1".into(),
                version_id: i as i64,
                line: 0,
                kind: "L-OBSERVATIONS".into(),
                date: "20260312".into(),
                order_no: "V".into(),
                fact: f,
            });
        }
        let g = grid(&obs);
        assert_eq!(g.columns.len(), 1);
        assert_eq!(
            g.columns[0].units,
            vec!["℃".to_owned(), "[degF]".to_owned()]
        );
        let cell = &g.rows[0].cells[0];
        let shown: Vec<(&str, &str, &str, bool)> = cell
            .iter()
            .map(|v| {
                (
                    v.value.as_str(),
                    v.unit.as_str(),
                    v.source.as_str(),
                    v.charted,
                )
            })
            .collect();
        assert_eq!(
            shown,
            vec![
                ("36.9", "℃", "0411111111", true),
                ("98.4", "[degF]", "0422222222", true),
                ("39.9", "℃", "0411111111", false),
                ("３６．８", "℃", "0411111111", true),
                ("35.0", "℃", "0422222222", false),
            ]
        );
        assert_eq!(
            cell[4].problem,
            Some(VitalProblem::NotMeasured),
            "X with a value"
        );
        assert_eq!(
            cell[2].problem, None,
            "W: struck through by its status, not a problem"
        );
    }

    #[test]
    fn numbers_and_pressures_read_exactly() {
        for n in ["36.5", "120", "-1.5", "３６．５", " 98 "] {
            assert!(is_number(n), "{n}");
        }
        for n in ["", "<30", "36.", ".5", "36.5度", "測定中", "1/2", "1e3"] {
            assert!(!is_number(n), "{n}");
        }
        assert_eq!(split_pressure("120/80"), Some(("120".into(), "80".into())));
        assert_eq!(
            split_pressure("１２０／８０"),
            Some(("１２０".into(), "８０".into()))
        );
        for bad in ["120/", "/80", "120-80", "120/80/60", "120 / abc"] {
            assert_eq!(split_pressure(bad), None, "{bad}");
        }
        // Codes: a LOINC code not in the table is not named by its text.
        let f = LabFact {
            code: "9999-9".into(),
            code_system: "LN".into(),
            name: "体温".into(),
            ..Default::default()
        };
        assert_eq!(vital_of(&f), None);
        let f = LabFact {
            code: "T1".into(),
            code_system: "99X".into(),
            name: "ＳｐＯ２".into(),
            ..Default::default()
        };
        assert_eq!(vital_of(&f), Some(VitalSign::Spo2));
    }
}
