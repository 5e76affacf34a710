//! `renkei migrate`: move a whole network to another store and show the comparison.

use anyhow::{bail, Result};

use crate::cli_progress::Bar;
use crate::store_config::StorePlace;

pub async fn run(source: &StorePlace, target: &StorePlace, json: bool) -> Result<()> {
    if source.describe() == target.describe() {
        bail!("--from and --to are the same store");
    }
    // The source is opened as a server opens it: for the embedded store that takes the data
    // folder's lock, so no server can be writing while it is copied.
    let from = service::Network::new(source.open().await?);
    let to = service::Network::new(target.open().await?);
    let actor = crate::local_event(audit::Action::Export, "").actor;
    eprintln!("copying {} into {}", source.describe(), target.describe());
    let total = from.store().stats().await?.file_versions;
    let bar = Bar::new("file versions");
    ingest::Progress::start(&bar, total);
    let last = std::sync::atomic::AtomicU64::new(0);
    let started = std::time::Instant::now();
    let report = from
        .migrate_to(&to, &actor, &target.describe(), &|done| {
            let before = last.swap(done, std::sync::atomic::Ordering::Relaxed);
            ingest::Progress::advance(&bar, done.saturating_sub(before));
        })
        .await?;
    ingest::Progress::finish(&bar);
    let elapsed = started.elapsed().as_secs_f64();
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "copied {} file versions, {} registry changes, {} audit entries in {:.1} s ({:.0} versions/s)",
            report.versions,
            report.registry_changes,
            report.audit_entries,
            elapsed,
            report.versions as f64 / elapsed.max(0.001)
        );
        println!("{:<48} {:>28} {:>28}", "check", "source", "target");
        for c in &report.checks {
            println!(
                "{:<48} {:>28} {:>28}  {}",
                c.what,
                c.source,
                c.target,
                if c.same { "ok" } else { "DIFFERENT" }
            );
        }
    }
    if !report.ok() {
        bail!(
            "the copy differs from the source (see the checks above): do not switch over; the source is unchanged"
        );
    }
    eprintln!(
        "the copy matches. Point the servers at {} (RENKEI_DATABASE_URL / [store] database_url) and start them.",
        target.describe()
    );
    Ok(())
}
