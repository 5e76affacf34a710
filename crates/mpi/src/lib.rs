//! Master patient index (名寄せ) logic: normalisation of Japanese demographics, explained match
//! scores, and candidate pairs for the operations office (運用事務局).
//!
//! Pure logic, no I/O. The pieces:
//! - [`normalize`]: keys for names ([`normalize::name_key`], kana/kanji-aware search),
//!   fuzzy kana ([`normalize::kana_key`]), addresses and phone numbers.
//! - [`score`]: [`score::compare`] two demographic records into a 0–100 score with one
//!   [`score::Evidence`] per field, and [`score::decision`] under [`score::MatchSettings`]
//!   (never an automatic link below the configured score).
//! - [`candidates`]: candidate pairs across facilities with blocking (not O(n²)), and
//!   enrolment-time lookup ([`candidates::best_matches`]).

pub mod candidates;
pub mod normalize;
pub mod score;

pub use candidates::{best_matches, candidates, Candidate, Match, MatchIndex};
pub use normalize::{address_key, kana_key, kana_skeleton, name_key, phone_key};
pub use score::{compare, decision, Evidence, MatchDecision, MatchSettings, Scored};
