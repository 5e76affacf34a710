//! `renkei bench …`: throughput and latency measurements printed as Markdown, for
//! docs/BENCHMARKS.md.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use ssmix2::StoragePath;
use store::Store;
use store_postgres::{BlobsLocation, PgConfig, PgStore};
use store_sqlite::SqliteStore;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Parse rate on one core, full import rate on all cores, stored size vs raw size.
    Ingest {
        /// Synthetic region size (patients), generated unless --region is given.
        #[arg(long, default_value_t = 10_000)]
        patients: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Use an existing region (output of `renkei synth`) instead of generating one.
        #[arg(long)]
        region: Option<PathBuf>,
        /// Scratch folder for the generated region and the benchmark store (default: a
        /// temporary folder, removed afterwards).
        #[arg(long)]
        work: Option<PathBuf>,
        /// Measure the import only (skip the single-core parse stages).
        #[arg(long)]
        import_only: bool,
        /// Import into PostgreSQL instead of the embedded store: an empty database
        /// (`createdb renkei_bench`), packs in WORK/bench-pg-blobs. Not read from
        /// RENKEI_DATABASE_URL, so that a benchmark never lands in a real network's database.
        #[arg(long)]
        database_url: Option<String>,
        /// Facilities imported at once (each its own writer; PostgreSQL takes several, the
        /// embedded store serialises them on its single writer).
        #[arg(long, default_value_t = 1)]
        writers: usize,
        /// With --database-url: import into a database that already holds a network (say the
        /// 10M-record store `bench viewer --database-url` built), to measure the rate at that
        /// scale. The region's facilities are added, or extended where their codes exist
        /// (partial imports: nothing already there is marked removed); new packs go to
        /// WORK/bench-pg-blobs. Scratch databases only.
        #[arg(long, requires = "database_url")]
        onto_existing: bool,
        /// After the import, re-derive the clinical facts of every live record from the
        /// stored bytes, as `renkei serve` does after an upgrade whose extractor reads more
        /// (`ingest::backfill_facts`), and print that rate.
        #[arg(long)]
        rederive: bool,
    },
    /// Server time of the clinician viewer's screens (service calls: gate, store reads,
    /// audit) for a patient with ≥ 5,000 records on a store of ≥ 10M records. Builds the
    /// store in --work once (generate, import, set up the network, scale by copying); time it
    /// again with --reuse. Scratch data only.
    Viewer {
        /// Scratch folder: the region (`region/`) and the benchmark store (`viewer-store/`).
        #[arg(long)]
        work: PathBuf,
        /// Synthetic region size (patients) before copying.
        #[arg(long, default_value_t = 500)]
        patients: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Copies of the region's patients (default: enough for 10M records).
        #[arg(long)]
        copies: Option<usize>,
        /// Records of the timed patient (at least; split over two facilities).
        #[arg(long, default_value_t = 5_000)]
        target_records: usize,
        /// Timed calls per screen.
        #[arg(long, default_value_t = 200)]
        iterations: usize,
        /// Time the store already built in --work instead of building it again.
        #[arg(long)]
        reuse: bool,
        /// Build (and time) on PostgreSQL instead of the embedded store: an empty database
        /// for a build (`createdb renkei_bench`), packs in --work/viewer-pg/blobs. Not read
        /// from RENKEI_DATABASE_URL, so that a benchmark never lands in a real network's
        /// database by accident.
        #[arg(long)]
        database_url: Option<String>,
    },
    /// Many signed-in clinicians at once against the real HTTP server (`renkei serve` started
    /// from this executable on loopback): each opens summary, timeline, labs and medications
    /// of one consented patient after another; first pages only, then with a share of full
    /// sign-ins. Prints requests/s, p50/p90/p99/max and errors per page kind, the sign-in
    /// latency, and the CPU of the server, of this load generator and of the rest of the
    /// machine. Uses the 10M-record store `bench viewer` builds in --work (built first when
    /// missing) and adds its users once (bench-load.json beside the store). Scratch data only.
    Load {
        /// Scratch folder of `bench viewer` (its `viewer-store/`, or `viewer-pg/` with
        /// --database-url).
        #[arg(long)]
        work: PathBuf,
        /// Concurrent signed-in clinicians (each its own doctor account and session).
        #[arg(long, default_value_t = 200)]
        sessions: usize,
        /// Length of each measured phase (pages only; pages + sign-ins).
        #[arg(long, default_value_t = 30.0)]
        seconds: f64,
        /// Pages opened before the measured phases, not counted.
        #[arg(long, default_value_t = 5.0)]
        warmup_seconds: f64,
        /// Fraction of the requests of the second phase that are full sign-ins (password +
        /// TOTP) by extra doctors; 0 skips that phase.
        #[arg(long, default_value_t = 0.05)]
        login_share: f64,
        /// Extra doctors for those sign-ins: a TOTP code works once, so each signs in about
        /// once per 30-second step (three times in a fresh one).
        #[arg(long, default_value_t = 600)]
        login_users: usize,
        /// Mean pause of a clinician between two pages (0: the next page as soon as the last
        /// one arrived, i.e. --sessions requests always in flight).
        #[arg(long, default_value_t = 0)]
        think_ms: u64,
        /// Run against PostgreSQL: the database `bench viewer --database-url` built (an empty
        /// one is built first). Not read from RENKEI_DATABASE_URL.
        #[arg(long)]
        database_url: Option<String>,
        /// When --work has no store yet: synthetic region size (patients) before copying.
        #[arg(long, default_value_t = 500)]
        patients: usize,
        /// When --work has no store yet: seed of the region.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// When --work has no store yet: copies of the region (default: enough for 10M
        /// records).
        #[arg(long)]
        copies: Option<usize>,
        /// When --work has no store yet: records of bench viewer's large patient.
        #[arg(long, default_value_t = 5_000)]
        target_records: usize,
    },
    /// Off-site copies on loopback, all real processes (servers started from this executable,
    /// the agent, a replica, `rclone serve s3`): agent upload rate, replication lag and backlog
    /// under load and catch-up time, restore time of a large facility (local and from S3).
    Offsite {
        /// Scratch folder: regions, data folders, the bucket, restored trees.
        #[arg(long)]
        work: PathBuf,
        /// Patients of the restored facility (one facility; ~100 files per patient).
        #[arg(long, default_value_t = 100_000)]
        patients: usize,
        /// Patients of the facility the agent uploads (parts 1 and 2).
        #[arg(long, default_value_t = 300)]
        agent_patients: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Keep the generated regions and the imported store of the restore part.
        #[arg(long)]
        reuse: bool,
        /// Skip the restore part.
        #[arg(long)]
        skip_restore: bool,
        /// Skip shipping to S3 and restoring from it.
        #[arg(long)]
        skip_s3_restore: bool,
    },
}

