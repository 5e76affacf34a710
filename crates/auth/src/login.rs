//! The whole sign-in decision: lockout, password, second factor. Pure: the caller loads the
//! credentials, passes the time, stores the returned state and acts on the outcome.
//!
//! In three steps, so that the expensive password check runs outside any store update while
//! the state changes stay atomic: [`LockoutPolicy::admit`] (stored state → counted in
//! advance or refused), the password and [`judge`] (no state), [`settle`] (stored state →
//! outcome and the state to store).

use std::fmt;

use model::UnixTime;
use serde::{Deserialize, Serialize};

use crate::lockout::{after_success, Admission, LockoutPolicy, LoginState};
use crate::password::verify_password;
use crate::totp::TotpSecret;

/// What the user typed.
#[derive(Clone, Copy)]
pub struct LoginInput<'a> {
    pub password: &'a str,
    /// The 6-digit code, if the form had one. Empty or blank counts as none.
    pub totp_code: Option<&'a str>,
}

impl fmt::Debug for LoginInput<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginInput")
            .field("password", &"redacted")
            .field("totp_code", &self.totp_code.map(|_| "redacted"))
            .finish()
    }
}

/// What the network stores about a user's credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredCredentials {
    /// argon2id PHC string.
    pub password_phc: String,
    /// Enrolled TOTP key, if any. An enrolled key is always required, whatever the policy.
    pub totp_secret: Option<TotpSecret>,
    pub state: LoginState,
    /// Policy: must this user sign in with a second factor? True by default (guideline 6.0).
    pub totp_required: bool,
}

/// Result of a sign-in attempt. `Display` is Japanese then English, worded for the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum LoginOutcome {
    Success,
    WrongPassword,
    /// The password was right and a code is needed: ask for it (then submit both again).
    TotpRequired,
    WrongTotp,
    /// The password was right, the policy requires two factors and the user has none yet:
    /// the caller must let the user do nothing but enrol a TOTP key, then record success.
    TotpNotEnrolled,
    /// The account is locked; nothing was checked.
    Locked {
        until: UnixTime,
    },
}

impl fmt::Display for LoginOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoginOutcome::Success => f.write_str("ログインしました / Signed in."),
            LoginOutcome::WrongPassword => f.write_str(
                "ログインIDまたはパスワードが違います / The login name or password is wrong.",
            ),
            LoginOutcome::TotpRequired => f.write_str(
                "認証アプリの6桁の確認コードを入力してください / \
                 Enter the 6-digit code from your authenticator app.",
            ),
            LoginOutcome::WrongTotp => f.write_str(
                "確認コードが違うか期限切れです / The verification code is wrong or expired.",
            ),
            LoginOutcome::TotpNotEnrolled => f.write_str(
                "二要素認証の登録が必要です / You must set up two-factor authentication.",
            ),
            LoginOutcome::Locked { until } => write!(
                f,
                "ログインの失敗が続いたため {until} までロックされています / \
                 Too many failed sign-ins: the account is locked until {until}."
            ),
        }
    }
}

/// What the credentials turned out to be, before the stored state is consulted again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    WrongPassword,
    WrongTotp,
    /// Right password, a code is needed.
    TotpRequired,
    /// Right password, the policy requires a second factor the user has not enrolled.
    TotpNotEnrolled,
    /// Right password and, if one was needed, a right code of this time step (whether the
    /// step was used already is decided on the stored state, in [`settle`]).
    Success {
        totp_step: Option<u64>,
    },
}

/// Judge the second factor once the password has been verified (`password_ok`). Cheap:
/// only HMACs, no stored state.
pub fn judge(
    password_ok: bool,
    totp_code: Option<&str>,
    secret: Option<&TotpSecret>,
    totp_required: bool,
    now: UnixTime,
) -> Verdict {
    if !password_ok {
        return Verdict::WrongPassword;
    }
    let code = totp_code.filter(|c| !c.trim().is_empty());
    match (secret, code) {
        (None, _) if totp_required => Verdict::TotpNotEnrolled,
        (None, _) => Verdict::Success { totp_step: None },
        (Some(_), None) => Verdict::TotpRequired,
        (Some(secret), Some(code)) => match secret.verify(code, now, None) {
            Ok(step) => Verdict::Success {
                totp_step: Some(step),
            },
            Err(_) => Verdict::WrongTotp,
        },
    }
}

