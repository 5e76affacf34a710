//! The audit log (アクセスログ): every login, view, search, export, consent and link change —
//! refusals included — as an append-only, hash-chained sequence.
//!
//! Each entry's hash covers the previous entry's hash, its own sequence number and the
//! canonical JSON of its event, so editing, deleting, inserting or reordering any entry breaks
//! every hash after it. [`verify`] walks the chain and names the first broken entry. Cutting
//! entries off the end leaves a valid shorter chain: that is caught by a [`Head`] kept
//! elsewhere — the anchor outside the database ([`check_anchor`]; a missing one is itself a
//! finding), a head copied off the server, the newest entry an off-site site holds
//! ([`check_reference`]). No I/O: the store appends and reads entries; this crate computes
//! and checks.

use model::{FacilityCode, Purpose, RegionalId, UnixTime};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Login,
    Logout,
    /// A patient's record(s) read.
    View,
    /// A patient search.
    Search,
    /// Records or a tree written out (export, restore).
    Export,
    Import,
    Enroll,
    Link,
    Unlink,
    Merge,
    Unmerge,
    ConsentRecord,
    ConsentWithdraw,
    /// Emergency access started (break-the-glass).
    BreakGlass,
    FacilityChange,
    UserChange,
    /// Someone read the audit log itself (reports, verify).
    AuditRead,
    /// The original bytes of a patient's record taken out of the viewer (download or inline
    /// display): kept apart from `View`, since the file leaves the screen.
    Download,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Login => "login",
            Action::Logout => "logout",
            Action::View => "view",
            Action::Search => "search",
            Action::Export => "export",
            Action::Import => "import",
            Action::Enroll => "enroll",
            Action::Link => "link",
            Action::Unlink => "unlink",
            Action::Merge => "merge",
            Action::Unmerge => "unmerge",
            Action::ConsentRecord => "consent_record",
            Action::ConsentWithdraw => "consent_withdraw",
            Action::BreakGlass => "break_glass",
            Action::FacilityChange => "facility_change",
            Action::UserChange => "user_change",
            Action::AuditRead => "audit_read",
            Action::Download => "download",
        }
    }

    pub fn label_ja(self) -> &'static str {
        match self {
            Action::Login => "ログイン",
            Action::Logout => "ログアウト",
            Action::View => "閲覧",
            Action::Search => "検索",
            Action::Export => "出力",
            Action::Import => "取込",
            Action::Enroll => "登録",
            Action::Link => "ID連携",
            Action::Unlink => "ID連携解除",
            Action::Merge => "統合",
            Action::Unmerge => "統合解除",
            Action::ConsentRecord => "同意登録",
            Action::ConsentWithdraw => "同意撤回",
            Action::BreakGlass => "緊急時閲覧",
            Action::FacilityChange => "施設変更",
            Action::UserChange => "利用者変更",
            Action::AuditRead => "ログ参照",
            Action::Download => "原本ダウンロード",
        }
    }
}

/// How it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Outcome {
    /// Done (or, for a gate decision, allowed).
    Allowed,
    /// Refused, with a stable code and the reason shown to the user.
    Refused { code: String, reason: String },
    /// Failed for another reason (wrong password, invalid input…).
    Failed { reason: String },
}

impl Outcome {
    pub fn is_allowed(&self) -> bool {
        matches!(self, Outcome::Allowed)
    }
}

/// One audited act.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub at: UnixTime,
    /// User login, `system`, or `api:<facility code>` for a machine credential.
    pub actor: String,
    /// The facility the actor acted for, if any.
    pub actor_facility: Option<FacilityCode>,
    pub action: Action,
    pub purpose: Option<Purpose>,
    /// The patient concerned, if any.
    pub patient: Option<RegionalId>,
    /// What was touched: a record reference, a facility code, a user login, a query…
    pub target: String,
    pub outcome: Outcome,
    /// Free detail (break-the-glass reason, counts…). Never a clinical value.
    pub detail: String,
    /// Emergency access to be reviewed later (閲覧履歴の定期的確認).
    pub flagged: bool,
}

