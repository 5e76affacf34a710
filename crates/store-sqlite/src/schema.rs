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
    // 2: regional IDs, links, consent, users, audit.
    "
    ALTER TABLE facilities ADD COLUMN name TEXT NOT NULL DEFAULT '';
    ALTER TABLE facilities ADD COLUMN kind TEXT NOT NULL DEFAULT 'other';
    ALTER TABLE facilities ADD COLUMN area TEXT NOT NULL DEFAULT '';
    ALTER TABLE facilities ADD COLUMN status TEXT NOT NULL DEFAULT 'participating';
    ALTER TABLE facilities ADD COLUMN discloses INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE facilities ADD COLUMN views INTEGER NOT NULL DEFAULT 0;
    -- Demographics of each facility's patient, from its current ADT-00 (for matching and
    -- name search). Normalised keys are filled by the registry when it reads them.
    CREATE TABLE local_patients (
        facility_id INTEGER NOT NULL REFERENCES facilities(id),
        local_id TEXT NOT NULL,
        name_kanji TEXT NOT NULL,
        name_kana TEXT NOT NULL,
        birth_date TEXT NOT NULL,
        sex TEXT NOT NULL,
        phone TEXT NOT NULL,
        zip TEXT NOT NULL,
        address TEXT NOT NULL,
        written_at TEXT NOT NULL,
        PRIMARY KEY (facility_id, local_id)
    ) WITHOUT ROWID;
    CREATE INDEX local_patients_by_birth ON local_patients(birth_date);
    CREATE TABLE regional_ids (
        seq INTEGER PRIMARY KEY,
        regional_id TEXT NOT NULL UNIQUE,
        created_at INTEGER NOT NULL,
        created_by TEXT NOT NULL,
        merged_into TEXT
    );
    -- Links are ended, never deleted: the history of who was linked when stays.
    CREATE TABLE links (
        id INTEGER PRIMARY KEY,
        regional_id TEXT NOT NULL REFERENCES regional_ids(regional_id),
        facility_id INTEGER NOT NULL REFERENCES facilities(id),
        local_id TEXT NOT NULL,
        linked_at INTEGER NOT NULL,
        linked_by TEXT NOT NULL,
        ended_at INTEGER,
        ended_by TEXT,
        merge_id INTEGER
    );
    CREATE UNIQUE INDEX links_active ON links(facility_id, local_id) WHERE ended_at IS NULL;
    CREATE INDEX links_by_regional_id ON links(regional_id);
    CREATE TABLE merges (
        id INTEGER PRIMARY KEY,
        from_id TEXT NOT NULL,
        into_id TEXT NOT NULL,
        at INTEGER NOT NULL,
        by TEXT NOT NULL,
        undone_at INTEGER,
        undone_by TEXT
    );
    CREATE TABLE consents (
        id INTEGER PRIMARY KEY,
        regional_id TEXT NOT NULL REFERENCES regional_ids(regional_id),
        scope TEXT NOT NULL,
        valid_from TEXT NOT NULL,
        valid_until TEXT,
        withdrawn_at INTEGER,
        withdrawn_by TEXT,
        paper_form TEXT NOT NULL,
        implied INTEGER NOT NULL,
        recorded_by TEXT NOT NULL,
        recorded_at INTEGER NOT NULL,
        replaces INTEGER
    );
    CREATE INDEX consents_by_regional_id ON consents(regional_id);
    CREATE TABLE users (
        login TEXT PRIMARY KEY,
        display_name TEXT NOT NULL,
        profession TEXT NOT NULL,
        facilities TEXT NOT NULL,
        active INTEGER NOT NULL,
        password_phc TEXT NOT NULL,
        totp_secret TEXT,
        login_state TEXT NOT NULL,
        created_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE sessions (
        token_hash BLOB PRIMARY KEY,
        login TEXT NOT NULL,
        acting_facility TEXT,
        created_at INTEGER NOT NULL,
        last_seen INTEGER NOT NULL,
        ended_at INTEGER
    ) WITHOUT ROWID;
    CREATE TABLE api_keys (
        prefix TEXT PRIMARY KEY,
        facility_id INTEGER NOT NULL REFERENCES facilities(id),
        key_hash BLOB NOT NULL,
        created_at INTEGER NOT NULL,
        created_by TEXT NOT NULL,
        revoked_at INTEGER
    ) WITHOUT ROWID;
    CREATE TABLE settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) WITHOUT ROWID;
    -- The audit log: append-only, hash-chained (see the audit crate).
    CREATE TABLE audit_log (
        seq INTEGER PRIMARY KEY,
        at INTEGER NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        patient TEXT,
        flagged INTEGER NOT NULL,
        event TEXT NOT NULL,
        prev_hash BLOB NOT NULL,
        hash BLOB NOT NULL
    );
    CREATE INDEX audit_by_patient ON audit_log(patient, seq) WHERE patient IS NOT NULL;
    CREATE INDEX audit_by_actor ON audit_log(actor, seq);
    CREATE INDEX audit_flagged ON audit_log(seq) WHERE flagged = 1;
    -- Nothing may change or remove an audit entry through SQL either.
    CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    ",
    // 3: clinical facts for the viewer, read from each current (`_1`) message at import.
    // Each row is one fact of one file version (version_id + its line in the message); it is
    // live exactly when that version is its file's current version (join
    // files.current_version), like records. The tables are clustered on what the viewer
    // reads — one local patient (facility_id + patient_id, the facility's local ID), labs by
    // test code and time, medications by start date — with no secondary index: every index
    // is another B-tree insert per fact on the import's single writer, and one clustered key
    // cost the import 17 % instead of 23 % with (version_id, line) keys plus two indexes.
    // "Newest first" across a patient's tests is a sort of that patient's rows (thousands).
    "
    CREATE TABLE lab_results (
        version_id INTEGER NOT NULL,
        line INTEGER NOT NULL,
        facility_id INTEGER NOT NULL,
        patient_id TEXT NOT NULL,
        code TEXT NOT NULL,
        code_system TEXT NOT NULL,
        local_code TEXT NOT NULL,
        name TEXT NOT NULL,
        value_type TEXT NOT NULL,
        value TEXT NOT NULL,
        unit TEXT NOT NULL,
        reference_range TEXT NOT NULL,
        abnormal_flag TEXT NOT NULL,
        status TEXT NOT NULL,
        observed_at TEXT NOT NULL,
        PRIMARY KEY (facility_id, patient_id, code, observed_at, version_id, line)
    ) WITHOUT ROWID;
    CREATE TABLE medications (
        version_id INTEGER NOT NULL,
        line INTEGER NOT NULL,
        facility_id INTEGER NOT NULL,
        patient_id TEXT NOT NULL,
        rp TEXT NOT NULL,
        hot_code TEXT NOT NULL,
        yj_code TEXT NOT NULL,
        local_code TEXT NOT NULL,
        drug_name TEXT NOT NULL,
        dose TEXT NOT NULL,
        dose_unit TEXT NOT NULL,
        daily_dose TEXT NOT NULL,
        usage TEXT NOT NULL,
        route TEXT NOT NULL,
        days INTEGER,
        start_date TEXT NOT NULL,
        end_date TEXT NOT NULL,
        ordered_at TEXT NOT NULL,
        PRIMARY KEY (facility_id, patient_id, start_date, version_id, line)
    ) WITHOUT ROWID;
    CREATE TABLE diagnoses (
        version_id INTEGER NOT NULL,
        line INTEGER NOT NULL,
        facility_id INTEGER NOT NULL,
        patient_id TEXT NOT NULL,
        name TEXT NOT NULL,
        medis_code TEXT NOT NULL,
        icd10 TEXT NOT NULL,
        main INTEGER NOT NULL,
        suspected INTEGER NOT NULL,
        action TEXT NOT NULL,
        start_date TEXT NOT NULL,
        end_date TEXT NOT NULL,
        outcome TEXT NOT NULL,
        PRIMARY KEY (facility_id, patient_id, version_id, line)
    ) WITHOUT ROWID;
    CREATE TABLE allergies (
        version_id INTEGER NOT NULL,
        line INTEGER NOT NULL,
        facility_id INTEGER NOT NULL,
        patient_id TEXT NOT NULL,
        allergen_type TEXT NOT NULL,
        allergen_type_code TEXT NOT NULL,
        allergen_code TEXT NOT NULL,
        allergen_system TEXT NOT NULL,
        allergen_name TEXT NOT NULL,
        severity TEXT NOT NULL,
        reaction TEXT NOT NULL,
        identified TEXT NOT NULL,
        PRIMARY KEY (facility_id, patient_id, version_id, line)
    ) WITHOUT ROWID;
    CREATE TABLE encounters (
        version_id INTEGER NOT NULL,
        line INTEGER NOT NULL,
        facility_id INTEGER NOT NULL,
        patient_id TEXT NOT NULL,
        event TEXT NOT NULL,
        admitted_at TEXT NOT NULL,
        discharged_at TEXT NOT NULL,
        ward TEXT NOT NULL,
        room TEXT NOT NULL,
        department TEXT NOT NULL,
        PRIMARY KEY (facility_id, patient_id, version_id, line)
    ) WITHOUT ROWID;
    -- Records stored before this migration have no facts yet: the backfill reads them from
    -- their stored bytes, versions next_version..=upto, and moves next_version on. A new
    -- store has nothing to do (upto = 0).
    CREATE TABLE facts_backfill (
        next_version INTEGER NOT NULL,
        upto INTEGER NOT NULL
    );
    INSERT INTO facts_backfill SELECT 1, COALESCE(MAX(version_id), 0) FROM records;
    ",
];

