//! The facility agent (`renkei agent`): runs at a hospital or clinic next to its SS-MIX2
//! storage and keeps the network's off-site copy up to date.
//!
//! One run: scan the tree into the local [`Manifest`] (first run hashes everything, later runs
//! only new files and files whose size or mtime changed), start a run on the server, ask it
//! which unsent files it lacks ([`upload::CheckRequest`], the server's answer is the truth),
//! send those in paced batches, remembering each acknowledged batch in one manifest
//! transaction, and finish with the paths deleted since. A `kill -9` or a network failure at
//! any point loses nothing: the next run asks again and sends only what the server lacks.

mod client;
mod manifest;
pub mod pace;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub use client::Client;
pub use manifest::{Entry, Manifest, ScanReport, Status, MANIFEST_FILE};
use upload::{BatchFile, CheckRequest, FileRef, FinishRun, StartRun, MAX_BATCH_BYTES, MAX_CHECK};

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("{0}")]
    Config(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("agent manifest {path}: {source}")]
    Manifest {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error(
        "{what}: network failure after {attempts} attempt(s): {message} (run again to resume)"
    )]
    Network {
        what: String,
        attempts: u32,
        message: String,
    },
    #[error("{what}: the server refused (HTTP {status}): {message}")]
    Refused {
        what: String,
        status: u16,
        message: String,
    },
}

/// How to run.
#[derive(Debug, Clone)]
pub struct Config {
    /// The network's address, `https://…`.
    pub server: String,
    /// Root of the facility's SS-MIX2 storage.
    pub root: PathBuf,
    /// The agent's state folder (manifest, lock).
    pub state: PathBuf,
    /// The facility's API key (never printed).
    pub key: String,
    /// Re-hash every file and ask the server about every file.
    pub full: bool,
    pub batch_files: usize,
    /// Batch size limit in bytes (clamped to [`MAX_BATCH_BYTES`]).
    pub batch_bytes: u64,
    pub limit_kbps: Option<u64>,
    pub retries: u32,
    /// Progress lines on stderr.
    pub progress: bool,
}

impl Config {
    pub const DEFAULT_BATCH_FILES: usize = 500;
    pub const DEFAULT_BATCH_MB: u64 = 16;
    pub const DEFAULT_RETRIES: u32 = 8;
}

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunReport {
    pub run_id: i64,
    pub scan: ScanReport,
    /// Files asked about (not marked sent before the run).
    pub checked: u64,
    /// Of those, held by the server already (marked sent without sending).
    pub already_held: u64,
    pub sent_files: u64,
    pub sent_bytes: u64,
    pub batches: u64,
    /// New versions the server stored.
    pub stored: u64,
    pub quarantined: u64,
    /// Paths reported removed.
    pub removed: u64,
    /// Files that could not be sent (vanished, unreadable, too large), with why.
    pub failed: Vec<(String, String)>,
    pub elapsed: Duration,
}

impl RunReport {
    /// One line for the operator (and scripts).
    pub fn summary(&self) -> String {
        format!(
            "run {}: scanned {} hashed {} new {} changed {} checked {} held {} sent {} ({:.1} MB in {} batches) stored {} quarantined {} removed {} failed {} in {:.1} s",
            self.run_id,
            self.scan.scanned,
            self.scan.hashed,
            self.scan.new,
            self.scan.changed,
            self.checked,
            self.already_held,
            self.sent_files,
            self.sent_bytes as f64 / 1e6,
            self.batches,
            self.stored,
            self.quarantined,
            self.removed,
            self.failed.len(),
            self.elapsed.as_secs_f64()
        )
    }
}

fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Seconds since the epoch as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn format_utc(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Progress lines on stderr, at most one a second.
struct Progress {
    on: bool,
    last: Option<Instant>,
    start: Instant,
}

impl Progress {
    fn tick(&mut self, line: impl FnOnce(f64) -> String) {
        if !self.on {
            return;
        }
        let now = Instant::now();
        if self.last.is_some_and(|l| now - l < Duration::from_secs(1)) {
            return;
        }
        self.last = Some(now);
        let secs = (now - self.start).as_secs_f64().max(0.001);
        eprintln!("agent: {}", line(secs));
    }
}

/// Hold the state folder for this process (one agent per state folder).
fn lock_state(state: &Path) -> Result<std::fs::File, AgentError> {
    use fs2::FileExt;
    std::fs::create_dir_all(state).map_err(|e| AgentError::Io {
        path: state.to_owned(),
        source: e,
    })?;
    let path = state.join("agent.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| AgentError::Io {
            path: path.clone(),
            source: e,
        })?;
    file.try_lock_exclusive().map_err(|_| {
        AgentError::Config(format!(
            "another agent is running with --state {}",
            state.display()
        ))
    })?;
    Ok(file)
}

