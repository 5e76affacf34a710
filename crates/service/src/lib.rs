//! The network's operations, independent of transport: the CLI and the HTTP API both call
//! these. Every operation takes an authenticated [`Principal`], checks what that person may do,
//! and writes an audit entry — refusals included. Patient records and the clinical facts read
//! from them are read only through the access gate (`policy::decide`, in `access.rs`):
//! [`Network::patient_records`] and the viewer's [`Network::patient_summary`],
//! [`Network::lab_matrix`] and [`Network::medications`].

mod access;
pub mod cancels;
pub mod encounters;
mod identity;
mod labs;
pub mod medications;
pub mod migrate;
mod office;
pub mod offsite;
mod original;
mod passwords;
pub mod preview;
pub mod problems;
pub mod rebuild;
mod refusal;
mod search;
mod settings;
mod timeline;
mod unreadable;
mod upload;
mod viewer;
pub mod vitals;

use std::sync::Arc;

use model::{Facility, FacilityCode, PermissionMatrix, Profession, UnixTime, User};
use store::{Store, StoreError};

pub use access::{AccessItem, AccessRefusal, PatientAccess, BREAK_GLASS_REASON_MAX};
pub use identity::{AuthMethod, NewUser};
pub use labs::{unit_key, CultureResult, TestOccurrence};
pub use medications::{
    CurrentMedication, DuplicateGroup, LatestPrescription, MedicationCalendar, MedicationSettings,
    Standing, UncheckedWarning,
};
pub use office::{AuditTail, ConsentInput, HeadReference, PairLinked, VerifyReport};
pub use original::{content_type_of, shows_inline, RecordOriginal};
pub use refusal::{CredentialRefusal, FLOOD_WINDOW_SECONDS};
pub use search::{
    age_on, HitFacility, PatientHit, SearchCriteria, SearchInput, SearchResult, SEARCH_LIMIT,
    SEARCH_LIMIT_MAX,
};
pub use timeline::{
    OrderVersion, RecordDetail, SegmentView, Timeline, TimelineItem, TimelineQuery, TimelineSource,
    TIMELINE_PAGE,
};
pub use unreadable::UnreadableRecords;
pub use viewer::{
    allergen_stem, drug_allergy_match, DrugAllergyWarning, DuplicatePrescription, DuplicateTest,
    LabCell, LabMatrix, LabQuery, LabTestRow, MedicationLine, MedicationList, Sourced,
    SourcedDemographics, Summary, DRUG_ALLERGY_LOOKBACK_DAYS, DUPLICATE_LOOKBACK_DAYS,
    DUPLICATE_TEST_DAYS,
};
pub use vitals::{
    VitalColumn, VitalProblem, VitalSign, VitalValue, VitalsGrid, VitalsQuery, VitalsRow,
    VitalsTable,
};

/// Errors of the operations, each with a message fit for the person who asked. The HTTP layer
/// maps them to status codes in one place.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// Not signed in, or the credentials are wrong.
    #[error("{0}")]
    Unauthenticated(String),
    /// Signed in, but not allowed to do this.
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// The request itself is wrong (bad value, missing field).
    #[error("{0}")]
    Invalid(String),
    /// Conflicts with the current state (already linked, already withdrawn…).
    #[error("{0}")]
    Conflict(String),
    #[error("store: {0}")]
    Store(StoreError),
    #[error("internal: {0}")]
    Internal(String),
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(m) => ServiceError::Conflict(m),
            StoreError::NotFound(m) => ServiceError::NotFound(m),
            other => ServiceError::Store(other),
        }
    }
}

impl From<auth::AuthError> for ServiceError {
    fn from(e: auth::AuthError) -> Self {
        ServiceError::Internal(e.to_string())
    }
}

pub type Result<T> = std::result::Result<T, ServiceError>;

/// Who is acting: a signed-in user (and the facility they act for), or a facility system
/// with its API key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    User {
        user: User,
        acting_for: Option<Facility>,
    },
    FacilitySystem {
        facility: Facility,
        key_prefix: String,
    },
}

impl Principal {
    /// The name written in the audit log.
    pub fn actor(&self) -> String {
        match self {
            Principal::User { user, .. } => user.login.clone(),
            Principal::FacilitySystem { facility, .. } => format!("api:{}", facility.code),
        }
    }

    pub fn facility(&self) -> Option<&FacilityCode> {
        match self {
            Principal::User { acting_for, .. } => acting_for.as_ref().map(|f| &f.code),
            Principal::FacilitySystem { facility, .. } => Some(&facility.code),
        }
    }

    pub fn profession(&self) -> Option<Profession> {
        match self {
            Principal::User { user, .. } => Some(user.profession),
            Principal::FacilitySystem { .. } => None,
        }
    }

    /// Runs the network: the operations office (事務局) and administrators.
    pub fn is_office(&self) -> bool {
        matches!(
            self.profession(),
            Some(Profession::NetworkOperator | Profession::Administrator)
        )
    }

    pub fn is_admin(&self) -> bool {
        self.profession() == Some(Profession::Administrator)
    }
}

