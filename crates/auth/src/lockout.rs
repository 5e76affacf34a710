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

/// The first step of a sign-in, decided on the stored state before anything is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Locked: refuse without checking anything.
    Refused { until: UnixTime },
    /// Go on and check the credentials. The attempt already counts as a failure; `locks` is
    /// set when that failure locked the account (then a wrong password answers `Locked`).
    Admitted { locks: Option<UnixTime> },
}

impl LockoutPolicy {
    /// Count an attempt as a failure *before* its password is checked. The caller applies
    /// this to the stored state atomically, so parallel attempts each take one of the
    /// allowed failures and no more than `max_failures` guesses are ever checked; an
    /// attempt that turns out not to be a failure gives its count back ([`Self::refund`])
    /// or clears it by succeeding.
    pub fn admit(&self, state: &LoginState, now: UnixTime) -> (Admission, LoginState) {
        if let Some(until) = self.is_locked(state, now) {
            return (Admission::Refused { until }, *state);
        }
        let next = self.after_failure(state, now);
        let locks = self.is_locked(&next, now);
        (Admission::Admitted { locks }, next)
    }

    /// Give back the failure [`Self::admit`] counted for an attempt that was not one (the
    /// right password with the code still to come). The lock that count completed goes
    /// with it. A lock that has run out since is left alone: the count belonged to it.
    pub fn refund(&self, state: &LoginState, now: UnixTime) -> LoginState {
        if state.locked_until.is_some_and(|until| now >= until) {
            return *state;
        }
        let mut next = *state;
        next.failures = next.failures.saturating_sub(1);
        if next.failures < self.max_failures.max(1) {
            next.locked_until = None;
        }
        next
    }
}

/// Failed sign-ins from one network address, whatever logins they tried. The account limit
/// alone lets an attacker try a few passwords at every login (password spraying); this one
/// stops that per address. Failures are counted in a fixed window; reaching `max_failures`
/// within it blocks the address for `lock_minutes`. Successful sign-ins do not count, so the
/// staff of a hospital behind one NAT address are not blocked by each other's typing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SourcePolicy {
    /// Failures within one window that block the address. Values below 1 are treated as 1.
    pub max_failures: u32,
    pub window_minutes: u32,
    pub lock_minutes: u32,
}

impl Default for SourcePolicy {
    fn default() -> Self {
        SourcePolicy {
            max_failures: 30,
            window_minutes: 15,
            lock_minutes: 15,
        }
    }
}

/// Failures counted for one address (stored by the caller, serde).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SourceState {
    pub failures: u32,
    pub window_start: UnixTime,
    pub locked_until: Option<UnixTime>,
}

impl Default for SourceState {
    fn default() -> Self {
        SourceState {
            failures: 0,
            window_start: UnixTime(0),
            locked_until: None,
        }
    }
}

impl SourcePolicy {
    pub fn is_locked(&self, state: &SourceState, now: UnixTime) -> Option<UnixTime> {
        state.locked_until.filter(|until| now < *until)
    }

    fn window_end(&self, state: &SourceState) -> UnixTime {
        state
            .window_start
            .plus_seconds(i64::from(self.window_minutes) * 60)
    }

    /// Like [`LockoutPolicy::admit`]: refuse a blocked address, else count the attempt as a
    /// failure in advance. `state` is None for an address not seen (or forgotten).
    pub fn admit(&self, state: Option<&SourceState>, now: UnixTime) -> (Admission, SourceState) {
        let mut next = state.copied().unwrap_or(SourceState {
            failures: 0,
            window_start: now,
            locked_until: None,
        });
        if let Some(until) = self.is_locked(&next, now) {
            return (Admission::Refused { until }, next);
        }
        if next.locked_until.is_some() || now >= self.window_end(&next) {
            next = SourceState {
                failures: 0,
                window_start: now,
                locked_until: None,
            };
        }
        next.failures = next.failures.saturating_add(1);
        if next.failures >= self.max_failures.max(1) {
            next.locked_until = Some(now.plus_seconds(i64::from(self.lock_minutes) * 60));
        }
        (
            Admission::Admitted {
                locks: self.is_locked(&next, now),
            },
            next,
        )
    }

    /// Give back an advance count (the attempt was not a failure).
    pub fn refund(&self, state: &SourceState, now: UnixTime) -> SourceState {
        if state.locked_until.is_some_and(|until| now >= until) {
            return *state;
        }
        let mut next = *state;
        next.failures = next.failures.saturating_sub(1);
        if next.failures < self.max_failures.max(1) {
            next.locked_until = None;
        }
        next
    }

