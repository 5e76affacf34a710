//! Password hashing and verification off the request threads. One argon2id run takes about
//! 19 MiB and tens of milliseconds of one core; run on the async workers, a burst of sign-ins
//! stalled every page of the server (60 parallel logins: a summary page took 1.58 s). Here
//! each run goes to tokio's blocking threads behind a semaphore with one permit per two
//! cores (at least one), so sign-ins queue for each other and pages keep at least half the
//! machine.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use tokio::sync::Semaphore;

use crate::{Result, ServiceError};

pub(crate) struct PasswordWork {
    permits: Semaphore,
    params: Option<auth::HashParams>,
    /// Verifications run, real or the equal-time one for unknown logins.
    checks: AtomicU64,
    /// A hash of a random password with the network's parameters, verified against when the
    /// login does not exist so that the answer takes as long as for a real one.
    dummy: Arc<OnceLock<String>>,
}

impl PasswordWork {
    pub(crate) fn new(params: Option<auth::HashParams>) -> PasswordWork {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        PasswordWork {
            permits: Semaphore::new((cores / 2).max(1)),
            params,
            checks: AtomicU64::new(0),
            dummy: Arc::new(OnceLock::new()),
        }
    }

    /// Run `f` on a blocking thread once a permit is free.
    async fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| ServiceError::Internal(format!("password pool: {e}")))?;
        tokio::task::spawn_blocking(f)
            .await
            .map_err(|e| ServiceError::Internal(format!("password task failed: {e}")))
    }

    /// The PHC string of a new password.
    pub(crate) async fn hash(&self, password: String) -> Result<String> {
        let params = self.params;
        Ok(self
            .run(move || match params {
                Some(p) => auth::hash_password_with_params(&password, p),
                None => auth::hash_password(&password),
            })
            .await??)
    }

    /// Does `password` match the stored hash?
    pub(crate) async fn verify(&self, phc: String, password: String) -> Result<bool> {
        self.checks.fetch_add(1, Ordering::Relaxed);
        self.run(move || auth::verify_password(&phc, &password))
            .await
    }

    /// The same work as [`Self::verify`] against a hash nobody knows the password of; always
    /// false. For logins that do not exist, so that they answer as slowly as real ones.
    pub(crate) async fn verify_unknown(&self, password: String) -> Result<bool> {
        self.checks.fetch_add(1, Ordering::Relaxed);
        let (params, dummy) = (self.params, self.dummy.clone());
        self.run(move || match params {
            // The network's hashes have the default parameters: the auth crate's equal-time
            // path uses the same.
            None => auth::dummy_verify_password(&password),
            // Other parameters (tests): a hash of a random password with those.
            Some(p) => {
                let phc = dummy.get_or_init(|| {
                    let random = auth::SecretKey::generate()
                        .map(|k| k.to_text())
                        .unwrap_or_default();
                    auth::hash_password_with_params(&random, p).unwrap_or_default()
                });
                let _ = auth::verify_password(phc, &password);
                false
            }
        })
        .await
    }

    pub(crate) fn checks(&self) -> u64 {
        self.checks.load(Ordering::Relaxed)
    }
}
