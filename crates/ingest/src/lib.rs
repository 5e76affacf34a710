//! Import of a facility's SS-MIX2 tree into the store, and export back to a tree.
//!
//! Import streams: the tree is listed, files are read, hashed and classified on all cores
//! (rayon), and batches go to the store's single writer while the next batch is being read.
//! Each batch is one transaction, and a file whose current content is already stored is
//! skipped, so an interrupted import (even `kill -9`) is simply run again.

pub mod classify;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use model::Sha256;
use rayon::prelude::*;
use store::packs::sha256;
use store::{FacilityId, FileOutcome, ImportTotals, IngestFile, Store, StoreError};

pub use classify::{classify, Classified, ClassifyOptions};

/// Files per store transaction: large enough to amortise the commit (fsync), small enough
/// that a crash loses little work and memory stays flat.
const BATCH: usize = 4096;

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path} is not a directory")]
    NotADirectory { path: PathBuf },
    #[error("export target {path} is not empty; choose a new or empty folder")]
    TargetNotEmpty { path: PathBuf },
    #[error("unknown facility {0}")]
    UnknownFacility(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("import pipeline stopped: {0}")]
    Pipeline(String),
}

/// Progress callbacks (a progress bar in the CLI, nothing in tests).
pub trait Progress: Send + Sync {
    fn start(&self, _total: u64) {}
    fn advance(&self, _n: u64) {}
    fn finish(&self) {}
}

pub struct NoProgress;
impl Progress for NoProgress {}

#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Treat the folder as only part of the tree: do not mark unseen files as removed.
    pub partial: bool,
    pub classify: ClassifyOptions,
}

/// What an import did, for the summary.
#[derive(Debug, Clone, Default)]
pub struct ImportReport {
    pub totals: ImportTotals,
    pub removed: u64,
    pub bytes_read: u64,
    pub new_blobs: u64,
    pub packed_bytes: u64,
    /// (path, reason, line) of files quarantined in this run.
    pub quarantined: Vec<(String, String, Option<u32>)>,
    /// (path, notice) in this run.
    pub notices: Vec<(String, String)>,
    pub elapsed: Duration,
}

/// List every regular file under `root`, as sorted `/`-separated relative paths. Sorting keeps
/// one patient's files together, which is what packs compress and restores read best.
pub fn list_tree(root: &Path) -> Result<Vec<String>, IngestError> {
    fn walk(dir: &Path, prefix: &str, out: &mut Vec<String>) -> Result<(), IngestError> {
        let rd = fs::read_dir(dir).map_err(|e| IngestError::Io {
            path: dir.to_owned(),
            source: e,
        })?;
        for entry in rd {
            let entry = entry.map_err(|e| IngestError::Io {
                path: dir.to_owned(),
                source: e,
            })?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let rel = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}/{name}")
            };
            let ft = entry.file_type().map_err(|e| IngestError::Io {
                path: entry.path(),
                source: e,
            })?;
            if ft.is_dir() {
                walk(&entry.path(), &rel, out)?;
            } else if ft.is_file() {
                out.push(rel);
            }
            // Symlinks and special files are not part of an SS-MIX2 tree; not followed.
        }
        Ok(())
    }
    if !root.is_dir() {
        return Err(IngestError::NotADirectory {
            path: root.to_owned(),
        });
    }
    let mut out = Vec::new();
    walk(root, "", &mut out)?;
    out.sort_unstable();
    Ok(out)
}

