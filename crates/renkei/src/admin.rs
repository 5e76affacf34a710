//! Registry commands: facilities, users, enrolment, links, consent, access checks and the
//! audit log. Every command but `user bootstrap` signs in first (password + TOTP), and every
//! act is written to the audit log by the service layer.

use std::collections::BTreeSet;
use std::io::BufRead;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use model::{
    ConsentScope, Date, Facility, FacilityCode, FacilityKind, FacilityStatus, LocalPatient,
    Profession, Purpose, RegionalId,
};
use service::{ConsentInput, Network, NewUser, Principal};

/// Who runs the command. The password and the TOTP code come from the environment (for
/// scripts) or are asked for on the terminal.
#[derive(Args, Clone)]
pub struct SignIn {
    /// Your login.
    #[arg(long = "as", id = "sign_in_as", env = "RENKEI_USER", global = true)]
    pub login: Option<String>,
    /// The facility you act for, when you work for several.
    #[arg(
        long = "acting-for",
        id = "sign_in_acting_for",
        env = "RENKEI_FACILITY",
        global = true
    )]
    pub acting_for: Option<FacilityCode>,
}

#[derive(Subcommand)]
pub enum FacilityCommand {
    /// Register a facility or change its details (参加施設の登録・変更).
    Set {
        code: FacilityCode,
        #[arg(long)]
        name: String,
        /// hospital, clinic, dental_clinic, pharmacy, home_nursing, care_facility, care_management, other
        #[arg(long, default_value = "hospital")]
        kind: String,
        /// Secondary medical area (二次医療圏).
        #[arg(long, default_value = "")]
        area: String,
        /// participating, suspended, left
        #[arg(long, default_value = "participating")]
        status: String,
        /// Discloses its data to the network (開示施設): true/false.
        #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
        discloses: bool,
        /// Its staff view data through the network (閲覧施設): true/false.
        #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
        views: bool,
    },
    List,
    /// Issue an API key for the facility's systems (shown once).
    ApiKey {
        code: FacilityCode,
    },
}

#[derive(Subcommand)]
pub enum UserCommand {
    /// Create the first administrator (only while there are no users). The password comes
    /// from RENKEI_NEW_PASSWORD or the terminal.
    Bootstrap {
        #[arg(long)]
        login: String,
        #[arg(long, default_value = "管理者")]
        name: String,
    },
    /// Add a user (administrators). The password comes from RENKEI_NEW_PASSWORD or the terminal.
    Add {
        #[arg(long)]
        login: String,
        #[arg(long)]
        name: String,
        /// doctor, dentist, pharmacist, nurse, public_health_nurse, midwife, therapist,
        /// care_manager, care_worker, medical_clerk, network_operator, administrator
        #[arg(long)]
        profession: String,
        /// Facilities the user works for (repeat).
        #[arg(long = "facility")]
        facilities: Vec<FacilityCode>,
    },
    List,
}