pub async fn run(cmd: BenchCommand) -> Result<()> {
    match cmd {
        BenchCommand::Ingest {
            patients,
            seed,
            region,
            work,
            import_only,
            database_url,
            writers,
            onto_existing,
            rederive,
        } => {
            ingest(IngestArgs {
                patients,
                seed,
                region,
                work,
                import_only,
                database_url,
                writers,
                onto_existing,
                rederive,
            })
            .await
        }
        BenchCommand::Viewer {
            work,
            patients,
            seed,
            copies,
            target_records,
            iterations,
            reuse,
            database_url,
        } => {
            crate::bench_viewer::run(crate::bench_viewer::Args {
                work,
                patients,
                seed,
                copies,
                target_records,
                iterations,
                reuse,
                database_url,
            })
            .await
        }
        BenchCommand::Load {
            work,
            sessions,
            seconds,
            warmup_seconds,
            login_share,
            login_users,
            think_ms,
            database_url,
            patients,
            seed,
            copies,
            target_records,
        } => {
            crate::bench_load::run(crate::bench_load::Args {
                build: crate::bench_viewer::Args {
                    work: work.clone(),
                    patients,
                    seed,
                    copies,
                    target_records,
                    iterations: 0,
                    reuse: false,
                    database_url: database_url.clone(),
                },
                work,
                database_url,
                sessions,
                seconds,
                warmup_seconds,
                login_share,
                login_users,
                think_ms,
            })
            .await
        }
        BenchCommand::Offsite {
            work,
            patients,
            agent_patients,
            seed,
            reuse,
            skip_restore,
            skip_s3_restore,
        } => {
            crate::bench_offsite::run(crate::bench_offsite::Args {
                work,
                patients,
                agent_patients,
                seed,
                reuse,
                skip_restore,
                skip_s3_restore,
            })
            .await
        }
    }
}

