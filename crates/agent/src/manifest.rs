//! The agent's local state: one SQLite file in the state folder (WAL, `synchronous=FULL`, so
//! it survives `kill -9` and power loss). `files` holds what the agent knows of every file of
//! the tree; `sent` means the server holds exactly this content (path, SHA-256) as current.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use rusqlite::{params, Connection, OptionalExtension};

use crate::AgentError;

/// The manifest file inside the state folder.
pub const MANIFEST_FILE: &str = "agent-manifest.sqlite";

/// One file as the manifest remembers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub path: String,
    pub size: u64,
    pub mtime_ns: i64,
    pub sha256: String,
    pub sent: bool,
    /// Seen missing from the tree; reported as removed at the next finished run, then dropped.
    pub gone: bool,
}

/// What one scan found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanReport {
    /// Files found in the tree (paths passing the rule).
    pub scanned: u64,
    /// Files read and hashed (new, changed size/mtime, or all with `full`).
    pub hashed: u64,
    /// Files new to the manifest.
    pub new: u64,
    /// Known files whose content changed (to be sent again).
    pub changed: u64,
    /// Files no longer in the tree (reported as removed at finish).
    pub gone: u64,
    /// Paths skipped: refused by the path rule or unreadable, with why.
    pub skipped: Vec<(String, String)>,
}

/// Counts and last run, for `renkei agent status`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Status {
    /// Files in the tree as of the last scan.
    pub known: u64,
    pub sent: u64,
    pub pending: u64,
    /// Deleted from the tree, not yet reported to the server.
    pub removed_pending: u64,
    pub last_run_started: Option<i64>,
    pub last_run_finished: Option<i64>,
    pub last_error: Option<String>,
    pub runs_finished: u64,
    pub total_files_sent: u64,
    pub total_bytes_sent: u64,
}

pub struct Manifest {
    conn: Connection,
    path: PathBuf,
}

fn db(path: &Path) -> impl Fn(rusqlite::Error) -> AgentError + '_ {
    move |e| AgentError::Manifest {
        path: path.to_owned(),
        source: e,
    }
}

