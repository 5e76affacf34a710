//! Password rules and argon2id hashing.
//!
//! Hashes are PHC strings (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`): the parameters
//! travel with each hash, so they can be raised later ([`needs_rehash`]) while old hashes
//! still verify.

use std::fmt;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use serde::{Deserialize, Serialize};

use crate::{random_bytes, AuthError};

/// What a password must look like. Defaults: at least 12 characters; at least 3 of the 4
/// character classes unless it is a passphrase of 16 characters or more; not containing the
/// login; not one of the most common passwords (nor such a word with digits/symbols around it);
/// and hard enough to guess by zxcvbn's estimate (no sequences like `abcdefgh` or `12345678`,
/// no keyboard walks like `qwertyuiop` or `1qaz2wsx`, no dictionary words with a year).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PasswordPolicy {
    /// Minimum length in characters (Unicode scalar values, not bytes).
    pub min_length: usize,
    /// Maximum length in characters.
    pub max_length: usize,
    /// How many of upper case / lower case / digit / symbol a password needs…
    pub min_classes: usize,
    /// …unless it is at least this long (a passphrase).
    pub passphrase_length: usize,
    /// Reject passwords that contain the login (case-insensitive, logins of 3+ characters).
    pub reject_login: bool,
    /// Reject the built-in list of most common passwords and trivial variations.
    pub reject_common: bool,
    /// Minimum zxcvbn score, 0–4 (3: more than 10^8 guesses, "safely unguessable" against
    /// online attacks and slowed offline ones); 0 switches the estimate off.
    pub min_strength: u8,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        PasswordPolicy {
            min_length: 12,
            max_length: 1024,
            min_classes: 3,
            passphrase_length: 16,
            reject_login: true,
            reject_common: true,
            min_strength: 3,
        }
    }
}

/// One reason a password is refused. `Display` is Japanese then English.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum PasswordProblem {
    TooShort {
        min: usize,
        actual: usize,
    },
    TooLong {
        max: usize,
        actual: usize,
    },
    TooFewClasses {
        required: usize,
        found: usize,
        passphrase_length: usize,
    },
    ContainsLogin,
    Common,
    TooFewDistinct {
        distinct: usize,
    },
    ControlCharacter,
    /// Mostly a run of consecutive letters or digits (`abcdefgh`, `98765432`).
    Sequence,
    /// Mostly keys next to each other on the keyboard (`qwertyuiop`, `1qaz2wsx`, `zxcvbn`).
    KeyboardPattern,
    /// Too easy to guess for another reason (dates, repeats, short combinations).
    Guessable,
}

impl fmt::Display for PasswordProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PasswordProblem::TooShort { min, actual } => write!(
                f,
                "パスワードは{min}文字以上にしてください（現在{actual}文字） / \
                 The password must be at least {min} characters long (it has {actual})."
            ),
            PasswordProblem::TooLong { max, actual } => write!(
                f,
                "パスワードは{max}文字以内にしてください（現在{actual}文字） / \
                 The password must be at most {max} characters long (it has {actual})."
            ),
            PasswordProblem::TooFewClasses {
                required,
                found,
                passphrase_length,
            } => write!(
                f,
                "英大文字・英小文字・数字・記号のうち{required}種類以上を含めてください\
                 （現在{found}種類）。{passphrase_length}文字以上のパスフレーズなら種類は問いません / \
                 Use at least {required} of: upper-case letters, lower-case letters, digits, \
                 symbols (it uses {found}); or a passphrase of {passphrase_length} characters or more."
            ),
            PasswordProblem::ContainsLogin => f.write_str(
                "パスワードにログインIDを含めないでください / \
                 The password must not contain the login name.",
            ),
            PasswordProblem::Common => f.write_str(
                "よく使われるパスワードやその単純な変形は使えません / \
                 The password is one of the most common passwords or a trivial variation of one.",
            ),
            PasswordProblem::TooFewDistinct { distinct } => write!(
                f,
                "同じ文字の繰り返しが多すぎます（{distinct}種類の文字しか使われていません） / \
                 The password uses only {distinct} different characters."
            ),
            PasswordProblem::ControlCharacter => f.write_str(
                "改行・タブなどの制御文字は使えません / \
                 The password must not contain control characters (line breaks, tabs, …).",
            ),
            PasswordProblem::Sequence => f.write_str(
                "abcd や 1234 のような連続した文字・数字に頼ったパスワードは使えません / \
                 The password relies on a sequence of letters or digits (abcd, 1234).",
            ),
            PasswordProblem::KeyboardPattern => f.write_str(
                "qwerty や 1qaz2wsx のようなキーボードの並びに頼ったパスワードは使えません / \
                 The password relies on neighbouring keys of the keyboard (qwerty, 1qaz2wsx).",
            ),
            PasswordProblem::Guessable => f.write_str(
                "推測されやすいパスワードです（日付・繰り返し・単語と数字の組み合わせなど）。\
                 無関係な単語を4つ以上つなげたパスフレーズなどにしてください / \
                 The password is easy to guess (dates, repetition, a word with a number): \
                 use, for example, a passphrase of four or more unrelated words.",
            ),
        }
    }
}