pub(crate) fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

struct IngestArgs {
    patients: usize,
    seed: u64,
    region: Option<PathBuf>,
    work: Option<PathBuf>,
    import_only: bool,
    database_url: Option<String>,
    writers: usize,
    onto_existing: bool,
    rederive: bool,
}

/// What one facility's import reported, summed.
#[derive(Default)]
struct ImportSums {
    imported: u64,
    quarantined: u64,
    list: Duration,
    read: Duration,
    write: Duration,
}

/// Import every facility, `writers` at a time.
async fn import_all(
    store: Arc<dyn Store>,
    facilities: &[(model::FacilityCode, PathBuf)],
    writers: usize,
    partial: bool,
) -> Result<ImportSums> {
    let queue = Arc::new(std::sync::Mutex::new(facilities.to_vec()));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..writers.max(1) {
        let (store, queue) = (store.clone(), queue.clone());
        tasks.spawn(async move {
            let mut sums = ImportSums::default();
            loop {
                let next = queue.lock().map_err(|_| anyhow::anyhow!("queue"))?.pop();
                let Some((code, root)) = next else {
                    return Ok::<_, anyhow::Error>(sums);
                };
                let id = store.facility(&code, true).await?.context("facility")?;
                let options = ingest::ImportOptions {
                    partial,
                    ..Default::default()
                };
                let r = ingest::import_tree(
                    store.clone(),
                    id,
                    &root,
                    &options,
                    Arc::new(ingest::NoProgress),
                )
                .await?;
                sums.imported += r.totals.files_seen;
                sums.quarantined += r.totals.quarantined;
                sums.list += r.list_time;
                sums.read += r.read_time;
                sums.write += r.write_time;
            }
        });
    }
    let mut all = ImportSums::default();
    while let Some(done) = tasks.join_next().await {
        let s = done??;
        all.imported += s.imported;
        all.quarantined += s.quarantined;
        all.list += s.list;
        all.read += s.read;
        all.write += s.write;
    }
    Ok(all)
}

