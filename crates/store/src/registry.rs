//! The network's registry: facilities, local patients, regional IDs and links, consent,
//! users and credentials, settings, and the audit log.

use async_trait::async_trait;
use model::{
    Consent, Demographics, Facility, FacilityCode, Link, LocalPatient, RegionalId, UnixTime, User,
};
use serde::{Deserialize, Serialize};

use crate::Result;

/// Stored credentials and login state of a user (never leaves the server).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    /// argon2id PHC string.
    pub password_phc: String,
    /// Base32 TOTP secret, once enrolled.
    pub totp_secret: Option<String>,
    /// Failures, lock, last TOTP step (JSON owned by the auth layer).
    pub login_state: String,
}

/// How a user's stored login state changes: given the stored text, the text to store. Run by
/// the store while it holds the user's row (see [`Registry::update_login_state`]).
pub type LoginStateChange = Box<dyn FnOnce(&str) -> String + Send>;

/// How a sign-in counter that is not a user's changes: given the stored text (None: none, or
/// forgotten), the text to store and until when to keep it (see
/// [`Registry::update_login_counter`]).
pub type LoginCounterChange = Box<dyn FnOnce(Option<&str>) -> (String, UnixTime) + Send>;

/// A server session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub login: String,
    pub acting_facility: Option<FacilityCode>,
    pub created_at: UnixTime,
    pub last_seen: UnixTime,
    pub ended_at: Option<UnixTime>,
}

/// A facility system's API key, as stored (the secret itself is never stored).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyRecord {
    pub prefix: String,
    pub facility: FacilityCode,
    pub key_hash: [u8; 32],
    pub created_at: UnixTime,
    pub created_by: String,
    pub revoked_at: Option<UnixTime>,
}

/// A merge of one regional ID into another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Merge {
    pub id: i64,
    pub from: RegionalId,
    pub into: RegionalId,
    pub at: UnixTime,
    pub by: String,
    pub undone_at: Option<UnixTime>,
}

/// Which audit entries to read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditFilter {
    pub patient: Option<RegionalId>,
    pub actor: Option<String>,
    pub flagged_only: bool,
    pub since: Option<UnixTime>,
    pub until: Option<UnixTime>,
    /// Newest first, at most this many (0 = no limit).
    pub limit: usize,
}

#[async_trait]
pub trait Registry: Send + Sync {
    // Facilities (参加施設).
    /// Register or update a facility's details.
    async fn put_facility(&self, facility: &Facility) -> Result<()>;
    async fn facility_details(&self, code: &FacilityCode) -> Result<Option<Facility>>;
    async fn list_facilities(&self) -> Result<Vec<Facility>>;

    // Local patients (from each facility's ADT-00).
    async fn local_patient(&self, patient: &LocalPatient) -> Result<Option<Demographics>>;
    /// Every local patient with demographics (for match candidates).
    async fn local_patients(&self) -> Result<Vec<(LocalPatient, Demographics)>>;

    // Regional IDs and links (地域共通ID・名寄せ).
    /// Issue a new regional ID.
    async fn enroll(&self, by: &str, at: UnixTime) -> Result<RegionalId>;
    async fn regional_id_exists(&self, id: &RegionalId) -> Result<bool>;
    /// Link a local patient; fails if it is actively linked already.
    async fn link(
        &self,
        id: &RegionalId,
        patient: &LocalPatient,
        by: &str,
        at: UnixTime,
    ) -> Result<Link>;
    /// End the local patient's active link; returns it, or None if it had none.
    async fn unlink(&self, patient: &LocalPatient, by: &str, at: UnixTime) -> Result<Option<Link>>;
    /// Every link of a regional ID, ended ones included, oldest first.
    async fn links_of(&self, id: &RegionalId) -> Result<Vec<Link>>;
    /// The regional ID a local patient is actively linked to.
    async fn regional_id_of(&self, patient: &LocalPatient) -> Result<Option<RegionalId>>;
    /// Move every active link of `from` to `into` and mark `from` merged.
    async fn merge(
        &self,
        from: &RegionalId,
        into: &RegionalId,
        by: &str,
        at: UnixTime,
    ) -> Result<Merge>;
    /// Undo a merge: the links it moved go back to their regional ID.
    async fn unmerge(&self, merge_id: i64, by: &str, at: UnixTime) -> Result<Merge>;
    async fn merges(&self) -> Result<Vec<Merge>>;

    // Consent (同意).
    /// Store a consent (its `id` is assigned); returns the id.
    async fn record_consent(&self, consent: &Consent) -> Result<i64>;
    async fn withdraw_consent(&self, id: i64, by: &str, at: UnixTime) -> Result<Consent>;
    /// All consents of a patient, oldest first (the history).
    async fn consents_of(&self, id: &RegionalId) -> Result<Vec<Consent>>;

