//! `renkei bench viewer`: server time of the clinician viewer's screens for one patient with
//! ≥ 5,000 records, on a store of ≥ 10M records (issue 4's benchmark).
//!
//! The store is built once in `--work DIR` (reuse it with `--reuse`): a synthetic region is
//! generated and imported, the demo network is set up on it (named facilities, users,
//! auto-link, consent — the same code as `serve --demo`), then
//! `SqliteStore::scale_for_benchmark` copies its patients up to the wanted size and adds the
//! large target patient at two facilities, which is enrolled and consented to through the
//! service like any patient.
//!
//! With `--database-url postgres://…` the same is built on PostgreSQL instead (issue 6): the
//! same region imported with the same importer into an empty database (packs in
//! `--work/viewer-pg/blobs`), the same network set-up, `PgStore::scale_for_benchmark` (the
//! same copies, in SQL) and the same enrolment, then the same screens are timed.
//!
//! What is timed is the service call each screen's HTTP handler makes — the gate's decisions,
//! the store reads and the audit append (one fsync'd write per look) — without HTML rendering
//! and HTTP. Each screen is one small function in [`SCREENS`].

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use model::{ConsentScope, Date, LocalPatient, RegionalId, UnixTime};
use serde::{Deserialize, Serialize};
use service::{Network, Principal};
use store::Store;
use store_postgres::{BlobsLocation, PgConfig, PgStore};
use store_sqlite::{ScaleOptions, SqliteStore};

use crate::bench::percentile;

/// The goal for every screen.
const GOAL: Duration = Duration::from_millis(100);
/// The store size.
const TARGET_STORE_RECORDS: u64 = 10_000_000;
/// Local patient ID of the large patient at both of its facilities.
const TARGET_LOCAL_ID: &str = "BENCH5000";
/// Untimed calls per screen first: the first look at a patient reads its pages from disk,
/// later ones from the page cache, and a clinician opening several tabs is the latter.
const WARMUP: usize = 3;
/// The store's description, next to the database.
const INFO_FILE: &str = "bench-viewer.json";

pub struct Args {
    pub work: PathBuf,
    pub patients: usize,
    pub seed: u64,
    pub copies: Option<usize>,
    pub target_records: usize,
    pub iterations: usize,
    pub reuse: bool,
    /// Build and time on this PostgreSQL database (empty for a build) instead of the
    /// embedded store.
    pub database_url: Option<String>,
}

/// Where the benchmark store lives.
enum Backend {
    Sqlite,
    Postgres(PgConfig),
}

impl Backend {
    fn label(&self) -> &'static str {
        match self {
            Backend::Sqlite => "embedded SQLite store",
            Backend::Postgres(_) => "PostgreSQL",
        }
    }

    fn folder(&self, work: &Path) -> PathBuf {
        store_folder(work, matches!(self, Backend::Postgres(_)))
    }
}

/// The folder of the store (SQLite) or of its packs and description (PostgreSQL) in `work`.
pub(crate) fn store_folder(work: &Path, postgres: bool) -> PathBuf {
    if postgres {
        work.join("viewer-pg")
    } else {
        work.join("viewer-store")
    }
}

/// What was built, kept in the store folder so that `--reuse` can time it again.
#[derive(Serialize, Deserialize)]
pub(crate) struct StoreInfo {
    pub(crate) regional_id: String,
    target_local_id: String,
    /// (facility code, records of the target patient there)
    target: Vec<(String, u64)>,
    target_name_kana: String,
    target_name_kanji: String,
    pub(crate) base_records: u64,
    pub(crate) copies: usize,
    pub(crate) records: u64,
    pub(crate) local_patients: u64,
    lab_results: u64,
    /// `YYYYMMDD`: the synthetic history's last day.
    data_end: String,
    import_secs: f64,
    scale_secs: f64,
    /// PostgreSQL: seconds of `VACUUM (ANALYZE)` after scaling.
    #[serde(default)]
    vacuum_secs: f64,
}

/// What every screen function gets.
pub struct Ctx {
    pub net: Network,
    /// A doctor at a hospital, signed in with password + TOTP.
    pub doctor: Principal,
    pub target: RegionalId,
    /// The lab matrix's range: the last year of the synthetic history.
    pub lab_from: String,
    pub lab_to: String,
    /// For the name search slot: the target patient's name in katakana.
    pub target_name_kana: String,
}