/// 4: normalised name keys for patient search, kept with each local patient. Added as
/// columns, filled from the stored names (a store from before this step has its patients
/// already), then indexed — in that order, so the fill does not update two indexes per row.
/// The keys come from `mpi::normalize` through `store::kanji_search_key` /
/// `store::kana_search_key`; SQL cannot compute them, hence a Rust step.
///
/// The indexes end with birth date and sex so that "name prefix + birth date" is decided in
/// the index, and (the table being WITHOUT ROWID) they carry the primary key (facility,
/// local ID) too: the search's ORDER BY is the index order and a LIMIT stops the range scan.
const SEARCH_KEYS_COLUMNS: &str = "
    ALTER TABLE local_patients ADD COLUMN search_kanji TEXT NOT NULL DEFAULT '';
    ALTER TABLE local_patients ADD COLUMN search_kana TEXT NOT NULL DEFAULT '';
";
const SEARCH_KEYS_INDEXES: &str = "
    CREATE INDEX local_patients_by_kanji ON local_patients(search_kanji, birth_date, sex);
    CREATE INDEX local_patients_by_kana ON local_patients(search_kana, birth_date, sex);
";

fn search_keys_step(tx: &rusqlite::Transaction) -> rusqlite::Result<()> {
    tx.execute_batch(SEARCH_KEYS_COLUMNS)?;
    let rows: Vec<(i64, String, String, String)> = {
        let mut st =
            tx.prepare("SELECT facility_id, local_id, name_kanji, name_kana FROM local_patients")?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    let mut up = tx.prepare(
        "UPDATE local_patients SET search_kanji = ?3, search_kana = ?4 WHERE facility_id = ?1 AND local_id = ?2",
    )?;
    for (facility, local_id, kanji, kana) in rows {
        up.execute(rusqlite::params![
            facility,
            local_id,
            store::kanji_search_key(&kanji),
            store::kana_search_key(&kana)
        ])?;
    }
    tx.execute_batch(SEARCH_KEYS_INDEXES)
}

/// 5: replication. The registry tables are journaled by triggers, in the same transaction as
/// each change, so that no change can reach the store without reaching the journal; sites
/// and this node's role are kept apart (they describe this copy, they are not shipped).
const REPLICATION_TABLES: &str = "
    CREATE TABLE replication_journal (
        seq INTEGER PRIMARY KEY,
        tbl TEXT NOT NULL,
        op TEXT NOT NULL,
        row TEXT NOT NULL
    );
    CREATE TABLE replication_sites (
        name TEXT PRIMARY KEY,
        state TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE node (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) WITHOUT ROWID;
";

fn replication_step(tx: &rusqlite::Transaction) -> rusqlite::Result<()> {
    tx.execute_batch(REPLICATION_TABLES)?;
    install_journal_triggers(tx)?;
    // A store that already holds a network starts its journal with every registry row as it
    // stands, so a site added later receives the whole registry, not only later changes.
    for table in JOURNALED {
        let cols = columns(tx, table)?;
        tx.execute_batch(&format!(
            "INSERT INTO replication_journal(tbl, op, row) SELECT '{table}', 'upsert', {} FROM {table}",
            json_of(&cols, "")
        ))?;
    }
    Ok(())
}

/// The network's own tables, shipped to replicas row by row. Not here: what the ingest derives
/// from raw files (records, facts, local demographics, quarantine — a replica derives them
/// again), sessions (per server) and the audit log (shipped by sequence number).
pub const JOURNALED: &[&str] = &[
    "facilities",
    "regional_ids",
    "links",
    "merges",
    "consents",
    "users",
    "api_keys",
    "settings",
];

/// (name, declared type, part of the primary key) of each column.
pub fn columns(
    conn: &rusqlite::Connection,
    table: &str,
) -> rusqlite::Result<Vec<(String, String, bool)>> {
    let mut st = conn.prepare(&format!("PRAGMA table_info({table})"))?;
    let rows = st.query_map([], |r| {
        Ok((
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, i64>(5)? > 0,
        ))
    })?;
    rows.collect()
}

/// `json_object('col', NEW.col, …)`; BLOB columns as hex.
fn json_of(cols: &[(String, String, bool)], prefix: &str) -> String {
    let parts: Vec<String> = cols
        .iter()
        .map(|(name, ty, _)| {
            if ty.eq_ignore_ascii_case("BLOB") {
                format!("'{name}', hex({prefix}{name})")
            } else {
                format!("'{name}', {prefix}{name}")
            }
        })
        .collect();
    format!("json_object({})", parts.join(", "))
}

/// (Re)create the journal triggers from the tables' current columns: called after every
/// migration, so a column added later is journaled too.
fn install_journal_triggers(tx: &rusqlite::Connection) -> rusqlite::Result<()> {
    // Each change carries the time it was journaled (step 11), once the column exists.
    let timed = columns(tx, "replication_journal")?
        .iter()
        .any(|c| c.0 == "journaled_at");
    let (at_col, at_val) = if timed {
        (", journaled_at", ", strftime('%Y-%m-%dT%H:%M:%SZ', 'now')")
    } else {
        ("", "")
    };
    for table in JOURNALED {
        let cols = columns(tx, table)?;
        let keys: Vec<(String, String, bool)> = cols.iter().filter(|c| c.2).cloned().collect();
        let upsert = json_of(&cols, "NEW.");
        let key = json_of(&keys, "OLD.");
        tx.execute_batch(&format!(
            "DROP TRIGGER IF EXISTS journal_{table}_insert;
             DROP TRIGGER IF EXISTS journal_{table}_update;
             DROP TRIGGER IF EXISTS journal_{table}_delete;
             CREATE TRIGGER journal_{table}_insert AFTER INSERT ON {table}
                 BEGIN INSERT INTO replication_journal(tbl, op, row{at_col}) VALUES ('{table}', 'upsert', {upsert}{at_val}); END;
             CREATE TRIGGER journal_{table}_update AFTER UPDATE ON {table}
                 BEGIN INSERT INTO replication_journal(tbl, op, row{at_col}) VALUES ('{table}', 'upsert', {upsert}{at_val}); END;
             CREATE TRIGGER journal_{table}_delete AFTER DELETE ON {table}
                 BEGIN INSERT INTO replication_journal(tbl, op, row{at_col}) VALUES ('{table}', 'delete', {key}{at_val}); END;"
        ))?;
    }
    Ok(())
}

/// 6: sign-in failure counters that are not a user's (per source address, per unknown
/// login). Per server, like sessions: not journaled.
fn login_counters_step(tx: &rusqlite::Transaction) -> rusqlite::Result<()> {
    tx.execute_batch(
        "CREATE TABLE login_counters (
            key TEXT PRIMARY KEY,
            state TEXT NOT NULL,
            keep_until INTEGER NOT NULL
        ) WITHOUT ROWID;
        CREATE INDEX login_counters_by_expiry ON login_counters(keep_until);",
    )
}

/// 7: the detail of each fact (JSON, see `store::detail`) and the version of the extractor
/// that read the stored facts, so that a newer one re-derives them (`Store::facts_rederive`).
fn fact_detail_step(tx: &rusqlite::Transaction) -> rusqlite::Result<()> {
    tx.execute_batch(
        "ALTER TABLE lab_results ADD COLUMN detail TEXT NOT NULL DEFAULT '';
         ALTER TABLE medications ADD COLUMN detail TEXT NOT NULL DEFAULT '';
         ALTER TABLE diagnoses ADD COLUMN detail TEXT NOT NULL DEFAULT '';
         ALTER TABLE allergies ADD COLUMN detail TEXT NOT NULL DEFAULT '';
         ALTER TABLE encounters ADD COLUMN detail TEXT NOT NULL DEFAULT '';
         ALTER TABLE facts_backfill ADD COLUMN extractor INTEGER NOT NULL DEFAULT 1;",
    )
}

/// 8: which files cancel their order (`store::RecordIndex::cancels`). Few records do, so a
/// partial index answers "this patient's cancels" with one probe. Records stored earlier get
/// the flag from the facts re-derivation (`store::BackfilledFacts::cancels`).
fn order_cancels_step(tx: &rusqlite::Transaction) -> rusqlite::Result<()> {
    tx.execute_batch(
        "ALTER TABLE records ADD COLUMN cancels INTEGER NOT NULL DEFAULT 0;
         CREATE INDEX records_cancelling ON records(facility_id, patient_id) WHERE cancels = 1;",
    )
}

/// 9 (issue 14): the run's current order files that found another current file of their order
/// when written, checked again when the run finishes (`Store::finish_import`), and the
/// notices of a run read by run.
fn order_checks_step(tx: &rusqlite::Transaction) -> rusqlite::Result<()> {
    tx.execute_batch(
        "CREATE TABLE order_checks (
             import_run INTEGER NOT NULL,
             version_id INTEGER NOT NULL,
             PRIMARY KEY (import_run, version_id)
         ) WITHOUT ROWID;
         CREATE INDEX notices_by_run ON notices(import_run);",
    )
}

