//! `renkei`: the command line of the regional network.

mod admin;
mod agent_cli;
mod bench;
mod bench_load;
mod bench_offsite;
mod bench_viewer;
mod cli_progress;
mod migrate_cli;
mod offsite_cli;
mod security_config;
mod serve_config;
mod store_config;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use model::FacilityCode;
use store::Store;

use crate::cli_progress::Bar;

#[derive(Parser)]
#[command(
    name = "renkei",
    version,
    about = "renkei — regional medical and welfare information network (地域医療福祉情報連携ネットワーク)"
)]
struct Cli {
    /// The network's data folder (database and raw SS-MIX2 packs).
    #[arg(
        long,
        global = true,
        env = "RENKEI_DATA",
        default_value = "renkei-data"
    )]
    data: PathBuf,
    /// Configuration file (off-site sites, replication token); default `<data>/renkei.toml`
    /// when it exists.
    #[arg(long, global = true, env = "RENKEI_CONFIG")]
    config: Option<PathBuf>,
    /// The network's database: `postgres://user@host/db` for the scale-out store (several
    /// servers on one database); default: the embedded store in the data folder
    /// (`[store] database_url` in the configuration file).
    #[arg(
        long,
        global = true,
        env = "RENKEI_DATABASE_URL",
        hide_env_values = true
    )]
    database_url: Option<String>,
    /// Where a PostgreSQL store keeps its packs: a folder (default `<data>/blobs`) or
    /// `s3://bucket/prefix` (endpoint and keys from `[store]` or AWS_* variables).
    #[arg(long, global = true, env = "RENKEI_BLOBS")]
    blobs: Option<String>,
    #[command(flatten)]
    sign_in: admin::SignIn,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Import a facility's SS-MIX2 storage (標準化ストレージ / 拡張ストレージ).
    Import {
        /// Facility code (10 digits). Not used with --region.
        #[arg(long, required_unless_present = "region")]
        facility: Option<FacilityCode>,
        /// Root of the facility's SS-MIX2 tree.
        #[arg(required_unless_present = "region")]
        path: Option<PathBuf>,
        /// Import every facility folder (named by facility code) under this folder, e.g. the
        /// output of `renkei synth`.
        #[arg(long, conflicts_with_all = ["facility", "path"])]
        region: Option<PathBuf>,
        /// PATH is only part of the facility's tree: files not found there stay current.
        #[arg(long)]
        partial: bool,
        /// Accept files whose last segment lacks its CR (some vendors never write it) with a
        /// notice, instead of quarantining them as truncated.
        #[arg(long)]
        accept_unterminated: bool,
    },
    /// Write a facility's SS-MIX2 tree back, byte for byte (disaster recovery).
    Export {
        #[arg(long)]
        facility: FacilityCode,
        /// New or empty folder to write the tree into.
        #[arg(long)]
        to: PathBuf,
    },
    /// Generate a synthetic region in SS-MIX2 (deterministic for a given seed).
    Synth {
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 100)]
        patients: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Number of facilities (default: derived from the number of patients).
        #[arg(long)]
        facilities: Option<usize>,
        /// Years of history.
        #[arg(long, default_value_t = 3)]
        years: u32,
        /// Fraction of files replaced by a broken one (truncated, wrong encoding, misplaced…).
        #[arg(long, default_value_t = 0.0)]
        faults: f64,
        /// Also write extended-storage files (vitals, discharge summaries).
        #[arg(long)]
        extended: bool,
    },
    /// Run the network's web server.
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080", env = "RENKEI_LISTEN")]
        listen: std::net::SocketAddr,
        /// Load a synthetic demo region first when the data folder is empty.
        #[arg(long)]
        demo: bool,
        /// Size of the demo region.
        #[arg(long, default_value_t = 200)]
        demo_patients: usize,
        /// Name shown on every page.
        #[arg(
            long,
            default_value = "renkei 地域医療連携ネットワーク",
            env = "RENKEI_NETWORK_NAME"
        )]
        network_name: String,
        /// Run as a replica of another renkei server (an empty data folder becomes one and
        /// stays one until `renkei promote`): it accepts the primary's shipments and serves
        /// nothing else. Needs a replication token in the configuration.
        #[arg(long)]
        replica: bool,
        /// PEM certificate chain: serve HTTPS (rustls) without a reverse proxy. Also
        /// `tls_cert` in `[server]`.
        #[arg(long, requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// PEM private key of the certificate.
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<PathBuf>,
    },
    /// Make this replica the primary (disaster recovery). Run with the server stopped.
    Promote,
    /// Move the whole network to another store — typically from the embedded SQLite store to
    /// PostgreSQL (+ S3) when it outgrows one machine — and compare the two afterwards (counts
    /// and checksums). Stop the servers first; the target must be empty.
    Migrate {
        /// The store to copy: `sqlite://DATA-FOLDER` or `postgres://…`.
        #[arg(long)]
        from: String,
        /// The store to fill: `postgres://…` or `sqlite://DATA-FOLDER`.
        #[arg(long)]
        to: String,
        /// Where a PostgreSQL source keeps its packs (default `<data>/blobs`).
        #[arg(long)]
        from_blobs: Option<String>,
        /// Where the PostgreSQL target puts its packs: a folder or `s3://bucket/prefix`
        /// (default `<data>/blobs`).
        #[arg(long)]
        to_blobs: Option<String>,
        /// Print the comparison as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write a facility's SS-MIX2 tree back, byte for byte, from this data folder or an
    /// off-site copy, as it stood now or at an earlier time (災害時の復元).
    ///
    /// With --network instead of --facility: rebuild the whole network (registry, consents,
    /// users, every facility's files, derived records, the audit chain) into this empty data
    /// folder (or empty PostgreSQL + bucket) from a bucket alone (ネットワーク全体の復旧).
    Restore {
        /// Facility code (10 digits).
        #[arg(long, required_unless_present = "network", conflicts_with = "network")]
        facility: Option<FacilityCode>,
        /// New or empty folder to write the tree into.
        #[arg(long, required_unless_present = "network", conflicts_with = "network")]
        to: Option<PathBuf>,
        /// Rebuild the whole network into the data folder from the site named by --from.
        #[arg(long, requires = "from")]
        network: bool,
        /// The time to restore: 2026-11-25 (end of that day, Japan time), "2026-11-25 14:00"
        /// (Japan time) or RFC 3339 (2026-11-25T05:00:00Z).
        #[arg(long)]
        as_of: Option<String>,
        /// A site of the configuration (`[[site]] name`), or `local` (default).
        #[arg(long)]
        from: Option<String>,
    },
    /// Check every stored content at every site (this data folder = `local`); report missing
    /// or corrupt ones, and with --repair mend them from a good copy.
    Verify {
        /// Check only these sites (repeatable); default all.
        #[arg(long)]
        site: Vec<String>,
        /// Mend each damaged copy from a good one (never deletes anything).
        #[arg(long)]
        repair: bool,
    },
    /// The off-site copies and how far behind each is (lag).
    Sites {
        /// One JSON document (for monitoring).
        #[arg(long)]
        json: bool,
    },
    /// Ship to every site now what it lacks (the server does this continuously).
    Ship {
        #[arg(long)]
        site: Vec<String>,
    },
    /// Store totals: facilities, files, records per kind, raw vs stored size.
    Stats,
    /// Files kept but not indexed, with the reason.
    Quarantine {
        #[arg(long)]
        facility: FacilityCode,
    },
    /// Import notices of a facility's latest runs (non-conforming encodings, two current files
    /// of one order …): accepted files the operator should take up with the facility.
    Notices {
        #[arg(long)]
        facility: FacilityCode,
        /// How many of the latest runs.
        #[arg(long, default_value_t = 10)]
        runs: usize,
    },
    /// Past imports and their summaries.
    Runs {
        #[arg(long)]
        facility: Option<FacilityCode>,
    },
    /// Digest of a facility's stored content (compare two stores).
    Digest {
        #[arg(long)]
        facility: FacilityCode,
    },
    /// Sign in (password + TOTP) and keep a session for the following commands.
    Login,
    /// End the kept session.
    Logout,
    /// Participating facilities (参加施設).
    Facility {
        #[command(subcommand)]
        cmd: admin::FacilityCommand,
    },
    /// Users, professions and sign-in (利用者).
    User {
        #[command(subcommand)]
        cmd: admin::UserCommand,
    },
    /// Enrolment (地域共通IDの発行) and access to a patient's records through the gate.
    Patient {
        #[command(subcommand)]
        cmd: admin::PatientCommand,
    },
    /// ID linkage (名寄せ・ID連携): links, candidates, merges.
    Link {
        #[command(subcommand)]
        cmd: admin::LinkCommand,
    },
    /// Consent (同意): record, withdraw, history.
    Consent {
        #[command(subcommand)]
        cmd: admin::ConsentCommand,
    },
    /// Network settings: permission matrix, implied consent, break-the-glass, match thresholds.
    Settings {
        #[command(subcommand)]
        cmd: admin::SettingsCommand,
    },
    /// The audit log (アクセスログ): verify, who saw a patient, user activity, emergencies.
    Audit {
        #[command(subcommand)]
        cmd: admin::AuditCommand,
    },
    /// The facility agent: upload the facility's SS-MIX2 storage to the network (off-site copy).
    Agent {
        #[command(subcommand)]
        cmd: agent_cli::AgentCommand,
    },
    /// The keys of the TOTP secrets at rest (暗号鍵): a new key file, or key rotation.
    Secrets {
        #[command(subcommand)]
        cmd: SecretsCommand,
    },
    /// Benchmarks.
    Bench {
        #[command(subcommand)]
        what: bench::BenchCommand,
    },
}

