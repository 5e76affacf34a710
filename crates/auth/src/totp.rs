//! Time-based one-time passwords, RFC 6238 over RFC 4226 HOTP: HMAC-SHA-1, 6 digits, 30 s
//! steps — the parameters every authenticator app supports.

use std::fmt;

use hmac::{Hmac, Mac};
use model::UnixTime;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::encoding::{base32_decode, base32_encode, percent_encode};
use crate::{random_bytes, AuthError};

/// Digits of a code.
pub const TOTP_DIGITS: u32 = 6;
/// Length of a time step in seconds.
pub const TOTP_PERIOD_SECS: i64 = 30;
/// Issuer shown in authenticator apps.
pub const DEFAULT_ISSUER: &str = "renkei";

/// A user's shared TOTP key. `Debug` does not show it; serde writes it as base32 text.
/// The key must be readable by the server to compute codes, so it is stored as is (encrypt
/// the column at rest if the store supports it).
#[derive(Clone)]
pub struct TotpSecret(Vec<u8>);

/// Constant-time equality (keys are secrets).
impl PartialEq for TotpSecret {
    fn eq(&self, other: &Self) -> bool {
        bool::from(self.0.as_slice().ct_eq(other.0.as_slice()))
    }
}

impl Eq for TotpSecret {}

/// A TOTP key that could not be accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "TOTPの秘密鍵が不正です（base32で16〜64バイト） / invalid TOTP secret: expected base32 of 16 to 64 bytes"
)]
pub struct InvalidTotpSecret;

/// Why a code was refused. `Display` is Japanese then English.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TotpError {
    #[error("確認コードは6桁の数字です / The verification code is 6 digits.")]
    Malformed,
    #[error("確認コードが違うか期限切れです / The verification code is wrong or expired.")]
    Wrong,
    #[error(
        "この確認コードは使用済みです。次のコードを待ってください / This code has already been used; wait for the next one."
    )]
    Replayed,
}

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TotpSecret({} bytes, redacted)", self.0.len())
    }
}

impl TotpSecret {
    /// 160 random bits, the length RFC 4226 recommends for HMAC-SHA-1.
    pub fn generate() -> Result<TotpSecret, AuthError> {
        let mut key = vec![0u8; 20];
        random_bytes(&mut key)?;
        Ok(TotpSecret(key))
    }

    /// A key of 16 to 64 bytes (RFC 4226 requires at least 128 bits).
    pub fn from_bytes(key: &[u8]) -> Result<TotpSecret, InvalidTotpSecret> {
        if (16..=64).contains(&key.len()) {
            Ok(TotpSecret(key.to_vec()))
        } else {
            Err(InvalidTotpSecret)
        }
    }

    /// Parse the base32 text form (either case, spaces allowed, padding optional).
    pub fn from_base32(text: &str) -> Result<TotpSecret, InvalidTotpSecret> {
        TotpSecret::from_bytes(&base32_decode(text).ok_or(InvalidTotpSecret)?)
    }

    /// Base32 without padding, what users type into an authenticator app by hand.
    pub fn to_base32(&self) -> String {
        base32_encode(&self.0)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Key URI for a QR code (Google Authenticator key-URI format):
    /// `otpauth://totp/<issuer>:<account>?secret=…&issuer=…&algorithm=SHA1&digits=6&period=30`.
    pub fn otpauth_uri(&self, issuer: &str, account: &str) -> String {
        let (i, a) = (percent_encode(issuer), percent_encode(account));
        format!(
            "otpauth://totp/{i}:{a}?secret={}&issuer={i}&algorithm=SHA1&digits={TOTP_DIGITS}&period={TOTP_PERIOD_SECS}",
            self.to_base32()
        )
    }

    /// The code for the time step containing `now` (for enrolment screens and tests).
    pub fn code_at(&self, now: UnixTime) -> String {
        let step = now.0.div_euclid(TOTP_PERIOD_SECS).max(0) as u64;
        format_code(hotp(Algo::Sha1, &self.0, step, TOTP_DIGITS), TOTP_DIGITS)
    }

    /// Check a code typed at `now`. Accepts the current step and one step either side
    /// (clock skew), but never a step at or before `last_used_step`: a code works once.
    /// Returns the step that matched; the caller stores it as the new `last_used_step`.
    /// Spaces and hyphens in the code are ignored (`123 456`).
    pub fn verify(
        &self,
        code: &str,
        now: UnixTime,
        last_used_step: Option<u64>,
    ) -> Result<u64, TotpError> {
        let digits: String = code
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .collect();
        if digits.len() != TOTP_DIGITS as usize || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(TotpError::Malformed);
        }
        let current = now.0.div_euclid(TOTP_PERIOD_SECS);
        let mut matched: Option<u64> = None;
        // All candidate steps are computed and compared without early exit.
        for step in [current - 1, current, current + 1] {
            if step < 0 {
                continue;
            }
            let step = step as u64;
            let expected = format_code(hotp(Algo::Sha1, &self.0, step, TOTP_DIGITS), TOTP_DIGITS);
            if bool::from(expected.as_bytes().ct_eq(digits.as_bytes())) {
                matched = Some(matched.map_or(step, |m: u64| m.max(step)));
            }
        }
        match (matched, last_used_step) {
            (None, _) => Err(TotpError::Wrong),
            (Some(step), Some(last)) if step <= last => Err(TotpError::Replayed),
            (Some(step), _) => Ok(step),
        }
    }
}

