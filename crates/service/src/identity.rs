//! Users, sign-in (password + TOTP), sessions and facility API keys.

use auth::{LoginInput, LoginOutcome, LoginState, SessionToken, StoredCredentials, TotpSecret};
use model::{FacilityCode, Profession, UnixTime, User};
use store::{ApiKeyRecord, Credentials, Session};

use crate::{Network, Principal, Result, ServiceError};

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

fn state_of(c: &Credentials) -> LoginState {
    serde_json::from_str(&c.login_state).unwrap_or_default()
}

fn valid_login(login: &str) -> bool {
    !login.is_empty()
        && login.len() <= 64
        && login
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-@".contains(&b))
}

impl Network {
    fn hash(&self, password: &str) -> Result<String> {
        Ok(match self.hash_params {
            Some(p) => auth::hash_password_with_params(password, p)?,
            None => auth::hash_password(password)?,
        })
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
            password_phc: self.hash(&new.password)?,
            totp_secret: Some(secret.to_base32()),
            login_state: serde_json::to_string(&LoginState::default()).unwrap_or_default(),
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
    /// Every attempt is audited; failures count towards the lockout.
    pub async fn authenticate(
        &self,
        login: &str,
        password: &str,
        totp: Option<&str>,
        acting_for: Option<&FacilityCode>,
    ) -> Result<Principal> {
        let now = self.now();
        let wrong = || ServiceError::Unauthenticated(LoginOutcome::WrongPassword.to_string());
        let mut e = audit::Event::new(now, login, audit::Action::Login);
        let Some((user, creds)) = self.store.user(login).await? else {
            e.outcome = audit::Outcome::Failed {
                reason: "unknown login".into(),
            };
            self.audit(e).await?;
            return Err(wrong());
        };
        let totp_secret = match &creds.totp_secret {
            Some(s) => Some(
                TotpSecret::from_base32(s)
                    .map_err(|err| ServiceError::Internal(format!("stored TOTP secret: {err}")))?,
            ),
            None => None,
        };
        let stored = StoredCredentials {
            password_phc: creds.password_phc.clone(),
            totp_secret,
            state: state_of(&creds),
            totp_required: self.totp_required,
        };
        let (outcome, state) = auth::check_login(
            LoginInput {
                password,
                totp_code: totp,
            },
            &stored,
            now,
            &self.lockout,
        );
        let new_creds = Credentials {
            login_state: serde_json::to_string(&state).unwrap_or_default(),
            ..creds
        };
        self.store.set_credentials(login, &new_creds).await?;
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

    /// Sign in and open a session. Returns the session token (to be kept by the client) and
    /// the principal.
    pub async fn login(
        &self,
        login: &str,
        password: &str,
        totp: Option<&str>,
        acting_for: Option<&FacilityCode>,
    ) -> Result<(SessionToken, Principal)> {
        let principal = self.authenticate(login, password, totp, acting_for).await?;
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
        let Principal::User { user, .. } = principal else {
            return Err(ServiceError::Forbidden(
                "only users choose a facility".into(),
            ));
        };
        if !user.facilities.contains(code) {
            return Err(ServiceError::Forbidden(format!(
                "{code} の所属ではありません (you do not work for facility {code})"
            )));
        }
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
        let secret =
            TotpSecret::from_base32(&secret).map_err(|e| ServiceError::Internal(e.to_string()))?;
        Ok(secret.code_at(at))
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
