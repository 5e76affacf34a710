//! Evaluation against the synthetic region's ground truth (`synth::manifest_only`).
//!
//! The manifest lists persons and, per facility, the local ID and how that facility's
//! demographics differ (`Link::variant`). The per-facility demographics are derived here the
//! way synth's ADT-00 writer (`history.rs`, `pid`) applies each variant.

use std::collections::{BTreeMap, HashSet};

use model::{Demographics, FacilityCode, LocalPatient};
use mpi::{MatchDecision, MatchIndex, MatchSettings};

/// synth's `KANJI_VARIANTS` (standard → variant), first match in the family name replaced once.
const KANJI_VARIANTS: &[(&str, &str)] = &[
    ("斎", "齋"),
    ("斉", "齊"),
    ("辺", "邊"),
    ("沢", "澤"),
    ("浜", "濱"),
    ("島", "嶋"),
    ("桜", "櫻"),
    ("広", "廣"),
    ("崎", "嵜"),
    ("渕", "淵"),
    ("野", "埜"),
    ("関", "關"),
];

/// synth's `KANA_VARIANTS`: first pair found in the given name, else in the family name.
const KANA_VARIANTS: &[(&str, &str)] = &[
    ("ヨウコ", "ヨーコ"),
    ("ユウコ", "ユーコ"),
    ("ユウ", "ユー"),
    ("コウ", "コー"),
    ("ショウ", "ショー"),
    ("トウ", "トー"),
    ("オオ", "オー"),
    ("ジロウ", "ジロー"),
    ("タロウ", "タロー"),
    ("イチロウ", "イチロー"),
];

fn days_in_month(y: u32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400) => 29,
        _ => 28,
    }
}

/// Day and month swapped when the day is ≤ 12 and differs from the month, else one day later.
fn birth_typo(d8: &str) -> String {
    let y: u32 = d8[..4].parse().unwrap();
    let m: u32 = d8[4..6].parse().unwrap();
    let d: u32 = d8[6..8].parse().unwrap();
    if d <= 12 && d != m {
        return format!("{y:04}{d:02}{m:02}");
    }
    let (mut y, mut m, mut d) = (y, m, d + 1);
    if d > days_in_month(y, m) {
        d = 1;
        m += 1;
        if m > 12 {
            m = 1;
            y += 1;
        }
    }
    format!("{y:04}{m:02}{d:02}")
}

fn to_ascii_digits(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '０'..='９' => char::from_u32(c as u32 - '０' as u32 + '0' as u32).unwrap(),
            _ => c,
        })
        .collect()
}

/// `宮城県…町２丁目３番５号` → `宮城県…町2-3-5` (only the trailing block: street names such as
/// 一番町 contain 番).
fn hyphenate(addr: &str) -> String {
    let a = to_ascii_digits(addr);
    let i = a.rfind("丁目").expect("address with 丁目");
    let (head, tail) = a.split_at(i);
    // head ends with the chome digits.
    let tail = tail
        .trim_start_matches("丁目")
        .replacen('番', "-", 1)
        .trim_end_matches('号')
        .to_owned();
    format!("{head}-{tail}")
}

fn facility_demographics(p: &synth::Person, variant: Option<&str>) -> Demographics {
    let (fam, given) = p.name_kanji.split_once(' ').unwrap();
    let (famk, givenk) = p.name_kana.split_once(' ').unwrap();
    let mut fam = fam.to_owned();
    let (mut famk, mut givenk) = (famk.to_owned(), givenk.to_owned());
    let mut d = Demographics {
        name_kanji: String::new(),
        name_kana: String::new(),
        birth_date: p.birth_date.clone(),
        sex: p.sex.clone(),
        phone: p.phone.clone(),
        zip: p.zip.clone(),
        address: p.address.clone(),
    };
    let mut sep = " ";
    match variant {
        None => {}
        Some("kanji_variant") => {
            if let Some((a, b)) = KANJI_VARIANTS.iter().find(|(a, _)| fam.contains(a)) {
                fam = fam.replacen(a, b, 1);
            }
        }
        Some("kana_long_vowel") => {
            for (a, b) in KANA_VARIANTS {
                if givenk.contains(a) {
                    givenk = givenk.replacen(a, b, 1);
                    break;
                }
                if famk.contains(a) {
                    famk = famk.replacen(a, b, 1);
                    break;
                }
            }
        }
        Some("name_in_one_component") => sep = "\u{3000}",
        Some("address_half_width_digits") => d.address = to_ascii_digits(&p.address),
        Some("address_hyphenated") => d.address = hyphenate(&p.address),
        Some("no_phone") => d.phone.clear(),
        Some("birth_date_typo") => d.birth_date = birth_typo(&p.birth_date),
        Some(other) => panic!("unknown variant {other}"),
    }
    d.name_kanji = format!("{fam}{sep}{given}");
    d.name_kana = format!("{famk}{sep}{givenk}");
    d
}