#[derive(Subcommand)]
enum SecretsCommand {
    /// Write a new key file (mode 0600), e.g. to keep the key outside the data folder
    /// (`[secrets] key_file`). Refuses to overwrite a file.
    NewKey {
        #[arg(long)]
        out: PathBuf,
    },
    /// Re-encrypt every TOTP secret with a new key, and write the new key first in the key
    /// file. Stop the servers first; give every server (and replica) the new key file before
    /// starting them again.
    Rotate {
        /// Keep the old keys in the key file (decrypt only), e.g. for restoring backups made
        /// before the rotation. Default: the old keys are dropped.
        #[arg(long)]
        keep_old: bool,
        /// Where to write the new keys when they come from RENKEI_SECRET_KEY (the environment
        /// cannot be rewritten): put this file's key into RENKEI_SECRET_KEY afterwards.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")
        .and_then(|rt| rt.block_on(run(cli)));
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // The chain of causes, without a backtrace: the operator needs the reason.
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The store this command works on (see [`store_config`]).
fn store_place(cli: &Cli) -> Result<store_config::StorePlace> {
    let config = offsite_cli::Config::load(cli.config.as_deref(), &cli.data)?;
    store_config::StorePlace::resolve(
        &config.store,
        &cli.data,
        cli.database_url.as_deref(),
        cli.blobs.as_deref(),
    )
}

/// An audit event for a command run directly on the data folder (import, export): the actor
/// is the operating-system account, since these commands work without a network sign-in (they
/// need file-system access to the data folder, which is the stronger credential).
fn local_event(action: audit::Action, target: &str) -> audit::Event {
    let who = std::env::var("SUDO_USER")
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_else(|_| "unknown".into());
    let mut e = audit::Event::new(model::UnixTime::now(), format!("local:{who}"), action);
    e.target = target.to_owned();
    e
}

/// The network over this command's store, with the sign-in settings and the keys of the
/// TOTP secrets (a key file is created in the data folder if there is none yet).
async fn network(
    place: &store_config::StorePlace,
    data: &Path,
    config: Option<&Path>,
    create_key: bool,
) -> Result<service::Network> {
    let config = offsite_cli::Config::load(config, data)?;
    let net = service::Network::new(place.open().await?);
    with_security(net, &config, data, create_key)
}

/// Apply `[sign_in]` and `[secrets]` to a network. `create_key`: a command that may store a
/// new TOTP secret (a primary's server, the user commands) creates the key file when there is
/// no key yet; the others must not (a replica or a restored folder needs the primary's key,
/// not a new one).
fn with_security(
    net: service::Network,
    config: &offsite_cli::Config,
    data: &Path,
    create_key: bool,
) -> Result<service::Network> {
    let (account, source) = config.sign_in.policies();
    let net = net.with_lockout(account, source);
    Ok(
        match security_config::load(&config.secrets, data, create_key)? {
            Some((keys, _)) => net.with_secret_keys(keys),
            None => net,
        },
    )
}

async fn facility_id(store: &dyn Store, code: &FacilityCode) -> Result<store::FacilityId> {
    match store.facility(code, false).await? {
        Some(id) => Ok(id),
        None => bail!("facility {code} has no data in this network (import it first)"),
    }
}

async fn run(cli: Cli) -> Result<()> {
    let place = store_place(&cli)?;
    let creates_secrets = matches!(cli.command, Command::User { .. });
    match cli.command {
        Command::Import {
            facility,
            path,
            region,
            partial,
            accept_unterminated,
        } => {
            let store = place.open().await?;
            let options = ingest::ImportOptions {
                partial,
                classify: ingest::ClassifyOptions {
                    accept_unterminated,
                },
            };
            let jobs: Vec<(FacilityCode, PathBuf)> = match (region, facility, path) {
                (Some(region), _, _) => region_facilities(&region)?,
                (None, Some(f), Some(p)) => vec![(f, p)],
                _ => bail!("give --facility CODE PATH, or --region DIR"),
            };
            let mut grand = ingest::ImportReport::default();
            for (code, path) in jobs {
                let id = store
                    .facility(&code, true)
                    .await?
                    .context("registering the facility")?;
                eprintln!("importing {} from {}", code, path.display());
                let report = ingest::import_tree(
                    store.clone(),
                    id,
                    &path,
                    &options,
                    Arc::new(Bar::new("files")),
                )
                .await
                .with_context(|| format!("importing facility {code}"))?;
                print_import_summary(&code, &report);
                let mut event = local_event(audit::Action::Import, code.as_str());
                event.detail = format!(
                    "{} files ({} new, {} quarantined) from {}",
                    report.totals.files_seen,
                    report.totals.files_new,
                    report.totals.quarantined,
                    path.display()
                );
                store.append_audit(vec![event]).await?;
                grand.totals.files_seen += report.totals.files_seen;
                grand.totals.files_new += report.totals.files_new;
                grand.elapsed += report.elapsed;
            }
            Ok(())
        }
        Command::Export { facility, to } => {
            let store = place.open().await?;
            let id = facility_id(store.as_ref(), &facility).await?;
            let result =
                ingest::export_tree(store.clone(), id, &to, Arc::new(Bar::new("files"))).await;
            let mut event = local_event(audit::Action::Export, facility.as_str());
            event.detail = match &result {
                Ok(r) => format!("{} files to {}", r.files, to.display()),
                Err(e) => {
                    event.outcome = audit::Outcome::Failed {
                        reason: e.to_string(),
                    };
                    to.display().to_string()
                }
            };
            store.append_audit(vec![event]).await?;
            let report = result?;
            println!(
                "exported facility {facility}: {} files, {:.1} MB to {} in {:.1} s",
                report.files,
                report.bytes as f64 / 1e6,
                to.display(),
                report.elapsed.as_secs_f64()
            );
            Ok(())
        }
        Command::Synth {
            out,
            patients,
            seed,
            facilities,
            years,
            faults,
            extended,
        } => {
            if !(0.0..=1.0).contains(&faults) {
                bail!("--faults must be between 0 and 1 (a fraction of files), not {faults}");
            }
            let opts = synth::Options {
                patients,
                seed,
                facilities,
                years,
                fault_rate: faults,
                extended,
                ..Default::default()
            };
            let bar = Bar::new("messages");
            ingest::Progress::start(&bar, opts.estimated_messages());
            let summary = synth::generate(&opts, &out, &|n| ingest::Progress::advance(&bar, n))
                .with_context(|| format!("generating a region in {}", out.display()))?;
            ingest::Progress::finish(&bar);
            println!(
                "synthetic region in {}: {} facilities, {} patients, {} files ({} messages, {:.1} MB), {} faults",
                out.display(),
                summary.facilities,
                summary.patients,
                summary.files,
                summary.messages,
                summary.bytes as f64 / 1e6,
                summary.faults
            );
            println!("manifest: {}", out.join("manifest.json").display());
            Ok(())
        }
        Command::Serve {
            listen,
            demo,
            demo_patients,
            network_name,
            replica,
            tls_cert,
            tls_key,
        } => {
            let config = offsite_cli::Config::load(cli.config.as_deref(), &cli.data)?;
            if cli.data.exists() {
                store::private::check_private_folder(&cli.data)?;
            }
            let serve_settings = config.server.settings(tls_cert, tls_key)?;
            let store = place.open().await?;
            let mut state = server::AppState::new(store.clone(), network_name);
            state.network = with_security(state.network.clone(), &config, &cli.data, !replica)?;
            let listen_options = serve_settings.apply(&mut state);
            state.replication_token = config.token()?;
            if replica {
                if state.replication_token.is_none() {
                    bail!("a replica needs a replication token: [replication] token_file = … in renkei.toml");
                }
                state.network.become_replica().await?;
            }
            state.replica = matches!(
                state.network.node_role().await?,
                store::NodeRole::Replica { .. }
            );
            if state.replica {
                println!(
                    "this data folder is a replica: accepting shipments only (promote with `renkei promote`)"
                );
            } else {
                if demo && store.facilities().await?.is_empty() {
                    load_demo(&state.network, &store, &cli.data, demo_patients).await?;
                }
                let sites = Arc::new(config.sites()?);
                if !sites.is_empty() {
                    let names: Vec<&str> = sites.iter().map(|s| s.name()).collect();
                    println!("shipping off-site copies to: {}", names.join(", "));
                    offsite_cli::ship_forever(
                        state.network.clone(),
                        sites.clone(),
                        config.interval(),
                    );
                }
                state.sites = sites;
            }
            // Facts read by an older extractor are re-derived in the background: pages show
            // the old facts of a record until its batch is replaced.
            {
                let store = store.clone();
                tokio::spawn(async move {
                    match ingest::backfill_facts(&store).await {
                        Ok(0) => {}
                        Ok(n) => println!("clinical facts read again from {n} stored records"),
                        Err(e) => eprintln!("reading clinical facts again stopped: {e}"),
                    }
                });
            }
            let scheme = if listen_options.tls.is_some() {
                "https"
            } else {
                "http"
            };
            println!(
                "renkei is serving {} on {scheme}://{listen}/ (Ctrl-C to stop)",
                cli.data.display()
            );
            tokio::select! {
                r = server::serve_with(state, listen, listen_options) => r.with_context(|| format!("serving on {listen}"))?,
                _ = tokio::signal::ctrl_c() => println!("stopping"),
            }
            Ok(())
        }
        Command::Migrate {
            from,
            to,
            from_blobs,
            to_blobs,
            json,
        } => {
            let config = offsite_cli::Config::load(cli.config.as_deref(), &cli.data)?;
            let source = store_config::StorePlace::parse(
                &from,
                &config.store,
                &cli.data,
                from_blobs.as_deref(),
            )
            .context("--from")?;
            let target =
                store_config::StorePlace::parse(&to, &config.store, &cli.data, to_blobs.as_deref())
                    .context("--to")?;
            migrate_cli::run(&source, &target, json).await?;
            carry_secret_key(&source, &config, &cli.data)
        }
        Command::Promote => {
            let network =
                network(&place, &cli.data, cli.config.as_deref(), creates_secrets).await?;
            let actor = local_event(audit::Action::FacilityChange, "").actor;
            let applied = network.promote(&actor).await?;
            println!(
                "{} is now the primary (replicated through version {}, audit entry {}). Start it with `renkei serve`; point facility agents at it.",
                cli.data.display(),
                applied.version,
                applied.audit
            );
            Ok(())
        }
        Command::Restore {
            facility,
            to,
            network: true,
            as_of,
            from,
        } if facility.is_none() && to.is_none() => {
            let config = offsite_cli::Config::load(cli.config.as_deref(), &cli.data)?;
            // The users' TOTP secrets arrive encrypted: they need the primary's key, kept
            // apart from the bucket, never a new one.
            let network = network(&place, &cli.data, cli.config.as_deref(), false).await?;
            let actor = local_event(audit::Action::FacilityChange, "").actor;
            offsite_cli::rebuild_network(
                &network,
                &config,
                from.as_deref().unwrap_or_default(),
                as_of.as_deref(),
                &actor,
            )
            .await
        }
        Command::Restore {
            facility: Some(facility),
            to: Some(to),
            network: false,
            as_of,
            from,
        } => {
            let config = offsite_cli::Config::load(cli.config.as_deref(), &cli.data)?;
            let network = service::Network::new(place.open_alongside().await?);
            let actor = local_event(audit::Action::Export, "").actor;
            offsite_cli::restore(
                &network,
                &config,
                &facility,
                &to,
                as_of.as_deref(),
                from.as_deref(),
                &actor,
            )
            .await
        }
        Command::Restore { .. } => {
            bail!("restore: give --facility CODE --to DIR, or --network --from SITE")
        }
        Command::Verify { site, repair } => {
            let config = offsite_cli::Config::load(cli.config.as_deref(), &cli.data)?;
            let network = service::Network::new(place.open_alongside().await?);
            if !offsite_cli::verify(&network, &config, &site, repair).await? {
                bail!(
                    "some copies are damaged{}",
                    if repair {
                        " and could not be repaired"
                    } else {
                        " (run with --repair)"
                    }
                );
            }
            Ok(())
        }
        Command::Sites { json } => {
            let config = offsite_cli::Config::load(cli.config.as_deref(), &cli.data)?;
            let network = service::Network::new(place.open_alongside().await?);
            let sites = config.sites()?;
            if json {
                let overview = network.site_overview(&sites).await?;
                println!("{}", serde_json::to_string_pretty(&overview)?);
                Ok(())
            } else {
                offsite_cli::print_sites(&network, &sites).await
            }
        }
        Command::Ship { site } => {
            let config = offsite_cli::Config::load(cli.config.as_deref(), &cli.data)?;
            let network = service::Network::new(place.open_alongside().await?);
            for s in config.sites()? {
                if !site.is_empty() && !site.iter().any(|n| n == s.name()) {
                    continue;
                }
                let r = network.ship_to(&s).await?;
                println!(
                    "{}: {} versions, {} registry changes, {} audit entries in {} shipments ({:.1} MB)",
                    s.name(),
                    r.versions,
                    r.registry_changes,
                    r.audit_entries,
                    r.shipments,
                    r.bytes as f64 / 1e6
                );
            }
            Ok(())
        }
        Command::Stats => {
            let store = place.open().await?;
            let s = store.stats().await?;
            println!("facilities        {}", s.facilities);
            println!("files (current)   {}", s.files);
            println!("file versions     {}", s.file_versions);
            println!(
                "records           {} ({} current)",
                s.records, s.current_records
            );
            println!("quarantined       {}", s.quarantined);
            println!("distinct contents {}", s.blobs);
            let stored = s.packed_bytes + s.index_bytes;
            println!(
                "raw bytes         {:.1} MB; stored {:.1} MB (packs {:.1} MB + index {:.1} MB) = {:.0}% of raw",
                s.raw_bytes as f64 / 1e6,
                stored as f64 / 1e6,
                s.packed_bytes as f64 / 1e6,
                s.index_bytes as f64 / 1e6,
                if s.raw_bytes > 0 { stored as f64 * 100.0 / s.raw_bytes as f64 } else { 0.0 }
            );
            for (kind, n) in &s.records_per_kind {
                println!("  {kind:<40} {n}");
            }
            Ok(())
        }
        Command::Quarantine { facility } => {
            let store = place.open().await?;
            let id = facility_id(store.as_ref(), &facility).await?;
            let entries = store.quarantine(id).await?;
            for q in &entries {
                match q.line {
                    Some(l) => println!("{}:{}: {}", q.path, l, q.reason),
                    None => println!("{}: {}", q.path, q.reason),
                }
            }
            eprintln!(
                "{} quarantined file(s) for facility {facility}",
                entries.len()
            );
            Ok(())
        }
        Command::Notices { facility, runs } => {
            let store = place.open().await?;
            let id = facility_id(store.as_ref(), &facility).await?;
            let all = store.import_runs(Some(id)).await?;
            let mut count = 0;
            for r in all.iter().rev().take(runs).rev() {
                for (path, message) in store.import_notices(store::ImportRunId(r.id)).await? {
                    println!("#{} {path}: {message}", r.id);
                    count += 1;
                }
            }
            eprintln!(
                "{count} notice(s) in the latest {} run(s) of facility {facility}",
                all.len().min(runs)
            );
            Ok(())
        }
        Command::Runs { facility } => {
            let store = place.open().await?;
            let id = match &facility {
                Some(code) => Some(facility_id(store.as_ref(), code).await?),
                None => None,
            };
            for r in store.import_runs(id).await? {
                let state = match (&r.finished_at, &r.totals) {
                    (Some(at), Some(t)) => format!(
                        "finished {at}: {} files, {} new, {} unchanged, {} quarantined, {} removed",
                        t.files_seen, t.files_new, t.duplicates, t.quarantined, r.removed
                    ),
                    _ => "interrupted (run the import again to complete it)".into(),
                };
                println!(
                    "#{} {} {} started {} — {}",
                    r.id, r.facility, r.source, r.started_at, state
                );
            }
            Ok(())
        }
        Command::Digest { facility } => {
            let store = place.open().await?;
            let id = facility_id(store.as_ref(), &facility).await?;
            println!("{}", store.content_digest(id).await?);
            Ok(())
        }
        Command::Secrets { cmd } => {
            let config = offsite_cli::Config::load(cli.config.as_deref(), &cli.data)?;
            secrets(cmd, &place, &config, &cli.data).await
        }
        Command::Bench { what } => bench::run(what).await,
        Command::Agent { cmd } => tokio::task::spawn_blocking(move || agent_cli::run(cmd))
            .await
            .context("the agent stopped")?,
        Command::Login => {
            admin::login(
                &network(&place, &cli.data, cli.config.as_deref(), creates_secrets).await?,
                &cli.data,
                &cli.sign_in,
            )
            .await
        }
        Command::Logout => {
            admin::logout(
                &network(&place, &cli.data, cli.config.as_deref(), creates_secrets).await?,
                &cli.data,
            )
            .await
        }
        Command::Facility { cmd } => {
            admin::facility(
                &network(&place, &cli.data, cli.config.as_deref(), creates_secrets).await?,
                &cli.data,
                &cli.sign_in,
                cmd,
            )
            .await
        }
        Command::User { cmd } => {
            admin::user(
                &network(&place, &cli.data, cli.config.as_deref(), creates_secrets).await?,
                &cli.data,
                &cli.sign_in,
                cmd,
            )
            .await
        }
        Command::Patient { cmd } => {
            admin::patient(
                &network(&place, &cli.data, cli.config.as_deref(), creates_secrets).await?,
                &cli.data,
                &cli.sign_in,
                cmd,
            )
            .await
        }
        Command::Link { cmd } => {
            admin::link(
                &network(&place, &cli.data, cli.config.as_deref(), creates_secrets).await?,
                &cli.data,
                &cli.sign_in,
                cmd,
            )
            .await
        }
        Command::Consent { cmd } => {
            admin::consent(
                &network(&place, &cli.data, cli.config.as_deref(), creates_secrets).await?,
                &cli.data,
                &cli.sign_in,
                cmd,
            )
            .await
        }
        Command::Settings { cmd } => {
            admin::settings(
                &network(&place, &cli.data, cli.config.as_deref(), creates_secrets).await?,
                &cli.data,
                &cli.sign_in,
                cmd,
            )
            .await
        }
        Command::Audit { cmd } => {
            let wants_sites = matches!(&cmd, admin::AuditCommand::Verify { against_site, .. } if !against_site.is_empty());
            let sites = if wants_sites {
                offsite_cli::Config::load(cli.config.as_deref(), &cli.data)?.sites()?
            } else {
                Vec::new()
            };
            if admin::audit(
                &network(&place, &cli.data, cli.config.as_deref(), creates_secrets).await?,
                &cli.data,
                &cli.sign_in,
                cmd,
                &sites,
            )
            .await?
            {
                Ok(())
            } else {
                std::process::exit(3)
            }
        }
    }
}

/// After `migrate` from an embedded store: the TOTP secrets it copied are encrypted with that
/// data folder's key file, so copy the key here when this data folder has no key yet (the
/// environment and `[secrets] key_file` are the operator's own choice, and are left alone).
fn carry_secret_key(
    source: &store_config::StorePlace,
    config: &offsite_cli::Config,
    data: &Path,
) -> Result<()> {
    let store_config::StorePlace::Sqlite(from) = source else {
        return Ok(());
    };
    let from_key = from.join(security_config::DEFAULT_KEY_FILE);
    let here = security_config::key_file(&config.secrets, data);
    if std::env::var(security_config::KEY_ENV).is_ok_and(|v| !v.trim().is_empty())
        || config.secrets.key_file.is_some()
        || !from_key.exists()
        || here.exists()
        || from_key == here
    {
        return Ok(());
    }
    let keys = security_config::read_key_file(&from_key)?;
    store::private::prepare_private_folder(data)?;
    security_config::write_key_file(&here, &keys)?;
    eprintln!(
        "copied the secret key of the TOTP secrets from {} to {}",
        from_key.display(),
        here.display()
    );
    Ok(())
}

/// `renkei secrets …`.
async fn secrets(
    cmd: SecretsCommand,
    place: &store_config::StorePlace,
    config: &offsite_cli::Config,
    data: &Path,
) -> Result<()> {
    use security_config::KeySource;
    match cmd {
        SecretsCommand::NewKey { out } => {
            if out.exists() {
                bail!("{} exists already; choose another file", out.display());
            }
            let keys = auth::Keyring::new(auth::SecretKey::generate()?, []);
            security_config::write_key_file(&out, &keys)?;
            println!(
                "wrote a new key ({}) to {} (mode 0600)",
                keys.current().id(),
                out.display()
            );
            Ok(())
        }
        SecretsCommand::Rotate { keep_old, out } => {
            let Some((old, source)) = security_config::load(&config.secrets, data, false)? else {
                bail!(
                    "no secret key is configured ({} or {}): nothing to rotate",
                    security_config::KEY_ENV,
                    security_config::key_file(&config.secrets, data).display()
                );
            };
            let target = match (&source, out) {
                (_, Some(out)) => out,
                (KeySource::File(path), None) => path.clone(),
                (KeySource::Environment, None) => bail!(
                    "the keys come from {}: give --out FILE for the new keys, then put them into {}",
                    security_config::KEY_ENV,
                    security_config::KEY_ENV
                ),
            };
            let new_key = auth::SecretKey::generate()?;
            let reading = auth::Keyring::new(new_key.clone(), old.keys().to_vec());
            // The new key is written (with the old ones) before any secret is re-encrypted
            // with it: whatever happens next, every stored secret stays readable.
            security_config::write_key_file(&target, &reading)?;
            let net = service::Network::new(place.open().await?).with_secret_keys(reading);
            let actor = local_event(audit::Action::UserChange, "").actor;
            let (resealed, current) = net.reseal_totp_secrets(&actor).await?;
            if !keep_old {
                security_config::write_key_file(&target, &auth::Keyring::new(new_key.clone(), []))?;
            }
            let old_ids: Vec<&str> = old.keys().iter().map(|k| k.id()).collect();
            println!(
                "TOTP secrets re-encrypted with the new key {}: {resealed} re-encrypted, {current} already current; old key{} {} {}",
                new_key.id(),
                if old_ids.len() == 1 { "" } else { "s" },
                old_ids.join(", "),
                if keep_old { "kept (decrypt only)" } else { "dropped" }
            );
            println!(
                "keys written to {}; give this key to every server and replica of the network before starting them again{}",
                target.display(),
                if source == KeySource::Environment {
                    format!(" (as {})", security_config::KEY_ENV)
                } else {
                    String::new()
                }
            );
            Ok(())
        }
    }
}

/// Generate and import a synthetic region so a new user sees a working network at once.
async fn load_demo(
    net: &service::Network,
    store: &Arc<dyn Store>,
    data: &Path,
    patients: usize,
) -> Result<()> {
    let region = data.join("demo-region");
    println!(
        "loading demo data: synthetic region of {patients} patients in {}",
        region.display()
    );
    if !region.join("manifest.json").exists() {
        // The history ends today (JST): current medications, the recent window and the
        // medication calendar show something (the seed keeps it reproducible for a day).
        let today = model::UnixTime::now().date_jst().compact();
        let ymd = |a: usize, b: usize| today.get(a..b).and_then(|s| s.parse().ok());
        let end_date = match (ymd(0, 4), ymd(4, 6), ymd(6, 8)) {
            (Some(y), Some(m), Some(d)) => (y as i32, m, d),
            _ => synth::Options::default().end_date,
        };
        let opts = synth::Options {
            patients,
            seed: 1,
            extended: true,
            fault_rate: 0.002,
            end_date,
            ..Default::default()
        };
        synth::generate(&opts, &region, &|_| {}).context("generating the demo region")?;
    }
    for (code, path) in region_facilities(&region)? {
        let id = store
            .facility(&code, true)
            .await?
            .context("registering the facility")?;
        let r = ingest::import_tree(
            store.clone(),
            id,
            &path,
            &Default::default(),
            Arc::new(ingest::NoProgress),
        )
        .await?;
        println!(
            "  {code}: {} files, {} quarantined",
            r.totals.files_seen, r.totals.quarantined
        );
    }
    demo_registry(net, &region).await
}

/// The demo network's people (see [`demo_network`]), printed with their logins.
async fn demo_registry(net: &service::Network, region: &Path) -> Result<()> {
    let demo = demo_network(net, region).await?;
    let DemoNetwork {
        secrets,
        people,
        linked,
        ids,
        consented,
        ..
    } = demo;
    println!(
        "demo registry: {linked} local IDs linked into {} regional IDs, {consented} with consent",
        ids.len()
    );
    println!();
    println!("demo logins (password {DEMO_PASSWORD}; add the TOTP secret to an authenticator app, or `oathtool --totp -b SECRET`):");
    for (login, totp) in &secrets {
        let facility = people
            .iter()
            .find(|p| p.0 == *login)
            .map(|p| p.1.join(","))
            .unwrap_or_default();
        println!(
            "  {login:<11} {facility:<10}  TOTP secret {}",
            totp.to_base32()
        );
    }
    if let Some(id) = ids.first() {
        println!(
            "  try regional ID {id} (consented){}",
            ids.get(4)
                .map(|x| format!(" and {x} (no consent)"))
                .unwrap_or_default()
        );
    }
    println!();
    Ok(())
}

/// Password of every demo (and benchmark) user.
pub(crate) const DEMO_PASSWORD: &str = "renkei-Demo-2026";

/// What [`demo_network`] set up.
pub(crate) struct DemoNetwork {
    /// Signed in as the operations office (事務局), to enrol and record consent.
    pub office: service::Principal,
    /// Login and TOTP secret of every user, the administrator first.
    pub secrets: Vec<(String, auth::TotpSecret)>,
    /// Login and facility codes of every user but the administrator.
    pub people: Vec<(String, Vec<String>)>,
    /// Local IDs linked by auto-link.
    pub linked: usize,
    /// Regional IDs, in the order of the local patients.
    pub ids: Vec<model::RegionalId>,
    pub consented: usize,
}

/// The demo network's people: facilities named from the region's manifest, an administrator,
/// the operations office and clinicians; patients enrolled by auto-link; consent recorded for
/// most of them (every fifth has none, so refusals can be seen). Demo passwords only. Shared
/// by `serve --demo` and `bench viewer` (which passes a network with cheap password hashing).
pub(crate) async fn demo_network(net: &service::Network, region: &Path) -> Result<DemoNetwork> {
    use model::{ConsentScope, Date, Facility, FacilityKind, FacilityStatus, Profession};
    const PASSWORD: &str = DEMO_PASSWORD;
    let store = net.store();
    let manifest = synth::Manifest::read(&region.join("manifest.json"))?;
    let admin_totp = net
        .bootstrap_admin("admin", "管理者 (demo)", PASSWORD)
        .await?;
    let now = model::UnixTime::now();
    let admin = net
        .authenticate(
            "admin",
            PASSWORD,
            Some(&admin_totp.code_at(now)),
            None,
            None,
        )
        .await?;
    for f in &manifest.facilities {
        let kind = FacilityKind::parse(&f.kind).unwrap_or(FacilityKind::Other);
        let facility = Facility {
            code: FacilityCode::parse(&f.code)?,
            name: f.name.clone(),
            kind,
            area: f.area.clone(),
            status: FacilityStatus::Participating,
            discloses: true,
            views: true,
        };
        net.put_facility(&admin, facility).await?;
    }
    // The nurse works at a clinic and a home-nursing station (訪問看護), so signing in asks
    // which facility she acts for.
    let mut people: Vec<(&str, &str, Profession, Vec<String>)> = vec![(
        "office",
        "事務局 (demo)",
        Profession::NetworkOperator,
        vec![],
    )];
    for (login, name, profession, kinds) in [
        (
            "doctor",
            "医師 (demo)",
            Profession::Doctor,
            &["hospital"][..],
        ),
        (
            "nurse",
            "看護師 (demo)",
            Profession::Nurse,
            &["clinic", "home_nursing"][..],
        ),
        (
            "pharmacist",
            "薬剤師 (demo)",
            Profession::Pharmacist,
            &["pharmacy"][..],
        ),
        (
            "care",
            "介護職員 (demo)",
            Profession::CareWorker,
            &["care_facility"][..],
        ),
    ] {
        // A small region may lack a kind (no home-nursing station): then another facility of
        // the first kind stands in, so the nurse still has two.
        let mut codes: Vec<String> = Vec::new();
        for kind in kinds {
            let pick = |k: &str, codes: &[String]| {
                manifest
                    .facilities
                    .iter()
                    .find(|f| f.kind == k && !codes.contains(&f.code))
                    .map(|f| f.code.clone())
            };
            if let Some(code) = pick(kind, &codes).or_else(|| pick(kinds[0], &codes)) {
                codes.push(code);
            }
        }
        if codes.is_empty() {
            codes.extend(manifest.facilities.first().map(|f| f.code.clone()));
        }
        if !codes.is_empty() {
            people.push((login, name, profession, codes));
        }
    }
    let mut secrets = vec![("admin".to_owned(), admin_totp)];
    for (login, name, profession, facility) in &people {
        let facilities = facility
            .iter()
            .map(|c| FacilityCode::parse(c))
            .collect::<Result<Vec<_>, _>>()?;
        let totp = net
            .add_user(
                &admin,
                service::NewUser {
                    login: (*login).into(),
                    display_name: (*name).into(),
                    profession: *profession,
                    facilities,
                    password: PASSWORD.into(),
                },
            )
            .await?;
        secrets.push(((*login).to_owned(), totp));
    }
    let office_totp = &secrets
        .iter()
        .find(|(l, _)| l == "office")
        .context("office user")?
        .1;
    let office = net
        .authenticate(
            "office",
            PASSWORD,
            Some(&office_totp.code_at(now)),
            None,
            None,
        )
        .await?;
    let linked = net.auto_link(&office).await?;
    let mut ids: Vec<model::RegionalId> = Vec::new();
    for (lp, _) in store.local_patients().await? {
        if let Some(id) = store.regional_id_of(&lp).await? {
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
    }
    let mut consented = 0;
    for (i, id) in ids.iter().enumerate() {
        if i % 5 == 4 {
            continue;
        }
        net.record_consent(
            &office,
            service::ConsentInput {
                regional_id: id.clone(),
                scope: ConsentScope::AllFacilities,
                valid_from: Date::parse("2020-04-01").context("date")?,
                valid_until: None,
                paper_form: format!("demo-{:04}", i + 1),
                implied: false,
            },
        )
        .await?;
        consented += 1;
    }
    Ok(DemoNetwork {
        office,
        secrets,
        people: people
            .into_iter()
            .map(|(login, _, _, facility)| (login.to_owned(), facility))
            .collect(),
        linked,
        ids,
        consented,
    })
}

/// The facility folders of a region: sub-folders named by a 10-digit code.
fn region_facilities(region: &Path) -> Result<Vec<(FacilityCode, PathBuf)>> {
    let mut out = Vec::new();
    for entry in
        std::fs::read_dir(region).with_context(|| format!("reading {}", region.display()))?
    {
        let entry = entry?;
        if !entry.file_type()?.is_dir() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        match FacilityCode::parse(&name) {
            Ok(code) => out.push((code, entry.path())),
            Err(_) => eprintln!(
                "skipping {}: not named by a facility code",
                entry.path().display()
            ),
        }
    }
    out.sort();
    if out.is_empty() {
        bail!(
            "{} holds no facility folders (folders named by a 10-digit facility code)",
            region.display()
        );
    }
    Ok(out)
}

fn print_import_summary(code: &FacilityCode, r: &ingest::ImportReport) {
    let t = &r.totals;
    let secs = r.elapsed.as_secs_f64().max(1e-9);
    println!("facility {code}: import finished in {secs:.1} s");
    println!("  files seen           {}", t.files_seen);
    println!("  new or changed       {}", t.files_new);
    println!("  skipped (unchanged)  {}", t.duplicates);
    println!("  quarantined          {}", t.quarantined);
    println!("  removed from tree    {}", r.removed);
    println!("  notices              {}", t.notices);
    println!(
        "  read {:.1} MB, stored {:.1} MB new packs; {:.0} files/s",
        r.bytes_read as f64 / 1e6,
        r.packed_bytes as f64 / 1e6,
        t.files_seen as f64 / secs
    );
    if !t.messages_per_kind.is_empty() {
        println!("  messages per kind:");
        for (kind, n) in &t.messages_per_kind {
            let label = ssmix2::DataKind::from_code(kind)
                .map(|k| k.label_ja())
                .unwrap_or("拡張ストレージ");
            println!("    {kind:<8} {n:>9}  {label}");
        }
    }
    const SHOW: usize = 20;
    for (path, reason, line) in r.quarantined.iter().take(SHOW) {
        match line {
            Some(l) => println!("  QUARANTINED {path}:{l}: {reason}"),
            None => println!("  QUARANTINED {path}: {reason}"),
        }
    }
    if r.quarantined.len() > SHOW {
        println!(
            "  … {} more: renkei quarantine --facility {code}",
            r.quarantined.len() - SHOW
        );
    }
    for (path, notice) in r.notices.iter().take(SHOW) {
        println!("  NOTICE {path}: {notice}");
    }
    if r.notices.len() > SHOW {
        println!("  … {} more notices", r.notices.len() - SHOW);
    }
}