/// Import the SS-MIX2 tree at `root` as facility `facility`'s storage.
pub async fn import_tree(
    store: Arc<dyn Store>,
    facility: FacilityId,
    root: &Path,
    options: &ImportOptions,
    progress: Arc<dyn Progress>,
) -> Result<ImportReport, IngestError> {
    let started = Instant::now();
    let paths = list_tree(root)?;
    let known = Arc::new(store.current_hashes(facility).await?);
    let run = store
        .begin_import(facility, &root.display().to_string())
        .await?;
    progress.start(paths.len() as u64);

    let seen: HashSet<String> = paths.iter().cloned().collect();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Vec<Read>, IngestError>>(2);
    let root_owned = root.to_owned();
    let prog = progress.clone();
    let bytes_read = Arc::new(AtomicU64::new(0));
    let classify_options = options.classify;
    let br = bytes_read.clone();
    // Reading and classifying runs on the rayon pool while this task writes batches.
    let producer = tokio::task::spawn_blocking(move || {
        for chunk in paths.chunks(BATCH) {
            let batch: Result<Vec<Read>, IngestError> = chunk
                .par_iter()
                .map(|rel| read_one(&root_owned, rel, &known, &br, &classify_options))
                .collect();
            prog.advance(chunk.len() as u64);
            let failed = batch.is_err();
            if tx.blocking_send(batch).is_err() || failed {
                break;
            }
        }
    });

    let mut report = ImportReport::default();
    let mut totals = ImportTotals::default();
    let mut per_kind: BTreeMap<String, u64> = BTreeMap::new();
    while let Some(batch) = rx.recv().await {
        let batch = batch?;
        let mut files = Vec::with_capacity(batch.len());
        for item in batch {
            totals.files_seen += 1;
            match item {
                Read::Unchanged => totals.duplicates += 1,
                Read::New(f) => {
                    match &f.outcome {
                        FileOutcome::Record(r) => *per_kind.entry(r.kind.clone()).or_default() += 1,
                        FileOutcome::Quarantined { reason, line } => {
                            totals.quarantined += 1;
                            report
                                .quarantined
                                .push((f.path.clone(), reason.clone(), *line));
                        }
                    }
                    for n in &f.notices {
                        totals.notices += 1;
                        report.notices.push((f.path.clone(), n.clone()));
                    }
                    files.push(f);
                }
            }
        }
        if !files.is_empty() {
            let out = store.write_batch(facility, run, files).await?;
            totals.files_new += out.versions;
            report.new_blobs += out.new_blobs;
            report.packed_bytes += out.packed_bytes;
        }
    }
    producer
        .await
        .map_err(|e| IngestError::Pipeline(e.to_string()))?;
    totals.messages_per_kind = per_kind;
    let removed = store
        .finish_import(facility, run, &totals, (!options.partial).then_some(&seen))
        .await?;
    progress.finish();
    report.totals = totals;
    report.removed = removed;
    report.bytes_read = bytes_read.load(Ordering::Relaxed);
    report.elapsed = started.elapsed();
    Ok(report)
}

enum Read {
    Unchanged,
    New(IngestFile),
}

fn read_one(
    root: &Path,
    rel: &str,
    known: &HashMap<String, Sha256>,
    bytes_read: &AtomicU64,
    options: &ClassifyOptions,
) -> Result<Read, IngestError> {
    let full = root.join(rel);
    let bytes = fs::read(&full).map_err(|e| IngestError::Io {
        path: full.clone(),
        source: e,
    })?;
    bytes_read.fetch_add(bytes.len() as u64, Ordering::Relaxed);
    let sha = sha256(&bytes);
    if known.get(rel) == Some(&sha) {
        return Ok(Read::Unchanged);
    }
    let Classified { outcome, notices } = classify(rel, &bytes, options);
    Ok(Read::New(IngestFile {
        path: rel.to_owned(),
        bytes,
        sha256: sha,
        outcome,
        notices,
    }))
}

#[derive(Debug, Clone, Default)]
pub struct ExportReport {
    pub files: u64,
    pub bytes: u64,
    pub elapsed: Duration,
}

/// Write facility `facility`'s current tree under `to`, byte for byte.
pub async fn export_tree(
    store: Arc<dyn Store>,
    facility: FacilityId,
    to: &Path,
    progress: Arc<dyn Progress>,
) -> Result<ExportReport, IngestError> {
    let started = Instant::now();
    if to.exists() {
        let mut rd = fs::read_dir(to).map_err(|e| IngestError::Io {
            path: to.to_owned(),
            source: e,
        })?;
        if rd.next().is_some() {
            return Err(IngestError::TargetNotEmpty {
                path: to.to_owned(),
            });
        }
    }
    fs::create_dir_all(to).map_err(|e| IngestError::Io {
        path: to.to_owned(),
        source: e,
    })?;
    let files = store.current_files(facility).await?;
    progress.start(files.len() as u64);
    let mut report = ExportReport::default();
    for chunk in files.chunks(BATCH) {
        let hashes: Vec<Sha256> = chunk.iter().map(|f| f.sha256).collect();
        let contents = store.read_blobs(&hashes).await?;
        let to = to.to_owned();
        let chunk = chunk.to_vec();
        let written = tokio::task::spawn_blocking(move || -> Result<u64, IngestError> {
            chunk
                .par_iter()
                .zip(contents.par_iter())
                .map(|(f, bytes)| {
                    let path = to.join(&f.path);
                    if let Some(dir) = path.parent() {
                        fs::create_dir_all(dir).map_err(|e| IngestError::Io {
                            path: dir.to_owned(),
                            source: e,
                        })?;
                    }
                    fs::write(&path, bytes).map_err(|e| IngestError::Io {
                        path: path.clone(),
                        source: e,
                    })?;
                    Ok(bytes.len() as u64)
                })
                .sum()
        })
        .await
        .map_err(|e| IngestError::Pipeline(e.to_string()))??;
        report.files += hashes.len() as u64;
        report.bytes += written;
        progress.advance(hashes.len() as u64);
    }
    progress.finish();
    report.elapsed = started.elapsed();
    Ok(report)
}