#[derive(Subcommand)]
pub enum PatientCommand {
    /// Issue a regional ID (地域共通ID) and link local patients to it.
    Enroll {
        /// FACILITY:LOCAL_ID (repeat).
        #[arg(long = "local", value_parser = parse_local)]
        locals: Vec<LocalPatient>,
    },
    /// Open a patient's records through the access gate: what you may see, and what not and why.
    Access {
        regional_id: RegionalId,
        /// care, emergency, administration
        #[arg(long, default_value = "care")]
        purpose: String,
        /// Emergency (break-the-glass) reason; required with --purpose emergency.
        #[arg(long)]
        reason: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum LinkCommand {
    /// Link a local patient to a regional ID (名寄せ).
    Add {
        regional_id: RegionalId,
        #[arg(long = "local", value_parser = parse_local)]
        local: LocalPatient,
    },
    /// End a local patient's link.
    Remove {
        #[arg(long = "local", value_parser = parse_local)]
        local: LocalPatient,
    },
    /// A regional ID's links, ended ones included.
    Show {
        regional_id: RegionalId,
    },
    /// Match candidates with the explanation of each score (nothing is linked).
    Candidates {
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    Merge {
        #[arg(long)]
        from: RegionalId,
        #[arg(long)]
        into: RegionalId,
    },
    Unmerge {
        merge_id: i64,
    },
    /// Link the pairs at or above the configured auto-link score (never below it).
    Auto,
}

#[derive(Subcommand)]
pub enum SettingsCommand {
    /// The permission matrix, consent and match settings in force.
    Show,
    /// Allow or deny one profession one record category (per-network override).
    Permission {
        /// e.g. care_manager
        profession: String,
        /// e.g. lab_results
        category: String,
        /// allow or deny
        decision: String,
    },
    /// Back to the documented default matrix.
    ResetPermissions,
    /// Implied consent (黙示同意): on or off (default off).
    ImpliedConsent { state: String },
    /// How long an emergency (break-the-glass) access lasts, in minutes.
    BreakGlassMinutes { minutes: i64 },
    /// Match thresholds: candidates shown from --candidate-min; linked without review from
    /// --auto-link-min (or never, with --no-auto-link).
    Match {
        #[arg(long)]
        candidate_min: u32,
        #[arg(long, conflicts_with = "no_auto_link")]
        auto_link_min: Option<u32>,
        #[arg(long)]
        no_auto_link: bool,
    },
}

#[derive(Subcommand)]
pub enum ConsentCommand {
    /// Record a consent (同意).
    Record {
        regional_id: RegionalId,
        /// all (一括同意), facilities (施設選択), doctors (医師単位)
        #[arg(long)]
        mode: String,
        /// With --mode facilities: facilities that may disclose (repeat).
        #[arg(long = "disclosing")]
        disclosing: Vec<FacilityCode>,
        /// With --mode facilities: facilities that may view (repeat).
        #[arg(long = "viewing")]
        viewing: Vec<FacilityCode>,
        /// With --mode doctors: logins of the doctors who may view (repeat).
        #[arg(long = "doctor")]
        doctors: Vec<String>,
        /// First day (YYYY-MM-DD).
        #[arg(long)]
        from: String,
        /// Last day (YYYY-MM-DD), if limited.
        #[arg(long)]
        until: Option<String>,
        /// Reference to the signed paper form (同意書の番号).
        #[arg(long, default_value = "")]
        paper: String,
        /// Implied consent (黙示同意); counts only where the network enabled it.
        #[arg(long)]
        implied: bool,
    },
    /// Withdraw a consent (撤回), effective at once.
    Withdraw { consent_id: i64 },
    /// A patient's consents and their history.
    Show { regional_id: RegionalId },
}

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Check the hash chain and the anchor kept outside the database: exits non-zero if an
    /// entry was edited, deleted or reordered, entries were cut off the end, or the anchor
    /// is missing. Prints the head (`SEQ:HASH`) to copy off the server for a later check.
    Verify {
        /// A head copied off the server earlier (`SEQ:HASH`, as this command prints it): the
        /// chain must still hold that entry with that hash. Repeatable.
        #[arg(long = "expect-head", value_name = "SEQ:HASH")]
        expect_head: Vec<audit::Head>,
        /// An off-site site of renkei.toml (replica or S3 bucket) whose copy of the log
        /// vouches for it: the chain must still hold the newest entry the site holds.
        /// Repeatable.
        #[arg(long = "against-site", value_name = "NAME")]
        against_site: Vec<String>,
    },
    /// Who saw this patient (for the patient's request).
    WhoSaw { regional_id: RegionalId },
    /// What a user did.
    User { login: String },
    /// Emergency (break-the-glass) accesses to review.
    Emergency,
}

fn parse_local(s: &str) -> std::result::Result<LocalPatient, String> {
    let (f, id) = s
        .split_once(':')
        .ok_or_else(|| format!("{s:?}: expected FACILITY:LOCAL_ID"))?;
    let facility = FacilityCode::parse(f).map_err(|e| e.to_string())?;
    if id.is_empty() {
        return Err(format!("{s:?}: the local patient ID is empty"));
    }
    Ok(LocalPatient {
        facility,
        local_id: id.to_owned(),
    })
}

/// A secret from the environment, else one line from the terminal.
fn secret(var: &str, prompt: &str) -> Result<String> {
    if let Ok(v) = std::env::var(var) {
        return Ok(v);
    }
    eprint!("{prompt}: ");
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading from the terminal")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

/// Where `renkei login` keeps the session token: per user, never in the data folder (it is a
/// personal credential). One file per data folder.
fn session_file(data: &std::path::Path) -> Option<std::path::PathBuf> {
    let base = std::env::var_os("RENKEI_SESSION_DIR")
        .map(std::path::PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".config/renkei"))
        })?;
    let canonical = std::fs::canonicalize(data).unwrap_or_else(|_| data.to_owned());
    let tag = store::packs::hex(&auth::token_hash(&canonical.display().to_string())[..8]);
    Some(base.join(format!("session-{tag}")))
}