type ScreenFuture<'a> = Pin<Box<dyn Future<Output = Result<usize>> + Send + 'a>>;

/// One measured screen: its service call, returning how many items it shows.
pub struct Screen {
    pub name: &'static str,
    pub run: for<'a> fn(&'a Ctx) -> ScreenFuture<'a>,
}

/// The screens timed, in order. Each entry is one service call, as its handler makes it.
pub const SCREENS: &[Screen] = &[
    Screen {
        name: "summary (一目でわかる)",
        run: summary,
    },
    Screen {
        name: "timeline, first page",
        run: timeline_first_page,
    },
    Screen {
        name: "lab matrix (1 year)",
        run: lab_matrix,
    },
    Screen {
        name: "medications + 二重投薬/重複検査",
        run: medications,
    },
    Screen {
        name: "record list (every record)",
        run: record_list,
    },
    Screen {
        name: "name search (kana, full name)",
        run: name_search,
    },
    Screen {
        name: "name search (kana, family name)",
        run: family_name_search,
    },
];

/// The gate must allow everything here (the target has consent for all facilities): a
/// refusal means the set-up is wrong and the timing would measure a refusal.
fn check_refused(screen: &str, refused: &[service::AccessRefusal]) -> Result<()> {
    if let Some(r) = refused.first() {
        bail!(
            "{screen}: the gate refused {} ({}): the benchmark set-up is wrong",
            r.code,
            r.reason
        );
    }
    Ok(())
}

/// The first page, as the timeline screen asks for it: newest first, no filters.
fn timeline_first_page(cx: &Ctx) -> ScreenFuture<'_> {
    Box::pin(async move {
        let t = cx
            .net
            .timeline(
                &cx.doctor,
                &cx.target,
                model::Purpose::Care,
                None,
                &service::TimelineQuery::default(),
            )
            .await?;
        check_refused("timeline", &t.refused)?;
        if t.items.is_empty() {
            bail!("timeline: the first page is empty");
        }
        Ok(t.items.len())
    })
}

/// Search the target by name as the doctor; the target must be found. Its name is shared by
/// its unlinked copies across the region, which the search must read past without showing.
async fn search_by(cx: &Ctx, name: &str) -> Result<usize> {
    let criteria = service::SearchCriteria {
        name: store::NameQuery::parse(name),
        limit: service::SEARCH_LIMIT,
        ..Default::default()
    };
    let r = cx.net.search_patients(&cx.doctor, &criteria).await?;
    if !r
        .hits
        .iter()
        .any(|h| h.regional_id.as_ref() == Some(&cx.target))
    {
        bail!(
            "name search: {} hits, the target patient is not among them",
            r.hits.len()
        );
    }
    Ok(r.hits.len())
}

fn name_search(cx: &Ctx) -> ScreenFuture<'_> {
    Box::pin(async move { search_by(cx, &cx.target_name_kana).await })
}

fn family_name_search(cx: &Ctx) -> ScreenFuture<'_> {
    Box::pin(async move {
        let family = cx
            .target_name_kana
            .split([' ', '\u{3000}'])
            .next()
            .unwrap_or(&cx.target_name_kana)
            .to_owned();
        search_by(cx, &family).await
    })
}

fn summary(cx: &Ctx) -> ScreenFuture<'_> {
    Box::pin(async move {
        let s = cx.net.patient_summary(&cx.doctor, &cx.target).await?;
        check_refused("summary", &s.refused)?;
        Ok(s.demographics.len()
            + s.allergies.len()
            + s.active_diagnoses.len()
            + s.current_medications.len()
            + s.latest_labs.len()
            + s.encounters.len())
    })
}

fn lab_matrix(cx: &Ctx) -> ScreenFuture<'_> {
    Box::pin(async move {
        let m = cx
            .net
            .lab_matrix(&cx.doctor, &cx.target, Some(&cx.lab_from), Some(&cx.lab_to))
            .await?;
        check_refused("lab matrix", &m.refused)?;
        Ok(m.tests
            .iter()
            .map(|t| t.cells.iter().flatten().count())
            .sum())
    })
}

