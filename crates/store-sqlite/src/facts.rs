//! Clinical facts (labs, medications, diagnoses, allergies, admissions): written with their
//! record in `write_batch`, read per local patient for the viewer.
//!
//! Liveness is the records' rule: a fact is live while its version is its file's current
//! version. Facts are only written for `_1` files, so "live" means "the current state of the
//! order"; an update or cancellation renames the `_1` file, the old path is marked removed, and
//! its facts drop out of every query here except [`order_fact_history`].

use rusqlite::types::ToSql;
use rusqlite::{params, CachedStatement, Connection, OptionalExtension, Row, Transaction};
use store::{
    AllergyFact, BackfillItem, BackfilledFacts, ClinicalFact, DiagnosisFact, EncounterFact,
    FacilityId, Fact, FactRow, HistoricFact, LabFact, LabFilter, MedicationFact, Result,
};

use crate::db_err;

/// Writes the facts of new record versions inside the batch's transaction; the statements
/// are prepared once per batch (a hundred thousand facts per import are common).
pub(crate) struct FactWriter<'t> {
    lab: CachedStatement<'t>,
    medication: CachedStatement<'t>,
    diagnosis: CachedStatement<'t>,
    allergy: CachedStatement<'t>,
    encounter: CachedStatement<'t>,
}

impl<'t> FactWriter<'t> {
    pub(crate) fn new(tx: &'t Transaction<'_>) -> Result<FactWriter<'t>> {
        let p = |sql: &str| tx.prepare_cached(sql).map_err(db_err);
        Ok(FactWriter {
            lab: p("INSERT INTO lab_results(version_id, line, facility_id, patient_id, code, code_system, local_code, name,
                         value_type, value, unit, reference_range, abnormal_flag, status, observed_at, detail)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)")?,
            medication: p("INSERT INTO medications(version_id, line, facility_id, patient_id, rp, hot_code, yj_code, local_code,
                         drug_name, dose, dose_unit, daily_dose, usage, route, days, start_date, end_date, ordered_at, detail)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)")?,
            diagnosis: p("INSERT INTO diagnoses(version_id, line, facility_id, patient_id, name, medis_code, icd10, main,
                         suspected, action, start_date, end_date, outcome, detail)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)")?,
            allergy: p("INSERT INTO allergies(version_id, line, facility_id, patient_id, allergen_type, allergen_type_code,
                         allergen_code, allergen_system, allergen_name, severity, reaction, identified, detail)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)")?,
            encounter: p("INSERT INTO encounters(version_id, line, facility_id, patient_id, event, admitted_at, discharged_at,
                         ward, room, department, detail)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)")?,
        })
    }

    /// Write the facts of one new record version.
    pub(crate) fn insert(
        &mut self,
        facility: FacilityId,
        patient_id: &str,
        version_id: i64,
        facts: &[ClinicalFact],
    ) -> Result<()> {
        for ClinicalFact { line, fact } in facts {
            let line = i64::from(*line);
            match fact {
                Fact::Lab(l) => self.lab.execute(params![
                    version_id,
                    line,
                    facility.0,
                    patient_id,
                    l.code,
                    l.code_system,
                    l.local_code,
                    l.name,
                    l.value_type,
                    l.value,
                    l.unit,
                    l.reference_range,
                    l.abnormal_flag,
                    l.status,
                    l.observed_at,
                    store::detail::encode(&l.detail)
                ]),
                Fact::Medication(m) => self.medication.execute(params![
                    version_id,
                    line,
                    facility.0,
                    patient_id,
                    m.rp,
                    m.hot_code,
                    m.yj_code,
                    m.local_code,
                    m.drug_name,
                    m.dose,
                    m.dose_unit,
                    m.daily_dose,
                    m.usage,
                    m.route,
                    m.days.map(i64::from),
                    m.start_date,
                    m.end_date,
                    m.ordered_at,
                    store::detail::encode(&m.detail)
                ]),
                Fact::Diagnosis(d) => self.diagnosis.execute(params![
                    version_id,
                    line,
                    facility.0,
                    patient_id,
                    d.name,
                    d.medis_code,
                    d.icd10,
                    d.main,
                    d.suspected,
                    d.action,
                    d.start_date,
                    d.end_date,
                    d.outcome,
                    store::detail::encode(&d.detail)
                ]),
                Fact::Allergy(a) => self.allergy.execute(params![
                    version_id,
                    line,
                    facility.0,
                    patient_id,
                    a.allergen_type,
                    a.allergen_type_code,
                    a.allergen_code,
                    a.allergen_system,
                    a.allergen_name,
                    a.severity,
                    a.reaction,
                    a.identified,
                    store::detail::encode(&a.detail)
                ]),
                Fact::Encounter(e) => self.encounter.execute(params![
                    version_id,
                    line,
                    facility.0,
                    patient_id,
                    e.event,
                    e.admitted_at,
                    e.discharged_at,
                    e.ward,
                    e.room,
                    e.department,
                    store::detail::encode(&e.detail)
                ]),
            }
            .map_err(db_err)?;
        }
        Ok(())
    }
}

