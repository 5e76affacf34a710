use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::Path;

use ssmix2::{Condition, DataKind, StoragePath};
use synth::{generate, Manifest, Options};

fn walk(dir: &Path, base: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let p = e.path();
        if p.is_dir() {
            walk(&p, base, out);
        } else {
            let rel = p
                .strip_prefix(base)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            out.insert(rel, std::fs::read(&p).unwrap());
        }
    }
}

fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut m = BTreeMap::new();
    walk(dir, dir, &mut m);
    m
}

fn opts(patients: usize, fault_rate: f64, extended: bool) -> Options {
    Options {
        patients,
        seed: 7,
        fault_rate,
        extended,
        ..Options::default()
    }
}

#[test]
fn deterministic_across_runs_and_threads() {
    let o = opts(12, 0.05, true);
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let sa = generate(&o, a.path(), &|_| {}).unwrap();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let sb = pool.install(|| generate(&o, b.path(), &|_| {})).unwrap();
    assert_eq!(sa, sb);
    let (ta, tb) = (tree(a.path()), tree(b.path()));
    assert_eq!(ta.len(), tb.len());
    assert!(ta == tb, "trees differ");
    // A different seed gives a different region.
    let c = tempfile::tempdir().unwrap();
    generate(&Options { seed: 8, ..o }, c.path(), &|_| {}).unwrap();
    assert_ne!(
        std::fs::read(a.path().join("manifest.json")).unwrap(),
        std::fs::read(c.path().join("manifest.json")).unwrap()
    );
}

struct Checked {
    kinds: BTreeSet<DataKind>,
    messages: u64,
    /// Issue 14 ADT patterns seen (`AL1`, `current A11`, `zone`, `disposition`, `ended dx`).
    patterns: BTreeSet<String>,
}

/// Every non-fault file: valid path, decodes as ISO-2022-JP/ASCII, parses, MSH-9 fits the kind,
/// and the date folder equals the kind's date-source field.
fn check_region(dir: &Path, summary: &synth::Summary) -> Checked {
    let manifest = Manifest::read(&dir.join("manifest.json")).unwrap();
    let faults: HashSet<&str> = manifest.faults.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(manifest.faults.len() as u64, summary.faults);
    let files = tree(dir);
    let mut kinds = BTreeSet::new();
    let mut patterns = BTreeSet::new();
    let mut messages = 0;
    let codes: HashSet<&str> = manifest
        .facilities
        .iter()
        .map(|f| f.code.as_str())
        .collect();
    for f in &manifest.facilities {
        assert_eq!(f.code.len(), 10, "{}", f.code);
        assert!(f.code.starts_with("04"));
    }
    for fault in &manifest.faults {
        assert!(
            files.contains_key(&fault.path),
            "fault file missing: {}",
            fault.path
        );
    }
    for (rel, bytes) in &files {
        if rel == "manifest.json" {
            continue;
        }
        let (fac, inner) = rel.split_once('/').unwrap();
        assert!(codes.contains(fac), "{rel}");
        if faults.contains(rel.as_str()) {
            continue;
        }
        let sp = StoragePath::parse(inner).unwrap_or_else(|e| panic!("{rel}: {e}"));
        let name = match sp {
            StoragePath::Standard(n) => n,
            StoragePath::Extended(e) => {
                assert!(
                    e.file == "main_document.hl7" || e.file == "main_document.xml",
                    "{rel}"
                );
                if e.file.ends_with(".hl7") {
                    let d = hl7::decode(bytes).unwrap();
                    hl7::Message::parse(d.text).unwrap();
                }
                continue;
            }
        };
        messages += 1;
        kinds.insert(name.kind);
        let d = hl7::decode(bytes).unwrap_or_else(|e| panic!("{rel}: {e}"));
        assert!(d.encoding.is_conforming(), "{rel}: {}", d.encoding);
        assert!(!d.half_width_kana);
        let msg = hl7::Message::parse(d.text).unwrap_or_else(|e| panic!("{rel}: {e}"));
        let mt = msg.message_type();
        assert!(name.kind.accepts(&mt), "{rel}: {mt} not a {}", name.kind);
        assert_eq!(msg.msh().value(18), "");
        assert_eq!(msg.msh().field(18).raw(), "~ISO IR87");
        assert_eq!(msg.msh().field(20).raw(), "ISO 2022-1994");
        let pid = msg.segment("PID").unwrap();
        assert_eq!(
            pid.field(3).first().raw(),
            format!("{}^^^^PI", name.patient_id),
            "{rel}"
        );
        match name.kind.date_source() {
            ssmix2::kinds::DateSource::Undated => assert_eq!(name.date, "-"),
            ssmix2::kinds::DateSource::Field(seg, n) => {
                let s = msg
                    .segment(seg)
                    .unwrap_or_else(|| panic!("{rel}: no {seg}"));
                let v = s.value(n);
                assert!(
                    v.len() >= 8 && v[..8] == name.date,
                    "{rel}: {seg}-{n} = {v:?}"
                );
            }
        }
        if name.kind.has_order() {
            assert!(!name.has_no_order(), "{rel}");
            assert_eq!(
                msg.segment("ORC")
                    .map(|o| o.value(2).into_owned())
                    .unwrap_or_default(),
                name.order_no,
                "{rel}"
            );
        } else {
            assert!(name.has_no_order(), "{rel}");
        }
        // The typed reader of the ssmix2 crate agrees with the file name.
        let rec =
            ssmix2::records::read_record(name.kind, &msg).unwrap_or_else(|e| panic!("{rel}: {e}"));
        assert_eq!(rec.header.patient_id, name.patient_id, "{rel}");
        if name.date != "-" {
            assert_eq!(
                rec.header.clinical_date.as_deref(),
                Some(name.date.as_str()),
                "{rel}"
            );
        }
        // Cancellation messages are filed as deleted — except the stay events' cancel
        // messages and order cancels stored as current files of their own, which real systems
        // send and the demo shows on purpose (issue 14: the viewer applies them).
        let stay_cancel = DataKind::is_cancel_event(&mt)
            && matches!(
                name.kind,
                DataKind::Adt21
                    | DataKind::Adt22
                    | DataKind::Adt41
                    | DataKind::Adt42
                    | DataKind::Adt51
                    | DataKind::Adt52
            );
        let is_cancel = rec.header.cancels
            || DataKind::is_cancel_event(&mt)
            || msg.segment("ORC").is_some_and(|o| o.value(1) == "CA");
        // Order cancels: `_0`, or `_1` at the facilities that file them so (issue 14).
        if is_cancel && !stay_cancel {
            if name.condition == Condition::Current && name.kind.has_order() {
                patterns.insert("current order cancel".into());
            } else {
                assert_eq!(name.condition, Condition::Deleted, "{rel}");
            }
        }
        if stay_cancel && name.condition == Condition::Current {
            patterns.insert(format!("current {}", &mt[4..]));
        }
        if name.kind == DataKind::Adt00 && msg.segment("AL1").is_some() {
            patterns.insert("AL1".into());
        }
        if let Some(pv1) = msg.segment("PV1") {
            let t = pv1.value(44);
            if t.ends_with("+0900") || t.ends_with("+0000") {
                patterns.insert("zone".into());
            }
            if name.kind == DataKind::Adt52 && !pv1.value(36).is_empty() {
                patterns.insert("disposition".into());
            }
        }
        if name.kind == DataKind::Ppr01 && msg.segments_named("PRB").any(|p| !p.value(9).is_empty())
        {
            patterns.insert("ended dx".into());
        }
    }
    Checked {
        kinds,
        messages,
        patterns,
    }
}

