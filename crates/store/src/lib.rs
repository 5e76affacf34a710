//! The storage boundary of renkei.
//!
//! One [`Store`] trait, implemented by `store-sqlite` (the embedded default) and later by
//! `store-postgres`. Raw file bytes live in content-addressed, immutable *packs*
//! ([`packs`]) next to the database; the database holds the index (facilities, files and their
//! versions, records, quarantine). The same conformance tests run against every backend
//! ([`conformance`]).

pub mod bench_scale;
pub mod conformance;
pub mod detail;
pub mod facts;
pub mod packs;
pub mod private;
pub mod registry;
pub mod replication;
pub mod search;

use std::collections::{BTreeMap, HashMap, HashSet};

use async_trait::async_trait;
use model::{FacilityCode, Sha256};
use serde::{Deserialize, Serialize};
use ssmix2::Condition;

pub use bench_scale::{copied_column, CopiedPatient, ScaleOptions, ScaleReport, TargetSource};
pub use detail::{
    AllergyDetail, DiagnosisDetail, EncounterDetail, LabDetail, MedicationDetail, PerTime,
};
pub use facts::{
    add_days, add_days_to, date_of_day, day_number, AllergyFact, BackfillItem, BackfilledFacts,
    ClinicalFact, DiagnosisFact, EncounterFact, Fact, FactRow, HistoricFact, LabFact, LabFilter,
    MedicationFact, LAB_RESULT_KIND,
};
pub use packs::{BlobLocation, LocalPacks, Pack, PackBuilder};
pub use registry::{
    random_regional_id, ApiKeyRecord, AuditFilter, Credentials, LoginCounterChange,
    LoginStateChange, Merge, Registry, Session,
};
pub use replication::{
    replicated_audit_step, Backlog, BlobReport, Feed, FeedCursor, FeedVersion, NodeRole,
    PackProblem, RegistryChange, Replication, RowOp, SiteState, VersionRow,
};
pub use search::{
    kana_search_key, kanji_search_key, LocalPatientHit, NameQuery, PagedRecord, PatientSearch,
    RecordCursor, RecordFilter, RecordVersion,
};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(String),
    #[error("blob storage error at {path}: {source}")]
    Blob {
        path: String,
        source: std::io::Error,
    },
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("the data folder {0} is used by another renkei process")]
    Locked(String),
    /// The data folder can be reached by other local users (the message says how to fix it).
    #[error("{0}")]
    NotPrivate(String),
    /// The request conflicts with what is stored (already linked, unknown ID…); the message
    /// says what, for the operator.
    #[error("{0}")]
    Conflict(String),
}

pub type Result<T> = std::result::Result<T, StoreError>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FacilityId(pub i64);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ImportRunId(pub i64);

/// Which SS-MIX2 storage a file belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StorageKind {
    /// 標準化ストレージ
    Standard,
    /// 拡張ストレージ
    Extended,
}

impl StorageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StorageKind::Standard => "standard",
            StorageKind::Extended => "extended",
        }
    }
}

/// The index entry of one understood file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordIndex {
    pub storage: StorageKind,
    pub patient_id: String,
    /// `YYYYMMDD` or `-`.
    pub date: String,
    /// Data kind code (`OML-11`) or, for the extended storage, the kind folder.
    pub kind: String,
    /// Order number, or the extended storage's specific key.
    pub order_no: String,
    /// File-name timestamp (when the facility wrote the file).
    pub written_at: String,
    pub department: String,
    pub condition: Condition,
    /// MSH-9 (`OUL^R22`) when the file is an HL7 message.
    pub message_type: Option<String>,
    /// The text encoding, when it is not the SS-MIX2 one (e.g. `Shift_JIS`).
    pub nonconforming_encoding: Option<String>,
    /// The message cancels its order (ORC-1 `CA` …, or every administration `D`): every
    /// earlier file of the same kind and order number of the patient is cancelled by it,
    /// whether or not the sender renamed them to `_0` (see [`Store::order_cancels`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cancels: bool,
}

/// What the importer found in one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileOutcome {
    Record(RecordIndex),
    /// Kept byte-for-byte (a restore must reproduce it) but not indexed.
    Quarantined {
        reason: String,
        line: Option<u32>,
    },
}

