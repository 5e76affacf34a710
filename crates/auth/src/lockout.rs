//! Temporary lockout after repeated failures. Pure functions over a small state the caller
//! stores with the user.

use model::UnixTime;
use serde::{Deserialize, Serialize};

/// How many consecutive failures lock an account, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LockoutPolicy {
    /// Consecutive failures (wrong password or wrong code) that lock the account. Values
    /// below 1 are treated as 1: lockout cannot be switched off by configuration.
    pub max_failures: u32,
    pub lock_minutes: u32,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        LockoutPolicy {
            max_failures: 5,
            lock_minutes: 15,
        }
    }
}

/// Per-user authentication state, stored by the caller (serde).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LoginState {
    /// Consecutive failures since the last success or the end of the last lock.
    pub failures: u32,
    /// Locked until this instant (exclusive) if set and in the future.
    pub locked_until: Option<UnixTime>,
    /// Last TOTP time step accepted: codes of this step or earlier are replays.
    pub last_totp_step: Option<u64>,
}

impl LockoutPolicy {
    /// `Some(until)` while the account is locked at `now`.
    pub fn is_locked(&self, state: &LoginState, now: UnixTime) -> Option<UnixTime> {
        state.locked_until.filter(|until| now < *until)
    }

    /// The state after one failed attempt at `now`. A failure while locked changes nothing
    /// (the lock is not extended, so nobody can keep an account locked forever by hammering
    /// it during the lock). After a lock has run out, counting starts again from zero.
    pub fn after_failure(&self, state: &LoginState, now: UnixTime) -> LoginState {
        if self.is_locked(state, now).is_some() {
            return *state;
        }
        let mut next = *state;
        if next.locked_until.is_some() {
            // The previous lock has expired.
            next.locked_until = None;
            next.failures = 0;
        }
        next.failures = next.failures.saturating_add(1);
        if next.failures >= self.max_failures.max(1) {
            next.locked_until = Some(now.plus_seconds(i64::from(self.lock_minutes) * 60));
        }
        next
    }

    /// The state after a successful login: failures and lock cleared, TOTP step kept.
    pub fn after_success(&self, state: &LoginState) -> LoginState {
        after_success(state)
    }
}

/// The state after a successful login (or an administrator's unlock): failures and lock
/// cleared; the last TOTP step is kept (replay protection must survive).
pub fn after_success(state: &LoginState) -> LoginState {
    LoginState {
        failures: 0,
        locked_until: None,
        last_totp_step: state.last_totp_step,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_failures_lock_for_fifteen_minutes() {
        let p = LockoutPolicy::default();
        let t0 = UnixTime(1_700_000_000);
        let mut s = LoginState::default();
        for i in 0..4 {
            s = p.after_failure(&s, t0.plus_seconds(i));
            assert_eq!(p.is_locked(&s, t0.plus_seconds(i)), None);
        }
        s = p.after_failure(&s, t0.plus_seconds(4));
        let until = t0.plus_seconds(4 + 15 * 60);
        assert_eq!(s.failures, 5);
        assert_eq!(p.is_locked(&s, t0.plus_seconds(5)), Some(until));
        assert_eq!(p.is_locked(&s, until.plus_seconds(-1)), Some(until));
        assert_eq!(p.is_locked(&s, until), None);
    }

    #[test]
    fn failures_during_lock_do_not_extend_it() {
        let p = LockoutPolicy::default();
        let t0 = UnixTime(1_000);
        let mut s = LoginState::default();
        for _ in 0..5 {
            s = p.after_failure(&s, t0);
        }
        let locked = s;
        s = p.after_failure(&s, t0.plus_seconds(60));
        assert_eq!(s, locked);
    }

    #[test]
    fn after_lock_expiry_counting_restarts() {
        let p = LockoutPolicy::default();
        let t0 = UnixTime(1_000);
        let mut s = LoginState::default();
        for _ in 0..5 {
            s = p.after_failure(&s, t0);
        }
        let later = t0.plus_seconds(16 * 60);
        s = p.after_failure(&s, later);
        assert_eq!(s.failures, 1);
        assert_eq!(s.locked_until, None);
        assert_eq!(p.is_locked(&s, later), None);
    }

    #[test]
    fn success_resets_but_keeps_totp_step() {
        let p = LockoutPolicy::default();
        let s = LoginState {
            failures: 3,
            locked_until: Some(UnixTime(5)),
            last_totp_step: Some(42),
        };
        assert_eq!(
            p.after_success(&s),
            LoginState {
                failures: 0,
                locked_until: None,
                last_totp_step: Some(42)
            }
        );
    }

    #[test]
    fn zero_max_failures_still_locks() {
        let p = LockoutPolicy {
            max_failures: 0,
            lock_minutes: 1,
        };
        let s = p.after_failure(&LoginState::default(), UnixTime(0));
        assert_eq!(p.is_locked(&s, UnixTime(0)), Some(UnixTime(60)));
    }

    #[test]
    fn serde_round_trip_and_defaults() {
        let s = LoginState {
            failures: 2,
            locked_until: Some(UnixTime(9)),
            last_totp_step: Some(7),
        };
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<LoginState>(&json).unwrap(), s);
        assert_eq!(
            serde_json::from_str::<LoginState>("{}").unwrap(),
            LoginState::default()
        );
    }
}