struct Region {
    records: Vec<(LocalPatient, Demographics)>,
    person_of: BTreeMap<LocalPatient, String>,
    true_pairs: HashSet<(LocalPatient, LocalPatient)>,
    variants: BTreeMap<LocalPatient, String>,
}

fn region(patients: usize, seed: u64) -> Region {
    let m = synth::manifest_only(&synth::Options {
        patients,
        seed,
        ..Default::default()
    });
    let mut records = Vec::new();
    let mut person_of = BTreeMap::new();
    let mut true_pairs = HashSet::new();
    let mut variants = BTreeMap::new();
    for p in &m.persons {
        let mut mine = Vec::new();
        for l in &p.links {
            let lp = LocalPatient {
                facility: FacilityCode::parse(&l.facility).expect("facility code"),
                local_id: l.local_id.clone(),
            };
            records.push((lp.clone(), facility_demographics(p, l.variant.as_deref())));
            person_of.insert(lp.clone(), p.person_id.clone());
            if let Some(v) = &l.variant {
                variants.insert(lp.clone(), v.clone());
            }
            mine.push(lp);
        }
        for i in 0..mine.len() {
            for j in i + 1..mine.len() {
                if mine[i].facility != mine[j].facility {
                    let (a, b) = if mine[i] <= mine[j] {
                        (mine[i].clone(), mine[j].clone())
                    } else {
                        (mine[j].clone(), mine[i].clone())
                    };
                    true_pairs.insert((a, b));
                }
            }
        }
    }
    Region {
        records,
        person_of,
        true_pairs,
        variants,
    }
}

fn pct(num: usize, den: usize) -> f64 {
    if den == 0 {
        100.0
    } else {
        num as f64 * 100.0 / den as f64
    }
}

#[test]
fn synthetic_region_precision_and_recall() {
    evaluate(300, 5);
}

/// A larger region: more same-name, same-birth-date strangers.
#[test]
fn larger_synthetic_region_precision_and_recall() {
    evaluate(5000, 11);
}

