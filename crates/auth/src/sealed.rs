//! Secrets the server must be able to read back (TOTP keys) are kept encrypted at rest, so a
//! copy of the database — a backup, a replica, the off-site bucket, a dump — does not give
//! away every user's second factor. XChaCha20-Poly1305 (random 192-bit nonces need no
//! counter), with the owner of the value (e.g. the login) as associated data so that an
//! encrypted value cannot be moved to another user's row.
//!
//! Stored form, self-describing: `enc:v1:<key id>:<base64url(nonce ‖ ciphertext ‖ tag)>`.
//! A value without the `enc:` prefix is a legacy plain value: still readable, encrypted at
//! its next write. A [`Keyring`] holds the current key (encrypts) and older ones (decrypt
//! only) so that keys can be rotated while old values are re-encrypted.

use std::fmt;

use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};

use crate::{random_bytes, sha256, AuthError};

/// Prefix of an encrypted value (format version 1).
pub const SEALED_PREFIX: &str = "enc:v1:";
const NONCE_LEN: usize = 24;

fn b64_key() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

fn b64_value() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
}

/// A secret key that cannot be used. `Display` is Japanese then English.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error(
        "秘密鍵の形式が不正です（32バイトをbase64で、44文字） / a secret key must be 32 bytes in base64 (44 characters): {0}"
    )]
    Malformed(String),
    #[error("秘密鍵がありません / no secret key is given")]
    Empty,
}

/// An encrypted value that cannot be read. `Display` is Japanese then English.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error(
        "暗号化に使われた秘密鍵 {0} が設定されていません / the secret key {0} this value was encrypted with is not configured"
    )]
    UnknownKey(String),
    #[error(
        "暗号化された値が壊れているか、別の鍵・別の持ち主のものです / the encrypted value is damaged, or belongs to another key or owner"
    )]
    Damaged,
}

/// One 256-bit key. `Debug` shows only its id.
#[derive(Clone)]
pub struct SecretKey {
    id: String,
    bytes: [u8; 32],
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey({}, redacted)", self.id)
    }
}

impl PartialEq for SecretKey {
    fn eq(&self, other: &Self) -> bool {
        use subtle::ConstantTimeEq;
        bool::from(self.bytes.ct_eq(&other.bytes))
    }
}

impl Eq for SecretKey {}

impl SecretKey {
    /// 256 random bits from the operating system.
    pub fn generate() -> Result<SecretKey, AuthError> {
        let mut bytes = [0u8; 32];
        random_bytes(&mut bytes)?;
        Ok(SecretKey::from_bytes(bytes))
    }

    pub fn from_bytes(bytes: [u8; 32]) -> SecretKey {
        // The id names the key in stored values without revealing it: a hash of the key
        // under its own label, 8 hex digits (a hint for finding the key; the tag decides).
        let mut input = b"renkei secret key id\0".to_vec();
        input.extend_from_slice(&bytes);
        let h = sha256(&input);
        let id = h[..4].iter().map(|b| format!("{b:02x}")).collect();
        SecretKey { id, bytes }
    }

    /// The base64 text form (what key files and `RENKEI_SECRET_KEY` hold).
    pub fn parse(text: &str) -> Result<SecretKey, KeyError> {
        let text = text.trim();
        let bytes = b64_key()
            .decode(text)
            .map_err(|e| KeyError::Malformed(e.to_string()))?;
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|b: Vec<u8>| KeyError::Malformed(format!("{} bytes", b.len())))?;
        Ok(SecretKey::from_bytes(bytes))
    }

    pub fn to_text(&self) -> String {
        b64_key().encode(self.bytes)
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(&Key::from(self.bytes))
    }
}

/// The keys a server knows: the first encrypts, all decrypt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keyring {
    keys: Vec<SecretKey>,
}

/// Is `stored` an encrypted value (rather than a legacy plain one)?
pub fn is_sealed(stored: &str) -> bool {
    stored.starts_with("enc:")
}

