//! The embedded store: an SQLite database in WAL mode for the index, and local packs for
//! the raw bytes, both inside the network's data folder:
//!
//! ```text
//! DATA/renkei.db        index (facilities, files, versions, records, quarantine, runs)
//! DATA/blobs/xx/*.pack  raw SS-MIX2 bytes, compressed, immutable
//! DATA/.lock            held while a process writes
//! ```

mod bench_scale;
mod facts;
mod registry;
mod replication;
mod schema;
mod viewer;

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use model::{FacilityCode, Sha256};
use rusqlite::{params, Connection, OptionalExtension};
use sha2::Digest;
use ssmix2::Condition;
use store::packs::LocalPacks;
use store::{
    AllergyFact, BackfillItem, BackfilledFacts, DiagnosisFact, EncounterFact, FactRow,
    HistoricFact, LabFact, LabFilter, MedicationFact,
};
use store::{
    BatchOutcome, BlobLocation, FacilityId, FacilityOverview, FileOutcome, ImportRun, ImportRunId,
    ImportTotals, IngestFile, PackBuilder, QuarantineEntry, Result, StorageKind, Store, StoreError,
    StoreStats, StoredFile, StoredRecord,
};

pub use store::{ScaleOptions, ScaleReport, TargetSource};

const DB_FILE: &str = "renkei.db";

/// Reader connections per store: more than the cores a small server has, so that a read
/// waiting on the disk does not hold the others up.
const READERS: usize = 4;

/// How much of the database file each reader maps (SQLite's own ceiling is just under 2 GiB;
/// the rest of a larger file is read as before).
const READER_MMAP_BYTES: u64 = 2 * 1024 * 1024 * 1024;

pub struct SqliteStore {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    db_path: PathBuf,
    /// One writer at a time (SQLite allows no more); readers use their own connections.
    writer: Mutex<Connection>,
    /// A few reader connections, so that the pages of several clinicians are read at once
    /// (WAL readers do not block each other or the writer). Taken with `try_lock` first.
    readers: Vec<Mutex<Connection>>,
    /// Where the next reader wait starts, so that waiting readers spread over the pool.
    next_reader: std::sync::atomic::AtomicUsize,
    pub(crate) packs: LocalPacks,
    /// The audit chain's newest (seq, hash), kept outside the database.
    pub(crate) audit_anchor: PathBuf,
    /// Audit appends waiting to be written together (see `append_audit`).
    pub(crate) audit_queue: Mutex<Vec<registry::PendingAudit>>,
    _lock: fs::File,
}

pub(crate) fn db_err(e: rusqlite::Error) -> StoreError {
    StoreError::Database(e.to_string())
}

pub(crate) fn now() -> String {
    model::UnixTime::now().rfc3339()
}

fn open_connection(path: &Path) -> Result<Connection> {
    let conn = Connection::open(path).map_err(db_err)?;
    // Room for every query the server runs (rusqlite keeps 16 by default).
    conn.set_prepared_statement_cache_capacity(128);
    // WAL: readers never block the importer. synchronous=FULL: a committed batch survives a
    // power cut, not only a killed process — this is patient data.
    conn.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=10000; PRAGMA cache_size=-262144; PRAGMA wal_autocheckpoint=16384;",
    )
    .map_err(db_err)?;
    Ok(conn)
}

impl SqliteStore {
    /// Open (creating if needed) the store in `data_dir`.
    pub fn open(data_dir: &Path) -> Result<SqliteStore> {
        Self::open_with(data_dir, false)
    }

    /// Open the store even while a server holds it: for commands that read (restore, verify,
    /// status) and append the odd audit entry, which SQLite's own locking serialises with
    /// the server's writes. No migration is run: the server has done it.
    pub fn open_alongside(data_dir: &Path) -> Result<SqliteStore> {
        Self::open_with(data_dir, true)
    }

    fn open_with(data_dir: &Path, alongside: bool) -> Result<SqliteStore> {
        // New data folders are private; whether an existing one is private enough to use
        // is the program's decision (`renkei` refuses one that others can reach).
        store::private::create_private_dir_all(data_dir).map_err(|e| StoreError::Blob {
            path: data_dir.display().to_string(),
            source: e,
        })?;
        let lock_path = data_dir.join(".lock");
        let lock = store::private::private_file_options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| StoreError::Blob {
                path: lock_path.display().to_string(),
                source: e,
            })?;
        let locked = fs2::FileExt::try_lock_exclusive(&lock).is_ok();
        if !locked && !alongside {
            return Err(StoreError::Locked(data_dir.display().to_string()));
        }
        let db_path = data_dir.join(DB_FILE);
        if !locked && !db_path.exists() {
            return Err(StoreError::NotFound(format!(
                "no store in {}",
                data_dir.display()
            )));
        }
        if locked {
            // Created 0600 before SQLite opens it; SQLite gives its -wal and -shm files the
            // database file's mode. A database from before this rule is made private too.
            let private = |e| StoreError::Blob {
                path: db_path.display().to_string(),
                source: e,
            };
            store::private::private_file_options()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&db_path)
                .map_err(private)?;
            store::private::restrict_file(&db_path).map_err(private)?;
        }
        let mut writer = open_connection(&db_path)?;
        // Every write transaction takes the write lock when it begins. A deferred one reads
        // first and asks for the lock at its first write; if another process (a command run
        // alongside the server) committed in between, SQLite cannot wait for it and fails
        // at once with "database is locked" instead of honouring busy_timeout.
        writer.set_transaction_behavior(rusqlite::TransactionBehavior::Immediate);
        let audit_anchor = data_dir.join("audit-head");
        if locked {
            schema::migrate(&mut writer)?;
            registry::anchor_new_store(&writer, &audit_anchor)?;
        } else {
            schema::check_current(&writer)?;
        }
        let readers = (0..READERS)
            .map(|_| {
                let conn = open_connection(&db_path)?;
                // Reads come from the memory-mapped file instead of being copied into each
                // connection's page cache: every commit (an audit entry per page view) makes
                // a WAL reader start its next transaction with an empty cache, and without the
                // map each page view re-read every B-tree page it touched with a syscall.
                conn.execute_batch(&format!("PRAGMA mmap_size={READER_MMAP_BYTES}"))
                    .map_err(db_err)?;
                Ok(Mutex::new(conn))
            })
            .collect::<Result<Vec<_>>>()?;
        let packs = LocalPacks::open(data_dir.join("blobs"))?;
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                db_path,
                writer: Mutex::new(writer),
                readers,
                next_reader: std::sync::atomic::AtomicUsize::new(0),
                packs,
                audit_anchor,
                audit_queue: Mutex::new(Vec::new()),
                _lock: lock,
            }),
        })
    }

    /// A short read (one page's rows for one patient, a session, a setting): run on the
    /// calling thread when a reader connection is free. Handing each of a page's ~20 reads to
    /// the blocking pool and back cost ~4 context switches apiece — a third of the server's
    /// CPU per page at 200 clinicians — for reads that take a few hundred microseconds.
    /// When every reader is busy the read waits on the blocking pool, never on this thread.
    /// Long reads (whole facilities, exports, the audit log) use [`Self::blocking`].
    pub(crate) async fn reading<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        if let Some(conn) = self.inner.free_reader() {
            return f(&conn);
        }
        self.blocking(move |inner| inner.read(f)).await
    }

    pub(crate) async fn blocking<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Inner) -> Result<T> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || f(&inner))
            .await
            .map_err(|e| StoreError::Database(format!("store task failed: {e}")))?
    }
}