fn saved_session(data: &std::path::Path) -> Option<String> {
    std::fs::read_to_string(session_file(data)?)
        .ok()
        .map(|s| s.trim().to_owned())
}

/// Sign in with a password and a fresh TOTP code and keep the session for later commands
/// (`renkei login`); a TOTP code can be used only once, so scripts log in once.
pub async fn login(net: &Network, data: &std::path::Path, who: &SignIn) -> Result<()> {
    let Some(login) = &who.login else {
        bail!("renkei login --as LOGIN")
    };
    let password = secret("RENKEI_PASSWORD", "パスワード / password")?;
    let code = secret("RENKEI_TOTP", "確認コード / 6-digit code")?;
    let (token, principal) = net
        .login(login, &password, Some(&code), who.acting_for.as_ref(), None)
        .await?;
    let path =
        session_file(data).context("no HOME or RENKEI_SESSION_DIR to keep the session in")?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    write_private(&path, token.as_str())?;
    println!(
        "signed in as {login}{}; session kept in {} (renkei logout ends it)",
        principal
            .facility()
            .map(|f| format!(" for facility {f}"))
            .unwrap_or_default(),
        path.display()
    );
    Ok(())
}

#[cfg(unix)]
fn write_private(path: &std::path::Path, text: &str) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.write_all(text.as_bytes())?;
    Ok(())
}

