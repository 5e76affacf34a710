//! `renkei bench offsite`: off-site copies on loopback (issue 5's benchmark), with every part
//! real: `renkei serve` processes started from this executable, the facility agent
//! (`renkei agent run --once`), a `serve --replica` and an S3 bucket served by `rclone serve
//! s3`.
//!
//! 1. **Agent upload**: a synthetic facility (`--agent-patients`) uploaded by the agent to a
//!    primary without sites — files/s and MB/s of the whole run.
//! 2. **Replication lag under load**: the same facility uploaded to a second primary whose
//!    `renkei.toml` names a replica and an S3 site (`interval_seconds = 1`), while `renkei
//!    sites --json` is sampled every 0.5 s: max and p50 lag and max backlog per site, then
//!    the time from the end of the upload until both sites have everything (catch-up).
//! 3. **Restore**: a facility of `--patients` patients imported with `renkei import`, then
//!    `renkei restore` of it locally and, after `renkei ship` to an S3 site, from the bucket.
//!
//! Scratch data lives in `--work`; `--reuse` keeps the generated regions and the imported
//! store of part 3. Nothing about patients is printed: counts and times only.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use model::{Facility, FacilityCode, FacilityKind, FacilityStatus, UnixTime};
use replication::rclone::RcloneS3;
use replication::SiteConfig;
use serde::{Deserialize, Serialize};
use service::Network;
use store::Store;
use store_sqlite::SqliteStore;

use crate::bench::percentile;

/// The password of the benchmark's administrator (scratch stores only).
const ADMIN_PASSWORD: &str = "renkei-Bench-2026";
/// The replica's token (scratch only).
const REPLICA_TOKEN: &str = "bench-offsite-replication-token";
/// How often `renkei sites --json` is sampled.
const SAMPLE_EVERY: Duration = Duration::from_millis(500);
/// Longest wait for the sites to catch up after the upload.
const CATCH_UP_LIMIT: Duration = Duration::from_secs(30 * 60);

pub struct Args {
    pub work: PathBuf,
    pub patients: usize,
    pub agent_patients: usize,
    pub seed: u64,
    pub reuse: bool,
    pub skip_restore: bool,
    pub skip_s3_restore: bool,
}

/// A generated one-facility region and its size, kept beside it for `--reuse`.
#[derive(Serialize, Deserialize)]
struct Region {
    code: String,
    patients: usize,
    seed: u64,
    files: u64,
    bytes: u64,
    synth_secs: f64,
}