/// One file handed to the store.
#[derive(Debug, Clone)]
pub struct IngestFile {
    /// Relative to the facility's storage root, `/`-separated.
    pub path: String,
    pub bytes: Vec<u8>,
    pub sha256: Sha256,
    pub outcome: FileOutcome,
    /// Things to tell the operator that did not stop the import (non-conforming encoding, …).
    pub notices: Vec<String>,
    /// Demographics read from an ADT-00 message (kept per local patient for matching and
    /// name search).
    pub demographics: Option<model::Demographics>,
    /// Clinical facts of a current (`_1`) standard-storage file, for the viewer.
    pub facts: Vec<ClinicalFact>,
    /// When the network accepted the file (RFC 3339); None = now. A replica keeps the
    /// primary's time so that `--as-of` answers the same everywhere.
    pub recorded_at: Option<String>,
    /// Classified with `--accept-unterminated` (`ingest::ClassifyOptions`): kept with the
    /// version, so that a replica and a rebuilt network classify it as the primary did.
    pub accept_unterminated: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchOutcome {
    /// New file versions written (new paths or changed content).
    pub versions: u64,
    /// Contents not seen before anywhere in the store.
    pub new_blobs: u64,
    /// Compressed bytes added to blob storage.
    pub packed_bytes: u64,
}

/// Totals the importer reports when it finishes a run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportTotals {
    pub files_seen: u64,
    pub files_new: u64,
    pub duplicates: u64,
    pub quarantined: u64,
    pub messages_per_kind: BTreeMap<String, u64>,
    pub notices: u64,
}

/// The current version of one file of a facility's tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredFile {
    pub path: String,
    pub sha256: Sha256,
    pub size: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuarantineEntry {
    pub path: String,
    pub reason: String,
    pub line: Option<u32>,
    pub recorded_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportRun {
    pub id: i64,
    pub facility: FacilityCode,
    pub source: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub totals: Option<ImportTotals>,
    pub removed: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreStats {
    pub facilities: u64,
    /// Paths whose current version exists.
    pub files: u64,
    pub file_versions: u64,
    pub records: u64,
    pub current_records: u64,
    pub quarantined: u64,
    pub blobs: u64,
    /// Sum of the sizes of all distinct raw contents.
    pub raw_bytes: u64,
    /// Bytes of the pack files holding them.
    pub packed_bytes: u64,
    /// Bytes of the database (index) itself.
    pub index_bytes: u64,
    pub records_per_kind: BTreeMap<String, u64>,
}

/// Per-facility totals for the operations office (no patient data).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FacilityOverview {
    pub code: FacilityCode,
    /// Files currently in the facility's tree.
    pub files: u64,
    /// Live record index entries.
    pub records: u64,
    pub quarantined: u64,
    /// When the last import finished.
    pub last_import: Option<String>,
}

/// One live record of a local patient, as indexed (the raw message is read separately).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredRecord {
    /// Stable reference of this version of the file.
    pub version_id: i64,
    pub path: String,
    pub storage: StorageKind,
    pub kind: String,
    pub date: String,
    pub order_no: String,
    pub written_at: String,
    pub department: String,
    pub condition: Condition,
    pub message_type: Option<String>,
    pub sha256: Sha256,
}

/// Does this file take part in the one-current-file-per-order rule of SS-MIX2 (one `_1`
/// file per patient, data kind and order number — and date for event kinds,
/// [`order_key_date`]; an update renames the old one to `_2`): a current standard-storage
/// file of a kind with orders and an order number. A cancel message stored as `_1`
/// ([`RecordIndex::cancels`]) is not another state of its order but its end: it has its own
/// notice (ingest's classify) and is no duplicate, nor counted as the other file.
pub fn is_current_order_file(r: &RecordIndex) -> bool {
    r.storage == StorageKind::Standard
        && r.condition == Condition::Current
        && !r.cancels
        && !r.order_no.is_empty()
        && ssmix2::DataKind::from_code(&r.kind).is_some_and(|k| k.has_order())
}