#[test]
fn small_region_is_valid_and_has_all_kinds() {
    let dir = tempfile::tempdir().unwrap();
    let o = opts(30, 0.0, true);
    let s = generate(&o, dir.path(), &|_| {}).unwrap();
    let c = check_region(dir.path(), &s);
    assert_eq!(s.faults, 0);
    assert_eq!(c.messages, s.messages);
    let missing: Vec<&str> = DataKind::ALL
        .iter()
        .filter(|k| !c.kinds.contains(k))
        .map(|k| k.code())
        .collect();
    assert!(
        missing.is_empty(),
        "kinds missing: {missing:?}; {:?}",
        s.per_kind
    );
    let m = Manifest::read(&dir.path().join("manifest.json")).unwrap();
    assert_eq!(m.persons.len(), 30);
    assert!(m.persons.iter().all(|p| (1..=4).contains(&p.links.len())));
    // Local IDs are unique per facility.
    let mut seen = HashSet::new();
    for p in &m.persons {
        for l in &p.links {
            assert!(seen.insert((l.facility.clone(), l.local_id.clone())));
            assert!((6..=10).contains(&l.local_id.len()), "{}", l.local_id);
        }
    }
    let kinds: HashSet<&str> = m.facilities.iter().map(|f| f.kind.as_str()).collect();
    assert!(kinds.contains("hospital") && kinds.contains("clinic") && kinds.contains("pharmacy"));
    // The ADT patterns the viewer must handle (issue 14) are in the demo.
    for want in [
        "AL1",
        "current A11",
        "current A12",
        "current A13",
        "current A25",
        "current A26",
        "current A27",
        "zone",
        "disposition",
        "ended dx",
        "current order cancel",
    ] {
        assert!(
            c.patterns.contains(want),
            "{want} missing: {:?}",
            c.patterns
        );
    }
}