/// Columns of a fact table, in the order the row readers below expect (after the 6 common
/// columns `version_id, line, kind, date, order_no, written_at`).
const LAB_COLS: &str = "x.code, x.code_system, x.local_code, x.name, x.value_type, x.value, x.unit, x.reference_range, x.abnormal_flag, x.status, x.observed_at, x.detail";
/// The lab columns plus the one aggregate that picks each code's newest row (read by no one:
/// SQLite fills the bare columns from the row holding the max).
const LATEST_LAB_COLS: &str = "x.code, x.code_system, x.local_code, x.name, x.value_type, x.value, x.unit, x.reference_range, x.abnormal_flag, x.status, x.observed_at, x.detail, max(x.observed_at || printf('%012d', x.version_id))";
const MED_COLS: &str = "x.rp, x.hot_code, x.yj_code, x.local_code, x.drug_name, x.dose, x.dose_unit, x.daily_dose, x.usage, x.route, x.days, x.start_date, x.end_date, x.ordered_at, x.detail";
const DIAG_COLS: &str = "x.name, x.medis_code, x.icd10, x.main, x.suspected, x.action, x.start_date, x.end_date, x.outcome, x.detail";
const ALLERGY_COLS: &str = "x.allergen_type, x.allergen_type_code, x.allergen_code, x.allergen_system, x.allergen_name, x.severity, x.reaction, x.identified, x.detail";
const ENC_COLS: &str =
    "x.event, x.admitted_at, x.discharged_at, x.ward, x.room, x.department, x.detail";

/// The `detail` column at `i`, decoded; a detail this renkei cannot read is a database error
/// naming the column, not a silently empty detail.
fn detail<T: serde::de::DeserializeOwned + Default>(r: &Row<'_>, i: usize) -> rusqlite::Result<T> {
    let text: String = r.get(i)?;
    store::detail::decode(&text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
    })
}

fn lab(r: &Row<'_>, o: usize) -> rusqlite::Result<LabFact> {
    Ok(LabFact {
        code: r.get(o)?,
        code_system: r.get(o + 1)?,
        local_code: r.get(o + 2)?,
        name: r.get(o + 3)?,
        value_type: r.get(o + 4)?,
        value: r.get(o + 5)?,
        unit: r.get(o + 6)?,
        reference_range: r.get(o + 7)?,
        abnormal_flag: r.get(o + 8)?,
        status: r.get(o + 9)?,
        observed_at: r.get(o + 10)?,
        detail: detail(r, o + 11)?,
    })
}

fn medication(r: &Row<'_>, o: usize) -> rusqlite::Result<MedicationFact> {
    Ok(MedicationFact {
        rp: r.get(o)?,
        hot_code: r.get(o + 1)?,
        yj_code: r.get(o + 2)?,
        local_code: r.get(o + 3)?,
        drug_name: r.get(o + 4)?,
        dose: r.get(o + 5)?,
        dose_unit: r.get(o + 6)?,
        daily_dose: r.get(o + 7)?,
        usage: r.get(o + 8)?,
        route: r.get(o + 9)?,
        days: r
            .get::<_, Option<i64>>(o + 10)?
            .map(|d| d.clamp(0, u32::MAX as i64) as u32),
        start_date: r.get(o + 11)?,
        end_date: r.get(o + 12)?,
        ordered_at: r.get(o + 13)?,
        detail: detail(r, o + 14)?,
    })
}