/// One complete run: scan, check, send, finish. The outcome (or error) is recorded in the
/// manifest for `status`.
pub fn run_once(cfg: &Config) -> Result<RunReport, AgentError> {
    let _lock = lock_state(&cfg.state)?;
    let mut manifest = Manifest::open(&cfg.state)?;
    manifest.set("last_run_started", &now_unix().to_string())?;
    let result = run_locked(cfg, &mut manifest);
    match &result {
        Ok(report) if report.failed.is_empty() => {
            manifest.clear("last_error")?;
        }
        Ok(report) => {
            let (path, why) = &report.failed[0];
            manifest.set(
                "last_error",
                &format!(
                    "{} file(s) not sent, e.g. {path}: {why}",
                    report.failed.len()
                ),
            )?;
        }
        Err(e) => manifest.set("last_error", &e.to_string())?,
    }
    result
}

fn run_locked(cfg: &Config, manifest: &mut Manifest) -> Result<RunReport, AgentError> {
    let start = Instant::now();
    let mut progress = Progress {
        on: cfg.progress,
        last: None,
        start,
    };
    let first = manifest.value("runs_finished")?.is_none();
    let full = cfg.full || first;
    let mut client = Client::new(&cfg.server, &cfg.key, cfg.retries)?;

    // 1. Scan.
    let scan = manifest.scan(&cfg.root, cfg.full, &mut |r| {
        progress.tick(|secs| {
            format!(
                "scanned {} files, hashed {} ({:.0} files/s)",
                r.scanned,
                r.hashed,
                r.scanned as f64 / secs
            )
        })
    })?;
    for (path, why) in &scan.skipped {
        eprintln!("agent: warning: skipped {path}: {why}");
    }
    if cfg.progress {
        eprintln!(
            "agent: scanned {} files, hashed {} ({} new, {} changed, {} removed)",
            scan.scanned, scan.hashed, scan.new, scan.changed, scan.gone
        );
    }
    if cfg.full {
        manifest.forget_sent()?;
    }

    // 2. Start the run on the server.
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown-host".into());
    let started = client.start_run(&StartRun {
        agent: format!("{host} renkei-agent/{}", env!("CARGO_PKG_VERSION")),
        full_scan: full,
    })?;
    let mut report = RunReport {
        run_id: started.run_id,
        scan,
        ..RunReport::default()
    };

    // 3. Ask what the server lacks; what it holds is marked sent.
    let unsent = manifest.unsent()?;
    report.checked = unsent.len() as u64;
    let mut missing: Vec<Entry> = Vec::new();
    for chunk in unsent.chunks(MAX_CHECK) {
        let answer = client.check(&CheckRequest {
            files: chunk
                .iter()
                .map(|e| FileRef {
                    path: e.path.clone(),
                    sha256: e.sha256.clone(),
                    size: e.size,
                })
                .collect(),
        })?;
        let lacking: std::collections::HashSet<&str> =
            answer.missing.iter().map(String::as_str).collect();
        let (lack, held): (Vec<Entry>, Vec<Entry>) = chunk
            .iter()
            .cloned()
            .partition(|e| lacking.contains(e.path.as_str()));
        report.already_held += held.len() as u64;
        manifest.mark_sent(&held)?;
        missing.extend(lack);
    }
    if cfg.progress {
        let bytes: u64 = missing.iter().map(|e| e.size).sum();
        eprintln!(
            "agent: {} files to send ({:.1} MB); the server holds {} already",
            missing.len(),
            bytes as f64 / 1e6,
            report.already_held
        );
    }

    // 4. Send in batches, paced.
    let max_bytes = cfg.batch_bytes.clamp(1, MAX_BATCH_BYTES as u64);
    let costs: Vec<u64> = missing
        .iter()
        .map(|e| e.size + pace::frame_overhead(&e.path))
        .collect();
    let send_start = Instant::now();
    let mut paced_bytes = 0u64;
    let to_send = missing.len();
    for range in pace::plan_batches(&costs, cfg.batch_files, max_bytes) {
        let mut files = Vec::new();
        let mut entries = Vec::new();
        for e in &missing[range] {
            match read_current(&cfg.root, e) {
                Ok((entry, bytes)) => {
                    if bytes.len() + pace::frame_overhead(&entry.path) as usize > MAX_BATCH_BYTES {
                        report.failed.push((
                            entry.path.clone(),
                            format!(
                                "{} bytes: larger than a batch may be ({} bytes)",
                                bytes.len(),
                                MAX_BATCH_BYTES
                            ),
                        ));
                        continue;
                    }
                    files.push(BatchFile {
                        path: entry.path.clone(),
                        sha256: entry.sha256.clone(),
                        bytes,
                    });
                    entries.push(entry);
                }
                Err(why) => report.failed.push((e.path.clone(), why)),
            }
        }
        if files.is_empty() {
            continue;
        }
        let body = upload::encode_batch(&files);
        paced_bytes += body.len() as u64;
        let wait = pace::pace_delay(paced_bytes, send_start.elapsed(), cfg.limit_kbps);
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
        let answer = client.send_batch(started.run_id, &body)?;
        manifest.mark_sent(&entries)?;
        let bytes: u64 = entries.iter().map(|e| e.size).sum();
        manifest.add("total_files_sent", entries.len() as u64)?;
        manifest.add("total_bytes_sent", bytes)?;
        report.batches += 1;
        report.sent_files += entries.len() as u64;
        report.sent_bytes += bytes;
        report.stored += answer.stored;
        report.quarantined += answer.quarantined.len() as u64;
        for q in &answer.quarantined {
            eprintln!(
                "agent: note: the server keeps {} but did not index it: {}",
                q.path, q.reason
            );
        }
        progress.last = None;
        let (sent, sent_bytes) = (report.sent_files, report.sent_bytes);
        let since = send_start.elapsed().as_secs_f64().max(0.001);
        progress.tick(|_| {
            format!(
                "sent {sent}/{to_send} files, {:.1} MB ({:.0} files/s, {:.2} MB/s)",
                sent_bytes as f64 / 1e6,
                sent as f64 / since,
                sent_bytes as f64 / 1e6 / since
            )
        });
    }

    // 5. Finish with the removals.
    let gone = manifest.gone()?;
    let finished = client.finish(
        started.run_id,
        &FinishRun {
            removed: gone.clone(),
        },
    )?;
    manifest.drop_gone(&gone)?;
    report.removed = gone.len() as u64;
    if finished.removed != report.removed && cfg.progress {
        eprintln!(
            "agent: {} removal(s) reported, {} were current on the server",
            report.removed, finished.removed
        );
    }
    manifest.add("runs_finished", 1)?;
    manifest.set("last_run_finished", &now_unix().to_string())?;
    report.elapsed = start.elapsed();
    Ok(report)
}