impl Region {
    fn root(&self, dir: &Path) -> PathBuf {
        dir.join(&self.code)
    }
    fn code(&self) -> Result<FacilityCode> {
        FacilityCode::parse(&self.code)
            .map_err(|e| anyhow::anyhow!("facility code {:?}: {e}", self.code))
    }
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

/// `21345` → `21,345`.
fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// One throughput line: `what: 21,345 files, 43.2 MB in 12.3 s = 1,735 files/s, 3.5 MB/s`.
fn rate_line(what: &str, files: u64, bytes: u64, secs: f64) -> String {
    let secs = secs.max(1e-9);
    format!(
        "{what}: {} files, {:.1} MB in {secs:.1} s = {} files/s, {:.1} MB/s",
        thousands(files),
        mb(bytes),
        thousands((files as f64 / secs).round() as u64),
        mb(bytes) / secs
    )
}

/// Generate a one-facility region of `patients` in `dir` (or reuse the one there).
fn region(dir: &Path, patients: usize, seed: u64, reuse: bool) -> Result<Region> {
    let info_path = dir.join("bench-offsite-region.json");
    if reuse {
        if let Ok(text) = std::fs::read_to_string(&info_path) {
            let r: Region = serde_json::from_str(&text).context("reading the region's info")?;
            if r.patients == patients && r.seed == seed && r.root(dir).is_dir() {
                eprintln!(
                    "reusing the region in {} ({} files)",
                    dir.display(),
                    thousands(r.files)
                );
                return Ok(r);
            }
        }
    }
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    eprintln!(
        "generating a one-facility region of {patients} patients (seed {seed}) in {}",
        dir.display()
    );
    let t = Instant::now();
    let opts = synth::Options {
        patients,
        seed,
        facilities: Some(1),
        ..Default::default()
    };
    let s = synth::generate(&opts, dir, &|_| {})
        .with_context(|| format!("generating a region in {}", dir.display()))?;
    let synth_secs = t.elapsed().as_secs_f64();
    let manifest = synth::Manifest::read(&dir.join("manifest.json"))?;
    let code = manifest
        .facilities
        .first()
        .context("the generated region has no facility")?
        .code
        .clone();
    let r = Region {
        code,
        patients,
        seed,
        files: s.files,
        bytes: s.bytes,
        synth_secs,
    };
    eprintln!(
        "  {} files, {:.1} MB in {synth_secs:.1} s",
        thousands(r.files),
        mb(r.bytes)
    );
    std::fs::write(&info_path, serde_json::to_string_pretty(&r)?)
        .with_context(|| format!("writing {}", info_path.display()))?;
    Ok(r)
}

/// A fresh primary data folder with an administrator, the facility registered and an API key
/// for it, written to `key_file` (the store is closed again before the server starts).
async fn primary(data: &Path, code: &FacilityCode, key_file: &Path) -> Result<()> {
    if data.exists() {
        std::fs::remove_dir_all(data).with_context(|| format!("removing {}", data.display()))?;
    }
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(data)?);
    let mut net = Network::new(store).with_test_hashing();
    // The folder is served by `renkei serve` afterwards: its own key file, not the test key.
    if let Some((keys, _)) = crate::security_config::load(&Default::default(), data, true)? {
        net = net.with_secret_keys(keys);
    }
    net.bootstrap_admin("admin", "管理者 (bench)", ADMIN_PASSWORD)
        .await?;
    let code_now = net.current_totp_for_tests("admin", UnixTime::now()).await?;
    let admin = net
        .authenticate("admin", ADMIN_PASSWORD, Some(&code_now), None, None)
        .await?;
    net.put_facility(
        &admin,
        Facility {
            code: code.clone(),
            name: "ベンチマーク病院".into(),
            kind: FacilityKind::Hospital,
            area: "仙台".into(),
            status: FacilityStatus::Participating,
            discloses: true,
            views: true,
        },
    )
    .await?;
    let key = net.create_api_key(&admin, code).await?;
    std::fs::write(key_file, key.secret_text.as_bytes())
        .with_context(|| format!("writing {}", key_file.display()))?;
    Ok(())
}