fn diagnosis(r: &Row<'_>, o: usize) -> rusqlite::Result<DiagnosisFact> {
    Ok(DiagnosisFact {
        name: r.get(o)?,
        medis_code: r.get(o + 1)?,
        icd10: r.get(o + 2)?,
        main: r.get(o + 3)?,
        suspected: r.get(o + 4)?,
        action: r.get(o + 5)?,
        start_date: r.get(o + 6)?,
        end_date: r.get(o + 7)?,
        outcome: r.get(o + 8)?,
        detail: detail(r, o + 9)?,
    })
}

fn allergy(r: &Row<'_>, o: usize) -> rusqlite::Result<AllergyFact> {
    Ok(AllergyFact {
        allergen_type: r.get(o)?,
        allergen_type_code: r.get(o + 1)?,
        allergen_code: r.get(o + 2)?,
        allergen_system: r.get(o + 3)?,
        allergen_name: r.get(o + 4)?,
        severity: r.get(o + 5)?,
        reaction: r.get(o + 6)?,
        identified: r.get(o + 7)?,
        detail: detail(r, o + 8)?,
    })
}

fn encounter(r: &Row<'_>, o: usize) -> rusqlite::Result<EncounterFact> {
    Ok(EncounterFact {
        event: r.get(o)?,
        admitted_at: r.get(o + 1)?,
        discharged_at: r.get(o + 2)?,
        ward: r.get(o + 3)?,
        room: r.get(o + 4)?,
        department: r.get(o + 5)?,
        detail: detail(r, o + 6)?,
    })
}

