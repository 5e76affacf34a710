//! Import of a facility's SS-MIX2 tree into the store, and export back to a tree.
//!
//! Import streams: the tree is listed, files are read, hashed and classified on all cores
//! (rayon), and batches go to the store's single writer while the next batch is being read.
//! Each batch is one transaction, and a file whose current content is already stored is
//! skipped, so an interrupted import (even `kill -9`) is simply run again.

pub mod classify;
pub mod document_patient;
pub mod facts;

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
    /// More work was found (the tree is listed while it is imported).
    fn found(&self, _n: u64) {}
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
    /// Where the time went (the stages overlap): listing the tree, reading + classifying
    /// (wall time of the parallel stage), writing to the store.
    pub list_time: Duration,
    pub read_time: Duration,
    pub write_time: Duration,
}

/// Walk `root` depth-first with every directory's entries sorted, handing regular files to
/// `emit` as `/`-separated relative paths: the result is globally sorted, which keeps one
/// patient's files together (what packs compress and restores read best) without holding
/// the whole listing before work starts.
pub fn walk_tree(root: &Path, emit: &mut dyn FnMut(String) -> bool) -> Result<(), IngestError> {
    fn walk(
        dir: &Path,
        prefix: &str,
        emit: &mut dyn FnMut(String) -> bool,
    ) -> Result<bool, IngestError> {
        let io = |e| IngestError::Io {
            path: dir.to_owned(),
            source: e,
        };
        let mut entries: Vec<(String, fs::FileType)> = Vec::new();
        for entry in fs::read_dir(dir).map_err(io)? {
            let entry = entry.map_err(io)?;
            let ft = entry.file_type().map_err(|e| IngestError::Io {
                path: entry.path(),
                source: e,
            })?;
            entries.push((entry.file_name().to_string_lossy().into_owned(), ft));
        }
        entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        for (name, ft) in entries {
            let rel = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}/{name}")
            };
            if ft.is_dir() {
                if !walk(&dir.join(&name), &rel, emit)? {
                    return Ok(false);
                }
            } else if ft.is_file() && !emit(rel) {
                return Ok(false);
            }
            // Symlinks and special files are not part of an SS-MIX2 tree; not followed.
        }
        Ok(true)
    }
    if !root.is_dir() {
        return Err(IngestError::NotADirectory {
            path: root.to_owned(),
        });
    }
    walk(root, "", emit).map(|_| ())
}

/// Every regular file under `root`, sorted (see [`walk_tree`]).
pub fn list_tree(root: &Path) -> Result<Vec<String>, IngestError> {
    let mut out = Vec::new();
    walk_tree(root, &mut |p| {
        out.push(p);
        true
    })?;
    Ok(out)
}

/// Import the SS-MIX2 tree at `root` as facility `facility`'s storage.
///
/// Three stages run at once: a walker lists the tree, the rayon pool reads, hashes and
/// classifies chunks of files, and this task writes each chunk as one store transaction.
pub async fn import_tree(
    store: Arc<dyn Store>,
    facility: FacilityId,
    root: &Path,
    options: &ImportOptions,
    progress: Arc<dyn Progress>,
) -> Result<ImportReport, IngestError> {
    let started = Instant::now();
    if !root.is_dir() {
        return Err(IngestError::NotADirectory {
            path: root.to_owned(),
        });
    }
    // A store upgraded from before clinical facts gets the facts of what it already holds
    // at its first import; afterwards this is one empty range read.
    backfill_facts(&store).await?;
    let known = Arc::new(store.current_hashes(facility).await?);
    let run = store
        .begin_import(facility, &root.display().to_string())
        .await?;
    progress.start(0);

    // Walker → reader: chunks of paths. Bounded, so memory stays flat on any tree size.
    let (path_tx, path_rx) = std::sync::mpsc::sync_channel::<Result<Vec<String>, IngestError>>(4);
    let walk_root = root.to_owned();
    let walk_progress = progress.clone();
    let walker = std::thread::spawn(move || -> Duration {
        let t = Instant::now();
        let mut chunk = Vec::with_capacity(BATCH);
        let result = walk_tree(&walk_root, &mut |p| {
            chunk.push(p);
            if chunk.len() == BATCH {
                walk_progress.found(BATCH as u64);
                let full = std::mem::replace(&mut chunk, Vec::with_capacity(BATCH));
                return path_tx.send(Ok(full)).is_ok();
            }
            true
        });
        let _ = match result {
            Ok(()) => {
                walk_progress.found(chunk.len() as u64);
                path_tx.send(Ok(chunk))
            }
            Err(e) => path_tx.send(Err(e)),
        };
        t.elapsed()
    });

    // Reader → writer: classified chunks.
    let (tx, mut rx) =
        tokio::sync::mpsc::channel::<Result<(Vec<String>, Vec<Read>), IngestError>>(2);
    let root_owned = root.to_owned();
    let prog = progress.clone();
    let bytes_read = Arc::new(AtomicU64::new(0));
    let classify_options = options.classify;
    let br = bytes_read.clone();
    let read_nanos = Arc::new(AtomicU64::new(0));
    let rn = read_nanos.clone();
    let producer = tokio::task::spawn_blocking(move || {
        for chunk in path_rx {
            let batch = chunk.and_then(|paths| {
                let t = Instant::now();
                let read: Result<Vec<Read>, IngestError> = paths
                    .par_iter()
                    .map(|rel| read_one(&root_owned, rel, &known, &br, &classify_options))
                    .collect();
                rn.fetch_add(t.elapsed().as_nanos() as u64, Ordering::Relaxed);
                prog.advance(paths.len() as u64);
                read.map(|r| (paths, r))
            });
            let failed = batch.is_err();
            if tx.blocking_send(batch).is_err() || failed {
                break;
            }
        }
    });

    let mut seen: HashSet<String> = HashSet::new();
    let mut report = ImportReport::default();
    let mut totals = ImportTotals::default();
    let mut per_kind: BTreeMap<String, u64> = BTreeMap::new();
    while let Some(batch) = rx.recv().await {
        let (paths, batch) = batch?;
        seen.extend(paths);
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
            let t = Instant::now();
            let out = store.write_batch(facility, run, files).await?;
            report.write_time += t.elapsed();
            totals.files_new += out.versions;
            report.new_blobs += out.new_blobs;
            report.packed_bytes += out.packed_bytes;
        }
    }
    producer
        .await
        .map_err(|e| IngestError::Pipeline(e.to_string()))?;
    let list_time = walker
        .join()
        .map_err(|_| IngestError::Pipeline("the tree walker panicked".into()))?;
    totals.messages_per_kind = per_kind;
    let removed = store
        .finish_import(facility, run, &totals, (!options.partial).then_some(&seen))
        .await?;
    // The store's own notices (two current files of one order) are known only once the run
    // is complete: reported with the importer's.
    let listed: HashSet<(String, String)> = report.notices.iter().cloned().collect();
    for n in store.import_notices(run).await? {
        if !listed.contains(&n) {
            totals.notices += 1;
            report.notices.push(n);
        }
    }
    progress.finish();
    report.totals = totals;
    report.removed = removed;
    report.bytes_read = bytes_read.load(Ordering::Relaxed);
    report.elapsed = started.elapsed();
    report.list_time = list_time;
    report.read_time = Duration::from_nanos(read_nanos.load(Ordering::Relaxed));
    Ok(report)
}

