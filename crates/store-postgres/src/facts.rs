//! Clinical facts for the viewer on PostgreSQL: written with each batch, read per patient.
//!
//! The same tables, columns and liveness rule as the embedded store (see its `facts`
//! module): a fact is live while its version is its file's current version (and its record
//! is a condition-1 `_1` file). Every per-patient read names `facility_id = $1 AND
//! patient_id = $2` on each partitioned table it touches, so PostgreSQL reads one partition
//! of each.

use std::collections::{BTreeMap, HashMap};

use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::Query;
use sqlx::{Acquire, PgConnection, PgPool, Postgres, Row};
use store::{
    AllergyFact, BackfillItem, BackfilledFacts, ClinicalFact, DiagnosisFact, EncounterFact,
    FacilityId, Fact, FactRow, HistoricFact, LabFact, LabFilter, MedicationFact, Result,
};

use crate::db_err;

/// The facts of one new record version, as `write_batch` hands them over, with the
/// record's columns each fact row carries (see the schema: a live fact is read without a
/// lookup of its record).
pub(crate) struct FactsOf<'a> {
    pub patient_id: &'a str,
    pub version_id: i64,
    pub kind: &'a str,
    pub date: &'a str,
    pub order_no: &'a str,
    pub written_at: &'a str,
    /// Whether the version is its file's current version (always, when just written).
    pub current: bool,
    pub facts: &'a [ClinicalFact],
}

/// A fact table's columns besides the common ones (`facility_id, version_id, line,
/// patient_id` and the record's `kind, date, order_no, written_at, current`): integer
/// columns first, then text columns, as [`Columns`] collects them.
struct TableSpec {
    table: &'static str,
    ints: &'static [&'static str],
    texts: &'static [&'static str],
}

const LAB_TABLE: TableSpec = TableSpec {
    table: "lab_results",
    ints: &[],
    texts: &[
        "code",
        "code_system",
        "local_code",
        "name",
        "value_type",
        "value",
        "unit",
        "reference_range",
        "abnormal_flag",
        "status",
        "observed_at",
    ],
};
const MED_TABLE: TableSpec = TableSpec {
    table: "medications",
    ints: &["days"],
    texts: &[
        "rp",
        "hot_code",
        "yj_code",
        "local_code",
        "drug_name",
        "dose",
        "dose_unit",
        "daily_dose",
        "usage",
        "route",
        "start_date",
        "end_date",
        "ordered_at",
    ],
};
const DIAG_TABLE: TableSpec = TableSpec {
    table: "diagnoses",
    ints: &["main", "suspected"],
    texts: &[
        "name",
        "medis_code",
        "icd10",
        "action",
        "start_date",
        "end_date",
        "outcome",
    ],
};
const ALLERGY_TABLE: TableSpec = TableSpec {
    table: "allergies",
    ints: &[],
    texts: &[
        "allergen_type",
        "allergen_type_code",
        "allergen_code",
        "allergen_system",
        "allergen_name",
        "severity",
        "reaction",
        "identified",
    ],
};
const ENC_TABLE: TableSpec = TableSpec {
    table: "encounters",
    ints: &[],
    texts: &[
        "event",
        "admitted_at",
        "discharged_at",
        "ward",
        "room",
        "department",
    ],
};

/// The rows of one fact table for one multi-row insert, column by column (each column is
/// bound as one array and the rows are rebuilt by `UNNEST`).
struct Columns<'a> {
    spec: &'static TableSpec,
    version_id: Vec<i64>,
    line: Vec<i64>,
    patient_id: Vec<&'a str>,
    kind: Vec<&'a str>,
    date: Vec<&'a str>,
    order_no: Vec<&'a str>,
    written_at: Vec<&'a str>,
    current: Vec<bool>,
    ints: Vec<Vec<Option<i64>>>,
    texts: Vec<Vec<&'a str>>,
    /// The `detail` column (`store::detail`), last in every table's insert.
    details: Vec<String>,
}

