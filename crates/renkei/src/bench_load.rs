//! `renkei bench load`: many signed-in clinicians at once against the real HTTP server
//! (issue 13, "Load, measured").
//!
//! The store is the one `bench viewer` builds in `--work` (built here when missing), so one
//! 10M-record store serves both benchmarks. The benchmark then:
//!
//! 1. adds what it needs through the service, once per store, and remembers it in
//!    `bench-load.json` next to the store: one doctor per session and a pool of extra doctors
//!    for the sign-ins measured under load (real password hashing, as the server's own
//!    `user add` does), and the consented patients of the synthetic region to look at;
//! 2. starts `renkei serve` from this executable as a child process on a free loopback port:
//!    the production server exactly, in its own process, so that its CPU time is measured
//!    apart from this process's (the load generator shares the two cores; both are reported),
//!    and the generator's tasks never queue on the server's runtime threads;
//! 3. signs every clinician in over HTTP (`POST /login`: password + TOTP), then each one opens
//!    the summary, timeline, labs and medications pages of one consented patient after
//!    another for `--seconds`: first pages only, then with `--login-share` of the requests
//!    being full sign-ins by the extra doctors, so that what sign-ins do to the pages can be
//!    read off.
//!
//! An answer counts as an error unless it is 200 and shows the patient's regional ID, the
//! page's own tab and its content marker, with nothing refused; a sign-in unless it answers
//! with the redirect and a session cookie.
//!
//! A TOTP code works once per account (replay protection), so the benchmark tracks the last
//! step each of its users used (in `bench-load.json`, across runs) and signs a user in only
//! with a step the server will accept: no failed sign-in is ever sent, so neither the
//! account nor the per-address lockout is touched. When no extra doctor has an unused step
//! left, the sign-in is skipped (counted and reported; raise `--login-users`).

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use model::{FacilityCode, FacilityKind, LocalPatient, Profession, RegionalId, UnixTime};
use serde::{Deserialize, Serialize};
use service::Network;
use store::Store;

use crate::bench::percentile;
use crate::bench_viewer::{self, BenchStore};

/// The goal for the pages at 200 sessions.
const GOAL_P99: Duration = Duration::from_millis(300);
/// The bound on what sign-ins may do to the pages.
const GOAL_LOGIN_SLOWDOWN: f64 = 2.0;
/// The benchmark's users and patients, next to the store.
const STATE_FILE: &str = "bench-load.json";
/// The server's output, next to the store.
/// The server's configuration for the run (written by the benchmark).
const SERVER_CONFIG: &str = "bench-load-server.toml";
const SERVER_LOG: &str = "bench-load-server.log";
/// Errors shown in full (the rest are counted).
const SHOWN_ERRORS: usize = 10;
/// Clinicians signing in at once before the timed phases.
const SIGN_IN_CONCURRENCY: usize = 8;

pub struct Args {
    pub work: PathBuf,
    pub database_url: Option<String>,
    /// How to build the store when `--work` has none (as `bench viewer`).
    pub build: bench_viewer::Args,
    pub sessions: usize,
    pub seconds: f64,
    pub warmup_seconds: f64,
    pub login_share: f64,
    pub login_users: usize,
    pub think_ms: u64,
}

/// One of the benchmark's users: a doctor at one facility.
#[derive(Serialize, Deserialize, Clone)]
struct BenchUser {
    login: String,
    facility: String,
    /// Base32, as an authenticator app gets it. Scratch data: the file is 0600.
    totp: String,
    /// The last TOTP step this user signed in with (a code works once).
    last_step: Option<u64>,
}

/// What the benchmark added to the store, kept next to it.
#[derive(Serialize, Deserialize, Default)]
struct LoadState {
    /// Start of every login of this file's users: users of a lost file stay in the store
    /// unused, and new ones never collide with them.
    prefix: String,
    clinicians: Vec<BenchUser>,
    login_users: Vec<BenchUser>,
    /// Consented regional IDs of the synthetic region's people.
    patients: Vec<String>,
}

