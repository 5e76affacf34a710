//! Authentication for renkei: pure logic and cryptography, no database, no clock reads
//! (time is always an input), no network.
//!
//! - [`password`]: password rules ([`PasswordPolicy`]) and argon2id hashing (PHC strings).
//! - [`totp`]: RFC 6238 one-time codes (SHA-1, 6 digits, 30 s), replay-protected.
//! - [`lockout`]: failure counting and temporary lock ([`LockoutPolicy`], [`LoginState`]).
//! - [`session`]: session tokens (only their SHA-256 is stored) and expiry.
//! - [`apikey`]: machine credentials for facility systems (`rk_<facility>_<secret>`).
//! - [`sealed`]: secrets kept encrypted at rest (TOTP keys), with key rotation.
//! - [`login`]: [`check_login`], the whole password + TOTP + lockout decision.
//!
//! The defaults follow 医療情報システムの安全管理に関するガイドライン 第6.0版 (MHLW):
//! two-factor authentication is required by default, repeated failures lock the account,
//! idle sessions expire.

pub mod apikey;
mod encoding;
pub mod lockout;
pub mod login;
pub mod password;
pub mod sealed;
pub mod session;
pub mod totp;

pub use apikey::{parse_api_key, verify_api_key, ApiKey, ApiKeyError, NewApiKey, ParsedApiKey};
pub use encoding::{base32_decode, base32_encode};
pub use lockout::{
    after_success, source_key, Admission, LockoutPolicy, LoginState, SourcePolicy, SourceState,
};
pub use login::{check_login, judge, settle, LoginInput, LoginOutcome, StoredCredentials, Verdict};
pub use password::{
    dummy_verify_password, hash_password, hash_password_with_params, needs_rehash, verify_password,
    HashParams, PasswordPolicy, PasswordProblem,
};
pub use sealed::{is_sealed, KeyError, Keyring, SealError, SecretKey, SEALED_PREFIX};
pub use session::{token_hash, SessionPolicy, SessionToken};
pub use totp::{
    InvalidTotpSecret, TotpError, TotpSecret, DEFAULT_ISSUER, TOTP_DIGITS, TOTP_PERIOD_SECS,
};

/// Errors of the few operations that can fail for reasons other than bad input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error(
        "OSから乱数を取得できません / cannot obtain random bytes from the operating system: {0}"
    )]
    Random(String),
    #[error("パスワードのハッシュを計算できません / cannot hash the password: {0}")]
    Hash(String),
    #[error("秘密の値を暗号化できません / cannot encrypt the secret: {0}")]
    Seal(String),
}

/// Fill `buf` from the operating system's CSPRNG.
pub(crate) fn random_bytes(buf: &mut [u8]) -> Result<(), AuthError> {
    getrandom::fill(buf).map_err(|e| AuthError::Random(e.to_string()))
}

/// SHA-256 of `data`.
pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(data).into()
}