impl<'a> Columns<'a> {
    fn new(spec: &'static TableSpec) -> Columns<'a> {
        Columns {
            spec,
            version_id: Vec::new(),
            line: Vec::new(),
            patient_id: Vec::new(),
            kind: Vec::new(),
            date: Vec::new(),
            order_no: Vec::new(),
            written_at: Vec::new(),
            current: Vec::new(),
            ints: vec![Vec::new(); spec.ints.len()],
            texts: vec![Vec::new(); spec.texts.len()],
            details: Vec::new(),
        }
    }

    fn push<const I: usize, const T: usize>(
        &mut self,
        item: &FactsOf<'a>,
        line: u32,
        ints: [Option<i64>; I],
        texts: [&'a str; T],
        detail: String,
    ) {
        debug_assert_eq!((I, T), (self.spec.ints.len(), self.spec.texts.len()));
        self.version_id.push(item.version_id);
        self.line.push(i64::from(line));
        self.patient_id.push(item.patient_id);
        self.kind.push(item.kind);
        self.date.push(item.date);
        self.order_no.push(item.order_no);
        self.written_at.push(item.written_at);
        self.current.push(item.current);
        for (col, v) in self.ints.iter_mut().zip(ints) {
            col.push(v);
        }
        for (col, v) in self.texts.iter_mut().zip(texts) {
            col.push(v);
        }
        self.details.push(detail);
    }

    /// One `INSERT … SELECT … FROM UNNEST(…)` for all the rows; nothing when there are none.
    async fn write(self, tx: &mut PgConnection, facility: FacilityId) -> Result<()> {
        if self.version_id.is_empty() {
            return Ok(());
        }
        let spec = self.spec;
        let mut cols = vec![
            "facility_id",
            "version_id",
            "line",
            "patient_id",
            "kind",
            "date",
            "order_no",
            "written_at",
            "current",
        ];
        cols.extend_from_slice(spec.ints);
        cols.extend_from_slice(spec.texts);
        let mut arrays = vec![
            "$2::bigint[]".to_owned(),
            "$3::bigint[]".to_owned(),
            "$4::text[]".to_owned(),
            "$5::text[]".to_owned(),
            "$6::text[]".to_owned(),
            "$7::text[]".to_owned(),
            "$8::text[]".to_owned(),
            "$9::boolean[]".to_owned(),
        ];
        let mut n = 9;
        for _ in spec.ints {
            n += 1;
            arrays.push(format!("${n}::bigint[]"));
        }
        for _ in spec.texts {
            n += 1;
            arrays.push(format!("${n}::text[]"));
        }
        cols.push("detail");
        arrays.push(format!("${}::text[]", n + 1));
        let sql = format!(
            "INSERT INTO {}({}) SELECT $1::bigint, u.* FROM UNNEST({}) AS u",
            spec.table,
            cols.join(", "),
            arrays.join(", ")
        );
        let mut q = sqlx::query(&sql)
            .bind(facility.0)
            .bind(self.version_id)
            .bind(self.line)
            .bind(self.patient_id)
            .bind(self.kind)
            .bind(self.date)
            .bind(self.order_no)
            .bind(self.written_at)
            .bind(self.current);
        for col in self.ints {
            q = q.bind(col);
        }
        for col in self.texts {
            q = q.bind(col);
        }
        q = q.bind(self.details);
        q.execute(&mut *tx).await.map_err(db_err)?;
        Ok(())
    }
}

/// Insert the facts of a batch's new versions, inside the batch's transaction (a few
/// multi-row statements per batch, not one per fact).
pub(crate) async fn insert(
    tx: &mut PgConnection,
    facility: FacilityId,
    items: &[FactsOf<'_>],
) -> Result<()> {
    let mut lab = Columns::new(&LAB_TABLE);
    let mut med = Columns::new(&MED_TABLE);
    let mut diag = Columns::new(&DIAG_TABLE);
    let mut allergy = Columns::new(&ALLERGY_TABLE);
    let mut enc = Columns::new(&ENC_TABLE);
    for item in items {
        for ClinicalFact { line, fact } in item.facts {
            let line = *line;
            match fact {
                Fact::Lab(l) => lab.push(
                    item,
                    line,
                    [],
                    [
                        &l.code,
                        &l.code_system,
                        &l.local_code,
                        &l.name,
                        &l.value_type,
                        &l.value,
                        &l.unit,
                        &l.reference_range,
                        &l.abnormal_flag,
                        &l.status,
                        &l.observed_at,
                    ],
                    store::detail::encode(&l.detail),
                ),
                Fact::Medication(m) => med.push(
                    item,
                    line,
                    [m.days.map(i64::from)],
                    [
                        &m.rp,
                        &m.hot_code,
                        &m.yj_code,
                        &m.local_code,
                        &m.drug_name,
                        &m.dose,
                        &m.dose_unit,
                        &m.daily_dose,
                        &m.usage,
                        &m.route,
                        &m.start_date,
                        &m.end_date,
                        &m.ordered_at,
                    ],
                    store::detail::encode(&m.detail),
                ),
                Fact::Diagnosis(d) => diag.push(
                    item,
                    line,
                    [Some(i64::from(d.main)), Some(i64::from(d.suspected))],
                    [
                        &d.name,
                        &d.medis_code,
                        &d.icd10,
                        &d.action,
                        &d.start_date,
                        &d.end_date,
                        &d.outcome,
                    ],
                    store::detail::encode(&d.detail),
                ),
                Fact::Allergy(a) => allergy.push(
                    item,
                    line,
                    [],
                    [
                        &a.allergen_type,
                        &a.allergen_type_code,
                        &a.allergen_code,
                        &a.allergen_system,
                        &a.allergen_name,
                        &a.severity,
                        &a.reaction,
                        &a.identified,
                    ],
                    store::detail::encode(&a.detail),
                ),
                Fact::Encounter(e) => enc.push(
                    item,
                    line,
                    [],
                    [
                        &e.event,
                        &e.admitted_at,
                        &e.discharged_at,
                        &e.ward,
                        &e.room,
                        &e.department,
                    ],
                    store::detail::encode(&e.detail),
                ),
            }
        }
    }
    for cols in [lab, med, diag, allergy, enc] {
        cols.write(tx, facility).await?;
    }
    Ok(())
}

/// Columns of a fact table, in the order the row readers below expect (after the 6 common
/// columns `version_id, line, kind, date, order_no, written_at`).
const LAB_COLS: &str = "x.code, x.code_system, x.local_code, x.name, x.value_type, x.value, x.unit, x.reference_range, x.abnormal_flag, x.status, x.observed_at, x.detail";
const MED_COLS: &str = "x.rp, x.hot_code, x.yj_code, x.local_code, x.drug_name, x.dose, x.dose_unit, x.daily_dose, x.usage, x.route, x.days, x.start_date, x.end_date, x.ordered_at, x.detail";
const DIAG_COLS: &str = "x.name, x.medis_code, x.icd10, x.main, x.suspected, x.action, x.start_date, x.end_date, x.outcome, x.detail";
const ALLERGY_COLS: &str = "x.allergen_type, x.allergen_type_code, x.allergen_code, x.allergen_system, x.allergen_name, x.severity, x.reaction, x.identified, x.detail";
const ENC_COLS: &str =
    "x.event, x.admitted_at, x.discharged_at, x.ward, x.room, x.department, x.detail";

type Reader<T> = fn(&PgRow, usize) -> sqlx::Result<T>;

/// The `detail` column at `i`, decoded; one this renkei cannot read is an error naming the
/// column, not a silently empty detail.
fn detail<T: serde::de::DeserializeOwned + Default>(r: &PgRow, i: usize) -> sqlx::Result<T> {
    let text: String = r.try_get(i)?;
    store::detail::decode(&text).map_err(|e| sqlx::Error::ColumnDecode {
        index: format!("{i} (detail)"),
        source: Box::new(e),
    })
}

fn lab(r: &PgRow, o: usize) -> sqlx::Result<LabFact> {
    Ok(LabFact {
        code: r.try_get(o)?,
        code_system: r.try_get(o + 1)?,
        local_code: r.try_get(o + 2)?,
        name: r.try_get(o + 3)?,
        value_type: r.try_get(o + 4)?,
        value: r.try_get(o + 5)?,
        unit: r.try_get(o + 6)?,
        reference_range: r.try_get(o + 7)?,
        abnormal_flag: r.try_get(o + 8)?,
        status: r.try_get(o + 9)?,
        observed_at: r.try_get(o + 10)?,
        detail: detail(r, o + 11)?,
    })
}

fn medication(r: &PgRow, o: usize) -> sqlx::Result<MedicationFact> {
    Ok(MedicationFact {
        rp: r.try_get(o)?,
        hot_code: r.try_get(o + 1)?,
        yj_code: r.try_get(o + 2)?,
        local_code: r.try_get(o + 3)?,
        drug_name: r.try_get(o + 4)?,
        dose: r.try_get(o + 5)?,
        dose_unit: r.try_get(o + 6)?,
        daily_dose: r.try_get(o + 7)?,
        usage: r.try_get(o + 8)?,
        route: r.try_get(o + 9)?,
        days: r
            .try_get::<Option<i64>, _>(o + 10)?
            .map(|d| d.clamp(0, u32::MAX as i64) as u32),
        start_date: r.try_get(o + 11)?,
        end_date: r.try_get(o + 12)?,
        ordered_at: r.try_get(o + 13)?,
        detail: detail(r, o + 14)?,
    })
}

fn diagnosis(r: &PgRow, o: usize) -> sqlx::Result<DiagnosisFact> {
    Ok(DiagnosisFact {
        name: r.try_get(o)?,
        medis_code: r.try_get(o + 1)?,
        icd10: r.try_get(o + 2)?,
        // Stored as integers, as SQLite stores booleans.
        main: r.try_get::<i64, _>(o + 3)? != 0,
        suspected: r.try_get::<i64, _>(o + 4)? != 0,
        action: r.try_get(o + 5)?,
        start_date: r.try_get(o + 6)?,
        end_date: r.try_get(o + 7)?,
        outcome: r.try_get(o + 8)?,
        detail: detail(r, o + 9)?,
    })
}

fn allergy(r: &PgRow, o: usize) -> sqlx::Result<AllergyFact> {
    Ok(AllergyFact {
        allergen_type: r.try_get(o)?,
        allergen_type_code: r.try_get(o + 1)?,
        allergen_code: r.try_get(o + 2)?,
        allergen_system: r.try_get(o + 3)?,
        allergen_name: r.try_get(o + 4)?,
        severity: r.try_get(o + 5)?,
        reaction: r.try_get(o + 6)?,
        identified: r.try_get(o + 7)?,
        detail: detail(r, o + 8)?,
    })
}

fn encounter(r: &PgRow, o: usize) -> sqlx::Result<EncounterFact> {
    Ok(EncounterFact {
        event: r.try_get(o)?,
        admitted_at: r.try_get(o + 1)?,
        discharged_at: r.try_get(o + 2)?,
        ward: r.try_get(o + 3)?,
        room: r.try_get(o + 4)?,
        department: r.try_get(o + 5)?,
        detail: detail(r, o + 6)?,
    })
}

fn row<T>(r: &PgRow, fact: Reader<T>) -> sqlx::Result<FactRow<T>> {
    Ok(FactRow {
        version_id: r.try_get(0)?,
        line: r.try_get::<i64, _>(1)? as u32,
        kind: r.try_get(2)?,
        date: r.try_get(3)?,
        order_no: r.try_get(4)?,
        written_at: r.try_get(5)?,
        fact: fact(r, 6)?,
    })
}

/// A parameter of a fact read after `$1` (facility) and `$2` (patient).
enum Param {
    Text(String),
    Texts(Vec<String>),
}

fn bind_all(
    mut q: Query<'_, Postgres, PgArguments>,
    params: Vec<Param>,
) -> Query<'_, Postgres, PgArguments> {
    for p in params {
        q = match p {
            Param::Text(s) => q.bind(s),
            Param::Texts(v) => q.bind(v),
        };
    }
    q
}

/// Live facts of `table` for one local patient. `extra` adds conditions on `x` (the fact
/// table) with parameters from $3 on; `order` is the ORDER BY clause.
async fn live<T>(
    pool: &PgPool,
    (table, cols): (&str, &str),
    facility: FacilityId,
    patient_id: &str,
    (extra, params): (&str, Vec<Param>),
    order: &str,
    fact: Reader<T>,
) -> Result<Vec<FactRow<T>>> {
    // Each row carries its record's columns and whether it is live (`current`; facts are
    // written for condition-1 `_1` files only): one range of one partition, no lookups.
    let sql = format!(
        "SELECT x.version_id, x.line, x.kind, x.date, x.order_no, x.written_at, {cols}
         FROM {table} x
         WHERE x.facility_id = $1 AND x.patient_id = $2 AND x.current {extra}
         ORDER BY {order}"
    );
    let rows = bind_all(sqlx::query(&sql).bind(facility.0).bind(patient_id), params)
        .fetch_all(pool)
        .await
        .map_err(db_err)?;
    rows.iter().map(|r| row(r, fact).map_err(db_err)).collect()
}

pub(crate) async fn lab_results(
    pool: &PgPool,
    facility: FacilityId,
    local_id: &str,
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
    // Lab results or extended-storage observations (vitals), by the record's kind (the
    // constant is a known literal).
    let mut extra = format!(
        "AND x.observed_at >= $3 AND x.observed_at <= $4 AND x.kind {} '{}'",
        if filter.extended { "<>" } else { "=" },
        store::LAB_RESULT_KIND
    );
    let mut params = vec![Param::Text(from), Param::Text(to)];
    if !filter.codes.is_empty() {
        extra.push_str(" AND x.code = ANY($5::text[])");
        params.push(Param::Texts(filter.codes.clone()));
    }
    if filter.latest_per_test {
        return latest_labs(pool, facility, local_id, &extra, params).await;
    }
    live(
        pool,
        ("lab_results", LAB_COLS),
        facility,
        local_id,
        (&extra, params),
        "x.observed_at DESC, x.version_id DESC, x.line",
        lab,
    )
    .await
}

/// [`lab_results`] with `latest_per_test`. The embedded store's choice, exactly: per code,
/// the live row with the greatest `observed_at || printf('%012d', version_id)` (the newest
/// result; ties: the newer version; then the first line), the results newest first. The
/// patient's live rows are read once (one partition's primary-key range) and sorted on the
/// few columns that decide the choice; only the chosen rows (one per test) are then read
/// whole, by primary key. Sorting whole rows instead — thousands of results with a dozen
/// text columns each — spilled past `work_mem` and took most of the summary's time.
async fn latest_labs(
    pool: &PgPool,
    facility: FacilityId,
    patient_id: &str,
    extra: &str,
    params: Vec<Param>,
) -> Result<Vec<FactRow<LabFact>>> {
    let cols = LAB_COLS.replace("x.", "y.");
    let sql = format!(
        "SELECT y.version_id, y.line, y.kind, y.date, y.order_no, y.written_at, {cols}
         FROM (
           SELECT DISTINCT ON (x.code) x.code, x.observed_at, x.version_id, x.line
           FROM lab_results x
           WHERE x.facility_id = $1 AND x.patient_id = $2 AND x.current {extra}
           ORDER BY x.code,
                    (x.observed_at || lpad(x.version_id::text, greatest(12, length(x.version_id::text)), '0')) COLLATE \"C\" DESC,
                    x.line
         ) latest
         JOIN lab_results y ON y.facility_id = $1 AND y.patient_id = $2 AND y.code = latest.code
              AND y.observed_at = latest.observed_at AND y.version_id = latest.version_id
              AND y.line = latest.line
         ORDER BY y.observed_at DESC, y.code"
    );
    let rows = bind_all(sqlx::query(&sql).bind(facility.0).bind(patient_id), params)
        .fetch_all(pool)
        .await
        .map_err(db_err)?;
    rows.iter().map(|r| row(r, lab).map_err(db_err)).collect()
}

pub(crate) async fn medications(
    pool: &PgPool,
    facility: FacilityId,
    local_id: &str,
    active_on: Option<&str>,
) -> Result<Vec<FactRow<MedicationFact>>> {
    let order = "x.start_date DESC, x.version_id DESC, x.line";
    let (extra, params) = match active_on {
        // A line without an end date covers its start day only; without a start date it is
        // never active.
        Some(day) => (
            "AND x.start_date <> '' AND x.start_date <= $3 AND (x.end_date >= $3 OR (x.end_date = '' AND x.start_date = $3))",
            vec![Param::Text(day.get(..8).unwrap_or(day).to_owned())],
        ),
        None => ("", Vec::new()),
    };
    live(
        pool,
        ("medications", MED_COLS),
        facility,
        local_id,
        (extra, params),
        order,
        medication,
    )
    .await
}

pub(crate) async fn diagnoses(
    pool: &PgPool,
    facility: FacilityId,
    local_id: &str,
) -> Result<Vec<FactRow<DiagnosisFact>>> {
    live(
        pool,
        ("diagnoses", DIAG_COLS),
        facility,
        local_id,
        ("", Vec::new()),
        "x.start_date DESC, x.version_id DESC, x.line",
        diagnosis,
    )
    .await
}

pub(crate) async fn allergies(
    pool: &PgPool,
    facility: FacilityId,
    local_id: &str,
) -> Result<Vec<FactRow<AllergyFact>>> {
    live(
        pool,
        ("allergies", ALLERGY_COLS),
        facility,
        local_id,
        ("", Vec::new()),
        "x.version_id DESC, x.line",
        allergy,
    )
    .await
}

pub(crate) async fn encounters(
    pool: &PgPool,
    facility: FacilityId,
    local_id: &str,
) -> Result<Vec<FactRow<EncounterFact>>> {
    live(
        pool,
        ("encounters", ENC_COLS),
        facility,
        local_id,
        ("", Vec::new()),
        // SQLite's scalar max(); both columns are NOT NULL and sort bytewise.
        "greatest(x.admitted_at, x.discharged_at) DESC, x.version_id DESC, x.line",
        encounter,
    )
    .await
}

/// The fact table a record kind's facts go to (see `ingest::facts`).
fn table_of_kind(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "OML-11" => "lab_results",
        "OMP-01" | "OMP-02" | "OMP-11" | "OMP-12" => "medications",
        "PPR-01" => "diagnoses",
        // ADT-00 carries AL1 allergies (issue 14 fault 1).
        "ADT-61" | "ADT-00" => "allergies",
        "ADT-21" | "ADT-22" | "ADT-41" | "ADT-42" | "ADT-51" | "ADT-52" => "encounters",
        _ => return None,
    })
}