/// Kinds whose files are events of an order (administered, performed, resulted): dated by
/// the event (RXA-3, SPM-17, OBR-7), not by the order (ORC-9), so one order has one current
/// file **per date** — an injection given on five days is five `_1` files of one order
/// number, not duplicates. Orders themselves (OMP-01 …, OMD) have one current file per order
/// whatever the date.
pub const DATED_ORDER_KINDS: &[&str] =
    &["OMP-11", "OMP-12", "OML-11", "OMG-11", "OMG-12", "OMG-13"];

/// The date that is part of a current order file's key ([`DATED_ORDER_KINDS`]): its date for
/// an event kind, empty (any date) for an order.
pub fn order_key_date<'a>(kind: &str, date: &'a str) -> &'a str {
    if DATED_ORDER_KINDS.contains(&kind) {
        date
    } else {
        ""
    }
}

/// The import notice on a current order file whose order has other current files (`others`:
/// their paths): the viewer cannot tell which is the order's state, the sender must.
pub fn duplicate_order_notice(kind: &str, order_no: &str, others: &[String]) -> String {
    format!(
        "同じオーダ番号の現在ファイル (_1) が他にもあります: {kind} オーダ番号 {order_no} / another current file (_1) has the same order number ({kind} {order_no}); SS-MIX2 keeps one and renames the older to _2: {}",
        others.join(", ")
    )
}

/// A live file that cancels an order: an order message sent as a file of its own (ORC-1
/// `CA` …) instead of the order's files being renamed to `_0`. It cancels the files of the
/// same kind and order number written before it (`written_at` not later than its own).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderCancel {
    pub version_id: i64,
    pub kind: String,
    pub order_no: String,
    pub written_at: String,
}

impl OrderCancel {
    /// Whether this cancel cancels the file version `version_id` of `kind` / `order_no`
    /// written at `written_at` (a file never cancels itself, nor one written after it).
    pub fn cancels(&self, kind: &str, order_no: &str, written_at: &str, version_id: i64) -> bool {
        self.version_id != version_id
            && self.kind == kind
            && self.order_no == order_no
            && written_at <= self.written_at.as_str()
    }
}

/// The renkei store. Every method is one transaction: a crash leaves either all of it or none.
#[async_trait]
pub trait Store: Registry + Replication + Send + Sync {
    /// Look a facility up, registering it when `create` is set.
    async fn facility(&self, code: &FacilityCode, create: bool) -> Result<Option<FacilityId>>;

    async fn facilities(&self) -> Result<Vec<(FacilityId, FacilityCode)>>;

    /// Start an import run; the run is visible as unfinished until [`Store::finish_import`].
    async fn begin_import(&self, facility: FacilityId, source: &str) -> Result<ImportRunId>;

    /// Path → content hash of every file of the facility whose current version exists. The
    /// importer skips files whose content is already current (idempotent re-import).
    async fn current_hashes(&self, facility: FacilityId) -> Result<HashMap<String, Sha256>>;

    /// The current content hash of each of these paths of the facility that has one (absent
    /// and removed paths are left out): one index lookup per path, so a facility agent's
    /// check costs what it asks about, not the size of the facility's tree.
    async fn current_hashes_of(
        &self,
        facility: FacilityId,
        paths: &[String],
    ) -> Result<HashMap<String, Sha256>>;

    /// Store a batch of files atomically: blob bytes, new file versions, record index
    /// entries, quarantine entries. Files whose current content already equals `sha256` are
    /// ignored, so replaying a batch after a crash changes nothing.
    async fn write_batch(
        &self,
        facility: FacilityId,
        run: ImportRunId,
        files: Vec<IngestFile>,
    ) -> Result<BatchOutcome>;

    /// Keep an unfinished run's totals so far (a facility agent's run spans many calls and
    /// may outlive a server restart).
    async fn save_run_totals(&self, run: ImportRunId, totals: &ImportTotals) -> Result<()>;