impl LoadState {
    fn read(path: &Path) -> Result<Option<LoadState>> {
        match std::fs::read_to_string(path) {
            Ok(json) => Ok(Some(
                serde_json::from_str(&json)
                    .with_context(|| format!("reading {}", path.display()))?,
            )),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// Written whole to a new file and renamed over the old one, readable by its owner only
    /// (it holds TOTP secrets, of benchmark users on scratch data).
    fn write(&self, path: &Path) -> Result<()> {
        let tmp = path.with_extension("json.new");
        {
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create(true).truncate(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut f = options
                .open(&tmp)
                .with_context(|| format!("writing {}", tmp.display()))?;
            std::io::Write::write_all(&mut f, serde_json::to_string_pretty(self)?.as_bytes())?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
    }
}

// ---------------------------------------------------------------------------------------
// TOTP steps

fn step_of(t: UnixTime) -> u64 {
    t.0.div_euclid(auth::TOTP_PERIOD_SECS).max(0) as u64
}

/// The step `user` can sign in with now without the server refusing it, if any. The server
/// accepts the current step and one either side, but never one at or before the last used:
/// the oldest acceptable step is taken first, so a fresh account signs in three times in one
/// step. The previous step is not used in the last seconds of a step, lest the server's
/// clock turn over while the request travels.
fn usable_step(last: Option<u64>, now: UnixTime) -> Option<u64> {
    let current = step_of(now);
    let into = now.0.rem_euclid(auth::TOTP_PERIOD_SECS);
    let oldest = if into < auth::TOTP_PERIOD_SECS - 3 {
        current.saturating_sub(1)
    } else {
        current
    };
    let step = match last {
        Some(l) => oldest.max(l + 1),
        None => oldest,
    };
    (step <= current + 1).then_some(step)
}

fn code_for(secret: &auth::TotpSecret, step: u64) -> String {
    secret.code_at(UnixTime(step as i64 * auth::TOTP_PERIOD_SECS))
}

/// The extra doctors who sign in under load: each is taken out while signing in, so two
/// requests never race with one account's codes, and put back at the end of the line.
struct LoginPool {
    idle: Mutex<VecDeque<(BenchUser, auth::TotpSecret)>>,
}

impl LoginPool {
    fn new(mut users: Vec<BenchUser>) -> Result<LoginPool> {
        // The longest unused first.
        users.sort_by_key(|u| u.last_step);
        let mut idle = VecDeque::new();
        for u in users {
            let secret = secret_of(&u)?;
            idle.push_back((u, secret));
        }
        Ok(LoginPool {
            idle: Mutex::new(idle),
        })
    }

    /// A user and the code to sign in with now, or None when no one has a usable step.
    fn take(&self) -> Option<(BenchUser, auth::TotpSecret, String)> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let step = usable_step(idle.front()?.0.last_step, UnixTime::now())?;
        let (mut user, secret) = idle.pop_front()?;
        user.last_step = Some(step);
        let code = code_for(&secret, step);
        Some((user, secret, code))
    }

    fn give_back(&self, user: BenchUser, secret: auth::TotpSecret) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        idle.push_back((user, secret));
    }

    fn users(&self) -> Vec<BenchUser> {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        idle.iter().map(|(u, _)| u.clone()).collect()
    }
}

fn secret_of(u: &BenchUser) -> Result<auth::TotpSecret> {
    auth::TotpSecret::from_base32(&u.totp)
        .map_err(|e| anyhow::anyhow!("{STATE_FILE}: TOTP secret of {}: {e}", u.login))
}

// ---------------------------------------------------------------------------------------
// Set-up through the service (before the server starts: the embedded store has one owner)

/// Consented people of the synthetic region: each person's first local ID, its regional ID,
/// kept when a consent for all facilities is in force. The large target patient of `bench
/// viewer` is not among them (it is no person of the region).
async fn consented_patients(store: &dyn Store, work: &Path) -> Result<Vec<String>> {
    let manifest = synth::Manifest::read(&work.join("region").join("manifest.json"))?;
    let now = UnixTime::now();
    let mut out: Vec<String> = Vec::new();
    for person in &manifest.persons {
        let Some(link) = person.links.first() else {
            continue;
        };
        let local = LocalPatient {
            facility: FacilityCode::parse(&link.facility)?,
            local_id: link.local_id.clone(),
        };
        let Some(id) = store.regional_id_of(&local).await? else {
            continue;
        };
        let consented = store
            .consents_of(&id)
            .await?
            .iter()
            .any(|c| c.in_force(now) && matches!(c.scope, model::ConsentScope::AllFacilities));
        if consented && !out.contains(&id.to_string()) {
            out.push(id.to_string());
        }
    }
    if out.is_empty() {
        bail!("no consented patient in the benchmark store (the network set-up consents most)");
    }
    Ok(out)
}

/// Add `count` doctors named `{prefix}-{kind}-NNNN` from `from`, at the hospitals and
/// clinics in turn. Real password hashing (what a sign-in costs is part of the measure);
/// a few at once, since hashing is most of the work.
async fn add_doctors(
    net: &Network,
    admin: &service::Principal,
    prefix: &str,
    kind: &str,
    from: usize,
    count: usize,
    facilities: &[FacilityCode],
) -> Result<Vec<BenchUser>> {
    let mut out = Vec::with_capacity(count);
    let numbers: Vec<usize> = (from..from + count).collect();
    for chunk in numbers.chunks(4) {
        let mut tasks = Vec::new();
        for &n in chunk {
            let net = net.clone();
            let admin = admin.clone();
            let login = format!("{prefix}-{kind}-{:04}", n + 1);
            let facility = facilities[n % facilities.len()].clone();
            tasks.push(tokio::spawn(async move {
                let secret = net
                    .add_user(
                        &admin,
                        service::NewUser {
                            login: login.clone(),
                            display_name: format!("負荷試験医師 {} (load test)", n + 1),
                            profession: Profession::Doctor,
                            facilities: vec![facility.clone()],
                            password: crate::DEMO_PASSWORD.into(),
                        },
                    )
                    .await?;
                anyhow::Ok(BenchUser {
                    login,
                    facility: facility.to_string(),
                    totp: secret.to_base32(),
                    last_step: None,
                })
            }));
        }
        for t in tasks {
            out.push(t.await.context("adding a user")??);
        }
    }
    Ok(out)
}

/// Make sure the store has the users and patients this run needs; returns the state.
async fn prepare(
    store: Arc<dyn Store>,
    work: &Path,
    state_path: &Path,
    sessions: usize,
    login_users: usize,
) -> Result<LoadState> {
    let mut state = LoadState::read(state_path)?.unwrap_or_else(|| LoadState {
        prefix: format!("load{}", UnixTime::now().0),
        ..Default::default()
    });
    if state.patients.is_empty() {
        eprintln!("finding the consented patients of the synthetic region");
        state.patients = consented_patients(store.as_ref(), work).await?;
        state.write(state_path)?;
    }
    let missing_clinicians = sessions.saturating_sub(state.clinicians.len());
    let missing_login = login_users.saturating_sub(state.login_users.len());
    if missing_clinicians + missing_login > 0 {
        eprintln!(
            "adding {missing_clinicians} clinicians and {missing_login} extra doctors for sign-ins (real password hashing)"
        );
        let t = Instant::now();
        // Production hashing for the new users; the demo administrator was made by `bench
        // viewer` with test hashing, which only makes its own sign-in cheap.
        let net = Network::new(store.clone())
            .with_secret_keys(auth::Keyring::new(service::test_secret_key(), []));
        let admin = bench_viewer::sign_in_demo(&net, "admin").await?;
        let facilities: Vec<FacilityCode> = net
            .facilities()
            .await?
            .into_iter()
            .filter(|f| f.views && matches!(f.kind, FacilityKind::Hospital | FacilityKind::Clinic))
            .map(|f| f.code)
            .collect();
        if facilities.is_empty() {
            bail!("the benchmark store has no hospital or clinic to employ the doctors");
        }
        let from = state.clinicians.len();
        let added = add_doctors(
            &net,
            &admin,
            &state.prefix,
            "dr",
            from,
            missing_clinicians,
            &facilities,
        )
        .await?;
        state.clinicians.extend(added);
        state.write(state_path)?;
        let from = state.login_users.len();
        let added = add_doctors(
            &net,
            &admin,
            &state.prefix,
            "in",
            from,
            missing_login,
            &facilities,
        )
        .await?;
        state.login_users.extend(added);
        state.write(state_path)?;
        eprintln!("  in {:.1} s", t.elapsed().as_secs_f64());
    }
    Ok(state)
}

// ---------------------------------------------------------------------------------------
// The server

/// `renkei serve` on the store, as a child process; killed when dropped.
struct Server {
    child: Child,
    base: String,
    log: PathBuf,
}

impl Server {
    async fn start(folder: &Path, database_url: Option<&str>) -> Result<Server> {
        // A free port: bound and released; nothing else on loopback is racing for it here.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .context("finding a free loopback port")?
            .port();
        let addr = format!("127.0.0.1:{port}");
        // The data folder is the server's only: others may not read it (the server may refuse
        // to start otherwise).
        // Stores built before that rule may have an open packs folder beside the database.
        #[cfg(unix)]
        for dir in [folder.to_path_buf(), folder.join("blobs")] {
            if dir.exists() {
                std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o700))
                    .with_context(|| format!("restricting {}", dir.display()))?;
            }
        }
        let log = folder.join(SERVER_LOG);
        let out =
            std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        // Every simulated clinician signs in from 127.0.0.1, as a hospital's staff behind one
        // NAT address or a reverse proxy would: the address limit is raised, as
        // docs/configuration.md tells operators to do there. Sign-ins still in flight count
        // against the address until settled, and with hundreds of clinicians signing in at
        // once the default (30) refuses the 31st concurrent one.
        let config = folder.join(SERVER_CONFIG);
        std::fs::write(&config, "[sign_in]\naddress_max_failures = 1000000\n")
            .with_context(|| format!("writing {}", config.display()))?;
        let mut cmd = Command::new(std::env::current_exe().context("this executable")?);
        cmd.arg("--data").arg(folder).arg("--config").arg(&config);
        // Only what is given here: a RENKEI_DATABASE_URL of the environment must not turn the
        // embedded-store run into a run on someone's database.
        for var in [
            "RENKEI_DATABASE_URL",
            "RENKEI_BLOBS",
            "RENKEI_CONFIG",
            "RENKEI_DATA",
            "RENKEI_LISTEN",
        ] {
            cmd.env_remove(var);
        }
        if let Some(url) = database_url {
            cmd.arg("--database-url").arg(url);
        }
        // The benchmark store's users were made with the fixed key of synthetic stores
        // (`with_test_hashing`): the server reads their TOTP secrets with the same key.
        cmd.env(
            crate::security_config::KEY_ENV,
            service::test_secret_key().to_text(),
        );
        cmd.args(["serve", "--listen", &addr])
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out);
        let child = cmd.spawn().context("starting renkei serve")?;
        let mut server = Server {
            child,
            base: format!("http://{addr}"),
            log,
        };
        server.wait_ready().await?;
        Ok(server)
    }

    async fn wait_ready(&mut self) -> Result<()> {
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(2))
            .build()?;
        let deadline = Instant::now() + Duration::from_secs(120);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "renkei serve stopped ({status}) before answering:\n{}",
                    self.log_tail()
                );
            }
            if let Ok(r) = client.get(format!("{}/healthz", self.base)).send().await {
                if r.status().is_success() {
                    return Ok(());
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!(
            "renkei serve did not answer on {} within 120 s:\n{}",
            self.base,
            self.log_tail()
        )
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------
// HTTP

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Summary,
    Timeline,
    Labs,
    Medications,
    Login,
}

const PAGES: [Kind; 4] = [Kind::Summary, Kind::Timeline, Kind::Labs, Kind::Medications];

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Summary => "summary (概要)",
            Kind::Timeline => "timeline (時系列)",
            Kind::Labs => "labs (検査)",
            Kind::Medications => "medications (処方・注射)",
            Kind::Login => "sign-in (POST /login)",
        }
    }

    fn path(self) -> &'static str {
        match self {
            Kind::Summary => "",
            Kind::Timeline => "/timeline",
            Kind::Labs => "/labs",
            Kind::Medications => "/medications",
            Kind::Login => "",
        }
    }

    /// The page's own tab, marked current.
    fn tab(self) -> &'static str {
        match self {
            Kind::Summary => "aria-current=\"page\">概要",
            Kind::Timeline => "aria-current=\"page\">時系列",
            Kind::Labs => "aria-current=\"page\">検査",
            Kind::Medications => "aria-current=\"page\">処方・注射",
            Kind::Login => "",
        }
    }

    /// What only a page with the patient's data shows (every synthetic patient has
    /// demographics and records; labs and medications may be empty for some).
    fn content(self) -> Option<&'static str> {
        match self {
            Kind::Summary => Some("id=\"patient-name\""),
            Kind::Timeline => Some("class=\"timeline-item"),
            _ => None,
        }
    }
}