fn evaluate(patients: usize, seed: u64) {
    let t0 = std::time::Instant::now();
    let r = region(patients, seed);
    let t1 = std::time::Instant::now();
    let settings = MatchSettings::default();
    let index = MatchIndex::build(&r.records);
    let (cands, stats) = index.candidates(&settings);
    println!(
        "region built in {:?}; index + candidates in {:?}",
        t1 - t0,
        t1.elapsed()
    );
    let total = r.true_pairs.len();
    assert!(total > 50, "too few true pairs to evaluate: {total}");

    let is_true = |a: &LocalPatient, b: &LocalPatient| r.person_of[a] == r.person_of[b];
    let auto: Vec<_> = cands
        .iter()
        .filter(|c| c.decision == MatchDecision::AutoLink)
        .collect();
    let auto_tp = auto.iter().filter(|c| is_true(&c.a, &c.b)).count();
    let any_tp = cands.iter().filter(|c| is_true(&c.a, &c.b)).count();
    let review = cands.len() - auto.len();
    let review_tp = any_tp - auto_tp;

    println!(
        "synthetic region (patients {patients}, seed {seed}): local records = {}, true cross-facility pairs = {total}",
        r.records.len()
    );
    println!(
        "blocking: {} blocks, {} oversized, {} pairs compared (all pairs would be {})",
        stats.blocks,
        stats.oversized_blocks,
        stats.pairs_compared,
        r.records.len() * (r.records.len() - 1) / 2
    );
    println!(
        "AutoLink (score >= {:?}): {} pairs, {} true → precision {:.1}%, recall {:.1}%",
        settings.auto_link_min,
        auto.len(),
        auto_tp,
        pct(auto_tp, auto.len()),
        pct(auto_tp, total)
    );
    println!(
        "Review ({} <= score < {:?}): {} pairs, {} true → precision {:.1}%",
        settings.candidate_min,
        settings.auto_link_min,
        review,
        review_tp,
        pct(review_tp, review)
    );
    println!(
        "AutoLink + Review (score >= {}): {} pairs, {} true → precision {:.1}%, recall {:.1}%",
        settings.candidate_min,
        cands.len(),
        any_tp,
        pct(any_tp, cands.len()),
        pct(any_tp, total)
    );
    // Per-variant view: where do the true pairs involving each variant end up?
    let found: HashSet<(LocalPatient, LocalPatient)> = cands
        .iter()
        .filter(|c| is_true(&c.a, &c.b))
        .map(|c| (c.a.clone(), c.b.clone()))
        .collect();
    let mut missed = 0;
    for (a, b) in &r.true_pairs {
        if !found.contains(&(a.clone(), b.clone())) {
            missed += 1;
            if missed <= 10 {
                let da = &r.records.iter().find(|x| &x.0 == a).unwrap().1;
                let db = &r.records.iter().find(|x| &x.0 == b).unwrap().1;
                println!(
                    "missed: {:?} / {:?}\n{}",
                    r.variants.get(a),
                    r.variants.get(b),
                    mpi::compare(da, db).explain()
                );
            }
        }
    }
    for c in auto.iter().filter(|c| !is_true(&c.a, &c.b)) {
        println!("FALSE AUTO LINK {:?} {:?} {}", c.a, c.b, c.score);
    }
    assert_eq!(auto_tp, auto.len(), "AutoLink must be 100% precise");
    assert!(
        pct(any_tp, total) >= 95.0,
        "recall of Review+AutoLink {:.1}% < 95%",
        pct(any_tp, total)
    );
}

#[test]
fn variants_are_derived_as_synth_writes_them() {
    assert_eq!(
        hyphenate("宮城県仙台市青葉区一番町２丁目３番５号"),
        "宮城県仙台市青葉区一番町2-3-5"
    );
    assert_eq!(birth_typo("19500305"), "19500503");
    assert_eq!(birth_typo("19501231"), "19510101");
    assert_eq!(birth_typo("19500303"), "19500304");
}

#[test]
fn enrolment_lookup_finds_the_same_person_first() {
    let r = region(300, 5);
    let index = MatchIndex::build(&r.records);
    let settings = MatchSettings::default();
    let mut checked = 0;
    let mut top_ok = 0;
    for (lp, d) in r.records.iter().take(200) {
        let others = r
            .records
            .iter()
            .filter(|(o, _)| o != lp && r.person_of[o] == r.person_of[lp])
            .count();
        if others == 0 {
            continue;
        }
        checked += 1;
        let blocked: Vec<_> = index
            .best_matches(d, &settings)
            .into_iter()
            .filter(|m| &m.patient != lp)
            .collect();
        let linear: Vec<_> = mpi::best_matches(d, &r.records)
            .into_iter()
            .filter(|m| &m.patient != lp)
            .collect();
        // The blocked lookup finds what the full scan finds (same best score).
        assert_eq!(
            blocked.first().map(|m| m.score),
            linear.first().map(|m| m.score),
            "{lp:?}"
        );
        if blocked
            .first()
            .is_some_and(|m| r.person_of[&m.patient] == r.person_of[lp])
        {
            top_ok += 1;
        }
    }
    println!("enrolment lookup: {top_ok}/{checked} queries have the same person as the best match");
    assert!(checked > 20);
    assert!(pct(top_ok, checked) >= 95.0);
}

