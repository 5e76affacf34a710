//! Session tokens and expiry. The token goes to the browser (cookie); the server stores only
//! its SHA-256, so a leaked session table cannot be replayed.

use std::fmt;

use model::UnixTime;
use serde::{Deserialize, Serialize};

use crate::encoding::base64url_encode;
use crate::{random_bytes, sha256, AuthError};

/// A fresh session token: 256 random bits as 43 base64url characters.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionToken(String);

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionToken(redacted)")
    }
}

impl SessionToken {
    pub fn generate() -> Result<SessionToken, AuthError> {
        let mut bytes = [0u8; 32];
        random_bytes(&mut bytes)?;
        Ok(SessionToken(base64url_encode(&bytes)))
    }

    /// The text to hand to the client.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// What to store: [`token_hash`] of the text.
    pub fn hash(&self) -> [u8; 32] {
        token_hash(&self.0)
    }
}

/// SHA-256 of a presented token, the key to look the session up by. Lookup by hash needs
/// no constant-time comparison: an attacker cannot steer the hash byte by byte.
pub fn token_hash(token: &str) -> [u8; 32] {
    sha256(token.as_bytes())
}

/// When sessions end: after `idle_minutes` without a request, and in any case
/// `absolute_hours` after sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SessionPolicy {
    pub idle_minutes: u32,
    pub absolute_hours: u32,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        SessionPolicy {
            idle_minutes: 30,
            absolute_hours: 12,
        }
    }
}

impl SessionPolicy {
    /// The instant the session ends if no further request arrives.
    pub fn expires_at(&self, created_at: UnixTime, last_seen: UnixTime) -> UnixTime {
        let idle = last_seen.plus_seconds(i64::from(self.idle_minutes) * 60);
        let absolute = created_at.plus_seconds(i64::from(self.absolute_hours) * 3600);
        idle.min(absolute)
    }

    /// Has the session expired at `now`? (`now` equal to the end counts as expired.)
    pub fn is_expired(&self, created_at: UnixTime, last_seen: UnixTime, now: UnixTime) -> bool {
        now >= self.expires_at(created_at, last_seen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_url_safe_and_hashed() {
        let a = SessionToken::generate().unwrap();
        let b = SessionToken::generate().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 43);
        assert!(a
            .as_str()
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        assert_eq!(a.hash(), token_hash(a.as_str()));
        assert_ne!(a.hash(), b.hash());
        assert!(!format!("{a:?}").contains(a.as_str()));
        // SHA-256("abc")
        assert_eq!(token_hash("abc")[..4], [0xba, 0x78, 0x16, 0xbf]);
    }

    #[test]
    fn idle_and_absolute_expiry() {
        let p = SessionPolicy::default();
        let t0 = UnixTime(1_700_000_000);
        assert!(!p.is_expired(t0, t0, t0.plus_seconds(29 * 60)));
        assert!(p.is_expired(t0, t0, t0.plus_seconds(30 * 60)));
        // Active every 10 minutes: alive until the 12-hour limit.
        let eleven = t0.plus_seconds(11 * 3600 + 50 * 60);
        assert!(!p.is_expired(t0, eleven, eleven.plus_seconds(60)));
        let twelve = t0.plus_seconds(12 * 3600);
        assert!(p.is_expired(t0, twelve.plus_seconds(-60), twelve));
        assert_eq!(p.expires_at(t0, eleven), twelve);
    }
}