    /// Close a run. With `seen = Some(paths)` (a full scan of the tree), current files not in
    /// `seen` are marked removed as of this run (their history stays). Returns how many.
    ///
    /// Then, with the removals applied, the run's current order files that share their order
    /// with another current file ([`is_current_order_file`]) get an import notice naming the
    /// other file ([`duplicate_order_notice`]), counted in the run's totals. The check waits
    /// for the end of the run because an update renames the old `_1` file, and that removal
    /// is known only when the run is complete; [`Store::write_batch`] only remembers the
    /// candidates (one index lookup per current order file).
    async fn finish_import(
        &self,
        facility: FacilityId,
        run: ImportRunId,
        totals: &ImportTotals,
        seen: Option<&HashSet<String>>,
    ) -> Result<u64>;

    /// The notices of one import run (path, message), in the order written: the importer's
    /// (non-conforming encoding …) and the store's own (two current files of one order).
    async fn import_notices(&self, run: ImportRunId) -> Result<Vec<(String, String)>>;

    /// The facility's tree as it currently stands.
    async fn current_files(&self, facility: FacilityId) -> Result<Vec<StoredFile>>;

    /// Raw bytes of stored contents, in the order asked. Checked against their hash.
    async fn read_blobs(&self, hashes: &[Sha256]) -> Result<Vec<Vec<u8>>>;

    async fn quarantine(&self, facility: FacilityId) -> Result<Vec<QuarantineEntry>>;

    /// How many of one local patient's files could not be read: quarantined versions that
    /// are still their file's current version (a later readable version settles it). What a
    /// clinician must be told, so that an empty allergy card never hides an unreadable one.
    /// Gate-only.
    async fn unreadable_count(&self, facility: FacilityId, local_id: &str) -> Result<u64>;

    async fn import_runs(&self, facility: Option<FacilityId>) -> Result<Vec<ImportRun>>;

    async fn stats(&self) -> Result<StoreStats>;

    /// The live records of one facility's patient, newest date first. Only the access gate
    /// may call this: everything that shows records to a person goes through it.
    async fn patient_records(
        &self,
        facility: FacilityId,
        local_id: &str,
    ) -> Result<Vec<StoredRecord>>;

    /// One page of a facility's patient's live records, newest first by
    /// [`RecordCursor`] order (date, file-name timestamp, version id), filtered and paged in
    /// the index so that the first page of a long history costs what a page costs. Gate-only,
    /// like [`Store::patient_records`].
    async fn patient_records_page(
        &self,
        facility: FacilityId,
        local_id: &str,
        filter: &RecordFilter,
    ) -> Result<Vec<PagedRecord>>;

    /// One stored record version (live or not) and whose it is, by version id. Gate-only:
    /// the caller checks that the version belongs to a patient the user may see.
    async fn record_version(&self, version_id: i64) -> Result<Option<RecordVersion>>;

    /// Every stored version of one order (data kind + order number) of a facility's patient,
    /// live or not, oldest file-name timestamp first: what updates replaced and what a
    /// cancellation left. Gate-only.
    async fn order_versions(
        &self,
        facility: FacilityId,
        local_id: &str,
        kind: &str,
        order_no: &str,
    ) -> Result<Vec<RecordVersion>>;

    /// The live files of a facility's patient that cancel an order (see
    /// [`RecordIndex::cancels`]), oldest file-name timestamp first: the service marks the
    /// order's earlier files cancelled by them. Served by a partial index, so a patient
    /// without cancels costs one index probe. Gate-only.
    async fn order_cancels(&self, facility: FacilityId, local_id: &str)
        -> Result<Vec<OrderCancel>>;

    /// Local patients matching a search, with their demographics and active regional ID, in
    /// key order (name key, birth date, sex, facility, local ID). Name prefixes are index
    /// range scans on the normalised keys ([`kanji_search_key`], [`kana_search_key`]). The
    /// service decides who may see which of them.
    async fn search_local_patients(&self, search: &PatientSearch) -> Result<Vec<LocalPatientHit>>;

    /// Live lab results of one facility's patient, newest first. Gate-only, like
    /// [`Store::patient_records`].
    async fn lab_results(
        &self,
        facility: FacilityId,
        local_id: &str,
        filter: &LabFilter,
    ) -> Result<Vec<FactRow<LabFact>>>;

