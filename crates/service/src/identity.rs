//! Users, sign-in (password + TOTP), sessions and facility API keys.

use std::net::IpAddr;

use auth::{Admission, LoginOutcome, LoginState, SessionToken, SourceState, TotpSecret, Verdict};
use model::{FacilityCode, Profession, UnixTime, User};
use store::{ApiKeyRecord, Credentials, Session};

use crate::{Network, Principal, Result, ServiceError};

/// How long the failure count of a login that does not exist is kept after its last
/// failure. Real accounts keep theirs until a success; a day is long enough that the two
/// cannot be told apart by probing, and short enough that made-up names do not pile up.
const UNKNOWN_LOGIN_KEEP_SECS: i64 = 24 * 60 * 60;

/// A user to create.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub login: String,
    pub display_name: String,
    pub profession: Profession,
    pub facilities: Vec<FacilityCode>,
    pub password: String,
}

/// How a principal proved who they are (for the audit detail).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    PasswordAndTotp,
    Session,
    ApiKey,
}

/// A session's last request is written down at most this often (seconds).
pub(crate) const SESSION_TOUCH_SECS: i64 = 60;

fn parse_state(text: &str) -> LoginState {
    serde_json::from_str(text).unwrap_or_default()
}

fn state_text(state: &LoginState) -> String {
    serde_json::to_string(state).unwrap_or_default()
}

fn parse_source(text: Option<&str>) -> Option<SourceState> {
    text.and_then(|t| serde_json::from_str(t).ok())
}

