//! Candidate pairs across facilities, with blocking, and enrolment-time lookup.
//!
//! Comparing every record with every other is O(n²) (5·10¹³ pairs at 10 million local
//! patients). Instead each record is put in a few *blocks* and only records sharing a block are
//! compared:
//!
//! | block | catches |
//! |---|---|
//! | birth date + first kana of the fuzzy name | kanji variants, kana spelling, phone/address changes |
//! | kana skeleton (fuzzy, voicing ignored) + birth year | birth-date typos (day/month swap, one digit) |
//! | kanji name key + birth year | kana missing or misspelt, birth-date typos |
//! | birth date + given-name kana | family name changed (marriage) |
//! | phone digits (≥ 9 digits) | name and birth date both mistyped |
//!
//! Blocks larger than [`MAX_BLOCK`] (a shared institution phone number, say) are skipped and
//! counted in [`BlockingStats`]: the other blocks still bring their true pairs together.
//! Only pairs from different facilities are produced.

use std::collections::{HashMap, HashSet};

use model::{Demographics, LocalPatient};
use serde::Serialize;

use crate::score::{
    compare_prepared, decision, prepare, Evidence, MatchDecision, MatchSettings, Prepared,
};

/// Blocks with more records than this are not expanded into pairs.
pub const MAX_BLOCK: usize = 1000;

/// A candidate pair of local patients at two facilities.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Candidate {
    /// The lesser of the two (by facility, then local ID).
    pub a: LocalPatient,
    pub b: LocalPatient,
    pub score: u32,
    pub decision: MatchDecision,
    pub parts: Vec<Evidence>,
}

/// One record of the pool matching a query ([`best_matches`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Match {
    pub patient: LocalPatient,
    pub score: u32,
    pub decision: MatchDecision,
    pub parts: Vec<Evidence>,
}

/// What blocking did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BlockingStats {
    pub records: usize,
    pub blocks: usize,
    /// Blocks over [`MAX_BLOCK`], not expanded.
    pub oversized_blocks: usize,
    /// Distinct cross-facility pairs compared.
    pub pairs_compared: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum BlockKey {
    BirthInitial(String, char),
    SkeletonYear(String, String),
    KanjiYear(String, String),
    BirthGiven(String, String),
    Phone(String),
}

fn block_keys(p: &Prepared) -> Vec<BlockKey> {
    let mut keys = Vec::with_capacity(5);
    let year = p.birth.get(..4).unwrap_or("").to_owned();
    if !p.birth.is_empty() {
        if let Some(c) = p.kana_fuzzy.chars().next() {
            keys.push(BlockKey::BirthInitial(p.birth.clone(), c));
        } else if let Some(c) = p.kanji.chars().next() {
            keys.push(BlockKey::BirthInitial(p.birth.clone(), c));
        }
        if let Some((_, given)) = &p.kana_parts {
            keys.push(BlockKey::BirthGiven(p.birth.clone(), given.clone()));
        }
    }
    if !p.kana_skeleton.is_empty() {
        keys.push(BlockKey::SkeletonYear(
            p.kana_skeleton.clone(),
            year.clone(),
        ));
    }
    if !p.kanji.is_empty() {
        keys.push(BlockKey::KanjiYear(p.kanji.clone(), year));
    }
    if p.phone.len() >= 9 {
        keys.push(BlockKey::Phone(p.phone.clone()));
    }
    keys
}

/// Records with their keys and blocks, for repeated lookups.
pub struct MatchIndex<'a> {
    records: &'a [(LocalPatient, Demographics)],
    prepared: Vec<Prepared>,
    blocks: HashMap<BlockKey, Vec<u32>>,
}

