"""Time the viewer's store queries (the SQL of crates/store-sqlite/src/facts.rs) on the scaled
scratch store, for the 5,000-record patient. Python's sqlite3 module, so the numbers include
fetching every row into Python objects (slower than rusqlite's row mapping)."""
import sqlite3, statistics, sys, time

db = sys.argv[1]
c = sqlite3.connect(db)
c.execute("PRAGMA cache_size=-262144")  # what renkei's connections use

LAB = "x.code, x.code_system, x.local_code, x.name, x.value_type, x.value, x.unit, x.reference_range, x.abnormal_flag, x.status, x.observed_at"
MED = "x.rp, x.hot_code, x.yj_code, x.local_code, x.drug_name, x.dose, x.dose_unit, x.daily_dose, x.usage, x.route, x.days, x.start_date, x.end_date, x.ordered_at"
DIAG = "x.name, x.medis_code, x.icd10, x.main, x.suspected, x.action, x.start_date, x.end_date, x.outcome"
ALG = "x.allergen_type, x.allergen_type_code, x.allergen_code, x.allergen_system, x.allergen_name, x.severity, x.reaction, x.identified"
ENC = "x.event, x.admitted_at, x.discharged_at, x.ward, x.room, x.department"

def live(table, cols, extra, order):
    return f"""SELECT x.version_id, x.line, r.kind, r.date, r.order_no, r.written_at, {cols}
         FROM {table} x
         JOIN records r ON r.version_id = x.version_id
         JOIN files f ON f.id = r.file_id
         WHERE x.facility_id = ?1 AND x.patient_id = ?2 AND f.current_version = x.version_id
           AND r.condition = 1 {extra}
         ORDER BY {order}"""

fac, pid = 1, "BIG5000"
latest = c.execute("SELECT max(observed_at) FROM lab_results WHERE facility_id=? AND patient_id=?", (fac, pid)).fetchone()[0]
year_ago = str(int(latest[:4]) - 1) + latest[4:8]
q90 = str(int(latest[:8]) - 300)  # ~ 3 months before the newest result
today = latest[:8]
LATEST = LAB + ", max(x.observed_at || printf('%012d', x.version_id))"
Q = {
    "labs, newest per test (summary)": (live("lab_results", LATEST, "AND x.observed_at >= ?3 AND x.observed_at <= ?4 GROUP BY x.code", "x.observed_at DESC, x.code"), ("", "~")),
    "labs, all": (live("lab_results", LAB, "AND x.observed_at >= ?3 AND x.observed_at <= ?4", "x.observed_at DESC, x.version_id DESC, x.line"), ("", "~")),
    "labs, one year (lab matrix)": (live("lab_results", LAB, "AND x.observed_at >= ?3 AND x.observed_at <= ?4", "x.observed_at DESC, x.version_id DESC, x.line"), (year_ago, today + "~")),
    "labs, 3 months (duplicate tests)": (live("lab_results", LAB, "AND x.observed_at >= ?3 AND x.observed_at <= ?4", "x.observed_at DESC, x.version_id DESC, x.line"), (q90, "~")),
    "medications, all": (live("medications", MED, "", "x.start_date DESC, x.version_id DESC, x.line"), ()),
    "medications, active on a day": (live("medications", MED, "AND x.start_date <> '' AND x.start_date <= ?3 AND (x.end_date >= ?3 OR (x.end_date = '' AND x.start_date = ?3))", "x.start_date DESC, x.version_id DESC, x.line"), (today,)),
    "diagnoses": (live("diagnoses", DIAG, "", "x.start_date DESC, x.version_id DESC, x.line"), ()),
    "allergies": (live("allergies", ALG, "", "x.version_id DESC, x.line"), ()),
    "encounters": (live("encounters", ENC, "", "max(x.admitted_at, x.discharged_at) DESC, x.version_id DESC, x.line"), ()),
    "demographics": ("SELECT * FROM local_patients WHERE facility_id = ?1 AND local_id = ?2", ()),
}
def run(sql, extra):
    t = time.perf_counter()
    n = len(c.execute(sql, (fac, pid) + extra).fetchall())
    return (time.perf_counter() - t) * 1000, n

results = {}
for name, (sql, extra) in Q.items():
    run(sql, extra)
    times, n = [], 0
    for _ in range(100):
        ms, n = run(sql, extra)
        times.append(ms)
    times.sort()
    results[name] = times
    print(f"| {name} | {n} rows | {times[49]:.1f} ms | {times[98]:.1f} ms |")

def screen(names):
    tot = []
    for _ in range(100):
        t = 0
        for nm in names:
            sql, extra = Q[nm]
            t += run(sql, extra)[0]
        tot.append(t)
    tot.sort()
    return tot[49], tot[98]
for screen_name, names in [
    ("summary", ["demographics", "encounters", "allergies", "diagnoses", "medications, active on a day", "labs, newest per test (summary)"]),
    ("lab matrix (1 year)", ["labs, one year (lab matrix)"]),
    ("medications", ["medications, all", "labs, 3 months (duplicate tests)"]),
]:
    p50, p99 = screen(names)
    print(f"| **{screen_name}** (sum of its queries) | | {p50:.1f} ms | {p99:.1f} ms |")
print("plan:", c.execute("EXPLAIN QUERY PLAN " + Q["labs, newest per test (summary)"][0], (fac, pid, "", "~")).fetchall())
