//! What a backend's benchmark-only `scale_for_benchmark` is asked for and reports (the
//! embedded and the PostgreSQL store grow a scratch store the same way, for `renkei bench
//! viewer`). Never used on a network's real data.

use std::time::Duration;

use model::FacilityCode;

/// What `scale_for_benchmark` asks for.
#[derive(Debug, Clone)]
pub struct ScaleOptions {
    /// How many copies of the store's patients to add (0: only the target patient).
    pub copies: usize,
    /// Local patient ID of the large target patient, at each of its two facilities. ASCII
    /// letters and digits only.
    pub target_local_id: String,
    /// At least this many records for the target patient, split over two facilities.
    pub target_records: usize,
}

/// One of the target patient's two facilities.
#[derive(Debug, Clone)]
pub struct TargetSource {
    pub facility: FacilityCode,
    pub records: u64,
}

/// What the scaled store holds.
#[derive(Debug, Clone)]
pub struct ScaleReport {
    pub copies: usize,
    /// Records before scaling (the imported region).
    pub base_records: u64,
    /// Records after scaling (every version, like `StoreStats::records`).
    pub records: u64,
    pub local_patients: u64,
    pub lab_results: u64,
    pub target_local_id: String,
    pub target: Vec<TargetSource>,
    /// The original local patient whose demographics (every `local_patients` column) the
    /// target patient has at both facilities.
    pub demographics_from: model::LocalPatient,
    /// Time of the copies and the target patient.
    pub elapsed: Duration,
    /// Time of the statistics refresh afterwards (PostgreSQL's `VACUUM (ANALYZE)`; zero for
    /// the embedded store).
    pub vacuum: Duration,
}

impl ScaleReport {
    pub fn target_records(&self) -> u64 {
        self.target.iter().map(|t| t.records).sum()
    }
}
