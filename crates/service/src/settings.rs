//! Per-network settings: the permission matrix overrides, implied consent, break-the-glass
//! length and the match thresholds. Administrators only; every change is audited.

use model::{PermissionMatrix, Profession, RecordCategory};

use crate::medications::MedicationSettings;
use crate::{
    Network, Principal, Result, ServiceError, MATCH_KEY, MATRIX_KEY, MEDICATION_KEY, POLICY_KEY,
};

impl Network {
    async fn require_admin(&self, actor: &Principal, target: &str) -> Result<()> {
        if actor.is_admin() {
            return Ok(());
        }
        let reason = "管理者の権限が必要です (only an administrator changes network settings)";
        let mut e = self.event(actor, audit::Action::UserChange);
        e.target = target.to_owned();
        e.outcome = audit::Outcome::Refused {
            code: "not_admin".into(),
            reason: reason.into(),
        };
        self.audit(e).await?;
        Err(ServiceError::Forbidden(reason.into()))
    }

    async fn save_setting<T: serde::Serialize>(
        &self,
        actor: &Principal,
        key: &str,
        value: &T,
    ) -> Result<()> {
        let json =
            serde_json::to_string(value).map_err(|e| ServiceError::Internal(e.to_string()))?;
        self.store.put_setting(key, &json).await?;
        let mut e = self.event(actor, audit::Action::UserChange);
        e.target = format!("setting {key}");
        e.detail = json;
        self.audit(e).await
    }

    /// Override one cell of the profession × category matrix.
    pub async fn set_permission(
        &self,
        actor: &Principal,
        profession: Profession,
        category: RecordCategory,
        allowed: bool,
    ) -> Result<PermissionMatrix> {
        self.require_admin(actor, MATRIX_KEY).await?;
        let mut m = self.permission_matrix().await?;
        m.set(profession, category, allowed);
        self.save_setting(actor, MATRIX_KEY, &m).await?;
        Ok(m)
    }

    /// Back to the documented defaults.
    pub async fn reset_permissions(&self, actor: &Principal) -> Result<PermissionMatrix> {
        self.require_admin(actor, MATRIX_KEY).await?;
        let m = PermissionMatrix::default();
        self.save_setting(actor, MATRIX_KEY, &m).await?;
        Ok(m)
    }

    pub async fn set_policy_settings(
        &self,
        actor: &Principal,
        settings: policy::Settings,
    ) -> Result<()> {
        self.require_admin(actor, POLICY_KEY).await?;
        if settings.break_glass_minutes < 1 || settings.break_glass_minutes > 24 * 60 {
            return Err(ServiceError::Invalid(
                "break_glass_minutes must be 1–1440".into(),
            ));
        }
        self.save_setting(actor, POLICY_KEY, &settings).await
    }

    pub async fn set_match_settings(
        &self,
        actor: &Principal,
        settings: mpi::MatchSettings,
    ) -> Result<()> {
        self.require_admin(actor, MATCH_KEY).await?;
        if settings.candidate_min > 100
            || settings
                .auto_link_min
                .is_some_and(|a| a > 100 || a < settings.candidate_min)
        {
            return Err(ServiceError::Invalid(
                "scores are 0–100 and the auto-link score cannot be below the candidate score"
                    .into(),
            ));
        }
        self.save_setting(actor, MATCH_KEY, &settings).await
    }

    /// The medication settings (defaults until an administrator sets them).
    pub async fn medication_settings(&self) -> Result<MedicationSettings> {
        match self.store.setting(MEDICATION_KEY).await? {
            Some(json) => serde_json::from_str(&json).map_err(|e| {
                ServiceError::Internal(format!("stored medication settings are invalid: {e}"))
            }),
            None => Ok(MedicationSettings::default()),
        }
    }

    /// Set how long an ended drug stays on the current list (1–365 days).
    pub async fn set_medication_settings(
        &self,
        actor: &Principal,
        settings: MedicationSettings,
    ) -> Result<()> {
        self.require_admin(actor, MEDICATION_KEY).await?;
        if !(1..=365).contains(&settings.recent_days) {
            return Err(ServiceError::Invalid("recent_days must be 1–365".into()));
        }
        self.save_setting(actor, MEDICATION_KEY, &settings).await
    }
}