/// A `renkei serve` started from this executable; killed when dropped.
struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start(exe: &Path, data: &Path, extra: &[&str], log: &Path) -> Result<Server> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let log_file =
            std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let child = Command::new(exe)
            .arg("--data")
            .arg(data)
            .arg("serve")
            .args(extra)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .spawn()
            .context("starting renkei serve")?;
        let mut server = Server { child, port };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !server.healthy() {
            if let Some(status) = server.child.try_wait()? {
                bail!(
                    "renkei serve on {} exited ({status}); see {}",
                    data.display(),
                    log.display()
                );
            }
            if Instant::now() > deadline {
                bail!("renkei serve on {} did not answer in 60 s", data.display());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(server)
    }

    fn healthy(&self) -> bool {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let req = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        if s.write_all(req.as_bytes()).is_err() {
            return false;
        }
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        out.starts_with(b"HTTP/1.1 200")
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// `renkei agent run --once --quiet` as a child process.
fn spawn_agent(exe: &Path, url: &str, root: &Path, state: &Path, key_file: &Path) -> Result<Child> {
    if state.exists() {
        std::fs::remove_dir_all(state)?;
    }
    Command::new(exe)
        .args(["agent", "run", "--once", "--quiet", "--server", url])
        .arg("--root")
        .arg(root)
        .arg("--state")
        .arg(state)
        .arg("--key-file")
        .arg(key_file)
        .env_remove("RENKEI_AGENT_KEY")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting renkei agent run")
}

/// Wait for the agent; its summary line, or an error with its output.
fn finish_agent(child: Child) -> Result<String> {
    let out = child.wait_with_output()?;
    let stdout = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if !out.status.success() {
        bail!(
            "renkei agent run failed ({}): {stdout} {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(stdout)
}

/// The number after `word` in the agent's summary line.
fn number_after(text: &str, word: &str) -> Option<u64> {
    let words: Vec<&str> = text.split_whitespace().collect();
    words
        .windows(2)
        .find(|w| w[0] == word)
        .and_then(|w| w[1].parse().ok())
}

/// Run `renkei <args>` to completion; its stdout.
fn renkei(exe: &Path, args: &[&std::ffi::OsStr]) -> Result<String> {
    let out = Command::new(exe)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .context("running renkei")?;
    if !out.status.success() {
        bail!(
            "renkei {:?} failed ({}): {}",
            args,
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A TOML basic string (JSON's escaping is valid TOML for these values).
fn toml_str(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

fn site_toml(c: &SiteConfig) -> String {
    let mut t = format!("[[site]]\nname = {}\n", toml_str(&c.name));
    let kind = match c.kind {
        Some(replication::SiteKind::Renkei) => Some("renkei"),
        Some(replication::SiteKind::S3) => Some("s3"),
        None => None,
    };
    if let Some(k) = kind {
        t.push_str(&format!("kind = {}\n", toml_str(k)));
    }
    for (field, value) in [
        ("url", &c.url),
        ("token", &c.token),
        ("bucket", &c.bucket),
        ("region", &c.region),
        ("access_key_id", &c.access_key_id),
        ("secret_access_key", &c.secret_access_key),
    ] {
        if let Some(v) = value {
            t.push_str(&format!("{field} = {}\n", toml_str(v)));
        }
    }
    t
}

fn write_config(data: &Path, interval: Option<u64>, sites: &[SiteConfig]) -> Result<()> {
    let mut t = String::from("[replication]\n");
    if let Some(i) = interval {
        t.push_str(&format!("interval_seconds = {i}\n"));
    }
    for s in sites {
        t.push('\n');
        t.push_str(&site_toml(s));
    }
    let path = data.join("renkei.toml");
    std::fs::write(&path, t).with_context(|| format!("writing {}", path.display()))
}

#[derive(Deserialize)]
struct SiteSample {
    name: String,
    backlog: BacklogSample,
    lag_seconds: u64,
}

#[derive(Deserialize)]
struct BacklogSample {
    versions: u64,
    registry: u64,
    audit: u64,
}

impl BacklogSample {
    fn total(&self) -> u64 {
        self.versions + self.registry + self.audit
    }
}

fn sample_sites(exe: &Path, data: &Path) -> Result<Vec<SiteSample>> {
    let out = renkei(
        exe,
        &[
            "--data".as_ref(),
            data.as_os_str(),
            "sites".as_ref(),
            "--json".as_ref(),
        ],
    )?;
    serde_json::from_str(&out).context("reading `renkei sites --json`")
}

#[derive(Default)]
struct SiteStats {
    lags: Vec<Duration>,
    max_versions: u64,
    max_total: u64,
    errors: u64,
}

pub async fn run(args: Args) -> Result<()> {
    let exe = std::env::current_exe().context("finding this executable")?;
    std::fs::create_dir_all(&args.work)
        .with_context(|| format!("creating {}", args.work.display()))?;
    let work = args
        .work
        .canonicalize()
        .with_context(|| format!("resolving {}", args.work.display()))?;
    let mut results: Vec<String> = Vec::new();

    // ---- 1. Agent upload throughput --------------------------------------------------------
    let agent_region_dir = work.join("agent-region");
    let agent_region = region(
        &agent_region_dir,
        args.agent_patients,
        args.seed,
        args.reuse,
    )?;
    let code = agent_region.code()?;
    let root = agent_region.root(&agent_region_dir);
    {
        let data = work.join("primary-plain");
        let key = work.join("plain.key");
        primary(&data, &code, &key).await?;
        let server = Server::start(&exe, &data, &[], &work.join("primary-plain.log"))?;
        eprintln!(
            "agent upload to a primary without sites ({} files)",
            thousands(agent_region.files)
        );
        let t = Instant::now();
        let child = spawn_agent(&exe, &server.url(), &root, &work.join("state-plain"), &key)?;
        let summary = finish_agent(child)?;
        let secs = t.elapsed().as_secs_f64();
        check_sent(&summary, agent_region.files)?;
        drop(server);
        let line = rate_line(
            "agent upload (no sites)",
            agent_region.files,
            agent_region.bytes,
            secs,
        );
        println!("{line}");
        results.push(line);
    }

    // ---- 2. Replication lag under load -----------------------------------------------------
    {
        let replica_data = work.join("replica");
        if replica_data.exists() {
            std::fs::remove_dir_all(&replica_data)?;
        }
        store::private::create_private_dir_all(&replica_data)?;
        std::fs::write(
            replica_data.join("renkei.toml"),
            format!("[replication]\ntoken = {}\n", toml_str(REPLICA_TOKEN)),
        )?;
        let replica = Server::start(
            &exe,
            &replica_data,
            &["--replica"],
            &work.join("replica.log"),
        )?;
        let s3_root = work.join("s3-lag");
        if s3_root.exists() {
            std::fs::remove_dir_all(&s3_root)?;
        }
        let s3 = RcloneS3::start(&s3_root, "renkei-bench").context("starting rclone serve s3")?;

        let data = work.join("primary-sites");
        let key = work.join("sites.key");
        primary(&data, &code, &key).await?;
        let replica_site = SiteConfig {
            name: "replica".into(),
            kind: Some(replication::SiteKind::Renkei),
            url: Some(replica.url()),
            token: Some(REPLICA_TOKEN.into()),
            ..SiteConfig::default()
        };
        let mut s3_site = s3.site_config("s3");
        s3_site.region = Some("us-east-1".into());
        write_config(&data, Some(1), &[replica_site, s3_site])?;
        let server = Server::start(&exe, &data, &[], &work.join("primary-sites.log"))?;
        // Let the first rounds ship the set-up (registry, audit) before the load starts.
        wait_caught_up(&exe, &data, Duration::from_secs(60))?;

        eprintln!(
            "agent upload to a primary with a replica and an S3 site ({} files), sampling `renkei sites --json` every {} ms",
            thousands(agent_region.files),
            SAMPLE_EVERY.as_millis()
        );
        let mut stats: std::collections::BTreeMap<String, SiteStats> = Default::default();
        let t = Instant::now();
        let mut child = spawn_agent(&exe, &server.url(), &root, &work.join("state-sites"), &key)?;
        let mut samples = 0u64;
        let upload_secs = loop {
            let tick = Instant::now();
            if child.try_wait()?.is_some() {
                break t.elapsed().as_secs_f64();
            }
            match sample_sites(&exe, &data) {
                Ok(sites) => {
                    samples += 1;
                    for s in sites {
                        let e = stats.entry(s.name.clone()).or_default();
                        e.lags.push(Duration::from_secs(s.lag_seconds));
                        e.max_versions = e.max_versions.max(s.backlog.versions);
                        e.max_total = e.max_total.max(s.backlog.total());
                    }
                }
                Err(e) => {
                    eprintln!("  sample failed: {e:#}");
                    for s in stats.values_mut() {
                        s.errors += 1;
                    }
                }
            }
            std::thread::sleep(SAMPLE_EVERY.saturating_sub(tick.elapsed()));
        };
        let summary = finish_agent(child)?;
        check_sent(&summary, agent_region.files)?;
        let line = rate_line(
            "agent upload (replica + S3 shipping every 1 s)",
            agent_region.files,
            agent_region.bytes,
            upload_secs,
        );
        println!("{line}");
        results.push(line);
        let caught = Instant::now();
        let catch_up = wait_caught_up(&exe, &data, CATCH_UP_LIMIT)?;
        let catch_up_secs = catch_up.max(caught.elapsed()).as_secs_f64();
        for (name, s) in stats.iter_mut() {
            s.lags.sort_unstable();
            let line = format!(
                "replication lag under load, site {name}: max {} s, p50 {} s over {samples} samples; max backlog {} versions ({} items with registry and audit)",
                s.lags.last().copied().unwrap_or_default().as_secs(),
                percentile(&s.lags, 0.5).as_secs(),
                thousands(s.max_versions),
                thousands(s.max_total),
            );
            println!("{line}");
            results.push(line);
        }
        let line = format!(
            "catch-up after the upload ended: both sites at backlog 0 after {catch_up_secs:.1} s"
        );
        println!("{line}");
        results.push(line);
        drop(server);
        drop(replica);
        drop(s3);
    }

    // ---- 3. Restore of a large facility ---------------------------------------------------
    if !args.skip_restore {
        let dir = work.join("restore-region");
        let big = region(&dir, args.patients, args.seed, args.reuse)?;
        let big_code = big.code()?;
        let data = work.join("restore-store");
        let imported_marker = data.join("bench-offsite-imported.json");
        let reuse_store = args.reuse
            && std::fs::read_to_string(&imported_marker)
                .map(|t| t.trim() == big.code)
                .unwrap_or(false);
        if !reuse_store {
            if data.exists() {
                std::fs::remove_dir_all(&data)?;
            }
            eprintln!("importing the facility with `renkei import`");
            let t = Instant::now();
            renkei(
                &exe,
                &[
                    "--data".as_ref(),
                    data.as_os_str(),
                    "import".as_ref(),
                    "--facility".as_ref(),
                    big.code.as_ref(),
                    big.root(&dir).as_os_str(),
                ],
            )?;
            let line = rate_line(
                &format!("import ({} patients)", thousands(big.patients as u64)),
                big.files,
                big.bytes,
                t.elapsed().as_secs_f64(),
            );
            println!("{line}");
            results.push(line);
            std::fs::write(&imported_marker, &big.code)?;
            // A new store: nothing of it is in any old bucket.
            let s3_root = work.join("s3-restore");
            if s3_root.exists() {
                std::fs::remove_dir_all(&s3_root)?;
            }
        } else {
            eprintln!("reusing the imported store in {}", data.display());
        }
        let synth_line = format!(
            "synth of the restore facility ({} patients): {} files, {:.1} MB in {:.1} s",
            thousands(big.patients as u64),
            thousands(big.files),
            mb(big.bytes),
            big.synth_secs
        );
        println!("{synth_line}");
        results.push(synth_line);
        write_config(&data, None, &[])?;

        let out = work.join("restored-local");
        let (line, secs) = timed_restore(&exe, &data, &big_code, &out, None, &big)?;
        println!("{line}");
        results.push(line.clone());
        results.extend(extrapolate(&line, secs, &big));
        if !args.skip_s3_restore {
            let s3 = RcloneS3::start(&work.join("s3-restore"), "renkei-bench")
                .context("starting rclone serve s3")?;
            let mut site = s3.site_config("s3");
            site.region = Some("us-east-1".into());
            write_config(&data, None, &[site])?;
            eprintln!("renkei ship to the S3 site");
            let t = Instant::now();
            let shipped = renkei(
                &exe,
                &["--data".as_ref(), data.as_os_str(), "ship".as_ref()],
            )?;
            let line = format!(
                "ship to S3 (rclone serve s3): {:.1} s — {}",
                t.elapsed().as_secs_f64(),
                shipped.trim()
            );
            println!("{line}");
            results.push(line);
            let out = work.join("restored-s3");
            let (line, secs) = timed_restore(&exe, &data, &big_code, &out, Some("s3"), &big)?;
            println!("{line}");
            results.push(line.clone());
            results.extend(extrapolate(&line, secs, &big));
            drop(s3);
        }
    }

    println!();
    println!("## renkei bench offsite — summary");
    println!();
    for r in &results {
        println!("- {r}");
    }
    Ok(())
}

/// The agent's summary must show every file of the tree sent (or held already).
fn check_sent(summary: &str, files: u64) -> Result<()> {
    let sent =
        number_after(summary, "sent").unwrap_or(0) + number_after(summary, "held").unwrap_or(0);
    if sent != files {
        bail!("the agent sent {sent} of {files} files: {summary}");
    }
    Ok(())
}

/// Sample until every site's backlog is 0: how long that took.
fn wait_caught_up(exe: &Path, data: &Path, limit: Duration) -> Result<Duration> {
    let t = Instant::now();
    loop {
        let tick = Instant::now();
        match sample_sites(exe, data) {
            Ok(sites) if !sites.is_empty() && sites.iter().all(|s| s.backlog.total() == 0) => {
                return Ok(t.elapsed())
            }
            Ok(_) => {}
            Err(e) => eprintln!("  sample failed: {e:#}"),
        }
        if t.elapsed() > limit {
            bail!("the sites did not catch up within {} s", limit.as_secs());
        }
        std::thread::sleep(SAMPLE_EVERY.saturating_sub(tick.elapsed()));
    }
}

/// `renkei restore --facility CODE --to OUT [--from SITE]`, timed (wall), into a fresh folder
/// that is removed afterwards: its rate line and seconds.
fn timed_restore(
    exe: &Path,
    data: &Path,
    code: &FacilityCode,
    out: &Path,
    from: Option<&str>,
    region: &Region,
) -> Result<(String, f64)> {
    if out.exists() {
        std::fs::remove_dir_all(out)?;
    }
    eprintln!("renkei restore from {}", from.unwrap_or("local"));
    let mut args: Vec<&std::ffi::OsStr> = vec![
        "--data".as_ref(),
        data.as_os_str(),
        "restore".as_ref(),
        "--facility".as_ref(),
        code.as_str().as_ref(),
        "--to".as_ref(),
        out.as_os_str(),
    ];
    if let Some(f) = from {
        args.push("--from".as_ref());
        args.push(f.as_ref());
    }
    let t = Instant::now();
    let printed = renkei(exe, &args)?;
    let secs = t.elapsed().as_secs_f64();
    // "restored facility … : N files, X MB in …"
    let files = printed
        .split(": ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or(0);
    if files != region.files {
        bail!(
            "restore wrote {files} files, the facility has {}: {}",
            region.files,
            printed.trim()
        );
    }
    std::fs::remove_dir_all(out)?;
    let line = rate_line(
        &format!(
            "restore from {} ({} patients)",
            from.unwrap_or("local"),
            thousands(region.patients as u64)
        ),
        region.files,
        region.bytes,
        secs,
    );
    Ok((line, secs))
}

/// Below 100,000 patients: the restore line scaled linearly to 100,000, labelled as such.
fn extrapolate(line: &str, secs: f64, region: &Region) -> Option<String> {
    if region.patients >= 100_000 {
        return None;
    }
    let factor = 100_000.0 / region.patients.max(1) as f64;
    let what = line.split(" (").next().unwrap_or("restore");
    let out = format!(
        "EXTRAPOLATION (linear from {} patients, not measured): {what} of a 100,000-patient facility ≈ {} files, {} MB in ≈ {} s",
        thousands(region.patients as u64),
        thousands((region.files as f64 * factor) as u64),
        thousands((mb(region.bytes) * factor).round() as u64),
        thousands((secs * factor).round() as u64)
    );
    println!("{out}");
    Some(out)
}
