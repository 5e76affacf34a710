//! Schema migrations, tracked with `PRAGMA user_version`. Append only: never edit a released
//! step, add a new one.

use rusqlite::Connection;
use store::{Result, StoreError};

const MIGRATIONS: &[&str] = &[
    // 1: SS-MIX2 ingest.
    "
    CREATE TABLE facilities (
        id INTEGER PRIMARY KEY,
        code TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL
    );
    CREATE TABLE import_runs (
        id INTEGER PRIMARY KEY,
        facility_id INTEGER NOT NULL REFERENCES facilities(id),
        source TEXT NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        totals TEXT,
        removed INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE packs (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        size INTEGER NOT NULL,
        created_at TEXT NOT NULL
    );
    -- One row per distinct raw content, wherever it appears.
    CREATE TABLE blobs (
        sha256 BLOB PRIMARY KEY,
        size INTEGER NOT NULL,
        pack_id INTEGER NOT NULL REFERENCES packs(id),
        frame_offset INTEGER NOT NULL,
        frame_len INTEGER NOT NULL,
        offset INTEGER NOT NULL
    ) WITHOUT ROWID;
    -- One row per path ever seen in a facility's tree.
    CREATE TABLE files (
        id INTEGER PRIMARY KEY,
        facility_id INTEGER NOT NULL REFERENCES facilities(id),
        path TEXT NOT NULL,
        current_version INTEGER,
        UNIQUE (facility_id, path)
    );
    -- Every content a path has had, in order; sha256 NULL marks removal from the tree.
    CREATE TABLE file_versions (
        id INTEGER PRIMARY KEY,
        file_id INTEGER NOT NULL REFERENCES files(id),
        sha256 BLOB,
        size INTEGER NOT NULL,
        import_run INTEGER NOT NULL REFERENCES import_runs(id),
        recorded_at TEXT NOT NULL
    );
    CREATE INDEX file_versions_by_file ON file_versions(file_id);
    -- The index entry of every understood file version. It is live while its version is
    -- its file's current version.
    -- At most one record per file version, so the version id is the record's key.
    CREATE TABLE records (
        version_id INTEGER PRIMARY KEY,
        facility_id INTEGER NOT NULL,
        file_id INTEGER NOT NULL,
        storage TEXT NOT NULL,
        patient_id TEXT NOT NULL,
        date TEXT NOT NULL,
        kind TEXT NOT NULL,
        order_no TEXT NOT NULL,
        written_at TEXT NOT NULL,
        department TEXT NOT NULL,
        condition INTEGER NOT NULL,
        message_type TEXT,
        encoding TEXT
    );
    -- The timeline read: one patient of one facility, newest first, by kind.
    CREATE INDEX records_by_patient ON records(facility_id, patient_id, date DESC, kind);
    -- Every version of one order (updates, cancellations).
    CREATE INDEX records_by_order ON records(facility_id, patient_id, kind, order_no);
    CREATE TABLE quarantine (
        version_id INTEGER PRIMARY KEY,
        facility_id INTEGER NOT NULL,
        import_run INTEGER NOT NULL,
        path TEXT NOT NULL,
        reason TEXT NOT NULL,
        line INTEGER,
        recorded_at TEXT NOT NULL
    );
    CREATE INDEX quarantine_by_facility ON quarantine(facility_id);
    CREATE TABLE notices (
        id INTEGER PRIMARY KEY,
        facility_id INTEGER NOT NULL,
        import_run INTEGER NOT NULL,
        version_id INTEGER NOT NULL,
        message TEXT NOT NULL
    );
    ",
];

pub fn migrate(conn: &mut Connection) -> Result<()> {
    let db = |e: rusqlite::Error| StoreError::Database(e.to_string());
    let current: usize = conn
        .query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))
        .map_err(db)? as usize;
    if current > MIGRATIONS.len() {
        return Err(StoreError::Database(format!(
            "database schema version {current} is newer than this renkei ({}); upgrade renkei",
            MIGRATIONS.len()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        let tx = conn.transaction().map_err(db)?;
        tx.execute_batch(sql).map_err(db)?;
        tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))
            .map_err(db)?;
        tx.commit().map_err(db)?;
    }
    Ok(())
}