/// Where the failures at a login that does not exist are counted: a hash of what was typed,
/// so that a password typed into the login field by mistake is not stored.
fn unknown_login_key(login: &str) -> String {
    let h: [u8; 32] = {
        use sha2::Digest;
        sha2::Sha256::digest(login.as_bytes()).into()
    };
    let hex: String = h[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("login:{hex}")
}

fn source_blocked(until: UnixTime) -> ServiceError {
    ServiceError::Unauthenticated(format!(
        "このネットワークアドレスからのログインの失敗が多すぎるため {until} まで受け付けません / \
         Too many failed sign-ins from this network address: try again after {until}."
    ))
}

/// The account's side of one sign-in (see [`Network::authenticate`]).
enum Checked {
    Known(User, LoginOutcome),
    Unknown(LoginOutcome),
}

fn valid_login(login: &str) -> bool {
    !login.is_empty()
        && login.len() <= 64
        && login
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-@".contains(&b))
}

impl Network {
    /// Password verifications run so far (each sign-in that got past the locks runs exactly
    /// one, unknown logins included): for tests and monitoring.
    pub fn password_checks(&self) -> u64 {
        self.password_work.checks()
    }

    fn keys(&self) -> Result<&auth::Keyring> {
        self.secrets.as_deref().ok_or_else(|| {
            ServiceError::Internal(
                "TOTPの秘密鍵を暗号化する鍵が設定されていません / no secret key is configured for \
                 the TOTP secrets (RENKEI_SECRET_KEY or [secrets] key_file)"
                    .into(),
            )
        })
    }

    /// The stored (encrypted) form of a user's TOTP secret.
    fn seal_totp(&self, login: &str, secret: &TotpSecret) -> Result<String> {
        Ok(self.keys()?.seal(&secret.to_base32(), login)?)
    }

    /// A user's TOTP secret from its stored form (encrypted, or plain from before).
    fn open_totp(&self, login: &str, stored: &str) -> Result<TotpSecret> {
        let text = if auth::is_sealed(stored) {
            self.keys()?.open(stored, login).map_err(|e| {
                ServiceError::Internal(format!("stored TOTP secret of {login}: {e}"))
            })?
        } else {
            stored.to_owned()
        };
        TotpSecret::from_base32(&text)
            .map_err(|e| ServiceError::Internal(format!("stored TOTP secret of {login}: {e}")))
    }

    async fn create_user(&self, new: NewUser) -> Result<TotpSecret> {
        if !valid_login(&new.login) {
            return Err(ServiceError::Invalid(format!(
                "ログインID {:?} は使えません: 英数字と . _ - @ で64文字まで (login: letters, digits and . _ - @, up to 64)",
                new.login
            )));
        }
        if let Err(problems) = self.passwords.check(&new.login, &new.password) {
            let text: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
            return Err(ServiceError::Invalid(text.join("; ")));
        }
        if self.store.user(&new.login).await?.is_some() {
            return Err(ServiceError::Conflict(format!(
                "user {:?} exists already",
                new.login
            )));
        }
        for f in &new.facilities {
            if self.store.facility_details(f).await?.is_none() {
                return Err(ServiceError::Invalid(format!(
                    "facility {f} is not registered"
                )));
            }
        }
        let secret = TotpSecret::generate()?;
        let creds = Credentials {
            password_phc: self.password_work.hash(new.password.clone()).await?,
            totp_secret: Some(self.seal_totp(&new.login, &secret)?),
            login_state: state_text(&LoginState::default()),
        };
        let user = User {
            login: new.login,
            display_name: new.display_name,
            profession: new.profession,
            facilities: new.facilities,
            active: true,
        };
        self.store.put_user(&user, Some(&creds)).await?;
        Ok(secret)
    }

    /// Create the first administrator. Only possible while the network has no users: after
    /// that, administrators create users.
    pub async fn bootstrap_admin(
        &self,
        login: &str,
        display_name: &str,
        password: &str,
    ) -> Result<TotpSecret> {
        if !self.store.users().await?.is_empty() {
            return Err(ServiceError::Forbidden(
                "利用者が既に存在します。管理者として user add を使ってください (users exist already: an administrator adds users)".into(),
            ));
        }
        let secret = self
            .create_user(NewUser {
                login: login.to_owned(),
                display_name: display_name.to_owned(),
                profession: Profession::Administrator,
                facilities: vec![],
                password: password.to_owned(),
            })
            .await?;
        let mut e = audit::Event::new(self.now(), "system", audit::Action::UserChange);
        e.target = login.to_owned();
        e.detail = "first administrator created (bootstrap)".into();
        self.audit(e).await?;
        Ok(secret)
    }

    /// An administrator creates a user; returns the TOTP secret to hand over once.
    pub async fn add_user(&self, actor: &Principal, new: NewUser) -> Result<TotpSecret> {
        let target = new.login.clone();
        if !actor.is_admin() {
            let reason = "管理者の権限が必要です (only an administrator adds users)";
            let mut e = self.event(actor, audit::Action::UserChange);
            e.target = target;
            e.outcome = audit::Outcome::Refused {
                code: "not_admin".into(),
                reason: reason.into(),
            };
            self.audit(e).await?;
            return Err(ServiceError::Forbidden(reason.into()));
        }
        let detail = format!("added ({})", new.profession);
        let result = self.create_user(new).await;
        self.audited(
            actor,
            audit::Action::UserChange,
            None,
            target,
            detail,
            result,
        )
        .await
    }

    pub async fn users(&self, actor: &Principal) -> Result<Vec<User>> {
        self.require_office(actor, audit::Action::UserChange, "list users")
            .await?;
        Ok(self.store.users().await?)
    }

    /// Check login name, password and TOTP code, and which facility the user acts for.
    /// Every attempt is audited; failures count towards the lockout of the account and of
    /// the source address (`source`: the client's address as the server saw it; None for
    /// the command line).
    ///
    /// Parallel attempts cannot get past the limits: each is counted as a failure in the
    /// store, atomically, *before* its password is checked (refused while locked), and gives
    /// the count back only once it turns out right. The password is verified between those
    /// two store updates, on the password pool. An unknown login does the same work (one
    /// verification, a count kept under its name) so that it looks like a real one.
    pub async fn authenticate(
        &self,
        login: &str,
        password: &str,
        totp: Option<&str>,
        acting_for: Option<&FacilityCode>,
        source: Option<IpAddr>,
    ) -> Result<Principal> {
        let now = self.now();
        let mut e = audit::Event::new(now, login, audit::Action::Login);
        if let Some(ip) = source {
            e.detail = format!("from {ip}");
        }
        let source_key = source.map(auth::source_key);
        if let Some(key) = &source_key {
            let policy = self.source_lockout;
            let (before, _) = self
                .store
                .update_login_counter(
                    key,
                    now,
                    Box::new(move |text| {
                        let (_, next) = policy.admit(parse_source(text).as_ref(), now);
                        (
                            serde_json::to_string(&next).unwrap_or_default(),
                            policy.keep_until(&next),
                        )
                    }),
                )
                .await?;
            if let (Admission::Refused { until }, _) =
                policy.admit(parse_source(before.as_deref()).as_ref(), now)
            {
                e.outcome = audit::Outcome::Failed {
                    reason: "source address blocked".into(),
                };
                self.audit(e).await?;
                return Err(source_blocked(until));
            }
        }
        let checked = self.check_account(login, password, totp, now).await;
        let outcome = match &checked {
            Ok(Checked::Known(_, o) | Checked::Unknown(o)) => Some(*o),
            Err(_) => None,
        };
        // Only a failure keeps its count against the address: a right password (with or
        // without its code) gives it back, and so does an attempt that failed on our side.
        let failed = matches!(
            outcome,
            Some(
                LoginOutcome::WrongPassword | LoginOutcome::WrongTotp | LoginOutcome::Locked { .. }
            )
        );
        if let (Some(key), false) = (&source_key, failed) {
            let policy = self.source_lockout;
            self.store
                .update_login_counter(
                    key,
                    now,
                    Box::new(move |text| {
                        let next = parse_source(text)
                            .map(|s| policy.refund(&s, now))
                            .unwrap_or_default();
                        (
                            serde_json::to_string(&next).unwrap_or_default(),
                            policy.keep_until(&next),
                        )
                    }),
                )
                .await?;
        }
        let (user, outcome) = match checked? {
            Checked::Unknown(outcome) => {
                e.outcome = audit::Outcome::Failed {
                    reason: match outcome {
                        LoginOutcome::Locked { .. } => "unknown login (locked)".into(),
                        _ => "unknown login".into(),
                    },
                };
                self.audit(e).await?;
                return Err(ServiceError::Unauthenticated(outcome.to_string()));
            }
            Checked::Known(user, outcome) => (user, outcome),
        };
        if outcome != LoginOutcome::Success {
            e.outcome = audit::Outcome::Failed {
                reason: format!("{outcome:?}"),
            };
            self.audit(e).await?;
            return Err(ServiceError::Unauthenticated(outcome.to_string()));
        }
        if !user.active {
            e.outcome = audit::Outcome::Refused {
                code: "user_inactive".into(),
                reason: "account disabled".into(),
            };
            self.audit(e).await?;
            return Err(ServiceError::Unauthenticated(
                "この利用者は無効です (this account is disabled)".into(),
            ));
        }
        let acting = match acting_for {
            Some(code) => {
                if !user.facilities.contains(code) {
                    e.outcome = audit::Outcome::Refused {
                        code: "not_at_facility".into(),
                        reason: format!("{login} does not work for {code}"),
                    };
                    self.audit(e).await?;
                    return Err(ServiceError::Forbidden(format!(
                        "{code} の所属ではありません (you do not work for facility {code})"
                    )));
                }
                self.store.facility_details(code).await?
            }
            // One facility: act for it; several: the user must choose.
            None if user.facilities.len() == 1 => {
                self.store.facility_details(&user.facilities[0]).await?
            }
            None => None,
        };
        e.actor_facility = acting.as_ref().map(|f| f.code.clone());
        self.audit(e).await?;
        Ok(Principal::User {
            user,
            acting_for: acting,
        })
    }

    /// The account's side of a sign-in: admit (count in advance, or refuse while locked),
    /// verify, settle — the two state changes atomic in the store.
    async fn check_account(
        &self,
        login: &str,
        password: &str,
        totp: Option<&str>,
        now: UnixTime,
    ) -> Result<Checked> {
        let Some((user, creds)) = self.store.user(login).await? else {
            return self.check_unknown(login, password, now).await;
        };
        // Read the second factor first: a key problem is an error, not a counted failure.
        let secret = match &creds.totp_secret {
            Some(stored) => Some(self.open_totp(login, stored)?),
            None => None,
        };
        let policy = self.lockout;
        let admitted = self
            .store
            .update_login_state(
                login,
                Box::new(move |text| state_text(&policy.admit(&parse_state(text), now).1)),
            )
            .await?;
        let Some((before, _)) = admitted else {
            // Removed meanwhile.
            return self.check_unknown(login, password, now).await;
        };
        let locks = match policy.admit(&parse_state(&before), now).0 {
            Admission::Refused { until } => {
                return Ok(Checked::Known(user, LoginOutcome::Locked { until }))
            }
            Admission::Admitted { locks } => locks,
        };
        let password_ok = self
            .password_work
            .verify(creds.password_phc.clone(), password.to_owned())
            .await?;
        let verdict = auth::judge(password_ok, totp, secret.as_ref(), self.totp_required, now);
        if matches!(verdict, Verdict::WrongPassword | Verdict::WrongTotp) {
            // The advance count stands: nothing to store.
            let (outcome, _) = auth::settle(verdict, locks, &LoginState::default(), now, &policy);
            return Ok(Checked::Known(user, outcome));
        }
        let settled = self
            .store
            .update_login_state(
                login,
                Box::new(move |text| {
                    state_text(&auth::settle(verdict, locks, &parse_state(text), now, &policy).1)
                }),
            )
            .await?;
        let Some((before, _)) = settled else {
            return Ok(Checked::Unknown(LoginOutcome::WrongPassword));
        };
        let (outcome, _) = auth::settle(verdict, locks, &parse_state(&before), now, &policy);
        if outcome == LoginOutcome::Success {
            self.reseal_if_old(login, creds.totp_secret.as_deref())
                .await?;
        }
        Ok(Checked::Known(user, outcome))
    }

    /// A login that does not exist: the same verification time and the same lockout as a
    /// real one (a real account answers "locked" after five failures; so does this).
    async fn check_unknown(&self, login: &str, password: &str, now: UnixTime) -> Result<Checked> {
        let policy = self.lockout;
        let keep = move |state: &LoginState| {
            let keep = now.plus_seconds(UNKNOWN_LOGIN_KEEP_SECS);
            state.locked_until.map_or(keep, |until| until.max(keep))
        };
        let (before, _) = self
            .store
            .update_login_counter(
                &unknown_login_key(login),
                now,
                Box::new(move |text| {
                    let state = text.map(parse_state).unwrap_or_default();
                    let next = policy.admit(&state, now).1;
                    (state_text(&next), keep(&next))
                }),
            )
            .await?;
        let state = before.as_deref().map(parse_state).unwrap_or_default();
        let locks = match policy.admit(&state, now).0 {
            Admission::Refused { until } => {
                return Ok(Checked::Unknown(LoginOutcome::Locked { until }))
            }
            Admission::Admitted { locks } => locks,
        };
        self.password_work
            .verify_unknown(password.to_owned())
            .await?;
        Ok(Checked::Unknown(match locks {
            Some(until) => LoginOutcome::Locked { until },
            None => LoginOutcome::WrongPassword,
        }))
    }

    /// Encrypt a TOTP secret stored plain (from before encryption) or under an older key,
    /// once its owner has signed in with it.
    async fn reseal_if_old(&self, login: &str, stored: Option<&str>) -> Result<()> {
        let (Some(stored), Some(keys)) = (stored, self.secrets.as_deref()) else {
            return Ok(());
        };
        if keys.is_current(stored) {
            return Ok(());
        }
        let secret = self.open_totp(login, stored)?;
        let sealed = self.seal_totp(login, &secret)?;
        // If it changed meanwhile, whoever changed it wrote it encrypted.
        self.store
            .replace_totp_secret(login, stored, &sealed)
            .await?;
        Ok(())
    }

    /// Encrypt every stored TOTP secret with the current key (decrypting with any key
    /// known): after a new key has been put first (`renkei secrets rotate`), and for secrets
    /// stored plain by an older renkei. Safe while servers run: each secret is replaced only
    /// if nobody changed it meanwhile. Returns how many were re-encrypted and how many were
    /// current already.
    pub async fn reseal_totp_secrets(&self, actor: &str) -> Result<(usize, usize)> {
        let keys = self.keys()?;
        let (mut resealed, mut current) = (0, 0);
        for user in self.store.users().await? {
            let login = user.login;
            // A secret replaced meanwhile is read again (a few times at most).
            for _ in 0..5 {
                let Some((_, creds)) = self.store.user(&login).await? else {
                    break;
                };
                let Some(stored) = creds.totp_secret else {
                    break;
                };
                if keys.is_current(&stored) {
                    current += 1;
                    break;
                }
                let sealed = self.seal_totp(&login, &self.open_totp(&login, &stored)?)?;
                if self
                    .store
                    .replace_totp_secret(&login, &stored, &sealed)
                    .await?
                {
                    resealed += 1;
                    break;
                }
            }
        }
        let mut e = audit::Event::new(self.now(), actor, audit::Action::UserChange);
        e.target = "totp secrets".into();
        e.detail = format!(
            "TOTP secrets encrypted with key {}: {resealed} re-encrypted, {current} already current",
            keys.current().id()
        );
        self.audit(e).await?;
        Ok((resealed, current))
    }

    /// Sign in and open a session. Returns the session token (to be kept by the client) and
    /// the principal.
    pub async fn login(
        &self,
        login: &str,
        password: &str,
        totp: Option<&str>,
        acting_for: Option<&FacilityCode>,
        source: Option<IpAddr>,
    ) -> Result<(SessionToken, Principal)> {
        let principal = self
            .authenticate(login, password, totp, acting_for, source)
            .await?;
        let token = SessionToken::generate()?;
        let now = self.now();
        self.store
            .create_session(
                &token.hash(),
                &Session {
                    login: login.to_owned(),
                    acting_facility: principal.facility().cloned(),
                    created_at: now,
                    last_seen: now,
                    ended_at: None,
                },
            )
            .await?;
        Ok((token, principal))
    }

    /// The principal of a session token, if the session is open and not expired.
    pub async fn session(&self, token: &str) -> Result<Principal> {
        let hash = auth::token_hash(token);
        let expired = || {
            ServiceError::Unauthenticated(
                "セッションが切れました。再度ログインしてください (session expired: sign in again)"
                    .into(),
            )
        };
        let Some(s) = self.store.session(&hash).await? else {
            return Err(expired());
        };
        let now = self.now();
        if s.ended_at.is_some() || self.sessions.is_expired(s.created_at, s.last_seen, now) {
            return Err(expired());
        }
        let Some((user, _)) = self.store.user(&s.login).await? else {
            return Err(expired());
        };
        if !user.active {
            return Err(expired());
        }
        // The idle clock needs no second-by-second precision, and a write on every page (a
        // commit with its fsync, queued on the store's one writer behind the audit log) was
        // most of what a page cost under load: the session may end up to this much early.
        if now.0 - s.last_seen.0 >= SESSION_TOUCH_SECS {
            self.store.touch_session(&hash, now, None).await?;
        }
        let acting_for = match &s.acting_facility {
            Some(code) => self.store.facility_details(code).await?,
            None => None,
        };
        Ok(Principal::User { user, acting_for })
    }

    /// Switch the facility a signed-in user acts for.
    pub async fn choose_facility(&self, token: &str, code: &FacilityCode) -> Result<Principal> {
        let principal = self.session(token).await?;
        let user = match &principal {
            Principal::User { user, .. } if user.facilities.contains(code) => user.clone(),
            Principal::User { .. } => {
                let reason =
                    format!("{code} の所属ではありません (you do not work for facility {code})");
                return Err(self
                    .refuse(
                        &principal,
                        audit::Action::Login,
                        &code.to_string(),
                        "not_at_facility",
                        &reason,
                    )
                    .await);
            }
            Principal::FacilitySystem { .. } => {
                return Err(self
                    .refuse(
                        &principal,
                        audit::Action::Login,
                        &code.to_string(),
                        "not_a_user",
                        "施設の選択は利用者だけです (only users choose a facility)",
                    )
                    .await);
            }
        };
        let facility = self.store.facility_details(code).await?;
        self.store
            .touch_session(&auth::token_hash(token), self.now(), Some(code))
            .await?;
        Ok(Principal::User {
            user,
            acting_for: facility,
        })
    }

    pub async fn logout(&self, token: &str) -> Result<()> {
        let principal = self.session(token).await.ok();
        self.store
            .end_session(&auth::token_hash(token), self.now())
            .await?;
        if let Some(p) = principal {
            self.audit(self.event(&p, audit::Action::Logout)).await?;
        }
        Ok(())
    }

    /// Issue an API key for a facility's system (shown once).
    pub async fn create_api_key(
        &self,
        actor: &Principal,
        facility: &FacilityCode,
    ) -> Result<auth::NewApiKey> {
        self.require_office(actor, audit::Action::FacilityChange, facility.as_str())
            .await?;
        if self.store.facility_details(facility).await?.is_none() {
            return Err(ServiceError::Invalid(format!(
                "facility {facility} is not registered"
            )));
        }
        let key = auth::ApiKey::generate(facility)?;
        self.store
            .put_api_key(&ApiKeyRecord {
                prefix: key.display_prefix.clone(),
                facility: facility.clone(),
                key_hash: key.hash,
                created_at: self.now(),
                created_by: actor.actor(),
                revoked_at: None,
            })
            .await?;
        let mut e = self.event(actor, audit::Action::FacilityChange);
        e.target = facility.to_string();
        e.detail = format!("API key {} issued", key.display_prefix);
        self.audit(e).await?;
        Ok(key)
    }

    /// The facility system presenting `key`.
    pub async fn authenticate_api_key(&self, key: &str) -> Result<Principal> {
        let bad = || ServiceError::Unauthenticated("APIキーが無効です (invalid API key)".into());
        let parsed = auth::parse_api_key(key).map_err(|_| bad())?;
        let Some(rec) = self.store.api_key(&parsed.display_prefix).await? else {
            return Err(bad());
        };
        if rec.revoked_at.is_some()
            || rec.facility != parsed.facility
            || !auth::verify_api_key(&rec.key_hash, key)
        {
            return Err(bad());
        }
        let Some(facility) = self.store.facility_details(&rec.facility).await? else {
            return Err(bad());
        };
        Ok(Principal::FacilitySystem {
            facility,
            key_prefix: rec.prefix,
        })
    }

    /// For tests and the demo: the current TOTP code of a user (never exposed over HTTP).
    pub async fn current_totp_for_tests(&self, login: &str, at: UnixTime) -> Result<String> {
        let (_, creds) = self
            .store
            .user(login)
            .await?
            .ok_or_else(|| ServiceError::NotFound(login.to_owned()))?;
        let secret = creds
            .totp_secret
            .ok_or_else(|| ServiceError::NotFound("no TOTP".into()))?;
        Ok(self.open_totp(login, &secret)?.code_at(at))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn session_at(login: &str, at: UnixTime) -> Session {
        Session {
            login: login.to_owned(),
            acting_facility: None,
            created_at: at,
            last_seen: at,
            ended_at: None,
        }
    }

    #[tokio::test]
    async fn a_session_is_touched_once_a_minute_not_on_every_request() {
        let dir = tempfile::tempdir().expect("tmp");
        let store: Arc<dyn store::Store> =
            Arc::new(store_sqlite::SqliteStore::open(dir.path()).expect("store"));
        let net = Network::new(store.clone()).with_test_hashing();
        net.bootstrap_admin("admin", "管理者", "Kx7#mPq2vLw9-renkei")
            .await
            .expect("admin");
        let token = SessionToken::generate().expect("token");
        let now = UnixTime::now();

        // Seen 10 s ago: a request now writes nothing.
        let recent = now.plus_seconds(-10);
        store
            .create_session(&token.hash(), &session_at("admin", recent))
            .await
            .expect("session");
        net.session(token.as_str()).await.expect("open session");
        let s = store
            .session(&token.hash())
            .await
            .expect("read")
            .expect("s");
        assert_eq!(s.last_seen, recent);

        // Seen two minutes ago: the request is written down.
        let token = SessionToken::generate().expect("token");
        let older = now.plus_seconds(-120);
        store
            .create_session(&token.hash(), &session_at("admin", older))
            .await
            .expect("session");
        net.session(token.as_str()).await.expect("open session");
        let s = store
            .session(&token.hash())
            .await
            .expect("read")
            .expect("s");
        assert!(s.last_seen.0 >= now.0, "touched: {:?}", s.last_seen);
    }
}
