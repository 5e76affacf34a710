//! Off-site copies from the command line: the configuration file's `[replication]` and
//! `[[site]]` sections, the shipping loop of `serve`, and `promote`, `restore`, `verify`,
//! `sites`, `ship`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use model::FacilityCode;
use replication::SiteConfig;
use serde::Deserialize;
use service::offsite::{RestoreSource, Site, SiteCheck};
use service::Network;

/// `renkei.toml`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub replication: ReplicationSection,
    #[serde(default, rename = "site")]
    pub sites: Vec<SiteConfig>,
    #[serde(default)]
    pub store: crate::store_config::StoreSection,
    #[serde(default)]
    pub server: crate::serve_config::ServerSection,
    #[serde(default)]
    pub secrets: crate::security_config::SecretsSection,
    #[serde(default)]
    pub sign_in: crate::security_config::SignInSection,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplicationSection {
    /// The token a primary (or `restore --from` / `verify --site` elsewhere) must present to
    /// this server's replication endpoints; makes `serve --replica` possible. Each `[[site]]`
    /// carries the token of that site.
    pub token: Option<String>,
    pub token_file: Option<String>,
    pub token_env: Option<String>,
    /// Seconds between shipping rounds on a primary (default 5).
    pub interval_seconds: Option<u64>,
}

impl Config {
    /// `--config FILE`, else `<data>/renkei.toml` when it exists, else no configuration.
    pub fn load(explicit: Option<&Path>, data: &Path) -> Result<Config> {
        let path: PathBuf = match explicit {
            Some(p) => p.to_owned(),
            None => {
                let p = data.join("renkei.toml");
                if !p.exists() {
                    return Ok(Config::default());
                }
                p
            }
        };
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading the configuration file {}", path.display()))?;
        let config: Config = toml::from_str(&text)
            .with_context(|| format!("configuration file {}", path.display()))?;
        let mut names = std::collections::HashSet::new();
        for s in &config.sites {
            if s.name.is_empty() || s.name == "local" || !names.insert(s.name.as_str()) {
                bail!(
                    "configuration file {}: every [[site]] needs a unique `name` other than \"local\" (found {:?})",
                    path.display(),
                    s.name
                );
            }
        }
        Ok(config)
    }

    pub fn token(&self) -> Result<Option<String>> {
        let r = &self.replication;
        let probe = SiteConfig {
            name: "replication".into(),
            ..SiteConfig::default()
        };
        Ok(probe.secret("replication token", &r.token, &r.token_file, &r.token_env)?)
    }

    pub fn sites(&self) -> Result<Vec<Site>> {
        self.sites
            .iter()
            .map(|c| Site::from_config(c).with_context(|| format!("site {}", c.name)))
            .collect()
    }

    pub fn site(&self, name: &str) -> Result<Site> {
        let Some(cfg) = self.sites.iter().find(|s| s.name == name) else {
            let known: Vec<&str> = self.sites.iter().map(|s| s.name.as_str()).collect();
            bail!(
                "no site named {name:?} in the configuration (sites: {})",
                if known.is_empty() {
                    "none".into()
                } else {
                    known.join(", ")
                }
            );
        };
        Ok(Site::from_config(cfg)?)
    }

    pub fn interval(&self) -> Duration {
        Duration::from_secs(self.replication.interval_seconds.unwrap_or(5).max(1))
    }
}

/// The primary's shipping loops, one per site so that a slow or unreachable site never holds
/// up another: every interval, the site gets what it lacks. Failures are recorded in the
/// site's state (the office sees them with the lag) and retried next round.
pub fn ship_forever(network: Network, sites: Arc<Vec<Site>>, interval: Duration) {
    for index in 0..sites.len() {
        let (network, sites) = (network.clone(), sites.clone());
        tokio::spawn(async move {
            let site = &sites[index];
            loop {
                let round: std::pin::Pin<Box<dyn std::future::Future<Output = _> + Send + '_>> =
                    Box::pin(network.ship_to(site));
                if let Err(e) = round.await {
                    eprintln!("replication to site {}: {e}", site.name());
                }
                tokio::time::sleep(interval).await;
            }
        });
    }
}

