//! Sign-in under attack: parallel guesses, one TOTP code used at once, password spraying from
//! one address, unknown logins, TOTP secrets at rest and password hashing off the request
//! threads.

mod common;

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use auth::{Keyring, LockoutPolicy, SecretKey, SourcePolicy};
use common::PASSWORD;
use model::{Profession, UnixTime};
use service::{Network, NewUser, Principal, ServiceError};
use store::Store;

struct Net {
    _dir: tempfile::TempDir,
    store: Arc<dyn Store>,
    net: Network,
    admin: Principal,
}

/// An empty network with its administrator signed in, and `users` nurses (`n0`, `n1`, …).
async fn network(users: usize) -> Net {
    let dir = tempfile::tempdir().expect("tmp");
    let store: Arc<dyn Store> =
        Arc::new(store_sqlite::SqliteStore::open(&dir.path().join("data")).expect("store"));
    let net = Network::new(store.clone()).with_test_hashing();
    net.bootstrap_admin("admin", "管理者", PASSWORD)
        .await
        .expect("bootstrap");
    let admin = common::sign_in(&net, "admin", None, 0).await;
    for i in 0..users {
        add(&net, &admin, &format!("n{i}")).await;
    }
    Net {
        _dir: dir,
        store,
        net,
        admin,
    }
}

async fn add(net: &Network, admin: &Principal, login: &str) {
    net.add_user(
        admin,
        NewUser {
            login: login.into(),
            display_name: login.into(),
            profession: Profession::Nurse,
            facilities: vec![],
            password: PASSWORD.into(),
        },
    )
    .await
    .expect("add user");
}

fn ip(text: &str) -> Option<IpAddr> {
    Some(text.parse().expect("address"))
}

async fn code(net: &Network, login: &str) -> String {
    net.current_totp_for_tests(login, UnixTime::now())
        .await
        .expect("code")
}

/// Finding 13.1: 40 parallel wrong passwords for one account checked 39 guesses and left it
/// unlocked. Now every attempt takes one of the five allowed failures in the store before
/// its password is checked.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_wrong_passwords_check_at_most_five_guesses_and_lock() {
    let n = network(1).await;
    let net = Arc::new(n.net.clone());
    let checks = net.password_checks();
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let net = net.clone();
            tokio::spawn(async move {
                net.authenticate(
                    "n0",
                    &format!("wrong guess {i}!"),
                    None,
                    None,
                    ip(&format!("192.0.2.{i}")),
                )
                .await
            })
        })
        .collect();
    let mut locked = 0;
    for t in tasks {
        let err = t.await.expect("task").expect_err("a wrong password");
        if err.to_string().contains("locked") {
            locked += 1;
        }
    }
    let checked = net.password_checks() - checks;
    assert!(
        checked <= 5,
        "{checked} guesses were checked, at most max_failures (5) may be"
    );
    assert!(locked >= 35, "{locked} answers said locked");
    // The account is locked: even the right password and code are refused.
    let c = code(&net, "n0").await;
    let err = net
        .authenticate("n0", PASSWORD, Some(&c), None, None)
        .await
        .expect_err("locked");
    assert!(err.to_string().contains("locked"), "{err}");
}

/// Finding 13.4: ten parallel sign-ins with one right code opened five sessions. A code is
/// now used once, decided atomically in the store.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_totp_code_opens_one_session_however_many_arrive_at_once() {
    let n = network(1).await;
    let net = Arc::new(n.net.clone());
    let c = code(&net, "n0").await;
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let (net, c) = (net.clone(), c.clone());
            tokio::spawn(async move { net.login("n0", PASSWORD, Some(&c), None, None).await })
        })
        .collect();
    let mut sessions = 0;
    for t in tasks {
        if t.await.expect("task").is_ok() {
            sessions += 1;
        }
    }
    assert_eq!(sessions, 1, "one code, one session");
    // And the same code once more, later, is a replay.
    let err = net
        .login("n0", PASSWORD, Some(&c), None, None)
        .await
        .expect_err("replay");
    assert!(matches!(err, ServiceError::Unauthenticated(_)), "{err}");
}

/// A right password without the code (the form asks for it next) gives back the failure it
/// was counted as in advance: it neither locks the account nor clears earlier failures.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_right_password_without_code_neither_counts_nor_resets() {
    let n = network(1).await;
    let net = &n.net;
    for _ in 0..4 {
        net.authenticate("n0", "wrong password 1!", None, None, None)
            .await
            .expect_err("wrong");
    }
    for _ in 0..3 {
        let err = net
            .authenticate("n0", PASSWORD, None, None, None)
            .await
            .expect_err("code needed");
        assert!(err.to_string().contains("6-digit"), "{err}");
    }
    // Still four failures: the fifth wrong one locks.
    let err = net
        .authenticate("n0", "wrong password 1!", None, None, None)
        .await
        .expect_err("wrong");
    assert!(err.to_string().contains("locked"), "{err}");
}