/// The fixed key of tests and benchmark stores (`with_test_hashing`): synthetic data only,
/// never a real network's secrets.
pub fn test_secret_key() -> auth::SecretKey {
    auth::SecretKey::from_bytes(*b"renkei test key, never in a real")
}

/// Settings keys in the store.
pub(crate) const MATRIX_KEY: &str = "permission_matrix";
pub(crate) const POLICY_KEY: &str = "policy";
pub(crate) const MATCH_KEY: &str = "match";
pub(crate) const MEDICATION_KEY: &str = "medication";

/// The network's operations over one store.
#[derive(Clone)]
pub struct Network {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) lockout: auth::LockoutPolicy,
    pub(crate) sessions: auth::SessionPolicy,
    pub(crate) passwords: auth::PasswordPolicy,
    /// TOTP two-factor is required for every user (the national guideline's default).
    pub(crate) totp_required: bool,
    /// Failed sign-ins per source address (password spraying).
    pub(crate) source_lockout: auth::SourcePolicy,
    /// Keys of the TOTP secrets at rest; None: secrets can be neither written nor read.
    pub(crate) secrets: Option<Arc<auth::Keyring>>,
    /// Password hashing and verification, on a bounded blocking pool.
    pub(crate) password_work: Arc<passwords::PasswordWork>,
    /// Facility agents' runs in progress (see `upload.rs`).
    pub(crate) agent_runs: upload::SharedAgentRuns,
    /// A replica applies one shipment at a time.
    pub(crate) apply_lock: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// Flood limit of unauthenticated refusals in the audit log (see `refusal.rs`).
    pub(crate) refusals: Arc<refusal::RefusalLimiter>,
}

impl Network {
    pub fn new(store: Arc<dyn Store>) -> Network {
        Network {
            store,
            lockout: auth::LockoutPolicy::default(),
            sessions: auth::SessionPolicy::default(),
            passwords: auth::PasswordPolicy::default(),
            totp_required: true,
            source_lockout: auth::SourcePolicy::default(),
            secrets: None,
            password_work: Arc::new(passwords::PasswordWork::new(None)),
            agent_runs: Default::default(),
            apply_lock: Default::default(),
            refusals: Default::default(),
        }
    }

    /// Cheap password hashing and a fixed key for TOTP secrets, for tests only.
    pub fn with_test_hashing(mut self) -> Network {
        let params = auth::HashParams {
            m_kib: 8,
            t: 1,
            p: 1,
        };
        self.password_work = Arc::new(passwords::PasswordWork::new(Some(params)));
        if self.secrets.is_none() {
            self.secrets = Some(Arc::new(auth::Keyring::new(test_secret_key(), [])));
        }
        self
    }

    /// The keys that encrypt TOTP secrets at rest (the first encrypts, all decrypt).
    pub fn with_secret_keys(mut self, keys: auth::Keyring) -> Network {
        self.secrets = Some(Arc::new(keys));
        self
    }

    /// How many failures lock an account, and how many failures from one source address
    /// block that address.
    pub fn with_lockout(
        mut self,
        account: auth::LockoutPolicy,
        source: auth::SourcePolicy,
    ) -> Network {
        self.lockout = account;
        self.source_lockout = source;
        self
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub(crate) fn now(&self) -> UnixTime {
        UnixTime::now()
    }

    pub(crate) async fn audit(&self, event: audit::Event) -> Result<()> {
        self.store.append_audit(vec![event]).await?;
        Ok(())
    }

    /// An audit event for `principal` doing `action` now.
    pub(crate) fn event(&self, principal: &Principal, action: audit::Action) -> audit::Event {
        let mut e = audit::Event::new(self.now(), principal.actor(), action);
        e.actor_facility = principal.facility().cloned();
        e
    }

    /// Refuse unless the principal runs the network; the refusal is audited.
    pub(crate) async fn require_office(
        &self,
        principal: &Principal,
        action: audit::Action,
        target: &str,
    ) -> Result<()> {
        if principal.is_office() {
            return Ok(());
        }
        let reason = "事務局または管理者の権限が必要です (this needs the operations office or an administrator)";
        let mut e = self.event(principal, action);
        e.target = target.to_owned();
        e.outcome = audit::Outcome::Refused {
            code: "not_office".into(),
            reason: reason.into(),
        };
        self.audit(e).await?;
        Err(ServiceError::Forbidden(reason.into()))
    }

    pub async fn permission_matrix(&self) -> Result<PermissionMatrix> {
        match self.store.setting(MATRIX_KEY).await? {
            Some(json) => serde_json::from_str(&json).map_err(|e| {
                ServiceError::Internal(format!("stored permission matrix is invalid: {e}"))
            }),
            None => Ok(PermissionMatrix::default()),
        }
    }

    pub async fn policy_settings(&self) -> Result<policy::Settings> {
        match self.store.setting(POLICY_KEY).await? {
            Some(json) => serde_json::from_str(&json).map_err(|e| {
                ServiceError::Internal(format!("stored policy settings are invalid: {e}"))
            }),
            None => Ok(policy::Settings::default()),
        }
    }
}