/// 10 (issue 14): whether a run began on a facility with no records yet (a first full
/// import). Such a run's duplicate orders are found by one scan of `records_by_order` when it
/// finishes instead of one probe per file while it writes (`Store::finish_import`).
fn order_scan_step(tx: &rusqlite::Transaction) -> rusqlite::Result<()> {
    tx.execute_batch(
        "ALTER TABLE import_runs ADD COLUMN orders_checked_at_finish INTEGER NOT NULL DEFAULT 0;",
    )
}

/// 11 (issue 15): the time of each registry change, so that a network rebuilt from a site
/// `--as-of` a time takes the registry as it stood then. Changes journaled earlier keep no
/// time (they count as older than any). The triggers write it from now on
/// ([`install_journal_triggers`], run after every migration).
fn journal_time_step(tx: &rusqlite::Transaction) -> rusqlite::Result<()> {
    tx.execute_batch("ALTER TABLE replication_journal ADD COLUMN journaled_at TEXT;")
}

/// 12 (issue 15): the import option a version was classified with, so that a replica and a
/// rebuilt network classify it as the primary did.
fn version_options_step(tx: &rusqlite::Transaction) -> rusqlite::Result<()> {
    tx.execute_batch(
        "ALTER TABLE file_versions ADD COLUMN accept_unterminated INTEGER NOT NULL DEFAULT 0;",
    )
}