async fn ingest(args: IngestArgs) -> Result<()> {
    let IngestArgs {
        patients,
        seed,
        region,
        work,
        import_only,
        database_url,
        writers,
        onto_existing,
        rederive,
    } = args;
    let scratch = match &work {
        Some(w) => {
            std::fs::create_dir_all(w)?;
            None
        }
        None => Some(tempfile::tempdir().context("creating a scratch folder")?),
    };
    let work_dir: PathBuf = work.clone().unwrap_or_else(|| {
        scratch
            .as_ref()
            .map(|t| t.path().to_owned())
            .unwrap_or_default()
    });
    let region = match region {
        Some(r) => r,
        None => {
            let out = work_dir.join("region");
            if !out.join("manifest.json").exists() {
                eprintln!(
                    "generating a synthetic region of {patients} patients (seed {seed}) in {}",
                    out.display()
                );
                let t = Instant::now();
                let opts = synth::Options {
                    patients,
                    seed,
                    ..Default::default()
                };
                let s = synth::generate(&opts, &out, &|_| {})?;
                eprintln!(
                    "  {} messages in {:.1} s",
                    s.messages,
                    t.elapsed().as_secs_f64()
                );
            }
            out
        }
    };

    // 1. Parse on one core: every standard file in memory first, so only parsing is timed.
    let facilities = crate::region_facilities(&region)?;
    let mut files: Vec<(ssmix2::DataKind, Vec<u8>)> = Vec::new();
    let mut raw_bytes = 0u64;
    let mut raw_files = 0u64;
    for (_, root) in &facilities {
        for rel in ingest::list_tree(root)? {
            let bytes = std::fs::read(root.join(&rel))?;
            raw_bytes += bytes.len() as u64;
            raw_files += 1;
            if let Ok(StoragePath::Standard(name)) = StoragePath::parse(&rel) {
                files.push((name.kind, bytes));
            }
        }
    }
    let parse_bytes: u64 = files.iter().map(|(_, b)| b.len() as u64).sum();
    let files = Arc::new(files);
    // Each stage adds to the previous one, so the differences show where the time goes.
    let mut stages = Vec::new();
    let all_stages = [Stage::Decode, Stage::Er7, Stage::Header, Stage::Typed];
    for stage in if import_only {
        &all_stages[..0]
    } else {
        &all_stages[..]
    } {
        let stage = *stage;
        let files = files.clone();
        let (elapsed, mut lat, failures) =
            tokio::task::spawn_blocking(move || parse_stage(&files, stage)).await?;
        lat.sort_unstable();
        stages.push((stage, elapsed, lat, failures));
    }

    // 2. Full import into a fresh store, all cores.
    let (store, writer_label): (Arc<dyn Store>, String) = match &database_url {
        None => {
            let data = work_dir.join("bench-store");
            if data.exists() {
                std::fs::remove_dir_all(&data)?;
            }
            (Arc::new(SqliteStore::open(&data)?), "SQLite WAL".to_owned())
        }
        Some(url) => {
            let config = PgConfig {
                database_url: url.clone(),
                blobs: BlobsLocation::Local(work_dir.join("bench-pg-blobs")),
                max_connections: (2 * writers.max(1)) as u32,
            };
            let stats = PgStore::connect(&config).await?.stats().await?;
            if onto_existing {
                println!(
                    "importing onto {} records ({} file versions) already in the database",
                    stats.records, stats.file_versions
                );
            } else if stats.facilities > 0 || stats.file_versions > 0 {
                bail!(
                    "{} is not empty ({} facilities, {} file versions): import into an empty database (dropdb/createdb)",
                    store_postgres::redact_url(url),
                    stats.facilities,
                    stats.file_versions
                );
            }
            // The database is empty: packs left in the folder belong to no store.
            let blobs = work_dir.join("bench-pg-blobs");
            if blobs.exists() && !onto_existing {
                std::fs::remove_dir_all(&blobs)?;
            }
            (
                Arc::new(PgStore::connect(&config).await?),
                format!("PostgreSQL, {} writer(s)", writers.max(1)),
            )
        }
    };
    let t = Instant::now();
    // Onto an existing network the region's trees are additions, not whole trees: what the
    // database holds beyond them is not marked removed.
    let sums = import_all(store.clone(), &facilities, writers, onto_existing).await?;
    let import_secs = t.elapsed().as_secs_f64().max(1e-9);
    let (imported, quarantined) = (sums.imported, sums.quarantined);
    let (list_t, read_t, write_t) = (sums.list, sums.read, sums.write);
    let stats = store.stats().await?;
    let stored = stats.packed_bytes + stats.index_bytes;
    // The scratch store is told its facts came from an older extractor, so that every live
    // record is read again (its extractor number is left one ahead: it is thrown away).
    let rederived = if rederive {
        store
            .facts_rederive(ingest::facts::FACTS_EXTRACTOR + 1)
            .await?;
        let t = Instant::now();
        let n = ingest::backfill_facts(&store).await?;
        Some((n, t.elapsed().as_secs_f64().max(1e-9)))
    } else {
        None
    };
    drop(store);

    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    println!(
        "## renkei bench ingest — {} facilities, {raw_files} files, {:.1} MB raw",
        facilities.len(),
        raw_bytes as f64 / 1e6
    );
    println!();
    println!("| measure | value |");
    println!("|---|---|");
    for (stage, elapsed, lat, failures) in &stages {
        let secs = elapsed.as_secs_f64().max(1e-9);
        println!(
            "| parse, 1 core: {} | {:.0} messages/s, {:.1} MB/s; latency p50 {:.1} µs, p99 {:.1} µs; {failures} failed |",
            stage.label(),
            lat.len() as f64 / secs,
            parse_bytes as f64 / 1e6 / secs,
            percentile(lat, 0.5).as_secs_f64() * 1e6,
            percentile(lat, 0.99).as_secs_f64() * 1e6,
        );
    }
    println!(
        "| full import ({cores} cores: read, SHA-256, parse, compress, {writer_label}) | {:.0} files/s, {:.1} MB/s ({imported} files in {import_secs:.1} s, {quarantined} quarantined) |",
        imported as f64 / import_secs,
        raw_bytes as f64 / 1e6 / import_secs
    );
    println!(
        "| import stages: list tree / read+hash+classify (parallel) / store writes | {:.1} s / {:.1} s / {:.1} s |",
        list_t.as_secs_f64(),
        read_t.as_secs_f64(),
        write_t.as_secs_f64()
    );
    println!(
        "| stored size / raw size | {:.1} MB / {:.1} MB = {:.0}% (packs {:.1} MB + index {:.1} MB) |",
        stored as f64 / 1e6,
        raw_bytes as f64 / 1e6,
        stored as f64 * 100.0 / raw_bytes.max(1) as f64,
        stats.packed_bytes as f64 / 1e6,
        stats.index_bytes as f64 / 1e6
    );
    if let Some((n, secs)) = rederived {
        println!(
            "| facts re-derived from the stored bytes (extractor {}, {cores} cores) | {:.0} records/s ({n} records in {secs:.1} s) |",
            ingest::facts::FACTS_EXTRACTOR,
            n as f64 / secs
        );
    }
    let du = disk_usage(&region);
    println!(
        "| raw tree on disk (4 KiB blocks, `du`) | {:.1} MB |",
        du as f64 / 1e6
    );
    Ok(())
}

