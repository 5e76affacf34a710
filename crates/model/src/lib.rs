//! Domain types shared by every layer of renkei. No I/O.

pub mod consent;
pub mod facility;
pub mod hl7_time;
pub mod patient;
pub mod time;
pub mod user;

use std::fmt;

pub use consent::{Consent, ConsentScope};
pub use facility::{Facility, FacilityKind, FacilityStatus};
pub use hl7_time::{
    hl7_jst_date, hl7_sort_key, show_hl7_date, show_hl7_time, Hl7Time, TsPrecision,
};
pub use patient::{Demographics, InvalidRegionalId, Link, LocalPatient, RegionalId};
pub use time::{Date, UnixTime};
pub use user::{PermissionMatrix, Profession, Purpose, RecordCategory, User};

use serde::{Deserialize, Serialize};

/// A participating facility's code (参加施設コード): the 10-digit medical institution code
/// (医療機関コード: prefecture 2 + point table 1 + 7 digits) or the 10-digit care-provider
/// number (介護事業所番号). Used as the folder name of the facility's SS-MIX2 root.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct FacilityCode(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid facility code {0:?}: a facility code is 10 digits (medical institution code or care-provider number)")]
pub struct InvalidFacilityCode(pub String);

impl FacilityCode {
    pub fn parse(s: &str) -> Result<FacilityCode, InvalidFacilityCode> {
        let s = s.trim();
        if s.len() == 10 && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(FacilityCode(s.to_owned()))
        } else {
            Err(InvalidFacilityCode(s.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for FacilityCode {
    type Error = InvalidFacilityCode;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        FacilityCode::parse(&s)
    }
}

impl From<FacilityCode> for String {
    fn from(c: FacilityCode) -> String {
        c.0
    }
}

impl fmt::Display for FacilityCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for FacilityCode {
    type Err = InvalidFacilityCode;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FacilityCode::parse(s)
    }
}

/// SHA-256 of a raw file: the identity of its content everywhere in renkei (dedup, verify,
/// replication).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sha256(pub [u8; 32]);

impl Sha256 {
    pub fn to_hex(&self) -> String {
        let mut s = String::with_capacity(64);
        for b in self.0 {
            s.push_str(&format!("{b:02x}"));
        }
        s
    }
}

impl Sha256 {
    pub fn from_hex(s: &str) -> Option<Sha256> {
        if s.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, b) in out.iter_mut().enumerate() {
            *b = u8::from_str_radix(s.get(i * 2..i * 2 + 2)?, 16).ok()?;
        }
        Some(Sha256(out))
    }
}

impl Serialize for Sha256 {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Sha256 {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Sha256::from_hex(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("invalid SHA-256 hex {s:?}")))
    }
}

impl fmt::Debug for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256({})", &self.to_hex()[..12])
    }
}

impl fmt::Display for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facility_code_rules() {
        assert!(FacilityCode::parse("0412345678").is_ok());
        assert!(FacilityCode::parse("041234567").is_err());
        assert!(FacilityCode::parse("04123456789").is_err());
        assert!(FacilityCode::parse("04A2345678").is_err());
    }
}