/// The facts of these record versions stop being live (their files moved on): called with
/// the records [`crate::batch::supersede`] has just marked, in the same transaction.
pub(crate) async fn supersede(
    tx: &mut PgConnection,
    versions: &[(i64, String, i64, String)],
) -> Result<()> {
    // Per table: the (facility, patient, version) keys as three columns.
    type Keys<'a> = (Vec<i64>, Vec<&'a str>, Vec<i64>);
    let mut by_table: BTreeMap<&str, Keys<'_>> = BTreeMap::new();
    for (facility, patient, version, kind) in versions {
        if let Some(table) = table_of_kind(kind) {
            let e = by_table.entry(table).or_default();
            e.0.push(*facility);
            e.1.push(patient);
            e.2.push(*version);
        }
    }
    for (table, (facilities, patients, versions)) in by_table {
        // The full partition key per row: each lookup reads one partition's index.
        sqlx::query(&format!(
            "UPDATE {table} x SET current = false
             FROM UNNEST($1::bigint[], $2::text[], $3::bigint[]) AS o(f, p, v)
             WHERE x.facility_id = o.f AND x.patient_id = o.p AND x.version_id = o.v AND x.current"
        ))
        .bind(facilities)
        .bind(patients)
        .bind(versions)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    }
    Ok(())
}