/// The most common passwords (from public breach top lists) and words people in Japanese
/// medical settings are known to pick. Compared lower case, also after stripping digits and
/// symbols around a word and undoing common letter substitutions (`P@ssw0rd2024!`).
const COMMON: &[&str] = &[
    "password",
    "passw0rd",
    "p@ssw0rd",
    "p@ssword",
    "123456",
    "1234567",
    "12345678",
    "123456789",
    "1234567890",
    "12345678901",
    "123456789012",
    "1234567890123",
    "0123456789",
    "qwerty",
    "qwertyuiop",
    "qwerty123",
    "asdfghjkl",
    "asdfgh",
    "zxcvbnm",
    "1q2w3e4r",
    "1q2w3e4r5t",
    "1qaz2wsx",
    "zaq12wsx",
    "qazwsx",
    "abc123",
    "abcdefg",
    "abcdefgh",
    "iloveyou",
    "admin",
    "administrator",
    "welcome",
    "letmein",
    "monkey",
    "dragon",
    "football",
    "baseball",
    "soccer",
    "sunshine",
    "princess",
    "master",
    "shadow",
    "superman",
    "batman",
    "trustno1",
    "changeme",
    "default",
    "secret",
    "login",
    "root",
    "guest",
    "user",
    "test",
    "pass",
    "hello",
    "freedom",
    "whatever",
    "starwars",
    "pokemon",
    "naruto",
    "doraemon",
    "sakura",
    "hospital",
    "byouin",
    "iryou",
    "kango",
    "kangoshi",
    "isha",
    "doctor",
    "nurse",
    "clinic",
    "medical",
    "renkei",
    "mmwin",
    "tokyo",
    "sendai",
    "miyagi",
    "japan",
    "nippon",
    "fujisan",
    "ganbare",
    "daisuki",
    "aishiteru",
    "yamato",
];

fn deleet(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '@' | '4' => 'a',
            '0' => 'o',
            '1' | '!' => 'i',
            '3' => 'e',
            '$' | '5' => 's',
            '7' => 't',
            c => c,
        })
        .collect()
}

fn core_word(s: &str) -> &str {
    s.trim_matches(|c: char| !c.is_alphabetic())
}

fn is_common(password: &str) -> bool {
    let lower = password.trim().to_lowercase();
    let core = core_word(&lower);
    let candidates = [
        lower.clone(),
        core.to_owned(),
        deleet(core),
        deleet(&lower),
        core_word(&deleet(&lower)).to_owned(),
    ];
    candidates
        .iter()
        .any(|c| (c.chars().count() >= 4 || c == &lower) && COMMON.contains(&c.as_str()))
}

