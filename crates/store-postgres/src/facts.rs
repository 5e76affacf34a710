//! Clinical facts for the viewer on PostgreSQL: written with each batch, read per patient.

use sqlx::{PgConnection, PgPool};
use store::{
    AllergyFact, BackfillItem, BackfilledFacts, ClinicalFact, DiagnosisFact, EncounterFact,
    FacilityId, FactRow, HistoricFact, LabFact, LabFilter, MedicationFact, Result,
};

/// The facts of one new record version, as `write_batch` hands them over.
pub(crate) struct FactsOf<'a> {
    pub patient_id: &'a str,
    pub version_id: i64,
    pub facts: &'a [ClinicalFact],
}

/// Insert the facts of a batch's new versions, inside the batch's transaction (a few
/// multi-row statements per batch, not one per fact).
pub(crate) async fn insert(
    tx: &mut PgConnection,
    facility: FacilityId,
    items: &[FactsOf<'_>],
) -> Result<()> {
    unimplemented!("facts::insert")
}

pub(crate) async fn lab_results(
    pool: &PgPool,
    facility: FacilityId,
    local_id: &str,
    filter: &LabFilter,
) -> Result<Vec<FactRow<LabFact>>> {
    unimplemented!("lab_results")
}

pub(crate) async fn medications(
    pool: &PgPool,
    facility: FacilityId,
    local_id: &str,
    active_on: Option<&str>,
) -> Result<Vec<FactRow<MedicationFact>>> {
    unimplemented!("medications")
}

pub(crate) async fn diagnoses(
    pool: &PgPool,
    facility: FacilityId,
    local_id: &str,
) -> Result<Vec<FactRow<DiagnosisFact>>> {
    unimplemented!("diagnoses")
}

pub(crate) async fn allergies(
    pool: &PgPool,
    facility: FacilityId,
    local_id: &str,
) -> Result<Vec<FactRow<AllergyFact>>> {
    unimplemented!("allergies")
}

pub(crate) async fn encounters(
    pool: &PgPool,
    facility: FacilityId,
    local_id: &str,
) -> Result<Vec<FactRow<EncounterFact>>> {
    unimplemented!("encounters")
}

pub(crate) async fn order_fact_history(
    pool: &PgPool,
    facility: FacilityId,
    local_id: &str,
    kind: &str,
    order_no: &str,
) -> Result<Vec<HistoricFact>> {
    unimplemented!("order_fact_history")
}

pub(crate) async fn backfill_next(pool: &PgPool, limit: usize) -> Result<Vec<BackfillItem>> {
    unimplemented!("backfill_next")
}

pub(crate) async fn backfill_put(
    pool: &PgPool,
    facts: &[BackfilledFacts],
    done_through: i64,
) -> Result<()> {
    unimplemented!("backfill_put")
}