impl Inner {
    pub(crate) fn write<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T>) -> Result<T> {
        let mut conn = self
            .writer
            .lock()
            .map_err(|_| StoreError::Database("writer lock poisoned".into()))?;
        f(&mut conn)
    }

    pub(crate) fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        if let Some(conn) = self.free_reader() {
            return f(&conn);
        }
        let i = self
            .next_reader
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            % self.readers.len();
        let conn = self.readers[i]
            .lock()
            .map_err(|_| StoreError::Database("reader lock poisoned".into()))?;
        f(&conn)
    }

    /// A reader connection nobody is using, if there is one.
    fn free_reader(&self) -> Option<std::sync::MutexGuard<'_, Connection>> {
        self.readers.iter().find_map(|r| r.try_lock().ok())
    }
}

/// `Connection::query_row` through the connection's statement cache: the gate's and the
/// viewer's lookups run a few times per page, and parsing their SQL each time was 6–8 % of
/// the server's CPU per page.
pub(crate) fn query_row_cached<P: rusqlite::Params, T>(
    conn: &Connection,
    sql: &str,
    params: P,
    f: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    conn.prepare_cached(sql)?.query_row(params, f)
}

/// `p1/p2/pid/`: where one patient's files are in a facility's tree.
pub(crate) fn patient_folder(local_id: &str) -> String {
    let (p1, p2) = ssmix2::naming::prefix_folders(local_id);
    format!("{p1}/{p2}/{local_id}/")
}

pub(crate) fn sha_from(bytes: Vec<u8>) -> Result<Sha256> {
    let arr: [u8; 32] = bytes
        .try_into()
        .map_err(|_| StoreError::Corrupt("stored hash is not 32 bytes".into()))?;
    Ok(Sha256(arr))
}

