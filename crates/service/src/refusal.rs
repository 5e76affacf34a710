//! Refusals the transport decides before any operation runs — a missing, wrong or expired
//! credential, a form posted from another site, a screen of the office opened by a clinician —
//! written to the audit log like every refusal the operations make themselves.
//!
//! A flood of bad credentials (a scanner, a stolen-cookie replay loop) must not fill the audit
//! log or slow the store: unauthenticated refusals are written at most once per
//! [`FLOOD_WINDOW_SECONDS`] per (source address, reason), and the next entry says how many were
//! left out in between. Refusals of signed-in principals are rare and always written.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use model::UnixTime;

use crate::{Network, Principal, Result, ServiceError};

/// At most one audit entry per source address and reason in this many seconds.
pub const FLOOD_WINDOW_SECONDS: i64 = 60;

/// Source addresses remembered at most; beyond this the oldest windows are forgotten (a
/// spoofed-address flood cannot grow the table without bound).
const MAX_TRACKED: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Window {
    started: UnixTime,
    suppressed: u64,
}

/// Counts unauthenticated refusals per (address, code) so that floods are summarised.
#[derive(Debug, Default)]
pub(crate) struct RefusalLimiter {
    windows: Mutex<HashMap<(Option<IpAddr>, &'static str), Window>>,
}

impl RefusalLimiter {
    /// `Some(n)` when this refusal is to be written (n = refusals left out since the last
    /// entry), `None` when it falls inside the current window.
    fn admit(&self, address: Option<IpAddr>, code: &'static str, now: UnixTime) -> Option<u64> {
        let mut windows = match self.windows.lock() {
            Ok(w) => w,
            // A panic while holding the lock cannot leave the counts inconsistent in a way
            // that matters: keep counting.
            Err(poisoned) => poisoned.into_inner(),
        };
        if windows.len() >= MAX_TRACKED {
            let cutoff = now.plus_seconds(-FLOOD_WINDOW_SECONDS);
            windows.retain(|_, w| w.started > cutoff);
            if windows.len() >= MAX_TRACKED {
                windows.clear();
            }
        }
        match windows.get_mut(&(address, code)) {
            Some(w) if now.0 - w.started.0 < FLOOD_WINDOW_SECONDS => {
                w.suppressed += 1;
                None
            }
            Some(w) => {
                let left_out = w.suppressed;
                *w = Window {
                    started: now,
                    suppressed: 0,
                };
                Some(left_out)
            }
            None => {
                windows.insert(
                    (address, code),
                    Window {
                        started: now,
                        suppressed: 0,
                    },
                );
                Some(0)
            }
        }
    }
}

/// Why a request without a valid credential was turned away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialRefusal {
    /// No session cookie, bearer token or API key at all (API routes only: a browser that
    /// opens a page before signing in is sent to the sign-in page without an entry).
    Missing,
    /// A session token that is unknown, ended or expired.
    InvalidSession,
    /// An API key that is malformed, unknown or revoked.
    InvalidApiKey,
    /// A wrong or missing replication token.
    InvalidReplicationToken,
    /// A state-changing request sent from another site (CSRF).
    CrossSite,
}

impl CredentialRefusal {
    pub fn code(self) -> &'static str {
        match self {
            CredentialRefusal::Missing => "no_credential",
            CredentialRefusal::InvalidSession => "invalid_session",
            CredentialRefusal::InvalidApiKey => "invalid_api_key",
            CredentialRefusal::InvalidReplicationToken => "invalid_replication_token",
            CredentialRefusal::CrossSite => "cross_site_request",
        }
    }

    fn reason(self) -> &'static str {
        match self {
            CredentialRefusal::Missing => "no credential presented",
            CredentialRefusal::InvalidSession => "unknown, ended or expired session",
            CredentialRefusal::InvalidApiKey => "invalid or revoked API key",
            CredentialRefusal::InvalidReplicationToken => "wrong or missing replication token",
            CredentialRefusal::CrossSite => "state-changing request sent from another site",
        }
    }
}

impl Network {
    /// Audit a request turned away before anyone was identified. `target` is the method and
    /// path (never a query string: it may carry a name being searched for). Flood-limited per
    /// source address and reason; returns whether an entry was written.
    pub async fn audit_unauthenticated(
        &self,
        refusal: CredentialRefusal,
        address: Option<IpAddr>,
        target: &str,
    ) -> Result<bool> {
        let now = self.now();
        let Some(left_out) = self.refusals.admit(address, refusal.code(), now) else {
            return Ok(false);
        };
        let actor = match address {
            Some(a) => format!("unauthenticated@{a}"),
            None => "unauthenticated".to_owned(),
        };
        let mut e = audit::Event::new(now, actor, audit::Action::Login);
        e.target = target.to_owned();
        e.outcome = audit::Outcome::Refused {
            code: refusal.code().into(),
            reason: refusal.reason().into(),
        };
        if left_out > 0 {
            e.detail = format!(
                "{left_out} more from the same address left out in the last {FLOOD_WINDOW_SECONDS} s"
            );
        }
        self.audit(e).await?;
        Ok(true)
    }

    /// Refuse a signed-in principal something the transport decided (a screen of another
    /// role, a form from another site): the refusal is audited and returned as the error to
    /// show. The service's own operations refuse through their own checks.
    pub async fn refuse(
        &self,
        actor: &Principal,
        action: audit::Action,
        target: &str,
        code: &str,
        reason: &str,
    ) -> ServiceError {
        let mut e = self.event(actor, action);
        e.target = target.to_owned();
        e.outcome = audit::Outcome::Refused {
            code: code.into(),
            reason: reason.into(),
        };
        match self.audit(e).await {
            Ok(()) => ServiceError::Forbidden(reason.into()),
            // Not audited, not allowed either: the refusal stands, the operator sees why.
            Err(err) => err,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_is_one_entry_per_window_with_the_count_left_out() {
        let l = RefusalLimiter::default();
        let a: Option<IpAddr> = Some([10, 0, 0, 9].into());
        let t0 = UnixTime(1_000_000);
        assert_eq!(l.admit(a, "invalid_session", t0), Some(0));
        for i in 1..=50 {
            assert_eq!(l.admit(a, "invalid_session", t0.plus_seconds(i % 59)), None);
        }
        // Another reason or another address is its own window.
        assert_eq!(l.admit(a, "invalid_api_key", t0), Some(0));
        assert_eq!(
            l.admit(Some([10, 0, 0, 8].into()), "invalid_session", t0),
            Some(0)
        );
        assert_eq!(
            l.admit(a, "invalid_session", t0.plus_seconds(FLOOD_WINDOW_SECONDS)),
            Some(50)
        );
        assert_eq!(
            l.admit(
                a,
                "invalid_session",
                t0.plus_seconds(FLOOD_WINDOW_SECONDS + 1)
            ),
            None
        );
    }

    #[test]
    fn the_table_stays_bounded() {
        let l = RefusalLimiter::default();
        let t0 = UnixTime(5_000_000);
        for i in 0..(MAX_TRACKED as u32 + 10) {
            let addr = IpAddr::from(std::net::Ipv4Addr::from(i));
            assert_eq!(l.admit(Some(addr), "invalid_session", t0), Some(0));
        }
        assert!(l.windows.lock().map(|w| w.len()).unwrap_or(0) <= MAX_TRACKED);
    }
}