pub async fn print_sites(network: &Network, sites: &[Site]) -> Result<()> {
    if sites.is_empty() {
        println!("no sites configured ([[site]] in renkei.toml)");
        return Ok(());
    }
    println!(
        "{:<16} {:<7} {:>10} {:>9} {:>9} {:>8}  last success / last error",
        "site", "kind", "versions", "registry", "audit", "lag (s)"
    );
    for o in network.site_overview(sites).await? {
        println!(
            "{:<16} {:<7} {:>10} {:>9} {:>9} {:>8}  {}{}",
            o.name,
            o.kind,
            o.backlog.versions,
            o.backlog.registry,
            o.backlog.audit,
            o.lag_seconds,
            o.state.last_ok_at.as_deref().unwrap_or("never"),
            o.state
                .last_error
                .as_deref()
                .map(|e| format!(" / {e}"))
                .unwrap_or_default()
        );
    }
    println!("(versions/registry/audit: items not yet at the site)");
    Ok(())
}

pub async fn restore(
    network: &Network,
    config: &Config,
    facility: &FacilityCode,
    to: &Path,
    as_of: Option<&str>,
    from: Option<&str>,
    actor: &str,
) -> Result<()> {
    let as_of = as_of.map(service::offsite::as_of).transpose()?;
    let site = from
        .filter(|f| *f != "local")
        .map(|f| config.site(f))
        .transpose()?;
    let source = match &site {
        Some(s) => RestoreSource::Site(s),
        None => RestoreSource::Local,
    };
    let started = std::time::Instant::now();
    let report = network
        .restore_facility(facility, to, as_of.as_deref(), source, actor)
        .await?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "restored facility {facility}{} from {}: {} files, {:.1} MB in {:.1} s into {}",
        as_of.map(|t| format!(" as of {t}")).unwrap_or_default(),
        from.unwrap_or("local"),
        report.files,
        report.bytes as f64 / 1e6,
        secs,
        to.display()
    );
    Ok(())
}

/// `renkei restore --network --from SITE`: rebuild the whole network into this (empty) data
/// folder from a bucket; other configured sites mend contents the bucket cannot give back.
pub async fn rebuild_network(
    network: &Network,
    config: &Config,
    from: &str,
    as_of: Option<&str>,
    actor: &str,
) -> Result<()> {
    let as_of = as_of.map(service::offsite::as_of).transpose()?;
    let site = config.site(from)?;
    let others: Vec<Site> = config
        .sites()?
        .into_iter()
        .filter(|s| s.name() != from)
        .collect();
    // A line about every 100,000 versions on the operator's terminal (counts only).
    let shown = std::sync::atomic::AtomicU64::new(0);
    let progress = |done: u64, total: Option<u64>| {
        if done / 100_000 > shown.load(std::sync::atomic::Ordering::Relaxed) {
            shown.store(done / 100_000, std::sync::atomic::Ordering::Relaxed);
            match total {
                Some(t) => eprintln!(
                    "rebuilding: {done} of {t} file versions ({:.0} %)",
                    done as f64 * 100.0 / t.max(1) as f64
                ),
                None => eprintln!("rebuilding: {done} file versions"),
            }
        }
    };
    let r = match &site {
        Site::Bucket(bucket) => {
            network
                .rebuild_from_bucket(bucket, &others, as_of.as_deref(), actor, &progress)
                .await?
        }
        Site::Replica(replica) => {
            network
                .rebuild_from_replica(replica, as_of.as_deref(), actor, &progress)
                .await?
        }
    };
    let head = |h: Option<audit::Head>| h.map_or("none".to_owned(), |h| h.to_string());
    println!(
        "network rebuilt from {}{}: {} facilities, {} registry changes, {} audit entries, {} file versions ({:.1} MB{}) in {:.1} s ({:.0} versions/s)",
        r.site,
        r.as_of.as_deref().map(|t| format!(" as of {t}")).unwrap_or_default(),
        r.facilities,
        r.registry_changes,
        r.audit_entries,
        r.versions,
        r.bytes as f64 / 1e6,
        if r.mended > 0 { format!(", {} contents mended from other sites", r.mended) } else { String::new() },
        r.seconds,
        r.versions as f64 / r.seconds.max(1e-9)
    );
    println!(
        "audit chain verified: head {} (the bucket's: {}). Copy the secret key file here before users sign in; start with `renkei serve`.",
        head(r.audit_head),
        head(r.site_audit_head)
    );
    Ok(())
}