impl PasswordPolicy {
    /// Check a new password. All problems are reported at once, so a form can list them.
    pub fn check(&self, login: &str, password: &str) -> Result<(), Vec<PasswordProblem>> {
        let mut problems = Vec::new();
        let len = password.chars().count();
        if len < self.min_length {
            problems.push(PasswordProblem::TooShort {
                min: self.min_length,
                actual: len,
            });
        }
        if len > self.max_length {
            problems.push(PasswordProblem::TooLong {
                max: self.max_length,
                actual: len,
            });
        }
        if password.chars().any(char::is_control) {
            problems.push(PasswordProblem::ControlCharacter);
        }
        let (mut upper, mut lower, mut digit, mut symbol) = (false, false, false, false);
        for c in password.chars() {
            match c {
                'A'..='Z' => upper = true,
                'a'..='z' => lower = true,
                '0'..='9' => digit = true,
                // Non-ASCII (kana, kanji, full-width) counts as a symbol: outside the
                // alphabet an attacker would try first.
                _ => symbol = true,
            }
        }
        let found = [upper, lower, digit, symbol].iter().filter(|b| **b).count();
        if found < self.min_classes && len < self.passphrase_length {
            problems.push(PasswordProblem::TooFewClasses {
                required: self.min_classes,
                found,
                passphrase_length: self.passphrase_length,
            });
        }
        if self.reject_login && contains_login(login, password) {
            problems.push(PasswordProblem::ContainsLogin);
        }
        if self.reject_common {
            if is_common(password) {
                problems.push(PasswordProblem::Common);
            } else {
                let mut distinct: Vec<char> = password.chars().collect();
                distinct.sort_unstable();
                distinct.dedup();
                if !password.is_empty() && distinct.len() <= 3 {
                    problems.push(PasswordProblem::TooFewDistinct {
                        distinct: distinct.len(),
                    });
                }
            }
        }
        if problems
            .iter()
            .all(|p| matches!(p, PasswordProblem::TooFewClasses { .. }))
        {
            // Only when nothing more specific (too short, the login, a listed password) was
            // found: one reason per weakness.
            if let Some(p) = strength_problem(login, password, self.min_strength) {
                problems.push(p);
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

/// zxcvbn's estimate, named by the weakness the user can act on.
fn strength_problem(login: &str, password: &str, min_strength: u8) -> Option<PasswordProblem> {
    use zxcvbn::matching::patterns::MatchPattern;
    if min_strength == 0 || password.is_empty() {
        return None;
    }
    // The estimate's cost grows with the length; past 64 characters the rest only adds
    // strength, so the head decides.
    let head: String = password.chars().take(64).collect();
    let login = login.trim().to_lowercase();
    let local = login.split('@').next().unwrap_or("").to_owned();
    let estimate = zxcvbn::zxcvbn(&head, &[login.as_str(), local.as_str()]);
    if u8::from(estimate.score()) >= min_strength {
        return None;
    }
    let has = |f: fn(&MatchPattern) -> bool| estimate.sequence().iter().any(|m| f(&m.pattern));
    Some(if has(|p| matches!(p, MatchPattern::Spatial(_))) {
        PasswordProblem::KeyboardPattern
    } else if has(|p| matches!(p, MatchPattern::Sequence(_))) {
        PasswordProblem::Sequence
    } else if has(|p| matches!(p, MatchPattern::Dictionary(_))) {
        PasswordProblem::Common
    } else {
        PasswordProblem::Guessable
    })
}

fn contains_login(login: &str, password: &str) -> bool {
    let pw = password.to_lowercase();
    let login = login.trim().to_lowercase();
    let local = login.split('@').next().unwrap_or("");
    [login.as_str(), local]
        .iter()
        .any(|l| l.chars().count() >= 3 && pw.contains(l))
}

/// argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HashParams {
    /// Memory in KiB.
    pub m_kib: u32,
    /// Iterations.
    pub t: u32,
    /// Parallelism.
    pub p: u32,
}

impl HashParams {
    /// OWASP Password Storage Cheat Sheet: argon2id, m = 19 MiB, t = 2, p = 1.
    pub const OWASP: HashParams = HashParams {
        m_kib: 19_456,
        t: 2,
        p: 1,
    };
}

impl Default for HashParams {
    fn default() -> Self {
        HashParams::OWASP
    }
}

/// Upper bounds accepted when verifying, so a corrupted or hostile stored hash cannot make
/// verification allocate gigabytes or spin for minutes.
const MAX_M_KIB: u32 = 1 << 20; // 1 GiB
const MAX_T: u32 = 64;
const MAX_P: u32 = 16;

fn argon2(params: HashParams) -> Result<Argon2<'static>, AuthError> {
    let p = Params::new(params.m_kib, params.t, params.p, Some(32))
        .map_err(|e| AuthError::Hash(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, p))
}

/// Hash a password with argon2id and the OWASP parameters; returns a PHC string.
pub fn hash_password(password: &str) -> Result<String, AuthError> {
    hash_password_with_params(password, HashParams::OWASP)
}

/// Hash with explicit parameters (tests use tiny ones; deployments may raise them).
pub fn hash_password_with_params(password: &str, params: HashParams) -> Result<String, AuthError> {
    let mut salt = [0u8; 16];
    random_bytes(&mut salt)?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| AuthError::Hash(e.to_string()))?;
    let hash = argon2(params)?
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| AuthError::Hash(e.to_string()))?;
    Ok(hash.to_string())
}