fn row<T>(
    r: &Row<'_>,
    fact: impl Fn(&Row<'_>, usize) -> rusqlite::Result<T>,
) -> rusqlite::Result<FactRow<T>> {
    Ok(FactRow {
        version_id: r.get(0)?,
        line: r.get::<_, i64>(1)? as u32,
        kind: r.get(2)?,
        date: r.get(3)?,
        order_no: r.get(4)?,
        written_at: r.get(5)?,
        fact: fact(r, 6)?,
    })
}

/// Live facts of `table` for one local patient. `extra` adds conditions on `x` (the fact
/// table) with parameters from ?3 on; `order` is the ORDER BY clause.
fn live<T>(
    conn: &Connection,
    (table, cols): (&str, &str),
    facility: FacilityId,
    patient_id: &str,
    (extra, extra_params): (&str, &[&dyn ToSql]),
    order: &str,
    fact: impl Fn(&Row<'_>, usize) -> rusqlite::Result<T>,
) -> Result<Vec<FactRow<T>>> {
    // The record gives kind/date/order; the file's current version says whether it is live;
    // condition 1 is implied (facts are written for `_1` files only) but checked anyway.
    let sql = format!(
        "SELECT x.version_id, x.line, r.kind, r.date, r.order_no, r.written_at, {cols}
         FROM {table} x
         JOIN records r ON r.version_id = x.version_id
         JOIN files f ON f.id = r.file_id
         WHERE x.facility_id = ?1 AND x.patient_id = ?2 AND f.current_version = x.version_id
           AND r.condition = 1 {extra}
         ORDER BY {order}"
    );
    let mut st = conn.prepare_cached(&sql).map_err(db_err)?;
    let mut all: Vec<&dyn ToSql> = vec![&facility.0, &patient_id];
    all.extend_from_slice(extra_params);
    let rows = st
        .query_map(all.as_slice(), |r| row(r, &fact))
        .map_err(db_err)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(db_err)?;
    Ok(rows)
}

pub(crate) fn lab_results(
    conn: &Connection,
    facility: FacilityId,
    patient_id: &str,
    filter: &LabFilter,
) -> Result<Vec<FactRow<LabFact>>> {
    // Dates compare on the first 8 characters; `to` is inclusive, hence the `~` sentinel
    // (sorts after every digit).
    let from = filter.from.clone().unwrap_or_default();
    let to = filter
        .to
        .as_ref()
        .map(|t| format!("{}~", t.get(..8).unwrap_or(t)))
        .unwrap_or_else(|| "~".into());
    // Lab results or extended-storage observations (vitals), by the record's kind: the
    // constant is a known literal, inlined so that each choice has its cached statement.
    let mut extra = format!(
        "AND x.observed_at >= ?3 AND x.observed_at <= ?4 AND r.kind {} '{}'",
        if filter.extended { "<>" } else { "=" },
        store::LAB_RESULT_KIND
    );
    let mut params: Vec<&dyn ToSql> = vec![&from, &to];
    if !filter.codes.is_empty() {
        let marks: Vec<String> = (0..filter.codes.len())
            .map(|i| format!("?{}", i + 5))
            .collect();
        extra.push_str(&format!(" AND x.code IN ({})", marks.join(", ")));
        params.extend(filter.codes.iter().map(|c| c as &dyn ToSql));
    }
    if filter.latest_per_test {
        // SQLite returns the other columns of the row that holds max(): the newest live
        // result of each code (ties: the newer version). Reads the patient's rows once,
        // in the clustered key's order, and returns one row per test.
        extra.push_str(" GROUP BY x.code");
        return live(
            conn,
            ("lab_results", LATEST_LAB_COLS),
            facility,
            patient_id,
            (&extra, &params),
            "x.observed_at DESC, x.code",
            lab,
        );
    }
    live(
        conn,
        ("lab_results", LAB_COLS),
        facility,
        patient_id,
        (&extra, &params),
        "x.observed_at DESC, x.version_id DESC, x.line",
        lab,
    )
}

pub(crate) fn medications(
    conn: &Connection,
    facility: FacilityId,
    patient_id: &str,
    active_on: Option<&str>,
) -> Result<Vec<FactRow<MedicationFact>>> {
    let order = "x.start_date DESC, x.version_id DESC, x.line";
    match active_on {
        Some(day) => {
            let day = day.get(..8).unwrap_or(day).to_owned();
            live(
                conn,
                ("medications", MED_COLS),
                facility,
                patient_id,
                (
                    "AND x.start_date <> '' AND x.start_date <= ?3 AND (x.end_date >= ?3 OR (x.end_date = '' AND x.start_date = ?3))",
                    &[&day],
                ),
                order,
                medication,
            )
        }
        None => live(
            conn,
            ("medications", MED_COLS),
            facility,
            patient_id,
            ("", &[]),
            order,
            medication,
        ),
    }
}

pub(crate) fn diagnoses(
    conn: &Connection,
    facility: FacilityId,
    patient_id: &str,
) -> Result<Vec<FactRow<DiagnosisFact>>> {
    live(
        conn,
        ("diagnoses", DIAG_COLS),
        facility,
        patient_id,
        ("", &[]),
        "x.start_date DESC, x.version_id DESC, x.line",
        diagnosis,
    )
}

pub(crate) fn allergies(
    conn: &Connection,
    facility: FacilityId,
    patient_id: &str,
) -> Result<Vec<FactRow<AllergyFact>>> {
    live(
        conn,
        ("allergies", ALLERGY_COLS),
        facility,
        patient_id,
        ("", &[]),
        "x.version_id DESC, x.line",
        allergy,
    )
}

pub(crate) fn encounters(
    conn: &Connection,
    facility: FacilityId,
    patient_id: &str,
) -> Result<Vec<FactRow<EncounterFact>>> {
    live(
        conn,
        ("encounters", ENC_COLS),
        facility,
        patient_id,
        ("", &[]),
        "max(x.admitted_at, x.discharged_at) DESC, x.version_id DESC, x.line",
        encounter,
    )
}

/// Facts of every version of one order, oldest version first, live or not.
pub(crate) fn order_fact_history(
    conn: &Connection,
    facility: FacilityId,
    patient_id: &str,
    kind: &str,
    order_no: &str,
) -> Result<Vec<HistoricFact>> {
    type Reader = fn(&Row<'_>, usize) -> rusqlite::Result<Fact>;
    let (table, cols, read): (&str, &str, Reader) = match kind {
        "OML-11" => ("lab_results", LAB_COLS, |r, o| lab(r, o).map(Fact::Lab)),
        "OMP-01" | "OMP-02" | "OMP-11" | "OMP-12" => ("medications", MED_COLS, |r, o| {
            medication(r, o).map(Fact::Medication)
        }),
        "PPR-01" => ("diagnoses", DIAG_COLS, |r, o| {
            diagnosis(r, o).map(Fact::Diagnosis)
        }),
        "ADT-61" | "ADT-00" => ("allergies", ALLERGY_COLS, |r, o| {
            allergy(r, o).map(Fact::Allergy)
        }),
        "ADT-21" | "ADT-22" | "ADT-41" | "ADT-42" | "ADT-51" | "ADT-52" => {
            ("encounters", ENC_COLS, |r, o| {
                encounter(r, o).map(Fact::Encounter)
            })
        }
        _ => return Ok(Vec::new()),
    };
    // records_by_order finds every version of the order; each version's facts are found
    // within the patient's rows (the fact tables are clustered by patient).
    let sql = format!(
        "SELECT x.version_id, x.line, r.kind, r.date, r.order_no, r.written_at, {cols},
                f.current_version = r.version_id AND r.condition = 1
         FROM records r
         JOIN {table} x ON x.facility_id = r.facility_id AND x.patient_id = r.patient_id
                       AND x.version_id = r.version_id
         JOIN files f ON f.id = r.file_id
         WHERE r.facility_id = ?1 AND r.patient_id = ?2 AND r.kind = ?3 AND r.order_no = ?4
         ORDER BY r.written_at, r.version_id, x.line"
    );
    let mut st = conn.prepare_cached(&sql).map_err(db_err)?;
    let live_col = 6 + cols.split(',').count();
    let rows = st
        .query_map(params![facility.0, patient_id, kind, order_no], |r| {
            Ok(HistoricFact {
                row: row(r, read)?,
                live: r.get(live_col)?,
            })
        })
        .map_err(db_err)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(db_err)?;
    Ok(rows)
}

/// Every table of facts: a re-derived version's facts are deleted from each before its new
/// facts are written.
const FACT_TABLES: [&str; 5] = [
    "lab_results",
    "medications",
    "diagnoses",
    "allergies",
    "encounters",
];

pub(crate) fn backfill_next(
    conn: &Connection,
    limit: usize,
    kinds: &[String],
    extended_messages: &[String],
) -> Result<Vec<BackfillItem>> {
    if kinds.is_empty() && extended_messages.is_empty() {
        return Ok(Vec::new());
    }
    // Data kind codes are `AAA-00`, message codes `AAA`: quoted inline (checked), so that
    // one cached statement serves each list.
    if let Some(bad) = kinds
        .iter()
        .chain(extended_messages)
        .find(|k| !k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
    {
        return Err(store::StoreError::Database(format!(
            "facts backfill: {bad:?} is not a data kind or message code"
        )));
    }
    let quoted = |list: &[String]| {
        list.iter()
            .map(|k| format!("'{k}'"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (fact_kinds, messages) = (quoted(kinds), quoted(extended_messages));
    // Extended-storage HL7 documents by their message code (MSH-9.1: the message type up
    // to its `^`).
    let which = format!(
        "((r.storage = 'S' AND r.kind IN ({fact_kinds}))
             OR (r.storage = 'E' AND substr(r.message_type, 1, instr(r.message_type || '^', '^') - 1) IN ({messages})))"
    );
    // The range is read first and bound as constants: joined from `facts_backfill`, SQLite
    // built an automatic index over every record and sorted the whole range for each batch
    // (10 s per batch at 10M records); with constants it walks the records' primary key
    // from `next` and stops at the limit.
    let (next, upto): (i64, i64) = conn
        .query_row("SELECT next_version, upto FROM facts_backfill", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()
        .map_err(db_err)?
        .unwrap_or((1, 0));
    if next > upto {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT r.facility_id, r.version_id, f.path, r.patient_id, v.sha256
         FROM records r
         JOIN files f ON f.id = r.file_id AND f.current_version = r.version_id
         JOIN file_versions v ON v.id = r.version_id
         WHERE r.version_id >= ?2 AND r.version_id <= ?3
           AND r.condition = 1 AND {which}
         ORDER BY r.version_id LIMIT ?1"
    );
    let mut st = conn.prepare_cached(&sql).map_err(db_err)?;
    let rows = st
        .query_map(params![limit as i64, next, upto], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, Vec<u8>>(4)?,
            ))
        })
        .map_err(db_err)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(db_err)?;
    rows.into_iter()
        .map(|(facility, version_id, path, patient_id, sha)| {
            Ok(BackfillItem {
                facility: FacilityId(facility),
                version_id,
                path,
                patient_id,
                sha256: crate::sha_from(sha)?,
            })
        })
        .collect()
}

pub(crate) fn backfill_put(
    conn: &mut Connection,
    facts: &[BackfilledFacts],
    done_through: i64,
) -> Result<()> {
    let tx = conn.transaction().map_err(db_err)?;
    {
        // A re-derived version replaces its facts. The tables are clustered by patient (and
        // lab results then by test code), so a delete by version reads all of the patient's
        // rows: one delete per patient and table for the whole batch, not one per version —
        // a batch's versions belong to a few patients (they were imported folder by folder).
        let mut deletes = FACT_TABLES
            .iter()
            .map(|t| {
                tx.prepare_cached(&format!(
                    "DELETE FROM {t} WHERE facility_id = ?1 AND patient_id = ?2
                       AND version_id IN (SELECT value FROM json_each(?3))"
                ))
            })
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(db_err)?;
        let mut by_patient: std::collections::BTreeMap<(i64, &str), Vec<i64>> =
            std::collections::BTreeMap::new();
        for f in facts {
            by_patient
                .entry((f.facility.0, f.patient_id.as_str()))
                .or_default()
                .push(f.version_id);
        }
        for ((facility, patient), versions) in &by_patient {
            let list = serde_json::to_string(versions).map_err(|e| {
                store::StoreError::Database(format!("facts backfill: version list: {e}"))
            })?;
            for d in &mut deletes {
                d.execute(params![facility, patient, list])
                    .map_err(db_err)?;
            }
        }
        let mut writer = FactWriter::new(&tx)?;
        let mut set_cancels = tx
            .prepare_cached("UPDATE records SET cancels = 1 WHERE version_id = ?1 AND cancels = 0")
            .map_err(db_err)?;
        for f in facts {
            writer.insert(f.facility, &f.patient_id, f.version_id, &f.facts)?;
            if f.cancels {
                set_cancels.execute([f.version_id]).map_err(db_err)?;
            }
        }
    }
    tx.execute(
        "UPDATE facts_backfill SET next_version = max(next_version, ?1 + 1) WHERE next_version <= upto",
        [done_through],
    )
    .map_err(db_err)?;
    tx.commit().map_err(db_err)
}

pub(crate) fn rederive(conn: &mut Connection, extractor: u32) -> Result<bool> {
    let tx = conn.transaction().map_err(db_err)?;
    let stored: i64 = tx
        .query_row("SELECT extractor FROM facts_backfill", [], |r| r.get(0))
        .map_err(db_err)?;
    if stored >= i64::from(extractor) {
        return Ok(false);
    }
    tx.execute(
        "UPDATE facts_backfill SET next_version = 1,
             upto = (SELECT COALESCE(MAX(version_id), 0) FROM records), extractor = ?1",
        [i64::from(extractor)],
    )
    .map_err(db_err)?;
    tx.commit().map_err(db_err)?;
    Ok(true)
}