/// Modification time in nanoseconds since the epoch (0 when the platform gives none).
pub fn mtime_ns(meta: &std::fs::Metadata) -> i64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl Manifest {
    /// Open (or create) the manifest in `state_dir` (created if missing).
    pub fn open(state_dir: &Path) -> Result<Manifest, AgentError> {
        std::fs::create_dir_all(state_dir).map_err(|e| AgentError::Io {
            path: state_dir.to_owned(),
            source: e,
        })?;
        let path = state_dir.join(MANIFEST_FILE);
        let conn = Connection::open(&path).map_err(db(&path))?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL;
             PRAGMA synchronous=FULL;
             PRAGMA busy_timeout=10000;
             CREATE TABLE IF NOT EXISTS files(
                 path TEXT PRIMARY KEY,
                 size INTEGER NOT NULL,
                 mtime_ns INTEGER NOT NULL,
                 sha256 TEXT NOT NULL,
                 sent INTEGER NOT NULL DEFAULT 0,
                 gone INTEGER NOT NULL DEFAULT 0);
             CREATE TABLE IF NOT EXISTS state(key TEXT PRIMARY KEY, value TEXT NOT NULL);",
        )
        .map_err(db(&path))?;
        Ok(Manifest { conn, path })
    }

    /// Open an existing manifest for reading (status); an error if there is none.
    pub fn open_existing(state_dir: &Path) -> Result<Manifest, AgentError> {
        let path = state_dir.join(MANIFEST_FILE);
        if !path.is_file() {
            return Err(AgentError::Config(format!(
                "no agent manifest in {} (has `renkei agent run` ever run with this --state?)",
                state_dir.display()
            )));
        }
        Manifest::open(state_dir)
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> AgentError + '_ {
        db(&self.path)
    }

    pub fn all(&self) -> Result<HashMap<String, Entry>, AgentError> {
        let mut st = self
            .conn
            .prepare("SELECT path, size, mtime_ns, sha256, sent, gone FROM files")
            .map_err(self.err())?;
        let rows = st
            .query_map([], |r| {
                Ok(Entry {
                    path: r.get(0)?,
                    size: r.get::<_, i64>(1)? as u64,
                    mtime_ns: r.get(2)?,
                    sha256: r.get(3)?,
                    sent: r.get::<_, i64>(4)? != 0,
                    gone: r.get::<_, i64>(5)? != 0,
                })
            })
            .map_err(self.err())?;
        let mut out = HashMap::new();
        for row in rows {
            let e = row.map_err(self.err())?;
            out.insert(e.path.clone(), e);
        }
        Ok(out)
    }

    pub fn get(&self, path: &str) -> Result<Option<Entry>, AgentError> {
        self.conn
            .query_row(
                "SELECT path, size, mtime_ns, sha256, sent, gone FROM files WHERE path = ?1",
                [path],
                |r| {
                    Ok(Entry {
                        path: r.get(0)?,
                        size: r.get::<_, i64>(1)? as u64,
                        mtime_ns: r.get(2)?,
                        sha256: r.get(3)?,
                        sent: r.get::<_, i64>(4)? != 0,
                        gone: r.get::<_, i64>(5)? != 0,
                    })
                },
            )
            .optional()
            .map_err(self.err())
    }

    /// Walk `root` and bring the manifest up to date: new files and files whose size or
    /// mtime changed are hashed (all of them with `full`); a file whose hash changed is no
    /// longer `sent`; files missing from the tree become `gone`. `progress` is called with
    /// the report so far after every file.
    pub fn scan(
        &mut self,
        root: &Path,
        full: bool,
        progress: &mut dyn FnMut(&ScanReport),
    ) -> Result<ScanReport, AgentError> {
        if !root.is_dir() {
            return Err(AgentError::Config(format!(
                "--root {} is not a folder",
                root.display()
            )));
        }
        let known = self.all()?;
        let mut seen = std::collections::HashSet::new();
        let mut report = ScanReport::default();
        let mut pending: Vec<Entry> = Vec::new();
        let mut failure: Option<AgentError> = None;
        let walked = ingest::walk_tree(root, &mut |rel: String| {
            if let Err(e) = upload::check_path(&rel) {
                report.skipped.push((rel, e.to_string()));
                return true;
            }
            let full_path = root.join(&rel);
            let meta = match std::fs::metadata(&full_path) {
                Ok(m) => m,
                Err(e) => {
                    report.skipped.push((rel, format!("cannot read: {e}")));
                    return true;
                }
            };
            report.scanned += 1;
            let size = meta.len();
            let mtime = mtime_ns(&meta);
            let old = known.get(&rel);
            seen.insert(rel.clone());
            let unchanged = old.is_some_and(|o| o.size == size && o.mtime_ns == mtime);
            if unchanged && !full {
                if let Some(o) = old.filter(|o| o.gone) {
                    // Back in the tree, same size and mtime: just not gone any more.
                    pending.push(Entry {
                        gone: false,
                        ..o.clone()
                    });
                }
            } else {
                let bytes = match std::fs::read(&full_path) {
                    Ok(b) => b,
                    Err(e) => {
                        // Still in the tree (not reported removed), just not readable now.
                        report.skipped.push((rel, format!("cannot read: {e}")));
                        return true;
                    }
                };
                report.hashed += 1;
                let sha = upload::sha256_hex(&bytes);
                let sent = match old {
                    None => {
                        report.new += 1;
                        false
                    }
                    Some(o) if o.sha256 == sha => o.sent,
                    Some(_) => {
                        report.changed += 1;
                        false
                    }
                };
                pending.push(Entry {
                    path: rel,
                    size: bytes.len() as u64,
                    mtime_ns: mtime,
                    sha256: sha,
                    sent,
                    gone: false,
                });
            }
            if pending.len() >= 1000 {
                if let Err(e) = self.upsert(&pending) {
                    failure = Some(e);
                    return false;
                }
                pending.clear();
            }
            progress(&report);
            true
        });
        if let Some(e) = failure {
            return Err(e);
        }
        walked.map_err(|e| AgentError::Config(format!("scanning {}: {e}", root.display())))?;
        self.upsert(&pending)?;
        let gone: Vec<&str> = known
            .values()
            .filter(|e| !seen.contains(&e.path))
            .map(|e| e.path.as_str())
            .collect();
        report.gone = gone.len() as u64;
        let tx = self.conn.transaction().map_err(db(&self.path))?;
        for p in gone {
            tx.execute("UPDATE files SET gone = 1 WHERE path = ?1", [p])
                .map_err(db(&self.path))?;
        }
        tx.commit().map_err(db(&self.path))?;
        Ok(report)
    }

    fn upsert(&mut self, entries: &[Entry]) -> Result<(), AgentError> {
        let tx = self.conn.transaction().map_err(db(&self.path))?;
        {
            let mut st = tx
                .prepare_cached(
                    "INSERT INTO files(path, size, mtime_ns, sha256, sent, gone)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT(path) DO UPDATE SET size = ?2, mtime_ns = ?3, sha256 = ?4,
                         sent = ?5, gone = ?6",
                )
                .map_err(db(&self.path))?;
            for e in entries {
                st.execute(params![
                    e.path,
                    e.size as i64,
                    e.mtime_ns,
                    e.sha256,
                    e.sent as i64,
                    e.gone as i64
                ])
                .map_err(db(&self.path))?;
            }
        }
        tx.commit().map_err(db(&self.path))
    }

    /// Files in the tree the server may not hold yet, sorted by path.
    pub fn unsent(&self) -> Result<Vec<Entry>, AgentError> {
        let mut all: Vec<Entry> = self
            .all()?
            .into_values()
            .filter(|e| !e.sent && !e.gone)
            .collect();
        all.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(all)
    }

    /// Mark every file of the tree as not sent, so the next upload asks the server about all.
    pub fn forget_sent(&mut self) -> Result<(), AgentError> {
        self.conn
            .execute("UPDATE files SET sent = 0", [])
            .map(drop)
            .map_err(self.err())
    }

    /// Record files as held by the server, with the size, mtime and hash sent; one
    /// transaction.
    pub fn mark_sent(&mut self, entries: &[Entry]) -> Result<(), AgentError> {
        let sent: Vec<Entry> = entries
            .iter()
            .map(|e| Entry {
                sent: true,
                gone: false,
                ..e.clone()
            })
            .collect();
        self.upsert(&sent)
    }

    /// Paths gone from the tree, not yet reported.
    pub fn gone(&self) -> Result<Vec<String>, AgentError> {
        let mut st = self
            .conn
            .prepare("SELECT path FROM files WHERE gone = 1 ORDER BY path")
            .map_err(self.err())?;
        let rows = st
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(self.err())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.err())
    }

    /// Forget files reported removed.
    pub fn drop_gone(&mut self, paths: &[String]) -> Result<(), AgentError> {
        let tx = self.conn.transaction().map_err(db(&self.path))?;
        for p in paths {
            tx.execute("DELETE FROM files WHERE path = ?1 AND gone = 1", [p])
                .map_err(db(&self.path))?;
        }
        tx.commit().map_err(db(&self.path))
    }

    pub fn set(&self, key: &str, value: &str) -> Result<(), AgentError> {
        self.conn
            .execute(
                "INSERT INTO state(key, value) VALUES (?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET value = ?2",
                [key, value],
            )
            .map(drop)
            .map_err(self.err())
    }

    pub fn clear(&self, key: &str) -> Result<(), AgentError> {
        self.conn
            .execute("DELETE FROM state WHERE key = ?1", [key])
            .map(drop)
            .map_err(self.err())
    }

    pub fn value(&self, key: &str) -> Result<Option<String>, AgentError> {
        self.conn
            .query_row("SELECT value FROM state WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()
            .map_err(self.err())
    }

    fn number(&self, key: &str) -> Result<u64, AgentError> {
        Ok(self.value(key)?.and_then(|v| v.parse().ok()).unwrap_or(0))
    }

    /// Add to a running total.
    pub fn add(&self, key: &str, n: u64) -> Result<(), AgentError> {
        let v = self.number(key)?.saturating_add(n);
        self.set(key, &v.to_string())
    }

    pub fn status(&self) -> Result<Status, AgentError> {
        let count = |sql: &str| -> Result<u64, AgentError> {
            self.conn
                .query_row(sql, [], |r| r.get::<_, i64>(0))
                .map(|n| n as u64)
                .map_err(self.err())
        };
        let time = |key: &str| -> Result<Option<i64>, AgentError> {
            Ok(self.value(key)?.and_then(|v| v.parse().ok()))
        };
        Ok(Status {
            known: count("SELECT COUNT(*) FROM files WHERE gone = 0")?,
            sent: count("SELECT COUNT(*) FROM files WHERE gone = 0 AND sent = 1")?,
            pending: count("SELECT COUNT(*) FROM files WHERE gone = 0 AND sent = 0")?,
            removed_pending: count("SELECT COUNT(*) FROM files WHERE gone = 1")?,
            last_run_started: time("last_run_started")?,
            last_run_finished: time("last_run_finished")?,
            last_error: self.value("last_error")?,
            runs_finished: self.number("runs_finished")?,
            total_files_sent: self.number("total_files_sent")?,
            total_bytes_sent: self.number("total_bytes_sent")?,
        })
    }
}