// Boxing would cost an allocation per file for nothing: almost every Read is `New`.
#[allow(clippy::large_enum_variant)]
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
    Ok(Read::New(ingest_file(rel, bytes, sha, options)))
}

/// One file of a facility's tree as the store takes it: classified (record index or
/// quarantine, notices, ADT demographics, clinical facts). The one way a file becomes an
/// [`IngestFile`], used by [`import_tree`] and by the server's agent endpoint so that the two
/// cannot drift. `sha256` must be the SHA-256 of `bytes` (the caller has it already).
pub fn ingest_file(
    path: &str,
    bytes: Vec<u8>,
    sha256: Sha256,
    options: &ClassifyOptions,
) -> IngestFile {
    let Classified {
        outcome,
        notices,
        demographics,
        facts,
    } = classify(path, &bytes, options);
    IngestFile {
        path: path.to_owned(),
        bytes,
        sha256,
        outcome,
        notices,
        demographics,
        facts,
        recorded_at: None,
        accept_unterminated: options.accept_unterminated,
    }
}

/// Read the clinical facts of records from their stored bytes: records stored before facts
/// were extracted at import (stores older than SQLite schema 3), and every live record when
/// the store's facts were read by an older extractor than this one
/// ([`facts::FACTS_EXTRACTOR`]). Resumable: each batch is one transaction that replaces the
/// batch's facts and moves the cursor; the old facts stay readable until then. Runs once at a
/// time per process (an import and the server's start may both call it). Returns how many
/// records were read.
pub async fn backfill_facts(store: &Arc<dyn Store>) -> Result<u64, IngestError> {
    static RUNNING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _one_at_a_time = RUNNING.lock().await;
    if store.facts_rederive(facts::FACTS_EXTRACTOR).await? {
        tracing::info!(
            extractor = facts::FACTS_EXTRACTOR,
            "re-deriving the clinical facts of every stored record (newer extractor)"
        );
    }
    let kinds = facts::rederived_kinds();
    let mut done = 0u64;
    loop {
        let items = store
            .facts_backfill_next(BATCH, &kinds, &facts::EXTENDED_FACT_MESSAGES)
            .await?;
        let Some(last) = items.last().map(|i| i.version_id) else {
            // Nothing left: close the range so that later imports do not look again.
            store.facts_backfill_put(Vec::new(), i64::MAX - 1).await?;
            return Ok(done);
        };
        let hashes: Vec<Sha256> = items.iter().map(|i| i.sha256).collect();
        let blobs = store.read_blobs(&hashes).await?;
        let facts = tokio::task::spawn_blocking(move || {
            items
                .into_par_iter()
                .zip(blobs)
                .map(|(item, bytes)| {
                    // The file was accepted when imported; lenient about a missing final CR
                    // so that files imported with --accept-unterminated get their facts too.
                    let options = ClassifyOptions {
                        accept_unterminated: true,
                    };
                    let c = classify(&item.path, &bytes, &options);
                    store::BackfilledFacts {
                        facility: item.facility,
                        version_id: item.version_id,
                        cancels: matches!(&c.outcome, FileOutcome::Record(r) if r.cancels),
                        facts: c.facts,
                        patient_id: item.patient_id,
                    }
                })
                .collect::<Vec<_>>()
        })
        .await
        .map_err(|e| IngestError::Pipeline(format!("fact backfill stopped: {e}")))?;
        done += facts.len() as u64;
        store.facts_backfill_put(facts, last).await?;
    }
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