/// `renkei verify`: check every copy; with `repair`, mend each from a good one. Returns
/// whether everything is (now) intact.
pub async fn verify(
    network: &Network,
    config: &Config,
    only: &[String],
    repair: bool,
) -> Result<bool> {
    let sites = config.sites()?;
    for name in only {
        if name != "local" && !sites.iter().any(|s| s.name() == name) {
            config.site(name)?;
        }
    }
    let wanted = |name: &str| only.is_empty() || only.iter().any(|o| o == name);
    let mut checks: Vec<SiteCheck> = Vec::new();
    if wanted("local") {
        checks.push(network.check_local(repair, &sites).await?);
    }
    for site in sites.iter().filter(|s| wanted(s.name())) {
        checks.push(network.check_site(site, repair, &sites).await?);
    }
    let mut all_good = true;
    for c in &checks {
        println!(
            "{}: {} objects, {:.1} MB checked, {} problem(s)",
            c.site,
            c.checked_objects,
            c.checked_bytes as f64 / 1e6,
            c.problems.len()
        );
        for p in &c.problems {
            println!("  problem: {p}");
        }
        for n in &c.notes {
            println!("  note: {n}");
        }
        for r in &c.repaired {
            println!("  repaired: {r}");
        }
        for u in &c.unrepaired {
            println!("  NOT repaired: {u}");
        }
        if !c.unrepaired.is_empty() || (!repair && !c.problems.is_empty()) {
            all_good = false;
        }
    }
    Ok(all_good)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Config> {
        let dir = tempfile::tempdir()?;
        std::fs::write(dir.path().join("renkei.toml"), text)?;
        Config::load(None, dir.path())
    }

    #[test]
    fn sites_and_their_mistakes() {
        let c = load(
            "[replication]\ninterval_seconds = 2\ntoken = \"t\"\n\n[[site]]\nname = \"dr\"\nkind = \"renkei\"\nurl = \"https://dr.example.jp\"\ntoken_env = \"RENKEI_TEST_UNSET_TOKEN\"\n",
        )
        .expect("valid");
        assert_eq!(c.interval(), Duration::from_secs(2));
        assert_eq!(c.token().expect("token").as_deref(), Some("t"));
        let e = c.site("dr").err().expect("the token's variable is not set");
        assert!(
            format!("{e:#}").contains("RENKEI_TEST_UNSET_TOKEN"),
            "{e:#}"
        );
        let e = c.site("nowhere").err().expect("unknown site");
        assert!(e.to_string().contains("sites: dr"), "{e}");

        let e = load("[[site]]\nname = \"a\"\nbuket = \"x\"\n").expect_err("typo");
        assert!(format!("{e:#}").contains("buket"), "{e:#}");
        let e = load("[[site]]\nname = \"a\"\n[[site]]\nname = \"a\"\n").expect_err("twice");
        assert!(e.to_string().contains("unique"), "{e}");
        assert!(
            load("[[site]]\nname = \"local\"\n").is_err(),
            "local is this folder"
        );
        let e = load("[[site]]\nname = \"b\"\nkind = \"s3\"\nurl = \"http://127.0.0.1:1\"\n")
            .expect("parses")
            .site("b")
            .err()
            .expect("no bucket");
        assert!(
            e.to_string()
                .contains("`bucket` is required for an s3 site"),
            "{e}"
        );
        // No file: no configuration, no sites.
        let empty = tempfile::tempdir().expect("tmp");
        assert!(Config::load(None, empty.path())
            .expect("none")
            .sites
            .is_empty());
    }
}