/// Is this the page of patient `grouped` (`1234-5678-9012-3456`), with nothing refused?
fn check_page(kind: Kind, grouped: &str, status: u16, body: &str) -> Result<(), String> {
    if status != 200 {
        return Err(format!("HTTP {status}"));
    }
    if !body.contains(grouped) {
        return Err("the patient's regional ID is not on the page".into());
    }
    if !body.contains(kind.tab()) {
        return Err("not the page asked for (its tab is not the current one)".into());
    }
    if body.contains("class=\"refusals\"") {
        return Err("the page refuses part of the patient's data".into());
    }
    if let Some(marker) = kind.content() {
        if !body.contains(marker) {
            return Err(format!("no patient content on the page ({marker} missing)"));
        }
    }
    Ok(())
}

/// `application/x-www-form-urlencoded` value.
fn form_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

struct Http {
    client: reqwest::Client,
    base: String,
}

impl Http {
    fn new(base: &str) -> Result<Http> {
        let client = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .tcp_nodelay(true)
            .http1_only()
            .timeout(Duration::from_secs(60))
            .build()?;
        Ok(Http {
            client,
            base: base.to_owned(),
        })
    }

    /// Sign in with the form a browser posts; Ok(the cookies to send back).
    async fn sign_in(&self, login: &str, code: &str) -> Result<String, String> {
        let body = format!(
            "login={}&password={}&totp={}",
            form_value(login),
            form_value(crate::DEMO_PASSWORD),
            form_value(code)
        );
        let r = self
            .client
            .post(format!("{}/login", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            // Same-origin, as the browser sends it: the server's CSRF check compares it.
            .header("origin", &self.base)
            .body(body)
            .send()
            .await
            .map_err(|e| format!("sign-in: {e}"))?;
        let status = r.status().as_u16();
        let cookies: Vec<String> = r
            .headers()
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| v.split(';').next())
            .map(|kv| kv.trim().to_owned())
            .filter(|kv| kv.split_once('=').is_some_and(|(_, v)| !v.is_empty()))
            .collect();
        // Read the whole answer: its time is part of the sign-in.
        let _ = r.bytes().await;
        if !(300..400).contains(&status) || cookies.is_empty() {
            return Err(format!(
                "sign-in: HTTP {status}{}",
                if cookies.is_empty() {
                    ", no session cookie"
                } else {
                    ""
                }
            ));
        }
        Ok(cookies.join("; "))
    }

    async fn page(&self, cookie: &str, kind: Kind, patient: &Patient) -> Result<(), String> {
        let r = self
            .client
            .get(format!(
                "{}/patients/{}{}",
                self.base,
                patient.id,
                kind.path()
            ))
            .header("cookie", cookie)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = r.status().as_u16();
        let body = r.bytes().await.map_err(|e| e.to_string())?;
        let body = std::str::from_utf8(&body).map_err(|_| "the page is not UTF-8".to_owned())?;
        check_page(kind, &patient.grouped, status, body)
    }
}

struct Patient {
    id: String,
    grouped: String,
}

// ---------------------------------------------------------------------------------------
// Measuring

/// CPU time so far (seconds), from /proc (Linux; None elsewhere).
#[derive(Clone, Copy)]
struct CpuSnapshot {
    server: Option<f64>,
    generator: Option<f64>,
    /// Every `postgres` process of the machine (the database server the server talks to,
    /// with whatever else it serves), when the benchmark runs on PostgreSQL.
    database: Option<f64>,
    /// (busy, all) of the whole machine.
    machine: Option<(f64, f64)>,
}

/// The kernel reports process and machine CPU time in USER_HZ ticks, 100 per second on
/// every Linux architecture this runs on.
const TICKS_PER_SEC: f64 = 100.0;

fn process_cpu(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After the command name in parentheses: state is field 3, utime 14, stime 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / TICKS_PER_SEC)
}