/// Facts of every version of one order, oldest version first, live or not.
pub(crate) async fn order_fact_history(
    pool: &PgPool,
    facility: FacilityId,
    local_id: &str,
    kind: &str,
    order_no: &str,
) -> Result<Vec<HistoricFact>> {
    let Some(table) = table_of_kind(kind) else {
        return Ok(Vec::new());
    };
    let (cols, read): (&str, Reader<Fact>) = match table {
        "lab_results" => (LAB_COLS, |r, o| lab(r, o).map(Fact::Lab)),
        "medications" => (MED_COLS, |r, o| medication(r, o).map(Fact::Medication)),
        "diagnoses" => (DIAG_COLS, |r, o| diagnosis(r, o).map(Fact::Diagnosis)),
        "allergies" => (ALLERGY_COLS, |r, o| allergy(r, o).map(Fact::Allergy)),
        _ => (ENC_COLS, |r, o| encounter(r, o).map(Fact::Encounter)),
    };
    // records_by_order finds every version of the order; each version's facts are found
    // within the patient's rows (one partition of the fact table).
    let sql = format!(
        "SELECT x.version_id, x.line, r.kind, r.date, r.order_no, r.written_at, {cols},
                r.current AND r.condition = 1
         FROM records r
         JOIN {table} x ON x.facility_id = r.facility_id AND x.patient_id = r.patient_id
                       AND x.version_id = r.version_id
         WHERE r.facility_id = $1 AND r.patient_id = $2 AND r.kind = $3 AND r.order_no = $4
           AND x.facility_id = $1 AND x.patient_id = $2
         ORDER BY r.written_at, r.version_id, x.line"
    );
    let live_col = 6 + cols.split(',').count();
    let rows = sqlx::query(&sql)
        .bind(facility.0)
        .bind(local_id)
        .bind(kind)
        .bind(order_no)
        .fetch_all(pool)
        .await
        .map_err(db_err)?;
    rows.iter()
        .map(|r| {
            Ok(HistoricFact {
                row: row(r, read)?,
                live: r.try_get(live_col)?,
            })
        })
        .collect::<sqlx::Result<Vec<_>>>()
        .map_err(db_err)
}