impl Serialize for TotpSecret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_base32())
    }
}

impl<'de> Deserialize<'de> for TotpSecret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        TotpSecret::from_base32(&s).map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Algo {
    Sha1,
    #[cfg(test)]
    Sha256,
    #[cfg(test)]
    Sha512,
}

fn hmac_digest(algo: Algo, key: &[u8], msg: &[u8]) -> Vec<u8> {
    macro_rules! mac {
        ($d:ty) => {{
            // HMAC accepts keys of any length: new_from_slice cannot fail.
            let Ok(mut m) = <Hmac<$d> as Mac>::new_from_slice(key) else {
                return Vec::new();
            };
            m.update(msg);
            m.finalize().into_bytes().to_vec()
        }};
    }
    match algo {
        Algo::Sha1 => mac!(sha1::Sha1),
        #[cfg(test)]
        Algo::Sha256 => mac!(sha2::Sha256),
        #[cfg(test)]
        Algo::Sha512 => mac!(sha2::Sha512),
    }
}

/// RFC 4226 §5.3: HMAC, dynamic truncation, modulo 10^digits.
pub(crate) fn hotp(algo: Algo, key: &[u8], counter: u64, digits: u32) -> u32 {
    let h = hmac_digest(algo, key, &counter.to_be_bytes());
    let Some(last) = h.last() else { return 0 };
    let o = (last & 0x0f) as usize;
    let bin = (u32::from(h[o] & 0x7f) << 24)
        | (u32::from(h[o + 1]) << 16)
        | (u32::from(h[o + 2]) << 8)
        | u32::from(h[o + 3]);
    bin % 10u32.pow(digits)
}

