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

/// The tables both stores copy, in order (files before the versions, records and facts that
/// point at them). Every column of each is copied, read from the database's catalogue so that
/// columns added by later migrations come along; the columns [`copied_column`] names get new
/// values.
pub const COPIED_TABLES: &[&str] = &[
    "files",
    "file_versions",
    "records",
    "lab_results",
    "medications",
    "diagnoses",
    "allergies",
    "encounters",
    "local_patients",
];

/// The local patient ID of a copied row, as SQL over the original column.
#[derive(Debug, Clone, Copy)]
pub enum CopiedPatient<'a> {
    /// `{k}-{original}`; the argument is an SQL expression for the copy number k as text.
    Copy(&'a str),
    /// The target patient (ASCII letters and digits, checked by the caller).
    Target(&'a str),
}

impl CopiedPatient<'_> {
    fn expr(self, column: &str) -> String {
        match self {
            CopiedPatient::Copy(k) => format!("{k} || '-' || \"{column}\""),
            CopiedPatient::Target(id) => format!("'{id}'"),
        }
    }
}

/// The new value of a copied column (SQL both backends accept), or `None` to copy it as
/// is: the one contract of both stores' copies. `v` and `f` are SQL expressions for the id
/// offsets of file versions (= record keys) and files, `tag` one for a short text that makes
/// copied paths unique.
pub fn copied_column(
    table: &str,
    column: &str,
    v: &str,
    f: &str,
    patient: CopiedPatient,
    tag: &str,
) -> Option<String> {
    Some(match (table, column) {
        ("files", "id") => format!("id + {f}"),
        // Short synthetic paths: the real ones are ~100 bytes, stored twice (table and
        // unique index), and nothing reads a copy's path except the record detail.
        ("files", "path") => format!("{tag} || '/' || id"),
        ("files", "current_version") => format!("current_version + {v}"),
        ("file_versions", "id") => format!("id + {v}"),
        ("file_versions", "file_id") => format!("file_id + {f}"),
        (_, "version_id") => format!("version_id + {v}"),
        ("records", "file_id") => format!("file_id + {f}"),
        (_, "patient_id") => patient.expr("patient_id"),
        ("local_patients", "local_id") => patient.expr("local_id"),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_get_new_ids_and_patients() {
        let v = "bench_k * 10";
        let f = "bench_k * 7";
        let copy = CopiedPatient::Copy("bench_k::text");
        assert_eq!(
            copied_column("records", "patient_id", v, f, copy, "'b'").as_deref(),
            Some("bench_k::text || '-' || \"patient_id\"")
        );
        assert_eq!(
            copied_column("files", "id", v, f, copy, "'b'").as_deref(),
            Some("id + bench_k * 7")
        );
        assert_eq!(
            copied_column("lab_results", "version_id", v, f, copy, "'b'").as_deref(),
            Some("version_id + bench_k * 10")
        );
        assert_eq!(
            copied_column(
                "local_patients",
                "local_id",
                "0",
                "0",
                CopiedPatient::Target("BIG"),
                "'x'"
            )
            .as_deref(),
            Some("'BIG'")
        );
        assert_eq!(copied_column("records", "kind", v, f, copy, "'b'"), None);
    }
}