/// CPU time of every process called `name`.
fn processes_cpu(name: &str) -> Option<f64> {
    let mut total = 0.0;
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let file_name = entry.file_name();
        let Some(pid) = file_name
            .to_str()
            .filter(|p| p.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let comm = stat
            .find('(')
            .zip(stat.rfind(')'))
            .map(|(a, b)| &stat[a + 1..b]);
        if comm == Some(name) {
            total += process_cpu(pid).unwrap_or(0.0);
        }
    }
    Some(total)
}

fn machine_cpu() -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let v: Vec<f64> = line
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is inside user).
    let all: f64 = v.iter().take(8).sum();
    let idle = v.get(3)? + v.get(4).unwrap_or(&0.0);
    Some(((all - idle) / TICKS_PER_SEC, all / TICKS_PER_SEC))
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "n/a".into())
}

impl CpuSnapshot {
    fn now(server_pid: u32, postgres: bool) -> CpuSnapshot {
        CpuSnapshot {
            server: process_cpu(&server_pid.to_string()),
            generator: process_cpu("self"),
            database: if postgres {
                processes_cpu("postgres")
            } else {
                None
            },
            machine: machine_cpu(),
        }
    }
}

/// One answered (or failed) request.
#[derive(Clone, Copy)]
struct Sample {
    kind: Kind,
    /// When it was sent: decides the phase it counts in.
    at: Instant,
    took: Duration,
    ok: bool,
}

#[derive(Default)]
struct WorkerResult {
    samples: Vec<Sample>,
    /// (when, what) of the first errors.
    errors: Vec<(Instant, String)>,
    /// When sign-ins were due that no extra doctor had an unused TOTP step for.
    logins_skipped: Vec<Instant>,
}

/// Tiny xorshift: which requests are sign-ins and the think times, reproducible per worker.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    /// Uniform in [0, 1).
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

struct Shared {
    http: Http,
    patients: Vec<Patient>,
    pool: LoginPool,
    think: Duration,
}

/// One uninterrupted run: every clinician works from `start` to `until`; what is sent before
/// `measure_from` is warm-up, sign-ins begin at `logins_from`. The clinicians keep going
/// across the boundaries, so no phase begins with all of them opening a page at once.
struct Schedule {
    measure_from: Instant,
    logins_from: Option<Instant>,
    login_share: f64,
    until: Instant,
}

impl Schedule {
    /// The measured phase a request sent at `at` counts in: 0 pages only, 1 pages +
    /// sign-ins; None during the warm-up.
    fn phase_of(&self, at: Instant) -> Option<usize> {
        if at < self.measure_from {
            None
        } else if self.logins_from.is_some_and(|l| at >= l) {
            Some(1)
        } else {
            Some(0)
        }
    }