fn format_code(code: u32, digits: u32) -> String {
    format!("{code:0width$}", width = digits as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    const K1: &[u8] = b"12345678901234567890";
    const K256: &[u8] = b"12345678901234567890123456789012";
    const K512: &[u8] = b"1234567890123456789012345678901234567890123456789012345678901234";

    #[test]
    fn rfc4226_hotp_vectors() {
        let expected = [
            755224, 287082, 359152, 969429, 338314, 254676, 287922, 162583, 399871, 520489,
        ];
        for (c, e) in expected.iter().enumerate() {
            assert_eq!(hotp(Algo::Sha1, K1, c as u64, 6), *e, "counter {c}");
        }
    }

    /// RFC 6238 Appendix B.
    const RFC6238: &[(i64, &str, &str, &str)] = &[
        (59, "94287082", "46119246", "90693936"),
        (1111111109, "07081804", "68084774", "25091201"),
        (1111111111, "14050471", "67062674", "99943326"),
        (1234567890, "89005924", "91819424", "93441116"),
        (2000000000, "69279037", "90698825", "38618901"),
        (20000000000, "65353130", "77737706", "47863826"),
    ];

    #[test]
    fn rfc6238_vectors_8_digits() {
        for &(t, s1, s256, s512) in RFC6238 {
            let step = (t / 30) as u64;
            assert_eq!(format_code(hotp(Algo::Sha1, K1, step, 8), 8), s1);
            assert_eq!(format_code(hotp(Algo::Sha256, K256, step, 8), 8), s256);
            assert_eq!(format_code(hotp(Algo::Sha512, K512, step, 8), 8), s512);
        }
    }

    #[test]
    fn rfc6238_vectors_6_digits_through_public_api() {
        let secret = TotpSecret::from_bytes(K1).unwrap();
        for &(t, s1, _, _) in RFC6238 {
            let code = &s1[2..];
            assert_eq!(secret.code_at(UnixTime(t)), code);
            assert_eq!(
                secret.verify(code, UnixTime(t), None),
                Ok((t / 30) as u64),
                "t={t}"
            );
        }
    }

    #[test]
    fn skew_of_one_step_either_side() {
        let s = TotpSecret::from_bytes(K1).unwrap();
        let t = UnixTime(1_111_111_111); // step 37037037
        let step = 37_037_037u64;
        let code = s.code_at(t);
        assert_eq!(s.verify(&code, t.plus_seconds(30), None), Ok(step));
        assert_eq!(s.verify(&code, t.plus_seconds(-30), None), Ok(step));
        assert_eq!(
            s.verify(&code, t.plus_seconds(60), None),
            Err(TotpError::Wrong)
        );
        assert_eq!(
            s.verify(&code, t.plus_seconds(-60), None),
            Err(TotpError::Wrong)
        );
    }

    #[test]
    fn replay_is_rejected() {
        let s = TotpSecret::from_bytes(K1).unwrap();
        let t = UnixTime(1_234_567_890);
        let code = s.code_at(t);
        let step = s.verify(&code, t, None).unwrap();
        assert_eq!(s.verify(&code, t, Some(step)), Err(TotpError::Replayed));
        assert_eq!(
            s.verify(&code, t.plus_seconds(20), Some(step)),
            Err(TotpError::Replayed)
        );
        // An older code is a replay too once a newer step was used.
        let prev = s.code_at(t.plus_seconds(-30));
        assert_eq!(s.verify(&prev, t, Some(step)), Err(TotpError::Replayed));
        // The next step's code works.
        let next_t = t.plus_seconds(30);
        assert_eq!(
            s.verify(&s.code_at(next_t), next_t, Some(step)),
            Ok(step + 1)
        );
    }

    #[test]
    fn malformed_codes() {
        let s = TotpSecret::from_bytes(K1).unwrap();
        let t = UnixTime(59);
        for bad in ["", "12345", "1234567", "abcdef", "１２３４５６", "12345a"] {
            assert_eq!(s.verify(bad, t, None), Err(TotpError::Malformed), "{bad:?}");
        }
        let code = s.code_at(t);
        let spaced = format!("{} {}", &code[..3], &code[3..]);
        assert!(s.verify(&spaced, t, None).is_ok());
        // Before the epoch: no step, no panic.
        assert!(s.verify("000000", UnixTime(-100), None).is_err());
    }

    #[test]
    fn generate_base32_and_uri() {
        let s = TotpSecret::generate().unwrap();
        assert_eq!(s.as_bytes().len(), 20);
        let b32 = s.to_base32();
        assert_eq!(b32.len(), 32);
        assert_eq!(TotpSecret::from_base32(&b32).unwrap(), s);
        assert_eq!(TotpSecret::from_base32(&b32.to_lowercase()).unwrap(), s);
        assert_ne!(TotpSecret::generate().unwrap(), s);
        assert!(!format!("{s:?}").contains(&b32));

        let k = TotpSecret::from_bytes(K1).unwrap();
        assert_eq!(k.to_base32(), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        assert_eq!(
            k.otpauth_uri(DEFAULT_ISSUER, "tanaka@example.jp"),
            "otpauth://totp/renkei:tanaka%40example.jp?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
             &issuer=renkei&algorithm=SHA1&digits=6&period=30"
        );
        assert!(TotpSecret::from_base32("GEZDGNBV").is_err()); // 5 bytes: too short
        assert!(TotpSecret::from_base32("not base32!").is_err());
    }

    #[test]
    fn serde_as_base32() {
        let k = TotpSecret::from_bytes(K1).unwrap();
        let json = serde_json::to_string(&k).unwrap();
        assert_eq!(json, "\"GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\"");
        assert_eq!(serde_json::from_str::<TotpSecret>(&json).unwrap(), k);
        assert!(serde_json::from_str::<TotpSecret>("\"xyz\"").is_err());
    }

    proptest::proptest! {
        #[test]
        fn verify_never_panics(code in ".{0,12}", t in proptest::num::i64::ANY, last in proptest::option::of(proptest::num::u64::ANY)) {
            let s = TotpSecret::from_bytes(K1).unwrap();
            let _ = s.verify(&code, UnixTime(t), last);
            let _ = s.code_at(UnixTime(t));
        }

        #[test]
        fn own_code_verifies_once(t in 0i64..4_000_000_000) {
            let s = TotpSecret::from_bytes(K1).unwrap();
            let code = s.code_at(UnixTime(t));
            let step = s.verify(&code, UnixTime(t), None).unwrap();
            proptest::prop_assert!(step >= (t / 30) as u64);
            proptest::prop_assert_eq!(s.verify(&code, UnixTime(t), Some(step)), Err(TotpError::Replayed));
        }
    }
}