impl<'a> MatchIndex<'a> {
    pub fn build(records: &'a [(LocalPatient, Demographics)]) -> MatchIndex<'a> {
        let prepared: Vec<Prepared> = records.iter().map(|(_, d)| prepare(d)).collect();
        let mut blocks: HashMap<BlockKey, Vec<u32>> = HashMap::new();
        for (i, p) in prepared.iter().enumerate() {
            for k in block_keys(p) {
                blocks.entry(k).or_default().push(i as u32);
            }
        }
        MatchIndex {
            records,
            prepared,
            blocks,
        }
    }

    /// Cross-facility pairs scoring at least `settings.candidate_min`, best first (ties by
    /// patient), each with its decision and evidence.
    pub fn candidates(&self, settings: &MatchSettings) -> (Vec<Candidate>, BlockingStats) {
        let mut stats = BlockingStats {
            records: self.records.len(),
            blocks: self.blocks.len(),
            ..BlockingStats::default()
        };
        let mut seen: HashSet<(u32, u32)> = HashSet::new();
        let mut out = Vec::new();
        for members in self.blocks.values() {
            if members.len() > MAX_BLOCK {
                stats.oversized_blocks += 1;
                continue;
            }
            for (x, &i) in members.iter().enumerate() {
                for &j in &members[x + 1..] {
                    let (ri, rj) = (&self.records[i as usize].0, &self.records[j as usize].0);
                    if ri.facility == rj.facility {
                        continue;
                    }
                    let key = if i < j { (i, j) } else { (j, i) };
                    if !seen.insert(key) {
                        continue;
                    }
                    let s =
                        compare_prepared(&self.prepared[i as usize], &self.prepared[j as usize]);
                    if s.score < settings.candidate_min {
                        continue;
                    }
                    let (a, b) = if ri <= rj { (ri, rj) } else { (rj, ri) };
                    out.push(Candidate {
                        a: a.clone(),
                        b: b.clone(),
                        score: s.score,
                        decision: decision(s.score, settings),
                        parts: s.parts,
                    });
                }
            }
        }
        stats.pairs_compared = seen.len();
        out.sort_by(|x, y| {
            y.score
                .cmp(&x.score)
                .then_with(|| x.a.cmp(&y.a))
                .then_with(|| x.b.cmp(&y.b))
        });
        (out, stats)
    }

    /// Records of the index that may be the person of `query` (blocked lookup), scoring at
    /// least `settings.candidate_min`, best first.
    pub fn best_matches(&self, query: &Demographics, settings: &MatchSettings) -> Vec<Match> {
        let q = prepare(query);
        let mut seen: HashSet<u32> = HashSet::new();
        let mut out = Vec::new();
        for k in block_keys(&q) {
            let Some(members) = self.blocks.get(&k) else {
                continue;
            };
            for &i in members {
                if !seen.insert(i) {
                    continue;
                }
                let s = compare_prepared(&q, &self.prepared[i as usize]);
                if s.score >= settings.candidate_min {
                    out.push(Match {
                        patient: self.records[i as usize].0.clone(),
                        score: s.score,
                        decision: decision(s.score, settings),
                        parts: s.parts,
                    });
                }
            }
        }
        sort_matches(&mut out);
        out
    }
}

fn sort_matches(v: &mut [Match]) {
    v.sort_by(|x, y| {
        y.score
            .cmp(&x.score)
            .then_with(|| x.patient.cmp(&y.patient))
    });
}

/// Candidate pairs of `records` across facilities at the default [`MatchSettings`]; see
/// [`MatchIndex::candidates`].
pub fn candidates(
    records: &[(LocalPatient, Demographics)],
    settings: &MatchSettings,
) -> Vec<Candidate> {
    MatchIndex::build(records).candidates(settings).0
}

/// Enrolment-time lookup: every record of `pool` scoring at least the default
/// `candidate_min` (60) against `query`, best first. Compares the query with the whole pool
/// (no index to build); for repeated lookups build a [`MatchIndex`] once.
pub fn best_matches(query: &Demographics, pool: &[(LocalPatient, Demographics)]) -> Vec<Match> {
    best_matches_with(query, pool, &MatchSettings::default())
}

/// [`best_matches`] with explicit settings.
pub fn best_matches_with(
    query: &Demographics,
    pool: &[(LocalPatient, Demographics)],
    settings: &MatchSettings,
) -> Vec<Match> {
    let q = prepare(query);
    let mut out: Vec<Match> = pool
        .iter()
        .filter_map(|(lp, d)| {
            let s = compare_prepared(&q, &prepare(d));
            (s.score >= settings.candidate_min).then(|| Match {
                patient: lp.clone(),
                score: s.score,
                decision: decision(s.score, settings),
                parts: s.parts,
            })
        })
        .collect();
    sort_matches(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::FacilityCode;

    fn rec(fac: &str, id: &str, kana: &str, birth: &str) -> (LocalPatient, Demographics) {
        (
            LocalPatient {
                facility: FacilityCode::parse(fac).unwrap(),
                local_id: id.into(),
            },
            Demographics {
                name_kanji: "高橋 花子".into(),
                name_kana: kana.into(),
                birth_date: birth.into(),
                sex: "F".into(),
                phone: "022-211-1234".into(),
                zip: String::new(),
                address: "仙台市青葉区一番町2-3-5".into(),
            },
        )
    }

    #[test]
    fn only_cross_facility_pairs_best_first() {
        let recs = vec![
            rec("0410000001", "1", "タカハシ ハナコ", "19500131"),
            rec("0410000001", "2", "タカハシ ハナコ", "19500131"),
            rec("0410000002", "9", "たかはし はなこ", "19500131"),
            rec("0410000003", "5", "タカハシ ハナコ", "19500130"),
        ];
        let (c, stats) = MatchIndex::build(&recs).candidates(&MatchSettings::default());
        assert!(c.iter().all(|c| c.a.facility != c.b.facility));
        assert!(c.windows(2).all(|w| w[0].score >= w[1].score));
        // 1-9, 2-9 auto; 1-5, 2-5, 9-5 review (birth date one digit off); 1-2 never.
        assert_eq!(c.len(), 5, "{c:#?}");
        assert_eq!(
            c.iter()
                .filter(|c| c.decision == MatchDecision::AutoLink)
                .count(),
            2
        );
        assert_eq!(stats.pairs_compared, 5);
        let m = best_matches(&recs[0].1, &recs);
        assert_eq!(m.len(), 4);
        assert_eq!(m[0].score, 100);
    }
}