fn condition_code(c: Condition) -> i64 {
    match c {
        Condition::Deleted => 0,
        Condition::Current => 1,
        Condition::Superseded => 2,
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn facility(&self, code: &FacilityCode, create: bool) -> Result<Option<FacilityId>> {
        let code = code.as_str().to_owned();
        let lookup = |conn: &Connection, code: &str| {
            crate::query_row_cached(
                conn,
                "SELECT id FROM facilities WHERE code = ?1",
                [code],
                |r| r.get(0),
            )
            .optional()
            .map(|o| o.map(FacilityId))
            .map_err(db_err)
        };
        if !create {
            // A lookup (the access gate makes one per source on every page): on a reader,
            // not queued on the writer behind imports and audit commits.
            return self.reading(move |conn| lookup(conn, &code)).await;
        }
        self.blocking(move |inner| {
            inner.write(|conn| {
                conn.execute(
                    "INSERT INTO facilities(code, created_at) VALUES (?1, ?2) ON CONFLICT(code) DO NOTHING",
                    params![code, now()],
                )
                .map_err(db_err)?;
                lookup(conn, &code)
            })
        })
        .await
    }

    async fn facilities(&self) -> Result<Vec<(FacilityId, FacilityCode)>> {
        self.blocking(|inner| {
            inner.read(|conn| {
                let mut st = conn
                    .prepare("SELECT id, code FROM facilities ORDER BY code")
                    .map_err(db_err)?;
                let rows = st
                    .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
                    .map_err(db_err)?
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .map_err(db_err)?;
                rows.into_iter()
                    .map(|(id, code)| {
                        FacilityCode::parse(&code)
                            .map(|c| (FacilityId(id), c))
                            .map_err(|e| StoreError::Corrupt(e.to_string()))
                    })
                    .collect()
            })
        })
        .await
    }

    async fn begin_import(&self, facility: FacilityId, source: &str) -> Result<ImportRunId> {
        let source = source.to_owned();
        self.blocking(move |inner| {
            inner.write(|conn| {
                // A first import writes every file of the facility: its duplicate orders are
                // cheaper to find in one ordered scan at the end than file by file.
                conn.execute(
                    "INSERT INTO import_runs(facility_id, source, started_at, orders_checked_at_finish)
                     VALUES (?1, ?2, ?3, NOT EXISTS (SELECT 1 FROM records WHERE facility_id = ?1))",
                    params![facility.0, source, now()],
                )
                .map_err(db_err)?;
                Ok(ImportRunId(conn.last_insert_rowid()))
            })
        })
        .await
    }

    async fn current_hashes(&self, facility: FacilityId) -> Result<HashMap<String, Sha256>> {
        self.blocking(move |inner| {
            inner.read(|conn| {
                let mut st = conn
                    .prepare(
                        "SELECT f.path, v.sha256 FROM files f JOIN file_versions v ON v.id = f.current_version
                         WHERE f.facility_id = ?1 AND v.sha256 IS NOT NULL",
                    )
                    .map_err(db_err)?;
                let mut rows = st.query([facility.0]).map_err(db_err)?;
                let mut map = HashMap::new();
                while let Some(r) = rows.next().map_err(db_err)? {
                    map.insert(r.get::<_, String>(0).map_err(db_err)?, sha_from(r.get(1).map_err(db_err)?)?);
                }
                Ok(map)
            })
        })
        .await
    }

    async fn write_batch(
        &self,
        facility: FacilityId,
        run: ImportRunId,
        files: Vec<IngestFile>,
    ) -> Result<BatchOutcome> {
        self.blocking(move |inner| {
            inner.write(|conn| write_batch(conn, &inner.packs, facility, run, files))
        })
        .await
    }

    async fn save_run_totals(&self, run: ImportRunId, totals: &ImportTotals) -> Result<()> {
        let json = serde_json_lite(totals);
        self.blocking(move |inner| {
            inner.write(|conn| {
                conn.execute(
                    "UPDATE import_runs SET totals = ?1 WHERE id = ?2 AND finished_at IS NULL",
                    params![json, run.0],
                )
                .map_err(db_err)?;
                Ok(())
            })
        })
        .await
    }

    async fn finish_import(
        &self,
        facility: FacilityId,
        run: ImportRunId,
        totals: &ImportTotals,
        seen: Option<&HashSet<String>>,
    ) -> Result<u64> {
        let totals = totals.clone();
        let current = if seen.is_some() {
            self.current_hashes(facility).await?
        } else {
            HashMap::new()
        };
        let gone: Vec<String> = match seen {
            Some(seen) => current.into_keys().filter(|p| !seen.contains(p)).collect(),
            None => Vec::new(),
        };
        self.blocking(move |inner| {
            inner.write(|conn| {
                let tx = conn.transaction().map_err(db_err)?;
                let at = now();
                for path in &gone {
                    let file_id: i64 = tx
                        .query_row("SELECT id FROM files WHERE facility_id = ?1 AND path = ?2", params![facility.0, path], |r| {
                            r.get(0)
                        })
                        .map_err(db_err)?;
                    tx.execute(
                        "INSERT INTO file_versions(file_id, sha256, size, import_run, recorded_at) VALUES (?1, NULL, 0, ?2, ?3)",
                        params![file_id, run.0, at],
                    )
                    .map_err(db_err)?;
                    let vid = tx.last_insert_rowid();
                    tx.execute("UPDATE files SET current_version = ?1 WHERE id = ?2", params![vid, file_id]).map_err(db_err)?;
                }
                let mut totals = totals.clone();
                let at_finish: bool = tx
                    .query_row(
                        "SELECT orders_checked_at_finish FROM import_runs WHERE id = ?1",
                        [run.0],
                        |r| r.get(0),
                    )
                    .map_err(db_err)?;
                totals.notices += if at_finish {
                    order_notices_by_scan(&tx, facility, run)?
                } else {
                    order_notices(&tx, facility, run)?
                };
                tx.execute(
                    "UPDATE import_runs SET finished_at = ?1, totals = ?2, removed = ?3 WHERE id = ?4",
                    params![at, serde_json_lite(&totals), gone.len() as i64, run.0],
                )
                .map_err(db_err)?;
                tx.commit().map_err(db_err)?;
                // Fold the WAL back into the database after a run so it does not grow
                // without bound between imports; failure here loses nothing.
                let _ = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)");
                Ok(gone.len() as u64)
            })
        })
        .await
    }

    async fn current_hashes_of(
        &self,
        facility: FacilityId,
        paths: &[String],
    ) -> Result<HashMap<String, Sha256>> {
        let paths = paths.to_vec();
        self.blocking(move |inner| {
            inner.read(|conn| {
                let mut st = conn
                    .prepare_cached(
                        "SELECT v.sha256 FROM files f JOIN file_versions v ON v.id = f.current_version
                         WHERE f.facility_id = ?1 AND f.path = ?2 AND v.sha256 IS NOT NULL",
                    )
                    .map_err(db_err)?;
                let mut out = HashMap::with_capacity(paths.len());
                for path in paths {
                    let sha: Option<Vec<u8>> = st
                        .query_row(params![facility.0, path], |r| r.get(0))
                        .optional()
                        .map_err(db_err)?;
                    if let Some(sha) = sha {
                        out.insert(path, sha_from(sha)?);
                    }
                }
                Ok(out)
            })
        })
        .await
    }

    async fn import_notices(&self, run: ImportRunId) -> Result<Vec<(String, String)>> {
        self.reading(move |conn| {
            let mut st = conn
                .prepare_cached(
                    "SELECT f.path, n.message FROM notices n
                     JOIN file_versions v ON v.id = n.version_id JOIN files f ON f.id = v.file_id
                     WHERE n.import_run = ?1 ORDER BY n.id",
                )
                .map_err(db_err)?;
            let rows = st
                .query_map([run.0], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(db_err)?;
            rows.collect::<std::result::Result<Vec<_>, _>>()
                .map_err(db_err)
        })
        .await
    }

    async fn current_files(&self, facility: FacilityId) -> Result<Vec<StoredFile>> {
        self.blocking(move |inner| {
            inner.read(|conn| {
                let mut st = conn
                    .prepare(
                        "SELECT f.path, v.sha256, v.size FROM files f JOIN file_versions v ON v.id = f.current_version
                         WHERE f.facility_id = ?1 AND v.sha256 IS NOT NULL ORDER BY f.path",
                    )
                    .map_err(db_err)?;
                let mut rows = st.query([facility.0]).map_err(db_err)?;
                let mut out = Vec::new();
                while let Some(r) = rows.next().map_err(db_err)? {
                    out.push(StoredFile {
                        path: r.get(0).map_err(db_err)?,
                        sha256: sha_from(r.get(1).map_err(db_err)?)?,
                        size: r.get::<_, i64>(2).map_err(db_err)? as u64,
                    });
                }
                Ok(out)
            })
        })
        .await
    }

    async fn read_blobs(&self, hashes: &[Sha256]) -> Result<Vec<Vec<u8>>> {
        let hashes = hashes.to_vec();
        self.blocking(move |inner| {
            let locations: Vec<BlobLocation> = inner.read(|conn| {
                let mut st = conn
                    .prepare_cached(
                        "SELECT p.name, b.frame_offset, b.frame_len, b.offset, b.size FROM blobs b JOIN packs p ON p.id = b.pack_id WHERE b.sha256 = ?1",
                    )
                    .map_err(db_err)?;
                hashes
                    .iter()
                    .map(|h| {
                        st.query_row([&h.0[..]], |r| {
                            Ok(BlobLocation {
                                pack: r.get(0)?,
                                frame_offset: r.get::<_, i64>(1)? as u64,
                                frame_len: r.get::<_, i64>(2)? as u32,
                                offset: r.get::<_, i64>(3)? as u32,
                                len: r.get::<_, i64>(4)? as u32,
                            })
                        })
                        .optional()
                        .map_err(db_err)?
                        .ok_or_else(|| StoreError::NotFound(format!("content {h}")))
                    })
                    .collect()
            })?;
            // Contents of one call often share frames, not always next to each other (a
            // timeline page interleaves a patient's facilities and kinds): decompress each
            // frame once per call. Frames are 64 KiB, a call asks for at most a page's worth
            // of distinct ones or streams in order (exports), so keeping them is cheap.
            let mut frames: std::collections::HashMap<(&str, u64), Vec<u8>> =
                std::collections::HashMap::new();
            let mut out = Vec::with_capacity(hashes.len());
            for (loc, sha) in locations.iter().zip(&hashes) {
                let key = (loc.pack.as_str(), loc.frame_offset);
                if !frames.contains_key(&key) {
                    if frames.len() >= 256 {
                        // A long streaming read: keep memory bounded.
                        frames.clear();
                    }
                    let frame = inner.packs.read_frame(&loc.pack, loc.frame_offset, loc.frame_len)?;
                    frames.insert(key, frame);
                }
                let frame = frames.get(&key).map(Vec::as_slice).unwrap_or_default();
                out.push(LocalPacks::extract(frame, loc, sha)?);
            }
            Ok(out)
        })
        .await
    }

    async fn quarantine(&self, facility: FacilityId) -> Result<Vec<QuarantineEntry>> {
        self.blocking(move |inner| {
            inner.read(|conn| {
                let mut st = conn
                    .prepare("SELECT path, reason, line, recorded_at FROM quarantine WHERE facility_id = ?1 ORDER BY path, version_id")
                    .map_err(db_err)?;
                let rows = st
                    .query_map([facility.0], |r| {
                        Ok(QuarantineEntry {
                            path: r.get(0)?,
                            reason: r.get(1)?,
                            line: r.get::<_, Option<i64>>(2)?.map(|l| l as u32),
                            recorded_at: r.get(3)?,
                        })
                    })
                    .map_err(db_err)?;
                rows.collect::<std::result::Result<Vec<_>, _>>().map_err(db_err)
            })
        })
        .await
    }

    async fn unreadable_count(&self, facility: FacilityId, local_id: &str) -> Result<u64> {
        let folder = patient_folder(local_id);
        self.reading(move |conn| {
            // A facility's quarantine is short (files it sent that could not be read); it is
            // read by facility and filtered on the patient's folder.
            crate::query_row_cached(
                conn,
                "SELECT count(*) FROM quarantine q
                 JOIN file_versions v ON v.id = q.version_id
                 JOIN files f ON f.id = v.file_id AND f.current_version = q.version_id
                 WHERE q.facility_id = ?1 AND substr(q.path, 1, length(?2)) = ?2",
                params![facility.0, folder],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n.max(0) as u64)
            .map_err(db_err)
        })
        .await
    }

    async fn import_runs(&self, facility: Option<FacilityId>) -> Result<Vec<ImportRun>> {
        self.blocking(move |inner| {
            inner.read(|conn| {
                let mut st = conn
                    .prepare(
                        "SELECT r.id, f.code, r.source, r.started_at, r.finished_at, r.totals, r.removed
                         FROM import_runs r JOIN facilities f ON f.id = r.facility_id
                         WHERE ?1 IS NULL OR r.facility_id = ?1 ORDER BY r.id",
                    )
                    .map_err(db_err)?;
                let rows = st
                    .query_map([facility.map(|f| f.0)], |r| {
                        Ok((
                            r.get::<_, i64>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, String>(2)?,
                            r.get::<_, String>(3)?,
                            r.get::<_, Option<String>>(4)?,
                            r.get::<_, Option<String>>(5)?,
                            r.get::<_, i64>(6)?,
                        ))
                    })
                    .map_err(db_err)?
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .map_err(db_err)?;
                rows.into_iter()
                    .map(|(id, code, source, started_at, finished_at, totals, removed)| {
                        Ok(ImportRun {
                            id,
                            facility: FacilityCode::parse(&code).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                            source,
                            started_at,
                            finished_at,
                            totals: totals.and_then(|t| parse_totals(&t)),
                            removed: removed as u64,
                        })
                    })
                    .collect()
            })
        })
        .await
    }

    async fn stats(&self) -> Result<StoreStats> {
        self.blocking(|inner| {
            let mut s = inner.read(|conn| {
                let count = |sql: &str| -> Result<u64> {
                    crate::query_row_cached(conn, sql, [], |r| r.get::<_, Option<i64>>(0)).map(|v| v.unwrap_or(0) as u64).map_err(db_err)
                };
                let mut s = StoreStats {
                    facilities: count("SELECT COUNT(*) FROM facilities")?,
                    files: count(
                        "SELECT COUNT(*) FROM files f JOIN file_versions v ON v.id = f.current_version WHERE v.sha256 IS NOT NULL",
                    )?,
                    file_versions: count("SELECT COUNT(*) FROM file_versions")?,
                    records: count("SELECT COUNT(*) FROM records")?,
                    current_records: count(
                        "SELECT COUNT(*) FROM records r JOIN files f ON f.id = r.file_id WHERE f.current_version = r.version_id",
                    )?,
                    quarantined: count("SELECT COUNT(*) FROM quarantine")?,
                    blobs: count("SELECT COUNT(*) FROM blobs")?,
                    raw_bytes: count("SELECT SUM(size) FROM blobs")?,
                    packed_bytes: count("SELECT SUM(size) FROM packs")?,
                    index_bytes: 0,
                    records_per_kind: Default::default(),
                };
                let mut st = conn.prepare("SELECT kind, COUNT(*) FROM records GROUP BY kind ORDER BY kind").map_err(db_err)?;
                let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))).map_err(db_err)?;
                for row in rows {
                    let (k, n) = row.map_err(db_err)?;
                    s.records_per_kind.insert(k, n as u64);
                }
                Ok(s)
            })?;
            s.index_bytes = [DB_FILE, "renkei.db-wal"]
                .iter()
                .filter_map(|f| fs::metadata(inner.db_path.with_file_name(f)).ok())
                .map(|m| m.len())
                .sum();
            Ok(s)
        })
        .await
    }

    async fn patient_records(
        &self,
        facility: FacilityId,
        local_id: &str,
    ) -> Result<Vec<StoredRecord>> {
        let local_id = local_id.to_owned();
        self.reading(move |conn| {
                let mut st = conn
                    .prepare_cached(
                        "SELECT r.version_id, f.path, r.storage, r.kind, r.date, r.order_no, r.written_at, r.department,
                                r.condition, r.message_type, v.sha256
                         FROM records r JOIN files f ON f.id = r.file_id JOIN file_versions v ON v.id = r.version_id
                         WHERE r.facility_id = ?1 AND r.patient_id = ?2 AND f.current_version = r.version_id
                         ORDER BY r.date DESC, r.written_at DESC",
                    )
                    .map_err(db_err)?;
                let mut rows = st.query(params![facility.0, local_id]).map_err(db_err)?;
                let mut out = Vec::new();
                while let Some(r) = rows.next().map_err(db_err)? {
                    let storage: String = r.get(2).map_err(db_err)?;
                    let condition: i64 = r.get(8).map_err(db_err)?;
                    out.push(StoredRecord {
                        version_id: r.get(0).map_err(db_err)?,
                        path: r.get(1).map_err(db_err)?,
                        storage: if storage == "E" { StorageKind::Extended } else { StorageKind::Standard },
                        kind: r.get(3).map_err(db_err)?,
                        date: r.get(4).map_err(db_err)?,
                        order_no: r.get(5).map_err(db_err)?,
                        written_at: r.get(6).map_err(db_err)?,
                        department: r.get(7).map_err(db_err)?,
                        condition: match condition {
                            0 => Condition::Deleted,
                            2 => Condition::Superseded,
                            _ => Condition::Current,
                        },
                        message_type: r.get(9).map_err(db_err)?,
                        sha256: sha_from(r.get(10).map_err(db_err)?)?,
                    });
                }
                Ok(out)
            })
        .await
    }

    async fn patient_records_page(
        &self,
        facility: FacilityId,
        local_id: &str,
        filter: &store::RecordFilter,
    ) -> Result<Vec<store::PagedRecord>> {
        let (local_id, filter) = (local_id.to_owned(), filter.clone());
        self.reading(move |conn| viewer::patient_records_page(conn, facility, &local_id, &filter))
            .await
    }

    async fn record_version(&self, version_id: i64) -> Result<Option<store::RecordVersion>> {
        self.reading(move |conn| viewer::record_version(conn, version_id))
            .await
    }

    async fn order_versions(
        &self,
        facility: FacilityId,
        local_id: &str,
        kind: &str,
        order_no: &str,
    ) -> Result<Vec<store::RecordVersion>> {
        let (local_id, kind, order_no) =
            (local_id.to_owned(), kind.to_owned(), order_no.to_owned());
        self.reading(move |conn| {
            viewer::order_versions(conn, facility, &local_id, &kind, &order_no)
        })
        .await
    }

    async fn order_cancels(
        &self,
        facility: FacilityId,
        local_id: &str,
    ) -> Result<Vec<store::OrderCancel>> {
        let local_id = local_id.to_owned();
        self.reading(move |conn| viewer::order_cancels(conn, facility, &local_id))
            .await
    }

    async fn search_local_patients(
        &self,
        search: &store::PatientSearch,
    ) -> Result<Vec<store::LocalPatientHit>> {
        let search = search.clone();
        self.reading(move |conn| viewer::search_local_patients(conn, &search))
            .await
    }

    async fn lab_results(
        &self,
        facility: FacilityId,
        local_id: &str,
        filter: &LabFilter,
    ) -> Result<Vec<FactRow<LabFact>>> {
        let (local_id, filter) = (local_id.to_owned(), filter.clone());
        self.reading(move |conn| facts::lab_results(conn, facility, &local_id, &filter))
            .await
    }

    async fn medications(
        &self,
        facility: FacilityId,
        local_id: &str,
        active_on: Option<&str>,
    ) -> Result<Vec<FactRow<MedicationFact>>> {
        let (local_id, active_on) = (local_id.to_owned(), active_on.map(str::to_owned));
        self.reading(move |conn| {
            facts::medications(conn, facility, &local_id, active_on.as_deref())
        })
        .await
    }

    async fn diagnoses(
        &self,
        facility: FacilityId,
        local_id: &str,
    ) -> Result<Vec<FactRow<DiagnosisFact>>> {
        let local_id = local_id.to_owned();
        self.reading(move |conn| facts::diagnoses(conn, facility, &local_id))
            .await
    }

    async fn allergies(
        &self,
        facility: FacilityId,
        local_id: &str,
    ) -> Result<Vec<FactRow<AllergyFact>>> {
        let local_id = local_id.to_owned();
        self.reading(move |conn| facts::allergies(conn, facility, &local_id))
            .await
    }

    async fn encounters(
        &self,
        facility: FacilityId,
        local_id: &str,
    ) -> Result<Vec<FactRow<EncounterFact>>> {
        let local_id = local_id.to_owned();
        self.reading(move |conn| facts::encounters(conn, facility, &local_id))
            .await
    }

    async fn order_fact_history(
        &self,
        facility: FacilityId,
        local_id: &str,
        kind: &str,
        order_no: &str,
    ) -> Result<Vec<HistoricFact>> {
        let (local_id, kind, order_no) =
            (local_id.to_owned(), kind.to_owned(), order_no.to_owned());
        self.reading(move |conn| {
            facts::order_fact_history(conn, facility, &local_id, &kind, &order_no)
        })
        .await
    }

    async fn facts_backfill_next(
        &self,
        limit: usize,
        kinds: &[&str],
        extended_messages: &[&str],
    ) -> Result<Vec<BackfillItem>> {
        let kinds: Vec<String> = kinds.iter().map(|k| (*k).to_owned()).collect();
        let messages: Vec<String> = extended_messages.iter().map(|k| (*k).to_owned()).collect();
        self.blocking(move |inner| {
            inner.read(|conn| facts::backfill_next(conn, limit, &kinds, &messages))
        })
        .await
    }

    async fn facts_rederive(&self, extractor: u32) -> Result<bool> {
        self.blocking(move |inner| inner.write(|conn| facts::rederive(conn, extractor)))
            .await
    }

    async fn facts_backfill_put(
        &self,
        facts: Vec<BackfilledFacts>,
        done_through: i64,
    ) -> Result<()> {
        self.blocking(move |inner| {
            inner.write(|conn| facts::backfill_put(conn, &facts, done_through))
        })
        .await
    }

    async fn facility_overview(&self) -> Result<Vec<FacilityOverview>> {
        self.blocking(|inner| {
            inner.read(|conn| {
                let mut st = conn
                    .prepare(
                        "SELECT fa.code,
                            (SELECT COUNT(*) FROM files f JOIN file_versions v ON v.id = f.current_version
                              WHERE f.facility_id = fa.id AND v.sha256 IS NOT NULL),
                            (SELECT COUNT(*) FROM records r JOIN files f ON f.id = r.file_id
                              WHERE r.facility_id = fa.id AND f.current_version = r.version_id),
                            (SELECT COUNT(*) FROM quarantine q JOIN files f ON f.current_version = q.version_id
                              WHERE q.facility_id = fa.id),
                            (SELECT MAX(finished_at) FROM import_runs WHERE facility_id = fa.id)
                         FROM facilities fa ORDER BY fa.code",
                    )
                    .map_err(db_err)?;
                let rows = st
                    .query_map([], |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, i64>(1)?,
                            r.get::<_, i64>(2)?,
                            r.get::<_, i64>(3)?,
                            r.get::<_, Option<String>>(4)?,
                        ))
                    })
                    .map_err(db_err)?
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .map_err(db_err)?;
                rows.into_iter()
                    .map(|(code, files, records, quarantined, last_import)| {
                        Ok(FacilityOverview {
                            code: FacilityCode::parse(&code).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                            files: files as u64,
                            records: records as u64,
                            quarantined: quarantined as u64,
                            last_import,
                        })
                    })
                    .collect()
            })
        })
        .await
    }

    async fn content_digest(&self, facility: FacilityId) -> Result<String> {
        self.blocking(move |inner| {
            inner.read(|conn| {
                let mut hasher = sha2::Sha256::new();
                let mut st = conn
                    .prepare(
                        "SELECT f.path, v.sha256, v.id = f.current_version, r.storage, r.patient_id, r.date, r.kind, r.order_no,
                                r.written_at, r.department, r.condition, r.message_type, r.encoding, q.reason, q.line
                         FROM files f JOIN file_versions v ON v.file_id = f.id
                         LEFT JOIN records r ON r.version_id = v.id
                         LEFT JOIN quarantine q ON q.version_id = v.id
                         WHERE f.facility_id = ?1 ORDER BY f.path, v.id",
                    )
                    .map_err(db_err)?;
                let mut rows = st.query([facility.0]).map_err(db_err)?;
                while let Some(r) = rows.next().map_err(db_err)? {
                    for i in 0..15 {
                        let v: rusqlite::types::Value = r.get(i).map_err(db_err)?;
                        let v = match v {
                            rusqlite::types::Value::Null => store::DigestValue::Null,
                            rusqlite::types::Value::Integer(i) => store::DigestValue::Int(i),
                            rusqlite::types::Value::Real(f) => store::DigestValue::Text(f.to_string()),
                            rusqlite::types::Value::Text(t) => store::DigestValue::Text(t),
                            rusqlite::types::Value::Blob(b) => store::DigestValue::Bytes(b),
                        };
                        v.feed(&mut hasher);
                    }
                    hasher.update(b"\n");
                }
                Ok(store::packs::hex(&hasher.finalize()))
            })
        })
        .await
    }
}

