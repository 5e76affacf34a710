//! The whole sign-in decision: lockout, password, second factor. Pure: the caller loads the
//! credentials, passes the time, stores the returned state and acts on the outcome.

use std::fmt;

use model::UnixTime;
use serde::{Deserialize, Serialize};

use crate::lockout::{after_success, LockoutPolicy, LoginState};
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

/// Decide a sign-in attempt at `now`. Returns the outcome and the state to store.
///
/// - A locked account is refused before anything is checked: a correct password while
///   locked gives `Locked`, exactly like a wrong one.
/// - A wrong password or a wrong/replayed code is a failure: counted, and the failure that
///   reaches the limit returns `Locked`.
/// - A right password alone (`TotpRequired`, `TotpNotEnrolled`) leaves the state unchanged:
///   it must not reset the failure count, or an attacker who knows the password could
///   alternate and guess codes without ever being locked.
/// - Only `Success` clears failures; it records the TOTP step used (replay protection).
pub fn check_login(
    input: LoginInput<'_>,
    stored: &StoredCredentials,
    now: UnixTime,
    lockout: &LockoutPolicy,
) -> (LoginOutcome, LoginState) {
    let state = stored.state;
    if let Some(until) = lockout.is_locked(&state, now) {
        return (LoginOutcome::Locked { until }, state);
    }
    let fail = |outcome: LoginOutcome| {
        let next = lockout.after_failure(&state, now);
        match lockout.is_locked(&next, now) {
            Some(until) => (LoginOutcome::Locked { until }, next),
            None => (outcome, next),
        }
    };
    if !verify_password(&stored.password_phc, input.password) {
        return fail(LoginOutcome::WrongPassword);
    }
    let code = input.totp_code.filter(|c| !c.trim().is_empty());
    match (&stored.totp_secret, code) {
        (None, _) if stored.totp_required => (LoginOutcome::TotpNotEnrolled, state),
        (None, _) => (LoginOutcome::Success, after_success(&state)),
        (Some(_), None) => (LoginOutcome::TotpRequired, state),
        (Some(secret), Some(code)) => match secret.verify(code, now, state.last_totp_step) {
            Ok(step) => {
                let mut next = after_success(&state);
                next.last_totp_step = Some(step);
                (LoginOutcome::Success, next)
            }
            Err(_) => fail(LoginOutcome::WrongTotp),
        },
    }
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