impl Event {
    /// An event at `at` with the common fields; the rest default to empty/allowed.
    pub fn new(at: UnixTime, actor: impl Into<String>, action: Action) -> Event {
        Event {
            at,
            actor: actor.into(),
            actor_facility: None,
            action,
            purpose: None,
            patient: None,
            target: String::new(),
            outcome: Outcome::Allowed,
            detail: String::new(),
            flagged: false,
        }
    }
}

/// An event in the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// 1, 2, 3… with no gaps.
    pub seq: u64,
    pub event: Event,
    pub prev_hash: [u8; 32],
    pub hash: [u8; 32],
}

/// The hash before the first entry.
pub const GENESIS: [u8; 32] = [0u8; 32];

/// The canonical bytes of an event: its JSON with fields in declaration order.
pub fn canonical(event: &Event) -> Vec<u8> {
    // serde_json writes struct fields in declaration order and has no maps here, so the
    // output is deterministic for a given event.
    serde_json::to_vec(event).unwrap_or_default()
}

pub fn entry_hash(prev_hash: &[u8; 32], seq: u64, event: &Event) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"renkei-audit-v1\n");
    h.update(prev_hash);
    h.update(seq.to_be_bytes());
    h.update(canonical(event));
    h.finalize().into()
}

/// Chain `event` after `prev` (None for the first entry).
pub fn append(prev: Option<(&u64, &[u8; 32])>, event: Event) -> Entry {
    let (seq, prev_hash) = match prev {
        Some((seq, hash)) => (seq + 1, *hash),
        None => (1, GENESIS),
    };
    let hash = entry_hash(&prev_hash, seq, &event);
    Entry {
        seq,
        event,
        prev_hash,
        hash,
    }
}

/// Where the chain breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    #[error("entry {seq}: its content does not match its hash (edited)")]
    Edited { seq: u64 },
    #[error("entry {seq}: does not follow entry {expected_prev} (an entry was deleted, inserted or reordered)")]
    Broken { seq: u64, expected_prev: u64 },
    #[error("entry {found} found where entry {expected} should be (entries deleted or reordered)")]
    Sequence { expected: u64, found: u64 },
}

/// Verify a whole chain in order from the first entry. Returns the number of entries.
pub fn verify<'a>(entries: impl IntoIterator<Item = &'a Entry>) -> Result<u64, ChainError> {
    let mut expected_seq = 1u64;
    let mut prev = GENESIS;
    for e in entries {
        if e.seq != expected_seq {
            return Err(ChainError::Sequence {
                expected: expected_seq,
                found: e.seq,
            });
        }
        if e.prev_hash != prev {
            return Err(ChainError::Broken {
                seq: e.seq,
                expected_prev: expected_seq - 1,
            });
        }
        if entry_hash(&e.prev_hash, e.seq, &e.event) != e.hash {
            return Err(ChainError::Edited { seq: e.seq });
        }
        prev = e.hash;
        expected_seq += 1;
    }
    Ok(expected_seq - 1)
}

/// A chain's head — the newest entry's sequence number and hash — or a copy of it kept
/// elsewhere: the anchor outside the database, a line an operator copied off the server
/// (`SEQ:HASH`, as `renkei audit verify` prints it), the newest entry an off-site site holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Head {
    pub seq: u64,
    pub hash: [u8; 32],
}

impl Head {
    /// The head of the empty chain: the anchor a store writes when it is created, so that
    /// a missing anchor always means a deleted one.
    pub const GENESIS: Head = Head {
        seq: 0,
        hash: GENESIS,
    };

    pub fn of(entry: &Entry) -> Head {
        Head {
            seq: entry.seq,
            hash: entry.hash,
        }
    }
}