    /// The phases' (name, from, to).
    fn phases(&self) -> Vec<(&'static str, Instant, Instant)> {
        match self.logins_from {
            Some(l) => vec![
                ("pages only", self.measure_from, l),
                ("pages + sign-ins", l, self.until),
            ],
            None => vec![("pages only", self.measure_from, self.until)],
        }
    }
}

/// One clinician: the four pages of one patient after another, from patient `worker` on in
/// steps of the number of sessions, so that clinicians look at different patients.
async fn clinician(
    shared: Arc<Shared>,
    worker: usize,
    sessions: usize,
    cookie: String,
    schedule: Arc<Schedule>,
) -> WorkerResult {
    let mut out = WorkerResult::default();
    let mut rng = Rng::new(worker as u64 + 1);
    let mut patient = worker % shared.patients.len();
    let record = |out: &mut WorkerResult, kind: Kind, at: Instant, r: Result<(), String>| {
        let took = at.elapsed();
        if let Err(e) = &r {
            if out.errors.len() < SHOWN_ERRORS {
                out.errors.push((at, format!("{}: {e}", kind.label())));
            }
        }
        out.samples.push(Sample {
            kind,
            at,
            took,
            ok: r.is_ok(),
        });
    };
    if !shared.think.is_zero() {
        // Clinicians arrive spread over one think time, not all at the same instant.
        tokio::time::sleep(shared.think.mul_f64(1.5 * rng.next())).await;
    }
    let mut page = 0;
    loop {
        let now = Instant::now();
        if now >= schedule.until {
            break;
        }
        // A sign-in takes this request's turn: an extra doctor arriving, not this clinician.
        if schedule.logins_from.is_some_and(|l| now >= l) && rng.next() < schedule.login_share {
            match shared.pool.take() {
                Some((user, secret, code)) => {
                    let r = shared.http.sign_in(&user.login, &code).await.map(|_| ());
                    shared.pool.give_back(user, secret);
                    record(&mut out, Kind::Login, now, r);
                    continue;
                }
                None => out.logins_skipped.push(now),
            }
        }
        let kind = PAGES[page];
        let at = Instant::now();
        let r = shared
            .http
            .page(&cookie, kind, &shared.patients[patient])
            .await;
        record(&mut out, kind, at, r);
        page += 1;
        if page == PAGES.len() {
            page = 0;
            patient = (patient + sessions) % shared.patients.len();
        }
        if !shared.think.is_zero() {
            // Between half and one and a half times the mean, so sessions drift apart.
            let f = 0.5 + rng.next();
            tokio::time::sleep(shared.think.mul_f64(f)).await;
        }
    }
    out
}

/// What one phase measured.
struct PhaseResult {
    name: &'static str,
    wall: Duration,
    samples: Vec<Sample>,
    errors: Vec<String>,
    error_count: usize,
    logins_skipped: usize,
    cpu_start: CpuSnapshot,
    cpu_end: CpuSnapshot,
    load_end: String,
}

impl PhaseResult {
    fn login_share_used(&self) -> bool {
        self.samples.iter().any(|s| s.kind == Kind::Login) || self.logins_skipped > 0
    }
}

/// Failures during the warm-up: not timed, but errors all the same.
#[derive(Default)]
struct WarmupErrors {
    count: usize,
    first: Vec<String>,
}

/// Run every clinician through the schedule; the measured phases, and the errors of the
/// warm-up.
async fn run_load(
    shared: &Arc<Shared>,
    cookies: &[String],
    schedule: Schedule,
    server_pid: u32,
    postgres: bool,
) -> Result<(Vec<PhaseResult>, WarmupErrors)> {
    let schedule = Arc::new(schedule);
    let mut tasks = Vec::with_capacity(cookies.len());
    for (i, cookie) in cookies.iter().enumerate() {
        tasks.push(tokio::spawn(clinician(
            shared.clone(),
            i,
            cookies.len(),
            cookie.clone(),
            schedule.clone(),
        )));
    }
    // CPU and load average at each boundary, taken by a task of their own on time.
    let bounds = schedule.phases();
    let mut instants: Vec<Instant> = bounds.iter().map(|b| b.1).collect();
    instants.extend(bounds.last().map(|b| b.2));
    let snapshots = tokio::spawn(async move {
        let mut out = Vec::new();
        for at in instants {
            tokio::time::sleep_until(at.into()).await;
            out.push((CpuSnapshot::now(server_pid, postgres), load_average()));
        }
        out
    });
    let mut workers = Vec::with_capacity(tasks.len());
    for t in tasks {
        workers.push(t.await.context("a clinician task failed")?);
    }
    let snapshots = snapshots.await.context("the CPU snapshot task failed")?;

    let mut phases: Vec<PhaseResult> = bounds
        .iter()
        .enumerate()
        .map(|(i, (name, from, to))| PhaseResult {
            name,
            wall: *to - *from,
            samples: Vec::new(),
            errors: Vec::new(),
            error_count: 0,
            logins_skipped: 0,
            cpu_start: snapshots[i].0,
            cpu_end: snapshots[i + 1].0,
            load_end: snapshots[i + 1].1.clone(),
        })
        .collect();
    let mut warmup = WarmupErrors::default();
    for w in workers {
        for s in w.samples {
            match schedule.phase_of(s.at) {
                Some(i) => {
                    if !s.ok {
                        phases[i].error_count += 1;
                    }
                    phases[i].samples.push(s);
                }
                None if !s.ok => warmup.count += 1,
                None => {}
            }
        }
        for at in w.logins_skipped {
            if let Some(i) = schedule.phase_of(at) {
                phases[i].logins_skipped += 1;
            }
        }
        for (at, e) in w.errors {
            match schedule.phase_of(at) {
                Some(i) if phases[i].errors.len() < SHOWN_ERRORS => phases[i].errors.push(e),
                None if warmup.first.len() < SHOWN_ERRORS => warmup.first.push(e),
                _ => {}
            }
        }
    }
    Ok((phases, warmup))
}