#[test]
fn faults_are_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let o = opts(10, 0.1, false);
    let s = generate(&o, dir.path(), &|_| {}).unwrap();
    assert!(s.faults > 0);
    check_region(dir.path(), &s);
    let m = Manifest::read(&dir.path().join("manifest.json")).unwrap();
    for f in &m.faults {
        let bytes = std::fs::read(dir.path().join(&f.path)).unwrap();
        let inner = f.path.split_once('/').unwrap().1;
        match f.kind.as_str() {
            "empty" => assert!(bytes.is_empty()),
            "misplaced" | "bad_name" => assert!(StoragePath::parse(inner).is_err(), "{}", f.path),
            "shift_jis" => assert_eq!(
                hl7::decode(&bytes).unwrap().encoding,
                hl7::TextEncoding::ShiftJis
            ),
            "truncated" => assert!(!bytes.ends_with(b"\r")),
            _ => {}
        }
    }
}

#[test]
fn tiny_region() {
    let dir = tempfile::tempdir().unwrap();
    let o = Options {
        patients: 3,
        seed: 1,
        ..Options::default()
    };
    let s = generate(&o, dir.path(), &|_| {}).unwrap();
    assert!((3..=4).contains(&s.facilities), "{}", s.facilities);
    assert!(s.messages > 10);
    check_region(dir.path(), &s);
}

/// Issue 14: the region shows the lab patterns a lab view must handle — cultures with two
/// organisms and susceptibilities, a test measured twice on one day, and the same JLAC10
/// test in g/dL at one facility and g/L at another.
#[test]
fn region_has_the_lab_patterns_of_issue_14() {
    let dir = tempfile::tempdir().unwrap();
    generate(&opts(60, 0.0, false), dir.path(), &|_| {}).unwrap();
    let mut two_organisms = 0;
    let mut susceptibilities = 0;
    let mut units: BTreeSet<String> = BTreeSet::new();
    // (facility, patient, day) → glucose results in current OML-11 files.
    let mut glucose: BTreeMap<(String, String, String), usize> = BTreeMap::new();
    for (rel, bytes) in tree(dir.path()) {
        let Some((fac, inner)) = rel.split_once('/') else {
            continue;
        };
        let Ok(StoragePath::Standard(n)) = StoragePath::parse(inner) else {
            continue;
        };
        if n.kind != DataKind::Oml11 || n.condition != Condition::Current {
            continue;
        }
        let text = hl7::decode(&bytes).unwrap().text.to_string();
        let subs: BTreeSet<&str> = text
            .split('\r')
            .filter(|l| l.starts_with("OBX|") && l.contains("|CWE|M020^"))
            .filter_map(|l| l.split('|').nth(4))
            .collect();
        if subs.len() >= 2 {
            two_organisms += 1;
        }
        susceptibilities += text.matches("μg/mL^μg/mL^99ZUN||S|").count();
        for l in text
            .split('\r')
            .filter(|l| l.contains("|3A015000002327101^"))
        {
            if let Some(u) = l.split('|').nth(6) {
                units.insert(u.split('^').next().unwrap_or("").to_owned());
            }
        }
        let g = text.matches("|3D010000001926101^").count();
        if g > 0 {
            *glucose
                .entry((fac.to_owned(), n.patient_id.clone(), n.date.clone()))
                .or_default() += 1;
        }
    }
    assert!(two_organisms > 0, "a culture with two organisms");
    assert!(susceptibilities > 0, "susceptibility rows");
    assert!(
        units.contains("g/dL") && units.contains("g/L"),
        "albumin in two units: {units:?}"
    );
    assert!(
        glucose.values().any(|n| *n >= 2),
        "glucose measured twice on one day"
    );
}

/// Issue 14: with extended storage, visits get ORU^R30 vitals with both blood-pressure
/// patterns (two OBX, one `120/80` value) and now and then an SpO2 that was not obtained.
#[test]
fn extended_visits_have_vitals_messages() {
    let dir = tempfile::tempdir().unwrap();
    generate(&opts(30, 0.0, true), dir.path(), &|_| {}).unwrap();
    let (mut r30, mut split, mut joined, mut not_obtained) = (0, 0, 0, 0);
    for (rel, bytes) in tree(dir.path()) {
        if !rel.ends_with("main_document.hl7") {
            continue;
        }
        let d = hl7::decode(&bytes).unwrap();
        let msg = hl7::Message::parse(d.text).unwrap();
        if msg.message_type() != "ORU^R30" {
            continue;
        }
        r30 += 1;
        assert!(
            rel.contains("/L-OBSERVATIONS^OBSERVATIONS^99ZL01/"),
            "{rel}"
        );
        for seg in msg.segments().filter(|s| s.name() == "OBX") {
            match seg.get(3, 1).as_ref() {
                "8480-6" => split += 1,
                "BP" => {
                    joined += 1;
                    assert!(seg.get(5, 1).contains('/'), "{rel}");
                }
                "59408-5" if seg.get(11, 1) == "X" => not_obtained += 1,
                _ => {}
            }
        }
    }
    assert!(r30 > 20, "{r30} vitals messages");
    assert!(split > 0 && joined > 0, "{split} / {joined}");
    assert!(not_obtained > 0);
}
