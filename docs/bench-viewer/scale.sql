-- Superseded by `renkei bench viewer` (SqliteStore::scale_for_benchmark, crates/store-sqlite/src/bench_scale.rs);
-- kept because the "store queries only" numbers of docs/BENCHMARKS.md were made with it.
-- Scale a renkei store (SQLite, schema 3) to >= 10M records for the viewer timing in docs/BENCHMARKS.md.
-- Usage: cp DATA/renkei.db src.db (after PRAGMA wal_checkpoint(TRUNCATE)); cp src.db scaled.db;
--        sqlite3 scaled.db < scale.sql   (reads /tmp/v/scale/src.db: edit the ATTACH path)
-- Scratch only: file_versions, blobs and packs are not copied, so the copies cannot be read back as files.
PRAGMA journal_mode=OFF;
PRAGMA synchronous=OFF;
PRAGMA cache_size=-6000000;
ATTACH '/tmp/v/scale/src.db' AS src;
CREATE TEMP TABLE n(k INTEGER PRIMARY KEY);
WITH RECURSIVE c(k) AS (SELECT 1 UNION ALL SELECT k+1 FROM c WHERE k<212) INSERT INTO n SELECT k FROM c;
BEGIN;
INSERT INTO main.records SELECT x.version_id + n.k*100000, x.facility_id, x.file_id + n.k*100000, x.storage, '' || x.patient_id || '-' || n.k, x.date, x.kind, x.order_no, x.written_at, x.department, x.condition, x.message_type, x.encoding FROM n, src.records x;
INSERT INTO main.files SELECT x.id + n.k*100000, x.facility_id, 'c/' || (n.k*100000) || '/' || x.id, x.current_version + n.k*100000 FROM n, src.files x;
INSERT INTO main.lab_results SELECT x.version_id + n.k*100000, x.line, x.facility_id, '' || x.patient_id || '-' || n.k, x.code, x.code_system, x.local_code, x.name, x.value_type, x.value, x.unit, x.reference_range, x.abnormal_flag, x.status, x.observed_at FROM n, src.lab_results x;
INSERT INTO main.medications SELECT x.version_id + n.k*100000, x.line, x.facility_id, '' || x.patient_id || '-' || n.k, x.rp, x.hot_code, x.yj_code, x.local_code, x.drug_name, x.dose, x.dose_unit, x.daily_dose, x.usage, x.route, x.days, x.start_date, x.end_date, x.ordered_at FROM n, src.medications x;
INSERT INTO main.diagnoses SELECT x.version_id + n.k*100000, x.line, x.facility_id, '' || x.patient_id || '-' || n.k, x.name, x.medis_code, x.icd10, x.main, x.suspected, x.action, x.start_date, x.end_date, x.outcome FROM n, src.diagnoses x;
INSERT INTO main.allergies SELECT x.version_id + n.k*100000, x.line, x.facility_id, '' || x.patient_id || '-' || n.k, x.allergen_type, x.allergen_type_code, x.allergen_code, x.allergen_system, x.allergen_name, x.severity, x.reaction, x.identified FROM n, src.allergies x;
INSERT INTO main.encounters SELECT x.version_id + n.k*100000, x.line, x.facility_id, '' || x.patient_id || '-' || n.k, x.event, x.admitted_at, x.discharged_at, x.ward, x.room, x.department FROM n, src.encounters x;
CREATE TEMP TABLE big AS SELECT patient_id FROM src.records WHERE facility_id = 1 GROUP BY patient_id ORDER BY count(*) DESC LIMIT 40;
INSERT INTO main.files SELECT x.id + 90000000, x.facility_id, 'c/' || (90000000) || '/' || x.id, x.current_version + 90000000 FROM src.files x WHERE x.id IN (SELECT file_id FROM src.records WHERE facility_id = 1 AND patient_id IN (SELECT patient_id FROM big));
INSERT INTO main.records SELECT x.version_id + 90000000, x.facility_id, x.file_id + 90000000, x.storage, 'BIG5000', x.date, x.kind, x.order_no, x.written_at, x.department, x.condition, x.message_type, x.encoding FROM src.records x WHERE x.facility_id = 1 AND x.patient_id IN (SELECT patient_id FROM big);
INSERT INTO main.lab_results SELECT x.version_id + 90000000, x.line, x.facility_id, 'BIG5000', x.code, x.code_system, x.local_code, x.name, x.value_type, x.value, x.unit, x.reference_range, x.abnormal_flag, x.status, x.observed_at FROM src.lab_results x WHERE x.facility_id = 1 AND x.patient_id IN (SELECT patient_id FROM big);
INSERT INTO main.medications SELECT x.version_id + 90000000, x.line, x.facility_id, 'BIG5000', x.rp, x.hot_code, x.yj_code, x.local_code, x.drug_name, x.dose, x.dose_unit, x.daily_dose, x.usage, x.route, x.days, x.start_date, x.end_date, x.ordered_at FROM src.medications x WHERE x.facility_id = 1 AND x.patient_id IN (SELECT patient_id FROM big);
INSERT INTO main.diagnoses SELECT x.version_id + 90000000, x.line, x.facility_id, 'BIG5000', x.name, x.medis_code, x.icd10, x.main, x.suspected, x.action, x.start_date, x.end_date, x.outcome FROM src.diagnoses x WHERE x.facility_id = 1 AND x.patient_id IN (SELECT patient_id FROM big);
INSERT INTO main.allergies SELECT x.version_id + 90000000, x.line, x.facility_id, 'BIG5000', x.allergen_type, x.allergen_type_code, x.allergen_code, x.allergen_system, x.allergen_name, x.severity, x.reaction, x.identified FROM src.allergies x WHERE x.facility_id = 1 AND x.patient_id IN (SELECT patient_id FROM big);
INSERT INTO main.encounters SELECT x.version_id + 90000000, x.line, x.facility_id, 'BIG5000', x.event, x.admitted_at, x.discharged_at, x.ward, x.room, x.department FROM src.encounters x WHERE x.facility_id = 1 AND x.patient_id IN (SELECT patient_id FROM big);
COMMIT;