fn stored_params(hash: &PasswordHash<'_>) -> Option<HashParams> {
    let get = |k: &str| hash.params.get_decimal(k);
    Some(HashParams {
        m_kib: get("m")?,
        t: get("t")?,
        p: get("p")?,
    })
}

/// Does `password` match the PHC string `phc`? The hash comparison is constant time.
/// Only argon2id hashes are accepted; a malformed hash, another algorithm or absurd
/// parameters give `false`, never a panic.
pub fn verify_password(phc: &str, password: &str) -> bool {
    let Ok(hash) = PasswordHash::new(phc) else {
        return false;
    };
    if hash.algorithm.as_str() != "argon2id" {
        return false;
    }
    let Some(p) = stored_params(&hash) else {
        return false;
    };
    if p.m_kib > MAX_M_KIB || p.t > MAX_T || p.p > MAX_P {
        return false;
    }
    // Argon2's verifier takes algorithm, version and parameters from the hash itself.
    Argon2::default()
        .verify_password(password.as_bytes(), &hash)
        .is_ok()
}

/// Spend the time of one [`verify_password`] with the default parameters and return
/// `false`. Call it when the login does not exist, so that "no such user" and "wrong
/// password" take the same time and cannot be told apart.
pub fn dummy_verify_password(password: &str) -> bool {
    static DUMMY: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    let phc = DUMMY.get_or_init(|| {
        let mut pw = [0u8; 16];
        random_bytes(&mut pw).ok()?;
        hash_password(&crate::encoding::base32_encode(&pw)).ok()
    });
    if let Some(phc) = phc {
        let _ = verify_password(phc, password);
    }
    false
}

/// Should this stored hash be recomputed (at the next successful login) because it is not
/// argon2id or its parameters are below `current`?
pub fn needs_rehash(phc: &str, current: HashParams) -> bool {
    let Ok(hash) = PasswordHash::new(phc) else {
        return true;
    };
    if hash.algorithm.as_str() != "argon2id" || hash.version != Some(0x13) {
        return true;
    }
    match stored_params(&hash) {
        Some(p) => p.m_kib < current.m_kib || p.t < current.t || p.p < current.p,
        None => true,
    }
}