/// Password spraying: a few guesses at many logins from one address. The address is
/// blocked after its own limit; another address is not; sign-ins that succeed from the
/// address do not count against it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn spraying_from_one_address_is_blocked_per_address() {
    let n = network(12).await;
    let net = Arc::new(n.net.clone().with_lockout(
        LockoutPolicy::default(),
        SourcePolicy {
            max_failures: 10,
            window_minutes: 15,
            lock_minutes: 15,
        },
    ));
    let attacker = ip("203.0.113.66");
    // Good sign-ins from the attacker's address first: they do not count.
    for i in 0..3 {
        let login = format!("n{i}");
        let c = code(&net, &login).await;
        net.authenticate(&login, PASSWORD, Some(&c), None, attacker)
            .await
            .expect("a right sign-in");
    }
    let checks = net.password_checks();
    // Two guesses at each of twelve real logins and eight made-up ones, in parallel: each
    // login stays under its own limit of five.
    let tasks: Vec<_> = (0..20)
        .flat_map(|i| (0..2).map(move |g| (i, g)))
        .map(|(i, g)| {
            let net = net.clone();
            let login = if i < 12 {
                format!("n{i}")
            } else {
                format!("ghost{i}")
            };
            tokio::spawn(async move {
                net.authenticate(&login, &format!("Summer2025-{g}"), None, None, attacker)
                    .await
            })
        })
        .collect();
    let mut blocked = 0;
    for t in tasks {
        let err = t.await.expect("task").expect_err("wrong");
        if err.to_string().contains("network address") {
            blocked += 1;
        }
    }
    let checked = net.password_checks() - checks;
    assert!(
        checked <= 10,
        "{checked} guesses were checked from one address"
    );
    assert!(
        blocked >= 30,
        "{blocked} attempts were refused for the address"
    );
    // The address is blocked even for a right password …
    let c = code(&net, "n11").await;
    let err = net
        .authenticate("n11", PASSWORD, Some(&c), None, attacker)
        .await
        .expect_err("blocked");
    assert!(err.to_string().contains("network address"), "{err}");
    // … and only that address: the user signs in from elsewhere.
    net.authenticate("n11", PASSWORD, Some(&c), None, ip("198.51.100.7"))
        .await
        .expect("another address is not blocked");
    let refusals = n
        .store
        .audit_range(1, 0)
        .await
        .expect("audit")
        .into_iter()
        .filter(|e| {
            matches!(&e.event.outcome, audit::Outcome::Failed { reason } if reason == "source address blocked")
        })
        .count();
    assert!(refusals >= 30, "every refusal is audited ({refusals})");
}

/// Finding 13.10: an unknown login answered without verifying any password, so it was
/// quicker than a real one. It now does the same verification, and locks like a real one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_logins_verify_a_password_and_lock_like_real_ones() {
    let n = network(1).await;
    let net = &n.net;
    let before = net.password_checks();
    let unknown = net
        .authenticate("nobody", "wrong password 1!", None, None, None)
        .await
        .expect_err("unknown");
    assert_eq!(
        net.password_checks() - before,
        1,
        "an unknown login runs one password verification, as a real one does"
    );
    let real = net
        .authenticate("n0", "wrong password 1!", None, None, None)
        .await
        .expect_err("wrong");
    assert_eq!(unknown.to_string(), real.to_string(), "the same answer");
    // Four more failures each: both now answer "locked", without checking anything.
    for _ in 0..4 {
        let _ = net
            .authenticate("nobody", "wrong password 1!", None, None, None)
            .await;
        let _ = net
            .authenticate("n0", "wrong password 1!", None, None, None)
            .await;
    }
    let checks = net.password_checks();
    let unknown = net
        .authenticate("nobody", "another one 2!", None, None, None)
        .await
        .expect_err("locked");
    let real = net
        .authenticate("n0", "another one 2!", None, None, None)
        .await
        .expect_err("locked");
    assert!(unknown.to_string().contains("locked"), "{unknown}");
    assert!(real.to_string().contains("locked"), "{real}");
    assert_eq!(net.password_checks(), checks, "locked: nothing checked");
}