/// The other current (`_1`) files of one order of a patient (facility, patient, kind, order
/// number, this file's id, `store::order_key_date`): an index range of `records_by_order`, each checked against its
/// file's current version.
const OTHER_CURRENT_OF_ORDER: &str =
    "SELECT f.path FROM records o JOIN files f ON f.id = o.file_id AND f.current_version = o.version_id
     WHERE o.facility_id = ?1 AND o.patient_id = ?2 AND o.kind = ?3 AND o.order_no = ?4
       AND o.condition = 1 AND o.storage = 'S' AND o.cancels = 0 AND o.file_id <> ?5
       AND (?6 = '' OR o.date = ?6)
     ORDER BY f.path";

/// The run's candidates of [`write_batch`] that still share their order with another current
/// file now that the run's removals are applied: each gets its import notice. Returns how
/// many notices were written.
fn order_notices(
    tx: &rusqlite::Transaction,
    facility: FacilityId,
    run: ImportRunId,
) -> Result<u64> {
    let candidates: Vec<(i64, i64, String, String, String, String)> = {
        let mut st = tx
            .prepare_cached(
                "SELECT r.version_id, r.file_id, r.patient_id, r.kind, r.order_no, r.date FROM order_checks c
                 JOIN records r ON r.version_id = c.version_id
                 JOIN files f ON f.id = r.file_id AND f.current_version = r.version_id
                 WHERE c.import_run = ?1 ORDER BY c.version_id",
            )
            .map_err(db_err)?;
        let rows = st
            .query_map([run.0], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })
            .map_err(db_err)?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(db_err)?
    };
    let mut others_of = tx.prepare_cached(OTHER_CURRENT_OF_ORDER).map_err(db_err)?;
    let mut ins_notice = tx
        .prepare_cached("INSERT INTO notices(facility_id, import_run, version_id, message) VALUES (?1, ?2, ?3, ?4)")
        .map_err(db_err)?;
    let mut written = 0;
    for (version_id, file_id, patient, kind, order_no, date) in candidates {
        let date = store::order_key_date(&kind, &date);
        let others: Vec<String> = others_of
            .query_map(
                params![facility.0, patient, kind, order_no, file_id, date],
                |r| r.get(0),
            )
            .map_err(db_err)?
            .collect::<std::result::Result<_, _>>()
            .map_err(db_err)?;
        if others.is_empty() {
            continue;
        }
        let message = store::duplicate_order_notice(&kind, &order_no, &others);
        ins_notice
            .execute(params![facility.0, run.0, version_id, message])
            .map_err(db_err)?;
        written += 1;
    }
    tx.execute("DELETE FROM order_checks WHERE import_run = ?1", [run.0])
        .map_err(db_err)?;
    Ok(written)
}