/// Sign every clinician in, a few at once; their cookies in order.
async fn sign_in_all(
    http: &Http,
    clinicians: &mut [BenchUser],
) -> Result<(Vec<String>, Vec<Duration>)> {
    let mut cookies = Vec::with_capacity(clinicians.len());
    let mut times = Vec::with_capacity(clinicians.len());
    for chunk in clinicians.chunks_mut(SIGN_IN_CONCURRENCY) {
        let mut codes = Vec::new();
        for u in chunk.iter_mut() {
            let step = loop {
                match usable_step(u.last_step, UnixTime::now()) {
                    Some(s) => break s,
                    None => {
                        eprintln!(
                            "waiting for an unused TOTP step of {} (a recent run used them)…",
                            u.login
                        );
                        tokio::time::sleep(Duration::from_secs(5)).await;
                    }
                }
            };
            u.last_step = Some(step);
            codes.push((u.login.clone(), code_for(&secret_of(u)?, step)));
        }
        let answers = futures::future::join_all(codes.iter().map(|(login, code)| async move {
            let t = Instant::now();
            let r = http.sign_in(login, code).await;
            (r, t.elapsed())
        }))
        .await;
        for ((login, _), (r, took)) in codes.iter().zip(answers) {
            match r {
                Ok(c) => cookies.push(c),
                Err(e) => bail!("signing in clinician {login}: {e}"),
            }
            times.push(took);
        }
    }
    Ok((cookies, times))
}