/// Steps after the SQL-only ones of [`MIGRATIONS`], in order (schema version
/// `MIGRATIONS.len() + 1`…).
const RUST_STEPS: &[fn(&rusqlite::Transaction) -> rusqlite::Result<()>] = &[
    search_keys_step,
    replication_step,
    login_counters_step,
    fact_detail_step,
    order_cancels_step,
    order_checks_step,
    order_scan_step,
    journal_time_step,
    version_options_step,
];

/// The first schema version with the replication journal.
const JOURNAL_SINCE: usize = MIGRATIONS.len() + 2;

/// The schema version this renkei writes.
pub const SCHEMA_VERSION: usize = MIGRATIONS.len() + RUST_STEPS.len();

/// The schema must be exactly this renkei's (a store opened alongside a server is not
/// migrated).
pub fn check_current(conn: &Connection) -> Result<()> {
    let current: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| StoreError::Database(e.to_string()))?;
    if current as usize != SCHEMA_VERSION {
        return Err(StoreError::Database(format!(
            "the running server's database schema is version {current}, this renkei's is {SCHEMA_VERSION}: use the same renkei version"
        )));
    }
    Ok(())
}

pub fn migrate(conn: &mut Connection) -> Result<()> {
    let db = |e: rusqlite::Error| StoreError::Database(e.to_string());
    let current: usize = conn
        .query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))
        .map_err(db)? as usize;
    if current > SCHEMA_VERSION {
        return Err(StoreError::Database(format!(
            "database schema version {current} is newer than this renkei ({SCHEMA_VERSION}); upgrade renkei"
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        let tx = conn.transaction().map_err(db)?;
        tx.execute_batch(sql).map_err(db)?;
        tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))
            .map_err(db)?;
        tx.commit().map_err(db)?;
    }
    for (i, step) in RUST_STEPS.iter().enumerate() {
        let version = MIGRATIONS.len() + i + 1;
        if version <= current {
            continue;
        }
        let tx = conn.transaction().map_err(db)?;
        step(&tx).map_err(db)?;
        tx.execute_batch(&format!("PRAGMA user_version = {version}"))
            .map_err(db)?;
        tx.commit().map_err(db)?;
    }
    if current < SCHEMA_VERSION && SCHEMA_VERSION > JOURNAL_SINCE {
        // A later step may have changed a journaled table's columns.
        let tx = conn.transaction().map_err(db)?;
        install_journal_triggers(&tx).map_err(db)?;
        tx.commit().map_err(db)?;
    }
    Ok(())
}