pub(crate) async fn backfill_next(
    pool: &PgPool,
    limit: usize,
    kinds: &[String],
    extended_messages: &[String],
) -> Result<Vec<BackfillItem>> {
    if kinds.is_empty() && extended_messages.is_empty() {
        return Ok(Vec::new());
    }
    // Every import starts here; almost always there is nothing to do. The range is read
    // first and bound as constants: joined as columns, its bounds gave the planner no range
    // to scan records_by_version with, and it read the whole records table (0.4 s per import
    // at 1M records).
    let (next, upto): (i64, i64) = sqlx::query_as("SELECT next_version, upto FROM facts_backfill")
        .fetch_optional(pool)
        .await
        .map_err(db_err)?
        .unwrap_or((1, 0));
    if next > upto {
        return Ok(Vec::new());
    }
    let sql = "SELECT r.facility_id, r.version_id, f.path, r.patient_id, v.sha256
         FROM records r
         JOIN files f ON f.id = r.file_id
         JOIN file_versions v ON v.id = r.version_id
         WHERE r.version_id >= $2 AND r.version_id <= $3
           AND r.current AND r.condition = 1
           AND ((r.storage = 'S' AND r.kind = ANY($4::text[]))
                OR (r.storage = 'E' AND split_part(r.message_type, '^', 1) = ANY($5::text[])))
         ORDER BY r.version_id LIMIT $1";
    let rows = sqlx::query(sql)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .bind(next)
        .bind(upto)
        .bind(kinds)
        .bind(extended_messages)
        .fetch_all(pool)
        .await
        .map_err(db_err)?;
    rows.iter()
        .map(|r| {
            let sha: Vec<u8> = r.try_get(4).map_err(db_err)?;
            Ok(BackfillItem {
                facility: FacilityId(r.try_get(0).map_err(db_err)?),
                version_id: r.try_get(1).map_err(db_err)?,
                path: r.try_get(2).map_err(db_err)?,
                patient_id: r.try_get(3).map_err(db_err)?,
                sha256: crate::sha_from(sha)?,
            })
        })
        .collect()
}