/// Finding 13.5: TOTP secrets are stored encrypted, legacy plain ones still work and are
/// encrypted at their owner's next sign-in, and a key rotation re-encrypts every secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn totp_secrets_are_encrypted_at_rest_and_keys_rotate() {
    let dir = tempfile::tempdir().expect("tmp");
    let store: Arc<dyn Store> =
        Arc::new(store_sqlite::SqliteStore::open(&dir.path().join("data")).expect("store"));
    let old_key = SecretKey::generate().expect("key");
    let net = Network::new(store.clone())
        .with_test_hashing()
        .with_secret_keys(Keyring::new(old_key.clone(), []));
    let secret = net
        .bootstrap_admin("admin", "管理者", PASSWORD)
        .await
        .expect("bootstrap");
    let admin = common::sign_in(&net, "admin", None, 0).await;
    add(&net, &admin, "n0").await;
    let (_, creds) = store.user("admin").await.expect("user").expect("admin");
    let stored = creds.totp_secret.expect("secret");
    assert!(
        stored.starts_with(&format!("enc:v1:{}:", old_key.id())),
        "{stored}"
    );
    assert!(!stored.contains(&secret.to_base32()), "not in plain text");
    // Without the key, nobody signs in (and the error says why, to the operator).
    let keyless = Network::new(store.clone())
        .with_secret_keys(Keyring::new(SecretKey::generate().expect("key"), []));
    let err = keyless
        .current_totp_for_tests("admin", UnixTime::now())
        .await
        .expect_err("unknown key");
    assert!(err.to_string().contains(old_key.id()), "{err}");

    // A secret stored plain by an older renkei still works, and is encrypted at sign-in.
    let (_, mut legacy) = store.user("n0").await.expect("user").expect("n0");
    let sealed = legacy.totp_secret.clone().expect("secret");
    let plain = Keyring::new(old_key.clone(), [])
        .open(&sealed, "n0")
        .expect("open");
    legacy.totp_secret = Some(plain);
    store
        .set_credentials("n0", &legacy)
        .await
        .expect("as an older renkei stored it");
    let c = code(&net, "n0").await;
    net.authenticate("n0", PASSWORD, Some(&c), None, None)
        .await
        .expect("a plain secret still signs in");
    let (_, creds) = store.user("n0").await.expect("user").expect("n0");
    assert!(
        creds
            .totp_secret
            .as_deref()
            .is_some_and(|s| s.starts_with("enc:v1:")),
        "re-encrypted at sign-in"
    );

    // Rotation: a new key first, the old one kept for reading; every secret is re-encrypted;
    // then the old key can go.
    let new_key = SecretKey::generate().expect("key");
    let rotating = Network::new(store.clone())
        .with_test_hashing()
        .with_secret_keys(Keyring::new(new_key.clone(), [old_key.clone()]));
    let (resealed, current) = rotating
        .reseal_totp_secrets("local:test")
        .await
        .expect("reseal");
    assert_eq!((resealed, current), (2, 0));
    assert_eq!(
        rotating
            .reseal_totp_secrets("local:test")
            .await
            .expect("again"),
        (0, 2)
    );
    let rotated = Network::new(store.clone())
        .with_test_hashing()
        .with_secret_keys(Keyring::new(new_key.clone(), []));
    let at = UnixTime::now().plus_seconds(60);
    let c = rotated
        .current_totp_for_tests("admin", at)
        .await
        .expect("readable with the new key alone");
    assert_eq!(c, secret.code_at(at));
}

/// Two administrators adding the same login at once: one user, one refusal — not two TOTP
/// secrets of which one silently stops working.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn adding_one_login_twice_at_once_creates_it_once() {
    let n = network(0).await;
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let (net, admin) = (n.net.clone(), n.admin.clone());
            tokio::spawn(async move {
                net.add_user(
                    &admin,
                    NewUser {
                        login: "twice".into(),
                        display_name: "twice".into(),
                        profession: Profession::Nurse,
                        facilities: vec![],
                        password: PASSWORD.into(),
                    },
                )
                .await
            })
        })
        .collect();
    let mut secrets = Vec::new();
    for t in tasks {
        if let Ok(secret) = t.await.expect("task") {
            secrets.push(secret);
        }
    }
    assert_eq!(secrets.len(), 1, "one of the four adds succeeded");
    let at = UnixTime::now();
    assert_eq!(
        n.net
            .current_totp_for_tests("twice", at)
            .await
            .expect("code"),
        secrets[0].code_at(at),
        "the secret handed out is the one stored"
    );
}

/// Finding 13.12: argon2 ran on the request threads. On a single-threaded runtime, another
/// task now keeps running while a password is hashed and verified with the real cost.
#[tokio::test(flavor = "current_thread")]
async fn password_hashing_leaves_the_request_threads_free() {
    let dir = tempfile::tempdir().expect("tmp");
    let store: Arc<dyn Store> =
        Arc::new(store_sqlite::SqliteStore::open(&dir.path().join("data")).expect("store"));
    // The real cost (argon2id, 19 MiB): tens of milliseconds per run.
    let net =
        Network::new(store).with_secret_keys(Keyring::new(SecretKey::generate().expect("key"), []));
    let ticks = Arc::new(AtomicU64::new(0));
    let ticker = {
        let ticks = ticks.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                ticks.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    tokio::task::yield_now().await;
    let before = ticks.load(Ordering::Relaxed);
    net.bootstrap_admin("admin", "管理者", PASSWORD)
        .await
        .expect("bootstrap (hashes)");
    net.authenticate("admin", "wrong password 1!", None, None, None)
        .await
        .expect_err("wrong (verifies)");
    let during = ticks.load(Ordering::Relaxed) - before;
    ticker.abort();
    assert!(
        during >= 3,
        "the only runtime thread was blocked while hashing ({during} ticks)"
    );
}