    // Users and credentials.
    /// With credentials: add the user; a login that exists already is a `Conflict` (two
    /// administrators adding one login at once get one user and one error, not two TOTP
    /// secrets of which one silently stops working). Without: update an existing user's
    /// details, credentials untouched.
    async fn put_user(&self, user: &User, credentials: Option<&Credentials>) -> Result<()>;
    async fn user(&self, login: &str) -> Result<Option<(User, Credentials)>>;
    async fn users(&self) -> Result<Vec<User>>;
    async fn set_credentials(&self, login: &str, credentials: &Credentials) -> Result<()>;
    /// Change a user's login state (failures, lock, last TOTP step) atomically: the store
    /// holds the user's row while `change` runs, so concurrent sign-ins of one user are
    /// applied one after another and no change is lost. Returns the state before and after;
    /// None if there is no such user.
    async fn update_login_state(
        &self,
        login: &str,
        change: LoginStateChange,
    ) -> Result<Option<(String, String)>>;
    /// The same for a sign-in counter kept under `key` that is not a user's (failures from a
    /// source address, or at an unknown login). Not replicated: each network's servers
    /// count for themselves. A counter whose keep-until time is at or before `now` reads as
    /// None and is forgotten. Returns the state before (None: none) and after.
    async fn update_login_counter(
        &self,
        key: &str,
        now: UnixTime,
        change: LoginCounterChange,
    ) -> Result<(Option<String>, String)>;
    /// Replace a user's stored TOTP secret only if it is still `expected` (re-encryption
    /// while servers run must not undo a change made meanwhile). Returns whether it did.
    async fn replace_totp_secret(&self, login: &str, expected: &str, new: &str) -> Result<bool>;

    async fn create_session(&self, token_hash: &[u8; 32], session: &Session) -> Result<()>;
    async fn session(&self, token_hash: &[u8; 32]) -> Result<Option<Session>>;
    /// Mark an open session used at `at` (and switch its facility, if given). An ended
    /// session stays ended, and `last_seen` never moves back (requests finish out of order).
    async fn touch_session(
        &self,
        token_hash: &[u8; 32],
        at: UnixTime,
        acting_facility: Option<&FacilityCode>,
    ) -> Result<()>;
    async fn end_session(&self, token_hash: &[u8; 32], at: UnixTime) -> Result<()>;

    async fn put_api_key(&self, key: &ApiKeyRecord) -> Result<()>;
    async fn api_key(&self, prefix: &str) -> Result<Option<ApiKeyRecord>>;

    // Settings (JSON values owned by the layers that use them).
    async fn setting(&self, key: &str) -> Result<Option<String>>;
    async fn put_setting(&self, key: &str, value: &str) -> Result<()>;

    // Audit log (アクセスログ).
    /// Append events to the chain, in order, atomically.
    async fn append_audit(&self, events: Vec<audit::Event>) -> Result<Vec<audit::Entry>>;
    /// Entries in chain order from `from_seq` (inclusive), at most `limit`.
    async fn audit_range(&self, from_seq: u64, limit: usize) -> Result<Vec<audit::Entry>>;
    /// Entries matching a filter, newest first.
    async fn audit_query(&self, filter: &AuditFilter) -> Result<Vec<audit::Entry>>;
    /// The newest (seq, hash), also kept outside the database so that cutting off the newest
    /// entries is detected.
    async fn audit_head(&self) -> Result<Option<(u64, [u8; 32])>>;
    /// The head as last written to the anchor outside the database.
    async fn audit_anchor(&self) -> Result<Option<(u64, [u8; 32])>>;
}

/// How many numbers a network has: 12 digits after its 3-digit prefix.
const REGIONAL_NUMBERS: u64 = 1_000_000_000_000;

/// A regional ID with an unpredictable number: 12 digits drawn uniformly from the operating
/// system's CSPRNG after the network prefix, then the Luhn check digit. Knowing issued IDs
/// tells nothing about other ones, so they cannot be walked: with ten million patients among
/// 10^12 numbers a guessed (well-formed) ID is someone's about once in 100,000 tries, and
/// every try is an audited look. Both stores insert it under the UNIQUE constraint on
/// `regional_ids.regional_id` and draw again on a collision; IDs issued before (sequential)
/// stay valid.
pub fn random_regional_id(network: u16) -> Result<RegionalId> {
    // Rejection sampling: only draws below the largest multiple of 10^12 are used, so every
    // number is equally likely (no modulo bias).
    let bound = u64::MAX - u64::MAX % REGIONAL_NUMBERS;
    loop {
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes).map_err(|e| {
            crate::StoreError::Database(format!("no random numbers for a regional ID: {e}"))
        })?;
        let draw = u64::from_le_bytes(bytes);
        if draw < bound {
            return Ok(RegionalId::issue(network, draw % REGIONAL_NUMBERS));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_regional_ids_are_valid_and_not_a_sequence() {
        let ids: Vec<RegionalId> = (0..200)
            .map(|_| random_regional_id(0).expect("random"))
            .collect();
        let numbers: std::collections::BTreeSet<u64> = ids
            .iter()
            .map(|id| {
                assert_eq!(RegionalId::parse(id.as_str()).as_ref(), Ok(id));
                assert!(id.as_str().starts_with("000"), "{id}");
                id.as_str()[3..15].parse().expect("digits")
            })
            .collect();
        assert_eq!(numbers.len(), ids.len(), "no repeats");
        // Spread over the whole range, not clustered near the start.
        assert!(numbers.iter().any(|n| *n > REGIONAL_NUMBERS / 2));
        let adjacent = numbers
            .iter()
            .zip(numbers.iter().skip(1))
            .filter(|(a, b)| **b - **a < 1000)
            .count();
        assert!(adjacent < 5, "{adjacent} IDs next to each other");
    }
}