pub(crate) async fn backfill_put(
    pool: &PgPool,
    facts: &[BackfilledFacts],
    done_through: i64,
) -> Result<()> {
    let mut tx = pool.begin().await.map_err(db_err)?;
    {
        let conn = tx.acquire().await.map_err(db_err)?;
        // The versions lock, as every writer that moves a file on takes it: the records'
        // `current` flags read here stay true until this commits, so the facts written with
        // them cannot miss a supersede.
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(crate::schema::VERSIONS_LOCK)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
        let rows = sqlx::query(
            "SELECT r.facility_id, r.version_id, r.kind, r.date, r.order_no, r.written_at, r.current
             FROM UNNEST($1::bigint[], $2::text[], $3::bigint[]) AS u(f, p, v)
             JOIN records r ON r.facility_id = u.f AND r.patient_id = u.p AND r.version_id = u.v",
        )
        .bind(facts.iter().map(|f| f.facility.0).collect::<Vec<_>>())
        .bind(facts.iter().map(|f| f.patient_id.as_str()).collect::<Vec<_>>())
        .bind(facts.iter().map(|f| f.version_id).collect::<Vec<_>>())
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
        type RecordCols = (String, String, String, String, bool);
        let mut records: HashMap<(i64, i64), RecordCols> = HashMap::with_capacity(rows.len());
        for r in &rows {
            records.insert(
                (r.try_get(0).map_err(db_err)?, r.try_get(1).map_err(db_err)?),
                (
                    r.try_get(2).map_err(db_err)?,
                    r.try_get(3).map_err(db_err)?,
                    r.try_get(4).map_err(db_err)?,
                    r.try_get(5).map_err(db_err)?,
                    r.try_get(6).map_err(db_err)?,
                ),
            );
        }
        let mut by_facility: BTreeMap<i64, Vec<FactsOf<'_>>> = BTreeMap::new();
        for f in facts {
            // A version whose record is gone has nothing to show facts for.
            let Some((kind, date, order_no, written_at, current)) =
                records.get(&(f.facility.0, f.version_id))
            else {
                continue;
            };
            by_facility.entry(f.facility.0).or_default().push(FactsOf {
                patient_id: &f.patient_id,
                version_id: f.version_id,
                kind,
                date,
                order_no,
                written_at,
                current: *current,
                facts: &f.facts,
            });
        }
        // A re-derived version replaces its facts.
        for table in FACT_TABLES {
            sqlx::query(&format!(
                "DELETE FROM {table} WHERE (facility_id, patient_id, version_id) IN
                     (SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::bigint[]))"
            ))
            .bind(facts.iter().map(|f| f.facility.0).collect::<Vec<_>>())
            .bind(
                facts
                    .iter()
                    .map(|f| f.patient_id.as_str())
                    .collect::<Vec<_>>(),
            )
            .bind(facts.iter().map(|f| f.version_id).collect::<Vec<_>>())
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
        }
        for (facility, items) in &by_facility {
            insert(&mut *conn, FacilityId(*facility), items).await?;
        }
        let cancelling: Vec<&BackfilledFacts> = facts.iter().filter(|f| f.cancels).collect();
        if !cancelling.is_empty() {
            sqlx::query(
                "UPDATE records SET cancels = true WHERE NOT cancels AND (facility_id, patient_id, version_id) IN
                     (SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::bigint[]))",
            )
            .bind(cancelling.iter().map(|f| f.facility.0).collect::<Vec<_>>())
            .bind(cancelling.iter().map(|f| f.patient_id.as_str()).collect::<Vec<_>>())
            .bind(cancelling.iter().map(|f| f.version_id).collect::<Vec<_>>())
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
        }
        sqlx::query(
            "UPDATE facts_backfill SET next_version = greatest(next_version, $1 + 1) WHERE next_version <= upto",
        )
        .bind(done_through)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    }
    tx.commit().await.map_err(db_err)
}

/// Every table of facts (see the embedded store's `FACT_TABLES`).
const FACT_TABLES: [&str; 5] = [
    "lab_results",
    "medications",
    "diagnoses",
    "allergies",
    "encounters",
];

pub(crate) async fn rederive(pool: &PgPool, extractor: u32) -> Result<bool> {
    let mut tx = pool.begin().await.map_err(db_err)?;
    let stored: i64 = sqlx::query_scalar("SELECT extractor FROM facts_backfill FOR UPDATE")
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
    if stored >= i64::from(extractor) {
        return Ok(false);
    }
    sqlx::query(
        "UPDATE facts_backfill SET next_version = 1,
             upto = (SELECT COALESCE(MAX(version_id), 0) FROM records), extractor = $1",
    )
    .bind(i64::from(extractor))
    .execute(&mut *tx)
    .await
    .map_err(db_err)?;
    tx.commit().await.map_err(db_err)?;
    Ok(true)
}