pub async fn run(args: Args) -> Result<()> {
    if !(0.0..1.0).contains(&args.login_share) {
        bail!("--login-share is a fraction of the requests, from 0 up to (not including) 1");
    }
    if args.sessions == 0 || args.seconds <= 0.0 {
        bail!("--sessions and --seconds must be above 0");
    }
    let postgres = args.database_url.is_some();
    let reuse = bench_viewer::info_path(&args.work, postgres).exists();
    if !reuse {
        eprintln!(
            "no benchmark store in {} yet: building it as `bench viewer` does",
            args.work.display()
        );
    }
    let build = bench_viewer::Args {
        work: args.work.clone(),
        database_url: args.database_url.clone(),
        reuse,
        ..args.build
    };
    let BenchStore {
        store,
        info,
        folder,
        label,
    } = bench_viewer::open_or_build(&build).await?;
    let state_path = folder.join(STATE_FILE);
    let login_users = if args.login_share > 0.0 {
        args.login_users
    } else {
        0
    };
    let mut state = prepare(
        store.clone(),
        &args.work,
        &state_path,
        args.sessions,
        login_users,
    )
    .await?;
    // The embedded store has one owner at a time: the server's now.
    drop(store);

    let patients: Vec<Patient> = state
        .patients
        .iter()
        .filter(|id| **id != info.regional_id)
        .map(|id| {
            let rid = RegionalId::parse(id)
                .map_err(|e| anyhow::anyhow!("{STATE_FILE}: regional ID {id}: {e}"))?;
            Ok(Patient {
                id: id.clone(),
                grouped: rid.grouped(),
            })
        })
        .collect::<Result<_>>()?;

    eprintln!("starting renkei serve on {}", folder.display());
    let server = Server::start(&folder, args.database_url.as_deref()).await?;
    let load_start = load_average();
    let http = Http::new(&server.base)?;

    eprintln!("signing in {} clinicians over HTTP", args.sessions);
    let t = Instant::now();
    let mut clinicians: Vec<BenchUser> = state.clinicians[..args.sessions].to_vec();
    let signed = sign_in_all(&http, &mut clinicians).await;
    state.clinicians[..args.sessions].clone_from_slice(&clinicians);
    state.write(&state_path)?;
    let (cookies, mut sign_in_times) = signed?;
    let sign_in_wall = t.elapsed();
    sign_in_times.sort_unstable();

    let pool_users: Vec<BenchUser> = state.login_users[..login_users].to_vec();
    let shared = Arc::new(Shared {
        http,
        patients,
        pool: LoginPool::new(pool_users)?,
        think: Duration::from_millis(args.think_ms),
    });
    let start = Instant::now();
    let measure_from = start + Duration::from_secs_f64(args.warmup_seconds.max(0.0));
    let phase = Duration::from_secs_f64(args.seconds);
    let logins_from = (login_users > 0).then(|| measure_from + phase);
    let until = logins_from.unwrap_or(measure_from) + phase;
    if login_users > 0 {
        // The steps the sign-ins may use are written down before they start, so that a run
        // cut short never leaves the next one sending a used code.
        let end = UnixTime::now().plus_seconds((until - start).as_secs() as i64 + 1);
        let reserve = step_of(end) + 1;
        let mut reserved = state.login_users.clone();
        for u in &mut reserved[..login_users] {
            u.last_step = Some(reserve);
        }
        let saved = std::mem::replace(&mut state.login_users, reserved);
        state.write(&state_path)?;
        state.login_users = saved;
    }
    eprintln!(
        "{} s warm-up (not counted), {} s pages only{}",
        args.warmup_seconds,
        args.seconds,
        if login_users > 0 {
            format!(
                ", then {} s with {:.0} % sign-ins",
                args.seconds,
                args.login_share * 100.0
            )
        } else {
            String::new()
        }
    );
    let schedule = Schedule {
        measure_from,
        logins_from,
        login_share: args.login_share,
        until,
    };
    let ran = run_load(&shared, &cookies, schedule, server.pid(), postgres).await;
    if login_users > 0 {
        let used = shared.pool.users();
        for u in &mut state.login_users[..login_users] {
            if let Some(v) = used.iter().find(|x| x.login == u.login) {
                u.last_step = v.last_step;
            }
        }
        state.write(&state_path)?;
    }
    let (phases, warmup_errors) = ran?;
    let server_log = server.log.clone();
    drop(server);

    print_report(&Report {
        info: &info,
        label,
        args: &args,
        patients: shared.patients.len(),
        facilities: {
            let mut f: Vec<&str> = state.clinicians[..args.sessions]
                .iter()
                .map(|u| u.facility.as_str())
                .collect();
            f.sort_unstable();
            f.dedup();
            f.len()
        },
        load_start,
        sign_in_wall,
        sign_in_times: &sign_in_times,
        phases: &phases,
        warmup_errors: &warmup_errors,
        server_log: &server_log,
    });
    if warmup_errors.count > 0 || phases.iter().any(|p| p.error_count > 0) {
        bail!(
            "some requests failed (see above; the server's output is in {})",
            server_log.display()
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The report

struct Report<'a> {
    info: &'a bench_viewer::StoreInfo,
    label: &'static str,
    args: &'a Args,
    patients: usize,
    facilities: usize,
    load_start: String,
    sign_in_wall: Duration,
    sign_in_times: &'a [Duration],
    phases: &'a [PhaseResult],
    warmup_errors: &'a WarmupErrors,
    server_log: &'a Path,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Latencies of the samples chosen, sorted.
fn latencies(samples: &[Sample], pick: impl Fn(Kind) -> bool) -> (Vec<Duration>, usize) {
    let chosen: Vec<&Sample> = samples.iter().filter(|s| pick(s.kind)).collect();
    let errors = chosen.iter().filter(|s| !s.ok).count();
    let mut t: Vec<Duration> = chosen.iter().map(|s| s.took).collect();
    t.sort_unstable();
    (t, errors)
}

fn row(phase: &str, what: &str, times: &[Duration], errors: usize, wall: Duration) -> String {
    format!(
        "| {phase} | {what} | {} | {:.1} | {errors} | {:.1} | {:.1} | {:.1} | {:.1} |",
        times.len(),
        times.len() as f64 / wall.as_secs_f64().max(1e-9),
        ms(percentile(times, 0.5)),
        ms(percentile(times, 0.9)),
        ms(percentile(times, 0.99)),
        ms(times.last().copied().unwrap_or_default())
    )
}

fn print_report(r: &Report) {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    println!(
        "## renkei bench load — {} sessions, {} records ({} copies of a {}-record region), {} local patients — {}",
        r.args.sessions,
        r.info.records,
        r.info.copies,
        r.info.base_records,
        r.info.local_patients,
        r.label
    );
    println!();
    println!(
        "`renkei serve` in its own process on loopback; {} clinicians (doctors at {} facilities) signed in with password + TOTP, each opening summary, timeline, labs and medications of one consented patient after another ({} patients), think time {} ms; {} s per phase after {} s of warm-up",
        r.args.sessions,
        r.facilities,
        r.patients,
        r.args.think_ms,
        r.args.seconds,
        r.args.warmup_seconds
    );
    println!();
    println!(
        "machine: {cores} cores, load average {} at the start",
        r.load_start
    );
    println!();
    println!(
        "signing in the {} clinicians ({SIGN_IN_CONCURRENCY} at once): {:.1} s, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        r.args.sessions,
        r.sign_in_wall.as_secs_f64(),
        ms(percentile(r.sign_in_times, 0.5)),
        ms(percentile(r.sign_in_times, 0.99)),
        ms(r.sign_in_times.last().copied().unwrap_or_default())
    );
    println!();
    println!(
        "| phase | requests of | count | per s | errors | p50 ms | p90 ms | p99 ms | max ms |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let is_page = |k: Kind| k != Kind::Login;
    let mut page_p = Vec::new();
    for p in r.phases {
        for kind in PAGES {
            let (t, e) = latencies(&p.samples, |k| k == kind);
            println!("{}", row(p.name, kind.label(), &t, e, p.wall));
        }
        let (t, e) = latencies(&p.samples, is_page);
        println!("{}", row(p.name, "**all pages**", &t, e, p.wall));
        page_p.push((percentile(&t, 0.5), percentile(&t, 0.99)));
        if p.login_share_used() {
            let (t, e) = latencies(&p.samples, |k| k == Kind::Login);
            println!("{}", row(p.name, Kind::Login.label(), &t, e, p.wall));
            let (t, e) = latencies(&p.samples, |_| true);
            println!("{}", row(p.name, "all requests", &t, e, p.wall));
        }
    }
    println!();
    println!("| phase | seconds | server CPU s | load generator CPU s | PostgreSQL CPU s | rest of the machine CPU s | machine busy | load average at the end |");
    println!("|---|---|---|---|---|---|---|---|");
    for p in r.phases {
        let wall = p.wall.as_secs_f64().max(1e-9);
        let d = |a: Option<f64>, b: Option<f64>| Some(b? - a?);
        let server = d(p.cpu_start.server, p.cpu_end.server);
        let generator = d(p.cpu_start.generator, p.cpu_end.generator);
        let database = d(p.cpu_start.database, p.cpu_end.database);
        let machine = match (p.cpu_start.machine, p.cpu_end.machine) {
            (Some(a), Some(b)) => Some((b.0 - a.0, b.1 - a.1)),
            _ => None,
        };
        let show = |v: Option<f64>| match v {
            Some(v) => format!(
                "{v:.1} ({:.0} % of the cores)",
                v * 100.0 / wall / cores as f64
            ),
            None => "n/a".into(),
        };
        let rest = match (machine, server, generator) {
            (Some((busy, _)), Some(s), Some(g)) => {
                Some((busy - s - g - database.unwrap_or(0.0)).max(0.0))
            }
            _ => None,
        };
        println!(
            "| {} | {wall:.1} | {} | {} | {} | {} | {} | {} |",
            p.name,
            show(server),
            show(generator),
            if database.is_some() {
                show(database)
            } else {
                "—".into()
            },
            show(rest),
            match machine {
                Some((busy, all)) if all > 0.0 => format!("{:.0} %", busy * 100.0 / all),
                _ => "n/a".into(),
            },
            p.load_end
        );
    }
    println!();
    let errors: usize =
        r.phases.iter().map(|p| p.error_count).sum::<usize>() + r.warmup_errors.count;
    let worst_p99 = page_p.iter().map(|p| p.1).max().unwrap_or_default();
    println!(
        "goal (issue 13): 0 errors — {}; page p99 < {} ms at {} sessions — {} ({:.1} ms, worst phase)",
        if errors == 0 {
            "pass".to_owned()
        } else {
            format!("FAIL ({errors})")
        },
        GOAL_P99.as_millis(),
        r.args.sessions,
        if worst_p99 < GOAL_P99 { "pass" } else { "FAIL" },
        ms(worst_p99)
    );
    if let [(p50a, p99a), (p50b, p99b), ..] = page_p[..] {
        let ratio = |with: Duration, without: Duration| {
            with.as_secs_f64() / without.as_secs_f64().max(1e-9)
        };
        let (r50, r99) = (ratio(p50b, p50a), ratio(p99b, p99a));
        println!(
            "pages with sign-ins ÷ without: p50 {r50:.2}×, p99 {r99:.2}× — at most {GOAL_LOGIN_SLOWDOWN}× {}",
            if r50 <= GOAL_LOGIN_SLOWDOWN && r99 <= GOAL_LOGIN_SLOWDOWN {
                "pass"
            } else {
                "FAIL"
            }
        );
    }
    if r.warmup_errors.count > 0 {
        println!(
            "warm-up: {} errors, the first ones (the server's output is in {}):",
            r.warmup_errors.count,
            r.server_log.display()
        );
        for e in &r.warmup_errors.first {
            println!("  - {e}");
        }
    }
    for p in r.phases {
        if p.logins_skipped > 0 {
            println!(
                "{}: {} sign-ins skipped (every extra doctor had used the TOTP steps the server accepts now; raise --login-users)",
                p.name, p.logins_skipped
            );
        }
        if !p.errors.is_empty() {
            println!(
                "{}: {} errors, the first ones (the server's output is in {}):",
                p.name,
                p.error_count,
                r.server_log.display()
            );
            for e in &p.errors {
                println!("  - {e}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_account_signs_in_three_times_in_one_step_then_waits() {
        let t = UnixTime(30 * 1_000 + 5); // 5 s into step 1000
        assert_eq!(usable_step(None, t), Some(999));
        assert_eq!(usable_step(Some(999), t), Some(1000));
        assert_eq!(usable_step(Some(1000), t), Some(1001));
        assert_eq!(usable_step(Some(1001), t), None);
        // An old last step: the oldest accepted one.
        assert_eq!(usable_step(Some(10), t), Some(999));
    }

    #[test]
    fn the_previous_step_is_not_used_at_the_end_of_a_step() {
        let t = UnixTime(30 * 1_000 + 28);
        assert_eq!(usable_step(None, t), Some(1000));
        assert_eq!(usable_step(Some(1000), t), Some(1001));
        assert_eq!(usable_step(Some(1001), t), None);
    }

    #[test]
    fn the_pool_hands_out_each_code_once_and_the_longest_unused_first() {
        let secret = auth::TotpSecret::generate().expect("secret").to_base32();
        let user = |login: &str, last| BenchUser {
            login: login.into(),
            facility: "1310000001".into(),
            totp: secret.clone(),
            last_step: last,
        };
        let now = step_of(UnixTime::now());
        let pool = LoginPool::new(vec![user("b", Some(now + 1)), user("a", None)]).expect("pool");
        let (a, sa, code) = pool.take().expect("a is usable");
        assert_eq!(a.login, "a");
        assert_eq!(code, code_for(&sa, a.last_step.expect("step")));
        // b used the newest step the server accepts: nobody is left until a comes back.
        assert!(pool.take().is_none());
        let step = a.last_step;
        pool.give_back(a, sa);
        assert!(pool.take().is_none(), "b is at the front and not usable");
        let users = pool.users();
        assert_eq!(users.len(), 2);
        assert_eq!(
            users.iter().find(|u| u.login == "a").map(|u| u.last_step),
            Some(step)
        );
    }

    #[test]
    fn a_page_counts_only_with_the_patient_its_tab_and_nothing_refused() {
        let id = "1234-5678-9012-3456";
        let good = format!(
            "<span class=\"rid\">{id}</span><a aria-current=\"page\">概要 …</a><p class=\"patient-name\" id=\"patient-name\">"
        );
        assert_eq!(check_page(Kind::Summary, id, 200, &good), Ok(()));
        assert!(check_page(Kind::Summary, id, 500, &good).is_err());
        assert!(check_page(Kind::Summary, "9999-5678-9012-3456", 200, &good).is_err());
        assert!(
            check_page(Kind::Timeline, id, 200, &good).is_err(),
            "wrong tab"
        );
        let refused = format!("{good}<section class=\"refusals\">");
        assert!(check_page(Kind::Summary, id, 200, &refused).is_err());
        let empty = format!("<span class=\"rid\">{id}</span><a aria-current=\"page\">概要 …</a>");
        assert!(
            check_page(Kind::Summary, id, 200, &empty).is_err(),
            "no name"
        );
        let labs = format!("<span class=\"rid\">{id}</span><a aria-current=\"page\">検査 …</a>");
        assert_eq!(check_page(Kind::Labs, id, 200, &labs), Ok(()));
    }

    #[test]
    fn form_values_are_encoded() {
        assert_eq!(form_value("renkei-Demo-2026"), "renkei-Demo-2026");
        assert_eq!(form_value("a b&c=d/é"), "a+b%26c%3Dd%2F%C3%A9");
    }
}
