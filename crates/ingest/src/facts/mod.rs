//! Clinical facts read at import for the viewer (summary, lab matrix, medication list).
//!
//! OML-11 and OMP-01/02 are most of all messages, so they are read by a lean pass over the
//! already parsed segments that touches only the fields the viewer shows (no typed record,
//! no allocation for fields that are not kept). The rarer kinds (PPR-01, ADT-00, ADT-61 and
//! the stay events ADT-21 … ADT-52) go through the full typed reader of `ssmix2::records`.

//!
//! One module per content kind: [`lab`] (OML-11), [`medication`] (OMP-01/02/11/12),
//! [`record`] (the kinds read through the typed reader) and [`observation`] (observation
//! messages of the extended storage: vitals).

mod lab;
mod medication;
mod observation;
mod record;

pub use observation::{extended_has_facts, extract_extended, EXTENDED_FACT_MESSAGES};

use hl7::{Message, Segment};
use ssmix2::DataKind;
use store::ClinicalFact;

/// Version of what [`extract`] reads. Raise it whenever a kind yields new or different facts
/// (or a new kind has facts): a store whose facts were read by an older version re-derives
/// them from the stored bytes (`Store::facts_rederive`, run by [`crate::backfill_facts`]).
/// 5: order cancels (ORC-1 `CA` …) flagged on their index entry (`RecordIndex::cancels`).
/// 6: extended-storage observation messages (vitals, ORU) have facts
/// ([`extract_extended`]).
pub const FACTS_EXTRACTOR: u32 = 6;

/// Every kind the re-derivation reads (what the backfill hands out): those [`extract`]
/// reads something from, and the order kinds, whose cancel messages are flagged on their
/// index entry ([`cancels_order`]).
pub fn rederived_kinds() -> Vec<&'static str> {
    DataKind::ALL
        .iter()
        .filter(|k| has_facts(**k) || k.has_order())
        .map(|k| k.code())
        .collect()
}

/// The facts of one current (`_1`, not cancelling) standard-storage message of `kind`.
pub fn extract(kind: DataKind, msg: &Message) -> Vec<ClinicalFact> {
    let facts = match kind {
        DataKind::Oml11 => lab::lab_results(msg),
        DataKind::Omp01 | DataKind::Omp02 => medication::medications(msg),
        DataKind::Omp11 | DataKind::Omp12 => medication::administrations(msg),
        DataKind::Ppr01 | DataKind::Adt61 | DataKind::Adt00 => record::typed(kind, msg),
        k if record::is_stay_kind(k) => record::typed(kind, msg),
        _ => Vec::new(),
    };
    facts
        .into_iter()
        .enumerate()
        .map(|(i, fact)| ClinicalFact {
            line: i as u32,
            fact,
        })
        .collect()
}

/// Facts in message order, each with its line (position in the message).
pub(crate) fn numbered(facts: Vec<store::Fact>) -> Vec<ClinicalFact> {
    facts
        .into_iter()
        .enumerate()
        .map(|(i, fact)| ClinicalFact {
            line: i as u32,
            fact,
        })
        .collect()
}

/// Whether [`extract`] reads anything from this kind (so the caller can skip the work).
pub fn has_facts(kind: DataKind) -> bool {
    matches!(
        kind,
        DataKind::Oml11
            | DataKind::Omp01
            | DataKind::Omp02
            | DataKind::Omp11
            | DataKind::Omp12
            | DataKind::Ppr01
            | DataKind::Adt61
            | DataKind::Adt00
    ) || record::is_stay_kind(kind)
}

/// Whether a current file of `kind` that cancels something still has facts: the cancel
/// messages of stay events (A11, A12, A13, A25, A26, A27) say which event they cancel, and
/// the service applies them (issue 14 fault 4). Other cancelling files have none.
pub fn reads_cancels(kind: DataKind) -> bool {
    record::is_stay_kind(kind)
}

/// Whether a message of `kind` whose header says it cancels ([`ssmix2::records::Header`]'s
/// `cancels`) cancels its *order*: an order kind's message with ORC-1 `CA` … (or an
/// administration whose every RXA is `D`). The service marks the order's earlier files of
/// the same order number cancelled by it (issue 14 fault 4). A stay event's cancel message
/// is applied through its fact instead ([`reads_cancels`]).
pub fn cancels_order(kind: DataKind, header_cancels: bool) -> bool {
    header_cancels && kind.has_order() && !reads_cancels(kind)
}

/// Component `c` of field `n`, unescaped; the HL7 explicit null `""` reads as empty.
pub(crate) fn get(seg: &Segment<'_>, n: usize, c: usize) -> String {
    let v = seg.get(n, c);
    if v == "\"\"" {
        String::new()
    } else {
        v.into_owned()
    }
}

/// Text of a coded component pair: the text when sent, else the code.
pub(crate) fn text_or_code(seg: &Segment<'_>, n: usize) -> String {
    let text = get(seg, n, 2);
    if text.is_empty() {
        get(seg, n, 1)
    } else {
        text
    }
}

/// `first` unless it is empty, else `other`.
pub(crate) fn pick(first: String, other: &str) -> String {
    if first.is_empty() {
        other.to_owned()
    } else {
        first
    }
}

pub(crate) fn date8(s: &str) -> String {
    s.get(..8).unwrap_or_default().to_owned()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use store::Fact;

    /// A fixture of crates/ssmix2 (UTF-8, LF line ends; the parser accepts both).
    pub(crate) fn fixture(kind: DataKind) -> Vec<ClinicalFact> {
        let path = format!(
            "{}/../ssmix2/tests/fixtures/{}.hl7",
            env!("CARGO_MANIFEST_DIR"),
            kind.code()
        );
        let bytes = std::fs::read(&path).expect("fixture");
        let decoded = hl7::decode(&bytes).expect("decodes");
        let msg = Message::parse(decoded.text).expect("parses");
        extract(kind, &msg)
    }

    /// The facts of a message given as text (segments separated by CR or LF).
    #[allow(dead_code)] // for the kinds' own fixtures
    pub(crate) fn facts_of(kind: DataKind, text: &str) -> Vec<Fact> {
        let text = text.replace('\n', "\r");
        let msg = Message::parse(&text).expect("parses");
        extract(kind, &msg).into_iter().map(|f| f.fact).collect()
    }

    #[test]
    fn other_kinds_have_no_facts() {
        assert!(fixture(DataKind::Omg01).is_empty());
        assert!(!has_facts(DataKind::Adt12));
        assert!(!has_facts(DataKind::Omd));
        assert!(
            has_facts(DataKind::Adt00),
            "AL1 allergies (issue 14 fault 1)"
        );
        assert!(reads_cancels(DataKind::Adt22) && !reads_cancels(DataKind::Omp01));
    }
}