#[derive(Clone, Copy)]
enum Stage {
    Decode,
    Er7,
    Header,
    Typed,
}

impl Stage {
    fn label(self) -> &'static str {
        match self {
            Stage::Decode => "decode ISO-2022-JP",
            Stage::Er7 => "+ ER7 parse",
            Stage::Header => "+ SS-MIX2 checks and header (what import does)",
            Stage::Typed => "+ full typed record",
        }
    }
}

/// Run one stage over every message on the current thread: (total time, per-message
/// latencies, messages that failed).
fn parse_stage(
    files: &[(ssmix2::DataKind, Vec<u8>)],
    stage: Stage,
) -> (Duration, Vec<Duration>, u64) {
    let mut lat = Vec::with_capacity(files.len());
    let mut failures = 0u64;
    let start = Instant::now();
    for (kind, bytes) in files {
        let t = Instant::now();
        let ok = match hl7::decode(bytes) {
            Err(_) => false,
            Ok(d) => match stage {
                Stage::Decode => !d.text.is_empty(),
                _ => match hl7::Message::parse(d.text) {
                    Err(_) => false,
                    Ok(m) => match stage {
                        Stage::Header => ssmix2::read_record_header(*kind, &m).is_ok(),
                        Stage::Typed => ssmix2::read_record(*kind, &m).is_ok(),
                        _ => m.segment_count() > 0,
                    },
                },
            },
        };
        lat.push(t.elapsed());
        failures += u64::from(!ok);
    }
    (start.elapsed(), lat, failures)
}

/// Allocated size of a tree (what the raw files really cost on a filesystem).
fn disk_usage(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    fn walk(p: &Path) -> u64 {
        let Ok(rd) = std::fs::read_dir(p) else {
            return 0;
        };
        rd.flatten()
            .map(|e| match e.metadata() {
                Ok(m) if m.is_dir() => m.blocks() * 512 + walk(&e.path()),
                Ok(m) => m.blocks() * 512,
                Err(_) => 0,
            })
            .sum()
    }
    walk(path)
}
