//! Facilities, regional IDs, links, consent, users, sessions, settings and the audit chain
//! on PostgreSQL.

use async_trait::async_trait;
use model::{
    Consent, Demographics, Facility, FacilityCode, Link, LocalPatient, RegionalId, UnixTime, User,
};
use store::{ApiKeyRecord, AuditFilter, Credentials, Merge, Registry, Result, Session};

use crate::PgStore;

#[async_trait]
impl Registry for PgStore {
    async fn put_facility(&self, facility: &Facility) -> Result<()> {
        unimplemented!("put_facility")
    }

    async fn facility_details(&self, code: &FacilityCode) -> Result<Option<Facility>> {
        unimplemented!("facility_details")
    }

    async fn list_facilities(&self) -> Result<Vec<Facility>> {
        unimplemented!("list_facilities")
    }

    async fn local_patient(&self, patient: &LocalPatient) -> Result<Option<Demographics>> {
        unimplemented!("local_patient")
    }

    async fn local_patients(&self) -> Result<Vec<(LocalPatient, Demographics)>> {
        unimplemented!("local_patients")
    }

    async fn enroll(&self, by: &str, at: UnixTime) -> Result<RegionalId> {
        unimplemented!("enroll")
    }

    async fn regional_id_exists(&self, id: &RegionalId) -> Result<bool> {
        unimplemented!("regional_id_exists")
    }

    async fn link(
        &self,
        id: &RegionalId,
        patient: &LocalPatient,
        by: &str,
        at: UnixTime,
    ) -> Result<Link> {
        unimplemented!("link")
    }

    async fn unlink(&self, patient: &LocalPatient, by: &str, at: UnixTime) -> Result<Option<Link>> {
        unimplemented!("unlink")
    }

    async fn links_of(&self, id: &RegionalId) -> Result<Vec<Link>> {
        unimplemented!("links_of")
    }

    async fn regional_id_of(&self, patient: &LocalPatient) -> Result<Option<RegionalId>> {
        unimplemented!("regional_id_of")
    }

    async fn merge(
        &self,
        from: &RegionalId,
        into: &RegionalId,
        by: &str,
        at: UnixTime,
    ) -> Result<Merge> {
        unimplemented!("merge")
    }

    async fn unmerge(&self, merge_id: i64, by: &str, at: UnixTime) -> Result<Merge> {
        unimplemented!("unmerge")
    }

    async fn merges(&self) -> Result<Vec<Merge>> {
        unimplemented!("merges")
    }

    async fn record_consent(&self, consent: &Consent) -> Result<i64> {
        unimplemented!("record_consent")
    }

    async fn withdraw_consent(&self, id: i64, by: &str, at: UnixTime) -> Result<Consent> {
        unimplemented!("withdraw_consent")
    }

    async fn consents_of(&self, id: &RegionalId) -> Result<Vec<Consent>> {
        unimplemented!("consents_of")
    }

    async fn put_user(&self, user: &User, credentials: Option<&Credentials>) -> Result<()> {
        unimplemented!("put_user")
    }

    async fn user(&self, login: &str) -> Result<Option<(User, Credentials)>> {
        unimplemented!("user")
    }

    async fn users(&self) -> Result<Vec<User>> {
        unimplemented!("users")
    }

    async fn set_credentials(&self, login: &str, credentials: &Credentials) -> Result<()> {
        unimplemented!("set_credentials")
    }

    async fn create_session(&self, token_hash: &[u8; 32], session: &Session) -> Result<()> {
        unimplemented!("create_session")
    }

    async fn session(&self, token_hash: &[u8; 32]) -> Result<Option<Session>> {
        unimplemented!("session")
    }

    async fn touch_session(
        &self,
        token_hash: &[u8; 32],
        at: UnixTime,
        acting_facility: Option<&FacilityCode>,
    ) -> Result<()> {
        unimplemented!("touch_session")
    }

    async fn end_session(&self, token_hash: &[u8; 32], at: UnixTime) -> Result<()> {
        unimplemented!("end_session")
    }

    async fn put_api_key(&self, key: &ApiKeyRecord) -> Result<()> {
        unimplemented!("put_api_key")
    }

    async fn api_key(&self, prefix: &str) -> Result<Option<ApiKeyRecord>> {
        unimplemented!("api_key")
    }

    async fn setting(&self, key: &str) -> Result<Option<String>> {
        unimplemented!("setting")
    }

    async fn put_setting(&self, key: &str, value: &str) -> Result<()> {
        unimplemented!("put_setting")
    }

    async fn append_audit(&self, events: Vec<audit::Event>) -> Result<Vec<audit::Entry>> {
        unimplemented!("append_audit")
    }

    async fn audit_range(&self, from_seq: u64, limit: usize) -> Result<Vec<audit::Entry>> {
        unimplemented!("audit_range")
    }

    async fn audit_query(&self, filter: &AuditFilter) -> Result<Vec<audit::Entry>> {
        unimplemented!("audit_query")
    }

    async fn audit_head(&self) -> Result<Option<(u64, [u8; 32])>> {
        unimplemented!("audit_head")
    }

    async fn audit_anchor(&self) -> Result<Option<(u64, [u8; 32])>> {
        unimplemented!("audit_anchor")
    }
}