/// The key id of an encrypted value.
pub fn sealed_key_id(stored: &str) -> Option<&str> {
    stored.strip_prefix(SEALED_PREFIX)?.split(':').next()
}

impl Keyring {
    /// `current` first, then `older` (duplicates dropped).
    pub fn new(current: SecretKey, older: impl IntoIterator<Item = SecretKey>) -> Keyring {
        let mut keys = vec![current];
        for k in older {
            if !keys.iter().any(|have| have.id == k.id) {
                keys.push(k);
            }
        }
        Keyring { keys }
    }

    /// Keys as text, separated by line breaks, commas or spaces; `#` starts a comment that
    /// runs to the end of the line. The first key is the current one.
    pub fn parse(text: &str) -> Result<Keyring, KeyError> {
        let mut keys = Vec::new();
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("");
            for word in line.split(|c: char| c == ',' || c.is_whitespace()) {
                if !word.is_empty() {
                    keys.push(SecretKey::parse(word)?);
                }
            }
        }
        let mut keys = keys.into_iter();
        let current = keys.next().ok_or(KeyError::Empty)?;
        Ok(Keyring::new(current, keys))
    }

    /// The text of a key file: a comment saying what it is, then one key per line.
    pub fn to_file_text(&self) -> String {
        let mut text = String::from(
            "# renkei secret keys: they decrypt the TOTP secrets in the database.\n\
             # Keep this file private (mode 0600) and apart from the backups and the off-site copies.\n\
             # The first key encrypts; the others only decrypt (see `renkei secrets rotate`).\n",
        );
        for k in &self.keys {
            text.push_str(&k.to_text());
            text.push('\n');
        }
        text
    }

    pub fn current(&self) -> &SecretKey {
        &self.keys[0]
    }

    pub fn keys(&self) -> &[SecretKey] {
        &self.keys
    }

    /// Encrypt `plaintext` with the current key, bound to `owner` (e.g. the login).
    pub fn seal(&self, plaintext: &str, owner: &str) -> Result<String, AuthError> {
        let key = self.current();
        let mut nonce = [0u8; NONCE_LEN];
        random_bytes(&mut nonce)?;
        let sealed = key
            .cipher()
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: owner.as_bytes(),
                },
            )
            .map_err(|_| AuthError::Seal("XChaCha20-Poly1305".into()))?;
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        Ok(format!(
            "{SEALED_PREFIX}{}:{}",
            key.id,
            b64_value().encode(bytes)
        ))
    }

    /// The plain text of a stored value: decrypted if it is encrypted, as is if it is a
    /// legacy plain value.
    pub fn open(&self, stored: &str, owner: &str) -> Result<String, SealError> {
        if !is_sealed(stored) {
            return Ok(stored.to_owned());
        }
        let rest = stored
            .strip_prefix(SEALED_PREFIX)
            .ok_or(SealError::Damaged)?;
        let (id, data) = rest.split_once(':').ok_or(SealError::Damaged)?;
        let key = self
            .keys
            .iter()
            .find(|k| k.id == id)
            .ok_or_else(|| SealError::UnknownKey(id.to_owned()))?;
        let bytes = b64_value().decode(data).map_err(|_| SealError::Damaged)?;
        if bytes.len() < NONCE_LEN {
            return Err(SealError::Damaged);
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| SealError::Damaged)?;
        let plain = key
            .cipher()
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: sealed,
                    aad: owner.as_bytes(),
                },
            )
            .map_err(|_| SealError::Damaged)?;
        String::from_utf8(plain).map_err(|_| SealError::Damaged)
    }

    /// Is `stored` encrypted with the current key (nothing to re-encrypt)?
    pub fn is_current(&self, stored: &str) -> bool {
        sealed_key_id(stored) == Some(self.current().id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring() -> Keyring {
        Keyring::new(SecretKey::generate().unwrap(), [])
    }

    #[test]
    fn seal_and_open() {
        let r = ring();
        let sealed = r.seal("JBSWY3DPEHPK3PXP", "dr.sato").unwrap();
        assert!(
            sealed.starts_with(&format!("enc:v1:{}:", r.current().id())),
            "{sealed}"
        );
        assert!(!sealed.contains("JBSWY3DPEHPK3PXP"));
        assert!(is_sealed(&sealed) && r.is_current(&sealed));
        assert_eq!(r.open(&sealed, "dr.sato").unwrap(), "JBSWY3DPEHPK3PXP");
        // A fresh nonce each time.
        assert_ne!(sealed, r.seal("JBSWY3DPEHPK3PXP", "dr.sato").unwrap());
    }

    #[test]
    fn bound_to_its_owner_and_key() {
        let r = ring();
        let sealed = r.seal("secret", "dr.sato").unwrap();
        assert_eq!(r.open(&sealed, "admin"), Err(SealError::Damaged));
        let other = ring();
        assert_eq!(
            other.open(&sealed, "dr.sato"),
            Err(SealError::UnknownKey(r.current().id().to_owned()))
        );
        // Any changed character is detected.
        let mut bytes = sealed.clone().into_bytes();
        let last = bytes.len() - 2;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).unwrap();
        assert_eq!(r.open(&tampered, "dr.sato"), Err(SealError::Damaged));
        for bad in ["enc:v1:", "enc:v1:abcd", "enc:v2:x:y", "enc:v1:zz:%%%"] {
            assert!(r.open(bad, "dr.sato").is_err(), "{bad}");
        }
    }

    #[test]
    fn legacy_plain_values_read_as_they_are() {
        let r = ring();
        assert_eq!(r.open("JBSWY3DPEHPK3PXP", "x").unwrap(), "JBSWY3DPEHPK3PXP");
        assert!(!r.is_current("JBSWY3DPEHPK3PXP"));
    }

    #[test]
    fn rotation_keeps_old_values_readable() {
        let old = ring();
        let sealed = old.seal("secret", "u").unwrap();
        let new = Keyring::new(SecretKey::generate().unwrap(), old.keys().to_vec());
        assert!(!new.is_current(&sealed));
        assert_eq!(new.open(&sealed, "u").unwrap(), "secret");
        let again = new.seal(&new.open(&sealed, "u").unwrap(), "u").unwrap();
        assert!(new.is_current(&again));
        // Once only the new key is left, the new value still opens.
        let only_new = Keyring::new(new.current().clone(), []);
        assert_eq!(only_new.open(&again, "u").unwrap(), "secret");
    }

    #[test]
    fn key_text_and_files() {
        let a = SecretKey::generate().unwrap();
        let b = SecretKey::generate().unwrap();
        assert_eq!(a.to_text().len(), 44);
        assert_eq!(SecretKey::parse(&a.to_text()).unwrap(), a);
        assert_eq!(a.id().len(), 8);
        assert!(!format!("{a:?}").contains(&a.to_text()));
        let ring = Keyring::new(a.clone(), [b.clone(), a.clone()]);
        assert_eq!(ring.keys().len(), 2);
        let text = ring.to_file_text();
        assert_eq!(Keyring::parse(&text).unwrap(), ring);
        let env = format!("{}, {}", a.to_text(), b.to_text());
        assert_eq!(Keyring::parse(&env).unwrap(), ring);
        assert_eq!(Keyring::parse("# nothing\n\n"), Err(KeyError::Empty));
        assert!(matches!(
            Keyring::parse("c2hvcnQ="),
            Err(KeyError::Malformed(_))
        ));
        assert!(matches!(
            SecretKey::parse("not base64!"),
            Err(KeyError::Malformed(_))
        ));
    }

    proptest::proptest! {
        #[test]
        fn open_never_panics(stored in "(enc:v1:[0-9a-f]{0,8}:)?[A-Za-z0-9_:%-]{0,80}") {
            let _ = ring().open(&stored, "u");
        }

        #[test]
        fn round_trip(plain in ".{0,64}", owner in ".{0,16}") {
            let r = ring();
            let sealed = r.seal(&plain, &owner).unwrap();
            proptest::prop_assert_eq!(r.open(&sealed, &owner).unwrap(), plain);
        }
    }
}
