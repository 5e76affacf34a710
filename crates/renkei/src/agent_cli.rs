//! `renkei agent`: the facility agent's command line (see docs/agent.md).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Subcommand;

#[derive(Subcommand)]
pub enum AgentCommand {
    /// Scan the facility's SS-MIX2 storage and upload new and changed files to the network.
    Run {
        /// The network's address, e.g. https://renkei.example.jp
        #[arg(long, env = "RENKEI_AGENT_SERVER")]
        server: String,
        /// Root of the facility's SS-MIX2 storage (標準化ストレージ).
        #[arg(long)]
        root: PathBuf,
        /// The agent's state folder (manifest); keep it on local disk.
        #[arg(long)]
        state: PathBuf,
        /// File holding the facility's API key (else the environment variable RENKEI_AGENT_KEY).
        #[arg(long)]
        key_file: Option<PathBuf>,
        /// Run once and exit (the default).
        #[arg(long, conflicts_with = "interval")]
        once: bool,
        /// Run as a daemon: a run every SECS seconds.
        #[arg(long, value_name = "SECS")]
        interval: Option<u64>,
        /// Re-hash every file and ask the server about every file.
        #[arg(long)]
        full: bool,
        /// Most files per batch.
        #[arg(long, default_value_t = agent::Config::DEFAULT_BATCH_FILES)]
        batch_files: usize,
        /// Most megabytes (MiB) per batch (at most 64).
        #[arg(long, default_value_t = agent::Config::DEFAULT_BATCH_MB)]
        batch_mb: u64,
        /// Average upload bandwidth limit in kB/s.
        #[arg(long)]
        limit_kbps: Option<u64>,
        /// Retries of each request on network failure (backoff 1, 2, 4 … 60 s).
        #[arg(long, default_value_t = agent::Config::DEFAULT_RETRIES)]
        retries: u32,
        /// No progress lines on stderr.
        #[arg(long)]
        quiet: bool,
    },
    /// What the agent's manifest knows: files known, sent, pending; last run and error.
    Status {
        #[arg(long)]
        state: PathBuf,
    },
}

/// The API key: first line of the key file, else RENKEI_AGENT_KEY. Never printed.
fn read_key(key_file: Option<&Path>) -> Result<String> {
    let key = match key_file {
        Some(f) => std::fs::read_to_string(f)
            .with_context(|| format!("reading the key file {} (--key-file)", f.display()))?
            .lines()
            .next()
            .unwrap_or("")
            .trim()
            .to_owned(),
        None => std::env::var("RENKEI_AGENT_KEY")
            .map(|k| k.trim().to_owned())
            .unwrap_or_default(),
    };
    if key.is_empty() {
        match key_file {
            Some(f) => bail!("the key file {} (--key-file) is empty", f.display()),
            None => bail!("no API key: give --key-file FILE or set RENKEI_AGENT_KEY"),
        }
    }
    if key.chars().any(|c| c.is_whitespace() || c.is_control()) {
        bail!("the API key contains spaces or control characters; check the key file or RENKEI_AGENT_KEY");
    }
    Ok(key)
}

pub fn run(cmd: AgentCommand) -> Result<()> {
    match cmd {
        AgentCommand::Status { state } => {
            print!("{}", agent::status_text(&state)?);
            Ok(())
        }
        AgentCommand::Run {
            server,
            root,
            state,
            key_file,
            once: _,
            interval,
            full,
            batch_files,
            batch_mb,
            limit_kbps,
            retries,
            quiet,
        } => {
            if !root.is_dir() {
                bail!("--root {} is not a folder", root.display());
            }
            if batch_files == 0 {
                bail!("--batch-files must be at least 1");
            }
            if batch_mb == 0 || batch_mb > 64 {
                bail!("--batch-mb must be between 1 and 64");
            }
            let cfg = agent::Config {
                server,
                root,
                state,
                key: read_key(key_file.as_deref())?,
                full,
                batch_files,
                batch_bytes: (batch_mb * 1024 * 1024).min(upload::MAX_BATCH_BYTES as u64),
                limit_kbps: limit_kbps.filter(|&k| k > 0),
                retries,
                progress: !quiet,
            };
            match interval {
                Some(secs) => agent::run_forever(&cfg, Duration::from_secs(secs.max(1))),
                None => {
                    let report = agent::run_once(&cfg)?;
                    println!("{}", report.summary());
                    if let Some((path, why)) = report.failed.first() {
                        bail!(
                            "{} file(s) not sent, e.g. {path}: {why}",
                            report.failed.len()
                        );
                    }
                    Ok(())
                }
            }
        }
    }
}