impl std::fmt::Display for Head {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:", self.seq)?;
        for b in self.hash {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an audit head: expected SEQ:HASH (a number, a colon, 64 hex digits), as `renkei audit verify` prints it")]
pub struct InvalidHead(pub String);

impl std::str::FromStr for Head {
    type Err = InvalidHead;
    fn from_str(s: &str) -> Result<Head, InvalidHead> {
        let bad = || InvalidHead(s.to_owned());
        let (seq, hex) = s.trim().split_once(':').ok_or_else(bad)?;
        let seq: u64 = seq.parse().map_err(|_| bad())?;
        if seq == 0 || hex.len() != 64 {
            return Err(bad());
        }
        let mut hash = [0u8; 32];
        for (i, b) in hash.iter_mut().enumerate() {
            *b = u8::from_str_radix(hex.get(i * 2..i * 2 + 2).ok_or_else(bad)?, 16)
                .map_err(|_| bad())?;
        }
        Ok(Head { seq, hash })
    }
}

impl Serialize for Head {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Head {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Head, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Does a chain whose newest entry is `newest` (None: empty), already verified from the
/// first entry, still hold the entry `reference` names? `found` is the chain's entry at
/// `reference.seq`, if any. `source` names where the reference comes from, for the message.
/// A reference behind the head is fine (the chain grew since); one the chain no longer
/// reaches means entries were cut off the end, and another hash means the chain was
/// rewritten from there.
pub fn check_reference(
    source: &str,
    reference: &Head,
    found: Option<&Entry>,
    newest: Option<u64>,
) -> Option<String> {
    if reference.seq == 0 {
        // The empty chain's head: every chain holds it.
        return (reference.hash != GENESIS).then(|| {
            format!("{source} names entry 0 with a hash other than the empty chain's ({reference})")
        });
    }
    match found {
        Some(e) if e.seq == reference.seq && e.hash == reference.hash => None,
        Some(e) if e.seq == reference.seq => Some(format!(
            "entry {} differs from {source} ({}): the log was rewritten from there or before",
            reference.seq, reference
        )),
        _ => Some(match newest {
            None => format!(
                "the audit log is empty, but {source} says it reached entry {} ({reference}): every entry was deleted",
                reference.seq
            ),
            Some(n) if n < reference.seq => format!(
                "the audit log ends at entry {n}, but {source} says it reached entry {} ({reference}): entries {} to {} were cut off the end",
                reference.seq,
                n + 1,
                reference.seq
            ),
            Some(_) => format!(
                "entry {} named by {source} ({reference}) is not in the log",
                reference.seq
            ),
        }),
    }
}

/// May an append move the anchor kept outside the database to its new head, the chain's
/// head having been `previous` before the append? Only forward from where the chain stood:
/// from the empty chain's anchor ([`Head::GENESIS`], written when the store is created), or
/// from an anchor at or behind `previous` that agrees with it (behind: with several servers
/// a slower one's anchor may lag). A missing anchor is never re-created, and one ahead of
/// the chain or naming another hash is never overwritten: each is the evidence that
/// [`check_anchor`] reports, and the next audit entry (the sign-in of whoever runs
/// `verify`) must not wipe it out.
pub fn anchor_may_advance(anchor: Option<Head>, previous: Option<Head>) -> bool {
    match (anchor, previous) {
        (None, _) => false,
        (Some(a), None) => a.seq == 0,
        (Some(a), Some(p)) => a.seq < p.seq || a == p,
    }
}

/// The anchor kept outside the database, checked against the chain: `head` is the chain's
/// newest entry, `at_anchor` the chain's entry at the anchor's sequence number, `in_use`
/// whether the store shows that the network has been used (users, facilities: every such
/// act is audited, so their log cannot be empty). A missing anchor is itself a finding when
/// the log has entries or must have had some: deleting it is the first step of cutting the
/// log's end off unnoticed.
pub fn check_anchor(
    head: Option<Head>,
    anchor: Option<Head>,
    at_anchor: Option<&Entry>,
    in_use: bool,
) -> Option<String> {
    const ANCHOR: &str = "the anchor kept outside the database (audit-head)";
    match (anchor, head) {
        (Some(anchor), head) => check_reference(ANCHOR, &anchor, at_anchor, head.map(|h| h.seq)),
        (None, Some(head)) => Some(format!(
            "{ANCHOR} is missing although the log has {} entries: it was deleted, and entries cut off the end would go unnoticed (compare with a head copied earlier: `renkei audit verify --expect-head SEQ:HASH`, or with a site: `--against-site NAME`)",
            head.seq
        )),
        (None, None) if in_use => Some(format!(
            "the audit log is empty and {ANCHOR} is missing, but the network has users or facilities, whose every change is audited: the log and its anchor were deleted"
        )),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn chain(n: usize) -> Vec<Entry> {
        let mut out: Vec<Entry> = Vec::new();
        for i in 0..n {
            let mut ev = Event::new(
                UnixTime(1_700_000_000 + i as i64),
                format!("user{i}"),
                Action::View,
            );
            ev.target = format!("record {i}");
            let prev = out.last().map(|e| (&e.seq, &e.hash));
            let entry = append(prev, ev);
            out.push(entry);
        }
        out
    }

    #[test]
    fn intact_chain_verifies() {
        assert_eq!(verify(&chain(50)), Ok(50));
        assert_eq!(verify(&chain(0)), Ok(0));
    }

    #[test]
    fn edit_is_detected() {
        let mut c = chain(10);
        c[4].event.actor = "someone else".into();
        assert_eq!(verify(&c), Err(ChainError::Edited { seq: 5 }));
    }

    #[test]
    fn edit_with_rehash_is_detected_at_the_next_entry() {
        let mut c = chain(10);
        c[4].event.outcome = Outcome::Refused {
            code: "x".into(),
            reason: "y".into(),
        };
        c[4].hash = entry_hash(&c[4].prev_hash, c[4].seq, &c[4].event);
        assert_eq!(
            verify(&c),
            Err(ChainError::Broken {
                seq: 6,
                expected_prev: 5
            })
        );
    }

    #[test]
    fn deletion_and_reorder_are_detected() {
        let mut c = chain(10);
        c.remove(3);
        assert_eq!(
            verify(&c),
            Err(ChainError::Sequence {
                expected: 4,
                found: 5
            })
        );
        let mut c = chain(10);
        c.swap(2, 3);
        assert!(verify(&c).is_err());
        // Renumbering after a deletion does not help: the hashes no longer link.
        let mut c = chain(10);
        c.remove(3);
        for (i, e) in c.iter_mut().enumerate() {
            e.seq = i as u64 + 1;
        }
        assert!(verify(&c).is_err());
    }

    #[test]
    fn heads_print_and_parse() {
        let c = chain(3);
        let h = Head::of(&c[2]);
        let text = h.to_string();
        assert!(text.starts_with("3:"));
        assert_eq!(text.parse::<Head>(), Ok(h));
        assert_eq!(
            serde_json::from_str::<Head>(&serde_json::to_string(&h).unwrap()).unwrap(),
            h
        );
        for bad in [
            "",
            "3",
            "3:abc",
            "x:00",
            "0:",
            &format!("0:{}", "0".repeat(64)),
        ] {
            assert!(bad.parse::<Head>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_reference_must_still_be_in_the_chain() {
        let c = chain(10);
        let r = Head::of(&c[6]);
        assert_eq!(check_reference("x", &r, Some(&c[6]), Some(10)), None);
        // Cut off the end: the chain no longer reaches it.
        let m = check_reference("a copied head", &r, None, Some(5)).unwrap();
        assert!(m.contains("ends at entry 5") && m.contains("6 to 7"), "{m}");
        // Everything deleted.
        let m = check_reference("a copied head", &r, None, None).unwrap();
        assert!(m.contains("empty"), "{m}");
        // Rewritten: same number, another hash.
        let mut other = chain(10);
        other[6].event.detail.push('x');
        other[6].hash = entry_hash(&other[6].prev_hash, 7, &other[6].event);
        let m = check_reference("site s3", &r, Some(&other[6]), Some(10)).unwrap();
        assert!(m.contains("entry 7 differs from site s3"), "{m}");
    }

    #[test]
    fn the_anchor_only_moves_forward_and_is_never_re_created() {
        let c = chain(6);
        let h = |i: usize| Some(Head::of(&c[i]));
        // A new store: genesis, then each append from the previous head.
        assert!(anchor_may_advance(Some(Head::GENESIS), None));
        assert!(anchor_may_advance(h(2), h(2)));
        // Lagging (another server's append): still forward.
        assert!(anchor_may_advance(h(1), h(3)));
        // Deleted: stays deleted, whatever the chain.
        assert!(!anchor_may_advance(None, None));
        assert!(!anchor_may_advance(None, h(2)));
        // Ahead of a truncated chain, or of an emptied one: kept.
        assert!(!anchor_may_advance(h(5), h(2)));
        assert!(!anchor_may_advance(h(5), None));
        // Same number, other hash (the chain was rewritten): kept.
        let mut other = Head::of(&c[3]);
        other.hash[0] ^= 1;
        assert!(!anchor_may_advance(Some(other), h(3)));
        // The genesis anchor agrees with every chain.
        assert_eq!(check_reference("x", &Head::GENESIS, None, Some(3)), None);
        assert_eq!(check_anchor(None, Some(Head::GENESIS), None, true), None);
    }

    #[test]
    fn a_missing_anchor_is_a_finding_once_the_log_is_or_was_used() {
        let c = chain(4);
        let head = Some(Head::of(&c[3]));
        // Intact: the anchor matches, or lags (several servers) but names a chain entry.
        assert_eq!(check_anchor(head, head, Some(&c[3]), true), None);
        assert_eq!(
            check_anchor(head, Some(Head::of(&c[1])), Some(&c[1]), true),
            None
        );
        // A fresh store: nothing to anchor.
        assert_eq!(check_anchor(None, None, None, false), None);
        // Anchor deleted, log kept (and maybe cut): a finding.
        let m = check_anchor(head, None, None, true).unwrap();
        assert!(m.contains("missing") && m.contains("4 entries"), "{m}");
        assert!(check_anchor(head, None, None, false).is_some());
        // Anchor and every entry deleted, but the network was used.
        let m = check_anchor(None, None, None, true).unwrap();
        assert!(m.contains("empty") && m.contains("missing"), "{m}");
        // Every entry deleted, anchor kept; and an anchor ahead of the log.
        assert!(check_anchor(None, head, None, false)
            .unwrap()
            .contains("every entry was deleted"));
        let m = check_anchor(Some(Head::of(&c[1])), head, None, true).unwrap();
        assert!(m.contains("ends at entry 2"), "{m}");
    }

    proptest! {
        #[test]
        fn any_single_tamper_is_detected(n in 2usize..30, victim in 0usize..30, kind in 0u8..4) {
            let mut c = chain(n);
            let v = victim % n;
            match kind {
                0 => c[v].event.detail.push('x'),
                1 => { c.remove(v); }
                2 => { let w = (v + 1) % n; if w == v { return Ok(()); } c.swap(v, w); }
                _ => c[v].event.at = UnixTime(c[v].event.at.0 + 1),
            }
            if kind == 1 && v == n - 1 {
                // Dropping the newest entry leaves a valid shorter chain; the store's count
                // and the newest hash kept elsewhere catch that (see the store's verify).
                prop_assert!(verify(&c).is_ok());
            } else {
                prop_assert!(verify(&c).is_err());
            }
        }
    }
}