#[cfg(not(unix))]
fn write_private(path: &std::path::Path, text: &str) -> Result<()> {
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

pub async fn logout(net: &Network, data: &std::path::Path) -> Result<()> {
    if let Some(token) = saved_session(data) {
        net.logout(&token).await?;
    }
    if let Some(path) = session_file(data) {
        let _ = std::fs::remove_file(path);
    }
    println!("signed out");
    Ok(())
}

/// The principal for a command: the saved session if it is still valid (and, with --as, for
/// that login), else a sign-in with password and TOTP.
pub async fn sign_in(net: &Network, data: &std::path::Path, who: &SignIn) -> Result<Principal> {
    if let Some(token) = saved_session(data) {
        if let Ok(p) = net.session(&token).await {
            let same_login = who.login.as_deref().is_none_or(|l| l == p.actor());
            if same_login {
                return Ok(match (&who.acting_for, &p) {
                    (Some(code), _) if p.facility() != Some(code) => {
                        net.choose_facility(&token, code).await?
                    }
                    _ => p,
                });
            }
        }
    }
    let Some(login) = &who.login else {
        bail!("sign in first: renkei login --as LOGIN (password from RENKEI_PASSWORD or the terminal, 6-digit code from RENKEI_TOTP or the terminal)")
    };
    let password = secret("RENKEI_PASSWORD", "パスワード / password")?;
    let code = secret("RENKEI_TOTP", "確認コード / 6-digit code")?;
    Ok(net
        .authenticate(login, &password, Some(&code), who.acting_for.as_ref(), None)
        .await?)
}

pub async fn facility(
    net: &Network,
    data: &std::path::Path,
    who: &SignIn,
    cmd: FacilityCommand,
) -> Result<()> {
    match cmd {
        FacilityCommand::List => {
            for f in net.facilities().await? {
                println!(
                    "{}  {}  {}  {}  {}  開示={} 閲覧={}",
                    f.code,
                    f.name,
                    f.kind.label_ja(),
                    f.area,
                    f.status.as_str(),
                    f.discloses,
                    f.views
                );
            }
        }
        FacilityCommand::Set {
            code,
            name,
            kind,
            area,
            status,
            discloses,
            views,
        } => {
            let kind = FacilityKind::parse(&kind).with_context(|| {
                format!("--kind {kind:?}: use one of hospital, clinic, dental_clinic, pharmacy, home_nursing, care_facility, care_management, other")
            })?;
            let status = FacilityStatus::parse(&status).with_context(|| {
                format!("--status {status:?}: use participating, suspended or left")
            })?;
            let actor = sign_in(net, data, who).await?;
            net.put_facility(
                &actor,
                Facility {
                    code: code.clone(),
                    name,
                    kind,
                    area,
                    status,
                    discloses,
                    views,
                },
            )
            .await?;
            println!("facility {code} saved");
        }
        FacilityCommand::ApiKey { code } => {
            let actor = sign_in(net, data, who).await?;
            let key = net.create_api_key(&actor, &code).await?;
            println!("API key for facility {code} (shown once; store it in the facility system):");
            println!("{}", key.secret_text);
        }
    }
    Ok(())
}

pub async fn user(
    net: &Network,
    data: &std::path::Path,
    who: &SignIn,
    cmd: UserCommand,
) -> Result<()> {
    match cmd {
        UserCommand::Bootstrap { login, name } => {
            let password = secret("RENKEI_NEW_PASSWORD", "新しいパスワード / new password")?;
            let totp = net.bootstrap_admin(&login, &name, &password).await?;
            print_totp(&login, &totp);
        }
        UserCommand::Add {
            login,
            name,
            profession,
            facilities,
        } => {
            let profession = Profession::parse(&profession).with_context(|| {
                format!(
                    "--profession {profession:?}: use one of {}",
                    Profession::ALL
                        .iter()
                        .map(|p| p.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })?;
            let password = secret(
                "RENKEI_NEW_PASSWORD",
                "新しい利用者のパスワード / the new user's password",
            )?;
            let actor = sign_in(net, data, who).await?;
            let totp = net
                .add_user(
                    &actor,
                    NewUser {
                        login: login.clone(),
                        display_name: name,
                        profession,
                        facilities,
                        password,
                    },
                )
                .await?;
            print_totp(&login, &totp);
        }
        UserCommand::List => {
            let actor = sign_in(net, data, who).await?;
            for u in net.users(&actor).await? {
                let codes: Vec<&str> = u.facilities.iter().map(|f| f.as_str()).collect();
                println!(
                    "{}  {}  {}  {}  {}",
                    u.login,
                    u.display_name,
                    u.profession.label_ja(),
                    codes.join(","),
                    if u.active { "有効" } else { "無効" }
                );
            }
        }
    }
    Ok(())
}

fn print_totp(login: &str, totp: &auth::TotpSecret) {
    println!("user {login} created. Two-factor authentication (二要素認証): add this secret to an authenticator app");
    println!("secret:      {}", totp.to_base32());
    println!(
        "otpauth URI: {}",
        totp.otpauth_uri(auth::DEFAULT_ISSUER, login)
    );
}

pub async fn patient(
    net: &Network,
    data: &std::path::Path,
    who: &SignIn,
    cmd: PatientCommand,
) -> Result<()> {
    let actor = sign_in(net, data, who).await?;
    match cmd {
        PatientCommand::Enroll { locals } => {
            let id = net.enroll(&actor, &locals).await?;
            println!("{id}\t地域共通ID (regional ID) {}", id.grouped());
        }
        PatientCommand::Access {
            regional_id,
            purpose,
            reason,
        } => {
            let purpose = Purpose::parse(&purpose).with_context(|| {
                format!("--purpose {purpose:?}: use care, emergency or administration")
            })?;
            // On the command line, `--reason` with the emergency purpose is the declaration
            // itself (one explicit command, audited); without it an open window is used.
            if let (Purpose::Emergency, Some(reason)) = (purpose, reason.as_deref()) {
                net.start_break_glass(&actor, &regional_id, reason).await?;
            }
            let access = net
                .patient_records(&actor, &regional_id, purpose, None)
                .await?;
            if let Some(bg) = &access.break_glass {
                println!(
                    "緊急時閲覧 (break-the-glass) until {}: {}",
                    bg.expires_at, bg.reason
                );
            }
            let mut shown: std::collections::BTreeMap<(String, &str), usize> = Default::default();
            for item in &access.allowed {
                *shown
                    .entry((
                        format!("{}/{}", item.source, item.local_id),
                        item.category.label_ja(),
                    ))
                    .or_default() += 1;
            }
            for ((src, cat), n) in &shown {
                println!("ALLOWED  {src}  {cat}: {n} records");
            }
            // Why, and nothing about where the patient is treated (the audit log has that).
            for r in &access.refused {
                println!("REFUSED  {} — {}", r.code, r.reason);
            }
            if access.allowed.is_empty() && access.refused.is_empty() {
                println!("no linked records");
            }
        }
    }
    Ok(())
}

pub async fn link(
    net: &Network,
    data: &std::path::Path,
    who: &SignIn,
    cmd: LinkCommand,
) -> Result<()> {
    let actor = sign_in(net, data, who).await?;
    match cmd {
        LinkCommand::Add { regional_id, local } => {
            net.link(&actor, &regional_id, &local).await?;
            println!(
                "linked {}:{} → {regional_id}",
                local.facility, local.local_id
            );
        }
        LinkCommand::Remove { local } => {
            let l = net.unlink(&actor, &local).await?;
            println!(
                "unlinked {}:{} from {}",
                local.facility, local.local_id, l.regional_id
            );
        }
        LinkCommand::Show { regional_id } => {
            for l in net.links(&actor, &regional_id).await? {
                let state = match (l.ended_at, &l.ended_by) {
                    (Some(at), Some(by)) => format!("ended {at} by {by}"),
                    _ => "active".into(),
                };
                println!(
                    "{}:{}  linked {} by {}  {state}",
                    l.patient.facility, l.patient.local_id, l.linked_at, l.linked_by
                );
            }
        }
        LinkCommand::Candidates { limit } => {
            for c in net.candidates(&actor).await?.into_iter().take(limit) {
                println!(
                    "{:>3}  {:?}  {}:{}  ~  {}:{}",
                    c.score, c.decision, c.a.facility, c.a.local_id, c.b.facility, c.b.local_id
                );
                for e in &c.parts {
                    println!("       {:+4}  {}", e.points, e.explanation);
                }
            }
        }
        LinkCommand::Merge { from, into } => {
            let m = net.merge(&actor, &from, &into).await?;
            println!("merge {}: {from} → {into}", m.id);
        }
        LinkCommand::Auto => {
            let n = net.auto_link(&actor).await?;
            println!("{n} links made automatically (pairs at or above the auto-link score)");
        }
        LinkCommand::Unmerge { merge_id } => {
            let m = net.unmerge(&actor, merge_id).await?;
            println!("merge {} undone: {} is separate again", m.id, m.from);
        }
    }
    Ok(())
}

pub async fn consent(
    net: &Network,
    data: &std::path::Path,
    who: &SignIn,
    cmd: ConsentCommand,
) -> Result<()> {
    let actor = sign_in(net, data, who).await?;
    match cmd {
        ConsentCommand::Record {
            regional_id,
            mode,
            disclosing,
            viewing,
            doctors,
            from,
            until,
            paper,
            implied,
        } => {
            let scope = match mode.as_str() {
                "all" => ConsentScope::AllFacilities,
                "facilities" => {
                    if disclosing.is_empty() && viewing.is_empty() {
                        bail!(
                            "--mode facilities needs --disclosing and/or --viewing facility codes"
                        );
                    }
                    ConsentScope::SelectedFacilities {
                        disclosing: disclosing.into_iter().collect(),
                        viewing: viewing.into_iter().collect(),
                    }
                }
                "doctors" => {
                    if doctors.is_empty() {
                        bail!("--mode doctors needs at least one --doctor LOGIN");
                    }
                    ConsentScope::SelectedDoctors {
                        doctors: doctors.into_iter().collect::<BTreeSet<_>>(),
                    }
                }
                other => bail!("--mode {other:?}: use all, facilities or doctors"),
            };
            let valid_from = Date::parse(&from)
                .with_context(|| format!("--from {from:?}: expected YYYY-MM-DD"))?;
            let valid_until = until
                .map(|u| {
                    Date::parse(&u).with_context(|| format!("--until {u:?}: expected YYYY-MM-DD"))
                })
                .transpose()?;
            let c = net
                .record_consent(
                    &actor,
                    ConsentInput {
                        regional_id,
                        scope,
                        valid_from,
                        valid_until,
                        paper_form: paper,
                        implied,
                    },
                )
                .await?;
            println!(
                "consent {} recorded ({}, from {})",
                c.id,
                c.scope.mode(),
                c.valid_from
            );
        }
        ConsentCommand::Withdraw { consent_id } => {
            let c = net.withdraw_consent(&actor, consent_id).await?;
            println!(
                "consent {} withdrawn at {}",
                c.id,
                c.withdrawn_at.map(|t| t.to_string()).unwrap_or_default()
            );
        }
        ConsentCommand::Show { regional_id } => {
            for c in net.consents(&actor, &regional_id).await? {
                let state = match c.withdrawn_at {
                    Some(at) => format!("withdrawn {at}"),
                    None => "in effect unless expired".into(),
                };
                println!(
                    "#{} {} from {} until {} paper {:?} implied={} recorded {} by {} — {state}",
                    c.id,
                    serde_json::to_string(&c.scope).unwrap_or_default(),
                    c.valid_from,
                    c.valid_until
                        .map(|d| d.to_string())
                        .unwrap_or_else(|| "-".into()),
                    c.paper_form,
                    c.implied,
                    c.recorded_at,
                    c.recorded_by
                );
            }
        }
    }
    Ok(())
}

fn print_entries(entries: &[audit::Entry]) {
    for e in entries {
        let ev = &e.event;
        let outcome = match &ev.outcome {
            audit::Outcome::Allowed => "OK".to_owned(),
            audit::Outcome::Refused { code, .. } => format!("REFUSED({code})"),
            audit::Outcome::Failed { reason } => format!("FAILED({reason})"),
        };
        println!(
            "#{} {} {} {} {} {} {} {}{}",
            e.seq,
            ev.at,
            ev.actor,
            ev.action.label_ja(),
            ev.patient.as_ref().map(|p| p.as_str()).unwrap_or("-"),
            ev.target,
            outcome,
            ev.detail,
            if ev.flagged { " [要確認]" } else { "" }
        );
    }
}

/// Returns false when the chain is broken (the command then exits non-zero). `sites` are
/// the configured sites (only those named by `--against-site` are asked).
pub async fn audit(
    net: &Network,
    data: &std::path::Path,
    who: &SignIn,
    cmd: AuditCommand,
    sites: &[service::offsite::Site],
) -> Result<bool> {
    let actor = sign_in(net, data, who).await?;
    match cmd {
        AuditCommand::Verify {
            expect_head,
            against_site,
        } => {
            let mut references: Vec<service::HeadReference> = expect_head
                .into_iter()
                .map(|h| service::HeadReference {
                    source: "the head given with --expect-head".into(),
                    head: Some(h),
                })
                .collect();
            for name in &against_site {
                let site = sites.iter().find(|s| s.name() == name).with_context(|| {
                    format!("--against-site {name}: no such site in the configuration")
                })?;
                references.push(
                    net.site_audit_head(site)
                        .await
                        .with_context(|| format!("asking site {name} for its audit head"))?,
                );
            }
            let r = net.audit_verify_against(&actor, &references).await?;
            if r.ok() {
                println!(
                    "audit log intact: {} entries, head {}",
                    r.entries,
                    r.head.map(|h| h.to_string()).unwrap_or_else(|| "-".into())
                );
                for reference in &references {
                    if let Some(h) = &reference.head {
                        println!("  holds entry {} of {}", h, reference.source);
                    }
                }
                return Ok(true);
            }
            for p in &r.problems {
                println!("AUDIT LOG BROKEN: {p}");
            }
            if let Some(h) = r.head {
                println!("(the log's head now: {h})");
            }
            return Ok(false);
        }
        AuditCommand::WhoSaw { regional_id } => {
            print_entries(&net.who_saw(&actor, &regional_id).await?)
        }
        AuditCommand::User { login } => print_entries(&net.user_activity(&actor, &login).await?),
        AuditCommand::Emergency => print_entries(&net.emergency_review(&actor).await?),
    }
    Ok(true)
}

pub async fn settings(
    net: &Network,
    data: &std::path::Path,
    who: &SignIn,
    cmd: SettingsCommand,
) -> Result<()> {
    let actor = sign_in(net, data, who).await?;
    match cmd {
        SettingsCommand::Show => {
            let m = net.permission_matrix().await?;
            println!("permission matrix (職種 × 情報区分):");
            for p in Profession::ALL {
                let cats: Vec<&str> = model::RecordCategory::ALL
                    .iter()
                    .filter(|c| m.allows(*p, **c))
                    .map(|c| c.as_str())
                    .collect();
                println!(
                    "  {:<20} {}",
                    p.as_str(),
                    if cats.is_empty() {
                        "-".into()
                    } else {
                        cats.join(", ")
                    }
                );
            }
            let p = net.policy_settings().await?;
            println!(
                "implied consent (黙示同意): {}",
                if p.implied_consent { "on" } else { "off" }
            );
            println!("break-the-glass minutes: {}", p.break_glass_minutes);
            let m = net.match_settings().await?;
            println!(
                "match: candidates from {}, auto-link from {}",
                m.candidate_min,
                m.auto_link_min
                    .map(|a| a.to_string())
                    .unwrap_or_else(|| "never".into())
            );
        }
        SettingsCommand::Permission {
            profession,
            category,
            decision,
        } => {
            let p = Profession::parse(&profession)
                .with_context(|| format!("{profession:?} is not a profession"))?;
            let c = model::RecordCategory::parse(&category).with_context(|| {
                format!(
                    "{category:?} is not a category: {}",
                    model::RecordCategory::ALL
                        .iter()
                        .map(|c| c.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })?;
            let allow = match decision.as_str() {
                "allow" => true,
                "deny" => false,
                other => bail!("{other:?}: say allow or deny"),
            };
            net.set_permission(&actor, p, c, allow).await?;
            println!(
                "{p} {} {c}",
                if allow {
                    "may now see"
                } else {
                    "may no longer see"
                }
            );
        }
        SettingsCommand::ResetPermissions => {
            net.reset_permissions(&actor).await?;
            println!("permission matrix reset to the defaults");
        }
        SettingsCommand::ImpliedConsent { state } => {
            let on = match state.as_str() {
                "on" => true,
                "off" => false,
                other => bail!("{other:?}: say on or off"),
            };
            let mut s = net.policy_settings().await?;
            s.implied_consent = on;
            net.set_policy_settings(&actor, s).await?;
            println!("implied consent {state}");
        }
        SettingsCommand::BreakGlassMinutes { minutes } => {
            let mut s = net.policy_settings().await?;
            s.break_glass_minutes = minutes;
            net.set_policy_settings(&actor, s).await?;
            println!("break-the-glass lasts {minutes} minutes");
        }
        SettingsCommand::Match {
            candidate_min,
            auto_link_min,
            no_auto_link,
        } => {
            let auto = if no_auto_link {
                None
            } else {
                auto_link_min.or(mpi::MatchSettings::default().auto_link_min)
            };
            net.set_match_settings(
                &actor,
                mpi::MatchSettings {
                    auto_link_min: auto,
                    candidate_min,
                },
            )
            .await?;
            println!("match settings saved");
        }
    }
    Ok(())
}