fn medications(cx: &Ctx) -> ScreenFuture<'_> {
    Box::pin(async move {
        let m = cx.net.medications(&cx.doctor, &cx.target).await?;
        check_refused("medications", &m.refused)?;
        Ok(m.lines.len())
    })
}

fn record_list(cx: &Ctx) -> ScreenFuture<'_> {
    Box::pin(async move {
        let a = cx
            .net
            .patient_records(&cx.doctor, &cx.target, model::Purpose::Care, None)
            .await?;
        check_refused("record list", &a.refused)?;
        Ok(a.allowed.len())
    })
}

/// The benchmark store of `--work`, opened (`args.reuse`) or built.
pub(crate) struct BenchStore {
    pub store: Arc<dyn Store>,
    pub info: StoreInfo,
    /// The store folder (SQLite) or the folder of its packs and description (PostgreSQL).
    pub folder: PathBuf,
    pub label: &'static str,
}

/// The description file of the store `bench viewer` builds in `work`: it exists once a build
/// finished.
pub(crate) fn info_path(work: &Path, postgres: bool) -> PathBuf {
    store_folder(work, postgres).join(INFO_FILE)
}

/// Open the store built in `--work` (`args.reuse`) or build it.
pub(crate) async fn open_or_build(args: &Args) -> Result<BenchStore> {
    std::fs::create_dir_all(&args.work)
        .with_context(|| format!("creating {}", args.work.display()))?;
    let backend = match &args.database_url {
        None => Backend::Sqlite,
        Some(url) => Backend::Postgres(PgConfig {
            database_url: url.clone(),
            blobs: BlobsLocation::Local(args.work.join("viewer-pg").join("blobs")),
            max_connections: 4,
        }),
    };
    let data = backend.folder(&args.work);
    let info_path = data.join(INFO_FILE);
    let (store, info) = if args.reuse {
        let json = std::fs::read_to_string(&info_path).with_context(|| {
            format!(
                "--reuse: no benchmark store in {} (run once without --reuse)",
                data.display()
            )
        })?;
        let info: StoreInfo = serde_json::from_str(&json).context("reading bench-viewer.json")?;
        eprintln!("reusing the benchmark store in {}", data.display());
        let store: Arc<dyn Store> = match &backend {
            Backend::Sqlite => Arc::new(SqliteStore::open(&data)?),
            Backend::Postgres(config) => Arc::new(PgStore::connect(config).await?),
        };
        (store, info)
    } else {
        build(args, &backend, &data, &info_path).await?
    };
    Ok(BenchStore {
        store,
        info,
        folder: data,
        label: backend.label(),
    })
}

pub async fn run(args: Args) -> Result<()> {
    let BenchStore {
        store, info, label, ..
    } = open_or_build(&args).await?;
    let net = Network::new(store).with_test_hashing();
    let doctor = sign_in_demo(&net, "doctor").await?;
    let lab_to = info.data_end.clone();
    let lab_from = match lab_to.get(..4).and_then(|y| y.parse::<i32>().ok()) {
        Some(y) => format!("{}{}", y - 1, lab_to.get(4..).unwrap_or_default()),
        None => bail!("bench-viewer.json: data_end {lab_to:?} is not YYYYMMDD"),
    };
    let cx = Ctx {
        net,
        doctor,
        target: RegionalId::parse(&info.regional_id)
            .map_err(|e| anyhow::anyhow!("bench-viewer.json: regional ID: {e}"))?,
        lab_from,
        lab_to,
        target_name_kana: info.target_name_kana.clone(),
    };

    let iterations = args.iterations.max(1);
    let mut rows = Vec::new();
    for screen in SCREENS {
        eprintln!(
            "timing {}: {WARMUP} untimed + {iterations} calls",
            screen.name
        );
        let mut items = 0;
        for _ in 0..WARMUP {
            items = (screen.run)(&cx).await?;
        }
        let mut times = Vec::with_capacity(iterations);
        for _ in 0..iterations {
            let t = Instant::now();
            items = (screen.run)(&cx).await?;
            times.push(t.elapsed());
        }
        times.sort_unstable();
        rows.push((screen.name, items, times));
    }

    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "## renkei bench viewer — {} records ({} copies of a {}-record region), {} local patients, {} lab results — {}",
        info.records, info.copies, info.base_records, info.local_patients, info.lab_results, label
    );
    println!();
    let parts: Vec<String> = info
        .target
        .iter()
        .map(|(code, n)| format!("{n} at {code}"))
        .collect();
    println!(
        "target patient {} ({}, synthetic name {}): {} records ({}); service calls as the signed-in doctor, {WARMUP} untimed calls first",
        info.regional_id,
        info.target_local_id,
        cx.target_name_kana,
        info.target.iter().map(|t| t.1).sum::<u64>(),
        parts.join(", ")
    );
    println!();
    println!("| screen (service call) | items | iterations | p50 ms | p90 ms | p99 ms | max ms | p99 < 100 ms |");
    println!("|---|---|---|---|---|---|---|---|");
    for (name, items, times) in &rows {
        let p99 = percentile(times, 0.99);
        println!(
            "| {name} | {items} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {} |",
            times.len(),
            ms(percentile(times, 0.5)),
            ms(percentile(times, 0.9)),
            ms(p99),
            ms(times.last().copied().unwrap_or_default()),
            if p99 < GOAL { "pass" } else { "FAIL" }
        );
    }
    Ok(())
}

