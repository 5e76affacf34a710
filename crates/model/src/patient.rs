//! Regional patient IDs (地域共通ID) and the links from facility-local IDs (ID連携).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::time::UnixTime;
use crate::FacilityCode;

/// The regional patient ID: 16 digits, the last a Luhn check digit over the first 15 (the
/// 16-digit-with-check-digit convention proposed for Japanese networks; Luhn catches every
/// single-digit error and most transpositions when an ID is typed from a card).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RegionalId(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidRegionalId {
    #[error("regional ID {0:?} must be 16 digits")]
    Shape(String),
    #[error("regional ID {0:?} has a wrong check digit (mistyped?)")]
    CheckDigit(String),
}

fn luhn_digit(payload: &str) -> u32 {
    // Doubling starts from the rightmost payload digit (it sits next to the check digit).
    let sum: u32 = payload
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = (b - b'0') as u32;
            if i % 2 == 0 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum();
    (10 - sum % 10) % 10
}

impl RegionalId {
    /// The ID with the 12-digit number `n` (taken modulo 10^12) of a network with the
    /// 3-digit `network` prefix. The stores issue random numbers
    /// (`store::random_regional_id`), so IDs cannot be walked; early networks issued
    /// sequential ones, which stay valid.
    pub fn issue(network: u16, n: u64) -> RegionalId {
        let payload = format!("{:03}{:012}", network % 1000, n % 1_000_000_000_000);
        let check = luhn_digit(&payload);
        RegionalId(format!("{payload}{check}"))
    }

    pub fn parse(s: &str) -> Result<RegionalId, InvalidRegionalId> {
        let s: String = s
            .trim()
            .chars()
            .filter(|c| *c != '-' && *c != ' ')
            .collect();
        if s.len() != 16 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(InvalidRegionalId::Shape(s));
        }
        if luhn_digit(&s[..15]) != (s.as_bytes()[15] - b'0') as u32 {
            return Err(InvalidRegionalId::CheckDigit(s));
        }
        Ok(RegionalId(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Grouped for reading aloud and printing on cards: `0001-2345-6789-0123`.
    pub fn grouped(&self) -> String {
        format!(
            "{}-{}-{}-{}",
            &self.0[..4],
            &self.0[4..8],
            &self.0[8..12],
            &self.0[12..]
        )
    }
}

impl TryFrom<String> for RegionalId {
    type Error = InvalidRegionalId;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        RegionalId::parse(&s)
    }
}

impl From<RegionalId> for String {
    fn from(r: RegionalId) -> String {
        r.0
    }
}

impl fmt::Display for RegionalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for RegionalId {
    type Err = InvalidRegionalId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RegionalId::parse(s)
    }
}

/// One facility's patient: facility code + the facility's own patient ID (PID-3).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct LocalPatient {
    pub facility: FacilityCode,
    pub local_id: String,
}

/// Demographics as a facility recorded them (from ADT-00).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Demographics {
    /// Family and given name in kanji, separated by one space when both are known.
    pub name_kanji: String,
    /// The same in katakana.
    pub name_kana: String,
    /// `YYYYMMDD`.
    pub birth_date: String,
    /// HL7 table 0001: `M`, `F`, `O`, `U`.
    pub sex: String,
    pub phone: String,
    pub zip: String,
    pub address: String,
}

/// A link from a local patient to a regional ID (名寄せ). Links are never deleted: an unlink
/// ends the link (`ended_at`), so the history of who was linked when stays.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub regional_id: RegionalId,
    pub patient: LocalPatient,
    pub linked_at: UnixTime,
    pub linked_by: String,
    pub ended_at: Option<UnixTime>,
    pub ended_by: Option<String>,
}

impl Link {
    pub fn is_active(&self) -> bool {
        self.ended_at.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regional_ids_check_themselves() {
        let id = RegionalId::issue(4, 1);
        assert_eq!(id.as_str().len(), 16);
        assert_eq!(RegionalId::parse(id.as_str()), Ok(id.clone()));
        assert_eq!(RegionalId::parse(&id.grouped()), Ok(id.clone()));
        // Every single-digit change is caught.
        for pos in 0..16 {
            for d in b'0'..=b'9' {
                let mut s = id.as_str().as_bytes().to_vec();
                if s[pos] == d {
                    continue;
                }
                s[pos] = d;
                let s = String::from_utf8(s).unwrap();
                assert!(RegionalId::parse(&s).is_err(), "{s} accepted");
            }
        }
        assert!(matches!(
            RegionalId::parse("123"),
            Err(InvalidRegionalId::Shape(_))
        ));
    }
}