/// The last step of a sign-in: apply the verdict to the state as stored *now* (the caller's
/// store applies this atomically, after [`LockoutPolicy::admit`] counted the attempt as a
/// failure in advance). `locks` is what the admission said.
///
/// - A wrong password or code leaves the advance count standing; the failure that reached
///   the limit answers `Locked`.
/// - A right password alone (`TotpRequired`, `TotpNotEnrolled`) gives the count back: it
///   must not reset the failures either, or an attacker who knows the password could
///   alternate and guess codes without ever being locked.
/// - Success clears the failures and records the TOTP step, unless that step has been used
///   meanwhile: at most one sign-in per code, however many arrive at once.
pub fn settle(
    verdict: Verdict,
    locks: Option<UnixTime>,
    current: &LoginState,
    now: UnixTime,
    lockout: &LockoutPolicy,
) -> (LoginOutcome, LoginState) {
    let failed = |outcome: LoginOutcome| match locks {
        Some(until) => (LoginOutcome::Locked { until }, *current),
        None => (outcome, *current),
    };
    match verdict {
        Verdict::WrongPassword => failed(LoginOutcome::WrongPassword),
        Verdict::WrongTotp => failed(LoginOutcome::WrongTotp),
        Verdict::TotpRequired => (LoginOutcome::TotpRequired, lockout.refund(current, now)),
        Verdict::TotpNotEnrolled => (LoginOutcome::TotpNotEnrolled, lockout.refund(current, now)),
        Verdict::Success { totp_step } => {
            if let (Some(step), Some(last)) = (totp_step, current.last_totp_step) {
                if step <= last {
                    return failed(LoginOutcome::WrongTotp);
                }
            }
            let mut next = after_success(current);
            if totp_step.is_some() {
                next.last_totp_step = totp_step;
            }
            (LoginOutcome::Success, next)
        }
    }
}