/// [`order_notices`] for a run that began on an empty facility (a first import), which
/// probed nothing while it wrote: the facility's orders with more than one record, read from
/// `records_by_order` alone, and of those the current order files of this run that share
/// their order (and date, `store::order_key_date`) with a current file written before them.
/// Each gets its import notice naming every other current file of the order.
fn order_notices_by_scan(
    tx: &rusqlite::Transaction,
    facility: FacilityId,
    run: ImportRunId,
) -> Result<u64> {
    let groups: Vec<(String, String, String)> = {
        let mut st = tx
            .prepare_cached(
                "SELECT patient_id, kind, order_no FROM records INDEXED BY records_by_order
                 WHERE facility_id = ?1 AND order_no <> ''
                 GROUP BY patient_id, kind, order_no HAVING count(*) > 1",
            )
            .map_err(db_err)?;
        let rows = st
            .query_map([facility.0], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(db_err)?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(db_err)?
    };
    let mut current_of_order = tx
        .prepare_cached(
            "SELECT o.version_id, o.date, f.path, v.import_run FROM records o
             JOIN files f ON f.id = o.file_id AND f.current_version = o.version_id
             JOIN file_versions v ON v.id = o.version_id
             WHERE o.facility_id = ?1 AND o.patient_id = ?2 AND o.kind = ?3 AND o.order_no = ?4
               AND o.condition = 1 AND o.storage = 'S' AND o.cancels = 0",
        )
        .map_err(db_err)?;
    let mut notices: Vec<(i64, String)> = Vec::new();
    for (patient, kind, order_no) in groups {
        if !ssmix2::DataKind::from_code(&kind).is_some_and(|k| k.has_order()) {
            continue;
        }
        let files: Vec<(i64, String, String, i64)> = current_of_order
            .query_map(params![facility.0, patient, kind, order_no], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .map_err(db_err)?
            .collect::<std::result::Result<_, _>>()
            .map_err(db_err)?;
        for (version_id, date, _, import_run) in &files {
            if *import_run != run.0 {
                continue;
            }
            let key = store::order_key_date(&kind, date);
            let same = |(v, d, _, _): &&(i64, String, String, i64)| {
                v != version_id && store::order_key_date(&kind, d) == key
            };
            if !files.iter().filter(same).any(|(v, ..)| v < version_id) {
                continue;
            }
            let mut others: Vec<String> = files
                .iter()
                .filter(same)
                .map(|(_, _, p, _)| p.clone())
                .collect();
            others.sort();
            notices.push((
                *version_id,
                store::duplicate_order_notice(&kind, &order_no, &others),
            ));
        }
    }
    notices.sort();
    let mut ins_notice = tx
        .prepare_cached("INSERT INTO notices(facility_id, import_run, version_id, message) VALUES (?1, ?2, ?3, ?4)")
        .map_err(db_err)?;
    for (version_id, message) in &notices {
        ins_notice
            .execute(params![facility.0, run.0, version_id, message])
            .map_err(db_err)?;
    }
    Ok(notices.len() as u64)
}

fn write_batch(
    conn: &mut Connection,
    packs: &LocalPacks,
    facility: FacilityId,
    run: ImportRunId,
    files: Vec<IngestFile>,
) -> Result<BatchOutcome> {
    let tx = conn.transaction().map_err(db_err)?;
    let mut outcome = BatchOutcome::default();
    // A run that began on an empty facility finds its duplicate orders when it finishes.
    let orders_at_finish: bool = tx
        .query_row(
            "SELECT orders_checked_at_finish FROM import_runs WHERE id = ?1",
            [run.0],
            |r| r.get(0),
        )
        .optional()
        .map_err(db_err)?
        .unwrap_or(false);
    // 1. Which files are really new versions (a replayed batch finds them all current).
    let mut fresh = Vec::with_capacity(files.len());
    {
        let mut current = tx
            .prepare_cached(
                "SELECT f.id, v.sha256 FROM files f LEFT JOIN file_versions v ON v.id = f.current_version
                 WHERE f.facility_id = ?1 AND f.path = ?2",
            )
            .map_err(db_err)?;
        for file in files {
            let existing: Option<(i64, Option<Vec<u8>>)> = current
                .query_row(params![facility.0, file.path], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()
                .map_err(db_err)?;
            match existing {
                Some((_, Some(sha))) if sha == file.sha256.0 => {}
                Some((id, _)) => fresh.push((Some(id), file)),
                None => fresh.push((None, file)),
            }
        }
    }
    // 2. Contents never seen before go into one new pack, written durably before the index
    //    that points at it is committed.
    {
        let mut known = tx
            .prepare_cached("SELECT 1 FROM blobs WHERE sha256 = ?1")
            .map_err(db_err)?;
        let mut builder = PackBuilder::new();
        let mut in_pack: HashSet<Sha256> = HashSet::new();
        let mut sizes: HashMap<Sha256, u64> = HashMap::new();
        for (_, f) in &fresh {
            if in_pack.contains(&f.sha256) {
                continue;
            }
            let exists = known.exists([&f.sha256.0[..]]).map_err(db_err)?;
            if !exists {
                builder.add(f.sha256, &f.bytes)?;
                in_pack.insert(f.sha256);
                sizes.insert(f.sha256, f.bytes.len() as u64);
            }
        }
        if !builder.is_empty() {
            let store::Pack {
                name,
                bytes,
                locations,
            } = builder.finish()?;
            packs.write(&name, &bytes)?;
            tx.execute(
                "INSERT INTO packs(name, size, created_at) VALUES (?1, ?2, ?3) ON CONFLICT(name) DO NOTHING",
                params![name, bytes.len() as i64, now()],
            )
            .map_err(db_err)?;
            let pack_id: i64 = tx
                .query_row("SELECT id FROM packs WHERE name = ?1", [&name], |r| {
                    r.get(0)
                })
                .map_err(db_err)?;
            let mut ins = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO blobs(sha256, size, pack_id, frame_offset, frame_len, offset) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .map_err(db_err)?;
            for (sha, loc) in &locations {
                ins.execute(params![
                    &sha.0[..],
                    loc.len as i64,
                    pack_id,
                    loc.frame_offset as i64,
                    loc.frame_len as i64,
                    loc.offset as i64
                ])
                .map_err(db_err)?;
            }
            outcome.new_blobs = locations.len() as u64;
            outcome.packed_bytes = bytes.len() as u64;
        }
    }
    // 3. File versions, records, quarantine, notices.
    {
        let at = now();
        // Ids are assigned here (this is the only writer, inside its transaction) so that a
        // new file's row is written once, already pointing at its first version.
        let max_id = |table: &str| -> Result<i64> {
            tx.query_row(
                &format!("SELECT COALESCE(MAX(id), 0) FROM {table}"),
                [],
                |r| r.get(0),
            )
            .map_err(db_err)
        };
        let mut next_file_id = max_id("files")? + 1;
        let first_version_id = max_id("file_versions")? + 1;
        let mut ins_file = tx
            .prepare_cached(
                "INSERT INTO files(id, facility_id, path, current_version) VALUES (?1, ?2, ?3, ?4)",
            )
            .map_err(db_err)?;
        let mut ins_version = tx
            .prepare_cached(
                "INSERT INTO file_versions(id, file_id, sha256, size, import_run, recorded_at, accept_unterminated) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .map_err(db_err)?;
        let mut set_current = tx
            .prepare_cached("UPDATE files SET current_version = ?1 WHERE id = ?2")
            .map_err(db_err)?;
        let mut ins_record = tx
            .prepare_cached(
                "INSERT INTO records(facility_id, file_id, version_id, storage, patient_id, date, kind, order_no, written_at,
                                     department, condition, message_type, encoding, cancels)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            )
            .map_err(db_err)?;
        let mut ins_quarantine = tx
            .prepare_cached(
                "INSERT INTO quarantine(facility_id, import_run, version_id, path, reason, line, recorded_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .map_err(db_err)?;
        // The newest ADT-00 of a patient wins (by file-name timestamp), whatever the order
        // files arrive in.
        let mut put_patient = tx
            .prepare_cached(
                "INSERT INTO local_patients(facility_id, local_id, name_kanji, name_kana, birth_date, sex, phone, zip, address, written_at,
                                            search_kanji, search_kana)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
                 ON CONFLICT(facility_id, local_id) DO UPDATE SET name_kanji = ?3, name_kana = ?4, birth_date = ?5, sex = ?6,
                     phone = ?7, zip = ?8, address = ?9, written_at = ?10, search_kanji = ?11, search_kana = ?12
                 WHERE ?10 >= local_patients.written_at",
            )
            .map_err(db_err)?;
        let mut fact_writer = facts::FactWriter::new(&tx)?;
        let mut ins_notice = tx
            .prepare_cached("INSERT INTO notices(facility_id, import_run, version_id, message) VALUES (?1, ?2, ?3, ?4)")
            .map_err(db_err)?;
        let mut other_current_of_order =
            tx.prepare_cached(OTHER_CURRENT_OF_ORDER).map_err(db_err)?;
        let mut ins_order_check = tx
            .prepare_cached(
                "INSERT OR IGNORE INTO order_checks(import_run, version_id) VALUES (?1, ?2)",
            )
            .map_err(db_err)?;
        for (version_id, (existing, f)) in (first_version_id..).zip(fresh) {
            let file_id = match existing {
                Some(id) => id,
                None => {
                    let id = next_file_id;
                    next_file_id += 1;
                    ins_file
                        .execute(params![id, facility.0, f.path, version_id])
                        .map_err(db_err)?;
                    id
                }
            };
            ins_version
                .execute(params![
                    version_id,
                    file_id,
                    &f.sha256.0[..],
                    f.bytes.len() as i64,
                    run.0,
                    f.recorded_at.as_deref().unwrap_or(&at),
                    f.accept_unterminated
                ])
                .map_err(db_err)?;
            if existing.is_some() {
                set_current
                    .execute(params![version_id, file_id])
                    .map_err(db_err)?;
            }
            match &f.outcome {
                FileOutcome::Record(r) => {
                    if let Some(d) = &f.demographics {
                        put_patient
                            .execute(params![
                                facility.0,
                                r.patient_id,
                                d.name_kanji,
                                d.name_kana,
                                d.birth_date,
                                d.sex,
                                d.phone,
                                d.zip,
                                d.address,
                                r.written_at,
                                store::kanji_search_key(&d.name_kanji),
                                store::kana_search_key(&d.name_kana)
                            ])
                            .map_err(db_err)?;
                    }
                    ins_record
                        .execute(params![
                            facility.0,
                            file_id,
                            version_id,
                            match r.storage {
                                StorageKind::Standard => "S",
                                StorageKind::Extended => "E",
                            },
                            r.patient_id,
                            r.date,
                            r.kind,
                            r.order_no,
                            r.written_at,
                            r.department,
                            condition_code(r.condition),
                            r.message_type,
                            r.nonconforming_encoding,
                            r.cancels,
                        ])
                        .map_err(db_err)?;
                    fact_writer.insert(facility, &r.patient_id, version_id, &f.facts)?;
                    if !orders_at_finish && store::is_current_order_file(r) {
                        // Another current file of the same order (records_by_order): checked
                        // again when the run finishes, after its removals.
                        let other = other_current_of_order
                            .exists(params![
                                facility.0,
                                r.patient_id,
                                r.kind,
                                r.order_no,
                                file_id,
                                store::order_key_date(&r.kind, &r.date)
                            ])
                            .map_err(db_err)?;
                        if other {
                            ins_order_check
                                .execute(params![run.0, version_id])
                                .map_err(db_err)?;
                        }
                    }
                }
                FileOutcome::Quarantined { reason, line } => {
                    ins_quarantine
                        .execute(params![
                            facility.0,
                            run.0,
                            version_id,
                            f.path,
                            reason,
                            line.map(|l| l as i64),
                            f.recorded_at.as_deref().unwrap_or(&at)
                        ])
                        .map_err(db_err)?;
                }
            }
            for n in &f.notices {
                ins_notice
                    .execute(params![facility.0, run.0, version_id, n])
                    .map_err(db_err)?;
            }
            outcome.versions += 1;
        }
    }
    tx.commit().map_err(db_err)?;
    Ok(outcome)
}

/// Totals are stored as a small JSON object; hand-written to keep serde_json out of the store.
fn serde_json_lite(t: &ImportTotals) -> String {
    let kinds: Vec<String> = t
        .messages_per_kind
        .iter()
        .map(|(k, v)| format!("\"{k}\":{v}"))
        .collect();
    format!(
        "{{\"files_seen\":{},\"files_new\":{},\"duplicates\":{},\"quarantined\":{},\"notices\":{},\"messages_per_kind\":{{{}}}}}",
        t.files_seen,
        t.files_new,
        t.duplicates,
        t.quarantined,
        t.notices,
        kinds.join(",")
    )
}

fn parse_totals(s: &str) -> Option<ImportTotals> {
    let num = |key: &str| -> Option<u64> {
        let i = s.find(&format!("\"{key}\":"))? + key.len() + 3;
        s[i..]
            .split(|c: char| !c.is_ascii_digit())
            .next()?
            .parse()
            .ok()
    };
    let mut t = ImportTotals {
        files_seen: num("files_seen")?,
        files_new: num("files_new")?,
        duplicates: num("duplicates")?,
        quarantined: num("quarantined")?,
        notices: num("notices").unwrap_or(0),
        messages_per_kind: Default::default(),
    };
    if let Some(i) = s.find("\"messages_per_kind\":{") {
        let body = &s[i + 21..];
        let body = &body[..body.find('}').unwrap_or(body.len())];
        for pair in body.split(',').filter(|p| !p.is_empty()) {
            let mut it = pair.splitn(2, ':');
            if let (Some(k), Some(v)) = (it.next(), it.next()) {
                if let Ok(n) = v.parse() {
                    t.messages_per_kind
                        .insert(k.trim_matches('"').to_owned(), n);
                }
            }
        }
    }
    Some(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_round_trip() {
        let mut t = ImportTotals {
            files_seen: 10,
            files_new: 7,
            duplicates: 2,
            quarantined: 1,
            notices: 3,
            ..Default::default()
        };
        t.messages_per_kind.insert("OML-11".into(), 4);
        t.messages_per_kind.insert("ADT-00".into(), 3);
        assert_eq!(parse_totals(&serde_json_lite(&t)), Some(t));
    }

    /// Looking a facility up does not wait for the writer (held here as a long import or a
    /// burst of audit commits would hold it).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_facility_lookup_does_not_queue_on_the_writer() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = SqliteStore::open(dir.path()).expect("store");
        let code = FacilityCode::parse("1310000001").expect("code");
        let id = store.facility(&code, true).await.expect("create");
        let held = store.inner.clone();
        let (locked_tx, locked_rx) = std::sync::mpsc::channel();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let holder = std::thread::spawn(move || {
            let _writer = held.writer.lock().expect("writer");
            locked_tx.send(()).expect("send");
            let _ = release_rx.recv_timeout(std::time::Duration::from_secs(30));
        });
        locked_rx.recv().expect("writer held");
        let found = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            store.facility(&code, false),
        )
        .await;
        release_tx.send(()).expect("release");
        holder.join().expect("holder");
        assert_eq!(
            found
                .expect("answered while the writer is busy")
                .expect("lookup"),
            id
        );
    }
}
