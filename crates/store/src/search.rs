//! Patient search and the paged record reads of the viewer: the types every backend shares,
//! and the search keys, normalised exactly like the matching rules (`mpi::normalize`) so that
//! a name the matcher calls equal is also found by search.

use model::{Demographics, LocalPatient, RegionalId};
use serde::{Deserialize, Serialize};

use crate::{FacilityId, StoredRecord};

/// The kanji-name search key stored with each local patient: [`mpi::name_key`] — NFKC,
/// spaces removed (family and given name run together, so a prefix of the key is a prefix of
/// the family name or of the full name), variant kanji folded (髙橋 = 高橋).
pub fn kanji_search_key(name_kanji: &str) -> String {
    mpi::name_key(name_kanji)
}

/// The kana-name search key: [`mpi::kana_key`] — hiragana, half-width and full-width
/// katakana alike, small kana and long vowels folded as in the matching rules (オオノ =
/// オーノ = おおの = ｵｰﾉ).
pub fn kana_search_key(name_kana: &str) -> String {
    mpi::kana_key(name_kana)
}

/// A name typed into the search form, matched against the right key: kana input against the
/// kana key, anything else (kanji, Latin) against the kanji key. Always a prefix match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum NameQuery {
    /// A [`kanji_search_key`] prefix.
    Kanji(String),
    /// A [`kana_search_key`] prefix.
    Kana(String),
}

impl NameQuery {
    /// `None` when nothing searchable is left after normalisation (only spaces, dots…).
    pub fn parse(input: &str) -> Option<NameQuery> {
        let key = mpi::name_key(input);
        if key.is_empty() {
            return None;
        }
        // name_key has turned hiragana and half-width kana into full-width katakana already.
        let kana = key
            .chars()
            .all(|c| ('\u{30A1}'..='\u{30FA}').contains(&c) || c == 'ー');
        if kana {
            // A name of long vowels only ("ー") folds to an empty key, which matches every
            // kana name: the other criteria (or the limit) narrow it.
            Some(NameQuery::Kana(kana_search_key(input)))
        } else {
            Some(NameQuery::Kanji(key))
        }
    }

    pub fn key(&self) -> &str {
        match self {
            NameQuery::Kanji(k) | NameQuery::Kana(k) => k,
        }
    }
}

/// What to look for among the local patients. Criteria combine with AND; with none at all
/// the search returns the first `limit` patients (callers refuse such a search).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatientSearch {
    pub name: Option<NameQuery>,
    /// `YYYYMMDD`.
    pub birth_date: Option<String>,
    /// HL7 table 0001 (`M`, `F`, `O`, `U`).
    pub sex: Option<String>,
    /// One facility's patient.
    pub patient: Option<LocalPatient>,
    /// Only local patients with an active link to a regional ID.
    pub linked_only: bool,
    /// At most this many (0 = 50).
    pub limit: usize,
}

/// One local patient found, with the regional ID it is actively linked to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalPatientHit {
    pub patient: LocalPatient,
    pub demographics: Demographics,
    pub regional_id: Option<RegionalId>,
}

/// A position in a patient's timeline: records sort newest first by (date, file-name
/// timestamp, version id), and a page continues strictly after its cursor. Version ids are
/// unique across facilities, so the same cursor orders records of every source at once.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RecordCursor {
    pub date: String,
    pub written_at: String,
    pub version_id: i64,
}

impl RecordCursor {
    pub fn of(r: &StoredRecord) -> RecordCursor {
        RecordCursor {
            date: r.date.clone(),
            written_at: r.written_at.clone(),
            version_id: r.version_id,
        }
    }

    /// `date.written_at.version_id`, safe in a URL (dates are digits or `-`).
    pub fn encode(&self) -> String {
        format!("{}.{}.{}", self.date, self.written_at, self.version_id)
    }

    pub fn parse(s: &str) -> Option<RecordCursor> {
        let mut it = s.trim().splitn(3, '.');
        let date = it.next()?;
        let written_at = it.next()?;
        let version_id = it.next()?.parse().ok()?;
        let ok = |x: &str| x.len() <= 20 && x.bytes().all(|b| b.is_ascii_digit() || b == b'-');
        (ok(date) && ok(written_at)).then(|| RecordCursor {
            date: date.to_owned(),
            written_at: written_at.to_owned(),
            version_id,
        })
    }
}

/// Which of a patient's live records one timeline page reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordFilter {
    /// Only these data kinds (`OML-11`…); `None` = every kind.
    pub kinds: Option<Vec<String>>,
    /// With `kinds`: also every extended-storage record (whose kind is a folder name).
    pub extended: bool,
    /// `YYYYMMDD`, inclusive. A date filter leaves out undated (`-`) records.
    pub from: Option<String>,
    pub to: Option<String>,
    /// Continue after this record.
    pub before: Option<RecordCursor>,
    /// Also versions an update superseded (SS-MIX2 condition `2`); by default a timeline
    /// shows each order's current state and keeps the older versions for the history.
    pub include_superseded: bool,
    /// At most this many (0 = 100).
    pub limit: usize,
}

impl RecordFilter {
    pub fn limit(&self) -> usize {
        if self.limit == 0 {
            100
        } else {
            self.limit
        }
    }
}

/// One live record of a timeline page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PagedRecord {
    pub record: StoredRecord,
    /// Stored versions of the same order (kind + order number), live or not, this one
    /// included; 1 for kinds without orders. More than 1: the order has a history.
    pub versions: u32,
}

/// One stored version of a record, live or not, with whose it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordVersion {
    pub facility: FacilityId,
    pub local_id: String,
    pub record: StoredRecord,
    /// Still its file's current version.
    pub live: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kana_and_kanji_queries_use_their_keys() {
        assert_eq!(
            NameQuery::parse("たかはし"),
            Some(NameQuery::Kana("タカハシ".into()))
        );
        assert_eq!(
            NameQuery::parse("ﾀｶﾊｼ"),
            Some(NameQuery::Kana("タカハシ".into()))
        );
        assert_eq!(
            NameQuery::parse("髙橋 花子"),
            Some(NameQuery::Kanji("高橋花子".into()))
        );
        assert_eq!(NameQuery::parse(" 　"), None);
    }

    #[test]
    fn cursors_round_trip_and_reject_junk() {
        let c = RecordCursor {
            date: "20240401".into(),
            written_at: "20240401120000000".into(),
            version_id: 42,
        };
        assert_eq!(RecordCursor::parse(&c.encode()), Some(c));
        assert_eq!(RecordCursor::parse("x.y.1"), None);
        assert_eq!(RecordCursor::parse("20240401.1"), None);
        assert_eq!(RecordCursor::parse("-.-.7").map(|c| c.version_id), Some(7));
    }
}
