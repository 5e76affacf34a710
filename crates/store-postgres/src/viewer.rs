//! The viewer's paged record reads and the patient name search on PostgreSQL.

use sqlx::PgPool;
use store::{
    FacilityId, LocalPatientHit, PagedRecord, PatientSearch, RecordFilter, RecordVersion, Result,
};

pub(crate) async fn search_local_patients(
    pool: &PgPool,
    search: &PatientSearch,
) -> Result<Vec<LocalPatientHit>> {
    unimplemented!("search_local_patients")
}

pub(crate) async fn patient_records_page(
    pool: &PgPool,
    facility: FacilityId,
    local_id: &str,
    filter: &RecordFilter,
) -> Result<Vec<PagedRecord>> {
    unimplemented!("patient_records_page")
}

pub(crate) async fn record_version(
    pool: &PgPool,
    version_id: i64,
) -> Result<Option<RecordVersion>> {
    unimplemented!("record_version")
}

pub(crate) async fn order_versions(
    pool: &PgPool,
    facility: FacilityId,
    local_id: &str,
    kind: &str,
    order_no: &str,
) -> Result<Vec<RecordVersion>> {
    unimplemented!("order_versions")
}