/// Sign in as a demo user (`doctor`, `admin`, `office`) with password + TOTP. A code works
/// once (replay protection), so a run started in the same 30-second step as the previous one
/// uses the next step's code, which the one-step clock-skew allowance accepts; a third run in
/// that step waits.
pub(crate) async fn sign_in_demo(net: &Network, login: &str) -> Result<Principal> {
    let mut last = None;
    // At most four failed attempts: the fifth would lock the account.
    for wait in [0, 65] {
        if wait > 0 {
            eprintln!("waiting {wait} s for an unused TOTP step (recent runs used them)…");
            tokio::time::sleep(Duration::from_secs(wait)).await;
        }
        for ahead in [0, 30] {
            let at = UnixTime::now().plus_seconds(ahead);
            let code = net.current_totp_for_tests(login, at).await?;
            match net
                .authenticate(login, crate::DEMO_PASSWORD, Some(&code), None, None)
                .await
            {
                Ok(p) => return Ok(p),
                Err(service::ServiceError::Unauthenticated(e)) => last = Some(e),
                Err(e) => return Err(e.into()),
            }
        }
    }
    bail!(
        "signing in as the demo user {login}: {}",
        last.unwrap_or_default()
    )
}

/// Generate, import, set up the network, scale, enrol the target patient.
async fn build(
    args: &Args,
    backend: &Backend,
    data: &Path,
    info_path: &Path,
) -> Result<(Arc<dyn Store>, StoreInfo)> {
    let region = args.work.join("region");
    if !region.join("manifest.json").exists() {
        eprintln!(
            "generating a synthetic region of {} patients (seed {}) in {}",
            args.patients,
            args.seed,
            region.display()
        );
        let t = Instant::now();
        let opts = synth::Options {
            patients: args.patients,
            seed: args.seed,
            ..Default::default()
        };
        let s = synth::generate(&opts, &region, &|_| {})?;
        eprintln!(
            "  {} messages in {:.1} s",
            s.messages,
            t.elapsed().as_secs_f64()
        );
    }
    let manifest = synth::Manifest::read(&region.join("manifest.json"))?;
    let remove_old = || -> Result<()> {
        if data.exists() {
            std::fs::remove_dir_all(data)
                .with_context(|| format!("removing the old benchmark store {}", data.display()))?;
        }
        Ok(())
    };
    let (sqlite, postgres) = match backend {
        Backend::Sqlite => {
            remove_old()?;
            (Some(Arc::new(SqliteStore::open(data)?)), None)
        }
        Backend::Postgres(config) => {
            let pg = Arc::new(PgStore::connect(config).await?);
            let stats = pg.stats().await?;
            if stats.facilities > 0 || stats.file_versions > 0 {
                bail!(
                    "{} is not empty ({} facilities, {} file versions): build into an empty database (dropdb/createdb), or time it again with --reuse",
                    store_postgres::redact_url(&config.database_url),
                    stats.facilities,
                    stats.file_versions
                );
            }
            // The database is empty: packs left in the folder belong to no store.
            remove_old()?;
            std::fs::create_dir_all(data)
                .with_context(|| format!("creating {}", data.display()))?;
            (None, Some(pg))
        }
    };
    let store: Arc<dyn Store> = match (&sqlite, &postgres) {
        (Some(s), _) => s.clone(),
        (_, Some(p)) => p.clone(),
        _ => bail!("no store"),
    };

    eprintln!("importing the region into the {}", backend.label());
    let t = Instant::now();
    for (code, root) in crate::region_facilities(&region)? {
        let id = store.facility(&code, true).await?.context("facility")?;
        ingest::import_tree(
            store.clone(),
            id,
            &root,
            &Default::default(),
            Arc::new(ingest::NoProgress),
        )
        .await?;
    }
    let import_secs = t.elapsed().as_secs_f64();
    let base_records = store.stats().await?.records;
    eprintln!("  {base_records} records in {import_secs:.1} s");

    eprintln!("setting up the network (facilities, users, auto-link, consent)");
    // Cheap password hashing: the timed calls never hash, and the set-up hashes six times.
    let net = Network::new(store.clone()).with_test_hashing();
    let demo = crate::demo_network(&net, &region).await?;
    eprintln!(
        "  {} local IDs linked into {} regional IDs, {} with consent",
        demo.linked,
        demo.ids.len(),
        demo.consented
    );

    let copies = args.copies.unwrap_or_else(|| {
        let wanted = TARGET_STORE_RECORDS.saturating_sub(args.target_records as u64);
        (wanted.div_ceil(base_records.max(1)) as usize).saturating_sub(1)
    });
    eprintln!(
        "scaling: {copies} copies of {base_records} records, then a {}-record patient",
        args.target_records
    );
    let start = Instant::now();
    let progress = move |done: usize, total: usize| {
        let secs = start.elapsed().as_secs_f64();
        let left = secs / done.max(1) as f64 * (total - done) as f64;
        eprintln!("  step {done}/{total}: {secs:.0} s elapsed, ~{left:.0} s left");
    };
    let options = ScaleOptions {
        copies,
        target_local_id: TARGET_LOCAL_ID.into(),
        target_records: args.target_records,
    };
    let report = match (&sqlite, &postgres) {
        (Some(sqlite), _) => {
            let scaler = sqlite.clone();
            tokio::task::spawn_blocking(move || scaler.scale_for_benchmark(&options, &progress))
                .await??
        }
        (_, Some(pg)) => pg.scale_for_benchmark(&options, &progress).await?,
        _ => bail!("no store"),
    };
    eprintln!(
        "  {} records, {} local patients in {:.1} s (+ {:.1} s VACUUM (ANALYZE))",
        report.records,
        report.local_patients,
        report.elapsed.as_secs_f64(),
        report.vacuum.as_secs_f64()
    );

    // The target patient joins the network like any patient: enrolled at both facilities by
    // the operations office, with consent for every facility.
    let locals: Vec<LocalPatient> = report
        .target
        .iter()
        .map(|t| LocalPatient {
            facility: t.facility.clone(),
            local_id: report.target_local_id.clone(),
        })
        .collect();
    let regional_id = net.enroll(&demo.office, &locals).await?;
    net.record_consent(
        &demo.office,
        service::ConsentInput {
            regional_id: regional_id.clone(),
            scope: ConsentScope::AllFacilities,
            valid_from: Date::parse("2020-04-01").context("date")?,
            valid_until: None,
            paper_form: "bench-viewer".into(),
            implied: false,
        },
    )
    .await?;
    let demographics = store
        .local_patient(locals.first().context("the target patient's facilities")?)
        .await?
        .context("the target patient's demographics")?;

    let info = StoreInfo {
        regional_id: regional_id.to_string(),
        target_local_id: report.target_local_id.clone(),
        target: report
            .target
            .iter()
            .map(|t| (t.facility.to_string(), t.records))
            .collect(),
        target_name_kana: demographics.name_kana,
        target_name_kanji: demographics.name_kanji,
        base_records,
        copies,
        records: report.records,
        local_patients: report.local_patients,
        lab_results: report.lab_results,
        data_end: manifest.end_date.replace('-', ""),
        import_secs,
        scale_secs: report.elapsed.as_secs_f64(),
        vacuum_secs: report.vacuum.as_secs_f64(),
    };
    std::fs::write(info_path, serde_json::to_string_pretty(&info)?)
        .with_context(|| format!("writing {}", info_path.display()))?;
    Ok((store, info))
}