#[cfg(test)]
pub(crate) const TINY: HashParams = HashParams {
    m_kib: 8,
    t: 1,
    p: 1,
};

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(login: &str, pw: &str) -> Vec<PasswordProblem> {
        PasswordPolicy::default()
            .check(login, pw)
            .err()
            .unwrap_or_default()
    }

    #[test]
    fn good_passwords_pass() {
        let p = PasswordPolicy::default();
        assert_eq!(p.check("tanaka", "Kx7#mPq2vLw9"), Ok(()));
        assert_eq!(p.check("tanaka", "correct horse battery staple"), Ok(()));
        assert_eq!(
            p.check("tanaka", "みやぎの空は今日も青く澄んでいます"),
            Ok(())
        );
        assert_eq!(p.check("tanaka", "blue-Sky-over-9"), Ok(()));
    }

    #[test]
    fn length_is_counted_in_characters() {
        assert_eq!(
            problems("x", "Ab1!"),
            vec![PasswordProblem::TooShort { min: 12, actual: 4 }]
        );
        // 6 kanji = 18 bytes but 6 characters.
        assert!(problems("x", "医療情報連携")
            .contains(&PasswordProblem::TooShort { min: 12, actual: 6 }));
        let long = "Ab1!".repeat(300);
        assert!(problems("x", &long).contains(&PasswordProblem::TooLong {
            max: 1024,
            actual: 1200
        }));
    }

    #[test]
    fn classes_or_passphrase() {
        assert_eq!(
            problems("x", "abcdefghjkmn"),
            vec![
                PasswordProblem::TooFewClasses {
                    required: 3,
                    found: 1,
                    passphrase_length: 16
                },
                PasswordProblem::Sequence
            ]
        );
        assert_eq!(
            problems("x", "pvtkzmwqrhxn2")[0],
            PasswordProblem::TooFewClasses {
                required: 3,
                found: 2,
                passphrase_length: 16
            }
        );
        // 16 lower-case letters and spaces: a passphrase, classes not required.
        assert_eq!(problems("x", "tea kettle storm"), vec![]);
    }

    #[test]
    fn login_is_rejected_case_insensitively() {
        assert!(problems("Tanaka", "xTANAKAx#2024!").contains(&PasswordProblem::ContainsLogin));
        assert!(problems("tanaka@example.jp", "Tanaka#2024!xy")
            .contains(&PasswordProblem::ContainsLogin));
        // Very short logins are not checked (would forbid too much).
        assert!(!problems("ab", "Kx7#mPq2vLabw9").contains(&PasswordProblem::ContainsLogin));
    }

    #[test]
    fn common_passwords_and_variations() {
        for pw in [
            "password",
            "Password2024!",
            "P@ssw0rd12345",
            "123456789012",
            "Qwertyuiop123",
            "!!Hospital2025!!",
            "1q2w3e4r",
        ] {
            assert!(
                problems("x", pw).contains(&PasswordProblem::Common),
                "{pw} should be common"
            );
        }
        assert!(!problems("x", "Kx7#mPq2vLw9").contains(&PasswordProblem::Common));
        assert_eq!(
            problems("x", "aaaaaaaaaaaaaaaaaaaa"),
            vec![PasswordProblem::TooFewDistinct { distinct: 1 }]
        );
    }

    #[test]
    fn sequences_keyboard_walks_and_guessable_passwords() {
        // Each long enough and a passphrase by length, so only the estimate refuses them.
        for (pw, problem) in [
            ("1234567890123456", PasswordProblem::Sequence),
            ("abcdefghijklmnop", PasswordProblem::Sequence),
            ("zyxwvutsrqponmlk", PasswordProblem::Sequence),
            ("qwertyuiopasdfgh", PasswordProblem::Common),
            ("zxcvbnm,./asdfgh", PasswordProblem::KeyboardPattern),
            ("1qaz2wsx3edc4rfv", PasswordProblem::Common),
        ] {
            let found = problems("tanaka", pw);
            assert!(
                found.contains(&problem),
                "{pw}: expected {problem:?}, found {found:?}"
            );
        }
        // Each is refused, one way or another, with the long ones of the issue among them.
        for pw in [
            "1234567890123456",
            "abcdefghijklmnop",
            "qwertyuiopasdfgh",
            "asdfghjkl;asdfgh",
            "0987654321098765",
        ] {
            assert!(!problems("tanaka", pw).is_empty(), "{pw} was accepted");
        }
        // The passwords of the demo, the benchmarks and the tests still pass.
        for pw in [
            "renkei-Demo-2026",
            "renkei-Bench-2026",
            "Kx7#mPq2vLw9-renkei",
            "Kx7#mPq2vLw9",
        ] {
            for login in ["admin", "office", "doctor", "nurse", "dr", "tanaka"] {
                assert_eq!(problems(login, pw), vec![], "{login} / {pw}");
            }
        }
        // Switched off, only the other rules apply.
        let lax = PasswordPolicy {
            min_strength: 0,
            ..PasswordPolicy::default()
        };
        assert_eq!(lax.check("x", "abcdefghijklmnop"), Ok(()));
        let m = PasswordProblem::KeyboardPattern.to_string();
        assert!(
            m.contains("キーボード") && m.contains("neighbouring keys"),
            "{m}"
        );
        let m = PasswordProblem::Sequence.to_string();
        assert!(m.contains("連続") && m.contains("sequence"), "{m}");
    }

    #[test]
    fn control_characters() {
        assert!(problems("x", "Kx7#mPq2\nvLw9").contains(&PasswordProblem::ControlCharacter));
    }

    #[test]
    fn messages_are_bilingual_and_precise() {
        let m = PasswordProblem::TooShort { min: 12, actual: 8 }.to_string();
        assert!(m.contains("12文字以上") && m.contains("現在8文字"));
        assert!(m.contains("at least 12 characters") && m.contains("(it has 8)"));
        let m = PasswordProblem::TooFewClasses {
            required: 3,
            found: 2,
            passphrase_length: 16,
        }
        .to_string();
        assert!(m.contains("3種類以上") && m.contains("現在2種類") && m.contains("16文字以上"));
    }

    #[test]
    fn real_params_hash_and_verify() {
        let phc = hash_password("Kx7#mPq2vLw9").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify_password(&phc, "Kx7#mPq2vLw9"));
        assert!(!verify_password(&phc, "Kx7#mPq2vLw8"));
        assert!(!needs_rehash(&phc, HashParams::OWASP));
        assert!(!dummy_verify_password("Kx7#mPq2vLw9"));
        assert!(needs_rehash(
            &phc,
            HashParams {
                m_kib: 65_536,
                ..HashParams::OWASP
            }
        ));
    }

    #[test]
    fn salts_differ() {
        let a = hash_password_with_params("same", TINY).unwrap();
        let b = hash_password_with_params("same", TINY).unwrap();
        assert_ne!(a, b);
        assert!(verify_password(&a, "same") && verify_password(&b, "same"));
        assert!(needs_rehash(&a, HashParams::OWASP));
    }

    #[test]
    fn malformed_hashes_never_verify() {
        let good = hash_password_with_params("pw", TINY).unwrap();
        for bad in [
            "",
            "$",
            "not a hash",
            "$argon2id$",
            "$argon2id$v=19$m=8,t=1,p=1$",
            "$argon2i$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
            "$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
            "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$",
            "$bcrypt$xyz",
            &good[..good.len() - 3],
        ] {
            assert!(!verify_password(bad, "pw"), "{bad:?}");
            assert!(needs_rehash(bad, HashParams::OWASP));
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config::with_cases(12))]

        #[test]
        fn hash_verifies_only_its_password(pw in ".{0,40}", other in ".{0,40}") {
            let phc = hash_password_with_params(&pw, TINY).unwrap();
            proptest::prop_assert!(verify_password(&phc, &pw));
            proptest::prop_assert_eq!(verify_password(&phc, &other), other == pw);
        }
    }

    proptest::proptest! {
        #[test]
        fn verify_never_panics_on_garbage(phc in "\\$?[a-z0-9$=,+/]{0,80}", pw in ".{0,20}") {
            let _ = verify_password(&phc, &pw);
            let _ = needs_rehash(&phc, HashParams::OWASP);
        }

        #[test]
        fn check_never_panics(login in ".{0,20}", pw in ".{0,60}") {
            let _ = PasswordPolicy::default().check(&login, &pw);
        }
    }
}