    /// Live medication lines, newest start first; with `active_on` (`YYYYMMDD`) only lines
    /// whose period covers that day. A line without an end date (no days, no TQ1-8) covers
    /// its start day only, as in the duplicate-prescription check; a line without a start
    /// date is never active. Gate-only.
    async fn medications(
        &self,
        facility: FacilityId,
        local_id: &str,
        active_on: Option<&str>,
    ) -> Result<Vec<FactRow<MedicationFact>>>;

    /// Live diagnoses, newest start first. Gate-only.
    async fn diagnoses(
        &self,
        facility: FacilityId,
        local_id: &str,
    ) -> Result<Vec<FactRow<DiagnosisFact>>>;

    /// Live allergies. Gate-only.
    async fn allergies(
        &self,
        facility: FacilityId,
        local_id: &str,
    ) -> Result<Vec<FactRow<AllergyFact>>>;

    /// Live admissions and discharges, newest first. Gate-only.
    async fn encounters(
        &self,
        facility: FacilityId,
        local_id: &str,
    ) -> Result<Vec<FactRow<EncounterFact>>>;

    /// The facts of every version of one order (data kind + order number), oldest version
    /// first, each marked live or not: what an update replaced and what a cancellation hid.
    /// Gate-only.
    async fn order_fact_history(
        &self,
        facility: FacilityId,
        local_id: &str,
        kind: &str,
        order_no: &str,
    ) -> Result<Vec<HistoricFact>>;

    /// The next `limit` live records in the backfill range whose kind is one of `kinds` (the
    /// standard kinds that have facts, from the ingest), or that are extended-storage HL7
    /// documents whose message code (MSH-9.1, the part of the record's message type before
    /// `^`) is one of `extended_messages` (`ORU`: vitals), oldest first. Empty when the
    /// backfill is done. The range holds the records stored before facts were extracted at
    /// import (stores older than schema 3), and every live record after
    /// [`Store::facts_rederive`].
    async fn facts_backfill_next(
        &self,
        limit: usize,
        kinds: &[&str],
        extended_messages: &[&str],
    ) -> Result<Vec<BackfillItem>>;

    /// Store the backfilled facts of the items last returned by
    /// [`Store::facts_backfill_next`] — replacing whatever facts those versions had — and
    /// move past them, in one transaction (a crash repeats the batch, never doubles it).
    /// `done_through` is the last version handled.
    async fn facts_backfill_put(
        &self,
        facts: Vec<BackfilledFacts>,
        done_through: i64,
    ) -> Result<()>;

    /// The facts were read by extractor version `extractor` (the ingest's): when the store's
    /// were read by an older one, open the backfill range over every record stored so far, so
    /// that [`Store::facts_backfill_next`] hands each live record out again and its facts are
    /// re-derived from its bytes (the old facts stay readable until each batch replaces
    /// them). Returns whether a re-derivation was started. Idempotent.
    async fn facts_rederive(&self, extractor: u32) -> Result<bool>;

    /// Totals per facility, ordered by code.
    async fn facility_overview(&self) -> Result<Vec<FacilityOverview>>;

    /// A digest of the facility's logical content (every path's full version history of
    /// contents, every record index entry with its currency), independent of run ids and
    /// timestamps: two stores with the same digest hold the same data.
    async fn content_digest(&self, facility: FacilityId) -> Result<String>;
}

/// One field of a row fed to [`Store::content_digest`], in a form every backend produces
/// alike (so that a network moved between backends can be checked by its digests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DigestValue {
    Null,
    Int(i64),
    Text(String),
    Bytes(Vec<u8>),
}

impl DigestValue {
    /// Append this field to a digest: a type tag, the value, a unit separator.
    pub fn feed(&self, hasher: &mut impl sha2::Digest) {
        match self {
            DigestValue::Null => hasher.update(b"N"),
            DigestValue::Int(i) => hasher.update(format!("I{i}").as_bytes()),
            DigestValue::Text(t) => {
                hasher.update(b"T");
                hasher.update(t.as_bytes());
            }
            DigestValue::Bytes(b) => {
                hasher.update(b"B");
                hasher.update(packs::hex(b).as_bytes());
            }
        }
        hasher.update("\u{1F}".as_bytes());
    }
}