/// The file as it is now: stat, read, hash. Changed since the scan → the new hash is used.
fn read_current(root: &Path, e: &Entry) -> Result<(Entry, Vec<u8>), String> {
    let path = root.join(&e.path);
    let meta = std::fs::metadata(&path).map_err(|err| format!("cannot read: {err}"))?;
    let bytes = std::fs::read(&path).map_err(|err| format!("cannot read: {err}"))?;
    // Hashed again even if unchanged: what is sent must be exactly what is announced.
    let sha256 = upload::sha256_hex(&bytes);
    Ok((
        Entry {
            path: e.path.clone(),
            size: bytes.len() as u64,
            mtime_ns: manifest::mtime_ns(&meta),
            sha256,
            sent: false,
            gone: false,
        },
        bytes,
    ))
}

/// Run forever: one run every `interval`, errors recorded and printed, never fatal.
pub fn run_forever(cfg: &Config, interval: Duration) -> ! {
    loop {
        match run_once(cfg) {
            Ok(r) => println!("{}", r.summary()),
            Err(e) => eprintln!("agent: error: {e}"),
        }
        std::thread::sleep(interval);
    }
}

/// `renkei agent status`: the manifest's counts and the last run, as text.
pub fn status_text(state: &Path) -> Result<String, AgentError> {
    let s = Manifest::open_existing(state)?.status()?;
    let t = |v: Option<i64>| v.map(format_utc).unwrap_or_else(|| "never".into());
    Ok(format!(
        "known    {}\nsent     {}\npending  {}\nremoved  {} (to report)\nlast run started  {}\nlast run finished {}\nruns finished     {}\ntotal sent        {} files, {:.1} MB\nlast error        {}\n",
        s.known,
        s.sent,
        s.pending,
        s.removed_pending,
        t(s.last_run_started),
        t(s.last_run_finished),
        s.runs_finished,
        s.total_files_sent,
        s.total_bytes_sent as f64 / 1e6,
        s.last_error.as_deref().unwrap_or("none"),
    ))
}
