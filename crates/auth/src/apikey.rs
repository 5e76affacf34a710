//! Machine credentials for facility systems (SS-MIX2 upload agents, FHIR clients).
//!
//! A key reads `rk_<10-digit facility code>_<52 base32 characters>` (256 random bits), e.g.
//! `rk_0412345678_k3j…`. The network stores only SHA-256 of the whole key plus a display
//! prefix (`rk_0412345678_k3j5m2qa`) to find the row and to show in the admin screen; the
//! facility code can be read back from a presented key before any lookup.

use std::fmt;

use model::FacilityCode;
use subtle::ConstantTimeEq;

use crate::encoding::base32_encode;
use crate::{random_bytes, sha256, AuthError};

const PREFIX: &str = "rk_";
/// Random characters of the secret part shown in the display prefix.
const DISPLAY_CHARS: usize = 8;
/// base32 characters for 32 random bytes (no padding).
const SECRET_CHARS: usize = 52;

/// Generator of API keys.
pub struct ApiKey;

/// A freshly generated key. Show `secret_text` once to the administrator; store
/// `display_prefix` and `hash`.
#[derive(Clone, PartialEq, Eq)]
pub struct NewApiKey {
    pub facility: FacilityCode,
    /// `rk_<facility>_<first 8 random characters>`: not secret, identifies the key.
    pub display_prefix: String,
    /// The whole key, to be shown once and never stored.
    pub secret_text: String,
    /// SHA-256 of `secret_text`.
    pub hash: [u8; 32],
}

impl fmt::Debug for NewApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewApiKey")
            .field("facility", &self.facility)
            .field("display_prefix", &self.display_prefix)
            .field("secret_text", &"redacted")
            .finish()
    }
}

/// Why a presented key is not even well formed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiKeyError {
    #[error("APIキーの形式が不正です（rk_<施設コード10桁>_<英数字52文字>） / malformed API key: expected rk_<10-digit facility code>_<52 base32 characters>")]
    Malformed,
}

/// The parts of a well-formed presented key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedApiKey {
    pub facility: FacilityCode,
    pub display_prefix: String,
}

impl ApiKey {
    /// A new key for `facility`.
    pub fn generate(facility: &FacilityCode) -> Result<NewApiKey, AuthError> {
        let mut bytes = [0u8; 32];
        random_bytes(&mut bytes)?;
        let random = base32_encode(&bytes).to_ascii_lowercase();
        let secret_text = format!("{PREFIX}{facility}_{random}");
        let display_prefix = format!("{PREFIX}{facility}_{}", &random[..DISPLAY_CHARS]);
        Ok(NewApiKey {
            facility: facility.clone(),
            display_prefix,
            hash: sha256(secret_text.as_bytes()),
            secret_text,
        })
    }
}

/// Check the shape of a presented key and read its facility code and display prefix (to
/// find the stored hash). Surrounding whitespace is ignored. Does not authenticate.
pub fn parse_api_key(presented: &str) -> Result<ParsedApiKey, ApiKeyError> {
    let key = presented.trim();
    let rest = key.strip_prefix(PREFIX).ok_or(ApiKeyError::Malformed)?;
    let (code, random) = rest.split_once('_').ok_or(ApiKeyError::Malformed)?;
    if code.len() != 10 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiKeyError::Malformed);
    }
    if random.len() != SECRET_CHARS
        || !random
            .bytes()
            .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b))
    {
        return Err(ApiKeyError::Malformed);
    }
    let facility = FacilityCode::parse(code).map_err(|_| ApiKeyError::Malformed)?;
    Ok(ParsedApiKey {
        display_prefix: format!("{PREFIX}{facility}_{}", &random[..DISPLAY_CHARS]),
        facility,
    })
}

/// Does the presented key match the stored hash? Constant-time comparison of SHA-256
/// digests; surrounding whitespace in the presented key is ignored.
pub fn verify_api_key(stored_hash: &[u8; 32], presented: &str) -> bool {
    let h = sha256(presented.trim().as_bytes());
    bool::from(h.ct_eq(stored_hash))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fac() -> FacilityCode {
        FacilityCode::parse("0412345678").unwrap()
    }

    #[test]
    fn generate_parse_verify() {
        let k = ApiKey::generate(&fac()).unwrap();
        assert!(
            k.secret_text.starts_with("rk_0412345678_"),
            "{}",
            k.secret_text
        );
        assert_eq!(k.secret_text.len(), 3 + 10 + 1 + 52);
        assert!(k.secret_text.starts_with(&k.display_prefix));
        assert_eq!(k.display_prefix.len(), 3 + 10 + 1 + 8);
        let parsed = parse_api_key(&k.secret_text).unwrap();
        assert_eq!(parsed.facility, fac());
        assert_eq!(parsed.display_prefix, k.display_prefix);
        assert!(verify_api_key(&k.hash, &k.secret_text));
        assert!(verify_api_key(&k.hash, &format!(" {}\n", k.secret_text)));
        let other = ApiKey::generate(&fac()).unwrap();
        assert_ne!(other.secret_text, k.secret_text);
        assert!(!verify_api_key(&k.hash, &other.secret_text));
        let mut tampered = k.secret_text.clone();
        tampered.pop();
        tampered.push(if k.secret_text.ends_with('a') {
            'b'
        } else {
            'a'
        });
        assert!(!verify_api_key(&k.hash, &tampered));
        assert!(!format!("{k:?}").contains(&k.secret_text));
    }

    #[test]
    fn malformed_keys() {
        let good = ApiKey::generate(&fac()).unwrap().secret_text;
        let random = &good[14..];
        for bad in [
            String::new(),
            "rk_".into(),
            format!("xx_0412345678_{random}"),
            format!("rk_041234567_{random}"),
            format!("rk_04123456789_{random}"),
            format!("rk_04A2345678_{random}"),
            format!("rk_0412345678{random}"),
            format!("rk_0412345678_{}", &random[1..]),
            format!("rk_0412345678_{}", random.to_uppercase()),
            format!("rk_0412345678_{}1", &random[1..]),
            "rk_０４１２３４５６７８_abc".into(),
        ] {
            assert_eq!(parse_api_key(&bad), Err(ApiKeyError::Malformed), "{bad:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(s in ".{0,80}") {
            let _ = parse_api_key(&s);
            let _ = parse_api_key(&format!("rk_0412345678_{s}"));
        }
    }
}