/// Strangers built to look alike (not produced by synth): a twin (same family, birth date,
/// address and phone, another given name), a namesake (same name and sex, another birth date
/// and address), a parent (same family, address and phone, another birth date and given name)
/// at an extra facility. None may be linked automatically.
#[test]
fn lookalike_strangers_never_auto_link() {
    let m = synth::manifest_only(&synth::Options {
        patients: 300,
        seed: 5,
        ..Default::default()
    });
    let mut records: Vec<(LocalPatient, Demographics)> = Vec::new();
    let mut person_of: BTreeMap<LocalPatient, String> = BTreeMap::new();
    for p in &m.persons {
        for l in &p.links {
            let lp = LocalPatient {
                facility: FacilityCode::parse(&l.facility).unwrap(),
                local_id: l.local_id.clone(),
            };
            records.push((lp.clone(), facility_demographics(p, l.variant.as_deref())));
            person_of.insert(lp, p.person_id.clone());
        }
    }
    let real = records.len();
    let extra = FacilityCode::parse("0419999999").unwrap();
    let n = m.persons.len();
    for (i, p) in m.persons.iter().enumerate() {
        let other = &m.persons[(i + 1) % n];
        let (fam, _) = p.name_kanji.split_once(' ').unwrap();
        let (famk, _) = p.name_kana.split_once(' ').unwrap();
        let (_, ogiven) = other.name_kanji.split_once(' ').unwrap();
        let (_, ogivenk) = other.name_kana.split_once(' ').unwrap();
        let base = facility_demographics(p, None);
        let mut add = |kind: &str, d: Demographics| {
            let lp = LocalPatient {
                facility: extra.clone(),
                local_id: format!("{kind}{i:05}"),
            };
            person_of.insert(lp.clone(), format!("{kind}-{i}"));
            records.push((lp, d));
        };
        if ogivenk != p.name_kana.split_once(' ').unwrap().1 {
            add(
                "twin",
                Demographics {
                    name_kanji: format!("{fam} {ogiven}"),
                    name_kana: format!("{famk} {ogivenk}"),
                    sex: other.sex.clone(),
                    ..base.clone()
                },
            );
            add(
                "parent",
                Demographics {
                    name_kanji: format!("{fam} {ogiven}"),
                    name_kana: format!("{famk} {ogivenk}"),
                    sex: other.sex.clone(),
                    birth_date: other.birth_date.clone(),
                    ..base.clone()
                },
            );
        }
        if other.birth_date != p.birth_date {
            add(
                "namesake",
                Demographics {
                    birth_date: other.birth_date.clone(),
                    address: other.address.clone(),
                    zip: other.zip.clone(),
                    phone: other.phone.clone(),
                    ..base.clone()
                },
            );
        }
    }
    let settings = MatchSettings::default();
    let (cands, _) = MatchIndex::build(&records).candidates(&settings);
    let false_auto = cands
        .iter()
        .filter(|c| c.decision == MatchDecision::AutoLink && person_of[&c.a] != person_of[&c.b])
        .count();
    let false_review = cands
        .iter()
        .filter(|c| c.decision == MatchDecision::Review && person_of[&c.a] != person_of[&c.b])
        .count();
    let true_found = cands
        .iter()
        .filter(|c| person_of[&c.a] == person_of[&c.b])
        .count();
    println!(
        "lookalikes: {} strangers added; false AutoLink {false_auto}, false Review {false_review}; true pairs still found {true_found}",
        records.len() - real,
    );
    // (A "parent" of a person whose neighbour in the list has the same family name carries
    // that neighbour's full name, birth date and sex: Review is right for it.)
    for c in cands
        .iter()
        .filter(|c| person_of[&c.a] != person_of[&c.b])
        .take(3)
    {
        println!(
            "{:?} {:?} score {}",
            person_of[&c.a], person_of[&c.b], c.score
        );
    }
    assert_eq!(false_auto, 0);
}