/// Decide a sign-in attempt at `now` in one go: [`LockoutPolicy::admit`], the password,
/// [`judge`], [`settle`]. Returns the outcome and the state to store. Only for a caller that
/// holds the state for the whole time (tests, a single-user tool): a server verifies the
/// password between two atomic store updates instead (see `service::identity`).
///
/// A locked account is refused before anything is checked: a correct password while locked
/// gives `Locked`, exactly like a wrong one.
pub fn check_login(
    input: LoginInput<'_>,
    stored: &StoredCredentials,
    now: UnixTime,
    lockout: &LockoutPolicy,
) -> (LoginOutcome, LoginState) {
    let (admission, charged) = lockout.admit(&stored.state, now);
    let locks = match admission {
        Admission::Refused { until } => return (LoginOutcome::Locked { until }, stored.state),
        Admission::Admitted { locks } => locks,
    };
    let verdict = judge(
        verify_password(&stored.password_phc, input.password),
        input.totp_code,
        stored.totp_secret.as_ref(),
        stored.totp_required,
        now,
    );
    settle(verdict, locks, &charged, now, lockout)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::password::{hash_password_with_params, TINY};
    use std::sync::OnceLock;

    const PW: &str = "Kx7#mPq2vLw9";
    const K1: &[u8] = b"12345678901234567890";

    fn phc() -> &'static str {
        static P: OnceLock<String> = OnceLock::new();
        P.get_or_init(|| hash_password_with_params(PW, TINY).unwrap())
    }

    fn creds(totp: bool, required: bool) -> StoredCredentials {
        StoredCredentials {
            password_phc: phc().to_owned(),
            totp_secret: totp.then(|| TotpSecret::from_bytes(K1).unwrap()),
            state: LoginState::default(),
            totp_required: required,
        }
    }

    fn input<'a>(password: &'a str, code: Option<&'a str>) -> LoginInput<'a> {
        LoginInput {
            password,
            totp_code: code,
        }
    }

    const NOW: UnixTime = UnixTime(1_800_000_000);
    const L: LockoutPolicy = LockoutPolicy {
        max_failures: 5,
        lock_minutes: 15,
    };

    #[test]
    fn password_only_when_totp_not_required() {
        let c = creds(false, false);
        let (o, s) = check_login(input(PW, None), &c, NOW, &L);
        assert_eq!(o, LoginOutcome::Success);
        assert_eq!(s, LoginState::default());
        let (o, s) = check_login(input("wrong", None), &c, NOW, &L);
        assert_eq!(o, LoginOutcome::WrongPassword);
        assert_eq!(s.failures, 1);
    }

    #[test]
    fn required_but_not_enrolled() {
        let mut c = creds(false, true);
        c.state.failures = 2;
        let (o, s) = check_login(input(PW, Some("123456")), &c, NOW, &L);
        assert_eq!(o, LoginOutcome::TotpNotEnrolled);
        assert_eq!(s, c.state);
        let (o, _) = check_login(input("wrong", None), &c, NOW, &L);
        assert_eq!(o, LoginOutcome::WrongPassword);
    }

    #[test]
    fn two_factor_flow() {
        // Enrolled users need the code even where the policy does not require it.
        for required in [true, false] {
            let mut c = creds(true, required);
            c.state.failures = 1;
            let (o, s) = check_login(input(PW, None), &c, NOW, &L);
            assert_eq!(o, LoginOutcome::TotpRequired);
            assert_eq!(s, c.state);
            let (o, s) = check_login(input(PW, Some("  ")), &c, NOW, &L);
            assert_eq!((o, s), (LoginOutcome::TotpRequired, c.state));

            let secret = c.totp_secret.clone().unwrap();
            let code = secret.code_at(NOW);
            let (o, s) = check_login(input(PW, Some(&code)), &c, NOW, &L);
            assert_eq!(o, LoginOutcome::Success);
            assert_eq!(s.failures, 0);
            assert_eq!(s.last_totp_step, Some((NOW.0 / 30) as u64));

            // The same code again is a replay: a failure.
            c.state = s;
            let (o, s2) = check_login(input(PW, Some(&code)), &c, NOW.plus_seconds(5), &L);
            assert_eq!(o, LoginOutcome::WrongTotp);
            assert_eq!(s2.failures, 1);

            // Right code, wrong password: the code is not even looked at.
            let (o, _) = check_login(input("nope", Some(&code)), &creds(true, required), NOW, &L);
            assert_eq!(o, LoginOutcome::WrongPassword);
        }
    }

    #[test]
    fn lock_after_five_failures_hides_the_password_result() {
        let mut c = creds(true, true);
        let mut outcomes = Vec::new();
        for i in 0..5 {
            let (o, s) = check_login(input(PW, Some("000000")), &c, NOW.plus_seconds(i), &L);
            outcomes.push(o);
            c.state = s;
        }
        let until = NOW.plus_seconds(4 + 15 * 60);
        assert_eq!(outcomes[..4], [LoginOutcome::WrongTotp; 4]);
        assert_eq!(outcomes[4], LoginOutcome::Locked { until });

        // Locked: right password + right code and wrong password give the same answer and
        // the same state.
        let t = NOW.plus_seconds(60);
        let code = c.totp_secret.clone().unwrap().code_at(t);
        let right = check_login(input(PW, Some(&code)), &c, t, &L);
        let wrong = check_login(input("bad", None), &c, t, &L);
        assert_eq!(right, (LoginOutcome::Locked { until }, c.state));
        assert_eq!(wrong, right);

        // After the lock, the right credentials work again and the counter is cleared.
        let t = until;
        let code = c.totp_secret.clone().unwrap().code_at(t);
        let (o, s) = check_login(input(PW, Some(&code)), &c, t, &L);
        assert_eq!(o, LoginOutcome::Success);
        assert_eq!((s.failures, s.locked_until), (0, None));
    }

    #[test]
    fn alternating_password_only_does_not_reset_totp_failures() {
        let mut c = creds(true, true);
        for i in 0..4 {
            let (_, s) = check_login(input(PW, Some("000000")), &c, NOW.plus_seconds(i), &L);
            c.state = s;
            let (o, s) = check_login(input(PW, None), &c, NOW.plus_seconds(i), &L);
            assert_eq!(o, LoginOutcome::TotpRequired);
            c.state = s;
        }
        assert_eq!(c.state.failures, 4);
    }

    #[test]
    fn one_code_signs_in_once_however_many_arrive_together() {
        // Ten sign-ins with the same right code, all admitted before any is settled (as
        // parallel requests are): the store settles them one after another, and only the
        // first may use the code.
        let c = creds(true, true);
        let code = c.totp_secret.clone().unwrap().code_at(NOW);
        let mut state = c.state;
        let mut admitted = Vec::new();
        for _ in 0..10 {
            let (a, next) = L.admit(&state, NOW);
            state = next;
            admitted.push(a);
        }
        let mut successes = 0;
        for a in admitted {
            let Admission::Admitted { locks } = a else {
                continue;
            };
            let v = judge(true, Some(&code), c.totp_secret.as_ref(), true, NOW);
            let (o, next) = settle(v, locks, &state, NOW, &L);
            state = next;
            if o == LoginOutcome::Success {
                successes += 1;
            }
        }
        assert_eq!(successes, 1);
        // The five admitted, the first succeeded (clearing its count), the others failed.
        assert_eq!(state.last_totp_step, Some((NOW.0 / 30) as u64));
    }

    #[test]
    fn a_right_password_gives_its_advance_count_back() {
        let c = creds(true, true);
        let mut state = c.state;
        state.failures = 4;
        let (a, charged) = L.admit(&state, NOW);
        let Admission::Admitted { locks } = a else {
            panic!("admitted")
        };
        assert!(locks.is_some(), "the fifth attempt would lock");
        let v = judge(true, None, c.totp_secret.as_ref(), true, NOW);
        assert_eq!(v, Verdict::TotpRequired);
        let (o, s) = settle(v, locks, &charged, NOW, &L);
        assert_eq!((o, s), (LoginOutcome::TotpRequired, state));
    }

    #[test]
    fn malformed_stored_hash_is_a_wrong_password() {
        let mut c = creds(false, false);
        c.password_phc = "garbage".into();
        let (o, s) = check_login(input(PW, None), &c, NOW, &L);
        assert_eq!(o, LoginOutcome::WrongPassword);
        assert_eq!(s.failures, 1);
    }

    #[test]
    fn messages() {
        let m = LoginOutcome::Locked {
            until: UnixTime(1_800_000_900),
        }
        .to_string();
        assert!(
            m.contains("ロック") && m.contains("locked until 2027-01-15T08:15:00Z"),
            "{m}"
        );
        assert!(LoginOutcome::WrongPassword
            .to_string()
            .contains("login name or password"));
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config::with_cases(64))]

        #[test]
        fn never_panics_and_never_succeeds_while_locked(
            pw in proptest::prop_oneof![proptest::strategy::Just(PW.to_owned()), ".{0,16}"],
            code in proptest::option::of("[0-9 ]{0,8}|.{0,8}"),
            totp in proptest::bool::ANY,
            required in proptest::bool::ANY,
            failures in proptest::num::u32::ANY,
            locked in proptest::option::of(-10i64..10),
            last in proptest::option::of(proptest::num::u64::ANY),
            now in proptest::num::i64::ANY,
            max in 0u32..8,
            minutes in proptest::num::u32::ANY,
        ) {
            let mut c = creds(totp, required);
            c.state = LoginState {
                failures,
                locked_until: locked.map(|d| UnixTime(now.saturating_add(d))),
                last_totp_step: last,
            };
            let l = LockoutPolicy { max_failures: max, lock_minutes: minutes };
            let was_locked = l.is_locked(&c.state, UnixTime(now)).is_some();
            let (o, s) = check_login(input(&pw, code.as_deref()), &c, UnixTime(now), &l);
            if was_locked {
                let is_locked = matches!(o, LoginOutcome::Locked { .. });
                proptest::prop_assert!(is_locked, "expected Locked, got {:?}", o);
                proptest::prop_assert_eq!(s, c.state);
            }
            if o == LoginOutcome::Success {
                proptest::prop_assert_eq!(pw, PW);
                proptest::prop_assert_eq!(s.failures, 0);
            }
        }
    }
}