    /// Until when the state matters: after this it may be forgotten (it would be reset).
    pub fn keep_until(&self, state: &SourceState) -> UnixTime {
        let end = self.window_end(state);
        state.locked_until.map_or(end, |until| until.max(end))
    }
}

/// The key under which failures from `ip` are counted. An IPv6 client usually has a whole
/// /64 to pick addresses from, so IPv6 is counted per /64; IPv4-mapped addresses as IPv4.
pub fn source_key(ip: std::net::IpAddr) -> String {
    use std::net::IpAddr;
    match ip {
        IpAddr::V4(v4) => format!("ip:{v4}"),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => format!("ip:{v4}"),
            None => {
                let s = v6.segments();
                let prefix = std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
                format!("ip:{prefix}/64")
            }
        },
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
    fn admission_counts_in_advance_and_refund_gives_it_back() {
        let p = LockoutPolicy::default();
        let t = UnixTime(1_000);
        let mut s = LoginState::default();
        // Forty attempts admitted one after the other on the stored state, as the store
        // applies them: only max_failures get through, the rest are refused unchecked.
        let mut admitted = 0;
        for _ in 0..40 {
            let (a, next) = p.admit(&s, t);
            if matches!(a, Admission::Admitted { .. }) {
                admitted += 1;
            }
            s = next;
        }
        assert_eq!(admitted, 5);
        assert_eq!(p.is_locked(&s, t), Some(t.plus_seconds(15 * 60)));

        // The fifth admission locks; a refund (right password, code to come) undoes both.
        let mut s = LoginState::default();
        for _ in 0..4 {
            s = p.admit(&s, t).1;
        }
        let (a, locked) = p.admit(&s, t);
        assert_eq!(
            a,
            Admission::Admitted {
                locks: Some(t.plus_seconds(15 * 60))
            }
        );
        assert_eq!(p.refund(&locked, t), s);
        // A refund never goes below zero and keeps the TOTP step.
        let fresh = LoginState {
            last_totp_step: Some(9),
            ..LoginState::default()
        };
        assert_eq!(p.refund(&fresh, t), fresh);
        // A lock that has run out is not touched by a late refund.
        let later = t.plus_seconds(16 * 60);
        assert_eq!(p.refund(&locked, later), locked);
    }

    #[test]
    fn source_policy_counts_failures_per_window() {
        let p = SourcePolicy {
            max_failures: 3,
            window_minutes: 10,
            lock_minutes: 5,
        };
        let t = UnixTime(10_000);
        let (a, s) = p.admit(None, t);
        assert_eq!(a, Admission::Admitted { locks: None });
        assert_eq!((s.failures, s.window_start), (1, t));
        // A new window starts the count again.
        let (_, s2) = p.admit(Some(&s), t.plus_seconds(10 * 60));
        assert_eq!((s2.failures, s2.window_start), (1, t.plus_seconds(600)));
        // Three in one window block the address for lock_minutes.
        let (_, s) = p.admit(Some(&s), t.plus_seconds(1));
        let (a, s) = p.admit(Some(&s), t.plus_seconds(2));
        let until = t.plus_seconds(2 + 300);
        assert_eq!(a, Admission::Admitted { locks: Some(until) });
        assert_eq!(
            p.admit(Some(&s), t.plus_seconds(3)).0,
            Admission::Refused { until }
        );
        assert_eq!(p.keep_until(&s), t.plus_seconds(600));
        // A refund undoes the count and the lock it completed.
        let r = p.refund(&s, t.plus_seconds(3));
        assert_eq!((r.failures, r.locked_until), (2, None));
        // After the block, counting starts again.
        let (a, s) = p.admit(Some(&s), until);
        assert_eq!(a, Admission::Admitted { locks: None });
        assert_eq!(s.failures, 1);
        assert_eq!(p.keep_until(&s), until.plus_seconds(600));
    }

    #[test]
    fn source_keys() {
        let k = |s: &str| source_key(s.parse().unwrap());
        assert_eq!(k("192.0.2.7"), "ip:192.0.2.7");
        assert_eq!(k("::ffff:192.0.2.7"), "ip:192.0.2.7");
        assert_eq!(k("2001:db8:1:2:aaaa::1"), "ip:2001:db8:1:2::/64");
        assert_eq!(k("2001:db8:1:2:bbbb::9"), k("2001:db8:1:2::1"));
        assert_ne!(k("2001:db8:1:3::1"), k("2001:db8:1:2::1"));
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
